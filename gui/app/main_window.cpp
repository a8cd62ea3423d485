#include "main_window.hpp"

#include <QApplication>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QScrollBar>
#include <QStandardItemModel>
#include <QWheelEvent>
#include <QCoreApplication>
#include <QMenuBar>
#include <QMessageBox>
#include <QPainter>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QSvgGenerator>
#include <QTextStream>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>
#include <utility>

#include "attnio/model/hf_config.hpp"

namespace attnio::gui {

namespace {

// Passes the wheel over an unfocused spin box or combo box to the scroll area around it.
class WheelGuard : public QObject {
public:
  explicit WheelGuard(QScrollArea* area) : QObject(area), area_(area) {}
  bool eventFilter(QObject* watched, QEvent* event) override {
    auto* w = qobject_cast<QWidget*>(watched);
    if (event->type() != QEvent::Wheel || !w || w->hasFocus()) return false;
    QCoreApplication::sendEvent(area_->verticalScrollBar(), event);
    return true;
  }

private:
  QScrollArea* area_;
};

struct SpinSpec {
  const char* key;   // workload flag
  const char* label;
  int lo, hi;
  std::uint64_t Workload::*member;
  const char* zero_text;  // shown for 0 when 0 means "default"
};

// Every shape flag with the range a spin box allows; kv-heads is a combo of the divisors of heads.
// The variants' parameters come from their declarations (param_rows()).
const SpinSpec kSpins[] = {
    {"batch", "batch", 1, 4096, &Workload::batch, nullptr},
    {"seq", "seq (N)", 1, 1 << 24, &Workload::seq, nullptr},
    {"kv-len", "kv-len", 0, 1 << 24, &Workload::kv_len, "= seq"},
    {"heads", "heads", 1, 1024, &Workload::heads, nullptr},
    {"head-dim", "head-dim (d)", 8, 1024, &Workload::head_dim, nullptr},
    {"v-head-dim", "v-head-dim", 0, 1024, &Workload::v_head_dim, "= head-dim"},
    {"layers", "layers", 1, 256, &Workload::layers, nullptr},
    {"sram-bytes", "sram-bytes (M)", 0, 1 << 22, &Workload::sram_bytes, "device"},
};

}  // namespace

MainWindow::MainWindow(Session* s, bool use_settings, QWidget* parent)
    : QMainWindow(parent), s_(s), use_settings_(use_settings) {
  setWindowTitle(tr("attnio: why an attention variant is fast or slow"));
  error_handler = [this](const QString& m) { QMessageBox::warning(this, tr("attnio"), m); };
  variants_ = new VariantListModel(s_, this);
  predictions_ = new PredictionModel(s_, this);
  sweep_ = new SweepModel(s_, this);
  sorted_ = new PredictionSortProxy(this);
  sorted_->setSourceModel(predictions_);

  tabs_ = new QTabWidget;
  roofline_ = new RooflineView(s_);
  sweep_view_ = new SweepView(s_, sweep_);
  table_ = new QTableView;
  table_->setModel(sorted_);
  // The variants' own order until a header is clicked (Qt would start sorted by column 0, descending).
  table_->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
  table_->setSortingEnabled(true);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  // Sized to the contents once the first rows are in, not on every paint (that alone took ~7 ms).
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  table_->setObjectName("predictionTable");
  teach_ = new TeachView(s_);
  tabs_->addTab(roofline_, tr("Roofline"));
  tabs_->addTab(sweep_view_, tr("Sweep"));
  tabs_->addTab(table_, tr("Table"));
  tabs_->addTab(teach_, tr("Teach"));
  stack_chart_ = new StackChart(s_, this);
  model_view_ = new ModelView(s_, stack_chart_);
  tabs_->addTab(model_view_, tr("Model"));

  auto* split = new QSplitter;
  split->addWidget(build_inputs());
  split->addWidget(tabs_);
  split->setStretchFactor(1, 1);
  setCentralWidget(split);
  trace_label_ = new QLabel;
  trace_label_->setObjectName("trace-label");
  statusBar()->addPermanentWidget(trace_label_);
  build_menu();

  // Selection: a click in any view makes the variant current everywhere.
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& i) {
    if (i.isValid()) s_->set_current(all_variants()[static_cast<std::size_t>(sorted_->data(i, kVariantRole).toInt())]);
  });
  connect(variant_list_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& i) {
    if (i.isValid()) s_->set_current(all_variants()[static_cast<std::size_t>(variants_->data(i, kVariantRole).toInt())]);
  });
  auto follow_current = [this](Variant v) {
    const int row = predictions_->row_of(v);
    if (row >= 0) {
      const QModelIndex i = sorted_->mapFromSource(predictions_->index(row, 0));
      if (table_->currentIndex().row() != i.row()) table_->setCurrentIndex(i);
    }
    const auto all = all_variants();
    const int vrow = static_cast<int>(std::find(all.begin(), all.end(), v) - all.begin());
    if (variant_list_->currentIndex().row() != vrow) variant_list_->setCurrentIndex(variants_->index(vrow));
    statusBar()->showMessage(tr("%1: %2").arg(qs(to_string(v)), QString::fromUtf8(variant_summary(v).data())));
  };
  connect(s_, &Session::current_changed, this, follow_current);
  connect(s_, &Session::changed, this, [this] { sync_inputs(); });
  if (use_settings_) load_settings();
  // Reported from the event loop, once the caller could set error_handler (tests) and the window shows.
  if (!pending_errors_.isEmpty()) {
    QTimer::singleShot(0, this, [this] {
      for (const QString& m : std::exchange(pending_errors_, {})) error(m);
    });
  }
  sync_inputs();
  table_->resizeColumnsToContents();
  // Cells change width with the workload ("exceeds HBM (137 GB > 85.9 GB)"): fit them after each change.
  connect(predictions_, &QAbstractItemModel::modelReset, table_, &QTableView::resizeColumnsToContents);
  connect(s_, &Session::changed, table_, &QTableView::resizeColumnsToContents);
  resize(1500, 920);
}

