// lib/stdlib_types.cpp — brine/stdlib.hpp: the standard library's reductions (CPython 3.11's
// Modules/_datetimemodule.c __reduce_ex__ / __getstate, Lib/fractions.py, Lib/uuid.py,
// Lib/collections/__init__.py, copyreg's pickle_complex) written and read back.
#include "brine/stdlib.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <span>

namespace brine {
namespace detail {

namespace {

brine::error mismatch(value at, std::string message) {
  brine::error e;
  e.code = errc::type_mismatch;
  e.offset = at.valid() ? at.offset() : 0;
  e.message = std::move(message) + " at offset " + std::to_string(e.offset);
  return e;
}

std::string found(value v) {
  if (!v.valid()) return "nothing";
  if (v.is(kind::object) && v.callable().is(kind::global))
    return std::string(v.callable().mapped_module()) + "." + std::string(v.callable().mapped_name()) + "(...)";
  if (v.is(kind::global)) return "global " + std::string(v.mapped_module()) + "." + std::string(v.mapped_name());
  return std::string(kind_name(v.kind()));
}

}  // namespace

result<value> stdlib_call(value v, std::string_view module, std::string_view name, std::string_view what, call_kind how) {
  if (!v.valid() || !v.is(kind::object) || v.how() != how || !v.callable().is(kind::global) ||
      v.callable().mapped_module() != module || v.callable().mapped_name() != name)
    return mismatch(v, "expected " + std::string(what) + ", found " + found(v));
  const value args = v.args();
  if (!args.is(kind::tuple)) return mismatch(args, "expected " + std::string(what) + " arguments as a tuple, found " + found(args));
  return args;
}

result<std::vector<std::pair<value, value>>> stdlib_setitems(value v, std::string_view what) {
  std::vector<std::pair<value, value>> out;
  for (const auto& op : v.ops()) {
    if (op.kind != op_kind::setitem && op.kind != op_kind::setitems)
      return mismatch(v, std::string(what) + " with operations other than SETITEM(S)");
    for (std::size_t i = 0; i + 1 < op.values.size(); i += 2) out.emplace_back(op.values[i], op.values[i + 1]);
  }
  return out;
}

result<std::vector<value>> stdlib_appends(value v, std::string_view what) {
  std::vector<value> out;
  for (const auto& op : v.ops()) {
    if (op.kind != op_kind::append && op.kind != op_kind::appends)
      return mismatch(v, std::string(what) + " with operations other than APPEND(S)");
    for (value x : op.values) out.push_back(x);
  }
  return out;
}

result<py_global> stdlib_global(value v) {
  if (!v.valid() || !v.is(kind::global)) return mismatch(v, "expected a global, found " + found(v));
  return py_global{std::string(v.mapped_module()), std::string(v.mapped_name())};
}

result<std::int64_t> stdlib_int(value v, std::string_view what) {
  if (!v.valid() || !v.is(kind::integer)) return mismatch(v, "expected an int for " + std::string(what) + ", found " + found(v));
  if (!v.fits_int64()) return mismatch(v, std::string(what) + " does not fit in 64 bits");
  return v.as_int64();
}

}  // namespace detail

namespace {

using detail::stdlib_call;
using detail::stdlib_int;

brine::error mismatch(value at, std::string message) {
  brine::error e;
  e.code = errc::type_mismatch;
  e.offset = at.valid() ? at.offset() : 0;
  e.message = std::move(message) + " at offset " + std::to_string(e.offset);
  return e;
}

result<bool> no_ops(value v, std::string_view what) {
  if (!v.ops().empty()) return mismatch(v, std::string(what) + " with operations applied to it");
  return true;
}

void empty_tuple(typed_encoder& e) { e.tuple(0, [](std::size_t) {}); }

// The packed state's bytes: bytes, or (Python 2 pickles read as latin-1) a str of code points
// below 256.
std::optional<std::vector<std::uint8_t>> state_bytes(value v) {
  std::vector<std::uint8_t> out;
  if (v.is(kind::bytes)) {
    for (std::byte b : v.as_bytes()) out.push_back(static_cast<std::uint8_t>(b));
    return out;
  }
  if (!v.is(kind::str)) return std::nullopt;
  const auto s = v.as_str();
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(c);
      ++i;
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < s.size()) {
      out.push_back(static_cast<std::uint8_t>(((c & 0x1f) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3f)));
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int days_in_month(int y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}
bool date_ok(int y, int m, int d) { return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m); }
bool time_ok(int h, int mi, int s, int us, int fold) {
  return h >= 0 && h < 24 && mi >= 0 && mi < 60 && s >= 0 && s < 60 && us >= 0 && us < 1'000'000 && (fold == 0 || fold == 1);
}
bool timedelta_ok(const py_timedelta& t) {
  return t.seconds >= 0 && t.seconds < 86400 && t.microseconds >= 0 && t.microseconds < 1'000'000 && t.days >= -999'999'999 &&
         t.days <= 999'999'999;
}
bool offset_ok(const py_timedelta& t) {
  // timezone requires -timedelta(hours=24) < offset < timedelta(hours=24).
  if (!timedelta_ok(t)) return false;
  if (t.days >= 1) return false;
  if (t.days < -1) return false;
  if (t.days == -1) return t.seconds > 0 || t.microseconds > 0;
  return true;
}

void packed(typed_encoder& e, const std::vector<std::uint8_t>& b) {
  e.bytes(std::as_bytes(std::span<const std::uint8_t>(b)));
}

void write_tz(typed_encoder& e, const py_timezone& tz) { e.value(tz); }

result<std::optional<py_timezone>> read_tz(value args, std::size_t i) {
  if (args.size() <= i || args[i].is_none()) return std::optional<py_timezone>();
  auto tz = from_value<py_timezone>(args[i]);
  if (!tz) return tz.error();
  return std::optional<py_timezone>(std::move(*tz));
}

}  // namespace

// ---- complex -----------------------------------------------------------------------------------

void codec<std::complex<double>>::encode(typed_encoder& e, const std::complex<double>& x) {
  e.global("builtins", "complex");
  e.boundary();
  e.begin_tuple(2);
  e.boundary();
  e.floating(x.real());
  e.boundary();
  e.floating(x.imag());
  e.end_tuple(2);
  e.reduce_done();
}

result<std::complex<double>> codec<std::complex<double>>::decode(value v) {
  auto args = stdlib_call(v, "builtins", "complex", "builtins.complex");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "complex"); !ok) return ok.error();
  if (args->size() > 2) return mismatch(*args, "complex arguments are not (real, imag)");
  double parts[2] = {0, 0};
  for (std::size_t i = 0; i < args->size(); ++i) {
    auto x = from_value<double>((*args)[i]);
    if (!x) return x.error();
    parts[i] = *x;
  }
  return std::complex<double>(parts[0], parts[1]);
}

