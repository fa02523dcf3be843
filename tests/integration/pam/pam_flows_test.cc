// pam_otpgate.so through real libpam (pam_wrapper): the bank's three flows,
// policies, bad input, split mode, lockout safety, races and fail-closed.
// Each authentication runs in its own process (pam_driver) like a login does.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <security/pam_appl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "../../unit/test_util.h"
#include "otpgate/operations.h"

namespace otpgate {
namespace {

// The syslog capture, after the sanitizer runtime when the suite is
// instrumented (scripts/test.sh sets OTPGATE_TEST_PRELOAD to libasan: it
// must come first).
std::string TestPreload(const std::string& syslog_capture) {
  const char* sanitizer = std::getenv("OTPGATE_TEST_PRELOAD");
  return (sanitizer != nullptr && *sanitizer != '\0' ? std::string(sanitizer) + ":" : "") +
         syslog_capture;
}

using testing::Bytes;
using testing::TempDir;

const char kSecret[] = "12345678901234567890";
const char kPassword[] = "secretpw";

struct PamRun {
  int rc = -1;
  std::string output;
  bool Saw(const std::string& text) const { return output.find(text) != std::string::npos; }
};

class PamFlowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = testing::TestConfig(dir_);
    // Every module instance gets its config file explicitly: the host's
    // /etc/otpgate is never read.
    std::ofstream(config_file_) << "";
    ::chmod(config_file_.c_str(), 0644);
    ASSERT_TRUE(InitializeDeployment(config_).ok());
    service_ = OtpService::Open(config_, clock_).value();
    for (const char* id : {"VSST12345678", "VSST00000002"}) {
      TokenSpec spec;
      spec.credential_id = id;
      ASSERT_TRUE(service_->Provision(spec, Bytes(kSecret)).ok());
    }
    services_ = dir_.File("pam.d");
    ::mkdir(services_.c_str(), 0755);
    WriteService("other", "auth required pam_deny.so\naccount required pam_deny.so\n");
    std::string first = std::string("auth requisite pam_exec.so expose_authtok quiet ") +
                        OTPGATE_TEST_SOURCE_DIR "/check_password.sh " + kPassword + "\n";
    // The bank's front-end services: password first (requisite), then OTP.
    WriteService("otp-login", first + Module("action=login") + Account());
    WriteService("otp-login-deny", first + Module("action=login unenrolled=deny"));
    WriteService("otp-register", first + Module("action=register"));
    WriteService("otp-stop", first + Module("action=stop"));
    WriteService("otp-first-login-enrolls", first + Module("unenrolled=register"));
    WriteService("otp-split", Module("split", "requisite") + first + Module("action=login"));
    WriteService("otp-only", Module("") + Account());
    WriteService("otp-badopt", Module("windwo=3"));
    WriteService("otp-debug", first + Module("debug"));
    // Two stacked profiles (sshd's line and common-auth's): one prompt.
    WriteService("otp-twice", first + Module("action=login") + Module("action=login"));
  }

  std::string Module(const std::string& args, const std::string& control = "required") {
    return "auth " + control + " " OTPGATE_PAM_MODULE " config=" + config_file_ +
           " store=" + config_.store + " master_key=" + config_.master_key + " fail_delay_ms=0 " +
           args + "\n";
  }
  std::string Account() {
    return "account required " OTPGATE_PAM_MODULE " config=" + config_file_ +
           " store=" + config_.store + " master_key=" + config_.master_key + "\n";
  }
  void WriteService(const std::string& name, const std::string& text) {
    std::ofstream(services_ + "/" + name) << text;
  }

