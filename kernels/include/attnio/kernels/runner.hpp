// The kernel runner behind `attnio kernels --check / --bench`: fresh random inputs per kernel and
// shape, outputs poisoned (NaN) before each run, results compared with the CPU references (fp64
// accumulate) at per-dtype tolerances; timing with CUDA events, L2 flushed between repeats, median
// of the repeats, with achieved FLOP/s and bytes/s from the model's own counts.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/record.hpp"

namespace attnio::kernels {

struct RunnerOptions {
  bool check = true;
  bool bench = false;
  int repeats = 10;
  std::vector<std::string> families;  // empty: all (flash2, flash1, chunked, flash2-bwd, flash-decoding, paged, mla, standard,
                                      // linear, performer, mamba (with mamba-naive), mamba2, fnet)
  std::vector<std::string> dtypes = {"bf16", "fp16"};
};

// Runs what `options` asks and hands each finished record to `emit` as it completes. Returns ""
// when every check passed, else a one-line summary of the failures; throws nothing.
std::string run_kernels(const RunnerOptions& options, const Device& device, const std::function<void(const Record&)>& emit);

}  // namespace attnio::kernels
