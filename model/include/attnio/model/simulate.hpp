// The tile-level simulator: replays each kernel's tile schedule (the loop nest over tiles, with
// addresses) through per-SM SRAM, a shared L2 (L2Cache) and HBM.
//
// CTAs are issued to SMs in grid order, as many at a time as occupancy allows (SMs x CTAs per SM);
// the SM whose clock is furthest behind runs the next step of one of its CTAs, so CTAs interleave
// in time order and the L2 sees the sharing between the CTAs that are resident together. When a
// CTA finishes, the next one in grid order takes its slot. A step is one iteration of the kernel's
// loop: the tiles it loads and stores and the FLOPs it does; it costs its roofline time at the SM's
// share of every ceiling. A kernel ends when its last SM does, and no sooner than its L2 and DRAM
// bytes take at the device's full bandwidths (shared by all SMs).
//
// With the L2 off every request goes to DRAM, byte for byte, so the simulated HBM bytes equal the
// closed form's l2 bytes (tests/test_simulate.cpp checks every variant).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "attnio/model/predict.hpp"

namespace attnio {

// One tile access as the simulator replays it (SimOptions::on_access).
struct SimAccess {
  std::string_view kernel, tile;  // kernel name; tile name as the schedule gives it ("Q", "K", "O"...)
  std::uint64_t cta, sm, step;    // grid index, SM, loop iteration of that CTA
  std::uint64_t addr, bytes, rows, stride;  // rows of `bytes`, `stride` apart
  bool write;
  std::uint64_t hit_sectors, miss_sectors;  // L2 sectors (32 B) that hit / went to DRAM
  double sm_time_s;               // the SM's clock before the step
};

struct SimOptions {
  std::uint32_t l2_ways = 16;
  std::uint32_t l2_sample = 0;  // set sampling; 0 chooses one that keeps the run near a second
  std::string trace_out;        // per-step events (CSV), sampled by CTA when large
  std::string chrome_trace;     // CTAs on SMs, Chrome trace JSON for Perfetto
  bool check_bounds = false;    // tests: every tile must lie inside one tensor
  // Called for every tile access, unsampled, in simulated time order (the GUI's step-through).
  std::function<void(const SimAccess&)> on_access;
};

struct SimResult {
  Prediction formula;  // the closed form for the same workload and tiles
  Count hbm_read_bytes, hbm_write_bytes;
  Count l2_read_bytes, l2_write_bytes;  // requests reaching L2 (equal the formula's l2_* bytes)
  double l2_hit_rate = 0;               // of requested read sectors (writes allocate without a read)
  double time_s = 0;
  std::uint64_t ctas = 0, steps = 0;
  std::uint32_t l2_sample = 1;
  Count hbm_bytes() const { return hbm_read_bytes + hbm_write_bytes; }
};

// The simulator runs the kernels' real tiles (tile_traits.hpp) unless the workload gives
// --block-m/--block-n; the formula in the result uses the same tiles. Throws InputError for
// variants without a tile schedule (fnet, ring), tiles that do not fit in SRAM (naming the tile),
// a bad L2 shape, or an unwritable trace path.
SimResult simulate(const Device& device, const Workload& workload, const SimOptions& options);

// The L2 set sample --l2-sample 0 chooses for a run that reaches `est_lines` 128-byte lines: the
// smallest of 1, 7, 13, 31, ... 1021 that keeps the simulated line visits near 2^23.
std::uint32_t auto_l2_sample(std::uint64_t est_lines);
// What a simulation costs to run, in the closed form's on-chip (SRAM) tile bytes per layer: the
// simulator replays every tile access row by row, while its L2 is sampled. Campaigns deal points
// to shards by it (traces/campaign.hpp). On a 324-point sweep (README, "Running a campaign on a
// cluster") its rank correlation with the measured run time was 0.79 and Pearson's r 0.91, against
// 0.84 and 0.22 for the sampled L2 line visits. Throws as simulate() would for a variant without
// a schedule.
double simulation_work(const Device& device, const Workload& workload, const SimOptions& options);

// The workload simulate() evaluates: the kernel tiles filled in where the flash family needs them.
Workload with_kernel_tiles(Workload w);

}  // namespace attnio
