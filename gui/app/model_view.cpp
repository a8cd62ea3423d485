#include "model_view.hpp"

#include <QChart>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLegendMarker>
#include <QPushButton>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attnio::gui {

namespace {
constexpr std::array<StackGroup, 5> kGroups = {StackGroup::attention, StackGroup::ssm, StackGroup::mlp, StackGroup::moe, StackGroup::other};
const std::array<QColor, 5> kColors = {QColor(0x1f, 0x77, 0xb4), QColor(0x2c, 0xa0, 0x2c), QColor(0xff, 0x7f, 0x0e),
                                       QColor(0xd6, 0x27, 0x28), QColor(0x7f, 0x7f, 0x7f)};
QString short_tokens(std::uint64_t n) {
  if (n >= 1024 && n % 1024 == 0) return QString::number(n / 1024) + "k";
  return QString::number(n);
}
}  // namespace

ModelView::ModelView(Session* s, StackChart* model, QWidget* parent) : QWidget(parent), s_(s), model_(model) {
  auto* top = new QHBoxLayout;
  first_ = new QComboBox;
  first_->setObjectName("modelFirst");
  second_ = new QComboBox;
  second_->setObjectName("modelSecond");
  second_->addItem(tr("(none)"));
  for (const auto& c : shipped_configs()) {
    first_->addItem(qs(c.name));
    second_->addItem(qs(c.name));
  }
  auto* open = new QPushButton(tr("Open config…"));
  batch_ = new QSpinBox;
  batch_->setObjectName("modelBatch");
  batch_->setRange(1, 4096);
  contexts_ = new QLineEdit;
  contexts_->setObjectName("modelContexts");
  contexts_->setToolTip(tr("context lengths: a list (4096,262144) or a range (1024:262144:x4)"));
  top->addWidget(new QLabel(tr("Model")));
  top->addWidget(first_);
  top->addWidget(new QLabel(tr("vs")));
  top->addWidget(second_);
  top->addWidget(open);
  top->addWidget(new QLabel(tr("Batch")));
  top->addWidget(batch_);
  top->addWidget(new QLabel(tr("Contexts")));
  top->addWidget(contexts_, 1);
  note_ = new QLabel;
  note_->setObjectName("modelNote");
  note_->setWordWrap(true);
  view_ = new QChartView(new QChart);
  view_->setRenderHint(QPainter::Antialiasing);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(view_, 1);
  layout->addWidget(note_);

  QChart* c = view_->chart();
  bars_ = new QStackedBarSeries;
  for (std::size_t i = 0; i < kGroups.size(); ++i) {
    sets_[i] = new QBarSet(qs(to_string(kGroups[i])));
    sets_[i]->setColor(kColors[i]);
    bars_->append(sets_[i]);
  }
  c->addSeries(bars_);
  categories_ = new QBarCategoryAxis;
  time_axis_ = new QValueAxis;
  time_axis_->setTitleText(tr("decode step (ms)"));
  time_axis_->setLabelFormat("%g");
  memory_axis_ = new QValueAxis;
  memory_axis_->setTitleText(tr("memory footprint (GB)"));
  memory_axis_->setLabelFormat("%g");
  x_line_ = new QValueAxis;
  x_line_->setVisible(false);
  c->addAxis(categories_, Qt::AlignBottom);
  c->addAxis(x_line_, Qt::AlignBottom);
  c->addAxis(time_axis_, Qt::AlignLeft);
  c->addAxis(memory_axis_, Qt::AlignRight);
  bars_->attachAxis(categories_);
  bars_->attachAxis(time_axis_);
  footprint_ = new QScatterSeries;
  footprint_->setName(tr("footprint within the HBM"));
  footprint_->setMarkerShape(QScatterSeries::MarkerShapeCircle);
  footprint_->setMarkerSize(10);
  footprint_->setColor(Qt::black);
  hbm_ = new QLineSeries;
  hbm_->setPen(QPen(Qt::black, 2, Qt::DashLine));
  crossing_ = new QScatterSeries;
  crossing_->setName(tr("cache read > weights"));
  crossing_->setMarkerShape(QScatterSeries::MarkerShapeRotatedRectangle);
  crossing_->setMarkerSize(14);
  crossing_->setColor(QColor(0x94, 0x67, 0xbd));
  too_big_ = new QScatterSeries;
  too_big_->setName(tr("footprint past the HBM"));
  too_big_->setMarkerShape(QScatterSeries::MarkerShapeCircle);
  too_big_->setMarkerSize(10);
  too_big_->setColor(Qt::white);
  too_big_->setPen(QPen(Qt::black, 3));
  for (QXYSeries* x : {static_cast<QXYSeries*>(footprint_), static_cast<QXYSeries*>(too_big_), static_cast<QXYSeries*>(hbm_),
                       static_cast<QXYSeries*>(crossing_)}) {
    c->addSeries(x);
    x->attachAxis(x_line_);
    x->attachAxis(x == crossing_ ? time_axis_ : memory_axis_);
  }
  c->legend()->setAlignment(Qt::AlignRight);

  connect(bars_, &QStackedBarSeries::clicked, this, [this](int index, QBarSet* set) {
    for (std::size_t i = 0; i < sets_.size(); ++i) {
      if (sets_[i] == set) click(index, kGroups[i]);
    }
  });
  connect(bars_, &QStackedBarSeries::hovered, this, [this](bool on, int index, QBarSet* set) {
    if (!on || index < 0 || index >= static_cast<int>(model_->bars().size())) return;
    const auto& b = model_->bars()[static_cast<std::size_t>(index)];
    QToolTip::showText(QCursor::pos(), tr("%1 at %2 tokens: %3 %4 ms of %5 ms; weights %6 GB, cache read %7 GB")
                                           .arg(QString::fromStdString(model_->configs()[static_cast<std::size_t>(b.model)].name))
                                           .arg(b.context)
                                           .arg(set->label())
                                           .arg(set->at(index), 0, 'f', 2)
                                           .arg(b.cost.time_s * 1e3, 0, 'f', 2)
                                           .arg(b.cost.weight_bytes / 1e9, 0, 'f', 1)
                                           .arg(b.cost.cache_read_bytes / 1e9, 0, 'f', 2));
  });
  connect(first_, &QComboBox::currentTextChanged, this, [this] { choose(first_->currentText(), second_->currentText()); });
  connect(second_, &QComboBox::currentTextChanged, this, [this] { choose(first_->currentText(), second_->currentText()); });
  connect(open, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open a config.json"), {}, tr("JSON (*.json)"));
    if (path.isEmpty()) return;
    if (first_->findText(path) < 0) first_->addItem(path);
    first_->setCurrentText(path);
  });
  connect(batch_, &QSpinBox::valueChanged, this, [this](int b) { model_->set_batch(static_cast<std::uint64_t>(b)); });
  connect(contexts_, &QLineEdit::editingFinished, this, [this] {
    if (const QString e = model_->set_contexts(contexts_->text()); !e.isEmpty()) note_->setText(e);
  });
  connect(model_, &StackChart::changed, this, &ModelView::rebuild);
  rebuild();
}

