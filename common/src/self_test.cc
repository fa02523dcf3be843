#include "otpgate/self_test.h"

#include <cstring>
#include <string>

#include "otpgate/base32.h"
#include "otpgate/otp.h"
#include "otpgate/sealing.h"

namespace otpgate {
namespace {

SecretBytes Seed(const char* text) {
  return SecretBytes({reinterpret_cast<const uint8_t*>(text), std::strlen(text)});
}

}  // namespace

Status RunSelfTest() {
  const char* hotp[] = {"755224", "287082", "359152", "969429", "338314",
                        "254676", "287922", "162583", "399871", "520489"};
  SecretBytes seed20 = Seed("12345678901234567890");
  for (uint64_t c = 0; c < 10; ++c) {
    auto code = GenerateHotp(HashAlgorithm::kSha1, seed20, c, 6);
    if (!code.ok() || *code != hotp[c]) {
      return Status::Internal("RFC 4226 Appendix D vector " + std::to_string(c) + " failed");
    }
  }
  struct Row {
    int64_t time;
    const char* codes[3];
  };
  const Row rows[] = {{59, {"94287082", "46119246", "90693936"}},
                      {1111111109, {"07081804", "68084774", "25091201"}},
                      {1111111111, {"14050471", "67062674", "99943326"}},
                      {1234567890, {"89005924", "91819424", "93441116"}},
                      {2000000000, {"69279037", "90698825", "38618901"}},
                      {20000000000, {"65353130", "77737706", "47863826"}}};
  const HashAlgorithm algorithms[] = {HashAlgorithm::kSha1, HashAlgorithm::kSha256,
                                      HashAlgorithm::kSha512};
  SecretBytes seeds[] = {Seed("12345678901234567890"), Seed("12345678901234567890123456789012"),
                         Seed("1234567890123456789012345678901234567890123456789012345678901234")};
  for (const Row& row : rows) {
    for (int a = 0; a < 3; ++a) {
      OtpParams params;
      params.algorithm = algorithms[a];
      params.digits = 8;
      auto code = GenerateTotp(params, seeds[a], row.time);
      if (!code.ok() || *code != row.codes[a]) {
        return Status::Internal("RFC 6238 Appendix B vector " + std::to_string(row.time) + "/" +
                                std::string(HashAlgorithmName(algorithms[a])) + " failed");
      }
    }
  }
  auto decoded = Base32Decode("MZXW6YTBOI");
  if (!decoded.ok() || Base32Encode(decoded->span()) != "MZXW6YTBOI") {
    return Status::Internal("base32 round trip failed");
  }
  OTPGATE_ASSIGN_OR_RETURN(SecretBytes key, RandomBytes(kMasterKeyBytes));
  MasterKey master = MasterKey::FromBytes(std::move(key));
  OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, master.Seal(seed20.span(), "self-test"));
  auto opened = master.Open(sealed, "self-test");
  if (!opened.ok() || !(*opened == seed20) || master.Open(sealed, "other").ok()) {
    return Status::Internal("AES-256-GCM seal/open failed");
  }
  return Status::Ok();
}

}  // namespace otpgate
