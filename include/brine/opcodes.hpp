// brine/opcodes.hpp — the pickle opcode table, the single source of truth.
//
// All 68 opcodes of pickle protocols 0 to 5. The tokenizer, the decoder's dispatch, the
// disassembler, the encoder's writer, the fuzz dictionary and the coverage report all read this
// table; nothing else in brine spells an opcode byte or its argument encoding.
//
// Names, argument encodings and protocol numbers are those of CPython's `Lib/pickletools.py`; the
// one-line descriptions are the first lines of its opcode documentation (PSF licence), used by
// `brine dis --annotate`.
//
// Thread-safety: everything here is constexpr data.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace brine {

/// How an opcode's argument is encoded in the stream (pickletools' ArgumentDescriptor names).
enum class arg : std::uint8_t {
  none,
  uint1,                   ///< 1-byte unsigned
  uint2,                   ///< 2-byte little-endian unsigned
  int4,                    ///< 4-byte little-endian signed
  uint4,                   ///< 4-byte little-endian unsigned
  uint8,                   ///< 8-byte little-endian unsigned
  long1,                   ///< 1-byte length, then little-endian two's complement
  long4,                   ///< 4-byte signed length, then little-endian two's complement
  decimalnl_short,         ///< decimal text up to '\n' (INT, GET, PUT)
  decimalnl_long,          ///< decimal text with optional trailing 'L', up to '\n'
  floatnl,                 ///< float text up to '\n'
  float8,                  ///< 8-byte big-endian IEEE-754 double
  stringnl,                ///< quoted, escaped text up to '\n' (STRING)
  stringnl_noescape,       ///< raw text up to '\n' (PERSID)
  stringnl_noescape_pair,  ///< two raw lines (GLOBAL, INST)
  string1,                 ///< 1-byte length + bytes (SHORT_BINSTRING)
  string4,                 ///< 4-byte signed length + bytes (BINSTRING)
  bytes1,                  ///< 1-byte length + bytes
  bytes4,                  ///< 4-byte unsigned length + bytes
  bytes8,                  ///< 8-byte unsigned length + bytes
  bytearray8,              ///< 8-byte unsigned length + bytes
  unicodestringnl,         ///< raw-unicode-escape text up to '\n'
  unicodestring1,          ///< 1-byte length + UTF-8
  unicodestring4,          ///< 4-byte unsigned length + UTF-8
  unicodestring8,          ///< 8-byte unsigned length + UTF-8
};

/// One row of the table.
struct opcode_info {
  std::uint8_t code;      ///< the opcode byte
  std::string_view name;  ///< pickletools' name, e.g. "SHORT_BINUNICODE"
  brine::arg arg;         ///< argument encoding
  std::uint8_t proto;     ///< protocol that introduced the opcode
  bool uses_mark;         ///< consumes the topmost MARK
  std::string_view doc;   ///< one-line description
};

