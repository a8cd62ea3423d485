// `attnio export --chrome OUT.json TRACE...`: measured and predicted kernel times for Perfetto.
#include "commands/commands.hpp"

#include <fstream>
#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/traces/chrome.hpp"
#include "attnio/traces/trace.hpp"
#include "command_util.hpp"

namespace attnio::cli {

int cmd_export(const std::vector<std::string>& args) {
  po::options_description desc("export options");
  desc.add_options()("help,h", "show this help");
  desc.add_options()("chrome", po::value<std::string>(), "write Chrome trace-event JSON to this file (Perfetto, chrome://tracing)");
  desc.add_options()("trace", po::value<std::vector<std::string>>()->multitoken(), "trace files (also positional)");
  po::variables_map vm;
  if (!parse_with_traces("export", "--chrome OUT.json TRACE...", desc, args, vm)) return 0;
  if (!vm.count("chrome")) throw InputError("export: give --chrome OUT.json (the only export format)");
  if (!vm.count("trace")) throw InputError("export: give one or more trace files");
  const traces::Trace t = read_merged(vm["trace"].as<std::vector<std::string>>());
  const std::string out_path = vm["chrome"].as<std::string>();
  std::ofstream out(out_path);
  if (!out) throw InputError("export: cannot write " + out_path);
  traces::write_chrome(t, out);
  out.close();
  if (!out) throw InputError("export: writing " + out_path + " failed");
  std::cout << "wrote " << t.records.size() << " records to " << out_path << " (open in https://ui.perfetto.dev)\n";
  return 0;
}

}  // namespace attnio::cli
