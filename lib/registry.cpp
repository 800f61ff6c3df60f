// lib/registry.cpp — brine/registry.hpp: handlers by global name, and the default set.
#include "brine/registry.hpp"

#include "brine/numpy.hpp"
#include "brine/stdlib.hpp"

namespace brine {

void registry::add(std::string module, std::string name, handler h) {
  handlers_.insert_or_assign(std::pair<std::string, std::string>(std::move(module), std::move(name)), std::move(h));
}

bool registry::remove(std::string_view module, std::string_view name) {
  const auto it = handlers_.find(std::pair<std::string_view, std::string_view>(module, name));
  if (it == handlers_.end()) return false;
  handlers_.erase(it);
  return true;
}

const registry::handler* registry::find(std::string_view module, std::string_view name) const {
  const auto it = handlers_.find(std::pair<std::string_view, std::string_view>(module, name));
  return it == handlers_.end() ? nullptr : &it->second;
}

std::optional<std::pair<std::string_view, std::string_view>> registry::key_of(value v) {
  using key = std::pair<std::string_view, std::string_view>;
  if (!v.valid()) return std::nullopt;
  if (v.is(kind::global)) return key(v.mapped_module(), v.mapped_name());
  if (!v.is(kind::object)) return std::nullopt;
  const value c = v.callable();
  if (!c.is(kind::global)) return std::nullopt;
  const value args = v.args();
  const bool class_first = (c.mapped_module() == "copyreg" && (c.mapped_name() == "_reconstructor" || c.mapped_name() == "__newobj__")) ||
                           (c.mapped_module() == "builtins" && c.mapped_name() == "getattr");
  if (class_first && v.how() == call_kind::reduce) {
    if (args.is(kind::tuple) && args.size() >= 1 && args[0].is(kind::global)) return key(args[0].mapped_module(), args[0].mapped_name());
    return std::nullopt;
  }
  return key(c.mapped_module(), c.mapped_name());
}

result<std::any> registry::reconstruct(value v) const {
  const auto k = key_of(v);
  if (!k) return detail::conversion_error(v, "an object made by a global (a reconstructor key)");
  const handler* h = find(k->first, k->second);
  if (h == nullptr) {
    brine::error e;
    e.code = errc::type_mismatch;
    e.offset = v.offset();
    e.message = "no reconstructor registered for " + std::string(k->first) + "." + std::string(k->second) + " at offset " +
                std::to_string(v.offset());
    return e;
  }
  return (*h)(v);
}

registry registry::with_defaults() {
  registry r;
  for (const char* core : {"numpy.core", "numpy._core"}) {
    const std::string c(core);
    r.add<numpy::ndarray>(c + ".multiarray", "_reconstruct");
    r.add<numpy::ndarray>(c + ".multiarray", "scalar");
    r.add<numpy::ndarray>(c + ".numeric", "_frombuffer");
  }
  r.add<numpy::ndarray>("numpy.core._internal", "_reconstruct");
  r.add<numpy::dtype>("numpy", "dtype");
  r.add<std::complex<double>>("builtins", "complex");
  r.add<py_date>("datetime", "date");
  r.add<py_time>("datetime", "time");
  r.add<py_datetime>("datetime", "datetime");
  r.add<py_timedelta>("datetime", "timedelta");
  r.add<py_timezone>("datetime", "timezone");
  r.add<py_decimal>("decimal", "Decimal");
  r.add<py_fraction>("fractions", "Fraction");
  r.add<py_uuid>("uuid", "UUID");
  r.add<py_ordered_dict<value, value>>("collections", "OrderedDict");
  r.add<py_defaultdict<value, value>>("collections", "defaultdict");
  r.add<py_deque<value>>("collections", "deque");
  r.add<py_counter<value>>("collections", "Counter");
  r.add<py_range>("builtins", "range");
  r.add<py_slice>("builtins", "slice");
  return r;
}

}  // namespace brine
