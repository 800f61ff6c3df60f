// tools/scan_output.hpp — how `brine scan` and `brine stats` print what brine::scan found: text
// for people, one JSON object per file for pipelines.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <brine/scan.hpp>

namespace brine_cli {

enum class scan_detail : std::uint8_t {
  quiet,    ///< the verdict line only
  normal,   ///< plus flagged and malformed findings, every global and every callable
  verbose,  ///< plus info findings and the pickles of the stream
};

/// "FILE: verdict ..." and, below it, the findings and inventories.
std::string scan_text(std::string_view file, const brine::scan_report& r, scan_detail detail);
/// One line of JSON (newline included) describing the report.
std::string scan_json(std::string_view file, const brine::scan_report& r);
/// The JSON line for a file that could not be read ("verdict": "unreadable").
std::string unreadable_json(std::string_view file, std::string_view why);
/// The JSON line for a file skipped in a directory ("verdict": "skipped").
std::string skipped_json(std::string_view file, std::string_view why);

/// What `brine stats` adds to the scanner's per-pickle statistics, from each document.
struct node_stats {
  std::uint64_t nodes = 0;
  std::array<std::uint64_t, 17> by_kind{};  // indexed by brine::kind
  std::uint64_t str_bytes = 0, bytes_bytes = 0;
  /// (size, offset) of the largest str and of the largest bytes / bytearray / buffer payloads,
  /// largest first, at most `keep_largest` each. Offsets are absolute.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> largest_str, largest_bytes;
  std::uint64_t reachable = 0;
};
inline constexpr std::size_t keep_largest = 5;

/// Collects node_stats from a document (offsets relative to `start`).
node_stats collect_node_stats(const brine::document& doc, std::uint64_t start);

std::string stats_text(std::string_view file, const brine::scan_report& r, const std::vector<node_stats>& nodes);
std::string stats_json(std::string_view file, const brine::scan_report& r, const std::vector<node_stats>& nodes);

}  // namespace brine_cli
