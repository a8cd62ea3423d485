// The whole-model step (stack.hpp). Layer shapes as the Hugging Face modeling files build them
// (hf_config.cpp count_params cites them); a step's tokens T = B·N in prefill, B in decode.
#include "attnio/model/stack.hpp"

#include <algorithm>
#include <cmath>

#include "attnio/model/errors.hpp"

namespace attnio {

std::string_view to_string(StackGroup g) {
  switch (g) {
    case StackGroup::attention: return "attention";
    case StackGroup::ssm: return "SSM";
    case StackGroup::mlp: return "MLP";
    case StackGroup::moe: return "MoE";
    case StackGroup::other: return "other";
  }
  return "?";
}

LaserMatrix parse_laser_matrix(std::string_view word) {
  if (word == "mlp-in") return LaserMatrix::mlp_in;
  if (word == "mlp-out") return LaserMatrix::mlp_out;
  if (word == "attn-in") return LaserMatrix::attn_in;
  if (word == "attn-out") return LaserMatrix::attn_out;
  throw InputError("--laser: unknown matrix '" + std::string(word) + "' (known: mlp-in, mlp-out, attn-in, attn-out)");
}
bool Laser::on(LaserMatrix m) const {
  return rank_fraction > 0 && std::find(matrices.begin(), matrices.end(), m) != matrices.end();
}
bool Laser::covers(std::uint64_t layer) const {
  return layers.empty() || std::find(layers.begin(), layers.end(), layer) != layers.end();
}
std::uint64_t Laser::rank(std::uint64_t m, std::uint64_t n) const {
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::floor(rank_fraction * static_cast<double>(std::min(m, n)))));
}

double StackCost::time_of(StackGroup g) const {
  double t = 0;
  for (const StackPart& p : parts) t += p.group == g ? p.time_s : 0.0;
  return t;
}

namespace {

std::uint64_t split(std::uint64_t n, std::uint64_t tp, const char* what) {
  if (n % tp != 0) {
    throw InputError("--tp " + std::to_string(tp) + " does not divide the model's " + what + " (" + std::to_string(n) + ")");
  }
  return n / tp;
}

void add_gemm(StackCost& out, const Device& dev, Dtype dt, const std::string& name, StackGroup group, std::uint64_t count, std::uint64_t m,
              std::uint64_t n, std::uint64_t k) {
  if (count == 0 || m == 0 || n == 0 || k == 0) return;
  const Prediction p = predict_gemm(dev, dt, m, n, k, count);
  StackPart part{name, group, count, p.flops().d(), static_cast<double>(count) * static_cast<double>(k * n * dtype_bytes(dt)), 0,
                 p.hbm_bytes().d(), 0, p.predicted_time_s, p.bound};
  out.parts.push_back(part);
}

// `matrices` weight matrices of k x n each, side by side in one GEMM (q/k/v, gate/up), in `count`
// layers of which `reduced` run LASER's two factors instead: x·U (T x r, one GEMM for all the
// matrices' U side by side) then (x·U)·V per matrix.
void add_linear(StackCost& out, const Device& dev, Dtype dt, const std::string& name, StackGroup group, std::uint64_t count,
                std::uint64_t reduced, std::uint64_t T, std::uint64_t n, std::uint64_t k, std::uint64_t matrices, const Laser& laser) {
  add_gemm(out, dev, dt, name, group, count - reduced, T, n, k);
  if (reduced == 0) return;
  const std::uint64_t each = n / matrices, r = laser.rank(k, each);
  const std::string tag = name + " (LASER rank " + std::to_string(r) + ")";
  add_gemm(out, dev, dt, tag + " U", group, reduced, T, matrices * r, k);
  add_gemm(out, dev, dt, tag + " V", group, reduced * matrices, T, each, r);
  out.laser_saved_params += static_cast<double>(reduced * matrices) * (static_cast<double>(k * each) - static_cast<double>(r * (k + each)));
}

// A memory-bound elementwise pass of `bytes` (read and written) over the chip's sustained
// bandwidth plus one launch per pass.
void add_pass(StackCost& out, const Device& dev, const char* name, std::uint64_t count, double bytes) {
  if (count == 0 || bytes <= 0) return;
  const double t = bytes / dev.sustained_hbm_rate() + static_cast<double>(count) * dev.launch_overhead_s;
  out.parts.push_back({name, StackGroup::other, count, 0, 0, 0, bytes, 0, t, Bound::hbm});
}

// `count` ring all-reduces of `bytes` each over `tp` GPUs: every GPU sends 2(tp-1)/tp of the data
// (the bandwidth-optimal ring, Patarasuk & Yuan 2009, as NCCL's ring algorithm; NCCL docs "Collective
// operations"), at the device's NVLink rate per direction, plus one kernel launch each (NCCL's
// protocol latency beyond the launch is not modeled).
void add_allreduce(StackCost& out, const Device& dev, const char* name, std::uint64_t count, double bytes, std::uint64_t tp) {
  if (tp <= 1 || count == 0) return;
  const double sent = static_cast<double>(count) * bytes * 2.0 * static_cast<double>(tp - 1) / static_cast<double>(tp);
  const double t = sent / dev.nvlink_bytes_per_s + static_cast<double>(count) * dev.launch_overhead_s;
  out.parts.push_back({name, StackGroup::other, count, 0, 0, 0, 0, sent, t, Bound::link});
}

}  // namespace

