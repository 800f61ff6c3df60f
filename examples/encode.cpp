// The README's encoding example: writes the pickle to standard output; the test suite has CPython
// load it and compare (examples/CMakeLists.txt).
#include <brine/convert.hpp>
#include <brine/decode.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

int main() {
  std::map<std::string, std::vector<double>> series{{"temp", {20.5, 21.0}}, {"hum", {0.4}}};
  auto bytes = brine::pickle(series);             // == pickle.dumps({'hum': [0.4], 'temp': [20.5, 21.0]}, 5)
  auto back = brine::from_value<decltype(series)>(brine::decode(*bytes)->root());
  if (!bytes || !back || *back != series) return 1;
  std::fwrite(bytes->data(), 1, bytes->size(), stdout);
  return 0;
}
