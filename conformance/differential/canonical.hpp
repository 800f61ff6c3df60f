// conformance/differential/canonical.hpp — the canonical text of a decoded graph that brine and
// CPython can both produce ("brine-differential v1", specified in README.md beside this file).
//
// It is docs/DESCRIBE.md's walk with the changes that make it a function of what CPython's C
// unpickler can observe in the objects it builds, not of how brine stores them:
//
//  * str and bytes are written inline every time (CPython shares some equal strings, e.g. its
//    1-character singletons, so their identity is not part of the graph);
//  * a global is identified by its (mapped) module and name, whichever node holds it (find_class
//    returns one object per name); BUILDs on any node of that name are its operations;
//  * call arguments are written as plain item lists, `(a,b)` and `{k:v}`, never numbered (a
//    callee receives a fresh tuple and dict);
//  * dicts, sets and frozensets follow Python's equality: one entry per equal key (the first key
//    and its position, the last value), one item per equal item; set and frozenset items are
//    sorted by a numbering-free shape, since CPython's iteration order is its hash order;
//  * ints outside int64 are hexadecimal, so rendering stays linear in their size.
//
// Used by brine_side (the brine half of the differential driver) and by fuzz/fuzz_roundtrip.cpp
// (a decoded graph and the graph decoded from its re-encoding must have the same canonical text).
// Iterative: a graph a million levels deep needs no recursion.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "brine/document.hpp"

namespace brine_differential {

struct canonical_options {
  /// Write an out-of-band buffer as its contents (`B<hex>;`) instead of its index (`B<i>`), for
  /// comparisons where buffer numbering may change (a re-encoding numbers them in walk order).
  bool buffers_by_content = false;
  /// Write every NaN as the canonical quiet NaN (`f7ff8000000000000`), for comparisons with text
  /// floats (protocol 0 writes repr(), which keeps neither a NaN's sign nor its payload).
  bool canonical_nans = false;
  /// When set, globals are written (and identified) by the name this returns for their mapped
  /// module and name: for comparisons across CPython's fix_imports mapping, which is not a
  /// bijection (protocol 2 writes `_functools.reduce` as `__builtin__.reduce`, read back as
  /// `functools.reduce`).
  std::function<std::pair<std::string, std::string>(std::string_view module, std::string_view name)> rename_global;
  /// Write discarded calls (op_kind::call: REDUCE then POP, a state_setter) as `.c(f,args...)`.
  /// Off for comparisons with CPython's loads, whose result keeps no trace of them.
  bool discarded_calls = false;
};

/// The canonical text of the graph reachable from `root` (a valid value of a live document).
std::string canonical(brine::value root, const canonical_options& options = {});

}  // namespace brine_differential
