// lib/numpy.cpp — brine/numpy.hpp: numpy's pickle forms read into views, and written back.
//
// Reading follows numpy's own loaders (numpy/core/src/multiarray/descriptor.c arraydescr_setstate,
// methods.c array_setstate, numeric.py _frombuffer, scalartypes.c scalar) check for check, with
// the difference that brine never trusts what numpy trusts: field offsets, sub-array sizes and
// dtype flags are checked against the element size and the data before any view exists.
#include "brine/numpy.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace brine::numpy {

struct detail_access {
  static ndarray make() { return ndarray(); }
  static std::shared_ptr<const numpy::dtype>& type(ndarray& a) { return a.type_; }
  static std::vector<std::size_t>& shape(ndarray& a) { return a.shape_; }
  static std::vector<std::ptrdiff_t>& strides(ndarray& a) { return a.strides_; }
  static std::size_t& size(ndarray& a) { return a.size_; }
  static const std::byte*& base(ndarray& a) { return a.base_; }
  static std::size_t& extent(ndarray& a) { return a.extent_; }
  static std::shared_ptr<const std::vector<std::byte>>& owned(ndarray& a) { return a.owned_; }
  static const document*& doc(ndarray& a) { return a.doc_; }
  static std::vector<std::uint32_t>& objects(ndarray& a) { return a.objects_; }
  static std::string& subclass(ndarray& a) { return a.subclass_; }
  static data_source& source(ndarray& a) { return a.source_; }
  static std::size_t& buffer_index(ndarray& a) { return a.buffer_index_; }
  static bool& readonly(ndarray& a) { return a.readonly_; }
  static bool& scalar(ndarray& a) { return a.scalar_; }
  static void copy_raw(const ndarray& a, memory_order order, std::byte* out) { a.copy_elements(order, out, false); }
};

