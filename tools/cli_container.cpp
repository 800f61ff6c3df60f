// tools/cli_container.cpp — `brine pack` and `brine unpack`: between pickles with out-of-band
// buffer files and brine containers (docs/FORMAT.md).
#include <unistd.h>

#include <brine/container.hpp>
#include <brine/decode.hpp>
#include <brine/encode.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.hpp"

namespace brine_cli {

namespace {

const char* const pack_usage =
    "usage: brine pack [options] -o OUT PICKLE [BUFFER...]\n"
    "\n"
    "Writes the brine container OUT (docs/FORMAT.md): the pickle PICKLE and its out-of-band\n"
    "buffers, one raw file per buffer in NEXT_BUFFER order (what pickle.dumps(obj, protocol=5,\n"
    "buffer_callback=...) hands to the callback; `brine unpack --raw` writes this layout). Each\n"
    "buffer's read-only flag comes from the pickle (READONLY_BUFFER after its NEXT_BUFFER).\n"
    "The pickle is decoded with the buffers first: a pickle brine rejects, or a number of BUFFER\n"
    "files other than the pickle's NEXT_BUFFER count, is an error and nothing is written.\n"
    "PICKLE may be a container (packed again with these options; no BUFFER files) or '-' for\n"
    "standard input; OUT '-' writes to standard output. Every section is checksummed (XXH3-64);\n"
    "files are written to a temporary name and renamed, so readers never see a partial file.\n"
    "\n"
    "  -o, --output OUT            the container to write\n"
    "  --compress auto|never|always\n"
    "                              zstd where it pays (auto, the default: sections of --min-size\n"
    "                              bytes or more whose samples shrink to --max-ratio), never, or\n"
    "                              every section\n"
    "  --level N                   zstd level (default 3)\n"
    "  --min-size N                smallest section auto compression tries (default 10000)\n"
    "  --max-ratio R               auto compression keeps a section only at this ratio (0.7)\n"
    "  --zero-copy-threshold N     buffers of N bytes or more are meant to be used in place from\n"
    "                              the mapping and are never compressed (default 1048576)\n"
    "  --compress-zero-copy        compress those buffers too\n"
    "  --page-align-threshold N    sections of N bytes or more start on a 4096-byte page\n"
    "                              (default 65536; others on 64 bytes)\n"
    "  -q                          print nothing on success\n"
    "\n"
    "Exit status: 0 written, 1 bad input or write error, 2 usage.\n";

const char* const unpack_usage =
    "usage: brine unpack [--raw] [options] IN OUT\n"
    "\n"
    "Turns the container IN back into a pickle that loads without the container.\n"
    "\n"
    "By default the out-of-band buffers are inlined: the pickle is decoded with its buffers and\n"
    "written again at protocol 5 with each buffer in-band (bytes when read-only, bytearray\n"
    "otherwise), which is what pickle.dumps(pickle.loads(p, buffers=b), protocol=5) writes for\n"
    "numpy arrays and PickleBuffers: pickle.load(OUT) gives what the container holds. A container\n"
    "without buffers gives its pickle unchanged.\n"
    "\n"
    "--raw writes the pickle as stored (NEXT_BUFFER opcodes and all) to OUT and each buffer to\n"
    "its own file: OUT without a .pkl suffix, then .buf0, .buf1, ... (x.pkl -> x.buf0); `brine\n"
    "pack -o C x.pkl x.buf0 ...` rebuilds the container, pickle.loads(p, buffers=[...]) loads it.\n"
    "\n"
    "'-' is standard input or output (OUT '-' not with --raw). Existing files are replaced.\n"
    "\n"
    "  --raw        the pickle as stored plus one file per buffer\n"
    "  --verify P   checksums verified on opening: all (default), skip-bulk, metadata\n"
    "  -q           print nothing on success\n"
    "\n"
    "Exit status: 0 written, 1 not a valid container or write error, 2 usage.\n";

int fail(const std::string& message) {
  std::cerr << "brine: " << message << "\n";
  return exit_invalid;
}

double parse_ratio(std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v > 0.0) || v > 1.0)
    throw usage_error{"--max-ratio takes a number in (0, 1]"};
  return v;
}

// The stem buffer files are named after: OUT without a ".pkl" suffix.
std::string buffer_stem(const std::string& out) {
  if (out.size() > 4 && out.compare(out.size() - 4, 4, ".pkl") == 0) return out.substr(0, out.size() - 4);
  return out;
}

}  // namespace

