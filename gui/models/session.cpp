#include "session.hpp"

#include <algorithm>

#include "attnio/model/errors.hpp"
#include "attnio/model/hf_config.hpp"
#include "attnio/traces/compare.hpp"

namespace attnio::gui {

namespace {


// The identity of a measured point, derived from the model: the variant and everything the model
// computes for it on the trace's device (FLOPs per unit, bytes per level, kernels, CTAs, tiles,
// splits). A workload field that does not change the prediction of that variant in that phase
// (causal in decode, a parameter the variant ignores) does not change the key either. L2 reuse is a
// model option, not part of the workload measured. "" when the model refuses the workload.
std::string key_of(const Prediction& p) {
  std::string key(p.workload.variant.name());
  for (Count c : {p.tensor_flops, p.fp32_flops, p.sfu_flops, p.hbm_read_bytes, p.hbm_write_bytes, p.l2_read_bytes,
                  p.l2_write_bytes, p.sram_read_bytes, p.sram_write_bytes, p.link_bytes, p.extra_memory_bytes,
                  p.kv_cache_bytes, p.launches, p.ctas}) {
    key += ' ' + std::to_string(c.v);
  }
  for (std::uint64_t x : {p.block_m, p.block_n, p.splits}) key += ' ' + std::to_string(x);
  return key;
}
std::string point_key(Workload w, const Device& trace_device) {
  w.l2 = true;
  try {
    return key_of(predict(trace_device, traces::as_profiled(w, trace_device)));
  } catch (const InputError&) {
    return {};
  }
}

}  // namespace

QColor variant_color(Variant v) {
  // Kelly's 20 distinguishable colours (his list of 22 minus white and black), then a teal, a navy,
  // a magenta, a mint, an olive grey and a sky blue for the 21st to 26th variants, fixed per variant.
  static const char* const palette[] = {"#F3C300", "#875692", "#F38400", "#A1CAF1", "#BE0032", "#C2B280", "#848482",
                                        "#008856", "#E68FAC", "#0067A5", "#F99379", "#604E97", "#F6A600", "#B3446C",
                                        "#DCD300", "#882D17", "#8DB600", "#654522", "#E25822", "#2B3D26", "#00A3A3",
                                        "#1A1A8C", "#C71585", "#66CDAA", "#6B6B3A", "#00BFFF"};
  return QColor(palette[variant_index(v) % (sizeof palette / sizeof *palette)]);
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

void Session::select_device(const Device& d) {
  auto same = std::find(devices_.begin(), devices_.end(), d);
  if (same == devices_.end()) {
    devices_.push_back(d);
    same = devices_.end() - 1;
  }
  device_index_ = -1;  // recompute even when it was already selected (a new trace may match now)
  set_device_index(static_cast<int>(same - devices_.begin()));
}

QString Session::set_sm_clock_mhz(double mhz) {
  Device& d = devices_[static_cast<std::size_t>(device_index_)];
  if (mhz * 1e6 == d.locked_clock_hz) return {};
  try {
    d = d.with_locked_clock(mhz * 1e6, "SM clock");  // 0 unlocks it
  } catch (const InputError& e) {
    return QString::fromUtf8(e.what());
  }
  recompute();
  return {};
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
    select_device(attnio::load_device_file(path.toStdString()));
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  return {};
}

QString Session::set_workload(const Workload& w) {
  Workload next = w;
  QString first_error;
  bool any = false;
  for (Variant v : all_variants()) {
    try {
      const Workload wv = for_variant(next, v);
      validate(resolve(wv, device()), device());
      any = true;
      break;
    } catch (const InputError& e) {
      if (first_error.isEmpty() || v == default_variant()) first_error = QString::fromStdString(e.what());
    }
  }
  if (!any) return first_error;
  next.variant = default_variant();
  workload_ = next;
  recompute();
  return {};
}

QString Session::apply_config(const QString& name_or_path) {
  ModelConfig c;
  try {
    c = find_config(name_or_path.toStdString());
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  if (const QString e = set_workload(c.apply(workload_)); !e.isEmpty()) return e;
  set_selected(c.native_variant, true);  // the variant the preset focuses is shown in every view
  set_current(c.native_variant);
  return {};
}

bool Session::selected(Variant v) const { return selected_[variant_index(v)]; }

void Session::set_selected(Variant v, bool on) {
  if (selected_[variant_index(v)] == on) return;
  selected_[variant_index(v)] = on;
  emit changed();  // predictions do not change, only what is shown
}

void Session::set_selection(const std::vector<Variant>& vs) {
  std::fill(selected_.begin(), selected_.end(), false);
  for (Variant v : vs) selected_[variant_index(v)] = true;
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

const Entry& Session::entry(Variant v) const { return entries_[variant_index(v)]; }

void Session::recompute() {
  entries_.clear();
  for (Variant v : all_variants()) {
    Entry e;
    e.variant = v;
    const Workload w = for_variant(workload_, v);
    try {
      e.prediction = predict(device(), w);
      e.ok = true;
    } catch (const InputError& err) {
      e.error = QString::fromStdString(err.what());
    }
    // A measurement is shown only beside a prediction for the GPU it ran on.
    if (trace_device_ && trace_device_->key == device().key) {
      // The row's own prediction is the key when it was made the same way (same device, L2 on).
      const std::string key = e.ok && *trace_device_ == device() && w.l2 ? key_of(e.prediction) : point_key(w, *trace_device_);
      for (const TracePoint& p : trace_points_) {
        if (p.key == key) {
          e.measured = p.measured;
          break;
        }
      }
    }
    entries_.push_back(std::move(e));
  }
  recompute_published();
  emit changed();
}

void Session::recompute_published() {
  published_points_.clear();
  static const traces::PublishedTable table = traces::shipped_published();
  for (const traces::PublishedRow& r : table.rows) {
    const Workload& rw = r.workload;
    if (r.gpu != device().unlocked_key() || rw.phase != workload_.phase || rw.pass != workload_.pass ||
        dtype_bytes(rw.dtype) != dtype_bytes(workload_.dtype)) {
      continue;
    }
    // Only the implementation this session's number for the variant describes.
    const Entry& e = entry(rw.variant);
    const ImplProfile* own = traces::profile_for(r.impl);
    if (!e.ok || own == nullptr || own != e.prediction.impl) continue;
    if (traces::published_counter(r)) continue;  // a counter row has bytes, not a time (and would run the simulator)
    PublishedPoint pt;
    pt.row = traces::validate_row(r, device());
    if (!pt.row.skipped_why.empty()) continue;
    pt.variant = rw.variant;
    pt.label = QStringLiteral("%1 %2 %3, B=%4 H=%5 N=%6 Nk=%7 d=%8%9\n%10, %11")
                   .arg(QString::fromStdString(r.impl), qs(rw.variant.name()), qs(to_string(rw.dtype)))
                   .arg(rw.batch)
                   .arg(rw.heads)
                   .arg(rw.query_len())
                   .arg(rw.kv_len != 0 ? rw.kv_len : rw.seq)
                   .arg(rw.head_dim)
                   .arg(rw.causal ? QStringLiteral(" causal") : QString(), QString::fromStdString(r.source),
                        QString::fromStdString(r.locator));
    published_points_.push_back(std::move(pt));
  }
}

QString Session::open_trace(const QString& path) {
  traces::Trace t;
  std::vector<TracePoint> points;
  try {
    t = traces::read_trace(path.toStdString());
    for (const auto& r : t.records) {
      const auto m = traces::measurement(r);
      // A campaign over several devices: the view shows the header's device, so its records only.
      if (!m || traces::record_device(t.header, r).key != t.header.device.key) continue;
      TracePoint p;
      p.variant = r.workload.variant;
      try {
        p.prediction = predict(t.header.device, traces::predicted_workload(t.header, r));
      } catch (const InputError&) {
        continue;  // a record the current model refuses has no prediction to join
      }
      p.measured = *m;
      p.label = QString::fromStdString(r.kernel) + QStringLiteral(" N=%1").arg(r.workload.seq);
      p.key = point_key(r.workload, t.header.device);
      p.phase = r.workload.phase;
      points.push_back(std::move(p));
    }
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  trace_device_ = t.header.device;
  trace_points_ = std::move(points);
  trace_note_ = QString::fromStdString(t.header.note);
  trace_simulated_ = t.header.campaign.kind == "simulate";
  // The trace's device (with its measured ceilings) is the one its records ran on.
  select_device(t.header.device);
  emit trace_changed();
  return {};
}

void Session::close_trace() {
  if (!trace_device_) return;
  trace_device_.reset();
  trace_points_.clear();
  trace_note_.clear();
  trace_simulated_ = false;
  emit trace_changed();
  recompute();
}

std::vector<const TracePoint*> Session::visible_trace_points() const {
  std::vector<const TracePoint*> out;
  if (!trace_device_ || trace_device_->key != device().key) return out;
  for (const TracePoint& p : trace_points_) {
    if (p.phase == workload_.phase) out.push_back(&p);
  }
  return out;
}

}  // namespace attnio::gui
