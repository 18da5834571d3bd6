/*
 * ConvBERT Studio's native CPU kernels: matrix products on a real BLAS (OpenBLAS on Linux, Accelerate on macOS), run
 * in place on TF.js's wasm heap. The wasm backend keeps every tensor in one WebAssembly.Memory; JavaScript hands this
 * addon a view of that memory and byte offsets, and sgemm reads and writes the tensors where they are: no copies.
 * Built by scripts/build-native.mjs (plain C, Node-API from the npm package node-api-headers). Used by the `blas`
 * backend of the TF.js engine (src/engines/tfjs/backends/blas/).
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#ifdef __APPLE__
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#define CHECK(call)                                                                 \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      napi_throw_error(env, NULL, "convbert_blas: a Node-API call failed: " #call); \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

static int64_t int_arg(napi_env env, napi_value v, int* ok) {
  int64_t out = 0;
  if (napi_get_value_int64(env, v, &out) != napi_ok) *ok = 0;
  return out;
}

/*
 * sgemm(heap, a, b, c, batch, m, n, k, transA, transB, strideA, strideB)
 *   heap: a Uint8Array over the whole wasm memory; a, b, c: byte offsets of row-major float32 matrices;
 *   C[i] = op(A[i]) · op(B[i]) for i < batch, A[i] at a + i·strideA (elements; 0 broadcasts one matrix), likewise B;
 *   C[i] at c + i·m·n. op(A) is m×k, op(B) is k×n.
 */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12) {
    napi_throw_type_error(env, NULL, "convbert_blas.sgemm: expected 12 arguments");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = NULL;
  napi_value buffer;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "convbert_blas.sgemm: the heap must be a Uint8Array");
    return NULL;
  }
  int ok = 1;
  int64_t a = int_arg(env, argv[1], &ok), b = int_arg(env, argv[2], &ok), c = int_arg(env, argv[3], &ok);
  int64_t batch = int_arg(env, argv[4], &ok), m = int_arg(env, argv[5], &ok), n = int_arg(env, argv[6], &ok), k = int_arg(env, argv[7], &ok);
  bool ta = false, tb = false;
  if (napi_get_value_bool(env, argv[8], &ta) != napi_ok || napi_get_value_bool(env, argv[9], &tb) != napi_ok) ok = 0;
  int64_t sa = int_arg(env, argv[10], &ok), sb = int_arg(env, argv[11], &ok);
  if (!ok || batch < 0 || m < 0 || n < 0 || k < 0 || sa < 0 || sb < 0 || a < 0 || b < 0 || c < 0 || (a | b | c) % 4 != 0) {
    napi_throw_range_error(env, NULL, "convbert_blas.sgemm: offsets, sizes and strides must be whole numbers >= 0, offsets multiples of 4");
    return NULL;
  }
  /* Every matrix must lie inside the heap: an untrusted caller cannot make this read or write out of bounds. */
  const int64_t bytes = (int64_t)length;
  const int64_t lastA = batch > 0 ? a + 4 * ((batch - 1) * sa + m * k) : a;
  const int64_t lastB = batch > 0 ? b + 4 * ((batch - 1) * sb + k * n) : b;
  const int64_t lastC = c + 4 * batch * m * n;
  if (lastA > bytes || lastB > bytes || lastC > bytes) {
    napi_throw_range_error(env, NULL, "convbert_blas.sgemm: a matrix lies outside the heap");
    return NULL;
  }
  uint8_t* heap = (uint8_t*)data;
  float* C = (float*)(heap + c);
  if (m == 0 || n == 0 || batch == 0) return NULL;
  if (k == 0) {
    memset(C, 0, (size_t)(batch * m * n) * sizeof(float));
    return NULL;
  }
  const int lda = ta ? (int)m : (int)k;
  const int ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    const float* A = (const float*)(heap + a) + i * sa;
    const float* B = (const float*)(heap + b) + i * sb;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, A, lda, B, ldb, 0.0f,
                C + i * m * n, (int)n);
  }
  return NULL;
}

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

/* threads(n?): sets (n > 0) and returns the BLAS's thread count (1 under Accelerate: it manages its own). */
static napi_value threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int n = 1;
#ifndef __APPLE__
  extern void openblas_set_num_threads(int);
  extern int openblas_get_num_threads(void);
  if (argc == 1) {
    int32_t want = 0;
    if (napi_get_value_int32(env, argv[0], &want) == napi_ok && want > 0) openblas_set_num_threads(want);
  }
  n = openblas_get_num_threads();
#endif
  napi_value out;
  CHECK(napi_create_int32(env, n, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"config", NULL, config, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, threads, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
