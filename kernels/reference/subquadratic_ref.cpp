#include "subquadratic_ref.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <random>

namespace attnio::ref {

namespace {

constexpr double kPi = 3.14159265358979323846;

std::size_t qi(const Linear& a, int b, int i, int h, int c, int w) { return ((static_cast<std::size_t>(b) * a.n + i) * a.heads + h) * w + c; }
std::size_t ki(const Linear& a, int b, int i, int h, int c, int w) { return ((static_cast<std::size_t>(b) * a.n + i) * a.kv_heads + h) * w + c; }

// Features of q and k (elu + 1) as doubles, in the input layouts.
std::vector<double> elu_features(const std::vector<float>& x) {
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = elu1(x[i]);
  return out;
}

}  // namespace

double elu1(double x) { return x > 0 ? x + 1 : std::exp(x); }

std::vector<double> linear_features(const Linear& a, int f, const std::vector<double>& pq, const std::vector<double>& pk,
                                    const std::vector<float>& v) {
  std::vector<double> o(static_cast<std::size_t>(a.batch) * a.n * a.heads * a.dv, 0.0);
  const int g = a.heads / a.kv_heads;
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      for (int i = 0; i < a.n; ++i) {
        double den = 0;
        std::vector<double> num(static_cast<std::size_t>(a.dv), 0.0);
        for (int j = 0; j < (a.causal ? i + 1 : a.n); ++j) {
          double w = 0;
          for (int c = 0; c < f; ++c) w += pq[qi(a, b, i, h, c, f)] * pk[ki(a, b, j, h / g, c, f)];
          den += w;
          for (int c = 0; c < a.dv; ++c) num[c] += w * v[ki(a, b, j, h / g, c, a.dv)];
        }
        for (int c = 0; c < a.dv; ++c) o[qi(a, b, i, h, c, a.dv)] = num[c] / den;
      }
    }
  }
  return o;
}

std::vector<double> linear_direct(const Linear& a, const std::vector<float>& q, const std::vector<float>& k,
                                  const std::vector<float>& v) {
  return linear_features(a, a.d, elu_features(q), elu_features(k), v);
}

std::vector<double> linear_chunked(const Linear& a, int chunk, const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v) {
  const std::vector<double> pq = elu_features(q), pk = elu_features(k);
  std::vector<double> o(static_cast<std::size_t>(a.batch) * a.n * a.heads * a.dv, 0.0);
  const int g = a.heads / a.kv_heads, f = a.d;
  for (int b = 0; b < a.batch; ++b) {
    for (int kvh = 0; kvh < a.kv_heads; ++kvh) {
      // The state of the K/V head, shared by its query heads.
      std::vector<double> S(static_cast<std::size_t>(f) * a.dv, 0.0), z(static_cast<std::size_t>(f), 0.0);
      if (!a.causal) {
        for (int j = 0; j < a.n; ++j) {
          for (int c = 0; c < f; ++c) {
            z[c] += pk[ki(a, b, j, kvh, c, f)];
            for (int e = 0; e < a.dv; ++e) S[c * a.dv + e] += pk[ki(a, b, j, kvh, c, f)] * v[ki(a, b, j, kvh, e, a.dv)];
          }
        }
      }
      for (int t0 = 0; t0 < a.n; t0 += chunk) {
        const int t1 = std::min(a.n, t0 + chunk);
        for (int h = kvh * g; h < (kvh + 1) * g; ++h) {
          for (int i = t0; i < t1; ++i) {
            // Inter-chunk: phi(q) S and phi(q)·z; intra-chunk: the masked C x C product.
            double den = 0;
            std::vector<double> num(static_cast<std::size_t>(a.dv), 0.0);
            for (int c = 0; c < f; ++c) {
              const double x = pq[qi(a, b, i, h, c, f)];
              den += x * z[c];
              for (int e = 0; e < a.dv; ++e) num[e] += x * S[c * a.dv + e];
            }
            for (int j = t0; a.causal && j <= i; ++j) {
              double w = 0;
              for (int c = 0; c < f; ++c) w += pq[qi(a, b, i, h, c, f)] * pk[ki(a, b, j, kvh, c, f)];
              den += w;
              for (int e = 0; e < a.dv; ++e) num[e] += w * v[ki(a, b, j, kvh, e, a.dv)];
            }
            for (int e = 0; e < a.dv; ++e) o[qi(a, b, i, h, e, a.dv)] = num[e] / den;
          }
        }
        if (!a.causal) continue;
        for (int j = t0; j < t1; ++j) {  // S += phi(K)^T V, z += Σ phi(k) for the chunk
          for (int c = 0; c < f; ++c) {
            z[c] += pk[ki(a, b, j, kvh, c, f)];
            for (int e = 0; e < a.dv; ++e) S[c * a.dv + e] += pk[ki(a, b, j, kvh, c, f)] * v[ki(a, b, j, kvh, e, a.dv)];
          }
        }
      }
    }
  }
  return o;
}

