// The Model view's data (issue 17): one or two whole models (shipped configs or config.json files)
// costed by evaluate_stack() at a list of context lengths, decode at a batch, on the session's
// device: per bar the step's time by layer type, the memory footprint against the device's HBM, and
// where reading the K/V cache overtakes reading the weights. No widgets here.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include <vector>

#include "attnio/model/hf_config.hpp"
#include "attnio/model/stack.hpp"
#include "session.hpp"

namespace attnio::gui {

class StackChart : public QObject {
  Q_OBJECT
public:
  explicit StackChart(Session* s, QObject* parent = nullptr);

  struct Bar {
    int model = 0;               // index into configs()
    std::uint64_t context = 0;
    StackCost cost;
  };
  // One or two shipped names or config.json paths; "" or the one-line error (nothing changes then).
  QString set_configs(const QStringList& names_or_paths);
  // Context lengths as the CLI takes them ("4096,262144", "1024:262144:x4"); "" or the error.
  QString set_contexts(const QString& text);
  void set_batch(std::uint64_t batch);

  const std::vector<ModelConfig>& configs() const { return configs_; }
  const std::vector<std::uint64_t>& contexts() const { return contexts_; }
  std::uint64_t batch() const { return batch_; }
  const std::vector<Bar>& bars() const { return bars_; }  // context-major, then model
  // The first context where model `m`'s cache read exceeds its weight read; 0 when none listed.
  std::uint64_t crossing(int m) const;
  // Focuses the other views on the layer type's mixer of model `m` (attention or SSM): the session
  // takes that mixer's workload and variant. False for layer types without a mixer.
  bool focus(int m, StackGroup g);

signals:
  void changed();

private:
  void recompute();

  Session* s_;
  std::vector<ModelConfig> configs_;
  std::vector<std::uint64_t> contexts_ = {4096, 16384, 65536, 262144};
  std::uint64_t batch_ = 1;
  std::vector<Bar> bars_;
  Device device_;  // the device the bars were costed on
};

}  // namespace attnio::gui
