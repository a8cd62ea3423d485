#include "attention_ref.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace attnio::ref {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Allowed and kept by the block-sparse layout.
bool visible(const Attn& a, int i, int j) {
  return a.allowed(i, j) && (!a.block_keep || a.block_keep(i / a.br, j / a.bc));
}

double score(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, int b, int h, int i, int j) {
  double s = 0;
  for (int c = 0; c < a.d; ++c) s += static_cast<double>(q[a.q_index(b, i, h, c)]) * k[a.k_index(b, j, h / a.group(), c)];
  return s * a.softmax_scale();
}

Output empty(const Attn& a) {
  Output out;
  out.o.assign(static_cast<std::size_t>(a.batch) * a.n * a.heads * a.dv, 0.0);
  out.lse.assign(static_cast<std::size_t>(a.batch) * a.heads * a.n, kNegInf);
  return out;
}

// Online-softmax state of one query row.
struct Row {
  double m = kNegInf, l = 0;
  std::vector<double> acc;
};

// Adds keys [j0, j1) to the row's running softmax (FlashAttention-2 §3.1.1) or sigmoid sum.
void absorb(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
            int b, int h, int i, int j0, int j1, Row& r) {
  const int kvh = h / a.group();
  std::vector<double> s(static_cast<std::size_t>(j1 - j0), kNegInf);
  double mx = kNegInf;
  for (int j = j0; j < j1; ++j) {
    if (!visible(a, i, j)) continue;
    s[j - j0] = score(a, q, k, b, h, i, j);
    mx = std::max(mx, s[j - j0]);
  }
  if (mx == kNegInf) return;
  if (a.sigmoid) {
    for (int j = j0; j < j1; ++j) {
      if (s[j - j0] == kNegInf) continue;
      const double p = sigmoid(s[j - j0] + a.sigmoid_bias);
      for (int c = 0; c < a.dv; ++c) r.acc[c] += p * v[a.v_index(b, j, kvh, c)];
    }
    return;
  }
  const double m_new = std::max(r.m, mx);
  const double rescale = r.m == kNegInf ? 0.0 : std::exp(r.m - m_new);
  for (double& x : r.acc) x *= rescale;
  r.l *= rescale;
  for (int j = j0; j < j1; ++j) {
    if (s[j - j0] == kNegInf) continue;
    const double p = std::exp(s[j - j0] - m_new);
    r.l += p;
    for (int c = 0; c < a.dv; ++c) r.acc[c] += p * v[a.v_index(b, j, kvh, c)];
  }
  r.m = m_new;
}

void finish(const Attn& a, const Row& r, int b, int h, int i, Output& out) {
  if (a.sigmoid) {
    for (int c = 0; c < a.dv; ++c) out.o[a.o_index(b, i, h, c)] = r.acc[c];
    out.lse[a.lse_index(b, h, i)] = 0;
    return;
  }
  if (r.l == 0) return;  // no allowed key: O = 0, LSE = -inf
  for (int c = 0; c < a.dv; ++c) out.o[a.o_index(b, i, h, c)] = r.acc[c] / r.l;
  out.lse[a.lse_index(b, h, i)] = r.m + std::log(r.l);
}

}  // namespace

double Attn::softmax_scale() const { return scale != 0 ? scale : 1.0 / std::sqrt(static_cast<double>(d)); }

bool Attn::allowed(int i, int j) const {
  if (j < 0 || j >= nk) return false;
  const int p = i + (nk - n);  // the query's position among the keys
  if ((causal || window > 0) && j > p) return false;
  if (window > 0 && j <= p - window) return false;
  return true;
}

Output direct(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v) {
  Output out = empty(a);
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      for (int i = 0; i < a.n; ++i) {
        std::vector<double> s(static_cast<std::size_t>(a.nk), kNegInf);
        double mx = kNegInf;
        for (int j = 0; j < a.nk; ++j) {
          if (!visible(a, i, j)) continue;
          s[j] = score(a, q, k, b, h, i, j);
          mx = std::max(mx, s[j]);
        }
        if (mx == kNegInf && !a.sigmoid) continue;
        double l = 0;
        std::vector<double> p(static_cast<std::size_t>(a.nk), 0.0);
        for (int j = 0; j < a.nk; ++j) {
          if (s[j] == kNegInf) continue;
          p[j] = a.sigmoid ? sigmoid(s[j] + a.sigmoid_bias) : std::exp(s[j] - mx);
          l += p[j];
        }
        const double norm = a.sigmoid ? 1.0 : l;
        for (int c = 0; c < a.dv; ++c) {
          double o = 0;
          for (int j = 0; j < a.nk; ++j) o += p[j] * v[a.v_index(b, j, h / a.group(), c)];
          out.o[a.o_index(b, i, h, c)] = o / norm;
        }
        out.lse[a.lse_index(b, h, i)] = a.sigmoid ? 0 : mx + std::log(l);
      }
    }
  }
  return out;
}

