// A prediction as an ordered list of named values: the machine interface shared by the CLI's
// csv/json output, the GUI's table and trace files. Key names are stable; README lists them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "attnio/model/predict.hpp"

namespace attnio {

using Value = std::variant<std::uint64_t, double, std::string, bool>;
using Record = std::vector<std::pair<std::string, Value>>;

Record to_record(const Device& device, const Prediction& p);

// Parses a list of whole numbers with ranges: "4096", "1,2,4", "1024:65536:x2" (geometric),
// "64:512:+64" (arithmetic), mixed "1,8:32:x2". Throws InputError naming `flag` on bad syntax,
// a zero or negative value, a step that never reaches the end, or more than `max_values` values.
// `allow_zero`: 0 is a value (a variant parameter whose range starts at 0, or 0 meaning "auto").
std::vector<std::uint64_t> parse_uint_list(const std::string& flag, const std::string& text,
                                           std::size_t max_values = 100000, bool allow_zero = false);

}  // namespace attnio