// ---- datetime ----------------------------------------------------------------------------------

void codec<py_timedelta>::encode(typed_encoder& e, const py_timedelta& t) {
  if (!timedelta_ok(t)) return e.fail("timedelta out of range or not normalized");
  e.global("datetime", "timedelta");
  e.boundary();
  e.begin_tuple(3);
  e.boundary();
  e.integer(t.days);
  e.boundary();
  e.integer(std::int64_t{t.seconds});
  e.boundary();
  e.integer(std::int64_t{t.microseconds});
  e.end_tuple(3);
  e.reduce_done();
}

result<py_timedelta> codec<py_timedelta>::decode(value v) {
  auto args = stdlib_call(v, "datetime", "timedelta", "datetime.timedelta");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "timedelta"); !ok) return ok.error();
  if (args->size() != 3) return mismatch(*args, "timedelta arguments are not (days, seconds, microseconds)");
  py_timedelta t;
  auto d = stdlib_int((*args)[0], "timedelta days");
  auto s = stdlib_int((*args)[1], "timedelta seconds");
  auto us = stdlib_int((*args)[2], "timedelta microseconds");
  if (!d) return d.error();
  if (!s) return s.error();
  if (!us) return us.error();
  // CPython's reduction is normalized; a hand-made one with other values would be normalized by
  // the constructor, which brine does not reimplement.
  if (*s < 0 || *s >= 86400 || *us < 0 || *us >= 1'000'000) return mismatch(*args, "timedelta arguments not normalized");
  t.days = *d;
  t.seconds = static_cast<std::int32_t>(*s);
  t.microseconds = static_cast<std::int32_t>(*us);
  if (!timedelta_ok(t)) return mismatch(*args, "timedelta out of range");
  return t;
}

