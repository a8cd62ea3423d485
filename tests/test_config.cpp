#include <gtest/gtest.h>

#include "attnio/model/hf_config.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/stack.hpp"

using namespace attnio;

TEST(Config, ShippedConfigsParse) {
  ASSERT_EQ(shipped_configs().size(), 14u);
  const ModelConfig llama = find_config("llama-3-8b");
  EXPECT_EQ(llama.native_variant, parse_variant("flash2"));
  EXPECT_EQ(llama.layers, 32u);
  EXPECT_EQ(llama.heads, 32u);
  EXPECT_EQ(llama.kv_heads, 8u);
  EXPECT_EQ(llama.head_dim, 128u);  // hidden 4096 / 32 heads

  const ModelConfig mistral = find_config("mistral-7b");
  EXPECT_EQ(mistral.native_variant, parse_variant("sliding-window"));
  EXPECT_EQ(mistral.sliding_window, 4096u);

  const ModelConfig ds = find_config("deepseek-v2");
  EXPECT_EQ(ds.native_variant, parse_variant("mla"));
  EXPECT_EQ(ds.latent_dim, 512u);
  EXPECT_EQ(ds.rope_dim, 64u);
  EXPECT_EQ(ds.heads, 128u);
  EXPECT_EQ(ds.layers, 60u);

  const ModelConfig gpt2 = find_config("gpt2-medium");
  EXPECT_EQ(gpt2.heads, 16u);
  EXPECT_EQ(gpt2.kv_heads, 16u);  // no num_key_value_heads: multi-head attention
  EXPECT_EQ(gpt2.head_dim, 64u);
  EXPECT_EQ(gpt2.layers, 24u);
  EXPECT_EQ(gpt2.max_positions, 1024u);

  const ModelConfig mamba = find_config("mamba-2.8b");
  EXPECT_EQ(mamba.native_variant, parse_variant("mamba"));
  EXPECT_EQ(mamba.d_inner, 5120u);
  EXPECT_EQ(mamba.state_dim, 16u);
  EXPECT_EQ(mamba.layers, 64u);
}

// Llama-3-8B keeps 2 (K and V) · 8 kv heads · 128 · 2 bytes · 32 layers = 131072 bytes per token:
// 512 MiB for 4096 tokens.
TEST(Config, Llama3KvCacheIs128KiBPerToken) {
  Workload w = find_config("llama-3-8b").apply(Workload{});
  w.seq = 4096;
  EXPECT_EQ(predict(default_device(), w).kv_cache_bytes.v, 4096u * 131072);
}

// DeepSeek-V2 §2.1.4 / Table 1: (d_c + d_h^R) = 576 elements per token per layer, 60 layers, bf16.
TEST(Config, DeepseekV2LatentCache) {
  Workload w = find_config("deepseek-v2").apply(Workload{});
  w.seq = 1000;
  EXPECT_EQ(predict(default_device(), w).kv_cache_bytes.v, 1000u * 576 * 2 * 60);
}

namespace {
// The one-line error a config gives, "" when it parses.
std::string error_of(const std::string& json) {
  try {
    parse_hf_config(json, "cfg.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, BadConfigsNameTheProblem) {
  EXPECT_NE(error_of("{oops").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"hidden_size":64,"num_attention_heads":4})").find("missing key 'num_hidden_layers'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"num_hidden_layers":2,"hidden_size":64})").find("missing key 'num_attention_heads'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"num_hidden_layers":2,"hidden_size":65,"num_attention_heads":4})").find("not divisible"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"num_key_value_heads":3})")
                .find("not divisible by num_key_value_heads"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"num_hidden_layers":2.5,"hidden_size":64,"num_attention_heads":4})").find("whole number"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"num_hidden_layers":-2,"hidden_size":64,"num_attention_heads":4})").find("whole number"),
            std::string::npos);
  EXPECT_THROW(find_config("/nonexistent/config.json"), InputError);
  // Found by fuzz_hf_config: a Mamba config narrower than 64 channels divided by zero heads.
  const ModelConfig narrow = parse_hf_config(R"({"hidden_size":4,"intermediate_size":2,"num_hidden_layers":33,"state_size":32000})", "cfg.json");
  EXPECT_EQ(narrow.heads, 1u);
  EXPECT_EQ(narrow.head_dim, 4u);
  EXPECT_NE(error_of(R"({"hidden_size":1000000,"expand":999999999999,"num_hidden_layers":1,"state_size":16})")
                .find("more than 1e12 channels"),
            std::string::npos);
}

