// Campaigns: a sweep expanded into a plan, dealt into shards of similar expected cost, each point
// evaluated by an injected function and appended to a trace the moment it finishes. Behind
// `attnio profile` (a measurer built on the kernels and CUPTI, or the CPU reference), `attnio sweep
// --out` (the model or the tile simulator) and `attnio submit` (Slurm job arrays). It knows nothing
// of CUDA or of a scheduler: the tests inject fakes and environments.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnio/model/predict.hpp"
#include "attnio/traces/trace.hpp"

namespace attnio::traces {

// Shard i of n (0-based, as a Slurm array's SLURM_ARRAY_TASK_ID with --array=0-(n-1)).
struct Shard {
  std::size_t index = 0, count = 1;
};
// Parses "i/n"; throws InputError naming the problem (not two numbers, n = 0, i >= n).
Shard parse_shard(const std::string& spec);
// --shard auto: the index and count from the scheduler's environment, read through `env` (getenv in
// the CLI). Slurm job arrays: SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN (0 when unset) of
// SLURM_ARRAY_TASK_COUNT; Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX of `shards` (--shards N,
// which the Job's completions count is not exported as). Throws InputError when neither is set or
// a value is not a whole number in range.
Shard shard_from_environment(std::optional<std::size_t> shards, const std::function<const char*(const char*)>& env);

// One point of a plan: where and what it evaluates, the kernel (profile) or evaluator ("model",
// "simulator") it runs, and its expected cost in the unit of its campaign kind (campaign_cost).
struct PlanPoint {
  const Device* device = nullptr;
  Workload workload;
  std::string kernel;
  double cost = 1;
  std::string id;  // record_id of the point (with the device's key in sweep campaigns)
};

struct Plan {
  std::string kind;                // "profile", "predict" or "simulate"
  std::string options;             // what else changes the results (simulator options), hashed
  bool multi_device = false;       // records name their device (sweep campaigns)
  std::vector<PlanPoint> points;   // in expansion order; a point's index is its id in the campaign
  std::vector<Device> devices;     // the distinct devices, for the header
};

// Fills each point's id and the plan's devices. Call after the points are set.
void finish_plan(Plan& plan);
// FNV-1a (64 bits) over the kind, the options, and each point's device description and id, as
// 16 hex digits: the same spec and attnio give the same hash on every node.
std::string plan_hash(const Plan& plan);
// The plan's points dealt into `count` shards of similar total cost: longest first, each to the
// shard with the least cost so far (ties to the lower shard; Graham's LPT rule, within 4/3 of the
// best makespan). Deterministic: every node deals the same. Each shard's indices in plan order.
std::vector<std::vector<std::size_t>> deal(const Plan& plan, std::size_t count);
// The indices dealt to one shard (deal(plan, shard.count)[shard.index], by value).
std::vector<std::size_t> dealt_to(const Plan& plan, const Shard& shard);

// The model's numeric outputs, as a record keeps them (strings such as the bound are re-derived).
std::map<std::string, double> prediction_numbers(const Device& device, const Prediction& p);

// The header's campaign section for shard `shard` of `plan`.
CampaignInfo campaign_info(const Plan& plan, const Shard& shard);

struct Measurement {
  std::map<std::string, std::int64_t> launch;
  std::vector<Metric> metrics;
  std::string counter_data, config_image;  // base64
};

struct Measurer {
  // The kernel that runs a workload ("" when none does: the point is recorded as failed).
  std::function<std::string(const Workload&)> kernel;
  // Runs and measures it: "" or the error (the record is then marked failed, the sweep goes on).
  std::function<std::string(const Workload&, Measurement*)> measure;
};

// Thrown by an evaluator when nothing more can run (a sticky CUDA error): the point's record is
// written as failed with this message, then the campaign stops so the rest are not all recorded as
// failed; --resume continues after a restart.
struct CampaignAbort : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CampaignStats {
  std::size_t in_shard = 0, already_done = 0, ok = 0, failed = 0;
};

// Evaluates one point into a record whose id, point, workload, kernel and device are already set:
// fills prediction, launch, metrics or simulation and returns "" or the error (recorded as failed).
using PointEvaluator = std::function<std::string(const PlanPoint&, Record*)>;
using Progress = std::function<void(std::size_t, std::size_t, const Record&)>;

// Evaluates every point dealt to `shard` that is not already in the writer's file (resume), and
// appends one record per point as soon as it finishes. `progress` gets (finished, to do, record).
CampaignStats run_plan(const Plan& plan, const Shard& shard, const PointEvaluator& evaluate, Writer& writer,
                       const Progress& progress);

// A profile plan: the points on one device, each with the measurer's kernel and its cost (the
// model's predicted time of attnio's own kernel: what a GPU run of the point takes).
Plan profile_plan(const std::vector<Workload>& points, const Device& device, const Measurer& measurer);
// The evaluator that measures with `measurer` and records the prediction of attnio's own kernel.
PointEvaluator measuring(const Measurer& measurer);

// The profile campaign in one call: profile_plan, its header section written into `writer`'s
// header beforehand by the caller (campaign_info), then run_plan with measuring().
CampaignStats run_campaign(const std::vector<Workload>& points, const Shard& shard, const Device& device,
                           const Measurer& measurer, Writer& writer, const Progress& progress);

}  // namespace attnio::traces
