// The gated attention unit of FLASH (Hua, Dai, Liu & Le 2022, "Transformer Quality in Linear Time",
// §2, Eqs. 1-4): one head whose queries and keys are a per-dimension scale and offset of a shared Z
// (s = 128), scores A = relu²(Q Kᵀ / N + b) with a relative position bias b and no softmax (no
// exponentials at all), values V of width e = 2·d_model, and the output gated by U: O = U ⊙ (A V).
// Counted as lucidrains/FLASH-pytorch (flash_pytorch.py, GAU.forward) runs it in PyTorch eager,
// one kernel per operation, S and A materialized: OffsetScale as a multiply and an add for each of
// Q and K, the score GEMM, the 1/N scale (1/(i+1) per row when causal), the bias add, relu, the
// square, the causal mask (built as torch.ones(...).triu(1), then masked_fill; the paper masks A,
// which is what is counted), the value GEMM and the gate multiply. The projections producing Z, U
// and V belong to the layer and are left out, as the other variants leave out theirs.
#include "common.hpp"

namespace attnio::detail {

namespace {

void copy_rw(KernelCost& k, Count read, Count write) {
  Evaluator::read_direct(k, read);
  Evaluator::write_direct(k, write);
}

void gau(Evaluator& ev) {
  const Workload& w = ev.w();
  const Shape s = ev.shape();
  const u64 e = ev.e();
  const Mask mask = attention_mask(w, s.n, s.nk);
  const Count bh = Count(s.batch) * s.heads;
  const Count z = bh * s.n * s.d;  // Z elements
  const Count scores = bh * s.n * s.nk, allowed = bh * allowed_pairs(mask, s.n, s.nk);
  // OffsetScale: x * gamma, then + beta, for Q and for K: four elementwise kernels over Z.
  KernelCost& qk = rowwise(ev, "offset_scale_qk", z * 4);
  qk.launches = 4;
  qk.fp32_flops = z * 4;
  copy_rw(qk, z * e * 4, z * e * 4);
  gemm(ev, "gemm_qk", bh.v, s.n, s.nk, s.d, e);
  // sim / N (sim / (i + 1) when causal).
  KernelCost& scale = rowwise(ev, "scale", scores);
  scale.fp32_flops = allowed;
  copy_rw(scale, scores * e, scores * e);
  // + rel_pos_bias: N x Nk, broadcast over the batch and heads.
  const Count plane = Count(s.n) * s.nk * e;
  KernelCost& bias = rowwise(ev, "add_bias", scores);
  bias.fp32_flops = allowed;
  copy_rw(bias, scores * e, scores * e);
  bias.l2_read += scores * e;
  bias.hbm_read += ev.filtered(plane, scores * e, plane.d());
  // F.relu, then ** 2.
  KernelCost& relu2 = rowwise(ev, "relu_square", scores * 2);
  relu2.launches = 2;
  relu2.fp32_flops = allowed * 2;
  copy_rw(relu2, scores * e * 2, scores * e * 2);
  if (mask.kind != MaskKind::none) {
    // torch.ones((N, Nk), bool).triu(1): one byte per pair written, read and written again; then
    // masked_fill of A with it (broadcast over the batch and heads).
    const Count bools = Count(s.n) * s.nk;
    KernelCost& build = rowwise(ev, "mask_ones_triu", bools * 2);
    build.launches = 2;
    copy_rw(build, bools, bools * 2);
    KernelCost& fill = rowwise(ev, "masked_fill", scores);
    copy_rw(fill, scores * e, scores * e);
    fill.l2_read += bh * bools;
    fill.hbm_read += ev.filtered(bools, bh * bools, bools.d());
  }
  gemm(ev, "gemm_av", bh.v, s.n, s.dv, s.nk, e);
  // out * gate.
  const Count out = bh * s.n * s.dv;
  KernelCost& gate = rowwise(ev, "gate_u", out);
  gate.fp32_flops = out;
  copy_rw(gate, out * e * 2, out * e);
  ev.out().extra_memory_bytes += scores * e * 2;  // S and A
}

const VariantDescriptor kDesc{
    .name = "gau",
    .summary = "gated attention unit (FLASH): relu² scores with a position bias, no softmax, output gated by U",
    .sources = "Hua, Dai, Liu & Le 2022, Transformer Quality in Linear Time, §2 (Eqs. 1-4, GAU); lucidrains/FLASH-pytorch "
               "flash_pytorch.py (GAU.forward)",
    .decode = false,
    .evaluate = gau,
    .cache_bytes = attended_kv_bytes,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N²) scores materialized per head"; },
    .no_schedule = "gau has no tile schedule yet (its eager chain is standard attention's with other elementwise kernels); "
                   "use predict",
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      return "Gated attention unit (FLASH, Hua et al. 2022 §2): Q and K are a per-dimension scale and offset of the shared Z "
             "(s = --head-dim = " + num(w.head_dim) + "; the paper's GAU is one head of s = 128 with e = --v-head-dim = 2·d_model), "
             "scores relu²(Q Kᵀ / N + b) replace the softmax (FP32 only: no exponential on the SFU), and the output is U ⊙ (A V). "
             "In eager mode (lucidrains/FLASH-pytorch) the N x Nk scores are written by the GEMM and then read and written by the "
             "scale, the bias add, relu and the square" + std::string(w.causal ? " and the causal masked_fill" : "") +
             " before A V reads them: B·H·N·Nk = " +
             num((Count(w.batch) * w.heads * w.query_len() * w.kv_len).v) + " elements. FLASH itself replaces this quadratic "
             "part by chunked local attention plus linear attention across chunks for long sequences (§3); attnio's chunked "
             "and linear variants cover those pieces.\n";
    }};

}  // namespace

const VariantDescriptor& gau_variant() { return kDesc; }

}  // namespace attnio::detail