// Parameter counts from the configs, layer by layer as the Hugging Face modeling files build them.
// Llama-3-8B: embed 128256·4096 = 525336576; per layer q, o 4096² each, k, v 4096·1024 each
// (41943040), gate/up/down 3·4096·14336 (176160768), two norms 8192; 32 layers 6979584000; final
// norm 4096; untied head 525336576: 8030261248 (the model card's 8.03 B).
TEST(Params, Llama3EightBByHand) {
  const ParamCount p = count_params(find_config("llama-3-8b"));
  EXPECT_DOUBLE_EQ(p.total(), 8030261248.0);
  EXPECT_DOUBLE_EQ(p.active, p.total());
}

// DeepSeek-V2: 236 B total, 21 B activated per token (model card; DeepSeek-V2 §1). Counted: MLA
// attention 60 x 149.3 M, one dense MLP layer, 59 MoE layers of 160 routed experts (3·5120·1536
// each), 2 shared and a router; 6 routed experts active per token.
TEST(Params, DeepSeekV2TotalAndActive) {
  const ParamCount p = count_params(find_config("deepseek-v2"));
  EXPECT_NEAR(p.total() / 236e9, 1.0, 0.02);
  EXPECT_NEAR(p.active / 21e9, 1.0, 0.05);
  EXPECT_DOUBLE_EQ(p.experts_routed, 59.0 * 160 * 3 * 5120 * 1536);
}

// Mamba 2.8B: per layer in_proj 2560·10240, conv 5120·4 + 5120, x_proj 5120·(160 + 32), dt_proj
// 160·5120 + 5120, A_log 5120·16, D 5120, out_proj 5120·2560, norm 2560 = 41244160; 64 layers,
// embeddings 50280·2560, final norm, tied head: 2768345600.
TEST(Params, Mamba28BByHand) {
  EXPECT_DOUBLE_EQ(count_params(find_config("mamba-2.8b")).total(), 2768345600.0);
}

// GPT-2 medium (355 M): wte 50257·1024 + wpe 1024·1024; per layer c_attn 1024·3072 + 3072, c_proj
// 1024² + 1024, c_fc 1024·4096 + 4096, c_proj 4096·1024 + 1024, two layer norms 4096; ln_f 2048; tied.
TEST(Params, Gpt2MediumByHand) {
  const double layer = 1024.0 * 3072 + 3072 + 1024.0 * 1024 + 1024 + 1024.0 * 4096 + 4096 + 4096.0 * 1024 + 1024 + 4096;
  EXPECT_DOUBLE_EQ(count_params(find_config("gpt2-medium")).total(), 50257.0 * 1024 + 1024.0 * 1024 + 24 * layer + 2048);
}

// E (1 - (1 - k/E)^B): one token touches k experts; 160 experts, 6 each: 2 tokens 11.775, and a
// large batch touches nearly all.
TEST(Params, ExpectedExpertsGrowWithTheBatch) {
  EXPECT_DOUBLE_EQ(expected_experts(160, 6, 1), 6.0);
  EXPECT_NEAR(expected_experts(160, 6, 2), 160 * (1 - (154.0 / 160) * (154.0 / 160)), 1e-12);
  EXPECT_GT(expected_experts(160, 6, 1024), 159.9);
  EXPECT_EQ(expected_experts(0, 0, 8), 0.0);
  // Decode weights at batch 1 are the active parameters (less the embedding table, of which one row
  // is read), in bf16.
  const ModelConfig ds = find_config("deepseek-v2");
  const ParamCount p = count_params(ds);
  EXPECT_NEAR(decode_weight_bytes(ds, 1, Dtype::bf16), 2 * (p.active - p.embeddings + 5120), 1.0);
}

