// brine_roundtrip — decode a pickle with brine and encode it again, for the live CPython test.
//
//   brine_roundtrip IN.pkl OUT.pkl --protocol N [--encoding ascii|latin1|utf8|bytes]
//                   [--profile default|3.11|3.15] [--buffer FILE[:ro]]... [--oob OUTDIR]
//   brine_roundtrip --batch JOBS
//
// Decodes IN (the --buffer files are its out-of-band buffers, in NEXT_BUFFER order; ":ro" supplies
// one read-only, otherwise writable, so that READONLY_BUFFER alone decides) and encodes the root at
// protocol N into OUT with the given encoder profile (brine::cpython_profile, default
// cpython_3_8_to_3_14). With --oob every buffer is written out-of-band (the callback returns
// false) as OUTDIR/buf<i>, and OUTDIR/readonly lists one flag per buffer ("1" read-only, "0"
// writable); without it buffers are written in-band. Prints nothing on success; on failure prints
// the error and exits 1.
//
// --batch runs many jobs in one process: JOBS holds one job per line, its arguments separated by
// tabs (the same arguments as above). Each failing job prints "job <line number>: <error>"; the
// exit status is 1 when any job failed.
//
// Uses brine's public headers only.
#include <brine/decode.hpp>
#include <brine/encode.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool read_file(const std::string& path, std::string& out, std::string& err) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    err = "cannot open " + path;
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (f.bad()) {
    err = "cannot read " + path;
    return false;
  }
  return true;
}

bool write_file(const std::string& path, std::string_view data, std::string& err) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f) f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (f) f.close();
  if (!f) {
    err = "cannot write " + path;
    return false;
  }
  return true;
}

struct job {
  std::string in, out, oob_dir;
  int protocol = -1;
  brine::py2_encoding encoding = brine::py2_encoding::ascii;
  brine::cpython_profile profile = brine::cpython_profile::cpython_3_8_to_3_14;
  struct buf {
    std::string path;
    bool readonly;
  };
  std::vector<buf> buffers;
  bool any_buffer_arg = false;
};

bool parse(const std::vector<std::string>& args, job& j, std::string& err) {
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&](std::string& v) {
      if (i + 1 >= args.size()) {
        err = a + " needs an argument";
        return false;
      }
      v = args[++i];
      return true;
    };
    std::string v;
    if (a == "--protocol") {
      if (!next(v)) return false;
      if (v.size() != 1 || v[0] < '0' || v[0] > '5') {
        err = "bad protocol " + v;
        return false;
      }
      j.protocol = v[0] - '0';
    } else if (a == "--encoding") {
      if (!next(v)) return false;
      if (v == "ascii") j.encoding = brine::py2_encoding::ascii;
      else if (v == "latin1") j.encoding = brine::py2_encoding::latin1;
      else if (v == "utf8") j.encoding = brine::py2_encoding::utf8;
      else if (v == "bytes") j.encoding = brine::py2_encoding::bytes;
      else {
        err = "bad encoding " + v;
        return false;
      }
    } else if (a == "--profile") {
      if (!next(v)) return false;
      if (v == "default") j.profile = brine::cpython_profile::cpython_3_8_to_3_14;
      else if (v == "3.11") j.profile = brine::cpython_profile::cpython_3_11;
      else if (v == "3.15") j.profile = brine::cpython_profile::cpython_3_15;
      else {
        err = "bad profile " + v;
        return false;
      }
    } else if (a == "--buffer") {
      if (!next(v)) return false;
      bool ro = false;
      if (v.size() > 3 && v.compare(v.size() - 3, 3, ":ro") == 0) {
        ro = true;
        v.resize(v.size() - 3);
      } else if (v.size() > 3 && v.compare(v.size() - 3, 3, ":rw") == 0) {
        v.resize(v.size() - 3);
      }
      j.buffers.push_back({v, ro});
      j.any_buffer_arg = true;
    } else if (a == "--no-buffers") {
      j.any_buffer_arg = true;  // buffers=[] rather than no buffers argument
    } else if (a == "--oob") {
      if (!next(v)) return false;
      j.oob_dir = v;
    } else if (a.size() > 1 && a[0] == '-' && a[1] == '-') {
      err = "unknown option " + a;
      return false;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2 || j.protocol < 0) {
    err = "usage: brine_roundtrip IN.pkl OUT.pkl --protocol N [--encoding E] [--profile P] "
          "[--buffer FILE[:ro]]... [--oob OUTDIR]";
    return false;
  }
  j.in = positional[0];
  j.out = positional[1];
  return true;
}

bool run(const job& j, std::string& err) {
  std::string pickle;
  if (!read_file(j.in, pickle, err)) return false;
  std::vector<std::string> storage(j.buffers.size());
  brine::decode_options dopt;
  dopt.encoding = j.encoding;
  dopt.buffers_given = j.any_buffer_arg;
  for (std::size_t i = 0; i < j.buffers.size(); ++i) {
    if (!read_file(j.buffers[i].path, storage[i], err)) return false;
  }
  for (std::size_t i = 0; i < j.buffers.size(); ++i) {
    dopt.buffers.push_back(
        {std::as_bytes(std::span<const char>(storage[i].data(), storage[i].size())), j.buffers[i].readonly});
  }
  auto doc = brine::decode(std::string_view(pickle), dopt);
  if (!doc) {
    err = "decode: " + doc.error().to_string();
    return false;
  }
  brine::encode_options eopt;
  eopt.protocol = j.protocol;
  eopt.profile = j.profile;
  std::vector<std::string> oob;
  std::string flags;
  if (!j.oob_dir.empty()) {
    eopt.on_buffer = [&](brine::value, std::span<const std::byte> data, bool readonly) {
      oob.emplace_back(reinterpret_cast<const char*>(data.data()), data.size());
      flags += readonly ? "1\n" : "0\n";
      return false;
    };
  }
  auto out = brine::encode(doc->root(), eopt);
  if (!out) {
    err = "encode: " + out.error().to_string();
    return false;
  }
  if (!write_file(j.out, *out, err)) return false;
  if (!j.oob_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(j.oob_dir, ec);
    for (std::size_t i = 0; i < oob.size(); ++i) {
      if (!write_file(j.oob_dir + "/buf" + std::to_string(i), oob[i], err)) return false;
    }
    if (!write_file(j.oob_dir + "/readonly", flags, err)) return false;
  }
  return true;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "--batch") {
    std::ifstream f(args[1]);
    if (!f) {
      std::printf("cannot open %s\n", args[1].c_str());
      return 1;
    }
    std::string line;
    std::size_t number = 0;
    int status = 0;
    while (std::getline(f, line)) {
      ++number;
      if (line.empty()) continue;
      job j;
      std::string err;
      if (!parse(split_tabs(line), j, err) || !run(j, err)) {
        std::printf("job %zu: %s\n", number, err.c_str());
        status = 1;
      }
    }
    std::fflush(stdout);
    return status;
  }
  job j;
  std::string err;
  if (!parse(args, j, err) || !run(j, err)) {
    std::printf("%s\n", err.c_str());
    return 1;
  }
  return 0;
}
