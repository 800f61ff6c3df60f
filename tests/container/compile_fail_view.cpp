// Compile-fail check (tests/container/CMakeLists.txt): a view of a temporary container would
// dangle (the temporary may own the last reference to the mapping), so container's view accessors
// delete their && overloads. Built with BRINE_COMPILE_FAIL=1 this file must fail to compile, with
// a diagnostic about a deleted function; built without it (the control) it must compile.
#include "brine/container.hpp"

int main() {
#if BRINE_COMPILE_FAIL
  const auto pickle = brine::open_container("any.brc").value().pickle();  // error: deleted
#else
  auto opened = brine::open_container("any.brc");
  if (!opened) return 0;
  const auto pickle = opened.value().pickle();  // fine: the container outlives the view
#endif
  return static_cast<int>(pickle.size() & 1);
}
