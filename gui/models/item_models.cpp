#include "item_models.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "attnio/model/errors.hpp"
#include "attnio/model/explain.hpp"

namespace attnio::gui {

// ---- VariantListModel ------------------------------------------------------------------------

VariantListModel::VariantListModel(Session* s, QObject* parent) : QAbstractListModel(parent), s_(s) {
  connect(s_, &Session::changed, this, [this] {
    if (rowCount() > 0) emit dataChanged(index(0), index(rowCount() - 1));
  });
}

int VariantListModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(all_variants().size());
}

QVariant VariantListModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const Variant v = all_variants()[static_cast<std::size_t>(index.row())];
  switch (role) {
    case Qt::DisplayRole: return qs(to_string(v));
    case Qt::DecorationRole: return variant_color(v);
    case Qt::CheckStateRole: return s_->selected(v) ? Qt::Checked : Qt::Unchecked;
    case Qt::ToolTipRole: {
      const Entry& e = s_->entry(v);
      return qs(variant_summary(v)) + (e.ok ? QString() : QStringLiteral("\nNot for this workload: ") + e.error);
    }
    case Qt::ForegroundRole:
      return s_->entry(v).ok ? QVariant() : QVariant(QColor(Qt::gray));
    case kVariantRole: return static_cast<int>(variant_index(v));
    default: return {};
  }
}

bool VariantListModel::setData(const QModelIndex& index, const QVariant& value, int role) {
  if (!index.isValid() || role != Qt::CheckStateRole) return false;
  const Variant v = all_variants()[static_cast<std::size_t>(index.row())];
  s_->set_selected(v, value.toInt() == Qt::Checked);
  emit dataChanged(index, index, {Qt::CheckStateRole});
  return true;
}

Qt::ItemFlags VariantListModel::flags(const QModelIndex& index) const {
  if (!index.isValid()) return Qt::NoItemFlags;
  return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsUserCheckable;
}

namespace {

// How far published measurements check each variant's times: the shipped table (what `attnio
// validate` holds the model against, every GPU) compared once, |error| per variant.
const std::map<std::string, traces::ErrorSummary>& published_coverage() {
  static const std::map<std::string, traces::ErrorSummary> coverage =
      traces::summarize_by_variant(traces::validate_rows(traces::shipped_published(), "", "", /*counters=*/false));
  return coverage;
}

}  // namespace

// ---- PredictionModel -------------------------------------------------------------------------

PredictionModel::PredictionModel(Session* s, QObject* parent) : QAbstractTableModel(parent), s_(s) {
  connect(s_, &Session::changed, this, &PredictionModel::reset);
  connect(s_, &Session::trace_changed, this, &PredictionModel::reset);
  reset();
}

void PredictionModel::reset() {
  beginResetModel();
  rows_ = s_->selection();
  endResetModel();
}

int PredictionModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int PredictionModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : kColumnCount; }

int PredictionModel::row_of(Variant v) const {
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    if (rows_[i] == v) return static_cast<int>(i);
  }
  return -1;
}

