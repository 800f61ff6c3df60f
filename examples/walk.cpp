// The README's example: decode a pickle and walk the result. Usage: walk FILE
#include <brine/brine.hpp>

#include <fstream>
#include <iostream>
#include <iterator>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::ifstream in(argv[1], std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), {}};
  auto doc = brine::decode_owned(std::move(bytes));           // the document owns the bytes
  if (!doc) { std::cerr << doc.error().to_string() << "\n"; return 1; }
  brine::value root = doc->root();
  if (root.is(brine::kind::dict))
    for (std::size_t i = 0; i + 1 < root.pairs().size(); i += 2) {
      brine::value key = root.pairs()[i], val = root.pairs()[i + 1];
      std::cout << (key.is(brine::kind::str) ? key.as_str() : "?") << ": "
                << brine::kind_name(val.kind()) << " at offset " << val.offset() << "\n";
    }
  return 0;
}
