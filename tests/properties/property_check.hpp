// tests/properties/property_check.hpp — run one rapidcheck property inside a doctest test case.
//
// Case count: `max_success` from RC_PARAMS when the variable sets it, else the property's default
// (chosen so that the whole suite runs in about 20 seconds; a third of it in the sanitizer build). Every other RC_PARAMS key works as
// rapidcheck documents it: `seed=N` for another run, `reproduce=...` (printed on failure) to
// replay a minimal counterexample without searching again, `noshrink=1`, `max_size=N`,
// `verbose_progress=1`. Example: RC_PARAMS="max_success=20000 seed=7" ./property_roundtrip
//
// A failure is reported through doctest (FAIL_CHECK) with rapidcheck's message: the shrunk
// counterexample as generated and what the property logged for it.
#pragma once

#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include <doctest/doctest.h>
#include <rapidcheck.h>

namespace brine_prop {

template <class Testable>
void check(const std::string& name, int default_cases, Testable&& testable) {
  using namespace rc::detail;
  rc::detail::TestParams params = configuration().testParams;
  const char* env = std::getenv("RC_PARAMS");
  if (env == nullptr || std::string_view(env).find("max_success") == std::string_view::npos) {
#if defined(BRINE_PROPERTY_SANITIZED)
    // The sanitizer build (Debug, ASan, UBSan) runs 5 to 8 times slower: a third of the cases
    // there keeps the suite's time in bounds; the release build runs them all.
    default_cases = default_cases / 3 > 0 ? default_cases / 3 : 1;
#endif
    params.maxSuccess = default_cases;
  }
  TestMetadata metadata;
  metadata.id = name;
  metadata.description = name;
  const TestResult result = checkTestable(std::forward<Testable>(testable), metadata, params);
  std::ostringstream message;
  printResultMessage(result, message);
  if (result.template is<SuccessResult>()) {
    MESSAGE(name << ": " << message.str());
  } else {
    FAIL_CHECK(name << ": " << message.str());
  }
}

}  // namespace brine_prop