// The whole-model step by layer type (stack.hpp). Llama-3-8B decode at batch 1: the linear layers'
// weights are every parameter but the embedding table and the norms (q/k/v 4096·6144, o 4096²,
// gate+up 4096·28672, down 14336·4096 per layer, LM head 4096·128256), in bf16; gate+up is
// 32 GEMMs of 1 x 28672 x 4096: 2·28672·4096·32 = 7516192768 FLOP and as many weight bytes.
TEST(Stack, LlamaDecodeByLayerType) {
  const ModelConfig c = find_config("llama-3-8b");
  Workload w;
  w.batch = 1;
  w.seq = 4096;
  w.phase = Phase::decode;
  const StackCost st = evaluate_stack(find_device("h100-sxm"), c, w);
  const ParamCount p = count_params(c);
  EXPECT_DOUBLE_EQ(st.weight_bytes, 2 * (p.total() - p.embeddings - p.norms));
  const auto part = [&](const char* name) -> const StackPart& {
    for (const StackPart& s : st.parts) {
      if (s.name == name) return s;
    }
    ADD_FAILURE() << name;
    return st.parts.front();
  };
  EXPECT_EQ(part("MLP gate+up").count, 32u);
  EXPECT_DOUBLE_EQ(part("MLP gate+up").flops, 7516192768.0);
  EXPECT_DOUBLE_EQ(part("MLP gate+up").weight_bytes, 7516192768.0);
  EXPECT_DOUBLE_EQ(part("attention projections").weight_bytes, 32.0 * 4096 * 6144 * 2);
  EXPECT_DOUBLE_EQ(part("LM head").weight_bytes, 4096.0 * 128256 * 2);
  // Decode at batch 1 streams the weights: every linear layer is HBM-bound (split-K fills the SMs).
  for (const char* name : {"attention projections", "attention output projection", "MLP gate+up", "MLP down", "LM head"}) {
    EXPECT_EQ(part(name).bound, Bound::hbm) << name;
  }
  EXPECT_GT(st.time_s, st.weight_bytes / find_device("h100-sxm").achievable_hbm_bytes_per_s);
  EXPECT_EQ(st.tokens, 1u);
}

// DeepSeek-V2 decode at batch 1: 6 routed experts of 160 per MoE layer (59 layers) are read, and
// the step is weight-dominated: the attention mixer is a small share.
TEST(Stack, DeepSeekV2DecodeReadsTheTouchedExperts) {
  Workload w;
  w.batch = 1;
  w.seq = 4096;
  w.phase = Phase::decode;
  const StackCost st = evaluate_stack(find_device("h100-sxm"), find_config("deepseek-v2"), w);
  for (const StackPart& s : st.parts) {
    if (s.name == "routed experts gate+up") EXPECT_EQ(s.count, 59u * 6);
    if (s.name == "attention mixer") EXPECT_LT(s.time_s, 0.2 * st.time_s);
  }
}

// The whole model's memory: DeepSeek-V2's 235.7 B parameters in bf16 (471 GB) do not fit an 80 GB
// H100; Llama-3-8B's 16.1 GB of weights plus a 537 MB cache (batch 1, 4096 tokens) do.
TEST(Stack, FootprintAgainstHbm) {
  Workload w;
  w.batch = 1;
  w.seq = 4096;
  w.phase = Phase::decode;
  const Device& h = find_device("h100-sxm");
  const StackCost ds = evaluate_stack(h, find_config("deepseek-v2"), w);
  EXPECT_FALSE(ds.fits);
  const StackCost ll = evaluate_stack(h, find_config("llama-3-8b"), w);
  EXPECT_TRUE(ll.fits);
  EXPECT_DOUBLE_EQ(ll.footprint_bytes, 2 * 8030261248.0 + ll.kv_cache_bytes);
  EXPECT_DOUBLE_EQ(ll.kv_cache_bytes, 4096.0 * 131072);  // 32 layers x 8 K/V heads x 128 x 2 (K and V) x 2 bytes per token
  EXPECT_EQ(ll.state_bytes, 0.0);
}

// Mixtral-8x7B (model card: 46.7 B total, 12.9 B active): embeddings and head 2·32000·4096, per
// layer attention 41943040, 8 experts of 3·4096·14336 and a router 4096·8, norms; 2 experts active.
TEST(Params, Mixtral8x7BTotalAndActive) {
  const ParamCount p = count_params(find_config("mixtral-8x7b"));
  const double expert = 3.0 * 4096 * 14336;
  EXPECT_DOUBLE_EQ(p.experts_routed, 32 * 8 * expert);
  EXPECT_NEAR(p.total() / 46.7e9, 1.0, 0.01);
  EXPECT_NEAR(p.active / 12.9e9, 1.0, 0.01);
}

