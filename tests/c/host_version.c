/*
 * How the plugin learns which c-blosc2 runs it. tests/c_api.rs links this with a static
 * c-blosc2 2.15 (which the plugin cannot find: it must be declared); python/tests links it
 * with python-blosc2's shared c-blosc2 2.22 and 3.3 (which the plugin finds itself):
 *
 *   host_version declare   declares blosc2_get_version_string(), then compresses
 *   host_version none      declares nothing, then compresses
 *   host_version future    declares "3.9.0" (refused), then "4.0.0.dev" (refused)
 *
 * Prints "version <what the plugin reads SChunks for>" and "compress <rc> <codec error>".
 */
#include <blosc2.h>
#include "blosc2_vq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SIDE 32
#define N 4

static void print_version(void) {
  char version[64];
  blosc2_vq_host_blosc2_version(version, sizeof version);
  printf("version '%s'\n", version);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "declare";
  static float data[N * SIDE * SIDE];
  for (int i = 0; i < N * SIDE * SIDE; i++) data[i] = (float)(0.5 + 0.5 * sin(i * 0.05));

  blosc2_vq_train_params params;
  blosc2_vq_train_params_init(&params, BLOSC2_VQ_MODEL_KMEANS);
  params.n_prototypes = 8;
  params.n_samples = 64;
  int64_t shape[3] = {N, SIDE, SIDE};
  uint8_t *codebook = NULL;
  int64_t codebook_len = 0;
  if (blosc2_vq_codebook_train(data, BLOSC2_VQ_DTYPE_FLOAT32, shape, 3, &params, &codebook,
                               &codebook_len) < 0) {
    fprintf(stderr, "training failed: %s\n", blosc2_vq_last_error_message());
    return 1;
  }

  blosc2_init();
  if (strcmp(mode, "declare") == 0) {
    if (blosc2_vq_set_host_blosc2_version(blosc2_get_version_string()) < 0) {
      printf("declare failed: %s\n", blosc2_vq_last_error_message());
      return 1;
    }
  } else if (strcmp(mode, "future") == 0) {
    int rc = blosc2_vq_set_host_blosc2_version("3.9.0");
    printf("future rc %d: %s\n", rc, blosc2_vq_last_error_message());
    rc = blosc2_vq_set_host_blosc2_version("4.0.0.dev");
    printf("future rc %d: %s\n", rc, blosc2_vq_last_error_message());
    rc = blosc2_vq_set_host_blosc2_version("not a version");
    printf("garbage rc %d: %s\n", rc, blosc2_vq_last_error_message());
  }
  print_version();

  blosc2_codec vq = {.compcode = BLOSC2_VQ_CODEC_ID, .compname = "vq",
                     .complib = BLOSC2_VQ_CODEC_ID, .version = 1};
  if (blosc2_register_codec(&vq) < 0) return 1;
  blosc2_cparams cparams = BLOSC2_CPARAMS_DEFAULTS;
  cparams.compcode = BLOSC2_VQ_CODEC_ID;
  cparams.typesize = sizeof(float);
  cparams.splitmode = BLOSC_NEVER_SPLIT;
  cparams.blocksize = SIDE * SIDE * sizeof(float);
  for (int i = 0; i < BLOSC2_MAX_FILTERS; i++) cparams.filters[i] = BLOSC_NOFILTER;
  blosc2_dparams dparams = BLOSC2_DPARAMS_DEFAULTS;
  blosc2_storage storage = {.contiguous = false, .cparams = &cparams, .dparams = &dparams};
  blosc2_schunk *schunk = blosc2_schunk_new(&storage);
  if (schunk == NULL || blosc2_meta_add(schunk, "vq", codebook, (int32_t)codebook_len) < 0) return 1;
  uint64_t errors = blosc2_vq_codec_error_count();
  int64_t rc = blosc2_schunk_append_buffer(schunk, data, (int32_t)sizeof data);
  char why[1024] = "";
  if (blosc2_vq_codec_error_count() > errors) blosc2_vq_last_codec_error(why, sizeof why);
  printf("compress %lld %s\n", (long long)rc, why);
  if (rc >= 0) {
    static float back[N * SIDE * SIDE];
    int n = blosc2_schunk_decompress_chunk(schunk, 0, back, (int32_t)sizeof back);
    double worst = 0.0;
    for (int i = 0; i < N * SIDE * SIDE; i++) worst = fmax(worst, fabs(back[i] - data[i]));
    printf("decompress %d max_abs_error %.4f\n", n, worst);
  }
  blosc2_schunk_free(schunk);
  blosc2_vq_free(codebook);
  blosc2_destroy();
  return 0;
}
