// FlashAttention's family: fused tiled attention that never writes the N x Nk scores to HBM.
//   flash1          FA1 loop order, outer loop over K/V blocks (FlashAttention, Dao et al. 2022, Alg. 1;
//                   backward App. B.4 Alg. 4)
//   flash2          FA2 loop order, Q blocks the outer (parallel) loop (FlashAttention-2, Dao 2023, §3.1,
//                   Alg. 1; backward §3.1.2 Alg. 2)
//   block-sparse    flash2 over a fraction s of the blocks (FlashAttention §3.3, Prop. 4)
//   sliding-window  flash2 over a window of W keys; rolling-buffer cache (Mistral 7B, Jiang et al. 2023, §2)
//   sigmoid         flash2 with sigmoid for softmax: no row statistics (FlashSigmoid, Ramapuram et al. 2024)
//   dilated         flash2 within segments of every r-th token (LongNet, Ding et al. 2023, §2.2)
// One closed form and one tile schedule serve all six; each variant picks its mask, density, score
// function and shape. The simulator's --l2 off DRAM bytes equal the closed form's L2 bytes.
#include "flash.hpp"
#include "split_kv.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

namespace attnio::detail {

// ---- parameters ---------------------------------------------------------------------------------

const ParamSpec kBlockDensity{
    .key = "block_density", .type = ParamType::real, .default_value = 0.25, .default_text = "0.25", .min = 0,
    .max = 1, .min_exclusive = true, .unit = "fraction", .help = "block-sparse: fraction of blocks visited (default 0.25)",
    .source = "FlashAttention §3.3 (Prop. 4: IO scales with the non-zero fraction s)"};
const ParamSpec kWindow{
    .key = "window", .default_value = 4096, .default_text = "4096", .unit = "tokens",
    .help = "sliding-window: window W (default 4096)", .source = "Mistral 7B §2 (W = 4096)"};
const ParamSpec kSegment{
    .key = "segment", .default_value = 2048, .default_text = "2048", .unit = "tokens",
    .help = "dilated: segment length w (default 2048)", .source = "LongNet §2.2"};
const ParamSpec kDilation{
    .key = "dilation", .default_value = 2, .default_text = "2", .unit = "tokens",
    .help = "dilated: dilation r (default 2)", .source = "LongNet §2.2"};

namespace {

// ---- closed form --------------------------------------------------------------------------------

// ---- FlashAttention, FA2 loop order ---------------------------------------------------------


Plan flash_plan(const Evaluator& ev, const Shape& s, const Mask& mask, const FlashOptions& opt,
                std::optional<BlockSizes> given = std::nullopt) {
  const BlockSizes bs = given ? *given : blocks_for(ev, std::max(s.d, s.dv));
  Plan p = make_plan(s.n, s.nk, bs.br, bs.bc, mask);
  if (opt.density < 1.0) {
    // FlashAttention Prop. 4: a block-sparse layout visits a fraction s of the blocks. Counts are
    // the expectation over a layout of that density (the sparse blocks spread evenly).
    p.pairs = scaled(p.pairs, opt.density);
    p.rows_sum = scaled(p.rows_sum, opt.density);
    p.cols_sum = scaled(p.cols_sum, opt.density);
    p.allowed = scaled(p.allowed, opt.density);
    p.area = scaled(p.area, opt.density);
    p.partial_area = scaled(p.partial_area, opt.density);
    // A key block is touched by one of the Tr Q blocks with probability 1 - (1 - s)^Tr.
    p.touched = scaled(p.touched, 1.0 - std::pow(1.0 - opt.density, static_cast<double>(p.tr)));
  }
  return p;
}

Count flash_smem(const Plan& p, const Shape& s, u64 e) {
  return Count(e) * (min_u(p.br, s.n) * s.d + min_u(p.bc, s.nk) * (s.d + s.dv));
}

// K/V bytes touched between two fetches of one K/V set by the query heads of a GQA group: in the
// FA2 grid (m_block fastest, then batch, then head) the heads of a group are B heads apart, so the
// sets of the other batch entries pass through L2 in between.
double kv_between(const Plan& p, const Shape& s, u64 e) {
  const double sets = static_cast<double>(std::min(s.batch * s.kv_heads, s.batch + 1));
  return sets * p.touched.d() * static_cast<double>((s.d + s.dv) * e);
}

// Instructions for `scores`: on the FMA pipe (FADD, FMUL, FFMA) and beside it (FMNMX, selects and
// the F2FP packs, which sm_80 and sm_89 run on the ALU pipe: NVIDIA's register scheduling classes
// for Ampere and Ada, Mesa src/nouveau/compiler/nak/sm80_instr_latencies.rs @00fe8e45 op_category:
// FFma, FAdd, FMul => CoupledFMA; FMnMx, FSet, FSetP, Sel, F2FP => CoupledAlu; the Nsight Compute
// Profiling Guide, "Pipelines": the FMA pipe "processes most FP32 arithmetic (FADD, FMUL, FMAD)", the
// ALU on Ampere "performs fast FP32-to-FP16 conversion"). The implementation's own counts per score
// where its traits give them (KernelTraits::fp32_per_score, alu_per_score), else the closed form's.
// The ALU part goes to KernelCost::other_instr: it takes issue slots, not the FMA pipe's lanes.
struct ScoreInstr {
  Count fma, alu;
};
ScoreInstr per_score_instr(const KernelTraits* t, Count scores, double fma, double alu) {
  if (t != nullptr && t->fp32_per_score > 0) return {scaled(scores, t->fp32_per_score), scaled(scores, t->alu_per_score)};
  return {scaled(scores, fma), scaled(scores, alu)};
}

// The mask's ALU instructions over `bh` heads of plan `p` (KernelTraits::mask_blocks): ISETP and
// FSEL per score of the blocks the kernel masks, 2 under a causal mask, 3 under the others (ISETP is
// CoupledAlu in the same Mesa table). Without traits, the blocks the mask cuts. `row_scale`: the
// rows a kernel computes per row of the plan (a Q block of Br rows where N < Br).
Count mask_instr(const KernelTraits* t, Count bh, const Plan& p, double row_scale = 1.0) {
  if (p.mask == MaskKind::none) return Count(0);
  const std::uint8_t which = t != nullptr ? t->mask_blocks : KernelTraits::kMaskCut;
  const bool every = which == KernelTraits::kMaskAll || (which == KernelTraits::kMaskAllWindow && p.mask != MaskKind::causal);
  const Count scores = scaled(bh * (every ? p.area : p.partial_area), row_scale);
  return scores * (p.mask == MaskKind::causal ? 2u : 3u);
}

// A mask's instructions are ALU instructions (add_alu, common.hpp) that explain names apart.
void add_mask(KernelCost& k, Count n) {
  add_alu(k, n);
  k.mask_instr += n;
}

// The CTAs that share each K/V tile read by TMA multicast (KernelTraits::kv_cluster): the library
// launches its cluster only without a mask and when the Q tiles are a multiple of it (FlashAttention-3
// flash_fwd_launch_template.h:212-218 @0251105: !Is_causal && !Is_local, tiles along seqlen_q even).
u64 kv_multicast(const std::optional<KernelTraits>& t, const Mask& mask, u64 q_tiles) {
  if (!t || t->kv_cluster <= 1 || mask.kind != MaskKind::none) return 1;
  return q_tiles % t->kv_cluster == 0 ? t->kv_cluster : 1;
}

// FlashAttention-2 §3.1 forward: each CTA owns one Q block of one head, reads Q once, loops over the
// K/V blocks it needs, writes O and the log-sum-exp once. K and V cross L2 once per Q block.
void flash2_fwd(Evaluator& ev, const Shape& s, const Plan& p, const FlashOptions& opt, const Mask& mask) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  KernelCost& k = ev.add(opt.sigmoid ? "flash_sigmoid_fwd" : "flash2_fwd", bh * p.tr,
                         ev.ctas_per_sm(flash_smem(p, s, e)));
  k.tensor_flops = bh * p.allowed * 2 * (s.d + s.dv);  // QK^T and PV: 2·N·Nk·(d+dv) per head
  k.sfu_ops = bh * p.allowed;
  ev.attention_kernel(k, KernelRole::fwd, std::max(s.d, s.dv));
  // The warps evaluate every score of a visited block, masked or not (area, not allowed), and every
  // row of the Q block: a block of Br rows computes Br rows even where N < Br (decode: N = 1).
  const double row_scale = static_cast<double>(p.tr * p.br) / static_cast<double>(s.n);
  const Count scores = scaled(bh * p.area, row_scale);
  // The MMAs run over the kernel's head dim where the library pads d up to its next instantiation
  // (impl.hpp kernel_head_dim; d = dv only). The padded columns are zero-filled in shared memory,
  // not loaded: L2 and DRAM bytes stay at d, and the shared-memory count here does not pad them.
  const u64 dmax = std::max(s.d, s.dv);
  const auto traits = ev.traits(KernelRole::fwd, dmax);
  const u64 kd = traits && traits->kernel_head_dim > s.d && s.d == s.dv ? traits->kernel_head_dim : s.d;
  k.tensor_issue = scores * 2 * (kd + (s.d == s.dv ? kd : s.dv));
  k.sfu_issue = scores;
  k.block_iters = bh * p.pairs;
  if (traits && traits->heaviest_last && mask.kind != MaskKind::none) {
    const BlockRange last = visited_blocks(mask, (p.tr - 1) * p.br, s.n, s.nk, p.bc);
    if (!last.empty()) k.last_cta_iters = last.last - last.first + 1;
  }
  if (opt.sigmoid) {
    // sigma(x) = (1 + tanh(x/2)) / 2 with MUFU.TANH: scale+bias FFMA (2) and the affine FFMA (2).
    k.fp32_flops = bh * p.allowed * 4;
    k.fp32_instr = scores * 2;  // two FFMA
    add_alu(k, Count(scores.v / 2));  // half a pack to 16 bits (ALU)
  } else {
    // Online softmax (FlashAttention-2 §3.1.1): FFMA for scale and max (2) and the row-sum add (1)
    // per score, a rescale of O per visited block row, and the final 1/l scaling.
    k.fp32_flops = bh * (p.allowed * 3 + p.rows_sum * s.dv + Count(s.n) * s.dv);
    // Issued instructions (flash-attention softmax.h:137-165, @0251105): per score an FFMA of scale
    // and max (scale_apply_exp2) and an add (reduce_sum) on the FMA pipe, a max (reduce_max, FMNMX)
    // and half a pack to 16 bits (convert_type, F2FP) beside it; per visited block row a multiply
    // of O's dv columns.
    const ScoreInstr per = per_score_instr(traits ? &*traits : nullptr, scores, 2, 1.5);
    k.fp32_instr = per.fma + bh * (p.rows_sum * s.dv + Count(s.n) * s.dv);
    add_alu(k, per.alu);
  }
  add_mask(k, mask_instr(traits ? &*traits : nullptr, bh, p, row_scale));
  // cp.async (FA2) or TMA (FA3) keeps one K/V tile in flight per CTA.
  k.inflight_bytes = Count(min_u(p.bc, s.nk)) * (s.d + s.dv) * e;
  const Count q = bh * s.n * s.d * e;
  Evaluator::read_stream(k, q, q, 1);
  const Count every_block = bh * p.rows_sum * s.d * e;
  const Count q_again = every_block > q ? every_block - q : Count(0);
  if (traits && traits->q_from_global_per_block) {
    // xFormers: Q_i is loaded from global memory again for every visited K/V block; the same
    // CTA read it one block before, so L2 serves it.
    k.l2_read += q_again;
    k.sram_write += q_again;
  }
  if (traits && traits->q_from_smem && every_block * traits->q_readers > q) {
    // Q_i is read again from shared memory for every visited K/V block, by q_readers warps.
    k.sram_read += every_block * traits->q_readers - q;
  }
  if (traits && traits->p_readers != 0) {
    // P goes through shared memory between the matmuls: written once, read by p_readers warps.
    k.sram_write += scores * e;
    k.sram_read += scores * e * traits->p_readers;
  }
  const Count kv_total = bh * p.cols_sum * (s.d + s.dv) * e;
  const Count kv_unique = kv_heads_bytes(s, p.touched, e);
  // With TMA multicast one L2 read of a tile fills the shared memory of every CTA of the cluster:
  // the L2 requests are kv_total / cluster; each CTA still stages and reads the whole tile. DRAM
  // fetches are at most the requests.
  const u64 cluster = kv_multicast(traits, mask, p.tr);
  const Count kv_l2 = Count(kv_total.v / cluster);
  const Count kv_hbm = std::min(kv_l2, ev.shared(k, kv_unique, kv_total, p.tr, s.batch * p.tr, s.group(), kv_between(p, s, e)));
  const u64 readers = ev.tile_readers(KernelRole::fwd, dmax);
  Evaluator::read_stream(k, kv_l2, kv_hbm, readers);
  k.sram_write += kv_total - kv_l2;
  k.sram_read += (kv_total - kv_l2) * readers;
  if (traits && traits->waited != 0) {
    // Tiles loaded and waited on in the same key block (impl.hpp KernelTraits::waited): xFormers'
    // Q_i and K_j, FlashAttention-2's V_j (issued at the top of the block, waited after QK^T).
    const double k_share = static_cast<double>(s.d) / static_cast<double>(s.d + s.dv);
    if (traits->waited & (KernelTraits::kWaitQ | KernelTraits::kWaitAll)) {
      k.sync_l2_read += traits->q_from_global_per_block ? std::max(every_block, q) : q;
      k.sync_hbm_read += q;
    }
    if (traits->waited & (KernelTraits::kWaitK | KernelTraits::kWaitAll)) {
      k.sync_l2_read += scaled(kv_l2, k_share);
      k.sync_hbm_read += scaled(kv_hbm, k_share);
    }
    if (traits->waited & (KernelTraits::kWaitV | KernelTraits::kWaitAll)) {
      k.sync_l2_read += kv_l2 - scaled(kv_l2, k_share);
      k.sync_hbm_read += kv_hbm - scaled(kv_hbm, k_share);
    }
  }
  const Count o = bh * s.n * s.dv * e;
  Evaluator::write_direct(k, o);
  if (opt.gate) {
    // The fused gate (kernels/flash2.cu epilogue): G read once, σ(g) = (1 + tanh(g/2)) / 2 with one
    // MUFU.TANH per element (tanh.approx.f32); FP32: g/2 (1), the affine FFMA (2), the product (1),
    // three instructions. O ⊙ σ(G) is written in O's place.
    const Count gates = bh * s.n * s.dv;
    Evaluator::read_direct(k, gates * e);
    k.sfu_ops += gates;
    k.sfu_issue += gates;
    k.fp32_flops += gates * 4;
    k.fp32_instr += gates * 3;
  }
  k.sram_write += o;  // the epilogue stages O through shared memory
  k.sram_read += o;
  if (traits && traits->serial_epilogue) {
    // FlashAttention-3's epilogue per output tile (hopper/epilogue_fwd.hpp @0251105): O of Br x d_v
    // normalized (one FMUL per element, softmax.h:157-165, rescale_o) and converted (half a
    // packed cvt per element, 242) to the output dtype, 16-bit also for FP8 inputs
    // (flash_fwd_launch_template.h:205), written to shared memory by stmatrix (249-260), between
    // a bar.sync of every consumer thread (249) and the last warp's bar.sync before the TMA store
    // (319): two barriers.
    const u64 out_bytes = std::max<u64>(e, 2);
    k.epilogue_smem_bytes = Count(p.br) * s.dv * out_bytes;
    k.epilogue_fp32_instr = Count(p.br * s.dv * 3 / 2);
    k.epilogue_barriers = 2;
  }
  if (!opt.sigmoid) {
    Evaluator::write_direct(k, bh * s.n * kStatBytes);  // log-sum-exp, kept for the backward pass
    ev.out().extra_memory_bytes += bh * s.n * kStatBytes;
  }
}

// With GQA the backward writes dK and dV per query head; a last kernel sums each group's g heads.
void gqa_reduce(Evaluator& ev, const Shape& s, const Plan& p) {
  if (s.group() == 1) return;
  const Count per_head = Count(s.batch) * s.heads * p.touched * (s.d + s.dv);
  KernelCost& red = rowwise(ev, "gqa_reduce_dkdv", per_head);
  Evaluator::read_direct(red, per_head * ev.e());
  Evaluator::write_direct(red, kv_heads_bytes(s, s.nk, ev.e()));
  red.fp32_flops = per_head;
}

// How a backward kernel spreads its work and carries dQ:
//   kv_blocks  FlashAttention-2 §3.2: one CTA per K/V block, dQ accumulated in fp32 with atomic
//              adds, then converted;
//   per_head   Triton's fused-attention backward without sequence parallelism: one program per
//              (batch, head) walking every K/V block, dQ (zeroed, in the input dtype) loaded, added
//              to and stored per visited pair;
//   replicas   triton.ops.flash_attention with sequence_parallel=True: grid (B·H, ⌈Nk/128⌉), each
//              program stores its dQ contribution into its own zeroed replica of dQ in the input
//              dtype, and dq.sum(dim=0) adds the replicas (python/triton/ops/flash_attention.py
//              @022ef48a, _bwd_kernel_one_col_block and _attention.backward).
enum class BwdGrid { kv_blocks, per_head, replicas };

// FlashAttention-2 §3.1.2 / Alg. 2 backward: a preprocessing kernel computes D = rowsum(dO o O);
// the main kernel parallelizes over K/V blocks, reads K_j, V_j once and loops over Q blocks,
// accumulating dQ in fp32 with atomic adds; a last kernel converts dQ. For GQA, dK and dV are
// written per query head and summed over each group.
void flash2_bwd(Evaluator& ev, const Shape& s, const Plan& p, const FlashOptions& opt, BwdGrid grid) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count rows = bh * s.n;
  const bool triton = grid != BwdGrid::kv_blocks;
  const u64 replicas = grid == BwdGrid::replicas ? p.tc : 1;
  const u64 dq_bytes = triton ? e : kStatBytes;  // Triton keeps dQ in the input dtype
  if (triton) {  // torch.zeros for dQ (and its replicas)
    KernelCost& zero = rowwise(ev, "flash2_bwd_zero_dq", rows * s.d * replicas);
    Evaluator::write_direct(zero, rows * s.d * replicas * e);
  }
  KernelCost& pre = ev.add(opt.sigmoid ? "flash_sigmoid_bwd_zero_dq" : "flash2_bwd_preprocess", bh * p.tr, kSmallCtasPerSm);
  if (!triton) Evaluator::write_direct(pre, rows * s.d * kStatBytes);  // dQ accumulator zeroed
  if (!opt.sigmoid) {  // sigmoid's derivative sigma(1 - sigma) needs no row statistics
    Evaluator::read_direct(pre, rows * s.dv * e * 2);  // dO, O
    Evaluator::write_direct(pre, rows * kStatBytes);   // D = rowsum(dO o O)
    pre.fp32_flops = rows * s.dv * 2;
  }

