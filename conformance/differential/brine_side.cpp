// conformance/differential/brine_side.cpp — the brine half of the differential driver: decodes many
// pickles read from stdin and writes one canonical line per pickle to stdout, in order.
//
//   brine_differential_side            records on stdin, lines on stdout, until EOF
//   brine_differential_side FILE...    one record per file (default options), for reproducing
//
// Record (README.md "Records"): u32 little-endian length n, u8 flags, u8 buffer count, n bytes.
// Flags: bits 0-1 encoding (0 ASCII, 1 latin-1, 2 UTF-8, 3 bytes), bit 2 fold builtins, bit 3
// fix_imports, bit 4 lenient frames (strict_frames off), bit 5 lenient numbers (strict_numbers
// off), bit 6 persistent ids refused, bit 7 buffers given (that many writable buffers).
//
// Line: `A <canonical text>` when the pickle decodes (canonical.hpp), else
// `R <errc name> <offset> <message>` (control characters in the message replaced by spaces). Each line is
// flushed at once, so a driver can stream records without deadlock. Exit status 0 at EOF, 2 on a
// malformed record stream.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "brine/decode.hpp"
#include "canonical.hpp"

namespace {

std::string answer(std::span<const std::byte> pickle, std::uint8_t flags, std::uint8_t nbuffers,
                   std::vector<std::string>& storage) {
  brine::decode_options options;
  options.encoding = static_cast<brine::py2_encoding>(flags & 3u);
  options.fold_builtins = (flags & 4u) != 0;
  options.fix_imports = (flags & 8u) != 0;
  options.strict_frames = (flags & 16u) == 0;
  options.strict_numbers = (flags & 32u) == 0;
  options.allow_persistent_ids = (flags & 64u) == 0;
  options.buffers_given = (flags & 128u) != 0;
  if (options.buffers_given) {
    while (storage.size() < nbuffers) storage.push_back("buf" + std::to_string(storage.size()));
    for (std::size_t i = 0; i < nbuffers; ++i)
      options.buffers.push_back({std::as_bytes(std::span<const char>(storage[i].data(), storage[i].size())), false});
  }
  const auto doc = brine::decode(pickle, options);
  if (!doc) {
    const brine::error& e = doc.error();
    std::string line = "R " + std::string(brine::errc_name(e.code)) + " " + std::to_string(e.offset) + " ";
    for (char c : e.message) line += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;  // one line, no NULs
    return line;
  }
  return "A " + brine_differential::canonical(doc->root());
}

bool read_exact(std::FILE* in, void* to, std::size_t n) { return std::fread(to, 1, n, in) == n; }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> storage;
  if (argc > 1) {  // files, default options (CPython's pickle.loads defaults)
    for (int i = 1; i < argc; ++i) {
      std::ifstream f(argv[i], std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(f), {}};
      const std::string line = answer(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), 4u | 8u, 0, storage);
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  std::vector<char> pickle;
  for (;;) {
    unsigned char head[6];
    const std::size_t got = std::fread(head, 1, sizeof head, stdin);
    if (got == 0) return 0;
    if (got != sizeof head) {
      std::fprintf(stderr, "brine_differential_side: truncated record header\n");
      return 2;
    }
    const std::uint32_t n = static_cast<std::uint32_t>(head[0]) | static_cast<std::uint32_t>(head[1]) << 8 |
                            static_cast<std::uint32_t>(head[2]) << 16 | static_cast<std::uint32_t>(head[3]) << 24;
    pickle.resize(n);
    if (n != 0 && !read_exact(stdin, pickle.data(), n)) {
      std::fprintf(stderr, "brine_differential_side: truncated record\n");
      return 2;
    }
    // An exact-size heap copy, so ASan builds see any read past the end.
    std::vector<char> exact(pickle.begin(), pickle.end());
    std::string line = answer(std::as_bytes(std::span<const char>(exact.data(), exact.size())), head[4], head[5], storage);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
}
