// compat_tables.hpp — CPython's fix_imports name mappings (Lib/_compat_pickle.py), internal.
//
// Python 2 pickles name globals by their Python 2 modules (`__builtin__.xrange`, `copy_reg`,
// `UserDict.IterableUserDict`). CPython's unpickler, while the stream's protocol is below 3 and
// `fix_imports` is on, rewrites those names to their Python 3 homes; its pickler does the reverse
// at protocols below 3 (CPYTHON.md §5). The remaps are security-relevant: `commands.getoutput` is
// `subprocess.getoutput` and `cPickle.loads` is `pickle.loads` by the time CPython imports them,
// so a scanner that skips them is bypassable (HARDENING.md §6).
//
// The tables are data generated from each installed CPython's own `_compat_pickle` by
// tools/gen_compat_tables.py into compat_tables.cpp (never hand-edited), one table set per distinct
// content: CPython 3.8 to 3.12 share one; 3.13 dropped `Tix` <-> `tkinter.tix`.
//
// Lookups are binary searches over sorted constexpr arrays; they never allocate. The returned views
// point into static storage, or at `name` itself when only the module is mapped (so they live as
// long as the caller's `name`).
//
// Thread-safety: pure functions over constant data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace brine::detail {

/// Which CPython's tables to apply. Numbers index the generated table sets.
enum class compat_tables : std::uint8_t {
  cpython_3_8_to_3_12,
  cpython_3_13,
};

/// What brine's decoder uses unless told otherwise.
inline constexpr compat_tables default_compat_tables = compat_tables::cpython_3_13;

struct qualified_name {
  std::string_view module, name;
  friend bool operator==(const qualified_name&, const qualified_name&) = default;
};

/// Unpickler.find_class with fix_imports at protocol < 3: NAME_MAPPING[(module, name)] first,
/// else IMPORT_MAPPING[module] with `name` unchanged. nullopt when nothing maps.
std::optional<qualified_name> map_for_load(std::string_view module, std::string_view name,
                                           compat_tables t = default_compat_tables) noexcept;

/// Pickler.save_global with fix_imports at protocol < 3: REVERSE_NAME_MAPPING[(module, name)]
/// first, else REVERSE_IMPORT_MAPPING[module] with `name` unchanged. nullopt when nothing maps.
std::optional<qualified_name> map_for_dump(std::string_view module, std::string_view name,
                                           compat_tables t = default_compat_tables) noexcept;

/// Entry counts of one table set, in _compat_pickle's order.
struct compat_table_sizes {
  std::size_t import_mapping, name_mapping, reverse_import_mapping, reverse_name_mapping;
  friend bool operator==(const compat_table_sizes&, const compat_table_sizes&) = default;
};
compat_table_sizes table_sizes(compat_tables t) noexcept;

/// Which CPython releases produced the tables ("cpython_3_8_to_3_12: CPython 3.8.18, ...; ...").
std::string_view compat_tables_versions() noexcept;

}  // namespace brine::detail
