#include "common.hpp"

#include <algorithm>

namespace attnio::detail {

const ParamSpec kBlockM{
    .key = "block_m", .default_text = "FlashAttention Alg. 1 from M", .max = 65536, .zero_is_auto = true,
    .unit = "rows", .help = "flash Q block rows Br (default: FlashAttention Alg. 1 from M)",
    .source = "FlashAttention Alg. 1 line 1: Br = min(ceil(M/4d), d)"};
const ParamSpec kBlockN{
    .key = "block_n", .default_text = "FlashAttention Alg. 1 from M", .max = 65536, .zero_is_auto = true,
    .unit = "keys", .help = "flash K/V block columns Bc (default: Alg. 1 from M)",
    .source = "FlashAttention Alg. 1 line 1: Bc = ceil(M/4d)"};
const ParamSpec kSplits{
    .key = "splits", .default_text = "enough to fill the SMs", .max = 1024, .zero_is_auto = true,
    .unit = "splits", .help = "flash-decoding/mla: KV splits (default: enough to fill the SMs)",
    .source = "flash-attention csrc/flash_attn/flash_api.cpp num_splits_heuristic"};
const ParamSpec kClaShare{
    .key = "cla_share", .default_value = 1, .default_text = "1", .unit = "layers",
    .help = "cross-layer attention: one K/V per k layers (default 1)",
    .source = "Brandon et al. 2024, Reducing Transformer KV cache size with cross-layer attention, §2"};

void check_block_tiles(const Workload& w) {
  const u64 bm_given = w.count("block_m"), bn_given = w.count("block_n");
  if (bm_given == 0 && bn_given == 0) return;
  // A block size given alone pairs with the other from FlashAttention Alg. 1. FA2 keeps the Q tile
  // and the K and V tiles in shared memory (O stays in registers).
  const u64 e = dtype_bytes(w.dtype);
  const u64 d = std::max(w.head_dim, w.v_head_dim);
  const u64 m = w.sram_bytes / e, bc = (m + 4 * d - 1) / (4 * d);
  const u64 bm = bm_given != 0 ? bm_given : std::min(bc, d), bn = bn_given != 0 ? bn_given : bc;
  const u64 need = (bm * w.head_dim + bn * (w.head_dim + w.v_head_dim)) * e;
  if (need > w.sram_bytes) {
    throw InputError("--block-m " + std::to_string(bm) + " x --block-n " + std::to_string(bn) + " tiles need " +
                     std::to_string(need) + " bytes of SRAM, more than the " + std::to_string(w.sram_bytes) + " available");
  }
}

Count kv_cache_tokens(const Workload& w, u64 tokens) {
  const Count cached_layers = ceil_div(w.layers, w.count("cla_share"));  // Brandon et al. 2024 §2
  return kv_heads_bytes(shape_of(w), tokens, dtype_bytes(w.dtype)) * cached_layers;
}
Count kv_cache_bytes(const Workload& w) { return kv_cache_tokens(w, w.kv_len); }

}  // namespace attnio::detail
