// `attnio ceilings`: measured rates of the GPU at hand beside the datasheet, written as a device
// file whose `measured` ceilings the model then uses (--device-file). Exit 3 without a GPU.
#include "commands/commands.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "attnio/model/record.hpp"
#include "command_util.hpp"
#include "output.hpp"
#ifdef ATTNIO_HAVE_KERNELS
#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/kernels/ceilings.hpp"
#endif

namespace attnio::cli {

int cmd_ceilings(const std::vector<std::string>& args) {
  po::options_description desc("ceilings options (needs a CUDA GPU)");
  desc.add_options()("device", po::value<std::string>(), "the built-in device the GPU is: datasheet column and device-file base (default h100-sxm)");
  desc.add_options()("device-file", po::value<std::string>(), "or a device file to compare against and extend");
  desc.add_options()("out-device", po::value<std::string>(), "write the device with its measured ceilings to this JSON file");
  desc.add_options()("repeats", po::value<int>()->default_value(5), "timed runs per ceiling (the best is kept; the DRAM queue's streaming runs take the median of max(N, 5))");
  po::variables_map vm;
  if (!parse("ceilings", "[--device h100-sxm | --device-file F] [--out-device FILE.json] [--repeats N]", desc, args, vm)) return 0;
  if (vm.count("device") && vm.count("device-file")) throw InputError("give --device or --device-file, not both");
  Device dev = vm.count("device-file") ? load_device_file(vm["device-file"].as<std::string>())
                                       : find_device(vm.count("device") ? vm["device"].as<std::string>() : "h100-sxm");
  const int repeats = vm["repeats"].as<int>();
  if (repeats < 1 || repeats > 100) throw InputError("--repeats must be between 1 and 100");
  std::ofstream file;
  const std::string out_path = vm.count("out-device") ? vm["out-device"].as<std::string>() : "";
#ifndef ATTNIO_HAVE_KERNELS
  throw InputError("attnio was built without CUDA (ATTNIO_CUDA=OFF)");
#else
  std::string why;
  if (!kernels::cuda_device_available(&why)) {
    std::cerr << "attnio: no CUDA device: " << why << "\n";
    return kExitNoDevice;
  }
  if (!out_path.empty()) {
    // Checked now without truncating an existing file; written after the measurements.
    if (!std::ofstream(out_path, std::ios::app)) throw InputError("ceilings: cannot write " + out_path);
  }
  const std::map<std::string, double> datasheet = {
      {"hbm_bytes_per_s", dev.hbm_bytes_per_s}, {"l2_bytes_per_s", dev.l2_bytes_per_s},
      {"fp32_flops_per_s", dev.fp32_flops_per_s}, {"sfu_ops_per_s", dev.sfu_ops_per_s},
      {"bf16_tensor_flops_per_s", dev.bf16_tensor_flops_per_s}, {"fp16_tensor_flops_per_s", dev.fp16_tensor_flops_per_s},
      {"tf32_tensor_flops_per_s", dev.tf32_tensor_flops_per_s}};
  // Table: figures with their units; CSV/JSON: the plain numbers (per second) as well.
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"ceiling", "ceiling", 24, Kind::text}, {"measured", "measured_text", 16, Kind::text},
                               {"datasheet", "datasheet_text", 16, Kind::text}, {"% of datasheet", "pct_of_datasheet", 14, Kind::ratio}},
                              false);
  auto with_unit = [](const std::string& key, double v) {
    char buf[64];
    const bool bytes = key.find("bytes") != std::string::npos, ops = key.find("sfu") != std::string::npos;
    std::snprintf(buf, sizeof buf, "%.3g %s", v / 1e12, bytes ? "TB/s" : ops ? "Tops/s" : "TFLOP/s");
    return std::string(buf);
  };
  // One measured figure against its reference (the datasheet, the device file, or the model's rule).
  const auto row = [&](const std::string& key, double measured, double reference, const std::string& measured_text,
                       const std::string& reference_text) {
    attnio::Record r;
    r.emplace_back("ceiling", key);
    r.emplace_back("measured", measured);
    r.emplace_back("datasheet", reference);
    r.emplace_back("measured_text", measured_text);
    r.emplace_back("datasheet_text", reference_text);
    r.emplace_back("pct_of_datasheet", reference > 0 ? 100 * measured / reference : 0.0);
    printer->row(r);
  };
  kernels::CeilingsOptions opt;
  opt.repeats = repeats;
  const std::string err = kernels::measure_ceilings(opt, &dev.measured, [&](const std::string& key, double v) {
    const double ds = datasheet.count(key) ? datasheet.at(key) : 0;
    row(key, v, ds, with_unit(key, v), with_unit(key, ds));
  });
  // DRAM latency, unloaded and at full load (the device file's dram_latency_s and queue curves),
  // printed against the device file's own figures.
  kernels::DramQueue queue;
  std::string queue_err;
  {  // independent of the rates above: run whatever they gave
    const std::map<std::string, double> file = {
        {"dram_latency_s", dev.dram_latency_s},
        {"dram_queue_read_full_s", dev.dram_queue_read.empty() ? 0.0 : dev.dram_queue_read.back().second},
        {"dram_queue_copy_full_s", dev.dram_queue_copy.empty() ? 0.0 : dev.dram_queue_copy.back().second}};
    const auto ns = [](double s) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.0f ns", s * 1e9);
      return std::string(buf);
    };
    queue_err = kernels::measure_dram_queue(opt, &queue, [&](const std::string& key, double v) {
      const double f = file.count(key) ? file.at(key) : 0;
      row(key, v, f, ns(v), f > 0 ? ns(f) + " (file)" : std::string("-"));
    });
  }
  // How much softmax issue one SM sub-partition hides under another warp's mma.sync.
  kernels::MmaSoftmaxOverlap overlap;
  // It runs whatever failed before it: it needs nothing they measure.
  const std::string overlap_err = kernels::measure_mma_softmax_overlap(opt, &overlap, [&](const std::string& key, double v) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.2f (%.0f+%.0f->%.0f us)", v, overlap.mma_s * 1e6, overlap.softmax_s * 1e6, overlap.both_s * 1e6);
    // What the execution model's rule gives this probe: on Hopper an mma.sync holds the
    // sub-partition's issue (one job at a time: nothing hidden); on Ampere the tensor and softmax
    // pipes are separate stations, so a warp that only multiplies and one that only exponentiates
    // never queue at the same one (all hidden).
    row(key, v, 0.0, buf, overlap.compute_capability >= 90 ? "0 (model)" : "1 (model)");
  });
  printer->end();
  const std::string gpu_name = queue.gpu.empty() ? std::string("the CUDA device") : queue.gpu;
  // The measured latency, and the curves where they were built, replace the device file's (borrowed
  // from another card for the H100 SXM and H200), each with where it came from; each is kept even
  // when a later measurement failed.
  const std::string by = "measured by attnio ceilings on " + gpu_name + " (kernels/ceilings.cu measure_dram_queue, --repeats " +
                         std::to_string(repeats) + ")";
  if (queue.latency_s > 0) {
    dev.dram_latency_s = queue.latency_s;
    dev.field_sources["dram_latency_s"] = by + ": a single thread's pointer chase through a random cycle over at least 4 x the L2, ld.global.cg, each launch going on where the last stopped";
  }
  if (!queue.read_curve.empty() && !queue.copy_curve.empty()) {
    dev.dram_queue_read = queue.read_curve;
    dev.dram_queue_copy = queue.copy_curve;
    dev.field_sources["dram_queue_read"] = by + ": gpu-stream's read kernel (one 8-byte load per thread) at " +
                                           std::to_string(queue.read.size()) + " occupancies; Little's law, less the lowest occupancy's latency (model dram_queue_curve)";
    dev.field_sources["dram_queue_copy"] = by + ": gpu-stream's scale kernel (one 8-byte load and store per thread) at " +
                                           std::to_string(queue.copy.size()) + " occupancies; the same";
  }
  // What was measured is kept even when a later ceiling failed.
  if (!out_path.empty()) {
    dev.sources += "; measured ceilings: attnio ceilings --repeats " + std::to_string(repeats);
    file.open(out_path, std::ios::trunc);
    file << device_to_json(dev) << "\n";
    file.close();
    std::cerr << "wrote " << out_path << " (use it with --device-file)\n";
  }
  if (!err.empty()) throw InputError("ceilings: " + err);
  if (!queue_err.empty()) throw InputError("ceilings: " + queue_err);
  if (!overlap_err.empty()) throw InputError("ceilings: " + overlap_err);
  return 0;
#endif
}

}  // namespace attnio::cli
