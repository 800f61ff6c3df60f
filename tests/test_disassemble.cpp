// tests/test_disassemble.cpp — brine::disassemble against CPython 3.11's pickletools.dis.
#include "brine/disassemble.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "brine/error.hpp"

using namespace std::literals;

namespace {

// DATA0..DATA4 and DATA0_DIS..DATA4_DIS are transcribed from CPython's Lib/test/pickletester.py
// (Copyright (c) 2001 Python Software Foundation; PSF License Agreement). The pickles are rewritten
// with octal escapes; the listings are kept as pickletools prints them (the Python source holds them
// in non-raw strings, so its "\x80" is one character there, four here).

// DATA0
constexpr std::string_view data0_pickle =
    "(lp0\nL0L\naL1L\naF2.0\nac__"
    "builtin__\ncomplex\np1\n(F3"
    ".0\nF0.0\ntp2\nRp3\naL1L\naL-"
    "1L\naL255L\naL-255L\naL-256"
    "L\naL65535L\naL-65535L\naL-"
    "65536L\naL2147483647L\naL-"
    "2147483647L\naL-214748364"
    "8L\na(Vabc\np4\ng4\nccopy_re"
    "g\n_reconstructor\np5\n(c__"
    "main__\nC\np6\nc__builtin__"
    "\nobject\np7\nNtp8\nRp9\n(dp1"
    "0\nVfoo\np11\nL1L\nsVbar\np12"
    "\nL2L\nsbg9\ntp13\nag13\naL5L"
    "\na."sv;
constexpr std::string_view data0_dis = R"(    0: (    MARK
    1: l        LIST       (MARK at 0)
    2: p    PUT        0
    5: L    LONG       0
    9: a    APPEND
   10: L    LONG       1
   14: a    APPEND
   15: F    FLOAT      2.0
   20: a    APPEND
   21: c    GLOBAL     '__builtin__ complex'
   42: p    PUT        1
   45: (    MARK
   46: F        FLOAT      3.0
   51: F        FLOAT      0.0
   56: t        TUPLE      (MARK at 45)
   57: p    PUT        2
   60: R    REDUCE
   61: p    PUT        3
   64: a    APPEND
   65: L    LONG       1
   69: a    APPEND
   70: L    LONG       -1
   75: a    APPEND
   76: L    LONG       255
   82: a    APPEND
   83: L    LONG       -255
   90: a    APPEND
   91: L    LONG       -256
   98: a    APPEND
   99: L    LONG       65535
  107: a    APPEND
  108: L    LONG       -65535
  117: a    APPEND
  118: L    LONG       -65536
  127: a    APPEND
  128: L    LONG       2147483647
  141: a    APPEND
  142: L    LONG       -2147483647
  156: a    APPEND
  157: L    LONG       -2147483648
  171: a    APPEND
  172: (    MARK
  173: V        UNICODE    'abc'
  178: p        PUT        4
  181: g        GET        4
  184: c        GLOBAL     'copy_reg _reconstructor'
  209: p        PUT        5
  212: (        MARK
  213: c            GLOBAL     '__main__ C'
  225: p            PUT        6
  228: c            GLOBAL     '__builtin__ object'
  248: p            PUT        7
  251: N            NONE
  252: t            TUPLE      (MARK at 212)
  253: p        PUT        8
  256: R        REDUCE
  257: p        PUT        9
  260: (        MARK
  261: d            DICT       (MARK at 260)
  262: p        PUT        10
  266: V        UNICODE    'foo'
  271: p        PUT        11
  275: L        LONG       1
  279: s        SETITEM
  280: V        UNICODE    'bar'
  285: p        PUT        12
  289: L        LONG       2
  293: s        SETITEM
  294: b        BUILD
  295: g        GET        9
  298: t        TUPLE      (MARK at 172)
  299: p    PUT        13
  303: a    APPEND
  304: g    GET        13
  308: a    APPEND
  309: L    LONG       5
  313: a    APPEND
  314: .    STOP
highest protocol among opcodes = 0
)"sv;
// DATA1
constexpr std::string_view data1_pickle =
    "]q\000(K\000K\001G@\000\000\000\000\000\000\000c__buil"
    "tin__\ncomplex\nq\001(G@\010\000\000\000\000"
    "\000\000G\000\000\000\000\000\000\000\000tq\002Rq\003K\001J\377\377\377\377"
    "K\377J\001\377\377\377J\000\377\377\377M\377\377J\001\000\377\377J\000\000\377"
    "\377J\377\377\377\177J\001\000\000\200J\000\000\000\200(X\003\000\000\000ab"
    "cq\004h\004ccopy_reg\n_reconstr"
    "uctor\nq\005(c__main__\nC\nq\006c"
    "__builtin__\nobject\nq\007Ntq"
    "\010Rq\011}q\n(X\003\000\000\000fooq\013K\001X\003\000\000"
    "\000barq\014K\002ubh\011tq\015h\015K\005e."sv;
constexpr std::string_view data1_dis = R"(    0: ]    EMPTY_LIST
    1: q    BINPUT     0
    3: (    MARK
    4: K        BININT1    0
    6: K        BININT1    1
    8: G        BINFLOAT   2.0
   17: c        GLOBAL     '__builtin__ complex'
   38: q        BINPUT     1
   40: (        MARK
   41: G            BINFLOAT   3.0
   50: G            BINFLOAT   0.0
   59: t            TUPLE      (MARK at 40)
   60: q        BINPUT     2
   62: R        REDUCE
   63: q        BINPUT     3
   65: K        BININT1    1
   67: J        BININT     -1
   72: K        BININT1    255
   74: J        BININT     -255
   79: J        BININT     -256
   84: M        BININT2    65535
   87: J        BININT     -65535
   92: J        BININT     -65536
   97: J        BININT     2147483647
  102: J        BININT     -2147483647
  107: J        BININT     -2147483648
  112: (        MARK
  113: X            BINUNICODE 'abc'
  121: q            BINPUT     4
  123: h            BINGET     4
  125: c            GLOBAL     'copy_reg _reconstructor'
  150: q            BINPUT     5
  152: (            MARK
  153: c                GLOBAL     '__main__ C'
  165: q                BINPUT     6
  167: c                GLOBAL     '__builtin__ object'
  187: q                BINPUT     7
  189: N                NONE
  190: t                TUPLE      (MARK at 152)
  191: q            BINPUT     8
  193: R            REDUCE
  194: q            BINPUT     9
  196: }            EMPTY_DICT
  197: q            BINPUT     10
  199: (            MARK
  200: X                BINUNICODE 'foo'
  208: q                BINPUT     11
  210: K                BININT1    1
  212: X                BINUNICODE 'bar'
  220: q                BINPUT     12
  222: K                BININT1    2
  224: u                SETITEMS   (MARK at 199)
  225: b            BUILD
  226: h            BINGET     9
  228: t            TUPLE      (MARK at 112)
  229: q        BINPUT     13
  231: h        BINGET     13
  233: K        BININT1    5
  235: e        APPENDS    (MARK at 3)
  236: .    STOP
highest protocol among opcodes = 1
)"sv;
// DATA2
constexpr std::string_view data2_pickle =
    "\200\002]q\000(K\000K\001G@\000\000\000\000\000\000\000c__bu"
    "iltin__\ncomplex\nq\001G@\010\000\000\000"
    "\000\000\000G\000\000\000\000\000\000\000\000\206q\002Rq\003K\001J\377\377\377"
    "\377K\377J\001\377\377\377J\000\377\377\377M\377\377J\001\000\377\377J\000\000"
    "\377\377J\377\377\377\177J\001\000\000\200J\000\000\000\200(X\003\000\000\000a"
    "bcq\004h\004c__main__\nC\nq\005)\201q\006"
    "}q\007(X\003\000\000\000fooq\010K\001X\003\000\000\000bar"
    "q\011K\002ubh\006tq\nh\nK\005e."sv;
constexpr std::string_view data2_dis = R"(    0: \x80 PROTO      2
    2: ]    EMPTY_LIST
    3: q    BINPUT     0
    5: (    MARK
    6: K        BININT1    0
    8: K        BININT1    1
   10: G        BINFLOAT   2.0
   19: c        GLOBAL     '__builtin__ complex'
   40: q        BINPUT     1
   42: G        BINFLOAT   3.0
   51: G        BINFLOAT   0.0
   60: \x86     TUPLE2
   61: q        BINPUT     2
   63: R        REDUCE
   64: q        BINPUT     3
   66: K        BININT1    1
   68: J        BININT     -1
   73: K        BININT1    255
   75: J        BININT     -255
   80: J        BININT     -256
   85: M        BININT2    65535
   88: J        BININT     -65535
   93: J        BININT     -65536
   98: J        BININT     2147483647
  103: J        BININT     -2147483647
  108: J        BININT     -2147483648
  113: (        MARK
  114: X            BINUNICODE 'abc'
  122: q            BINPUT     4
  124: h            BINGET     4
  126: c            GLOBAL     '__main__ C'
  138: q            BINPUT     5
  140: )            EMPTY_TUPLE
  141: \x81         NEWOBJ
  142: q            BINPUT     6
  144: }            EMPTY_DICT
  145: q            BINPUT     7
  147: (            MARK
  148: X                BINUNICODE 'foo'
  156: q                BINPUT     8
  158: K                BININT1    1
  160: X                BINUNICODE 'bar'
  168: q                BINPUT     9
  170: K                BININT1    2
  172: u                SETITEMS   (MARK at 147)
  173: b            BUILD
  174: h            BINGET     6
  176: t            TUPLE      (MARK at 113)
  177: q        BINPUT     10
  179: h        BINGET     10
  181: K        BININT1    5
  183: e        APPENDS    (MARK at 5)
  184: .    STOP
highest protocol among opcodes = 2
)"sv;
// DATA3
constexpr std::string_view data3_pickle =
    "\200\003]q\000(K\000K\001G@\000\000\000\000\000\000\000cbuil"
    "tins\ncomplex\nq\001G@\010\000\000\000\000\000\000"
    "G\000\000\000\000\000\000\000\000\206q\002Rq\003K\001J\377\377\377\377K\377"
    "J\001\377\377\377J\000\377\377\377M\377\377J\001\000\377\377J\000\000\377\377J"
    "\377\377\377\177J\001\000\000\200J\000\000\000\200(X\003\000\000\000abcq"
    "\004h\004c__main__\nC\nq\005)\201q\006}q\007"
    "(X\003\000\000\000barq\010K\002X\003\000\000\000fooq\011K"
    "\001ubh\006tq\nh\nK\005e."sv;
constexpr std::string_view data3_dis = R"(    0: \x80 PROTO      3
    2: ]    EMPTY_LIST
    3: q    BINPUT     0
    5: (    MARK
    6: K        BININT1    0
    8: K        BININT1    1
   10: G        BINFLOAT   2.0
   19: c        GLOBAL     'builtins complex'
   37: q        BINPUT     1
   39: G        BINFLOAT   3.0
   48: G        BINFLOAT   0.0
   57: \x86     TUPLE2
   58: q        BINPUT     2
   60: R        REDUCE
   61: q        BINPUT     3
   63: K        BININT1    1
   65: J        BININT     -1
   70: K        BININT1    255
   72: J        BININT     -255
   77: J        BININT     -256
   82: M        BININT2    65535
   85: J        BININT     -65535
   90: J        BININT     -65536
   95: J        BININT     2147483647
  100: J        BININT     -2147483647
  105: J        BININT     -2147483648
  110: (        MARK
  111: X            BINUNICODE 'abc'
  119: q            BINPUT     4
  121: h            BINGET     4
  123: c            GLOBAL     '__main__ C'
  135: q            BINPUT     5
  137: )            EMPTY_TUPLE
  138: \x81         NEWOBJ
  139: q            BINPUT     6
  141: }            EMPTY_DICT
  142: q            BINPUT     7
  144: (            MARK
  145: X                BINUNICODE 'bar'
  153: q                BINPUT     8
  155: K                BININT1    2
  157: X                BINUNICODE 'foo'
  165: q                BINPUT     9
  167: K                BININT1    1
  169: u                SETITEMS   (MARK at 144)
  170: b            BUILD
  171: h            BINGET     6
  173: t            TUPLE      (MARK at 110)
  174: q        BINPUT     10
  176: h        BINGET     10
  178: K        BININT1    5
  180: e        APPENDS    (MARK at 5)
  181: .    STOP
highest protocol among opcodes = 2
)"sv;
// DATA4
constexpr std::string_view data4_pickle =
    "\200\004\225\250\000\000\000\000\000\000\000]\224(K\000K\001G@\000\000\000\000"
    "\000\000\000\214\010builtins\224\214\007complex\224"
    "\223\224G@\010\000\000\000\000\000\000G\000\000\000\000\000\000\000\000\206\224R\224"
    "K\001J\377\377\377\377K\377J\001\377\377\377J\000\377\377\377M\377\377J\001"
    "\000\377\377J\000\000\377\377J\377\377\377\177J\001\000\000\200J\000\000\000\200("
    "\214\003abc\224h\006\214\010__main__\224\214\001C\224\223"
    "\224)\201\224}\224(\214\003bar\224K\002\214\003foo\224K\001u"
    "bh\nt\224h\016K\005e."sv;
constexpr std::string_view data4_dis = R"(    0: \x80 PROTO      4
    2: \x95 FRAME      168
   11: ]    EMPTY_LIST
   12: \x94 MEMOIZE
   13: (    MARK
   14: K        BININT1    0
   16: K        BININT1    1
   18: G        BINFLOAT   2.0
   27: \x8c     SHORT_BINUNICODE 'builtins'
   37: \x94     MEMOIZE
   38: \x8c     SHORT_BINUNICODE 'complex'
   47: \x94     MEMOIZE
   48: \x93     STACK_GLOBAL
   49: \x94     MEMOIZE
   50: G        BINFLOAT   3.0
   59: G        BINFLOAT   0.0
   68: \x86     TUPLE2
   69: \x94     MEMOIZE
   70: R        REDUCE
   71: \x94     MEMOIZE
   72: K        BININT1    1
   74: J        BININT     -1
   79: K        BININT1    255
   81: J        BININT     -255
   86: J        BININT     -256
   91: M        BININT2    65535
   94: J        BININT     -65535
   99: J        BININT     -65536
  104: J        BININT     2147483647
  109: J        BININT     -2147483647
  114: J        BININT     -2147483648
  119: (        MARK
  120: \x8c         SHORT_BINUNICODE 'abc'
  125: \x94         MEMOIZE
  126: h            BINGET     6
  128: \x8c         SHORT_BINUNICODE '__main__'
  138: \x94         MEMOIZE
  139: \x8c         SHORT_BINUNICODE 'C'
  142: \x94         MEMOIZE
  143: \x93         STACK_GLOBAL
  144: \x94         MEMOIZE
  145: )            EMPTY_TUPLE
  146: \x81         NEWOBJ
  147: \x94         MEMOIZE
  148: }            EMPTY_DICT
  149: \x94         MEMOIZE
  150: (            MARK
  151: \x8c             SHORT_BINUNICODE 'bar'
  156: \x94             MEMOIZE
  157: K                BININT1    2
  159: \x8c             SHORT_BINUNICODE 'foo'
  164: \x94             MEMOIZE
  165: K                BININT1    1
  167: u                SETITEMS   (MARK at 150)
  168: b            BUILD
  169: h            BINGET     10
  171: t            TUPLE      (MARK at 119)
  172: \x94     MEMOIZE
  173: h        BINGET     14
  175: K        BININT1    5
  177: e        APPENDS    (MARK at 13)
  178: .    STOP
highest protocol among opcodes = 4
)"sv;

std::string dis(std::string_view pickle, const brine::dis_options& options = {}) {
  std::string out;
  (void)brine::disassemble(pickle, out, options);
  return out;
}

brine::error dis_error(std::string_view pickle, std::string* listing = nullptr,
                       const brine::dis_options& options = {}) {
  std::string out;
  auto r = brine::disassemble(pickle, out, options);
  REQUIRE_FALSE(r.has_value());
  if (listing != nullptr) *listing = out;
  return r.error();
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot open ", path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("pickletester DATA0..DATA3 listings are reproduced exactly") {
  CHECK(dis(data0_pickle) == data0_dis);
  CHECK(dis(data1_pickle) == data1_dis);
  CHECK(dis(data2_pickle) == data2_dis);
  CHECK(dis(data3_pickle) == data3_dis);
}

TEST_CASE("pickletester DATA4: the same listing plus the MEMOIZE indices of 3.11") {
  // DATA4_DIS predates pickletools' "(as N)" annotation of MEMOIZE (CPython's tests never compare
  // it); with that annotation removed the listings are identical. The full 3.11 output is checked
  // by the tests/data/dis corpus.
  const std::string got = dis(data4_pickle);
  CHECK(got.find("   12: \\x94 MEMOIZE    (as 0)\n") != std::string::npos);
  CHECK(got.find("  172: \\x94     MEMOIZE    (as 14)\n") != std::string::npos);
  CHECK(std::regex_replace(got, std::regex("    \\(as [0-9]+\\)"), "") == data4_dis);
}

TEST_CASE("the tests/data/dis corpus: pickletools output, status and error location") {
  // Generated by tests/data/dis/generate.py with CPython 3.11.
  const std::string dir = std::string(BRINE_SOURCE_DIR) + "/tests/data/dis/";
  std::istringstream manifest(read_file(dir + "MANIFEST"));
  std::string name, status;
  int annotate = 0, opcode = 0;
  std::uint64_t offset = 0;
  int cases = 0;
  while (manifest >> name >> annotate >> status >> offset >> opcode) {
    ++cases;
    CAPTURE(name);
    const std::string pickle = read_file(dir + name + ".pkl");
    const std::string expected = read_file(dir + name + ".dis");
    brine::dis_options options;
    options.annotate = annotate;
    std::string out;
    const auto r = brine::disassemble(pickle, out, options);
    CHECK(out == expected);
    if (status == "ok" || status == "leftover") {
      REQUIRE(r.has_value());
      CHECK((r->leftover_stack != 0) == (status == "leftover"));
    } else {
      REQUIRE_FALSE(r.has_value());
      CHECK(brine::errc_name(r.error().code) == status);
      CHECK(r.error().offset == offset);
      CHECK(r.error().opcode == opcode);
    }
  }
  CHECK(cases > 300);
}

TEST_CASE("summary") {
  std::string out;
  const auto r = brine::disassemble("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01K\x02.garbage"sv, out);
  REQUIRE(r.has_value());
  CHECK(r->highest_protocol == 4);
  CHECK(r->opcodes == 5);
  CHECK(r->stop_offset == 15);
  CHECK(r->end_offset == 16);
  CHECK(r->leftover_stack == 1);
  CHECK(out.ends_with("   15: .    STOP\nhighest protocol among opcodes = 4\n"));
}

TEST_CASE("appends to the caller's string") {
  std::string out = "before\n";
  REQUIRE(brine::disassemble("N."sv, out).has_value());
  CHECK(out == "before\n    0: N    NONE\n    1: .    STOP\nhighest protocol among opcodes = 0\n");
}

TEST_CASE("indent and annotate options") {
  // Expected text printed by pickletools.dis(..., indentlevel=1) and (..., annotate=20 / 1).
  brine::dis_options o;
  o.indent = 1;
  CHECK(dis("(N(0t."sv, o) ==
        "    0: (    MARK\n"
        "    1: N     NONE\n"
        "    2: (     MARK\n"
        "    3: 0      POP        (MARK at 2)\n"
        "    4: t     TUPLE      (MARK at 0)\n"
        "    5: .    STOP\n"
        "highest protocol among opcodes = 0\n");
  o = {};
  o.annotate = 20;
  CHECK(dis("K\x01\x85."sv, o) ==
        "    0: K    BININT1    1    Push a one-byte unsigned integer.\n"
        "    2: \\x85 TUPLE1          Build a one-tuple out of the topmost item on the stack.\n"
        "    3: .    STOP            Stop the unpickling machine.\n"
        "highest protocol among opcodes = 2\n");
  // The annotation column only moves right, until it passes 50 and falls back to the hint.
  o.annotate = 1;
  CHECK(dis("\x80\x04\x8c\x04" "abcd\x94\x8c\x14xxxxxxxxxxxxxxxxxxxx\x94\x86(K\x01K\x02\x91\x86."sv, o) ==
        "    0: \\x80 PROTO      4 Protocol version indicator.\n"
        "    2: \\x8c SHORT_BINUNICODE 'abcd' Push a Python Unicode string object.\n"
        "    8: \\x94 MEMOIZE    (as 0)       Store the stack top into the memo.  The stack is not popped.\n"
        "    9: \\x8c SHORT_BINUNICODE 'xxxxxxxxxxxxxxxxxxxx' Push a Python Unicode string object.\n"
        "   31: \\x94 MEMOIZE    (as 1)                       Store the stack top into the memo.  The stack is "
        "not popped.\n"
        "   32: \\x86 TUPLE2                                  Build a two-tuple out of the top two items on the "
        "stack.\n"
        "   33: (    MARK                                    Push markobject onto the stack.\n"
        "   34: K        BININT1    1                        Push a one-byte unsigned integer.\n"
        "   36: K        BININT1    2                        Push a one-byte unsigned integer.\n"
        "   38: \\x91     FROZENSET  (MARK at 33)             Build a frozenset out of the topmost slice, after "
        "markobject.\n"
        "   39: \\x86 TUPLE2                                  Build a two-tuple out of the top two items on the "
        "stack.\n"
        "   40: .    STOP                                    Stop the unpickling machine.\n"
        "highest protocol among opcodes = 4\n");
}

TEST_CASE("the sink receives the same text in bounded chunks") {
  // 30,000 BININT1 + POP pairs: about 1.4 MB of listing.
  std::string pickle;
  for (int i = 0; i < 30000; ++i) pickle += "K\x07" "0";
  pickle += "N.";
  std::string whole;
  REQUIRE(brine::disassemble(pickle, whole).has_value());
  struct collected {
    std::string text;
    std::size_t chunks = 0, largest = 0;
  } c;
  brine::text_sink sink{&c, [](void* ctx, std::string_view chunk) {
                          auto* self = static_cast<collected*>(ctx);
                          self->text += chunk;
                          ++self->chunks;
                          self->largest = std::max(self->largest, chunk.size());
                        }};
  const auto r = brine::disassemble(std::as_bytes(std::span(pickle.data(), pickle.size())), sink);
  REQUIRE(r.has_value());
  CHECK(c.text == whole);
  CHECK(c.chunks > 10);
  CHECK(c.largest < 70 * 1024);
  CHECK(brine::disassemble(std::span<const std::byte>(), brine::text_sink{}).error().code ==
        brine::errc::bad_argument);
}

TEST_CASE("errors: code, offset and opcode, with what pickletools prints first") {
  std::string listing;
  brine::error e;

  // "K\x01K"                     BININT1 needs one more byte
  //       ^ offset 2
  e = dis_error("K\x01K"sv, &listing);
  CHECK(e.code == brine::errc::truncated);
  CHECK(e.offset == 2);
  CHECK(e.opcode == 'K');
  CHECK(listing == "    0: K    BININT1    1\n");

  // "N"                          no STOP: the offset is the end of the input, no opcode
  //   ^ offset 1
  e = dis_error("N"sv);
  CHECK(e.code == brine::errc::truncated);
  CHECK(e.offset == 1);
  CHECK(e.opcode == -1);

  // "N\xff."
  //   ^ offset 1
  e = dis_error("N\xff."sv);
  CHECK(e.code == brine::errc::invalid_opcode);
  CHECK(e.offset == 1);
  CHECK(e.opcode == 0xff);
  CHECK(e.message == "at position 1, opcode b'\\xff' unknown");

  // "\x8e" + 8-byte length 2^63 + "abc": rejected before any arithmetic on it
  //   ^ offset 0
  e = dis_error("\x8e\x00\x00\x00\x00\x00\x00\x00\x80" "abc"sv, &listing);
  CHECK(e.code == brine::errc::length_overflow);
  CHECK(e.offset == 0);
  CHECK(e.detail == (std::uint64_t{1} << 63));
  CHECK(listing.empty());

  // 2^63 - 1 is only too long for what remains
  e = dis_error("\x8e\xff\xff\xff\xff\xff\xff\xff\x7f" "abc"sv);
  CHECK(e.code == brine::errc::truncated);
  CHECK(e.message == "expected 9223372036854775807 bytes in a bytes8, but only 3 remain");

  // "T\xff\xff\xff\xff."        BINSTRING with a negative length
  //   ^ offset 0
  e = dis_error("T\xff\xff\xff\xff."sv);
  CHECK(e.code == brine::errc::negative_length);
  CHECK(e.offset == 0);

  // "NNa."                       APPEND is fine; then STOP; one item left: success
  CHECK(brine::disassemble("NNa."sv, listing).has_value());

  // "Na."                        APPEND pops two items from a stack of one: the line is printed
  //   ^ offset 1
  e = dis_error("Na."sv, &listing);
  CHECK(e.code == brine::errc::stack_underflow);
  CHECK(e.offset == 1);
  CHECK(e.message == "tries to pop 2 items from stack with only 1 items");
  CHECK(listing == "    0: N    NONE\n    1: a    APPEND\n");

  // "Ne."                        APPENDS without a MARK
  //   ^ offset 1
  e = dis_error("Ne."sv, &listing);
  CHECK(e.code == brine::errc::mark_not_found);
  CHECK(e.offset == 1);
  CHECK(listing == "    0: N    NONE\n    1: e    APPENDS    no MARK exists on stack\n");

  // "((Nal."                     APPEND pops the inner MARK as an ordinary item; LIST still
  //                              reports MARK at 1 but pops down to the MARK item of offset 0
  CHECK(dis("((Nal."sv) ==
        "    0: (    MARK\n    1: (        MARK\n    2: N            NONE\n    3: a            APPEND\n"
        "    4: l            LIST       (MARK at 1)\n    5: .        STOP\n"
        "highest protocol among opcodes = 0\n");
  // "(2t."                       DUP replaces the MARK with two items: TUPLE finds no MARK item
  //    ^ offset 2                and pickletools dies (IndexError) after printing the position
  e = dis_error("(2t."sv, &listing);
  CHECK(e.code == brine::errc::mark_not_found);
  CHECK(e.offset == 2);
  CHECK(listing == "    0: (    MARK\n    1: 2        DUP\n    2: ");

  // "\x94."                      MEMOIZE on an empty stack
  e = dis_error("\x94."sv, &listing);
  CHECK(e.code == brine::errc::stack_underflow);
  CHECK(listing == "    0: \\x94 MEMOIZE    (as 0)\n");

  // "(q\x00."                    storing a MARK
  //  ^ offset 1
  e = dis_error("(q\x00."sv);
  CHECK(e.code == brine::errc::unexpected_mark);
  CHECK(e.offset == 1);

  // "Nq\x00q\x00."               memo key 0 stored twice
  //        ^ offset 3
  e = dis_error("Nq\x00q\x00."sv);
  CHECK(e.code == brine::errc::bad_memo_index);
  CHECK(e.offset == 3);
  CHECK(e.detail == 0);
  CHECK(e.message == "memo key 0 already defined");

  // "N\x94\x94."                 MEMOIZE twice on one object is fine (keys 0 and 1); after
  // "Nq\x01" the next MEMOIZE picks key 1, already taken
  CHECK(dis_error("Nq\x01\x94."sv).message == "memo key None already defined");

  // "Nh\x05."                    memo key 5 never stored
  //   ^ offset 1
  e = dis_error("Nh\x05."sv);
  CHECK(e.code == brine::errc::memo_miss);
  CHECK(e.offset == 1);
  CHECK(e.detail == 5);

  // "I12x\n."                    int() rejects the text
  e = dis_error("I12x\n."sv);
  CHECK(e.code == brine::errc::bad_number);
  CHECK(e.message == "invalid literal for int() with base 10: b'12x'");

  // "S'abc\n."                   unbalanced quotes
  CHECK(dis_error("S'abc\n."sv).code == brine::errc::bad_string_quote);
  // "S'\xe9'\n."                 not ASCII
  CHECK(dis_error("S'\xe9'\n."sv).code == brine::errc::decode_error);
  // "S'\x4'\n."                  bad \x escape
  CHECK(dis_error("S'\\x4'\n."sv).code == brine::errc::bad_escape);
  // "V\u00\n."                   truncated \u escape
  CHECK(dis_error("V\\u00\n."sv).code == brine::errc::bad_escape);
  // "\x8c\x01\xff."              not UTF-8
  CHECK(dis_error("\x8c\x01\xff."sv).code == brine::errc::invalid_utf8);
}

TEST_CASE("ints of more than 4300 digits fail where pickletools does") {
  // INT text: int() refuses to parse it, nothing is printed for the opcode.
  std::string listing;
  const std::string text = "I" + std::string(4301, '1') + "\n.";
  auto e = dis_error(text, &listing);
  CHECK(e.code == brine::errc::limit_exceeded);
  CHECK(e.detail == static_cast<std::uint64_t>(brine::limit::max_int_digits));
  CHECK(listing.empty());
  CHECK(dis("I" + std::string(4300, '1') + "\n.").size() > 4300);
  // LONG4: the value is read, repr() refuses it after the position is printed.
  std::string long4 = "N0\x8b\x00\x10\x00\x00"s + std::string(4096, '\x11') + ".";
  e = dis_error(long4, &listing);
  CHECK(e.code == brine::errc::limit_exceeded);
  CHECK(e.offset == 2);
  CHECK(listing == "    0: N    NONE\n    1: 0    POP\n    2: ");
}

TEST_CASE("MARK nesting limit") {
  const std::string marks(2000, '(');
  std::string listing;
  brine::dis_options o;
  o.max_mark_depth = 100;
  const auto e = dis_error(marks, &listing, o);
  CHECK(e.code == brine::errc::limit_exceeded);
  CHECK(e.detail == static_cast<std::uint64_t>(brine::limit::max_nesting));
  CHECK(e.offset == 100);
  CHECK(std::count(listing.begin(), listing.end(), '\n') == 100);
  o.max_mark_depth = 0;  // no limit: pickletools' behaviour, output quadratic in the depth
  CHECK(dis_error(marks, &listing, o).code == brine::errc::truncated);
  CHECK(listing.size() > 4 * 1999 * 2000 / 2);
}

TEST_CASE("huge stacks and memos stay linear") {
  // 200,000 items left on the stack; 2^18 memo entries through MEMOIZE, then keys near 2^32
  // through LONG_BINPUT (kept out of the dense bitmap).
  std::string many(200000, 'N');
  many += '.';
  std::string out;
  auto r = brine::disassemble(many, out);
  REQUIRE(r.has_value());
  CHECK(r->leftover_stack == 199999);
  std::string memo = "N";
  for (int i = 0; i < (1 << 18); ++i) memo += '\x94';
  for (int i = 0; i < 1000; ++i) memo += "r\xff\xff"s + static_cast<char>(i & 0xff) + static_cast<char>(0xf0 + i / 256);
  memo += "j\xff\xff\x00\xf0."sv;
  out.clear();
  r = brine::disassemble(memo, out);
  REQUIRE(r.has_value());
  CHECK(out.find("LONG_BINGET 4026597375\n") != std::string::npos);
}
