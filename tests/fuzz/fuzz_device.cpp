// Device files (--device-file): parse; a parsed device round-trips through its JSON and predicts.
#include "fuzz_common.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace attnio;
  try {
    const Device d = device_from_json(fuzz::text(data, size), "fuzz");
    // Written and read back, every field survives. Numbers may move by an ulp or two: Boost.JSON
    // 1.81 parses doubles with a fast algorithm that is not always correctly rounded (the first
    // finding of this target, kept as corpus/device/regression-double-ulp.json).
    const std::string json = device_to_json(d);
    const boost::json::object a = boost::json::parse(json).as_object();
    const boost::json::object b = boost::json::parse(device_to_json(device_from_json(json, "round trip"))).as_object();
    if (a.size() != b.size()) std::abort();
    for (const auto& kv : a) {
      const boost::json::value* other = b.if_contains(kv.key());
      if (!other) std::abort();
      if (kv.value().is_double() && other->is_double()) {
        const double x = kv.value().get_double(), y = other->get_double();
        if (std::fabs(x - y) > 1e-14 * std::fabs(x)) std::abort();
      } else if (kv.value().is_object() && other->is_object()) {
        if (kv.value().as_object().size() != other->as_object().size()) std::abort();
      } else if (kv.value() != *other) {
        std::abort();
      }
    }
    for (Variant v : all_variants()) {
      Workload w;
      w.variant = v;
      w.seq = 2048;
      fuzz::try_predict(d, w);
      w.phase = Phase::decode;
      fuzz::try_predict(d, w);
    }
  } catch (const InputError&) {
  }
  return 0;
}
