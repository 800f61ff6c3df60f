// lib/repr.cpp — Python-style rendering of a document value (see brine/repr.hpp).
//
// One iterative renderer: a stack of work items (a value to write, a group of entries being
// written, the parts of a recorded object), never recursion. A group is a bracketed list of
// entries: a container's items, a call's arguments, or a run of merged ops read lazily from the
// object's op stream. Groups decide their layout when they open: flat if the rest of the group
// fits in the remaining width, measured by a second renderer that writes the group flat into a
// scratch string and gives up as soon as it passes the width (so a measure costs at most about
// `max_width` units).
#include "brine/repr.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "pyformat.hpp"

namespace brine {
namespace {

using detail::node_kind;

constexpr std::size_t bytes_per_unit = 64;   // budget: one unit per 64 payload bytes
constexpr std::size_t label_min_text = 64;   // labels mode: shorter str/bytes are repeated
constexpr std::size_t max_str_digits = 4300;        // CPython's int-to-str limit

// Group closers and entry prefixes, by index (work items stay small).
enum closer_id : std::uint8_t { c_bracket, c_brace, c_paren, c_paren_tuple1, c_brace_paren, c_bracket_paren };
constexpr std::string_view closers[] = {"]", "}", ")", ",)", "})", "])"};
enum prefix_id : std::uint8_t { p_none, p_star, p_starstar };
constexpr std::string_view prefixes[] = {"", "*", "**"};

// Per-node state bits.
constexpr std::uint8_t st_labelled = 1;  // labels mode: shared, gets <#n> / <@n>
constexpr std::uint8_t st_shown = 2;     // labels mode: <#n> already written
constexpr std::uint8_t st_on_path = 4;   // being written (an ancestor of the current value)

// Work item flags.
constexpr std::uint8_t f_flat = 1;      // group: on one line (and everything inside it)
constexpr std::uint8_t f_pairs = 2;     // group: entries are key, value, key, value...
constexpr std::uint8_t f_first = 4;     // group: no entry written yet
constexpr std::uint8_t f_leave = 8;     // clear st_on_path of `id` when done
constexpr std::uint8_t f_opstream = 16; // group: entries come from an op stream, not spans
constexpr std::uint8_t f_hug = 32;      // group of one entry: never broken, the entry may break

// Op classes that merge when consecutive (BUILD and discarded calls never merge).
enum op_class : std::uint8_t { oc_build, oc_append, oc_setitem, oc_additem, oc_call };
bool merges(op_class c) { return c != oc_build && c != oc_call; }
op_class class_of(op_kind k) {
  switch (k) {
    case op_kind::build: return oc_build;
    case op_kind::append:
    case op_kind::appends: return oc_append;
    case op_kind::setitem:
    case op_kind::setitems: return oc_setitem;
    case op_kind::additems: return oc_additem;
    case op_kind::call: return oc_call;
  }
  return oc_build;
}

struct span_ref {
  const std::uint32_t* ids;
  std::uint32_t size;
  prefix_id prefix;
};

struct work {
  enum class step : std::uint8_t { value, group, parts };
  step what;
  std::uint8_t flags;
  std::uint8_t closer;  // group: closer_id
  std::uint8_t stage;   // parts: 0 callable, 1 arguments, 2 ops
  std::uint32_t id;     // the node written (value, parts) or left at the end (group)
  std::uint32_t depth;  // value/parts: indentation level of its line; group: of its entries
  // group over spans: a = first span, b = span count, k = current span, c = index in it.
  // group over an op stream: a = op container, b = op_class, k = header offset, c = index.
  // parts: k = op stream cursor.
  std::uint32_t a = 0, b = 0, k = 0, c = 0;
};

struct shared_state {
  const detail::document_data& d;
  const repr_options& opt;
  bool labels;
  std::vector<std::uint8_t> state;
  std::vector<std::uint32_t> number;  // labels mode: label of each shown node
  std::uint32_t next_label = 1;
};

std::uint32_t ops_container(const detail::document_data& d, const detail::node& n) {
  if (n.kind() == node_kind::object) return d.objects[n.u[0]].ops;
  if (n.kind() == node_kind::global) return d.globals[n.u[0]].ops;
  return detail::no_node;
}

bool is_composite(node_kind k) {
  switch (k) {
    case node_kind::tuple: case node_kind::list: case node_kind::dict: case node_kind::set:
    case node_kind::frozenset: case node_kind::object: case node_kind::global: case node_kind::persid:
      return true;
    default:
      return false;
  }
}

class renderer {
 public:
  renderer(const document& doc, shared_state& s, std::string& out, bool measuring, std::size_t limit)
      : doc_(doc), s_(s), out_(out), measuring_(measuring), limit_(limit), start_(out.size()) {
    line_start_ = out_.rfind('\n');
    line_start_ = line_start_ == std::string::npos ? 0 : line_start_ + 1;
  }

