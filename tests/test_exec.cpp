// The execution model and the implementation profiles by hand (docs/model.md "Time"): the overlap
// rule, one fa2 kernel on a device with round rates worked through every term, and per profile the
// tiles, paths and overlap jobs its sources give.
#include <gtest/gtest.h>

#include <cmath>

#include "attnio/model/errors.hpp"
#include "attnio/model/explain.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/simulate.hpp"
#include "attnio/model/tile_traits.hpp"
#include "../model/src/engine/plan.hpp"
#include "../model/src/variants/flashinfer_decode.hpp"

using namespace attnio;

namespace {

const KernelCost& kernel_named(const Prediction& p, std::string_view name) {
  for (int i = 0; i < p.kernel_count(); ++i) {
    if (p.kernels[i].name == name) return p.kernels[i];
  }
  ADD_FAILURE() << "no kernel " << name;
  return p.kernels[0];
}

Workload fp16_backward(std::string_view variant, std::string_view impl, std::uint64_t head_dim) {
  Workload w;
  w.variant = parse_variant(variant);
  w.impl = &find_impl(impl);
  w.dtype = Dtype::fp16;
  w.pass = Pass::bwd;
  w.head_dim = head_dim;
  return w;
}

Workload shaped(std::string_view variant, std::string_view impl, Dtype dtype, std::uint64_t batch, std::uint64_t heads,
                 std::uint64_t head_dim, std::uint64_t seq) {
  Workload w;
  w.variant = parse_variant(variant);
  w.impl = &find_impl(impl);
  w.dtype = dtype;
  w.batch = batch, w.heads = w.kv_heads = heads, w.head_dim = head_dim, w.seq = seq;
  w.l2 = true;
  return w;
}

}  // namespace

// U = 1 - r^k / Σ_{n=0..k} r^n, r = x2 / x1 (z = 0: mean value analysis gives the product form).
TEST(Exec, OverlapRuleByHand) {
  EXPECT_NEAR(overlap_utilization(2, 1, 1), 2.0 / 3, 1e-15);          // k = 1: x1 / (x1 + x2)
  EXPECT_NEAR(overlap_utilization(2, 1, 2), 1 - 0.25 / 1.75, 1e-15);  // r = 1/2: 1 - (1/4) / (1 + 1/2 + 1/4) = 6/7
  EXPECT_NEAR(overlap_utilization(1, 1, 3), 0.75, 1e-15);             // r = 1: 1 - 1/4
  EXPECT_DOUBLE_EQ(overlap_utilization(1, 0, 4), 1.0);               // no softmax phase
  EXPECT_NEAR(overlap_utilization(1, 2, 60), 0.5, 1e-12);            // many jobs: the softmax phase binds, x1/x2
}

// With a delay station z (latency waited out with no server busy).
TEST(Exec, OverlapRuleWithADelayByHand) {
  // k = 1: the three serialize, U = x1 / (x1 + x2 + z) = 2 / 4.
  EXPECT_NEAR(overlap_utilization(2, 1, 1, 1), 0.5, 1e-15);
  // One queueing station (x1 = 1) and a delay z = 1 with 2 jobs: product form over the jobs at the
  // server, p(n) ∝ x1^n z^(2-n) / (2-n)!: 1/2, 1, 1, so P(idle) = 0.5 / 2.5 and U = 0.8.
  EXPECT_NEAR(overlap_utilization(1, 0, 2, 1), 0.8, 1e-15);
  // Both stations and the delay, k = 2, x1 = x2 = z = 1: states (n1, n2, n_delay) with weights
  // 1 / n_delay!: (2,0,0) (0,2,0) (1,1,0) 1 each, (1,0,1) (0,1,1) 1 each, (0,0,2) 1/2; the GEMM
  // server is idle in (0,2,0), (0,1,1), (0,0,2): 2.5 / 5.5, so U = 3 / 5.5.
  EXPECT_NEAR(overlap_utilization(1, 1, 2, 1), 3.0 / 5.5, 1e-15);
  // Many jobs hide the delay: the GEMM server saturates.
  EXPECT_NEAR(overlap_utilization(1, 0.5, 200, 3), 1.0, 1e-9);
  // Three queueing stations of demand 1 (GEMM, softmax, waited loads), k = 2, no delay: the 6
  // states (n1, n2, n3) summing to 2 are equally likely; station 1 is idle in 3 of them, so
  // U = 1/2 and X = U / x1 = 1/2.
  const double three[] = {1, 1, 1};
  EXPECT_NEAR(cycle_throughput(three, 2, 0), 0.5, 1e-15);
  const double one[] = {2};
  EXPECT_NEAR(cycle_throughput(one, 1, 0), 0.5, 1e-15);  // one job: 1 / (x1 + z)
  // A deterministic station (cv² = 0) beside an exponential one, both of demand 1, 2 jobs. n = 1:
  // R = 1 + 1, X = 1/2, Q = U = 1/2 at each. n = 2: the exponential R1 = 1 (1 + 1/2) = 1.5; the
  // deterministic R2 = 1 (1 + 1/2) - 1 x 1/2 / 2 = 1.25 (half the service in progress left on
  // average): X = 2 / 2.75. All exponential, 2 / 3; cv² = 1 everywhere is the plain form.
  const double two[] = {1, 1}, exp_det[] = {1, 0}, exp_exp[] = {1, 1};
  EXPECT_NEAR(cycle_throughput(two, exp_det, 2, 0), 2 / 2.75, 1e-15);
  EXPECT_NEAR(cycle_throughput(two, exp_exp, 2, 0), 2.0 / 3, 1e-15);
  EXPECT_EQ(cycle_throughput(three, exp_exp, 2, 0), cycle_throughput(three, 2, 0));
}

// One fa2 forward kernel worked through by hand. A100 (cc 8.0, 164 KiB of shared memory) with round
// rates: 1 SM, 16-bit tensor 1e12 FLOP/s x mma.sync 0.5, SM clock x 0.5, shared memory 1e11 B/s,
// MUFU 1e10/s, FP32 1e11 FLOP/s, HBM (STREAM) 1e10 B/s, L2 1e12 B/s, DRAM latency and launch 1 µs.
// B = H = 1, N = Nk = 256, d = 64, fp16, L2 off. fa2 at d = 64: 128 x 128 tiles, 4 warps: Tr = Tc = 2,
// 4 visited pairs, 2 CTAs of 48 KiB (Q 16 KiB + K, V 32 KiB), 3 fit the SM, 2 are resident.
Device round_a100() {
  Device d = find_device("a100-80gb");
  d.sm_count = 1;
  d.fp16_tensor_flops_per_s = 1e12;
  d.mma_sync_fraction = 0.5;
  d.sustained_clock_fraction = 0.5;
  d.sram_bytes_per_s = 1e11;
  d.sfu_ops_per_s = 1e10;
  d.fp32_flops_per_s = 1e11;
  d.fp32_lanes_per_sm = 0;  // the FP32 pipe at fp32_flops_per_s / 2
  d.achievable_hbm_bytes_per_s = 1e10;
  d.l2_bytes_per_s = 1e12;
  d.dram_latency_s = 1e-6;
  d.dram_queue_read.clear();  // unloaded: the queue has its own test (InFlightCapRunsAtTheLoadedLatencyByHand)
  d.dram_queue_copy.clear();
  d.launch_overhead_s = 1e-6;
  d.barrier_latency_cycles = 40;
  d.barrier_cycles_per_warp = 5;
  d.smem_latency_cycles = 30;
  return d;
}

// B = H = 1, N = Nk = 256, d = 64, fp16, L2 off.
Workload small_workload(std::string_view variant) {
  Workload w;
  w.variant = parse_variant(variant);
  w.batch = 1;
  w.seq = 256;
  w.heads = w.kv_heads = 1;
  w.head_dim = 64;
  w.dtype = Dtype::fp16;
  w.l2 = false;
  return w;
}

TEST(Exec, Fa2ForwardByHand) {
  const Device d = round_a100();
  Workload w = small_workload("flash2");
  const Prediction p = predict(d, w);
  ASSERT_EQ(p.impl, &find_impl("fa2"));
  EXPECT_EQ(p.block_m, 128u);
  EXPECT_EQ(p.block_n, 128u);
  const KernelCost& k = kernel_named(p, "flash2_fwd");
  const KernelCost::Exec& x = k.exec;
  // Tensor: 65536 scores x 2 x 128 = 16777216 FLOP at 1e12 x 0.5: 33.554432 µs.
  EXPECT_NEAR(x.tensor_s, 33.554432e-6, 1e-15);
  // Shared memory: Q 32768 staged and read, read again for the second K/V block (32768); K/V
  // 131072 staged, read by 4 warps (524288); O 32768 staged and read: 819200 B at 1e11 x 0.5.
  EXPECT_EQ((k.sram_read + k.sram_write).v, 819200u);
  EXPECT_NEAR(x.smem_s, 16.384e-6, 1e-15);
  // MUFU: 65536 exponentials at 1e10 x 0.5: 13.1072 µs.
  EXPECT_NEAR(x.mufu_s, 13.1072e-6, 1e-15);
  // FP32 (the FMA pipe): per score the FFMA and the row-sum add (131072), per visited block row 64
  // (512 x 64) and the final 1/l (256 x 64): 180224 lane instructions at 1e11 / 2 x 0.5: 7.20896 µs.
  // Beside it on the ALU, the max and half a pack per score: 98304, which only take issue slots
  // (4 x 32 lanes at 1.41 GHz x 0.5: (180224 + 98304) / 9.024e10 = 3.09 µs, under the FMA pipe's).
  EXPECT_EQ(k.fp32_instr.v, 180224u);
  EXPECT_EQ(k.other_instr.v, 98304u);
  EXPECT_NEAR(x.fp32_s, 7.20896e-6, 1e-15);
  // Waits: 2 barriers per key block of (40 + 5 x 4 warps) cycles at 1.41 GHz x 0.5: 120 cycles =
  // 170.2127... ns per iteration; z = 4 iterations on the one SM = 680.851... ns.
  const double z = 4 * 120 / (1.41e9 * 0.5);
  EXPECT_NEAR(x.iter_wait_s, 120 / (1.41e9 * 0.5), 1e-18);
  EXPECT_NEAR(x.delay_s, z, 1e-18);
  // x1 = 33.554432 µs, x2 = 20.31616 µs; k = 2 resident CTAs x 1 job each. Mean value analysis by
  // hand: one job X1 = 1 / (z + x1 + x2), queues Q_i = X1 x_i; two jobs R_i = x_i (1 + Q_i),
  // X2 = 2 / (z + R1 + R2), U = X2 x1.
  EXPECT_DOUBLE_EQ(x.overlap_jobs, 2.0);
  const double x1 = 33.554432e-6, x2 = 20.31616e-6;
  const double X1 = 1 / (z + x1 + x2);
  const double X2 = 2 / (z + x1 * (1 + X1 * x1) + x2 * (1 + X1 * x2));
  const double u = X2 * x1;
  EXPECT_NEAR(x.utilization, u, 1e-12);
  // Fill: (x2 / 4 iterations + 1 µs latency) per CTA, 2 CTAs over 2 resident: 6.07904 µs.
  EXPECT_NEAR(x.fill_s, 6.07904e-6, 1e-15);
  // The prefetch loop: 2 CTAs x 2 buffers (K and V) = 4 customers between the SM (demand busy =
  // x1 / U) and DRAM (the reads, Q 32768 + K/V 131072 B at 1e10: 16.384 µs, over 1 - ρ for the
  // writes, O and LSE 33792 B: 3.3792 µs, ρ = 3.3792 µs / t): mean value analysis by hand, then
  // the fixed point in t.
  const double busy = 33.554432e-6 / u, reads = 16.384e-6, writes = 3.3792e-6;
  auto loop = [&](double t) {
    const double d[2] = {busy, reads / (1 - writes / t)};
    double q[2] = {0, 0}, X = 0;
    for (int n = 1; n <= 4; ++n) {
      const double r0 = d[0] * (1 + q[0]), r1 = d[1] * (1 + q[1]);
      X = n / (r0 + r1);
      q[0] = X * r0, q[1] = X * r1;
    }
    return 1 / X;
  };
  double t = std::max(busy, reads + writes);
  for (int i = 0; i < 200; ++i) t = loop(t);
  EXPECT_GT(t, busy);  // DRAM at half the SM's demand still costs the 4 buffers a few per cent
  EXPECT_LT(t, busy * 1.05);
  EXPECT_NEAR(x.loop_s, t, 1e-12);
  EXPECT_NEAR(x.compute_s, t + 6.07904e-6, 1e-12);
  // HBM: Q 32768 + K/V 131072 + O 32768 + LSE 1024 = 197632 B at 1e10: 19.7632 µs. In flight:
  // 2 CTAs x one 128 x 128 x 2 B K/V tile over 1 µs = 6.5536e10 B/s, for the reads only (Q and
  // K/V, 163840 B; stores are posted, nothing waits on them): 2.5 µs.
  EXPECT_NEAR(x.hbm_s, 19.7632e-6, 1e-15);
  EXPECT_NEAR(x.latency_s, 2.5e-6, 1e-15);
  EXPECT_NEAR(x.time_s, t + 6.07904e-6 + 1e-6, 1e-12);
  EXPECT_EQ(x.bound, Bound::tensor);
  EXPECT_EQ(p.bound, Bound::tensor);
  EXPECT_FALSE(p.memory_bound());
  EXPECT_NEAR(p.predicted_time_s, x.time_s, 1e-18);
}

// FlashAttention v1.0.9's forward on the same round device (barrier 40 + 5/warp, shared-memory
// read 30 cycles), B = H = 1, N = Nk = 256, d = 64, fp16, L2 off: 16-row steps against one 256-key
// block, 4 warps; 68 KiB of tiles, 2 CTAs fit, and num_splits_heuristic_fwd takes 2 splits (1 split
// fills half the slots). Its waits and waited-on loads, by hand.
TEST(Exec, Fa1ForwardWaitsOnItsLoadsByHand) {
  const Device d = round_a100();
  Workload w = small_workload("flash1");
  w.impl = &find_impl("fa1");
  const Prediction p = predict(d, w);
  const KernelCost& k = kernel_named(p, "flash1_fwd");
  const KernelCost::Exec& x = k.exec;
  EXPECT_EQ(k.ctas.v, 2u);
  EXPECT_EQ(k.block_iters.v, 16u);  // 16 steps x 1 key block
  // Waited on where loaded: K, V by both splits (2 x 256 x 128 x 2 B = 131072), Q once per step
  // (256 x 64 x 2 = 32768) and o_tmp with the LSE (256 x (64 x 4 + 4) = 66560): 230400 B, all
  // from DRAM with the L2 off, at 1e10 B/s: 23.04 µs.
  EXPECT_EQ(k.sync_l2_read.v, 230400u);
  EXPECT_EQ(k.sync_hbm_read.v, 230400u);
  // Per step 2 barriers of 40 + 5 x 4 = 60 cycles and 3 shared-memory reads of 30: 210 cycles at
  // 1.41 GHz x 0.5; z = 16 steps on the one SM.
  const double step = 210 / (1.41e9 * 0.5);
  EXPECT_NEAR(x.iter_wait_s, step, 1e-18);
  EXPECT_NEAR(x.delay_s, 16 * step, 1e-18);
  // The rest of the DRAM traffic (o_tmp initialised and written back, 2 x 66560 B: 13.312 µs) is
  // an open class: the waited loads' demand is 23.04 µs / (1 - 13.312 µs / T) at the kernel's own
  // busy time T = 1 / X(k); check the fixed point and that X is the network's.
  EXPECT_DOUBLE_EQ(x.overlap_jobs, 2.0);
  const double busy = (x.compute_s * x.wave_efficiency) - x.fill_s - x.tail_s;
  EXPECT_NEAR(x.wait_mem_s, 23.04e-6 / (1 - 13.312e-6 / busy), 1e-12);
  const double demands[] = {x.gemm_s, x.softmax_s, x.wait_mem_s};
  EXPECT_NEAR(1 / cycle_throughput(demands, 2, x.delay_s), busy, 1e-12);
  // Shared memory (V and the partial O tiles per step, 40 µs) is still the longest station.
  EXPECT_GT(x.gemm_s, x.wait_mem_s);
  EXPECT_EQ(x.bound, Bound::smem);
}

// `ideal` is the roofline: slowest ceiling at datasheet peaks plus launch, Alg. 1 tiles.
TEST(Exec, IdealIsTheRoofline) {
  Workload w;
  w.seq = 2048;
  w.impl = &ideal_impl();
  const Prediction p = predict(find_device("h100-sxm"), w);
  EXPECT_DOUBLE_EQ(p.predicted_time_s, p.roofline_time_s);
  EXPECT_EQ(p.block_n, 228u);  // Alg. 1: ceil(233472 / 2 / (4 x 128))
}

// FlashAttention-3 on H100 at d = 128 (hopper/tile_size.h:31-33): 128 x 176 non-causal, 128 x 128
// causal, 2 consumer warpgroups (ping-pong), one CTA per SM: 2 jobs. FP8: 128 x 224.
TEST(Exec, Fa3TraitsOnHopper) {
  Workload w;
  w.seq = 8192;
  w.heads = w.kv_heads = 16;
  w.dtype = Dtype::fp16;
  w.impl = &find_impl("fa3");
  const Device& h = find_device("h100-sxm");
  Prediction p = predict(h, w);
  EXPECT_EQ(p.block_m, 128u);
  EXPECT_EQ(p.block_n, 176u);
  const KernelCost& k = kernel_named(p, "flash2_fwd");
  EXPECT_EQ(k.mma, MmaPath::wgmma);
  EXPECT_EQ(k.ctas_per_sm, 1u);
  EXPECT_DOUBLE_EQ(k.exec.overlap_jobs, 2.0);
  w.causal = true;
  EXPECT_EQ(predict(h, w).block_n, 128u);
  w.causal = false;
  w.dtype = Dtype::fp8;
  EXPECT_EQ(predict(h, w).block_n, 224u);
  // Not on an A100: one line naming the compute capability.
  w.dtype = Dtype::fp16;
  try {
    predict(find_device("a100-80gb"), w);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--impl fa3 runs on compute capability 9.0"), std::string::npos) << e.what();
  }
}

// ThunderKittens on H100 (kernels/attn/h100/h100.cu @6d64b0cb): 192 query rows (3 consumer
// warpgroups of 64) x 128 keys at d = 64 and 128, wgmma, one CTA per SM and 3 independent jobs
// (no ping-pong), ascending causal grid (the heaviest CTA last); backward 64-row query steps over
// 128-key blocks. At B = 1, H = 16, N = 768: Tr = 4 query blocks of 192 per head, 64 CTAs.
TEST(Exec, ThunderKittensTraitsOnHopper) {
  Workload w;
  w.seq = 768;
  w.heads = w.kv_heads = 16;
  w.dtype = Dtype::bf16;
  w.impl = &find_impl("thunderkittens");
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, w);
  EXPECT_EQ(p.block_m, 192u);
  EXPECT_EQ(p.block_n, 128u);
  const KernelCost& k = kernel_named(p, "flash2_fwd");
  EXPECT_EQ(k.mma, MmaPath::wgmma);
  EXPECT_EQ(k.ctas_per_sm, 1u);
  EXPECT_EQ(k.ctas.v, 64u);
  EXPECT_DOUBLE_EQ(k.exec.overlap_jobs, 3.0);
  EXPECT_EQ(k.last_cta_iters.v, 0u);  // no mask: no tail
  w.causal = true;
  // Causal: the last Q block (rows 576-767) visits K/V blocks 0-5, launched last.
  EXPECT_EQ(kernel_named(predict(h, w), "flash2_fwd").last_cta_iters.v, 6u);
  w.causal = false;
  w.pass = Pass::bwd;
  // One backward CTA per 128-key block: 16 heads x 6 = 96 CTAs.
  EXPECT_EQ(kernel_named(predict(h, w), "flash2_bwd").ctas.v, 96u);
  w.pass = Pass::fwd;
  w.head_dim = 256;  // not instantiated: Alg. 1 tiles, said by the profile's absence of tiles
  EXPECT_NE(predict(h, w).block_m, 192u);
  try {
    w.head_dim = 128;
    predict(find_device("a100-80gb"), w);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("compute capability 9.0"), std::string::npos) << e.what();
  }
}

