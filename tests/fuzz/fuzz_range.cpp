// The list and range syntax of every numeric flag ("1024:65536:x2", "64:512:+64", "1,2,4").
#include "fuzz_common.hpp"

#include <cstdlib>

#include "attnio/model/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnio;
  try {
    const auto values = parse_uint_list("seq", std::string(fuzz::text(data, size)), 100000);
    if (values.empty() || values.size() > 100000) std::abort();
    for (std::uint64_t v : values) {
      if (v == 0) std::abort();  // every flag value is at least 1
    }
  } catch (const InputError&) {
  }
  return 0;
}
