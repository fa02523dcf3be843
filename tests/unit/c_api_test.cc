#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "otpgate/operations.h"
#include "otpgate/otpgate.h"
#include "store_backend.h"
#include "test_util.h"

namespace otpgate {
namespace {

const char kSecret[] = "12345678901234567890";

struct Lines {
  std::mutex mutex;
  std::vector<std::pair<int, std::string>> lines;
  static void Add(void* context, int level, const char* line) {
    auto* self = static_cast<Lines*>(context);
    std::lock_guard lock(self->mutex);
    self->lines.emplace_back(level, line);
  }
  std::string Last() { return lines.empty() ? "" : lines.back().second; }
};

class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::TestConfig(dir_);
    ASSERT_TRUE(InitializeDeployment(config_).ok());
    SystemClock clock;
    auto service = OtpService::Open(config_, clock).value();
    TokenSpec spec;
    spec.credential_id = "VSST00000001";
    ASSERT_TRUE(service->Provision(spec, testing::Bytes(kSecret)).ok());
  }

  // Opens a handle with store, master_key and `extra` options.
  otpgate_handle* Open(std::vector<std::pair<const char*, const char*>> extra = {},
                       otpgate_front_end front_end = OTPGATE_FRONT_END_PAM,
                       const char* config_path = nullptr) {
    names_ = {"store", "master_key"};
    values_ = {config_.store.c_str(), config_.master_key.c_str()};
    for (auto& [n, v] : extra) {
      names_.push_back(n);
      values_.push_back(v);
    }
    // Explicit by default: the host's /etc/otpgate is never read.
    std::string empty_config = dir_.File("otpgate.conf");
    if (config_path == nullptr) {
      std::ofstream(empty_config) << "";
      config_path = empty_config.c_str();
    }
    otpgate_open_args args{front_end,     config_path, names_.data(), values_.data(),
                           names_.size(), Lines::Add,  &lines_,       nullptr};
    return otpgate_open(&args, &result_);
  }

  std::string Code() {
    return GenerateTotp(OtpParams(), testing::Bytes(kSecret), SystemClock().Now()).value();
  }

  testing::TempDir dir_;
  Config config_;
  Lines lines_;
  otpgate_result result_;
  std::vector<const char*> names_, values_;
};

TEST_F(CApiTest, VersionAndNames) {
  EXPECT_EQ(otpgate_abi_version(), OTPGATE_ABI_VERSION);
  EXPECT_STRNE(otpgate_version(), "");
  EXPECT_STREQ(otpgate_decision_name(OTPGATE_LOCKED), "locked");
  EXPECT_STREQ(otpgate_status_name(OTPGATE_ERR_WRONG_KEY), "wrong-key");
  EXPECT_STREQ(otpgate_answer_name(OTPGATE_ANSWER_ASK_CODE), "ask-code");
}

