#include "otpgate/operations.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "otpgate/base32.h"
#include "otpgate/token_record.h"
#include "store_backend.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::Bytes;
using testing::TempDir;

constexpr int64_t kStart = 1'800'000'000;  // a multiple of 30
const char kSecret[] = "12345678901234567890";

class OperationsTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    config_ = testing::TestConfig(dir_);
    std::string why;
    auto location = testing::FreshLocation(GetParam(), dir_, &why);
    if (!location.has_value()) GTEST_SKIP() << why;
    config_.store = *location;
    // The bound is tested in pg_store_test; here a loaded machine must not
    // turn a slow answer into a failed rule test.
    config_.store_timeout_ms = 10000;
    ASSERT_TRUE(InitializeDeployment(config_).ok());
    service_ = OtpService::Open(config_, clock_).value();
    Provision("VSST00000001");
  }

  void Provision(const std::string& id, OtpParams params = {}, const char* secret = kSecret) {
    TokenSpec spec;
    spec.credential_id = id;
    spec.params = params;
    ASSERT_TRUE(service_->Provision(spec, Bytes(secret)).ok());
  }

  // The code the token shows `steps` steps from now.
  std::string Code(int steps = 0, int digits = 6) {
    OtpParams params;
    params.digits = digits;
    return GenerateTotp(params, Bytes(kSecret), clock_.Now() + 30 * steps).value();
  }

  Decision VerifyAlice(const std::string& code) {
    auto verdict = service_->Verify("alice", code);
    EXPECT_TRUE(verdict.ok()) << verdict.status().ToString();
    return verdict.ok() ? verdict->decision : Decision::kNoToken;
  }

  void RegisterAlice() {
    auto verdict = service_->Register("alice", "VSST00000001", Code());
    ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
    ASSERT_EQ(verdict->decision, Decision::kAccept);
    clock_.Advance(30);
  }

  TokenInfo Info(const std::string& id = "VSST00000001") { return service_->Show(id).value(); }

  // Everything the store holds, as bytes (LMDB: its data file; PostgreSQL:
  // every token row), to compare before and after, or search.
  std::string StoreBytes() {
    if (GetParam() == testing::Backend::kLmdb) {
      std::ifstream in(config_.store + "/data.mdb", std::ios::binary);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    std::string why;
    auto text = testing::TestPostgres::Shared(&why)->Query(
        "SELECT string_agg(credential_id || record, '' ORDER BY credential_id) "
        "FROM otpgate_tokens",
        config_.store);
    return text.has_value() ? Unhex(*text) : "";
  }

  // Overwrites a token's stored record with `bytes`, below the store API
  // (the service must be closed).
  void PutRawRecord(const std::string& id, const std::string& bytes) {
    if (GetParam() == testing::Backend::kLmdb) {
      MDB_env* env = nullptr;
      ASSERT_EQ(mdb_env_create(&env), 0);
      mdb_env_set_maxdbs(env, 4);
      ASSERT_EQ(mdb_env_open(env, config_.store.c_str(), 0, 0600), 0);
      MDB_txn* txn = nullptr;
      MDB_dbi dbi;
      ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
      ASSERT_EQ(mdb_dbi_open(txn, "tokens", 0, &dbi), 0);
      MDB_val key{id.size(), const_cast<char*>(id.data())};
      MDB_val value{bytes.size(), const_cast<char*>(bytes.data())};
      ASSERT_EQ(mdb_put(txn, dbi, &key, &value, 0), 0);
      ASSERT_EQ(mdb_txn_commit(txn), 0);
      mdb_env_close(env);
      return;
    }
    std::string why;
    ASSERT_TRUE(testing::TestPostgres::Shared(&why)->Sql(
        "UPDATE otpgate_tokens SET record = '\\x" + Hex(bytes) + "' WHERE credential_id = '\\x" +
            Hex(id) + "'",
        config_.store));
  }

  static std::string Hex(const std::string& bytes) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) out += {kDigits[c >> 4], kDigits[c & 15]};
    return out;
  }
  // PostgreSQL's text form of bytea ("\x0102...") back to bytes.
  static std::string Unhex(const std::string& text) {
    std::string out;
    for (size_t i = 2; i + 1 < text.size(); i += 2) {
      out += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
    }
    return out;
  }

  TempDir dir_;
  Config config_;
  ManualClock clock_{kStart};
  std::unique_ptr<OtpService> service_;
};

