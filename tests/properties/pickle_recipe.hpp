// tests/properties/pickle_recipe.hpp — random pickle graphs for the property tests, and the small
// writer that turns one into pickle bytes.
//
// brine builds documents only by decoding, so the property tests generate *pickles*: a
// `graph_recipe` is a random object graph (None, bool, ints of every size, floats with NaNs and
// signed zeros, str with non-ASCII and lone surrogates, bytes, bytearray, tuple, list, dict, set,
// frozenset, out-of-band buffers) where any node may reference any other, and `write_pickle`
// writes it as a pickle that is valid at the recipe's protocol (0..5) and that CPython loads:
//
//  * sharing: a node referenced twice is written once and fetched from the memo (PUT / BINPUT /
//    LONG_BINPUT / MEMOIZE, then GET / BINGET / LONG_BINGET; indices sequential or sparse, now and
//    then near 2^32, which CPython could only load with index-sized memory); a str, bytes, int...
//    without its `memo` flag is written again at each reference, which makes equal but distinct
//    objects. '' and 1-character latin-1 strs (one object each in CPython) are, per pickle,
//    either written once and fetched, as CPython's pickler does, or written as separate objects,
//    as a hand-made pickle may. Out-of-band buffers are never memoized (CPython never does).
//  * cycles: lists and dicts are created empty and memoized before their items, so an item may
//    refer back to them (a list containing itself, a dict that is its own value); a tuple reached
//    again through such a container while its items are being written is written in full inside
//    and the outer copy is discarded (POP / POP_MARK + GET), CPython's recursive-tuple pattern.
//  * what Python cannot build is repaired, never rejected: a dict key or set item that is not
//    hashable becomes an int; a tuple met again with no mutable container in between (a cycle of
//    immutables) becomes None; a buffer below protocol 5 becomes None.
//  * every form the protocol allows, chosen by the node's `style` bits (0 is CPython's own form):
//    text and binary ints, LONG1/LONG4 with redundant sign bytes, FLOAT text and BINFLOAT, the
//    Python 2 STRING opcodes for ASCII text, UNICODE raw-unicode-escape, EMPTY_* + batches or
//    MARK ... LIST / DICT / TUPLE, TUPLE1-3, EMPTY_SET + ADDITEMS or set(list) REDUCE,
//    _codecs.encode(str, 'latin1') / bytes() / bytearray(...) REDUCE (the reductions brine folds),
//    GLOBAL or STACK_GLOBAL, __builtin__ or builtins below protocol 3, FRAME splits at protocol 4+,
//    and harmless noise (NONE POP, DUP POP, MARK POP_MARK, unused memo entries).
//
// Recipes shrink well: node lists lose nodes, child references shrink towards "the next node",
// styles towards CPython's form, payloads towards empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <rapidcheck.h>

#include "brine/decode.hpp"
#include "brine/encode.hpp"

namespace brine_prop {

enum class shape : std::uint8_t {
  none, boolean, integer, floating, str, bytes, bytearray, tuple, list, dict, set, frozenset, buffer,
};

struct node_recipe {
  shape what = shape::none;
  /// Form choices (digits in mixed radix, read in order); 0 picks CPython's form.
  std::uint64_t style = 0;
  /// bool: 0/1; int (when `data` is empty): the value; float: the IEEE-754 bits.
  std::int64_t number = 0;
  /// int: little-endian two's complement (maybe not minimal); bytes/bytearray: the payload.
  std::vector<std::uint8_t> data;
  /// str: code points (lone surrogates allowed).
  std::vector<char32_t> text;
  /// Container children: kid k names node (self + 1 + k) mod node count. Dicts pair them up.
  std::vector<std::uint16_t> kids;
  /// Extra int items after the kids (dict: int -> None pairs), to cross batch sizes (1000).
  std::uint16_t filler = 0;
  /// Memoize a str/bytes/int... even when referenced once; containers referenced twice or in a
  /// cycle are always memoized.
  bool memo = false;
};

struct graph_recipe {
  int protocol = 0;
  /// Pickle-wide choices: memo index scheme, framing, noise, and the seed of the batch splits.
  std::uint64_t style = 0;
  /// nodes[0] is the root; an empty recipe is the pickle of None.
  std::vector<node_recipe> nodes;
};

rc::Gen<graph_recipe> gen_graph();

/// The pickle of `g`, valid at g.protocol. Deterministic.
std::string write_pickle(const graph_recipe& g);

/// The out-of-band buffers the generated pickles consume with NEXT_BUFFER, in order (64, every
/// third read-only; a generated pickle uses at most 8); `options_with_buffers` passes them.
const std::vector<brine::oob_buffer>& oob_buffers();
/// Default decode options plus the buffers above.
brine::decode_options options_with_buffers();

/// Encode options at `protocol` that send every buffer out of band and append it to `into`, in
/// the order the encoder hands them over (`pickle.dumps(..., buffer_callback=into.append)`).
/// Decoding the output needs exactly this list, not oob_buffers(): re-encoding numbers the
/// buffers anew (a recursive tuple writes its buffers twice), so the caller's read-only flag of
/// the n-th buffer differs. `into` must outlive the options.
brine::encode_options out_of_band(int protocol, std::vector<brine::oob_buffer>& into);
/// Default decode options plus `buffers` (`pickle.loads(data, buffers=buffers)`).
brine::decode_options options_with(const std::vector<brine::oob_buffer>& buffers);

/// Lowercase hex, two digits a byte, no separators.
std::string hex(std::string_view bytes);
/// A counterexample's description: hex, pickletools-style disassembly, repr with sharing labels.
std::string describe_pickle(std::string_view bytes);
std::string describe_value(const brine::value& v);

/// What a decoded graph holds, for RC_TAG / RC_CLASSIFY.
struct graph_stats {
  std::size_t reachable = 0;  // nodes reachable from the root
  bool shared = false;        // a str, bytes or container reached twice
  bool cycle = false;         // a container inside itself
  bool tuple_cycle = false;   // a tuple inside itself (through a list or dict)
};
graph_stats stats_of(const brine::value& root);

/// For rapidcheck's counterexample output.
void showValue(const graph_recipe& g, std::ostream& os);

}  // namespace brine_prop
