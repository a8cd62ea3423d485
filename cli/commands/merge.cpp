// `attnio merge OUT IN...`: shards of one sweep into one trace.
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/traces/trace.hpp"
#include "command_util.hpp"

namespace attnio::cli {

int cmd_merge(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: attnio merge OUT.jsonl SHARD.jsonl...\n";
    return 0;
  }
  if (args.size() < 2) throw InputError("merge: give the output file and at least one shard");
  const std::vector<std::string> shards(args.begin() + 1, args.end());
  const traces::Trace t = read_merged(shards);
  traces::write_trace(args[0], t);
  std::cout << "merged " << t.records.size() << " records from " << shards.size() << " shards into " << args[0] << "\n";
  return 0;
}

}  // namespace attnio::cli
