#include "attnio/model/explain.hpp"

#include <cmath>
#include <cstdio>
#include <string>

namespace attnio {

namespace {

std::string scaled_unit(double x, const char* const units[], int count, double step) {
  int i = 0;
  while (std::fabs(x) >= step && i + 1 < count) {
    x /= step;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, x >= 100 || i == 0 ? "%.0f %s" : "%.3g %s", x, units[i]);
  return buf;
}

std::string num(std::uint64_t v) { return std::to_string(v); }

std::string instr_count(double n) {
  static const char* const units[] = {"", "k", "M", "G", "T", "P"};
  std::string t = scaled_unit(n, units, 6, 1000.0);
  std::erase(t, ' ');  // "6.44G", "512"
  return t;
}

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

}  // namespace

std::string human_bytes(double bytes) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  return scaled_unit(bytes, units, 7, 1000.0);
}
std::string human_flops(double flops) {
  static const char* const units[] = {"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"};
  return scaled_unit(flops, units, 7, 1000.0);
}
std::string human_time(double s) {
  char buf[64];
  if (s < 1e-3) std::snprintf(buf, sizeof buf, "%.1f µs", s * 1e6);
  else if (s < 1) std::snprintf(buf, sizeof buf, "%.3g ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

std::string exec_text(const Device& dev, const Prediction& p) {
  const ImplProfile* impl = p.impl;
  const auto cycles = [](double c) { return c > 0 ? fmt("%.1f", c) + " cycles" : std::string("not given"); };
  const auto waits_text = [](const IterWaits& w) {
    std::string t;
    const auto part = [&](std::uint32_t n, const char* what) {
      if (n == 0) return;
      if (!t.empty()) t += " + ";
      t += num(n) + " " + what;
    };
    part(w.barriers, "barriers");
    part(w.smem_reads, "smem reads");
    part(w.l2_reads, "L2 loads");
    part(w.dram_reads, "DRAM loads");
    return t;
  };
  std::string out;
  if (impl == nullptr) return out;
  out += "\nimplementation: " + std::string(impl->key) + " (" + std::string(impl->name) + "): " + std::string(impl->summary) +
         "\n  sources: " + std::string(impl->sources) + "\n";
  if (impl->ideal) {
    out += "  rule: roofline: each kernel takes its slowest ceiling at datasheet peak (perfect overlap, peak issue)\n\n";
    return out;
  }
  out += "  rule: per kernel, GEMM phase x1 = max(tensor, smem) and softmax phase x2 = MUFU + FP32 (they serialize in a\n"
         "  warp), and the waits z a CTA has nothing to run under (barriers, dependent shared-memory reads, loads waited on\n"
         "  where issued); k independent warps per SM sub-partition overlap them as a closed queue (mean value analysis;\n"
         "  with z = 0, U = 1 - r^k / sum_{n=0..k} r^n, r = x2/x1); mma.sync on Hopper holds the issue (k = 1), and\n"
         "  with 2+ jobs (CTAs) per SM x1 = tensor and smem is a floor on the cycle; where the loads fill buffers\n"
         "  ahead, that work and the prefetched DRAM reads circulate as a second closed queue over the buffers (loop);\n"
         "  compute = x1/U (or the loop) + pipeline fill, over the wave efficiency, + the heaviest CTA's tail where it runs\n"
         "  on alone (causal); time = max(compute, HBM, L2, link,\n"
         "  bytes in flight / latency) + launch (docs/model.md, \"Time\")\n";
  const auto src = [&](double f, const char* key) {
    return f > 0 ? fmt("%.3f", f) + " (" + key + ")" : std::string("1 (no ") + key + " in the device file: datasheet)";
  };
  const bool fp8 = p.workload.dtype == Dtype::fp8;
  out += "  rates: tensor x " + (fp8 ? src(dev.fp8_mma_fraction, "fp8_mma_fraction") : "mma.sync " + src(dev.mma_sync_fraction, "mma_sync_fraction") +
         ", wgmma " + src(dev.wgmma_fraction, "wgmma_fraction")) +
         (dev.locked_clock_hz > 0
              ? "; SM clock locked at " + fmt("%.0f", dev.locked_clock_hz / 1e6) + " MHz (" +
                    fmt("%.3f", dev.locked_clock_hz / dev.clock_hz) + " x " + fmt("%.0f", dev.clock_hz / 1e6) +
                    (dev.sustained_clock_fraction > 0 ? "; the tensor fractions per clock, over sustained_clock_fraction)"
                                                      : "; the tensor fractions as given, per clock)")
              : "; SM clock x " + src(dev.sustained_clock_fraction, "sustained_clock_fraction")) +
         "; HBM " +
         (dev.measured.hbm_bytes_per_s ? human_bytes(*dev.measured.hbm_bytes_per_s) + "/s (measured)"
          : dev.achievable_hbm_bytes_per_s > 0 ? human_bytes(dev.achievable_hbm_bytes_per_s) + "/s (sustained, measured by a streaming benchmark)"
                                                : human_bytes(dev.hbm_bytes_per_s) + "/s (datasheet)") +
         "; DRAM latency " + (dev.dram_latency_s > 0 ? human_time(dev.dram_latency_s) : std::string("not given")) +
         (dev.dram_latency_s > 0 ? (dev.dram_queue_read.empty() || dev.dram_queue_copy.empty() ? std::string(" (unloaded; no queue curve in the device file)")
                                                                 : std::string(" unloaded, plus the queue at the kernel's DRAM load (dram_queue_read, dram_queue_copy)"))
                                 : std::string()) +
         "; latency: barrier " +
         (dev.barrier_latency_cycles > 0 ? fmt("%.0f", dev.barrier_latency_cycles) + " + " + fmt("%.0f", dev.barrier_cycles_per_warp) + " x warps cycles"
                                         : std::string("not given")) +
         ", shared memory " + cycles(dev.smem_latency_cycles) + ", L2 " + cycles(dev.l2_latency_cycles) + "\n";
  for (int i = 0; i < p.kernel_count(); ++i) {
    const KernelCost& k = p.kernels[i];
    const KernelCost::Exec& x = k.exec;
    out += "  " + std::string(k.name) + " [" + std::string(to_string(k.mma)) + ", " + num(k.mma_warps) + " warps, " +
           (k.registers != 0 ? num(k.registers) + " registers (compiler report), "
            : k.live_registers != 0 ? ">= " + num(k.live_registers) + " registers (live accumulators), " : std::string()) + num(k.ctas_per_sm) + " CTA/SM]: tensor " + human_time(x.tensor_s) + ", smem " + human_time(x.smem_s) +
           ", MUFU " + human_time(x.mufu_s) + ", FP32 " + human_time(x.fp32_s) +
           // Instructions issued beside the FMA pipe (the softmax's max and packs on the ALU,
           // conversions, integer, loads): they take issue slots, not its lanes (docs/model.md rule 1).
           (k.other_instr.v != 0 ? " (" + instr_count(k.other_instr.d()) + " ALU and other lane instructions issue beside the FMA pipe" +
                                       (k.mask_instr.v != 0 ? ", " + instr_count(k.mask_instr.d()) + " of them the mask's compares and selects" : std::string()) +
                                       (x.alu_s > 0 && x.alu_s >= x.fp32_s ? "; the ALU pipe, 16 lanes a partition, sets FP32" : std::string()) + ")"
                                 : std::string()) +
           (x.delay_s > 0 ? ", waits " + human_time(x.delay_s) + " (" + waits_text(k.waits) + " per iteration = " +
                                human_time(x.iter_wait_s) +
                                (x.wait_dram_latency_s > 0 ? ", each DRAM load " + human_time(x.wait_dram_latency_s) +
                                                                 (dev.dram_queue_read.empty() || dev.dram_queue_copy.empty() ? " (unloaded: no queue curve)" : " at the kernel's DRAM load")
                                                           : std::string()) + ")"
                          : std::string()) +
           (x.wait_mem_s > 0 ? ", waited loads " + human_time(x.wait_mem_s) : std::string()) +
           "; k = " + fmt("%.0f", x.overlap_jobs) +
           ", U = " + fmt("%.2f", x.utilization) +
           (x.loop_s > 0 ? (x.loop_l2_s > 0 ? ", loop with DRAM and L2 hits " : ", loop with DRAM ") + human_time(x.loop_s) + " (" + num(k.load_buffers) + " buffers per CTA)"
                         : std::string()) +
           ", fill " + human_time(x.fill_s) +
           (x.epilogue_s > 0 ? " (epilogue " + human_time(x.epilogue_s) + " per CTA)" : std::string()) + ", waves " +
           fmt("%.2f", x.wave_efficiency) +
           (x.last_wave_s > 0 ? " (last residency wave " + fmt("%.0f", x.last_wave_ctas) + " of " + num(k.ctas_per_sm) +
                                    " CTAs, " + human_time(x.last_wave_s) + ")"
                              : std::string()) +
           (x.tail_s > 0 ? ", heaviest CTA's tail " + human_time(x.tail_s) : std::string()) +
           " -> compute " + human_time(x.compute_s) + "; HBM " + human_time(x.hbm_s) +
           ", L2 " + human_time(x.l2_s) + (x.link_s > 0 ? ", link " + human_time(x.link_s) : "") +
           (x.latency_s > 0 ? ", in-flight " + human_time(x.latency_s) + " (at " + human_time(x.inflight_latency_s) + " DRAM latency)" : "") + ", launch " + human_time(x.launch_s) +
           " => " + human_time(x.time_s) + " (" + std::string(to_string(x.bound)) + ")\n";
  }
  out += "\n";
  return out;
}

std::string explain(const Device& dev, const Prediction& p) {
  const Workload& w = p.workload;
  std::string out;
  out += std::string(to_string(w.variant)) + ": " + std::string(variant_summary(w.variant)) + "\n";
  out += "workload: B=" + num(w.batch) + " N=" + num(w.query_len()) + " Nk=" + num(w.kv_len) + " H=" + num(w.heads) +
         " Hkv=" + num(w.kv_heads) + " d=" + num(w.head_dim) + " dv=" + num(w.v_head_dim) + " " +
         std::string(to_string(w.dtype)) + " " + std::string(to_string(w.phase)) + " " + std::string(to_string(w.pass)) +
         (w.causal ? " causal" : "") + " layers=" + num(w.layers) + (params_text(p).empty() ? "" : " " + params_text(p)) + "\n";
  out += "device: " + dev.name + "\n\n";
  out += w.variant->derivation(p);
  out += "IO complexity: " + std::string(p.io_complexity) + "\n\n";
  out += "kernels (one layer):\n";
  for (int i = 0; i < p.kernel_count(); ++i) {
    const KernelCost& k = p.kernels[i];
    out += "  " + std::string(k.name) + (k.launches > 1 ? " x" + num(k.launches) : "") + ": " +
           num(k.ctas.v) + " CTAs; L2 read " + human_bytes(k.l2_read.d()) + ", write " + human_bytes(k.l2_write.d()) +
           "; HBM read " + human_bytes(k.hbm_read.d()) + ", write " + human_bytes(k.hbm_write.d()) + "; " +
           human_flops((k.tensor_flops + k.fp32_flops + k.sfu_ops).d()) + "\n";
  }
  out += "\ntotals: " + human_flops(p.flops().d()) + " (tensor " + human_flops(p.tensor_flops.d()) + ", fp32 " +
         human_flops(p.fp32_flops.d()) + ", sfu " + human_flops(p.sfu_flops.d()) + "); HBM " +
         human_bytes(p.hbm_bytes().d()) + ", L2 " + human_bytes(p.l2_bytes().d()) + ", SRAM " +
         human_bytes(p.sram_bytes().d()) + "\n";
  out += "arithmetic intensity: " + fmt("%.1f", p.arithmetic_intensity) + " FLOP/byte of HBM; ridge point " +
         fmt("%.0f", dev.tensor_rate(w.dtype) / dev.hbm_rate()) + " FLOP/byte for tensor math\n";
  out += dev.locked_clock_hz > 0 ? "roofline at datasheet peaks, the SM's at the locked " + fmt("%.0f", dev.locked_clock_hz / 1e6) + " MHz (ideal), time by ceiling:"
                                 : std::string("roofline at datasheet peaks (ideal), time by ceiling:");
  for (int c = 0; c < kCeilingCount; ++c) {
    if (p.ceiling_time_s[c] > 0) out += " " + std::string(to_string(static_cast<Ceiling>(c))) + " " + human_time(p.ceiling_time_s[c]);
  }
  out += "; launches " + human_time(p.launch_time_s) + "; roofline time " + human_time(p.roofline_time_s) + "\n";
  out += exec_text(dev, p);
  out += "verdict: " + std::string(p.memory_bound() ? "memory" : "compute") + "-bound, limited by " +
         std::string(to_string(p.bound)) + " under " + std::string(p.impl ? p.impl->key : "?") + ", predicted " +
         human_time(p.predicted_time_s) + ", KV cache " + human_bytes(p.kv_cache_bytes.d()) + "\n";
  return out;
}

}  // namespace attnio
