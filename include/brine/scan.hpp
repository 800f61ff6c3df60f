// brine/scan.hpp — a security report for untrusted pickles, by symbolic execution.
//
// `scan` decodes the input with brine's decoder (nothing is imported or executed: globals and
// calls are inert nodes, see brine/document.hpp) and reports what CPython's unpickler would do
// with it: every global it would import, every call it would make, every attribute overwrite,
// and everything a scanner is known to get wrong (HARDENING.md §6):
//
//  * globals: raw names as written, the names fix_imports maps them to (protocols below 3:
//    `ccommands\ngetoutput\n.` is subprocess.getoutput), the dotted attribute path (protocol 4+:
//    `tempfile _os.system` is os.system), the opcode that named them, and for STACK_GLOBAL how
//    each operand reached the stack: a literal string opcode, a memo GET, DUP, or computed. A
//    computed operand is made by an opcode whose value only exists at run time (REDUCE, ...):
//    CPython imports whatever str the call returns, brine's decoder cannot know it and stops
//    with type_mismatch, and the scanner flags it. A non-str data operand (an int) is malformed.
//  * calls: REDUCE, NEWOBJ, NEWOBJ_EX, INST and OBJ, including calls whose result was POPped or
//    otherwise never reaches the root (CPython runs them all the same). BUILD on a global (a
//    module or class attribute overwrite). Persistent ids, extension codes (unresolved globals),
//    out-of-band buffers.
//  * the stream: every pickle of a concatenation (scanning goes on after STOP, as a loader that
//    calls load() repeatedly would: legacy PyTorch files hold five), bytes after the last pickle
//    that are not a pickle, frame anomalies (opcodes straddling a frame end, frames inside frames:
//    cpython gh-154848; a frame going on after STOP, whose tail loaders read differently), late or
//    repeated PROTO, archive containers detected by content (ZIP,
//    7z, gzip, ...), and where decoding stopped. On a decode error every finding made before the
//    error is kept: CPython executes a malicious prefix before it reaches a broken tail.
//  * nested pickles: bytes passed to pickle.loads and other loaders are scanned as pickles.
//
// Verdict: each finding has a severity. `flagged` (something outside the allowlist, an anomaly
// only hand-made pickles have, or a limit that stopped the scan: scanners fail closed) outranks
// `malformed` (CPython would fail to load it, after running what came before), which outranks
// `clean`. Calls and globals inside the allowlist are reported but do not flag.
//
// Allowlist: one `module qualname` entry per line. `module *` allows every undotted name of the
// module; `module Name.*` every attribute of Name one level down; dotted names are otherwise only
// allowed by an exact entry (so `tempfile *` does not allow `tempfile _os.system`). Names are
// matched after fix_imports. `allowlist::defaults()` holds brine's default: plain-data builtins,
// collections, datetime, decimal, fractions, uuid, numpy array reconstruction (the text is
// `default_allowlist_text()`, shipped as tools/allowlist.txt). A few callables are checked beyond
// their name: copyreg._reconstructor(cls, base, state) needs `cls` and `base` to be allowlisted
// globals; numpy's _reconstruct(cls, shape, dtype) and array._array_reconstructor(cls, ...) need
// `cls` to be one.
//
// Limits: the decoder's limits apply to each pickle (decode_options::limits); hitting one is a
// flagged finding (scanners fail closed). The scanner adds its own: pickles per input and
// distinct globals and callables listed (flagged when hit: part of the input or of the inventory
// is missing), findings listed (not flagged: every finding still counts towards the verdict).
// Memory is linear in the input and bounded by the decoder's limits; time is linear in the input
// (one decode and one tokenizer pass per pickle, plus a counting pass when NEXT_BUFFER occurs).
//
// Out-of-band buffers: unless the caller supplies them (decode_options::buffers_given), the
// scanner counts NEXT_BUFFER opcodes and supplies that many empty placeholders, so a pickle that
// expects buffers is scanned rather than rejected.
//
// Ownership and thread-safety: `scan` only reads the input during the call; the report owns
// copies of everything it mentions. Calls are reentrant; an allowlist is immutable once built and
// may be shared by any number of concurrent scans.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brine/decode.hpp"
#include "brine/document.hpp"
#include "brine/error.hpp"

namespace brine {

/// A set of globals that may be imported and called.
class allowlist {
 public:
  /// An empty list: allows nothing.
  allowlist() = default;

