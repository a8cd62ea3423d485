// Kernel implementation profiles: what a real library's kernel does on the chip, in the spirit of
// flash-attention's kernel_traits. A variant says what is computed and moved (bytes, FLOPs); a
// profile says how a given implementation runs it: its tiles per head dim and architecture, its
// warps, its MMA instruction path, and how its softmax overlaps its matrix multiplies. The execution
// model (predict.cpp, docs/model.md "Time") turns the two into a time.
//
// Every profile names its sources (paper section, repository file and line at a commit). `ideal` is
// the textbook bound: FlashAttention Alg. 1 tiles and a roofline at datasheet peaks with perfect
// overlap, kept for teaching.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attnio {

struct Device;
struct Workload;
enum class Dtype;

// The tensor-core instruction a kernel issues.
//   native    the vendor library's best path for the chip (cuBLAS: wgmma on sm90, mma.sync before)
//   mma_sync  warp-level mma.sync.m16n8k16 (Ampere's path; on Hopper about 2/3 of the tensor core)
//   wgmma     Hopper's asynchronous warpgroup MMA
enum class MmaPath { native, mma_sync, wgmma };
std::string_view to_string(MmaPath p);

// How a warp's softmax (MUFU exponentials, FP32 max/sum/scale) and its matrix multiplies share time.
//   roofline  no rule: the slowest ceiling at datasheet peak (ideal)
//   warps     within a warp (or warpgroup) the two phases serialize on their data dependencies
//             (FlashAttention-3 §3.2); independent warps resident on one SM sub-partition fill
//             each other's gaps, as a closed queue of `overlap` jobs over the two units
//   pingpong  FlashAttention-3 §3.1: named barriers order the warpgroups' GEMMs so one
//             warpgroup's softmax runs under another's GEMMs; modelled as `warps` over the consumer
//             warpgroups, with the intra-warpgroup pipelining of §3.2
enum class OverlapRule { roofline, warps, pingpong };
std::string_view to_string(OverlapRule r);

// What one CTA waits out in each main-loop iteration with no work of its own to cover it, counted
// from the kernel's code (docs/model.md "Time", rule 2): CTA-wide barriers; shared-memory reads that
// wait on other warps' stores (a cross-warp reduction or exchange through a barrier, the read's
// latency exposed); global loads the iteration issues and then waits on, from L2 or from DRAM.
// All 0: not counted for that kernel (the model then assumes every latency hidden).
struct IterWaits {
  std::uint32_t barriers = 0, smem_reads = 0, l2_reads = 0, dram_reads = 0;
  bool any() const { return barriers + smem_reads + l2_reads + dram_reads != 0; }
};

