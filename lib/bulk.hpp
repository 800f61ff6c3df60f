// lib/bulk.hpp — runs of BINFLOAT written many at a time, with the CPU's vector instructions when
// it has them (lib/bulk.cpp). The encoders' loops over lists of floats call these between two
// boundary checks (a frame or the buffer's room ends the run they hand over).
//
// Every kernel writes exactly the bytes put_float (brine/detail/output.hpp) writes, item after
// item, and never touches a byte outside them: `out` needs 9 bytes of room per item, no more.
#pragma once

#include <cstddef>
#include <cstdint>

#include "brine/document.hpp"

namespace brine::detail {

/// The kernels. `vbmi` (AVX-512 VBMI and BW: one byte permutation turns 8 doubles into 64 of their
/// 72 output bytes) is used when the CPU and the OS support it; `scalar` everywhere else.
enum class bulk_kernel : std::uint8_t { scalar, vbmi };

/// The kernel put_floats and put_float_nodes use on this machine (chosen once, at first use).
bulk_kernel chosen_bulk_kernel() noexcept;
/// Whether this machine can run kernel `k` (for tests, which run every kernel it can).
bool bulk_kernel_available(bulk_kernel k) noexcept;

/// BINFLOAT for each of in[0..n): 9n bytes at out.
void put_floats(char* out, const double* in, std::size_t n) noexcept;
void put_floats_with(bulk_kernel k, char* out, const double* in, std::size_t n) noexcept;

/// BINFLOAT for the float nodes nodes[ids[0]], nodes[ids[1]], ... up to n of them, stopping
/// before the first id that is not below `limit` or whose node is not a float64. Returns how many
/// it wrote (9 bytes each, at out).
std::size_t put_float_nodes(char* out, const std::uint32_t* ids, const node* nodes, std::uint32_t limit,
                            std::size_t n) noexcept;
std::size_t put_float_nodes_with(bulk_kernel k, char* out, const std::uint32_t* ids, const node* nodes,
                                 std::uint32_t limit, std::size_t n) noexcept;

/// BINFLOAT for the float nodes nodes[0], nodes[1], ... up to n of them (the items of a list whose
/// ids are consecutive: flag_dense_items), stopping before the first node that is not a float64.
/// Returns how many it wrote (9 bytes each, at out). Reads nodes[0..n), never the ids.
std::size_t put_float_run(char* out, const node* nodes, std::size_t n) noexcept;
std::size_t put_float_run_with(bulk_kernel k, char* out, const node* nodes, std::size_t n) noexcept;

/// Whether ids[i] == ids[0] + i for every i < n (no wrap-around: ids[0] + n must not exceed
/// 2^32). The decoder's check for document_data::dense_items.
bool ids_consecutive(const std::uint32_t* ids, std::size_t n) noexcept;
bool ids_consecutive_with(bulk_kernel k, const std::uint32_t* ids, std::size_t n) noexcept;

}  // namespace brine::detail
