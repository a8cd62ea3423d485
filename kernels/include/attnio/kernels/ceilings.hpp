// `attnio ceilings`: the achievable rates of the GPU at hand, measured with microbenchmarks, for the
// model's `measured` device ceilings (device files) and the trace header. Needs a GPU.
#pragma once

#include <functional>
#include <string>

#include "attnio/model/device.hpp"

namespace attnio::kernels {

struct CeilingsOptions {
  int repeats = 5;  // the best (highest rate) of this many timed runs after one warm-up
};

// Measures, each as the best of `repeats` CUDA-event-timed runs:
//  hbm_bytes_per_s        device-to-device cudaMemcpy of 1 GiB: 2 GiB moved (read + write)
//  l2_bytes_per_s         a read kernel looping over a buffer of a quarter of the L2 (__ldcg, so
//                         L1 is bypassed and every read is an L2 hit after the warm-up)
//  bf16/fp16_tensor_flops_per_s  cublasGemmEx 8192^3, fp32 accumulate: 2·8192^3 FLOPs
//  tf32_tensor_flops_per_s       the same on fp32 inputs with CUBLAS_COMPUTE_32F_FAST_TF32
//  fp32_flops_per_s       a kernel of 8 independent FMA chains per thread: 2 FLOPs per FMA
//  sfu_ops_per_s          a kernel of 8 independent exp2 chains (MUFU.EX2 under --use_fast_math)
// `report` gets each figure as it is measured. Returns "" or the first error.
std::string measure_ceilings(const CeilingsOptions& opt, MeasuredCeilings* out,
                             const std::function<void(const std::string& key, double value)>& report);

}  // namespace attnio::kernels
