// Mamba's selective scan (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
// Spaces", §3.3.2 and App. D): the fused kernel keeps the (B, L, D, N) state on chip; the naive one
// materializes the discretized tensors and the states in HBM (20-40x slower in the paper).
#include <algorithm>
#include <cmath>

#include "attnio/model/impl.hpp"
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
// The Mamba block calls the scan with its gate z (mamba_simple.py: mamba_inner_fn passes z to
// selective_scan_cuda.fwd), which then loads z and writes out·silu(z) beside out
// (selective_scan_fwd_kernel.cuh:297-312 @e9594ce); its decode step, selective_state_update(...,
// z=z), stores y·silu(z) as its one output. 0: the scan alone, as attnio's kernel runs it.
const ParamSpec kGate{
    .key = "gate", .default_value = 0, .default_text = "0", .min = 0, .max = 1, .unit = "flag",
    .help = "mamba: 1 = the scan gates its output by silu(z) as a Mamba layer calls it (prefill: reads z, writes "
            "out·silu(z) beside out; decode: the step stores y·silu(z)); 0 = the scan alone (default)",
    .source = "state-spaces/mamba mamba_simple.py mamba_inner_fn; selective_scan_fwd_kernel.cuh:297-312 @e9594ce"};

namespace {

// ---- closed form --------------------------------------------------------------------------------


// Gu & Dao 2023 §3.3.2 and App. D. Per (b, l, d, n): A_bar = exp(delta·A) (1 mul, 1 exp),
// B_bar·x (1 mul), h = A_bar h + B_bar x (FFMA, 2), y += C h (FFMA, 2): 6 FP32 FLOPs and one exp.
constexpr u64 kScanFlopsPerState = 6;

// ---- mamba-scan: selective_scan_fwd as compiled ---------------------------------------------------
// selective_scan_fwd_cuda picks the CTA by sequence length (selective_scan_fwd_kernel.cuh:357-372
// @e9594ce): 32 threads x 4 items (L <= 128), 32 x 8 (<= 256), 32 x 16 (<= 512), 64 x 16 (<= 1024),
// 128 x 16 beyond; one CTA per (batch, channel) walks its sequence in chunks of threads x items
// tokens, and per chunk each of the N states in turn (lines 136-290): it loads that state's B and C
// for the chunk (cub BlockLoad, warp-transposed through shared memory), computes
// (exp2(delta·A), B·delta·u) per item, scans them across the CTA (cub BlockScan WARP_SCANS with the
// running prefix) and adds y·C into the output. What one state iteration issues per thread was read
// from the kernel's PTX, compiled here as mamba's setup.py builds it (nvcc 13.0, sm_90, -O3
// --use_fast_math; bf16 inputs, fp32 weights, variable B and C, z, even length), counting the state
// loop's instructions: FMA-pipe (mul, fma) / MUFU (ex2.approx) / the rest issued (loads, stores,
// shuffles, conversions, integer and predicate work; not counted: ld.param, which becomes a
// constant-bank operand, and register moves, which the register allocator removes):
//   32 x 4: 36 / 4 / 103;  32 x 8: 60 / 8 / 106;  32 x 16: 108 / 16 / 140;  64 x 16: 112 / 16 / 151;
//   128 x 16: 116 / 16 / 158 per thread, its items being the iteration's elements. Per iteration a
// CTA also waits out: B's and C's loads (one L2 round trip: issued at the state's start, used at
// once), the warp transpose (a dependent shared-memory read), the warp scan's 6 rounds of
// shfl.sync.up (counted at the shared-memory latency: SHFL runs on the same MIO path), and the
// block scan's 2 bar.sync around its read of the warp aggregates (one more shared-memory read).
// Registers (ptxas -v, the same build): 61, 84, 125, 128, 128. Per element outside the state loop
// (the chunk's loads, conversions, delta·u and D·u; with z its load, silu and the second store): 3
// FMA-pipe and 3 other instructions, with z 4 and 2 more FMA-pipe and other and 2 MUFU (ex2, rcp).
constexpr u64 kScanPrefixBytes = 8;  // a state's running prefix: float2
struct ScanLaunch {
  u64 threads, items, registers;
  double fma, mufu, other;  // per thread per state iteration
};
const ScanLaunch& scan_launch(u64 L) {
  static const ScanLaunch k[] = {{32, 4, 61, 36, 4, 103},
                                 {32, 8, 84, 60, 8, 106},
                                 {32, 16, 125, 108, 16, 140},
                                 {64, 16, 128, 112, 16, 151},
                                 {128, 16, 128, 116, 16, 158}};
  return L <= 128 ? k[0] : L <= 256 ? k[1] : L <= 512 ? k[2] : L <= 1024 ? k[3] : k[4];
}
// Resident CTAs: the registers' limit, the SM's threads and its 32 blocks (CUDA C++ Programming
// Guide, "Compute Capabilities": 32 resident blocks per SM from sm_80 on, 16 on sm_75).
u64 scan_ctas_per_sm(const ScanLaunch& l, const Device& dev) {
  const u64 blocks = dev.compute_capability >= 80 ? 32 : 16;
  const u64 by_regs = ctas_by_registers(l.registers, l.threads, dev.register_file_bytes_per_sm);
  return std::min({blocks, threads_per_sm(dev) / l.threads, by_regs == 0 ? blocks : by_regs});
}
void scan_as_compiled(KernelCost& k, const ScanLaunch& l, Count bld, Count blds, bool gate, Count bc_l2, Count bc_hbm) {
  const double per_state = 1.0 / static_cast<double>(l.items);  // a thread's iteration covers `items` elements
  const auto times = [](Count n, double f) { return Count(static_cast<u64>(std::llround(n.d() * f))); };
  k.mma_warps = l.threads / 32;
  k.registers = l.registers;
  k.fp32_instr = times(blds, l.fma * per_state) + bld * (gate ? 7 : 3);
  k.other_instr = times(blds, l.other * per_state) + bld * (gate ? 5 : 3);
  k.sfu_issue = times(blds, l.mufu * per_state) + (gate ? bld * 2 : Count(0));
  // State iterations over all CTAs: per CTA (one channel of one sequence), chunks x N.
  const u64 N = blds.v / bld.v, L = bld.v / k.ctas.v;
  const Count state_steps = Count(k.ctas.v * N) * ceil_div(L, l.threads * l.items);
  k.block_iters = state_steps;
  k.waits = {.barriers = 2, .smem_reads = 1 + 6 + 1, .l2_reads = 1};
  k.sync_l2_read = bc_l2;
  k.sync_hbm_read = bc_hbm;
  // Thread 0 stores each chunk's running prefix per state, (A-product, h) as float2, for the
  // backward (line 258; x is (batch, dim, n_chunks, 2N) fp32, selective_scan.cpp:307-313).
  Evaluator::write_direct(k, state_steps * kScanPrefixBytes);
}

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
    if (w.count("gate") != 0) {  // z in; the step stores y·silu(z) in y's place (selective_state_update)
      k.fp32_flops += Count(w.batch) * D * 3;
      k.sfu_ops += Count(w.batch) * D * 2;
      Evaluator::read_direct(k, Count(w.batch) * D * e);
    }
    return;
  }
  const bool gate = w.count("gate") != 0;
  const Count bld = Count(w.batch) * L * D;
  const ScanLaunch* launch = w.impl != nullptr && w.impl->key == "mamba-scan" ? &scan_launch(L) : nullptr;
  const u64 resident = launch ? scan_ctas_per_sm(*launch, ev.dev()) : kSmallCtasPerSm;
  KernelCost& k = ev.add("selective_scan_fused", Count(w.batch) * ceil_div(D, traits::kScanChannelsPerCta), resident);
  k.fp32_flops = blds * kScanFlopsPerState;
  k.sfu_ops = blds;
  if (gate) {
    // out·silu(z) = out·z / (1 + exp(-z)): an exp and a reciprocal (--use_fast_math: ex2.approx,
    // div.approx), the add and two multiplies.
    k.fp32_flops += bld * 3;
    k.sfu_ops += bld * 2;
  }
  const Count x_delta = bld * e * 2;
  Evaluator::read_stream(k, x_delta, x_delta, 1);
  const Count bc = Count(w.batch) * L * N * e * 2;
  const Count bc_total = bc * D;
  const Count bc_hbm = ev.shared(k, bc, bc_total, 1, w.batch, D, 2.0 * static_cast<double>(w.batch * L * N * e * 2));
  Evaluator::read_stream(k, bc_total, bc_hbm, 1);
  // Each channel's CTA reads its row of A; the batch entries share it.
  const Count a = Count(D) * N * kStatBytes, a_total = a * w.batch;
  Evaluator::read_stream(k, a_total, ev.shared(k, a, a_total, w.batch, 1, 1, a.d()), 1);
  Evaluator::write_direct(k, bld * e);
  if (gate) {  // z in, out·silu(z) out (out itself is written too: the backward reads it)
    Evaluator::read_stream(k, bld * e, bld * e, 1);
    Evaluator::write_direct(k, bld * e);
  }
  if (launch) scan_as_compiled(k, *launch, bld, blds, gate, bc_total, bc_hbm);
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
  const bool gate = w.count("gate") != 0;
  const u64 z = gate ? as.alloc(Count(B) * D * L * e) : 0, yz = gate ? as.alloc(Count(B) * D * L * e) : 0;
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
      if (gate) st.read("z", z + (b * D + d0) * e, nd * e);
      st.fp32 = 6.0 * static_cast<double>(nd * N);
      st.sfu = static_cast<double>(nd * N);
      steps.push_back(st);
    };
    out.push_back(std::move(k));
    return;
  }
  // The fused scan walks the sequence in chunks of 2048 tokens (mamba kChunkSize); mamba's own kernel
  // also stores each chunk's running prefix per state (mamba_fused, scan_as_compiled).
  const u64 chunk = 2048;
  const bool prefixes = w.impl != nullptr && w.impl->key == "mamba-scan";
  const u64 xs = prefixes ? as.alloc(Count(B) * D * ceil_div(L, chunk) * N * kScanPrefixBytes) : 0;
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
      if (gate) {
        st.read("z", z + ((b * D + d) * L + l0) * e, len * e);
        st.write("y_gated", yz + ((b * D + d) * L + l0) * e, len * e);
      }
      if (prefixes) {
        const u64 c = l0 / chunk, chunks = ceil_div(L, chunk);
        st.write("prefixes", xs + ((b * D + d) * chunks + c) * N * kScanPrefixBytes, N * kScanPrefixBytes);
      }
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
  if (p.workload.params.has("gate") && p.workload.count("gate") != 0) put(s, "gate", "1");
  return s;
}

