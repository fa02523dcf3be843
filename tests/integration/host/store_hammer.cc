// store_hammer: drives the real LMDB store (store.h) from its own process so
// that tests can SIGKILL it in the middle of a transaction.
//
//   store_hammer STORE_DIR write COUNT   COUNT write transactions, each
//                                        holding the write lock ~0.2 ms
//   store_hammer STORE_DIR read COUNT    COUNT read transactions
//
// Exit 0 when every transaction succeeded; 2 (with the status on stderr)
// at the first that did not.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "otpgate/store.h"

namespace {

using otpgate::Status;
using otpgate::Txn;

// Keeps the transaction open for about `micros` without sleeping, so that a
// kill lands inside it.
void Spin(int micros) {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  while (std::chrono::steady_clock::now() < until) {
  }
}

Status WriteOnce(otpgate::Store& store, long i) {
  return store.Write([&](Txn& txn) -> Status {
    otpgate::TokenRecord record;
    record.credential_id = "HAMMER" + std::to_string(i % 64);
    record.sealed_secret.assign(49, static_cast<uint8_t>(i));
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(record));
    Spin(200);
    return txn.AddUserToken("hammer", record.credential_id);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_hammer STORE_DIR write|read COUNT\n");
    return 1;
  }
  auto store = otpgate::Store::Open({.location = argv[1]});
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 2;
  }
  bool write = std::string(argv[2]) == "write";
  long count = std::atol(argv[3]);
  for (long i = 0; i < count; ++i) {
    Status status = write
                        ? WriteOnce(**store, i)
                        : (*store)->Read([](Txn& txn) { return txn.GetToken("HAMMER1").status(); });
    if (!status.ok() && status.code() != otpgate::StatusCode::kNotFound) {
      std::fprintf(stderr, "transaction %ld: %s\n", i, status.ToString().c_str());
      return 2;
    }
  }
  return 0;
}
