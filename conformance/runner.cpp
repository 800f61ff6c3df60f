// conformance/runner.cpp — decode the CPython-generated corpus and compare brine's graph with the
// description the writing interpreter made (docs/DESCRIBE.md, "brine-describe v1").
//
// Usage: brine_conformance CORPUS_DIR [--max-mismatches N] [--verbose]
//
// For every `<case>.pkl` under CORPUS_DIR (recursively):
//   * y_ (and any other prefix but n_ / i_): decode with the options of `<case>.desc` (encoding,
//     out-of-band buffers read from `<case>.buf<i>` and passed writable, so that a buffer's
//     `readonly()` reflects READONLY_BUFFER), describe `document.root()` and compare byte for byte;
//   * n_: decoding must fail; the `.desc` header, if any, may name the expected `errc` (errc_name)
//     and `offset`;
//   * i_: either outcome passes (the file must not crash the decoder).
// Then prints pass/total per interpreter directory and protocol, the first mismatches with the
// position of the first difference, and exits non-zero on any failure.
//
// The walk is iterative (an explicit stack), so a graph a million levels deep is described without
// recursion; a built-in case checks exactly that. Uses only brine's public headers.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brine/brine.hpp"
#include "op_group.hpp"

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// The canonical description of a decoded graph.

struct work {
  std::string_view lit;  // emitted as is when `is_lit`
  brine::value v;
  bool is_lit = false;
};

work lit(std::string_view s) { return {s, brine::value(), true}; }
work val(brine::value v) { return {{}, v, false}; }

void append_hex(std::string& out, std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  for (const std::byte b : bytes) {
    const auto u = std::to_integer<unsigned>(b);
    out.push_back(digits[u >> 4]);
    out.push_back(digits[u & 15u]);
  }
}

void append_hex(std::string& out, std::string_view s) {
  append_hex(out, std::as_bytes(std::span<const char>(s.data(), s.size())));
}

void append_u64_hex(std::string& out, std::uint64_t x) {
  static constexpr char digits[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(digits[(x >> shift) & 15u]);
}

bool identity_tracked(const brine::value& v) {
  switch (v.kind()) {
    case brine::kind::str:
    case brine::kind::bytes:
    case brine::kind::bytearray:
    case brine::kind::list:
    case brine::kind::dict:
    case brine::kind::set:
    case brine::kind::frozenset:
    case brine::kind::global:
    case brine::kind::object:
      return true;
    case brine::kind::tuple:
      return v.size() != 0;
    default:
      return false;
  }
}

// Operation groups: APPEND/APPENDS merge into `.a[...]`, SETITEM/SETITEMS into `.s{...}`,
// ADDITEMS into `.A{...}`; BUILD is `.b(...)`, a discarded call `.c(...)`, and they never merge.
using brine_conformance::op_group;

std::string_view group_open(char g) {
  switch (g) {
    case 'a': return ".a[";
    case 's': return ".s{";
    case 'A': return ".A{";
    case 'c': return ".c(";
    default: return ".b(";
  }
}

std::string_view group_close(char g) {
  switch (g) {
    case 'a': return "]";
    case 's':
    case 'A': return "}";
    default: return ")";
  }
}

void push_ops(std::vector<work>& body, const brine::value& v) {
  char open = 0;
  std::size_t count = 0;  // values written in the open group
  for (const brine::applied_op& op : v.ops()) {
    if (op.values.empty()) continue;  // an empty batch writes nothing
    const char g = op_group(op.kind);
    if (g == 'b' || g == 'c' || g != open) {
      if (open != 0) body.push_back(lit(group_close(open)));
      body.push_back(lit(group_open(g)));
      open = g;
      count = 0;
    }
    for (std::size_t i = 0; i < op.values.size(); ++i) {
      if (count != 0) body.push_back(lit(g == 's' && count % 2 == 1 ? ":" : ","));
      body.push_back(val(op.values[i]));
      ++count;
    }
    if (g == 'b' || g == 'c') {
      body.push_back(lit(group_close(g)));
      open = 0;
    }
  }
  if (open != 0) body.push_back(lit(group_close(open)));
}

void push_items(std::vector<work>& body, const brine::value_range& items, bool pairs) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) body.push_back(lit(pairs && i % 2 == 1 ? ":" : ","));
    body.push_back(val(items[i]));
  }
}

