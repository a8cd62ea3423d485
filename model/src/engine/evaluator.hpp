// The closed form's engine, shared by the variant files (model/src/variants/): an Evaluator
// collects the kernels one layer launches (FLOPs per unit, bytes per memory level, CTAs), with the
// L2 filter that turns SM<->L2 traffic into DRAM traffic, and the GEMM and row-wise building
// blocks. Internal to model/. Notation as in docs/model.md: B batch, H query heads, Hkv K/V heads,
// g = H/Hkv, N query length, Nk key length, d head dim, dv value head dim, e bytes per element,
// M on-chip SRAM per SM. FLOPs count a multiply-add as 2.
#pragma once

#include <algorithm>
#include <optional>
#include <cmath>
#include <string_view>

#include "attnio/model/predict.hpp"
#include "attnio/model/tile_traits.hpp"
#include "plan.hpp"

namespace attnio::detail {

constexpr u64 kStatBytes = 4;  // softmax statistics, partial outputs and accumulators are fp32
using traits::kFlashWarps;
using traits::kGemmTile;
using traits::kGemmTileK;
using traits::kGemmStages;
using traits::kGemmWarpsPerOperand;
using traits::kElemsPerCta;
using traits::kSmallCtasPerSm;
using traits::kDecodeRowTile;

inline Count scaled(Count c, double s) {
  const double x = std::round(c.d() * s);
  if (!(x < 18446744073709551616.0)) Count::overflow();
  return static_cast<u64>(x);
}

// `times` identical launches of a kernel.
inline void scale_kernel(KernelCost& k, u64 times) {
  for (Count* c : {&k.tensor_flops, &k.fp32_flops, &k.sfu_ops, &k.hbm_read, &k.hbm_write, &k.l2_read, &k.l2_write,
                   &k.sram_read, &k.sram_write, &k.link_bytes, &k.ctas, &k.fp32_instr, &k.other_instr, &k.alu_instr, &k.mask_instr, &k.tensor_issue,
                   &k.sfu_issue, &k.block_iters, &k.sync_l2_read, &k.sync_hbm_read}) {
    *c = *c * times;
  }
  k.launches *= times;
}

// A kernel's time under the execution model of its workload's implementation (predict.cpp,
// docs/model.md "Time"), for closed forms that choose between two launch plans as the library or
// its benchmark does.
double kernel_time_s(const KernelCost& k, const Device& dev, const Workload& w);

// ---- the evaluator --------------------------------------------------------------------------


class Evaluator {
public:
  Evaluator(const Device& dev, const Workload& w, Prediction& out)
      : dev_(dev), w_(w), e_(dtype_bytes(w.dtype)), out_(out) {}

  const Device& dev() const { return dev_; }
  const Workload& w() const { return w_; }
  u64 e() const { return e_; }
  Shape shape() const { return shape_of(w_); }
  Prediction& out() { return out_; }

  KernelCost& add(std::string_view name, Count ctas, u64 ctas_per_sm) {
    if (out_.kernel_count() == Prediction::kMaxKernels) {
      throw InputError("internal: too many kernels in one variant (a bug in attnio)");
    }
    KernelCost& k = out_.kernels.emplace_back();
    k.name = name;
    k.ctas = ctas.v == 0 ? Count(1) : ctas;
    k.ctas_per_sm = std::clamp<u64>(ctas_per_sm, 1, 32);
    return k;
  }

  // An attention kernel of the workload's implementation: its MMA path, its MMA warps and, where
  // the profile fixes it, its CTAs per SM (impl.hpp).
  void attention_kernel(KernelCost& k, KernelRole role, u64 head_dim) const {
    const auto found = traits(role, head_dim);
    if (!found) return;
    const KernelTraits& t = *found;
    k.mma = t.mma;
    k.mma_warps = t.mma_warps;
    k.jobs_per_cta = t.jobs_per_cta;
    k.load_buffers = t.load_buffers;
    k.waits = t.waits;
    if (t.ctas_per_sm != 0) k.ctas_per_sm = t.ctas_per_sm;
    if (t.smem_bytes != 0) k.ctas_per_sm = ctas_per_sm(Count(t.smem_bytes));
    // The compiler's register count caps the CTAs the register file holds (kernels/resources.csv).
    // Where no compiler report is known, a forward kernel's live accumulators bound its registers
    // from below and so its CTAs per SM from above (impl.hpp live_accumulator_registers).
    if (t.registers == 0 && role == KernelRole::fwd) {
      const u64 live = live_accumulator_registers(t, head_dim);
      if (const u64 by_live = ctas_by_registers(live, 32 * t.mma_warps, dev_.register_file_bytes_per_sm); by_live != 0) {
        k.ctas_per_sm = std::min(k.ctas_per_sm, by_live);
        k.live_registers = live;
      }
    }
    if (const u64 by_regs = ctas_by_registers(t.registers, t.threads, dev_.register_file_bytes_per_sm); by_regs != 0) {
      k.ctas_per_sm = std::min(k.ctas_per_sm, by_regs);
      k.registers = t.registers;
    }
  }

  // The implementation's traits for one of its kernels; nullopt for `ideal` (the textbook kernel:
  // 4 warps, Q held on chip).
  std::optional<KernelTraits> traits(KernelRole role, u64 head_dim) const { return impl_traits(w_, role, head_dim); }
  // Warps (or warpgroups) that read each staged K/V tile out of shared memory.
  u64 tile_readers(KernelRole role, u64 head_dim) const {
    const auto t = traits(role, head_dim);
    return t ? t->readers() : traits::kFlashWarps;
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
  // Every load of the kernel but `unwaited_l2` bytes through L2 (`unwaited_hbm` of them from DRAM:
  // fire-and-forget atomics) is waited on in the iteration that issues it (KernelCost::sync_*).
  static void all_loads_waited(KernelCost& k, Count unwaited_l2 = Count(0), Count unwaited_hbm = Count(0)) {
    k.sync_l2_read = k.l2_read - unwaited_l2;
    k.sync_hbm_read = k.hbm_read - unwaited_hbm;
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

inline BlockSizes blocks_for(const Evaluator& ev, u64 d) {
  const Workload& w = ev.w();
  const BlockSizes alg1 = flash_block_sizes(w.sram_bytes, ev.e(), d);
  return {w.count("block_m") != 0 ? w.count("block_m") : alg1.br, w.count("block_n") != 0 ? w.count("block_n") : alg1.bc};
}

inline Count kv_heads_bytes(const Shape& s, Count tokens, u64 e) {
  return Count(s.batch) * s.kv_heads * tokens * (s.d + s.dv) * e;
}

// ---- GEMM and row-wise building blocks (used by standard attention) -------------------------

// C[m x n] = A[m x k] * B[k x n], `batch` independent problems. Each output tile reads its row of
// A tiles and its column of B tiles, so A crosses L2 ceil(n/tile) times and B ceil(m/tile) times.
inline void gemm(Evaluator& ev, std::string_view name, u64 batch, u64 m, u64 n, u64 k, u64 c_bytes) {
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

inline KernelCost& rowwise(Evaluator& ev, std::string_view name, Count elements) {
  return ev.add(name, ceil_div(elements.v, kElemsPerCta), kSmallCtasPerSm);
}

}  // namespace attnio::detail