MainWindow::~MainWindow() {
  if (use_settings_) save_settings();
}

QWidget* MainWindow::build_inputs() {
  auto* box = new QWidget;
  auto* layout = new QVBoxLayout(box);

  auto* dev = new QGroupBox(tr("Device"));
  auto* dl = new QVBoxLayout(dev);
  device_ = new QComboBox;
  device_->setObjectName("device");
  auto* load_dev = new QPushButton(tr("Load device file..."));
  dl->addWidget(device_);
  dl->addWidget(load_dev);
  // The SM clock, locked as nvidia-smi --lock-gpu-clocks or Nsight Compute's clock control do (the
  // CLI's --sm-clock); its lowest value stands for "not locked" (the model's sustained clock).
  sm_clock_ = new QSpinBox;
  sm_clock_->setObjectName("sm-clock");
  sm_clock_->setPrefix(tr("SM clock locked at "));
  sm_clock_->setSuffix(tr(" MHz"));
  sm_clock_->setSpecialValueText(tr("SM clock: not locked"));
  sm_clock_->setKeyboardTracking(false);
  sm_clock_->setToolTip(tr("lock the SM clock (as nvidia-smi --lock-gpu-clocks or Nsight Compute do): every SM pipe and the "
                           "tensor rate run at it; not locked, tensor-heavy kernels run at the sustained clock under the power limit"));
  dl->addWidget(sm_clock_);
  layout->addWidget(dev);

  // The variants come right after the device: checking one should not take a scroll past every
  // control below.
  auto* vl = new QGroupBox(tr("Variants"));
  auto* vll = new QVBoxLayout(vl);
  variant_list_ = new QListView;
  variant_list_->setObjectName("variants");
  variant_list_->setModel(variants_);
  variant_list_->setMinimumHeight(200);
  vll->addWidget(variant_list_);
  layout->addWidget(vl);

  auto* pre = new QGroupBox(tr("Model preset"));
  auto* pl = new QVBoxLayout(pre);
  preset_ = new QComboBox;
  preset_->setObjectName("preset");
  preset_->addItem(tr("(choose a shipped config)"));
  for (const auto& c : shipped_configs()) preset_->addItem(qs(c.name));
  auto* open_cfg = new QPushButton(tr("Open config.json..."));
  pl->addWidget(preset_);
  pl->addWidget(open_cfg);
  layout->addWidget(pre);

  auto* wl = new QGroupBox(tr("Workload"));
  auto* form = new QFormLayout(wl);
  dtype_ = new QComboBox;
  dtype_->addItems({"bf16", "fp16", "fp32", "fp8"});
  phase_ = new QComboBox;
  phase_->addItems({"prefill", "decode"});
  phase_->setObjectName("phase");
  pass_ = new QComboBox;
  pass_->addItems({"fwd", "bwd", "fwdbwd"});
  pass_->setObjectName("pass");
  causal_ = new QCheckBox(tr("causal mask"));
  l2_ = new QCheckBox(tr("model L2 reuse"));
  l2_->setObjectName("l2");
  dirty_l2_ = new QCheckBox(tr("L2 dirty at start"));
  dirty_l2_->setObjectName("l2-start");
  accumulate_grads_ = new QCheckBox(tr("backward adds into existing .grad"));
  accumulate_grads_->setObjectName("grads");
  dtype_->setToolTip(tr("element type of Q, K, V and O; fp32 matmuls run as TF32 (bytes per element: 4, 2, 2, 1)"));
  phase_->setToolTip(tr("prefill: N query tokens at once; decode: one new token against a cache of kv-len tokens"));
  pass_->setToolTip(tr("forward, backward, or both (training); only the passes the checked variants model are offered"));
  causal_->setToolTip(tr("causal mask: a query attends to earlier keys only (a decoded token always does)"));
  l2_->setToolTip(tr("model L2 reuse: re-reads that hit in L2 do not reach HBM (off: every L2 request counts as HBM traffic)"));
  dirty_l2_->setToolTip(tr("--l2-start dirty: the call starts with the L2 full of written lines, as an L2 flush by a memset leaves "
                           "it (nvbench's cold timing, triton do_bench, zero_()); the kernels write them back as they evict them, "
                           "up to the L2's size of extra HBM writes"));
  accumulate_grads_->setToolTip(tr("--grads accumulate: the timed backward also adds dQ, dK and dV into .grad tensors that already hold "
                                   "one (PyTorch's AccumulateGrad for leaf inputs, when a benchmark such as triton do_bench without "
                                   "grad_to_none does not reset .grad): one elementwise add per input, read twice and written once"));
  // The implementation whose time is predicted (attnio impls): by default what users of the device
  // run for each variant; a profile that does not implement a checked variant greys that variant.
  impl_ = new QComboBox;
  impl_->setObjectName("impl");
  impl_->addItem(tr("default (per variant)"));
  impl_->setItemData(0, tr("what users of this GPU run for each variant (fa2 for the flash family, fa2-splitkv, flashmla, vllm-paged, pytorch...)"),
                     Qt::ToolTipRole);
  for (const ImplProfile* p : all_impls()) {
    impl_->addItem(qs(p->key));
    impl_->setItemData(impl_->count() - 1, qs(std::string(p->name) + ": " + std::string(p->summary) + "\nsources: " + std::string(p->sources)),
                       Qt::ToolTipRole);
  }
  impl_->setToolTip(tr("kernel implementation whose time is predicted: its tiles, MMA path and softmax overlap (attnio impls)"));
  form->addRow(tr("dtype"), dtype_);
  form->addRow(tr("impl"), impl_);
  form->addRow(tr("phase"), phase_);
  form->addRow(tr("pass"), pass_);
  form->addRow(QString(), causal_);
  form->addRow(QString(), l2_);
  form->addRow(QString(), dirty_l2_);
  form->addRow(QString(), accumulate_grads_);
  kv_heads_ = new QComboBox;
  kv_heads_->setObjectName("kv-heads");
  kv_heads_->setToolTip(tr("K/V heads: a divisor of heads (1 = MQA, heads = MHA, between = GQA)"));
  for (const auto& sp : kSpins) {
    auto* spin = new QSpinBox;
    spin->setObjectName(sp.key);
    spin->setRange(sp.lo, sp.hi);
    spin->setKeyboardTracking(false);  // one change per finished edit, not per digit
    spin->setAccelerated(true);
    if (sp.zero_text) spin->setSpecialValueText(sp.zero_text);
    for (const ShapeField& f : shape_fields()) {
      if (std::string(f.flag) == sp.key) spin->setToolTip(QString::fromUtf8(f.help));
    }
    spins_[sp.key] = spin;
    form->addRow(sp.label, spin);
    if (std::string(sp.key) == "heads") form->addRow(tr("kv-heads"), kv_heads_);
    connect(spin, &QSpinBox::valueChanged, this, [this] { apply_inputs(); });
  }
  layout->addWidget(wl);

  // One row per variant parameter (model/src/variants/), shown while a checked variant declares it:
  // the declared range on the box, the help line, unit and source as its tooltip. A count shows 0 as
  // "default", which leaves the parameter to each variant's own default.
  auto* pg = new QGroupBox(tr("Variant parameters"));
  params_form_ = new QFormLayout(pg);
  for (const ParamSpec* p : all_params()) {
    const QString name = qs(flag_name(*p));
    const QString tip = qs(p->help) + (p->unit.empty() ? QString() : "\n" + tr("unit: ") + qs(p->unit)) +
                        "\n" + tr("default: ") + qs(p->default_text) + "\n" + tr("source: ") + qs(p->source);
    QWidget* box;
    if (p->type == ParamType::real) {
      auto* spin = new QDoubleSpinBox;
      spin->setDecimals(3);
      spin->setSingleStep(0.05);
      spin->setRange(p->min_exclusive ? p->min + 0.001 : p->min, p->max);
      spin->setKeyboardTracking(false);
      connect(spin, &QDoubleSpinBox::valueChanged, this, [this] { apply_inputs(); });
      box = spin;
    } else {
      auto* spin = new QSpinBox;
      spin->setRange(0, static_cast<int>(std::min(p->max, 2147483647.0)));
      // A key whose variants default differently (chunk: 1024 chunked, 64 linear) says so.
      bool one_default = true;
      for (Variant v : all_variants()) {
        if (const ParamSpec* own = variant_param(v, p->key)) one_default = one_default && own->default_text == p->default_text;
      }
      spin->setSpecialValueText(one_default ? tr("default (%1)").arg(qs(p->default_text)) : tr("default (per variant)"));
      spin->setKeyboardTracking(false);
      spin->setAccelerated(true);
      connect(spin, &QSpinBox::valueChanged, this, [this] { apply_inputs(); });
      box = spin;
    }
    box->setObjectName(name);
    box->setToolTip(tip);
    params_form_->addRow(name, box);
    params_form_->labelForField(box)->setToolTip(tip);
    param_boxes_.emplace_back(p, box);
  }
  layout->addWidget(pg);

  layout->addStretch(1);

  connect(device_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (!syncing_ && i >= 0) s_->set_device_index(i);
  });
  connect(sm_clock_, &QSpinBox::valueChanged, this, [this](int v) {
    if (syncing_) return;
    if (const QString e = s_->set_sm_clock_mhz(v == sm_clock_->minimum() ? 0.0 : v); !e.isEmpty()) {
      error(e);
      sync_inputs();
    }
  });
  connect(load_dev, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Load device file"), last_dir_, tr("Device JSON (*.json)"));
    if (f.isEmpty()) return;
    last_dir_ = QFileInfo(f).absolutePath();
    load_device_file(f);
  });
  connect(preset_, &QComboBox::activated, this, [this](int i) {
    if (i > 0) apply_config(preset_->itemText(i));
  });
  connect(open_cfg, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open config.json"), last_dir_, tr("JSON (*.json)"));
    if (f.isEmpty()) return;
    last_dir_ = QFileInfo(f).absolutePath();
    apply_config(f);
  });
  for (QComboBox* c : {dtype_, impl_, phase_, pass_, kv_heads_}) {
    connect(c, &QComboBox::currentIndexChanged, this, [this] { apply_inputs(); });
  }
  connect(dtype_, &QComboBox::activated, this, [this] { dtype_from_config_ = false; });
  connect(causal_, &QCheckBox::toggled, this, [this] { apply_inputs(); });
  connect(l2_, &QCheckBox::toggled, this, [this] { apply_inputs(); });
  connect(dirty_l2_, &QCheckBox::toggled, this, [this] { apply_inputs(); });
  connect(accumulate_grads_, &QCheckBox::toggled, this, [this] { apply_inputs(); });

  auto* scroll = new QScrollArea;
  scroll->setWidget(box);
  scroll->setWidgetResizable(true);
  scroll->setMinimumWidth(300);
  // The wheel over an input scrolls the panel unless the input has the focus (a user scrolling to
  // the variant list changed latent-dim from 512 to 532).
  auto* guard = new WheelGuard(scroll);
  for (QWidget* input : box->findChildren<QWidget*>()) {
    if (qobject_cast<QAbstractSpinBox*>(input) || qobject_cast<QComboBox*>(input)) {
      input->setFocusPolicy(Qt::StrongFocus);
      input->installEventFilter(guard);
    }
  }
  return scroll;
}

