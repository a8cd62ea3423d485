// attnio trace files (format version 2; version 1 is read too): JSON Lines. The first line is the header, every later
// line one record, written and flushed as its run finishes, so a sweep killed midway keeps every
// finished record and --resume can skip them. Schema: traces/README.md. Depends on model/ only.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/workload.hpp"

namespace attnio::traces {

// 3: campaign headers (plan hash, shard, the points dealt to it), records' plan index, device and
// simulator figures; 2: a record's workload holds the parameters its variant declares (1: every
// variant's). Older versions are read too.
inline constexpr int kFormatVersion = 3;

// A campaign's header section (attnio profile, attnio sweep --out): which plan, which shard of it.
struct CampaignInfo {
  std::string kind;                 // "profile", "predict" or "simulate"; "" when not a campaign
  std::string plan_hash;            // 16 hex digits over the expanded plan (campaign.hpp plan_hash)
  std::uint64_t plan_points = 0;    // points in the whole plan
  std::uint64_t shard_index = 0, shard_count = 1;
  std::vector<std::uint64_t> shard_points;  // plan indices dealt to this shard, in run order
  std::vector<Device> devices;      // sweep campaigns: the plan's devices (records name theirs)
};

struct Header {
  std::string tool_version;
  std::string command;     // the exact command line that made the trace
  Device device;           // with measured ceilings, when `attnio ceilings` ran
  std::string chip;        // CUPTI chip name, e.g. GH100 (for offline metric evaluation)
  std::string driver_version, cuda_version, cupti_version;
  std::map<std::string, double> clocks;  // e.g. sm_clock_hz, memory_clock_hz
  std::string note;        // free text, e.g. "hand-made fixture" for test traces
  CampaignInfo campaign;
};

struct Metric {
  std::string name, unit;
  double value = 0;
};

struct Record {
  std::string id;          // unique within a sweep: the point's workload and kernel
  std::string status = "ok";  // "ok" or "failed"
  std::string error;       // why it failed
  Workload workload;
  std::string kernel;      // kernel (family) name
  std::map<std::string, std::int64_t> launch;  // grid_x, block_x, shared_bytes, ...
  std::vector<Metric> metrics;
  std::string counter_data;  // raw CUPTI counter-data image, base64
  std::string config_image;  // CUPTI config image, base64
  std::map<std::string, double> prediction;  // the model's numbers when recorded
  std::int64_t point = -1;   // campaigns: the point's index in the plan (its short id)
  std::string device;        // sweep campaigns: the device's key (one of header.campaign.devices)
  std::map<std::string, double> simulation;  // simulate campaigns: the tile simulator's figures
  // The line as read from a file of the current format version: merge writes and compares it
  // as it is, since Boost.JSON 1.81 may read a double 1 ulp off its shortest written form.
  std::string line;

  std::optional<double> metric(const std::string& name) const;
};

struct Trace {
  Header header;
  std::vector<Record> records;
};

// Reads a whole trace. Throws InputError naming the file, the line and the field for malformed
// JSON, missing or mistyped fields, a truncated last line, or a newer format version.
Trace read_trace(const std::string& path);
// The same for a trace already read; `path` only names it in messages.
Trace parse_trace(const std::string& text, const std::string& path);

// Appends records to a trace, one flushed line each. A new file gets the header first; an existing
// one (resume) must carry the same device and chip, and its record ids are returned by `done()`.
class Writer {
public:
  Writer(const std::string& path, const Header& header, bool resume);
  void append(const Record& r);
  const std::vector<std::string>& done() const { return done_; }
  // Non-empty when resume had to cut an unfinished last line (a killed run); says what was cut.
  const std::string& repaired() const { return repaired_; }

private:
  void write_line(std::string line);

  std::string path_;
  std::ofstream out_;
  std::vector<std::string> done_;
  std::string repaired_;
};

// Joins shards of one sweep: same device and chip, and for campaigns the same kind and plan hash
// (else InputError naming the shard). A record id present twice with the same content is kept once
// (merging a merged trace with its shards again gives the same trace); with different content it
// is an error. A merged campaign is shard 0 of 1: every plan point, records in plan order.
Trace merge(const std::vector<Trace>& shards);

// What a set of campaign shards holds against its plan: the plan indices with no record, and the
// shards (of shard_count) that are absent, whose dealt points are unknown to the files.
struct Coverage {
  std::uint64_t plan_points = 0, recorded = 0, failed = 0;
  std::vector<std::uint64_t> missing;        // indices dealt to a present shard, with no record
  std::vector<std::uint64_t> absent_shards;  // shard indices with no file
  std::uint64_t unaccounted = 0;             // points of absent shards (plan_points - dealt)
  bool complete() const { return missing.empty() && absent_shards.empty() && unaccounted == 0; }
};
// `traces` must be of one campaign (call merge first to check that).
Coverage coverage(const std::vector<Trace>& traces);

// The device a record was evaluated on: its own (sweep campaigns) or the header's.
const Device& record_device(const Header& h, const Record& r);
void write_trace(const std::string& path, const Trace& t);

// The canonical id of a sweep point: variant, workload fields (with a chosen implementation) and
// kernel, stable across runs; with `device` (sweep campaigns over several devices) its key too.
std::string record_id(const Workload& w, const std::string& kernel, const std::string& device = "");

std::string base64_encode(const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> base64_decode(const std::string& text);  // throws InputError on bad input

}  // namespace attnio::traces
