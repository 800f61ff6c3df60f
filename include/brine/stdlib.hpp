// brine/stdlib.hpp — Python standard-library types as C++ values, in both directions.
//
// Each type below has a brine::codec, so brine::pickle(x, options) writes exactly what CPython's
// pickle.dumps writes for the equivalent Python object at the same protocol (checked byte for byte
// against CPython 3.11 at protocols 0 to 5), and brine::from_value<T>(value) reads the recorded
// call back without executing anything:
//
//   std::complex<double>   builtins.complex(real, imag)                  copyreg's pickle_complex
//   py_date                datetime.date(b'\x07\xe4\x01\x02')            packed state (below)
//   py_time                datetime.time(state[, tzinfo])
//   py_datetime            datetime.datetime(state[, tzinfo])
//   py_timedelta           datetime.timedelta(days, seconds, microseconds)
//   py_timezone            datetime.timezone(timedelta[, name])          timezone.utc included
//   py_decimal             decimal.Decimal('1.50')                       the exact text
//   py_fraction            fractions.Fraction(1, 3)                      3.11+; reads 3.8-3.10's '1/3'
//   py_uuid                uuid.UUID: NEWOBJ + {'int': n[, 'is_safe': v]}; below protocol 2
//                          copyreg._reconstructor(uuid.UUID, object, None)
//   py_ordered_dict<K,V>   collections.OrderedDict() + SETITEM(S)
//   py_defaultdict<K,V>    collections.defaultdict(factory) + SETITEM(S), factory a global or none
//   py_deque<T>            collections.deque() or deque((), maxlen) + APPEND(S)
//   py_counter<K>          collections.Counter({key: count, ...})
//   py_range               builtins.range(start, stop, step)              __builtin__.xrange below 3
//   py_slice               builtins.slice(start, stop, step), each an int or None
//   py_enum<T>             module.Class(value), or getattr(module.Class, name): an enum member
//
// Packed datetime states (CPython Modules/_datetimemodule.c): date = year (2 bytes, big-endian),
// month, day; time = hour, minute, second, microsecond (3 bytes, big-endian); datetime = the date
// bytes then the time bytes. `fold` is bit 7 of the time's hour byte or the datetime's month byte,
// and CPython writes it at protocol 4 and above only (it is lost below: an equal object, as CPython
// does). A Python 2 state (a str of code points below 256, read with py2_encoding::latin1) reads too.
//
// Errors: from_value returns errc::type_mismatch naming what was expected and found, with the
// node's offset (a different callable, a state of the wrong size, an out-of-range field, an
// unsupported tzinfo such as zoneinfo.ZoneInfo). Encoding a value CPython could not construct
// (month 13, a timezone offset of 24 hours or more) fails with errc::bad_argument.
//
// Containers' K, V and T are any type brine converts (brine::value keeps elements as document
// handles on decode; such containers cannot be encoded). Integers are int64: a Fraction or range
// beyond that range is a type_mismatch on decode.
//
// Thread-safety: plain values and stateless functions.
#pragma once

#include <array>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "brine/convert.hpp"
#include "brine/document.hpp"
#include "brine/error.hpp"