namespace {

using da = detail_access;

// ---- errors ------------------------------------------------------------------------------------

brine::error fail_at(value at, std::string message, errc code = errc::type_mismatch) {
  brine::error e;
  e.code = code;
  e.offset = at.valid() ? at.offset() : 0;
  e.message = "numpy: " + message;
  if (at.valid()) e.message += " at offset " + std::to_string(at.offset());
  return e;
}

brine::error misuse(std::string message) {
  brine::error e;
  e.code = errc::bad_argument;
  e.message = "numpy: " + message;
  return e;
}

brine::error over_limit(value at, std::string message, limit which) {
  brine::error e = fail_at(at, std::move(message), errc::limit_exceeded);
  e.detail = static_cast<std::uint64_t>(which);
  return e;
}

std::string describe(value v) {
  if (!v.valid()) return "nothing";
  if (v.is(kind::global)) return "global " + std::string(v.mapped_module()) + "." + std::string(v.mapped_name());
  if (v.is(kind::object) && v.callable().is(kind::global))
    return "object " + std::string(v.callable().mapped_module()) + "." + std::string(v.callable().mapped_name()) + "(...)";
  return std::string(kind_name(v.kind()));
}

// ---- small readers of Python values ------------------------------------------------------------

bool is_global(value v, std::string_view module, std::string_view name) {
  return v.valid() && v.is(kind::global) && v.mapped_module() == module && v.mapped_name() == name;
}

// str, or bytes (Python 2 strs loaded with py2_encoding::bytes), as text.
std::optional<std::string_view> text_of(value v) {
  if (!v.valid()) return std::nullopt;
  if (v.is(kind::str)) return v.as_str();
  if (v.is(kind::bytes)) {
    const auto b = v.as_bytes();
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  }
  return std::nullopt;
}

// int (bool included, as PyArg_ParseTuple's "i" takes it) in int64.
std::optional<std::int64_t> int_of(value v) {
  if (!v.valid()) return std::nullopt;
  if (v.is(kind::boolean)) return v.as_bool() ? 1 : 0;
  if (v.is(kind::integer) && v.fits_int64()) return v.as_int64();
  return std::nullopt;
}

bool checked_mul(std::size_t a, std::size_t b, std::size_t& out) {
  if (a != 0 && b > SIZE_MAX / a) return false;
  out = a * b;
  return true;
}

// Code points of a str holding one code point per byte, back to those bytes (numpy's
// PyUnicode_AsLatin1String for Python 2 rawdata).
std::optional<std::vector<std::byte>> latin1_bytes(std::string_view utf8) {
  std::vector<std::byte> out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<std::byte>(c));
      i += 1;
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < utf8.size()) {
      const auto d = static_cast<unsigned char>(utf8[i + 1]);
      if ((d & 0xc0) != 0x80) return std::nullopt;
      out.push_back(static_cast<std::byte>(((c & 0x1f) << 6) | (d & 0x3f)));
      i += 2;
    } else {
      return std::nullopt;  // a code point above U+00FF
    }
  }
  return out;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {  // surrogates included: brine's "surrogatepass" convention
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// ---- dtypes ------------------------------------------------------------------------------------

bool flexible(char kind) { return kind == 'S' || kind == 'U' || kind == 'V'; }
bool datetime_kind(char kind) { return kind == 'M' || kind == 'm'; }

constexpr std::string_view datetime_units[] = {"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as", "generic"};

bool known_unit(std::string_view u) {
  return std::find(std::begin(datetime_units), std::end(datetime_units), u) != std::end(datetime_units);
}

// The typestr of numpy's reduce (kind + decimal size, characters for 'U'), or the legacy 'a' for
// bytes. Sets kind and itemsize; false when the kind or size is not one numpy has.
bool parse_typestr(std::string_view s, dtype& d) {
  if (s.empty()) return false;
  char k = s[0];
  if (k == 'a') k = 'S';
  std::string_view digits = s.substr(1);
  if (digits.empty() || digits.size() > 12) return false;
  std::size_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  d.kind = k;
  switch (k) {
    case 'b': d.itemsize = 1; return n == 1;
    case 'i':
    case 'u': d.itemsize = n; return n == 1 || n == 2 || n == 4 || n == 8;
    case 'f': d.itemsize = n; return n == 2 || n == 4 || n == 8 || n == 12 || n == 16;
    case 'c': d.itemsize = n; return n == 8 || n == 16 || n == 24 || n == 32;
    case 'M':
    case 'm': d.itemsize = 8; return n == 8;
    case 'O': d.itemsize = 8; return n == 4 || n == 8;  // 'O4' from 32-bit writers: a list pickle anyway
    case 'S':
    case 'V': d.itemsize = n; return true;
    case 'U': return checked_mul(n, 4, d.itemsize);
    default: return false;
  }
}

byte_order default_order(const dtype& d) {
  if (d.itemsize <= 1 || d.kind == 'S' || d.kind == 'V' || d.kind == 'O' || d.kind == 'b') return byte_order::not_applicable;
  return byte_order::little;
}

// numpy's flags for dtypes built in C++ (structured: NEEDS_PYAPI plus NPY_FROM_FIELDS of the fields).
constexpr std::int64_t from_fields = 0x1b;  // NEEDS_INIT | NEEDS_PYAPI | LIST_PICKLE | ITEM_REFCOUNT
std::int64_t default_flags(const dtype& d) {
  if (d.kind == 'O') return 63;
  if (d.kind == 'U') return 8;
  if (d.has_subarray()) return d.subarray_base->flags & from_fields;
  if (!d.fields.empty()) {
    std::int64_t f = 16;
    for (const auto& x : d.fields) f |= x.type->flags & from_fields;
    return f;
  }
  return 0;
}

std::int64_t natural_alignment(const dtype& d) {
  if (d.kind == 'U') return 4;
  if (d.kind == 'S' || (d.kind == 'V' && d.fields.empty() && !d.has_subarray())) return 1;
  if (d.has_subarray()) {
    const dtype& b = *d.subarray_base;
    return b.alignment >= 0 ? b.alignment : static_cast<std::int64_t>(b.kind == 'c' ? b.itemsize / 2 : std::max<std::size_t>(b.itemsize, 1));
  }
  return 1;
}

// Reads dtype objects, sharing the result for a node met twice and bounding depth and expansion.
class dtype_reader {
 public:
  result<std::shared_ptr<const dtype>> read(value v, std::size_t depth) {
    if (depth > limits::max_dtype_depth) return over_limit(v, "dtype nesting deeper than " + std::to_string(limits::max_dtype_depth), limit::max_nesting);
    if (v.valid()) {
      if (auto it = cache_.find(v.id()); it != cache_.end()) return it->second;
    }
    auto d = parse(v, depth);
    if (!d) return d.error();
    auto shared = std::make_shared<const dtype>(std::move(*d));
    std::size_t w = 1;
    for (const auto& f : shared->fields) w += weight_[f.type.get()];
    if (shared->has_subarray()) w += weight_[shared->subarray_base.get()];
    if (w > limits::max_dtype_fields)
      return over_limit(v, "dtype with more than " + std::to_string(limits::max_dtype_fields) + " fields counted with repetition", limit::max_expanded_nodes);
    weight_[shared.get()] = w;
    cache_.emplace(v.id(), shared);
    return shared;
  }

 private:
  result<dtype> parse(value v, std::size_t depth);
  result<bool> apply_state(value v, value state, dtype& d, std::size_t depth);

  std::unordered_map<std::uint32_t, std::shared_ptr<const dtype>> cache_;
  std::unordered_map<const dtype*, std::size_t> weight_;
};

result<dtype> dtype_reader::parse(value v, std::size_t depth) {
  if (!v.valid() || !v.is(kind::object)) return fail_at(v, "expected a numpy.dtype, found " + describe(v));
  if (!is_global(v.callable(), "numpy", "dtype")) return fail_at(v, "expected a numpy.dtype, found " + describe(v));
  if (v.how() != call_kind::reduce) return fail_at(v, "numpy.dtype not created by REDUCE");
  const value args = v.args();
  if (!args.is(kind::tuple) || args.size() < 1 || args.size() > 3) return fail_at(args, "numpy.dtype arguments are not (typestr, align, copy)");
  dtype d;
  const value what = args[0];
  if (auto t = text_of(what)) {
    if (!parse_typestr(*t, d)) return fail_at(what, "unknown dtype typestr '" + std::string(*t) + "'");
  } else if (is_global(what, "numpy", "record")) {
    d.kind = 'V';
    d.record = true;
  } else {
    return fail_at(what, "numpy.dtype of " + describe(what) + " (a user-defined dtype) is not supported");
  }
  for (std::size_t i = 1; i < args.size(); ++i)
    if (!int_of(args[i])) return fail_at(args[i], "numpy.dtype align/copy argument is not a bool");
  d.order = default_order(d);
  d.flags = d.kind == 'O' ? 63 : (d.kind == 'U' ? 8 : 0);
  if (d.kind == 'U') d.alignment = 4;
  else if (flexible(d.kind)) d.alignment = 1;
  if (datetime_kind(d.kind)) d.datetime_unit = "generic";

  const auto ops = v.ops();
  if (ops.empty()) return d;  // numpy.dtype('f8', False, True) without state: native, as constructed
  if (ops.size() != 1 || ops[0].kind != op_kind::build) return fail_at(v, "numpy.dtype with operations other than one BUILD");
  auto ok = apply_state(v, ops[0].values[0], d, depth);
  if (!ok) return ok.error();
  return d;
}

result<bool> dtype_reader::apply_state(value v, value state, dtype& d, std::size_t depth) {
  if (!state.is(kind::tuple)) return fail_at(state, "numpy.dtype state is not a tuple");
  const std::size_t n = state.size();
  if (n < 5 || n > 9) return fail_at(state, "numpy.dtype state has " + std::to_string(n) + " items (5 to 9 expected)");
  // The layouts of arraydescr_setstate: 9 and 8 add flags and metadata to 7; 6 lacks names; 5 also
  // lacks the version.
  std::int64_t version = 0;
  std::size_t i = 0;
  if (n >= 6) {
    auto ver = int_of(state[0]);
    if (!ver) return fail_at(state[0], "numpy.dtype state version is not an int");
    version = *ver;
    i = 1;
  }
  if (version < 0 || version > 4) return fail_at(state, "can't handle version " + std::to_string(version) + " of numpy.dtype pickle");
  const value endian = state[i++];
  const value subarray = state[i++];
  value names = n >= 7 ? state[i++] : value();
  const value fields = state[i++];
  const auto elsize = int_of(state[i]);
  const auto alignment = int_of(state[i + 1]);
  if (!elsize || !alignment) return fail_at(state, "numpy.dtype elsize/alignment are not ints");
  i += 2;
  std::optional<std::int64_t> flags;
  if (n >= 8) {
    flags = int_of(state[i]);
    if (!flags) return fail_at(state[i], "numpy.dtype flags are not an int");
    if (*flags < -128 || *flags > 127) return fail_at(state[i], "incorrect value for flags variable (overflow)");
    ++i;
  }
  const value metadata = n == 9 ? state[i] : value();

  // Byte order.
  const auto e = text_of(endian);
  if (!e || e->size() != 1) return fail_at(endian, "endian is not a 1-char string in numpy dtype unpickling");
  switch ((*e)[0]) {
    case '<':
    case '=': d.order = byte_order::little; break;  // '=' is the loader's order: little-endian hosts only
    case '>': d.order = byte_order::big; break;
    case '|': d.order = byte_order::not_applicable; break;
    default: return fail_at(endian, "unknown byte order '" + std::string(*e) + "'");
  }

  // Flexible kinds take their size from the state.
  if (flexible(d.kind)) {
    if (*elsize < 0) return fail_at(state, "flexible numpy.dtype with negative elsize");
    d.itemsize = static_cast<std::size_t>(*elsize);
    if (d.kind == 'U' && d.itemsize % 4 != 0) return fail_at(state, "unicode dtype size not a multiple of 4");
    d.alignment = *alignment;
  }

  // Version 0 and 1 keep the names under the key -1 of the fields dict.
  std::optional<std::uint32_t> names_key_id;
  if (version <= 1) {
    names = value();
    if (fields.valid() && fields.is(kind::dict)) {
      const auto r = fields.pairs();
      for (std::size_t k = 0; k + 1 < r.size(); k += 2)
        if (auto x = int_of(r[k]); x && *x == -1 && r[k].is(kind::integer)) {
          names = r[k + 1];
          names_key_id = r[k].id();
        }
      if (!names.valid()) return fail_at(fields, "numpy.dtype fields without the names entry (-1) of a version 0/1 state");
    } else {
      names = fields;
    }
  }
  if (!names.valid()) return fail_at(state, "numpy.dtype state of version " + std::to_string(version) + " without names");

  // Sub-array.
  if (!subarray.is_none()) {
    if (!subarray.is(kind::tuple) || subarray.size() != 2) return fail_at(subarray, "incorrect subarray in __setstate__");
    auto base = read(subarray[0], depth + 1);
    if (!base) return base.error();
    const value shape = subarray[1];
    std::vector<std::size_t> dims;
    if (auto one = int_of(shape); one && !shape.is(kind::tuple)) {
      if (*one < 0) return fail_at(shape, "incorrect subarray shape in __setstate__");
      dims.push_back(static_cast<std::size_t>(*one));
    } else if (shape.is(kind::tuple)) {
      for (value x : shape.items()) {
        auto k = int_of(x);
        if (!k || *k < 0) return fail_at(x, "incorrect subarray shape in __setstate__");
        dims.push_back(static_cast<std::size_t>(*k));
      }
    } else {
      return fail_at(shape, "incorrect subarray shape in __setstate__");
    }
    if (dims.size() > limits::max_ndim) return over_limit(shape, "sub-array with more than " + std::to_string(limits::max_ndim) + " dimensions", limit::max_nesting);
    std::size_t bytes = (*base)->itemsize;
    for (std::size_t x : dims)
      if (!checked_mul(bytes, x, bytes)) return fail_at(shape, "sub-array size overflows");
    if (bytes > d.itemsize) return fail_at(subarray, "sub-array larger than its dtype's itemsize");
    d.subarray_base = *base;
    d.subarray_shape = std::move(dims);
  }

  // Names and fields.
  if (names.is_none() != fields.is_none()) return fail_at(state, "inconsistent fields and names in Numpy dtype unpickling");
  if (!fields.is_none()) {
    if (!names.is(kind::tuple)) return fail_at(names, "non-tuple names in Numpy dtype unpickling");
    if (!fields.is(kind::dict)) return fail_at(fields, "non-dict fields in Numpy dtype unpickling");
    const auto pairs = fields.pairs();
    // Last write wins, as in the dict CPython built.
    auto lookup = [&](std::string_view key) -> value {
      for (std::size_t k = pairs.size(); k >= 2; k -= 2) {
        const value kv = pairs[k - 2];
        if (names_key_id && kv.id() == *names_key_id) continue;
        if (auto t = text_of(kv); t && *t == key) return pairs[k - 1];
      }
      return value();
    };
    for (value nm : names.items()) {
      auto name = text_of(nm);
      if (!name) return fail_at(nm, "non-string names in Numpy dtype unpickling");
      const value entry = lookup(*name);
      if (!entry.valid()) return fail_at(fields, "field '" + std::string(*name) + "' named but not in the fields dict");
      if (!entry.is(kind::tuple) || entry.size() < 2 || entry.size() > 3) return fail_at(entry, "field entry is not (dtype, offset[, title])");
      auto ft = read(entry[0], depth + 1);
      if (!ft) return ft.error();
      auto off = int_of(entry[1]);
      if (!off || *off < 0) return fail_at(entry[1], "field offset is not a non-negative int");
      dtype_field f;
      f.name = std::string(*name);
      f.type = *ft;
      f.offset = static_cast<std::size_t>(*off);
      if (entry.size() == 3 && !entry[2].is_none()) {
        auto title = text_of(entry[2]);
        if (!title) return fail_at(entry[2], "field title is not a string");
        f.title = std::string(*title);
      }
      if (f.offset > d.itemsize || f.type->itemsize > d.itemsize - f.offset)
        return fail_at(entry, "field '" + f.name + "' extends past the dtype's itemsize");
      d.fields.push_back(std::move(f));
    }
    if (d.fields.empty() && d.kind != 'V') return fail_at(fields, "fields on a non-void dtype");
  }

  if (version < 3) {
    d.flags = d.holds_objects() ? 63 : 0;  // numpy recomputes them (_descr_find_object)
  } else if (flags) {
    d.flags = *flags;
  }

  // Datetime metadata: ({...}, (unit, count[, 1, events])).
  if (datetime_kind(d.kind) && metadata.valid() && !metadata.is_none()) {
    if (!metadata.is(kind::tuple) || metadata.size() != 2) return fail_at(metadata, "Invalid datetime dtype (metadata, c_metadata)");
    const value m = metadata[1];
    if (!m.is(kind::tuple) || (m.size() != 2 && m.size() != 4)) return fail_at(m, "datetime metadata is not (unit, count[, den, events])");
    auto unit = text_of(m[0]);
    if (!unit || !known_unit(*unit)) return fail_at(m[0], "unknown datetime unit");
    auto count = int_of(m[1]);
    if (!count || *count <= 0) return fail_at(m[1], "datetime unit count is not a positive int");
    if (m.size() == 4) {
      auto den = int_of(m[2]);
      if (!den || *den != 1) return fail_at(m[2], "datetime metadata with a denominator other than 1");
      if (!int_of(m[3])) return fail_at(m[3], "datetime metadata events is not an int");
    }
    d.datetime_unit = std::string(*unit);
    d.datetime_count = *count;
  }
  (void)v;
  return true;
}

// ---- strides -----------------------------------------------------------------------------------

std::vector<std::ptrdiff_t> strides_for(const std::vector<std::size_t>& shape, std::size_t itemsize, memory_order order) {
  std::vector<std::ptrdiff_t> s(shape.size());
  std::size_t step = itemsize;
  if (order == memory_order::c) {
    for (std::size_t i = shape.size(); i-- > 0;) {
      s[i] = static_cast<std::ptrdiff_t>(step);
      step *= std::max<std::size_t>(shape[i], 1);
    }
  } else {
    for (std::size_t i = 0; i < shape.size(); ++i) {
      s[i] = static_cast<std::ptrdiff_t>(step);
      step *= std::max<std::size_t>(shape[i], 1);
    }
  }
  return s;
}

// Element count and byte size of a shape, or an error when they overflow.
bool count_of(const std::vector<std::size_t>& shape, std::size_t itemsize, std::size_t& count, std::size_t& bytes) {
  count = 1;
  bool empty = false;
  for (std::size_t x : shape) {
    if (x == 0) empty = true;
    // numpy checks the product of the non-zero dimensions too ("too big" ignores zeros).
    if (x != 0 && !checked_mul(count, x, count)) return false;
  }
  if (!checked_mul(count, itemsize, bytes)) return false;
  if (empty) count = bytes = 0;
  return true;
}

result<std::vector<std::size_t>> read_shape(value shape, bool tuple_only) {
  std::vector<std::size_t> dims;
  if (!shape.is(kind::tuple)) {
    auto one = int_of(shape);
    if (tuple_only || !one) return fail_at(shape, "array shape is not a tuple of ints");
    if (*one < 0) return fail_at(shape, "negative dimension in array shape");
    dims.push_back(static_cast<std::size_t>(*one));
    return dims;
  }
  if (shape.size() > limits::max_ndim)
    return over_limit(shape, "array with more than " + std::to_string(limits::max_ndim) + " dimensions", limit::max_nesting);
  for (value x : shape.items()) {
    auto k = int_of(x);
    if (!k) return fail_at(x, "array shape is not a tuple of ints");
    if (*k < 0) return fail_at(x, "impossible dimension while unpickling array");
    dims.push_back(static_cast<std::size_t>(*k));
  }
  return dims;
}

void finish_view(ndarray& a, std::shared_ptr<const dtype> t, std::vector<std::size_t> shape, std::vector<std::ptrdiff_t> strides,
                 std::size_t count) {
  da::type(a) = std::move(t);
  da::shape(a) = std::move(shape);
  da::strides(a) = std::move(strides);
  da::size(a) = count;
}

// ---- the three forms ---------------------------------------------------------------------------

constexpr std::string_view array_classes[] = {"ndarray", "matrix", "memmap", "recarray", "chararray"};

result<ndarray> read_frombuffer(value v) {
  if (v.how() != call_kind::reduce) return fail_at(v, "_frombuffer not called by REDUCE");
  if (!v.ops().empty()) return fail_at(v, "_frombuffer result with operations applied");
  const value args = v.args();
  if (!args.is(kind::tuple) || (args.size() != 4 && args.size() != 5))
    return fail_at(args, "_frombuffer arguments are not (buffer, dtype, shape, order[, axis_order])");
  ndarray a = da::make();
  const value buf = args[0];
  if (buf.is(kind::buffer)) {
    da::source(a) = data_source::out_of_band;
    da::buffer_index(a) = buf.buffer_index();
    da::readonly(a) = buf.readonly();
  } else if (buf.is(kind::bytes) || buf.is(kind::bytearray)) {
    da::source(a) = data_source::in_band;
    da::readonly(a) = buf.is(kind::bytes);
  } else {
    return fail_at(buf, "_frombuffer buffer is " + describe(buf) + ", not a buffer");
  }
  const auto bytes = buf.as_bytes();
  dtype_reader reader;
  auto t = reader.read(args[1], 0);
  if (!t) return t.error();
  const dtype& d = **t;
  if (d.holds_objects()) return fail_at(args[1], "cannot create an OBJECT array from memory buffer");
  if (d.itemsize == 0) return fail_at(args[1], "itemsize cannot be zero in type");
  if (bytes.size() % d.itemsize != 0) return fail_at(buf, "buffer size must be a multiple of element size");
  const std::size_t count = bytes.size() / d.itemsize;

  auto shape = read_shape(args[2], false);
  if (!shape) return shape.error();
  std::size_t n = 0, nbytes = 0;
  if (!count_of(*shape, d.itemsize, n, nbytes) || n != count)
    return fail_at(args[2], "cannot reshape array of size " + std::to_string(count) + " into the pickled shape");

  const auto order = text_of(args[3]);
  if (!order || !args[3].is(kind::str) || order->size() != 1) return fail_at(args[3], "_frombuffer order is not 'C', 'F' or 'K'");
  std::vector<std::ptrdiff_t> strides;
  std::vector<std::size_t> logical = *shape;
  const value axis_order = args.size() == 5 ? args[4] : value();
  if ((*order)[0] == 'C' || (*order)[0] == 'F') {
    // numpy 2's _frombuffer ignores axis_order unless order is 'K'.
    strides = strides_for(*shape, d.itemsize, (*order)[0] == 'C' ? memory_order::c : memory_order::fortran);
  } else if ((*order)[0] == 'K') {
    // reshape(shape, order='C').transpose(axis_order): `shape` is the buffer's C-order shape.
    if (!axis_order.valid() || !axis_order.is(kind::tuple) || axis_order.size() != shape->size())
      return fail_at(args, "_frombuffer order 'K' without an axis_order permutation of the dimensions");
    const auto physical = strides_for(*shape, d.itemsize, memory_order::c);
    std::vector<bool> seen(shape->size(), false);
    strides.resize(shape->size());
    for (std::size_t i = 0; i < shape->size(); ++i) {
      auto ax = int_of(axis_order[i]);
      if (!ax || *ax < 0 || static_cast<std::size_t>(*ax) >= shape->size() || seen[static_cast<std::size_t>(*ax)])
        return fail_at(axis_order, "axes don't match array");
      const auto k = static_cast<std::size_t>(*ax);
      seen[k] = true;
      logical[i] = (*shape)[k];
      strides[i] = physical[k];
    }
  } else {
    return fail_at(args[3], "_frombuffer order is not 'C', 'F' or 'K'");
  }
  da::base(a) = bytes.data();
  da::extent(a) = bytes.size();
  finish_view(a, *t, std::move(logical), std::move(strides), count);
  return a;
}

// rawdata of _reconstruct and scalar: bytes in place, or latin-1 text converted (Python 2 strs,
// an unfolded _codecs.encode(str, 'latin1'), an unfolded builtins.bytes()).
result<bool> raw_bytes(value raw, ndarray& a, bool allow_bytearray) {
  if (raw.is(kind::bytes) || (allow_bytearray && raw.is(kind::bytearray))) {
    const auto b = raw.as_bytes();
    da::base(a) = b.data();
    da::extent(a) = b.size();
    da::source(a) = data_source::in_band;
    return true;
  }
  value text;
  if (raw.is(kind::str)) {
    text = raw;
  } else if (raw.is(kind::object) && raw.how() == call_kind::reduce && raw.ops().empty()) {
    const value c = raw.callable(), args = raw.args();
    if (is_global(c, "_codecs", "encode") && args.is(kind::tuple) && args.size() == 2 && args[0].is(kind::str) &&
        args[1].is(kind::str) && (args[1].as_str() == "latin1" || args[1].as_str() == "latin-1")) {
      text = args[0];
    } else if (is_global(c, "builtins", "bytes") && args.is(kind::tuple) && args.size() == 0) {
      da::base(a) = nullptr;
      da::extent(a) = 0;
      da::source(a) = data_source::in_band;
      return true;
    }
  }
  if (!text.valid()) return fail_at(raw, "array data is " + describe(raw) + ", not bytes (pickle not returning string)");
  auto converted = latin1_bytes(text.as_str());
  if (!converted)
    return fail_at(raw, "Failed to encode latin1 string when unpickling a Numpy array. pickle.load(a, encoding='latin1') is assumed.");
  auto owned = std::make_shared<const std::vector<std::byte>>(std::move(*converted));
  da::base(a) = owned->data();
  da::extent(a) = owned->size();
  da::owned(a) = std::move(owned);
  da::source(a) = data_source::converted;
  return true;
}

result<ndarray> read_reconstruct(value v) {
  if (v.how() != call_kind::reduce) return fail_at(v, "_reconstruct not called by REDUCE");
  const value args = v.args();
  if (!args.is(kind::tuple) || args.size() != 3) return fail_at(args, "_reconstruct arguments are not (class, shape, typecode)");
  const value cls = args[0];
  if (!cls.is(kind::global) || cls.mapped_module() != "numpy" ||
      std::find(std::begin(array_classes), std::end(array_classes), cls.mapped_name()) == std::end(array_classes))
    return fail_at(cls, "_reconstruct of " + describe(cls) + " (not numpy.ndarray or a plain-data subclass)");
  if (!args[1].is(kind::tuple) || !(text_of(args[2]) || args[2].is(kind::object)))
    return fail_at(args, "_reconstruct arguments are not (class, shape, typecode)");
  const auto ops = v.ops();
  if (ops.size() != 1 || ops[0].kind != op_kind::build) return fail_at(v, "_reconstruct without exactly one BUILD of its state");
  const value state = ops[0].values[0];
  if (!state.is(kind::tuple) || (state.size() != 4 && state.size() != 5))
    return fail_at(state, "ndarray state is not (version, shape, dtype, is_fortran, rawdata)");
  std::size_t i = 0;
  if (state.size() == 5) {
    auto ver = int_of(state[0]);
    if (!ver) return fail_at(state[0], "ndarray state version is not an int");
    if (*ver != 0 && *ver != 1) return fail_at(state[0], "can't handle version " + std::to_string(*ver) + " of numpy.ndarray pickle");
    i = 1;
  }
  auto shape = read_shape(state[i], true);
  if (!shape) return shape.error();
  dtype_reader reader;
  auto t = reader.read(state[i + 1], 0);
  if (!t) return t.error();
  const auto fortran = int_of(state[i + 2]);
  if (!fortran) return fail_at(state[i + 2], "ndarray state is_fortran is not a bool");
  const value raw = state[i + 3];
  const dtype& d = **t;

  ndarray a = da::make();
  da::subclass(a) = std::string(cls.mapped_name());
  std::size_t count = 0, nbytes = 0;
  if (!count_of(*shape, d.itemsize, count, nbytes)) return fail_at(state[i], "array size overflows");
  const auto order = *fortran != 0 ? memory_order::fortran : memory_order::c;
  const bool list_pickle = (d.flags & 0x02) != 0;
  if (d.holds_objects()) {
    if (d.kind != 'O') return fail_at(state[i + 1], "structured dtype with object fields is not supported");
    if (!list_pickle) return fail_at(state[i + 1], "object dtype whose flags do not ask for a list pickle");
    if (!raw.is(kind::list)) return fail_at(raw, "object pickle not returning list");
    if (raw.size() != count) return fail_at(raw, "object array list of " + std::to_string(raw.size()) + " items for " + std::to_string(count) + " elements");
    auto ids = raw.items().ids();
    da::objects(a).assign(ids.begin(), ids.end());
    da::doc(a) = &v.doc();
    da::source(a) = data_source::none;
  } else {
    if (list_pickle) return fail_at(state[i + 1], "dtype flags ask for a list pickle of a dtype without objects");
    auto ok = raw_bytes(raw, a, false);
    if (!ok) return ok.error();
    if (da::extent(a) != nbytes) return fail_at(raw, "buffer size does not match array size");
  }
  auto strides = strides_for(*shape, d.itemsize, order);
  finish_view(a, *t, std::move(*shape), std::move(strides), count);
  return a;
}

result<ndarray> read_scalar(value v) {
  if (v.how() != call_kind::reduce) return fail_at(v, "scalar not called by REDUCE");
  if (!v.ops().empty()) return fail_at(v, "numpy scalar with operations applied");
  const value args = v.args();
  if (!args.is(kind::tuple) || args.size() != 2) return fail_at(args, "scalar arguments are not (dtype, data)");
  dtype_reader reader;
  auto t = reader.read(args[0], 0);
  if (!t) return t.error();
  const dtype& d = **t;
  ndarray a = da::make();
  da::scalar(a) = true;
  if (d.holds_objects()) {
    if (d.kind != 'O') return fail_at(args[0], "structured dtype with object fields is not supported");
    da::objects(a) = {args[1].id()};
    da::doc(a) = &v.doc();
  } else {
    auto ok = raw_bytes(args[1], a, false);
    if (!ok) return ok.error();
    // numpy's scalar() takes the first itemsize bytes and refuses fewer.
    if (da::extent(a) < d.itemsize) return fail_at(args[1], "initialization string is too small");
    da::extent(a) = d.itemsize;
  }
  finish_view(a, *t, {}, {}, 1);
  return a;
}

bool is_module(std::string_view m, std::string_view core_name) noexcept {
  for (std::string_view prefix : {std::string_view("numpy.core."), std::string_view("numpy._core.")})
    if (m.size() == prefix.size() + core_name.size() && m.starts_with(prefix) && m.ends_with(core_name)) return true;
  return false;
}

}  // namespace

