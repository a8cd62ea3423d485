// `attnio merge OUT IN...`: shards of one sweep or campaign into one trace. For a campaign it then
// checks the result against the plan: exit 0 when every point has a record, 4 (with the missing
// points by id) when some are missing.
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/traces/trace.hpp"
#include "command_util.hpp"

namespace attnio::cli {

int cmd_merge(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: attnio merge OUT.jsonl SHARD.jsonl...\n\n"
                 "Joins the shards of one sweep or campaign. Shards of different plans are refused; a record present\n"
                 "twice with the same result is kept once, so merging again (or a merged file with its shards) gives\n"
                 "the same trace. For a campaign the merged trace is written even when points are missing; the exit\n"
                 "status is then " << kExitIncomplete << " and the missing points are listed by id (#plan index).\n";
    return 0;
  }
  if (args.size() < 2) throw InputError("merge: give the output file and at least one shard");
  const std::vector<std::string> paths(args.begin() + 1, args.end());
  std::vector<traces::Trace> shards;
  for (const auto& path : paths) shards.push_back(traces::read_trace(path));
  const traces::Trace t = traces::merge(shards);
  traces::write_trace(args[0], t);
  std::cout << "merged " << t.records.size() << " records from " << paths.size() << " file(s) into " << args[0] << "\n";
  if (t.header.campaign.kind.empty()) return 0;
  return report_coverage(traces::coverage(shards), std::cout);
}

}  // namespace attnio::cli
