#include "attnio/traces/trace.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"

namespace attnio::traces {

namespace {

namespace json = boost::json;

struct UintField {
  const char* key;
  std::uint64_t Workload::*member;
};
constexpr UintField kWorkloadFields[] = {
    {"batch", &Workload::batch},           {"seq", &Workload::seq},
    {"kv_len", &Workload::kv_len},         {"heads", &Workload::heads},
    {"kv_heads", &Workload::kv_heads},     {"head_dim", &Workload::head_dim},
    {"v_head_dim", &Workload::v_head_dim}, {"layers", &Workload::layers},
    {"sram_bytes", &Workload::sram_bytes},
};

// Errors name the file, the line and the field.
class Where {
public:
  Where(std::string file, std::size_t line) : file_(std::move(file)), line_(line) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("trace '" + file_ + "' line " + std::to_string(line_) + ": " + what);
  }
  const json::value& at(const json::object& o, const char* key) const {
    const json::value* v = o.if_contains(key);
    if (!v) fail("missing field '" + std::string(key) + "'");
    return *v;
  }
  std::string string(const json::object& o, const char* key) const {
    const json::value& v = at(o, key);
    if (!v.is_string()) fail("field '" + std::string(key) + "' must be a string");
    return std::string(v.get_string());
  }
  double number(const json::value& v, const std::string& key) const {
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    fail("field '" + key + "' must be a number");
  }
  std::int64_t integer(const json::value& v, const std::string& key) const {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v.get_uint64());
    if (v.is_double() && v.get_double() == std::floor(v.get_double()) && std::fabs(v.get_double()) < 9.2e18) {
      return static_cast<std::int64_t>(v.get_double());
    }
    fail("field '" + key + "' must be a whole number within 64 bits");
  }
  std::uint64_t whole(const json::value& v, const std::string& key) const {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    fail("field '" + key + "' must be a whole number");
  }
  const json::object& object(const json::value& v, const std::string& key) const {
    if (!v.is_object()) fail("field '" + key + "' must be an object");
    return v.get_object();
  }

private:
  std::string file_;
  std::size_t line_;
};

// The shape fields, then every parameter the variant declares (model/src/variants/) with its
// value or its default, so equal workloads write equal objects (record_id relies on it).
json::object workload_json(const Workload& w) {
  json::object o;
  o["variant"] = to_string(w.variant);
  o["phase"] = to_string(w.phase);
  o["pass"] = to_string(w.pass);
  o["dtype"] = to_string(w.dtype);
  o["causal"] = w.causal;
  o["l2"] = w.l2;
  for (const auto& f : kWorkloadFields) o[f.key] = w.*f.member;
  for (const ParamSpec* p : w.variant->params) {
    if (p->type == ParamType::real) o[p->key] = w.real(p->key);
    else o[p->key] = w.count(p->key);
  }
  return o;
}

Workload workload_from(const json::object& o, const Where& at) {
  Workload w;
  try {
    w.variant = parse_variant(at.string(o, "variant"));
    w.phase = parse_phase(at.string(o, "phase"));
    w.pass = parse_pass(at.string(o, "pass"));
    w.dtype = parse_dtype(at.string(o, "dtype"));
  } catch (const InputError& e) {
    at.fail(std::string("workload: ") + e.what());
  }
  const json::value& causal = at.at(o, "causal");
  if (!causal.is_bool()) at.fail("field 'workload.causal' must be true or false");
  w.causal = causal.get_bool();
  if (const json::value* l2 = o.if_contains("l2"); l2 && l2->is_bool()) w.l2 = l2->get_bool();
  for (const auto& f : kWorkloadFields) w.*f.member = at.whole(at.at(o, f.key), std::string("workload.") + f.key);
  // Variant parameters: any key some variant declares; the variant's own are kept. Version-1 traces
  // hold every parameter of every variant, with 0 for "the default".
  for (const auto& kv : o) {
    const std::string key(kv.key());
    const bool known = key == "variant" || key == "phase" || key == "pass" || key == "dtype" || key == "causal" ||
                       key == "l2" || std::any_of(std::begin(kWorkloadFields), std::end(kWorkloadFields),
                                                   [&](const UintField& f) { return key == f.key; });
    if (known) continue;
    const ParamSpec* any = find_param(key);
    if (!any) at.fail("unknown workload field '" + key + "'");
    const ParamSpec* own = variant_param(w.variant, key);
    if (any->type == ParamType::real) {
      const double v = at.number(kv.value(), "workload." + key);
      if (own) w.set_real(key, v);
    } else {
      const std::uint64_t v = at.whole(kv.value(), "workload." + key);
      if (own && (v != 0 || own->zero_is_auto)) w.set(key, v);
    }
  }
  return w;
}

