// A threaded PAM application: 16 threads, each with its own PAM handles
// (pam_start_confdir / pam_authenticate / pam_end per attempt), against one
// pam_otpgate.so instance in one process, as a multithreaded host uses it.
// Every decision must be right; under -DOTPGATE_SANITIZE=address,undefined
// (this binary and the module instrumented) there must be no report.
// Bound: 16 threads x 30 rounds x 3 attempts, about a second (a few under ASan).
#include <gtest/gtest.h>
#include <security/pam_appl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../../unit/test_util.h"
#include "otpgate/operations.h"
#include "otpgate/otp.h"

namespace otpgate {
namespace {

constexpr int kThreads = 16;
constexpr int kRounds = 30;
const char kSecret[] = "12345678901234567890";

int Answer(int count, const pam_message** messages, pam_response** responses, void* data) {
  auto* answer = static_cast<const std::string*>(data);
  auto* out =
      static_cast<pam_response*>(std::calloc(static_cast<size_t>(count), sizeof(pam_response)));
  if (out == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < count; ++i) {
    if (messages[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
        messages[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      out[i].resp = strdup(answer->c_str());
    }
  }
  *responses = out;
  return PAM_SUCCESS;
}

int Authenticate(const std::string& confdir, const std::string& user, const std::string& code) {
  pam_conv conv{Answer, const_cast<std::string*>(&code)};
  pam_handle_t* pamh = nullptr;
  int rc = pam_start_confdir("otp", user.c_str(), &conv, confdir.c_str(), &pamh);
  if (rc != PAM_SUCCESS) return -rc;
  rc = pam_authenticate(pamh, PAM_SILENT);
  pam_end(pamh, rc);
  return rc;
}

std::string Hotp(uint64_t counter) {
  return GenerateHotp(HashAlgorithm::kSha1, testing::Bytes(kSecret), counter, 6).value();
}

TEST(PamThreadsTest, SixteenThreadsOfHandlesDecideRightly) {
  testing::TempDir dir;
  Config config = testing::TestConfig(dir);
  // The store is prepared in a child: this process opens it only through
  // the module (one LMDB environment per path per process).
  pid_t child = ::fork();
  if (child == 0) {
    if (!InitializeDeployment(config).ok()) _exit(1);
    SystemClock clock;
    auto service = OtpService::Open(config, clock);
    if (!service.ok()) _exit(2);
    for (int i = 0; i < kThreads; i += 2) {  // even threads: enrolled (HOTP)
      TokenSpec spec;
      spec.credential_id = "HOTP" + std::to_string(1000 + i);
      spec.params.kind = OtpKind::kHotp;
      spec.owner = "user" + std::to_string(i);
      if (!(*service)->Provision(spec, testing::Bytes(kSecret)).ok()) _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  std::string confdir = dir.File("pam.d");
  ::mkdir(confdir.c_str(), 0755);
  std::ofstream(confdir + "/other") << "auth required pam_deny.so\n";
  // Explicit config file: the host's /etc/otpgate is never read.
  std::string config_file = dir.File("otpgate.conf");
  std::ofstream(config_file) << "";
  std::ofstream(confdir + "/otp") << "auth required " OTPGATE_PAM_MODULE " config=" << config_file
                                  << " store=" << config.store
                                  << " master_key=" << config.master_key
                                  << " fail_delay_ms=0\nauth required pam_permit.so\n";

  std::atomic<int> wrong{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string user = "user" + std::to_string(t);
      auto expect = [&](int got, int want, const std::string& what) {
        if (got != want) {
          ++wrong;
          errors[t] +=
              what + ": got " + std::to_string(got) + " want " + std::to_string(want) + "\n";
        }
      };
      for (int round = 0; round < kRounds; ++round) {
        if (t % 2 == 1) {  // no token: unenrolled = allow, the stack's pam_permit decides
          expect(Authenticate(confdir, user, "123456"), PAM_SUCCESS, "unenrolled");
          continue;
        }
        std::string code = Hotp(static_cast<uint64_t>(round));
        expect(Authenticate(confdir, user, code), PAM_SUCCESS,
               "accept round " + std::to_string(round));
        expect(Authenticate(confdir, user, code), PAM_AUTH_ERR,
               "replay round " + std::to_string(round));
        expect(Authenticate(confdir, user, "12a456"), PAM_AUTH_ERR, "malformed");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::string all;
  for (const std::string& e : errors) all += e;
  EXPECT_EQ(wrong.load(), 0) << all;
}

}  // namespace
}  // namespace otpgate