  const auto bwd_traits = ev.traits(KernelRole::bwd, std::max(s.d, s.dv));
  // Shared memory per CTA: K_j and V_j, and Q_i, dO_i; a library kernel also double-buffers Q_i and
  // dO_i and keeps P and dS tiles (flash-attention kernel_traits.h Flash_bwd_kernel_traits:
  // kSmemQdOSize, kSmemKVSize, kSmemdSSize, kSmemPSize @0251105), which limits it to one CTA per SM.
  const u64 bc = min_u(p.bc, s.nk), br = min_u(p.br, s.n);
  const Count smem = bwd_traits ? Count(e) * (bc * (s.d + s.dv) + 2 * br * (s.d + s.dv) + 2 * br * bc)
                                : Count(e) * (bc * (s.d + s.dv) + br * (s.d + s.dv));
  KernelCost& k = ev.add(opt.sigmoid ? "flash_sigmoid_bwd" : "flash2_bwd", grid == BwdGrid::per_head ? bh : bh * p.tc,
                         ev.ctas_per_sm(smem));
  // Recompute S (2d), dP = dO V^T (2dv), dV += P^T dO (2dv), dQ += dS K (2d), dK += dS^T Q (2d):
  // 2.5x the forward FLOPs when d = dv (FlashAttention-2 §4.1).
  k.tensor_flops = bh * p.allowed * 2 * (3 * s.d + 2 * s.dv);
  k.sfu_ops = bh * p.allowed;
  k.fp32_flops = bh * p.allowed * 4;  // P recompute FFMA (2), dS = P o (dP - D): sub + mul (2)
  ev.attention_kernel(k, KernelRole::bwd, std::max(s.d, s.dv));
  // Per evaluated score: FFMA (P recompute), FSUB and FMUL (dS) on the FMA pipe, half a pack of P
  // and of dS to 16 bits beside it (or the implementation's own counts, KernelTraits::fp32_per_score).
  const ScoreInstr per = per_score_instr(bwd_traits ? &*bwd_traits : nullptr, bh * p.area, 3, 1);
  k.fp32_instr = per.fma;
  add_alu(k, per.alu);
  add_mask(k, mask_instr(bwd_traits ? &*bwd_traits : nullptr, bh, p));
  k.block_iters = bh * p.pairs;
  k.inflight_bytes = Count(min_u(p.br, s.n)) * (s.d + s.dv) * e;  // the next Q_i, dO_i tiles
  const Count kv = bh * p.touched * (s.d + s.dv) * e;
  Evaluator::read_stream(k, kv, ev.shared(k, kv_heads_bytes(s, p.touched, e), kv, 1, s.batch * p.tc, s.group(),
                                          kv_between(p, s, e)), kFlashWarps);
  // Per visited pair: Q_i, dO_i, and for softmax LSE_i, D_i.
  const u64 q_row = (s.d + s.dv) * e + (opt.sigmoid ? 0 : 2 * kStatBytes);
  const Count q_total = bh * p.rows_sum * q_row;
  // kv_blocks: Q_i, dO_i are shared by the Tc CTAs of one head, which run next to each other;
  // replicas: those CTAs are B·H apart (program_id(1) is the key block), so a head's rows are
  // fetched again once per resident window unless they stay in L2 meanwhile.
  const double q_ws = grid == BwdGrid::replicas
                          ? std::min<double>(ev.resident(k), bh.d()) * static_cast<double>(s.n * q_row)
                          : std::min(std::ceil(static_cast<double>(ev.resident(k)) / static_cast<double>(p.tc)) + 1,
                                     static_cast<double>(bh.v)) * static_cast<double>(s.n * q_row);
  const Count q_hbm = grid == BwdGrid::replicas ? ev.shared(k, rows * q_row, q_total, 1, bh.v, p.tc, q_ws)
                                                : ev.shared(k, rows * q_row, q_total, p.tc, p.tc, 1, q_ws);
  Evaluator::read_stream(k, q_total, q_hbm, kFlashWarps);
  if (bwd_traits && bwd_traits->atom_msdp != 0) {
    // The five GEMMs read their operands out of shared memory once per warp across them (warp
    // layouts AtomLayoutMSdP a, AtomLayoutNdKV b, AtomLayoutMdQ c of W warps): S = QK^T and
    // dP = dO V^T read Q, dO W/a times and K, V a times; dV = P^T dO and dK = dS^T Q read P, dS
    // W/b times and dO, Q b times; dQ = dS K reads dS W/c times and K c times. P and dS are
    // written to shared memory first. The K/V and Q/dO reads above count one reader each.
    const u64 w = bwd_traits->mma_warps, a = bwd_traits->atom_msdp, b = bwd_traits->atom_ndkv, c = bwd_traits->atom_mdq;
    const Count pairs_q = bh * p.rows_sum, pairs_k = bh * p.cols_sum;  // Σ rows, Σ cols over visited pairs
    const Count scores = bh * p.area;
    k.sram_read += pairs_q * (s.d + s.dv) * e * (w / a + b) - pairs_q * (s.d + s.dv) * e * kFlashWarps;
    k.sram_read += pairs_k * (s.d * (a + c) + s.dv * a) * e;
    k.sram_read += scores * e * (w / b + w / b + w / c);
    k.sram_write += scores * e * 2;
  }
  const Count dq_total = bh * p.rows_sum * s.d * dq_bytes;
  const Count dq_unique = rows * s.d * dq_bytes;
  if (grid == BwdGrid::replicas) {
    Evaluator::write_direct(k, dq_total);  // each pair's dQ into its own replica: written once
  } else {
    // dQ_i read-modify-written per pair: fp32 atomics performed in L2 (kv_blocks), or the program's
    // own load and store (per_head).
    k.l2_read += dq_total;
    k.l2_write += dq_total;
    k.hbm_read += ev.shared(k, dq_unique, dq_total, p.tc, p.tc, 1, q_ws);
    k.hbm_write += ev.shared(k, dq_unique, dq_total, p.tc, p.tc, 1, q_ws);
  }
  Evaluator::write_direct(k, bh * p.touched * (s.d + s.dv) * e);  // dK_j, dV_j
  if (bwd_traits && (bwd_traits->waited & KernelTraits::kWaitAll)) {
    // Triton's backward runs with num_stages = 1 (the tutorial and triton.ops alike): no load is
    // pipelined, each (K_j, V_j per key block; Q_i, m, dO_i, D_i and, per head, dQ_i per pair) is
    // waited on where it is issued.
    Evaluator::all_loads_waited(k);
  }

  if (grid == BwdGrid::kv_blocks) {
    KernelCost& conv = rowwise(ev, "flash2_bwd_convert_dq", rows * s.d);
    Evaluator::read_direct(conv, rows * s.d * kStatBytes);
    Evaluator::write_direct(conv, rows * s.d * e);
  } else if (grid == BwdGrid::replicas) {
    KernelCost& sum = rowwise(ev, "flash2_bwd_sum_dq", rows * s.d * replicas);  // dq.sum(dim=0)
    Evaluator::read_direct(sum, rows * s.d * replicas * e);
    Evaluator::write_direct(sum, rows * s.d * e);
    sum.fp32_flops = rows * s.d * replicas;
  }
  gqa_reduce(ev, s, p);
  ev.out().extra_memory_bytes += rows * s.d * dq_bytes * replicas + (opt.sigmoid ? Count(0) : rows * kStatBytes);  // dQ and D
}

// The backward as the implementation runs it. Triton's: FlashAttention-2's benchmark times
// triton.ops' attention with sequence_parallel False and True and keeps the faster backward
// (flash-attention v2.0.4 benchmarks/benchmark_flash_attention.py:112-130), so the closed form
// evaluates both launch plans under the execution model and keeps the faster.
void flash2_bwd_as_run(Evaluator& ev, const Shape& s, const Plan& p, const FlashOptions& opt) {
  const auto t = ev.traits(KernelRole::bwd, std::max(s.d, s.dv));
  if (!t || !t->bwd_cta_per_head) {
    flash2_bwd(ev, s, p, opt, BwdGrid::kv_blocks);
    return;
  }
  Prediction& out = ev.out();
  const int mark = out.kernel_count();
  const Count extra = out.extra_memory_bytes;
  auto run = [&](BwdGrid g) {
    out.kernels.resize(static_cast<std::size_t>(mark));
    out.extra_memory_bytes = extra;
    flash2_bwd(ev, s, p, opt, g);
    double t_s = 0;
    for (int i = mark; i < out.kernel_count(); ++i) t_s += kernel_time_s(out.kernels[static_cast<std::size_t>(i)], ev.dev(), ev.w());
    return t_s;
  };
  const double replicas = run(BwdGrid::replicas);
  if (run(BwdGrid::per_head) > replicas) run(BwdGrid::replicas);
}

// xFormers' CUTLASS backward as v0.0.20 launches it (xformers/csrc/attention/cuda/fmha/
// kernel_backward.h, attention_backward_generic.cu:311-348 @v0.0.20; the flash-attention benchmark
// calls it as xops.fmha.cutlass.BwOp, benchmarks/benchmark_flash_attention.py:134-143 @v2.0.4).
// Grid (num_splits, H, B), num_splits = ⌈Nk/J⌉ unless B·H >= 256 and Nk <= 2J (then 1, every CTA
// walking all key blocks): CTA j owns key block j and walks the query blocks from its first
// unmasked one (getSmallestQueryForKey), non-causal starting at block j (getQueryStartShift).
//   - Before its loop every CTA computes D = rowsum(dO o O) for all N queries of its head and
//     writes it (kKernelComputesDelta, :1305-1321): O and dO cross L2 once per CTA.
//   - Per visited pair (processBlockIJ): five GEMMs, each loading its global operands in its own
//     prologue: Q_i for S and again for dK, dO_i for dV and again for dP, V_j for dP and K_j for dQ
//     every pair (prologueDOV, prologueGradQ, :1473-1531), K_j for S once per CTA while kMaxK fits
//     the 3 x 32 staged columns (custom_mma_multistage.h:165 kSmemContainsEntireMat), every pair
//     above; LSE_i and D_i. P and dS are written to shared memory for the GEMMs that read them.
//   - dQ: with splits, the CTA takes the query block's lock (atomicCAS), loads the fp32 partial from
//     the workspace, adds dS K and stores it back, and the last CTA of the block writes dQ at 16
//     bits (:2011-2110); the workspace (B·H·N·d fp32) is zeroed first (should_zero_workspace,
//     workspace.zero_()). Without splits the first key block starts from zero.
//   - dK_j, dV_j stay in registers (kOutputInRF) and are written once.
// Shared-memory reads: every GEMM runs 32 x 32 warp tiles (kernel_backward.h:307, 366, 436, 501,
// 553), and a warp reads its 32 x K slice of A and K x 32 slice of B for 2·32·32·K FLOPs: e/32
// bytes per FLOP, whatever the CTA's tile.
u64 xformers_splits(u64 bh, u64 nk, u64 bc, u64 tc) { return bh >= 256 && nk <= 2 * bc ? 1 : tc; }

