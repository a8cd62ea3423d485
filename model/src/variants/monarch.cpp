// Monarch Mixer's sequence mixing (Fu et al. 2023, "Monarch Mixer: A Simple Sub-Quadratic
// GEMM-Based Architecture", §3): each of the D = H·d channels is multiplied along the sequence by
// an order-2 Monarch matrix M = P·L·P·R, L and R block-diagonal with nb blocks of N/nb x N/nb and
// P the stride permutation: 2·N·(N/nb) multiply-adds per channel (N^1.5 at nb = √N) instead of N².
// Counted as M2's BlockdiagButterflyMultiply.forward runs it (HazyResearch/m2
// bert/src/mm/blockdiag_butterfly_multiply.py): x as (B·D, N), bmm with the first factor, the
// feature shuffle (a reshape that copies), bmm with the second factor (its permuted operand made
// contiguous for cuBLAS), and the output permute (another copy); plus the b l d <-> b d l
// rearranges around it (monarch_mixer_sequence_mixer.py).
#include <algorithm>
#include <cmath>

#include "common.hpp"

namespace attnio::detail {

namespace {

// The power of two nearest below √N: M2's square Monarch factors when N is a power of 4.
u64 default_blocks(u64 n) {
  u64 b = 1;
  while ((b * 2) * (b * 2) <= n) b *= 2;
  return b;
}

const ParamSpec kMonarchBlocks{
    .key = "monarch_blocks", .default_text = "the power of two at most √N", .unit = "blocks",
    .help = "monarch: blocks nb of each block-diagonal factor (blocks of N/nb x N/nb); must divide --seq",
    .source = "Fu et al. 2023 §3: order-2 Monarch matrices with √N blocks of √N x √N",
    .default_rule = [](const Workload& w) { return static_cast<double>(default_blocks(w.seq)); }};

u64 blocks_of(const Workload& w) { return w.count("monarch_blocks"); }

// A copy of `elements` values: one read and one write each.
void copy(Evaluator& ev, std::string_view name, Count elements, u64 launches) {
  KernelCost& c = rowwise(ev, name, elements * launches);
  c.launches = launches;
  Evaluator::read_direct(c, elements * ev.e() * launches);
  Evaluator::write_direct(c, elements * ev.e() * launches);
}

void monarch(Evaluator& ev) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), n = w.seq, nb = blocks_of(w), blk = n / nb, D = w.heads * w.head_dim;
  const Count rows = Count(w.batch) * D;  // seq_dim of the multiply: every (batch, channel)
  const Count x = rows * n;
  // rearrange b l d -> b d l before, b d l -> b l d after; the feature shuffle's reshape; the
  // second factor's operand made contiguous; the output permute's reshape.
  copy(ev, "rearrange_copies", x, 5);
  // bmm 1: (nb, B·D, blk) @ (nb, blk, blk); bmm 2 the same with the second factor. x is read as a
  // strided view (its last stride is 1), so the first needs no copy.
  gemm(ev, "bmm_factor_r", nb, rows.v, blk, blk, e);
  gemm(ev, "bmm_factor_l", nb, rows.v, blk, blk, e);
}

void check(const Workload& w, const Device&) {
  const u64 nb = blocks_of(w);
  if (w.seq % nb != 0) {
    throw InputError("--monarch-blocks " + num(nb) + " must divide --seq " + num(w.seq) + " (blocks of N/nb tokens)");
  }
}

constexpr const ParamSpec* kParams[] = {&kMonarchBlocks};
const VariantDescriptor kDesc{
    .name = "monarch",
    .summary = "sequence mixing by an order-2 Monarch matrix: two block-diagonal batched GEMMs and permutes (Monarch Mixer)",
    .sources = "Fu et al. 2023, Monarch Mixer, §3 (order-p Monarch matrices); HazyResearch/m2 "
               "bert/src/mm/blockdiag_butterfly_multiply.py (BlockdiagButterflyMultiply.forward)",
    .params = kParams, .decode = false, .masked = false, .self_only = true,
    .check = check,
    .evaluate = monarch,
    .cache_bytes = [](const Workload&) { return Count(0); },
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(B·D·N) per pass, Θ(B·D·N·N/nb) FLOPs"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "monarch_blocks", num(blocks_of(p.workload)));
      put(s, "block", num(p.workload.seq / blocks_of(p.workload)));
      return s;
    },
    .no_schedule = "monarch has no tile schedule yet (cuBLAS batched GEMMs and PyTorch copies); use predict",
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      const u64 nb = blocks_of(w), blk = w.seq / nb, D = w.heads * w.head_dim;
      return "Monarch Mixer sequence mixing (Fu et al. 2023 §3): each of the D = " + num(D) + " channels is multiplied along the " +
             num(w.seq) + " tokens by P·L·P·R, two block-diagonal factors of " + num(nb) + " blocks of " + num(blk) + " x " + num(blk) +
             ": 2·2·N·" + num(blk) + " FLOPs per channel, against 2·2·N² for a dense mixing matrix (" +
             fmt("%.0f", static_cast<double>(w.seq) / static_cast<double>(blk)) +
             "x fewer). M2's implementation runs them as two batched GEMMs over B·D rows, with the stride permutation and the "
             "layout changes as five copies of the activations: at bf16 the arithmetic intensity is about 4·" + num(blk) +
             "/(14·2) FLOP/byte, so a Monarch layer is memory-bound unless its blocks are large. M2-BERT's released sequence "
             "mixer realizes its Monarch matrices as a gated FFT convolution (attnio's longconv); dimension mixing "
             "(block-diagonal MLPs) belongs to the MLP, not to this variant.\n";
    }};

}  // namespace

const VariantDescriptor& monarch_variant() { return kDesc; }

}  // namespace attnio::detail
