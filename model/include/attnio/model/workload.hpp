// Workload specification: the attention shape, dtype, phase and pass, and the variant to evaluate
// with its own parameters. Plain data; resolve() fills the documented defaults and validate()
// rejects anything the model cannot evaluate, with a one-line InputError naming the problem.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "attnio/model/device.hpp"

namespace attnio {

enum class Phase { prefill, decode };
enum class Pass { fwd, bwd, fwdbwd };

enum class Variant {
  standard,
  flash1,
  flash2,
  block_sparse,
  sliding_window,
  sigmoid,
  chunked,
  flash_decoding,
  paged,
  mla,
  linear,
  performer,
  mamba,
  mamba_naive,
  fnet,
  ring,
  dilated,
};

std::span<const Variant> all_variants();
std::string_view to_string(Variant v);
std::string_view to_string(Phase p);
std::string_view to_string(Pass p);
std::string_view to_string(Dtype d);
// Parsers throw InputError naming the bad word and the accepted ones.
Variant parse_variant(std::string_view s);
Phase parse_phase(std::string_view s);
Pass parse_pass(std::string_view s);
Dtype parse_dtype(std::string_view s);
std::uint64_t dtype_bytes(Dtype d);
// One line describing what the variant is, for listings and the GUI.
std::string_view variant_summary(Variant v);

struct Workload {
  Variant variant = Variant::flash2;
  std::uint64_t batch = 1;
  std::uint64_t seq = 4096;     // query length (prefill); in decode the query is one token
  std::uint64_t kv_len = 0;     // 0: same as seq
  std::uint64_t heads = 32;
  std::uint64_t kv_heads = 0;   // 0: same as heads
  std::uint64_t head_dim = 128;
  std::uint64_t v_head_dim = 0; // 0: same as head_dim
  Dtype dtype = Dtype::bf16;
  bool causal = false;
  Phase phase = Phase::prefill;
  Pass pass = Pass::fwd;
  std::uint64_t layers = 1;
  std::uint64_t sram_bytes = 0;  // on-chip capacity M per SM; 0: the device's shared memory per SM
  bool l2 = true;                // model L2 reuse between SM<->L2 traffic and DRAM traffic

  // Variant parameters; 0 means "the variant's default", filled by resolve().
  std::uint64_t block_m = 0, block_n = 0;  // flash tiles; 0: FlashAttention Alg. 1 from M
  double block_density = 0.25;             // block-sparse: fraction of non-zero blocks
  std::uint64_t window = 4096;             // sliding-window: W (Mistral 7B uses 4096)
  std::uint64_t chunk = 0;                 // chunked: 1024 (Rabe & Staats); linear: 64
  std::uint64_t splits = 0;                // flash-decoding / mla: 0 chooses enough to fill the SMs
  std::uint64_t page_size = 16;            // paged: tokens per page (vLLM default block size)
  std::uint64_t latent_dim = 512;          // mla: d_c (DeepSeek-V2 kv_lora_rank)
  std::uint64_t rope_dim = 64;             // mla: d_h^R (DeepSeek-V2 qk_rope_head_dim)
  std::uint64_t feature_dim = 0;           // linear: F; 0: head_dim (elu+1 keeps the dimension)
  std::uint64_t features = 256;            // performer: r random features
  std::uint64_t state_dim = 16;            // mamba: N
  std::uint64_t d_inner = 0;               // mamba: D; 0: heads x head_dim (matched width)
  std::uint64_t gpus = 8;                  // ring: P devices
  std::uint64_t segment = 2048;            // dilated: segment length w
  std::uint64_t dilation = 2;              // dilated: dilation rate r
  std::uint64_t cla_share = 1;             // cross-layer attention: one K/V per k layers

  // Query length actually evaluated: seq in prefill, 1 in decode.
  std::uint64_t query_len() const { return phase == Phase::decode ? 1 : seq; }
  std::uint64_t group() const { return heads / kv_heads; }
};

// Fills the 0 = default fields from the shape and the device. Idempotent.
Workload resolve(Workload w, const Device& device);

// The built-in default of `attnio report`, `scripts/run` and attnio-gui: one Llama-3-8B attention
// layer (32 query heads, 8 K/V heads of 128, causal) over a batch of 8 sequences of 4096 tokens.
Workload llama_like_workload();
// Throws InputError for shapes and parameters the model cannot evaluate. Expects resolve()d input.
void validate(const Workload& w, const Device& device);
// Why this variant does not apply to this phase/pass, or nullopt when it does.
std::optional<std::string> not_applicable(const Workload& w);

}  // namespace attnio
