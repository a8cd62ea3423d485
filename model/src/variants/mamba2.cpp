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

// BLOCK_SIZE_K of the Triton kernels' 64 x 64 configs (ssd_chunk_state.py, ssd_bmm.py,
// ssd_chunk_scan.py autotune: BLOCK_SIZE_M = BLOCK_SIZE_N = 64, BLOCK_SIZE_K = 32; kernels/ssd.cu
// kTileK). Of the byte counts only _chunk_scan_fwd's depend on it: its K loop loads whole steps of
// C Bᵀ, dt and dA_cumsum columns up to chunk_size.
constexpr u64 kSsdTileK = 32;
// A, dt_bias and D are fp32 (mamba_ssm/modules/mamba2.py: A = -torch.exp(self.A_log.float()); dt_bias
// and D parameters in fp32, as kernels/ssd.cu takes them).
constexpr u64 kParamBytes = 4;

struct Ssd {
  u64 B, L, H, P, N, G, Q, chunks, e;
  u64 last() const { return L - (chunks - 1) * Q; }  // tokens of the last chunk
  u64 heads_per_group() const { return H / G; }
};
Ssd dims(const Workload& w) {
  Ssd s{w.batch, w.seq, w.heads, w.head_dim, w.count("state_dim"), w.count("groups"), w.count("chunk"), 0, dtype_bytes(w.dtype)};
  s.Q = min_u(s.Q, s.L);
  s.chunks = ceil_div(s.L, s.Q);
  return s;
}

// Lower-triangular 64 x 64 blocks of a Q x Q chunk the causal kernels visit (diagonal included).
u64 causal_blocks(u64 q) {
  const u64 m = ceil_div(q, kSsdBlock);
  return m * (m + 1) / 2;
}

// What _chunk_scan_fwd's programs of one (batch, chunk, head, P block) load in their K loops, summed
// over the chunk's 64-row blocks m, for a chunk of `valid` tokens (ssd_chunk_scan.py
// _chunk_scan_fwd_kernel, IS_CAUSAL): keys k < K_MAX = min((m+1)·64, valid) in steps of 32, each step
// loading C Bᵀ rows below chunk_size x the step's columns below chunk_size (masks `offs_m <
// chunk_size`, `offs_k < chunk_size - k`), dt and dA_cumsum of those columns, and x rows below
// chunk_size_limit: K_MAX of them.
struct ScanReads {
  Count cb, cols, x_rows;  // C Bᵀ elements, dt (and dA_cumsum) elements, x rows
};
ScanReads scan_reads(u64 q, u64 valid) {
  ScanReads r;
  for (u64 m0 = 0; m0 < q; m0 += kSsdBlock) {
    const u64 k_max = min_u(m0 + kSsdBlock, valid), cols = min_u(q, ceil_div(k_max, kSsdTileK) * kSsdTileK);
    r.cb += Count(min_u(q, m0 + kSsdBlock) - m0) * cols;
    r.cols += cols;
    r.x_rows += k_max;
  }
  return r;
}
// Over a sequence: chunks - 1 full chunks and the last.
ScanReads scan_reads(const Ssd& s) {
  const ScanReads full = scan_reads(s.Q, s.Q), last = scan_reads(s.Q, s.last());
  const u64 n = s.chunks - 1;
  return {full.cb * n + last.cb, full.cols * n + last.cols, full.x_rows * n + last.x_rows};
}