void MainWindow::build_menu() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open trace..."), QKeySequence::Open, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open trace"), last_dir_, tr("attnio traces (*.jsonl *.json)"));
    if (f.isEmpty()) return;
    last_dir_ = QFileInfo(f).absolutePath();
    open_trace(f);
  });
  close_trace_ = file->addAction(tr("&Close trace"), this, [this] {
    s_->close_trace();
    trace_label_->clear();
    close_trace_->setEnabled(false);
  });
  close_trace_->setEnabled(false);
  file->addAction(tr("Export chart as &PNG or SVG..."), this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Export chart"), last_dir_, tr("PNG (*.png);;SVG (*.svg)"));
    if (!f.isEmpty()) export_chart(f);
  });
  file->addAction(tr("Export table as &CSV..."), this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Export CSV"), last_dir_, tr("CSV (*.csv)"));
    if (!f.isEmpty()) export_csv(f);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
}

bool MainWindow::load_device_file(const QString& path) {
  if (const QString e = s_->load_device_file(path); !e.isEmpty()) {
    error(e);
    return false;
  }
  device_file_ = path;
  return true;
}

bool MainWindow::apply_config(const QString& name_or_path) {
  const Dtype before = s_->workload().dtype;
  if (const QString e = s_->apply_config(name_or_path); !e.isEmpty()) {
    error(e);
    return false;
  }
  // A config's dtype (its torch_dtype) changes every number: say so where the user looks, and do
  // not keep it for the next run unless the user picks it (save_settings).
  const Dtype now = s_->workload().dtype;
  dtype_from_config_ = now != before;
  const QString note = dtype_from_config_ ? tr("%1: dtype %2 from its config (was %3)")
                                                .arg(name_or_path, qs(to_string(now)), qs(to_string(before)))
                                          : tr("%1 applied").arg(name_or_path);
  statusBar()->showMessage(note, 15000);
  dtype_->setToolTip(dtype_from_config_ ? note : QString());
  return true;
}

