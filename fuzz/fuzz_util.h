// Shared by the libFuzzer targets: input as text, and a check that aborts
// (so that libFuzzer records the input) when an invariant does not hold.
#ifndef OTPGATE_FUZZ_FUZZ_UTIL_H_
#define OTPGATE_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace otpgate::fuzz {

inline std::string_view Text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

}  // namespace otpgate::fuzz

#endif  // OTPGATE_FUZZ_FUZZ_UTIL_H_
