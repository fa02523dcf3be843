#include "otpgate/base32.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace otpgate {
namespace {

std::string AsString(const SecretBytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// RFC 4648 §10 test vectors.
TEST(Base32Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "MY"},
                                                         {"fo", "MZXQ"},
                                                         {"foo", "MZXW6"},
                                                         {"foob", "MZXW6YQ"},
                                                         {"fooba", "MZXW6YTB"},
                                                         {"foobar", "MZXW6YTBOI"}};
  for (const auto& [plain, encoded] : vectors) {
    auto bytes = testing::Bytes(plain);
    EXPECT_EQ(Base32Encode(bytes.span()), encoded);
    EXPECT_EQ(AsString(Base32Decode(encoded).value()), plain);
  }
}

TEST(Base32Test, TolerantDecoding) {
  EXPECT_EQ(AsString(Base32Decode("mzxw6ytboi").value()), "foobar");
  EXPECT_EQ(AsString(Base32Decode("MZXW 6YTB OI======").value()), "foobar");
  EXPECT_EQ(AsString(Base32Decode("MZXW-6YTB-OI").value()), "foobar");
}

TEST(Base32Test, RejectsGarbage) {
  EXPECT_FALSE(Base32Decode("MZXW1").ok());   // '1' is not base32
  EXPECT_FALSE(Base32Decode("M").ok());       // 5 bits cannot be a byte
  EXPECT_FALSE(Base32Decode("MZX").ok());     // 3 symbols: impossible tail
  EXPECT_FALSE(Base32Decode("MY==MY").ok());  // data after padding
}

TEST(HexTest, RoundTripAndErrors) {
  EXPECT_EQ(AsString(HexDecode("666F6f").value()), "foo");
  EXPECT_EQ(HexEncode(testing::Bytes("foo").span()), "666f6f");
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

}  // namespace
}  // namespace otpgate
