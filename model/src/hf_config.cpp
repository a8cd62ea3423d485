#include "attnio/model/hf_config.hpp"

#include <boost/json.hpp>

#include <algorithm>
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

Workload ModelConfig::apply(Workload w) const {
  w = for_variant(w, native_variant);
  w.layers = layers;
  w.dtype = dtype;
  if (native_variant.is("mamba")) {
    w.set("d_inner", d_inner);
    w.set("state_dim", state_dim);
    w.heads = heads;
    w.kv_heads = kv_heads;
    w.head_dim = head_dim;
    w.v_head_dim = v_head_dim;
    return w;
  }
  w.heads = heads;
  w.kv_heads = kv_heads;
  w.head_dim = head_dim;
  w.v_head_dim = v_head_dim;
  if (sliding_window != 0) w.set("window", sliding_window);
  if (latent_dim != 0) {
    w.set("latent_dim", latent_dim);
    w.set("rope_dim", rope_dim);
  }
  return w;
}

ModelConfig parse_hf_config(std::string_view text, std::string_view origin) {
  json::value root;
  try {
    root = json::parse(text);
  } catch (const std::exception& e) {
    throw InputError(std::string(origin) + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw InputError(std::string(origin) + ": top level must be a JSON object");
  const Reader r(root.get_object(), origin);

  ModelConfig c;
  c.name = std::string(origin);
  c.model_type = r.text("model_type");
  c.vocab = r.count({"vocab_size"});
  c.intermediate = r.count({"intermediate_size", "n_inner"});
  const std::string act = r.text("hidden_act");
  c.gated_mlp = act == "silu" || act == "swiglu" || act == "gelu_pytorch_tanh";  // LlamaMLP, DeepseekV2MLP, GemmaMLP
  c.biases = c.model_type == "gpt2";
  // Hugging Face defaults when the key is absent: GPT-2 and Mamba tie, Llama-family do not.
  c.tied_embeddings = r.flag("tie_word_embeddings", c.model_type == "gpt2" || c.model_type == "mamba");
  c.learned_positions = c.model_type == "gpt2";
  c.q_lora_rank = r.count({"q_lora_rank"});
  c.experts = r.count({"n_routed_experts", "num_local_experts"});
  c.experts_per_token = r.count({"num_experts_per_tok"});
  c.shared_experts = r.count({"n_shared_experts"});
  c.moe_intermediate = r.count({"moe_intermediate_size"});
  c.first_dense_layers = r.count({"first_k_dense_replace"});
  c.moe_layer_freq = std::max<std::uint64_t>(1, r.count({"moe_layer_freq"}));
  c.conv_kernel = r.count({"conv_kernel", "d_conv"});
  c.dt_rank = r.count({"time_step_rank"});
  if (c.experts != 0 && c.experts_per_token == 0) throw InputError(r.origin() + ": missing key 'num_experts_per_tok'");
  c.layers = r.required({"num_hidden_layers", "n_layer"});
  c.max_positions = r.count({"max_position_embeddings", "n_positions"});
  const std::string torch_dtype = r.text("torch_dtype");
  c.dtype = torch_dtype == "float16" ? Dtype::fp16 : torch_dtype == "float32" ? Dtype::fp32 : Dtype::bf16;

  if (r.count({"state_size"}) != 0 || c.model_type == "mamba") {
    // Mamba (Gu & Dao 2023): D = expand x hidden_size channels, N = state_size.
    c.native_variant = parse_variant("mamba");
    c.hidden_size = r.required({"hidden_size", "d_model"});
    c.state_dim = r.required({"state_size", "d_state"});
    c.d_inner = r.count({"intermediate_size", "d_inner"});
    if (c.d_inner == 0) {
      const std::uint64_t expand = r.required({"expand"});
      if (expand > 1000000000000ull / c.hidden_size) {
        throw InputError(r.origin() + ": expand x hidden_size is more than 1e12 channels");
      }
      c.d_inner = expand * c.hidden_size;
    }
    // The attention shape of a model of matched width, so attention variants can be compared: heads
    // of 128 (or 64) channels; a model narrower than 64 gets one head of its full width.
    c.heads = c.hidden_size % 128 == 0 ? c.hidden_size / 128 : std::max<std::uint64_t>(1, c.hidden_size / 64);
    c.head_dim = c.hidden_size / c.heads;
    c.kv_heads = c.heads;
    c.v_head_dim = c.head_dim;
    return c;
  }

  c.heads = r.required({"num_attention_heads", "n_head"});
  c.hidden_size = r.required({"hidden_size", "n_embd", "d_model"});
  c.kv_heads = r.count({"num_key_value_heads"});
  if (c.kv_heads == 0) c.kv_heads = c.heads;  // Hugging Face: absent means multi-head attention
  if (c.heads % c.kv_heads != 0) {
    throw InputError(r.origin() + ": num_attention_heads " + std::to_string(c.heads) +
                     " is not divisible by num_key_value_heads " + std::to_string(c.kv_heads));
  }
  c.latent_dim = r.count({"kv_lora_rank"});
  if (c.latent_dim != 0) {
    // DeepSeek-V2 §2.1: per-head query/key width qk_nope_head_dim (+ the shared rope part),
    // value width v_head_dim, cache of kv_lora_rank + qk_rope_head_dim per token.
    c.native_variant = parse_variant("mla");
    c.rope_dim = r.required({"qk_rope_head_dim"});
    c.head_dim = r.required({"qk_nope_head_dim"});
    c.v_head_dim = r.required({"v_head_dim"});
    return c;
  }
  c.head_dim = r.count({"head_dim"});
  if (c.head_dim == 0) {
    if (c.hidden_size % c.heads != 0) {
      throw InputError(r.origin() + ": hidden_size " + std::to_string(c.hidden_size) +
                       " is not divisible by num_attention_heads " + std::to_string(c.heads));
    }
    c.head_dim = c.hidden_size / c.heads;
  }
  c.v_head_dim = c.head_dim;
  c.sliding_window = r.count({"sliding_window"});
  if (c.sliding_window != 0) c.native_variant = parse_variant("sliding-window");
  return c;
}

// Parameter counts, layer by layer as the Hugging Face modeling files build them:
//   LlamaModel/MistralModel (modeling_llama.py): embed_tokens V·h; per layer q_proj h·H·d, k_proj and
//     v_proj h·Hkv·d, o_proj H·d·h, gate/up/down h·I each, two RMSNorms h; final norm h; lm_head h·V
//     unless tied.
//   DeepseekV2 (modeling_deepseek.py): MLA q_a_proj h·q_lora + q_a_layernorm, q_b_proj
//     q_lora·H·(d_nope + d_rope), kv_a_proj_with_mqa h·(d_c + d_rope) + kv_a_layernorm d_c, kv_b_proj
//     d_c·H·(d_nope + d_v), o_proj H·d_v·h; the first first_k_dense_replace layers a dense MLP of
//     intermediate_size, the others (every moe_layer_freq-th) n_routed_experts experts and
//     n_shared_experts shared ones of moe_intermediate_size (3 projections each) and a router h·E.
//   GPT2Model (modeling_gpt2.py): wte V·h, wpe P·h; per layer c_attn h·3h + 3h, c_proj h·h + h, c_fc
//     h·4h + 4h, c_proj 4h·h + h, ln_1 and ln_2 2h; ln_f 2h; lm_head tied.
//   MambaModel (modeling_mamba.py): embeddings V·h; per layer in_proj h·2D, conv1d D·k (+ D bias),
//     x_proj D·(r + 2N), dt_proj r·D + D, A_log D·N, D, out_proj D·h, norm h; norm_f h; tied head.
ParamCount count_params(const ModelConfig& c) {
  ParamCount p;
  const double h = static_cast<double>(c.hidden_size), L = static_cast<double>(c.layers), V = static_cast<double>(c.vocab);
  p.embeddings = V * h + (c.learned_positions ? static_cast<double>(c.max_positions) * h : 0.0);
  p.lm_head = c.tied_embeddings ? 0.0 : V * h;
  const double norm = c.biases ? 2 * h : h;
  if (c.native_variant.is("mamba")) {
    const double D = static_cast<double>(c.d_inner), N = static_cast<double>(c.state_dim);
    const double r = static_cast<double>(c.dt_rank != 0 ? c.dt_rank : (c.hidden_size + 15) / 16);
    const double k = static_cast<double>(c.conv_kernel != 0 ? c.conv_kernel : 4);
    p.mamba = L * (h * 2 * D + D * k + D + D * (r + 2 * N) + r * D + D + D * N + D + D * h);
    p.norms = L * h + h;
    p.active = p.total();
    return p;
  }
  const double H = static_cast<double>(c.heads), Hkv = static_cast<double>(c.kv_heads), d = static_cast<double>(c.head_dim),
               dv = static_cast<double>(c.v_head_dim);
  double attn = 0;
  if (c.latent_dim != 0) {
    const double dc = static_cast<double>(c.latent_dim), dr = static_cast<double>(c.rope_dim);
    const double q = c.q_lora_rank != 0 ? h * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * H * (d + dr) : h * H * (d + dr);
    attn = q + h * (dc + dr) + dc + dc * H * (d + dv) + H * dv * h;
  } else {
    attn = h * H * d + 2 * h * Hkv * d + H * dv * h + (c.biases ? H * d + 2 * Hkv * d + h : 0.0);
  }
  p.attention = L * attn;
  p.norms = L * 2 * norm + norm;
  const double I = static_cast<double>(c.intermediate != 0 ? c.intermediate : 4 * c.hidden_size);
  const double mlp_one = c.gated_mlp ? 3 * h * I : 2 * h * I + (c.biases ? I + h : 0.0);
  std::uint64_t moe_layers = 0;
  if (c.experts != 0) {
    for (std::uint64_t l = c.first_dense_layers; l < c.layers; ++l) moe_layers += (l % c.moe_layer_freq == 0) ? 1 : 0;
  }
  p.mlp = static_cast<double>(c.layers - moe_layers) * mlp_one;
  const double Im = static_cast<double>(c.moe_intermediate != 0 ? c.moe_intermediate : c.intermediate);
  const double expert = 3 * h * Im;
  p.experts_routed = static_cast<double>(moe_layers) * static_cast<double>(c.experts) * expert;
  p.experts_shared = static_cast<double>(moe_layers) * static_cast<double>(c.shared_experts) * expert;
  p.router = static_cast<double>(moe_layers) * h * static_cast<double>(c.experts);
  p.active = p.total() - p.experts_routed +
             static_cast<double>(moe_layers) * static_cast<double>(c.experts_per_token) * expert;
  return p;
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
  return load_hf_config(name_or_path);
}

}  // namespace attnio
