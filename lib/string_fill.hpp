// lib/string_fill.hpp — a new std::string's bytes written in place, without zero-filling them first
// and without staging them elsewhere (lib/string_fill.cpp).
//
// std::string::resize zero-fills the room it adds, and bytes written past size() are not part of
// the string, so a C++20 encoder writing a large pickle must either zero-fill the output first or
// write it elsewhere and copy it: a second pass over every byte. C++23's resize_and_overwrite hands
// the string's own storage to a callback that writes it and says how much it wrote. brine is a
// C++20 library; string_fill.cpp alone is compiled as C++23 when the compiler can (CMakeLists.txt)
// and uses resize_and_overwrite when its standard library has it. Elsewhere string_fill_in_place
// is false and the encoders keep their staging buffer (writer.hpp).
#pragma once

#include <cstddef>
#include <string>

namespace brine::detail {

/// Whether fill_string writes into the string's storage (else it is never called).
bool string_fill_in_place() noexcept;

/// Replaces `s` with what `fill(context, p, n)` writes at p, n >= `size` bytes of `s`'s own
/// storage; fill returns how many of them it wrote (<= n), which becomes s.size(). An exception
/// thrown by `fill` propagates after `s` was left empty. Precondition: string_fill_in_place().
void fill_string(std::string& s, std::size_t size, std::size_t (*fill)(void* context, char* p, std::size_t n),
                 void* context);

/// fill_string with a callable `f(char* p, std::size_t n) -> std::size_t`.
template <class F>
void fill_string(std::string& s, std::size_t size, F&& f) {
  fill_string(
      s, size, [](void* c, char* p, std::size_t n) -> std::size_t { return (*static_cast<F*>(c))(p, n); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace brine::detail
