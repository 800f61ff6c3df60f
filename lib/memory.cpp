// lib/memory.cpp — memory advice and retention for the large tables of brine/detail/pod_vector.hpp.
#include "brine/detail/pod_vector.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

#include "brine/document.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace brine::detail {

#if defined(__linux__) && (defined(MADV_HUGEPAGE) || defined(MADV_POPULATE_WRITE))
namespace {
// The whole `align`-sized blocks inside [p, p + bytes): [first, last), empty when first >= last.
// Advice is given for those only; a kernel without the feature says EINVAL, and nothing changes.
struct blocks {
  std::uintptr_t first, last;
};
blocks blocks_inside(const void* p, std::size_t bytes, std::uintptr_t align) noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  return {(begin + align - 1) & ~(align - 1), (begin + bytes) & ~(align - 1)};
}
}  // namespace
#endif

void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const blocks b = blocks_inside(p, bytes, std::uintptr_t{2} << 20);
  if (b.first < b.last) (void)madvise(reinterpret_cast<void*>(b.first), b.last - b.first, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

void prefault_for_writing(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  // An older kernel: the pages fault in as they are written. The allocator often hands back
  // memory a previous output used, whose pages are all there: populating them again still walks
  // every page (0.08-0.3 ms for 8 MiB on the machine this was measured on), where asking which
  // are resident (mincore) takes 0.01 ms. So only a stretch with a missing page is populated,
  // from that page on.
  constexpr std::uintptr_t page = 4096;
  constexpr std::size_t stretch = 4096;  // pages a mincore call looks at
  const blocks b = blocks_inside(p, bytes, page);
  std::array<unsigned char, stretch> resident;
  for (std::uintptr_t at = b.first, end = b.last; at < end;) {
    const std::size_t pages = std::min<std::size_t>(stretch, (end - at) / page);
    std::size_t first_missing = 0;
    if (mincore(reinterpret_cast<void*>(at), pages * page, resident.data()) == 0)
      while (first_missing < pages && (resident[first_missing] & 1) != 0) ++first_missing;
    if (first_missing < pages)
      (void)madvise(reinterpret_cast<void*>(at + first_missing * page), (pages - first_missing) * page, MADV_POPULATE_WRITE);
    at += pages * page;
  }
#else
  (void)p;
  (void)bytes;
#endif
}

namespace {

// Per thread: a few freed blocks, at most retain_max_bytes in all. A document's tables are freed
// on the thread that destroys it; whichever thread decodes next there takes them.
constexpr std::size_t retain_max_bytes = std::size_t{256} << 20;
constexpr std::size_t retain_slots = 8;

struct retained_blocks {
  struct block {
    void* p = nullptr;
    std::size_t bytes = 0;
    std::size_t element = 0;  // the element size of the table that gave it back
  };
  std::array<block, retain_slots> slots{};
  std::size_t total = 0;

  ~retained_blocks() { clear(); }
  void clear() noexcept {
    for (block& b : slots) {
      std::free(b.p);
      b = block{};
    }
    total = 0;
  }
};

retained_blocks& retained() noexcept {
  thread_local retained_blocks blocks;
  return blocks;
}

}  // namespace

void* take_retained(std::size_t bytes, std::size_t min_bytes, bool largest, std::size_t element, std::size_t& got) noexcept {
  retained_blocks& r = retained();
  retained_blocks::block* best = nullptr;
  const auto distance = [bytes, largest](std::size_t b) { return largest ? SIZE_MAX - b : b > bytes ? b - bytes : bytes - b; };
  // A block of the same element size beats any other; then the closest (or largest).
  const auto better = [&](const retained_blocks::block& b) {
    if (best == nullptr) return true;
    const bool same = b.element == element, best_same = best->element == element;
    if (same != best_same) return same;
    return distance(b.bytes) < distance(best->bytes);
  };
  for (auto& b : r.slots)
    if (b.p != nullptr && b.bytes >= min_bytes && (largest || b.element == element) && better(b)) best = &b;
  if (best == nullptr) return nullptr;
  void* p = best->p;
  got = best->bytes;
  r.total -= best->bytes;
  *best = {};
  return p;
}

void release_block(void* p, std::size_t bytes, std::size_t element) noexcept {
  if (p == nullptr) return;
  retained_blocks& r = retained();
  if (bytes <= retain_max_bytes) {
    // Make room: drop the smallest blocks until this one fits under the cap and a slot is free.
    for (;;) {
      retained_blocks::block* empty = nullptr;
      retained_blocks::block* smallest = nullptr;
      for (auto& b : r.slots) {
        if (b.p == nullptr) empty = empty != nullptr ? empty : &b;
        else if (smallest == nullptr || b.bytes < smallest->bytes) smallest = &b;
      }
      if (empty != nullptr && r.total + bytes <= retain_max_bytes) {
        *empty = {p, bytes, element};
        r.total += bytes;
        return;
      }
      if (smallest == nullptr || smallest->bytes >= bytes) break;  // keep the larger ones
      std::free(smallest->p);
      r.total -= smallest->bytes;
      *smallest = {};
    }
  }
  std::free(p);
}

}  // namespace brine::detail

namespace brine {

namespace detail {
void release_decode_scratch() noexcept;  // lib/decode.cpp
void release_encode_scratch() noexcept;  // lib/pickler.cpp
}  // namespace detail

void release_retained_memory() noexcept {
  detail::release_decode_scratch();  // first: their large blocks would go to the retained pool
  detail::release_encode_scratch();
  detail::retained().clear();
}

}  // namespace brine
