// tools/brine.cpp — the brine command-line tool.
//
//   brine check [options] FILE    exit 0 valid, 1 invalid (code, offset, opcode, message on stderr)
//   brine show  [options] FILE    Python-style rendering of the object graph
//   brine dis   [options] FILE    disassembly identical to pickletools.dis
//   brine convert [--protocol N] IN OUT   re-encode, byte-identical to pickle.dumps
//   brine convert --from-json IN OUT     build a pickle from `brine json --lossless` output
//   brine scan  [options] FILE...  security report: exit 0 clean, 3 flagged, 1 malformed
//   brine json  [options] FILE    JSON for data-only pickles; --lossless keeps every kind
//   brine stats [options] FILE    opcode histogram, frames, memo, nodes by kind, largest payloads
//   brine pack -o OUT PICKLE [BUFFER...]   a pickle and its out-of-band buffers into a container
//   brine unpack [--raw] IN OUT            a container back into a pickle (buffers inlined) or files
//   brine demo [options]                   C++ and CPython exchange a container (zero copy both ways)
//
// FILE may be '-' for standard input, and may be a brine container (detected by its magic): the
// commands then work on its pickle, decoded with its out-of-band buffers from the mapping. Exit
// status 2 is a usage error. The tool uses only the public API (include/brine/).
#include <brine/brine.hpp>
#include <brine/disassemble.hpp>
#include <brine/repr.hpp>
#include <brine/scan.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli_common.hpp"
#include "json_convert.hpp"
#include "pickle_optimize.hpp"
#include "scan_output.hpp"

namespace {

using brine_cli::exit_flagged;
using brine_cli::exit_invalid;
using brine_cli::exit_ok;
using brine_cli::exit_usage;
using brine_cli::report_error;
using brine_cli::usage_error;

// Options shared by the commands that decode (a container's options included).
struct decode_flags {
  brine::decode_options options;
  brine_cli::container_flags container;

  // Returns true when `arg` (and possibly the next argument) was a decode option.
  bool parse(std::string_view arg, const std::function<std::string_view()>& next) {
    auto number = [&](std::uint64_t& target) {
      const std::string_view v = next();
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), target);
      if (ec != std::errc() || p != v.data() + v.size()) throw usage_error{"expected a number after " + std::string(arg)};
    };
    auto& lim = options.limits;
    if (arg == "--encoding") {
      const std::string_view v = next();
      if (v == "ascii") options.encoding = brine::py2_encoding::ascii;
      else if (v == "latin1" || v == "latin-1") options.encoding = brine::py2_encoding::latin1;
      else if (v == "utf8" || v == "utf-8") options.encoding = brine::py2_encoding::utf8;
      else if (v == "bytes") options.encoding = brine::py2_encoding::bytes;
      else throw usage_error{"--encoding takes ascii, latin1, utf8 or bytes"};
    } else if (arg == "--no-fix-imports") {
      options.fix_imports = false;
    } else if (arg == "--no-fold") {
      options.fold_builtins = false;
    } else if (arg == "--compat-numbers") {
      options.strict_numbers = false;
    } else if (arg == "--no-persistent-ids") {
      options.allow_persistent_ids = false;
    } else if (arg == "--max-stack") { number(lim.max_stack);
    } else if (arg == "--max-marks") { number(lim.max_marks);
    } else if (arg == "--max-memo-entries") { number(lim.max_memo_entries);
    } else if (arg == "--max-int-digits") { number(lim.max_int_digits);
    } else if (arg == "--max-long-bytes") { number(lim.max_long_bytes);
    } else if (arg == "--max-nodes") { number(lim.max_nodes);
    } else if (arg == "--max-copied-items") { number(lim.max_copied_items);
    } else {
      return container.parse(arg, next);
    }
    return true;
  }

  void print_limits(std::ostream& out) const {
    const auto& l = options.limits;
    out << "max_stack        " << l.max_stack << "   items on the value stack (stack floods)\n"
        << "max_marks        " << l.max_marks << "    open MARKs (mark floods)\n"
        << "max_memo_entries " << l.max_memo_entries << "   distinct memo entries (PUT floods; the memo is sparse)\n"
        << "max_int_digits   " << l.max_int_digits << "       digits in INT/LONG/GET/PUT text (quadratic conversion)\n"
        << "max_long_bytes   " << l.max_long_bytes << "    bytes of a LONG1/LONG4 payload (quadratic rendering)\n"
        << "max_nodes        " << l.max_nodes << "  nodes in a document (16 bytes each)\n"
        << "max_copied_items " << l.max_copied_items << "   items copied by set()/frozenset() folds (amplification)\n";
  }
};

