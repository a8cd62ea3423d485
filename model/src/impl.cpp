// The kernel implementation profiles (impl.hpp). Each block below is one library: what it runs, its
// kernels' traits per head dim and chip, and where each figure was read. Line numbers are at the
// commits named in docs/time-model-sources.md §E (flash-attention @0251105, FlashMLA @9241ae3,
// vLLM per file, mamba @e9594ce).
#include "attnio/model/impl.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <tuple>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "attnio/model/tile_traits.hpp"
#include "attnio/model/workload.hpp"

namespace attnio {

namespace {

using u64 = std::uint64_t;

#include "kernel_resources.inc"

using ResourceKey = std::tuple<std::string, std::string, u64, int>;
const std::map<ResourceKey, KernelResources>& resource_table() {
  static const std::map<ResourceKey, KernelResources> table = [] {
    std::map<ResourceKey, KernelResources> t;
    std::string_view rest = kKernelResourcesCsv;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (line.empty() || line[0] == '#' || line.starts_with("source,")) continue;
      std::vector<std::string_view> f;
      for (std::size_t at = 0;;) {
        const auto comma = line.find(',', at);
        f.push_back(line.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
        if (comma == std::string_view::npos) break;
        at = comma + 1;
      }
      if (f.size() != 10) throw InputError("internal: kernels/resources.csv has a malformed line (a bug in attnio)");
      auto num = [](std::string_view x) {
        u64 v = 0;
        std::from_chars(x.data(), x.data() + x.size(), v);
        return v;
      };
      t[{std::string(f[1]), std::string(f[2]), num(f[3]), static_cast<int>(num(f[4]))}] =
          KernelResources{num(f[5]), num(f[6]), num(f[7]), num(f[8]), num(f[9])};
    }
    return t;
  }();
  return table;
}


constexpr std::string_view kFlashFamily[] = {"flash2", "block-sparse", "sliding-window", "sigmoid", "dilated",
                                             "gated", "ring"};

// ---- ideal: the textbook roofline ------------------------------------------------------------
// FlashAttention Alg. 1 tiles (Bc = ceil(M/4d), Br = min(Bc, d); FlashAttention §3.1) and the
// roofline at datasheet peaks (Williams et al. 2009): perfect overlap, peak issue.
constexpr std::string_view kAll[] = {"flash1", "flash2", "block-sparse", "sliding-window", "flex", "sigmoid", "dilated",
                                     "flash-decoding", "paged", "selective", "shared-prefix", "mla", "linear", "performer", "mamba",
                                     "mamba-naive", "mamba2", "fnet", "longconv", "ring", "chunked", "standard", "gated", "clustered",
                                     "monarch", "gau"};
KernelTraits ideal_traits(KernelRole, u64, bool, Dtype, double, int) {
  return {.block_m = 0, .block_n = 0, .mma_warps = 4, .ctas_per_sm = 0, .mma = MmaPath::native, .overlap = OverlapRule::roofline};
}
const ImplProfile kIdeal{
    .key = "ideal",
    .name = "Textbook roofline",
    .summary = "FlashAttention Alg. 1 tiles; slowest ceiling at datasheet peak (perfect overlap, peak issue)",
    .sources = "FlashAttention (Dao et al. 2022) §3.1 Alg. 1 line 1; roofline: Williams, Waterman & Patterson 2009",
    .ideal = true,
    .variants = kAll,
    .traits = ideal_traits};

// ---- attnio: this project's own CUDA kernels (kernels/) ---------------------------------------
// Tiles from model/include/attnio/model/tile_traits.hpp, shared with kernels/; wmma fragments
// (compiled to mma.sync); 4 warps per CTA.
KernelTraits attnio_traits(KernelRole role, u64 d, bool, Dtype dtype, double, int cc) {
  KernelTraits t{.mma_warps = 4, .mma = MmaPath::mma_sync, .overlap = OverlapRule::warps};
  t.heaviest_last = true;  // kernels/flash2.cu: grid (Tr, B, H), i = blockIdx.x
  // Registers per thread from ptxas (kernels/resources.csv): the kernels are instantiated for head
  // dims 64 and 128 and compiled for sm_80 and sm_90 (sm_86/89 run the sm_80 code).
  const char* kernel = role == KernelRole::fwd ? "flash2_fwd_kernel" : role == KernelRole::bwd ? "bwd_kernel" : "decode_kernel";
  const u64 tparam = role == KernelRole::splitkv ? 16 : d <= 64 ? 64 : 128;
  if (const auto r = kernel_resources(kernel, to_string(dtype), tparam, cc >= 90 ? 90 : 80); r && d <= 128) {
    t.registers = r->registers;
    t.threads = 32 * t.mma_warps;
    const u64 e = dtype == Dtype::fp32 ? 4 : dtype == Dtype::fp8 ? 1 : 2;
    if (role == KernelRole::fwd) t.smem_bytes = traits::flash2_smem_bytes(e, tparam);
    if (role == KernelRole::bwd) t.smem_bytes = traits::flash_bwd_smem_bytes(e, tparam);
  }
  if (d > 256 && role != KernelRole::splitkv) return t;
  if (role == KernelRole::fwd) t.block_m = 64, t.block_n = d <= 64 ? 128 : 64;
  if (role == KernelRole::bwd) t.block_m = 64, t.block_n = d <= 64 ? 64 : 32;
  // kernels/decoding.cu packs 16 query rows (GQA heads, MLA heads) per CTA (kDecodeRowTile).
  if (role == KernelRole::splitkv) t.block_m = 16, t.block_n = d <= 64 ? 256 : d <= 128 ? 128 : 64;
  return t;
}
// selective: its buffer is read by the split-KV decode kernel (kernels/decoding.cu); its selection
// pass has no attnio kernel and is counted as the closed form's memory pass.
constexpr std::string_view kAttnioVariants[] = {"flash1", "flash2", "block-sparse", "sliding-window", "sigmoid",
                                                "dilated", "flash-decoding", "paged", "selective", "mla", "linear", "performer",
                                                "mamba", "mamba-naive", "fnet", "ring", "chunked", "standard", "gated"};
const ImplProfile kAttnio{
    .key = "attnio",
    .name = "attnio's own kernels",
    .summary = "the CUDA kernels in kernels/ (wmma, 4 warps), which `attnio profile` measures",
    .sources = "model/include/attnio/model/tile_traits.hpp; kernels/flash2.cu, kernels/flash_bwd.cu, kernels/decoding.cu",
    .variants = kAttnioVariants,
    .traits = attnio_traits};

// ---- fa1: FlashAttention (v1) ----------------------------------------------------------------
// flash-attention v1.0.9 (6d48e14a): FMHA_kernel_traits<S, D, STEP = 16, 1, 4 warps>: 16 query
// rows per inner step, S = 256 keys per block at head dim 64 and 128 at 128
// (fmha_fwd_hdim64.cu:9-14, fmha_fwd_hdim128.cu:9, fmha_api.cpp:255-262); mma.sync m16n8k16
// (fmha/gemm.h:192-201); grid (b, h, num_splits) with num_splits_heuristic_fwd
// (fmha_fwd_launch_template.h:21-39, 72-86); the outer loop over key blocks carries partial O in
// an fp32 buffer o_tmp (fmha_fprop_kernel_1xN.h:233, 401, 645).
// Backward (fmha_bwd_hdim64.cu:9-19, fmha_bwd_hdim128.cu:9-10 @v1.0.9): FMHA_kernel_traits<S, D, 16,
// 1, 8 warps, 0x100u>: the same 16-row steps and S = 256 (d = 64, seqlen_k >= 256) or 128 keys, 8
// warps side by side along the keys, K and V in separate shared-memory tiles with V not held in
// registers (kernel_traits.h:43-47). Shared memory per CTA as run_fmha_bwd_loop sizes it
// (fmha_bwd_launch_template.h:47-58): Q and dO tiles double-buffered (smem_q x 2), K and V tiles,
// the 8 warps' fp32 partial dQ (16 x D x 4 x 8) and two 16 x S transposes (P, dS): 120 KB at
// d = 64 and 152 KB at d = 128, so one CTA per SM on an A100 or H100.
KernelTraits fa1_traits(KernelRole role, u64 d, bool, Dtype, double, int) {
  KernelTraits t{.block_m = 16, .block_n = d <= 64 ? 256u : 128u, .mma_warps = 4, .mma = MmaPath::mma_sync,
                 .overlap = OverlapRule::warps, .q_from_smem = false, .fa1_kernel = true};
  if (d > 128) t.block_m = t.block_n = 0;  // v1 kernels exist for head dims up to 128
  // Per 16-row step (fmha_fprop_kernel_1xN.h @v1.0.9): 2 __syncthreads (the row max's in
  // softmax.h:549, and line 580); 3 shared-memory reads waiting on other warps' stores (the 4 warps'
  // row maxima, their row sums, their partial O tiles: lines 551, 584, 618). K_j, V_j, o_tmp and the
  // next Q are waited on in the step or key block that loads them (flash1_fwd).
  t.waits = {.barriers = 2, .smem_reads = 3};
  t.waited = KernelTraits::kWaitAll;
  if (role == KernelRole::bwd && t.block_m != 0) {
    const u64 dk = d <= 64 ? 64 : 128, s = t.block_n, e = 2;  // v1 runs fp16 and bf16 only
    t.mma_warps = 8;
    t.smem_bytes = 2 * (16 * dk * e * 2) + 2 * (s * dk * e) + 16 * dk * 4 * 8 + 2 * (16 * s * e);
    // Per step (fmha_dgrad_kernel_1xN_loop.h @v1.0.9): 2 __syncthreads (lines 573, 669) and the 8
    // warps' partial dQ read back after the second (676).
    t.waits = {.barriers = 2, .smem_reads = 1};
  }
  return t;
}
constexpr std::string_view kFa1Variants[] = {"flash1"};
const ImplProfile kFa1{
    .key = "fa1",
    .name = "FlashAttention (v1)",
    .summary = "FA1 loop order, 16-row query steps x 256/128-key blocks, 4 warps (backward 8), mma.sync, fp32 partial O, "
               "split grid; backward sequence-parallel by its heuristic",
    .sources = "FlashAttention §3.1 Alg. 1; flash-attention v1.0.9 (6d48e14a) csrc/flash_attn/src/fmha_fwd_hdim64.cu:9-14, "
               "fmha_fwd_hdim128.cu:9, fmha_fwd_launch_template.h:21-39,72-86, fmha_fprop_kernel_1xN.h:233,401,645, fmha/gemm.h:192-201; "
               "backward fmha_bwd_hdim64.cu:9-19, fmha_bwd_hdim128.cu:9-10, fmha_bwd_launch_template.h:9-28,47-112, "
               "fmha_dgrad_kernel_1xN_loop.h:309-330,625-710, fmha_api.cpp:439-512",
    .min_cc = 75,
    .variants = kFa1Variants,
    .traits = fa1_traits};

// ---- fa2: FlashAttention-2 (flash-attn 2.x), sm80 and sm90 ------------------------------------
// csrc/flash_attn/src/flash_fwd_launch_template.h @0251105: hdim 64 <64,128,128,4> (line 210);
// hdim 128 <128,128,64,4> on sm80 and sm90 (line 262); hdim 256: 64 x 64, 4 warps when the SM has
// >= 196608 B of shared memory ("H100 ... 2 CTAs per SM"), else 128 x 64, 8 warps (lines 313-318).
// hdim 96: <96,128,64,4> on sm80 and sm90 (line 236), as the d <= 128 branch gives; 160 and 192 were
// not read and take the next larger read head dim's tiles. A head dim between two instantiations
// runs the next larger one's kernel (static_switch.h:90-111 HEADDIM_SWITCH: 32, 64, 96, 128, 192,
// 256; the columns past d are zero-filled, flash_fwd_kernel.h Is_even_K), so its MMAs run over
// kHeadDim columns. The MMA atom is SM80_16x8x16_F32F16F16F32_TN (mma.sync) on both chips
// (kernel_traits.h:30-34).
// Backward, flash_bwd_launch_template.h: hdim 64 128 x 128, 8 warps (178-179); 128: 64 x 128,
// 8 warps (247-248); 256: 64 x 64, 8 warps (296-299). Split-KV (Flash-Decoding): kBlockM 64,
// kBlockN 256/128/64 by head dim, 4 warps (lines 179-191).
KernelTraits fa2_traits(KernelRole role, u64 d, bool, Dtype, double smem, int) {
  KernelTraits t{.mma_warps = 4, .mma = MmaPath::mma_sync, .overlap = OverlapRule::warps, .decode_splitkv = true};
  t.heaviest_last = true;  // flash_fwd_kernel.h: m_block = blockIdx.x
  if (d > 256) return t;  // FA2 supports head dims up to 256 (no tiles: Alg. 1)
  t.kernel_head_dim = d <= 32 ? 32 : d <= 64 ? 64 : d <= 96 ? 96 : d <= 128 ? 128 : d <= 192 ? 192 : 256;
  switch (role) {
    case KernelRole::fwd:
      // Per key block (flash_fwd_kernel.h compute_attn_1rowblock, @0251105 and v2.0.4): 2
      // cp_async_wait + __syncthreads; each warp owns whole rows, so no shared-memory reductions.
      // V_j is copied asynchronously (cp.async) at the top of the block and waited on after QK^T,
      // K_{j+1} during the softmax and PV: software pipelining over an MMA phase, not in the cycle.
      t.waits = {.barriers = 2};
      // Under a window (Is_local) every key block is masked, not only the cut ones: the loop after
      // the n_masking_steps calls apply_mask with Causal_mask = false, which still masks where
      // Is_local (flash_fwd_kernel.h:305-307, 410; mask.h:137 Need_masking).
      t.mask_blocks = KernelTraits::kMaskAllWindow;
      if (d <= 64) t.block_m = 128, t.block_n = 128;
      else if (d <= 128) t.block_m = 128, t.block_n = 64;
      else if (smem >= 196608) t.block_m = 64, t.block_n = 64;
      else t.block_m = 128, t.block_n = 64, t.mma_warps = 8;
      break;
    case KernelRole::bwd:
      // flash_bwd_launch_template.h:178-179, 247-248, 296-299: <d, kBlockM, kBlockN, 8 warps,
      // AtomLayoutMSdP, AtomLayoutNdKV, AtomLayoutMdQ> = <64, 128, 128, 8, 4, 4, 4>,
      // <128, 64, 128, 8, 2, 4, 2>, <256, 64, 64, 8, 4, 2, 2>.
      t.mma_warps = 8;
      // Per pair (flash_bwd_kernel.h compute_dq_dk_dv_1colblock, v2.0.4 lines 767, 900, 911): 3
      // __syncthreads; P and dS written to shared memory and read by other warps as MMA operands.
      // Q, dO and the LSE are prefetched a pair ahead.
      t.waits = {.barriers = 3, .smem_reads = 2};
      if (d <= 64) t.block_m = 128, t.block_n = 128, t.atom_msdp = 4, t.atom_ndkv = 4, t.atom_mdq = 4;
      else if (d <= 128) t.block_m = 64, t.block_n = 128, t.atom_msdp = 2, t.atom_ndkv = 4, t.atom_mdq = 2;
      else t.block_m = 64, t.block_n = 64, t.atom_msdp = 4, t.atom_ndkv = 2, t.atom_mdq = 2;
      break;
    case KernelRole::splitkv:
      t.block_m = 64, t.block_n = d <= 64 ? 256 : d <= 128 ? 128 : 64;
      t.unsplit_runs_fwd = true;
      // The combine's kBlockM follows the compiled head dim (flash_fwd_launch_template.h:140).
      t.combine_rows = t.kernel_head_dim % 128 == 0 ? 4 : t.kernel_head_dim % 64 == 0 ? 8 : 16;
      // Flash_fwd_kernel_traits<d, 64, kBlockN, 4, Is_Q_in_regs = false> (flash_fwd_launch_template.h:191):
      // Q is read from shared memory for every key block (docs/model.md, "FlashAttention-2 at d = 64").
      t.splitkv_q_per_block = true;
      break;
  }
  // Forward and split-KV: one K and one V tile in shared memory (kernel_traits.h SmemLayoutKV, no
  // stage dimension), each filled by cp.async while the MMAs run on the other (flash_fwd_kernel.h).
  // Backward (d <= 128, No_double_buffer false): sQ in two slots and sdO in one
  // (kernel_traits.h:278, kSmemQdOSize = 3 tiles), Q_{m-1} issued after the dP GEMM into the free
  // slot and dO refilled after the __syncthreads that follows the dV GEMM (flash_bwd_kernel.h:577-
  // 651 @0251105; 883-922 @v2.0.4): 3 buffers released at different points. At d = 256 the
  // launch picks No_double_buffer below 176 KiB of shared memory per block (A100, sm86/89;
  // flash_bwd_launch_template.h:296-302): 2.
  t.load_buffers = role != KernelRole::bwd ? 2 : d <= 128 || smem >= 176 * 1024 ? 3 : 2;
  return t;
}
constexpr std::string_view kFa2Variants[] = {"flash2", "block-sparse", "sliding-window", "sigmoid", "dilated",
                                             "flash-decoding", "paged", "gated", "ring", "mla"};
const ImplProfile kFa2{
    .key = "fa2",
    .name = "FlashAttention-2 (flash-attn 2.x)",
    .summary = "mma.sync on sm80 and sm90 alike, 4-8 warps, one K/V buffer; softmax serialized with the MMAs in each warp",
    .sources = "FlashAttention-2 §3 (arXiv 2307.08691); flash-attention @0251105 csrc/flash_attn/src/"
               "flash_fwd_launch_template.h:210,262,313-318, flash_bwd_launch_template.h:178,247,296, kernel_traits.h:30-34, "
               "softmax.h:137-165 (per-score max, FFMA+exp2, sum; O rescale per block)",
    .min_cc = 80,
    .variants = kFa2Variants,
    .traits = fa2_traits};

// ---- fa2-v2.0: FlashAttention-2 before split-KV -------------------------------------------------
// flash-attn 2.0.x, the "Flash-Attention v2.0.9" column of the Flash-Decoding post: the same
// kernels, but decode runs the prefill kernel with one query row per head in a 128-row m-block and
// no split ("Flash-decoding is available ... in the FlashAttention package, starting at version 2.2").
KernelTraits fa2_v20_traits(KernelRole role, u64 d, bool causal, Dtype dtype, double smem, int cc) {
  KernelTraits t = fa2_traits(role, d, causal, dtype, smem, cc);
  t.decode_splitkv = false;
  return t;
}
constexpr std::string_view kFa2V20Variants[] = {"flash2", "block-sparse", "sliding-window", "sigmoid", "dilated", "gated", "ring"};
const ImplProfile kFa2V20{
    .key = "fa2-v2.0",
    .name = "FlashAttention-2 v2.0.x (before split-KV)",
    .summary = "as fa2, but decode fills a 128-row m-block with one query row per head, unsplit",
    .sources = "Flash-Decoding (PyTorch blog 2023-10-13: split-KV in flash-attn from v2.2); flash-attention @0251105 "
               "flash_fwd_launch_template.h:262 (the prefill tiles it runs)",
    .min_cc = 80,
    .variants = kFa2V20Variants,
    .traits = fa2_v20_traits};

// ---- fa2-splitkv: Flash-Decoding ----------------------------------------------------------------
// The FA2 library's split-KV kernel and its combine (flash_fwd_launch_template.h:107,136-191) with
// the num_splits heuristic (flash_api.cpp:281-335); see Flash-Decoding (PyTorch blog, 2023-10-13).
// shared-prefix: both of its phases are this kernel (the prefix phase with every request's rows);
// FlashInfer's cascade and vLLM's prefix caching run the same split-KV decode twice and merge.
// paged: the same kernel reading its K/V blocks through a block table (flash-attn >= 2.5.0).
constexpr std::string_view kSplitKvVariants[] = {"flash-decoding", "paged", "mla", "selective", "shared-prefix"};
const ImplProfile kFa2SplitKv{
    .key = "fa2-splitkv",
    .name = "Flash-Decoding (flash-attn 2.x split-KV)",
    .summary = "split-KV decode: 64 x 256/128/64 tiles, 4 warps, mma.sync, a combine kernel",
    .sources = "Flash-Decoding (Dao, Haziza, Massa, Sizov; PyTorch blog 2023-10-13); flash-attention @0251105 "
               "flash_fwd_launch_template.h:107,136-191, flash_api.cpp:261-268,281-335",
    .min_cc = 80,
    .variants = kSplitKvVariants,
    .traits = fa2_traits};

// ---- fa2-splitkv-2.3: Flash-Decoding as first released ------------------------------------------
// The Flash-Decoding post's numbers were taken with xFormers' flash.FwOp over the flash-attention it
// bundled then (xFormers moved its submodule from v2.1.0, which has no split-KV kernel, to v2.2.4 on
// 2023-09-22, the day of its decoding benchmark d3656d5d, and to v2.3.2 on 2023-10-13, the post's
// date). Those releases call num_splits_heuristic with the SM count (flash_api.cpp:381 @v2.3.0),
// not twice it as since 9eb3d099 (2024-04-07); the kernels are the same.
KernelTraits fa2_splitkv23_traits(KernelRole role, u64 d, bool causal, Dtype dtype, double smem, int cc) {
  KernelTraits t = fa2_traits(role, d, causal, dtype, smem, cc);
  if (role == KernelRole::splitkv) t.split_slots_per_sm = 1;
  return t;
}
const ImplProfile kFa2SplitKv23{
    .key = "fa2-splitkv-2.3",
    .name = "Flash-Decoding (flash-attn 2.2-2.5.6)",
    .summary = "as fa2-splitkv, but the split heuristic counts one slot per SM, as the releases of 2023 did",
    .sources = "Flash-Decoding (PyTorch blog 2023-10-13); flash-attention v2.3.0 flash_api.cpp:194-198,212-244,372-381; "
               "facebookresearch/xformers third_party/flash-attention at d3656d5d (v2.1.0), 0013168e (v2.2.4), 59ec4708 (v2.3.2)",
    .min_cc = 80,
    .variants = kSplitKvVariants,
    .traits = fa2_splitkv23_traits};

// ---- fa3: FlashAttention-3 (hopper/) ------------------------------------------------------------
// hopper/tile_size.h @0251105, 16-bit: hdim <= 64 {192, causal ? 128 : 192}; <= 96 {192, 144};
// <= 128 {128, causal ? 128 : 176}; <= 192 {128, 128}; 256 {128, 80} (lines 10-39). FP8: 64
// {192, 160}, 96 {192, 128}, 128 {128, 224}, 192 {128, 160}, 256 {128, 128} (41-52). Consumer
// warpgroups = kBlockM / 64 (mainloop_fwd_sm90_tma_gmma_ws.hpp:89,124), plus one producer
// warpgroup (flash_fwd_kernel_sm90.h:74-76); one CTA per SM. Ping-pong (UseSchedulerBarrier) for
// 16-bit head dims <= 128 and FP8 head dims >= 128 (mainloop...:352-355); intra-warpgroup overlap
// on for every 16-bit config (tile_size.h, 4th field). Backward, flash_bwd_launch_template.h:
// hdim 64 128 x 128; 128 causal 64 x 128, else 80 x 128; 256 64 x 80; 2 MMA warpgroups (314-380).
KernelTraits fa3_traits(KernelRole role, u64 d, bool causal, Dtype dtype, double, int) {
  const bool fp8 = dtype == Dtype::fp8;
  KernelTraits t{.ctas_per_sm = 1, .mma = MmaPath::wgmma, .overlap = OverlapRule::warps};
  if (d > 256) return t;  // hopper/ supports head dims up to 256
  // hopper/flash_api.cpp:492-518 round_up_headdim: 64, 96, 128, 192, 256.
  t.kernel_head_dim = d <= 64 ? 64 : d <= 96 ? 96 : d <= 128 ? 128 : d <= 192 ? 192 : 256;
  if (role == KernelRole::bwd) {
    t.mma_warps = 8;
    // Per m_block of a consumer warpgroup (mainloop_bwd_sm90_tma_gmma_ws.hpp @0251105, bwd_step
    // 834-1000): two named-barrier syncs, PdS after dS is written (937; the one at 917 only without
    // Mma_dKV_is_RS or with one dS stage, neither the case for hdim 64 or 128, line 75 and
    // flash_bwd_launch_template.h:318-353) and dQEmpty before the fp32 dQ goes to shared memory
    // for the TMA reduce-add (953); and one dependent shared-memory read, the dQ GEMM's operand dS,
    // half of it written by the other warpgroup. Q, dO, LSE and dPsum come through a 2-stage TMA
    // pipeline, issued an iteration ahead: no load is waited on where it is issued.
    t.waits = {.barriers = 2, .smem_reads = 1};
    if (d <= 64) t.block_m = 128, t.block_n = 128;
    else if (d <= 128) t.block_m = causal ? 64 : 80, t.block_n = 128;
    else t.block_m = 64, t.block_n = 80;
    // Q (with LSE) and dO (with dPsum) through two TMA pipelines of 2 stages each
    // (flash_bwd_launch_template.h:80, 320, 353; mainloop_bwd_sm90_tma_gmma_ws.hpp:242-245),
    // released apart: dO after the dQ GEMM is issued (941), Q after the dK GEMM (998).
    t.load_buffers = 4;
    return t;
  }
  if (fp8) {
    if (d <= 64) t.block_m = 192, t.block_n = 160;
    else if (d <= 96) t.block_m = 192, t.block_n = 128;
    else if (d <= 128) t.block_m = 128, t.block_n = 224;
    else if (d <= 192) t.block_m = 128, t.block_n = 160;
    else t.block_m = 128, t.block_n = 128;
  } else {
    if (d <= 64) t.block_m = 192, t.block_n = causal ? 128 : 192;
    else if (d <= 96) t.block_m = 192, t.block_n = 144;
    else if (d <= 128) t.block_m = 128, t.block_n = causal ? 128 : 176;
    else if (d <= 192) t.block_m = 128, t.block_n = 128;
    else t.block_m = 128, t.block_n = 80;
  }
  t.mma_warps = t.block_m / 64 * 4;
  t.jobs_per_cta = t.block_m / 64;  // the consumer warpgroups
  const bool pingpong = fp8 ? d >= 128 : d <= 128;
  t.overlap = pingpong ? OverlapRule::pingpong : OverlapRule::warps;
  if (role == KernelRole::splitkv) t.block_m = 64, t.mma_warps = 4, t.jobs_per_cta = 1;
  // The epilogue between tiles (epilogue_fwd.hpp:213-330; flash_fwd_kernel_sm90.h:421-449): the
  // consumer loop runs mma(t), then the epilogue of t, then mma(t + 1); the epilogue's bar.sync
  // spans every consumer warpgroup (249), so no ping-pong hides it.
  if (role == KernelRole::fwd) t.serial_epilogue = true;
  // Clusters of 2 CTAs along M share K and V by TMA multicast for 16-bit head dims >= 128 and FP8
  // 192, not causal, not local, not split, when the Q tiles are even
  // (flash_fwd_launch_template.h:212-218; the first release too: kClusterM = !Is_causal ? 2 : 1
  // at head dims 128 and 256, @7f67966c flash_fwd_launch_template.h:95,103).
  if (role == KernelRole::fwd && (fp8 ? t.kernel_head_dim == 192 : t.kernel_head_dim >= 128)) t.kv_cluster = 2;
  // K and V come through separate TMA pipelines of kStages = 2 buffers each (flash_fwd_launch_template.h:47;
  // mainloop_fwd_sm90_tma_gmma_ws.hpp pipeline_k, pipeline_v); the first FA3 release had the same
  // 2 stages (@7f67966c).
  t.load_buffers = 4;
  return t;
}
constexpr std::string_view kFa3Variants[] = {"flash2", "sliding-window", "flash-decoding", "gated", "ring"};
const ImplProfile kFa3{
    .key = "fa3",
    .name = "FlashAttention-3 (flash-attn hopper/)",
    .summary = "Hopper only: wgmma, TMA, warp specialization, ping-pong of 2 consumer warpgroups, intra-warpgroup pipelining",
    .sources = "FlashAttention-3 §3.1-3.2 (arXiv 2407.08608); flash-attention @0251105 hopper/tile_size.h:10-52, "
               "mainloop_fwd_sm90_tma_gmma_ws.hpp:89,124,352-356, flash_fwd_kernel_sm90.h:74-83, flash_bwd_launch_template.h:314-380",
    .min_cc = 90,
    .max_cc = 90,
    .variants = kFa3Variants,
    .traits = fa3_traits};

// ---- flashmla: DeepSeek's MLA decode (Hopper) -----------------------------------------------------
// csrc/sm90/decode/dense/config.h @9241ae3: BLOCK_SIZE_M = 64 query rows (all heads of a KV head,
// packed), PAGE_BLOCK_SIZE = 64 (lines 5-6); 256 threads = 2 warpgroups (traits.h:22), one CTA per SM
// (__launch_bounds__(256, 1, 1), splitkv_mla.cuh:960); wgmma.
// Two K page buffers (traits.h:71-83 SharedMemoryPlan smem_sK0, smem_sK1; V is a view of K's
// latent columns, 56-59), each filled by TMA in HEAD_DIM_K / 64 = 9 tiles with a barrier apiece
// (80-81). Each half is refilled on its own: the warpgroup that has just finished its PV over a
// page's left V half (tiles 0-3) or right half (tiles 4-8) issues the next page's TMA for those
// tiles (splitkv_mla.cuh:795, 822, 926, 932 @9241ae3), so 2 buffers x 2 halves cycle independently.
KernelTraits flashmla_traits(KernelRole, u64, bool, Dtype, double, int) {
  KernelTraits t{.block_m = 64, .block_n = 64, .mma_warps = 8, .ctas_per_sm = 1, .mma = MmaPath::wgmma,
                 .overlap = OverlapRule::warps, .sm_parts_splits = true};
  t.load_buffers = 4;
  return t;
}
constexpr std::string_view kMlaVariants[] = {"mla"};
const ImplProfile kFlashMla{
    .key = "flashmla",
    .name = "FlashMLA",
    .summary = "MLA decode on Hopper: 64 heads per CTA over a 64-token page, 2 warpgroups, wgmma, split-KV",
    .sources = "deepseek-ai/FlashMLA @9241ae3 csrc/sm90/decode/dense/config.h:5-9, traits.h:22-82, splitkv_mla.cuh:960,1339-1345, "
               "csrc/api/dense_decode.h:78-104",
    .min_cc = 90,
    .max_cc = 90,
    .variants = kMlaVariants,
    .traits = flashmla_traits};

// ---- vllm-paged: vLLM PagedAttention v1/v2 -----------------------------------------------------
// csrc/attention/paged_attention_v{1,2}.cu: 128 threads (4 warps), one query head per CTA, CUDA-core
// dot products (no tensor cores), __expf; v2 partitions of 512 tokens plus a reduce kernel.
KernelTraits vllm_traits(KernelRole, u64, bool, Dtype, double, int) {
  KernelTraits t{.block_m = 0, .block_n = 0, .mma_warps = 4, .mma = MmaPath::native, .overlap = OverlapRule::warps};
  t.cuda_core_math = true;
  return t;
}
constexpr std::string_view kPagedVariants[] = {"paged"};
const ImplProfile kVllmPaged{
    .key = "vllm-paged",
    .name = "vLLM PagedAttention v1/v2",
    .summary = "decode over a paged KV cache: one query head per CTA, 128 threads, CUDA cores; v2 adds 512-token partitions",
    .sources = "Kwon et al. 2023 (SOSP) §4; vllm csrc/attention/paged_attention_v1.cu:45,78-86, paged_attention_v2.cu:51,89-100, "
               "attention_kernels.cuh:162-177, vllm/attention/ops/paged_attn.py (v1/v2 choice)",
    .min_cc = 70,
    .variants = kPagedVariants,
    .traits = vllm_traits};

// ---- flashinfer-decode: FlashInfer 0.0.1's CUDA-core decode kernels ----------------------------
// flashinfer-ai/flashinfer @b30dad36e (2024-02-03, the code of the FlashInfer blog's 0.0.1
// benchmarks) include/flashinfer/decode.cuh: one block per (request or chunk, K/V head), bdy = the
// group's query heads, bdx = d / vec_size threads per head, CUDA-core dot products, K and V staged by
// cp.async in 2 stages each, 4 block.sync per iteration; split along the keys when the batch leaves
// the grid short (handler.cuh, BatchDecodeWithPagedKVCacheWorkEstimation), merged by cascade.cuh.
// The launch plan depends on the group, so variants/flashinfer_decode.cpp computes it.
// Per iteration: 4 block.sync (around compute_qk and update_local_state), and the K and V copies of
// the stage just consumed issued right after it, 2 stages of each: 4 buffers refilled on their own
// (decode.cuh main loop: cp_async::wait_group<2 * num_stages_smem - 1>).
KernelTraits flashinfer_traits(KernelRole, u64, bool, Dtype, double, int) {
  KernelTraits t{.block_m = 0, .block_n = 0, .mma_warps = 4, .mma = MmaPath::native, .overlap = OverlapRule::warps};
  t.cuda_core_math = true;
  t.flashinfer_decode = true;
  t.load_buffers = 4;
  t.waits = {.barriers = 4};
  return t;
}
constexpr std::string_view kFlashInferVariants[] = {"paged", "flash-decoding"};
const ImplProfile kFlashInferDecode{
    .key = "flashinfer-decode",
    .name = "FlashInfer 0.0.1 decode (CUDA cores)",
    .summary = "decode on the CUDA cores: one block per (request or key chunk, K/V head) holding the group's heads, 2-stage "
               "cp.async K/V, split along the keys by the library's occupancy heuristic, merged by cascade.cuh",
    .sources = "flashinfer-ai/flashinfer @b30dad36e include/flashinfer/decode.cuh (BatchDecodeWithPagedKVCacheKernel, "
               "SingleDecodeWithKVCacheKernel, BatchDecodeWithPaddedKVCacheKernel, *WorkEstimation), cascade.cuh "
               "(MergeStates, VariableLengthMergeStates), handler.cuh, wrapper.cuh; scripts/flashinfer/ptx (registers, "
               "instructions per token)",
    .min_cc = 80,
    .variants = kFlashInferVariants,
    .traits = flashinfer_traits};

// ---- flashinfer-decode-tc: FlashInfer 0.0.1's GQA decode on its prefill kernels ------------------
// The blog's "FlashInfer Tensor Cores" series: include/flashinfer/prefill.cuh @b30dad36e
// SinglePrefillWithKVCacheKernel (one request, split by num_chunks and merged) and
// BatchPrefillWithPagedKVCacheKernel (a paged batch) with one query row per request: the group's
// heads are the rows of a 64-row tile (num_frags_x 1, 4 warps x 16 rows), 64 keys per iteration
// (num_frags_z 4), mma.sync m16n8k16, one K and one V tile, 4 block.sync per iteration
// (variants/flashinfer_decode.cpp flashinfer_tc_plan).
KernelTraits flashinfer_tc_traits(KernelRole, u64, bool, Dtype, double, int) {
  KernelTraits t{.block_m = 64, .block_n = 64, .mma_warps = 4, .mma = MmaPath::mma_sync, .overlap = OverlapRule::warps};
  t.flashinfer_decode = true;
  t.load_buffers = 2;
  t.waits = {.barriers = 4};
  return t;
}
const ImplProfile kFlashInferDecodeTc{
    .key = "flashinfer-decode-tc",
    .name = "FlashInfer 0.0.1 decode on its prefill kernels (tensor cores)",
    .summary = "GQA decode on the tensor cores: the group's heads as rows of a 64-row mma.sync tile, 64 keys per iteration; one "
               "request split into chunks and merged, a paged batch one block per (request, K/V head)",
    .sources = "flashinfer-ai/flashinfer @b30dad36e include/flashinfer/prefill.cuh (SinglePrefillWithKVCacheDispatched, "
               "BatchPrefillWithPagedKVCacheDispatched, page_produce_kv), utils.cuh split_qo_indptr, cascade.cuh MergeStates; "
               "src/bench_single_decode.cu, bench_batch_decode.cu (*_with_prefill); scripts/flashinfer/ptx --prefill",
    .min_cc = 80,
    .variants = kFlashInferVariants,
    .traits = flashinfer_tc_traits};

// ---- mamba-scan: selective_scan_cuda -------------------------------------------------------------
KernelTraits mamba_traits(KernelRole, u64, bool, Dtype, double, int) {
  return {.block_m = 0, .block_n = 0, .mma_warps = 4, .mma = MmaPath::native, .overlap = OverlapRule::warps};
}
constexpr std::string_view kMambaVariants[] = {"mamba", "mamba-naive"};
const ImplProfile kMambaScan{
    .key = "mamba-scan",
    .name = "Mamba selective_scan_cuda",
    .summary = "fused selective scan: one CTA per (batch, channel), 2048-element chunks, cub BlockScan",
    .sources = "state-spaces/mamba @e9594ce csrc/selective_scan/selective_scan_fwd_kernel.cuh:32-33,62,136-137,168,314-364",
    .min_cc = 70,
    .variants = kMambaVariants,
    .traits = mamba_traits};

// ---- mamba-ssd: mamba_ssm's Triton SSD kernels ----------------------------------------------------
// Mamba-2's chunked scan as mamba_ssm runs it (ops/triton/ssd_combined.py): five Triton kernels per
// layer (chunk cumsum, chunk state, state passing, C Bᵀ, chunk scan), tl.dot on the chip's native
// MMA path; the decode step is selective_state_update.py. mamba2.cpp counts their work and bytes.
constexpr std::string_view kSsdVariants[] = {"mamba2"};
const ImplProfile kMambaSsd{
    .key = "mamba-ssd",
    .name = "Mamba-2 SSD (mamba_ssm Triton)",
    .summary = "chunked SSD: five Triton kernels per layer, intra-chunk matmuls on tensor cores; state update in decode",
    .sources = "state-spaces/mamba mamba_ssm/ops/triton/ssd_combined.py (_mamba_chunk_scan_combined_fwd), ssd_chunk_state.py, "
               "ssd_state_passing.py, ssd_bmm.py, ssd_chunk_scan.py, selective_state_update.py",
    .min_cc = 80,
    .variants = kSsdVariants,
    .traits = mamba_traits};

// ---- pytorch: unfused attention as PyTorch 2.0 eager runs it ---------------------------------------
// The flash-attention benchmark's attention_pytorch (benchmarks/benchmark_flash_attention.py
// @0251105): einops copies of q, k, v; baddbmm with the scale; for causal a materialized
// triu(-10000) mask added to the scores; torch.softmax; dropout(p = 0) launches nothing
// (ATen Dropout.cpp: `if (p == 0 || !train ...) return input`); einsum (bmm) with V. PyTorch 2.0's
// SoftMax.cu: rows of at most 1024 elements run softmax_warp_forward (one read, one write); longer
// rows cunn_SoftMaxForward, which reads each element three times (max, sum, output) and writes
// once; the backward multiplies grad by output first, then reads that product, the output and the
// product again (5 reads, 2 writes; 4 and 2 up to 1024). cuBLAS runs the GEMMs on the chip's native
// MMA path.
KernelTraits pytorch_traits(KernelRole, u64, bool, Dtype, double, int) {
  return {.block_m = 0, .block_n = 0, .mma_warps = 4, .mma = MmaPath::native, .overlap = OverlapRule::warps,
          .eager_pytorch = true};
}
// clustered: fast-transformers runs PyTorch eager around its CUDA extensions (hashing, K-means,
// aggregate and broadcast), its two GEMMs through cuBLAS.
// monarch: M2's BlockdiagButterflyMultiply, torch.bmm and PyTorch copies.
constexpr std::string_view kStandardVariants[] = {"standard", "linear", "performer", "fnet", "longconv", "chunked", "mamba-naive",
                                                  "clustered", "monarch", "gau"};
const ImplProfile kPytorch{
    .key = "pytorch",
    .name = "PyTorch 2.0 eager (cuBLAS + ATen kernels)",
    .summary = "unfused: cuBLAS GEMMs, ATen softmax (3 reads per element past 1024 columns), mask added, q/k/v copies; "
               "decode copies the grouped K/V to every head and again for matmul's batch fold",
    .sources = "flash-attention @0251105 benchmarks/benchmark_flash_attention.py (attention_pytorch); PyTorch 2.0 "
               "aten/src/ATen/native/cuda/SoftMax.cu (softmax_warp_forward up to 1024, cunn_SoftMaxForward, "
               "cunn_SoftMaxBackward, softmax_backward_cuda_out), aten/src/ATen/native/Dropout.cpp; decode: "
               "facebookresearch/xformers @d3656d5d xformers/benchmarks/benchmark_attn_decoding.py "
               "(AttentionDecodingPyTorchRepeat), aten/src/ATen/native/LinearAlgebra.cpp (matmul's batch fold by reshape)",
    .variants = kStandardVariants,
    .traits = pytorch_traits};

// ---- triton: the Triton fused-attention tutorial (2023) ---------------------------------------------
// triton-lang/triton python/tutorials/06-fused-attention.py, versions of 2023-01 to 2023-07-14
// (v2.0.0 L203-225): BLOCK_M = BLOCK_N = 128, num_warps = 4 if Lk <= 64 else 8, num_stages = 2, Q
// kept on chip ("it will stay in SRAM throughout", L46-47); mma.sync. Backward: 128 x 128, 8 warps,
// num_stages = 1, either one program per (batch, head) walking every key block with dQ loaded,
// added to and stored per pair (the tutorial, L137-264), or triton.ops.flash_attention's
// sequence_parallel grid (B·H, ⌈N/128⌉), each program storing its dQ into its own zeroed replica,
// summed by dq.sum(dim=0) (python/triton/ops/flash_attention.py @022ef48a). FlashAttention-2's
// benchmark runs both and keeps the faster backward (flash-attention v2.0.4
// benchmarks/benchmark_flash_attention.py:112-130), and so does the closed form (variants/flash.cpp
// flash2_bwd_as_run). Which Triton commit the paper ran was not found.
// On Hopper the same forward runs on wgmma: Triton lowers tl.dot to MMA v3 on cc 9.x when
// BLOCK_M % 64 == 0 and num_warps % 4 == 0 (lib/Dialect/TritonGPU/Transforms/AccelerateMatmul.cpp,
// getMMAVersionSafe). Its configuration and occupancy are read from a Triton Hopper forward whose
// compiled kernel and Nsight Compute profile are published: flash-attention-lab's
// flash_lab/triton_attention.py (@0dca073; the tutorial's loop, autotuned over 8 configs) under
// Triton 3.4, whose autotuner picked BLOCK_M x BLOCK_N = 128 x 64, 8 warps, 3 stages at head dim 128
// and 64 x 128, 4 warps, 3 stages at head dim 64 (profiling/reports/h100-80gb-hbm3/
// triton-ptx-s4096-d128.md, triton-ptx-s2048-d64-causal.md @3501587e: wgmma.mma_async, cp.async, no
// TMA, no mbarrier). At head dim 128 Nsight Compute reports 244 registers per thread and 229,376 B
// of dynamic shared memory per block, one block per SM by either (triton-s4096-full.md @09380c57:
// launch__registers_per_thread, launch__shared_mem_per_block_dynamic, launch__occupancy_limit_*),
// where the closed form's tiles would fit two. At head dim 64 no report: the Q tile and num_stages
// K and V tiles. Without warp specialization the loads are cp.async waited on with a CTA-wide
// bar.sync every iteration (the same report's top stalls: wait 1.33 and barrier 1.32 cycles per
// issued instruction), so the two warpgroups of a CTA move in step: one job per CTA.
// The FlashAttention-3 paper's Triton baseline (Triton nightly, 2024-07, through a local
// triton_fused_attention.py that is not in the flash-attention repository) went through the same
// code generation; its autotuned configuration was not published, so its rows are held against
// these traits, a stand-in (docs/model.md, "Triton on Hopper").
KernelTraits triton_traits(KernelRole role, u64 d, bool, Dtype dtype, double, int cc) {
  if (cc >= 90 && role == KernelRole::fwd && d <= 128) {
    KernelTraits h{.block_m = d <= 64 ? 64u : 128u, .block_n = d <= 64 ? 128u : 64u, .mma_warps = d <= 64 ? 4u : 8u,
                   .mma = MmaPath::wgmma, .overlap = OverlapRule::warps};
    h.heaviest_last = true;  // start_m = tl.program_id(0)
    // num_stages = 3: the pipeliner keeps 3 shared-memory stages of K and V, a stage's two tiles
    // issued and waited on together.
    h.load_buffers = 3;
    if (d > 64) {  // the compiled kernel's launch figures (Nsight Compute, above)
      h.smem_bytes = 229376, h.registers = 244, h.threads = 256;
    } else {  // no report: the Q tile and 3 stages of K and V
      h.smem_bytes = dtype_bytes(dtype) * (h.block_m * d + 3 * h.block_n * 2 * d);
    }
    return h;
  }
  KernelTraits t{.block_m = 128, .block_n = 128, .mma_warps = d <= 64 ? 4u : 8u, .mma = MmaPath::mma_sync,
                 .overlap = OverlapRule::warps, .q_from_smem = false};
  if (role == KernelRole::bwd) {
    t.mma_warps = 8, t.bwd_cta_per_head = true;
    // Launched with num_stages = 1 (the 2023 tutorial's `_bwd_kernel[(ctx.grid[1],)](...,
    // num_warps=8, num_stages=1)`): Triton then pipelines no load, so every load of the pair loop is
    // waited on where it is issued (flash2_bwd). Its barriers (shared-memory layout conversions
    // for tl.trans and the dot operands) are set by the compiler and not counted.
    t.waited = KernelTraits::kWaitAll;
    // Every dot of the backward feeds another (P into dV and dP's dS, dS into dK and dQ), and for
    // chained dots Triton's AccelerateMatmul (warpsPerTileV2, 2023: "if the forward slice holds
    // another DotOp, return {numWarps, 1}") puts all warps along M: each warp reads the whole B
    // operand out of shared memory. In FlashAttention-2's layout terms all three atoms are W.
    t.atom_msdp = t.atom_ndkv = t.atom_mdq = t.mma_warps;
    // Instructions per score (_bwd_kernel_one_col_block, triton.ops flash_attention.py 2023): the
    // scale multiply of QK^T, the LSE subtraction ahead of exp2, dP - D, the product with P and the
    // multiply by sm_scale on the FMA pipe (5); half a pack of P for dV and half a pack of dS on
    // the ALU (1). The older tutorial (v2.0.0: exp(qk * sm_scale - m), ds = p * dp * sm_scale with
    // dp initialized to -D) issues the same.
    t.fp32_per_score = 5;
    t.alu_per_score = 1;
  }
  t.heaviest_last = true;  // start_m = tl.program_id(0), grid (cdiv(N, BLOCK_M), B·H)
  // A causal mask by tl.where on every block the causal loop visits, not only the diagonal one:
  // forward `if IS_CAUSAL: qk = tl.where(offs_m[:, None] >= (start_n + offs_n[None, :]), qk,
  // float("-inf"))` in the loop up to (start_m + 1)·BLOCK_M, backward the same where in the pair
  // loop (triton.ops flash_attention.py @022ef48a _fwd_kernel, _bwd_kernel_one_col_block; the
  // tutorial v2.0.0 L73 likewise). What the Hopper rows ran, the 2024 tutorial, masks only the
  // diagonal block (its STAGE 2 pass; STAGE 1 walks the blocks below it unmasked).
  if (cc < 90) t.mask_blocks = KernelTraits::kMaskAll;
  // The forward's num_stages = 2: Triton's software pipeliner gives each pipelined load (K and V)
  // num_stages shared-memory buffers and issues an iteration's loads together, waited on together
  // (one async wait per iteration), so a stage's K and V cycle as one: 2 customers.
  if (role != KernelRole::bwd) t.load_buffers = 2;
  if (d > 128) t.block_m = t.block_n = 0;  // the tutorial asserts Lk in {16, 32, 64, 128}
  if (role == KernelRole::splitkv) t.block_m = 64;
  return t;
}
constexpr std::string_view kTritonVariants[] = {"flash2"};
const ImplProfile kTriton{
    .key = "triton",
    .name = "Triton fused attention (tutorial kernel)",
    .summary = "sm80 (2023): 128 x 128 tiles, 4 warps (d <= 64) or 8, mma.sync; backward per (batch, head) or "
               "sequence-parallel, the faster, loads not pipelined (num_stages = 1). sm90 forward (Triton 3.x): wgmma, "
               "128 x 64 and 8 warps at d = 128 (one CTA per SM), 64 x 128 and 4 warps at d = 64, 3 stages",
    .sources = "triton-lang/triton python/tutorials/06-fused-attention.py v2.0.0 (bd5c2117) L46-47, L137-264; "
               "python/triton/ops/flash_attention.py @022ef48a (sequence_parallel backward); as benchmarked in "
               "FlashAttention-2 §4.1 (flash-attention v2.0.4 benchmarks/benchmark_flash_attention.py:112-130); "
               "sm90: lib/Dialect/TritonGPU/Transforms/AccelerateMatmul.cpp (getMMAVersionSafe); tfan2437/flash-attention-lab "
               "flash_lab/triton_attention.py @0dca073, profiling/reports/h100-80gb-hbm3/triton-ptx-s4096-d128.md, "
               "triton-ptx-s2048-d64-causal.md @3501587e, triton-s4096-full.md @09380c57 (Triton 3.4: configs, registers, shared memory)",
    .min_cc = 80,
    .variants = kTritonVariants,
    .traits = triton_traits};

// ---- flexattention: PyTorch FlexAttention's Triton templates -----------------------------------------
// flex_attention compiles its own templates (torch/_inductor/kernel/flex/templates/
// flex_attention.py.jinja @0afa79a7: grid (⌈N/BLOCK_M⌉, B, H), the query block in program_id(0),
// FlashAttention-2's loop over the block mask's partial then full K/V blocks), with the CUDA
// heuristic's default configuration (template_heuristics/triton.py @00131b6b, CUDAConfigHeuristic
// get_flex_attn_fwd_configs; (BLOCK_M, BLOCK_N, num_stages, num_warps), exact head dims only,
// (128, 64, 3, 4) otherwise at 16 bits, (64, 64, 3, 4) in fp32; (64, 32, 3, 4) / (32, 16, 3, 4)
// past head dim 256):
//            16-bit d=64        d=128           d=256         fp32 d=64     d=128         d=256
//   sm120    128x64, 2, 4      128x64, 2, 8    32x64, 2, 4   128x32, 2, 4  128x32, 2, 4  64x16, 2, 4
//   sm100    128x128, 3, 4     128x64, 3, 8    64x32, 3, 4   128x32, 3, 4  32x64, 3, 4   32x32, 3, 4
//   sm90     128x128, 3, 4     128x64, 3, 8    64x32, 3, 4   128x32, 3, 4  32x64, 3, 4   32x32, 3, 4
//   sm8x     128x64, 3, 4      128x64, 3, 8    32x64, 3, 4   128x32, 3, 4  128x32, 3, 4  64x16, 3, 4
// (classes in the heuristic's order: >= 12.0, >= 10.0, == 9.0, >= 8.0). The MMAs run over the head
// dim padded to a power of two (QK_HEAD_DIM_ROUNDED); the shared memory follows the head dims
// themselves (pytorch/pytorch#180278, below).
// Triton lowers tl.dot to wgmma on sm90 when BLOCK_M % 64 == 0 and num_warps % 4 == 0
// (AccelerateMatmul.cpp, getMMAVersionSafe), mma.sync otherwise; num_stages buffers of K and V are
// filled ahead (the prefetch loop), a stage's K and V issued and waited on together; shared memory
// holds the Q tile and the stages. In decode: FlexDecoding (flex_decoding_traits above).
// Backward (flex_backwards.py.jinja @0e0956bd; KernelTraits::flex_bwd): the heuristic's
// get_flex_attn_bwd_configs, (BLOCK_M1, BLOCK_N1, BLOCK_M2, BLOCK_N2, num_stages, num_warps):
//   sm90 16-bit: d < 64 (64, 64, 64, 64, 3, 4); d <= 128 (64, 128, 128, 64, 3, 8); else (64, 64, 64, 64, 2, 4)
//   sm8x 16-bit: d < 64 (32, 128, 128, 32, 3, 4); else (64, 64, 64, 64, 2, 4) (3 stages at d = 128 on sm86)
//   fp32 or d > 256: (16, 16, 16, 16, 1, 4)
// The dK/dV program holds K_j and V_j and pipelines Q_i, dO_i, LSE_i, D_i; the dQ program holds Q_i
// and dO_i and pipelines K_j and V_j: num_stages buffers each. Instructions per score, read from
// bwd_dkdv_block_mn and bwd_dq_block_mn: the SM_SCALE and RCP_LN2 multiplies (2; the second
// contracts with the LSE subtraction into one FFMA, so 1 + 1), dP - D and the product with P (2) on
// the FMA pipe, and a half pack of P^T (dK/dV only) and of dS on the ALU: 4 + 1 in the dK/dV pass,
// 4 + 0.5 in the dQ pass.
// The heuristic's capability classes (CUDAConfigHeuristic @00131b6b): >= 12.0, >= 10.0, == 9.0,
// >= 8.0, in that order for the forward; the backward's sm10x / sm90 / sm8x; 3 decode stages only on
// 9.0, 10.0 and 10.3.
enum class FlexChip { sm8x, sm90, sm100, sm120, older };
FlexChip flex_chip(int cc) {
  return cc >= 120 ? FlexChip::sm120 : cc >= 100 ? FlexChip::sm100 : cc == 90 ? FlexChip::sm90 : cc >= 80 ? FlexChip::sm8x : FlexChip::older;
}

// FlexAttention in decode (role splitkv): PyTorch's FlexDecoding template
// (torch/_inductor/kernel/flex/flex_decoding.py and templates/flex_decode.py.jinja @0b53f857;
// KernelTraits::flex_decoding). Its configuration is the CUDA heuristic's default
// (template_heuristics/triton.py @00131b6b, get_flex_decode_configs): BLOCK_N = 64 and 2 warps;
// num_stages = 3 on compute capability 9.0, 10.0 and 10.3 except fp32 past head dim 128, 1
// otherwise. BLOCK_M (16 at least) is set per workload by the group (variants/flex.cpp).
//   MMA path  Triton lowers tl.dot to wgmma only when num_warps % 4 == 0 (AccelerateMatmul.cpp,
//             getMMAVersionSafe): with 2 warps, mma.sync on either chip.
//   layout    the QK^T dot feeds the PV dot, and for chained dots Triton's warpsPerTileV2 puts the
//             warps along the larger dimension of the 16 x 64 score tile: along the keys. So each
//             warp reads its half of the K and V tiles out of shared memory (each tile read once),
//             holds Q in registers (loaded once, tl.load then the dot's A operand), and per
//             iteration the row max and the row sum are reduced across the two warps through
//             shared memory, and P is converted to the PV dot's A layout (every warp needs all its
//             keys) through shared memory too: 3 barriers and 3 dependent shared-memory reads per
//             key block. Read from Triton's layout rules, not from a compiled kernel.
//   loads     num_stages = 1: nothing is prefetched. forward_block_mn (flex/templates/
//             common.py.jinja) loads K, computes the scores, the mask, the row max, P, the row sum
//             and the rescale, and only then loads V; the cross-warp reductions in between are
//             barriers no load is moved across. So each key block waits out two dependent DRAM
//             round trips, their transfer in the cycle. num_stages = 3: the pipeliner keeps 3
//             stages of K and V in flight.
//   Not counted: the block-index loads that give each next K/V address (an L1 hit but for the
//   first of each 128-key sparse block), and the mask evaluation of partial blocks.
KernelTraits flex_decoding_traits(u64 d, Dtype dtype, int cc) {
  KernelTraits f{.block_m = 16, .block_n = 64, .mma_warps = 2, .mma = MmaPath::mma_sync, .overlap = OverlapRule::warps,
                 .tile_readers = 1, .q_from_smem = false};
  f.flex_decoding = true;
  f.kernel_head_dim = triton_padded_dim(d);
  f.waits = {.barriers = 3, .smem_reads = 3};
  const bool staged = (cc == 90 || cc == 100 || cc == 103) && !(d > 128 && dtype == Dtype::fp32);
  if (staged) {
    f.load_buffers = 3;
  } else {
    f.waits.dram_reads = 2;
    f.waited = KernelTraits::kWaitAll;
  }
  // The K and V tiles of each stage and the P tile.
  f.smem_bytes = dtype_bytes(dtype) * (f.block_n * 2 * d * max_u(1, f.load_buffers) + f.block_m * f.block_n);
  return f;
}

struct FlexConfig {
  u64 m, n, stages, warps;
};
FlexConfig flex_fwd_config(u64 d, Dtype dtype, int cc) {
  const bool fp32 = dtype == Dtype::fp32;
  if (d > 256) return fp32 ? FlexConfig{32, 16, 3, 4} : FlexConfig{64, 32, 3, 4};
  const FlexChip chip = flex_chip(cc);
  // (fp32, 16-bit) per head dim 64 / 128 / 256; the tables are keyed by the exact head dim.
  struct Row {
    FlexConfig f32, f16;
  };
  const auto pick = [&](Row r64, Row r128, Row r256) -> std::optional<FlexConfig> {
    const Row* r = d == 64 ? &r64 : d == 128 ? &r128 : d == 256 ? &r256 : nullptr;
    if (r == nullptr) return std::nullopt;
    return fp32 ? r->f32 : r->f16;
  };
  std::optional<FlexConfig> c;
  if (chip == FlexChip::sm120) {
    c = pick({{128, 32, 2, 4}, {128, 64, 2, 4}}, {{128, 32, 2, 4}, {128, 64, 2, 8}}, {{64, 16, 2, 4}, {32, 64, 2, 4}});
  } else if (chip == FlexChip::sm100) {
    c = pick({{128, 32, 3, 4}, {128, 128, 3, 4}}, {{32, 64, 3, 4}, {128, 64, 3, 8}}, {{32, 32, 3, 4}, {64, 32, 3, 4}});
  } else if (chip == FlexChip::sm90) {
    c = pick({{128, 32, 3, 4}, {128, 128, 3, 4}}, {{32, 64, 3, 4}, {128, 64, 3, 8}}, {{32, 32, 3, 4}, {64, 32, 3, 4}});
  } else if (chip == FlexChip::sm8x) {
    c = pick({{128, 32, 3, 4}, {128, 64, 3, 4}}, {{128, 32, 3, 4}, {128, 64, 3, 8}}, {{64, 16, 3, 4}, {32, 64, 3, 4}});
  }
  if (c) return *c;
  return fp32 ? FlexConfig{64, 64, 3, 4} : FlexConfig{128, 64, 3, 4};
}
KernelTraits flexattention_traits(KernelRole role, u64 d, bool, Dtype dtype, double, int cc) {
  if (role == KernelRole::splitkv) return flex_decoding_traits(d, dtype, cc);
  const u64 dr = triton_padded_dim(d), e = dtype_bytes(dtype);
  const FlexChip chip = flex_chip(cc);
  if (role == KernelRole::bwd) {
    KernelTraits::FlexBwdBlocks b{64, 64, 64, 64};
    u64 stages = 2, warps = 4;
    if (dtype == Dtype::fp32 || d > 256 || chip == FlexChip::older) {
      b = {16, 16, 16, 16}, stages = 1;
    } else if (chip == FlexChip::sm100 || chip == FlexChip::sm120) {
      if (d <= 128) b = {64, 128, 128, 64}, stages = 3;
    } else if (chip == FlexChip::sm90) {
      if (d < 64) b = {64, 64, 64, 64}, stages = 3;
      else if (d <= 128) b = {64, 128, 128, 64}, stages = 3, warps = 8;
    } else if (d < 64) {
      b = {32, 128, 128, 32}, stages = 3;
    } else if (cc == 86 && d == 128) {
      stages = 3;
    }
    // wgmma (sm90 only: sm100 issues tcgen05, not modelled, and sm120 has neither, so mma.sync
    // stands in) where both programs' dots have M a multiple of 64 (N1 rows of K^T Q, M2 of Q K^T).
    const bool wgmma = cc == 90 && b.n1 % 64 == 0 && b.m2 % 64 == 0 && warps % 4 == 0;
    KernelTraits t{.block_m = b.m2, .block_n = b.n1, .mma_warps = warps, .mma = wgmma ? MmaPath::wgmma : MmaPath::mma_sync,
                   .overlap = OverlapRule::warps};
    t.flex_bwd = b;
    t.load_buffers = stages;
    t.kernel_head_dim = dr;
    // K_j and V_j (or Q_i and dO_i) held, and the stages of the other pair's tiles.
    const u64 held = std::max(b.n1, b.m2), streamed = std::max(b.m1, b.n2);
    t.smem_bytes = e * (held + stages * streamed) * 2 * d;
    return t;
  }
  const FlexConfig c = flex_fwd_config(d, dtype, cc);
  const bool wgmma = cc == 90 && c.m % 64 == 0 && c.warps % 4 == 0;  // as the backward's
  KernelTraits t{.block_m = c.m, .block_n = c.n, .mma_warps = c.warps, .mma = wgmma ? MmaPath::wgmma : MmaPath::mma_sync,
                 .overlap = OverlapRule::warps,
                 // wgmma reads Q out of shared memory every key block; mma.sync's A operand is
                 // converted to registers once, before the loop.
                 .q_from_smem = wgmma};
  t.heaviest_last = true;  // q_start = tl.program_id(0)
  t.load_buffers = c.stages;
  t.kernel_head_dim = dr;
  // Shared memory at the head dim itself, not the padded one: (64, 64, 3, 4) at head dims 192/128
  // runs on an A100 and not on an sm86/sm89 block, as Q + 3 stages of K and V at 192/128 (144 KiB)
  // says and the padded 256 (176 KiB) would not (pytorch/pytorch#180278).
  t.smem_bytes = e * (c.m * d + c.stages * c.n * 2 * d);
  return t;
}
constexpr std::string_view kFlexAttentionVariants[] = {"flex"};
const ImplProfile kFlexAttention{
    .key = "flexattn",
    .name = "PyTorch FlexAttention (Triton templates)",
    .summary = "torch.compile'd flex_attention: the CUDA heuristic's default tiles per chip and head dim (sm90 d = 128: "
               "128 x 64, 8 warps, 3 stages, wgmma; sm8x: mma.sync), partial then full blocks of the block mask; decode: "
               "FlexDecoding (split-KV, GQA heads packed, 64-key blocks, 2 warps, mma.sync); backward: dK/dV and dQ "
               "programs in one launch, seven GEMMs per block pair, no atomics",
    .sources = "pytorch/pytorch torch/_inductor/kernel/flex/templates/flex_attention.py.jinja @0afa79a7, "
               "flex_backwards.py.jinja @0e0956bd, "
               "template_heuristics/triton.py @00131b6b (get_flex_attn_fwd_configs, get_flex_attn_bwd_configs, get_flex_decode_configs), "
               "kernel/flex/flex_decoding.py @00804f38, templates/flex_decode.py.jinja @0b53f857; Dong et al. 2024 §4",
    .min_cc = 80,
    .variants = kFlexAttentionVariants,
    .traits = flexattention_traits};

// ---- xformers: CUTLASS memory-efficient attention ---------------------------------------------------
// facebookresearch/xformers v0.0.20 (1dc3d7a3) xformers/csrc/attention/cuda/fmha/kernel_forward.h:
// sm80 fp16 picks 64 queries x 64 keys, 128 threads at head dim <= 64 and 64 x 128, 256 threads at
// <= 128 (kSingleValueIteration, output in registers); warp tile 32 x 32, mma.sync m16n8k8. Each
// key block's QK^T matmul loads Q again from global memory (its prologue loads Q and K); P is
// written to shared memory as fp16 and read back as the PV matmul's A operand (mma_from_smem.h).
// So a K (or V) element is read by 64/32 = 2 warps, a Q element by Bc/32, a P element by d/32.
KernelTraits xformers_traits(KernelRole role, u64 d, bool, Dtype, double, int) {
  KernelTraits t{.block_m = 64, .block_n = 64, .mma_warps = 4, .mma = MmaPath::mma_sync, .overlap = OverlapRule::warps};
  if (d > 64) t.block_n = 128, t.mma_warps = 8;
  if (d > 128) t.block_m = t.block_n = 0;  // above 128 it accumulates O in global memory: not modelled
  t.tile_readers = 2;
  t.q_readers = std::max<u64>(1, t.block_n / 32);
  t.q_from_global_per_block = true;
  t.p_readers = std::max<u64>(1, d / 32);
  // __launch_bounds__(kNumThreads, kMinBlocksPerSm) with kMinBlocksPerSm = 16 warps per SM /
  // kNumWarpsPerBlock (getWarpsPerSmFw: 16 for 16-bit inputs on sm80+, kernel_forward.h:57-63,
  // 145-146, 1290 @ec5e4d3): ptxas caps the registers at 65536 / (16 x 32) = 128 per thread, and
  // CUTLASS's kernels use their cap (an assumption: the report of a build was not read), so 16
  // warps fit: 4 CTAs of 4 warps or 2 of 8.
  if (role == KernelRole::fwd) t.registers = 128, t.threads = 32 * t.mma_warps;
  // Per key block at d <= 128 (kSingleValueIteration, O kept in registers; kernel_forward.h @v0.0.20):
  // 14 __syncthreads at d = 64, 18 at d = 128: lines 701, 755, 864, 970, 1042, three in
  // iterative_softmax (1168, 1194, 1233), and in each of the two matmuls one at entry and one per
  // 32-wide k stage (custom_mma_multistage.h:540-541, 691-692; mma_from_smem.h:1057-1058,
  // 1201-1202: 2 stages at d = 64, 4 at 128); four shared-memory reads that wait on other warps' writes (the row max after the
  // atomicMax, out_rescale, the row sums in addition_storage, and P as the PV matmul's operand after
  // accumToSmem); and one L2 round trip: the QK^T matmul's prologue loads Q_i and K_j and waits for
  // its first stage (custom_mma_multistage.h), nothing being issued a block ahead.
  if (role == KernelRole::fwd) {
    t.waits = {.barriers = d <= 64 ? 14u : 18u, .smem_reads = 4, .l2_reads = 1};
    t.waited = KernelTraits::kWaitQ | KernelTraits::kWaitK;
    // Instructions per score (kernel_forward.h @v0.0.20): the multiply by p.scale, compiled in
    // because every instance supports a bias (770-771), the multiply by scale x log2e (1142), the
    // subtraction ahead of exp2f (1212) and the row-sum add (1219) on the FMA pipe (4); the masked
    // max (1155-1158), the mask's select around exp2f (1213) and half a pack of P to 16 bits
    // (accumToSmem, 861) on the ALU (2.5): 6.5 in all, where FlashAttention-2's fused code issues 3.5.
    t.fp32_per_score = 4;
    t.alu_per_score = 2.5;
  }
  if (role == KernelRole::bwd && d <= 128) {
    // The backward (kernel_backward.h, autogen/cutlassB.h:317-335 @v0.0.20): on sm80 at 16 bits
    // the first kernel whose kMaxK covers d: 64 x 64 (kBlockSizeI x kBlockSizeJ) at d <= 64,
    // 128 x 128 at d <= 128 (the seqaligned instance when N is a multiple of 128; same tiles). Warps
    // = I·J / 32² (4 or 16, warp tile 32 x 32, kernel_backward.h:264-265); __launch_bounds__
    // (threads, 12 warps per SM / warps) (getWarpsPerSmBw: 12 at 16 bits on sm80, :196-200,
    // 279-280): 3 CTAs per SM of 4 warps, 1 of 16. Every GEMM meets the others at __syncthreads.
    t = KernelTraits{.block_m = d <= 64 ? 64u : 128u, .block_n = d <= 64 ? 64u : 128u, .mma = MmaPath::mma_sync,
                     .overlap = OverlapRule::warps};
    t.mma_warps = t.block_m * t.block_n / 1024;
    t.ctas_per_sm = std::max<u64>(1, 12 / t.mma_warps);
    t.cutlass_bwd = true;
    // Per pair (kernel_backward.h processBlockIJ @v0.0.20, with the keys split): 30 __syncthreads at
    // d = 64, 40 at d = 128 (five GEMMs of 1 + k-stage barriers each, 2-3 k stages, and lines 1639,
    // 1738, 1808, 1828, 1864, 1958, 1977, 2053, 2056, 180, 2080, 2089); shared-memory reads of D,
    // P^T and dS after the barriers that publish them; L2 round trips with nothing to cover them:
    // the lock's atomicCAS (173-178), the dQ partial's load after it (2046), the arrival counter's
    // atomicAdd whose value __syncthreads_or consumes (2077-2080), the __threadfence before the
    // release (2088), K_j for dQ (prologueGradQ, 1866, no GEMM between), the next Q_i (issued
    // after the last GEMM, 2195-2202) and LSE_i, loaded by the QK^T epilogue right before its exp
    // (accumApplyLSEToSmem, 1647; gemm/mma_from_smem.h:1588-1622, EpilogueWithLSE's
    // IteratorAccumulatorLSE). Every load is waited on in the pair (xformers_bwd).
    t.waits = {.barriers = d <= 64 ? 30u : 40u, .smem_reads = 3, .l2_reads = 7};
    t.waited = KernelTraits::kWaitAll;
    // Instructions per score: P = exp(scale·S - LSE) as a multiply by the scale (1576), the
    // subtraction and the multiply by log2e ahead of MUFU (epilogue_thread_apply_logsumexp.h:
    // 157-160) and half a pack to 16 bits; dS = (dP - D) o P with P read back from shared memory
    // one 16-bit element at a time and converted (1917-1918), the subtraction and the product, the
    // multiply by the scale (1951) and half a pack (1972): 8, of which the 6 multiplies and
    // subtractions are the FMA pipe's and the two half packs and the 16-to-32-bit conversion
    // (HADD2.F32, the FP16 pipe on sm_80) issue beside it (2).
    t.fp32_per_score = 6;
    t.alu_per_score = 2;
  }
  return t;
}
constexpr std::string_view kXformersVariants[] = {"flash2"};
const ImplProfile kXformers{
    .key = "xformers",
    .name = "xFormers memory-efficient attention (CUTLASS)",
    .summary = "64 x 64/128 tiles, 4/8 warps, mma.sync; Q re-read from global per key block, P through shared memory; "
               "backward one CTA per key block, operands reloaded per GEMM, D per CTA, dQ under a lock",
    .sources = "xformers v0.0.20 (1dc3d7a3) csrc/attention/cuda/fmha/kernel_forward.h (kernel choice, main loop), "
               "gemm/custom_mma_multistage.h, gemm/mma_from_smem.h:1391-1454, kernel_backward.h:196-280, 1287-2215, "
               "attention_backward_generic.cu:311-348, autogen/cutlassB.h:317-335; Rabe & Staats 2021",
    .min_cc = 75,
    .variants = kXformersVariants,
    .traits = xformers_traits};

// ---- pytorch-mem-efficient: PyTorch SDPA's memory-efficient backend -------------------------------------
// PyTorch vendors xFormers' CUTLASS kernels (aten/src/ATen/native/transformers/cuda/mem_eff_attention/,
// upstreamed from xFormers 6425fd0c by pytorch/pytorch PR #100583). Read against v0.0.20: the same
// kernel list per dtype (kernels/cutlassF_bf16_aligned.cu: 64x64 and 64x128 in registers, 32x128
// through global memory), the same dispatch (the first kernel whose kMaxK covers the head dim; the
// Sm80 template on compute capability 8.0-9.x, so an H100 runs mma.sync, kernels/cutlassF.h), and
// the same forward loop (kernel_forward.h @01b4eaef and @4f4bcdbe: Q and K loaded in the QK^T
// prologue every key block, V preloaded under the softmax, P through shared memory, 14 / 18
// __syncthreads per key block at d = 64 / 128). So the forward takes the xformers traits. The
// backward was upstreamed with it (kernel_backward.h) but was not compared line by line: it takes
// them too, a stand-in `attnio impls` names.
constexpr std::string_view kPytorchMemEffVariants[] = {"flash2"};
const ImplProfile kPytorchMemEff{
    .key = "pytorch-mem-efficient",
    .name = "PyTorch SDPA memory-efficient (xFormers' CUTLASS kernels, vendored)",
    .summary = "torch.nn.functional.scaled_dot_product_attention's EFFICIENT_ATTENTION backend: xFormers v0.0.20's "
               "forward kernels (64 x 64/128 tiles, mma.sync also on Hopper); backward: xFormers' traits stand in",
    .sources = "pytorch/pytorch aten/src/ATen/native/transformers/cuda/mem_eff_attention/kernel_forward.h @01b4eaef, "
               "@4f4bcdbe, kernels/cutlassF.h @5ef5abf4, kernels/cutlassF_bf16_aligned.cu @734153fc; PR #100583 "
               "(upstream of xFormers 6425fd0c); compared with xformers v0.0.20 (1dc3d7a3) kernel_forward.h",
    .min_cc = 75,
    .variants = kPytorchMemEffVariants,
    .traits = xformers_traits};

// ---- cudnn: cuDNN fused flash attention ---------------------------------------------------------------
// cuDNN's kernels are closed source: their tiles are not published. On sm90 they run the same
// Hopper instructions as FA3 (wgmma, TMA); the profile takes FA3's traits there and FA2's on sm80,
// and says so (an assumption, not a reading).
KernelTraits cudnn_traits(KernelRole role, u64 d, bool causal, Dtype dtype, double smem, int cc) {
  return cc >= 90 ? fa3_traits(role, d, causal, dtype, smem, cc) : fa2_traits(role, d, causal, dtype, smem, cc);
}
constexpr std::string_view kCudnnVariants[] = {"flash2"};
const ImplProfile kCudnn{
    .key = "cudnn",
    .name = "cuDNN fused attention (assumed traits)",
    .summary = "closed source: FA3's traits assumed on sm90, FA2's on sm80",
    .sources = "assumption, not a reading: cuDNN's attention kernels and their tiles are unpublished; FA3's traits "
               "(hopper/tile_size.h) stand in on sm90 and FA2's on sm80",
    .min_cc = 80,
    .variants = kCudnnVariants,
    .traits = cudnn_traits};

// ---- thunderkittens: ThunderKittens' H100 attention (HazyResearch/ThunderKittens) ---------------
// kernels/attn/h100/h100.cu @6d64b0cb (the kernels of the README's assets/attn.png; the same bodies
// as kernels/attention/mha_h100/mha_h100.cu at 0b55588). Forward: 3 consumer warpgroups of 64 query
// rows (192 per CTA) and 1 producer warpgroup, K/V blocks of 128 keys at head dims 64 and 128
// (lines 7-10, 16-26); QKᵀ with both operands in shared memory (mm_ABt, 152) and PV with P in
// registers (mma_AB, 196, 201), so P never goes through shared memory; no ping-pong: each
// warpgroup waits after each of its GEMMs (158, 202), and the three overlap only as independent
// warpgroups; one CTA per SM (__launch_bounds__(512, 1), 53); grid (N/192, H, B) in ascending
// order, so under a causal mask the heaviest CTA starts last (740, 75). Backward: one CTA per 128
// K/V rows (2 consumer warpgroups of 64) walking the queries 64 rows at a time (301-318), both
// warpgroups meeting at a named barrier every step (447), dQ added in fp32 (TMA reduce-add, 578),
// one CTA per SM (1004-1021).
KernelTraits tk_traits(KernelRole role, u64 d, bool, Dtype, double, int) {
  KernelTraits t{.ctas_per_sm = 1, .mma = MmaPath::wgmma, .overlap = OverlapRule::warps};
  if (d != 64 && d != 128) return t;  // the kernels are instantiated for these two head dims
  if (role == KernelRole::bwd) {
    t.block_m = 64, t.block_n = 128, t.mma_warps = 8;
    // Per 64-row query step (compute_bwd_loop 401-448 and the dQ part 609-621): both warpgroups
    // meet at a named barrier (group<8>::sync, 447); warpgroup 0, the longer path (6 of the step's
    // 10 GEMM units), then computes dQ from both warpgroups' dS in shared memory (610-611), waits
    // for the previous step's dQ reduce-add to complete in global memory (qg_ready, 614; the
    // producer's cp.async.bulk.wait_group 0, 575-581) and syncs its own warps after storing dQ
    // (group<4>::sync, 619). Q, dO, L and D are loaded a step ahead (556-571). Per score, 5
    // instructions: the scale x log2e multiply (425; the LSE is preloaded into the accumulator,
    // 414), dP - D and the product with P (433-434) and the multiply by the scale (436) on the FMA
    // pipe (4); half a pack of P (432) and of dS (442) (1).
    t.waits = {.barriers = 2, .smem_reads = 1, .l2_reads = 1};
    t.fp32_per_score = 4;
    t.alu_per_score = 1;
    // q_smem, og_smem, l_smem, d_smem in 2 stages (500-505), each stage refilled as one after
    // warpgroup 0 arrives on its compute_done (529, 570, 621): 2 buffers.
    t.load_buffers = 2;
    return t;
  }
  if (role == KernelRole::splitkv) return t;  // no decode kernel
  t.block_m = 192, t.block_n = 128, t.mma_warps = 12;
  // Per score (178-197): the row max, scale x log2e and the max subtraction (one FFMA once
  // contracted; built with --use_fast_math, so exp2 is one MUFU op), the row sum, an add of 0.f
  // that IEEE signed zeros keep (195), and half a pack to bf16: 4.5 instructions, the max and the
  // pack (1.5) beside the FMA pipe's 3.
  t.fp32_per_score = 3;
  t.alu_per_score = 1.5;
  t.jobs_per_cta = 3;  // the consumer warpgroups
  // K and V in `stages` TMA stages, 4 at head dim 64 and 2 at 128 (17-26, 68-69): the producer
  // loads a stage's K and V together once the consumers release it (one compute_done semaphore
  // per stage, 116-123), so a stage is one customer of the prefetch loop.
  t.load_buffers = d == 64 ? 4 : 2;
  t.heaviest_last = true;
  return t;
}
constexpr std::string_view kTkVariants[] = {"flash2"};
const ImplProfile kThunderKittens{
    .key = "thunderkittens",
    .name = "ThunderKittens H100 attention",
    .summary = "Hopper only: wgmma, 3 consumer warpgroups of 64 rows and a producer, 128-key blocks, no ping-pong",
    .sources = "HazyResearch/ThunderKittens @6d64b0cb kernels/attn/h100/h100.cu:7-26,53,75,152-202,301-318,447,578,740,1004-1021",
    .min_cc = 90,
    .max_cc = 90,
    .variants = kTkVariants,
    .traits = tk_traits};

constexpr const ImplProfile* kImpls[] = {&kIdeal, &kAttnio, &kFa1, &kFa2, &kFa2V20, &kFa2SplitKv, &kFa2SplitKv23, &kFa3, &kFlashMla, &kVllmPaged, &kFlashInferDecode, &kFlashInferDecodeTc,
                                         &kMambaScan, &kMambaSsd, &kPytorch, &kTriton, &kFlexAttention, &kXformers, &kPytorchMemEff, &kCudnn,
                                         &kThunderKittens};

int cc_of(const Device& d) { return static_cast<int>(d.compute_capability); }

}  // namespace

std::string_view to_string(MmaPath p) {
  switch (p) {
    case MmaPath::native: return "native";
    case MmaPath::mma_sync: return "mma.sync";
    case MmaPath::wgmma: return "wgmma";
  }
  return "?";
}

std::string_view to_string(OverlapRule r) {
  switch (r) {
    case OverlapRule::roofline: return "roofline";
    case OverlapRule::warps: return "warps";
    case OverlapRule::pingpong: return "pingpong";
  }
  return "?";
}

std::optional<KernelResources> kernel_resources(std::string_view kernel, std::string_view dtype, std::uint64_t tparam, int arch) {
  const auto& t = resource_table();
  const auto it = t.find({std::string(kernel), std::string(dtype), tparam, arch});
  if (it == t.end()) return std::nullopt;
  return it->second;
}

std::uint64_t live_accumulator_registers(const KernelTraits& t, std::uint64_t head_dim) {
  if (t.block_m == 0 || t.block_n == 0 || t.mma != MmaPath::mma_sync || t.mma_warps == 0) return 0;
  const u64 threads = 32 * t.mma_warps;
  const u64 fp32 = t.block_m * (t.block_n + head_dim);              // S and O
  const u64 q = t.q_from_smem ? 0 : t.block_m * head_dim / 2;       // Q fragments, two 16-bit values each
  return std::min<u64>(255, (fp32 + q + threads - 1) / threads);    // 255: the per-thread maximum
}

std::uint64_t ctas_by_registers(std::uint64_t registers, std::uint64_t threads, double register_file_bytes) {
  if (registers == 0 || threads == 0) return 0;
  const u64 per_warp = (registers * 32 + 255) / 256 * 256;  // allocated per warp in units of 256
  const u64 warps = (threads + 31) / 32;
  const u64 file = static_cast<u64>(register_file_bytes / 4);  // 32-bit registers
  return std::max<u64>(1, file / (per_warp * warps));
}

std::optional<KernelTraits> impl_traits(const Workload& w, KernelRole role, std::uint64_t head_dim) {
  if (w.impl == nullptr || w.impl->ideal) return std::nullopt;
  return w.impl->traits(role, head_dim, w.causal, w.dtype, static_cast<double>(w.sram_bytes), w.compute_capability);
}

bool ImplProfile::implements(std::string_view variant) const {
  return std::any_of(variants.begin(), variants.end(), [variant](std::string_view v) { return same_key(v, variant); });
}

std::span<const ImplProfile* const> all_impls() { return kImpls; }

const ImplProfile* find_impl_or_null(std::string_view key) {
  for (const ImplProfile* p : kImpls) {
    if (p->key == key) return p;
  }
  return nullptr;
}

const ImplProfile& find_impl(std::string_view key) {
  if (const ImplProfile* p = find_impl_or_null(key)) return *p;
  std::string known;
  for (const ImplProfile* p : kImpls) known += (known.empty() ? "" : ", ") + std::string(p->key);
  throw InputError("unknown --impl '" + std::string(key) + "' (known: " + known + ")");
}

const ImplProfile& ideal_impl() { return kIdeal; }

// What a user of that chip runs (docs/model.md, "Implementations"): the FlashAttention-2 library for
// the flash family (FA3 is `--impl fa3`), Flash-Decoding for split-KV decode, FlashMLA for MLA on
// Hopper, vLLM for paged decode, Mamba's fused scan, PyTorch eager for unfused attention; attnio's
// own kernels for the designs no library ships. A device file without a compute capability, or a
// chip older than a profile supports, gets `ideal`, and explain says so.
const ImplProfile& default_impl(std::string_view variant, const Device& device, bool decode) {
  const int cc = cc_of(device);
  if (cc == 0) return kIdeal;
  const ImplProfile* pick = &kAttnio;
  if (variant == "flash1") pick = &kFa1;
  else if (variant == "flash-decoding" || variant == "selective" || variant == "shared-prefix") pick = &kFa2SplitKv;
  // MLA prefill up-projects K/V and runs flash attention (DeepSeek-V2 §2.1); decode is absorbed.
  else if (variant == "mla") pick = !decode ? &kFa2 : cc == 90 ? &kFlashMla : &kAttnio;
  else if (variant == "paged") pick = &kVllmPaged;
  else if (variant == "mamba") pick = &kMambaScan;
  else if (variant == "mamba2") pick = &kMambaSsd;
  else if (variant == "flex") pick = &kFlexAttention;
  else if (variant == "standard" || variant == "longconv" || variant == "clustered" || variant == "monarch" ||
           variant == "gau")
    pick = &kPytorch;  // longconv: torch.fft (cuFFT), as fftconv_ref
  else if (std::find(std::begin(kFlashFamily), std::end(kFlashFamily), variant) != std::end(kFlashFamily)) pick = &kFa2;
  if (!pick->runs_on(cc) || !pick->implements(variant)) pick = kAttnio.implements(variant) ? &kAttnio : &kIdeal;
  return *pick;
}

std::string impl_mismatch(const ImplProfile& impl, std::string_view variant, const Device& device) {
  if (!impl.implements(variant)) {
    std::string list;
    for (std::string_view v : impl.variants) list += (list.empty() ? "" : ", ") + std::string(v);
    return "--impl " + std::string(impl.key) + " does not implement " + std::string(variant) + " (it implements: " + list + ")";
  }
  if (impl.ideal) return "";
  const int cc = cc_of(device);
  if (cc == 0) {
    return "--impl " + std::string(impl.key) + ": device '" + device.key +
           "' gives no compute_capability, so no implementation profile applies (use --impl ideal)";
  }
  if (!impl.runs_on(cc)) {
    auto ver = [](int c) { return std::to_string(c / 10) + "." + std::to_string(c % 10); };
    // Appended piece by piece (GCC 12 warns a false -Wrestrict on `"-" + std::string` inlined here).
    std::string range = ver(impl.min_cc);
    if (impl.max_cc == 0) range += "+";
    else if (impl.max_cc != impl.min_cc) range.append("-").append(ver(impl.max_cc));
    std::string out = "--impl ";
    out.append(impl.key).append(" runs on compute capability ").append(range).append("; device '").append(device.key).append("' is ").append(ver(cc));
    return out;
  }
  return "";
}

}  // namespace attnio
