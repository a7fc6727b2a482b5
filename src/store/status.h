// Result<Done>: success without a value, for the store's internal steps. Header only.
#pragma once

#include "base/result.h"

namespace sluice::store {

struct Done {};
using Status = Result<Done>;

}  // namespace sluice::store
