// Qt item models over a Session: the variant check list, the prediction table and the sweep.
// Views (QListView, QTableView, the charts) only display them; every number comes from model/.
#pragma once

#include <QAbstractListModel>
#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

#include <vector>

#include "session.hpp"

namespace attnio::gui {

// Raw numbers for sorting and charts live under this role; DisplayRole holds the formatted text.
inline constexpr int kRawRole = Qt::UserRole;
// The variant of a row (as int), for every model.
inline constexpr int kVariantRole = Qt::UserRole + 1;
// Sweep cells: true when the point is memory-bound.
inline constexpr int kMemoryBoundRole = Qt::UserRole + 2;

// Every variant, checkable (what the views show), with its fixed colour and one-line summary.
class VariantListModel : public QAbstractListModel {
  Q_OBJECT
public:
  explicit VariantListModel(Session* s, QObject* parent = nullptr);
  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role) override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;

private:
  Session* s_;
};

// One row per checked variant; columns are every prediction figure, then (with a trace open)
// the measured bytes and time of the matching record and the errors.
class PredictionModel : public QAbstractTableModel {
  Q_OBJECT
public:
  enum Column {
    kVariantCol, kBound, kCeiling, kTime, kFlops, kTensorFlops, kFp32Flops, kSfuOps, kHbmBytes, kHbmRead, kHbmWrite,
    kL2Bytes, kSramBytes, kIntensity, kKvCache, kExtraMemory, kFootprint, kLaunches, kWaveEfficiency, kParams,
    kMeasuredHbm, kHbmError, kMeasuredTime, kTimeError, kColumnCount
  };
  explicit PredictionModel(Session* s, QObject* parent = nullptr);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation o, int role) const override;
  // The table as CSV (raw numbers, a header line), in row order.
  QString to_csv() const;
  int row_of(Variant v) const;  // -1 when not shown

private:
  void reset();
  Session* s_;
  std::vector<Variant> rows_;
};

// The prediction table's sort order: numbers by value (kRawRole), text as text, and cells without a
// value (a variant that does not apply: NaN) last in both directions.
class PredictionSortProxy : public QSortFilterProxyModel {
  Q_OBJECT
public:
  explicit PredictionSortProxy(QObject* parent = nullptr);

protected:
  bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;
};

// A sweep along one axis: rows are the axis values, columns the checked variants; a cell is the
// chosen quantity (NaN where the variant does not apply).
class SweepModel : public QAbstractTableModel {
  Q_OBJECT
public:
  enum class Axis { seq, kv_len, batch, head_dim, kv_heads, sram_bytes, window };
  enum class Quantity { time, hbm_bytes, intensity };
  static QStringList axis_names();
  static QStringList quantity_names();

  explicit SweepModel(Session* s, QObject* parent = nullptr);
  void set_axis(Axis a);
  void set_quantity(Quantity q);
  // The axis swept: the one asked for, except that seq becomes kv-len in decode (one query token;
  // the cache length is what changes).
  Axis axis() const;
  Quantity quantity() const { return quantity_; }
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation o, int role) const override;

  const std::vector<double>& axis_values() const { return xs_; }
  const std::vector<Variant>& variants() const { return cols_; }
  double value(int row, int col) const { return cells_[static_cast<std::size_t>(row)][static_cast<std::size_t>(col)].value; }
  // Axis values where a variant's verdict turns from memory- to compute-bound (or back), taken
  // between the two sweep points (geometric mean), with the quantity there (the geometric mean of
  // the two values: the midpoint of the segment on log axes) and the direction.
  struct Crossing {
    double at, value;
    bool to_compute;
  };
  std::vector<Crossing> crossings(int col) const;

private:
  struct Cell {
    double value = 0;
    bool ok = false, memory = false;
  };
  void rebuild();
  Session* s_;
  Axis axis_ = Axis::seq;
  Quantity quantity_ = Quantity::time;
  std::vector<double> xs_;
  std::vector<Variant> cols_;
  std::vector<std::vector<Cell>> cells_;
};

}  // namespace attnio::gui
