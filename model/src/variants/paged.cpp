// vLLM PagedAttention (Kwon et al. 2023, "Efficient Memory Management for Large Language Model
// Serving with PagedAttention", §4; vllm/attention/ops/paged_attn.py, csrc/attention): decode reading
// K/V page by page through a per-sequence block table.
#include "common.hpp"
#include "flashinfer_decode.hpp"
#include "split_kv.hpp"

namespace attnio::detail {

namespace {
bool runs_flash_paged(const Workload& w);
}  // namespace

const ParamSpec kPageSize{
    .key = "page_size", .default_value = 16, .default_text = "16; 256 for FlashAttention's (--impl fa2)", .max = 512,
    .unit = "tokens", .help = "paged: tokens per page (default 16, vLLM's; 256 under FlashAttention's paged cache)",
    .source = "vLLM default block size 16 (vllm/config.py); flash-attention flash_api.cpp: pages a multiple of 256",
    .default_rule = [](const Workload& w) -> double { return runs_flash_paged(w) ? 256 : 16; }};
// Which PagedAttention kernel runs: vLLM's own choice, or v1 or v2 as a benchmark that names one
// runs it (vllm benchmarks/kernels/benchmark_paged_attention.py --version).
const ParamSpec kPagedVersion{
    .key = "paged_version", .default_value = 0, .default_text = "0 (vLLM's choice)", .min = 0, .max = 2,
    .zero_is_auto = true, .unit = "",
    .help = "paged: the PagedAttention kernel, 1 (v1) or 2 (v2); 0: vLLM's choice (v1 up to 8192 tokens when one partition "
            "holds the context or more than 512 CTAs)",
    .source = "vllm/attention/ops/paged_attn.py (the v1/v2 choice); benchmark_paged_attention.py --version"};

namespace {

// vLLM's PagedAttention kernels as compiled: scripts/vllm/ptx --table at vllm-project/vllm 5ed704ec
// (2024-02-04, the code vLLM PR #2744 and the FlashInfer blog's baseline measured) with nvcc 13.0
// (vLLM then built with CUDA 12.1; its ptxas may allocate a few registers differently). Per
// instance (T = fp16 or bf16, HEAD_SIZE, BLOCK_SIZE = 16, 128 threads): ptxas's registers per
// thread for v1 and v2, and what one warp issues per page of 16 tokens in the key loop and the value
// loop together (the PTX, movs not counted): FP32-pipe instructions (FMAs, conversions to and from
// FP32, packed half FMAs), the other instructions (integer, loads, stores, shuffles, predicates),
// and L1 wavefronts: every key load spans two 128-B lines and every value load four (the kernel's
// address arithmetic), and bf16's 4-byte-aligned vectors load 32 bits at a time (4 and 2 times the
// loads of fp16's), plus the shared-memory reads of the query and logits.
// Bytes one L1 data-path cycle (wavefront) moves: a 128-B cache line, the device files' 128 B/clk/SM of
// shared memory (CUDA C++ Programming Guide, compute capability 8.x/9.0: 32 banks x 4 B; 128-B L1 lines).
constexpr u64 kL1Wavefront = 128;
struct VllmKernelRow {
  Dtype dtype;
  u64 d, sm, regs_v1, regs_v2;
  double fp32, other, wavefronts;
};
constexpr VllmKernelRow kVllmKernels[] = {
    {Dtype::fp16, 64, 80, 69, 70, 122, 118, 44},    {Dtype::fp16, 128, 80, 124, 128, 234, 210, 84},
    {Dtype::fp16, 256, 80, 167, 164, 458, 394, 164}, {Dtype::bf16, 64, 80, 72, 72, 90, 114, 116},
    {Dtype::bf16, 128, 80, 127, 126, 169, 205, 228}, {Dtype::bf16, 256, 80, 167, 167, 330, 393, 452},
    {Dtype::fp16, 64, 90, 55, 62, 122, 118, 44},    {Dtype::fp16, 128, 90, 96, 96, 234, 210, 84},
    {Dtype::fp16, 256, 90, 164, 126, 458, 394, 164}, {Dtype::bf16, 64, 90, 56, 56, 170, 130, 116},
    {Dtype::bf16, 128, 90, 96, 96, 329, 237, 228},   {Dtype::bf16, 256, 90, 168, 168, 650, 457, 452},
};

// The compiled row for a call: the 16-token pages and head sizes the table holds, 16-bit caches
// (an FP8 cache runs other instances); nullptr otherwise (the accounting then counts the dot
// products alone and every CTA the threads allow).
const VllmKernelRow* vllm_kernel_row(const Workload& w, u64 d, u64 dv, int cc) {
  if (w.count("page_size") != 16 || d != dv || kv_dequant_instr(w) != 0) return nullptr;
  const u64 sm = cc >= 90 ? 90 : 80;
  for (const VllmKernelRow& r : kVllmKernels) {
    if (r.dtype == w.dtype && r.d == d && r.sm == sm) return &r;
  }
  return nullptr;
}

// vLLM's v1/v2 choice (paged_attn.py: v1 up to 8192 tokens when one 512-token partition holds the
// context or the grid has more than 512 CTAs), or the kernel paged_version names.
bool runs_v1(const Workload& w, u64 nk, u64 pages, u64 bh) {
  if (const u64 version = w.count("paged_version"); version != 0) return version == 1;
  const u64 parts = ceil_div(pages * w.count("page_size"), traits::kPagedPartition);
  return nk <= traits::kPagedV1MaxContext && (parts == 1 || bh > 512);
}

// FlashAttention's paged KV cache (flash-attn >= 2.5.0, `flash_attn_with_kvcache(..., block_table=)`,
// csrc/flash_attn/flash_api.cpp mha_fwd_kvcache; the kernel vLLM PR #2744 put behind its decode in
// 2024-02 and its FLASH_ATTN backend runs since): the split-KV kernel of Flash-Decoding, its GQA
// heads packed and its keys split by the same heuristic, each key block's K and V tiles found
// through the block table (flash_fwd_kernel.h compute_attn_1rowblock_splitkv: before each K and V
// copy, block_table[n_block * kBlockN / page_block_size] moves the tile pointer to that block's
// page). The library takes pages of a multiple of 256 tokens ("Paged KV cache block size must be
// divisible by 256", flash_api.cpp, 2.5.0 through 2.8.3), so a key block never straddles two pages
// (kBlockN is 64, 128 or 256). Runs under every profile whose decode is the library's split-KV
// kernel (KernelTraits::decode_splitkv).
bool runs_flash_paged(const Workload& w) {
  const auto t = impl_traits(w, KernelRole::splitkv, std::max(w.head_dim, w.v_head_dim));
  return t && t->decode_splitkv;
}

// ---- closed form --------------------------------------------------------------------------------

// FlashAttention's paged decode: Flash-Decoding's kernels (split_kv.hpp) plus the block table, read
// by every CTA for the key blocks of its split: one int32 entry per page it visits, from L2 after
// the first CTA of a sequence. The lookups (two per key block, before the V and the K copy, L1 hits
// after the first) are not counted as waits, as the split kernel's own barriers are not (impl.cpp
// fa2_traits, split-KV role): the model takes that loop's latencies as hidden. Pages are read only
// as far as the context (actual_seqlen_k masks the rest), so the last page's empty tail costs
// nothing here, unlike vLLM's kernels, which read whole pages.
void flash_paged_decode(Evaluator& ev) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const std::size_t first = ev.out().kernels.size();
  // The split kernel even for one split: only it reads a block table (flash_api.cpp mha_fwd_kvcache,
  // run_mha_fwd(..., force_split_kernel = ... || paged_KV)).
  split_kv_decode(ev, "flash2_fwd_splitkv", s.batch, s.kv_heads, s.group(), s.nk,
                  kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv), s.d, s.dv, s.d + s.dv, /*force_split_kernel=*/true);
  const u64 P = w.count("page_size"), pages = ceil_div(s.nk, P);
  const Prediction& p = ev.out();
  KernelCost& k = ev.out().kernels[first];
  const u64 row_tiles = ceil_div(s.group(), p.row_tile != 0 ? p.row_tile : 1);
  const u64 splits = std::max<u64>(1, p.splits);
  const u64 key_blocks = ceil_div(s.nk, p.block_n), per_split = ceil_div(key_blocks, splits);
  // Each split reads the entries of the pages its key blocks fall in: over the splits of one
  // (sequence, K/V head, row tile) every page once, and a page cut by a split boundary twice.
  u64 visits = 0;
  for (u64 sp = 0; sp < splits; ++sp) {
    const u64 j0 = sp * per_split, j1 = std::min(key_blocks, (sp + 1) * per_split);
    if (j1 <= j0) continue;
    visits += (std::min(s.nk, j1 * p.block_n) - 1) / P - j0 * p.block_n / P + 1;
  }
  const Count table = Count(s.batch) * pages * 4;
  const Count table_total = Count(s.batch) * s.kv_heads * row_tiles * visits * 4;
  k.l2_read += table_total;
  k.hbm_read += ev.shared(k, table, table_total, s.kv_heads * row_tiles * splits, 1, 1, 0);
  set_page_extras(ev, pages);
}

