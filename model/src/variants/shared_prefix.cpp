// Decode of a batch whose requests share a prefix (ChunkAttention, Ye et al. 2024, "ChunkAttention:
// Efficient Self-Attention with Prefix-Aware KV Cache and Two-Phase Partition", §3.2-3.3; the
// shared-prefix case of vLLM's and SGLang's prefix caching; FlashInfer's cascade inference,
// Ye et al. 2024, "Cascade Inference: Memory Bandwidth Efficient Shared Prefix Batch Decoding").
// The P shared tokens' K/V are stored once. Phase 1 (chunk-first) attends the queries of all B
// requests to them as one batch: the B·g query heads of a group are the rows of one split-KV
// decode over the P prefix tokens, so each prefix chunk is read once, not once per request. Phase 2
// (sequence-first) is plain split-KV decode of each request over its own Nk - P tokens. A merge
// kernel combines the two partial results by their log-sum-exps (FlashInfer merge_state).
#include <algorithm>

#include "split_kv.hpp"

namespace attnio::detail {

namespace {

const ParamSpec kSharedPrefix{
    .key = "shared_prefix", .default_text = "kv-len / 2", .unit = "tokens",
    .help = "shared-prefix: cached tokens every request of the batch shares (a system prompt), below --kv-len",
    .source = "an assumption for the default (half the cache shared); ChunkAttention (Ye et al. 2024) §5 varies it",
    .default_rule = [](const Workload& w) {
      const std::uint64_t nk = w.kv_len != 0 ? w.kv_len : w.seq;
      return static_cast<double>(std::max<std::uint64_t>(1, nk / 2));
    }};

// FlashInfer's merge_state (include/flashinfer/attention/cascade.cuh): per query head, two partial
// outputs and their log-sum-exps in, one output out; 2 exponentials and about 3·dv FP32 operations
// (two scalings and the sum) per head.
constexpr u64 kMergeExps = 2;

u64 prefix_of(const Workload& w) { return w.count("shared_prefix"); }

void shared_prefix_decode(Evaluator& ev) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const u64 p = prefix_of(w), own = s.nk - p, e = ev.e();
  const u64 token = kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv);
  // Phase 1: one K/V set per group, its rows the group's heads of every request.
  split_kv_decode(ev, "prefix_chunk_first", 1, s.kv_heads, s.batch * s.group(), p, token, s.d, s.dv, s.d + s.dv);
  const u64 prefix_splits = ev.out().splits;
  // Phase 2: each request over its own tokens.
  split_kv_decode(ev, "suffix_sequence_first", s.batch, s.kv_heads, s.group(), own, token, s.d, s.dv, s.d + s.dv);
  ev.out().extras.prefix_splits = prefix_splits;
  const Count heads = Count(s.batch) * s.heads;
  KernelCost& m = rowwise(ev, "merge_state", heads * s.dv);
  Evaluator::read_direct(m, heads * (s.dv * e + kStatBytes) * 2);
  Evaluator::write_direct(m, heads * s.dv * e);
  m.sfu_ops = heads * kMergeExps;
  m.fp32_flops = heads * (s.dv * 3 + 4);
}

void shared_prefix_schedule(Scheduler& sc) {
  const Shape s = sc.shape();
  const Workload& w = sc.w();
  const Prediction& f = sc.formula();
  const u64 p = prefix_of(w), own = s.nk - p, e = sc.e();
  const u64 kr = kv_row_bytes(w, s.d), vr = kv_row_bytes(w, s.dv);
  split_kv(sc, "prefix_chunk_first", 1, s.kv_heads, s.batch * s.group(), p, s.d, s.dv, true, kr, vr, s.d + s.dv,
           f.extras.prefix_splits);
  split_kv(sc, "suffix_sequence_first", s.batch, s.kv_heads, s.group(), own, s.d, s.dv, true, kr, vr, s.d + s.dv, f.splits);
  AddressSpace& as = sc.as();
  const u64 heads = s.batch * s.heads, row = s.dv * e + kStat;
  const u64 a = as.alloc(Count(heads) * row), b = as.alloc(Count(heads) * row), o = as.alloc(Count(heads) * s.dv * e);
  SimKernel m;
  m.name = "merge_state";
  const u64 per_cta = max_u(1, kElemsPerCta / s.dv);  // heads per CTA
  m.ctas = ceil_div(heads, per_cta);
  m.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 h0 = cta * per_cta, n = min_u(heads, h0 + per_cta) - h0;
    Step st;
    st.read("O, lse (prefix)", a + h0 * row, n * row);
    st.read("O, lse (own)", b + h0 * row, n * row);
    st.write("O", o + h0 * s.dv * e, n * s.dv * e);
    st.sfu = static_cast<double>(n * kMergeExps);
    st.fp32 = static_cast<double>(n * (s.dv * 3 + 4));
    steps.push_back(st);
  };
  sc.out().push_back(std::move(m));
}

// The prefix's K/V once, each request's own tokens once per request.
Count shared_prefix_cache(const Workload& w) {
  Workload one = w;
  one.batch = 1;
  return kv_cache_tokens(one, prefix_of(w)) + kv_cache_tokens(w, w.kv_len - prefix_of(w));
}

void tiles(Workload& w) { fill_tiles(w, KernelRole::splitkv, std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim)); }

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kSharedPrefix, &kKvBits, &kKvGroup};
const VariantDescriptor kDesc{
    .name = "shared-prefix",
    .summary = "decode of a batch sharing a cached prefix: prefix K/V read once for all requests (ChunkAttention)",
    .sources = "Ye et al. 2024, ChunkAttention, §3.2-3.3 (prefix tree, two-phase partition); FlashInfer cascade inference "
               "(merge_state, include/flashinfer/attention/cascade.cuh)",
    .params = kParams, .prefill = false,
    .check = [](const Workload& w, const Device&) {
      check_block_tiles(w);
      check_kv_format(w);
      if (prefix_of(w) >= w.kv_len) {
        throw InputError("--shared-prefix " + num(prefix_of(w)) + " must be below --kv-len " + num(w.kv_len) +
                         " (each request caches at least its own token)");
      }
    },
    .evaluate = shared_prefix_decode,
    .cache_bytes = shared_prefix_cache,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ((P + B·(N_kv - P))·d) per K/V head"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "shared_prefix", num(prefix_of(p.workload)));
      put(s, "prefix_splits", num(p.extras.prefix_splits));
      put(s, "own_splits", num(p.splits));
      return s;
    },
    .schedule = shared_prefix_schedule,
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      const u64 pre = prefix_of(w), g = w.heads / w.kv_heads;
      return "Shared-prefix decode (ChunkAttention §3.3, FlashInfer cascade): the " + num(pre) + " prefix tokens' K/V are cached "
             "once and read once per K/V head by a split-KV kernel whose rows are the " + num(w.batch) + "·" + num(g) + " = " +
             num(w.batch * g) + " query heads of all requests in the group (" + num(p.extras.prefix_splits) +
             " splits); each request then reads its own " + num(w.kv_len - pre) + " tokens (" + num(p.splits) +
             " splits), and merge_state combines the two partial outputs by their log-sum-exps. Against flash-decoding over "
             "the whole cache the prefix's bytes drop by a factor of B = " + num(w.batch) +
             " and its FLOPs stay the same; the prefix rows fill the MMA tile instead of g padded rows.\n";
    }};

}  // namespace

const VariantDescriptor& shared_prefix_variant() { return kDesc; }

}  // namespace attnio::detail
