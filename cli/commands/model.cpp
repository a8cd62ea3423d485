// `attnio model`: attention cost and KV cache of a Hugging Face config.json, in prefill and decode.
#include "commands/commands.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/model/hf_config.hpp"
#include "attnio/model/explain.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/stack.hpp"
#include "attnio/model/record.hpp"
#include "command_util.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace attnio::cli {

namespace {
std::string human_count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.1f M", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}
}  // namespace

int cmd_model(const std::vector<std::string>& args) {
  po::options_description desc("model options");
  desc.add_options()("config", po::value<std::vector<std::string>>()->composing(),
                     "shipped model name (attnio models) or path to a config.json; with --context, repeat it to compare models");
  desc.add_options()("stack", "print one step of the whole model by layer type (mixer, projections, MLP or experts, norms, embedding, LM head)");
  desc.add_options()("context", po::value<std::string>(),
                     "decode steps at these context lengths (list or range, e.g. 1024:262144:x2): the whole step, its "
                     "weights and its cache, and the context where reading the cache overtakes reading the weights");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("model", "--config NAME|PATH [--stack] [--seq N] [--batch B] [--device D]", desc, args, vm)) return 0;
  if (!vm.count("config")) throw InputError("model: --config NAME|PATH is required");
  for (const char* f : {"heads", "kv-heads", "head-dim", "v-head-dim", "layers", "phase"}) {
    if (vm.count(f)) throw InputError("model: --" + std::string(f) + " comes from the config; drop it");
  }
  const std::vector<std::string> names = vm["config"].as<std::vector<std::string>>();
  if (names.size() > 1 && !vm.count("context")) {
    throw InputError("model: several --config need --context (their decode steps side by side)");
  }
  const ModelConfig cfg = find_config(names.front());
  Workload base = cfg.apply(Workload{});
  base.causal = true;
  if (cfg.max_positions != 0 && !vm.count("seq")) base.seq = std::min<std::uint64_t>(4096, cfg.max_positions);
  std::vector<Device> storage;
  if (vm.count("context")) {
    // Decode steps of the whole model over context lengths (stack.hpp): where does the K/V cache (or
    // the attention time) overtake the weights? (issue 17: "the crossing ... per model")
    if (vm.count("seq") || vm.count("kv-len")) throw InputError("model: --context gives the lengths; drop --seq/--kv-len");
    const auto lengths = parse_uint_list("context", vm["context"].as<std::string>(), 64);
    auto printer = make_printer(format_of(vm), std::cout,
                                {{"model", "model", 11, Kind::text},
                                 {"context", "context", 8, Kind::count},
                                 {"B", "batch", 4, Kind::count},
                                 {"step", "time_s", 9, Kind::time},
                                 {"tokens/s", "tokens_per_s", 9, Kind::ratio},
                                 {"weights", "weight_bytes", 9, Kind::bytes},
                                 {"cache read", "cache_read_bytes", 10, Kind::bytes},
                                 {"mixer time", "mixer_time_s", 10, Kind::time},
                                 {"mixer share", "mixer_share", 11, Kind::ratio_percent},
                                 {"memory", "footprint_bytes", 9, Kind::bytes},
                                 {"fits", "fits", 5, Kind::text}},
                                false);
    std::vector<std::string> crossings;
    for (const std::string& name : names) {
      const ModelConfig one = find_config(name);
      Workload one_base = one.apply(Workload{});
      one_base.causal = true;
      std::uint64_t crossing = 0;
      const Device* dev = nullptr;
      for (std::uint64_t n : lengths) {
        Workload w = one_base;
        w.phase = Phase::decode;
        w.seq = n;
        w.kv_len = n;
        storage.clear();
        const Point pt = expand(vm, w, false, storage).front();
        dev = pt.device;
        const StackCost st = evaluate_stack(*pt.device, one, pt.workload);
        const StackPart& mixer = st.parts.front();
        Record r;
        r.emplace_back("model", one.name);
        r.emplace_back("context", n);
        r.emplace_back("batch", pt.workload.batch);
        r.emplace_back("time_s", st.time_s);
        r.emplace_back("tokens_per_s", st.time_s > 0 ? static_cast<double>(st.tokens) / st.time_s : 0.0);
        r.emplace_back("weight_bytes", st.weight_bytes);
        r.emplace_back("cache_read_bytes", mixer.hbm_bytes);
        r.emplace_back("mixer_time_s", mixer.time_s);
        r.emplace_back("mixer_share", st.time_s > 0 ? mixer.time_s / st.time_s : 0.0);
        r.emplace_back("footprint_bytes", st.footprint_bytes);
        r.emplace_back("fits", std::string(st.fits ? "yes" : "no"));
        printer->row(r);
        if (crossing == 0 && mixer.hbm_bytes > st.weight_bytes) crossing = n;
      }
      crossings.push_back(one.name + ": " +
                          (crossing != 0 ? "reading the cache overtakes reading the weights at a context of " + std::to_string(crossing) +
                                               " tokens (first length listed past the crossing)"
                                         : std::string("the weights outweigh the cache read at every context listed")) +
                          " on " + (dev ? dev->key : std::string("?")));
    }
    printer->end();
    if (format_of(vm) == Format::table) {
      std::cout << "\n";
      for (const auto& c : crossings) std::cout << c << "\n";
    }
    return 0;
  }
  if (vm.count("stack")) {
    // One step of the whole model by layer type (stack.hpp), per phase.
    auto printer = make_printer(format_of(vm), std::cout,
                                {{"model", "model", 11, Kind::text},
                                 {"phase", "phase", 7, Kind::text},
                                 {"layer type", "part", 24, Kind::text},
                                 {"count", "count", 6, Kind::count},
                                 {"FLOPs", "flops", 11, Kind::flops},
                                 {"weights", "weight_bytes", 9, Kind::bytes},
                                 {"HBM", "hbm_bytes", 9, Kind::bytes},
                                 {"time", "time_s", 9, Kind::time},
                                 {"share", "share", 6, Kind::ratio_percent},
                                 {"limited by", "limited_by", 10, Kind::text}},
                                false);
    std::vector<std::string> summaries;
    for (Phase phase : {Phase::prefill, Phase::decode}) {
      Workload w = base;
      w.phase = phase;
      for (const Point& pt : expand(vm, w, false, storage)) {
        const StackCost st = evaluate_stack(*pt.device, cfg, pt.workload);
        for (const StackPart& part : st.parts) {
          Record r;
          r.emplace_back("model", cfg.name);
          r.emplace_back("phase", std::string(to_string(phase)));
          r.emplace_back("part", part.name);
          r.emplace_back("count", part.count);
          r.emplace_back("flops", part.flops);
          r.emplace_back("weight_bytes", part.weight_bytes);
          r.emplace_back("hbm_bytes", part.hbm_bytes);
          r.emplace_back("time_s", part.time_s);
          r.emplace_back("share", st.time_s > 0 ? part.time_s / st.time_s : 0.0);
          r.emplace_back("limited_by", std::string(to_string(part.bound)));
          printer->row(r);
        }
        char line[640];
        std::snprintf(line, sizeof line,
                      "%s %s: %llu tokens in %s: %s weights read, %s K/V or state cache, %.0f tokens/s; "
                      "needs %s of device memory (all weights + cache), %s %s's %s",
                      cfg.name.c_str(), std::string(to_string(phase)).c_str(), static_cast<unsigned long long>(st.tokens),
                      human_time(st.time_s).c_str(), human_bytes(st.weight_bytes).c_str(), human_bytes(st.cache_bytes).c_str(),
                      st.time_s > 0 ? static_cast<double>(st.tokens) / st.time_s : 0.0, human_bytes(st.footprint_bytes).c_str(),
                      st.fits ? "within" : "MORE THAN", pt.device->key.c_str(), human_bytes(pt.device->hbm_capacity_bytes).c_str());
        summaries.emplace_back(line);
      }
    }
    printer->end();
    if (format_of(vm) == Format::table) {
      std::cout << "\n";
      for (const auto& l : summaries) std::cout << l << "\n";
      std::cout << "Layers run one after another; linear layers are cuBLAS GEMMs reading their weights once per step "
                   "(MoE: the experts the step's tokens touch); norms and the embedding gather are memory passes.\n";
    }
    return 0;
  }
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
                               {"KV cache", "kv_cache_bytes", 9, Kind::bytes},
                               {"weights/step", "weight_bytes_per_step", 12, Kind::bytes},
                               {"weights time", "weight_time_s", 12, Kind::time}},
                              false);
  const ParamCount params = count_params(cfg);
  for (Phase phase : {Phase::prefill, Phase::decode}) {
    Workload w = base;
    w.phase = phase;
    const auto points = expand(vm, w, false, storage);
    for (const Point& pt : points) {
      const Prediction p = predict(*pt.device, pt.workload);
      Record r = to_record(*pt.device, p);
      r.insert(r.begin(), {"model", cfg.name});
      r.emplace_back("per_layer_time_s", p.predicted_time_s / static_cast<double>(p.workload.layers));
      // The weights one step reads (issue 17's stack model starts here): decode reads every dense
      // weight once and the routed experts the batch's tokens touch; prefill the experts its
      // B·N tokens touch. At the device's sustained HBM bandwidth.
      const std::uint64_t tokens = p.workload.batch * p.workload.query_len();
      const double weights = decode_weight_bytes(cfg, tokens, p.workload.dtype);
      r.emplace_back("params_total", params.total());
      r.emplace_back("params_active", params.active);
      r.emplace_back("weight_bytes_per_step", weights);
      r.emplace_back("weight_time_s", weights / pt.device->sustained_hbm_rate());
      printer->row(r);
    }
  }
  printer->end();
  if (format_of(vm) == Format::table) {
    std::cout << "\nparameters (counted from the config): " << human_count(params.total()) << " total, "
              << human_count(params.active) << " active per token; attention " << human_count(params.attention)
              << ", MLP " << human_count(params.mlp) << ", routed experts " << human_count(params.experts_routed)
              << ", shared experts " << human_count(params.experts_shared) << ", Mamba " << human_count(params.mamba)
              << ", embeddings " << human_count(params.embeddings) << ", LM head " << human_count(params.lm_head) << "\n"
              << "model time is the attention mixer only; weights/step is what one step reads of the weights (MoE: the experts "
                 "its tokens touch, E(1-(1-k/E)^tokens)), and weights time that read at the sustained HBM bandwidth\n";
  }
  return 0;
}

}  // namespace attnio::cli
