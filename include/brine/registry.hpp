// brine/registry.hpp — reconstructors chosen by global name, added by the user without touching
// brine.
//
// A decoded pickle names the classes and functions that built its objects; CPython's unpickler
// imports and calls them. brine never does: a `registry` maps a global (module, name) to a C++
// handler that turns the recorded object into a C++ value, and an object whose global has no
// handler is an error. Nothing is imported, looked up dynamically or executed for a global that
// was not registered, so the registry is also an allow-list.
//
//   brine::registry reg = brine::registry::with_defaults();   // numpy and the standard library
//   reg.add<point>("geometry", "Point");                       // brine::codec<point>::decode
//   reg.add("geometry", "Segment", [](brine::value v) -> brine::result<std::any> {
//     ... read v.args(), v.ops() ...; return std::any(segment{...});
//   });
//   auto x = reg.reconstruct(doc.root());                      // result<std::any>
//   auto p = reg.reconstruct_as<point>(doc.root());            // result<point>
//
// Which global identifies a value (`key_of`, names after fix_imports, so protocol-2 pickles of
// `__builtin__.xrange` find the handler of `builtins.range`):
//   * a recorded call (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ): its callable, when that is a global;
//   * copyreg._reconstructor(cls, base, state) and copyreg.__newobj__(cls, ...) (how protocols 0-1
//     and the Python pickler write plain instances): the class `cls`;
//   * builtins.getattr(cls, 'NAME') (enum members pickled by name): the class `cls`;
//   * a global itself (a class or function, an enum member pickled as a module global).
// Anything else (an int, a list, ...) has no key: reconstruct returns errc::type_mismatch.
//
// Defaults (`with_defaults`): the numpy forms of brine/numpy.hpp (`_reconstruct`, `_frombuffer`,
// `scalar` under numpy.core and numpy._core: numpy::ndarray; numpy.dtype: numpy::dtype) and the
// standard-library types of brine/stdlib.hpp (std::complex<double>, py_date, py_time,
// py_datetime, py_timedelta, py_timezone, py_decimal, py_fraction, py_uuid, py_range, py_slice,
// and the containers with brine::value elements: py_ordered_dict<value, value>,
// py_defaultdict<value, value>, py_deque<value>, py_counter<value>). Enum members cannot have a
// default (any class may be an enum): register them as `reg.add<py_enum<int>>("http", "HTTPStatus")`.
//
// Errors: errc::type_mismatch "no reconstructor registered for module.name" (offset = the
// object's), or whatever the handler returns. reconstruct_as<T> adds errc::type_mismatch when the
// handler's value is not a T.
//
// Lifetime: handlers receive values of the caller's document; results that view it (numpy
// arrays, brine::value elements) are valid while the document lives.
//
// Thread-safety: `add` and `remove` modify the registry; `find`, `reconstruct` and
// `reconstruct_as` are const and may run concurrently once registration is done (handlers must
// then be safe to call concurrently: the defaults are).
#pragma once

#include <any>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "brine/convert.hpp"
#include "brine/document.hpp"
#include "brine/error.hpp"

namespace brine {

class registry {
 public:
  using handler = std::function<result<std::any>(value)>;

  /// An empty registry: every object is unregistered.
  registry() = default;
  /// A registry holding the numpy and standard-library handlers listed above.
  static registry with_defaults();

  /// Register (or replace) the handler for objects whose key is module.name.
  void add(std::string module, std::string name, handler h);
  /// Register brine::from_value<T> (so brine::codec<T>::decode when T has one) for module.name.
  template <class T> void add(std::string module, std::string name) {
    add(std::move(module), std::move(name), [](value v) -> result<std::any> {
      auto x = from_value<T>(v);
      if (!x) return x.error();
      return std::any(std::move(*x));
    });
  }
  /// Remove module.name's handler; false when there was none.
  bool remove(std::string_view module, std::string_view name);
  /// module.name's handler, or null.
  const handler* find(std::string_view module, std::string_view name) const;
  std::size_t size() const noexcept { return handlers_.size(); }

  /// The (module, name) that identifies `v` (see above), or nothing.
  static std::optional<std::pair<std::string_view, std::string_view>> key_of(value v);

  /// Run the handler of v's key; an error when there is none (nothing is executed).
  result<std::any> reconstruct(value v) const;
  /// reconstruct, then the value as a T.
  template <class T> result<T> reconstruct_as(value v) const {
    auto x = reconstruct(v);
    if (!x) return x.error();
    if (T* p = std::any_cast<T>(&*x)) return std::move(*p);
    return detail::conversion_error(v, "a reconstructor returning the requested C++ type");
  }

 private:
  struct key_less {
    using is_transparent = void;
    template <class A, class B> bool operator()(const A& a, const B& b) const {
      return std::pair<std::string_view, std::string_view>(a.first, a.second) <
             std::pair<std::string_view, std::string_view>(b.first, b.second);
    }
  };
  std::map<std::pair<std::string, std::string>, handler, key_less> handlers_;
};

}  // namespace brine
