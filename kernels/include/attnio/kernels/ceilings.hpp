// `attnio ceilings`: the achievable rates of the GPU at hand, measured with microbenchmarks, for the
// model's `measured` device ceilings (device files) and the trace header. Needs a GPU.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

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

// DRAM latency, unloaded and as load grows (the device file's dram_latency_s, dram_queue_read and
// dram_queue_copy; docs/model.md "Time", rules 2 and 6):
//  latency_s    a single thread's pointer chase through a random cycle of 8-byte slots, one per
//               256-byte line, over at least 4 x the L2, read with ld.global.cg (L1 bypassed);
//               each launch goes on where the last stopped, so no hop finds its line in L2:
//               kernel time / hops, best of `repeats`; the latency a lone load sees, TLB misses
//               of that random walk included
//  read, copy   gpu-stream's runs (RRZE-HPC/gpu-benches @1038c5d gpu-stream/main.cu): a kernel
//               whose every thread moves one 8-byte element (read: one load; copy: A[i] = B[i] x c,
//               one load and one store) over 2 GiB arrays, at its occupancies (blocks of 16..112
//               threads one per SM, then two blocks per SM of 2..40 warps each, and 160 threads at
//               one), the blocks per SM set by a shared-memory spoiler grown as gpu-stream grows
//               it; each run's time the median of max(repeats, 5) launches after a warm-up
//               (gpu-stream: 31); dram_queue_curve (model/device.hpp) turns the runs into the
//               curves by Little's law
struct DramQueue {
  std::string gpu;  // the CUDA device's name
  double latency_s = 0;
  std::vector<StreamSample> read, copy;
  std::vector<std::pair<double, double>> read_curve, copy_curve;
};
// `report` gets "dram_latency_s" and the added latency at full load of each curve
// ("dram_queue_read_full_s", "dram_queue_copy_full_s") as they are measured. Returns "" or the
// first error.
std::string measure_dram_queue(const CeilingsOptions& opt, DramQueue* out,
                               const std::function<void(const std::string& key, double value)>& report);

// How much of one warp's softmax an SM sub-partition runs under another warp's mma.sync (the
// execution model's overlap rule: docs/model.md "Time", rule 2, where mma.sync on Hopper is taken
// to hold the issue slot and Ampere's warps to overlap as a closed queue). One CTA of 8 warps per
// SM; warps 0-3 issue back-to-back m16n8k16 FP16 mma.sync on 8 independent accumulators, warps 4-7
// run a softmax-like mix per element (one exp2 on the MUFU and five FP32 instructions: a scale, a
// subtract-and-scale FMA, a running max, a running sum, the next input) on 8 independent chains,
// close to FlashAttention-2's per-score mix (softmax.h: FFMA + exp2, max, sum); warp w sits on
// sub-partition w % 4, and one CTA per SM (a shared-memory spoiler), so each sub-partition holds
// one of each. Each half is timed alone and both
// together, the softmax's count set so the halves take about as long alone:
//   overlap = (t_mma + t_softmax - t_both) / min(t_mma, t_softmax)
// 1: the softmax hides entirely under the MMAs; 0: the two serialize on the sub-partition.
struct MmaSoftmaxOverlap {
  int compute_capability = 0;  // of the GPU measured
  double mma_s = 0, softmax_s = 0, both_s = 0;
  double overlap = 0;
};
std::string measure_mma_softmax_overlap(const CeilingsOptions& opt, MmaSoftmaxOverlap* out,
                                        const std::function<void(const std::string& key, double value)>& report);

}  // namespace attnio::kernels
