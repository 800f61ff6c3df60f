// fuzz/fuzz_scan.cpp — property: the scanner never reports "clean" for input it could not fully
// parse.
//
// A clean report (brine/scan.hpp: no finding above info) must mean that every byte was accounted
// for: scanning stopped at the end of the input, the pickles it lists tile the input from 0 to
// the end with no error, and each of them decodes on its own with the same options, ending
// exactly where the report says. The input is scanned under each profile's decode options twice:
// with the default allowlist, and with an allowlist holding every global the first scan listed
// (so that reports of inputs full of unknown globals can be clean too, and the property is
// checked on them).
#include <cstdint>
#include <memory>
#include <string>

#include "brine/decode.hpp"
#include "brine/scan.hpp"
#include "fuzz_support.hpp"

namespace {

void check_clean(const brine::scan_report& r, std::span<const std::byte> input, const brine::decode_options& options) {
  if (!r.clean()) return;
  BRINE_FUZZ_CHECK(r.stopped_at == input.size());
  BRINE_FUZZ_CHECK(r.input_size == input.size());
  BRINE_FUZZ_CHECK(!r.pickles.empty());
  for (const brine::finding& f : r.findings) BRINE_FUZZ_CHECK(f.level == brine::severity::info);
  std::uint64_t at = 0;
  for (const brine::pickle_info& p : r.pickles) {
    BRINE_FUZZ_CHECK(!p.error.has_value());
    BRINE_FUZZ_CHECK(p.start == at && p.end > p.start && p.end <= input.size());
    // The scanner supplies empty placeholders for out-of-band buffers the caller did not give.
    brine::decode_options alone = options;
    static const std::byte none[1] = {};
    if (!alone.buffers_given) {
      alone.buffers.assign(p.opcode_counts[0x97], brine::oob_buffer{std::span<const std::byte>(none, 0), true});
      alone.buffers_given = true;
    }
    const auto doc = brine::decode(input.subspan(p.start, p.end - p.start), alone);
    BRINE_FUZZ_CHECK(doc.has_value());
    BRINE_FUZZ_CHECK(doc->end_offset() == p.end - p.start);
    at = p.end;
  }
  BRINE_FUZZ_CHECK(at == input.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = brine_fuzz::bytes(data, size);
  for (const auto& options : brine_fuzz::profiles()) {
    brine::scan_options so;
    so.decode = options;
    const brine::scan_report first = brine::scan(input, so);
    check_clean(first, input, options);
    if (first.globals.empty()) continue;
    auto allow = std::make_shared<brine::allowlist>(brine::allowlist::defaults());
    for (const brine::global_ref& g : first.globals) allow->add(g.mapped_module, g.mapped_name);
    so.allow = allow;
    check_clean(brine::scan(input, so), input, options);
  }
  return 0;
}