void xformers_bwd(Evaluator& ev, const Shape& s, const Plan& p, const KernelTraits& t) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count rows = bh * s.n;
  const u64 splits = xformers_splits(bh.v, s.nk, p.bc, p.tc);
  if (splits > 1) {
    KernelCost& zero = rowwise(ev, "xformers_bwd_zero_workspace", rows * s.d);
    Evaluator::write_direct(zero, rows * s.d * kStatBytes);
  }
  const Count ctas = bh * splits;
  KernelCost& k = ev.add("xformers_bwd", ctas, t.ctas_per_sm);
  const Count scores = bh * p.area;
  k.tensor_flops = bh * p.allowed * 2 * (3 * s.d + 2 * s.dv);
  k.tensor_issue = scores * 2 * (3 * s.d + 2 * s.dv);
  k.sfu_ops = bh * p.allowed;
  // Per score: the P recompute FFMA, dS = P o (dP - D) (2); D: a multiply-add per O element per CTA.
  k.fp32_flops = bh * p.allowed * 4 + ctas * s.n * s.dv * 2;
  ev.attention_kernel(k, KernelRole::bwd, std::max(s.d, s.dv));
  const ScoreInstr per = per_score_instr(&t, scores, 3, 1);
  k.fp32_instr = per.fma + ctas * s.n * s.dv;
  add_alu(k, per.alu);
  add_mask(k, mask_instr(&t, bh, p));
  k.block_iters = bh * p.pairs;
  k.inflight_bytes = Count(min_u(p.br, s.n)) * (s.d + s.dv) * e;  // the next GEMMs' prologues
  // A head's rows (Q, dO, O, LSE, D and the dQ workspace) are read by its `splits` CTAs, consecutive
  // in the grid; between two reads pass the rows of the other heads resident meanwhile.
  const u64 q_row = (s.d + s.dv) * e + 2 * kStatBytes;
  const double ws = std::min(std::ceil(static_cast<double>(ev.resident(k)) / static_cast<double>(splits)) + 1, bh.d()) *
                    static_cast<double>(s.n * (q_row + s.dv * e + s.d * kStatBytes));
  const auto head_rows = [&](Count unique, Count total) { return ev.shared(k, unique, total, splits, splits, 1, ws); };
  // D: O and dO for every query of the head, by every CTA; D written by every CTA.
  const Count delta_in = ctas * s.n * s.dv * e * 2;
  k.l2_read += delta_in;
  k.hbm_read += head_rows(rows * s.dv * e * 2, delta_in);
  k.l2_write += ctas * s.n * kStatBytes;
  k.hbm_write += ev.filtered(rows * kStatBytes, ctas * s.n * kStatBytes, 0);  // the same D each time
  // Per pair: Q_i and dO_i twice each, LSE_i and D_i; staged in shared memory but the statistics.
  const Count q_pairs = bh * p.rows_sum;
  const Count q_total = q_pairs * (s.d + s.dv) * e * 2 + q_pairs * 2 * kStatBytes;
  k.l2_read += q_total;
  k.hbm_read += head_rows(rows * q_row - rows * kStatBytes, q_total);  // D is the CTA's own write
  k.sram_write += q_pairs * (s.d + s.dv) * e * 2;
  // K_j, V_j: V_j and K_j every pair (dP, dQ), K_j for S once per CTA or every pair.
  const bool reload_k = std::max(s.d, s.dv) > 3 * 32;
  const Count kv_pairs = bh * p.cols_sum;
  const Count kv_total = kv_pairs * (s.d + s.dv) * e + (reload_k ? kv_pairs * s.d * e : bh * p.touched * s.d * e);
  k.l2_read += kv_total;
  k.hbm_read += ev.shared(k, kv_heads_bytes(s, p.touched, e), kv_total, 1, s.batch * splits, s.group(), kv_between(p, s, e));
  k.sram_write += kv_total;
  k.sram_write += scores * e * 2;  // P and dS
  k.sram_read += Count(k.tensor_issue.v / 32) * e;
  // dQ: the fp32 partial read and written per pair but the first (no splits) or the last (splits)
  // of a query block, which writes dQ at 16 bits instead.
  const Count dq_pairs = q_pairs * s.d * kStatBytes, dq_rows = rows * s.d * kStatBytes;
  const Count dq_reads = splits > 1 ? dq_pairs : dq_pairs - dq_rows;
  const Count dq_writes = dq_pairs - dq_rows;
  k.l2_read += dq_reads;
  k.l2_write += dq_writes + rows * s.d * e;
  k.hbm_read += head_rows(splits > 1 ? dq_rows : Count(0), dq_reads);
  k.hbm_write += head_rows(dq_rows, dq_writes) + rows * s.d * e;  // the partials written back once
  // dK_j, dV_j per query head, written once from registers.
  Evaluator::write_direct(k, bh * p.touched * (s.d + s.dv) * e);
  if (t.waited & KernelTraits::kWaitAll) {
    // Every operand is loaded in its GEMM's own prologue within the pair and waited on there; the
    // next Q_i is issued after the last GEMM (kernel_backward.h:2195-2202), so nothing is ahead.
    Evaluator::all_loads_waited(k);
  }
  gqa_reduce(ev, s, p);  // v0.0.20 takes one K/V head per query head: expand's backward sums them
  ev.out().extra_memory_bytes += rows * (s.d + 1) * kStatBytes;  // the workspace and D
}

// FlexAttention's backward (flex_backwards.py.jinja @0e0956bd; impl.cpp flexattention_traits,
// KernelTraits::flex_bwd): inductor first reduces D = rowsum(O o dO) in a kernel of its own, then
// one launch holds, per (batch, K/V head) and in this grid order (program_id(0) fastest), the dK/dV
// programs, one per K/V block of n1 keys: K_j and V_j loaded once, then for each of the group's g
// query heads every visited query block of m1 rows (Q_i, dO_i, LSE_i, D_i), with S^T = K Q^T,
// dV += P^T dO, dP^T = V dO^T, dK += dS^T Q (4 GEMMs); then the dQ programs, one per query block of
// m2 rows of each query head: Q_i, dO_i, LSE_i, D_i loaded once, every visited K/V block (K_j, V_j)
// with S = Q K^T, dP = dO V^T, dQ += dS K (3 GEMMs). dK, dV (per K/V head: no GQA reduction) and
// dQ are written once, in the input dtype: no atomics, no accumulator to zero or convert.
void flex_bwd(Evaluator& ev, const Shape& s, const Mask& mask, const FlashOptions& opt, const KernelTraits& t) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads, sets = Count(s.batch) * s.kv_heads;
  const Count rows = bh * s.n;
  KernelCost& pre = rowwise(ev, "flex_bwd_delta", rows * s.dv);
  Evaluator::read_direct(pre, rows * s.dv * e * 2);  // O, dO
  Evaluator::write_direct(pre, rows * kStatBytes);   // D
  pre.fp32_flops = rows * s.dv * 2;

  const KernelTraits::FlexBwdBlocks b = t.flex_bwd;
  const Plan kv = flash_plan(ev, s, mask, opt, BlockSizes{b.m1, b.n1});  // dK/dV programs' pairs
  const Plan qp = flash_plan(ev, s, mask, opt, BlockSizes{b.m2, b.n2});  // dQ programs' pairs
  const u64 dkv_programs = ceil_div(s.nk, b.n1), dq_programs = ceil_div(s.n, b.m2) * s.group();
  KernelCost& k = ev.add("flex_attention_backward", sets * (dkv_programs + dq_programs), 1);
  k.tensor_flops = bh * kv.allowed * 2 * (2 * s.d + 2 * s.dv) + bh * qp.allowed * 2 * (2 * s.d + s.dv);
  k.sfu_ops = bh * (kv.allowed + qp.allowed);
  k.fp32_flops = bh * (kv.allowed + qp.allowed) * 4;
  ev.attention_kernel(k, KernelRole::bwd, std::max(s.d, s.dv));
  // Every score of a visited block is computed, masked ones included, and Triton's MMAs run over
  // the head dims padded to a power of two (QK_HEAD_DIM_ROUNDED, V_HEAD_DIM_ROUNDED).
  const u64 dr = triton_padded_dim(s.d), dvr = triton_padded_dim(s.dv);
  k.tensor_issue = bh * kv.area * 2 * (2 * dr + 2 * dvr) + bh * qp.area * 2 * (2 * dr + dvr);
  k.sfu_issue = bh * (kv.area + qp.area);
  // impl.cpp: 4 + 1 per score in the dK/dV pass, 4 + 0.5 in the dQ pass (FMA pipe + ALU).
  k.fp32_instr = bh * (kv.area + qp.area) * 4;
  add_alu(k, bh * kv.area + Count((bh * qp.area).v / 2));
  k.block_iters = bh * (kv.pairs + qp.pairs);
  if (mask.kind != MaskKind::none) {
    // Under a mask the programs differ in work. The heaviest dK/dV program is the first key block
    // any query block visits (causal: every query block of the g heads walks it); the heaviest dQ
    // program the last query block (causal: every key block). A dK/dV program is launched before
    // the rest of its (batch, K/V head) set, so in the last set the work after it is the set's
    // less its own; a dQ program of the last query block is launched last.
    u64 dq_heavy = 0, dkv_heavy = 0;
    if (const BlockRange last = visited_blocks(mask, (qp.tr - 1) * qp.br, s.n, s.nk, qp.bc); !last.empty()) {
      dq_heavy = last.last - last.first + 1;
    }
    // The first visited key block j0 is every range's smallest first block, so the query blocks
    // that visit it are those whose range starts there: one pass.
    u64 j0 = kv.tc;
    for (u64 i = 0; i < kv.tr; ++i) {
      const BlockRange r = visited_blocks(mask, i * kv.br, min_u(s.n, (i + 1) * kv.br), s.nk, kv.bc);
      if (r.empty() || r.first > j0) continue;
      if (r.first < j0) j0 = r.first, dkv_heavy = 0;
      dkv_heavy += s.group();
    }
    // Both may finish last: the execution model takes the larger tail (rule 4).
    const Count set_iters = Count(s.group()) * (kv.pairs + qp.pairs);
    if (dq_heavy != 0) k.last_cta_iters = dq_heavy;
    if (dkv_heavy != 0) {
      Count& iters = dq_heavy != 0 ? k.alt_last_cta_iters : k.last_cta_iters;
      Count& after = dq_heavy != 0 ? k.alt_last_cta_after_iters : k.last_cta_after_iters;
      iters = dkv_heavy;
      after = set_iters.v > dkv_heavy ? set_iters - Count(dkv_heavy) : Count(0);
    }
  }
  // What one program keeps in flight: the stages of its streamed tiles.
  k.inflight_bytes = Count(std::max(b.m1, b.n2)) * (s.d + s.dv) * e * max_u(1, t.load_buffers);
  const u64 q_row = (s.d + s.dv) * e + 2 * kStatBytes;  // Q, dO, LSE, D of one query row
  const u64 kv_row = (s.d + s.dv) * e;
  // The programs of one (batch, K/V head) run next to each other and read the set's rows again and
  // again: Q_i, dO_i, LSE_i, D_i once per visited pair of a dK/dV program and once per dQ program;
  // K_j, V_j once per dK/dV program and once per visited pair of a dQ program. The first touch
  // reaches DRAM, the rest hit in L2 while the set's rows stay there.
  const u64 programs = dkv_programs + dq_programs;
  const double window = std::ceil(static_cast<double>(ev.resident(k)) / static_cast<double>(programs)) + 1;
  const double q_ws = std::min(window, sets.d()) * static_cast<double>(s.group() * s.n * q_row);
  const double kv_ws = std::min(window, sets.d()) * static_cast<double>(s.nk * kv_row);
  const Count q_total = bh * kv.rows_sum * q_row + rows * q_row;
  Evaluator::read_stream(k, q_total, ev.shared(k, rows * q_row, q_total, programs, programs, 1, q_ws), t.readers());
  const Count kv_total = sets * kv.touched * kv_row + bh * qp.cols_sum * kv_row;
  Evaluator::read_stream(k, kv_total, ev.shared(k, sets * kv.touched * kv_row, kv_total, programs, programs, 1, kv_ws),
                         t.readers());
  Evaluator::write_direct(k, sets * kv.touched * kv_row);  // dK_j, dV_j
  Evaluator::write_direct(k, rows * s.d * e);              // dQ_i
  ev.out().extra_memory_bytes += rows * kStatBytes;        // D
}

// ---- FlashAttention, FA1 loop order ---------------------------------------------------------

// num_splits_heuristic_fwd (flash-attention v1.0.9 fmha_fwd_launch_template.h:21-39): the wave
// efficiency of b·h·splits CTAs over SMs x CTAs per SM for 1..30 splits; the fewest within 95 % of
// the best.
u64 fa1_num_splits(u64 bh, int sms, u64 per_sm) {
  const double slots = static_cast<double>(sms) * static_cast<double>(per_sm);
  double best = 0;
  double eff[31] = {};
  for (u64 n = 1; n <= 30; ++n) {
    const double waves = static_cast<double>(bh * n) / slots;
    eff[n] = waves / std::ceil(waves);
    best = std::max(best, eff[n]);
  }
  for (u64 n = 1; n <= 30; ++n) {
    if (eff[n] > 0.95 * best) return n;
  }
  return 1;
}

