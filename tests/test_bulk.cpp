// tests/test_bulk.cpp — lib/bulk.hpp: every kernel this machine can run writes exactly what
// put_float writes, item after item, and not a byte outside it.
//
// The vector kernel is only run where the CPU has it; the test says which kernels it ran, so a
// log from a machine without AVX-512 VBMI shows that only the scalar one was checked there.
#include "bulk.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "brine/detail/output.hpp"

using namespace brine::detail;

namespace {

std::vector<bulk_kernel> kernels() {
  std::vector<bulk_kernel> out;
  for (const bulk_kernel k : {bulk_kernel::scalar, bulk_kernel::vbmi})
    if (bulk_kernel_available(k)) out.push_back(k);
  return out;
}

std::string kernel_name(bulk_kernel k) { return k == bulk_kernel::vbmi ? "vbmi" : "scalar"; }

// Doubles whose bytes differ everywhere (so a byte put in the wrong place shows), and the values
// with special bit patterns.
std::vector<double> sample_doubles(std::size_t n) {
  const double specials[] = {0.0,
                             -0.0,
                             1.0,
                             -1.5,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(),
                             std::bit_cast<double>(std::uint64_t{0x7ff0000000000001}),  // signalling NaN
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest(),
                             1e-300};
  std::vector<double> v;
  std::uint64_t x = 0x0123456789abcdefull;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    v.push_back(i % 5 == 4 ? specials[(i / 5) % std::size(specials)] : std::bit_cast<double>(x >> 1));
  }
  return v;
}

std::string expected(const std::vector<double>& v, std::size_t from, std::size_t n) {
  std::string out(9 * n, '\0');
  for (std::size_t i = 0; i < n; ++i) put_float(out.data() + 9 * i, v[from + i]);
  return out;
}

// A buffer with 64 guard bytes on each side of `n` items' room.
struct guarded {
  explicit guarded(std::size_t n) : bytes(9 * n + 128, '\x5a'), size(9 * n) {}
  char* out() { return bytes.data() + 64; }
  std::string written() const { return bytes.substr(64, size); }
  bool guards_intact() const {
    return bytes.find_first_not_of('\x5a', 0) >= 64 && bytes.find_first_not_of('\x5a', 64 + size) == std::string::npos;
  }
  std::string bytes;
  std::size_t size;
};

// Document nodes of kind `k` holding `values` (doubles in .f, ints in .i), at made-up offsets.
template <class T>
std::vector<node> nodes_of(node_kind k, const std::vector<T>& values) {
  std::vector<node> nodes(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    nodes[i].head = make_head(k, 0, 1000 + 9 * i);
    if constexpr (std::is_floating_point_v<T>) nodes[i].f = values[i];
    else nodes[i].i = values[i];
  }
  return nodes;
}

}  // namespace