  void render(std::uint32_t id, std::size_t budget) {
    budget_ = budget;
    push_value(id, 0, s_.opt.max_width == 0);
    run();
  }
  bool truncated() const noexcept { return truncated_; }

  // Measuring: write the rest of a group flat; true when it fits in `limit_` bytes.
  bool fits(const work& group, std::span<const span_ref> spans) {
    spans_.assign(spans.begin(), spans.end());
    work w = group;
    w.flags |= f_flat;
    w.flags &= static_cast<std::uint8_t>(~f_leave);
    if ((w.flags & f_opstream) == 0) w.a = 0;
    stack_.push_back(w);
    run();
    return !aborted_ && out_.size() - start_ <= limit_;
  }

 private:
  const detail::node& node(std::uint32_t id) const { return s_.d.nodes[id]; }

  void push_value(std::uint32_t id, std::uint32_t depth, bool flat) {
    work w{};
    w.what = work::step::value;
    w.flags = flat ? f_flat : 0;
    w.id = id;
    w.depth = depth;
    stack_.push_back(w);
  }

  void newline(std::uint32_t depth) {
    out_ += '\n';
    line_start_ = out_.size();
    out_.append(depth * s_.opt.indent, ' ');
  }

  void run() {
    while (!stack_.empty()) {
      if (measuring_ && out_.size() - start_ > limit_) {
        abort();
        return;
      }
      const work w = stack_.back();
      stack_.pop_back();
      switch (w.what) {
        case work::step::value: write_value(w); break;
        case work::step::group: step_group(w); break;
        case work::step::parts: step_parts(w); break;
      }
    }
  }

  // A measure that went past its width: undo the path marks of what is still open.
  void abort() {
    aborted_ = true;
    for (const work& w : stack_)
      if (w.flags & f_leave) s_.state[w.id] &= static_cast<std::uint8_t>(~st_on_path);
    stack_.clear();
  }

  // The budget ran out: the value in progress became "...", close every open group.
  void unwind() {
    while (!stack_.empty()) {
      const work w = stack_.back();
      stack_.pop_back();
      if (w.what == work::step::group) finish_group(w, /*report_cursor=*/false);
      else if (w.what == work::step::parts && (w.flags & f_leave))
        s_.state[w.id] &= static_cast<std::uint8_t>(~st_on_path);
    }
  }

  std::size_t cost(const detail::node& n) const {
    switch (n.kind()) {
      case node_kind::str: case node_kind::bytes: case node_kind::bytearray: case node_kind::bigint:
        return 1 + static_cast<std::size_t>(n.length() / bytes_per_unit);
      default:
        return 1;
    }
  }

  void write_int(const value& v) {
    const std::string le = v.int_bytes();
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(le.data()), le.size());
    if (!detail::int_to_decimal_limited(bytes, max_str_digits, out_))
      detail::append_int_hex(bytes, out_);  // CPython would refuse; this literal evaluates the same
  }

