// The main window offscreen: every view renders something that is not blank, files export, a
// malformed trace shows an error and leaves the app usable, the teaching controls step and play,
// selection follows clicks, kv-heads only offers divisors, settings persist; and attnio-gui's
// --screenshot mode writes a PNG of each view.
#include <QApplication>
#include <QComboBox>
#include <QImage>
#include <QProcess>
#include <QSet>
#include <QSettings>
#include <QStatusBar>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <QChartView>
#include <QCheckBox>
#include <QLegendMarker>
#include <QScatterSeries>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QListView>
#include <QScrollArea>
#include <QScrollBar>
#include <QStandardItemModel>
#include <QToolTip>
#include <QWheelEvent>

#include <boost/program_options.hpp>

#include "attnio/model/variant.hpp"
#include "flags.hpp"
#include "main_window.hpp"
#include "roofline_view.hpp"

using namespace attnio;
using namespace attnio::gui;

namespace {

// Distinct colours in a sample of the image: a blank or single-colour render has very few.
int colours(const QImage& img) {
  QSet<QRgb> seen;
  for (int y = 0; y < img.height(); y += 3) {
    for (int x = 0; x < img.width(); x += 3) seen.insert(img.pixel(x, y));
  }
  return static_cast<int>(seen.size());
}

}  // namespace

class GuiWidgets : public QObject {
  Q_OBJECT
private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void everyViewRendersAndIsNotBlank() {
    Session s;
    MainWindow w(&s, false);
    w.show();
    for (auto v : {MainWindow::View::roofline, MainWindow::View::sweep, MainWindow::View::table, MainWindow::View::teach,
                   MainWindow::View::model}) {
      w.show_view(v);
      QApplication::processEvents();
      const QImage img = w.view_widget(v)->grab().toImage();
      QVERIFY(img.width() > 200 && img.height() > 200);
      QVERIFY2(colours(img) > 20, qPrintable(QString("view %1: %2 colours").arg(static_cast<int>(v)).arg(colours(img))));
    }
  }

  // The Model view: picking models in its combo boxes re-costs the bars; clicking the attention
  // part of a bar focuses that model's attention in the roofline and table.
  void modelViewPicksModelsAndFocusesAMixer() {
    Session s;
    MainWindow w(&s, false);
    w.show();
    w.show_view(MainWindow::View::model);
    ModelView* mv = w.model_view();
    auto* second = w.findChild<QComboBox*>("modelSecond");
    QVERIFY(second);
    second->setCurrentText("llama-3-8b");
    QCOMPARE(mv->model()->configs()[1].name, std::string("llama-3-8b"));
    second->setCurrentIndex(0);  // (none)
    QCOMPARE(mv->model()->configs().size(), std::size_t{1});
    auto* first = w.findChild<QComboBox*>("modelFirst");
    first->setCurrentText("deepseek-v2");
    QVERIFY(mv->click(0, StackGroup::attention));
    QCOMPARE(s.current(), parse_variant("mla"));
    QVERIFY(!mv->click(0, StackGroup::moe));
    auto* note = w.findChild<QLabel*>("modelNote");
    QVERIFY(note->text().contains("no token mixer"));
    QVERIFY(colours(mv->chart_view()->grab().toImage()) > 20);
  }

  void rooflineLegendHoldsTheCeilingsNotTheVariants() {
    Session s;
    MainWindow w(&s, false);
    w.show();
    auto* view = qobject_cast<QChartView*>(w.view_widget(MainWindow::View::roofline));
    QVERIFY(view);
    for (int round = 0; round < 2; ++round) {  // after a rebuild too
      int shown = 0;
      for (auto* mk : view->chart()->legend()->markers()) shown += mk->isVisible() ? 1 : 0;
      // Six ceilings, the focused variant's implementation's two sustained roofs (fa2: mma.sync
      // tensor, STREAM HBM), the ridge points, the focused variant's L2/SRAM line and the published
      // measurements (the default H100 prefill forward has FlashAttention-2's and PyTorch's).
      QCOMPARE(shown, 11);
      Workload next = s.workload();
      next.seq *= 2;
      QVERIFY(s.set_workload(next).isEmpty());
    }
  }

