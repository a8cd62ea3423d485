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

// The largest divisor of N at most √N: M2's square Monarch factors (√N blocks of √N) when N is a
// square, the nearest rectangular ones otherwise (one block, a dense matrix, when N is prime).
u64 default_blocks(u64 n) {
  u64 best = 1;
  for (u64 b = 1; b * b <= n; ++b) {
    if (n % b == 0) best = b;
  }
  return best;
}

const ParamSpec kMonarchBlocks{
    .key = "monarch_blocks", .default_text = "the largest divisor of N at most √N", .unit = "blocks",
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

// The same kernels as tiles: x [B·D][N] (after the first rearrange) read by bmm 1 as nb strided
// blocks of blk columns; out1 [nb][B·D][blk]; the shuffle's and the contiguous operand's copies;
// bmm 2; the output permute's copy and the last rearrange. Weights [nb][blk][blk] per factor.
void monarch_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const u64 e = sc.e(), n = w.seq, nb = blocks_of(w), blk = n / nb, D = w.heads * w.head_dim;
  const u64 rows = (Count(w.batch) * D).v;
  const Count x_elems = Count(rows) * n;
  AddressSpace& as = sc.as();
  auto buffer = [&] { return as.alloc(x_elems * e); };
  const u64 in = buffer(), x = buffer(), out1 = buffer(), shuffled = buffer(), operand = buffer(), out2 = buffer(),
            permuted = buffer(), y = buffer();
  const u64 w1 = as.alloc(Count(nb) * blk * blk * e), w2 = as.alloc(Count(nb) * blk * blk * e);
  auto copy = [&](const char* name, u64 from, u64 to, const char* from_name, const char* to_name) {
    sc.out().push_back(elementwise(name, x_elems, {{from, e, false, from_name}, {to, e, true, to_name}}, 0, 0));
  };
  copy("rearrange_b_l_d", in, x, "u", "x");
  sc.out().push_back(gemm("bmm_factor_r", nb, rows, blk, blk, e, e, {x, rows, n, blk * e, false, "x"},
                          {w1, blk, blk, blk * blk * e, true, "R"}, {out1, rows, blk, rows * blk * e, false, "out1"}));
  copy("shuffle_reshape", out1, shuffled, "out1", "out1 shuffled");
  copy("contiguous_operand", shuffled, operand, "out1 shuffled", "out1 contiguous");
  sc.out().push_back(gemm("bmm_factor_l", nb, rows, blk, blk, e, e, {operand, rows, blk, rows * blk * e, false, "out1"},
                          {w2, blk, blk, blk * blk * e, true, "L"}, {out2, rows, blk, rows * blk * e, false, "out2"}));
  copy("output_permute", out2, permuted, "out2", "y");
  copy("rearrange_b_d_l", permuted, y, "y", "y (b l d)");
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
    .schedule = monarch_schedule,
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