QVariant PredictionModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o == Qt::Horizontal && role == Qt::ToolTipRole && section >= 0 && section < kColumnCount) {
    // What each column holds, with its unit (README, "What the numbers mean").
    static const char* const tips[kColumnCount] = {
        "the variant (its colour in every view)",
        "memory- or compute-bound under the execution model; 'exceeds HBM' when the GPU cannot hold the workload",
        "what sets the time under the execution model, and the implementation it describes: tensor, mufu, fp32, smem, l2, hbm, nvlink, latency or launch (attnio explain prints each pipe)",
        "predicted time of all layers, seconds, for that implementation (attnio impls; attnio validate says how far from published runs)",
        "all FLOPs (a multiply-add counts 2)", "matmul FLOPs on the tensor cores", "FP32 FLOPs on the CUDA cores (softmax arithmetic, scans, FFTs)",
        "special-function results (exponentials, tanh) on the MUFU",
        "DRAM bytes: L2 traffic after reuse", "DRAM bytes read", "DRAM bytes written",
        "bytes crossing the SM-L2 boundary (what the FlashAttention papers call HBM accesses)",
        "shared-memory bytes: tiles staged in and read by each warp", "FLOPs per DRAM byte",
        "K/V (or recurrent state) cache for batch x kv-len tokens over all layers, bytes",
        "what one layer materializes: S and P, statistics, partial outputs, bytes",
        "device memory the workload needs at once: cache, materialized intermediates, queries and outputs, bytes",
        "kernel launches over all layers", "CTAs per SM over its ceiling, for the longest kernel",
        "the variant's own parameters and results",
        "DRAM bytes the open trace measured for this workload on its GPU",
        "(predicted - measured) / measured DRAM bytes, percent",
        "time the open trace measured for this workload on its GPU", "(predicted - measured) / measured time, percent"};
    if (s_->trace_simulated() && (section == kMeasuredHbm || section == kMeasuredTime)) {
      return QStringLiteral("%1 the tile simulator recorded for this workload (the open trace is a simulate campaign)")
          .arg(section == kMeasuredHbm ? "DRAM bytes" : "time");
    }
    return QString(tips[section]);
  }
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, o, role);
  static const char* const names[kColumnCount] = {
      "variant", "bound", "limited by (impl)", "time", "FLOPs", "tensor FLOPs", "FP32 FLOPs", "SFU ops", "HBM bytes",
      "HBM read", "HBM write", "L2 bytes", "SRAM bytes", "FLOP/HBM byte", "KV cache", "extra memory", "memory footprint", "launches",
      "wave efficiency", "parameters", "measured HBM", "HBM error %", "measured time", "time error %"};
  if (s_->trace_simulated() && section == kMeasuredHbm) return QStringLiteral("simulated HBM");
  if (s_->trace_simulated() && section == kMeasuredTime) return QStringLiteral("simulated time");
  return section >= 0 && section < kColumnCount ? QString(names[section]) : QVariant();
}