TEST_CASE("put_floats: every kernel writes put_float's bytes for every length, and nothing else") {
  const std::vector<double> v = sample_doubles(300);
  for (const bulk_kernel k : kernels()) {
    CAPTURE(kernel_name(k));
    MESSAGE("kernel run: " << kernel_name(k));
    for (const std::size_t from : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {  // unaligned input too
      for (std::size_t n = 0; n + from <= v.size(); n += (n < 40 ? 1 : 37)) {
        CAPTURE(from);
        CAPTURE(n);
        guarded g(n);
        put_floats_with(k, g.out(), v.data() + from, n);
        CHECK(g.written() == expected(v, from, n));
        CHECK(g.guards_intact());
      }
    }
  }
}

TEST_CASE("put_floats: the chosen kernel is one this machine runs") {
  CHECK(bulk_kernel_available(chosen_bulk_kernel()));
  const std::vector<double> v = sample_doubles(1000);
  guarded g(v.size());
  put_floats(g.out(), v.data(), v.size());
  CHECK(g.written() == expected(v, 0, v.size()));
  CHECK(g.guards_intact());
}

TEST_CASE("put_float_nodes: consecutive and scattered ids, stopping at a non-float or an id past the limit") {
  const std::vector<double> v = sample_doubles(200);
  // Nodes 0..199 hold v; node 200 is an int, 201 a None; the limit is 202.
  std::vector<node> nodes = nodes_of(node_kind::float64, v);
  nodes.resize(202);
  nodes[200].head = make_head(node_kind::int64, 0, 0);
  nodes[200].i = 7;
  nodes[201].head = make_head(node_kind::none, 0, 0);
  nodes[201].i = 0;
  const auto limit = static_cast<std::uint32_t>(nodes.size());

  const auto values_of = [&](const std::vector<std::uint32_t>& ids, std::size_t n) {
    std::string out(9 * n, '\0');
    for (std::size_t i = 0; i < n; ++i) put_float(out.data() + 9 * i, v[ids[i]]);
    return out;
  };

  for (const bulk_kernel k : kernels()) {
    CAPTURE(kernel_name(k));
    MESSAGE("kernel run: " << kernel_name(k));
    std::vector<std::uint32_t> consecutive(150), scattered(150), repeated(150);
    for (std::uint32_t i = 0; i < 150; ++i) {
      consecutive[i] = 20 + i;
      scattered[i] = (i * 37 + 11) % 200;
      repeated[i] = (i / 3) % 5;  // the same float node several times over (a shared float)
    }
    for (const auto* ids : {&consecutive, &scattered, &repeated}) {
      for (std::size_t n = 0; n <= ids->size(); n += (n < 40 ? 1 : 23)) {
        CAPTURE(n);
        guarded g(n);
        CHECK(put_float_nodes_with(k, g.out(), ids->data(), nodes.data(), limit, n) == n);
        CHECK(g.written() == values_of(*ids, n));
        CHECK(g.guards_intact());
      }
    }
    // A run ends before a non-float node or an id at or past the limit, wherever it is.
    for (const std::uint32_t stopper : {200u, 201u, limit, limit + 5, 0xffffffffu}) {
      for (std::size_t at = 0; at < 40; ++at) {
        CAPTURE(stopper);
        CAPTURE(at);
        std::vector<std::uint32_t> ids = consecutive;
        if (at % 2 == 1) ids = scattered;
        ids[at] = stopper;
        guarded g(ids.size());
        CHECK(put_float_nodes_with(k, g.out(), ids.data(), nodes.data(), limit, ids.size()) == at);
        CHECK(g.written().substr(0, 9 * at) == values_of(ids, at));
        // Nothing is written for the items from the stopper on.
        CHECK(g.written().find_first_not_of('\x5a', 9 * at) == std::string::npos);
        CHECK(g.guards_intact());
      }
    }
    // A limit of 0 reads no node.
    guarded g(8);
    CHECK(put_float_nodes_with(k, g.out(), consecutive.data(), nodes.data(), 0, 8) == 0);
    CHECK(g.guards_intact());
  }
}

TEST_CASE("put_float_run: a run of float nodes, stopping at the first node of another kind") {
  const std::vector<double> v = sample_doubles(200);
  const std::vector<node> nodes = nodes_of(node_kind::float64, v);
  for (const bulk_kernel k : kernels()) {
    CAPTURE(kernel_name(k));
    MESSAGE("kernel run: " << kernel_name(k));
    for (const std::size_t from : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
      for (std::size_t n = 0; n + from <= v.size(); n += (n < 40 ? 1 : 17)) {
        CAPTURE(from);
        CAPTURE(n);
        guarded g(n);
        CHECK(put_float_run_with(k, g.out(), nodes.data() + from, n) == n);
        CHECK(g.written() == expected(v, from, n));
        CHECK(g.guards_intact());
      }
    }
    // An int, a None, a str or a bigint node ends the run, wherever it is; nothing after it is written.
    for (const node_kind stopper : {node_kind::int64, node_kind::none, node_kind::str, node_kind::bigint}) {
      for (std::size_t at = 0; at < 40; ++at) {
        CAPTURE(static_cast<int>(stopper));
        CAPTURE(at);
        std::vector<node> run(nodes.begin(), nodes.begin() + 60);
        run[at].head = make_head(stopper, 0, 5);
        guarded g(run.size());
        CHECK(put_float_run_with(k, g.out(), run.data(), run.size()) == at);
        CHECK(g.written().substr(0, 9 * at) == expected(v, 0, at));
        CHECK(g.written().find_first_not_of('\x5a', 9 * at) == std::string::npos);
        CHECK(g.guards_intact());
      }
    }
  }
}

TEST_CASE("ids_consecutive: every id checked, in and across chunks") {
  for (const bulk_kernel k : kernels()) {
    CAPTURE(kernel_name(k));
    MESSAGE("kernel run: " << kernel_name(k));
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{15}, std::size_t{16},
                                std::size_t{17}, std::size_t{1023}, std::size_t{1024}, std::size_t{1025}, std::size_t{5000}}) {
      CAPTURE(n);
      std::vector<std::uint32_t> ids(n);
      for (std::size_t i = 0; i < n; ++i) ids[i] = 77 + static_cast<std::uint32_t>(i);
      CHECK(ids_consecutive_with(k, ids.data(), n));
      // Any one id off by one or by a high bit, at any position, is found.
      for (std::size_t at = 1; at < n; at += (at < 40 ? 1 : 97)) {
        for (const std::uint32_t change : {1u, 0x80000000u}) {
          CAPTURE(at);
          ids[at] ^= change;
          CHECK_FALSE(ids_consecutive_with(k, ids.data(), n));
          ids[at] ^= change;
        }
      }
      if (n > 0) {  // the last one too
        ids[n - 1] += 1;
        CHECK(ids_consecutive_with(k, ids.data(), n) == (n == 1));
        ids[n - 1] -= 1;
      }
    }
  }
}