  // Runs pam_driver under pam_wrapper, with the given driver arguments.
  PamRun Drive(const std::vector<std::string>& args) {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      ::close(out[0]);
      std::vector<std::string> env_strings = {"LD_PRELOAD=" + TestPreload(OTPGATE_SYSLOG_CAPTURE),
                                              "PATH=/usr/bin:/bin",
                                              "OTPGATE_TEST_SYSLOG=" + syslog_};
      std::vector<char*> env;
      for (auto& e : env_strings) env.push_back(e.data());
      env.push_back(nullptr);
      std::vector<std::string> argv_strings = {OTPGATE_PAM_DRIVER, "--confdir", services_};
      argv_strings.insert(argv_strings.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_strings) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execve(argv[0], argv.data(), env.data());
      _exit(127);
    }
    ::close(out[1]);
    PamRun run;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(out[0], buffer, sizeof(buffer))) > 0)
      run.output.append(buffer, static_cast<size_t>(n));
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    run.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  PamRun Login(const std::string& user, const std::vector<std::string>& answers,
               const std::string& service = "otp-login", std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--service", service, "--user", user};
    for (const auto& a : answers) {
      args.push_back("--answer");
      args.push_back(a);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Drive(args);
  }

  // The next code the token will accept: one step past its replay mark (or
  // the current step for a fresh token), computed from the secret.
  std::string NextCode(const std::string& id = "VSST12345678") {
    TokenInfo info = service_->Show(id).value();
    int64_t now_step = SystemClock().Now() / 30;
    int64_t step = std::max(info.last_accepted + 1, now_step);
    return GenerateHotp(HashAlgorithm::kSha1, Bytes(kSecret), static_cast<uint64_t>(step), 6)
        .value();
  }
  TokenInfo Info(const std::string& id = "VSST12345678") { return service_->Show(id).value(); }

  void Register(const std::string& user) {
    PamRun run = Login(user, {kPassword, "VSST12345678", NextCode()}, "otp-register");
    ASSERT_EQ(run.rc, PAM_SUCCESS) << run.output << SyslogText();
  }

  // The captured syslog so far, left in place: the audit line that says why
  // a run failed, for failure messages.
  std::string SyslogText() {
    std::ifstream in(syslog_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return "syslog:\n" + text;
  }

  // The syslog lines since the last call (pam_otpgate's audit trail).
  std::vector<std::string> Syslog() {
    std::ifstream in(syslog_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ::unlink(syslog_.c_str());
    return lines;
  }
  std::vector<std::string> AuditLines() {
    std::vector<std::string> out;
    for (const std::string& line : Syslog()) {
      if (line.find("pam_otpgate: action=") != std::string::npos) out.push_back(line);
    }
    return out;
  }

  TempDir dir_;
  std::string config_file_ = dir_.File("otpgate.conf");
  std::string syslog_ = dir_.File("syslog");
  Config config_;
  SystemClock clock_;
  std::unique_ptr<OtpService> service_;
  std::string services_;
};

TEST_F(PamFlowsTest, RegisterLoginReplayLockoutUnlockStop) {
  // Before registration: the optional service lets the password decide.
  PamRun run = Login("alice", {kPassword});
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_FALSE(run.Saw("One-time password")) << "no OTP prompt for an unenrolled user";
  EXPECT_EQ(Login("alice", {kPassword}, "otp-login-deny").rc, PAM_AUTH_ERR);

  // Register: password, token ID (echo on), code (echo off).
  std::string code = NextCode();
  run = Login("alice", {kPassword, "VSST12345678", code}, "otp-register");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_TRUE(run.Saw("PROMPT_ECHO_ON Token ID (credential ID): ")) << run.output;
  EXPECT_TRUE(run.Saw("PROMPT_ECHO_OFF One-time password: ")) << run.output;
  EXPECT_TRUE(run.Saw("INFO One-time password registration is complete.")) << run.output;
  EXPECT_EQ(Info().owner, "alice");

  // Login with the current code; the same code again is refused.
  code = NextCode();
  run = Login("alice", {kPassword, code});
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_EQ(Login("alice", {kPassword, code}).rc, PAM_AUTH_ERR);
  // Without a code there is no login.
  EXPECT_EQ(Login("alice", {kPassword}).rc, PAM_CONV_ERR);

  // Wrong codes until locked (the replay above was failure 1).
  for (const char* wrong : {"000001", "000002", "000003", "000004"}) {
    EXPECT_EQ(Login("alice", {kPassword, wrong}).rc, PAM_AUTH_ERR) << wrong;
  }
  run = Login("alice", {kPassword, NextCode()});
  EXPECT_EQ(run.rc, PAM_MAXTRIES) << run.output;
  EXPECT_FALSE(run.Saw("PROMPT_ECHO_OFF One-time password")) << "locked: no prompt";
  EXPECT_TRUE(run.Saw("locked")) << run.output;
  run = Login("alice", {}, "otp-only", {"--acct"});
  EXPECT_TRUE(run.Saw("acct_mgmt " + std::to_string(PAM_PERM_DENIED))) << run.output;

  // Unlock with the CLI, then log in.
  std::string unlock = std::string(OTPGATE_CLI) + " --config " + config_file_ + " --store " +
                       config_.store + " --master-key " + config_.master_key +
                       " unlock VSST12345678 >/dev/null";
  ASSERT_EQ(std::system(unlock.c_str()), 0);
  run = Login("alice", {kPassword, NextCode()}, "otp-login", {"--acct"});
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_TRUE(run.Saw("acct_mgmt 0")) << run.output;

  // Stop, then login is back to ID + password; with unenrolled=deny it is refused.
  run = Login("alice", {kPassword, NextCode()}, "otp-stop");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_TRUE(run.Saw("INFO One-time password use is stopped")) << run.output;
  EXPECT_EQ(Info().state, TokenState::kUnassigned);
  run = Login("alice", {kPassword});
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_EQ(Login("alice", {kPassword}, "otp-login-deny").rc, PAM_AUTH_ERR);
}

TEST_F(PamFlowsTest, RegisterBadInput) {
  Register("alice");
  // A token bound to someone else.
  PamRun run = Login("bob", {kPassword, "VSST12345678", NextCode()}, "otp-register");
  EXPECT_EQ(run.rc, PAM_AUTH_ERR);
  const std::string refused =
      "ERROR One-time password registration failed: check the token ID "
      "and the one-time password.";
  EXPECT_TRUE(run.Saw(refused)) << run.output;
  // Unknown credential ID: the same message (the screen does not tell an
  // unknown token from one bound to someone else).
  run = Login("bob", {kPassword, "VSST99999999", "123456"}, "otp-register");
  EXPECT_EQ(run.rc, PAM_AUTH_ERR);
  EXPECT_TRUE(run.Saw(refused)) << run.output;
  // Garbage and very long input change nothing.
  TokenInfo before = Info("VSST00000002");
  for (const std::string& bad :
       {std::string("!!!"), std::string(100000, '9'), std::string("12a456")}) {
    run = Login("bob", {kPassword, "VSST00000002", bad}, "otp-register");
    EXPECT_EQ(run.rc, PAM_AUTH_ERR) << run.output;
    run = Login("bob", {kPassword, bad, "123456"}, "otp-register");
    EXPECT_EQ(run.rc, PAM_AUTH_ERR) << run.output;
  }
  EXPECT_EQ(Info("VSST00000002").failures, before.failures);
  EXPECT_EQ(Info("VSST00000002").state, TokenState::kUnassigned);
  // Full-width digits and letters, as typed with a Japanese IME.
  std::string code = NextCode("VSST00000002");
  std::string full_width;
  for (char c : code)
    full_width += "\xef\xbc" + std::string(1, static_cast<char>(0x90 + (c - '0')));
  run = Login("bob", {kPassword, "ＶＳＳＴ０００００００２", full_width}, "otp-register");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_EQ(Info("VSST00000002").owner, "bob");
}

TEST_F(PamFlowsTest, RegisterRefusedForEnrolledUser) {
  Register("alice");
  PamRun run =
      Login("alice", {kPassword, "VSST00000002", NextCode("VSST00000002")}, "otp-register");
  EXPECT_EQ(run.rc, PAM_AUTH_ERR) << run.output;
  EXPECT_EQ(Info("VSST00000002").state, TokenState::kUnassigned);
}

TEST_F(PamFlowsTest, FirstLoginEnrolls) {
  PamRun run = Login("carol", {kPassword, "VSST12345678", NextCode()}, "otp-first-login-enrolls");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output << SyslogText();
  EXPECT_EQ(Info().owner, "carol");
}

TEST_F(PamFlowsTest, SilentSuppressesMessages) {
  PamRun run =
      Login("alice", {kPassword, "VSST12345678", NextCode()}, "otp-register", {"--silent"});
  EXPECT_EQ(run.rc, PAM_SUCCESS);
  EXPECT_FALSE(run.Saw("INFO")) << run.output;
}

TEST_F(PamFlowsTest, ConversationFailure) {
  Register("alice");
  EXPECT_EQ(Login("alice", {}, "otp-only", {"--fail-conv"}).rc, PAM_CONV_ERR);
}

TEST_F(PamFlowsTest, UnknownOptionIsServiceError) {
  EXPECT_EQ(Login("alice", {"123456"}, "otp-badopt").rc, PAM_SERVICE_ERR);
}

TEST_F(PamFlowsTest, SplitPasswordAndCodeInOneField) {
  Register("alice");
  // One "Password: " prompt answered with password + code, as a gateway with
  // a single field sends it. pam_exec (the password check) sees only the
  // password: the module took the code off the end and left the rest.
  PamRun run = Login("alice", {std::string(kPassword) + NextCode()}, "otp-split");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_EQ(run.output.find("PROMPT"), run.output.rfind("PROMPT")) << "one prompt only";
  // A wrong password with a valid code: refused by the password module (pam_exec
  // says PAM_SYSTEM_ERR), and the code is not even looked at (still valid below).
  std::string code = NextCode();
  run = Login("alice", {"wrongpw" + code}, "otp-split");
  EXPECT_NE(run.rc, PAM_SUCCESS) << run.output;
  EXPECT_EQ(Info().failures, 0u);
  run = Login("alice", {std::string(kPassword) + code}, "otp-split");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  // The right password and a wrong code: refused by the OTP line.
  run = Login("alice", {std::string(kPassword) + "000000"}, "otp-split");
  EXPECT_EQ(run.rc, PAM_AUTH_ERR) << run.output;
  // An unenrolled user's password is left whole.
  run = Login("dave", {kPassword}, "otp-split");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
}

TEST_F(PamFlowsTest, LockoutSafetyWrongPasswordNeverCounts) {
  Register("alice");
  for (int i = 0; i < 8; ++i) {
    PamRun run = Login("alice", {"wrong-password", "00000" + std::to_string(i)});
    EXPECT_NE(run.rc, PAM_SUCCESS) << run.output;  // pam_exec's PAM_SYSTEM_ERR
    EXPECT_FALSE(run.Saw("One-time password")) << "OTP module ran without the first factor";
  }
  EXPECT_EQ(Info().failures, 0u);
  EXPECT_EQ(Info().lock_until, 0);
  EXPECT_EQ(Login("alice", {kPassword, NextCode()}).rc, PAM_SUCCESS);
}

TEST_F(PamFlowsTest, EightProcessesRaceOneCodeExactlyOneSucceeds) {
  Register("alice");
  std::string code = NextCode();
  std::vector<pid_t> children;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      PamRun run = Login("alice", {kPassword, code});
      _exit(run.rc == PAM_SUCCESS ? 0 : run.rc == PAM_AUTH_ERR ? 1 : 2);
    }
    children.push_back(pid);
  }
  int success = 0, refused = 0;
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 2);
    (WEXITSTATUS(status) == 0 ? success : refused)++;
  }
  EXPECT_EQ(success, 1);
  EXPECT_EQ(refused, 7);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(PamFlowsTest, StoreUnavailableFailsClosedAndWritesNothing) {
  Register("alice");
  service_.reset();
  std::string data = config_.store + "/data.mdb";
  std::string before = FileBytes(data);
  // Unsafe mode: refused.
  ASSERT_EQ(::chmod(data.c_str(), 0644), 0);
  PamRun run = Login("alice", {kPassword, "123456"});
  EXPECT_EQ(run.rc, PAM_AUTHINFO_UNAVAIL) << run.output;
  run = Login("bob", {kPassword});
  EXPECT_EQ(run.rc, PAM_AUTHINFO_UNAVAIL) << "an unknown user must not pass either";
  ASSERT_EQ(::chmod(data.c_str(), 0600), 0);
  EXPECT_EQ(FileBytes(data), before);
  // Store gone: refused.
  std::string moved = config_.store + ".moved";
  ASSERT_EQ(::rename(config_.store.c_str(), moved.c_str()), 0);
  EXPECT_EQ(Login("alice", {kPassword, "123456"}).rc, PAM_AUTHINFO_UNAVAIL);
  ASSERT_EQ(::rename(moved.c_str(), config_.store.c_str()), 0);
  EXPECT_EQ(FileBytes(data), before);
}

