/*
 * What the native kernels share: reading a kernel's arguments (a view of the wasm heap, then byte offsets, counts and
 * scalars), bounds checks that keep every read and write inside the heap, the thread pool, and the vector-width
 * clones of the hot loops.
 */
#ifndef CONVBERT_H
#define CONVBERT_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* Hot loops are compiled for AVX-512, AVX2 and plain x86-64 and the best one for this CPU is picked at load. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HOT
#endif

#define CHECK(call)                                                                 \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      napi_throw_error(env, NULL, "convbert_blas: a Node-API call failed: " #call); \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

#define MAX_ARGS 24

/* e^w for w in [-87.3, 88.72] (clamped to it): Cody–Waite reduction and Cephes' polynomial
 * (as kernels.wat's $exp4), with 2ⁿ applied as two factors so that n = 128
 * (w up to 88.72, e^w up to 3.4e38, the float maximum) does not overflow the exponent field */
static inline float exp_poly(float w) {
  w = w > 88.72f ? 88.72f : w; /* written so that NaN falls through both and stays NaN */
  w = w < -87.3f ? -87.3f : w;
  const float n = __builtin_rintf(w * 1.44269504f);
  const float r = (w - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t n1 = (int32_t)n >> 1, n2 = (int32_t)n - n1;
  union { int32_t i; float f; } s1 = {.i = (n1 + 127) << 23}, s2 = {.i = (n2 + 127) << 23};
  return p * s1.f * s2.f;
}


/* A kernel's arguments: argv[0] is the heap (a Uint8Array over the whole wasm memory), then what `sig` says:
 * 'p' a byte offset (a multiple of 4), 'i' a count (an integer >= 0), 'f' a number, 's' a signed integer, 'b' a boolean. */
typedef struct {
  uint8_t* heap;
  int64_t bytes;
  int64_t v[MAX_ARGS];
  double f[MAX_ARGS];
} kargs;

/* false (with a JS exception pending) when the arguments are not what `sig` says. */
bool kargs_read(napi_env env, napi_callback_info info, const char* name, const char* sig, kargs* a);
/* x·y into *out, false (with a RangeError pending) when it would overflow. */
bool kargs_product(napi_env env, const char* name, int64_t x, int64_t y, int64_t* out);
/* false (with a RangeError pending) unless `count` float32s at byte offset `off` lie inside the heap. */
bool kargs_inside(napi_env env, const char* name, const kargs* a, int64_t off, int64_t count);
#define F32(a, off) ((float*)((a)->heap + (off)))

/* The thread pool: fn(ctx, begin, end) over [0, n) in chunks of at least `grain`, on the pool's threads and the
 * caller's; returns when all are done. One thread (or n <= grain) runs fn(ctx, 0, n) on the caller. */
typedef void (*range_fn)(void* ctx, int64_t begin, int64_t end);
void pool_run(int64_t n, int64_t grain, range_fn fn, void* ctx);
int pool_threads(void);
void pool_set_threads(int n);

/* Each file's exports. */
void define_blas(napi_env env, napi_value exports);
void define_fused(napi_env env, napi_value exports);
void define_elementwise(napi_env env, napi_value exports);
void define_random(napi_env env, napi_value exports);
void define_conv(napi_env env, napi_value exports);

#define EXPORT(env, exports, name, fn)                                                                  \
  do {                                                                                                  \
    napi_value f_;                                                                                      \
    if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f_) == napi_ok)                    \
      napi_set_named_property(env, exports, name, f_);                                                  \
  } while (0)
#endif
