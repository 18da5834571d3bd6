/*
 * The fused and data-movement kernels of the wasm backend's SIMD module (src/engines/tfjs/backends/wasm/simd/
 * kernels.wat), natively: the same arguments (after the heap), the same maths (the same exp and erf polynomials),
 * vectorised for the CPU and split over the pool's threads. Unlike kernels.wat, sizes need not be multiples of 4.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "convbert.h"

#define GRAIN 16384 /* elements: below this a kernel runs on the caller alone */

/* Φ(x) = ½ + ½·erf(x/√2), erf on a rational minimax fit (as kernels.wat's $phi4). */
static inline float phi(float x) {
  float z = x * 0.70710678f;
  z = z > 4.0f ? 4.0f : z; /* NaN stays NaN */
  z = z < -4.0f ? -4.0f : z;
  const float z2 = z * z;
  float p = z2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = z2 * p + -2.10102402082508e-06f;
  p = z2 * p + -5.69250639462346e-05f;
  p = z2 * p + -7.34990630326855e-04f;
  p = z2 * p + -2.95459980854025e-03f;
  p = z2 * p + -1.60960333262415e-02f;
  float q = z2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = z2 * q + -1.68282697438203e-03f;
  q = z2 * q + -7.37332916720468e-03f;
  q = z2 * q + -1.42647390514189e-02f;
  return 0.5f + 0.5f * ((z * p) / q);
}

/* ---- GELU ---- */
typedef struct { const float *x, *dy, *cdf; float *y, *out; } gelu_ctx;

HOT static void gelu_range(void* c, int64_t b, int64_t e) {
  const gelu_ctx* k = c;
  const float* restrict x = k->x;
  float* restrict y = k->y;
  float* restrict cdf = k->out;
  for (int64_t i = b; i < e; i++) {
    const float p = phi(x[i]);
    cdf[i] = p;
    y[i] = x[i] * p;
  }
}

static napi_value gelu(napi_env env, napi_callback_info info) {
  kargs a;
  if (!kargs_read(env, info, "gelu", "pppi", &a)) return NULL;
  const int64_t n = a.v[3];
  if (!kargs_inside(env, "gelu", &a, a.v[0], n) || !kargs_inside(env, "gelu", &a, a.v[1], n) || !kargs_inside(env, "gelu", &a, a.v[2], n)) return NULL;
  gelu_ctx k = {.x = F32(&a, a.v[0]), .y = F32(&a, a.v[1]), .out = F32(&a, a.v[2])};
  pool_run(n, GRAIN, gelu_range, &k);
  return NULL;
}

/* dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π) */
HOT static void gelu_grad_range(void* c, int64_t b, int64_t e) {
  const gelu_ctx* k = c;
  const float *restrict xs = k->x, *restrict dy = k->dy, *restrict cdf = k->cdf;
  float* restrict dx = k->out;
  for (int64_t i = b; i < e; i++) {
    const float x = xs[i];
    const float pdf = exp_poly(-0.5f * x * x) * 0.3989422804f;
    dx[i] = dy[i] * (cdf[i] + x * pdf);
  }
}

static napi_value gelu_grad(napi_env env, napi_callback_info info) {
  kargs a;
  if (!kargs_read(env, info, "gelu_grad", "ppppi", &a)) return NULL;
  const int64_t n = a.v[4];
  for (int i = 0; i < 4; i++)
    if (!kargs_inside(env, "gelu_grad", &a, a.v[i], n)) return NULL;
  gelu_ctx k = {.dy = F32(&a, a.v[0]), .x = F32(&a, a.v[1]), .cdf = F32(&a, a.v[2]), .out = F32(&a, a.v[3])};
  pool_run(n, GRAIN, gelu_grad_range, &k);
  return NULL;
}

/* Σ x[j]·y[j] (y NULL: Σ x[j]) in 16 lanes, so the loop vectorises without reassociating anything by flags. */
static inline float dot16(const float* x, const float* y, float shift, int64_t h) {
  float acc[16] = {0};
  int64_t j = 0;
  for (; j + 16 <= h; j += 16)
    for (int l = 0; l < 16; l++) acc[l] += y ? (x[j + l] - shift) * y[j + l] : x[j + l] - shift;
  float s = 0;
  for (; j < h; j++) s += y ? (x[j] - shift) * y[j] : x[j] - shift;
  for (int l = 0; l < 16; l++) s += acc[l];
  return s;
}

