// fuzz/fuzz_equivalent.cpp — property: a successful decode is equivalent (brine::equivalent) to the
// same bytes decoded a second time.
//
// The second decode reads a copy of the input owned by the document (decode_owned), so zero-copy
// views of the two documents point at different memory: equivalent must compare contents, kinds
// and sharing, never addresses. Decoding is deterministic, so any mismatch is a bug in one of
// decode, decode_owned or equivalent (cycles and shared subtrees included).
#include <cstdint>
#include <string>

#include "brine/decode.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = brine_fuzz::bytes(data, size);
  for (const auto& options : brine_fuzz::profiles()) {
    const auto first = brine::decode(input, options);
    if (!first) continue;
    auto second = brine::decode_owned(std::string(reinterpret_cast<const char*>(data), size), options);
    BRINE_FUZZ_CHECK(second.has_value());
    BRINE_FUZZ_CHECK(first->node_count() == second->node_count());
    BRINE_FUZZ_CHECK(brine::equivalent(first->root(), second->root()));
  }
  return 0;
}