const char* const main_usage =
    "usage: brine <command> [options] FILE\n"
    "\n"
    "commands:\n"
    "  check   validate a pickle: exit 0 valid, 1 invalid, 2 usage\n"
    "  show    render the decoded object graph Python-style\n"
    "  dis     disassemble, byte-identical to python -m pickletools\n"
    "  convert re-encode at another protocol, byte-identical to CPython's pickle.dumps\n"
    "  scan    security report: globals, calls, anomalies; exit 0 clean, 3 flagged, 1 malformed\n"
    "  json    the data as JSON (--lossless: every kind, sharing and order)\n"
    "  stats   opcode histogram, frames, memo, nodes by kind, largest strings and buffers\n"
    "  pack    a pickle and its out-of-band buffer files into a brine container\n"
    "  unpack  a container into a pickle with its buffers inlined (--raw: pickle + buffer files)\n"
    "  demo    C++ and CPython exchange a container through a memfd, zero copy both ways\n"
    "\n"
    "FILE may be '-' for standard input, and may be a brine container (the pickle is then\n"
    "decoded with its out-of-band buffers). 'brine <command> --help' describes a command.\n";

const char* const decode_usage =
    "decode options:\n"
    "  --encoding E          Python 2 strings: ascii (default), latin1, utf8, bytes\n"
    "  --no-fix-imports      keep Python 2 module names (protocols < 3)\n"
    "  --no-fold             keep set()/bytearray()/_codecs.encode() calls as recorded calls\n"
    "  --compat-numbers      accept C strtol quirks in INT text (I010, I0x10, I+5)\n"
    "  --no-persistent-ids   reject PERSID/BINPERSID\n"
    "  --max-stack N, --max-marks N, --max-memo-entries N, --max-int-digits N,\n"
    "  --max-long-bytes N, --max-nodes N, --max-copied-items N   change a limit\n";

// The decode options' usage text followed by the container input's.
std::string decode_help() { return std::string(decode_usage) + brine_cli::container_usage; }

// Reports put a container's summary line under their first line.
void insert_after_first_line(std::string& text, const std::string& line) {
  const auto eol = text.find('\n');
  text.insert(eol == std::string::npos ? text.size() : eol + 1, line);
}

// Loads FILE (a pickle or a container); prints the one-line error and returns false on failure.
bool load(const std::string& file, const decode_flags& flags, brine_cli::input& in) {
  std::string why;
  if (brine_cli::load_input(file, flags.container, in, why)) return true;
  std::cerr << "brine: " << why << "\n";
  return false;
}

// Each command: parse its options, then run on one file.
int cmd_check(std::vector<std::string_view> args) {
  decode_flags flags;
  bool show_limits = false, quiet = false;
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: brine check [options] FILE\n\n"
                   "Runs the full decoding machine without building values. Exit status 0 when the\n"
                   "pickle is valid, 1 when it is not (the error code, offset, opcode and message go\n"
                   "to standard error), 2 on a usage error.\n\n"
                   "  --limits   print the limits in force and exit\n"
                   "  -q         print nothing on success\n\n"
                << decode_help();
      return exit_ok;
    }
    if (args[i] == "--limits") show_limits = true;
    else if (args[i] == "-q") quiet = true;
    else if (flags.parse(args[i], next)) continue;
    else if (!args[i].empty() && args[i][0] == '-' && args[i] != "-") throw usage_error{"unknown option " + std::string(args[i])};
    else if (file.empty()) file = args[i];
    else throw usage_error{"check takes one FILE"};
  }
  if (show_limits) {
    flags.print_limits(std::cout);
    return exit_ok;
  }
  if (file.empty()) throw usage_error{"check needs a FILE"};
  brine_cli::input in;
  if (!load(file, flags, in)) return exit_invalid;
  auto r = brine::validate(in.pickle, in.with_buffers(flags.options));
  if (!r) {
    report_error(file, r.error());
    return exit_invalid;
  }
  if (!quiet) {
    std::cout << file << ": valid pickle, protocol " << r->protocol << ", " << r->opcodes << " opcodes, "
              << r->memo_entries << " memo entries, STOP at offset " << r->stop_offset << "\n";
    if (in.is_container()) std::cout << "  " << in.container_summary() << "\n";
    for (const auto& w : r->warnings)
      std::cout << "  warning: " << brine::warning_name(w.code) << " at offset " << w.offset << "\n";
  }
  return exit_ok;
}

