// tools/json_convert.cpp — see json_convert.hpp.
//
// Both directions are iterative: a work stack of pending pieces replaces recursion, so a 10^6-deep
// list converts as easily as a flat one.
#include "json_convert.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

#include <brine/opcodes.hpp>

#include "json_text.hpp"

namespace brine_cli {
namespace {

using brine::kind;
using brine::value;

brine::error make_error(brine::errc code, std::uint64_t offset, std::string message, std::uint64_t detail = 0) {
  brine::error e;
  e.code = code;
  e.offset = offset;
  e.detail = detail;
  e.message = std::move(message);
  return e;
}

std::string node_text(const value& v) {
  return std::string(brine::kind_name(v.kind())) + " at offset " + std::to_string(v.offset());
}

// Identity is observable (and checked by brine::equivalent) for these. A persistent id is not
// itself, but the str or tuple it holds is: sharing the persistent id shares what it holds.
bool identity_tracked(const value& v) {
  switch (v.kind()) {
    case kind::str: case kind::bytes: case kind::bytearray: case kind::list: case kind::dict: case kind::set:
    case kind::frozenset: case kind::global: case kind::object: case kind::persistent_id:
      return true;
    case kind::tuple:
      return v.size() != 0;
    default:
      return false;
  }
}

void append_float(std::string& out, double d) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
  out += s;
  if (s.find_first_of(".e") == std::string_view::npos) out += ".0";
}

// An int's little-endian two's-complement bytes as signed hex: "-0x1f", "0x0".
std::string int_hex(const std::string& le) {
  std::vector<unsigned char> mag(le.begin(), le.end());
  const bool negative = !mag.empty() && (mag.back() & 0x80) != 0;
  if (negative) {  // magnitude = two's complement negation
    unsigned carry = 1;
    for (auto& b : mag) {
      const unsigned v = static_cast<unsigned>(static_cast<unsigned char>(~b)) + carry;
      b = static_cast<unsigned char>(v & 0xff);
      carry = v >> 8;
    }
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string digits;
  for (std::size_t i = mag.size(); i-- > 0;) {
    digits += hex[mag[i] >> 4];
    digits += hex[mag[i] & 15];
  }
  const std::size_t nz = digits.find_first_not_of('0');
  digits = nz == std::string::npos ? "0" : digits.substr(nz);
  return (negative ? "-0x" : "0x") + digits;
}

// ---------------------------------------------------------------------------------------------
// document -> JSON

class json_writer {
 public:
  json_writer(const brine::document& doc, const json_options& o) : doc_(doc), opt_(o) {}

  brine::result<std::string> run(const value& root) {
    const std::size_t n = doc_.node_count();
    if (opt_.lossless) {
      count_references(root);
      label_.assign(n, 0);
    } else {
      on_path_.assign(n, 0);
    }
    work_.push_back({piece::value, root.id(), {}});
    while (!work_.empty()) {
      const piece p = work_.back();
      work_.pop_back();
      switch (p.type) {
        case piece::literal: out_ += p.text; break;
        case piece::leave: on_path_[p.id] = 0; break;
        case piece::value:
          if (!(opt_.lossless ? lossless(doc_.node(p.id)) : plain(doc_.node(p.id)))) return err_;
          break;
      }
    }
    return std::move(out_);
  }

 private:
  struct piece {
    enum kind_t : std::uint8_t { value, literal, leave } type;
    std::uint32_t id;
    std::string_view text;  // static strings only
  };

  bool fail(brine::error e) {
    err_ = std::move(e);
    return false;
  }
  bool charge(const value& v, std::uint64_t payload) {
    spent_ += 1 + payload / 64;
    if (spent_ <= opt_.budget) return true;
    return fail(make_error(brine::errc::limit_exceeded, v.offset(),
                           "more than " + std::to_string(opt_.budget) + " values to write (shared values are written in full each time; --budget)",
                           static_cast<std::uint64_t>(brine::limit::max_expanded_nodes)));
  }
  void text(std::string_view s) { work_.push_back({piece::literal, 0, s}); }
  void child(std::uint32_t id) { work_.push_back({piece::value, id, {}}); }
  // Pushes `ids` to be written in order, separated by commas (the work stack is LIFO).
  void children(std::span<const std::uint32_t> ids) {
    for (std::size_t i = ids.size(); i-- > 0;) {
      child(ids[i]);
      if (i > 0) text(",");
    }
  }

  bool scalar_int(const value& v) {
    if (v.fits_int64()) {
      out_ += std::to_string(v.as_int64());
      return true;
    }
    const std::string le = v.int_bytes();
    // 1786 bytes hold at most 4300 decimal digits: CPython's int/str limit (CVE-2020-10735).
    if (le.size() > 1786) return fail(make_error(brine::errc::limit_exceeded, v.offset(), "int at offset " + std::to_string(v.offset()) + " has more than 4300 decimal digits", static_cast<std::uint64_t>(brine::limit::max_int_digits)));
    const std::string dec = v.int_decimal();
    if (dec.size() - (dec[0] == '-' ? 1 : 0) > 4300) return fail(make_error(brine::errc::limit_exceeded, v.offset(), "int at offset " + std::to_string(v.offset()) + " has more than 4300 decimal digits", static_cast<std::uint64_t>(brine::limit::max_int_digits)));
    out_ += dec;
    return true;
  }

  bool plain(const value& v) {
    std::uint64_t payload = 0;
    if (v.is(kind::str)) payload = v.as_str().size();
    else if (v.is(kind::bytes) || v.is(kind::bytearray)) payload = v.as_bytes().size();
    if (!charge(v, payload)) return false;
    switch (v.kind()) {
      case kind::none: out_ += "null"; return true;
      case kind::boolean: out_ += v.as_bool() ? "true" : "false"; return true;
      case kind::integer: return scalar_int(v);
      case kind::floating: {
        const double d = v.as_double();
        if (!std::isfinite(d))
          return fail(make_error(brine::errc::type_mismatch, v.offset(), "float " + std::string(std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf") + " at offset " + std::to_string(v.offset()) + " is not JSON data (--lossless keeps it)"));
        append_float(out_, d);
        return true;
      }
      case kind::str: append_json_string(out_, v.as_str()); return true;
      case kind::bytes:
      case kind::bytearray:
        out_ += '"';
        append_base64(out_, v.as_bytes());
        out_ += '"';
        return true;
      case kind::list:
      case kind::tuple:
      case kind::dict: {
        if (on_path_[v.id()]) return fail(make_error(brine::errc::type_mismatch, v.offset(), node_text(v) + " contains itself (a cycle); --lossless writes cycles"));
        on_path_[v.id()] = 1;
        work_.push_back({piece::leave, v.id(), {}});
        if (!v.is(kind::dict)) {
          out_ += '[';
          text("]");
          children(v.items().ids());
          return true;
        }
        const auto ids = v.pairs().ids();
        // Keys must be str; a key written twice keeps its first position and its last value.
        std::vector<std::pair<std::string_view, std::size_t>> keys;
        keys.reserve(ids.size() / 2);
        for (std::size_t i = 0; i + 1 < ids.size(); i += 2) {
          const value k = doc_.node(ids[i]);
          if (!k.is(kind::str)) return fail(make_error(brine::errc::type_mismatch, k.offset(), "dict key " + node_text(k) + " is not a str (JSON object keys are strings)"));
          keys.emplace_back(k.as_str(), i);
        }
        std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<std::pair<std::size_t, std::size_t>> order;  // (key position, value position)
        for (std::size_t i = 0; i < keys.size();) {
          std::size_t j = i;
          while (j + 1 < keys.size() && keys[j + 1].first == keys[i].first) ++j;
          order.emplace_back(keys[i].second, keys[j].second + 1);
          i = j + 1;
        }
        std::sort(order.begin(), order.end());
        out_ += '{';
        text("}");
        for (std::size_t i = order.size(); i-- > 0;) {
          child(ids[order[i].second]);
          text(":");
          child(ids[order[i].first]);
          if (i > 0) text(",");
        }
        return true;
      }
      default:
        return fail(make_error(brine::errc::type_mismatch, v.offset(), node_text(v) + " is not JSON data (--lossless writes every kind)"));
    }
  }

  void count_references(const value& root) {
    refs_.assign(doc_.node_count(), 0);
    std::vector<std::uint32_t> todo{root.id()};
    while (!todo.empty()) {
      const std::uint32_t id = todo.back();
      todo.pop_back();
      if (refs_[id]++ != 0) continue;
      const value v = doc_.node(id);
      auto add = [&](std::span<const std::uint32_t> ids) { todo.insert(todo.end(), ids.rbegin(), ids.rend()); };
      switch (v.kind()) {
        case kind::tuple: case kind::list: case kind::set: case kind::frozenset: add(v.items().ids()); break;
        case kind::dict: add(v.pairs().ids()); break;
        case kind::object:
          todo.push_back(v.callable().id());
          todo.push_back(v.args().id());
          if (v.kwargs().valid()) todo.push_back(v.kwargs().id());
          [[fallthrough]];
        case kind::global:
          for (const auto& o : v.ops()) add(o.values.ids());
          break;
        case kind::persistent_id: todo.push_back(v.pid().id()); break;
        default: break;
      }
    }
  }

  // Opens a tagged object: {"$id": n, "<tag>": — and schedules the closing brace.
  void open_tag(const value& v, std::string_view tag, bool with_id) {
    out_ += '{';
    if (with_id) {
      label_[v.id()] = ++labels_;
      out_ += "\"$id\":" + std::to_string(labels_) + ",";
    }
    append_json_string(out_, tag);
    out_ += ':';
    text("}");
  }

  void ops(const value& v) {
    const auto list = v.ops();
    if (list.empty()) return;
    // Pushed in reverse: ,"ops":[ {"build":X}, ... ]
    text("]");
    for (std::size_t i = list.size(); i-- > 0;) {
      const auto& o = list[i];
      static constexpr std::string_view names[] = {"{\"build\":", "{\"append\":", "{\"appends\":[", "{\"setitem\":[",
                                                   "{\"setitems\":[", "{\"additems\":[", "{\"call\":["};
      const auto k = static_cast<std::size_t>(o.kind);
      const bool single = o.kind == brine::op_kind::build || o.kind == brine::op_kind::append;
      text(single ? "}" : "]}");
      children(o.values.ids());
      text(names[k]);
      if (i > 0) text(",");
    }
    text(",\"ops\":[");
  }

  bool lossless(const value& v) {
    if (!charge(v, 0)) return false;
    const bool tracked = identity_tracked(v);
    if (tracked && label_[v.id()] != 0) {
      out_ += "{\"$ref\":" + std::to_string(label_[v.id()]) + "}";
      return true;
    }
    const bool with_id = tracked && refs_[v.id()] > 1;
    switch (v.kind()) {
      case kind::none: out_ += "null"; return true;
      case kind::boolean: out_ += v.as_bool() ? "true" : "false"; return true;
      case kind::integer:
        if (v.fits_int64()) {
          out_ += std::to_string(v.as_int64());
        } else {
          out_ += "{\"$int\":\"" + int_hex(v.int_bytes()) + "\"}";
        }
        return true;
      case kind::floating: {
        const double d = v.as_double();
        if (std::isfinite(d)) {
          append_float(out_, d);
        } else {
          char buf[17];
          const auto bits = std::bit_cast<std::uint64_t>(d);
          for (int i = 0; i < 16; ++i) buf[i] = "0123456789abcdef"[(bits >> (60 - 4 * i)) & 15];
          buf[16] = '\0';
          out_ += std::string("{\"$float\":\"") + buf + "\"}";
        }
        return true;
      }
      case kind::str: {
        const std::string_view s = v.as_str();
        if (has_surrogate(s)) {
          open_tag(v, "$wtf8", with_id);
          out_ += '"';
          append_base64(out_, std::as_bytes(std::span<const char>(s.data(), s.size())));
          out_ += '"';
        } else if (with_id) {
          open_tag(v, "$str", true);
          append_json_string(out_, s);
        } else {
          append_json_string(out_, s);
        }
        return true;
      }
      case kind::bytes:
      case kind::bytearray:
        open_tag(v, v.is(kind::bytes) ? "$bytes" : "$bytearray", with_id);
        out_ += '"';
        append_base64(out_, v.as_bytes());
        out_ += '"';
        return true;
      case kind::buffer:
        out_ += "{\"$buffer\":\"";
        append_base64(out_, v.as_bytes());
        out_ += v.readonly() ? "\",\"readonly\":true}" : "\",\"readonly\":false}";
        return true;
      case kind::list:
        if (with_id) {
          open_tag(v, "$list", true);
        }
        out_ += '[';
        text("]");
        children(v.items().ids());
        return true;
      case kind::tuple:
      case kind::set:
      case kind::frozenset:
        open_tag(v, v.is(kind::tuple) ? "$tuple" : v.is(kind::set) ? "$set" : "$frozenset", with_id);
        out_ += '[';
        text("]");
        children(v.items().ids());
        return true;
      case kind::dict: {
        open_tag(v, "$dict", with_id);
        out_ += '[';
        text("]");
        const auto ids = v.pairs().ids();
        for (std::size_t i = ids.size(); i >= 2; i -= 2) {
          text("]");
          child(ids[i - 1]);
          text(",");
          child(ids[i - 2]);
          text(i > 2 ? ",[" : "[");
        }
        return true;
      }
      case kind::global:
        open_tag(v, "$global", with_id);
        out_ += '[';
        append_json_string(out_, v.mapped_module());
        out_ += ',';
        append_json_string(out_, v.mapped_name());
        out_ += ']';
        if (v.mapped_module() != v.module() || v.mapped_name() != v.name()) {
          out_ += ",\"raw\":[";
          append_json_string(out_, v.module());
          out_ += ',';
          append_json_string(out_, v.name());
          out_ += ']';
        }
        ops(v);
        return true;
      case kind::object: {
        static constexpr std::string_view how[] = {"\"reduce\"", "\"newobj\"", "\"newobj_ex\"", "\"inst\"", "\"obj\""};
        open_tag(v, "$object", with_id);
        out_ += how[static_cast<std::size_t>(v.how())];
        ops(v);
        if (v.kwargs().valid()) {
          child(v.kwargs().id());
          text(",\"kwargs\":");
        }
        child(v.args().id());
        text(",\"args\":");
        child(v.callable().id());
        text(",\"callable\":");
        return true;
      }
      case kind::persistent_id:
        if (with_id) {
          label_[v.id()] = ++labels_;
          out_ += "{\"$id\":" + std::to_string(labels_) + ",\"$persid\":";
        } else {
          out_ += "{\"$persid\":";
        }
        text(v.binary_pid() ? ",\"binary\":true}" : ",\"binary\":false}");
        child(v.pid().id());
        return true;
      case kind::extension:
        out_ += "{\"$ext\":" + std::to_string(v.ext_code()) + "}";
        return true;
    }
    return true;
  }

  const brine::document& doc_;
  const json_options& opt_;
  std::string out_;
  std::vector<piece> work_;
  std::vector<std::uint8_t> on_path_;
  std::vector<std::uint32_t> refs_, label_;
  std::uint32_t labels_ = 0;
  std::uint64_t spent_ = 0;
  brine::error err_;
};

// ---------------------------------------------------------------------------------------------
// JSON -> pickle

enum class jkind : std::uint8_t {
  none, boolean, integer, bigint, floating, str, bytes, bytearray, buffer, list, tuple, dict, plain_dict,
  set, frozenset, global, object, persid, ext, ref,
};

class pickle_writer {
 public:
  explicit pickle_writer(const json_document& doc) : doc_(doc), v_(doc.values) {}

  brine::result<std::string> run() {
    const std::size_t n = v_.size();
    kinds_.assign(n, jkind::none);
    tag_.assign(n, 0);
    has_id_.assign(n, 0);
    in_progress_.assign(n, 0);
    wtf8_.assign(n, 0);
    memo_.assign(n, no_memo);
    // Classify every value and register "$id" definitions in text order, so a "$ref" can only
    // name a value defined before it (or one it is inside of: a cycle).
    std::vector<std::uint8_t> member(n, 0);  // values that are the "$id" number or tag payloads
    for (std::uint32_t i = 0; i < n; ++i) {
      if (member[i]) continue;
      if (!classify(i, member)) return err_;
    }
    out_ = std::string("\x80\x05", 2);
    work_.push_back({task::save, resolve(0), 0});
    while (!work_.empty()) {
      const task t = work_.back();
      work_.pop_back();
      switch (t.type) {
        case task::save: if (!save(t.node)) return err_; break;
        case task::opcode: out_ += static_cast<char>(t.extra); break;
        case task::finish: if (!finish(t.node)) return err_; break;
      }
    }
    out_ += '.';
    return std::move(out_);
  }

 private:
  static constexpr std::uint32_t no_memo = 0xffffffffu;
  struct task {
    enum type_t : std::uint8_t { save, opcode, finish } type;
    std::uint32_t node;
    std::uint32_t extra;
  };

  bool fail(std::uint64_t offset, std::string message) {
    err_ = make_error(brine::errc::bad_argument, offset, "JSON at offset " + std::to_string(offset) + ": " + message);
    return false;
  }
  const json_value& at(std::uint32_t i) const { return v_[i]; }
  const json_value* member(std::uint32_t obj, std::string_view key) const { return json_member(doc_, v_[obj], key); }
  std::uint32_t index_of(const json_value* p) const { return static_cast<std::uint32_t>(p - v_.data()); }

  // Marks `i` and everything inside it as belonging to a tag (not values of their own).
  void mark_member(std::uint32_t i, std::vector<std::uint8_t>& member) const {
    std::vector<std::uint32_t> todo{i};
    while (!todo.empty()) {
      const std::uint32_t x = todo.back();
      todo.pop_back();
      member[x] = 1;
      if (v_[x].t == json_value::type::array || v_[x].t == json_value::type::object) todo.insert(todo.end(), v_[x].items.begin(), v_[x].items.end());
    }
  }

  bool classify(std::uint32_t i, std::vector<std::uint8_t>& member) {
    const json_value& x = v_[i];
    switch (x.t) {
      case json_value::type::null: kinds_[i] = jkind::none; return true;
      case json_value::type::boolean: kinds_[i] = jkind::boolean; return true;
      case json_value::type::number: kinds_[i] = x.integer ? jkind::integer : jkind::floating; return true;
      case json_value::type::string: kinds_[i] = jkind::str; return true;
      case json_value::type::array: kinds_[i] = jkind::list; return true;
      case json_value::type::object: break;
    }
    bool tagged = false;
    for (std::size_t k = 0; k < x.items.size(); k += 2)
      if (!v_[x.items[k]].text.empty() && v_[x.items[k]].text[0] == '$') tagged = true;
    if (!tagged) {
      kinds_[i] = jkind::plain_dict;  // its keys are str values
      return true;
    }
    // A tag object's keys are not values.
    for (std::size_t k = 0; k < x.items.size(); k += 2) member[x.items[k]] = 1;
    struct tag_info {
      std::string_view name;
      jkind k;
      json_value::type payload;
    };
    static const tag_info tags[] = {
        {"$ref", jkind::ref, json_value::type::number},       {"$int", jkind::bigint, json_value::type::string},
        {"$float", jkind::floating, json_value::type::string}, {"$str", jkind::str, json_value::type::string},
        {"$wtf8", jkind::str, json_value::type::string},       {"$bytes", jkind::bytes, json_value::type::string},
        {"$bytearray", jkind::bytearray, json_value::type::string}, {"$buffer", jkind::buffer, json_value::type::string},
        {"$list", jkind::list, json_value::type::array},       {"$tuple", jkind::tuple, json_value::type::array},
        {"$dict", jkind::dict, json_value::type::array},       {"$set", jkind::set, json_value::type::array},
        {"$frozenset", jkind::frozenset, json_value::type::array}, {"$global", jkind::global, json_value::type::array},
        {"$object", jkind::object, json_value::type::string},  {"$persid", jkind::persid, json_value::type::null},
        {"$ext", jkind::ext, json_value::type::number},
    };
    const tag_info* found = nullptr;
    for (std::size_t k = 0; k < x.items.size(); k += 2) {
      const std::string& key = v_[x.items[k]].text;
      if (key.empty() || key[0] != '$' || key == "$id") continue;
      const tag_info* t = nullptr;
      for (const auto& c : tags)
        if (c.name == key) t = &c;
      if (t == nullptr) return fail(v_[x.items[k]].offset, "unknown tag \"" + key + "\"");
      if (found != nullptr) return fail(v_[x.items[k]].offset, "two tags in one object");
      found = t;
      tag_[i] = x.items[k + 1];
    }
    if (found == nullptr) return fail(x.offset, "an object with \"$id\" and no tag");
    const json_value& payload = v_[tag_[i]];
    if (found->payload != json_value::type::null && payload.t != found->payload)
      return fail(payload.offset, std::string(found->name) + " has the wrong JSON type");
    kinds_[i] = found->k;
    if (found->name == "$wtf8") wtf8_[i] = 1;
    // The payload of scalar tags and $global is not a value; containers' items and the object's
    // fields are values (their array or object wrapper is not).
    switch (found->k) {
      case jkind::ref: {
        if (!payload.integer) return fail(payload.offset, "$ref needs an integer");
        const auto it = labels_.find(payload.text);
        if (it == labels_.end()) return fail(payload.offset, "$ref " + payload.text + " names no earlier \"$id\"");
        tag_[i] = it->second;
        mark_member(index_of(&payload), member);
        return true;
      }
      case jkind::bigint: case jkind::floating: case jkind::str: case jkind::bytes: case jkind::bytearray:
      case jkind::buffer: case jkind::global: case jkind::ext:
        mark_member(tag_[i], member);
        break;
      case jkind::list: case jkind::tuple: case jkind::set: case jkind::frozenset: case jkind::object:
        member[tag_[i]] = 1;
        break;
      case jkind::dict:
        member[tag_[i]] = 1;
        for (auto p : payload.items) {
          if (v_[p].t != json_value::type::array || v_[p].items.size() != 2) return fail(v_[p].offset, "$dict items are [key, value] pairs");
          member[p] = 1;
        }
        break;
      default: break;
    }
    // Other members: "$id", "raw", "readonly", "binary", "ops" and the object's fields.
    for (std::size_t k = 0; k < x.items.size(); k += 2) {
      const std::string& key = v_[x.items[k]].text;
      const std::uint32_t val = x.items[k + 1];
      if (key == "$id") {
        if (!v_[val].integer) return fail(v_[val].offset, "$id needs an integer");
        if (!labels_.emplace(v_[val].text, i).second) return fail(v_[val].offset, "$id " + v_[val].text + " defined twice");
        has_id_[i] = 1;
        member[val] = 1;
      } else if (key == "raw" || key == "readonly" || key == "binary") {
        mark_member(val, member);
      } else if (key == "ops") {
        if (v_[val].t != json_value::type::array) return fail(v_[val].offset, "ops is a list");
        member[val] = 1;
        for (auto o : v_[val].items) {
          const json_value& op = v_[o];
          if (op.t != json_value::type::object || op.items.size() != 2) return fail(op.offset, "each op is an object with one key");
          member[o] = 1;
          member[op.items[0]] = 1;
          const std::string& name = v_[op.items[0]].text;
          const json_value& arg = v_[op.items[1]];
          if (name == "build" || name == "append") continue;
          if (name != "appends" && name != "setitem" && name != "setitems" && name != "additems" && name != "call") return fail(op.offset, "unknown op \"" + name + "\"");
          if (arg.t != json_value::type::array) return fail(arg.offset, name + " takes a list");
          member[op.items[1]] = 1;
        }
      } else if (found->k == jkind::object && (key == "callable" || key == "args" || key == "kwargs")) {
        continue;
      } else if (key != found->name) {
        return fail(v_[x.items[k]].offset, "unexpected member \"" + key + "\" in " + std::string(found->name));
      }
    }
    return true;
  }

  std::uint32_t resolve(std::uint32_t i) const { return kinds_[i] == jkind::ref ? tag_[i] : i; }

  // ---- writing
  void op(std::uint8_t code) { out_ += static_cast<char>(code); }
  void le(std::uint64_t v, int n) {
    for (int k = 0; k < n; ++k) out_ += static_cast<char>((v >> (8 * k)) & 0xff);
  }
  void counted(std::uint8_t short_op, std::uint8_t op4, std::uint8_t op8, std::string_view data) {
    if (short_op != 0 && data.size() < 256) {
      op(short_op);
      le(data.size(), 1);
    } else if (op4 != 0 && data.size() <= 0xffffffffu) {
      op(op4);
      le(data.size(), 4);
    } else {
      op(op8);
      le(data.size(), 8);
    }
    out_ += data;
  }
  // Values with an "$id" go to the memo; so do mutable values and objects, which a cycle may
  // reach before their construction ends (CPython's pickler memoizes them all the same way).
  void put(std::uint32_t node, bool always = false) {
    if (!has_id_[node] && !always) return;
    const std::uint32_t index = next_memo_++;
    memo_[node] = index;
    put_index(index);
  }
  void put_index(std::uint32_t index) {
    if (index < 256) {
      op(brine::op::BINPUT);
      le(index, 1);
    } else {
      op(brine::op::LONG_BINPUT);
      le(index, 4);
    }
  }
  void get(std::uint32_t index) {
    if (index < 256) {
      op(brine::op::BINGET);
      le(index, 1);
    } else {
      op(brine::op::LONG_BINGET);
      le(index, 4);
    }
  }
  void int_le(const std::string& bytes) {  // minimal two's complement, little-endian
    if (bytes.size() < 256) {
      op(brine::op::LONG1);
      le(bytes.size(), 1);
    } else {
      op(brine::op::LONG4);
      le(bytes.size(), 4);
    }
    out_ += bytes;
  }
  void int64(std::int64_t x) {
    if (x >= 0 && x < 256) {
      op(brine::op::BININT1);
      le(static_cast<std::uint64_t>(x), 1);
    } else if (x >= 0 && x < 65536) {
      op(brine::op::BININT2);
      le(static_cast<std::uint64_t>(x), 2);
    } else if (x >= INT32_MIN && x <= INT32_MAX) {
      op(brine::op::BININT);
      le(static_cast<std::uint64_t>(x), 4);
    } else {
      std::string b;
      for (int k = 0; k < 8; ++k) b += static_cast<char>((static_cast<std::uint64_t>(x) >> (8 * k)) & 0xff);
      int_le(minimal(b));
    }
  }
  static std::string minimal(std::string b) {
    while (b.size() > 1) {
      const auto top = static_cast<unsigned char>(b[b.size() - 1]), next = static_cast<unsigned char>(b[b.size() - 2]);
      if ((top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80))) b.pop_back();
      else break;
    }
    return b;
  }
  // Magnitude bytes (little-endian) and sign to minimal two's complement.
  static std::string twos(std::vector<unsigned char> mag, bool negative) {
    mag.push_back(0);
    if (negative) {
      unsigned carry = 1;
      for (auto& b : mag) {
        const unsigned v = static_cast<unsigned>(static_cast<unsigned char>(~b)) + carry;
        b = static_cast<unsigned char>(v & 0xff);
        carry = v >> 8;
      }
    }
    return minimal(std::string(mag.begin(), mag.end()));
  }
  bool big_decimal(const json_value& x) {
    std::string_view s = x.text;
    const bool negative = s[0] == '-';
    if (negative) s.remove_prefix(1);
    if (s.size() > 4300) return fail(x.offset, "int of more than 4300 digits");
    std::vector<unsigned char> mag;  // little-endian magnitude
    for (char c : s) {
      unsigned carry = static_cast<unsigned>(c - '0');
      for (auto& b : mag) {
        const unsigned v = b * 10u + carry;
        b = static_cast<unsigned char>(v & 0xff);
        carry = v >> 8;
      }
      if (carry) mag.push_back(static_cast<unsigned char>(carry));
    }
    int_le(twos(mag, negative));
    return true;
  }
  bool big_hex(const json_value& x) {
    std::string_view s = x.text;
    const bool negative = !s.empty() && s[0] == '-';
    if (negative) s.remove_prefix(1);
    if (s.substr(0, 2) != "0x" || s.size() == 2) return fail(x.offset, "$int is hex: \"0x1f\" or \"-0x1f\"");
    s.remove_prefix(2);
    std::vector<unsigned char> mag;
    for (std::size_t i = s.size(); i > 0;) {
      unsigned byte = 0;
      for (int k = 0; k < 2 && i > 0; ++k) {
        const char c = s[--i];
        unsigned d;
        if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
        else return fail(x.offset, "bad hex digit in $int");
        byte |= d << (4 * k);
      }
      mag.push_back(static_cast<unsigned char>(byte));
    }
    int_le(twos(mag, negative));
    return true;
  }
  bool str_of(std::uint32_t i, std::string& out) {
    const json_value& p = v_[kinds_[i] == jkind::str && v_[i].t == json_value::type::object ? tag_[i] : i];
    if (wtf8_[i]) {
      if (!decode_base64(p.text, out)) return fail(p.offset, "bad base64");
      return true;
    }
    out = p.text;
    return true;
  }

  // Item lists of containers (values, with $ref not yet resolved).
  std::vector<std::uint32_t> items_of(std::uint32_t i) const {
    const json_value& x = v_[i];
    if (x.t == json_value::type::array) return x.items;
    if (kinds_[i] == jkind::plain_dict) return x.items;  // key, value, ...: keys are str values
    const json_value& p = v_[tag_[i]];
    if (kinds_[i] != jkind::dict) return p.items;
    std::vector<std::uint32_t> flat;
    for (auto pair : p.items) {
      flat.push_back(v_[pair].items[0]);
      flat.push_back(v_[pair].items[1]);
    }
    return flat;
  }

  void push_items_reverse(const std::vector<std::uint32_t>& ids) {
    for (std::size_t k = ids.size(); k-- > 0;) work_.push_back({task::save, resolve(ids[k]), 0});
  }
  void later(std::uint8_t code) { work_.push_back({task::opcode, 0, code}); }

  bool save(std::uint32_t i) {
    if (memo_[i] != no_memo) {
      get(memo_[i]);
      return true;
    }
    const json_value& x = v_[i];
    switch (kinds_[i]) {
      case jkind::ref: return save(tag_[i]);
      case jkind::none: op(brine::op::NONE); return true;
      case jkind::boolean: op(x.boolean ? brine::op::NEWTRUE : brine::op::NEWFALSE); return true;
      case jkind::integer: {
        std::int64_t n = 0;
        const auto r = std::from_chars(x.text.data(), x.text.data() + x.text.size(), n);
        if (r.ec == std::errc() && r.ptr == x.text.data() + x.text.size()) {
          int64(n);
          return true;
        }
        return big_decimal(x);
      }
      case jkind::bigint: return big_hex(v_[tag_[i]]);
      case jkind::floating: {
        double d = 0;
        if (x.t == json_value::type::number) {
          const auto r = std::from_chars(x.text.data(), x.text.data() + x.text.size(), d);
          if (r.ec != std::errc() && r.ec != std::errc::result_out_of_range) return fail(x.offset, "bad float");
          if (r.ec == std::errc::result_out_of_range) return fail(x.offset, "float out of range");
        } else {
          const std::string& h = v_[tag_[i]].text;
          std::uint64_t bits = 0;
          const auto r = std::from_chars(h.data(), h.data() + h.size(), bits, 16);
          if (h.size() != 16 || r.ec != std::errc() || r.ptr != h.data() + h.size()) return fail(v_[tag_[i]].offset, "$float is 16 hex digits");
          d = std::bit_cast<double>(bits);
        }
        op(brine::op::BINFLOAT);
        const auto bits = std::bit_cast<std::uint64_t>(d);
        for (int k = 7; k >= 0; --k) out_ += static_cast<char>((bits >> (8 * k)) & 0xff);
        return true;
      }
      case jkind::str: {
        std::string s;
        if (!str_of(i, s)) return false;
        counted(brine::op::SHORT_BINUNICODE, brine::op::BINUNICODE, brine::op::BINUNICODE8, s);
        put(i);
        return true;
      }
      case jkind::bytes:
      case jkind::bytearray:
      case jkind::buffer: {
        std::string b;
        if (!decode_base64(v_[tag_[i]].text, b)) return fail(v_[tag_[i]].offset, "bad base64");
        // An out-of-band buffer comes back in-band as bytes: hashable like the PickleBuffer it
        // was (a set may hold it), which a writable bytearray would not be.
        const bool bytes = kinds_[i] != jkind::bytearray;
        if (bytes) counted(brine::op::SHORT_BINBYTES, brine::op::BINBYTES, brine::op::BINBYTES8, b);
        else counted(0, 0, brine::op::BYTEARRAY8, b);
        put(i);
        return true;
      }
      case jkind::ext: {
        const std::string& t = v_[tag_[i]].text;
        std::int64_t code = 0;
        const auto r = std::from_chars(t.data(), t.data() + t.size(), code);
        if (r.ec != std::errc() || code <= 0 || code > INT32_MAX) return fail(v_[tag_[i]].offset, "$ext is a code from 1 to 2^31-1");
        if (code < 256) { op(brine::op::EXT1); le(static_cast<std::uint64_t>(code), 1); }
        else if (code < 65536) { op(brine::op::EXT2); le(static_cast<std::uint64_t>(code), 2); }
        else { op(brine::op::EXT4); le(static_cast<std::uint64_t>(code), 4); }
        put(i);
        return true;
      }
      case jkind::global: {
        const json_value& names = v_[tag_[i]];
        if (names.items.size() != 2 || v_[names.items[0]].t != json_value::type::string || v_[names.items[1]].t != json_value::type::string)
          return fail(names.offset, "$global is [\"module\", \"qualname\"]");
        name_string(v_[names.items[0]].text, module_names_);
        name_string(v_[names.items[1]].text, qual_names_);
        op(brine::op::STACK_GLOBAL);
        put(i, true);
        return push_ops(i);
      }
      case jkind::list:
      case jkind::dict:
      case jkind::plain_dict:
      case jkind::set: {
        const bool is_dict = kinds_[i] == jkind::dict || kinds_[i] == jkind::plain_dict;
        op(kinds_[i] == jkind::list ? brine::op::EMPTY_LIST : is_dict ? brine::op::EMPTY_DICT : brine::op::EMPTY_SET);
        put(i, true);
        const auto ids = items_of(i);
        if (ids.empty()) return true;
        op(brine::op::MARK);
        later(kinds_[i] == jkind::list ? brine::op::APPENDS : is_dict ? brine::op::SETITEMS : brine::op::ADDITEMS);
        push_items_reverse(ids);
        return true;
      }
      case jkind::tuple:
      case jkind::frozenset: {
        const auto ids = items_of(i);
        if (ids.empty() && kinds_[i] == jkind::tuple) {
          op(brine::op::EMPTY_TUPLE);
          put(i);
          return true;
        }
        if (!enter(i)) return false;
        op(brine::op::MARK);
        work_.push_back({task::finish, i, 0});
        push_items_reverse(ids);
        return true;
      }
      case jkind::object: return save_object(i);
      case jkind::persid: {
        const json_value& pid = v_[tag_[i]];
        const json_value* bin = member(i, "binary");
        if (bin != nullptr && !bin->boolean) {
          std::string s;
          if (kinds_[tag_[i]] != jkind::str || !str_of(tag_[i], s) || s.find('\n') != std::string::npos)
            return fail(pid.offset, "a text persistent id is a str without newlines");
          op(brine::op::PERSID);
          out_ += s;
          out_ += '\n';
          put(i);
          return true;
        }
        if (!enter(i)) return false;
        work_.push_back({task::finish, i, 0});
        work_.push_back({task::save, resolve(tag_[i]), 0});
        return true;
      }
    }
    return fail(x.offset, "unsupported value");
  }

  // Module and attribute names are written once and fetched from the memo after, as CPython's
  // pickler does with its interned name strings (they are not values of the graph).
  void name_string(const std::string& text, std::map<std::string, std::uint32_t>& names) {
    if (auto it = names.find(text); it != names.end()) {
      get(it->second);
      return;
    }
    counted(brine::op::SHORT_BINUNICODE, brine::op::BINUNICODE, brine::op::BINUNICODE8, text);
    const std::uint32_t index = next_memo_++;
    names.emplace(text, index);
    put_index(index);
  }

  bool enter(std::uint32_t i) {
    if (in_progress_[i] >= 2) return fail(v_[i].offset, "a value that contains itself through immutable values only");
    ++in_progress_[i];
    return true;
  }

  std::string_view how_of(std::uint32_t i) const { return v_[tag_[i]].text; }

  bool save_object(std::uint32_t i) {
    const std::string_view how = how_of(i);
    const json_value* callable = member(i, "callable");
    const json_value* args = member(i, "args");
    const json_value* kwargs = member(i, "kwargs");
    if (callable == nullptr || args == nullptr) return fail(v_[i].offset, "$object needs callable and args");
    const bool marked = how == "inst" || how == "obj";
    if (how != "reduce" && how != "newobj" && how != "newobj_ex" && !marked) return fail(v_[i].offset, "unknown call kind \"" + std::string(how) + "\"");
    if ((how == "newobj_ex") != (kwargs != nullptr)) return fail(v_[i].offset, "kwargs go with newobj_ex only");
    if (!enter(i)) return false;
    work_.push_back({task::finish, i, 0});
    if (!marked) {
      if (kwargs != nullptr) work_.push_back({task::save, resolve(index_of(kwargs)), 0});
      work_.push_back({task::save, resolve(index_of(args)), 0});
      work_.push_back({task::save, resolve(index_of(callable)), 0});
      return true;
    }
    // INST and OBJ take their arguments from the stack above a MARK: the args tuple is not a
    // value of its own, so it cannot be shared.
    const std::uint32_t a = index_of(args);
    if (kinds_[a] != jkind::tuple || has_id_[a]) return fail(args->offset, "INST / OBJ args are an unshared $tuple");
    op(brine::op::MARK);
    push_items_reverse(items_of(a));
    if (how == "obj") work_.push_back({task::save, resolve(index_of(callable)), 0});
    else if (kinds_[index_of(callable)] != jkind::global || has_id_[index_of(callable)] || member(index_of(callable), "ops"))
      return fail(callable->offset, "INST's callable is an unshared $global without ops");
    return true;
  }

  bool push_ops(std::uint32_t i) {
    const json_value* ops = member(i, "ops");
    if (ops == nullptr) return true;
    // Stream order: the work stack is LIFO, so push the last op first.
    for (std::size_t k = ops->items.size(); k-- > 0;) {
      const json_value& o = v_[ops->items[k]];
      const std::string& name = v_[o.items[0]].text;
      const std::uint32_t arg = o.items[1];
      if (name == "build" || name == "append") {
        later(name == "build" ? brine::op::BUILD : brine::op::APPEND);
        work_.push_back({task::save, resolve(arg), 0});
      } else if (name == "call") {
        // callable(this object, *rest) and its result dropped: f MARK <self> rest... TUPLE REDUCE POP.
        const auto& items = v_[arg].items;
        if (items.empty()) return fail(v_[arg].offset, "call takes [callable, arguments after the object...]");
        later(brine::op::POP);
        later(brine::op::REDUCE);
        later(brine::op::TUPLE);
        for (std::size_t a = items.size(); a-- > 1;) work_.push_back({task::save, resolve(items[a]), 0});
        work_.push_back({task::save, i, 0});
        later(brine::op::MARK);
        work_.push_back({task::save, resolve(items[0]), 0});
      } else if (name == "setitem") {
        if (v_[arg].items.size() != 2) return fail(v_[arg].offset, "setitem takes [key, value]");
        later(brine::op::SETITEM);
        push_items_reverse(v_[arg].items);
      } else {
        later(name == "appends" ? brine::op::APPENDS : name == "setitems" ? brine::op::SETITEMS : brine::op::ADDITEMS);
        push_items_reverse(v_[arg].items);
        later(brine::op::MARK);
      }
    }
    return true;
  }

  // After the parts of an immutable value: if writing them wrote the value itself (a cycle
  // through a mutable part), drop the parts and fetch it; otherwise build it.
  bool finish(std::uint32_t i) {
    --in_progress_[i];
    const jkind k = kinds_[i];
    const std::string_view how = k == jkind::object ? how_of(i) : std::string_view();
    if (memo_[i] != no_memo) {
      if (k == jkind::tuple || k == jkind::frozenset || how == "inst" || how == "obj") {
        op(brine::op::POP_MARK);
      } else {
        const int parts = k == jkind::persid ? 1 : how == "newobj_ex" ? 3 : 2;
        for (int p = 0; p < parts; ++p) op(brine::op::POP);
      }
      get(memo_[i]);
      return true;
    }
    switch (k) {
      case jkind::tuple: op(brine::op::TUPLE); break;
      case jkind::frozenset: op(brine::op::FROZENSET); break;
      case jkind::persid: op(brine::op::BINPERSID); break;
      case jkind::object:
        if (how == "reduce") op(brine::op::REDUCE);
        else if (how == "newobj") op(brine::op::NEWOBJ);
        else if (how == "newobj_ex") op(brine::op::NEWOBJ_EX);
        else if (how == "obj") op(brine::op::OBJ);
        else {
          const json_value& names = v_[tag_[index_of(member(i, "callable"))]];
          if (names.items.size() != 2) return fail(names.offset, "$global is [\"module\", \"qualname\"]");
          const std::string& m = v_[names.items[0]].text;
          const std::string& q = v_[names.items[1]].text;
          if (m.find('\n') != std::string::npos || q.find('\n') != std::string::npos) return fail(names.offset, "INST names cannot hold newlines");
          op(brine::op::INST);
          out_ += m + '\n' + q + '\n';
        }
        break;
      default: return fail(v_[i].offset, "internal: finish on a mutable value");
    }
    put(i, k == jkind::object);
    return k == jkind::object ? push_ops(i) : true;
  }

  const json_document& doc_;
  const std::vector<json_value>& v_;
  std::vector<jkind> kinds_;
  std::vector<std::uint32_t> tag_;  // payload value of a tag; definition for $ref
  std::vector<std::uint8_t> has_id_, in_progress_;
  std::vector<std::uint8_t> wtf8_;  // "$wtf8": the payload is base64
  std::map<std::string, std::uint32_t> labels_;
  std::vector<std::uint32_t> memo_;  // JSON value -> memo index, or no_memo
  std::map<std::string, std::uint32_t> module_names_, qual_names_;  // global name strings -> memo index
  std::uint32_t next_memo_ = 0;
  std::vector<task> work_;
  std::string out_;
  brine::error err_;
};

}  // namespace

brine::result<std::string> to_json(const brine::value& root, const json_options& options) {
  return json_writer(root.doc(), options).run(root);
}

brine::result<std::string> pickle_from_json(std::string_view json) {
  auto doc = parse_json(json);
  if (!doc) return doc.error();
  return pickle_writer(*doc).run();
}

}  // namespace brine_cli
