/*
 * blosc2-vq in an MPI code: Vlasiator-like velocity distribution functions (VDFs), compressed
 * in situ by every rank with one shared, error-bounded codebook.
 *
 * Every rank generates its spatial cells' VDFs (a C port of tests/common/vdf.rs: one to three
 * drifting bi-Maxwellians per cell, a few % roughness, values below the sparsity threshold
 * 1e-15 set to 0) as float32 (Vlasiator's Realf) on a dense 32x32x32 velocity grid, and also in
 * Vlasiator's sparse layout: only the 4x4x4 velocity blocks holding a value above the
 * threshold, with their block ids. The ranks gather a sample of stored blocks, rank 0 trains a
 * residual codebook on log10(max(v, 1e-16)) sealed with the bound log10(1.1) (every stored
 * value decodes within 10 %, every empty cell as exactly 0) and broadcasts it; every rank
 * compresses its cells in both layouts into its own b2nd frame files (the codebook in each),
 * reopens them from disk and checks the bound on every value. Then the VDFs are advanced a few
 * timesteps (populations drift and heat) and compressed with the step-0 codebook, next to a
 * codebook retrained on that step, to show when retraining pays.
 *
 * Build and run from the repository root, after `cargo build --release --lib` (B: a c-blosc2
 * 2.15 to 2.23 or 3.0 to 3.3 install prefix; here blosc2-sys's static build):
 *
 *   B=$(find target/release/build -maxdepth 2 -name out -path '*blosc2-sys*' | head -1)
 *   mpicc -std=c99 -O2 -Wall -Werror examples/mpi/vdf_mpi.c -I$B/include -Iinclude \
 *         -Ltarget/release -lblosc2_vq $B/lib/libblosc2.a -lpthread -lm -ldl -o target/vdf_mpi
 *   LD_LIBRARY_PATH=target/release mpirun -np 2 target/vdf_mpi target/vdf_out [cells_per_rank]
 *
 * (add --oversubscribe when the machine has fewer cores than ranks, --allow-run-as-root as
 * root; tests/mpi.rs does exactly this). With 64 cells per rank (the default) the run takes
 * about 15 s on 2 cores. Files written to the output directory, per rank r:
 *   vdf_dense_rank<r>_step<s>.b2nd   (cells, 32, 32, 32) float32
 *   vdf_sparse_rank<r>_step<s>.b2nd  (stored blocks, 4, 4, 4) float32, with the vlmetas
 *                                    "vdf_block_ids" (uint32 per block, Vlasiator's
 *                                    id = x + 8 y + 64 z of the block on the 8x8x8 block grid,
 *                                    ascending within a cell) and "vdf_blocks_per_cell"
 *                                    (uint32 per cell), both ZSTD + shuffle.
 * Exits non-zero on every rank when any rank fails (a failed call aborts with a message
 * naming the rank; a value outside the bound makes every rank exit 1 after the report).
 */
#define _POSIX_C_SOURCE 200809L

#include <blosc2.h>
#include <b2nd.h>
#include <mpi.h>
#include "blosc2_vq.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIDE 32                         /* velocity cells per axis */
#define B 4                             /* velocity block side (Vlasiator's WID) */
#define NB (SIDE / B)                   /* blocks per axis */
#define CELL_VALUES (SIDE * SIDE * SIDE)
#define BLOCK_VALUES (B * B * B)
#define SPARSITY 1e-15                  /* Vlasiator's sparsity threshold */
#define FLOOR 1e-16                     /* the log10 transform's floor */
#define PEAK 1e-12                      /* typical core density */
#define ROUGHNESS 0.03                  /* cell-to-cell roughness, uniform in +-3 % */
#define V_MAX 4.0                       /* the grid spans -V_MAX..V_MAX thermal speeds */
#define NSTEPS 5                        /* step 0 and 4 advances */
#define SAMPLE_PER_RANK 3000            /* stored blocks each rank sends for training */
#define HEAT 1.04                       /* thermal spreads grow by 4 % per step */
#define ACCEL 0.12                      /* bulk velocity change per step (thermal speeds) */

static int rank = 0;

/* ---- failures ---------------------------------------------------------------------------- */