// FlashAttention v1.0.9's backward (fmha_bwd_launch_template.h, fmha_bwd_hdim64/128.cu): 8 warps
// over 16-row steps of a 256-key (d = 64) or 128-key (d = 128) block; shared memory 2 x 4 KiB (Q,
// dO, double-buffered) + 2 x 32 KiB (K, V) + 32 KiB (8 warps' fp32 partial dQ) + 2 x 8 KiB (P, dS)
// = 120 KiB at d = 64, 152 KiB at d = 128: one CTA per A100 SM. num_splits_heuristic_bwd on 108 SMs:
//   B·H = 1024, N = 512: plain 1024/108 = 9.48 waves, efficiency 0.948; 2 splits 18.96 waves, 0.998
//     / (1 + 256/512) = 0.665: the plain grid (b, h);
//   B·H = 32, N = 16384: plain 0.296; 64 splits 0.998 / (1 + 256/16384) = 0.983: sequence-parallel;
//   causal with N / 256 = 10 key blocks: sequence-parallel whatever the waves.
TEST(Exec, Fa1BackwardAsV109LaunchesIt) {
  const Device& a = find_device("a100-80gb");
  Workload w = fp16_backward("flash1", "fa1", 64);
  w.batch = 32, w.heads = w.kv_heads = 32, w.seq = 512;
  const Prediction plain = predict(a, w);
  const KernelCost& k = kernel_named(plain, "flash1_bwd");
  EXPECT_EQ(k.ctas.v, 1024u);
  EXPECT_EQ(k.ctas_per_sm, 1u);
  EXPECT_EQ(k.mma_warps, 8u);
  w.batch = 1, w.seq = 16384;
  const Prediction par = predict(a, w);
  EXPECT_EQ(kernel_named(par, "flash1_bwd_seqparallel").ctas.v, 32u * 64);
  // rows = 32 x 16384 = 524288: dq_tmp zeroed (fp32), D from dO and O, dq.copy_(dq_tmp).
  EXPECT_EQ(kernel_named(par, "flash1_bwd_zero_dq").hbm_write.v, 524288u * 64 * 4);
  EXPECT_EQ(kernel_named(par, "flash1_bwd_dot_do_o").hbm_read.v, 524288u * 64 * 2 * 2);
  EXPECT_EQ(kernel_named(par, "flash1_bwd_dot_do_o").hbm_write.v, 524288u * 4);
  EXPECT_EQ(kernel_named(par, "flash1_bwd_copy_dq").hbm_read.v, 524288u * 64 * 4);
  EXPECT_EQ(kernel_named(par, "flash1_bwd_copy_dq").hbm_write.v, 524288u * 64 * 2);
  w.batch = 16, w.seq = 2560, w.causal = true;
  EXPECT_EQ(kernel_named(predict(a, w), "flash1_bwd_seqparallel").ctas.v, 512u * 10);
  w.causal = false, w.head_dim = 128, w.heads = w.kv_heads = 16, w.batch = 32, w.seq = 512;
  EXPECT_EQ(kernel_named(predict(a, w), "flash1_bwd").ctas_per_sm, 1u);  // 152 KiB

  // One head, N = Nk = 256, d = 64, L2 off: the plain grid (one key block), 16 steps of 16 rows.
  // Shared memory per step: Q and dO by 8 warps in 2 GEMMs each (16 x 128 x 2 B x 16 = 65536), K and
  // V once (256 x 128 x 2 = 65536), P and dS written and read (16 x 256 x 2 x 2 = 16384 each way),
  // 8 partial dQ written and read (16 x 64 x 4 x 8 = 32768 each way). Staged into shared memory
  // once: K, V (65536); Q, dO, LSE, D per step (256 rows x 264 B) and O for D (256 x 124 B more).
  w.batch = w.heads = w.kv_heads = 1, w.seq = 256, w.head_dim = 64;
  w.l2 = false;
  const Prediction single = predict(a, w);
  const KernelCost& one = kernel_named(single, "flash1_bwd");
  EXPECT_EQ(one.sram_read.v, 16u * (65536 + 65536 + 16384 + 32768));
  EXPECT_EQ(one.sram_write.v, 65536u + 256 * 264 + 256 * 124 + 16u * (16384 + 32768));
  // dQ: read and written in fp32 by no step (one key block), written once at 16 bits; D written.
  EXPECT_EQ(one.hbm_write.v, 256u * 64 * 2 + 256u * 4 + 256u * 128 * 2);
}

// A head dim between two instantiations runs the next larger kernel (FlashAttention-2's
// HEADDIM_SWITCH, FlashAttention-3's round_up_headdim): d = 80 issues MMAs over 96 columns; the
// FLOPs the user asked for and the bytes stay at 80.
TEST(Exec, PaddedHeadDimIssuesTheKernelsColumns) {
  Workload w;
  w.dtype = Dtype::fp16;
  w.batch = 1, w.heads = w.kv_heads = 1, w.seq = 128, w.head_dim = 80;
  w.impl = &find_impl("fa2");
  const Prediction a = predict(find_device("a100-80gb"), w);
  const KernelCost& k = kernel_named(a, "flash2_fwd");
  EXPECT_EQ(k.tensor_flops.v, 128u * 128 * 2 * (80 + 80));
  EXPECT_EQ(k.tensor_issue.v, 128u * 128 * 2 * (96 + 96));  // one 128 x 64 block row, both blocks visited
  w.head_dim = 64;
  const Prediction b = predict(find_device("a100-80gb"), w);
  EXPECT_EQ(kernel_named(b, "flash2_fwd").tensor_issue.v, 128u * 128 * 2 * (64 + 64));  // an instantiation: no padding
  w.head_dim = 80;
  w.impl = &find_impl("fa3");
  const Prediction h = predict(find_device("h100-sxm"), w);
  // FA3's block at d = 96 is taller than N = 128: the one block row computes block_m rows.
  ASSERT_GE(h.block_m, 128u);
  EXPECT_EQ(kernel_named(h, "flash2_fwd").tensor_issue.v, h.block_m * 128 * 2 * (96 + 96));
}

// xFormers v0.0.20's CUTLASS backward (kernel_backward.h, attention_backward_generic.cu:311-348).
TEST(Exec, XformersBackwardAsV020LaunchesIt) {
  const Device& a = find_device("a100-80gb");
  Workload w = fp16_backward("flash2", "xformers", 64);
  w.batch = w.heads = w.kv_heads = 1, w.seq = 128;
  w.l2 = false;
  // One head, N = Nk = 128, d = 64: 64 x 64 blocks, 4 warps, 3 CTAs per SM; B·H = 1 < 256, so
  // num_splits = Nk / J = 2: the fp32 workspace (128 x 64 x 4 = 32768 B) zeroed, two CTAs of one
  // key block each, 2 x 2 = 4 visited pairs.
  const Prediction pr = predict(a, w);
  EXPECT_EQ(kernel_named(pr, "xformers_bwd_zero_workspace").hbm_write.v, 32768u);
  const KernelCost& k = kernel_named(pr, "xformers_bwd");
  EXPECT_EQ(k.ctas.v, 2u);
  EXPECT_EQ(k.ctas_per_sm, 3u);
  EXPECT_EQ(k.mma_warps, 4u);
  EXPECT_EQ(k.tensor_flops.v, 128u * 128 * 2 * (3 * 64 + 2 * 64));
  // Reads through L2: D by each CTA from O and dO of all 128 rows (2 x 128 x 128 x 2 = 65536);
  // per pair Q_i and dO_i twice (4 x 64 x 128 x 2 x 2 = 131072) and LSE_i, D_i (4 x 64 x 8 = 2048);
  // V_j and K_j every pair (4 x 64 x 128 x 2 = 65536), K_j for S once per CTA (2 x 64 x 64 x 2 =
  // 16384); the fp32 dQ partial every pair (4 x 64 x 64 x 4 = 65536).
  EXPECT_EQ(k.l2_read.v, 65536u + 131072 + 2048 + 65536 + 16384 + 65536);
  // Writes: D by each CTA (2 x 128 x 4), the partial by the first CTA of each query block (2 x
  // 16384), dQ at 16 bits by the last (16384), dK and dV (128 x 128 x 2).
  EXPECT_EQ(k.l2_write.v, 1024u + 32768 + 16384 + 32768);
  // Shared memory: the staged tiles (Q, dO twice; K, V) and P, dS (4 x 64 x 64 x 2 x 2 = 65536)
  // written; every GEMM read at 32 x 32 warp tiles, e / 32 bytes per FLOP.
  EXPECT_EQ(k.sram_write.v, 131072u + 65536 + 16384 + 65536);
  EXPECT_EQ(k.sram_read.v, 128u * 128 * 2 * (3 * 64 + 2 * 64) * 2 / 32);
  // d = 128: 128 x 128, 16 warps, one CTA per SM; K_j reloaded for S every pair (128 > 3 x 32).
  w.head_dim = 128;
  w.seq = 256;
  const Prediction wide = predict(a, w);
  const KernelCost& big = kernel_named(wide, "xformers_bwd");
  EXPECT_EQ(big.mma_warps, 16u);
  EXPECT_EQ(big.ctas_per_sm, 1u);
  EXPECT_EQ(big.ctas.v, 2u);
  // B·H >= 256 and Nk <= 2J: no split, one CTA per head walking both key blocks, no workspace
  // zeroing; the first key block starts dQ from zero (reads: 2 of 4 pairs).
  w.head_dim = 64, w.seq = 128, w.batch = 16, w.heads = w.kv_heads = 16;
  const Prediction one = predict(a, w);
  EXPECT_EQ(kernel_named(one, "xformers_bwd").ctas.v, 256u);
  for (int i = 0; i < one.kernel_count(); ++i) EXPECT_NE(one.kernels[i].name, "xformers_bwd_zero_workspace");
}

// triton.ops.flash_attention's backward as the FlashAttention-2 benchmark times it: both
// sequence_parallel values, keeping the faster (benchmark_flash_attention.py:112-130 @v2.0.4). At
// B·H = 512, N = 512 one program per head (512 CTAs) fills the A100; at B·H = 16, N = 16384 the
// 16 per-head programs would leave 92 SMs idle, so the grid (B·H, N/128) runs, storing dQ into
// 128 zeroed replicas (16 x 16384 x 128 x 2 B each) that dq.sum(dim=0) adds. Its loads are waited on
// where issued (num_stages = 1), and its chained dots put all 8 warps along M (warpsPerTileV2): per
// pair Q and dO are read once plus 8 times as B operands, K 16 times, V 8 times, P and dS 3 times.
TEST(Exec, TritonBackwardKeepsTheFasterGrid) {
  const Device& a = find_device("a100-80gb");
  Workload w = fp16_backward("flash2", "triton", 128);
  w.batch = 32, w.heads = w.kv_heads = 16, w.seq = 512;
  const Prediction small = predict(a, w);
  const KernelCost& per_head = kernel_named(small, "flash2_bwd");
  EXPECT_EQ(per_head.ctas.v, 512u);
  for (int i = 0; i < small.kernel_count(); ++i) EXPECT_NE(small.kernels[i].name, "flash2_bwd_sum_dq");
  EXPECT_EQ(per_head.sync_l2_read.v, per_head.l2_read.v);
  EXPECT_EQ(per_head.sync_hbm_read.v, per_head.hbm_read.v);
  w.batch = 1, w.seq = 16384;
  const Prediction big = predict(a, w);
  EXPECT_EQ(kernel_named(big, "flash2_bwd").ctas.v, 16u * 128);
  const std::uint64_t replica = 16u * 16384 * 128 * 2;
  EXPECT_EQ(kernel_named(big, "flash2_bwd_zero_dq").hbm_write.v, 128 * replica);
  EXPECT_EQ(kernel_named(big, "flash2_bwd_sum_dq").hbm_read.v, 128 * replica);
  EXPECT_EQ(kernel_named(big, "flash2_bwd_sum_dq").hbm_write.v, replica);
}

// Triton's backward shared-memory reads for one 128 x 128 pair (B = H = 1, N = 128, d = 128, L2 off):
// K, V staged (65536 B) and Q, dO with m, D (128 x 520 = 66560 B) staged, each counted once as
// staged by the 4-reader convention (x4) and then corrected to the warp layout: Q, dO 65536 B x
// (8/8 + 8) = 589824, less the 4 x 65536 already counted; K 32768 x (8 + 8), V 32768 x 8; P and dS
// 16384 scores x 2 B x (1 + 1 + 1).
TEST(Exec, TritonBackwardWarpsAlongM) {
  Workload w = fp16_backward("flash2", "triton", 128);
  w.batch = 1, w.heads = w.kv_heads = 1, w.seq = 128;
  w.l2 = false;
  const Prediction p = predict(find_device("a100-80gb"), w);  // named: kernel_named returns into it
  const KernelCost& k = kernel_named(p, "flash2_bwd");
  EXPECT_EQ(k.ctas.v, 1u);
  const std::uint64_t staged = 65536u * 4 + 66560u * 4;
  EXPECT_EQ(k.sram_read.v, staged + 589824u - 4 * 65536u + 32768u * 16 + 32768u * 8 + 16384u * 2 * 3);
}

// FlashAttention-2 (flash_fwd_launch_template.h:262, 313-318): 128 x 64 at d = 128 on both chips;
// d = 256: 64 x 64 on an H100 (>= 192 KiB of shared memory), 128 x 64 with 8 warps on an A100.
// mma.sync on Hopper holds the sub-partition: one job whatever the occupancy.
TEST(Exec, Fa2TraitsPerChip) {
  Workload w;
  w.seq = 8192;
  w.dtype = Dtype::fp16;
  const Device& a = find_device("a100-80gb");
  const Device& h = find_device("h100-sxm");
  EXPECT_EQ(predict(a, w).block_m, 128u);
  EXPECT_EQ(predict(a, w).block_n, 64u);
  EXPECT_DOUBLE_EQ(kernel_named(predict(a, w), "flash2_fwd").exec.overlap_jobs, 2.0);  // 2 CTAs of 64 KiB
  EXPECT_DOUBLE_EQ(kernel_named(predict(h, w), "flash2_fwd").exec.overlap_jobs, 1.0);
  w.head_dim = 256;
  w.heads = w.kv_heads = 8;
  EXPECT_EQ(predict(h, w).block_m, 64u);
  EXPECT_EQ(predict(a, w).block_m, 128u);
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_fwd").mma_warps, 8u);
}

// One decode step of B = 1, 32 query heads over 8 K/V heads, 4096 cached tokens, d = 128.
// A Llama-3-8B attention layer in decode with the fa2 profile: B = 8, 32 heads over 8 K/V heads of
// 128, bf16, `kv_len` keys.
Workload fa2_llama_decode(std::string_view variant, std::uint64_t kv_len) {
  Workload w;
  w.variant = parse_variant(variant);
  w.impl = &find_impl("fa2");
  w.phase = Phase::decode;
  w.dtype = Dtype::bf16;
  w.batch = 8, w.heads = 32, w.kv_heads = 8, w.head_dim = 128, w.kv_len = kv_len;
  return w;
}

Workload gqa_decode_4096() {
  Workload w;
  w.phase = Phase::decode;
  w.seq = 4096;
  w.heads = 32;
  w.kv_heads = 8;
  return w;
}

// On Hopper an mma.sync holds its sub-partition's issue, so a warp's MMAs and softmax run in
// series (one job); the shared-memory pipe that returns its ldmatrix tiles does not, so with two or
// more warps to a sub-partition the SM's busy time is the larger of the two. FlashAttention-2 at
// d = 256 on an H100 (64 x 64 tiles, 4 warps, 2 CTAs per SM, flash_fwd_launch_template.h:313-318):
// each warp reads the whole 64 x 256 K and V tiles and its 16 x 256 Q slice from shared memory
// every key block, 4 x (32 + 32 + 8) KiB = 288 KiB per 4.19 MFLOP of MMA, so at 128 B a clock the
// shared-memory time (3.36 ms here) exceeds tensor + softmax (1.86 + 0.57 ms): it sets the time,
// and the tensor utilization is tensor / smem. With one CTA per SM (a grid of 96 CTAs), one warp
// to a sub-partition, nothing fills its ldmatrix waits: GEMM phase max(tensor, smem), as before.
TEST(Exec, HopperMmaSyncLeavesTheSharedMemoryPipeFreeByHand) {
  Workload w;
  w.variant = parse_variant("flash2");
  w.impl = &find_impl("fa2");
  w.dtype = Dtype::fp16;
  w.batch = 2;
  w.heads = 8;
  w.seq = 8192;
  w.head_dim = 256;
  const Device& h = find_device("h100-sxm");
  const KernelCost k = kernel_named(predict(h, w), "flash2_fwd");
  EXPECT_EQ(k.ctas_per_sm, 2u);
  EXPECT_EQ(k.mma, MmaPath::mma_sync);
  const KernelCost::Exec& x = k.exec;
  EXPECT_EQ(x.overlap_jobs, 1);
  EXPECT_EQ(x.gemm_s, x.tensor_s);
  EXPECT_GT(x.smem_s, x.tensor_s + x.softmax_s + x.delay_s);
  EXPECT_NEAR(x.utilization, x.tensor_s / x.smem_s, 1e-12);
  EXPECT_EQ(x.bound, Bound::smem);
  // 96 CTAs of 64 rows (B = 1, H = 1, N = 6144): one per SM.
  w.batch = 1;
  w.heads = 1;
  w.seq = 6144;
  const KernelCost one = kernel_named(predict(h, w), "flash2_fwd");
  EXPECT_EQ(one.ctas.v, 96u);
  EXPECT_EQ(one.exec.gemm_s, std::max(one.exec.tensor_s, one.exec.smem_s));
  // The A100 keeps its occupancy rule: two CTAs are two jobs of the closed queue, and its GEMM
  // phase stays max(tensor, smem) (d = 128, 2 CTAs per SM).
  w.batch = 4;
  w.heads = 16;
  w.seq = 4096;
  w.head_dim = 128;
  const KernelCost a = kernel_named(predict(find_device("a100-80gb"), w), "flash2_fwd");
  EXPECT_EQ(a.ctas_per_sm, 2u);
  EXPECT_GE(a.exec.overlap_jobs, 2);
  EXPECT_EQ(a.exec.gemm_s, std::max(a.exec.tensor_s, a.exec.smem_s));
}

// A kernel as Nsight Compute replays it (profiled_kernel): no launch overhead, and the loads the
// model takes as L2 hits because an earlier kernel left them there come from DRAM, every cache
// having been flushed. FlashAttention-2's combine after a 7-way split of B = 1, H = 32, a 32768-token
// cache, d = 128 (the grid (1, 7, 32) Nsight Compute shows): 8 CTAs of 4 rows, one per SM, one pass
// each that waits on 7 L2 round trips (one per split). One job per SM, so the pass's waits add to
// its time in full: cold, each trip costs the DRAM latency, 272.8 ns, instead of 263 cycles at
// 1.83 GHz = 143.72 ns (no MMA: the full clock), 7 x 129.08 = 903.6 ns more. The split kernel
// streams its K/V from DRAM either way: only the launch is gone.
TEST(Exec, ProfiledKernelIsColdAndHasNoLaunchByHand) {
  Workload w;
  w.phase = Phase::decode;
  w.seq = 32768;
  w.heads = 32;
  w.kv_heads = 32;
  w.dtype = Dtype::bf16;
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, w);
  ASSERT_EQ(p.kernel_count(), 2);
  EXPECT_EQ(p.splits, 7u);
  const KernelCost& combine = kernel_named(p, "combine_splits");
  EXPECT_EQ(combine.ctas.v, 8u);
  EXPECT_EQ(combine.waits.l2_reads, 7u);
  const KernelCost::Exec cold = profiled_kernel(combine, h, p.workload);
  EXPECT_EQ(cold.launch_s, 0);
  const double l2_s = 263.0 / 1.83e9, dram_s = 272.8e-9;
  EXPECT_NEAR(h.l2_latency_cycles / h.clock_hz, l2_s, 1e-15);
  EXPECT_NEAR(h.dram_latency_s, dram_s, 1e-15);
  // Each of the 7 waits goes to DRAM, at the latency the kernel's own small DRAM load gives: a few
  // nanoseconds of queue over the unloaded 272.8 ns.
  EXPECT_NEAR(cold.time_s - (combine.exec.time_s - combine.exec.launch_s), 7 * (cold.wait_dram_latency_s - l2_s), 1e-12);
  EXPECT_GT(cold.wait_dram_latency_s, dram_s);
  EXPECT_LT(cold.wait_dram_latency_s, dram_s + 5e-9);
  EXPECT_NEAR(7 * (dram_s - l2_s), 903.6e-9, 0.1e-9);
  const KernelCost& split = kernel_named(p, "flash2_fwd_splitkv");
  EXPECT_NEAR(profiled_kernel(split, h, p.workload).time_s, split.exec.time_s - h.launch_overhead_s, 1e-12);
}

