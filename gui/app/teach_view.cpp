#include "teach_view.hpp"

#include <QHBoxLayout>
#include <QPainter>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

#include "attnio/model/explain.hpp"

namespace attnio::gui {

TileCanvas::TileCanvas(QWidget* parent) : QWidget(parent) {
  setMinimumHeight(200);
  setAutoFillBackground(true);
  QPalette p = palette();
  p.setColor(QPalette::Window, Qt::white);
  setPalette(p);
}

void TileCanvas::show_frame(const TeachTrace* t, int frame) {
  t_ = t;
  frame_ = frame;
  update();
}

void TileCanvas::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing, false);
  if (!t_ || t_->frames().empty() || frame_ < 0) {
    p.drawText(rect(), Qt::AlignCenter, tr("No tile schedule for this variant (see the derivation)."));
    return;
  }
  const auto& tensors = t_->tensors();
  const int left = 90, right = width() - 12, top = 12;
  const int lane = std::max(28, std::min(56, (height() - 2 * top) / std::max<int>(1, static_cast<int>(tensors.size()))));
  const int bar = lane - 12;
  const auto& frames = t_->frames();
  const auto resident = t_->resident(static_cast<std::size_t>(frame_));
  auto x_of = [&](const TensorExtent& e, std::uint64_t addr) {
    const double span = static_cast<double>(std::max<std::uint64_t>(1, e.hi - e.lo));
    return left + (right - left) * (static_cast<double>(addr - e.lo) / span);
  };
  auto draw_access = [&](const TensorExtent& e, int y, const TeachAccess& a, const QBrush& brush, const QPen& pen) {
    for (std::uint64_t r = 0; r < a.rows; ++r) {
      const std::uint64_t at = a.addr + r * a.stride;
      const double x0 = x_of(e, at), x1 = std::max(x0 + 1.0, x_of(e, at + a.bytes));
      p.fillRect(QRectF(x0, y, x1 - x0, bar), brush);
      if (pen.style() != Qt::NoPen) {
        p.setPen(pen);
        p.drawRect(QRectF(x0, y, x1 - x0, bar));
      }
      if (a.rows > 64 && r > 64) break;  // long strided tiles: the first rows show the pattern
    }
  };
  int row = 0;
  for (const std::string& name : t_->tensor_order()) {
    const TensorExtent& extent = tensors.at(name);
    const int y = top + row * lane;
    p.setPen(Qt::black);
    p.drawText(QRect(4, y, left - 8, bar), Qt::AlignVCenter | Qt::AlignRight, QString::fromStdString(name));
    p.fillRect(QRect(left, y, right - left, bar), QColor("#f2f2f2"));
    // Touched so far (grey), then SRAM residents (outlined), then this step (filled).
    for (int f = std::max(0, frame_ - 400); f < frame_; ++f) {
      for (const auto& a : frames[static_cast<std::size_t>(f)].accesses) {
        if (a.tile == name) draw_access(extent, y, a, QColor("#c8c8c8"), Qt::NoPen);
      }
    }
    for (const auto& a : resident) {
      if (a.tile == name) draw_access(extent, y, a, QColor(255, 255, 255, 0), QPen(QColor("#2ca02c"), 2));
    }
    for (const auto& a : frames[static_cast<std::size_t>(frame_)].accesses) {
      if (a.tile == name) draw_access(extent, y, a, a.write ? QColor("#ff7f0e") : QColor("#1f77b4"), Qt::NoPen);
    }
    p.setPen(QColor("#888888"));
    p.drawRect(QRect(left, y, right - left, bar));
    ++row;
  }
  const int ly = top + row * lane + 4;
  p.setPen(Qt::black);
  p.fillRect(QRect(left, ly, 14, 12), QColor("#1f77b4"));
  p.drawText(left + 18, ly + 11, tr("read this step"));
  p.fillRect(QRect(left + 130, ly, 14, 12), QColor("#ff7f0e"));
  p.drawText(left + 148, ly + 11, tr("written this step"));
  p.setPen(QPen(QColor("#2ca02c"), 2));
  p.drawRect(QRect(left + 280, ly, 14, 12));
  p.setPen(Qt::black);
  p.drawText(left + 298, ly + 11, tr("in the CTA's SRAM"));
  p.fillRect(QRect(left + 440, ly, 14, 12), QColor("#c8c8c8"));
  p.drawText(left + 458, ly + 11, tr("touched before"));
}