// ---- recognition -------------------------------------------------------------------------------

object_kind recognize(value v) noexcept {
  if (!v.valid() || !v.is(kind::object)) return object_kind::none;
  const value c = v.callable();
  if (!c.is(kind::global)) return object_kind::none;
  const auto m = c.mapped_module(), n = c.mapped_name();
  if (n == "_frombuffer" && is_module(m, "numeric")) return object_kind::array;
  if (n == "_reconstruct" && (is_module(m, "multiarray") || m == "numpy.core._internal")) return object_kind::array;
  if (n == "scalar" && is_module(m, "multiarray")) return object_kind::scalar;
  if (m == "numpy" && n == "dtype") return object_kind::dtype;
  return object_kind::none;
}

result<ndarray> to_ndarray(value v) {
  if (!v.valid()) return fail_at(v, "expected a numpy array, found nothing");
  switch (recognize(v)) {
    case object_kind::array: return v.callable().mapped_name() == "_frombuffer" ? read_frombuffer(v) : read_reconstruct(v);
    case object_kind::scalar: return read_scalar(v);
    default: return fail_at(v, "expected a numpy array, found " + describe(v));
  }
}

result<dtype> to_dtype(value v) {
  dtype_reader reader;
  auto t = reader.read(v, 0);
  if (!t) return t.error();
  return **t;
}