// Sliding-window decode over the rolling buffer (Mistral 7B §2): the buffer holds the last
// min(Nk, W) tokens and the new token attends all of them, so with the fa2 profile the call is
// flash-attention's decode over the buffer: the same kernels, bytes and time as flash2's decode over
// min(Nk, W) keys. attnio's own kernel keeps its window mask over the keys.
TEST(Exec, SlidingWindowDecodeIsTheLibrarysDecodeOverTheBuffer) {
  const Device& h = find_device("h100-sxm");
  const auto decode = [](std::string_view variant, std::uint64_t kv_len) {
    Workload w = fa2_llama_decode(variant, kv_len);
    if (variant == "sliding-window") w.set("window", 4096);
    return w;
  };
  // A buffer of W = 4096 tokens (a 32K context), and of the 1000 tokens a shorter context leaves.
  for (const auto& [nk, buffer] : {std::pair<std::uint64_t, std::uint64_t>{32768, 4096}, {1000, 1000}}) {
    const Prediction pw = predict(h, decode("sliding-window", nk)), pf = predict(h, decode("flash2", buffer));
    ASSERT_EQ(pw.kernel_count(), pf.kernel_count());
    EXPECT_EQ(pw.kernels[0].name, "flash2_fwd_splitkv");
    EXPECT_EQ(pw.hbm_bytes().v, pf.hbm_bytes().v);
    EXPECT_EQ(pw.splits, pf.splits);
    EXPECT_EQ(pw.block_m, 4u);  // the group's 4 heads packed in one 64-row tile
    EXPECT_DOUBLE_EQ(pw.predicted_time_s, pf.predicted_time_s);
  }
  Workload own = decode("sliding-window", 32768);
  own.impl = &find_impl("attnio");
  EXPECT_NE(predict(h, own).kernels[0].name, "flash2_fwd_splitkv");
}

// flash-attention >= 2.2 decodes with the split-KV kernel and the GQA heads packed as query rows
// (flash_api.cpp:431-437); 2.0.x ran one 128-row m-block per query head.
TEST(Exec, Fa2DecodeSplitsLikeTheLibrary) {
  Workload w = gqa_decode_4096();
  const Device& h = find_device("h100-sxm");
  const Prediction now = predict(h, w);
  EXPECT_EQ(now.kernels[0].name, "flash2_fwd_splitkv");
  EXPECT_EQ(now.block_m, 4u);  // the 4 heads of a group in one 64-row tile
  // The split-KV kernel's own tiles (kBlockM 64, kBlockN 128 at d = 128), not the prefill
  // kernel's 128 x 64: a 64 x 128 x 2 B query tile and a 128-token K/V block of 512 B per token,
  // 80 KiB of shared memory, so 2 CTAs per SM on the H100's 228 KiB, as Nsight Compute reports
  // for this kernel (81.92 KB, launch__occupancy_limit_shared_mem 2; validation/sources/counters.csv).
  EXPECT_EQ(now.block_n, 128u);
  EXPECT_EQ(now.kernels[0].ctas_per_sm, 2u);
  // Its MMAs run over the whole 64-row tile: B·Hkv = 8 tiles x 64 rows x 4096 keys x 2 x (128 + 128).
  EXPECT_EQ(now.kernels[0].tensor_issue.v, 8ull * 64 * 4096 * 2 * 256);
  // Shared-memory reads, as its compiled main loop issues them (scripts/flash-attn/ptx: 72
  // ldmatrix.x4 of K and Q and 64 of V per thread per key block): each of the 4 warps reads the
  // whole K and V block (8 sets x 4096 tokens x 512 B x 4 warps) and its 16 rows of the 64-row Q
  // tile, padding included, every key block (8 tiles x 64 rows x 256 B x 32 blocks).
  EXPECT_EQ(now.kernels[0].sram_read.v, 8ull * 4096 * 512 * 4 + 8ull * 64 * 256 * 32);
  w.impl = &find_impl("fa2-v2.0");
  const Prediction old = predict(h, w);
  EXPECT_EQ(old.kernels[0].name, "flash2_fwd");
  EXPECT_GT(old.predicted_time_s, now.predicted_time_s);
}

// flash-attention's decode with one split runs the regular forward kernel (run_mha_fwd: num_splits
// <= 1 and no forced split kernel), by hand on the A100 (108 SMs), fp16, H = 16, Hkv = 2, d = 128:
// the 8 query heads of a K/V head are packed into one m-block (seqlenq_ngroups_swapped).
//   B = 256, Nk = 256: 512 CTAs >= 0.8 x 216 slots, one split: the forward kernel's 128 x 64 tile
//     (sm80, d = 128, 4 warps, 2 __syncthreads per key block), 120 of its 128 rows padding:
//     tensor issue 512 x 128 rows x 256 keys x 2 x (128 + 128) = 8589934592, 4 key blocks each.
//   B = 64, Nk = 1024: 128 CTAs. fa2-splitkv (today's heuristic, 2 x 108 slots): efficiency
//     128n / 216 over its ceiling for the eligible n = 1, 2, 3, 4, 8 (8 key blocks of 128) is 0.59,
//     0.59, 0.89, 0.79, 0.95; the first within 85 % of the best is 3. fa2-splitkv-2.3 (108 slots, as
//     flash-attn 2.2-2.5.6): 128 >= 0.8 x 108, no split, so the forward kernel again.
TEST(Exec, Fa2DecodeWithOneSplitRunsTheForwardKernelByHand) {
  Workload w;
  w.variant = parse_variant("flash-decoding");
  w.impl = &find_impl("fa2-splitkv");
  w.dtype = Dtype::fp16;
  w.phase = Phase::decode;
  w.batch = 256, w.heads = 16, w.kv_heads = 2, w.kv_len = 256, w.head_dim = 128;
  const Device& a = find_device("a100-80gb");
  const Prediction one = predict(a, w);
  EXPECT_EQ(one.splits, 1u);
  EXPECT_EQ(one.block_n, 64u);
  EXPECT_EQ(one.row_tile, 128u);
  const KernelCost& k = one.kernels[0];
  EXPECT_EQ(k.ctas.v, 512u);
  EXPECT_EQ(k.tensor_issue.v, 8589934592u);
  EXPECT_EQ(k.block_iters.v, 512u * 4);
  EXPECT_EQ(k.waits.barriers, 2u);
  EXPECT_EQ(one.kernel_count(), 1);  // no combine
  // 128 query heads on one K/V head: two 64-row m-blocks choose the split (512 CTAs, none), the
  // forward kernel's 128-row m-block holds them all: 256 CTAs.
  Workload mqa = w;
  mqa.heads = 128, mqa.kv_heads = 1;
  const Prediction wide = predict(a, mqa);
  EXPECT_EQ(wide.splits, 1u);
  EXPECT_EQ(wide.kernels[0].ctas.v, 256u);
  w.batch = 64, w.kv_len = 1024;
  const Prediction split = predict(a, w);
  EXPECT_EQ(split.splits, 3u);
  EXPECT_EQ(split.block_n, 128u);
  EXPECT_EQ(split.row_tile, 64u);
  EXPECT_EQ(split.kernels[0].waits.barriers, 0u);
  w.impl = &find_impl("fa2-splitkv-2.3");
  const Prediction old = predict(a, w);
  EXPECT_EQ(old.splits, 1u);
  EXPECT_EQ(old.block_n, 64u);
}

// flash-attention's split-KV combine (combine_attn_seqk_parallel @0251105), hand-derived for
// B = 1, H = 32, Hkv = 8, Nk = 4096, d = 128 on the H100 SXM: 32 key blocks of 128 over 8 CTAs
// give 32 splits (the heuristic's 97 % wave efficiency). The combine runs kBlockM = 4 rows per
// 128-thread CTA (d % 128 == 0): 32 / 4 = 8 CTAs. Each waits out 2 __syncthreads (21 + 2 x 4
// warps = 29 cycles each) and 32 L2 round trips, one per split's partial O (263 cycles), at
// 1.83 GHz (no tensor work, so the full clock): (58 + 8416) / 1.83e9 = 4.631 µs, plus its first
// load (the LSEs), the fill's DRAM latency of 272.8 ns. One CTA per SM: the chain is the time.
TEST(Exec, Fa2CombineWaitsOnEachSplitByHand) {
  Workload w = gqa_decode_4096();
  w.impl = &find_impl("fa2");
  const Prediction p = predict(find_device("h100-sxm"), w);
  ASSERT_EQ(p.splits, 32u);
  const KernelCost& c = kernel_named(p, "combine_splits");
  EXPECT_EQ(c.ctas.v, 8u);
  EXPECT_EQ(c.waits.barriers, 2u);
  EXPECT_EQ(c.waits.l2_reads, 32u);
  EXPECT_NEAR(c.exec.iter_wait_s, (2 * 29.0 + 32 * 263.0) / 1.83e9, 1e-15);
  // compute = the chain + the first load + the CTA's own FP32/MUFU pass (8 of 132 SMs busy, so a
  // CTA's share of the kernel's pipe time is x 132 / 8; about 65 ns here). The kernel has no GEMM,
  // so the fill rule charges no pass before a first GEMM.
  const double pass = (c.exec.gemm_s + c.exec.softmax_s) * 132 / 8;
  EXPECT_LT(pass, 80e-9);
  EXPECT_NEAR(c.exec.compute_s, 4.6308e-6 + 272.8e-9 + pass, 1e-9);
  // A profile without flash-attention's combine (attnio's own kernels) streams it: its launch only.
  w.impl = &find_impl("attnio");
  const Prediction own = predict(find_device("h100-sxm"), w);
  for (int i = 0; i < own.kernel_count(); ++i) EXPECT_EQ(own.kernels[i].waits.l2_reads, 0u);
}

// vLLM's PagedAttention (attention_kernels.cu paged_attention_kernel), hand-derived for B = 1,
// H = Hkv = 8, d = 128, 16-token pages on the H100 SXM. At 1024 tokens the 64 pages make 2
// partitions of 512 tokens and 8 CTAs are not over 512, so v2 runs: 16 CTAs of 32 pages, each
// warp of 4 walking 8 of them, and per page one block-table round trip (L2) then one K load round
// trip (DRAM), the same for V: 16 L2 and 16 + 1 DRAM waits per CTA (the +1: v2 reads the context
// length before its query), 9 barriers (21 + 2 x 4 warps = 29 cycles each). Its dot products are
// FP32 FMAs (2 x 1024 x (128 + 128) FLOPs a head, none on the tensor cores), so the SM runs at the
// full 1.83 GHz clock: (9 x 29 + 16 x 263) / 1.83e9 + 17 x 272.8 ns. Its reduce kernel runs
// one CTA per (head, sequence), 8, each chaining 3 L2 loads after the context length, with 4
// barriers. At 512 tokens one partition holds the context: v1, 32 pages, no extra round trip.
// Resident CTAs: the compiled kernel's 96 registers a thread (bf16, d = 128, sm_90; scripts/vllm/ptx)
// take 96 x 32 = 3072 per warp, 12,288 per CTA of 4 warps: 65,536 / 12,288 = 5 CTAs (2048 threads
// over 128 would allow 16). Per page a warp issues the compiled 329 FP32-pipe and 237 other
// instructions (32 lanes each) and moves 228 L1 wavefronts of 128 B; the 8 x 64 pages make
// 8 x 1024 x 2 (the softmax) + 512 x 329 x 32 = 5,406,720 FP32 lane instructions, 512 x 237 x 32 =
// 3,883,008 others, and 8 x 1024 x 4 B of logits + 512 x 228 x 128 B = 14,974,976 B through the
// L1/shared-memory data path.
TEST(Exec, VllmPagedWaitsOnEachPageByHand) {
  Workload w;
  w.variant = parse_variant("paged");
  w.impl = &find_impl("vllm-paged");
  w.phase = Phase::decode;
  w.batch = 1, w.heads = 8, w.kv_heads = 8, w.seq = 1024, w.kv_len = 1024, w.head_dim = 128;
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, w);
  const KernelCost& k = kernel_named(p, "paged_attention_v2");
  EXPECT_EQ(k.ctas.v, 16u);
  EXPECT_EQ(k.registers, 96u);
  EXPECT_EQ(k.ctas_per_sm, 5u);
  EXPECT_EQ(k.tensor_flops.v, 0u);
  EXPECT_EQ(k.fp32_flops.v, 8u * 1024 * (2 * 256 + 4));
  EXPECT_EQ(k.fp32_instr.v, 5406720u);
  EXPECT_EQ(k.other_instr.v, 3883008u);
  EXPECT_EQ((k.sram_read + k.sram_write).v, 14974976u + 8u * 1024 * 4);
  EXPECT_EQ(k.waits.barriers, 9u);
  EXPECT_EQ(k.waits.l2_reads, 16u);
  EXPECT_EQ(k.waits.dram_reads, 17u);
  // Each DRAM round trip at the latency the kernel's own DRAM load gives (the unloaded 272.8 ns plus
  // the queue; Exec.WaitedDramLoadsSeeTheKernelsOwnQueueByHand).
  const double l = k.exec.wait_dram_latency_s;
  EXPECT_NEAR(k.exec.iter_wait_s, (9 * 29.0 + 16 * 263.0) / 1.83e9 + 17 * l, 1e-15);
  const double bytes = (k.hbm_read + k.hbm_write).d();
  EXPECT_GT(l, 272.8e-9);
  EXPECT_NEAR(l, h.loaded_dram_latency_s(bytes / (k.exec.time_s - k.exec.launch_s), k.hbm_write.d() / bytes), 1e-3 * l);
  const KernelCost& r = kernel_named(p, "paged_attention_v2_reduce");
  EXPECT_EQ(r.ctas.v, 8u);
  EXPECT_EQ(r.waits.barriers, 4u);
  EXPECT_EQ(r.waits.l2_reads, 3u);
  EXPECT_EQ(r.waits.dram_reads, 0u);
  w.seq = w.kv_len = 512;
  const Prediction one = predict(h, w);
  const KernelCost& v1 = kernel_named(one, "paged_attention_v1");
  EXPECT_EQ(v1.ctas.v, 8u);
  EXPECT_EQ(v1.waits.l2_reads, 16u);
  EXPECT_EQ(v1.waits.dram_reads, 16u);
  // A benchmark that runs v2 (--paged-version 2) gets v2 where vLLM would pick v1: one partition,
  // its extra round trip and the reduce kernel.
  w.set("paged_version", 2);
  const Prediction forced = predict(h, w);
  EXPECT_EQ(kernel_named(forced, "paged_attention_v2").waits.dram_reads, 17u);
  EXPECT_EQ(kernel_named(forced, "paged_attention_v2_reduce").ctas.v, 8u);
  // On an A100 the same kernel compiles to 127 registers (sm_80): 127 x 32 rounds up to 4096 a
  // warp, 16,384 a CTA, 4 CTAs. Pages of 32 tokens are not compiled here: the dot products alone and
  // the threads' 16 CTAs.
  w.set("paged_version", 1);
  EXPECT_EQ(kernel_named(predict(find_device("a100-40gb-pcie"), w), "paged_attention_v1").ctas_per_sm, 4u);
  w.set("page_size", 32);
  const Prediction paged32 = predict(h, w);
  const KernelCost& other_page = kernel_named(paged32, "paged_attention_v1");
  EXPECT_EQ(other_page.ctas_per_sm, 16u);
  EXPECT_EQ(other_page.other_instr.v, 0u);
  // attnio's own paged kernel keeps its own accounting: none of vLLM's waits.
  w.impl = &find_impl("attnio");
  for (const KernelCost& c : predict(h, w).kernels) EXPECT_FALSE(c.waits.any()) << c.name;
}

// PyTorch eager decode as xFormers' benchmark_attn_decoding.py runs it (the Flash-Decoding post's
// "PyTorch Eager"): B = 2, H = 16, Hkv = 2, Nk = 256, d = 128, fp16. Expanded K (or V) is
// E = 2 x 16 x 256 x 128 x 2 B = 2 MiB, the stored one E/8. The reshape of the expanded group
// dimension copies K and V (read E/8 from DRAM, E through L2, write E); matmul's fold of (B, H)
// copies K transposed (each of its E/2 elements one 32-byte L2 sector) and V; the softmax and
// the separate scale read and write the 2 x 16 x 256 scores. With B = 1 the fold is a view.
TEST(Exec, PyTorchEagerDecodeCopiesLikeTheBenchmark) {
  Workload w;
  w.variant = parse_variant("standard");
  w.impl = &find_impl("pytorch");
  w.dtype = Dtype::fp16;
  w.phase = Phase::decode;
  w.batch = 2, w.heads = 16, w.kv_heads = 2, w.seq = 1, w.kv_len = 256, w.head_dim = 128;
  const Device& a = find_device("a100-80gb");
  const Prediction p = predict(a, w);
  const std::uint64_t E = 2u * 16 * 256 * 128 * 2;
  for (const char* name : {"copy_k_repeat", "copy_v_repeat"}) {
    EXPECT_EQ(kernel_named(p, name).hbm_read.v, E / 8) << name;
    EXPECT_EQ(kernel_named(p, name).l2_read.v, E) << name;
    EXPECT_EQ(kernel_named(p, name).hbm_write.v, E) << name;
  }
  EXPECT_EQ(kernel_named(p, "copy_kt_fold").l2_read.v, E / 2 * 32);
  EXPECT_EQ(kernel_named(p, "copy_kt_fold").hbm_read.v, E);
  EXPECT_EQ(kernel_named(p, "copy_v_fold").hbm_write.v, E);
  EXPECT_EQ(kernel_named(p, "scale").hbm_read.v, 2u * 16 * 256 * 2);
  EXPECT_EQ(p.kernel_count(), 8);
  w.batch = 1;  // the (1, H) batch folds as a view: only the repeat copies remain
  EXPECT_EQ(predict(a, w).kernel_count(), 6);
  w.kv_heads = 1;  // Hkv = 1 is indexed, not reshaped: no copy at all
  EXPECT_EQ(predict(a, w).kernel_count(), 4);
}

// torch.softmax as PyTorch's SoftMax.cu runs it (standard.cpp eager_softmax), by hand. B = H = 1,
// N = Nk = 2048, fp16, on the A100 and the H100 SXM: 2048 rows of 2048 > 1024 columns, so one CTA
// per row, SoftMax_getBlockSize(8, 2048) = 2048 / 8 / 2 = 128 threads (4 warps), 2048 / 128 = 16 per
// SM. Per element FP32 19, MUFU 3 (two expf, one division), other 10; E = 2048^2 = 4194304.
//   A100: FP32 pipe 19 E / (108 SMs x 64 lanes x 1.41e9) = 8.1770 µs; issue (19 + 10) E / (108 x
//         128 x 1.41e9) = 6.2403 µs, under the pipe's; MUFU 3 E / 2.43648e12 = 5.1644 µs.
//   H100: FP32 pipe 19 E / (132 x 128 lanes x 1.83e9) = 2.5773 µs; issue 29 E / (132 x 128 x
//         1.83e9) = 3.9339 µs: the issue slots bind (sm_90's FP32 pipe is as wide as the issue).
TEST(Exec, PyTorchSoftmaxInstructionsByHand) {
  Workload w;
  w.variant = parse_variant("standard");
  w.impl = &find_impl("pytorch");
  w.dtype = Dtype::fp16;
  w.batch = 1, w.heads = w.kv_heads = 1, w.seq = 2048, w.head_dim = 64;
  const double E = 2048.0 * 2048.0;
  const Prediction a = predict(find_device("a100-80gb"), w);
  const KernelCost& k = kernel_named(a, "softmax");
  EXPECT_EQ(k.ctas.v, 2048u);
  EXPECT_EQ(k.mma_warps, 4u);
  EXPECT_EQ(k.ctas_per_sm, 16u);
  EXPECT_EQ(k.fp32_instr.d(), 19 * E);
  EXPECT_EQ(k.other_instr.d(), 10 * E);
  EXPECT_EQ(k.sfu_ops.d(), 3 * E);
  EXPECT_EQ(k.waits.barriers, 8u);
  EXPECT_EQ(k.sync_hbm_read.d(), 2 * E);  // every load waited on where issued
  EXPECT_NEAR(k.exec.fp32_s, 8.1770e-6, 1e-9);
  EXPECT_NEAR(k.exec.mufu_s, 5.1644e-6, 1e-9);
  const Prediction h = predict(find_device("h100-sxm"), w);
  EXPECT_NEAR(kernel_named(h, "softmax").exec.fp32_s, 3.9339e-6, 1e-9);
  // Up to 1024 columns: softmax_warp_forward, a warp per row in 128-thread CTAs, FP32 13, MUFU 2.
  w.seq = 1024;
  const Prediction warp = predict(find_device("a100-80gb"), w);
  const KernelCost& small = kernel_named(warp, "softmax");
  EXPECT_EQ(small.ctas.v, 1024u / 4);
  EXPECT_EQ(small.fp32_instr.d(), 13 * 1024.0 * 1024.0);
  EXPECT_EQ(small.sfu_ops.d(), 2 * 1024.0 * 1024.0);
  EXPECT_EQ(small.waits.barriers, 0u);
}

