// PAM login throughput: pam_start / pam_authenticate / pam_end per login,
// a new handle each time, each login a fresh valid HOTP code (durable replay
// protection for the modules that have it). Run under pam_wrapper by
// bench/run_pam_bench.sh, which compares pam_otpgate, pam_oath and
// pam_permit in one run.
//
//   pam_bench setup DIR USERS [totp]  store + key in DIR (HOTP tokens, or TOTP),
//                                     pam_oath usersfile DIR/oath.users
//   pam_bench run SERVICE USERS LOGINS [FIRST_COUNTER]
//                                  every login in this one process
//   pam_bench spawn SERVICE USERS LOGINS [FIRST_COUNTER]
//                                  a new process per login, as sshd does: each
//                                  child (pam_bench one) loads libpam and the
//                                  module, which opens the store, key, config
//   pam_bench spawn-host SERVICE USERS LOGINS [FIRST_COUNTER]
//                                  the same, each child first doing what every
//                                  login program has done before PAM runs
//                                  (see PrepareAsHost)
//   pam_bench one SERVICE USER CODE  one login (the child of spawn)
//   pam_bench one-host SERVICE USER CODE  the same after PrepareAsHost
//   pam_bench commit DIR COUNT     durable LMDB commits (the fsync a login pays)
#include <lmdb.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "otpgate/base32.h"
#include "otpgate/operations.h"
#include "otpgate/otp.h"

