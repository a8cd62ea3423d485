// Gated attention (Qiu et al. 2025, "Gated Attention for Large Language Models: Non-linearity,
// Sparsity, and Attention-Sink-Free", arXiv 2505.06708, §2, gating position G1): the SDPA output Y of
// every head is multiplied elementwise by a sigmoid gate computed from the layer input,
// Y' = Y ⊙ σ(X W_θ), with W_θ of d_model x (H·dv) (the elementwise, head-specific gate the paper finds
// best; Qwen3-Next uses it). As the authors' released code applies it (qiuzh20/gated_attention), the
// gate is a pass of its own after the attention kernel: three kernels per layer, the gate projection
// GEMM, flash2, and the gate pass that reads Y and the gate logits and writes Y'. --gate-fused 1
// applies the gate in flash2's epilogue instead (kernels/flash2.cu with Flash2Params::gate): the
// CTA that holds a block of Y in registers reads the same block of G and writes Y' once, so the Y
// round trip through DRAM and the third launch disappear.
#include "flash.hpp"

namespace attnio::detail {

const ParamSpec kModelDim{
    .key = "model_dim", .default_text = "heads x head-dim", .unit = "elements",
    .help = "gated: width d_model of the layer input X the gate projects (default: heads x head-dim)",
    .source = "Qiu et al. 2025 §2: G1 gate sigma(X W_theta), X the normalized hidden state; d_model = H·d in "
              "Llama/Qwen-style layers",
    .default_rule = [](const Workload& w) {
      constexpr std::uint64_t kMax = std::uint64_t{1} << 40;  // larger shapes are refused by validate()
      return w.heads <= kMax && w.head_dim <= kMax ? static_cast<double>(w.heads * w.head_dim) : 0.0;
    }};

const ParamSpec kGateFused{
    .key = "gate_fused", .default_value = 0, .default_text = "0 (a pass of its own)", .min = 0, .max = 1, .unit = "0 or 1",
    .help = "gated: 1 applies the gate in flash2's epilogue (prefill), 0 in a pass of its own after it (default)",
    .source = "0: qiuzh20/gated_attention applies the gate after the attention call; 1: attnio's kernels/flash2.cu epilogue"};

namespace {

bool fused(const Workload& w) { return w.count("gate_fused") == 1; }

// ---- closed form --------------------------------------------------------------------------------

void gated(Evaluator& ev) {
  const Workload& w = ev.w();
  const Shape s = ev.shape();
  const u64 e = ev.e();
  const u64 tokens = (Count(s.batch) * s.n).v, width = (Count(s.heads) * s.dv).v;
  gemm(ev, "gate_project", 1, tokens, width, w.count("model_dim"), e);  // G = X W_θ
  if (fused(w)) {                                                        // Y ⊙ σ(G) from flash2's epilogue
    flash_passes(ev, s, attention_mask(w, s.n, s.nk), {.gate = true}, false);
    ev.out().extra_memory_bytes += Count(tokens) * width * e;  // the gate logits G
    return;
  }
  flash_passes(ev, s, attention_mask(w, s.n, s.nk), {}, false);         // Y
  const Count gates = Count(tokens) * width;
  KernelCost& k = rowwise(ev, "sigmoid_gate", gates);
  // σ(g) = (1 + tanh(g/2)) / 2 with one MUFU.TANH per gate (as FlashSigmoid evaluates it); FP32: the
  // scale g/2 (1), the affine FFMA (2) and the product with Y (1).
  k.sfu_ops = gates;
  k.fp32_flops = gates * 4;
  // Y was written by the attention kernel before: read back from DRAM (a layer's Y outgrows L2 at the
  // shapes this matters for), as is G.
  Evaluator::read_direct(k, gates * e * 2);
  Evaluator::write_direct(k, gates * e);
  ev.out().extra_memory_bytes += gates * e;  // the gate logits G
}

// ---- tile schedule ------------------------------------------------------------------------------

// The same three kernels; G and Y are [B][N][H][dv] like flash2's O, so the gate pass is elementwise.
void gated_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const u64 e = sc.e(), dm = w.count("model_dim");
  const u64 tokens = (Count(s.batch) * s.n).v, width = (Count(s.heads) * s.dv).v;
  AddressSpace& as = sc.as();
  const u64 x = as.alloc(Count(tokens) * dm * e), wt = as.alloc(Count(dm) * width * e);
  const u64 g = as.alloc(Count(tokens) * width * e);
  sc.out().push_back(gemm("gate_project", 1, tokens, width, dm, e, e, {x, tokens, dm, 0, false, "X"},
                          {wt, dm, width, 0, false, "W_gate"}, {g, tokens, width, 0, false, "G"}));
  if (fused(w)) {
    flash_family(sc, s, attention_mask(w, s.n, s.nk), {.gate = true, .gate_buffer = g}, false);
    return;
  }
  flash_family(sc, s, attention_mask(w, s.n, s.nk), {}, false);
  // The gate pass reads Y as DRAM traffic, as the closed form counts it: a buffer of its own.
  const u64 y = as.alloc(Count(tokens) * width * e), out = as.alloc(Count(tokens) * width * e);
  sc.out().push_back(elementwise("sigmoid_gate", Count(tokens) * width,
                                 {{y, e, false, "Y"}, {g, e, false, "G"}, {out, e, true, "Y gated"}}, 4, 1));
}

// ---- the variant --------------------------------------------------------------------------------

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kModelDim, &kGateFused};
const VariantDescriptor kDesc{
    .name = "gated",
    .summary = "flash2 with an elementwise sigmoid gate on each head's output, Y * sigmoid(X W) (Qiu et al. 2025)",
    .sources = "Qiu et al. 2025, Gated Attention for Large Language Models, arXiv 2505.06708, §2 (position G1); "
               "github.com/qiuzh20/gated_attention (gate applied after the attention kernel)",
    .params = kParams, .kernel_fwd = "flash2_fwd_gated",
    .check = [](const Workload& w, const Device&) {
      check_block_tiles(w);
      if (fused(w) && w.phase == Phase::decode) {
        throw InputError("--gate-fused 1 applies to prefill: decode's split-KV kernels have no fused gate (the combine "
                         "kernel would have to apply it)");
      }
    },
    .evaluate = gated,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N²·d²/M) per head + Θ(N·H·dv) for the gate"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "model_dim", std::to_string(p.workload.count("model_dim")));
      if (fused(p.workload)) put(s, "gate_fused", "1");
      return s;
    },
    .schedule = gated_schedule,
    .kernel_tiles = [](Workload& w) { flash_kernel_tiles(w, std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim)); },
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      const u64 e = dtype_bytes(w.dtype);
      if (fused(w)) {
        return "Gated attention (Qiu et al. 2025 §2, G1), the gate fused: a GEMM projects the layer input (d_model = " +
               num(w.count("model_dim")) + ") to one gate logit per output element, and flash2 (Br = " + num(p.block_m) +
               ", Bc = " + num(p.block_n) + ") reads each CTA's rows of G in its epilogue and writes Y ⊙ σ(G) in O's place: "
               "one extra read of B·N·H·dv = " + num((Count(w.batch) * w.query_len() * w.heads * w.v_head_dim).v) +
               " elements (" + num(e) + " bytes each) and one tanh per element on the SFU; Y never reaches DRAM.\n";
      }
      return "Gated attention (Qiu et al. 2025 §2, G1): a GEMM projects the layer input (d_model = " +
             num(w.count("model_dim")) + ") to one gate logit per output element, flash2 computes Y (Br = " +
             num(p.block_m) + ", Bc = " + num(p.block_n) + "), and a gate pass reads Y and G and writes Y ⊙ σ(G): "
             "three extra passes over B·N·H·dv = " + num((Count(w.batch) * w.query_len() * w.heads * w.v_head_dim).v) +
             " elements (" + num(e) + " bytes each) and one tanh per element on the SFU. Fusing the gate into "
             "flash2's epilogue would save the Y round trip.\n";
    }};

}  // namespace

const VariantDescriptor& gated_variant() { return kDesc; }

}  // namespace attnio::detail