void codec<py_timezone>::encode(typed_encoder& e, const py_timezone& tz) {
  if (!offset_ok(tz.offset)) return e.fail("timezone offset must be strictly between -24 and 24 hours");
  e.global("datetime", "timezone");
  e.boundary();
  const std::size_t n = tz.name ? 2 : 1;
  e.begin_tuple(n);
  e.boundary();
  e.value(tz.offset);
  if (tz.name) {
    e.boundary();
    e.str(*tz.name);
  }
  e.end_tuple(n);
  e.reduce_done();
}

result<py_timezone> codec<py_timezone>::decode(value v) {
  auto args = stdlib_call(v, "datetime", "timezone", "datetime.timezone");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "timezone"); !ok) return ok.error();
  if (args->size() < 1 || args->size() > 2) return mismatch(*args, "timezone arguments are not (offset[, name])");
  auto off = from_value<py_timedelta>((*args)[0]);
  if (!off) return off.error();
  if (!offset_ok(*off)) return mismatch((*args)[0], "timezone offset not strictly between -24 and 24 hours");
  py_timezone tz;
  tz.offset = *off;
  if (args->size() == 2) {
    if (!(*args)[1].is(kind::str)) return mismatch((*args)[1], "timezone name is not a str");
    tz.name = std::string((*args)[1].as_str());
  }
  return tz;
}

void codec<py_date>::encode(typed_encoder& e, const py_date& d) {
  if (!date_ok(d.year, d.month, d.day)) return e.fail("date out of range");
  e.global("datetime", "date");
  e.boundary();
  e.begin_tuple(1);
  e.boundary();
  packed(e, {static_cast<std::uint8_t>(d.year >> 8), static_cast<std::uint8_t>(d.year & 0xff), static_cast<std::uint8_t>(d.month),
             static_cast<std::uint8_t>(d.day)});
  e.end_tuple(1);
  e.reduce_done();
}

result<py_date> codec<py_date>::decode(value v) {
  auto args = stdlib_call(v, "datetime", "date", "datetime.date");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "date"); !ok) return ok.error();
  if (args->size() != 1) return mismatch(*args, "date arguments are not (state,)");
  auto b = state_bytes((*args)[0]);
  if (!b || b->size() != 4) return mismatch((*args)[0], "date state is not 4 bytes");
  py_date d{((*b)[0] << 8) | (*b)[1], (*b)[2], (*b)[3]};
  if (!date_ok(d.year, d.month, d.day)) return mismatch((*args)[0], "date state out of range");
  return d;
}

void codec<py_time>::encode(typed_encoder& e, const py_time& t) {
  if (!time_ok(t.hour, t.minute, t.second, t.microsecond, t.fold)) return e.fail("time out of range");
  e.global("datetime", "time");
  e.boundary();
  const std::size_t n = t.tzinfo ? 2 : 1;
  e.begin_tuple(n);
  e.boundary();
  const int fold = e.protocol() > 3 && t.fold ? 0x80 : 0;  // time.__reduce_ex__: fold from protocol 4
  packed(e, {static_cast<std::uint8_t>(t.hour | fold), static_cast<std::uint8_t>(t.minute), static_cast<std::uint8_t>(t.second),
             static_cast<std::uint8_t>(t.microsecond >> 16), static_cast<std::uint8_t>((t.microsecond >> 8) & 0xff),
             static_cast<std::uint8_t>(t.microsecond & 0xff)});
  if (t.tzinfo) {
    e.boundary();
    write_tz(e, *t.tzinfo);
  }
  e.end_tuple(n);
  e.reduce_done();
}

