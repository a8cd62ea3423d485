// Import of Hugging Face `config.json` files: a model's layers (which token mixer and which MLP each
// layer has), their shapes, and the mixers' workloads. Understands the Llama/Mistral/Qwen2 names
// (num_attention_heads, num_key_value_heads, head_dim, hidden_size, num_hidden_layers,
// sliding_window, use_sliding_window), Gemma-2's alternating local/global layers, GPT-2's (n_head,
// n_embd, n_layer, n_positions), DeepSeek-V2/V3's MLA and MoE keys, Mixtral's experts, Mamba's
// (state_size, intermediate_size or expand), Mamba-2's (the transformers names and mamba_ssm's own
// config format with ssm_cfg and attn_layer_idx), Jamba's periods and offsets and Nemotron-H's
// hybrid_override_pattern.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attnio/model/workload.hpp"

namespace attnio {

// What one layer holds: a token mixer and a feed-forward block, either of which may be absent
// (Nemotron-H's layers are one block each; Mamba's have no MLP).
enum class Mixer : std::uint8_t { attention, attention_local, mamba, mamba2, none };
enum class Ffn : std::uint8_t { dense, moe, none };
struct LayerKind {
  Mixer mixer = Mixer::attention;
  Ffn ffn = Ffn::dense;
  bool operator==(const LayerKind&) const = default;
};
std::string_view to_string(Mixer m);

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
  bool fp8_weights = false;  // quantization_config quant_method "fp8" (DeepSeek-V3's block-scaled e4m3 weights)

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
  bool mamba_norms = false;             // Jamba: RMSNorms on dt, B and C inside the Mamba layer
  // Mamba-2 (SSD) layers: heads of ssm_head_dim channels, state_dim states, groups sharing B and C.
  std::uint64_t ssm_heads = 0, ssm_head_dim = 0, ssm_groups = 0, ssm_chunk = 0, ssm_state = 0;
  std::uint64_t norms_per_layer = 2;    // RMSNorm/LayerNorm modules per layer (Gemma-2: 4)

  // One entry per layer, in order.
  std::vector<LayerKind> layout;
  std::uint64_t count(Mixer m) const;
  std::uint64_t count(Ffn f) const;
  bool hybrid() const;  // more than one kind of mixer

  // The workload of one layer of this model's native mixer, on top of `base` (batch, seq, phase...
  // kept): the attention when the model has any, else its SSM.
  Workload apply(Workload base) const;
  // The workload of the layers with mixer `m`, layers = how many there are.
  Workload mixer_workload(Workload base, Mixer m) const;
};

// Parameters of a model, counted from its config the way its Hugging Face modeling file builds the
// layers (docs/model.md "Whole models"): total, and active per token (MoE: the routed experts a
// token uses, the shared experts and the router; everything else always).
struct ParamCount {
  double embeddings = 0, attention = 0, mlp = 0, experts_routed = 0, experts_shared = 0, router = 0, mamba = 0,
         norms = 0, lm_head = 0;
  double total() const { return embeddings + attention + mlp + experts_routed + experts_shared + router + mamba + norms + lm_head; }
  // One layer of each kind (0 where the model has none): for per-layer costs.
  double attention_layer = 0, mamba_layer = 0, mamba2_layer = 0, dense_mlp_layer = 0, expert = 0;
  double active = 0;  // per token
};
ParamCount count_params(const ModelConfig& c);
// "4 attention, 28 Mamba; 16 dense MLP, 16 MoE": the layer counts by mixer and by MLP.
std::string layout_summary(const ModelConfig& c);
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