// vLLM PagedAttention (Kwon et al. 2023 §4): K/V live in pages of `page_size` tokens reached
// through a per-sequence block table. Kernel v1 runs one CTA per (query head, sequence) and holds the
// logits of the whole context in shared memory; v2 splits the context into 512-token partitions
// and reduces them. vLLM picks v1 when the context is at most 8192 tokens and either fits one
// partition or the grid has more than 512 CTAs (vllm/attention/ops/paged_attn.py). Whole pages are
// read, so the empty tail of the last page costs bandwidth too.
void paged_decode(Evaluator& ev) {
  if (runs_flashinfer_decode(ev.w())) {
    flashinfer_decode(ev, true);
    return;
  }
  if (runs_flash_paged(ev.w())) {
    flash_paged_decode(ev);
    return;
  }
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const u64 e = ev.e();
  const u64 pages = ceil_div(s.nk, w.count("page_size"));
  const u64 padded = pages * w.count("page_size");
  const Count logits_smem = Count(padded) * kStatBytes + Count(s.d) * e;
  const u64 partition = traits::kPagedPartition;
  const Count bh = Count(s.batch) * s.heads;
  const bool v1 = runs_v1(w, s.nk, pages, bh.v);
  // What vLLM's own kernels wait on (below) is counted for its profile; attnio's kernel and the
  // roofline keep their own accounting.
  const bool vllm = w.impl != nullptr && w.impl->key == "vllm-paged";
  const u64 parts = v1 ? 1 : ceil_div(padded, partition);
  // Resident CTAs: what the logits' shared memory leaves room for, and at most the SM's threads
  // over the kernel's 128.
  const u64 by_smem = v1 ? ev.ctas_per_sm(logits_smem) : ev.ctas_per_sm(Count(partition) * kStatBytes);
  const u64 by_threads = threads_per_sm(ev.dev()) / (traits::kPagedWarps * 32);
  const VllmKernelRow* compiled = vllm ? vllm_kernel_row(w, s.d, s.dv, ev.dev().compute_capability) : nullptr;
  const u64 regs = compiled == nullptr ? 0 : v1 ? compiled->regs_v1 : compiled->regs_v2;
  const u64 by_regs = ctas_by_registers(regs, traits::kPagedWarps * 32, ev.dev().register_file_bytes_per_sm);
  u64 resident = vllm ? std::min(by_threads, by_smem) : by_smem;
  if (by_regs != 0) resident = std::min(resident, by_regs);
  KernelCost& k = ev.add(v1 ? "paged_attention_v1" : "paged_attention_v2", bh * parts, resident);
  if (by_regs != 0) k.registers = regs;
  // The dot products, on the tensor cores or, where the profile says so, the CUDA cores (vLLM's:
  // Qk_dot's multiply-adds over the query and key vectors are FP32 FMAs, and the value loop's
  // `dot(logits_vec, v_vec)` packed half-precision multiplies and adds on the same FMA pipe, about
  // one instruction per element either way, their conversions not counted; attention_kernels.cu
  // @00f5113a).
  const auto traits = ev.traits(KernelRole::fwd, s.d);
  const bool cuda_cores = traits && traits->cuda_core_math;
  const Count dots = bh * s.nk * 2 * (s.d + s.dv);
  k.tensor_flops = cuda_cores ? Count(0) : dots;
  k.sfu_ops = bh * s.nk;
  const Count softmax_flops = bh * s.nk * 4;
  k.fp32_flops = softmax_flops + (cuda_cores ? dots : Count(0));
  // The chain each CTA waits out (vllm csrc/attention/attention_kernels.cu paged_attention_kernel,
  // read at 00f5113a; the same loops as the 0.2.x kernels): each of its 4 warps walks pages
  // warp, warp + 4, ..., and per page loads the page's block-table entry, then that page's keys
  // (whose addresses need the entry) and only then computes, with no load issued a page ahead;
  // the value loop does the same again. So per CTA, a warp's pages x 2 waited round trips for
  // the table (L2: the sequence's few entries, read by every head's CTA) and as many for K and V
  // (DRAM), with its warps walking their pages side by side; 9 barriers (after the query, the
  // max, the sum, the softmax, and the output's reduction across warps: 1 + 2 x 2); v2 reads the
  // context length before its query (its early exit needs it): one more DRAM round trip, the
  // first being the fill's. A partition of v2 is counted whole (the last may hold fewer pages).
  // The table entries are counted as L2 round trips though a warp's next entry may sit in the
  // line its L1 already holds, and under GQA the K/V loads as DRAM round trips though the CTAs of
  // a group after the first find them in L2: an upper bound on the chain (docs/model.md).
  if (vllm) {
    const u64 pages_per_cta = v1 ? pages : std::min<u64>(pages, partition / w.count("page_size"));
    const u64 pages_per_warp = ceil_div(pages_per_cta, traits::kPagedWarps);
    k.mma_warps = traits::kPagedWarps;
    k.waits = {.barriers = 9, .l2_reads = static_cast<std::uint32_t>(2 * pages_per_warp),
               .dram_reads = static_cast<std::uint32_t>(2 * pages_per_warp + (v1 ? 0 : 1))};
    k.block_iters = k.ctas;
  }
  // Block table: every CTA reads its sequence's entries (int32).
  const Count table = Count(s.batch) * pages * 4;
  const Count table_total = table * s.heads;
  // Threads load keys, values, the query and the table straight into registers (vLLM
  // paged_attention_kernel: k_vecs, v_vecs); only the logits go through shared memory.
  auto direct = [&k](Count l2, Count hbm) {
    k.l2_read += l2;
    k.hbm_read += hbm;
  };
  direct(table_total, ev.shared(k, table, table_total, s.heads * parts, 1, 1, 0));
  // K/V pages: the g query heads of a group are adjacent in the grid (grid.x = head) and read the
  // group's pages together.
  const u64 row = kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv);  // a token's K and V, quantized or not
  const Count kv_unique = Count(s.batch) * s.kv_heads * padded * row;
  const Count kv_total = kv_unique * s.group();
  direct(kv_total, ev.shared(k, kv_unique, kv_total, s.group() * parts, 1, 1, 0));
  Evaluator::read_direct(k, bh * s.d * e * parts);
  k.sram_write += bh * padded * kStatBytes;  // logits, then the softmax reads them back
  k.sram_read += bh * padded * kStatBytes;
  (void)logits_smem;
  ev.out().block_n = w.count("page_size");
  ev.out().splits = parts;
  set_page_extras(ev, pages);
  // A quantized cache: each head's CTA converts every element of its pages (common.hpp): FP32-pipe
  // instructions, not FLOPs.
  if (const u64 dq = kv_dequant_instr(w); dq != 0) k.fp32_instr = Count(k.fp32_flops.v / 2) + bh * padded * (s.d + s.dv) * dq;
  if (compiled != nullptr) {
    // vLLM's kernels as compiled (kVllmKernels): every page a warp walks issues the row's FP32 and
    // other instructions (32 lanes each) and moves the row's wavefronts through the SM's L1 data
    // path, whose 128 B a clock it shares with shared memory (the same SRAM: NVIDIA A100 whitepaper,
    // "combined L1 data cache and shared memory"); the softmax over the logits stays as counted
    // above (its FLOPs over 2, as for every kernel without its own instruction count).
    const Count page_visits = bh * pages;
    k.fp32_instr = Count(softmax_flops.v / 2) + Count(static_cast<u64>(page_visits.d() * compiled->fp32 * 32));
    k.other_instr = Count(static_cast<u64>(page_visits.d() * compiled->other * 32));
    k.sram_read += Count(static_cast<u64>(page_visits.d() * compiled->wavefronts)) * kL1Wavefront;
  }
  if (v1) {
    Evaluator::write_direct(k, bh * s.dv * e);
    return;
  }
  // tmp_out in the output dtype, exp_sums and max_logits in fp32.
  const Count partial = bh * parts * (s.dv * e + 2 * kStatBytes);
  Evaluator::write_direct(k, partial);
  // The reduce kernel, one CTA of 4 warps per (head, sequence): the context length, then the
  // partitions' max logits, then their sums, then their outputs, each load waiting on the one
  // before (the last three were just written and sit in L2), with 4 barriers between.
  KernelCost& r = vllm ? ev.add("paged_attention_v2_reduce", bh, by_threads)
                       : rowwise(ev, "paged_attention_v2_reduce", bh * s.dv);
  if (vllm) {
    // Its output loop over the partitions is one wait here, though a long context's many
    // partitions may take several.
    r.mma_warps = traits::kPagedWarps;
    r.waits = {.barriers = 4, .l2_reads = 3};
    r.block_iters = r.ctas;
    r.l2_reads_inherited = true;
  }
  Evaluator::read_direct(r, partial);
  Evaluator::write_direct(r, bh * s.dv * e);
  r.fp32_flops = bh * parts * (s.dv * 2 + 2);
  r.sfu_ops = bh * parts;
  ev.out().extra_memory_bytes += partial;
}

