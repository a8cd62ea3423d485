// `attnio models`: the shipped model configs.
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/hf_config.hpp"
#include "attnio/model/record.hpp"
#include "command_util.hpp"
#include "output.hpp"

namespace attnio::cli {

int cmd_models(const std::vector<std::string>& args) {
  po::options_description desc("models options");
  po::variables_map vm;
  if (!parse("models", "[--format table|csv|json]", desc, args, vm)) return 0;
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"name", "name", 14, Kind::text},
                               {"native mixer", "variant", 14, Kind::text},
                               {"layers", "layers", 6, Kind::count},
                               {"H", "heads", 4, Kind::count},
                               {"Hkv", "kv_heads", 4, Kind::count},
                               {"d", "head_dim", 4, Kind::count},
                               {"layers by kind", "layout", 46, Kind::text},
                               {"description", "description", 0, Kind::text}},
                              false);
  for (const auto& s : shipped_configs()) {
    const ModelConfig c = find_config(std::string(s.name));
    Record r;
    r.emplace_back("name", std::string(s.name));
    r.emplace_back("variant", std::string(to_string(c.native_variant)));
    r.emplace_back("layers", c.layers);
    r.emplace_back("heads", c.heads);
    r.emplace_back("kv_heads", c.kv_heads);
    r.emplace_back("head_dim", c.head_dim);
    r.emplace_back("layout", layout_summary(c));
    r.emplace_back("description", std::string(s.description));
    printer->row(r);
  }
  printer->end();
  return 0;
}

}  // namespace attnio::cli