std::vector<double> favor_projection(int r, int d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> w(static_cast<std::size_t>(r) * d);
  for (int block = 0; block * d < r; ++block) {
    // d Gaussian rows, Gram-Schmidt orthonormalized, each then scaled by the norm of a fresh
    // Gaussian d-vector (chi(d)), so rows are marginally N(0, I) but mutually orthogonal.
    std::vector<std::vector<double>> rows(static_cast<std::size_t>(d), std::vector<double>(static_cast<std::size_t>(d)));
    for (auto& row : rows) {
      for (double& x : row) x = normal(rng);
    }
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j < i; ++j) {
        double dot = 0;
        for (int c = 0; c < d; ++c) dot += rows[i][c] * rows[j][c];
        for (int c = 0; c < d; ++c) rows[i][c] -= dot * rows[j][c];
      }
      double norm = 0;
      for (double x : rows[i]) norm += x * x;
      norm = std::sqrt(norm);
      for (double& x : rows[i]) x /= norm;
    }
    for (int i = 0; i < d && block * d + i < r; ++i) {
      double chi = 0;
      for (int c = 0; c < d; ++c) chi += std::pow(normal(rng), 2);
      chi = std::sqrt(chi);
      for (int c = 0; c < d; ++c) w[static_cast<std::size_t>(block * d + i) * d + c] = rows[i][c] * chi;
    }
  }
  return w;
}

std::vector<double> favor_features(const std::vector<float>& x, int rows, int d, const std::vector<double>& omega, int r) {
  std::vector<double> phi(static_cast<std::size_t>(rows) * r);
  const double s = std::pow(static_cast<double>(d), -0.25);
  for (int i = 0; i < rows; ++i) {
    double norm = 0;
    for (int c = 0; c < d; ++c) norm += std::pow(s * x[static_cast<std::size_t>(i) * d + c], 2);
    for (int f = 0; f < r; ++f) {
      double dot = 0;
      for (int c = 0; c < d; ++c) dot += omega[static_cast<std::size_t>(f) * d + c] * s * x[static_cast<std::size_t>(i) * d + c];
      phi[static_cast<std::size_t>(i) * r + f] = std::exp(dot - norm / 2) / std::sqrt(static_cast<double>(r));
    }
  }
  return phi;
}

std::vector<double> scan_sequential(const Scan& s, const std::vector<float>& x, const std::vector<float>& delta,
                                    const std::vector<float>& a, const std::vector<float>& bm, const std::vector<float>& cm) {
  std::vector<double> y(static_cast<std::size_t>(s.batch) * s.channels * s.length, 0.0);
  for (int b = 0; b < s.batch; ++b) {
    for (int d = 0; d < s.channels; ++d) {
      std::vector<double> h(static_cast<std::size_t>(s.states), 0.0);
      for (int t = 0; t < s.length; ++t) {
        const std::size_t xt = (static_cast<std::size_t>(b) * s.channels + d) * s.length + t;
        double out = 0;
        for (int n = 0; n < s.states; ++n) {
          const std::size_t bt = (static_cast<std::size_t>(b) * s.states + n) * s.length + t;
          h[n] = std::exp(static_cast<double>(delta[xt]) * a[static_cast<std::size_t>(d) * s.states + n]) * h[n] +
                 static_cast<double>(delta[xt]) * bm[bt] * x[xt];
          out += static_cast<double>(cm[bt]) * h[n];
        }
        y[xt] = out;
      }
    }
  }
  return y;
}

