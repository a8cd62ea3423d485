#include <gtest/gtest.h>

#include "attnio/model/hf_config.hpp"
#include "attnio/model/predict.hpp"

using namespace attnio;

TEST(Config, ShippedConfigsParse) {
  ASSERT_EQ(shipped_configs().size(), 5u);
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
