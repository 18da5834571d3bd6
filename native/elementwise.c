/*
 * Element-wise kernels for TF.js's stock kernels on the wasm heap: the four arithmetic binary ops over the broadcast
 * patterns a model makes (same shape, a bias along the last axes, one value per row, a scalar), the unary ops the
 * training step uses, and a row softmax. Vectorised for the CPU and split over the pool's threads.
 */
#include <math.h>
#include "convbert.h"

#define GRAIN 16384

/* ---- binary: out[o, i] = a[o·sa_o + i·sa_i] op b[o·sb_o + i·sb_i] over outer × inner ---- */
enum { ADD, SUB, MUL, DIV };
/* operand patterns: FULL (o·inner + i), BIAS (i), ROW (o), SCALAR (0) */
enum { FULL, BIAS, ROW, SCALAR };

typedef struct { const float *a, *b; float* out; int64_t outer, inner; int op, pa, pb; } bin_ctx;

#define LOOP(EXPA, EXPB)                                                       \
  switch (k->op) {                                                             \
    case ADD: for (int64_t i = 0; i < n; i++) o[i] = (EXPA) + (EXPB); break;   \
    case SUB: for (int64_t i = 0; i < n; i++) o[i] = (EXPA) - (EXPB); break;   \
    case MUL: for (int64_t i = 0; i < n; i++) o[i] = (EXPA) * (EXPB); break;   \
    default: for (int64_t i = 0; i < n; i++) o[i] = (EXPA) / (EXPB); break;    \
  }

/* over flat element ranges [b, e) of the output, split into runs within one outer row */
HOT static void binary_range(void* c, int64_t b, int64_t e) {
  const bin_ctx* k = c;
  const int64_t inner = k->inner;
  while (b < e) {
    const int64_t row = b / inner, i0 = b % inner;
    const int64_t n = (e - b) < (inner - i0) ? (e - b) : (inner - i0);
    float* restrict o = k->out + b;
    const float* restrict a = k->pa == FULL ? k->a + b : k->pa == BIAS ? k->a + i0 : k->pa == ROW ? k->a + row : k->a;
    const float* restrict bb = k->pb == FULL ? k->b + b : k->pb == BIAS ? k->b + i0 : k->pb == ROW ? k->b + row : k->b;
    const bool va = k->pa <= BIAS, vb = k->pb <= BIAS; /* varies along the run */
    if (va && vb) {
      LOOP(a[i], bb[i])
    } else if (va) {
      const float s = bb[0];
      LOOP(a[i], s)
    } else if (vb) {
      const float s = a[0];
      LOOP(s, bb[i])
    } else {
      const float s = a[0], t = bb[0];
      LOOP(s, t)
    }
    b += n;
  }
}

static int64_t extent(int p, int64_t outer, int64_t inner) { return p == FULL ? outer * inner : p == BIAS ? inner : p == ROW ? outer : 1; }

/* binary(heap, op, a, patternA, b, patternB, out, outer, inner) */
static napi_value binary(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "binary";
  if (!kargs_read(env, info, nm, "ipipipii", &a)) return NULL;
  const int64_t op = a.v[0], pa = a.v[2], pb = a.v[4], outer = a.v[6], inner = a.v[7];
  int64_t size_;
  if (!kargs_product(env, nm, outer, inner, &size_)) return NULL;
  if (op > DIV || pa > SCALAR || pb > SCALAR) {
    napi_throw_range_error(env, NULL, "convbert_blas.binary: unknown op or operand pattern");
    return NULL;
  }
  if (!kargs_inside(env, nm, &a, a.v[1], extent((int)pa, outer, inner)) || !kargs_inside(env, nm, &a, a.v[3], extent((int)pb, outer, inner)) ||
      !kargs_inside(env, nm, &a, a.v[5], outer * inner))
    return NULL;
  if (outer * inner == 0) return NULL;
  bin_ctx k = {.a = F32(&a, a.v[1]), .b = F32(&a, a.v[3]), .out = F32(&a, a.v[5]), .outer = outer, .inner = inner, .op = (int)op, .pa = (int)pa, .pb = (int)pb};
  pool_run(outer * inner, GRAIN, binary_range, &k);
  return NULL;
}

/* ---- unary ---- */
enum { NEG, SQUARE, SIGMOID, EXP, SQRT, RSQRT, RECIPROCAL, RELU, LOG };
typedef struct { const float* x; float* y; int op; } un_ctx;

