// FlashInfer 0.0.1's decode kernels, as the library launches them (flashinfer-ai/flashinfer
// @b30dad36e include/flashinfer/decode.cuh, prefill.cuh, cascade.cuh, handler.cuh, wrapper.cuh; the
// FlashInfer blog, "Accelerating Self-Attentions for LLM Serving with FlashInfer", 2024-02-02,
// benchmarked this code with nvbench's cold-L2 timing). The CUDA-core kernels (`flashinfer-decode`,
// the blog's "CUDA Cores" series): every thread block serves one K/V head, bdy = g threads along the
// group's query heads, bdx threads along the head dim (vec_size elements each), bdz slices of
// tokens; K and V are staged through shared memory by cp.async, 2 stages each, and the dot products
// run on the CUDA cores. The tensor-core path (`flashinfer-decode-tc`, "Tensor Cores"): the prefill
// kernels with the group's heads as the rows of an mma.sync tile. A short batch or a single request
// is split along the keys into chunks and merged by cascade.cuh's merge kernels.
#include "flashinfer_decode.hpp"

#include <algorithm>
#include <cmath>

namespace attnio::detail {

namespace {

// scripts/flashinfer/ptx --table at b30dad36e with nvcc 13.0 (the blog's build used CUDA 12.3.1; its
// ptxas may allocate a few registers differently).
constexpr FlashInferKernelRow kFlashInferKernels[] = {
    {FlashInferKernel::batch, 1, 64, 71, 66, 32.25, 22.75},
    {FlashInferKernel::batch, 1, 128, 64, 70, 33.25, 23.88},
    {FlashInferKernel::batch, 1, 256, 64, 64, 34.25, 24.25},
    {FlashInferKernel::batch, 4, 64, 60, 66, 32.25, 15.12},
    {FlashInferKernel::batch, 4, 128, 63, 65, 33.25, 16.25},
    {FlashInferKernel::batch, 4, 256, 64, 57, 34.25, 15.88},
    {FlashInferKernel::batch, 8, 64, 64, 64, 31.12, 11.69},
    {FlashInferKernel::batch, 8, 128, 70, 66, 32.12, 12},
    {FlashInferKernel::batch, 8, 256, 71, 70, 33.12, 13.06},
    {FlashInferKernel::single, 1, 64, 92, 80, 31.12, 21.5},
    {FlashInferKernel::single, 1, 128, 92, 80, 32.12, 22.56},
    {FlashInferKernel::single, 1, 256, 88, 80, 33.12, 23.62},
    {FlashInferKernel::single, 4, 64, 55, 52, 32.25, 12.25},
    {FlashInferKernel::single, 4, 128, 53, 52, 33.25, 13.38},
    {FlashInferKernel::single, 4, 256, 56, 54, 34.25, 14.5},
    {FlashInferKernel::single, 8, 64, 63, 62, 31.12, 10.12},
    {FlashInferKernel::single, 8, 128, 63, 62, 32.12, 11.19},
    {FlashInferKernel::single, 8, 256, 63, 62, 33.12, 12.25},
    {FlashInferKernel::padded, 1, 64, 56, 64, 39, 23},
    {FlashInferKernel::padded, 1, 128, 56, 64, 40, 24.25},
    {FlashInferKernel::padded, 1, 256, 56, 64, 41, 25.25},
    {FlashInferKernel::padded, 4, 64, 63, 60, 32.25, 11.75},
    {FlashInferKernel::padded, 4, 128, 64, 60, 33.25, 12.81},
    {FlashInferKernel::padded, 4, 256, 54, 56, 34.25, 13.81},
    {FlashInferKernel::padded, 8, 64, 63, 64, 31.12, 9.875},
    {FlashInferKernel::padded, 8, 128, 64, 64, 32.12, 10.91},
    {FlashInferKernel::padded, 8, 256, 64, 64, 33.12, 11.91},
};

// scripts/flashinfer/ptx --prefill --table at b30dad36e with nvcc 13.0 (sm_80 at d = 256: not
// dispatched, see flashinfer_plan).
constexpr FlashInferTcRow kFlashInferTcKernels[] = {
    {FlashInferKernel::tc_single, 1, 64, 122, 124, 3.25, 6.688, 1.062, 68},
    {FlashInferKernel::tc_single, 1, 128, 166, 168, 4.25, 8.406, 1.062, 132},
    {FlashInferKernel::tc_single, 1, 256, 245, 0, 6.25, 18.16, 1.062, 260},
    {FlashInferKernel::tc_single, 4, 64, 123, 123, 3.25, 6.688, 1.062, 68},
    {FlashInferKernel::tc_single, 4, 128, 166, 166, 4.25, 8.812, 1.062, 132},
    {FlashInferKernel::tc_single, 4, 256, 245, 0, 6.25, 18.12, 1.062, 260},
    {FlashInferKernel::tc_single, 8, 64, 123, 125, 3.25, 6.688, 1.062, 68},
    {FlashInferKernel::tc_single, 8, 128, 164, 164, 4.25, 8.812, 1.062, 132},
    {FlashInferKernel::tc_single, 8, 256, 243, 0, 6.25, 18.12, 1.062, 260},
    {FlashInferKernel::tc_paged, 1, 64, 128, 127, 3.25, 7.5, 1.062, 68},
    {FlashInferKernel::tc_paged, 1, 128, 165, 168, 4.25, 9.719, 1.062, 132},
    {FlashInferKernel::tc_paged, 1, 256, 248, 0, 6.25, 17.75, 1.062, 260},
    {FlashInferKernel::tc_paged, 4, 64, 128, 127, 3.25, 7.5, 1.062, 68},
    {FlashInferKernel::tc_paged, 4, 128, 165, 168, 4.25, 9.719, 1.062, 132},
    {FlashInferKernel::tc_paged, 4, 256, 246, 0, 6.25, 17.72, 1.062, 260},
    {FlashInferKernel::tc_paged, 8, 64, 128, 128, 3.25, 7.375, 1.062, 68},
    {FlashInferKernel::tc_paged, 8, 128, 165, 168, 4.25, 9.719, 1.062, 132},
    {FlashInferKernel::tc_paged, 8, 256, 246, 0, 6.25, 17.72, 1.062, 260},
};

constexpr u64 kStages = 2;          // num_stages_smem = 2U (every decode dispatch in decode.cuh)
constexpr u64 kMergeThreads = 128;  // cascade.cuh MergeStates / VariableLengthMergeStates: num_threads = 128
constexpr u64 kMergeStages = 4;     // num_smem_stages = 4
constexpr u64 kReservedSmemPerCta = 1024;  // CUDA C++ Programming Guide, compute capabilities 8.x/9.0: 1 KB per block

const char* kernel_name(FlashInferKernel k) {
  switch (k) {
    case FlashInferKernel::batch: return "BatchDecodeWithPagedKVCacheKernel";
    case FlashInferKernel::single: return "SingleDecodeWithKVCacheKernel";
    case FlashInferKernel::padded: return "BatchDecodeWithPaddedKVCacheKernel";
    case FlashInferKernel::tc_single: return "SinglePrefillWithKVCacheKernel";
    case FlashInferKernel::tc_paged: return "BatchPrefillWithPagedKVCacheKernel";
  }
  return "?";
}

// Resident blocks per SM at most (CUDA C++ Programming Guide, "Compute Capabilities" table).
u64 max_blocks_per_sm(int cc) { return cc == 86 ? 16 : cc == 89 ? 24 : 32; }

// What cudaOccupancyMaxActiveBlocksPerMultiprocessor returns, which sizes the library's splits:
// the blocks of `threads` threads, `smem` bytes of dynamic shared memory (plus the 1 KB reserved
// per block) and `registers` a thread (0: not known) one SM holds at once.
u64 resident_blocks(const Device& dev, u64 smem, u64 threads, u64 registers) {
  const u64 by_smem = static_cast<u64>(dev.smem_bytes_per_sm) / (smem + kReservedSmemPerCta);
  const u64 by_threads = threads_per_sm(dev) / threads;
  const u64 by_regs = ctas_by_registers(registers, threads, dev.register_file_bytes_per_sm);
  return std::max<u64>(1, std::min({by_smem, by_threads, by_regs == 0 ? by_threads : by_regs,
                                    max_blocks_per_sm(dev.compute_capability)}));
}

// The PTX row of a dispatched instance (every kernel, group and head dim the checks above let
// through has one).
template <typename Row>
const Row& ptx_row(std::span<const Row> rows, FlashInferKernel kernel, u64 group, u64 d) {
  for (const Row& r : rows) {
    if (r.kernel == kernel && r.group == group && r.d == d) return r;
  }
  throw InputError("internal: no PTX counts for a dispatched FlashInfer kernel (a bug in attnio)");
}

}  // namespace

std::span<const FlashInferKernelRow> flashinfer_kernel_rows() { return kFlashInferKernels; }
std::span<const FlashInferTcRow> flashinfer_tc_rows() { return kFlashInferTcKernels; }

// The FP32-pipe instructions per token per thread that the code issues (decode.cuh @b30dad36e):
// compute_qk multiplies q by k and adds the product times sm_scale into the score, a mul and an FMA
// per element (vec each); the bdx threads of a head sum their partial scores by log2(bdx) shuffles
// and adds; then a max, the exponent's subtract and the running sum's add; update_local_state adds
// the probability times v into o, an FMA per element (vec); once per iteration o's vec elements and
// the denominator are rescaled (vec + 1 multiplies, over the thread's tokens). Equal to the PTX's
// count for all 27 dispatched instances (tests: Exec.FlashInferCountsMatchThePtx).
double flashinfer_fp32_per_token(u64 vec, u64 bdx, u64 thread_tokens) {
  return 3.0 * static_cast<double>(vec) + std::log2(static_cast<double>(bdx)) + 3.0 +
         static_cast<double>(vec + 1) / static_cast<double>(thread_tokens);
}

namespace {

// FlashInfer's tensor-core GQA decode (the blog's "FlashInfer Tensor Cores"): the prefill kernels
// with one query row per request, the group's heads as the rows of a 64-row tile (num_frags_x = 1:
// qo_len x group <= 64; 4 warps of 16 rows), 64 keys per iteration (num_frags_z =
// min((smem per SM / 2 / (16 d e) - 4) / 2, 4), dispatched only at 4 or 2), one K and one V tile
// (prefill.cuh SinglePrefillWithKVCacheDispatched, BatchPrefillWithPagedKVCacheDispatched;
// utils.cuh split_qo_indptr). One request: split into min(grid / (Hkv x row tiles), Nk / 128)
// chunks of ceil(Nk / chunks) tokens when that is more than one (bench_single_decode.cu passes its
// tmp buffer), merged by MergeStates; a paged batch: one block per (request's row tile, K/V head),
// no split (BatchPrefillWithPagedKVCacheWrapper passes no tmp).
FlashInferPlan flashinfer_tc_plan(const Workload& w, const Device& dev, bool paged) {
  const Shape s = shape_of(w);
  const u64 g = s.group(), d = s.d, e = 2;
  if (!paged && s.batch != 1) {
    throw InputError("--impl flashinfer-decode-tc: flash-decoding runs one request (SinglePrefillWithKVCache); a batch "
                     "of requests runs as --variant paged (BatchPrefillWithPagedKVCache)");
  }
  FlashInferPlan p;
  p.kernel = paged ? FlashInferKernel::tc_paged : FlashInferKernel::tc_single;
  p.threads = 128;
  p.bdy = g;
  p.tc_rows = 64;
  const u64 frags_z_smem = (static_cast<u64>(dev.smem_bytes_per_sm) / 2 / (16 * d * e) - 4) / 2;
  const u64 frags_z = std::min<u64>(frags_z_smem, 4);
  if (frags_z != 4) {
    throw InputError("--impl flashinfer-decode-tc: at d = " + std::to_string(d) + " this chip's shared memory gives num_frags_z " +
                     std::to_string(frags_z) + ", which FlashInfer 0.0.1 does not dispatch (DISPATCH_NUM_FRAGS_Z: 4 or 2; "
                     "the profile counts 4)");
  }
  p.stage_tokens = 16 * frags_z;
  p.smem_bytes = (p.tc_rows / 16 + 2 * frags_z) * 16 * d * e;
  p.tc = &ptx_row<FlashInferTcRow>(kFlashInferTcKernels, p.kernel, g, d);
  p.registers = dev.compute_capability >= 90 ? p.tc->regs90 : p.tc->regs80;
  p.ctas_per_sm = resident_blocks(dev, p.smem_bytes, p.threads, p.registers);
  const u64 row_tiles = ceil_div(g, p.tc_rows);
  p.chunk_tokens = s.nk;
  if (!paged) {
    const u64 chunks = std::min(p.ctas_per_sm * static_cast<u64>(dev.sm_count) / (s.kv_heads * row_tiles), s.nk / 128);
    if (chunks > 1) {
      p.chunks = chunks;
      p.chunk_tokens = ceil_div(s.nk, chunks);
      p.merge = true;
    }
    p.ctas = row_tiles * p.chunks * s.kv_heads;
  } else {
    p.ctas = s.batch * row_tiles * s.kv_heads;
  }
  return p;
}

}  // namespace

FlashInferPlan flashinfer_plan(const Workload& w, const Device& dev, bool paged) {
  const Shape s = shape_of(w);
  const u64 g = s.group(), d = s.d;
  const std::string impl = "--impl " + std::string(w.impl->key) + ": ";
  if (w.dtype != Dtype::fp16 && w.dtype != Dtype::bf16) {
    throw InputError(impl + "FlashInfer 0.0.1's decode kernels are counted for fp16 and bf16 (got " +
                     std::string(to_string(w.dtype)) + ")");
  }
  if (s.dv != s.d) throw InputError(impl + "FlashInfer's decode kernels take one head dim for K and V");
  if (g != 1 && g != 4 && g != 8) {
    throw InputError(impl + "FlashInfer 0.0.1 dispatches GQA groups 1, 4 and 8 (utils.cuh DISPATCH_GQA_GROUP_SIZE); "
                     "--heads / --kv-heads gives " + std::to_string(g));
  }
  if (d != 64 && d != 128 && d != 256) {
    throw InputError(impl + "FlashInfer 0.0.1 dispatches head dims 64, 128 and 256 (utils.cuh DISPATCH_HEAD_DIM); got "
                     "--head-dim " + std::to_string(d));
  }
  // The library sizes its own split; a forced one would describe some other code.
  if (variant_param(w.variant, "splits") != nullptr && w.count("splits") != 0) {
    throw InputError("--splits: FlashInfer chooses its chunks from the chip's occupancy; " + impl + "takes no --splits");
  }
  if (variant_param(w.variant, "paged_version") != nullptr && w.count("paged_version") != 0) {
    throw InputError("--paged-version picks vLLM's PagedAttention kernel; " + impl + "runs FlashInfer's");
  }
  if (w.count("kv_bits") != 0) throw InputError(impl + "the profile counts FlashInfer's fp16/bf16 caches, not --kv-bits");
  // The profile's MMA path says which of FlashInfer's decode paths runs.
  if (impl_traits(w, KernelRole::splitkv, d)->mma == MmaPath::mma_sync) return flashinfer_tc_plan(w, dev, paged);
  FlashInferPlan p;
  const u64 e = 2;
  p.kernel = paged ? FlashInferKernel::batch : s.batch == 1 ? FlashInferKernel::single : FlashInferKernel::padded;
  // The launch shape every dispatch computes (decode.cuh BatchDecodeWithPagedKVCacheDispatched,
  // SingleDecodeWithKVCache, BatchDecodeWithPaddedKVCacheDispatched).
  p.vec = std::max<u64>(16 / e, d / 32);
  p.bdx = d / p.vec;
  p.bdy = g;
  // get_heuristic_num_threads: 512 threads for a group of 8 in the single-request kernel (256 for fp8).
  const u64 base_threads = p.kernel == FlashInferKernel::single && g == 8 ? 512 : 128;
  p.threads = std::max(base_threads, p.bdx * p.bdy);
  p.bdz = p.threads / (p.bdx * p.bdy);
  p.tile = p.kernel == FlashInferKernel::padded || g != 1 ? 1 : p.kernel == FlashInferKernel::batch ? 4 : 8;
  p.stage_tokens = p.tile * p.bdy * p.bdz;
  p.thread_tokens = p.bdy * p.tile;
  const u64 kv_stage = 2 * kStages * p.stage_tokens * d * e;  // K and V, num_stages_smem each
  const u64 md = 2 * p.bdy * p.bdz * 4;                        // smem_md: m and d per (ty, tz)
  p.smem_bytes = p.kernel == FlashInferKernel::batch ? kv_stage + std::max(p.tile * p.threads * 8, md)  // + k_ptrs_smem
                                                     : kv_stage + md;
  const FlashInferKernelRow& row = ptx_row<FlashInferKernelRow>(kFlashInferKernels, p.kernel, g, d);
  p.registers = dev.compute_capability >= 90 ? row.regs90 : row.regs80;
  p.other_per_token = row.other;
  p.ctas_per_sm = resident_blocks(dev, p.smem_bytes, p.threads, p.registers);
  const u64 max_grid = p.ctas_per_sm * static_cast<u64>(dev.sm_count);
  p.chunk_tokens = s.nk;
  p.chunks = 1;
  if (p.kernel == FlashInferKernel::batch) {
    // BatchDecodeWithPagedKVCacheWorkEstimation: no partition when the batch's (request, K/V head)
    // blocks fill the grid the occupancy allows; else the fewest pages per chunk (at least
    // 128 / page_size) whose chunks fit in it (PartitionPagedKVCacheBinarySearchMinNumPagePerBatch),
    // and none when that leaves every request whole. Every request has the same length here.
    const u64 page = w.count("page_size");
    // 128 / page_size pages at least per chunk: 0 above 128 tokens a page, where the library's
    // binary search can divide by zero.
    if (page > 128) throw InputError(impl + "FlashInfer 0.0.1's partition takes pages of at most 128 tokens (--page-size " + std::to_string(page) + ")");
    const u64 pages = ceil_div(s.nk, page);
    if (s.batch * s.kv_heads < max_grid) {
      u64 low = std::max<u64>(1, 128 / page), high = pages;
      while (low < high) {
        const u64 mid = (low + high) / 2;
        if (s.batch * ceil_div(pages, mid) * s.kv_heads > max_grid) low = mid + 1;
        else high = mid;
      }
      if (ceil_div(std::max<u64>(pages, 1), low) > 1) {
        p.chunks = ceil_div(pages, low);
        p.chunk_tokens = low * page;
        p.merge = true;
      }
    }
    p.ctas = s.batch * p.chunks * s.kv_heads;
  } else if (p.kernel == FlashInferKernel::single) {
    // SingleDecodeWithKVCache with a temporary buffer (the benchmark's cooperative = 1): no partition
    // up to 256 tokens; else chunks of max(ceil(Nk / (max grid / Hkv)), 256) tokens.
    // The partition kernel and the merge run whenever there are more than 256 tokens, one chunk
    // or many.
    if (s.nk > 256) {
      const u64 max_chunks = max_grid / s.kv_heads;
      if (max_chunks == 0) {
        throw InputError(impl + std::to_string(s.kv_heads) + " K/V heads exceed the " + std::to_string(max_grid) +
                         " blocks the chip holds at once, where FlashInfer's chunking divides by zero");
      }
      p.chunk_tokens = std::max<u64>(ceil_div(s.nk, max_chunks), 256);
      p.chunks = ceil_div(s.nk, p.chunk_tokens);
      p.merge = true;
    }
    p.ctas = p.chunks * s.kv_heads;
  } else {
    p.ctas = s.batch * s.kv_heads;  // BatchDecodeWithPaddedKVCache: one block per (request, K/V head)
  }
  return p;
}

namespace {

// Main-loop iterations of one request's K/V head over all its chunks (the last chunk may be short).
// A chunk past the context's end (the tensor-core split's ceil(Nk / chunks) tokens each can leave
// the last ones empty) runs no iteration.
u64 iterations_per_head(const FlashInferPlan& p, u64 nk) {
  const u64 full = std::min(p.chunks, nk / p.chunk_tokens), rest = nk - full * p.chunk_tokens;
  return full * ceil_div(p.chunk_tokens, p.stage_tokens) + (full < p.chunks ? ceil_div(rest, p.stage_tokens) : 0);
}

// cascade.cuh's merge: one 128-thread block per (request, query head), bdy = 128 / bdx chunks per
// iteration, their partial outputs prefetched 4 stages ahead by cp.async; per iteration 2
// __syncthreads, every bdx iterations one more after the LSEs are loaded (a load the block waits
// on), and two more after it: the wait for the last stages, and merging the bdy states. VariableLengthMergeStates (the paged batch) first
// reads the request's chunk range (indptr), which its loop bound waits on;
// MergeStatesLargeNumIndexSetsKernel (one request) does not.
void add_merge(Evaluator& ev, Count heads, u64 chunks, Count partial, bool paged) {
  const Shape s = ev.shape();
  const u64 e = ev.e();
  const u64 bdx = s.dv / std::max<u64>(16 / e, s.dv / 32);
  const u64 mbdy = kMergeThreads / bdx;
  const u64 merge_iters = ceil_div(chunks, mbdy);
  const u64 lse_loads = ceil_div(merge_iters, bdx);
  const u64 merge_smem = kMergeStages * mbdy * s.dv * e + kMergeThreads * 4;
  const u64 merge_per_sm = resident_blocks(ev.dev(), merge_smem, kMergeThreads, 0);
  KernelCost& r = ev.add(paged ? "VariableLengthMergeStatesKernel" : "MergeStatesLargeNumIndexSetsKernel", heads, merge_per_sm);
  r.mma_warps = kMergeThreads / 32;
  // The partial outputs' first stages, issued in the prologue, are waited on in the first
  // iteration: one L2 round trip, with the LSEs' and (paged) indptr's.
  // After the loop: the wait for the last stages and threadblock_sync_state's, 2 more barriers.
  r.waits = {.barriers = static_cast<std::uint32_t>(2 * merge_iters + lse_loads + 2),
             .l2_reads = static_cast<std::uint32_t>(lse_loads + 1 + (paged ? 1 : 0))};
  r.block_iters = r.ctas;
  r.l2_reads_inherited = true;  // the partials, just written by the decode kernel
  Evaluator::read_direct(r, partial);
  Evaluator::write_direct(r, heads * s.dv * e);
  // st.merge per chunk: a max, two exponentials, the denominator's FMA, and per element a multiply
  // and an FMA after the conversion (state.cuh state_t::merge).
  const bool cvt_on_fma = ev.dev().compute_capability >= 90;
  r.sfu_ops = heads * chunks * 2;
  r.fp32_flops = heads * chunks * (s.dv * 4 + 6);
  r.fp32_instr = heads * chunks * (s.dv * (cvt_on_fma ? 3 : 2) + 4);
  if (!cvt_on_fma) r.other_instr = heads * chunks * s.dv;
}

// The CUDA-core kernels' per-score work, waits and buffers (decode.cuh).
void cuda_core_costs(Evaluator& ev, KernelCost& k, const FlashInferPlan& p) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const Count heads = Count(s.batch) * s.heads;
  const Count scores = heads * s.nk;
  // Every thread of a head's bdx computes its vec elements of each token's dot products and then,
  // redundantly, the score's softmax, for every token its stage holds: masked tail tokens included.
  const u64 iters = iterations_per_head(p, s.nk);
  const Count evaluated = heads * iters * p.stage_tokens;
  const Count lanes = evaluated * p.bdx;
  k.fp32_flops = scores * (2 * (s.d + s.dv) + 4);  // the dot products on the CUDA cores, and the softmax
  k.sfu_ops = scores;
  const double fp32 = flashinfer_fp32_per_token(p.vec, p.bdx, p.thread_tokens);
  // cast_load converts each K and V element to fp32 (cvt.f32.f16, HADD2.F32 in SASS: 2 vec per
  // token): on the FMA pipes on sm_90, on the pipe shared with the tensor cores and FP64 on GA100
  // (NVIDIA's forum answer on the FP16 pipes of GA100, GA10x and GH100, 2024-08), so issued beside
  // the FP32 pipe there.
  const double cvt = 2.0 * static_cast<double>(p.vec);
  const bool cvt_on_fma = ev.dev().compute_capability >= 90;
  k.fp32_instr = scaled(lanes, fp32 + (cvt_on_fma ? cvt : 0.0));
  k.other_instr = scaled(lanes, p.other_per_token + (cvt_on_fma ? 0.0 : cvt));
  k.sfu_issue = scaled(lanes, 1.0 + 1.0 / static_cast<double>(p.thread_tokens));  // each score's exp2, and o_scale's
  k.block_iters = Count(s.batch) * s.kv_heads * iters;
  const u64 row = kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv);
  k.inflight_bytes = Count(kStages) * p.stage_tokens * row;
  // K and V: each block reads its chunk of its K/V head once, into shared memory, where each of the
  // group's bdy heads reads every element.
  const Count kv = Count(s.batch) * s.kv_heads * s.nk * row;
  Evaluator::read_stream(k, kv, kv, p.bdy);
}