  void write_value(const work& w) {
    const std::uint32_t id = w.id;
    const detail::node& n = node(id);
    const bool flat = (w.flags & f_flat) != 0;
    if (!measuring_) {
      const std::size_t units = cost(n);
      if (units > budget_) {
        out_ += "...";
        truncated_ = true;
        budget_ = 0;
        unwind();
        return;
      }
      budget_ -= units;
    }
    if (measuring_ && cost(n) > 1 && n.length() > limit_) {
      out_.append(limit_ + 1, '.');  // cannot fit: no need to format it
      return;
    }
    std::uint8_t& st = s_.state[id];
    if (st & st_labelled) {
      if (st & st_shown) {
        out_ += "<@";
        detail::append_int64(s_.number[id], out_);
        out_ += '>';
        return;
      }
      out_ += "<#";
      if (measuring_) {
        detail::append_int64(s_.next_label, out_);  // the width it will have
      } else {
        s_.number[id] = s_.next_label++;
        st |= st_shown;
        detail::append_int64(s_.number[id], out_);
      }
      out_ += '>';
    }
    const value v(&doc_, id);
    const node_kind k = n.kind();
    if (is_composite(k) && (st & st_on_path)) {
      switch (k) {
        case node_kind::list: out_ += "[...]"; return;
        case node_kind::dict: out_ += "{...}"; return;
        case node_kind::tuple: out_ += "(...)"; return;
        case node_kind::set: out_ += "set(...)"; return;
        case node_kind::frozenset: out_ += "frozenset(...)"; return;
        case node_kind::persid: out_ += "persistent_id(...)"; return;
        case node_kind::global: break;  // its bare name, below, without its ops
        default: out_ += "..."; return;
      }
    }
    switch (k) {
      case node_kind::none: out_ += "None"; return;
      case node_kind::boolean: out_ += n.i != 0 ? "True" : "False"; return;
      case node_kind::int64: detail::append_int64(n.i, out_); return;
      case node_kind::bigint: write_int(v); return;
      case node_kind::float64: detail::repr_float(n.f, out_); return;
      case node_kind::str: detail::repr_str(v.as_str(), out_, s_.opt.ascii_only); return;
      case node_kind::bytes: detail::repr_bytes(v.as_bytes(), out_); return;
      case node_kind::bytearray:
        detail::repr_bytearray(v.as_bytes(), out_);
        return;
      case node_kind::buffer:
        out_ += "<buffer #";
        detail::append_int64(static_cast<std::int64_t>(v.buffer_index()), out_);
        out_ += v.readonly() ? " readonly>" : ">";
        return;
      case node_kind::ext:
        out_ += "<extension ";
        detail::append_int64(n.i, out_);
        out_ += '>';
        return;
      case node_kind::global: {
        out_ += v.mapped_module();
        out_ += '.';
        out_ += v.mapped_name();
        if ((st & st_on_path) == 0 && ops_container(s_.d, n) != detail::no_node) {
          st |= st_on_path;
          work p{};
          p.what = work::step::parts;
          p.flags = static_cast<std::uint8_t>((w.flags & f_flat) | f_leave);
          p.stage = 2;
          p.id = id;
          p.depth = w.depth;
          stack_.push_back(p);
        }
        return;
      }
      case node_kind::object: {
        st |= st_on_path;
        work p{};
        p.what = work::step::parts;
        p.flags = static_cast<std::uint8_t>((w.flags & f_flat) | f_leave);
        p.stage = 0;
        p.id = id;
        p.depth = w.depth;
        stack_.push_back(p);
        return;
      }
      case node_kind::persid: {
        const span_ref pid{&n.u[0], 1, p_none};
        open_group("persistent_id(", {&pid, 1}, c_paren, id, w.depth, flat, false);
        return;
      }
      case node_kind::tuple: case node_kind::list: case node_kind::set: case node_kind::frozenset:
      case node_kind::dict:
        break;
    }
    // Containers.
    const value_range r = k == node_kind::dict ? v.pairs() : v.items();
    if (r.empty()) {
      out_ += k == node_kind::tuple ? "()" : k == node_kind::list ? "[]" : k == node_kind::dict ? "{}"
            : k == node_kind::set ? "set()" : "frozenset()";
      return;
    }
    const span_ref items{r.ids().data(), static_cast<std::uint32_t>(r.size()), p_none};
    switch (k) {
      case node_kind::tuple:
        open_group("(", {&items, 1}, r.size() == 1 ? c_paren_tuple1 : c_paren, id, w.depth, flat, false);
        break;
      case node_kind::list: open_group("[", {&items, 1}, c_bracket, id, w.depth, flat, false); break;
      case node_kind::dict: open_group("{", {&items, 1}, c_brace, id, w.depth, flat, true); break;
      case node_kind::set: open_group("{", {&items, 1}, c_brace, id, w.depth, flat, false); break;
      default: open_group("frozenset({", {&items, 1}, c_brace_paren, id, w.depth, flat, false); break;
    }
  }

