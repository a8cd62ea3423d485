// FlexAttention block masks (PyTorch FlexAttention; Dong, Feng, Guessous, Liang & He 2024, "Flex
// Attention: A Programming Model for Generating Optimized Attention Kernels", §3-4): a mask given as
// a rule is turned into a BlockMask that classifies each (Q block, K/V block) pair as empty (skipped),
// full (no mask evaluated) or partial (mask_mod evaluated per score); the generated Triton kernel is
// FlashAttention-2's loop over the non-empty blocks. Rules here: packed documents, causal within each
// (document masking), and prefix-LM. engine/plan.hpp holds the masks, shared with the simulator.
#include "flash.hpp"

namespace attnio::detail {

namespace {

const ParamSpec kDocLen{
    .key = "doc_len", .default_text = "0 (off)", .max = u64{1} << 32, .zero_is_auto = true, .unit = "tokens",
    .help = "flex: packed documents of mean length L (L/2, L, 3L/2 repeating), causal within each; 0: off",
    .source = "FlexAttention document masking (Dong et al. 2024 §4, the document_mask example)"};
const ParamSpec kPrefix{
    .key = "prefix", .default_text = "0 (off)", .max = u64{1} << 32, .zero_is_auto = true, .unit = "tokens",
    .help = "flex: prefix-LM, bidirectional over the first P tokens and causal after; 0: off",
    .source = "Raffel et al. 2020 (T5) §3.2.1 prefix LM; FlexAttention prefix_lm_causal example"};

// The rule the flags name: documents, prefix-LM, else flash2's (causal or none).
Mask flex_mask(const Workload& w, u64 n, u64 nk) {
  Mask m = attention_mask(w, n, nk);
  if (const u64 L = w.count("doc_len"); L != 0) {
    m.kind = MaskKind::document;
    m.window = L;
  } else if (const u64 P = w.count("prefix"); P != 0) {
    m.kind = MaskKind::prefix_lm;
    m.window = P;
  }
  return m;
}

void check_flex(const Workload& w, const Device&) {
  check_block_tiles(w);
  const u64 L = w.count("doc_len"), P = w.count("prefix");
  if (L != 0 && P != 0) throw InputError("flex: give --doc-len or --prefix, one mask rule at a time");
  if (L != 0 && (L < 2 || L % 2 != 0)) throw InputError("flex: --doc-len must be even (documents of L/2, L and 3L/2 tokens)");
  if ((L != 0 || P != 0) && w.phase == Phase::prefill && w.kv_len != w.seq) {
    throw InputError("flex: document and prefix-LM masks are self-attention over one packed sequence: --kv-len must equal --seq");
  }
}

void tiles(Workload& w) { flash_kernel_tiles(w, std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim)); }

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kDocLen, &kPrefix};
const VariantDescriptor kDesc{
    .name = "flex",
    .summary = "FlexAttention block masks: packed documents or prefix-LM, only non-empty blocks visited",
    .sources = "Dong et al. 2024, FlexAttention, §3-4 (BlockMask: empty / full / partial blocks); T5 §3.2.1 prefix LM",
    .params = kParams, .backward = true,
    .check = check_flex,
    .evaluate = [](Evaluator& ev) { flash_passes(ev, ev.shape(), flex_mask(ev.w(), ev.shape().n, ev.shape().nk), {}, false); },
    .io_complexity = [](const Workload& w) -> std::string_view {
      return w.count("doc_len") != 0 ? "Θ(N·L·d²/M) per head (L: document length)" : "Θ(N²·d²/M) per head";
    },
    .params_text = [](const Prediction& p) {
      std::string s;
      if (const u64 L = p.workload.count("doc_len"); L != 0) put(s, "doc_len", num(L));
      if (const u64 P = p.workload.count("prefix"); P != 0) put(s, "prefix", num(P));
      return s;
    },
    .schedule = [](Scheduler& sc) { flash_family(sc, sc.shape(), flex_mask(sc.w(), sc.shape().n, sc.shape().nk), {}, false); },
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      const u64 L = w.count("doc_len"), P = w.count("prefix");
      std::string rule = L != 0 ? "packed documents of " + num(L / 2) + ", " + num(L) + " and " + num(L + L / 2) +
                                      " tokens (mean " + num(L) + "), causal within each: a Q block visits only the K/V "
                                      "blocks of its own documents, so the work grows as N·L instead of N²/2"
                         : P != 0 ? "prefix-LM: the first " + num(P) + " tokens see each other, the rest are causal"
                                  : std::string(w.causal ? "causal" : "no mask");
      return "FlexAttention (Dong et al. 2024): the mask rule (" + rule + ") becomes a block mask; empty blocks are "
             "skipped, full ones run without evaluating the mask, partial ones evaluate it per score. The kernel is "
             "FlashAttention-2's loop over the visited blocks (Br = " + num(p.block_m) + ", Bc = " + num(p.block_n) + ").\n";
    }};

}  // namespace

const VariantDescriptor& flex_variant() { return kDesc; }

}  // namespace attnio::detail