/* ---- Layer normalisation over rows of h ---- */
typedef struct {
  const float *x, *dy, *gamma, *beta;
  float *y, *mean, *rstd, *dx, *partial; /* partial: per chunk dγ then dβ (2·h floats each) */
  int64_t h, chunk, rows;
  float eps;
} ln_ctx;

HOT static void layernorm_range(void* c, int64_t b, int64_t e) {
  const ln_ctx* k = c;
  const int64_t h = k->h;
  const float invh = 1.0f / (float)h;
  for (int64_t r = b; r < e; r++) {
    const float* x = k->x + r * h;
    float* y = k->y + r * h;
    const float m = dot16(x, NULL, 0.0f, h) * invh;
    float acc[16] = {0}, v = 0;
    int64_t j = 0;
    for (; j + 16 <= h; j += 16)
      for (int l = 0; l < 16; l++) acc[l] += (x[j + l] - m) * (x[j + l] - m);
    for (; j < h; j++) v += (x[j] - m) * (x[j] - m);
    for (int l = 0; l < 16; l++) v += acc[l];
    const float rs = 1.0f / sqrtf(v * invh + k->eps);
    for (int64_t j = 0; j < h; j++) y[j] = (x[j] - m) * rs * k->gamma[j] + k->beta[j];
    k->mean[r] = m;
    k->rstd[r] = rs;
  }
}

static napi_value layernorm(napi_env env, napi_callback_info info) {
  kargs a;
  if (!kargs_read(env, info, "layernorm", "ppppppiif", &a)) return NULL;
  const int64_t rows = a.v[6], h = a.v[7];
  const char* nm = "layernorm";
  int64_t size_;
  if (!kargs_product(env, nm, rows, h, &size_)) return NULL;
  if (!kargs_inside(env, nm, &a, a.v[0], rows * h) || !kargs_inside(env, nm, &a, a.v[1], h) || !kargs_inside(env, nm, &a, a.v[2], h) ||
      !kargs_inside(env, nm, &a, a.v[3], rows * h) || !kargs_inside(env, nm, &a, a.v[4], rows) || !kargs_inside(env, nm, &a, a.v[5], rows))
    return NULL;
  if (h == 0) return NULL;
  ln_ctx k = {.x = F32(&a, a.v[0]), .gamma = F32(&a, a.v[1]), .beta = F32(&a, a.v[2]), .y = F32(&a, a.v[3]), .mean = F32(&a, a.v[4]),
              .rstd = F32(&a, a.v[5]), .h = h, .eps = (float)a.f[8]};
  pool_run(rows, GRAIN / h + 1, layernorm_range, &k);
  return NULL;
}

/* With x̂ = (x − μ)·r and g = dy·γ per row: dx = r·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ dy·x̂, dβ = Σ dy (per chunk
 * of rows into `partial`, summed afterwards in chunk order: the same sums whichever thread ran which chunk). */
HOT static void layernorm_grad_range(void* c, int64_t b, int64_t e) {
  const ln_ctx* k = c;
  const int64_t h = k->h;
  const float invh = 1.0f / (float)h;
  float* dg = k->partial + (b / k->chunk) * 2 * h;
  float* db = dg + h;
  for (int64_t r = b; r < e; r++) {
    const float *x = k->x + r * h, *dy = k->dy + r * h;
    float* dx = k->dx + r * h;
    const float m = k->mean[r], rs = k->rstd[r];
    float ag[16] = {0}, agx[16] = {0}, sg = 0, sgx = 0;
    int64_t j = 0;
    for (; j + 16 <= h; j += 16)
      for (int l = 0; l < 16; l++) {
        const float xh = (x[j + l] - m) * rs, g = dy[j + l] * k->gamma[j + l];
        ag[l] += g;
        agx[l] += g * xh;
        dg[j + l] += dy[j + l] * xh;
        db[j + l] += dy[j + l];
      }
    for (; j < h; j++) {
      const float xh = (x[j] - m) * rs, g = dy[j] * k->gamma[j];
      sg += g;
      sgx += g * xh;
      dg[j] += dy[j] * xh;
      db[j] += dy[j];
    }
    for (int l = 0; l < 16; l++) {
      sg += ag[l];
      sgx += agx[l];
    }
    const float ma = sg * invh, mc = sgx * invh;
    for (int64_t j = 0; j < h; j++) {
      const float xh = (x[j] - m) * rs, g = dy[j] * k->gamma[j];
      dx[j] = rs * (g - ma - xh * mc);
    }
  }
}

