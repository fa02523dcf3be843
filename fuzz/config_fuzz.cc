// The option parser behind otpgate.conf, PAM module arguments and the
// RADIUS module section: text in, a Config or an error out; a Config that
// parses has every number in its table's range.
#include "fuzz_util.h"
#include "otpgate/config.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  Config config;
  if (ParseConfigText(config, text, "fuzz").ok()) {
    FUZZ_CHECK(config.window >= 0 && config.window <= 10);
    FUZZ_CHECK(config.hotp_lookahead >= 0 && config.hotp_lookahead <= 100);
    FUZZ_CHECK(config.max_failures >= 1 && config.lockout_seconds >= 1);
  }
  // Each line as a module argument ("name=value" or a flag).
  Config args;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    (void)ApplyArgument(args, text.substr(start, end - start));
    start = end + 1;
  }
  return 0;
}
