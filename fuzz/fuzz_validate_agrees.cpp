// fuzz/fuzz_validate_agrees.cpp — property: brine::validate and brine::decode accept and reject the
// same inputs, with the same error.
//
// brine/decode.hpp promises validate gives "the same accept/reject decision and the same error as
// decode" although it stores no container items; so the error's fields must match (code, offset,
// opcode, detail), and on success so must what both report about the stream (protocol, STOP
// offset, warnings). The message is not compared: validate cannot name the kind of an item it did
// not store ("unhashable type" against "unhashable type: 'dict'" for `set([1, {}])`).
#include <cstdint>

#include "brine/decode.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = brine_fuzz::bytes(data, size);
  for (const auto& options : brine_fuzz::profiles()) {
    const auto decoded = brine::decode(input, options);
    const auto validated = brine::validate(input, options);
    BRINE_FUZZ_CHECK(decoded.has_value() == validated.has_value());
    if (!decoded) {
      const brine::error& d = decoded.error();
      const brine::error& v = validated.error();
      BRINE_FUZZ_CHECK(d.code == v.code);
      BRINE_FUZZ_CHECK(d.offset == v.offset);
      BRINE_FUZZ_CHECK(d.opcode == v.opcode);
      BRINE_FUZZ_CHECK(d.detail == v.detail);
      continue;
    }
    const brine::document& doc = *decoded;
    BRINE_FUZZ_CHECK(doc.protocol() == validated->protocol);
    BRINE_FUZZ_CHECK(doc.stop_offset() == validated->stop_offset);
    const auto& dw = doc.warnings();
    const auto& vw = validated->warnings;
    BRINE_FUZZ_CHECK(dw.size() == vw.size());
    for (std::size_t i = 0; i < dw.size() && i < vw.size(); ++i)
      BRINE_FUZZ_CHECK(dw[i].code == vw[i].code && dw[i].offset == vw[i].offset);
  }
  return 0;
}
