// Evaluation: a device and a workload in, a Prediction out: FLOPs per execution unit, bytes per
// memory level, arithmetic intensity, the binding roofline ceiling and the predicted time.
//
// Memory levels, and which count is which:
//   l2_*   bytes crossing the SM <-> L2 boundary: every tile a kernel loads or stores. This is what
//          the FlashAttention papers call "HBM accesses" (their two-level SRAM/HBM model).
//   hbm_*  DRAM bytes: the l2 traffic after L2 reuse. Compulsory traffic always reaches DRAM;
//          re-reads (and re-writes) hit in L2 when the working set of the CTAs resident at the same
//          time fits in L2, and miss in proportion to the excess when it does not
//          (docs/model.md, "Bytes per memory level"). With Workload::l2 = false, hbm_* equals l2_*.
//   sram_* shared-memory traffic: tiles staged in (writes) and read out by the warps that use them.
#pragma once

#include <array>
#include <boost/container/static_vector.hpp>
#include <span>
#include <cstdint>
#include <string>
#include <string_view>

#include "attnio/model/count.hpp"
#include "attnio/model/device.hpp"
#include "attnio/model/impl.hpp"
#include "attnio/model/workload.hpp"

namespace attnio {

enum class Ceiling { tensor, fp32, sfu, hbm, l2, sram, link };
inline constexpr int kCeilingCount = 7;
std::string_view to_string(Ceiling c);
inline bool is_memory_ceiling(Ceiling c) { return c >= Ceiling::hbm; }

// What sets a kernel's time under the execution model (docs/model.md "Time"): a pipe of the SM
// (tensor issue, MUFU, FP32 issue, shared memory), a chip-wide memory level, the link, too few bytes
// in flight for the DRAM latency (Little's law), or the launch itself.
enum class Bound { tensor, mufu, fp32, smem, l2, hbm, link, latency, launch };
std::string_view to_string(Bound b);
// The roofline ceiling a bound belongs to (latency: hbm; launch: `otherwise`).
Ceiling ceiling_of(Bound b, Ceiling otherwise);

// The cost of one kernel launch (or of `launches` identical ones) for one layer.
// The cost of one kernel for one layer, summed over its `launches` (chunked attention launches one
// kernel per chunk pair; ring attention one per step).
struct KernelCost {
  std::string_view name;
  Count tensor_flops, fp32_flops, sfu_ops;
  Count hbm_read, hbm_write, l2_read, l2_write, sram_read, sram_write, link_bytes;
  Count ctas = 1;
  std::uint64_t ctas_per_sm = 1;
  std::uint64_t launches = 1;

  // For the execution model, set by the variant from the implementation profile's traits.
  MmaPath mma = MmaPath::native;
  std::uint64_t mma_warps = 4;  // warps per CTA issuing MMAs and softmax
  std::uint64_t jobs_per_cta = 1;  // warp groups per CTA not locked together by barriers (impl.hpp)
  std::uint64_t load_buffers = 0;  // tile buffers per CTA its prefetching loads fill (impl.hpp); 0: no loop
  std::uint64_t registers = 0;     // per thread, from the compiler's report where known
  // Per thread at least, where no report is known: the tile's live accumulators (impl.hpp
  // live_accumulator_registers); 0 where not derived.
  std::uint64_t live_registers = 0;
  Count fp32_instr;             // FP32-pipe lane instructions; 0: fp32_flops / 2 (FMA-counted)
  // Lane instructions issued besides the FP32 pipe's and MUFU's (conversions, integer, compare,
  // loads and stores), where a kernel's count is known: they take issue slots beside the FP32 pipe's.
  Count other_instr;
  // The part of other_instr the ALU pipe runs (FMNMX, ISETP, SEL/FSEL, the F2FP packs: the
  // softmaxes' and masks' counts, flash.cpp): 16 lanes a partition, a floor of its own.
  Count alu_instr;
  Count mask_instr;  // the part of alu_instr a mask's compare and select make (flash.cpp mask_instr)
  // Work the pipes issue, padding and masked scores included (an MMA tile computes every row and
  // column of its block); 0: the useful counts tensor_flops and sfu_ops.
  Count tensor_issue, sfu_issue;
  // Main-loop iterations (one Q block against one K/V block) over all CTAs; 0: not a tiled loop.
  // Each CTA's first iteration cannot overlap its softmax with a GEMM, and waits for its first tiles.
  Count block_iters;
  // Iterations of the heaviest CTA under a mask (causal, ascending Q blocks: the one launched
  // last): it starts once the work launched ahead of it has drained and runs on alone after the
  // others finish. 0: no such tail.
  Count last_cta_iters;
  // Iterations of the CTAs launched after the heaviest one (0: it is launched last): its share of
  // the kernel's time includes them.
  Count last_cta_after_iters;
  // A second candidate for the tail where two CTAs may finish last (FlexAttention's backward: the
  // first key block's dK/dV program and the last query block's dQ program); the larger tail counts.
  Count alt_last_cta_iters, alt_last_cta_after_iters;
  Count inflight_bytes;         // bytes one CTA keeps in flight from DRAM (its async tile stages); 0: no cap
  // A serial epilogue per CTA (impl.hpp serial_epilogue): shared-memory bytes written, FP32-pipe
  // instructions and barriers between one tile's last MMA and the next's first.
  Count epilogue_smem_bytes, epilogue_fp32_instr;
  std::uint32_t epilogue_barriers = 0;
  IterWaits waits;              // latencies one CTA waits out per main-loop iteration (impl.hpp)
  // Its waited L2 reads are of data an earlier kernel left in L2 (split-KV's partial results):
  // a profiler that flushes the caches before the kernel (profiled_kernel) serves them from DRAM.
  bool l2_reads_inherited = false;
  // Bytes a CTA loads and then waits on in the iteration that issues them (not prefetched), through
  // L2 and from DRAM: they put the memory in the job's cycle (docs/model.md "Time", rule 2).
  Count sync_l2_read, sync_hbm_read;