constexpr const ParamSpec* kParams[] = {&kStateDim, &kDInner, &kGate};
constexpr const ParamSpec* kNaiveParams[] = {&kStateDim, &kDInner};
const VariantDescriptor kMambaDesc{
    .name = "mamba",
    .summary = "fused selective scan, state kept on chip (Mamba App. D)",
    .sources = "Gu & Dao 2023, Mamba, §3.3.2 and App. D; mamba selective_scan_fwd",
    .params = kParams, .self_only = true, .kernel_fwd = "selective_scan",
    .check = [](const Workload& w, const Device&) {
      if (w.count("gate") != 0 && w.impl != nullptr && w.impl->key == "attnio") {
        throw InputError("--gate 1: attnio's own selective-scan kernel has no gate; --impl mamba-scan runs mamba's, which has");
      }
    },
    .evaluate = mamba_fused,
    .cache_bytes = state_bytes,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(B·L·(D+N) + D·N)"; },
    .params_text = mamba_text,
    .schedule = mamba_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      const bool gate = p.workload.count("gate") != 0;
      const bool mambas = p.impl != nullptr && p.impl->key == "mamba-scan";
      std::string s = "Mamba App. D: the fused scan reads x, Δ (B·L·D), B, C (B·L·N) and A (D·N) once and writes y once; "
                      "the (B,L,D,N) state never leaves the chip. D = " + num(p.workload.count("d_inner")) + ", N = " +
                      num(p.workload.count("state_dim")) + ".";
      if (gate) s += " With the gate it also reads z (B·L·D) and writes y·silu(z) beside y.";
      if (mambas && p.workload.phase == Phase::prefill) {
        s += " mamba's kernel walks the N states one after another per chunk, each loading its B and C and scanning "
             "across the CTA before the next, and stores each chunk's running prefix per state (8 bytes) for the backward.";
      }
      return s + "\n";
    }};

const VariantDescriptor kMambaNaiveDesc{
    .name = "mamba-naive",
    .summary = "selective scan with the (B,L,D,N) tensors materialized in HBM (Mamba App. D)",
    .sources = "Gu & Dao 2023, Mamba, App. D (standard implementation)",
    .params = kNaiveParams, .self_only = true, .kernel_fwd = "selective_scan_naive",
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
