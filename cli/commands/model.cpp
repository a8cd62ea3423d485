// `attnio model`: one step of a whole model from its Hugging Face config.json, by layer type, in
// prefill and decode, over context lengths, side by side with other models, under tensor parallelism.
#include "commands/commands.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string_view>
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

// "26", "24,26", "16:31" (inclusive): layer numbers from 0, as LASER's --lnum counts them.
std::vector<std::uint64_t> parse_layer_list(const std::string& text) {
  std::vector<std::uint64_t> out;
  auto number = [&](std::string_view w) {
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || p != w.data() + w.size() || w.empty() || v >= 100000) {
      throw InputError("--laser-layers: '" + std::string(w) + "' is not a layer number (0 to 99999) in '" + text + "'");
    }
    return v;
  };
  for (std::size_t at = 0; at <= text.size();) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string_view item = std::string_view(text).substr(at, comma - at);
    if (const std::size_t colon = item.find(':'); colon != std::string_view::npos) {
      const std::uint64_t a = number(item.substr(0, colon)), b = number(item.substr(colon + 1));
      if (b < a) throw InputError("--laser-layers: range '" + std::string(item) + "' runs backwards");
      for (std::uint64_t l = a; l <= b; ++l) out.push_back(l);
    } else {
      out.push_back(number(item));
    }
    at = comma + 1;
  }
  return out;
}

std::string params_line(const ModelConfig& cfg) {
  const ParamCount p = count_params(cfg);
  return cfg.name + ": " + std::to_string(cfg.layers) + " layers (" + layout_summary(cfg) + "); parameters counted from the config: " +
         human_count(p.total()) + " total, " + human_count(p.active) + " active per token";
}

// The per-layer-type table of one step (stack.hpp), for every phase and device point.
int print_stack(const po::variables_map& vm, const std::vector<ModelConfig>& cfgs, const std::vector<Phase>& phases, const StackOptions& opt) {
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"model", "model", 12, Kind::text},
                               {"phase", "phase", 7, Kind::text},
                               {"layer type", "part", 28, Kind::text},
                               {"count", "count", 6, Kind::count},
                               {"FLOPs", "flops", 11, Kind::flops},
                               {"weights", "weight_bytes", 9, Kind::bytes},
                               {"KV/state", "cache_bytes", 9, Kind::bytes},
                               {"HBM", "hbm_bytes", 9, Kind::bytes},
                               {"time", "time_s", 9, Kind::time},
                               {"share", "share", 6, Kind::ratio_percent},
                               {"limited by", "limited_by", 10, Kind::text}},
                              false);
  std::vector<std::string> summaries;
  std::deque<Device> storage;
  for (const ModelConfig& cfg : cfgs) {
    Workload base = cfg.apply(Workload{});
    base.causal = true;
    if (cfg.max_positions != 0 && !vm.count("seq")) base.seq = std::min<std::uint64_t>(4096, cfg.max_positions);
    for (Phase phase : phases) {
      Workload w = base;
      w.phase = phase;
      storage.clear();
      for (const Point& pt : expand(vm, w, false, storage)) {
        const StackCost st = evaluate_stack(*pt.device, cfg, pt.workload, opt);
        for (const StackPart& part : st.parts) {
          Record r;
          r.emplace_back("model", cfg.name);
          r.emplace_back("phase", std::string(to_string(phase)));
          r.emplace_back("part", part.name);
          r.emplace_back("group", std::string(to_string(part.group)));
          r.emplace_back("count", part.count);
          r.emplace_back("flops", part.flops);
          r.emplace_back("weight_bytes", part.weight_bytes);
          r.emplace_back("cache_bytes", part.cache_bytes);
          r.emplace_back("hbm_bytes", part.hbm_bytes);
          if (opt.tp > 1) r.emplace_back("link_bytes", part.link_bytes);
          r.emplace_back("time_s", part.time_s);
          r.emplace_back("share", st.time_s > 0 ? part.time_s / st.time_s : 0.0);
          r.emplace_back("limited_by", std::string(to_string(part.bound)));
          r.emplace_back("device", pt.device->key);
          r.emplace_back("batch", pt.workload.batch);
          r.emplace_back("seq", pt.workload.seq);
          r.emplace_back("kv_len", pt.workload.kv_len != 0 ? pt.workload.kv_len : pt.workload.seq);
          r.emplace_back("tp", opt.tp);
          printer->row(r);
        }
        char line[900];
        const std::string gpus = opt.tp > 1 ? " per GPU (--tp " + std::to_string(opt.tp) + ")" : std::string();
        std::snprintf(line, sizeof line,
                      "%s %s, B=%llu, %s %llu: %llu tokens in %s (%s per token, %.0f tokens/s); weights read %s%s; K/V cache %s%s, SSM "
                      "state %s; shares attention %.0f %%, SSM %.0f %%, MLP %.0f %%, MoE %.0f %%, other %.0f %%; needs %s of "
                      "device memory%s (weights + cache), %s %s's %s",
                      cfg.name.c_str(), std::string(to_string(phase)).c_str(), static_cast<unsigned long long>(pt.workload.batch),
                      phase == Phase::decode ? "context" : "seq",
                      static_cast<unsigned long long>(phase == Phase::decode && pt.workload.kv_len != 0 ? pt.workload.kv_len : pt.workload.seq),
                      static_cast<unsigned long long>(st.tokens), human_time(st.time_s).c_str(),
                      human_time(st.tokens ? st.time_s / static_cast<double>(st.tokens) : 0.0).c_str(),
                      st.time_s > 0 ? static_cast<double>(st.tokens) / st.time_s : 0.0, human_bytes(st.weight_bytes).c_str(), gpus.c_str(),
                      human_bytes(st.kv_cache_bytes).c_str(),
                      opt.kv_bits == 0 || opt.kv_bits == 16 || phase != Phase::decode
                          ? ""
                          : (" (" + std::to_string(opt.kv_bits) + "-bit" +
                             (opt.kv_group != 0 ? ", scale and zero per " + std::to_string(opt.kv_group) : std::string(", one scale")) + ")")
                                .c_str(), human_bytes(st.state_bytes).c_str(), 100 * st.share(StackGroup::attention),
                      100 * st.share(StackGroup::ssm), 100 * st.share(StackGroup::mlp), 100 * st.share(StackGroup::moe),
                      100 * st.share(StackGroup::other), human_bytes(st.footprint_bytes).c_str(), gpus.c_str(),
                      st.fits ? "within" : "MORE THAN", pt.device->key.c_str(), human_bytes(pt.device->hbm_capacity_bytes).c_str());
        summaries.emplace_back(line);
        if (opt.laser.rank_fraction > 0) {
          char frac[32];
          std::snprintf(frac, sizeof frac, "%g", opt.laser.rank_fraction);
          summaries.push_back("  LASER keeps " + std::string(frac) + " of the rank of the chosen matrices: " +
                              human_count(st.laser_saved_params) + " fewer weights per GPU (Sharma et al. 2023 §3)");
        }
      }
    }
  }
  printer->end();
  if (format_of(vm) == Format::table) {
    std::cout << "\n";
    for (const ModelConfig& cfg : cfgs) std::cout << params_line(cfg) << "\n";
    for (const auto& l : summaries) std::cout << l << "\n";
    std::cout << "Layers run one after another; each kind of mixer is predicted for the layers that have it; linear layers are "
                 "cuBLAS GEMMs reading their weights once per step (MoE: the experts the step's tokens touch, E(1-(1-k/E)^T)); "
                 "norms and the embedding gather are memory passes. docs/model.md \"Whole models\".\n";
  }
  return 0;
}

