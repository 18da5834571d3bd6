/*
 * The module convbert_blas: matrix products on the system's BLAS (blas.c), the element-wise and fused kernels
 * (fused.c, elementwise.c, random.c, conv.c) on a thread pool (pool.c), all reading and writing TF.js's wasm heap in place.
 */
#include "convbert.h"

/* config(): what BLAS this is, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64". */
static napi_value config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
#ifdef __APPLE__
  CHECK(napi_create_string_utf8(env, "Accelerate", NAPI_AUTO_LENGTH, &out));
#else
  extern char* openblas_get_config(void);
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &out));
#endif
  return out;
}

static int32_t optional_count(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t want = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1) napi_get_value_int32(env, argv[0], &want);
  return want;
}

/* threads(n?): sets (n > 0) and returns the BLAS's own thread count: 1, since the products are split over the pool. */
static napi_value threads(napi_env env, napi_callback_info info) {
  int n = 1;
  const int32_t want = optional_count(env, info);
#ifndef __APPLE__
  extern void openblas_set_num_threads(int);
  extern int openblas_get_num_threads(void);
  if (want > 0) openblas_set_num_threads(want);
  n = openblas_get_num_threads();
#else
  (void)want;
#endif
  napi_value out;
  CHECK(napi_create_int32(env, n, &out));
  return out;
}

/* kernel_threads(n?): sets (n > 0) and returns the element-wise kernels' thread count (the pool's, caller included). */
static napi_value kernel_threads(napi_env env, napi_callback_info info) {
  const int32_t want = optional_count(env, info);
  if (want > 0) pool_set_threads(want);
  napi_value out;
  CHECK(napi_create_int32(env, pool_threads(), &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  define_blas(env, exports);
  define_fused(env, exports);
  define_elementwise(env, exports);
  define_random(env, exports);
  define_conv(env, exports);
  EXPORT(env, exports, "config", config);
  EXPORT(env, exports, "threads", threads);
  EXPORT(env, exports, "kernel_threads", kernel_threads);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
