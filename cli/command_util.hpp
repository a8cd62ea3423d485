// What several commands share: their option parsing (--help and --format included), reading trace
// files, the tile simulator's options, and printing a list of evaluated points.
#pragma once

#include <boost/program_options.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "attnio/model/simulate.hpp"
#include "attnio/traces/trace.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace attnio::cli {

// The exit status of profile and ceilings when there is no CUDA device to measure on.
constexpr int kExitNoDevice = 3;
// The exit status of merge and submit --status when a campaign has points without a record.
constexpr int kExitIncomplete = 4;

// Prints a campaign's coverage ("complete: N points" or how many are missing, by id and by absent
// shard) and returns 0 or kExitIncomplete.
int report_coverage(const traces::Coverage& c, std::ostream& out);

// Parses `args` against `desc`, to which it adds --help and --format; returns false (after printing
// help) when --help was given.
bool parse(const std::string& cmd, const char* usage, po::options_description& desc,
           const std::vector<std::string>& args, po::variables_map& vm);

// The same for compare and export, which also take their trace files as plain words: `desc`
// already holds --help and --trace, in the order their help lists them.
bool parse_with_traces(const std::string& cmd, const char* usage, const po::options_description& desc,
                       const std::vector<std::string>& args, po::variables_map& vm);

// The trace files at `paths`, read and merged into one trace.
traces::Trace read_merged(const std::vector<std::string>& paths);

Format format_of(const po::variables_map& vm);

// The words of a comma list, as std::getline splits them ("a,,b" keeps the empty word; a trailing
// comma adds none).
std::vector<std::string> comma_list(const std::string& text);

// --l2-ways, --l2-sample, --trace-out and --chrome-trace, and the SimOptions they give.
void add_sim_options(po::options_description& desc);
SimOptions sim_options(const po::variables_map& vm);

// Evaluates points (predicted, or simulated when `sim` is given) and prints them as they finish. In
// a list of several points, combinations that do not apply or cannot run (a variant outside its
// phase, tiles that overflow SRAM, heads not divisible by kv-heads) are skipped and counted on
// stderr, with the first reason; a single requested point that cannot run is an error.
int evaluate_and_print(const std::vector<Point>& points, Format format, bool single_object,
                       const SimOptions* sim = nullptr);

}  // namespace attnio::cli