void MainWindow::error(const QString& message) {
  statusBar()->showMessage(message, 10000);
  if (error_handler) error_handler(message);
}

void MainWindow::refresh_kv_heads() {
  const std::uint64_t heads = s_->workload().heads;
  const std::uint64_t want = s_->workload().kv_heads == 0 ? heads : s_->workload().kv_heads;
  kv_heads_->clear();
  for (std::uint64_t k = 1; k <= heads; ++k) {
    if (heads % k != 0) continue;
    QString label = QString::number(k);
    if (k == 1) label += tr(" (MQA)");
    else if (k == heads) label += tr(" (MHA)");
    else label += tr(" (GQA-%1)").arg(heads / k);
    kv_heads_->addItem(label, QVariant::fromValue<qulonglong>(k));
    if (k == want) kv_heads_->setCurrentIndex(kv_heads_->count() - 1);
  }
}

void MainWindow::sync_inputs() {
  syncing_ = true;
  const Workload& w = s_->workload();
  // Devices are only ever added; a lock renames one (KEY@<MHz>MHz), so the labels are checked too.
  for (std::size_t i = 0; i < s_->devices().size(); ++i) {
    const Device& d = s_->devices()[i];
    const QString label = QString::fromStdString(d.key + "  (" + d.name + ")");
    if (static_cast<int>(i) < device_->count()) {
      if (device_->itemText(static_cast<int>(i)) != label) device_->setItemText(static_cast<int>(i), label);
    } else {
      device_->addItem(label);
    }
  }
  device_->setCurrentIndex(s_->device_index());
  {  // the range a lock may take on this device, one below it "not locked"
    const Device& d = s_->device();
    const auto [lo_hz, hi_hz] = d.locked_clock_range();
    const int lo = static_cast<int>(std::ceil(lo_hz / 1e6)), hi = static_cast<int>(std::floor(hi_hz / 1e6));
    sm_clock_->setRange(lo - 1, hi);
    sm_clock_->setValue(d.locked_clock_hz > 0 ? static_cast<int>(std::lround(d.locked_clock_hz / 1e6)) : lo - 1);
  }
  dtype_->setCurrentText(qs(to_string(w.dtype)));
  if (w.impl == nullptr) impl_->setCurrentIndex(0);
  else impl_->setCurrentText(qs(w.impl->key));
  phase_->setCurrentText(qs(to_string(w.phase)));
  pass_->setCurrentText(qs(to_string(w.pass)));
  causal_->setChecked(w.causal);
  l2_->setChecked(w.l2);
  dirty_l2_->setChecked(w.dirty_l2);
  if (w.pass != Pass::fwd) accumulate_grads_->setChecked(w.accumulate_grads);  // a forward keeps the tick for the next backward
  accumulate_grads_->setEnabled(w.pass != Pass::fwd);
  // Only what applies is enabled: in decode the query is one token (the cache length is kv-len)
  // and there is no backward pass; bwd and fwdbwd need a checked variant that models them.
  const bool decode = w.phase == Phase::decode;
  spins_["seq"]->setEnabled(!decode);
  const std::vector<Variant> on = s_->selection();
  const bool backward = !decode && std::any_of(on.begin(), on.end(), [](Variant v) { return v->backward; });
  auto* passes = qobject_cast<QStandardItemModel*>(pass_->model());
  for (int i = 1; i < pass_->count(); ++i) passes->item(i)->setEnabled(backward);
  // Parameters: the rows the checked variants use, each showing the workload's value or "default".
  const std::vector<Variant> checked = s_->selection();
  for (const auto& [p, box] : param_boxes_) {
    const bool used = std::any_of(checked.begin(), checked.end(), [p = p](Variant v) { return variant_param(v, p->key) != nullptr; });
    params_form_->setRowVisible(box, used);
    const ParamSet::Entry* e = w.params.find(p->key);
    if (auto* real = qobject_cast<QDoubleSpinBox*>(box)) real->setValue(e ? e->real : p->default_value);
    else static_cast<QSpinBox*>(box)->setValue(e ? static_cast<int>(std::min<std::uint64_t>(e->count, 2147483647u)) : 0);
  }
  for (const auto& sp : kSpins) spins_[sp.key]->setValue(static_cast<int>(std::min<std::uint64_t>(w.*sp.member, static_cast<std::uint64_t>(sp.hi))));
  const std::uint64_t kv = w.kv_heads == 0 ? w.heads : w.kv_heads;
  if (kv_heads_->count() == 0 || kv_heads_->itemData(kv_heads_->count() - 1).toULongLong() != w.heads ||
      kv_heads_->currentData().toULongLong() != kv) {
    refresh_kv_heads();
  }
  syncing_ = false;
}

