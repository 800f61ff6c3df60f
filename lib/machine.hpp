// lib/machine.hpp — the decoding machine (see machine.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brine/decode.hpp"
#include "brine/document.hpp"

#define BRINE_HOT [[gnu::always_inline]] inline

namespace brine::detail {

/// The items of a container that grew while other containers were stored after it: kept in a
/// table of their own until decoding ends (machine::append_items, machine::settle_side).
struct side_items {
  std::uint32_t container = 0;
  pod_vector<std::uint32_t> items;
};

/// Decode-time state that a brine::decoder keeps between calls so its capacity is reused.
struct decode_scratch {
  pod_vector<std::uint32_t> stack;
  std::vector<std::size_t> marks;
  pod_vector<std::uint32_t> dense;                 // memo index -> node id + 1 (0: empty)
  std::map<std::uint64_t, std::uint32_t> sparse;   // memo indices too far out for `dense`
  pod_vector<std::uint32_t> capacity;              // pool room reserved per container
  // Items of containers kept outside the pool while decoding (machine::append_items).
  std::vector<side_items> side;

  void reset() noexcept {
    stack.clear();
    marks.clear();
    dense.clear();
    sparse.clear();
    capacity.clear();
    side.clear();
  }

  /// What a thread keeps between one-shot decodes (lib/decode.cpp): tables under the retention
  /// size. Larger ones go to the retained pool when the scratch is dropped; the kept ones are
  /// freed at thread exit straight to the allocator, never to the retained pool (another
  /// thread_local, maybe destroyed first).
  bool oversized() const noexcept {
    return stack.capacity() * sizeof(std::uint32_t) >= retain_min_bytes ||
           dense.capacity() * sizeof(std::uint32_t) >= retain_min_bytes ||
           capacity.capacity() * sizeof(std::uint32_t) >= retain_min_bytes ||
           marks.capacity() * sizeof(std::size_t) >= retain_min_bytes;
  }
};

class machine {
 public:
  /// `keep_items` false is the validate-only mode: containers count their items without storing
  /// them (and remember whether one was unhashable), so memory stays proportional to the nodes.
  machine(std::span<const std::byte> input, const decode_options& options, document_data& out,
          decode_scratch& scratch, bool keep_items);

  /// Runs to STOP. On false, `error()` describes the failure. Either way the document's tables
  /// are complete and consistent (brine::decode_partial keeps what a failed decode built).
  bool run();
  const brine::error& error() const noexcept { return err_; }
  std::uint32_t root() const noexcept { return root_; }
  std::uint64_t opcodes() const noexcept { return opcodes_; }
  std::uint64_t memo_entries() const noexcept { return memo_count_; }

 private:
  bool fail(errc code, std::string message, std::uint64_t detail = 0);
  bool fail_limit(limit which);
  bool underflow();
  void warn(warning_code w);

  // The hot helpers are inline: they run once or twice per opcode.
  BRINE_HOT bool take(std::size_t n, const unsigned char*& p) {
    if (n <= static_cast<std::size_t>(lim_ - cur_)) [[likely]] {
      p = cur_;
      cur_ += n;
      return true;
    }
    return take_slow(n, p);
  }
  bool take_slow(std::size_t n, const unsigned char*& p);
  // Runs the common opcodes of a well-formed stream from local copies of the machine's state, and
  // returns at the first opcode that needs the general loop (anything else, a growth, the last
  // bytes of a frame, a non-ASCII string...), with cur_ at that opcode. Same results as run();
  // false when a batch hits a table limit (err_ set).
  bool run_fast();
  bool run_ops();
  bool line(std::string_view& text);
  std::size_t fence() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
  bool pop_mark(std::size_t& mark);

  // The limits live in the growth path: the node table and the stack never hold more than their
  // limit, so a full table is the only case that needs a check.
  BRINE_HOT bool add_node(node_kind k, std::uint8_t flags, std::uint64_t payload, std::uint32_t& id) {
    if (d_.nodes.full() && !grow_nodes()) [[unlikely]] return false;
    node& n = d_.nodes.emplace_back_unchecked();
    n.head = make_head(k, flags, static_cast<std::uint64_t>(op_start_ - base_));
    n.i = static_cast<std::int64_t>(payload);
    id = static_cast<std::uint32_t>(&n - d_.nodes.data());
    return true;
  }
  BRINE_HOT bool push(std::uint32_t id) {
    if (stack_.full() && !grow_stack()) [[unlikely]] return false;
    stack_.push_back_unchecked(id);
    return true;
  }
  bool grow_nodes();
  bool grow_stack();
  BRINE_HOT bool push_new(node_kind k, std::uint8_t flags, std::uint64_t payload) {
    std::uint32_t id = 0;
    return add_node(k, flags, payload, id) && push(id);
  }
  // None, True and False are singletons in Python: one node each per document (the offset of the
  // first occurrence), which also keeps None-heavy data small.
  bool push_singleton(std::uint32_t& slot, node_kind k, std::uint64_t payload);
  bool push_data(node_kind k, std::uint8_t prefix, const unsigned char* p);
  bool push_text(node_kind k, std::string_view text);
  bool new_text_node(std::string_view text, std::uint32_t& id);
  bool push_utf8(node_kind k, std::uint8_t prefix, const unsigned char* p, std::size_t n);
  bool push_py2_string(const unsigned char* p, std::size_t n, std::uint8_t prefix, bool copied);
  bool push_int_le(const unsigned char* p, std::size_t n, std::uint8_t prefix);
  // LONG1/LONG4 payloads of 1..8 bytes: one 8-byte load when the input has the room.
  BRINE_HOT bool push_small_int(const unsigned char* p, std::size_t n) {
    std::uint64_t v = 0;
    if (end_ - p >= 8) {
      std::memcpy(&v, p, 8);
      if (n < 8) v &= (std::uint64_t{1} << (8 * n)) - 1;
    } else {
      for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    }
    const unsigned shift = static_cast<unsigned>(64 - 8 * n);
    return push_new(node_kind::int64, 0, static_cast<std::uint64_t>(static_cast<std::int64_t>(v << shift) >> shift));
  }
  bool push_int_le_copy(std::string_view le);
  bool push_decimal(std::string_view digits);
  bool check_digits(std::string_view s);
  bool parse_index(std::string_view s, bool is_put, std::uint64_t& index);

