// The roofline chart: log-log, every ceiling labelled, ridge points marked, one point per checked
// variant (fill by bound, rim in the variant's colour), measured trace points as hollow markers
// joined to their prediction, and the published measurements `attnio validate` checks (hollow
// squares) of the checked variants' implementations on this GPU. Hover shows the numbers; a click
// makes the variant current.
#pragma once

#include <QChartView>
#include <QGraphicsLineItem>
#include <QGraphicsSimpleTextItem>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QScatterSeries>

#include <map>
#include <vector>

#include "session.hpp"

namespace attnio::gui {

class RooflineView : public QChartView {
  Q_OBJECT
public:
  explicit RooflineView(Session* s, QWidget* parent = nullptr);
  void rebuild();

private:
  void place_labels();
  // `point`: a variant's label, which joins others at the same spot ("flash2, sigmoid").
  void add_label(const QString& text, QPointF at, QPointF offset, QColor color, bool point = false);
  struct Label {
    QGraphicsSimpleTextItem* item;
    QGraphicsLineItem* leader;  // from the point to a label placed away from it
    QPointF value;
    QPointF offset;
    QString text;
    bool point = false;
  };
  // Series, axes and labels are made once and refilled on every change: QtCharts takes far longer
  // to add and remove series than to replace their points (issue 7's 50 ms redraw budget).
  Session* s_;
  QLogValueAxis* ax_;
  QLogValueAxis* ay_;
  std::vector<QLineSeries*> ceiling_lines_;
  QScatterSeries* ridges_;
  QLineSeries* levels_;
  QScatterSeries* hollow_;
  std::vector<QLineSeries*> joins_;
  std::map<Variant, QScatterSeries*> points_;
  std::map<Variant, QString> tips_;
  QStringList hollow_tips_;  // one per point of hollow_, in order
  QScatterSeries* published_;
  QStringList published_tips_;  // one per point of published_, in order
  std::vector<Label> labels_;

public:
  // The labels on screen, in scene coordinates (tests check that none overlap).
  std::vector<QRectF> label_rects() const;
  std::vector<QString> label_texts() const;

private:
  std::size_t labels_used_ = 0;
};

}  // namespace attnio::gui
