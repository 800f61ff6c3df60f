// Tests for lib/compat_tables.hpp: CPython's fix_imports mappings (CPYTHON.md §5).
//
// Spot checks pin the documented examples; the exhaustive case replays every mapping of every
// table set from tests/data/compat_tables.txt, which tools/gen_compat_tables.py writes from the
// same CPython interpreters that produced lib/compat_tables.cpp.
#include "compat_tables.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using brine::detail::compat_table_sizes;
using brine::detail::compat_tables;
using brine::detail::map_for_dump;
using brine::detail::map_for_load;
using brine::detail::qualified_name;
using std::optional;

namespace {

constexpr compat_tables all_sets[] = {compat_tables::cpython_3_8_to_3_12,
                                      compat_tables::cpython_3_13};

optional<qualified_name> q(std::string_view module, std::string_view name) {
  return qualified_name{module, name};
}

std::string show(const optional<qualified_name>& r) {
  return r ? std::string(r->module) + "." + std::string(r->name) : std::string("(none)");
}

}  // namespace

TEST_CASE("sizes match CPYTHON.md §5") {
  CHECK(brine::detail::table_sizes(compat_tables::cpython_3_8_to_3_12) ==
        compat_table_sizes{55, 88, 47, 112});
  CHECK(brine::detail::table_sizes(compat_tables::cpython_3_13) ==
        compat_table_sizes{54, 88, 46, 112});
  CHECK(brine::detail::default_compat_tables == compat_tables::cpython_3_13);
  const auto v = brine::detail::compat_tables_versions();
  CHECK(v.find("cpython_3_8_to_3_12: CPython 3.8") != std::string_view::npos);
  CHECK(v.find("cpython_3_13: CPython 3.13") != std::string_view::npos);
}

TEST_CASE("load: NAME_MAPPING before IMPORT_MAPPING") {
  for (const auto t : all_sets) {
    CAPTURE(static_cast<int>(t));
    CHECK(map_for_load("__builtin__", "xrange", t) == q("builtins", "range"));
    CHECK(map_for_load("__builtin__", "reduce", t) == q("functools", "reduce"));
    // Only the module is mapped: the name stays as written.
    CHECK(map_for_load("__builtin__", "eval", t) == q("builtins", "eval"));
    CHECK(map_for_load("UserDict", "IterableUserDict", t) == q("collections", "UserDict"));
    CHECK(map_for_load("UserDict", "UserDict", t) == q("collections", "UserDict"));
    CHECK(map_for_load("copy_reg", "_reconstructor", t) == q("copyreg", "_reconstructor"));
    CHECK(map_for_load("exceptions", "StandardError", t) == q("builtins", "Exception"));
    // Security-relevant remaps (HARDENING.md §6 item 2).
    CHECK(map_for_load("commands", "getoutput", t) == q("subprocess", "getoutput"));
    CHECK(map_for_load("cPickle", "loads", t) == q("pickle", "loads"));
    // Nothing maps: Python 3 names, near misses, empty strings.
    CHECK(map_for_load("builtins", "range", t) == std::nullopt);
    CHECK(map_for_load("os", "system", t) == std::nullopt);
    CHECK(map_for_load("__builtin_", "xrange", t) == std::nullopt);
    CHECK(map_for_load("__builtin__x", "xrange", t) == std::nullopt);
    CHECK(map_for_load("", "", t) == std::nullopt);
  }
}

TEST_CASE("dump: REVERSE_NAME_MAPPING before REVERSE_IMPORT_MAPPING") {
  for (const auto t : all_sets) {
    CAPTURE(static_cast<int>(t));
    CHECK(map_for_dump("collections", "UserDict", t) == q("UserDict", "IterableUserDict"));
    CHECK(map_for_dump("builtins", "range", t) == q("__builtin__", "xrange"));
    CHECK(map_for_dump("builtins", "str", t) == q("__builtin__", "unicode"));
    CHECK(map_for_dump("builtins", "ValueError", t) == q("exceptions", "ValueError"));
    CHECK(map_for_dump("builtins", "ModuleNotFoundError", t) == q("exceptions", "ImportError"));
    CHECK(map_for_dump("functools", "reduce", t) == q("__builtin__", "reduce"));
    CHECK(map_for_dump("builtins", "len", t) == q("__builtin__", "len"));
    CHECK(map_for_dump("copyreg", "_reconstructor", t) == q("copy_reg", "_reconstructor"));
    CHECK(map_for_dump("_pickle", "loads", t) == q("pickle", "loads"));
    CHECK(map_for_dump("subprocess", "getoutput", t) == q("commands", "getoutput"));
    CHECK(map_for_dump("os", "system", t) == std::nullopt);
    CHECK(map_for_dump("__builtin__", "xrange", t) == std::nullopt);
  }
}