// ---- hybrid stacks, more configs, Mamba-2, tensor parallelism (issue 17) ---------------------

namespace {
std::vector<std::size_t> layers_with(const ModelConfig& c, Mixer m) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < c.layout.size(); ++i) {
    if (c.layout[i].mixer == m) out.push_back(i);
  }
  return out;
}
const StackPart* part_named(const StackCost& st, const std::string& name) {
  for (const StackPart& p : st.parts) {
    if (p.name == name) return &p;
  }
  return nullptr;
}
Workload decode_at(std::uint64_t batch, std::uint64_t context) {
  Workload w;
  w.batch = batch;
  w.seq = context;
  w.kv_len = context;
  w.phase = Phase::decode;
  return w;
}
}  // namespace

// Jamba-v0.1 (Lieber et al. 2024 §2, configuration_jamba.py): attention where i % 8 == 4, MoE where
// i % 2 == 1: attention at layers 4, 12, 20, 28; 16 MoE layers of 16 experts, 2 per token.
TEST(Config, JambaLayoutFromPeriodsAndOffsets) {
  const ModelConfig c = find_config("jamba-v0.1");
  EXPECT_EQ(layers_with(c, Mixer::attention), (std::vector<std::size_t>{4, 12, 20, 28}));
  EXPECT_EQ(c.count(Mixer::mamba), 28u);
  EXPECT_EQ(c.count(Ffn::moe), 16u);
  EXPECT_EQ(c.layout[1].ffn, Ffn::moe);
  EXPECT_EQ(c.layout[2].ffn, Ffn::dense);
  EXPECT_EQ(c.d_inner, 8192u);
  EXPECT_EQ(c.state_dim, 16u);
  EXPECT_EQ(c.native_variant, parse_variant("flash2"));
  EXPECT_TRUE(c.hybrid());
  // The native mixer's workload stands for the layers that have it: Jamba's 4 attention layers.
  EXPECT_EQ(c.apply(Workload{}).layers, 4u);
  EXPECT_EQ(find_config("llama-3-8b").apply(Workload{}).layers, 32u);
}

// Nemotron-H-8B's hybrid_override_pattern: 24 'M' (Mamba-2), 4 '*' (attention), 24 '-' (MLP),
// one block per layer; Mamba-2 128 heads of 64, 8 groups, state 128.
TEST(Config, NemotronHPatternString) {
  const ModelConfig c = find_config("nemotron-h-8b");
  EXPECT_EQ(c.count(Mixer::mamba2), 24u);
  EXPECT_EQ(c.count(Mixer::attention), 4u);
  EXPECT_EQ(c.count(Mixer::none), 24u);
  EXPECT_EQ(c.count(Ffn::dense), 24u);
  EXPECT_EQ(layers_with(c, Mixer::attention), (std::vector<std::size_t>{7, 18, 29, 40}));
  EXPECT_EQ(c.ssm_heads, 128u);
  EXPECT_EQ(c.ssm_groups, 8u);
  EXPECT_EQ(c.ssm_state, 128u);
  EXPECT_FALSE(c.gated_mlp);  // relu2: up and down only
  // attention_head_dim (Nemotron-H's name) is read, not derived from hidden / heads.
  const ModelConfig narrow = parse_hf_config(
      R"({"model_type":"nemotron_h","hidden_size":3072,"num_hidden_layers":2,"hybrid_override_pattern":"M*","mamba_num_heads":48,"mamba_head_dim":64,"ssm_state_size":128,"num_attention_heads":32,"num_key_value_heads":8,"attention_head_dim":128})",
      "cfg.json");
  EXPECT_EQ(narrow.head_dim, 128u);
}

