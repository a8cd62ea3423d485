// The state every view shows: the device, the workload, the variants checked, the variant in
// focus and an optional trace. Views read it and call its setters; it recomputes the predictions
// once per change and emits changed(). No widgets here (Hotspot's split of models and views).
#pragma once

#include <QColor>
#include <QObject>
#include <QString>

#include <optional>
#include <string_view>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/workload.hpp"
#include "attnio/traces/compare.hpp"
#include "attnio/traces/published.hpp"
#include "attnio/traces/trace.hpp"

namespace attnio::gui {

// A name from the model library (variant, phase, dtype, ceiling...) as a QString.
inline QString qs(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<int>(s.size())); }

// A fixed colour per variant, the same in every view and every run.
QColor variant_color(Variant v);

struct Entry {
  Variant variant = default_variant();
  bool ok = false;
  Prediction prediction;  // when ok
  QString error;          // why the variant does not apply to this workload, when !ok
  // The open trace's measurement of exactly this workload (every field, defaults filled in on the
  // trace's device), when it has one.
  std::optional<traces::MeasuredPoint> measured;
};

// Every measured record of the open trace with its re-prediction (the roofline's hollow markers).
struct TracePoint {
  Variant variant = default_variant();
  Prediction prediction;
  traces::MeasuredPoint measured;
  QString label;
  Phase phase = Phase::prefill;
  std::string key;  // the model's figures for its workload on the trace's device (session.cpp point_key)
};

// A published measurement (validation/published.csv, what `attnio validate` checks) of a variant
// on the current device, phase, pass and element width, run by the implementation the session
// predicts that variant with: the roofline's hollow squares. The FLOPs and HBM bytes are the
// model's for the row's own workload (sources print a time or a rate, not bytes).
struct PublishedPoint {
  Variant variant = default_variant();
  traces::ValidatedRow row;  // published and predicted time, error, the model's FLOPs and HBM bytes
  QString label;             // implementation, shape and source
};

class Session : public QObject {
  Q_OBJECT
public:
  explicit Session(QObject* parent = nullptr);

  const std::vector<Device>& devices() const { return devices_; }
  int device_index() const { return device_index_; }
  const Device& device() const { return devices_[static_cast<std::size_t>(device_index_)]; }
  void set_device_index(int i);
  void set_device_key(const QString& key);  // InputError for an unknown key
  // Selects `d`, adding it to devices() unless an equal one is there.
  void select_device(const Device& d);
  // Loads a device file, adds it to devices() and selects it; "" or the one-line error.
  QString load_device_file(const QString& path);
  // Locks the current device's SM clock at `mhz` (0: unlocks it; Device::locked_clock_hz, the CLI's
  // --sm-clock); each device keeps its own. "" or the one-line error, the device left as it was.
  QString set_sm_clock_mhz(double mhz);

  const Workload& workload() const { return workload_; }
  // Takes every field but the variant; refuses (returns flash2's error, keeps the old workload) a
  // workload no variant accepts, e.g. kv-heads not dividing heads.
  QString set_workload(const Workload& w);
  // Applies a shipped config name or a config.json path (shape, dtype); "" or the error.
  QString apply_config(const QString& name_or_path);

  bool selected(Variant v) const;
  void set_selected(Variant v, bool on);
  void set_selection(const std::vector<Variant>& vs);
  std::vector<Variant> selection() const;

  Variant current() const { return current_; }
  void set_current(Variant v);

  // Predictions for every variant (selected or not), in all_variants() order.
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry& entry(Variant v) const;

  // Opens a trace: its device joins devices() and is selected. "" or the one-line error; on error
  // nothing changes.
  QString open_trace(const QString& path);
  bool has_trace() const { return trace_device_.has_value(); }
  const std::optional<traces::MeasuredPoint>& measured(Variant v) const { return entry(v).measured; }
  const std::vector<TracePoint>& trace_points() const { return trace_points_; }
  // The trace's points for the current device and phase (what the roofline shows).
  std::vector<const TracePoint*> visible_trace_points() const;
  // The trace header's note ("hand-made fixture", ...), "" when none or no trace.
  const QString& trace_note() const { return trace_note_; }
  // The open trace is a simulate campaign: its "measurements" are the tile simulator's figures.
  bool trace_simulated() const { return trace_simulated_; }
  // The published points of the current device, phase, pass and element width (every variant;
  // the roofline shows the checked ones).
  const std::vector<PublishedPoint>& published_points() const { return published_points_; }
  QString trace_device_key() const { return trace_device_ ? QString::fromStdString(trace_device_->key) : QString(); }
  void close_trace();

signals:
  void changed();                 // predictions recomputed (device, workload or selection)
  void current_changed(attnio::Variant v);
  void trace_changed();

private:
  void recompute();
  void recompute_published();

  std::vector<Device> devices_;
  int device_index_ = 0;
  Workload workload_;
  std::vector<bool> selected_;
  Variant current_ = default_variant();
  std::vector<Entry> entries_;
  std::optional<Device> trace_device_;  // the device the open trace ran on
  std::vector<TracePoint> trace_points_;
  std::vector<PublishedPoint> published_points_;
  QString trace_note_;
  bool trace_simulated_ = false;
};

}  // namespace attnio::gui