// One kernel's traits under a profile: tiles, warps and paths.
struct KernelTraits {
  std::uint64_t block_m = 0, block_n = 0;  // 0: not a tiled attention kernel
  std::uint64_t mma_warps = 4;             // warps per CTA that issue MMAs and softmax
  // Groups of warps per CTA whose GEMM and softmax phases run independently of each other: 1 when
  // every warp waits at a CTA-wide barrier each iteration (FA2's __syncthreads around each K/V
  // tile), FA3's consumer warpgroups otherwise (they meet only at the producer's pipeline barriers).
  std::uint64_t jobs_per_cta = 1;
  std::uint64_t ctas_per_sm = 0;           // 0: as many as shared memory allows
  MmaPath mma = MmaPath::native;
  OverlapRule overlap = OverlapRule::warps;
  // How many times a staged K/V tile is read out of shared memory: every MMA warp (mma.sync: each
  // warp loads its B fragments with ldmatrix) or every consumer warpgroup (wgmma reads its operands
  // from shared memory once per warpgroup). 0: mma_warps for mma.sync, mma_warps / 4 for wgmma.
  std::uint64_t tile_readers = 0;
  // The Q tile is read from shared memory again for every K/V block (FA2 with Is_Q_in_regs false;
  // FA3's SS-GEMM), not held in registers.
  bool q_from_smem = true;
  std::uint64_t q_readers = 1;   // warps that read each Q element out of shared memory per K/V block
  // xFormers/CUTLASS: the Q tile is loaded from global memory again for every K/V block (its QK^T
  // matmul's prologue loads Q and K), through L2.
  bool q_from_global_per_block = false;
  // The probabilities P go through shared memory between the two matmuls (written once, read by
  // `p_readers` warps) instead of staying in registers.
  std::uint64_t p_readers = 0;
  // Triton's backward: one CTA per (batch, head) walking every K/V block (the tutorial kernel), or
  // triton.ops' sequence-parallel grid with dQ replicas, whichever the execution model finds faster
  // (FlashAttention-2's benchmark keeps the faster), instead of FlashAttention-2's one CTA per K/V
  // block with fp32 dQ atomics.
  bool bwd_cta_per_head = false;
  // FlashAttention v1's kernel (fmha_fprop_kernel_1xN.h @v1.0.9): grid (b, h, num_splits), where
  // num_splits_heuristic_fwd picks the fewest splits within 95 % of the best wave efficiency;
  // partial O carried between key blocks in fp32 (o_tmp); 4 warps side by side along the keys
  // (WARPS_N = 4), so every 16-row query step reads V from shared memory and sums the 4 warps'
  // partial O through shared memory (smem_o.store, __syncthreads, smem_o.load).
  bool fa1_kernel = false;
  // xFormers' CUTLASS backward (kernel_backward.h @v0.0.20): one CTA per key block walking the
  // query blocks, five GEMMs of 32 x 32 warp tiles with every operand loaded from global memory
  // in its own prologue, D recomputed by every CTA, dQ accumulated in an fp32 workspace under a
  // lock (impl.cpp xformers_traits, flash.cpp xformers_bwd).
  bool cutlass_bwd = false;
  // PyTorch eager's unfused kernels as the flash-attention benchmark runs them (impl.cpp pytorch).
  bool eager_pytorch = false;
  // Split-KV decode: FlashMLA deals the K/V blocks of all sequences evenly over about one CTA per SM
  // (num_sm_parts per K/V head and m-block, csrc/api/dense_decode.h:78, get_decoding_sched_meta.cu)
  // instead of flash-attention's num_splits heuristic.
  bool sm_parts_splits = false;
  // Decode through the library's forward call runs its split-KV kernel with the GQA heads packed
  // (flash-attention >= 2.2: flash_api.cpp seqlenq_ngroups_swapped and set_params_splitkv); before
  // 2.2 one query row per head filled a whole m-block and no split was made.
  bool decode_splitkv = false;
  // Split-KV role: flash-attention's combine kernel (flash_fwd_kernel.h combine_attn_seqk_parallel,
  // flash_fwd_launch_template.h:137-156 @0251105), `combine_rows` query rows per 128-thread CTA
  // (kBlockM: 4 where the head dim is a multiple of 128, 8 of 64, else 16). Each CTA loads the
  // splits' LSEs, meets 2 __syncthreads, then loads split s's partial O into one register tile and
  // accumulates it before the loop loads split s + 1: one waited L2 round trip per split (the
  // partials were written by the split-KV kernel just before and sit in L2). 0: a streaming
  // combine, its launch only.
  std::uint64_t combine_rows = 0;
  // Split-KV role, flash-attention: with one split the library runs its regular forward kernel,
  // not the split-KV one (run_mha_fwd: `if (params.num_splits <= 1 && !force_split_kernel)`,
  // flash_api.cpp:265 @0251105, :197 @v2.3.0), with the forward role's tiles, warps and waits.
  bool unsplit_runs_fwd = false;
  // Split-KV role: every warp reads its rows of the whole (padded) Q tile out of shared memory again
  // for every K/V block it visits (flash-attention's split kernel, Is_Q_in_regs false: 8 ldmatrix.x4
  // of Q per thread per key block at d = 128 in its compiled main loop, scripts/flash-attn/ptx).
  bool splitkv_q_per_block = false;
  // Split-KV role: the SM slots num_splits_heuristic is called with, per SM: 2 since flash-attention
  // 9eb3d099 (2024-04-07; "multiProcessorCount * 2", flash_api.cpp @0251105), 1 in the releases
  // before it (v2.2.0-v2.5.6: multiProcessorCount).
  std::uint64_t split_slots_per_sm = 2;
  // The kernel's dot products are FP32 (and packed half) multiply-adds on the CUDA cores, not MMAs:
  // its matmul FLOPs go to the FP32 pipe and its achievable roof is the FP32 lanes' (vLLM's
  // PagedAttention: Qk_dot and the value loop's dot, attention_kernels.cu).
  bool cuda_core_math = false;
  // PyTorch's FlexDecoding (torch/_inductor/kernel/flex/flex_decoding.py, templates/flex_decode.py.jinja):
  // what flex_attention lowers to when the query is shorter than 128 tokens and the group size is a
  // power of two. Grid (ceil(n·g / BLOCK_M), B·Hkv, SPLIT_KV) with SPLIT_KV = max(1, SMs // (B·Hkv) x 2)
  // (get_split_k), BLOCK_M = max(16, next_pow2(n·g)), each split a fixed tile of
  // ceil(ceil(Nk / SPLIT_KV) / BLOCK_N) key blocks whatever the mask leaves in it, fp32 partials
  // (ACC, M, L) reduced by two inductor kernels (model/src/variants/flex.cpp).
  bool flex_decoding = false;
  // FlexAttention's backward (torch/_inductor/kernel/flex/templates/flex_backwards.py.jinja): one
  // launch of dK/dV programs, one per K/V block of n1 keys walking the group's query blocks of m1
  // rows (4 GEMMs per pair), and dQ programs, one per query block of m2 rows walking the K/V blocks
  // of n2 keys (3 GEMMs per pair); no atomics (variants/flash.cpp flex_bwd). m1 = 0: not this kernel.
  struct FlexBwdBlocks {
    std::uint64_t m1 = 0, n1 = 0, m2 = 0, n2 = 0;
  } flex_bwd;
  // FlashInfer's CUDA-core decode kernels (decode.cuh): the decode variants run their own launch
  // plan, closed form and schedule (model/src/variants/flashinfer_decode.cpp).
  bool flashinfer_decode = false;
  // Registers per thread from the compiler's report (attnio's kernels: kernels/resources.csv) and
  // the threads per CTA; 0 where not known. With the register file they cap the CTAs per SM.
  std::uint64_t registers = 0, threads = 0;
  std::uint64_t smem_bytes = 0;  // shared memory per CTA where the kernel's code fixes it; 0: the closed form's tiles
  // The head dim the kernel is compiled for when the library rounds the workload's up (FlashAttention-2's
  // HEADDIM_SWITCH, FlashAttention-3's round_up_headdim): its MMAs run over the padded columns. 0: d.
  std::uint64_t kernel_head_dim = 0;
  // Backward warp layouts (flash-attention Flash_bwd_kernel_traits: AtomLayoutMSdP, AtomLayoutNdKV,
  // AtomLayoutMdQ): warps along M for S and dP, along N for dV and dK, along M for dQ; the rest of
  // the warps split the other dimension, so each operand tile is read out of shared memory once per
  // warp across it. 0: not modelled.
  std::uint64_t atom_msdp = 0, atom_ndkv = 0, atom_mdq = 0;
  // The forward grid launches Q blocks in ascending order (blockIdx.x = m_block), so under a causal
  // mask the heaviest CTA of the last head starts last and runs on after the rest (FA2's
  // flash_fwd_kernel.h; Triton's program_id(0); attnio's kernels). FA3 schedules causal tiles
  // longest-first (hopper/tile_scheduler.hpp DynamicPersistentTileScheduler, LPT): no such tail.
  bool heaviest_last = false;
  // Shared-memory buffers the kernel's asynchronous loads fill ahead of the MMAs in its main loop,
  // counted per CTA, buffers that are released and refilled together counting as one
  // (FlashAttention-2's forward: one K and one V tile, each refilled on its own; FlashAttention-3:
  // kStages = 2 of each). Each buffer cycles between the DRAM that fills it and the SM that
  // consumes it, so the prefetched DRAM reads and the SM's work form a closed loop with this many
  // customers per CTA (predict.cpp; docs/model.md "Time", the prefetch loop). 0: not read from the
  // kernel's code; no loop.
  std::uint64_t load_buffers = 0;
  // CTAs of a thread-block cluster along the query blocks that share each K/V tile by TMA multicast
  // (FlashAttention-3's ClusterShape: one L2 read lands in every CTA's shared memory). Applied only
  // where the library launches the cluster: no mask, the Q tiles a multiple of it (flash.cpp
  // kv_multicast). 1: every CTA reads its own.
  std::uint64_t kv_cluster = 1;
  // The forward's epilogue runs between one output tile's last MMA and the next tile's first with
  // no MMA to overlap it: every consumer warpgroup normalizes O, converts it, writes it to shared
  // memory and meets the others at named barriers (FlashAttention-3's persistent kernel,
  // hopper/epilogue_fwd.hpp). false: the epilogue overlaps other CTAs' work or is not modelled.
  bool serial_epilogue = false;
  // Per main-loop iteration (forward: one K/V block; backward: one (query block, key block) pair).
  IterWaits waits;
  // Tiles the kernel loads and then waits on in the iteration that issues them, rather than an
  // iteration ahead: they put the memory in the CTA's cycle (KernelCost::sync_*). kWaitAll: every
  // load of the kernel (fire-and-forget atomics aside).
  std::uint8_t waited = 0;
  static constexpr std::uint8_t kWaitQ = 1, kWaitK = 2, kWaitV = 4, kWaitAll = 8;
  // Instructions the softmax (forward) or the P/dS recompute (backward) issues per score, counted
  // from the kernel's code the way the closed forms count FlashAttention-2's (flash.cpp), in two
  // parts by the pipe that executes them (docs/model.md rule 1, "FMA and ALU"):
  // fp32_per_score: FADD, FMUL, FFMA, the FMA pipe (2 forward, 3 backward in FlashAttention-2);
  // alu_per_score: FMNMX, SEL/FSEL and the F2FP packs to 16 bits, which sm_80 and sm_89 execute on
  // the ALU pipe beside it (1.5 forward, 1 backward). fp32_per_score 0: the closed form's counts.
  double fp32_per_score = 0;
  double alu_per_score = 0;
  // Which visited blocks the kernel masks, at 2 ALU instructions per score of them under a causal
  // mask (an ISETP of the key index against the row's limit and an FSEL of -inf: flash-attention
  // mask.h Mask::apply_mask and hopper/mask.h @0251105) and 3 under the other masks (both ends of
  // the row's key range). kMaskCut: only the blocks the mask cuts (FlashAttention-2's
  // n_masking_steps, FlashAttention-3's n_block_min_causal_local_mask); kMaskAll: every visited
  // block (the 2023 Triton kernels' tl.where in the causal loop); kMaskAllWindow: every visited block
  // under a window mask, the cut ones under a causal one (FlashAttention-2 with Is_local,
  // flash_fwd_kernel.h:410).
  std::uint8_t mask_blocks = kMaskCut;
  static constexpr std::uint8_t kMaskCut = 0, kMaskAll = 1, kMaskAllWindow = 2;
  std::uint64_t readers() const { return tile_readers != 0 ? tile_readers : mma == MmaPath::wgmma ? mma_warps / 4 : mma_warps; }
};