// Gemma-2 (modeling_gemma2.py: is_sliding = not bool(layer_idx % 2)): even layers local with a
// 4096 window, odd layers global. Qwen2-7B ships use_sliding_window: false, so no layer is local;
// Mistral-7B's window covers every layer.
TEST(Config, LocalAndGlobalAttentionLayers) {
  const ModelConfig g = find_config("gemma-2-9b");
  EXPECT_EQ(g.count(Mixer::attention_local), 21u);
  EXPECT_EQ(g.layout[0].mixer, Mixer::attention_local);
  EXPECT_EQ(g.layout[1].mixer, Mixer::attention);
  EXPECT_EQ(g.sliding_window, 4096u);
  EXPECT_EQ(g.norms_per_layer, 4u);
  EXPECT_EQ(find_config("qwen2-7b").count(Mixer::attention_local), 0u);
  EXPECT_EQ(find_config("mistral-7b").count(Mixer::attention_local), 32u);
  // Gemma-2's decode cache at 32k: 21 global layers hold 32768 tokens, 21 local ones 4096; each
  // token 8 K/V heads x 256 x 2 x 2 bytes = 8192 bytes per layer.
  const StackCost st = evaluate_stack(find_device("h100-sxm"), g, decode_at(1, 32768));
  EXPECT_DOUBLE_EQ(st.kv_cache_bytes, 21.0 * 8192 * 32768 + 21.0 * 8192 * 4096);
}

// Parameters against the model cards (DeepSeek-V3: 671 B total, 37 B active; Jamba: 52 B total,
// 12 B active; Llama-3-70B 70.6 B; Qwen2-7B 7.62 B; Gemma-2-9B 9.24 B; Nemotron-H-8B 8 B).
TEST(Params, NewConfigsAgainstTheirCards) {
  const ParamCount ds = count_params(find_config("deepseek-v3"));
  EXPECT_NEAR(ds.total() / 671e9, 1.0, 0.01);
  EXPECT_NEAR(ds.active / 37e9, 1.0, 0.05);
  const ParamCount jamba = count_params(find_config("jamba-v0.1"));
  EXPECT_NEAR(jamba.total() / 52e9, 1.0, 0.02);
  EXPECT_NEAR(jamba.active / 12e9, 1.0, 0.02);
  EXPECT_NEAR(count_params(find_config("llama-3-70b")).total() / 70.6e9, 1.0, 0.01);
  EXPECT_NEAR(count_params(find_config("qwen2-7b")).total() / 7.62e9, 1.0, 0.01);
  EXPECT_NEAR(count_params(find_config("gemma-2-9b")).total() / 9.24e9, 1.0, 0.01);
  EXPECT_NEAR(count_params(find_config("nemotron-h-8b")).total() / 8e9, 1.0, 0.02);
  // GPT-2 small: 124439808 (wte 50257·768, wpe 1024·768, 12 layers of 7087872, ln_f 1536).
  EXPECT_DOUBLE_EQ(count_params(find_config("gpt2")).total(), 124439808.0);
}

// Mamba-2 2.7B by hand (mamba_ssm Mamba2 defaults: d_state 128, headdim 64, ngroups 1, expand 2,
// d_conv 4): D = 5120, H = 80; in_proj 2560·(2·5120 + 2·128 + 80) = 27074560, conv1d 5376·4 + 5376,
// dt_bias, A_log, D 3·80, norm 5120, out_proj 5120·2560: 40214000 per layer; 64 layers; embedding
// 50288·2560 (50277 padded to a multiple of 16), tied; 64 + 1 norms of 2560: 2702599680.
TEST(Params, Mamba2ByHand) {
  const ModelConfig c = find_config("mamba2-2.7b");
  EXPECT_EQ(c.vocab, 50288u);
  EXPECT_EQ(c.ssm_heads, 80u);
  const ParamCount p = count_params(c);
  EXPECT_DOUBLE_EQ(p.mamba2_layer, 40214000.0);
  EXPECT_DOUBLE_EQ(p.total(), 2702599680.0);
}

