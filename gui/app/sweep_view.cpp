#include "sweep_view.hpp"

#include <QChart>
#include <QHBoxLayout>
#include <QLabel>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QScatterSeries>
#include <QToolTip>
#include <QVBoxLayout>

#include <cmath>

namespace attnio::gui {

SweepView::SweepView(Session* s, SweepModel* model, QWidget* parent) : QWidget(parent), s_(s), model_(model) {
  auto* top = new QHBoxLayout;
  axis_ = new QComboBox;
  axis_->addItems(SweepModel::axis_names());
  axis_->setObjectName("sweepAxis");
  quantity_ = new QComboBox;
  quantity_->addItems(SweepModel::quantity_names());
  quantity_->setObjectName("sweepQuantity");
  top->addWidget(new QLabel(tr("Axis")));
  top->addWidget(axis_);
  top->addWidget(new QLabel(tr("Plot")));
  top->addWidget(quantity_);
  top->addStretch(1);
  view_ = new QChartView(new QChart);
  view_->setRenderHint(QPainter::Antialiasing);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(view_, 1);
  QChart* c = view_->chart();
  ax_ = new QLogValueAxis;
  ax_->setLabelFormat("%g");
  ay_ = new QLogValueAxis;
  ay_->setLabelFormat("%.1e");
  c->addAxis(ax_, Qt::AlignBottom);
  c->addAxis(ay_, Qt::AlignLeft);
  for (Variant v : all_variants()) {
    auto* line = new QLineSeries;
    line->setName(qs(to_string(v)));
    line->setPointsVisible(true);
    c->addSeries(line);
    line->attachAxis(ax_);
    line->attachAxis(ay_);
    lines_[v] = line;
    connect(line, &QLineSeries::clicked, this, [this, v](const QPointF&) { s_->set_current(v); });
    connect(line, &QLineSeries::hovered, this, [this, v](const QPointF& p, bool on) {
      if (!on) return;
      const QString axis_name = SweepModel::axis_names()[static_cast<int>(model_->axis())];
      QToolTip::showText(QCursor::pos(), QStringLiteral("%1 at %2 = %3: %4")
                                             .arg(qs(to_string(v)), axis_name)
                                             .arg(p.x(), 0, 'g', 6)
                                             .arg(p.y(), 0, 'g', 4));
    });
  }
  cross_ = new QScatterSeries;
  cross_->setName(tr("memory/compute crossing"));
  cross_->setMarkerShape(QScatterSeries::MarkerShapeRotatedRectangle);
  cross_->setMarkerSize(12);
  cross_->setColor(Qt::black);
  c->addSeries(cross_);
  cross_->attachAxis(ax_);
  cross_->attachAxis(ay_);
  connect(axis_, &QComboBox::currentIndexChanged, this,
          [this](int i) { model_->set_axis(static_cast<SweepModel::Axis>(i)); });
  connect(quantity_, &QComboBox::currentIndexChanged, this,
          [this](int i) { model_->set_quantity(static_cast<SweepModel::Quantity>(i)); });
  connect(model_, &QAbstractItemModel::modelReset, this, &SweepView::rebuild);
  connect(s_, &Session::current_changed, this, &SweepView::rebuild);
  rebuild();
}

void SweepView::rebuild() {
  QChart* c = view_->chart();
  axis_->blockSignals(true);
  quantity_->blockSignals(true);
  axis_->setCurrentIndex(static_cast<int>(model_->axis()));
  quantity_->setCurrentIndex(static_cast<int>(model_->quantity()));
  axis_->blockSignals(false);
  quantity_->blockSignals(false);
  const QString axis_name = SweepModel::axis_names()[static_cast<int>(model_->axis())];
  const QString quantity_name = SweepModel::quantity_names()[static_cast<int>(model_->quantity())];
  // A short title and the legend on the right, one entry per line: at 1280x720 a bottom legend of
  // 15 variants cut every name ("sta...") and the long title was elided.
  c->setTitle(tr("%1 against %2 on %3").arg(quantity_name, axis_name, QString::fromStdString(s_->device().name)));
  c->legend()->setAlignment(Qt::AlignRight);
  view_->setToolTip(tr("diamonds: the verdict changes between memory- and compute-bound; points whose memory "
                       "footprint exceeds the GPU's HBM are not drawn"));
  for (auto& [v, line] : lines_) {
    line->setVisible(false);
    for (auto* mk : c->legend()->markers(line)) mk->setVisible(false);
  }
  // One pass: each variant's positive values become its line; the y range spans them all.
  const auto& xs = model_->axis_values();
  double y_lo = 1e300, y_hi = 0;
  QList<QPointF> crossings;
  for (int col = 0; col < model_->columnCount(); ++col) {
    const Variant v = model_->variants()[static_cast<std::size_t>(col)];
    QList<QPointF> pts;
    for (int row = 0; row < model_->rowCount(); ++row) {
      const double y = model_->data(model_->index(row, col), kRawRole).toDouble();  // NaN where n/a
      if (!(y > 0)) continue;
      pts.append(QPointF(xs[static_cast<std::size_t>(row)], y));
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
    if (pts.isEmpty()) continue;
    QLineSeries* line = lines_[v];
    line->setPen(QPen(variant_color(v), v == s_->current() ? 4 : 2));
    line->replace(pts);
    line->setVisible(true);
    for (auto* mk : c->legend()->markers(line)) mk->setVisible(true);
    for (const auto& k : model_->crossings(col)) {
      if (k.value > 0) crossings.append(QPointF(k.at, k.value));
    }
  }
  if (y_hi <= 0 || xs.empty()) {
    c->setTitle(tr("No checked variant applies along %1").arg(axis_name));
    cross_->clear();
    return;
  }
  ax_->setBase(xs.size() > 1 && xs[1] / xs[0] == 2 ? 2 : 10);
  ax_->setTitleText(axis_name);
  ax_->setRange(xs.front() / 1.2, xs.back() * 1.2);
  ay_->setTitleText(quantity_name);
  ay_->setRange(std::pow(10, std::floor(std::log10(y_lo))), std::pow(10, std::ceil(std::log10(y_hi))));
  cross_->replace(crossings);
}

}  // namespace attnio::gui