void apply_output_gate(const std::vector<float>& gate, Output* out) {
  if (gate.size() != out->o.size()) throw std::invalid_argument("apply_output_gate: G has another shape than O");
  for (std::size_t t = 0; t < gate.size(); ++t) out->o[t] *= 1.0 / (1.0 + std::exp(-static_cast<double>(gate[t])));
}

Output flash2(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v) {
  Output out = empty(a);
  const int tc = (a.nk + a.bc - 1) / a.bc;
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      for (int i0 = 0; i0 < a.n; i0 += a.br) {
        const int i1 = std::min(a.n, i0 + a.br);
        std::vector<Row> rows(static_cast<std::size_t>(i1 - i0));
        for (Row& r : rows) r.acc.assign(static_cast<std::size_t>(a.dv), 0.0);
        for (int jb = tc - 1; jb >= 0; --jb) {  // the kernel walks the blocks from the last down
          const int j0 = jb * a.bc, j1 = std::min(a.nk, j0 + a.bc);
          for (int i = i0; i < i1; ++i) absorb(a, q, k, v, b, h, i, j0, j1, rows[i - i0]);
        }
        for (int i = i0; i < i1; ++i) finish(a, rows[i - i0], b, h, i, out);
      }
    }
  }
  return out;
}

Output flash1(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v) {
  Output out = empty(a);
  const int tc = (a.nk + a.bc - 1) / a.bc;
  // Alg. 1 line 2: O = 0, l = 0, m = -inf, kept normalized (line 12) between K/V blocks.
  std::vector<double> l(out.lse.size(), 0.0), m(out.lse.size(), kNegInf);
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      const int kvh = h / a.group();
      for (int jb = 0; jb < tc; ++jb) {
        const int j0 = jb * a.bc, j1 = std::min(a.nk, j0 + a.bc);
        for (int i = 0; i < a.n; ++i) {
          double m_ij = kNegInf;
          std::vector<double> s(static_cast<std::size_t>(j1 - j0), kNegInf);
          for (int j = j0; j < j1; ++j) {
            if (!visible(a, i, j)) continue;
            s[j - j0] = score(a, q, k, b, h, i, j);
            m_ij = std::max(m_ij, s[j - j0]);
          }
          if (m_ij == kNegInf) continue;
          const std::size_t row = a.lse_index(b, h, i);
          std::vector<double> pv(static_cast<std::size_t>(a.dv), 0.0);
          double l_ij = 0;
          for (int j = j0; j < j1; ++j) {
            if (s[j - j0] == kNegInf) continue;
            const double p = a.sigmoid ? sigmoid(s[j - j0] + a.sigmoid_bias) : std::exp(s[j - j0] - m_ij);
            l_ij += p;
            for (int c = 0; c < a.dv; ++c) pv[c] += p * v[a.v_index(b, j, kvh, c)];
          }
          if (a.sigmoid) {
            for (int c = 0; c < a.dv; ++c) out.o[a.o_index(b, i, h, c)] += pv[c];
            continue;
          }
          // Alg. 1 lines 11-13.
          const double m_new = std::max(m[row], m_ij);
          const double old_w = m[row] == kNegInf ? 0.0 : std::exp(m[row] - m_new) * l[row];
          const double new_w = std::exp(m_ij - m_new);
          const double l_new = old_w + new_w * l_ij;
          for (int c = 0; c < a.dv; ++c) {
            double& o = out.o[a.o_index(b, i, h, c)];
            o = (old_w * o + new_w * pv[c]) / l_new;
          }
          l[row] = l_new;
          m[row] = m_new;
        }
      }
    }
  }
  for (std::size_t r = 0; r < l.size(); ++r) {
    if (!a.sigmoid && l[r] > 0) out.lse[r] = m[r] + std::log(l[r]);
    if (a.sigmoid) out.lse[r] = 0;
  }
  return out;
}