json::object header_json(const Header& h) {
  json::object o;
  o["format"] = "attnio-trace";
  o["version"] = kFormatVersion;
  o["tool_version"] = h.tool_version;
  o["command"] = h.command;
  o["device"] = json::parse(device_to_json(h.device));
  o["chip"] = h.chip;
  o["driver_version"] = h.driver_version;
  o["cuda_version"] = h.cuda_version;
  o["cupti_version"] = h.cupti_version;
  json::object clocks;
  for (const auto& [k, v] : h.clocks) clocks[k] = v;
  o["clocks"] = std::move(clocks);
  o["note"] = h.note;
  return o;
}

Header header_from(const json::object& o, const Where& at) {
  if (at.string(o, "format") != "attnio-trace") at.fail("not an attnio trace header (field 'format')");
  const std::uint64_t version = at.whole(at.at(o, "version"), "version");
  if (version > static_cast<std::uint64_t>(kFormatVersion)) {
    at.fail("format version " + std::to_string(version) + " is newer than this attnio reads (" +
            std::to_string(kFormatVersion) + ")");
  }
  Header h;
  h.tool_version = at.string(o, "tool_version");
  h.command = at.string(o, "command");
  try {
    h.device = device_from_json(json::serialize(at.object(at.at(o, "device"), "device")), "device");
  } catch (const InputError& e) {
    at.fail(std::string("field 'device': ") + e.what());
  }
  h.chip = at.string(o, "chip");
  h.driver_version = at.string(o, "driver_version");
  h.cuda_version = at.string(o, "cuda_version");
  h.cupti_version = at.string(o, "cupti_version");
  for (const auto& kv : at.object(at.at(o, "clocks"), "clocks")) {
    h.clocks[std::string(kv.key())] = at.number(kv.value(), "clocks." + std::string(kv.key()));
  }
  if (const json::value* n = o.if_contains("note"); n && n->is_string()) h.note = std::string(n->get_string());
  return h;
}

json::object record_json(const Record& r) {
  json::object o;
  o["type"] = "record";
  o["id"] = r.id;
  o["status"] = r.status;
  if (!r.error.empty()) o["error"] = r.error;
  o["kernel"] = r.kernel;
  o["workload"] = workload_json(r.workload);
  json::object launch;
  for (const auto& [k, v] : r.launch) launch[k] = v;
  o["launch"] = std::move(launch);
  json::array metrics;
  for (const Metric& m : r.metrics) metrics.push_back(json::object{{"name", m.name}, {"unit", m.unit}, {"value", m.value}});
  o["metrics"] = std::move(metrics);
  o["counter_data"] = r.counter_data;
  o["config_image"] = r.config_image;
  json::object pred;
  for (const auto& [k, v] : r.prediction) pred[k] = v;
  o["prediction"] = std::move(pred);
  return o;
}

Record record_from(const json::object& o, const Where& at, std::uint64_t version) {
  if (at.string(o, "type") != "record") at.fail("field 'type' must be \"record\"");
  Record r;
  r.id = at.string(o, "id");
  r.status = at.string(o, "status");
  if (r.status != "ok" && r.status != "failed") at.fail("field 'status' must be \"ok\" or \"failed\"");
  if (const json::value* e = o.if_contains("error"); e && e->is_string()) r.error = std::string(e->get_string());
  r.kernel = at.string(o, "kernel");
  r.workload = workload_from(at.object(at.at(o, "workload"), "workload"), at);
  // Version 1 ids serialized every parameter of every variant; ids are now canonical per variant.
  if (version < 2) r.id = record_id(r.workload, r.kernel);
  for (const auto& kv : at.object(at.at(o, "launch"), "launch")) {
    r.launch[std::string(kv.key())] = at.integer(kv.value(), "launch." + std::string(kv.key()));
  }
  const json::value& metrics = at.at(o, "metrics");
  if (!metrics.is_array()) at.fail("field 'metrics' must be an array");
  for (const json::value& m : metrics.get_array()) {
    const json::object& mo = at.object(m, "metrics[]");
    r.metrics.push_back({at.string(mo, "name"), at.string(mo, "unit"), at.number(at.at(mo, "value"), "metrics[].value")});
  }
  r.counter_data = at.string(o, "counter_data");
  r.config_image = at.string(o, "config_image");
  try {
    base64_decode(r.counter_data);
    base64_decode(r.config_image);
  } catch (const InputError& e) {
    at.fail(std::string("field 'counter_data' or 'config_image': ") + e.what());
  }
  for (const auto& kv : at.object(at.at(o, "prediction"), "prediction")) {
    r.prediction[std::string(kv.key())] = at.number(kv.value(), "prediction." + std::string(kv.key()));
  }
  return r;
}