TeachView::TeachView(Session* s, QWidget* parent) : QWidget(parent), s_(s) {
  derivation_ = new QTextBrowser;
  derivation_->setObjectName("derivation");
  QFont mono("monospace");
  mono.setStyleHint(QFont::Monospace);
  derivation_->setFont(mono);
  canvas_ = new TileCanvas;
  status_ = new QLabel;
  status_->setObjectName("teachStatus");
  status_->setWordWrap(true);
  slider_ = new QSlider(Qt::Horizontal);
  play_ = new QPushButton(tr("Play"));
  play_->setObjectName("teachPlay");
  auto* stepb = new QPushButton(tr("Step"));
  stepb->setObjectName("teachStep");
  auto* back = new QPushButton(tr("Back"));
  auto* reset = new QPushButton(tr("Reset"));
  auto* controls = new QHBoxLayout;
  controls->addWidget(reset);
  controls->addWidget(back);
  controls->addWidget(play_);
  controls->addWidget(stepb);
  controls->addWidget(slider_, 1);
  auto* right = new QWidget;
  auto* rl = new QVBoxLayout(right);
  rl->addWidget(canvas_, 1);
  rl->addWidget(status_);
  rl->addLayout(controls);
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(derivation_);
  split->addWidget(right);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 3);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(split);
  timer_.setInterval(120);
  connect(&timer_, &QTimer::timeout, this, [this] {
    if (frame_ + 1 >= frame_count()) play(false);
    else step();
  });
  connect(play_, &QPushButton::clicked, this, [this] { play(!playing()); });
  connect(stepb, &QPushButton::clicked, this, [this] { step(); });
  connect(back, &QPushButton::clicked, this, [this] { set_frame(frame_ - 1); });
  connect(reset, &QPushButton::clicked, this, [this] { set_frame(0); });
  connect(slider_, &QSlider::valueChanged, this, [this](int v) {
    if (v != frame_) set_frame(v);
  });
  connect(s_, &Session::changed, this, &TeachView::mark_dirty);
  connect(s_, &Session::current_changed, this, &TeachView::mark_dirty);
}

void TeachView::mark_dirty() {
  dirty_ = true;
  if (isVisible()) rebuild();
}

void TeachView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  if (dirty_) rebuild();
}

void TeachView::rebuild() {
  dirty_ = false;
  play(false);
  const Entry& e = s_->entry(s_->current());
  QString text = QStringLiteral("<h3>%1</h3>").arg(qs(to_string(s_->current())).toHtmlEscaped());
  if (e.ok) {
    text += "<pre style=\"white-space: pre-wrap\">" +
            QString::fromStdString(explain(s_->device(), e.prediction)).toHtmlEscaped() + "</pre>";
  } else {
    text += "<p>" + e.error.toHtmlEscaped() + "</p>";
  }
  derivation_->setHtml(text);
  Workload w = s_->workload();
  w.variant = s_->current();
  const QString err = trace_.build(s_->device(), w);
  frame_ = 0;
  slider_->blockSignals(true);
  slider_->setRange(0, std::max(0, frame_count() - 1));
  slider_->setValue(0);
  slider_->blockSignals(false);
  if (!err.isEmpty()) {
    status_->setText(tr("Step-through unavailable: %1").arg(err));
    canvas_->show_frame(nullptr, -1);
    return;
  }
  set_frame(0);
}

void TeachView::set_frame(int f) {
  if (frame_count() == 0) return;
  frame_ = std::clamp(f, 0, frame_count() - 1);
  const TeachFrame& fr = trace_.frames()[static_cast<std::size_t>(frame_)];
  const Workload& w = trace_.workload();
  const double hit_rate = fr.l2_bytes > 0 ? 100.0 * fr.hit_bytes / fr.l2_bytes : 0;
  status_->setText(tr("Small shape: B=%1 H=%2 Hkv=%3 d=%4 N=%5 (%6).  Step %7 of %8%9: kernel %10, CTA %11 on SM %12, loop step %13.\n"
                      "So far: %14 requested from L2, %15 from HBM, %16 L2 hits (%17% of reads and writes).")
                      .arg(w.batch).arg(w.heads).arg(w.kv_heads ? w.kv_heads : w.heads).arg(w.head_dim).arg(w.seq)
                      .arg(qs(to_string(w.phase)))
                      .arg(frame_ + 1).arg(frame_count()).arg(trace_.truncated() ? tr(" (first steps only)") : QString())
                      .arg(QString::fromStdString(fr.kernel)).arg(fr.cta).arg(fr.sm).arg(fr.step)
                      .arg(QString::fromStdString(human_bytes(fr.l2_bytes)), QString::fromStdString(human_bytes(fr.hbm_bytes)),
                           QString::fromStdString(human_bytes(fr.hit_bytes)))
                      .arg(hit_rate, 0, 'f', 1));
  slider_->blockSignals(true);
  slider_->setValue(frame_);
  slider_->blockSignals(false);
  canvas_->show_frame(&trace_, frame_);
}

void TeachView::play(bool on) {
  if (on && frame_count() > 0) timer_.start();
  else timer_.stop();
  play_->setText(on && frame_count() > 0 ? tr("Pause") : tr("Play"));
}

}  // namespace attnio::gui
