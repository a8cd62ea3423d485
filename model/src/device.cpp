#include "attnio/model/device.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"

namespace attnio {

namespace {

namespace json = boost::json;

// Keys of the device JSON schema, in output order.
struct NumberField {
  const char* key;
  double Device::*member;
  bool required;
  bool may_be_zero;
  double max;   // beyond any real GPU by orders of magnitude; keeps later integer casts exact
  bool whole;   // a byte count
  bool omit_zero = false;  // an optional execution-model figure: written only when a source gives it
};
constexpr double kMaxRate = 1e20;  // per second: 100 EFLOP/s or 100 EB/s
constexpr NumberField kNumberFields[] = {
    {"clock_hz", &Device::clock_hz, true, false, 1e11, false},
    {"hbm_bytes_per_s", &Device::hbm_bytes_per_s, true, false, kMaxRate, false},
    {"hbm_capacity_bytes", &Device::hbm_capacity_bytes, true, false, 0x1p50, true},
    {"l2_bytes", &Device::l2_bytes, true, false, 0x1p40, true},
    {"l2_bytes_per_s", &Device::l2_bytes_per_s, true, false, kMaxRate, false},
    {"smem_bytes_per_sm", &Device::smem_bytes_per_sm, true, false, 0x1p32, true},
    {"sram_bytes_per_s", &Device::sram_bytes_per_s, true, false, kMaxRate, false},
    {"register_file_bytes_per_sm", &Device::register_file_bytes_per_sm, true, false, 0x1p32, true},
    {"bf16_tensor_flops_per_s", &Device::bf16_tensor_flops_per_s, true, false, kMaxRate, false},
    {"fp16_tensor_flops_per_s", &Device::fp16_tensor_flops_per_s, true, false, kMaxRate, false},
    {"fp8_tensor_flops_per_s", &Device::fp8_tensor_flops_per_s, false, true, kMaxRate, false},
    {"tf32_tensor_flops_per_s", &Device::tf32_tensor_flops_per_s, true, false, kMaxRate, false},
    {"fp32_flops_per_s", &Device::fp32_flops_per_s, true, false, kMaxRate, false},
    {"sfu_ops_per_s", &Device::sfu_ops_per_s, true, false, kMaxRate, false},
    {"nvlink_bytes_per_s", &Device::nvlink_bytes_per_s, false, true, kMaxRate, false},
    {"nvlink_gpus", &Device::nvlink_gpus, false, true, 1e6, true, true},
    {"launch_overhead_s", &Device::launch_overhead_s, true, true, 1.0, false},
    {"compute_capability", &Device::compute_capability, false, true, 200, true, true},
    {"achievable_hbm_bytes_per_s", &Device::achievable_hbm_bytes_per_s, false, true, kMaxRate, false, true},
    {"dram_latency_s", &Device::dram_latency_s, false, true, 1e-3, false, true},
    {"barrier_latency_cycles", &Device::barrier_latency_cycles, false, true, 1e5, false, true},
    {"barrier_cycles_per_warp", &Device::barrier_cycles_per_warp, false, true, 1e3, false, true},
    {"smem_latency_cycles", &Device::smem_latency_cycles, false, true, 1e5, false, true},
    {"l2_latency_cycles", &Device::l2_latency_cycles, false, true, 1e5, false, true},
    {"mma_sync_fraction", &Device::mma_sync_fraction, false, true, 1.0, false, true},
    {"wgmma_fraction", &Device::wgmma_fraction, false, true, 1.0, false, true},
    {"fp8_mma_fraction", &Device::fp8_mma_fraction, false, true, 1.0, false, true},
    {"sustained_clock_fraction", &Device::sustained_clock_fraction, false, true, 1.0, false, true},
    {"fp32_lanes_per_sm", &Device::fp32_lanes_per_sm, false, true, 4096, true, true},
    {"locked_clock_hz", &Device::locked_clock_hz, false, true, 1e11, false, true},
};

// A locked SM clock must lie in Device::locked_clock_range (an H100 SXM ran flash-attention-lab's
// decodes at 1.98 GHz, its clock_hz being 1.83 GHz).
void check_locked_clock(const Device& d, double hz, const std::string& what) {
  if (hz == 0) return;
  const auto [lo, hi] = d.locked_clock_range();
  if (!(hz >= lo && hz <= hi)) {
    std::ostringstream m;
    m << what << ": a locked SM clock of " << hz / 1e6 << " MHz is outside " << lo / 1e6 << "-" << hi / 1e6
      << " MHz (0.25-1.5 x the device's " << d.clock_hz / 1e6 << " MHz)";
    throw InputError(m.str());
  }
}

struct MeasuredField {
  const char* key;
  std::optional<double> MeasuredCeilings::*member;
};
constexpr MeasuredField kMeasuredFields[] = {
    {"hbm_bytes_per_s", &MeasuredCeilings::hbm_bytes_per_s},
    {"l2_bytes_per_s", &MeasuredCeilings::l2_bytes_per_s},
    {"bf16_tensor_flops_per_s", &MeasuredCeilings::bf16_tensor_flops_per_s},
    {"fp16_tensor_flops_per_s", &MeasuredCeilings::fp16_tensor_flops_per_s},
    {"fp8_tensor_flops_per_s", &MeasuredCeilings::fp8_tensor_flops_per_s},
    {"tf32_tensor_flops_per_s", &MeasuredCeilings::tf32_tensor_flops_per_s},
    {"fp32_flops_per_s", &MeasuredCeilings::fp32_flops_per_s},
    {"sfu_ops_per_s", &MeasuredCeilings::sfu_ops_per_s},
};

double positive_number(const json::value& v, std::string_view origin, std::string_view key,
                       bool may_be_zero) {
  double x;
  if (v.is_double()) {
    x = v.get_double();
  } else if (v.is_int64()) {
    x = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    x = static_cast<double>(v.get_uint64());
  } else {
    throw InputError(std::string(origin) + ": key '" + std::string(key) + "' must be a number");
  }
  if (!std::isfinite(x) || x < 0 || (x == 0 && !may_be_zero)) {
    throw InputError(std::string(origin) + ": key '" + std::string(key) + "' must be " +
                     (may_be_zero ? "zero or positive" : "positive") + ", got " +
                     json::serialize(v));
  }
  return x;
}

// A figure is sm_count, one of the number keys or a DRAM queue curve: what "field_sources" may give
// a source for.
bool is_figure(std::string_view key) {
  if (key == "sm_count" || key == "dram_queue_read" || key == "dram_queue_copy") return true;
  for (const auto& f : kNumberFields) {
    if (key == f.key) return true;
  }
  return false;
}

std::string string_field(const json::value& v, std::string_view origin, std::string_view key) {
  if (!v.is_string() || v.get_string().empty()) {
    throw InputError(std::string(origin) + ": key '" + std::string(key) +
                     "' must be a non-empty string");
  }
  return std::string(v.get_string());
}

// A queue curve: an array of [utilization, added seconds] pairs, at least two, utilization rising
// from above 0 to at most 2, the added latency not falling and below a millisecond.
std::vector<std::pair<double, double>> queue_curve(const json::value& v, std::string_view origin, std::string_view key) {
  const auto bad = [&](const std::string& why) {
    return InputError(std::string(origin) + ": key '" + std::string(key) + "' " + why);
  };
  if (!v.is_array() || v.get_array().size() < 2) throw bad("must be an array of at least two [utilization, seconds] pairs");
  std::vector<std::pair<double, double>> curve;
  for (const auto& p : v.get_array()) {
    if (!p.is_array() || p.get_array().size() != 2) throw bad("must hold [utilization, seconds] pairs");
    const double u = positive_number(p.get_array()[0], origin, key, false);
    const double s = positive_number(p.get_array()[1], origin, key, true);
    if (u > 2) throw bad("has a utilization above 2");
    if (s >= 1e-3) throw bad("has an added latency of a millisecond or more");
    if (!curve.empty() && u <= curve.back().first) throw bad("must list utilizations in rising order");
    if (!curve.empty() && s < curve.back().second) throw bad("must not fall: the added latency shrinks at a higher load");
    curve.emplace_back(u, s);
  }
  return curve;
}

json::object to_object(const Device& d) {
  json::object o;
  o["key"] = d.key;
  o["name"] = d.name;
  o["sm_count"] = d.sm_count;
  for (const auto& f : kNumberFields) {
    if (f.omit_zero && d.*f.member == 0) continue;
    o[f.key] = d.*f.member;
  }
  for (const auto& [key, curve] : {std::pair{"dram_queue_read", &d.dram_queue_read}, std::pair{"dram_queue_copy", &d.dram_queue_copy}}) {
    if (curve->empty()) continue;
    json::array a;
    for (const auto& [u, s] : *curve) a.push_back(json::array{u, s});
    o[key] = std::move(a);
  }
  json::object m;
  for (const auto& f : kMeasuredFields) {
    if (const auto& x = d.measured.*f.member) m[f.key] = *x;
  }
  if (!m.empty()) o["measured"] = std::move(m);
  o["sources"] = d.sources;
  if (!d.field_sources.empty()) {
    json::object s;
    for (const auto& [key, text] : d.field_sources) s[key] = text;
    o["field_sources"] = std::move(s);
  }
  return o;
}

struct ShippedDevice {
  std::string_view file;  // origin in error messages
  std::string_view json;
};
#include "builtin_devices.inc"

}  // namespace

double Device::tensor_rate(Dtype dtype) const {
  switch (dtype) {
    case Dtype::fp32: return measured.tf32_tensor_flops_per_s.value_or(tf32_tensor_flops_per_s);
    case Dtype::fp16: return measured.fp16_tensor_flops_per_s.value_or(fp16_tensor_flops_per_s);
    case Dtype::bf16: return measured.bf16_tensor_flops_per_s.value_or(bf16_tensor_flops_per_s);
    case Dtype::fp8: return measured.fp8_tensor_flops_per_s.value_or(fp8_tensor_flops_per_s);
  }
  return 0;
}

bool Device::tensor_rate_measured(Dtype dtype) const {
  switch (dtype) {
    case Dtype::fp32: return measured.tf32_tensor_flops_per_s.has_value();
    case Dtype::fp16: return measured.fp16_tensor_flops_per_s.has_value();
    case Dtype::bf16: return measured.bf16_tensor_flops_per_s.has_value();
    case Dtype::fp8: return measured.fp8_tensor_flops_per_s.has_value();
  }
  return false;
}

namespace {
// Linear interpolation on a rising curve (past its last point along the last segment, below its
// first at the first value), for arguments read in rising order: the segment found last is where
// the next search starts, so a walk over a curve costs its length once, not once per point.
struct CurveCursor {
  const std::vector<std::pair<double, double>>& c;
  std::size_t i = 1;
  double at(double u) {
    if (c.size() < 2 || u <= c.front().first) return c.front().second;
    while (i < c.size() && u > c[i].first) ++i;
    const auto& a = c[std::min(i, c.size() - 1) - 1];
    const auto& b = c[std::min(i, c.size() - 1)];
    return a.second + (u - a.first) * (b.second - a.second) / (b.first - a.first);
  }
};

double along(const std::vector<std::pair<double, double>>& c, double u) { return CurveCursor{c}.at(u); }
}  // namespace

std::vector<std::pair<double, double>> dram_queue_curve(const std::vector<StreamSample>& samples) {
  if (samples.size() < 2) throw InputError("dram queue curve: needs runs at 2 or more occupancies, got " + std::to_string(samples.size()));
  struct Point { double rate, latency, threads; };
  std::vector<Point> points;
  for (const StreamSample& x : samples) {
    if (!(x.read_bytes_per_s > 0) || !(x.total_bytes_per_s > 0) || !(x.resident_threads > 0) || !(x.bytes_per_thread > 0)) {
      throw InputError("dram queue curve: a run with no resident threads or a rate <= 0");
    }
    points.push_back({x.total_bytes_per_s, x.resident_threads * x.bytes_per_thread / x.read_bytes_per_s, x.resident_threads});
  }
  // The lowest occupancy's latency is the base; the highest rate is utilization 1.
  const double base = std::min_element(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.threads < b.threads; })->latency;
  const double top = std::max_element(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.rate < b.rate; })->rate;
  std::stable_sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.rate < b.rate; });
  std::vector<std::pair<double, double>> rising;
  double run = 0;
  for (const Point& p : points) {
    run = std::max(run, p.latency - base);
    rising.emplace_back(p.rate / top, run);
  }
  // 12 points spread over the runs, the first and last kept (the index rounded as Python's round
  // rounds a float, half to even: std::nearbyint in the default rounding mode), utilization to 3
  // decimals and seconds to 3 significant digits from the binary value as Python's round and "%.3g"
  // do (printf rounds the exact binary value), each point above the one before. The runs are sorted
  // by rate alone, stably: the same order as the script's (rate, latency) sort for runs given in
  // rising occupancy, as both callers give them.
  const std::size_t n = rising.size();
  std::vector<std::size_t> keep{0, n - 1};
  for (int i = 0; i < 12; ++i) keep.push_back(static_cast<std::size_t>(std::nearbyint(i * static_cast<double>(n - 1) / 11)));
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  std::vector<std::pair<double, double>> out;
  for (const std::size_t i : keep) {
    char ubuf[32];
    std::snprintf(ubuf, sizeof ubuf, "%.3f", rising[i].first);
    const double u = std::strtod(ubuf, nullptr);
    double added = 0;
    if (rising[i].second > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g", rising[i].second);
      added = std::strtod(buf, nullptr);
    }
    if (!out.empty() && u <= out.back().first) continue;
    if (!out.empty()) added = std::max(added, out.back().second);
    out.emplace_back(u, added);
  }
  return out;
}

