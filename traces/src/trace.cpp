#include "attnio/traces/trace.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
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
  if (w.dirty_l2) o["l2_start"] = "dirty";  // only when set: traces written before it stay as they were
  if (w.accumulate_grads) o["grads"] = "accumulate";  // likewise
  for (const auto& f : kWorkloadFields) o[f.key] = w.*f.member;
  if (w.impl != nullptr) o["impl"] = w.impl->key;  // only when chosen: profile ids stay as in version 2
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
  if (const json::value* start = o.if_contains("l2_start")) {
    if (!start->is_string() || (start->get_string() != "clean" && start->get_string() != "dirty")) {
      at.fail("field 'workload.l2_start' must be \"clean\" or \"dirty\"");
    }
    w.dirty_l2 = start->get_string() == "dirty";
  }
  if (const json::value* grads = o.if_contains("grads")) {
    if (!grads->is_string() || (grads->get_string() != "fresh" && grads->get_string() != "accumulate")) {
      at.fail("field 'workload.grads' must be \"fresh\" or \"accumulate\"");
    }
    w.accumulate_grads = grads->get_string() == "accumulate";
  }
  if (const json::value* impl = o.if_contains("impl")) {
    if (!impl->is_string()) at.fail("field 'workload.impl' must be a string");
    w.impl = find_impl_or_null(std::string(impl->get_string()));
    if (w.impl == nullptr) at.fail("workload.impl: unknown implementation '" + std::string(impl->get_string()) + "'");
  }
  for (const auto& f : kWorkloadFields) w.*f.member = at.whole(at.at(o, f.key), std::string("workload.") + f.key);
  // Variant parameters: any key some variant declares; the variant's own are kept. Version-1 traces
  // hold every parameter of every variant, with 0 for "the default".
  for (const auto& kv : o) {
    const std::string key(kv.key());
    const bool known = key == "variant" || key == "phase" || key == "pass" || key == "dtype" || key == "causal" ||
                       key == "l2" || key == "l2_start" || key == "grads" || key == "impl" || std::any_of(std::begin(kWorkloadFields), std::end(kWorkloadFields),
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
  if (!h.campaign.kind.empty()) {
    const CampaignInfo& c = h.campaign;
    json::object co;
    co["kind"] = c.kind;
    co["plan_hash"] = c.plan_hash;
    co["plan_points"] = c.plan_points;
    co["shard"] = json::array{c.shard_index, c.shard_count};
    json::array pts;
    for (std::uint64_t i : c.shard_points) pts.push_back(i);
    co["shard_points"] = std::move(pts);
    json::array devs;
    for (const Device& d : c.devices) devs.push_back(json::parse(device_to_json(d)));
    co["devices"] = std::move(devs);
    o["campaign"] = std::move(co);
  }
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
  if (const json::value* cv = o.if_contains("campaign")) {
    const json::object& co = at.object(*cv, "campaign");
    CampaignInfo& c = h.campaign;
    c.kind = at.string(co, "kind");
    if (c.kind != "profile" && c.kind != "predict" && c.kind != "simulate") {
      at.fail("field 'campaign.kind' must be profile, predict or simulate");
    }
    c.plan_hash = at.string(co, "plan_hash");
    c.plan_points = at.whole(at.at(co, "plan_points"), "campaign.plan_points");
    const json::value& sh = at.at(co, "shard");
    if (!sh.is_array() || sh.get_array().size() != 2) at.fail("field 'campaign.shard' must be [index, count]");
    c.shard_index = at.whole(sh.get_array()[0], "campaign.shard");
    c.shard_count = at.whole(sh.get_array()[1], "campaign.shard");
    if (c.shard_count == 0 || c.shard_index >= c.shard_count) at.fail("field 'campaign.shard': index must be below count");
    const json::value& pts = at.at(co, "shard_points");
    if (!pts.is_array()) at.fail("field 'campaign.shard_points' must be an array");
    for (const json::value& v : pts.get_array()) {
      const std::uint64_t i = at.whole(v, "campaign.shard_points[]");
      if (i >= c.plan_points) at.fail("field 'campaign.shard_points': index " + std::to_string(i) + " is past the plan");
      c.shard_points.push_back(i);
    }
    const json::value& devs = at.at(co, "devices");
    if (!devs.is_array()) at.fail("field 'campaign.devices' must be an array");
    for (const json::value& d : devs.get_array()) {
      try {
        c.devices.push_back(device_from_json(json::serialize(at.object(d, "campaign.devices[]")), "campaign.devices[]"));
      } catch (const InputError& e) {
        at.fail(std::string("field 'campaign.devices': ") + e.what());
      }
    }
  }
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
  if (r.point >= 0) o["point"] = r.point;
  if (!r.device.empty()) o["device"] = r.device;
  if (!r.simulation.empty()) {
    json::object sim;
    for (const auto& [k, v] : r.simulation) sim[k] = v;
    o["simulation"] = std::move(sim);
  }
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
  if (const json::value* p = o.if_contains("point")) r.point = at.integer(*p, "point");
  if (const json::value* d = o.if_contains("device")) {
    if (!d->is_string()) at.fail("field 'device' must be a string");
    r.device = std::string(d->get_string());
  }
  if (const json::value* sv = o.if_contains("simulation")) {
    for (const auto& kv : at.object(*sv, "simulation")) {
      r.simulation[std::string(kv.key())] = at.number(kv.value(), "simulation." + std::string(kv.key()));
    }
  }
  return r;
}

// A record's line: as read (current version), else written afresh.
std::string record_text(const Record& r) { return r.line.empty() ? json::serialize(record_json(r)) : r.line; }

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

std::string record_id(const Workload& w, const std::string& kernel, const std::string& device) {
  json::object o = workload_json(w);
  o["kernel"] = kernel;
  if (!device.empty()) o["device"] = device;
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
    if (version == static_cast<std::uint64_t>(kFormatVersion)) r.line = line;
    const CampaignInfo& c = t.header.campaign;
    if (!c.kind.empty() && (r.point < 0 || static_cast<std::uint64_t>(r.point) >= c.plan_points)) {
      at.fail("field 'point' must be a plan index below " + std::to_string(c.plan_points));
    }
    if (!r.device.empty()) {
      try {
        record_device(t.header, r);
      } catch (const InputError& e) {
        at.fail(e.what());
      }
    }
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
    const CampaignInfo &was = old.header.campaign, &now = header.campaign;
    if (was.kind != now.kind || was.plan_hash != now.plan_hash) {
      throw InputError("resume '" + path + "': its plan (" + (was.kind.empty() ? "none" : was.kind + " " + was.plan_hash) +
                       ") differs from this run's (" + (now.kind.empty() ? "none" : now.kind + " " + now.plan_hash) +
                       "): the spec, flags or attnio changed; write to a new file or folder");
    }
    if (was.shard_index != now.shard_index || was.shard_count != now.shard_count) {
      throw InputError("resume '" + path + "': it holds shard " + std::to_string(was.shard_index) + "/" + std::to_string(was.shard_count) +
                       ", this run is shard " + std::to_string(now.shard_index) + "/" + std::to_string(now.shard_count));
    }
    if (was.shard_points != now.shard_points) {
      throw InputError("resume '" + path + "': the points dealt to shard " + std::to_string(now.shard_index) +
                       " differ from this run's (another attnio version's cost model?); run the campaign with the attnio "
                       "that began it (" + old.header.tool_version + ")");
    }
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
  const CampaignInfo& plan = out.header.campaign;
  std::uint64_t count = 0;  // the shard count of the inputs that are shards (not merged files)
  std::map<std::string, std::size_t> at;  // record id -> index in out.records
  for (std::size_t s = 0; s < shards.size(); ++s) {
    const std::string which = "merge input " + std::to_string(s + 1);
    const Header& h = shards[s].header;
    same_machine(out.header, h, which);
    if (h.campaign.kind != plan.kind || h.campaign.plan_hash != plan.plan_hash) {
      throw InputError(which + ": plan " + (h.campaign.kind.empty() ? "(none)" : h.campaign.kind + " " + h.campaign.plan_hash) +
                       " differs from input 1's " + (plan.kind.empty() ? "(none)" : plan.kind + " " + plan.plan_hash) +
                       ": these are shards of different campaigns");
    }
    if (!plan.kind.empty() && h.campaign.shard_count > 1) {
      if (count != 0 && count != h.campaign.shard_count) {
        throw InputError(which + ": shard of " + std::to_string(h.campaign.shard_count) + " where an earlier input is a shard of " +
                         std::to_string(count));
      }
      count = h.campaign.shard_count;
    }
    for (const Record& r : shards[s].records) {
      const auto [it, fresh] = at.emplace(r.id, out.records.size());
      if (fresh) {
        out.records.push_back(r);
      } else if (record_text(out.records[it->second]) != record_text(r)) {
        throw InputError(which + ": record of " + (r.point >= 0 ? "point #" + std::to_string(r.point) : "kernel '" + r.kernel + "'") +
                         " appears twice with different results");
      }
    }
  }
  if (!plan.kind.empty()) {
    // The merged campaign is shard 0 of 1 of the same plan, so it can be merged or resumed again.
    out.header.campaign.shard_index = 0;
    out.header.campaign.shard_count = 1;
    out.header.campaign.shard_points.clear();
    for (std::uint64_t i = 0; i < plan.plan_points; ++i) out.header.campaign.shard_points.push_back(i);
    std::stable_sort(out.records.begin(), out.records.end(), [](const Record& a, const Record& b) { return a.point < b.point; });
  }
  return out;
}

Coverage coverage(const std::vector<Trace>& traces) {
  Coverage c;
  if (traces.empty()) return c;
  c.plan_points = traces.front().header.campaign.plan_points;
  std::set<std::uint64_t> dealt, recorded, present;
  std::uint64_t count = 1;
  bool whole = false;
  for (const Trace& t : traces) {
    const CampaignInfo& info = t.header.campaign;
    dealt.insert(info.shard_points.begin(), info.shard_points.end());
    if (info.shard_count == 1) whole = true;
    else count = info.shard_count;
    present.insert(info.shard_index);
    for (const Record& r : t.records) {
      if (r.point < 0 || !recorded.insert(static_cast<std::uint64_t>(r.point)).second) continue;
      if (r.status != "ok") ++c.failed;
    }
  }
  c.recorded = recorded.size();
  for (std::uint64_t i : dealt) {
    if (!recorded.count(i)) c.missing.push_back(i);
  }
  if (!whole) {
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!present.count(i)) c.absent_shards.push_back(i);
    }
  }
  c.unaccounted = c.plan_points > dealt.size() ? c.plan_points - dealt.size() : 0;
  return c;
}

const Device& record_device(const Header& h, const Record& r) {
  if (r.device.empty() || r.device == h.device.key) return h.device;
  for (const Device& d : h.campaign.devices) {
    if (d.key == r.device) return d;
  }
  throw InputError("record of point #" + std::to_string(r.point) + ": device '" + r.device + "' is not in the header's campaign devices");
}

void write_trace(const std::string& path, const Trace& t) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError("trace '" + path + "': cannot write");
  out << json::serialize(header_json(t.header)) << '\n';
  for (const Record& r : t.records) out << record_text(r) << '\n';
  if (!out.flush()) throw InputError("trace '" + path + "': write failed");
}

}  // namespace attnio::traces
