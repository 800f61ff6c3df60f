// brine/detail/document_inl.hpp — the document's tables and the inline accessors of `value`.
// Not part of the API: layouts here may change between releases.
#pragma once

#include <memory>
#include <vector>

#include "brine/detail/pod_vector.hpp"
#include "brine/document.hpp"

namespace brine {
namespace detail {

// Bump allocator for the few bytes brine has to transform (escaped text, latin-1 strings, mapped
// global names). Blocks are never moved, so pointers into them stay valid.
class arena {
 public:
  /// Returns `size` writable bytes preceded by an 8-byte length prefix holding `size`.
  unsigned char* allocate_prefixed(std::size_t size);
  std::size_t bytes() const noexcept { return total_; }
  /// Forget every allocation but keep the first block for reuse.
  void reset() noexcept;

 private:
  static constexpr std::size_t standard_block = 64 * 1024;
  std::vector<std::unique_ptr<unsigned char[]>> blocks_;
  std::vector<std::size_t> sizes_;
  unsigned char* cur_ = nullptr;
  std::size_t left_ = 0;
  std::size_t total_ = 0;
};

struct document_data {
  pod_vector<node> nodes;
  pod_vector<std::uint32_t> pool;
  pod_vector<container> containers;
  std::vector<global_rec> globals;
  std::vector<object_rec> objects;
  std::vector<buffer_ref> buffers;
  arena text;
  std::vector<std::shared_ptr<const void>> owners;
  std::vector<decode_warning> warnings;
  int protocol = 0;
  std::uint64_t stop_offset = 0;
  std::size_t buffers_used = 0;

  /// Bit k set: container k holds at least dense_items_min items, and they are consecutive node
  /// ids (item i is node items[0] + i), as CPython's stream order makes a list of fresh scalars.
  /// Walkers may then read the items' nodes without their ids (the encoder's runs of floats).
  /// Computed once decoding is done (mark_dense_items); empty for other documents.
  std::vector<std::uint64_t> dense_items;
  static constexpr std::uint32_t dense_items_min = 16;

  /// Empty every table, keeping capacity (brine::decoder reuses one document_data).
  void reset() noexcept;
  /// Sets dense_items from the containers as they are.
  void mark_dense_items();
  bool items_dense(std::uint32_t container_index) const noexcept {
    const std::size_t word = container_index / 64;
    return word < dense_items.size() && ((dense_items[word] >> (container_index % 64)) & 1) != 0;
  }
  /// Give back capacity beyond what the tables hold when it exceeds 1/8 of them.
  void shrink() noexcept;
};

}  // namespace detail

inline const detail::node& value::n() const noexcept {
  BRINE_ASSERT(doc_ != nullptr && id_ < doc_->data().nodes.size());
  return doc_->data().nodes[id_];
}

inline brine::kind value::kind() const noexcept {
  using nk = detail::node_kind;
  switch (n().kind()) {
    case nk::none: return kind::none;
    case nk::boolean: return kind::boolean;
    case nk::int64:
    case nk::bigint: return kind::integer;
    case nk::float64: return kind::floating;
    case nk::str: return kind::str;
    case nk::bytes: return kind::bytes;
    case nk::bytearray: return kind::bytearray;
    case nk::tuple: return kind::tuple;
    case nk::list: return kind::list;
    case nk::dict: return kind::dict;
    case nk::set: return kind::set;
    case nk::frozenset: return kind::frozenset;
    case nk::buffer: return kind::buffer;
    case nk::global: return kind::global;
    case nk::object: return kind::object;
    case nk::persid: return kind::persistent_id;
    case nk::ext: return kind::extension;
  }
  return kind::none;
}

inline bool value::as_bool() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::boolean);
  return n().i != 0;
}
inline bool value::fits_int64() const noexcept {
  BRINE_ASSERT(kind() == kind::integer);
  return n().kind() == detail::node_kind::int64;
}
inline std::int64_t value::as_int64() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::int64);
  return n().i;
}
inline double value::as_double() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::float64);
  return n().f;
}
inline std::string_view value::as_str() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::str);
  const auto& x = n();
  return {reinterpret_cast<const char*>(x.p), static_cast<std::size_t>(x.length())};
}
inline std::span<const std::byte> value::as_bytes() const noexcept {
  const auto& x = n();
  if (x.kind() == detail::node_kind::buffer) {
    const auto& b = doc_->data().buffers[x.u[0]];
    return {b.data, b.size};
  }
  BRINE_ASSERT(x.kind() == detail::node_kind::bytes || x.kind() == detail::node_kind::bytearray);
  return {reinterpret_cast<const std::byte*>(x.p), static_cast<std::size_t>(x.length())};
}