// FlashAttention Alg. 1: one CTA per head, grid (batch, heads) (FlashAttention-2 §3.2: "parallelize
// over batch size and number of heads"); the outer loop over K/V blocks loads K_j, V_j once (line 6); the inner loop over
// Q blocks loads Q_i, O_i, l_i, m_i (line 8) and writes O_i, l_i, m_i back (lines 12-13); line 2
// initializes O, l, m in HBM. Total Θ(N²d²/M) (Theorem 2).
void flash1_fwd(Evaluator& ev, const Shape& s, const Plan& p) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count smem = Count(e) * (min_u(p.bc, s.nk) * (s.d + s.dv) + min_u(p.br, s.n) * (s.d + s.dv));
  // FlashAttention v1's grid (b, h, num_splits): each split owns every num_splits-th query step and
  // reads all of K and V (fmha_fwd_launch_template.h:21-39, 72-86 @v1.0.9).
  const auto traits = ev.traits(KernelRole::fwd, std::max(s.d, s.dv));
  const u64 per_sm = ev.ctas_per_sm(smem);
  const u64 splits = traits && traits->fa1_kernel ? fa1_num_splits(bh.v, ev.dev().sm_count, per_sm) : 1;
  KernelCost& k = ev.add("flash1_fwd", bh * splits, per_sm);
  k.tensor_flops = bh * p.allowed * 2 * (s.d + s.dv);
  k.sfu_ops = bh * p.allowed;
  ev.attention_kernel(k, KernelRole::fwd, std::max(s.d, s.dv));
  k.block_iters = bh * p.pairs;
  k.inflight_bytes = Count(min_u(p.br, s.n)) * (s.d + s.dv) * e;
  // Per score as FA2 (3); per visited pair the O_i update rescales and adds (2 per element).
  k.fp32_flops = bh * (p.allowed * 3 + p.rows_sum * s.dv * 2);
  // Grid (batch, heads): the g heads of a group are B CTAs apart.
  const Count kv = bh * p.touched * (s.d + s.dv) * e * splits;
  // v1.0.9 waits on K_j, V_j at the start of each key block (load, commit, __syncthreads before the
  // first step), on o_tmp within the step that loads it (fmha_fprop_kernel_1xN.h:401 -> 615) and on
  // the next step's Q, staged in registers and committed to shared memory in the same step (407 ->
  // 520). Those bytes are in the CTA's cycle (KernelCost::sync_*).
  const bool v1 = traits && (traits->waited & KernelTraits::kWaitAll);
  const auto waited = [&k, v1](Count l2_0, Count hbm_0) {
    if (!v1) return;
    k.sync_l2_read += k.l2_read - l2_0;
    k.sync_hbm_read += k.hbm_read - hbm_0;
  };
  Count l2_0 = k.l2_read, hbm_0 = k.hbm_read;
  Evaluator::read_stream(k, kv, ev.shared(k, kv_heads_bytes(s, p.touched, e), kv, splits, s.batch * splits, s.group(), kv_between(p, s, e)),
                         kFlashWarps);
  waited(l2_0, hbm_0);
  // Q_i, O_i, l_i, m_i per visited pair; the per-head working set is Q, O, l, m of the whole head.
  // FlashAttention v1's code carries O in fp32 (o_tmp) with the log-sum-exp (fmha_fprop_kernel_1xN.h).
  const u64 row_state = traits && traits->fa1_kernel ? s.dv * kStatBytes + kStatBytes : s.dv * e + 2 * kStatBytes;
  const double ws = std::min<double>(ev.resident(k), bh.d()) * static_cast<double>(s.n * (s.d * e + row_state));
  const Count q_total = bh * p.rows_sum * s.d * e;
  l2_0 = k.l2_read, hbm_0 = k.hbm_read;
  Evaluator::read_stream(k, q_total, ev.filtered(bh * s.n * s.d * e, q_total, ws), 1);
  waited(l2_0, hbm_0);
  const Count o_total = bh * p.rows_sum * row_state;
  l2_0 = k.l2_read, hbm_0 = k.hbm_read;
  Evaluator::read_stream(k, o_total, ev.filtered(0, o_total, ws), 1);
  waited(l2_0, hbm_0);
  if (traits && traits->fa1_kernel) {
    // Per visited (query step, key block): V read out of shared memory by the warps that own its
    // keys, Q by all 4 warps, and the 4 partial O tiles (fp32) written and read for the sum.
    // Known over-count: v1.0.9 keeps K_j and V_j in registers for the whole block
    // (fmha_fprop_kernel_1xN.h:355-375) and loads o_tmp straight into registers; counting that
    // instead moves the d = 64 rows from 24-33 % to 45-52 % too fast, a per-step cost the model
    // lacks (docs/model.md, "Read but not modelled yet"), so the correction waits for that cost.
    const u64 warps = traits->mma_warps;
    k.sram_read += bh * p.cols_sum * s.dv * e;                       // V_j once per step
    k.sram_read += bh * p.rows_sum * s.d * e * (warps - 1);          // Q_i by the other warps
    k.sram_write += bh * p.rows_sum * s.dv * kStatBytes * warps;     // partial O of each warp
    k.sram_read += bh * p.rows_sum * s.dv * kStatBytes * warps;
  }
  const Count w_total = bh * s.n * row_state + o_total;  // line 2 initialization + per-pair writes
  k.l2_write += w_total;
  k.hbm_write += ev.filtered(bh * s.n * row_state, w_total, ws);
  ev.out().extra_memory_bytes += bh * s.n * 2 * kStatBytes;  // l and m
}

// num_splits_heuristic_bwd (flash-attention v1.0.9 fmha_bwd_launch_template.h:9-28): the backward
// runs either one CTA per (batch, head) walking every K/V block, or sequence-parallel with one CTA
// per K/V block (num_splits = seqlen_k / blocksize); parallel when its wave efficiency, discounted
// by 1 + blocksize/seqlen (half that under a causal mask), beats the plain grid's, and always under
// a causal mask with at least 10 key blocks.
u64 fa1_bwd_splits(u64 bh, int sms, u64 per_sm, u64 nk, u64 bc, bool causal) {
  const u64 parallel = nk / bc;
  if (parallel <= 1) return 1;
  const double slots = static_cast<double>(sms) * static_cast<double>(per_sm);
  const double waves_1 = static_cast<double>(bh) / slots;
  const double eff_1 = waves_1 / std::ceil(waves_1);
  const double waves_p = static_cast<double>(bh * parallel) / slots;
  const double eff_raw = waves_p / std::ceil(waves_p);
  const double ratio = static_cast<double>(bc) / static_cast<double>(nk);
  if (causal && parallel >= 10) return parallel;
  const double discount = causal ? 1 + 0.5 * ratio : 1 + ratio;
  return eff_1 >= eff_raw / discount ? 1 : parallel;
}

// flash-attention v1.0.9's backward (fmha_bwd_launch_template.h:60-112, fmha_dgrad_kernel_1xN_loop.h,
// fmha_api.cpp:439-512). 8 warps side by side along the K/V block's keys step through the queries
// 16 rows at a time. Per step each warp reads the Q and dO rows out of shared memory for its two
// GEMMs on them (S and dK; dP and dV), V once (dP = dO Vᵀ, V not in registers) and K once (dQ =
// dS K; S uses K from registers), writes and reads P and dS once each (transposes), and writes and
// reads its fp32 partial dQ (the 8 partials summed through shared memory).
//   plain grid (b, h): the first K/V block reads O and writes D = rowsum(dO o O); later blocks read
//     D, and read and write dQ in fp32 (dq_tmp), the last block of a row writing dQ at 16 bits;
//   sequence-parallel grid (b, h, Nk/Bc): torch zeros dq_tmp, fmha_bwd_dot_do_o_kernel writes D,
//     every step adds its dQ to dq_tmp with fp32 atomics, and dq.copy_(dq_tmp) converts at the end.
void fa1_bwd(Evaluator& ev, const Shape& s, const Plan& p, const KernelTraits& t) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count rows = bh * s.n;
  const bool causal = ev.w().causal;
  const u64 per_sm = ev.ctas_per_sm(Count(t.smem_bytes));
  const bool parallel = fa1_bwd_splits(bh.v, ev.dev().sm_count, per_sm, s.nk, min_u(p.bc, s.nk), causal) > 1;
  if (parallel) {
    KernelCost& zero = rowwise(ev, "flash1_bwd_zero_dq", rows * s.d);
    Evaluator::write_direct(zero, rows * s.d * kStatBytes);
    KernelCost& dot = ev.add("flash1_bwd_dot_do_o", bh * ceil_div(s.n, 128), kSmallCtasPerSm);  // grid (b, h, ⌈N/128⌉)
    Evaluator::read_direct(dot, rows * s.dv * e * 2);  // dO, O
    Evaluator::write_direct(dot, rows * kStatBytes);   // D
    dot.fp32_flops = rows * s.dv * 2;
  }
  KernelCost& k = ev.add(parallel ? "flash1_bwd_seqparallel" : "flash1_bwd", parallel ? bh * p.tc : bh, per_sm);
  k.tensor_flops = bh * p.allowed * 2 * (3 * s.d + 2 * s.dv);
  k.sfu_ops = bh * p.allowed;
  k.fp32_flops = bh * p.allowed * 4 + (parallel ? Count(0) : rows * s.dv * 2);  // + D in the first block
  ev.attention_kernel(k, KernelRole::bwd, std::max(s.d, s.dv));
  k.fp32_instr = bh * p.area * 3;  // per score: FFMA (P), FSUB and FMUL (dS)
  add_alu(k, bh * p.area);  // and half a pack of P and of dS (ALU)
  add_mask(k, mask_instr(&t, bh, p));
  k.block_iters = bh * p.pairs;
  k.inflight_bytes = Count(min_u(p.br, s.n)) * (s.d + s.dv) * e;  // the next step's Q and dO rows
  // K_j, V_j once per CTA; the g heads of a group are B CTAs apart in the grid.
  const Count kv = bh * p.touched * (s.d + s.dv) * e;
  Evaluator::read_stream(k, kv, ev.shared(k, kv_heads_bytes(s, p.touched, e), kv, 1, s.batch, s.group(), kv_between(p, s, e)), 0);
  // Per step: Q, dO, LSE and D rows (the plain grid's first block reads O for D instead).
  const u64 q_row = (s.d + s.dv) * e + 2 * kStatBytes;
  const Count q_total = bh * p.rows_sum * q_row + (parallel ? Count(0) : rows * (s.dv * e - kStatBytes));
  const Count dq_steps = bh * p.rows_sum * s.d * kStatBytes;
  // Between two reads of a head's rows pass the rows of the heads resident meanwhile.
  const double ws = std::min<double>(ev.resident(k), bh.d()) * static_cast<double>(s.n * (q_row + s.d * kStatBytes));
  Count dq_dram_read;
  if (parallel) {
    // The Tc CTAs of one head are b·h apart (blockIdx.z outermost): a head's Q rows are fetched
    // again once per resident window unless they stay in L2 meanwhile.
    Evaluator::read_stream(k, q_total, ev.shared(k, rows * q_row, q_total, 1, bh.v, p.tc, ws), 0);
    const Count dq_dram = ev.shared(k, rows * s.d * kStatBytes, dq_steps, 1, bh.v, p.tc, ws);
    k.l2_read += dq_steps;  // fp32 atomic adds, performed in L2
    k.l2_write += dq_steps;
    k.hbm_read += dq_dram;
    k.hbm_write += dq_dram;
    dq_dram_read = dq_dram;
  } else {
    Evaluator::read_stream(k, q_total, ev.filtered(rows * (q_row + s.dv * e - kStatBytes), q_total, ws), 0);
    Evaluator::write_direct(k, rows * kStatBytes);  // D, from the first block
    const Count dq_carried = dq_steps - rows * s.d * kStatBytes;  // every step of a row but its last
    k.l2_read += dq_carried;  // dq_tmp, read straight into registers
    k.hbm_read += ev.filtered(0, dq_carried, ws);
    const Count dq_writes = dq_carried + rows * s.d * e;
    k.l2_write += dq_writes;
    k.hbm_write += ev.filtered(rows * s.d * e, dq_writes, ws);
  }
  const u64 w = t.mma_warps;
  k.sram_read += bh * p.rows_sum * (s.d + s.dv) * e * 2 * w;  // Q, dO by every warp in two GEMMs each
  k.sram_read += bh * p.cols_sum * (s.d + s.dv) * e;          // K (dQ), V (dP) once per step
  k.sram_write += bh * p.area * e * 2;                        // P, dS transposes
  k.sram_read += bh * p.area * e * 2;
  k.sram_write += bh * p.rows_sum * s.d * kStatBytes * w;     // partial dQ of each warp
  k.sram_read += bh * p.rows_sum * s.d * kStatBytes * w;
  Evaluator::write_direct(k, kv);  // dK_j, dV_j per query head
  if (t.waited & KernelTraits::kWaitAll) {
    // K_j, V_j are loaded and committed at the start of the key block, the next step's Q and dO rows
    // and dq_tmp are staged in registers and used in the same step (fmha_dgrad_kernel_1xN_loop.h:
    // 309-377, 458 -> 624, 533 -> 633, 628 -> 676); the sequence-parallel grid's fp32 atomic adds to
    // dQ are fire-and-forget and not waited on.
    Evaluator::all_loads_waited(k, parallel ? dq_steps : Count(0), dq_dram_read);
  }

  if (parallel) {
    KernelCost& copy = rowwise(ev, "flash1_bwd_copy_dq", rows * s.d);  // dq.copy_(dq_tmp)
    Evaluator::read_direct(copy, rows * s.d * kStatBytes);
    Evaluator::write_direct(copy, rows * s.d * e);
  }
  ev.out().extra_memory_bytes += rows * (s.d * kStatBytes + kStatBytes);  // dq_tmp and D
}

// FlashAttention App. B.4, Algorithm 4: outer loop over K/V blocks (load K_j, V_j; write dK_j, dV_j),
// inner loop over Q blocks loading Q_i, O_i, dO_i, dQ_i, l_i, m_i and writing dQ_i (fp32 here, as
// implementations accumulate it); dQ is initialized in HBM and converted at the end.
void flash1_bwd(Evaluator& ev, const Shape& s, const Plan& p) {
  if (const auto t = ev.traits(KernelRole::bwd, std::max(s.d, s.dv)); t && t->fa1_kernel && t->smem_bytes != 0) {
    fa1_bwd(ev, s, p, *t);
    return;
  }
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count rows = bh * s.n;
  const Count smem = Count(e) * (min_u(p.bc, s.nk) * (s.d + s.dv) + min_u(p.br, s.n) * (s.d + 2 * s.dv));
  KernelCost& k = ev.add("flash1_bwd", bh, ev.ctas_per_sm(smem));
  k.tensor_flops = bh * p.allowed * 2 * (3 * s.d + 2 * s.dv);
  k.sfu_ops = bh * p.allowed;
  k.fp32_flops = bh * (p.allowed * 4 + p.rows_sum * s.dv * 2);  // + D_i = rowsum(dO_i o O_i) per pair
  ev.attention_kernel(k, KernelRole::bwd, std::max(s.d, s.dv));
  k.inflight_bytes = Count(min_u(p.br, s.n)) * (s.d + 2 * s.dv) * e;
  const Count kv = bh * p.touched * (s.d + s.dv) * e;
  Evaluator::read_stream(k, kv, ev.shared(k, kv_heads_bytes(s, p.touched, e), kv, 1, s.batch, s.group(), kv_between(p, s, e)),
                         kFlashWarps);
  const u64 row_in = (s.d + 2 * s.dv) * e + 2 * kStatBytes;  // Q_i, O_i, dO_i, l_i, m_i
  const u64 row_dq = s.d * kStatBytes;
  const double ws = std::min<double>(ev.resident(k), bh.d()) * static_cast<double>(s.n * (row_in + row_dq));
  const Count in_total = bh * p.rows_sum * row_in;
  Evaluator::read_stream(k, in_total, ev.filtered(rows * row_in, in_total, ws), 1);
  const Count dq_total = bh * p.rows_sum * row_dq;
  Evaluator::read_stream(k, dq_total, ev.filtered(0, dq_total, ws), 1);
  const Count dq_writes = rows * row_dq + dq_total;  // initialization + per-pair writes
  k.l2_write += dq_writes;
  k.hbm_write += ev.filtered(rows * row_dq, dq_writes, ws);
  Evaluator::write_direct(k, kv);  // dK_j, dV_j per query head

  KernelCost& conv = rowwise(ev, "flash1_bwd_convert_dq", rows * s.d);
  Evaluator::read_direct(conv, rows * row_dq);
  Evaluator::write_direct(conv, rows * s.d * e);
  gqa_reduce(ev, s, p);
  ev.out().extra_memory_bytes += rows * row_dq;
}

}  // namespace