inline constexpr std::array<opcode_info, 68> opcode_table{{
    {0x28, "MARK", arg::none, 0, false, "Push markobject onto the stack."},
    {0x29, "EMPTY_TUPLE", arg::none, 1, false, "Push an empty tuple."},
    {0x2e, "STOP", arg::none, 0, false, "Stop the unpickling machine."},
    {0x30, "POP", arg::none, 0, false, "Discard the top stack item, shrinking the stack by one item."},
    {0x31, "POP_MARK", arg::none, 1, true, "Pop all the stack objects at and above the topmost markobject."},
    {0x32, "DUP", arg::none, 0, false, "Push the top stack item onto the stack again, duplicating it."},
    {0x42, "BINBYTES", arg::bytes4, 3, false, "Push a Python bytes object."},
    {0x43, "SHORT_BINBYTES", arg::bytes1, 3, false, "Push a Python bytes object."},
    {0x46, "FLOAT", arg::floatnl, 0, false, "Newline-terminated decimal float literal."},
    {0x47, "BINFLOAT", arg::float8, 1, false, "Float stored in binary form, with 8 bytes of data."},
    {0x49, "INT", arg::decimalnl_short, 0, false, "Push an integer or bool."},
    {0x4a, "BININT", arg::int4, 1, false, "Push a four-byte signed integer."},
    {0x4b, "BININT1", arg::uint1, 1, false, "Push a one-byte unsigned integer."},
    {0x4c, "LONG", arg::decimalnl_long, 0, false, "Push a long integer."},
    {0x4d, "BININT2", arg::uint2, 1, false, "Push a two-byte unsigned integer."},
    {0x4e, "NONE", arg::none, 0, false, "Push None on the stack."},
    {0x50, "PERSID", arg::stringnl_noescape, 0, false, "Push an object identified by a persistent ID."},
    {0x51, "BINPERSID", arg::none, 1, false, "Push an object identified by a persistent ID."},
    {0x52, "REDUCE", arg::none, 0, false, "Push an object built from a callable and an argument tuple."},
    {0x53, "STRING", arg::stringnl, 0, false, "Push a Python string object."},
    {0x54, "BINSTRING", arg::string4, 1, false, "Push a Python string object."},
    {0x55, "SHORT_BINSTRING", arg::string1, 1, false, "Push a Python string object."},
    {0x56, "UNICODE", arg::unicodestringnl, 0, false, "Push a Python Unicode string object."},
    {0x58, "BINUNICODE", arg::unicodestring4, 1, false, "Push a Python Unicode string object."},
    {0x5d, "EMPTY_LIST", arg::none, 1, false, "Push an empty list."},
    {0x61, "APPEND", arg::none, 0, false, "Append an object to a list."},
    {0x62, "BUILD", arg::none, 0, false, "Finish building an object, via __setstate__ or dict update."},
    {0x63, "GLOBAL", arg::stringnl_noescape_pair, 0, false, "Push a global object (module.attr) on the stack."},
    {0x64, "DICT", arg::none, 0, true, "Build a dict out of the topmost stack slice, after markobject."},
    {0x65, "APPENDS", arg::none, 1, true, "Extend a list by a slice of stack objects."},
    {0x67, "GET", arg::decimalnl_short, 0, false, "Read an object from the memo and push it on the stack."},
    {0x68, "BINGET", arg::uint1, 1, false, "Read an object from the memo and push it on the stack."},
    {0x69, "INST", arg::stringnl_noescape_pair, 0, true, "Build a class instance."},
    {0x6a, "LONG_BINGET", arg::uint4, 1, false, "Read an object from the memo and push it on the stack."},
    {0x6c, "LIST", arg::none, 0, true, "Build a list out of the topmost stack slice, after markobject."},
    {0x6f, "OBJ", arg::none, 1, true, "Build a class instance."},
    {0x70, "PUT", arg::decimalnl_short, 0, false, "Store the stack top into the memo.  The stack is not popped."},
    {0x71, "BINPUT", arg::uint1, 1, false, "Store the stack top into the memo.  The stack is not popped."},
    {0x72, "LONG_BINPUT", arg::uint4, 1, false, "Store the stack top into the memo.  The stack is not popped."},
    {0x73, "SETITEM", arg::none, 0, false, "Add a key+value pair to an existing dict."},
    {0x74, "TUPLE", arg::none, 0, true, "Build a tuple out of the topmost stack slice, after markobject."},
    {0x75, "SETITEMS", arg::none, 1, true, "Add an arbitrary number of key+value pairs to an existing dict."},
    {0x7d, "EMPTY_DICT", arg::none, 1, false, "Push an empty dict."},
    {0x80, "PROTO", arg::uint1, 2, false, "Protocol version indicator."},
    {0x81, "NEWOBJ", arg::none, 2, false, "Build an object instance."},
    {0x82, "EXT1", arg::uint1, 2, false, "Extension code."},
    {0x83, "EXT2", arg::uint2, 2, false, "Extension code."},
    {0x84, "EXT4", arg::int4, 2, false, "Extension code."},
    {0x85, "TUPLE1", arg::none, 2, false, "Build a one-tuple out of the topmost item on the stack."},
    {0x86, "TUPLE2", arg::none, 2, false, "Build a two-tuple out of the top two items on the stack."},
    {0x87, "TUPLE3", arg::none, 2, false, "Build a three-tuple out of the top three items on the stack."},
    {0x88, "NEWTRUE", arg::none, 2, false, "Push True onto the stack."},
    {0x89, "NEWFALSE", arg::none, 2, false, "Push False onto the stack."},
    {0x8a, "LONG1", arg::long1, 2, false, "Long integer using one-byte length."},
    {0x8b, "LONG4", arg::long4, 2, false, "Long integer using found-byte length."},
    {0x8c, "SHORT_BINUNICODE", arg::unicodestring1, 4, false, "Push a Python Unicode string object."},
    {0x8d, "BINUNICODE8", arg::unicodestring8, 4, false, "Push a Python Unicode string object."},
    {0x8e, "BINBYTES8", arg::bytes8, 4, false, "Push a Python bytes object."},
    {0x8f, "EMPTY_SET", arg::none, 4, false, "Push an empty set."},
    {0x90, "ADDITEMS", arg::none, 4, true, "Add an arbitrary number of items to an existing set."},
    {0x91, "FROZENSET", arg::none, 4, true, "Build a frozenset out of the topmost slice, after markobject."},
    {0x92, "NEWOBJ_EX", arg::none, 4, false, "Build an object instance."},
    {0x93, "STACK_GLOBAL", arg::none, 4, false, "Push a global object (module.attr) on the stack."},
    {0x94, "MEMOIZE", arg::none, 4, false, "Store the stack top into the memo.  The stack is not popped."},
    {0x95, "FRAME", arg::uint8, 4, false, "Indicate the beginning of a new frame."},
    {0x96, "BYTEARRAY8", arg::bytearray8, 5, false, "Push a Python bytearray object."},
    {0x97, "NEXT_BUFFER", arg::none, 5, false, "Push an out-of-band buffer object."},
    {0x98, "READONLY_BUFFER", arg::none, 5, false, "Make an out-of-band buffer object read-only."},
}};

