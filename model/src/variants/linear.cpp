// Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs", §3.2, eq. 7; recurrent
// form §3.4) and Performer's FAVOR+ (Choromanski et al. 2021, "Rethinking Attention with
// Performers", §2.3-2.4), which runs linear attention on r positive random features.
#include "common.hpp"

namespace attnio::detail {

// flash-linear-attention's chunk size for the chunked causal form.
const ParamSpec kLinearChunk{
    .key = "chunk", .default_value = 64, .default_text = "64", .unit = "tokens",
    .help = "chunked: chunk size (default 1024); linear: chunk (default 64); mamba2: SSD chunk (default 256)",
    .source = "flash-linear-attention chunk_size 64 (fla/ops/linear_attn)"};
const ParamSpec kFeatureDim{
    .key = "feature_dim", .default_text = "--head-dim", .max = 4096, .unit = "features",
    .help = "linear: feature dimension F (default: --head-dim)",
    .source = "Katharopoulos et al. §3.2: elu + 1 keeps the dimension",
    .default_rule = [](const Workload& w) { return static_cast<double>(w.head_dim); }};
const ParamSpec kFeatures{
    .key = "features", .default_value = 256, .default_text = "256", .max = 65536, .unit = "features",
    .help = "performer: random features r (default 256)", .source = "Choromanski et al. 2021 §4 (r = 256 in experiments)"};

namespace {

// ---- closed form --------------------------------------------------------------------------------


// Katharopoulos et al. 2020 §3.2 with phi = elu + 1 (eq. 7). The state S = Σ phi(k) v^T and the
// normalizer z = Σ phi(k) depend on K and V only, so with GQA one state serves the g query heads of a
// group: one CTA per (sequence, K/V head) carries it. Causal, chunked form (as in
// flash-linear-attention): inside a chunk of C tokens the masked C x C product phi(Q)phi(K)^T V per
// query head, between chunks the running F x dv state. Non-causal: S = phi(K)^T V once per K/V head,
// then O = phi(Q) S. `qk_in_dim` is the width of a q/k input per token (head_dim for raw Q/K, r for
// Performer's features); `map_on_the_fly` adds the elu+1 map (or a d x F projection if F != d).
void linear_core(Evaluator& ev, const Shape& s, u64 f, u64 qk_in_dim, bool map_on_the_fly) {
  const Workload& w = ev.w();
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads, bkv = Count(s.batch) * s.kv_heads;
  const Count state = Count(f) * s.dv * kStatBytes + Count(f) * kStatBytes;  // S and z of one K/V head
  const bool decode = w.phase == Phase::decode;
  const Count n = decode ? 1 : s.n;
  const Count q_in = bh * n * qk_in_dim * e;
  const Count kv_in = bkv * n * (qk_in_dim + s.dv) * e;
  const Count o_out = bh * n * s.dv * e;

  auto feature_map = [&](KernelCost& k, Count tokens) {
    if (!map_on_the_fly) return;
    if (f != s.d) k.tensor_flops += tokens * 2 * s.d * f;  // projection to F features
    k.sfu_ops += tokens * f;                               // exp of the elu branch
    k.fp32_flops += tokens * f * 2;                        // select and +1
  };

  if (decode) {
    // The recurrent form (Katharopoulos §3.4, eq. 18-20): S += phi(k) v^T, z += phi(k) per K/V head,
    // o = phi(q)^T S / phi(q)^T z per query head; matrix-vector work on CUDA cores.
    KernelCost& k = ev.add("linear_decode_step", bkv, ev.ctas_per_sm(state));
    k.fp32_flops = bkv * (Count(f) * s.dv * 2 + f) + bh * (Count(f) * s.dv * 2 + Count(f) * 2 + s.dv);
    feature_map(k, bh + bkv);
    Evaluator::read_direct(k, bkv * state + q_in + kv_in);
    Evaluator::write_direct(k, bkv * state + o_out);
    return;
  }

  if (!w.causal) {
    KernelCost& k1 = ev.add("linear_state", bkv, ev.ctas_per_sm(state));
    k1.tensor_flops = bkv * n * 2 * f * s.dv;
    k1.fp32_flops = bkv * n * f;
    feature_map(k1, bkv * n);
    Evaluator::read_stream(k1, kv_in, kv_in, 1);
    Evaluator::write_direct(k1, bkv * state);
    const u64 chunks = ceil_div(s.n, w.count("chunk"));
    KernelCost& k2 = ev.add("linear_output", bh * chunks, ev.ctas_per_sm(state));
    k2.tensor_flops = bh * n * 2 * f * s.dv;
    k2.fp32_flops = bh * n * (Count(f) * 2 + s.dv);
    feature_map(k2, bh * n);
    Evaluator::read_stream(k2, q_in, q_in, 1);
    // Every output CTA reads its group's state; the chunks and heads of a group are adjacent.
    const Count state_total = bh * chunks * state;
    Evaluator::read_stream(k2, state_total, ev.shared(k2, bkv * state, state_total, s.group() * chunks, 1, 1, 0), 1);
    Evaluator::write_direct(k2, o_out);
    ev.out().extra_memory_bytes += bkv * state;
    return;
  }

  const u64 c = w.count("chunk");
  const u64 chunks = ceil_div(s.n, c), last = s.n - (chunks - 1) * c;
  const Count sq = Count(chunks - 1) * c * c + Count(last) * last;  // Σ over chunks of C_t²
  const bool state_fits = state.d() * 2 <= static_cast<double>(w.sram_bytes);
  KernelCost& k = ev.add("linear_causal_chunked", bkv, ev.ctas_per_sm(state));
  // Per chunk and query head: phi(Q)phi(K)^T (2C²F), times V (2C²dv), phi(Q) S (2CF·dv); per chunk
  // and K/V head: S += phi(K)^T V (2CF·dv).
  k.tensor_flops = bh * (sq * 2 * (f + s.dv) + n * 2 * f * s.dv) + bkv * n * 2 * f * s.dv;
  // Normalizer row sums (C² per chunk) and phi(q)·z (2F) and the division (dv) per query head;
  // the z update (F) per K/V head.
  k.fp32_flops = bh * (sq + n * (Count(f) * 2 + s.dv)) + bkv * n * f;
  feature_map(k, bh * n + bkv * n);
  Evaluator::read_stream(k, q_in, q_in, 1);
  Evaluator::read_stream(k, kv_in, kv_in, kFlashWarps);
  Evaluator::write_direct(k, o_out);
  if (!state_fits) {
    // The state does not fit beside the tiles in M: it is read and written back every chunk.
    const Count spill = bkv * state * chunks;
    const double ws = static_cast<double>(ev.resident(k)) * state.d();
    k.l2_read += spill;
    k.l2_write += spill;
    k.hbm_read += ev.filtered(0, spill, ws);
    k.hbm_write += ev.filtered(bkv * state, spill, ws);
    ev.out().extras.state_spills = true;
  }
}

// FAVOR+ (Choromanski et al. 2021 §2.3, Lemma 1): phi(x) = exp(w_i^T x - |x|²/2) / sqrt(r) for r
// orthogonal random features w_i; a feature kernel writes phi(Q), phi(K) (r per token), then linear
// attention runs on them (§2.4 for the causal prefix-sum form).
void performer(Evaluator& ev) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const u64 e = ev.e(), r = w.count("features");
  const u64 n = w.phase == Phase::decode ? 1 : s.n;
  const Count rows_q = Count(s.batch) * s.heads * n, rows_k = Count(s.batch) * s.kv_heads * n;
  const Count rows = rows_q + rows_k;
  KernelCost& k = ev.add("favor_features", ceil_div(rows.v, traits::kFeatureRowsPerCta), kSmallCtasPerSm);
  k.tensor_flops = rows * 2 * s.d * r;           // x Omega^T
  k.sfu_ops = rows * r;                          // exp per feature
  k.fp32_flops = rows * (Count(s.d) * 2 + r * 2);  // |x|², subtract and scale
  Evaluator::read_direct(k, rows * s.d * e);
  const Count omega = Count(r) * s.d * e;
  const Count omega_total = omega * k.ctas;
  Evaluator::read_stream(k, omega_total, ev.filtered(omega, omega_total, omega.d()), kFlashWarps);  // tiny, stays in L2
  Evaluator::write_direct(k, rows * r * e);
  ev.out().extra_memory_bytes += rows * r * e;
  linear_core(ev, s, r, r, false);
}

// ---- tile schedule ------------------------------------------------------------------------------


// One CTA per (sequence, K/V head) carries the group's state (as linear_core). `q`, `k`
// hold `in_dim` elements per token (raw Q/K, or Performer's features).
void linear(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w, const Shape& s, u64 f, u64 in_dim,
            u64 qbuf, u64 kbuf) {
  const u64 e = dtype_bytes(w.dtype);
  const bool decode = w.phase == Phase::decode;
  const u64 n = decode ? 1 : s.n, c = decode ? 1 : w.count("chunk"), g = s.group();
  const u64 chunks = ceil_div(n, c);
  const u64 bkv = (Count(s.batch) * s.kv_heads).v, bh = (Count(s.batch) * s.heads).v;
  const u64 state = (f * s.dv + f) * kStat;
  const bool spills = !decode && w.causal && static_cast<double>(state) * 2 > static_cast<double>(w.sram_bytes);
  const u64 v = as.alloc(Count(bkv) * n * s.dv * e), o = as.alloc(Count(bh) * n * s.dv * e);
  const u64 st_buf = as.alloc(Count(bkv) * state);
  auto qa = [=](u64 b, u64 h, u64 t) { return qbuf + ((b * s.heads + h) * n + t) * in_dim * e; };
  auto ka = [=](u64 b, u64 kvh, u64 t) { return kbuf + ((b * s.kv_heads + kvh) * n + t) * in_dim * e; };
  auto va = [=](u64 b, u64 kvh, u64 t) { return v + ((b * s.kv_heads + kvh) * n + t) * s.dv * e; };
  auto oa = [=](u64 b, u64 h, u64 t) { return o + ((b * s.heads + h) * n + t) * s.dv * e; };
  if (decode || w.causal) {
    SimKernel k;
    k.name = decode ? "linear_decode_step" : "linear_causal_chunked";
    k.ctas = bkv;
    k.smem = {{"state", state}, {"Q/K/V chunk", c * (2 * in_dim + s.dv) * e}};
    k.program = [=](u64 cta, std::vector<Step>& steps) {
      const u64 b = cta / s.kv_heads, kvh = cta % s.kv_heads;
      for (u64 t = 0; t < chunks; ++t) {
        const u64 t0 = t * c, len = min_u(n, t0 + c) - t0;
        Step st;
        if (decode || (spills && t > 0)) st.read("state", st_buf + cta * state, state);
        st.read("K", ka(b, kvh, t0), len * in_dim * e);
        st.read("V", va(b, kvh, t0), len * s.dv * e);
        st.read("Q", qa(b, kvh * g, t0), len * in_dim * e, g, n * in_dim * e);  // the group's heads
        st.write("O", oa(b, kvh * g, t0), len * s.dv * e, g, n * s.dv * e);
        if (decode || spills) st.write("state", st_buf + cta * state, state);
        st.tensor = 2.0 * static_cast<double>(g * len * len * (f + s.dv) + (g + 1) * len * f * s.dv);
        st.fp32 = static_cast<double>(g * len * len);
        steps.push_back(st);
      }
    };
    out.push_back(std::move(k));
    return;
  }
  SimKernel k1;
  k1.name = "linear_state";
  k1.ctas = bkv;
  k1.smem = {{"state", state}};
  k1.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 b = cta / s.kv_heads, kvh = cta % s.kv_heads;
    for (u64 t = 0; t < chunks; ++t) {
      const u64 t0 = t * c, len = min_u(n, t0 + c) - t0;
      Step st;
      st.read("K", ka(b, kvh, t0), len * in_dim * e);
      st.read("V", va(b, kvh, t0), len * s.dv * e);
      st.tensor = 2.0 * static_cast<double>(len * f * s.dv);
      steps.push_back(st);
    }
    Step last;
    last.write("state", st_buf + cta * state, state);
    steps.push_back(last);
  };
  SimKernel k2;
  k2.name = "linear_output";
  k2.ctas = (Count(bh) * chunks).v;
  k2.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 t = cta % chunks, bhh = cta / chunks, b = bhh / s.heads, h = bhh % s.heads;
    const u64 t0 = t * c, len = min_u(n, t0 + c) - t0;
    Step st;
    st.read("state", st_buf + (b * s.kv_heads + h / g) * state, state);
    st.read("Q", qa(b, h, t0), len * in_dim * e);
    st.write("O", oa(b, h, t0), len * s.dv * e);
    st.tensor = 2.0 * static_cast<double>(len * f * s.dv);
    steps.push_back(st);
  };
  out.push_back(std::move(k1));
  out.push_back(std::move(k2));
}

