// lib/document.cpp — the document's storage and the non-inline accessors of `value`.
#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "brine/document.hpp"
#include "bulk.hpp"
#include "pyformat.hpp"

namespace brine {
namespace detail {

unsigned char* arena::allocate_prefixed(std::size_t size) {
  const std::size_t need = size + 8;
  if (need > left_) {
    // Small strings share 64 KiB blocks; a big one gets a block of its own.
    const std::size_t block = std::max<std::size_t>(need, standard_block);
    blocks_.push_back(std::make_unique_for_overwrite<unsigned char[]>(block));  // no zero-fill
    sizes_.push_back(block);
    cur_ = blocks_.back().get();
    left_ = block;
    total_ += block;
  }
  const std::uint64_t n = size;
  std::memcpy(cur_, &n, 8);
  unsigned char* p = cur_ + 8;
  // Keep following prefixes 8-byte aligned.
  const std::size_t used = std::min(left_, (need + 7) & ~std::size_t{7});
  cur_ += used;
  left_ -= used;
  return p;
}

void arena::reset() noexcept {
  // Keep one standard block for reuse; one-off big blocks go back to the system.
  std::unique_ptr<unsigned char[]> keep;
  for (std::size_t i = 0; i < blocks_.size(); ++i)
    if (sizes_[i] == standard_block) keep = std::move(blocks_[i]);
  blocks_.clear();
  sizes_.clear();
  cur_ = nullptr;
  left_ = 0;
  total_ = 0;
  if (keep) {
    cur_ = keep.get();
    left_ = standard_block;
    total_ = standard_block;
    blocks_.push_back(std::move(keep));
    sizes_.push_back(standard_block);
  }
}

namespace {
// Gives back room worth more than an eighth of what is used and more than 512 bytes (the tables
// of a small pickle are sized for its input up front, machine.cpp).
template <class V>
void shrink_if_wasteful(V& v) {
  const std::size_t item = sizeof(*v.data());
  const std::size_t waste = (v.capacity() - v.size()) * item;
  if (waste > v.size() * item / 8 && waste > 512) v.shrink_to_fit();
}
}  // namespace

void document_data::reset() noexcept {
  nodes.clear();
  pool.clear();
  containers.clear();
  dense_items.clear();
  globals.clear();
  objects.clear();
  buffers.clear();
  text.reset();
  owners.clear();
  warnings.clear();
  protocol = 0;
  stop_offset = 0;
  buffers_used = 0;
}

void document_data::mark_dense_items() {
  dense_items.assign((containers.size() + 63) / 64, 0);
  for (std::size_t k = 0; k < containers.size(); ++k) {
    const container c = containers[k];
    if (c.size < dense_items_min) continue;
    const std::uint32_t* const items = pool.data() + c.start;
    const std::uint32_t first = items[0];
    // The last item's id must exist (so first + i never wraps); most containers stop at item 1.
    if (std::uint64_t{first} + c.size > nodes.size() || items[1] != first + 1) continue;
    if (ids_consecutive(items, c.size)) dense_items[k / 64] |= std::uint64_t{1} << (k % 64);
  }
}

void document_data::shrink() noexcept {
  // Containers that grew after other containers were stored (the top-level list of records, say)
  // moved to the end of the pool and left their old room behind: compact when that is worth it.
  std::size_t live = 0;
  for (const auto& c : containers) live += c.size;
  if (pool.size() - live > pool.size() / 16 + 1024) {
    pod_vector<std::uint32_t> compact;
    compact.reserve(live);
    for (auto& c : containers) {
      const std::uint32_t start = static_cast<std::uint32_t>(compact.size());
      compact.append(pool.data() + c.start, c.size);
      c.start = start;
    }
    pool = std::move(compact);
  }
  shrink_if_wasteful(nodes);
  shrink_if_wasteful(pool);
  shrink_if_wasteful(containers);
  shrink_if_wasteful(globals);
  shrink_if_wasteful(objects);
}

std::string_view node_kind_name(node_kind k) noexcept {
  switch (k) {
    case node_kind::none: return "NoneType";
    case node_kind::boolean: return "bool";
    case node_kind::int64:
    case node_kind::bigint: return "int";
    case node_kind::float64: return "float";
    case node_kind::str: return "str";
    case node_kind::bytes: return "bytes";
    case node_kind::bytearray: return "bytearray";
    case node_kind::tuple: return "tuple";
    case node_kind::list: return "list";
    case node_kind::dict: return "dict";
    case node_kind::set: return "set";
    case node_kind::frozenset: return "frozenset";
    case node_kind::buffer: return "PickleBuffer";
    case node_kind::global: return "global";
    case node_kind::object: return "object";
    case node_kind::persid: return "persistent_id";
    case node_kind::ext: return "extension";
  }
  return "unknown";
}

}  // namespace detail

std::string_view kind_name(kind k) noexcept {
  switch (k) {
    case kind::none: return "NoneType";
    case kind::boolean: return "bool";
    case kind::integer: return "int";
    case kind::floating: return "float";
    case kind::str: return "str";
    case kind::bytes: return "bytes";
    case kind::bytearray: return "bytearray";
    case kind::tuple: return "tuple";
    case kind::list: return "list";
    case kind::dict: return "dict";
    case kind::set: return "set";
    case kind::frozenset: return "frozenset";
    case kind::buffer: return "PickleBuffer";
    case kind::global: return "global";
    case kind::object: return "object";
    case kind::persistent_id: return "persistent_id";
    case kind::extension: return "extension";
  }
  return "unknown";
}

std::string_view warning_name(warning_code w) noexcept {
  switch (w) {
    case warning_code::leftover_stack: return "leftover_stack";
    case warning_code::leftover_marks: return "leftover_marks";
    case warning_code::trailing_data: return "trailing_data";
    case warning_code::late_proto: return "late_proto";
    case warning_code::repeated_proto: return "repeated_proto";
    case warning_code::opcode_above_proto: return "opcode_above_proto";
    case warning_code::empty_batch_non_container: return "empty_batch_non_container";
    case warning_code::duplicate_memo_put: return "duplicate_memo_put";
  }
  return "unknown";
}

document::document() : data_(std::make_unique<detail::document_data>()) {}
document::~document() = default;
document::document(document&&) noexcept = default;
document& document::operator=(document&&) noexcept = default;

std::size_t document::node_count() const noexcept { return data_->nodes.size(); }
int document::protocol() const noexcept { return data_->protocol; }
std::uint64_t document::stop_offset() const noexcept { return data_->stop_offset; }
const std::vector<decode_warning>& document::warnings() const noexcept { return data_->warnings; }
std::size_t document::buffers_used() const noexcept { return data_->buffers_used; }

std::size_t document::memory_bytes() const noexcept {
  const auto& d = *data_;
  return sizeof(document) + sizeof(detail::document_data) +
         d.nodes.capacity() * sizeof(detail::node) + d.pool.capacity() * sizeof(std::uint32_t) +
         d.containers.capacity() * sizeof(detail::container) +
         d.globals.capacity() * sizeof(detail::global_rec) +
         d.objects.capacity() * sizeof(detail::object_rec) +
         d.buffers.capacity() * sizeof(detail::buffer_ref) + d.text.bytes() +
         d.warnings.capacity() * sizeof(decode_warning);
}

std::string value::int_bytes() const {
  const auto& x = n();
  if (x.kind() == detail::node_kind::bigint)
    return std::string(reinterpret_cast<const char*>(x.p), static_cast<std::size_t>(x.length()));
  BRINE_ASSERT(x.kind() == detail::node_kind::int64);
  const auto v = static_cast<std::uint64_t>(x.i);
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  // Minimal two's complement: drop sign bytes the next byte already implies.
  while (out.size() > 1) {
    const auto top = static_cast<unsigned char>(out[out.size() - 1]);
    const auto next = static_cast<unsigned char>(out[out.size() - 2]);
    if ((top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80))) out.pop_back();
    else break;
  }
  return out;
}

