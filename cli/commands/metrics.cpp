// `attnio metrics --chip GH100`: what CUPTI can measure on a chip, offline (no GPU needed).
#include "commands/commands.hpp"

#include <iostream>
#include <memory>

#include "attnio/model/errors.hpp"
#include "command_util.hpp"
#include "output.hpp"
#ifdef ATTNIO_HAVE_CUPTI
#include "attnio/profiler/host.hpp"
#endif

namespace attnio::cli {

int cmd_metrics(const std::vector<std::string>& args) {
  po::options_description desc("metrics options");
  desc.add_options()("chip", po::value<std::string>()->default_value("GH100"), "CUPTI chip name (GH100, GA100, AD102, ...)");
  desc.add_options()("type", po::value<std::string>()->default_value("counter"), "counter|ratio|throughput");
  desc.add_options()("grep", po::value<std::string>(), "only metrics whose name contains this text");
  desc.add_options()("check", po::value<std::string>(), "check metrics (comma list, or 'default') and show their properties");
  po::variables_map vm;
  if (!parse("metrics", "[--chip GH100] [--type counter|ratio|throughput] [--grep TEXT] [--check m1,m2|default]", desc, args, vm)) return 0;
#ifndef ATTNIO_HAVE_CUPTI
  throw InputError("attnio was built without CUPTI (ATTNIO_CUPTI=OFF)");
#else
  std::unique_ptr<profiler::HostProfiler> host;
  if (std::string e = profiler::HostProfiler::create(vm["chip"].as<std::string>(), &host); !e.empty()) throw InputError(e);
  const Format f = format_of(vm);
  if (vm.count("check")) {
    std::vector<std::string> names;
    const std::string list = vm["check"].as<std::string>();
    if (list == "default") {
      names = profiler::default_metrics();
    } else {
      names = comma_list(list);
    }
    if (std::string e = host->check(names); !e.empty()) throw InputError(e);
    auto printer = make_printer(f, std::cout,
                                {{"metric", "metric", 50, Kind::text}, {"type", "type", 10, Kind::text},
                                 {"unit", "unit", 8, Kind::text}, {"description", "description", 0, Kind::text}},
                                false);
    for (const auto& n : names) {
      profiler::MetricInfo info;
      host->properties(n, &info);
      printer->row({{"metric", n}, {"type", info.type}, {"unit", info.dim_unit}, {"description", info.description}});
    }
    printer->end();
    return 0;
  }
  const std::string type = vm["type"].as<std::string>();
  const int t = type == "counter" ? 0 : type == "ratio" ? 1 : type == "throughput" ? 2 : -1;
  if (t < 0) throw InputError("--type must be counter, ratio or throughput, not '" + type + "'");
  auto printer = make_printer(f, std::cout, {{"metric", "metric", 0, Kind::text}}, false);
  for (const auto& m : host->base_metrics(t)) {
    if (vm.count("grep") && m.find(vm["grep"].as<std::string>()) == std::string::npos) continue;
    printer->row({{"metric", m}});
  }
  printer->end();
  return 0;
#endif
}

}  // namespace attnio::cli
