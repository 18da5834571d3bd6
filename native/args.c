/* Reading a kernel's arguments and checking that what it touches lies inside the heap (see convbert.h). */
#include <stdio.h>
#include <string.h>
#include "convbert.h"

bool kargs_read(napi_env env, napi_callback_info info, const char* name, const char* sig, kargs* a) {
  size_t want = strlen(sig) + 1, argc = MAX_ARGS + 1;
  napi_value argv[MAX_ARGS + 1];
  char msg[160];
  if (want > MAX_ARGS + 1 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) {
    snprintf(msg, sizeof msg, "convbert_blas.%s: expected %zu arguments", name, want);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = NULL;
  napi_value buffer;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset) != napi_ok || type != napi_uint8_array) {
    snprintf(msg, sizeof msg, "convbert_blas.%s: the heap must be a Uint8Array", name);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  a->heap = (uint8_t*)data;
  a->bytes = (int64_t)length;
  for (size_t i = 1; i < want; i++) {
    const char s = sig[i - 1];
    if (s == 'f') {
      if (napi_get_value_double(env, argv[i], &a->f[i - 1]) != napi_ok) goto bad;
      continue;
    }
    if (s == 'b') {
      bool flag = false;
      if (napi_get_value_bool(env, argv[i], &flag) != napi_ok) goto bad;
      a->v[i - 1] = flag;
      continue;
    }
    double d = 0;
    if (napi_get_value_double(env, argv[i], &d) != napi_ok || d != (double)(int64_t)d || d > 9.0e15 || d < -9.0e15) goto bad;
    const int64_t v = (int64_t)d;
    if (s != 's' && v < 0) goto bad;
    if (s == 'p' && v % 4 != 0) goto bad;
    a->v[i - 1] = v;
  }
  return true;
bad:
  snprintf(msg, sizeof msg, "convbert_blas.%s: offsets and counts must be whole numbers >= 0, offsets multiples of 4", name);
  napi_throw_range_error(env, NULL, msg);
  return false;
}

bool kargs_inside(napi_env env, const char* name, const kargs* a, int64_t off, int64_t count) {
  if (off >= 0 && count >= 0 && count <= (a->bytes >> 2) && off <= a->bytes - 4 * count) return true;
  char msg[160];
  snprintf(msg, sizeof msg, "convbert_blas.%s: a tensor lies outside the heap", name);
  napi_throw_range_error(env, NULL, msg);
  return false;
}

bool kargs_product(napi_env env, const char* name, int64_t x, int64_t y, int64_t* out) {
  if (x >= 0 && y >= 0 && (y == 0 || x <= INT64_MAX / y)) {
    *out = x * y;
    return true;
  }
  char msg[160];
  snprintf(msg, sizeof msg, "convbert_blas.%s: sizes out of range", name);
  napi_throw_range_error(env, NULL, msg);
  return false;
}
