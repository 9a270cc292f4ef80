/*
 * Compressing from C without a codebook: blosc2_vq_settings_new turns an error bound
 * (rel_error here, relative to the data's range) into the `vq` metalayer, the header's
 * blosc2_vq_b2nd_compress stores it with the data, and every value comes back within the
 * bound, NaN in place. Also: a bad bound is refused with a message naming it.
 *
 *   ./predictive <scratch.b2nd>     prints "predictive ok" and exits 0, or names the failed check
 */
#define _POSIX_C_SOURCE 200809L

#include <blosc2.h>
#include <b2nd.h>
#include "blosc2_vq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NX 64
#define NY 96
#define NZ 40

static int failures = 0;

#define EXPECT(cond)                                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "predictive.c:%d: check failed: %s\n", __LINE__, #cond);    \
      failures++;                                                                 \
    }                                                                             \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const int64_t n = (int64_t)NX * NY * NZ;
  double *field = malloc(n * sizeof(double));
  double *back = malloc(n * sizeof(double));
  if (field == NULL || back == NULL) return 2;
  for (int64_t i = 0; i < n; i++) {
    int64_t x = i / (NY * NZ), y = i / NZ % NY, z = i % NZ;
    field[i] = 300.0 + 20.0 * sin(0.1 * x) * cos(0.07 * y) + 0.5 * z;
    if (x < 8 && y < 8) field[i] = NAN; /* a masked corner */
  }
  EXPECT(blosc2_vq_codec_register() == 0);

  blosc2_vq_error_bound bound = {0};
  bound.rel_error = 1e-4;
  uint8_t *settings = NULL;
  int64_t settings_len = 0;
  EXPECT(blosc2_vq_settings_new(&bound, field, BLOSC2_VQ_DTYPE_FLOAT64, n, &settings,
                                &settings_len) == 0);
  /* The range is 300 - 20 .. 320 + 19.5 over finite values: the bound is 1e-4 of it. */
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    if (isfinite(field[i])) {
      if (field[i] < lo) lo = field[i];
      if (field[i] > hi) hi = field[i];
    }
  }
  const double max_error = 1e-4 * (hi - lo);

  int64_t shape[3] = {NX, NY, NZ};
  int32_t chunks[3] = {32, NY, NZ};
  int32_t blocks[3] = {16, 32, NZ};
  b2nd_array_t *array = NULL;
  EXPECT(blosc2_vq_b2nd_compress(argv[1], settings, settings_len, field, 3, shape, chunks,
                                 blocks, "<f8", 2, &array) == 0);
  /* The one-call choice: this smooth field stays predictive (a codebook would not pay),
     with a reason and the predictive estimate; a NULL output is refused. */
  {
    blosc2_vq_coding_choice choice;
    memset(&choice, 0xAB, sizeof choice);
    EXPECT(blosc2_vq_choose_coding(field, BLOSC2_VQ_DTYPE_FLOAT64, shape, blocks, 3, settings,
                                   settings_len, &choice) == 0);
    EXPECT(choice.codebook == NULL && choice.codebook_len == 0);
    EXPECT(strncmp(choice.reason, "predictive", 10) == 0);
    EXPECT(memchr(choice.reason, '\0', sizeof choice.reason) != NULL);
    EXPECT(blosc2_vq_choose_coding(field, BLOSC2_VQ_DTYPE_FLOAT64, shape, blocks, 3, settings,
                                   settings_len, NULL) < 0);
    EXPECT(strstr(blosc2_vq_last_error_message(), "choice") != NULL);
  }

  blosc2_vq_free(settings);
  if (array != NULL) {
    EXPECT(array->sc->cbytes < n * (int64_t)sizeof(double) / 4);
    b2nd_free(array);
  }
  array = NULL;
  EXPECT(b2nd_open(argv[1], &array) == 0);
  if (array != NULL) {
    EXPECT(b2nd_to_cbuffer(array, back, n * sizeof(double)) == 0);
    b2nd_free(array);
  }
  double worst = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(field[i])) {
      EXPECT(isnan(back[i]));
      if (!isnan(back[i])) break;
      continue;
    }
    double e = fabs(back[i] - field[i]);
    if (e > worst) worst = e;
  }
  EXPECT(worst <= max_error);
  remove(argv[1]);

  /* Bad bounds: refused, naming the field. */
  blosc2_vq_error_bound bad = {0};
  bad.pw_rel_error = 2.0;
  EXPECT(blosc2_vq_settings_new(&bad, NULL, 0, 0, &settings, &settings_len) < 0);
  EXPECT(strstr(blosc2_vq_last_error_message(), "pw_rel_error") != NULL);
  memset(&bad, 0, sizeof bad);
  bad.psnr = 60.0; /* needs the data */
  EXPECT(blosc2_vq_settings_new(&bad, NULL, 0, 0, &settings, &settings_len) < 0);
  EXPECT(strstr(blosc2_vq_last_error_message(), "data") != NULL);

  free(field);
  free(back);
  blosc2_destroy();
  if (failures) return 1;
  printf("predictive ok\n");
  return 0;
}
