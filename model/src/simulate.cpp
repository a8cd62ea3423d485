// Tile schedules of every kernel family and the engine that replays them. Each schedule mirrors
// the closed form in predict.cpp tile for tile, with addresses: the same CTAs in the same grid
// order, the same visited blocks (plan.hpp), the same bytes per tile. Tensor layouts are row-major
// and contiguous: Q [B][H][N][d], K [B][Hkv][Nk][d], V [B][Hkv][Nk][dv], O [B][H][N][dv], fp32
// statistics [B][H][N].
#include "attnio/model/simulate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <functional>
#include <vector>

#include "attnio/model/l2cache.hpp"
#include "attnio/model/tile_traits.hpp"
#include "plan.hpp"

namespace attnio {

namespace {

using namespace detail;
using traits::kDecodeRowTile;
using traits::kElemsPerCta;
using traits::kGemmTile;
using traits::kGemmTileK;
using traits::kSmallCtasPerSm;
constexpr u64 kStat = 4;

// ---- steps and kernels ----------------------------------------------------------------------

// `rows` segments of `bytes`, `stride` apart (a 2D tile of a row-major tensor), read or written.
struct Access {
  u64 addr, stride;
  std::uint32_t bytes, rows;
  const char* tile;
  bool write;
};

// One iteration of a kernel's loop: the tiles it moves and the work it does.
struct Step {
  Access acc[8];
  int n = 0;
  float tensor = 0, fp32 = 0, sfu = 0, sram = 0;
  void read(const char* tile, u64 addr, u64 bytes, u64 rows = 1, u64 stride = 0) { add(tile, addr, bytes, rows, stride, false); }
  void write(const char* tile, u64 addr, u64 bytes, u64 rows = 1, u64 stride = 0) { add(tile, addr, bytes, rows, stride, true); }
  void add(const char* tile, u64 addr, u64 bytes, u64 rows, u64 stride, bool w) {
    if (n == 8) throw InputError("internal: too many tiles in one simulated step (a bug in attnio)");
    if (bytes >= (u64{1} << 32) || rows >= (u64{1} << 32)) {
      throw InputError("simulate: a tile of " + std::to_string(bytes) + " bytes x " + std::to_string(rows) +
                       " rows is too large to simulate; use predict");
    }
    if (bytes != 0 && rows != 0) {
      acc[n++] = {addr, stride, static_cast<std::uint32_t>(bytes), static_cast<std::uint32_t>(rows), tile, w};
    }
  }
};

using Program = std::function<void(u64 cta, std::vector<Step>&)>;

struct SimKernel {
  std::string name;
  u64 ctas = 1;
  std::vector<std::pair<std::string, u64>> smem;  // tiles the CTA holds in SRAM at once
  u64 launches = 1;
  Program program;
};

// Tensors get disjoint address ranges; bases are staggered by a few lines so that equally sized
// tensors do not all start in L2 set 0. The ranges are kept so that tests can check that every
// tile a schedule touches lies inside one tensor.
class AddressSpace {
public:
  u64 alloc(Count bytes) {
    const u64 base = next_;
    ranges_.push_back({base, base + bytes.v});
    next_ = ((next_ + bytes.v + 4095) / 4096) * 4096 + 128 * (5 + 3 * ranges_.size() % 29);
    return base;
  }
  bool inside_one(u64 addr, u64 bytes) const {
    for (const auto& [lo, hi] : ranges_) {
      if (addr >= lo && addr + bytes <= hi) return true;
    }
    return false;
  }

private:
  u64 next_ = u64{1} << 20;
  std::vector<std::pair<u64, u64>> ranges_;
};

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
      if (sample == 0) {  // the smallest prime sample that keeps the simulated line visits near 2^23
        sample = 1;
        for (std::uint32_t p : {7u, 13u, 31u, 61u, 127u, 251u, 509u, 1021u}) {
          if (est_lines / sample <= (u64{1} << 23)) break;
          sample = p;
        }
      }
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
    const double seconds_per_unit[6] = {1 / (dev_.tensor_rate(w_.dtype) * share), 1 / (dev_.fp32_rate() * share),
                                        1 / (dev_.sfu_rate() * share),          1 / (dev_.sram_bytes_per_s * share),
                                        1 / (dev_.l2_rate() * share),           1 / (dev_.hbm_rate() * share)};
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

// ---- building blocks ------------------------------------------------------------------------

struct Shape {
  u64 batch, heads, kv_heads, n, nk, d, dv;
  u64 group() const { return heads / kv_heads; }
};

// A matrix operand: element (r, c) of an R x C matrix at base + (r*C + c)*e (row-major) or
// base + (c*R + r)*e (stored transposed). `batch_stride` separates the batch's problems.
struct Operand {
  u64 base, rows, cols, batch_stride;
  bool transposed;
  void tile(Step& st, const char* name, u64 batch, u64 r0, u64 r1, u64 c0, u64 c1, u64 e, bool write) const {
    const u64 b = base + batch * batch_stride;
    if (!transposed) st.add(name, b + (r0 * cols + c0) * e, (c1 - c0) * e, r1 - r0, cols * e, write);
    else st.add(name, b + (c0 * rows + r0) * e, (r1 - r0) * e, c1 - c0, rows * e, write);
  }
};

// C = A B over `batch` problems, 128 x 128 output tiles walking K in slices of 32 (tile_traits.hpp).
SimKernel gemm(std::string name, u64 batch, u64 m, u64 n, u64 k, u64 e, u64 c_bytes, Operand a, Operand b, Operand c) {
  const u64 tm = ceil_div(m, kGemmTile), tn = ceil_div(n, kGemmTile);
  SimKernel g;
  g.name = std::move(name);
  g.ctas = (Count(batch) * tm * tn).v;
  g.smem = {{"A tile", kGemmTile * kGemmTileK * e * traits::kGemmStages}, {"B tile", kGemmTileK * kGemmTile * e * traits::kGemmStages}};
  g.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 j = cta % tn, i = (cta / tn) % tm, p = cta / (tm * tn);
    const u64 r0 = i * kGemmTile, r1 = min_u(m, r0 + kGemmTile), c0 = j * kGemmTile, c1 = min_u(n, c0 + kGemmTile);
    for (u64 k0 = 0; k0 < k; k0 += kGemmTileK) {
      const u64 k1 = min_u(k, k0 + kGemmTileK);
      Step st;
      a.tile(st, "A", p, r0, r1, k0, k1, e, false);
      b.tile(st, "B", p, k0, k1, c0, c1, e, false);
      st.tensor = 2.0 * static_cast<double>((r1 - r0) * (c1 - c0) * (k1 - k0));
      st.sram = static_cast<double>(((r1 - r0) + (c1 - c0)) * (k1 - k0) * e) * (1 + traits::kGemmWarpsPerOperand);
      steps.push_back(st);
    }
    Step out;
    c.tile(out, "C", p, r0, r1, c0, c1, c_bytes, true);
    steps.push_back(out);
  };
  return g;
}

// An elementwise or row-wise pass over `elements`: CTAs of 1024 elements, each reading its elements
// of every input stream and writing its elements of every output stream (bytes per element given).
struct Stream {
  u64 base, elem_bytes;
  bool write;
  const char* tile;
};
SimKernel elementwise(std::string name, Count elements, std::vector<Stream> streams, double fp32_per_elem, double sfu_per_elem) {
  SimKernel k;
  k.name = std::move(name);
  k.ctas = ceil_div(elements.v, kElemsPerCta);
  const u64 total = elements.v;
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 e0 = cta * kElemsPerCta, count = min_u(total, e0 + kElemsPerCta) - e0;
    Step st;
    for (const Stream& s : streams) st.add(s.tile, s.base + e0 * s.elem_bytes, count * s.elem_bytes, 1, 0, s.write);
    st.fp32 = fp32_per_elem * static_cast<double>(count);
    st.sfu = sfu_per_elem * static_cast<double>(count);
    steps.push_back(st);
  };
  return k;
}

