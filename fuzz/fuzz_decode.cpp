// fuzz/fuzz_decode.cpp — property: brine::decode never crashes, leaks or hits undefined behaviour,
// and every document it returns is self-consistent.
//
// Self-consistent: the root and every child id name a node; every accessor valid for a node's kind
// works (the walk calls each one, so BRINE_ASSERT checks the preconditions in sanitizer builds and
// ASan the memory behind every view); every node offset points at an opcode byte before STOP; str
// is WTF-8; ints are minimal; containers, records and op streams have the shapes brine/document.hpp
// promises; dict keys and set items are hashable; the limits held. The walk keeps an explicit stack
// and visits every node once, whether the root reaches it or not (a POPped call stays recorded).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "brine/decode.hpp"
#include "brine/opcodes.hpp"
#include "fuzz_support.hpp"

namespace {

using brine::kind;

// Well-formed UTF-8 that may hold the 3-byte forms of U+D800..U+DFFF (what Python's
// 'surrogatepass' accepts): all a str node may hold.
bool is_wtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

bool is_decimal(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty() || (s[0] == '0' && s.size() > 1)) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

class walker {
 public:
  walker(const brine::document& doc, const brine::decode_options& options, std::span<const std::byte> input)
      : doc_(doc), options_(options), input_(input), n_(doc.node_count()), seen_(n_, 0), unhashable_(n_, 0) {}

  void run() {
    BRINE_FUZZ_CHECK(n_ > 0 && n_ <= options_.limits.max_nodes);
    BRINE_FUZZ_CHECK(doc_.root().valid() && doc_.root().id() < n_);
    BRINE_FUZZ_CHECK(doc_.stop_offset() < input_.size() && input_[doc_.stop_offset()] == std::byte{'.'});
    BRINE_FUZZ_CHECK(doc_.end_offset() == doc_.stop_offset() + 1);
    BRINE_FUZZ_CHECK(doc_.protocol() >= 0 && doc_.protocol() <= brine::highest_protocol);
    BRINE_FUZZ_CHECK(doc_.buffers_used() <= options_.buffers.size());
    BRINE_FUZZ_CHECK(doc_.memory_bytes() >= n_ * sizeof(brine::detail::node));
    for (const auto& w : doc_.warnings()) {
      BRINE_FUZZ_CHECK(w.offset <= doc_.stop_offset());
      sink_ += brine::warning_name(w.code).size();
    }
    // Hashability in id order: a tuple's items always precede it (they were on the stack).
    for (std::uint32_t id = 0; id < n_; ++id) {
      const brine::value v = doc_.node(id);
      const kind k = v.kind();
      bool bad = k == kind::list || k == kind::dict || k == kind::set || k == kind::bytearray;
      if (k == kind::tuple)
        for (std::uint32_t item : v.items().ids()) {
          BRINE_FUZZ_CHECK(item < id);
          bad = bad || unhashable_[item] != 0;
        }
      unhashable_[id] = bad ? 1 : 0;
    }
    visit(doc_.root().id());
    for (std::uint32_t id = 0; id < n_; ++id) visit(id);
    BRINE_FUZZ_CHECK(touched_ == n_);
  }

  std::uint64_t sink() const { return sink_; }

 private:
  void visit(std::uint32_t id) {
    if (seen_[id]) return;
    seen_[id] = 1;
    todo_.push_back(id);
    while (!todo_.empty()) {
      const std::uint32_t cur = todo_.back();
      todo_.pop_back();
      touch(doc_.node(cur));
    }
  }

  void child(std::uint32_t id) {
    BRINE_FUZZ_CHECK(id < n_);
    if (seen_[id]) return;
    seen_[id] = 1;
    todo_.push_back(id);
  }
  void child(const brine::value& v) {
    BRINE_FUZZ_CHECK(v.valid() && &v.doc() == &doc_);
    child(v.id());
  }
  void children(const brine::value_range& r) {
    for (std::uint32_t id : r.ids()) child(id);
  }