Output standard(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v) {
  Output out = empty(a);
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      // S = scale·QK^T for the head, then P = softmax(S) row by row, both materialized.
      std::vector<double> S(static_cast<std::size_t>(a.n) * a.nk), P(S.size(), 0.0);
      for (int i = 0; i < a.n; ++i) {
        for (int j = 0; j < a.nk; ++j) S[static_cast<std::size_t>(i) * a.nk + j] = score(a, q, k, b, h, i, j);
      }
      for (int i = 0; i < a.n; ++i) {
        double mx = kNegInf, l = 0;
        for (int j = 0; j < a.nk; ++j) {
          if (visible(a, i, j)) mx = std::max(mx, S[static_cast<std::size_t>(i) * a.nk + j]);
        }
        if (mx == kNegInf && !a.sigmoid) continue;
        for (int j = 0; j < a.nk; ++j) {
          if (!visible(a, i, j)) continue;
          const double s = S[static_cast<std::size_t>(i) * a.nk + j];
          const double p = a.sigmoid ? sigmoid(s + a.sigmoid_bias) : std::exp(s - mx);
          P[static_cast<std::size_t>(i) * a.nk + j] = p;
          l += p;
        }
        const double norm = a.sigmoid ? 1.0 : l;
        for (int j = 0; j < a.nk; ++j) P[static_cast<std::size_t>(i) * a.nk + j] /= norm;
        out.lse[a.lse_index(b, h, i)] = a.sigmoid ? 0 : mx + std::log(l);
      }
      for (int i = 0; i < a.n; ++i) {
        for (int c = 0; c < a.dv; ++c) {
          double o = 0;
          for (int j = 0; j < a.nk; ++j) o += P[static_cast<std::size_t>(i) * a.nk + j] * v[a.v_index(b, j, h / a.group(), c)];
          out.o[a.o_index(b, i, h, c)] = o;
        }
      }
    }
  }
  return out;
}

Output split_kv(const Attn& a, int splits, const std::vector<float>& q, const std::vector<float>& k,
                const std::vector<float>& v) {
  Output out = empty(a);
  const int blocks = (a.nk + a.bc - 1) / a.bc, per = (blocks + splits - 1) / splits;
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      for (int i = 0; i < a.n; ++i) {
        // Each split: a partial output (normalized) and its log-sum-exp, as the kernel writes them.
        std::vector<std::vector<double>> part;
        std::vector<double> lse;
        for (int sp = 0; sp < splits; ++sp) {
          const int j0 = std::min(a.nk, sp * per * a.bc), j1 = std::min(a.nk, (sp + 1) * per * a.bc);
          Row r;
          r.acc.assign(static_cast<std::size_t>(a.dv), 0.0);
          absorb(a, q, k, v, b, h, i, j0, j1, r);
          if (r.l == 0) continue;
          for (double& x : r.acc) x /= r.l;
          part.push_back(r.acc);
          lse.push_back(r.m + std::log(r.l));
        }
        if (part.empty()) continue;
        // Combine: LSE = log Σ exp(lse_s); O = Σ exp(lse_s - LSE) O_s.
        const double mx = *std::max_element(lse.begin(), lse.end());
        double sum = 0;
        for (double x : lse) sum += std::exp(x - mx);
        const double total = mx + std::log(sum);
        for (std::size_t sp = 0; sp < part.size(); ++sp) {
          const double w = std::exp(lse[sp] - total);
          for (int c = 0; c < a.dv; ++c) out.o[a.o_index(b, i, h, c)] += w * part[sp][c];
        }
        out.lse[a.lse_index(b, h, i)] = total;
      }
    }
  }
  return out;
}

Output paged(const Attn& a, int page_size, const std::vector<int>& block_table, const std::vector<float>& k_cache,
             const std::vector<float>& v_cache, const std::vector<float>& q) {
  // Gather each sequence's keys through the block table into the contiguous layout, then attend.
  const int pages = (a.nk + page_size - 1) / page_size;
  std::vector<float> k(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.d);
  std::vector<float> v(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.dv);
  for (int b = 0; b < a.batch; ++b) {
    for (int j = 0; j < a.nk; ++j) {
      const int phys = block_table[static_cast<std::size_t>(b) * pages + j / page_size], slot = j % page_size;
      for (int h = 0; h < a.kv_heads; ++h) {
        const std::size_t base = (static_cast<std::size_t>(phys) * a.kv_heads + h) * page_size + slot;
        for (int c = 0; c < a.d; ++c) k[a.k_index(b, j, h, c)] = k_cache[base * a.d + c];
        for (int c = 0; c < a.dv; ++c) v[a.v_index(b, j, h, c)] = v_cache[base * a.dv + c];
      }
    }
  }
  return flash2(a, q, k, v);
}