class RecordingSink : public AuditSink {
 public:
  void Record(const AuditEvent& e) override { lines.push_back(FormatAuditLine(e)); }
  std::vector<std::string> lines;
};

TEST_P(OperationsTest, TheThreeBankFlows) {
  // No token yet: the caller's "optional service" policy decides.
  EXPECT_EQ(VerifyAlice(Code()), Decision::kNoToken);
  // 1. Register.
  auto reg = service_->Register("alice", "VSST00000001", Code());
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(reg->decision, Decision::kAccept);
  EXPECT_EQ(Info().state, TokenState::kActive);
  EXPECT_EQ(Info().owner, "alice");
  // The registration code is consumed.
  EXPECT_EQ(VerifyAlice(Code()), Decision::kReplay);
  // 2. Login with the next code.
  clock_.Advance(30);
  EXPECT_EQ(VerifyAlice(Code()), Decision::kAccept);
  EXPECT_EQ(VerifyAlice(Code()), Decision::kReplay);
  // 3. Stop.
  clock_.Advance(30);
  auto stop = service_->Stop("alice", Code());
  ASSERT_TRUE(stop.ok());
  EXPECT_EQ(stop->decision, Decision::kAccept);
  EXPECT_EQ(Info().state, TokenState::kUnassigned);
  EXPECT_EQ(Info().owner, "");
  EXPECT_EQ(VerifyAlice(Code(1)), Decision::kNoToken);
  // The stop code cannot re-register the token (replay mark kept).
  auto again = service_->Register("alice", "VSST00000001", Code());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->decision, Decision::kReplay);
}

TEST_P(OperationsTest, WindowAndDriftLearning) {
  RegisterAlice();
  EXPECT_EQ(VerifyAlice(Code(2)), Decision::kReject) << "outside +-1";
  EXPECT_EQ(VerifyAlice(Code(1)), Decision::kAccept) << "inside +1";
  EXPECT_EQ(Info().drift, 1);
  // The window now centres on the learnt drift: +2 steps is reachable.
  clock_.Advance(30);
  EXPECT_EQ(VerifyAlice(Code(2)), Decision::kAccept);
  EXPECT_EQ(Info().drift, 2);
  EXPECT_EQ(VerifyAlice(Code(1)), Decision::kReplay) << "in the window, behind the mark";
  EXPECT_EQ(VerifyAlice(Code(-1)), Decision::kReject) << "outside the drifted window";
}

TEST_P(OperationsTest, LockoutWithBackoffAndUnlock) {
  RegisterAlice();
  const char* wrong[] = {"000001", "000002", "000003", "000004"};
  for (const char* w : wrong) EXPECT_EQ(VerifyAlice(w), Decision::kReject);
  EXPECT_EQ(Info().failures, 4u);
  // The same wrong code again counts once.
  EXPECT_EQ(VerifyAlice("000004"), Decision::kReject);
  EXPECT_EQ(Info().failures, 4u);
  EXPECT_EQ(VerifyAlice("000005"), Decision::kReject);
  EXPECT_EQ(Info().failures, 5u);
  EXPECT_EQ(Info().lock_until, clock_.Now() + 60);
  EXPECT_TRUE(service_->GetUserState("alice").value().locked());
  // Locked: even the correct code is refused and not consumed.
  std::string good = Code();
  EXPECT_EQ(VerifyAlice(good), Decision::kLocked);
  EXPECT_EQ(Info().failures, 5u);
  // After the lock expires the next failure locks for twice as long.
  clock_.Advance(61);
  EXPECT_EQ(VerifyAlice("000006"), Decision::kReject);
  EXPECT_EQ(Info().lock_until, clock_.Now() + 120);
  // Capped at lockout_max_seconds.
  for (int i = 0; i < 10; ++i) {
    clock_.Set(Info().lock_until + 1);
    VerifyAlice("00010" + std::to_string(i));
  }
  EXPECT_EQ(Info().lock_until, clock_.Now() + 3600);
  // Unlock, then the correct code is accepted.
  ASSERT_TRUE(service_->Unlock("VSST00000001").ok());
  EXPECT_EQ(Info().failures, 0u);
  EXPECT_EQ(VerifyAlice(Code()), Decision::kAccept);
}

