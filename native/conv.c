/*
 * GroupBERT's grouped 1-D convolution, directly (no im2col buffer, no group transposes), on the wasm heap:
 *   y[b, t, g·Co + o] = Σ_k Σ_i w[g, k·Ci + i, o] · x[b, t + k − before, g·Ci + i]   (zeros outside 0 … T−1)
 * and its filter gradient dw[g, k·Ci + i, o] = Σ_{b,t} x[b, t + k − before, g·Ci + i] · dy[b, t, g·Co + o]. The input
 * gradient is the forward one with the kernel flipped (core/ops/grouped.ts). Layouts as core/ops/grouped.ts's
 * `groupedConv1d` (the kernel in its im2col layout). Output channels are the vector lanes (16 at a time).
 */
#include <stdio.h>
#include <string.h>
#include "convbert.h"

typedef struct { const float *x, *w, *dy; float* out; int64_t B, T, G, Ci, Co, K, before; } conv_ctx;

typedef float v16 __attribute__((vector_size(64), aligned(4))); /* 16 floats, any 4-byte alignment */

/* y rows r0 … r1 − 1 (r = b·T + t), 16 output channels of group g from o0 (Co − o0 ≥ 16), four rows at a time so
 * each weight vector loaded feeds four FMAs */
HOT static void conv_rows16(const conv_ctx* k, int64_t r0, int64_t r1, int64_t g, int64_t o0) {
  const int64_t T = k->T, G = k->G, Ci = k->Ci, Co = k->Co, K = k->K, C = G * Ci;
  for (int64_t r = r0; r < r1; r += 4) {
    const int64_t nr = r1 - r < 4 ? r1 - r : 4;
    v16 acc[4] = {{0}, {0}, {0}, {0}};
    for (int64_t j = 0; j < K; j++) {
      const float* xs[4] = {NULL, NULL, NULL, NULL};
      for (int64_t q = 0; q < nr; q++) {
        const int64_t b = (r + q) / T, s = (r + q) % T + j - k->before;
        if (s >= 0 && s < T) xs[q] = k->x + (b * T + s) * C + g * Ci;
      }
      const float* ws = k->w + ((g * K + j) * Ci) * Co + o0;
      for (int64_t i = 0; i < Ci; i++) {
        const v16 w = *(const v16*)(ws + i * Co);
        for (int q = 0; q < 4; q++)
          if (xs[q]) acc[q] += xs[q][i] * w;
      }
    }
    for (int64_t q = 0; q < nr; q++) *(v16*)(k->out + (r + q) * G * Co + g * Co + o0) = acc[q];
  }
}

/* rows r = b·T + t of y */
HOT static void conv_range(void* c, int64_t r0, int64_t r1) {
  const conv_ctx* k = c;
  const int64_t T = k->T, G = k->G, Ci = k->Ci, Co = k->Co, K = k->K, C = G * Ci;
  for (int64_t g = 0; g < G; g++) {
    int64_t o0 = 0;
    for (; o0 + 16 <= Co; o0 += 16) conv_rows16(k, r0, r1, g, o0);
    if (o0 == Co) continue;
    for (int64_t r = r0; r < r1; r++) { /* the last Co mod 16 channels */
      const int64_t b = r / T, t = r % T;
      float* restrict y = k->out + r * G * Co + g * Co;
      for (int64_t o = o0; o < Co; o++) y[o] = 0;
      for (int64_t j = 0; j < K; j++) {
        const int64_t s = t + j - k->before;
        if (s < 0 || s >= T) continue;
        const float* restrict xs = k->x + (b * T + s) * C + g * Ci;
        const float* restrict ws = k->w + ((g * K + j) * Ci) * Co;
        for (int64_t i = 0; i < Ci; i++)
          for (int64_t o = o0; o < Co; o++) y[o] += xs[i] * ws[i * Co + o];
      }
    }
  }
}

/* groups g: dw[g] summed over every (b, t) in order, so the result does not depend on the thread count; per tap and
 * four input channels at a time, accumulators kept in registers over all rows */
