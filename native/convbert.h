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

/* A kernel's arguments: argv[0] is the heap (a Uint8Array over the whole wasm memory), then what `sig` says:
 * 'p' a byte offset (a multiple of 4), 'i' a count (an integer >= 0), 'f' a number, 's' a signed integer. */
typedef struct {
  uint8_t* heap;
  int64_t bytes;
  int64_t v[MAX_ARGS];
  double f[MAX_ARGS];
} kargs;

/* false (with a JS exception pending) when the arguments are not what `sig` says. */
bool kargs_read(napi_env env, napi_callback_info info, const char* name, const char* sig, kargs* a);
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
