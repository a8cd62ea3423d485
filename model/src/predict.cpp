// The analytic IO/FLOP model of every variant. Each cost_* function appends the kernels one layer
// launches; predict() then multiplies by the layers, applies the roofline per kernel and sums.
// Notation as in PHYSICS.md: B batch, H query heads, Hkv K/V heads, g = H/Hkv, N query length,
// Nk key length, d head dim, dv value head dim, e bytes per element, M on-chip SRAM per SM.
// FLOPs count a multiply-add as 2.
#include "attnio/model/predict.hpp"

#include "attnio/model/tile_traits.hpp"
#include "plan.hpp"

#include <algorithm>
#include <cmath>

namespace attnio {

namespace {

using namespace detail;
using u64 = std::uint64_t;
__extension__ typedef __int128 i128;  // GCC/Clang extension: exact sums before the 64-bit check

constexpr u64 kStatBytes = 4;  // softmax statistics, partial outputs and accumulators are fp32
using traits::kFlashWarps;
using traits::kGemmTile;
using traits::kGemmTileK;
using traits::kGemmStages;
using traits::kGemmWarpsPerOperand;
using traits::kElemsPerCta;
using traits::kSmallCtasPerSm;
using traits::kDecodeRowTile;

Count scaled(Count c, double s) {
  const double x = std::round(c.d() * s);
  if (!(x < 18446744073709551616.0)) Count::overflow();
  return static_cast<u64>(x);
}

// `times` identical launches of a kernel.
void scale_kernel(KernelCost& k, u64 times) {
  for (Count* c : {&k.tensor_flops, &k.fp32_flops, &k.sfu_ops, &k.hbm_read, &k.hbm_write, &k.l2_read, &k.l2_write,
                   &k.sram_read, &k.sram_write, &k.link_bytes, &k.ctas}) {
    *c = *c * times;
  }
  k.launches *= times;
}

// ---- the evaluator --------------------------------------------------------------------------

struct Shape {
  u64 batch, heads, kv_heads, n, nk, d, dv;
  u64 group() const { return heads / kv_heads; }
};

class Evaluator {
public:
  Evaluator(const Device& dev, const Workload& w, Prediction& out)
      : dev_(dev), w_(w), e_(dtype_bytes(w.dtype)), out_(out) {}

  const Device& dev() const { return dev_; }
  const Workload& w() const { return w_; }
  u64 e() const { return e_; }
  Prediction& out() { return out_; }

  KernelCost& add(std::string_view name, Count ctas, u64 ctas_per_sm) {
    if (out_.kernel_count == Prediction::kMaxKernels) {
      throw InputError("internal: too many kernels in one variant (a bug in attnio)");
    }
    KernelCost& k = out_.kernels[out_.kernel_count++];
    k.name = name;
    k.ctas = ctas.v == 0 ? Count(1) : ctas;
    k.ctas_per_sm = std::clamp<u64>(ctas_per_sm, 1, 32);
    return k;
  }

  // CTAs of `smem_bytes` shared memory each that fit on one SM.
  u64 ctas_per_sm(Count smem_bytes) const {
    return std::clamp<u64>(static_cast<u64>(dev_.smem_bytes_per_sm / std::max(1.0, smem_bytes.d())), 1, 32);
  }
  u64 resident(const KernelCost& k) const {
    return min_u(k.ctas.v, static_cast<u64>(dev_.sm_count) * k.ctas_per_sm);
  }

  // DRAM bytes of a stream that one CTA re-reads over time: `total` bytes cross the L2 boundary for
  // `unique` distinct ones. The first touch reaches DRAM; re-reads hit in L2 when the `working_set`
  // live between two reads fits in L2, and otherwise miss in proportion to the excess (a capacity
  // estimate; the tile simulator replays the real order).
  Count filtered(Count unique, Count total, double working_set) const {
    if (unique > total) unique = total;
    if (!w_.l2) return total;
    return unique + scaled(total - unique, miss_fraction(working_set));
  }

  // DRAM bytes of data shared by several CTAs. Its readers come in `clusters` runs of `cluster`
  // consecutive CTAs in grid order, `stride` CTAs apart. Readers resident together stream the data
  // in step and share one fetch; a run longer than the resident window, or runs too far apart to be
  // resident together, fetch again unless the `working_set` touched in between fits in L2.
  Count shared(const KernelCost& k, Count unique, Count total, u64 cluster, u64 stride, u64 clusters,
               double working_set) const {
    if (unique > total) unique = total;
    if (!w_.l2 || unique.v == 0) return total;
    // Each resident window holds the readers of one span of the grid: the data is fetched once per
    // window its readers fall in, and at most once per run of readers per window the run spans.
    const u64 window = max_u(1, resident(k));
    const u64 span = stride * (clusters - 1) + cluster;
    const double fetches = static_cast<double>(min_u(clusters * ceil_div(cluster, window), ceil_div(span, window)));
    const double most = total.d() / unique.d();
    const double refetches = std::min(fetches, most) - 1;
    return unique + scaled(unique, refetches * miss_fraction(working_set));
  }

  double miss_fraction(double working_set) const {
    const double cap = dev_.l2_bytes;
    return working_set <= cap ? 0.0 : 1.0 - cap / working_set;
  }