QVariant PredictionModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= kColumnCount) return {};
  const Variant v = rows_[static_cast<std::size_t>(index.row())];
  const Entry& e = s_->entry(v);
  if (role == kVariantRole) return static_cast<int>(variant_index(v));
  if (role == Qt::DecorationRole && index.column() == kVariantCol) return variant_color(v);
  if (role == Qt::TextAlignmentRole && index.column() > kParams) return int(Qt::AlignRight | Qt::AlignVCenter);
  if (role != Qt::DisplayRole && role != kRawRole && role != Qt::ToolTipRole) return {};
  const bool raw = role == kRawRole;
  if (index.column() == kVariantCol) return qs(to_string(v));
  if (!e.ok) {
    if (raw) return std::numeric_limits<double>::quiet_NaN();  // no value: sorts last (PredictionSortProxy)
    if (index.column() == kBound) return QStringLiteral("n/a");
    if (index.column() == kParams || role == Qt::ToolTipRole) return e.error;
    return raw ? QVariant(std::numeric_limits<double>::quiet_NaN()) : QVariant();
  }
  const Prediction& p = e.prediction;
  if (role == Qt::ToolTipRole && index.column() == kTime) {
    // Whether published measurements check this variant's times at all, and how closely.
    const auto& coverage = published_coverage();
    const auto it = coverage.find(std::string(to_string(v)));
    if (it == coverage.end()) {
      return QStringLiteral("%1 under %2. No published measurement of %3 is in attnio's table yet: this time is the model's alone.")
          .arg(qs(human_time(p.predicted_time_s)), qs(p.impl ? p.impl->key : "?"), qs(to_string(v)));
    }
    return QStringLiteral("%1 under %2. Held against %3 published measurements of %4 (several implementations and GPUs): "
                          "median |error| %5 %, p90 %6 % (attnio validate).")
        .arg(qs(human_time(p.predicted_time_s)), qs(p.impl ? p.impl->key : "?"), QString::number(it->second.rows), qs(to_string(v)),
             QString::number(it->second.median, 'f', 1), QString::number(it->second.p90, 'f', 1));
  }
  const std::optional<traces::MeasuredPoint>& m = s_->measured(v);
  auto num = [&](double x, QString text) -> QVariant { return raw ? QVariant(x) : QVariant(text); };
  auto bytes = [&](double x) { return num(x, qs(human_bytes(x))); };
  auto flops = [&](double x) { return num(x, qs(human_flops(x))); };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  switch (index.column()) {
    case kBound:
      // A workload the GPU cannot hold is said so before any verdict about its speed.
      if (!fits_in_hbm(p, s_->device())) {
        return QStringLiteral("exceeds HBM (%1 > %2)").arg(qs(human_bytes(memory_footprint_bytes(p).d())),
                                                         qs(human_bytes(s_->device().hbm_capacity_bytes)));
      }
      return p.memory_bound() ? QStringLiteral("memory") : QStringLiteral("compute");
    case kCeiling: return qs(std::string(to_string(p.bound)) + " (" + std::string(p.impl ? p.impl->key : "?") + ")");
    case kTime: return num(p.predicted_time_s, qs(human_time(p.predicted_time_s)));
    case kFlops: return flops(p.flops().d());
    case kTensorFlops: return flops(p.tensor_flops.d());
    case kFp32Flops: return flops(p.fp32_flops.d());
    case kSfuOps: return flops(p.sfu_flops.d());
    case kHbmBytes: return bytes(p.hbm_bytes().d());
    case kHbmRead: return bytes(p.hbm_read_bytes.d());
    case kHbmWrite: return bytes(p.hbm_write_bytes.d());
    case kL2Bytes: return bytes(p.l2_bytes().d());
    case kSramBytes: return bytes(p.sram_bytes().d());
    case kIntensity: return num(p.arithmetic_intensity, QString::number(p.arithmetic_intensity, 'g', 4));
    case kKvCache: return bytes(p.kv_cache_bytes.d());
    case kExtraMemory: return bytes(p.extra_memory_bytes.d());
    case kFootprint: return bytes(memory_footprint_bytes(p).d());
    case kLaunches: return num(p.launches.d(), QString::number(p.launches.v));
    case kWaveEfficiency: return num(p.wave_efficiency, QString::number(100 * p.wave_efficiency, 'f', 1) + "%");
    case kParams: return QString::fromStdString(params_text(p));
    case kMeasuredHbm: return m ? bytes(m->hbm_bytes) : num(nan, {});
    case kHbmError: {
      if (!m) return num(nan, {});
      const double err = 100 * (p.hbm_bytes().d() - m->hbm_bytes) / m->hbm_bytes;
      return num(err, QString::number(err, 'f', 1));
    }
    case kMeasuredTime: return m ? num(m->time_s, qs(human_time(m->time_s))) : num(nan, {});
    case kTimeError: {
      if (!m) return num(nan, {});
      const double err = 100 * (p.predicted_time_s - m->time_s) / m->time_s;
      return num(err, QString::number(err, 'f', 1));
    }
    default: return {};
  }
}