HOT static void unary_range(void* c, int64_t b, int64_t e) {
  const un_ctx* k = c;
  const float* restrict x = k->x;
  float* restrict y = k->y;
  switch (k->op) {
    case NEG: for (int64_t i = b; i < e; i++) y[i] = -x[i]; break;
    case SQUARE: for (int64_t i = b; i < e; i++) y[i] = x[i] * x[i]; break;
    case SIGMOID: for (int64_t i = b; i < e; i++) y[i] = 1.0f / (1.0f + exp_poly(-x[i])); break;
    case EXP: for (int64_t i = b; i < e; i++) y[i] = x[i] > 88.72f ? INFINITY : x[i] < -87.3f ? 0.0f : exp_poly(x[i]); break;
    case SQRT: for (int64_t i = b; i < e; i++) y[i] = sqrtf(x[i]); break;
    case RSQRT: for (int64_t i = b; i < e; i++) y[i] = 1.0f / sqrtf(x[i]); break;
    case RECIPROCAL: for (int64_t i = b; i < e; i++) y[i] = 1.0f / x[i]; break;
    case RELU: for (int64_t i = b; i < e; i++) y[i] = x[i] <= 0.0f ? 0.0f : x[i]; break; /* NaN stays NaN */
    default: for (int64_t i = b; i < e; i++) y[i] = logf(x[i]); break;
  }
}

/* unary(heap, op, x, y, n) */
static napi_value unary(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "unary";
  if (!kargs_read(env, info, nm, "ippi", &a)) return NULL;
  const int64_t op = a.v[0], n = a.v[3];
  if (op > LOG) {
    napi_throw_range_error(env, NULL, "convbert_blas.unary: unknown op");
    return NULL;
  }
  if (!kargs_inside(env, nm, &a, a.v[1], n) || !kargs_inside(env, nm, &a, a.v[2], n)) return NULL;
  un_ctx k = {.x = F32(&a, a.v[1]), .y = F32(&a, a.v[2]), .op = (int)op};
  pool_run(n, GRAIN, unary_range, &k);
  return NULL;
}

/* ---- softmax over rows of h: y = e^(x − max) / Σ ---- */
typedef struct { const float* x; float* y; int64_t h; } sm_ctx;

HOT static void softmax_range(void* c, int64_t b, int64_t e) {
  const sm_ctx* k = c;
  const int64_t h = k->h;
  for (int64_t r = b; r < e; r++) {
    const float* x = k->x + r * h;
    float* y = k->y + r * h;
    float mx = -INFINITY;
    for (int64_t j = 0; j < h; j++) mx = x[j] > mx ? x[j] : mx;
    float acc[16] = {0}, s = 0;
    int64_t j = 0;
    for (; j + 16 <= h; j += 16)
      for (int l = 0; l < 16; l++) acc[l] += (y[j + l] = exp_poly(x[j + l] - mx));
    for (; j < h; j++) s += (y[j] = exp_poly(x[j] - mx));
    for (int l = 0; l < 16; l++) s += acc[l];
    const float inv = 1.0f / s;
    for (j = 0; j < h; j++) y[j] *= inv;
  }
}

/* softmax(heap, x, y, rows, h) */
static napi_value softmax(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "softmax";
  if (!kargs_read(env, info, nm, "ppii", &a)) return NULL;
  const int64_t rows = a.v[2], h = a.v[3];
  int64_t size_;
  if (!kargs_product(env, nm, rows, h, &size_)) return NULL;
  if (!kargs_inside(env, nm, &a, a.v[0], rows * h) || !kargs_inside(env, nm, &a, a.v[1], rows * h)) return NULL;
  if (h == 0) return NULL;
  sm_ctx k = {.x = F32(&a, a.v[0]), .y = F32(&a, a.v[1]), .h = h};
  pool_run(rows, GRAIN / h + 1, softmax_range, &k);
  return NULL;
}


/* ---- Σ x² over many tensors (the gradient norm): fixed chunks summed in order, so any thread count gives the
 * same value; float lanes within a chunk, double across chunks. ---- */
#include <stdlib.h>
#define SQ_CHUNK 16384
typedef struct { const float* x; int64_t n; double* partial; } sq_ctx;