int cmd_pack(std::vector<std::string_view> args) {
  brine::container_write_options wo;
  container_flags cflags;
  std::string out;
  std::vector<std::string> files;
  bool quiet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << pack_usage;
      return exit_ok;
    }
    if (a == "-o" || a == "--output") {
      out = next();
    } else if (a == "--compress") {
      const std::string_view v = next();
      if (v == "auto") wo.compress = brine::compression::automatic;
      else if (v == "never") wo.compress = brine::compression::never;
      else if (v == "always") wo.compress = brine::compression::always;
      else throw usage_error{"--compress takes auto, never or always"};
    } else if (a == "--level") {
      const auto n = parse_number(next(), a);
      if (n < 1 || n > 22) throw usage_error{"--level takes 1 to 22"};
      wo.zstd_level = static_cast<int>(n);
    } else if (a == "--min-size") {
      wo.compress_min_size = parse_number(next(), a);
    } else if (a == "--max-ratio") {
      wo.compress_max_ratio = parse_ratio(next());
    } else if (a == "--zero-copy-threshold") {
      wo.zero_copy_threshold = parse_number(next(), a);
    } else if (a == "--compress-zero-copy") {
      wo.compress_zero_copy = true;
    } else if (a == "--page-align-threshold") {
      wo.page_align_threshold = parse_number(next(), a);
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      throw usage_error{"unknown option " + std::string(a)};
    } else {
      files.emplace_back(a);
    }
  }
  if (out.empty()) throw usage_error{"pack needs -o OUT"};
  if (files.empty()) throw usage_error{"pack needs a PICKLE"};
  if (std::count(files.begin(), files.end(), std::string("-")) > 1) throw usage_error{"standard input can be read once"};

  input in;
  std::string why;
  if (!load_input(files[0], cflags, in, why)) return fail(why);
  std::vector<brine::container_buffer> buffers;
  std::vector<std::shared_ptr<const void>> owners;  // the buffer files' mappings
  if (in.is_container()) {
    if (files.size() > 1) return fail(files[0] + ": is already a container; BUFFER files cannot be added to it");
    for (std::size_t i = 0; i < in.buffers.size(); ++i) buffers.push_back({in.buffers[i].data, in.box->section(i + 1).readonly});
  } else {
    for (std::size_t i = 1; i < files.size(); ++i) {
      std::shared_ptr<const void> owner;
      std::span<const std::byte> bytes;
      if (!load_bytes(files[i], owner, bytes, why)) return fail(why);
      owners.push_back(std::move(owner));
      buffers.push_back({bytes, false});
    }
    // Decode with the buffers offered writable: a buffer node that comes out read-only had
    // READONLY_BUFFER applied, which is the flag the container records.
    brine::decode_options dopt;
    dopt.buffers_given = true;
    for (const auto& b : buffers) dopt.buffers.push_back({b.data, false});
    auto doc = brine::decode(in.pickle, dopt);
    if (!doc) {
      if (doc.error().code == brine::errc::buffers_exhausted)
        return fail(files[0] + ": the pickle has more NEXT_BUFFER opcodes than the " + std::to_string(buffers.size()) +
                    " buffer file" + (buffers.size() == 1 ? "" : "s") + " given (" + doc.error().to_string() + ")");
      return fail(files[0] + ": " + doc.error().to_string());
    }
    if (doc->buffers_used() != buffers.size())
      return fail(files[0] + ": the pickle uses " + std::to_string(doc->buffers_used()) + " out-of-band buffer" +
                  (doc->buffers_used() == 1 ? "" : "s") + ", " + std::to_string(buffers.size()) + " buffer file" +
                  (buffers.size() == 1 ? "" : "s") + " given");
    for (std::uint32_t id = 0; id < doc->node_count(); ++id) {
      const auto v = doc->node(id);
      if (v.is(brine::kind::buffer) && v.readonly()) buffers[v.buffer_index()].readonly = true;
    }
  }

  brine::result<brine::container_summary> written = out == "-"
      ? brine::write_container(STDOUT_FILENO, in.pickle, buffers, wo)
      : brine::write_container_file(out, in.pickle, buffers, wo);
  if (!written) return fail(out + ": " + written.error().to_string());
  if (!quiet) {
    const auto& s = *written;
    std::uint64_t buffer_bytes = 0;
    for (const auto& b : buffers) buffer_bytes += b.data.size();
    std::string line = out + ": container of " + thousands(s.total_size) + " bytes: pickle " + thousands(in.pickle.size()) +
                       " bytes + " + std::to_string(buffers.size()) +
                       (buffers.size() == 1 ? " out-of-band buffer (" : " out-of-band buffers (") + thousands(buffer_bytes) +
                       " bytes)";
    if (s.compressed > 0) line += ", " + std::to_string(s.compressed) + " section" + (s.compressed == 1 ? "" : "s") + " compressed";
    (out == "-" ? std::cerr : std::cout) << line << "\n";
  }
  return exit_ok;
}