// Steps of the whole model over context lengths: where does the cache (or the mixers' time)
// overtake the weights? (issue 17: "the crossing ... per model")
int print_contexts(const po::variables_map& vm, const std::vector<ModelConfig>& cfgs, Phase phase, const StackOptions& opt) {
  const auto lengths = parse_uint_list("context", vm["context"].as<std::string>(), 64);
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"model", "model", 12, Kind::text},
                               {"context", "context", 8, Kind::count},
                               {"B", "batch", 4, Kind::count},
                               {"step", "time_s", 9, Kind::time},
                               {"tokens/s", "tokens_per_s", 9, Kind::ratio},
                               {"weights", "weight_bytes", 9, Kind::bytes},
                               {"cache read", "cache_read_bytes", 10, Kind::bytes},
                               {"KV cache", "kv_cache_bytes", 9, Kind::bytes},
                               {"SSM state", "state_bytes", 9, Kind::bytes},
                               {"attn", "attention_share", 5, Kind::ratio_percent},
                               {"SSM", "ssm_share", 5, Kind::ratio_percent},
                               {"MLP", "mlp_share", 5, Kind::ratio_percent},
                               {"MoE", "moe_share", 5, Kind::ratio_percent},
                               {"weights/HBM", "weight_byte_share", 11, Kind::ratio_percent},
                               {"memory", "footprint_bytes", 9, Kind::bytes},
                               {"fits", "fits", 5, Kind::text}},
                              false);
  std::vector<std::string> crossings;
  std::deque<Device> storage;
  for (const ModelConfig& one : cfgs) {
    Workload one_base = one.apply(Workload{});
    one_base.causal = true;
    std::uint64_t crossing = 0;
    const Device* dev = nullptr;
    for (std::uint64_t n : lengths) {
      Workload w = one_base;
      w.phase = phase;
      w.seq = n;
      w.kv_len = n;
      storage.clear();
      const Point pt = expand(vm, w, false, storage).front();
      dev = pt.device;
      const StackCost st = evaluate_stack(*pt.device, one, pt.workload, opt);
      Record r;
      r.emplace_back("model", one.name);
      r.emplace_back("context", n);
      r.emplace_back("batch", pt.workload.batch);
      r.emplace_back("phase", std::string(to_string(phase)));
      r.emplace_back("tp", opt.tp);
      r.emplace_back("time_s", st.time_s);
      r.emplace_back("tokens_per_s", st.time_s > 0 ? static_cast<double>(st.tokens) / st.time_s : 0.0);
      r.emplace_back("weight_bytes", st.weight_bytes);
      r.emplace_back("cache_read_bytes", st.cache_read_bytes);
      r.emplace_back("kv_cache_bytes", st.kv_cache_bytes);
      r.emplace_back("state_bytes", st.state_bytes);
      r.emplace_back("attention_share", st.share(StackGroup::attention));
      r.emplace_back("ssm_share", st.share(StackGroup::ssm));
      r.emplace_back("mlp_share", st.share(StackGroup::mlp));
      r.emplace_back("moe_share", st.share(StackGroup::moe));
      r.emplace_back("weight_byte_share", st.hbm_bytes > 0 ? st.weight_bytes / st.hbm_bytes : 0.0);
      r.emplace_back("footprint_bytes", st.footprint_bytes);
      r.emplace_back("fits", std::string(st.fits ? "yes" : "no"));
      printer->row(r);
      if (crossing == 0 && st.cache_read_bytes > st.weight_bytes) crossing = n;
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
    for (const ModelConfig& cfg : cfgs) std::cout << params_line(cfg) << "\n";
    for (const auto& c : crossings) std::cout << c << "\n";
    std::cout << "cache read: what the mixers read from DRAM in the step (K/V cache, SSM state); attn/SSM/MLP/MoE: shares of the step's "
                 "time; weights/HBM: the weights' share of the step's DRAM bytes.\n";
  }
  return 0;
}

