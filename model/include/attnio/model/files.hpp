// Reading the files users hand attnio (device files, configs, sweep specs, traces).
#pragma once

#include <cstdint>
#include <string>

namespace attnio {

// The whole file as bytes. Throws InputError as "<what> '<path>': <problem>" when it cannot be
// opened, is not a regular file (a directory, a FIFO or /dev/zero would hang or fail late), or is
// larger than `max_bytes`.
std::string read_input_file(const std::string& path, const std::string& what, std::uint64_t max_bytes);

}  // namespace attnio