// ---- dtype -------------------------------------------------------------------------------------

bool dtype::fields_empty() const noexcept { return fields.empty(); }

bool dtype::native() const noexcept {
  if (order == byte_order::big && itemsize > 1 && kind != 'S' && kind != 'V' && kind != 'O') return false;
  for (const auto& f : fields)
    if (!f.type->native()) return false;
  return !subarray_base || subarray_base->native();
}

bool dtype::holds_objects() const noexcept {
  if (kind == 'O') return true;
  for (const auto& f : fields)
    if (f.type->holds_objects()) return true;
  return subarray_base && subarray_base->holds_objects();
}

bool dtype::operator==(const dtype& o) const noexcept {
  if (kind != o.kind || itemsize != o.itemsize || record != o.record || fields.size() != o.fields.size() ||
      subarray_shape != o.subarray_shape || datetime_unit != o.datetime_unit || datetime_count != o.datetime_count ||
      has_subarray() != o.has_subarray())
    return false;
  const bool byte_less = itemsize <= 1 || kind == 'S' || kind == 'V' || kind == 'O';
  if (!byte_less && order != o.order) return false;
  if (has_subarray() && !(*subarray_base == *o.subarray_base)) return false;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto &a = fields[i], &b = o.fields[i];
    if (a.name != b.name || a.offset != b.offset || a.title != b.title || !(*a.type == *b.type)) return false;
  }
  return true;
}

