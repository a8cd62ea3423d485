#include "session.hpp"

#include <algorithm>

#include "attnio/model/errors.hpp"
#include "attnio/model/hf_config.hpp"
#include "attnio/traces/compare.hpp"

namespace attnio::gui {

namespace {

std::size_t index_of(Variant v) {
  const auto all = all_variants();
  return static_cast<std::size_t>(std::find(all.begin(), all.end(), v) - all.begin());
}

// Shape fields that make two workloads the same point (variant aside), after defaults.
bool same_point(const Workload& a, const Workload& b) {
  return a.phase == b.phase && a.pass == b.pass && a.dtype == b.dtype && a.causal == b.causal && a.batch == b.batch &&
         a.query_len() == b.query_len() && a.kv_len == b.kv_len && a.heads == b.heads && a.kv_heads == b.kv_heads &&
         a.head_dim == b.head_dim && a.v_head_dim == b.v_head_dim;
}

double metric(const traces::Record& r, const char* name) { return r.metric(name).value_or(-1); }

}  // namespace

QColor variant_color(Variant v) {
  // 17 distinguishable colours (Kelly's list, minus white and black), fixed per variant.
  static const char* const palette[] = {"#F3C300", "#875692", "#F38400", "#A1CAF1", "#BE0032", "#C2B280",
                                        "#848482", "#008856", "#E68FAC", "#0067A5", "#F99379", "#604E97",
                                        "#F6A600", "#B3446C", "#DCD300", "#882D17", "#8DB600"};
  return QColor(palette[index_of(v) % (sizeof palette / sizeof *palette)]);
}

Session::Session(QObject* parent) : QObject(parent), devices_(builtin_devices()), workload_(llama_like_workload()) {
  selected_.assign(all_variants().size(), true);
  recompute();
}

void Session::set_device_index(int i) {
  if (i < 0 || i >= static_cast<int>(devices_.size()) || i == device_index_) return;
  device_index_ = i;
  recompute();
}

void Session::set_device_key(const QString& key) {
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    if (QString::fromStdString(devices_[i].key) == key) {
      set_device_index(static_cast<int>(i));
      return;
    }
  }
  (void)find_device(key.toStdString());  // throws InputError naming the known keys
}

QString Session::load_device_file(const QString& path) {
  try {
    devices_.push_back(attnio::load_device_file(path.toStdString()));
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  device_index_ = static_cast<int>(devices_.size()) - 1;
  recompute();
  return {};
}

QString Session::set_workload(const Workload& w) {
  Workload next = w;
  next.variant = Variant::flash2;
  try {
    (void)resolve(next, device());
    if (next.heads == 0 || (next.kv_heads != 0 && next.heads % next.kv_heads != 0)) {
      throw InputError("--heads " + std::to_string(next.heads) + " is not divisible by --kv-heads " +
                       std::to_string(next.kv_heads));
    }
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  workload_ = next;
  recompute();
  return {};
}

QString Session::apply_config(const QString& name_or_path) {
  try {
    const ModelConfig c = find_config(name_or_path.toStdString());
    Workload w = c.apply(workload_);
    w.variant = Variant::flash2;
    workload_ = w;
    current_ = c.native_variant;
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  recompute();
  emit current_changed(current_);
  return {};
}

bool Session::selected(Variant v) const { return selected_[index_of(v)]; }

void Session::set_selected(Variant v, bool on) {
  if (selected_[index_of(v)] == on) return;
  selected_[index_of(v)] = on;
  emit changed();  // predictions do not change, only what is shown
}

void Session::set_selection(const std::vector<Variant>& vs) {
  std::fill(selected_.begin(), selected_.end(), false);
  for (Variant v : vs) selected_[index_of(v)] = true;
  emit changed();
}

std::vector<Variant> Session::selection() const {
  std::vector<Variant> out;
  for (Variant v : all_variants()) {
    if (selected(v)) out.push_back(v);
  }
  return out;
}

void Session::set_current(Variant v) {
  if (v == current_) return;
  current_ = v;
  emit current_changed(v);
}

const Entry& Session::entry(Variant v) const { return entries_[index_of(v)]; }

void Session::recompute() {
  entries_.clear();
  for (Variant v : all_variants()) {
    Entry e;
    e.variant = v;
    Workload w = workload_;
    w.variant = v;
    try {
      e.prediction = predict(device(), w);
      e.ok = true;
    } catch (const InputError& err) {
      e.error = QString::fromStdString(err.what());
    }
    entries_.push_back(std::move(e));
  }
  emit changed();
}

QString Session::open_trace(const QString& path) {
  traces::Trace t;
  std::vector<TracePoint> points;
  try {
    t = traces::read_trace(path.toStdString());
    for (const auto& r : t.records) {
      if (r.status != "ok") continue;
      const double rd = metric(r, "dram__bytes_read.sum"), wr = metric(r, "dram__bytes_write.sum");
      const double ns = traces::measured_time_ns(r).value_or(-1);
      if (rd < 0 || wr < 0 || ns <= 0) continue;
      TracePoint p;
      p.variant = r.workload.variant;
      try {
        p.prediction = predict(t.header.device, r.workload);
      } catch (const InputError&) {
        continue;  // a record the current model refuses has no prediction to join
      }
      p.hbm_bytes = rd + wr;
      p.time_s = ns * 1e-9;
      p.label = QString::fromStdString(r.kernel) + QStringLiteral(" N=%1").arg(r.workload.seq);
      points.push_back(std::move(p));
    }
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  trace_ = std::move(t);
  trace_path_ = path;
  trace_points_ = std::move(points);
  // The trace's device (with its measured ceilings) is the one its records ran on.
  auto same = std::find(devices_.begin(), devices_.end(), trace_->header.device);
  if (same == devices_.end()) {
    devices_.push_back(trace_->header.device);
    same = devices_.end() - 1;
  }
  device_index_ = static_cast<int>(same - devices_.begin());
  recompute();
  emit trace_changed();
  return {};
}

std::optional<Measured> Session::measured(Variant v) const {
  if (!trace_) return std::nullopt;
  Workload want = workload_;
  want.variant = v;
  want = resolve(want, device());
  for (const auto& r : trace_->records) {
    if (r.status != "ok" || r.workload.variant != v) continue;
    if (!same_point(resolve(r.workload, trace_->header.device), want)) continue;
    const double rd = metric(r, "dram__bytes_read.sum"), wr = metric(r, "dram__bytes_write.sum");
    const double ns = traces::measured_time_ns(r).value_or(-1);
    if (rd < 0 || wr < 0 || ns <= 0) continue;
    return Measured{rd + wr, ns * 1e-9, QString::fromStdString(r.kernel)};
  }
  return std::nullopt;
}

}  // namespace attnio::gui
