// Tile sizes and launch shapes of attnio's kernels, in one place for the analytic model, the tile
// simulator and the CUDA kernels (kernels/, which include this header too). Plain constexpr C++:
// no CUDA include, so model/ stays buildable anywhere. After flash-attention's kernel_traits.h:
// derived constants plus static_asserts.
#pragma once

#include <cstdint>

namespace attnio::traits {

// FlashAttention-2 forward (kernels/flash2): 4 warps per CTA, each warp owns Br/4 query rows and
// reads every K and V tile from shared memory (flash-attention kernel_traits: kNWarps = 4).
inline constexpr std::uint64_t kFlashWarps = 4;
// attnio's FlashAttention-2 kernel (kernels/flash2.cu): Br = 64 query rows, 16 per warp; Bc = 128
// keys for head dims up to 64, 64 above. It keeps Q, K, V, the S and P tiles and the fp32 O
// accumulator in shared memory (104 KiB at d = 128), which fits the A100's 163 KiB.
constexpr std::uint64_t flash_block_m(std::uint64_t /*head_dim*/) { return 64; }
constexpr std::uint64_t flash_block_n(std::uint64_t head_dim) { return head_dim <= 64 ? 128 : 64; }
// attnio's FlashAttention-2 backward (kernels/flash_bwd.cu): one CTA per K/V block of Bc keys
// walking Q blocks of 64 rows; Bc = 64 for head dims up to 64, 32 above, so K, V, dK, dV, Q, dO and
// the S/dP/P tiles fit an A100's shared memory (132 KiB at d = 128).
constexpr std::uint64_t flash_bwd_block_m(std::uint64_t /*head_dim*/) { return 64; }
constexpr std::uint64_t flash_bwd_block_n(std::uint64_t head_dim) { return head_dim <= 64 ? 64 : 32; }

// Shared memory of attnio's flash kernels per CTA (the kernels launch with exactly this, and the
// `attnio` profile's occupancy uses it): forward Q, K, V and P (elem bytes), S, O, m and l (fp32);
// backward K, V, Q, dO, P/dS (elem), S, dP, dK, dV, the dQ tile, LSE and D (fp32).
constexpr std::uint64_t flash2_smem_bytes(std::uint64_t elem, std::uint64_t d) {
  const std::uint64_t br = flash_block_m(d), bc = flash_block_n(d);
  return elem * (br * d + 2 * bc * d + br * bc) + 4 * (br * bc + br * d + 2 * br);
}
constexpr std::uint64_t flash_bwd_smem_bytes(std::uint64_t elem, std::uint64_t d) {
  const std::uint64_t br = flash_bwd_block_m(d), bc = flash_bwd_block_n(d);
  return elem * (2 * bc * d + 2 * br * d + br * bc) + 4 * (2 * br * bc + 2 * bc * d + br * d + 2 * br);
}

// Split-KV decode kernel (flash-attention run_mha_fwd_splitkv_dispatch): longer K/V blocks, since
// only a few query rows share them.
constexpr std::uint64_t splitkv_block_n(std::uint64_t head_dim) {
  return head_dim <= 64 ? 256 : head_dim <= 128 ? 128 : 64;
}
static_assert(flash_block_m(128) % (16 * kFlashWarps) == 0, "each warp owns whole m16 MMA row tiles");
static_assert(flash_block_n(128) % 16 == 0 && flash_block_n(64) % 16 == 0, "K/V tiles are whole k16 MMA steps");

// GEMM (cuBLAS-like, used by standard attention and MLA's up-projection): 128 x 128 output tile,
// 32-deep K slices, 3 pipeline stages, 2 x 2 warps: each A and B tile is read by 2 warps.
inline constexpr std::uint64_t kGemmTile = 128;
inline constexpr std::uint64_t kGemmTileK = 32;
inline constexpr std::uint64_t kGemmStages = 3;
inline constexpr std::uint64_t kGemmWarpsPerOperand = 2;

// Elementwise and row-wise kernels (softmax, scans, conversions): 256 threads x 4 elements.
inline constexpr std::uint64_t kElemsPerCta = 1024;
inline constexpr std::uint64_t kSmallCtasPerSm = 8;

// Split-KV decode (kernels/decoding.cu): query rows (packed GQA heads, or MLA's heads) per CTA.
inline constexpr std::uint64_t kDecodeRowTile = 16;

// PagedAttention v2 partition (vLLM PARTITION_SIZE) and its v1/v2 switch.
inline constexpr std::uint64_t kPagedPartition = 512;
inline constexpr std::uint64_t kPagedV1MaxContext = 8192;
// Its kernels run 128 threads, 4 warps (paged_attention_v{1,2}_launcher NUM_THREADS = 128), each
// warp walking every fourth page.
inline constexpr std::uint64_t kPagedWarps = 4;

// Memory-efficient (chunked) attention: query rows per CTA in each chunk-pair launch.
inline constexpr std::uint64_t kChunkBandRows = 64;

// FAVOR+ feature kernel: rows (tokens x heads) per CTA.
inline constexpr std::uint64_t kFeatureRowsPerCta = 64;

// Mamba selective scan: channels per CTA (mamba selective_scan_fwd: kNRows = 1).
inline constexpr std::uint64_t kScanChannelsPerCta = 1;
// Mamba decode step: channels per CTA.
inline constexpr std::uint64_t kScanStepChannelsPerCta = 128;

// Mamba-2 SSD (mamba_ssm's Triton kernels, kernels/ssd.cu): 64 x 64 output blocks of the chunk-state,
// C Bᵀ and chunk-scan kernels (ssd_chunk_state.py, ssd_bmm.py, ssd_chunk_scan.py autotune configs),
// and state elements per CTA of the state-passing kernel (ssd_state_passing.py BLOCK_SIZE 2048).
inline constexpr std::uint64_t kSsdBlock = 64;
inline constexpr std::uint64_t kSsdPassElemsPerCta = 2048;

// The block layout of block-sparse attention (the model's, the simulator's and the profiled
// kernel's): pair (i, j) of the dense Tr x Tc grid is kept when its row-major index crosses a
// multiple of 1/s, so exactly floor(s * Tr * Tc) pairs are kept, spread evenly.
inline bool block_sparse_keep(double density, std::uint64_t i, std::uint64_t j, std::uint64_t tc) {
  if (density >= 1.0) return true;
  const double idx = static_cast<double>(i * tc + j);
  return static_cast<std::uint64_t>((idx + 1) * density) > static_cast<std::uint64_t>(idx * density);
}

}  // namespace attnio::traits
