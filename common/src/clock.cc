#include "otpgate/clock.h"

#include <ctime>

namespace otpgate {

int64_t SystemClock::Now() const { return static_cast<int64_t>(::time(nullptr)); }

}  // namespace otpgate