HOT static void conv_filter_range(void* c, int64_t g0, int64_t g1) {
  const conv_ctx* k = c;
  const int64_t B = k->B, T = k->T, G = k->G, Ci = k->Ci, Co = k->Co, K = k->K, C = G * Ci;
  for (int64_t g = g0; g < g1; g++) {
    float* restrict dw = k->out + g * K * Ci * Co;
    if (Co % 16 != 0) {
      memset(dw, 0, (size_t)(K * Ci * Co) * sizeof(float));
      for (int64_t r = 0; r < B * T; r++) {
        const int64_t b = r / T, t = r % T;
        const float* restrict dy = k->dy + r * G * Co + g * Co;
        for (int64_t j = 0; j < K; j++) {
          const int64_t s = t + j - k->before;
          if (s < 0 || s >= T) continue;
          const float* restrict xs = k->x + (b * T + s) * C + g * Ci;
          float* restrict d = dw + j * Ci * Co;
          for (int64_t i = 0; i < Ci; i++)
            for (int64_t o = 0; o < Co; o++) d[i * Co + o] += xs[i] * dy[o];
        }
      }
      continue;
    }
    for (int64_t j = 0; j < K; j++)
      for (int64_t o0 = 0; o0 < Co; o0 += 16)
        for (int64_t i0 = 0; i0 < Ci; i0 += 4) {
          const int64_t ni = Ci - i0 < 4 ? Ci - i0 : 4;
          v16 acc[4] = {{0}, {0}, {0}, {0}};
          for (int64_t b = 0; b < B; b++) {
            /* t such that s = t + j − before lies in 0 … T−1 */
            const int64_t t0 = k->before - j > 0 ? k->before - j : 0, t1 = T + k->before - j < T ? T + k->before - j : T;
            for (int64_t t = t0; t < t1; t++) {
              const v16 d = *(const v16*)(k->dy + (b * T + t) * G * Co + g * Co + o0);
              const float* xs = k->x + (b * T + t + j - k->before) * C + g * Ci + i0;
              for (int q = 0; q < 4; q++)
                if (q < ni) acc[q] += xs[q] * d;
            }
          }
          for (int64_t q = 0; q < ni; q++) *(v16*)(dw + (j * Ci + i0 + q) * Co + o0) = acc[q];
        }
  }
}

static bool conv_args(napi_env env, napi_callback_info info, const char* nm, kargs* a, conv_ctx* k) {
  if (!kargs_read(env, info, nm, "pppiiiiiii", a)) return false;
  const int64_t B = a->v[3], T = a->v[4], G = a->v[5], Ci = a->v[6], Co = a->v[7], K = a->v[8], before = a->v[9];
  const int64_t lim = (int64_t)1 << 24;
  if (B > lim || T > lim || G > lim || Ci > lim || Co > lim || K > lim || before > lim || B * T > lim * 16 || G * Ci > lim || G * Co > lim ||
      K * Ci * Co > lim * 16) {
    char msg[96];
    snprintf(msg, sizeof msg, "convbert_blas.%s: sizes out of range", nm);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  *k = (conv_ctx){.B = B, .T = T, .G = G, .Ci = Ci, .Co = Co, .K = K, .before = before};
  return true;
}

/*
 * conv1d_grouped(heap, x, w, y, B, T, G, Ci, Co, K, before): x [B, T, G·Ci], w [G, K·Ci, Co] → y [B, T, G·Co];
 * conv1d_grouped_filter(heap, x, dy, dw, B, T, G, Ci, Co, K, before): x, dy [B, T, G·Co] → dw [G, K·Ci, Co].
 */
static napi_value conv_entry(napi_env env, napi_callback_info info, bool filter) {
  kargs a;
  conv_ctx k;
  const char* nm = filter ? "conv1d_grouped_filter" : "conv1d_grouped";
  if (!conv_args(env, info, nm, &a, &k)) return NULL;
  const int64_t xs = k.B * k.T * k.G * k.Ci, ws = k.G * k.K * k.Ci * k.Co, ys = k.B * k.T * k.G * k.Co;
  if (!kargs_inside(env, nm, &a, a.v[0], xs) || !kargs_inside(env, nm, &a, a.v[1], filter ? ys : ws) || !kargs_inside(env, nm, &a, a.v[2], filter ? ws : ys))
    return NULL;
  k.x = F32(&a, a.v[0]);
  k.out = F32(&a, a.v[2]);
  if (filter) {
    k.dy = F32(&a, a.v[1]);
    pool_run(k.G, 1, conv_filter_range, &k);
  } else {
    k.w = F32(&a, a.v[1]);
    pool_run(k.B * k.T, 8, conv_range, &k);
  }
  return NULL;
}

static napi_value conv1d_grouped(napi_env env, napi_callback_info info) { return conv_entry(env, info, false); }
static napi_value conv1d_grouped_filter(napi_env env, napi_callback_info info) { return conv_entry(env, info, true); }

void define_conv(napi_env env, napi_value exports) {
  EXPORT(env, exports, "conv1d_grouped", conv1d_grouped);
  EXPORT(env, exports, "conv1d_grouped_filter", conv1d_grouped_filter);
}
