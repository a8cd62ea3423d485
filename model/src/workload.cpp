#include "attnio/model/workload.hpp"

#include <algorithm>
#include <cmath>

#include "attnio/model/errors.hpp"

namespace attnio {

namespace {

// The message is built only when the check fails: validation runs on every evaluation.
template <typename Message>
void require(bool ok, Message&& message) {
  if (!ok) throw InputError(message());
}

// Sizes are bounded so that every single dimension and their sums stay far from 2^64; products are
// checked by Count.
constexpr std::uint64_t kMaxDim = std::uint64_t{1} << 40;

std::string fmt_bound(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
  std::string s = std::to_string(x);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

void check_size(std::string_view flag, std::uint64_t v) {
  require(v >= 1, [&] { return std::string("--" + std::string(flag) + " must be at least 1"); });
  require(v <= kMaxDim, [&] { return std::string("--" + std::string(flag) + " " + std::to_string(v) + " is larger than 2^40"); });
}

}  // namespace

std::string_view to_string(Phase p) { return p == Phase::prefill ? "prefill" : "decode"; }
std::string_view to_string(Pass p) {
  switch (p) {
    case Pass::fwd: return "fwd";
    case Pass::bwd: return "bwd";
    case Pass::fwdbwd: return "fwdbwd";
  }
  return "?";
}
std::string_view to_string(Dtype d) {
  switch (d) {
    case Dtype::fp32: return "fp32";
    case Dtype::fp16: return "fp16";
    case Dtype::bf16: return "bf16";
    case Dtype::fp8: return "fp8";
  }
  return "?";
}

Phase parse_phase(std::string_view s) {
  if (s == "prefill") return Phase::prefill;
  if (s == "decode") return Phase::decode;
  throw InputError("unknown phase '" + std::string(s) + "' (known: prefill, decode)");
}
Pass parse_pass(std::string_view s) {
  if (s == "fwd") return Pass::fwd;
  if (s == "bwd") return Pass::bwd;
  if (s == "fwdbwd") return Pass::fwdbwd;
  throw InputError("unknown pass '" + std::string(s) + "' (known: fwd, bwd, fwdbwd)");
}
KvFormat parse_kv_dtype(std::string_view s) {
  if (s == "fp8") return {8, 0};
  if (s == "int8") return {8, 32};
  if (s == "int4") return {4, 32};  // KIVI example.py: group_size = 32
  if (s == "bf16" || s == "fp16") return {16, 0};
  throw InputError("--kv-dtype: '" + std::string(s) + "' is not fp8, int8, int4, bf16 or fp16");
}

Dtype parse_dtype(std::string_view s) {
  if (s == "fp32") return Dtype::fp32;
  if (s == "fp16") return Dtype::fp16;
  if (s == "bf16") return Dtype::bf16;
  if (s == "fp8") return Dtype::fp8;
  throw InputError("unknown dtype '" + std::string(s) + "' (known: fp32, fp16, bf16, fp8)");
}
std::uint64_t dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::fp32: return 4;
    case Dtype::fp16:
    case Dtype::bf16: return 2;
    case Dtype::fp8: return 1;
  }
  return 0;
}

std::span<const ShapeField> shape_fields() {
  static constexpr ShapeField kFields[] = {
      {"batch", &Workload::batch, "batch size B (default 1)"},
      {"seq", &Workload::seq, "query length N in tokens (default 4096); in decode, the cache length unless --kv-len"},
      {"kv-len", &Workload::kv_len, "key/value length N_kv in tokens (default: --seq)"},
      {"heads", &Workload::heads, "query heads H (default 32)"},
      {"kv-heads", &Workload::kv_heads, "K/V heads H_kv (default: --heads; 1 = MQA, a divisor = GQA)"},
      {"head-dim", &Workload::head_dim, "head dimension d in elements (default 128)"},
      {"v-head-dim", &Workload::v_head_dim, "value head dimension in elements (default: --head-dim)"},
      {"layers", &Workload::layers, "layers L (default 1)"},
      {"sram-bytes", &Workload::sram_bytes, "on-chip capacity M per SM in bytes (default: the device's shared memory)"},
  };
  return kFields;
}