// ---- FlashAttention -------------------------------------------------------------------------

struct FlashBuffers {
  u64 q, k, v, o, lse;  // forward
  u64 dout, dq_acc, delta, dq, dk_exp, dv_exp, dk, dv, l, m;
};


struct FlashGeometry {
  Shape s;
  Mask mask;
  u64 br, bc, tr, tc, e;
  double density;
  bool sigmoid;
  u64 rows(u64 i) const { return min_u(s.n, (i + 1) * br) - i * br; }
  u64 cols(u64 j) const { return min_u(s.nk, (j + 1) * bc) - j * bc; }
  bool visited(u64 i, u64 j) const {
    const BlockRange r = visited_blocks(mask, i * br, i * br + rows(i), s.nk, bc);
    return !r.empty() && j >= r.first && j <= r.last && traits::block_sparse_keep(density, i, j, tc);
  }
  // Keys in at least one visited block (as make_plan's `touched`): the blocks from the first to the
  // last visited one.
  BlockRange touched() const {
    BlockRange all;
    for (u64 i = 0; i < tr; ++i) {
      const BlockRange r = visited_blocks(mask, i * br, i * br + rows(i), s.nk, bc);
      if (r.empty()) continue;
      all.first = all.empty() ? r.first : std::min(all.first, r.first);
      all.last = all.empty() ? r.last : std::max(all.last, r.last);
      if (all.first > all.last) all = r;
    }
    return all;
  }
  // flash-attention's layouts: Q, O [B][N][H][width] and K, V [B][Nk][Hkv][width], so a tile of
  // rows is `rows` segments of width·e bytes, H·width·e apart; statistics are [B][H][N] fp32.
  u64 q_addr(u64 base, u64 b, u64 h, u64 r, u64 width) const { return base + ((b * s.n + r) * s.heads + h) * width * e; }
  u64 kv_addr(u64 base, u64 b, u64 kvh, u64 key, u64 width) const { return base + ((b * s.nk + key) * s.kv_heads + kvh) * width * e; }
  u64 q_stride(u64 width) const { return s.heads * width * e; }
  u64 kv_stride(u64 width) const { return s.kv_heads * width * e; }
  u64 stat_addr(u64 base, u64 b, u64 h, u64 r) const { return base + ((b * s.heads + h) * s.n + r) * kStat; }
  void q_tile(Step& st, const char* name, u64 base, u64 b, u64 h, u64 r0, u64 rows, u64 width, bool write) const {
    st.add(name, q_addr(base, b, h, r0, width), width * e, rows, q_stride(width), write);
  }
  void kv_tile(Step& st, const char* name, u64 base, u64 b, u64 kvh, u64 k0, u64 keys, u64 width, bool write) const {
    st.add(name, kv_addr(base, b, kvh, k0, width), width * e, keys, kv_stride(width), write);
  }
  // dK/dV of query head h: with GQA into the expanded [B][Nk][H][width] buffers (flash-attention's
  // dk_expanded), else straight into dK/dV.
  void dkv_tile(Step& st, const char* name, u64 expanded, u64 direct, u64 b, u64 h, u64 k0, u64 keys, u64 width) const {
    if (s.group() == 1) {
      kv_tile(st, name, direct, b, h, k0, keys, width, true);
    } else {
      st.add(name, expanded + ((b * s.nk + k0) * s.heads + h) * width * e, width * e, keys, s.heads * width * e, true);
    }
  }
};

void flash2_forward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  SimKernel k;
  k.name = g.sigmoid ? "flash_sigmoid_fwd" : "flash2_fwd";
  k.ctas = (Count(s.batch) * s.heads * g.tr).v;
  k.smem = {{"Q", min_u(g.br, s.n) * s.d * g.e}, {"K", min_u(g.bc, s.nk) * s.d * g.e}, {"V", min_u(g.bc, s.nk) * s.dv * g.e}};
  k.program = [g, buf](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 i = cta % g.tr, b = (cta / g.tr) % s.batch, h = cta / (g.tr * s.batch), kvh = h / s.group();
    const u64 rows = g.rows(i);
    Step first;
    g.q_tile(first, "Q", buf.q, b, h, i * g.br, rows, s.d, false);
    steps.push_back(first);
    const BlockRange r = visited_blocks(g.mask, i * g.br, i * g.br + rows, s.nk, g.bc);
    // flash-attention walks the K/V blocks from the last down ("we iterate over the blocks in
    // reverse order"), so the masked diagonal block comes first.
    for (u64 jj = r.last + 1; !r.empty() && jj > r.first; --jj) {
      const u64 j = jj - 1;
      if (!traits::block_sparse_keep(g.density, i, j, g.tc)) continue;
      const u64 cols = g.cols(j);
      Step st;
      g.kv_tile(st, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
      g.kv_tile(st, "V", buf.v, b, kvh, j * g.bc, cols, s.dv, false);
      const double area = static_cast<double>(rows * cols);
      st.tensor = 2 * area * static_cast<double>(s.d + s.dv);
      st.sfu = area;
      st.fp32 = 3 * area + static_cast<double>(rows * s.dv);
      st.sram = static_cast<double>(cols * (s.d + s.dv) * g.e * (1 + traits::kFlashWarps));
      steps.push_back(st);
    }
    Step last;
    g.q_tile(last, "O", buf.o, b, h, i * g.br, rows, s.dv, true);
    if (!g.sigmoid) last.write("LSE", g.stat_addr(buf.lse, b, h, i * g.br), rows * kStat);
    steps.push_back(last);
  };
  out.push_back(std::move(k));
}

// dQ conversion and, for GQA, the reduction of per-query-head dK/dV into the K/V heads.
void flash_backward_tail(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf, const std::string& prefix) {
  const Shape& s = g.s;
  const Count rows = Count(s.batch) * s.heads * s.n;
  out.push_back(elementwise(prefix + "_bwd_convert_dq", rows * s.d,
                            {{buf.dq_acc, kStat, false, "dQacc"}, {buf.dq, g.e, true, "dQ"}}, 1, 0));
  if (s.group() == 1) return;
  const BlockRange t = g.touched();
  const u64 t0 = t.empty() ? 0 : t.first * g.bc, t1 = t.empty() ? 0 : min_u(s.nk, (t.last + 1) * g.bc);
  SimKernel red;
  red.name = "gqa_reduce_dkdv";
  const u64 key_tile = 64;
  red.ctas = (Count(s.batch) * s.kv_heads * ceil_div(s.nk, key_tile)).v;
  red.program = [g, buf, t0, t1, key_tile](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 tiles = ceil_div(s.nk, key_tile);
    const u64 kt = cta % tiles, bkv = cta / tiles, b = bkv / s.kv_heads, kvh = bkv % s.kv_heads;
    const u64 k0 = kt * key_tile, k1 = min_u(s.nk, k0 + key_tile);
    const u64 r0 = std::max(k0, t0), r1 = std::min(k1, t1);
    Step st;
    for (u64 h = kvh * s.group(); r0 < r1 && h < (kvh + 1) * s.group(); ++h) {
      const u64 row = (b * s.nk + r0) * s.heads + h;
      st.read("dK per head", buf.dk_exp + row * s.d * g.e, s.d * g.e, r1 - r0, s.heads * s.d * g.e);
      st.read("dV per head", buf.dv_exp + row * s.dv * g.e, s.dv * g.e, r1 - r0, s.heads * s.dv * g.e);
      if (st.n >= 6) {
        steps.push_back(st);
        st = Step{};
      }
    }
    g.kv_tile(st, "dK", buf.dk, b, kvh, k0, k1 - k0, s.d, true);
    g.kv_tile(st, "dV", buf.dv, b, kvh, k0, k1 - k0, s.dv, true);
    st.fp32 = static_cast<double>((r1 > r0 ? r1 - r0 : 0) * (s.d + s.dv) * s.group());
    steps.push_back(st);
  };
  out.push_back(std::move(red));
}

