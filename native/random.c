/*
 * Dropout's keep mask from a counter-based hash: element i of a mask with seed s keeps when
 * lowbias32(lowbias32(i ^ k1) + k2) < threshold, k1 = lowbias32(s ^ 0x9e3779b9), k2 = lowbias32(k1 + 0x632be5ab),
 * and holds `scale` (1/keep) where kept, 0 elsewhere. The same integers as src/core/random/keep-mask.ts, so every
 * backend draws the same mask from a seed; each element depends on its index alone, so threads split it freely.
 */
#include "convbert.h"

static inline uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

typedef struct { float* out; uint32_t k1, k2, threshold; float scale; bool all; } mask_ctx;

HOT static void mask_range(void* c, int64_t b, int64_t e) {
  const mask_ctx* k = c;
  float* restrict out = k->out;
  const uint32_t k1 = k->k1, k2 = k->k2, threshold = k->threshold;
  const float scale = k->scale;
  if (k->all) {
    for (int64_t i = b; i < e; i++) out[i] = scale;
    return;
  }
  for (int64_t i = b; i < e; i++) {
    const uint32_t h = lowbias32(lowbias32((uint32_t)i ^ k1) + k2);
    out[i] = h < threshold ? scale : 0.0f;
  }
}

/* keep_mask(heap, out, n, seed, threshold, scale): threshold in [0, 2^32] (2^32 keeps everything), n < 2^32 */
static napi_value keep_mask(napi_env env, napi_callback_info info) {
  kargs a;
  const char* nm = "keep_mask";
  if (!kargs_read(env, info, nm, "piiif", &a)) return NULL;
  const int64_t n = a.v[1], seed = a.v[2], threshold = a.v[3];
  if (n > 0xFFFFFFFFLL || seed > 0xFFFFFFFFLL || threshold > 0x100000000LL) {
    napi_throw_range_error(env, NULL, "convbert_blas.keep_mask: n and seed must be below 2^32, the threshold at most 2^32");
    return NULL;
  }
  if (!kargs_inside(env, nm, &a, a.v[0], n)) return NULL;
  const uint32_t k1 = lowbias32((uint32_t)seed ^ 0x9e3779b9U);
  mask_ctx k = {.out = F32(&a, a.v[0]), .k1 = k1, .k2 = lowbias32(k1 + 0x632be5abU), .threshold = (uint32_t)(threshold & 0xFFFFFFFFLL),
                .scale = (float)a.f[4], .all = threshold == 0x100000000LL};
  pool_run(n, 16384, mask_range, &k);
  return NULL;
}

void define_random(napi_env env, napi_value exports) { EXPORT(env, exports, "keep_mask", keep_mask); }
