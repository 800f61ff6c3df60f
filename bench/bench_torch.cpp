// bench/bench_torch.cpp — brine beside PyTorch's C++ unpickler and pickler (libtorch), built only
// when CMake finds libtorch (bench/CMakeLists.txt), never for the test suite.
//
//   bench_torch [--runs N] [--only NAME] DIR
//
// PyTorch 1.13's torch::jit::unpickle reads protocol 2 only, and within it no APPEND, SETITEM, or
// LONG1 other than 8 bytes, and no global but its own; torch::pickle_load / torch::pickle_save
// wrap these same functions in a zip archive. So this benchmark reads W.p2.pickle, the same
// objects pickled by CPython at protocol 2, and times on the same bytes:
//   torch_unpickle   torch::jit::unpickle(bytes) -> IValue
//   brine_decode     brine::decode(bytes) -> document
//   torch_pickle     torch::jit::pickle(IValue) -> protocol-2 bytes (torch's own layout)
//   brine_encode     brine::encode(document, protocol 2) -> bytes identical to CPython's
// A workload torch cannot read is reported as such (`unsupported`), with torch's message.
//
// Verified before timing: the IValue's value digest (sharing expanded: torch does not keep
// identity) equals W.facts' vdigest; brine's document digest equals `digest`; brine's protocol-2
// encode equals CPython's bytes; torch's pickle, read back by torch, has the same value digest (it
// is not plain data: torch tags lists and dicts with torch.jit._pickle reconstructors).
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/version.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "brine/decode.hpp"
#include "brine/encode.hpp"

namespace {

// The token stream of make_workloads.py's digest(..., by_value=True) over an IValue.
std::string ivalue_digest(const c10::IValue& root) {
  std::string buf;
  std::uint32_t crc = 0;
  std::uint64_t length = 0;
  auto flush = [&] {
    crc = bench::crc32_update(crc, buf);
    length += buf.size();
    buf.clear();
  };
  std::vector<c10::IValue> stack{root};
  while (!stack.empty()) {
    const c10::IValue v = std::move(stack.back());
    stack.pop_back();
    if (v.isNone()) {
      buf += 'N';
    } else if (v.isBool()) {
      buf += v.toBool() ? 'T' : 'F';
    } else if (v.isInt()) {
      buf += 'I' + std::to_string(v.toInt()) + ';';
    } else if (v.isDouble()) {
      const double d = v.toDouble();
      char le[8];
      std::memcpy(le, &d, 8);
      buf += 'D';
      buf.append(le, 8);
    } else if (v.isString()) {
      const std::string& s = v.toStringRef();
      buf += 'S' + std::to_string(s.size()) + ':' + s;
    } else if (v.isList()) {
      const auto& items = v.toListRef();
      buf += 'L' + std::to_string(items.size()) + ';';
      for (std::size_t i = items.size(); i-- > 0;) stack.push_back(items[i]);
    } else if (v.isTuple()) {
      const auto& items = v.toTupleRef().elements();
      buf += 'U' + std::to_string(items.size()) + ';';
      for (std::size_t i = items.size(); i-- > 0;) stack.push_back(items[i]);
    } else if (v.isGenericDict()) {
      const auto d = v.toGenericDict();
      buf += 'M' + std::to_string(d.size()) + ';';
      std::vector<c10::IValue> kv;
      for (const auto& e : d) {
        kv.push_back(e.key());
        kv.push_back(e.value());
      }
      for (std::size_t i = kv.size(); i-- > 0;) stack.push_back(kv[i]);
    } else {
      buf += '?' + std::string(v.tagKind());
    }
    if (buf.size() >= (1u << 20)) flush();
  }
  flush();
  return std::to_string(crc) + ":" + std::to_string(length);
}

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span<const char>(s.data(), s.size())); }

