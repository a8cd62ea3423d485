// A workload bound to one of attnio's CUDA kernels, for `attnio profile`: device inputs allocated
// and filled with seeded pseudo-random values, and a launch closure that enqueues the same work
// every time it is called (so the CUPTI profiler can replay it once per pass). Plain C++ header.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "attnio/model/device.hpp"
#include "attnio/model/workload.hpp"

namespace attnio::kernels {

struct BoundKernel {
  std::string kernel;                           // e.g. flash2_fwd
  std::map<std::string, std::int64_t> launch;  // grid_x, grid_y, grid_z, block_x, shared_bytes, splits, ...
  std::function<std::string()> run;             // enqueues the kernel(s); "" or the launch error
  // Evicts the inputs from L2 (reads a buffer of twice its size through L2 and waits), so every
  // replay pass starts cold, as the model assumes. Runs outside the profiled range.
  std::function<std::string()> flush_l2;
  std::shared_ptr<void> buffers;                // owns the device memory
};

// The kernel `attnio profile` runs for a workload: the one its variant declares for the phase and
// pass (VariantDescriptor::kernel_fwd, kernel_bwd, kernel_decode), when the shape fits it (head dims
// 64 and 128 for the tensor-core kernels); "" when none is bound.
std::string bound_kernel_name(const Workload& w);
// Whether bind.cu can bind a kernel of this name (every name a variant declares must be).
bool has_binding(std::string_view kernel);

// Allocates and fills the inputs for `w` (resolved against `device`) and returns the launch. ""
// or the error (no kernel bound, out of device memory, ...).
std::string bind_kernel(const Workload& w, const Device& device, BoundKernel* out);

}  // namespace attnio::kernels
