// The tile simulator's schedule vocabulary, shared by the variant files: a kernel is a grid of CTAs,
// each a program of steps, each step the tiles it moves (with addresses) and the work it does.
// Tensor layouts are row-major and contiguous unless a schedule says otherwise: Q [B][H][N][d],
// K [B][Hkv][Nk][d], V [B][Hkv][Nk][dv], O [B][H][N][dv], fp32 statistics [B][H][N]. Each schedule
// mirrors its closed form tile for tile. Internal to model/.
#pragma once

#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/tile_traits.hpp"
#include "plan.hpp"

namespace attnio::detail {

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

// A matrix operand, named: element (r, c) of an R x C matrix at base + (r*C + c)*e (row-major) or
// base + (c*R + r)*e (stored transposed). `batch_stride` separates the batch's problems.
struct Operand {
  u64 base, rows, cols, batch_stride;
  bool transposed;
  const char* name;  // the tensor as the kernel names it (Q, K, S, P, ...): traces and the teaching view
  void tile(Step& st, u64 batch, u64 r0, u64 r1, u64 c0, u64 c1, u64 e, bool write) const {
    const u64 b = base + batch * batch_stride;
    if (!transposed) st.add(name, b + (r0 * cols + c0) * e, (c1 - c0) * e, r1 - r0, cols * e, write);
    else st.add(name, b + (c0 * rows + r0) * e, (r1 - r0) * e, c1 - c0, rows * e, write);
  }
};

// C = A B over `batch` problems, 128 x 128 output tiles walking K in slices of 32 (tile_traits.hpp).
inline SimKernel gemm(std::string name, u64 batch, u64 m, u64 n, u64 k, u64 e, u64 c_bytes, Operand a, Operand b, Operand c) {
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
      a.tile(st, p, r0, r1, k0, k1, e, false);
      b.tile(st, p, k0, k1, c0, c1, e, false);
      st.tensor = 2.0 * static_cast<double>((r1 - r0) * (c1 - c0) * (k1 - k0));
      st.sram = static_cast<double>(((r1 - r0) + (c1 - c0)) * (k1 - k0) * e) * (1 + traits::kGemmWarpsPerOperand);
      steps.push_back(st);
    }
    Step out;
    c.tile(out, p, r0, r1, c0, c1, c_bytes, true);
    steps.push_back(out);
  };
  return g;
}

// An elementwise or row-wise pass over `elements`: CTAs of 1024 elements, each reading its elements
// of every input stream and writing its elements of every output stream (bytes per element given).
// A broadcast input (period != 0, as PyTorch broadcasts a smaller operand) holds `period` elements,
// element i of the pass reading its element (i / inner) % period: a bias plane repeating every N x Nk
// scores (inner 1), a per-row divisor (inner Nk). A CTA reads each of its distinct elements once
// (its threads' loads of one address after the first hit in L1): broadcast_reads() counts them.
struct Stream {
  u64 base, elem_bytes;
  bool write;
  const char* tile;
  u64 period = 0, inner = 1;
};

// The element reads of a broadcast stream over a pass of `elements`: Σ over CTAs of the distinct
// elements its CTA touches. A full CTA's count depends only on where it starts within a run of
// `inner`, and those starts repeat every inner / gcd(inner, 1024) CTAs.
inline Count broadcast_reads(Count elements, u64 period, u64 inner) {
  const u64 total = elements.v, full = total / kElemsPerCta;
  auto distinct = [&](u64 e0, u64 count) { return min_u(period, (e0 + count - 1) / inner - e0 / inner + 1); };
  const u64 cycle = inner / std::gcd(inner, kElemsPerCta);
  Count per_cycle = 0, rest = 0;
  for (u64 c = 0; c < min_u(cycle, full); ++c) {
    const u64 d = distinct(c * kElemsPerCta, kElemsPerCta);
    per_cycle += d;
    if (c < full % cycle) rest += d;
  }
  Count sum = full >= cycle ? per_cycle * (full / cycle) + rest : per_cycle;
  if (total % kElemsPerCta != 0) sum += distinct(full * kElemsPerCta, total % kElemsPerCta);
  return sum;
}

inline SimKernel elementwise(std::string name, Count elements, std::vector<Stream> streams, double fp32_per_elem, double sfu_per_elem) {
  SimKernel k;
  k.name = std::move(name);
  k.ctas = ceil_div(elements.v, kElemsPerCta);
  const u64 total = elements.v;
  k.program = [=](u64 cta, std::vector<Step>& steps) {
    const u64 e0 = cta * kElemsPerCta, count = min_u(total, e0 + kElemsPerCta) - e0;
    Step st;
    for (const Stream& s : streams) {
      if (s.period == 0) {
        st.add(s.tile, s.base + e0 * s.elem_bytes, count * s.elem_bytes, 1, 0, s.write);
        continue;
      }
      // The distinct elements, from the first one's place in the period, wrapping to its start.
      const u64 first = e0 / s.inner, n = min_u(s.period, (e0 + count - 1) / s.inner - first + 1);
      const u64 at = first % s.period, head = min_u(n, s.period - at);
      st.add(s.tile, s.base + at * s.elem_bytes, head * s.elem_bytes, 1, 0, false);
      st.add(s.tile, s.base, (n - head) * s.elem_bytes, 1, 0, false);
    }
    st.fp32 = fp32_per_elem * static_cast<double>(count);
    st.sfu = sfu_per_elem * static_cast<double>(count);
    steps.push_back(st);
  };
  return k;
}

// What a variant's schedule hook gets: the resolved workload and its closed form (for the choices
// the formula made, such as the split count), the address space and the kernels to append to.
class Scheduler {
public:
  Scheduler(const Device& dev, const Prediction& formula, AddressSpace& as, std::vector<SimKernel>& out)
      : dev_(dev), formula_(formula), as_(as), out_(out) {}
  const Device& dev() const { return dev_; }  // for launch plans the library sizes by the chip's occupancy
  const Prediction& formula() const { return formula_; }
  const Workload& w() const { return formula_.workload; }
  u64 e() const { return dtype_bytes(w().dtype); }
  Shape shape() const { return shape_of(w()); }
  AddressSpace& as() { return as_; }
  std::vector<SimKernel>& out() { return out_; }

private:
  const Device& dev_;
  const Prediction& formula_;
  AddressSpace& as_;
  std::vector<SimKernel>& out_;
};

}  // namespace attnio::detail