void same_machine(const Header& a, const Header& b, const std::string& what) {
  if (a.device.key != b.device.key || a.chip != b.chip) {
    throw InputError(what + ": device '" + b.device.key + "' / chip '" + b.chip + "' differs from '" + a.device.key +
                     "' / '" + a.chip + "'");
  }
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::optional<double> Record::metric(const std::string& name) const {
  for (const Metric& m : metrics) {
    if (m.name == name) return m.value;
  }
  return std::nullopt;
}

std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint32_t>(bytes[i]) << 16) |
                            (i + 1 < bytes.size() ? static_cast<std::uint32_t>(bytes[i + 1]) << 8 : 0) |
                            (i + 2 < bytes.size() ? bytes[i + 2] : 0);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::vector<std::uint8_t> base64_decode(const std::string& text) {
  if (text.size() % 4 != 0) throw InputError("base64 length " + std::to_string(text.size()) + " is not a multiple of 4");
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t n = 0;
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      int v;
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v = 0;
        ++pad;
      } else if (pad > 0) {
        throw InputError("base64 padding in the middle");
      } else if (const char* p = std::strchr(kAlphabet, c); p && c != '\0') {
        v = static_cast<int>(p - kAlphabet);
      } else {
        throw InputError(std::string("base64 character '") + c + "'");
      }
      n = (n << 6) | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>((n >> 8) & 255));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(n & 255));
  }
  return out;
}

std::string record_id(const Workload& w, const std::string& kernel) {
  json::object o = workload_json(w);
  o["kernel"] = kernel;
  return json::serialize(o);
}

Trace read_trace(const std::string& path) {
  return parse_trace(read_input_file(path, "trace", std::uint64_t{64} << 30), path);
}

Trace parse_trace(const std::string& text, const std::string& path) {
  if (text.empty()) throw InputError("trace '" + path + "': empty file");
  if (text.back() != '\n') {
    const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    throw InputError("trace '" + path + "' line " + std::to_string(lines) + ": truncated (no end of line)");
  }
  Trace t;
  std::istringstream lines(text);
  std::string line;
  std::size_t n = 0;
  std::set<std::string> ids;
  std::uint64_t version = 0;
  while (std::getline(lines, line)) {
    ++n;
    const Where at(path, n);
    json::value v;
    boost::system::error_code ec;
    v = json::parse(line, ec);
    if (ec) at.fail("not valid JSON (" + ec.message() + ")");
    if (!v.is_object()) at.fail("a line must be a JSON object");
    if (n == 1) {
      t.header = header_from(v.get_object(), at);
      version = at.whole(at.at(v.get_object(), "version"), "version");
      continue;
    }
    Record r = record_from(v.get_object(), at, version);
    if (!ids.insert(r.id).second) at.fail("record id repeats an earlier record");
    t.records.push_back(std::move(r));
  }
  return t;
}

Writer::Writer(const std::string& path, const Header& header, bool resume) : path_(path) {
  std::string text;  // the existing file, read once
  if (std::ifstream in(path, std::ios::binary); in) text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!text.empty() && !resume) throw InputError("trace '" + path + "' exists; pass --resume to continue it or choose another file");
  if (!text.empty() && text.back() != '\n') {
    // A run killed in the middle of a write leaves an unfinished last line: every line before it is
    // a whole record (each is written and flushed as one piece), so cut the tail and go on.
    const std::size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    std::error_code ec;
    std::filesystem::resize_file(path, keep, ec);
    if (ec) throw InputError("trace '" + path + "': cannot cut its unfinished last line (" + ec.message() + ")");
    repaired_ = "dropped an unfinished last line (" + std::to_string(text.size() - keep) +
                " bytes) left by an interrupted run; that point is measured again";
    text.resize(keep);
  }
  const bool has_lines = !text.empty();
  if (has_lines) {
    const Trace old = parse_trace(text, path);
    same_machine(old.header, header, "resume '" + path + "'");
    for (const Record& r : old.records) done_.push_back(r.id);
  }
  out_.open(path, std::ios::app | std::ios::binary);
  if (!out_) throw InputError("trace '" + path + "': cannot write");
  if (!has_lines) write_line(json::serialize(header_json(header)));
}

void Writer::write_line(std::string line) {
  // One write of the whole line, then a flush: a kill leaves at most one unfinished line.
  line.push_back('\n');
  out_.write(line.data(), static_cast<std::streamsize>(line.size()));
  out_.flush();
  if (!out_) throw InputError("trace '" + path_ + "': write failed");
}

void Writer::append(const Record& r) { write_line(json::serialize(record_json(r))); }

Trace merge(const std::vector<Trace>& shards) {
  if (shards.empty()) throw InputError("merge: no traces given");
  Trace out;
  out.header = shards.front().header;
  std::set<std::string> ids;
  for (std::size_t s = 0; s < shards.size(); ++s) {
    same_machine(out.header, shards[s].header, "merge shard " + std::to_string(s + 1));
    for (const Record& r : shards[s].records) {
      if (!ids.insert(r.id).second) {
        throw InputError("merge shard " + std::to_string(s + 1) + ": record of kernel '" + r.kernel + "' appears twice");
      }
      out.records.push_back(r);
    }
  }
  return out;
}

void write_trace(const std::string& path, const Trace& t) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError("trace '" + path + "': cannot write");
  out << json::serialize(header_json(t.header)) << '\n';
  for (const Record& r : t.records) out << json::serialize(record_json(r)) << '\n';
  if (!out.flush()) throw InputError("trace '" + path + "': write failed");
}

}  // namespace attnio::traces