void flash2_backward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  const bool sig = g.sigmoid;
  SimKernel pre;
  pre.name = sig ? "flash_sigmoid_bwd_zero_dq" : "flash2_bwd_preprocess";
  pre.ctas = (Count(s.batch) * s.heads * g.tr).v;
  pre.program = [g, buf, sig](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 i = cta % g.tr, b = (cta / g.tr) % s.batch, h = cta / (g.tr * s.batch);
    const u64 rows = g.rows(i);
    Step st;
    if (!sig) {
      g.q_tile(st, "dO", buf.dout, b, h, i * g.br, rows, s.dv, false);
      g.q_tile(st, "O", buf.o, b, h, i * g.br, rows, s.dv, false);
      st.write("D", g.stat_addr(buf.delta, b, h, i * g.br), rows * kStat);
    }
    st.write("dQacc", buf.dq_acc + ((b * s.heads + h) * s.n + i * g.br) * s.d * kStat, rows * s.d * kStat);
    steps.push_back(st);
  };
  out.push_back(std::move(pre));

  const BlockRange t = g.touched();
  SimKernel k;
  k.name = sig ? "flash_sigmoid_bwd" : "flash2_bwd";
  k.ctas = (Count(s.batch) * s.heads * g.tc).v;
  k.smem = {{"K", min_u(g.bc, s.nk) * s.d * g.e}, {"V", min_u(g.bc, s.nk) * s.dv * g.e},
            {"Q", min_u(g.br, s.n) * s.d * g.e}, {"dO", min_u(g.br, s.n) * s.dv * g.e}};
  k.program = [g, buf, sig, t](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 j = cta % g.tc, b = (cta / g.tc) % s.batch, h = cta / (g.tc * s.batch), kvh = h / s.group();
    if (t.empty() || j < t.first || j > t.last) return;
    const u64 cols = g.cols(j);
    Step first;
    g.kv_tile(first, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
    g.kv_tile(first, "V", buf.v, b, kvh, j * g.bc, cols, s.dv, false);
    steps.push_back(first);
    for (u64 ii = g.tr; ii > 0; --ii) {  // m blocks from the last down, as flash-attention's backward
      const u64 i = ii - 1;
      if (!g.visited(i, j)) continue;
      const u64 rows = g.rows(i);
      Step st;
      g.q_tile(st, "Q", buf.q, b, h, i * g.br, rows, s.d, false);
      g.q_tile(st, "dO", buf.dout, b, h, i * g.br, rows, s.dv, false);
      if (!sig) {
        st.read("LSE", g.stat_addr(buf.lse, b, h, i * g.br), rows * kStat);
        st.read("D", g.stat_addr(buf.delta, b, h, i * g.br), rows * kStat);
      }
      const u64 dq = buf.dq_acc + ((b * s.heads + h) * s.n + i * g.br) * s.d * kStat;
      st.read("dQacc", dq, rows * s.d * kStat);  // atomic add: read-modify-write in L2
      st.write("dQacc", dq, rows * s.d * kStat);
      const double area = static_cast<double>(rows * cols);
      st.tensor = 2 * area * static_cast<double>(3 * s.d + 2 * s.dv);
      st.sfu = area;
      st.fp32 = 4 * area;
      steps.push_back(st);
    }
    Step last;
    g.dkv_tile(last, "dK", buf.dk_exp, buf.dk, b, h, j * g.bc, cols, s.d);
    g.dkv_tile(last, "dV", buf.dv_exp, buf.dv, b, h, j * g.bc, cols, s.dv);
    steps.push_back(last);
  };
  out.push_back(std::move(k));
  flash_backward_tail(out, g, buf, "flash2");
}

// FlashAttention Alg. 1: one CTA per head, grid (batch, heads) as flash-attention v1 launches it.
void flash1_forward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  const BlockRange t = g.touched();
  SimKernel k;
  k.name = "flash1_fwd";
  k.ctas = (Count(s.batch) * s.heads).v;
  k.smem = {{"K", min_u(g.bc, s.nk) * s.d * g.e}, {"V", min_u(g.bc, s.nk) * s.dv * g.e},
            {"Q", min_u(g.br, s.n) * s.d * g.e}, {"O", min_u(g.br, s.n) * s.dv * g.e}};
  k.program = [g, buf, t](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 b = cta % s.batch, h = cta / s.batch, kvh = h / s.group();  // grid (batch, heads)
    Step init;  // Alg. 1 line 2: O = 0, l = 0, m = -inf in HBM
    g.q_tile(init, "O", buf.o, b, h, 0, s.n, s.dv, true);
    init.write("l", g.stat_addr(buf.l, b, h, 0), s.n * kStat);
    init.write("m", g.stat_addr(buf.m, b, h, 0), s.n * kStat);
    steps.push_back(init);
    for (u64 j = t.first; !t.empty() && j <= t.last; ++j) {
      const u64 cols = g.cols(j);
      Step kv;
      g.kv_tile(kv, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
      g.kv_tile(kv, "V", buf.v, b, kvh, j * g.bc, cols, s.dv, false);
      steps.push_back(kv);
      for (u64 i = 0; i < g.tr; ++i) {
        if (!g.visited(i, j)) continue;
        const u64 rows = g.rows(i), r0 = i * g.br;
        Step st;
        g.q_tile(st, "Q", buf.q, b, h, r0, rows, s.d, false);
        g.q_tile(st, "O", buf.o, b, h, r0, rows, s.dv, false);
        st.read("l", g.stat_addr(buf.l, b, h, r0), rows * kStat);
        st.read("m", g.stat_addr(buf.m, b, h, r0), rows * kStat);
        g.q_tile(st, "O", buf.o, b, h, r0, rows, s.dv, true);
        st.write("l", g.stat_addr(buf.l, b, h, r0), rows * kStat);
        st.write("m", g.stat_addr(buf.m, b, h, r0), rows * kStat);
        const double area = static_cast<double>(rows * cols);
        st.tensor = 2 * area * static_cast<double>(s.d + s.dv);
        st.sfu = area;
        st.fp32 = 3 * area + 2.0 * static_cast<double>(rows * s.dv);
        steps.push_back(st);
      }
    }
  };
  out.push_back(std::move(k));
}