void MainWindow::apply_inputs() {
  if (syncing_) return;
  Workload w = s_->workload();
  w.dtype = parse_dtype(dtype_->currentText().toStdString());
  w.impl = impl_->currentIndex() <= 0 ? nullptr : &find_impl(impl_->currentText().toStdString());
  const Phase before = w.phase;
  w.phase = parse_phase(phase_->currentText().toStdString());
  w.pass = parse_pass(pass_->currentText().toStdString());
  w.causal = causal_->isChecked();
  w.l2 = l2_->isChecked();
  w.dirty_l2 = dirty_l2_->isChecked();
  for (const auto& sp : kSpins) w.*sp.member = static_cast<std::uint64_t>(spins_[sp.key]->value());
  // Entering decode keeps the cache length on screen (kv-len takes seq's value when it was "= seq")
  // and leaves the backward passes, which decode does not have.
  if (w.phase == Phase::decode && before == Phase::prefill && w.kv_len == 0) w.kv_len = w.seq;
  if (w.phase == Phase::decode) w.pass = Pass::fwd;
  // Gradients are accumulated by a backward only; the box keeps its tick for the next backward.
  w.accumulate_grads = accumulate_grads_->isChecked() && w.pass != Pass::fwd;
  for (const auto& [p, box] : param_boxes_) {
    if (auto* real = qobject_cast<QDoubleSpinBox*>(box)) {
      if (real->value() == p->default_value) w.params.erase(p->key);
      else w.set_real(p->key, real->value());
    } else if (const int v = static_cast<QSpinBox*>(box)->value(); v == 0) {
      w.params.erase(p->key);
    } else {
      w.set(p->key, static_cast<std::uint64_t>(v));
    }
  }
  // kv-heads stays a divisor of heads: when heads changes, keep the group size if it still divides.
  const std::uint64_t kv = kv_heads_->currentData().toULongLong();
  w.kv_heads = (kv != 0 && w.heads % kv == 0) ? kv : w.heads;
  if (const QString e = s_->set_workload(w); !e.isEmpty()) {
    error(e);
    sync_inputs();
  }
}