TEST_P(OperationsTest, SuccessResetsFailures) {
  RegisterAlice();
  VerifyAlice("000001");
  VerifyAlice("000002");
  EXPECT_EQ(VerifyAlice(Code()), Decision::kAccept);
  EXPECT_EQ(Info().failures, 0u);
}

TEST_P(OperationsTest, RegisterErrors) {
  auto bad_id = service_->Register("alice", "VSST_1", Code());
  EXPECT_EQ(bad_id.status().code(), StatusCode::kInvalidArgument);
  RegisterAlice();
  auto mine = service_->Register("alice", "VSST00000001", Code());
  EXPECT_EQ(mine.status().code(), StatusCode::kAlreadyBound);
  EXPECT_EQ(Info().owner, "alice");
}

TEST_P(OperationsTest, EnrolledUserCannotSelfRegisterASecondToken) {
  RegisterAlice();
  Provision("VSST00000002");
  auto second = service_->Register("alice", "VSST00000002", Code());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyBound);
  EXPECT_EQ(Info("VSST00000002").state, TokenState::kUnassigned);
  EXPECT_EQ(Info("VSST00000002").failures, 0u) << "nothing changed";
}

TEST(OperationsPolicyTest, AllowlistAtImportAndRegistration) {
  TempDir dir;
  Config config = testing::TestConfig(dir);
  config.credential_prefixes = "VSST VSMT";
  config.credential_length = 12;
  ASSERT_TRUE(InitializeDeployment(config).ok());
  ManualClock clock(kStart);
  auto service = OtpService::Open(config, clock).value();
  TokenSpec spec;
  spec.credential_id = "ABCD12345678";
  EXPECT_EQ(service->Provision(spec, Bytes(kSecret)).code(), StatusCode::kInvalidArgument);
  spec.credential_id = "VSST12345678";
  ASSERT_TRUE(service->Provision(spec, Bytes(kSecret)).ok());
  OtpParams params;
  std::string code = GenerateTotp(params, Bytes(kSecret), kStart).value();
  auto mistyped = service->Register("alice", "VSST1234567", code);
  EXPECT_EQ(mistyped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mistyped.status().message().find("must look like VSST12345678"), std::string::npos);
  EXPECT_EQ(service->Register("alice", "ｖｓｓｔ１２３４５６７８", code)->decision,
            Decision::kAccept);
}

TEST_P(OperationsTest, RegisterAcceptsFullWidthInput) {
  std::string code = Code();
  std::string full_width;
  for (char c : code)
    full_width += "\xef\xbc" + std::string(1, static_cast<char>(0x90 + (c - '0')));
  auto verdict = service_->Register("alice", "ｖｓｓｔ－００００ ０００１", full_width);
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->decision, Decision::kAccept);
}

TEST_P(OperationsTest, WrongCodeAtRegistrationCountsAgainstTheUserNotTheToken) {
  auto verdict = service_->Register("alice", "VSST00000001", "000000");
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->decision, Decision::kReject);
  EXPECT_EQ(verdict->failures, 1u);
  EXPECT_EQ(Info().state, TokenState::kUnassigned);
  EXPECT_EQ(Info().failures, 0u) << "the token's counter is not the registrant's";
}

