// The sweep chart: one line per checked variant along the chosen axis (log-log), with a marker
// where a variant's verdict turns between memory- and compute-bound.
#pragma once

#include <QChartView>
#include <QComboBox>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QScatterSeries>
#include <QWidget>

#include <map>

#include "item_models.hpp"

namespace attnio::gui {

class SweepView : public QWidget {
  Q_OBJECT
public:
  SweepView(Session* s, SweepModel* model, QWidget* parent = nullptr);
  QChartView* chart_view() const { return view_; }
  void rebuild();

private:
  Session* s_;
  SweepModel* model_;
  QComboBox* axis_;
  QComboBox* quantity_;
  QChartView* view_;
  // Made once, refilled on change (adding series to a QChart is the slow part of a redraw).
  QLogValueAxis* ax_;
  QLogValueAxis* ay_;
  std::map<Variant, QLineSeries*> lines_;
  QScatterSeries* cross_;
};

}  // namespace attnio::gui
