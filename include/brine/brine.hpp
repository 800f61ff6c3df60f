// brine/brine.hpp — everything in one include. Each header also compiles on its own.
#pragma once

#include "brine/decode.hpp"
#include "brine/document.hpp"
#include "brine/encode.hpp"
#include "brine/error.hpp"
#include "brine/opcodes.hpp"
