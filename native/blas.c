/*
 * ConvBERT Studio's native CPU kernels: matrix products on a real BLAS (OpenBLAS on Linux, Accelerate on macOS), run
 * in place on TF.js's wasm heap. The wasm backend keeps every tensor in one WebAssembly.Memory; JavaScript hands this
 * addon a view of that memory and byte offsets, and sgemm reads and writes the tensors where they are: no copies.
 * Built by scripts/build-native.mjs (plain C, Node-API from the npm package node-api-headers) with the element-wise
 * kernels beside it (fused.c, elementwise.c, random.c; addon.c is the module). Used by the `blas` backend of the
 * TF.js engine (src/engines/tfjs/backends/blas/).
 */
#include "convbert.h"
#include <stdint.h>
#include <string.h>
#ifdef __APPLE__
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif



typedef struct {
  const float *A, *B;
  float* C;
  int64_t m, n, k, sa, sb, block, parts;
  bool ta, tb, by_cols;
} gemm_ctx;

/* Tasks [b, e): task t is batch item t / parts, block t % parts of its C (rows, or columns when by_cols). */
static void gemm_range(void* c, int64_t b, int64_t e) {
  const gemm_ctx* g = c;
  const int lda = g->ta ? (int)g->m : (int)g->k;
  const int ldb = g->tb ? (int)g->k : (int)g->n;
  const int64_t extent = g->by_cols ? g->n : g->m;
  for (int64_t t = b; t < e; t++) {
    const int64_t i = t / g->parts, j0 = (t % g->parts) * g->block;
    const int64_t len = j0 + g->block < extent ? g->block : extent - j0;
    if (len <= 0) continue;
    const float* A = g->A + i * g->sa;
    const float* B = g->B + i * g->sb;
    float* C = g->C + i * g->m * g->n;
    const CBLAS_TRANSPOSE ta = g->ta ? CblasTrans : CblasNoTrans, tb = g->tb ? CblasTrans : CblasNoTrans;
    if (g->by_cols) /* columns j0… of op(B): columns of B, or rows of B when it is transposed */
      cblas_sgemm(CblasRowMajor, ta, tb, (int)g->m, (int)len, (int)g->k, 1.0f, A, lda, B + (g->tb ? j0 * g->k : j0), ldb, 0.0f, C + j0, (int)g->n);
    else /* rows j0… of op(A): rows of A, or columns of A when it is transposed */
      cblas_sgemm(CblasRowMajor, ta, tb, (int)len, (int)g->n, (int)g->k, 1.0f, A + (g->ta ? j0 : j0 * g->k), lda, B, ldb, 0.0f, C + j0 * g->n, (int)g->n);
  }
}