  // Traffic helpers. `readers` is how many warps read a staged tile out of shared memory.
  static void read_stream(KernelCost& k, Count l2, Count hbm, u64 readers) {
    k.l2_read += l2;
    k.hbm_read += hbm;
    k.sram_write += l2;
    k.sram_read += l2 * readers;
  }
  static void read_direct(KernelCost& k, Count bytes) {  // straight to registers
    k.l2_read += bytes;
    k.hbm_read += bytes;
  }
  static void write_direct(KernelCost& k, Count bytes) {
    k.l2_write += bytes;
    k.hbm_write += bytes;
  }

private:
  const Device& dev_;
  const Workload& w_;
  u64 e_;
  Prediction& out_;
};

BlockSizes blocks_for(const Evaluator& ev, u64 d) {
  const Workload& w = ev.w();
  const BlockSizes alg1 = flash_block_sizes(w.sram_bytes, ev.e(), d);
  return {w.block_m != 0 ? w.block_m : alg1.br, w.block_n != 0 ? w.block_n : alg1.bc};
}

Count kv_heads_bytes(const Shape& s, Count tokens, u64 e) {
  return Count(s.batch) * s.kv_heads * tokens * (s.d + s.dv) * e;
}

// ---- GEMM and row-wise building blocks (used by standard attention) -------------------------

// C[m x n] = A[m x k] * B[k x n], `batch` independent problems. Each output tile reads its row of
// A tiles and its column of B tiles, so A crosses L2 ceil(n/tile) times and B ceil(m/tile) times.
void gemm(Evaluator& ev, std::string_view name, u64 batch, u64 m, u64 n, u64 k, u64 c_bytes) {
  const u64 e = ev.e();
  const u64 tm = ceil_div(m, kGemmTile), tn = ceil_div(n, kGemmTile);
  const Count tile_smem = Count(2) * kGemmTile * kGemmTileK * e * kGemmStages;
  KernelCost& kc = ev.add(name, Count(batch) * tm * tn, ev.ctas_per_sm(tile_smem));
  kc.tensor_flops = Count(2) * batch * m * n * k;
  const Count a = Count(batch) * m * k * e, b = Count(batch) * k * n * e;
  const Count a_total = a * tn, b_total = b * tm;
  // cuBLAS rasterizes its grid so that tiles sharing an A row panel or a B column panel run
  // together, and they walk the K dimension in step: the re-reads are served by L2.
  Evaluator::read_stream(kc, a_total, ev.filtered(a, a_total, 0), kGemmWarpsPerOperand);
  Evaluator::read_stream(kc, b_total, ev.filtered(b, b_total, 0), kGemmWarpsPerOperand);
  Evaluator::write_direct(kc, Count(batch) * m * n * c_bytes);
}

KernelCost& rowwise(Evaluator& ev, std::string_view name, Count elements) {
  return ev.add(name, ceil_div(elements.v, kElemsPerCta), kSmallCtasPerSm);
}

// ---- standard attention ---------------------------------------------------------------------

// FlashAttention Alg. 0: S = QK^T (write S), P = softmax(S) (read S, write P), O = PV (read P, V).
// GQA without copying K/V: the g query heads of a group are stacked as g*N GEMM rows.
void standard_fwd(Evaluator& ev, const Shape& s, const Mask& mask) {
  const u64 e = ev.e();
  const u64 g = s.group();
  const Count scores = Count(s.batch) * s.heads * s.n * s.nk;
  const Count allowed = Count(s.batch) * s.heads * allowed_pairs(mask, s.n, s.nk);
  const u64 bk = (Count(s.batch) * s.kv_heads).v, gn = (Count(g) * s.n).v;
  gemm(ev, "gemm_qk", bk, gn, s.nk, s.d, e);
  KernelCost& sm = rowwise(ev, "softmax", scores);
  Evaluator::read_direct(sm, scores * e);
  Evaluator::write_direct(sm, scores * e);
  sm.sfu_ops = allowed;  // one exp per unmasked score (FlashAttention-3 §3)
  // Per score: scale-and-subtract-max FFMA (2), row-sum add (1), normalize multiply (1).
  sm.fp32_flops = allowed * 4;
  gemm(ev, "gemm_pv", bk, gn, s.dv, s.nk, e);
  ev.out().extra_memory_bytes += scores * e * 2;  // S and P
}

// FlashAttention App. B.1, Algorithm 3: dV = P^T dO, dP = dO V^T, dS = P o (dP - rowsum(dO o O)),
// dQ = dS K, dK = dS^T Q, with dP and dS written to and read from HBM.
void standard_bwd(Evaluator& ev, const Shape& s) {
  const u64 e = ev.e();
  const u64 bk = (Count(s.batch) * s.kv_heads).v, gn = (Count(s.group()) * s.n).v;
  const Count scores = Count(s.batch) * s.heads * s.n * s.nk;
  gemm(ev, "gemm_dv", bk, s.nk, s.dv, gn, e);
  gemm(ev, "gemm_dp", bk, gn, s.nk, s.dv, e);
  KernelCost& sb = rowwise(ev, "softmax_bwd", scores);
  Evaluator::read_direct(sb, scores * e * 2);  // P, dP
  Evaluator::write_direct(sb, scores * e);     // dS
  sb.fp32_flops = scores * 4;                  // rowsum(dP o P) FFMA, then (dP - D) * P
  gemm(ev, "gemm_dq", bk, gn, s.d, s.nk, e);
  gemm(ev, "gemm_dk", bk, s.nk, s.d, gn, e);
  ev.out().extra_memory_bytes += scores * e * 2;  // dP and dS
}

// ---- FlashAttention, FA2 loop order ---------------------------------------------------------

struct FlashOptions {
  double density = 1.0;  // block-sparse fraction of visited blocks
  bool sigmoid = false;  // FlashSigmoid: no statistics, no rescaling
};

Plan flash_plan(const Evaluator& ev, const Shape& s, const Mask& mask, const FlashOptions& opt) {
  const BlockSizes bs = blocks_for(ev, std::max(s.d, s.dv));
  Plan p = make_plan(s.n, s.nk, bs.br, bs.bc, mask);
  if (opt.density < 1.0) {
    // FlashAttention Prop. 4: a block-sparse layout visits a fraction s of the blocks. Counts are
    // the expectation over a layout of that density (the sparse blocks spread evenly).
    p.pairs = scaled(p.pairs, opt.density);
    p.rows_sum = scaled(p.rows_sum, opt.density);
    p.cols_sum = scaled(p.cols_sum, opt.density);
    p.allowed = scaled(p.allowed, opt.density);
    p.area = scaled(p.area, opt.density);
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

// FlashAttention-2 §3.1 forward: each CTA owns one Q block of one head, reads Q once, loops over the
// K/V blocks it needs, writes O and the log-sum-exp once. K and V cross L2 once per Q block.
void flash2_fwd(Evaluator& ev, const Shape& s, const Plan& p, const FlashOptions& opt) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  KernelCost& k = ev.add(opt.sigmoid ? "flash_sigmoid_fwd" : "flash2_fwd", bh * p.tr,
                         ev.ctas_per_sm(flash_smem(p, s, e)));
  k.tensor_flops = bh * p.allowed * 2 * (s.d + s.dv);  // QK^T and PV: 2·N·Nk·(d+dv) per head
  k.sfu_ops = bh * p.allowed;
  if (opt.sigmoid) {
    // sigma(x) = (1 + tanh(x/2)) / 2 with MUFU.TANH: scale+bias FFMA (2) and the affine FFMA (2).
    k.fp32_flops = bh * p.allowed * 4;
  } else {
    // Online softmax (FlashAttention-2 §3.1.1): FFMA for scale and max (2) and the row-sum add (1)
    // per score, a rescale of O per visited block row, and the final 1/l scaling.
    k.fp32_flops = bh * (p.allowed * 3 + p.rows_sum * s.dv + Count(s.n) * s.dv);
  }
  const Count q = bh * s.n * s.d * e;
  Evaluator::read_stream(k, q, q, 1);
  const Count kv_total = bh * p.cols_sum * (s.d + s.dv) * e;
  const Count kv_unique = kv_heads_bytes(s, p.touched, e);
  Evaluator::read_stream(k, kv_total, ev.shared(k, kv_unique, kv_total, p.tr, s.batch * p.tr, s.group(), kv_between(p, s, e)),
                         kFlashWarps);
  const Count o = bh * s.n * s.dv * e;
  Evaluator::write_direct(k, o);
  k.sram_write += o;  // the epilogue stages O through shared memory
  k.sram_read += o;
  if (!opt.sigmoid) {
    Evaluator::write_direct(k, bh * s.n * kStatBytes);  // log-sum-exp, kept for the backward pass
    ev.out().extra_memory_bytes += bh * s.n * kStatBytes;
  }
}

// FlashAttention-2 §3.1.2 / Alg. 2 backward: a preprocessing kernel computes D = rowsum(dO o O);
// the main kernel parallelizes over K/V blocks, reads K_j, V_j once and loops over Q blocks,
// accumulating dQ in fp32 with atomic adds; a last kernel converts dQ. For GQA, dK and dV are
// written per query head and summed over each group.
void flash2_bwd(Evaluator& ev, const Shape& s, const Plan& p, const FlashOptions& opt) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count rows = bh * s.n;
  KernelCost& pre = ev.add(opt.sigmoid ? "flash_sigmoid_bwd_zero_dq" : "flash2_bwd_preprocess", bh * p.tr, kSmallCtasPerSm);
  Evaluator::write_direct(pre, rows * s.d * kStatBytes);  // dQ accumulator zeroed
  if (!opt.sigmoid) {  // sigmoid's derivative sigma(1 - sigma) needs no row statistics
    Evaluator::read_direct(pre, rows * s.dv * e * 2);  // dO, O
    Evaluator::write_direct(pre, rows * kStatBytes);   // D = rowsum(dO o O)
    pre.fp32_flops = rows * s.dv * 2;
  }

  const Count smem = Count(e) * (min_u(p.bc, s.nk) * (s.d + s.dv) + min_u(p.br, s.n) * (s.d + s.dv));
  KernelCost& k = ev.add(opt.sigmoid ? "flash_sigmoid_bwd" : "flash2_bwd", bh * p.tc, ev.ctas_per_sm(smem));
  // Recompute S (2d), dP = dO V^T (2dv), dV += P^T dO (2dv), dQ += dS K (2d), dK += dS^T Q (2d):
  // 2.5x the forward FLOPs when d = dv (FlashAttention-2 §4.1).
  k.tensor_flops = bh * p.allowed * 2 * (3 * s.d + 2 * s.dv);
  k.sfu_ops = bh * p.allowed;
  k.fp32_flops = bh * p.allowed * 4;  // P recompute FFMA (2), dS = P o (dP - D): sub + mul (2)
  const Count kv = bh * p.touched * (s.d + s.dv) * e;
  Evaluator::read_stream(k, kv, ev.shared(k, kv_heads_bytes(s, p.touched, e), kv, 1, s.batch * p.tc, s.group(),
                                          kv_between(p, s, e)), kFlashWarps);
  // Per visited pair: Q_i, dO_i, and for softmax LSE_i, D_i.
  const u64 q_row = (s.d + s.dv) * e + (opt.sigmoid ? 0 : 2 * kStatBytes);
  const Count q_total = bh * p.rows_sum * q_row;
  // Q_i, dO_i are shared by the Tc CTAs of one head, which run next to each other.
  const double q_ws = std::min(std::ceil(static_cast<double>(ev.resident(k)) / static_cast<double>(p.tc)) + 1,
                               static_cast<double>(bh.v)) * static_cast<double>(s.n * q_row);
  Evaluator::read_stream(k, q_total, ev.shared(k, rows * q_row, q_total, p.tc, p.tc, 1, q_ws), kFlashWarps);
  // dQ_i atomic read-modify-write in fp32, performed in L2.
  const Count dq_total = bh * p.rows_sum * s.d * kStatBytes;
  const Count dq_unique = rows * s.d * kStatBytes;
  k.l2_read += dq_total;
  k.l2_write += dq_total;
  k.hbm_read += ev.shared(k, dq_unique, dq_total, p.tc, p.tc, 1, q_ws);
  k.hbm_write += ev.shared(k, dq_unique, dq_total, p.tc, p.tc, 1, q_ws);
  Evaluator::write_direct(k, bh * p.touched * (s.d + s.dv) * e);  // dK_j, dV_j

  KernelCost& conv = rowwise(ev, "flash2_bwd_convert_dq", rows * s.d);
  Evaluator::read_direct(conv, rows * s.d * kStatBytes);
  Evaluator::write_direct(conv, rows * s.d * e);
  if (s.group() > 1) {
    KernelCost& red = rowwise(ev, "gqa_reduce_dkdv", bh * p.touched * (s.d + s.dv));
    Evaluator::read_direct(red, bh * p.touched * (s.d + s.dv) * e);
    Evaluator::write_direct(red, kv_heads_bytes(s, s.nk, e));
    red.fp32_flops = bh * p.touched * (s.d + s.dv);
  }
  ev.out().extra_memory_bytes += rows * (s.d + (opt.sigmoid ? 0 : 1)) * kStatBytes;  // dQ accumulator and D
}

// ---- FlashAttention, FA1 loop order ---------------------------------------------------------

// FlashAttention Alg. 1: one CTA per head, grid (batch, heads) (FlashAttention-2 §3.2: "parallelize
// over batch size and number of heads"); the outer loop over K/V blocks loads K_j, V_j once (line 6); the inner loop over
// Q blocks loads Q_i, O_i, l_i, m_i (line 8) and writes O_i, l_i, m_i back (lines 12-13); line 2
// initializes O, l, m in HBM. Total Θ(N²d²/M) (Theorem 2).
void flash1_fwd(Evaluator& ev, const Shape& s, const Plan& p) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count smem = Count(e) * (min_u(p.bc, s.nk) * (s.d + s.dv) + min_u(p.br, s.n) * (s.d + s.dv));
  KernelCost& k = ev.add("flash1_fwd", bh, ev.ctas_per_sm(smem));
  k.tensor_flops = bh * p.allowed * 2 * (s.d + s.dv);
  k.sfu_ops = bh * p.allowed;
  // Per score as FA2 (3); per visited pair the O_i update rescales and adds (2 per element).
  k.fp32_flops = bh * (p.allowed * 3 + p.rows_sum * s.dv * 2);
  // Grid (batch, heads): the g heads of a group are B CTAs apart.
  const Count kv = bh * p.touched * (s.d + s.dv) * e;
  Evaluator::read_stream(k, kv, ev.shared(k, kv_heads_bytes(s, p.touched, e), kv, 1, s.batch, s.group(), kv_between(p, s, e)),
                         kFlashWarps);
  // Q_i, O_i, l_i, m_i per visited pair; the per-head working set is Q, O, l, m of the whole head.
  const u64 row_state = s.dv * e + 2 * kStatBytes;
  const double ws = std::min<double>(ev.resident(k), bh.d()) * static_cast<double>(s.n * (s.d * e + row_state));
  const Count q_total = bh * p.rows_sum * s.d * e;
  Evaluator::read_stream(k, q_total, ev.filtered(bh * s.n * s.d * e, q_total, ws), 1);
  const Count o_total = bh * p.rows_sum * row_state;
  Evaluator::read_stream(k, o_total, ev.filtered(0, o_total, ws), 1);
  const Count w_total = bh * s.n * row_state + o_total;  // line 2 initialization + per-pair writes
  k.l2_write += w_total;
  k.hbm_write += ev.filtered(bh * s.n * row_state, w_total, ws);
  ev.out().extra_memory_bytes += bh * s.n * 2 * kStatBytes;  // l and m
}

// FlashAttention App. B.4, Algorithm 4: outer loop over K/V blocks (load K_j, V_j; write dK_j, dV_j),
// inner loop over Q blocks loading Q_i, O_i, dO_i, dQ_i, l_i, m_i and writing dQ_i (fp32 here, as
// implementations accumulate it); dQ is initialized in HBM and converted at the end.
void flash1_bwd(Evaluator& ev, const Shape& s, const Plan& p) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count rows = bh * s.n;
  const Count smem = Count(e) * (min_u(p.bc, s.nk) * (s.d + s.dv) + min_u(p.br, s.n) * (s.d + 2 * s.dv));
  KernelCost& k = ev.add("flash1_bwd", bh, ev.ctas_per_sm(smem));
  k.tensor_flops = bh * p.allowed * 2 * (3 * s.d + 2 * s.dv);
  k.sfu_ops = bh * p.allowed;
  k.fp32_flops = bh * (p.allowed * 4 + p.rows_sum * s.dv * 2);  // + D_i = rowsum(dO_i o O_i) per pair
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
  if (s.group() > 1) {
    KernelCost& red = rowwise(ev, "gqa_reduce_dkdv", bh * p.touched * (s.d + s.dv));
    Evaluator::read_direct(red, kv);
    Evaluator::write_direct(red, kv_heads_bytes(s, s.nk, e));
    red.fp32_flops = bh * p.touched * (s.d + s.dv);
  }
  ev.out().extra_memory_bytes += rows * row_dq;
}

