// `attnio simulate`: the kernels' tile schedules replayed through SRAM, L2 and HBM, beside the
// formula's counts.
#include "commands/commands.hpp"

#include "attnio/model/errors.hpp"
#include "attnio/model/simulate.hpp"
#include "attnio/model/workload.hpp"
#include "command_util.hpp"
#include "flags.hpp"

namespace attnio::cli {

int cmd_simulate(const std::vector<std::string>& args) {
  po::options_description desc("simulate options (the predict flags, plus)");
  add_workload_options(desc);
  add_sim_options(desc);
  po::variables_map vm;
  if (!parse("simulate", "[--variant V] [shape flags] [--l2 on|off] [--l2-ways W] [--trace-out F] [--chrome-trace F]",
             desc, args, vm)) {
    return 0;
  }
  const SimOptions opt = sim_options(vm);
  std::deque<Device> storage;
  const auto points = expand(vm, Workload{}, false, storage);
  if (points.size() > 1 && (!opt.trace_out.empty() || !opt.chrome_trace.empty())) {
    throw InputError("--trace-out and --chrome-trace take one variant, not 'all'");
  }
  return evaluate_and_print(points, format_of(vm), points.size() == 1, &opt);
}

}  // namespace attnio::cli
