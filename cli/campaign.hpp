// What profile, sweep --out and submit share: the campaign flags (--out, --resume, --shard,
// --shards), the shard from them or from the scheduler, the sweep's plan, and running a plan into
// a trace with a progress line per record.
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <vector>

#include "attnio/model/simulate.hpp"
#include "attnio/traces/campaign.hpp"
#include "flags.hpp"

namespace attnio::cli {

// --out, --resume, --shard (i/n or auto), --shards N.
void add_campaign_options(po::options_description& desc);
// The shard the flags name: "i/n", or "auto" from SLURM_ARRAY_TASK_* / JOB_COMPLETION_INDEX.
traces::Shard shard_of(const po::variables_map& vm);
// Refuses --resume, --shard and --shards without --out (sweep prints instead).
void refuse_campaign_flags_without_out(const po::variables_map& vm);

// The plan of `attnio sweep --out` over `points`: kind "simulate" with `sim`, else "predict".
// Points that do not apply (a variant outside its phase, in a list) and, for simulate, variants
// without a tile schedule are left out of the plan; `skipped` counts them with the first reason.
traces::Plan sweep_plan(const std::vector<Point>& points, const SimOptions* sim, std::size_t* skipped,
                        std::string* first_reason);
// The evaluator of a sweep plan: the model's prediction, and with `sim` the simulator's figures.
traces::PointEvaluator sweep_evaluator(const SimOptions* sim);

// The plan of `attnio profile` with `runner` (gpu: attnio's kernels, cost their predicted time;
// cpu: the float64 reference, cost its multiply-adds). Defined in commands/profile.cpp.
traces::Plan profile_campaign_plan(const std::vector<Workload>& points, const Device& device, const std::string& runner);

// The header every campaign trace has: tool, the exact command line, the (first) device, the plan.
traces::Header campaign_header(const std::string& cmd, const std::vector<std::string>& args, const traces::Plan& plan,
                               const traces::Shard& shard);

// Runs `plan`'s shard into `out_path` with a progress line per record on stderr, and prints a
// summary line; returns the exit status (1 when an evaluator aborted the campaign).
int run_campaign_into(const std::string& cmd, const traces::Plan& plan, const traces::Shard& shard,
                      const traces::PointEvaluator& evaluate, const traces::Header& header, const std::string& out_path,
                      bool resume);

// Reads a campaign shard that may still be written (a running task): an unfinished last line is
// left out. Throws InputError like read_trace for anything else.
traces::Trace read_shard_in_progress(const std::string& path);

}  // namespace attnio::cli
