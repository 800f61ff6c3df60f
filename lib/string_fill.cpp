// lib/string_fill.cpp — fill_string (lib/string_fill.hpp). Compiled as C++23 where the compiler
// takes it (CMakeLists.txt), for std::string::resize_and_overwrite; a C++20 build of this file
// reports that it cannot fill in place, and the encoders stage and copy as before.
#include "string_fill.hpp"

#include <exception>
#include <string>

namespace brine::detail {

#if defined(__cpp_lib_string_resize_and_overwrite) && __cpp_lib_string_resize_and_overwrite >= 202110L

bool string_fill_in_place() noexcept { return true; }

void fill_string(std::string& s, std::size_t size, std::size_t (*fill)(void*, char*, std::size_t), void* context) {
  s.clear();
  std::exception_ptr failure;
  // resize_and_overwrite's callback must not throw (the string's state would be undefined): an
  // exception is caught here, the string left empty, and rethrown once the call has returned.
  s.resize_and_overwrite(size, [&](char* p, std::size_t n) noexcept -> std::size_t {
    try {
      const std::size_t wrote = fill(context, p, n);
      return wrote <= n ? wrote : 0;
    } catch (...) {
      failure = std::current_exception();
      return 0;
    }
  });
  if (failure) std::rethrow_exception(failure);
}

#else

bool string_fill_in_place() noexcept { return false; }

void fill_string(std::string& s, std::size_t size, std::size_t (*fill)(void*, char*, std::size_t), void* context) {
  // Not used when string_fill_in_place() is false; correct all the same (zero-fills first).
  s.assign(size, '\0');
  try {
    const std::size_t wrote = fill(context, s.data(), s.size());
    s.resize(wrote <= s.size() ? wrote : 0);
  } catch (...) {
    s.clear();
    throw;
  }
}

#endif

}  // namespace brine::detail
