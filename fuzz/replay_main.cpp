// fuzz/replay_main.cpp — runs a fuzz target over files, so every target also builds and runs
// without libFuzzer (g++, normal and sanitizer builds) and CTest can replay its corpus.
//
//   <target> [-flag ...] <file or directory> ...
//
// Directories are read recursively, files in sorted order (hidden files skipped). Each input is
// copied into a heap block of exactly its size, as libFuzzer does, so ASan sees any read past its
// end. Arguments starting with '-' are libFuzzer flags and are ignored, so scripts can call both
// kinds of binary the same way. A broken property aborts; the path of the input being run is
// printed first. Exit status: 0 when every input ran, 1 when a path is missing or unreadable or no
// input was found at all (an empty replay is a configuration error, not a pass).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool collect(const fs::path& path, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    out.push_back(path);
    return true;
  }
  if (!fs::is_directory(path, ec)) {
    std::fprintf(stderr, "replay: no such file or directory: %s\n", path.string().c_str());
    return false;
  }
  std::vector<fs::path> found;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) found.push_back(it->path());
  }
  if (ec) {
    std::fprintf(stderr, "replay: cannot read %s: %s\n", path.string().c_str(), ec.message().c_str());
    return false;
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
  return true;
}

bool run_one(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.string().c_str());
    return false;
  }
  std::fprintf(stderr, "Running: %s (%zu bytes)\n", path.string().c_str(), bytes.size());
  auto copy = std::make_unique<std::uint8_t[]>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(copy.get()));
  LLVMFuzzerTestOneInput(copy.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("-")) continue;
    ok = collect(arg, inputs) && ok;
  }
  for (const auto& path : inputs) ok = run_one(path) && ok;
  std::fprintf(stderr, "replay: %zu inputs\n", inputs.size());
  if (inputs.empty()) std::fprintf(stderr, "replay: usage: %s <file or directory>...\n", argc > 0 ? argv[0] : "target");
  return ok && !inputs.empty() ? 0 : 1;
}