  /// Parse `module qualname` lines; '#' starts a comment, blank lines are ignored. Errors are
  /// errc::bad_argument with `offset` the byte offset of the line and `detail` its number (1-based).
  static result<allowlist> parse(std::string_view text);
  /// brine's default allowlist (parsed once, on first use; thread-safe).
  static const allowlist& defaults();

  /// Add one entry. `qualname` is a dotted name, `*`, or a dotted name ending in `.*`.
  void add(std::string_view module, std::string_view qualname);
  /// Add every entry of `other`.
  void merge(const allowlist& other);
  /// True when module.qualname (names as CPython imports them, after fix_imports) is allowed.
  bool allows(std::string_view module, std::string_view qualname) const noexcept;
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct entry {
    std::string module, qualname;  // qualname "*" or "X.*" for wildcards
    friend bool operator<(const entry& a, const entry& b) noexcept {
      return a.module != b.module ? a.module < b.module : a.qualname < b.qualname;
    }
  };
  std::vector<entry> entries_;  // sorted, unique
};

/// The text of brine's default allowlist (the same as tools/allowlist.txt).
std::string_view default_allowlist_text() noexcept;

/// How bad a finding is. The order matters: the report's verdict is the highest severity found.
enum class severity : std::uint8_t {
  info,       ///< reported, harmless on its own
  malformed,  ///< CPython's unpickler would raise here (after running everything before)
  flagged,    ///< outside the allowlist, a scanner-evasion pattern, or a limit hit (fail closed)
};
/// The report's overall result: the highest severity among the findings (info is clean).
enum class verdict : std::uint8_t { clean, malformed, flagged };

enum class finding_kind : std::uint8_t {
  global,                ///< a global outside the allowlist (CPython imports its module)
  call,                  ///< a call whose callable is not an allowlisted global
  call_arguments,        ///< an allowlisted callable with arguments its rule rejects
  build_on_global,       ///< BUILD applied to a global: a module or class attribute overwrite
  extension_code,        ///< EXT1/EXT2/EXT4: a global named by copyreg's registry, unresolved
  persistent_id,         ///< PERSID/BINPERSID: resolved by the loader's persistent_load
  buffer,                ///< NEXT_BUFFER: an out-of-band buffer
  frame,                 ///< an opcode straddles a frame end, a frame starts inside a frame, or STOP is not a frame's last byte
  stack_global_operand,  ///< a STACK_GLOBAL operand that is not a string (computed at run time)
  protocol,              ///< PROTO after the first opcode, or more than one PROTO
  differential,          ///< input CPython's C and Python unpicklers treat differently
  leftover,              ///< items or MARKs left on the stack at STOP (CPython ignores them)
  memo,                  ///< a memo index stored twice (the later value wins)
  concatenated,          ///< another pickle follows STOP
  trailing_data,         ///< bytes after STOP that do not decode as a pickle
  container,             ///< an archive or container format; its members are not scanned
  decode_error,          ///< decoding stopped here with an error
  limit,                 ///< a decoder or scanner limit stopped part of the scan
  inconsistency,         ///< the scanner's tokenizer disagrees with the decoder (a brine bug)
};

std::string_view severity_name(severity s) noexcept;        ///< "info", "malformed", "flagged"
std::string_view verdict_name(verdict v) noexcept;          ///< "clean", "malformed", "flagged"
std::string_view finding_kind_name(finding_kind k) noexcept;  ///< "global", "call", ...

struct finding {
  finding_kind kind;
  severity level;
  /// Absolute byte offset in the scanned input of the opcode concerned.
  std::uint64_t offset;
  /// Index into scan_report::pickles.
  std::size_t pickle;
  /// One sentence, e.g. "call of os.system (REDUCE), result discarded".
  std::string message;
};

/// How a STACK_GLOBAL operand reached the stack.
enum class operand_source : std::uint8_t {
  literal,   ///< pushed by the string opcode that made it (Python 2 S/T/U strings included)
  memo,      ///< fetched from the memo by GET/BINGET/LONG_BINGET
  dup,       ///< copied by DUP
  computed,  ///< made by a non-string opcode (REDUCE, NEWOBJ, ...): CPython rejects it
  unknown,   ///< the tokenizer could not follow the stack (compat numbers in GET/PUT text)
};
std::string_view operand_source_name(operand_source s) noexcept;

struct operand_origin {
  operand_source source = operand_source::unknown;
  /// Absolute offset and byte of the opcode that made the value.
  std::uint64_t producer_offset = 0;
  std::uint8_t producer_opcode = 0;
  /// Absolute offset of the GET or DUP that pushed it (memo, dup), and the memo index (memo).
  std::uint64_t via_offset = 0;
  std::uint64_t memo_index = 0;
};

/// One distinct global name, with every place it occurs.
struct global_ref {
  std::string module, name;                // as written
  std::string mapped_module, mapped_name;  // as CPython imports it (after fix_imports)
  global_source source = global_source::global_op;
  bool allowed = false;
  std::uint64_t count = 0;         // occurrences (GLOBAL / STACK_GLOBAL / INST opcodes)
  std::uint64_t first_offset = 0;  // absolute
  /// STACK_GLOBAL only: how many module / name operands came from each operand_source.
  std::array<std::uint64_t, 5> module_operands{}, name_operands{};
  /// The attribute path CPython follows from the module: mapped_name split at dots.
  std::vector<std::string_view> components() const;
};

/// One distinct callable with one call kind, with every call made.
struct call_ref {
  /// "module.qualname" for a global; "<result of REDUCE at 12>", "<persistent id at 5>",
  /// "<extension 7>" for a computed callable.
  std::string callable;
  call_kind how = call_kind::reduce;
  bool allowed = false;
  std::uint64_t count = 0;
  /// Calls whose result is not reachable from the pickle's root (POPped, left on the stack, or
  /// the pickle failed to decode).
  std::uint64_t discarded = 0;
  std::uint64_t first_offset = 0;  // absolute
};

/// One pickle of the input (a concatenation holds several).
struct pickle_info {
  std::uint64_t start = 0;  ///< absolute offset of its first opcode
  std::uint64_t end = 0;    ///< absolute offset just past STOP, or of the failing opcode
  int protocol = 0;         ///< from the last PROTO (0 when none)
  std::optional<brine::error> error;  ///< the decode error (offsets absolute), if any
  std::uint64_t nodes = 0;            ///< nodes decoded
  // Tokenizer statistics (opcodes up to STOP or the failing opcode).
  std::array<std::uint64_t, 256> opcode_counts{};
  std::uint64_t opcodes = 0, frames = 0, memo_puts = 0, memo_gets = 0, memo_entries = 0;
};

struct scan_report {
  verdict result = verdict::clean;
  std::vector<finding> findings;  ///< in input order within each pickle
  std::uint64_t findings_dropped = 0;  ///< findings beyond scan_options::max_findings
  std::vector<global_ref> globals;     ///< sorted by first offset
  std::vector<call_ref> calls;         ///< sorted by first offset
  std::vector<pickle_info> pickles;
  std::uint64_t input_size = 0;
  /// Where scanning stopped: the input size when every byte was accounted for, else the offset
  /// of the first byte not understood (a decode error, bytes after a pickle, a limit).
  std::uint64_t stopped_at = 0;

