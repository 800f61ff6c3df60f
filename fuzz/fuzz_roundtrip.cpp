// fuzz/fuzz_roundtrip.cpp — property: decode -> encode -> decode is stable, and encode is
// deterministic.
//
// For a successful decode d1 and each protocol: encode(d1) either fails with errc::bad_argument
// (a value the protocol cannot express: an out-of-band buffer below 5, a dotted name below 4, ...,
// brine/encode.hpp) or gives bytes e1 such that
//   * encoding d1 again gives e1 byte for byte (deterministic);
//   * e1 decodes (d2), and d2 has the canonical text of d1 (conformance/differential/canonical.hpp:
//     the graph as CPython would see it) — for profiles that fold builtins and map names as the
//     encoder assumes (an unfolded `builtins.set(list)` call is written as the REDUCE it is, and
//     decoding that with folding on gives a set, as CPython would), and when the protocol has
//     the graph's call opcodes (NEWOBJ from 2, NEWOBJ_EX from 4; CPython writes other calls
//     below that). Below protocol 3 d1's globals are compared by the name they come back with
//     (fix_imports is not a bijection), and when one comes back as a builtin brine folds
//     (`__builtin__.bytes` written at protocol 3 is read back as builtins.bytes at 0-2, and its
//     call as b''), the comparison is skipped, and e1 may fail to decode with type_mismatch or
//     unhashable (b'' called, a set used as a key: CPython's pickle.loads fails on e1 too);
//   * d2 is a fixed point: encode(d2) decodes to d2's canonical text and re-encodes to itself.
// Out-of-band buffers are written out-of-band at protocol 5 and handed to the second decode.
// The default profile runs every protocol; the other three one protocol picked from the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brine/decode.hpp"
#include "brine/encode.hpp"
#include "brine/opcodes.hpp"
#include "canonical.hpp"
#include "fuzz_support.hpp"