static void layernorm_grad_chunks(void* c, int64_t b, int64_t e) {
  const ln_ctx* k = c;
  for (int64_t i = b; i < e; i++) {
    const int64_t r0 = i * k->chunk, r1 = r0 + k->chunk < k->rows ? r0 + k->chunk : k->rows;
    layernorm_grad_range(c, r0, r1);
  }
}

static napi_value layernorm_grad(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "layernorm_grad";
  if (!kargs_read(env, info, nm, "ppppppppii", &a)) return NULL;
  const int64_t rows = a.v[8], h = a.v[9];
  int64_t size_;
  if (!kargs_product(env, nm, rows, h, &size_)) return NULL;
  if (!kargs_inside(env, nm, &a, a.v[0], rows * h) || !kargs_inside(env, nm, &a, a.v[1], rows * h) || !kargs_inside(env, nm, &a, a.v[2], h) ||
      !kargs_inside(env, nm, &a, a.v[3], rows) || !kargs_inside(env, nm, &a, a.v[4], rows) || !kargs_inside(env, nm, &a, a.v[5], rows * h) ||
      !kargs_inside(env, nm, &a, a.v[6], h) || !kargs_inside(env, nm, &a, a.v[7], h))
    return NULL;
  if (h == 0) return NULL;
  /* fixed chunks (not the pool's), so the dγ/dβ sums do not depend on the thread count */
  const int64_t chunk = rows < 64 ? (rows > 0 ? rows : 1) : 64;
  const int64_t chunks = rows > 0 ? (rows + chunk - 1) / chunk : 0;
  float* partial = calloc((size_t)(chunks > 0 ? chunks : 1) * 2 * (size_t)h, sizeof(float));
  if (!partial) {
    napi_throw_error(env, NULL, "convbert_blas.layernorm_grad: out of memory");
    return NULL;
  }
  ln_ctx k = {.dy = F32(&a, a.v[0]), .x = F32(&a, a.v[1]), .gamma = F32(&a, a.v[2]), .mean = F32(&a, a.v[3]), .rstd = F32(&a, a.v[4]),
              .dx = F32(&a, a.v[5]), .partial = partial, .h = h, .chunk = chunk};
  k.rows = rows;
  pool_run(chunks, 1, layernorm_grad_chunks, &k);
  float *dgamma = F32(&a, a.v[6]), *dbeta = F32(&a, a.v[7]);
  for (int64_t j = 0; j < h; j++) dgamma[j] = dbeta[j] = 0;
  for (int64_t c = 0; c < chunks; c++)
    for (int64_t j = 0; j < h; j++) {
      dgamma[j] += partial[c * 2 * h + j];
      dbeta[j] += partial[c * 2 * h + h + j];
    }
  free(partial);
  return NULL;
}

/* ---- Data movement (32-bit elements, any shape) ---- */
typedef struct { const uint8_t* src; uint8_t* dst; int64_t rows, cols, a, b, n, ss, ds, run; } move_ctx;

