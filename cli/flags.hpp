// The workload and device flags shared by predict, sweep, explain, report and model, and their
// expansion into the cross product of workloads a sweep evaluates.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <deque>
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
                          std::deque<Device>& storage);

// A sweep spec file: {"description": "...", "sweeps": [{"variant": "flash2,standard", "seq":
// "1024:16384:x2", "causal": "on"}, ...]}. Each sweep object holds workload flags without their
// dashes, with the same lists and ranges as on the command line (numbers and booleans may be
// JSON numbers and booleans); the points of all sweeps are concatenated in file order. Throws
// InputError naming the file, the sweep and the key for anything malformed.
std::vector<Point> expand_spec(const std::string& path, std::deque<Device>& storage);
// The same for a spec already read; `path` only names it in messages.
std::vector<Point> expand_spec_text(std::string_view text, const std::string& path, std::deque<Device>& storage);

// Boost.ProgramOptions 1.81 loops forever building the message for an unknown option whose name
// holds "%...%" (its placeholder syntax; found by fuzz_spec). Throws InputError for any option name
// with a '%' before the parser sees it.
void refuse_unparseable_options(const std::vector<std::string>& args);

// A word that is no option would otherwise be dropped silently (Boost keeps positional tokens out of
// the map when no positional description is given): throws InputError naming it.
void refuse_positional(const po::parsed_options& parsed);

// Throws when `vm` holds workload flags beside --spec (one or the other).
void refuse_flags_with_spec(const po::variables_map& vm);

}  // namespace attnio::cli