// ---- tile schedule ------------------------------------------------------------------------------

// vLLM PagedAttention: grid (heads, sequences, partitions). The block table maps each sequence's
// logical pages to physical pages scattered over the cache (a fixed permutation here).
void paged_schedule(Scheduler& sc) {
  if (runs_flashinfer_decode(sc.w())) {
    flashinfer_schedule(sc, true);
    return;
  }
  if (runs_flash_paged(sc.w())) {
    const Shape s = sc.shape();
    split_kv(sc, "flash2_fwd_splitkv", s.batch, s.kv_heads, s.group(), s.nk, s.d, s.dv, true, kv_row_bytes(sc.w(), s.d),
             kv_row_bytes(sc.w(), s.dv), s.d + s.dv, 0, sc.w().count("page_size"));
    return;
  }
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  std::vector<SimKernel>& out = sc.out();
  AddressSpace& as = sc.as();
  const u64 e = sc.e(), P = w.count("page_size");
  const u64 pages = ceil_div(s.nk, P), padded = pages * P;
  const u64 pages_per_part = max_u(1, traits::kPagedPartition / P);
  const u64 bh = (Count(s.batch) * s.heads).v;
  const bool v1 = runs_v1(w, s.nk, pages, bh);
  const u64 parts = v1 ? 1 : ceil_div(pages, pages_per_part);
  const u64 slots = (Count(s.batch) * pages).v, stride = page_permutation_stride(slots);
  const u64 table = as.alloc(Count(slots) * 4);
  const u64 kr = kv_row_bytes(w, s.d), vr = kv_row_bytes(w, s.dv);
  const u64 kc = as.alloc(Count(slots) * s.kv_heads * P * kr), vc = as.alloc(Count(slots) * s.kv_heads * P * vr);
  const u64 q = as.alloc(Count(bh) * s.d * e), o = as.alloc(Count(bh) * s.dv * e);
  const u64 tmp = as.alloc(Count(bh) * parts * (s.dv * e + 2 * kStat));
  SimKernel k;
  k.name = v1 ? "paged_attention_v1" : "paged_attention_v2";
  k.ctas = (Count(bh) * parts).v;
  k.smem = {{"logits", (v1 ? padded : pages_per_part * P) * kStat}, {"q", s.d * e}};
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 h = cta % s.heads, b = (cta / s.heads) % s.batch, part = cta / bh, kvh = h / s.group();
    const u64 p0 = part * pages_per_part, p1 = v1 ? pages : min_u(pages, p0 + pages_per_part);
    Step first;
    first.read("block table", table + (b * pages + p0) * 4, (p1 - p0) * 4);
    first.read("q", q + (b * s.heads + h) * s.d * e, s.d * e);
    steps.push_back(first);
    for (u64 pg = p0; pg < p1; ++pg) {
      const u64 phys = ((b * pages + pg) * stride) % slots;
      Step st;
      st.read("K page", kc + (phys * s.kv_heads + kvh) * P * kr, P * kr);
      st.read("V page", vc + (phys * s.kv_heads + kvh) * P * vr, P * vr);
      st.tensor = 2.0 * static_cast<double>(P * (s.d + s.dv));
      st.fp32 = 4.0 * static_cast<double>(P);
      st.sfu = static_cast<double>(P);
      st.sram = 2.0 * static_cast<double>(P * kStat);
      steps.push_back(st);
    }
    Step last;
    if (v1) {
      last.write("out", o + (b * s.heads + h) * s.dv * e, s.dv * e);
    } else {
      const u64 row = (b * s.heads + h) * parts + part;
      last.write("tmp_out", tmp + row * s.dv * e, s.dv * e);
      last.write("exp_sums, max_logits", tmp + bh * parts * s.dv * e + row * 2 * kStat, 2 * kStat);
    }
    steps.push_back(last);
  };
  out.push_back(std::move(k));
  if (v1) return;
  SimKernel r;
  r.name = "paged_attention_v2_reduce";
  r.ctas = bh;
  r.program = [=](u64 cta, std::vector<Step>& steps) {
    Step st;
    st.read("tmp_out", tmp + cta * parts * s.dv * e, parts * s.dv * e);
    st.read("exp_sums, max_logits", tmp + bh * parts * s.dv * e + cta * parts * 2 * kStat, parts * 2 * kStat);
    st.write("out", o + cta * s.dv * e, s.dv * e);
    st.fp32 = static_cast<double>(parts * (2 * s.dv + 2));
    st.sfu = static_cast<double>(parts);
    steps.push_back(st);
  };
  out.push_back(std::move(r));
}

