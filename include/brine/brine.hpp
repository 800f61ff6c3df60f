// brine/brine.hpp — everything in one include. Each header also compiles on its own.
#pragma once

#include "brine/container.hpp"
#include "brine/convert.hpp"
#include "brine/decode.hpp"
#include "brine/disassemble.hpp"
#include "brine/document.hpp"
#include "brine/encode.hpp"
#include "brine/error.hpp"
#include "brine/numpy.hpp"
#include "brine/opcodes.hpp"
#include "brine/registry.hpp"
#include "brine/repr.hpp"
#include "brine/scan.hpp"
#include "brine/stdlib.hpp"
