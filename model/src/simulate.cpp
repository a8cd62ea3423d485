// The engine that replays the tile schedules of the variants (model/src/variants/, built with the
// vocabulary of engine/schedule.hpp) through per-SM SRAM, a shared L2 and HBM.
#include "attnio/model/simulate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <functional>
#include <vector>

#include "attnio/model/l2cache.hpp"
#include "engine/schedule.hpp"

namespace attnio {

namespace {

using namespace detail;

// ---- the engine -----------------------------------------------------------------------------

// Time: each SM's clock advances by its steps' on-chip work (tensor, FP32, SFU, shared memory) at
// its 1/SMs share of the device, and by the step's L2 and DRAM bytes at the same share. The SM
// with the smallest clock steps next, so CTAs interleave in time order and a slow CTA falls
// behind. L2 and DRAM bandwidth are shared by all SMs: a kernel takes at least its L2 bytes over
// the L2 bandwidth and its DRAM bytes over the HBM bandwidth, whatever the SMs' clocks say.
class Engine {
public:
  Engine(const Device& dev, const Workload& w, const SimOptions& opt, const AddressSpace& as, u64 est_lines)
      : dev_(dev), w_(w), opt_(opt), as_(as) {
    if (opt.l2_ways == 0) throw InputError("--l2-ways must be at least 1");
    if (w.l2) {
      std::uint32_t sample = opt.l2_sample;
      if (sample == 0) sample = auto_l2_sample(est_lines);
      l2_.emplace_back(static_cast<u64>(dev.l2_bytes), opt.l2_ways, sample);
    }
    if (!opt.trace_out.empty()) {
      trace_.open(opt.trace_out);
      if (!trace_) throw InputError("--trace-out '" + opt.trace_out + "': cannot write");
      trace_ << "# attnio simulate: one line per tile access; CTAs sampled (every k-th, per kernel) and at most "
             << kMaxTraceEvents << " lines; hit/miss in 32-byte sectors, scaled by the L2 set sample "
             << (l2_.empty() ? 1 : l2_[0].sample()) << "\n";
      trace_ << "kernel,cta,sm,step,tile,addr,bytes,rows,write,hit_sectors,miss_sectors\n";
    }
    if (!opt.chrome_trace.empty()) {
      chrome_.open(opt.chrome_trace);
      if (!chrome_) throw InputError("--chrome-trace '" + opt.chrome_trace + "': cannot write");
      chrome_ << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
      chrome_.setf(std::ios::fixed);
      chrome_.precision(3);
    }
  }
  ~Engine() {
    if (chrome_.is_open()) chrome_ << "\n]}\n";  // valid JSON even when a schedule threw
  }

  void check_sram(const SimKernel& k) const {
    u64 used = 0;
    for (const auto& [tile, bytes] : k.smem) {
      used += bytes;
      if (used > w_.sram_bytes) {
        throw InputError(k.name + ": tile " + tile + " (" + std::to_string(bytes) + " bytes) does not fit: " +
                         std::to_string(used) + " bytes of tiles exceed SRAM M = " + std::to_string(w_.sram_bytes));
      }
    }
  }