// Forward and/or backward of a flash-family variant over one shape.
void flash_passes(Evaluator& ev, const Shape& s, const Mask& mask, const FlashOptions& opt, bool fa1) {
  const Plan p = flash_plan(ev, s, mask, opt);
  ev.out().block_m = p.br;
  ev.out().block_n = p.bc;
  const Pass pass = ev.w().pass;
  if (pass != Pass::bwd) fa1 ? flash1_fwd(ev, s, p) : flash2_fwd(ev, s, p, opt);
  if (pass != Pass::fwd) fa1 ? flash1_bwd(ev, s, p) : flash2_bwd(ev, s, p, opt);
}

// ---- decode kernels -------------------------------------------------------------------------

// flash-attention's num_splits_heuristic (csrc/flash_attn/flash_api.cpp), called with twice the SM
// count: no split when the grid already fills 80% of the slots; otherwise the fewest splits whose
// wave efficiency reaches 85% of the best, skipping split counts that give the same blocks per split.
u64 auto_splits(const Evaluator& ev, Count ctas_without_split, u64 key_blocks) {
  const double slots = 2.0 * ev.dev().sm_count;
  const double base = ctas_without_split.d();
  if (base >= 0.8 * slots) return 1;
  const u64 most = min_u(min_u(128, static_cast<u64>(slots)), key_blocks);
  auto efficiency = [&](u64 splits) {
    const double waves = base * static_cast<double>(splits) / slots;
    return waves / std::ceil(waves);
  };
  auto eligible = [&](u64 n) { return n == 1 || ceil_div(key_blocks, n) != ceil_div(key_blocks, n - 1); };
  double best = 0;
  for (u64 n = 1; n <= most; ++n) {
    if (eligible(n)) best = std::max(best, efficiency(n));
  }
  for (u64 n = 1; n <= most; ++n) {
    if (eligible(n) && efficiency(n) >= 0.85 * best) return n;
  }
  return 1;
}