HOT static void squares_range(void* c, int64_t b, int64_t e) {
  const sq_ctx* k = c;
  for (int64_t ch = b; ch < e; ch++) {
    const int64_t i0 = ch * SQ_CHUNK, i1 = i0 + SQ_CHUNK < k->n ? i0 + SQ_CHUNK : k->n;
    const float* restrict x = k->x;
    float acc[16] = {0};
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16)
      for (int l = 0; l < 16; l++) acc[l] += x[i + l] * x[i + l];
    double s = 0;
    for (; i < i1; i++) s += (double)x[i] * x[i];
    for (int l = 0; l < 16; l++) s += acc[l];
    k->partial[ch] = s;
  }
}

/* sum_squares(heap, offsets: Float64Array, counts: Float64Array) → Σ over the tensors of Σ x² (a number) */
static napi_value sum_squares(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  const char* nm = "sum_squares";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    napi_throw_type_error(env, NULL, "convbert_blas.sum_squares: expected 3 arguments");
    return NULL;
  }
  kargs a = {0};
  napi_typedarray_type type;
  size_t len[3] = {0}, offset = 0;
  void* data[3] = {0};
  napi_value buffer;
  for (int i = 0; i < 3; i++) {
    if (napi_get_typedarray_info(env, argv[i], &type, &len[i], &data[i], &buffer, &offset) != napi_ok || type != (i == 0 ? napi_uint8_array : napi_float64_array)) {
      napi_throw_type_error(env, NULL, "convbert_blas.sum_squares: expected (Uint8Array heap, Float64Array offsets, Float64Array counts)");
      return NULL;
    }
  }
  if (len[1] != len[2]) {
    napi_throw_range_error(env, NULL, "convbert_blas.sum_squares: as many offsets as counts");
    return NULL;
  }
  a.heap = data[0];
  a.bytes = (int64_t)len[0];
  const double *offs = data[1], *counts = data[2];
  double total = 0;
  for (size_t t = 0; t < len[1]; t++) {
    const double o = offs[t], n = counts[t];
    if (o != (double)(int64_t)o || n != (double)(int64_t)n || o < 0 || n < 0 || (int64_t)o % 4 != 0 || n > 9e15) {
      napi_throw_range_error(env, NULL, "convbert_blas.sum_squares: offsets and counts must be whole numbers >= 0, offsets multiples of 4");
      return NULL;
    }
    if (!kargs_inside(env, nm, &a, (int64_t)o, (int64_t)n)) return NULL;
  }
  for (size_t t = 0; t < len[1]; t++) {
    const int64_t n = (int64_t)counts[t];
    if (n == 0) continue;
    const int64_t chunks = (n + SQ_CHUNK - 1) / SQ_CHUNK;
    double one = 0;
    double* partial = chunks == 1 ? &one : malloc((size_t)chunks * sizeof(double));
    if (!partial) {
      napi_throw_error(env, NULL, "convbert_blas.sum_squares: out of memory");
      return NULL;
    }
    sq_ctx k = {.x = F32(&a, (int64_t)offs[t]), .n = n, .partial = partial};
    pool_run(chunks, 1, squares_range, &k);
    for (int64_t c = 0; c < chunks; c++) total += partial[c];
    if (partial != &one) free(partial);
  }
  napi_value out;
  CHECK(napi_create_double(env, total, &out));
  return out;
}

/* ---- Swish x·σ(x) and GLU v·σ(g) over the two halves of each row, with their gradients ---- */
typedef struct { const float *x, *dy; float *y, *dx; int64_t h; } act_ctx;
static inline float sigmoidf_poly(float x) { return 1.0f / (1.0f + exp_poly(-x)); }

HOT static void swish_range(void* c, int64_t b, int64_t e) {
  const act_ctx* k = c;
  const float* restrict x = k->x;
  float* restrict y = k->y;
  for (int64_t i = b; i < e; i++) y[i] = x[i] * sigmoidf_poly(x[i]);
}

/* d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))) */
HOT static void swish_grad_range(void* c, int64_t b, int64_t e) {
  const act_ctx* k = c;
  const float *restrict x = k->x, *restrict dy = k->dy;
  float* restrict dx = k->dx;
  for (int64_t i = b; i < e; i++) {
    const float s = sigmoidf_poly(x[i]);
    dx[i] = dy[i] * (s * (1.0f + x[i] * (1.0f - s)));
  }
}

/* rows of y [rows, 2h]: out[r, j] = y[r, j]·σ(y[r, h + j]) */
HOT static void glu_range(void* c, int64_t b, int64_t e) {
  const act_ctx* k = c;
  const int64_t h = k->h;
  for (int64_t r = b; r < e; r++) {
    const float *restrict v = k->x + r * 2 * h, *restrict g = v + h;
    float* restrict o = k->y + r * h;
    for (int64_t j = 0; j < h; j++) o[j] = v[j] * sigmoidf_poly(g[j]);
  }
}