  bool clean() const noexcept { return result == verdict::clean; }
};

struct scan_options {
  /// How the loader being protected decodes (encoding, fix_imports, limits, ...).
  decode_options decode;
  /// Allowed globals; nullptr means allowlist::defaults().
  std::shared_ptr<const allowlist> allow;
  /// Report persistent ids as flagged rather than info (CPython's default Unpickler rejects them;
  /// a loader's persistent_load decides what they do).
  bool flag_persistent_ids = false;
  /// Pickles scanned per input (concatenations). Beyond: a flagged `limit` finding.
  std::size_t max_pickles = 4096;
  /// Findings listed. Beyond: counted in findings_dropped and summarized by one info `limit`
  /// finding. Every finding still counts towards the verdict (the scan itself is complete).
  std::size_t max_findings = 10'000;
  /// Distinct globals and distinct callables kept. Beyond: a flagged `limit` finding.
  std::size_t max_distinct_names = 100'000;
  /// A bytes argument of a loader (pickle.loads, _pickle.loads, dill.loads, ...; pickle.load,
  /// torch.load, joblib.load, ... of io.BytesIO(bytes)) is scanned as a pickle too, down to this
  /// many levels; its findings are added at the call's offset, their messages naming the loader.
  /// Each payload is scanned once, and nested payloads add up to at most the input's size.
  std::size_t max_nested_depth = 3;
  /// Called with each decoded document of the input (also a failed, partial one; not the nested
  /// pickles of loader arguments) before it is freed, for callers that want statistics or the
  /// values themselves. The document's offsets are relative to `info.start`. Must not throw.
  std::function<void(const document& doc, const pickle_info& info)> on_document;
};

/// Scan every pickle in `input`. Never fails: problems with the input are findings.
scan_report scan(std::span<const std::byte> input, const scan_options& options = {});
scan_report scan(std::string_view input, const scan_options& options = {});

}  // namespace brine