/// The opcode bytes by name, for code that writes or tests for a specific opcode.
namespace op {
inline constexpr std::uint8_t ADDITEMS = 0x90;
inline constexpr std::uint8_t APPEND = 0x61;
inline constexpr std::uint8_t APPENDS = 0x65;
inline constexpr std::uint8_t BINBYTES = 0x42;
inline constexpr std::uint8_t BINBYTES8 = 0x8e;
inline constexpr std::uint8_t BINFLOAT = 0x47;
inline constexpr std::uint8_t BINGET = 0x68;
inline constexpr std::uint8_t BININT = 0x4a;
inline constexpr std::uint8_t BININT1 = 0x4b;
inline constexpr std::uint8_t BININT2 = 0x4d;
inline constexpr std::uint8_t BINPERSID = 0x51;
inline constexpr std::uint8_t BINPUT = 0x71;
inline constexpr std::uint8_t BINSTRING = 0x54;
inline constexpr std::uint8_t BINUNICODE = 0x58;
inline constexpr std::uint8_t BINUNICODE8 = 0x8d;
inline constexpr std::uint8_t BUILD = 0x62;
inline constexpr std::uint8_t BYTEARRAY8 = 0x96;
inline constexpr std::uint8_t DICT = 0x64;
inline constexpr std::uint8_t DUP = 0x32;
inline constexpr std::uint8_t EMPTY_DICT = 0x7d;
inline constexpr std::uint8_t EMPTY_LIST = 0x5d;
inline constexpr std::uint8_t EMPTY_SET = 0x8f;
inline constexpr std::uint8_t EMPTY_TUPLE = 0x29;
inline constexpr std::uint8_t EXT1 = 0x82;
inline constexpr std::uint8_t EXT2 = 0x83;
inline constexpr std::uint8_t EXT4 = 0x84;
inline constexpr std::uint8_t FLOAT = 0x46;
inline constexpr std::uint8_t FRAME = 0x95;
inline constexpr std::uint8_t FROZENSET = 0x91;
inline constexpr std::uint8_t GET = 0x67;
inline constexpr std::uint8_t GLOBAL = 0x63;
inline constexpr std::uint8_t INST = 0x69;
inline constexpr std::uint8_t INT = 0x49;
inline constexpr std::uint8_t LIST = 0x6c;
inline constexpr std::uint8_t LONG = 0x4c;
inline constexpr std::uint8_t LONG1 = 0x8a;
inline constexpr std::uint8_t LONG4 = 0x8b;
inline constexpr std::uint8_t LONG_BINGET = 0x6a;
inline constexpr std::uint8_t LONG_BINPUT = 0x72;
inline constexpr std::uint8_t MARK = 0x28;
inline constexpr std::uint8_t MEMOIZE = 0x94;
inline constexpr std::uint8_t NEWFALSE = 0x89;
inline constexpr std::uint8_t NEWOBJ = 0x81;
inline constexpr std::uint8_t NEWOBJ_EX = 0x92;
inline constexpr std::uint8_t NEWTRUE = 0x88;
inline constexpr std::uint8_t NEXT_BUFFER = 0x97;
inline constexpr std::uint8_t NONE = 0x4e;
inline constexpr std::uint8_t OBJ = 0x6f;
inline constexpr std::uint8_t PERSID = 0x50;
inline constexpr std::uint8_t POP = 0x30;
inline constexpr std::uint8_t POP_MARK = 0x31;
inline constexpr std::uint8_t PROTO = 0x80;
inline constexpr std::uint8_t PUT = 0x70;
inline constexpr std::uint8_t READONLY_BUFFER = 0x98;
inline constexpr std::uint8_t REDUCE = 0x52;
inline constexpr std::uint8_t SETITEM = 0x73;
inline constexpr std::uint8_t SETITEMS = 0x75;
inline constexpr std::uint8_t SHORT_BINBYTES = 0x43;
inline constexpr std::uint8_t SHORT_BINSTRING = 0x55;
inline constexpr std::uint8_t SHORT_BINUNICODE = 0x8c;
inline constexpr std::uint8_t STACK_GLOBAL = 0x93;
inline constexpr std::uint8_t STOP = 0x2e;
inline constexpr std::uint8_t STRING = 0x53;
inline constexpr std::uint8_t TUPLE = 0x74;
inline constexpr std::uint8_t TUPLE1 = 0x85;
inline constexpr std::uint8_t TUPLE2 = 0x86;
inline constexpr std::uint8_t TUPLE3 = 0x87;
inline constexpr std::uint8_t UNICODE = 0x56;
}  // namespace op