/*
 * sgemm(heap, a, b, c, batch, m, n, k, transA, transB, strideA, strideB)
 *   heap: a Uint8Array over the whole wasm memory; a, b, c: byte offsets of row-major float32 matrices;
 *   C[i] = op(A[i]) · op(B[i]) for i < batch, A[i] at a + i·strideA (elements; 0 broadcasts one matrix), likewise B;
 *   C[i] at c + i·m·n. op(A) is m×k, op(B) is k×n.
 */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  kargs x;
  const char* nm = "sgemm";
  if (!kargs_read(env, info, nm, "pppiiiibbii", &x)) return NULL;
  const int64_t a = x.v[0], b = x.v[1], c = x.v[2], batch = x.v[3], m = x.v[4], n = x.v[5], k = x.v[6], sa = x.v[9], sb = x.v[10];
  const bool ta = x.v[7] != 0, tb = x.v[8] != 0;
  /* Every matrix must lie inside the heap: an untrusted caller cannot make this read or write out of bounds. */
  int64_t mk, kn, mn, bmn, ea, eb;
  const int64_t last = batch > 0 ? batch - 1 : 0;
  if (!kargs_product(env, nm, m, k, &mk) || !kargs_product(env, nm, k, n, &kn) || !kargs_product(env, nm, m, n, &mn) || !kargs_product(env, nm, batch, mn, &bmn) ||
      !kargs_product(env, nm, last, sa, &ea) || !kargs_product(env, nm, last, sb, &eb))
    return NULL;
  const int64_t floats = x.bytes / 4; /* each term at most the heap, so the sums below cannot overflow */
  if (mk > floats || kn > floats || ea > floats || eb > floats) return kargs_inside(env, nm, &x, -1, 0), NULL;
  if ((batch > 0 && (!kargs_inside(env, nm, &x, a, ea + mk) || !kargs_inside(env, nm, &x, b, eb + kn))) || !kargs_inside(env, nm, &x, c, bmn)) return NULL;
  uint8_t* heap = x.heap;
  float* C = (float*)(heap + c);
  if (m == 0 || n == 0 || batch == 0) return NULL;
  if (k == 0) {
    memset(C, 0, (size_t)bmn * sizeof(float));
    return NULL;
  }
  gemm_ctx g = {.A = (const float*)(heap + a), .B = (const float*)(heap + b), .C = C, .m = m, .n = n, .k = k, .sa = sa, .sb = sb, .ta = ta, .tb = tb};
  const int threads = pool_threads();
  /* Products are split here, over the batch and then into row blocks of C, each block one single-threaded sgemm
   * on a thread of the pool (OpenBLAS itself runs single-threaded: see blas_threads). */
  g.by_cols = n > m;
  const int64_t extent = g.by_cols ? n : m;
  int64_t parts = 1;
  if (batch < threads && extent >= 32) parts = threads;
  g.block = ((extent + parts - 1) / parts + 15) / 16 * 16;
  g.parts = (extent + g.block - 1) / g.block;
  pool_run(batch * g.parts, 1, gemm_range, &g);
  return NULL;
}


/*
 * sgemm_strided(heap, a, b, c, b1, b2, m, n, k, transA, transB, alpha,
 *               as1, as2, lda, bs1, bs2, ldb, cs1, cs2, ldc)
 *   A batch of b1 × b2 products inside three tensors, no copies: C[i,j] = alpha · op(A[i,j]) · op(B[i,j]), where
 *   matrix (i, j) of X starts i·xs1 + j·xs2 floats after x and its rows are ldx floats apart (so a head of a
 *   [B, T, H·dh] tensor, or a channel group of [N, G·n], is a matrix as it lies). op(A) is m×k, op(B) k×n; A is
 *   stored m×k (k×m transposed), B k×n (n×k transposed), C m×n. Split over the pool by (i, j) (and row blocks
 *   of C when the batch is smaller than the pool).
 */
typedef struct {
  const float *A, *B;
  float* C;
  int64_t b2, m, n, k, as1, as2, lda, bs1, bs2, ldb, cs1, cs2, ldc, block, parts;
  float alpha;
  bool ta, tb;
} strided_ctx;

static void strided_range(void* c, int64_t b, int64_t e) {
  const strided_ctx* g = c;
  const CBLAS_TRANSPOSE ta = g->ta ? CblasTrans : CblasNoTrans, tb = g->tb ? CblasTrans : CblasNoTrans;
  for (int64_t t = b; t < e; t++) {
    const int64_t ij = t / g->parts, i = ij / g->b2, j = ij % g->b2, r0 = (t % g->parts) * g->block;
    const int64_t rows = r0 + g->block < g->m ? g->block : g->m - r0;
    if (rows <= 0) continue;
    const float* A = g->A + i * g->as1 + j * g->as2 + (g->ta ? r0 : r0 * g->lda);
    const float* B = g->B + i * g->bs1 + j * g->bs2;
    float* C = g->C + i * g->cs1 + j * g->cs2 + r0 * g->ldc;
    cblas_sgemm(CblasRowMajor, ta, tb, (int)rows, (int)g->n, (int)g->k, g->alpha, A, (int)g->lda, B, (int)g->ldb, 0.0f, C, (int)g->ldc);
  }
}

