// PAM login throughput: pam_start / pam_authenticate / pam_end per login,
// a new handle each time, each login a fresh valid HOTP code (durable replay
// protection for the modules that have it). Run under pam_wrapper by
// bench/run_pam_bench.sh, which compares pam_otpgate, pam_oath and
// pam_permit in one run.
//
//   pam_bench setup DIR USERS [totp]  store + key in DIR (HOTP tokens, or TOTP),
//                                     pam_oath usersfile DIR/oath.users
//   pam_bench run SERVICE USERS LOGINS [FIRST_COUNTER]
//   pam_bench commit DIR COUNT     durable LMDB commits (the fsync a login pays)
#include <lmdb.h>
#include <security/pam_appl.h>

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
  auto* out = static_cast<pam_response*>(std::calloc(static_cast<size_t>(count), sizeof(pam_response)));
  for (int i = 0; i < count; ++i) {
    if (messages[i]->msg_style == PAM_PROMPT_ECHO_OFF || messages[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      out[i].resp = strdup(answer->code.c_str());
    }
  }
  *responses = out;
  return PAM_SUCCESS;
}

int Run(const char* service, long users, long logins, long first_counter) {
  // Codes are computed before timing starts.
  std::vector<std::string> codes(static_cast<size_t>(logins));
  for (long k = 0; k < logins; ++k) {
    long user = k % users;
    uint64_t counter = static_cast<uint64_t>(first_counter + k / users);
    codes[static_cast<size_t>(k)] =
        otpgate::GenerateHotp(otpgate::HashAlgorithm::kSha1, SecretFor(user), counter, 6).value();
  }
  long failures = 0;
  auto start = Clock::now();
  for (long k = 0; k < logins; ++k) {
    Answer answer{codes[static_cast<size_t>(k)]};
    pam_conv conv{Converse, &answer};
    pam_handle_t* pamh = nullptr;
    std::string user = UserName(k % users);
    if (pam_start(service, user.c_str(), &conv, &pamh) != PAM_SUCCESS) return 2;
    int rc = pam_authenticate(pamh, PAM_SILENT);
    failures += rc != PAM_SUCCESS;
    pam_end(pamh, rc);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"service\":\"%s\",\"users\":%ld,\"logins\":%ld,\"failures\":%ld,\"seconds\":%.6f,"
              "\"per_second\":%.1f,\"us_per_login\":%.2f}\n",
              service, users, logins, failures, seconds, logins / seconds, seconds * 1e6 / logins);
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
  std::printf("{\"service\":\"lmdb-durable-commit\",\"logins\":%ld,\"seconds\":%.6f,"
              "\"per_second\":%.1f,\"us_per_login\":%.2f}\n",
              count, seconds, count / seconds, seconds * 1e6 / count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "setup" && (argc == 4 || argc == 5)) {
    bool totp = argc == 5 && std::string(argv[4]) == "totp";
    return Setup(argv[2], std::atol(argv[3]), totp ? otpgate::OtpKind::kTotp : otpgate::OtpKind::kHotp);
  }
  if (mode == "run" && (argc == 5 || argc == 6)) {
    return Run(argv[2], std::atol(argv[3]), std::atol(argv[4]), argc == 6 ? std::atol(argv[5]) : 0);
  }
  if (mode == "commit" && argc == 4) return Commit(argv[2], std::atol(argv[3]));
  std::fprintf(stderr, "usage: pam_bench setup DIR USERS [totp] | run SERVICE USERS LOGINS [FIRST_COUNTER] | commit DIR COUNT\n");
  return 64;
}
