// `attnio predict`: one workload (or --variant all) through the model.
#include "commands/commands.hpp"

#include "attnio/model/workload.hpp"
#include "command_util.hpp"
#include "flags.hpp"

namespace attnio::cli {

int cmd_predict(const std::vector<std::string>& args) {
  po::options_description desc("predict options");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("predict", "[--variant V|all] [shape flags]", desc, args, vm)) return 0;
  std::deque<Device> storage;
  const auto points = expand(vm, Workload{}, false, storage);
  return evaluate_and_print(points, format_of(vm), points.size() == 1);
}

}  // namespace attnio::cli