  void run(const SimKernel& k) {
    check_sram(k);
    u64 smem = 0;
    for (const auto& t : k.smem) smem += t.second;
    // Occupancy: shared memory per SM over the CTA's tiles; kernels without tiles in shared memory
    // run 8 CTAs of 256 threads per SM (tile_traits.hpp).
    const u64 per_sm = smem == 0 ? traits::kSmallCtasPerSm
                                 : std::clamp<u64>(static_cast<u64>(dev_.smem_bytes_per_sm / static_cast<double>(smem)), 1, 32);
    const u64 sms = static_cast<u64>(dev_.sm_count);
    const u64 slots = min_u(sms * per_sm, k.ctas);
    const u64 trace_every = ceil_div(k.ctas, 4096);

    struct Slot {
      u64 cta = 0, step = 0, sm = 0;
      double busy = 0;  // the CTA's own time so far
      bool active = false;
      std::vector<Step> steps;
    };
    std::vector<Slot> slot(slots);
    std::vector<double> clock(sms, 0.0);
    std::vector<std::vector<u64>> on_sm(sms);
    std::vector<u64> turn(sms, 0);
    u64 next = 0;
    auto issue = [&](Slot& s) {
      s.active = next < k.ctas;
      if (!s.active) return;
      s.cta = next++;
      s.step = 0;
      s.busy = 0;
      s.steps.clear();
      k.program(s.cta, s.steps);
      ++ctas_;
    };
    for (u64 i = 0; i < slots; ++i) {
      slot[i].sm = i % sms;
      on_sm[i % sms].push_back(i);
      issue(slot[i]);
    }
    const double share = 1.0 / static_cast<double>(sms);
    // The SM's peaks at a locked clock (Device::locked_clock_hz), as the roofline takes them.
    const double f = dev_.locked_clock_scale();
    const double seconds_per_unit[6] = {1 / (dev_.tensor_rate(w_.dtype) * f * share), 1 / (dev_.fp32_rate() * f * share),
                                        1 / (dev_.sfu_rate() * f * share),          1 / (dev_.sram_bytes_per_s * f * share),
                                        1 / (dev_.l2_rate() * share),               1 / (dev_.hbm_rate() * share)};
    std::vector<std::pair<double, u64>> heap;  // (clock, sm), smallest first
    for (u64 m = 0; m < min_u(sms, slots); ++m) heap.emplace_back(0.0, m);
    auto later = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second > b.second); };
    std::make_heap(heap.begin(), heap.end(), later);
    double kernel_l2 = 0, kernel_dram = 0;
    std::vector<std::string> events;

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const u64 m = heap.back().second;
      heap.pop_back();
      // The SM's resident CTAs take turns.
      Slot* s = nullptr;
      for (u64 tries = 0; tries < on_sm[m].size() && !s; ++tries) {
        Slot& c = slot[on_sm[m][turn[m]++ % on_sm[m].size()]];
        if (c.active) s = &c;
      }
      if (!s) continue;  // the SM has no work left
      double t = 0;
      if (s->step < s->steps.size()) {
        const Step& st = s->steps[s->step];
        const bool traced = trace_.is_open() && s->cta % trace_every == 0 && trace_events_ < kMaxTraceEvents;
        double l2_bytes = 0, requested = 0;
        const u64 dram_before = dram();
        for (int a = 0; a < st.n; ++a) {
          const Access& ac = st.acc[a];
          L2Cache::Traffic tr;
          for (u64 r = 0; opt_.check_bounds && r < ac.rows; ++r) {
            const u64 addr = ac.addr + r * ac.stride;
            if (!as_.inside_one(addr, ac.bytes)) {
              throw InputError("internal: " + k.name + " tile " + ac.tile + " at " + std::to_string(addr) +
                               " (+" + std::to_string(ac.bytes) + ") leaves its tensor (a bug in attnio)");
            }
          }
          if (!l2_.empty()) tr = l2_[0].access_rows(ac.addr, ac.bytes, ac.rows, ac.stride, ac.write);
          const u64 bytes = ac.bytes * ac.rows;
          if (l2_.empty()) (ac.write ? direct_write_ : direct_read_) += bytes;
          (ac.write ? l2_write_ : l2_read_) += bytes;
          if (!ac.write) {
            hit_sectors_ += tr.hit_sectors;
            read_sectors_ += tr.hit_sectors + tr.miss_sectors;
          }
          l2_bytes += static_cast<double>(bytes);
          requested += static_cast<double>(bytes);
          if (opt_.on_access) {
            opt_.on_access({k.name, ac.tile, s->cta, s->sm, s->step, ac.addr, ac.bytes, ac.rows, ac.stride, ac.write,
                            tr.hit_sectors, tr.miss_sectors, clock[m]});
          }
          if (traced) {
            trace_ << k.name << ',' << s->cta << ',' << s->sm << ',' << s->step << ',' << ac.tile << ',' << ac.addr << ','
                   << ac.bytes << ',' << ac.rows << ',' << (ac.write ? 1 : 0) << ',' << tr.hit_sectors << ','
                   << tr.miss_sectors << '\n';
            ++trace_events_;
          }
        }
        // With the L2 off every requested byte is a DRAM byte.
        const double dram_bytes = l2_.empty() ? requested : static_cast<double>(dram() - dram_before);
        kernel_l2 += l2_bytes;
        kernel_dram += dram_bytes;
        const double work[6] = {st.tensor, st.fp32, st.sfu, st.sram, l2_bytes, dram_bytes};
        for (int c = 0; c < 6; ++c) t = std::max(t, work[c] * seconds_per_unit[c]);
        ++steps_;
        ++s->step;
      }
      clock[m] += t;
      s->busy += t;
      if (s->step >= s->steps.size()) {
        if (chrome_.is_open() && s->cta % trace_every == 0 && chrome_events_ < kMaxTraceEvents) {
          std::ostringstream ev;
          ev.setf(std::ios::fixed);
          ev.precision(3);
          ev << "{\"name\":\"" << k.name << " cta " << s->cta << "\",\"ph\":\"X\",\"pid\":" << kernel_index_
             << ",\"tid\":" << (s - slot.data()) << ",\"ts\":" << (clock[m] - s->busy) * 1e6 << ",\"dur\":" << s->busy * 1e6
             << ",\"args\":{\"sm\":" << s->sm << "}}";
          events.push_back(ev.str());
          ++chrome_events_;
        }
        issue(*s);
      }
      if (std::any_of(on_sm[m].begin(), on_sm[m].end(), [&](u64 i) { return slot[i].active; })) {
        heap.emplace_back(clock[m], m);
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
    const double sm_time = *std::max_element(clock.begin(), clock.end());
    const double kernel_time = std::max({sm_time, kernel_l2 / dev_.l2_rate(), kernel_dram / dev_.hbm_rate()});
    // The chrome timeline stretches when the shared L2 or DRAM bandwidth, not the SMs, set the pace.
    const double stretch = sm_time > 0 ? kernel_time / sm_time : 1.0;
    for (const std::string& ev : events) chrome_ << (chrome_written_++ ? ",\n" : "") << rescale(ev, stretch, time_);
    time_ += kernel_time + static_cast<double>(k.launches) * dev_.launch_overhead_s;
    ++kernel_index_;
  }