// FlashAttention App. B, Alg. 4.
void flash1_backward(std::vector<SimKernel>& out, const FlashGeometry& g, const FlashBuffers& buf) {
  const Shape& s = g.s;
  const BlockRange t = g.touched();
  SimKernel k;
  k.name = "flash1_bwd";
  k.ctas = (Count(s.batch) * s.heads).v;
  k.smem = {{"K", min_u(g.bc, s.nk) * s.d * g.e}, {"V", min_u(g.bc, s.nk) * s.dv * g.e},
            {"Q, O, dO", min_u(g.br, s.n) * (s.d + 2 * s.dv) * g.e}};
  k.program = [g, buf, t](u64 cta, std::vector<Step>& steps) {
    const Shape& s = g.s;
    const u64 b = cta % s.batch, h = cta / s.batch, kvh = h / s.group();  // grid (batch, heads)
    const u64 dq_base = buf.dq_acc + (b * s.heads + h) * s.n * s.d * kStat;
    Step init;
    init.write("dQacc", dq_base, s.n * s.d * kStat);
    steps.push_back(init);
    for (u64 j = t.first; !t.empty() && j <= t.last; ++j) {
      const u64 cols = g.cols(j);
      Step kv;
      g.kv_tile(kv, "K", buf.k, b, kvh, j * g.bc, cols, s.d, false);
      g.kv_tile(kv, "V", buf.v, b, kvh, j * g.bc, cols, s.dv, false);
      steps.push_back(kv);
      for (u64 i = 0; i < g.tr; ++i) {
        if (!g.visited(i, j)) continue;
        const u64 rows = g.rows(i), r0 = i * g.br;
        Step st;
        g.q_tile(st, "Q", buf.q, b, h, r0, rows, s.d, false);
        g.q_tile(st, "O", buf.o, b, h, r0, rows, s.dv, false);
        g.q_tile(st, "dO", buf.dout, b, h, r0, rows, s.dv, false);
        st.read("l", g.stat_addr(buf.l, b, h, r0), rows * kStat);
        st.read("m", g.stat_addr(buf.m, b, h, r0), rows * kStat);
        st.read("dQacc", dq_base + r0 * s.d * kStat, rows * s.d * kStat);
        st.write("dQacc", dq_base + r0 * s.d * kStat, rows * s.d * kStat);
        const double area = static_cast<double>(rows * cols);
        st.tensor = 2 * area * static_cast<double>(3 * s.d + 2 * s.dv);
        st.sfu = area;
        st.fp32 = 4 * area + 2.0 * static_cast<double>(rows * s.dv);
        steps.push_back(st);
      }
      Step wr;
      g.dkv_tile(wr, "dK", buf.dk_exp, buf.dk, b, h, j * g.bc, cols, s.d);
      g.dkv_tile(wr, "dV", buf.dv_exp, buf.dv, b, h, j * g.bc, cols, s.dv);
      steps.push_back(wr);
    }
  };
  out.push_back(std::move(k));
  flash_backward_tail(out, g, buf, "flash1");
}

FlashBuffers flash_buffers(AddressSpace& as, const Shape& s, u64 e) {
  const Count q = Count(s.batch) * s.heads * s.n, kv = Count(s.batch) * s.kv_heads * s.nk;
  const Count kv_exp = Count(s.batch) * s.heads * s.nk;
  FlashBuffers b{};
  b.q = as.alloc(q * s.d * e);
  b.k = as.alloc(kv * s.d * e);
  b.v = as.alloc(kv * s.dv * e);
  b.o = as.alloc(q * s.dv * e);
  b.lse = as.alloc(q * kStat);
  b.l = as.alloc(q * kStat);
  b.m = as.alloc(q * kStat);
  b.dout = as.alloc(q * s.dv * e);
  b.dq_acc = as.alloc(q * s.d * kStat);
  b.delta = as.alloc(q * kStat);
  b.dq = as.alloc(q * s.d * e);
  b.dk_exp = as.alloc(kv_exp * s.d * e);
  b.dv_exp = as.alloc(kv_exp * s.dv * e);
  b.dk = as.alloc(kv * s.d * e);
  b.dv = as.alloc(kv * s.dv * e);
  return b;
}

void flash_family(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w, const Shape& s, const Mask& mask,
                  double density, bool sigmoid, bool fa1) {
  const u64 e = dtype_bytes(w.dtype);
  FlashGeometry g{s, mask, w.block_m, w.block_n, ceil_div(s.n, w.block_m), ceil_div(s.nk, w.block_n), e, density, sigmoid};
  const FlashBuffers buf = flash_buffers(as, s, e);
  if (w.pass != Pass::bwd) fa1 ? flash1_forward(out, g, buf) : flash2_forward(out, g, buf);
  if (w.pass != Pass::fwd) fa1 ? flash1_backward(out, g, buf) : flash2_backward(out, g, buf);
}

// ---- standard attention ---------------------------------------------------------------------

void standard(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w, const Shape& s, const Mask& mask) {
  const u64 e = dtype_bytes(w.dtype);
  const u64 bk = (Count(s.batch) * s.kv_heads).v, gn = (Count(s.group()) * s.n).v;
  const Count qn = Count(bk) * gn;  // query rows
  const Count scores = qn * s.nk;
  const u64 q = as.alloc(qn * s.d * e), k = as.alloc(Count(bk) * s.nk * s.d * e), v = as.alloc(Count(bk) * s.nk * s.dv * e);
  const u64 sc = as.alloc(scores * e), p = as.alloc(scores * e), o = as.alloc(qn * s.dv * e);
  const u64 gnk = gn * s.nk;
  if (w.pass != Pass::bwd) {
    out.push_back(gemm("gemm_qk", bk, gn, s.nk, s.d, e, e, {q, gn, s.d, gn * s.d * e, false},
                       {k, s.d, s.nk, s.nk * s.d * e, true}, {sc, gn, s.nk, gnk * e, false}));
    const double allowed = static_cast<double>(allowed_pairs(mask, s.n, s.nk).v) / static_cast<double>(s.n * s.nk);
    out.push_back(elementwise("softmax", scores, {{sc, e, false, "S"}, {p, e, true, "P"}}, 4 * allowed, allowed));
    out.push_back(gemm("gemm_pv", bk, gn, s.dv, s.nk, e, e, {p, gn, s.nk, gnk * e, false},
                       {v, s.nk, s.dv, s.nk * s.dv * e, false}, {o, gn, s.dv, gn * s.dv * e, false}));
  }
  if (w.pass != Pass::fwd) {
    const u64 dout = as.alloc(qn * s.dv * e), dp = as.alloc(scores * e), ds = as.alloc(scores * e);
    const u64 dq = as.alloc(qn * s.d * e), dk = as.alloc(Count(bk) * s.nk * s.d * e), dv = as.alloc(Count(bk) * s.nk * s.dv * e);
    out.push_back(gemm("gemm_dv", bk, s.nk, s.dv, gn, e, e, {p, s.nk, gn, gnk * e, true},
                       {dout, gn, s.dv, gn * s.dv * e, false}, {dv, s.nk, s.dv, s.nk * s.dv * e, false}));
    out.push_back(gemm("gemm_dp", bk, gn, s.nk, s.dv, e, e, {dout, gn, s.dv, gn * s.dv * e, false},
                       {v, s.dv, s.nk, s.nk * s.dv * e, true}, {dp, gn, s.nk, gnk * e, false}));
    out.push_back(elementwise("softmax_bwd", scores, {{p, e, false, "P"}, {dp, e, false, "dP"}, {ds, e, true, "dS"}}, 4, 0));
    out.push_back(gemm("gemm_dq", bk, gn, s.d, s.nk, e, e, {ds, gn, s.nk, gnk * e, false},
                       {k, s.nk, s.d, s.nk * s.d * e, false}, {dq, gn, s.d, gn * s.d * e, false}));
    out.push_back(gemm("gemm_dk", bk, s.nk, s.d, gn, e, e, {ds, s.nk, gn, gnk * e, true},
                       {q, gn, s.d, gn * s.d * e, false}, {dk, s.nk, s.d, s.nk * s.d * e, false}));
  }
}


// ---- decode kernels -------------------------------------------------------------------------

