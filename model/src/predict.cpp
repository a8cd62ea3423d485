// predict(): resolve and validate the workload, let the variant's descriptor append the kernels one
// layer launches (its closed form, model/src/variants/), multiply by the layers, apply the roofline
// per kernel and sum.
#include "attnio/model/predict.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include "engine/evaluator.hpp"
#include "variants/common.hpp"

namespace attnio {

namespace {

using namespace detail;
__extension__ typedef __int128 i128;  // GCC/Clang extension: exact sums before the 64-bit check

// ---- roofline and time ----------------------------------------------------------------------

// Roofline (Williams, Waterman & Patterson 2009), one ceiling per unit and memory level (hierarchical
// roofline, Yang et al. 2020): a kernel takes as long as its slowest ceiling at datasheet peak. Wave
// quantization at SM granularity scales the per-SM ceilings only: the busiest SM runs
// ceil(CTAs / SMs) CTAs while the average runs CTAs / SMs. HBM, L2 and the link are shared by the
// chip, so a small grid does not slow them (it may lack bytes in flight: the execution model's
// Little's-law term). Each launch adds the device's launch overhead.
double wave_efficiency(const KernelCost& k, const Device& dev) {
  const double per_sm = k.ctas.d() / static_cast<double>(k.launches) / static_cast<double>(dev.sm_count);
  return per_sm / std::ceil(per_sm);
}

void apply_roofline(Prediction& pr, const Device& dev, u64 layers) {
  const Dtype dtype = pr.workload.dtype;
  // A locked SM clock scales the SM's peaks (tensor, FP32, MUFU, shared memory); DRAM, L2 and the
  // link keep theirs.
  const double f = dev.locked_clock_scale();
  const double rates[kCeilingCount] = {dev.tensor_rate(dtype) * f, dev.fp32_rate() * f, dev.sfu_rate() * f, dev.hbm_rate(),
                                       dev.l2_rate(), dev.sram_bytes_per_s * f, dev.nvlink_bytes_per_s};
  for (int i = 0; i < pr.kernel_count(); ++i) {
    KernelCost& k = pr.kernels[i];
    const double eff = wave_efficiency(k, dev);
    const double work[kCeilingCount] = {k.tensor_flops.d(), k.fp32_flops.d(), k.sfu_ops.d(),
                                        (k.hbm_read + k.hbm_write).d(), (k.l2_read + k.l2_write).d(),
                                        (k.sram_read + k.sram_write).d(), k.link_bytes.d()};
    double t = 0;
    for (int c = 0; c < kCeilingCount; ++c) {
      if (work[c] == 0) continue;
      const bool per_sm = c <= static_cast<int>(Ceiling::fp32) || c == static_cast<int>(Ceiling::sfu) ||
                          c == static_cast<int>(Ceiling::sram);
      const double tc = work[c] / (rates[c] * (per_sm ? eff : 1.0));
      pr.ceiling_time_s[c] += tc * static_cast<double>(layers);
      if (tc > t) t = tc, k.roofline_ceiling = static_cast<Ceiling>(c);
    }
    k.roofline_s = t;
    const double launch = static_cast<double>(k.launches) * dev.launch_overhead_s;
    pr.roofline_time_s += (t + launch) * static_cast<double>(layers);
  }
  int best = 0;
  for (int c = 1; c < kCeilingCount; ++c) {
    if (pr.ceiling_time_s[c] > pr.ceiling_time_s[best]) best = c;
  }
  pr.binding_ceiling = static_cast<Ceiling>(best);
}

// ---- the execution model ----------------------------------------------------------------------

// Sustained tensor rate of an MMA path over the datasheet peak, from the device file's
// microbenchmark figures (model/devices/*.json field_sources); 1 where the file gives none.
double tensor_fraction(const Device& dev, MmaPath path, Dtype dtype) {
  if (dev.tensor_rate_measured(dtype)) return 1.0;  // `attnio ceilings` measured the sustained rate
  const auto or1 = [](double f) { return f > 0 ? f : 1.0; };
  if (dtype == Dtype::fp8) return or1(dev.fp8_mma_fraction);
  const bool hopper = dev.compute_capability >= 90;
  if (path == MmaPath::native) path = hopper && dev.wgmma_fraction > 0 ? MmaPath::wgmma : MmaPath::mma_sync;
  return or1(path == MmaPath::wgmma ? dev.wgmma_fraction : dev.mma_sync_fraction);
}

// The prediction's totals: every kernel's counts times the layers (or identical launches) it stands for.
// A call that starts with the L2 full of dirty lines (Workload::dirty_l2: an L2 flush by writing a
// buffer of at least the L2's size, as nvbench's cold timing, triton.testing.do_bench and a
// torch zero_() before each call do) pays for writing them back. The L2 is write-back and
// allocates on reads and writes (CUDA C++ Programming Guide, "L2 cache"; the H100 and A100
// whitepapers), and the flush's lines are the oldest, so each line the call's kernels bring in
// from DRAM or write evicts one of them until none is left: the first kernels in launch order get
// min(what remains, their own DRAM reads and writes) of extra DRAM writes, at most the L2's
// capacity in all. Per layer: a call of several layers evicts them in its first, spread here over
// its layers. No other constant: the L2's size is the device's.
void add_dirty_l2_writebacks(Prediction& out, const Device& device, u64 layers) {
  if (!out.workload.dirty_l2) return;  // validate() refuses it with --l2 off
  double remaining = device.l2_bytes;
  for (int i = 0; i < out.kernel_count() && remaining > 0; ++i) {
    KernelCost& k = out.kernels[i];
    const double evicted = std::min(remaining, (k.hbm_read + k.hbm_write).d() * static_cast<double>(layers));
    k.hbm_write += Count(static_cast<u64>(std::llround(evicted / static_cast<double>(layers))));
    remaining -= evicted;
  }
}

// A timed backward that also adds its input gradients into .grad tensors already holding one
// (Workload::accumulate_grads). PyTorch's AccumulateGrad node, for a leaf whose .grad is defined
// with grad mode off (the default backward), runs `variable_grad += new_grad` in place
// (torch/csrc/autograd/functions/accumulate_grad.h, accumulateGrad); a benchmark that repeats
// o.backward(do, retain_graph=True) without resetting .grad times it (triton.testing.do_bench
// resets only the tensors in its grad_to_none argument; flash-attention's benchmark_backward sets
// .grad = None "to avoid extra operation of gradient accumulation",
// flash_attn/utils/benchmark.py:55). One elementwise add for each of Q, K and V after the
// backward's own kernels: it reads the held gradient and the new one and writes the sum, each the
// size of its input (dK and dV at the K/V heads: an MQA/GQA backward has reduced them already),
// one FP32 add an element; every byte through DRAM (the L2 reuse of the gradient the backward
// has just written is not counted).
void add_grad_accumulation(Evaluator& ev, const Workload& w) {
  if (!w.accumulate_grads) return;  // validate() refuses it with --pass fwd
  const u64 e = dtype_bytes(w.dtype);
  const Count q = Count(w.batch) * w.query_len() * w.heads, kv = Count(w.batch) * w.kv_len * w.kv_heads;
  const std::pair<std::string_view, Count> grads[] = {
      {"accumulate_grad_q", q * w.head_dim}, {"accumulate_grad_k", kv * w.head_dim}, {"accumulate_grad_v", kv * w.v_head_dim}};
  for (const auto& [name, elements] : grads) {
    KernelCost& k = rowwise(ev, name, elements);
    Evaluator::read_direct(k, elements * e * 2);
    Evaluator::write_direct(k, elements * e);
    k.fp32_flops = elements;
  }
}

void add_kernel_totals(Prediction& out, u64 layers) {
  const Count n = layers;
  for (int i = 0; i < out.kernel_count(); ++i) {
    const KernelCost& k = out.kernels[i];
    out.tensor_flops += k.tensor_flops * n;
    out.fp32_flops += k.fp32_flops * n;
    out.sfu_flops += k.sfu_ops * n;
    out.hbm_read_bytes += k.hbm_read * n;
    out.hbm_write_bytes += k.hbm_write * n;
    out.l2_read_bytes += k.l2_read * n;
    out.l2_write_bytes += k.l2_write * n;
    out.sram_read_bytes += k.sram_read * n;
    out.sram_write_bytes += k.sram_write * n;
    out.link_bytes += k.link_bytes * n;
    out.launches += Count(k.launches) * n;
    out.ctas += k.ctas * n;
  }
}

}  // namespace

double sustained_tensor_rate(const Device& device, MmaPath path, Dtype dtype) {
  const double rate = device.tensor_rate(dtype) * tensor_fraction(device, path, dtype);
  if (device.locked_clock_hz <= 0) return rate;
  // Locked: the tensor fractions (and a rate `attnio ceilings` measured) are sustained rates under
  // the power limit, so each over the sustained clock fraction is the MMA path's rate per clock at
  // the datasheet clock (Luo et al. 2402.13499 Table VIII: random-input wgmma 665.4 against the
  // zero-input 729.3 TFLOP/s is the clock alone), run at the locked clock (docs/model.md, "A locked
  // clock").
  // A fraction the device file does not give is 1, the datasheet rate, already per clock: no rate
  // per clock exceeds the datasheet's.
  const double throttle = device.sustained_clock_fraction > 0 ? device.sustained_clock_fraction : 1.0;
  return std::min(device.tensor_rate(dtype), rate / throttle) * device.locked_clock_scale();
}

// Utilization of the GEMM phase when `k` independent jobs (warps, or FA3's consumer warpgroups) each
// alternate between a GEMM phase of mean length x1 on the tensor pipe and a softmax phase of mean
// length x2 on the MUFU/FP32 pipes, and wait out a latency z per cycle that occupies neither (their
// barriers, dependent shared-memory reads and unprefetched loads): a closed queueing network of two
// single-server stations and one delay station with k customers. Mean value analysis (Reiser &
// Lavenberg 1980; Lazowska et al., Quantitative System Performance, 1984, §6.4 and §7.2) solves it
// exactly: with Q_i(0) = 0, for n = 1..k, R_i(n) = D_i (1 + Q_i(n-1)) at a queueing station,
// X(n) = n / (z + R_1(n) + R_2(n)), Q_i(n) = X(n) R_i(n); the GEMM utilization is X(k) x1. With z = 0
// this is the product form of Gordon & Newell 1967 (Lazowska §8): P(tensor idle) = x2^k /
// Σ_{n=0..k} x1^n x2^(k-n). k = 1 is a plain sum x1 + x2 + z; k -> ∞ the larger phase hides the rest.
// Demands may be given as totals over all cycles: the utilization does not depend on their scale.
// cycle_throughput returns X(k) for up to four queueing stations (GEMM, softmax, and the memory a
// job waits on); overlap_utilization is X(k) x1 for the first two.
double cycle_throughput(std::span<const double> demands, double k, double z) {
  static constexpr double kExponential[4] = {1, 1, 1, 1};
  return cycle_throughput(demands, kExponential, k, z);
}

// Station i's service may be less variable than exponential: its squared coefficient of variation
// cv2[i] (1: exponential, 0: deterministic). An arrival waits out the jobs queued ahead and the
// residual of the one in service, (1 + cv2) / 2 of a service on average (the mean residual life
// E[S²] / 2E[S], Kleinrock, Queueing Systems Vol. 1, 1975, §5.2 and the Pollaczek-Khinchine mean
// value), so R_i(n) = D_i (1 + Q_i(n-1)) + D_i U_i(n-1) (cv2_i - 1) / 2, U_i = X D_i: the usual
// approximate MVA for FCFS stations with general service (Lazowska et al. 1984, §10.3).
double cycle_throughput(std::span<const double> demands, std::span<const double> cv2, double k, double z) {
  const int jobs = std::max(1, static_cast<int>(std::floor(k)));
  double q[4] = {}, r[4] = {}, u[4] = {};
  const std::size_t m = std::min<std::size_t>(demands.size(), 4);
  double x = 0;
  for (int n = 1; n <= jobs; ++n) {
    double cycle = z;
    for (std::size_t i = 0; i < m; ++i) {
      const double c = i < cv2.size() ? cv2[i] : 1.0;
      cycle += r[i] = demands[i] * (1 + q[i]) + demands[i] * u[i] * (c - 1) / 2;
    }
    if (cycle <= 0) return 0;
    x = n / cycle;
    for (std::size_t i = 0; i < m; ++i) q[i] = x * r[i], u[i] = std::min(1.0, x * demands[i]);
  }
  return x;
}

double overlap_utilization(double x1, double x2, double k, double z) {
  if (x1 <= 0) return 1;
  if (x2 <= 0 && z <= 0) return 1;
  const double d[] = {x1, x2};
  return std::min(1.0, cycle_throughput(d, k, z) * x1);
}

namespace {

// Lanes an SM issues per clock: 4 partitions x one 32-thread warp instruction (see exec_kernel).
constexpr double kIssueLanesPerSm = 4 * 32;
// Lanes the ALU pipe runs per clock per SM: 16 a partition on sm_80 to sm_90 (the INT32 units of the
// A100 and H100 whitepapers' SM diagrams, 16 per partition, which the Nsight Compute Profiling
// Guide's "alu" pipe is: integer, logic and compare instructions, and on Ampere the FP32-to-FP16
// conversion).
constexpr double kAluLanesPerSm = 4 * 16;

// One kernel's time under the execution model, its waited DRAM loads taking `wait_dram_latency_s`
// each (exec_kernel finds the latency they see).
void exec_kernel_at(KernelCost& k, const Device& dev, const Workload& w, double wait_dram_latency_s) {
  KernelCost::Exec& x = k.exec;
  x = {};
  x.wait_dram_latency_s = k.waits.dram_reads != 0 ? wait_dram_latency_s : 0.0;
  const double tensor_rate = sustained_tensor_rate(dev, k.mma, w.dtype);
  const double fp32_instr = k.fp32_instr.v != 0 ? k.fp32_instr.d() : k.fp32_flops.d() / 2;
  const double tensor = k.tensor_issue.v != 0 ? k.tensor_issue.d() : k.tensor_flops.d();
  const double sfu = k.sfu_issue.v != 0 ? k.sfu_issue.d() : k.sfu_ops.d();
  // A kernel that keeps the tensor cores busy runs at the clock the power limit allows: the SM's
  // other pipes slow with it (model/devices/*.json sustained_clock_fraction; 1 where not given).
  double clock = tensor > 0 && dev.sustained_clock_fraction > 0 ? dev.sustained_clock_fraction : 1.0;
  // A locked clock replaces it for every kernel (sustained_tensor_rate scales the tensor pipe).
  if (dev.locked_clock_hz > 0) clock = dev.locked_clock_scale();
  x.tensor_s = tensor / tensor_rate;
  x.smem_s = (k.sram_read + k.sram_write).d() / (dev.sram_bytes_per_s * clock);
  x.mufu_s = sfu / (dev.sfu_rate() * clock);
  x.fp32_s = fp32_instr / (dev.fp32_lane_rate() * clock);  // lanes per clock at the running clock
  // Every instruction takes an issue slot: an SM's 4 schedulers each dispatch one warp instruction
  // (32 lanes) per clock (NVIDIA A100 and H100 whitepapers, "SM partition": "warp scheduler (32
  // thread/clk)"). Where the FP32 pipe is half as wide (sm_80: 16 lanes per partition) the other
  // instructions issue in its shadow; where it is as wide (sm_90: 32) they add to it. The softmax's
  // FMNMX and F2FP packs are such instructions (flash.cpp per_score_instr), and a mask's ISETP and
  // FSEL (flash.cpp mask_instr): the ALU pipe runs them, 16 lanes per partition on sm_80 and sm_90
  // alike, a floor of its own where a kernel issues more of them than FMA-pipe instructions (the
  // 2023 Triton forward under a causal mask: 2 FMA-pipe and 3.5 ALU instructions per score).
  if (k.other_instr.v != 0) {
    const double issue_rate = static_cast<double>(dev.sm_count) * kIssueLanesPerSm * dev.clock_hz * clock;
    x.fp32_s = std::max(x.fp32_s, (fp32_instr + k.other_instr.d()) / issue_rate);
  }
  if (k.alu_instr.v != 0) {
    x.alu_s = k.alu_instr.d() / (static_cast<double>(dev.sm_count) * kAluLanesPerSm * dev.clock_hz * clock);
    x.fp32_s = std::max(x.fp32_s, x.alu_s);
  }
  x.softmax_s = x.mufu_s + x.fp32_s;
  // Independent jobs per SM sub-partition: a CTA's warps are spread over the 4 sub-partitions, and
  // those that meet at a barrier every iteration move in step, so each resident CTA brings
  // `jobs_per_cta` jobs to every sub-partition (FA2: 1; FA3: its consumer warpgroups). An mma.sync
  // on Hopper sustains about 2/3 of the tensor core (Luo et al. 2402.13499 Table VII;
  // FlashAttention-3 blog footnote 1): its issue and operand delivery hold the sub-partition, so no
  // other warp's softmax fills that time (one job).
  const double per_sm_ctas = std::min(static_cast<double>(k.ctas_per_sm),
                                      std::ceil(k.ctas.d() / static_cast<double>(k.launches) / dev.sm_count));
  // A CTA of fewer than 4 warps holds only some of the sub-partitions (warp w on sub-partition w % 4):
  // 4 / warps such CTAs together are one job across the SM.
  const double sub_share = std::min(1.0, static_cast<double>(k.mma_warps) / 4.0);
  x.overlap_jobs = std::max(1.0, per_sm_ctas * static_cast<double>(k.jobs_per_cta) * sub_share);
  // What an issue-held mma.sync does not hold: the shared-memory pipe. ldmatrix data comes back
  // through the SM's MIO/LSU pipe at its own rate (128 B/clk), whoever issued it; where two or more
  // independent jobs (resident CTAs) share each sub-partition, one's tensor and softmax issue runs while another's
  // ldmatrix tiles stream in, so on Hopper the issue-held work (MMAs and softmax in series) and the
  // shared-memory traffic are two resources in parallel: the GEMM phase is the tensor time alone and
  // the SM's busy time at least the shared-memory time (below). One job per sub-partition has no
  // other to fill its ldmatrix waits: the GEMM phase stays max(tensor, smem).
  const bool issue_held = k.mma == MmaPath::mma_sync && dev.compute_capability >= 90;
  // The GEMM phase with `jobs` independent jobs per sub-partition (the full waves', the last
  // residency wave's, a CTA alone).
  const auto apart_with = [issue_held](double jobs) { return issue_held && jobs >= 2; };
  const auto gemm_with = [&](double jobs) { return apart_with(jobs) ? x.tensor_s : std::max(x.tensor_s, x.smem_s); };
  const bool smem_apart = apart_with(x.overlap_jobs);
  x.gemm_s = gemm_with(x.overlap_jobs);
  if (issue_held) x.overlap_jobs = 1;
  // The delay station: what a CTA waits out per iteration with nothing of its own to run (barriers,
  // dependent shared-memory reads, loads issued and waited on in the same iteration; impl.hpp
  // IterWaits, counted from each kernel's code). SM-side latencies are cycles at the running clock;
  // DRAM's is the device file's time. z is that wait over the iterations one SM runs.
  if (k.waits.any() && k.block_iters.v != 0) {
    const double cycle = 1.0 / (dev.clock_hz * clock);
    const double barrier = dev.barrier_latency_cycles + dev.barrier_cycles_per_warp * static_cast<double>(k.mma_warps);
    x.iter_wait_s = (k.waits.barriers * barrier + k.waits.smem_reads * dev.smem_latency_cycles +
                     k.waits.l2_reads * dev.l2_latency_cycles) * cycle +
                    k.waits.dram_reads * wait_dram_latency_s;
    // Per sub-partition, where a CTA holds fewer than 4 of them: its iterations wait on the
    // sub-partitions it holds only (sub_share above).
    x.delay_s = x.iter_wait_s * k.block_iters.d() / dev.sm_count * sub_share;
  }
  // Loads a CTA issues and then waits on in the same iteration (not prefetched an iteration ahead)
  // put the memory in the job's cycle: a third queueing station, served at the SM's share of the
  // level's rate (L2 hits at the L2 rate, misses at the sustained DRAM rate). Prefetched tiles stay
  // outside the cycle: the prefetch loop below waits on them.
  // The rest of the level's traffic (writes, prefetched tiles) is an open class at the same server:
  // it leaves the waited loads 1 - ρ of it, so their demand grows by 1 / (1 - ρ) (mixed networks,
  // Lazowska et al. 1984 §7.4), ρ being that traffic's time over the kernel's; a fixed point, as ρ
  // falls when the kernel slows.
  double wait_dram = 0, wait_l2 = 0, other_dram = 0, other_l2 = 0;
  if (k.sync_l2_read.v != 0 && k.block_iters.v != 0) {
    const double miss = std::min(k.sync_hbm_read.d(), k.sync_l2_read.d());
    wait_dram = miss / dev.sustained_hbm_rate();
    wait_l2 = (k.sync_l2_read.d() - miss) / dev.l2_rate();
    other_dram = std::max(0.0, (k.hbm_read + k.hbm_write).d() / dev.sustained_hbm_rate() - wait_dram);
    other_l2 = std::max(0.0, (k.l2_read + k.l2_write).d() / dev.l2_rate() - k.sync_l2_read.d() / dev.l2_rate());
  }
  // Misses are served by the chip's DRAM, not by the SM (rule 5, as the prefetch loop below): an
  // SM that holds more CTAs than the average draws more than an even share of the DRAM rate while
  // lighter ones draw less, so their demand is the chip's, times the wave efficiency that the
  // cycle's time is divided by below. Each SM still draws them through its own port to L2, whose
  // rate is the chip's L2 rate over the SMs (the L2's bandwidth is the sum of the SMs' ports): a
  // floor. Hits are served at that port: the SM's share, quantized with the SM.
  x.wave_efficiency = wave_efficiency(k, dev);
  const double miss_port = std::min(k.sync_hbm_read.d(), k.sync_l2_read.d()) / dev.l2_rate();
  double throughput = 0, dram_station = 0;
  for (int it = 0; it < 64; ++it) {
    // ρ: the other traffic's time over the kernel's, the cycle's time over the wave efficiency.
    const double t = throughput > 0 ? 1.0 / throughput / x.wave_efficiency : 0.0;
    const auto busy_frac = [t](double other) { return t > 0 ? std::min(0.99, other / t) : 0.0; };
    const double wait_dram_inflated = wait_dram / (1 - busy_frac(other_dram));
    dram_station = wait_dram > 0 ? std::max(wait_dram_inflated * x.wave_efficiency, miss_port) : 0.0;
    x.wait_mem_s = dram_station + wait_l2 / (1 - busy_frac(other_l2));
    const double demands[] = {x.gemm_s, x.softmax_s, x.wait_mem_s};
    const double next = cycle_throughput(demands, x.overlap_jobs, x.delay_s);
    const bool settled = std::abs(next - throughput) <= 1e-9 * next;
    throughput = next;
    if (settled || x.wait_mem_s == 0) break;
  }
  const bool port_bound = dram_station > 0 && dram_station <= miss_port;  // the SM's L2 port set the station
  const bool smem_floor = smem_apart && x.smem_s * throughput > 1;
  if (smem_floor) throughput = 1 / x.smem_s;
  x.utilization = x.gemm_s > 0 && throughput > 0 ? std::min(1.0, throughput * x.gemm_s) : 1.0;
  const double busy = throughput > 0 ? 1.0 / throughput : 0.0;
  // Residency waves. The busiest SM holds n = ceil(CTAs / SMs) CTAs, r = ctas_per_sm at a time. The
  // cycle above overlaps r CTAs' jobs throughout; where n > r and m = n mod r > 0, the CTAs of its
  // last residency wave start when the full waves have drained (equal CTAs finish together) and
  // overlap only each other: m CTAs' jobs, X(m) (a CTA alone runs its GEMM, softmax and waits in
  // series). Per CTA the full waves take busy / avg, avg = CTAs / SMs being the CTAs the cycle's
  // totals describe, and the last wave's m CTAs busy_m / avg, busy_m = 1 / X(m): the SM's time is
  // ((n - m) busy + m busy_m) / avg, which is busy / wave efficiency when X(m) = X(r) (a kernel
  // bound by a pipe) and up to (n - m + r) / n times it when the waits bind (X(m) = m / cycle).
  // The dynamic block scheduler gives the same quantization: after the full waves the remaining
  // CTAs land one per SM with free slots first. A grid resident at launch (n <= r) is the cycle
  // above as it is (its jobs are min(r, n) CTAs').
  double sm_busy = x.wave_efficiency > 0 ? busy / x.wave_efficiency : 0.0;
  {
    const double avg = k.ctas.d() / static_cast<double>(k.launches) / dev.sm_count;
    const double n = std::ceil(avg), r = static_cast<double>(k.ctas_per_sm);
    const double m = r >= 1 && n > r ? n - r * std::floor(n / r) : 0.0;
    if (m > 0 && busy > 0) {
      const double jobs = m * static_cast<double>(k.jobs_per_cta) * sub_share;
      // An issue-held mma.sync keeps one job; with one job per sub-partition nothing fills its
      // ldmatrix waits, with two the shared-memory pipe runs apart (its floor as above).
      const double demands[] = {gemm_with(jobs), x.softmax_s, x.wait_mem_s};
      double last = cycle_throughput(demands, issue_held ? 1.0 : std::max(1.0, jobs), x.delay_s);
      if (apart_with(jobs) && x.smem_s * last > 1) last = 1 / x.smem_s;
      if (last > 0) {
        x.last_wave_ctas = m;
        x.last_wave_s = m / last / avg;
        sm_busy = (n - m) * busy / avg + x.last_wave_s;
      }
    }
  }
  // Pipeline fill (FlashAttention-3 Alg. 2 lines 3-6, FlashAttention-2 Alg. 1 lines 4-10): each CTA
  // waits for its first tiles (the DRAM latency) and runs its first softmax with no GEMM of its own
  // to overlap; the other CTAs resident on the SM run meanwhile, so an SM pays it per CTA over its
  // resident CTAs.
  if (k.block_iters.v != 0 && k.ctas.v != 0) {
    const double ctas = k.ctas.d();
    // A kernel with no GEMM has no GEMM to overlap its first softmax with: the cycle above already
    // charges all of its softmax.
    const double first_softmax = x.gemm_s > 0 ? x.softmax_s * dev.sm_count / k.block_iters.d() : 0.0;
    // A serial epilogue (FlashAttention-3's, hopper/epilogue_fwd.hpp): O written to shared memory
    // at the SM's rate, its normalize-and-convert instructions on the SM's FP32 pipe, and the
    // named barriers every consumer warp meets, with no MMA under them.
    if (k.epilogue_smem_bytes.v != 0 || k.epilogue_fp32_instr.v != 0 || k.epilogue_barriers != 0) {
      const double sm_clock = dev.clock_hz * clock;
      const double barrier = dev.barrier_latency_cycles + dev.barrier_cycles_per_warp * static_cast<double>(k.mma_warps);
      x.epilogue_s = k.epilogue_smem_bytes.d() / (dev.sram_bytes_per_s * clock / dev.sm_count) +
                     k.epilogue_fp32_instr.d() / (dev.fp32_lane_rate() * clock / dev.sm_count) +
                     k.epilogue_barriers * barrier / sm_clock;
    }
    const double per_cta = first_softmax + dev.dram_latency_s + x.epilogue_s;
    x.fill_s = ctas / dev.sm_count * per_cta / std::max<double>(1.0, per_sm_ctas);
  }
  // Causal tail: the heaviest CTA (the last launched, under a causal mask with ascending Q blocks)
  // cannot start before the work launched ahead of it has drained (the quantized compute time T less
  // its own share and that of the CTAs launched after it), then runs alone on its SM as one job, its
  // GEMM and softmax phases in series: makespan = max(T, T - share + solo); solo is already one
  // SM's time, so the tail is added after the wave division, not divided with it. Where the whole
  // grid is resident at launch (one wave), every CTA starts at once: the heaviest finishes at its
  // solo time, so makespan = max(T, solo). Two candidates (alt_*): the larger tail counts.
  const bool one_wave = k.ctas.d() <= static_cast<double>(dev.sm_count) * static_cast<double>(k.ctas_per_sm);
  struct Tail {
    double solo = 0, share = 0;
    double at(double t) const { return std::max(0.0, solo - t * share); }
  } tails[2];
  if (k.last_cta_iters.v != 0 && k.block_iters.v != 0) {
    // Alone on its SM the last CTA has no other warp to fill its ldmatrix waits (rule 2).
    const double per_iter = (gemm_with(1) + x.softmax_s + x.wait_mem_s) * dev.sm_count / k.block_iters.d() + x.iter_wait_s;
    const Count iters[2] = {k.last_cta_iters, k.alt_last_cta_iters}, after[2] = {k.last_cta_after_iters, k.alt_last_cta_after_iters};
    for (int i = 0; i < 2; ++i) {
      if (iters[i].v == 0) continue;
      tails[i].solo = iters[i].d() * per_iter;
      tails[i].share = one_wave ? 1.0 : std::min(1.0, (iters[i] + after[i]).d() / k.block_iters.d());
    }
  }
  const auto tail = [&tails](double t) { return std::max(tails[0].at(t), tails[1].at(t)); };
  // Prefetched tiles: each of the CTA's load buffers (impl.hpp load_buffers) is filled and then
  // consumed by the SM, so the buffers of the SM's resident CTAs circulate between the SM (demand:
  // the busy time above) and the memory that fills them: the SM's share of DRAM for the prefetched
  // misses (those not already waited on in the cycle) and the SM's share of the L2 for the
  // prefetched hits (tiles another CTA brought in: FlashAttention's K/V re-reads), each with the
  // writes at that level as an open class that leaves the reads 1 - ρ of it (Lazowska et al. 1984
  // §7.4, as for the waited loads). A miss is served at DRAM, whose pipelined L2 pass it hides; a
  // hit at the L2 alone. Mean value analysis again; with many buffers it tends to the fluid bound
  // max(SM, DRAM, L2), and with few it charges what double buffering cannot hide when they are
  // close (short sequences, FP8, FlashAttention-3's causal d = 256, which draws about 80 % of the
  // L2's rate). DRAM's service is taken as exponential (refresh, bank and row conflicts; the
  // deterministic form was tried on 2026-12-04 and not kept, docs/model.md rule 2); an L2 hit's is
  // a tile's bytes at a fixed rate, deterministic (cv² = 0: an arrival waits half the tile in
  // service, cycle_throughput).
  // The SM's side is quantized into waves, DRAM and the L2 are the chip's (rule 5): the loop takes
  // the SM's demand over the wave efficiency and theirs as they are.
  x.tail_s = tail(sm_busy);
  x.compute_s = sm_busy + x.fill_s / x.wave_efficiency + x.tail_s;
  if (k.load_buffers != 0 && k.block_iters.v != 0 && busy > 0) {
    const double sm = sm_busy;
    const double reads = std::max(0.0, k.hbm_read.d() / dev.sustained_hbm_rate() - wait_dram);
    const double writes = k.hbm_write.d() / dev.sustained_hbm_rate();
    const double prefetched_l2 = k.l2_read.d() - k.sync_l2_read.d(), prefetched_dram = k.hbm_read.d() - k.sync_hbm_read.d();
    const double hits = std::max(0.0, prefetched_l2 - std::max(0.0, prefetched_dram)) / dev.l2_rate();
    const double l2_writes = k.l2_write.d() / dev.l2_rate();
    const double buffers = std::max(1.0, per_sm_ctas * static_cast<double>(k.load_buffers));
    static constexpr double kLoopServiceCv2[] = {1.0, 1.0, 0.0};  // SM, DRAM (exponential); L2 hits (deterministic)
    double t = std::max(sm, reads + writes), dram = reads, l2 = hits;
    for (int it = 0; it < 64 && (reads > 0 || hits > 0); ++it) {
      dram = reads / (1 - std::min(0.99, writes / t));
      l2 = hits / (1 - std::min(0.99, l2_writes / t));
      const double d[] = {sm, dram, l2};
      const double next = 1.0 / cycle_throughput(d, kLoopServiceCv2, buffers, 0);
      const bool settled = std::abs(next - t) <= 1e-9 * next;
      t = next;
      if (settled) break;
    }
    x.loop_s = std::max(sm, t);
    x.loop_dram_s = dram;
    x.loop_l2_s = l2;
    x.loop_sm_s = sm;
    x.tail_s = tail(x.loop_s);
    x.compute_s = x.loop_s + x.fill_s / x.wave_efficiency + x.tail_s;
  }
  // Chip-wide levels at their sustained rates.
  const double hbm_rate = dev.sustained_hbm_rate();
  const double hbm_bytes = (k.hbm_read + k.hbm_write).d();
  x.hbm_s = hbm_bytes / hbm_rate;
  x.l2_s = (k.l2_read + k.l2_write).d() / dev.l2_rate();
  x.link_s = dev.nvlink_bytes_per_s > 0 ? k.link_bytes.d() / dev.nvlink_bytes_per_s : 0;
  // Little's law: resident CTAs x bytes each keeps in flight / DRAM latency caps the bandwidth of
  // the reads (stores are posted: nothing waits on them, so they keep nothing in flight). The
  // latency is the one a load sees while DRAM carries this kernel's reads at that rate and its
  // writes in proportion (Device::loaded_dram_latency_s: the unloaded latency plus the queue
  // measured by a streaming kernel), so the read rate r solves r = in flight / latency(r (1 + W/R)),
  // W/R the kernel's DRAM bytes written per byte read; the curves are piecewise linear, so
  // Device::inflight_read_rate solves it exactly on the segment where it lies.
  if (k.inflight_bytes.v != 0 && dev.dram_latency_s > 0 && k.hbm_read.v != 0) {
    const double resident = std::min(k.ctas.d() / static_cast<double>(k.launches),
                                     static_cast<double>(dev.sm_count) * static_cast<double>(k.ctas_per_sm));
    const double inflight = resident * k.inflight_bytes.d();
    const double write_per_read = k.hbm_write.d() / k.hbm_read.d();
    const double rate = dev.inflight_read_rate(inflight, write_per_read);
    x.inflight_latency_s = inflight / rate;
    x.latency_s = k.hbm_read.d() / rate;
  }
  x.launch_s = static_cast<double>(k.launches) * dev.launch_overhead_s;
  struct Term { double t; Bound b; };
  // The waits name the time when they are the longest station: latency, not a pipe.
  const double longest_pipe = std::max(x.gemm_s, x.softmax_s);
  // The loop's larger station names it: DRAM when the prefetched reads outweigh the SM's work.
  const Bound sm_pipe = x.loop_s > 0 && x.loop_l2_s > std::max(x.loop_sm_s, x.loop_dram_s) ? Bound::l2
                        : x.loop_s > 0 && x.loop_dram_s > x.loop_sm_s ? Bound::hbm
                        : x.wait_mem_s > longest_pipe && x.wait_mem_s >= x.delay_s
                            ? (2 * dram_station >= x.wait_mem_s && !port_bound ? Bound::hbm : Bound::l2)
                        : x.delay_s > longest_pipe ? Bound::latency
                        : smem_floor ? Bound::smem
                        : x.gemm_s >= x.softmax_s ? (x.tensor_s >= x.smem_s ? Bound::tensor : Bound::smem)
                                                  : (x.mufu_s >= x.fp32_s ? Bound::mufu : Bound::fp32);
  const Term terms[] = {{x.compute_s, sm_pipe}, {x.hbm_s, Bound::hbm}, {x.l2_s, Bound::l2}, {x.link_s, Bound::link},
                        {x.latency_s, Bound::latency}};
  Term top = terms[0];
  for (const Term& t : terms) {
    if (t.t > top.t) top = t;
  }
  x.time_s = top.t + x.launch_s;
  x.bound = x.launch_s > top.t ? Bound::launch : top.b;
}

// A load waited on where it is issued (IterWaits::dram_reads) sees DRAM as loaded as the kernel
// keeps it: the unloaded latency plus the queue a streaming kernel measured at the same utilization
// and read/write mix (Device::loaded_dram_latency_s, the curves the in-flight cap uses). The
// utilization is the kernel's own DRAM bytes over its time, which the latency lengthens: the latency
// L solves L = latency(DRAM bytes / time(L)), the right side falling as L rises, so one root, found
// by bisection between the unloaded latency and the latency at full load.
void exec_kernel(KernelCost& k, const Device& dev, const Workload& w) {
  const double unloaded = dev.dram_latency_s;
  const double bytes = (k.hbm_read + k.hbm_write).d();
  const double write_share = bytes > 0 ? k.hbm_write.d() / bytes : 0.0;
  // The latency the kernel's loads see when each is taken to cost `latency` (k.exec is left at it).
  const auto seen = [&](double latency) {
    exec_kernel_at(k, dev, w, latency);
    const double t = k.exec.time_s - k.exec.launch_s;
    return t > 0 ? dev.loaded_dram_latency_s(bytes / t, write_share) : unloaded;
  };
  if (k.waits.dram_reads == 0 || bytes <= 0 || dev.dram_queue_read.empty() || dev.dram_queue_copy.empty()) {
    exec_kernel_at(k, dev, w, unloaded);
    return;
  }
  double lo = unloaded, hi = dev.loaded_dram_latency_s(dev.sustained_hbm_rate(), write_share);
  if (seen(lo) <= lo) return;  // no queue at the unloaded latency: k.exec is already there
  for (int it = 0; it < 40 && hi - lo > 1e-4 * lo; ++it) {
    const double mid = 0.5 * (lo + hi);
    (seen(mid) > mid ? lo : hi) = mid;
  }
  exec_kernel_at(k, dev, w, 0.5 * (lo + hi));
}

void apply_exec(Prediction& pr, const Device& dev, u64 layers) {
  const Workload& w = pr.workload;
  const double n = static_cast<double>(layers);
  double longest = -1;
  for (int i = 0; i < pr.kernel_count(); ++i) {
    KernelCost& k = pr.kernels[i];
    if (w.impl->ideal) {
      // The roofline per kernel (apply_roofline), recorded in the same fields.
      static constexpr Bound kBoundOf[kCeilingCount] = {Bound::tensor, Bound::fp32, Bound::mufu, Bound::hbm,
                                                        Bound::l2,     Bound::smem, Bound::link};
      k.exec = {};
      k.exec.wave_efficiency = wave_efficiency(k, dev);
      k.exec.launch_s = static_cast<double>(k.launches) * dev.launch_overhead_s;
      k.exec.compute_s = k.roofline_s;
      k.exec.time_s = k.roofline_s + k.exec.launch_s;
      k.exec.bound = k.exec.launch_s > k.roofline_s ? Bound::launch : kBoundOf[static_cast<int>(k.roofline_ceiling)];
    } else {
      exec_kernel(k, dev, w);
    }
    pr.predicted_time_s += k.exec.time_s * n;
    pr.launch_time_s += k.exec.launch_s * n;
    pr.bound_time_s[static_cast<int>(k.exec.bound)] += k.exec.time_s * n;
    if (k.exec.time_s > longest) {
      longest = k.exec.time_s;
      pr.wave_efficiency = k.exec.wave_efficiency;
    }
  }
  int best = 0;
  for (int b = 1; b < static_cast<int>(pr.bound_time_s.size()); ++b) {
    if (pr.bound_time_s[b] > pr.bound_time_s[best]) best = b;
  }
  pr.bound = static_cast<Bound>(best);
}

}  // namespace

namespace detail {
double kernel_time_s(const KernelCost& k, const Device& dev, const Workload& w) {
  KernelCost copy = k;
  exec_kernel(copy, dev, w);
  return copy.exec.time_s;
}
}  // namespace detail

KernelCost::Exec profiled_kernel(const KernelCost& k, const Device& dev, const Workload& w) {
  if (w.impl != nullptr && w.impl->ideal) {
    KernelCost::Exec x = k.exec;
    x.launch_s = 0;
    x.time_s = k.roofline_s;
    return x;
  }
  KernelCost cold = k;
  if (cold.l2_reads_inherited) {
    cold.waits.dram_reads += cold.waits.l2_reads;
    cold.waits.l2_reads = 0;
    // What those waits read now comes from DRAM, and counts in the kernel's own DRAM load.
    if (cold.sync_l2_read > cold.sync_hbm_read) cold.hbm_read += cold.sync_l2_read - cold.sync_hbm_read;
    cold.sync_hbm_read = cold.sync_l2_read;
  }
  Device no_launch = dev;  // the profiler times the kernel on the GPU, not its launch
  no_launch.launch_overhead_s = 0;
  exec_kernel(cold, no_launch, w);
  return cold.exec;
}

std::string_view to_string(Bound b) {
  switch (b) {
    case Bound::tensor: return "tensor";
    case Bound::mufu: return "mufu";
    case Bound::fp32: return "fp32";
    case Bound::smem: return "smem";
    case Bound::l2: return "l2";
    case Bound::hbm: return "hbm";
    case Bound::link: return "nvlink";
    case Bound::latency: return "latency";
    case Bound::launch: return "launch";
  }
  return "?";
}

Ceiling ceiling_of(Bound b, Ceiling otherwise) {
  switch (b) {
    case Bound::tensor: return Ceiling::tensor;
    case Bound::mufu: return Ceiling::sfu;
    case Bound::fp32: return Ceiling::fp32;
    case Bound::smem: return Ceiling::sram;
    case Bound::l2: return Ceiling::l2;
    case Bound::hbm: case Bound::latency: return Ceiling::hbm;
    case Bound::link: return Ceiling::link;
    case Bound::launch: return otherwise;
  }
  return otherwise;
}

std::string_view to_string(Ceiling c) {
  switch (c) {
    case Ceiling::tensor: return "tensor";
    case Ceiling::fp32: return "fp32";
    case Ceiling::sfu: return "sfu";
    case Ceiling::hbm: return "hbm";
    case Ceiling::l2: return "l2";
    case Ceiling::sram: return "sram";
    case Ceiling::link: return "nvlink";
  }
  return "?";
}

Count sum_clamped(std::uint64_t n, std::int64_t c, std::uint64_t k) {
  const i128 N = n, C = c, K = k;
  // Terms are 0 while r + c <= 0, r + c while 0 < r + c < k, and k after.
  const i128 ra = std::min<i128>(N, std::max<i128>(0, 1 - C));
  const i128 rb = std::min<i128>(N, std::max<i128>(ra, K - C));
  const i128 rising = (rb - ra) * C + (ra + rb - 1) * (rb - ra) / 2;
  const i128 total = rising + (N - rb) * K;
  if (total < 0 || total > static_cast<i128>(UINT64_MAX)) Count::overflow();
  return static_cast<std::uint64_t>(total);
}

BlockSizes flash_block_sizes(std::uint64_t sram_bytes, std::uint64_t elem_bytes, std::uint64_t head_dim) {
  const u64 m = sram_bytes / elem_bytes;  // M in elements
  const u64 bc = ceil_div(m, 4 * head_dim);
  return {min_u(bc, head_dim), bc};
}


bool Prediction::memory_bound() const {
  switch (bound) {
    case Bound::smem: case Bound::l2: case Bound::hbm: case Bound::link: case Bound::latency: return true;
    case Bound::tensor: case Bound::mufu: case Bound::fp32: case Bound::launch: return false;
  }
  return false;
}

Count memory_footprint_bytes(const Prediction& p) {
  const Workload& w = p.workload;
  const Count activations = Count(w.batch) * w.query_len() * w.heads * (w.head_dim + w.v_head_dim) * dtype_bytes(w.dtype);
  return p.kv_cache_bytes + p.extra_memory_bytes + activations;
}

bool fits_in_hbm(const Prediction& p, const Device& device) {
  return memory_footprint_bytes(p).d() <= device.hbm_capacity_bytes;
}

std::string params_text(const Prediction& p) {
  const VariantDescriptor& v = *p.workload.variant;
  return v.params_text ? v.params_text(p) : std::string();
}

Prediction predict_gemm(const Device& device, Dtype dtype, std::uint64_t m, std::uint64_t n, std::uint64_t k,
                        std::uint64_t count) {
  Prediction out;
  out.workload.variant = parse_variant("standard");
  out.workload.dtype = dtype;
  out.workload.sram_bytes = static_cast<std::uint64_t>(device.smem_bytes_per_sm);
  out.workload.compute_capability = static_cast<int>(device.compute_capability);
  out.workload.impl = device.compute_capability > 0 ? &find_impl("pytorch") : &ideal_impl();
  out.workload.layers = count;
  if (m == 0 || n == 0 || k == 0) return out;
  Evaluator ev(device, out.workload, out);
  gemm(ev, "gemm", 1, m, n, k, dtype_bytes(dtype));
  KernelCost& kc = out.kernels[0];
  // A grid smaller than the SMs (decode: m = batch) is split along K so every SM streams part of
  // the weight (cuBLASLt's split-K algorithms, CUBLASLT_ALGO_CONFIG_SPLITK_NUM); the fewest splits
  // that fill the SMs, each a K slice of at least 32, with fp32 partial tiles written and reduced.
  const u64 sms = static_cast<u64>(device.sm_count);
  if (kc.ctas.v < sms) {
    const u64 splits = std::min<u64>(ceil_div(sms, kc.ctas.v), std::max<u64>(1, k / traits::kGemmTileK));
    if (splits > 1) {
      kc.ctas = kc.ctas * splits;
      const Count partial = Count(m) * n * kStatBytes * splits;
      kc.l2_write += partial;
      kc.l2_read += partial;  // the reduction reads them back (L2-resident: small)
    }
  }
  add_kernel_totals(out, count);
  out.impl = out.workload.impl;
  apply_roofline(out, device, count);
  apply_exec(out, device, count);
  return out;
}

Prediction predict(const Device& device, const Workload& input) {
  const Workload w = resolve(input, device);
  validate(w, device);
  Prediction out;
  out.workload = w;
  Evaluator ev(device, out.workload, out);
  w.variant->evaluate(ev);
  add_grad_accumulation(ev, w);
  add_dirty_l2_writebacks(out, device, w.layers);

  add_kernel_totals(out, w.layers);
  out.kv_cache_bytes = w.variant->cache_bytes ? w.variant->cache_bytes(w) : kv_cache_bytes(w);
  out.io_complexity = w.variant->io_complexity(w);
  const Count hbm = out.hbm_bytes();
  out.arithmetic_intensity = hbm.v == 0 ? 0.0 : out.flops().d() / hbm.d();
  out.impl = w.impl;
  apply_roofline(out, device, w.layers);
  apply_exec(out, device, w.layers);
  return out;
}

}  // namespace attnio