void ssd_prefill(Evaluator& ev) {
  const Ssd s = dims(ev.w());
  const Count BL(s.B * s.L);
  const Count heads_per_group(s.heads_per_group());
  const u64 tq = ceil_div(s.Q, kSsdBlock), tp = ceil_div(s.P, kSsdBlock), tn = ceil_div(s.N, kSsdBlock);
  // DRAM bytes of `total` reads of `unique` bytes: the re-reads by neighbouring programs (the P, N or
  // row blocks of one (b, chunk, head), adjacent in the grid) hit in L2, and `far` of the reads are a
  // head's pass apart (`working_set`, filtered). With the L2 off every read reaches DRAM.
  auto dram = [&](Count unique, Count far, Count total, double working_set) {
    return ev.w().l2 ? ev.filtered(unique, far, working_set) : total;
  };
  // Loads straight to registers (per-token factors, parameters, D·x's x).
  auto read_registers = [](KernelCost& k, Count l2, Count hbm) {
    k.l2_read += l2;
    k.hbm_read += hbm;
  };
  const Count params = Count(s.H) * kParamBytes;  // one of A, dt_bias, D
  // 1. _chunk_cumsum_fwd (ssd_chunk_state.py), one program per (b, chunk) over all heads: dt =
  //    softplus(dt + dt_bias) (exp and log), dA_cumsum = cumsum(dt·A) per chunk; reads the chunk's dt,
  //    A and dt_bias, and stores dt and dA_cumsum in fp32, (B, H, chunks, Q), masked by `offs_c <
  //    chunk_size`: the last chunk's positions past the sequence are written too (dt 0 there).
  const Count dta = Count(s.B) * s.H * s.chunks * s.Q * kStatBytes * 2;
  {
    KernelCost& k = ev.add("ssd_chunk_cumsum", Count(s.B) * s.chunks, kSmallCtasPerSm);
    k.sfu_ops = BL * s.H * 2;
    k.fp32_flops = BL * s.H * 4;  // bias add, softplus's add, dt·A, the running sum
    Evaluator::read_direct(k, BL * s.H * s.e);
    const Count a_bias = Count(s.B) * s.chunks * params * 2;
    read_registers(k, a_bias, dram(params * 2, params * 2, a_bias, 0));
    Evaluator::write_direct(k, dta);
  }
  // 2. _chunk_state_fwd: per (b, chunk, head) the chunk's final state Bᵀ (decay·dt ∘ X), P x N:
  //    2·Q·P·N tensor FLOPs; B is read by the H/G heads of its group (heads are the grid's slowest
  //    axis, so reuse waits one head's pass over the batch: its x, B, dt, dA and states written).
  //    Every (P block, N block) program loads dA_cumsum[Q-1] and, with each K step, the step's dt and
  //    dA_cumsum (`dt_k`, `dA_cs_k`): the chunk's valid tokens x 8 bytes + 4 per program.
  const Count x = BL * s.H * s.P * s.e, bmat = BL * s.G * s.N * s.e;
  const Count states32 = Count(s.B) * s.chunks * s.H * s.P * s.N * kStatBytes;
  const double head_pass = (BL * (s.P * s.e + s.N * s.e + 2 * kStatBytes)).d() + states32.d() / static_cast<double>(s.H);
  {
    KernelCost& k = ev.add("ssd_chunk_state", Count(s.B) * s.chunks * s.H * tp * tn, kSmallCtasPerSm);
    k.tensor_flops = Count(2) * s.B * s.chunks * s.H * s.Q * s.P * s.N;
    k.sfu_ops = BL * s.H;  // exp(dA_last - dA) per token and head
    k.fp32_flops = BL * s.H * 2 * s.N;  // decay·dt scaling of B's rows
    Evaluator::read_stream(k, x * tn, ev.filtered(x, x * tn, head_pass), 1);
    const Count b_total = bmat * heads_per_group.v * tp;
    Evaluator::read_stream(k, b_total, ev.filtered(bmat, b_total, head_pass), 1);
    // The last chunk's dA_cumsum[Q-1] lies past the sequence: no K step loads it.
    const Count per_token = BL * s.H * kStatBytes * 2, lasts = Count(s.B) * s.chunks * s.H * kStatBytes;
    const Count factors = (per_token + lasts) * (tp * tn);
    const Count unique = per_token + (s.last() < s.Q ? Count(s.B) * s.H * kStatBytes : Count(0));
    read_registers(k, factors, dram(unique, unique, factors, 0));
    Evaluator::write_direct(k, states32);
  }
  // 3. _state_passing_fwd (ssd_state_passing.py): programs of 2048 state elements per (b, head) walk
  //    the chunks, state_c = exp(dA_c)·state_{c-1} + new_c: per chunk each program loads its part of
  //    the fp32 chunk state and the chunk's dA_cumsum[Q-1], and stores the state entering the chunk in
  //    the activation dtype (out_dtype = C.dtype; chunk 0's zeros included); after the last chunk it
  //    stores the final state in fp32 (`final_states`, returned by _mamba_chunk_scan_combined_fwd).
  const Count states_e = Count(s.B) * s.chunks * s.H * s.P * s.N * s.e;
  {
    const u64 blocks = ceil_div(s.P * s.N, traits::kSsdPassElemsPerCta);
    KernelCost& k = ev.add("ssd_state_passing", Count(s.B) * s.H * blocks, kSmallCtasPerSm);
    k.fp32_flops = Count(s.B) * s.chunks * s.H * s.P * s.N * 2;
    k.sfu_ops = Count(s.B) * s.chunks * s.H;
    Evaluator::read_direct(k, states32);
    const Count decays = Count(s.B) * s.H * s.chunks * kStatBytes;
    read_registers(k, decays * blocks, dram(decays, decays, decays * blocks, 0));
    Evaluator::write_direct(k, states_e + Count(s.B) * s.H * s.P * s.N * kStatBytes);
  }
  // 4. _bmm_chunk_fwd (ssd_bmm.py): C Bᵀ per (b, chunk, group), Q x Q in fp32. ssd_combined.py calls it
  //    with causal left at its default (False): every 64 x 64 block of the chunk is computed, block
  //    (m, n) loading C's rows of m and B's rows of n over all N, so each is read Q/64 times.
  const Count cb = Count(s.B) * s.chunks * s.G * s.Q * s.Q * kStatBytes;
  {
    KernelCost& k = ev.add("ssd_bmm_chunk", Count(s.B) * s.chunks * s.G * tq * tq, kSmallCtasPerSm);
    k.tensor_flops = Count(2) * s.B * s.chunks * s.G * s.Q * s.Q * s.N;
    k.tensor_issue = Count(2) * s.B * s.chunks * s.G * tq * tq * kSsdBlock * kSsdBlock * s.N;
    Evaluator::read_stream(k, bmat * 2 * tq, dram(bmat * 2, bmat * 2, bmat * 2 * tq, 0), 1);
    Evaluator::write_direct(k, cb);
  }
  // 5. _chunk_scan_fwd (ssd_chunk_scan.py, IS_CAUSAL): per (b, chunk, head) Y = (CB ∘ decay ∘ dt) X
  //    over the causal blocks plus C · state_{c-1} · exp(dA): 2·Q·(Q+1)/2·P + 2·Q·N·P tensor FLOPs.
  //    Each (64-row block, P block) program loads its rows' dA_cumsum (below chunk_size), their C rows
  //    and the passed state's P block; then its K loop (scan_reads); then D and its x rows again for
  //    D·x, and stores y. The heads of a group read the group's C Bᵀ and C through L2; programs past
  //    the sequence's end in its last chunk still run their K loop (only C, D·x and y are masked by it).
  {
    const ScanReads r = scan_reads(s);
    const Count programs = Count(s.B) * s.chunks * s.H * tq * tp;
    KernelCost& k = ev.add("ssd_chunk_scan", programs, kSmallCtasPerSm);
    k.tensor_flops = Count(2) * s.B * s.chunks * s.H * (s.Q * (s.Q + 1) / 2 * s.P + s.Q * s.N * s.P);
    k.tensor_issue = Count(2) * s.B * s.chunks * s.H * (causal_blocks(s.Q) * kSsdBlock * kSsdBlock * s.P + s.Q * s.N * s.P);
    k.sfu_ops = Count(s.B) * s.chunks * s.H * (s.Q * (s.Q + 1) / 2) + BL * s.H;  // decay exp(dA_i - dA_j), exp(dA_i)
    k.fp32_flops = Count(s.B) * s.chunks * s.H * (s.Q * (s.Q + 1) / 2 * 3) + BL * s.H * s.P * 2;  // mask, decay, dt; + D·x
    const Count cb_read = Count(s.B) * s.G * r.cb * kStatBytes;  // the C Bᵀ one head's P block reads
    const Count cb_heads = cb_read * heads_per_group.v, c_heads = bmat * heads_per_group.v;
    Evaluator::read_stream(k, cb_heads * tp, dram(cb_read, cb_heads, cb_heads * tp, head_pass), 1);
    Evaluator::read_stream(k, c_heads * tp, dram(bmat, c_heads, c_heads * tp, head_pass), 1);
    const Count x_loop = Count(s.B) * s.H * r.x_rows * s.P * s.e;
    Evaluator::read_stream(k, x_loop, dram(x, x, x_loop, 0), 1);
    Evaluator::read_stream(k, states_e * tq, dram(states_e, states_e, states_e * tq, 0), 1);
    const Count factors = Count(s.B) * s.H * tp * (Count(s.chunks) * s.Q + r.cols * 2) * kStatBytes;
    read_registers(k, factors, dram(dta, dta, factors, 0));
    read_registers(k, programs * kParamBytes, dram(params, params, programs * kParamBytes, 0));  // D
    read_registers(k, x, dram(0, 0, x, 0));  // D·x: its rows were loaded by the K loop just before
    Evaluator::write_direct(k, x);  // y has x's shape
  }
  // Materialized between the kernels: dt and dA_cumsum, the chunk states (fp32 and passed), C Bᵀ.
  ev.out().extra_memory_bytes += dta + states32 + states_e + cb;
}