void MainWindow::show_view(View v) { tabs_->setCurrentIndex(static_cast<int>(v)); }

QWidget* MainWindow::view_widget(View v) const { return tabs_->widget(static_cast<int>(v)); }

bool MainWindow::open_trace(const QString& path) {
  if (const QString e = s_->open_trace(path); !e.isEmpty()) {
    error(e);
    return false;
  }
  statusBar()->showMessage(tr("Opened %1: %2 measured points").arg(path).arg(s_->trace_points().size()), 10000);
  // The header's note (e.g. that a fixture is hand-made) stays in view while the trace is open.
  trace_label_->setText(tr("trace: %1 (%2 points, %3)%4")
                            .arg(QFileInfo(path).fileName())
                            .arg(s_->trace_points().size())
                            .arg(s_->trace_device_key())
                            .arg(s_->trace_note().isEmpty() ? QString() : " - " + s_->trace_note()));
  close_trace_->setEnabled(true);
  return true;
}

bool MainWindow::export_chart(const QString& path) {
  QWidget* w = tabs_->currentWidget();
  if (w == sweep_view_) w = sweep_view_->chart_view();
  if (w == model_view_) w = model_view_->chart_view();
  if (path.endsWith(".svg", Qt::CaseInsensitive)) {
    QSvgGenerator gen;
    gen.setFileName(path);
    gen.setSize(w->size());
    gen.setViewBox(w->rect());
    gen.setTitle(windowTitle());
    QPainter p;
    if (!p.begin(&gen)) {
      error(tr("cannot write %1").arg(path));
      return false;
    }
    w->render(&p);
    p.end();
    if (!QFileInfo(path).exists()) {
      error(tr("cannot write %1").arg(path));
      return false;
    }
    return true;
  }
  if (!w->grab().save(path, "PNG")) {
    error(tr("cannot write %1 (PNG)").arg(path));
    return false;
  }
  return true;
}

