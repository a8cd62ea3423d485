// attnio-gui: the desktop app. With --screenshot it renders one view offscreen and exits (tests,
// README pictures, scripts/run on machines without a display); --bench-redraw times how long a
// parameter change takes to redraw every view.
#include <QApplication>
#include <QElapsedTimer>
#include <QFileInfo>

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include "attnio/model/errors.hpp"
#include "flags.hpp"
#include "main_window.hpp"

namespace po = boost::program_options;
using namespace attnio;
using namespace attnio::gui;

namespace {

constexpr int kExitBadInput = 2;

int bench_redraw(MainWindow& w, Session& s, int changes) {
  w.show();
  QApplication::processEvents();
  std::vector<double> ms;
  // Per stage: models and charts rebuilt (the signal), teaching trace, painting each view.
  std::vector<double> stage[7];
  Workload base = s.workload();
  for (int i = 0; i < changes; ++i) {
    Workload next = base;
    next.seq = (i % 2 == 0) ? base.seq * 2 : base.seq;
    QElapsedTimer t;
    t.start();
    QElapsedTimer part;
    part.start();
    (void)s.set_workload(next);  // every model and chart rebuilds on the signal
    stage[0].push_back(static_cast<double>(part.nsecsElapsed()) / 1e6);
    part.restart();
    w.teach_view()->rebuild();   // the teaching view rebuilds lazily; count it as if shown
    stage[1].push_back(static_cast<double>(part.nsecsElapsed()) / 1e6);
    int k = 2;
    for (auto v : {MainWindow::View::roofline, MainWindow::View::sweep, MainWindow::View::table, MainWindow::View::teach,
                   MainWindow::View::model}) {
      part.restart();
      (void)w.view_widget(v)->grab();  // paint each view once
      stage[k++].push_back(static_cast<double>(part.nsecsElapsed()) / 1e6);
    }
    ms.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
  }
  std::sort(ms.begin(), ms.end());
  const char* names[7] = {"models+charts", "teach trace", "paint roofline", "paint sweep", "paint table", "paint teach", "paint model"};
  std::printf("median per stage:");
  for (int i = 0; i < 7; ++i) {
    std::sort(stage[i].begin(), stage[i].end());
    std::printf(" %s %.1f ms%s", names[i], stage[i][stage[i].size() / 2], i < 6 ? "," : "\n");
  }
  std::printf("redraw after a parameter change, %zu variants x 5 views (%d changes): median %.1f ms, p90 %.1f ms, max %.1f ms\n",
              all_variants().size(), changes, ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool offscreen = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--screenshot" || a == "--bench-redraw" || a.rfind("--screenshot=", 0) == 0 || a.rfind("--bench-redraw=", 0) == 0) offscreen = true;
  }
  if (offscreen && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QApplication::setOrganizationName("attnio");
  QApplication::setApplicationName("attnio-gui");

  po::options_description desc("attnio-gui options (plus the workload flags of attnio predict)");
  desc.add_options()("help,h", "show this help");
  desc.add_options()("screenshot", po::value<std::string>(), "render a view offscreen to this PNG and exit");
  desc.add_options()("view", po::value<std::string>()->default_value("roofline"), "roofline|sweep|table|teach|model (with --screenshot)");
  desc.add_options()("window-size", po::value<std::string>(), "window size WxH, e.g. 1280x720 (default 1500x920)");
  desc.add_options()("model-config", po::value<std::vector<std::string>>()->composing(),
                     "Model view: one or two shipped configs or config.json paths (default jamba-v0.1 and mixtral-8x7b)");
  desc.add_options()("model-contexts", po::value<std::string>(), "Model view: context lengths (list or range)");
  desc.add_options()("model-batch", po::value<int>(), "Model view: batch");
  desc.add_options()("sweep-axis", po::value<std::string>(), "sweep view axis: seq|kv-len|batch|head-dim|kv-heads|sram-bytes|window");
  desc.add_options()("trace", po::value<std::string>(), "open a trace file");
  desc.add_options()("teach-step", po::value<int>()->default_value(0), "teach view: the schedule step to show");
  desc.add_options()("bench-redraw", po::value<int>(), "time N parameter changes redrawing every view, print, exit");
  cli::add_workload_options(desc);
  po::variables_map vm;
  std::vector<std::string> args;
  for (const QString& a : QApplication::arguments().mid(1)) args.push_back(a.toStdString());

  Session session;
  Variant current = default_variant();
  bool workload_flags = false;  // any device or workload flag given: it wins over saved settings
  try {
    cli::refuse_unparseable_options(args);
    const po::parsed_options parsed = po::command_line_parser(args).options(desc).run();
    cli::refuse_positional(parsed);
    po::store(parsed, vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << "usage: attnio-gui [--screenshot FILE.png [--view V]] [--trace T.jsonl] [predict flags]\n\n" << desc << "\n";
      return 0;
    }
    std::deque<Device> storage;
    const cli::Point pt = cli::expand(vm, llama_like_workload(), false, storage).front();
    session.select_device(*pt.device);
    if (const QString e = session.set_workload(pt.workload); !e.isEmpty()) throw InputError(e.toStdString());
    if (vm.count("variant") && vm["variant"].as<std::string>() != "all") current = pt.workload.variant;
    po::options_description workload_desc;
    cli::add_workload_options(workload_desc);
    for (const auto& opt : workload_desc.options()) workload_flags = workload_flags || vm.count(opt->long_name());
  } catch (const InputError& e) {
    std::cerr << "attnio-gui: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const po::error& e) {
    std::cerr << "attnio-gui: " << e.what() << "\n";
    return kExitBadInput;
  }
  const bool headless = vm.count("screenshot") || vm.count("bench-redraw");
  // The window restores the last session's settings; flags given on this command line win.
  const Device flag_device = session.device();
  const Workload flag_workload = session.workload();
  MainWindow w(&session, !headless);
  if (workload_flags) {
    session.select_device(flag_device);
    (void)session.set_workload(flag_workload);  // accepted above on this device
  }
  session.set_current(current);
  bool ok = true;
  w.error_handler = headless ? std::function<void(const QString&)>([&ok](const QString& m) {
    std::cerr << "attnio-gui: " << m.toStdString() << "\n";
    ok = false;
  })
                             : w.error_handler;
  if (vm.count("trace") && !w.open_trace(QString::fromStdString(vm["trace"].as<std::string>())) && headless) return kExitBadInput;
  if (vm.count("sweep-axis")) {
    const int i = SweepModel::axis_names().indexOf(QString::fromStdString(vm["sweep-axis"].as<std::string>()));
    if (i < 0) {
      std::cerr << "attnio-gui: --sweep-axis: '" << vm["sweep-axis"].as<std::string>() << "' is not one of "
                << SweepModel::axis_names().join(", ").toStdString() << "\n";
      return kExitBadInput;
    }
    w.sweep_model()->set_axis(static_cast<SweepModel::Axis>(i));
  }
  if (vm.count("bench-redraw")) {
    const int n = vm["bench-redraw"].as<int>();
    if (n < 2 || n > 100000) {
      std::cerr << "attnio-gui: --bench-redraw must be between 2 and 100000\n";
      return kExitBadInput;
    }
    return bench_redraw(w, session, n);
  }
  if (vm.count("window-size")) {
    const std::string t = vm["window-size"].as<std::string>();
    int wd = 0, ht = 0;
    char x = 0, extra = 0;
    if (std::sscanf(t.c_str(), "%d%c%d%c", &wd, &x, &ht, &extra) != 3 || x != 'x' || wd < 320 || ht < 240 || wd > 8192 || ht > 8192) {
      std::cerr << "attnio-gui: --window-size: '" << t << "' is not WxH between 320x240 and 8192x8192\n";
      return kExitBadInput;
    }
    w.resize(wd, ht);
  }
  // The Model view's models, contexts and batch.
  if (vm.count("model-config")) {
    QStringList names;
    for (const auto& n : vm["model-config"].as<std::vector<std::string>>()) names << QString::fromStdString(n);
    if (const QString e = w.model_view()->model()->set_configs(names); !e.isEmpty()) {
      std::cerr << "attnio-gui: --model-config: " << e.toStdString() << "\n";
      return kExitBadInput;
    }
  }
  if (vm.count("model-contexts")) {
    if (const QString e = w.model_view()->model()->set_contexts(QString::fromStdString(vm["model-contexts"].as<std::string>())); !e.isEmpty()) {
      std::cerr << "attnio-gui: --model-contexts: " << e.toStdString() << "\n";
      return kExitBadInput;
    }
  }
  if (vm.count("model-batch")) {
    const int b = vm["model-batch"].as<int>();
    if (b < 1 || b > 4096) {
      std::cerr << "attnio-gui: --model-batch: " << b << " is not in 1..4096\n";
      return kExitBadInput;
    }
    w.model_view()->model()->set_batch(static_cast<std::uint64_t>(b));
  }
  if (vm.count("screenshot")) {
    const std::string view = vm["view"].as<std::string>();
    const char* const names[] = {"roofline", "sweep", "table", "teach", "model"};
    const auto it = std::find(std::begin(names), std::end(names), view);
    if (it == std::end(names)) {
      std::cerr << "attnio-gui: --view: '" << view << "' is not roofline, sweep, table, teach or model\n";
      return kExitBadInput;
    }
    w.show_view(static_cast<MainWindow::View>(it - std::begin(names)));
    w.show();
    QApplication::processEvents();
    if (view == "teach") w.teach_view()->set_frame(vm["teach-step"].as<int>());
    QApplication::processEvents();
    const QString out = QString::fromStdString(vm["screenshot"].as<std::string>());
    if (!ok || !w.save_screenshot(out)) return ok ? 1 : kExitBadInput;
    std::cout << "wrote " << out.toStdString() << "\n";
    return 0;
  }
  w.show();
  return QApplication::exec();
}