std::string dtype::typestr() const {
  if (kind == 'O') return "O8";
  const std::size_t n = kind == 'U' ? itemsize / 4 : itemsize;
  return std::string(1, kind) + std::to_string(n);
}

std::string dtype::str() const {
  if (kind == 'O') return "|O";
  const bool byte_less = order == byte_order::not_applicable || itemsize <= 1 || kind == 'S' || kind == 'V' || kind == 'b';
  std::string s(1, byte_less ? '|' : static_cast<char>(order));
  s += typestr();
  if (datetime_kind(kind) && datetime_unit != "generic") {
    s += '[';
    if (datetime_count != 1) s += std::to_string(datetime_count);
    s += datetime_unit;
    s += ']';
  }
  return s;
}

result<dtype> dtype::parse(std::string_view s) {
  dtype d;
  std::optional<byte_order> order;
  if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
    order = s[0] == '>' ? byte_order::big : (s[0] == '|' ? byte_order::not_applicable : byte_order::little);
    s.remove_prefix(1);
  }
  std::string_view unit;
  if (const auto lb = s.find('['); lb != std::string_view::npos) {
    if (s.back() != ']') return misuse("bad dtype string");
    unit = s.substr(lb + 1, s.size() - lb - 2);
    s = s.substr(0, lb);
  }
  std::string t(s);
  if (t == "O") t = "O8";
  if (t == "M" || t == "m") t += "8";
  if (!parse_typestr(t, d)) return misuse("unknown dtype string '" + std::string(s) + "'");
  if (!unit.empty() && !datetime_kind(d.kind)) return misuse("a unit on a non-datetime dtype");
  d.order = default_order(d);
  if (order && d.order != byte_order::not_applicable) d.order = *order;
  d.flags = default_flags(d);
  if (flexible(d.kind)) d.alignment = natural_alignment(d);
  if (datetime_kind(d.kind)) {
    d.datetime_unit = "generic";
    if (!unit.empty()) {
      std::size_t k = 0;
      std::int64_t count = 0;
      while (k < unit.size() && unit[k] >= '0' && unit[k] <= '9' && count < 1'000'000'000) count = count * 10 + (unit[k++] - '0');
      if (k == 0) count = 1;
      if (count <= 0 || !known_unit(unit.substr(k)) || unit.substr(k) == "generic") return misuse("unknown datetime unit '" + std::string(unit) + "'");
      d.datetime_unit = std::string(unit.substr(k));
      d.datetime_count = count;
    }
  }
  return d;
}