namespace {

struct encoded {
  brine::result<std::string> bytes = brine::error{};
  std::vector<brine::oob_buffer> buffers;
};

encoded encode(const brine::value& root, int protocol, bool fix_imports) {
  encoded out;
  brine::encode_options eo;
  eo.protocol = protocol;
  eo.fix_imports = fix_imports;
  eo.on_buffer = [&out](brine::value, std::span<const std::byte> data, bool readonly) {
    out.buffers.push_back({data, readonly});
    return false;  // out-of-band
  };
  out.bytes = brine::encode(root, eo);
  return out;
}

// CPython writes NEWOBJ below protocol 2 as copyreg.__newobj__(cls, *args), and NEWOBJ_EX below 4
// as functools.partial(cls.__new__, cls, *args, **kwargs)(): the same object, another graph.
bool native_at(const brine::document& doc, int protocol) {
  if (protocol >= 4) return true;
  for (std::uint32_t id = 0; id < doc.node_count(); ++id) {
    const brine::value v = doc.node(id);
    if (!v.is(brine::kind::object)) continue;
    if (v.how() == brine::call_kind::newobj_ex) return false;
    if (v.how() == brine::call_kind::newobj && protocol < 2) return false;
  }
  return true;
}

// What a global named module.name (as Python 3 names it) is called after a round trip at
// `protocol`: below 3 the encoder writes the Python 2 name (fix_imports) and the decoder maps it
// back, and CPython's tables are not a bijection (`_functools.reduce` comes back as
// `functools.reduce`). Found by the same round trip on a pickle holding just the global.
std::pair<std::string, std::string> through(std::string_view module, std::string_view name, int protocol) {
  std::pair<std::string, std::string> same{std::string(module), std::string(name)};
  std::string p = "\x80\x03" "c";  // (a hex escape would swallow the c)
  p.append(module).append("\n").append(name).append("\n.");
  const auto d = brine::decode(std::string_view(p));
  if (!d || !d->root().is(brine::kind::global)) return same;
  brine::encode_options eo;
  eo.protocol = protocol;
  const auto e = brine::encode(d->root(), eo);
  if (!e) return same;
  const auto back = brine::decode(std::string_view(*e));
  if (!back || !back->root().is(brine::kind::global)) return same;
  return {std::string(back->root().mapped_module()), std::string(back->root().mapped_name())};
}

// True when a global of `doc`, written at `protocol` and read back, becomes one the decoder folds
// (`__builtin__.bytes` at protocol 3 is read back as builtins.bytes at 0-2, and its call as b'').
bool folded_name(std::string_view module, std::string_view name) {
  return module == "_codecs" ||
         (module == "builtins" && (name == "set" || name == "frozenset" || name == "bytearray" || name == "bytes"));
}

bool renames_to_fold(const brine::document& doc, int protocol) {
  if (protocol >= 3) return false;
  for (std::uint32_t id = 0; id < doc.node_count(); ++id) {
    const brine::value v = doc.node(id);
    if (!v.is(brine::kind::global)) continue;
    const auto to = through(v.mapped_module(), v.mapped_name(), protocol);
    if ((to.first != v.mapped_module() || to.second != v.mapped_name()) && folded_name(to.first, to.second))
      return true;
  }
  return false;
}

void check(const brine::document& d1, const brine::decode_options& options, int protocol) {
  brine_differential::canonical_options co;
  co.buffers_by_content = true;        // the encoder numbers buffers in its own walk order
  co.canonical_nans = protocol == 0;  // FLOAT text is repr(): no NaN sign or payload
  co.discarded_calls = true;          // a state_setter call is written again
  const encoded e1 = encode(d1.root(), protocol, options.fix_imports);
  if (!e1.bytes) {
    BRINE_FUZZ_CHECK(e1.bytes.error().code == brine::errc::bad_argument);
    return;
  }
  const encoded again = encode(d1.root(), protocol, options.fix_imports);
  BRINE_FUZZ_CHECK(again.bytes.has_value() && *again.bytes == *e1.bytes);

  brine::decode_options second = options;
  second.limits = brine::decode_limits{};  // the encoding may memoize more than the input did
  second.strict_frames = true;
  second.strict_numbers = true;
  second.allow_persistent_ids = true;
  second.buffers = e1.buffers;
  second.buffers_given = true;
  // A call that becomes one the decoder folds changes the graph: the folded value may then be
  // used as nothing plain data can be (b'' called, a set as a dict key), and CPython's pickle.loads
  // fails on those bytes too. That is the one way e1 may not decode.
  const bool renamed_to_fold = options.fold_builtins && options.fix_imports && renames_to_fold(d1, protocol);
  const auto d2 = brine::decode(*e1.bytes, second);
  if (!d2 && renamed_to_fold) {
    BRINE_FUZZ_CHECK(d2.error().code == brine::errc::type_mismatch || d2.error().code == brine::errc::unhashable);
    return;
  }
  BRINE_FUZZ_CHECK(d2.has_value());
  const std::string c2 = brine_differential::canonical(d2->root(), co);
  if (options.fold_builtins && options.fix_imports && native_at(d1, protocol)) {
    brine_differential::canonical_options c1o = co;
    if (protocol < 3) c1o.rename_global = [protocol](std::string_view m, std::string_view q) { return through(m, q, protocol); };
    const std::string c1 = brine_differential::canonical(d1.root(), c1o);
    if (c1 != c2 && !renamed_to_fold && std::getenv("BRINE_FUZZ_VERBOSE"))
      std::fprintf(stderr, "protocol %d\ndecoded:    %s\nre-decoded: %s\n", protocol, c1.c_str(), c2.c_str());
    BRINE_FUZZ_CHECK(c1 == c2 || renamed_to_fold);
  }

  // One round reaches the fixed point: d2 re-encodes to bytes that decode to d2's graph and
  // encode to themselves. (e2 may differ from e1: a round trip below protocol 3 can merge two
  // globals that fix_imports maps to one name, and the encoder then shares them.)
  const encoded e2 = encode(d2->root(), protocol, options.fix_imports);
  BRINE_FUZZ_CHECK(e2.bytes.has_value());
  second.buffers = e2.buffers;
  const auto d3 = brine::decode(*e2.bytes, second);
  BRINE_FUZZ_CHECK(d3.has_value());
  BRINE_FUZZ_CHECK(brine_differential::canonical(d3->root(), co) == c2);
  const encoded e3 = encode(d3->root(), protocol, options.fix_imports);
  BRINE_FUZZ_CHECK(e3.bytes.has_value() && *e3.bytes == *e2.bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = brine_fuzz::bytes(data, size);
  unsigned pick = 0;
  for (std::size_t i = 0; i < size; ++i) pick = pick * 31u + data[i];
  const auto& profiles = brine_fuzz::profiles();
  for (std::size_t p = 0; p < profiles.size(); ++p) {
    const auto d1 = brine::decode(input, profiles[p]);
    if (!d1) continue;
    if (p == 0) {
      for (int protocol = 0; protocol <= brine::highest_protocol; ++protocol) check(*d1, profiles[p], protocol);
    } else {
      check(*d1, profiles[p], static_cast<int>((pick + p) % (brine::highest_protocol + 1)));
    }
  }
  return 0;
}