// The acceptance case: decode at 256k, batch 1. Jamba's 4 attention layers hold 4 x 8 x 128 x 2 x 2
// = 16 KiB per token (the Jamba paper's Table 1: 4 GB at 256k); Mixtral's 32 layers 128 KiB (32 GB).
// Jamba's weights stay the larger read; Mixtral's cache overtakes its weights.
TEST(Stack, JambaAgainstMixtralAt256k) {
  const Device& h = find_device("h100-sxm");
  const StackCost jamba = evaluate_stack(h, find_config("jamba-v0.1"), decode_at(1, 262144));
  const StackCost mixtral = evaluate_stack(h, find_config("mixtral-8x7b"), decode_at(1, 262144));
  EXPECT_DOUBLE_EQ(jamba.kv_cache_bytes, 16384.0 * 262144);
  EXPECT_DOUBLE_EQ(mixtral.kv_cache_bytes, 131072.0 * 262144);
  // Mamba state: 28 layers x D 8192 x N 16 x fp32.
  EXPECT_DOUBLE_EQ(jamba.state_bytes, 28.0 * 8192 * 16 * 4);
  EXPECT_LT(jamba.cache_read_bytes, jamba.weight_bytes);
  EXPECT_GT(mixtral.cache_read_bytes, mixtral.weight_bytes);
  for (StackGroup g : {StackGroup::attention, StackGroup::ssm, StackGroup::mlp, StackGroup::moe}) EXPECT_GT(jamba.share(g), 0.0);
  double shares = 0;
  for (StackGroup g : {StackGroup::attention, StackGroup::ssm, StackGroup::mlp, StackGroup::moe, StackGroup::other}) shares += jamba.share(g);
  EXPECT_NEAR(shares, 1.0, 1e-12);
  // A Mamba layer's weights by hand (in_proj 4096·16384, x_proj 8192·(256 + 32), dt_proj 256·8192,
  // out_proj 8192·4096), 28 layers, bf16.
  EXPECT_DOUBLE_EQ(part_named(jamba, "Mamba in_proj")->weight_bytes, 28.0 * 4096 * 16384 * 2);
  EXPECT_DOUBLE_EQ(part_named(jamba, "Mamba x_proj")->weight_bytes, 28.0 * 8192 * 288 * 2);
  // MoE at batch 1: 2 of 16 experts per MoE layer.
  EXPECT_EQ(part_named(jamba, "routed experts gate+up")->count, 16u * 2);
}

// Tensor parallelism over 8 GPUs (Megatron-LM §3): Llama-3-70B decode at batch 1. Each GPU holds 8
// query heads and one of the 8 K/V heads, an eighth of every linear layer, and sends
// 2·7/8 x (1 x 8192 x 2 bytes) per all-reduce, two all-reduces per layer.
TEST(Stack, TensorParallelSplitsWeightsAndAddsAllReduces) {
  const Device& h = find_device("h100-sxm");
  const ModelConfig c = find_config("llama-3-70b");
  const StackCost one = evaluate_stack(h, c, decode_at(1, 8192));
  const StackCost eight = evaluate_stack(h, c, decode_at(1, 8192), StackOptions{8});
  EXPECT_NEAR(eight.weight_bytes / one.weight_bytes, 1.0 / 8, 1e-3);
  EXPECT_DOUBLE_EQ(eight.kv_cache_bytes, one.kv_cache_bytes / 8);
  const StackPart* ar = part_named(eight, "all-reduce (tensor parallel)");
  ASSERT_NE(ar, nullptr);
  EXPECT_EQ(ar->count, 160u);
  EXPECT_DOUBLE_EQ(eight.link_bytes, 160.0 * 8192 * 2 * 2 * 7 / 8);
  EXPECT_EQ(ar->bound, Bound::link);
  EXPECT_LT(eight.time_s, one.time_s);
  EXPECT_EQ(part_named(one, "all-reduce (tensor parallel)"), nullptr);
  EXPECT_THROW(evaluate_stack(h, c, decode_at(1, 8192), StackOptions{3}), InputError);  // 64 heads over 3
  // Gemma-2-9B over 16 GPUs: 16 query heads of 256 split (one each) and its 8 K/V heads replicated,
  // one per GPU: q/k/v of 256 + 2 x 256 columns per GPU.
  const StackCost g = evaluate_stack(h, find_config("gemma-2-9b"), decode_at(1, 4096), StackOptions{16});
  EXPECT_DOUBLE_EQ(part_named(g, "attention projections")->weight_bytes, 42.0 * 3584 * (256 + 2 * 256) * 2);
  StackOptions both{8};
  both.laser = {0.01, {LaserMatrix::mlp_in}, {}};
  EXPECT_THROW(evaluate_stack(h, c, decode_at(1, 8192), both), InputError);  // LASER under TP: not modeled
}

