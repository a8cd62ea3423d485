// FlashInfer 0.0.1's CUDA-core decode kernels (flashinfer-ai/flashinfer @b30dad36e, 2024-02-03, the
// code the FlashInfer blog's "FlashInfer 0.0.1" decode benchmarks ran): the launch plan the library
// computes, the closed form and the tile schedule. The `flashinfer-decode` profile (impl.cpp) runs
// them for `paged` (BatchDecodeWithPagedKVCache through BatchDecodeHandler) and `flash-decoding`
// (SingleDecodeWithKVCache for one request, BatchDecodeWithPaddedKVCache for a batch).
// Internal to model/.
#pragma once

#include <span>
#include <string>

#include "common.hpp"

namespace attnio::detail {

// The CUDA-core decode kernels (decode.cuh), and the prefill kernels GQA decode runs on the tensor
// cores (prefill.cuh; the `flashinfer-decode-tc` profile): one request, or a paged batch.
enum class FlashInferKernel { batch, single, padded, tc_single, tc_paged };

// Per kernel, group and head dim, for fp16: ptxas's registers per thread (sm_90, sm_80) and, from
// the main loop's PTX, the FP32-pipe instructions and the other instructions (integer and address
// arithmetic, compare and select, shuffles, shared-memory loads; not the K/V conversions, counted
// apart, nor MUFU) per token per thread: `scripts/flashinfer/ptx --flashinfer DIR --table`.
struct FlashInferKernelRow {
  FlashInferKernel kernel;
  u64 group, d, regs90, regs80;
  double fp32, other;
};
std::span<const FlashInferKernelRow> flashinfer_kernel_rows();
// The prefill kernels as GQA decode runs them (num_frags_x 1, num_frags_z 4: 64 rows x 64 keys of 4
// warps): registers, and per score a thread holds (32 per iteration) the FP32-pipe and the other
// instructions (integer, shared-memory addresses and ldmatrix, selects, packs; not mma.sync nor
// MUFU), the exponentials, and the mma.sync per thread per iteration:
// `scripts/flashinfer/ptx --prefill --table`.
struct FlashInferTcRow {
  FlashInferKernel kernel;
  u64 group, d, regs90, regs80;
  double fp32, other, ex2;
  u64 mma;
};
std::span<const FlashInferTcRow> flashinfer_tc_rows();
// The FP32-pipe instructions per token per thread the decode loop issues, from its code.
double flashinfer_fp32_per_token(u64 vec, u64 bdx, u64 thread_tokens);

// One decode call as the library launches it (include/flashinfer/decode.cuh, cascade.cuh @b30dad36e).
struct FlashInferPlan {
  FlashInferKernel kernel = FlashInferKernel::batch;
  // Thread block (bdx, bdy, bdz): bdx threads share a head's d elements, vec_size each; bdy = the GQA
  // group's query heads; bdz slices of tokens.
  u64 vec = 0, bdx = 0, bdy = 0, bdz = 0, threads = 0;
  u64 tile = 0;              // tile_size_per_bdx
  u64 stage_tokens = 0;      // tokens one CTA stages per main-loop iteration: tile x bdy x bdz
  u64 thread_tokens = 0;     // tokens one thread scores per iteration (compute_qk's tile): bdy x tile
  u64 smem_bytes = 0;        // dynamic shared memory per CTA
  u64 registers = 0;         // ptxas, per thread (scripts/flashinfer/ptx)
  double other_per_token = 0;  // non-FP32, non-MUFU instructions per token per thread (the same)
  u64 ctas_per_sm = 0;       // what cudaOccupancyMaxActiveBlocksPerMultiprocessor returns
  u64 chunk_tokens = 0;      // tokens one CTA walks: the partition's chunk, or the whole context
  u64 chunks = 1;            // chunks per request
  bool merge = false;        // the partition kernel ran (partial outputs written) and a merge follows
  u64 ctas = 0;              // decode kernel CTAs
  // Tensor-core path: rows per CTA (num_frags_x x 4 warps x 16) and the PTX row of its kernel.
  u64 tc_rows = 0;
  const FlashInferTcRow* tc = nullptr;
};

// The plan for the workload on the device; throws InputError for a group or head dim the library
// does not dispatch (groups 1, 4, 8; head dims 64, 128, 256) or a dtype other than fp16/bf16.
FlashInferPlan flashinfer_plan(const Workload& w, const Device& dev, bool paged);
void flashinfer_decode(Evaluator& ev, bool paged);
void flashinfer_schedule(Scheduler& sc, bool paged);
// explain's derivation of a prediction made under the profile.
std::string flashinfer_derivation(const Prediction& p, bool paged);
// Whether the workload's implementation runs FlashInfer's decode kernels.
bool runs_flashinfer_decode(const Workload& w);

}  // namespace attnio::detail