result<py_time> codec<py_time>::decode(value v) {
  auto args = stdlib_call(v, "datetime", "time", "datetime.time");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "time"); !ok) return ok.error();
  if (args->size() < 1 || args->size() > 2) return mismatch(*args, "time arguments are not (state[, tzinfo])");
  auto b = state_bytes((*args)[0]);
  if (!b || b->size() != 6) return mismatch((*args)[0], "time state is not 6 bytes");
  py_time t;
  t.hour = (*b)[0] & 0x7f;
  t.fold = (*b)[0] >> 7;
  t.minute = (*b)[1];
  t.second = (*b)[2];
  t.microsecond = ((*b)[3] << 16) | ((*b)[4] << 8) | (*b)[5];
  if (!time_ok(t.hour, t.minute, t.second, t.microsecond, t.fold)) return mismatch((*args)[0], "time state out of range");
  auto tz = read_tz(*args, 1);
  if (!tz) return tz.error();
  t.tzinfo = std::move(*tz);
  return t;
}

void codec<py_datetime>::encode(typed_encoder& e, const py_datetime& d) {
  if (!date_ok(d.year, d.month, d.day) || !time_ok(d.hour, d.minute, d.second, d.microsecond, d.fold))
    return e.fail("datetime out of range");
  e.global("datetime", "datetime");
  e.boundary();
  const std::size_t n = d.tzinfo ? 2 : 1;
  e.begin_tuple(n);
  e.boundary();
  const int fold = e.protocol() > 3 && d.fold ? 0x80 : 0;  // datetime.__reduce_ex__: fold from protocol 4
  packed(e, {static_cast<std::uint8_t>(d.year >> 8), static_cast<std::uint8_t>(d.year & 0xff), static_cast<std::uint8_t>(d.month | fold),
             static_cast<std::uint8_t>(d.day), static_cast<std::uint8_t>(d.hour), static_cast<std::uint8_t>(d.minute),
             static_cast<std::uint8_t>(d.second), static_cast<std::uint8_t>(d.microsecond >> 16),
             static_cast<std::uint8_t>((d.microsecond >> 8) & 0xff), static_cast<std::uint8_t>(d.microsecond & 0xff)});
  if (d.tzinfo) {
    e.boundary();
    write_tz(e, *d.tzinfo);
  }
  e.end_tuple(n);
  e.reduce_done();
}

result<py_datetime> codec<py_datetime>::decode(value v) {
  auto args = stdlib_call(v, "datetime", "datetime", "datetime.datetime");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "datetime"); !ok) return ok.error();
  if (args->size() < 1 || args->size() > 2) return mismatch(*args, "datetime arguments are not (state[, tzinfo])");
  auto b = state_bytes((*args)[0]);
  if (!b || b->size() != 10) return mismatch((*args)[0], "datetime state is not 10 bytes");
  const auto& s = *b;
  py_datetime d;
  d.year = (s[0] << 8) | s[1];
  d.month = s[2] & 0x7f;
  d.fold = s[2] >> 7;
  d.day = s[3];
  d.hour = s[4];
  d.minute = s[5];
  d.second = s[6];
  d.microsecond = (s[7] << 16) | (s[8] << 8) | s[9];
  if (!date_ok(d.year, d.month, d.day) || !time_ok(d.hour, d.minute, d.second, d.microsecond, d.fold))
    return mismatch((*args)[0], "datetime state out of range");
  auto tz = read_tz(*args, 1);
  if (!tz) return tz.error();
  d.tzinfo = std::move(*tz);
  return d;
}

// ---- numbers and identifiers -------------------------------------------------------------------

void codec<py_decimal>::encode(typed_encoder& e, const py_decimal& d) {
  e.global("decimal", "Decimal");
  e.boundary();
  e.begin_tuple(1);
  e.boundary();
  e.str(d.text);
  e.end_tuple(1);
  e.reduce_done();
}

result<py_decimal> codec<py_decimal>::decode(value v) {
  auto args = stdlib_call(v, "decimal", "Decimal", "decimal.Decimal");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "Decimal"); !ok) return ok.error();
  if (args->size() != 1 || !(*args)[0].is(kind::str)) return mismatch(*args, "Decimal arguments are not (str,)");
  return py_decimal{std::string((*args)[0].as_str())};
}

