// `attnio explain`: the IO derivation of one variant with the numbers substituted.
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/model/explain.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"
#include "command_util.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace attnio::cli {

int cmd_explain(const std::vector<std::string>& args) {
  po::options_description desc("explain options");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("explain", "--variant V [shape flags]", desc, args, vm)) return 0;
  std::deque<Device> storage;
  if (vm.count("variant") && vm["variant"].as<std::string>() == "all") {
    throw InputError("explain takes one --variant, not 'all'");
  }
  const auto points = expand(vm, Workload{}, false, storage);
  const Prediction p = predict(*points[0].device, points[0].workload);
  if (format_of(vm) != Format::table) {
    auto printer = make_printer(format_of(vm), std::cout, prediction_columns(), true);
    Record r = to_record(*points[0].device, p);
    r.emplace_back("explanation", explain(*points[0].device, p));
    printer->row(r);
    printer->end();
    return 0;
  }
  std::cout << explain(*points[0].device, p);
  return 0;
}

}  // namespace attnio::cli
