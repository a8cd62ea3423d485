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

// 2: a record's workload holds the parameters its variant declares (1: every variant's).
inline constexpr int kFormatVersion = 2;

struct Header {
  std::string tool_version;
  std::string command;     // the exact command line that made the trace
  Device device;           // with measured ceilings, when `attnio ceilings` ran
  std::string chip;        // CUPTI chip name, e.g. GH100 (for offline metric evaluation)
  std::string driver_version, cuda_version, cupti_version;
  std::map<std::string, double> clocks;  // e.g. sm_clock_hz, memory_clock_hz
  std::string note;        // free text, e.g. "hand-made fixture" for test traces
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

// Joins shards of one sweep: same device and chip; a record id present twice is an error.
Trace merge(const std::vector<Trace>& shards);
void write_trace(const std::string& path, const Trace& t);

// The canonical id of a sweep point: variant, workload fields and kernel, stable across runs.
std::string record_id(const Workload& w, const std::string& kernel);

std::string base64_encode(const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> base64_decode(const std::string& text);  // throws InputError on bad input

}  // namespace attnio::traces