bool MainWindow::export_csv(const QString& given) {
  const QString path = given.endsWith(".csv", Qt::CaseInsensitive) ? given : given + ".csv";
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
    error(tr("cannot write %1: %2").arg(path, f.errorString()));
    return false;
  }
  QTextStream(&f) << predictions_->to_csv();
  return true;
}

bool MainWindow::save_screenshot(const QString& path) {
  if (!grab().save(path, "PNG")) {
    error(tr("cannot write %1 (PNG)").arg(path));
    return false;
  }
  return true;
}

void MainWindow::load_settings() {
  QSettings st;
  last_dir_ = st.value("lastDir").toString();
  const QString dev = st.value("device").toString();
  const QString dev_file = st.value("deviceFile").toString();
  bool found = dev.isEmpty();
  for (std::size_t i = 0; i < s_->devices().size(); ++i) {
    if (QString::fromStdString(s_->devices()[i].key) == dev) {
      s_->set_device_index(static_cast<int>(i));
      found = true;
    }
  }
  // The last run's device came from a file: load it again, or say why not (never a silent fallback).
  if (!found) {
    const QString e = dev_file.isEmpty() ? tr("device '%1' of the last session is not built in").arg(dev)
                                         : s_->load_device_file(dev_file);
    if (!e.isEmpty()) {
      pending_errors_ << tr("the last session's device could not be restored (%1); using %2")
                             .arg(e, QString::fromStdString(s_->device().key));
    } else {
      device_file_ = dev_file;
    }
  }
  if (st.contains("smClockMHz")) {  // the last session's locked SM clock, on the device restored
    if (const QString e = s_->set_sm_clock_mhz(st.value("smClockMHz").toDouble()); !e.isEmpty()) {
      pending_errors_ << tr("the last session's SM clock could not be restored (%1); not locked").arg(e);
    }
  }
  if (st.contains("workload/seq")) {
    Workload w = s_->workload();
    for (const auto& sp : kSpins) w.*sp.member = st.value(QString("workload/") + sp.key, qulonglong(w.*sp.member)).toULongLong();
    w.kv_heads = st.value("workload/kv-heads", qulonglong(w.kv_heads)).toULongLong();
    try {
      w.dtype = parse_dtype(st.value("workload/dtype", "bf16").toString().toStdString());
      w.phase = parse_phase(st.value("workload/phase", "prefill").toString().toStdString());
      w.pass = parse_pass(st.value("workload/pass", "fwd").toString().toStdString());
    } catch (const std::exception&) {
      // A settings file from another version: keep the defaults for these.
    }
    w.causal = st.value("workload/causal", false).toBool();
    w.l2 = st.value("workload/l2", true).toBool();
    w.dirty_l2 = st.value("workload/l2_start_dirty", false).toBool();
    w.accumulate_grads = st.value("workload/grads_accumulate", false).toBool() && w.pass != Pass::fwd;
    for (const ParamSpec* p : all_params()) {
      const QString key = QString("workload/") + qs(flag_name(*p));
      if (!st.contains(key)) continue;
      if (p->type == ParamType::real) w.set_real(p->key, st.value(key).toDouble());
      else w.set(p->key, st.value(key).toULongLong());
    }
    (void)s_->set_workload(w);  // refused (stale or edited settings): the defaults stay
  }
  if (st.contains("variants")) {
    std::vector<Variant> vs;
    for (const QString& name : st.value("variants").toStringList()) {
      try {
        vs.push_back(parse_variant(name.toStdString()));
      } catch (const std::exception&) {
      }
    }
    s_->set_selection(vs);
  }
}

