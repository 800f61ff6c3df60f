// brine/disassemble.hpp — a symbolic listing of a pickle, byte-identical to CPython 3.11's
// `pickletools.dis(data, out)`.
//
// Output format (one line per opcode, then a summary line), exactly as pickletools writes it:
//
//       0: \x80 PROTO      4
//       2: \x95 FRAME      24
//      11: ]    EMPTY_LIST
//      12: \x94 MEMOIZE    (as 0)
//      13: (    MARK
//      14: K        BININT1    1
//      16: \x8c     SHORT_BINUNICODE 'a'
//      19: \x94     MEMOIZE    (as 1)
//      20: e        APPENDS    (MARK at 13)
//      21: .    STOP
//  highest protocol among opcodes = 4
//
// The position is right-aligned in five columns, then the opcode byte as Python's repr shows it
// ("\x80" or the ASCII character) padded to four, the MARK indentation (`indent` blanks per open
// MARK), the pickletools name, and the argument: ints in decimal (INT's "00"/"01" as False/True),
// floats by repr(float), strings and bytes by repr(), GLOBAL/INST as repr('module name'), bytearrays
// as bytearray(b'...'). Opcodes that close a MARK add "(MARK at N)"; MEMOIZE adds "(as N)", the memo
// index it assigns. `annotate` appends each opcode's one-line description (opcode_info::doc)
// aligned as pickletools' `annotate=` argument does. The text is UTF-8 (repr keeps printable
// non-ASCII characters as they are).
//
// Checks: like pickletools, the disassembler emulates the stack, the MARKs and the memo and stops
// at the first inconsistency: an opcode that needs a MARK when there is none, that pops more items
// than the stack holds, a memo key stored twice or read before being stored, storing a MARK or
// storing from an empty stack. It stops at the first STOP; bytes after it are not read (see
// `dis_summary::end_offset` to go on with a concatenated pickle).
//
// Malformed input: `disassemble` returns a brine::error (code, offset and byte of the offending
// opcode, a message modelled on pickletools' ValueError) and the output holds exactly what
// pickletools prints before raising: every earlier line, plus the offending opcode's line when
// pickletools prints it before complaining (stack, MARK and memo checks), or only its "%5d: "
// position prefix when pickletools fails while formatting the line (an int of more than 4300
// digits; a MARK consumed by an ordinary pop). Argument errors print nothing for that opcode.
// Error codes: truncated (input ends inside an opcode or before STOP), invalid_opcode,
// negative_length, length_overflow (an 8-byte length >= 2^63), bad_string_quote, bad_escape,
// invalid_utf8, decode_error (a STRING / PERSID / GLOBAL argument that is not ASCII once
// unescaped), bad_number (INT / LONG / FLOAT / GET / PUT text Python's int() / float() reject),
// limit_exceeded (max_int_digits: more than 4300 digits; max_nesting: dis_options::max_mark_depth),
// mark_not_found, stack_underflow, unexpected_mark (storing a MARK in the memo), memo_miss, and
// bad_memo_index for a memo key that is stored twice (pickletools rejects it; the decoder accepts
// it with a warning).
//
// One difference is deliberate: pickletools raises "stack not empty after STOP" after printing
// the summary line; brine returns success with `dis_summary::leftover_stack` set, since CPython's
// unpickler accepts such pickles.
//
// Safety: every read goes through one bounds-checked cursor (lengths are compared with what
// remains before use); nothing is allocated from a declared length; memory is linear in the input.
// Time is linear in the input plus the output, which pickletools makes quadratic for deep MARK
// nesting (each open MARK indents every line), hence `max_mark_depth`.
//
// Ownership and thread-safety: the input is only read during the call; output goes to the
// caller's string or sink as it is produced. Calls are reentrant and share nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "brine/error.hpp"

namespace brine {

struct dis_options {
  /// Blanks per open MARK (pickletools' `indentlevel`).
  int indent = 4;
  /// pickletools' `annotate`: 0 for none, else the column hint where descriptions start.
  int annotate = 0;
  /// Open MARKs allowed before stopping with errc::limit_exceeded (detail limit::max_nesting); 0
  /// for no limit. Each open MARK indents every later line, so `(` * 10^6 would print terabytes.
  /// CPython's pickler cannot nest deeper than its recursion limit (1000 by default).
  std::uint64_t max_mark_depth = 4096;
};

struct dis_summary {
  /// The number pickletools prints last: the highest protocol among the opcodes seen.
  int highest_protocol = -1;
  /// Opcodes listed, STOP included.
  std::uint64_t opcodes = 0;
  /// Offset of STOP, and just past it (where a concatenated pickle would start).
  std::uint64_t stop_offset = 0;
  std::uint64_t end_offset = 0;
  /// Items left on the emulated stack after STOP (pickletools raises "stack not empty after STOP").
  std::uint64_t leftover_stack = 0;
};

/// Receives the listing in chunks as it is produced (at most about 64 KiB each, always whole
/// lines except for the final position prefix of an error). Non-owning; the callee must not
/// re-enter `disassemble` with the same sink.
struct text_sink {
  void* context = nullptr;
  void (*write)(void* context, std::string_view chunk) = nullptr;
};

/// Disassemble the first pickle in `pickle`, appending the listing to `out`.
result<dis_summary> disassemble(std::span<const std::byte> pickle, std::string& out,
                                const dis_options& options = {});
result<dis_summary> disassemble(std::string_view pickle, std::string& out, const dis_options& options = {});
/// Same, streaming the listing to `sink` (for listings larger than memory: 100 MB pickles).
result<dis_summary> disassemble(std::span<const std::byte> pickle, text_sink sink,
                                const dis_options& options = {});

}  // namespace brine