// Split-KV decode (Flash-Decoding, Dao et al. 2023; flash-attention flash_fwd_splitkv_kernel): the
// `rows` query heads sharing one K/V set are packed into one CTA's rows, so each split reads its
// slice of the set once; each split writes a partial O and log-sum-exp in fp32 and a combine kernel
// reduces them. `token_bytes` is the cache bytes per token of one set; `qk_dim` and `v_dim` the
// score and value widths.
void split_kv_decode(Evaluator& ev, std::string_view name, u64 batch, u64 sets, u64 rows, u64 nk,
                     u64 token_bytes, u64 qk_dim, u64 v_dim) {
  const u64 e = ev.e();
  const BlockSizes bs = blocks_for(ev, std::max(qk_dim, v_dim));
  const u64 key_blocks = ceil_div(nk, bs.bc);
  const u64 row_tiles = ceil_div(rows, kDecodeRowTile);
  const Count smem = Count(e) * (min_u(rows, kDecodeRowTile) * qk_dim + min_u(bs.bc, nk) * (qk_dim + v_dim));
  const u64 per_sm = ev.ctas_per_sm(smem);
  const Count base_ctas = Count(batch) * sets * row_tiles;
  const u64 splits = ev.w().splits != 0 ? min_u(ev.w().splits, key_blocks) : auto_splits(ev, base_ctas, key_blocks);
  ev.out().splits = splits;
  ev.out().block_n = bs.bc;
  ev.out().block_m = min_u(rows, kDecodeRowTile);

  KernelCost& k = ev.add(name, base_ctas * splits, per_sm);
  const Count heads = Count(batch) * sets * rows;
  k.tensor_flops = heads * nk * 2 * (qk_dim + v_dim);
  k.sfu_ops = heads * nk;
  k.fp32_flops = heads * (Count(nk) * 3 + Count(key_blocks) * v_dim);
  const Count cache = Count(batch) * sets * nk * token_bytes;
  const Count cache_total = cache * row_tiles;
  // Row tiles of one set are adjacent in the grid and read its slice together.
  Evaluator::read_stream(k, cache_total, ev.shared(k, cache, cache_total, row_tiles, 1, 1, 0), kFlashWarps);
  const Count q = heads * qk_dim * e * splits;  // every split reads the query rows
  Evaluator::read_stream(k, q, ev.shared(k, heads * qk_dim * e, q, splits, 1, 1, 0), 1);
  if (splits == 1) {
    Evaluator::write_direct(k, heads * v_dim * e);
    return;
  }
  const Count partial = heads * splits * (v_dim + 1) * kStatBytes;
  Evaluator::write_direct(k, partial);
  KernelCost& c = rowwise(ev, "combine_splits", heads * v_dim);
  Evaluator::read_direct(c, partial);
  Evaluator::write_direct(c, heads * v_dim * e);
  c.sfu_ops = heads * splits;
  c.fp32_flops = heads * splits * (v_dim * 2 + 2);
  ev.out().extra_memory_bytes += partial;
}

// vLLM PagedAttention (Kwon et al. 2023 §4): K/V live in pages of `page_size` tokens reached
// through a per-sequence block table. Kernel v1 runs one CTA per (query head, sequence) and holds the
// logits of the whole context in shared memory; v2 splits the context into 512-token partitions
// and reduces them. vLLM picks v1 when the context is at most 8192 tokens and either fits one
// partition or the grid has more than 512 CTAs (vllm/attention/ops/paged_attn.py). Whole pages are
// read, so the empty tail of the last page costs bandwidth too.
void paged_decode(Evaluator& ev, const Shape& s) {
  const Workload& w = ev.w();
  const u64 e = ev.e();
  const u64 pages = ceil_div(s.nk, w.page_size);
  const u64 padded = pages * w.page_size;
  const Count logits_smem = Count(padded) * kStatBytes + Count(s.d) * e;
  const u64 partition = traits::kPagedPartition;
  const Count bh = Count(s.batch) * s.heads;
  const bool v1 = s.nk <= traits::kPagedV1MaxContext && (ceil_div(padded, partition) == 1 || bh.v > 512);
  const u64 parts = v1 ? 1 : ceil_div(padded, partition);
  KernelCost& k = ev.add(v1 ? "paged_attention_v1" : "paged_attention_v2", bh * parts,
                         v1 ? ev.ctas_per_sm(logits_smem) : ev.ctas_per_sm(Count(partition) * kStatBytes));
  k.tensor_flops = bh * s.nk * 2 * (s.d + s.dv);
  k.sfu_ops = bh * s.nk;
  k.fp32_flops = bh * s.nk * 4;
  // Block table: every CTA reads its sequence's entries (int32).
  const Count table = Count(s.batch) * pages * 4;
  const Count table_total = table * s.heads;
  // Threads load keys, values, the query and the table straight into registers (vLLM
  // paged_attention_kernel: k_vecs, v_vecs); only the logits go through shared memory.
  auto direct = [&k](Count l2, Count hbm) {
    k.l2_read += l2;
    k.hbm_read += hbm;
  };
  direct(table_total, ev.shared(k, table, table_total, s.heads * parts, 1, 1, 0));
  // K/V pages: the g query heads of a group are adjacent in the grid (grid.x = head) and read the
  // group's pages together.
  const Count kv_unique = kv_heads_bytes(s, padded, e);
  const Count kv_total = kv_unique * s.group();
  direct(kv_total, ev.shared(k, kv_unique, kv_total, s.group() * parts, 1, 1, 0));
  Evaluator::read_direct(k, bh * s.d * e * parts);
  k.sram_write += bh * padded * kStatBytes;  // logits, then the softmax reads them back
  k.sram_read += bh * padded * kStatBytes;
  (void)logits_smem;
  ev.out().block_n = w.page_size;
  ev.out().splits = parts;
  ev.out().extras.pages_per_seq = pages;
  ev.out().extras.page_waste_bytes = kv_heads_bytes(s, padded - s.nk, e) * w.layers;
  if (v1) {
    Evaluator::write_direct(k, bh * s.dv * e);
    return;
  }
  // tmp_out in the output dtype, exp_sums and max_logits in fp32.
  const Count partial = bh * parts * (s.dv * e + 2 * kStatBytes);
  Evaluator::write_direct(k, partial);
  KernelCost& r = rowwise(ev, "paged_attention_v2_reduce", bh * s.dv);
  Evaluator::read_direct(r, partial);
  Evaluator::write_direct(r, bh * s.dv * e);
  r.fp32_flops = bh * parts * (s.dv * 2 + 2);
  r.sfu_ops = bh * parts;
  ev.out().extra_memory_bytes += partial;
}

// ---- linear attention and Performer ---------------------------------------------------------

