// `attnio bench`: evaluations per second of the model, or seconds per run of the tile simulator
// (--simulate).
#include "commands/commands.hpp"

#include <chrono>
#include <cstdint>
#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"
#include "attnio/model/simulate.hpp"
#include "command_util.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace attnio::cli {

int cmd_bench(const std::vector<std::string>& args) {
  po::options_description desc("bench options");
  desc.add_options()("seconds", po::value<double>()->default_value(1.0), "time to run each variant");
  desc.add_options()("simulate", "time the tile simulator instead (default workload: flash2, N=16384, d=128, batch x heads = 32)");
  add_workload_options(desc);
  add_sim_options(desc);
  po::variables_map vm;
  if (!parse("bench", "[--seconds S] [--variant V|all] [shape flags]", desc, args, vm)) return 0;
  const double seconds = vm["seconds"].as<double>();
  if (!(seconds > 0 && seconds <= 600)) throw InputError("--seconds must be in (0, 600]");
  std::deque<Device> storage;
  const bool sim = vm.count("simulate") != 0;
  Workload base;
  if (sim) {
    base.seq = 16384;
    base.heads = 32;
  }
  const auto points = expand(vm, base, false, storage);
  if (sim) {
    const SimOptions opt = sim_options(vm);
    auto printer = make_printer(format_of(vm), std::cout,
                                {{"variant", "variant", 14, Kind::text}, {"N", "seq", 6, Kind::count},
                                 {"CTAs", "ctas", 8, Kind::count},        {"steps", "steps", 9, Kind::count},
                                 {"L2 sample", "l2_sample", 9, Kind::count}, {"seconds", "seconds_per_simulation", 9, Kind::ratio3}},
                                points.size() == 1);
    for (const Point& pt : points) {
      if (pt.variant_from_all && not_applicable(resolve(pt.workload, *pt.device))) continue;
      if (pt.variant_from_all && !pt.workload.variant->schedule) continue;
      const auto start = std::chrono::steady_clock::now();
      const SimResult r = simulate(*pt.device, pt.workload, opt);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      Record rec;
      rec.emplace_back("variant", std::string(to_string(pt.workload.variant)));
      rec.emplace_back("seq", r.formula.workload.query_len());
      rec.emplace_back("ctas", r.ctas);
      rec.emplace_back("steps", r.steps);
      rec.emplace_back("l2_sample", static_cast<std::uint64_t>(r.l2_sample));
      rec.emplace_back("seconds_per_simulation", elapsed);
      printer->row(rec);
    }
    printer->end();
    return 0;
  }
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"variant", "variant", 14, Kind::text},
                               {"evaluations", "evaluations", 11, Kind::count},
                               {"seconds", "seconds", 7, Kind::ratio},
                               {"per second", "evaluations_per_s", 12, Kind::count}},
                              points.size() == 1);
  for (const Point& pt : points) {
    // --variant all leaves out a variant that does not apply, or that the device cannot run (ring
    // without NVLink enough for its GPUs).
    if (pt.variant_from_all) {
      const Workload w = resolve(pt.workload, *pt.device);
      if (not_applicable(w) || refused_on(w, *pt.device)) continue;
    }
    using clock = std::chrono::steady_clock;
    std::uint64_t n = 0;
    double sink = 0;
    const auto start = clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
      for (int i = 0; i < 1000; ++i) sink += predict(*pt.device, pt.workload).predicted_time_s;
      n += 1000;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    }
    if (sink < 0) std::cerr << "";  // keeps the evaluations from being optimized away
    Record r;
    r.emplace_back("variant", std::string(to_string(pt.workload.variant)));
    r.emplace_back("evaluations", n);
    r.emplace_back("seconds", elapsed);
    r.emplace_back("evaluations_per_s", static_cast<std::uint64_t>(static_cast<double>(n) / elapsed));
    printer->row(r);
  }
  printer->end();
  return 0;
}

}  // namespace attnio::cli
