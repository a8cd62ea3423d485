// The roofline chart: log-log, every ceiling labelled, ridge points marked, one point per checked
// variant (fill by bound, rim in the variant's colour), measured trace points as hollow markers
// joined to their prediction. Hover shows the numbers; a click makes the variant current.
#pragma once

#include <QChartView>
#include <QGraphicsSimpleTextItem>

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
  struct Label {
    QGraphicsSimpleTextItem* item;
    QPointF value;
    QPointF offset;
  };
  Session* s_;
  std::vector<Label> labels_;
};

}  // namespace attnio::gui