// Katharopoulos et al. 2020 §3.2 with phi = elu + 1 (eq. 7). The state S = Σ phi(k) v^T and the
// normalizer z = Σ phi(k) depend on K and V only, so with GQA one state serves the g query heads of a
// group: one CTA per (sequence, K/V head) carries it. Causal, chunked form (as in
// flash-linear-attention): inside a chunk of C tokens the masked C x C product phi(Q)phi(K)^T V per
// query head, between chunks the running F x dv state. Non-causal: S = phi(K)^T V once per K/V head,
// then O = phi(Q) S. `qk_in_dim` is the width of a q/k input per token (head_dim for raw Q/K, r for
// Performer's features); `map_on_the_fly` adds the elu+1 map (or a d x F projection if F != d).
void linear_core(Evaluator& ev, const Shape& s, u64 f, u64 qk_in_dim, bool map_on_the_fly) {
  const Workload& w = ev.w();
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads, bkv = Count(s.batch) * s.kv_heads;
  const Count state = Count(f) * s.dv * kStatBytes + Count(f) * kStatBytes;  // S and z of one K/V head
  const bool decode = w.phase == Phase::decode;
  const Count n = decode ? 1 : s.n;
  const Count q_in = bh * n * qk_in_dim * e;
  const Count kv_in = bkv * n * (qk_in_dim + s.dv) * e;
  const Count o_out = bh * n * s.dv * e;

  auto feature_map = [&](KernelCost& k, Count tokens) {
    if (!map_on_the_fly) return;
    if (f != s.d) k.tensor_flops += tokens * 2 * s.d * f;  // projection to F features
    k.sfu_ops += tokens * f;                               // exp of the elu branch
    k.fp32_flops += tokens * f * 2;                        // select and +1
  };

  if (decode) {
    // The recurrent form (Katharopoulos §3.4, eq. 18-20): S += phi(k) v^T, z += phi(k) per K/V head,
    // o = phi(q)^T S / phi(q)^T z per query head; matrix-vector work on CUDA cores.
    KernelCost& k = ev.add("linear_decode_step", bkv, ev.ctas_per_sm(state));
    k.fp32_flops = bkv * (Count(f) * s.dv * 2 + f) + bh * (Count(f) * s.dv * 2 + Count(f) * 2 + s.dv);
    feature_map(k, bh + bkv);
    Evaluator::read_direct(k, bkv * state + q_in + kv_in);
    Evaluator::write_direct(k, bkv * state + o_out);
    return;
  }

  if (!w.causal) {
    KernelCost& k1 = ev.add("linear_state", bkv, ev.ctas_per_sm(state));
    k1.tensor_flops = bkv * n * 2 * f * s.dv;
    k1.fp32_flops = bkv * n * f;
    feature_map(k1, bkv * n);
    Evaluator::read_stream(k1, kv_in, kv_in, 1);
    Evaluator::write_direct(k1, bkv * state);
    const u64 chunks = ceil_div(s.n, w.chunk);
    KernelCost& k2 = ev.add("linear_output", bh * chunks, ev.ctas_per_sm(state));
    k2.tensor_flops = bh * n * 2 * f * s.dv;
    k2.fp32_flops = bh * n * (Count(f) * 2 + s.dv);
    feature_map(k2, bh * n);
    Evaluator::read_stream(k2, q_in, q_in, 1);
    // Every output CTA reads its group's state; the chunks and heads of a group are adjacent.
    const Count state_total = bh * chunks * state;
    Evaluator::read_stream(k2, state_total, ev.shared(k2, bkv * state, state_total, s.group() * chunks, 1, 1, 0), 1);
    Evaluator::write_direct(k2, o_out);
    ev.out().extra_memory_bytes += bkv * state;
    return;
  }

  const u64 c = w.chunk;
  const u64 chunks = ceil_div(s.n, c), last = s.n - (chunks - 1) * c;
  const Count sq = Count(chunks - 1) * c * c + Count(last) * last;  // Σ over chunks of C_t²
  const bool state_fits = state.d() * 2 <= static_cast<double>(w.sram_bytes);
  KernelCost& k = ev.add("linear_causal_chunked", bkv, ev.ctas_per_sm(state));
  // Per chunk and query head: phi(Q)phi(K)^T (2C²F), times V (2C²dv), phi(Q) S (2CF·dv); per chunk
  // and K/V head: S += phi(K)^T V (2CF·dv).
  k.tensor_flops = bh * (sq * 2 * (f + s.dv) + n * 2 * f * s.dv) + bkv * n * 2 * f * s.dv;
  // Normalizer row sums (C² per chunk) and phi(q)·z (2F) and the division (dv) per query head;
  // the z update (F) per K/V head.
  k.fp32_flops = bh * (sq + n * (Count(f) * 2 + s.dv)) + bkv * n * f;
  feature_map(k, bh * n + bkv * n);
  Evaluator::read_stream(k, q_in, q_in, 1);
  Evaluator::read_stream(k, kv_in, kv_in, kFlashWarps);
  Evaluator::write_direct(k, o_out);
  if (!state_fits) {
    // The state does not fit beside the tiles in M: it is read and written back every chunk.
    const Count spill = bkv * state * chunks;
    const double ws = static_cast<double>(ev.resident(k)) * state.d();
    k.l2_read += spill;
    k.l2_write += spill;
    k.hbm_read += ev.filtered(0, spill, ws);
    k.hbm_write += ev.filtered(bkv * state, spill, ws);
    ev.out().extras.state_spills = true;
  }
}

// FAVOR+ (Choromanski et al. 2021 §2.3, Lemma 1): phi(x) = exp(w_i^T x - |x|²/2) / sqrt(r) for r
// orthogonal random features w_i; a feature kernel writes phi(Q), phi(K) (r per token), then linear
// attention runs on them (§2.4 for the causal prefix-sum form).
void performer(Evaluator& ev, const Shape& s) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), r = w.features;
  const u64 n = w.phase == Phase::decode ? 1 : s.n;
  const Count rows_q = Count(s.batch) * s.heads * n, rows_k = Count(s.batch) * s.kv_heads * n;
  const Count rows = rows_q + rows_k;
  KernelCost& k = ev.add("favor_features", ceil_div(rows.v, traits::kFeatureRowsPerCta), kSmallCtasPerSm);
  k.tensor_flops = rows * 2 * s.d * r;           // x Omega^T
  k.sfu_ops = rows * r;                          // exp per feature
  k.fp32_flops = rows * (Count(s.d) * 2 + r * 2);  // |x|², subtract and scale
  Evaluator::read_direct(k, rows * s.d * e);
  const Count omega = Count(r) * s.d * e;
  const Count omega_total = omega * k.ctas;
  Evaluator::read_stream(k, omega_total, ev.filtered(omega, omega_total, omega.d()), kFlashWarps);  // tiny, stays in L2
  Evaluator::write_direct(k, rows * r * e);
  ev.out().extra_memory_bytes += rows * r * e;
  linear_core(ev, s, r, r, false);
}

// ---- Mamba selective scan -------------------------------------------------------------------

// Gu & Dao 2023 §3.3.2 and App. D. Per (b, l, d, n): A_bar = exp(delta·A) (1 mul, 1 exp),
// B_bar·x (1 mul), h = A_bar h + B_bar x (FFMA, 2), y += C h (FFMA, 2): 6 FP32 FLOPs and one exp.
constexpr u64 kScanFlopsPerState = 6;

// Fused kernel: reads x, delta (B·L·D), B, C (B·L·N), A (D·N) and writes y (B·L·D); the state stays
// in registers (App. D). Grid (batch, D), batch fastest, one channel per CTA (mamba
// selective_scan_fwd launch), so every channel's CTA reads its batch entry's B and C: D times
// across L2, once from DRAM.
void mamba_fused(Evaluator& ev) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), D = w.d_inner, N = w.state_dim;
  const u64 L = w.phase == Phase::decode ? 1 : w.seq;
  const Count blds = Count(w.batch) * L * D * N;
  if (w.phase == Phase::decode) {
    // One step of the recurrence: the state h (B·D·N, fp32) is read and written. CTAs of 128
    // channels each read x and delta of their channels, their rows of A, and the step's B and C.
    const u64 tiles = ceil_div(D, traits::kScanStepChannelsPerCta);
    KernelCost& k = ev.add("mamba_decode_step", Count(w.batch) * tiles, kSmallCtasPerSm);
    k.fp32_flops = blds * kScanFlopsPerState;
    k.sfu_ops = blds;
    const Count state = Count(w.batch) * D * N * kStatBytes;
    Evaluator::read_direct(k, state);
    Evaluator::write_direct(k, state);
    Evaluator::read_direct(k, Count(w.batch) * 2 * D * e);
    const Count bc = Count(w.batch) * 2 * N * e, bc_total = bc * tiles;
    Evaluator::read_stream(k, bc_total, ev.shared(k, bc, bc_total, tiles, 1, 1, 0), 1);
    const Count a = Count(D) * N * kStatBytes, a_total = a * w.batch;
    Evaluator::read_stream(k, a_total, ev.shared(k, a, a_total, 1, tiles, w.batch, a.d()), 1);
    Evaluator::write_direct(k, Count(w.batch) * D * e);
    return;
  }
  KernelCost& k = ev.add("selective_scan_fused", Count(w.batch) * ceil_div(D, traits::kScanChannelsPerCta), kSmallCtasPerSm);
  k.fp32_flops = blds * kScanFlopsPerState;
  k.sfu_ops = blds;
  const Count x_delta = Count(w.batch) * L * D * e * 2;
  Evaluator::read_stream(k, x_delta, x_delta, 1);
  const Count bc = Count(w.batch) * L * N * e * 2;
  const Count bc_total = bc * D;
  Evaluator::read_stream(k, bc_total, ev.shared(k, bc, bc_total, 1, w.batch, D, 2.0 * static_cast<double>(w.batch * L * N * e * 2)), 1);
  // Each channel's CTA reads its row of A; the batch entries share it.
  const Count a = Count(D) * N * kStatBytes, a_total = a * w.batch;
  Evaluator::read_stream(k, a_total, ev.shared(k, a, a_total, w.batch, 1, 1, a.d()), 1);
  Evaluator::write_direct(k, Count(w.batch) * L * D * e);
}