void codec<py_fraction>::encode(typed_encoder& e, const py_fraction& f) {
  if (f.denominator <= 0 || std::gcd(f.numerator, f.denominator) != 1) return e.fail("fraction not in lowest terms with a positive denominator");
  e.global("fractions", "Fraction");
  e.boundary();
  e.begin_tuple(2);
  e.boundary();
  e.integer(f.numerator);
  e.boundary();
  e.integer(f.denominator);
  e.end_tuple(2);
  e.reduce_done();
}

result<py_fraction> codec<py_fraction>::decode(value v) {
  auto args = stdlib_call(v, "fractions", "Fraction", "fractions.Fraction");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "Fraction"); !ok) return ok.error();
  py_fraction f;
  if (args->size() == 1 && (*args)[0].is(kind::str)) {
    // 3.8-3.10: Fraction.__reduce__ passed str(self), 'n/d' or 'n'.
    const std::string_view s = (*args)[0].as_str();
    const auto slash = s.find('/');
    const std::string_view num = s.substr(0, slash), den = slash == std::string_view::npos ? std::string_view("1") : s.substr(slash + 1);
    auto parse = [](std::string_view t, std::int64_t& out) {
      const auto r = std::from_chars(t.data(), t.data() + t.size(), out);
      return r.ec == std::errc() && r.ptr == t.data() + t.size() && !t.empty();
    };
    if (!parse(num, f.numerator) || !parse(den, f.denominator)) return mismatch((*args)[0], "Fraction text is not 'n/d' in 64 bits");
  } else if (args->size() == 2) {
    auto n = stdlib_int((*args)[0], "Fraction numerator");
    auto d = stdlib_int((*args)[1], "Fraction denominator");
    if (!n) return n.error();
    if (!d) return d.error();
    f.numerator = *n;
    f.denominator = *d;
  } else {
    return mismatch(*args, "Fraction arguments are not (numerator, denominator)");
  }
  if (f.denominator <= 0 || std::gcd(f.numerator, f.denominator) != 1) return mismatch(*args, "Fraction not in lowest terms");
  return f;
}

void codec<py_uuid>::encode(typed_encoder& e, const py_uuid& u) {
  // copyreg's __reduce_ex__ for a class with __getstate__: NEWOBJ from protocol 2, else
  // copyreg._reconstructor(cls, object, None); then the state dict.
  if (e.protocol() >= 2) {
    e.global("uuid", "UUID");
    e.boundary();
    empty_tuple(e);
    e.newobj_done();
  } else {
    e.global("copyreg", "_reconstructor");
    e.boundary();
    e.begin_tuple(3);
    e.boundary();
    e.global("uuid", "UUID");
    e.boundary();
    e.global("builtins", "object");
    e.boundary();
    e.none();
    e.end_tuple(3);
    e.reduce_done();
  }
  e.boundary();
  std::array<std::byte, 17> le{};  // little-endian with a zero sign byte
  for (std::size_t i = 0; i < 16; ++i) le[i] = static_cast<std::byte>(u.bytes[15 - i]);
  e.dict(u.is_safe ? 2 : 1, [&](std::size_t i) {
    if (i == 0) {
      e.str("int");
      e.boundary();
      e.integer_bytes(le);
    } else {
      e.str("is_safe");
      e.boundary();
      e.integer(*u.is_safe);
    }
  });
  e.build_done();
}

