// Standard (unfused) attention: S = QK^T, P = softmax(S), O = PV, with S and P materialized in HBM
// (FlashAttention, Dao et al. 2022, Alg. 0; backward App. B.1 Alg. 3). cuBLAS-like GEMMs and a
// row-wise softmax; GQA without copying K/V (PyTorch eager decode copies them, as its benchmark
// does: eager_decode).
#include "common.hpp"

namespace attnio::detail {

namespace {

// ---- closed form --------------------------------------------------------------------------------

// ---- standard attention ---------------------------------------------------------------------

// FlashAttention Alg. 0: S = QK^T (write S), P = softmax(S) (read S, write P), O = PV (read P, V).
// GQA without copying K/V: the g query heads of a group are stacked as g*N GEMM rows.
// PyTorch eager as the flash-attention benchmark runs it (impl.cpp `pytorch`): einops copies its
// strided views of the packed qkv into (b h) t d before the batched GEMMs (torch.reshape clones
// what it cannot view).
bool eager(const Evaluator& ev) {
  const auto t = ev.traits(KernelRole::fwd, std::max(ev.w().head_dim, ev.w().v_head_dim));
  return t && t->eager_pytorch;
}

// A 32-byte L2 sector: the unit of a global load's L2 request (CUDA C++ Programming Guide, "Device
// Memory Accesses": accesses are served in 32-byte segments).
constexpr u64 kSectorBytes = 32;

// TensorIterator's loop over operands that are not all contiguous (PyTorch 2.0 ATen/native/cuda/
// CUDALoops.cuh gpu_kernel_impl: a broadcast, a permuted view, an expanded dimension): not the
// vectorized kernel but launch_legacy_kernel<128, 4>, whose threads each run 4 elements one after
// the other (elementwise_kernel's unrolled loop), every element's offsets from an OffsetCalculator,
// its inputs loaded and its output stored through char* pointers that the compiler must assume may
// alias, so no load of the next element is issued before the store of this one: a thread keeps one
// element of each input in flight. 128-thread blocks fill an SM's 2048 threads on sm_80 and sm_90
// (CUDA C++ Programming Guide, "Compute Capabilities": 2048 resident threads per SM at 8.0 and 9.0,
// 1536 at 8.6 and 8.9), spread here over the closed form's kSmallCtasPerSm CTAs of an SM. What
// counts toward DRAM's bytes in flight is what each thread waits on from DRAM: `dram_bytes` per
// element (an input that hits in L2, such as a broadcast mask that fits there, keeps nothing in
// flight at DRAM).
void legacy_loop(const Evaluator& ev, KernelCost& c, double dram_bytes) {
  const u64 threads = threads_per_sm(ev.dev());
  // At least a byte: a cap of 0 would mean no cap at all (a thread that waits on anything from
  // DRAM keeps something in flight).
  c.inflight_bytes = Count(std::max<u64>(1, static_cast<u64>(std::llround(static_cast<double>(threads / kSmallCtasPerSm) * dram_bytes))));
}

// An ATen copy (TensorIterator's elementwise kernel, PyTorch 2.0 Loops.cuh) writes its output
// contiguously; TensorIterator orders the loop by the output's strides (reorder_dimensions: outputs
// first), so a source whose innermost index is not the output's is gathered: every element read is
// its own 32-byte sector request (`gathered`), counted without L1 reuse, as in eager_decode.
KernelCost& copy_kernel(Evaluator& ev, std::string_view name, Count bytes, u64 e, bool gathered = false, bool legacy = true) {
  KernelCost& c = rowwise(ev, name, Count(bytes.v / e));
  Evaluator::read_direct(c, bytes);
  if (gathered) c.l2_read += Count(bytes.v / e) * kSectorBytes - bytes;
  if (legacy) legacy_loop(ev, c, static_cast<double>(e));
  Evaluator::write_direct(c, bytes);
  return c;
}

// torch.softmax over the last dimension as PyTorch's SoftMax.cu (host_softmax, inner_size = 1) runs
// it, for `rows` rows of `cols` elements. The mask, if any, was added to the scores beforehand, so
// every score is exponentiated. Per element, counted from the functors (SumExpFloat: sum +
// std::exp(v - max); SoftMaxForwardEpilogue: std::exp(input - max) / sum; softmax_warp_forward:
// elements = std::exp(elements - max), sum += elements, elements / sum) as nvcc compiles them
// without fast math (PyTorch's build): expf is libdevice's __nv_expf, FFMA.SAT, FFMA.RM, FADD, FFMA,
// FFMA, an integer shift, MUFU.EX2 and a final FMUL that fuses into a following add (docs/model.md,
// "Instruction counts of PyTorch's softmax": nvcc 13.0 -O3 -cubin for sm_80 and sm_90 adds 7 SASS
// instructions per expf inside a sum and 8 before a multiply); a / b is div.rn.f32, MUFU.RCP, FCHK,
// five FFMA and a branch around the slow path.
//   rows of more than 1024 elements: cunn_SoftMaxForward(Smem), one CTA per row: the loads feed a
//     block max (waited where issued), then sum of exp (sub 1, expf 5 + the fused add 1: FP32 7,
//     MUFU 1), a second block reduction, then exp(v - max) / sum (sub 1, expf 6, division 5: FP32
//     12, MUFU 2) and the store: FP32 19 and MUFU 3 per element; SoftMax_getBlockSize(ILP = 8):
//     the largest power of two up to cols / 16 threads, at least a warp; each block reduction is
//     blockReduce's 4 __syncthreads.
//   up to 1024 (softmax_warp_forward, dispatch_softmax_forward): 128-thread CTAs, a warp per row
//     (two rows up to 128 elements), its elements in registers: max by shuffles, exp (sub 1, expf
//     6) and the sum (1), then the division (5): FP32 13 and MUFU 2 per element.
// The FP32 counts leave out what runs on other pipes (FMNMX, the fp16 conversions, the integer
// shift, FCHK, the loads and stores).
struct PerElement {
  u64 fp32, mufu, other;
};
constexpr PerElement kBlockSoftmax{.fp32 = 19, .mufu = 3, .other = 10};  // rows > 1024
constexpr PerElement kWarpSoftmax{.fp32 = 13, .mufu = 2, .other = 9};    // rows <= 1024

void eager_softmax(Evaluator& ev, Count rows, u64 cols) {
  const u64 e = ev.e();
  const Count elements = rows * cols;
  const bool warp = cols <= 1024;
  u64 threads = 128;
  Count ctas;
  if (warp) {
    const u64 rows_per_warp = cols <= 128 ? 2 : 1;
    ctas = Count(ceil_div(rows.v, 4 * rows_per_warp));
  } else {
    const u64 most = std::max<u64>(1, std::min<u64>(cols / 8, 1024) / 2);
    threads = 32;
    while (threads < most) threads *= 2;
    ctas = rows;
  }
  u64 per_sm = std::max<u64>(1, threads_per_sm(ev.dev()) / threads);
  if (!warp) per_sm = std::min(per_sm, ev.ctas_per_sm(Count(cols * e + threads / 32 * kStatBytes)));
  KernelCost& sm = ev.add("softmax", ctas, per_sm);
  Evaluator::read_direct(sm, elements * e);
  Evaluator::write_direct(sm, elements * e);
  Evaluator::all_loads_waited(sm);
  sm.mma_warps = threads / 32;
  sm.block_iters = sm.ctas;
  if (!warp) sm.waits = {.barriers = 8};
  const PerElement& per = warp ? kWarpSoftmax : kBlockSoftmax;
  sm.sfu_ops = elements * per.mufu;
  sm.fp32_flops = elements * 4;  // the arithmetic: subtract, exponentiate-and-sum, divide
  sm.fp32_instr = elements * per.fp32;
  sm.other_instr = elements * per.other;
}

// PyTorch eager decode as the Flash-Decoding post's "PyTorch Eager" column ran it: xFormers'
// benchmarks/benchmark_attn_decoding.py @d3656d5d, AttentionDecodingPyTorchRepeat (CUDA-graphed):
// K and V are stored (B, Nk, Hkv, 1, d) and expanded to the g query heads of a group, then
//   k = k.reshape([B, Nk, -1, d]).permute(0, 2, 1, 3)     a copy when 1 < Hkv (the stride-0 group
//                                                         dimension cannot merge with Hkv); Hkv = 1
//                                                         is indexed [:, :, 0] and stays a view;
//   (q @ k.transpose(-1, -2)).softmax(-1) * scale @ v      at::matmul folds (B, H) into one batch
//                                                         dimension by reshape (LinearAlgebra.cpp,
//                                                         matmul: tensor2.expand(...).reshape), which
//                                                         copies the permuted K and V unless B = 1
//                                                         (a size-1 dimension always merges).
// The Kᵀ copy writes (B·H, d, Nk) contiguous from rows H·d elements apart: each element read (2 bytes
// at 16 bits) is its own 32-byte L2 sector request (CUDA C++ Programming Guide, device memory accesses: 32-byte
// sectors), counted without L1 reuse (an upper bound on the L2 traffic).
void eager_decode(Evaluator& ev, const Shape& s) {
  const u64 e = ev.e();
  const Count bh = Count(s.batch) * s.heads;
  const Count k_all = bh * s.nk * s.d, v_all = bh * s.nk * s.dv;  // elements once expanded to H heads
  const Count k_src = Count(s.batch) * s.kv_heads * s.nk * s.d, v_src = Count(s.batch) * s.kv_heads * s.nk * s.dv;
  const bool repeat = s.kv_heads > 1 && s.kv_heads < s.heads;
  // A copy materializing `elements` of K or V: `l2` bytes read through L2, the source's unique bytes
  // from DRAM, every element written once.
  auto materialize = [&](std::string_view name, Count elements, Count l2, Count source) {
    KernelCost& c = rowwise(ev, name, elements);
    c.l2_read += l2;
    c.hbm_read += source * e;
    Evaluator::write_direct(c, elements * e);
    legacy_loop(ev, c, c.hbm_read.d() / elements.d());  // the DRAM share of what each element loads
  };
  if (repeat) {  // reshape of the expanded group dimension: each group head's row from the same source row
    materialize("copy_k_repeat", k_all, k_all * e, k_src);
    materialize("copy_v_repeat", v_all, v_all * e, v_src);
  }
  const bool fold = s.batch > 1;  // matmul's fold of (B, H): K transposed, then V
  if (fold) materialize("copy_kt_fold", k_all, k_all * kSectorBytes, repeat ? k_all : k_src);  // one sector per element
  gemm(ev, "gemm_qk", bh.v, s.n, s.nk, s.d, e);
  const Count scores = bh * s.n * s.nk;
  eager_softmax(ev, bh * s.n, s.nk);
  KernelCost& sc = rowwise(ev, "scale", scores);  // softmax(-1) * scale, its own kernel
  Evaluator::read_direct(sc, scores * e);
  Evaluator::write_direct(sc, scores * e);
  sc.fp32_flops = scores;
  if (fold) materialize("copy_v_fold", v_all, v_all * e, repeat ? v_all : v_src);
  gemm(ev, "gemm_pv", bh.v, s.n, s.dv, s.nk, e);
  const u64 copies = (repeat ? 1 : 0) + (fold ? 1 : 0);  // materialized K and V
  ev.out().extra_memory_bytes += scores * e * 2 + (k_all + v_all) * e * copies;
}

void standard_fwd(Evaluator& ev, const Shape& s, const Mask& mask) {
  const u64 e = ev.e();
  const u64 g = s.group();
  const Count scores = Count(s.batch) * s.heads * s.n * s.nk;
  const Count allowed = Count(s.batch) * s.heads * allowed_pairs(mask, s.n, s.nk);
  const u64 bk = (Count(s.batch) * s.kv_heads).v, gn = (Count(g) * s.n).v;
  const bool torch = eager(ev);
  if (torch) {
    copy_kernel(ev, "copy_q", Count(s.batch) * s.heads * s.n * s.d * e, e);
    // 'b s h d -> (b h) d s': the copy writes K transposed, reading along s rows 3·H·d elements apart.
    copy_kernel(ev, "copy_k", Count(s.batch) * s.kv_heads * s.nk * s.d * e, e, true);
  }
  gemm(ev, "gemm_qk", bk, gn, s.nk, s.d, e);
  if (torch && mask.kind != MaskKind::none) {
    // The benchmark's causal mask: torch.full and torch.triu in fp32 (N x Nk), a cast to the dtype,
    // then scores + mask (read the scores and the broadcast mask, write the sum).
    const Count plane = Count(s.n) * s.nk;
    KernelCost& build = rowwise(ev, "mask_full_triu_cast", plane);
    Evaluator::write_direct(build, plane * kStatBytes);                // full
    Evaluator::read_direct(build, plane * kStatBytes);                 // triu reads
    Evaluator::write_direct(build, plane * kStatBytes);                // and writes
    Evaluator::read_direct(build, plane * kStatBytes);                 // the cast reads
    Evaluator::write_direct(build, plane * e);                         // and writes
    KernelCost& add = rowwise(ev, "add_mask", scores);
    Evaluator::read_direct(add, scores * e);
    add.l2_read += scores * e;                                         // the mask, once per (b, h)
    add.hbm_read += ev.filtered(plane * e, scores * e, (plane * e + Count(s.n) * s.nk * e).d());
    Evaluator::write_direct(add, scores * e);
    add.fp32_flops = scores;
    // The scores come from DRAM; the broadcast mask from DRAM only for the share that misses L2.
    legacy_loop(ev, add, add.hbm_read.d() / scores.d());
  }
  if (torch) {
    eager_softmax(ev, Count(s.batch) * s.heads * s.n, s.nk);
  } else {
    KernelCost& sm = rowwise(ev, "softmax", scores);
    Evaluator::read_direct(sm, scores * e);
    Evaluator::write_direct(sm, scores * e);
    sm.sfu_ops = allowed;  // one exp per unmasked score (FlashAttention-3 §3)
    // Per score: scale-and-subtract-max FFMA (2), row-sum add (1), normalize multiply (1).
    sm.fp32_flops = allowed * 4;
  }
  if (torch) copy_kernel(ev, "copy_v", Count(s.batch) * s.kv_heads * s.nk * s.dv * e, e);  // einsum reshapes v
  gemm(ev, "gemm_pv", bk, gn, s.dv, s.nk, e);
  ev.out().extra_memory_bytes += scores * e * 2;  // S and P
}

// FlashAttention App. B.1, Algorithm 3: dV = P^T dO, dP = dO V^T, dS = P o (dP - rowsum(dO o O)),
// dQ = dS K, dK = dS^T Q, with dP and dS written to and read from HBM.
void standard_bwd(Evaluator& ev, const Shape& s) {
  const u64 e = ev.e();
  const u64 bk = (Count(s.batch) * s.kv_heads).v, gn = (Count(s.group()) * s.n).v;
  const Count scores = Count(s.batch) * s.heads * s.n * s.nk;
  gemm(ev, "gemm_dv", bk, s.nk, s.dv, gn, e);
  gemm(ev, "gemm_dp", bk, gn, s.nk, s.dv, e);
  if (eager(ev)) {
    // PyTorch's softmax_backward_cuda_out: tmp = dP * P first (its own kernel), then
    // cunn_SoftMaxBackward (or the warp kernel up to 1024 columns) reads tmp and P and writes dS.
    KernelCost& mul = rowwise(ev, "softmax_bwd_mul", scores);
    Evaluator::read_direct(mul, scores * e * 2);
    Evaluator::write_direct(mul, scores * e);
    mul.fp32_flops = scores;
  }
  KernelCost& sb = rowwise(ev, "softmax_bwd", scores);
  Evaluator::read_direct(sb, scores * e * 2);  // P, dP (PyTorch: tmp, P)
  Evaluator::write_direct(sb, scores * e);     // dS
  sb.fp32_flops = scores * 4;                  // rowsum(dP o P) FFMA, then (dP - D) * P
  gemm(ev, "gemm_dq", bk, gn, s.d, s.nk, e);
  gemm(ev, "gemm_dk", bk, s.nk, s.d, gn, e);
  if (eager(ev)) {
    // The benchmark's q, k and v are views of one packed qkv (b, t, 3, h, d). Autograd then runs
    // (PyTorch 2.0 tools/autograd/derivatives.yaml):
    //   baddbmm: batch1 = maybe_multiply(grad.bmm(batch2^T), alpha), batch2 likewise: alpha is the
    //            softmax scale, not 1, so dQ and dK are each multiplied by it in a kernel of their own;
    //   unbind:  unbind_backward stacks dq, dk, dv into the (b, t, 3, h, d) gradient. They are views
    //            of (b h) t d, (b h) d s and (b h) s d results, not contiguous, so cat copies each
    //            into its slice (ATen cuda/Shape.cu cat_out_cuda: the batched kernel needs every
    //            input contiguous); dk's copy reads along s for each d: gathered.
    // The views between (reshape of a clone, permute, rearrange) launch nothing.
    const Count q_bytes = Count(s.batch) * s.heads * s.n * s.d * e;
    const Count k_bytes = Count(s.batch) * s.kv_heads * s.nk * s.d * e, v_bytes = Count(s.batch) * s.kv_heads * s.nk * s.dv * e;
    // grad.bmm(...) * alpha: contiguous, the vectorized loop.
    copy_kernel(ev, "scale_dq", q_bytes, e, false, false).fp32_flops = Count(q_bytes.v / e);  // one multiply per element
    copy_kernel(ev, "scale_dk", k_bytes, e, false, false).fp32_flops = Count(k_bytes.v / e);
    copy_kernel(ev, "stack_dq", q_bytes, e);
    copy_kernel(ev, "stack_dk", k_bytes, e, true);
    copy_kernel(ev, "stack_dv", v_bytes, e);
  }
  ev.out().extra_memory_bytes += scores * e * 2;  // dP and dS
}

void standard(Evaluator& ev) {
  const Shape s = ev.shape();
  if (ev.w().pass != Pass::bwd) {
    if (ev.w().phase == Phase::decode && eager(ev)) eager_decode(ev, s);
    else standard_fwd(ev, s, attention_mask(ev.w(), s.n, s.nk));
  }
  if (ev.w().pass != Pass::fwd) standard_bwd(ev, s);
}

// ---- tile schedule ------------------------------------------------------------------------------

// ---- standard attention ---------------------------------------------------------------------

void standard_schedule(Scheduler& sched) {
  const Workload& w = sched.w();
  const Shape s = sched.shape();
  const Mask mask = attention_mask(w, s.n, s.nk);
  std::vector<SimKernel>& out = sched.out();
  AddressSpace& as = sched.as();
  const u64 e = sched.e();
  const u64 bk = (Count(s.batch) * s.kv_heads).v, gn = (Count(s.group()) * s.n).v;
  const Count qn = Count(bk) * gn;  // query rows
  const Count scores = qn * s.nk;
  const u64 q = as.alloc(qn * s.d * e), k = as.alloc(Count(bk) * s.nk * s.d * e), v = as.alloc(Count(bk) * s.nk * s.dv * e);
  const u64 sc = as.alloc(scores * e), p = as.alloc(scores * e), o = as.alloc(qn * s.dv * e);
  const u64 gnk = gn * s.nk;
  // PyTorch eager's extra kernels, as the closed form counts them (standard_fwd, standard_bwd): the
  // einops copies of q, k, v, the causal mask built and added, the backward's dP * P product.
  const auto t = impl_traits(w, KernelRole::fwd, std::max(s.d, s.dv));
  const bool torch = t && t->eager_pytorch && w.phase != Phase::decode;
  const auto copy = [&](const char* name, const char* tile, Count elements) {
    const u64 src = as.alloc(elements * e), dst = as.alloc(elements * e);
    out.push_back(elementwise(name, elements, {{src, e, false, tile}, {dst, e, true, tile}}, 0, 0));
  };
  if (w.pass != Pass::bwd) {
    if (torch) {
      copy("copy_q", "q", qn * s.d);
      copy("copy_k", "k", Count(bk) * s.nk * s.d);
    }
    out.push_back(gemm("gemm_qk", bk, gn, s.nk, s.d, e, e, {q, gn, s.d, gn * s.d * e, false, "Q"},
                       {k, s.d, s.nk, s.nk * s.d * e, true, "K"}, {sc, gn, s.nk, gnk * e, false, "S"}));
    u64 sm_in = sc;
    if (torch && mask.kind != MaskKind::none) {
      // torch.full and torch.triu in fp32, the cast to the dtype (three kernels under one name),
      // then scores + mask with the N x Nk plane broadcast over (b, h).
      const Count plane = Count(s.n) * s.nk;
      const u64 full = as.alloc(plane * kStatBytes), tri = as.alloc(plane * kStatBytes), cast = as.alloc(plane * e);
      out.push_back(elementwise("mask_full_triu_cast", plane, {{full, kStatBytes, true, "mask"}}, 0, 0));
      out.push_back(elementwise("mask_full_triu_cast", plane, {{full, kStatBytes, false, "mask"}, {tri, kStatBytes, true, "mask"}}, 0, 0));
      out.push_back(elementwise("mask_full_triu_cast", plane, {{tri, kStatBytes, false, "mask"}, {cast, e, true, "mask"}}, 0, 0));
      sm_in = as.alloc(scores * e);
      out.push_back(elementwise("add_mask", scores, {{sc, e, false, "S"}, {cast, e, false, "mask", plane.v}, {sm_in, e, true, "S"}}, 1, 0));
    }
    const double allowed = static_cast<double>(allowed_pairs(mask, s.n, s.nk).v) / static_cast<double>(s.n * s.nk);
    out.push_back(elementwise("softmax", scores, {{sm_in, e, false, "S"}, {p, e, true, "P"}}, 4 * allowed, allowed));
    if (torch) copy("copy_v", "v", Count(bk) * s.nk * s.dv);
    out.push_back(gemm("gemm_pv", bk, gn, s.dv, s.nk, e, e, {p, gn, s.nk, gnk * e, false, "P"},
                       {v, s.nk, s.dv, s.nk * s.dv * e, false, "V"}, {o, gn, s.dv, gn * s.dv * e, false, "O"}));
  }
  if (w.pass != Pass::fwd) {
    const u64 dout = as.alloc(qn * s.dv * e), dp = as.alloc(scores * e), ds = as.alloc(scores * e);
    const u64 dq = as.alloc(qn * s.d * e), dk = as.alloc(Count(bk) * s.nk * s.d * e), dv = as.alloc(Count(bk) * s.nk * s.dv * e);
    out.push_back(gemm("gemm_dv", bk, s.nk, s.dv, gn, e, e, {p, s.nk, gn, gnk * e, true, "P"},
                       {dout, gn, s.dv, gn * s.dv * e, false, "dO"}, {dv, s.nk, s.dv, s.nk * s.dv * e, false, "dV"}));
    out.push_back(gemm("gemm_dp", bk, gn, s.nk, s.dv, e, e, {dout, gn, s.dv, gn * s.dv * e, false, "dO"},
                       {v, s.dv, s.nk, s.nk * s.dv * e, true, "V"}, {dp, gn, s.nk, gnk * e, false, "dP"}));
    u64 grad = dp;
    if (t && t->eager_pytorch) {  // softmax_backward_cuda_out: tmp = dP * P, its own kernel
      grad = as.alloc(scores * e);
      out.push_back(elementwise("softmax_bwd_mul", scores, {{dp, e, false, "dP"}, {p, e, false, "P"}, {grad, e, true, "tmp"}}, 1, 0));
    }
    out.push_back(elementwise("softmax_bwd", scores, {{p, e, false, "P"}, {grad, e, false, "dP"}, {ds, e, true, "dS"}}, 4, 0));
    out.push_back(gemm("gemm_dq", bk, gn, s.d, s.nk, e, e, {ds, gn, s.nk, gnk * e, false, "dS"},
                       {k, s.nk, s.d, s.nk * s.d * e, false, "K"}, {dq, gn, s.d, gn * s.d * e, false, "dQ"}));
    out.push_back(gemm("gemm_dk", bk, s.nk, s.d, gn, e, e, {ds, s.nk, gn, gnk * e, true, "dS"},
                       {q, gn, s.d, gn * s.d * e, false, "Q"}, {dk, s.nk, s.d, s.nk * s.d * e, false, "dK"}));
    if (torch) {  // the scale on dQ and dK, then the stack into the packed gradient (standard_bwd)
      const Count kn = Count(bk) * s.nk;
      const u64 dq2 = as.alloc(qn * s.d * e), dk2 = as.alloc(kn * s.d * e);
      out.push_back(elementwise("scale_dq", qn * s.d, {{dq, e, false, "dQ"}, {dq2, e, true, "dQ"}}, 1, 0));
      out.push_back(elementwise("scale_dk", kn * s.d, {{dk, e, false, "dK"}, {dk2, e, true, "dK"}}, 1, 0));
      const u64 grad = as.alloc((qn * s.d + kn * (s.d + s.dv)) * e);
      out.push_back(elementwise("stack_dq", qn * s.d, {{dq2, e, false, "dQ"}, {grad, e, true, "dqkv"}}, 0, 0));
      out.push_back(elementwise("stack_dk", kn * s.d, {{dk2, e, false, "dK"}, {grad + (qn * s.d * e).v, e, true, "dqkv"}}, 0, 0));
      out.push_back(elementwise("stack_dv", kn * s.dv, {{dv, e, false, "dV"}, {grad + ((qn * s.d + kn * s.d) * e).v, e, true, "dqkv"}}, 0, 0));
    }
  }
}

constexpr const ParamSpec* kParams[] = {&kClaShare};
const VariantDescriptor kDesc{
    .name = "standard",
    .summary = "unfused S=QK^T, softmax, O=PV with S and P in HBM (FlashAttention Alg. 0)",
    .sources = "Dao et al. 2022, FlashAttention, Alg. 0 and App. B.1 Alg. 3",
    .params = kParams, .backward = true, .cpu_reference = true, .kernel_fwd = "standard_cublas",
    .evaluate = standard,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N·d + N²) per head"; },
    .schedule = standard_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      return "FlashAttention Alg. 0: S = QK^T is written to HBM (B·H·N·Nk·e = " + num(w.batch) + "·" + num(w.heads) +
             "·" + num(w.query_len()) + "·" + num(w.kv_len) + "·" + num(dtype_bytes(w.dtype)) +
             " bytes), read back by the softmax, which writes P of the same size, which the PV GEMM reads "
             "again: four N×Nk passes, Θ(N·d + N²) per head. GEMM tiles re-read Q, K, V through L2.\n";
    }};

}  // namespace

const VariantDescriptor& standard_variant() { return kDesc; }

}  // namespace attnio::detail
