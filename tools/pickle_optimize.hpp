// tools/pickle_optimize.hpp — `brine convert --optimize`: CPython's pickletools.optimize.
//
// Drops the memo stores (PUT, BINPUT, LONG_BINPUT, MEMOIZE) whose index no GET (GET, BINGET,
// LONG_BINGET) reads, renumbers the kept ones from 0 in stream order, rewrites the GETs to match,
// drops the FRAMEs and frames the result again (protocol 4 and up), copying every other opcode
// as it is. The output is byte-identical to CPython 3.11's `pickletools.optimize(p)`:
//
//  * the memo opcodes are chosen as pickle._Pickler.put/get choose them for the pickle's
//    protocol, where that protocol is the PROTO argument raised to the protocol of any GET
//    opcode (so a protocol-1 stream with BINGET keeps binary opcodes; no other opcode counts);
//  * a PROTO at offset 0 is written before any frame; a later PROTO is copied like any opcode;
//  * frames follow pickle._Framer: a frame is closed once it holds 64 KiB or more, frames under
//    4 bytes get no FRAME header, and an opcode longer than 64 KiB is written outside any frame;
//  * bytes after the first STOP are dropped.
//
// brine first checks that the pickle is one CPython loads (brine::validate with the caller's
// options, except that Python 2 strings are taken as bytes, since they are copied as they are;
// NEXT_BUFFERs get placeholders unless buffers are given): pickletools.optimize copies broken
// pickles as they are, brine refuses them with the decoder's error.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include <brine/decode.hpp>
#include <brine/error.hpp>

namespace brine_cli {

brine::result<std::string> optimize_pickle(std::span<const std::byte> pickle, const brine::decode_options& options);

}  // namespace brine_cli