std::vector<double> scan_chunked(const Scan& s, int chunk, int threads, const std::vector<float>& x,
                                 const std::vector<float>& delta, const std::vector<float>& a,
                                 const std::vector<float>& bm, const std::vector<float>& cm) {
  std::vector<double> y(static_cast<std::size_t>(s.batch) * s.channels * s.length, 0.0);
  const int items = (chunk + threads - 1) / threads;
  for (int b = 0; b < s.batch; ++b) {
    for (int d = 0; d < s.channels; ++d) {
      const std::size_t row = (static_cast<std::size_t>(b) * s.channels + d) * s.length;
      for (int n = 0; n < s.states; ++n) {
        const double an = a[static_cast<std::size_t>(d) * s.states + n];
        const std::size_t brow = (static_cast<std::size_t>(b) * s.states + n) * s.length;
        double carry = 0;  // h before the chunk
        for (int c0 = 0; c0 < s.length; c0 += chunk) {
          // Each thread's run reduced to (prod a, accumulated b); an exclusive scan gives each run the
          // state entering it; then each run replays its tokens.
          std::vector<double> pa(static_cast<std::size_t>(threads), 1.0), pb(static_cast<std::size_t>(threads), 0.0);
          for (int th = 0; th < threads; ++th) {
            for (int t = c0 + th * items; t < std::min({s.length, c0 + chunk, c0 + (th + 1) * items}); ++t) {
              const double at = std::exp(static_cast<double>(delta[row + t]) * an);
              const double bt = static_cast<double>(delta[row + t]) * bm[brow + t] * x[row + t];
              pa[th] *= at;
              pb[th] = at * pb[th] + bt;
            }
          }
          double run_a = 1, run_b = 0;  // prefix of the runs before this thread, applied to carry
          for (int th = 0; th < threads; ++th) {
            double h = run_a * carry + run_b;
            for (int t = c0 + th * items; t < std::min({s.length, c0 + chunk, c0 + (th + 1) * items}); ++t) {
              h = std::exp(static_cast<double>(delta[row + t]) * an) * h + static_cast<double>(delta[row + t]) * bm[brow + t] * x[row + t];
              y[row + t] += static_cast<double>(cm[brow + t]) * h;
            }
            run_b = pa[th] * run_b + pb[th];
            run_a *= pa[th];
          }
          carry = run_a * carry + run_b;
        }
      }
    }
  }
  return y;
}

std::vector<double> scan_materialized(const Scan& s, const std::vector<float>& x, const std::vector<float>& delta,
                                      const std::vector<float>& a, const std::vector<float>& bm,
                                      const std::vector<float>& cm) {
  const std::size_t big = static_cast<std::size_t>(s.batch) * s.channels * s.length * s.states;
  std::vector<double> abar(big), bx(big), h(big);
  auto at = [&](int b, int d, int t, int n) { return ((static_cast<std::size_t>(b) * s.channels + d) * s.length + t) * s.states + n; };
  for (int b = 0; b < s.batch; ++b) {
    for (int d = 0; d < s.channels; ++d) {
      for (int t = 0; t < s.length; ++t) {
        const std::size_t xt = (static_cast<std::size_t>(b) * s.channels + d) * s.length + t;
        for (int n = 0; n < s.states; ++n) {
          abar[at(b, d, t, n)] = std::exp(static_cast<double>(delta[xt]) * a[static_cast<std::size_t>(d) * s.states + n]);
          bx[at(b, d, t, n)] = static_cast<double>(delta[xt]) * bm[(static_cast<std::size_t>(b) * s.states + n) * s.length + t] * x[xt];
        }
      }
    }
  }
  for (int b = 0; b < s.batch; ++b) {
    for (int d = 0; d < s.channels; ++d) {
      for (int n = 0; n < s.states; ++n) {
        double state = 0;
        for (int t = 0; t < s.length; ++t) h[at(b, d, t, n)] = state = abar[at(b, d, t, n)] * state + bx[at(b, d, t, n)];
      }
    }
  }
  std::vector<double> y(static_cast<std::size_t>(s.batch) * s.channels * s.length, 0.0);
  for (int b = 0; b < s.batch; ++b) {
    for (int d = 0; d < s.channels; ++d) {
      for (int t = 0; t < s.length; ++t) {
        for (int n = 0; n < s.states; ++n) {
          y[(static_cast<std::size_t>(b) * s.channels + d) * s.length + t] +=
              static_cast<double>(cm[(static_cast<std::size_t>(b) * s.states + n) * s.length + t]) * h[at(b, d, t, n)];
        }
      }
    }
  }
  return y;
}

double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

namespace {

// Indices into the SSD layouts.
std::size_t ssd_x(const Ssd& s, int b, int t, int h, int p) {
  return ((static_cast<std::size_t>(b) * s.length + t) * s.heads + h) * s.head_dim + p;
}
std::size_t ssd_bc(const Ssd& s, int b, int t, int g, int n) {
  return ((static_cast<std::size_t>(b) * s.length + t) * s.groups + g) * s.states + n;
}
std::size_t ssd_dt(const Ssd& s, int b, int t, int h) { return (static_cast<std::size_t>(b) * s.length + t) * s.heads + h; }
int ssd_group(const Ssd& s, int h) { return h / (s.heads / s.groups); }

}  // namespace