int cmd_show(std::vector<std::string_view> args) {
  decode_flags flags;
  brine::repr_options ro;
  ro.sharing = brine::repr_sharing::labels;
  ro.max_width = 100;
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    auto number = [&](std::uint64_t& target) {
      const std::string_view v = next();
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), target);
      if (ec != std::errc() || p != v.data() + v.size()) throw usage_error{"expected a number"};
    };
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: brine show [options] FILE\n\n"
                   "Renders the decoded object graph Python-style. Shared objects and cycles are\n"
                   "labelled <#n> where first shown and <@n> where seen again, never expanded twice.\n\n"
                   "  --width N     lay out over lines of at most N columns (default 100; 0: one line)\n"
                   "  --budget N    stop after N expanded nodes (default 100000), then print ...\n"
                   "  --python      Python's own repr: shared objects repeated, cycles as [...]\n"
                   "  --ascii       escape every non-ASCII character, as ascii() does\n\n"
                << decode_help();
      return exit_ok;
    }
    std::uint64_t n = 0;
    if (args[i] == "--width") { number(n); ro.max_width = static_cast<std::size_t>(n); }
    else if (args[i] == "--budget") { number(n); ro.budget = static_cast<std::size_t>(n); }
    else if (args[i] == "--python") ro.sharing = brine::repr_sharing::python;
    else if (args[i] == "--ascii") ro.ascii_only = true;
    else if (flags.parse(args[i], next)) continue;
    else if (!args[i].empty() && args[i][0] == '-' && args[i] != "-") throw usage_error{"unknown option " + std::string(args[i])};
    else if (file.empty()) file = args[i];
    else throw usage_error{"show takes one FILE"};
  }
  if (file.empty()) throw usage_error{"show needs a FILE"};
  brine_cli::input in;
  if (!load(file, flags, in)) return exit_invalid;
  auto doc = brine::decode(in.pickle, in.with_buffers(flags.options), in.owner);
  if (!doc) {
    report_error(file, doc.error());
    return exit_invalid;
  }
  const auto out = brine::repr(doc->root(), ro);
  std::cout << out.text << "\n";
  if (out.truncated) std::cerr << "brine: output truncated after a budget of " << ro.budget << " (--budget)\n";
  return exit_ok;
}