double Device::loaded_dram_latency_s(double bytes_per_s, double write_share) const {
  if (dram_queue_read.empty() || dram_queue_copy.empty() || bytes_per_s <= 0) return dram_latency_s;
  const double u = bytes_per_s / sustained_hbm_rate();
  const double f = std::clamp(2 * write_share, 0.0, 1.0);
  return dram_latency_s + (1 - f) * along(dram_queue_read, u) + f * along(dram_queue_copy, u);
}

double Device::inflight_read_rate(double inflight_bytes, double write_per_read) const {
  if (inflight_bytes <= 0 || dram_latency_s <= 0) return 0;
  const double share = write_per_read / (1 + write_per_read);
  if (dram_queue_read.empty() || dram_queue_copy.empty()) return inflight_bytes / dram_latency_s;
  // In utilization u = r (1 + W/R) / sustained rate: h(u) = u / k x latency(u) - inflight, k the
  // utilization per byte/s of reads; h rises with u (the curves do not fall), so the root lies on
  // the first segment (between the curves' merged breakpoints) where h turns non-negative, and on
  // it latency(u) = a + s u, so s u^2 + a u - k x inflight = 0.
  const double k = (1 + write_per_read) / sustained_hbm_rate();
  const double f = std::clamp(2 * share, 0.0, 1.0);  // as loaded_dram_latency_s weighs the curves
  // The two curves' points in rising order, walked by a merge with a cursor on each curve, so each
  // latency is read in constant time (this runs per kernel: no allocation, no search).
  const auto& rd = dram_queue_read;
  const auto& cp = dram_queue_copy;
  CurveCursor on_rd{rd}, on_cp{cp};
  const auto lat = [&](double u) { return dram_latency_s + (1 - f) * on_rd.at(u) + f * on_cp.at(u); };
  const auto lat_once = [&](double u) { return dram_latency_s + (1 - f) * along(rd, u) + f * along(cp, u); };
  std::size_t i = 0, j = 0;
  double lo = 0, lat_lo = 0, hi = -1, lat_hi = 0;
  // A kernel that fills the chip usually keeps more in flight than the curves' last point carries.
  // Then the root lies past both curves, where each runs on along its last segment, so latency is
  // linear from the later of their second-to-last points on, and no walk is needed.
  const double top = std::max(rd.back().first, cp.back().first);
  const double below = std::max(rd[rd.size() - 2].first, cp[cp.size() - 2].first);
  if (const double at_top = lat_once(top); top / k * at_top < inflight_bytes) {
    lo = below, lat_lo = lat_once(below);
    hi = top, lat_hi = at_top;
  } else {
    lat_lo = lat(0);
  }
  while (hi < 0 && (i < rd.size() || j < cp.size())) {
    const double u = j >= cp.size() || (i < rd.size() && rd[i].first <= cp[j].first) ? rd[i++].first : cp[j++].first;
    if (u <= lo) continue;
    const double l = lat(u);
    if (u / k * l >= inflight_bytes) {
      hi = u, lat_hi = l;
      break;
    }
    lo = u, lat_lo = l;
  }
  // On [lo, hi] latency is linear: its slope from the segment's two ends.
  const double slope = (lat_hi - lat_lo) / (hi - lo);
  const double a = lat_lo - slope * lo;
  const double u = slope > 0 ? (-a + std::sqrt(a * a + 4 * slope * k * inflight_bytes)) / (2 * slope) : k * inflight_bytes / a;
  return u / k;
}

