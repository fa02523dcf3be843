// The otpgate binary: process hardening, then the command line on the
// system clock (cli_main.h).
#include <sys/prctl.h>
#include <sys/resource.h>

#include <exception>
#include <iostream>

#include "cli_main.h"

int main(int argc, char** argv) {
  // The CLI holds the master key and token secrets: it never writes a core
  // file (and, not dumpable, cannot be ptraced by another process of the
  // same user). The modules leave this to their hosts (docs/security.md).
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  try {
    const otpgate::SystemClock clock;
    return otpgate::cli::CliMain(argc, argv, clock);
  } catch (const std::exception& e) {
    std::cerr << "otpgate: " << e.what() << "\n";
    return 21;
  }
}
