// Migration files a host already has (their owners may be any local user):
// a ~/.google_authenticator file (first byte even) or a liboath users file
// (first byte odd). Either parses or says why with kInvalidArgument; every
// token taken over has a credential ID.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "otpgate/migrate.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text = fuzz::Text(data + 1, size - 1);
  MigrationOptions options{"MG", "Fuzz", 1'800'000'000};
  if (data[0] % 2 == 0) {
    std::vector<std::string> notes;
    auto token = ParseGoogleAuthenticatorFile(text, "alice", options, &notes);
    if (token.ok()) {
      FUZZ_CHECK(!token->first.credential_id.empty());
    } else {
      FUZZ_CHECK(token.status().code() == StatusCode::kInvalidArgument);
    }
  } else {
    MigrationNotes notes;
    ParseOathUsersFile(
        text, options,
        [](size_t, Result<ParsedToken> entry) {
          if (entry.ok()) {
            FUZZ_CHECK(!entry->first.credential_id.empty());
          } else {
            FUZZ_CHECK(entry.status().code() == StatusCode::kInvalidArgument);
          }
        },
        &notes);
  }
  return 0;
}