const std::vector<Device>& builtin_devices() {
  static const std::vector<Device> devices = [] {
    std::vector<Device> parsed;
    for (const auto& s : kShippedDevices) parsed.push_back(device_from_json(s.json, s.file));
    return parsed;
  }();
  return devices;
}

const Device& default_device() { return builtin_devices().front(); }

const Device& find_device(std::string_view key) {
  std::string known;
  for (const auto& d : builtin_devices()) {
    if (d.key == key) return d;
    known += known.empty() ? d.key : ", " + d.key;
  }
  throw InputError("unknown device '" + std::string(key) + "' (known: " + known +
                   "; or give --device-file)");
}

Device device_from_json(std::string_view text, std::string_view origin) {
  json::value root;
  try {
    root = json::parse(text);
  } catch (const std::exception& e) {
    throw InputError(std::string(origin) + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw InputError(std::string(origin) + ": top level must be a JSON object");
  const json::object& o = root.get_object();

  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    const bool known = k == "key" || k == "name" || k == "measured" || k == "sources" ||
                       k == "field_sources" || is_figure(k);
    if (!known) throw InputError(std::string(origin) + ": unknown key '" + std::string(k) + "'");
  }

  Device d;
  const auto* name = o.if_contains("name");
  if (!name) throw InputError(std::string(origin) + ": missing key 'name'");
  d.name = string_field(*name, origin, "name");
  const auto* key = o.if_contains("key");
  d.key = key ? string_field(*key, origin, "key") : d.name;

  const auto* sms = o.if_contains("sm_count");
  if (!sms) throw InputError(std::string(origin) + ": missing key 'sm_count'");
  const double sm_count = positive_number(*sms, origin, "sm_count", false);
  if (sm_count != std::floor(sm_count) || sm_count > 100000) {
    throw InputError(std::string(origin) + ": key 'sm_count' must be a whole number up to 100000");
  }
  d.sm_count = static_cast<int>(sm_count);

  for (const auto& f : kNumberFields) {
    const auto* v = o.if_contains(f.key);
    if (!v) {
      if (f.required) throw InputError(std::string(origin) + ": missing key '" + f.key + "'");
      continue;
    }
    const double x = positive_number(*v, origin, f.key, f.may_be_zero);
    if (x > f.max) {
      throw InputError(std::string(origin) + ": key '" + f.key + "' is " + json::serialize(*v) + ", above the " +
                       json::serialize(json::value(f.max)) + " attnio accepts");
    }
    if (f.whole && x != std::floor(x)) {
      throw InputError(std::string(origin) + ": key '" + f.key + "' must be a whole number");
    }
    d.*f.member = x;
  }

  check_locked_clock(d, d.locked_clock_hz, std::string(origin) + ": key 'locked_clock_hz'");
  if (const auto* c = o.if_contains("dram_queue_read")) d.dram_queue_read = queue_curve(*c, origin, "dram_queue_read");
  if (const auto* c = o.if_contains("dram_queue_copy")) d.dram_queue_copy = queue_curve(*c, origin, "dram_queue_copy");
  if (d.dram_queue_read.empty() != d.dram_queue_copy.empty()) {
    throw InputError(std::string(origin) + ": keys 'dram_queue_read' and 'dram_queue_copy' come together (one was given without the other)");
  }
  if (!d.dram_queue_read.empty() && d.dram_latency_s == 0) {
    throw InputError(std::string(origin) + ": the DRAM queue curves add to 'dram_latency_s', which is missing");
  }
  if (const auto* m = o.if_contains("measured")) {
    if (!m->is_object()) throw InputError(std::string(origin) + ": key 'measured' must be an object");
    for (const auto& kv : m->get_object()) {
      const MeasuredField* field = nullptr;
      for (const auto& f : kMeasuredFields) {
        if (kv.key() == f.key) field = &f;
      }
      if (!field) {
        throw InputError(std::string(origin) + ": unknown key 'measured." + std::string(kv.key()) + "'");
      }
      const double x = positive_number(kv.value(), origin, std::string("measured.") + field->key, false);
      if (x > kMaxRate) {
        throw InputError(std::string(origin) + ": key 'measured." + field->key + "' is above the 1e20 per second attnio accepts");
      }
      d.measured.*field->member = x;
    }
  }
  if (const auto* s = o.if_contains("sources")) {
    if (!s->is_string()) throw InputError(std::string(origin) + ": key 'sources' must be a string");
    d.sources = std::string(s->get_string());
  }
  if (const auto* fs = o.if_contains("field_sources")) {
    if (!fs->is_object()) throw InputError(std::string(origin) + ": key 'field_sources' must be an object");
    for (const auto& kv : fs->get_object()) {
      const std::string key = "field_sources." + std::string(kv.key());
      if (!is_figure(kv.key())) throw InputError(std::string(origin) + ": unknown key '" + key + "'");
      d.field_sources[std::string(kv.key())] = string_field(kv.value(), origin, key);
    }
  }
  return d;
}

Device Device::with_locked_clock(double hz, std::string_view what) const {
  check_locked_clock(*this, hz, std::string(what) + " (" + unlocked_key() + ")");
  Device d = *this;
  d.locked_clock_hz = hz;
  // A locked copy is another device wherever devices are told apart by key (sweeps, traces,
  // campaigns, the GUI's list): KEY@<MHz>MHz.
  d.key = unlocked_key();
  if (hz > 0) {
    std::ostringstream k;
    k << d.key << '@' << hz / 1e6 << "MHz";
    d.key = k.str();
  }
  return d;
}

std::string Device::unlocked_key() const { return key.substr(0, key.find('@')); }

Device load_device_file(const std::string& path) {
  return device_from_json(read_input_file(path, "device file", 16u << 20), "device file '" + path + "'");
}

std::string device_to_json(const Device& device) { return json::serialize(to_object(device)); }

std::string devices_to_json(const std::vector<Device>& devices) {
  json::array a;
  for (const auto& d : devices) a.push_back(to_object(d));
  return json::serialize(a);
}

}  // namespace attnio