// The attention mixer alone per phase (the table attnio model printed before the stack model):
// the workload a config maps onto, for predict-style columns.
int print_mixer(const po::variables_map& vm, const ModelConfig& cfg) {
  Workload base = cfg.apply(Workload{});
  base.causal = true;
  if (cfg.max_positions != 0 && !vm.count("seq")) base.seq = std::min<std::uint64_t>(4096, cfg.max_positions);
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
  std::deque<Device> storage;
  const ParamCount params = count_params(cfg);
  const std::vector<Phase> phases = vm.count("phase") ? std::vector<Phase>{parse_phase(vm["phase"].as<std::string>())}
                                                      : std::vector<Phase>{Phase::prefill, Phase::decode};
  for (Phase phase : phases) {
    Workload w = base;
    w.phase = phase;
    for (const Point& pt : expand(vm, w, false, storage)) {
      const Prediction p = predict(*pt.device, pt.workload);
      Record r = to_record(*pt.device, p);
      r.insert(r.begin(), {"model", cfg.name});
      r.emplace_back("per_layer_time_s", p.predicted_time_s / static_cast<double>(p.workload.layers));
      r.emplace_back("params_total", params.total());
      r.emplace_back("params_active", params.active);
      printer->row(r);
    }
  }
  printer->end();
  if (format_of(vm) == Format::table) {
    std::cout << "\nthe " << to_string(base.variant) << " mixer of every layer" << (cfg.hybrid() ? " that has it" : "")
              << "; the whole model: drop --mixer\n";
  }
  return 0;
}

}  // namespace

