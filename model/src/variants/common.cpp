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

const ParamSpec kKvBits{
    .key = "kv_bits", .default_text = "the dtype's", .min = 4, .max = 16, .zero_is_auto = true, .unit = "bits",
    .help = "decode: bits per cached K/V element, 16, 8 or 4 (default: the dtype's; --kv-dtype sets it)",
    .source = "FireAttention / vLLM fp8 e4m3 KV cache (8); KIVI (Liu et al. 2024) and Atom 4-bit caches"};
const ParamSpec kKvGroup{
    .key = "kv_group", .default_text = "one scale per tensor", .max = 4096, .zero_is_auto = true, .unit = "elements",
    .help = "decode: cached elements sharing one fp16 scale and zero point (default 0: one per tensor)",
    .source = "KIVI example.py group_size = 32 (jy-yuan/KIVI); vLLM fp8 caches keep per-tensor k_scale/v_scale"};

namespace {
bool kv_declared(const Workload& w) { return variant_param(w.variant, "kv_bits") != nullptr; }
}  // namespace

u64 kv_row_bytes(const Workload& w, u64 elems) {
  const u64 bits = kv_declared(w) ? w.count("kv_bits") : 0;
  if (bits == 0) return elems * dtype_bytes(w.dtype);
  const u64 group = w.count("kv_group");
  return ceil_div(elems * bits, 8) + (group == 0 ? 0 : ceil_div(elems, group) * 4);
}

u64 kv_dequant_instr(const Workload& w) {
  const u64 bits = kv_declared(w) ? w.count("kv_bits") : 0;
  if (bits == 0 || bits == 8 * dtype_bytes(w.dtype)) return 0;
  if (w.count("kv_group") == 0) return bits >= 8 ? 1 : 2;  // a conversion (4-bit: and an unpack)
  return bits >= 8 ? 2 : 3;
}

void check_kv_format(const Workload& w) {
  if (!kv_declared(w)) return;
  const u64 bits = w.count("kv_bits");
  if (bits != 0 && bits != 4 && bits != 8 && bits != 16) {
    throw InputError("--kv-bits " + std::to_string(bits) + " is not 4, 8 or 16");
  }
  if (bits == 0 && w.count("kv_group") != 0) throw InputError("--kv-group needs --kv-bits (or --kv-dtype int8|int4)");
  if (bits == 16 && w.count("kv_group") != 0) throw InputError("--kv-group applies to 8- and 4-bit caches, not --kv-bits 16");
  if (w.phase == Phase::prefill && bits != 0) {
    throw InputError("--kv-bits applies to decode: prefill takes K and V from the projections, not the cache");
  }
}

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

BlockSizes impl_tiles(const Workload& w, KernelRole role, u64 d) {
  // Alg. 1 needs M >= 4d elements; validate() refuses smaller, and no tile is filled before it does.
  if (w.sram_bytes / dtype_bytes(w.dtype) < 4 * d) return {0, 0};
  if (d == 0 || w.sram_bytes == 0) return {0, 0};
  if (const auto found = impl_traits(w, role, d)) {
    const KernelTraits& t = *found;
    // The library's tiles where they fit the on-chip memory the workload gives (--sram-bytes may
    // shrink it for a what-if); Alg. 1 sizes otherwise, as for `ideal`.
    const u64 e = dtype_bytes(w.dtype);
    const u64 need = (t.block_m * d + t.block_n * 2 * d) * e;  // Q tile, K and V tiles at the widest dim
    if (t.block_m != 0 && t.block_n != 0 && need <= w.sram_bytes) return {t.block_m, t.block_n};
  }
  BlockSizes alg1 = flash_block_sizes(w.sram_bytes, dtype_bytes(w.dtype), d);
  // Alg. 1 sizes no decode row tile: split-KV packs the query rows of a K/V set into one m16 MMA
  // tile (attnio's decoding kernel, tile_traits.hpp kDecodeRowTile).
  if (role == KernelRole::splitkv) alg1.br = traits::kDecodeRowTile;
  return alg1;
}

void fill_tiles(Workload& w, KernelRole role, u64 d) {
  const BlockSizes b = impl_tiles(w, role, d);
  if (b.br == 0) return;
  if (w.count("block_m") == 0) w.set("block_m", b.br);
  if (w.count("block_n") == 0) w.set("block_n", b.bc);
}

Count kv_cache_tokens(const Workload& w, u64 tokens) {
  const Count cached_layers = ceil_div(w.layers, w.count("cla_share"));  // Brandon et al. 2024 §2
  const Shape s = shape_of(w);
  return Count(s.batch) * s.kv_heads * tokens * (kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv)) * cached_layers;
}
Count kv_cache_bytes(const Workload& w) { return kv_cache_tokens(w, w.kv_len); }

}  // namespace attnio::detail