// flash-attention >= 2.2 in decode (flash_api.cpp:431-437, 1319-1325): with one query token and
// GQA, q is reshaped so the group's heads become the query rows of one K/V head
// (seqlenq_ngroups_swapped), and set_params_splitkv splits the keys when the grid is small. Not for
// windowed, sparse or sigmoid kernels.
bool library_decode_splits(const Workload& w, const Mask& mask, const FlashOptions& opt, bool fa1) {
  if (fa1 || w.phase != Phase::decode || opt.density < 1.0 || opt.sigmoid) return false;
  if (mask.kind != MaskKind::none && mask.kind != MaskKind::causal) return false;
  const auto t = impl_traits(w, KernelRole::fwd, std::max(w.head_dim, w.v_head_dim));
  return t && t->decode_splitkv;
}

// The backward kernel's own tiles where the implementation's differ from its forward's
// (flash-attention launches separate kernels: 64 x 128 backward against 128 x 64 forward at
// d = 128) and the workload's tiles are the forward's defaults; the forward's otherwise.
BlockSizes backward_blocks(const Workload& w, u64 br, u64 bc, u64 d) {
  const auto ft = impl_traits(w, KernelRole::fwd, d), bt = impl_traits(w, KernelRole::bwd, d);
  if (!ft || !bt) return {br, bc};
  const KernelTraits& f = *ft;
  const KernelTraits& b = *bt;
  if (b.block_m == 0 || b.block_n == 0 || f.block_m != br || f.block_n != bc) return {br, bc};
  if ((b.block_m * d + b.block_n * 2 * d) * dtype_bytes(w.dtype) > w.sram_bytes) return {br, bc};
  return {b.block_m, b.block_n};
}

void flash_passes(Evaluator& ev, const Shape& s, const Mask& mask, const FlashOptions& opt, bool fa1) {
  if (library_decode_splits(ev.w(), mask, opt, fa1)) {
    split_kv_decode(ev, "flash2_fwd_splitkv", s.batch, s.kv_heads, s.group(), s.nk, (s.d + s.dv) * ev.e(), s.d, s.dv, s.d + s.dv);
    return;
  }
  const Plan p = flash_plan(ev, s, mask, opt);
  ev.out().block_m = p.br;
  ev.out().block_n = p.bc;
  const Pass pass = ev.w().pass;
  if (pass != Pass::bwd) fa1 ? flash1_fwd(ev, s, p) : flash2_fwd(ev, s, p, opt, mask);
  if (pass == Pass::fwd) return;
  if (fa1) {
    flash1_bwd(ev, s, p);
    return;
  }
  const BlockSizes bb = backward_blocks(ev.w(), p.br, p.bc, std::max(s.d, s.dv));
  const Plan bp = bb.br == p.br && bb.bc == p.bc ? p : flash_plan(ev, s, mask, opt, bb);
  const auto bt = ev.traits(KernelRole::bwd, std::max(s.d, s.dv));
  if (bt && bt->flex_bwd.m1 != 0 && !opt.sigmoid) flex_bwd(ev, s, mask, opt, *bt);
  else if (bt && bt->cutlass_bwd && opt.density >= 1.0 && !opt.sigmoid) xformers_bwd(ev, s, bp, *bt);
  else flash2_bwd_as_run(ev, s, bp, opt);
}

FlashBuffers flash_buffers(AddressSpace& as, const Shape& s, u64 e) {
  const Count q = Count(s.batch) * s.heads * s.n, kv = Count(s.batch) * s.kv_heads * s.nk;
  const Count kv_exp = Count(s.batch) * s.heads * s.nk;
  FlashBuffers b{};
  b.q = as.alloc(q * s.d * e);
  b.k = as.alloc(kv * s.d * e);
  b.v = as.alloc(kv * s.dv * e);
  b.o = as.alloc(q * s.dv * e);
  b.lse = as.alloc(q * kStat);
  b.l = as.alloc(q * kStat);
  b.m = as.alloc(q * kStat);
  b.dout = as.alloc(q * s.dv * e);
  b.dq_acc = as.alloc(q * s.d * kStat);
  b.delta = as.alloc(q * kStat);
  b.dq = as.alloc(q * s.d * e);
  b.dk_exp = as.alloc(kv_exp * s.d * e);
  b.dv_exp = as.alloc(kv_exp * s.dv * e);
  b.dk = as.alloc(kv * s.d * e);
  b.dv = as.alloc(kv * s.dv * e);
  b.o_acc = as.alloc(q * s.dv * kStat);
  return b;
}

void flash_kernel_tiles(Workload& w, u64 d) { fill_tiles(w, KernelRole::fwd, d); }

namespace {

// ---- tile schedule ------------------------------------------------------------------------------

// ---- FlashAttention -------------------------------------------------------------------------




void flash2_forward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  SimKernel k;
  k.name = g.sigmoid ? "flash_sigmoid_fwd" : "flash2_fwd";
  k.ctas = (Count(s.batch) * s.heads * g.tr).v;
  k.smem = {{"Q", min_u(g.br, s.n) * s.d * g.e}, {"K", min_u(g.bc, s.nk) * s.d * g.e}, {"V", min_u(g.bc, s.nk) * s.dv * g.e}};
  k.program = [g, buf](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 i = cta % g.tr, b = (cta / g.tr) % s.batch, h = cta / (g.tr * s.batch), kvh = h / s.group();
    const u64 rows = g.rows(i);
    Step first;
    g.q_tile(first, "Q", buf.q, b, h, i * g.br, rows, s.d, false);
    steps.push_back(first);
    const BlockRange r = visited_blocks(g.mask, i * g.br, i * g.br + rows, s.nk, g.bc);
    // flash-attention walks the K/V blocks from the last down ("we iterate over the blocks in
    // reverse order"), so the masked diagonal block comes first.
    // Under TMA multicast the first CTA of each cluster reads the K/V tiles for all of them.
    const bool multicast_receiver = g.kv_cluster > 1 && i % g.kv_cluster != 0;
    for (u64 jj = r.last + 1; !r.empty() && jj > r.first; --jj) {
      const u64 j = jj - 1;
      if (!traits::block_sparse_keep(g.density, i, j, g.tc)) continue;
      const u64 cols = g.cols(j);
      Step st;
      if (!multicast_receiver) {
        g.kv_tile(st, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
        g.kv_tile(st, "V", buf.v, b, kvh, j * g.bc, cols, s.dv, false);
      }
      const double area = static_cast<double>(rows * cols);
      st.tensor = 2 * area * static_cast<double>(s.d + s.dv);
      st.sfu = area;
      st.fp32 = 3 * area + static_cast<double>(rows * s.dv);
      st.sram = static_cast<double>(cols * (s.d + s.dv) * g.e * (1 + traits::kFlashWarps));
      steps.push_back(st);
    }
    Step last;
    if (g.gate) g.q_tile(last, "G", buf.gate, b, h, i * g.br, rows, s.dv, false);
    g.q_tile(last, "O", buf.o, b, h, i * g.br, rows, s.dv, true);
    if (!g.sigmoid) last.write("LSE", g.stat_addr(buf.lse, b, h, i * g.br), rows * kStat);
    steps.push_back(last);
  };
  out.push_back(std::move(k));
}

// For GQA, the reduction of per-query-head dK/dV into the K/V heads (gqa_reduce).
void gqa_reduce_kernel(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  if (s.group() == 1) return;
  const BlockRange t = g.touched();
  const u64 t0 = t.empty() ? 0 : t.first * g.bc, t1 = t.empty() ? 0 : min_u(s.nk, (t.last + 1) * g.bc);
  SimKernel red;
  red.name = "gqa_reduce_dkdv";
  const u64 key_tile = 64;
  red.ctas = (Count(s.batch) * s.kv_heads * ceil_div(s.nk, key_tile)).v;
  red.program = [g, buf, t0, t1, key_tile](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 tiles = ceil_div(s.nk, key_tile);
    const u64 kt = cta % tiles, bkv = cta / tiles, b = bkv / s.kv_heads, kvh = bkv % s.kv_heads;
    const u64 k0 = kt * key_tile, k1 = min_u(s.nk, k0 + key_tile);
    const u64 r0 = std::max(k0, t0), r1 = std::min(k1, t1);
    Step st;
    for (u64 h = kvh * s.group(); r0 < r1 && h < (kvh + 1) * s.group(); ++h) {
      const u64 row = (b * s.nk + r0) * s.heads + h;
      st.read("dK per head", buf.dk_exp + row * s.d * g.e, s.d * g.e, r1 - r0, s.heads * s.d * g.e);
      st.read("dV per head", buf.dv_exp + row * s.dv * g.e, s.dv * g.e, r1 - r0, s.heads * s.dv * g.e);
      if (st.n >= 6) {
        steps.push_back(st);
        st = Step{};
      }
    }
    g.kv_tile(st, "dK", buf.dk, b, kvh, k0, k1 - k0, s.d, true);
    g.kv_tile(st, "dV", buf.dv, b, kvh, k0, k1 - k0, s.dv, true);
    st.fp32 = static_cast<double>((r1 > r0 ? r1 - r0 : 0) * (s.d + s.dv) * s.group());
    steps.push_back(st);
  };
  out.push_back(std::move(red));
}

// dQ conversion and, for GQA, the reduction of per-query-head dK/dV.
void flash_backward_tail(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf, const std::string& prefix) {
  const Count rows = Count(g.s.batch) * g.s.heads * g.s.n;
  out.push_back(elementwise(prefix + "_bwd_convert_dq", rows * g.s.d,
                            {{buf.dq_acc, kStat, false, "dQacc"}, {buf.dq, g.e, true, "dQ"}}, 1, 0));
  gqa_reduce_kernel(out, g, buf);
}

// A CTA's step loading key block j's K and V tiles.
void kv_step(std::vector<Step>& steps, const FlashGeometry& g, const FlashBuffers& buf, u64 b, u64 kvh, u64 j, u64 cols) {
  Step kv;
  g.kv_tile(kv, "K", buf.k, b, kvh, j * g.bc, cols, g.s.d, false);
  g.kv_tile(kv, "V", buf.v, b, kvh, j * g.bc, cols, g.s.dv, false);
  steps.push_back(kv);
}

// A backward CTA's last step: its key block's dK and dV, per query head.
void dkv_step(std::vector<Step>& steps, const FlashGeometry& g, const FlashBuffers& buf, u64 b, u64 h, u64 j, u64 cols) {
  Step last;
  g.dkv_tile(last, "dK", buf.dk_exp, buf.dk, b, h, j * g.bc, cols, g.s.d);
  g.dkv_tile(last, "dV", buf.dv_exp, buf.dv, b, h, j * g.bc, cols, g.s.dv);
  steps.push_back(last);
}

// FlexAttention's backward as a schedule (flex_bwd): D, then per (batch, K/V head) the dK/dV
// programs (K_j, V_j; each query head's visited query blocks of m1 rows, ascending) and the dQ
// programs (Q_i, dO_i, LSE_i, D_i; the visited K/V blocks of n2 keys, ascending), program_id(0)
// fastest, then the batch, then the K/V head.
void flex_backward(std::vector<SimKernel>& out, const Shape& s, const Mask& mask, const FlashOptions& opt,
                   const KernelTraits& traits, const FlashBuffers& buf, u64 e) {
  const KernelTraits::FlexBwdBlocks& b = traits.flex_bwd;
  // The MMAs at the head dims padded to a power of two, as flex_bwd counts them.
  const double dr = static_cast<double>(triton_padded_dim(s.d)), dvr = static_cast<double>(triton_padded_dim(s.dv));
  const FlashGeometry g1{s, mask, b.m1, b.n1, ceil_div(s.n, b.m1), ceil_div(s.nk, b.n1), e, opt.density, opt.sigmoid};
  const FlashGeometry g2{s, mask, b.m2, b.n2, ceil_div(s.n, b.m2), ceil_div(s.nk, b.n2), e, opt.density, opt.sigmoid};
  SimKernel pre;
  pre.name = "flex_bwd_delta";
  pre.ctas = (Count(s.batch) * s.heads * g2.tr).v;
  pre.program = [g2, buf](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g2.s;
    const u64 i = cta % g2.tr, bb = (cta / g2.tr) % s.batch, h = cta / (g2.tr * s.batch), rows = g2.rows(i);
    Step st;
    g2.q_tile(st, "dO", buf.dout, bb, h, i * g2.br, rows, s.dv, false);
    g2.q_tile(st, "O", buf.o, bb, h, i * g2.br, rows, s.dv, false);
    st.write("D", g2.stat_addr(buf.delta, bb, h, i * g2.br), rows * kStat);
    steps.push_back(st);
  };
  out.push_back(std::move(pre));

  const u64 dkv = g1.tc, dq = g2.tr * s.group(), programs = dkv + dq;
  const BlockRange t = g1.touched();
  SimKernel k;
  k.name = "flex_attention_backward";
  k.ctas = (Count(s.batch) * s.kv_heads * programs).v;
  k.smem = {{"held tiles and stages", traits.smem_bytes}};  // as the closed form (impl.cpp flexattention_traits)
  k.program = [g1, g2, buf, t, dkv, programs, dr, dvr](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g1.s;
    const u64 pid = cta % programs, bb = (cta / programs) % s.batch, kvh = cta / (programs * s.batch);
    const auto q_rows = [&](Step& st, const FlashGeometry& g, u64 h, u64 i) {
      const u64 rows = g.rows(i);
      g.q_tile(st, "Q", buf.q, bb, h, i * g.br, rows, s.d, false);
      g.q_tile(st, "dO", buf.dout, bb, h, i * g.br, rows, s.dv, false);
      st.read("LSE", g.stat_addr(buf.lse, bb, h, i * g.br), rows * kStat);
      st.read("D", g.stat_addr(buf.delta, bb, h, i * g.br), rows * kStat);
    };
    if (pid < dkv) {  // dK/dV of key block j
      const u64 j = pid;
      if (t.empty() || j < t.first || j > t.last) return;
      const u64 cols = g1.cols(j);
      Step first;
      g1.kv_tile(first, "K", buf.k, bb, kvh, j * g1.bc, cols, s.d, false);
      g1.kv_tile(first, "V", buf.v, bb, kvh, j * g1.bc, cols, s.dv, false);
      steps.push_back(first);
      for (u64 gq = 0; gq < s.group(); ++gq) {
        for (u64 i = 0; i < g1.tr; ++i) {
          if (!g1.visited(i, j)) continue;
          Step st;
          q_rows(st, g1, kvh * s.group() + gq, i);
          const double area = static_cast<double>(g1.rows(i) * cols);
          st.tensor = static_cast<float>(2 * area * (2 * dr + 2 * dvr));
          st.sfu = static_cast<float>(area);
          st.fp32 = static_cast<float>(4 * area);
          steps.push_back(st);
        }
      }
      Step last;
      g1.kv_tile(last, "dK", buf.dk, bb, kvh, j * g1.bc, cols, s.d, true);
      g1.kv_tile(last, "dV", buf.dv, bb, kvh, j * g1.bc, cols, s.dv, true);
      steps.push_back(last);
      return;
    }
    const u64 q = pid - dkv, h = kvh * s.group() + q / g2.tr, i = q % g2.tr;  // dQ of query block i of head h
    Step first;
    q_rows(first, g2, h, i);
    steps.push_back(first);
    for (u64 j = 0; j < g2.tc; ++j) {
      if (!g2.visited(i, j)) continue;
      const u64 cols = g2.cols(j);
      Step st;
      g2.kv_tile(st, "K", buf.k, bb, kvh, j * g2.bc, cols, s.d, false);
      g2.kv_tile(st, "V", buf.v, bb, kvh, j * g2.bc, cols, s.dv, false);
      const double area = static_cast<double>(g2.rows(i) * cols);
      st.tensor = static_cast<float>(2 * area * (2 * dr + dvr));
      st.sfu = static_cast<float>(area);
      st.fp32 = static_cast<float>(4 * area);
      steps.push_back(st);
    }
    Step last;
    g2.q_tile(last, "dQ", buf.dq, bb, h, i * g2.br, g2.rows(i), s.d, true);
    steps.push_back(last);
  };
  out.push_back(std::move(k));
}

void flash2_backward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  const bool sig = g.sigmoid;
  SimKernel pre;
  pre.name = sig ? "flash_sigmoid_bwd_zero_dq" : "flash2_bwd_preprocess";
  pre.ctas = (Count(s.batch) * s.heads * g.tr).v;
  pre.program = [g, buf, sig](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 i = cta % g.tr, b = (cta / g.tr) % s.batch, h = cta / (g.tr * s.batch);
    const u64 rows = g.rows(i);
    Step st;
    if (!sig) {
      g.q_tile(st, "dO", buf.dout, b, h, i * g.br, rows, s.dv, false);
      g.q_tile(st, "O", buf.o, b, h, i * g.br, rows, s.dv, false);
      st.write("D", g.stat_addr(buf.delta, b, h, i * g.br), rows * kStat);
    }
    st.write("dQacc", buf.dq_acc + ((b * s.heads + h) * s.n + i * g.br) * s.d * kStat, rows * s.d * kStat);
    steps.push_back(st);
  };
  out.push_back(std::move(pre));