StackCost evaluate_stack(const Device& dev, const ModelConfig& c, const Workload& input, const StackOptions& opt) {
  // A model step runs many kernels of several mixer kinds, each predicted on its own: a dirty start
  // (one L2's worth of write-backs per call) is a kernel benchmark's condition, not a model step's.
  if (input.dirty_l2) throw InputError("--l2-start dirty describes a single kernel call after a flush; a model step starts as the last one left the L2");
  // Inside a model Q, K and V are activations, not leaves: no .grad of theirs is ever accumulated.
  if (input.accumulate_grads) throw InputError("--grads accumulate describes a benchmark's leaf Q, K and V; a model's are activations, with no .grad to add into");
  StackCost out;
  const std::uint64_t tp = std::max<std::uint64_t>(1, opt.tp);
  out.tp = tp;
  if (tp > 1 && opt.laser.rank_fraction > 0) {
    // A rank-k factor pair splits unevenly under TP (one factor replicated, the other sharded); not modeled.
    throw InputError("LASER (--rank-fraction) with --tp is not modeled; give one or the other");
  }
  if (tp > 1 && dev.nvlink_bytes_per_s <= 0) {
    throw InputError("--tp " + std::to_string(tp) + ": device '" + dev.key + "' has no NVLink bandwidth (nvlink_bytes_per_s) to all-reduce over");
  }
  if (tp > 1 && dev.nvlink_gpus > 0 && static_cast<double>(tp) > dev.nvlink_gpus) {
    throw InputError("--tp " + std::to_string(tp) + ": device '" + dev.key + "' joins " + std::to_string(static_cast<int>(dev.nvlink_gpus)) +
                     " GPUs by NVLink (nvlink_gpus: its bridge); more would all-reduce over PCIe, which is not modelled");
  }
  const ParamCount params = count_params(c);
  // Activations in the config's torch_dtype unless --dtype says otherwise; the linear layers in FP8
  // where the config ships FP8 weights and the chip has FP8 tensor cores (DeepSeek-V3 §3.3: FP8
  // GEMMs with block-scaled weights and activations), else in the activation dtype (the weights
  // upcast once, as DeepSeek's fp8_cast_bf16.py does for chips without FP8).
  const Dtype act = input.dtype;
  const Dtype dt = c.fp8_weights && dev.fp8_tensor_flops_per_s > 0 ? Dtype::fp8 : act;
  out.weight_dtype = dt;
  const double e = static_cast<double>(dtype_bytes(act)), we = static_cast<double>(dtype_bytes(dt));
  const std::uint64_t h = c.hidden_size;
  std::uint64_t T = 0;

  // The mixers: one prediction per kind of mixer, for the layers that have it.
  for (Mixer m : {Mixer::attention, Mixer::attention_local, Mixer::mamba, Mixer::mamba2}) {
    if (c.count(m) == 0) continue;
    Workload w = c.mixer_workload(input, m);
    const bool ssm = m == Mixer::mamba || m == Mixer::mamba2;
    if (ssm) w.impl = nullptr;  // --impl names an attention kernel; the scans keep theirs
    if (tp > 1) {
      if (m == Mixer::mamba) {
        w.set("d_inner", split(c.d_inner, tp, "Mamba channels"));
      } else if (m == Mixer::mamba2) {
        w.heads = w.kv_heads = split(c.ssm_heads, tp, "Mamba-2 heads");
        // Groups split with the heads where they can; fewer groups than GPUs are replicated.
        w.set("groups", c.ssm_groups >= tp ? split(c.ssm_groups, tp, "Mamba-2 groups") : 1);
      } else {
        w.heads = split(c.heads, tp, "attention heads");
        // Fewer K/V heads than GPUs: each GPU keeps one (replicated), as vLLM and Megatron do.
        w.kv_heads = c.latent_dim != 0 ? w.heads : c.kv_heads >= tp ? split(c.kv_heads, tp, "K/V heads") : 1;
      }
    }
    if (opt.kv_bits != 0 && !ssm && w.phase == Phase::decode) {
      // The quantized cache is read by the split-KV decode kernel (FA2's own decode path, so the
      // unquantized step is the same kernel); a local layer reads its window's tokens.
      if (!w.variant.is("mla")) {
        if (m == Mixer::attention_local) w.kv_len = std::min<std::uint64_t>(w.kv_len != 0 ? w.kv_len : w.seq, c.sliding_window);
        w = for_variant(w, parse_variant("flash-decoding"));
      }
      w.set("kv_bits", opt.kv_bits);
      if (opt.kv_group != 0) w.set("kv_group", opt.kv_group);
    }
    const Prediction p = predict(dev, w);
    T = p.workload.batch * p.workload.query_len();
    const std::string name = std::string(to_string(m)) + " mixer";
    out.parts.push_back({name, ssm ? StackGroup::ssm : StackGroup::attention, c.count(m), p.flops().d(), 0, p.kv_cache_bytes.d(),
                         p.hbm_bytes().d(), p.link_bytes.d(), p.predicted_time_s, p.bound});
    (ssm ? out.state_bytes : out.kv_cache_bytes) += p.kv_cache_bytes.d();
    out.cache_read_bytes += p.hbm_bytes().d();
  }
  if (T == 0) T = input.batch * (input.phase == Phase::decode ? 1 : input.seq);  // a stack without mixers
  out.tokens = T;

  // Attention in: q, k, v (or MLA's low-rank chain, taken as one GEMM of the same weights); out:
  // o_proj (row-parallel under TP).
  const std::uint64_t attn_layers = c.count(Mixer::attention) + c.count(Mixer::attention_local);
  if (attn_layers != 0) {
    const std::uint64_t o_in = c.heads * c.v_head_dim;
    auto in_width = static_cast<std::uint64_t>(std::llround((params.attention_layer - static_cast<double>(o_in * h)) / static_cast<double>(h)));
    // Per GPU under TP: the query heads split, the K/V heads split or, fewer than the GPUs, one
    // replicated on each (MLA's low-rank chain split evenly).
    if (tp > 1) {
      in_width = c.latent_dim != 0 ? in_width / tp
                                   : split(c.heads * c.head_dim, tp, "attention heads") +
                                         2 * (c.kv_heads >= tp ? c.kv_heads / tp : 1) * c.head_dim;
    }
    const Laser& lz = opt.laser;
    std::uint64_t reduced = 0;
    for (std::uint64_t l = 0; l < c.layers; ++l) {
      const Mixer m = c.layout[l].mixer;
      reduced += (m == Mixer::attention || m == Mixer::attention_local) && lz.covers(l) ? 1 : 0;
    }
    if (lz.on(LaserMatrix::attn_in) && reduced != 0) {
      // q (h -> H·d) and k, v (h -> Hkv·d), each truncated to a fraction of its own rank: the three
      // U factors side by side in one GEMM, then one GEMM per V factor.
      if (c.latent_dim != 0) throw InputError("--laser attn-in: MLA's low-rank projections are not modeled for LASER");
      const std::uint64_t wq = split(c.heads * c.head_dim, tp, "attention heads");
      const std::uint64_t wkv = (c.kv_heads >= tp ? c.kv_heads / tp : 1) * c.head_dim;
      const std::uint64_t rq = lz.rank(h, wq), rkv = lz.rank(h, wkv);
      add_gemm(out, dev, dt, "attention projections", StackGroup::attention, attn_layers - reduced, T, in_width, h);
      const std::string tag = "attention projections (LASER rank " + std::to_string(rq) + "/" + std::to_string(rkv) + ")";
      add_gemm(out, dev, dt, tag + " U", StackGroup::attention, reduced, T, rq + 2 * rkv, h);
      add_gemm(out, dev, dt, tag + " V q", StackGroup::attention, reduced, T, wq, rq);
      add_gemm(out, dev, dt, tag + " V k,v", StackGroup::attention, 2 * reduced, T, wkv, rkv);
      out.laser_saved_params += static_cast<double>(reduced) * (static_cast<double>(h * wq) - static_cast<double>(rq * (h + wq)) +
                                                                2.0 * (static_cast<double>(h * wkv) - static_cast<double>(rkv * (h + wkv))));
    } else {
      add_gemm(out, dev, dt, "attention projections", StackGroup::attention, attn_layers, T, in_width, h);
    }
    add_linear(out, dev, dt, "attention output projection", StackGroup::attention, attn_layers, lz.on(LaserMatrix::attn_out) ? reduced : 0, T, h,
               split(o_in, tp, "attention output width"), 1, lz);
  }
  if (const std::uint64_t L = c.count(Mixer::mamba); L != 0) {
    // MambaMixer: in_proj h -> 2D, x_proj D -> r + 2N, dt_proj r -> D, out_proj D -> h; D split by TP.
    const std::uint64_t D = split(c.d_inner, tp, "Mamba channels"), N = c.state_dim, rk = c.dt_rank != 0 ? c.dt_rank : (h + 15) / 16;
    add_gemm(out, dev, dt, "Mamba in_proj", StackGroup::ssm, L, T, 2 * D, h);
    add_gemm(out, dev, dt, "Mamba x_proj", StackGroup::ssm, L, T, rk + 2 * N, D);
    add_gemm(out, dev, dt, "Mamba dt_proj", StackGroup::ssm, L, T, D, rk);
    add_gemm(out, dev, dt, "Mamba out_proj", StackGroup::ssm, L, T, h, D);
  }
  if (const std::uint64_t L = c.count(Mixer::mamba2); L != 0) {
    // Mamba2: in_proj h -> 2D + 2GN + H (z, x, B, C, dt), out_proj D -> h; heads split by TP.
    const std::uint64_t H = split(c.ssm_heads, tp, "Mamba-2 heads"), D = H * c.ssm_head_dim;
    const std::uint64_t G = c.ssm_groups >= tp ? c.ssm_groups / tp : 1;  // as the mixer: one group per GPU below tp
    add_gemm(out, dev, dt, "Mamba-2 in_proj", StackGroup::ssm, L, T, 2 * D + 2 * G * c.ssm_state + H, h);
    add_gemm(out, dev, dt, "Mamba-2 out_proj", StackGroup::ssm, L, T, h, D);
  }
  // Dense MLPs (column-parallel up, row-parallel down under TP).
  const std::uint64_t dense = c.count(Ffn::dense);
  if (dense != 0) {
    const std::uint64_t I = split(c.intermediate != 0 ? c.intermediate : 4 * h, tp, "MLP width");
    std::uint64_t reduced = 0;
    for (std::uint64_t l = 0; l < c.layers; ++l) reduced += c.layout[l].ffn == Ffn::dense && opt.laser.covers(l) ? 1 : 0;
    const std::uint64_t in_reduced = opt.laser.on(LaserMatrix::mlp_in) ? reduced : 0, out_reduced = opt.laser.on(LaserMatrix::mlp_out) ? reduced : 0;
    if (c.gated_mlp) add_linear(out, dev, dt, "MLP gate+up", StackGroup::mlp, dense, in_reduced, T, 2 * I, h, 2, opt.laser);
    else add_linear(out, dev, dt, "MLP up", StackGroup::mlp, dense, in_reduced, T, I, h, 1, opt.laser);
    add_linear(out, dev, dt, "MLP down", StackGroup::mlp, dense, out_reduced, T, h, I, 1, opt.laser);
  }
  if (const std::uint64_t moe_layers = c.count(Ffn::moe); moe_layers != 0) {
    const std::uint64_t Im = split(c.moe_intermediate != 0 ? c.moe_intermediate : c.intermediate, tp, "expert width");
    add_gemm(out, dev, dt, "router", StackGroup::moe, moe_layers, T, c.experts, h);
    // The experts the step's tokens touch, each with its share of the T·k routed tokens.
    const double touched = expected_experts(c.experts, c.experts_per_token, T);
    const auto experts = static_cast<std::uint64_t>(std::ceil(touched));
    const std::uint64_t per_expert =
        std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(static_cast<double>(T * c.experts_per_token) / touched)));
    add_gemm(out, dev, dt, "routed experts gate+up", StackGroup::moe, moe_layers * experts, per_expert, 2 * Im, h);
    add_gemm(out, dev, dt, "routed experts down", StackGroup::moe, moe_layers * experts, per_expert, h, Im);
    if (c.shared_experts != 0) {
      add_gemm(out, dev, dt, "shared experts gate+up", StackGroup::moe, moe_layers, T, 2 * Im * c.shared_experts, h);
      add_gemm(out, dev, dt, "shared experts down", StackGroup::moe, moe_layers, T, h, Im * c.shared_experts);
    }
  }
  // Norms, each reading and writing T x h activations (replicated under TP).
  const std::uint64_t norms = c.layers * c.norms_per_layer + 1;
  add_pass(out, dev, "norms", norms, static_cast<double>(norms) * 2 * static_cast<double>(T * h) * e);
  // Embedding: T rows gathered and written.
  add_pass(out, dev, "embedding", 1, 2 * static_cast<double>(T * h) * e);
  // The LM head's vocabulary split over the GPUs (padded up, as vLLM's VocabParallelEmbedding pads it).
  if (c.vocab != 0) add_gemm(out, dev, dt, "LM head", StackGroup::other, 1, T, (c.vocab + tp - 1) / tp, h);
  // TP: one all-reduce of T x h after every mixer's and every MLP's output projection.
  std::uint64_t reduces = 0;
  for (const LayerKind& k : c.layout) reduces += (k.mixer != Mixer::none ? 1 : 0) + (k.ffn != Ffn::none ? 1 : 0);
  add_allreduce(out, dev, "all-reduce (tensor parallel)", reduces, static_cast<double>(T * h) * e, tp);

  out.footprint_bytes = (params.total() / static_cast<double>(tp) - out.laser_saved_params) * we + out.kv_cache_bytes + out.state_bytes;
  out.fits = out.footprint_bytes <= dev.hbm_capacity_bytes;
  for (const StackPart& p : out.parts) {
    out.time_s += p.time_s;
    out.flops += p.flops;
    out.weight_bytes += p.weight_bytes;
    out.hbm_bytes += p.hbm_bytes;
    out.link_bytes += p.link_bytes;
  }
  return out;
}

}  // namespace attnio