// Runs pam_driver as nobody against `stack` (the store stays root's: nobody
// cannot open it); returns the exit code and the syslog lines.
std::pair<int, std::string> RunAsNobody(const TempDir& dir, const std::string& stack) {
  // nobody gets copies of the driver, the module and the syslog shim (the
  // build tree may not be readable by nobody) and its own service file.
  ::chmod(dir.path().c_str(), 0755);
  std::string bin = dir.File("bin");
  ::mkdir(bin.c_str(), 0755);
  std::string copy = "cp " OTPGATE_PAM_DRIVER " " OTPGATE_PAM_MODULE " " OTPGATE_SYSLOG_CAPTURE
                     " " +
                     bin + " && chmod 0755 " + bin + "/*";
  EXPECT_EQ(std::system(copy.c_str()), 0);
  std::string logs = dir.File("nobody-log");
  ::mkdir(logs.c_str(), 0777);
  ::chmod(logs.c_str(), 0777);
  std::string services = dir.File("pam.nobody");
  ::mkdir(services.c_str(), 0755);
  std::ofstream(services + "/other") << "auth required pam_deny.so\n";
  std::string text = stack;
  for (size_t at; (at = text.find("@MODULE@")) != std::string::npos;) {
    text.replace(at, 8, bin + "/pam_otpgate.so");
  }
  std::ofstream(services + "/otp-only") << text;
  ::chmod((services + "/other").c_str(), 0644);
  ::chmod((services + "/otp-only").c_str(), 0644);
  std::string command =
      "setpriv --reuid=nobody --regid=nogroup --clear-groups env "
      "LD_PRELOAD='" +
      TestPreload(bin + "/syslog_capture.so") + "' OTPGATE_TEST_SYSLOG=" + logs + "/syslog " + bin +
      "/pam_driver --confdir " + services +
      " --service otp-only --user alice --answer 123456 >/dev/null 2>&1";
  int status = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(status));
  std::ifstream in(logs + "/syslog");
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, log};
}

