// libpq is loaded on first use, not linked (libpq_loader.h).
#include "libpq_loader.h"

#include <gtest/gtest.h>

namespace otpgate::libpq {
namespace {

TEST(LibpqLoaderTest, ResolvesEveryFunctionOnce) {
  Result<const Functions*> first = Load();
  ASSERT_TRUE(first.ok()) << first.status().message();
  const Functions* functions = first.value();
#define OTPGATE_EXPECT_RESOLVED(name) EXPECT_NE(functions->name, nullptr) << #name;
  OTPGATE_LIBPQ_FUNCTIONS(OTPGATE_EXPECT_RESOLVED)
#undef OTPGATE_EXPECT_RESOLVED
  EXPECT_EQ(Load().value(), functions);
  // A call through the table reaches the real library.
  EXPECT_EQ(functions->PQstatus(nullptr), CONNECTION_BAD);
}

}  // namespace
}  // namespace otpgate::libpq
