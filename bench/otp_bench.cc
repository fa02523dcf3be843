// Core benchmarks. The targets are ratios against baselines measured in the
// same run (bench/run_core_bench.sh prints them):
//   TOTP verification, +-1 window  <=  1.5 x  three raw pre-keyed HMACs
//   a full Verify (durable)         ~=  one durable LMDB commit
#include <benchmark/benchmark.h>
#include <lmdb.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "otpgate/operations.h"
#include "otpgate/otp.h"

namespace {

const uint8_t kSecret[] = "12345678901234567890";
const uint8_t kCounter[8] = {0, 0, 0, 0, 0, 0, 0, 1};

// Baseline 1: OpenSSL's one-shot HMAC() (fetches the digest every call).
void BM_RawHmacOneShot(benchmark::State& state) {
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  for (auto _ : state) {
    HMAC(EVP_sha1(), kSecret, 20, kCounter, sizeof(kCounter), mac, &length);
    benchmark::DoNotOptimize(mac);
  }
}
BENCHMARK(BM_RawHmacOneShot);

// Baseline 2: three raw HMACs from a pre-keyed EVP_MAC context, duplicated per
// use: the least a +-1 window can cost.
void BM_RawHmacPrekeyedX3(benchmark::State& state) {
  EVP_MAC* mac_alg = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* keyed = EVP_MAC_CTX_new(mac_alg);
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_init(keyed, kSecret, 20, params);
  uint8_t mac[64];
  size_t length = 0;
  for (auto _ : state) {
    for (int i = 0; i < 3; ++i) {
      EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
      EVP_MAC_update(ctx, kCounter, sizeof(kCounter));
      EVP_MAC_final(ctx, mac, &length, sizeof(mac));
      EVP_MAC_CTX_free(ctx);
      benchmark::DoNotOptimize(mac);
    }
  }
  EVP_MAC_CTX_free(keyed);
  EVP_MAC_free(mac_alg);
}
BENCHMARK(BM_RawHmacPrekeyedX3);

// The engine: scan a +-1 window (3 HOTPs, truncation, constant-time compare).
void BM_TotpVerifyWindow1(benchmark::State& state) {
  otpgate::SecretBytes secret(std::span<const uint8_t>(kSecret, 20));
  auto key = otpgate::HmacKey::Create(otpgate::HashAlgorithm::kSha1, secret).value();
  int64_t step = 60'000'000;
  for (auto _ : state) {
    // A wrong code: every value is computed and compared either way.
    auto match = otpgate::ScanWindow(key, 6, "000000", step - 1, step + 1, step, step - 5);
    benchmark::DoNotOptimize(match);
  }
}
BENCHMARK(BM_TotpVerifyWindow1);

std::string TempPath(const char* name) {
  std::string dir = (std::filesystem::temp_directory_path() / name).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  return dir;
}

// Baseline 3: one durable LMDB write transaction (a put and an fsync'd commit).
void BM_LmdbDurableCommit(benchmark::State& state) {
  std::string dir = TempPath("otpgate-bench-lmdb");
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_mapsize(env, 64u << 20);
  mdb_env_open(env, dir.c_str(), 0, 0600);
  MDB_dbi dbi;
  MDB_txn* txn;
  mdb_txn_begin(env, nullptr, 0, &txn);
  mdb_dbi_open(txn, nullptr, 0, &dbi);
  mdb_txn_commit(txn);
  uint64_t counter = 0;
  for (auto _ : state) {
    mdb_txn_begin(env, nullptr, 0, &txn);
    MDB_val key{5, const_cast<char*>("token")}, value{sizeof(counter), &counter};
    mdb_put(txn, dbi, &key, &value, 0);
    mdb_txn_commit(txn);
    ++counter;
  }
  mdb_env_close(env);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_LmdbDurableCommit)->UseRealTime();

// The whole login: OtpService::Verify, an accepted code each time (the clock
// moves one step per iteration), durable replay mark.
void BM_ServiceVerifyAcceptDurable(benchmark::State& state) {
  std::string dir = TempPath("otpgate-bench-service");
  otpgate::Config config;
  config.store = dir + "/store";
  config.master_key = dir + "/master.key";
  if (!otpgate::InitializeDeployment(config).ok()) {
    state.SkipWithError("init failed");
    return;
  }
  otpgate::ManualClock clock(1'800'000'000);
  auto service = otpgate::OtpService::Open(config, clock).value();
  otpgate::SecretBytes secret(std::span<const uint8_t>(kSecret, 20));
  otpgate::TokenSpec spec;
  spec.credential_id = "BENCH0000001";
  (void)service->Provision(spec, secret);
  (void)service->Assign("BENCH0000001", "alice");
  otpgate::OtpParams params;
  int64_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    clock.Advance(30);
    std::string code = otpgate::GenerateTotp(params, secret, clock.Now()).value();
    state.ResumeTiming();
    auto verdict = service->Verify("alice", code);
    accepted += verdict.ok() && verdict->decision == otpgate::Decision::kAccept;
  }
  if (accepted != static_cast<int64_t>(state.iterations())) {
    state.SkipWithError("a valid code was not accepted");
  }
  service.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ServiceVerifyAcceptDurable)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