int cmd_convert(std::vector<std::string_view> args) {
  decode_flags flags;
  brine::encode_options eo;
  bool from_json = false, optimize = false, reencode = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: brine convert [--protocol N] [--profile 3.8|3.15] [--optimize] IN OUT\n\n"
                   "Decodes IN and writes it again at protocol N (default 5). For data brine can\n"
                   "represent the output is byte-identical to CPython's pickle.dumps(obj, N) of the\n"
                   "object CPython would load from IN. '-' is standard input or output. A container IN\n"
                   "is decoded with its out-of-band buffers, which the output holds in-band (as\n"
                   "pickle.dumps(pickle.loads(p, buffers=b), N) writes them).\n\n"
                   "--optimize drops the memo stores (PUT, BINPUT, LONG_BINPUT, MEMOIZE) that no GET\n"
                   "reads, renumbers the rest and re-frames, byte-identical to CPython 3.11's\n"
                   "pickletools.optimize. Alone, it optimizes IN's own opcodes (the pickle must be valid;\n"
                   "nothing else changes); with --protocol, --profile, --from-json or a container IN it\n"
                   "optimizes the re-encoded pickle.\n\n"
                   "  --protocol N        0 to 5\n"
                   "  --profile P         3.8 (CPython 3.8-3.14, default) or 3.15 (announced batching)\n"
                   "  --optimize          drop unused memo stores, as pickletools.optimize\n"
                   "  --no-fix-imports    do not map names to Python 2 ones below protocol 3\n"
                   "  --from-json         IN is JSON from `brine json --lossless` (or plain JSON)\n\n"
                << decode_help();
      return exit_ok;
    }
    if (args[i] == "--protocol") {
      const std::string_view v = next();
      if (v.size() != 1 || v[0] < '0' || v[0] > '5') throw usage_error{"--protocol takes 0 to 5"};
      eo.protocol = v[0] - '0';
      reencode = true;
    } else if (args[i] == "--profile") {
      const std::string_view v = next();
      if (v == "3.8" || v == "3.14") eo.profile = brine::cpython_profile::cpython_3_8_to_3_14;
      else if (v == "3.15") eo.profile = brine::cpython_profile::cpython_3_15;
      else throw usage_error{"--profile takes 3.8 or 3.15"};
      reencode = true;
    } else if (args[i] == "--no-fix-imports") {
      eo.fix_imports = false;
      flags.options.fix_imports = false;
    } else if (args[i] == "--from-json") {
      from_json = true;
    } else if (args[i] == "--optimize") {
      optimize = true;
    } else if (flags.parse(args[i], next)) {
      continue;
    } else if (!args[i].empty() && args[i][0] == '-' && args[i] != "-") {
      throw usage_error{"unknown option " + std::string(args[i])};
    } else {
      files.emplace_back(args[i]);
    }
  }
  if (files.size() != 2) throw usage_error{"convert takes IN and OUT"};
  brine_cli::input in;
  if (!load(files[0], flags, in)) return exit_invalid;
  std::string why;
  if (optimize && !reencode && !from_json && !in.is_container()) {
    // pickletools.optimize of IN itself: the same opcodes, minus the unread memo stores.
    auto out = brine_cli::optimize_pickle(in.pickle, flags.options);
    if (!out) {
      report_error(files[0], out.error());
      return exit_invalid;
    }
    if (!brine_cli::write_output(files[1], *out, why)) {
      std::cerr << "brine: " << why << "\n";
      return exit_invalid;
    }
    return exit_ok;
  }
  std::span<const std::byte> source = in.pickle;
  std::shared_ptr<const void> owner = in.owner;
  auto options = in.with_buffers(flags.options);
  if (from_json) {
    // JSON -> an intermediate protocol-5 pickle, decoded without folds so that recorded calls
    // stay exactly as the JSON lists them; then encoded like any decoded pickle.
    auto pickled = brine_cli::pickle_from_json(
        std::string_view(reinterpret_cast<const char*>(in.pickle.data()), in.pickle.size()));
    if (!pickled) {
      report_error(files[0], pickled.error());
      return exit_invalid;
    }
    auto held = std::make_shared<std::string>(std::move(*pickled));
    source = std::as_bytes(std::span<const char>(held->data(), held->size()));
    owner = held;
    options.fold_builtins = false;
  }
  auto doc = brine::decode(source, options, owner);
  if (!doc) {
    report_error(files[0], doc.error());
    return exit_invalid;
  }
  auto out = brine::encode(doc->root(), eo);
  if (!out) {
    report_error(files[0], out.error());
    return exit_invalid;
  }
  if (optimize) {
    auto optimized = brine_cli::optimize_pickle(std::as_bytes(std::span<const char>(out->data(), out->size())), {});
    if (!optimized) {
      report_error(files[0], optimized.error());
      return exit_invalid;
    }
    *out = std::move(*optimized);
  }
  if (!brine_cli::write_output(files[1], *out, why)) {
    std::cerr << "brine: " << why << "\n";
    return exit_invalid;
  }
  return exit_ok;
}