TEST_F(PamFlowsTest, NonRootCallerFailsClosed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the driver as nobody";
  Register("alice");
  std::string module = "auth required @MODULE@ config=" + config_file_ + " store=" + config_.store +
                       " master_key=" + config_.master_key + " fail_delay_ms=0";
  auto [rc, log] = RunAsNobody(dir_, module + "\nauth required pam_permit.so\n");
  EXPECT_EQ(rc, PAM_AUTHINFO_UNAVAIL) << log;
  EXPECT_NE(log.find("action=login user=alice frontend=pam service=otp-only outcome=unavailable"),
            std::string::npos)
      << log;
}

// nonroot=ignore (the common-auth profile's choice): a screen locker running
// as the user is not refused by otpgate, and syslog says why.
TEST_F(PamFlowsTest, NonRootCallerIgnoredWhenConfigured) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the driver as nobody";
  Register("alice");
  std::string module = "auth required @MODULE@ config=" + config_file_ + " store=" + config_.store +
                       " master_key=" + config_.master_key + " fail_delay_ms=0 nonroot=ignore";
  auto [rc, log] = RunAsNobody(dir_, module + "\nauth required pam_permit.so\n");
  EXPECT_EQ(rc, PAM_SUCCESS) << log;
  EXPECT_NE(log.find("is not root and cannot open the store"), std::string::npos) << log;
  EXPECT_NE(log.find("nonroot=ignore"), std::string::npos) << log;
}