QString PredictionModel::to_csv() const {
  auto cell = [](QString s) {
    if (s.contains(',') || s.contains('"') || s.contains('\n')) s = '"' + s.replace("\"", "\"\"") + '"';
    return s;
  };
  // The unit of each column's raw number, in the header ("" for text).
  static const char* const units[kColumnCount] = {"", "", "", "s", "FLOP", "FLOP", "FLOP", "ops", "B", "B", "B", "B", "B",
                                                  "FLOP/B", "B", "B", "B", "", "", "", "B", "%", "s", "%"};
  // Each row says which device and workload it is, so a CSV stands on its own.
  const Device& dev = s_->device();
  const Workload w = resolve(s_->workload(), dev);
  const QString context = cell(QString::fromStdString(dev.key)) + "," + qs(to_string(w.phase)) + "," + qs(to_string(w.pass)) + "," +
                          qs(to_string(w.dtype)) + "," + QString::number(w.batch) + "," + QString::number(w.query_len()) + "," +
                          QString::number(w.kv_len) + "," + QString::number(w.heads) + "," +
                          QString::number(w.kv_heads) + "," + QString::number(w.head_dim) + "," +
                          (w.causal ? "1" : "0") + "," + QString::number(w.layers) + ",";
  QString out = "device,phase,pass,dtype,batch,seq (tokens),kv_len (tokens),heads,kv_heads,head_dim,causal,layers,";
  for (int c = 0; c < kColumnCount; ++c) {
    const QString name = headerData(c, Qt::Horizontal, Qt::DisplayRole).toString();
    out += (c ? "," : "") + cell(*units[c] ? name + " (" + units[c] + ")" : name);
  }
  out += '\n';
  for (int r = 0; r < rowCount(); ++r) {
    out += context;
    for (int c = 0; c < kColumnCount; ++c) {
      const QVariant v = data(index(r, c), kRawRole);
      QString text;
      if (v.typeId() == QMetaType::Double) {
        // No number: the cell's text, if any ("n/a", why the variant does not apply).
        text = std::isnan(v.toDouble()) ? data(index(r, c), Qt::DisplayRole).toString() : QString::number(v.toDouble(), 'g', 12);
      } else {
        text = v.toString();
      }
      out += (c ? "," : "") + cell(text);
    }
    out += '\n';
  }
  return out;
}

// ---- PredictionSortProxy ---------------------------------------------------------------------

PredictionSortProxy::PredictionSortProxy(QObject* parent) : QSortFilterProxyModel(parent) { setSortRole(kRawRole); }

bool PredictionSortProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
  const QVariant a = left.data(kRawRole), b = right.data(kRawRole);
  const bool a_num = a.typeId() == QMetaType::Double, b_num = b.typeId() == QMetaType::Double;
  const bool a_none = !a.isValid() || (a_num && std::isnan(a.toDouble()));
  const bool b_none = !b.isValid() || (b_num && std::isnan(b.toDouble()));
  // Qt reverses lessThan for a descending sort; "no value" must stay last either way.
  const bool ascending = sortOrder() == Qt::AscendingOrder;
  if (a_none || b_none) return a_none == b_none ? left.row() < right.row() : (ascending ? b_none : a_none);
  if (a_num && b_num) return a.toDouble() < b.toDouble();
  return QString::localeAwareCompare(a.toString(), b.toString()) < 0;
}

// ---- SweepModel ------------------------------------------------------------------------------

QStringList SweepModel::axis_names() {
  return {"seq", "kv-len", "batch", "head-dim", "kv-heads", "sram-bytes", "window"};
}
QStringList SweepModel::quantity_names() { return {"time (s)", "HBM bytes", "FLOP per HBM byte"}; }

SweepModel::SweepModel(Session* s, QObject* parent) : QAbstractTableModel(parent), s_(s) {
  connect(s_, &Session::changed, this, &SweepModel::rebuild);
  rebuild();
}

void SweepModel::set_axis(Axis a) {
  if (a == axis_) return;
  axis_ = a;
  rebuild();
}

void SweepModel::set_quantity(Quantity q) {
  if (q == quantity_) return;
  quantity_ = q;
  rebuild();
}

SweepModel::Axis SweepModel::axis() const {
  return axis_ == Axis::seq && s_->workload().phase == Phase::decode ? Axis::kv_len : axis_;
}

