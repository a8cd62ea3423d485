#include "roofline_view.hpp"

#include <QGraphicsLineItem>

#include <algorithm>
#include <cmath>

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
  QChart* c = chart();
  c->legend()->setAlignment(Qt::AlignBottom);
  ax_ = new QLogValueAxis;
  ax_->setTitleText(QStringLiteral("arithmetic intensity (FLOP per HBM byte)"));
  ax_->setLabelFormat("%g");
  ax_->setBase(10);
  ay_ = new QLogValueAxis;
  ay_->setTitleText(QStringLiteral("attained FLOP/s"));
  ay_->setLabelFormat("%.0e");
  ay_->setBase(10);
  c->addAxis(ax_, Qt::AlignBottom);
  c->addAxis(ay_, Qt::AlignLeft);
  auto attach = [&](QAbstractSeries* series, bool in_legend) {
    c->addSeries(series);
    series->attachAxis(ax_);
    series->attachAxis(ay_);
    for (auto* mk : c->legend()->markers(series)) mk->setVisible(in_legend);
  };
  for (int i = 0; i < 8; ++i) {  // six datasheet ceilings, two achievable roofs of the implementation
    ceiling_lines_.push_back(new QLineSeries);
    attach(ceiling_lines_.back(), true);
  }
  ridges_ = new QScatterSeries;
  ridges_->setName(QStringLiteral("ridge points"));
  ridges_->setMarkerShape(QScatterSeries::MarkerShapeRotatedRectangle);
  ridges_->setMarkerSize(9);
  ridges_->setColor(QColor("#222222"));
  attach(ridges_, true);
  levels_ = new QLineSeries;
  levels_->setPointsVisible(true);
  attach(levels_, true);
  // Hollow markers whose hover shows the tip of the point under the mouse (tips: one per point).
  auto hollow = [&](const QString& name, QScatterSeries::MarkerShape shape, qreal size, QPen pen, const QStringList* tips) {
    auto* series = new QScatterSeries;
    series->setName(name);
    series->setMarkerShape(shape);
    series->setMarkerSize(size);
    series->setBrush(Qt::NoBrush);
    series->setPen(pen);
    attach(series, true);
    connect(series, &QScatterSeries::hovered, this, [series, tips](const QPointF& pt, bool on) {
      const auto i = series->points().indexOf(pt);
      if (on && i >= 0 && i < tips->size()) QToolTip::showText(QCursor::pos(), (*tips)[i]);
      else QToolTip::hideText();
    });
    return series;
  };
  hollow_ = hollow(QStringLiteral("measured (trace)"), QScatterSeries::MarkerShapeCircle, 11, QPen(QColor("#111111"), 1.6),
                   &hollow_tips_);
  published_ = hollow(QStringLiteral("published"), QScatterSeries::MarkerShapeRectangle, 9, QPen(QColor("#555555"), 1.2),
                      &published_tips_);
  // One series per variant, so hover and click know which it is.
  for (Variant v : all_variants()) {
    auto* series = new QScatterSeries;
    series->setName(qs(to_string(v)));
    attach(series, false);
    points_[v] = series;
    connect(series, &QScatterSeries::hovered, this, [this, v](const QPointF&, bool on) {
      if (on) QToolTip::showText(QCursor::pos(), tips_[v]);
      else QToolTip::hideText();
    });
    connect(series, &QScatterSeries::clicked, this, [this, v](const QPointF&) { s_->set_current(v); });
  }
  connect(s_, &Session::changed, this, &RooflineView::rebuild);
  connect(s_, &Session::current_changed, this, &RooflineView::rebuild);
  connect(s_, &Session::trace_changed, this, &RooflineView::rebuild);
  connect(c, &QChart::plotAreaChanged, this, [this](const QRectF&) { place_labels(); });
  rebuild();
}

