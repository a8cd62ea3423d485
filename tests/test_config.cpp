#include <gtest/gtest.h>

#include "attnio/model/hf_config.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/stack.hpp"

using namespace attnio;

TEST(Config, ShippedConfigsParse) {
  ASSERT_EQ(shipped_configs().size(), 6u);
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

TEST(Config, BadConfigsNameTheProblem) {
  auto error_of = [](const std::string& json) -> std::string {
    try {
      parse_hf_config(json, "cfg.json");
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
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
  for (const char* name : {"attention projections", "output projection", "MLP gate+up", "MLP down", "LM head"}) {
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
  EXPECT_DOUBLE_EQ(ll.footprint_bytes, 2 * 8030261248.0 + ll.cache_bytes);
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