int cmd_dis(std::vector<std::string_view> args) {
  brine::dis_options dopt;
  decode_flags flags;  // only its container options apply
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: brine dis [--annotate] FILE\n\n"
                   "Disassembles the first pickle in FILE; the text is identical to\n"
                   "`python -m pickletools FILE` (pickletools.dis of CPython 3.11). --annotate adds\n"
                   "each opcode's one-line description, like pickletools' annotate option. For a\n"
                   "container, the listing is that of its pickle section.\n\n"
                   "  -a, --annotate        add the opcode descriptions\n\n"
                << brine_cli::container_usage;
      return exit_ok;
    }
    if (arg == "--annotate" || arg == "-a") dopt.annotate = 30;  // python -m pickletools -a
    else if (flags.container.parse(arg, next)) continue;
    else if (!arg.empty() && arg[0] == '-' && arg != "-") throw usage_error{"unknown option " + std::string(arg)};
    else if (file.empty()) file = arg;
    else throw usage_error{"dis takes one FILE"};
  }
  if (file.empty()) throw usage_error{"dis needs a FILE"};
  brine_cli::input in;
  if (!load(file, flags, in)) return exit_invalid;
  // Streamed: the listing of a 100 MB pickle is several times its size. stdout is fully
  // buffered with a large buffer so that each chunk costs one write.
  static char out_buffer[1 << 20];
  std::setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);
  brine::text_sink sink{stdout, [](void* f, std::string_view chunk) { std::fwrite(chunk.data(), 1, chunk.size(), static_cast<std::FILE*>(f)); }};
  auto r = brine::disassemble(in.pickle, sink, dopt);
  std::fflush(stdout);
  if (!r) {
    report_error(file, r.error());
    return exit_invalid;
  }
  return exit_ok;
}

// --- scan, json, stats

// Regular files under `path` (itself when it is a file), in name order; '-' stays '-'.
void list_files(const std::string& path, std::vector<std::pair<std::string, bool>>& out, std::vector<std::string>& errors) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path == "-" || !fs::is_directory(path, ec)) {
    out.emplace_back(path, false);
    return;
  }
  std::vector<std::string> found;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code fe;
    if (it->is_regular_file(fe)) found.push_back(it->path().string());
  }
  if (ec) errors.push_back(path + ": " + ec.message());
  std::sort(found.begin(), found.end());
  for (auto& f : found) out.emplace_back(std::move(f), true);
}

