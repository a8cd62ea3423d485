// The attnio command line: the table of commands, the usage text and run(). Each command lives in
// its own file, commands/<name>.cpp. Bad input ends with one line on stderr and exit code 2.
#include "commands.hpp"

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>

#include "attnio/model/errors.hpp"
#include "commands/commands.hpp"
#include "flags.hpp"

namespace attnio::cli {
namespace {

constexpr int kExitBadInput = 2;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

const Command kCommands[] = {
    {"predict", "predict one workload (or --variant all)", cmd_predict},
    {"sweep", "predict the cross product of lists and ranges", cmd_sweep},
    {"report", "every variant on the default device and a Llama-like workload (the main job)", cmd_report},
    {"simulate", "replay the kernels' tile schedules through SRAM, L2 and HBM", cmd_simulate},
    {"explain", "the IO derivation of one variant with the numbers substituted", cmd_explain},
    {"variants", "list the variants: what each computes, its phases, parameters, kernels and sources", cmd_variants},
    {"impls", "list the kernel implementation profiles: chips, variants, defaults, tiles and sources", cmd_impls},
    {"devices", "list the built-in devices (--format json prints the device-file schema)", cmd_devices},
    {"models", "list the shipped model configs", cmd_models},
    {"model", "attention cost and KV cache of a Hugging Face config.json", cmd_model},
    {"bench", "evaluations per second of the model", cmd_bench},
    {"validate", "the model's times against the published measurements (validation/published.csv)", cmd_validate},
    {"compare", "predictions against the measurements in trace files", cmd_compare},
    {"profile", "run a sweep on the GPU under CUPTI, one trace record per kernel (GPU)", cmd_profile},
    {"ceilings", "measure the GPU's HBM, L2, tensor, FP32 and exp rates into a device file (GPU)", cmd_ceilings},
    {"merge", "join the shards of one sweep or campaign, and check it against its plan", cmd_merge},
    {"submit", "a sweep, simulation or profiling campaign as a Slurm job array, and its status", cmd_submit},
    {"export", "a trace as Chrome trace JSON (measured vs predicted, for Perfetto)", cmd_export},
    {"metrics", "CUPTI metrics of a chip, listed or checked offline", cmd_metrics},
    {"kernels", "run the CUDA kernels against their CPU references, or time them (GPU)", cmd_kernels},
};

void usage(std::ostream& out) {
  out << "attnio: why an attention variant is fast or slow (IO, FLOPs, roofline)\n\nusage: attnio COMMAND [options]\n\ncommands:\n";
  for (const auto& c : kCommands) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-9s %s\n", c.name, c.summary);
    out << line;
  }
  out << "\n'attnio COMMAND --help' lists a command's options.\n";
}

}  // namespace

int run(std::vector<std::string> args) {
  if (args.empty()) {
    std::cerr << "attnio: no command given (see attnio --help)\n";
    return kExitBadInput;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(std::cout);
    return 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  for (const auto& c : kCommands) {
    if (cmd != c.name) continue;
    try {
      refuse_unparseable_options(args);
      return c.run(args);
    } catch (const attnio::InputError& e) {
      std::cerr << "attnio " << cmd << ": " << e.what() << "\n";
    } catch (const boost::program_options::error& e) {
      std::cerr << "attnio " << cmd << ": " << e.what() << "\n";
    } catch (const std::exception& e) {
      std::cerr << "attnio " << cmd << ": internal error: " << e.what() << "\n";
      return 1;
    }
    return kExitBadInput;
  }
  std::cerr << "attnio: unknown command '" << cmd << "' (see attnio --help)\n";
  return kExitBadInput;
}

}  // namespace attnio::cli
