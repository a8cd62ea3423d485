// Split-KV decode (Flash-Decoding, Dao et al. 2023; flash-attention flash_fwd_splitkv_kernel): the
// closed form and the tile schedule, used by flash-decoding and by MLA's absorbed decode.
// Internal to model/.
#pragma once

#include <string>

#include "common.hpp"

namespace attnio::detail {

// `rows` query heads sharing one K/V set are packed into a CTA's rows; `token_bytes` is the cache
// bytes per token of one set, `qk_dim` and `v_dim` the score and value widths, `token_elems` the
// cached elements per token (dequantized by every CTA that reads them when the cache is quantized,
// common.hpp kv_dequant_instr).
// `force_split_kernel`: the split kernel runs even with one split (flash-attention's paged cache:
// mha_fwd_kvcache passes force_split_kernel = paged_KV, as only that kernel reads a block table).
void split_kv_decode(Evaluator& ev, std::string_view name, u64 batch, u64 sets, u64 rows, u64 nk,
                     u64 token_bytes, u64 qk_dim, u64 v_dim, u64 token_elems, bool force_split_kernel = false);
// The same kernel as a tile schedule, with the formula's K/V block and split count (or `splits`
// when not 0: a variant with two split-KV kernels, shared-prefix, passes each its own). `separate_v`:
// K and V are separate arrays of `k_row` and `v_row` bytes per token; otherwise one cache row of
// `k_row` bytes per token holds both (MLA's latent + rope). The dequantization of a quantized cache
// is issue time, not FLOPs: the simulator's steps carry the FLOPs only (`token_elems` unused).
// `page_tokens` not 0: the cache lives in pages of that many tokens scattered over memory and found
// through a per-sequence block table of int32 entries (FlashAttention's paged KV cache, variants/
// paged.cpp): each CTA reads the entries of the pages its key blocks fall in, and each block's K
// and V come from its page (a key block never straddles two: the page is a multiple of it).
void split_kv(Scheduler& sc, std::string name, u64 batch, u64 sets, u64 rows, u64 nk, u64 qk, u64 vd, bool separate_v,
              u64 k_row, u64 v_row, u64 token_elems, u64 splits = 0, u64 page_tokens = 0);

}  // namespace attnio::detail
