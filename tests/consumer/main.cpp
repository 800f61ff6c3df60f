#include <brine/brine.hpp>

int main() {
  auto doc = brine::decode(std::string_view("\x80\x04K*.", 5));
  return doc && doc->root().as_int64() == 42 ? 0 : 1;
}