// The same math with the discretized (B,L,D,N) tensors in HBM (App. D, "standard implementation"):
// discretize (write A_bar, B_bar·x), scan (write h), contract with C. The elementwise kernels run
// one CTA per 1024 outputs: a run of 1024/N tokens of one (batch, channel), which reads its tokens
// of B (or C) and its channel's row of A; the D channels of a batch share B and C through L2.
void mamba_naive(Evaluator& ev) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), D = w.d_inner, N = w.state_dim;
  const u64 L = w.phase == Phase::decode ? 1 : w.seq;
  const u64 tokens_per_cta = max_u(1, kElemsPerCta / N);
  const u64 runs = ceil_div(L, tokens_per_cta);  // CTAs per (batch, channel)
  const Count rows = Count(w.batch) * D;          // (batch, channel) rows
  const Count blds = rows * L * N;
  const Count big = blds * kStatBytes;
  const Count bld = rows * L * e, bln = Count(w.batch) * L * N * e;
  const Count bln_total = bln * D;
  const Count a = Count(D) * N * kStatBytes, a_total = rows * runs * N * kStatBytes;
  KernelCost& k1 = ev.add("discretize", rows * runs, kSmallCtasPerSm);
  k1.sfu_ops = blds;
  k1.fp32_flops = blds * 2;
  Evaluator::read_direct(k1, bld * 2);
  Evaluator::read_stream(k1, bln_total, ev.shared(k1, bln, bln_total, runs, runs, D, static_cast<double>(L * N * e)), 1);
  Evaluator::read_stream(k1, a_total, ev.shared(k1, a, a_total, runs, runs * D, w.batch, a.d()), 1);
  Evaluator::write_direct(k1, big * 2);
  KernelCost& k2 = ev.add("scan", rows, kSmallCtasPerSm);  // one (batch, channel) per CTA
  k2.fp32_flops = blds * 2;
  Evaluator::read_direct(k2, big * 2);
  Evaluator::write_direct(k2, big);
  KernelCost& k3 = ev.add("contract_c", rows * runs, kSmallCtasPerSm);
  k3.fp32_flops = blds * 2;
  Evaluator::read_direct(k3, big);
  Evaluator::read_stream(k3, bln_total, ev.shared(k3, bln, bln_total, runs, runs, D, static_cast<double>(L * N * e)), 1);
  Evaluator::write_direct(k3, bld);
  ev.out().extra_memory_bytes += big * 3;
}

// ---- FNet -----------------------------------------------------------------------------------

// Lee-Thorp et al. 2022 §3.1: y = Re(FFT_seq(FFT_hidden(x))). cuFFT in fp32: a real-to-complex FFT
// over the hidden size, a complex FFT over the sequence, then the real part. FLOPs by the usual FFT
// convention, 5 n log2 n per complex transform of length n and half that for a real one (FFTW's
// benchFFT). Each transform is one pass over the data when a signal fits in half an SM's shared
// memory, else two (the four-step FFT, Bailey 1990): an assumption about cuFFT's plans.
void fnet(Evaluator& ev) {
  const Workload& w = ev.w();
  const u64 e = ev.e();
  const u64 n = w.seq, hid = w.heads * w.head_dim;
  const u64 half = hid / 2 + 1;
  const Count real = Count(w.batch) * n * hid, cplx = Count(w.batch) * n * half * 8;
  auto passes = [&](u64 len) { return len * 8 <= ev.dev().smem_bytes_per_sm / 2 ? u64{1} : u64{2}; };
  auto log2n = [](u64 len) { return std::log2(static_cast<double>(len)); };
  if (e != 4) {
    KernelCost& c = rowwise(ev, "cast_fp32", real);
    Evaluator::read_direct(c, real * e);
    Evaluator::write_direct(c, real * 4);
  }
  const u64 p1 = passes(hid);
  KernelCost& f1 = rowwise(ev, "fft_hidden_r2c", real);
  f1.fp32_flops = scaled(Count(w.batch) * n * hid, 2.5 * log2n(hid));
  Evaluator::read_direct(f1, real * 4 + cplx * (p1 - 1));
  Evaluator::write_direct(f1, cplx * p1);
  const u64 p2 = passes(n);
  KernelCost& f2 = rowwise(ev, "fft_seq_c2c", real);
  f2.fp32_flops = scaled(Count(w.batch) * half * n, 5.0 * log2n(n));
  Evaluator::read_direct(f2, cplx * p2);
  Evaluator::write_direct(f2, cplx * p2);
  KernelCost& re = rowwise(ev, "real_part", real);
  Evaluator::read_direct(re, cplx);
  Evaluator::write_direct(re, real * e);
  ev.out().extra_memory_bytes += cplx;
  ev.out().extras.fft_passes_hidden = p1;
  ev.out().extras.fft_passes_seq = p2;
}

// ---- chunked (memory-efficient) attention ---------------------------------------------------

// Rabe & Staats 2021 §2-3 (their Fig. 1 code): for each query chunk and key chunk, one launch computes
// the scores and their exponentials with the chunk max (written as an fp32 chunk), a second multiplies
// by the V chunk and writes a partial output and sum; a combine launch per query chunk rescales and
// adds the partials. The softmax statistics never stay on chip across launches.
void chunked(Evaluator& ev, const Shape& s, const Mask& mask) {
  const u64 e = ev.e(), c = ev.w().chunk;
  const Plan p = make_plan(s.n, s.nk, c, c, mask);
  const Count bh = Count(s.batch) * s.heads;
  const Count chunk_scores = bh * p.area;  // every visited chunk pair materializes its scores
  // The two launches of a chunk pair run one CTA per band of 64 query rows (traits), and each band
  // reads the whole K (or V) chunk: Σ over visited pairs of bands x columns.
  Count band_cols, bands;
  for (u64 i = 0; i < p.tr; ++i) {
    const u64 r0 = i * c, rows = min_u(s.n, r0 + c) - r0;
    const BlockRange r = visited_blocks(mask, r0, r0 + rows, s.nk, c);
    if (r.empty()) continue;
    const u64 b = ceil_div(rows, traits::kChunkBandRows);
    band_cols += Count(b) * (min_u(s.nk, (r.last + 1) * c) - r.first * c);
    bands += Count(b) * (r.last - r.first + 1);
  }
  const u64 bands_per_chunk = ceil_div(min_u(c, s.n), traits::kChunkBandRows);
  KernelCost& k1 = ev.add("chunk_scores_exp", bh * bands, kSmallCtasPerSm);
  k1.launches = p.pairs.v;
  k1.tensor_flops = bh * p.allowed * 2 * s.d;
  k1.sfu_ops = bh * p.allowed;
  k1.fp32_flops = bh * p.allowed * 2;
  const Count q_total = bh * p.rows_sum * s.d * e;
  Evaluator::read_direct(k1, q_total);
  const Count k_total = bh * band_cols * s.d * e;
  Evaluator::read_stream(k1, k_total, ev.shared(k1, bh * p.cols_sum * s.d * e, k_total, bands_per_chunk, 1, 1, 0), 1);
  Evaluator::write_direct(k1, chunk_scores * kStatBytes + bh * p.rows_sum * kStatBytes);
  KernelCost& k2 = ev.add("chunk_pv", bh * bands, kSmallCtasPerSm);
  k2.launches = p.pairs.v;
  k2.tensor_flops = bh * p.allowed * 2 * s.dv;
  k2.fp32_flops = bh * p.allowed;  // the chunk's row sum
  Evaluator::read_direct(k2, chunk_scores * kStatBytes);
  const Count v_total = bh * band_cols * s.dv * e;
  Evaluator::read_stream(k2, v_total, ev.shared(k2, bh * p.cols_sum * s.dv * e, v_total, bands_per_chunk, 1, 1, 0), 1);
  const Count partial = bh * p.rows_sum * (s.dv + 1) * kStatBytes;
  Evaluator::write_direct(k2, partial);
  KernelCost& k3 = ev.add("chunk_combine", bh * p.tr, kSmallCtasPerSm);  // one CTA per head and query chunk
  k3.launches = p.tr;
  k3.sfu_ops = bh * p.rows_sum;
  k3.fp32_flops = bh * p.rows_sum * (s.dv * 2 + 2);
  Evaluator::read_direct(k3, partial + bh * p.rows_sum * kStatBytes);
  Evaluator::write_direct(k3, bh * s.n * s.dv * e);
  // Live at once: one query chunk's partials over all key chunks, and one chunk of scores.
  ev.out().extra_memory_bytes += bh * (Count(min_u(c, s.n)) * p.tc * (s.dv + 2) + Count(min_u(c, s.n)) * min_u(c, s.nk)) * kStatBytes;
  ev.out().block_m = c;
  ev.out().block_n = c;
}

