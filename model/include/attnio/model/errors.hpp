// Error types of the model library. The library never exits: it throws, and only the applications
// (cli/, gui/) turn an error into a message and an exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace attnio {

// Bad input from the user: a shape, a flag, a device file, a config file. The message is one line
// that names the problem; the CLI prints it and exits with code 2.
class InputError : public std::runtime_error {
public:
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace attnio
