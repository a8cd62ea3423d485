// Import of Hugging Face `config.json` files: the attention shape of a model, mapped onto a
// Workload. Understands the Llama/Mistral names (num_attention_heads, num_key_value_heads,
// head_dim, hidden_size, num_hidden_layers, sliding_window), GPT-2's (n_head, n_embd, n_layer,
// n_positions), DeepSeek-V2's MLA keys (kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim,
// v_head_dim) and Mamba's (state_size, intermediate_size or expand).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attnio/model/workload.hpp"

namespace attnio {

struct ModelConfig {
  std::string name;  // shipped name or the file path
  std::string model_type;
  Variant native_variant = default_variant();  // what the model's own attention is
  std::uint64_t layers = 0;
  std::uint64_t hidden_size = 0;
  std::uint64_t heads = 0, kv_heads = 0, head_dim = 0, v_head_dim = 0;
  std::uint64_t sliding_window = 0;  // 0: none
  std::uint64_t latent_dim = 0, rope_dim = 0;  // MLA
  std::uint64_t state_dim = 0, d_inner = 0;    // Mamba
  std::uint64_t max_positions = 0;             // 0: not given
  Dtype dtype = Dtype::bf16;

  // The workload of one layer of this model, on top of `base` (batch, seq, phase... kept).
  Workload apply(Workload base) const;
};

// Throws InputError naming the file and the bad or missing key.
ModelConfig parse_hf_config(std::string_view json_text, std::string_view origin);
ModelConfig load_hf_config(const std::string& path);

struct ShippedConfig {
  std::string_view name;
  std::string_view description;
  std::string_view json;
};
// Configs built into the binary (model/configs/*.json).
const std::vector<ShippedConfig>& shipped_configs();
// A shipped name or a path to a config.json.
ModelConfig find_config(const std::string& name_or_path);

}  // namespace attnio