// One token through selective_state_update (TIE_HDIM: A, dt and D are per head): reads and writes
// the state (B, H, P, N) in the activation dtype (mamba_ssm Mamba2.allocate_inference_cache:
// ssm_dtype = in_proj.weight.dtype), reads x, B, C, writes y; dt, dt_bias, A and D are stride-0 views
// over P (Mamba2.step's repeat), each loaded once per program (`tl.load(dt_ptr)`, `tl.load(A_ptr)`,
// D's `offs_m * stride_D_dim` = one address).
// selective_state_update.py's rows of P per CTA: 32, 16, 8, 4 for N up to 16, 32, 64, 128, then 4.
u64 state_rows(u64 n) { return n <= 16 ? 32 : n <= 32 ? 16 : n <= 64 ? 8 : 4; }

void ssd_decode(Evaluator& ev) {
  const Ssd s = dims(ev.w());
  const Count state = Count(s.B) * s.H * s.P * s.N * s.e;
  const u64 row_blocks = ceil_div(s.P, state_rows(s.N));
  const Count programs = Count(s.B) * s.H * row_blocks;
  KernelCost& k = ev.add("ssd_state_update", programs, kSmallCtasPerSm);
  k.fp32_flops = Count(s.B) * s.H * s.P * s.N * kSsdStepFlops;
  k.sfu_ops = Count(s.B) * s.H * 3;  // softplus (exp, log) and exp(dt·A) per head
  Evaluator::read_direct(k, state);
  Evaluator::write_direct(k, state);
  Evaluator::read_direct(k, Count(s.B) * s.H * s.P * s.e);  // x
  const Count scalars = programs * (s.e + 3 * kParamBytes);  // dt; dt_bias, A, D
  k.l2_read += scalars;
  k.hbm_read += ev.filtered(Count(s.B) * s.H * s.e + Count(s.H) * kParamBytes * 3, scalars, 0);
  const Count bc = Count(s.B) * s.G * s.N * s.e * 2, bc_total = bc * s.heads_per_group() * row_blocks;
  Evaluator::read_stream(k, bc_total, ev.filtered(bc, bc_total, 0), 1);
  Evaluator::write_direct(k, Count(s.B) * s.H * s.P * s.e);
}