result<dtype> dtype::structured_of(std::vector<dtype_field> fields, std::size_t itemsize, bool aligned) {
  dtype d;
  d.kind = 'V';
  d.itemsize = itemsize;
  std::int64_t align = 1;
  for (const auto& f : fields) {
    if (!f.type) return misuse("field '" + f.name + "' without a dtype");
    if (f.offset > itemsize || f.type->itemsize > itemsize - f.offset) return misuse("field '" + f.name + "' extends past the itemsize");
    if (f.type->holds_objects()) return misuse("object fields cannot be built in C++");
    const dtype& t = *f.type;
    std::int64_t a = t.alignment >= 0 ? t.alignment : static_cast<std::int64_t>(t.kind == 'c' ? t.itemsize / 2 : std::max<std::size_t>(t.itemsize, 1));
    align = std::max(align, a);
  }
  d.fields = std::move(fields);
  d.flags = default_flags(d);
  d.alignment = aligned ? align : 1;
  if (aligned) d.flags = static_cast<std::int64_t>(static_cast<std::int8_t>(static_cast<std::uint8_t>(d.flags | 0x80)));
  return d;
}

dtype dtype::subarray_of(const dtype& base, std::vector<std::size_t> shape) {
  dtype d;
  d.kind = 'V';
  std::size_t bytes = base.itemsize;
  for (std::size_t x : shape) bytes *= x;
  d.itemsize = bytes;
  d.subarray_base = std::make_shared<const dtype>(base);
  d.subarray_shape = std::move(shape);
  d.flags = default_flags(d);
  d.alignment = natural_alignment(d);
  return d;
}

// ---- views -------------------------------------------------------------------------------------

ndarray::ndarray() : type_(std::make_shared<const numpy::dtype>()) {}

result<ndarray> ndarray::of_bytes(std::span<const std::byte> data, numpy::dtype type, std::vector<std::size_t> shape, memory_order order) {
  if (type.holds_objects()) return misuse("object arrays cannot be viewed from C++ memory");
  if (shape.size() > limits::max_ndim) return misuse("more than " + std::to_string(limits::max_ndim) + " dimensions");
  std::size_t count = 0, nbytes = 0;
  if (!count_of(shape, type.itemsize, count, nbytes) || nbytes != data.size())
    return misuse("data of " + std::to_string(data.size()) + " bytes does not match the shape and dtype");
  ndarray a;
  a.strides_ = strides_for(shape, type.itemsize, order);
  a.type_ = std::make_shared<const numpy::dtype>(std::move(type));
  a.shape_ = std::move(shape);
  a.size_ = count;
  a.base_ = data.data();
  a.extent_ = data.size();
  a.source_ = data_source::caller;
  return a;
}

namespace {
bool contiguous(std::span<const std::size_t> shape, std::span<const std::ptrdiff_t> strides, std::size_t itemsize, memory_order order, std::size_t size) {
  if (size == 0) return true;
  std::size_t expect = itemsize;
  const std::size_t n = shape.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = order == memory_order::c ? n - 1 - k : k;
    if (shape[i] != 1 && static_cast<std::size_t>(strides[i]) != expect) return false;
    expect *= shape[i];
  }
  return true;
}

// Byte-swap one element of `t` from `src` into `dst` (which holds a copy of it) to native order.
void swap_element(const dtype& t, const std::byte* src, std::byte* dst) {
  if (!t.fields.empty()) {
    for (const auto& f : t.fields) swap_element(*f.type, src + f.offset, dst + f.offset);
    return;
  }
  if (t.subarray_base) {
    const dtype& b = *t.subarray_base;
    if (b.itemsize == 0 || b.native()) return;
    for (std::size_t off = 0; off + b.itemsize <= t.itemsize; off += b.itemsize) swap_element(b, src + off, dst + off);
    return;
  }
  if (t.order != byte_order::big || t.itemsize <= 1) return;
  std::size_t unit = t.itemsize;
  if (t.kind == 'c') unit = t.itemsize / 2;
  else if (t.kind == 'U') unit = 4;
  else if (t.kind == 'S' || t.kind == 'V' || t.kind == 'O') return;
  if (unit <= 1) return;
  for (std::size_t off = 0; off + unit <= t.itemsize; off += unit)
    for (std::size_t k = 0; k < unit; ++k) dst[off + k] = src[off + unit - 1 - k];
}

double half_to_double(std::uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  double v;
  if (exp == 0) v = std::ldexp(static_cast<double>(frac), -24);
  else if (exp == 31) v = frac == 0 ? HUGE_VAL : std::numeric_limits<double>::quiet_NaN();
  else v = std::ldexp(static_cast<double>(frac | 0x400), exp - 25);
  return sign ? -v : v;
}
}  // namespace

bool ndarray::c_contiguous() const noexcept { return contiguous(shape_, strides_, type_->itemsize, memory_order::c, size_); }
bool ndarray::f_contiguous() const noexcept { return contiguous(shape_, strides_, type_->itemsize, memory_order::fortran, size_); }

std::optional<brine::error> ndarray::check_type(char kind, std::size_t size) const {
  const numpy::dtype& t = *type_;
  const bool datetime_as_int64 = kind == 'i' && size == 8 && datetime_kind(t.kind);
  if (kind == '\0' || !t.fields.empty() || t.has_subarray() || (t.kind != kind && !datetime_as_int64) || t.itemsize != size)
    return misuse("element type does not match dtype " + t.str());
  return std::nullopt;
}

result<const std::byte*> ndarray::check_span(char kind, std::size_t size, std::size_t align, memory_order order) const {
  if (auto e = check_type(kind, size)) return *e;
  if (!type_->native()) return misuse("data is big-endian (" + type_->str() + "); use to_vector or at");
  if (!contiguous(shape_, strides_, type_->itemsize, order, size_))
    return misuse(std::string("data is not contiguous in ") + (order == memory_order::c ? "C" : "Fortran") + " order");
  if (size_ != 0 && reinterpret_cast<std::uintptr_t>(base_) % align != 0)
    return misuse("data at an address not aligned for the element type (in-band data sits where the pickle put it); use to_vector");
  if (kind == 'b')
    for (std::size_t i = 0; i < size_; ++i)
      if (base_[i] != std::byte{0} && base_[i] != std::byte{1}) return misuse("bool data holds a byte other than 0 or 1; use to_vector");
  return base_;
}

result<const std::byte*> ndarray::element(std::span<const std::size_t> index) const {
  if (index.size() != shape_.size())
    return misuse("index of " + std::to_string(index.size()) + " dimensions for an array of " + std::to_string(shape_.size()));
  std::size_t off = 0;
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (index[i] >= shape_[i]) return misuse("index " + std::to_string(index[i]) + " out of range for dimension " + std::to_string(i));
    off += index[i] * static_cast<std::size_t>(strides_[i]);
  }
  if (objects_.empty() && (off > extent_ || type_->itemsize > extent_ - off)) return misuse("element outside the data");
  return base_ + off;
}

void ndarray::read_element(const std::byte* p, std::byte* out) const {
  std::memcpy(out, p, type_->itemsize);
  swap_element(*type_, p, out);
}

