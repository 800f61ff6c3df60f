// brine/repr.hpp — render a decoded value as Python would show it.
//
// Plain data reads exactly as CPython's repr() writes it: None, True, 12, -1.5e-07, 'text' (with
// CPython's quote choice and escapes, printable non-ASCII kept unless `ascii_only`), b'bytes',
// bytearray(b'..'), (1,), [1, 2], {'a': 1}, {1, 2}, set(), frozenset({1}), frozenset().
// Everything pickle records but Python would not show as data is rendered as the call that would
// rebuild it (nothing here is ever imported or called):
//
//   global               module.qualname              (names after fix_imports)
//   REDUCE               callable(arg, ...)           callable(*args) when args is not a tuple
//   NEWOBJ               cls.__new__(cls, arg, ...)
//   NEWOBJ_EX            cls.__new__(cls, arg, ..., **kwargs)
//   INST / OBJ           cls(arg, ...)
//   BUILD                <object>.__setstate__(state)
//   APPEND / APPENDS     <object>.append(x)  for one APPEND, else .extend([x, y, ...])
//   SETITEM / SETITEMS   <object>.update({k: v, ...})
//   ADDITEMS             <object>.update({x, ...})
//   REDUCE then POP      <object>.__applied__(f, y, ...)  for the discarded call f(<object>, y, ...)
//   PERSID / BINPERSID   persistent_id(pid)
//   EXT1 / EXT2 / EXT4   <extension 127>
//   NEXT_BUFFER          <buffer #0> or <buffer #0 readonly> (index in the decode buffer list)
//
// Consecutive APPEND(S), SETITEM(S) or ADDITEMS on one object are merged into one call; BUILD
// never is. An int of more than 4300 decimal digits (which CPython refuses to convert) is written
// as a hex literal, 0x..., that evaluates to the same value.
//
// Sharing and cycles (`repr_options::sharing`):
//  * python: like repr(); shared objects are repeated in full; an object met again inside itself
//    is shown with reprlib's markers: [...] {...} (...) set(...) frozenset(...), and ... for a
//    recorded object (a global with ops shows its bare name).
//  * labels: objects reached more than once are written in full the first time, prefixed <#n>,
//    and as <@n> afterwards (n counts from 1 in output order), so nothing is expanded twice and
//    cycles need no marker. Labelled: lists, dicts, sets, frozensets, non-empty tuples,
//    bytearrays, recorded objects, and str/bytes of 64 bytes or more; smaller atoms and globals
//    are repeated (labelling every memoized attribute name would drown the output).
//
// Layout: `max_width` 0 writes one line, as repr(). Otherwise a bracketed group (a container, a
// call's arguments, an op's argument) that does not fit in the remaining width is broken over
// lines, one entry per line indented by `indent` more, with a trailing comma, and the closing
// bracket on its own line; groups that fit stay on one line. Widths are counted in bytes.
// Indentation stops growing where it would pass `max_width`: deeper groups stay on one line.
//
// Limits: rendering is iterative (an explicit stack; a 10^6-deep list renders) and budgeted:
// every value written costs one unit (plus one per 64 bytes of str, bytes and int payload), and
// when `budget` runs out the value in progress is written as ..., every open bracket is closed and
// `truncated` is set. So a hostile "billion laughs" graph of 200 bytes costs at most `budget`
// units of work and output, whatever its expansion.
//
// Cost: the labels mode first walks the reachable graph once (linear in its nodes, not budgeted).
// Memory is linear in the document's node count and the nesting depth.
//
// Thread-safety: reentrant; reads the document only.
#pragma once

#include <cstddef>
#include <string>

#include "brine/document.hpp"

namespace brine {

enum class repr_sharing : unsigned char {
  python,  ///< shared objects repeated, cycles as [...] / {...} / (...) / ...
  labels,  ///< <#n> first time, <@n> afterwards
};

/// Default `repr_options::budget`: enough for any ordinary value, small enough to print in well
/// under a second.
inline constexpr std::size_t default_repr_budget = 100'000;

struct repr_options {
  /// Escape every non-ASCII character in str, as ascii() does.
  bool ascii_only = false;
  /// 0: one line. Otherwise break groups that do not fit in this many columns.
  std::size_t max_width = 0;
  /// Blanks per nesting level when groups are broken over lines.
  std::size_t indent = 2;
  /// Units of work (about one per value written) before the output is cut with "...".
  std::size_t budget = default_repr_budget;
  repr_sharing sharing = repr_sharing::python;
};

struct repr_result {
  std::string text;
  /// True when the budget ran out and the text ends in "..." somewhere.
  bool truncated = false;
};

/// Render `v` (precondition: v.valid()).
repr_result repr(const value& v, const repr_options& options = {});

}  // namespace brine
