// Sweep specs (--spec FILE.json): expand, then predict the first points.
#include "fuzz_common.hpp"

#include <deque>

#include "flags.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnio;
  try {
    std::deque<Device> storage;
    const auto points = cli::expand_spec_text(fuzz::text(data, size), "fuzz", storage);
    for (std::size_t i = 0; i < points.size() && i < 64; ++i) fuzz::try_predict(*points[i].device, points[i].workload);
  } catch (const InputError&) {
  }
  return 0;
}