std::string one_line(std::string s) {
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_common(argc, argv, "bench_torch [--runs N] [--only NAME] DIR");
  std::printf("bench_torch: PyTorch %d.%d.%d C++ unpickler on CPython's protocol-2 pickles; %d samples per measurement\n",
              TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH, args.runs);
  brine::encode_options p2;
  p2.protocol = 2;
  for (const std::string& name : bench::workload_names(args.dir)) {
    if (!args.wants(name)) continue;
    const bench::workload_data w(args.dir, name, /*protocol2=*/true);
    const auto digests = w.f.list("digest");
    const auto vdigests = w.f.list("vdigest");

    // Verify both sides, part by part.
    std::vector<c10::IValue> ivalues;
    std::vector<brine::document> docs;
    std::string unsupported;
    bool ok = true;
    for (std::size_t i = 0; i < w.parts.size() && unsupported.empty(); ++i) {
      try {
        ivalues.push_back(torch::jit::unpickle(w.parts[i].data(), w.parts[i].size()));
      } catch (const std::exception& e) {
        unsupported = one_line(e.what());
        break;
      }
      auto doc = brine::decode(as_bytes(w.parts[i]));
      if (!doc) {
        std::printf("  FAIL %s: brine::decode: %s\n", name.c_str(), doc.error().to_string().c_str());
        return 1;
      }
      if (bench::digest_of(doc->root()) != digests[i]) {
        std::printf("  FAIL %s: brine's document of part %zu differs from the object CPython pickled\n", name.c_str(), i);
        ok = false;
      }
      if (ivalue_digest(ivalues.back()) != vdigests[i]) {
        std::printf("  FAIL %s: torch's IValue of part %zu differs from the object CPython pickled\n", name.c_str(), i);
        ok = false;
      }
      auto again = brine::encode(doc->root(), p2);
      if (!again || *again != w.parts[i]) {
        std::printf("  FAIL %s: brine's protocol-2 encode of part %zu differs from CPython's\n", name.c_str(), i);
        ok = false;
      }
      // torch's pickler tags lists and dicts with its own reconstructors (torch.jit._pickle), so
      // its output is checked by reading it back with torch.
      const std::vector<char> tp = torch::jit::pickle(ivalues.back());
      if (ivalue_digest(torch::jit::unpickle(tp.data(), tp.size())) != vdigests[i]) {
        std::printf("  FAIL %s: torch's pickle of part %zu does not read back as the same value\n", name.c_str(), i);
        ok = false;
      }
      docs.push_back(std::move(*doc));
    }
    if (!ok) return 1;
    if (!unsupported.empty()) {
      std::printf("  %-9s torch cannot read it: %s\n", name.c_str(), unsupported.c_str());
      bench::result_line("torch", name).add("unsupported", "1").print();
      continue;
    }
    std::printf("  verified %-9s torch and brine read the same value; brine's protocol-2 encode is CPython's bytes\n", name.c_str());

    const bench::timing t_un = bench::time_op(args.runs, [&](int reps) {
      std::vector<c10::IValue> kept;
      kept.reserve(static_cast<std::size_t>(reps) * w.parts.size());
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (const auto part : w.parts) kept.push_back(torch::jit::unpickle(part.data(), part.size()));
      return bench::stop(t);
    });
    const bench::timing b_dec = bench::time_op(args.runs, [&](int reps) {
      std::vector<brine::result<brine::document>> kept;
      kept.reserve(static_cast<std::size_t>(reps) * w.parts.size());
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (const auto part : w.parts) kept.push_back(brine::decode(as_bytes(part)));
      return bench::stop(t);
    });
    const bench::timing t_pk = bench::time_op(args.runs, [&](int reps) {
      std::vector<std::vector<char>> kept;
      kept.reserve(static_cast<std::size_t>(reps) * w.parts.size());
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (const auto& iv : ivalues) kept.push_back(torch::jit::pickle(iv));
      return bench::stop(t);
    });
    const bench::timing b_enc = bench::time_op(args.runs, [&](int reps) {
      std::vector<brine::result<std::string>> kept;
      kept.reserve(static_cast<std::size_t>(reps) * w.parts.size());
      const auto t = bench::start();
      for (int r = 0; r < reps; ++r)
        for (const auto& d : docs) kept.push_back(brine::encode(d.root(), p2));
      return bench::stop(t);
    });
    std::int64_t torch_peak = 0, brine_peak = 0;
    {
      const bench::heap_scope heap;
      std::vector<c10::IValue> kept;
      for (const auto part : w.parts) kept.push_back(torch::jit::unpickle(part.data(), part.size()));
      torch_peak = heap.peak_growth();
    }
    {
      const bench::heap_scope heap;
      std::vector<brine::result<brine::document>> kept;
      for (const auto part : w.parts) kept.push_back(brine::decode(as_bytes(part)));
      brine_peak = heap.peak_growth();
    }
    std::printf("  %-9s %8.3f MB  torch unpickle %9.4f ms  brine decode %9.4f ms (%.1fx)  torch pickle %9.4f ms  brine encode %9.4f ms (%.1fx)\n",
                name.c_str(), static_cast<double>(w.blob.size()) / 1e6, bench::ms(t_un.median_ns), bench::ms(b_dec.median_ns),
                static_cast<double>(t_un.median_ns) / static_cast<double>(b_dec.median_ns), bench::ms(t_pk.median_ns),
                bench::ms(b_enc.median_ns), static_cast<double>(t_pk.median_ns) / static_cast<double>(b_enc.median_ns));
    bench::result_line("torch", name)
        .add("pickle_bytes", static_cast<long long>(w.blob.size()))
        .add("runs", args.runs)
        .add("torch_unpickle", t_un)
        .add("brine_decode", b_dec)
        .add("torch_pickle", t_pk)
        .add("brine_encode", b_enc)
        .add("torch_peak_bytes", bench::heap::available() ? torch_peak : -1)
        .add("brine_peak_bytes", bench::heap::available() ? brine_peak : -1)
        .print();
  }
  return 0;
}
