// Mamba's selective scan (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
// Spaces", §3.3.2 and App. D): the fused kernel keeps the (B, L, D, N) state on chip; the naive one
// materializes the discretized tensors and the states in HBM (20-40x slower in the paper).
#include "common.hpp"

namespace attnio::detail {

const ParamSpec kStateDim{
    .key = "state_dim", .default_value = 16, .default_text = "16", .unit = "states",
    .help = "mamba, mamba-naive: state dimension N (default 16); mamba2: (default 128)", .source = "Mamba §4 (N = 16), mamba-2.8b config d_state"};
const ParamSpec kDInner{
    .key = "d_inner", .default_text = "heads x head-dim", .unit = "channels",
    .help = "mamba: channels D (default: heads x head-dim)", .source = "matched width: D = H·d of the attention it replaces",
    .default_rule = [](const Workload& w) {
      constexpr std::uint64_t kMax = std::uint64_t{1} << 40;  // larger shapes are refused by validate()
      return w.heads <= kMax && w.head_dim <= kMax ? static_cast<double>(w.heads * w.head_dim) : 0.0;
    }};

namespace {

// ---- closed form --------------------------------------------------------------------------------


// Gu & Dao 2023 §3.3.2 and App. D. Per (b, l, d, n): A_bar = exp(delta·A) (1 mul, 1 exp),
// B_bar·x (1 mul), h = A_bar h + B_bar x (FFMA, 2), y += C h (FFMA, 2): 6 FP32 FLOPs and one exp.
constexpr u64 kScanFlopsPerState = 6;

// Fused kernel: reads x, delta (B·L·D), B, C (B·L·N), A (D·N) and writes y (B·L·D); the state stays
// in registers (App. D). Grid (batch, D), batch fastest, one channel per CTA (mamba
// selective_scan_fwd launch), so every channel's CTA reads its batch entry's B and C: D times
// across L2, once from DRAM.
void mamba_fused(Evaluator& ev) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), D = w.count("d_inner"), N = w.count("state_dim");
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
  const u64 e = ev.e(), D = w.count("d_inner"), N = w.count("state_dim");
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

// ---- tile schedule ------------------------------------------------------------------------------


// Layouts as the mamba kernels: x, delta [B][D][L]; B, C [B][N][L]; A [D][N] fp32; y [B][D][L].
void mamba_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  std::vector<SimKernel>& out = sc.out();
  AddressSpace& as = sc.as();
  const u64 e = sc.e(), D = w.count("d_inner"), N = w.count("state_dim"), B = w.batch;
  const bool decode = w.phase == Phase::decode;
  const u64 L = decode ? 1 : w.seq;
  const u64 x = as.alloc(Count(B) * D * L * e), dt = as.alloc(Count(B) * D * L * e);
  const u64 bm = as.alloc(Count(B) * N * L * e), cm = as.alloc(Count(B) * N * L * e);
  const u64 a = as.alloc(Count(D) * N * kStat), y = as.alloc(Count(B) * D * L * e);
  if (decode) {
    const u64 h = as.alloc(Count(B) * D * N * kStat);
    const u64 tile = traits::kScanStepChannelsPerCta, tiles = ceil_div(D, tile);
    SimKernel k;
    k.name = "mamba_decode_step";
    k.ctas = (Count(B) * tiles).v;
    k.program = [=](u64 cta, std::vector<Step>& steps) {
      const u64 b = cta / tiles, d0 = (cta % tiles) * tile, nd = min_u(D, d0 + tile) - d0;
      Step st;
      st.read("h", h + (b * D + d0) * N * kStat, nd * N * kStat);
      st.read("x", x + (b * D + d0) * e, nd * e);
      st.read("delta", dt + (b * D + d0) * e, nd * e);
      st.read("B", bm + b * N * e, N * e);
      st.read("C", cm + b * N * e, N * e);
      st.read("A", a + d0 * N * kStat, nd * N * kStat);
      st.write("h", h + (b * D + d0) * N * kStat, nd * N * kStat);
      st.write("y", y + (b * D + d0) * e, nd * e);
      st.fp32 = 6.0 * static_cast<double>(nd * N);
      st.sfu = static_cast<double>(nd * N);
      steps.push_back(st);
    };
    out.push_back(std::move(k));
    return;
  }
  // The fused scan walks the sequence in chunks of 2048 tokens (mamba kChunkSize).
  const u64 chunk = 2048;
  SimKernel k;
  k.name = "selective_scan_fused";
  k.ctas = (Count(B) * D).v;
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 b = cta % B, d = cta / B;  // grid (batch, dim): batch fastest
    for (u64 l0 = 0; l0 < L; l0 += chunk) {
      const u64 len = min_u(L, l0 + chunk) - l0;
      Step st;
      if (l0 == 0) st.read("A", a + d * N * kStat, N * kStat);
      st.read("x", x + ((b * D + d) * L + l0) * e, len * e);
      st.read("delta", dt + ((b * D + d) * L + l0) * e, len * e);
      st.read("B", bm + (b * N * L + l0) * e, len * e, N, L * e);
      st.read("C", cm + (b * N * L + l0) * e, len * e, N, L * e);
      st.write("y", y + ((b * D + d) * L + l0) * e, len * e);
      st.fp32 = 6.0 * static_cast<double>(len * N);
      st.sfu = static_cast<double>(len * N);
      steps.push_back(st);
    }
  };
  out.push_back(std::move(k));
}

