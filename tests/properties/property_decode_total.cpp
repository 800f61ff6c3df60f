// tests/properties/property_decode_total.cpp — property: decode never crashes on arbitrary bytes,
// and every node of a document it returns points into the input.
//
// Inputs are opcode soup (byte_inputs.hpp): short strings biased to the opcodes of
// brine::opcode_table with arguments shaped like their encodings. Each is decoded under every
// option profile of fuzz/fuzz_support.hpp and with the generator's out-of-band buffers. A crash
// ends the test binary (build with -DBRINE_SANITIZE=ON to turn memory errors and undefined
// behaviour into crashes too); bad input must come back as an error. On success every node's
// offset, the opcode that created it, lies inside the input and before STOP, and STOP itself
// lies inside the input.
#include <string>
#include <utility>
#include <vector>

#include "brine/decode.hpp"
#include "byte_inputs.hpp"
#include "fuzz_support.hpp"
#include "pickle_recipe.hpp"
#include "property_check.hpp"

TEST_CASE("decode never crashes on opcode soup, and node offsets lie inside the input") {
  static const std::vector<brine::decode_options> options = [] {
    std::vector<brine::decode_options> all(brine_fuzz::profiles().begin(), brine_fuzz::profiles().end());
    all.push_back(brine_prop::options_with_buffers());
    return all;
  }();
  brine_prop::check("decode total", 100000, [] {
    const brine_prop::byte_string input = *rc::gen::map(brine_prop::gen_opcode_soup(), [](std::string s) {
      return brine_prop::byte_string{std::move(s)};
    });
    bool accepted = false;
    for (std::size_t k = 0; k < options.size(); ++k) {
      const auto doc = brine::decode(input.bytes, options[k]);
      if (!doc) continue;
      accepted = true;
      const std::uint64_t size = input.bytes.size();
      const std::string where = "profile " + std::to_string(k) + "\n" + brine_prop::describe_pickle(input.bytes);
      if (doc->stop_offset() >= size) {
        const std::string why = "STOP offset " + std::to_string(doc->stop_offset()) + " outside the input\n" + where;
        RC_FAIL(why);
      }
      for (std::uint32_t id = 0; id < doc->node_count(); ++id) {
        const std::uint64_t offset = doc->node(id).offset();
        if (offset >= size || offset >= doc->stop_offset()) {
          const std::string why = "node " + std::to_string(id) + " has offset " + std::to_string(offset) +
                                  " (input " + std::to_string(size) + " bytes, STOP at " +
                                  std::to_string(doc->stop_offset()) + ")\n" + where;
          RC_FAIL(why);
        }
      }
    }
    RC_CLASSIFY(accepted, "accepted by some profile");
  });
}