void SweepModel::rebuild() {
  beginResetModel();
  const Workload base = s_->workload();
  const Axis axis = this->axis();
  xs_.clear();
  auto doubling = [&](double lo, double hi) {
    for (double x = lo; x <= hi; x *= 2) xs_.push_back(x);
  };
  switch (axis) {
    case Axis::seq: doubling(256, 262144); break;
    case Axis::kv_len: doubling(512, 524288); break;
    case Axis::batch: doubling(1, 512); break;
    case Axis::head_dim: xs_ = {32, 64, 96, 128, 192, 256}; break;
    case Axis::kv_heads:
      for (std::uint64_t k = 1; k <= base.heads; ++k) {
        if (base.heads % k == 0) xs_.push_back(static_cast<double>(k));
      }
      break;
    case Axis::sram_bytes: doubling(16384, 262144); break;
    case Axis::window: doubling(128, 65536); break;
  }
  cols_ = s_->selection();
  cells_.assign(xs_.size(), std::vector<Cell>(cols_.size()));
  for (std::size_t r = 0; r < xs_.size(); ++r) {
    Workload w = base;
    const auto x = static_cast<std::uint64_t>(xs_[r]);
    switch (axis) {
      case Axis::seq: w.seq = x; break;
      case Axis::kv_len: w.kv_len = x; break;
      case Axis::batch: w.batch = x; break;
      case Axis::head_dim: w.head_dim = x; w.v_head_dim = 0; break;
      case Axis::kv_heads: w.kv_heads = x; break;
      case Axis::sram_bytes: w.sram_bytes = x; break;
      case Axis::window: w.set("window", x); break;
    }
    for (std::size_t c = 0; c < cols_.size(); ++c) {
      const Workload wc = for_variant(w, cols_[c]);
      Cell& cell = cells_[r][c];
      try {
        const Prediction p = predict(s_->device(), wc);
        if (!fits_in_hbm(p, s_->device())) continue;  // cannot run on this GPU: not drawn (cell.ok stays false)
        cell.ok = true;
        cell.memory = p.memory_bound();
        cell.value = quantity_ == Quantity::time        ? p.predicted_time_s
                     : quantity_ == Quantity::hbm_bytes ? p.hbm_bytes().d()
                                                        : p.arithmetic_intensity;
      } catch (const InputError&) {
        cell.ok = false;
      }
    }
  }
  endResetModel();
}

int SweepModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(xs_.size()); }
int SweepModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(cols_.size()); }

QVariant SweepModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
  const Cell& c = cells_[static_cast<std::size_t>(index.row())][static_cast<std::size_t>(index.column())];
  switch (role) {
    case Qt::DisplayRole: return c.ok ? QVariant(QString::number(c.value, 'g', 4)) : QVariant(QStringLiteral("n/a"));
    case kRawRole: return c.ok ? c.value : std::numeric_limits<double>::quiet_NaN();
    case kMemoryBoundRole: return c.ok ? QVariant(c.memory) : QVariant();
    case kVariantRole: return static_cast<int>(variant_index(cols_[static_cast<std::size_t>(index.column())]));
    default: return {};
  }
}

QVariant SweepModel::headerData(int section, Qt::Orientation o, int role) const {
  if (role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, o, role);
  if (o == Qt::Horizontal) {
    return section >= 0 && section < columnCount() ? qs(to_string(cols_[static_cast<std::size_t>(section)])) : QVariant();
  }
  return section >= 0 && section < rowCount() ? QVariant(QString::number(xs_[static_cast<std::size_t>(section)], 'g', 10)) : QVariant();
}

std::vector<SweepModel::Crossing> SweepModel::crossings(int col) const {
  std::vector<Crossing> out;
  const Cell* prev = nullptr;
  double prev_x = 0;
  for (std::size_t r = 0; r < xs_.size(); ++r) {
    const Cell& c = cells_[r][static_cast<std::size_t>(col)];
    if (!c.ok) continue;
    if (prev && prev->memory != c.memory) {
      out.push_back({std::sqrt(prev_x * xs_[r]), std::sqrt(std::max(0.0, prev->value * c.value)), !c.memory});
    }
    prev = &c;
    prev_x = xs_[r];
  }
  return out;
}

}  // namespace attnio::gui
