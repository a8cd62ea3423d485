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
