// tools/scan_output.cpp — see scan_output.hpp.
#include "scan_output.hpp"

#include <algorithm>

#include <brine/opcodes.hpp>

#include "json_text.hpp"

namespace brine_cli {
namespace {

std::string_view opcode_of(brine::global_source s) {
  switch (s) {
    case brine::global_source::global_op: return "GLOBAL";
    case brine::global_source::stack_global: return "STACK_GLOBAL";
    case brine::global_source::inst: return "INST";
  }
  return "?";
}

std::string_view call_name(brine::call_kind k) {
  switch (k) {
    case brine::call_kind::reduce: return "REDUCE";
    case brine::call_kind::newobj: return "NEWOBJ";
    case brine::call_kind::newobj_ex: return "NEWOBJ_EX";
    case brine::call_kind::inst: return "INST";
    case brine::call_kind::obj: return "OBJ";
  }
  return "?";
}

// Names come from untrusted input: escape what a terminal would interpret.
std::string safe(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string operands(const std::array<std::uint64_t, 5>& counts) {
  std::string s;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    if (!s.empty()) s += ", ";
    s += std::string(brine::operand_source_name(static_cast<brine::operand_source>(i))) + " " + std::to_string(counts[i]);
  }
  return s;
}

void key(std::string& o, std::string_view k) {
  append_json_string(o, k);
  o += ':';
}

void error_json(std::string& o, const brine::error& e) {
  o += "{\"code\":";
  append_json_string(o, brine::errc_name(e.code));
  o += ",\"offset\":" + std::to_string(e.offset) + ",\"opcode\":" + std::to_string(e.opcode) + ",\"message\":";
  append_json_string(o, e.message);
  o += '}';
}

void header_json(std::string& o, std::string_view file, const brine::scan_report& r) {
  o += '{';
  key(o, "file");
  append_json_string(o, file);
  o += ",\"verdict\":";
  append_json_string(o, brine::verdict_name(r.result));
  o += ",\"size\":" + std::to_string(r.input_size) + ",\"stopped_at\":" + std::to_string(r.stopped_at);
}

void pickles_json(std::string& o, const brine::scan_report& r, const std::vector<node_stats>* nodes) {
  o += ",\"pickles\":[";
  for (std::size_t i = 0; i < r.pickles.size(); ++i) {
    const auto& p = r.pickles[i];
    if (i) o += ',';
    o += "{\"start\":" + std::to_string(p.start) + ",\"end\":" + std::to_string(p.end) + ",\"protocol\":" +
         std::to_string(p.protocol) + ",\"error\":";
    if (p.error) error_json(o, *p.error);
    else o += "null";
    o += ",\"opcodes\":" + std::to_string(p.opcodes) + ",\"frames\":" + std::to_string(p.frames) + ",\"memo_puts\":" +
         std::to_string(p.memo_puts) + ",\"memo_gets\":" + std::to_string(p.memo_gets) + ",\"memo_entries\":" +
         std::to_string(p.memo_entries) + ",\"nodes\":" + std::to_string(p.nodes);
    if (nodes != nullptr && i < nodes->size()) {
      const auto& n = (*nodes)[i];
      o += ",\"opcode_counts\":{";
      bool first = true;
      for (const auto& info : brine::opcode_table) {
        if (p.opcode_counts[info.code] == 0) continue;
        if (!first) o += ',';
        first = false;
        key(o, info.name);
        o += std::to_string(p.opcode_counts[info.code]);
      }
      o += "},\"node_kinds\":{";
      first = true;
      for (std::size_t k = 0; k < n.by_kind.size(); ++k) {
        if (n.by_kind[k] == 0) continue;
        if (!first) o += ',';
        first = false;
        key(o, brine::kind_name(static_cast<brine::kind>(k)));
        o += std::to_string(n.by_kind[k]);
      }
      o += "},\"reachable_nodes\":" + std::to_string(n.reachable) + ",\"str_bytes\":" + std::to_string(n.str_bytes) +
           ",\"bytes_bytes\":" + std::to_string(n.bytes_bytes);
      for (const auto* list : {&n.largest_str, &n.largest_bytes}) {
        o += list == &n.largest_str ? ",\"largest_str\":[" : ",\"largest_bytes\":[";
        for (std::size_t k = 0; k < list->size(); ++k)
          o += std::string(k ? "," : "") + "{\"size\":" + std::to_string((*list)[k].first) + ",\"offset\":" + std::to_string((*list)[k].second) + "}";
        o += ']';
      }
    }
    o += '}';
  }
  o += ']';
}

}  // namespace

std::string scan_text(std::string_view file, const brine::scan_report& r, scan_detail detail) {
  std::string o = safe(file) + ": " + std::string(brine::verdict_name(r.result));
  std::size_t flagged = 0, malformed = 0;
  for (const auto& f : r.findings) {
    if (f.level == brine::severity::flagged) ++flagged;
    if (f.level == brine::severity::malformed) ++malformed;
  }
  o += " (" + std::to_string(r.pickles.size()) + (r.pickles.size() == 1 ? " pickle" : " pickles");
  if (flagged) o += ", " + std::to_string(flagged) + " flagged";
  if (malformed) o += ", " + std::to_string(malformed) + " malformed";
  if (r.stopped_at < r.input_size) o += ", stopped at offset " + std::to_string(r.stopped_at) + " of " + std::to_string(r.input_size);
  o += ")\n";
  if (detail == scan_detail::quiet) return o;
  if (detail == scan_detail::verbose) {
    for (std::size_t i = 0; i < r.pickles.size(); ++i) {
      const auto& p = r.pickles[i];
      o += "  pickle " + std::to_string(i) + ": bytes " + std::to_string(p.start) + ".." + std::to_string(p.end) +
           ", protocol " + std::to_string(p.protocol) + ", " + std::to_string(p.opcodes) + " opcodes";
      if (p.error) o += ", error: " + safe(p.error->to_string());
      o += "\n";
    }
  }
  for (const auto& f : r.findings) {
    if (f.level == brine::severity::info && detail != scan_detail::verbose) continue;
    std::string level(brine::severity_name(f.level));
    level.resize(9, ' ');
    o += "  " + level + " @" + std::to_string(f.offset) + " " + std::string(brine::finding_kind_name(f.kind)) + ": " + safe(f.message) + "\n";
  }
  if (r.findings_dropped) o += "  (" + std::to_string(r.findings_dropped) + " more findings not listed)\n";
  if (!r.globals.empty()) {
    o += "  globals:\n";
    for (const auto& g : r.globals) {
      o += "    " + safe(g.mapped_module) + "." + safe(g.mapped_name) + (g.allowed ? "" : "  NOT ALLOWED") + "  (" +
           std::string(opcode_of(g.source)) + " x" + std::to_string(g.count) + ", first at " + std::to_string(g.first_offset);
      if (g.mapped_module != g.module || g.mapped_name != g.name) o += ", written " + safe(g.module) + "." + safe(g.name);
      if (g.source == brine::global_source::stack_global)
        o += "; module operands: " + operands(g.module_operands) + "; name operands: " + operands(g.name_operands);
      o += ")\n";
    }
  }
  if (!r.calls.empty()) {
    o += "  calls:\n";
    for (const auto& c : r.calls) {
      o += "    " + safe(c.callable) + (c.allowed ? "" : "  NOT ALLOWED") + "  (" + std::string(call_name(c.how)) + " x" +
           std::to_string(c.count) + ", first at " + std::to_string(c.first_offset);
      if (c.discarded) o += ", " + std::to_string(c.discarded) + " unreachable from the root";
      o += ")\n";
    }
  }
  return o;
}

std::string scan_json(std::string_view file, const brine::scan_report& r) {
  std::string o;
  header_json(o, file, r);
  o += ",\"findings\":[";
  for (std::size_t i = 0; i < r.findings.size(); ++i) {
    const auto& f = r.findings[i];
    if (i) o += ',';
    o += "{\"kind\":";
    append_json_string(o, brine::finding_kind_name(f.kind));
    o += ",\"severity\":";
    append_json_string(o, brine::severity_name(f.level));
    o += ",\"offset\":" + std::to_string(f.offset) + ",\"pickle\":" + std::to_string(f.pickle) + ",\"message\":";
    append_json_string(o, f.message);
    o += '}';
  }
  o += "],\"findings_dropped\":" + std::to_string(r.findings_dropped) + ",\"globals\":[";
  for (std::size_t i = 0; i < r.globals.size(); ++i) {
    const auto& g = r.globals[i];
    if (i) o += ',';
    o += "{\"module\":";
    append_json_string(o, g.module);
    o += ",\"name\":";
    append_json_string(o, g.name);
    o += ",\"mapped_module\":";
    append_json_string(o, g.mapped_module);
    o += ",\"mapped_name\":";
    append_json_string(o, g.mapped_name);
    o += ",\"components\":[";
    const auto parts = g.components();
    for (std::size_t k = 0; k < parts.size(); ++k) {
      if (k) o += ',';
      append_json_string(o, parts[k]);
    }
    o += "],\"opcode\":";
    append_json_string(o, opcode_of(g.source));
    o += std::string(",\"allowed\":") + (g.allowed ? "true" : "false") + ",\"count\":" + std::to_string(g.count) +
         ",\"first_offset\":" + std::to_string(g.first_offset);
    if (g.source == brine::global_source::stack_global) {
      for (const auto* counts : {&g.module_operands, &g.name_operands}) {
        o += counts == &g.module_operands ? ",\"module_operands\":{" : ",\"name_operands\":{";
        bool first = true;
        for (std::size_t k = 0; k < counts->size(); ++k) {
          if ((*counts)[k] == 0) continue;
          if (!first) o += ',';
          first = false;
          key(o, brine::operand_source_name(static_cast<brine::operand_source>(k)));
          o += std::to_string((*counts)[k]);
        }
        o += '}';
      }
    }
    o += '}';
  }
  o += "],\"calls\":[";
  for (std::size_t i = 0; i < r.calls.size(); ++i) {
    const auto& c = r.calls[i];
    if (i) o += ',';
    o += "{\"callable\":";
    append_json_string(o, c.callable);
    o += ",\"how\":";
    append_json_string(o, call_name(c.how));
    o += std::string(",\"allowed\":") + (c.allowed ? "true" : "false") + ",\"count\":" + std::to_string(c.count) +
         ",\"discarded\":" + std::to_string(c.discarded) + ",\"first_offset\":" + std::to_string(c.first_offset) + "}";
  }
  o += ']';
  pickles_json(o, r, nullptr);
  o += "}\n";
  return o;
}

std::string unreadable_json(std::string_view file, std::string_view why) {
  std::string o = "{\"file\":";
  append_json_string(o, file);
  o += ",\"verdict\":\"unreadable\",\"error\":";
  append_json_string(o, why);
  o += "}\n";
  return o;
}

std::string skipped_json(std::string_view file, std::string_view why) {
  std::string o = "{\"file\":";
  append_json_string(o, file);
  o += ",\"verdict\":\"skipped\",\"reason\":";
  append_json_string(o, why);
  o += "}\n";
  return o;
}

node_stats collect_node_stats(const brine::document& doc, std::uint64_t start) {
  node_stats s;
  const auto n = static_cast<std::uint32_t>(doc.node_count());
  s.nodes = n;
  auto keep = [](std::vector<std::pair<std::uint64_t, std::uint64_t>>& list, std::uint64_t size, std::uint64_t offset) {
    if (list.size() == keep_largest && list.back().first >= size) return;
    list.emplace_back(size, offset);
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (list.size() > keep_largest) list.pop_back();
  };
  std::vector<std::uint8_t> seen(n, 0);
  for (std::uint32_t id = 0; id < n; ++id) {
    const brine::value v = doc.node(id);
    ++s.by_kind[static_cast<std::size_t>(v.kind())];
    if (v.is(brine::kind::str)) {
      s.str_bytes += v.as_str().size();
      keep(s.largest_str, v.as_str().size(), v.offset() + start);
    } else if (v.is(brine::kind::bytes) || v.is(brine::kind::bytearray) || v.is(brine::kind::buffer)) {
      s.bytes_bytes += v.as_bytes().size();
      keep(s.largest_bytes, v.as_bytes().size(), v.offset() + start);
    }
  }
  // Nodes reachable from the root (the rest were POPped, left on the stack, or overwritten).
  if (doc.root().valid()) {
    std::vector<std::uint32_t> todo{doc.root().id()};
    while (!todo.empty()) {
      const std::uint32_t id = todo.back();
      todo.pop_back();
      if (seen[id]) continue;
      seen[id] = 1;
      ++s.reachable;
      const brine::value v = doc.node(id);
      auto add = [&](std::span<const std::uint32_t> ids) { todo.insert(todo.end(), ids.begin(), ids.end()); };
      switch (v.kind()) {
        case brine::kind::tuple: case brine::kind::list: case brine::kind::set: case brine::kind::frozenset: add(v.items().ids()); break;
        case brine::kind::dict: add(v.pairs().ids()); break;
        case brine::kind::object:
          todo.push_back(v.callable().id());
          todo.push_back(v.args().id());
          if (v.kwargs().valid()) todo.push_back(v.kwargs().id());
          [[fallthrough]];
        case brine::kind::global:
          for (const auto& o : v.ops()) add(o.values.ids());
          break;
        case brine::kind::persistent_id: todo.push_back(v.pid().id()); break;
        default: break;
      }
    }
  }
  return s;
}

std::string stats_text(std::string_view file, const brine::scan_report& r, const std::vector<node_stats>& nodes) {
  std::string o = safe(file) + ": " + std::to_string(r.input_size) + " bytes, " + std::to_string(r.pickles.size()) +
                  (r.pickles.size() == 1 ? " pickle" : " pickles") + "\n";
  for (std::size_t i = 0; i < r.pickles.size(); ++i) {
    const auto& p = r.pickles[i];
    o += "pickle " + std::to_string(i) + ": bytes " + std::to_string(p.start) + ".." + std::to_string(p.end) + ", protocol " +
         std::to_string(p.protocol) + "\n";
    if (p.error) o += "  error: " + safe(p.error->to_string()) + "\n";
    o += "  opcodes: " + std::to_string(p.opcodes) + ", frames: " + std::to_string(p.frames) + ", memo: " +
         std::to_string(p.memo_entries) + " entries (" + std::to_string(p.memo_puts) + " stores, " + std::to_string(p.memo_gets) + " fetches)\n";
    std::vector<std::pair<std::uint64_t, std::string_view>> hist;
    for (const auto& info : brine::opcode_table)
      if (p.opcode_counts[info.code]) hist.emplace_back(p.opcode_counts[info.code], info.name);
    std::stable_sort(hist.begin(), hist.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [count, name] : hist) {
      std::string n(name);
      n.resize(18, ' ');
      o += "    " + n + " " + std::to_string(count) + "\n";
    }
    if (i < nodes.size()) {
      const auto& n = nodes[i];
      o += "  nodes: " + std::to_string(n.nodes) + " (" + std::to_string(n.reachable) + " reachable from the root)";
      std::string kinds;
      for (std::size_t k = 0; k < n.by_kind.size(); ++k) {
        if (!n.by_kind[k]) continue;
        kinds += kinds.empty() ? ": " : ", ";
        kinds += std::string(brine::kind_name(static_cast<brine::kind>(k))) + " " + std::to_string(n.by_kind[k]);
      }
      o += kinds + "\n";
      auto list = [&](const char* what, std::uint64_t total, const auto& items) {
        if (items.empty()) return;
        o += std::string("  ") + what + ": " + std::to_string(total) + " bytes in all; largest";
        for (std::size_t k = 0; k < items.size(); ++k)
          o += std::string(k ? "," : "") + " " + std::to_string(items[k].first) + " at " + std::to_string(items[k].second);
        o += "\n";
      };
      list("str", n.str_bytes, n.largest_str);
      list("bytes/bytearray/buffers", n.bytes_bytes, n.largest_bytes);
    }
  }
  if (r.stopped_at < r.input_size)
    o += "stopped at offset " + std::to_string(r.stopped_at) + " of " + std::to_string(r.input_size) + "\n";
  return o;
}

std::string stats_json(std::string_view file, const brine::scan_report& r, const std::vector<node_stats>& nodes) {
  std::string o;
  header_json(o, file, r);
  pickles_json(o, r, &nodes);
  o += "}\n";
  return o;
}

}  // namespace brine_cli
