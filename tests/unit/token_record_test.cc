#include "otpgate/token_record.h"

#include <gtest/gtest.h>

namespace otpgate {
namespace {

TokenRecord Sample() {
  TokenRecord r;
  r.credential_id = "VSST12345678";
  r.params.kind = OtpKind::kTotp;
  r.params.algorithm = HashAlgorithm::kSha256;
  r.params.digits = 8;
  r.params.period = 60;
  r.params.t0 = 7;
  r.sealed_secret = std::vector<uint8_t>(49, 0xab);
  r.state = TokenState::kActive;
  r.owner = "alice";
  r.issuer = "Bank";
  r.last_accepted = 123456789;
  r.drift = -2;
  r.failures = 3;
  r.lock_until = 1700000000;
  r.last_failure_fingerprint = {1, 2, 3, 4, 5, 6, 7, 8};
  r.created_at = 1;
  r.bound_at = 2;
  r.last_used_at = 3;
  r.valid_until = 4;
  return r;
}

TEST(TokenRecordTest, RoundTrip) {
  TokenRecord r = Sample();
  auto decoded = DecodeTokenRecord(EncodeTokenRecord(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->credential_id, r.credential_id);
  EXPECT_EQ(decoded->params.algorithm, r.params.algorithm);
  EXPECT_EQ(decoded->params.digits, 8);
  EXPECT_EQ(decoded->params.period, 60);
  EXPECT_EQ(decoded->params.t0, 7);
  EXPECT_EQ(decoded->sealed_secret, r.sealed_secret);
  EXPECT_EQ(decoded->owner, "alice");
  EXPECT_EQ(decoded->last_accepted, 123456789);
  EXPECT_EQ(decoded->drift, -2);
  EXPECT_EQ(decoded->failures, 3u);
  EXPECT_EQ(decoded->lock_until, 1700000000);
  EXPECT_EQ(decoded->last_failure_fingerprint, r.last_failure_fingerprint);
  EXPECT_EQ(decoded->valid_until, 4);
}

TEST(TokenRecordTest, AStagedRecordIsVersionTwoAndOnlyThen) {
  TokenRecord r = Sample();
  const std::vector<uint8_t> plain = EncodeTokenRecord(r);
  EXPECT_EQ(plain[0], 1) << "a store that never staged an import holds version 1 only";
  EXPECT_EQ(DecodeTokenRecord(plain).value().staged_by, 0u);
  r.staged_by = 0x0102030405060708;
  std::vector<uint8_t> staged = EncodeTokenRecord(r);
  ASSERT_EQ(staged.size(), plain.size() + 8);
  EXPECT_EQ(staged[0], 2);
  EXPECT_EQ(DecodeTokenRecord(staged).value().staged_by, 0x0102030405060708u);
  for (size_t n = plain.size(); n < staged.size(); ++n) {
    EXPECT_EQ(DecodeTokenRecord({staged.data(), n}).status().code(), StatusCode::kCorrupt) << n;
  }
  // Version 2 without an import number, or version 1 with one, is damage.
  std::fill(staged.end() - 8, staged.end(), 0);
  EXPECT_EQ(DecodeTokenRecord(staged).status().code(), StatusCode::kCorrupt);
  std::vector<uint8_t> padded = plain;
  padded.insert(padded.end(), 8, 1);
  EXPECT_EQ(DecodeTokenRecord(padded).status().code(), StatusCode::kCorrupt);
}

TEST(TokenRecordTest, EveryTruncationIsCorrupt) {
  std::vector<uint8_t> bytes = EncodeTokenRecord(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = DecodeTokenRecord({bytes.data(), n});
    ASSERT_FALSE(decoded.ok()) << "length " << n;
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorrupt);
  }
  bytes.push_back(0);
  EXPECT_EQ(DecodeTokenRecord(bytes).status().code(), StatusCode::kCorrupt);
}

TEST(TokenRecordTest, InvalidFieldsAreCorrupt) {
  std::vector<uint8_t> good = EncodeTokenRecord(Sample());
  auto with = [&](size_t index, uint8_t value) {
    std::vector<uint8_t> b = good;
    b[index] = value;
    return DecodeTokenRecord(b).status().code();
  };
  EXPECT_EQ(with(0, 2), StatusCode::kCorrupt);  // version
  EXPECT_EQ(with(1, 9), StatusCode::kCorrupt);  // state
  EXPECT_EQ(with(2, 7), StatusCode::kCorrupt);  // kind
  EXPECT_EQ(with(3, 0), StatusCode::kCorrupt);  // algorithm
  EXPECT_EQ(with(4, 9), StatusCode::kCorrupt);  // digits
  TokenRecord orphan = Sample();
  orphan.state = TokenState::kUnassigned;  // but has an owner
  EXPECT_EQ(DecodeTokenRecord(EncodeTokenRecord(orphan)).status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace otpgate
