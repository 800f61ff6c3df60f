// bench/heap_meter.cpp — counts the bytes the process holds on the heap, for the peak-memory
// columns: malloc, calloc, realloc, free and the aligned allocators are replaced (glibc allows an
// executable to do so) by wrappers around glibc's own functions that add and subtract each block's
// usable size. operator new and std::allocator go through malloc, so C++ containers count too.
// Linked into each benchmark executable, never into the library.
//
// Sanitizer builds keep the sanitizer's allocator: the meter then reports nothing (available()
// is false) and run.py prints n/a.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "bench_common.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BRINE_BENCH_NO_HEAP_METER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define BRINE_BENCH_NO_HEAP_METER 1
#endif
#endif

#ifndef BRINE_BENCH_NO_HEAP_METER

namespace {
std::atomic<std::int64_t> live_bytes{0};
std::atomic<std::int64_t> peak_bytes{0};

void note_alloc(void* p) noexcept {
  if (p == nullptr) return;
  const auto n = static_cast<std::int64_t>(malloc_usable_size(p));
  const std::int64_t now = live_bytes.fetch_add(n, std::memory_order_relaxed) + n;
  std::int64_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}
void note_free(void* p) noexcept {
  if (p != nullptr) live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t) noexcept;
void __libc_free(void*) noexcept;
void* __libc_calloc(std::size_t, std::size_t) noexcept;
void* __libc_realloc(void*, std::size_t) noexcept;
void* __libc_memalign(std::size_t, std::size_t) noexcept;

void* malloc(std::size_t n) noexcept {
  void* p = __libc_malloc(n);
  note_alloc(p);
  return p;
}
void free(void* p) noexcept {
  note_free(p);
  __libc_free(p);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
  void* p = __libc_calloc(count, size);
  note_alloc(p);
  return p;
}
void* realloc(void* p, std::size_t n) noexcept {
  if (p == nullptr) return malloc(n);
  const auto old = static_cast<std::int64_t>(malloc_usable_size(p));
  void* q = __libc_realloc(p, n);
  if (q != nullptr || n == 0) live_bytes.fetch_sub(old, std::memory_order_relaxed);
  note_alloc(q);
  return q;
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
  void* p = __libc_memalign(alignment, n);
  note_alloc(p);
  return p;
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept { return memalign(alignment, n); }
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = memalign(alignment, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(std::size_t n) noexcept { return memalign(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), n); }
void* pvalloc(std::size_t n) noexcept {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return memalign(page, (n + page - 1) / page * page);
}
}  // extern "C"

namespace bench::heap {
bool available() noexcept { return true; }
std::int64_t live() noexcept { return live_bytes.load(std::memory_order_relaxed); }
std::int64_t peak() noexcept { return peak_bytes.load(std::memory_order_relaxed); }
void reset_peak() noexcept { peak_bytes.store(live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed); }
}  // namespace bench::heap

#else

namespace bench::heap {
bool available() noexcept { return false; }
std::int64_t live() noexcept { return 0; }
std::int64_t peak() noexcept { return 0; }
void reset_peak() noexcept {}
}  // namespace bench::heap

#endif
