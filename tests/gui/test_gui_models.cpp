// The GUI's item models and geometry, headless: QAbstractItemModelTester over every change a user
// can make, the roofline ridge points against hand numbers, the sweep's crossings, the teaching
// trace against the simulator, and trace loading (good and malformed).
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

#include <cmath>
#include <memory>

#include "attnio/model/simulate.hpp"
#include "item_models.hpp"
#include "roofline.hpp"
#include "session.hpp"
#include "stack_chart.hpp"
#include "teach.hpp"

using namespace attnio;
using namespace attnio::gui;

// A session call that must succeed (they return the error, empty when none).
#define ASSERT_EMPTY(expr) QVERIFY2((expr).isEmpty(), qPrintable(expr))

class GuiModels : public QObject {
  Q_OBJECT
private slots:
  void modelsPassTheTesterThroughEveryKindOfChange() {
    Session s;
    VariantListModel variants(&s);
    PredictionModel predictions(&s);
    SweepModel sweep(&s);
    QAbstractItemModelTester t1(&variants, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t2(&predictions, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester t3(&sweep, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(variants.rowCount(), static_cast<int>(all_variants().size()));
    QCOMPARE(predictions.rowCount(), static_cast<int>(all_variants().size()));
    Workload w = s.workload();
    w.seq = 16384;
    w.kv_heads = 8;
    w.causal = true;
    QVERIFY(s.set_workload(w).isEmpty());
    QVERIFY(variants.setData(variants.index(0), Qt::Unchecked, Qt::CheckStateRole));
    QCOMPARE(predictions.rowCount(), static_cast<int>(all_variants().size()) - 1);
    QCOMPARE(sweep.columnCount(), static_cast<int>(all_variants().size()) - 1);
    for (int a = 0; a < SweepModel::axis_names().size(); ++a) sweep.set_axis(static_cast<SweepModel::Axis>(a));
    sweep.set_quantity(SweepModel::Quantity::intensity);
    s.set_device_key("a100-80gb");
    w.phase = Phase::decode;
    QVERIFY(s.set_workload(w).isEmpty());
    s.set_selection({parse_variant("paged"), parse_variant("flash-decoding")});
    QCOMPARE(predictions.rowCount(), 2);
  }

  void aWorkloadNoVariantAcceptsIsRefusedAndNothingChanges() {
    Session s;
    const Workload before = s.workload();
    Workload w = before;
    w.kv_heads = 6;  // 32 heads
    QSignalSpy changed(&s, &Session::changed);
    const QString e = s.set_workload(w);
    QVERIFY2(e.contains("not divisible"), qPrintable(e));
    QCOMPARE(changed.count(), 0);
    QCOMPARE(s.workload().kv_heads, before.kv_heads);
  }

  void predictionTableMatchesTheModelAndExportsCsv() {
    Session s;
    PredictionModel m(&s);
    const int row = m.row_of(parse_variant("flash2"));
    QVERIFY(row >= 0);
    const Prediction& p = s.entry(parse_variant("flash2")).prediction;
    QCOMPARE(m.data(m.index(row, PredictionModel::kHbmBytes), kRawRole).toDouble(), p.hbm_bytes().d());
    QCOMPARE(m.data(m.index(row, PredictionModel::kTime), kRawRole).toDouble(), p.predicted_time_s);
    const QStringList lines = m.to_csv().split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), m.rowCount() + 1);
    // Issue 16: the export had no device or workload columns and no units in its headers.
    QVERIFY2(lines[0].startsWith("device,phase,pass,dtype,batch,seq (tokens),kv_len (tokens),heads,kv_heads,head_dim,causal,"
                                 "layers,variant,bound,limited by (impl),time (s),FLOPs (FLOP)"),
             qPrintable(lines[0]));
    QVERIFY(lines[1].startsWith("h100-sxm,prefill,fwd,bf16,8,4096,4096,32,8,128,1,1,"));
    // A variant that does not apply (paged needs decode) shows why, and no numbers.
    const int paged = m.row_of(parse_variant("paged"));
    QCOMPARE(m.data(m.index(paged, PredictionModel::kBound), Qt::DisplayRole).toString(), QString("n/a"));
    QVERIFY(m.data(m.index(paged, PredictionModel::kParams), Qt::DisplayRole).toString().contains("decode"));
    QVERIFY(std::isnan(m.data(m.index(paged, PredictionModel::kHbmBytes), kRawRole).toDouble()));
    // The time's tooltip says whether published measurements check the variant: flash2's are in
    // the shipped table, Mamba-2's are not.
    const QString checked = m.data(m.index(row, PredictionModel::kTime), Qt::ToolTipRole).toString();
    QVERIFY2(checked.contains("published measurements of flash2") && checked.contains("median |error|"), qPrintable(checked));
    const int ssd = m.row_of(parse_variant("mamba2"));
    const QString alone = m.data(m.index(ssd, PredictionModel::kTime), Qt::ToolTipRole).toString();
    QVERIFY2(alone.contains("No published measurement of mamba2") && alone.contains("model's alone"), qPrintable(alone));
  }

  // Issue 16: sorting by time gave 868.6 µs, 55.6 ms, 415 ms, ..., n/a, 335.3 µs: the n/a rows split
  // the sort. Every numeric column sorts by value, and rows without one stay last both ways.
  void sortingIsNumericWithNaLastInBothDirections() {
    Session s;
    ASSERT_EMPTY(s.apply_config("mamba-2.8b"));
    Workload w = s.workload();
    w.phase = Phase::decode;
    w.seq = 131072;
    ASSERT_EMPTY(s.set_workload(w));
    std::vector<Variant> all(all_variants().begin(), all_variants().end());
    s.set_selection(all);
    PredictionModel m(&s);
    PredictionSortProxy proxy;
    proxy.setSourceModel(&m);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    for (int col : {int(PredictionModel::kTime), int(PredictionModel::kHbmBytes), int(PredictionModel::kKvCache),
                    int(PredictionModel::kBound)}) {
      for (Qt::SortOrder order : {Qt::AscendingOrder, Qt::DescendingOrder}) {
        proxy.sort(col, order);
        bool seen_none = false;
        double last = order == Qt::AscendingOrder ? -INFINITY : INFINITY;
        int values = 0;
        for (int r = 0; r < proxy.rowCount(); ++r) {
          const QVariant v = proxy.index(r, col).data(kRawRole);
          const bool none = v.typeId() == QMetaType::Double && std::isnan(v.toDouble());
          if (none) {
            seen_none = true;
            continue;
          }
          QVERIFY2(!seen_none, qPrintable(QString("column %1: a value after an n/a row").arg(col)));
          if (v.typeId() != QMetaType::Double) continue;
          ++values;
          QVERIFY(order == Qt::AscendingOrder ? v.toDouble() >= last : v.toDouble() <= last);
          last = v.toDouble();
        }
        QVERIFY(seen_none);  // decode leaves some variants out (chunked, fnet, ring, dilated)
        if (col != int(PredictionModel::kBound)) QVERIFY(values > 5);
      }
    }
  }

  // Issue 16: a measurement followed the table to another GPU (an H100 record beside an A100
  // prediction), decode records stayed unmatched until "causal" was unticked though causal changes
  // nothing in decode, trace points stayed on the chart across phases, and a trace could not be
  // closed. The match is the model's own figures on the trace's device.
  void traceMeasurementsMatchWhatChangesThePredictionOnTheirGpu() {
    Session s;
    PredictionModel m(&s);
    ASSERT_EMPTY(s.open_trace(QString(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl"));
    QVERIFY(s.trace_note().contains("HAND-MADE"));
    QCOMPARE(s.trace_device_key(), QString("h100-sxm"));
    // The fixture's flash-decoding record: batch 8, 4096 cached tokens, 32 heads (8 K/V) of 128.
    Workload w;
    w.phase = Phase::decode;
    w.batch = 8;
    w.seq = 4096;
    w.heads = 32;
    w.kv_heads = 8;
    w.head_dim = 128;
    const Variant fd = parse_variant("flash-decoding");
    auto measured = [&] { return m.data(m.index(m.row_of(fd), PredictionModel::kMeasuredTime), kRawRole).toDouble(); };
    for (bool causal : {false, true}) {  // a decoded token attends to the past either way
      w.causal = causal;
      ASSERT_EMPTY(s.set_workload(w));
      QVERIFY2(measured() > 0, causal ? "causal decode" : "decode");
    }
    // Only decode records show in decode; a prefill workload shows the prefill record only.
    for (const TracePoint* p : s.visible_trace_points()) QCOMPARE(p->phase, Phase::decode);
    QVERIFY(!s.visible_trace_points().empty());
    // Another GPU: no H100 measurement beside an A100 prediction, and no points on its chart.
    s.set_device_key("a100-80gb");
    QVERIFY(std::isnan(measured()));
    QVERIFY(s.visible_trace_points().empty());
    s.set_device_key("h100-sxm");
    QVERIFY(measured() > 0);
    s.close_trace();
    QVERIFY(!s.has_trace());
    QVERIFY(std::isnan(measured()));
    QVERIFY(s.trace_note().isEmpty());
  }

  // Issue 19: a simulate campaign (attnio sweep --simulate --out) opens as a trace whose figures
  // are the tile simulator's, and the table says so in its headers.
  void simulateCampaignOpensWithItsFiguresLabelledSimulated() {
    Session s;
    PredictionModel m(&s);
    QCOMPARE(m.headerData(PredictionModel::kMeasuredTime, Qt::Horizontal, Qt::DisplayRole).toString(), QString("measured time"));
    ASSERT_EMPTY(s.open_trace(QString(ATTNIO_SOURCE_DIR) + "/traces/fixtures/simulate-campaign-h100.jsonl"));
    QVERIFY(s.trace_simulated());
    QCOMPARE(m.headerData(PredictionModel::kMeasuredTime, Qt::Horizontal, Qt::DisplayRole).toString(), QString("simulated time"));
    QVERIFY(m.headerData(PredictionModel::kMeasuredTime, Qt::Horizontal, Qt::ToolTipRole).toString().contains("tile simulator"));
    QVERIFY(!s.visible_trace_points().empty());
    for (const TracePoint* p : s.visible_trace_points()) QVERIFY(p->measured.simulated);
    s.close_trace();
    QVERIFY(!s.trace_simulated());
    QCOMPARE(m.headerData(PredictionModel::kMeasuredTime, Qt::Horizontal, Qt::DisplayRole).toString(), QString("measured time"));
  }

  // Issue 16: Llama-3-8B at batch 8 and 128k context showed a 137 GB KV cache on an 80 GB H100
  // without a word, and the sweep drew standard attention at 262k tokens (S alone about 35 TB).
  void workloadsTheGpuCannotHoldAreMarkedAndNotSwept() {
    Session s;
    ASSERT_EMPTY(s.apply_config("llama-3-8b"));
    Workload w = s.workload();
    w.phase = Phase::decode;
    w.batch = 8;
    w.seq = 131072;
    ASSERT_EMPTY(s.set_workload(w));
    s.set_selection({parse_variant("flash-decoding")});
    PredictionModel m(&s);
    const int row = m.row_of(parse_variant("flash-decoding"));
    // 8 · 131072 tokens · 8 K/V heads · 256 · 2 bytes · 32 layers = 137,438,953,472 bytes of cache.
    QCOMPARE(s.entry(parse_variant("flash-decoding")).prediction.kv_cache_bytes.v, std::uint64_t{137438953472});
    QVERIFY(m.data(m.index(row, PredictionModel::kFootprint), kRawRole).toDouble() > 137e9);
    const QString bound = m.data(m.index(row, PredictionModel::kBound), Qt::DisplayRole).toString();
    QVERIFY2(bound.startsWith("exceeds HBM (137 GB > 85.9 GB)"), qPrintable(bound));
    w.batch = 1;  // 17 GB: fits
    ASSERT_EMPTY(s.set_workload(w));
    QCOMPARE(m.data(m.index(row, PredictionModel::kBound), Qt::DisplayRole).toString(), QString("memory"));

    Session t;
    t.set_selection({parse_variant("standard"), parse_variant("flash2")});
    SweepModel sweep(&t);
    sweep.set_axis(SweepModel::Axis::seq);
    const auto& xs = sweep.axis_values();
    const int standard = 0, flash2 = 1;
    QCOMPARE(sweep.variants()[standard], parse_variant("standard"));
    for (int r = 0; r < sweep.rowCount(); ++r) {
      const double x = xs[static_cast<std::size_t>(r)];
      const bool standard_drawn = sweep.value(r, standard) > 0;
      // Standard attention materializes S and P: 2 · B·H·N²·e grows past 80 GB long before 262k.
      if (x >= 262144) QVERIFY2(!standard_drawn, qPrintable(QString("standard drawn at %1").arg(x)));
      if (x <= 4096) QVERIFY(standard_drawn);
    }
    QVERIFY(sweep.value(sweep.rowCount() - 1, flash2) > 0);  // flash2 at 262k fits
  }

  // Issue 16: the mamba-2.8b preset focused mamba without ticking it, so it appeared in no view.
  void aPresetTicksTheVariantItFocuses() {
    Session s;
    s.set_selection({parse_variant("flash2")});
    ASSERT_EMPTY(s.apply_config("mamba-2.8b"));
    QCOMPARE(s.current(), parse_variant("mamba"));
    QVERIFY(s.selected(parse_variant("mamba")));
    QVERIFY(s.selected(parse_variant("flash2")));  // what was ticked stays ticked
  }

  // Issue 16: the Teach view of standard attention wrote a tensor labelled "C" (A and B unnamed),
  // left S empty, and then read an S it never showed written. Tensors carry the kernels' names, and
  // S and P make their HBM round trip on screen (written by one kernel, read by the next); the same
  // names in chunked attention.
  void teachingNamesTheTensorsAndShowsTheirRoundTrip() {
    Session s;
    for (const char* name : {"standard", "chunked"}) {
      Workload w = s.workload();
      w.variant = parse_variant(name);
      TeachTrace t;
      ASSERT_EMPTY(t.build(s.device(), w, 1000000));
      QVERIFY(!t.truncated());
      const auto& order = t.tensor_order();
      for (const char* tensor : {"Q", "K", "P", "V", "O"}) {
        QVERIFY2(std::find(order.begin(), order.end(), tensor) != order.end(), qPrintable(QString("%1: no %2").arg(name, tensor)));
      }
      for (const char* generic : {"A", "B", "C"}) QVERIFY(std::find(order.begin(), order.end(), generic) == order.end());
      for (const char* trip : std::string(name) == "standard" ? std::vector<const char*>{"S", "P"} : std::vector<const char*>{"P"}) {
        std::size_t first_write = SIZE_MAX, first_read_after = SIZE_MAX;
        for (std::size_t i = 0; i < t.frames().size(); ++i) {
          for (const TeachAccess& a : t.frames()[i].accesses) {
            if (a.tile != trip) continue;
            if (a.write && first_write == SIZE_MAX) first_write = i;
            if (!a.write && first_write != SIZE_MAX && first_read_after == SIZE_MAX) first_read_after = i;
          }
        }
        QVERIFY2(first_write != SIZE_MAX && first_read_after != SIZE_MAX,
                 qPrintable(QString("%1: %2 is not written then read back").arg(name, trip)));
      }
    }
  }

  // Issue 15: the published measurements `attnio validate` checks sit on the roofline, for the
  // implementation the session's number describes, at the source's own rate.
  void publishedPointsAreTheImplementationsOwnRowsAtTheirRates() {
    Session s;
    s.set_device_key("h100-sxm");
    Workload w = s.workload();
    w.phase = Phase::prefill;
    w.pass = Pass::fwd;
    w.dtype = Dtype::fp16;
    ASSERT_EMPTY(s.set_workload(w));
    const Variant flash2 = parse_variant("flash2");
    QCOMPARE(std::string(s.entry(flash2).prediction.impl->key), std::string("fa2"));
    // FlashAttention-3 paper Fig. 5: FlashAttention-2 at B = 2, H = 16, N = 8192, d = 128, not
    // causal. The source counts 4·B·H·N²·d = 1.0995e12 FLOP; its TFLOP/s gives the time, and the
    // point's rate is the model's FLOPs (the same matmuls plus the softmax's) over that time.
    const traces::PublishedTable table = traces::shipped_published();
    const traces::PublishedRow* row = nullptr;
    for (const traces::PublishedRow& r : table.rows) {
      const Workload& rw = r.workload;
      if (r.impl == "fa2" && r.gpu == "h100-sxm" && rw.pass == Pass::fwd && !rw.causal && rw.batch == 2 &&
          rw.seq == 8192 && rw.head_dim == 128 && r.metric == "tflops") {
        row = &r;
      }
    }
    QVERIFY(row);
    const double source_flop = 4.0 * 2 * 16 * 8192.0 * 8192.0 * 128;
    QCOMPARE(source_flop, 1.099511627776e12);
    const double published_s = source_flop / (row->value * 1e12);
    const PublishedPoint* point = nullptr;
    for (const PublishedPoint& p : s.published_points()) {
      if (p.variant != flash2) continue;
      QVERIFY2(p.label.startsWith("fa2 "), qPrintable(p.label));  // fa2's rows only, not fa3's or Triton's
      if (std::abs(p.row.published_s - published_s) < 1e-12 * published_s) point = &p;
    }
    QVERIFY(point);
    const double rate = point->row.flops / point->row.published_s;
    QVERIFY2(rate >= row->value * 1e12 && rate < row->value * 1e12 * 1.02, qPrintable(QString::number(rate)));
    QVERIFY(point->row.predicted_s > 0);
    // Asking for FlashAttention-3 shows FlashAttention-3's rows instead; another GPU, its own.
    w.impl = &find_impl("fa3");
    ASSERT_EMPTY(s.set_workload(w));
    QVERIFY(!s.published_points().empty());
    bool fa3 = false;
    for (const PublishedPoint& p : s.published_points()) {
      if (p.variant != flash2) continue;
      fa3 = true;
      QVERIFY2(p.label.startsWith("fa3 "), qPrintable(p.label));
    }
    QVERIFY(fa3);
    w.impl = nullptr;
    ASSERT_EMPTY(s.set_workload(w));
    s.set_device_key("a100-80gb");
    QVERIFY(!s.published_points().empty());
    // The A100 rows of FlashAttention-2's own paper are there; the H100 chart's are not.
    bool fa2_paper = false;
    for (const PublishedPoint& p : s.published_points()) {
      fa2_paper = fa2_paper || p.label.contains("FlashAttention-2 (arXiv 2307.08691v1)");
      QVERIFY2(!p.label.contains("flash3_fp16_fwd.png"), qPrintable(p.label));
    }
    QVERIFY(fa2_paper);
    // A device the table has nothing for shows none.
    s.set_device_key("l40s");
    QVERIFY(s.published_points().empty());
  }

  void ridgePointsAreTheHandNumbers() {
    // H100 SXM datasheet: 989.4 TFLOP/s bf16 dense, 3.35 TB/s HBM3, 66.9 TFLOP/s FP32.
    // Williams et al. §2: ridge = peak / bandwidth = 989.4e12 / 3.35e12 = 295.343 FLOP/byte, and
    // 66.9e12 / 3.35e12 = 19.970 FLOP/byte for FP32.
    const auto ceilings = roof_ceilings(find_device("h100-sxm"), Dtype::bf16);
    QCOMPARE(ceilings.size(), std::size_t{6});
    const auto ridges = ridge_points(ceilings);
    bool hbm_tensor = false, hbm_fp32 = false;
    for (const auto& r : ridges) {
      if (r.name == "HBM / Tensor (bf16)") {
        QVERIFY(std::abs(r.intensity - 295.343) < 1e-3);
        QCOMPARE(r.flops_per_s, 989.4e12);
        hbm_tensor = true;
      }
      if (r.name == "HBM / FP32") {
        QVERIFY(std::abs(r.intensity - 19.970) < 1e-3);
        hbm_fp32 = true;
      }
    }
    QVERIFY(hbm_tensor && hbm_fp32);
    // fa2's roof on the H100: mma.sync sustains 0.5963 of 989.4 TFLOP/s = 590.0 TFLOP/s; HBM
    // sustains the STREAM 2.97 TB/s; fa3's wgmma 0.8796: 870.3 TFLOP/s. ideal has none.
    const auto fa2 = achievable_roofs(find_device("h100-sxm"), Dtype::bf16, &find_impl("fa2"));
    QCOMPARE(fa2.size(), std::size_t{2});
    QVERIFY(std::abs(fa2[0].value - 989.4e12 * 0.5963) < 1e6);
    QCOMPARE(fa2[1].value, 2.97e12);
    QVERIFY(std::abs(achievable_roofs(find_device("h100-sxm"), Dtype::bf16, &find_impl("fa3"))[0].value - 989.4e12 * 0.8796) < 1e6);
    QVERIFY(achievable_roofs(find_device("h100-sxm"), Dtype::bf16, &ideal_impl()).empty());
    // vLLM's PagedAttention does its dot products on the CUDA cores: its roof is the FP32 lanes',
    // 128 x 132 SMs x 1.83 GHz x 2 FLOPs = 61.84 TFLOP/s, not an MMA path's.
    const auto vllm = achievable_roofs(find_device("h100-sxm"), Dtype::bf16, &find_impl("vllm-paged"));
    QCOMPARE(vllm[0].ceiling, Ceiling::fp32);
    QVERIFY(std::abs(vllm[0].value - 128.0 * 132 * 1.83e9 * 2) < 1e6);
    // A point: 2 TFLOP over 1 GB of HBM in 4 ms sits at 2000 FLOP/byte and 500 TFLOP/s.
    Prediction p;
    p.tensor_flops = 2'000'000'000'000ull;
    p.hbm_read_bytes = 1'000'000'000ull;
    p.predicted_time_s = 4e-3;
    const RoofPoint rp = roof_point(p);
    QCOMPARE(rp.intensity, 2000.0);
    QCOMPARE(rp.flops_per_s, 5e14);
    const RoofPoint mp = measured_point(p, 2e9, 8e-3);
    QCOMPARE(mp.intensity, 1000.0);
    QCOMPARE(mp.flops_per_s, 2.5e14);
  }

  void sweepCrossingsAreWhereTheVerdictFlips() {
    Session s;
    QVERIFY(s.set_workload(Workload{}).isEmpty());  // one sequence, MHA, no mask
    SweepModel m(&s);
    int total = 0;
    for (int c = 0; c < m.columnCount(); ++c) {
      int flips = 0;
      std::optional<bool> prev;
      for (int r = 0; r < m.rowCount(); ++r) {
        const QVariant mem = m.data(m.index(r, c), kMemoryBoundRole);
        if (!mem.isValid()) continue;
        if (prev && *prev != mem.toBool()) ++flips;
        prev = mem.toBool();
      }
      const auto crossings = m.crossings(c);
      QCOMPARE(static_cast<int>(crossings.size()), flips);
      total += flips;
    }
    // flash1 at d=128 turns compute-bound past the L2 and back to HBM-bound as N grows: the check
    // above is not vacuous on this workload.
    QVERIFY(total > 0);
  }

  void teachingTraceAddsUpToTheSimulator() {
    Session s;
    Workload w = s.workload();
    w.variant = parse_variant("flash2");
    w.causal = true;
    TeachTrace t;
    QVERIFY(t.build(s.device(), w, 1000000).isEmpty());
    QVERIFY(!t.frames().empty());
    QVERIFY(!t.truncated());
    SimOptions o;
    o.l2_sample = 1;
    const SimResult r = simulate(s.device(), t.workload(), o);
    const TeachFrame& last = t.frames().back();
    QCOMPARE(last.l2_bytes, (r.l2_read_bytes + r.l2_write_bytes).d());
    QCOMPARE(t.tensor_order().front(), std::string("Q"));  // FA2 loads its Q tile first
    QVERIFY(!t.resident(5).empty());
    // Frames beyond the cap are dropped and say so.
    TeachTrace small;
    QVERIFY(small.build(s.device(), w, 10).isEmpty());
    QCOMPARE(small.frames().size(), std::size_t{10});
    QVERIFY(small.truncated());
    // A variant without a tile schedule gives the simulator's reason.
    w.variant = parse_variant("fnet");
    w.causal = false;
    const QString why = t.build(s.device(), w);
    QVERIFY2(why.contains("no tile schedule"), qPrintable(why));
    QVERIFY(t.frames().empty());
  }

  void tracesOpenOrLeaveTheSessionAsItWas() {
    Session s;
    const QString bad = QDir::temp().filePath("attnio_gui_bad_trace.jsonl");
    {
      QFile f(bad);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("{\"format\": \"attnio-trace\", \"version\": 1}\n{not json\n");
    }
    const std::size_t devices = s.devices().size();
    const QString e = s.open_trace(bad);
    QVERIFY2(e.contains("line"), qPrintable(e));
    QVERIFY(!s.has_trace());
    QCOMPARE(s.devices().size(), devices);
    QVERIFY(s.open_trace(QString(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl").isEmpty());
    QVERIFY(s.has_trace());
    QVERIFY(!s.trace_points().empty());
  }

  void theTableShowsTheMeasurementOfTheSameWorkload() {
    Session s;
    PredictionModel m(&s);
    QVERIFY(s.open_trace(QString(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl").isEmpty());
    // The fixture's first record: flash2, one sequence of 4096, 32 heads of 128, causal, bf16.
    Workload w;
    w.batch = 1;
    w.seq = 4096;
    w.heads = 32;
    w.head_dim = 128;
    w.causal = true;
    QVERIFY(s.set_workload(w).isEmpty());
    const int row = m.row_of(parse_variant("flash2"));
    const double measured = m.data(m.index(row, PredictionModel::kMeasuredHbm), kRawRole).toDouble();
    const double predicted = m.data(m.index(row, PredictionModel::kHbmBytes), kRawRole).toDouble();
    const double err = m.data(m.index(row, PredictionModel::kHbmError), kRawRole).toDouble();
    QVERIFY(measured > 0);
    QVERIFY(std::abs(err - 100 * (predicted - measured) / measured) < 1e-9);
    QVERIFY(m.data(m.index(row, PredictionModel::kMeasuredTime), kRawRole).toDouble() > 0);
    // Another shape has no measurement: the cells stay empty rather than borrowing one.
    w.seq = 8192;
    QVERIFY(s.set_workload(w).isEmpty());
    QVERIFY(std::isnan(m.data(m.index(row, PredictionModel::kMeasuredHbm), kRawRole).toDouble()));
  }

  // The Model view's data (issue 17): Jamba against Mixtral, decode at batch 1. Bars are
  // context-major; each is evaluate_stack() of that model; Mixtral's cache read overtakes its
  // weights at 256k, Jamba's never does; focusing a layer type puts its mixer in the session.
  void modelViewBarsAreTheStackModel() {
    Session s;
    StackChart chart(&s);
    QSignalSpy spy(&chart, &StackChart::changed);
    QCOMPARE(chart.configs().size(), std::size_t{2});
    QVERIFY(chart.set_contexts("4096,262144").isEmpty());
    QCOMPARE(spy.count(), 1);
    QCOMPARE(chart.bars().size(), std::size_t{4});
    QCOMPARE(chart.bars()[1].model, 1);
    QCOMPARE(chart.bars()[2].context, std::uint64_t{262144});
    Workload w = find_config("mixtral-8x7b").apply(Workload{});
    w.phase = Phase::decode;
    w.batch = 1;
    w.seq = w.kv_len = 262144;
    w.causal = true;
    const StackCost direct = evaluate_stack(s.device(), find_config("mixtral-8x7b"), w);
    QCOMPARE(chart.bars()[3].cost.time_s, direct.time_s);
    QCOMPARE(chart.bars()[3].cost.kv_cache_bytes, 131072.0 * 262144);
    QCOMPARE(chart.crossing(1), std::uint64_t{262144});
    QCOMPARE(chart.crossing(0), std::uint64_t{0});
    // Focus: Jamba's SSM part is its Mamba mixer of 28 layers; MLP has no mixer.
    QVERIFY(chart.focus(0, StackGroup::ssm));
    QCOMPARE(s.current(), parse_variant("mamba"));
    QCOMPARE(s.workload().layers, std::uint64_t{28});
    QVERIFY(chart.focus(1, StackGroup::attention));
    QCOMPARE(s.current(), parse_variant("flash2"));
    QCOMPARE(s.workload().kv_heads, std::uint64_t{8});
    QVERIFY(!chart.focus(1, StackGroup::mlp));
    // Bad input leaves the chart as it was.
    QVERIFY(chart.set_configs({"no-such-model"}).contains("cannot open"));
    QVERIFY(chart.set_contexts("0").contains("context"));
    QCOMPARE(chart.configs().size(), std::size_t{2});
    QVERIFY(chart.set_configs({"nemotron-h-8b"}).isEmpty());
    QCOMPARE(chart.bars().size(), std::size_t{2});
    QVERIFY(chart.bars()[0].cost.time_of(StackGroup::ssm) > 0);
    // A device change re-costs the bars.
    const double before = chart.bars()[0].cost.time_s;
    s.set_device_key("a100-80gb");
    QVERIFY(chart.bars()[0].cost.time_s != before);
  }
};

QTEST_GUILESS_MAIN(GuiModels)
#include "test_gui_models.moc"
