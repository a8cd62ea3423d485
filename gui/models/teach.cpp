#include "teach.hpp"

#include <algorithm>

#include "attnio/model/errors.hpp"

namespace attnio::gui {

Workload TeachTrace::small_shape(const Workload& w) {
  Workload s = w;
  s.batch = 1;
  s.heads = 2;
  s.kv_heads = (w.kv_heads != 0 && w.kv_heads < w.heads) ? 1 : 2;
  s.head_dim = 64;
  s.v_head_dim = 0;
  s.seq = s.phase == Phase::decode ? 2048 : 512;
  s.kv_len = 0;
  s.layers = 1;
  // Parameters shrink with the shape; the ones derived from it go back to their defaults.
  const auto shrink = [&s](std::string_view key, std::uint64_t most) {
    if (variant_param(s.variant, key)) s.set(key, std::min(s.count(key), most));
  };
  shrink("window", 256);
  shrink("latent_dim", 128);
  shrink("rope_dim", 32);
  shrink("features", 64);
  shrink("segment", 256);
  for (std::string_view key : {"chunk", "splits", "d_inner", "feature_dim", "block_m", "block_n"}) s.params.erase(key);
  return s;
}

QString TeachTrace::build(const Device& d, const Workload& w, std::size_t max_frames) {
  w_ = small_shape(w);
  frames_.clear();
  tensors_.clear();
  order_.clear();
  truncated_ = false;
  // Frames are keyed by (kernel, CTA, step); accesses of one step arrive together.
  SimOptions o;
  o.l2_sample = 1;
  o.on_access = [&](const SimAccess& a) {
    TeachFrame* f = frames_.empty() ? nullptr : &frames_.back();
    if (!f || f->cta != a.cta || f->step != a.step || f->kernel != a.kernel) {
      if (frames_.size() == max_frames) {
        truncated_ = true;
        return;
      }
      TeachFrame next;
      if (f) {
        next.l2_bytes = f->l2_bytes;
        next.hbm_bytes = f->hbm_bytes;
        next.hit_bytes = f->hit_bytes;
      }
      next.kernel = std::string(a.kernel);
      next.cta = a.cta;
      next.sm = a.sm;
      next.step = a.step;
      frames_.push_back(std::move(next));
      f = &frames_.back();
    }
    TeachAccess t{std::string(a.tile), a.addr, a.bytes, a.rows, a.stride, a.write, a.hit_sectors * 32, a.miss_sectors * 32};
    f->l2_bytes += static_cast<double>(a.bytes * a.rows);
    f->hbm_bytes += static_cast<double>(t.miss_bytes);
    f->hit_bytes += static_cast<double>(t.hit_bytes);
    auto [it, fresh] = tensors_.try_emplace(t.tile, TensorExtent{a.addr, a.addr});
    const std::uint64_t end = a.addr + (a.rows == 0 ? 0 : (a.rows - 1) * a.stride) + a.bytes;
    if (fresh) order_.push_back(t.tile);
    if (!fresh) it->second.lo = std::min(it->second.lo, a.addr);
    it->second.hi = std::max(it->second.hi, end);
    f->accesses.push_back(std::move(t));
  };
  try {
    (void)simulate(d, w_, o);
  } catch (const InputError& e) {
    frames_.clear();
    tensors_.clear();
    order_.clear();
    return QString::fromStdString(e.what());
  }
  return {};
}

std::vector<TeachAccess> TeachTrace::resident(std::size_t i) const {
  std::vector<TeachAccess> out;
  if (i >= frames_.size()) return out;
  const TeachFrame& now = frames_[i];
  std::map<std::string, TeachAccess> latest;
  for (std::size_t j = 0; j <= i; ++j) {
    const TeachFrame& f = frames_[j];
    if (f.cta != now.cta || f.kernel != now.kernel) continue;
    for (const auto& a : f.accesses) latest[a.tile] = a;
  }
  for (auto& [name, a] : latest) out.push_back(a);
  return out;
}

}  // namespace attnio::gui