// The tensor-core path's prefill kernel (prefill.cuh): every block evaluates its whole 64-row tile,
// the rows past the group's heads included (4 warps of 16 rows; with one query row per request
// only the first g rows are real), 64 keys per iteration with mma.sync; its softmax's and other
// instructions per score from the PTX (kFlashInferTcKernels). Per iteration 4 block.sync (before
// QK, after the softmax, before PV, after it) with K of the next block copied after the softmax and
// V after PV, one tile each (cp_async::wait_group<1>): 2 buffers. The paged kernel loads each
// page's index (__ldg) and only then issues that page's copies, once for K and once for V per
// iteration: the first waits an L2 round trip with nothing else to run (the second finds the
// indices in L1, not counted).
void tc_costs(Evaluator& ev, KernelCost& k, const FlashInferPlan& p, bool paged) {
  const Shape s = ev.shape();
  const u64 e = ev.e();
  const Count heads = Count(s.batch) * s.heads;
  const u64 row_tiles = ceil_div(s.group(), p.tc_rows);
  const Count iters = Count(s.batch) * s.kv_heads * row_tiles * iterations_per_head(p, s.nk);
  const Count evaluated = iters * p.tc_rows * p.stage_tokens;
  k.tensor_flops = heads * s.nk * 2 * (s.d + s.dv);
  k.sfu_ops = heads * s.nk;
  k.fp32_flops = heads * s.nk * 4;
  // The PTX's mma.sync m16n8k16 (4096 FLOP a warp instruction) per warp per iteration: QK^T and PV,
  // and 4 more that sum P's rows against a ones matrix (compute_sfm_v's rowsum).
  k.tensor_issue = iters * (p.threads / 32) * p.tc->mma * 4096;
  k.fp32_instr = scaled(evaluated, p.tc->fp32);
  k.other_instr = scaled(evaluated, p.tc->other);
  k.sfu_issue = scaled(evaluated, p.tc->ex2);
  if (paged) k.waits.l2_reads = 1;  // the page index each step's K copy waits on
  k.block_iters = iters;
  const u64 row = kv_row_bytes(ev.w(), s.d) + kv_row_bytes(ev.w(), s.dv);
  k.inflight_bytes = Count(p.stage_tokens) * row;
  // K and V through shared memory, each tile read by all 4 warps (ldmatrix); the Q tile's rows
  // read by their warp every iteration (compute_qk loads its A fragments from shared memory).
  const Count kv = Count(s.batch) * s.kv_heads * s.nk * row;
  Evaluator::read_stream(k, kv * row_tiles, kv, p.threads / 32);
  k.sram_write += heads * s.d * e * p.chunks;
  k.sram_read += iters * p.tc_rows * s.d * e;
}

}  // namespace