result<py_uuid> codec<py_uuid>::decode(value v) {
  bool ok = false;
  if (v.valid() && v.is(kind::object) && v.callable().is(kind::global)) {
    const value c = v.callable(), args = v.args();
    if (v.how() == call_kind::newobj && c.mapped_module() == "uuid" && c.mapped_name() == "UUID" && args.is(kind::tuple) && args.size() == 0) ok = true;
    if (v.how() == call_kind::reduce && c.mapped_module() == "copyreg" && c.mapped_name() == "_reconstructor" && args.is(kind::tuple) &&
        args.size() == 3 && args[0].is(kind::global) && args[0].mapped_module() == "uuid" && args[0].mapped_name() == "UUID" &&
        args[1].is(kind::global) && args[1].mapped_module() == "builtins" && args[1].mapped_name() == "object" && args[2].is_none())
      ok = true;
  }
  if (!ok) return mismatch(v, "expected uuid.UUID, found " + (v.valid() ? std::string(kind_name(v.kind())) : std::string("nothing")));
  const auto ops = v.ops();
  if (ops.size() != 1 || ops[0].kind != op_kind::build || !ops[0].values[0].is(kind::dict))
    return mismatch(v, "uuid.UUID without exactly one BUILD of its state dict");
  const value state = ops[0].values[0];
  const value n = state.find("int");
  if (!n.valid() || !n.is(kind::integer)) return mismatch(state, "uuid.UUID state without an int");
  const std::string le = n.int_bytes();
  if (le.size() > 17 || (static_cast<unsigned char>(le.back()) & 0x80) || (le.size() == 17 && le.back() != '\0'))
    return mismatch(n, "uuid.UUID int outside 0 .. 2**128-1");
  py_uuid u;
  for (std::size_t i = 0; i < 16 && i < le.size(); ++i) u.bytes[15 - i] = static_cast<std::uint8_t>(le[i]);
  const value safe = state.find("is_safe");
  if (safe.valid() && !safe.is_none()) {
    auto s = stdlib_int(safe, "uuid.UUID is_safe");
    if (!s) return s.error();
    u.is_safe = *s;
  }
  if (state.size() != (safe.valid() ? 2u : 1u)) return mismatch(state, "uuid.UUID state with keys other than int and is_safe");
  return u;
}

void codec<py_range>::encode(typed_encoder& e, const py_range& r) {
  if (r.step == 0) return e.fail("range() arg 3 must not be zero");
  e.global("builtins", "range");
  e.boundary();
  e.begin_tuple(3);
  e.boundary();
  e.integer(r.start);
  e.boundary();
  e.integer(r.stop);
  e.boundary();
  e.integer(r.step);
  e.end_tuple(3);
  e.reduce_done();
}

result<py_range> codec<py_range>::decode(value v) {
  auto args = stdlib_call(v, "builtins", "range", "builtins.range");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "range"); !ok) return ok.error();
  if (args->size() < 1 || args->size() > 3) return mismatch(*args, "range arguments are not (start, stop, step)");
  std::int64_t x[3] = {0, 0, 1};
  for (std::size_t i = 0; i < args->size(); ++i) {
    auto n = stdlib_int((*args)[i], "range argument");
    if (!n) return n.error();
    x[i] = *n;
  }
  if (args->size() == 1) return py_range{0, x[0], 1};
  if (x[2] == 0) return mismatch(*args, "range() arg 3 must not be zero");
  return py_range{x[0], x[1], x[2]};
}

void codec<py_slice>::encode(typed_encoder& e, const py_slice& s) {
  e.global("builtins", "slice");
  e.boundary();
  e.begin_tuple(3);
  for (const auto& x : {s.start, s.stop, s.step}) {
    e.boundary();
    if (x) e.integer(*x);
    else e.none();
  }
  e.end_tuple(3);
  e.reduce_done();
}

result<py_slice> codec<py_slice>::decode(value v) {
  auto args = stdlib_call(v, "builtins", "slice", "builtins.slice");
  if (!args) return args.error();
  if (auto ok = no_ops(v, "slice"); !ok) return ok.error();
  if (args->size() < 1 || args->size() > 3) return mismatch(*args, "slice arguments are not (start, stop, step)");
  std::optional<std::int64_t> x[3];
  for (std::size_t i = 0; i < args->size(); ++i) {
    if ((*args)[i].is_none()) continue;
    auto n = stdlib_int((*args)[i], "slice argument");
    if (!n) return n.error();
    x[i] = *n;
  }
  if (args->size() == 1) return py_slice{std::nullopt, x[0], std::nullopt};
  return py_slice{x[0], x[1], x[2]};
}

void codec<py_global>::encode(typed_encoder& e, const py_global& g) { e.global(g.module, g.name); }

result<py_global> codec<py_global>::decode(value v) { return detail::stdlib_global(v); }

}  // namespace brine
