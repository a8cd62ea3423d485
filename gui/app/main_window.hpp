// The main window: inputs on the left (device, preset, workload, variants), the four views in
// tabs, the File menu. Widgets only wire signals to the Session and its item models.
#pragma once

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QComboBox>
#include <QListView>
#include <QMainWindow>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTableView>
#include <QTabWidget>

#include <functional>
#include <map>

#include "item_models.hpp"
#include "roofline_view.hpp"
#include "session.hpp"
#include "sweep_view.hpp"
#include "teach_view.hpp"
#include "model_view.hpp"

namespace attnio::gui {

class MainWindow : public QMainWindow {
  Q_OBJECT
public:
  enum class View { roofline, sweep, table, teach, model };
  // With `use_settings`, the last device, workload, variants and folders are restored and saved
  // (QSettings); screenshots and tests run without.
  explicit MainWindow(Session* s, bool use_settings = true, QWidget* parent = nullptr);
  ~MainWindow() override;

  void show_view(View v);
  QWidget* view_widget(View v) const;
  // File actions, callable directly (tests, --screenshot); errors go to error_handler.
  bool open_trace(const QString& path);
  bool export_chart(const QString& path);  // .png or .svg of the current view
  bool export_csv(const QString& path);  // adds .csv when the name has no suffix
  // Applies a shipped config or a config.json (shape, dtype, layers, variant); a dtype it changes is
  // said in the status bar and not saved for the next run.
  bool apply_config(const QString& name_or_path);
  // Loads a device file and selects it; the next run reloads it (or says why it cannot).
  bool load_device_file(const QString& path);
  // Renders the whole window to a PNG.
  bool save_screenshot(const QString& path);
  // Where errors go: a warning dialog by default; tests capture them instead.
  std::function<void(const QString&)> error_handler;

  PredictionModel* prediction_model() const { return predictions_; }
  SweepModel* sweep_model() const { return sweep_; }
  VariantListModel* variant_model() const { return variants_; }
  TeachView* teach_view() const { return teach_; }
  ModelView* model_view() const { return model_view_; }

private:
  QWidget* build_inputs();
  void build_menu();
  void sync_inputs();         // Session -> widgets
  void apply_inputs();        // widgets -> Session
  void refresh_kv_heads();
  void load_settings();
  void save_settings();
  void error(const QString& message);

  Session* s_;
  bool use_settings_;
  bool syncing_ = false;
  VariantListModel* variants_;
  PredictionModel* predictions_;
  SweepModel* sweep_;
  QSortFilterProxyModel* sorted_;
  QTabWidget* tabs_;
  RooflineView* roofline_;
  SweepView* sweep_view_;
  QTableView* table_;
  TeachView* teach_;
  StackChart* stack_chart_;
  ModelView* model_view_;
  QComboBox* device_;
  QComboBox* preset_;
  QComboBox* dtype_;
  QComboBox* impl_;  // kernel implementation profile: "default (per variant)" or one of all_impls()
  QComboBox* phase_;
  QComboBox* pass_;
  QCheckBox* causal_;
  QCheckBox* l2_;
  QCheckBox* dirty_l2_;
  QCheckBox* accumulate_grads_;  // --grads accumulate; enabled for the backward passes only
  QSpinBox* sm_clock_;  // the current device's locked SM clock in MHz; its minimum reads "not locked"

  QFormLayout* params_form_;
  QLabel* trace_label_;
  bool dtype_from_config_ = false;  // the dtype came from a config, not from the user
  QString device_file_;             // where the selected device came from, when a file
  QStringList pending_errors_;      // found while restoring settings, reported once the window exists    // the open trace, its device and its header note (status bar)
  QAction* close_trace_;
  std::vector<std::pair<const ParamSpec*, QWidget*>> param_boxes_;  // variant parameters, registry order
  QComboBox* kv_heads_;
  std::map<std::string, QSpinBox*> spins_;
  QListView* variant_list_;
  QString last_dir_;
};

}  // namespace attnio::gui