void flashinfer_decode(Evaluator& ev, bool paged) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const u64 e = ev.e();
  const FlashInferPlan p = flashinfer_plan(w, ev.dev(), paged);
  KernelCost& k = ev.add(kernel_name(p.kernel), Count(p.ctas), p.ctas_per_sm);
  // The profile's MMA path, load buffers and waits per iteration (impl.cpp flashinfer_traits,
  // flashinfer_tc_traits); the plan's threads and registers.
  ev.attention_kernel(k, KernelRole::splitkv, s.d);
  k.mma_warps = p.threads / 32;
  k.registers = p.registers;
  const Count heads = Count(s.batch) * s.heads;
  const u64 row = kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv);
  if (p.tc_rows != 0) {
    tc_costs(ev, k, p, paged);
  } else {
    cuda_core_costs(ev, k, p);
  }
  // q: every chunk's block reads its group's heads; DRAM once while the L2 holds them.
  k.l2_read += heads * s.d * e * p.chunks;
  k.hbm_read += ev.filtered(heads * s.d * e, heads * s.d * e * p.chunks, 0);
  if (paged) {
    // Page indices (int32): each block reads its chunk's, into k_ptrs_smem; the same for every K/V
    // head of a request (L2 after the first).
    const u64 page = w.count("page_size");
    const Count indices = Count(s.batch) * ceil_div(s.nk, page) * 4;
    k.l2_read += indices * s.kv_heads;
    k.hbm_read += ev.filtered(indices, indices * s.kv_heads, 0);
    if (p.tc_rows == 0) {  // staged as 8-byte pointers in k_ptrs_smem, read by every thread of a head
      k.sram_write += indices * s.kv_heads * 2;
      k.sram_read += indices * s.kv_heads * 2 * p.bdx;
    }
    const u64 padded = ceil_div(s.nk, page) * page;
    ev.out().extras.pages_per_seq = ceil_div(s.nk, page);
    ev.out().extras.page_waste_bytes = Count(s.batch) * s.kv_heads * (padded - s.nk) * row * w.layers;
  }
  ev.out().splits = p.chunks;
  ev.out().block_n = p.stage_tokens;
  ev.out().block_m = p.bdy;
  ev.out().row_tile = p.bdy;
  if (!p.merge) {
    Evaluator::write_direct(k, heads * s.dv * e);
    return;
  }
  // Partial outputs in the output dtype and their log-sum-exps in fp32 (tmp, tmp_lse); the library
  // sizes tmp with two floats per (chunk, head) (decode.cuh *WorkEstimation: 2 * sizeof(float)).
  const Count partial = heads * p.chunks * (s.dv * e + 4);
  Evaluator::write_direct(k, partial);
  ev.out().extra_memory_bytes += heads * p.chunks * (s.dv * e + 8);
  add_merge(ev, heads, p.chunks, partial, paged);
}