/* d[r, j] = dy·σ(g), d[r, h + j] = dy·v·σ(g)·(1 − σ(g)) */
HOT static void glu_grad_range(void* c, int64_t b, int64_t e) {
  const act_ctx* k = c;
  const int64_t h = k->h;
  for (int64_t r = b; r < e; r++) {
    const float *restrict v = k->x + r * 2 * h, *restrict g = v + h, *restrict dy = k->dy + r * h;
    float *restrict dv = k->dx + r * 2 * h, *restrict dg = dv + h;
    for (int64_t j = 0; j < h; j++) {
      const float s = sigmoidf_poly(g[j]);
      dv[j] = dy[j] * s;
      dg[j] = dy[j] * v[j] * (s * (1.0f - s));
    }
  }
}

/* swish(heap, x, y, n) */
static napi_value swish(napi_env env, napi_callback_info info) {
  kargs a;
  if (!kargs_read(env, info, "swish", "ppi", &a)) return NULL;
  if (!kargs_inside(env, "swish", &a, a.v[0], a.v[2]) || !kargs_inside(env, "swish", &a, a.v[1], a.v[2])) return NULL;
  act_ctx k = {.x = F32(&a, a.v[0]), .y = F32(&a, a.v[1])};
  pool_run(a.v[2], GRAIN, swish_range, &k);
  return NULL;
}

/* swish_grad(heap, dy, x, dx, n) */
static napi_value swish_grad(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "swish_grad";
  if (!kargs_read(env, info, nm, "pppi", &a)) return NULL;
  for (int i = 0; i < 3; i++)
    if (!kargs_inside(env, nm, &a, a.v[i], a.v[3])) return NULL;
  act_ctx k = {.dy = F32(&a, a.v[0]), .x = F32(&a, a.v[1]), .dx = F32(&a, a.v[2])};
  pool_run(a.v[3], GRAIN, swish_grad_range, &k);
  return NULL;
}

/* glu(heap, y, out, rows, h): y [rows, 2h] → out [rows, h] */
static napi_value glu(napi_env env, napi_callback_info info) {
  kargs a;
  if (!kargs_read(env, info, "glu", "ppii", &a)) return NULL;
  const int64_t rows = a.v[2], h = a.v[3];
  int64_t size_;
  if (!kargs_product(env, "glu", rows, 2 * h, &size_)) return NULL;
  if (!kargs_inside(env, "glu", &a, a.v[0], rows * 2 * h) || !kargs_inside(env, "glu", &a, a.v[1], rows * h)) return NULL;
  if (h == 0) return NULL;
  act_ctx k = {.x = F32(&a, a.v[0]), .y = F32(&a, a.v[1]), .h = h};
  pool_run(rows, GRAIN / h + 1, glu_range, &k);
  return NULL;
}

/* glu_grad(heap, dy, y, dyFull, rows, h): dy [rows, h], y [rows, 2h] → dyFull [rows, 2h] */
static napi_value glu_grad(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "glu_grad";
  if (!kargs_read(env, info, nm, "pppii", &a)) return NULL;
  const int64_t rows = a.v[3], h = a.v[4];
  int64_t size_;
  if (!kargs_product(env, nm, rows, 2 * h, &size_)) return NULL;
  if (!kargs_inside(env, nm, &a, a.v[0], rows * h) || !kargs_inside(env, nm, &a, a.v[1], rows * 2 * h) || !kargs_inside(env, nm, &a, a.v[2], rows * 2 * h)) return NULL;
  if (h == 0) return NULL;
  act_ctx k = {.dy = F32(&a, a.v[0]), .x = F32(&a, a.v[1]), .dx = F32(&a, a.v[2]), .h = h};
  pool_run(rows, GRAIN / h + 1, glu_grad_range, &k);
  return NULL;
}

void define_elementwise(napi_env env, napi_value exports) {
  EXPORT(env, exports, "binary", binary);
  EXPORT(env, exports, "unary", unary);
  EXPORT(env, exports, "softmax", softmax);
  EXPORT(env, exports, "sum_squares", sum_squares);
  EXPORT(env, exports, "swish", swish);
  EXPORT(env, exports, "swish_grad", swish_grad);
  EXPORT(env, exports, "glu", glu);
  EXPORT(env, exports, "glu_grad", glu_grad);
}