namespace detail {
inline bool is_container(node_kind k) noexcept {
  return k == node_kind::tuple || k == node_kind::list || k == node_kind::dict ||
         k == node_kind::set || k == node_kind::frozenset;
}
}  // namespace detail

inline std::size_t value::size() const noexcept {
  const auto& x = n();
  BRINE_ASSERT(detail::is_container(x.kind()));
  const auto& c = doc_->data().containers[x.u[0]];
  return x.kind() == detail::node_kind::dict ? c.size / 2 : c.size;
}
inline value_range value::items() const noexcept {
  const auto& x = n();
  BRINE_ASSERT(detail::is_container(x.kind()) && x.kind() != detail::node_kind::dict);
  const auto& c = doc_->data().containers[x.u[0]];
  return {doc_, doc_->data().pool.data() + c.start, c.size};
}
inline value_range value::pairs() const noexcept {
  const auto& x = n();
  BRINE_ASSERT(x.kind() == detail::node_kind::dict);
  const auto& c = doc_->data().containers[x.u[0]];
  return {doc_, doc_->data().pool.data() + c.start, c.size};
}
inline value value::operator[](std::size_t i) const noexcept {
  const auto r = items();
  BRINE_ASSERT(i < r.size());
  return r[i];
}

inline std::size_t value::buffer_index() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::buffer);
  return n().u[0];
}
inline bool value::readonly() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::buffer);
  return (n().flags() & detail::flag_readonly) != 0 || doc_->data().buffers[n().u[0]].readonly;
}

inline std::string_view value::module() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::global);
  return value(doc_, doc_->data().globals[n().u[0]].module).as_str();
}
inline std::string_view value::name() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::global);
  return value(doc_, doc_->data().globals[n().u[0]].name).as_str();
}
inline std::string_view value::mapped_module() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::global);
  return value(doc_, doc_->data().globals[n().u[0]].mapped_module).as_str();
}
inline std::string_view value::mapped_name() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::global);
  return value(doc_, doc_->data().globals[n().u[0]].mapped_name).as_str();
}
inline global_source value::source() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::global);
  return doc_->data().globals[n().u[0]].source;
}

inline call_kind value::how() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::object);
  return doc_->data().objects[n().u[0]].how;
}
inline value value::callable() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::object);
  return value(doc_, doc_->data().objects[n().u[0]].callable);
}
inline value value::args() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::object);
  return value(doc_, doc_->data().objects[n().u[0]].args);
}
inline value value::kwargs() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::object);
  const auto id = doc_->data().objects[n().u[0]].kwargs;
  return id == detail::no_node ? value() : value(doc_, id);
}

inline value value::pid() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::persid);
  return value(doc_, n().u[0]);
}
inline bool value::binary_pid() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::persid);
  return (n().flags() & detail::flag_binary) != 0;
}
inline std::int64_t value::ext_code() const noexcept {
  BRINE_ASSERT(n().kind() == detail::node_kind::ext);
  return n().i;
}

class value_range::iterator {
 public:
  using difference_type = std::ptrdiff_t;
  using value_type = value;
  iterator() = default;
  iterator(const document* doc, const std::uint32_t* p) : doc_(doc), p_(p) {}
  value operator*() const { return value(doc_, *p_); }
  iterator& operator++() { ++p_; return *this; }
  iterator operator++(int) { auto t = *this; ++p_; return t; }
  bool operator==(const iterator& o) const { return p_ == o.p_; }

 private:
  const document* doc_ = nullptr;
  const std::uint32_t* p_ = nullptr;
};

inline value value_range::operator[](std::size_t i) const {
  BRINE_ASSERT(i < n_);
  return value(doc_, ids_[i]);
}
inline value_range::iterator value_range::begin() const { return {doc_, ids_}; }
inline value_range::iterator value_range::end() const { return {doc_, ids_ + n_}; }

}  // namespace brine
