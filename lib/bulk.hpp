// lib/bulk.hpp — runs of BINFLOAT, and of save_long's binary forms, written many at a time, with
// the CPU's vector instructions when it has them (lib/bulk.cpp). The encoders' loops over lists of
// floats and ints call these between two boundary checks (a frame or the buffer's room ends the run
// they hand over).
//
// Every kernel writes exactly the bytes put_float / put_int (brine/detail/output.hpp) write, item
// after item. The float kernels never touch a byte outside them: `out` needs 9 bytes of room per
// item, no more. The int kernels stay inside 10 bytes of room per item (put_ints).
#pragma once

#include <cstddef>
#include <cstdint>

#include "brine/document.hpp"

namespace brine::detail {

/// The kernels. `vbmi` (AVX-512 F, BW, VL, CD, VBMI and VBMI2: one byte permutation turns 8 doubles
/// into 64 of their 72 output bytes; ints are laid out 16 bytes an item and compressed to their
/// lengths) is used when the CPU and the OS support it; `scalar` everywhere else.
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

/// put_int for in[0], in[1], ... (at most n of them; `out` has room for 10 bytes each) while the
/// next item starts below `limit` bytes from out (where the open frame reaches its target: the
/// first item is always written when n > 0 and limit > 0). Returns how many it wrote; `written`
/// gets their bytes. Unlike the float kernels, the vector one may write scratch bytes after
/// `written`, inside the room (it stores 64 bytes at a time and keeps what the items need).
std::size_t put_ints(char* out, const std::int64_t* in, std::size_t n, std::size_t limit, std::size_t& written) noexcept;
std::size_t put_ints_with(bulk_kernel k, char* out, const std::int64_t* in, std::size_t n, std::size_t limit,
                          std::size_t& written) noexcept;

/// put_ints for the int nodes nodes[0], nodes[1], ... (a dense list's items, as put_float_run),
/// stopping before the first node that is not an int64 as well as where put_ints stops.
std::size_t put_int_run(char* out, const node* nodes, std::size_t n, std::size_t limit, std::size_t& written) noexcept;
std::size_t put_int_run_with(bulk_kernel k, char* out, const node* nodes, std::size_t n, std::size_t limit,
                             std::size_t& written) noexcept;

/// Whether ids[i] == ids[0] + i for every i < n (no wrap-around: ids[0] + n must not exceed
/// 2^32). The decoder's check for document_data::dense_items.
bool ids_consecutive(const std::uint32_t* ids, std::size_t n) noexcept;
bool ids_consecutive_with(bulk_kernel k, const std::uint32_t* ids, std::size_t n) noexcept;

}  // namespace brine::detail