TEST_F(CApiTest, RegisterThenLoginThroughTheFlow) {
  otpgate_handle* handle = Open({}, OTPGATE_FRONT_END_PAM, dir_.File("absent.conf").c_str());
  EXPECT_EQ(handle, nullptr) << "an explicitly named config file must exist";
  EXPECT_EQ(result_.status, OTPGATE_ERR_UNAVAILABLE);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_FAIL);
  handle = Open();
  ASSERT_NE(handle, nullptr) << result_.message;

  otpgate_request request{"alice", OTPGATE_ACTION_CONFIGURED, "sshd", nullptr};
  ASSERT_EQ(otpgate_begin(handle, &request, &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_PASS) << "unenrolled = allow by default";
  EXPECT_EQ(lines_.Last(),
            "action=login user=alice frontend=pam service=sshd outcome=allow "
            "reason=unenrolled-allow");

  request.action = OTPGATE_ACTION_REGISTER;
  ASSERT_EQ(otpgate_begin(handle, &request, &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_ASK_TOKEN_AND_CODE);
  size_t before = lines_.lines.size();
  std::string code = Code();
  ASSERT_EQ(otpgate_finish(handle, &request, "VSST00000001", code.c_str(), &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_ACCEPT);
  EXPECT_STREQ(result_.credential_id, "VSST00000001");
  EXPECT_STREQ(result_.user_message, "One-time password registration is complete.");
  EXPECT_EQ(lines_.lines.size(), before + 1) << "one line per decision";

  request.action = OTPGATE_ACTION_CONFIGURED;
  ASSERT_EQ(otpgate_begin(handle, &request, &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_ASK_CODE);
  EXPECT_EQ(result_.action, OTPGATE_ACTION_LOGIN);
  request.action = result_.action;
  ASSERT_EQ(otpgate_finish(handle, &request, nullptr, code.c_str(), &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_EQ(result_.decision, OTPGATE_REPLAY);
  EXPECT_EQ(lines_.Last(),
            "action=login user=alice token=VSST00000001 frontend=pam service=sshd "
            "outcome=replay reason=code-already-used");
  before = lines_.lines.size();
  ASSERT_EQ(otpgate_finish(handle, &request, nullptr, "12a456", &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT) << "a malformed code is a refusal";
  EXPECT_EQ(lines_.lines.size(), before + 1) << "a malformed code gives one line";
  ASSERT_EQ(otpgate_finish(handle, &request, nullptr, nullptr, &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_NE(lines_.Last().find("reason=missing-code"), std::string::npos) << lines_.Last();

  size_t offset = 0;
  std::string field = "password" + Code();
  ASSERT_EQ(otpgate_split_point(handle, "alice", field.c_str(), field.size(), &offset, nullptr),
            OTPGATE_OK);
  EXPECT_EQ(offset, 8u);
  ASSERT_EQ(otpgate_split_point(handle, "bob", field.c_str(), field.size(), &offset, nullptr),
            OTPGATE_OK);
  EXPECT_EQ(offset, field.size()) << "bob has no token: all password";
  for (const auto& [level, line] : lines_.lines) {
    EXPECT_EQ(line.find(code), std::string::npos) << "a code in the log: " << line;
  }
  otpgate_close(handle);
}

// The code split off the password: a login decided in one call, as
// otpgate_begin then otpgate_finish decide it, with the same audit lines
// and journal entries.
TEST_F(CApiTest, BeginWithCodeDecidesALoginAsBeginThenFinish) {
  SystemClock clock;
  auto journal_outcomes = [&] {
    std::string out;
    auto entries = OtpService::Open(config_, clock).value()->ReadJournal({0, "alice", {}});
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    if (!entries.ok()) return out;
    for (const JournalEntry& e : *entries) {
      if (e.action == "login") out += (out.empty() ? "" : ",") + e.outcome;
    }
    return out;
  };
  otpgate_handle* handle = Open({}, OTPGATE_FRONT_END_RADIUS);
  ASSERT_NE(handle, nullptr) << result_.message;
  otpgate_request request{"alice", OTPGATE_ACTION_CONFIGURED, nullptr, "192.0.2.1"};
  EXPECT_EQ(otpgate_begin_with_code(handle, &request, nullptr, &result_),
            OTPGATE_ERR_INVALID_ARGUMENT);

  // No token: refused (not the unenrolled policy, which allows by default),
  // audited, and not journaled, as otpgate_begin refuses without asking.
  ASSERT_EQ(otpgate_begin_with_code(handle, &request, "123456", &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_EQ(result_.decision, OTPGATE_NO_TOKEN);
  EXPECT_NE(lines_.Last().find("outcome=no-token"), std::string::npos) << lines_.Last();
  EXPECT_EQ(journal_outcomes(), "");

  ASSERT_TRUE(OtpService::Open(config_, clock).value()->Assign("VSST00000001", "alice").ok());
  const std::string code = Code();
  ASSERT_EQ(otpgate_begin_with_code(handle, &request, code.c_str(), &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_ACCEPT);
  EXPECT_EQ(result_.action, OTPGATE_ACTION_LOGIN);
  EXPECT_STREQ(result_.credential_id, "VSST00000001");
  EXPECT_EQ(lines_.Last(),
            "action=login user=alice token=VSST00000001 frontend=radius client=192.0.2.1 "
            "outcome=accept");
  ASSERT_EQ(otpgate_begin_with_code(handle, &request, code.c_str(), &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_EQ(result_.decision, OTPGATE_REPLAY);
  ASSERT_EQ(otpgate_begin_with_code(handle, &request, "", &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_NE(lines_.Last().find("reason=missing-code"), std::string::npos) << lines_.Last();

  // The replay and four wrong codes are five failures (the last locks the
  // token): the fifth wrong code is refused as locked. Then a refusal that
  // tries no code: LOCKED, audited as otpgate_begin audits it, not
  // journaled.
  int wrong = 0;
  for (int i = 1; wrong < 5; ++i) {
    char w[16];
    std::snprintf(w, sizeof(w), "%06d", i);
    if (w == code || w == Code()) continue;  // a wrong code, whatever the time
    ASSERT_EQ(otpgate_begin_with_code(handle, &request, w, &result_), OTPGATE_OK);
    ++wrong;
  }
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_LOCKED) << "locked by the fifth failure";
  EXPECT_EQ(result_.decision, OTPGATE_LOCKED);
  const std::string journal = journal_outcomes();
  ASSERT_EQ(otpgate_begin_with_code(handle, &request, Code().c_str(), &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_LOCKED);
  EXPECT_EQ(result_.decision, OTPGATE_LOCKED);
  EXPECT_NE(std::string(result_.user_message).find("locked"), std::string::npos);
  EXPECT_EQ(lines_.Last(),
            "action=login user=alice token=VSST00000001 frontend=radius client=192.0.2.1 "
            "outcome=locked reason=token-locked");
  EXPECT_EQ(journal_outcomes(), journal) << "a refusal that tried no code is not journaled";
  EXPECT_EQ(journal.substr(0, 14), "accept,replay,");

  // Another action: what otpgate_begin answers; the code is not used.
  request.action = OTPGATE_ACTION_STOP;
  ASSERT_EQ(otpgate_begin_with_code(handle, &request, Code().c_str(), &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_LOCKED);
  request.action = OTPGATE_ACTION_REGISTER;
  ASSERT_EQ(otpgate_begin_with_code(handle, &request, Code().c_str(), &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT) << "a token is registered already";
  for (const auto& [level, line] : lines_.lines) {
    EXPECT_EQ(line.find(code), std::string::npos) << "a code in the log: " << line;
  }
  otpgate_close(handle);
}

TEST_F(CApiTest, ChallengeStateIssuedAndRedeemedOnce) {
  {
    SystemClock clock;
    ASSERT_TRUE(OtpService::Open(config_, clock).value()->Assign("VSST00000001", "alice").ok());
  }
  otpgate_handle* handle = Open({}, OTPGATE_FRONT_END_RADIUS);
  ASSERT_NE(handle, nullptr) << result_.message;
  otpgate_request request{"alice", OTPGATE_ACTION_LOGIN, nullptr, "192.0.2.1"};
  uint8_t state[OTPGATE_CHALLENGE_STATE_SIZE + 8];
  size_t length = 99;
  EXPECT_EQ(otpgate_challenge(handle, &request, state, OTPGATE_CHALLENGE_STATE_SIZE - 1, &length,
                              &result_),
            OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(length, 0u);
  EXPECT_EQ(otpgate_challenge(handle, &request, nullptr, sizeof(state), &length, &result_),
            OTPGATE_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(otpgate_challenge(handle, &request, state, sizeof(state), &length, &result_),
            OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_ASK_CODE);
  ASSERT_EQ(length, size_t{OTPGATE_CHALLENGE_STATE_SIZE});

  std::string code = Code();
  ASSERT_EQ(otpgate_finish_challenge(handle, &request, state, length - 1, code.c_str(), &result_),
            OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_STREQ(result_.message, "state-forged-or-other-user");
  ASSERT_EQ(otpgate_finish_challenge(handle, &request, state, length, nullptr, &result_),
            OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_NE(lines_.Last().find("reason=missing-code"), std::string::npos) << lines_.Last();
  ASSERT_EQ(otpgate_finish_challenge(handle, &request, state, length, code.c_str(), &result_),
            OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_ACCEPT) << result_.message;
  ASSERT_EQ(otpgate_finish_challenge(handle, &request, state, length, code.c_str(), &result_),
            OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_REJECT);
  EXPECT_STREQ(result_.message, "state-used");
  EXPECT_STREQ(result_.user_message, "The login took too long or was already used; log in again.");
  EXPECT_EQ(lines_.Last(),
            "action=login user=alice frontend=radius client=192.0.2.1 outcome=reject "
            "reason=state-used");
  otpgate_close(handle);
}

TEST_F(CApiTest, AuditValuesCannotForgeFields) {
  otpgate_handle* handle = Open();
  ASSERT_NE(handle, nullptr) << result_.message;
  otpgate_request request{"x outcome=accept", OTPGATE_ACTION_LOGIN, "svc name", "10.0.0.1"};
  ASSERT_EQ(otpgate_begin(handle, &request, &result_), OTPGATE_OK);
  EXPECT_EQ(lines_.Last(),
            "action=login user=x%20outcome%3Daccept frontend=pam service=svc%20name "
            "client=10.0.0.1 outcome=allow reason=unenrolled-allow");
  otpgate_close(handle);
}

TEST_F(CApiTest, NullArgumentsAreErrors) {
  otpgate_handle* handle = Open();
  ASSERT_NE(handle, nullptr) << result_.message;
  otpgate_request request{nullptr, OTPGATE_ACTION_LOGIN, nullptr, nullptr};
  EXPECT_EQ(otpgate_begin(handle, &request, &result_), OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(otpgate_begin(handle, nullptr, nullptr), OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(otpgate_begin(nullptr, &request, &result_), OTPGATE_ERR_INVALID_ARGUMENT);
  otpgate_request bad_action{"alice", static_cast<otpgate_action>(7), nullptr, nullptr};
  EXPECT_EQ(otpgate_finish(handle, &bad_action, nullptr, "123456", &result_),
            OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(otpgate_open(nullptr, nullptr), nullptr);
  EXPECT_EQ(otpgate_options_of(nullptr), nullptr);
  otpgate_close(nullptr);
  otpgate_close(handle);
}

// A store that is away at start-up does not stop the host: the handle
// opens, every call fails closed with one audit line, and it works as soon
// as the store is back.
TEST_F(CApiTest, StoreAwayFailsClosedUntilItComesBack) {
  std::string away = config_.store + ".away";
  ASSERT_EQ(::rename(config_.store.c_str(), away.c_str()), 0);
  otpgate_handle* handle = Open({}, OTPGATE_FRONT_END_RADIUS);
  ASSERT_NE(handle, nullptr) << "only a bad configuration refuses to open";
  EXPECT_EQ(result_.status, OTPGATE_ERR_UNAVAILABLE);
  otpgate_request request{"alice", OTPGATE_ACTION_CONFIGURED, nullptr, "192.0.2.1"};
  size_t before = lines_.lines.size();
  EXPECT_EQ(otpgate_begin(handle, &request, &result_), OTPGATE_ERR_UNAVAILABLE);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_FAIL);
  EXPECT_STREQ(result_.user_message, "The one-time password service is unavailable.");
  ASSERT_EQ(lines_.lines.size(), before + 1);
  EXPECT_EQ(lines_.lines.back().first, OTPGATE_LOG_CRIT);
  EXPECT_EQ(lines_.Last().rfind("action=login user=alice frontend=radius client=192.0.2.1 "
                                "outcome=unavailable reason=",
                                0),
            0u)
      << lines_.Last();
  ASSERT_EQ(::rename(away.c_str(), config_.store.c_str()), 0);
  EXPECT_EQ(otpgate_begin(handle, &request, &result_), OTPGATE_OK);
  EXPECT_EQ(result_.answer, OTPGATE_ANSWER_PASS);
  otpgate_close(handle);
}

// Where the code starts in a password+code field: the user's tokens' digits
// decide (SplitPointAsksTheStoreOnlyWhereACodeFits: when the store is read).
TEST_F(CApiTest, SplitPointTakesTheUsersDigits) {
  SystemClock clock;
  auto service = OtpService::Open(config_, clock).value();
  ASSERT_TRUE(service->Assign("VSST00000001", "alice").ok());  // 6 digits
  TokenSpec eight;
  eight.credential_id = "VSST00000008";
  eight.params.digits = 8;
  eight.owner = "carol";
  ASSERT_TRUE(service->Provision(eight, testing::Bytes(kSecret)).ok());
  for (int digits : {6, 7}) {  // dave's longest code has 7 digits
    TokenSpec spec;
    spec.credential_id = "VSST0000010" + std::to_string(digits);
    spec.params.digits = digits;
    spec.owner = "dave";
    ASSERT_TRUE(service->Provision(spec, testing::Bytes(kSecret)).ok());
  }
  service.reset();
  otpgate_handle* handle = Open({}, OTPGATE_FRONT_END_RADIUS);
  ASSERT_NE(handle, nullptr) << result_.message;
  auto split = [&](const char* user, const std::string& field) -> long {
    size_t offset = 0;
    int rc = otpgate_split_point(handle, user, field.data(), field.size(), &offset, &result_);
    return rc == OTPGATE_OK ? static_cast<long>(offset) : -rc;
  };
  EXPECT_EQ(split("alice", "pw1234567"), 3) << "six of seven trailing digits";
  EXPECT_EQ(split("alice", "1234567890"), 4) << "a password of digits";
  EXPECT_EQ(split("alice", "123456"), 6) << "a code alone leaves no password: all password";
  EXPECT_EQ(split("alice", "pw12345"), 7) << "five digits: no code";
  EXPECT_EQ(split("alice", "pw12345x"), 8);
  EXPECT_EQ(split("carol", "pw1234567"), 9) << "carol's codes have 8 digits";
  EXPECT_EQ(split("carol", "pw12345678"), 2);
  EXPECT_EQ(split("dave", "pw1234567"), 2) << "the longest of dave's tokens' codes";
  EXPECT_EQ(split("dave", "pw123456"), 8);
  EXPECT_EQ(split("bob", "pw123456"), 8) << "no token: all password";
  EXPECT_EQ(split("bad\nname", "password"), -OTPGATE_ERR_INVALID_ARGUMENT)
      << "a bad user name is refused with or without a read";
  EXPECT_EQ(split("bad\nname", "pw123456"), -OTPGATE_ERR_INVALID_ARGUMENT);
  otpgate_close(handle);
}

// A field that could hold no token's code (fewer than six trailing digits,
// or nothing before them) is answered without the store, which on
// PostgreSQL is a round trip: with the server killed such a field is still
// all password, while one that may hold a code fails closed within the
// store's bound, and is split again once the server is back.
TEST(CApiPostgresTest, SplitPointAsksTheStoreOnlyWhereACodeFits) {
  std::string why;
  auto server = testing::TestPostgres::Start(&why);
  if (server == nullptr) GTEST_SKIP() << why;
  testing::TempDir dir;
  Config config = testing::TestConfig(dir);
  config.store = server->NewLocation();
  ASSERT_TRUE(InitializeDeployment(config).ok());
  {
    SystemClock clock;
    auto service = OtpService::Open(config, clock).value();
    TokenSpec spec;
    spec.credential_id = "VSST00000001";
    spec.owner = "alice";
    ASSERT_TRUE(service->Provision(spec, testing::Bytes(kSecret)).ok());
  }
  std::string empty_config = dir.File("otpgate.conf");
  std::ofstream(empty_config) << "";
  std::vector<const char*> names = {"store", "master_key", "store_timeout_ms"};
  std::vector<const char*> values = {config.store.c_str(), config.master_key.c_str(), "500"};
  otpgate_result result;
  otpgate_open_args args{OTPGATE_FRONT_END_RADIUS,
                         empty_config.c_str(),
                         names.data(),
                         values.data(),
                         names.size(),
                         nullptr,
                         nullptr,
                         nullptr};
  otpgate_handle* handle = otpgate_open(&args, &result);
  ASSERT_NE(handle, nullptr) << result.message;
  auto split = [&](const std::string& field) -> long {
    size_t offset = 0;
    int rc = otpgate_split_point(handle, "alice", field.data(), field.size(), &offset, &result);
    return rc == OTPGATE_OK ? static_cast<long>(offset) : -rc;
  };
  // A read that must succeed, on a loaded machine within 500 ms: tried
  // again until it does (a connection after a restart, or the first one).
  auto split_when_up = [&](const std::string& field) {
    long answer = split(field);
    for (int i = 0; i < 50 && answer == -OTPGATE_ERR_UNAVAILABLE; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      answer = split(field);
    }
    return answer;
  };
  EXPECT_EQ(split_when_up("pw123456"), 2);
  ASSERT_TRUE(server->Kill());
  // A backend of the killed postmaster may answer once more before it sees
  // its parent gone: the store is away once a read fails, each failing
  // within the bound.
  long answer = 0;
  for (int i = 0; i < 50 && answer != -OTPGATE_ERR_UNAVAILABLE; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto start = std::chrono::steady_clock::now();
    answer = split("pw123456");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  }
  ASSERT_EQ(answer, -OTPGATE_ERR_UNAVAILABLE) << "a code fits: fails closed";
  EXPECT_EQ(split("password"), 8) << "no code fits: the store is not asked";
  EXPECT_EQ(split("pw12345"), 7);
  EXPECT_EQ(split("123456"), 6);
  EXPECT_EQ(split("pw1234567"), -OTPGATE_ERR_UNAVAILABLE);
  ASSERT_TRUE(server->Restart());
  EXPECT_EQ(split_when_up("pw123456"), 2) << "decided again without reopening";
  otpgate_close(handle);
}

TEST_F(CApiTest, BadOptionsFailWithAMessage) {
  EXPECT_EQ(Open({{"window", "99"}}), nullptr);
  EXPECT_EQ(result_.status, OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(result_.message).find("window"), std::string::npos);
  EXPECT_EQ(Open({{"max_failure", "3"}}), nullptr) << "a typo is refused";
  EXPECT_EQ(result_.status, OTPGATE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(Open({{"nonroot", "ignore"}}, OTPGATE_FRONT_END_RADIUS), nullptr)
      << "a PAM-only option in a RADIUS section";
  EXPECT_NE(std::string(result_.message).find("PAM module only"), std::string::npos);
  EXPECT_EQ(Open({{"unenrolled", "register"}}, OTPGATE_FRONT_END_RADIUS), nullptr);
  EXPECT_EQ(result_.status, OTPGATE_ERR_INVALID_ARGUMENT);
  otpgate_handle* handle = Open({{"debug", nullptr}, {"nonroot", "ignore"}});
  ASSERT_NE(handle, nullptr) << "a bare flag is a boolean; PAM takes nonroot";
  otpgate_close(handle);
}

}  // namespace
}  // namespace otpgate
