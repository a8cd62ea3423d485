// Shared by the fuzz targets. Each target's contract: any input either parses or throws
// attnio::InputError; anything else (another exception, a sanitizer report, a hang) is a finding.
// The same sources build two ways: with clang's libFuzzer (-DATTNIO_FUZZ=ON, scripts/fuzz) and, in
// every build, as replay_* executables that run the checked-in corpus through the target as ctest
// cases, so every past finding stays a regression test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"

namespace attnio::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Predicts `w` on `d`, accepting InputError (a refused workload) as a valid outcome. Sequences past
// 2^24 tokens are left out: a masked plan walks up to 2^24 query blocks (0.3 s at N = 1.8e9 in a
// Release build, over 10 s under the sanitizers: fuzz_spec's second finding, a slow input, not a
// fault); tests/test_properties.cpp covers those sizes.
inline bool too_long(const Workload& w) { return w.seq > (1u << 24) || w.kv_len > (1u << 24); }
inline void try_predict(const Device& d, const Workload& w) {
  if (too_long(w)) return;
  try {
    (void)predict(d, w);
  } catch (const InputError&) {
  }
}

}  // namespace attnio::fuzz