enum class KernelRole { fwd, bwd, splitkv };

// Triton pads a head dim to a power of two (tl.arange; PyTorch's flex templates' QK_HEAD_DIM_ROUNDED,
// flex/common.py set_head_dim_values), at least the MMA's k of 16: the MMAs run over it.
inline std::uint64_t triton_padded_dim(std::uint64_t d) { return std::max<std::uint64_t>(16, std::bit_ceil(d)); }

// The 32-bit registers a thread of a tiled mma.sync forward kernel needs at least to hold its live
// accumulators: S = QK^T (block_m x block_n) and O (block_m x d) in fp32, plus Q's A-operand
// fragments (block_m x d at 16 bits, two per register) when the kernel keeps Q in registers; spread
// over the CTA's threads (an mma.sync accumulator tile is split evenly over the warps' lanes). A
// lower bound: addresses, softmax state and operand fragments come on top (ptxas reports 250 and
// 255 registers for FlashAttention-2's 128-row 4-warp forward kernels at d = 64 and 128, where this
// gives 128 and 192: Dao-AILab/flash-attention issue #1630). 0: not a tiled forward kernel.
std::uint64_t live_accumulator_registers(const KernelTraits& t, std::uint64_t head_dim);

struct ImplProfile {
  std::string_view key;      // --impl
  std::string_view name;     // "FlashAttention-2 (flash-attn 2.x)"
  std::string_view summary;  // one line: what it runs on which chips
  std::string_view sources;  // paper sections, repository files and lines
  bool ideal = false;        // textbook roofline at datasheet peaks, Alg. 1 tiles
  int min_cc = 0;            // lowest compute capability it runs on (FA3: 90); 0 = any
  int max_cc = 0;            // highest (0 = any)
  std::span<const std::string_view> variants;  // variant names it implements
  // The traits of one of its kernels for a head dim (max of d, dv), causal or not, dtype, on a
  // chip with `smem_per_sm` bytes of shared memory and compute capability `cc`.
  KernelTraits (*traits)(KernelRole role, std::uint64_t head_dim, bool causal, Dtype dtype, double smem_per_sm,
                         int cc) = nullptr;

