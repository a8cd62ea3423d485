#include "attnio/model/hf_config.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <cmath>
#include <fstream>
#include <sstream>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"

namespace attnio {

namespace {

namespace json = boost::json;

class Reader {
public:
  Reader(const json::object& o, std::string_view origin) : o_(o), origin_(origin) {}

  // The first of `keys` that is present and not null, as a positive integer; 0 if none is present.
  std::uint64_t count(std::initializer_list<const char*> keys) const {
    for (const char* k : keys) {
      const json::value* v = o_.if_contains(k);
      if (!v || v->is_null()) continue;
      double x = -1;
      if (v->is_int64()) x = static_cast<double>(v->get_int64());
      else if (v->is_uint64()) x = static_cast<double>(v->get_uint64());
      else if (v->is_double()) x = v->get_double();
      if (!(x >= 1) || x != std::floor(x) || x > 1e12) {
        throw InputError(origin_ + ": key '" + k + "' must be a positive whole number, got " + json::serialize(*v));
      }
      return static_cast<std::uint64_t>(x);
    }
    return 0;
  }
  std::uint64_t required(std::initializer_list<const char*> keys) const {
    const std::uint64_t v = count(keys);
    if (v == 0) throw InputError(origin_ + ": missing key '" + *keys.begin() + "'");
    return v;
  }
  bool flag(const char* key, bool otherwise) const {
    const json::value* v = o_.if_contains(key);
    if (!v || v->is_null()) return otherwise;
    if (!v->is_bool()) throw InputError(origin_ + ": key '" + key + "' must be true or false");
    return v->get_bool();
  }
  std::string text(const char* key) const {
    const json::value* v = o_.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  }
  const std::string& origin() const { return origin_; }

private:
  const json::object& o_;
  std::string origin_;
};

#include "shipped_configs.inc"

}  // namespace

std::string_view to_string(Mixer m) {
  switch (m) {
    case Mixer::attention: return "attention";
    case Mixer::attention_local: return "attention (local)";
    case Mixer::mamba: return "Mamba";
    case Mixer::mamba2: return "Mamba-2";
    case Mixer::none: return "none";
  }
  return "?";
}

std::uint64_t ModelConfig::count(Mixer m) const {
  return static_cast<std::uint64_t>(std::count_if(layout.begin(), layout.end(), [&](const LayerKind& k) { return k.mixer == m; }));
}
std::uint64_t ModelConfig::count(Ffn f) const {
  return static_cast<std::uint64_t>(std::count_if(layout.begin(), layout.end(), [&](const LayerKind& k) { return k.ffn == f; }));
}
bool ModelConfig::hybrid() const {
  int kinds = 0;
  for (Mixer m : {Mixer::attention, Mixer::attention_local, Mixer::mamba, Mixer::mamba2}) kinds += count(m) != 0 ? 1 : 0;
  return kinds > 1;
}

namespace {
Mixer native_mixer(const ModelConfig& c) {
  for (Mixer m : {Mixer::attention, Mixer::attention_local, Mixer::mamba2, Mixer::mamba}) {
    if (c.count(m) != 0) return m;
  }
  return Mixer::attention;
}
}  // namespace

Workload ModelConfig::apply(Workload w) const {
  w.dtype = dtype;
  return mixer_workload(w, native_mixer(*this));  // layers: the layers that have that mixer
}

Workload ModelConfig::mixer_workload(Workload w, Mixer m) const {
  w.layers = std::max<std::uint64_t>(1, count(m));
  if (m == Mixer::mamba) {
    w = for_variant(w, parse_variant("mamba"));
    w.set("d_inner", d_inner);
    w.set("state_dim", state_dim);
    // A Mamba layer hands the scan its gate z: mamba_simple.py's mamba_inner_fn calls
    // selective_scan_cuda.fwd(..., D, z, delta_bias, delta_softplus=True), and transformers'
    // JambaMambaMixer selective_scan_fn(..., D, gate, ...) (state-spaces/mamba @e9594ce).
    w.set("gate", 1);
    w.heads = heads;
    w.kv_heads = kv_heads;
    w.head_dim = head_dim;
    w.v_head_dim = v_head_dim;
    return w;
  }
  if (m == Mixer::mamba2) {
    // SSD heads as the workload's heads (mamba2.cpp).
    w = for_variant(w, parse_variant("mamba2"));
    w.heads = w.kv_heads = ssm_heads;
    w.head_dim = w.v_head_dim = ssm_head_dim;
    w.set("state_dim", ssm_state);
    w.set("groups", ssm_groups);
    w.set("chunk", ssm_chunk);
    return w;
  }
  Variant v = latent_dim != 0 ? parse_variant("mla") : default_variant();
  if (m == Mixer::attention_local) v = parse_variant("sliding-window");
  w = for_variant(w, v);
  w.heads = heads;
  w.kv_heads = kv_heads;
  w.head_dim = head_dim;
  w.v_head_dim = v_head_dim;
  if (m == Mixer::attention_local) w.set("window", sliding_window);
  if (latent_dim != 0) {
    w.set("latent_dim", latent_dim);
    w.set("rope_dim", rope_dim);
  }
  return w;
}

namespace {

// The attention keys of a model that has attention layers (Llama/Mistral/Qwen2/Gemma-2 names,
// GPT-2's, DeepSeek's MLA, mamba_ssm's attn_cfg: num_heads, num_heads_kv, head_dim).
void read_attention(ModelConfig& c, const Reader& r) {
  c.heads = r.required({"num_attention_heads", "n_head", "num_heads"});
  c.kv_heads = r.count({"num_key_value_heads", "num_heads_kv"});
  if (c.kv_heads == 0) c.kv_heads = c.heads;  // Hugging Face: absent means multi-head attention
  if (c.heads % c.kv_heads != 0) {
    throw InputError(r.origin() + ": num_attention_heads " + std::to_string(c.heads) +
                     " is not divisible by num_key_value_heads " + std::to_string(c.kv_heads));
  }
  c.latent_dim = r.count({"kv_lora_rank"});
  if (c.latent_dim != 0) {
    // DeepSeek-V2 §2.1: per-head query/key width qk_nope_head_dim (+ the shared rope part),
    // value width v_head_dim, cache of kv_lora_rank + qk_rope_head_dim per token.
    c.rope_dim = r.required({"qk_rope_head_dim"});
    c.head_dim = r.required({"qk_nope_head_dim"});
    c.v_head_dim = r.required({"v_head_dim"});
    return;
  }
  c.head_dim = r.count({"head_dim", "attention_head_dim"});  // Nemotron-H: attention_head_dim
  if (c.head_dim == 0) {
    if (c.hidden_size % c.heads != 0) {
      throw InputError(r.origin() + ": hidden_size " + std::to_string(c.hidden_size) +
                       " is not divisible by num_attention_heads " + std::to_string(c.heads));
    }
    c.head_dim = c.hidden_size / c.heads;
  }
  c.v_head_dim = c.head_dim;
}

// A model without attention layers gets the attention shape of a model of matched width, so
// attention variants can be compared: heads of 128 (or 64) channels; a model narrower than 64 gets
// one head of its full width.
void matched_attention(ModelConfig& c) {
  c.heads = c.hidden_size % 128 == 0 ? c.hidden_size / 128 : std::max<std::uint64_t>(1, c.hidden_size / 64);
  c.head_dim = c.hidden_size / c.heads;
  c.kv_heads = c.heads;
  c.v_head_dim = c.head_dim;
}

std::uint64_t checked_product(const Reader& r, std::uint64_t a, std::uint64_t b, const char* what) {
  if (a != 0 && b > 1000000000000ull / a) throw InputError(r.origin() + ": " + what + " is more than 1e12 channels");
  return a * b;
}

// Mamba-1 layers (Gu & Dao 2023): D = expand x hidden channels, N states, dt rank r, conv width k.
// `state`, `expand`, ... are the key names of the format (HF Mamba, Jamba's mamba_*, mamba_ssm).
void read_mamba1(ModelConfig& c, const Reader& r, std::initializer_list<const char*> state, std::initializer_list<const char*> inner,
                 std::initializer_list<const char*> expand, std::initializer_list<const char*> conv,
                 std::initializer_list<const char*> dt_rank) {
  c.state_dim = r.required(state);
  c.d_inner = r.count(inner);
  if (c.d_inner == 0) c.d_inner = checked_product(r, r.required(expand), c.hidden_size, "expand x hidden_size");
  c.conv_kernel = r.count(conv);
  c.dt_rank = r.count(dt_rank);
}

// Mamba-2 layers (Dao & Gu 2024): H heads of P channels (H·P = expand x hidden), N states, G groups.
void read_mamba2(ModelConfig& c, const Reader& r, std::initializer_list<const char*> heads, std::initializer_list<const char*> head_dim,
                 std::initializer_list<const char*> state, std::initializer_list<const char*> groups,
                 std::initializer_list<const char*> expand, std::initializer_list<const char*> conv,
                 std::initializer_list<const char*> chunk) {
  c.ssm_head_dim = r.required(head_dim);
  c.ssm_heads = r.count(heads);
  if (c.ssm_heads == 0) {
    const std::uint64_t d = checked_product(r, r.required(expand), c.hidden_size, "expand x hidden_size");
    if (d % c.ssm_head_dim != 0) throw InputError(r.origin() + ": expand x hidden_size " + std::to_string(d) + " is not a multiple of the head dim");
    c.ssm_heads = d / c.ssm_head_dim;
  }
  c.d_inner = checked_product(r, c.ssm_heads, c.ssm_head_dim, "Mamba-2 heads x head_dim");
  c.ssm_state = r.required(state);
  c.ssm_groups = std::max<std::uint64_t>(1, r.count(groups));
  if (c.ssm_heads % c.ssm_groups != 0) {
    throw InputError(r.origin() + ": Mamba-2 heads " + std::to_string(c.ssm_heads) + " are not divisible by n_groups " +
                     std::to_string(c.ssm_groups));
  }
  c.conv_kernel = r.count(conv);
  c.ssm_chunk = std::max<std::uint64_t>(1, r.count(chunk));
}

void uniform(ModelConfig& c, Mixer m, Ffn f) { c.layout.assign(c.layers, LayerKind{m, f}); }

}  // namespace

namespace {
ModelConfig parse_layers(std::string_view text, std::string_view origin) {
  json::value root;
  try {
    root = json::parse(text);
  } catch (const std::exception& e) {
    throw InputError(std::string(origin) + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw InputError(std::string(origin) + ": top level must be a JSON object");
  const json::object& obj = root.get_object();
  const Reader r(obj, origin);

  ModelConfig c;
  c.name = std::string(origin);
  c.model_type = r.text("model_type");
  const bool mamba_ssm = obj.contains("ssm_cfg");  // mamba_ssm's own format (MambaConfig)
  c.vocab = r.count({"vocab_size"});
  if (mamba_ssm && c.vocab != 0) {
    // mamba_ssm MambaLMHeadModel pads the vocabulary to a multiple of pad_vocab_size_multiple (8).
    const std::uint64_t pad = std::max<std::uint64_t>(1, r.count({"pad_vocab_size_multiple"}) != 0 ? r.count({"pad_vocab_size_multiple"}) : 8);
    c.vocab = (c.vocab + pad - 1) / pad * pad;
  }
  c.intermediate = r.count({"intermediate_size", "n_inner"});
  std::string act = r.text("hidden_act");
  if (act.empty()) act = r.text("hidden_activation");  // Gemma-2
  if (act.empty()) act = r.text("mlp_hidden_act");     // Nemotron-H
  c.gated_mlp = act == "silu" || act == "swiglu" || act == "gelu_pytorch_tanh";  // LlamaMLP, DeepseekV2MLP, Gemma2MLP
  c.biases = c.model_type == "gpt2";
  // Hugging Face defaults when the key is absent: GPT-2, Mamba and Gemma tie, Llama-family do not.
  const bool ties = c.model_type == "gpt2" || c.model_type == "mamba" || c.model_type == "mamba2" || c.model_type == "gemma2";
  c.tied_embeddings = r.flag("tie_word_embeddings", r.flag("tie_embeddings", ties || mamba_ssm));
  c.learned_positions = c.model_type == "gpt2";
  c.q_lora_rank = r.count({"q_lora_rank"});
  c.experts = r.count({"n_routed_experts", "num_local_experts", "num_experts"});
  c.experts_per_token = r.count({"num_experts_per_tok"});
  c.shared_experts = r.count({"n_shared_experts"});
  c.moe_intermediate = r.count({"moe_intermediate_size"});
  c.first_dense_layers = r.count({"first_k_dense_replace"});
  c.moe_layer_freq = std::max<std::uint64_t>(1, r.count({"moe_layer_freq"}));
  if (c.experts != 0 && c.experts_per_token == 0) throw InputError(r.origin() + ": missing key 'num_experts_per_tok'");
  c.layers = r.required({"num_hidden_layers", "n_layer"});
  if (c.layers > 100000) throw InputError(r.origin() + ": num_hidden_layers " + std::to_string(c.layers) + " is more than 100000");
  c.max_positions = r.count({"max_position_embeddings", "n_positions"});
  const std::string torch_dtype = r.text("torch_dtype");
  c.dtype = torch_dtype == "float16" ? Dtype::fp16 : torch_dtype == "float32" ? Dtype::fp32 : Dtype::bf16;
  if (const json::value* q = obj.if_contains("quantization_config"); q && q->is_object()) {
    const json::value* m = q->get_object().if_contains("quant_method");
    c.fp8_weights = m && m->is_string() && m->get_string() == "fp8";
  }
  c.hidden_size = r.required({"hidden_size", "n_embd", "d_model"});
  const Ffn moe_or_dense = c.experts != 0 ? Ffn::moe : Ffn::dense;

  if (c.model_type == "nemotron_h" || obj.contains("hybrid_override_pattern")) {
    // Nemotron-H (NVIDIA 2025; transformers configuration_nemotron_h.py): one block per layer,
    // named by hybrid_override_pattern: M Mamba-2, * attention, - MLP.
    const std::string pattern = r.text("hybrid_override_pattern");
    if (pattern.empty()) throw InputError(r.origin() + ": missing key 'hybrid_override_pattern'");
    if (pattern.size() != c.layers) {
      throw InputError(r.origin() + ": hybrid_override_pattern has " + std::to_string(pattern.size()) + " layers, num_hidden_layers " +
                       std::to_string(c.layers));
    }
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      const char ch = pattern[i];
      if (ch == 'M') c.layout.push_back({Mixer::mamba2, Ffn::none});
      else if (ch == '*') c.layout.push_back({Mixer::attention, Ffn::none});
      else if (ch == '-') c.layout.push_back({Mixer::none, Ffn::dense});
      else {
        throw InputError(r.origin() + ": hybrid_override_pattern names an unknown layer '" + std::string(1, ch) + "' at position " +
                         std::to_string(i) + " (known: M Mamba-2, * attention, - MLP)");
      }
    }
    c.norms_per_layer = 1;
    read_mamba2(c, r, {"mamba_num_heads"}, {"mamba_head_dim"}, {"ssm_state_size"}, {"n_groups"}, {"expand"}, {"conv_kernel"},
                {"chunk_size"});
    if (c.count(Mixer::attention) != 0) read_attention(c, r);
    else matched_attention(c);
    return c;
  }

  if (c.model_type == "jamba" || obj.contains("attn_layer_period")) {
    // Jamba (Lieber et al. 2024 §2; transformers configuration_jamba.py): layer i is attention
    // when i % attn_layer_period == attn_layer_offset, else Mamba; its MLP is MoE when
    // i % expert_layer_period == expert_layer_offset.
    const std::uint64_t ap = r.required({"attn_layer_period"}), ep = r.required({"expert_layer_period"});
    const json::value* ao_v = obj.if_contains("attn_layer_offset");
    const json::value* eo_v = obj.if_contains("expert_layer_offset");
    if (!ao_v || !ao_v->is_int64() || ao_v->get_int64() < 0 || static_cast<std::uint64_t>(ao_v->get_int64()) >= ap) {
      throw InputError(r.origin() + ": key 'attn_layer_offset' must be a whole number below attn_layer_period");
    }
    if (!eo_v || !eo_v->is_int64() || eo_v->get_int64() < 0 || static_cast<std::uint64_t>(eo_v->get_int64()) >= ep) {
      throw InputError(r.origin() + ": key 'expert_layer_offset' must be a whole number below expert_layer_period");
    }
    const auto ao = static_cast<std::uint64_t>(ao_v->get_int64()), eo = static_cast<std::uint64_t>(eo_v->get_int64());
    for (std::uint64_t i = 0; i < c.layers; ++i) {
      c.layout.push_back({i % ap == ao ? Mixer::attention : Mixer::mamba, i % ep == eo && c.experts != 0 ? Ffn::moe : Ffn::dense});
    }
    read_mamba1(c, r, {"mamba_d_state"}, {}, {"mamba_expand"}, {"mamba_d_conv"}, {"mamba_dt_rank"});
    c.mamba_norms = true;  // JambaMambaMixer: dt_layernorm, b_layernorm, c_layernorm
    c.gated_mlp = true;    // JambaMLP: gate, up, down (hidden_act silu)
    read_attention(c, r);
    return c;
  }

  if (mamba_ssm) {
    // mamba_ssm's MambaConfig (state-spaces/mamba, mamba_ssm/models/config_mamba.py): ssm_cfg names
    // the layer ("Mamba1" when absent) and overrides the Mamba/Mamba2 constructors' defaults;
    // attn_layer_idx lists attention layers (attn_cfg: num_heads, num_heads_kv, head_dim);
    // d_intermediate > 0 adds a GatedMLP to every layer.
    const json::value* ssm_v = obj.if_contains("ssm_cfg");
    if (!ssm_v->is_object()) throw InputError(r.origin() + ": key 'ssm_cfg' must be an object");
    const Reader ssm(ssm_v->get_object(), origin);
    const std::string layer = ssm.text("layer").empty() ? std::string("Mamba1") : ssm.text("layer");
    if (layer != "Mamba1" && layer != "Mamba2") {
      throw InputError(r.origin() + ": ssm_cfg layer '" + layer + "' is not Mamba1 or Mamba2");
    }
    std::uint64_t d_intermediate = 0;
    if (const json::value* v = obj.if_contains("d_intermediate"); v && !(v->is_int64() && v->get_int64() == 0)) {
      d_intermediate = r.count({"d_intermediate"});
    }
    c.intermediate = d_intermediate;
    c.gated_mlp = true;  // mamba_ssm/modules/mlp.py GatedMLP
    const Mixer m = layer == "Mamba2" ? Mixer::mamba2 : Mixer::mamba;
    uniform(c, m, d_intermediate != 0 ? Ffn::dense : Ffn::none);
    // Defaults of mamba_ssm/modules/mamba_simple.py Mamba (d_state 16, d_conv 4, expand 2, dt_rank
    // ceil(d_model / 16)) and mamba2.py Mamba2 (d_state 128, d_conv 4, expand 2, headdim 64,
    // ngroups 1, chunk_size 256), where ssm_cfg does not set them.
    auto or_default = [&](const char* key, std::uint64_t d) { const std::uint64_t v = ssm.count({key}); return v != 0 ? v : d; };
    if (m == Mixer::mamba) {
      c.state_dim = or_default("d_state", 16);
      c.d_inner = checked_product(r, or_default("expand", 2), c.hidden_size, "expand x d_model");
      c.conv_kernel = or_default("d_conv", 4);
      c.dt_rank = ssm.count({"dt_rank"});
    } else {
      c.ssm_head_dim = or_default("headdim", 64);
      const std::uint64_t d = checked_product(r, or_default("expand", 2), c.hidden_size, "expand x d_model");
      if (d % c.ssm_head_dim != 0) throw InputError(r.origin() + ": expand x d_model is not a multiple of ssm_cfg headdim");
      c.ssm_heads = d / c.ssm_head_dim;
      c.d_inner = d;
      c.ssm_state = or_default("d_state", 128);
      c.ssm_groups = or_default("ngroups", 1);
      c.conv_kernel = or_default("d_conv", 4);
      c.ssm_chunk = or_default("chunk_size", 256);
      if (c.ssm_heads % c.ssm_groups != 0) throw InputError(r.origin() + ": Mamba-2 heads are not divisible by ssm_cfg ngroups");
    }
    c.norms_per_layer = d_intermediate != 0 ? 2 : 1;  // mamba_ssm Block: norm (and norm2 before the MLP)
    if (const json::value* idx = obj.if_contains("attn_layer_idx"); idx && !idx->is_null()) {
      if (!idx->is_array()) throw InputError(r.origin() + ": key 'attn_layer_idx' must be a list of layer numbers");
      for (const json::value& v : idx->get_array()) {
        if (!v.is_int64() || v.get_int64() < 0 || static_cast<std::uint64_t>(v.get_int64()) >= c.layers) {
          throw InputError(r.origin() + ": attn_layer_idx holds " + json::serialize(v) + ", not a layer below n_layer");
        }
        c.layout[static_cast<std::size_t>(v.get_int64())].mixer = Mixer::attention;
      }
    }
    if (c.count(Mixer::attention) != 0) {
      const json::value* a = obj.if_contains("attn_cfg");
      if (!a || !a->is_object()) throw InputError(r.origin() + ": attn_layer_idx needs an 'attn_cfg' object");
      const Reader ar(a->get_object(), origin);
      read_attention(c, ar);
    } else {
      matched_attention(c);
    }
    return c;
  }

  if (c.model_type == "mamba2") {
    // transformers Mamba2Config (configuration_mamba2.py).
    read_mamba2(c, r, {"num_heads"}, {"head_dim"}, {"state_size"}, {"n_groups"}, {"expand"}, {"conv_kernel"}, {"chunk_size"});
    uniform(c, Mixer::mamba2, Ffn::none);
    c.norms_per_layer = 1;
    matched_attention(c);
    return c;
  }

  if (r.count({"state_size"}) != 0 || c.model_type == "mamba") {
    // Mamba (Gu & Dao 2023; transformers MambaConfig): D = intermediate_size (or expand x hidden).
    read_mamba1(c, r, {"state_size", "d_state"}, {"intermediate_size", "d_inner"}, {"expand"}, {"conv_kernel", "d_conv"},
                {"time_step_rank"});
    uniform(c, Mixer::mamba, Ffn::none);
    c.norms_per_layer = 1;
    matched_attention(c);
    return c;
  }

  read_attention(c, r);
  uniform(c, Mixer::attention, moe_or_dense);
  if (c.experts != 0) {
    // DeepSeek: dense MLPs in the first first_k_dense_replace layers, then MoE every moe_layer_freq-th.
    for (std::uint64_t l = 0; l < c.layers; ++l) {
      c.layout[l].ffn = l >= c.first_dense_layers && l % c.moe_layer_freq == 0 ? Ffn::moe : Ffn::dense;
    }
  }
  if (c.model_type == "gemma2") c.norms_per_layer = 4;  // Gemma2DecoderLayer: input, post-attention, pre- and post-feedforward
  c.sliding_window = c.latent_dim != 0 ? 0 : r.count({"sliding_window"});
  if (c.sliding_window != 0 && !r.flag("use_sliding_window", true)) c.sliding_window = 0;  // Qwen2: window off
  if (c.sliding_window != 0) {
    for (std::uint64_t l = 0; l < c.layers; ++l) {
      bool local = true;
      // Gemma-2 (modeling_gemma2.py Gemma2DecoderLayer: is_sliding = not bool(layer_idx % 2)):
      // even layers local, odd layers global.
      if (c.model_type == "gemma2") local = l % 2 == 0;
      // Qwen2 (modeling_qwen2.py): with use_sliding_window, layers from max_window_layers on.
      else if (const std::uint64_t from = r.count({"max_window_layers"}); from != 0 && obj.contains("use_sliding_window")) local = l >= from;
      if (local) c.layout[l].mixer = Mixer::attention_local;
    }
  }
  return c;
}
}  // namespace

ModelConfig parse_hf_config(std::string_view text, std::string_view origin) {
  ModelConfig c = parse_layers(text, origin);
  c.native_variant = c.apply(Workload{}).variant;
  return c;
}

// Parameters, layer by layer as the modeling files build them:
//   LlamaModel/MistralModel/Qwen2Model (modeling_llama.py): embed_tokens V·h; per layer q_proj
//     h·H·d, k_proj and v_proj h·Hkv·d (Qwen2: with biases H·d + 2·Hkv·d), o_proj H·d·h,
//     gate/up/down h·I each, two RMSNorms h; final norm h; lm_head h·V unless tied. Gemma2Model
//     the same with four norms per layer.
//   DeepseekV2/V3 (modeling_deepseek.py): MLA q_a_proj h·q_lora + q_a_layernorm, q_b_proj
//     q_lora·H·(d_nope + d_rope), kv_a_proj_with_mqa h·(d_c + d_rope) + kv_a_layernorm d_c, kv_b_proj
//     d_c·H·(d_nope + d_v), o_proj H·d_v·h; the first first_k_dense_replace layers a dense MLP of
//     intermediate_size, the others (every moe_layer_freq-th) n_routed_experts experts and
//     n_shared_experts shared ones of moe_intermediate_size (3 projections each) and a router h·E.
//   GPT2Model (modeling_gpt2.py): wte V·h, wpe P·h; per layer c_attn h·3h + 3h, c_proj h·h + h, c_fc
//     h·4h + 4h, c_proj 4h·h + h, ln_1 and ln_2 2h; ln_f 2h; lm_head tied.
//   MambaModel (modeling_mamba.py) and Jamba's Mamba layers: in_proj h·2D, conv1d D·k (+ D bias),
//     x_proj D·(r + 2N), dt_proj r·D + D, A_log D·N, D, out_proj D·h (Jamba: + RMSNorms r, N, N).
//   Mamba2 (mamba_ssm/modules/mamba2.py, transformers Mamba2Mixer, NemotronHMamba2Mixer): in_proj
//     h·(2D + 2GN + H), conv1d over D + 2GN channels, width k, with bias; dt_bias, A_log, D: H each;
//     the gated RMSNorm D; out_proj D·h.
//   Nemotron-H's MLP (NemotronHMLP, relu²): up h·I, down I·h.
ParamCount count_params(const ModelConfig& c) {
  ParamCount p;
  const double h = static_cast<double>(c.hidden_size), V = static_cast<double>(c.vocab);
  p.embeddings = V * h + (c.learned_positions ? static_cast<double>(c.max_positions) * h : 0.0);
  p.lm_head = c.tied_embeddings ? 0.0 : V * h;
  const double norm = c.biases ? 2 * h : h;
  p.norms = static_cast<double>(c.layers * c.norms_per_layer) * norm + norm;
  if (c.count(Mixer::mamba) != 0) {
    const double D = static_cast<double>(c.d_inner), N = static_cast<double>(c.state_dim);
    const double r = static_cast<double>(c.dt_rank != 0 ? c.dt_rank : (c.hidden_size + 15) / 16);
    const double k = static_cast<double>(c.conv_kernel != 0 ? c.conv_kernel : 4);
    p.mamba_layer = h * 2 * D + D * k + D + D * (r + 2 * N) + r * D + D + D * N + D + D * h + (c.mamba_norms ? r + 2 * N : 0.0);
  }
  if (c.count(Mixer::mamba2) != 0) {
    const double D = static_cast<double>(c.d_inner), N = static_cast<double>(c.ssm_state), G = static_cast<double>(c.ssm_groups),
                 H = static_cast<double>(c.ssm_heads);
    const double k = static_cast<double>(c.conv_kernel != 0 ? c.conv_kernel : 4);
    const double conv = D + 2 * G * N;
    p.mamba2_layer = h * (2 * D + 2 * G * N + H) + conv * k + conv + 3 * H + D + D * h;
  }
  p.mamba = static_cast<double>(c.count(Mixer::mamba)) * p.mamba_layer + static_cast<double>(c.count(Mixer::mamba2)) * p.mamba2_layer;
  const std::uint64_t attn_layers = c.count(Mixer::attention) + c.count(Mixer::attention_local);
  if (attn_layers != 0) {
    const double H = static_cast<double>(c.heads), Hkv = static_cast<double>(c.kv_heads), d = static_cast<double>(c.head_dim),
                 dv = static_cast<double>(c.v_head_dim);
    if (c.latent_dim != 0) {
      const double dc = static_cast<double>(c.latent_dim), dr = static_cast<double>(c.rope_dim);
      const double q = c.q_lora_rank != 0 ? h * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * H * (d + dr) : h * H * (d + dr);
      p.attention_layer = q + h * (dc + dr) + dc + dc * H * (d + dv) + H * dv * h;
    } else {
      const bool qkv_bias = c.biases || c.model_type == "qwen2";  // Qwen2Attention: q/k/v_proj bias=True
      p.attention_layer = h * H * d + 2 * h * Hkv * d + H * dv * h + (qkv_bias ? H * d + 2 * Hkv * d : 0.0) + (c.biases ? h : 0.0);
    }
  }
  p.attention = static_cast<double>(attn_layers) * p.attention_layer;
  const double I = static_cast<double>(c.intermediate != 0 ? c.intermediate : 4 * c.hidden_size);
  p.dense_mlp_layer = c.gated_mlp ? 3 * h * I : 2 * h * I + (c.biases ? I + h : 0.0);
  const std::uint64_t moe_layers = c.count(Ffn::moe);
  p.mlp = static_cast<double>(c.count(Ffn::dense)) * p.dense_mlp_layer;
  const double Im = static_cast<double>(c.moe_intermediate != 0 ? c.moe_intermediate : c.intermediate);
  p.expert = 3 * h * Im;
  p.experts_routed = static_cast<double>(moe_layers) * static_cast<double>(c.experts) * p.expert;
  p.experts_shared = static_cast<double>(moe_layers) * static_cast<double>(c.shared_experts) * p.expert;
  p.router = static_cast<double>(moe_layers) * h * static_cast<double>(c.experts);
  p.active = p.total() - p.experts_routed + static_cast<double>(moe_layers) * static_cast<double>(c.experts_per_token) * p.expert;
  if (moe_layers == 0) p.expert = 0;
  return p;
}

std::string layout_summary(const ModelConfig& c) {
  std::string mixers, ffns;
  for (Mixer m : {Mixer::attention, Mixer::attention_local, Mixer::mamba, Mixer::mamba2}) {
    if (c.count(m) != 0) mixers += (mixers.empty() ? "" : ", ") + std::to_string(c.count(m)) + " " + std::string(to_string(m));
  }
  if (c.count(Ffn::dense) != 0) ffns += std::to_string(c.count(Ffn::dense)) + " dense MLP";
  if (c.count(Ffn::moe) != 0) ffns += (ffns.empty() ? "" : ", ") + std::to_string(c.count(Ffn::moe)) + " MoE";
  return mixers + (ffns.empty() ? std::string() : "; " + ffns);
}

double expected_experts(std::uint64_t experts, std::uint64_t k, std::uint64_t tokens) {
  if (experts == 0) return 0;
  const double E = static_cast<double>(experts);
  return E * (1.0 - std::pow(1.0 - static_cast<double>(std::min(k, experts)) / E, static_cast<double>(tokens)));
}

double decode_weight_bytes(const ModelConfig& c, std::uint64_t batch, Dtype dtype) {
  const ParamCount p = count_params(c);
  const double per_expert = c.experts == 0 ? 0.0 : p.experts_routed / static_cast<double>(c.experts);
  // Embedding rows of B tokens only; every other weight once; routed experts the batch touches.
  const double dense = p.total() - p.experts_routed - p.embeddings + static_cast<double>(batch) * c.hidden_size;
  return (dense + per_expert * expected_experts(c.experts, c.experts_per_token, batch)) * static_cast<double>(dtype_bytes(dtype));
}

ModelConfig load_hf_config(const std::string& path) {
  return parse_hf_config(read_input_file(path, "config file", 16u << 20), "config file '" + path + "'");
}

const std::vector<ShippedConfig>& shipped_configs() {
  static const std::vector<ShippedConfig> configs = {
      {"llama-3-8b", "Meta Llama 3 8B: 32 layers, GQA 32/8 heads of 128", kLlama3_8b},
      {"mistral-7b", "Mistral 7B v0.1: 32 layers, GQA 32/8, sliding window 4096", kMistral7b},
      {"deepseek-v2", "DeepSeek-V2: 60 layers, MLA with 128 heads, latent 512 + rope 64", kDeepseekV2},
      {"gpt2-medium", "GPT-2 medium: 24 layers, 16 heads of 64", kGpt2Medium},
      {"mamba-2.8b", "Mamba 2.8B: 64 layers, D = 5120 channels, state 16", kMamba2_8b},
      {"mixtral-8x7b", "Mixtral 8x7B v0.1: 32 layers, GQA 32/8, 8 experts of 14336, 2 per token", kMixtral8x7b},
      {"llama-3-70b", "Meta Llama 3 70B: 80 layers, GQA 64/8 heads of 128", kLlama3_70b},
      {"qwen2-7b", "Qwen2 7B: 28 layers, GQA 28/4 heads of 128, q/k/v biases", kQwen2_7b},
      {"gemma-2-9b", "Gemma 2 9B: 42 layers alternating sliding-window 4096 and global, GQA 16/8 heads of 256", kGemma2_9b},
      {"deepseek-v3", "DeepSeek-V3: 61 layers, MLA 128 heads, 256 experts (8 per token) + 1 shared, fp8 weights", kDeepseekV3},
      {"mamba2-2.7b", "Mamba-2 2.7B: 64 SSD layers, 80 heads of 64, state 128 (mamba_ssm format)", kMamba2_2_7b},
      {"jamba-v0.1", "Jamba v0.1: 32 layers, attention 1 in 8 (GQA 32/8), Mamba otherwise, MoE 16 experts every other layer", kJambaV01},
      {"nemotron-h-8b", "Nemotron-H 8B: 52 layers, 24 Mamba-2, 4 attention, 24 MLP (hybrid_override_pattern)", kNemotronH8b},
      {"gpt2", "GPT-2 small: 12 layers, 12 heads of 64", kGpt2},
  };
  return configs;
}

ModelConfig find_config(const std::string& name_or_path) {
  for (const auto& c : shipped_configs()) {
    if (c.name == name_or_path) {
      ModelConfig m = parse_hf_config(c.json, c.name);
      m.name = std::string(c.name);
      return m;
    }
  }
  ModelConfig m = load_hf_config(name_or_path);
  m.name = name_or_path;  // what find_config takes back (the GUI's selectors key on it)
  return m;
}

}  // namespace attnio