namespace {

using Clock = std::chrono::steady_clock;

otpgate::SecretBytes SecretFor(long user) {
  std::string text = "bench-" + std::to_string(user);
  text.resize(20, '.');
  return otpgate::SecretBytes({reinterpret_cast<const uint8_t*>(text.data()), 20});
}

std::string UserName(long user) { return "user" + std::to_string(user); }

int Setup(const std::string& dir, long users, otpgate::OtpKind kind) {
  otpgate::Config config;
  config.store = dir + "/store";
  config.master_key = dir + "/master.key";
  otpgate::Status status = otpgate::InitializeDeployment(config);
  if (!status.ok()) {
    std::fprintf(stderr, "init: %s\n", status.ToString().c_str());
    return 1;
  }
  otpgate::SystemClock clock;
  auto service = otpgate::OtpService::Open(config, clock).value();
  std::ofstream oath(dir + "/oath.users");
  const long kBatch = 10000;
  for (long first = 0; first < users; first += kBatch) {
    std::vector<std::pair<otpgate::TokenSpec, otpgate::SecretBytes>> tokens;
    for (long u = first; u < std::min(users, first + kBatch); ++u) {
      otpgate::TokenSpec spec;
      char id[32];
      std::snprintf(id, sizeof(id), "BNCH%08ld", u);
      spec.credential_id = id;
      spec.params.kind = kind;
      spec.owner = UserName(u);
      otpgate::SecretBytes secret = SecretFor(u);
      oath << "HOTP " << UserName(u) << " - " << otpgate::HexEncode(secret.span()) << "\n";
      tokens.emplace_back(spec, std::move(secret));
    }
    status = service->ProvisionBatch(tokens, true, nullptr, nullptr);
    if (!status.ok()) {
      std::fprintf(stderr, "provision: %s\n", status.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

struct Answer {
  std::string code;
};

int Converse(int count, const pam_message** messages, pam_response** responses, void* data) {
  auto* answer = static_cast<Answer*>(data);
  auto* out =
      static_cast<pam_response*>(std::calloc(static_cast<size_t>(count), sizeof(pam_response)));
  for (int i = 0; i < count; ++i) {
    if (messages[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
        messages[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      out[i].resp = strdup(answer->code.c_str());
    }
  }
  *responses = out;
  return PAM_SUCCESS;
}

// Codes are computed before timing starts: login k is user k % users with
// the next counter of that user.
std::vector<std::string> Codes(long users, long logins, long first_counter) {
  std::vector<std::string> codes(static_cast<size_t>(logins));
  for (long k = 0; k < logins; ++k) {
    long user = k % users;
    uint64_t counter = static_cast<uint64_t>(first_counter + k / users);
    codes[static_cast<size_t>(k)] =
        otpgate::GenerateHotp(otpgate::HashAlgorithm::kSha1, SecretFor(user), counter, 6).value();
  }
  return codes;
}

// One login; PAM's return code (a PAM_START failure is PAM_SYSTEM_ERR).
int Login(const char* service, const std::string& user, const std::string& code) {
  Answer answer{code};
  pam_conv conv{Converse, &answer};
  pam_handle_t* pamh = nullptr;
  if (pam_start(service, user.c_str(), &conv, &pamh) != PAM_SUCCESS) return PAM_SYSTEM_ERR;
  int rc = pam_authenticate(pamh, PAM_SILENT);
  pam_end(pamh, rc);
  return rc;
}

// What a login program has done before it calls PAM, so that the
// per-process cost measured is the module's and not the host's first use of
// a shared facility: it looks the user up through NSS (sshd, su and login
// all do), and - sshd - OpenSSL is initialised (its configuration read) and
// a digest fetched for the key exchange. Conservative: no cipher is fetched,
// although sshd may already have set up its session cipher through libcrypto.
void PrepareAsHost(const char* user) {
  (void)getpwnam(user);
  EVP_MD* digest = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  (void)EVP_Digest(user, std::strlen(user), out, &length, digest, nullptr);
  EVP_MD_free(digest);
}

void Report(const char* mode, const char* service, long users, long logins, long failures,
            double seconds) {
  std::printf(
      "{\"mode\":\"%s\",\"service\":\"%s\",\"users\":%ld,\"logins\":%ld,\"failures\":%ld,"
      "\"seconds\":%.6f,\"per_second\":%.1f,\"us_per_login\":%.2f}\n",
      mode, service, users, logins, failures, seconds, logins / seconds, seconds * 1e6 / logins);
}

int Run(const char* service, long users, long logins, long first_counter) {
  std::vector<std::string> codes = Codes(users, logins, first_counter);
  long failures = 0;
  auto start = Clock::now();
  for (long k = 0; k < logins; ++k) {
    failures += Login(service, UserName(k % users), codes[static_cast<size_t>(k)]) != PAM_SUCCESS;
  }
  Report("process", service, users, logins, failures,
         std::chrono::duration<double>(Clock::now() - start).count());
  return failures == 0 ? 0 : 3;
}

// As sshd: a new process per login (posix_spawn of this program, which loads
// libpam and the module afresh), the parent waiting for each.
int Spawn(const char* self, bool as_host, const char* service, long users, long logins,
          long first_counter) {
  std::vector<std::string> codes = Codes(users, logins, first_counter);
  long failures = 0;
  auto start = Clock::now();
  for (long k = 0; k < logins; ++k) {
    std::string user = UserName(k % users);
    const char* argv[] = {self,         as_host ? "one-host" : "one",          service,
                          user.c_str(), codes[static_cast<size_t>(k)].c_str(), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, const_cast<char* const*>(argv),
                    environ) != 0)
      return 2;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 2;
    failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Report(as_host ? "spawn-host" : "spawn", service, users, logins, failures,
         std::chrono::duration<double>(Clock::now() - start).count());
  return failures == 0 ? 0 : 3;
}

int Commit(const std::string& dir, long count) {
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_mapsize(env, 16u << 20);
  if (mdb_env_open(env, dir.c_str(), 0, 0600) != 0) return 1;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  mdb_txn_begin(env, nullptr, 0, &txn);
  mdb_dbi_open(txn, nullptr, 0, &dbi);
  mdb_txn_commit(txn);
  auto start = Clock::now();
  for (long i = 0; i < count; ++i) {
    mdb_txn_begin(env, nullptr, 0, &txn);
    MDB_val key{1, const_cast<char*>("k")}, value{sizeof(i), &i};
    mdb_put(txn, dbi, &key, &value, 0);
    mdb_txn_commit(txn);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  mdb_env_close(env);
  std::printf(
      "{\"service\":\"lmdb-durable-commit\",\"logins\":%ld,\"seconds\":%.6f,"
      "\"per_second\":%.1f,\"us_per_login\":%.2f}\n",
      count, seconds, count / seconds, seconds * 1e6 / count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "setup" && (argc == 4 || argc == 5)) {
    bool totp = argc == 5 && std::string(argv[4]) == "totp";
    return Setup(argv[2], std::atol(argv[3]),
                 totp ? otpgate::OtpKind::kTotp : otpgate::OtpKind::kHotp);
  }
  if (mode == "run" && (argc == 5 || argc == 6)) {
    return Run(argv[2], std::atol(argv[3]), std::atol(argv[4]), argc == 6 ? std::atol(argv[5]) : 0);
  }
  if ((mode == "spawn" || mode == "spawn-host") && (argc == 5 || argc == 6)) {
    return Spawn(argv[0], mode == "spawn-host", argv[2], std::atol(argv[3]), std::atol(argv[4]),
                 argc == 6 ? std::atol(argv[5]) : 0);
  }
  if ((mode == "one" || mode == "one-host") && argc == 5) {
    if (mode == "one-host") PrepareAsHost(argv[3]);
    return Login(argv[2], argv[3], argv[4]) == PAM_SUCCESS ? 0 : 1;
  }
  if (mode == "commit" && argc == 4) return Commit(argv[2], std::atol(argv[3]));
  std::fprintf(
      stderr,
      "usage: pam_bench setup DIR USERS [totp] | run|spawn|spawn-host SERVICE USERS LOGINS "
      "[FIRST_COUNTER] | one|one-host SERVICE USER CODE | commit DIR COUNT\n");
  return 64;
}
