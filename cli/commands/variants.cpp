// `attnio variants`: every registered variant with what it computes, where it applies, its
// parameters and their defaults, its kernels and its sources, straight from the declarations
// (model/src/variants/). `--markdown` prints README's variants table (tests/test_registry.cpp checks
// that README holds exactly this).
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/record.hpp"
#include "attnio/model/variant.hpp"
#include "attnio/model/workload.hpp"
#include "command_util.hpp"
#include "output.hpp"

namespace attnio::cli {

namespace {

std::string phases(const VariantDescriptor& v) {
  return v.prefill && v.decode ? "prefill, decode" : v.prefill ? "prefill" : "decode";
}
std::string passes(const VariantDescriptor& v) { return v.backward ? "fwd, bwd, fwdbwd" : "fwd"; }

std::string parameters(const VariantDescriptor& v) {
  std::string s;
  for (const ParamSpec* p : v.params) {
    // Numbers as they are, rules in parentheses: "--window=4096", "--block-m=(FlashAttention Alg. 1 from M)".
    const std::string d(p->default_text);
    const bool number = !d.empty() && d.find_first_not_of("0123456789.") == std::string::npos;
    s += (s.empty() ? "" : "; ") + std::string("--") + flag_name(*p) + "=" + (number ? d : "(" + d + ")");
  }
  return s;
}

std::string kernels(const VariantDescriptor& v) {
  std::string s;
  for (std::string_view k : {v.kernel_fwd, v.kernel_bwd, v.kernel_decode}) {
    if (!k.empty()) s += (s.empty() ? "" : ", ") + std::string(k);
  }
  return s;
}

Record record_of(Variant v) {
  Record r;
  r.emplace_back("variant", std::string(v.name()));
  r.emplace_back("summary", std::string(v->summary));
  r.emplace_back("phases", phases(*v));
  r.emplace_back("passes", passes(*v));
  r.emplace_back("parameters", parameters(*v));
  r.emplace_back("tile_schedule", v->schedule != nullptr);
  r.emplace_back("kernels", kernels(*v));
  r.emplace_back("sources", std::string(v->sources));
  return r;
}

// A table cell: '|' would end the cell.
std::string cell(std::string s) {
  for (std::size_t at = s.find('|'); at != std::string::npos; at = s.find('|', at + 2)) s.replace(at, 1, "\\|");
  return s;
}

}  // namespace

int cmd_variants(const std::vector<std::string>& args) {
  po::options_description desc("variants options");
  desc.add_options()("markdown", "print README's variants table (Markdown)");
  po::variables_map vm;
  if (!parse("variants", "[--format table|csv|json | --markdown]", desc, args, vm)) return 0;
  if (vm.count("markdown")) {
    std::cout << "| variant | what it computes | phases | passes | parameters (default) | simulated | CUDA kernels | sources |\n"
                 "|---|---|---|---|---|---|---|---|\n";
    for (Variant v : all_variants()) {
      std::cout << "| `" << v.name() << "` | " << cell(std::string(v->summary)) << " | " << phases(*v) << " | "
                << passes(*v) << " | " << cell(parameters(*v)) << " | " << (v->schedule ? "yes" : "no") << " | "
                << cell(kernels(*v)) << " | " << cell(std::string(v->sources)) << " |\n";
    }
    return 0;
  }
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"variant", "variant", 15, Kind::text},
                               {"phases", "phases", 16, Kind::text},
                               {"passes", "passes", 17, Kind::text},
                               {"parameters (default)", "parameters", 0, Kind::text}},
                              false);
  for (Variant v : all_variants()) printer->row(record_of(v));
  printer->end();
  return 0;
}

}  // namespace attnio::cli