  const BlockRange t = g.touched();
  SimKernel k;
  k.name = sig ? "flash_sigmoid_bwd" : "flash2_bwd";
  k.ctas = (Count(s.batch) * s.heads * g.tc).v;
  k.smem = g.tiles("dO");
  k.program = [g, buf, sig, t](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 j = cta % g.tc, b = (cta / g.tc) % s.batch, h = cta / (g.tc * s.batch), kvh = h / s.group();
    if (t.empty() || j < t.first || j > t.last) return;
    const u64 cols = g.cols(j);
    Step first;
    g.kv_tile(first, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
    g.kv_tile(first, "V", buf.v, b, kvh, j * g.bc, cols, s.dv, false);
    steps.push_back(first);
    for (u64 ii = g.tr; ii > 0; --ii) {  // m blocks from the last down, as flash-attention's backward
      const u64 i = ii - 1;
      if (!g.visited(i, j)) continue;
      const u64 rows = g.rows(i);
      Step st;
      g.q_tile(st, "Q", buf.q, b, h, i * g.br, rows, s.d, false);
      g.q_tile(st, "dO", buf.dout, b, h, i * g.br, rows, s.dv, false);
      if (!sig) {
        st.read("LSE", g.stat_addr(buf.lse, b, h, i * g.br), rows * kStat);
        st.read("D", g.stat_addr(buf.delta, b, h, i * g.br), rows * kStat);
      }
      const u64 dq = buf.dq_acc + ((b * s.heads + h) * s.n + i * g.br) * s.d * kStat;
      st.read("dQacc", dq, rows * s.d * kStat);  // atomic add: read-modify-write in L2
      st.write("dQacc", dq, rows * s.d * kStat);
      const double area = static_cast<double>(rows * cols);
      st.tensor = 2 * area * static_cast<double>(3 * s.d + 2 * s.dv);
      st.sfu = area;
      st.fp32 = 4 * area;
      steps.push_back(st);
    }
    dkv_step(steps, g, buf, b, h, j, cols);
  };
  out.push_back(std::move(k));
  flash_backward_tail(out, g, buf, "flash2");
}

// xFormers' backward in its own order (xformers_bwd): grid (splits, H, B); CTA j owns key blocks
// j, j + splits, ...; for each it walks the visited query blocks from the first (causal: the
// diagonal; non-causal with splits: block j, wrapping, getQueryStartShift). D over all queries
// first; per pair Q_i and dO_i twice, V_j and K_j (K_j for S once per key block up to d = 96), LSE_i,
// D_i, the fp32 dQ partial read (but the first key block without splits) and written, the last key
// block of a query block writing dQ at 16 bits instead.
void xformers_backward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  const u64 splits = xformers_splits(Count(s.batch * s.heads).v, s.nk, g.bc, g.tc);
  const Count rows = Count(s.batch) * s.heads * s.n;
  if (splits > 1) out.push_back(elementwise("xformers_bwd_zero_workspace", rows * s.d, {{buf.dq_acc, kStat, true, "dQacc"}}, 0, 0));
  const BlockRange t = g.touched();
  SimKernel k;
  k.name = "xformers_bwd";
  k.ctas = (Count(s.batch) * s.heads * splits).v;
  k.smem = g.tiles("dO");
  const bool reload_k = std::max(s.d, s.dv) > 3 * 32;
  k.program = [g, buf, t, splits, reload_k](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 j0 = cta % splits, h = (cta / splits) % s.heads, b = cta / (splits * s.heads), kvh = h / s.group();
    Step delta;  // D = rowsum(dO o O) over every query of the head
    g.q_tile(delta, "dO", buf.dout, b, h, 0, s.n, s.dv, false);
    g.q_tile(delta, "O", buf.o, b, h, 0, s.n, s.dv, false);
    delta.write("D", g.stat_addr(buf.delta, b, h, 0), s.n * kStat);
    delta.fp32 = static_cast<float>(2 * s.n * s.dv);
    steps.push_back(delta);
    for (u64 j = j0; !t.empty() && j < g.tc; j += splits) {
      if (j < t.first || j > t.last) continue;
      const u64 cols = g.cols(j);
      u64 first_i = g.tr, last_i = 0;  // the visited query blocks of key block j
      for (u64 i = 0; i < g.tr; ++i) {
        if (g.visited(i, j)) first_i = std::min(first_i, i), last_i = i;
      }
      if (first_i == g.tr) continue;
      if (!reload_k) {
        Step kj;
        g.kv_tile(kj, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
        steps.push_back(kj);
      }
      const bool causal = g.mask.kind != MaskKind::none;
      const u64 span = last_i - first_i + 1, shift = !causal && splits > 1 ? j % span : 0;
      for (u64 n = 0; n < span; ++n) {
        const u64 i = first_i + (shift + n) % span;
        if (!g.visited(i, j)) continue;
        const u64 rows = g.rows(i), r0 = i * g.br;
        Step a;  // S = K Qᵀ, P; dV += Pᵀ dO; dP = dO Vᵀ
        g.q_tile(a, "Q", buf.q, b, h, r0, rows, s.d, false);
        if (reload_k) g.kv_tile(a, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
        a.read("LSE", g.stat_addr(buf.lse, b, h, r0), rows * kStat);
        a.read("D", g.stat_addr(buf.delta, b, h, r0), rows * kStat);
        g.q_tile(a, "dO", buf.dout, b, h, r0, rows, s.dv, false);
        g.q_tile(a, "dO", buf.dout, b, h, r0, rows, s.dv, false);
        g.kv_tile(a, "V", buf.v, b, kvh, j * g.bc, cols, s.dv, false);
        const double area = static_cast<double>(rows * cols);
        a.tensor = static_cast<float>(2 * area * static_cast<double>(s.d + 2 * s.dv));
        a.sfu = static_cast<float>(area);
        a.fp32 = static_cast<float>(4 * area);
        steps.push_back(a);
        Step c;  // dQ += dS K under the lock; dK += dSᵀ Q
        g.kv_tile(c, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
        const u64 dq = buf.dq_acc + ((b * s.heads + h) * s.n + r0) * s.d * kStat;
        const bool first_block = splits == 1 && j == 0, last_block = g.tc <= j + 1 || !g.visited(i, j + 1);
        if (splits > 1 || !first_block) c.read("dQacc", dq, rows * s.d * kStat);
        if (last_block) g.q_tile(c, "dQ", buf.dq, b, h, r0, rows, s.d, true);
        else c.write("dQacc", dq, rows * s.d * kStat);
        g.q_tile(c, "Q", buf.q, b, h, r0, rows, s.d, false);
        c.tensor = static_cast<float>(2 * area * static_cast<double>(2 * s.d));
        steps.push_back(c);
      }
      dkv_step(steps, g, buf, b, h, j, cols);
    }
  };
  out.push_back(std::move(k));
  gqa_reduce_kernel(out, g, buf);  // no dQ conversion: the last key block writes dQ at 16 bits
}

// FlashAttention Alg. 1: one CTA per head, grid (batch, heads) as flash-attention v1 launches it.
// With `splits` > 1 (flash-attention v1.0.9's grid (b, h, num_splits), as predict chose) CTA z
// owns the query steps i ≡ z (mod splits) and reads all of K and V; `fa1_state` carries O in fp32
// (o_tmp) with the log-sum-exp instead of O, l and m (fmha_fprop_kernel_1xN.h), as flash1_fwd counts.
void flash1_forward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf, u64 splits = 1,
                    bool fa1_state = false) {
  const Shape& s = g.s;
  const BlockRange t = g.touched();
  SimKernel k;
  k.name = "flash1_fwd";
  k.ctas = (Count(s.batch) * s.heads * splits).v;
  k.smem = g.tiles("O");
  k.program = [g, buf, t, splits, fa1_state](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    // grid (batch, heads, splits), blockIdx.x fastest
    const u64 b = cta % s.batch, h = (cta / s.batch) % s.heads, z = cta / (s.batch * s.heads), kvh = h / s.group();
    // The row state of rows r0..r0+rows: O, l, m (Alg. 1) or o_tmp in fp32 and the LSE (v1.0.9).
    const auto state = [&](Step& st, u64 r0, u64 rows, bool write) {
      if (fa1_state) {
        st.add("O", buf.o_acc + ((b * s.n + r0) * s.heads + h) * s.dv * kStat, s.dv * kStat, rows, s.heads * s.dv * kStat, write);
        st.add("LSE", g.stat_addr(buf.lse, b, h, r0), rows * kStat, 1, 0, write);
        return;
      }
      g.q_tile(st, "O", buf.o, b, h, r0, rows, s.dv, write);
      st.add("l", g.stat_addr(buf.l, b, h, r0), rows * kStat, 1, 0, write);
      st.add("m", g.stat_addr(buf.m, b, h, r0), rows * kStat, 1, 0, write);
    };
    if (splits == 1) {
      Step init;  // Alg. 1 line 2: O = 0, l = 0, m = -inf in HBM
      state(init, 0, s.n, true);
      steps.push_back(init);
    } else {
      for (u64 i = z; i < g.tr; i += splits) {
        Step init;
        state(init, i * g.br, g.rows(i), true);
        steps.push_back(init);
      }
    }
    for (u64 j = t.first; !t.empty() && j <= t.last; ++j) {
      const u64 cols = g.cols(j);
      kv_step(steps, g, buf, b, kvh, j, cols);
      for (u64 i = z; i < g.tr; i += splits) {
        if (!g.visited(i, j)) continue;
        const u64 rows = g.rows(i), r0 = i * g.br;
        Step st;
        g.q_tile(st, "Q", buf.q, b, h, r0, rows, s.d, false);
        state(st, r0, rows, false);
        state(st, r0, rows, true);
        const double area = static_cast<double>(rows * cols);
        st.tensor = 2 * area * static_cast<double>(s.d + s.dv);
        st.sfu = area;
        st.fp32 = 3 * area + 2.0 * static_cast<double>(rows * s.dv);
        steps.push_back(st);
      }
    }
  };
  out.push_back(std::move(k));
}

// flash-attention v1.0.9's backward (fa1_bwd), in the grid predict chose:
//   plain (b, h): the first key block reads O and writes D; dq_tmp in fp32 carried between key
//     blocks (not read by the first, written at 16 bits by the last that visits the row);
//   sequence-parallel (b, h, key block): dq_tmp zeroed, D by fmha_bwd_dot_do_o (128-row CTAs),
//     fp32 atomics per pair, then dq.copy_.
void fa1_v1_backward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf, bool parallel) {
  const Shape& s = g.s;
  const BlockRange t = g.touched();
  const Count rows_all = Count(s.batch) * s.heads * s.n;
  if (parallel) {
    out.push_back(elementwise("flash1_bwd_zero_dq", rows_all * s.d, {{buf.dq_acc, kStat, true, "dQacc"}}, 0, 0));
    SimKernel dot;
    dot.name = "flash1_bwd_dot_do_o";
    const u64 row_blocks = ceil_div(s.n, 128);
    dot.ctas = (Count(s.batch) * s.heads * row_blocks).v;
    dot.program = [g, buf, row_blocks](u64 cta, std::vector<Step>& steps) {
      const Shape& s = g.s;
      const u64 rb = cta % row_blocks, bh = cta / row_blocks, b = bh % s.batch, h = bh / s.batch;
      const u64 r0 = rb * 128, rows = min_u(s.n, r0 + 128) - r0;
      Step st;
      g.q_tile(st, "dO", buf.dout, b, h, r0, rows, s.dv, false);
      g.q_tile(st, "O", buf.o, b, h, r0, rows, s.dv, false);
      st.write("D", g.stat_addr(buf.delta, b, h, r0), rows * kStat);
      st.fp32 = static_cast<float>(2 * rows * s.dv);
      steps.push_back(st);
    };
    out.push_back(std::move(dot));
  }
  SimKernel k;
  k.name = parallel ? "flash1_bwd_seqparallel" : "flash1_bwd";
  k.ctas = (Count(s.batch) * s.heads * (parallel ? g.tc : 1)).v;
  k.smem = {{"K", min_u(g.bc, s.nk) * s.d * g.e}, {"V", min_u(g.bc, s.nk) * s.dv * g.e},
            {"Q, dO", min_u(g.br, s.n) * (s.d + s.dv) * g.e}};
  k.program = [g, buf, t, parallel](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 b = cta % s.batch, h = (cta / s.batch) % s.heads, kvh = h / s.group();
    const u64 j_only = cta / (s.batch * s.heads);  // the key block of a sequence-parallel CTA
    const u64 dq_base = buf.dq_acc + (b * s.heads + h) * s.n * s.d * kStat;
    for (u64 j = t.first; !t.empty() && j <= t.last; ++j) {
      if (parallel && j != j_only) continue;
      const u64 cols = g.cols(j);
      kv_step(steps, g, buf, b, kvh, j, cols);
      for (u64 i = 0; i < g.tr; ++i) {
        if (!g.visited(i, j)) continue;
        const u64 rows = g.rows(i), r0 = i * g.br;
        const bool first = !parallel && j == t.first, last = !parallel && (j == t.last || !g.visited(i, j + 1));
        Step st;
        g.q_tile(st, "Q", buf.q, b, h, r0, rows, s.d, false);
        g.q_tile(st, "dO", buf.dout, b, h, r0, rows, s.dv, false);
        st.read("LSE", g.stat_addr(buf.lse, b, h, r0), rows * kStat);
        if (first) {  // D = rowsum(dO o O) from O, written for the later blocks
          g.q_tile(st, "O", buf.o, b, h, r0, rows, s.dv, false);
          st.write("D", g.stat_addr(buf.delta, b, h, r0), rows * kStat);
        } else {
          st.read("D", g.stat_addr(buf.delta, b, h, r0), rows * kStat);
        }
        const u64 dq = dq_base + r0 * s.d * kStat;
        if (!first) st.read("dQacc", dq, rows * s.d * kStat);
        if (last) g.q_tile(st, "dQ", buf.dq, b, h, r0, rows, s.d, true);
        else st.write("dQacc", dq, rows * s.d * kStat);
        const double area = static_cast<double>(rows * cols);
        st.tensor = static_cast<float>(2 * area * static_cast<double>(3 * s.d + 2 * s.dv));
        st.sfu = static_cast<float>(area);
        st.fp32 = static_cast<float>(4 * area);
        steps.push_back(st);
      }
      dkv_step(steps, g, buf, b, h, j, cols);
    }
  };
  out.push_back(std::move(k));
  if (parallel) {
    out.push_back(elementwise("flash1_bwd_copy_dq", rows_all * s.d, {{buf.dq_acc, kStat, false, "dQacc"}, {buf.dq, g.e, true, "dQ"}}, 0, 0));
  }
  // v1.0.9 takes one K/V head per query head: dK and dV are written per query head, as fa1_bwd counts.
}

// FlashAttention App. B, Alg. 4.
void flash1_backward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  const BlockRange t = g.touched();
  SimKernel k;
  k.name = "flash1_bwd";
  k.ctas = (Count(s.batch) * s.heads).v;
  k.smem = {{"K", min_u(g.bc, s.nk) * s.d * g.e}, {"V", min_u(g.bc, s.nk) * s.dv * g.e},
            {"Q, O, dO", min_u(g.br, s.n) * (s.d + 2 * s.dv) * g.e}};
  k.program = [g, buf, t](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 b = cta % s.batch, h = cta / s.batch, kvh = h / s.group();  // grid (batch, heads)
    const u64 dq_base = buf.dq_acc + (b * s.heads + h) * s.n * s.d * kStat;
    Step init;
    init.write("dQacc", dq_base, s.n * s.d * kStat);
    steps.push_back(init);
    for (u64 j = t.first; !t.empty() && j <= t.last; ++j) {
      const u64 cols = g.cols(j);
      kv_step(steps, g, buf, b, kvh, j, cols);
      for (u64 i = 0; i < g.tr; ++i) {
        if (!g.visited(i, j)) continue;
        const u64 rows = g.rows(i), r0 = i * g.br;
        Step st;
        g.q_tile(st, "Q", buf.q, b, h, r0, rows, s.d, false);
        g.q_tile(st, "O", buf.o, b, h, r0, rows, s.dv, false);
        g.q_tile(st, "dO", buf.dout, b, h, r0, rows, s.dv, false);
        st.read("l", g.stat_addr(buf.l, b, h, r0), rows * kStat);
        st.read("m", g.stat_addr(buf.m, b, h, r0), rows * kStat);
        st.read("dQacc", dq_base + r0 * s.d * kStat, rows * s.d * kStat);
        st.write("dQacc", dq_base + r0 * s.d * kStat, rows * s.d * kStat);
        const double area = static_cast<double>(rows * cols);
        st.tensor = 2 * area * static_cast<double>(3 * s.d + 2 * s.dv);
        st.sfu = area;
        st.fp32 = 4 * area + 2.0 * static_cast<double>(rows * s.dv);
        steps.push_back(st);
      }
      Step wr;
      g.dkv_tile(wr, "dK", buf.dk_exp, buf.dk, b, h, j * g.bc, cols, s.d);
      g.dkv_tile(wr, "dV", buf.dv_exp, buf.dv, b, h, j * g.bc, cols, s.dv);
      steps.push_back(wr);
    }
  };
  out.push_back(std::move(k));
  flash_backward_tail(out, g, buf, "flash1");
}


}  // namespace

