/*
 * The header's c-blosc2 helpers (blosc2_vq_codec_register, blosc2_vq_b2nd_compress), run for
 * real: round trips in memory and through a frame file with the bound checked on every value,
 * and every documented failure (its code, *array NULL, which file is left). tests/c_api.rs
 * compiles it against blosc2-sys's static c-blosc2 and runs it with a scratch path.
 *
 *   ./helpers <scratch.b2nd>     prints "helpers ok" and exits 0, or names the failed check
 */
#define _POSIX_C_SOURCE 200809L

#include <blosc2.h>
#include <b2nd.h>
#include "blosc2_vq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define N 8
#define SIDE 32
#define BOUND 0.01

static int failures = 0;

#define EXPECT(cond)                                                            \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "helpers.c:%d: check failed: %s\n", __LINE__, #cond);     \
      failures++;                                                               \
    }                                                                           \
  } while (0)

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Decompresses `array` and checks every value within BOUND of `data`. */
static void expect_within(b2nd_array_t *array, const float *data) {
  float *back = malloc(N * SIDE * SIDE * sizeof(float));
  EXPECT(back != NULL);
  if (back == NULL) return;
  EXPECT(b2nd_to_cbuffer(array, back, N * SIDE * SIDE * sizeof(float)) == 0);
  double worst = 0.0;
  for (int i = 0; i < N * SIDE * SIDE; i++) {
    double e = fabs((double)back[i] - (double)data[i]);
    if (e > worst) worst = e;
  }
  EXPECT(worst <= BOUND);
  EXPECT(worst > 0.0); /* lossy: the values went through the codec */
  free(back);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s scratch.b2nd\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  float *data = malloc(N * SIDE * SIDE * sizeof(float));
  if (data == NULL) return 1;
  for (int k = 0; k < N; k++) {
    for (int y = 0; y < SIDE; y++) {
      for (int x = 0; x < SIDE; x++) {
        data[(k * SIDE + y) * SIDE + x] =
            (float)(0.5 + 0.4 * sin(0.2 * x + 0.1 * k) * cos(0.15 * y - 0.05 * k));
      }
    }
  }

  /* A small error-bounded residual codebook on 4x4 tiles. */
  blosc2_vq_train_params p;
  EXPECT(blosc2_vq_train_params_init(&p, BLOSC2_VQ_MODEL_RESIDUAL) == 0);
  p.n_prototypes = 16;
  p.n_stages = 2;
  p.mean_bits = 6;
  p.max_error = BOUND;
  int64_t shape[3] = {N, SIDE, SIDE};
  int32_t chunks[3] = {4, SIDE, SIDE}, blocks[3] = {1, SIDE, SIDE};
  uint8_t *cb = NULL;
  int64_t cb_len = 0;
  if (blosc2_vq_codebook_train(data, BLOSC2_VQ_DTYPE_FLOAT32, shape, 3, &p, &cb, &cb_len) != 0) {
    fprintf(stderr, "training failed: %s\n", blosc2_vq_last_error_message());
    return 1;
  }

  /* Registration: works, and again. */
  EXPECT(blosc2_vq_codec_register() == 0);
  EXPECT(blosc2_vq_codec_register() == 0);

  /* In memory. */
  b2nd_array_t *array = NULL;
  EXPECT(blosc2_vq_b2nd_compress(NULL, cb, cb_len, data, 3, shape, chunks, blocks, "<f4", 2,
                                 &array) == 0);
  EXPECT(array != NULL);
  if (array != NULL) {
    EXPECT(array->sc->compcode == BLOSC2_VQ_CODEC_ID);
    EXPECT(array->sc->cbytes < array->sc->nbytes);
    uint8_t *meta = NULL;
    int32_t meta_len = 0;
    EXPECT(blosc2_meta_get(array->sc, "vq", &meta, &meta_len) >= 0);
    EXPECT(meta_len == cb_len);
    free(meta);
    expect_within(array, data);
    EXPECT(b2nd_free(array) == 0);
  }

  /* On disk, read back from the file alone. */
  EXPECT(blosc2_remove_urlpath(path) == 0);
  array = NULL;
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 3, shape, chunks, blocks, "<f4", 1,
                                 &array) == 0);
  if (array != NULL) EXPECT(b2nd_free(array) == 0);
  EXPECT(exists(path));
  array = NULL;
  EXPECT(b2nd_open(path, &array) == 0);
  if (array != NULL) {
    expect_within(array, data);
    EXPECT(b2nd_free(array) == 0);
  }

  /* c-blosc2 does not overwrite a frame: an error, *array NULL, and the file is left alone. */
  array = (b2nd_array_t *)1;
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 3, shape, chunks, blocks, "<f4", 1,
                                 &array) < 0);
  EXPECT(array == NULL);
  array = NULL;
  EXPECT(b2nd_open(path, &array) == 0);
  if (array != NULL) {
    expect_within(array, data);
    EXPECT(b2nd_free(array) == 0);
  }
  EXPECT(blosc2_remove_urlpath(path) == 0);

  /* Bad arguments: the documented codes, nothing written. */
  array = NULL;
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 3, shape, chunks, blocks, "<i4", 1,
                                 &array) == BLOSC2_ERROR_INVALID_PARAM);
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 3, shape, chunks, blocks, "f", 1,
                                 &array) == BLOSC2_ERROR_INVALID_PARAM);
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 0, shape, chunks, blocks, "<f4", 1,
                                 &array) == BLOSC2_ERROR_INVALID_PARAM);
  EXPECT(blosc2_vq_b2nd_compress(path, cb, 0, data, 3, shape, chunks, blocks, "<f4", 1,
                                 &array) == BLOSC2_ERROR_INVALID_PARAM);
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, NULL, 3, shape, chunks, blocks, "<f4", 1,
                                 &array) == BLOSC2_ERROR_NULL_POINTER);
  EXPECT(blosc2_vq_b2nd_compress(path, NULL, cb_len, data, 3, shape, chunks, blocks, "<f4", 1,
                                 &array) == BLOSC2_ERROR_NULL_POINTER);
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 3, shape, chunks, blocks, "<f4", 1,
                                 NULL) == BLOSC2_ERROR_NULL_POINTER);
  int64_t negative[3] = {N, -SIDE, SIDE};
  EXPECT(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 3, negative, chunks, blocks, "<f4", 1,
                                 &array) == BLOSC2_ERROR_INVALID_PARAM);
  EXPECT(array == NULL);
  EXPECT(!exists(path));

  /* A codebook the codec refuses: the codec's failure, *array NULL, the started file removed. */
  uint64_t errors = blosc2_vq_codec_error_count();
  uint8_t junk[16] = {0x81, 0xa3, 'b', 'a', 'd', 0xc0};
  array = NULL;
  EXPECT(blosc2_vq_b2nd_compress(path, junk, sizeof junk, data, 3, shape, chunks, blocks, "<f4",
                                 1, &array) < 0);
  EXPECT(array == NULL);
  EXPECT(blosc2_vq_codec_error_count() > errors);
  char why[256];
  EXPECT(blosc2_vq_last_codec_error(why, sizeof why) > 0);
  EXPECT(!exists(path));

  blosc2_vq_free(cb);
  free(data);
  blosc2_destroy();
  if (failures > 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("helpers ok\n");
  return 0;
}
