// The teaching view: the current variant's IO derivation with the numbers substituted (explain),
// and a step-through of the simulator's tile schedule on a small shape: per tensor a strip of its
// addresses with the tiles this step moves (blue read, orange write), the tiles sitting in the
// CTA's SRAM (outlined), everything touched so far (grey), and the running L2 and HBM bytes.
#pragma once

#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QTextBrowser>
#include <QTimer>
#include <QWidget>

#include "session.hpp"
#include "teach.hpp"

namespace attnio::gui {

class TileCanvas : public QWidget {
  Q_OBJECT
public:
  explicit TileCanvas(QWidget* parent = nullptr);
  void show_frame(const TeachTrace* t, int frame);
  QSize sizeHint() const override { return {640, 320}; }

protected:
  void paintEvent(QPaintEvent*) override;

private:
  const TeachTrace* t_ = nullptr;
  int frame_ = -1;
};

class TeachView : public QWidget {
  Q_OBJECT
public:
  explicit TeachView(Session* s, QWidget* parent = nullptr);
  // Rebuilds now (the view also rebuilds lazily when shown after a change).
  void rebuild();
  int frame() const { return frame_; }
  int frame_count() const { return static_cast<int>(trace_.frames().size()); }
  void set_frame(int f);
  void step() { set_frame(frame_ + 1); }
  void play(bool on);
  bool playing() const { return timer_.isActive(); }

protected:
  void showEvent(QShowEvent* e) override;

private:
  void mark_dirty();
  Session* s_;
  TeachTrace trace_;
  bool dirty_ = true;
  int frame_ = 0;
  QTextBrowser* derivation_;
  TileCanvas* canvas_;
  QLabel* status_;
  QSlider* slider_;
  QPushButton* play_;
  QTimer timer_;
};

}  // namespace attnio::gui
