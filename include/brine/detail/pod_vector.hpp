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

template <class T>
class pod_vector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  pod_vector() = default;
  ~pod_vector() { std::free(data_); }
  pod_vector(const pod_vector& o) { assign(o.data_, o.size_); }
  pod_vector& operator=(const pod_vector& o) {
    if (this != &o) {
      size_ = 0;
      assign(o.data_, o.size_);
    }
    return *this;
  }
  pod_vector(pod_vector&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), cap_(std::exchange(o.cap_, 0)) {}
  pod_vector& operator=(pod_vector&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      cap_ = std::exchange(o.cap_, 0);
    }
    return *this;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return cap_; }
  bool empty() const noexcept { return size_ == 0; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T& back() noexcept { return data_[size_ - 1]; }
  const T& back() const noexcept { return data_[size_ - 1]; }

  [[gnu::always_inline]] void push_back(const T& v) {
    if (size_ == cap_) [[unlikely]] grow(size_ + 1);
    data_[size_++] = v;
  }
  /// Appends an uninitialised element and returns it.
  [[gnu::always_inline]] T& emplace_back() {
    if (size_ == cap_) [[unlikely]] grow(size_ + 1);
    return data_[size_++];
  }
  void pop_back() noexcept { --size_; }
  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t n) {
    if (n > cap_) reallocate(n);
  }
  /// Grows with zeroed elements, or shrinks.
  void resize(std::size_t n) {
    if (n > cap_) grow(n);
    if (n > size_) std::memset(static_cast<void*>(data_ + size_), 0, (n - size_) * sizeof(T));
    size_ = n;
  }
  void append(const T* first, std::size_t n) {
    if (n == 0) return;
    if (size_ + n > cap_) grow(size_ + n);
    std::memcpy(static_cast<void*>(data_ + size_), first, n * sizeof(T));
    size_ += n;
  }
  void shrink_to_fit() {
    if (size_ == 0) {
      std::free(data_);
      data_ = nullptr;
      cap_ = 0;
    } else if (cap_ > size_) {
      reallocate(size_);
    }
  }

 private:
  [[gnu::noinline]] void grow(std::size_t need) {
    std::size_t cap = cap_ < 16 ? 16 : cap_ + cap_ / 2;
    if (cap < need) cap = need;
    reallocate(cap);
  }
  void reallocate(std::size_t cap) {
    if (cap > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    void* p = std::realloc(static_cast<void*>(data_), cap * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    cap_ = cap;
  }
  void assign(const T* src, std::size_t n) {
    reserve(n);
    if (n != 0) std::memcpy(static_cast<void*>(data_), src, n * sizeof(T));
    size_ = n;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

}  // namespace brine::detail