TEST_CASE("3.13 dropped Tix <-> tkinter.tix") {
  CHECK(map_for_load("Tix", "Balloon", compat_tables::cpython_3_8_to_3_12) ==
        q("tkinter.tix", "Balloon"));
  CHECK(map_for_load("Tix", "Balloon", compat_tables::cpython_3_13) == std::nullopt);
  CHECK(map_for_load("Tix", "Balloon") == std::nullopt);  // the default is 3.13
  CHECK(map_for_dump("tkinter.tix", "Balloon", compat_tables::cpython_3_8_to_3_12) ==
        q("Tix", "Balloon"));
  CHECK(map_for_dump("tkinter.tix", "Balloon", compat_tables::cpython_3_13) == std::nullopt);
  // Everything else agrees: the neighbours of Tix in the sorted table still map.
  for (const auto t : all_sets) {
    CHECK(map_for_load("Tkinter", "Tk", t) == q("tkinter", "Tk"));
    CHECK(map_for_load("Tkconstants", "END", t) == q("tkinter.constants", "END"));
  }
}

TEST_CASE("an out-of-range set falls back to the newest tables") {
  const auto bogus = static_cast<compat_tables>(200);
  CHECK(map_for_load("Tix", "Balloon", bogus) == std::nullopt);
  CHECK(map_for_load("__builtin__", "xrange", bogus) == q("builtins", "range"));
}

TEST_CASE("exhaustive: every mapping CPython's interpreters gave the generator") {
  const std::string path = std::string(BRINE_SOURCE_DIR) + "/tests/data/compat_tables.txt";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  const std::map<std::string, compat_tables> sets = {
      {"cpython_3_8_to_3_12", compat_tables::cpython_3_8_to_3_12},
      {"cpython_3_13", compat_tables::cpython_3_13}};
  auto field = [](const std::string& s) { return s == "<empty>" ? std::string() : s; };
  std::map<std::string, int> seen;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string what, set;
    ss >> what >> set;
    CAPTURE(lineno);
    CAPTURE(line);
    const auto it = sets.find(set);
    REQUIRE(it != sets.end());
    if (what == "sizes") {
      compat_table_sizes want{};
      ss >> want.import_mapping >> want.name_mapping >> want.reverse_import_mapping >>
          want.reverse_name_mapping;
      CHECK(brine::detail::table_sizes(it->second) == want);
      ++seen["sizes"];
      continue;
    }
    std::string m, n, em, en;
    ss >> m >> n >> em >> en;
    REQUIRE(!ss.fail());
    REQUIRE((what == "load" || what == "dump"));
    const std::string module = field(m), name = field(n);
    const auto got = what == "load" ? map_for_load(module, name, it->second)
                                    : map_for_dump(module, name, it->second);
    const std::string wm = field(em), wn = field(en);  // `want` views into these
    const optional<qualified_name> want = em == "-" ? optional<qualified_name>() : q(wm, wn);
    CHECK_MESSAGE(got == want, show(got) << " != " << show(want));
    ++seen[what + " " + set];
    ++seen[what + (got ? " hit" : " miss")];
  }
  // The file covers both directions of both sets, with hits and misses.
  CHECK(seen["sizes"] == 2);
  for (const char* k : {"load cpython_3_8_to_3_12", "load cpython_3_13", "dump cpython_3_8_to_3_12",
                        "dump cpython_3_13"})
    CHECK_MESSAGE(seen[k] > 100, k);
  CHECK(seen["load hit"] > 0);
  CHECK(seen["load miss"] > 0);
  CHECK(seen["dump hit"] > 0);
  CHECK(seen["dump miss"] > 0);
}