Workload llama_like_workload() {
  Workload w;
  w.batch = 8;
  w.seq = 4096;
  w.heads = 32;
  w.kv_heads = 8;
  w.head_dim = 128;
  w.causal = true;
  return w;
}

namespace {

const ParamSpec& declared(const Workload& w, std::string_view key) {
  const ParamSpec* p = variant_param(w.variant, key);
  if (!p) throw InputError("internal: variant " + std::string(w.variant.name()) + " has no parameter '" + std::string(key) + "' (a bug in attnio)");
  return *p;
}

double default_of(const ParamSpec& p, const Workload& w) { return p.default_rule ? p.default_rule(w) : p.default_value; }

}  // namespace

// A set value first: predict() has resolved every declared parameter (and validate() refused any
// other), so the declaration is looked up only for a default.
std::uint64_t Workload::count(std::string_view key) const {
  if (const ParamSet::Entry* e = params.find(key)) return e->count;
  return static_cast<std::uint64_t>(default_of(declared(*this, key), *this));
}

double Workload::real(std::string_view key) const {
  if (const ParamSet::Entry* e = params.find(key)) return e->real;
  return default_of(declared(*this, key), *this);
}

Workload for_variant(Workload w, Variant v) {
  w.variant = v;
  ParamSet kept;
  for (const ParamSet::Entry& e : w.params.entries()) {
    const ParamSpec* p = variant_param(v, e.key);
    if (!p) continue;
    if (p->type == ParamType::real) kept.set_real(e.key, e.real);
    else kept.set_count(e.key, e.count);
  }
  w.params = kept;
  return w;
}

Workload resolve(Workload w, const Device& device) {
  if (w.kv_len == 0) w.kv_len = w.seq;
  if (w.kv_heads == 0) w.kv_heads = w.heads;
  if (w.v_head_dim == 0) w.v_head_dim = w.head_dim;
  if (w.sram_bytes == 0) w.sram_bytes = static_cast<std::uint64_t>(device.smem_bytes_per_sm);
  for (const ParamSpec* p : w.variant->params) {
    if (w.params.has(p->key)) continue;
    if (p->type == ParamType::real) w.params.set_real(*p, default_of(*p, w));
    else w.params.set_count(*p, static_cast<std::uint64_t>(default_of(*p, w)));
  }
  if (w.impl == nullptr) w.impl = &default_impl(w.variant.name(), device, w.phase == Phase::decode);
  w.compute_capability = static_cast<int>(device.compute_capability);
  // The implementation's own tiles, so predict, simulate and explain agree on them.
  if (w.variant->kernel_tiles) w.variant->kernel_tiles(w);
  return w;
}

void check_param(const ParamSpec& p, const ParamSet::Entry& e) {
  const auto flag = [&] { return "--" + flag_name(p); };  // built only for a message
  if (p.type == ParamType::real) {
    const bool ok = std::isfinite(e.real) && (p.min_exclusive ? e.real > p.min : e.real >= p.min) && e.real <= p.max;
    require(ok, [&] { return flag() + " must be in " + (p.min_exclusive ? "(" : "[") + fmt_bound(p.min) + ", " + fmt_bound(p.max) + "]"; });
    return;
  }
  if (e.count == 0 && p.zero_is_auto) return;
  require(static_cast<double>(e.count) >= p.min, [&] { return flag() + " must be at least " + fmt_bound(p.min); });
  if (p.max == static_cast<double>(kMaxDim)) {
    require(e.count <= kMaxDim, [&] { return flag() + " " + std::to_string(e.count) + " is larger than 2^40"; });
  } else {
    require(static_cast<double>(e.count) <= p.max, [&] { return flag() + " must be at most " + fmt_bound(p.max); });
  }
}

