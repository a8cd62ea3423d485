// `attnio model`: attention cost and KV cache of a Hugging Face config.json, in prefill and decode.
#include "commands/commands.hpp"

#include <algorithm>
#include <cstdint>
#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/model/hf_config.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"
#include "command_util.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace attnio::cli {

int cmd_model(const std::vector<std::string>& args) {
  po::options_description desc("model options");
  desc.add_options()("config", po::value<std::string>(), "shipped model name (attnio models) or path to a config.json");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("model", "--config NAME|PATH [--seq N] [--batch B] [--device D]", desc, args, vm)) return 0;
  if (!vm.count("config")) throw InputError("model: --config NAME|PATH is required");
  for (const char* f : {"heads", "kv-heads", "head-dim", "v-head-dim", "layers", "phase"}) {
    if (vm.count(f)) throw InputError("model: --" + std::string(f) + " comes from the config; drop it");
  }
  const ModelConfig cfg = find_config(vm["config"].as<std::string>());
  Workload base = cfg.apply(Workload{});
  base.causal = true;
  if (cfg.max_positions != 0 && !vm.count("seq")) base.seq = std::min<std::uint64_t>(4096, cfg.max_positions);
  std::vector<Device> storage;
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"model", "model", 11, Kind::text},
                               {"variant", "variant", 14, Kind::text},
                               {"phase", "phase", 7, Kind::text},
                               {"B", "batch", 3, Kind::count},
                               {"N", "seq", 6, Kind::count},
                               {"Nk", "kv_len", 6, Kind::count},
                               {"layer time", "per_layer_time_s", 10, Kind::time},
                               {"model time", "predicted_time_s", 10, Kind::time},
                               {"model HBM", "hbm_bytes", 9, Kind::bytes},
                               {"AI", "arithmetic_intensity", 7, Kind::ratio},
                               {"bound", "bound", 7, Kind::text},
                               {"limited by", "limited_by", 10, Kind::text},
                               {"impl", "impl", 11, Kind::text},
                               {"KV cache", "kv_cache_bytes", 9, Kind::bytes}},
                              false);
  for (Phase phase : {Phase::prefill, Phase::decode}) {
    Workload w = base;
    w.phase = phase;
    const auto points = expand(vm, w, false, storage);
    for (const Point& pt : points) {
      const Prediction p = predict(*pt.device, pt.workload);
      Record r = to_record(*pt.device, p);
      r.insert(r.begin(), {"model", cfg.name});
      r.emplace_back("per_layer_time_s", p.predicted_time_s / static_cast<double>(p.workload.layers));
      printer->row(r);
    }
  }
  printer->end();
  return 0;
}

}  // namespace attnio::cli
