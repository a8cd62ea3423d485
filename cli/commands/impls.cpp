// `attnio impls`: the kernel implementation profiles (model/include/attnio/model/impl.hpp): what each
// runs, on which chips, the variants it implements, which built-in devices default to it for which
// variant, and its sources. `--head-dim D` adds the tiles and paths its kernels use at that head dim.
#include <algorithm>
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/device.hpp"
#include "attnio/model/impl.hpp"
#include "attnio/model/record.hpp"
#include "attnio/model/variant.hpp"
#include "attnio/model/workload.hpp"
#include "command_util.hpp"
#include "output.hpp"

namespace attnio::cli {

namespace {

std::string chips(const ImplProfile& p) {
  auto ver = [](int c) { return std::to_string(c / 10) + "." + std::to_string(c % 10); };
  if (p.min_cc == 0 && p.max_cc == 0) return "any";
  if (p.max_cc == 0) return "cc " + ver(p.min_cc) + "+";
  if (p.max_cc == p.min_cc) return "cc " + ver(p.min_cc);
  return "cc " + ver(p.min_cc) + "-" + ver(p.max_cc);
}

std::string joined(std::span<const std::string_view> words) {
  std::string s;
  for (std::string_view w : words) s += (s.empty() ? "" : ", ") + std::string(w);
  return s;
}

// "h100-sxm: flash2, sliding-window; a100-80gb: ..." for the built-in devices.
std::string defaults_of(const ImplProfile& p) {
  std::string s;
  for (const Device& d : builtin_devices()) {
    std::string vs;
    for (Variant v : all_variants()) {
      const bool prefill = v->prefill && &default_impl(v.name(), d, false) == &p;
      const bool decode = v->decode && &default_impl(v.name(), d, true) == &p;
      if (prefill || decode) {
        vs += (vs.empty() ? "" : " ") + std::string(v.name()) + (prefill && decode ? "" : prefill ? " (prefill)" : " (decode)");
      }
    }
    if (!vs.empty()) s += (s.empty() ? "" : "; ") + d.key + ": " + vs;
  }
  return s;
}

std::string tiles_of(const ImplProfile& p, std::uint64_t d, const Device& dev) {
  if (p.ideal) return "Alg. 1 from M";
  std::string s;
  for (const auto& [role, name] : {std::pair{KernelRole::fwd, "fwd"}, {KernelRole::bwd, "bwd"}, {KernelRole::splitkv, "split-KV"}}) {
    const KernelTraits t = p.traits(role, d, false, Dtype::bf16, dev.smem_bytes_per_sm, static_cast<int>(dev.compute_capability));
    s += (s.empty() ? "" : "; ") + std::string(name) + " " +
         (t.block_m == 0 ? std::string("Alg. 1") : std::to_string(t.block_m) + "x" + std::to_string(t.block_n)) + " " +
         std::string(to_string(t.mma)) + " " + std::to_string(t.mma_warps) + "w";
  }
  return s;
}

}  // namespace

int cmd_impls(const std::vector<std::string>& args) {
  po::options_description desc("impls options");
  desc.add_options()("head-dim", po::value<std::uint64_t>(), "also list each profile's tiles, MMA path and warps at this head dim")(
      "device", po::value<std::string>(), "the device whose shared memory and compute capability pick the tiles (default h100-sxm)");
  po::variables_map vm;
  if (!parse("impls", "[--head-dim D [--device KEY]] [--format table|csv|json]", desc, args, vm)) return 0;
  const Device& dev = vm.count("device") ? find_device(vm["device"].as<std::string>()) : default_device();
  const std::uint64_t d = vm.count("head-dim") ? vm["head-dim"].as<std::uint64_t>() : 0;
  if (vm.count("head-dim") && (d == 0 || d > 1024)) throw InputError("--head-dim must be between 1 and 1024");
  // Columns as wide as their longest entry, so that no key runs into the next column.
  int key_width = 4, name_width = 4;
  for (const ImplProfile* p : all_impls()) {
    key_width = std::max(key_width, static_cast<int>(p->key.size()));
    name_width = std::max(name_width, static_cast<int>(p->name.size()));
  }
  std::vector<Column> cols = {{"impl", "impl", key_width + 2, Kind::text}, {"chips", "chips", 11, Kind::text},
                              {"name", "name", name_width + 2, Kind::text}};
  if (d != 0) cols.push_back({"tiles (Br x Bc, MMA, warps)", "tiles", 0, Kind::text});
  else cols.push_back({"variants", "variants", 0, Kind::text});
  auto printer = make_printer(format_of(vm), std::cout, cols, false);
  for (const ImplProfile* p : all_impls()) {
    Record r;
    r.emplace_back("impl", std::string(p->key));
    r.emplace_back("chips", chips(*p));
    r.emplace_back("name", std::string(p->name));
    r.emplace_back("summary", std::string(p->summary));
    r.emplace_back("variants", joined(p->variants));
    r.emplace_back("default_for", defaults_of(*p));
    if (d != 0) r.emplace_back("tiles", tiles_of(*p, d, dev));
    r.emplace_back("sources", std::string(p->sources));
    printer->row(r);
  }
  printer->end();
  return 0;
}

}  // namespace attnio::cli