/* dst[b, c, r] = src[b, r, c]: over (matrix, 32-row band) pairs, 32×32 tiles inside. */
HOT static void transpose_range(void* c, int64_t b, int64_t e) {
  const move_ctx* k = c;
  const int64_t bands = (k->rows + 31) / 32, mat = k->rows * k->cols;
  for (int64_t t = b; t < e; t++) {
    const int64_t m = t / bands, r0 = (t % bands) * 32, r1 = r0 + 32 < k->rows ? r0 + 32 : k->rows;
    const float* s = (const float*)k->src + m * mat;
    float* d = (float*)k->dst + m * mat;
    const int64_t R = k->rows, C = k->cols;
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
      const int64_t c1 = c0 + 32 < C ? c0 + 32 : C;
      if (r1 - r0 == 32) {
        for (int64_t cc = c0; cc < c1; cc++) {
          float* restrict dd = d + cc * R + r0;
          const float* ss = s + r0 * C + cc;
          for (int r = 0; r < 32; r++) dd[r] = ss[r * C];
        }
      } else {
        for (int64_t cc = c0; cc < c1; cc++)
          for (int64_t r = r0; r < r1; r++) d[cc * R + r] = s[r * C + cc];
      }
    }
  }
}

static napi_value transpose(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "transpose";
  if (!kargs_read(env, info, nm, "ppiii", &a)) return NULL;
  const int64_t batch = a.v[2], rows = a.v[3], cols = a.v[4];
  int64_t size_;
  if (!kargs_product(env, nm, rows, cols, &size_) || !kargs_product(env, nm, size_, batch, &size_)) return NULL;
  const int64_t n = batch * rows * cols;
  if (!kargs_inside(env, nm, &a, a.v[0], n) || !kargs_inside(env, nm, &a, a.v[1], n)) return NULL;
  if (n == 0) return NULL;
  move_ctx k = {.src = a.heap + a.v[0], .dst = a.heap + a.v[1], .rows = rows, .cols = cols};
  pool_run(batch * ((rows + 31) / 32), (GRAIN / (32 * cols)) + 1, transpose_range, &k);
  return NULL;
}

/* dst[m, b, a, :] = src[m, a, b, :] for src [batch, A, B, n]: over (m, a, b) triples. */
static void swap_range(void* c, int64_t b, int64_t e) {
  const move_ctx* k = c;
  const int64_t per = k->a * k->b;
  for (int64_t t = b; t < e; t++) {
    const int64_t m = t / per, ia = (t % per) / k->b, ib = t % k->b;
    memcpy(k->dst + (m * per + ib * k->a + ia) * k->run, k->src + t * k->run, (size_t)k->run);
  }
}

static napi_value swap_batch(napi_env env, napi_callback_info info, const char* nm, bool batched) {
  kargs a;
  if (!kargs_read(env, info, nm, batched ? "ppiiii" : "ppiii", &a)) return NULL;
  const int64_t M = batched ? a.v[2] : 1, A = a.v[batched ? 3 : 2], B = a.v[batched ? 4 : 3], n = a.v[batched ? 5 : 4];
  const int64_t lim = (int64_t)1 << 40;
  if (M > lim || A > lim || B > lim || n > lim || (A * B > 0 && M > lim / (A * B)) || (M * A * B > 0 && n > lim / (M * A * B)))
    return kargs_inside(env, nm, &a, -1, 0), NULL;
  if (!kargs_inside(env, nm, &a, a.v[0], M * A * B * n) || !kargs_inside(env, nm, &a, a.v[1], M * A * B * n)) return NULL;
  move_ctx k = {.src = a.heap + a.v[0], .dst = a.heap + a.v[1], .a = A, .b = B, .run = 4 * n};
  pool_run(M * A * B, GRAIN / (n + 1) + 1, swap_range, &k);
  return NULL;
}

/* swap_leading(heap, src, dst, A, B, n): one [A, B, n] → [B, A, n]; swap_leading_batch(heap, src, dst, batch, A, B, n). */
static napi_value swap_leading(napi_env env, napi_callback_info info) { return swap_batch(env, info, "swap_leading", false); }
static napi_value swap_leading_batch(napi_env env, napi_callback_info info) { return swap_batch(env, info, "swap_leading_batch", true); }

/* dst + r·dstStride ← src + r·srcStride, `run` bytes, for r < rows (strides and run in bytes). */
static void rows_range(void* c, int64_t b, int64_t e) {
  const move_ctx* k = c;
  for (int64_t r = b; r < e; r++) memcpy(k->dst + r * k->ds, k->src + r * k->ss, (size_t)k->run);
}

