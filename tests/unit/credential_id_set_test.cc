#include "credential_id_set.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace otpgate {
namespace {

TEST(CredentialIdSetTest, RefusesAnIdItAlreadyHolds) {
  CredentialIdSet set;
  EXPECT_TRUE(set.Insert("VSST12345678"));
  EXPECT_TRUE(set.Insert("VSST12345679"));
  EXPECT_FALSE(set.Insert("VSST12345678"));
  EXPECT_EQ(set.size(), 2u);
}

TEST(CredentialIdSetTest, TellsPrefixesAndLengthsApart) {
  CredentialIdSet set;
  std::string longest(1000, 'A');
  for (std::string id : {"A", "AA", "AAA", "AB", "B"}) EXPECT_TRUE(set.Insert(id)) << id;
  EXPECT_TRUE(set.Insert(longest));
  EXPECT_FALSE(set.Insert(longest));
  EXPECT_FALSE(set.Insert("AA"));
  EXPECT_TRUE(set.Insert("AAAA"));
}

// Through many growths, the set agrees with std::unordered_set on every
// insertion, duplicates included.
TEST(CredentialIdSetTest, AgreesWithAStandardSetThroughGrowth) {
  CredentialIdSet set;
  std::unordered_set<std::string> reference;
  uint64_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005u + 1442695040888963407u;  // LCG: repeats within range
    std::string id = "VSST" + std::to_string((x >> 33) % 150000);
    ASSERT_EQ(set.Insert(id), reference.insert(id).second) << id;
  }
  EXPECT_EQ(set.size(), reference.size());
}

}  // namespace
}  // namespace otpgate