// PyTorch eager prefill as flash-attention's benchmark runs it (attention_pytorch on a packed qkv):
// B = 2, H = 4, N = 256, d = 64, fp16, forward and backward. One of Q, K, V, dQ, dK, dV is
// T = 2 x 4 x 256 x 64 x 2 B = 256 KiB, T / 2 elements. The forward's K copy ('b s h d -> (b h) d s')
// is gathered: T / 2 sectors of 32 bytes through L2, T from DRAM. The backward multiplies dQ and
// dK by the softmax scale in kernels of their own (baddbmm's derivative, alpha != 1), then
// unbind's stack copies dq, dk (gathered) and dv into the packed gradient.
TEST(Exec, PyTorchEagerPrefillKernelsByHand) {
  Workload w;
  w.variant = parse_variant("standard");
  w.impl = &find_impl("pytorch");
  w.dtype = Dtype::fp16;
  w.pass = Pass::fwdbwd;
  w.batch = 2, w.heads = w.kv_heads = 4, w.seq = 256, w.head_dim = 64;
  const Prediction p = predict(find_device("a100-80gb"), w);
  const std::uint64_t T = 2u * 4 * 256 * 64 * 2;
  EXPECT_EQ(kernel_named(p, "copy_q").l2_read.v, T);
  EXPECT_EQ(kernel_named(p, "copy_k").l2_read.v, T / 2 * 32);
  EXPECT_EQ(kernel_named(p, "copy_k").hbm_read.v, T);
  EXPECT_EQ(kernel_named(p, "copy_k").hbm_write.v, T);
  for (const char* name : {"scale_dq", "scale_dk", "stack_dq", "stack_dk", "stack_dv"}) {
    EXPECT_EQ(kernel_named(p, name).hbm_read.v, T) << name;
    EXPECT_EQ(kernel_named(p, name).hbm_write.v, T) << name;
  }
  EXPECT_EQ(kernel_named(p, "scale_dq").fp32_flops.v, T / 2);
  EXPECT_EQ(kernel_named(p, "stack_dq").l2_read.v, T);
  EXPECT_EQ(kernel_named(p, "stack_dk").l2_read.v, T / 2 * 32);
  // copy_q, copy_k, gemm_qk, softmax, copy_v, gemm_pv; gemm_dv, gemm_dp, softmax_bwd_mul,
  // softmax_bwd, gemm_dq, gemm_dk and the five above.
  EXPECT_EQ(p.kernel_count(), 17);
  // TensorIterator's legacy loop (permuted or broadcast operands) keeps one element per input per
  // thread in flight: 2048 threads per SM on sm_80 over the closed form's 8 CTAs per SM, 256
  // threads x 2 bytes = 512 B per CTA; the vectorized scale kernels have no cap. copy_q's 128
  // CTAs (T / 2 = 131072 elements, 1024 per CTA) all resident (108 SMs x 8 hold 864) keep 128 x
  // 512 B in flight over the 330.7 ns DRAM latency (unloaded: a device file without the queue
  // curves): its T = 262144 B of reads take at least 262144 / (65536 / 330.7e-9) = 4 x 330.7 ns =
  // 1.3228 µs.
  EXPECT_EQ(kernel_named(p, "copy_q").inflight_bytes.v, 512u);
  EXPECT_EQ(kernel_named(p, "stack_dv").inflight_bytes.v, 512u);
  EXPECT_EQ(kernel_named(p, "scale_dq").inflight_bytes.v, 0u);
  Device unloaded = find_device("a100-80gb");
  unloaded.dram_queue_read.clear();
  unloaded.dram_queue_copy.clear();
  const Prediction pu = predict(unloaded, w);
  const KernelCost& copy_q = kernel_named(pu, "copy_q");
  EXPECT_NEAR(copy_q.exec.latency_s, 1.3228e-6, 1e-15);
  EXPECT_DOUBLE_EQ(copy_q.exec.inflight_latency_s, 330.7e-9);
  EXPECT_EQ(predict(find_device("rtx4090"), w).kernels[0].inflight_bytes.v, 1536u / 8 * 2);  // sm_89: 1536 threads
  w.causal = true;  // the mask built and added: two more
  const Prediction c = predict(find_device("a100-80gb"), w);
  EXPECT_EQ(c.kernel_count(), 19);
  // The add waits on the scores (2 bytes, from DRAM) and the broadcast mask, whose 256 x 256 x 2 =
  // 128 KiB plane stays in L2 after its first read: DRAM bytes per element 2 + 2 / (B·H) = 2.25,
  // so 256 threads x 2.25 = 576 B per CTA.
  EXPECT_EQ(kernel_named(c, "add_mask").inflight_bytes.v, 576u);
}

// Little's law at the loaded latency (docs/model.md "Time", rule 6): a copy's rate r solves
// r = bytes in flight / (L0 + G(u)), u = (r read + r written) / the sustained rate, G the copy
// curve (reads and writes equal). On the A100 file with a two-point copy curve G = 0 up to
// u = 0.5, then rising 800 ns to u = 1: copy_q of B = 8, H = 16, N = 1024, d = 128 (16.8 M
// elements, 33.6 MB, in 16384 CTAs, so 108 x 8 resident x 512 B = 442368 B in flight). At G = 0 the rate would be
// 442368 / 330.7 ns = 1.34 TB/s, u = 1.57 > 0.5, so G = 1.6 µs x (2r / 1.7e12 - 0.5) and
// r (a r + b) = 442368 with a = 1.6e-6 x 2 / 1.7e12 = 1.88235e-18, b = 330.7e-9 - 800e-9:
// r = (-b + sqrt(b² + 4 a 442368)) / 2a = 6.2520e11 B/s; u = 0.7355, the latency 707.5 ns.
TEST(Exec, InFlightCapRunsAtTheLoadedLatencyByHand) {
  Device a = find_device("a100-80gb");
  a.dram_queue_read = {{0.5, 0.0}, {1.0, 400e-9}};
  a.dram_queue_copy = {{0.5, 0.0}, {1.0, 800e-9}};
  Workload w;
  w.variant = parse_variant("standard");
  w.impl = &find_impl("pytorch");
  w.dtype = Dtype::fp16;
  w.batch = 8, w.heads = w.kv_heads = 16, w.seq = 1024, w.head_dim = 128;
  const Prediction p = predict(a, w);
  const KernelCost& k = kernel_named(p, "copy_q");
  const double inflight = 108.0 * 8 * 512;
  const double qa = 1.6e-6 * 2 / 1.7e12, qb = 330.7e-9 - 800e-9;
  const double r = (-qb + std::sqrt(qb * qb + 4 * qa * inflight)) / (2 * qa);
  EXPECT_NEAR(r, 6.2520e11, 0.0001e11);
  EXPECT_NEAR(k.exec.inflight_latency_s, inflight / r, 1e-12);
  EXPECT_NEAR(k.exec.inflight_latency_s, 707.5e-9, 0.1e-9);
  EXPECT_NEAR(k.exec.latency_s, k.hbm_read.d() / r, 1e-9 * k.exec.latency_s);
  // Unloaded, the same copy's cap would be 2.1 x shorter: the queue is what binds it.
  EXPECT_GT(k.exec.latency_s, 2 * k.hbm_read.d() / (inflight / 330.7e-9));
}

// A load waited on where it is issued sees DRAM as loaded as the kernel keeps it (docs/model.md,
// "Time", rule 2). One CTA per SM, 10 waited DRAM loads per iteration and nothing else: its time is
// 10 L + L0 (the chain, then the fill's first load at the unloaded L0), and L = L0 + L1 u with u the
// kernel's read rate over the sustained rate, u = c / (10 L + L0), c = bytes / rate = 5 µs. So
// (L - L0)(10 L + L0) = L1 c: 10 L^2 - 9 L0 L - (L0^2 + L1 c) = 0.
TEST(Exec, WaitedDramLoadsSeeTheKernelsOwnQueueByHand) {
  Device h = find_device("h100-sxm");
  h.dram_queue_read = {{0.0, 0.0}, {1.0, 1e-6}};
  h.dram_queue_copy = {{0.0, 0.0}, {1.0, 2e-6}};
  h.launch_overhead_s = 0;
  Workload w;
  w.impl = &find_impl("vllm-paged");
  KernelCost k;
  k.name = "chain";
  k.ctas = h.sm_count;
  k.block_iters = h.sm_count;
  k.waits.dram_reads = 10;
  const double c = 5e-6;
  k.hbm_read = Count(static_cast<std::uint64_t>(c * h.sustained_hbm_rate()));
  const double l0 = h.dram_latency_s, l1 = 1e-6;
  const double cc = k.hbm_read.d() / h.sustained_hbm_rate();
  const double l = (9 * l0 + std::sqrt(81 * l0 * l0 + 40 * (l0 * l0 + l1 * cc))) / 20;
  EXPECT_NEAR(l, 845.7e-9, 0.1e-9);
  const double t = detail::kernel_time_s(k, h, w);
  EXPECT_NEAR(t, 10 * l + l0, 1e-4 * t);
  // As many bytes written as read (write share 1/2): the copy curve alone, twice as steep here, so
  // (L - L0)(10 L + L0) = 2 L1 c over the same 5 µs of DRAM traffic.
  KernelCost mixed = k;
  mixed.hbm_read = Count(k.hbm_read.v / 2);
  mixed.hbm_write = Count(k.hbm_read.v - mixed.hbm_read.v);
  const double lm = (9 * l0 + std::sqrt(81 * l0 * l0 + 40 * (l0 * l0 + 2 * l1 * cc))) / 20;
  EXPECT_NEAR(detail::kernel_time_s(mixed, h, w), 10 * lm + l0, 1e-4 * (10 * lm + l0));
  // A load too light to reach the curves' first rise (no queue below 10 % here) keeps the unloaded
  // latency: 64 kB over the 3 µs chain is far below 10 % of the sustained rate.
  Device flat = h;
  flat.dram_queue_read = {{0.1, 0.0}, {1.0, 1e-6}};
  flat.dram_queue_copy = {{0.1, 0.0}, {1.0, 2e-6}};
  KernelCost light = k;
  light.hbm_read = Count(65536);
  EXPECT_NEAR(detail::kernel_time_s(light, flat, w), 11 * l0, 1e-12);
  // With no curves the chain takes the unloaded latency, 3.0 µs, and the 5 µs of DRAM time binds.
  h.dram_queue_read.clear();
  EXPECT_NEAR(detail::kernel_time_s(k, h, w), cc, 1e-12);
  k.hbm_read = Count(static_cast<std::uint64_t>(1e-6 * h.sustained_hbm_rate()));
  EXPECT_NEAR(detail::kernel_time_s(k, h, w), 11 * l0, 1e-12);
}

// HBM and L2 are the chip's, not the SMs': a grid of 16 CTAs streams at full bandwidth (wave
// efficiency scales only the SM pipes). Causal linear attention, B = 1, H = 16, N = 16384, d = 128.
TEST(Exec, SmallGridsKeepTheChipsBandwidth) {
  Workload w;
  w.variant = parse_variant("linear");
  w.causal = true;
  w.heads = w.kv_heads = 16;
  w.seq = 16384;
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, w);
  const KernelCost& k = p.kernels[0];
  EXPECT_EQ(k.ctas.v, 16u);
  EXPECT_NEAR(k.exec.hbm_s, (k.hbm_read + k.hbm_write).d() / h.achievable_hbm_bytes_per_s, 1e-15);
  EXPECT_LT(k.exec.wave_efficiency, 0.2);
}

// The profiles read from other libraries: their tiles, and what they change in the counts.
TEST(Exec, OtherProfilesByHand) {
  const Device& a = find_device("a100-80gb");
  Workload w;
  w.seq = 4096;
  w.dtype = Dtype::fp16;
  // xFormers v0.0.20 at d = 128: 64 x 128, 8 warps; Q is loaded again per key block through L2:
  // (Tc - 1) x Q more L2 reads than fa2's one Q read (non-causal).
  w.impl = &find_impl("xformers");
  const Prediction x = predict(a, w);
  EXPECT_EQ(x.block_m, 64u);
  EXPECT_EQ(x.block_n, 128u);
  w.impl = &find_impl("fa2");
  const Prediction f = predict(a, w);
  const Count q = Count(w.batch) * w.heads * w.seq * w.head_dim * 2;
  const Count kv_x = Count(w.batch) * w.heads * (w.seq / 64) * w.seq * 256 * 2;
  const Count kv_f = Count(w.batch) * w.heads * (w.seq / 128) * w.seq * 256 * 2;
  EXPECT_EQ(kernel_named(x, "flash2_fwd").l2_read.v, (q * (w.seq / 128) + kv_x).v);
  EXPECT_EQ(kernel_named(f, "flash2_fwd").l2_read.v, (q + kv_f).v);
  // Triton (2023): 128 x 128, 8 warps at d = 128; backward the faster of one CTA per (batch, head)
  // and the sequence-parallel grid: B·H = 32 programs would fill 32 of 108 SMs, so 32 x 32 key blocks.
  w.impl = &find_impl("triton");
  w.pass = Pass::bwd;
  const Prediction t = predict(a, w);
  EXPECT_EQ(kernel_named(t, "flash2_bwd").ctas.v, w.batch * w.heads * (w.seq / 128));
  // FlashAttention v1.0.9 at d = 64: 16-row steps x 256 keys.
  w.pass = Pass::fwd;
  w.variant = parse_variant("flash1");
  w.head_dim = 64;
  w.impl = &find_impl("fa1");
  const Prediction one = predict(a, w);
  EXPECT_EQ(one.block_m, 16u);
  EXPECT_EQ(one.block_n, 256u);
  // PyTorch eager, causal: q and k copies, the mask built and added, v copied for einsum.
  w.variant = parse_variant("standard");
  w.causal = true;
  w.impl = &find_impl("pytorch");
  const Prediction pt = predict(a, w);
  for (const char* name : {"copy_q", "copy_k", "gemm_qk", "mask_full_triu_cast", "add_mask", "softmax", "copy_v", "gemm_pv"}) {
    kernel_named(pt, name);
  }
  // FlashMLA: 64 heads per CTA, one CTA per SM over the batch.
  Workload m;
  m.variant = parse_variant("mla");
  m.phase = Phase::decode;
  m.batch = 32;
  m.heads = 128;
  m.kv_heads = 128;
  m.seq = 8192;
  const Prediction fm = predict(find_device("h100-sxm"), m);
  EXPECT_EQ(fm.impl, &find_impl("flashmla"));
  EXPECT_EQ(fm.block_n, 64u);
  EXPECT_EQ(fm.splits, 2u);  // 132 SMs / (32 sequences x 2 row tiles of 64 heads)
}

// mamba-scan (selective_scan_cuda) on an A100, B = 1, L = 2048, D = 16 x 64 = 1024 channels, N = 16,
// fp16: the 128-thread, 16-item kernel, one CTA per (batch, channel), one chunk of 2048 tokens.
// Bytes: x and delta 2 x 2048 x 1024 x 2 = 8,388,608; every channel's CTA reads its batch entry's B
// and C, 1024 x 2 x 2048 x 16 x 2 = 134,217,728 through L2 (131,072 from DRAM); A's rows 1024 x 16 x
// 4 = 65,536; y 4,194,304; each chunk's running prefix per state, 1024 x 16 x 8 = 131,072: L2
// 146,997,248 bytes, DRAM 12,910,592. As compiled (mamba.cpp
// scan_launch): per state iteration a thread issues 116 FMA-pipe, 16 MUFU and 158 other instructions
// over its 16 items, so over the B·L·D·N = 33,554,432 element-states 7.25, 1 and 9.875 each, plus 3
// and 3 per element (2,097,152): FP32 249,561,088, other 337,641,472, MUFU 33,554,432. At the full
// clock (no tensor work): the FMA pipe 249,561,088 / (108 x 64 x 1.41e9) = 25.607 µs, the issue
// (249,561,088 + 337,641,472) / (108 x 128 x 1.41e9) = 30.125 µs, which sets FP32; MUFU 33,554,432
// / 2.43648e12 = 13.772 µs. 128 registers: 65,536 / (128 x 128) = 4 CTAs an SM. Each of the 1024 x
// 16 state iterations waits 2 barriers (21 + 2 x 4 cycles), 8 shared-memory latencies (29) and one
// L2 round trip (261.5): 551.5 cycles, 391.13 ns; over an SM's 16,384 / 108 iterations 59.34 µs.
// With 1-warp CTAs (L = 512: 32 threads x 16 items, 125 registers, 16 CTAs an SM) a CTA holds one
// sub-partition: 16 CTAs are 4 jobs, and each waits on its own sub-partition (a quarter of the SM's
// iterations).
TEST(Exec, MambaScanProfileByHand) {
  const Device& a = find_device("a100-80gb");
  const Prediction p = predict(a, shaped("mamba", "mamba-scan", Dtype::fp16, 1, 16, 64, 2048));
  ASSERT_EQ(p.kernel_count(), 1);
  const KernelCost& k = kernel_named(p, "selective_scan_fused");
  EXPECT_EQ(k.ctas.v, 1024u);
  EXPECT_EQ((k.l2_read + k.l2_write).v, 146997248u);
  EXPECT_EQ((k.hbm_read + k.hbm_write).v, 12910592u);
  EXPECT_EQ(k.mma_warps, 4u);
  EXPECT_EQ(k.ctas_per_sm, 4u);
  EXPECT_EQ(k.fp32_instr.v, 249561088u);
  EXPECT_EQ(k.other_instr.v, 337641472u);
  EXPECT_EQ(k.sfu_issue.v, 33554432u);
  EXPECT_EQ(k.block_iters.v, 16384u);
  EXPECT_NEAR(k.exec.fp32_s, 30.125e-6, 1e-9);
  EXPECT_NEAR(k.exec.mufu_s, 13.772e-6, 1e-9);
  EXPECT_NEAR(k.exec.iter_wait_s, 551.5 / 1.41e9, 1e-12);
  EXPECT_NEAR(k.exec.delay_s, 551.5 / 1.41e9 * 16384 / 108, 1e-10);
  EXPECT_DOUBLE_EQ(k.exec.overlap_jobs, 4.0);
  // One warp a CTA.
  const Prediction one = predict(a, shaped("mamba", "mamba-scan", Dtype::fp16, 4, 16, 64, 512));
  const KernelCost& w1 = kernel_named(one, "selective_scan_fused");
  EXPECT_EQ(w1.mma_warps, 1u);
  EXPECT_EQ(w1.ctas_per_sm, 16u);
  EXPECT_DOUBLE_EQ(w1.exec.overlap_jobs, 4.0);
  EXPECT_NEAR(w1.exec.delay_s, w1.exec.iter_wait_s * w1.block_iters.d() / 108 / 4, 1e-12);
  // The gate: z read and out·silu(z) written beside out, 2 x 4,194,304 more DRAM bytes; attnio's
  // own kernel has no gate and refuses it.
  Workload g = shaped("mamba", "mamba-scan", Dtype::fp16, 1, 16, 64, 2048);
  g.set("gate", 1);
  const Prediction gp = predict(a, g);
  const KernelCost& gated = kernel_named(gp, "selective_scan_fused");
  EXPECT_EQ((gated.hbm_read + gated.hbm_write).v, 12910592u + 2 * 4194304u);
  g.impl = &find_impl("attnio");
  EXPECT_THROW(predict(a, g), InputError);
}

