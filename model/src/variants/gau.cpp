// The gated attention unit of FLASH (Hua, Dai, Liu & Le 2022, "Transformer Quality in Linear Time",
// §2, Eqs. 1-4): one head whose queries and keys are a per-dimension scale and offset of a shared Z
// (s = 128), scores A = relu²(Q Kᵀ / N + b) with a relative position bias b and no softmax (no
// exponentials at all), values V of width e = 2·d_model, and the output gated by U: O = U ⊙ (A V).
// Counted as lucidrains/FLASH-pytorch (flash_pytorch.py, GAU.forward) runs it in PyTorch eager,
// one kernel per operation, S and A materialized: OffsetScale (x * gamma + beta) as a multiply and
// an add for each of Q and K, the score GEMM, the 1/N scale (when causal 1/(i+1) per row, dividing
// by rearrange(torch.arange(N) + 1, '... -> ... 1'): an int64 arange and its + 1 are two kernels
// more), the bias add, relu, the square, the causal mask (built as torch.ones(...).triu(1), then
// masked_fill; the paper masks A, which is what is counted), the value GEMM and the gate multiply.
// Broadcast operands (gamma, beta, the divisor, the bias plane, the mask) are read once per CTA of
// 1024 elements (schedule.hpp broadcast_reads). q and k are both offset-scales of to_qk(x): the
// unit mixes one sequence with itself. The projections producing Z, U and V belong to the layer
// and are left out, as the other variants leave out theirs.
#include "common.hpp"