void performer_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  std::vector<SimKernel>& out = sc.out();
  AddressSpace& as = sc.as();
  const u64 e = sc.e(), r = w.count("features");
  const u64 n = w.phase == Phase::decode ? 1 : s.n;
  const u64 rows_q = (Count(s.batch) * s.heads * n).v, rows = (Count(rows_q) + Count(s.batch) * s.kv_heads * n).v;
  const u64 x = as.alloc(Count(rows) * s.d * e), omega = as.alloc(Count(r) * s.d * e);
  const u64 phi = as.alloc(Count(rows) * r * e);
  SimKernel k;
  k.name = "favor_features";
  k.ctas = ceil_div(rows, traits::kFeatureRowsPerCta);
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 r0 = cta * traits::kFeatureRowsPerCta, nr = min_u(rows, r0 + traits::kFeatureRowsPerCta) - r0;
    Step st;
    st.read("x", x + r0 * s.d * e, nr * s.d * e);
    st.read("Omega", omega, r * s.d * e);
    st.write("phi", phi + r0 * r * e, nr * r * e);
    st.tensor = 2.0 * static_cast<double>(nr * s.d * r);
    st.sfu = static_cast<double>(nr * r);
    steps.push_back(st);
  };
  out.push_back(std::move(k));
  linear(out, as, w, s, r, r, phi, phi + rows_q * r * e);
}

