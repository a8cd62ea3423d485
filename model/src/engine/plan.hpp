// Attention masks and FlashAttention block plans, shared by the closed form and the tile simulator
// (engine/, variants/) so that both visit exactly the same blocks. Internal to model/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "attnio/model/count.hpp"
#include "attnio/model/predict.hpp"

namespace attnio::detail {

using u64 = std::uint64_t;

// ---- masks and block plans -----------------------------------------------------------------

// document and prefix_lm are FlexAttention's block masks (PyTorch FlexAttention, Dong et al. 2024):
// packed documents, causal within each (`window` = the mean document length L; documents of L/2, L
// and 3L/2 tokens repeat, a mix with mean L); prefix-LM, bidirectional over the first `window`
// positions and causal after (Raffel et al. 2020, T5 §3.2.1).
enum class MaskKind { none, causal, window_causal, band, document, prefix_lm };

struct Mask {
  MaskKind kind = MaskKind::none;
  u64 window = 0;
  std::int64_t offset = 0;  // Nk - N: queries are the last N positions (bottom-right alignment)
};

// Allowed keys of query row r: [lo(r), hi(r)).
struct KeyRange {
  std::int64_t lo, hi;
};
inline std::int64_t clamp_i(std::int64_t x, u64 k) {
  return std::clamp<std::int64_t>(x, 0, static_cast<std::int64_t>(k));
}
// The first position of the document holding position p (MaskKind::document): documents of L/2, L
// and 3L/2 tokens, repeating every 3L.
inline std::int64_t document_start(std::int64_t p, u64 mean) {
  const auto L = static_cast<std::int64_t>(mean);
  if (p < 0) return p;
  const std::int64_t cycle = p / (3 * L) * (3 * L), q = p - cycle;
  return cycle + (q < L / 2 ? 0 : q < L / 2 + L ? L / 2 : L / 2 + L);
}
// Σ over positions p in [0, P) of the keys p attends in its document, p - start(p) + 1.
inline Count document_pairs_before(std::int64_t P, u64 mean) {
  if (P <= 0) return 0;
  const u64 L = mean, half = L / 2;
  auto tri = [](u64 a) { return a % 2 == 0 ? Count(a / 2) * (a + 1) : Count(a) * ((a + 1) / 2); };
  const u64 cycles = static_cast<u64>(P) / (3 * L), rest = static_cast<u64>(P) % (3 * L);
  Count total = Count(cycles) * (tri(half) + tri(L) + tri(half + L)).v;
  total += tri(min_u(rest, half));
  if (rest > half) total += tri(min_u(rest - half, L));
  if (rest > half + L) total += tri(rest - half - L);
  return total;
}

inline KeyRange key_range(const Mask& m, std::int64_t r, u64 nk) {
  const std::int64_t p = r + m.offset;  // absolute position of query r among the keys
  const auto w = static_cast<std::int64_t>(m.window);
  switch (m.kind) {
    case MaskKind::none: return {0, static_cast<std::int64_t>(nk)};
    case MaskKind::causal: return {0, clamp_i(p + 1, nk)};
    // Mistral 7B §2: position p attends p-W+1 .. p.
    case MaskKind::window_causal: return {clamp_i(p + 1 - w, nk), clamp_i(p + 1, nk)};
    // Longformer §3.1: a non-causal window of W keys centred on p.
    case MaskKind::band: {
      const std::int64_t before = (w - 1) / 2, after = w - 1 - before;
      return {clamp_i(p - before, nk), clamp_i(p + after + 1, nk)};
    }
    case MaskKind::document: return {clamp_i(document_start(p, m.window), nk), clamp_i(p + 1, nk)};
    case MaskKind::prefix_lm: return {0, clamp_i(std::max<std::int64_t>(w, p + 1), nk)};
  }
  return {0, 0};
}

// Allowed (query, key) pairs of one head: the work the mask leaves, independent of tiling.
inline Count allowed_pairs(const Mask& m, u64 n, u64 nk) {
  const auto w = static_cast<std::int64_t>(m.window);
  switch (m.kind) {
    case MaskKind::none: return Count(n) * nk;
    case MaskKind::causal: return sum_clamped(n, m.offset + 1, nk);
    case MaskKind::window_causal:
      return sum_clamped(n, m.offset + 1, nk) - sum_clamped(n, m.offset + 1 - w, nk);
    case MaskKind::band: {
      const std::int64_t before = (w - 1) / 2, after = w - 1 - before;
      return sum_clamped(n, m.offset + after + 1, nk) - sum_clamped(n, m.offset - before, nk);
    }
    // Queries are positions offset .. offset + n - 1 of the packed sequence (no key past nk: the
    // flex variant checks nk = n in prefill, and in decode the query is the last position).
    case MaskKind::document:
      return document_pairs_before(m.offset + static_cast<std::int64_t>(n), m.window) - document_pairs_before(m.offset, m.window);
    case MaskKind::prefix_lm: {
      // Rows before the prefix end see the whole prefix; the rest are causal: Σ min(nk, max(P, p + 1)).
      const std::int64_t P = w, first = m.offset, last = m.offset + static_cast<std::int64_t>(n);  // positions [first, last)
      const std::int64_t split = std::clamp<std::int64_t>(P, first, last);  // p + 1 <= P for p < P
      return Count(static_cast<u64>(split - first)) * min_u(static_cast<u64>(P), nk) +
             sum_clamped(static_cast<u64>(last - split), split + 1, nk);
    }
  }
  return 0;
}

// The K/V blocks [first, last] that Q rows [r0, r1) visit: those holding at least one allowed key.
struct BlockRange {
  u64 first = 1, last = 0;
  bool empty() const { return first > last; }
};
inline BlockRange visited_blocks(const Mask& m, u64 r0, u64 r1, u64 nk, u64 bc) {
  const std::int64_t lo = key_range(m, static_cast<std::int64_t>(r0), nk).lo;
  const std::int64_t hi = key_range(m, static_cast<std::int64_t>(r1 - 1), nk).hi;
  if (hi <= lo) return {};
  return {static_cast<u64>(lo) / bc, static_cast<u64>(hi - 1) / bc};
}

// The (Q block, K/V block) pairs a FlashAttention kernel visits for one head, with the sums the
// byte counts need. Causal and window masks skip blocks with no allowed pair
// (FlashAttention-2 §3.1.1 "Causal masking").
struct Plan {
  u64 br = 0, bc = 0, tr = 0, tc = 0;
  Count pairs;     // visited block pairs
  Count rows_sum;  // Σ over visited pairs of the Q block's rows
  Count cols_sum;  // Σ over visited pairs of the K/V block's columns
  Count touched;   // keys in at least one visited block
  Count allowed;   // allowed (query, key) pairs
  Count area;      // Σ rows x cols over visited pairs: scores the kernel computes (incl. masked)
  Count partial_area;  // the part of area in pairs the mask cuts (some pairs allowed, not all)
  MaskKind mask = MaskKind::none;
};

// Of the K/V blocks [jlo, jhi] that Q rows [r0, r1) visit, the run of whole ones [first, first +
// count): every key of the block allowed for every row. Every mask here has key ranges whose ends
// do not decrease with the row (key_range: causal, windows, documents, prefix-LM), so a block is
// whole where its first key is at or after the last row's lo and its last key is before the first
// row's hi; those blocks are contiguous.
struct WholeBlocks {
  u64 first = 0, count = 0;
};
inline WholeBlocks whole_blocks(const Mask& m, u64 r0, u64 r1, u64 nk, u64 bc, u64 jlo, u64 jhi) {
  if (m.kind == MaskKind::none) return {jlo, jhi - jlo + 1};
  const std::int64_t lo = std::max<std::int64_t>(0, key_range(m, static_cast<std::int64_t>(r1 - 1), nk).lo);
  const std::int64_t hi = key_range(m, static_cast<std::int64_t>(r0), nk).hi;
  const u64 first = std::max<u64>(jlo, (static_cast<u64>(lo) + bc - 1) / bc);
  // The last block ending at or before hi: the ragged last block ends at nk.
  if (hi <= 0) return {first, 0};
  const u64 h = static_cast<u64>(hi);
  const u64 end = h >= nk ? jhi + 1 : min_u(jhi + 1, h / bc);  // one past the last whole block
  return {first, end > first ? end - first : 0};
}

inline Plan make_plan(u64 n, u64 nk, u64 br, u64 bc, const Mask& m) {
  Plan p;
  p.br = br;
  p.bc = bc;
  p.tr = ceil_div(n, br);
  p.tc = ceil_div(nk, bc);
  p.allowed = allowed_pairs(m, n, nk);
  p.mask = m.kind;
  if (m.kind == MaskKind::none) {  // every block pair: closed form
    p.pairs = Count(p.tr) * p.tc;
    p.rows_sum = Count(n) * p.tc;
    p.cols_sum = Count(nk) * p.tr;
    p.area = Count(n) * nk;
    p.touched = nk;
    return p;
  }
  // Masked plans walk the Q blocks one by one; past 2^24 blocks that walk would take seconds.
  if (p.tr > (u64{1} << 24)) {
    throw InputError("masked attention with " + std::to_string(p.tr) + " query blocks (N / block-m) is too long to plan; "
                     "raise --block-m or lower --seq");
  }
  std::int64_t first = -1, last = -1;
  for (u64 i = 0; i < p.tr; ++i) {
    const u64 r0 = i * br, r1 = min_u(n, r0 + br);
    const BlockRange range = visited_blocks(m, r0, r1, nk, bc);
    if (range.empty()) continue;
    const u64 jlo = range.first, jhi = range.last;
    const u64 cols = min_u(nk, (jhi + 1) * bc) - jlo * bc;
    const u64 count = jhi - jlo + 1;
    p.pairs += count;
    p.rows_sum += Count(count) * (r1 - r0);
    p.cols_sum += cols;
    p.area += Count(r1 - r0) * cols;
    // The cut blocks' area: the visited area less the whole blocks' (bc keys wide each, the
    // ragged last one excepted).
    const WholeBlocks whole = whole_blocks(m, r0, r1, nk, bc, jlo, jhi);
    const u64 whole_cols = whole.count == 0 ? 0 : min_u(nk, (whole.first + whole.count) * bc) - whole.first * bc;
    p.partial_area += Count(r1 - r0) * (cols - whole_cols);
    if (first < 0) first = static_cast<std::int64_t>(jlo * bc);
    last = static_cast<std::int64_t>(min_u(nk, (jhi + 1) * bc));
  }
  if (first >= 0) p.touched = static_cast<u64>(last - first);
  return p;
}

// A decoded token is the newest position: it attends to the past only, whatever --causal says.
inline bool causal_effective(const Workload& w) { return w.causal || w.phase == Phase::decode; }

// The causal mask when --causal is on, else none; queries are the last n of nk positions.
// Variants with masks of their own (sliding-window) build them from this.
inline Mask attention_mask(const Workload& w, u64 n, u64 nk) {
  Mask m;
  m.offset = static_cast<std::int64_t>(nk) - static_cast<std::int64_t>(n);
  if (w.causal) m.kind = MaskKind::causal;
  return m;
}

// The attention shape every variant starts from.
struct Shape {
  u64 batch, heads, kv_heads, n, nk, d, dv;
  u64 group() const { return heads / kv_heads; }
};
inline Shape shape_of(const Workload& w) {
  return {w.batch, w.heads, w.kv_heads, w.query_len(), w.kv_len, w.head_dim, w.v_head_dim};
}


}  // namespace attnio::detail
