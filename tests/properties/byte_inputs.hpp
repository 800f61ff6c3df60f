// tests/properties/byte_inputs.hpp — hostile byte strings for the decoder properties: opcode soup
// and mutated pickles.
//
//  * opcode soup: short strings made of opcodes from brine::opcode_table, each usually followed by
//    an argument shaped like its encoding (a length prefix with about that many bytes, a decimal
//    line, a quoted string, a module and name pair that brine folds), with stray bytes and STOPs
//    in between. Random bytes would almost never get past the first opcode.
//  * mutated pickles: a generated pickle (pickle_recipe.hpp) truncated, with bytes overwritten,
//    inserted, erased or duplicated, or a 4-byte field set to a boundary value.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <rapidcheck.h>

namespace brine_prop {

rc::Gen<std::string> gen_opcode_soup();

struct mutation {
  enum kind_t : std::uint8_t { truncate, overwrite, insert, erase, duplicate, set_u32 };
  kind_t kind = truncate;
  std::uint32_t pos = 0;   // taken modulo the input size (+1 where the end is a place)
  std::uint8_t byte = 0;   // overwrite / insert
  std::uint8_t len = 1;    // erase / duplicate
  std::uint32_t word = 0;  // set_u32
};

struct mutated_pickle {
  std::string original;
  std::vector<mutation> mutations;
  std::string bytes;  // `original` with the mutations applied in order
};

rc::Gen<mutated_pickle> gen_mutated_pickle();

std::string apply_mutations(std::string input, const std::vector<mutation>& mutations);

/// A byte string as rapidcheck shows it in a counterexample: its hex.
struct byte_string {
  std::string bytes;
};
rc::Gen<byte_string> gen_hostile_bytes();  // soup, mutated pickles and untouched ones

void showValue(const mutated_pickle& m, std::ostream& os);
void showValue(const byte_string& b, std::ostream& os);

}  // namespace brine_prop
