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
/// Tables at least this large get the advice.
inline constexpr std::size_t huge_page_advice_bytes = std::size_t{4} << 20;

template <class T>
class pod_vector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  pod_vector() = default;
  ~pod_vector() { std::free(data_); }
  pod_vector(const pod_vector& o) { assign(o.data_, o.size()); }
  pod_vector& operator=(const pod_vector& o) {
    if (this != &o) assign(o.data_, o.size());
    return *this;
  }
  pod_vector(pod_vector&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), end_(std::exchange(o.end_, nullptr)), cap_(std::exchange(o.cap_, nullptr)) {}
  pod_vector& operator=(pod_vector&& o) noexcept {
    if (this != &o) {
      std::free(data_);
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
    if (n > capacity()) reallocate(n);
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
      std::free(data_);
      data_ = end_ = cap_ = nullptr;
    } else if (cap_ != end_) {
      reallocate(size());
    }
  }

 private:
  // Pointers rather than counts: stores of 64-bit integers into the elements cannot alias them.
  [[gnu::noinline]] void grow(std::size_t need) {
    const std::size_t have = capacity();
    std::size_t cap = have < 16 ? 16 : have + have / 2;
    if (cap < need) cap = need;
    reallocate(cap);
  }
  void reallocate(std::size_t cap) {
    if (cap > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
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