  // A view either lies inside the input (zero-copy) or in the document's own storage.
  void view(const void* data, std::size_t size) {
    const auto p = reinterpret_cast<std::uintptr_t>(data);
    const auto lo = reinterpret_cast<std::uintptr_t>(input_.data());
    if (size > 0 && p >= lo && p < lo + input_.size()) BRINE_FUZZ_CHECK(size <= lo + input_.size() - p);
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) sink_ += bytes[i];
  }

  void touch(const brine::value& v) {
    ++touched_;
    BRINE_FUZZ_CHECK(v.offset() < doc_.stop_offset());
    BRINE_FUZZ_CHECK(brine::find_opcode(static_cast<std::uint8_t>(input_[v.offset()])) != nullptr);
    sink_ += brine::kind_name(v.kind()).size();
    switch (v.kind()) {
      case kind::none:
        BRINE_FUZZ_CHECK(v.is_none() && v.is(kind::none));
        break;
      case kind::boolean:
        sink_ += v.as_bool() ? 1u : 0u;
        break;
      case kind::integer: {
        const std::string le = v.int_bytes();
        BRINE_FUZZ_CHECK(!le.empty());
        const auto top = static_cast<unsigned char>(le.back());
        if (le.size() > 1) {  // minimal: no redundant sign byte
          const auto next = static_cast<unsigned char>(le[le.size() - 2]);
          BRINE_FUZZ_CHECK(!(top == 0x00 && (next & 0x80) == 0) && !(top == 0xff && (next & 0x80) != 0));
        }
        if (v.fits_int64()) {
          BRINE_FUZZ_CHECK(le.size() <= 8);
          std::uint64_t u = (top & 0x80) ? ~std::uint64_t{0} : std::uint64_t{0};
          std::memcpy(&u, le.data(), le.size());
          BRINE_FUZZ_CHECK(static_cast<std::int64_t>(u) == v.as_int64());
          BRINE_FUZZ_CHECK(v.int_decimal() == std::to_string(v.as_int64()));
        } else {
          // Bounded by the payload limit (LONG1/LONG4) or the digit limit (text: < 0.42 bytes a digit).
          BRINE_FUZZ_CHECK(le.size() > 8 && le.size() <= std::max<std::uint64_t>(options_.limits.max_long_bytes,
                                                                                   options_.limits.max_int_digits / 2 + 2));
          if (le.size() <= 64) {  // decimal rendering is quadratic; short ones suffice
            const std::string dec = v.int_decimal();
            BRINE_FUZZ_CHECK(is_decimal(dec) && (dec[0] == '-') == ((top & 0x80) != 0));
          }
        }
        break;
      }
      case kind::floating: {
        const double d = v.as_double();
        std::uint64_t bits;
        std::memcpy(&bits, &d, 8);
        sink_ += bits;
        break;
      }
      case kind::str: {
        const std::string_view s = v.as_str();
        view(s.data(), s.size());
        BRINE_FUZZ_CHECK(is_wtf8(s));
        break;
      }
      case kind::bytes:
      case kind::bytearray: {
        const auto b = v.as_bytes();
        view(b.data(), b.size());
        break;
      }
      case kind::buffer: {
        const std::size_t index = v.buffer_index();
        BRINE_FUZZ_CHECK(index < doc_.buffers_used());
        const auto& supplied = options_.buffers[index];
        const auto b = v.as_bytes();
        BRINE_FUZZ_CHECK(b.data() == supplied.data.data() && b.size() == supplied.data.size());
        BRINE_FUZZ_CHECK(v.readonly() || !supplied.readonly);
        break;
      }
      case kind::tuple:
      case kind::list:
      case kind::set:
      case kind::frozenset: {
        const auto items = v.items();
        BRINE_FUZZ_CHECK(v.size() == items.size());
        const bool sequence = v.is(kind::tuple) || v.is(kind::list);
        for (std::size_t i = 0; i < items.size(); ++i) {
          const std::uint32_t id = items.ids()[i];
          child(id);
          if (!sequence) BRINE_FUZZ_CHECK(!unhashable_[id]);
          if (sequence && (i == 0 || i + 1 == items.size())) BRINE_FUZZ_CHECK(v[i].id() == id);
        }
        for (const brine::value item : items) sink_ += item.id();  // the iterators
        break;
      }
      case kind::dict: {
        const auto pairs = v.pairs();
        BRINE_FUZZ_CHECK(pairs.size() % 2 == 0 && v.size() * 2 == pairs.size());
        std::size_t last_str_key = pairs.size();
        for (std::size_t i = 0; i < pairs.size(); ++i) {
          const std::uint32_t id = pairs.ids()[i];
          child(id);
          if (i % 2 == 0) {
            BRINE_FUZZ_CHECK(!unhashable_[id]);
            if (pairs[i].is(kind::str)) last_str_key = i;
          }
        }
        if (last_str_key < pairs.size()) {  // last write wins, and the last str key is its own last write
          const brine::value found = v.find(pairs[last_str_key].as_str());
          BRINE_FUZZ_CHECK(found.valid() && found.id() == pairs.ids()[last_str_key + 1]);
        }
        break;
      }
      case kind::global: {
        BRINE_FUZZ_CHECK(!v.module().empty() && !v.name().empty());
        BRINE_FUZZ_CHECK(!v.mapped_module().empty() && !v.mapped_name().empty());
        sink_ += static_cast<std::uint64_t>(v.source());
        for (const auto& op : v.ops()) {
          // BUILD on a global, or a call POPped at once whose first argument is the global
          // (machine::record_discarded_call): nothing else targets one.
          if (op.kind == brine::op_kind::call) BRINE_FUZZ_CHECK(!op.values.empty());
          else BRINE_FUZZ_CHECK(op.kind == brine::op_kind::build && op.values.size() == 1);
          children(op.values);
        }
        break;
      }
      case kind::object: {
        const brine::call_kind how = v.how();
        child(v.callable());
        child(v.args());
        if (how != brine::call_kind::reduce) BRINE_FUZZ_CHECK(v.args().is(kind::tuple));
        if (how == brine::call_kind::inst)
          BRINE_FUZZ_CHECK(v.callable().is(kind::global) && v.callable().source() == brine::global_source::inst);
        BRINE_FUZZ_CHECK(v.kwargs().valid() == (how == brine::call_kind::newobj_ex));
        if (v.kwargs().valid()) {
          BRINE_FUZZ_CHECK(v.kwargs().is(kind::dict));
          child(v.kwargs());
        }
        for (const auto& op : v.ops()) {
          const std::size_t count = op.values.size();
          switch (op.kind) {
            case brine::op_kind::build:
            case brine::op_kind::append: BRINE_FUZZ_CHECK(count == 1); break;
            case brine::op_kind::setitem: BRINE_FUZZ_CHECK(count == 2); break;
            case brine::op_kind::setitems: BRINE_FUZZ_CHECK(count > 0 && count % 2 == 0); break;
            case brine::op_kind::appends:
            case brine::op_kind::additems:
            case brine::op_kind::call: BRINE_FUZZ_CHECK(count > 0); break;
          }
          children(op.values);
        }
        break;
      }
      case kind::persistent_id:
        BRINE_FUZZ_CHECK(options_.allow_persistent_ids);
        child(v.pid());
        if (!v.binary_pid()) BRINE_FUZZ_CHECK(v.pid().is(kind::str));
        break;
      case kind::extension:
        BRINE_FUZZ_CHECK(v.ext_code() > 0 && v.ext_code() <= INT32_MAX);
        break;
    }
  }

  const brine::document& doc_;
  const brine::decode_options& options_;
  std::span<const std::byte> input_;
  const std::size_t n_;
  std::vector<std::uint8_t> seen_;
  std::vector<std::uint8_t> unhashable_;
  std::vector<std::uint32_t> todo_;
  std::size_t touched_ = 0;
  std::uint64_t sink_ = 0;
};

volatile std::uint64_t g_sink;  // keeps the walk's reads observable

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = brine_fuzz::bytes(data, size);
  for (const auto& options : brine_fuzz::profiles()) {
    const auto r = brine::decode(input, options);
    if (!r) continue;
    walker w(*r, options, input);
    w.run();
    g_sink = g_sink + w.sink();
  }
  return 0;
}