// Regression (red team): anyone with a password could lock a token its
// customer had not registered yet by registering it with wrong codes.
TEST_P(OperationsTest, WrongCodesAtRegistrationCannotLockAnUnassignedToken) {
  Decision last = Decision::kReject;
  for (int i = 0; i < 20; ++i) {
    auto verdict = service_->Register("mallory", "VSST00000001", i % 2 ? "000000" : "111111");
    ASSERT_TRUE(verdict.ok());
    last = verdict->decision;
  }
  EXPECT_EQ(last, Decision::kLocked) << "mallory herself is locked";
  EXPECT_EQ(Info().failures, 0u);
  EXPECT_EQ(Info().lock_until, 0);
  // The customer registers the token at once.
  auto verdict = service_->Register("alice", "VSST00000001", Code());
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->decision, Decision::kAccept);
}

// Unknown, free-but-wrong-code and bound-to-someone-else IDs give the same
// answer, and each counts against the registering user (so IDs cannot be
// enumerated faster than codes can be guessed).
TEST_P(OperationsTest, RegisterDoesNotTellUnknownFreeAndTakenApart) {
  Provision("VSST00000002");
  ASSERT_EQ(service_->Register("alice", "VSST00000002", Code())->decision, Decision::kAccept);
  struct Case {
    const char* id;
    std::string code;
  } cases[] = {{"VSST99999999", Code()},      // unknown
               {"VSST00000001", "000000"},    // free, wrong code
               {"VSST00000002", Code()},      // bound to alice, right code
               {"VSST00000001", "1234567"}};  // free, wrong number of digits
  uint32_t failures = 0;
  for (const Case& c : cases) {
    auto verdict = service_->Register("bob", c.id, c.code);
    ASSERT_TRUE(verdict.ok()) << c.id << ": " << verdict.status().message();
    EXPECT_EQ(verdict->decision, Decision::kReject) << c.id;
    EXPECT_EQ(verdict->failures, ++failures) << c.id;
    EXPECT_EQ(verdict->credential_id, c.id);
  }
  EXPECT_EQ(Info("VSST00000002").owner, "alice");
  EXPECT_EQ(Info("VSST00000001").failures, 0u);
}

