// tests/properties/property_roundtrip.cpp — property: for a generated graph A (sharing and cycles
// included) and every protocol p in 0..5, decode(encode(A, p)) is equivalent to A.
//
// A is what brine decodes from a generated pickle (pickle_recipe.hpp) written at a random
// protocol. Equivalence is brine::equivalent: same kinds, equal scalars bit for bit, same items in
// order, and the same sharing (identity maps one to one in both directions). brine's output must
// also decode without warnings (CPython's pickler leaves nothing on the stack, puts PROTO first,
// never writes an opcode above the protocol).
//
// Where the target protocol cannot say what A holds, the property says what must happen instead:
//  * out-of-band buffers need protocol 5: below it, encode fails with errc::bad_argument.
//  * protocol 0 writes floats as repr() text, which keeps neither the sign nor the payload of a
//    NaN (CPython's float('nan') has one bit pattern; 'nan' reads back as it): documents holding
//    another NaN skip protocol 0.
// Sets and frozensets below protocol 4 (set(list) REDUCE) and bytes below 3 (_codecs.encode)
// come back through brine's folds, which the property covers on the way.
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "brine/decode.hpp"
#include "brine/encode.hpp"
#include "pickle_recipe.hpp"
#include "property_check.hpp"

namespace {

struct contents {
  bool buffers = false;
  bool odd_nan = false;  // a NaN other than float('nan')
};

// What A holds, reachable from its root: the nodes a decode left behind (POPped, POP_MARKed)
// are not encoded, so they must not count.
contents scan(const brine::value& root) {
  const brine::document& doc = root.doc();
  contents c;
  std::vector<bool> seen(doc.node_count(), false);
  std::vector<std::uint32_t> todo{root.id()};
  seen[root.id()] = true;
  while (!todo.empty()) {
    const brine::value v = doc.node(todo.back());
    todo.pop_back();
    if (v.kind() == brine::kind::buffer) c.buffers = true;
    if (v.kind() == brine::kind::floating && std::isnan(v.as_double()) &&
        std::bit_cast<std::uint64_t>(v.as_double()) != 0x7ff8000000000000ull)
      c.odd_nan = true;
    std::span<const std::uint32_t> kids;
    switch (v.kind()) {
      case brine::kind::tuple: case brine::kind::list: case brine::kind::set: case brine::kind::frozenset:
        kids = v.items().ids();
        break;
      case brine::kind::dict: kids = v.pairs().ids(); break;
      default: break;
    }
    for (const std::uint32_t k : kids)
      if (!seen[k]) {
        seen[k] = true;
        todo.push_back(k);
      }
  }
  return c;
}

}  // namespace

TEST_CASE("decode(encode(A, p)) is equivalent to A for generated graphs, p = 0..5") {
  brine_prop::check("roundtrip", 5000, [] {
    const brine_prop::graph_recipe g = *brine_prop::gen_graph();
    const std::string source = brine_prop::write_pickle(g);
    const brine::decode_options options = brine_prop::options_with_buffers();
    const auto a = brine::decode(source, options);
    if (!a) {
      const std::string why = "brine rejects the generated pickle: " + a.error().to_string() + "\n" +
                              brine_prop::describe_pickle(source);
      RC_FAIL(why);
    }
    const brine_prop::graph_stats stats = brine_prop::stats_of(a->root());
    RC_CLASSIFY(stats.shared, "sharing");
    RC_CLASSIFY(stats.cycle && !stats.tuple_cycle, "cycle");
    RC_CLASSIFY(stats.tuple_cycle, "recursive tuple");
    RC_CLASSIFY(stats.reachable >= 20, "20+ nodes");
    const contents has = scan(a->root());
    std::vector<brine::oob_buffer> buffers;
    for (int p = 0; p <= 5; ++p) {
      const auto b = brine::encode(a->root(), brine_prop::out_of_band(p, buffers));
      if (has.buffers && p < 5) {
        RC_ASSERT(!b.has_value());
        RC_ASSERT(b.error().code == brine::errc::bad_argument);
        continue;
      }
      if (has.odd_nan && p == 0) continue;
      const std::string context = "protocol " + std::to_string(p) + "\nA = " + brine_prop::describe_value(a->root()) +
                                  "\nsource (protocol " + std::to_string(g.protocol) + "):\n" +
                                  brine_prop::describe_pickle(source);
      if (!b) {
        const std::string why = "encode fails: " + b.error().to_string() + "\n" + context;
        RC_FAIL(why);
      }
      const auto c = brine::decode(*b, brine_prop::options_with(buffers));
      if (!c) {
        const std::string why = "decode(encode(A)) fails: " + c.error().to_string() + "\n" + context +
                                "encoded:\n" + brine_prop::describe_pickle(*b);
        RC_FAIL(why);
      }
      if (!c->warnings().empty()) {
        const std::string why = "decode(encode(A)) warns: " + std::string(brine::warning_name(c->warnings()[0].code)) +
                                " at " + std::to_string(c->warnings()[0].offset) + "\n" + context + "encoded:\n" +
                                brine_prop::describe_pickle(*b);
        RC_FAIL(why);
      }
      if (!brine::equivalent(a->root(), c->root())) {
        const std::string why = "decode(encode(A)) is not equivalent to A\n" + context + "C = " +
                                brine_prop::describe_value(c->root()) + "\nencoded:\n" +
                                brine_prop::describe_pickle(*b);
        RC_FAIL(why);
      }
    }
  });
}