int cmd_scan(std::vector<std::string_view> args) {
  decode_flags flags;
  brine::scan_options so;
  bool json = false, use_defaults = true;
  brine_cli::scan_detail detail = brine_cli::scan_detail::normal;
  auto allow = std::make_shared<brine::allowlist>();
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    auto number = [&](std::size_t& target) {
      const std::string_view v = next();
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size()) throw usage_error{"expected a number"};
      target = static_cast<std::size_t>(n);
    };
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: brine scan [options] FILE...\n\n"
                   "Reports what loading each pickle would import and call, without importing or\n"
                   "calling anything: every global (as written, as fix_imports maps it, its attribute\n"
                   "path, how STACK_GLOBAL got its operands), every call (POPped ones included), BUILD\n"
                   "on a global, persistent ids, extension codes, out-of-band buffers, frame anomalies,\n"
                   "concatenated pickles and trailing bytes, archives, and where decoding stopped. A\n"
                   "broken tail keeps everything found before it. Directories are scanned recursively\n"
                   "(files there whose first byte is not an opcode are skipped as not pickles).\n\n"
                   "Exit status: 0 clean, 3 flagged (a global or call outside the allowlist, an evasion\n"
                   "pattern, a limit hit), 1 malformed or unreadable (and nothing flagged), 2 usage.\n\n"
                   "  --json                  one JSON object per file, one per line\n"
                   "  -q, --quiet             the verdict line only\n"
                   "  -v, --verbose           also info findings and each pickle of the stream\n"
                   "  --allow FILE            add the `module qualname` entries of FILE to the allowlist\n"
                   "  --no-default-allowlist  start from an empty allowlist\n"
                   "  --print-allowlist       print the default allowlist and exit\n"
                   "  --flag-persistent-ids   treat persistent ids as flagged, not info\n"
                   "  --max-pickles N         pickles scanned per file (default 4096)\n"
                   "  --max-findings N        findings listed per file (default 10000)\n\n"
                << decode_help();
      return exit_ok;
    }
    if (args[i] == "--json") json = true;
    else if (args[i] == "-q" || args[i] == "--quiet") detail = brine_cli::scan_detail::quiet;
    else if (args[i] == "-v" || args[i] == "--verbose") detail = brine_cli::scan_detail::verbose;
    else if (args[i] == "--no-default-allowlist") use_defaults = false;
    else if (args[i] == "--flag-persistent-ids") so.flag_persistent_ids = true;
    else if (args[i] == "--print-allowlist") {
      std::cout << brine::default_allowlist_text();
      return exit_ok;
    } else if (args[i] == "--allow") {
      const std::string file(next());
      std::shared_ptr<const void> owner;
      std::span<const std::byte> text;
      std::string why;
      if (!brine_cli::load_bytes(file, owner, text, why)) throw usage_error{"--allow: " + why};
      auto parsed = brine::allowlist::parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
      if (!parsed) throw usage_error{file + ": " + parsed.error().message};
      allow->merge(*parsed);
    } else if (args[i] == "--max-pickles") number(so.max_pickles);
    else if (args[i] == "--max-findings") number(so.max_findings);
    else if (flags.parse(args[i], next)) continue;
    else if (!args[i].empty() && args[i][0] == '-' && args[i] != "-") throw usage_error{"unknown option " + std::string(args[i])};
    else paths.emplace_back(args[i]);
  }
  if (paths.empty()) throw usage_error{"scan needs a FILE"};
  if (use_defaults) allow->merge(brine::allowlist::defaults());
  so.allow = allow;
  so.decode = flags.options;

  std::vector<std::pair<std::string, bool>> files;  // path, found by directory recursion
  std::vector<std::string> errors;
  for (const auto& p : paths) list_files(p, files, errors);
  int status = exit_ok;
  auto worsen = [&](int s) {
    if (s == exit_flagged || (s == exit_invalid && status == exit_ok)) status = s;
  };
  for (const auto& e : errors) {
    std::cerr << "brine: " << e << "\n";
    worsen(exit_invalid);
  }
  for (const auto& [file, in_directory] : files) {
    brine_cli::input in;
    std::string why;
    if (!brine_cli::load_input(file, flags.container, in, why)) {
      if (json) std::cout << brine_cli::unreadable_json(file, why);
      else std::cerr << "brine: " << why << "\n";
      worsen(exit_invalid);
      continue;
    }
    // A container's pickle is scanned with its buffers (otherwise the scanner supplies
    // placeholders for the NEXT_BUFFERs it counts).
    so.decode = in.with_buffers(flags.options);
    const auto report = brine::scan(in.pickle, so);
    if (in_directory && report.result != brine::verdict::flagged && !report.pickles.empty() && report.pickles[0].error &&
        report.pickles[0].error->code == brine::errc::invalid_opcode && report.pickles[0].error->offset == 0) {
      // Loading it fails at its first byte, before anything runs: not a pickle.
      if (json) std::cout << brine_cli::skipped_json(file, "not a pickle: the first byte is not an opcode");
      else if (detail != brine_cli::scan_detail::quiet) std::cout << file << ": skipped (not a pickle)\n";
      continue;
    }
    std::string text = json ? brine_cli::scan_json(file, report) : brine_cli::scan_text(file, report, detail);
    if (!json && in.is_container() && detail != brine_cli::scan_detail::quiet) insert_after_first_line(text, "  " + in.container_summary() + "\n");
    std::cout << text;
    worsen(report.result == brine::verdict::flagged ? exit_flagged : report.result == brine::verdict::malformed ? exit_invalid : exit_ok);
  }
  std::cout.flush();
  return status;
}

