// The attnio commands, one file each (commands/<name>.cpp, as git's builtin/). A command takes the
// arguments after its name, prints to stdout, and returns its exit status; bad input throws
// InputError or a Boost.Program_options error, which run() (commands.cpp) reports with exit code 2.
#pragma once

#include <string>
#include <vector>

namespace attnio::cli {

int cmd_bench(const std::vector<std::string>& args);
int cmd_ceilings(const std::vector<std::string>& args);
int cmd_compare(const std::vector<std::string>& args);
int cmd_devices(const std::vector<std::string>& args);
int cmd_explain(const std::vector<std::string>& args);
int cmd_export(const std::vector<std::string>& args);
int cmd_kernels(const std::vector<std::string>& args);
int cmd_merge(const std::vector<std::string>& args);
int cmd_metrics(const std::vector<std::string>& args);
int cmd_model(const std::vector<std::string>& args);
int cmd_models(const std::vector<std::string>& args);
int cmd_predict(const std::vector<std::string>& args);
int cmd_profile(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);
int cmd_simulate(const std::vector<std::string>& args);
int cmd_submit(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);
int cmd_validate(const std::vector<std::string>& args);
int cmd_variants(const std::vector<std::string>& args);
int cmd_impls(const std::vector<std::string>& args);

}  // namespace attnio::cli
