// FlexAttention block masks (PyTorch FlexAttention; Dong, Feng, Guessous, Liang & He 2024, "Flex
// Attention: A Programming Model for Generating Optimized Attention Kernels", §3-4): a mask given as
// a rule is turned into a BlockMask that classifies each (Q block, K/V block) pair as empty (skipped),
// full (no mask evaluated) or partial (mask_mod evaluated per score); the generated Triton kernel is
// FlashAttention-2's loop over the non-empty blocks. Rules here: packed documents, causal within each
// (document masking), and prefix-LM. engine/plan.hpp holds the masks, shared with the simulator.
#include "flash.hpp"

#include <bit>

namespace attnio::detail {

namespace {

const ParamSpec kDocLen{
    .key = "doc_len", .default_text = "0 (off)", .max = u64{1} << 32, .zero_is_auto = true, .unit = "tokens",
    .help = "flex: packed documents of mean length L (L/2, L, 3L/2 repeating), causal within each; 0: off",
    .source = "FlexAttention document masking (Dong et al. 2024 §4, the document_mask example)"};
const ParamSpec kPrefix{
    .key = "prefix", .default_text = "0 (off)", .max = u64{1} << 32, .zero_is_auto = true, .unit = "tokens",
    .help = "flex: prefix-LM, bidirectional over the first P tokens and causal after; 0: off",
    .source = "Raffel et al. 2020 (T5) §3.2.1 prefix LM; FlexAttention prefix_lm_causal example"};

// The rule the flags name: documents, prefix-LM, else flash2's (causal or none).
Mask flex_mask(const Workload& w, u64 n, u64 nk) {
  Mask m = attention_mask(w, n, nk);
  if (const u64 L = w.count("doc_len"); L != 0) {
    m.kind = MaskKind::document;
    m.window = L;
  } else if (const u64 P = w.count("prefix"); P != 0) {
    m.kind = MaskKind::prefix_lm;
    m.window = P;
  }
  return m;
}

// ---- FlexDecoding --------------------------------------------------------------------------------
// flex_attention with fewer than 128 query tokens runs PyTorch's FlexDecoding kernel
// (torch/_inductor/kernel/flex/flex_decoding.py @00804f38, _use_flex_decoding: static batch and
// heads, and a group size g = H/Hkv that is a power of two; otherwise the main flex_attention
// kernel, one query head per CTA). Its traits: impl.cpp flex_decoding_traits.

constexpr u64 kFlexSparseBlock = 128;  // create_block_mask's default BLOCK_SIZE

bool runs_flex_decoding(const Workload& w) {
  if (w.phase != Phase::decode || w.kv_heads == 0) return false;
  const u64 g = w.heads / w.kv_heads;
  if (g == 0 || (g & (g - 1)) != 0) return false;
  const auto t = impl_traits(w, KernelRole::splitkv, std::max(w.head_dim, w.v_head_dim));
  return t && t->flex_decoding;
}

// How FlexDecoding lays one call out (flex_decode.py.jinja; flex_decoding.py get_split_k and the
// BLOCK_M default). The block mask is the one create_block_mask builds (128-key sparse blocks), as
// serving code passes it; a call with no block mask gets one sparse block covering every key, and
// then split 0 walks them all (TILE_KV from that one block), which is not modelled.
struct FlexSplit {
  u64 splits = 1;       // SPLIT_KV: launched splits per (batch, K/V head)
  u64 row_tile = 16;    // BLOCK_M
  u64 tile_blocks = 1;  // TILE_KV / BLOCK_N: key blocks each split walks at most
  u64 first = 0;        // first key block the query sees
  u64 blocks = 0;       // key blocks the query sees (from `first`)
  u64 tokens = 0;       // keys in those blocks
  u64 busy = 1;         // splits with any block to walk
};

FlexSplit flex_split(const Workload& w, const Device& dev, u64 bn) {
  const Shape s = shape_of(w);
  FlexSplit p;
  // get_split_k: "num_SM // bh * 2", at least 1, with bh = B·Hkv.
  p.splits = std::max<u64>(1, static_cast<u64>(dev.sm_count) / max_u(1, s.batch * s.kv_heads) * 2);
  p.row_tile = std::max<u64>(16, std::bit_ceil(s.n * s.group()));
  // With full blocks (create_block_mask's), TILE_KV = cdiv(cdiv(KV_LEN, SPLIT_KV), BLOCK_N) x
  // BLOCK_N, whatever the mask leaves: splits past the visible blocks walk nothing.
  p.tile_blocks = max_u(1, ceil_div(ceil_div(s.nk, p.splits), bn));
  // The kernel walks every BLOCK_N of each 128-key sparse block the mask lists (partial or full),
  // up to the last valid block of the keys (block_n_last_valid).
  const KeyRange r = key_range(flex_mask(w, s.n, s.nk), static_cast<std::int64_t>(s.n) - 1, s.nk);
  const u64 lo = static_cast<u64>(r.lo), hi = static_cast<u64>(r.hi);
  const u64 sparse = kFlexSparseBlock;
  p.first = lo / sparse * sparse / bn;
  const u64 end = std::min(ceil_div(hi, sparse) * sparse / bn, ceil_div(s.nk, bn));
  p.blocks = hi > lo && end > p.first ? end - p.first : 0;
  p.tokens = p.blocks == 0 ? 0 : min_u(s.nk, end * bn) - p.first * bn;
  p.busy = std::clamp<u64>(ceil_div(p.blocks, p.tile_blocks), 1, p.splits);
  return p;
}

// The closed form. Partial blocks are dealt from split 0 and full ones from the last split
// backwards (flex_decode.py.jinja); counted here as one run of `blocks` over the busy splits, which
// can be one CTA fewer than the kernel's when both lists are short.
void flex_decode(Evaluator& ev) {
  const Workload& w = ev.w();
  const Shape s = ev.shape();
  const u64 e = ev.e(), dmax = std::max(s.d, s.dv);
  const KernelTraits t = *ev.traits(KernelRole::splitkv, dmax);
  const u64 bn = w.count("block_n") != 0 ? w.count("block_n") : t.block_n;
  const FlexSplit p = flex_split(w, ev.dev(), bn);
  const u64 rows = s.n * s.group();  // the query rows of one K/V head, packed into one CTA
  const Count sets = Count(s.batch) * s.kv_heads;
  const u64 stages = max_u(1, t.load_buffers);
  // Shared memory: the K and V tiles of each stage and the P tile converted for the PV dot.
  const Count smem = Count(bn) * (s.d + s.dv) * e * stages + Count(p.row_tile) * bn * e;
  // Empty splits load Q and write their partials; the execution model counts the busy ones.
  KernelCost& k = ev.add("flex_decoding", sets * p.busy, ev.ctas_per_sm(smem));
  ev.attention_kernel(k, KernelRole::splitkv, dmax);
  ev.out().splits = p.splits;
  ev.out().block_n = bn;
  ev.out().block_m = min_u(rows, p.row_tile);
  ev.out().row_tile = p.row_tile;
  const Count heads = sets * rows;
  const Count visible = heads.v == 0 ? Count(0) : Count(p.tokens);
  k.tensor_flops = heads * visible * 2 * (s.d + s.dv);
  k.sfu_ops = heads * visible;
  k.fp32_flops = heads * (visible * 3 + Count(p.blocks) * s.dv);
  // Issue: every row of BLOCK_M and every key of a visited block (the padded rows and the masked
  // keys of a partial block are computed), with the split-KV kernel's FP32 count per score.
  const Count padded = sets * p.row_tile;
  const Count scored = padded * p.blocks * bn;
  // Triton's MMAs run over the head dims padded to a power of two (QK_HEAD_DIM_ROUNDED).
  k.tensor_issue = scored * 2 * (triton_padded_dim(s.d) + triton_padded_dim(s.dv));
  k.sfu_issue = scored;
  k.fp32_instr = scored * 2 + padded * p.blocks * s.dv;  // FMA pipe; the max and half a pack beside it
  add_alu(k, scored + Count(scored.v / 2));
  // The busy splits start together (the grid is one wave of them); a mask that leaves one split
  // all the blocks (a document shorter than a split's tile) is not a tail the model prices.
  k.block_iters = sets * p.blocks;
  k.inflight_bytes = Count(min_u(bn, s.nk)) * (s.d + s.dv) * e * stages;
  // K and V: each (batch, K/V head) reads its visible blocks once, split by split.
  const Count kv = sets * p.tokens * (s.d + s.dv) * e;
  Evaluator::read_stream(k, kv, kv, t.readers());
  // P through shared memory each key block: written once, read by both warps.
  k.sram_write += scored * e;
  k.sram_read += scored * e * t.mma_warps;
  // Q: every launched CTA loads its rows (one fetch from DRAM).
  const Count q = heads * s.d * e;
  k.l2_read += q * p.splits;
  k.hbm_read += ev.filtered(q, q * p.splits, 0);
  if (t.waited & KernelTraits::kWaitAll) Evaluator::all_loads_waited(k);
  // Every launched split writes its ACC [B][SPLIT_KV][H][n][dv] and its M and L, fp32.
  const Count acc = heads * p.splits * s.dv * kStatBytes, ml = heads * p.splits * 2 * kStatBytes;
  Evaluator::write_direct(k, acc + ml);
  ev.out().extra_memory_bytes += acc + ml;
  // The reduction (flex_decoding.py, after autotune_select_algorithm): inductor ops over the split
  // axis, two kernels by their iteration spaces. One reduces M and L per row (global max, the
  // rescaled sum, log2 for the logsumexp it returns); the other sums ACC x exp2(M - max) over the
  // splits per output element, divides by the sum and converts to the input dtype.
  KernelCost& r1 = rowwise(ev, "flex_decode_reduce_lse", heads);
  Evaluator::read_direct(r1, ml);
  Evaluator::write_direct(r1, heads * 3 * kStatBytes);
  r1.sfu_ops = heads * (p.splits + 1);
  r1.fp32_flops = heads * p.splits * 3;
  KernelCost& r2 = rowwise(ev, "flex_decode_reduce_out", heads * s.dv);
  Evaluator::read_direct(r2, acc + heads * p.splits * kStatBytes + heads * 2 * kStatBytes);
  Evaluator::write_direct(r2, heads * s.dv * e);
  r2.sfu_ops = heads * s.dv * p.splits;  // alpha = exp2(M - max), per element of the fused reduction
  r2.fp32_flops = heads * s.dv * (p.splits * 3 + 1);
}

// The tile schedule: the same launch, split by split.
void flex_decode_schedule(Scheduler& sc) {
  const Prediction& f = sc.formula();
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const u64 e = sc.e(), bn = f.block_n;
  const FlexSplit p = flex_split(w, sc.dev(), bn);
  const u64 rows = s.n * s.group(), sets = s.batch * s.kv_heads;
  AddressSpace& as = sc.as();
  const u64 q = as.alloc(Count(sets) * rows * s.d * e);
  const u64 kc = as.alloc(Count(sets) * s.nk * s.d * e);
  const u64 vc = as.alloc(Count(sets) * s.nk * s.dv * e);
  const u64 acc = as.alloc(Count(sets) * p.splits * rows * s.dv * kStatBytes);
  const u64 ml = as.alloc(Count(sets) * p.splits * rows * 2 * kStatBytes);
  const u64 o = as.alloc(Count(sets) * rows * s.dv * e);
  const u64 lse = as.alloc(Count(sets) * rows * 3 * kStatBytes);
  SimKernel k;
  k.name = "flex_decoding";
  k.ctas = sets * p.splits;
  const auto t = impl_traits(w, KernelRole::splitkv, std::max(s.d, s.dv));
  k.smem = {{"K/V stages", bn * (s.d + s.dv) * e * max_u(1, t ? t->load_buffers : 1)},
            {"P tile", p.row_tile * bn * e}};
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 sp = cta % p.splits, set = cta / p.splits;
    Step first;
    first.read("Q", q + set * rows * s.d * e, rows * s.d * e);
    steps.push_back(first);
    const u64 j0 = p.first + sp * p.tile_blocks, j1 = min_u(p.first + p.blocks, j0 + p.tile_blocks);
    for (u64 j = j0; j < j1; ++j) {
      const u64 k0 = j * bn, cols = min_u(s.nk, k0 + bn) - k0;
      Step st;
      st.read("K", kc + (set * s.nk + k0) * s.d * e, cols * s.d * e);
      st.read("V", vc + (set * s.nk + k0) * s.dv * e, cols * s.dv * e);
      const double area = static_cast<double>(rows * cols);
      st.tensor = 2 * area * static_cast<double>(s.d + s.dv);
      st.sfu = area;
      st.fp32 = 3 * area;
      st.sram = static_cast<double>(cols * (s.d + s.dv) * e * 2 + p.row_tile * bn * e * 3);
      steps.push_back(st);
    }
    Step last;
    last.write("ACC", acc + (set * p.splits + sp) * rows * s.dv * kStatBytes, rows * s.dv * kStatBytes);
    last.write("M, L", ml + (set * p.splits + sp) * rows * 2 * kStatBytes, rows * 2 * kStatBytes);
    steps.push_back(last);
  };
  sc.out().push_back(std::move(k));
  SimKernel r1;
  r1.name = "flex_decode_reduce_lse";
  r1.ctas = sets;
  r1.program = [=](u64 cta, std::vector<Step>& steps) {
    Step st;
    st.read("M, L", ml + cta * p.splits * rows * 2 * kStatBytes, p.splits * rows * 2 * kStatBytes);
    st.write("max, sum, lse", lse + cta * rows * 3 * kStatBytes, rows * 3 * kStatBytes);
    st.sfu = static_cast<double>(rows * (p.splits + 1));
    st.fp32 = static_cast<double>(rows * p.splits * 3);
    steps.push_back(st);
  };
  sc.out().push_back(std::move(r1));
  SimKernel r2;
  r2.name = "flex_decode_reduce_out";
  r2.ctas = sets;
  r2.program = [=](u64 cta, std::vector<Step>& steps) {
    Step st;
    st.read("ACC", acc + cta * p.splits * rows * s.dv * kStatBytes, p.splits * rows * s.dv * kStatBytes);
    st.read("M", ml + cta * p.splits * rows * 2 * kStatBytes, p.splits * rows * kStatBytes);
    st.read("max, sum", lse + cta * rows * 3 * kStatBytes, rows * 2 * kStatBytes);
    st.write("O", o + cta * rows * s.dv * e, rows * s.dv * e);
    st.sfu = static_cast<double>(rows * s.dv * p.splits);
    st.fp32 = static_cast<double>(rows * s.dv * (p.splits * 3 + 1));
    steps.push_back(st);
  };
  sc.out().push_back(std::move(r2));
}

// What PyTorch refuses rather than runs: a configuration whose shared memory the chip cannot give
// one block (Triton raises OutOfResources: "Required: 131074, Hardware limit: 101376" for the
// sm8x head-dim-128 forward on an sm89 card, pytorch/pytorch#133254), a FlexDecoding row tile
// larger than the block mask's 128-token query block, or a key block that does not divide its
// 128-key blocks (flex_decoding.py raise_flex_decoding_kernel_options_error).
void check_flexattn(const Workload& w, const Device& dev) {
  const u64 dq = w.head_dim, dv = w.v_head_dim == 0 ? w.head_dim : w.v_head_dim, d = std::max(dq, dv);
  const u64 e = dtype_bytes(w.dtype);
  // Shared memory per block at the workload's own head dims (Q + stages of K and V; the known
  // failures reproduce it: 131,072 B for the sm8x 128 x 64, 3-stage forward at 128/128 against an
  // sm89 block's 101,376, pytorch#133254; 147,456 B for (64, 64, 3) at 192/128, pytorch#180278).
  // The forward and decode tiles are the workload's (the heuristic's unless --block-m/--block-n
  // give others, as kernel_options would); the backward's are the heuristic's.
  const u64 bm = w.count("block_m"), bn = w.count("block_n");
  const auto need = [&](KernelRole role, const KernelTraits& t) -> u64 {
    const u64 stages = max_u(1, t.load_buffers);
    if (role == KernelRole::splitkv) return e * (stages * bn * (dq + dv) + bm * bn);
    if (role == KernelRole::bwd) {
      const u64 held = std::max(t.flex_bwd.n1, t.flex_bwd.m2), streamed = std::max(t.flex_bwd.m1, t.flex_bwd.n2);
      return e * (held + stages * streamed) * (dq + dv);
    }
    return e * (bm * dq + stages * bn * (dq + dv));
  };
  // What one block may take: the SM's shared memory less the 1 KB the system reserves per block
  // (CUDA C++ Programming Guide, "Shared Memory" of compute capabilities 8.x and 9.0: 163 KB per
  // block of 164 on 8.0, 99 of 100 on 8.6/8.9, 227 of 228 on 9.0).
  const double per_block = dev.smem_bytes_per_sm - 1024;
  const auto fits = [&](KernelRole role, const char* what) {
    const auto t = impl_traits(w, role, d);
    if (!t) return;
    const u64 bytes = need(role, *t);
    if (static_cast<double>(bytes) <= per_block) return;
    throw InputError("flex: FlexAttention's " + std::string(what) + " tiles for head dim " + num(d) + " need " + num(bytes) +
                     " B of shared memory per block, more than the " + num(static_cast<u64>(per_block)) + " B " + dev.key +
                     " gives a block (Triton raises OutOfResources; PyTorch takes other tiles only through kernel_options)");
  };
  if (runs_flex_decoding(w)) {
    const u64 rows = w.query_len() * (w.heads / w.kv_heads);
    if (rows > 128) {
      throw InputError("flex: FlexDecoding packs the " + num(rows) + " query rows of a K/V head into one tile, which must "
                       "divide the block mask's 128-token query blocks: at most 128 (query tokens x heads per K/V head)");
    }
    if (const u64 bn = w.count("block_n"); bn != 0 && 128 % bn != 0) {
      throw InputError("flex: --block-n " + num(bn) + " must divide the block mask's 128-key blocks (FlexDecoding)");
    }
    fits(KernelRole::splitkv, "decode (FlexDecoding)");
    return;
  }
  if (w.pass != Pass::bwd) fits(KernelRole::fwd, "forward");
  if (w.pass != Pass::fwd) fits(KernelRole::bwd, "backward");
}

void check_flex(const Workload& w, const Device& dev) {
  if (w.impl != nullptr && w.impl->key == "flexattn") check_flexattn(w, dev);
  check_block_tiles(w);
  const u64 L = w.count("doc_len"), P = w.count("prefix");
  if (L != 0 && P != 0) throw InputError("flex: give --doc-len or --prefix, one mask rule at a time");
  if (L != 0 && (L < 2 || L % 2 != 0)) throw InputError("flex: --doc-len must be even (documents of L/2, L and 3L/2 tokens)");
  if ((L != 0 || P != 0) && w.phase == Phase::prefill && w.kv_len != w.seq) {
    throw InputError("flex: document and prefix-LM masks are self-attention over one packed sequence: --kv-len must equal --seq");
  }
}

void tiles(Workload& w) {
  const u64 d = std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim);
  if (runs_flex_decoding(w)) {
    const auto t = impl_traits(w, KernelRole::splitkv, d);
    if (w.count("block_n") == 0) w.set("block_n", t->block_n);
    if (w.count("block_m") == 0) w.set("block_m", std::max<u64>(t->block_m, std::bit_ceil(w.query_len() * (w.heads / w.kv_heads))));
    return;
  }
  flash_kernel_tiles(w, d);
}

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kDocLen, &kPrefix};
const VariantDescriptor kDesc{
    .name = "flex",
    .summary = "FlexAttention block masks: packed documents or prefix-LM, only non-empty blocks visited",
    .sources = "Dong et al. 2024, FlexAttention, §3-4 (BlockMask: empty / full / partial blocks); T5 §3.2.1 prefix LM",
    .params = kParams, .backward = true,
    .check = check_flex,
    .evaluate = [](Evaluator& ev) {
      if (runs_flex_decoding(ev.w())) return flex_decode(ev);
      flash_passes(ev, ev.shape(), flex_mask(ev.w(), ev.shape().n, ev.shape().nk), {}, false);
    },
    .io_complexity = [](const Workload& w) -> std::string_view {
      if (w.phase == Phase::decode) return w.count("doc_len") != 0 ? "Θ(L·d) per K/V head" : "Θ(N_kv·d) per K/V head";
      return w.count("doc_len") != 0 ? "Θ(N·L·d²/M) per head (L: document length)" : "Θ(N²·d²/M) per head";
    },
    .params_text = [](const Prediction& p) {
      std::string s;
      if (const u64 L = p.workload.count("doc_len"); L != 0) put(s, "doc_len", num(L));
      if (const u64 P = p.workload.count("prefix"); P != 0) put(s, "prefix", num(P));
      return s;
    },
    .schedule = [](Scheduler& sc) {
      if (runs_flex_decoding(sc.w())) return flex_decode_schedule(sc);
      flash_family(sc, sc.shape(), flex_mask(sc.w(), sc.shape().n, sc.shape().nk), {}, false);
    },
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      const u64 L = w.count("doc_len"), P = w.count("prefix");
      std::string rule = L != 0 ? "packed documents of " + num(L / 2) + ", " + num(L) + " and " + num(L + L / 2) +
                                      " tokens (mean " + num(L) + "), causal within each: a Q block visits only the K/V "
                                      "blocks of its own documents, so the work grows as N·L instead of N²/2"
                         : P != 0 ? "prefix-LM: the first " + num(P) + " tokens see each other, the rest are causal"
                                  : std::string(w.causal ? "causal" : "no mask");
      if (runs_flex_decoding(w)) {
        const u64 g = w.heads / w.kv_heads;
        const std::string heads = num(g) + (g == 1 ? " query head" : " query heads");
        return "FlexAttention (Dong et al. 2024) in decode: with fewer than 128 query tokens and " + heads +
               " per K/V head (a power of two) flex_attention runs PyTorch's FlexDecoding kernel: the group's " + heads +
               " packed as the rows of one " + num(p.row_tile) + "-row tile, the keys split " +
               num(p.splits) + " ways (2 x SMs / (B·Hkv)), each split walking a fixed tile of " + num(p.block_n) +
               "-key blocks the mask (" + rule + ") may leave empty, fp32 partials reduced over the splits by two "
               "inductor kernels.\n";
      }
      std::string bwd;
      if (w.pass != Pass::fwd && w.impl != nullptr && w.impl->key == "flexattn") {
        const auto t = impl_traits(w, KernelRole::bwd, std::max(w.head_dim, w.v_head_dim));
        if (t && t->flex_bwd.m1 != 0) {
          bwd = " Its backward is FlexAttention's own: one launch of dK/dV programs (one per " + num(t->flex_bwd.n1) +
                "-key block, walking the group's " + num(t->flex_bwd.m1) + "-row query blocks: 4 GEMMs per pair) and dQ "
                "programs (one per " + num(t->flex_bwd.m2) + "-row query block, walking the " + num(t->flex_bwd.n2) +
                "-key blocks: 3 GEMMs per pair), no atomics.";
        }
      }
      return "FlexAttention (Dong et al. 2024): the mask rule (" + rule + ") becomes a block mask; empty blocks are "
             "skipped, full ones run without evaluating the mask, partial ones evaluate it per score. The kernel is "
             "FlashAttention-2's loop over the visited blocks (Br = " + num(p.block_m) + ", Bc = " + num(p.block_n) + ")." + bwd + "\n";
    }};

}  // namespace

const VariantDescriptor& flex_variant() { return kDesc; }

}  // namespace attnio::detail