TEST_P(OperationsTest, MalformedInputChangesNothing) {
  RegisterAlice();
  TokenInfo before = Info();
  for (const std::string& bad : {std::string("12345"), std::string("1234567890"),
                                 std::string("abcdef"), std::string(100000, '1'),
                                 std::string("12\x00"
                                             "3456",
                                             7)}) {
    auto verdict = service_->Verify("alice", bad);
    EXPECT_EQ(verdict.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(service_->Verify("alice", "1234567").status().code(), StatusCode::kInvalidArgument)
      << "7 digits for a 6-digit token";
  EXPECT_EQ(service_->Verify("", Code()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->Verify(std::string(300, 'u'), Code()).status().code(),
            StatusCode::kInvalidArgument);
  TokenInfo after = Info();
  EXPECT_EQ(after.failures, before.failures);
  EXPECT_EQ(after.last_accepted, before.last_accepted);
}

TEST_P(OperationsTest, DisabledTokenRefusesAndDoesNotFallBackToNoToken) {
  RegisterAlice();
  ASSERT_TRUE(service_->SetEnabled("VSST00000001", false).ok());
  EXPECT_EQ(VerifyAlice(Code()), Decision::kReject);
  ASSERT_TRUE(service_->SetEnabled("VSST00000001", true).ok());
  EXPECT_EQ(VerifyAlice(Code()), Decision::kAccept);
}

TEST_P(OperationsTest, SeveralTokensAnyOneAccepts) {
  RegisterAlice();
  OtpParams eight;
  eight.digits = 8;
  Provision("VSST00000002", eight, "abcdefghijabcdefghij");
  ASSERT_TRUE(service_->Assign("VSST00000002", "alice").ok());
  EXPECT_EQ(service_->List("alice").value().size(), 2u);
  EXPECT_EQ(VerifyAlice(Code()), Decision::kAccept);
  std::string other = GenerateTotp(eight, Bytes("abcdefghijabcdefghij"), clock_.Now()).value();
  EXPECT_EQ(VerifyAlice(other), Decision::kAccept);
  auto state = service_->GetUserState("alice").value();
  EXPECT_EQ(state.digits, 8);
  EXPECT_EQ(state.active_tokens, 2);
  EXPECT_FALSE(state.locked());
}

// Every token that could take the code is locked: the user is told the
// time the first lock ends, whichever token holds it.
TEST_P(OperationsTest, LockedEverywhereNamesTheLockThatEndsFirst) {
  RegisterAlice();
  Provision("VSST00000002", {}, "abcdefghijabcdefghij");
  ASSERT_TRUE(service_->Assign("VSST00000002", "alice").ok());
  auto fail_five_times = [&](int from) {
    for (int i = from; i < from + 5; ++i) VerifyAlice("00000" + std::to_string(i));
  };
  fail_five_times(1);  // both tokens tried, both locked
  ASSERT_GT(Info("VSST00000002").lock_until, 0);
  ASSERT_TRUE(service_->Unlock("VSST00000001").ok());
  clock_.Advance(10);
  fail_five_times(5);  // only the unlocked one tried: locked 10 s later
  ASSERT_EQ(Info("VSST00000001").lock_until, Info("VSST00000002").lock_until + 10);
  auto verdict = service_->Verify("alice", Code());
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->decision, Decision::kLocked);
  EXPECT_EQ(verdict->credential_id, "VSST00000002");
  EXPECT_EQ(verdict->lock_until, Info("VSST00000002").lock_until);
}

TEST_P(OperationsTest, HotpLookAheadReplayAndResync) {
  OtpParams hotp;
  hotp.kind = OtpKind::kHotp;
  Provision("HOTP00000001", hotp);
  ASSERT_TRUE(service_->Assign("HOTP00000001", "carol").ok());
  // RFC 4226 Appendix D: counter 0..9.
  auto verify = [&](const char* code) { return service_->Verify("carol", code).value().decision; };
  EXPECT_EQ(verify("755224"), Decision::kAccept);  // 0
  EXPECT_EQ(verify("755224"), Decision::kReplay);
  EXPECT_EQ(verify("338314"), Decision::kAccept);  // 4: within look-ahead
  EXPECT_EQ(verify("969429"), Decision::kReject);  // 3: behind the mark, not the last one
  // Resync far ahead: counters 500 and 501.
  SecretBytes secret = Bytes(kSecret);
  std::string c500 = GenerateHotp(HashAlgorithm::kSha1, secret, 500, 6).value();
  std::string c501 = GenerateHotp(HashAlgorithm::kSha1, secret, 501, 6).value();
  std::string c502 = GenerateHotp(HashAlgorithm::kSha1, secret, 502, 6).value();
  EXPECT_EQ(verify(c502.c_str()), Decision::kReject);
  auto resync = service_->Resync("HOTP00000001", c500, c501);
  ASSERT_TRUE(resync.ok());
  EXPECT_EQ(resync->decision, Decision::kAccept);
  EXPECT_EQ(Info("HOTP00000001").last_accepted, 501);
  EXPECT_EQ(verify(c502.c_str()), Decision::kAccept);
  EXPECT_EQ(service_->Resync("HOTP00000001", c500, c501)->decision, Decision::kReject)
      << "a resync pair behind the mark is not searched";
}

TEST_P(OperationsTest, TotpResyncFromTwoConsecutiveCodes) {
  RegisterAlice();
  // The token's clock runs 8 minutes (16 steps) fast.
  auto resync = service_->Resync("VSST00000001", Code(16), Code(17));
  ASSERT_TRUE(resync.ok());
  EXPECT_EQ(resync->decision, Decision::kAccept);
  EXPECT_EQ(Info().drift, 17);
  clock_.Advance(30);
  EXPECT_EQ(VerifyAlice(Code(17)), Decision::kAccept);
  // Beyond +-10 minutes: not found.
  EXPECT_EQ(service_->Resync("VSST00000001", Code(40), Code(41))->decision, Decision::kReject);
}

TEST_P(OperationsTest, ExpiredTokenCannotBeRegisteredOrUsed) {
  TokenSpec spec;
  spec.credential_id = "VSST00000009";
  spec.valid_until = kStart - 1;
  ASSERT_TRUE(service_->Provision(spec, Bytes(kSecret)).ok());
  auto verdict = service_->Register("dave", "VSST00000009", Code());
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->decision, Decision::kReject) << "the register answer hides why";
  EXPECT_EQ(Info("VSST00000009").state, TokenState::kUnassigned);
}

// Expiry and disablement are per token: the user's valid token still logs
// in, and the audit line names the token passed over and why.
TEST_P(OperationsTest, ExpiredOrDisabledTokenIsSkippedAndTheValidOneDecides) {
  RecordingSink sink;
  service_ = OtpService::Open(config_, clock_, false, &sink).value();
  TokenSpec old_token;
  old_token.credential_id = "VSST00000008";
  old_token.owner = "alice";
  old_token.valid_until = kStart + 60;
  ASSERT_TRUE(service_->Provision(old_token, Bytes("abcdefghijabcdefghij")).ok());
  TokenSpec spare;
  spare.credential_id = "VSST00000007";
  spare.owner = "alice";
  ASSERT_TRUE(service_->Provision(spare, Bytes("ABCDEFGHIJABCDEFGHIJ")).ok());
  ASSERT_TRUE(service_->SetEnabled("VSST00000007", false).ok());
  TokenSpec valid;
  valid.credential_id = "VSST00000006";
  valid.owner = "alice";
  ASSERT_TRUE(service_->Provision(valid, Bytes(kSecret)).ok());
  clock_.Advance(120);  // VSST00000008 has expired
  sink.lines.clear();
  auto verdict = service_->Verify("alice", Code());
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->decision, Decision::kAccept);
  EXPECT_EQ(verdict->credential_id, "VSST00000006");
  ASSERT_EQ(sink.lines.size(), 1u);
  EXPECT_NE(sink.lines[0].find("token=VSST00000006"), std::string::npos) << sink.lines[0];
  EXPECT_NE(sink.lines[0].find("outcome=accept"), std::string::npos) << sink.lines[0];
  EXPECT_NE(sink.lines[0].find("VSST00000008:expired"), std::string::npos) << sink.lines[0];
  EXPECT_NE(sink.lines[0].find("VSST00000007:disabled"), std::string::npos) << sink.lines[0];
  // The front end's view agrees: one usable token, not locked.
  auto state = service_->GetUserState("alice").value();
  EXPECT_EQ(state.active_tokens, 1);
  EXPECT_FALSE(state.locked());
  // With the valid one gone, only skipped tokens: a refusal, not an error.
  ASSERT_TRUE(service_->Delete("VSST00000006").ok());
  clock_.Advance(30);
  verdict = service_->Verify("alice", Code());
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->decision, Decision::kReject);
  EXPECT_NE(sink.lines.back().find("reason=no-usable-token"), std::string::npos)
      << sink.lines.back();
}