  // Writes the opener, decides the layout, pushes the group. `leave_id` (or no_node) is marked
  // on the path until the group closes.
  void open_group(std::string_view opener, std::span<const span_ref> spans, closer_id closer,
                  std::uint32_t leave_id, std::uint32_t depth, bool flat, bool pairs) {
    out_ += opener;
    work g{};
    g.what = work::step::group;
    g.flags = f_first | (pairs ? f_pairs : 0);
    g.closer = closer;
    g.depth = depth + 1;
    g.a = static_cast<std::uint32_t>(spans_.size());
    g.b = static_cast<std::uint32_t>(spans.size());
    spans_.insert(spans_.end(), spans.begin(), spans.end());
    if (leave_id != detail::no_node) {
      g.id = leave_id;
      g.flags |= f_leave;
      s_.state[leave_id] |= st_on_path;
    }
    std::size_t entries = 0;
    for (const span_ref& sp : spans) entries += sp.size;
    if (flat) g.flags |= f_flat;
    else if (entries == 1 && !pairs) g.flags |= f_hug;  // `f({` ... `})` rather than a lone entry per line
    else if (decide_flat(g)) g.flags |= f_flat;
    stack_.push_back(g);
  }

  void open_op_group(std::string_view opener, std::uint32_t container, std::uint32_t cursor,
                     op_class cls, closer_id closer, std::uint32_t depth, bool flat) {
    out_ += opener;
    work g{};
    g.what = work::step::group;
    g.flags = f_first | f_opstream | (cls == oc_setitem ? f_pairs : 0);
    g.closer = closer;
    g.depth = depth + 1;
    g.a = container;
    g.b = cls;
    g.k = cursor;
    g.c = 0;
    const auto& c = s_.d.containers[container];
    const std::uint32_t* ops = s_.d.pool.data() + c.start;
    const std::uint32_t next = cursor + 1 + (ops[cursor] & detail::op_count_mask);
    const bool single = (ops[cursor] & detail::op_count_mask) == 1 && cls != oc_setitem &&
                        (!merges(cls) || next >= c.size ||
                         class_of(static_cast<op_kind>(ops[next] >> 28)) != cls);
    if (flat) g.flags |= f_flat;
    else if (single) g.flags |= f_hug;
    else if (decide_flat(g)) g.flags |= f_flat;
    stack_.push_back(g);
  }

  bool decide_flat(const work& g) {
    const std::size_t width = s_.opt.max_width;
    if (measuring_ || width == 0) return true;
    if (static_cast<std::size_t>(g.depth) * s_.opt.indent >= width) return true;  // indentation cap
    const std::size_t column = out_.size() - line_start_;
    const std::size_t room = width > column ? width - column : 0;
    std::string scratch;
    renderer m(doc_, s_, scratch, /*measuring=*/true, room);
    const std::span<const span_ref> spans =
        (g.flags & f_opstream) ? std::span<const span_ref>() : std::span<const span_ref>(spans_).subspan(g.a, g.b);
    return m.fits(g, spans);
  }

  void finish_group(const work& g, bool report_cursor) {
    if ((g.flags & f_first) == 0 && (g.flags & (f_flat | f_hug)) == 0) {
      out_ += ',';
      newline(g.depth - 1);
    }
    // A broken one-tuple already has its trailing comma.
    out_ += g.closer == c_paren_tuple1 && (g.flags & (f_flat | f_hug)) == 0 ? closers[c_paren] : closers[g.closer];
    if (g.flags & f_leave) s_.state[g.id] &= static_cast<std::uint8_t>(~st_on_path);
    if (g.flags & f_opstream) {
      // Hand the position after this run of ops to the object's parts item, just below.
      if (report_cursor && !stack_.empty() && stack_.back().what == work::step::parts) stack_.back().k = g.k;
    } else {
      spans_.resize(g.a);
    }
  }