std::vector<double> ssd_recurrent(const Ssd& s, const SsdInputs& in) {
  std::vector<double> y(static_cast<std::size_t>(s.batch) * s.length * s.heads * s.head_dim, 0.0);
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const int g = ssd_group(s, h);
      std::vector<double> state(static_cast<std::size_t>(s.head_dim) * s.states, 0.0);  // [P][N]
      for (int t = 0; t < s.length; ++t) {
        const double dt = softplus(static_cast<double>(in.dt[ssd_dt(s, b, t, h)]) + in.dt_bias[h]);
        const double decay = std::exp(dt * in.a[h]);
        for (int p = 0; p < s.head_dim; ++p) {
          const double x = in.x[ssd_x(s, b, t, h, p)];
          double out = in.d[h] * x;
          for (int n = 0; n < s.states; ++n) {
            double& st = state[static_cast<std::size_t>(p) * s.states + n];
            st = decay * st + dt * in.bm[ssd_bc(s, b, t, g, n)] * x;
            out += static_cast<double>(in.cm[ssd_bc(s, b, t, g, n)]) * st;
          }
          y[ssd_x(s, b, t, h, p)] = out;
        }
      }
    }
  }
  return y;
}

std::vector<double> ssd_chunked(const Ssd& s, int chunk, const SsdInputs& in) {
  const int q = std::min(chunk, s.length), chunks = (s.length + q - 1) / q;
  const std::size_t pn = static_cast<std::size_t>(s.head_dim) * s.states;
  // 1. dt and the running sum of dt A inside each chunk, [B][H][chunks][Q]; past the sequence's end
  //    dt is 0 and the sum stays put, so [Q - 1] is the chunk's total.
  std::vector<double> dt(static_cast<std::size_t>(s.batch) * s.heads * chunks * q, 0.0), da_cs(dt.size(), 0.0);
  auto stat = [&](int b, int h, int c, int i) { return ((static_cast<std::size_t>(b) * s.heads + h) * chunks + c) * q + i; };
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      for (int c = 0; c < chunks; ++c) {
        double run = 0;
        for (int i = 0; i < q; ++i) {
          const int t = c * q + i;
          const double v = t < s.length ? softplus(static_cast<double>(in.dt[ssd_dt(s, b, t, h)]) + in.dt_bias[h]) : 0.0;
          dt[stat(b, h, c, i)] = v;
          da_cs[stat(b, h, c, i)] = run += v * in.a[h];
        }
      }
    }
  }
  // 2. Each chunk's final state from a zero start: Σ_i exp(dA_cs[Q-1] - dA_cs[i]) dt_i x_i B_iᵀ,
  //    [B][chunks][H][P][N].
  std::vector<double> states(static_cast<std::size_t>(s.batch) * chunks * s.heads * pn, 0.0);
  auto state_at = [&](int b, int c, int h) { return ((static_cast<std::size_t>(b) * chunks + c) * s.heads + h) * pn; };
  for (int b = 0; b < s.batch; ++b) {
    for (int c = 0; c < chunks; ++c) {
      for (int h = 0; h < s.heads; ++h) {
        const int g = ssd_group(s, h);
        const double last = da_cs[stat(b, h, c, q - 1)];
        for (int i = 0; i < q && c * q + i < s.length; ++i) {
          const int t = c * q + i;
          const double w = std::exp(last - da_cs[stat(b, h, c, i)]) * dt[stat(b, h, c, i)];
          for (int p = 0; p < s.head_dim; ++p) {
            for (int n = 0; n < s.states; ++n) {
              states[state_at(b, c, h) + static_cast<std::size_t>(p) * s.states + n] +=
                  w * in.x[ssd_x(s, b, t, h, p)] * in.bm[ssd_bc(s, b, t, g, n)];
            }
          }
        }
      }
    }
  }
  // 3. The state entering each chunk: zero for the first, then exp(chunk total) times the previous
  //    entering state plus the previous chunk's own.
  std::vector<double> passed(states.size(), 0.0);
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      for (int c = 1; c < chunks; ++c) {
        const double decay = std::exp(da_cs[stat(b, h, c - 1, q - 1)]);
        for (std::size_t e = 0; e < pn; ++e) {
          passed[state_at(b, c, h) + e] = decay * passed[state_at(b, c - 1, h) + e] + states[state_at(b, c - 1, h) + e];
        }
      }
    }
  }
  // 4. C Bᵀ per chunk and group, [B][chunks][G][Q][Q].
  std::vector<double> cb(static_cast<std::size_t>(s.batch) * chunks * s.groups * q * q, 0.0);
  auto cb_at = [&](int b, int c, int g, int i, int j) {
    return (((static_cast<std::size_t>(b) * chunks + c) * s.groups + g) * q + i) * q + j;
  };
  for (int b = 0; b < s.batch; ++b) {
    for (int c = 0; c < chunks; ++c) {
      for (int g = 0; g < s.groups; ++g) {
        for (int i = 0; i < q && c * q + i < s.length; ++i) {
          for (int j = 0; j < q && c * q + j < s.length; ++j) {
            double v = 0;
            for (int n = 0; n < s.states; ++n) {
              v += static_cast<double>(in.cm[ssd_bc(s, b, c * q + i, g, n)]) * in.bm[ssd_bc(s, b, c * q + j, g, n)];
            }
            cb[cb_at(b, c, g, i, j)] = v;
          }
        }
      }
    }
  }
  // 5. The outputs: exp(dA_cs_i) C_i·(entering state) + Σ_{j<=i} CB_ij exp(dA_cs_i - dA_cs_j) dt_j x_j + D x_i.
  std::vector<double> y(static_cast<std::size_t>(s.batch) * s.length * s.heads * s.head_dim, 0.0);
  for (int b = 0; b < s.batch; ++b) {
    for (int c = 0; c < chunks; ++c) {
      for (int h = 0; h < s.heads; ++h) {
        const int g = ssd_group(s, h);
        for (int i = 0; i < q && c * q + i < s.length; ++i) {
          const int t = c * q + i;
          const double da_i = da_cs[stat(b, h, c, i)];
          for (int p = 0; p < s.head_dim; ++p) {
            double inter = 0;
            for (int n = 0; n < s.states; ++n) {
              inter += static_cast<double>(in.cm[ssd_bc(s, b, t, g, n)]) * passed[state_at(b, c, h) + static_cast<std::size_t>(p) * s.states + n];
            }
            double intra = 0;
            for (int j = 0; j <= i; ++j) {
              intra += cb[cb_at(b, c, g, i, j)] * std::exp(da_i - da_cs[stat(b, h, c, j)]) * dt[stat(b, h, c, j)] *
                       in.x[ssd_x(s, b, c * q + j, h, p)];
            }
            y[ssd_x(s, b, t, h, p)] = std::exp(da_i) * inter + intra + static_cast<double>(in.d[h]) * in.x[ssd_x(s, b, t, h, p)];
          }
        }
      }
    }
  }
  return y;
}