TEST_P(OperationsTest, ProvisionRefusesDuplicatesAndShortSecrets) {
  TokenSpec spec;
  spec.credential_id = "VSST00000001";
  EXPECT_EQ(service_->Provision(spec, Bytes(kSecret)).code(), StatusCode::kAlreadyExists);
  spec.credential_id = "VSST00000003";
  EXPECT_EQ(service_->Provision(spec, Bytes("short")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->Show("VSST00000003").status().code(), StatusCode::kNotFound);
}

TEST_P(OperationsTest, ProvisionBoundInABatch) {
  std::vector<std::pair<TokenSpec, SecretBytes>> tokens;
  for (int i = 0; i < 3; ++i) {
    TokenSpec spec;
    spec.credential_id = "HWTK0000000" + std::to_string(i);
    spec.owner = "user" + std::to_string(i);
    tokens.emplace_back(spec, Bytes(kSecret));
  }
  TokenSpec existing;
  existing.credential_id = "VSST00000001";
  tokens.emplace_back(existing, Bytes(kSecret));
  std::vector<std::string> imported, skipped;
  ASSERT_TRUE(service_->ProvisionBatch(tokens, false, &imported, &skipped).ok());
  EXPECT_EQ(imported.size(), 3u);
  EXPECT_EQ(skipped, std::vector<std::string>{"VSST00000001"});
  EXPECT_EQ(Info("HWTK00000001").owner, "user1");
  EXPECT_EQ(Info("HWTK00000001").state, TokenState::kActive);
  auto verdict = service_->Verify("user2", Code());
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->decision, Decision::kAccept);
}