// ---- ring attention -------------------------------------------------------------------------

// Liu et al. 2023 §3: P devices each hold N/P queries and N/P keys; in each of P steps a device
// computes one block with the flash2 kernel while sending its current K/V block to the next device,
// and merges the block's output into its running O and log-sum-exp (kept in fp32). The P - 1 full
// steps overlap compute with the transfer, so they form one kernel whose time is the larger of the
// two. Counts are for one device, the busiest: with a causal mask the last device computes P
// blocks while the first computes one, so causal ring attention is not faster than non-causal.
void ring(Evaluator& ev, const Shape& s) {
  const u64 gpus = ev.w().gpus;
  Shape blk = s;
  blk.n = s.n / gpus;
  blk.nk = s.nk / gpus;
  const Count block_kv = kv_heads_bytes(blk, blk.nk, ev.e());
  const Count merge = Count(s.batch) * s.heads * blk.n * (s.dv + 1) * kStatBytes;
  if (gpus > 1) {
    const int first = ev.out().kernel_count;
    flash_passes(ev, blk, Mask{}, {}, false);
    KernelCost& step = ev.out().kernels[first];
    step.link_bytes = block_kv;
    Evaluator::read_direct(step, merge);
    Evaluator::write_direct(step, merge);
    for (int i = first; i < ev.out().kernel_count; ++i) scale_kernel(ev.out().kernels[i], gpus - 1);
  }
  Mask diag;  // the device's own block: square, so the causal diagonal has offset 0
  if (ev.w().causal) diag.kind = MaskKind::causal;
  flash_passes(ev, blk, diag, {}, false);
  ev.out().extras.link_bytes_per_step = block_kv;
  ev.out().extra_memory_bytes += merge + block_kv;  // running output and the K/V block in flight
}

// ---- MLA ------------------------------------------------------------------------------------

// DeepSeek-V2 §2.1: the cache holds d_c latent + d_h^R rope elements per token, shared by all heads.
// Decode in the absorbed form (§2.1.2, W^UK into the query, W^UV after attention): scores over
// d_c + d_h^R and values over d_c, for every head, from one read of the cache: the split-KV kernel
// with all heads packed as rows over one shared set whose "V" is the latent part of "K".
// Prefill up-projects the latent to per-head K (d + d_h^R) and V (dv), then runs flash2.
void mla(Evaluator& ev, const Shape& s) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), dc = w.latent_dim, dr = w.rope_dim;
  if (w.phase == Phase::decode) {
    split_kv_decode(ev, "mla_decode_splitkv", s.batch, 1, s.heads, s.nk, (dc + dr) * e, dc + dr, dc);
    return;
  }
  const u64 tokens = (Count(s.batch) * s.nk).v;
  gemm(ev, "mla_up_project", 1, tokens, s.heads * (s.d + s.dv), dc, e);
  KernelCost& rope = rowwise(ev, "mla_broadcast_rope", Count(tokens) * s.heads * dr);
  Evaluator::read_direct(rope, Count(tokens) * dr * e);
  Evaluator::write_direct(rope, Count(tokens) * s.heads * dr * e);
  ev.out().extra_memory_bytes += Count(tokens) * s.heads * (s.d + dr + s.dv) * e;
  Shape full = s;
  full.kv_heads = s.heads;
  full.d = s.d + dr;
  flash_passes(ev, full, attention_mask(w, s.n, s.nk), {}, false);
}

// ---- KV cache -------------------------------------------------------------------------------

Count kv_cache(const Workload& w, const Shape& s, u64 e) {
  const Count cached_layers = ceil_div(w.layers, w.cla_share);  // Brandon et al. 2024 §2
  switch (w.variant) {
    case Variant::sliding_window:
      if (!causal_effective(w)) break;
      return kv_heads_bytes(s, min_u(s.nk, w.window), e) * cached_layers;  // rolling buffer, Mistral §2
    case Variant::paged:
      return kv_heads_bytes(s, ceil_div(s.nk, w.page_size) * w.page_size, e) * cached_layers;
    case Variant::mla:
      return Count(s.batch) * s.nk * (w.latent_dim + w.rope_dim) * e * cached_layers;
    case Variant::linear:  // one state per K/V head (Katharopoulos §3.4)
      return Count(s.batch) * s.kv_heads * (Count(w.feature_dim) * s.dv + w.feature_dim) * kStatBytes * w.layers;
    case Variant::performer:
      return Count(s.batch) * s.kv_heads * (Count(w.features) * s.dv + w.features) * kStatBytes * w.layers;
    case Variant::mamba:
    case Variant::mamba_naive:
      return Count(w.batch) * w.d_inner * w.state_dim * kStatBytes * w.layers;
    case Variant::fnet: return 0;
    case Variant::ring: return kv_heads_bytes(s, s.nk / w.gpus, e) * cached_layers;  // this device's share
    default: break;
  }
  return kv_heads_bytes(s, s.nk, e) * cached_layers;
}

std::string_view io_complexity(const Workload& w) {
  switch (w.variant) {
    case Variant::standard: return "Θ(N·d + N²) per head";
    case Variant::flash1:
    case Variant::flash2:
    case Variant::sigmoid: return w.phase == Phase::decode ? "Θ(N_kv·d) per head" : "Θ(N²·d²/M) per head";
    case Variant::block_sparse: return "Θ(N·d + N²·d²·s/M) per head";
    case Variant::sliding_window: return "Θ(N·W·d²/M) per head";
    case Variant::chunked: return "Θ(N²) per head (score chunks in HBM)";
    case Variant::flash_decoding: return "Θ(N_kv·d) per K/V head";
    case Variant::paged: return "Θ(⌈N_kv/page⌉·page·d) per K/V head";
    case Variant::mla: return w.phase == Phase::decode ? "Θ(N_kv·(d_c+d_r)) per sequence" : "Θ(N²·d²/M) per head";
    case Variant::linear: return "Θ(N·d) per head";
    case Variant::performer: return "Θ(N·(d+r)) per head";
    case Variant::mamba: return "Θ(B·L·(D+N) + D·N)";
    case Variant::mamba_naive: return "Θ(B·L·D·N)";
    case Variant::fnet: return "Θ(N·d_model) per FFT pass";
    case Variant::ring: return "Θ((N/P)²·d²/M) per step + Θ(N·d/P) over the link";
    case Variant::dilated: return "Θ(N·w·d²/(r²·M)) per head";
  }
  return "";
}

// ---- roofline and time ----------------------------------------------------------------------

