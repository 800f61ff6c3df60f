// bench/digest.cpp — digest_of (bench_common.hpp): the token stream of make_workloads.py's
// digest(), walked over a brine document. Keep the two in step.
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "brine/document.hpp"

namespace bench {
namespace {

class token_stream {
 public:
  void put(std::string_view s) {
    buf_ += s;
    if (buf_.size() >= (1u << 20)) flush();
  }
  void put(char c) { buf_ += c; }
  void number(char tag, std::string_view decimal) {
    put(tag);
    put(decimal);
    put(';');
  }
  void blob(char tag, std::string_view bytes) {
    put(tag);
    put(std::to_string(bytes.size()));
    put(':');
    put(bytes);
  }
  std::string finish() {
    flush();
    return std::to_string(crc_) + ":" + std::to_string(length_);
  }

 private:
  void flush() {
    crc_ = crc32_update(crc_, buf_);
    length_ += buf_.size();
    buf_.clear();
  }
  std::string buf_;
  std::uint32_t crc_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace

std::string digest_of(brine::value root, bool by_value) {
  using brine::kind;
  token_stream out;
  const std::size_t nodes = root.doc().node_count();
  std::vector<std::uint32_t> seen(nodes, 0);  // node id -> first-visit index + 1
  std::uint32_t visits = 0;
  std::vector<brine::value> stack{root};
  while (!stack.empty()) {
    const brine::value v = stack.back();
    stack.pop_back();
    const kind k = v.kind();
    switch (k) {
      case kind::none: out.put('N'); continue;
      case kind::boolean: out.put(v.as_bool() ? 'T' : 'F'); continue;
      case kind::integer: out.number('I', v.fits_int64() ? std::to_string(v.as_int64()) : v.int_decimal()); continue;
      case kind::floating: {
        const std::uint64_t bits = float_bits(v.as_double());
        char le[8];
        std::memcpy(le, &bits, 8);  // little-endian hosts (as brine itself)
        out.put('D');
        out.put(std::string_view(le, 8));
        continue;
      }
      default: break;
    }
    const bool tracked = !by_value && !(k == kind::tuple && v.size() == 0);
    if (tracked) {
      if (seen[v.id()] != 0) {
        out.number('R', std::to_string(seen[v.id()] - 1));
        continue;
      }
      seen[v.id()] = ++visits;
    }
    switch (k) {
      case kind::str: out.blob('S', v.as_str()); break;
      case kind::bytes: {
        const auto b = v.as_bytes();
        out.blob('B', std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
        break;
      }
      case kind::list:
      case kind::tuple: {
        const auto items = v.items();
        out.number(k == kind::list ? 'L' : 'U', std::to_string(items.size()));
        for (std::size_t i = items.size(); i-- > 0;) stack.push_back(items[i]);
        break;
      }
      case kind::dict: {
        const auto kv = v.pairs();
        out.number('M', std::to_string(kv.size() / 2));
        for (std::size_t i = kv.size(); i-- > 0;) stack.push_back(kv[i]);
        break;
      }
      case kind::object: {
        const brine::value c = v.callable();
        out.put('O');
        if (c.kind() == kind::global) {
          out.put(c.mapped_module());
          out.put('.');
          out.put(c.mapped_name());
        }
        out.put(';');
        stack.push_back(v.args());
        break;
      }
      default:
        // A kind the workloads do not hold: make the digest differ, naming it.
        out.put('?');
        out.put(brine::kind_name(k));
        break;
    }
  }
  return out.finish();
}

}  // namespace bench