static napi_value copy_rows(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "copy_rows";
  if (!kargs_read(env, info, nm, "piiiii", &a)) return NULL;
  const int64_t src = a.v[0], ss = a.v[1], dst = a.v[2], ds = a.v[3], rows = a.v[4], run = a.v[5];
  if (rows == 0 || run == 0) return NULL;
  /* the last row's end inside the heap, for both (byte granularity: runs need not be whole floats) */
  if ((ss > 0 && rows - 1 > INT64_MAX / 4 / ss) || (ds > 0 && rows - 1 > INT64_MAX / 4 / ds) || src + (rows - 1) * ss + run > a.bytes ||
      dst + (rows - 1) * ds + run > a.bytes || run > a.bytes)
    return kargs_inside(env, nm, &a, -1, 0), NULL;
  move_ctx k = {.src = a.heap + src, .dst = a.heap + dst, .ss = ss, .ds = ds, .run = run};
  pool_run(rows, (4 * GRAIN) / (run + 1) + 1, rows_range, &k);
  return NULL;
}

/* im2col of one channel group of x [B, T, C] (K taps, `before` zeros of padding first): dst [B·T, K·Cg]. */
typedef struct { const float* x; float* dst; int64_t T, C, Cg, K, before; } im2col_ctx;

static void im2col_range(void* c, int64_t b, int64_t e) {
  const im2col_ctx* k = c;
  for (int64_t row = b; row < e; row++) {
    const int64_t bb = row / k->T, t = row % k->T;
    float* d = k->dst + row * k->K * k->Cg;
    for (int64_t j = 0; j < k->K; j++, d += k->Cg) {
      const int64_t s = t + j - k->before;
      if (s >= 0 && s < k->T) memcpy(d, k->x + (bb * k->T + s) * k->C, (size_t)k->Cg * 4);
      else memset(d, 0, (size_t)k->Cg * 4);
    }
  }
}

static napi_value im2col(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "im2col";
  if (!kargs_read(env, info, nm, "ppiiiiiii", &a)) return NULL;
  const int64_t B = a.v[2], T = a.v[3], C = a.v[4], g = a.v[5], Cg = a.v[6], K = a.v[7], before = a.v[8];
  const int64_t lim = (int64_t)1 << 40;
  if (B > lim || T > lim || C > lim || K > lim || Cg > C || (g + 1) * Cg > C || B * T > lim / (C + 1) || B * T > lim / (K * Cg + 1))
    return kargs_inside(env, nm, &a, -1, 0), NULL;
  if (!kargs_inside(env, nm, &a, a.v[0], B * T * C) || !kargs_inside(env, nm, &a, a.v[1], B * T * K * Cg)) return NULL;
  im2col_ctx k = {.x = F32(&a, a.v[0]) + g * Cg, .dst = F32(&a, a.v[1]), .T = T, .C = C, .Cg = Cg, .K = K, .before = before};
  pool_run(B * T, GRAIN / (K * Cg + 1) + 1, im2col_range, &k);
  return NULL;
}

/* dst[j] = Σ_r src[r, j] for src [rows, cols]: over column blocks, rows in order (the same sums on any thread count). */
typedef struct { const float* src; float* dst; int64_t rows, cols; } sum_ctx;

HOT static void sum_rows_range(void* c, int64_t b, int64_t e) {
  const sum_ctx* k = c;
  const int64_t cols = k->cols;
  for (int64_t blk = b; blk < e; blk++) {
    const int64_t j0 = blk * 64, w = j0 + 64 <= cols ? 64 : cols - j0;
    float acc[64] = {0}; /* kept in registers: the rows stream through once */
    const float* restrict s = k->src + j0;
    if (w == 64) {
      for (int64_t r = 0; r < k->rows; r++, s += cols)
        for (int l = 0; l < 64; l++) acc[l] += s[l];
    } else {
      for (int64_t r = 0; r < k->rows; r++, s += cols)
        for (int64_t l = 0; l < w; l++) acc[l] += s[l];
    }
    for (int64_t l = 0; l < w; l++) k->dst[j0 + l] = acc[l];
  }
}