  bool implements(std::string_view variant) const;
  bool runs_on(int cc) const { return (min_cc == 0 || cc >= min_cc) && (max_cc == 0 || cc <= max_cc); }
};

// ptxas's report for one of attnio's kernel instances (kernels/resources.csv, embedded): `kernel` as
// compiled ("flash2_fwd_kernel"), dtype word, template int (head dim; packed rows for
// decode_kernel), arch (80 or 90). nullopt when the report has no such instance.
struct KernelResources {
  std::uint64_t registers = 0, static_smem = 0, stack = 0, spill_stores = 0, spill_loads = 0;
};
std::optional<KernelResources> kernel_resources(std::string_view kernel, std::string_view dtype, std::uint64_t tparam, int arch);
// CTAs of `threads` threads using `registers` per thread that fit an SM's register file
// (`register_file_bytes`): registers are allocated per warp in units of 256 (CUDA C++ Programming
// Guide, "Compute Capabilities", register allocation unit size 256, warp allocation granularity).
std::uint64_t ctas_by_registers(std::uint64_t registers, std::uint64_t threads, double register_file_bytes);

// The traits of a resolved workload's implementation for one of its kernels; nullopt for `ideal`
// (the textbook kernel) or a workload without an implementation.
std::optional<KernelTraits> impl_traits(const Workload& w, KernelRole role, std::uint64_t head_dim);

// The registered profiles, in listing order (`attnio impls`).
std::span<const ImplProfile* const> all_impls();
// Throws InputError naming the unknown key and the known ones.
const ImplProfile& find_impl(std::string_view key);
const ImplProfile* find_impl_or_null(std::string_view key);
const ImplProfile& ideal_impl();
// What a user of that chip runs for the variant: the library the variant's papers and serving
// stacks use on that architecture (docs/model.md, "Implementations").
// `decode`: the phase, where the libraries differ (MLA: FlashMLA decodes, FlashAttention prefills).
const ImplProfile& default_impl(std::string_view variant, const Device& device, bool decode = false);
// Why the profile cannot run the workload on the device ("" when it can).
std::string impl_mismatch(const ImplProfile& impl, std::string_view variant, const Device& device);

}  // namespace attnio