std::string value::int_decimal() const {
  const auto& x = n();
  if (x.kind() == detail::node_kind::int64) return std::to_string(x.i);
  const std::string le = int_bytes();
  return detail::int_to_decimal(std::span<const std::byte>(reinterpret_cast<const std::byte*>(le.data()), le.size()));
}

value value::find(std::string_view key) const noexcept {
  const auto r = pairs();
  // Last write wins, as in a CPython dict built from the same SETITEMS.
  for (std::size_t i = r.size(); i >= 2; i -= 2) {
    const value k = r[i - 2];
    if (k.n().kind() == detail::node_kind::str && k.as_str() == key) return r[i - 1];
  }
  return value();
}

std::vector<applied_op> value::ops() const {
  const auto& x = n();
  const auto& d = doc_->data();
  std::uint32_t index = detail::no_node;
  if (x.kind() == detail::node_kind::object) index = d.objects[x.u[0]].ops;
  else if (x.kind() == detail::node_kind::global) index = d.globals[x.u[0]].ops;
  std::vector<applied_op> out;
  if (index == detail::no_node) return out;
  const auto& c = d.containers[index];
  const std::uint32_t* p = d.pool.data() + c.start;
  const std::uint32_t* end = p + c.size;
  while (p < end) {
    const std::uint32_t header = *p++;
    const std::size_t count = header & detail::op_count_mask;
    out.push_back({static_cast<op_kind>(header >> 28), value_range(doc_, p, count)});
    p += count;
  }
  return out;
}