// ---- tile schedule ------------------------------------------------------------------------------

// Layouts as mamba_ssm's: x and y [B][L][H][P], dt [B][L][H], B and C [B][L][G][N] in the activation
// dtype; A, dt_bias and D [H] in fp32; dt and dA_cumsum [B][H][chunks][Q] fp32 (_chunk_cumsum_fwd);
// chunk states [B][chunks][H][P][N] fp32, passed states the same in the activation dtype, final
// states [B][H][P][N] fp32 (_state_passing_fwd); C Bᵀ [B][chunks][G][Q][Q] fp32 (_bmm_chunk_fwd).
// CTAs in launch order (grid axis 0 fastest), unpacked as the kernels' program ids.
void ssd_prefill_schedule(Scheduler& sc) {
  const Ssd s = dims(sc.w());
  const u64 e = s.e, B = s.B, L = s.L, H = s.H, P = s.P, N = s.N, G = s.G, Q = s.Q, chunks = s.chunks;
  const u64 hpg = s.heads_per_group(), tq = ceil_div(Q, kSsdBlock), tp = ceil_div(P, kSsdBlock), tn = ceil_div(N, kSsdBlock);
  AddressSpace& as = sc.as();
  const u64 x = as.alloc(Count(B) * L * H * P * e), dt_in = as.alloc(Count(B) * L * H * e);
  const u64 a = as.alloc(Count(H) * kParamBytes), dt_bias = as.alloc(Count(H) * kParamBytes), d = as.alloc(Count(H) * kParamBytes);
  const u64 bm = as.alloc(Count(B) * L * G * N * e), cm = as.alloc(Count(B) * L * G * N * e);
  const u64 dt = as.alloc(Count(B) * H * chunks * Q * kStat), da = as.alloc(Count(B) * H * chunks * Q * kStat);
  const u64 states = as.alloc(Count(B) * chunks * H * P * N * kStat), passed = as.alloc(Count(B) * chunks * H * P * N * e);
  const u64 final_states = as.alloc(Count(B) * H * P * N * kStat);
  const u64 cb = as.alloc(Count(B) * chunks * G * Q * Q * kStat), y = as.alloc(Count(B) * L * H * P * e);
  auto valid = [=](u64 c) { return min_u(Q, L - c * Q); };
  auto stat = [=](u64 b, u64 h, u64 c) { return ((b * H + h) * chunks + c) * Q; };  // (b, h, c, 0) of dt, dA_cumsum
  auto token = [=](u64 b, u64 c, u64 i) { return b * L + c * Q + i; };            // token i of chunk c
  std::vector<SimKernel>& out = sc.out();

  SimKernel cumsum;
  cumsum.name = "ssd_chunk_cumsum";
  cumsum.ctas = (Count(B) * chunks).v;
  cumsum.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 b = cta % B, c = cta / B, n = valid(c);  // grid (batch, chunks, heads / BLOCK_SIZE_H = 1)
    Step st;
    st.read("dt", dt_in + token(b, c, 0) * H * e, n * H * e);
    st.read("A", a, H * kParamBytes);
    st.read("dt_bias", dt_bias, H * kParamBytes);
    st.write("dt", dt + stat(b, 0, c) * kStat, Q * kStat, H, chunks * Q * kStat);
    st.write("dA_cumsum", da + stat(b, 0, c) * kStat, Q * kStat, H, chunks * Q * kStat);
    st.fp32 = 4.0 * static_cast<double>(n * H);
    st.sfu = 2.0 * static_cast<double>(n * H);
    steps.push_back(st);
  };
  out.push_back(std::move(cumsum));

  SimKernel state;
  state.name = "ssd_chunk_state";
  state.ctas = (Count(B) * chunks * H * tp * tn).v;
  state.program = [=](u64 cta, std::vector<Step>& steps) {
    // grid (P blocks x N blocks, batch x chunks, heads); pid_c = pid_bc // batch
    const u64 blk = cta % (tp * tn), bc = cta / (tp * tn) % (B * chunks), h = cta / (tp * tn * B * chunks);
    const u64 b = bc % B, c = bc / B, g = h / hpg, n = valid(c), row = stat(b, h, c);
    const u64 p0 = blk / tn * kSsdBlock, n0 = blk % tn * kSsdBlock;
    const u64 pb = min_u(P, p0 + kSsdBlock) - p0, nb = min_u(N, n0 + kSsdBlock) - n0;
    for (u64 k0 = 0; k0 < n; k0 += kSsdTileK) {
      const u64 kk = min_u(kSsdTileK, n - k0);
      Step st;
      if (k0 == 0) st.read("dA_cumsum", da + (row + Q - 1) * kStat, kStat);  // the chunk's total decay
      st.read("x", x + ((token(b, c, k0) * H + h) * P + p0) * e, pb * e, kk, H * P * e);
      st.read("B", bm + ((token(b, c, k0) * G + g) * N + n0) * e, nb * e, kk, G * N * e);
      st.read("dt", dt + (row + k0) * kStat, kk * kStat);
      st.read("dA_cumsum", da + (row + k0) * kStat, kk * kStat);
      st.tensor = 2.0 * static_cast<double>(pb * nb * kk);
      st.fp32 = 2.0 * static_cast<double>(kk * nb);
      st.sfu = static_cast<double>(kk);
      st.sram = 2.0 * static_cast<double>((pb + nb) * kk * e);
      steps.push_back(st);
    }
    Step st;
    st.write("states", states + ((((b * chunks + c) * H + h) * P + p0) * N + n0) * kStat, nb * kStat, pb, N * kStat);
    steps.push_back(st);
  };
  out.push_back(std::move(state));

  const u64 pn = P * N, per_cta = traits::kSsdPassElemsPerCta, pass_blocks = ceil_div(pn, per_cta);
  SimKernel passing;
  passing.name = "ssd_state_passing";
  passing.ctas = (Count(B) * H * pass_blocks).v;
  passing.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 m = cta % pass_blocks, b = cta / pass_blocks % B, h = cta / (pass_blocks * B);  // grid (blocks, batch, heads)
    const u64 e0 = m * per_cta, cnt = min_u(pn, e0 + per_cta) - e0;
    for (u64 c = 0; c < chunks; ++c) {
      Step st;
      if (c == 0) st.write("passed states", passed + ((b * chunks * H + h) * pn + e0) * e, cnt * e);  // zeros
      st.read("states", states + (((b * chunks + c) * H + h) * pn + e0) * kStat, cnt * kStat);
      st.read("dA_cumsum", da + (stat(b, h, c) + Q - 1) * kStat, kStat);
      if (c + 1 < chunks) st.write("passed states", passed + (((b * chunks + c + 1) * H + h) * pn + e0) * e, cnt * e);
      else st.write("final states", final_states + ((b * H + h) * pn + e0) * kStat, cnt * kStat);
      st.fp32 = 2.0 * static_cast<double>(cnt);
      st.sfu = 1;
      steps.push_back(st);
    }
  };
  out.push_back(std::move(passing));

  SimKernel bmm;
  bmm.name = "ssd_bmm_chunk";
  bmm.ctas = (Count(B) * chunks * G * tq * tq).v;
  bmm.program = [=](u64 cta, std::vector<Step>& steps) {
    // grid (Q blocks x Q blocks, batch, chunks x groups); pid_c = pid_ch // ngroups
    const u64 blk = cta % (tq * tq), b = cta / (tq * tq) % B, ch = cta / (tq * tq * B), c = ch / G, g = ch % G;
    const u64 n = valid(c), i0 = blk / tq * kSsdBlock, j0 = blk % tq * kSsdBlock;
    const u64 rows_i = i0 < n ? min_u(n, i0 + kSsdBlock) - i0 : 0, rows_j = j0 < n ? min_u(n, j0 + kSsdBlock) - j0 : 0;
    const u64 out_rows = min_u(Q, i0 + kSsdBlock) - i0, out_cols = min_u(Q, j0 + kSsdBlock) - j0;
    for (u64 n0 = 0; n0 < N; n0 += kSsdTileK) {
      const u64 kn = min_u(kSsdTileK, N - n0);
      Step st;
      st.read("C", cm + ((token(b, c, i0) * G + g) * N + n0) * e, kn * e, rows_i, G * N * e);
      st.read("B", bm + ((token(b, c, j0) * G + g) * N + n0) * e, kn * e, rows_j, G * N * e);
      st.tensor = 2.0 * static_cast<double>(out_rows * out_cols * kn);
      st.sram = 2.0 * static_cast<double>((rows_i + rows_j) * kn * e);
      steps.push_back(st);
    }
    Step st;
    st.write("C Bᵀ", cb + ((((b * chunks + c) * G + g) * Q + i0) * Q + j0) * kStat, out_cols * kStat, out_rows, Q * kStat);
    steps.push_back(st);
  };
  out.push_back(std::move(bmm));

  SimKernel scan;
  scan.name = "ssd_chunk_scan";
  scan.ctas = (Count(B) * chunks * H * tq * tp).v;
  scan.program = [=](u64 cta, std::vector<Step>& steps) {
    // grid (Q blocks x P blocks, batch x chunks, heads); pid_c = pid_bc // batch
    const u64 blk = cta % (tq * tp), bc = cta / (tq * tp) % (B * chunks), h = cta / (tq * tp * B * chunks);
    const u64 b = bc % B, c = bc / B, g = h / hpg, n = valid(c), row = stat(b, h, c);
    const u64 m0 = blk / tp * kSsdBlock, p0 = blk % tp * kSsdBlock, pb = min_u(P, p0 + kSsdBlock) - p0;
    const u64 rows = min_u(Q, m0 + kSsdBlock) - m0, rows_valid = m0 < n ? min_u(n, m0 + kSsdBlock) - m0 : 0;
    const u64 cb_rows = (((b * chunks + c) * G + g) * Q + m0) * Q;
    Step first;  // C · state_{c-1} · exp(dA_cumsum)
    first.read("dA_cumsum", da + (row + m0) * kStat, rows * kStat);
    first.read("C", cm + (token(b, c, m0) * G + g) * N * e, N * e, rows_valid, G * N * e);
    first.read("passed states", passed + (((b * chunks + c) * H + h) * P + p0) * N * e, pb * N * e);
    first.tensor = 2.0 * static_cast<double>(rows * N * pb);
    first.sfu = static_cast<double>(rows);
    first.sram = 2.0 * static_cast<double>((rows_valid + pb) * N * e);
    steps.push_back(first);
    for (u64 k0 = 0; k0 < min_u(m0 + kSsdBlock, n); k0 += kSsdTileK) {
      const u64 cols = min_u(kSsdTileK, Q - k0), kx = min_u(kSsdTileK, n - k0);
      Step st;
      st.read("C Bᵀ", cb + (cb_rows + k0) * kStat, cols * kStat, rows, Q * kStat);
      st.read("dA_cumsum", da + (row + k0) * kStat, cols * kStat);
      st.read("dt", dt + (row + k0) * kStat, cols * kStat);
      st.read("x", x + ((token(b, c, k0) * H + h) * P + p0) * e, pb * e, kx, H * P * e);
      st.tensor = 2.0 * static_cast<double>(rows * cols * pb);
      st.fp32 = 3.0 * static_cast<double>(rows * cols);
      st.sfu = static_cast<double>(rows * cols);
      st.sram = 2.0 * static_cast<double>(rows * cols * kStat + kx * pb * e);
      steps.push_back(st);
    }
    Step last;  // + D·x, store y
    last.read("D", d + h * kParamBytes, kParamBytes);
    last.read("x", x + ((token(b, c, m0) * H + h) * P + p0) * e, pb * e, rows_valid, H * P * e);
    last.write("y", y + ((token(b, c, m0) * H + h) * P + p0) * e, pb * e, rows_valid, H * P * e);
    last.fp32 = 2.0 * static_cast<double>(rows_valid * pb);
    steps.push_back(last);
  };
  out.push_back(std::move(scan));
}

