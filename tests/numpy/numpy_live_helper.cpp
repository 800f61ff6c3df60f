// brine_numpy_live: the C++ side of tests/numpy/live_numpy.py (numpy loads what brine writes).
//
//   brine_numpy_live typed OUTDIR           arrays built from C++ values (every C++ element type,
//                                           1-D, 0-d, empty, C and Fortran order), pickled at
//                                           protocols 0-5 and out-of-band at 5; OUTDIR/manifest.txt
//   brine_numpy_live roundtrip INDIR OUTDIR every INDIR/<name>.pkl (with <name>.buf<i>) decoded as
//                                           an ndarray view and re-encoded the same ways
//   brine_numpy_live readme REQUEST REPLY   the README snippet's handle()
//
// Element k (C order) of a typed array is a formula of k the Python side evaluates too (value_of).
// Output files: <name>.p<proto>.pkl, <name>.oob.pkl and <name>.oob.buf<i>.
#include <complex>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "brine/numpy.hpp"

#include "readme_service.inc"

namespace np = brine::numpy;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool write_file(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return out.good();
}

// Writes every protocol and the out-of-band form of `a`; appends to the manifest.
bool write_all(const np::ndarray& a, const fs::path& dir, const std::string& name, std::ofstream& manifest) {
  for (int p = 0; p <= 5; ++p) {
    brine::encode_options o;
    o.protocol = p;
    auto out = brine::pickle(a, o);
    if (!out) {
      std::fprintf(stderr, "%s p%d: %s\n", name.c_str(), p, out.error().to_string().c_str());
      return false;
    }
    write_file(dir / (name + ".p" + std::to_string(p) + ".pkl"), *out);
    manifest << name << " p" << p << "\n";
  }
  brine::encode_options o;
  std::vector<std::string> buffers;
  o.on_buffer = [&](brine::value, std::span<const std::byte> d, bool) {
    buffers.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
    return false;
  };
  auto out = brine::pickle(a, o);
  if (!out) return false;
  write_file(dir / (name + ".oob.pkl"), *out);
  for (std::size_t i = 0; i < buffers.size(); ++i) write_file(dir / (name + ".oob.buf" + std::to_string(i)), buffers[i]);
  manifest << name << " oob " << buffers.size() << "\n";
  return true;
}

// The formula both sides evaluate for element k (live_numpy.py's value_of).
template <class T> T value_of(std::size_t k) {
  const auto i = static_cast<std::int64_t>(k);
  if constexpr (std::is_same_v<T, bool>) {
    return k % 3 == 0;
  } else if constexpr (std::is_integral_v<T>) {
    std::int64_t v = (i * 37 + 5) % 200;
    if constexpr (sizeof(T) == 8) v *= 1099511627776;  // 2**40: beyond 32 bits
    if constexpr (std::is_signed_v<T>) v -= 100;
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(static_cast<double>(i) * 0.5 - 3.25);
  } else {
    using R = typename T::value_type;
    return T(static_cast<R>(static_cast<double>(i) * 0.5 - 1.0), static_cast<R>(static_cast<double>(i) * 0.25));
  }
}