void RooflineView::add_label(const QString& text, QPointF at, QPointF offset, QColor color, bool point) {
  if (labels_used_ == labels_.size()) {
    auto* item = new QGraphicsSimpleTextItem(chart());
    QFont f = item->font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    item->setFont(f);
    item->setZValue(10);
    auto* leader = new QGraphicsLineItem(chart());
    leader->setPen(QPen(QColor("#999999"), 0.8));
    leader->setZValue(9);
    labels_.push_back({item, leader, {}, {}, {}, false});
  }
  Label& l = labels_[labels_used_++];
  l.item->setText(text);
  l.item->setBrush(color);
  l.value = at;
  l.offset = offset;
  l.text = text;
  l.point = point;
}

std::vector<QRectF> RooflineView::label_rects() const {
  std::vector<QRectF> out;
  for (std::size_t i = 0; i < labels_used_; ++i) {
    if (labels_[i].item->isVisible()) out.push_back(labels_[i].item->sceneBoundingRect());
  }
  return out;
}

std::vector<QString> RooflineView::label_texts() const {
  std::vector<QString> out;
  for (std::size_t i = 0; i < labels_used_; ++i) {
    if (labels_[i].item->isVisible()) out.push_back(labels_[i].item->text());
  }
  return out;
}

void RooflineView::rebuild() {
  QChart* c = chart();
  labels_used_ = 0;
  const Device& dev = s_->device();
  const Workload& w = s_->workload();
  c->setTitle(QStringLiteral("Roofline: %1, %2 %3, %4 (point fill: red memory-bound, blue compute-bound)")
                  .arg(q(dev.name), qs(to_string(w.phase)),
                       qs(to_string(w.pass)), qs(to_string(w.dtype))));

  // Axes span the ceilings and every point shown, in whole decades.
  auto ceilings = roof_ceilings(dev, w.dtype);
  // The current variant's implementation: its sustained roofs, dotted.
  if (const Entry& cur = s_->entry(s_->current()); cur.ok) {
    for (const RoofCeiling& a : achievable_roofs(dev, w.dtype, cur.prediction.impl)) ceilings.push_back(a);
  }
  std::vector<std::pair<const Entry*, RoofPoint>> points;
  std::vector<RoofPoint> shown;
  for (Variant v : s_->selection()) {
    const Entry& e = s_->entry(v);
    if (!e.ok) continue;
    const RoofPoint p = roof_point(e.prediction);
    if (p.intensity <= 0 || p.flops_per_s <= 0) continue;
    points.emplace_back(&e, p);
    shown.push_back(p);
    if (v == s_->current()) {
      for (const LevelPoint& l : level_points(e.prediction)) shown.push_back(l.point);
    }
  }
  // Measured points of the checked variants, joined to their predictions.
  struct Measured {
    const TracePoint* trace;
    RoofPoint measured, predicted;
  };
  std::vector<Measured> measured;
  for (const TracePoint* tpp : s_->visible_trace_points()) {
    const TracePoint& tp = *tpp;
    if (!s_->selected(tp.variant)) continue;
    const Measured m{&tp, measured_point(tp.prediction, tp.measured.hbm_bytes, tp.measured.time_s), roof_point(tp.prediction)};
    if (m.measured.intensity <= 0 || m.measured.flops_per_s <= 0 || m.predicted.intensity <= 0 || m.predicted.flops_per_s <= 0) continue;
    measured.push_back(m);
    shown.push_back(m.measured);
  }
  // Published measurements of the checked variants, at the model's FLOPs and bytes for their shapes.
  QList<QPointF> published_list;
  published_tips_.clear();
  for (const PublishedPoint& pp : s_->published_points()) {
    const traces::ValidatedRow& v = pp.row;
    if (!s_->selected(pp.variant) || v.hbm_bytes <= 0 || v.flops <= 0 || v.published_s <= 0) continue;
    const RoofPoint m{v.flops / v.hbm_bytes, v.flops / v.published_s};
    published_list.append(QPointF(m.intensity, m.flops_per_s));
    shown.push_back(m);
    published_tips_.append(QStringLiteral("published %1\ntime %2 (predicted %3, %4%5 %)\nattained %6/s")
                               .arg(pp.label, q(human_time(v.published_s)), q(human_time(v.predicted_s)),
                                    v.error_pct >= 0 ? QStringLiteral("+") : QString(), QString::number(v.error_pct, 'f', 1),
                                    q(human_flops(m.flops_per_s))));
  }
  const RoofRange range = roof_range(ceilings, shown);
  const double x_lo = range.x_lo, x_hi = range.x_hi, y_lo = range.y_lo, y_hi = range.y_hi;
  ax_->setRange(x_lo, x_hi);
  ay_->setRange(y_lo, y_hi);

  // Ceilings: roofs are horizontal lines, bandwidths diagonals y = B x AI (Williams et al. §2).
  static const QColor ceiling_colors[] = {QColor("#444444"), QColor("#777777"), QColor("#9467bd"),
                                          QColor("#d62728"), QColor("#ff7f0e"), QColor("#2ca02c")};
  int diagonal_index = 0;
  for (std::size_t i = 0; i < ceiling_lines_.size(); ++i) {
    QLineSeries* line = ceiling_lines_[i];
    if (i >= ceilings.size()) {
      line->setVisible(false);
      continue;
    }
    const RoofCeiling& ce = ceilings[i];
    line->setName(q(ce.name));  // the rate is on the chart beside the line; short legend entries do not elide
    QPen pen(ce.achievable ? (ce.diagonal ? QColor("#d62728") : QColor("#1f77b4")) : ceiling_colors[i % 6]);
    pen.setWidthF(ce.diagonal ? 1.6 : 2.0);
    if (ce.ceiling == Ceiling::sfu || ce.ceiling == Ceiling::l2 || ce.ceiling == Ceiling::sram) pen.setStyle(Qt::DashLine);
    if (ce.achievable) pen.setStyle(Qt::DotLine);
    line->setPen(pen);
    QPointF end;
    if (ce.diagonal) {
      const double x0 = std::max(x_lo, y_lo / ce.value), x1 = std::min(x_hi, y_hi / ce.value);
      if (x0 >= x1) {
        line->setVisible(false);
        continue;
      }
      line->replace({QPointF(x0, ce.value * x0), QPointF(x1, ce.value * x1)});
      // Near the top end, each diagonal a little lower than the last so the labels stay apart.
      const double back = 1.3 * std::pow(4.0, diagonal_index++);
      end = QPointF(x1 / back, ce.value * x1 / back);
    } else {
      line->replace({QPointF(x_lo, ce.value), QPointF(x_hi, ce.value)});
      end = QPointF(x_lo * 1.2, ce.value);
    }
    line->setVisible(true);
    add_label(q(ce.name) + "  " + rate_text(ce), end, ce.diagonal ? QPointF(6, -4) : QPointF(0, -16), pen.color());
  }

  // Ridge points.
  QList<QPointF> ridge_list;
  for (const auto& r : ridge_points(ceilings)) {
    if (r.intensity < x_lo || r.intensity > x_hi) continue;
    ridge_list.append(QPointF(r.intensity, r.flops_per_s));
    add_label(QString::number(r.intensity, 'f', r.intensity < 10 ? 1 : 0), QPointF(r.intensity, r.flops_per_s),
              QPointF(-6, 6), QColor("#222222"));
  }
  ridges_->replace(ridge_list);

  // Measured points (hollow) joined to their predictions.
  QList<QPointF> hollow_list;
  hollow_tips_.clear();
  std::size_t joins_used = 0;
  for (const Measured& mp : measured) {
    const TracePoint& tp = *mp.trace;
    const RoofPoint &m = mp.measured, &p = mp.predicted;
    if (joins_used == joins_.size()) {
      auto* join = new QLineSeries;
      c->addSeries(join);
      join->attachAxis(ax_);
      join->attachAxis(ay_);
      for (auto* mk : c->legend()->markers(join)) mk->setVisible(false);
      joins_.push_back(join);
      // A series added later lies on top and takes the mouse: the hollow markers go back on top of
      // their joins, or hovering them shows nothing.
      c->removeSeries(hollow_);
      c->addSeries(hollow_);
      hollow_->attachAxis(ax_);
      hollow_->attachAxis(ay_);
    }
    QLineSeries* join = joins_[joins_used++];
    join->setPen(QPen(variant_color(tp.variant), 1.2, Qt::DotLine));
    join->replace({QPointF(p.intensity, p.flops_per_s), QPointF(m.intensity, m.flops_per_s)});
    join->setVisible(true);
    for (auto* mk : c->legend()->markers(join)) mk->setVisible(false);
    hollow_list.append(QPointF(m.intensity, m.flops_per_s));
    hollow_tips_.append(QStringLiteral("measured %1\nHBM %2 (predicted %3)\ntime %4 (predicted %5)")
                            .arg(tp.label, q(human_bytes(tp.measured.hbm_bytes)), q(human_bytes(tp.prediction.hbm_bytes().d())),
                                 q(human_time(tp.measured.time_s)), q(human_time(tp.prediction.predicted_time_s))));
  }
  for (std::size_t i = joins_used; i < joins_.size(); ++i) joins_[i]->setVisible(false);
  published_->replace(published_list);
  published_->setVisible(!published_list.isEmpty());
  for (auto* mk : c->legend()->markers(published_)) mk->setVisible(!published_list.isEmpty());
  hollow_->replace(hollow_list);
  hollow_->setVisible(!hollow_list.isEmpty());
  for (auto* mk : c->legend()->markers(hollow_)) mk->setVisible(!hollow_list.isEmpty());

  // Variant points.
  for (auto& [v, series] : points_) series->setVisible(false);
  for (const auto& [e, p] : points) {
    const Prediction& pr = e->prediction;
    QScatterSeries* series = points_[e->variant];
    const bool current = e->variant == s_->current();
    series->setMarkerSize(current ? 17 : 12);
    series->setColor(pr.memory_bound() ? kMemoryColor : kComputeColor);
    series->setBorderColor(variant_color(e->variant));
    series->setPen(QPen(variant_color(e->variant), current ? 4 : 3));
    series->replace({QPointF(p.intensity, p.flops_per_s)});
    series->setVisible(true);
    for (auto* mk : c->legend()->markers(series)) mk->setVisible(false);  // showing a series shows its marker
    // A workload the GPU cannot hold keeps its point, marked: the label says so in red.
    const bool fits = fits_in_hbm(pr, s_->device());
    add_label(qs(to_string(e->variant)) + (fits ? QString() : tr(" (exceeds HBM)")), QPointF(p.intensity, p.flops_per_s),
              QPointF(9, -7), !fits ? QColor("#c00000") : current ? QColor(Qt::black) : QColor("#333333"), true);
    tips_[e->variant] =
        QStringLiteral("%1: %2-bound (%3)\ntime %4\nFLOPs %5\nHBM %6 (L2 %7, SRAM %8)\nintensity %9 FLOP/B\nattained %10/s")
            .arg(qs(to_string(e->variant)), pr.memory_bound() ? "memory" : "compute",
                 qs(to_string(pr.binding_ceiling)), q(human_time(pr.predicted_time_s)),
                 q(human_flops(pr.flops().d())), q(human_bytes(pr.hbm_bytes().d())), q(human_bytes(pr.l2_bytes().d())),
                 q(human_bytes(pr.sram_bytes().d())), QString::number(p.intensity, 'g', 4), q(human_flops(p.flops_per_s)));
  }

  // Hierarchical roofline (level_points): the current variant's work also placed at its FLOPs per
  // L2 byte and per SRAM byte, so the diagonal that binds it is the one its point reaches.
  levels_->setVisible(false);
  for (auto* mk : c->legend()->markers(levels_)) mk->setVisible(false);
  for (const auto& [e, p] : points) {
    if (e->variant != s_->current()) continue;
    levels_->setName(QStringLiteral("%1 per L2, SRAM byte").arg(qs(to_string(e->variant))));
    QPen pen(variant_color(e->variant), 1.5, Qt::DashDotLine);
    levels_->setPen(pen);
    QList<QPointF> pts{QPointF(p.intensity, p.flops_per_s)};
    for (const LevelPoint& l : level_points(e->prediction)) {
      const QPointF at(l.point.intensity, l.point.flops_per_s);
      pts.append(at);
      add_label(l.level, at, QPointF(-8, 6), pen.color().darker(140));
    }
    levels_->replace(pts);
    levels_->setVisible(true);
    for (auto* mk : c->legend()->markers(levels_)) mk->setVisible(true);
  }
  for (std::size_t i = labels_used_; i < labels_.size(); ++i) {
    labels_[i].item->setVisible(false);
    labels_[i].leader->setVisible(false);
  }
  place_labels();
}