// mamba-ssd (mamba_ssm's five Triton kernels) on an H100, B = 4, H = 32, P = 64, N = 128, L = 4096,
// chunks of 256: 16 chunks. _state_passing_fwd runs P·N / 2048 = 4 programs per (b, head): 512 CTAs.
// It reads the fp32 chunk states, 4 x 16 x 32 x 64 x 128 x 4 = 67,108,864 bytes, and each chunk's
// dA_cumsum[Q - 1], 4 x 32 x 16 x 4 = 8,192 from DRAM (4 programs read it, 32,768 through L2); it
// writes the states entering each chunk in bf16, 33,554,432, and the final states in fp32,
// 4,194,304. DRAM 104,865,792 bytes at 2.97 TB/s = 35.3083 µs, far above its 0.6 µs of FP32 and
// MUFU work: 35.3083 + 2.1 (launch) = 37.4083 µs.
TEST(Exec, MambaSsdProfileByHand) {
  const Prediction p = predict(find_device("h100-sxm"), shaped("mamba2", "mamba-ssd", Dtype::bf16, 4, 32, 64, 4096));
  ASSERT_EQ(p.kernel_count(), 5);
  const KernelCost& k = kernel_named(p, "ssd_state_passing");
  EXPECT_EQ(k.ctas.v, 512u);
  EXPECT_EQ(k.hbm_read.v, 67108864u + 8192u);
  EXPECT_EQ(k.hbm_write.v, 33554432u + 4194304u);
  EXPECT_NEAR(k.exec.hbm_s, 35.3083e-6, 1e-10);
  EXPECT_NEAR(k.exec.time_s, 37.4083e-6, 1e-10);
}

// cudnn: closed source, so the profile is an assumption it states: FA3's traits on sm90 and FA2's
// on sm80. The same workload under cudnn and under the profile it stands on gives the same
// kernels, bytes and time, forward and backward.
TEST(Exec, CudnnProfileIsTheAssumptionItStates) {
  for (const Pass pass : {Pass::fwd, Pass::bwd}) {
    for (const auto& [chip, stand_in] : {std::pair{"h100-sxm", "fa3"}, std::pair{"a100-80gb", "fa2"}}) {
      Workload w = fp16_backward("flash2", "cudnn", 128);
      w.pass = pass;
      w.causal = true;
      w.seq = 2048;
      const Prediction c = predict(find_device(chip), w);
      w.impl = &find_impl(stand_in);
      const Prediction s = predict(find_device(chip), w);
      ASSERT_EQ(c.kernel_count(), s.kernel_count()) << chip;
      EXPECT_EQ(c.block_m, s.block_m) << chip;
      EXPECT_EQ(c.block_n, s.block_n) << chip;
      EXPECT_EQ(c.hbm_bytes().v, s.hbm_bytes().v) << chip;
      EXPECT_EQ(c.l2_bytes().v, s.l2_bytes().v) << chip;
      EXPECT_DOUBLE_EQ(c.predicted_time_s, s.predicted_time_s) << chip;
    }
  }
}

// Triton's forward on Hopper (impl.cpp triton_traits): wgmma, and the occupancy its compiled kernel
// has. At d = 128, 128 x 64 tiles and 8 warps with 244 registers a thread and 229,376 B of shared
// memory a block (Nsight Compute's launch figures for Triton 3.4): 244 x 32 = 7808 -> 7936
// registers a warp, 63488 for 8 warps, and 229376 B of 233472: one CTA per SM, so one job (its two
// warpgroups meet at a bar.sync every key block) and U = x1 / (x1 + x2). Tensor: 4·32·4096² scores
// x 2 x 256 FLOP at the bf16 peak x wgmma_fraction. At d = 64, 64 x 128 tiles and 4 warps: Q and 3
// stages of K and V, 2·(64·64 + 3·128·128) = 106496 B, two CTAs per SM. An A100 runs the 2023
// tutorial's 128 x 128 mma.sync kernel.
TEST(Exec, TritonOnHopperRunsWgmmaAtItsCompiledOccupancyByHand) {
  const Device& h = find_device("h100-sxm");
  Workload w;
  w.batch = 4, w.heads = w.kv_heads = 32, w.seq = 4096, w.head_dim = 128;
  w.impl = &find_impl("triton");
  const Prediction p = predict(h, w);
  EXPECT_EQ(p.block_m, 128u);
  EXPECT_EQ(p.block_n, 64u);
  const KernelCost& k = kernel_named(p, "flash2_fwd");
  EXPECT_EQ(k.mma, MmaPath::wgmma);
  EXPECT_EQ(k.registers, 244u);
  EXPECT_EQ(ctas_by_registers(244, 256, h.register_file_bytes_per_sm), 1u);
  EXPECT_EQ(k.ctas_per_sm, 1u);
  const KernelCost::Exec& x = k.exec;
  EXPECT_DOUBLE_EQ(x.overlap_jobs, 1.0);
  const double flops = 4.0 * 32 * 4096 * 4096 * 2 * 256;
  EXPECT_NEAR(x.tensor_s, flops / (h.tensor_rate(Dtype::bf16) * h.wgmma_fraction), 1e-15);
  EXPECT_NEAR(x.utilization, x.gemm_s / (x.gemm_s + x.softmax_s), 1e-12);
  w.head_dim = 64;
  const Prediction q = predict(h, w);
  EXPECT_EQ(q.block_m, 64u);
  EXPECT_EQ(q.block_n, 128u);
  EXPECT_EQ(kernel_named(q, "flash2_fwd").ctas_per_sm, static_cast<std::uint64_t>(h.smem_bytes_per_sm / 106496));
  EXPECT_EQ(kernel_named(q, "flash2_fwd").ctas_per_sm, 2u);
  const Prediction a = predict(find_device("a100-80gb"), w);
  EXPECT_EQ(a.block_m, 128u);
  EXPECT_EQ(a.block_n, 128u);
  EXPECT_EQ(kernel_named(a, "flash2_fwd").mma, MmaPath::mma_sync);
}

// explain names the implementation, the rule and each pipe's time.
TEST(Exec, ExplainShowsThePipesAndTheRule) {
  Workload w;
  w.seq = 4096;
  w.impl = &find_impl("fa3");
  const Device& h = find_device("h100-sxm");
  const std::string text = explain(h, predict(h, w));
  for (const char* part : {"implementation: fa3", "closed queue", "tensor", "MUFU", "FP32", "U = ", "limited by"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part;
  }
}

// attnio's own kernels: occupancy from the compiler's register count (kernels/resources.csv, as
// ptxas reported it) and the shared memory the kernel launches with (tile_traits.hpp).
TEST(Exec, AttnioProfileUsesTheCompilersRegisters) {
  const auto r = kernel_resources("flash2_fwd_kernel", "bf16", 128, 90);
  ASSERT_TRUE(r.has_value());
  EXPECT_GT(r->registers, 0u);
  // 64K registers: 128 threads at R registers, allocated per warp in units of 256.
  EXPECT_EQ(ctas_by_registers(64, 128, 262144), 8u);    // 64 x 32 = 2048 per warp, 4 warps: 65536 / 8192
  EXPECT_EQ(ctas_by_registers(72, 128, 262144), 7u);    // 72 x 32 = 2304 per warp: 65536 / 9216
  EXPECT_EQ(ctas_by_registers(255, 256, 262144), 1u);   // 8160 -> 8192 per warp, 8 warps
  Workload w;
  w.seq = 4096;
  w.impl = &find_impl("attnio");
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, w);
  const KernelCost& k = p.kernels[0];
  EXPECT_EQ(k.registers, r->registers);
  // d = 128, bf16: Q, K, V, P (2 B) and S, O, m, l (4 B) = 2·(64·128 + 2·64·128 + 64·64) + 4·(64·64 + 64·128 + 128)
  // = 57344 + 49664 = 107008 B: two CTAs in 228 KiB.
  EXPECT_EQ(traits::flash2_smem_bytes(2, 128), 107008u);
  EXPECT_EQ(k.ctas_per_sm, std::min<std::uint64_t>(2, ctas_by_registers(r->registers, 128, h.register_file_bytes_per_sm)));
}

// Where no compiler report is known, the live accumulators bound a forward kernel's registers:
// FlashAttention-2 at d = 128 (128 x 64, 4 warps, Q read from shared memory): (128·64 + 128·128) /
// 128 = 192 per thread, 6144 per warp, 24576 per CTA: 2 CTAs in 64K registers where shared memory
// (64 KiB per CTA) would hold 3 on an A100. Triton's d = 64 forward (128 x 128, 4 warps, Q held in
// registers): (128·(128 + 64) + 128·64 / 2) / 128 = 224.
TEST(Exec, LiveAccumulatorsCapTheCtasPerSm) {
  const Device& a = find_device("a100-80gb");
  Workload w;
  w.dtype = Dtype::fp16;
  w.seq = 4096;
  w.heads = w.kv_heads = 16;
  w.head_dim = 128;
  w.impl = &find_impl("fa2");
  const Prediction p = predict(a, w);
  const KernelCost& k = kernel_named(p, "flash2_fwd");
  EXPECT_EQ(k.live_registers, 192u);
  EXPECT_EQ(ctas_by_registers(192, 128, a.register_file_bytes_per_sm), 2u);
  EXPECT_EQ(k.ctas_per_sm, 2u);
  w.impl = &find_impl("triton");
  w.heads = w.kv_heads = 32;
  w.head_dim = 64;
  const Prediction t = predict(a, w);
  EXPECT_EQ(kernel_named(t, "flash2_fwd").live_registers, 224u);
  EXPECT_EQ(kernel_named(t, "flash2_fwd").ctas_per_sm, 2u);
  // A kernel whose registers the compiler reported keeps the report (attnio's, xFormers' cap).
  w.impl = &find_impl("xformers");
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_fwd").live_registers, 0u);
}

// Instructions per score as each kernel's code issues them, on the FMA pipe and beside it on the
// ALU (KernelTraits::fp32_per_score, alu_per_score). xFormers' forward, B = H = 1, N = 256, d = 64,
// 64 x 64 tiles: 65536 scores at 4 + 2.5, then O's 64 columns rescaled per visited block row (4 x 4
// blocks of 64 rows: 1024 rows) and scaled once per row (256): 262144 + 65536 + 16384 = 344064 on
// the FMA pipe, 163840 on the ALU. FlashAttention-2 (128 x 128): 2 + 1.5 per score, 2 x 2 blocks
// of 128 rows (512 rows): 131072 + 32768 + 16384 = 180224, and 98304.
TEST(Exec, Fp32InstructionsPerScoreByHand) {
  const Device& a = find_device("a100-80gb");
  Workload w;
  w.dtype = Dtype::fp16;
  w.batch = 1, w.heads = w.kv_heads = 1, w.seq = 256, w.head_dim = 64;
  w.impl = &find_impl("xformers");
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_fwd").fp32_instr.v, 344064u);
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_fwd").other_instr.v, 163840u);
  w.impl = &find_impl("fa2");
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_fwd").fp32_instr.v, 180224u);
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_fwd").other_instr.v, 98304u);
  // FlashAttention-2's backward: 3 + 1 per score.
  w.pass = Pass::bwd;
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_bwd").fp32_instr.v, 3u * 65536);
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_bwd").other_instr.v, 65536u);
  // Triton's backward: 5 + 1 per score over the 65536 scores, whichever grid it runs.
  w.impl = &find_impl("triton");
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_bwd").fp32_instr.v, 5u * 65536);
  EXPECT_EQ(kernel_named(predict(a, w), "flash2_bwd").other_instr.v, 65536u);
}

// Where the ALU's instructions go. On the A100 the FMA pipe is 16 lanes a partition and the issue
// 32, so FlashAttention-2's forward softmax (B = H = 1, N = 256, d = 64) costs its 180224 FMA-pipe
// instructions at 64 lanes per SM (108 SMs, 1.41 GHz x 0.8258 sustained): 22.39 ns; its 98304 ALU
// ones ride in their shadow. On the H100 the FMA pipe is as wide as the issue (128 lanes per SM,
// 132 SMs, 1.83 GHz x 0.9124), so both take issue slots: (180224 + 98304) / 2.821e13 = 9.87 ns.
TEST(Exec, SoftmaxAluInstructionsIssueBesideTheFmaPipeByHand) {
  Workload w = shaped("flash2", "fa2", Dtype::fp16, 1, 1, 64, 256);
  const Device& a = find_device("a100-80gb");
  ASSERT_DOUBLE_EQ(a.fp32_lanes_per_sm, 64);
  ASSERT_DOUBLE_EQ(a.sm_count, 108);
  const KernelCost ka = kernel_named(predict(a, w), "flash2_fwd");
  EXPECT_NEAR(ka.exec.fp32_s, 180224 / (64 * 108 * a.clock_hz * a.sustained_clock_fraction), 1e-15);
  const Device& h = find_device("h100-sxm");
  ASSERT_DOUBLE_EQ(h.fp32_lanes_per_sm, 128);
  const KernelCost kh = kernel_named(predict(h, w), "flash2_fwd");
  EXPECT_EQ(kh.fp32_instr.v, 180224u);
  EXPECT_EQ(kh.other_instr.v, 98304u);
  EXPECT_NEAR(kh.exec.fp32_s, (180224 + 98304) / (128 * 132 * h.clock_hz * h.sustained_clock_fraction), 1e-15);
}

// The mask's own instructions by hand (KernelTraits::mask_blocks): an ISETP and an FSEL per score
// of the blocks a causal mask cuts (flash-attention mask.h). FlashAttention-2 forward, B = H = 1,
// N = 256, d = 64, 128 x 128 tiles: Q block 0 visits key block 0, cut by the diagonal (128 x 128);
// Q block 1 visits key blocks 0 (whole: every row >= 128 sees keys 0..127) and 1 (cut): 32768 cut
// scores of 49152 computed. ALU: 1.5 x 49152 for the softmax, 2 x 32768 for the mask.
// Under a window (Is_local) the library masks every visited block, both ends of the range: W = 64
// keeps the same two block rows of 1 and 2 blocks (rows 128..255 see keys 65..255), 49152 scores at
// 1.5 + 3. The 2023 Triton kernel wheres every visited block of its causal loop: 2 x 49152.
TEST(Exec, MaskInstructionsByHand) {
  Workload w = shaped("flash2", "fa2", Dtype::fp16, 1, 1, 64, 256);
  const Device& h = find_device("h100-sxm");
  EXPECT_EQ(kernel_named(predict(h, w), "flash2_fwd").other_instr.v, 98304u);  // no mask: 1.5 x 65536
  w.causal = true;
  EXPECT_EQ(kernel_named(predict(h, w), "flash2_fwd").other_instr.v, 73728u + 65536u);
  EXPECT_EQ(kernel_named(predict(h, w), "flash2_fwd").mask_instr.v, 65536u);  // what explain names
  Workload sw = w;
  sw.variant = parse_variant("sliding-window");
  sw.set("window", 64);
  EXPECT_EQ(kernel_named(predict(h, sw), "flash2_fwd").other_instr.v, 73728u + 147456u);
  w.impl = &find_impl("triton");
  const Device& a = find_device("a100-80gb");
  const KernelCost t = kernel_named(predict(a, w), "flash2_fwd");
  EXPECT_EQ(t.other_instr.v, 73728u + 98304u);
  // There the ALU pipe binds: 3.5 ALU instructions a score against 2 on the FMA pipe (98304, and
  // 64 per visited block row to rescale O, 384 rows, and per query row to normalize it: 139264),
  // both 16 lanes a partition on the A100: 172032 lanes at 64 per SM.
  EXPECT_EQ(t.fp32_instr.v, 139264u);
  EXPECT_EQ(t.alu_instr.v, 172032u);
  EXPECT_NEAR(t.exec.fp32_s, 172032 / (64 * 108 * a.clock_hz * a.sustained_clock_fraction), 1e-15);
}

// The blocks a mask cuts, by hand (detail::make_plan's partial_area): causal, N = Nk = 256, 128 x
// 64 blocks. Rows 0..127 visit key blocks 0 and 1, both cut (row 0 sees key 0 only); rows 128..255
// visit blocks 0..3, of which 0 and 1 are whole (row 128 sees keys 0..128): 128 x 128 + 128 x 128
// cut of 128 x 128 + 128 x 256. Queries the last 64 of 320 keys (offset 256): the one row block
// sees keys 0..256 at its first row, so key blocks 0..3 are whole and block 4 (keys 256..319) is
// cut: 64 x 64 of 64 x 320.
TEST(Exec, PartialBlocksByHand) {
  detail::Mask causal{.kind = detail::MaskKind::causal};
  const detail::Plan p = detail::make_plan(256, 256, 128, 64, causal);
  EXPECT_EQ(p.area.v, 49152u);
  EXPECT_EQ(p.partial_area.v, 32768u);
  causal.offset = 256;
  const detail::Plan q = detail::make_plan(64, 320, 64, 64, causal);
  EXPECT_EQ(q.area.v, 64u * 320);
  EXPECT_EQ(q.partial_area.v, 64u * 64);
  const detail::Plan none = detail::make_plan(256, 256, 128, 64, detail::Mask{});
  EXPECT_EQ(none.partial_area.v, 0u);
}

// flash-attention 2's backward at d = 128 on an A100 by hand: its own 64 x 128 tiles (the forward
// runs 128 x 64), 8 warps in layouts AtomLayoutMSdP 2, AtomLayoutNdKV 4, AtomLayoutMdQ 2
// (flash_bwd_launch_template.h:247-248). B = H = 1, N = Nk = 256, fp16: Tr = 4, Tc = 2, 8 visited
// pairs; Σ rows 512, Σ cols 1024, 65536 scores.
TEST(Exec, Fa2BackwardSharedMemoryByHand) {
  Workload w;
  w.batch = 1;
  w.heads = w.kv_heads = 1;
  w.seq = 256;
  w.head_dim = 128;
  w.dtype = Dtype::fp16;
  w.pass = Pass::bwd;
  w.l2 = false;
  const Prediction p = predict(find_device("a100-80gb"), w);
  const KernelCost& k = kernel_named(p, "flash2_bwd");
  EXPECT_EQ(k.ctas.v, 2u);  // one CTA per K/V block of 128
  // Staged: K, V 256·256·2 = 131072 (read by 4 warps as counted for every flash kernel: 524288);
  // Q, dO with LSE, D per visited pair 512·520 = 266240 (x4 readers: 1064960).
  // The GEMMs' own reads: Q and dO 512·256·2·(8/2 + 4) = 2097152 beyond the 4 already counted
  // (-1048576); K 1024·128·(2 + 2)·2 and V 1024·128·2·2: 1572864; P 65536·2·(8/4), dS
  // 65536·2·(8/4 + 8/2): 1048576. P and dS written: 262144.
  EXPECT_EQ(k.sram_read.v, 524288u + 1064960u + 1048576u + 1572864u + 1048576u);
  EXPECT_EQ(k.sram_write.v, 131072u + 266240u + 262144u);
}

// Causal tail: FlashAttention-2 launches Q blocks in ascending order, so the last CTA is the
// heaviest: at N = 8192 with 128 x 64 tiles its row block visits 8192 / 64 = 128 K/V blocks, and it
// runs on alone for 128 x (x1 + x2 + its waits) per iteration less its share of the kernel's quantized compute time.
// FlashAttention-3 schedules causal tiles longest-first: no tail.
// A grid resident at launch (one wave) starts every CTA at once: the heaviest finishes at its own
// solo time, so a causal call is never slower than the same call without the mask (rule 4). One
// head of 16384 tokens on an H100: 128 CTAs of 128 rows on 132 SMs.
TEST(Exec, OneWaveCausalIsNoSlowerThanNoMask) {
  Workload w;
  w.seq = 16384;
  w.heads = w.kv_heads = 1;
  w.dtype = Dtype::bf16;
  const Device& h = find_device("h100-sxm");
  const double plain = predict(h, w).predicted_time_s;
  w.causal = true;
  const Prediction c = predict(h, w);
  // The heaviest CTA does what each unmasked CTA does, plus its diagonal block's mask: equal
  // within 0.1 %, where the fluid rule made it 49 % slower.
  EXPECT_LE(c.predicted_time_s, plain * 1.001);
  const KernelCost& k = kernel_named(c, "flash2_fwd");
  EXPECT_GT(k.last_cta_iters.v, 0u);
  // Four heads (512 CTAs, 2 per SM resident: 264) take two waves: the heaviest starts once the
  // work ahead of it has drained, and its tail shows.
  w.heads = w.kv_heads = 4;
  EXPECT_GT(kernel_named(predict(h, w), "flash2_fwd").exec.tail_s, 0.0);
}