// The closed form's kernel of that name, so the schedule runs the grid predict chose; null if none.
static const KernelCost* formula_kernel(const Scheduler& sc, std::string_view name) {
  const Prediction& f = sc.formula();
  for (int i = 0; i < f.kernel_count(); ++i) {
    if (f.kernels[static_cast<std::size_t>(i)].name == name) return &f.kernels[static_cast<std::size_t>(i)];
  }
  return nullptr;
}

void flash_family(Scheduler& sc, const Shape& s, const Mask& mask, const FlashOptions& opt, bool fa1) {
  const Workload& w = sc.w();
  if (library_decode_splits(w, mask, opt, fa1)) {  // as predict chose
    split_kv(sc, "flash2_fwd_splitkv", s.batch, s.kv_heads, s.group(), s.nk, s.d, s.dv, true, s.d * sc.e(), s.dv * sc.e(), s.d + s.dv);
    return;
  }
  std::vector<SimKernel>& out = sc.out();
  const u64 e = sc.e(), bm = w.count("block_m"), bn = w.count("block_n");
  FlashGeometry g{s, mask, bm, bn, ceil_div(s.n, bm), ceil_div(s.nk, bn), e, opt.density, opt.sigmoid, opt.gate};
  FlashBuffers buf = flash_buffers(sc.as(), s, e);
  buf.gate = opt.gate_buffer;
  if (w.pass != Pass::bwd && fa1) {
    // flash-attention v1.0.9's split grid and fp32 row state where the profile runs its kernel, with
    // the splits predict chose (flash1_fwd's CTAs over B·H).
    const auto ft = impl_traits(w, KernelRole::fwd, std::max(s.d, s.dv));
    const bool v1 = ft && ft->fa1_kernel;
    const KernelCost* fk = v1 ? formula_kernel(sc, "flash1_fwd") : nullptr;
    flash1_forward(out, g, buf, fk ? std::max<u64>(1, fk->ctas.v / (Count(s.batch) * s.heads).v) : 1, v1);
  }
  if (w.pass != Pass::bwd && !fa1) {
    g.kv_cluster = kv_multicast(impl_traits(w, KernelRole::fwd, std::max(s.d, s.dv)), mask, g.tr);  // as flash2_fwd
    flash2_forward(out, g, buf);
  }
  if (w.pass == Pass::fwd) return;
  if (fa1) {
    // v1.0.9's grids where the profile runs its kernel, as predict chose (fa1_bwd's kernel names).
    const bool plain = formula_kernel(sc, "flash1_bwd") != nullptr, parallel = formula_kernel(sc, "flash1_bwd_seqparallel") != nullptr;
    const auto bt = impl_traits(w, KernelRole::bwd, std::max(s.d, s.dv));
    if (bt && bt->fa1_kernel && bt->smem_bytes != 0 && (plain || parallel)) fa1_v1_backward(out, g, buf, parallel);
    else flash1_backward(out, g, buf);
    return;
  }
  const BlockSizes bb = backward_blocks(w, bm, bn, std::max(s.d, s.dv));  // as predict chose
  const FlashGeometry gb{s, mask, bb.br, bb.bc, ceil_div(s.n, bb.br), ceil_div(s.nk, bb.bc), e, opt.density, opt.sigmoid};
  const auto bt = impl_traits(w, KernelRole::bwd, std::max(s.d, s.dv));
  if (bt && bt->flex_bwd.m1 != 0 && !opt.sigmoid) flex_backward(out, s, mask, opt, *bt, buf, e);
  else if (bt && bt->cutlass_bwd && opt.density >= 1.0 && !opt.sigmoid) xformers_backward(out, gb, buf);
  else flash2_backward(out, gb, buf);
}

// ---- the variants -------------------------------------------------------------------------------

namespace {

// Decode over the rolling buffer (Mistral 7B §2): the cache holds the last min(Nk, W) tokens and
// the new token attends every one of them, so no mask is left: where the implementation decodes
// through flash-attention's own decode path (library_decode_splits: split-KV, GQA heads packed),
// the call is that decode over the buffer. The shape of it, or nk = 0 where that is not the case
// (prefill, or an implementation with no such path: attnio's kernel runs its window mask over the
// keys). A server that keeps the whole cache and passes the window to flash_attn_with_kvcache
// (vLLM) loses the packing instead: flash_api.cpp checks window_size_left < 0 before it drops a
// window as wide as the cache (0251105, lines 1319 and 1327).
Shape rolling_decode(const Workload& w, const Shape& s) {
  if (w.phase != Phase::decode) return Shape{};
  Shape r = s;
  r.nk = min_u(s.nk, w.count("window"));
  if (!library_decode_splits(w, attention_mask(w, r.n, r.nk), {}, false)) return Shape{};
  return r;
}

Mask window_mask(const Workload& w, const Shape& s) {
  Mask m = attention_mask(w, s.n, s.nk);
  m.kind = causal_effective(w) ? MaskKind::window_causal : MaskKind::band;
  m.window = w.count("window");
  return m;
}

// What a sliding-window call runs: the library's decode over the rolling buffer (no mask left), or
// the window's mask over the keys.
std::pair<Shape, Mask> window_call(const Workload& w, const Shape& s) {
  if (const Shape r = rolling_decode(w, s); r.nk != 0) return {r, attention_mask(w, r.n, r.nk)};
  return {s, window_mask(w, s)};
}

// Decode over a block-sparse layout: the new token's row of the layout (row 0,
// traits::block_sparse_keep) keeps about s of the key blocks. Where the implementation decodes
// through flash-attention's own decode path (library_decode_splits), the call is that decode over
// the kept blocks: a serving stack lists the kept pages of the cache in the block table it gives
// flash_attn_with_kvcache, and the kernel reads them as one shorter cache, the group's heads
// packed, the keys split. Its pages must hold a multiple of 256 keys (flash_api.cpp:1305 @0251105,
// "Paged KV cache block size must be divisible by 256"), so the layout's blocks are 256 keys (the
// least common multiple with the split kernel's key block). A layout that keeps none of the row's
// blocks still keeps the newest one, where the new token's own key is. nk = 0 where that is not
// the case (prefill, or an implementation with no such path: the sparse mask over the keys, one
// query head per CTA).
u64 sparse_decode_block(const Workload& w, const Shape& s) {
  const u64 bc = w.count("block_n") != 0 ? w.count("block_n") : impl_tiles(w, KernelRole::splitkv, std::max(s.d, s.dv)).bc;
  if (bc == 0) return 0;
  return std::lcm(bc, u64{256});
}
Shape sparse_decode(const Workload& w, const Shape& s) {
  if (w.phase != Phase::decode) return Shape{};
  if (!library_decode_splits(w, attention_mask(w, s.n, s.nk), {}, false)) return Shape{};
  const u64 page = sparse_decode_block(w, s);
  if (page == 0) return Shape{};
  const u64 tc = ceil_div(s.nk, page);
  const double density = w.real("block_density");
  u64 kept = 0;
  for (u64 j = 0; j < tc; ++j) {
    if (traits::block_sparse_keep(density, 0, j, tc)) kept += min_u(s.nk, (j + 1) * page) - j * page;
  }
  if (kept == 0) kept = s.nk - (tc - 1) * page;  // the newest block
  Shape r = s;
  r.nk = kept;
  return r;
}

// What a block-sparse call runs: the library's decode over the kept blocks, or the sparse layout.
std::pair<Shape, FlashOptions> sparse_call(const Workload& w, const Shape& s) {
  if (const Shape r = sparse_decode(w, s); r.nk != 0) return {r, FlashOptions{}};
  return {s, FlashOptions{w.real("block_density"), false}};
}

// FlashSigmoid in decode (apple/ml-sigmoid-attention csrc/flash_sigmoid/flash_api.cpp @533c2691,
// mha_fwd): the fork keeps flash-attention's GQA swap (seqlenq_ngroups_swapped: one query token,
// g > 1, no window, head dim a multiple of 8), so the group's g heads are the query rows of one
// K/V head, but its set_params_splitkv always sets one split ("Flash sigmoid does not currently
// support split kv attention"): the forward kernel over B·Hkv m-blocks of g rows, each walking every
// key, no mask left (mha_fwd drops causal for one query token). Where the profile decodes through
// the library's swap (KernelTraits::decode_splitkv: flash-attention >= 2.2, which FlashSigmoid
// forks); the shape as given otherwise.
Shape sigmoid_shape(const Workload& w, const Shape& s) {
  if (w.phase != Phase::decode || s.group() <= 1 || s.d % 8 != 0) return s;
  const auto t = impl_traits(w, KernelRole::fwd, std::max(s.d, s.dv));
  if (!t || !t->decode_splitkv) return s;
  return Shape{s.batch, s.kv_heads, s.kv_heads, s.group() * s.n, s.nk, s.d, s.dv};
}
Mask sigmoid_mask(const Workload& w, const Shape& call, const Shape& s) {
  return call.n != s.n ? Mask{} : attention_mask(w, s.n, s.nk);
}

// LongNet §2.2: each segment of w tokens keeps every r-th token, so attention runs over N/w
// independent sequences of w/r tokens; heads take different offsets.
Shape dilated_shape(const Workload& w) {
  Shape seg = shape_of(w);
  seg.batch = (Count(seg.batch) * (w.seq / w.count("segment"))).v;
  seg.n = seg.nk = w.count("segment") / w.count("dilation");
  return seg;
}
Mask dilated_mask(const Workload& w) {
  Mask m;
  if (w.causal) m.kind = MaskKind::causal;
  return m;
}

void check_flash(const Workload& w, const Device&) { check_block_tiles(w); }
void check_dilated(const Workload& w, const Device&) {
  check_block_tiles(w);
  if (w.count("segment") % w.count("dilation") != 0) throw InputError("dilated: --segment must be divisible by --dilation");
  if (w.seq % w.count("segment") != 0) throw InputError("dilated: --seq must be divisible by --segment");
  if (w.kv_len != w.seq) throw InputError("dilated: --kv-len must equal --seq (self-attention within segments)");
}

void tiles(Workload& w) { flash_kernel_tiles(w, std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim)); }
// FlashAttention-2's own decode runs its split-KV kernel (library_decode_splits), whose tiles are
// not the prefill kernel's: kBlockM 64 and kBlockN 256/128/64 by head dim
// (flash_fwd_launch_template.h run_mha_fwd_splitkv_dispatch; the Nsight Compute digests in
// validation/sources/counters.csv name Flash_fwd_kernel_traits<128, 64, 128, 4> at d = 128).
void flash2_tiles(Workload& w) {
  const u64 d = std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim);
  const Shape s = shape_of(w);
  if (library_decode_splits(w, attention_mask(w, s.n, s.nk), {}, false)) {
    fill_tiles(w, KernelRole::splitkv, d);
    return;
  }
  flash_kernel_tiles(w, d);
}