// DeepSeek-V3 ships FP8 weights: read as FP8 where the chip has FP8 tensor cores, as bf16 on an A100.
TEST(Stack, Fp8WeightsWhereTheChipHasFp8) {
  const ModelConfig c = find_config("deepseek-v3");
  EXPECT_TRUE(c.fp8_weights);
  const StackCost h = evaluate_stack(find_device("h100-sxm"), c, decode_at(1, 4096));
  const StackCost a = evaluate_stack(find_device("a100-80gb"), c, decode_at(1, 4096));
  EXPECT_EQ(h.weight_dtype, Dtype::fp8);
  EXPECT_EQ(a.weight_dtype, Dtype::bf16);
  EXPECT_NEAR(a.weight_bytes / h.weight_bytes, 2.0, 1e-9);
  // Weight-dominated at 4k (the acceptance's DeepSeek case): the MLA mixer is a small share.
  EXPECT_LT(h.share(StackGroup::attention), 0.5);
}

// Bad hybrid configs name the problem.
TEST(Config, BadHybridConfigsNameTheProblem) {
  const std::string nemo = R"("model_type":"nemotron_h","hidden_size":64,"mamba_num_heads":2,"mamba_head_dim":32,"ssm_state_size":16,"num_attention_heads":2)";
  EXPECT_NE(error_of("{" + nemo + R"(,"num_hidden_layers":3,"hybrid_override_pattern":"M*X"})").find("unknown layer 'X' at position 2"),
            std::string::npos);
  EXPECT_NE(error_of("{" + nemo + R"(,"num_hidden_layers":4,"hybrid_override_pattern":"M*-"})").find("has 3 layers, num_hidden_layers 4"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type":"nemotron_h","hidden_size":64,"num_hidden_layers":1,"hybrid_override_pattern":"M","mamba_head_dim":32,"mamba_num_heads":2})")
                .find("missing key 'ssm_state_size'"),
            std::string::npos);
  const std::string jamba = R"("model_type":"jamba","hidden_size":64,"num_hidden_layers":4,"num_attention_heads":2,"mamba_d_state":16,"mamba_expand":2)";
  EXPECT_NE(error_of("{" + jamba + R"(,"attn_layer_period":2,"attn_layer_offset":2,"expert_layer_period":2,"expert_layer_offset":1})")
                .find("'attn_layer_offset' must be a whole number below attn_layer_period"),
            std::string::npos);
  EXPECT_NE(error_of("{" + jamba + R"(,"attn_layer_period":2,"attn_layer_offset":1})").find("missing key 'expert_layer_period'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"d_model":64,"n_layer":2,"ssm_cfg":{"layer":"Mamba3"}})").find("is not Mamba1 or Mamba2"), std::string::npos);
  EXPECT_NE(error_of(R"({"d_model":64,"n_layer":2,"ssm_cfg":{},"attn_layer_idx":[5]})").find("not a layer below n_layer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"d_model":64,"n_layer":2,"ssm_cfg":{},"attn_layer_idx":[1]})").find("needs an 'attn_cfg' object"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type":"mamba2","hidden_size":64,"num_hidden_layers":1,"head_dim":32,"num_heads":4,"state_size":16,"n_groups":3})")
                .find("not divisible by n_groups"),
            std::string::npos);
}