  void malformedTraceShowsAnErrorAndTheAppStaysUsable() {
    Session s;
    MainWindow w(&s, false);
    QStringList errors;
    w.error_handler = [&](const QString& m) { errors << m; };
    QTemporaryDir dir;
    const QString bad = dir.filePath("truncated.jsonl");
    {
      QFile f(bad);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("{\"format\": \"attnio-trace\"");  // no end of line: a truncated file
    }
    QVERIFY(!w.open_trace(bad));
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors[0].contains("truncated"), qPrintable(errors[0]));
    QVERIFY(!s.has_trace());
    QVERIFY(!w.open_trace(dir.filePath("missing.jsonl")));
    QCOMPARE(errors.size(), 2);
    // Still usable: a parameter change recomputes, and a good trace opens.
    auto* seq = w.findChild<QSpinBox*>("seq");
    QVERIFY(seq);
    seq->setValue(2048);
    QCOMPARE(s.workload().seq, std::uint64_t{2048});
    QVERIFY(w.open_trace(QString(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl"));
    QCOMPARE(errors.size(), 2);
  }

  void exportsChartCsvAndSvg() {
    Session s;
    MainWindow w(&s, false);
    w.show();
    QTemporaryDir dir;
    QVERIFY(w.export_chart(dir.filePath("roofline.png")));
    QVERIFY(colours(QImage(dir.filePath("roofline.png"))) > 20);
    QVERIFY(w.export_chart(dir.filePath("roofline.svg")));
    QFile svg(dir.filePath("roofline.svg"));
    QVERIFY(svg.open(QIODevice::ReadOnly));
    QVERIFY(svg.readAll().contains("<svg"));
    QVERIFY(w.export_csv(dir.filePath("table.csv")));
    QFile csv(dir.filePath("table.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    QVERIFY(csv.readLine().startsWith("device,phase,pass"));
    QStringList errors;
    w.error_handler = [&](const QString& m) { errors << m; };
    QVERIFY(!w.export_csv(dir.filePath("no/such/dir/table.csv")));
    QCOMPARE(errors.size(), 1);
  }

  void teachingControlsStepAndPlay() {
    Session s;
    MainWindow w(&s, false);
    w.show();
    w.show_view(MainWindow::View::teach);
    QApplication::processEvents();
    TeachView* t = w.teach_view();
    QVERIFY(t->frame_count() > 10);
    QCOMPARE(t->frame(), 0);
    t->step();
    QCOMPARE(t->frame(), 1);
    t->play(true);
    QTRY_VERIFY_WITH_TIMEOUT(t->frame() >= 3, 5000);
    t->play(false);
    const int at = t->frame();
    QTest::qWait(300);
    QCOMPARE(t->frame(), at);
    s.set_current(parse_variant("fnet"));  // no schedule: the view says so instead of failing
    QApplication::processEvents();
    QCOMPARE(t->frame_count(), 0);
  }

  void selectionFollowsTheCurrentVariantAndKvHeadsAreDivisors() {
    Session s;
    MainWindow w(&s, false);
    w.show();
    s.set_current(parse_variant("mla"));
    auto* table = w.findChild<QTableView*>("predictionTable");
    QVERIFY(table);
    // Unsorted at first: the variants in their own order.
    QCOMPARE(table->model()->data(table->model()->index(0, 0)).toString(), QString("standard"));
    QCOMPARE(table->model()->data(table->currentIndex().siblingAtColumn(0)).toString(), QString("mla"));
    // A click on a roofline point focuses its variant everywhere.
    auto* roof = qobject_cast<QChartView*>(w.view_widget(MainWindow::View::roofline));
    QScatterSeries* linear = nullptr;
    for (auto* series : roof->chart()->series()) {
      if (series->name() == "linear") linear = qobject_cast<QScatterSeries*>(series);
    }
    QVERIFY(linear && linear->isVisible() && linear->count() == 1);
    emit linear->clicked(linear->at(0));
    QCOMPARE(s.current(), parse_variant("linear"));
    QCOMPARE(table->model()->data(table->currentIndex().siblingAtColumn(0)).toString(), QString("linear"));
    auto* heads = w.findChild<QSpinBox*>("heads");
    heads->setValue(12);
    auto* kv = w.findChild<QComboBox*>("kv-heads");
    QStringList offered;
    for (int i = 0; i < kv->count(); ++i) offered << kv->itemData(i).toString();
    QCOMPARE(offered, (QStringList{"1", "2", "3", "4", "6", "12"}));
    kv->setCurrentIndex(3);  // 4 K/V heads: GQA-3
    QCOMPARE(s.workload().kv_heads, std::uint64_t{4});
  }

  void theEditorHasEveryWorkloadFlagOfTheCli() {
    Session s;
    MainWindow w(&s, false);
    boost::program_options::options_description desc;
    cli::add_workload_options(desc);
    const QStringList combos{"device", "variant", "dtype", "phase", "pass", "kv-heads", "impl"};
    for (const auto& opt : desc.options()) {
      const QString name = QString::fromStdString(opt->long_name());
      if (name == "device-file" || name == "variant") continue;  // a button; the variant list
      if (name == "kv-dtype") {  // a name for --kv-bits and --kv-group, which have their spin boxes
        QVERIFY(w.findChild<QSpinBox*>("kv-bits") && w.findChild<QSpinBox*>("kv-group"));
        continue;
      }
      if (name == "causal" || name == "l2" || name == "l2-start" || name == "grads") {
        QVERIFY2(w.findChild<QCheckBox*>(name) || name == "causal", qPrintable(name));
      } else if (const ParamSpec* p = find_param(QString(name).replace('-', '_').toStdString()); p && p->type == ParamType::real) {
        QVERIFY2(w.findChild<QDoubleSpinBox*>(name), qPrintable("no double spin box for --" + name));
      } else if (combos.contains(name)) {
        QVERIFY2((name != "kv-heads" && name != "impl") || w.findChild<QComboBox*>(name), qPrintable(name));
      } else {
        QVERIFY2(w.findChild<QSpinBox*>(name), qPrintable("no spin box for --" + name));
      }
    }
    // The SM clock locks the current device's clock; its lowest value unlocks it.
    auto* clock = w.findChild<QSpinBox*>("sm-clock");
    clock->setValue(1815);
    QCOMPARE(s.device().locked_clock_hz, 1815e6);
    QCOMPARE(QString::fromStdString(s.device().key), QString("h100-sxm@1815MHz"));
    QVERIFY(w.findChild<QComboBox*>("device")->currentText().startsWith("h100-sxm@1815MHz"));
    clock->setValue(clock->minimum());
    QCOMPARE(s.device().locked_clock_hz, 0.0);
    QCOMPARE(clock->specialValueText(), QString("SM clock: not locked"));
    // A spin box drives the session, and the session's value comes back.
    w.findChild<QSpinBox*>("dilation")->setValue(4);
    QCOMPARE(s.workload().params.find("dilation")->count, std::uint64_t{4});
    w.findChild<QDoubleSpinBox*>("block-density")->setValue(0.5);
    QCOMPARE(s.workload().params.find("block_density")->real, 0.5);
    // 0 shows "default" and leaves the parameter to each variant.
    w.findChild<QSpinBox*>("dilation")->setValue(0);
    QVERIFY(!s.workload().params.has("dilation"));
  }

  // The editor shows the shape and only the parameters that the checked variants declare, each with
  // its declared range and its help line as the tooltip.
  void theEditorShowsOnlyTheCheckedVariantsParameters() {
    Session s;
    MainWindow w(&s, false);
    auto shown = [&](const char* name) {
      QWidget* box = w.findChild<QWidget*>(name);
      return box && box->isVisibleTo(&w);
    };
    s.set_selection({parse_variant("flash2")});
    QVERIFY(shown("seq") && shown("heads"));
    QVERIFY(shown("block-m") && shown("block-n") && shown("cla-share"));
    QVERIFY(!shown("window") && !shown("page-size") && !shown("state-dim") && !shown("block-density"));
    s.set_selection({parse_variant("paged"), parse_variant("mamba")});
    QVERIFY(shown("page-size") && shown("cla-share") && shown("state-dim") && shown("d-inner"));
    QVERIFY(!shown("block-m") && !shown("window") && !shown("latent-dim") && !shown("block-density"));
    auto* page = w.findChild<QSpinBox*>("page-size");
    QCOMPARE(page->maximum(), 512);
    QVERIFY(page->toolTip().startsWith(QString::fromUtf8(find_param("page_size")->help.data(),
                                                         static_cast<int>(find_param("page_size")->help.size()))));
    s.set_selection({parse_variant("block-sparse")});
    QVERIFY(shown("block-density") && !shown("page-size"));
  }

  // Issue 16: the wheel over a spin box changed latent-dim from 512 to 532 while the user was only
  // scrolling to reach the variant list, which sat below about 30 controls.
  void theWheelScrollsThePanelUnlessAnInputHasTheFocus() {
    Session s;
    s.set_selection({parse_variant("mla")});
    MainWindow w(&s, false);
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto* latent = w.findChild<QSpinBox*>("latent-dim");
    QVERIFY(latent && latent->isVisible());
    const int before = latent->value();
    const QPointF at(latent->width() / 2.0, latent->height() / 2.0);
    QWheelEvent wheel(at, latent->mapToGlobal(at), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(latent, &wheel);
    QCOMPARE(latent->value(), before);
    latent->setFocus();
    QApplication::sendEvent(latent, &wheel);
    QVERIFY(latent->value() != before);  // focused: the wheel edits it
    // The variant list sits above the workload inputs, reachable without scrolling.
    auto* list = w.findChild<QListView*>("variants");
    auto* seq = w.findChild<QSpinBox*>("seq");
    QVERIFY(list->mapTo(&w, QPoint(0, 0)).y() < seq->mapTo(&w, QPoint(0, 0)).y());
  }

  // Issue 16: seq stayed active in decode, "bwd" was offered in decode and opened a modal error worded
  // for the CLI, the sweep kept the seq axis in decode and drew flat lines, and no input or header had
  // a tooltip.
  void onlyApplicableControlsAreEnabledAndEveryInputExplainsItself() {
    Session s;
    MainWindow w(&s, false);
    auto* phase = w.findChild<QComboBox*>("phase");
    auto* pass = w.findChild<QComboBox*>("pass");
    auto* seq = w.findChild<QSpinBox*>("seq");
    QVERIFY(pass);
    auto* items = qobject_cast<QStandardItemModel*>(pass->model());
    QVERIFY(seq->isEnabled() && items->item(1)->isEnabled());
    const std::uint64_t cache = s.workload().seq;
    phase->setCurrentText("decode");
    QCOMPARE(s.workload().phase, Phase::decode);
    QVERIFY(!seq->isEnabled());
    QCOMPARE(s.workload().kv_len, cache);  // the cache length stays what seq was
    QVERIFY(!items->item(1)->isEnabled() && !items->item(2)->isEnabled());
    SweepModel sweep(&s);
    QCOMPARE(sweep.axis(), SweepModel::Axis::kv_len);  // seq asked; the cache length is what moves
    QVERIFY(sweep.value(0, 0) != sweep.value(sweep.rowCount() - 1, 0));
    phase->setCurrentText("prefill");
    s.set_selection({parse_variant("linear")});  // no backward modeled
    QVERIFY(!items->item(1)->isEnabled());
    s.set_selection({parse_variant("linear"), parse_variant("flash2")});
    QVERIFY(items->item(1)->isEnabled());
    for (const char* name : {"batch", "seq", "kv-len", "heads", "head-dim", "sram-bytes", "phase", "pass", "kv-heads",
                             "window", "latent-dim", "block-density"}) {
      auto* input = w.findChild<QWidget*>(name);
      QVERIFY2(input && !input->toolTip().isEmpty(), name);
    }
    PredictionModel m(&s);
    for (int c = 0; c < m.columnCount(); ++c) {
      QVERIFY(!m.headerData(c, Qt::Horizontal, Qt::ToolTipRole).toString().isEmpty());
    }
  }

  // Issue 16: a preset switched the dtype to its config's torch_dtype without a word and the change
  // survived a restart; a loaded device file fell back to h100-sxm on restart silently; the CSV
  // export did not add its suffix.
  void presetsDeviceFilesAndExportsKeepTheirContext() {
    QSettings().clear();
    {
      Session s;
      MainWindow w(&s, true);
      QVERIFY(w.apply_config("mamba-2.8b"));
      QCOMPARE(s.workload().dtype, Dtype::fp32);
      QVERIFY2(w.statusBar()->currentMessage().contains("dtype fp32 from its config"), qPrintable(w.statusBar()->currentMessage()));
      QTemporaryDir dir;
      QVERIFY(w.export_csv(dir.filePath("table")));
      QVERIFY(QFile::exists(dir.filePath("table.csv")));
    }
    {
      Session s;
      MainWindow w(&s, true);
      QCOMPARE(s.workload().dtype, Dtype::bf16);  // the config's dtype was not kept silently
    }
    // A device file from the last run that is gone: the restart says so and names the fallback.
    QTemporaryDir dir;
    const QString path = dir.filePath("my-gpu.json");
    {
      std::string json = device_to_json(find_device("a100-80gb"));
      json.replace(json.find("a100-80gb"), 9, "my-gpu");
      QFile f(path);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(json.c_str());
    }
    {
      Session s;
      MainWindow w(&s, true);
      QVERIFY(w.load_device_file(path));
      QCOMPARE(s.device().key, std::string("my-gpu"));
    }
    auto restart = [&](QStringList& errors) {
      Session s;
      MainWindow w(&s, true);
      w.error_handler = [&](const QString& m) { errors << m; };
      QCoreApplication::processEvents();
      return s.device().key;
    };
    QStringList errors;
    QCOMPARE(restart(errors), std::string("my-gpu"));  // reloaded from its file
    QVERIFY(errors.isEmpty());
    QFile::remove(path);
    QCOMPARE(restart(errors), std::string("h100-sxm"));
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors[0].contains("could not be restored") && errors[0].contains("using h100-sxm"), qPrintable(errors[0]));
    QSettings().clear();
  }

  // Issue 16: in H100 decode seven labels overlapped at about 4 FLOP/byte and on the A100 six sat
  // on the tensor roof; at 1280x720 legend entries were cut. Labels of coinciding points merge,
  // the rest move to a free spot; none overlaps, at 1280x720 and 1920x1080.
  void rooflineLabelsDoNotOverlap() {
    for (QSize size : {QSize(1280, 720), QSize(1920, 1080)}) {
      for (const char* device : {"h100-sxm", "a100-80gb"}) {
        for (Phase phase : {Phase::decode, Phase::prefill}) {
          Session s;
          s.set_device_key(device);
          Workload w = s.workload();
          w.phase = phase;
          QVERIFY(s.set_workload(w).isEmpty());
          MainWindow win(&s, false);
          win.resize(size);
          win.show();
          QVERIFY(QTest::qWaitForWindowExposed(&win));
          auto* view = qobject_cast<RooflineView*>(win.view_widget(MainWindow::View::roofline));
          QVERIFY(view);
          view->rebuild();
          QCoreApplication::processEvents();
          const std::vector<QRectF> rects = view->label_rects();
          QVERIFY(rects.size() > 8);
          for (std::size_t i = 0; i < rects.size(); ++i) {
            for (std::size_t j = i + 1; j < rects.size(); ++j) {
              QVERIFY2(!rects[i].intersects(rects[j]),
                       qPrintable(QString("%1 %2 %3x%4: '%5' overlaps '%6'")
                                      .arg(device, phase == Phase::decode ? "decode" : "prefill")
                                      .arg(size.width()).arg(size.height())
                                      .arg(view->label_texts()[i], view->label_texts()[j])));
            }
          }
          // Coinciding points share one label: in prefill flash2 and sliding-window (a window
          // covering the whole sequence) have the same time and bytes.
          if (phase == Phase::prefill && std::string(device) == "h100-sxm") {
            const auto texts = view->label_texts();
            QVERIFY(std::any_of(texts.begin(), texts.end(), [](const QString& t) { return t.contains("flash2, "); }));
          }
        }
      }
    }
  }

  // Issue 16: hovering a hollow marker (a trace measurement) showed nothing.
  void hoveringAMeasuredPointShowsItsRecord() {
    Session s;
    MainWindow w(&s, false);
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.open_trace(QString(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl"));
    Workload wl = s.workload();
    wl.phase = Phase::decode;
    QVERIFY(s.set_workload(wl).isEmpty());
    w.show_view(MainWindow::View::roofline);
    auto* view = qobject_cast<RooflineView*>(w.view_widget(MainWindow::View::roofline));
    view->rebuild();
    QCoreApplication::processEvents();
    QScatterSeries* hollow = nullptr;
    for (QAbstractSeries* series : view->chart()->series()) {
      if (series->name() == "measured (trace)") hollow = qobject_cast<QScatterSeries*>(series);
    }
    QVERIFY(hollow && hollow->count() > 0);
    QString shown;
    for (const QPointF& pt : hollow->points()) {
      const QPoint at = view->mapFromScene(view->chart()->mapToPosition(pt, hollow));
      QTest::mouseMove(view->viewport(), at);
      QCoreApplication::processEvents();
      if (QToolTip::isVisible()) shown = QToolTip::text();
      if (!shown.isEmpty()) break;
    }
    QVERIFY2(shown.startsWith("measured"), qPrintable(shown));
  }

  // Issue 15: the published measurements show on the roofline as hollow squares, and hovering one
  // names its source with the published and predicted time.
  void hoveringAPublishedPointShowsItsSourceAndError() {
    Session s;
    MainWindow w(&s, false);
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    s.set_device_key("h100-sxm");
    w.show_view(MainWindow::View::roofline);
    auto* view = qobject_cast<RooflineView*>(w.view_widget(MainWindow::View::roofline));
    view->rebuild();
    QCoreApplication::processEvents();
    QScatterSeries* published = nullptr;
    for (QAbstractSeries* series : view->chart()->series()) {
      if (series->name() == "published") published = qobject_cast<QScatterSeries*>(series);
    }
    QVERIFY(published && published->count() > 0 && published->isVisible());
    QString shown;
    for (const QPointF& pt : published->points()) {
      const QPoint at = view->mapFromScene(view->chart()->mapToPosition(pt, published));
      QTest::mouseMove(view->viewport(), at);
      QCoreApplication::processEvents();
      if (QToolTip::isVisible() && QToolTip::text().startsWith("published")) shown = QToolTip::text();
      if (!shown.isEmpty()) break;
    }
    QVERIFY2(shown.contains("predicted") && shown.contains("%"), qPrintable(shown));
    // Unchecking every variant leaves no published point on the chart.
    s.set_selection({});
    view->rebuild();
    QVERIFY(!published->isVisible() || published->count() == 0);
  }

  void settingsPersistBetweenRuns() {
    {
      Session s;
      MainWindow w(&s, true);
      w.findChild<QSpinBox*>("seq")->setValue(12345);
      s.set_device_key("a100-80gb");
      s.set_selection({parse_variant("flash2"), parse_variant("mla")});
    }
    Session s;
    MainWindow w(&s, true);
    QCOMPARE(s.workload().seq, std::uint64_t{12345});
    QCOMPARE(s.device().key, std::string("a100-80gb"));
    QCOMPARE(s.selection().size(), std::size_t{2});
  }

  void screenshotModeWritesEachView() {
    QTemporaryDir dir;
    for (const QString view : {"roofline", "sweep", "table", "teach", "model"}) {
      const QString out = dir.filePath(view + ".png");
      QProcess p;
      p.start(ATTNIO_GUI, {"--screenshot", out, "--view", view, "--seq", "8192", "--kv-heads", "8"});
      QVERIFY(p.waitForFinished(60000));
      QCOMPARE(p.exitCode(), 0);
      const QImage img(out);
      QCOMPARE(img.size(), QSize(1500, 920));
      QVERIFY2(colours(img) > 50, qPrintable(view));
    }
    QProcess bad;
    bad.start(ATTNIO_GUI, {"--screenshot", dir.filePath("x.png"), "--view", "pie"});
    QVERIFY(bad.waitForFinished(60000));
    QCOMPARE(bad.exitCode(), 2);
    QVERIFY(bad.readAllStandardError().contains("--view: 'pie'"));
    bad.start(ATTNIO_GUI, {"--screenshot", dir.filePath("x.png"), "--heads", "32", "--kv-heads", "6"});
    QVERIFY(bad.waitForFinished(60000));
    QCOMPARE(bad.exitCode(), 2);
    QVERIFY(bad.readAllStandardError().contains("not divisible"));
    QProcess small;
    small.start(ATTNIO_GUI, {"--screenshot", dir.filePath("small.png"), "--view", "model", "--window-size", "1280x720"});
    QVERIFY(small.waitForFinished(60000));
    QCOMPARE(small.exitCode(), 0);
    QCOMPARE(QImage(dir.filePath("small.png")).size(), QSize(1280, 720));
    bad.start(ATTNIO_GUI, {"--screenshot", dir.filePath("x.png"), "--window-size", "big"});
    QVERIFY(bad.waitForFinished(60000));
    QCOMPARE(bad.exitCode(), 2);
    QVERIFY(bad.readAllStandardError().contains("--window-size: 'big'"));
    bad.start(ATTNIO_GUI, {"--screenshot", dir.filePath("x.png"), "--view", "model", "--model-config", "no-such-model"});
    QVERIFY(bad.waitForFinished(60000));
    QCOMPARE(bad.exitCode(), 2);
    QVERIFY(bad.readAllStandardError().contains("--model-config"));
  }
};

QTEST_MAIN(GuiWidgets)
#include "test_gui_widgets.moc"