Output chunked(const Attn& a, int chunk, const std::vector<float>& q, const std::vector<float>& k,
               const std::vector<float>& v) {
  Output out = empty(a);
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      const int kvh = h / a.group();
      for (int i = 0; i < a.n; ++i) {
        // Rabe & Staats Fig. 1, summarize_chunk per key chunk: exp values, sums and the chunk max.
        std::vector<std::vector<double>> values;
        std::vector<double> sums, maxes;
        for (int j0 = 0; j0 < a.nk; j0 += chunk) {
          const int j1 = std::min(a.nk, j0 + chunk);
          double mx = kNegInf;
          for (int j = j0; j < j1; ++j) {
            if (visible(a, i, j)) mx = std::max(mx, score(a, q, k, b, h, i, j));
          }
          if (mx == kNegInf) continue;
          std::vector<double> val(static_cast<std::size_t>(a.dv), 0.0);
          double sum = 0;
          for (int j = j0; j < j1; ++j) {
            if (!visible(a, i, j)) continue;
            const double e = std::exp(score(a, q, k, b, h, i, j) - mx);
            sum += e;
            for (int c = 0; c < a.dv; ++c) val[c] += e * v[a.v_index(b, j, kvh, c)];
          }
          values.push_back(val);
          sums.push_back(sum);
          maxes.push_back(mx);
        }
        if (values.empty()) continue;
        // Combine: rescale every chunk to the global max.
        const double g = *std::max_element(maxes.begin(), maxes.end());
        double total = 0;
        std::vector<double> o(static_cast<std::size_t>(a.dv), 0.0);
        for (std::size_t t = 0; t < values.size(); ++t) {
          const double w = std::exp(maxes[t] - g);
          total += w * sums[t];
          for (int c = 0; c < a.dv; ++c) o[c] += w * values[t][c];
        }
        for (int c = 0; c < a.dv; ++c) out.o[a.o_index(b, i, h, c)] = o[c] / total;
        out.lse[a.lse_index(b, h, i)] = g + std::log(total);
      }
    }
  }
  return out;
}

Grads backward_direct(const Attn& a, const std::vector<float>& q, const std::vector<float>& k,
                      const std::vector<float>& v, const std::vector<float>& dout) {
  Grads g;
  g.dq.assign(q.size(), 0.0);
  g.dk.assign(k.size(), 0.0);
  g.dv.assign(v.size(), 0.0);
  const double scale = a.softmax_scale();
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      const int kvh = h / a.group();
      for (int i = 0; i < a.n; ++i) {
        std::vector<double> s(static_cast<std::size_t>(a.nk), kNegInf), p(s.size(), 0.0), dp(s.size(), 0.0);
        double mx = kNegInf, l = 0;
        for (int j = 0; j < a.nk; ++j) {
          if (!visible(a, i, j)) continue;
          s[j] = score(a, q, k, b, h, i, j);
          mx = std::max(mx, s[j]);
        }
        if (mx == kNegInf) continue;
        for (int j = 0; j < a.nk; ++j) {
          if (s[j] == kNegInf) continue;
          p[j] = a.sigmoid ? sigmoid(s[j] + a.sigmoid_bias) : std::exp(s[j] - mx);
          l += p[j];
        }
        if (!a.sigmoid) {
          for (double& x : p) x /= l;
        }
        // dP_ij = dO_i · V_j; D_i = Σ_j P_ij dP_ij (= rowsum(dO ∘ O)).
        double D = 0;
        for (int j = 0; j < a.nk; ++j) {
          if (s[j] == kNegInf) continue;
          for (int c = 0; c < a.dv; ++c) dp[j] += static_cast<double>(dout[a.o_index(b, i, h, c)]) * v[a.v_index(b, j, kvh, c)];
          D += p[j] * dp[j];
        }
        for (int j = 0; j < a.nk; ++j) {
          if (s[j] == kNegInf) continue;
          // Softmax: dS = P (dP - D). Sigmoid: dS = dP sigma (1 - sigma).
          const double ds = a.sigmoid ? dp[j] * p[j] * (1 - p[j]) : p[j] * (dp[j] - D);
          for (int c = 0; c < a.d; ++c) {
            g.dq[a.q_index(b, i, h, c)] += scale * ds * k[a.k_index(b, j, kvh, c)];
            g.dk[a.k_index(b, j, kvh, c)] += scale * ds * q[a.q_index(b, i, h, c)];
          }
          for (int c = 0; c < a.dv; ++c) g.dv[a.v_index(b, j, kvh, c)] += p[j] * dout[a.o_index(b, i, h, c)];
        }
      }
    }
  }
  return g;
}