TEST_F(PamFlowsTest, AuditTrailHasOneLinePerDecision) {
  Syslog();
  const std::string service = " frontend=pam service=otp-login ";
  EXPECT_EQ(Login("alice", {kPassword}).rc, PAM_SUCCESS);
  EXPECT_EQ(AuditLines(),
            std::vector<std::string>{"<86> pam_otpgate: action=login user=alice" + service +
                                     "outcome=allow reason=unenrolled-allow"});
  EXPECT_EQ(Login("alice", {kPassword}, "otp-login-deny").rc, PAM_AUTH_ERR);
  EXPECT_EQ(AuditLines(),
            std::vector<std::string>{
                "<85> pam_otpgate: action=login user=alice frontend=pam service=otp-login-deny "
                "outcome=no-token reason=unenrolled-deny"});
  Register("alice");
  EXPECT_EQ(AuditLines(),
            std::vector<std::string>{
                "<86> pam_otpgate: action=register user=alice token=VSST12345678 frontend=pam "
                "service=otp-register outcome=accept reason=token-bound"});
  std::string code = NextCode();
  EXPECT_EQ(Login("alice", {kPassword, code}).rc, PAM_SUCCESS);
  EXPECT_EQ(AuditLines(), std::vector<std::string>{
                              "<86> pam_otpgate: action=login user=alice token=VSST12345678" +
                              service + "outcome=accept"});
  // A malformed code: one line.
  EXPECT_EQ(Login("alice", {kPassword, "12a456"}).rc, PAM_AUTH_ERR);
  auto lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("outcome=invalid-argument"), std::string::npos) << lines[0];
  // Lock it; the locked refusal names the token.
  for (const char* wrong : {"000001", "000002", "000003", "000004", "000005"}) {
    Login("alice", {kPassword, wrong});
  }
  Syslog();
  EXPECT_EQ(Login("alice", {kPassword, NextCode()}).rc, PAM_MAXTRIES);
  EXPECT_EQ(AuditLines(), std::vector<std::string>{
                              "<85> pam_otpgate: action=login user=alice token=VSST12345678" +
                              service + "outcome=locked reason=token-locked"});
  // A user name cannot forge fields.
  EXPECT_EQ(Login("x outcome=accept", {kPassword}).rc, PAM_SUCCESS);
  EXPECT_EQ(AuditLines(),
            std::vector<std::string>{"<86> pam_otpgate: action=login user=x%20outcome%3Daccept" +
                                     service + "outcome=allow reason=unenrolled-allow"});
}

