#include "roofline_view.hpp"

#include <QChart>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QScatterSeries>
#include <QToolTip>

#include <algorithm>
#include <cmath>

#include "attnio/model/explain.hpp"
#include "roofline.hpp"

namespace attnio::gui {

namespace {

const QColor kMemoryColor(0xd6, 0x27, 0x28);   // memory-bound points
const QColor kComputeColor(0x1f, 0x77, 0xb4);  // compute-bound points

QString q(const std::string& s) { return QString::fromStdString(s); }

QString rate_text(const RoofCeiling& c) {
  if (c.diagonal) return q(human_bytes(c.value)) + "/s";
  return q(human_flops(c.value)) + (c.ceiling == Ceiling::sfu ? " ops/s" : "/s");
}

}  // namespace

RooflineView::RooflineView(Session* s, QWidget* parent) : QChartView(parent), s_(s) {
  setRenderHint(QPainter::Antialiasing);
  setChart(new QChart);
  chart()->legend()->setAlignment(Qt::AlignBottom);
  connect(s_, &Session::changed, this, &RooflineView::rebuild);
  connect(s_, &Session::current_changed, this, &RooflineView::rebuild);
  connect(s_, &Session::trace_changed, this, &RooflineView::rebuild);
  connect(chart(), &QChart::plotAreaChanged, this, [this](const QRectF&) { place_labels(); });
  rebuild();
}

void RooflineView::rebuild() {
  QChart* c = chart();
  for (auto& l : labels_) delete l.item;
  labels_.clear();
  c->removeAllSeries();
  for (QAbstractAxis* a : c->axes()) {
    c->removeAxis(a);
    delete a;
  }
  const Device& dev = s_->device();
  const Workload& w = s_->workload();
  c->setTitle(QStringLiteral("Roofline: %1, %2 %3, %4 (point fill: red memory-bound, blue compute-bound)")
                  .arg(q(dev.name), QString::fromUtf8(to_string(w.phase).data()),
                       QString::fromUtf8(to_string(w.pass).data()), QString::fromUtf8(to_string(w.dtype).data())));

  // Axes span the ceilings and every point, in whole decades.
  const auto ceilings = roof_ceilings(dev, w.dtype);
  double x_lo = 1e-2, x_hi = 1e4, y_hi = 0, y_lo = 1e30;
  for (const auto& ce : ceilings) {
    if (!ce.diagonal) y_hi = std::max(y_hi, ce.value), y_lo = std::min(y_lo, ce.value);
  }
  std::vector<std::pair<const Entry*, RoofPoint>> points;
  for (Variant v : s_->selection()) {
    const Entry& e = s_->entry(v);
    if (!e.ok) continue;
    const RoofPoint p = roof_point(e.prediction);
    if (p.intensity <= 0 || p.flops_per_s <= 0) continue;
    points.emplace_back(&e, p);
    x_lo = std::min(x_lo, p.intensity), x_hi = std::max(x_hi, p.intensity);
    y_lo = std::min(y_lo, p.flops_per_s), y_hi = std::max(y_hi, p.flops_per_s);
    if (v == s_->current()) {
      for (double bytes : {e.prediction.l2_bytes().d(), e.prediction.sram_bytes().d()}) {
        if (bytes > 0) x_lo = std::min(x_lo, e.prediction.flops().d() / bytes);
      }
    }
  }
  for (const auto& tp : s_->trace_points()) {
    const RoofPoint m = measured_point(tp.prediction, tp.hbm_bytes, tp.time_s);
    if (m.intensity > 0 && m.flops_per_s > 0) {
      x_lo = std::min(x_lo, m.intensity), x_hi = std::max(x_hi, m.intensity);
      y_lo = std::min(y_lo, m.flops_per_s), y_hi = std::max(y_hi, m.flops_per_s);
    }
  }
  x_lo = std::pow(10, std::floor(std::log10(x_lo)));
  x_hi = std::pow(10, std::ceil(std::log10(x_hi * 1.5)));
  y_lo = std::pow(10, std::floor(std::log10(std::max(y_lo, 1.0) / 3)));
  y_hi = std::pow(10, std::ceil(std::log10(y_hi * 1.5)));

  auto* ax = new QLogValueAxis;
  ax->setTitleText(QStringLiteral("arithmetic intensity (FLOP per HBM byte)"));
  ax->setLabelFormat("%g");
  ax->setBase(10);
  ax->setRange(x_lo, x_hi);
  auto* ay = new QLogValueAxis;
  ay->setTitleText(QStringLiteral("attained FLOP/s"));
  ay->setLabelFormat("%.0e");
  ay->setBase(10);
  ay->setRange(y_lo, y_hi);
  c->addAxis(ax, Qt::AlignBottom);
  c->addAxis(ay, Qt::AlignLeft);
  auto attach = [&](QAbstractSeries* series) {
    c->addSeries(series);
    series->attachAxis(ax);
    series->attachAxis(ay);
  };
  auto label = [&](const QString& text, QPointF at, QPointF offset, QColor color) {
    auto* item = new QGraphicsSimpleTextItem(text, c);
    item->setBrush(color);
    QFont f = item->font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    item->setFont(f);
    item->setZValue(10);
    labels_.push_back({item, at, offset});
  };

  // Ceilings: roofs are horizontal lines, bandwidths diagonals y = B x AI (Williams et al. §2).
  static const QColor ceiling_colors[] = {QColor("#444444"), QColor("#777777"), QColor("#9467bd"),
                                          QColor("#d62728"), QColor("#ff7f0e"), QColor("#2ca02c")};
  int ci = 0, diagonal_index = 0;
  for (const auto& ce : ceilings) {
    auto* line = new QLineSeries;
    line->setName(q(ce.name) + " " + rate_text(ce));
    QPen pen(ceiling_colors[ci++ % 6]);
    pen.setWidthF(ce.diagonal ? 1.6 : 2.0);
    if (ce.ceiling == Ceiling::sfu || ce.ceiling == Ceiling::l2 || ce.ceiling == Ceiling::sram) pen.setStyle(Qt::DashLine);
    line->setPen(pen);
    QPointF end;
    if (ce.diagonal) {
      const double x0 = std::max(x_lo, y_lo / ce.value), x1 = std::min(x_hi, y_hi / ce.value);
      if (x0 >= x1) {
        delete line;
        continue;
      }
      line->append(x0, ce.value * x0);
      line->append(x1, ce.value * x1);
      // Near the top end, each diagonal a little lower than the last so the labels stay apart.
      const double back = 1.3 * std::pow(4.0, diagonal_index++);
      end = QPointF(x1 / back, ce.value * x1 / back);
    } else {
      line->append(x_lo, ce.value);
      line->append(x_hi, ce.value);
      end = QPointF(x_lo * 1.2, ce.value);
    }
    attach(line);
    label(q(ce.name) + "  " + rate_text(ce), end, ce.diagonal ? QPointF(6, -4) : QPointF(0, -16), pen.color());
  }

  // Ridge points.
  auto* ridges = new QScatterSeries;
  ridges->setName(QStringLiteral("ridge points"));
  ridges->setMarkerShape(QScatterSeries::MarkerShapeRotatedRectangle);
  ridges->setMarkerSize(9);
  ridges->setColor(QColor("#222222"));
  for (const auto& r : ridge_points(ceilings)) {
    if (r.intensity < x_lo || r.intensity > x_hi) continue;
    ridges->append(r.intensity, r.flops_per_s);
    label(QString::number(r.intensity, 'f', r.intensity < 10 ? 1 : 0), QPointF(r.intensity, r.flops_per_s),
          QPointF(-6, 6), QColor("#222222"));
  }
  attach(ridges);

  // Measured points (hollow) joined to their predictions.
  if (!s_->trace_points().empty()) {
    auto* hollow = new QScatterSeries;
    hollow->setName(QStringLiteral("measured (trace)"));
    hollow->setMarkerSize(11);
    hollow->setBrush(Qt::NoBrush);
    hollow->setPen(QPen(QColor("#111111"), 1.6));
    for (const auto& tp : s_->trace_points()) {
      if (!s_->selected(tp.variant)) continue;
      const RoofPoint m = measured_point(tp.prediction, tp.hbm_bytes, tp.time_s);
      const RoofPoint p = roof_point(tp.prediction);
      if (m.intensity <= 0 || m.flops_per_s <= 0 || p.intensity <= 0 || p.flops_per_s <= 0) continue;
      auto* join = new QLineSeries;
      join->setPen(QPen(variant_color(tp.variant), 1.2, Qt::DotLine));
      join->append(p.intensity, p.flops_per_s);
      join->append(m.intensity, m.flops_per_s);
      attach(join);
      const auto markers = c->legend()->markers(join);
      for (auto* mk : markers) mk->setVisible(false);
      hollow->append(m.intensity, m.flops_per_s);
    }
    attach(hollow);
    connect(hollow, &QScatterSeries::hovered, this, [this](const QPointF& pt, bool on) {
      if (!on) return QToolTip::hideText();
      for (const auto& tp : s_->trace_points()) {
        const RoofPoint m = measured_point(tp.prediction, tp.hbm_bytes, tp.time_s);
        if (std::abs(m.intensity / pt.x() - 1) < 1e-9 && std::abs(m.flops_per_s / pt.y() - 1) < 1e-9) {
          QToolTip::showText(QCursor::pos(), QStringLiteral("measured %1\nHBM %2 (predicted %3)\ntime %4 (predicted %5)")
                                                 .arg(tp.label, q(human_bytes(tp.hbm_bytes)),
                                                      q(human_bytes(tp.prediction.hbm_bytes().d())), q(human_time(tp.time_s)),
                                                      q(human_time(tp.prediction.predicted_time_s))));
          return;
        }
      }
    });
  }

  // One series per variant, so hover and click know which it is.
  for (const auto& [e, p] : points) {
    const Prediction& pr = e->prediction;
    auto* s = new QScatterSeries;
    const bool current = e->variant == s_->current();
    s->setName(QString::fromUtf8(to_string(e->variant).data()));
    s->setMarkerSize(current ? 17 : 12);
    s->setColor(pr.memory_bound() ? kMemoryColor : kComputeColor);
    s->setBorderColor(variant_color(e->variant));
    QPen rim(variant_color(e->variant), current ? 4 : 3);
    s->setPen(rim);
    s->append(p.intensity, p.flops_per_s);
    attach(s);
    for (auto* mk : c->legend()->markers(s)) mk->setVisible(false);
    label(QString::fromUtf8(to_string(e->variant).data()), QPointF(p.intensity, p.flops_per_s), QPointF(9, -7),
          current ? QColor(Qt::black) : QColor("#333333"));
    const Variant v = e->variant;
    const QString tip =
        QStringLiteral("%1: %2-bound (%3)\ntime %4\nFLOPs %5\nHBM %6 (L2 %7, SRAM %8)\nintensity %9 FLOP/B\nattained %10/s")
            .arg(QString::fromUtf8(to_string(v).data()), pr.memory_bound() ? "memory" : "compute",
                 QString::fromUtf8(to_string(pr.binding_ceiling).data()), q(human_time(pr.predicted_time_s)),
                 q(human_flops(pr.flops().d())), q(human_bytes(pr.hbm_bytes().d())), q(human_bytes(pr.l2_bytes().d())),
                 q(human_bytes(pr.sram_bytes().d())), QString::number(p.intensity, 'g', 4), q(human_flops(p.flops_per_s)));
    connect(s, &QScatterSeries::hovered, this, [tip](const QPointF&, bool on) {
      if (on) QToolTip::showText(QCursor::pos(), tip);
      else QToolTip::hideText();
    });
    connect(s, &QScatterSeries::clicked, this, [this, v](const QPointF&) { s_->set_current(v); });
  }
  // Hierarchical roofline (Yang et al. 2020, §2): the current variant's work also placed at its
  // FLOPs per L2 byte and per SRAM byte, at the same attained rate, so the diagonal that binds it
  // is the one its point reaches.
  for (const auto& [e, p] : points) {
    if (e->variant != s_->current()) continue;
    const Prediction& pr = e->prediction;
    auto* levels = new QLineSeries;
    levels->setName(QStringLiteral("%1 per L2 / SRAM byte").arg(QString::fromUtf8(to_string(e->variant).data())));
    QPen pen(variant_color(e->variant), 1.5, Qt::DashDotLine);
    levels->setPen(pen);
    levels->setPointsVisible(true);
    levels->append(p.intensity, p.flops_per_s);
    const double flops = pr.flops().d();
    const std::pair<const char*, double> per_level[] = {{"L2", pr.l2_bytes().d()}, {"SRAM", pr.sram_bytes().d()}};
    for (const auto& [name, bytes] : per_level) {
      if (bytes <= 0) continue;
      levels->append(flops / bytes, p.flops_per_s);
      label(name, QPointF(flops / bytes, p.flops_per_s), QPointF(-8, 6), pen.color().darker(140));
    }
    attach(levels);
  }
  for (auto* mk : c->legend()->markers(ridges)) mk->setVisible(true);
  place_labels();
}

void RooflineView::place_labels() {
  for (auto& l : labels_) {
    const QPointF at = chart()->mapToPosition(l.value);
    l.item->setPos(at + l.offset);
    l.item->setVisible(chart()->plotArea().adjusted(-2, -20, 60, 2).contains(at));
  }
}

}  // namespace attnio::gui
