// Flash-Decoding (Dao, Haziza, Massa, Sizov 2023, "Flash-Decoding for long-context inference";
// flash-attention flash_fwd_splitkv_kernel and num_splits_heuristic): one query token per sequence,
// the g query heads of a GQA group packed as the rows of one CTA so each split reads its slice of
// the group's K/V once, the keys split so that all SMs stream, and a combine kernel that reduces the
// fp32 partial outputs and log-sum-exps.
#include "split_kv.hpp"

#include "flashinfer_decode.hpp"

#include <algorithm>
#include <cmath>

namespace attnio::detail {

namespace {

// ---- closed form --------------------------------------------------------------------------------


// flash-attention's num_splits_heuristic (csrc/flash_attn/flash_api.cpp), called with
// `slots_per_sm` times the SM count (KernelTraits::split_slots_per_sm): no split when the grid
// already fills 80% of the slots; otherwise the fewest splits whose wave efficiency reaches 85% of
// the best, skipping split counts that give the same blocks per split.
u64 auto_splits(const Evaluator& ev, Count ctas_without_split, u64 key_blocks, u64 slots_per_sm) {
  const double slots = static_cast<double>(slots_per_sm) * ev.dev().sm_count;
  const double base = ctas_without_split.d();
  if (base >= 0.8 * slots) return 1;
  const u64 most = min_u(min_u(128, static_cast<u64>(slots)), key_blocks);
  auto efficiency = [&](u64 splits) {
    const double waves = base * static_cast<double>(splits) / slots;
    return waves / std::ceil(waves);
  };
  auto eligible = [&](u64 n) { return n == 1 || ceil_div(key_blocks, n) != ceil_div(key_blocks, n - 1); };
  double best = 0;
  for (u64 n = 1; n <= most; ++n) {
    if (eligible(n)) best = std::max(best, efficiency(n));
  }
  for (u64 n = 1; n <= most; ++n) {
    if (eligible(n) && efficiency(n) >= 0.85 * best) return n;
  }
  return 1;
}

// Split-KV decode (Flash-Decoding, Dao et al. 2023; flash-attention flash_fwd_splitkv_kernel): the
// `rows` query heads sharing one K/V set are packed into one CTA's rows, so each split reads its
// slice of the set once; each split writes a partial O and log-sum-exp in fp32 and a combine kernel
// reduces them. `token_bytes` is the cache bytes per token of one set; `qk_dim` and `v_dim` the
// score and value widths.
}  // namespace

// Query rows per CTA: the implementation's block_m (FlashMLA and Flash-Decoding pack up to 64
// heads, attnio's kernel 16).
u64 decode_row_tile(const Workload& w) {
  const u64 bm = w.count("block_m");
  return bm != 0 ? bm : kDecodeRowTile;
}

void split_kv_decode(Evaluator& ev, std::string_view name, u64 batch, u64 sets, u64 rows, u64 nk,
                     u64 token_bytes, u64 qk_dim, u64 v_dim, u64 token_elems, bool force_split_kernel) {
  const u64 e = ev.e();
  const u64 dmax = std::max(qk_dim, v_dim);
  // A variant without tile parameters (paged: the library's paged path, which takes none) runs the
  // implementation's own tiles.
  const bool tiles_given = variant_param(ev.w().variant, "block_n") != nullptr;
  BlockSizes bs = tiles_given ? blocks_for(ev, dmax) : impl_tiles(ev.w(), KernelRole::splitkv, dmax);
  u64 key_blocks = ceil_div(nk, bs.bc);
  u64 row_tile = tiles_given ? decode_row_tile(ev.w()) : bs.br;
  u64 row_tiles = ceil_div(rows, row_tile);
  Count base_ctas = Count(batch) * sets * row_tiles;
  const auto traits = ev.traits(KernelRole::splitkv, dmax);
  u64 splits = 0;
  // --splits where the variant declares it (flash2's decode through the library chooses its own).
  const u64 given = variant_param(ev.w().variant, "splits") != nullptr ? ev.w().count("splits") : 0;
  if (given != 0) {
    splits = min_u(given, key_blocks);
  } else if (traits && traits->sm_parts_splits) {
    // FlashMLA: about one CTA per SM over the whole batch (dense_decode.h:78).
    splits = std::clamp<u64>(static_cast<u64>(ev.dev().sm_count) / max_u(1, base_ctas.v), 1, key_blocks);
  } else {
    splits = auto_splits(ev, base_ctas, key_blocks, traits ? traits->split_slots_per_sm : 2);
  }
  // One split: flash-attention runs its regular forward kernel (KernelTraits::unsplit_runs_fwd),
  // its m-block padded with the packed query rows, its own key block, warps and waits. The split
  // count was chosen over the split kernel's 64-row m-blocks (flash_api.cpp num_m_blocks), the grid
  // is the forward kernel's. Only where the workload's tiles are the library's (no --block-n) and
  // the forward's fit its on-chip memory (impl_tiles returns them then).
  KernelRole role = KernelRole::splitkv;
  if (!force_split_kernel && tiles_given && splits == 1 && traits && traits->unsplit_runs_fwd &&
      ev.w().count("block_n") == traits->block_n) {
    const auto fwd = ev.traits(KernelRole::fwd, dmax);
    const BlockSizes fits = impl_tiles(ev.w(), KernelRole::fwd, dmax);
    if (fwd && fwd->block_m != 0 && fits.br == fwd->block_m && fits.bc == fwd->block_n) {
      role = KernelRole::fwd;
      bs = fits;
      row_tile = fits.br;
      row_tiles = ceil_div(rows, row_tile);
      key_blocks = ceil_div(nk, bs.bc);
      base_ctas = Count(batch) * sets * row_tiles;
    }
  }
  // Shared memory per CTA: its query tile, allocated whole whatever rows are valid (FA2's sQ is
  // kBlockM x kHeadDim, kernel_traits.h SmemLayoutQ; FlashMLA's and Flash-Decoding's tiles are
  // FA2-style static tiles too; attnio's own decode kernel sizes its rows 1, 8 or 16 by the group,
  // kernels/decoding.cu, counted here as its 16-row tile: at d = 128 either gives 3 CTAs per SM),
  // and one K/V block as the cache stores it
  // (token_bytes: a quantized cache is staged in its own format and converted on the way to the
  // registers; MLA's V is a view of the latent K row). FA2 at d = 128: 64 x 128 x 2 + 128 x 512 =
  // 80 KiB, the 81.92 KB Nsight Compute reports (validation/sources/counters.csv).
  const Count smem = Count(e) * row_tile * qk_dim + Count(min_u(bs.bc, nk)) * token_bytes;
  const u64 per_sm = ev.ctas_per_sm(smem);
  ev.out().splits = splits;
  ev.out().block_n = bs.bc;
  ev.out().block_m = min_u(rows, row_tile);
  ev.out().row_tile = row_tile;

  KernelCost& k = ev.add(name, base_ctas * splits, per_sm);
  const Count heads = Count(batch) * sets * rows;
  k.tensor_flops = heads * nk * 2 * (qk_dim + v_dim);
  k.sfu_ops = heads * nk;
  k.fp32_flops = heads * (Count(nk) * 3 + Count(key_blocks) * v_dim);
  ev.attention_kernel(k, role, dmax);
  // Every row of a CTA's row tile is evaluated, padding rows included (FA2 pads the m-block).
  const Count rows_evaluated = Count(batch) * sets * row_tiles * row_tile;
  // Per score the FFMA and the row-sum add (FMA pipe), the max and half a pack (ALU, flash.cpp
  // per_score_instr); per key block the rescale of O.
  k.fp32_instr = rows_evaluated * nk * 2 + heads * Count(key_blocks) * v_dim;
  add_alu(k, rows_evaluated * nk + Count((rows_evaluated * nk).v / 2));
  // A quantized cache: every row tile's CTA converts the elements it reads (common.hpp): FP32-pipe
  // instructions, not FLOPs.
  k.fp32_instr += Count(batch) * sets * row_tiles * nk * token_elems * kv_dequant_instr(ev.w());
  k.tensor_issue = rows_evaluated * nk * 2 * (qk_dim + v_dim);
  k.sfu_issue = rows_evaluated * nk;
  k.block_iters = base_ctas * key_blocks;
  k.inflight_bytes = Count(min_u(bs.bc, nk)) * token_bytes;
  const Count cache = Count(batch) * sets * nk * token_bytes;
  const Count cache_total = cache * row_tiles;
  // Row tiles of one set are adjacent in the grid and read its slice together.
  Evaluator::read_stream(k, cache_total, ev.shared(k, cache, cache_total, row_tiles, 1, 1, 0), kFlashWarps);
  const Count q = heads * qk_dim * e * splits;  // every split reads the query rows
  Evaluator::read_stream(k, q, ev.shared(k, heads * qk_dim * e, q, splits, 1, 1, 0), 1);
  if (traits && traits->splitkv_q_per_block) {
    // Each CTA's warps read their rows of the whole Q tile, padding rows included, out of shared
    // memory again for every key block: over a row tile's splits, once per key block.
    const Count q_reads = Count(batch) * sets * row_tiles * row_tile * qk_dim * e * key_blocks;
    if (q_reads > q) k.sram_read += q_reads - q;
  }
  if (splits == 1) {
    Evaluator::write_direct(k, heads * v_dim * e);
    return;
  }
  const Count partial = heads * splits * (v_dim + 1) * kStatBytes;
  Evaluator::write_direct(k, partial);
  const u64 combine_rows = traits ? traits->combine_rows : 0;
  KernelCost& c = combine_rows != 0 ? ev.add("combine_splits", Count(ceil_div(heads.v, combine_rows)), kSmallCtasPerSm)
                                    : rowwise(ev, "combine_splits", heads * v_dim);
  if (combine_rows != 0) {
    // flash-attention's combine (impl.hpp combine_rows): per CTA, its first load (the LSEs) is the
    // fill's; then 2 barriers and one waited L2 round trip per split, in one pass.
    c.mma_warps = 4;
    c.waits = {.barriers = 2, .l2_reads = static_cast<std::uint32_t>(splits)};
    c.block_iters = c.ctas;
    c.l2_reads_inherited = true;  // the split kernel's O and LSE partials, just written
  }
  Evaluator::read_direct(c, partial);
  Evaluator::write_direct(c, heads * v_dim * e);
  c.sfu_ops = heads * splits;
  c.fp32_flops = heads * splits * (v_dim * 2 + 2);
  ev.out().extra_memory_bytes += partial;
}


// ---- tile schedule ------------------------------------------------------------------------------


// Split-KV decode (flash-attention's flash_fwd_splitkv_kernel; grid: row tile fastest, then split,
// then (batch, set)). `separate_v`: K and V are separate arrays (flash-decoding); otherwise one
// cache row per token holds both (MLA's latent + rope, values = the latent part).
void split_kv(Scheduler& sc, std::string name, u64 batch, u64 sets,
              u64 rows, u64 nk, u64 qk, u64 vd, bool separate_v, u64 k_row, u64 v_row, u64, u64 splits_given,
              u64 page_tokens) {
  const Prediction& f = sc.formula();
  std::vector<SimKernel>& out = sc.out();
  AddressSpace& as = sc.as();
  const u64 e = sc.e();
  const u64 bc = f.block_n, splits = splits_given != 0 ? splits_given : f.splits;
  const u64 key_blocks = ceil_div(nk, bc), per_split = ceil_div(key_blocks, splits);
  const u64 rtile = f.row_tile != 0 ? f.row_tile : decode_row_tile(f.workload);
  const u64 row_tiles = ceil_div(rows, rtile);
  const u64 token = separate_v ? k_row + v_row : k_row;
  const u64 q = as.alloc(Count(batch) * sets * rows * qk * e);
  // Paged: pages of page_tokens tokens (all sets of a token in one page, as the library's
  // [pages, page, heads, d] cache), each sequence's logical pages mapped to physical ones by a fixed
  // permutation (as vLLM's schedule in paged.cpp), and its table of int32 entries.
  const u64 pages = page_tokens != 0 ? ceil_div(nk, page_tokens) : 0;
  const u64 slots = (Count(batch) * pages).v, stride = page_permutation_stride(slots);
  const u64 table = page_tokens != 0 ? as.alloc(Count(slots) * 4) : 0;
  const u64 cache_tokens = page_tokens != 0 ? slots * page_tokens : batch * nk;
  const u64 kc = as.alloc(Count(cache_tokens) * sets * k_row);
  const u64 vc = separate_v ? as.alloc(Count(cache_tokens) * sets * v_row) : 0;
  // Where token t of (sequence b, set h) lives, in rows of one set.
  const auto row_of = [=](u64 b, u64 h, u64 t) -> u64 {
    if (page_tokens == 0) return (b * sets + h) * nk + t;
    const u64 phys = ((b * pages + t / page_tokens) * stride) % slots;
    return (phys * sets + h) * page_tokens + t % page_tokens;
  };
  const u64 part = as.alloc(Count(batch) * sets * splits * rows * (vd + 1) * kStat);
  const u64 o = as.alloc(Count(batch) * sets * rows * vd * e);
  SimKernel k;
  k.name = std::move(name);
  k.ctas = (Count(batch) * sets * row_tiles * splits).v;
  k.smem = {{"Q tile", rtile * qk * e}, {"K/V block", min_u(bc, nk) * token}};  // as split_kv_decode
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 rt = cta % row_tiles, sp = (cta / row_tiles) % splits, bs = cta / (row_tiles * splits);
    const u64 r0 = rt * rtile, nr = min_u(rows, r0 + rtile) - r0;
    Step first;
    first.read("Q", q + (bs * rows + r0) * qk * e, nr * qk * e);
    const u64 j0 = sp * per_split, j1 = min_u(key_blocks, (sp + 1) * per_split);
    if (page_tokens != 0 && j1 > j0) {
      const u64 b = bs / sets, p0 = j0 * bc / page_tokens, p1 = (min_u(nk, j1 * bc) - 1) / page_tokens;
      first.read("block table", table + (b * pages + p0) * 4, (p1 - p0 + 1) * 4);
    }
    steps.push_back(first);
    for (u64 j = j0; j < j1; ++j) {
      const u64 k0 = j * bc, cols = min_u(nk, k0 + bc) - k0;
      const u64 at = row_of(bs / sets, bs % sets, k0);
      Step st;
      if (separate_v) {
        st.read("K", kc + at * k_row, cols * k_row);
        st.read("V", vc + at * v_row, cols * v_row);
      } else {
        st.read("latent", kc + at * k_row, cols * k_row);
      }
      const double area = static_cast<double>(nr * cols);
      st.tensor = 2 * area * static_cast<double>(qk + vd);
      st.sfu = area;
      st.fp32 = 3 * area;
      st.sram = static_cast<double>(cols * token * (1 + traits::kFlashWarps));
      steps.push_back(st);
    }
    Step last;
    if (splits == 1) last.write("O", o + (bs * rows + r0) * vd * e, nr * vd * e);
    else last.write("partial O", part + ((bs * splits + sp) * rows + r0) * (vd + 1) * kStat, nr * (vd + 1) * kStat);
    steps.push_back(last);
  };
  out.push_back(std::move(k));
  if (splits == 1) return;
  SimKernel c;
  c.name = "combine_splits";
  c.ctas = (Count(batch) * sets * rows).v;
  c.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 r = cta % rows, bs = cta / rows;
    Step st;
    st.read("partial O", part + (bs * splits * rows + r) * (vd + 1) * kStat, (vd + 1) * kStat, splits, rows * (vd + 1) * kStat);
    st.write("O", o + (bs * rows + r) * vd * e, vd * e);
    st.fp32 = static_cast<double>(splits * (2 * vd + 2));
    st.sfu = static_cast<double>(splits);
    steps.push_back(st);
  };
  out.push_back(std::move(c));
}

