// `attnio sweep`: the cross product of lists and ranges (or the sweeps of a --spec file), predicted
// or run through the tile simulator.
#include "commands/commands.hpp"

#include "attnio/model/errors.hpp"
#include "attnio/model/simulate.hpp"
#include "attnio/model/workload.hpp"
#include "command_util.hpp"
#include "flags.hpp"

namespace attnio::cli {

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description desc("sweep options (any flag takes a list a,b,c or a range 1024:65536:x2 / 64:512:+64)");
  add_workload_options(desc);
  desc.add_options()("simulate", "run the tile simulator for every point (see attnio simulate)");
  add_sim_options(desc);
  desc.add_options()("spec", po::value<std::string>(), "take the sweeps from a JSON spec file instead of flags (README)");
  po::variables_map vm;
  if (!parse("sweep", "[flags with lists or ranges | --spec FILE.json] [--simulate]", desc, args, vm)) return 0;
  std::vector<Device> storage;
  if (vm.count("spec")) refuse_flags_with_spec(vm);
  const auto points = vm.count("spec") ? expand_spec(vm["spec"].as<std::string>(), storage) : expand(vm, Workload{}, true, storage);
  if (!vm.count("simulate")) return evaluate_and_print(points, format_of(vm), false);
  const SimOptions opt = sim_options(vm);
  if (!opt.trace_out.empty() || !opt.chrome_trace.empty()) throw InputError("sweep --simulate writes no traces; use simulate");
  return evaluate_and_print(points, format_of(vm), false, &opt);
}

}  // namespace attnio::cli
