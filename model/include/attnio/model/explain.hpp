// Teaching text: a variant's IO derivation in words, with the workload's numbers substituted.
#pragma once

#include <string>

#include "attnio/model/predict.hpp"

namespace attnio {

// Several lines, each ending in '\n': the formula with its source, the numbers put in, the kernels
// with their traffic, and the roofline verdict.
std::string explain(const Device& device, const Prediction& prediction);
// The execution model's part: the implementation, its rule, the rates used, and per kernel each
// pipe's time and how they combined.
std::string exec_text(const Device& device, const Prediction& prediction);

// Human-readable quantities: "1.23 GB", "45.6 TFLOP", "812 µs".
std::string human_bytes(double bytes);
std::string human_flops(double flops);
std::string human_time(double seconds);

}  // namespace attnio