namespace {

void tiles(Workload& w) {
  const u64 d = std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim);
  fill_tiles(w, KernelRole::splitkv, d);
}

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kSplits, &kKvBits, &kKvGroup};
const VariantDescriptor kDesc{
    .name = "flash-decoding",
    .summary = "decode with split-KV and a combine kernel, GQA heads packed (Flash-Decoding)",
    .sources = "Dao et al. 2023, Flash-Decoding for long-context inference; flash-attention flash_api.cpp",
    .params = kParams, .prefill = false, .cpu_reference = true, .kernel_decode = "flash_decoding_splitkv",
    .check = [](const Workload& w, const Device&) {
      check_block_tiles(w);
      check_kv_format(w);
    },
    .evaluate = [](Evaluator& ev) {
      const Shape s = ev.shape();
      if (runs_flashinfer_decode(ev.w())) return flashinfer_decode(ev, false);
      split_kv_decode(ev, "flash_decoding_splitkv", s.batch, s.kv_heads, s.group(), s.nk,
                      kv_row_bytes(ev.w(), s.d) + kv_row_bytes(ev.w(), s.dv), s.d, s.dv, s.d + s.dv);
    },
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N_kv·d) per K/V head"; },
    .params_text = [](const Prediction& p) {
      std::string s = splits_text(p);
      if (const u64 bits = p.workload.count("kv_bits"); bits != 0) {
        put(s, "kv_bits", num(bits));
        put(s, "kv_group", num(p.workload.count("kv_group")));
      }
      return s;
    },
    .schedule = [](Scheduler& sc) {
      const Shape s = sc.shape();
      if (runs_flashinfer_decode(sc.w())) return flashinfer_schedule(sc, false);
      split_kv(sc, "flash_decoding_splitkv", s.batch, s.kv_heads, s.group(), s.nk, s.d, s.dv, true, kv_row_bytes(sc.w(), s.d),
               kv_row_bytes(sc.w(), s.dv), s.d + s.dv);
    },
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) -> std::string {
      if (runs_flashinfer_decode(p.workload)) return flashinfer_derivation(p, false);
      const Workload& w = p.workload;
      const u64 bits = w.count("kv_bits");
      std::string cache = bits == 0 ? "2·B·Nk·Hkv·d·e = 2·" + num(w.batch) + "·" + num(w.kv_len) + "·" + num(w.kv_heads) + "·" +
                                          num(w.head_dim) + "·" + num(dtype_bytes(w.dtype)) + " bytes"
                                    : "B·Nk·Hkv·(K row + V row) = " + num(w.batch) + "·" + num(w.kv_len) + "·" + num(w.kv_heads) +
                                          "·(" + num(kv_row_bytes(w, w.head_dim)) + " + " + num(kv_row_bytes(w, w.v_head_dim)) +
                                          ") bytes: " + num(bits) + "-bit elements" +
                                          (w.count("kv_group") != 0 ? " with an fp16 scale and zero point per " +
                                                                          num(w.count("kv_group")) + " (KIVI)"
                                                                    : " with one scale per tensor") +
                                          ", converted back at " + num(kv_dequant_instr(w)) + " FP32 instruction(s) per element";
      std::string text = "Flash-Decoding: one query token per sequence, so the K/V cache (" + cache + ") dominates; the " +
                         num(w.heads / w.kv_heads) + " query heads of a group share one read, and the keys are split " + num(p.splits) +
                         " ways so that all SMs stream. Arithmetic intensity ≈ 2·g/e FLOP/byte, far left of the ridge (the "
                         "roofline's verdict: memory-bound); rows padded to the implementation's tile can still make MMA "
                         "issue the limit (the time below).\n";
      if (bits != 0) {
        text += "FlashAttention-2 reads bf16/fp16 caches only; fp8 caches are read by vLLM, FlashInfer and FireAttention, "
                "4-bit ones by KIVI's kernels: the profile's tiles stand in for theirs.\n";
      }
      return text;
    }};

}  // namespace

const VariantDescriptor& flash_decoding_variant() { return kDesc; }

}  // namespace attnio::detail