std::string_view call_open(brine::call_kind how) {
  switch (how) {
    case brine::call_kind::reduce: return "oR(";
    case brine::call_kind::newobj: return "oN(";
    case brine::call_kind::newobj_ex: return "oX(";
    case brine::call_kind::inst: return "oI(";
    case brine::call_kind::obj: return "oO(";
  }
  return "o?(";
}

std::string describe(const brine::document& doc) {
  std::vector<std::uint32_t> number(doc.node_count(), 0);
  std::uint32_t next = 0;
  std::string out;
  std::vector<work> stack{val(doc.root())};
  std::vector<work> body;
  while (!stack.empty()) {
    const work w = stack.back();
    stack.pop_back();
    if (w.is_lit) {
      out += w.lit;
      continue;
    }
    const brine::value& v = w.v;
    switch (v.kind()) {
      case brine::kind::none: out += 'N'; continue;
      case brine::kind::boolean: out += v.as_bool() ? 'T' : 'F'; continue;
      case brine::kind::integer:
        out += 'i';
        out += v.fits_int64() ? std::to_string(v.as_int64()) : v.int_decimal();
        continue;
      case brine::kind::floating:
        out += 'f';
        append_u64_hex(out, std::bit_cast<std::uint64_t>(v.as_double()));
        continue;
      case brine::kind::buffer:
        out += 'B';
        out += std::to_string(v.buffer_index());
        if (v.readonly()) out += 'r';
        continue;
      case brine::kind::extension:
        out += 'x';
        out += std::to_string(v.ext_code());
        continue;
      case brine::kind::persistent_id:
        out += "P(";
        stack.push_back(lit(")"));
        stack.push_back(val(v.pid()));
        continue;
      case brine::kind::tuple:
        if (v.size() == 0) {
          out += 'E';
          continue;
        }
        break;
      default:
        break;
    }
    if (!identity_tracked(v)) {  // every kind is handled above or tracked
      out += '?';
      continue;
    }
    std::uint32_t& n = number[v.id()];
    if (n != 0) {
      out += '@';
      out += std::to_string(n);
      continue;
    }
    n = ++next;
    out += '#';
    out += std::to_string(n);
    out += '=';
    body.clear();
    switch (v.kind()) {
      case brine::kind::str:
        out += 's';
        append_hex(out, v.as_str());
        out += ';';
        break;
      case brine::kind::bytes:
      case brine::kind::bytearray:
        out += v.kind() == brine::kind::bytes ? 'b' : 'y';
        append_hex(out, v.as_bytes());
        out += ';';
        break;
      case brine::kind::tuple:
        body.push_back(lit("t("));
        push_items(body, v.items(), false);
        body.push_back(lit(")"));
        break;
      case brine::kind::list:
        body.push_back(lit("l["));
        push_items(body, v.items(), false);
        body.push_back(lit("]"));
        break;
      case brine::kind::dict:
        body.push_back(lit("d{"));
        push_items(body, v.pairs(), true);
        body.push_back(lit("}"));
        break;
      case brine::kind::set:
      case brine::kind::frozenset:
        body.push_back(lit(v.kind() == brine::kind::set ? "S{" : "z{"));
        push_items(body, v.items(), false);
        body.push_back(lit("}"));
        break;
      case brine::kind::global:
        out += "g(";
        append_hex(out, v.mapped_module());
        out += ',';
        append_hex(out, v.mapped_name());
        out += ')';
        push_ops(body, v);  // BUILD on a global: never written by CPython, shown like an object's
        break;
      case brine::kind::object: {
        body.push_back(lit(call_open(v.how())));
        body.push_back(val(v.callable()));
        body.push_back(lit(","));
        body.push_back(val(v.args()));
        const brine::value kw = v.kwargs();
        if (kw.valid()) {
          body.push_back(lit(","));
          body.push_back(val(kw));
        }
        body.push_back(lit(")"));
        push_ops(body, v);
        break;
      }
      default:
        break;
    }
    for (auto it = body.rbegin(); it != body.rend(); ++it) stack.push_back(*it);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Corpus files.

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return std::move(ss).str();
}

struct description {
  std::map<std::string, std::string> header;
  std::string body;
};

description parse_desc(const std::string& text) {
  description d;
  const std::size_t split = text.find("\n\n");
  const std::string head = text.substr(0, split);
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t end = head.find('\n', pos);
    if (end == std::string::npos) end = head.size();
    const std::string line = head.substr(pos, end - pos);
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) d.header[line.substr(0, eq)] = line.substr(eq + 1);
    pos = end + 1;
  }
  if (split != std::string::npos) {
    d.body = text.substr(split + 2);
    while (!d.body.empty() && (d.body.back() == '\n' || d.body.back() == '\r')) d.body.pop_back();
  }
  return d;
}