namespace {
// '' and the 1-character latin-1 strs are single objects in CPython (and the encoder writes them
// once), so they compare by value, not identity.
bool singleton_str(const value& v) {
  const std::string_view s = v.as_str();
  const auto c0 = s.empty() ? 0u : static_cast<unsigned char>(s[0]);
  return s.empty() || (s.size() == 1 && c0 < 0x80) || (s.size() == 2 && (c0 == 0xc2 || c0 == 0xc3));
}

bool identity_tracked(detail::node_kind k, const value& v) {
  using nk = detail::node_kind;
  switch (k) {
    case nk::str:
      return !singleton_str(v);
    case nk::bytes: case nk::bytearray: case nk::list: case nk::dict: case nk::set:
    case nk::frozenset: case nk::global: case nk::object:
      return true;
    case nk::tuple:
      return v.size() != 0;
    default:
      return false;
  }
}
}  // namespace

bool equivalent(value a, value b) {
  if (!a.valid() || !b.valid()) return a.valid() == b.valid();
  using nk = detail::node_kind;
  // Identity maps in both directions, so sharing must correspond one to one.
  std::vector<std::uint32_t> a_to_b(a.doc().node_count(), detail::no_node);
  std::vector<std::uint32_t> b_to_a(b.doc().node_count(), detail::no_node);
  std::vector<std::pair<value, value>> todo{{a, b}};
  auto push_range = [&](value_range ra, value_range rb) {
    if (ra.size() != rb.size()) return false;
    for (std::size_t i = ra.size(); i-- > 0;) todo.emplace_back(ra[i], rb[i]);
    return true;
  };
  while (!todo.empty()) {
    auto [x, y] = todo.back();
    todo.pop_back();
    const nk kx = x.n().kind(), ky = y.n().kind();
    if (x.kind() != y.kind()) return false;
    if (identity_tracked(kx, x)) {
      if (!identity_tracked(ky, y)) return false;
      const std::uint32_t seen_x = a_to_b[x.id()], seen_y = b_to_a[y.id()];
      if (seen_x != detail::no_node || seen_y != detail::no_node) {
        if (seen_x != y.id() || seen_y != x.id()) return false;
        continue;
      }
      a_to_b[x.id()] = y.id();
      b_to_a[y.id()] = x.id();
    }
    switch (x.kind()) {
      case kind::none: break;
      case kind::boolean: if (x.as_bool() != y.as_bool()) return false; break;
      case kind::integer:
        if (kx == nk::int64 && ky == nk::int64) {
          if (x.as_int64() != y.as_int64()) return false;
        } else if (x.int_bytes() != y.int_bytes()) {
          return false;
        }
        break;
      case kind::floating:
        if (std::bit_cast<std::uint64_t>(x.as_double()) != std::bit_cast<std::uint64_t>(y.as_double())) return false;
        break;
      case kind::str: if (x.as_str() != y.as_str()) return false; break;
      case kind::bytes:
      case kind::bytearray: {
        const auto bx = x.as_bytes(), by = y.as_bytes();
        if (bx.size() != by.size() || !std::equal(bx.begin(), bx.end(), by.begin())) return false;
        break;
      }
      case kind::buffer: {
        // What loads sees: the supplied buffer's contents and writability. Its position in the
        // list is not part of the object (re-encoding numbers buffers anew).
        const auto bx = x.as_bytes(), by = y.as_bytes();
        if (x.readonly() != y.readonly() || bx.size() != by.size() || !std::equal(bx.begin(), bx.end(), by.begin()))
          return false;
        break;
      }
      case kind::tuple: case kind::list: case kind::set: case kind::frozenset:
        if (!push_range(x.items(), y.items())) return false;
        break;
      case kind::dict:
        if (!push_range(x.pairs(), y.pairs())) return false;
        break;
      case kind::global:
        if (x.mapped_module() != y.mapped_module() || x.mapped_name() != y.mapped_name()) return false;
        [[fallthrough]];
      case kind::object: {
        const auto ox = x.ops(), oy = y.ops();
        if (ox.size() != oy.size()) return false;
        for (std::size_t i = ox.size(); i-- > 0;) {
          if (ox[i].kind != oy[i].kind || !push_range(ox[i].values, oy[i].values)) return false;
        }
        if (x.kind() == kind::object) {
          if (x.how() != y.how() || x.kwargs().valid() != y.kwargs().valid()) return false;
          if (x.kwargs().valid()) todo.emplace_back(x.kwargs(), y.kwargs());
          todo.emplace_back(x.args(), y.args());
          todo.emplace_back(x.callable(), y.callable());
        }
        break;
      }
      case kind::persistent_id:
        if (x.binary_pid() != y.binary_pid()) return false;
        todo.emplace_back(x.pid(), y.pid());
        break;
      case kind::extension:
        if (x.ext_code() != y.ext_code()) return false;
        break;
    }
  }
  return true;
}

}  // namespace brine