TEST_P(OperationsTest, DeleteRemovesTokenAndUserIndex) {
  RegisterAlice();
  ASSERT_TRUE(service_->Delete("VSST00000001").ok());
  EXPECT_EQ(VerifyAlice(Code()), Decision::kNoToken);
  EXPECT_EQ(service_->Delete("VSST00000001").code(), StatusCode::kNotFound);
}

TEST_P(OperationsTest, WrongMasterKeyIsToldApart) {
  Config other = config_;
  other.master_key = dir_.File("other.key");
  ASSERT_TRUE(MasterKey::Create(other.master_key).ok());
  auto service = OtpService::Open(other, clock_);
  EXPECT_EQ(service.status().code(), StatusCode::kWrongKey);
}

TEST_P(OperationsTest, SecretsAreNotInTheStoreInClear) {
  std::string bytes = StoreBytes();
  EXPECT_EQ(bytes.find(kSecret), std::string::npos);
  EXPECT_NE(bytes.find("VSST00000001"), std::string::npos);
}

TEST_P(OperationsTest, RevealedSecretMatches) {
  EXPECT_TRUE(service_->RevealSecret("VSST00000001").value() == Bytes(kSecret));
}

TEST_P(OperationsTest, AuditTrailNeverCarriesTheCode) {
  RecordingSink sink;
  service_ = OtpService::Open(config_, clock_, false, &sink).value();
  std::string code = Code();
  ASSERT_TRUE(service_->Register("alice", "VSST00000001", code).ok());
  ASSERT_TRUE(service_->Verify("alice", code).ok());
  ASSERT_TRUE(service_->Verify("alice", "12345x").status().code() == StatusCode::kInvalidArgument);
  ASSERT_EQ(sink.lines.size(), 3u);
  EXPECT_EQ(sink.lines[0],
            "action=register user=alice token=VSST00000001 outcome=accept "
            "reason=token-bound");
  EXPECT_EQ(sink.lines[1],
            "action=login user=alice token=VSST00000001 outcome=replay "
            "reason=code-already-used");
  for (const std::string& line : sink.lines) {
    EXPECT_EQ(line.find(code), std::string::npos) << line;
    EXPECT_EQ(line.find("12345x"), std::string::npos) << line;
  }
}

