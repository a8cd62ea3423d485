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

  // The rest of the stack, for parameter and weight counts (0 where the config has no such part).
  std::uint64_t vocab = 0;
  std::uint64_t intermediate = 0;       // dense MLP width
  bool gated_mlp = false;               // SwiGLU/GeGLU: gate, up and down projections
  bool biases = false;                  // GPT-2: every linear and norm has a bias
  bool tied_embeddings = false;         // the LM head reuses the embedding matrix
  bool learned_positions = false;       // GPT-2's position embedding table
  std::uint64_t q_lora_rank = 0;        // DeepSeek-V2: low-rank query projection
  std::uint64_t experts = 0, experts_per_token = 0, shared_experts = 0, moe_intermediate = 0;
  std::uint64_t first_dense_layers = 0, moe_layer_freq = 1;
  std::uint64_t conv_kernel = 0, dt_rank = 0;  // Mamba


  // The workload of one layer of this model, on top of `base` (batch, seq, phase... kept).
  Workload apply(Workload base) const;
};

// Parameters of a model, counted from its config the way its Hugging Face modeling file builds the
// layers (docs/model.md "Whole models"): total, and active per token (MoE: the routed experts a
// token uses, the shared experts and the router; everything else always).
struct ParamCount {
  double embeddings = 0, attention = 0, mlp = 0, experts_routed = 0, experts_shared = 0, router = 0, mamba = 0,
         norms = 0, lm_head = 0;
  double total() const { return embeddings + attention + mlp + experts_routed + experts_shared + router + mamba + norms + lm_head; }
  double active = 0;  // per token
};
ParamCount count_params(const ModelConfig& c);
// Expected distinct experts that a batch of `tokens` tokens touches when each picks k of E
// uniformly: E (1 - (1 - k/E)^B), so the expert weights read per decode step grow with the batch
// until every expert is read (balls into bins; real routers are less uniform).
double expected_experts(std::uint64_t experts, std::uint64_t k, std::uint64_t tokens);
// Weight bytes read in one decode step of `batch` tokens: every dense weight once, and the routed
// experts the batch touches.
double decode_weight_bytes(const ModelConfig& c, std::uint64_t batch, Dtype dtype);

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