void MainWindow::save_settings() {
  QSettings st;
  st.setValue("lastDir", last_dir_);
  st.setValue("device", QString::fromStdString(s_->device().unlocked_key()));
  if (s_->device().locked_clock_hz > 0) st.setValue("smClockMHz", s_->device().locked_clock_hz / 1e6);
  else st.remove("smClockMHz");
  const bool builtin = std::any_of(builtin_devices().begin(), builtin_devices().end(),
                                   [&](const Device& d) { return d.key == s_->device().unlocked_key(); });
  if (builtin || device_file_.isEmpty()) st.remove("deviceFile");
  else st.setValue("deviceFile", device_file_);
  const Workload& w = s_->workload();
  for (const auto& sp : kSpins) st.setValue(QString("workload/") + sp.key, qulonglong(w.*sp.member));
  st.setValue("workload/kv-heads", qulonglong(w.kv_heads));
  if (!dtype_from_config_) st.setValue("workload/dtype", qs(to_string(w.dtype)));
  st.setValue("workload/phase", qs(to_string(w.phase)));
  st.setValue("workload/pass", qs(to_string(w.pass)));
  st.setValue("workload/causal", w.causal);
  st.setValue("workload/l2", w.l2);
  st.setValue("workload/l2_start_dirty", w.dirty_l2);
  st.setValue("workload/grads_accumulate", w.accumulate_grads);
  for (const ParamSpec* p : all_params()) st.remove(QString("workload/") + qs(flag_name(*p)));
  for (const ParamSet::Entry& e : w.params.entries()) {
    const ParamSpec* p = find_param(e.key);
    if (p->type == ParamType::real) st.setValue(QString("workload/") + qs(flag_name(*p)), e.real);
    else st.setValue(QString("workload/") + qs(flag_name(*p)), qulonglong(e.count));
  }
  QStringList vs;
  for (Variant v : s_->selection()) vs << qs(to_string(v));
  st.setValue("variants", vs);
}

}  // namespace attnio::gui
