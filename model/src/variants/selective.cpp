// Selective attention (Leviathan, Kalman & Matias 2024, "Selective Attention Improves Transformer",
// arXiv 2410.02703): one head's ReLU'd attention logits, accumulated over later queries, give each
// context token a selection score F (§3); at inference the context buffer keeps a fixed budget of
// tokens and evicts the one with the highest F (§5, context pruning). Decode then reads only the
// buffer: a split-KV decode over keep x kv-len tokens plus the pass that updates F and evicts.
#include "common.hpp"
#include "split_kv.hpp"

#include <cmath>

namespace attnio::detail {

namespace {

// The paper's abstract: with the same validation perplexity, models trained with context 512,
// 1024 and 2048 need 16x, 25x and 47x less attention memory; 1/16 is the first.
const ParamSpec kKeep{
    .key = "keep", .type = ParamType::real, .default_value = 0.0625, .default_text = "0.0625", .min = 0, .max = 1,
    .min_exclusive = true, .unit = "fraction",
    .help = "selective: fraction of the context the pruned buffer keeps (default 1/16)",
    .source = "Leviathan et al. 2024, abstract: 16x, 25x, 47x less attention memory at context 512, 1024, 2048"};

// Tokens the buffer holds: ceil(keep x kv-len), at least one.
u64 buffer(const Workload& w) {
  const double n = std::ceil(w.real("keep") * static_cast<double>(w.kv_len));
  return std::clamp<u64>(static_cast<u64>(n), 1, w.kv_len);
}

// The selection pass (§3, Eq. for F; §5): for each sequence, the selection head's query against
// the buffer's keys of its K/V head (ReLU'd, masked), added to F; the token with the highest F is
// evicted. CTAs of kElemsPerCta buffered tokens: each reads the query once, its tokens' keys and F,
// and writes F. 2·d FLOPs per token for the logit, 3 for ReLU, add and the running max.
void selection_pass(Evaluator& ev, u64 nb) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), d = w.head_dim;  // the query in the activation dtype, the keys as cached
  const u64 per_seq = ceil_div(nb, kElemsPerCta);
  KernelCost& k = ev.add("selective_update_f", Count(w.batch) * per_seq, kSmallCtasPerSm);
  k.fp32_flops = Count(w.batch) * nb * (2 * d + 3);
  Evaluator::read_direct(k, Count(w.batch) * per_seq * d * e);  // the selection head's query, per CTA
  Evaluator::read_direct(k, Count(w.batch) * nb * kv_row_bytes(w, d));  // its K/V head's keys in the buffer (as cached)
  Evaluator::read_direct(k, Count(w.batch) * nb * kStatBytes);   // F
  Evaluator::write_direct(k, Count(w.batch) * nb * kStatBytes);
}

void selective_decode(Evaluator& ev) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const u64 nb = buffer(w);
  split_kv_decode(ev, "selective_splitkv", s.batch, s.kv_heads, s.group(), nb, kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv), s.d,
                  s.dv, s.d + s.dv);
  selection_pass(ev, nb);
}

void selective_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const u64 nb = buffer(w), e = sc.e(), d = s.d;
  split_kv(sc, "selective_splitkv", s.batch, s.kv_heads, s.group(), nb, s.d, s.dv, true, kv_row_bytes(w, s.d), kv_row_bytes(w, s.dv),
           s.d + s.dv);
  AddressSpace& as = sc.as();
  // The selection head (head 0) and its K/V head's buffered keys, [B][nb][d]; F [B][nb] fp32.
  const u64 kr = kv_row_bytes(w, d);
  const u64 q = as.alloc(Count(s.batch) * d * e), keys = as.alloc(Count(s.batch) * nb * kr), f = as.alloc(Count(s.batch) * nb * kStat);
  const u64 per_seq = ceil_div(nb, kElemsPerCta);
  SimKernel k;
  k.name = "selective_update_f";
  k.ctas = (Count(s.batch) * per_seq).v;
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 b = cta / per_seq, t0 = (cta % per_seq) * kElemsPerCta, n = min_u(nb, t0 + kElemsPerCta) - t0;
    Step st;
    st.read("q (selection head)", q + b * d * e, d * e);
    st.read("K (buffer)", keys + (b * nb + t0) * kr, n * kr);
    st.read("F", f + (b * nb + t0) * kStat, n * kStat);
    st.write("F", f + (b * nb + t0) * kStat, n * kStat);
    st.fp32 = static_cast<double>(n * (2 * d + 3));
    steps.push_back(st);
  };
  sc.out().push_back(std::move(k));
}

// The buffer's K/V and its F scores, per cached layer.
Count selective_cache(const Workload& w) {
  const u64 nb = buffer(w);
  return kv_cache_tokens(w, nb) + Count(w.batch) * nb * kStatBytes * ceil_div(w.layers, w.count("cla_share"));
}

void tiles(Workload& w) { fill_tiles(w, KernelRole::splitkv, std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim)); }

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kSplits, &kKeep, &kKvBits, &kKvGroup};
const VariantDescriptor kDesc{
    .name = "selective",
    .summary = "decode over a pruned context buffer, evicting by accumulated selection scores (Selective Attention)",
    .sources = "Leviathan, Kalman & Matias 2024, Selective Attention Improves Transformer, §3 (F), §5 (context pruning)",
    .params = kParams, .prefill = false,
    .check = [](const Workload& w, const Device&) {
      check_block_tiles(w);
      check_kv_format(w);
    },
    .evaluate = selective_decode,
    .cache_bytes = selective_cache,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(keep·N_kv·d) per K/V head"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "keep", fmt("%g", p.workload.real("keep")));
      put(s, "buffer", num(buffer(p.workload)));
      if (p.splits != 0) put(s, "splits", num(p.splits));
      return s;
    },
    .schedule = selective_schedule,
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      return "Selective attention (Leviathan et al. 2024 §5): the context buffer keeps keep·Nk = " + fmt("%g", w.real("keep")) + "·" +
             num(w.kv_len) + " → " + num(buffer(w)) +
             " tokens, so decode reads that many K/V rows instead of Nk; a second pass adds the selection head's ReLU'd "
             "logits to each buffered token's score F and evicts the highest (its keys and F: 2·B·buffer·4 + B·buffer·d·e "
             "bytes). Selection is learned in training; the paper reports 16x, 25x and 47x smaller attention memory at "
             "context 512, 1024 and 2048 with the same perplexity. Prefill is not modeled (its F is a cumulative sum over "
             "the N x N selection logits in the paper's reference code; no fused kernel is published).\n";
    }};

}  // namespace

const VariantDescriptor& selective_variant() { return kDesc; }

}  // namespace attnio::detail