bool runs_flashinfer_decode(const Workload& w) {
  const auto t = impl_traits(w, KernelRole::splitkv, w.head_dim);
  return t && t->flashinfer_decode;
}

std::string flashinfer_derivation(const Prediction& p, bool paged) {
  const Workload& w = p.workload;
  const u64 g = w.heads / w.kv_heads;
  if (const auto t = impl_traits(w, KernelRole::splitkv, w.head_dim); t && t->mma == MmaPath::mma_sync) {
    std::string text = "FlashInfer 0.0.1 GQA decode on its prefill kernels (prefill.cuh @b30dad36e): one block per (" +
                       std::string(paged ? "request" : p.splits > 1 ? "key chunk" : "request") +
                       ", K/V head) puts the group's " + num(g) +
                       " query head(s) as rows of a 64-row tile of 4 warps and runs QK^T and PV on the tensor cores (mma.sync), " +
                       num(p.block_n) + " keys per iteration; the other " + num(64 - std::min<u64>(g, 64)) +
                       " rows are padding the MMAs compute all the same, so the tensor work is 64/g times the useful, "
                       "which the tensor cores absorb where the CUDA cores could not (the CUDA-core kernel issues every "
                       "element's multiply-add once per head). ";
    text += p.splits > 1 ? "The keys are split into " + num(p.splits) + " chunks (min(grid / Hkv, Nk / 128)) and merged.\n"
                         : "No split.\n";
    return text;
  }
  const u64 vec = std::max<u64>(8, w.head_dim / 32), bdx = w.head_dim / vec;
  std::string text = "FlashInfer 0.0.1 decode (decode.cuh @b30dad36e): one thread block per (request" +
                     std::string(p.splits > 1 ? " chunk" : "") + ", K/V head) holds the group's " + num(g) +
                     " query head(s), " + num(bdx) + " threads per head along d (" + num(vec) +
                     " elements each); K and V are staged through shared memory by cp.async, 2 stages of " + num(p.block_n) +
                     " tokens each, so the cache (" + (paged ? "page by page through the index table" : "contiguous") +
                     ") crosses DRAM once. ";
  text += p.splits > 1 ? "The grid alone would leave SMs idle, so the library splits each request's keys into " + num(p.splits) +
                             " chunks (its occupancy heuristic) and a merge kernel combines the partial outputs and log-sum-exps. "
                       : "The grid fills the chip without a split. ";
  text += "The dot products run on the CUDA cores: every one of a head's " + num(bdx) +
          " threads issues about 5 FP32-pipe instructions per element it holds plus the score's softmax, so a group's heads "
          "multiply the issue work per byte: memory-bound for MHA, issue-bound (fp32) for large GQA groups, which is why "
          "FlashInfer runs GQA decode on its tensor-core prefill kernels as well (that path is not this profile).\n";
  return text;
}