int cmd_model(const std::vector<std::string>& args) {
  po::options_description desc("model options");
  desc.add_options()("config", po::value<std::vector<std::string>>()->composing(),
                     "shipped model name (attnio models) or path to a config.json; repeat it to put models side by side");
  desc.add_options()("context", po::value<std::string>(),
                     "steps at these context lengths (list or range, e.g. 1024:262144:x2): the whole step, its weights, its "
                     "cache, each layer type's share, and the context where reading the cache overtakes reading the weights");
  desc.add_options()("tp", po::value<std::string>(),
                     "tensor parallel over N GPUs (heads, channels, MLP and expert widths, vocabulary split; an all-reduce "
                     "over NVLink after each block); every figure is per GPU");
  desc.add_options()("rank-fraction", po::value<std::string>(),
                     "LASER (Sharma et al. 2023): keep this fraction of each chosen matrix's rank, as two factors (0 < R <= 1)");
  desc.add_options()("laser", po::value<std::string>(), "the matrices LASER reduces: mlp-in, mlp-out, attn-in, attn-out (comma list)");
  desc.add_options()("laser-layers", po::value<std::string>(), "the layers LASER reduces, numbered from 0 (list or range; default every layer)");
  desc.add_options()("mixer", "print only the native mixer's workload and prediction (predict's columns), per phase");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("model", "--config NAME|PATH [--config ...] [--phase P] [--context LIST] [--tp N] [--batch B] [--device D]", desc, args, vm)) {
    return 0;
  }
  if (!vm.count("config")) throw InputError("--config NAME|PATH is required");
  for (const char* f : {"heads", "kv-heads", "head-dim", "v-head-dim", "layers", "variant"}) {
    if (vm.count(f)) throw InputError("--" + std::string(f) + " comes from the config; drop it");
  }
  std::vector<ModelConfig> cfgs;
  for (const std::string& name : vm["config"].as<std::vector<std::string>>()) cfgs.push_back(find_config(name));
  StackOptions opt;
  // The K/V cache format of the attention layers in decode (the mixers' --kv-dtype, taken here so
  // that the per-variant flag check does not see it).
  if (vm.count("kv-bits") || vm.count("kv-group")) throw InputError("give the cache format as --kv-dtype fp8|int8|int4|bf16|fp16");
  if (vm.count("kv-dtype")) {
    const KvFormat f = parse_kv_dtype(vm["kv-dtype"].as<std::string>());
    opt.kv_bits = f.bits;
    opt.kv_group = f.group;
    if (vm.count("phase") && parse_phase(vm["phase"].as<std::string>()) != Phase::decode) {
      throw InputError("--kv-dtype applies to decode: prefill takes K and V from the projections, not the cache");
    }
    if (!vm.count("phase") && !vm.count("context")) throw InputError("--kv-dtype needs --phase decode");
    if (vm.count("mixer")) throw InputError("--kv-dtype with --mixer: use attnio predict --variant flash-decoding --kv-dtype ... for one mixer");
    for (const ModelConfig& c : cfgs) {
      if (c.count(Mixer::attention) + c.count(Mixer::attention_local) == 0) {
        throw InputError("--kv-dtype: " + c.name + " has no attention layers, so no K/V cache");
      }
    }
    vm.erase("kv-dtype");
  }
  if (vm.count("tp")) {
    const auto tp = parse_uint_list("tp", vm["tp"].as<std::string>(), 1);
    if (tp.front() > 1024) throw InputError("--tp " + std::to_string(tp.front()) + " is more than 1024 GPUs");
    opt.tp = tp.front();
  }
  if (vm.count("rank-fraction") || vm.count("laser") || vm.count("laser-layers")) {
    if (!vm.count("rank-fraction") || !vm.count("laser")) throw InputError("LASER needs both --rank-fraction R and --laser MATRICES");
    const std::string text = vm["rank-fraction"].as<std::string>();
    char* end = nullptr;
    const double r = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !(r > 0 && r <= 1)) {
      throw InputError("--rank-fraction must be a number in (0, 1], got '" + text + "'");
    }
    opt.laser.rank_fraction = r;
    std::string words = vm["laser"].as<std::string>();
    for (std::size_t at = 0; at <= words.size();) {
      const std::size_t comma = std::min(words.find(',', at), words.size());
      opt.laser.matrices.push_back(parse_laser_matrix(std::string_view(words).substr(at, comma - at)));
      at = comma + 1;
    }
    if (vm.count("laser-layers")) {
      opt.laser.layers = parse_layer_list(vm["laser-layers"].as<std::string>());
      for (const ModelConfig& c : cfgs) {
        for (std::uint64_t l : opt.laser.layers) {
          if (l >= c.layers) {
            throw InputError("--laser-layers " + std::to_string(l) + " is past " + c.name + "'s last layer " + std::to_string(c.layers - 1));
          }
        }
      }
    }
  }
  if (vm.count("mixer")) {
    if (cfgs.size() > 1 || vm.count("context") || vm.count("tp")) throw InputError("--mixer takes one --config, without --context or --tp");
    return print_mixer(vm, cfgs.front());
  }
  if (vm.count("context")) {
    if (vm.count("seq") || vm.count("kv-len")) throw InputError("--context gives the lengths; drop --seq/--kv-len");
    const Phase phase = vm.count("phase") ? parse_phase(vm["phase"].as<std::string>()) : Phase::decode;
    return print_contexts(vm, cfgs, phase, opt);
  }
  const std::vector<Phase> phases = vm.count("phase") ? std::vector<Phase>{parse_phase(vm["phase"].as<std::string>())}
                                                      : std::vector<Phase>{Phase::prefill, Phase::decode};
  return print_stack(vm, cfgs, phases, opt);
}

}  // namespace attnio::cli
