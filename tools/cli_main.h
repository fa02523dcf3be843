// The whole otpgate command line as a function of its arguments and a clock,
// so that the shipped binary (main.cc, the system clock) and a test driver
// with a fixed clock run the same commands.
#ifndef OTPGATE_TOOLS_CLI_MAIN_H_
#define OTPGATE_TOOLS_CLI_MAIN_H_

#include "otpgate/clock.h"

namespace otpgate::cli {

// Parses argv, runs the command, returns the process's exit code (cli.h).
// Every decision, lock and journal entry is made at clock.Now().
int CliMain(int argc, char** argv, const Clock& clock);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_CLI_MAIN_H_