Grads backward_tiled(const Attn& a, const std::vector<float>& q, const std::vector<float>& k,
                     const std::vector<float>& v, const std::vector<float>& dout) {
  // Forward statistics as the forward kernel stores them, and D = rowsum(dO ∘ O) (the preprocess).
  const Output fwd = flash2(a, q, k, v);
  std::vector<double> D(fwd.lse.size(), 0.0);
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      for (int i = 0; i < a.n; ++i) {
        for (int c = 0; c < a.dv; ++c) D[a.lse_index(b, h, i)] += dout[a.o_index(b, i, h, c)] * fwd.o[a.o_index(b, i, h, c)];
      }
    }
  }
  Grads g;
  g.dq.assign(q.size(), 0.0);
  g.dk.assign(k.size(), 0.0);
  g.dv.assign(v.size(), 0.0);
  const double scale = a.softmax_scale();
  const int tc = (a.nk + a.bc - 1) / a.bc;
  for (int b = 0; b < a.batch; ++b) {
    for (int h = 0; h < a.heads; ++h) {
      const int kvh = h / a.group();
      for (int jb = 0; jb < tc; ++jb) {  // one CTA per K/V block
        const int j0 = jb * a.bc, j1 = std::min(a.nk, j0 + a.bc);
        for (int i = a.n - 1; i >= 0; --i) {  // Q blocks from the last down, a row at a time here
          const double lse = fwd.lse[a.lse_index(b, h, i)];
          for (int j = j0; j < j1; ++j) {
            if (!visible(a, i, j)) continue;
            const double s = score(a, q, k, b, h, i, j);
            const double p = a.sigmoid ? sigmoid(s + a.sigmoid_bias) : std::exp(s - lse);  // P recomputed
            double dp = 0;
            for (int c = 0; c < a.dv; ++c) {
              dp += static_cast<double>(dout[a.o_index(b, i, h, c)]) * v[a.v_index(b, j, kvh, c)];
              g.dv[a.v_index(b, j, kvh, c)] += p * dout[a.o_index(b, i, h, c)];
            }
            const double ds = a.sigmoid ? dp * p * (1 - p) : p * (dp - D[a.lse_index(b, h, i)]);
            for (int c = 0; c < a.d; ++c) {
              g.dq[a.q_index(b, i, h, c)] += scale * ds * k[a.k_index(b, j, kvh, c)];
              g.dk[a.k_index(b, j, kvh, c)] += scale * ds * q[a.q_index(b, i, h, c)];
            }
          }
        }
      }
    }
  }
  return g;
}

namespace {

double mla_scale(const Mla& m) { return m.scale != 0 ? m.scale : 1.0 / std::sqrt(static_cast<double>(m.dn + m.dr)); }

std::vector<double> softmax_attend(const std::vector<double>& s, const std::vector<std::vector<double>>& values, int width) {
  const double mx = *std::max_element(s.begin(), s.end());
  double l = 0;
  std::vector<double> o(static_cast<std::size_t>(width), 0.0);
  for (std::size_t j = 0; j < s.size(); ++j) {
    const double p = std::exp(s[j] - mx);
    l += p;
    for (int c = 0; c < width; ++c) o[c] += p * values[j][c];
  }
  for (double& x : o) x /= l;
  return o;
}

}  // namespace

