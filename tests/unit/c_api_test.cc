#include "otpgate/otpgate.h"

#include <gtest/gtest.h>

#include "otpgate/operations.h"
#include "test_util.h"

namespace otpgate {
namespace {

TEST(CApiTest, FlowsThroughTheCAbi) {
  testing::TempDir dir;
  Config config = testing::TestConfig(dir);
  ASSERT_TRUE(InitializeDeployment(config).ok());
  {
    SystemClock clock;
    auto service = OtpService::Open(config, clock).value();
    TokenSpec spec;
    spec.credential_id = "VSST00000001";
    ASSERT_TRUE(service->Provision(spec, testing::Bytes("12345678901234567890")).ok());
  }
  const char* names[] = {"store", "master_key"};
  const char* values[] = {config.store.c_str(), config.master_key.c_str()};
  otpgate_result result;
  otpgate_handle* handle =
      otpgate_open(dir.File("absent.conf").c_str(), names, values, 2, &result);
  EXPECT_EQ(handle, nullptr) << "an explicitly named config file must exist";
  EXPECT_EQ(result.status, OTPGATE_ERR_UNAVAILABLE);
  handle = otpgate_open(nullptr, names, values, 2, &result);
  ASSERT_NE(handle, nullptr) << result.message;

  OtpParams params;
  std::string code =
      GenerateTotp(params, testing::Bytes("12345678901234567890"), SystemClock().Now()).value();
  EXPECT_EQ(otpgate_verify(handle, "alice", code.c_str(), &result), OTPGATE_OK);
  EXPECT_EQ(result.decision, OTPGATE_NO_TOKEN);
  otpgate_user_state before;
  ASSERT_EQ(otpgate_get_user_state(handle, "alice", &before, &result), OTPGATE_OK);
  EXPECT_EQ(before.enrolled, 0);
  EXPECT_EQ(otpgate_register(handle, "alice", "VSST00000001", code.c_str(), &result), OTPGATE_OK);
  EXPECT_EQ(result.decision, OTPGATE_ACCEPT);
  EXPECT_STREQ(result.credential_id, "VSST00000001");
  EXPECT_EQ(otpgate_verify(handle, "alice", code.c_str(), &result), OTPGATE_OK);
  EXPECT_EQ(result.decision, OTPGATE_REPLAY);
  EXPECT_EQ(otpgate_verify(handle, "alice", "garbage", &result), OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(otpgate_verify(handle, nullptr, "123456", &result), OTPGATE_ERR_INVALID_ARGUMENT);
  // A token bound to someone else is a plain reject: the register answer does
  // not tell unknown, free and taken credential IDs apart.
  EXPECT_EQ(otpgate_register(handle, "bob", "VSST00000001", "123456", &result), OTPGATE_OK);
  EXPECT_EQ(result.decision, OTPGATE_REJECT);
  otpgate_user_state state;
  ASSERT_EQ(otpgate_get_user_state(handle, "alice", &state, &result), OTPGATE_OK);
  EXPECT_EQ(state.enrolled, 1);
  EXPECT_EQ(state.locked, 0);
  EXPECT_EQ(state.digits, 6);
  ASSERT_EQ(otpgate_get_user_state(handle, "nobody", &state, &result), OTPGATE_OK);
  EXPECT_EQ(state.enrolled, 0);
  EXPECT_STREQ(otpgate_decision_name(OTPGATE_LOCKED), "locked");
  EXPECT_STREQ(otpgate_status_name(OTPGATE_ERR_WRONG_KEY), "wrong-key");
  otpgate_close(handle);
}

TEST(CApiTest, BadOptionsFailWithAMessage) {
  const char* names[] = {"window"};
  const char* values[] = {"99"};
  otpgate_result result;
  EXPECT_EQ(otpgate_open(nullptr, names, values, 1, &result), nullptr);
  EXPECT_EQ(result.status, OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(result.message).find("window"), std::string::npos);
}

}  // namespace
}  // namespace otpgate
