// conformance/op_group.hpp — the letter of an operation's group in the description formats
// (docs/DESCRIBE.md, the differential's canonical text): APPEND/APPENDS `a`, SETITEM/SETITEMS `s`,
// ADDITEMS `A` (consecutive operations of one group merge); BUILD `b` and a discarded call `c`
// (never merged). Shared by the conformance runner, the peer runner and the differential side.
#pragma once

#include "brine/document.hpp"

namespace brine_conformance {

inline char op_group(brine::op_kind k) {
  switch (k) {
    case brine::op_kind::append:
    case brine::op_kind::appends: return 'a';
    case brine::op_kind::setitem:
    case brine::op_kind::setitems: return 's';
    case brine::op_kind::additems: return 'A';
    case brine::op_kind::build: return 'b';
    case brine::op_kind::call: return 'c';
  }
  return '?';
}

}  // namespace brine_conformance