std::vector<double> fnet_separable(int batch, int n, int hidden, const std::vector<float>& x) {
  std::vector<double> y(x.size());
  for (int b = 0; b < batch; ++b) {
    // DFT over the hidden size, row by row, then over the sequence, column by column.
    std::vector<std::complex<double>> t(static_cast<std::size_t>(n) * hidden);
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < hidden; ++k) {
        std::complex<double> acc = 0;
        for (int m = 0; m < hidden; ++m) {
          acc += static_cast<double>(x[(static_cast<std::size_t>(b) * n + i) * hidden + m]) * std::polar(1.0, -2 * kPi * k * m / hidden);
        }
        t[static_cast<std::size_t>(i) * hidden + k] = acc;
      }
    }
    for (int k = 0; k < hidden; ++k) {
      for (int i = 0; i < n; ++i) {
        std::complex<double> acc = 0;
        for (int j = 0; j < n; ++j) acc += t[static_cast<std::size_t>(j) * hidden + k] * std::polar(1.0, -2 * kPi * i * j / n);
        y[(static_cast<std::size_t>(b) * n + i) * hidden + k] = acc.real();
      }
    }
  }
  return y;
}

std::vector<double> fnet_direct(int batch, int n, int hidden, const std::vector<float>& x) {
  std::vector<double> y(x.size());
  for (int b = 0; b < batch; ++b) {
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < hidden; ++k) {
        // Re Σ_j Σ_m x_jm e^{-2πi(ij/N + km/D)} = Σ x_jm cos(2π(ij/N + km/D)).
        double acc = 0;
        for (int j = 0; j < n; ++j) {
          for (int m = 0; m < hidden; ++m) {
            acc += static_cast<double>(x[(static_cast<std::size_t>(b) * n + j) * hidden + m]) *
                   std::cos(2 * kPi * (static_cast<double>(i) * j / n + static_cast<double>(k) * m / hidden));
          }
        }
        y[(static_cast<std::size_t>(b) * n + i) * hidden + k] = acc;
      }
    }
  }
  return y;
}

}  // namespace attnio::ref
