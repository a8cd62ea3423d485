// The FlashAttention family's shared schedule (FlashAttention Alg. 1 / FlashAttention-2 Alg. 1-2):
// its closed form and its tile schedule, used by the family's variants (flash.cpp) and by the
// variants that run a flash kernel inside (ring, mla prefill). Internal to model/.
#pragma once

#include "common.hpp"

namespace attnio::detail {

struct FlashOptions {
  double density = 1.0;  // block-sparse fraction of visited blocks
  bool sigmoid = false;  // FlashSigmoid: no statistics, no rescaling
  // Gated attention fused into the forward's epilogue (kernels/flash2.cu with a gate): each CTA
  // reads its rows of the gate logits G [B][N][H][dv] and writes O ⊙ σ(G) instead of O.
  bool gate = false;
  u64 gate_buffer = 0;  // the tile schedule: G's address (the gate projection's output)
};

// The tensors of a flash kernel's forward and backward, allocated in the address space.
struct FlashBuffers {
  u64 q, k, v, o, lse;  // forward
  u64 dout, dq_acc, delta, dq, dk_exp, dv_exp, dk, dv, l, m;
  u64 o_acc = 0;  // FlashAttention v1's o_tmp: O carried in fp32 between key blocks
  u64 gate = 0;  // G (FlashOptions::gate_buffer) for a fused gate
};
FlashBuffers flash_buffers(AddressSpace& as, const Shape& s, u64 e);

// The tile geometry of a flash kernel over one shape: block sizes, visited blocks and the tensor
// layouts of flash-attention (also used by the chunked schedule).
struct FlashGeometry {
  Shape s;
  Mask mask;
  u64 br, bc, tr, tc, e;
  double density;
  bool sigmoid;
  bool gate = false;  // FlashOptions::gate
  u64 kv_cluster = 1;  // forward: CTAs along M sharing each K/V tile by TMA multicast (flash.cpp kv_multicast)
  u64 rows(u64 i) const { return min_u(s.n, (i + 1) * br) - i * br; }
  u64 cols(u64 j) const { return min_u(s.nk, (j + 1) * bc) - j * bc; }
  bool visited(u64 i, u64 j) const {
    const BlockRange r = visited_blocks(mask, i * br, i * br + rows(i), s.nk, bc);
    return !r.empty() && j >= r.first && j <= r.last && traits::block_sparse_keep(density, i, j, tc);
  }
  // Keys in at least one visited block (as make_plan's `touched`): the blocks from the first to the
  // last visited one.
  BlockRange touched() const {
    BlockRange all;
    for (u64 i = 0; i < tr; ++i) {
      const BlockRange r = visited_blocks(mask, i * br, i * br + rows(i), s.nk, bc);
      if (r.empty()) continue;
      all.first = all.empty() ? r.first : std::min(all.first, r.first);
      all.last = all.empty() ? r.last : std::max(all.last, r.last);
      if (all.first > all.last) all = r;
    }
    return all;
  }
  // flash-attention's layouts: Q, O [B][N][H][width] and K, V [B][Nk][Hkv][width], so a tile of
  // rows is `rows` segments of width·e bytes, H·width·e apart; statistics are [B][H][N] fp32.
  u64 q_addr(u64 base, u64 b, u64 h, u64 r, u64 width) const { return base + ((b * s.n + r) * s.heads + h) * width * e; }
  u64 kv_addr(u64 base, u64 b, u64 kvh, u64 key, u64 width) const { return base + ((b * s.nk + key) * s.kv_heads + kvh) * width * e; }
  u64 q_stride(u64 width) const { return s.heads * width * e; }
  // Shared memory of a CTA holding one K/V block and one block of Q and of a row tile (O or dO).
  std::vector<std::pair<std::string, u64>> tiles(const char* row_tile) const {
    return {{"K", min_u(bc, s.nk) * s.d * e}, {"V", min_u(bc, s.nk) * s.dv * e},
            {"Q", min_u(br, s.n) * s.d * e}, {row_tile, min_u(br, s.n) * s.dv * e}};
  }
  u64 kv_stride(u64 width) const { return s.kv_heads * width * e; }
  u64 stat_addr(u64 base, u64 b, u64 h, u64 r) const { return base + ((b * s.heads + h) * s.n + r) * kStat; }
  void q_tile(Step& st, const char* name, u64 base, u64 b, u64 h, u64 r0, u64 rows, u64 width, bool write) const {
    st.add(name, q_addr(base, b, h, r0, width), width * e, rows, q_stride(width), write);
  }
  void kv_tile(Step& st, const char* name, u64 base, u64 b, u64 kvh, u64 k0, u64 keys, u64 width, bool write) const {
    st.add(name, kv_addr(base, b, kvh, k0, width), width * e, keys, kv_stride(width), write);
  }
  // dK/dV of query head h: with GQA into the expanded [B][Nk][H][width] buffers (flash-attention's
  // dk_expanded), else straight into dK/dV.
  void dkv_tile(Step& st, const char* name, u64 expanded, u64 direct, u64 b, u64 h, u64 k0, u64 keys, u64 width) const {
    if (s.group() == 1) {
      kv_tile(st, name, direct, b, h, k0, keys, width, true);
    } else {
      st.add(name, expanded + ((b * s.nk + k0) * s.heads + h) * width * e, width * e, keys, s.heads * width * e, true);
    }
  }
};

// Forward and/or backward (per the workload's pass) of a flash kernel over one shape.
void flash_passes(Evaluator& ev, const Shape& s, const Mask& mask, const FlashOptions& opt, bool fa1);
// The same kernels as tile schedules; tiles are the workload's resolved block_m x block_n.
void flash_family(Scheduler& sc, const Shape& s, const Mask& mask, const FlashOptions& opt, bool fa1);
// The kernels' own tiles (tile_traits.hpp) for a head dim, filled where --block-m/n are not given.
void flash_kernel_tiles(Workload& w, u64 d);

}  // namespace attnio::detail
