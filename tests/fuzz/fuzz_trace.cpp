// Trace files (compare, merge, export, resume): parse, base64-decode every image, re-predict every
// record as compare does. The whole input is also fed to the base64 decoder on its own.
#include "fuzz_common.hpp"

#include "attnio/traces/compare.hpp"
#include "attnio/traces/trace.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnio;
  const std::string input(fuzz::text(data, size));
  try {
    (void)traces::base64_decode(input);
  } catch (const InputError&) {
  }
  try {
    const traces::Trace t = traces::parse_trace(input, "fuzz");
    for (const auto& r : t.records) {
      (void)traces::base64_decode(r.counter_data);
      (void)traces::base64_decode(r.config_image);
    }
    for (const auto& r : t.records) {
      if (fuzz::too_long(r.workload)) return 0;  // compare predicts every record (see try_predict)
    }
    (void)traces::compare_summary(t, traces::compare_rows(t, false));
  } catch (const InputError&) {
  }
  return 0;
}