TEST(Exec, CausalTailFollowsTheLaunchOrder) {
  Workload w;
  w.seq = 8192;
  w.heads = w.kv_heads = 16;
  w.batch = 2;
  w.causal = true;
  w.dtype = Dtype::fp16;
  const Device& h = find_device("h100-sxm");
  const Prediction fa2 = predict(h, w);
  const KernelCost& k = kernel_named(fa2, "flash2_fwd");
  EXPECT_EQ(k.last_cta_iters.v, 128u);
  const double per_iter = (k.exec.gemm_s + k.exec.softmax_s) * h.sm_count / k.block_iters.d() + k.exec.iter_wait_s;
  EXPECT_GT(k.exec.iter_wait_s, 0.0);  // FA2's 2 barriers per key block
  // Its share of the kernel's quantized compute time (the prefetch loop's here: 2 buffers per CTA),
  // the tail added after the wave division.
  ASSERT_GT(k.exec.loop_s, 0.0);
  EXPECT_NEAR(k.exec.tail_s, 128 * per_iter - k.exec.loop_s * 128 / k.block_iters.d(), 1e-12);
  EXPECT_NEAR(k.exec.compute_s, k.exec.loop_s + k.exec.fill_s / k.exec.wave_efficiency + k.exec.tail_s, 1e-12);
  EXPECT_GT(k.exec.tail_s, 0.0);
  w.impl = &find_impl("fa3");
  EXPECT_EQ(kernel_named(predict(h, w), "flash2_fwd").last_cta_iters.v, 0u);
  w.impl = nullptr;
  w.causal = false;
  EXPECT_EQ(kernel_named(predict(h, w), "flash2_fwd").exec.tail_s, 0.0);
}

// The prefetch loop sits between the fluid bound max(SM, DRAM) and the plain sum: near the sum
// when the two are close and the buffers few (split-KV decode, 2 CTAs x 2 buffers per SM), near
// the fluid bound when DRAM is a small part (long prefill).
TEST(Exec, PrefetchLoopLiesBetweenOverlapAndSum) {
  const Device& a = find_device("a100-80gb");
  Workload w;
  w.variant = parse_variant("flash-decoding");
  w.impl = &find_impl("fa2-splitkv");
  w.phase = Phase::decode;
  w.dtype = Dtype::fp16;
  w.batch = 16, w.heads = 16, w.kv_heads = 2, w.head_dim = 128, w.seq = 4096;
  const Prediction pd = predict(a, w);
  const KernelCost& d = pd.kernels[0];
  ASSERT_EQ(d.load_buffers, 2u);
  EXPECT_NEAR(d.exec.compute_s, d.exec.loop_s + d.exec.fill_s / d.exec.wave_efficiency + d.exec.tail_s, 1e-12);
  const double sm = d.exec.gemm_s / d.exec.utilization / d.exec.wave_efficiency;  // the SM's side, quantized
  EXPECT_GT(d.exec.loop_s, 1.05 * std::max(d.exec.hbm_s, sm));
  EXPECT_LT(d.exec.loop_s, d.exec.hbm_s + sm);
  w.variant = parse_variant("flash2");
  w.impl = &find_impl("fa2");
  w.phase = Phase::prefill;
  w.batch = 1, w.kv_heads = 16, w.seq = 16384;
  const Prediction pf = predict(a, w);
  const KernelCost& f = pf.kernels[0];
  // The SM's side: the cycle's time, quantized in residency waves (2048 CTAs, 2 an SM, on 108 SMs:
  // 19 on the busiest, the last alone; rule 5).
  const double busy = f.exec.gemm_s / f.exec.utilization, avg = f.ctas.d() / a.sm_count;
  ASSERT_EQ(f.exec.last_wave_ctas, 1.0);
  const double sm_f = (std::ceil(avg) - 1) * busy / avg + f.exec.last_wave_s;
  EXPECT_GT(sm_f, busy / f.exec.wave_efficiency);
  EXPECT_GE(f.exec.loop_s, sm_f);
  EXPECT_LT(f.exec.loop_s, sm_f * 1.01);
  w.impl = &find_impl("xformers");  // waited loads, no buffers read: no loop
  EXPECT_EQ(predict(a, w).kernels[0].exec.loop_s, 0.0);
}

// The prefetch loop's L2 station: tiles that hit in L2 (FlashAttention-3's K/V re-reads) circulate
// through it at the L2's rate with deterministic service, misses through DRAM. FA3 on an H100,
// d = 256, B = 2, 8 heads, 8192 tokens: causal, each CTA requests its own tiles and the hits take
// 82 % of the SM's time; without the mask the cluster's multicast halves them. Split-KV decode
// reads each K/V tile once: its hits are only the Q tile its splits share.
TEST(Exec, PrefetchLoopWaitsOnTheL2ForItsHits) {
  const Device& h = find_device("h100-sxm");
  Workload w;
  w.variant = parse_variant("flash2");
  w.impl = &find_impl("fa3");
  w.dtype = Dtype::fp16;
  w.batch = 2, w.heads = 8, w.kv_heads = 8, w.head_dim = 256, w.seq = 8192;
  w.causal = true;
  const Prediction pc = predict(h, w);
  const KernelCost& c = kernel_named(pc, "flash2_fwd");
  const double hits = ((c.l2_read - c.sync_l2_read).d() - (c.hbm_read - c.sync_hbm_read).d()) / h.l2_rate();
  EXPECT_NEAR(c.exec.loop_l2_s, hits / (1 - c.l2_write.d() / h.l2_rate() / c.exec.loop_s), 1e-6 * hits);
  EXPECT_GT(c.exec.loop_l2_s, 0.75 * c.exec.loop_sm_s);
  EXPECT_GT(c.exec.loop_s, 1.05 * std::max({c.exec.loop_sm_s, c.exec.loop_dram_s, c.exec.loop_l2_s}));
  // Deterministic L2 service charges less than exponential would: the loop with cv² = 1 there.
  const double d[] = {c.exec.loop_sm_s, c.exec.loop_dram_s, c.exec.loop_l2_s}, all_exp[] = {1, 1, 1};
  EXPECT_LT(c.exec.loop_s, 1 / cycle_throughput(d, all_exp, 4, 0));
  w.causal = false;
  const Prediction pn = predict(h, w);
  EXPECT_LT(kernel_named(pn, "flash2_fwd").exec.loop_l2_s, 0.5 * kernel_named(pn, "flash2_fwd").exec.loop_sm_s);
  Workload dec = w;
  dec.variant = parse_variant("flash-decoding");
  dec.impl = &find_impl("fa2-splitkv");
  dec.phase = Phase::decode;
  dec.head_dim = 128;
  const Prediction pd = predict(h, dec);
  EXPECT_LT(pd.kernels[0].exec.loop_l2_s, 1e-3 * pd.kernels[0].exec.loop_dram_s);  // only the splits' shared Q tile
  EXPECT_GT(pd.kernels[0].exec.loop_dram_s, 0.0);
}

// The load buffers each profile's kernels refill independently, as read from their code
// (impl.cpp, with file:line): the customers of the prefetch loop.
TEST(Exec, LoadBuffersAsReadFromEachKernel) {
  const double smem = 233472;  // H100
  auto buffers_on = [](const char* impl, KernelRole role, std::uint64_t d, double on) {
    return find_impl(impl).traits(role, d, false, Dtype::bf16, on, 90).load_buffers;
  };
  auto buffers = [&](const char* impl, KernelRole role, std::uint64_t d) { return buffers_on(impl, role, d, smem); };
  EXPECT_EQ(buffers("fa2", KernelRole::fwd, 128), 2u);     // one K, one V tile
  EXPECT_EQ(buffers("fa2", KernelRole::splitkv, 128), 2u);
  EXPECT_EQ(buffers("fa2", KernelRole::bwd, 128), 3u);     // sQ x 2, sdO x 1
  EXPECT_EQ(buffers_on("fa2", KernelRole::bwd, 256, 167936), 2u);  // A100: No_double_buffer
  EXPECT_EQ(buffers("fa2", KernelRole::bwd, 256), 3u);          // H100: double-buffered Q
  EXPECT_EQ(buffers("fa3", KernelRole::fwd, 128), 4u);     // kStages = 2 of K and of V
  EXPECT_EQ(buffers("fa3", KernelRole::bwd, 128), 4u);     // Q+LSE and dO+dPsum, 2 stages each
  EXPECT_EQ(find_impl("triton").traits(KernelRole::fwd, 64, false, Dtype::bf16, 167936, 80).load_buffers, 2u);  // num_stages = 2 (2023)
  EXPECT_EQ(buffers("triton", KernelRole::fwd, 64), 3u);   // sm90, Triton 3.x: num_stages = 3
  EXPECT_EQ(buffers("triton", KernelRole::bwd, 64), 0u);   // num_stages = 1: waited loads
  EXPECT_EQ(buffers("thunderkittens", KernelRole::fwd, 64), 4u);
  EXPECT_EQ(buffers("thunderkittens", KernelRole::fwd, 128), 2u);
  EXPECT_EQ(buffers("thunderkittens", KernelRole::bwd, 128), 2u);
  EXPECT_EQ(buffers("flashmla", KernelRole::splitkv, 576), 4u);  // 2 pages x 2 halves
  EXPECT_EQ(buffers("xformers", KernelRole::fwd, 64), 0u);  // waited loads, not read
  EXPECT_EQ(buffers("fa1", KernelRole::fwd, 64), 0u);
}

// FlashAttention-3 forward on two heads of 128, 1024 tokens, bf16 (the epilogue and lock tests).
Workload fa3_small_workload() {
  Workload w;
  w.variant = parse_variant("flash2");
  w.impl = &find_impl("fa3");
  w.dtype = Dtype::bf16;
  w.batch = 1, w.heads = w.kv_heads = 2, w.head_dim = 128, w.seq = 1024;
  return w;
}

// FlashAttention-3's epilogue per output tile, by hand on the H100 at d = 128: O of 128 x 128 in
// 16 bits (32768 B) through shared memory at 128 B/clk, 1.5 FP32-pipe instructions per element
// (24576) at 128 lanes per clock, and 2 barriers of 21 + 2 x 8
// warps cycles, at the sustained clock; charged per CTA (tile) in the fill.
TEST(Exec, Fa3EpilogueByHand) {
  const Device& h = find_device("h100-sxm");
  Workload w = fa3_small_workload();
  const Prediction p = predict(h, w);
  const KernelCost& k = p.kernels[0];
  EXPECT_EQ(k.epilogue_smem_bytes.v, 128u * 128 * 2);
  EXPECT_EQ(k.epilogue_fp32_instr.v, 128u * 128 * 3 / 2);
  EXPECT_EQ(k.epilogue_barriers, 2u);
  const double clock = h.clock_hz * h.sustained_clock_fraction;
  const double smem_per_clk = h.sram_bytes_per_s / h.sm_count / h.clock_hz;
  const double fp32_per_clk = 128;  // FP32 lanes per SM (H100 whitepaper), at the clock the SM runs
  EXPECT_NEAR(smem_per_clk, 128.0, 1e-9);
  EXPECT_EQ(h.fp32_lanes_per_sm, fp32_per_clk);
  const double cycles = 32768 / smem_per_clk + 24576 / fp32_per_clk + 2 * (21 + 2 * 8);
  EXPECT_NEAR(k.exec.epilogue_s, cycles / clock, 1e-15);
  w.impl = &find_impl("fa2");  // FA2's CTAs overlap one another's epilogues: none charged
  EXPECT_EQ(predict(h, w).kernels[0].exec.epilogue_s, 0.0);
}

// A locked SM clock, by hand on the H100 (FlashAttention-3, bf16, d = 128): the tensor pipe runs at
// the wgmma rate per clock, 0.8796 / 0.9124 of the datasheet's 989.4 TFLOP/s at 1830 MHz (Luo et
// al.: random-input over zero-input wgmma is the clock alone), at the locked 1815 MHz; the
// epilogue's shared memory (128 B/clk), FP32 lanes (128/clk) and barriers count cycles at it. Unlocked, the same kernel runs its
// tensor pipe at 0.8796 of the datasheet peak and its other pipes at 0.9124 x 1830 MHz. DRAM keeps
// its rate either way.
TEST(Exec, LockedClockRunsTheSmAtItByHand) {
  const Device& h = find_device("h100-sxm");
  const Device locked = h.with_locked_clock(1815e6, "test");
  Workload w = fa3_small_workload();
  const Prediction pu0 = predict(h, w);
  const KernelCost& u = pu0.kernels[0];
  const Prediction pl = predict(locked, w);
  const KernelCost& k = pl.kernels[0];
  const double flops = k.tensor_issue.v != 0 ? k.tensor_issue.d() : k.tensor_flops.d();
  const double per_clock = 0.8796 / 0.9124 * 989.4e12 / 1830e6;  // FLOP per clock on the chip
  EXPECT_NEAR(k.exec.tensor_s, flops / (per_clock * 1815e6), 1e-12 * k.exec.tensor_s);
  EXPECT_NEAR(u.exec.tensor_s, flops / (0.8796 * 989.4e12), 1e-12 * u.exec.tensor_s);
  const double epilogue_cycles = 32768 / 128.0 + 24576 / 128.0 + 2 * (21 + 2 * 8);
  EXPECT_NEAR(k.exec.epilogue_s, epilogue_cycles / 1815e6, 1e-15);
  EXPECT_NEAR(u.exec.epilogue_s, epilogue_cycles / (0.9124 * 1830e6), 1e-15);
  EXPECT_DOUBLE_EQ(k.exec.hbm_s, u.exec.hbm_s);
  // The roofline view's achievable roof follows the lock too.
  EXPECT_NEAR(sustained_tensor_rate(locked, MmaPath::wgmma, Dtype::bf16), per_clock * 1815e6, 1e-6 * per_clock * 1815e6);
  // A kernel with no tensor work runs at the locked clock as well, not at the full datasheet one.
  w.variant = parse_variant("standard");
  w.impl = &find_impl("pytorch");
  const Prediction ps = predict(locked, w), pu = predict(h, w);
  int compared = 0;
  for (int i = 0; i < ps.kernel_count(); ++i) {
    if (ps.kernels[i].tensor_flops.v != 0 || ps.kernels[i].exec.fp32_s == 0) continue;
    EXPECT_NEAR(ps.kernels[i].exec.fp32_s, pu.kernels[i].exec.fp32_s * 1830.0 / 1815.0, 1e-12 * pu.kernels[i].exec.fp32_s);
    ++compared;
  }
  EXPECT_GE(compared, 1);  // the softmax and the elementwise kernels
  // A locked device is another device by key; the roofline (--impl ideal) takes the SM's peaks
  // at the locked clock too.
  EXPECT_EQ(locked.key, "h100-sxm@1815MHz");
  EXPECT_EQ(locked.unlocked_key(), "h100-sxm");
  EXPECT_EQ(locked.with_locked_clock(0, "test").key, "h100-sxm");
  w.variant = parse_variant("flash2");
  w.impl = &ideal_impl();
  const Prediction ri = predict(locked, w), ru = predict(h, w);
  EXPECT_NEAR(ri.ceiling_time_s[static_cast<int>(Ceiling::tensor)], ru.ceiling_time_s[static_cast<int>(Ceiling::tensor)] * 1830.0 / 1815.0,
              1e-12 * ru.ceiling_time_s[static_cast<int>(Ceiling::tensor)]);
  EXPECT_DOUBLE_EQ(ri.ceiling_time_s[static_cast<int>(Ceiling::hbm)], ru.ceiling_time_s[static_cast<int>(Ceiling::hbm)]);
  // A device file without an FP8 fraction (the H100 PCIe) has the datasheet rate, per clock
  // already: locked at its own clock it runs at the datasheet peak, not above it.
  const Device& pcie = find_device("h100-pcie");
  ASSERT_EQ(pcie.fp8_mma_fraction, 0);
  EXPECT_DOUBLE_EQ(sustained_tensor_rate(pcie.with_locked_clock(pcie.clock_hz, "test"), MmaPath::wgmma, Dtype::fp8),
                   pcie.tensor_rate(Dtype::fp8));
  EXPECT_NE(explain(locked, pl).find("SM clock locked at 1815 MHz"), std::string::npos);
  // Outside 0.25-1.5 x the datasheet clock: an error naming the clock, not a silent default.
  EXPECT_THROW(h.with_locked_clock(1815.0, "test"), InputError);     // Hz given as MHz
  EXPECT_THROW(h.with_locked_clock(3000e6, "test"), InputError);
}

// FlashInfer 0.0.1's decode loop (decode.cuh @b30dad36e): the FP32-pipe instructions per token per
// thread counted from the code (flashinfer_decode.cpp) against the PTX of every instance the library
// dispatches (scripts/flashinfer/ptx --table: fp16, groups 1/4/8, head dims 64/128/256, batch
// paged, single and padded kernels).
TEST(Exec, FlashInferCountsMatchThePtx) {
  using namespace attnio::detail;
  ASSERT_EQ(flashinfer_kernel_rows().size(), 27u);
  for (const FlashInferKernelRow& r : flashinfer_kernel_rows()) {
    const std::uint64_t vec = std::max<std::uint64_t>(8, r.d / 32), bdx = r.d / vec;
    const std::uint64_t tile = r.kernel == FlashInferKernel::padded || r.group != 1 ? 1 : r.kernel == FlashInferKernel::batch ? 4 : 8;
    EXPECT_NEAR(flashinfer_fp32_per_token(vec, bdx, r.group * tile), r.fp32, 0.01)
        << static_cast<int>(r.kernel) << " g" << r.group << " d" << r.d;
  }
  // The tensor-core path's prefill kernels: per warp and 64-key step, QK^T's (64 / 8) x (d / 16) and
  // PV's (d / 8) x (64 / 16) m16n8k16, and 4 for P's row sums: d + 4 in the PTX of all 18 instances.
  ASSERT_EQ(flashinfer_tc_rows().size(), 18u);
  for (const FlashInferTcRow& r : flashinfer_tc_rows()) EXPECT_EQ(r.mma, r.d + 4) << "g" << r.group << " d" << r.d;
}