std::optional<brine::py2_encoding> parse_encoding(const std::string& s) {
  if (s.empty() || s == "ascii") return brine::py2_encoding::ascii;
  if (s == "latin1") return brine::py2_encoding::latin1;
  if (s == "utf8") return brine::py2_encoding::utf8;
  if (s == "bytes") return brine::py2_encoding::bytes;
  return std::nullopt;
}

struct outcome {
  outcome() = default;
  outcome(bool p, std::string d) : pass(p), detail(std::move(d)) {}
  bool pass = false;
  std::string detail;  // why it failed
  // decode -> encode at the pickle's own protocol: -1 not tried, 0 different bytes, 1 identical.
  int reencoded = -1;
  std::string reencode_detail;
};

std::string excerpt(const std::string& s, std::size_t at) {
  const std::size_t from = at > 60 ? at - 60 : 0;
  std::string e = s.substr(from, 140);
  return (from > 0 ? "..." : "") + e + (from + 140 < s.size() ? "..." : "");
}

outcome compare(const std::string& expected, const std::string& got) {
  if (expected == got) return {true, {}};
  const auto mm = std::mismatch(expected.begin(), expected.end(), got.begin(), got.end());
  const auto at = static_cast<std::size_t>(mm.first - expected.begin());
  std::ostringstream ss;
  ss << "first difference at character " << at << " (expected " << expected.size() << " characters, got "
     << got.size() << ")\n    expected: " << excerpt(expected, at) << "\n    brine:    " << excerpt(got, at);
  return {false, ss.str()};
}

outcome run_file(const fs::path& pkl, const std::string& stem_name, brine::cpython_profile profile) {
  const auto data = read_file(pkl);
  if (!data) return {false, "cannot read " + pkl.string()};
  fs::path desc_path = pkl;
  desc_path.replace_extension(".desc");
  const auto desc_text = read_file(desc_path);
  const bool must_fail = stem_name.rfind("n_", 0) == 0;
  const bool either = stem_name.rfind("i_", 0) == 0;
  if (!desc_text && !must_fail && !either) return {false, "missing " + desc_path.filename().string()};
  const description desc = desc_text ? parse_desc(*desc_text) : description{};

  brine::decode_options options;
  const auto enc = desc.header.count("encoding") ? parse_encoding(desc.header.at("encoding"))
                                                  : std::optional(brine::py2_encoding::ascii);
  if (!enc) return {false, "unknown encoding '" + desc.header.at("encoding") + "'"};
  options.encoding = *enc;
  std::vector<std::string> buffer_storage;
  if (desc.header.count("buffers")) {
    const long count = std::strtol(desc.header.at("buffers").c_str(), nullptr, 10);
    options.buffers_given = true;
    for (long i = 0; i < count; ++i) {
      fs::path bp = pkl;
      bp.replace_extension(".buf" + std::to_string(i));
      auto b = read_file(bp);
      if (!b) return {false, "missing " + bp.filename().string()};
      buffer_storage.push_back(std::move(*b));
    }
    for (const std::string& b : buffer_storage)
      options.buffers.push_back({std::as_bytes(std::span<const char>(b.data(), b.size())), false});
  }

  auto doc = brine::decode(std::string_view(*data), options);
  if (must_fail) {
    if (doc) return {false, "decoded, but must be rejected"};
    const brine::error& e = doc.error();
    if (desc.header.count("errc") && desc.header.at("errc") != brine::errc_name(e.code))
      return {false, "expected errc " + desc.header.at("errc") + ", got " + e.to_string()};
    if (desc.header.count("offset") && desc.header.at("offset") != std::to_string(e.offset))
      return {false, "expected offset " + desc.header.at("offset") + ", got " + e.to_string()};
    return {true, {}};
  }
  if (either) return {true, {}};
  if (!doc) return {false, "decode failed: " + doc.error().to_string()};
  outcome result = compare(desc.body, describe(*doc));
  // Encoder side: re-encode at the same protocol and compare with what CPython wrote.
  if (desc.header.count("protocol")) {
    brine::encode_options eo;
    eo.protocol = std::atoi(desc.header.at("protocol").c_str());
    eo.profile = profile;
    eo.on_buffer = [](brine::value, std::span<const std::byte>, bool) { return false; };  // keep them out-of-band
    auto again = brine::encode(doc->root(), eo);
    if (!again) {
      result.reencoded = 0;
      result.reencode_detail = "encode failed: " + again.error().to_string();
    } else if (*again == *data) {
      result.reencoded = 1;
    } else {
      const auto mm = std::mismatch(data->begin(), data->end(), again->begin(), again->end());
      result.reencoded = 0;
      result.reencode_detail = "bytes differ from offset " + std::to_string(mm.first - data->begin()) + " (CPython " +
                               std::to_string(data->size()) + " bytes, brine " + std::to_string(again->size()) + ")";
    }
  }
  return result;
}