// Split-KV decode (flash-attention's flash_fwd_splitkv_kernel; grid: row tile fastest, then split,
// then (batch, set)). `separate_v`: K and V are separate arrays (flash-decoding); otherwise one
// cache row per token holds both (MLA's latent + rope, values = the latent part).
void split_kv(std::vector<SimKernel>& out, AddressSpace& as, const Prediction& f, std::string name, u64 batch, u64 sets,
              u64 rows, u64 nk, u64 qk, u64 vd, bool separate_v) {
  const u64 e = dtype_bytes(f.workload.dtype);
  const u64 bc = f.block_n, splits = f.splits;
  const u64 key_blocks = ceil_div(nk, bc), per_split = ceil_div(key_blocks, splits);
  const u64 row_tiles = ceil_div(rows, kDecodeRowTile);
  const u64 token = separate_v ? (qk + vd) * e : qk * e;
  const u64 q = as.alloc(Count(batch) * sets * rows * qk * e);
  const u64 kc = as.alloc(Count(batch) * sets * nk * (separate_v ? qk : qk) * e);
  const u64 vc = separate_v ? as.alloc(Count(batch) * sets * nk * vd * e) : 0;
  const u64 part = as.alloc(Count(batch) * sets * splits * rows * (vd + 1) * kStat);
  const u64 o = as.alloc(Count(batch) * sets * rows * vd * e);
  SimKernel k;
  k.name = std::move(name);
  k.ctas = (Count(batch) * sets * row_tiles * splits).v;
  k.smem = {{"Q rows", min_u(rows, kDecodeRowTile) * qk * e}, {"K/V block", min_u(bc, nk) * token}};
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 rt = cta % row_tiles, sp = (cta / row_tiles) % splits, bs = cta / (row_tiles * splits);
    const u64 r0 = rt * kDecodeRowTile, nr = min_u(rows, r0 + kDecodeRowTile) - r0;
    Step first;
    first.read("Q", q + (bs * rows + r0) * qk * e, nr * qk * e);
    steps.push_back(first);
    for (u64 j = sp * per_split; j < min_u(key_blocks, (sp + 1) * per_split); ++j) {
      const u64 k0 = j * bc, cols = min_u(nk, k0 + bc) - k0;
      Step st;
      if (separate_v) {
        st.read("K", kc + (bs * nk + k0) * qk * e, cols * qk * e);
        st.read("V", vc + (bs * nk + k0) * vd * e, cols * vd * e);
      } else {
        st.read("latent", kc + (bs * nk + k0) * qk * e, cols * qk * e);
      }
      const double area = static_cast<double>(nr * cols);
      st.tensor = 2 * area * static_cast<double>(qk + vd);
      st.sfu = area;
      st.fp32 = 3 * area;
      st.sram = static_cast<double>(cols * token * (1 + traits::kFlashWarps));
      steps.push_back(st);
    }
    Step last;
    if (splits == 1) last.write("O", o + (bs * rows + r0) * vd * e, nr * vd * e);
    else last.write("partial O", part + ((bs * splits + sp) * rows + r0) * (vd + 1) * kStat, nr * (vd + 1) * kStat);
    steps.push_back(last);
  };
  out.push_back(std::move(k));
  if (splits == 1) return;
  SimKernel c;
  c.name = "combine_splits";
  c.ctas = (Count(batch) * sets * rows).v;
  c.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 r = cta % rows, bs = cta / rows;
    Step st;
    st.read("partial O", part + (bs * splits * rows + r) * (vd + 1) * kStat, (vd + 1) * kStat, splits, rows * (vd + 1) * kStat);
    st.write("O", o + (bs * rows + r) * vd * e, vd * e);
    st.fp32 = static_cast<double>(splits * (2 * vd + 2));
    st.sfu = static_cast<double>(splits);
    steps.push_back(st);
  };
  out.push_back(std::move(c));
}

// vLLM PagedAttention: grid (heads, sequences, partitions). The block table maps each sequence's
// logical pages to physical pages scattered over the cache (a fixed permutation here).
void paged(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w, const Shape& s) {
  const u64 e = dtype_bytes(w.dtype), P = w.page_size;
  const u64 pages = ceil_div(s.nk, P), padded = pages * P;
  const u64 pages_per_part = max_u(1, traits::kPagedPartition / P);
  const u64 bh = (Count(s.batch) * s.heads).v;
  const bool v1 = s.nk <= traits::kPagedV1MaxContext && (ceil_div(pages, pages_per_part) == 1 || bh > 512);
  const u64 parts = v1 ? 1 : ceil_div(pages, pages_per_part);
  const u64 slots = (Count(s.batch) * pages).v;
  u64 stride = 2654435761u % slots;
  auto gcd = [](u64 a, u64 b) { while (b) { a %= b; std::swap(a, b); } return a; };
  if (stride == 0) stride = 1;
  while (gcd(stride, slots) != 1) ++stride;
  const u64 table = as.alloc(Count(slots) * 4);
  const u64 kc = as.alloc(Count(slots) * s.kv_heads * P * s.d * e), vc = as.alloc(Count(slots) * s.kv_heads * P * s.dv * e);
  const u64 q = as.alloc(Count(bh) * s.d * e), o = as.alloc(Count(bh) * s.dv * e);
  const u64 tmp = as.alloc(Count(bh) * parts * (s.dv * e + 2 * kStat));
  SimKernel k;
  k.name = v1 ? "paged_attention_v1" : "paged_attention_v2";
  k.ctas = (Count(bh) * parts).v;
  k.smem = {{"logits", (v1 ? padded : pages_per_part * P) * kStat}, {"q", s.d * e}};
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 h = cta % s.heads, b = (cta / s.heads) % s.batch, part = cta / bh, kvh = h / s.group();
    const u64 p0 = part * pages_per_part, p1 = v1 ? pages : min_u(pages, p0 + pages_per_part);
    Step first;
    first.read("block table", table + (b * pages + p0) * 4, (p1 - p0) * 4);
    first.read("q", q + (b * s.heads + h) * s.d * e, s.d * e);
    steps.push_back(first);
    for (u64 pg = p0; pg < p1; ++pg) {
      const u64 phys = ((b * pages + pg) * stride) % slots;
      Step st;
      st.read("K page", kc + (phys * s.kv_heads + kvh) * P * s.d * e, P * s.d * e);
      st.read("V page", vc + (phys * s.kv_heads + kvh) * P * s.dv * e, P * s.dv * e);
      st.tensor = 2.0 * static_cast<double>(P * (s.d + s.dv));
      st.fp32 = 4.0 * static_cast<double>(P);
      st.sfu = static_cast<double>(P);
      st.sram = 2.0 * static_cast<double>(P * kStat);
      steps.push_back(st);
    }
    Step last;
    if (v1) {
      last.write("out", o + (b * s.heads + h) * s.dv * e, s.dv * e);
    } else {
      const u64 row = (b * s.heads + h) * parts + part;
      last.write("tmp_out", tmp + row * s.dv * e, s.dv * e);
      last.write("exp_sums, max_logits", tmp + bh * parts * s.dv * e + row * 2 * kStat, 2 * kStat);
    }
    steps.push_back(last);
  };
  out.push_back(std::move(k));
  if (v1) return;
  SimKernel r;
  r.name = "paged_attention_v2_reduce";
  r.ctas = bh;
  r.program = [=](u64 cta, std::vector<Step>& steps) {
    Step st;
    st.read("tmp_out", tmp + cta * parts * s.dv * e, parts * s.dv * e);
    st.read("exp_sums, max_logits", tmp + bh * parts * s.dv * e + cta * parts * 2 * kStat, parts * 2 * kStat);
    st.write("out", o + cta * s.dv * e, s.dv * e);
    st.fp32 = static_cast<double>(parts * (2 * s.dv + 2));
    st.sfu = static_cast<double>(parts);
    steps.push_back(st);
  };
  out.push_back(std::move(r));
}