void ndarray::copy_elements(memory_order order, std::byte* out, bool to_native) const {
  const std::size_t item = type_->itemsize;
  if (size_ == 0 || item == 0) return;
  if (contiguous(shape_, strides_, item, order, size_)) {
    std::memcpy(out, base_, size_ * item);
    if (to_native && !type_->native())
      for (std::size_t i = 0; i < size_; ++i) swap_element(*type_, base_ + i * item, out + i * item);
    return;
  }
  // Odometer over the indices, the last (C) or first (Fortran) one fastest.
  const std::size_t n = shape_.size();
  std::vector<std::size_t> idx(n, 0);
  std::size_t off = 0;
  for (std::size_t k = 0; k < size_; ++k) {
    std::memcpy(out + k * item, base_ + off, item);
    if (to_native) swap_element(*type_, base_ + off, out + k * item);
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t d = order == memory_order::c ? n - 1 - j : j;
      const auto stride = static_cast<std::size_t>(strides_[d]);
      if (++idx[d] < shape_[d]) {
        off += stride;
        break;
      }
      off -= (shape_[d] - 1) * stride;
      idx[d] = 0;
    }
  }
}

std::vector<std::byte> ndarray::native_bytes(memory_order order) const {
  if (!objects_.empty() || type_->kind == 'O') return {};
  std::vector<std::byte> out(size_ * type_->itemsize);
  copy_elements(order, out.data(), true);
  return out;
}

result<double> ndarray::at_double(std::span<const std::size_t> index) const {
  const numpy::dtype& t = *type_;
  if (!t.fields.empty() || t.has_subarray() || !(t.kind == 'b' || t.kind == 'i' || t.kind == 'u' || t.kind == 'f'))
    return misuse("at_double on dtype " + t.str());
  auto p = element(index);
  if (!p) return p.error();
  std::byte buf[16] = {};
  if (t.itemsize > sizeof(buf)) return misuse("at_double on dtype " + t.str());
  read_element(*p, buf);
  auto get = [&]<class T>(std::type_identity<T>) {
    T x;
    std::memcpy(&x, buf, sizeof(T));
    return x;
  };
  switch (t.kind) {
    case 'b': return buf[0] != std::byte{0} ? 1.0 : 0.0;
    case 'i':
      switch (t.itemsize) {
        case 1: return static_cast<double>(get(std::type_identity<std::int8_t>{}));
        case 2: return static_cast<double>(get(std::type_identity<std::int16_t>{}));
        case 4: return static_cast<double>(get(std::type_identity<std::int32_t>{}));
        default: return static_cast<double>(get(std::type_identity<std::int64_t>{}));
      }
    case 'u':
      switch (t.itemsize) {
        case 1: return static_cast<double>(get(std::type_identity<std::uint8_t>{}));
        case 2: return static_cast<double>(get(std::type_identity<std::uint16_t>{}));
        case 4: return static_cast<double>(get(std::type_identity<std::uint32_t>{}));
        default: return static_cast<double>(get(std::type_identity<std::uint64_t>{}));
      }
    default:
      switch (t.itemsize) {
        case 2: return half_to_double(get(std::type_identity<std::uint16_t>{}));
        case 4: return static_cast<double>(get(std::type_identity<float>{}));
        case 8: return get(std::type_identity<double>{});
        default:
          // numpy's float128 on x86-64 Linux is the 80-bit extended format in 16 bytes.
          if constexpr (sizeof(long double) == 16 && LDBL_MANT_DIG == 64) {
            if (t.itemsize == 16) return static_cast<double>(get(std::type_identity<long double>{}));
          }
          return misuse("at_double on dtype " + t.str() + " (not this platform's long double)");
      }
  }
}

result<std::string> ndarray::at_text(std::span<const std::size_t> index) const {
  const numpy::dtype& t = *type_;
  if (!t.fields.empty() || t.has_subarray() || (t.kind != 'U' && t.kind != 'S')) return misuse("at_text on dtype " + t.str());
  auto p = element(index);
  if (!p) return p.error();
  std::string out;
  if (t.kind == 'S') {
    std::size_t n = t.itemsize;
    while (n > 0 && (*p)[n - 1] == std::byte{0}) --n;
    out.assign(reinterpret_cast<const char*>(*p), n);
    return out;
  }
  std::size_t n = t.itemsize / 4;
  auto unit = [&](std::size_t i) {
    std::uint32_t u;
    std::memcpy(&u, *p + 4 * i, 4);
    if (t.order == byte_order::big) u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
    return u;
  };
  while (n > 0 && unit(n - 1) == 0) --n;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t cp = unit(i);
    if (cp > 0x10ffff) return fail_at(value(), "unicode element holds code point " + std::to_string(cp) + ", above U+10FFFF");
    append_utf8(static_cast<char32_t>(cp), out);
  }
  return out;
}

result<ndarray> ndarray::field(std::string_view name) const {
  const dtype_field* f = nullptr;
  for (const auto& x : type_->fields)
    if (x.name == name) f = &x;
  if (!f)
    for (const auto& x : type_->fields)
      if (x.title && *x.title == name) f = &x;
  if (!f) return misuse("no field '" + std::string(name) + "' in dtype " + type_->str());
  ndarray a = *this;
  a.base_ = extent_ >= f->offset ? base_ + f->offset : base_;
  a.extent_ = extent_ >= f->offset ? extent_ - f->offset : 0;
  const numpy::dtype& ft = *f->type;
  if (ft.has_subarray()) {
    const auto sub = strides_for(ft.subarray_shape, ft.subarray_base->itemsize, memory_order::c);
    a.shape_.insert(a.shape_.end(), ft.subarray_shape.begin(), ft.subarray_shape.end());
    a.strides_.insert(a.strides_.end(), sub.begin(), sub.end());
    std::size_t count = 0, bytes = 0;
    if (!count_of(a.shape_, ft.subarray_base->itemsize, count, bytes)) return misuse("field size overflows");
    a.size_ = count;
    a.type_ = ft.subarray_base;
  } else {
    a.type_ = f->type;
  }
  a.scalar_ = false;
  return a;
}

result<value> ndarray::object_at(std::span<const std::size_t> index) const {
  if (type_->kind != 'O' || doc_ == nullptr) return misuse("object_at on dtype " + type_->str());
  if (index.size() != shape_.size()) return misuse("index of " + std::to_string(index.size()) + " dimensions for an array of " + std::to_string(shape_.size()));
  std::size_t flat = 0;
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (index[i] >= shape_[i]) return misuse("index " + std::to_string(index[i]) + " out of range for dimension " + std::to_string(i));
    flat = flat * shape_[i] + index[i];
  }
  return value(doc_, objects_[flat]);
}

std::vector<value> ndarray::objects() const {
  std::vector<value> out;
  if (doc_ == nullptr) return out;
  out.reserve(objects_.size());
  for (std::uint32_t id : objects_) out.emplace_back(doc_, id);
  return out;
}

// ---- encoding ----------------------------------------------------------------------------------

