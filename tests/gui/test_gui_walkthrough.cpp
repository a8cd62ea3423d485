// The desktop app driven through the goals of the three users of issue 16, offscreen, saving a
// screenshot at each stop into $ATTNIO_WALKTHROUGH_DIR (default: walkthrough/ in the working
// directory; scripts/gui-walkthrough runs it and lists them). Each stop also checks the answer the
// user came for, so the walkthrough is a test, not only pictures.
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QHeaderView>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTest>

#include "item_models.hpp"
#include "main_window.hpp"

using namespace attnio;
using namespace attnio::gui;

class GuiWalkthrough : public QObject {
  Q_OBJECT
  QString dir_;
  int shot_ = 0;

  void shot(MainWindow& w, const QString& name) {
    QCoreApplication::processEvents();
    const QString path = QDir(dir_).filePath(QStringLiteral("%1-%2.png").arg(++shot_, 2, 10, QChar('0')).arg(name));
    QVERIFY2(w.save_screenshot(path), qPrintable(path));
  }

  // The proxy's rows in display order: (variant, raw value of `col`).
  static std::vector<std::pair<QString, double>> column(QTableView* t, int col) {
    std::vector<std::pair<QString, double>> out;
    auto* m = t->model();
    for (int r = 0; r < m->rowCount(); ++r) {
      out.emplace_back(m->index(r, PredictionModel::kVariantCol).data().toString(), m->index(r, col).data(kRawRole).toDouble());
    }
    return out;
  }

private slots:
  void initTestCase() {
    dir_ = qEnvironmentVariable("ATTNIO_WALKTHROUGH_DIR", "walkthrough");
    QVERIFY(QDir().mkpath(dir_));
  }

  // A student: why is decode memory-bound, and what does FlashAttention save?
  void student() {
    Session s;
    MainWindow w(&s, false);
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    Workload wl = s.workload();
    wl.phase = Phase::decode;
    QVERIFY(s.set_workload(wl).isEmpty());
    w.show_view(MainWindow::View::roofline);
    shot(w, "student-decode-roofline");
    // The decode kernels users run stream the cache: memory-bound. (A windowed or sparse flash
    // kernel in decode pads one query row to a 128-row tile under fa2, and its MMAs bind.)
    for (const char* name : {"standard", "flash2", "flash-decoding", "paged", "mla"}) {
      const Entry& e = s.entry(parse_variant(name));
      QVERIFY2(e.ok && e.prediction.memory_bound(), name);
    }
    wl.phase = Phase::prefill;
    QVERIFY(s.set_workload(wl).isEmpty());
    // FlashAttention never writes S and P: its DRAM bytes are a small fraction of standard's.
    const double standard = s.entry(parse_variant("standard")).prediction.hbm_bytes().d();
    const double flash2 = s.entry(parse_variant("flash2")).prediction.hbm_bytes().d();
    QVERIFY(flash2 * 10 < standard);
    auto* table = qobject_cast<QTableView*>(w.view_widget(MainWindow::View::table));
    w.show_view(MainWindow::View::table);
    table->sortByColumn(PredictionModel::kHbmBytes, Qt::AscendingOrder);
    shot(w, "student-prefill-table-by-hbm");
    s.set_current(parse_variant("standard"));
    w.show_view(MainWindow::View::teach);
    shot(w, "student-teach-standard");
  }

  // A GPU engineer comparing decode kernels on A100 and H100 with a trace open.
  void engineer() {
    Session s;
    MainWindow w(&s, false);
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.open_trace(QString(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl"));
    Workload wl = s.workload();
    wl.phase = Phase::decode;
    wl.batch = 8;
    wl.seq = 4096;
    wl.heads = 32;
    wl.kv_heads = 8;
    wl.head_dim = 128;
    QVERIFY(s.set_workload(wl).isEmpty());
    s.set_selection({parse_variant("flash-decoding"), parse_variant("paged"), parse_variant("mla")});
    w.show_view(MainWindow::View::table);
    shot(w, "engineer-h100-with-trace");
    QVERIFY(s.measured(parse_variant("flash-decoding")).has_value());
    s.set_device_key("a100-80gb");
    shot(w, "engineer-a100-no-h100-measurements");
    QVERIFY(!s.measured(parse_variant("flash-decoding")).has_value());
    w.show_view(MainWindow::View::roofline);
    shot(w, "engineer-a100-roofline");
  }

  // A researcher choosing the cheapest variant at 128k context from a shipped config.
  void researcher() {
    Session s;
    MainWindow w(&s, false);
    w.resize(1280, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.apply_config("llama-3-8b"));
    Workload wl = s.workload();
    wl.phase = Phase::decode;
    wl.batch = 8;
    wl.seq = 131072;
    QVERIFY(s.set_workload(wl).isEmpty());
    std::vector<Variant> all(all_variants().begin(), all_variants().end());
    s.set_selection(all);
    auto* table = qobject_cast<QTableView*>(w.view_widget(MainWindow::View::table));
    w.show_view(MainWindow::View::table);
    table->sortByColumn(PredictionModel::kTime, Qt::AscendingOrder);
    shot(w, "researcher-128k-by-time");
    const auto times = column(table, PredictionModel::kTime);
    for (std::size_t i = 1; i < times.size(); ++i) {
      if (std::isnan(times[i].second)) continue;
      QVERIFY2(times[i - 1].second <= times[i].second, qPrintable(times[i].first));
    }
    // The cache of every layer does not fit an 80 GB H100: the table says so.
    const auto bound = [&] {
      for (int r = 0; r < table->model()->rowCount(); ++r) {
        if (table->model()->index(r, 0).data().toString() == "flash-decoding") {
          return table->model()->index(r, PredictionModel::kBound).data().toString();
        }
      }
      return QString();
    }();
    QVERIFY2(bound.startsWith("exceeds HBM"), qPrintable(bound));
    w.show_view(MainWindow::View::sweep);
    shot(w, "researcher-sweep-kv-len");
  }
};

QTEST_MAIN(GuiWalkthrough)
#include "test_gui_walkthrough.moc"