// ---- chunked attention ----------------------------------------------------------------------

// Rabe & Staats: launches in program order: for each query chunk, for each key chunk it visits,
// the scores launch then the PV launch; then the combine launch of that query chunk.
void chunked(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w, const Shape& s, const Mask& mask) {
  const u64 e = dtype_bytes(w.dtype), c = w.chunk;
  const u64 tr = ceil_div(s.n, c), tc = ceil_div(s.nk, c);
  const u64 bh = (Count(s.batch) * s.heads).v;
  const FlashBuffers b = flash_buffers(as, s, e);
  const u64 scores = as.alloc(Count(bh) * c * c * kStat);
  const u64 maxima = as.alloc(Count(bh) * tc * c * kStat);
  const u64 partial = as.alloc(Count(bh) * tc * c * (s.dv + 1) * kStat);
  FlashGeometry g{s, mask, c, c, tr, tc, e, 1.0, false};
  for (u64 i = 0; i < tr; ++i) {
    const u64 rows = g.rows(i);
    const BlockRange r = visited_blocks(mask, i * c, i * c + rows, s.nk, c);
    for (u64 j = r.first; !r.empty() && j <= r.last; ++j) {
      const u64 cols = g.cols(j);
      const u64 band = traits::kChunkBandRows, bands = ceil_div(rows, band);
      SimKernel k1;
      k1.name = "chunk_scores_exp";
      k1.ctas = bh * bands;  // grid (band, head)
      k1.program = [=](u64 cta, std::vector<Step>& steps) {
        const u64 hb = cta / bands, r0 = (cta % bands) * band, nr = min_u(rows, r0 + band) - r0;
        const u64 hh = hb % s.heads, bb = hb / s.heads, kvh = hh / s.group();
        Step st;
        g.q_tile(st, "Q rows", b.q, bb, hh, i * c + r0, nr, s.d, false);
        g.kv_tile(st, "K chunk", b.k, bb, kvh, j * c, cols, s.d, false);
        st.write("scores", scores + (hb * c + r0) * c * kStat, nr * cols * kStat);
        st.write("max", maxima + (hb * tc + j) * c * kStat + r0 * kStat, nr * kStat);
        st.tensor = 2.0f * static_cast<float>(nr * cols * s.d);
        st.sfu = static_cast<float>(nr * cols);
        steps.push_back(st);
      };
      SimKernel k2;
      k2.name = "chunk_pv";
      k2.ctas = bh * bands;
      k2.program = [=](u64 cta, std::vector<Step>& steps) {
        const u64 hb = cta / bands, r0 = (cta % bands) * band, nr = min_u(rows, r0 + band) - r0;
        const u64 hh = hb % s.heads, bb = hb / s.heads, kvh = hh / s.group();
        Step st;
        st.read("scores", scores + (hb * c + r0) * c * kStat, nr * cols * kStat);
        g.kv_tile(st, "V chunk", b.v, bb, kvh, j * c, cols, s.dv, false);
        st.write("partial", partial + ((hb * tc + j) * c + r0) * (s.dv + 1) * kStat, nr * (s.dv + 1) * kStat);
        st.tensor = 2.0f * static_cast<float>(nr * cols * s.dv);
        steps.push_back(st);
      };
      out.push_back(std::move(k1));
      out.push_back(std::move(k2));
    }
    SimKernel k3;
    k3.name = "chunk_combine";
    k3.ctas = bh;
    k3.program = [=](u64 cta, std::vector<Step>& steps) {
      const u64 hb = cta, hh = hb % s.heads, bb = hb / s.heads;
      for (u64 j = r.first; !r.empty() && j <= r.last; ++j) {
        Step st;
        st.read("partial", partial + (hb * tc + j) * c * (s.dv + 1) * kStat, rows * (s.dv + 1) * kStat);
        st.read("max", maxima + (hb * tc + j) * c * kStat, rows * kStat);
        st.fp32 = static_cast<double>(rows * (2 * s.dv + 2));
        st.sfu = static_cast<double>(rows);
        steps.push_back(st);
      }
      Step last;
      g.q_tile(last, "O", b.o, bb, hh, i * c, rows, s.dv, true);
      steps.push_back(last);
    };
    out.push_back(std::move(k3));
  }
}

// ---- linear attention and Performer ---------------------------------------------------------

// One CTA per (sequence, K/V head) carries the group's state (predict.cpp, linear_core). `q`, `k`
// hold `in_dim` elements per token (raw Q/K, or Performer's features).
void linear(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w, const Shape& s, u64 f, u64 in_dim,
            u64 qbuf, u64 kbuf) {
  const u64 e = dtype_bytes(w.dtype);
  const bool decode = w.phase == Phase::decode;
  const u64 n = decode ? 1 : s.n, c = decode ? 1 : w.chunk, g = s.group();
  const u64 chunks = ceil_div(n, c);
  const u64 bkv = (Count(s.batch) * s.kv_heads).v, bh = (Count(s.batch) * s.heads).v;
  const u64 state = (f * s.dv + f) * kStat;
  const bool spills = !decode && w.causal && static_cast<double>(state) * 2 > static_cast<double>(w.sram_bytes);
  const u64 v = as.alloc(Count(bkv) * n * s.dv * e), o = as.alloc(Count(bh) * n * s.dv * e);
  const u64 st_buf = as.alloc(Count(bkv) * state);
  auto qa = [=](u64 b, u64 h, u64 t) { return qbuf + ((b * s.heads + h) * n + t) * in_dim * e; };
  auto ka = [=](u64 b, u64 kvh, u64 t) { return kbuf + ((b * s.kv_heads + kvh) * n + t) * in_dim * e; };
  auto va = [=](u64 b, u64 kvh, u64 t) { return v + ((b * s.kv_heads + kvh) * n + t) * s.dv * e; };
  auto oa = [=](u64 b, u64 h, u64 t) { return o + ((b * s.heads + h) * n + t) * s.dv * e; };
  if (decode || w.causal) {
    SimKernel k;
    k.name = decode ? "linear_decode_step" : "linear_causal_chunked";
    k.ctas = bkv;
    k.smem = {{"state", state}, {"Q/K/V chunk", c * (2 * in_dim + s.dv) * e}};
    k.program = [=](u64 cta, std::vector<Step>& steps) {
      const u64 b = cta / s.kv_heads, kvh = cta % s.kv_heads;
      for (u64 t = 0; t < chunks; ++t) {
        const u64 t0 = t * c, len = min_u(n, t0 + c) - t0;
        Step st;
        if (decode || (spills && t > 0)) st.read("state", st_buf + cta * state, state);
        st.read("K", ka(b, kvh, t0), len * in_dim * e);
        st.read("V", va(b, kvh, t0), len * s.dv * e);
        st.read("Q", qa(b, kvh * g, t0), len * in_dim * e, g, n * in_dim * e);  // the group's heads
        st.write("O", oa(b, kvh * g, t0), len * s.dv * e, g, n * s.dv * e);
        if (decode || spills) st.write("state", st_buf + cta * state, state);
        st.tensor = 2.0 * static_cast<double>(g * len * len * (f + s.dv) + (g + 1) * len * f * s.dv);
        st.fp32 = static_cast<double>(g * len * len);
        steps.push_back(st);
      }
    };
    out.push_back(std::move(k));
    return;
  }
  SimKernel k1;
  k1.name = "linear_state";
  k1.ctas = bkv;
  k1.smem = {{"state", state}};
  k1.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 b = cta / s.kv_heads, kvh = cta % s.kv_heads;
    for (u64 t = 0; t < chunks; ++t) {
      const u64 t0 = t * c, len = min_u(n, t0 + c) - t0;
      Step st;
      st.read("K", ka(b, kvh, t0), len * in_dim * e);
      st.read("V", va(b, kvh, t0), len * s.dv * e);
      st.tensor = 2.0 * static_cast<double>(len * f * s.dv);
      steps.push_back(st);
    }
    Step last;
    last.write("state", st_buf + cta * state, state);
    steps.push_back(last);
  };
  SimKernel k2;
  k2.name = "linear_output";
  k2.ctas = (Count(bh) * chunks).v;
  k2.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 t = cta % chunks, bhh = cta / chunks, b = bhh / s.heads, h = bhh % s.heads;
    const u64 t0 = t * c, len = min_u(n, t0 + c) - t0;
    Step st;
    st.read("state", st_buf + (b * s.kv_heads + h / g) * state, state);
    st.read("Q", qa(b, h, t0), len * in_dim * e);
    st.write("O", oa(b, h, t0), len * s.dv * e);
    st.tensor = 2.0 * static_cast<double>(len * f * s.dv);
    steps.push_back(st);
  };
  out.push_back(std::move(k1));
  out.push_back(std::move(k2));
}

