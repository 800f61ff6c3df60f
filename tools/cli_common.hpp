// tools/cli_common.hpp — what the brine command-line tool's commands share: exit codes, usage
// errors, and reading an input that is either a pickle or a brine container.
//
// Inputs: a path or '-' (standard input). A regular file is mapped read-only, not copied (100 MB
// pickles are the point of the tool); standard input and other non-regular files are read into
// memory. An input that starts with the container magic ("\x89BRN\r\n\x1a\n", docs/FORMAT.md)
// is opened as a container: validated in full (hostile input: one clear error line), its
// checksums verified per --verify, and its pickle decoded with the out-of-band buffers as
// zero-copy views of the mapping. Everything else is a pickle.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <brine/container.hpp>
#include <brine/decode.hpp>

namespace brine_cli {

inline constexpr int exit_ok = 0, exit_invalid = 1, exit_usage = 2, exit_flagged = 3;

/// A command-line mistake: printed with the usage text, exit status 2.
struct usage_error {
  std::string message;
};

/// Options of the commands that read a container.
struct container_flags {
  brine::container_open_options open;

  /// Returns true when `arg` (and possibly the next argument) was a container option.
  bool parse(std::string_view arg, const std::function<std::string_view()>& next);
};

inline constexpr const char* container_usage =
    "container input (a file starting with brine's container magic, docs/FORMAT.md):\n"
    "  the pickle is decoded with its out-of-band buffers, views of the mapping (no copy)\n"
    "  --verify P            checksums verified on opening: all (default), skip-bulk (not\n"
    "                        uncompressed buffers of 1 MiB or more), metadata (header and table)\n";

/// A loaded input: the pickle to work on and, for a container, its buffers.
struct input {
  std::string name;
  /// Keeps `pickle` and the buffers alive (a mapping, owned bytes, or the container's storage).
  std::shared_ptr<const void> owner;
  std::span<const std::byte> pickle;
  std::optional<brine::container> box;   ///< set for a container
  std::vector<brine::oob_buffer> buffers;  ///< the container's buffers, in NEXT_BUFFER order

  bool is_container() const noexcept { return box.has_value(); }
  /// The decode options with this input's buffers (a container's, or none given).
  brine::decode_options with_buffers(brine::decode_options options) const;
  /// "container: 1 pickle section (N bytes) + K buffers (M bytes), ..." for reports.
  std::string container_summary() const;
};

/// Reads or maps `path` ('-': standard input) and opens it as a container when it carries the
/// magic. On failure returns false with a one-line reason (without the "brine: " prefix).
bool load_input(const std::string& path, const container_flags& flags, input& out, std::string& why);

/// Reads or maps `path` as raw bytes (buffer files). Same conventions as load_input.
bool load_bytes(const std::string& path, std::shared_ptr<const void>& owner, std::span<const std::byte>& bytes,
                std::string& why);

/// True when `bytes` starts with the container magic.
bool has_container_magic(std::span<const std::byte> bytes) noexcept;

/// Writes `data` to `path` ('-': standard output). On failure returns false with a reason.
bool write_output(const std::string& path, std::span<const std::byte> data, std::string& why);
bool write_output(const std::string& path, const std::string& data, std::string& why);

/// Writes every piece to an open stdio stream; false on a write error.
bool write_all(std::FILE* f, std::span<const std::byte> data);

/// "brine: FILE: <error>" on standard error.
void report_error(const std::string& file, const brine::error& e);

/// 67108864 -> "67,108,864".
std::string thousands(std::uint64_t n);
/// 67108864 -> "64.0 MiB"; 1500 -> "1.5 KiB"; 12 -> "12 B".
std::string human_bytes(std::uint64_t n);

/// Parses a non-negative decimal number or throws usage_error naming `option`.
std::uint64_t parse_number(std::string_view text, std::string_view option);

// Commands implemented outside brine.cpp.
int cmd_pack(std::vector<std::string_view> args);
int cmd_unpack(std::vector<std::string_view> args);
int cmd_demo(std::vector<std::string_view> args, const char* argv0);

}  // namespace brine_cli
