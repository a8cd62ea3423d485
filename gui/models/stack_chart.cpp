#include "stack_chart.hpp"

#include "attnio/model/errors.hpp"
#include "attnio/model/record.hpp"

namespace attnio::gui {

StackChart::StackChart(Session* s, QObject* parent) : QObject(parent), s_(s) {
  // The built-in pair: a hybrid against a Transformer at long context (Jamba's point).
  configs_ = {find_config("jamba-v0.1"), find_config("mixtral-8x7b")};
  // Only the device matters here (the models bring their own shapes): other changes cost nothing.
  connect(s_, &Session::changed, this, [this] {
    if (!(s_->device() == device_)) recompute();
  });
  recompute();
}

QString StackChart::set_configs(const QStringList& names) {
  if (names.isEmpty() || names.size() > 2) return tr("the Model view compares one or two models");
  std::vector<ModelConfig> next;
  try {
    for (const QString& n : names) next.push_back(find_config(n.toStdString()));
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  configs_ = std::move(next);
  recompute();
  return {};
}

QString StackChart::set_contexts(const QString& text) {
  try {
    auto next = parse_uint_list("context", text.toStdString(), 16);
    contexts_ = std::move(next);
  } catch (const InputError& e) {
    return QString::fromStdString(e.what());
  }
  recompute();
  return {};
}

void StackChart::set_batch(std::uint64_t batch) {
  if (batch == 0 || batch == batch_) return;
  batch_ = batch;
  recompute();
}

void StackChart::recompute() {
  device_ = s_->device();
  bars_.clear();
  for (std::uint64_t n : contexts_) {
    for (std::size_t m = 0; m < configs_.size(); ++m) {
      Workload w = configs_[m].apply(Workload{});
      w.phase = Phase::decode;
      w.batch = batch_;
      w.seq = w.kv_len = n;
      w.causal = true;
      try {
        bars_.push_back({static_cast<int>(m), n, evaluate_stack(s_->device(), configs_[m], w)});
      } catch (const InputError&) {
        // A model the device cannot run at this shape leaves its bar out.
      }
    }
  }
  emit changed();
}

std::uint64_t StackChart::crossing(int m) const {
  for (const Bar& b : bars_) {
    if (b.model == m && b.cost.cache_read_bytes > b.cost.weight_bytes) return b.context;
  }
  return 0;
}

bool StackChart::focus(int m, StackGroup g) {
  if (m < 0 || m >= static_cast<int>(configs_.size())) return false;
  const ModelConfig& c = configs_[static_cast<std::size_t>(m)];
  Mixer mixer = Mixer::none;
  if (g == StackGroup::attention) mixer = c.count(Mixer::attention) ? Mixer::attention : Mixer::attention_local;
  if (g == StackGroup::ssm) mixer = c.count(Mixer::mamba2) ? Mixer::mamba2 : Mixer::mamba;
  if (mixer == Mixer::none || c.count(mixer) == 0) return false;
  Workload w = c.mixer_workload(s_->workload(), mixer);
  w.dtype = c.dtype;
  w.layers = c.count(mixer);
  if (!s_->set_workload(w).isEmpty()) return false;
  s_->set_selected(w.variant, true);
  s_->set_current(w.variant);
  return true;
}

}  // namespace attnio::gui
