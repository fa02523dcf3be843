// Accepts per second of OtpService::Verify on one store location, with 1 and
// 32 threads in flight; every request a distinct user's valid current code
// (so every one is an Accept that commits a replay mark). Run by
// bench/run_store_bench.sh for LMDB and PostgreSQL side by side.
//   store_bench LOCATION MASTER_KEY USERS
// Prints one line per concurrency: "threads=N accepts=A seconds=S rate=R".
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "otpgate/operations.h"

namespace {

constexpr uint8_t kSecret[20] = {'1', '2', '3', '4', '5', '6', '7', '8', '9', '0',
                                 '1', '2', '3', '4', '5', '6', '7', '8', '9', '0'};

std::string Id(int user) {
  char id[16];
  std::snprintf(id, sizeof(id), "BENCH%07d", user);
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_bench LOCATION MASTER_KEY USERS\n");
    return 2;
  }
  otpgate::Config config;
  config.store = argv[1];
  config.master_key = argv[2];
  // Provisioning thousands of tokens in one transaction takes longer than a
  // login's bound (1.5 s by default), as for `otpgate token import`.
  config.store_timeout_ms = 120'000;
  const int users = std::stoi(argv[3]);
  if (otpgate::Status s = otpgate::InitializeDeployment(config); !s.ok()) {
    std::fprintf(stderr, "init: %s\n", s.ToString().c_str());
    return 1;
  }
  otpgate::ManualClock clock(1'800'000'000);
  auto service = otpgate::OtpService::Open(config, clock);
  if (!service.ok()) {
    std::fprintf(stderr, "open: %s\n", service.status().ToString().c_str());
    return 1;
  }
  otpgate::SecretBytes secret(std::span<const uint8_t>(kSecret, 20));
  std::vector<std::pair<otpgate::TokenSpec, otpgate::SecretBytes>> tokens;
  for (int u = 0; u < users; ++u) {
    otpgate::TokenSpec spec;
    spec.credential_id = Id(u);
    spec.owner = "user" + std::to_string(u);
    tokens.emplace_back(spec, secret.Clone());
  }
  if (otpgate::Status s = (*service)->ProvisionBatch(tokens, true, nullptr, nullptr); !s.ok()) {
    std::fprintf(stderr, "provision: %s\n", s.ToString().c_str());
    return 1;
  }
  otpgate::OtpParams params;
  for (int threads : {1, 32}) {
    clock.Advance(30);  // a fresh step: every user's code is new again
    std::string code = otpgate::GenerateTotp(params, secret, clock.Now()).value();
    std::atomic<int> next{0}, accepted{0}, other{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int u = next++; u < users; u = next++) {
          auto verdict = (*service)->Verify("user" + std::to_string(u), code);
          (verdict.ok() && verdict->decision == otpgate::Decision::kAccept ? accepted : other)++;
        }
      });
    }
    for (auto& t : pool) t.join();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("threads=%d accepts=%d refused=%d seconds=%.2f rate=%.0f\n", threads,
                accepted.load(), other.load(), seconds, accepted.load() / seconds);
    if (other.load() != 0) return 1;
  }
  return 0;
}