/* A call failed: print why (the library's message, and the codec's when it reported one)
 * naming the rank, and abort every rank. */
static void die(const char *what, long long rc) {
  char codec[512] = "";
  if (blosc2_vq_codec_error_count() > 0) blosc2_vq_last_codec_error(codec, sizeof codec);
  const char *msg = blosc2_vq_last_error_message();
  fprintf(stderr, "vdf_mpi: rank %d: %s failed (%lld)%s%s%s%s%s\n", rank, what, rc,
          msg[0] ? ": " : "", msg, codec[0] ? "; codec: " : "", codec,
          msg[0] || codec[0] ? "" : " (set BLOSC_TRACE=1 for c-blosc2's reason)");
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

#define CHECK(call, what)                                                                       \
  do {                                                                                          \
    long long rc_ = (long long)(call);                                                          \
    if (rc_ < 0) die(what, rc_);                                                                \
  } while (0)

static void *xmalloc(size_t n) {
  void *p = malloc(n == 0 ? 1 : n);
  if (p == NULL) die("malloc", -1);
  return p;
}

/* ---- deterministic random numbers (xoshiro256**, seeded by splitmix64) -------------------- */

typedef struct {
  uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* A stream for (what, rank, step): the same numbers on every machine and run. */
static rng_t rng_new(uint64_t what, uint64_t r, uint64_t step) {
  uint64_t x = what * 0x100000001B3ULL ^ (r << 20) ^ (step << 8) ^ 2024;
  rng_t g;
  for (int i = 0; i < 4; i++) g.s[i] = splitmix64(&x);
  return g;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *g) {
  uint64_t *s = g->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [lo, hi). */
static double uniform(rng_t *g, double lo, double hi) {
  return lo + (hi - lo) * ((double)(rng_next(g) >> 11) * 0x1.0p-53);
}

/* ---- the synthetic VDFs --------------------------------------------------------------------- */

/* amplitude * exp(-v_par^2 / 2 sigma_par^2 - v_perp^2 / 2 sigma_perp^2) around drift, par
 * along axis (the magnetic field). */
typedef struct {
  double amplitude, drift[3], axis[3], sigma_par, sigma_perp;
} bimaxwellian;

typedef struct {
  int n;               /* populations: a core and 0 to 2 field-aligned beams */
  bimaxwellian pop[3];
  double accel[3];     /* how the cell's bulk velocity changes per timestep */
} cell_t;

static void unit_vector(rng_t *g, double out[3]) {
  for (;;) { /* rejection from the cube: a uniform direction */
    double v[3], n2 = 0.0;
    for (int i = 0; i < 3; i++) {
      v[i] = uniform(g, -1.0, 1.0);
      n2 += v[i] * v[i];
    }
    if (n2 > 1e-3 && n2 <= 1.0) {
      for (int i = 0; i < 3; i++) out[i] = v[i] / sqrt(n2);
      return;
    }
  }
}

/* tests/common/vdf.rs's populations(): a core (peak 0.5e-12..1.6e-12, drift up to 0.4 per
 * axis, anisotropy T_par/T_perp 0.4..2.5) and 0 to 2 colder beams along the field, 3 % to 30 %
 * of the core, 1.4..2.6 thermal speeds from it (two beams go opposite ways). */
static void cell_init(rng_t *g, cell_t *c) {
  bimaxwellian *core = &c->pop[0];
  unit_vector(g, core->axis);
  core->sigma_perp = uniform(g, 0.55, 1.0);
  core->amplitude = PEAK * pow(10.0, uniform(g, -0.3, 0.2));
  for (int i = 0; i < 3; i++) core->drift[i] = uniform(g, -0.4, 0.4);
  core->sigma_par = core->sigma_perp * sqrt(uniform(g, 0.4, 2.5));
  int beams = (int)(rng_next(g) % 3);
  c->n = 1 + beams;
  for (int b = 0; b < beams; b++) {
    bimaxwellian *p = &c->pop[1 + b];
    double along = (b == 0 ? 1.0 : -1.0) * uniform(g, 1.4, 2.6);
    for (int i = 0; i < 3; i++) {
      p->axis[i] = core->axis[i];
      p->drift[i] = core->drift[i] + along * core->axis[i] + uniform(g, -0.2, 0.2);
    }
    p->amplitude = core->amplitude * pow(10.0, uniform(g, -1.5, -0.5));
    p->sigma_par = uniform(g, 0.3, 0.6);
    p->sigma_perp = uniform(g, 0.35, 0.7);
  }
  unit_vector(g, c->accel);
  for (int i = 0; i < 3; i++) c->accel[i] *= ACCEL;
}

/* One timestep: every population drifts with the cell's acceleration and heats by HEAT in
 * both spreads at constant density (the amplitude falls by HEAT^3). */
static void cell_advance(cell_t *c) {
  for (int k = 0; k < c->n; k++) {
    bimaxwellian *p = &c->pop[k];
    for (int i = 0; i < 3; i++) p->drift[i] += c->accel[i];
    p->sigma_par *= HEAT;
    p->sigma_perp *= HEAT;
    p->amplitude /= HEAT * HEAT * HEAT;
  }
}

static double velocity(int i) { return -V_MAX + (i + 0.5) * (2.0 * V_MAX / SIDE); }

/* The cell's VDF on the dense grid, C order (v0 slowest, v2 fastest), times the roughness
 * (drawn for every velocity cell from `g`), zero below the sparsity threshold. */
static void cell_fill(const cell_t *c, rng_t *g, float *out) {
  for (int i0 = 0; i0 < SIDE; i0++) {
    for (int i1 = 0; i1 < SIDE; i1++) {
      for (int i2 = 0; i2 < SIDE; i2++) {
        double v[3] = {velocity(i0), velocity(i1), velocity(i2)}, f = 0.0;
        for (int k = 0; k < c->n; k++) {
          const bimaxwellian *p = &c->pop[k];
          double d[3], par = 0.0, d2 = 0.0;
          for (int i = 0; i < 3; i++) {
            d[i] = v[i] - p->drift[i];
            par += d[i] * p->axis[i];
            d2 += d[i] * d[i];
          }
          double perp2 = d2 - par * par > 0.0 ? d2 - par * par : 0.0;
          f += p->amplitude * exp(-par * par / (2.0 * p->sigma_par * p->sigma_par) -
                                  perp2 / (2.0 * p->sigma_perp * p->sigma_perp));
        }
        f *= 1.0 + uniform(g, -ROUGHNESS, ROUGHNESS);
        *out++ = f < SPARSITY ? 0.0f : (float)f;
      }
    }
  }
}

/* ---- Vlasiator's sparse layout -------------------------------------------------------------- */

typedef struct {
  int64_t n_blocks;
  float *values;           /* (n_blocks, 4, 4, 4): each block's values, C order */
  uint32_t *ids;           /* block id on the 8x8x8 block grid: b2 + 8 b1 + 64 b0 */
  uint32_t *per_cell;      /* blocks stored per cell */
} sparse_t;

/* Keeps the 4x4x4 blocks of `dense` (n_cells VDFs) holding any value above the threshold. */
static sparse_t sparse_from_dense(const float *dense, int n_cells) {
  sparse_t s;
  s.n_blocks = 0;
  s.values = xmalloc((size_t)n_cells * CELL_VALUES * sizeof(float));
  s.ids = xmalloc((size_t)n_cells * NB * NB * NB * sizeof(uint32_t));
  s.per_cell = xmalloc((size_t)n_cells * sizeof(uint32_t));
  for (int c = 0; c < n_cells; c++) {
    const float *vdf = dense + (size_t)c * CELL_VALUES;
    s.per_cell[c] = 0;
    for (int b0 = 0; b0 < NB; b0++) {
      for (int b1 = 0; b1 < NB; b1++) {
        for (int b2 = 0; b2 < NB; b2++) {
          float *block = s.values + (size_t)s.n_blocks * BLOCK_VALUES;
          int stored = 0;
          for (int j = 0; j < BLOCK_VALUES; j++) {
            int j0 = j / (B * B), j1 = (j / B) % B, j2 = j % B;
            float v = vdf[((b0 * B + j0) * SIDE + b1 * B + j1) * SIDE + b2 * B + j2];
            block[j] = v;
            stored |= v >= SPARSITY;
          }
          if (stored) {
            /* Vlasiator numbers blocks with the fastest axis first. */
            s.ids[s.n_blocks++] = (uint32_t)(b2 + NB * b1 + NB * NB * b0);
            s.per_cell[c]++;
          }
        }
      }
    }
  }
  return s;
}

static void sparse_free(sparse_t *s) {
  free(s->values);
  free(s->ids);
  free(s->per_cell);
}

/* ---- training ------------------------------------------------------------------------------- */

/* Every rank sends up to SAMPLE_PER_RANK of its stored blocks (a seeded choice); rank 0 trains
 * a residual codebook on them and every rank receives it (length, then bytes). Returns the
 * codebook (malloc'd) and its length; *train_s gets rank 0's training time.
 *
 * Trained on stored blocks, not on tiles of the dense grid: the dense grid's aligned 4x4x4
 * tiles are exactly Vlasiator's velocity blocks, and most of them are empty (61 % here), which
 * error-bounded blocks code as one symbol without the codebook. The stored blocks are the
 * tiles both layouts code with it, so one codebook serves both. */
static uint8_t *train_and_share(const sparse_t *s, int step, int nranks, int64_t *cb_len,
                                double *train_s) {
  int n = s->n_blocks < SAMPLE_PER_RANK ? (int)s->n_blocks : SAMPLE_PER_RANK;
  float *mine = xmalloc((size_t)n * BLOCK_VALUES * sizeof(float));
  /* A partial Fisher-Yates shuffle of the block indexes picks n distinct blocks. */
  int64_t *order = xmalloc((size_t)s->n_blocks * sizeof(int64_t));
  for (int64_t i = 0; i < s->n_blocks; i++) order[i] = i;
  rng_t g = rng_new(3, (uint64_t)rank, (uint64_t)step);
  for (int i = 0; i < n; i++) {
    int64_t j = i + (int64_t)(rng_next(&g) % (uint64_t)(s->n_blocks - i));
    int64_t t = order[i];
    order[i] = order[j];
    order[j] = t;
    memcpy(mine + (size_t)i * BLOCK_VALUES, s->values + (size_t)order[i] * BLOCK_VALUES,
           BLOCK_VALUES * sizeof(float));
  }
  free(order);

  int count = n * BLOCK_VALUES;
  int *counts = NULL, *displs = NULL;
  float *sample = NULL;
  int total = 0;
  if (rank == 0) {
    counts = xmalloc((size_t)nranks * sizeof(int));
    displs = xmalloc((size_t)nranks * sizeof(int));
  }
  MPI_Gather(&count, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    for (int r = 0; r < nranks; r++) {
      displs[r] = total;
      total += counts[r];
    }
    sample = xmalloc((size_t)total * sizeof(float));
  }
  MPI_Gatherv(mine, count, MPI_FLOAT, sample, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD);
  free(mine);

  uint8_t *cb = NULL;
  *cb_len = 0;
  *train_s = 0.0;
  if (rank == 0) {
    double t0 = MPI_Wtime();
    blosc2_vq_train_params p;
    CHECK(blosc2_vq_train_params_init(&p, BLOSC2_VQ_MODEL_RESIDUAL), "blosc2_vq_train_params_init");
    p.tile_ndim = 3;
    p.tile_shape[0] = p.tile_shape[1] = p.tile_shape[2] = B;
    p.n_stages = 4;
    p.n_prototypes = 64; /* codewords per stage: 4 x 64 pays best for 64 cells a rank */
    p.mean_bits = 8;
    p.n_samples = total / BLOCK_VALUES; /* every gathered block */
    p.seed = 0;
    p.log10_floor = FLOOR;
    p.max_error = log10(1.1); /* in decades: every stored value within 10 % */
    int64_t shape[4] = {total / BLOCK_VALUES, B, B, B};
    uint8_t *trained = NULL, *half = NULL;
    int64_t trained_len = 0, half_len = 0;
    CHECK(blosc2_vq_codebook_train(sample, BLOSC2_VQ_DTYPE_FLOAT32, shape, 4, &p, &trained,
                                   &trained_len),
          "blosc2_vq_codebook_train");
    /* float16 prototypes: half the bytes every frame carries; the bound still holds. */
    CHECK(blosc2_vq_codebook_with_prototype_bits(trained, trained_len, 16, &half, &half_len),
          "blosc2_vq_codebook_with_prototype_bits");
    *cb_len = half_len;
    cb = xmalloc((size_t)half_len);
    memcpy(cb, half, (size_t)half_len);
    blosc2_vq_free(trained);
    blosc2_vq_free(half);
    *train_s = MPI_Wtime() - t0;
    free(sample);
    free(counts);
    free(displs);
  }
  MPI_Bcast(cb_len, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (rank != 0) cb = xmalloc((size_t)*cb_len);
  MPI_Bcast(cb, (int)*cb_len, MPI_BYTE, 0, MPI_COMM_WORLD);
  return cb;
}

/* ---- compress, reopen, check ---------------------------------------------------------------- */

typedef struct {
  double raw_bytes;   /* what the layout holds uncompressed (values, and ids for sparse) */
  double file_bytes;  /* the frame file, codebook and ids included */
  double meta_bytes;  /* of which the compressed block ids and per-cell counts */
  double values;      /* values coded */
  double encode_s;    /* compression, file writes included */
  double worst_log;   /* largest |log10 y - log10 x| over stored values (x >= floor) */
  double worst_rel;   /* largest |y - x| / x over stored values */
  double violations;  /* values outside the bound (a stored value off by more, an empty one
                         not exactly 0), ids not read back exactly */
} stats_t;

/* Checks what the codec promises (README, "Error-bounded coding"): for x >= floor, y > 0 and
 * |log10 y - log10 x| <= max_error; for 0 <= x < floor, y == 0 exactly. */
static void check_values(const float *orig, const float *back, int64_t n, double max_error,
                         stats_t *st) {
  for (int64_t i = 0; i < n; i++) {
    double x = orig[i], y = back[i];
    if (x >= FLOOR) {
      if (!(y > 0.0)) {
        st->violations++;
        continue;
      }
      double e = fabs(log10(y) - log10(x)), r = fabs(y - x) / x;
      if (e > max_error) st->violations++;
      if (e > st->worst_log) st->worst_log = e;
      if (r > st->worst_rel) st->worst_rel = r;
    } else if (y != 0.0) {
      st->violations++;
    }
  }
}

static double file_size(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    fprintf(stderr, "vdf_mpi: rank %d: cannot stat %s: %s\n", rank, path, strerror(errno));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return (double)sb.st_size;
}

/* Reads a vlmeta and checks it holds exactly `expected` (n uint32). Returns the mismatches. */
static double check_vlmeta(blosc2_schunk *sc, const char *name, const uint32_t *expected,
                           int64_t n) {
  uint8_t *content = NULL;
  int32_t len = 0;
  CHECK(blosc2_vlmeta_get(sc, name, &content, &len), "blosc2_vlmeta_get");
  double bad = (int64_t)len != n * (int64_t)sizeof(uint32_t) ||
               memcmp(content, expected, (size_t)len) != 0;
  free(content);
  return bad;
}

/* Dense layout: the cells' VDFs as one (n_cells, 32, 32, 32) array, chunks of 8 VDFs, one VDF
 * per block. Sparse layout (s non-NULL): the stored blocks as (n_blocks, 4, 4, 4), 512 blocks
 * per c-blosc2 block, 4096 per chunk, ids and counts in vlmetas. */
static stats_t compress_and_check(const char *path, const uint8_t *cb, int64_t cb_len,
                                  const float *dense, int n_cells, const sparse_t *s) {
  stats_t st;
  memset(&st, 0, sizeof st);
  const float *data = s ? s->values : dense;
  int64_t n = s ? s->n_blocks * BLOCK_VALUES : (int64_t)n_cells * CELL_VALUES;
  int64_t nbytes = n * (int64_t)sizeof(float);
  int64_t shape[4];
  int32_t chunks[4], blocks[4];
  if (s) {
    int32_t per_block = 512, per_chunk = 4096;
    int64_t dims[4] = {s->n_blocks, B, B, B};
    int32_t c[4] = {per_chunk, B, B, B}, b[4] = {per_block, B, B, B};
    memcpy(shape, dims, sizeof shape);
    memcpy(chunks, c, sizeof chunks);
    memcpy(blocks, b, sizeof blocks);
  } else {
    int64_t dims[4] = {n_cells, SIDE, SIDE, SIDE};
    int32_t c[4] = {8, SIDE, SIDE, SIDE}, b[4] = {1, SIDE, SIDE, SIDE};
    memcpy(shape, dims, sizeof shape);
    memcpy(chunks, c, sizeof chunks);
    memcpy(blocks, b, sizeof blocks);
  }

  /* c-blosc2 does not overwrite a frame: remove the previous run's. */
  CHECK(blosc2_remove_urlpath(path), "blosc2_remove_urlpath");
  double t0 = MPI_Wtime();
  b2nd_array_t *array = NULL;
  CHECK(blosc2_vq_b2nd_compress(path, cb, cb_len, data, 4, shape, chunks, blocks, "<f4", 1,
                                &array),
        "blosc2_vq_b2nd_compress");
  if (s) {
    /* The block ids travel in the same frame, losslessly (ZSTD over shuffled uint32). */
    blosc2_cparams meta = BLOSC2_CPARAMS_DEFAULTS;
    meta.compcode = BLOSC_ZSTD;
    meta.clevel = 9;
    meta.typesize = sizeof(uint32_t);
    int ids = blosc2_vlmeta_add(array->sc, "vdf_block_ids", (uint8_t *)s->ids,
                                (int32_t)(s->n_blocks * (int64_t)sizeof(uint32_t)), &meta);
    CHECK(ids, "blosc2_vlmeta_add(vdf_block_ids)");
    int counts = blosc2_vlmeta_add(array->sc, "vdf_blocks_per_cell", (uint8_t *)s->per_cell,
                                   (int32_t)(n_cells * sizeof(uint32_t)), &meta);
    CHECK(counts, "blosc2_vlmeta_add(vdf_blocks_per_cell)");
    st.meta_bytes = array->sc->vlmetalayers[ids]->content_len +
                    array->sc->vlmetalayers[counts]->content_len;
  }
  CHECK(b2nd_free(array), "b2nd_free");
  st.encode_s = MPI_Wtime() - t0;
  st.file_bytes = file_size(path);
  st.values = (double)n;
  st.raw_bytes = (double)nbytes;
  if (s) st.raw_bytes += (double)(s->n_blocks + n_cells) * sizeof(uint32_t);

  /* Back from disk: only the frame file is needed (the codebook is in it). */
  float *back = xmalloc((size_t)nbytes);
  CHECK(b2nd_open(path, &array), "b2nd_open");
  if (array->ndim != 4 || memcmp(array->shape, shape, sizeof shape) != 0) {
    fprintf(stderr, "vdf_mpi: rank %d: %s has the wrong shape\n", rank, path);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  CHECK(b2nd_to_cbuffer(array, back, nbytes), "b2nd_to_cbuffer");
  if (s) {
    st.violations += check_vlmeta(array->sc, "vdf_block_ids", s->ids, s->n_blocks);
    st.violations += check_vlmeta(array->sc, "vdf_blocks_per_cell", s->per_cell, n_cells);
  }
  CHECK(b2nd_free(array), "b2nd_free");
  check_values(data, back, n, log10(1.1), &st);
  free(back);
  return st;
}

/* Sums sizes, values and violations over the ranks; takes the slowest encode and the worst
 * errors. */
static stats_t reduce(stats_t local) {
  double sum_in[5] = {local.raw_bytes, local.file_bytes, local.values, local.violations,
                      local.meta_bytes};
  double max_in[3] = {local.encode_s, local.worst_log, local.worst_rel};
  double sum_out[5], max_out[3];
  MPI_Allreduce(sum_in, sum_out, 5, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(max_in, max_out, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  stats_t g;
  g.raw_bytes = sum_out[0];
  g.file_bytes = sum_out[1];
  g.values = sum_out[2];
  g.violations = sum_out[3];
  g.meta_bytes = sum_out[4];
  g.encode_s = max_out[0];
  g.worst_log = max_out[1];
  g.worst_rel = max_out[2];
  return g;
}

static void print_layout(const char *name, stats_t g, double codebook_bytes) {
  printf("layout %s: raw_bytes %.0f file_bytes %.0f codebook_bytes %.0f ids_bytes %.0f ratio "
         "%.2f bits_per_value "
         "%.3f worst_rel_error %.6f worst_log10_error %.6f violations %.0f encode_s %.3f "
         "encode_MBps %.1f\n",
         name, g.raw_bytes, g.file_bytes, codebook_bytes, g.meta_bytes, g.raw_bytes / g.file_bytes,
         8.0 * g.file_bytes / g.values, g.worst_rel, g.worst_log, g.violations, g.encode_s,
         g.raw_bytes / 1e6 / g.encode_s);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  if (argc < 2) {
    if (rank == 0) fprintf(stderr, "usage: %s output_dir [cells_per_rank]\n", argv[0]);
    MPI_Finalize();
    return 2;
  }
  const char *dir = argv[1];
  int n_cells = argc > 2 ? atoi(argv[2]) : 64;
  if (n_cells < 1 || n_cells > 4096) {
    if (rank == 0) fprintf(stderr, "cells_per_rank must be 1 to 4096\n");
    MPI_Finalize();
    return 2;
  }
  if (rank == 0 && mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "vdf_mpi: rank 0: cannot create %s: %s\n", dir, strerror(errno));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);

  /* Registers the vq codec (statically) and tells it which c-blosc2 runs it. */
  CHECK(blosc2_vq_codec_register(), "blosc2_vq_codec_register");

  /* Every rank's own cells: the seeds differ per rank. */
  cell_t *cells = xmalloc((size_t)n_cells * sizeof(cell_t));
  rng_t g = rng_new(1, (uint64_t)rank, 0);
  for (int c = 0; c < n_cells; c++) cell_init(&g, &cells[c]);
  float *dense = xmalloc((size_t)n_cells * CELL_VALUES * sizeof(float));

  const double bound = log10(1.1);
  uint8_t *cb0 = NULL;
  int64_t cb0_len = 0;
  double train0_s = 0.0;
  stats_t steps[NSTEPS][2], retrained[NSTEPS][2];
  double stored_blocks[NSTEPS], retrain_s[NSTEPS];
  double empty = 0.0;
  char path[4096];
  for (int step = 0; step < NSTEPS; step++) {
    if (step > 0) {
      for (int c = 0; c < n_cells; c++) cell_advance(&cells[c]);
    }
    /* The roughness is drawn anew every step (the solver's noise is not a fixed pattern). */
    rng_t rough = rng_new(2, (uint64_t)rank, (uint64_t)step);
    for (int c = 0; c < n_cells; c++) cell_fill(&cells[c], &rough, dense + (size_t)c * CELL_VALUES);
    sparse_t s = sparse_from_dense(dense, n_cells);
    if (s.n_blocks == 0) die("a step without stored blocks", -1);
    double local_blocks = (double)s.n_blocks;
    MPI_Allreduce(&local_blocks, &stored_blocks[step], 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (step == 0) {
      double zeros = 0.0, all_zeros = 0.0;
      for (int64_t i = 0; i < (int64_t)n_cells * CELL_VALUES; i++) zeros += dense[i] == 0.0f;
      MPI_Allreduce(&zeros, &all_zeros, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
      empty = all_zeros / ((double)nranks * n_cells * CELL_VALUES);
      cb0 = train_and_share(&s, 0, nranks, &cb0_len, &train0_s);
    }

    snprintf(path, sizeof path, "%s/vdf_dense_rank%d_step%d.b2nd", dir, rank, step);
    steps[step][0] = reduce(compress_and_check(path, cb0, cb0_len, dense, n_cells, NULL));
    snprintf(path, sizeof path, "%s/vdf_sparse_rank%d_step%d.b2nd", dir, rank, step);
    steps[step][1] = reduce(compress_and_check(path, cb0, cb0_len, dense, n_cells, &s));

    /* What a codebook retrained on this step would give (scratch files, removed after). */
    if (step > 0) {
      int64_t len = 0;
      uint8_t *cb = train_and_share(&s, step, nranks, &len, &retrain_s[step]);
      snprintf(path, sizeof path, "%s/retrained_dense_rank%d.b2nd", dir, rank);
      retrained[step][0] = reduce(compress_and_check(path, cb, len, dense, n_cells, NULL));
      CHECK(blosc2_remove_urlpath(path), "blosc2_remove_urlpath");
      snprintf(path, sizeof path, "%s/retrained_sparse_rank%d.b2nd", dir, rank);
      retrained[step][1] = reduce(compress_and_check(path, cb, len, dense, n_cells, &s));
      CHECK(blosc2_remove_urlpath(path), "blosc2_remove_urlpath");
      free(cb);
    } else {
      retrained[0][0] = steps[0][0];
      retrained[0][1] = steps[0][1];
      retrain_s[0] = train0_s;
    }
    sparse_free(&s);
  }

  double violations = 0.0;
  for (int step = 0; step < NSTEPS; step++) {
    for (int l = 0; l < 2; l++) violations += steps[step][l].violations + retrained[step][l].violations;
  }
  if (rank == 0) {
    blosc2_vq_codebook_info info;
    CHECK(blosc2_vq_codebook_inspect(cb0, cb0_len, &info), "blosc2_vq_codebook_inspect");
    printf("vdf_mpi: %d ranks x %d cells, 32^3 float32 VDFs (%.1f %% empty), %.0f stored 4x4x4 "
           "blocks; bound log10(1.1) = %.5f decades (10 %%), log10 floor %g\n",
           nranks, n_cells, 100.0 * empty, stored_blocks[0], bound, FLOOR);
    printf("codebook: residual %d stages x %d codewords, mean %d bits, float%d prototypes, "
           "trained on %lld stored blocks (up to %d per rank) in %.2f s: %lld bytes, one copy "
           "in every frame\n",
           info.n_stages, info.n_prototypes / info.n_stages, info.mean_bits, info.prototype_bits,
           (long long)info.n_samples, SAMPLE_PER_RANK, train0_s, (long long)cb0_len);
    printf("\nstep 0, every rank's frames reopened from disk and checked value by value:\n");
    print_layout("dense", steps[0][0], (double)nranks * (double)cb0_len);
    print_layout("sparse", steps[0][1], (double)nranks * (double)cb0_len);
    printf("(ratio: raw bytes over frame file bytes, summed over ranks; file bytes include every "
           "frame's codebook and, sparse, the compressed ids and counts; raw sparse = stored "
           "blocks + uint32 ids + per-cell counts; bits_per_value: file bits per value of the "
           "layout; encode_s: the slowest rank's compression and file writes; encode_MBps: raw "
           "MB over it)\n");
    printf("\nsteps compressed with the step-0 codebook (retrained: a codebook trained on that "
           "step, for comparison):\n\n");
    printf("| step | stored blocks | dense ratio | dense bits/value | sparse ratio | sparse bits/stored value "
           "| worst rel. error | dense ratio retrained | sparse ratio retrained | training s |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int step = 0; step < NSTEPS; step++) {
      stats_t *d = &steps[step][0], *sp = &steps[step][1];
      double worst = d->worst_rel > sp->worst_rel ? d->worst_rel : sp->worst_rel;
      printf("| %d | %.0f | %.2f | %.3f | %.2f | %.3f | %.6f | %.2f | %.2f | %.2f |\n", step,
             stored_blocks[step], d->raw_bytes / d->file_bytes, 8.0 * d->file_bytes / d->values,
             sp->raw_bytes / sp->file_bytes, 8.0 * sp->file_bytes / sp->values, worst,
             retrained[step][0].raw_bytes / retrained[step][0].file_bytes,
             retrained[step][1].raw_bytes / retrained[step][1].file_bytes, retrain_s[step]);
    }
    printf("\n%s: %.0f values outside the bound\n", violations == 0.0 ? "ok" : "FAILED", violations);
  }
  free(cb0);
  free(dense);
  free(cells);
  blosc2_destroy();
  MPI_Finalize();
  return violations == 0.0 ? 0 : 1;
}
