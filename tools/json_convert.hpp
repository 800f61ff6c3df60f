// tools/json_convert.hpp — decoded pickles to JSON and back, for `brine json` and
// `brine convert --from-json`.
//
// Plain JSON (`brine json FILE`) is for data-only pickles:
//
//   None null · bool true/false · int a JSON number, exact (ints of more than 4300 decimal digits,
//   CPython's int/str limit, are an error) · float a JSON number (NaN and ±inf are an error: JSON
//   has no spelling for them, and null would lose data silently) · str a string · bytes and
//   bytearray a base64 string · list and tuple an array · dict with str keys an object (a key
//   written twice: CPython's rule, the first position with the last value).
//
// Anything else (sets, dicts with other keys, globals, recorded calls, persistent ids, extension
// codes, buffers) is an error naming the first such node in walk order by kind and offset: "set
// at offset 12 is not JSON data". Shared values are written in full each time they are reached,
// and every value written costs one unit of `budget` (plus one per 64 bytes of string, bytes or
// int): a 224-byte "billion laughs" pickle fails with limit_exceeded (max_expanded_nodes) instead
// of writing 10^9 values. A value that contains itself is an error.
//
// Lossless JSON (`brine json --lossless FILE`) keeps every kind, the sharing and the order, so
// `brine convert --from-json` rebuilds a graph brine::equivalent to the original:
//
//   null, true, false, 12 (int64) · {"$int": "-0x1f"} (other ints, hex) · 1.5, 1.0, -0.0
//   (floats always show '.' or an exponent) · {"$float": "7ff8000000000000"} (NaN and ±inf, as
//   IEEE-754 bits) · "text" · {"$wtf8": base64} (a str holding lone surrogates) · {"$bytes":
//   base64} · {"$bytearray": base64} · [..] (list) · {"$tuple": [..]} · {"$dict": [[k, v], ..]} ·
//   {"$set": [..]} · {"$frozenset": [..]} · {"$global": ["module", "qualname"], "raw": [..]} (names
//   after fix_imports; "raw" as written, when they differ) · {"$object": "reduce" | "newobj" |
//   "newobj_ex" | "inst" | "obj", "callable": X, "args": X, "kwargs": X, "ops": [{"build": X},
//   {"append": X}, {"appends": [..]}, {"setitem": [k, v]}, {"setitems": [k, v, ..]}, {"additems":
//   [..]}, {"call": [f, ..]} (f(this object, ..), its result discarded: a state_setter)]} · {"$persid": X, "binary": true} · {"$ext": 7} · {"$buffer": base64, "readonly": b}.
//
//   A value reached more than once whose identity Python can observe (str, bytes, bytearray,
//   containers, non-empty tuples, globals, recorded objects; persistent ids, whose ids are
//   values too) gets "$id": n where it is first
//   written (ids count from 1 in writing order) and is written {"$ref": n} afterwards; a str or
//   bytes with an id is written {"$str": "text", "$id": n}. Cycles need nothing more.
//
// `--from-json` also reads plain JSON (objects whose keys do not start with '$' are dicts of str
// keys; base64 strings stay strings). Out-of-band buffers come back in-band as bytes: that is the
// one kind the round trip does not keep.
#pragma once

#include <cstdint>
#include <string>

#include <brine/document.hpp>
#include <brine/error.hpp>

namespace brine_cli {

struct json_options {
  bool lossless = false;
  /// Units of work (about one per value written) before failing with limit_exceeded.
  std::uint64_t budget = 10'000'000;
};

/// `root` as JSON text (one line, no trailing newline).
brine::result<std::string> to_json(const brine::value& root, const json_options& options);

/// A protocol-5 pickle holding the value that lossless (or plain) JSON text describes. Decode it
/// with fold_builtins off to get back exactly the recorded calls the JSON lists. Errors:
/// errc::bad_argument with the JSON byte offset.
brine::result<std::string> pickle_from_json(std::string_view json);

}  // namespace brine_cli