// block-sparse's: the split-KV kernel's where its decode is flash-attention's decode over the kept
// blocks (sparse_decode), the forward kernel's otherwise.
void sparse_tiles(Workload& w) {
  const Shape s = shape_of(w);
  if (w.phase == Phase::decode && library_decode_splits(w, attention_mask(w, s.n, s.nk), {}, false)) {
    fill_tiles(w, KernelRole::splitkv, std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim));
    return;
  }
  tiles(w);
}

// The sliding window's: the split-KV kernel's where its decode is flash-attention's decode over the
// rolling buffer (rolling_decode), the forward kernel's otherwise.
void window_tiles(Workload& w) {
  if (rolling_decode(w, shape_of(w)).nk != 0) {
    fill_tiles(w, KernelRole::splitkv, std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim));
    return;
  }
  tiles(w);
}

std::string_view io_flash(const Workload& w) {
  return w.phase == Phase::decode ? "Θ(N_kv·d) per head" : "Θ(N²·d²/M) per head";
}

std::string fa2_text(const Prediction& p, const std::string& extra) {
  const Workload& w = p.workload;
  const u64 e = dtype_bytes(w.dtype);
  return "FlashAttention-2 §3.1 (FA2 loop order): block sizes Br = " + num(p.block_m) + ", Bc = " + num(p.block_n) +
         " (Alg. 1 from M = " + num(w.sram_bytes / e) +
         " elements unless given). Q is read once and O written once; each of the ⌈N/Br⌉ Q-block CTAs of a head "
         "reads the K/V blocks it needs, so K/V cross L2 ⌈N/Br⌉ times per head: 2·N·d·e + ⌈N/Br⌉·2·Nk·d·e. Those "
         "re-reads hit L2 when the K/V of the heads resident together fit (" +
         (w.l2 ? std::string("modeled") : std::string("turned off with --l2 off")) + ")." + extra + "\n";
}

// flash1 ---------------------------------------------------------------------------------------------
constexpr const ParamSpec* kFlashParams[] = {&kBlockM, &kBlockN, &kClaShare};
const VariantDescriptor kFlash1Desc{
    .name = "flash1",
    .summary = "fused tiled attention, FA1 loop order: outer loop over K/V blocks (FlashAttention Alg. 1)",
    .sources = "Dao et al. 2022, FlashAttention, Alg. 1, Thm 2; backward App. B.4 Alg. 4",
    .params = kFlashParams, .backward = true, .cpu_reference = true, .kernel_fwd = "flash1_fwd",
    .check = check_flash,
    .evaluate = [](Evaluator& ev) { flash_passes(ev, ev.shape(), attention_mask(ev.w(), ev.shape().n, ev.shape().nk), {}, true); },
    .io_complexity = io_flash,
    .schedule = [](Scheduler& sc) { flash_family(sc, sc.shape(), attention_mask(sc.w(), sc.shape().n, sc.shape().nk), {}, true); },
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      const BlockSizes alg1 = flash_block_sizes(w.sram_bytes, dtype_bytes(w.dtype), std::max(w.head_dim, w.v_head_dim));
      const bool own = w.impl != nullptr && !w.impl->ideal && (p.block_n != alg1.bc || p.block_m != alg1.br);
      return "FlashAttention Alg. 1 (FA1 loop order): block sizes " +
             (own ? "Br = " + num(p.block_m) + ", Bc = " + num(p.block_n) +
                        (w.count("block_m") != 0 || w.count("block_n") != 0 ? " (given; " : " (the implementation's tiles; ") +
                        "Alg. 1's Bc = ⌈M/4d⌉, Br = min(Bc, d) would give " + num(alg1.br) +
                        " x " + num(alg1.bc) + ")"
                  : "Bc = ⌈M/4d⌉ = " + num(p.block_n) + ", Br = min(⌈M/4d⌉, d) = " + num(p.block_m)) +
             " with M = " + num(w.sram_bytes / dtype_bytes(w.dtype)) +
             " elements. K_j, V_j are read once; for each of the Tc = ⌈Nk/Bc⌉ K/V blocks every Q block "
             "reads Q_i, O_i, l_i, m_i and writes O_i, l_i, m_i: Θ(N²d²/M) (Theorem 2). Doubling M halves Tc and so the "
             "Q/O traffic.\n";
    }};

// flash2 ---------------------------------------------------------------------------------------------
const VariantDescriptor kFlash2Desc{
    .name = "flash2",
    .summary = "fused tiled attention, FA2 loop order: outer loop over Q blocks (FlashAttention-2 Alg. 1)",
    .sources = "Dao 2023, FlashAttention-2, §3.1 Alg. 1, backward §3.1.2 Alg. 2",
    .params = kFlashParams, .backward = true, .cpu_reference = true, .kernel_fwd = "flash2_fwd", .kernel_bwd = "flash2_bwd",
    .check = check_flash,
    .evaluate = [](Evaluator& ev) { flash_passes(ev, ev.shape(), attention_mask(ev.w(), ev.shape().n, ev.shape().nk), {}, false); },
    .io_complexity = io_flash,
    .schedule = [](Scheduler& sc) { flash_family(sc, sc.shape(), attention_mask(sc.w(), sc.shape().n, sc.shape().nk), {}, false); },
    .kernel_tiles = flash2_tiles,
    .derivation = [](const Prediction& p) { return fa2_text(p, ""); }};

// block-sparse ---------------------------------------------------------------------------------------
constexpr const ParamSpec* kBlockSparseParams[] = {&kBlockM, &kBlockN, &kClaShare, &kBlockDensity};
const VariantDescriptor kBlockSparseDesc{
    .name = "block-sparse",
    .summary = "flash2 visiting only a fraction s of the blocks (FlashAttention §3.3)",
    .sources = "Dao et al. 2022, FlashAttention, §3.3 and Prop. 4",
    .params = kBlockSparseParams, .backward = true, .kernel_fwd = "flash2_fwd_block_sparse",
    .check = check_flash,
    .evaluate = [](Evaluator& ev) {
      const auto [s, opt] = sparse_call(ev.w(), ev.shape());
      flash_passes(ev, s, attention_mask(ev.w(), s.n, s.nk), opt, false);
    },
    .io_complexity = [](const Workload& w) -> std::string_view {
      return sparse_decode(w, shape_of(w)).nk != 0 ? "Θ(s·N_kv·d) per K/V head" : "Θ(N·d + N²·d²·s/M) per head";
    },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "block_density", std::to_string(p.workload.real("block_density")).substr(0, 6));
      return s;
    },
    .schedule = [](Scheduler& sc) {
      const auto [s, opt] = sparse_call(sc.w(), sc.shape());
      flash_family(sc, s, attention_mask(sc.w(), s.n, s.nk), opt, false);
    },
    .kernel_tiles = sparse_tiles,
    .derivation = [](const Prediction& p) {
      const Shape r = sparse_decode(p.workload, shape_of(p.workload));
      if (r.nk != 0) {
        return fa2_text(p, " In decode the new token's row of the layout keeps " + num(r.nk) + " of the " +
                               num(p.workload.kv_len) + " keys (s = " + fmt("%.3g", p.workload.real("block_density")) +
                               " of the " + num(sparse_decode_block(p.workload, shape_of(p.workload))) +
                               "-key blocks, 256 keys at least: flash-attention's paged cache); listed as the pages of the cache's block table, "
                               "they are read by FlashAttention-2's decode (the split-KV kernel, the group's heads packed as "
                               "query rows) as one shorter cache.");
      }
      return fa2_text(p, " Only a fraction s = " + fmt("%.3g", p.workload.real("block_density")) +
                             " of the blocks is visited (FlashAttention Prop. 4).");
    }};

// sliding-window -------------------------------------------------------------------------------------
constexpr const ParamSpec* kWindowParams[] = {&kBlockM, &kBlockN, &kClaShare, &kWindow};
const VariantDescriptor kSlidingWindowDesc{
    .name = "sliding-window",
    .summary = "flash2 over a window of W keys, rolling-buffer KV cache (Mistral 7B §2)",
    .sources = "Jiang et al. 2023, Mistral 7B, §2; Beltagy et al. 2020, Longformer, §3.1 (non-causal band)",
    .params = kWindowParams, .backward = true, .cpu_reference = true, .kernel_fwd = "flash2_fwd_window", .kernel_bwd = "flash2_bwd_window",
    .check = check_flash,
    .evaluate = [](Evaluator& ev) {
      const auto [s, mask] = window_call(ev.w(), ev.shape());
      flash_passes(ev, s, mask, {}, false);
    },
    // Rolling buffer (Mistral §2): position i is stored at slot i mod W, so the cache holds min(Nk, W).
    .cache_bytes = [](const Workload& w) {
      return causal_effective(w) ? kv_cache_tokens(w, min_u(w.kv_len, w.count("window"))) : kv_cache_bytes(w);
    },
    .io_complexity = [](const Workload& w) -> std::string_view {
      return rolling_decode(w, shape_of(w)).nk != 0 ? "Θ(min(N_kv, W)·d) per K/V head" : "Θ(N·W·d²/M) per head";
    },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "window", std::to_string(p.workload.count("window")));
      return s;
    },
    .schedule = [](Scheduler& sc) {
      const auto [s, mask] = window_call(sc.w(), sc.shape());
      flash_family(sc, s, mask, {}, false);
    },
    .kernel_tiles = window_tiles,
    .derivation = [](const Prediction& p) {
      if (p.workload.phase == Phase::decode && rolling_decode(p.workload, shape_of(p.workload)).nk != 0) {
        return fa2_text(p, " In decode the rolling buffer holds the last min(Nk, W) = " +
                               num(min_u(p.workload.kv_len, p.workload.count("window"))) +
                               " tokens and the new query attends them all, so the call is FlashAttention-2's decode over the buffer"
                               " (the split-KV kernel, the group's heads packed as query rows; Mistral 7B §2).");
      }
      return fa2_text(p, " The window W = " + num(p.workload.count("window")) +
                             " bounds the K/V each Q block visits (Mistral 7B §2).");
    }};

// sigmoid --------------------------------------------------------------------------------------------
const VariantDescriptor kSigmoidDesc{
    .name = "sigmoid",
    .summary = "flash2 with sigmoid instead of softmax: no row max or sum (FlashSigmoid)",
    .sources = "Ramapuram et al. 2024, Theory, Analysis, and Best Practices for Sigmoid Self-Attention (FlashSigmoid)",
    .params = kFlashParams, .backward = true, .sigmoid_scores = true, .cpu_reference = true, .kernel_fwd = "flash2_fwd_sigmoid", .kernel_bwd = "flash2_bwd_sigmoid",
    .check = check_flash,
    .evaluate = [](Evaluator& ev) {
      const Shape call = sigmoid_shape(ev.w(), ev.shape());
      flash_passes(ev, call, sigmoid_mask(ev.w(), call, ev.shape()), {1.0, true}, false);
    },
    .io_complexity = io_flash,
    .schedule = [](Scheduler& sc) {
      const Shape call = sigmoid_shape(sc.w(), sc.shape());
      flash_family(sc, call, sigmoid_mask(sc.w(), call, sc.shape()), {1.0, true}, false);
    },
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) {
      const Shape s = shape_of(p.workload), call = sigmoid_shape(p.workload, s);
      if (call.n != s.n) {
        return fa2_text(p, " Sigmoid needs no row max or sum: no statistics written, no rescaling (FlashSigmoid). In decode "
                           "FlashSigmoid packs the group's " + num(s.group()) + " query heads as the query rows of one K/V "
                           "head, as flash-attention does, but never splits the keys: " + num(call.batch * call.heads) +
                           " CTAs, each walking all " + num(s.nk) + " keys.");
      }
      return fa2_text(p, " Sigmoid needs no row max or sum: no statistics written, no rescaling (FlashSigmoid).");
    }};

// dilated --------------------------------------------------------------------------------------------
constexpr const ParamSpec* kDilatedParams[] = {&kBlockM, &kBlockN, &kClaShare, &kSegment, &kDilation};
const VariantDescriptor kDilatedDesc{
    .name = "dilated",
    .summary = "dilated attention within segments (LongNet §2.2)",
    .sources = "Ding et al. 2023, LongNet, §2.2",
    .params = kDilatedParams, .decode = false, .backward = true,
    .check = check_dilated,
    .evaluate = [](Evaluator& ev) { flash_passes(ev, dilated_shape(ev.w()), dilated_mask(ev.w()), {}, false); },
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N·w·d²/(r²·M)) per head"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "segment", std::to_string(p.workload.count("segment")));
      put(s, "dilation", std::to_string(p.workload.count("dilation")));
      return s;
    },
    .schedule = [](Scheduler& sc) { flash_family(sc, dilated_shape(sc.w()), dilated_mask(sc.w()), {}, false); },
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) {
      return fa2_text(p, " Dilated: segments of w = " + num(p.workload.count("segment")) + " keep every r = " +
                             num(p.workload.count("dilation")) + "th token (LongNet §2.2).");
    }};

}  // namespace

const VariantDescriptor& flash1_variant() { return kFlash1Desc; }
const VariantDescriptor& flash2_variant() { return kFlash2Desc; }
const VariantDescriptor& block_sparse_variant() { return kBlockSparseDesc; }
const VariantDescriptor& sliding_window_variant() { return kSlidingWindowDesc; }
const VariantDescriptor& sigmoid_variant() { return kSigmoidDesc; }
const VariantDescriptor& dilated_variant() { return kDilatedDesc; }

}  // namespace attnio::detail