int cmd_json(std::vector<std::string_view> args) {
  decode_flags flags;
  brine_cli::json_options jo;
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: brine json [--lossless] [--budget N] FILE\n\n"
                   "Writes the pickle's data as one line of JSON. Plain JSON takes None, bool, int,\n"
                   "float, str, bytes and bytearray (as base64 strings), list and tuple (arrays) and\n"
                   "dicts with str keys; NaN and infinities are an error (JSON cannot spell them), as\n"
                   "is anything else, named by kind and offset. Shared values are written in full\n"
                   "each time, against a budget, so a small pickle cannot expand without bound; a\n"
                   "value inside itself is an error.\n\n"
                   "--lossless writes tagged JSON that keeps every kind, the sharing ($id / $ref) and\n"
                   "the order; `brine convert --from-json` turns it back into a pickle.\n\n"
                   "  --lossless    tagged JSON for every kind\n"
                   "  --budget N    values written before giving up (default 10000000)\n\n"
                << decode_help();
      return exit_ok;
    }
    if (args[i] == "--lossless") {
      jo.lossless = true;
    } else if (args[i] == "--budget") {
      const std::string_view v = next();
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), jo.budget);
      if (ec != std::errc() || p != v.data() + v.size()) throw usage_error{"expected a number after --budget"};
    } else if (flags.parse(args[i], next)) {
      continue;
    } else if (!args[i].empty() && args[i][0] == '-' && args[i] != "-") {
      throw usage_error{"unknown option " + std::string(args[i])};
    } else if (file.empty()) {
      file = args[i];
    } else {
      throw usage_error{"json takes one FILE"};
    }
  }
  if (file.empty()) throw usage_error{"json needs a FILE"};
  brine_cli::input in;
  if (!load(file, flags, in)) return exit_invalid;
  auto doc = brine::decode(in.pickle, in.with_buffers(flags.options), in.owner);
  if (!doc) {
    report_error(file, doc.error());
    return exit_invalid;
  }
  auto out = brine_cli::to_json(doc->root(), jo);
  if (!out) {
    std::cerr << "brine: " << file << ": " << out.error().message << "\n";  // names kind and offset
    return exit_invalid;
  }
  *out += '\n';
  std::fwrite(out->data(), 1, out->size(), stdout);
  return exit_ok;
}

int cmd_stats(std::vector<std::string_view> args) {
  decode_flags flags;
  bool json = false;
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw usage_error{"missing value after " + std::string(args[i])};
      return args[++i];
    };
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: brine stats [--json] FILE\n\n"
                   "For each pickle in FILE: protocol, opcode histogram (pickletools names), frames,\n"
                   "memo stores, fetches and entries, nodes by kind and how many the root reaches,\n"
                   "and the largest strings and bytes/buffers with their offsets. Exit 1 when the\n"
                   "first pickle fails to decode (its statistics up to the error are still shown).\n\n"
                   "  --json    one JSON object\n\n"
                << decode_help();
      return exit_ok;
    }
    if (args[i] == "--json") json = true;
    else if (flags.parse(args[i], next)) continue;
    else if (!args[i].empty() && args[i][0] == '-' && args[i] != "-") throw usage_error{"unknown option " + std::string(args[i])};
    else if (file.empty()) file = args[i];
    else throw usage_error{"stats takes one FILE"};
  }
  if (file.empty()) throw usage_error{"stats needs a FILE"};
  brine_cli::input in;
  if (!load(file, flags, in)) return exit_invalid;
  brine::scan_options so;
  so.decode = in.with_buffers(flags.options);
  std::vector<brine_cli::node_stats> nodes;
  so.on_document = [&](const brine::document& doc, const brine::pickle_info& info) {
    nodes.push_back(brine_cli::collect_node_stats(doc, info.start));
  };
  const auto report = brine::scan(in.pickle, so);
  std::string text = json ? brine_cli::stats_json(file, report, nodes) : brine_cli::stats_text(file, report, nodes);
  if (!json && in.is_container()) insert_after_first_line(text, in.container_summary() + "\n");
  std::cout << text;
  if (!report.pickles.empty() && report.pickles[0].error) {
    std::cout.flush();
    report_error(file, *report.pickles[0].error);
    return exit_invalid;
  }
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << main_usage;
    return args.empty() ? exit_usage : exit_ok;
  }
  const std::string_view command = args[0];
  args.erase(args.begin());
  try {
    if (command == "check") return cmd_check(args);
    if (command == "show") return cmd_show(args);
    if (command == "dis") return cmd_dis(args);
    if (command == "convert") return cmd_convert(args);
    if (command == "scan") return cmd_scan(args);
    if (command == "json") return cmd_json(args);
    if (command == "stats") return cmd_stats(args);
    if (command == "pack") return brine_cli::cmd_pack(args);
    if (command == "unpack") return brine_cli::cmd_unpack(args);
    if (command == "demo") return brine_cli::cmd_demo(args, argv[0]);
    throw usage_error{"unknown command '" + std::string(command) + "'"};
  } catch (const usage_error& e) {
    std::cerr << "brine: " << e.message << "\n" << main_usage;
    return exit_usage;
  }
}
