// The workload and device flags shared by predict, sweep, explain, report and model, and their
// expansion into the cross product of workloads a sweep evaluates.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/workload.hpp"

namespace attnio::cli {

namespace po = boost::program_options;

// Adds --device, --device-file and every workload flag (all as strings, so lists and ranges parse
// the same way everywhere).
void add_workload_options(po::options_description& d);

struct Point {
  const Device* device;
  Workload workload;
  bool variant_from_all;  // expanded from --variant all
};

// Expands the given flags into workloads on top of `base`. With `allow_lists` false, a flag with more
// than one value is an error (predict takes single values; sweep takes lists). `--variant all`
// expands to every variant. Devices named by --device-file are loaded into `storage`.
std::vector<Point> expand(const po::variables_map& vm, const Workload& base, bool allow_lists,
                          std::vector<Device>& storage);

}  // namespace attnio::cli