// The launch plan FlashInfer's host code computes, by hand, on an H100 SXM (132 SMs, 228 KB of
// shared memory and 64K registers per SM), fp16, d = 128, 16-token pages.
//  - MHA, B = 1, Nk = 1024 (the blog's Figure 6): vec 8, bdx 16, bdy 1, bdz 8, tile 4, 32 tokens per
//    stage; shared memory 2·2·32·128·2 + max(4·128·8, 2·8·4) = 36864 B, 233472 / (36864 + 1024) = 6
//    blocks; 64 registers: 8; so 6 per SM, a grid of 792. 32 blocks < 792: partition, at least
//    128 / 16 = 8 pages per chunk, and 8 chunks of 8 pages (256 blocks) fit: 8 chunks of 128 tokens,
//    4 iterations each. Per score 16 threads issue 33.25 FP32 and 16 conversions (FMA pipes on
//    sm_90), 1.25 exponentials.
//  - GQA 8, B = 64, Nk = 8192 (Figure 9): bdy 8, bdz 1, 8 tokens per stage; 2·2·8·128·2 + 1024 =
//    9216 B (22 blocks), 70 registers: 2304 per warp, 9216 per block, 7 blocks: a grid of 924.
//    256 < 924: pages 512, the fewest pages p with 64·⌈512/p⌉·4 <= 924 is 171: 3 chunks, 768 blocks.
//  - One request, GQA 8, Nk = 16384 (Figure 8): 512 threads (bdz 4), 63 registers: 2048 per warp x 16
//    warps = 32768, 2 blocks per SM, a grid of 264, at most 264 / 4 = 66 chunks: chunk
//    max(⌈16384 / 66⌉, 256) = 256 tokens, 64 chunks, 256 blocks; the merge of 64 chunks by 8 per
//    iteration: 8 iterations, 2·8 + 1 (the LSEs) + 2 (after the loop) = 19 barriers.
TEST(Exec, FlashInferLaunchPlanByHand) {
  Workload w;
  w.variant = parse_variant("paged");
  w.impl = &find_impl("flashinfer-decode");
  w.dtype = Dtype::fp16;
  w.phase = Phase::decode;
  w.batch = 1, w.heads = 32, w.kv_heads = 32, w.seq = 1, w.kv_len = 1024, w.head_dim = 128;
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, w);
  const KernelCost& k = kernel_named(p, "BatchDecodeWithPagedKVCacheKernel");
  EXPECT_EQ(k.ctas.v, 256u);
  EXPECT_EQ(k.ctas_per_sm, 6u);
  EXPECT_EQ(p.splits, 8u);
  EXPECT_EQ(k.block_iters.v, 32u * 8 * 4);
  EXPECT_EQ(k.waits.barriers, 4u);
  EXPECT_EQ(k.load_buffers, 4u);
  EXPECT_EQ(k.tensor_flops.v, 0u);
  const std::uint64_t lanes = 32u * 1024 * 16;  // every score, on each of its head's 16 threads
  EXPECT_EQ(k.fp32_instr.v, lanes * 4925 / 100);
  EXPECT_EQ(k.sfu_issue.v, lanes * 125 / 100);
  EXPECT_EQ(k.hbm_read.v, 2u * 32 * 1024 * 128 * 2 + 32 * 128 * 2 + 64 * 4);
  EXPECT_EQ(k.hbm_write.v, 32u * 8 * (256 + 4));
  const KernelCost& m = kernel_named(p, "VariableLengthMergeStatesKernel");
  EXPECT_EQ(m.ctas.v, 32u);
  EXPECT_EQ(m.waits.barriers, 5u);  // 2 in its one step, 1 for the LSEs, 2 after the loop
  EXPECT_EQ(m.waits.l2_reads, 3u);
  EXPECT_EQ(m.hbm_read.v, 32u * 8 * (256 + 4));
  EXPECT_EQ(m.hbm_write.v, 32u * 128 * 2);
  // On the A100 the conversions issue beside the FP32 pipe (GA100: FP16 on the shared pipe).
  const Prediction a = predict(find_device("a100-80gb"), w);
  const KernelCost& ka = kernel_named(a, "BatchDecodeWithPagedKVCacheKernel");
  EXPECT_EQ(ka.ctas_per_sm, 4u);  // 167936 / 37888
  EXPECT_EQ(ka.fp32_instr.v, lanes * 3325 / 100);
  EXPECT_EQ(ka.other_instr.v, static_cast<std::uint64_t>(std::llround(static_cast<double>(lanes) * (23.88 + 16))));

  w.batch = 64, w.kv_heads = 4, w.kv_len = 8192;
  const Prediction g = predict(h, w);
  const KernelCost& kg = kernel_named(g, "BatchDecodeWithPagedKVCacheKernel");
  EXPECT_EQ(kg.ctas_per_sm, 7u);
  EXPECT_EQ(g.splits, 3u);
  EXPECT_EQ(kg.ctas.v, 768u);
  // 8192 tokens in chunks of 2736, 2736 and 2720 tokens, 8 per iteration: 342 + 342 + 340.
  EXPECT_EQ(kg.block_iters.v, 64u * 4 * (342 + 342 + 340));

  // A batch that fills the grid runs unsplit, with no merge.
  w.kv_heads = 32, w.kv_len = 512;
  const Prediction full = predict(h, w);
  EXPECT_EQ(full.kernel_count(), 1);
  EXPECT_EQ(kernel_named(full, "BatchDecodeWithPagedKVCacheKernel").ctas.v, 64u * 32);

  Workload s = w;
  s.variant = parse_variant("flash-decoding");
  s.batch = 1, s.kv_heads = 4, s.kv_len = 16384;
  const Prediction one = predict(h, s);
  const KernelCost& ks = kernel_named(one, "SingleDecodeWithKVCacheKernel");
  EXPECT_EQ(ks.ctas_per_sm, 2u);
  EXPECT_EQ(one.splits, 64u);
  EXPECT_EQ(ks.ctas.v, 256u);
  EXPECT_EQ(ks.mma_warps, 16u);
  const KernelCost& ms = kernel_named(one, "MergeStatesLargeNumIndexSetsKernel");
  EXPECT_EQ(ms.ctas.v, 32u);
  EXPECT_EQ(ms.waits.barriers, 19u);
  EXPECT_EQ(ms.waits.l2_reads, 2u);

  // The tensor-core path (prefill.cuh): one request, GQA 8, Nk = 16384. Shared memory (1 x 4 + 4 x
  // 2) x 16 x 128 x 2 = 49152 B: 233472 / 50176 = 4 blocks; 164 registers: 5248 -> 5376 a warp, 21504
  // a block, 3 blocks: a grid of 396, min(396 / 4, 16384 / 128) = 99 chunks of ceil(16384 / 99) = 166
  // tokens, 98 full (3 iterations of 64 keys) and one of 116 (2): 296 iterations per K/V head; the
  // merge of 99 chunks by 8 a step: 13 steps, 2 x 13 + 1 + 2 = 29 barriers.
  Workload t = s;
  t.impl = &find_impl("flashinfer-decode-tc");
  const Prediction tc = predict(h, t);
  const KernelCost& kt = kernel_named(tc, "SinglePrefillWithKVCacheKernel");
  EXPECT_EQ(kt.ctas_per_sm, 3u);
  EXPECT_EQ(tc.splits, 99u);
  EXPECT_EQ(kt.ctas.v, 396u);
  EXPECT_EQ(kt.block_iters.v, 4u * 296);
  EXPECT_EQ(kt.mma, MmaPath::mma_sync);
  EXPECT_EQ(kt.tensor_issue.v, 4u * 296 * 4 * 132 * 4096);  // 4 warps x 132 mma.sync (PTX) a step
  EXPECT_EQ(kt.tensor_flops.v, 32u * 16384 * 2 * 256);
  EXPECT_EQ(kernel_named(tc, "MergeStatesLargeNumIndexSetsKernel").waits.barriers, 29u);
  // A paged batch: one block per (request, K/V head), no split, an L2 round trip per step for the
  // page indices its copies wait on.
  Workload tp = w;
  tp.impl = &find_impl("flashinfer-decode-tc");
  tp.kv_heads = 4, tp.kv_len = 8192;
  const Prediction tcp = predict(h, tp);
  EXPECT_EQ(tcp.kernel_count(), 1);
  const KernelCost& kp = kernel_named(tcp, "BatchPrefillWithPagedKVCacheKernel");
  EXPECT_EQ(kp.ctas.v, 64u * 4);
  EXPECT_EQ(kp.block_iters.v, 64u * 4 * 128);
  EXPECT_EQ(kp.waits.barriers, 4u);
  EXPECT_EQ(kp.waits.l2_reads, 1u);
  // The A100's 82 KB a block leaves num_frags_z 3 at d = 256, which the library does not dispatch;
  // and flash-decoding of a batch is not this path.
  Workload t256 = tp;
  t256.head_dim = 256;
  EXPECT_THROW(predict(find_device("a100-80gb"), t256), InputError);
  Workload tb = t;
  tb.batch = 2;
  EXPECT_THROW(predict(h, tb), InputError);

  // What the library does not dispatch is refused, with the reason.
  Workload bad = w;
  bad.kv_heads = 16;  // group 2
  EXPECT_THROW(predict(h, bad), InputError);
  bad = w;
  bad.head_dim = 96;
  EXPECT_THROW(predict(h, bad), InputError);
  bad = w;
  bad.dtype = Dtype::fp32;
  EXPECT_THROW(predict(h, bad), InputError);
  bad = s;
  bad.set("splits", 4);
  EXPECT_THROW(predict(h, bad), InputError);
  bad = w;
  bad.set("page_size", 256);  // 128 / 256 = 0 pages a chunk at least: the library's search divides by zero
  EXPECT_THROW(predict(h, bad), InputError);
}

// A call that starts with the L2 full of dirty lines (--l2-start dirty: an L2 flush by a memset)
// writes them back as its kernels allocate lines, oldest first: each kernel in launch order gets
// min(what remains of the L2's 52428800 bytes, its own DRAM reads and writes) of extra DRAM writes.
// Flash-Decoding at B = 1, 32 heads, 1024 tokens, d = 128 on an H100: the split kernel's DRAM bytes
// X are under 50 MiB, so it writes back X more and the combine kernel its own bytes too; at 32768
// tokens the split kernel alone evicts all 52428800 and the combine none.
TEST(Exec, DirtyL2StartWritesBackTheFlushByHand) {
  Workload w;
  w.variant = parse_variant("flash-decoding");
  w.dtype = Dtype::bf16;
  w.phase = Phase::decode;
  w.batch = 1, w.heads = 32, w.kv_heads = 32, w.seq = 1, w.kv_len = 1024, w.head_dim = 128;
  const Device& h = find_device("h100-sxm");
  const Prediction clean = predict(h, w);
  w.dirty_l2 = true;
  const Prediction dirty = predict(h, w);
  ASSERT_EQ(clean.kernel_count(), 2);
  for (int i = 0; i < 2; ++i) {
    const KernelCost& c = clean.kernels[i];
    const KernelCost& d = dirty.kernels[i];
    EXPECT_EQ(d.hbm_read.v, c.hbm_read.v) << c.name;
    EXPECT_EQ(d.hbm_write.v, c.hbm_write.v + c.hbm_read.v + c.hbm_write.v) << c.name;
  }
  EXPECT_GT(dirty.predicted_time_s, clean.predicted_time_s);
  w.kv_len = 32768;
  const Prediction big = predict(h, w);  // dirty
  w.dirty_l2 = false;
  const Prediction big_ref = predict(h, w);
  EXPECT_GT(big_ref.kernels[0].hbm_read.v, 52428800u);
  EXPECT_EQ(big.kernels[0].hbm_write.v, big_ref.kernels[0].hbm_write.v + 52428800u);
  EXPECT_EQ(big.kernels[1].hbm_write.v, big_ref.kernels[1].hbm_write.v);
  // With the L2 model off nothing is held in L2: a dirty start is refused, not ignored.
  w.dirty_l2 = true;
  w.l2 = false;
  EXPECT_THROW(predict(h, w), InputError);
  // The simulator's L2 starts clean: it refuses a dirty start rather than ignore it.
  w.l2 = true;
  EXPECT_THROW(simulate(h, w, {}), InputError);
}

// A timed backward that adds its gradients into .grad tensors already holding one (--grads
// accumulate: PyTorch's AccumulateGrad, `variable_grad += new_grad`, for leaf Q, K, V) runs one
// elementwise add per input after the backward's own kernels, by hand. FlashAttention-2 backward,
// B = 2, 8 heads over 2 K/V heads, N = 256, d = 64, bf16: dQ is 2·256·8·64 = 262,144 elements,
// dK and dV 2·256·2·64 = 65,536 each; each add reads 2 x 2 bytes and writes 2 bytes an element
// (dQ: 1,048,576 read, 524,288 written; dK, dV: 262,144 and 131,072), one FP32 add an element,
// in ceil(elements / 1024) CTAs (256 and 64). A forward has no gradient to add: refused.
TEST(Exec, AccumulatedGradsAreOneAddPerInputByHand) {
  Workload w;
  w.variant = parse_variant("flash2");
  w.dtype = Dtype::bf16;
  w.pass = Pass::bwd;
  w.batch = 2, w.heads = 8, w.kv_heads = 2, w.seq = 256, w.head_dim = 64;
  const Device& h = find_device("h100-sxm");
  const Prediction fresh = predict(h, w);
  w.accumulate_grads = true;
  const Prediction acc = predict(h, w);
  ASSERT_EQ(acc.kernel_count(), fresh.kernel_count() + 3);
  for (int i = 0; i < fresh.kernel_count(); ++i) {  // the backward's own kernels are untouched
    EXPECT_EQ(acc.kernels[i].name, fresh.kernels[i].name);
    EXPECT_EQ(acc.kernels[i].hbm_read.v, fresh.kernels[i].hbm_read.v) << fresh.kernels[i].name;
    EXPECT_EQ(acc.kernels[i].hbm_write.v, fresh.kernels[i].hbm_write.v) << fresh.kernels[i].name;
  }
  const struct { const char* name; std::uint64_t elements, ctas; } adds[] = {
      {"accumulate_grad_q", 262144, 256}, {"accumulate_grad_k", 65536, 64}, {"accumulate_grad_v", 65536, 64}};
  for (int i = 0; i < 3; ++i) {
    const KernelCost& k = acc.kernels[fresh.kernel_count() + i];
    EXPECT_EQ(k.name, adds[i].name);
    EXPECT_EQ(k.hbm_read.v, adds[i].elements * 4) << k.name;
    EXPECT_EQ(k.l2_read.v, adds[i].elements * 4) << k.name;
    EXPECT_EQ(k.hbm_write.v, adds[i].elements * 2) << k.name;
    EXPECT_EQ(k.fp32_flops.v, adds[i].elements) << k.name;
    EXPECT_EQ(k.ctas.v, adds[i].ctas) << k.name;
  }
  EXPECT_EQ(acc.hbm_bytes().v, fresh.hbm_bytes().v + 6u * (262144 + 2 * 65536));
  EXPECT_GT(acc.predicted_time_s, fresh.predicted_time_s);
  w.pass = Pass::fwd;
  EXPECT_THROW(predict(h, w), InputError);
  w.pass = Pass::bwd;
  EXPECT_THROW(simulate(h, w, {}), InputError);  // the simulator runs the attention kernels alone
}

// flex in decode runs PyTorch's FlexDecoding (variants/flex.cpp flex_decode; flex_decoding.py
// get_split_k and BLOCK_M, flex_decode.py.jinja TILE_KV), by hand. H100 (132 SMs), B = 8, 32 heads
// over 8 K/V heads, d = 128, bf16, 4096 keys: SPLIT_KV = 132 // 64 x 2 = 4; BLOCK_M =
// max(16, next_pow2(4)) = 16; TILE_KV = ceil(ceil(4096 / 4) / 64) x 64 = 1024 keys = 16 blocks, so
// the 4 splits are all busy: 64 x 4 = 256 CTAs. K and V read once: 8·8·4096·(128 + 128)·2 =
// 134,217,728 bytes; Q (8·32·128·2 = 65,536 bytes) loaded by every split, fetched once; every split
// writes its fp32 ACC (256 rows x 4 splits x 128 x 4 = 524,288) and M and L (256 x 4 x 2 x 4 = 8,192).
TEST(Exec, FlexDecodeIsPyTorchsFlexDecodingByHand) {
  Workload w;
  w.variant = parse_variant("flex");
  w.impl = &find_impl("flexattn");
  w.phase = Phase::decode;
  w.dtype = Dtype::bf16;
  w.batch = 8, w.heads = 32, w.kv_heads = 8, w.head_dim = 128, w.kv_len = 4096;
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, w);
  ASSERT_EQ(p.kernel_count(), 3);
  EXPECT_EQ(p.kernels[0].name, "flex_decoding");
  EXPECT_EQ(p.kernels[1].name, "flex_decode_reduce_lse");
  EXPECT_EQ(p.kernels[2].name, "flex_decode_reduce_out");
  EXPECT_EQ(p.splits, 4u);
  EXPECT_EQ(p.row_tile, 16u);
  EXPECT_EQ(p.block_m, 4u);
  EXPECT_EQ(p.block_n, 64u);
  const KernelCost& k = p.kernels[0];
  EXPECT_EQ(k.ctas.v, 256u);
  EXPECT_EQ(k.block_iters.v, 64u * 64u);
  EXPECT_EQ(k.hbm_read.v, 134217728u + 65536u);
  EXPECT_EQ(k.l2_read.v, 134217728u + 4u * 65536u);
  EXPECT_EQ(k.hbm_write.v, 524288u + 8192u);
  EXPECT_EQ(k.mma, MmaPath::mma_sync);  // 2 warps: no wgmma (num_warps % 4 != 0)
  EXPECT_EQ(k.load_buffers, 3u);       // num_stages = 3 on sm90
  EXPECT_EQ(k.waits.dram_reads, 0u);
  // The reduction reads every split's partials: 524,288 + 256·4·4 + 256·2·4 bytes.
  EXPECT_EQ(p.kernels[2].hbm_read.v, 524288u + 4096u + 2048u);
  EXPECT_EQ(p.kernels[2].hbm_write.v, 256u * 128u * 2u);

  // The A100 (108 SMs): SPLIT_KV = 108 // 64 x 2 = 2, and num_stages = 1: K is loaded and waited
  // on, then after the softmax V: two dependent DRAM round trips per block.
  const Prediction a = predict(find_device("a100-80gb"), w);
  EXPECT_EQ(a.splits, 2u);
  EXPECT_EQ(a.kernels[0].ctas.v, 128u);
  EXPECT_EQ(a.kernels[0].load_buffers, 0u);
  EXPECT_EQ(a.kernels[0].waits.dram_reads, 2u);
  EXPECT_EQ(a.kernels[0].sync_hbm_read.v, a.kernels[0].hbm_read.v);

  // B = 1 with 2 K/V heads and 1024 keys on the A100: SPLIT_KV = 54 x 2 = 108, TILE_KV one block,
  // so 16 of the 108 splits have a block; all 108 load Q and write partials.
  Workload small = w;
  small.batch = 1, small.heads = 16, small.kv_heads = 2, small.kv_len = 1024;
  const Prediction s = predict(find_device("a100-80gb"), small);
  EXPECT_EQ(s.splits, 108u);
  EXPECT_EQ(s.kernels[0].ctas.v, 2u * 16u);
  EXPECT_EQ(s.kernels[0].l2_read.v, 2u * 1024u * 256u * 2u + 108u * 16u * 128u * 2u);
  EXPECT_EQ(s.kernels[0].hbm_write.v, 16u * 108u * (128u + 2u) * 4u);

  // Packed documents (L = 1024: 512, 1024, 1536 repeating): the new token at position 4095 sees its
  // document from 3584, 512 keys = 8 blocks, all in one split's tile of 16.
  Workload doc = w;
  doc.set("doc_len", 1024);
  const Prediction d = predict(h, doc);
  EXPECT_EQ(d.kernels[0].ctas.v, 64u);
  EXPECT_EQ(d.kernels[0].hbm_read.v, 64u * 512u * 512u + 65536u);

  // A group that is not a power of two falls back to the main flex_attention kernel.
  Workload odd = w;
  odd.heads = 24;
  EXPECT_NE(predict(h, odd).kernels[0].name, "flex_decoding");
}

// Waited loads that miss L2 draw on the chip's DRAM, not on an even 1/SMs share of it (rule 5;
// predict.cpp, the waited-load station), by hand. A kernel that only waits on loads from DRAM, no
// latency, no launch cost: with 198 CTAs on the H100's 132 SMs (wave efficiency 0.75) it takes
// the DRAM time c = bytes / sustained rate, where dividing the loads by the waves too gave c / 0.75.
// With 13 CTAs (wave efficiency 13/132) each SM's port to L2 is the floor: bytes / L2 rate spread
// over 13 SMs' worth of ports, (bytes / L2 rate) / (13/132).
TEST(Exec, WaitedMissesDrawOnTheChipsDramNotAnEvenShare) {
  Device h = find_device("h100-sxm");
  h.launch_overhead_s = 0;
  h.dram_latency_s = 0;
  h.dram_queue_read.clear();
  h.dram_queue_copy.clear();
  Workload w;
  w.impl = &find_impl("triton");
  KernelCost k;
  k.name = "waited";
  k.ctas = 198;
  k.ctas_per_sm = 2;
  k.block_iters = k.ctas;
  const std::uint64_t bytes = 100'000'000;
  k.hbm_read = k.l2_read = k.sync_l2_read = k.sync_hbm_read = Count(bytes);
  const double c = static_cast<double>(bytes) / h.sustained_hbm_rate();
  ASSERT_GT(0.75 * c, static_cast<double>(bytes) / h.l2_rate());  // the DRAM demand, not the port, binds
  // The compute term itself (the HBM roof is c too, so the time alone could not tell c from less).
  EXPECT_NEAR(profiled_kernel(k, h, w).compute_s, c, 1e-9 * c);
  EXPECT_NEAR(detail::kernel_time_s(k, h, w), c, 1e-9 * c);
  k.ctas = 13;
  k.block_iters = k.ctas;
  const double port = static_cast<double>(bytes) / h.l2_rate() / (13.0 / 132.0);
  ASSERT_GT(port, c);
  EXPECT_NEAR(profiled_kernel(k, h, w).compute_s, port, 1e-9 * port);
  EXPECT_NEAR(detail::kernel_time_s(k, h, w), port, 1e-9 * port);
}

