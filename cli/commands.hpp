// The attnio command line as a function, so the executable, the tests and the argument fuzzer run
// the same code.
#pragma once

#include <string>
#include <vector>

namespace attnio::cli {

// Runs one command line (argv without the program name): prints to stdout/stderr and returns the
// exit status (0 ok, 1 internal error or aborted campaign, 2 bad input, 3 no CUDA device).
int run(std::vector<std::string> args);

}  // namespace attnio::cli
