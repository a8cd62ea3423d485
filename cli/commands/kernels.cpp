// `attnio kernels`: the CUDA kernels against their CPU references (--check) and timed (--bench).
#include "commands/commands.hpp"

#include <algorithm>
#include <iostream>
#include <iterator>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "command_util.hpp"
#include "output.hpp"
#ifdef ATTNIO_HAVE_KERNELS
#include "attnio/kernels/runner.hpp"
#endif

namespace attnio::cli {

int cmd_kernels(const std::vector<std::string>& args) {
  po::options_description desc("kernels options (needs a CUDA GPU)");
  desc.add_options()("check", "compare every kernel with its CPU reference (default)");
  desc.add_options()("bench", "time the kernels: median of --repeats runs, L2 flushed between them");
  desc.add_options()("repeats", po::value<int>()->default_value(10), "timed runs per kernel");
  desc.add_options()("kernel", po::value<std::string>(), "flash2,flash1,chunked,flash2-bwd,flash-decoding,paged,mla,standard,linear,performer,mamba,mamba2,fnet (default: all)");
  desc.add_options()("dtype", po::value<std::string>()->default_value("bf16,fp16"), "bf16,fp16");
  desc.add_options()("device", po::value<std::string>(), "device whose ceilings the percentages use (default h100-sxm)");
  desc.add_options()("device-file", po::value<std::string>(), "device file with measured ceilings");
  po::variables_map vm;
  if (!parse("kernels", "[--check] [--bench] [--kernel K,...] [--dtype bf16,fp16]", desc, args, vm)) return 0;
  const int repeats = vm["repeats"].as<int>();
  if (repeats < 1 || repeats > 1000) throw InputError("--repeats must be between 1 and 1000");
  std::vector<std::string> families;
  if (vm.count("kernel")) {
    for (const auto& k : comma_list(vm["kernel"].as<std::string>())) {
      static const char* const kKnown[] = {"flash2",   "flash1", "chunked",   "flash2-bwd", "flash-decoding", "paged", "mla",
                                           "standard", "linear", "performer", "mamba",      "mamba2",         "fnet"};
      if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown)) {
        throw InputError("unknown kernel '" + k + "' (known: flash2, flash1, chunked, flash2-bwd, flash-decoding, paged, "
                         "mla, standard, linear, performer, mamba, mamba2, fnet)");
      }
      families.push_back(k);
    }
  }
  const auto dtypes = comma_list(vm["dtype"].as<std::string>());
  for (const auto& d : dtypes) {
    if (d != "bf16" && d != "fp16") throw InputError("kernels: --dtype takes bf16 and fp16, not '" + d + "'");
  }
  if (vm.count("device") && vm.count("device-file")) throw InputError("give --device or --device-file, not both");
  const Device device = vm.count("device-file") ? load_device_file(vm["device-file"].as<std::string>())
                                                : vm.count("device") ? find_device(vm["device"].as<std::string>()) : default_device();
#ifndef ATTNIO_HAVE_KERNELS
  (void)repeats;
  (void)device;
  throw InputError("attnio was built without CUDA (ATTNIO_CUDA=OFF): there are no kernels to run");
#else
  kernels::RunnerOptions opt;
  opt.bench = vm.count("bench") != 0;
  opt.check = vm.count("check") != 0 || !opt.bench;
  opt.repeats = repeats;
  opt.families = families;
  opt.dtypes = dtypes;
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"kernel", "kernel", 14, Kind::text},       {"shape", "shape", 22, Kind::text},
                               {"dtype", "dtype", 5, Kind::text},          {"check", "check", 5, Kind::text},
                               {"max err", "max_abs_error", 8, Kind::ratio3}, {"time", "time_s", 9, Kind::time},
                               {"TFLOP/s", "tflop_per_s", 8, Kind::ratio}, {"GB/s", "hbm_gb_per_s", 8, Kind::ratio},
                               {"% tensor", "pct_tensor_peak", 8, Kind::ratio}, {"% HBM", "pct_hbm_peak", 6, Kind::ratio},
                               {"predicted", "predicted_time_s", 9, Kind::time}},
                              false);
  const std::string result = kernels::run_kernels(opt, device, [&](const Record& r) { printer->row(r); });
  printer->end();
  if (result.rfind("no CUDA device", 0) == 0) throw InputError(result);
  if (!result.empty()) {
    std::cerr << "attnio kernels: " << result << "\n";
    return 1;
  }
  return 0;
#endif
}

}  // namespace attnio::cli
