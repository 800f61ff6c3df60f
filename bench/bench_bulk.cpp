// bench/bench_bulk.cpp — bulk bytes: a 256 MiB bytes object pickled in-band beside memcpy, and
// float64 arrays written as PEP 574 out-of-band buffers (whose cost must not grow with the data).
//
//   bench_bulk [--runs N] [--bytes-size=256M] [--oob-sizes=1000000,100000000] DIR
//
// In-band: the bytes are DIR/bulk.block (64 KiB of random bytes from make_workloads.py) repeated
// to the size; bench_cpython.py builds the same object. The pickle CPython writes for it is known
// exactly: PROTO 5, BINBYTES <size> <the bytes> (BINBYTES8 from 4 GiB; outside any frame:
// payloads of 64 KiB and more are), MEMOIZE, STOP; every brine path is checked against those bytes before it is timed (and
// bench_cpython.py checks pickle.dumps against the same layout). Rows:
//   encode        brine::encode of the decoded document (a bytes node viewing the pickle) -> string
//   typed         brine::pickle(brine::bytes_view{...}) -> string
//   encode_to     brine::encode_to with a sink that takes the pieces without copying them (the
//                 payload arrives as one piece pointing into the source: what writev does)
//   decode        brine::decode of the pickle (the document views the bytes in place)
//   memcpy        a copy into a warm buffer: the floor for any copy
//   memcpy_fresh  malloc + copy + free, as a writer that returns a new buffer pays (page faults)
//
// Out-of-band: for each size n, n doubles go out as one buffer through the buffer callback
// (returning false: out-of-band). The pickle is PROTO 5, NEXT_BUFFER, READONLY_BUFFER, STOP; the
// callback must see the array's own memory (no copy). Rows `oob_typed` (brine::pickle of
// brine::out_of_band<double>) and `oob_encode` (brine::encode of a document whose root is that
// buffer, decoded with the array as its out-of-band buffer).
//
// Output: notes and `result kind=bulk ...` / `result kind=oob ...` lines for run.py.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "brine/encode.hpp"

namespace {

std::size_t parse_size(std::string s) {
  std::size_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K': case 'k': mult = std::size_t{1} << 10; break;
      case 'M': case 'm': mult = std::size_t{1} << 20; break;
      case 'G': case 'g': mult = std::size_t{1} << 30; break;
      default: break;
    }
    if (mult != 1) s.pop_back();
  }
  return static_cast<std::size_t>(std::stoull(s)) * mult;
}

// The pickle CPython writes for bytes of this size, without the payload: header and trailer.
std::string inband_header(std::size_t n) {
  std::string h = "\x80\x05";
  if (n <= 0xffffffffu) {
    h += 'B';  // BINBYTES
    const auto le = static_cast<std::uint32_t>(n);
    h.append(reinterpret_cast<const char*>(&le), 4);
  } else {
    h += '\x8e';  // BINBYTES8
    const std::uint64_t le = n;
    h.append(reinterpret_cast<const char*>(&le), 8);
  }
  return h;
}
const std::string inband_trailer = "\x94.";

bool is_inband_pickle(std::string_view p, std::string_view data) {
  const std::string h = inband_header(data.size());
  return p.size() == h.size() + data.size() + inband_trailer.size() && p.substr(0, h.size()) == h &&
         std::memcmp(p.data() + h.size(), data.data(), data.size()) == 0 && p.substr(h.size() + data.size()) == inband_trailer;
}

const std::string oob_pickle("\x80\x05\x97\x98.", 5);

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span<const char>(s.data(), s.size())); }

[[noreturn]] void fail(const std::string& what) {
  std::printf("  FAIL %s; not timing\n", what.c_str());
  std::exit(1);
}