void performer(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w, const Shape& s) {
  const u64 e = dtype_bytes(w.dtype), r = w.features;
  const u64 n = w.phase == Phase::decode ? 1 : s.n;
  const u64 rows_q = (Count(s.batch) * s.heads * n).v, rows = (Count(rows_q) + Count(s.batch) * s.kv_heads * n).v;
  const u64 x = as.alloc(Count(rows) * s.d * e), omega = as.alloc(Count(r) * s.d * e);
  const u64 phi = as.alloc(Count(rows) * r * e);
  SimKernel k;
  k.name = "favor_features";
  k.ctas = ceil_div(rows, traits::kFeatureRowsPerCta);
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 r0 = cta * traits::kFeatureRowsPerCta, nr = min_u(rows, r0 + traits::kFeatureRowsPerCta) - r0;
    Step st;
    st.read("x", x + r0 * s.d * e, nr * s.d * e);
    st.read("Omega", omega, r * s.d * e);
    st.write("phi", phi + r0 * r * e, nr * r * e);
    st.tensor = 2.0 * static_cast<double>(nr * s.d * r);
    st.sfu = static_cast<double>(nr * r);
    steps.push_back(st);
  };
  out.push_back(std::move(k));
  linear(out, as, w, s, r, r, phi, phi + rows_q * r * e);
}

// ---- Mamba ----------------------------------------------------------------------------------

// Layouts as the mamba kernels: x, delta [B][D][L]; B, C [B][N][L]; A [D][N] fp32; y [B][D][L].
void mamba(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w) {
  const u64 e = dtype_bytes(w.dtype), D = w.d_inner, N = w.state_dim, B = w.batch;
  const bool decode = w.phase == Phase::decode;
  const u64 L = decode ? 1 : w.seq;
  const u64 x = as.alloc(Count(B) * D * L * e), dt = as.alloc(Count(B) * D * L * e);
  const u64 bm = as.alloc(Count(B) * N * L * e), cm = as.alloc(Count(B) * N * L * e);
  const u64 a = as.alloc(Count(D) * N * kStat), y = as.alloc(Count(B) * D * L * e);
  if (decode) {
    const u64 h = as.alloc(Count(B) * D * N * kStat);
    const u64 tile = traits::kScanStepChannelsPerCta, tiles = ceil_div(D, tile);
    SimKernel k;
    k.name = "mamba_decode_step";
    k.ctas = (Count(B) * tiles).v;
    k.program = [=](u64 cta, std::vector<Step>& steps) {
      const u64 b = cta / tiles, d0 = (cta % tiles) * tile, nd = min_u(D, d0 + tile) - d0;
      Step st;
      st.read("h", h + (b * D + d0) * N * kStat, nd * N * kStat);
      st.read("x", x + (b * D + d0) * e, nd * e);
      st.read("delta", dt + (b * D + d0) * e, nd * e);
      st.read("B", bm + b * N * e, N * e);
      st.read("C", cm + b * N * e, N * e);
      st.read("A", a + d0 * N * kStat, nd * N * kStat);
      st.write("h", h + (b * D + d0) * N * kStat, nd * N * kStat);
      st.write("y", y + (b * D + d0) * e, nd * e);
      st.fp32 = 6.0 * static_cast<double>(nd * N);
      st.sfu = static_cast<double>(nd * N);
      steps.push_back(st);
    };
    out.push_back(std::move(k));
    return;
  }
  // The fused scan walks the sequence in chunks of 2048 tokens (mamba kChunkSize).
  const u64 chunk = 2048;
  SimKernel k;
  k.name = "selective_scan_fused";
  k.ctas = (Count(B) * D).v;
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 b = cta % B, d = cta / B;  // grid (batch, dim): batch fastest
    for (u64 l0 = 0; l0 < L; l0 += chunk) {
      const u64 len = min_u(L, l0 + chunk) - l0;
      Step st;
      if (l0 == 0) st.read("A", a + d * N * kStat, N * kStat);
      st.read("x", x + ((b * D + d) * L + l0) * e, len * e);
      st.read("delta", dt + ((b * D + d) * L + l0) * e, len * e);
      st.read("B", bm + (b * N * L + l0) * e, len * e, N, L * e);
      st.read("C", cm + (b * N * L + l0) * e, len * e, N, L * e);
      st.write("y", y + ((b * D + d) * L + l0) * e, len * e);
      st.fp32 = 6.0 * static_cast<double>(len * N);
      st.sfu = static_cast<double>(len * N);
      steps.push_back(st);
    }
  };
  out.push_back(std::move(k));
}