namespace brine {

/// A reference to a class or function: module and qualified name as Python 3 names them.
struct py_global {
  std::string module;
  std::string name;
  bool operator==(const py_global&) const = default;
};

/// datetime.timedelta, normalized as CPython keeps it: 0 <= seconds < 86400,
/// 0 <= microseconds < 1000000, |days| <= 999999999.
struct py_timedelta {
  std::int64_t days = 0;
  std::int32_t seconds = 0;
  std::int32_t microseconds = 0;
  bool operator==(const py_timedelta&) const = default;
};

/// datetime.timezone: a fixed offset strictly between -24 and +24 hours, and an optional name.
struct py_timezone {
  py_timedelta offset;
  std::optional<std::string> name;
  bool operator==(const py_timezone&) const = default;
};

struct py_date {
  int year = 1, month = 1, day = 1;
  bool operator==(const py_date&) const = default;
};

struct py_time {
  int hour = 0, minute = 0, second = 0, microsecond = 0;
  int fold = 0;
  std::optional<py_timezone> tzinfo;
  bool operator==(const py_time&) const = default;
};

struct py_datetime {
  int year = 1, month = 1, day = 1, hour = 0, minute = 0, second = 0, microsecond = 0;
  int fold = 0;
  std::optional<py_timezone> tzinfo;
  bool operator==(const py_datetime&) const = default;
};

/// decimal.Decimal by its exact text ('1.50', '-Infinity', 'NaN', '1E+3').
struct py_decimal {
  std::string text;
  bool operator==(const py_decimal&) const = default;
};

/// fractions.Fraction in lowest terms with a positive denominator (as Python keeps it).
struct py_fraction {
  std::int64_t numerator = 0;
  std::int64_t denominator = 1;
  bool operator==(const py_fraction&) const = default;
};

/// uuid.UUID: the 16 bytes of UUID.bytes (big-endian) and is_safe's value (0 safe, -1 unsafe,
/// none for SafeUUID.unknown).
struct py_uuid {
  std::array<std::uint8_t, 16> bytes{};
  std::optional<std::int64_t> is_safe;
  bool operator==(const py_uuid&) const = default;
};

template <class K, class V>
struct py_ordered_dict {
  std::vector<std::pair<K, V>> items;
  bool operator==(const py_ordered_dict&) const = default;
};

template <class K, class V>
struct py_defaultdict {
  std::optional<py_global> default_factory;  ///< e.g. {"builtins", "list"}; none for defaultdict(None)
  std::vector<std::pair<K, V>> items;
  bool operator==(const py_defaultdict&) const = default;
};

template <class T>
struct py_deque {
  std::vector<T> items;
  std::optional<std::int64_t> maxlen;
  bool operator==(const py_deque&) const = default;
};

/// collections.Counter, in insertion order.
template <class K>
struct py_counter {
  std::vector<std::pair<K, std::int64_t>> items;
  bool operator==(const py_counter&) const = default;
};

struct py_range {
  std::int64_t start = 0, stop = 0, step = 1;
  bool operator==(const py_range&) const = default;
};

struct py_slice {
  std::optional<std::int64_t> start, stop, step;
  bool operator==(const py_slice&) const = default;
};

/// An enum member, in whichever of enum's three pickle forms it came: by value,
/// module.qualname(value) (Enum.__reduce_ex__); by name, getattr(module.qualname, name)
/// (enum.pickle_by_enum_name: CPython 3.11.2's stdlib enums such as http.HTTPStatus); or as a module
/// global, module.name (enum.pickle_by_global_name: signal.SIGINT; qualname is then empty).
/// Encoding writes the value when there is one, else the name (a global when qualname is empty);
/// decoding fills what the pickle holds.
template <class T>
struct py_enum {
  std::string module;
  std::string qualname;
  std::optional<T> value;
  std::optional<std::string> name;
  bool operator==(const py_enum&) const = default;
};

// ------------------------------------------------------------------------------------------------
// Implementation details below.

namespace detail {

/// `v` as a call of module.name (REDUCE, or `how`): its argument tuple, else a type_mismatch
/// naming `what`.
result<value> stdlib_call(value v, std::string_view module, std::string_view name, std::string_view what,
                          call_kind how = call_kind::reduce);
/// The pairs SETITEM(S) applied to `v` (and nothing else), or an error.
result<std::vector<std::pair<value, value>>> stdlib_setitems(value v, std::string_view what);
/// The items APPEND(S) applied to `v` (and nothing else), or an error.
result<std::vector<value>> stdlib_appends(value v, std::string_view what);
/// A global as py_global, or an error.
result<py_global> stdlib_global(value v);
/// An int64 or an error naming `what`.
result<std::int64_t> stdlib_int(value v, std::string_view what);

template <class T> result<T> stdlib_item(value v) {
  if constexpr (std::is_same_v<T, value>) return v;
  else return from_value<T>(v);
}

/// CPython's batch_dict / batch_list over an iterator (OrderedDict, defaultdict, deque): full
/// batches of 1000 as MARK ... SETITEMS/APPENDS, then the rest: one item alone (SETITEM / APPEND),
/// two or more in a batch, none nothing; protocol 0 one at a time.
template <class F> void stdlib_iter_batches(typed_encoder& e, std::size_t n, bool dict, F&& item) {
  constexpr int list_batches = 1, dict_batches = 2;  // typed_encoder's container codes
  const int container = dict ? dict_batches : list_batches;
  const std::size_t batch = e.protocol() == 0 ? 1 : 1000;
  for (std::size_t from = 0; from < n;) {
    const std::size_t k = std::min(batch, n - from);
    e.batch_open(k, 0, container);
    for (std::size_t i = 0; i < k; ++i) {
      e.boundary();
      item(from + i);
    }
    e.batch_close(k, 0, k, container);
    from += k;
  }
}

}  // namespace detail

#define BRINE_STDLIB_CODEC(T)                        \
  template <>                                        \
  struct codec<T> {                                  \
    static void encode(typed_encoder& e, const T& x); \
    static result<T> decode(value v);                \
  }

BRINE_STDLIB_CODEC(std::complex<double>);
BRINE_STDLIB_CODEC(py_timedelta);
BRINE_STDLIB_CODEC(py_timezone);
BRINE_STDLIB_CODEC(py_date);
BRINE_STDLIB_CODEC(py_time);
BRINE_STDLIB_CODEC(py_datetime);
BRINE_STDLIB_CODEC(py_decimal);
BRINE_STDLIB_CODEC(py_fraction);
BRINE_STDLIB_CODEC(py_uuid);
BRINE_STDLIB_CODEC(py_range);
BRINE_STDLIB_CODEC(py_slice);
BRINE_STDLIB_CODEC(py_global);
#undef BRINE_STDLIB_CODEC

template <class K, class V>
struct codec<py_ordered_dict<K, V>> {
  static void encode(typed_encoder& e, const py_ordered_dict<K, V>& d) {
    e.global("collections", "OrderedDict");
    e.boundary();
    e.tuple(0, [](std::size_t) {});
    e.reduce_done();
    detail::stdlib_iter_batches(e, d.items.size(), true, [&](std::size_t i) {
      e.value(d.items[i].first);
      e.boundary();
      e.value(d.items[i].second);
    });
  }
  static result<py_ordered_dict<K, V>> decode(value v) {
    auto args = detail::stdlib_call(v, "collections", "OrderedDict", "collections.OrderedDict");
    if (!args) return args.error();
    py_ordered_dict<K, V> out;
    // Python 2's OrderedDict.__reduce__ passed the items as a list of [key, value] lists.
    if (args->size() == 1 && (*args)[0].is(kind::list)) {
      for (value kv : (*args)[0].items()) {
        if (!(kv.is(kind::list) || kv.is(kind::tuple)) || kv.size() != 2) return detail::conversion_error(kv, "[key, value] pair");
        auto k = detail::stdlib_item<K>(kv[0]);
        if (!k) return k.error();
        auto x = detail::stdlib_item<V>(kv[1]);
        if (!x) return x.error();
        out.items.emplace_back(std::move(*k), std::move(*x));
      }
    } else if (args->size() != 0) {
      return detail::conversion_error(*args, "OrderedDict arguments ()");
    }
    auto pairs = detail::stdlib_setitems(v, "collections.OrderedDict");
    if (!pairs) return pairs.error();
    for (auto& [kv, vv] : *pairs) {
      auto k = detail::stdlib_item<K>(kv);
      if (!k) return k.error();
      auto x = detail::stdlib_item<V>(vv);
      if (!x) return x.error();
      out.items.emplace_back(std::move(*k), std::move(*x));
    }
    return out;
  }
};

template <class K, class V>
struct codec<py_defaultdict<K, V>> {
  static void encode(typed_encoder& e, const py_defaultdict<K, V>& d) {
    e.global("collections", "defaultdict");
    e.boundary();
    if (d.default_factory) {
      e.begin_tuple(1);
      e.boundary();
      e.global(d.default_factory->module, d.default_factory->name);
      e.end_tuple(1);
    } else {
      e.tuple(0, [](std::size_t) {});
    }
    e.reduce_done();
    detail::stdlib_iter_batches(e, d.items.size(), true, [&](std::size_t i) {
      e.value(d.items[i].first);
      e.boundary();
      e.value(d.items[i].second);
    });
  }
  static result<py_defaultdict<K, V>> decode(value v) {
    auto args = detail::stdlib_call(v, "collections", "defaultdict", "collections.defaultdict");
    if (!args) return args.error();
    py_defaultdict<K, V> out;
    if (args->size() > 1) return detail::conversion_error(*args, "defaultdict arguments (factory,)");
    if (args->size() == 1 && !(*args)[0].is_none()) {
      auto g = detail::stdlib_global((*args)[0]);
      if (!g) return g.error();
      out.default_factory = std::move(*g);
    }
    auto pairs = detail::stdlib_setitems(v, "collections.defaultdict");
    if (!pairs) return pairs.error();
    for (auto& [kv, vv] : *pairs) {
      auto k = detail::stdlib_item<K>(kv);
      if (!k) return k.error();
      auto x = detail::stdlib_item<V>(vv);
      if (!x) return x.error();
      out.items.emplace_back(std::move(*k), std::move(*x));
    }
    return out;
  }
};

template <class T>
struct codec<py_deque<T>> {
  static void encode(typed_encoder& e, const py_deque<T>& d) {
    e.global("collections", "deque");
    e.boundary();
    if (d.maxlen) {
      e.begin_tuple(2);
      e.boundary();
      e.tuple(0, [](std::size_t) {});
      e.boundary();
      e.integer(*d.maxlen);
      e.end_tuple(2);
    } else {
      e.tuple(0, [](std::size_t) {});
    }
    e.reduce_done();
    detail::stdlib_iter_batches(e, d.items.size(), false, [&](std::size_t i) { e.value(d.items[i]); });
  }
  static result<py_deque<T>> decode(value v) {
    auto args = detail::stdlib_call(v, "collections", "deque", "collections.deque");
    if (!args) return args.error();
    py_deque<T> out;
    // 3.11 writes () or ((), maxlen) and appends; earlier versions passed (list[, maxlen]).
    if (args->size() > 2) return detail::conversion_error(*args, "deque arguments (iterable, maxlen)");
    if (args->size() >= 1) {
      const value first = (*args)[0];
      if (!(first.is(kind::list) || first.is(kind::tuple))) return detail::conversion_error(first, "deque items");
      for (value x : first.items()) {
        auto t = detail::stdlib_item<T>(x);
        if (!t) return t.error();
        out.items.push_back(std::move(*t));
      }
    }
    if (args->size() == 2 && !(*args)[1].is_none()) {
      auto m = detail::stdlib_int((*args)[1], "deque maxlen");
      if (!m) return m.error();
      out.maxlen = *m;
    }
    auto items = detail::stdlib_appends(v, "collections.deque");
    if (!items) return items.error();
    for (value x : *items) {
      auto t = detail::stdlib_item<T>(x);
      if (!t) return t.error();
      out.items.push_back(std::move(*t));
    }
    return out;
  }
};

template <class K>
struct codec<py_counter<K>> {
  static void encode(typed_encoder& e, const py_counter<K>& c) {
    e.global("collections", "Counter");
    e.boundary();
    e.begin_tuple(1);
    e.boundary();
    e.dict(c.items.size(), [&](std::size_t i) {
      e.value(c.items[i].first);
      e.boundary();
      e.integer(c.items[i].second);
    });
    e.end_tuple(1);
    e.reduce_done();
  }
  static result<py_counter<K>> decode(value v) {
    auto args = detail::stdlib_call(v, "collections", "Counter", "collections.Counter");
    if (!args) return args.error();
    py_counter<K> out;
    if (args->size() != 1 || !(*args)[0].is(kind::dict)) return detail::conversion_error(*args, "Counter arguments ({key: count},)");
    const auto r = (*args)[0].pairs();
    for (std::size_t i = 0; i + 1 < r.size(); i += 2) {
      auto k = detail::stdlib_item<K>(r[i]);
      if (!k) return k.error();
      auto n = detail::stdlib_int(r[i + 1], "Counter count");
      if (!n) return n.error();
      out.items.emplace_back(std::move(*k), *n);
    }
    auto extra = detail::stdlib_setitems(v, "collections.Counter");
    if (!extra) return extra.error();
    if (!extra->empty()) return detail::conversion_error(v, "Counter without SETITEMS");
    return out;
  }
};

template <class T>
struct codec<py_enum<T>> {
  static void encode(typed_encoder& e, const py_enum<T>& m) {
    if (!m.value && !m.name) return e.fail("enum member without a value or a name");
    if (!m.value && m.qualname.empty()) return e.global(m.module, *m.name);
    if (!m.value) e.global("builtins", "getattr");
    else e.global(m.module, m.qualname);
    e.boundary();
    const std::size_t n = m.value ? 1 : 2;
    e.begin_tuple(n);
    e.boundary();
    if (m.value) {
      e.value(*m.value);
    } else {
      e.global(m.module, m.qualname);
      e.boundary();
      e.str(*m.name);
    }
    e.end_tuple(n);
    e.reduce_done();
  }
  static result<py_enum<T>> decode(value v) {
    if (v.is(kind::global)) return py_enum<T>{std::string(v.mapped_module()), std::string(), std::nullopt, std::string(v.mapped_name())};
    if (!v.is(kind::object) || v.how() != call_kind::reduce || !v.callable().is(kind::global) || !v.ops().empty() ||
        !v.args().is(kind::tuple))
      return detail::conversion_error(v, "enum member (its class called with its value, or getattr(class, name))");
    const value c = v.callable(), args = v.args();
    if (c.mapped_module() == "builtins" && c.mapped_name() == "getattr") {
      if (args.size() != 2 || !args[0].is(kind::global) || !args[1].is(kind::str))
        return detail::conversion_error(v, "enum member getattr(class, name)");
      return py_enum<T>{std::string(args[0].mapped_module()), std::string(args[0].mapped_name()), std::nullopt,
                        std::string(args[1].as_str())};
    }
    if (args.size() != 1) return detail::conversion_error(v, "enum member (its class called with its value)");
    auto x = detail::stdlib_item<T>(args[0]);
    if (!x) return x.error();
    return py_enum<T>{std::string(c.mapped_module()), std::string(c.mapped_name()), std::move(*x), std::nullopt};
  }
};

}  // namespace brine
