// brine/detail/pod_vector.hpp — a growable array of trivially copyable values for the decoder's
// hot paths (nodes, child ids, the value stack). Not part of the API.
//
// Why not std::vector: the decoder appends one node and one stack entry per opcode, and GCC does
// not inline std::vector's growth-checking append there; this one keeps the common path to a
// compare and a store, and grows with realloc, which for large blocks remaps pages instead of
// copying them (glibc's mremap), so a 100 MB node table never moves byte by byte.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace brine::detail {

/// Asks the kernel to back the whole 2 MiB pages inside [p, p + bytes) with huge pages (Linux
/// transparent huge pages in `madvise` mode; a no-op elsewhere). Large decoder tables are
/// written front to back once, so one fault per 2 MiB instead of one per 4 KiB. lib/memory.cpp.
void advise_huge_pages(void* p, std::size_t bytes) noexcept;
/// Faults in the pages of [p, p + bytes) for writing, in one system call (Linux 5.14's
/// MADV_POPULATE_WRITE; a no-op where it is missing): for memory about to be written whole,
/// such as an output sized from a known length, which otherwise takes a page fault per 4 KiB.
void prefault_for_writing(void* p, std::size_t bytes) noexcept;
/// Tables at least this large get the advice.
inline constexpr std::size_t huge_page_advice_bytes = std::size_t{4} << 20;

/// Blocks at least this large are retained when freed, for the next table of about their size
/// on the same thread (brine::release_retained_memory() in brine/document.hpp; lib/memory.cpp):
/// a loop decoding pickles of similar size then reuses pages already faulted in instead of
/// having the kernel zero fresh ones for every document. 256 KiB: glibc returns freed blocks
/// from 128 KiB up to the kernel (mmap threshold, heap trimming), and on a virtual machine with
/// slow page faults a 600 KB table faulted in again cost more than decoding into it (`nested`:
/// 458 faults, 6.6 -> 1.3 ms a decode with its tables retained; the threshold was 1 MiB before
/// session 12).
inline constexpr std::size_t retain_min_bytes = std::size_t{1} << 18;
/// A retained block of at least `min_bytes`, or null; `got` is its size. The one closest in size
/// to `bytes`, or with `largest` (a table still growing) the largest; among blocks a table of the
/// same element size gave back first (a document's node table takes what a node table left,
/// not the block the pool of a second live document is about to want), and only among those for
/// a guess (`largest` false: a table that may never need it).
void* take_retained(std::size_t bytes, std::size_t min_bytes, bool largest, std::size_t element, std::size_t& got) noexcept;
/// Frees `p` (a malloc'd block of `bytes` holding elements of `element` bytes), or keeps it for
/// take_retained.
void release_block(void* p, std::size_t bytes, std::size_t element) noexcept;