template <class T>
bool typed(const fs::path& dir, const std::string& tag, std::ofstream& manifest) {
  struct layout {
    const char* name;
    std::vector<std::size_t> shape;
    np::memory_order order;
  };
  const std::vector<layout> layouts{{"1d", {7}, np::memory_order::c},        {"c2d", {2, 3}, np::memory_order::c},
                                    {"f2d", {2, 3}, np::memory_order::fortran}, {"f3d", {2, 3, 4}, np::memory_order::fortran},
                                    {"c3d", {2, 3, 4}, np::memory_order::c},   {"0d", {}, np::memory_order::c},
                                    {"empty", {0}, np::memory_order::c},       {"empty2d", {3, 0}, np::memory_order::c}};
  for (const auto& l : layouts) {
    std::size_t n = 1;
    for (std::size_t x : l.shape) n *= x;
    // Element k in C order goes to its position in the requested memory order.
    std::vector<T> data(n);
    std::vector<std::size_t> idx(l.shape.size(), 0);
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t pos = 0, step = 1;
      if (l.order == np::memory_order::c) {
        pos = k;
      } else {
        for (std::size_t d = 0; d < l.shape.size(); ++d) {
          pos += idx[d] * step;
          step *= l.shape[d];
        }
      }
      data[pos] = value_of<T>(k);
      for (std::size_t d = l.shape.size(); d-- > 0;) {
        if (++idx[d] < l.shape[d]) break;
        idx[d] = 0;
      }
    }
    if constexpr (std::is_same_v<T, bool>) {
      // std::vector<bool> has no contiguous storage: a byte per element, viewed as |b1.
      const std::vector<std::uint8_t> bools(data.begin(), data.end());
      auto a = np::ndarray::of_bytes(std::as_bytes(std::span<const std::uint8_t>(bools)), np::dtype::of<bool>(), l.shape, l.order);
      if (!a || !write_all(*a, dir, tag + "_" + l.name, manifest)) return false;
    } else {
      auto a = np::ndarray::of<T>(data, l.shape, l.order);
      if (!a || !write_all(*a, dir, tag + "_" + l.name, manifest)) return false;
    }
  }
  return true;
}

int run_typed(const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream manifest(dir / "manifest.txt");
  bool ok = typed<bool>(dir, "b1", manifest) && typed<std::int8_t>(dir, "i1", manifest) && typed<std::int16_t>(dir, "i2", manifest) &&
            typed<std::int32_t>(dir, "i4", manifest) && typed<std::int64_t>(dir, "i8", manifest) &&
            typed<std::uint8_t>(dir, "u1", manifest) && typed<std::uint16_t>(dir, "u2", manifest) &&
            typed<std::uint32_t>(dir, "u4", manifest) && typed<std::uint64_t>(dir, "u8", manifest) && typed<float>(dir, "f4", manifest) &&
            typed<double>(dir, "f8", manifest) && typed<std::complex<float>>(dir, "c8", manifest) &&
            typed<std::complex<double>>(dir, "c16", manifest);
  return ok ? 0 : 1;
}

int run_roundtrip(const fs::path& in, const fs::path& out) {
  fs::create_directories(out);
  std::ofstream manifest(out / "manifest.txt");
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(in))
    if (e.path().extension() == ".pkl") inputs.push_back(e.path());
  for (const auto& p : inputs) {
    const std::string name = p.stem().string();
    const std::string bytes = read_file(p);
    std::vector<std::string> bufs;
    for (int i = 0;; ++i) {
      const fs::path b = in / (name + ".buf" + std::to_string(i));
      if (!fs::exists(b)) break;
      bufs.push_back(read_file(b));
    }
    brine::decode_options opt;
    for (const auto& b : bufs) opt.buffers.push_back({std::as_bytes(std::span<const char>(b.data(), b.size())), false});
    opt.buffers_given = !bufs.empty();
    auto doc = brine::decode(bytes, opt);
    if (!doc) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), doc.error().to_string().c_str());
      return 1;
    }
    auto a = np::to_ndarray(doc->root());
    if (!a) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), a.error().to_string().c_str());
      return 1;
    }
    if (!write_all(*a, out, name, manifest)) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "typed" && argc == 3) return run_typed(argv[2]);
  if (cmd == "roundtrip" && argc == 4) return run_roundtrip(argv[2], argv[3]);
  if (cmd == "readme" && argc == 4) {
    auto reply = handle(read_file(argv[2]));
    if (!reply) {
      std::fprintf(stderr, "%s\n", reply.error().to_string().c_str());
      return 1;
    }
    return write_file(argv[3], *reply) ? 0 : 1;
  }
  std::fprintf(stderr, "usage: brine_numpy_live typed OUTDIR | roundtrip INDIR OUTDIR | readme REQUEST REPLY\n");
  return 2;
}