namespace {

// Ints of every form put_int writes, at every boundary between them, and of every bit length of
// either sign (so each LONG1 length occurs), in an order that mixes the forms within a vector step.
std::vector<std::int64_t> sample_ints(std::size_t n) {
  const std::int64_t edges[] = {0, 1, 255, 256, 65535, 65536, -1, -128, -129, -32768, INT32_MAX, INT32_MIN,
                                std::int64_t{INT32_MAX} + 1, std::int64_t{INT32_MIN} - 1, INT64_MAX, INT64_MIN,
                                std::int64_t{1} << 40, -(std::int64_t{1} << 40), (std::int64_t{1} << 55) - 1, -(std::int64_t{1} << 55)};
  std::vector<std::int64_t> v;
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const unsigned bits = static_cast<unsigned>(x >> 58);  // 0..63
    const auto magnitude = static_cast<std::int64_t>((x >> 1) >> (63 - bits));
    v.push_back(i % 3 == 2 ? edges[(i / 3) % std::size(edges)] : (x & 1) != 0 ? magnitude : -magnitude - 1);
  }
  return v;
}

// Where each of in[0..n) starts in put_int's bytes, then where the last ends (n + 1 offsets).
std::vector<std::size_t> int_starts(const std::int64_t* in, std::size_t n) {
  std::vector<std::size_t> at{0};
  char item[10];
  for (std::size_t i = 0; i < n; ++i) at.push_back(at.back() + put_int(item, in[i]));
  return at;
}

// How many of the n items whose offsets are `starts` begin below `limit`.
std::size_t starting_below(const std::vector<std::size_t>& starts, std::size_t limit) {
  std::size_t count = 0;
  while (count + 1 < starts.size() && starts[count] < limit) ++count;
  return count;
}

std::string expected_ints(const std::int64_t* in, std::size_t n) {
  std::string out;
  char item[10];
  for (std::size_t i = 0; i < n; ++i) out.append(item, put_int(item, in[i]));
  return out;
}

}  // namespace

