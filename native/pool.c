/*
 * A small thread pool for the element-wise kernels: the caller and (threads − 1) workers take chunks of a range from
 * one atomic counter. Workers spin briefly for the next job (kernels come back to back) and then sleep on a
 * condition variable, so an idle trainer takes no CPU.
 */
#include <pthread.h>
#include <stdatomic.h>
#include "convbert.h"

#define MAX_THREADS 64
#define SPINS 4000

static int nthreads = 1, started = 0;
static pthread_t workers[MAX_THREADS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static atomic_uint generation;
static atomic_int pending;
static atomic_llong next_chunk;
static int job_workers; /* workers 0 … job_workers − 1 take part in the current job */
static range_fn job_fn;
static void* job_ctx;
static int64_t job_n, job_chunk;

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void take_chunks(void) {
  for (;;) {
    const int64_t b = atomic_fetch_add_explicit(&next_chunk, 1, memory_order_relaxed) * job_chunk;
    if (b >= job_n) return;
    const int64_t e = b + job_chunk < job_n ? b + job_chunk : job_n;
    job_fn(job_ctx, b, e);
  }
}

typedef struct { unsigned generation; int index; } worker_arg;
static worker_arg worker_args[MAX_THREADS];

static void* worker(void* arg) {
  /* the generation when this worker was created (read by the creating thread, which is the one that bumps it): a
   * worker that starts late still takes the jobs posted since */
  const worker_arg* me = arg;
  unsigned seen = me->generation;
  for (;;) {
    unsigned g;
    int spins = 0;
    while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen && ++spins < SPINS) relax();
    if (g == seen) {
      pthread_mutex_lock(&mu);
      while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) pthread_cond_wait(&wake, &mu);
      pthread_mutex_unlock(&mu);
    }
    seen = g;
    if (me->index >= job_workers) continue; /* fewer threads asked for than were started */
    take_chunks();
    atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
  }
  return NULL;
}

void pool_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  /* Workers are only ever added; when fewer are asked for, the others sit the jobs out. */
  while (started < n - 1) {
    worker_args[started] = (worker_arg){.generation = atomic_load(&generation), .index = started};
    if (pthread_create(&workers[started], NULL, worker, &worker_args[started]) != 0) break;
    pthread_detach(workers[started]);
    started++;
  }
  nthreads = started + 1 < n ? started + 1 : n;
}

int pool_threads(void) { return nthreads; }

void pool_run(int64_t n, int64_t grain, range_fn fn, void* ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (nthreads <= 1 || started == 0 || n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  int64_t chunk = (n + 4 * nthreads - 1) / (4 * nthreads);
  if (chunk < grain) chunk = grain;
  job_fn = fn;
  job_ctx = ctx;
  job_n = n;
  job_chunk = chunk;
  atomic_store_explicit(&next_chunk, 0, memory_order_relaxed);
  job_workers = nthreads - 1;
  atomic_store_explicit(&pending, job_workers, memory_order_relaxed);
  pthread_mutex_lock(&mu);
  atomic_fetch_add_explicit(&generation, 1, memory_order_release);
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  take_chunks();
  while (atomic_load_explicit(&pending, memory_order_acquire) > 0) relax();
}
