// otpgate_at TIME ARGS...: the otpgate command line (the same commands as the
// shipped binary, tools/cli_main.h) on a clock fixed at TIME, Unix seconds.
// The CLI tests use it to take decisions at chosen times (a lock that
// expires, a step's replay mark) without a time option on the shipped
// commands that write. Test-only: not installed.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "cli_main.h"
#include "otpgate/clock.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: otpgate_at TIME [otpgate arguments...]\n");
    return 2;
  }
  char* end = nullptr;
  errno = 0;
  long long now = std::strtoll(argv[1], &end, 10);
  if (errno != 0 || *end != '\0' || end == argv[1] || now < 0) {
    std::fprintf(stderr, "otpgate_at: '%s' is not a Unix time\n", argv[1]);
    return 2;
  }
  std::vector<char*> args{argv[0]};
  args.insert(args.end(), argv + 2, argv + argc);
  args.push_back(nullptr);
  const otpgate::ManualClock clock(now);
  try {
    return otpgate::cli::CliMain(static_cast<int>(args.size()) - 1, args.data(), clock);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "otpgate_at: %s\n", e.what());
    return 21;
  }
}