std::vector<double> mla_absorbed(const Mla& m, const std::vector<float>& q_nope, const std::vector<float>& q_rope,
                                 const std::vector<float>& latent, const std::vector<float>& rope,
                                 const std::vector<float>& w_uk, const std::vector<float>& w_uv) {
  std::vector<double> out(static_cast<std::size_t>(m.batch) * m.heads * m.dv, 0.0);
  for (int b = 0; b < m.batch; ++b) {
    std::vector<std::vector<double>> cache(static_cast<std::size_t>(m.nk));  // the latent part, values
    for (int j = 0; j < m.nk; ++j) {
      cache[j].resize(static_cast<std::size_t>(m.dc));
      for (int c = 0; c < m.dc; ++c) cache[j][c] = latent[(static_cast<std::size_t>(b) * m.nk + j) * m.dc + c];
    }
    for (int h = 0; h < m.heads; ++h) {
      // W^UK absorbed into the query: q_lat = W_UK q_nope (DeepSeek-V2 §2.1.2).
      std::vector<double> q_lat(static_cast<std::size_t>(m.dc), 0.0);
      for (int c = 0; c < m.dc; ++c) {
        for (int n = 0; n < m.dn; ++n) {
          q_lat[c] += static_cast<double>(w_uk[(static_cast<std::size_t>(h) * m.dc + c) * m.dn + n]) *
                      q_nope[(static_cast<std::size_t>(b) * m.heads + h) * m.dn + n];
        }
      }
      std::vector<double> s(static_cast<std::size_t>(m.nk), 0.0);
      for (int j = 0; j < m.nk; ++j) {
        double x = 0;
        for (int c = 0; c < m.dc; ++c) x += q_lat[c] * cache[j][c];
        for (int r = 0; r < m.dr; ++r) {
          x += static_cast<double>(q_rope[(static_cast<std::size_t>(b) * m.heads + h) * m.dr + r]) *
               rope[(static_cast<std::size_t>(b) * m.nk + j) * m.dr + r];
        }
        s[j] = x * mla_scale(m);
      }
      const std::vector<double> o_lat = softmax_attend(s, cache, m.dc);
      for (int c = 0; c < m.dv; ++c) {  // W^UV applied after attention
        double x = 0;
        for (int l = 0; l < m.dc; ++l) x += o_lat[l] * w_uv[(static_cast<std::size_t>(h) * m.dc + l) * m.dv + c];
        out[(static_cast<std::size_t>(b) * m.heads + h) * m.dv + c] = x;
      }
    }
  }
  return out;
}

std::vector<double> mla_direct(const Mla& m, const std::vector<float>& q_nope, const std::vector<float>& q_rope,
                               const std::vector<float>& latent, const std::vector<float>& rope,
                               const std::vector<float>& w_uk, const std::vector<float>& w_uv) {
  std::vector<double> out(static_cast<std::size_t>(m.batch) * m.heads * m.dv, 0.0);
  for (int b = 0; b < m.batch; ++b) {
    for (int h = 0; h < m.heads; ++h) {
      // Up-project every cached token: k = [W_UK^T c; kr], v = W_UV^T c (DeepSeek-V2 eq. 10-13).
      std::vector<double> s(static_cast<std::size_t>(m.nk), 0.0);
      std::vector<std::vector<double>> vals(static_cast<std::size_t>(m.nk));
      for (int j = 0; j < m.nk; ++j) {
        const float* c = &latent[(static_cast<std::size_t>(b) * m.nk + j) * m.dc];
        double x = 0;
        for (int n = 0; n < m.dn; ++n) {
          double kn = 0;
          for (int l = 0; l < m.dc; ++l) kn += static_cast<double>(w_uk[(static_cast<std::size_t>(h) * m.dc + l) * m.dn + n]) * c[l];
          x += kn * q_nope[(static_cast<std::size_t>(b) * m.heads + h) * m.dn + n];
        }
        for (int r = 0; r < m.dr; ++r) {
          x += static_cast<double>(q_rope[(static_cast<std::size_t>(b) * m.heads + h) * m.dr + r]) *
               rope[(static_cast<std::size_t>(b) * m.nk + j) * m.dr + r];
        }
        s[j] = x * mla_scale(m);
        vals[j].assign(static_cast<std::size_t>(m.dv), 0.0);
        for (int cv = 0; cv < m.dv; ++cv) {
          for (int l = 0; l < m.dc; ++l) vals[j][cv] += static_cast<double>(w_uv[(static_cast<std::size_t>(h) * m.dc + l) * m.dv + cv]) * c[l];
        }
      }
      const std::vector<double> o = softmax_attend(s, vals, m.dv);
      for (int cv = 0; cv < m.dv; ++cv) out[(static_cast<std::size_t>(b) * m.heads + h) * m.dv + cv] = o[cv];
    }
  }
  return out;
}

}  // namespace attnio::ref