void mamba_naive_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  std::vector<SimKernel>& out = sc.out();
  AddressSpace& as = sc.as();
  const u64 e = sc.e(), D = w.count("d_inner"), N = w.count("state_dim"), B = w.batch;
  const u64 L = w.phase == Phase::decode ? 1 : w.seq;
  const u64 per_cta = max_u(1, kElemsPerCta / N), runs = ceil_div(L, per_cta);
  const Count rows = Count(B) * D;
  const u64 x = as.alloc(rows * L * e), dt = as.alloc(rows * L * e);
  const u64 bm = as.alloc(Count(B) * N * L * e), cm = as.alloc(Count(B) * N * L * e);
  const u64 a = as.alloc(Count(D) * N * kStat), y = as.alloc(rows * L * e);
  const Count big = rows * L * N * kStat;
  const u64 abar = as.alloc(big), bx = as.alloc(big), h = as.alloc(big);
  auto run_of = [=](u64 cta) {
    const u64 run = cta % runs, row = cta / runs;
    const u64 l0 = run * per_cta;
    return std::array<u64, 4>{row / D, row % D, l0, min_u(L, l0 + per_cta) - l0};
  };
  SimKernel k1;
  k1.name = "discretize";
  k1.ctas = (rows * runs).v;
  k1.program = [=](u64 cta, std::vector<Step>& steps) {
    const auto [b, d, l0, len] = run_of(cta);
    const u64 row = b * D + d;
    Step st;
    st.read("x", x + (row * L + l0) * e, len * e);
    st.read("delta", dt + (row * L + l0) * e, len * e);
    st.read("B", bm + (b * N * L + l0) * e, len * e, N, L * e);
    st.read("A", a + d * N * kStat, N * kStat);
    st.write("A_bar", abar + (row * L + l0) * N * kStat, len * N * kStat);
    st.write("B_bar x", bx + (row * L + l0) * N * kStat, len * N * kStat);
    st.fp32 = 2.0 * static_cast<double>(len * N);
    st.sfu = static_cast<double>(len * N);
    steps.push_back(st);
  };
  SimKernel k2;
  k2.name = "scan";
  k2.ctas = rows.v;
  k2.program = [=](u64 cta, std::vector<Step>& steps) {
    Step st;
    st.read("A_bar", abar + cta * L * N * kStat, L * N * kStat);
    st.read("B_bar x", bx + cta * L * N * kStat, L * N * kStat);
    st.write("h", h + cta * L * N * kStat, L * N * kStat);
    st.fp32 = 2.0 * static_cast<double>(L * N);
    steps.push_back(st);
  };
  SimKernel k3;
  k3.name = "contract_c";
  k3.ctas = (rows * runs).v;
  k3.program = [=](u64 cta, std::vector<Step>& steps) {
    const auto [b, d, l0, len] = run_of(cta);
    const u64 row = b * D + d;
    Step st;
    st.read("h", h + (row * L + l0) * N * kStat, len * N * kStat);
    st.read("C", cm + (b * N * L + l0) * e, len * e, N, L * e);
    st.write("y", y + (row * L + l0) * e, len * e);
    st.fp32 = 2.0 * static_cast<double>(len * N);
    steps.push_back(st);
  };
  out.push_back(std::move(k1));
  out.push_back(std::move(k2));
  out.push_back(std::move(k3));
}

// The recurrent state h (B·D·N, fp32) of every layer.
Count state_bytes(const Workload& w) {
  return Count(w.batch) * w.count("d_inner") * w.count("state_dim") * kStatBytes * w.layers;
}
std::string mamba_text(const Prediction& p) {
  std::string s;
  put(s, "state_dim", std::to_string(p.workload.count("state_dim")));
  put(s, "d_inner", std::to_string(p.workload.count("d_inner")));
  return s;
}

constexpr const ParamSpec* kParams[] = {&kStateDim, &kDInner};
const VariantDescriptor kMambaDesc{
    .name = "mamba",
    .summary = "fused selective scan, state kept on chip (Mamba App. D)",
    .sources = "Gu & Dao 2023, Mamba, §3.3.2 and App. D; mamba selective_scan_fwd",
    .params = kParams, .self_only = true, .kernel_fwd = "selective_scan",
    .evaluate = mamba_fused,
    .cache_bytes = state_bytes,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(B·L·(D+N) + D·N)"; },
    .params_text = mamba_text,
    .schedule = mamba_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      return "Mamba App. D: the fused scan reads x, Δ (B·L·D), B, C (B·L·N) and A (D·N) once and writes y once; "
             "the (B,L,D,N) state never leaves the chip. D = " + num(p.workload.count("d_inner")) + ", N = " +
             num(p.workload.count("state_dim")) + ".\n";
    }};

const VariantDescriptor kMambaNaiveDesc{
    .name = "mamba-naive",
    .summary = "selective scan with the (B,L,D,N) tensors materialized in HBM (Mamba App. D)",
    .sources = "Gu & Dao 2023, Mamba, App. D (standard implementation)",
    .params = kParams, .self_only = true, .kernel_fwd = "selective_scan_naive",
    .evaluate = mamba_naive,
    .cache_bytes = state_bytes,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(B·L·D·N)"; },
    .params_text = mamba_text,
    .schedule = mamba_naive_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      return "Mamba App. D, unfused: the discretized Ā and B̄x (B,L,D,N), and the states h, are written to HBM and read "
             "back: Θ(B·L·D·N) bytes, N = " + num(p.workload.count("state_dim")) + " times the fused kernel's.\n";
    }};

}  // namespace

const VariantDescriptor& mamba_variant() { return kMambaDesc; }
const VariantDescriptor& mamba_naive_variant() { return kMambaNaiveDesc; }

}  // namespace attnio::detail