// FlashAttention-3's TMA multicast, by hand: clusters of 2 CTAs along the query blocks share each
// K/V tile (hopper/flash_fwd_launch_template.h:212-218: 16-bit head dim >= 128, no mask, Q tiles
// even). H100, bf16, B = 1, 2 heads of 128, non-causal: 128 x 176 tiles. At N = 512 the 4 Q tiles
// pair up: K/V requests 2·4·512·256·2 / 2 = 1,048,576 bytes, plus Q 2·512·128·2 = 262,144. At
// N = 384 the 3 tiles cannot: 2·3·384·256·2 = 1,179,648 plus Q 196,608. Causal launches no
// cluster. Each CTA still stages and reads the whole tiles in shared memory, and the simulator
// replays the same requests (L2 off: its DRAM bytes are the closed form's).
TEST(Exec, Fa3MulticastsKvToItsClusterByHand) {
  const Device& h = find_device("h100-sxm");
  Workload w;
  w.variant = parse_variant("flash2");
  w.impl = &find_impl("fa3");
  w.dtype = Dtype::bf16;
  w.batch = 1, w.heads = 2, w.kv_heads = 2, w.head_dim = 128, w.seq = 512;
  const Prediction pp = predict(h, w);
  const KernelCost& pair = kernel_named(pp, "flash2_fwd");
  EXPECT_EQ(pair.l2_read.v, 1048576u + 262144u);
  EXPECT_GE(pair.sram_write.v, 2097152u + 262144u);  // every CTA stages the whole tiles
  w.seq = 384;
  const Prediction po = predict(h, w);
  EXPECT_EQ(kernel_named(po, "flash2_fwd").l2_read.v, 1179648u + 196608u);
  w.seq = 512;
  w.causal = true;  // no cluster: each CTA requests its own (visited) tiles
  const Prediction pc = predict(h, w);
  const KernelCost& causal = kernel_named(pc, "flash2_fwd");
  EXPECT_EQ(causal.l2_read.v - 262144u, causal.sram_write.v - 262144u - (pair.sram_write.v - 2097152u - 262144u));
  w.causal = false;
  w.l2 = false;
  const SimResult r = simulate(h, w, {});
  EXPECT_EQ(r.hbm_read_bytes.v, r.formula.hbm_read_bytes.v);
  EXPECT_EQ(r.l2_read_bytes.v, r.formula.l2_read_bytes.v);
  EXPECT_EQ(r.formula.l2_read_bytes.v, pp.l2_read_bytes.v);
}

// Residency waves (rule 5), by hand. A kernel whose CTAs only wait (one barrier, 21 + 2 x 4 cycles,
// per CTA) at 4 CTAs per SM on an H100 (132 SMs): 528 CTAs fill one residency wave, every SM
// running its 4 together, so the kernel takes one CTA's wait W. 660 CTAs put 5 on each SM: its
// 4 together (W), then the fifth alone (W): 2 W, where dividing the cycle by the wave efficiency
// (5 CTAs an SM against 5 on average: 1) would give 5 W / 4. A kernel bound by a pipe instead
// (FP32 work only) runs its fifth CTA no faster alone: 5 CTAs' work, as before.
TEST(Exec, TheLastResidencyWaveOverlapsOnlyItselfByHand) {
  Device h = find_device("h100-sxm");
  h.launch_overhead_s = 0;
  h.dram_latency_s = 0;
  Workload w;
  w.impl = &find_impl("fa2");
  KernelCost k;
  k.name = "waits";
  k.ctas_per_sm = 4;
  k.mma_warps = 4;
  k.waits.barriers = 1;
  const double wait = (h.barrier_latency_cycles + 4 * h.barrier_cycles_per_warp) / h.clock_hz;
  k.ctas = 528;
  k.block_iters = k.ctas;
  const KernelCost::Exec one = profiled_kernel(k, h, w);
  EXPECT_NEAR(one.iter_wait_s, wait, 1e-12 * wait);
  EXPECT_NEAR(one.compute_s, wait, 1e-9 * wait);
  EXPECT_EQ(one.last_wave_s, 0.0);
  k.ctas = 660;
  k.block_iters = k.ctas;
  const KernelCost::Exec two = profiled_kernel(k, h, w);
  EXPECT_EQ(two.last_wave_ctas, 1.0);
  EXPECT_NEAR(two.last_wave_s, wait, 1e-9 * wait);
  EXPECT_NEAR(two.compute_s, 2 * wait, 1e-9 * wait);
  // FP32 work only: 660 x 1024 lane instructions over 132 SMs x 128 lanes a clock.
  KernelCost f;
  f.name = "pipe";
  f.ctas_per_sm = 4;
  f.ctas = 660;
  f.block_iters = f.ctas;
  f.fp32_instr = 660 * 1024;
  const double pipe = 660.0 * 1024 / h.fp32_lane_rate();
  const KernelCost::Exec p = profiled_kernel(f, h, w);
  EXPECT_NEAR(p.compute_s, pipe, 1e-9 * pipe);
}

// Block-sparse decode with the fa2 profile is flash-attention's decode over the kept blocks
// (flash.cpp sparse_decode), by hand: flash-attention's paged cache takes pages of a multiple of 256
// keys, so the layout's blocks cut 4096 keys into 16; the new token's row of an s = 0.25 layout keeps
// blocks 3, 7, 11, 15 (block_sparse_keep: floor((j + 1) s) > floor(j s)), 1024 keys. So the call is
// flash2's decode over 1024 keys: the same kernels, bytes and time. A layout too sparse to keep any
// block of the row keeps the newest: s = 0.01 reads 256 keys.
TEST(Exec, BlockSparseDecodeIsTheLibrarysDecodeOverTheKeptBlocks) {
  const Device& h = find_device("h100-sxm");
  const auto decode = [](std::string_view variant, std::uint64_t kv_len) {
    Workload w = fa2_llama_decode(variant, kv_len);
    if (variant == "block-sparse") w.set_real("block_density", 0.25);
    return w;
  };
  const Prediction ps = predict(h, decode("block-sparse", 4096)), pf = predict(h, decode("flash2", 1024));
  ASSERT_EQ(ps.kernel_count(), pf.kernel_count());
  EXPECT_EQ(ps.kernels[0].name, "flash2_fwd_splitkv");
  EXPECT_EQ(ps.block_n, 128u);
  EXPECT_EQ(ps.hbm_bytes().v, pf.hbm_bytes().v);
  EXPECT_EQ(ps.kernels[0].hbm_read.v, pf.kernels[0].hbm_read.v);
  EXPECT_DOUBLE_EQ(ps.predicted_time_s, pf.predicted_time_s);
  Workload sparse = decode("block-sparse", 4096);
  sparse.set_real("block_density", 0.01);
  EXPECT_EQ(predict(h, sparse).hbm_bytes().v, predict(h, decode("flash2", 256)).hbm_bytes().v);
  // attnio's own kernel runs the sparse layout over the whole cache instead.
  Workload own = decode("block-sparse", 4096);
  own.impl = &find_impl("attnio");
  EXPECT_NE(predict(h, own).kernels[0].name, "flash2_fwd_splitkv");
}

// FlashSigmoid in decode (flash.cpp sigmoid_shape; ml-sigmoid-attention flash_api.cpp mha_fwd): the
// group's 4 heads become the query rows of one K/V head, one split: B·Hkv = 64 CTAs, each reading
// its K/V head's 4096 keys once, 8·8·4096·256·2 = 134,217,728 bytes through L2, where one CTA per
// query head read them 4 times. Without GQA (32 K/V heads) nothing is swapped: 256 CTAs.
TEST(Exec, SigmoidDecodePacksTheGroupButNeverSplits) {
  const Device& h = find_device("h100-sxm");
  const Workload w = fa2_llama_decode("sigmoid", 4096);
  const Prediction p = predict(h, w);
  ASSERT_EQ(p.kernel_count(), 1);
  EXPECT_EQ(p.kernels[0].ctas.v, 64u);
  const std::uint64_t q = 8u * 32 * 128 * 2;
  EXPECT_EQ(p.kernels[0].l2_read.v, 134217728u + q);
  Workload mha = w;
  mha.kv_heads = 32;
  EXPECT_EQ(predict(h, mha).kernels[0].ctas.v, 256u);
  Workload own = w;
  own.impl = &find_impl("attnio");
  EXPECT_EQ(predict(h, own).kernels[0].ctas.v, 256u);
}

// The flexattn profile's forward tiles are the CUDA heuristic's defaults (impl.cpp flex_fwd_config;
// template_heuristics/triton.py @00131b6b get_flex_attn_fwd_configs), and Triton's MMA path follows
// from them: wgmma on sm90 only where BLOCK_M % 64 == 0 and num_warps % 4 == 0 (sm100's tcgen05 is
// not modelled and sm120 has no wgmma: mma.sync stands in).
TEST(Impl, FlexAttentionTakesTheHeuristicsDefaultTiles) {
  const ImplProfile& f = find_impl("flexattn");
  struct Case {
    int cc;
    std::uint64_t d;
    Dtype dtype;
    std::uint64_t m, n, warps;
    MmaPath mma;
  };
  for (const Case& c : {Case{90, 128, Dtype::bf16, 128, 64, 8, MmaPath::wgmma}, Case{90, 64, Dtype::fp16, 128, 128, 4, MmaPath::wgmma},
                        Case{90, 256, Dtype::bf16, 64, 32, 4, MmaPath::wgmma}, Case{90, 128, Dtype::fp32, 32, 64, 4, MmaPath::mma_sync},
                        Case{80, 128, Dtype::fp16, 128, 64, 8, MmaPath::mma_sync}, Case{80, 256, Dtype::bf16, 32, 64, 4, MmaPath::mma_sync},
                        Case{80, 96, Dtype::bf16, 128, 64, 4, MmaPath::mma_sync}, Case{89, 64, Dtype::bf16, 128, 64, 4, MmaPath::mma_sync},
                        Case{100, 64, Dtype::bf16, 128, 128, 4, MmaPath::mma_sync}, Case{120, 128, Dtype::bf16, 128, 64, 8, MmaPath::mma_sync}}) {
    const KernelTraits t = f.traits(KernelRole::fwd, c.d, false, c.dtype, 233472, c.cc);
    EXPECT_EQ(t.block_m, c.m) << c.cc << " d=" << c.d;
    EXPECT_EQ(t.block_n, c.n) << c.cc << " d=" << c.d;
    EXPECT_EQ(t.mma_warps, c.warps) << c.cc << " d=" << c.d;
    EXPECT_EQ(t.mma, c.mma) << c.cc << " d=" << c.d;
    EXPECT_EQ(t.load_buffers, c.cc >= 120 ? 2u : 3u);  // sm_120's table has 2 stages
    // The Q tile and 3 stages of K and V: at sm90 d = 128, 2·(128·128 + 3·64·256) = 131,072 bytes.
    if (c.cc == 90 && c.d == 128 && c.dtype == Dtype::bf16) EXPECT_EQ(t.smem_bytes, 131072u);
  }
  // Head dim 96 runs its MMAs at 128 (QK_HEAD_DIM_ROUNDED); its shared memory stays at 96.
  EXPECT_EQ(f.traits(KernelRole::fwd, 96, false, Dtype::bf16, 233472, 90).kernel_head_dim, 128u);
  // Backward classes: sm90 at d <= 128 (64, 128, 128, 64), 8 warps, 3 stages; sm10x the same tiles
  // at 4 warps; sm8x 64 x 64 everywhere at 2 stages (3 on sm86 at d = 128); fp32 16 x 16, 1 stage.
  const auto bwd = [&](int cc, std::uint64_t d, Dtype dt) { return f.traits(KernelRole::bwd, d, false, dt, 233472, cc); };
  EXPECT_EQ(bwd(90, 128, Dtype::bf16).flex_bwd.n1, 128u);
  EXPECT_EQ(bwd(90, 128, Dtype::bf16).mma_warps, 8u);
  EXPECT_EQ(bwd(100, 128, Dtype::bf16).flex_bwd.n1, 128u);
  EXPECT_EQ(bwd(100, 128, Dtype::bf16).mma_warps, 4u);
  EXPECT_EQ(bwd(80, 128, Dtype::bf16).flex_bwd.n1, 64u);
  EXPECT_EQ(bwd(80, 128, Dtype::bf16).load_buffers, 2u);
  EXPECT_EQ(bwd(86, 128, Dtype::bf16).load_buffers, 3u);
  EXPECT_EQ(bwd(80, 32, Dtype::bf16).flex_bwd.m1, 32u);
  EXPECT_EQ(bwd(90, 128, Dtype::fp32).flex_bwd.m1, 16u);
  // FlexDecoding stages: 3 on 9.0, 10.0 and 10.3 but not for fp32 past head dim 128; 1 elsewhere.
  const auto dec = [&](int cc, std::uint64_t d, Dtype dt) { return f.traits(KernelRole::splitkv, d, false, dt, 233472, cc).load_buffers; };
  EXPECT_EQ(dec(90, 128, Dtype::bf16), 3u);
  EXPECT_EQ(dec(100, 128, Dtype::bf16), 3u);
  EXPECT_EQ(dec(120, 128, Dtype::bf16), 0u);
  EXPECT_EQ(dec(90, 256, Dtype::fp32), 0u);
  EXPECT_EQ(dec(80, 64, Dtype::bf16), 0u);
  EXPECT_TRUE(f.traits(KernelRole::splitkv, 128, false, Dtype::bf16, 233472, 90).flex_decoding);
  EXPECT_EQ(default_impl("flex", find_device("h100-sxm")).key, "flexattn");
  EXPECT_EQ(default_impl("flex", find_device("a100-80gb")).key, "flexattn");
  EXPECT_FALSE(find_impl("triton").implements("flex"));
}

// FlexAttention's backward (flash.cpp flex_bwd; flex_backwards.py.jinja), by hand. H100, bf16,
// B = 1, 2 query heads over 1 K/V head, N = Nk = 256, d = 128, no mask, the L2 off. The sm90 config
// at d = 128 is (m1, n1, m2, n2) = (64, 128, 128, 64): 256/128 = 2 dK/dV programs and 2 query blocks
// x 2 heads = 4 dQ programs. FLOPs: dK/dV 2·256²·2·(2·128 + 2·128) = 134,217,728 and dQ
// 2·256²·2·(2·128 + 128) = 100,663,296. Reads: each Q row (Q, dO at 256 B each, LSE and D at 4:
// 520 B) once per visited pair of a dK/dV program (2 key blocks x 512 rows) and once per dQ
// program (512 rows): 798,720 B; K/V rows (512 B) once per dK/dV program (256 keys in all) and once
// per visited pair of a dQ program (2 query blocks x 256 keys per head, 2 heads: 1024 key rows):
// 131,072 + 524,288 = 655,360 B.
// Writes: dK, dV (131,072 B) and dQ (131,072 B), once each.
TEST(Exec, FlexBackwardIsTwoProgramKindsByHand) {
  Workload w;
  w.variant = parse_variant("flex");
  w.impl = &find_impl("flexattn");
  w.pass = Pass::bwd;
  w.dtype = Dtype::bf16;
  w.batch = 1, w.heads = 2, w.kv_heads = 1, w.seq = w.kv_len = 256, w.head_dim = 128;
  w.l2 = false;
  const Prediction p = predict(find_device("h100-sxm"), w);
  ASSERT_EQ(p.kernel_count(), 2);
  const KernelCost& d = p.kernels[0];
  EXPECT_EQ(d.name, "flex_bwd_delta");
  EXPECT_EQ(d.hbm_read.v, 2u * 512 * 128 * 2);
  EXPECT_EQ(d.hbm_write.v, 512u * 4);
  const KernelCost& k = p.kernels[1];
  EXPECT_EQ(k.name, "flex_attention_backward");
  EXPECT_EQ(k.ctas.v, 6u);
  EXPECT_EQ(k.tensor_flops.v, 134217728u + 100663296u);
  EXPECT_EQ(k.hbm_read.v, 798720u + 655360u);
  EXPECT_EQ(k.hbm_write.v, 262144u);
  EXPECT_EQ(k.mma, MmaPath::wgmma);
  EXPECT_EQ(k.load_buffers, 3u);
  // Causal: two programs may finish last. The last query block's dQ program (4 key blocks of 64
  // for rows 128..255) is launched last; the dK/dV program of key block 0, which all 4 query blocks
  // of 64 rows of both heads visit (8 iterations), is launched first in its set, so 16 of the set's
  // 24 iterations come after it (dK/dV: key block 0 by 4 query blocks and key block 1 by 2; dQ:
  // query block 0 by 2 key blocks and query block 1 by 4; 12 per head, 2 heads). The execution
  // model takes the larger tail of the two.
  w.causal = true;
  const Prediction c = predict(find_device("h100-sxm"), w);
  EXPECT_EQ(c.kernels[1].last_cta_iters.v, 4u);
  EXPECT_EQ(c.kernels[1].last_cta_after_iters.v, 0u);
  EXPECT_EQ(c.kernels[1].alt_last_cta_iters.v, 8u);
  EXPECT_EQ(c.kernels[1].alt_last_cta_after_iters.v, 16u);
}

// What PyTorch refuses, attnio refuses with one line (flex.cpp check_flexattn): the sm8x forward's
// 128 x 64, 3-stage tiles at head dim 128 need 2·(128·128 + 3·64·256) = 131,072 B, more than an
// L40S block's 101,376 (Triton: "Required: 131074, Hardware limit: 101376", pytorch#133254), but
// 64 x 32 tiles given as --block-m/--block-n (kernel_options) need 2·(64·128 + 3·32·256) = 65,536
// and run; 128 x 128 at head dim 64 needs 2·(128·64 + 3·128·128) = 114,688 and is refused; more
// than 128 query rows per K/V head in decode; a BLOCK_N that does not divide 128.
TEST(Exec, FlexRefusesWhatPyTorchRefuses) {
  Workload w;
  w.variant = parse_variant("flex");
  w.dtype = Dtype::bf16;
  w.batch = 1, w.heads = 8, w.kv_heads = 8, w.seq = 1024, w.head_dim = 128;
  EXPECT_THROW(predict(find_device("l40s"), w), InputError);
  EXPECT_NO_THROW(predict(find_device("a100-80gb"), w));
  Workload small = w;
  small.head_dim = 64;  // 2·(128·64 + 3·64·128) = 65,536 B fits
  EXPECT_NO_THROW(predict(find_device("l40s"), small));
  Workload tiles = w;
  tiles.set("block_m", 64);
  tiles.set("block_n", 32);
  EXPECT_NO_THROW(predict(find_device("l40s"), tiles));
  small.set("block_m", 128);
  small.set("block_n", 128);
  EXPECT_THROW(predict(find_device("l40s"), small), InputError);
  Workload dec = w;
  dec.phase = Phase::decode;
  dec.heads = 256, dec.kv_heads = 1;
  EXPECT_THROW(predict(find_device("h100-sxm"), dec), InputError);
  dec.heads = 128;
  EXPECT_NO_THROW(predict(find_device("h100-sxm"), dec));
  dec.set("block_n", 96);
  EXPECT_THROW(predict(find_device("h100-sxm"), dec), InputError);
}

// PyTorch's memory-efficient SDPA runs xFormers' vendored kernels (impl.cpp kPytorchMemEff): the
// same traits as the xformers profile, on Hopper too (the Sm80 template, mma.sync).
TEST(Impl, PytorchMemoryEfficientIsXformersVendored) {
  const ImplProfile& p = find_impl("pytorch-mem-efficient");
  const ImplProfile& x = find_impl("xformers");
  for (const std::uint64_t d : {64u, 128u}) {
    const KernelTraits a = p.traits(KernelRole::fwd, d, false, Dtype::bf16, 233472, 90);
    const KernelTraits b = x.traits(KernelRole::fwd, d, false, Dtype::bf16, 233472, 90);
    EXPECT_EQ(a.block_m, b.block_m);
    EXPECT_EQ(a.block_n, b.block_n);
    EXPECT_EQ(a.mma_warps, b.mma_warps);
    EXPECT_EQ(a.waits.barriers, b.waits.barriers);
    EXPECT_EQ(a.mma, MmaPath::mma_sync);
  }
  EXPECT_TRUE(p.implements("flash2"));
}