// A graph a million levels deep: `]` * N then `a` * (N - 1) nests N lists. Checks that decoding,
// describing and destroying need no recursion.
outcome deep_self_test() {
  constexpr std::size_t depth = 1'000'000;
  std::string pickle = "\x80\x04";
  pickle.append(depth, ']');
  pickle.append(depth - 1, 'a');
  pickle += '.';
  std::string expected;
  for (std::size_t i = 1; i <= depth; ++i) expected += "#" + std::to_string(i) + "=l[";
  expected.append(depth, ']');
  auto doc = brine::decode(std::string_view(pickle));
  if (!doc) return {false, "decode failed: " + doc.error().to_string()};
  return compare(expected, describe(*doc));
}

struct tally {
  std::map<int, std::pair<int, int>> by_protocol;  // protocol -> (pass, total)
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [--max-mismatches N] [--verbose]\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  std::size_t max_mismatches = 20;
  bool verbose = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--max-mismatches" && i + 1 < argc) {
      max_mismatches = static_cast<std::size_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--verbose") {
      verbose = true;
    }
  }
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    std::fprintf(stderr, "brine_conformance: %s is not a directory\n", root.string().c_str());
    return 2;
  }

  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".pkl") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());

  std::map<std::string, tally> table;
  // decode -> encode byte identity: plain data from CPython 3.8-3.13 at protocols 2-5 (the
  // acceptance set; a str/bytes set's order depends on the hash seed, so `strset` is out) must be
  // identical unless conformance/DEVIATIONS.md lists it; everything else is reported.
  std::map<int, std::pair<int, int>> identical_plain, identical_all;
  std::vector<std::pair<std::string, std::string>> reencode_failures, reencode_other;
  std::vector<std::pair<std::string, std::string>> failures;
  int pass = 0;
  int total = 0;
  auto record = [&](const std::string& group, int protocol, const std::string& name, const outcome& o) {
    auto& cell = table[group].by_protocol[protocol];
    ++cell.second;
    ++total;
    if (o.pass) {
      ++cell.first;
      ++pass;
      if (verbose) std::printf("ok   %s\n", name.c_str());
    } else {
      failures.emplace_back(name, o.detail);
    }
  };

  record("(built-in)", -1, "deep_list_1000000", deep_self_test());

  for (const fs::path& p : files) {
    const std::string rel = fs::relative(p, root, ec).string();
    const std::string group = p.parent_path() == root ? "." : p.parent_path().filename().string();
    int protocol = -1;
    fs::path desc_path = p;
    desc_path.replace_extension(".desc");
    if (const auto text = read_file(desc_path)) {
      const description d = parse_desc(*text);
      if (d.header.count("protocol")) protocol = std::atoi(d.header.at("protocol").c_str());
    }
    // Each interpreter's pickles are compared with the encoder profile of that CPython.
    const brine::cpython_profile profile =
        group == "cpython-3.11" ? brine::cpython_profile::cpython_3_11 : brine::cpython_profile::cpython_3_8_to_3_14;
    const outcome o = run_file(p, p.stem().string(), profile);
    record(group, protocol, rel, o);
    if (o.reencoded >= 0) {
      std::string tags;
      if (const auto text = read_file(desc_path)) {
        const description d = parse_desc(*text);
        if (d.header.count("tags")) tags = "," + d.header.at("tags") + ",";
      }
      const bool modern = group.rfind("cpython-3.", 0) == 0 && group.find("-numpy") == std::string::npos &&
                          std::atoi(group.c_str() + 10) >= 8;
      const bool plain = modern && protocol >= 2 && tags.find(",plain,") != std::string::npos &&
                         tags.find(",strset,") == std::string::npos;
      auto& all = identical_all[protocol];
      ++all.second;
      all.first += o.reencoded;
      if (plain) {
        auto& cell = identical_plain[protocol];
        ++cell.second;
        cell.first += o.reencoded;
        if (!o.reencoded) reencode_failures.emplace_back(rel, o.reencode_detail);
      } else if (!o.reencoded) {
        reencode_other.emplace_back(rel, o.reencode_detail);
      }
    }
  }

  // Summary: one row per interpreter directory, one column per protocol.
  std::printf("%-22s", "interpreter");
  for (int proto = 0; proto <= 5; ++proto) std::printf(" %9s", ("p" + std::to_string(proto)).c_str());
  std::printf(" %9s %11s\n", "other", "total");
  for (const auto& [group, t] : table) {
    std::printf("%-22s", group.c_str());
    int gp = 0;
    int gt = 0;
    std::string other = "-";
    for (int proto = 0; proto <= 5; ++proto) {
      const auto it = t.by_protocol.find(proto);
      if (it == t.by_protocol.end()) {
        std::printf(" %9s", "-");
        continue;
      }
      std::printf(" %9s", (std::to_string(it->second.first) + "/" + std::to_string(it->second.second)).c_str());
      gp += it->second.first;
      gt += it->second.second;
    }
    int op = 0;
    int ot = 0;
    for (const auto& [proto, cell] : t.by_protocol) {
      if (proto >= 0 && proto <= 5) continue;
      op += cell.first;
      ot += cell.second;
    }
    if (ot != 0) other = std::to_string(op) + "/" + std::to_string(ot);
    std::printf(" %9s %11s\n", other.c_str(), (std::to_string(gp + op) + "/" + std::to_string(gt + ot)).c_str());
  }
  for (std::size_t i = 0; i < failures.size() && i < max_mismatches; ++i)
    std::printf("\nMISMATCH %s\n    %s\n", failures[i].first.c_str(), failures[i].second.c_str());
  if (failures.size() > max_mismatches)
    std::printf("\n... and %zu more mismatches\n", failures.size() - max_mismatches);
  std::printf("\n%d passed, %d failed\n", pass, total - pass);

  std::printf("\ndecode -> encode at the same protocol, byte-identical / total\n%-34s", "");
  for (int proto = 0; proto <= 5; ++proto) std::printf(" %9s", ("p" + std::to_string(proto)).c_str());
  auto row = [](const char* label, const std::map<int, std::pair<int, int>>& cells) {
    std::printf("\n%-34s", label);
    for (int proto = 0; proto <= 5; ++proto) {
      const auto it = cells.find(proto);
      std::printf(" %9s", it == cells.end() ? "-" : (std::to_string(it->second.first) + "/" + std::to_string(it->second.second)).c_str());
    }
  };
  row("plain data, CPython 3.8-3.13", identical_plain);
  row("every pickle in the corpus", identical_all);
  std::printf("\n");
  for (std::size_t i = 0; i < reencode_failures.size() && i < max_mismatches; ++i)
    std::printf("\nNOT IDENTICAL %s\n    %s\n", reencode_failures[i].first.c_str(), reencode_failures[i].second.c_str());
  if (verbose)
    for (const auto& [name, why] : reencode_other) std::printf("differs (outside the acceptance set) %s: %s\n", name.c_str(), why.c_str());
  return failures.empty() && reencode_failures.empty() ? 0 : 1;
}