// ---- tile schedule ------------------------------------------------------------------------------

// The same launch plan as a tile schedule. K/V in the layouts the blog's benchmarks allocate: the
// paged cache as (page, K|V, token, head, d) with each request's pages in order (bench_batch_decode.cu
// kv_indices = i * pages_per_seq + p; paged_kv_t kNHD), the contiguous one as (token, head, d)
// (kNHD); so a block reads its head's rows at a stride of Hkv rows.
void flashinfer_schedule(Scheduler& sc, bool paged) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const FlashInferPlan p = flashinfer_plan(w, sc.dev(), paged);
  std::vector<SimKernel>& out = sc.out();
  AddressSpace& as = sc.as();
  const u64 e = sc.e(), d = s.d;
  const u64 rowb = d * e, P = paged ? w.count("page_size") : 1;
  const u64 pages = ceil_div(s.nk, P);
  const u64 heads = (Count(s.batch) * s.heads).v;
  // The paged cache: page, then K or V, then P tokens of Hkv rows.
  const u64 page_bytes = 2 * P * s.kv_heads * rowb;
  const u64 cache = paged ? as.alloc(Count(s.batch) * pages * page_bytes) : as.alloc(Count(s.batch) * s.nk * s.kv_heads * rowb);
  const u64 vcache = paged ? 0 : as.alloc(Count(s.batch) * s.nk * s.kv_heads * rowb);
  const u64 table = paged ? as.alloc(Count(s.batch) * pages * 4) : 0;
  const u64 q = as.alloc(Count(heads) * rowb), o = as.alloc(Count(heads) * rowb);
  const u64 tmp = p.merge ? as.alloc(Count(heads) * p.chunks * (rowb + 4)) : 0;
  const u64 lse = tmp + heads * p.chunks * rowb;
  SimKernel k;
  k.name = kernel_name(p.kernel);
  k.ctas = p.ctas;
  k.smem = {{"K/V stages", p.smem_bytes}};
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    // Grid (chunk or request, K/V head): blockIdx.x the (partitioned) request, blockIdx.y the head.
    const u64 kvh = cta / (p.ctas / s.kv_heads), x = cta % (p.ctas / s.kv_heads);
    const bool one = p.kernel == FlashInferKernel::single || p.kernel == FlashInferKernel::tc_single;
    const u64 b = one ? 0 : x / p.chunks, chunk = one ? x : x % p.chunks;
    const u64 t0 = std::min(s.nk, chunk * p.chunk_tokens), t1 = std::min(s.nk, t0 + p.chunk_tokens);
    const u64 h0 = b * s.heads + kvh * p.bdy;  // the group's first query head
    Step first;
    first.read("q", q + h0 * rowb, p.bdy * rowb);
    if (paged) first.read("page indices", table + (b * pages + t0 / P) * 4, ceil_div(t1 - t0, P) * 4);
    steps.push_back(first);
    const u64 span = paged ? P : p.stage_tokens;
    for (u64 t = t0; t < t1;) {
      const u64 next = std::min(t1, (t / span + 1) * span), n = next - t;
      Step st;
      if (paged) {
        const u64 base = cache + (b * pages + t / P) * page_bytes + ((t % P) * s.kv_heads + kvh) * rowb;
        st.read("K page", base, rowb, n, s.kv_heads * rowb);
        st.read("V page", base + P * s.kv_heads * rowb, rowb, n, s.kv_heads * rowb);
      } else {
        const u64 off = ((b * s.nk + t) * s.kv_heads + kvh) * rowb;
        st.read("K", cache + off, rowb, n, s.kv_heads * rowb);
        st.read("V", vcache + off, rowb, n, s.kv_heads * rowb);
      }
      const double scores = static_cast<double>(n * p.bdy);
      st.fp32 = static_cast<float>(scores * static_cast<double>(2 * (d + d) + 4));
      st.sfu = static_cast<float>(scores);
      st.sram = static_cast<float>(static_cast<double>(n * 2 * rowb * (1 + p.bdy)));
      steps.push_back(st);
      t = next;
    }
    Step last;
    if (!p.merge) {
      last.write("o", o + h0 * rowb, p.bdy * rowb);
    } else {
      const u64 slot = (b * p.chunks + chunk) * s.heads + kvh * p.bdy;
      last.write("partial o", tmp + slot * rowb, p.bdy * rowb);
      last.write("partial lse", lse + slot * 4, p.bdy * 4);
    }
    steps.push_back(last);
  };
  out.push_back(std::move(k));
  if (!p.merge) return;
  SimKernel r;
  r.name = paged ? "VariableLengthMergeStatesKernel" : "MergeStatesLargeNumIndexSetsKernel";
  r.ctas = heads;
  r.program = [=](u64 cta, std::vector<Step>& steps) {
    // Grid (requests, heads): the request fastest (cascade.cuh nblks(seq_len, num_heads)).
    const u64 b = cta % s.batch, h = cta / s.batch;
    const u64 slot = b * p.chunks * s.heads + h;  // chunk c of request b at slot + c * H
    Step st;
    st.read("partial o", tmp + slot * rowb, rowb, p.chunks, s.heads * rowb);
    st.read("partial lse", lse + slot * 4, 4, p.chunks, s.heads * 4);
    st.write("o", o + (b * s.heads + h) * rowb, rowb);
    st.fp32 = static_cast<float>(p.chunks * (4 * d + 6));
    st.sfu = static_cast<float>(2 * p.chunks);
    steps.push_back(st);
  };
  out.push_back(std::move(r));
}

}  // namespace attnio::detail