Count padded_cache(const Workload& w) {
  const u64 P = w.count("page_size");
  return kv_cache_tokens(w, ceil_div(w.kv_len, P) * P);
}

constexpr const ParamSpec* kParams[] = {&kClaShare, &kPageSize, &kPagedVersion, &kKvBits, &kKvGroup};
const VariantDescriptor kDesc{
    .name = "paged",
    .summary = "decode reading K/V page by page through a block table (vLLM PagedAttention; FlashAttention's paged cache)",
    .sources = "Kwon et al. 2023, PagedAttention (vLLM) §4; vllm paged_attn.py (v1/v2 choice, 512-token partitions); "
               "flash-attention flash_api.cpp mha_fwd_kvcache (block_table, pages of a multiple of 256)",
    .params = kParams, .prefill = false, .cpu_reference = true, .kernel_decode = "paged_attention",
    .check = [](const Workload& w, const Device&) {
      const u64 P = w.count("page_size");
      if (runs_flash_paged(w)) {
        if (P % 256 != 0) {
          throw InputError("--page-size " + std::to_string(P) + ": FlashAttention's paged KV cache takes pages of a multiple of "
                           "256 tokens (flash_api.cpp: 'Paged KV cache block size must be divisible by 256'; vLLM's own "
                           "fork of it takes 16)");
        }
        if (w.count("paged_version") != 0) throw InputError("--paged-version picks vLLM's PagedAttention kernel (--impl vllm-paged)");
      } else {
        // vLLM splits long contexts into 512-token partitions of whole pages.
        if (512 % P != 0) throw InputError("--page-size " + std::to_string(P) + " must divide 512 (vLLM's partition size)");
      }
      check_kv_format(w);
    },
    .evaluate = paged_decode,
    .cache_bytes = padded_cache,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(⌈N_kv/page⌉·page·d) per K/V head"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "page_size", std::to_string(p.workload.count("page_size")));
      if (runs_flash_paged(p.workload) && p.splits != 0) put(s, "splits", std::to_string(p.splits));
      put(s, "pages_per_seq", std::to_string(p.extras.pages_per_seq));
      put(s, "page_waste_bytes", std::to_string(p.extras.page_waste_bytes.v));
      return s;
    },
    .schedule = paged_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      if (runs_flashinfer_decode(p.workload)) return flashinfer_derivation(p, true);
      if (runs_flash_paged(p.workload)) {
        const Workload& w = p.workload;
        return "FlashAttention's paged KV cache (flash_attn_with_kvcache with a block table, flash-attn >= 2.5): "
               "Flash-Decoding's split-KV kernel, the " + num(w.heads / w.kv_heads) + " query heads of a group packed as "
               "the rows of one tile and the keys split " + num(p.splits) + " ways, each " + num(p.block_n) +
               "-key block found through the block table in its page of " + num(w.count("page_size")) +
               " tokens (a multiple of 256, so no block straddles two pages). Pages are read only up to the context "
               "length, and the table adds one int32 per page a CTA visits: the cache costs what a contiguous one does.\n";
      }
      return "PagedAttention (vLLM §4): the cache is read page by page (" + num(p.workload.count("page_size")) +
             " tokens) through a block table; the last page of each sequence is partly empty and still read. One CTA "
             "per query head: the g heads of a group re-read the same pages, mostly from L2.\n";
    }};

}  // namespace

const VariantDescriptor& paged_variant() { return kDesc; }

}  // namespace attnio::detail