  void finish(SimResult& r) {
    if (!l2_.empty()) l2_[0].flush();
    const u64 layers = w_.layers;
    r.hbm_read_bytes = Count(l2_.empty() ? direct_read_ : l2_[0].dram_read_bytes()) * layers;
    r.hbm_write_bytes = Count(l2_.empty() ? direct_write_ : l2_[0].dram_write_bytes()) * layers;
    r.l2_read_bytes = Count(l2_read_) * layers;
    r.l2_write_bytes = Count(l2_write_) * layers;
    r.l2_hit_rate = read_sectors_ == 0 ? 0.0 : static_cast<double>(hit_sectors_) / static_cast<double>(read_sectors_);
    r.time_s = time_ * static_cast<double>(layers);
    r.ctas = ctas_;
    r.steps = steps_;
    r.l2_sample = l2_.empty() ? 1 : l2_[0].sample();
  }

private:
  static constexpr u64 kMaxTraceEvents = 2'000'000;

  u64 dram() const { return l2_.empty() ? 0 : l2_[0].dram_read_bytes() + l2_[0].dram_write_bytes(); }

  // An event recorded in SM time, moved to the kernel's place on the timeline and stretched.
  static std::string rescale(const std::string& ev, double stretch, double offset) {
    auto number_after = [&](const char* key) {
      const auto p = ev.find(key) + std::string(key).size();
      return std::pair<std::size_t, double>{p, std::stod(ev.substr(p))};
    };
    const auto [ts_at, ts] = number_after("\"ts\":");
    const auto [dur_at, dur] = number_after("\"dur\":");
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(3);
    out << ev.substr(0, ts_at) << ts * stretch + offset * 1e6 << ",\"dur\":" << dur * stretch << ev.substr(ev.find(',', dur_at));
    return out.str();
  }

  const Device& dev_;
  const Workload& w_;
  const SimOptions& opt_;
  const AddressSpace& as_;
  std::vector<L2Cache> l2_;  // empty with the L2 off
  std::ofstream trace_, chrome_;
  u64 chrome_events_ = 0, chrome_written_ = 0, trace_events_ = 0;
  u64 direct_read_ = 0, direct_write_ = 0, l2_read_ = 0, l2_write_ = 0;
  u64 hit_sectors_ = 0, read_sectors_ = 0, ctas_ = 0, steps_ = 0;
  int kernel_index_ = 0;
  double time_ = 0;
};

}  // namespace

Workload with_kernel_tiles(Workload w) {
  if (w.variant->kernel_tiles) w.variant->kernel_tiles(w);
  return w;
}

std::uint32_t auto_l2_sample(std::uint64_t est_lines) {
  // The smallest prime sample that keeps the simulated line visits near 2^23.
  std::uint32_t sample = 1;
  for (std::uint32_t p : {7u, 13u, 31u, 61u, 127u, 251u, 509u, 1021u}) {
    if (est_lines / sample <= (u64{1} << 23)) break;
    sample = p;
  }
  return sample;
}

double simulation_work(const Device& device, const Workload& input, const SimOptions&) {
  if (!input.variant->schedule) throw InputError("simulate: " + std::string(input.variant->no_schedule));
  const Prediction p = predict(device, with_kernel_tiles(input));
  return static_cast<double>(p.sram_bytes().v) / static_cast<double>(p.workload.layers);
}

SimResult simulate(const Device& device, const Workload& input, const SimOptions& options) {
  if (!input.variant->schedule) throw InputError("simulate: " + std::string(input.variant->no_schedule));
  // The simulated L2 starts empty; a dirty start's write-backs are the closed form's (predict.cpp).
  if (input.dirty_l2) throw InputError("simulate: --l2-start dirty is counted by predict only; the simulated L2 starts clean");
  if (input.accumulate_grads) throw InputError("simulate: --grads accumulate is counted by predict only; the simulator runs the attention kernels alone");
  SimResult r;
  r.formula = predict(device, with_kernel_tiles(input));
  const Workload& w = r.formula.workload;
  std::vector<SimKernel> kernels;
  AddressSpace as;
  Scheduler scheduler(device, r.formula, as, kernels);
  w.variant->schedule(scheduler);
  Engine engine(device, w, options, as, r.formula.l2_bytes().v / w.layers / L2Cache::kLineBytes);
  for (const SimKernel& k : kernels) engine.run(k);
  engine.finish(r);
  return r;
}

}  // namespace attnio