namespace detail {
constexpr std::array<std::int8_t, 256> make_opcode_index() {
  std::array<std::int8_t, 256> index{};
  for (auto& slot : index) slot = -1;
  for (std::size_t i = 0; i < opcode_table.size(); ++i) index[opcode_table[i].code] = static_cast<std::int8_t>(i);
  return index;
}
inline constexpr std::array<std::int8_t, 256> opcode_index = make_opcode_index();

constexpr bool table_is_consistent() {
  std::size_t per_proto[6] = {};
  for (std::size_t i = 0; i < opcode_table.size(); ++i) {
    if (opcode_table[i].proto > 5) return false;
    ++per_proto[opcode_table[i].proto];
    if (i > 0 && opcode_table[i - 1].code >= opcode_table[i].code) return false;  // sorted, unique
  }
  // Counts per protocol as listed in PEP 307 / 3154 / 574 and pickletools.
  return per_proto[0] == 22 && per_proto[1] == 19 && per_proto[2] == 12 && per_proto[3] == 2 &&
         per_proto[4] == 10 && per_proto[5] == 3;
}
static_assert(table_is_consistent(), "opcode table: 68 unique opcodes, 22/19/12/2/10/3 per protocol");
}  // namespace detail

/// The table row for an opcode byte, or nullptr when the byte is not an opcode.
constexpr const opcode_info* find_opcode(std::uint8_t code) noexcept {
  const int i = detail::opcode_index[code];
  return i < 0 ? nullptr : &opcode_table[static_cast<std::size_t>(i)];
}

/// The table row for a pickletools name ("BINPUT"), or nullptr.
constexpr const opcode_info* find_opcode(std::string_view name) noexcept {
  for (const auto& info : opcode_table)
    if (info.name == name) return &info;
  return nullptr;
}

/// Highest protocol brine reads and writes.
inline constexpr int highest_protocol = 5;

static_assert(find_opcode(std::uint8_t{'.'})->name == "STOP");
static_assert(find_opcode("FRAME")->code == 0x95 && find_opcode("FRAME")->arg == arg::uint8);
static_assert(find_opcode(std::uint8_t{0xff}) == nullptr);

}  // namespace brine