static napi_value sum_rows(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "sum_rows";
  if (!kargs_read(env, info, nm, "ppii", &a)) return NULL;
  const int64_t rows = a.v[2], cols = a.v[3];
  int64_t size_;
  if (!kargs_product(env, nm, rows, cols, &size_)) return NULL;
  if (!kargs_inside(env, nm, &a, a.v[0], rows * cols) || !kargs_inside(env, nm, &a, a.v[1], cols)) return NULL;
  sum_ctx k = {.src = F32(&a, a.v[0]), .dst = F32(&a, a.v[1]), .rows = rows, .cols = cols};
  pool_run((cols + 63) / 64, GRAIN / (64 * (rows + 1)) + 1, sum_rows_range, &k);
  return NULL;
}

/* One AdamW step (see kernels.wat): g' = s·g; m' = β1·m + (1−β1)·g'; v' = β2·v + (1−β2)·g'²;
 * w' = w − η·(m'/c1 / (√(v'/c2) + ε) + λ·w). */
typedef struct { const float *w, *g, *m, *v; float *w2, *m2, *v2; float lr, b1, nb1, b2, nb2, ic1, ic2, eps, decay, scale; } adamw_ctx;

HOT static void adamw_range(void* c, int64_t b, int64_t e) {
  const adamw_ctx* k = c;
  const float *restrict W = k->w, *restrict G = k->g, *restrict M = k->m, *restrict V = k->v;
  float *restrict W2 = k->w2, *restrict M2 = k->m2, *restrict V2 = k->v2;
  const float lr = k->lr, b1 = k->b1, nb1 = k->nb1, b2 = k->b2, nb2 = k->nb2, ic1 = k->ic1, ic2 = k->ic2, eps = k->eps, decay = k->decay,
              scale = k->scale;
  for (int64_t i = b; i < e; i++) {
    const float g = G[i] * scale;
    const float m = M[i] * b1 + g * nb1;
    const float v = V[i] * b2 + (g * g) * nb2;
    const float w = W[i];
    M2[i] = m;
    V2[i] = v;
    W2[i] = w - lr * ((m * ic1) / (sqrtf(v * ic2) + eps) + decay * w);
  }
}

static napi_value adamw(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "adamw";
  if (!kargs_read(env, info, nm, "pppppppiffffffff", &a)) return NULL;
  const int64_t n = a.v[7];
  for (int i = 0; i < 7; i++)
    if (!kargs_inside(env, nm, &a, a.v[i], n)) return NULL;
  const float b1 = (float)a.f[9], b2 = (float)a.f[10];
  adamw_ctx k = {.w = F32(&a, a.v[0]), .g = F32(&a, a.v[1]), .m = F32(&a, a.v[2]), .v = F32(&a, a.v[3]), .w2 = F32(&a, a.v[4]),
                 .m2 = F32(&a, a.v[5]), .v2 = F32(&a, a.v[6]), .lr = (float)a.f[8], .b1 = b1, .nb1 = 1.0f - b1, .b2 = b2, .nb2 = 1.0f - b2,
                 .ic1 = 1.0f / (float)a.f[12], .ic2 = 1.0f / (float)a.f[13], .eps = (float)a.f[11], .decay = (float)a.f[14], .scale = (float)a.f[15]};
  pool_run(n, GRAIN, adamw_range, &k);
  return NULL;
}

void define_fused(napi_env env, napi_value exports) {
  EXPORT(env, exports, "gelu", gelu);
  EXPORT(env, exports, "gelu_grad", gelu_grad);
  EXPORT(env, exports, "layernorm", layernorm);
  EXPORT(env, exports, "layernorm_grad", layernorm_grad);
  EXPORT(env, exports, "transpose", transpose);
  EXPORT(env, exports, "swap_leading", swap_leading);
  EXPORT(env, exports, "swap_leading_batch", swap_leading_batch);
  EXPORT(env, exports, "copy_rows", copy_rows);
  EXPORT(env, exports, "im2col", im2col);
  EXPORT(env, exports, "sum_rows", sum_rows);
  EXPORT(env, exports, "adamw", adamw);
}
