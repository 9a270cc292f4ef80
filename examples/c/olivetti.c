/*
 * blosc2-vq from C: train a codebook, compress the Olivetti faces as a b2nd array with the
 * vq codec loaded dynamically by c-blosc2 (libblosc2_vq.so on LD_LIBRARY_PATH), decompress,
 * and print the compression ratio and PSNR.
 *
 *   cc -std=c99 olivetti.c -I<blosc2 include> -Iinclude -L<dirs> -lblosc2_vq -lblosc2 -lpthread -lm -ldl
 *   LD_LIBRARY_PATH=target/release ./olivetti ../shared/data/olivetti_faces_u8.npy [aa|cmeans|residual] [n_images]
 *
 * aa and cmeans: the reference notebook's Archetypal Analysis / Fuzzy C-Means codebooks (36
 * prototypes, weights per tile). residual: mean-removed residual vector quantization (a 6-bit
 * tile mean, then 3 stages of 64 codewords: one 6-bit index per stage and 4x4 tile).
 * n_images (default 400) compresses only the first faces.
 */
#include <blosc2.h>
#include <b2nd.h>
#include "blosc2_vq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_IMAGES 400
#define SIDE 64

/* Reads the uint8 (400, 64, 64) .npy file and scales it as scikit-learn does (/ 242). */
static float *read_faces(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return NULL;
  }
  unsigned char head[10];
  if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0 || head[6] != 1) {
    fprintf(stderr, "%s is not a version-1 .npy file\n", path);
    fclose(f);
    return NULL;
  }
  size_t header_len = (size_t)head[8] | ((size_t)head[9] << 8);
  char header[1024];
  if (header_len >= sizeof(header) || fread(header, 1, header_len, f) != header_len) {
    fclose(f);
    return NULL;
  }
  header[header_len] = '\0';
  if (strstr(header, "'|u1'") == NULL || strstr(header, "(400, 64, 64)") == NULL) {
    fprintf(stderr, "%s: expected uint8 (400, 64, 64), got %s\n", path, header);
    fclose(f);
    return NULL;
  }
  size_t n = (size_t)N_IMAGES * SIDE * SIDE;
  unsigned char *raw = malloc(n);
  float *faces = malloc(n * sizeof(float));
  if (raw == NULL || faces == NULL || fread(raw, 1, n, f) != n) {
    fclose(f);
    free(raw);
    free(faces);
    return NULL;
  }
  fclose(f);
  for (size_t i = 0; i < n; i++) faces[i] = (float)raw[i] / 242.0f;
  free(raw);
  return faces;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s olivetti_faces_u8.npy [aa|cmeans|residual] [n_images]\n", argv[0]);
    return 2;
  }
  const char *name = argc > 2 ? argv[2] : "aa";
  int model;
  if (strcmp(name, "aa") == 0) {
    model = BLOSC2_VQ_MODEL_ARCHETYPAL;
  } else if (strcmp(name, "cmeans") == 0) {
    model = BLOSC2_VQ_MODEL_FUZZY_CMEANS;
  } else if (strcmp(name, "residual") == 0) {
    model = BLOSC2_VQ_MODEL_RESIDUAL;
  } else {
    fprintf(stderr, "unknown model %s: use aa, cmeans or residual\n", name);
    return 2;
  }
  int n_images = argc > 3 ? atoi(argv[3]) : N_IMAGES;
  if (n_images < 1 || n_images > N_IMAGES) {
    fprintf(stderr, "n_images must be 1 to %d\n", N_IMAGES);
    return 2;
  }
  float *faces = read_faces(argv[1]);
  if (faces == NULL) return 1;
  int64_t nitems = (int64_t)n_images * SIDE * SIDE;

  /* 1. Train a codebook. The defaults (blosc2_vq_train_params_init) are the reference
   *    notebook's: 36 prototypes on 1000 random 4x4 tiles, seed 0. */
  blosc2_vq_train_params params;
  if (blosc2_vq_train_params_init(&params, model) < 0) {
    fprintf(stderr, "%s\n", blosc2_vq_last_error_message());
    return 1;
  }
  if (model == BLOSC2_VQ_MODEL_RESIDUAL) {
    /* Each tile's mean, quantized to 6 bits, is removed first; then every stage picks the
     * codeword nearest to what the previous stages left. 6 + 3 x 6 = 24 bits per 16 values. */
    params.mean_bits = 6;
    params.n_stages = 3;
    params.n_prototypes = 64; /* codewords per stage (2^6: 6-bit indexes) */
    params.n_samples = 20 * (int64_t)n_images;
  }
  int64_t shape[3] = {n_images, SIDE, SIDE};
  uint8_t *codebook = NULL;
  int64_t codebook_len = 0;
  if (blosc2_vq_codebook_train(faces, BLOSC2_VQ_DTYPE_FLOAT32, shape, 3, &params, &codebook,
                               &codebook_len) < 0) {
    fprintf(stderr, "training failed: %s\n", blosc2_vq_last_error_message());
    return 1;
  }
  /* What was trained, as the library reads it back. */
  blosc2_vq_codebook_info info;
  if (blosc2_vq_codebook_inspect(codebook, codebook_len, &info) < 0) {
    fprintf(stderr, "bad codebook: %s\n", blosc2_vq_last_error_message());
    return 1;
  }

  /* 2. Register the codec by name only: c-blosc2 dlopens libblosc2_vq.so and reads `info`. */
  blosc2_init();
  /* This program links c-blosc2 statically without exporting it, so the plugin cannot find
   * it: say which release it is (the SChunk layout the codec reads depends on it). A program
   * linking a shared libblosc2 can skip this. */
  if (blosc2_vq_set_host_blosc2_version(blosc2_get_version_string()) < 0) {
    fprintf(stderr, "%s\n", blosc2_vq_last_error_message());
    return 1;
  }
  blosc2_codec vq = {.compcode = BLOSC2_VQ_CODEC_ID, .compname = "vq",
                     .complib = BLOSC2_VQ_CODEC_ID, .version = 1,
                     .encoder = NULL, .decoder = NULL};
  if (blosc2_register_codec(&vq) < 0) {
    fprintf(stderr, "cannot register the vq codec\n");
    return 1;
  }

  /* 3. Compress: no filters, never split, the codebook in the "vq" metalayer. */
  blosc2_cparams cparams = BLOSC2_CPARAMS_DEFAULTS;
  cparams.compcode = BLOSC2_VQ_CODEC_ID;
  cparams.typesize = sizeof(float);
  cparams.splitmode = BLOSC_NEVER_SPLIT;
  cparams.nthreads = 2;
  for (int i = 0; i < BLOSC2_MAX_FILTERS; i++) cparams.filters[i] = BLOSC_NOFILTER;
  blosc2_dparams dparams = BLOSC2_DPARAMS_DEFAULTS;
  dparams.nthreads = 2;
  blosc2_storage storage = {.contiguous = true, .cparams = &cparams, .dparams = &dparams};
  blosc2_metalayer meta = {.name = "vq", .content = codebook, .content_len = (int32_t)codebook_len};
  int32_t chunks[3] = {1, SIDE, SIDE}, blocks[3] = {1, SIDE, SIDE};
  b2nd_context_t *ctx = b2nd_create_ctx(&storage, 3, shape, chunks, blocks, "<f4", 0, &meta, 1);
  b2nd_array_t *array = NULL;
  if (ctx == NULL || b2nd_from_cbuffer(ctx, &array, faces, nitems * (int64_t)sizeof(float)) < 0) {
    /* c-blosc2 ran the codec in its worker threads: their errors are in the codec channel. */
    char why[512];
    blosc2_vq_last_codec_error(why, sizeof why);
    fprintf(stderr, "compression failed: %s\n", why);
    return 1;
  }
  double ratio = (double)array->sc->nbytes / (double)array->sc->cbytes;

  /* 4. Decompress and measure. */
  float *restored = malloc((size_t)nitems * sizeof(float));
  if (restored == NULL || b2nd_to_cbuffer(array, restored, nitems * (int64_t)sizeof(float)) < 0) {
    char why[512];
    blosc2_vq_last_codec_error(why, sizeof why);
    fprintf(stderr, "decompression failed: %s\n", why);
    return 1;
  }
  double se = 0.0;
  for (int64_t i = 0; i < nitems; i++) {
    double d = (double)faces[i] - (double)restored[i];
    se += d * d;
  }
  double psnr = 10.0 * log10(1.0 / (se / (double)nitems));
  printf("model %s images %d ratio %.3f psnr %.3f codebook_bytes %lld prototypes %d stages %d "
         "mean_bits %d\n",
         name, n_images, ratio, psnr, (long long)codebook_len, info.n_prototypes, info.n_stages,
         info.mean_bits);

  b2nd_free(array);
  b2nd_free_ctx(ctx);
  blosc2_vq_free(codebook);
  free(restored);
  free(faces);
  blosc2_destroy();
  return 0;
}