void linear_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const u64 e = sc.e(), n = w.phase == Phase::decode ? 1 : s.n;
  const u64 q = sc.as().alloc(Count(s.batch) * s.heads * n * s.d * e), k = sc.as().alloc(Count(s.batch) * s.kv_heads * n * s.d * e);
  linear(sc.out(), sc.as(), w, s, w.count("feature_dim"), s.d, q, k);
}

// One state per K/V head (Katharopoulos §3.4): F x dv and the F normalizer, fp32, every layer.
Count state_bytes(const Workload& w, u64 features) {
  return Count(w.batch) * w.kv_heads * (Count(features) * w.v_head_dim + features) * kStatBytes * w.layers;
}

std::string chunk_text(const Prediction& p) {
  std::string s;
  put(s, "chunk", std::to_string(p.workload.count("chunk")));
  return s;
}

constexpr const ParamSpec* kLinearParams[] = {&kLinearChunk, &kFeatureDim};
const VariantDescriptor kLinearDesc{
    .name = "linear",
    .summary = "linear attention phi(Q)(phi(K)^T V), chunked causal form (Katharopoulos et al. 2020)",
    .sources = "Katharopoulos et al. 2020, Transformers are RNNs, §3.2-3.4; flash-linear-attention (chunked form)",
    .params = kLinearParams, .self_only = true, .kernel_fwd = "linear_attention",
    .evaluate = [](Evaluator& ev) { linear_core(ev, ev.shape(), ev.w().count("feature_dim"), ev.w().head_dim, true); },
    .cache_bytes = [](const Workload& w) { return state_bytes(w, w.count("feature_dim")); },
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N·d) per head"; },
    .params_text = [](const Prediction& p) {
      std::string s = chunk_text(p);
      put(s, "feature_dim", std::to_string(p.workload.count("feature_dim")));
      if (p.extras.state_spills) put(s, "state_spills", "1");
      return s;
    },
    .schedule = linear_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      return "Katharopoulos et al. §3.2: φ(Q)(φ(K)^T V) with φ = elu + 1; the causal form carries an F×dv state "
             "per head between chunks of " + num(p.workload.count("chunk")) + " tokens, so Q, K, V are read once and O written once: Θ(N·d).\n";
    }};

constexpr const ParamSpec* kPerformerParams[] = {&kLinearChunk, &kFeatures};
const VariantDescriptor kPerformerDesc{
    .name = "performer",
    .summary = "FAVOR+ positive random features, then linear attention (Choromanski et al. 2021)",
    .sources = "Choromanski et al. 2021, Rethinking Attention with Performers, §2.3 (Lemma 1), §2.4",
    .params = kPerformerParams, .self_only = true, .kernel_fwd = "performer_favor_linear",
    .evaluate = performer,
    .cache_bytes = [](const Workload& w) { return state_bytes(w, w.count("features")); },
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N·(d+r)) per head"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "features", std::to_string(p.workload.count("features")));
      return s;
    },
    .schedule = performer_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      return "FAVOR+ (Choromanski et al. §2.3): r = " + num(p.workload.count("features")) + " positive random features per token are "
             "written by a feature kernel and read by linear attention: Θ(N·(d + r)) bytes, O(N·r·d) FLOPs.\n";
    }};

}  // namespace

const VariantDescriptor& linear_variant() { return kLinearDesc; }
const VariantDescriptor& performer_variant() { return kPerformerDesc; }

}  // namespace attnio::detail