/* The last float a strided batch of rows × cols matrices touches, +1 (0 for an empty batch). */
static int64_t strided_end(int64_t b1, int64_t b2, int64_t s1, int64_t s2, int64_t ld, int64_t rows, int64_t cols) {
  if (b1 == 0 || b2 == 0 || rows == 0 || cols == 0) return 0;
  return (b1 - 1) * s1 + (b2 - 1) * s2 + (rows - 1) * ld + cols;
}

static napi_value sgemm_strided(napi_env env, napi_callback_info info) {
  kargs x;
  const char* nm = "sgemm_strided";
  /* the two transposes as 0/1 counts */
  if (!kargs_read(env, info, nm, "pppiiiiiiifiiiiiiiii", &x)) return NULL;
  const int64_t b1 = x.v[3], b2 = x.v[4], m = x.v[5], n = x.v[6], k = x.v[7];
  const bool ta = x.v[8] != 0, tb = x.v[9] != 0;
  const int64_t as1 = x.v[11], as2 = x.v[12], lda = x.v[13], bs1 = x.v[14], bs2 = x.v[15], ldb = x.v[16], cs1 = x.v[17], cs2 = x.v[18], ldc = x.v[19];
  const int64_t lim = (int64_t)1 << 31;
  if (x.v[8] > 1 || x.v[9] > 1 || b1 > lim || b2 > lim || m > lim || n > lim || k > lim || as1 > lim || as2 > lim || bs1 > lim || bs2 > lim ||
      cs1 > lim || cs2 > lim || lda > lim || ldb > lim || ldc > lim) {
    napi_throw_range_error(env, NULL, "convbert_blas.sgemm_strided: transposes are 0 or 1, sizes and strides below 2^31");
    return NULL;
  }
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  /* rows must not overlap within a matrix: ld at least the row length (BLAS requires it too) */
  if ((ar > 0 && lda < (ac > 1 ? ac : 1)) || (br > 0 && ldb < (bc > 1 ? bc : 1)) || (m > 0 && ldc < (n > 1 ? n : 1))) {
    napi_throw_range_error(env, NULL, "convbert_blas.sgemm_strided: a leading dimension is shorter than its rows");
    return NULL;
  }
  if (!kargs_inside(env, nm, &x, x.v[0], strided_end(b1, b2, as1, as2, lda, ar, ac)) || !kargs_inside(env, nm, &x, x.v[1], strided_end(b1, b2, bs1, bs2, ldb, br, bc)) ||
      !kargs_inside(env, nm, &x, x.v[2], strided_end(b1, b2, cs1, cs2, ldc, m, n)))
    return NULL;
  if (b1 == 0 || b2 == 0 || m == 0 || n == 0) return NULL;
  strided_ctx g = {.A = F32(&x, x.v[0]), .B = F32(&x, x.v[1]), .C = F32(&x, x.v[2]), .b2 = b2, .m = m, .n = n, .k = k, .as1 = as1, .as2 = as2,
                   .lda = lda, .bs1 = bs1, .bs2 = bs2, .ldb = ldb, .cs1 = cs1, .cs2 = cs2, .ldc = ldc, .alpha = (float)x.f[10], .ta = ta, .tb = tb};
  if (k == 0) {
    for (int64_t i = 0; i < b1; i++)
      for (int64_t j = 0; j < b2; j++)
        for (int64_t r = 0; r < m; r++) memset(g.C + i * cs1 + j * cs2 + r * ldc, 0, (size_t)n * sizeof(float));
    return NULL;
  }
  const int threads = pool_threads();
  int64_t parts = 1;
  if (b1 * b2 < threads && m >= 32) parts = threads;
  g.block = ((m + parts - 1) / parts + 15) / 16 * 16;
  g.parts = (m + g.block - 1) / g.block;
  pool_run(b1 * b2 * g.parts, 1, strided_range, &g);
  return NULL;
}

void define_blas(napi_env env, napi_value exports) {
  EXPORT(env, exports, "sgemm", sgemm);
  EXPORT(env, exports, "sgemm_strided", sgemm_strided);
}