// selective_state_update: state [B][H][P][N], x and y [B][H][P], dt [B][H] in the activation dtype;
// B and C [B][G][N]; A, dt_bias and D [H] fp32. Grid (P row blocks, batch, heads).
void ssd_decode_schedule(Scheduler& sc) {
  const Ssd s = dims(sc.w());
  const u64 e = s.e, B = s.B, H = s.H, P = s.P, N = s.N, G = s.G, hpg = s.heads_per_group();
  const u64 rows = state_rows(N), row_blocks = ceil_div(P, rows);
  AddressSpace& as = sc.as();
  const u64 state = as.alloc(Count(B) * H * P * N * e), x = as.alloc(Count(B) * H * P * e), dt = as.alloc(Count(B) * H * e);
  const u64 dt_bias = as.alloc(Count(H) * kParamBytes), a = as.alloc(Count(H) * kParamBytes), d = as.alloc(Count(H) * kParamBytes);
  const u64 bm = as.alloc(Count(B) * G * N * e), cm = as.alloc(Count(B) * G * N * e), y = as.alloc(Count(B) * H * P * e);
  SimKernel k;
  k.name = "ssd_state_update";
  k.ctas = (Count(B) * H * row_blocks).v;
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 m = cta % row_blocks, b = cta / row_blocks % B, h = cta / (row_blocks * B), g = h / hpg;
    const u64 r0 = m * rows, nr = min_u(P, r0 + rows) - r0, bh = b * H + h;
    Step in;
    in.read("state", state + (bh * P + r0) * N * e, nr * N * e);
    in.read("x", x + (bh * P + r0) * e, nr * e);
    in.read("dt", dt + bh * e, e);
    in.read("dt_bias", dt_bias + h * kParamBytes, kParamBytes);
    in.read("A", a + h * kParamBytes, kParamBytes);
    in.read("B", bm + (b * G + g) * N * e, N * e);
    in.read("C", cm + (b * G + g) * N * e, N * e);
    in.read("D", d + h * kParamBytes, kParamBytes);
    in.fp32 = static_cast<double>(kSsdStepFlops * nr * N);
    in.sfu = 3;
    steps.push_back(in);
    Step out;
    out.write("state", state + (bh * P + r0) * N * e, nr * N * e);
    out.write("y", y + (bh * P + r0) * e, nr * e);
    steps.push_back(out);
  };
  sc.out().push_back(std::move(k));
}

void ssd_schedule(Scheduler& sc) {
  if (sc.w().phase == Phase::decode) ssd_decode_schedule(sc);
  else ssd_prefill_schedule(sc);
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
    .schedule = ssd_schedule,
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