  // The roofline's time for this kernel (slowest ceiling at datasheet peaks, no launch) and that ceiling.
  double roofline_s = 0;
  Ceiling roofline_ceiling = Ceiling::tensor;

  // Results of the execution model, per launch set and layer.
  struct Exec {
    double tensor_s = 0, smem_s = 0, mufu_s = 0, fp32_s = 0;  // per-SM pipe busy times
    double alu_s = 0;  // the ALU pipe's (alu_instr over its 16 lanes a partition), a floor on fp32_s
    double gemm_s = 0, softmax_s = 0;   // x1 = max(tensor, smem), x2 = mufu + fp32
    double overlap_jobs = 1;            // independent warps per SM sub-partition (k)
    double iter_wait_s = 0;             // latency one CTA waits out per iteration (barriers, reads)
    double delay_s = 0;                 // z: iter_wait_s over the iterations an SM runs
    double wait_mem_s = 0;              // x3: the waited-on loads at the SM's share of L2 and DRAM
    double utilization = 1;             // of the GEMM phase under the overlap rule
    double loop_s = 0;                  // the SM's work (over the wave efficiency) and its prefetched DRAM reads as a closed loop (0: none)
    double loop_sm_s = 0, loop_dram_s = 0;  // the loop's SM and DRAM demands (DRAM's inflated by the writes)
    double loop_l2_s = 0;               // its L2 station: the prefetched tiles that hit in L2 (inflated by the L2 writes)
    double compute_s = 0;               // (x1 / U + fill) over the wave efficiency, or the loop + fill over it; + tail
    double fill_s = 0;                  // per-CTA pipeline fill: first tiles' latency and first softmax, and a serial epilogue
    double epilogue_s = 0;              // of that, one CTA's serial epilogue
    double tail_s = 0;                  // the heaviest CTA running on alone after the rest (rule 4)
    double hbm_s = 0, l2_s = 0, link_s = 0, latency_s = 0, launch_s = 0;
    double inflight_latency_s = 0;      // the loaded DRAM latency the in-flight cap (latency_s) ran at
    double wait_dram_latency_s = 0;     // the loaded DRAM latency each waited DRAM load in iter_wait_s took
    double wave_efficiency = 1;
    // The busiest SM's last residency wave (rule 5): m = ceil(CTAs / SMs) mod CTAs/SM CTAs run
    // after its full waves with only each other to overlap, taking last_wave_s (0: none).
    double last_wave_ctas = 0, last_wave_s = 0;
    double time_s = 0;                  // max(compute, memory) + launch
    Bound bound = Bound::tensor;
  } exec;
};

struct Prediction {
  Workload workload;  // resolved: every default filled in

  Count tensor_flops, fp32_flops, sfu_flops;
  Count hbm_read_bytes, hbm_write_bytes;
  Count l2_read_bytes, l2_write_bytes;
  Count sram_read_bytes, sram_write_bytes;
  Count link_bytes;
  Count extra_memory_bytes;  // materialized intermediates: S and P, statistics, partial outputs, states
  Count kv_cache_bytes;      // K/V (or state) cache held for batch x kv-len tokens over all layers

  Count flops() const { return tensor_flops + fp32_flops + sfu_flops; }
  Count hbm_bytes() const { return hbm_read_bytes + hbm_write_bytes; }
  Count l2_bytes() const { return l2_read_bytes + l2_write_bytes; }
  Count sram_bytes() const { return sram_read_bytes + sram_write_bytes; }

  double arithmetic_intensity = 0;  // FLOPs per HBM byte
  Ceiling binding_ceiling = Ceiling::hbm;
  // Under the execution model: the time is set by a memory level (shared memory, L2, HBM, the link)
  // or by too few bytes in flight, not by an SM pipe or the launch.
  bool memory_bound() const;
  double predicted_time_s = 0;
  std::array<double, kCeilingCount> ceiling_time_s{};  // summed over kernels and layers
  double launch_time_s = 0;
  Count launches;
  Count ctas;
  double wave_efficiency = 1;  // of the kernel that takes longest
  // The execution model's verdict for the whole prediction (the bound of the kernels holding the
  // most time) and the implementation it describes.
  Bound bound = Bound::tensor;
  std::array<double, 9> bound_time_s{};  // time of the kernels per Bound, summed over layers
  const ImplProfile* impl = nullptr;
  // Roofline time: slowest ceiling per kernel at datasheet peaks (`ideal`), for comparison.
  double roofline_time_s = 0;

