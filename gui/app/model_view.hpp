// The Model view (issue 17): one or two whole models side by side, decode steps at several context
// lengths. A stacked bar per (context, model) of the step's time by layer type (attention, SSM, MLP,
// MoE, other), the memory footprint against the device's HBM on the right axis, and a diamond on
// the first bar where reading the K/V cache overtakes reading the weights. Clicking the attention
// or SSM part of a bar focuses that mixer in the other views.
#pragma once

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChartView>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QScatterSeries>
#include <QSpinBox>
#include <QStackedBarSeries>
#include <QValueAxis>
#include <QWidget>

#include <array>

#include "stack_chart.hpp"

namespace attnio::gui {

class ModelView : public QWidget {
  Q_OBJECT
public:
  ModelView(Session* s, StackChart* model, QWidget* parent = nullptr);
  QChartView* chart_view() const { return view_; }
  StackChart* model() const { return model_; }
  void rebuild();
  // "" or the error (also shown under the chart).
  QString choose(const QString& a, const QString& b);
  // The step's part a click on bar `index` of layer type `g` would focus (tests call it directly).
  bool click(int index, StackGroup g);

private:
  Session* s_;
  StackChart* model_;
  QComboBox* first_;
  QComboBox* second_;
  QSpinBox* batch_;
  QLineEdit* contexts_;
  QLabel* note_;
  QChartView* view_;
  QStackedBarSeries* bars_;
  std::array<QBarSet*, 5> sets_{};
  QBarCategoryAxis* categories_;
  QValueAxis* time_axis_;
  QValueAxis* memory_axis_;
  QValueAxis* x_line_;  // hidden: places the footprint points over the bars
  QScatterSeries* footprint_;
  QScatterSeries* too_big_;
  QLineSeries* hbm_;
  QScatterSeries* crossing_;
};

}  // namespace attnio::gui