  void step_group(work g) {
    std::uint32_t child;
    prefix_id prefix = p_none;
    if (g.flags & f_opstream) {
      // The current op's items, then the next op's while it is of the same class.
      const auto& c = s_.d.containers[g.a];
      const std::uint32_t* ops = s_.d.pool.data() + c.start;
      std::uint32_t count = ops[g.k] & detail::op_count_mask;
      while (g.c >= count) {
        const std::uint32_t next = g.k + 1 + count;
        const bool more = next < c.size && merges(static_cast<op_class>(g.b)) &&
                          class_of(static_cast<op_kind>(ops[next] >> 28)) == static_cast<op_class>(g.b);
        if (!more) {
          g.k = next;
          finish_group(g, /*report_cursor=*/true);
          return;
        }
        g.k = next;
        g.c = 0;
        count = ops[g.k] & detail::op_count_mask;
      }
      child = ops[g.k + 1 + g.c];
    } else {
      while (g.k < g.b && g.c >= spans_[g.a + g.k].size) {
        ++g.k;
        g.c = 0;
      }
      if (g.k == g.b) {
        finish_group(g, false);
        return;
      }
      const span_ref& s = spans_[g.a + g.k];
      child = s.ids[g.c];
      prefix = s.prefix;
    }
    const bool flat = (g.flags & f_flat) != 0;
    const bool hug = (g.flags & f_hug) != 0;
    if ((g.flags & f_pairs) && (g.c & 1u)) {
      out_ += ": ";
    } else {
      if ((g.flags & f_first) == 0) out_ += flat || hug ? ", " : ",";
      if (!flat && !hug) newline(g.depth);
      out_ += prefixes[prefix];
    }
    g.flags &= static_cast<std::uint8_t>(~f_first);
    ++g.c;
    stack_.push_back(g);
    push_value(child, hug ? g.depth - 1 : g.depth, flat);
  }

  void step_parts(work p) {
    const detail::node& n = node(p.id);
    const bool flat = (p.flags & f_flat) != 0;
    if (p.stage == 0) {  // the callable
      p.stage = 1;
      stack_.push_back(p);
      push_value(s_.d.objects[n.u[0]].callable, p.depth, flat);
      return;
    }
    if (p.stage == 1) {  // the arguments
      p.stage = 2;
      p.k = 0;
      stack_.push_back(p);
      const detail::object_rec& rec = s_.d.objects[n.u[0]];
      span_ref spans[3];
      std::size_t count = 0;
      const bool is_new = rec.how == call_kind::newobj || rec.how == call_kind::newobj_ex;
      if (is_new) spans[count++] = {&rec.callable, 1, p_none};
      const detail::node& args = node(rec.args);
      if (args.kind() == node_kind::tuple && (s_.state[rec.args] & st_labelled) == 0) {
        const value_range r = value(&doc_, rec.args).items();
        if (!r.empty()) spans[count++] = {r.ids().data(), static_cast<std::uint32_t>(r.size()), p_none};
      } else {
        spans[count++] = {&rec.args, 1, p_star};
      }
      if (rec.kwargs != detail::no_node) {
        const detail::node& kw = node(rec.kwargs);
        if (kw.kind() != node_kind::dict || value(&doc_, rec.kwargs).size() != 0)
          spans[count++] = {&rec.kwargs, 1, p_starstar};
      }
      const std::string_view opener = is_new ? ".__new__(" : "(";
      if (count == 0) {
        out_ += opener;
        out_ += ')';
      } else {
        open_group(opener, {spans, count}, c_paren, detail::no_node, p.depth, flat, false);
      }
      return;
    }
    // Applied ops, one merged run at a time.
    const std::uint32_t container = ops_container(s_.d, n);
    if (container == detail::no_node || p.k >= s_.d.containers[container].size) {
      if (p.flags & f_leave) s_.state[p.id] &= static_cast<std::uint8_t>(~st_on_path);
      return;
    }
    const auto& c = s_.d.containers[container];
    const std::uint32_t* ops = s_.d.pool.data() + c.start;
    const auto kind = static_cast<op_kind>(ops[p.k] >> 28);
    const op_class cls = class_of(kind);
    stack_.push_back(p);  // the group reports the cursor after its run back into this item
    switch (cls) {
      case oc_build: open_op_group(".__setstate__(", container, p.k, cls, c_paren, p.depth, flat); break;
      case oc_call: open_op_group(".__applied__(", container, p.k, cls, c_paren, p.depth, flat); break;
      case oc_setitem: open_op_group(".update({", container, p.k, cls, c_brace_paren, p.depth, flat); break;
      case oc_additem: open_op_group(".update({", container, p.k, cls, c_brace_paren, p.depth, flat); break;
      case oc_append: {
        const std::uint32_t count = ops[p.k] & detail::op_count_mask;
        const std::uint32_t next = p.k + 1 + count;
        const bool alone = next >= c.size || class_of(static_cast<op_kind>(ops[next] >> 28)) != oc_append;
        if (kind == op_kind::append && count == 1 && alone)
          open_op_group(".append(", container, p.k, cls, c_paren, p.depth, flat);
        else
          open_op_group(".extend([", container, p.k, cls, c_bracket_paren, p.depth, flat);
        break;
      }
    }
  }