  std::uint64_t block_m = 0, block_n = 0, splits = 0;
  std::uint64_t row_tile = 0;  // split-KV decode: query rows per CTA, padding included; 0: not set
  std::string_view io_complexity;
  // Variant-specific results shown in params_text().
  struct Extras {
    std::uint64_t pages_per_seq = 0;
    Count page_waste_bytes;  // paged: empty tails of last pages, all layers
    std::uint64_t fft_passes_hidden = 0, fft_passes_seq = 0;
    Count link_bytes_per_step;  // ring
    bool state_spills = false;  // linear: state does not fit in M
    std::uint64_t prefix_splits = 0;  // shared-prefix: splits of the prefix (chunk-first) kernel
  } extras;

  static constexpr int kMaxKernels = 24;  // PyTorch eager causal forward + backward: 19
  // The kernels one layer launches, in order. Only those launched are constructed: a fixed array of
  // kMaxKernels value-initialized KernelCosts (12 KB) was a tenth of an evaluation's time.
  boost::container::static_vector<KernelCost, kMaxKernels> kernels;
  int kernel_count() const { return static_cast<int>(kernels.size()); }
};

// Resolves, validates (InputError on bad input) and evaluates.
Prediction predict(const Device& device, const Workload& workload);

// `count` identical GEMMs C[m x n] = A[m x k] B[k x n] through cuBLAS (the `pytorch` profile's native
// MMA path; `ideal` on a device file without a compute capability), each on its own: the building
// block of the whole-model stack (projections, MLPs, experts, LM head). B is the weight.
Prediction predict_gemm(const Device& device, Dtype dtype, std::uint64_t m, std::uint64_t n, std::uint64_t k,
                        std::uint64_t count = 1);

// Device memory a workload needs at once: the K/V (or state) cache of every layer, what one layer
// materializes (S and P, statistics, partials), and the layer's queries and outputs
// (B·N·H·(d + dv)·e). Model weights are not part of a mixer's workload. A GPU whose HBM capacity is
// smaller cannot run it (`fits_in_hbm`).
Count memory_footprint_bytes(const Prediction& p);
bool fits_in_hbm(const Prediction& p, const Device& device);

// The variant's own parameters and results as "key=value" words, e.g. "window=4096".
std::string params_text(const Prediction& p);

// The GEMM phase's utilization when k independent jobs alternate a GEMM phase of mean length x1
// and a softmax phase of mean length x2 on one SM sub-partition and wait out a latency z per cycle
// (closed network of two queueing stations and a delay station, solved by mean value analysis; with
// z = 0 the product form 1 - r^k / Σ_{n=0..k} r^n, r = x2 / x1; docs/model.md "Time"). Exposed for tests.
double overlap_utilization(double x1, double x2, double k, double z = 0);
// The same network's throughput X(k) (cycles of the whole work per second) for up to four queueing
// stations with total demands `demands`, k jobs and a delay z: the work takes 1 / X(k).
double cycle_throughput(std::span<const double> demands, double k, double z);
// The same with each station's squared coefficient of variation of service (1: exponential, as
// above; 0: deterministic, an arrival waiting half the service in progress).
double cycle_throughput(std::span<const double> demands, std::span<const double> cv2, double k, double z);

// One kernel as Nsight Compute replays it (its default --cache-control all flushes every cache
// before each pass; gpu__time_duration spans the kernel on the GPU, not its launch from the host):
// the execution model's time less the launch overhead, with the waited loads of data an earlier
// kernel left in L2 (KernelCost::l2_reads_inherited, e.g. split-KV's partial results) coming from
// DRAM instead; under the ideal profile, the kernel's roofline time. What `attnio validate` holds a published kernel duration against:
// time_s is the duration (launch_s 0), bound what sets it.
KernelCost::Exec profiled_kernel(const KernelCost& k, const Device& device, const Workload& workload);

// The tensor rate an MMA path sustains on the device (datasheet peak x the device file's fraction
// for that path; the measured rate where `attnio ceilings` gave one): the implementation's roof.
double sustained_tensor_rate(const Device& device, MmaPath path, Dtype dtype);

// Σ_{r=0}^{n-1} clamp(r + c, 0, k): the number of (query, key) pairs a banded mask allows, summed in
// O(1). Exposed for tests.
Count sum_clamped(std::uint64_t n, std::int64_t c, std::uint64_t k);

// FlashAttention Alg. 1 block sizes: Bc = ceil(M / 4d), Br = min(ceil(M / 4d), d), with M the
// on-chip memory in elements (FlashAttention §3.1, Algorithm 1 line 1).
struct BlockSizes {
  std::uint64_t br, bc;
};
BlockSizes flash_block_sizes(std::uint64_t sram_bytes, std::uint64_t elem_bytes, std::uint64_t head_dim);

}  // namespace attnio
