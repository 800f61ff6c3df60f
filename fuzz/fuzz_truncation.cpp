// fuzz/fuzz_truncation.cpp — property: every strict prefix of a valid pickle fails with the
// truncation error.
//
// When the input decodes, the pickle is its bytes up to and including STOP. A strict prefix of it
// has no STOP (decoding stops at the first one) and every opcode it holds ran without error in
// the full decode, so the only possible outcome is errc::truncated ("Ran out of input" between
// opcodes, "pickle data was truncated" inside one, or a FRAME declaring more than remains), at an
// offset inside the prefix — never another error, never success, never a crash or a read past
// the end (each prefix is decoded from an exact-size heap copy). Every prefix is tried while the
// bytes decoded stay under a budget (pickles up to about 700 bytes); longer pickles get the last
// 16 prefixes and evenly spaced ones.
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "brine/decode.hpp"
#include "fuzz_support.hpp"

namespace {

void check_prefix(const std::uint8_t* data, std::size_t k, const brine::decode_options& options) {
  // An exact-size copy: ASan reports any read at or past data[k].
  std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[k == 0 ? 1 : k]);
  if (k != 0) std::memcpy(copy.get(), data, k);
  const auto r = brine::decode(brine_fuzz::bytes(copy.get(), k), options);
  BRINE_FUZZ_CHECK(!r.has_value());
  BRINE_FUZZ_CHECK(r.error().code == brine::errc::truncated);
  BRINE_FUZZ_CHECK(r.error().offset <= k);
}

// Prefix lengths to try, decoding at most about `budget` bytes in all: every prefix while that
// fits, else the last 16 (cut inside the final opcodes) and evenly spaced ones.
void plan(std::size_t n, std::size_t budget, std::vector<std::size_t>& cuts) {
  cuts.clear();
  if (n * (n + 1) / 2 <= budget) {
    for (std::size_t k = 0; k < n; ++k) cuts.push_back(k);
    return;
  }
  const std::size_t tail = std::min<std::size_t>(16, n);
  for (std::size_t k = n - tail; k < n; ++k) cuts.push_back(k);
  const std::size_t spread = std::max<std::size_t>(16, budget / n);
  for (std::size_t i = 0; i < spread; ++i) cuts.push_back(i * (n - tail) / spread);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = brine_fuzz::bytes(data, size);
  std::vector<std::size_t> cuts;
  bool first = true;
  for (const auto& options : brine_fuzz::profiles()) {
    const auto full = brine::decode(input, options);
    if (!full) continue;
    // The pickle, STOP included. The first profile that decodes gets the large budget.
    plan(static_cast<std::size_t>(full->end_offset()), first ? (1u << 18) : (1u << 15), cuts);
    first = false;
    for (const std::size_t k : cuts) check_prefix(data, k, options);
  }
  return 0;
}