// Roofline (Williams, Waterman & Patterson 2009), one ceiling per unit and memory level (hierarchical
// roofline, Yang et al. 2020): a kernel takes as long as its slowest ceiling. Wave quantization at SM
// granularity: the busiest SM runs ceil(CTAs / SMs) CTAs while the average runs CTAs / SMs, so the
// per-SM ceilings deliver that fraction (a grid smaller than the SM count leaves SMs idle, PHYSICS.md
// "Wave quantization"). Each launch adds the device's launch overhead.
void apply_roofline(Prediction& pr, const Device& dev, u64 layers) {
  const Dtype dtype = pr.workload.dtype;
  const double rates[kCeilingCount] = {dev.tensor_rate(dtype), dev.fp32_rate(), dev.sfu_rate(), dev.hbm_rate(),
                                       dev.l2_rate(), dev.sram_bytes_per_s, dev.nvlink_bytes_per_s};
  double longest = -1;
  for (int i = 0; i < pr.kernel_count; ++i) {
    KernelCost& k = pr.kernels[i];
    const double per_sm = k.ctas.d() / static_cast<double>(k.launches) / static_cast<double>(dev.sm_count);
    const double eff = per_sm / std::ceil(per_sm);
    const double work[kCeilingCount] = {k.tensor_flops.d(), k.fp32_flops.d(), k.sfu_ops.d(),
                                        (k.hbm_read + k.hbm_write).d(), (k.l2_read + k.l2_write).d(),
                                        (k.sram_read + k.sram_write).d(), k.link_bytes.d()};
    double t = 0;
    for (int c = 0; c < kCeilingCount; ++c) {
      if (work[c] == 0) continue;
      const bool per_sm = static_cast<Ceiling>(c) != Ceiling::link;
      const double tc = work[c] / (rates[c] * (per_sm ? eff : 1.0));
      pr.ceiling_time_s[c] += tc * static_cast<double>(layers);
      t = std::max(t, tc);
    }
    const double launch = static_cast<double>(k.launches) * dev.launch_overhead_s;
    pr.launch_time_s += launch * static_cast<double>(layers);
    pr.predicted_time_s += (t + launch) * static_cast<double>(layers);
    if (t > longest) {
      longest = t;
      pr.wave_efficiency = eff;
    }
  }
  int best = 0;
  for (int c = 1; c < kCeilingCount; ++c) {
    if (pr.ceiling_time_s[c] > pr.ceiling_time_s[best]) best = c;
  }
  pr.binding_ceiling = static_cast<Ceiling>(best);
}

}  // namespace

std::string_view to_string(Ceiling c) {
  switch (c) {
    case Ceiling::tensor: return "tensor";
    case Ceiling::fp32: return "fp32";
    case Ceiling::sfu: return "sfu";
    case Ceiling::hbm: return "hbm";
    case Ceiling::l2: return "l2";
    case Ceiling::sram: return "sram";
    case Ceiling::link: return "nvlink";
  }
  return "?";
}

Count sum_clamped(std::uint64_t n, std::int64_t c, std::uint64_t k) {
  const i128 N = n, C = c, K = k;
  // Terms are 0 while r + c <= 0, r + c while 0 < r + c < k, and k after.
  const i128 ra = std::min<i128>(N, std::max<i128>(0, 1 - C));
  const i128 rb = std::min<i128>(N, std::max<i128>(ra, K - C));
  const i128 rising = (rb - ra) * C + (ra + rb - 1) * (rb - ra) / 2;
  const i128 total = rising + (N - rb) * K;
  if (total < 0 || total > static_cast<i128>(UINT64_MAX)) Count::overflow();
  return static_cast<std::uint64_t>(total);
}

BlockSizes flash_block_sizes(std::uint64_t sram_bytes, std::uint64_t elem_bytes, std::uint64_t head_dim) {
  const u64 m = sram_bytes / elem_bytes;  // M in elements
  const u64 bc = ceil_div(m, 4 * head_dim);
  return {min_u(bc, head_dim), bc};
}

std::string params_text(const Prediction& p) {
  const Workload& w = p.workload;
  std::string s;
  auto put = [&s](const std::string& key, const std::string& value) { s += (s.empty() ? "" : " ") + key + "=" + value; };
  switch (w.variant) {
    case Variant::block_sparse: put("block_density", std::to_string(w.block_density).substr(0, 6)); break;
    case Variant::sliding_window: put("window", std::to_string(w.window)); break;
    case Variant::chunked: put("chunk", std::to_string(w.chunk)); break;
    case Variant::linear:
      put("chunk", std::to_string(w.chunk));
      put("feature_dim", std::to_string(w.feature_dim));
      if (p.extras.state_spills) put("state_spills", "1");
      break;
    case Variant::paged:
      put("page_size", std::to_string(w.page_size));
      put("pages_per_seq", std::to_string(p.extras.pages_per_seq));
      put("page_waste_bytes", std::to_string(p.extras.page_waste_bytes.v));
      break;
    case Variant::mla:
      put("latent_dim", std::to_string(w.latent_dim));
      put("rope_dim", std::to_string(w.rope_dim));
      break;
    case Variant::performer: put("features", std::to_string(w.features)); break;
    case Variant::mamba:
    case Variant::mamba_naive:
      put("state_dim", std::to_string(w.state_dim));
      put("d_inner", std::to_string(w.d_inner));
      break;
    case Variant::fnet:
      put("fft_passes", std::to_string(p.extras.fft_passes_hidden) + "+" + std::to_string(p.extras.fft_passes_seq));
      break;
    case Variant::ring:
      put("gpus", std::to_string(w.gpus));
      put("link_bytes_per_step", std::to_string(p.extras.link_bytes_per_step.v));
      break;
    case Variant::dilated:
      put("segment", std::to_string(w.segment));
      put("dilation", std::to_string(w.dilation));
      break;
    default: break;
  }
  if (p.splits != 0 && w.variant != Variant::paged) put("splits", std::to_string(p.splits));
  return s;
}

Prediction predict(const Device& device, const Workload& input) {
  const Workload w = resolve(input, device);
  validate(w, device);
  Prediction out;
  out.workload = w;
  Evaluator ev(device, out.workload, out);
  const u64 e = dtype_bytes(w.dtype);
  const Shape s{w.batch, w.heads, w.kv_heads, w.query_len(), w.kv_len, w.head_dim, w.v_head_dim};
  const Mask mask = attention_mask(w, s.n, s.nk);

  switch (w.variant) {
    case Variant::standard:
      if (w.pass != Pass::bwd) standard_fwd(ev, s, mask);
      if (w.pass != Pass::fwd) standard_bwd(ev, s);
      break;
    case Variant::flash1: flash_passes(ev, s, mask, {}, true); break;
    case Variant::flash2:
    case Variant::sliding_window: flash_passes(ev, s, mask, {}, false); break;
    case Variant::block_sparse: flash_passes(ev, s, mask, {w.block_density, false}, false); break;
    case Variant::sigmoid: flash_passes(ev, s, mask, {1.0, true}, false); break;
    case Variant::dilated: {
      // LongNet §2.2: each segment of w tokens keeps every r-th token, so attention runs over
      // N/w independent sequences of w/r tokens; heads take different offsets.
      Shape seg = s;
      seg.batch = (Count(s.batch) * (w.seq / w.segment)).v;
      seg.n = seg.nk = w.segment / w.dilation;
      Mask m;
      if (w.causal) m.kind = MaskKind::causal;
      flash_passes(ev, seg, m, {}, false);
      break;
    }
    case Variant::chunked: chunked(ev, s, mask); break;
    case Variant::flash_decoding:
      split_kv_decode(ev, "flash_decoding_splitkv", s.batch, s.kv_heads, s.group(), s.nk,
                      (s.d + s.dv) * e, s.d, s.dv);
      break;
    case Variant::paged: paged_decode(ev, s); break;
    case Variant::mla: mla(ev, s); break;
    case Variant::linear: linear_core(ev, s, w.feature_dim, s.d, true); break;
    case Variant::performer: performer(ev, s); break;
    case Variant::mamba: mamba_fused(ev); break;
    case Variant::mamba_naive: mamba_naive(ev); break;
    case Variant::fnet: fnet(ev); break;
    case Variant::ring: ring(ev, s); break;
  }

  for (int i = 0; i < out.kernel_count; ++i) {
    const KernelCost& k = out.kernels[i];
    const Count n = w.layers;
    out.tensor_flops += k.tensor_flops * n;
    out.fp32_flops += k.fp32_flops * n;
    out.sfu_flops += k.sfu_ops * n;
    out.hbm_read_bytes += k.hbm_read * n;
    out.hbm_write_bytes += k.hbm_write * n;
    out.l2_read_bytes += k.l2_read * n;
    out.l2_write_bytes += k.l2_write * n;
    out.sram_read_bytes += k.sram_read * n;
    out.sram_write_bytes += k.sram_write * n;
    out.link_bytes += k.link_bytes * n;
    out.launches += Count(k.launches) * n;
    out.ctas += k.ctas * n;
  }
  out.kv_cache_bytes = kv_cache(w, s, e);
  out.io_complexity = io_complexity(w);
  const Count hbm = out.hbm_bytes();
  out.arithmetic_intensity = hbm.v == 0 ? 0.0 : out.flops().d() / hbm.d();
  apply_roofline(out, device, w.layers);
  return out;
}

}  // namespace attnio
