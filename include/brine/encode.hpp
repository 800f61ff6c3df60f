// brine/encode.hpp — write pickles that CPython loads, byte-identical to pickle.dumps.
//
// `encode` walks a document value (iteratively: no recursion, whatever the depth) and writes what
// CPython's C pickler (Modules/_pickle.c) writes for the object the graph describes: the same
// opcode for every kind at every protocol, the memo by identity (what is and is not memoized;
// BINPUT/LONG_BINPUT or MEMOIZE; BINGET/LONG_BINGET), batches of 1000 with CPython's tails,
// tuples of 0-3 and longer, recursive tuples (POP / POP_MARK + GET), sets and frozensets,
// globals (STACK_GLOBAL at protocol >= 4; GLOBAL with the reverse fix_imports mapping below 3),
// bytes/bytearray/set/frozenset forms of protocols below 3, 4 and 5, and framing (64 KiB target,
// 4-byte minimum, payloads of 64 KiB and more written outside frames).
//
// Identity: two references to one node are one Python object; the encoder writes it once and
// fetches it from the memo after. Objects that CPython shares by construction are shared too: a
// class or function named twice (globals are keyed by name), the constant 'latin1' of protocol-2
// bytes, and CPython's 1-character latin-1 strings and 1-byte bytes (interpreter singletons).
//
// Recorded objects (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ) are written as recorded, followed by the
// operations applied to them in stream order (APPEND(S), SETITEM(S), ADDITEMS, BUILD), so
// decode -> encode keeps the graph: identity, sharing, cycles, order and calls.
//
// Errors (brine::error with errc::bad_argument and offset = the node's offset): a value the
// requested protocol cannot express (an out-of-band buffer below protocol 5, NEWOBJ_EX below 2,
// an extension code below 2, a dotted global name below 4, a protocol-0 persistent id that is not
// an ASCII str without newlines), a memo id above 2^32-1, a protocol outside 0..5. A failed encode
// never leaves a partial pickle in the returned string; a sink may have received a prefix.
//
// Thread-safety: reentrant; a document may be encoded from several threads at once.
// Memory: besides the output, an encode uses a memo of 4 bytes a node and a task stack as long as
// the data is deep, which the calling thread keeps for its next encode (see
// brine::release_retained_memory() in brine/document.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "brine/document.hpp"
#include "brine/error.hpp"

namespace brine {

/// Where CPython versions write different bytes for the same object.
enum class cpython_profile : std::uint8_t {
  /// CPython 3.8 to 3.14's C pickler (the default): a final batch of one list item is still
  /// MARK item APPENDS; dicts and sets whose size is a multiple of 1000 end with an empty batch.
  cpython_3_8_to_3_14,
  /// CPython 3.11 as 3.8-3.14, except that the 1-character latin-1 strs its pickler makes for
  /// protocol < 3 bytes are not the same objects as equal 1-character strs in the data, so they
  /// are written again rather than fetched from the memo (observed on 3.11.7 only).
  cpython_3_11,
  /// The announced 3.15 change (cpython PR #144162): no APPENDS/SETITEMS batch of one, never an
  /// empty SETITEMS/ADDITEMS batch.
  cpython_3_15,
};

/// Decides, per out-of-band buffer node, whether it is written in-band (return true: bytes or
/// bytearray opcodes, memoized) or out-of-band (return false: NEXT_BUFFER, READONLY_BUFFER when
/// read-only, never memoized) — PEP 574's buffer_callback, with the same truth convention.
using buffer_callback = std::function<bool(value buffer, std::span<const std::byte> data, bool readonly)>;

struct encode_options {
  int protocol = 5;  ///< 0..5; CPython's pickle.dumps defaults to 4 (3.8-3.13) or 5 (3.14+)
  cpython_profile profile = cpython_profile::cpython_3_8_to_3_14;
  /// Map Python 3 names to Python 2 ones below protocol 3 (CPython's fix_imports).
  bool fix_imports = true;
  /// PEP 574 callback for out-of-band buffer nodes; without one every buffer is written in-band.
  buffer_callback on_buffer;
};

/// Receives the pickle in order, in pieces. Large payloads (64 KiB and more) arrive as one piece
/// pointing into the document's own storage (no copy). Return false to abort (io_error).
using byte_sink = std::function<bool(std::span<const std::byte>)>;

/// Encode `root` into a new string.
result<std::string> encode(value root, const encode_options& options = {});
/// Encode `root` into `sink`. Returns the number of bytes written.
result<std::size_t> encode_to(value root, const byte_sink& sink, const encode_options& options = {});

}  // namespace brine
