// `attnio sweep`: the cross product of lists and ranges (or the sweeps of a --spec file), predicted
// or run through the tile simulator; printed at the end, or with --out written as a campaign trace
// one record per point as it finishes (--resume, --shard as in profile; traces/README.md).
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/model/simulate.hpp"
#include "attnio/model/workload.hpp"
#include "campaign.hpp"
#include "command_util.hpp"
#include "flags.hpp"

namespace attnio::cli {

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description desc("sweep options (any flag takes a list a,b,c or a range 1024:65536:x2 / 64:512:+64)");
  add_workload_options(desc);
  desc.add_options()("simulate", "run the tile simulator for every point (see attnio simulate)");
  add_sim_options(desc);
  desc.add_options()("spec", po::value<std::string>(), "take the sweeps from a JSON spec file instead of flags (README)");
  add_campaign_options(desc);
  po::variables_map vm;
  if (!parse("sweep", "[flags with lists or ranges | --spec FILE.json] [--simulate] [--out F.jsonl [--resume] [--shard i/n|auto]]",
             desc, args, vm)) {
    return 0;
  }
  std::deque<Device> storage;
  if (vm.count("spec")) refuse_flags_with_spec(vm);
  const auto points = vm.count("spec") ? expand_spec(vm["spec"].as<std::string>(), storage) : expand(vm, Workload{}, true, storage);
  std::optional<SimOptions> sim;
  if (vm.count("simulate")) {
    sim = sim_options(vm);
    if (!sim->trace_out.empty() || !sim->chrome_trace.empty()) throw InputError("sweep --simulate writes no traces; use simulate");
  }
  if (!vm.count("out")) {
    refuse_campaign_flags_without_out(vm);
    return evaluate_and_print(points, format_of(vm), false, sim ? &*sim : nullptr);
  }
  const traces::Shard shard = shard_of(vm);
  std::size_t skipped = 0;
  std::string first_reason;
  const traces::Plan plan = sweep_plan(points, sim ? &*sim : nullptr, &skipped, &first_reason);
  if (plan.points.empty()) throw InputError("no combination applies: " + first_reason);
  if (skipped > 0) std::cerr << "note: left " << skipped << " combination(s) out of the plan (e.g. " << first_reason << ")\n";
  return run_campaign_into("sweep", plan, shard, sweep_evaluator(sim ? &*sim : nullptr), campaign_header("sweep", args, plan, shard),
                           vm["out"].as<std::string>(), vm.count("resume") > 0);
}

}  // namespace attnio::cli