void inband(const bench::common_args& args, std::size_t size) {
  const std::string block = bench::read_file(args.dir + "/bulk.block");
  std::string data(size, '\0');
  for (std::size_t at = 0; at < size; at += block.size()) std::memcpy(data.data() + at, block.data(), std::min(block.size(), size - at));
  const std::string pickle = inband_header(size) + data + inband_trailer;

  // Verify every path.
  auto doc = brine::decode(as_bytes(pickle));
  if (!doc || doc->root().kind() != brine::kind::bytes || doc->root().as_bytes().size() != size ||
      std::memcmp(doc->root().as_bytes().data(), data.data(), size) != 0)
    fail("bulk: decode does not give the bytes");
  const auto bytes_span = as_bytes(data);
  {
    auto e = brine::encode(doc->root());
    if (!e || *e != pickle) fail("bulk: encode differs from pickle.dumps");
    auto t = brine::pickle(brine::bytes_view{bytes_span});
    if (!t || !is_inband_pickle(*t, data)) fail("bulk: typed pickle differs from pickle.dumps");
  }
  std::size_t pieces = 0, total = 0;
  bool payload_in_place = false;
  const brine::byte_sink sink = [&](std::span<const std::byte> piece) {
    ++pieces;
    total += piece.size();
    if (piece.size() == size) payload_in_place = piece.data() == doc->root().as_bytes().data();
    return true;
  };
  if (!brine::encode_to(doc->root(), sink) || total != pickle.size() || !payload_in_place)
    fail("bulk: encode_to did not pass the payload through in place");
  std::printf("  verified bulk %zu bytes: decode, encode, typed pickle and encode_to (%zu pieces, payload not copied)\n", size, pieces);

  const int runs = args.runs;
  auto timed_string = [&](auto&& make) {
    return bench::time_op(runs, [&](int reps) {
      std::vector<brine::result<std::string>> kept;
      kept.reserve(static_cast<std::size_t>(reps));
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r) kept.push_back(make());
      const auto s = bench::stop(t);
      for (const auto& k : kept)
        if (!k || k->size() != pickle.size()) std::abort();
      return s;
    });
  };
  const bench::timing enc = timed_string([&] { return brine::encode(doc->root()); });
  const bench::timing typ = timed_string([&] { return brine::pickle(brine::bytes_view{bytes_span}); });
  const bench::timing enc_to = bench::time_op(runs, [&](int reps) {
    bool ok = true;
    const auto t = bench::start();
    for (int r = 0; r < reps; ++r) ok &= brine::encode_to(doc->root(), sink).has_value();
    const auto s = bench::stop(t);
    if (!ok) std::abort();
    return s;
  });
  const bench::timing dec = bench::time_op(runs, [&](int reps) {
    std::vector<brine::result<brine::document>> kept;
    kept.reserve(static_cast<std::size_t>(reps));
    const auto t = bench::start();
    for (int r = 0; r < reps; ++r) kept.push_back(brine::decode(as_bytes(pickle)));
    const auto s = bench::stop(t);
    for (const auto& k : kept)
      if (!k) std::abort();
    return s;
  });
  std::vector<char> warm(pickle.size());
  std::memcpy(warm.data(), pickle.data(), pickle.size());
  const bench::timing cpy = bench::time_op(runs, [&](int reps) {
    const auto t = bench::start();
    for (int r = 0; r < reps; ++r) {
      std::memcpy(warm.data(), pickle.data(), pickle.size());
      asm volatile("" : : "r"(warm.data()) : "memory");
    }
    return bench::stop(t);
  });
  const bench::timing fresh = bench::time_op(runs, [&](int reps) {
    std::vector<void*> kept;
    const auto t = bench::start();
    for (int r = 0; r < reps; ++r) {
      void* p = std::malloc(pickle.size());
      std::memcpy(p, pickle.data(), pickle.size());
      asm volatile("" : : "r"(p) : "memory");
      kept.push_back(p);
    }
    const auto s = bench::stop(t);
    for (void* p : kept) std::free(p);
    return s;
  });
  std::int64_t enc_peak = 0, typ_peak = 0;
  {
    const bench::heap_scope heap;
    auto e = brine::encode(doc->root());
    enc_peak = heap.peak_growth();
  }
  {
    const bench::heap_scope heap;
    auto e = brine::pickle(brine::bytes_view{bytes_span});
    typ_peak = heap.peak_growth();
  }
  std::printf("  bulk %zu MiB: encode %.2f ms (cpu %.2f)  typed %.2f ms  encode_to %.4f ms  decode %.4f ms  memcpy %.2f ms  "
              "memcpy_fresh %.2f ms\n",
              size >> 20, bench::ms(enc.median_ns), bench::ms(enc.cpu_median_ns), bench::ms(typ.median_ns), bench::ms(enc_to.median_ns),
              bench::ms(dec.median_ns), bench::ms(cpy.median_ns), bench::ms(fresh.median_ns));
  bench::result_line("bulk", "bytes")
      .add("pickle_bytes", static_cast<long long>(pickle.size()))
      .add("runs", runs)
      .add("encode", enc)
      .add("typed", typ)
      .add("encode_to", enc_to)
      .add("decode", dec)
      .add("memcpy", cpy)
      .add("memcpy_fresh", fresh)
      .add("encode_peak_bytes", bench::heap::available() ? enc_peak : -1)
      .add("typed_peak_bytes", bench::heap::available() ? typ_peak : -1)
      .print();
}