  const document& doc_;
  shared_state& s_;
  std::string& out_;
  const bool measuring_;
  const std::size_t limit_;
  const std::size_t start_;
  std::size_t line_start_ = 0;
  std::size_t budget_ = 0;
  bool truncated_ = false;
  bool aborted_ = false;
  std::vector<work> stack_;
  std::vector<span_ref> spans_;
};

// Labels mode: which nodes are reached more than once from the root, and worth a label.
void mark_shared(std::uint32_t root, shared_state& s) {
  const auto& d = s.d;
  std::vector<std::uint8_t> seen(d.nodes.size(), 0);  // 0, 1, 2 = reached that many times (capped)
  std::vector<std::uint32_t> todo{root};
  seen[root] = 1;
  auto reach = [&](std::uint32_t id) {
    if (id == detail::no_node) return;
    if (seen[id] == 0) todo.push_back(id);
    if (seen[id] < 2) ++seen[id];
  };
  auto reach_ops = [&](std::uint32_t container) {
    if (container == detail::no_node) return;
    const auto& c = d.containers[container];
    const std::uint32_t* p = d.pool.data() + c.start;
    for (std::uint32_t i = 0; i < c.size;) {
      const std::uint32_t count = p[i] & detail::op_count_mask;
      for (std::uint32_t j = 0; j < count; ++j) reach(p[i + 1 + j]);
      i += 1 + count;
    }
  };
  while (!todo.empty()) {
    const std::uint32_t id = todo.back();
    todo.pop_back();
    const detail::node& n = d.nodes[id];
    switch (n.kind()) {
      case node_kind::tuple: case node_kind::list: case node_kind::dict: case node_kind::set:
      case node_kind::frozenset: {
        const auto& c = d.containers[n.u[0]];
        for (std::uint32_t i = 0; i < c.size; ++i) reach(d.pool[c.start + i]);
        break;
      }
      case node_kind::object: {
        const auto& rec = d.objects[n.u[0]];
        reach(rec.callable);
        reach(rec.args);
        reach(rec.kwargs);
        reach_ops(rec.ops);
        break;
      }
      case node_kind::global: reach_ops(d.globals[n.u[0]].ops); break;
      case node_kind::persid: reach(n.u[0]); break;
      default: break;
    }
  }
  for (std::size_t id = 0; id < seen.size(); ++id) {
    if (seen[id] < 2) continue;
    const detail::node& n = d.nodes[id];
    bool label = false;
    switch (n.kind()) {
      case node_kind::list: case node_kind::dict: case node_kind::set: case node_kind::frozenset:
      case node_kind::bytearray: case node_kind::object:
        label = true;
        break;
      case node_kind::tuple: label = d.containers[n.u[0]].size != 0; break;
      case node_kind::str: case node_kind::bytes: label = n.length() >= label_min_text; break;
      default: break;
    }
    if (label) s.state[id] |= st_labelled;
  }
}

}  // namespace

repr_result repr(const value& v, const repr_options& options) {
  BRINE_ASSERT(v.valid());
  const document& doc = v.doc();
  shared_state s{doc.data(), options, options.sharing == repr_sharing::labels, {}, {}, 1};
  s.state.assign(doc.data().nodes.size(), 0);
  if (s.labels) {
    s.number.assign(doc.data().nodes.size(), 0);
    mark_shared(v.id(), s);
  }
  repr_result result;
  renderer r(doc, s, result.text, /*measuring=*/false, 0);
  r.render(v.id(), options.budget);
  result.truncated = r.truncated();
  return result;
}

}  // namespace brine