QString ModelView::choose(const QString& a, const QString& b) {
  QStringList names = {a};
  if (!b.isEmpty() && b != tr("(none)") && b != a) names << b;
  const QString e = model_->set_configs(names);
  if (!e.isEmpty()) note_->setText(e);
  return e;
}

bool ModelView::click(int index, StackGroup g) {
  if (index < 0 || index >= static_cast<int>(model_->bars().size())) return false;
  const bool ok = model_->focus(model_->bars()[static_cast<std::size_t>(index)].model, g);
  if (!ok) note_->setText(tr("%1 has no token mixer to focus; the attention and SSM parts do").arg(qs(to_string(g))));
  return ok;
}

void ModelView::rebuild() {
  // The controls follow the model (set from code or the command line).
  const auto& cfgs = model_->configs();
  for (QWidget* w : {static_cast<QWidget*>(first_), static_cast<QWidget*>(second_), static_cast<QWidget*>(batch_)}) w->blockSignals(true);
  auto show_name = [](QComboBox* box, const QString& name) {
    if (box->findText(name) < 0) box->addItem(name);
    box->setCurrentText(name);
  };
  show_name(first_, QString::fromStdString(cfgs.front().name));
  show_name(second_, cfgs.size() > 1 ? QString::fromStdString(cfgs[1].name) : tr("(none)"));
  batch_->setValue(static_cast<int>(model_->batch()));
  for (QWidget* w : {static_cast<QWidget*>(first_), static_cast<QWidget*>(second_), static_cast<QWidget*>(batch_)}) w->blockSignals(false);
  QStringList ctx;
  for (std::uint64_t n : model_->contexts()) ctx << QString::number(n);
  if (!contexts_->hasFocus()) contexts_->setText(ctx.join(","));

  for (QBarSet* set : sets_) set->remove(0, set->count());
  QStringList labels;
  QList<QPointF> foot, over, cross;
  double t_hi = 0, m_hi = s_->device().hbm_capacity_bytes / 1e9;
  std::vector<bool> crossed(cfgs.size(), false);
  const auto& bars = model_->bars();
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    for (std::size_t g = 0; g < kGroups.size(); ++g) sets_[g]->append(b.cost.time_of(kGroups[g]) * 1e3);
    const bool two = cfgs.size() > 1;
    labels << short_tokens(b.context) + (two ? QString(b.model == 0 ? " A" : " B") : QString());
    (b.cost.fits ? foot : over).append(QPointF(static_cast<double>(i), b.cost.footprint_bytes / 1e9));
    t_hi = std::max(t_hi, b.cost.time_s * 1e3);
    m_hi = std::max(m_hi, b.cost.footprint_bytes / 1e9);
    if (!crossed[static_cast<std::size_t>(b.model)] && b.cost.cache_read_bytes > b.cost.weight_bytes) {
      crossed[static_cast<std::size_t>(b.model)] = true;
      cross.append(QPointF(static_cast<double>(i), b.cost.time_s * 1e3));
    }
  }
  // Layer types no bar has stay out of the legend.
  for (std::size_t g = 0; g < kGroups.size(); ++g) {
    double sum = 0;
    for (int k = 0; k < sets_[g]->count(); ++k) sum += sets_[g]->at(k);
    for (auto* mk : view_->chart()->legend()->markers(bars_)) {
      if (mk->label() == sets_[g]->label()) mk->setVisible(sum > 0);
    }
  }
  for (auto* mk : view_->chart()->legend()->markers(hbm_)) mk->setVisible(true);
  categories_->clear();
  categories_->append(labels);
  const double n = static_cast<double>(std::max<std::size_t>(1, bars.size()));
  x_line_->setRange(-0.5, n - 0.5);
  footprint_->replace(foot);
  too_big_->replace(over);
  const double hbm = s_->device().hbm_capacity_bytes / 1e9;
  hbm_->setName(tr("%1 HBM (%2 GB)").arg(QString::fromStdString(s_->device().key)).arg(hbm, 0, 'f', 0));
  hbm_->replace({QPointF(-0.5, hbm), QPointF(n - 0.5, hbm)});
  crossing_->replace(cross);
  // Round steps of 1, 2 or 5 x 10^k, about five of them.
  auto nice = [](QValueAxis* axis, double hi) {
    hi = hi > 0 ? hi : 1;
    const double raw = hi / 5, mag = std::pow(10, std::floor(std::log10(raw)));
    const double step = raw / mag <= 1 ? mag : raw / mag <= 2 ? 2 * mag : raw / mag <= 5 ? 5 * mag : 10 * mag;
    const double top = std::ceil(hi * 1.05 / step) * step;
    axis->setRange(0, top);
    axis->setTickCount(static_cast<int>(std::lround(top / step)) + 1);
  };
  nice(time_axis_, t_hi);
  nice(memory_axis_, m_hi);
  QStringList names;
  for (const auto& c : cfgs) names << QString::fromStdString(c.name);
  view_->chart()->setTitle(tr("Decode step by layer type, batch %1, on %2").arg(model_->batch()).arg(QString::fromStdString(s_->device().name)));
  QStringList lines;
  for (std::size_t m = 0; m < cfgs.size(); ++m) {
    const std::uint64_t at = model_->crossing(static_cast<int>(m));
    const ParamCount p = count_params(cfgs[m]);
    lines << tr("%1%2 (%3; %4 B parameters, %5 B active): %6")
                 .arg(cfgs.size() > 1 ? QString(m == 0 ? "A = " : "B = ") : QString())
                 .arg(names[static_cast<int>(m)])
                 .arg(QString::fromStdString(layout_summary(cfgs[m])))
                 .arg(p.total() / 1e9, 0, 'f', 1)
                 .arg(p.active / 1e9, 0, 'f', 1)
                 .arg(at != 0 ? tr("reading the cache overtakes reading the weights at %1 tokens (diamond)").arg(at)
                              : tr("the weights outweigh the cache read at every context shown"));
  }
  lines << tr("Bars: time per layer type (click attention or SSM to focus that mixer); dots: weights + cache against the dashed HBM line (hollow: does not fit).");
  note_->setText(lines.join("\n"));
}

}  // namespace attnio::gui