template <class T>
class pod_vector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  pod_vector() = default;
  ~pod_vector() { release(); }
  pod_vector(const pod_vector& o) { assign(o.data_, o.size()); }
  pod_vector& operator=(const pod_vector& o) {
    if (this != &o) assign(o.data_, o.size());
    return *this;
  }
  pod_vector(pod_vector&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), end_(std::exchange(o.end_, nullptr)), cap_(std::exchange(o.cap_, nullptr)) {}
  pod_vector& operator=(pod_vector&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      end_ = std::exchange(o.end_, nullptr);
      cap_ = std::exchange(o.cap_, nullptr);
    }
    return *this;
  }

  std::size_t size() const noexcept { return static_cast<std::size_t>(end_ - data_); }
  std::size_t capacity() const noexcept { return static_cast<std::size_t>(cap_ - data_); }
  bool empty() const noexcept { return end_ == data_; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return end_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return end_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T& back() noexcept { return end_[-1]; }
  const T& back() const noexcept { return end_[-1]; }

  [[gnu::always_inline]] void push_back(const T& v) {
    if (end_ == cap_) [[unlikely]] grow(size() + 1);
    *end_++ = v;
  }
  /// Appends an uninitialised element and returns it.
  [[gnu::always_inline]] T& emplace_back() {
    if (end_ == cap_) [[unlikely]] grow(size() + 1);
    return *end_++;
  }
  /// For callers that check room themselves (and grow through reserve()).
  bool full() const noexcept { return end_ == cap_; }
  [[gnu::always_inline]] T& emplace_back_unchecked() noexcept { return *end_++; }
  [[gnu::always_inline]] void push_back_unchecked(const T& v) noexcept { *end_++ = v; }
  /// The capacity the next growth step would give (1.5x, at least 16).
  std::size_t next_capacity() const noexcept {
    const std::size_t have = capacity();
    return have < 16 ? 16 : have + have / 2;
  }
  void pop_back() noexcept { --end_; }
  /// For loops that append through a local pointer (the decoder's fast path): the end of the
  /// allocation, and the new end after writing elements in [end(), e), e <= capacity_end().
  T* capacity_end() noexcept { return cap_; }
  void set_end(T* e) noexcept { end_ = e; }
  void clear() noexcept { end_ = data_; }
  void reserve(std::size_t n) {
    if (n > capacity()) reallocate(n, n, false);
  }
  /// reserve() for a generous guess at the final size: settles for a retained block of an eighth
  /// of it (documents shrink their tables to fit when decoding ends, so decoding the same pickle
  /// again guesses more than the block the last one left; a short block grows when it must).
  void reserve_hint(std::size_t n) {
    if (n > capacity()) reallocate(n, n / 8, false);
  }
  /// Shrinks, or grows with uninitialised elements the caller fills.
  void resize(std::size_t n) {
    if (n > capacity()) grow(n);
    end_ = data_ + n;
  }
  void append(const T* first, std::size_t n) {
    if (n == 0) return;
    if (n > static_cast<std::size_t>(cap_ - end_)) grow(size() + n);
    std::memcpy(static_cast<void*>(end_), first, n * sizeof(T));
    end_ += n;
  }
  void shrink_to_fit() {
    if (empty()) {
      release();
      data_ = end_ = cap_ = nullptr;
    } else if (cap_ != end_) {
      reallocate(size(), size(), false);
    }
  }

 private:
  // Pointers rather than counts: stores of 64-bit integers into the elements cannot alias them.
  [[gnu::noinline]] void grow(std::size_t need) {
    const std::size_t have = capacity();
    std::size_t cap = have < 16 ? 16 : have + have / 2;
    if (cap < need) cap = need;
    reallocate(cap, need, true);
  }
  void release() noexcept {
    const std::size_t bytes = capacity() * sizeof(T);
    if (bytes >= retain_min_bytes) release_block(data_, bytes, sizeof(T));
    else std::free(data_);
  }
  // Capacity `cap` (or, from a retained block, at least `min_cap` >= size()).
  void reallocate(std::size_t cap, std::size_t min_cap, bool growing) {
    if (cap > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    if (cap * sizeof(T) >= retain_min_bytes && capacity() * sizeof(T) < retain_min_bytes) {
      // Growing past the retention size, or a first large allocation: a retained block if any.
      std::size_t got = 0;
      if (void* block = take_retained(cap * sizeof(T), min_cap * sizeof(T), growing, sizeof(T), got)) {
        const std::size_t n = size();
        if (n != 0) std::memcpy(block, static_cast<const void*>(data_), n * sizeof(T));
        std::free(data_);  // small: never retained
        data_ = static_cast<T*>(block);
        end_ = data_ + n;
        cap_ = data_ + got / sizeof(T);
        return;
      }
    }
    const std::size_t n = size();
    void* p = std::realloc(static_cast<void*>(data_), cap * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    end_ = data_ + n;
    cap_ = data_ + cap;
    if (cap * sizeof(T) >= huge_page_advice_bytes) advise_huge_pages(p, cap * sizeof(T));
  }
  void assign(const T* src, std::size_t n) {
    reserve(n);
    if (n != 0) std::memcpy(static_cast<void*>(data_), src, n * sizeof(T));
    end_ = data_ + n;
  }

  T* data_ = nullptr;
  T* end_ = nullptr;
  T* cap_ = nullptr;
};

}  // namespace brine::detail
