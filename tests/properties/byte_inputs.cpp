// tests/properties/byte_inputs.cpp — opcode soup and mutated pickles (see the header).
#include "byte_inputs.hpp"

#include <algorithm>
#include <ostream>

#include "brine/opcodes.hpp"
#include "pickle_recipe.hpp"

namespace brine_prop {
namespace {

void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

rc::Gen<std::uint64_t> gen_count() {  // lengths, indices, ints: mostly small, sometimes absurd
  return rc::gen::weightedOneOf<std::uint64_t>({
      {8, rc::gen::inRange<std::uint64_t>(0, 6)},
      {2, rc::gen::element<std::uint64_t>(0x7f, 0x80, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xffffffff,
                                          0x100000000ull, 0x7fffffffffffffffull, 0xffffffffffffffffull)},
      {1, rc::gen::arbitrary<std::uint64_t>()},
  });
}

rc::Gen<char> gen_payload_byte() {
  return rc::gen::weightedOneOf<char>({
      {4, rc::gen::element<char>('a', 'b', '0', '\n', '\'', '\\', 'L')},
      {1, rc::gen::element<char>('\xed', '\xa0', '\x80', '\xc3', '\xff', '\xf0')},  // UTF-8 pieces, surrogates
      {2, rc::gen::arbitrary<char>()},
  });
}

// `declared` bytes follow a length prefix, give or take (a wrong count is a good test too).
std::string payload(std::uint64_t declared) {
  const std::uint64_t cap = std::min<std::uint64_t>(declared, 12);
  const std::size_t n = *rc::gen::weightedElement<bool>({{5, true}, {1, false}})
                            ? static_cast<std::size_t>(cap)
                            : *rc::gen::inRange<std::size_t>(0, 13);
  return *rc::gen::container<std::string>(n, gen_payload_byte());
}

std::string line(std::initializer_list<const char*> choices_list) {
  std::vector<std::string> v(choices_list.begin(), choices_list.end());
  std::string s = *rc::gen::elementOf(v);
  if (*rc::gen::weightedElement<bool>({{8, true}, {1, false}})) s += '\n';
  return s;
}

std::string argument(brine::arg a) {
  using brine::arg;
  std::string out;
  switch (a) {
    case arg::none: break;
    case arg::uint1: append_le(out, *gen_count(), 1); break;
    case arg::uint2: append_le(out, *gen_count(), 2); break;
    case arg::int4:
    case arg::uint4: append_le(out, *gen_count(), 4); break;
    case arg::uint8: append_le(out, *gen_count(), 8); break;
    case arg::float8: append_le(out, *rc::gen::arbitrary<std::uint64_t>(), 8); break;
    case arg::long1: {
      const std::uint64_t n = *gen_count();
      append_le(out, n, 1);
      out += payload(n & 0xff);
      break;
    }
    case arg::long4:
    case arg::string4:
    case arg::bytes4:
    case arg::unicodestring4: {
      const std::uint64_t n = *gen_count();
      append_le(out, n, 4);
      out += payload(n & 0xffffffff);
      break;
    }
    case arg::string1:
    case arg::bytes1:
    case arg::unicodestring1: {
      const std::uint64_t n = *gen_count();
      append_le(out, n, 1);
      out += payload(n & 0xff);
      break;
    }
    case arg::bytes8:
    case arg::bytearray8:
    case arg::unicodestring8: {
      const std::uint64_t n = *gen_count();
      append_le(out, n, 8);
      out += payload(n);
      break;
    }
    case arg::decimalnl_short:
      out = line({"0", "1", "00", "01", "-1", "255", "4294967295", "4294967296", "99999999999999999999", "1_0",
                  " 5", "+5", "0x10", "", "-"});
      break;
    case arg::decimalnl_long:
      out = line({"0L", "1", "-1L", "123456789012345678901234567890L", "L", "", "1x"});
      break;
    case arg::floatnl: out = line({"1.5", "-0.0", "nan", "-inf", "1e308", "1e999", "0x1p3", "", "1.5x"}); break;
    case arg::stringnl:
      out = line({"'a'", "\"b\"", "'", "''", "'\\x41\\n'", "'\\q'", "abc", "'\xff'", "'a\""});
      break;
    case arg::stringnl_noescape: out = line({"abc", "", "\xff", "0"}); break;
    case arg::stringnl_noescape_pair:
      out = line({"builtins\nset", "__builtin__\nset", "builtins\nfrozenset", "_codecs\nencode",
                  "__builtin__\nbytearray", "builtins\nbytes", "copy_reg\n_reconstructor", "a\n", "\n"});
      break;
    case arg::unicodestringnl:
      out = line({"abc", "\\u00e9", "\\ud800", "\\U0001f600", "\\u12", "\\U00110000", "\\", "\xe9"});
      break;
  }
  return out;
}

rc::Gen<std::string> gen_token() {
  return rc::gen::exec([] {
    switch (*rc::gen::weightedElement<int>({{10, 0}, {1, 1}, {1, 2}})) {
      case 0: {
        const auto& info = *rc::gen::elementOf(brine::opcode_table);
        return std::string(1, static_cast<char>(info.code)) + argument(info.arg);
      }
      case 1: return std::string(1, *rc::gen::arbitrary<char>());
      default: return std::string(1, '.');
    }
  });
}

rc::Gen<std::uint8_t> gen_mutation_byte() {
  return rc::gen::weightedOneOf<std::uint8_t>({
      {3, rc::gen::map(rc::gen::elementOf(brine::opcode_table),
                       [](const brine::opcode_info& i) { return i.code; })},
      {1, rc::gen::arbitrary<std::uint8_t>()},
  });
}

rc::Gen<mutation> gen_mutation() {
  return rc::gen::exec([] {
    mutation m;
    m.kind = *rc::gen::weightedElement<mutation::kind_t>({{2, mutation::truncate}, {4, mutation::overwrite},
                                                          {3, mutation::insert}, {2, mutation::erase},
                                                          {1, mutation::duplicate}, {2, mutation::set_u32}});
    m.pos = *rc::gen::arbitrary<std::uint32_t>();
    m.byte = *gen_mutation_byte();
    m.len = *rc::gen::inRange<std::uint8_t>(1, 16);
    m.word = *rc::gen::element<std::uint32_t>(0, 1, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xffffffff);
    return m;
  });
}

}  // namespace

rc::Gen<std::string> gen_opcode_soup() {
  return rc::gen::exec([] {
    const auto tokens = *rc::gen::container<std::vector<std::string>>(*rc::gen::inRange<std::size_t>(0, 24), gen_token());
    std::string out;
    for (const auto& t : tokens) out += t;
    if (out.size() > 256) out.resize(256);
    return out;
  });
}

std::string apply_mutations(std::string s, const std::vector<mutation>& mutations) {
  for (const mutation& m : mutations) {
    const std::size_t at = s.empty() ? 0 : m.pos % (s.size() + 1);
    switch (m.kind) {
      case mutation::truncate: s.resize(at); break;
      case mutation::overwrite:
        if (at < s.size()) s[at] = static_cast<char>(m.byte);
        break;
      case mutation::insert: s.insert(at, 1, static_cast<char>(m.byte)); break;
      case mutation::erase: s.erase(at, m.len); break;
      case mutation::duplicate: s.insert(at, s.substr(at, m.len)); break;
      case mutation::set_u32:
        for (std::size_t k = 0; k < 4 && at + k < s.size(); ++k)
          s[at + k] = static_cast<char>((m.word >> (8 * k)) & 0xff);
        break;
    }
  }
  return s;
}

rc::Gen<mutated_pickle> gen_mutated_pickle() {
  return rc::gen::exec([] {
    mutated_pickle m;
    m.original = write_pickle(*gen_graph());
    m.mutations = *rc::gen::container<std::vector<mutation>>(*rc::gen::inRange<std::size_t>(1, 5), gen_mutation());
    m.bytes = apply_mutations(m.original, m.mutations);
    return m;
  });
}

rc::Gen<byte_string> gen_hostile_bytes() {
  return rc::gen::weightedOneOf<byte_string>({
      {4, rc::gen::map(gen_mutated_pickle(), [](const mutated_pickle& m) { return byte_string{m.bytes}; })},
      {2, rc::gen::map(gen_opcode_soup(), [](std::string s) { return byte_string{std::move(s)}; })},
      {1, rc::gen::map(gen_graph(), [](const graph_recipe& g) { return byte_string{write_pickle(g)}; })},
  });
}

void showValue(const mutated_pickle& m, std::ostream& os) {
  os << "original " << hex(m.original) << "\nmutated " << hex(m.bytes);
}

void showValue(const byte_string& b, std::ostream& os) { os << hex(b.bytes) << " (" << b.bytes.size() << " bytes)"; }

}  // namespace brine_prop