// Greedy placement: labels in the order they were added (ceilings, ridge points, variants, levels),
// each at the first spot around its anchor that overlaps no label placed before it, no further
// than a few rings out; one moved away from its point gets a leader line. Variant labels whose
// points coincide on screen become one label ("flash2, sigmoid, sliding-window").
void RooflineView::place_labels() {
  const QRectF area = chart()->plotArea().adjusted(-2, -20, 60, 2);
  std::vector<QRectF> placed;
  std::vector<bool> merged(labels_used_, false);
  for (std::size_t i = 0; i < labels_used_; ++i) {
    Label& l = labels_[i];
    l.leader->setVisible(false);
    const QPointF at = chart()->mapToPosition(l.value);
    if (merged[i] || !area.contains(at)) {
      l.item->setVisible(false);
      continue;
    }
    if (l.point) {
      QString text = l.text;
      for (std::size_t j = i + 1; j < labels_used_; ++j) {
        if (!labels_[j].point || merged[j]) continue;
        const QPointF other = chart()->mapToPosition(labels_[j].value);
        if (std::hypot(other.x() - at.x(), other.y() - at.y()) < 6) {
          text += ", " + labels_[j].text;
          merged[j] = true;
        }
      }
      l.item->setText(text);
    }
    const QSizeF size = l.item->boundingRect().size();
    auto overlaps = [&](const QRectF& r) {
      return std::any_of(placed.begin(), placed.end(), [&](const QRectF& p) { return p.intersects(r); });
    };
    QPointF pos = at + l.offset;
    bool moved = false;
    if (overlaps(QRectF(pos, size))) {
      // Rings of candidates around the anchor: right, left, above, below and the diagonals.
      bool found = false;
      for (int ring = 1; ring <= 8 && !found; ++ring) {
        const double dx = 10 + 14.0 * ring, dy = 8 + 12.0 * ring;
        for (QPointF off : {QPointF(dx, -size.height() / 2), QPointF(-dx - size.width(), -size.height() / 2),
                            QPointF(-size.width() / 2, -dy - size.height()), QPointF(-size.width() / 2, dy),
                            QPointF(dx, -dy - size.height()), QPointF(dx, dy), QPointF(-dx - size.width(), -dy - size.height()),
                            QPointF(-dx - size.width(), dy)}) {
          const QRectF r(at + off, size);
          if (!overlaps(r) && chart()->rect().contains(r)) {
            pos = at + off;
            found = moved = true;
            break;
          }
        }
      }
      if (!found) {  // nowhere free nearby: leave it out rather than pile it on another
        l.item->setVisible(false);
        continue;
      }
    }
    l.item->setPos(pos);
    l.item->setVisible(true);
    placed.push_back(l.item->sceneBoundingRect());
    if (moved && l.point) {
      const QRectF r = l.item->sceneBoundingRect();
      const QPointF end(std::clamp(at.x(), r.left(), r.right()), std::clamp(at.y(), r.top(), r.bottom()));
      l.leader->setLine(QLineF(at, end));
      l.leader->setVisible(true);
    }
  }
}

}  // namespace attnio::gui