namespace {

// CPython's 1-character strs and 1-byte bytes are interpreter singletons: one memo entry each.
void small_str(typed_encoder& e, std::string_view s) {
  if (s.size() == 1) e.singleton_str(s);
  else e.str(s);
}
void small_bytes(typed_encoder& e, std::span<const std::byte> b) {
  const bool single = b.size() == 1;
  const std::string key = single ? "numpy.bytes:" + std::string(1, static_cast<char>(b[0])) : std::string();
  if (single && e.fetch_shared(key)) return;
  e.bytes(b);
  if (single) e.remember_shared(key);
}
// A str shared within one object (a field name in the names tuple and the fields dict).
void scoped_str(typed_encoder& e, const void* scope, std::string_view kind, std::string_view s) {
  if (s.size() == 1) return small_str(e, s);
  const std::string key = "numpy." + std::string(kind) + ":" + std::to_string(reinterpret_cast<std::uintptr_t>(scope)) + ":" + std::string(s);
  if (e.fetch_shared(key)) return;
  e.str(s);
  e.remember_shared(key);
}

void shape_tuple(typed_encoder& e, std::span<const std::size_t> shape) {
  e.tuple(shape.size(), [&](std::size_t i) { e.integer(static_cast<std::uint64_t>(shape[i])); });
}

// numpy's builtin dtypes are cached instances (np.dtype('f8') is np.dtype('f8')): CPython writes
// one dtype object once per pickle and fetches it after.
bool builtin_singleton(const dtype& t) {
  return t.fields.empty() && !t.has_subarray() && !t.record && std::string_view("biufcO").find(t.kind) != std::string_view::npos &&
         t.native();
}

std::string_view module_of(module_paths p, std::string_view core_name) {
  if (core_name == "numeric") return p == module_paths::numpy_core ? "numpy.core.numeric" : "numpy._core.numeric";
  return p == module_paths::numpy_core ? "numpy.core.multiarray" : "numpy._core.multiarray";
}

}  // namespace

void encode_dtype(typed_encoder& e, const dtype& t) {
  const bool singleton = builtin_singleton(t);
  const std::string key = singleton ? "numpy.dtype:" + t.str() : std::string();
  if (singleton && e.fetch_shared(key)) return;
  e.global("numpy", "dtype");
  e.boundary();
  e.begin_tuple(3);
  e.boundary();
  if (t.record) e.global("numpy", "record");
  else e.str(t.typestr());
  e.boundary();
  e.boolean(false);
  e.boundary();
  e.boolean(true);
  e.end_tuple(3);
  e.reduce_done();
  if (singleton) e.remember_shared(key);
  e.boundary();
  const bool dt = datetime_kind(t.kind);
  const std::size_t n = dt ? 9 : 8;
  e.begin_tuple(n);
  e.boundary();
  e.integer(std::int64_t{dt ? 4 : 3});
  e.boundary();
  small_str(e, std::string(1, static_cast<char>(t.order)));
  e.boundary();
  if (t.has_subarray()) {
    e.begin_tuple(2);
    e.boundary();
    encode_dtype(e, *t.subarray_base);
    e.boundary();
    shape_tuple(e, t.subarray_shape);
    e.end_tuple(2);
  } else {
    e.none();
  }
  e.boundary();
  if (t.fields.empty()) {
    e.none();
    e.boundary();
    e.none();
  } else {
    e.tuple(t.fields.size(), [&](std::size_t i) { scoped_str(e, &t, "name", t.fields[i].name); });
    e.boundary();
    std::size_t entries = 0;
    for (const auto& f : t.fields) entries += f.title ? 2u : 1u;
    // Entries in numpy's insertion order: a field, then its title, which maps to the same tuple.
    std::vector<std::pair<const dtype_field*, bool>> order;
    for (const auto& f : t.fields) {
      order.emplace_back(&f, false);
      if (f.title) order.emplace_back(&f, true);
    }
    e.dict(entries, [&](std::size_t i) {
      const dtype_field& f = *order[i].first;
      const std::string tuple_key = "numpy.fieldtuple:" + std::to_string(reinterpret_cast<std::uintptr_t>(&f));
      if (order[i].second) {
        scoped_str(e, &f, "title", *f.title);
        e.boundary();
        if (!e.fetch_shared(tuple_key)) e.fail("numpy: field tuple not written before its title");
        return;
      }
      scoped_str(e, &t, "name", f.name);
      e.boundary();
      const std::size_t k = f.title ? 3 : 2;
      e.begin_tuple(k);
      e.boundary();
      encode_dtype(e, *f.type);
      e.boundary();
      e.integer(static_cast<std::uint64_t>(f.offset));
      if (f.title) {
        e.boundary();
        scoped_str(e, &f, "title", *f.title);
      }
      e.end_tuple(k);
      e.remember_shared(tuple_key);
    });
  }
  e.boundary();
  const bool flex = flexible(t.kind);
  e.integer(flex ? static_cast<std::int64_t>(t.itemsize) : std::int64_t{-1});
  e.boundary();
  e.integer(flex ? (t.alignment >= 0 ? t.alignment : natural_alignment(t)) : std::int64_t{-1});
  e.boundary();
  e.integer(t.flags);
  if (dt) {
    e.boundary();
    e.begin_tuple(2);
    e.boundary();
    e.dict(0, [](std::size_t) {});
    e.boundary();
    e.begin_tuple(4);
    e.boundary();
    small_bytes(e, std::as_bytes(std::span<const char>(t.datetime_unit.data(), t.datetime_unit.size())));
    e.boundary();
    e.integer(t.datetime_count);
    e.boundary();
    e.integer(std::int64_t{1});
    e.boundary();
    e.integer(std::int64_t{1});
    e.end_tuple(4);
    e.end_tuple(2);
  }
  e.end_tuple(n);
  e.build_done();
}

void encode_array(typed_encoder& e, const ndarray& a) {
  const dtype& t = a.type();
  const encode_settings& s = a.settings();
  if (t.holds_objects()) return e.fail("numpy: object arrays cannot be encoded (brine holds no Python objects to write)");
  const std::size_t item = t.itemsize;

  if (a.is_scalar()) {
    e.global(module_of(s.paths, "multiarray"), "scalar");
    e.boundary();
    e.begin_tuple(2);
    e.boundary();
    encode_dtype(e, t);
    e.boundary();
    small_bytes(e, a.data().first(std::min(item, a.data().size())));
    e.end_tuple(2);
    e.reduce_done();
    return;
  }

  const bool c = a.c_contiguous(), f = a.f_contiguous();
  // array_reduce_ex: the PickleBuffer path needs protocol 5, an itemsize, a buffer export (numpy
  // has no buffer format for datetime64 / timedelta64) and C or F contiguity.
  if (e.protocol() >= 5 && s.pickle_buffer && item != 0 && !datetime_kind(t.kind) && (c || f)) {
    e.global(module_of(s.paths, "numeric"), "_frombuffer");
    e.boundary();
    e.begin_tuple(4);
    e.boundary();
    e.buffer(a.data().first(a.nbytes()), s.readonly || a.readonly());
    e.boundary();
    encode_dtype(e, t);
    e.boundary();
    shape_tuple(e, a.shape());
    e.boundary();
    small_str(e, !c && f ? "F" : "C");
    e.end_tuple(4);
    e.reduce_done();
    return;
  }

  e.global(module_of(s.paths, "multiarray"), "_reconstruct");
  e.boundary();
  e.begin_tuple(3);
  e.boundary();
  e.global("numpy", a.subclass());
  e.boundary();
  e.tuple(1, [&](std::size_t) { e.integer(std::int64_t{0}); });
  e.boundary();
  small_bytes(e, std::as_bytes(std::span<const char>("b", 1)));
  e.end_tuple(3);
  e.reduce_done();
  e.boundary();
  e.begin_tuple(5);
  e.boundary();
  e.integer(std::int64_t{1});
  e.boundary();
  shape_tuple(e, a.shape());
  e.boundary();
  encode_dtype(e, t);
  const bool fortran = f && !c;  // numpy's PyArray_ISFORTRAN
  e.boundary();
  e.boolean(fortran);
  e.boundary();
  const auto order = fortran ? memory_order::fortran : memory_order::c;
  if (contiguous(a.shape(), a.strides(), item, order, a.size())) {
    e.bytes(a.data().first(a.nbytes()));
  } else {
    std::vector<std::byte> copy(a.nbytes());
    detail_access::copy_raw(a, order, copy.data());
    e.bytes(copy);
  }
  e.end_tuple(5);
  e.build_done();
}

}  // namespace brine::numpy