namespace attnio::detail {

namespace {

// torch.arange's default dtype, int64: the causal row divisor.
constexpr u64 kIndexBytes = 8;

void copy_rw(KernelCost& k, Count read, Count write) {
  Evaluator::read_direct(k, read);
  Evaluator::write_direct(k, write);
}

// A broadcast operand of `unique` bytes read by an elementwise kernel: its CTAs read `reads` elements
// of `elem_bytes` (broadcast_reads, schedule.hpp); re-reads miss in L2 as `working_set` says.
void read_broadcast(const Evaluator& ev, KernelCost& k, Count reads, u64 elem_bytes, Count unique, double working_set) {
  k.l2_read += reads * elem_bytes;
  k.hbm_read += ev.filtered(unique, reads * elem_bytes, working_set);
}

void gau(Evaluator& ev) {
  const Workload& w = ev.w();
  const Shape s = ev.shape();
  const u64 e = ev.e();
  const Mask mask = attention_mask(w, s.n, s.nk);
  const Count bh = Count(s.batch) * s.heads;
  const Count z = bh * s.n * s.d;  // Z elements
  const Count scores = bh * s.n * s.nk, allowed = bh * allowed_pairs(mask, s.n, s.nk);
  // OffsetScale: x * gamma, then + beta, for Q and for K: four elementwise kernels over Z, each
  // reading its broadcast vector of s (gamma or beta) once per CTA of 1024 elements.
  KernelCost& qk = rowwise(ev, "offset_scale_qk", z * 4);
  qk.launches = 4;
  qk.fp32_flops = z * 4;
  copy_rw(qk, z * e * 4, z * e * 4);
  read_broadcast(ev, qk, broadcast_reads(z, s.d, 1) * 4, e, Count(s.d) * e * 4, 0);
  gemm(ev, "gemm_qk", bh.v, s.n, s.nk, s.d, e);
  // sim / N (a Python int: no operand); when causal sim / (torch.arange(N) + 1)[:, None]: one kernel
  // writes the int64 arange, one reads it and writes it plus 1, and the division reads it per row.
  if (mask.kind != MaskKind::none) {
    KernelCost& divisor = rowwise(ev, "causal_divisor", Count(s.n) * 2);
    divisor.launches = 2;
    copy_rw(divisor, Count(s.n) * kIndexBytes, Count(s.n) * kIndexBytes * 2);
  }
  KernelCost& scale = rowwise(ev, "scale", scores);
  scale.fp32_flops = allowed;
  copy_rw(scale, scores * e, scores * e);
  if (mask.kind != MaskKind::none) {
    read_broadcast(ev, scale, broadcast_reads(scores, s.n, s.nk), kIndexBytes, Count(s.n) * kIndexBytes, 0);
  }
  // + rel_pos_bias: N x Nk, broadcast over the batch and heads.
  const Count plane = Count(s.n) * s.nk * e;
  KernelCost& bias = rowwise(ev, "add_bias", scores);
  bias.fp32_flops = allowed;
  copy_rw(bias, scores * e, scores * e);
  read_broadcast(ev, bias, broadcast_reads(scores, s.n * s.nk, 1), e, plane, plane.d());
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
    read_broadcast(ev, fill, broadcast_reads(scores, bools.v, 1), 1, bools, bools.d());
  }
  gemm(ev, "gemm_av", bh.v, s.n, s.dv, s.nk, e);
  // out * gate.
  const Count out = bh * s.n * s.dv;
  KernelCost& gate = rowwise(ev, "gate_u", out);
  gate.fp32_flops = out;
  copy_rw(gate, out * e * 2, out * e);
  ev.out().extra_memory_bytes += scores * e * 2;  // S and A
}

// The same chain as tiles, each kernel of the closed form (launches included) under its name: Z
// [B·H][N][s], its offset-scaled Q and K; the scores and each elementwise result [B·H][N][Nk]; V
// [B·H][Nk][e], the gate U and A V [B·H][N][e]. gamma and beta [s], the int64 divisor [N], the bias
// plane [N][Nk] and the bool mask [N][Nk] are broadcast streams (schedule.hpp Stream::period).
void gau_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const u64 e = sc.e(), bh = (Count(s.batch) * s.heads).v, d = s.d, n = s.n, nk = s.nk, dv = s.dv;
  const Count z = Count(bh) * n * d, scores = Count(bh) * n * nk, plane = Count(n) * nk;
  const Mask mask = attention_mask(w, n, nk);
  const bool causal = mask.kind != MaskKind::none;
  const double allowed = static_cast<double>(allowed_pairs(mask, n, nk).v) / static_cast<double>(plane.v);
  AddressSpace& as = sc.as();
  std::vector<SimKernel>& out = sc.out();
  auto scores_buffer = [&] { return as.alloc(scores * e); };
  const u64 zin = as.alloc(z * e);
  u64 qk[2];
  const char* names[2][2] = {{"Q·gamma", "Q"}, {"K·gamma", "K"}};
  for (int i = 0; i < 2; ++i) {
    const u64 gamma = as.alloc(Count(d) * e), beta = as.alloc(Count(d) * e), scaled = as.alloc(z * e);
    qk[i] = as.alloc(z * e);
    out.push_back(elementwise("offset_scale_qk", z,
                              {{zin, e, false, "Z"}, {gamma, e, false, "gamma", d}, {scaled, e, true, names[i][0]}}, 1, 0));
    out.push_back(elementwise("offset_scale_qk", z,
                              {{scaled, e, false, names[i][0]}, {beta, e, false, "beta", d}, {qk[i], e, true, names[i][1]}}, 1, 0));
  }
  const u64 sim = scores_buffer();
  out.push_back(gemm("gemm_qk", bh, n, nk, d, e, e, {qk[0], n, d, n * d * e, false, "Q"}, {qk[1], d, nk, nk * d * e, true, "K"},
                     {sim, n, nk, n * nk * e, false, "S"}));
  const u64 scaled = scores_buffer();
  if (causal) {
    const u64 arange = as.alloc(Count(n) * kIndexBytes), divisor = as.alloc(Count(n) * kIndexBytes);
    out.push_back(elementwise("causal_divisor", n, {{arange, kIndexBytes, true, "arange"}}, 0, 0));
    out.push_back(elementwise("causal_divisor", n,
                              {{arange, kIndexBytes, false, "arange"}, {divisor, kIndexBytes, true, "i + 1"}}, 0, 0));
    out.push_back(elementwise("scale", scores,
                              {{sim, e, false, "S"}, {divisor, kIndexBytes, false, "i + 1", n, nk}, {scaled, e, true, "S / (i + 1)"}},
                              allowed, 0));
  } else {
    out.push_back(elementwise("scale", scores, {{sim, e, false, "S"}, {scaled, e, true, "S / N"}}, 1, 0));
  }
  const u64 bias = as.alloc(plane * e), biased = scores_buffer(), relu = scores_buffer(), attn = scores_buffer();
  out.push_back(elementwise("add_bias", scores,
                            {{scaled, e, false, "S / N"}, {bias, e, false, "rel_pos_bias", plane.v}, {biased, e, true, "S + b"}},
                            allowed, 0));
  out.push_back(elementwise("relu_square", scores, {{biased, e, false, "S + b"}, {relu, e, true, "relu"}}, allowed, 0));
  out.push_back(elementwise("relu_square", scores, {{relu, e, false, "relu"}, {attn, e, true, "A"}}, allowed, 0));
  u64 a = attn;
  if (causal) {
    const u64 ones = as.alloc(plane), triu = as.alloc(plane);
    a = scores_buffer();
    out.push_back(elementwise("mask_ones_triu", plane, {{ones, 1, true, "ones"}}, 0, 0));
    out.push_back(elementwise("mask_ones_triu", plane, {{ones, 1, false, "ones"}, {triu, 1, true, "mask"}}, 0, 0));
    out.push_back(elementwise("masked_fill", scores,
                              {{attn, e, false, "A"}, {triu, 1, false, "mask", plane.v}, {a, e, true, "A masked"}}, 0, 0));
  }
  const u64 v = as.alloc(Count(bh) * nk * dv * e), av = as.alloc(Count(bh) * n * dv * e);
  const u64 gate = as.alloc(Count(bh) * n * dv * e), o = as.alloc(Count(bh) * n * dv * e);
  out.push_back(gemm("gemm_av", bh, n, dv, nk, e, e, {a, n, nk, n * nk * e, false, "A"}, {v, nk, dv, nk * dv * e, false, "V"},
                     {av, n, dv, n * dv * e, false, "A V"}));
  out.push_back(elementwise("gate_u", Count(bh) * n * dv, {{av, e, false, "A V"}, {gate, e, false, "U"}, {o, e, true, "O"}}, 1, 0));
}

const VariantDescriptor kDesc{
    .name = "gau",
    .summary = "gated attention unit (FLASH): relu² scores with a position bias, no softmax, output gated by U",
    .sources = "Hua, Dai, Liu & Le 2022, Transformer Quality in Linear Time, §2 (Eqs. 1-4, GAU); lucidrains/FLASH-pytorch "
               "flash_pytorch.py (GAU.forward)",
    .decode = false, .self_only = true,
    .evaluate = gau,
    .cache_bytes = attended_kv_bytes,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N²) scores materialized per head"; },
    .schedule = gau_schedule,
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