// Several processes race the same valid code: exactly one wins. Each process
// opens the store itself (as sshd's forked children do); several rounds, as
// a lost race is a matter of timing. Regression: closing a descriptor of
// lock.mdb after mdb_env_open dropped the process's POSIX lock, so a later
// process reinitialised the lock table and two writers both accepted.
TEST_P(OperationsTest, ConcurrentProcessesSameCodeExactlyOneAccepts) {
  RegisterAlice();
  service_.reset();
  constexpr int kProcesses = 8;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    clock_.Advance(30);
    std::string code = Code();
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);  // children block on it so they start together
    std::vector<pid_t> children;
    for (int i = 0; i < kProcesses; ++i) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::close(pipe_fds[1]);
        auto service = OtpService::Open(config_, clock_);
        char go;
        if (::read(pipe_fds[0], &go, 1) < 0) _exit(99);
        if (!service.ok()) _exit(98);
        auto verdict = (*service)->Verify("alice", code);
        if (!verdict.ok()) _exit(97);
        _exit(verdict->decision == Decision::kAccept ? 0 : 1);
      }
      children.push_back(pid);
    }
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);  // EOF releases every child at once
    int accepted = 0, refused = 0;
    for (pid_t pid : children) {
      int wstatus = 0;
      ::waitpid(pid, &wstatus, 0);
      ASSERT_TRUE(WIFEXITED(wstatus));
      int code_exit = WEXITSTATUS(wstatus);
      ASSERT_LE(code_exit, 1) << "child failed with " << code_exit;
      (code_exit == 0 ? accepted : refused)++;
    }
    EXPECT_EQ(accepted, 1) << "round " << round;
    EXPECT_EQ(refused, kProcesses - 1) << "round " << round;
  }
}

// Threads in one process (radiusd's model) share one service.
TEST_P(OperationsTest, ConcurrentThreadsSameCodeExactlyOneAccepts) {
  RegisterAlice();
  std::string code = Code();
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto verdict = service_->Verify("alice", code);
      if (verdict.ok() && verdict->decision == Decision::kAccept) ++accepted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
}

TEST_P(OperationsTest, CorruptRecordIsAnErrorAndChangesNothing) {
  RegisterAlice();
  service_.reset();
  PutRawRecord("VSST00000001", std::string("\x01\x02garbage", 9));
  std::string before = StoreBytes();
  service_ = OtpService::Open(config_, clock_).value();
  auto verdict = service_->Verify("alice", Code());
  EXPECT_EQ(verdict.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(verdict.status().message().find("VSST00000001"), std::string::npos);
  EXPECT_EQ(service_->Stop("alice", Code()).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(service_->Show("VSST00000001").status().code(), StatusCode::kCorrupt);
  service_.reset();
  EXPECT_EQ(StoreBytes(), before) << "a failed decision wrote to the store";
}

TEST_P(OperationsTest, RecordMovedToAnotherTokenDoesNotOpen) {
  RegisterAlice();
  Provision("VSST00000002");
  // Copy token 2's record bytes (sealed for credential ID ...02) over ...01,
  // fixing only the ID inside so that the record itself decodes.
  TokenRecord moved;
  ASSERT_TRUE(service_->Show("VSST00000002").ok());
  service_.reset();
  {
    auto store = Store::Open({.location = config_.store}).value();
    ASSERT_TRUE(store
                    ->Read([&](Txn& txn) -> Status {
                      OTPGATE_ASSIGN_OR_RETURN(moved, txn.GetToken("VSST00000002"));
                      return Status::Ok();
                    })
                    .ok());
  }
  moved.credential_id = "VSST00000001";
  moved.state = TokenState::kActive;
  moved.owner = "alice";
  std::vector<uint8_t> bytes = EncodeTokenRecord(moved);
  PutRawRecord("VSST00000001", std::string(bytes.begin(), bytes.end()));
  service_ = OtpService::Open(config_, clock_).value();
  auto verdict = service_->Verify("alice", Code());
  EXPECT_EQ(verdict.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(verdict.status().message().find("does not authenticate"), std::string::npos)
      << verdict.status().message();
}

INSTANTIATE_TEST_SUITE_P(Lmdb, OperationsTest, ::testing::Values(testing::Backend::kLmdb),
                         testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, OperationsTest, ::testing::Values(testing::Backend::kPostgres),
                         testing::BackendName);

TEST(OperationsOpenTest, MissingStoreOrKeyFailsClosed) {
  TempDir dir;
  Config config = testing::TestConfig(dir);
  ManualClock clock(kStart);
  EXPECT_EQ(OtpService::Open(config, clock).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(MasterKey::Create(config.master_key).ok());
  EXPECT_EQ(OtpService::Open(config, clock).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace otpgate