// mamba_ssm's own format with attention layers (the Mamba-2-Hybrid layout): attn_layer_idx picks
// the attention layers, attn_cfg their shape, d_intermediate adds a gated MLP to every layer.
TEST(Config, MambaSsmHybridFormat) {
  const ModelConfig c = parse_hf_config(
      R"({"d_model":256,"d_intermediate":512,"n_layer":4,"vocab_size":1000,"ssm_cfg":{"layer":"Mamba2","d_state":64,"headdim":32,"ngroups":2},"attn_layer_idx":[1,3],"attn_cfg":{"num_heads":4,"num_heads_kv":2,"head_dim":64},"tie_embeddings":true})",
      "cfg.json");
  EXPECT_EQ(layers_with(c, Mixer::attention), (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(c.count(Mixer::mamba2), 2u);
  EXPECT_EQ(c.count(Ffn::dense), 4u);
  EXPECT_EQ(c.ssm_heads, 16u);  // 2·256 / 32
  EXPECT_EQ(c.heads, 4u);
  EXPECT_EQ(c.kv_heads, 2u);
  EXPECT_EQ(c.vocab, 1000u);   // already a multiple of 8
  EXPECT_EQ(c.norms_per_layer, 2u);
}

// LASER (Sharma et al. 2023 §3) with the LASER repository's sample setting (GPT-J fc_in of layer
// 26 at rate 9.9: 1 % of the rank kept), applied to Llama-3-8B's MLP input of layer 26: gate and up
// (4096 x 14336 each) become U (4096 x 40) and V (40 x 14336) each; the step reads
// 2·(4096·14336 - 40·(4096 + 14336)) = 115965952 weights fewer, in bf16.
TEST(Stack, LaserFactorsByHand) {
  const Device& h = find_device("h100-sxm");
  const ModelConfig c = find_config("llama-3-8b");
  StackOptions opt;
  opt.laser = {0.01, {LaserMatrix::mlp_in}, {26}};
  const StackCost base = evaluate_stack(h, c, decode_at(1, 4096));
  const StackCost laser = evaluate_stack(h, c, decode_at(1, 4096), opt);
  EXPECT_DOUBLE_EQ(laser.laser_saved_params, 115965952.0);
  EXPECT_DOUBLE_EQ(base.weight_bytes - laser.weight_bytes, 2 * 115965952.0);
  EXPECT_DOUBLE_EQ(base.footprint_bytes - laser.footprint_bytes, 2 * 115965952.0);
  const StackPart* u = part_named(laser, "MLP gate+up (LASER rank 40) U");
  const StackPart* v = part_named(laser, "MLP gate+up (LASER rank 40) V");
  ASSERT_NE(u, nullptr);
  ASSERT_NE(v, nullptr);
  EXPECT_DOUBLE_EQ(u->flops, 2.0 * 80 * 4096);      // x (1 x 4096) · [U_gate U_up] (4096 x 80)
  EXPECT_DOUBLE_EQ(v->flops, 2.0 * 2 * 40 * 14336);  // two (1 x 40) · (40 x 14336)
  EXPECT_EQ(part_named(laser, "MLP gate+up")->count, 31u);
  // attn-in on every layer: q keeps 40 of 4096, k and v 10 of 1024.
  opt.laser = {0.01, {LaserMatrix::attn_in}, {}};
  const StackCost attn = evaluate_stack(h, c, decode_at(1, 4096), opt);
  EXPECT_DOUBLE_EQ(attn.laser_saved_params, 32.0 * ((4096.0 * 4096 - 40.0 * 8192) + 2 * (4096.0 * 1024 - 10.0 * 5120)));
  EXPECT_THROW(parse_laser_matrix("mlp-middle"), InputError);
}

// The stack over a quantized cache: Llama-3-8B decode at batch 16 and 32k reads its K/V through the
// split-KV kernel; fp8 halves the cache (32 layers x 8 K/V heads x 256 elements per token, one byte
// each) and the step gets faster; Gemma-2's local layers keep their 4096-token window.
TEST(Stack, QuantizedKvCacheInDecode) {
  const Device& h = find_device("h100-sxm");
  const ModelConfig c = find_config("llama-3-8b");
  StackOptions fp8;
  fp8.kv_bits = 8;
  const StackCost base = evaluate_stack(h, c, decode_at(16, 32768));
  const StackCost q = evaluate_stack(h, c, decode_at(16, 32768), fp8);
  EXPECT_DOUBLE_EQ(q.kv_cache_bytes, 16.0 * 32768 * 32 * 8 * 256);
  EXPECT_DOUBLE_EQ(base.kv_cache_bytes, 2 * q.kv_cache_bytes);
  EXPECT_LT(q.time_s, base.time_s);
  EXPECT_DOUBLE_EQ(q.weight_bytes, base.weight_bytes);
  StackOptions int4;
  int4.kv_bits = 4;
  int4.kv_group = 32;
  const StackCost g = evaluate_stack(h, find_config("gemma-2-9b"), decode_at(1, 32768), int4);
  // 256-element rows: 128 bytes + 8 groups x 4 bytes = 160 per K or V row, 8 K/V heads.
  EXPECT_DOUBLE_EQ(g.kv_cache_bytes, 21.0 * 8 * 320 * 32768 + 21.0 * 8 * 320 * 4096);
}