  // Whether `n` more ids fit the pool's 32-bit indices, counting what the side tables will add
  // (settle_side); reserve_pool fails with the limit when not.
  bool pool_fits(std::size_t n) const noexcept {
    return n <= std::numeric_limits<std::uint32_t>::max() - d_.pool.size() - side_count_;
  }
  bool reserve_pool(std::size_t n);
  bool new_container(node_kind k, const std::uint32_t* items, std::size_t n, std::uint32_t& id);
  bool append_items(std::uint32_t container_index, const std::uint32_t* items, std::size_t n);
  // Where container `index`'s items are now: in the pool, or in its side table.
  const std::uint32_t* items_of(std::uint32_t index) const noexcept {
    const std::uint32_t start = d_.containers[index].start;
    return capacity_[index] == in_side ? side_[start].items.data() : d_.pool.data() + start;
  }
  // Moves the side tables' items to the end of the pool.
  void settle_side();
  // `capacity_` of a container whose items are in side_[its start].
  static constexpr std::uint32_t in_side = std::numeric_limits<std::uint32_t>::max();
  // The smallest container that moves to a side table rather than along the pool.
  static constexpr std::uint32_t side_min_items = 256;
  bool extend(std::uint32_t target, const std::uint32_t* items, std::size_t n, op_kind how);
  BRINE_HOT bool check_hashable(std::uint32_t id) {
    return (d_.nodes[id].flags() & flag_unhashable) == 0 || fail_unhashable(id);
  }
  bool fail_unhashable(std::uint32_t id);
  // Short ASCII payloads (most str keys and values) skip the UTF-8 validator: two 8-byte loads
  // when the input has 16 bytes of room past `p`.
  BRINE_HOT bool ascii_short(const unsigned char* p, std::size_t n) const noexcept {
    if (n > 16 || end_ - p < 16) return false;
    std::uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    if (n < 8) {
      a &= (std::uint64_t{1} << (8 * n)) - 1;
      b = 0;
    } else if (n < 16) {
      b = n == 8 ? 0 : b & ((std::uint64_t{1} << (8 * (n - 8))) - 1);
    }
    return ((a | b) & 0x8080808080808080ull) == 0;
  }
  void note_contents(std::uint32_t id, const std::uint32_t* items, std::size_t n);

  bool memo_put(std::uint64_t index, std::uint32_t id);
  bool memo_get(std::uint64_t index);
  bool memo_store_top(std::uint64_t index);

  bool push_global(std::uint32_t module, std::uint32_t name, global_source source);
  bool global_is(std::uint32_t id, std::string_view module, std::string_view name) const noexcept;
  std::string_view value_str(std::uint32_t id) const noexcept;
  bool try_fold(std::uint32_t callable, std::uint32_t args, bool& done);
  bool new_object(call_kind how, std::uint32_t callable, std::uint32_t args, std::uint32_t kwargs);
  std::uint32_t ops_of(std::uint32_t target);
  bool record_op(std::uint32_t target, op_kind kind, const std::uint32_t* items, std::size_t n);
  bool record_discarded_call(std::uint32_t object);
  std::string kind_text(std::uint32_t id) const;

  const unsigned char* base_;
  // Positions are pointers, not indices: stores into the node table (64-bit integers) cannot
  // alias them, so the compiler keeps them in registers across an opcode.
  const unsigned char* end_;
  const unsigned char* cur_;
  const unsigned char* lim_;  // end of the current frame, or end_ outside frames
  const decode_options& opt_;
  document_data& d_;
  bool keep_items_;

  pod_vector<std::uint32_t>& stack_;
  std::vector<std::size_t>& marks_;
  pod_vector<std::uint32_t>& dense_;
  std::map<std::uint64_t, std::uint32_t>& sparse_;
  pod_vector<std::uint32_t>& capacity_;
  std::vector<side_items>& side_;
  std::uint64_t side_count_ = 0;  // items in side_
  std::uint64_t memo_count_ = 0;
  std::uint64_t copied_items_ = 0;
  std::uint64_t opcodes_ = 0;

  std::uint64_t node_limit_;
  std::uint32_t singleton_none = no_node, singleton_true = no_node, singleton_false = no_node;
  int proto_ = 0;
  int declared_proto_ = 5;
  bool seen_proto_ = false;
  const unsigned char* op_start_;  // the opcode being executed
  // The object the last REDUCE made and where that REDUCE ended: a POP right there discards a
  // call made for its effect on its first argument (recorded as op_kind::call on it).
  const unsigned char* reduce_end_ = nullptr;
  std::uint32_t reduce_node_ = no_node;
  std::uint8_t op_ = 0;
  bool in_opcode_ = true;
  std::uint32_t root_ = 0;
  brine::error err_;
};

}  // namespace brine::detail