TEST_CASE("put_ints: every kernel writes put_int's bytes for every length, inside its room") {
  const std::vector<std::int64_t> v = sample_ints(2000);
  for (const bulk_kernel k : kernels()) {
    CAPTURE(kernel_name(k));
    MESSAGE("kernel run: " << kernel_name(k));
    for (std::size_t n = 0; n <= 2000; n += (n < 80 ? 1 : 191)) {
      for (const std::size_t from : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
        if (from + n > v.size()) continue;
        CAPTURE(n);
        CAPTURE(from);
        // 64 guard bytes on each side of the room for n items (10 bytes each).
        std::string buf(10 * n + 128, '\x5a');
        std::size_t written = 12345;
        CHECK(put_ints_with(k, buf.data() + 64, v.data() + from, n, no_frame, written) == n);
        const std::string want = expected_ints(v.data() + from, n);
        CHECK(written == want.size());
        CHECK(buf.substr(64, want.size()) == want);
        CHECK(buf.find_first_not_of('\x5a') >= 64);
        CHECK(buf.find_first_not_of('\x5a', 64 + 10 * n) == std::string::npos);
      }
    }
  }
}

TEST_CASE("put_ints: every kernel stops before the first item that starts at or after the limit") {
  const std::vector<std::int64_t> v = sample_ints(61);
  const std::vector<std::size_t> starts = int_starts(v.data(), v.size());
  const std::string all = expected_ints(v.data(), v.size());
  for (const bulk_kernel k : kernels()) {
    CAPTURE(kernel_name(k));
    for (std::size_t limit = 1; limit <= starts.back() + 1; ++limit) {
      CAPTURE(limit);
      const std::size_t count = starting_below(starts, limit);
      const std::size_t bytes = starts[count];
      std::string buf(10 * v.size(), '\0');
      std::size_t written = 0;
      CHECK(put_ints_with(k, buf.data(), v.data(), v.size(), limit, written) == count);
      CHECK(written == bytes);
      CHECK(buf.substr(0, written) == all.substr(0, bytes));
    }
  }
}

TEST_CASE("put_int_run: a run of int nodes, stopping at the first node of another kind or at the limit") {
  const std::vector<std::int64_t> v = sample_ints(300);
  std::vector<node> nodes = nodes_of(node_kind::int64, v);
  for (const bulk_kernel k : kernels()) {
    CAPTURE(kernel_name(k));
    MESSAGE("kernel run: " << kernel_name(k));
    for (const std::size_t from : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
      for (std::size_t n = 0; n + from <= v.size(); n += (n < 40 ? 1 : 17)) {
        CAPTURE(from);
        CAPTURE(n);
        std::string buf(10 * n + 128, '\x5a');
        std::size_t written = 0;
        CHECK(put_int_run_with(k, buf.data() + 64, nodes.data() + from, n, no_frame, written) == n);
        const std::string want = expected_ints(v.data() + from, n);
        CHECK(written == want.size());
        CHECK(buf.substr(64, want.size()) == want);
        CHECK(buf.find_first_not_of('\x5a') >= 64);
        CHECK(buf.find_first_not_of('\x5a', 64 + 10 * n) == std::string::npos);
      }
    }
    // A float, a None, a str or a bigint node ends the run, wherever it is.
    for (const node_kind stopper : {node_kind::float64, node_kind::none, node_kind::str, node_kind::bigint}) {
      for (std::size_t at = 0; at < 40; ++at) {
        CAPTURE(static_cast<int>(stopper));
        CAPTURE(at);
        std::vector<node> run(nodes.begin(), nodes.begin() + 60);
        run[at].head = make_head(stopper, 0, 5);
        std::string buf(10 * run.size(), '\0');
        std::size_t written = 0;
        CHECK(put_int_run_with(k, buf.data(), run.data(), run.size(), no_frame, written) == at);
        const std::string want = expected_ints(v.data(), at);
        CHECK(written == want.size());
        CHECK(buf.substr(0, written) == want);
      }
    }
    // The frame's limit: items that start below it, and no others.
    const std::size_t n = 61;
    const std::vector<std::size_t> starts = int_starts(v.data(), n);
    for (std::size_t limit = 1; limit <= starts.back() + 1; ++limit) {
      CAPTURE(limit);
      const std::size_t count = starting_below(starts, limit);
      std::string buf(10 * n, '\0');
      std::size_t written = 0;
      CHECK(put_int_run_with(k, buf.data(), nodes.data(), n, limit, written) == count);
      CHECK(written == starts[count]);
    }
  }
}