void validate(const Workload& w, const Device& device) {
  check_size("batch", w.batch);
  check_size("seq", w.seq);
  check_size("kv-len", w.kv_len);
  check_size("heads", w.heads);
  check_size("kv-heads", w.kv_heads);
  check_size("head-dim", w.head_dim);
  check_size("v-head-dim", w.v_head_dim);
  check_size("layers", w.layers);
  check_size("sram-bytes", w.sram_bytes);
  require(!w.dirty_l2 || w.l2, [&] {
    return std::string("--l2-start dirty needs the L2 model: with --l2 off nothing is held in L2, so nothing is written back");
  });
  require(!w.accumulate_grads || w.pass != Pass::fwd, [&] {
    return std::string("--grads accumulate describes a timed backward; --pass fwd computes no gradients");
  });
  require(w.heads % w.kv_heads == 0, [&] { return std::string("--heads " + std::to_string(w.heads) +
                                         " is not divisible by --kv-heads " + std::to_string(w.kv_heads)); });
  // Wide enough for the widest heads of the designs modeled: GAU's value width e = 2·d_model (Hua
  // et al. 2022 §2; 1536 at d_model = 768), MLA's 576-wide latent + rope rows.
  require(w.head_dim <= 4096 && w.v_head_dim <= 4096, [&] { return std::string("--head-dim and --v-head-dim must be at most 4096"); });
  if (w.impl != nullptr) {
    const std::string why = impl_mismatch(*w.impl, w.variant.name(), device);
    require(why.empty(), [&] { return why; });
  }
  require(w.dtype != Dtype::fp8 || device.fp8_tensor_flops_per_s > 0, [&] { return std::string("--dtype fp8: device '" + device.key + "' has no FP8 tensor cores"); });
  // Each parameter against its declaration; one the variant does not declare is refused.
  for (const ParamSet::Entry& e : w.params.entries()) {
    const ParamSpec* p = variant_param(w.variant, e.key);
    require(p != nullptr, [&] { return "--" + flag_name(*find_param(e.key)) + " does not apply to " + std::string(w.variant.name()); });
    check_param(*p, e);
  }
  if (w.variant->check) w.variant->check(w, device);

  const std::uint64_t e = dtype_bytes(w.dtype);
  // Alg. 1 needs room for Q, K, V and O tiles of at least one row: M >= 4·d elements.
  require(w.sram_bytes / e >= 4 * std::max(w.head_dim, w.v_head_dim), [&] {
    return "--sram-bytes " + std::to_string(w.sram_bytes) + " holds fewer than 4 x head-dim elements (FlashAttention Alg. 1 tiles)";
  });
  if (w.phase == Phase::prefill && w.kv_len != w.seq && w.variant->self_only) {
    throw InputError(std::string(w.variant.name()) + " mixes one sequence with itself in prefill: --kv-len must equal --seq");
  }
  if (auto why = not_applicable(w)) throw InputError(*why);
}

std::optional<std::string> refused_on(const Workload& w, const Device& device) {
  try {
    validate(w, device);
  } catch (const InputError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::optional<std::string> not_applicable(const Workload& w) {
  const std::string name(w.variant.name());
  const bool decode = w.phase == Phase::decode;
  if (!decode && !w.variant->prefill) return name + " is a decode kernel: use --phase decode";
  if (decode && !w.variant->decode) return name + " is not modeled for --phase decode (prefill only)";
  if (w.impl != nullptr && !w.impl->implements(name)) return impl_mismatch(*w.impl, name, default_device());
  if (!w.variant->masked && w.causal) return name + " mixes every token with every other: it has no causal form";
  if (w.pass != Pass::fwd) {
    if (decode) return "--pass " + std::string(to_string(w.pass)) + ": decode is inference only (use --pass fwd)";
    if (!w.variant->backward) {
      std::string with;
      for (Variant v : all_variants()) {
        if (v->backward) with += (with.empty() ? "" : ", ") + std::string(v.name());
      }
      return name + ": only the forward pass is modeled (--pass fwd); backward is modeled for " + with;
    }
  }
  return std::nullopt;
}

}  // namespace attnio
