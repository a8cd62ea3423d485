// Mamba-2's state-space dual (SSD) layer (Dao & Gu 2024, "Transformers are SSMs: Generalized Models
// and Efficient Algorithms Through Structured State Space Duality", §6 "Hardware-efficient algorithm
// for SSD models", Listing 1 ssd_minimal): the sequence is cut into chunks of Q tokens; inside a
// chunk the output is a masked attention-like matmul (C Bᵀ ∘ L) X on tensor cores, across chunks a
// state of P x N per head is passed along. Kernels and layouts as mamba_ssm's Triton implementation
// (state-spaces/mamba, mamba_ssm/ops/triton/ssd_combined.py _mamba_chunk_scan_combined_fwd:
// _chunk_cumsum_fwd, _chunk_state_fwd, _state_passing_fwd, _bmm_chunk_fwd, _chunk_scan_fwd; decode:
// mamba_ssm/ops/triton/selective_state_update.py). Notation: H SSM heads (--heads) of P channels
// (--head-dim), N states, G groups of heads sharing B and C, Q the chunk.
#include "common.hpp"

namespace attnio::detail {

namespace {

const ParamSpec kSsdState{
    .key = "state_dim", .default_value = 128, .default_text = "128", .max = 1024, .unit = "states",
    .help = "mamba, mamba-naive: state dimension N (default 16); mamba2: (default 128)", .source = "mamba_ssm Mamba2 d_state = 128; Mamba-2 paper §9 (N = 64-256)"};
const ParamSpec kSsdGroups{
    .key = "groups", .default_value = 1, .default_text = "1", .max = 1024, .unit = "groups",
    .help = "mamba2: groups G of heads sharing B and C (default 1)", .source = "mamba_ssm Mamba2 ngroups = 1; Nemotron-H n_groups = 8"};
const ParamSpec kSsdChunk{
    .key = "chunk", .default_value = 256, .default_text = "256", .max = 4096, .unit = "tokens",
    .help = "chunked: chunk size (default 1024); linear: chunk (default 64); mamba2: SSD chunk (default 256)", .source = "mamba_ssm Mamba2 chunk_size = 256"};

// The Triton kernels' tiles, which kernels/ssd.cu uses too (tile_traits.hpp).
using traits::kSsdBlock;
// Per (b, p, n) of the decode state update: state·dA (1 mul), + dB·x (FFMA, 2), y += C·state (FFMA, 2).
constexpr u64 kSsdStepFlops = 5;

struct Ssd {
  u64 B, L, H, P, N, G, Q, chunks, e;
};
Ssd dims(const Evaluator& ev) {
  const Workload& w = ev.w();
  Ssd s{w.batch, w.seq, w.heads, w.head_dim, w.count("state_dim"), w.count("groups"), w.count("chunk"), 0, ev.e()};
  s.Q = min_u(s.Q, s.L);
  s.chunks = ceil_div(s.L, s.Q);
  return s;
}

// Lower-triangular 64 x 64 blocks of a Q x Q chunk the causal kernels visit (diagonal included).
u64 causal_blocks(u64 q) {
  const u64 m = ceil_div(q, kSsdBlock);
  return m * (m + 1) / 2;
}

void ssd_prefill(Evaluator& ev) {
  const Ssd s = dims(ev);
  const Count BL(s.B * s.L);
  const Count heads_per_group(s.H / s.G);
  // 1. _chunk_cumsum_fwd: dt = softplus(dt + bias) (exp and log), dA = cumsum(dt·A) per chunk;
  //    writes dt and dA_cumsum in fp32, (B, H, chunks, Q).
  {
    KernelCost& k = ev.add("ssd_chunk_cumsum", Count(s.B) * s.chunks, kSmallCtasPerSm);
    k.sfu_ops = BL * s.H * 2;
    k.fp32_flops = BL * s.H * 4;  // bias add, softplus's add, dt·A, the running sum
    Evaluator::read_direct(k, BL * s.H * s.e);
    Evaluator::write_direct(k, BL * s.H * kStatBytes * 2);
  }
  // 2. _chunk_state_fwd: per (b, chunk, head) the chunk's final state Bᵀ (decay·dt ∘ X), P x N:
  //    2·Q·P·N tensor FLOPs; B is read by the H/G heads of its group (heads are the grid's slowest
  //    axis, so reuse waits one head's pass over the batch: its x, B, dt, dA and states written).
  const Count x = BL * s.H * s.P * s.e, bmat = BL * s.G * s.N * s.e, dta = BL * s.H * kStatBytes * 2;
  const Count states32 = Count(s.B) * s.chunks * s.H * s.P * s.N * kStatBytes;
  const double head_pass = (BL * (s.P * s.e + s.N * s.e + 2 * kStatBytes)).d() + states32.d() / static_cast<double>(s.H);
  {
    KernelCost& k = ev.add("ssd_chunk_state", Count(s.B) * s.chunks * s.H * ceil_div(s.P, kSsdBlock) * ceil_div(s.N, kSsdBlock),
                           kSmallCtasPerSm);
    k.tensor_flops = Count(2) * s.B * s.chunks * s.H * s.Q * s.P * s.N;
    k.sfu_ops = BL * s.H;  // exp(dA_last - dA) per token and head
    k.fp32_flops = BL * s.H * 2 * s.N;  // decay·dt scaling of B's rows
    Evaluator::read_stream(k, x * ceil_div(s.N, kSsdBlock), ev.filtered(x, x * ceil_div(s.N, kSsdBlock), head_pass), 1);
    const Count b_total = bmat * heads_per_group.v * ceil_div(s.P, kSsdBlock);
    Evaluator::read_stream(k, b_total, ev.filtered(bmat, b_total, head_pass), 1);
    Evaluator::read_direct(k, dta);
    Evaluator::write_direct(k, states32);
  }
  // 3. _state_passing_fwd: the chunk states in order, state_c = exp(dA_c)·state_{c-1} + new_c; reads
  //    the fp32 chunk states, writes them in the activation dtype (out_dtype = C.dtype).
  const Count states_e = Count(s.B) * s.chunks * s.H * s.P * s.N * s.e;
  {
    KernelCost& k = ev.add("ssd_state_passing", Count(s.B) * s.H * ceil_div(s.P * s.N, traits::kSsdPassElemsPerCta), kSmallCtasPerSm);
    k.fp32_flops = Count(s.B) * s.chunks * s.H * s.P * s.N * 2;
    k.sfu_ops = Count(s.B) * s.chunks * s.H;
    Evaluator::read_direct(k, states32 + Count(s.B) * s.H * s.chunks * kStatBytes);
    Evaluator::write_direct(k, states_e);
  }
  // 4. _bmm_chunk_fwd: C Bᵀ per (b, chunk, group), Q x Q in fp32. ssd_combined.py calls it with
  //    causal left at its default (False): every 64 x 64 block of the chunk is computed.
  const Count cb = Count(s.B) * s.chunks * s.G * s.Q * s.Q * kStatBytes;
  {
    const u64 blocks = ceil_div(s.Q, kSsdBlock) * ceil_div(s.Q, kSsdBlock);
    KernelCost& k = ev.add("ssd_bmm_chunk", Count(s.B) * s.chunks * s.G * blocks, kSmallCtasPerSm);
    k.tensor_flops = Count(2) * s.B * s.chunks * s.G * s.Q * s.Q * s.N;
    k.tensor_issue = Count(2) * s.B * s.chunks * s.G * blocks * kSsdBlock * kSsdBlock * s.N;
    Evaluator::read_stream(k, bmat * 2, bmat * 2, 1);
    Evaluator::write_direct(k, cb);
  }
  // 5. _chunk_scan_fwd: per (b, chunk, head) Y = (CB ∘ decay ∘ dt) X over the causal blocks plus
  //    C · state_{c-1} · exp(dA): 2·Q·(Q+1)/2·P + 2·Q·N·P tensor FLOPs; the heads of a group read the
  //    group's CB and C through L2.
  {
    KernelCost& k = ev.add("ssd_chunk_scan", Count(s.B) * s.chunks * s.H * ceil_div(s.Q, kSsdBlock) * ceil_div(s.P, kSsdBlock),
                           kSmallCtasPerSm);
    k.tensor_flops = Count(2) * s.B * s.chunks * s.H * (s.Q * (s.Q + 1) / 2 * s.P + s.Q * s.N * s.P);
    k.tensor_issue = Count(2) * s.B * s.chunks * s.H * (causal_blocks(s.Q) * kSsdBlock * kSsdBlock * s.P + s.Q * s.N * s.P);
    k.sfu_ops = Count(s.B) * s.chunks * s.H * (s.Q * (s.Q + 1) / 2) + BL * s.H;  // decay exp(dA_i - dA_j), exp(dA_i)
    k.fp32_flops = Count(s.B) * s.chunks * s.H * (s.Q * (s.Q + 1) / 2 * 3) + BL * s.H * s.P * 2;  // mask, decay, dt; + D·x
    const Count cb_total = cb * heads_per_group.v, c_total = bmat * heads_per_group.v;
    Evaluator::read_stream(k, cb_total, ev.filtered(cb, cb_total, head_pass), 1);
    Evaluator::read_stream(k, c_total, ev.filtered(bmat, c_total, head_pass), 1);
    Evaluator::read_stream(k, x, x, 1);
    Evaluator::read_stream(k, states_e, states_e, 1);
    Evaluator::read_direct(k, dta);
    Evaluator::write_direct(k, x);  // y has x's shape
  }
  // Materialized between the kernels: dt and dA_cumsum, the chunk states (fp32 and passed), C Bᵀ.
  ev.out().extra_memory_bytes += dta + states32 + states_e + cb;
}

// One token through selective_state_update (TIE_HDIM: A, dt and D are per head): reads and writes
// the state (B, H, P, N) in the activation dtype (mamba_ssm Mamba2.allocate_inference_cache:
// ssm_dtype = in_proj.weight.dtype), reads x, dt, B, C, writes y.
// selective_state_update.py's rows of P per CTA: 32, 16, 8, 4 for N up to 16, 32, 64, 128, then 4.
u64 state_rows(u64 n) { return n <= 16 ? 32 : n <= 32 ? 16 : n <= 64 ? 8 : 4; }

void ssd_decode(Evaluator& ev) {
  const Ssd s = dims(ev);
  const Count state = Count(s.B) * s.H * s.P * s.N * s.e;
  const u64 row_blocks = ceil_div(s.P, state_rows(s.N));
  KernelCost& k = ev.add("ssd_state_update", Count(s.B) * s.H * row_blocks, kSmallCtasPerSm);
  k.fp32_flops = Count(s.B) * s.H * s.P * s.N * kSsdStepFlops;
  k.sfu_ops = Count(s.B) * s.H * 3;  // softplus (exp, log) and exp(dt·A) per head
  Evaluator::read_direct(k, state);
  Evaluator::write_direct(k, state);
  Evaluator::read_direct(k, Count(s.B) * s.H * (s.P + 1) * s.e);
  const Count bc = Count(s.B) * s.G * s.N * s.e * 2, bc_total = bc * (s.H / s.G) * row_blocks;
  Evaluator::read_stream(k, bc_total, ev.filtered(bc, bc_total, 0), 1);
  Evaluator::write_direct(k, Count(s.B) * s.H * s.P * s.e);
}

void ssd_evaluate(Evaluator& ev) {
  if (ev.w().phase == Phase::decode) ssd_decode(ev);
  else ssd_prefill(ev);
}

void ssd_check(const Workload& w, const Device&) {
  const u64 g = w.count("groups");
  if (w.heads % g != 0) {
    throw InputError("mamba2: --heads " + std::to_string(w.heads) + " is not divisible by --groups " + std::to_string(g) +
                     " (heads share B and C per group)");
  }
}

// The SSM state of every layer, (B, H, P, N) in the activation dtype.
Count ssd_state_bytes(const Workload& w) {
  return Count(w.batch) * w.heads * w.head_dim * w.count("state_dim") * dtype_bytes(w.dtype) * w.layers;
}

std::string ssd_text(const Prediction& p) {
  std::string s;
  put(s, "state_dim", num(p.workload.count("state_dim")));
  put(s, "groups", num(p.workload.count("groups")));
  put(s, "chunk", num(p.workload.count("chunk")));
  return s;
}

constexpr const ParamSpec* kParams[] = {&kSsdState, &kSsdGroups, &kSsdChunk};
const VariantDescriptor kMamba2Desc{
    .name = "mamba2",
    .summary = "Mamba-2 SSD: chunked state-space dual, intra-chunk matmuls on tensor cores (Dao & Gu 2024 §6)",
    .sources = "Dao & Gu 2024, Transformers are SSMs, §6 and Listing 1; mamba_ssm ops/triton/ssd_combined.py, selective_state_update.py",
    .params = kParams, .self_only = true, .kernel_fwd = "ssd_forward",
    .check = ssd_check,
    .evaluate = ssd_evaluate,
    .cache_bytes = ssd_state_bytes,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(B·L·H·(P+N)·(1 + Q/P) + B·(L/Q)·H·P·N)"; },
    .params_text = ssd_text,
    .no_schedule = "the SSD kernels' tile schedule is not in the simulator yet",
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      return "Mamba-2 SSD (Dao & Gu 2024 §6): chunks of Q = " + num(w.count("chunk")) + " tokens; inside a chunk Y = (C Bᵀ ∘ L) X "
             "runs on tensor cores (2·Q²/2·P per head and chunk, plus C Bᵀ per group), across chunks one P x N = " +
             num(w.head_dim) + " x " + num(w.count("state_dim")) + " state per head is written, passed and read back. "
             "Decode updates the state in place: 2·B·H·P·N·e bytes per layer and step.\n";
    }};

}  // namespace

const VariantDescriptor& mamba2_variant() { return kMamba2Desc; }

}  // namespace attnio::detail
