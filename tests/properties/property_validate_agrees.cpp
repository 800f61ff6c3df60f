// tests/properties/property_validate_agrees.cpp — property: brine::validate and brine::decode give
// the same answer on any input.
//
// brine/decode.hpp promises that validate runs the full machine and returns "the same
// accept/reject decision and the same error as decode". On hostile bytes (byte_inputs.hpp:
// mutated and truncated generated pickles, opcode soup, and untouched generated pickles), under
// each option profile of fuzz/fuzz_support.hpp and with the generator's out-of-band buffers:
// both accept or both reject; a rejection has the same code, offset, opcode and detail; an
// acceptance reports the same protocol, STOP offset and warnings. (Messages are not compared:
// validate cannot name the type of an item it did not store.) fuzz/fuzz_validate_agrees.cpp
// checks the same property on the fuzz corpus.
#include <string>
#include <vector>

#include "brine/decode.hpp"
#include "byte_inputs.hpp"
#include "fuzz_support.hpp"
#include "pickle_recipe.hpp"
#include "property_check.hpp"

namespace {

std::vector<brine::decode_options> profiles() {
  std::vector<brine::decode_options> all(brine_fuzz::profiles().begin(), brine_fuzz::profiles().end());
  all.push_back(brine_prop::options_with_buffers());
  return all;
}

std::string show(const brine::error& e) {
  return std::string(brine::errc_name(e.code)) + " offset " + std::to_string(e.offset) + " opcode " +
         std::to_string(e.opcode) + " detail " + std::to_string(e.detail) + " (" + e.message + ")";
}

}  // namespace

TEST_CASE("validate agrees with decode on hostile bytes") {
  static const std::vector<brine::decode_options> options = profiles();
  brine_prop::check("validate agrees", 8000, [] {
    const brine_prop::byte_string input = *brine_prop::gen_hostile_bytes();
    for (std::size_t k = 0; k < options.size(); ++k) {
      const auto decoded = brine::decode(input.bytes, options[k]);
      const auto validated = brine::validate(input.bytes, options[k]);
      const std::string where = "profile " + std::to_string(k) + "\n" + brine_prop::describe_pickle(input.bytes);
      if (decoded.has_value() != validated.has_value()) {
        const std::string why = std::string("decode ") + (decoded ? "accepts" : "rejects: " + show(decoded.error())) +
                                ", validate " + (validated ? "accepts" : "rejects: " + show(validated.error())) +
                                "\n" + where;
        RC_FAIL(why);
      }
      if (!decoded) {
        const brine::error& d = decoded.error();
        const brine::error& v = validated.error();
        if (d.code != v.code || d.offset != v.offset || d.opcode != v.opcode || d.detail != v.detail) {
          const std::string why = "decode: " + show(d) + "\nvalidate: " + show(v) + "\n" + where;
          RC_FAIL(why);
        }
        continue;
      }
      bool same = decoded->protocol() == validated->protocol && decoded->stop_offset() == validated->stop_offset &&
                  decoded->warnings().size() == validated->warnings.size();
      for (std::size_t i = 0; same && i < validated->warnings.size(); ++i)
        same = decoded->warnings()[i].code == validated->warnings[i].code &&
               decoded->warnings()[i].offset == validated->warnings[i].offset;
      if (!same) {
        const std::string why = "decode and validate accept but report different protocol, STOP or warnings\n" + where;
        RC_FAIL(why);
      }
    }
  });
}