TEST_F(PamFlowsTest, DebugLinesNeverCarryTheCodeOrPassword) {
  Register("alice");
  Syslog();
  std::string code = NextCode();
  PamRun run = Login("alice", {kPassword, code}, "otp-debug");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output << SyslogText();
  std::vector<std::string> lines = Syslog();
  int debug = 0;
  for (const std::string& line : lines) {
    if (line.rfind("<87> pam_otpgate: ", 0) == 0) ++debug;
    EXPECT_EQ(line.find(code), std::string::npos) << line;
    EXPECT_EQ(line.find(kPassword), std::string::npos) << line;
    EXPECT_EQ(line.find(kSecret), std::string::npos) << line;
  }
  EXPECT_GE(debug, 2) << "debug traces the decision";
  EXPECT_EQ(Login("alice", {kPassword, NextCode()}).rc, PAM_SUCCESS);
  for (const std::string& line : Syslog()) {
    EXPECT_NE(line.rfind("<87>", 0), 0u) << "no debug lines without debug: " << line;
  }
}

// A second otpgate login line in the same PAM handle after an accept is a
// no-op: one prompt, one decision (not a replay of the same code).
TEST_F(PamFlowsTest, SecondLineAfterAcceptInOneHandleIsANoOp) {
  Register("alice");
  Syslog();
  PamRun run = Login("alice", {kPassword, NextCode()}, "otp-twice");
  EXPECT_EQ(run.rc, PAM_SUCCESS) << run.output;
  size_t prompts = 0;
  for (size_t at = 0; (at = run.output.find("PROMPT_ECHO_OFF One-time", at)) != std::string::npos;
       ++at) {
    ++prompts;
  }
  EXPECT_EQ(prompts, 1u) << run.output;
  EXPECT_EQ(AuditLines().size(), 1u);
  // A wrong code is still refused by the first line.
  run = Login("alice", {kPassword, "000000"}, "otp-twice");
  EXPECT_EQ(run.rc, PAM_AUTH_ERR) << run.output;
}

}  // namespace
}  // namespace otpgate