void out_of_band(const bench::common_args& args, std::size_t n) {
  std::vector<double> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<double>(i) * 0.5;
  const auto raw = std::as_bytes(std::span<const double>(values));

  std::span<const std::byte> seen;
  brine::encode_options opt;
  opt.on_buffer = [&](brine::value, std::span<const std::byte> data, bool) {
    seen = data;
    return false;  // out-of-band
  };
  brine::decode_options dopt;
  dopt.buffers = {brine::oob_buffer{raw, true}};
  dopt.buffers_given = true;
  auto doc = brine::decode(as_bytes(oob_pickle), dopt);
  if (!doc || doc->root().kind() != brine::kind::buffer) fail("oob: the buffer pickle does not decode to a buffer");

  const brine::out_of_band<double> oob{std::span<const double>(values), true};
  auto t = brine::pickle(oob, opt);
  if (!t || *t != oob_pickle || seen.data() != raw.data() || seen.size() != raw.size())
    fail("oob: typed pickle is not NEXT_BUFFER READONLY_BUFFER with the array itself");
  seen = {};
  auto e = brine::encode(doc->root(), opt);
  if (!e || *e != oob_pickle || seen.data() != raw.data() || seen.size() != raw.size())
    fail("oob: encode is not NEXT_BUFFER READONLY_BUFFER with the array itself");

  auto time_path = [&](auto&& make) {
    return bench::time_op(args.runs, [&](int reps) {
      std::vector<brine::result<std::string>> kept;
      kept.reserve(static_cast<std::size_t>(reps));
      const auto t0 = bench::start();
      for (int r = 0; r < reps; ++r) kept.push_back(make());
      const auto s = bench::stop(t0);
      for (const auto& k : kept)
        if (!k || k->size() != oob_pickle.size()) std::abort();
      return s;
    });
  };
  const bench::timing typ = time_path([&] { return brine::pickle(oob, opt); });
  const bench::timing enc = time_path([&] { return brine::encode(doc->root(), opt); });
  std::printf("  out-of-band %zu doubles (%zu MB): typed %.5f ms (cpu %.5f)  encode %.5f ms (cpu %.5f)\n", n, raw.size() / 1000000,
              bench::ms(typ.median_ns), bench::ms(typ.cpu_median_ns), bench::ms(enc.median_ns), bench::ms(enc.cpu_median_ns));
  bench::result_line("oob", std::to_string(n))
      .add("doubles", static_cast<long long>(n))
      .add("data_bytes", static_cast<long long>(raw.size()))
      .add("runs", args.runs)
      .add("typed", typ)
      .add("encode", enc)
      .print();
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_common(argc, argv, "bench_bulk [--runs N] [--bytes-size=256M] [--oob-sizes=N,N] DIR");
  const std::size_t size = parse_size(args.option("--bytes-size", "256M"));
  std::printf("bench_bulk: %d samples per measurement; per operation\n", args.runs);
  if (size != 0) inband(args, size);
  for (const auto& n : bench::split(args.option("--oob-sizes", "1000000,100000000"), ','))
    out_of_band(args, static_cast<std::size_t>(std::stoull(n)));
  return 0;
}
