// The teaching view's data: the simulator's tile schedule of one variant on a small shape, as
// frames (one CTA loop step each, in simulated time order) with what each step moves, what sits in
// SRAM, and the running HBM bytes and L2 hits.
#pragma once

#include <QString>

#include <map>
#include <string>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/simulate.hpp"
#include "attnio/model/workload.hpp"

namespace attnio::gui {

struct TeachAccess {
  std::string tile;  // tensor/tile name, e.g. "Q", "K", "V", "O"
  std::uint64_t addr = 0, bytes = 0, rows = 0, stride = 0;
  bool write = false;
  std::uint64_t hit_bytes = 0, miss_bytes = 0;  // L2 sectors x 32 B
};

struct TeachFrame {
  std::string kernel;
  std::uint64_t cta = 0, sm = 0, step = 0;
  std::vector<TeachAccess> accesses;
  // Running totals after this frame.
  double l2_bytes = 0, hbm_bytes = 0, hit_bytes = 0;
};

struct TensorExtent {
  std::uint64_t lo = 0, hi = 0;  // address range the schedule touches under this tile name
};

class TeachTrace {
public:
  // The small shape the step-through uses: one batch, two heads (one K/V head when the workload
  // shares K/V), head-dim 64, 512 tokens (prefill) or a 2048-token cache (decode), the workload's
  // variant, phase, pass, dtype and mask.
  static Workload small_shape(const Workload& w);
  // Runs the simulator; "" or the error (a variant without a tile schedule).
  QString build(const Device& d, const Workload& w, std::size_t max_frames = 4000);

  const std::vector<TeachFrame>& frames() const { return frames_; }
  const std::map<std::string, TensorExtent>& tensors() const { return tensors_; }
  // Tile names in the order the schedule first touches them (Q before K and V, O last).
  const std::vector<std::string>& tensor_order() const { return order_; }
  const Workload& workload() const { return w_; }
  bool truncated() const { return truncated_; }
  // The tiles resident in the SRAM of frame i's CTA: the latest access under each tile name made
  // by that CTA up to frame i.
  std::vector<TeachAccess> resident(std::size_t i) const;

private:
  Workload w_;
  std::vector<TeachFrame> frames_;
  std::map<std::string, TensorExtent> tensors_;
  std::vector<std::string> order_;
  bool truncated_ = false;
};

}  // namespace attnio::gui