void mamba_naive(std::vector<SimKernel>& out, AddressSpace& as, const Workload& w) {
  const u64 e = dtype_bytes(w.dtype), D = w.d_inner, N = w.state_dim, B = w.batch;
  const u64 L = w.phase == Phase::decode ? 1 : w.seq;
  const u64 per_cta = max_u(1, kElemsPerCta / N), runs = ceil_div(L, per_cta);
  const Count rows = Count(B) * D;
  const u64 x = as.alloc(rows * L * e), dt = as.alloc(rows * L * e);
  const u64 bm = as.alloc(Count(B) * N * L * e), cm = as.alloc(Count(B) * N * L * e);
  const u64 a = as.alloc(Count(D) * N * kStat), y = as.alloc(rows * L * e);
  const Count big = rows * L * N * kStat;
  const u64 abar = as.alloc(big), bx = as.alloc(big), h = as.alloc(big);
  auto run_of = [=](u64 cta) {
    const u64 run = cta % runs, row = cta / runs;
    const u64 l0 = run * per_cta;
    return std::array<u64, 4>{row / D, row % D, l0, min_u(L, l0 + per_cta) - l0};
  };
  SimKernel k1;
  k1.name = "discretize";
  k1.ctas = (rows * runs).v;
  k1.program = [=](u64 cta, std::vector<Step>& steps) {
    const auto [b, d, l0, len] = run_of(cta);
    const u64 row = b * D + d;
    Step st;
    st.read("x", x + (row * L + l0) * e, len * e);
    st.read("delta", dt + (row * L + l0) * e, len * e);
    st.read("B", bm + (b * N * L + l0) * e, len * e, N, L * e);
    st.read("A", a + d * N * kStat, N * kStat);
    st.write("A_bar", abar + (row * L + l0) * N * kStat, len * N * kStat);
    st.write("B_bar x", bx + (row * L + l0) * N * kStat, len * N * kStat);
    st.fp32 = 2.0 * static_cast<double>(len * N);
    st.sfu = static_cast<double>(len * N);
    steps.push_back(st);
  };
  SimKernel k2;
  k2.name = "scan";
  k2.ctas = rows.v;
  k2.program = [=](u64 cta, std::vector<Step>& steps) {
    Step st;
    st.read("A_bar", abar + cta * L * N * kStat, L * N * kStat);
    st.read("B_bar x", bx + cta * L * N * kStat, L * N * kStat);
    st.write("h", h + cta * L * N * kStat, L * N * kStat);
    st.fp32 = 2.0 * static_cast<double>(L * N);
    steps.push_back(st);
  };
  SimKernel k3;
  k3.name = "contract_c";
  k3.ctas = (rows * runs).v;
  k3.program = [=](u64 cta, std::vector<Step>& steps) {
    const auto [b, d, l0, len] = run_of(cta);
    const u64 row = b * D + d;
    Step st;
    st.read("h", h + (row * L + l0) * N * kStat, len * N * kStat);
    st.read("C", cm + (b * N * L + l0) * e, len * e, N, L * e);
    st.write("y", y + (row * L + l0) * e, len * e);
    st.fp32 = 2.0 * static_cast<double>(len * N);
    steps.push_back(st);
  };
  out.push_back(std::move(k1));
  out.push_back(std::move(k2));
  out.push_back(std::move(k3));
}

// ---- dispatch -------------------------------------------------------------------------------

void build_schedules(std::vector<SimKernel>& out, AddressSpace& as, const Prediction& f, const Device& dev) {
  (void)dev;
  const Workload& w = f.workload;
  const u64 e = dtype_bytes(w.dtype);
  const Shape s{w.batch, w.heads, w.kv_heads, w.query_len(), w.kv_len, w.head_dim, w.v_head_dim};
  const Mask mask = attention_mask(w, s.n, s.nk);
  switch (w.variant) {
    case Variant::standard: standard(out, as, w, s, mask); break;
    case Variant::flash1: flash_family(out, as, w, s, mask, 1.0, false, true); break;
    case Variant::flash2:
    case Variant::sliding_window: flash_family(out, as, w, s, mask, 1.0, false, false); break;
    case Variant::block_sparse: flash_family(out, as, w, s, mask, w.block_density, false, false); break;
    case Variant::sigmoid: flash_family(out, as, w, s, mask, 1.0, true, false); break;
    case Variant::dilated: {
      Shape seg = s;
      seg.batch = (Count(s.batch) * (w.seq / w.segment)).v;
      seg.n = seg.nk = w.segment / w.dilation;
      Mask m;
      if (w.causal) m.kind = MaskKind::causal;
      flash_family(out, as, w, seg, m, 1.0, false, false);
      break;
    }
    case Variant::chunked: chunked(out, as, w, s, mask); break;
    case Variant::flash_decoding:
      split_kv(out, as, f, "flash_decoding_splitkv", s.batch, s.kv_heads, s.group(), s.nk, s.d, s.dv, true);
      break;
    case Variant::paged: paged(out, as, w, s); break;
    case Variant::mla:
      if (w.phase == Phase::decode) {
        split_kv(out, as, f, "mla_decode_splitkv", s.batch, 1, s.heads, s.nk, w.latent_dim + w.rope_dim, w.latent_dim, false);
      } else {
        const u64 tokens = (Count(s.batch) * s.nk).v, width = s.heads * (s.d + s.dv), dr = w.rope_dim;
        const u64 latent = as.alloc(Count(tokens) * w.latent_dim * e), wup = as.alloc(Count(w.latent_dim) * width * e);
        const u64 kv = as.alloc(Count(tokens) * width * e), rope = as.alloc(Count(tokens) * dr * e);
        const u64 rope_heads = as.alloc(Count(tokens) * s.heads * dr * e);
        out.push_back(gemm("mla_up_project", 1, tokens, width, w.latent_dim, e, e, {latent, tokens, w.latent_dim, 0, false},
                           {wup, w.latent_dim, width, 0, false}, {kv, tokens, width, 0, false}));
        SimKernel r;
        r.name = "mla_broadcast_rope";
        r.ctas = tokens;
        r.program = [=](u64 cta, std::vector<Step>& steps) {
          Step st;
          st.read("k rope", rope + cta * dr * e, dr * e);
          st.write("k rope per head", rope_heads + cta * s.heads * dr * e, s.heads * dr * e);
          steps.push_back(st);
        };
        out.push_back(std::move(r));
        Shape full = s;
        full.kv_heads = s.heads;
        full.d = s.d + dr;
        flash_family(out, as, w, full, mask, 1.0, false, false);
      }
      break;
    case Variant::linear: {
      const u64 n = w.phase == Phase::decode ? 1 : s.n;
      const u64 q = as.alloc(Count(s.batch) * s.heads * n * s.d * e), k = as.alloc(Count(s.batch) * s.kv_heads * n * s.d * e);
      linear(out, as, w, s, w.feature_dim, s.d, q, k);
      break;
    }
    case Variant::performer: performer(out, as, w, s); break;
    case Variant::mamba: mamba(out, as, w); break;
    case Variant::mamba_naive: mamba_naive(out, as, w); break;
    case Variant::fnet:
      throw InputError("simulate: fnet has no tile schedule (cuFFT's plans are its own); use predict");
    case Variant::ring:
      throw InputError("simulate: ring spans several GPUs; simulate one device with flash2 on N/P tokens instead");
  }
}

}  // namespace

Workload with_kernel_tiles(Workload w) {
  const u64 d = std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim);
  u64 bm = 0, bn = 0;
  switch (w.variant) {
    case Variant::flash1:
    case Variant::flash2:
    case Variant::block_sparse:
    case Variant::sliding_window:
    case Variant::sigmoid:
    case Variant::dilated:
    case Variant::ring:
      bm = traits::flash_block_m(d);
      bn = traits::flash_block_n(d);
      break;
    case Variant::mla:
      if (w.phase == Phase::prefill) {
        bm = traits::flash_block_m(d + w.rope_dim);
        bn = traits::flash_block_n(d + w.rope_dim);
        break;
      }
      bm = traits::flash_block_m(d);
      bn = traits::splitkv_block_n(w.latent_dim + w.rope_dim);
      break;
    case Variant::flash_decoding:
      bm = traits::flash_block_m(d);
      bn = traits::splitkv_block_n(d);
      break;
    default: return w;
  }
  if (w.block_m == 0) w.block_m = bm;
  if (w.block_n == 0) w.block_n = bn;
  return w;
}

SimResult simulate(const Device& device, const Workload& input, const SimOptions& options) {
  SimResult r;
  r.formula = predict(device, with_kernel_tiles(input));
  const Workload& w = r.formula.workload;
  std::vector<SimKernel> kernels;
  AddressSpace as;
  build_schedules(kernels, as, r.formula, device);
  Engine engine(device, w, options, as, r.formula.l2_bytes().v / w.layers / L2Cache::kLineBytes);
  for (const SimKernel& k : kernels) engine.run(k);
  engine.finish(r);
  return r;
}

}  // namespace attnio