int cmd_unpack(std::vector<std::string_view> args) {
  container_flags cflags;
  bool raw = false, quiet = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << unpack_usage;
      return exit_ok;
    }
    if (a == "--raw") raw = true;
    else if (a == "-q" || a == "--quiet") quiet = true;
    else if (cflags.parse(a, next)) continue;
    else if (!a.empty() && a[0] == '-' && a != "-") throw usage_error{"unknown option " + std::string(a)};
    else files.emplace_back(a);
  }
  if (files.size() != 2) throw usage_error{"unpack takes IN and OUT"};
  const std::string& out = files[1];
  if (raw && out == "-") throw usage_error{"--raw needs a file name for OUT (the buffer files are named after it)"};

  input in;
  std::string why;
  if (!load_input(files[0], cflags, in, why)) return fail(why);
  if (!in.is_container()) return fail(files[0] + ": not a brine container (it does not start with \\x89BRN\\r\\n\\x1a\\n)");
  std::ostream& report = out == "-" ? std::cerr : std::cout;

  if (raw) {
    // Check the pickle decodes with the buffers before writing anything.
    auto doc = brine::decode(in.pickle, in.with_buffers({}), in.owner);
    if (!doc) return fail(files[0] + ": " + doc.error().to_string());
    if (!write_output(out, in.pickle, why)) return fail(why);
    const std::string stem = buffer_stem(out);
    for (std::size_t i = 0; i < in.buffers.size(); ++i) {
      const std::string name = stem + ".buf" + std::to_string(i);
      if (!write_output(name, in.buffers[i].data, why)) return fail(why);
    }
    if (!quiet) {
      report << out << ": pickle of " << thousands(in.pickle.size()) << " bytes";
      if (!in.buffers.empty())
        report << "; buffers in " << stem << ".buf0" << (in.buffers.size() > 1 ? " to " + stem + ".buf" + std::to_string(in.buffers.size() - 1) : "")
               << " (" << (in.buffers.size() == 1 ? "1 file" : std::to_string(in.buffers.size()) + " files") << ")";
      report << "\n";
    }
    return exit_ok;
  }

  if (in.buffers.empty()) {
    if (!write_output(out, in.pickle, why)) return fail(why);
    if (!quiet) report << out << ": pickle of " << thousands(in.pickle.size()) << " bytes (the container has no buffers)\n";
    return exit_ok;
  }
  auto doc = brine::decode(in.pickle, in.with_buffers({}), in.owner);
  if (!doc) return fail(files[0] + ": " + doc.error().to_string());
  // Streamed to the file: buffer payloads go from the mapping to the file without a copy.
  std::FILE* f = out == "-" ? stdout : std::fopen(out.c_str(), "wb");
  if (f == nullptr) return fail(out + ": " + std::strerror(errno));
  bool write_failed = false;
  auto sink = [&](std::span<const std::byte> piece) {
    if (!write_all(f, piece)) write_failed = true;
    return !write_failed;
  };
  auto n = brine::encode_to(doc->root(), sink, brine::encode_options{});
  const bool closed = f == stdout ? std::fflush(f) == 0 : std::fclose(f) == 0;
  if (write_failed || !closed) {
    if (out != "-") ::unlink(out.c_str());
    return fail(out + ": write error");
  }
  if (!n) {
    if (out != "-") ::unlink(out.c_str());
    return fail(files[0] + ": " + n.error().to_string());
  }
  if (!quiet)
    report << out << ": pickle of " << thousands(*n) << " bytes, protocol 5, " << in.buffers.size()
           << (in.buffers.size() == 1 ? " buffer" : " buffers") << " inlined\n";
  return exit_ok;
}

}  // namespace brine_cli
