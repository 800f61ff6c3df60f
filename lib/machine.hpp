// lib/machine.hpp — the decoding machine (see machine.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brine/decode.hpp"
#include "brine/document.hpp"

namespace brine::detail {

class machine {
 public:
  /// `keep_items` false is the validate-only mode: containers count their items without storing
  /// them (and remember whether one was unhashable), so memory stays proportional to the nodes.
  machine(std::span<const std::byte> input, const decode_options& options, document_data& out, bool keep_items);

  /// Runs to STOP. On false, `error()` describes the failure.
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

  bool take(std::size_t n, const unsigned char*& p);
  bool line(std::string_view& text);
  std::size_t fence() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
  bool pop_mark(std::size_t& mark);

  bool add_node(node_kind k, std::uint8_t flags, std::uint64_t payload, std::uint32_t& id);
  bool push(std::uint32_t id);
  bool push_new(node_kind k, std::uint8_t flags, std::uint64_t payload);
  bool push_data(node_kind k, std::uint8_t prefix, const unsigned char* p);
  bool push_text(node_kind k, std::string_view text);
  bool new_text_node(std::string_view text, std::uint32_t& id);
  bool push_utf8(node_kind k, std::uint8_t prefix, const unsigned char* p, std::size_t n);
  bool push_py2_string(const unsigned char* p, std::size_t n, std::uint8_t prefix, bool copied);
  bool push_int_le(const unsigned char* p, std::size_t n, std::uint8_t prefix);
  bool push_int_le_copy(std::string_view le);
  bool push_decimal(std::string_view digits);
  bool check_digits(std::string_view s);
  bool parse_index(std::string_view s, bool is_put, std::uint64_t& index);

  bool reserve_pool(std::size_t n);
  bool new_container(node_kind k, const std::uint32_t* items, std::size_t n, std::uint32_t& id);
  bool append_items(std::uint32_t container_index, const std::uint32_t* items, std::size_t n);
  bool extend(std::uint32_t target, const std::uint32_t* items, std::size_t n, op_kind how);
  bool check_hashable(std::uint32_t id);
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
  std::string kind_text(std::uint32_t id) const;

  const unsigned char* base_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::size_t frame_end_ = 0;  // 0: not inside a frame
  const decode_options& opt_;
  document_data& d_;
  bool keep_items_;

  std::vector<std::uint32_t> stack_;
  std::vector<std::size_t> marks_;
  std::vector<std::uint32_t> dense_;            // memo index -> node id + 1 (0: empty)
  std::map<std::uint64_t, std::uint32_t> sparse_;  // indices too far out for dense_
  std::uint64_t memo_count_ = 0;
  std::uint64_t copied_items_ = 0;
  std::uint64_t opcodes_ = 0;

  int proto_ = 0;
  bool seen_proto_ = false;
  bool above_proto_warned_ = false;
  std::uint64_t op_offset_ = 0;
  std::uint8_t op_ = 0;
  bool in_opcode_ = false;
  std::uint32_t root_ = 0;
  brine::error err_;
};

}  // namespace brine::detail
