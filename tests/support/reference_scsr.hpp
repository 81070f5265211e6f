#pragma once
// A deliberately naive reference of the ScSr-SNN of Zhang & Li (spec
// /work/shared/spec/scsr-snn.md, sections 1-3 and 9) as the library builds it from
// NetworkConfig: per sample, per step, per neuron loops that follow the spec's equations
// literally. It shares no code with the library's layer, neuron, PSC or readout code (not
// even the smooth spike function, written here from the spec's section 9), so agreement
// is evidence for both. Only the parameter layout (names, shapes, row-major order) is
// taken from the library.
//
//   input filter (input_psc)  a^0_t = kappa a^0_{t-1} + c x_t            (else a^0_t = x_t)
//   hidden layer l            J_t = W a^{l-1}_t + b + sum_j W_{from j} a^j_t
//                                   + sum_lag c_lag W_rec a^l_{t-lag}  (SRC / ASRC / vanilla)
//                                   + w_s (.) a^l_{t-1}                 (self-recurrence)
//                             u_t = theta_h u'_{t-1} + J_t,  s_t = S(u_t - V_th),
//                             u'_t = u_t (1 - s_t)                      (hard reset)
//                             a_t = kappa a_{t-1} + c s_t               (PSC; else a_t = s_t)
//   output layer ("output")   the same with J_t = W a^L_t (+ b), no recurrence, no self-loop
//   loss                      mean over the batch of -log softmax(sum_t a^out_t)[label];
//                             spike-train loss: mean over the batch of
//                             sum_t sum_k (a^out_kt - ahat_kt)^2 / 2, ahat the PSC of a
//                             spike at t = 1, 3, 5, ... for the label, 0 for the others
//
// The lag coefficients are one-hot (vanilla: lag 1, SRC: lag lambda) or, for ASRC,
// softmax(w / tau) in training and one-hot at 1 + argmax(w) in evaluation. With
// `frozen`, the spikes of that earlier run replace s_t inside the reset factor
// (1 - s_t): the forward is the same, but finite differences then see the reset factor
// as a constant, which is the gradient that LifConfig::detach_reset (the spec's rho = 0)
// computes.
#include <asrc/asrc.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace asrc_test {

using namespace asrc;

/// The spec's smooth spike S(x), x = u - V_th (section 9): the integral of the triangle
/// max(0, 1 - |x|). Binary: the spec's strict test u > V_th.
template <typename T>
T scsr_reference_spike(SpikeFunction fn, T x) {
  if (fn == SpikeFunction::heaviside) return x > T(0) ? T(1) : T(0);
  if (x <= T(-1)) return T(0);
  if (x <= T(0)) return (x + T(1)) * (x + T(1)) / T(2);
  if (x <= T(1)) return T(1) / T(2) + x - x * x / T(2);
  return T(1);
}

template <typename T>
struct ScsrRun {
  T loss = 0;                                // in T: finite differences of it are not rounded to double
  std::vector<std::vector<T>> logits;        // [b][k]
  // Every spiking layer (the hidden ones, then "output"): [layer][b][t][h]
  std::vector<std::vector<std::vector<std::vector<T>>>> u;  // membrane before reset
  std::vector<std::vector<std::vector<std::vector<T>>>> s;  // spikes
  std::vector<std::vector<std::vector<std::vector<T>>>> a;  // outputs (PSCs, or s without a filter)
};

/// Forward of the network `cfg` (LIF hard reset, spiking readout, no dropout) with the
/// parameters `p` in the layout `layout` of Network<*>(cfg) on x (time-major, B sequences).
template <typename T>
ScsrRun<T> reference_scsr(const NetworkConfig& cfg, const ParamLayout& layout, const Vector<double>& p,
                          const Matrix<double>& x, Index B, const std::vector<int>& labels, double tau,
                          bool training, const ScsrRun<T>* frozen = nullptr) {
  REQUIRE(cfg.neuron == NeuronKind::lif);
  REQUIRE(cfg.lif.reset == ResetMode::hard);
  REQUIRE(cfg.readout == ReadoutKind::spiking);
  REQUIRE(cfg.dropout == 0.0);
  REQUIRE(cfg.lif.surrogate == Surrogate::triangle);
  REQUIRE(x.rows() % B == 0);
  const Index steps = x.rows() / B;
  // A tensor's values in T (row-major), or empty when the network has none of that name.
  auto tensor = [&](const std::string& name) {
    std::vector<T> v;
    const Index e = layout.find(name);
    if (e < 0) return v;
    const auto& en = layout.entry(e);
    for (Index i = 0; i < en.size(); ++i) v.push_back(T(p[en.offset + i]));
    return v;
  };
  const bool psc = cfg.psc.tau_s > 0;
  const T kappa = psc ? T(1) - T(1) / T(cfg.psc.tau_s) : T(0);
  const T cgain = psc ? (cfg.psc.unnormalised ? T(1) : T(1) / T(cfg.psc.tau_s)) : T(1);
  const T vth = T(cfg.lif.threshold);
  const size_t NH = cfg.hidden.size(), NL = NH + 1;  // spiking layers, output last

  struct Layer {
    Index F = 0, H = 0;
    std::string name;
    std::vector<T> W, b, ws, decay, Wrec, coeff;  // coeff[j-1]: lag j
    std::vector<std::pair<Index, std::vector<T>>> extra;  // (source layer, H x H_j weight)
  };
  std::vector<Layer> L(NL);
  for (size_t l = 0; l < NL; ++l) {
    Layer& ly = L[l];
    const bool out = l == NH;
    ly.name = out ? std::string("output") : "hidden" + std::to_string(l);
    ly.F = l == 0 ? cfg.input_size : cfg.hidden[l - 1];
    ly.H = out ? cfg.num_classes : cfg.hidden[l];
    ly.W = tensor(ly.name + ".weight");
    REQUIRE(Index(ly.W.size()) == ly.H * ly.F);
    ly.b = tensor(ly.name + ".bias");
    if (ly.b.empty()) ly.b.assign(size_t(ly.H), T(0));
    ly.ws = tensor(ly.name + ".self");
    if (ly.ws.empty()) ly.ws.assign(size_t(ly.H), T(0));
    REQUIRE(Index(ly.ws.size()) == ly.H);
    ly.decay = tensor(ly.name + ".decay");
    REQUIRE(ly.decay.empty() == !cfg.lif.learn_decay);
    if (ly.decay.empty()) ly.decay.assign(size_t(ly.H), T(cfg.lif.decay));
    if (out) continue;
    for (Index j : cfg.extra_inputs_of(l)) {
      ly.extra.emplace_back(j, tensor(ly.name + ".from" + std::to_string(j)));
      REQUIRE(Index(ly.extra.back().second.size()) == ly.H * cfg.hidden[size_t(j)]);
    }
    Index K = 0;
    if (cfg.recurrence == Recurrence::vanilla) K = 1;
    if (cfg.recurrence == Recurrence::src || cfg.recurrence == Recurrence::asrc) K = cfg.skip;
    ly.coeff.assign(size_t(K), T(0));
    if (K == 0) continue;
    ly.Wrec = tensor(ly.name + ".recurrent");
    REQUIRE(Index(ly.Wrec.size()) == ly.H * ly.H);  // self_connections: the full matrix
    if (cfg.recurrence == Recurrence::vanilla) ly.coeff[0] = T(1);
    if (cfg.recurrence == Recurrence::src) ly.coeff[size_t(K - 1)] = T(1);
    if (cfg.recurrence == Recurrence::asrc) {
      const std::vector<T> w = tensor(cfg.network_wise ? "skip_logits" : ly.name + ".skip_logits");
      REQUIRE(Index(w.size()) == K);
      if (training) {
        T m = w[0], sum = 0;
        for (T v : w) m = std::max(m, v);
        for (Index j = 0; j < K; ++j) sum += (ly.coeff[size_t(j)] = std::exp((w[size_t(j)] - m) / T(tau)));
        for (T& c : ly.coeff) c /= sum;
      } else {
        Index best = 0;
        for (Index j = 1; j < K; ++j)
          if (w[size_t(j)] > w[size_t(best)]) best = j;
        ly.coeff[size_t(best)] = T(1);
      }
    }
  }

  ScsrRun<T> run;
  run.logits.assign(size_t(B), std::vector<T>(size_t(cfg.num_classes), T(0)));
  for (auto* tr : {&run.u, &run.s, &run.a}) {
    tr->resize(NL);
    for (size_t l = 0; l < NL; ++l)
      (*tr)[l].assign(size_t(B), std::vector<std::vector<T>>(size_t(steps), std::vector<T>(size_t(L[l].H), T(0))));
  }
  for (Index b = 0; b < B; ++b) {
    // a^0: the data, filtered or not.
    std::vector<std::vector<T>> in(size_t(steps), std::vector<T>(size_t(cfg.input_size), T(0)));
    for (Index t = 0; t < steps; ++t)
      for (Index f = 0; f < cfg.input_size; ++f) {
        const T xv = T(x(t * B + b, f));
        if (cfg.input_psc) {
          REQUIRE(psc);
          in[size_t(t)][size_t(f)] = (t > 0 ? kappa * in[size_t(t - 1)][size_t(f)] : T(0)) + cgain * xv;
        } else {
          in[size_t(t)][size_t(f)] = xv;
        }
      }
    for (size_t l = 0; l < NL; ++l) {
      const Layer& ly = L[l];
      const Index H = ly.H, F = ly.F;
      auto& U = run.u[l][size_t(b)];
      auto& S = run.s[l][size_t(b)];
      auto& A = run.a[l][size_t(b)];
      std::vector<T> up(size_t(H), T(0));  // u'_{t-1}
      for (Index t = 0; t < steps; ++t) {
        for (Index h = 0; h < H; ++h) {
          T J = ly.b[size_t(h)];
          for (Index f = 0; f < F; ++f) J += ly.W[size_t(h * F + f)] * in[size_t(t)][size_t(f)];
          for (const auto& [j, Wj] : ly.extra) {  // the skip: a^j_t at the same step
            const Index Hj = cfg.hidden[size_t(j)];
            for (Index k = 0; k < Hj; ++k) J += Wj[size_t(h * Hj + k)] * run.a[size_t(j)][size_t(b)][size_t(t)][size_t(k)];
          }
          for (size_t lag = 1; lag <= ly.coeff.size(); ++lag) {  // the recurrence reads the layer's PSCs
            if (Index(lag) > t) continue;
            for (Index k = 0; k < H; ++k)
              J += ly.coeff[lag - 1] * ly.Wrec[size_t(h * H + k)] * A[size_t(t) - lag][size_t(k)];
          }
          if (t > 0) J += ly.ws[size_t(h)] * A[size_t(t - 1)][size_t(h)];  // the self-loop, one step late
          const T u = ly.decay[size_t(h)] * up[size_t(h)] + J;
          const T s = scsr_reference_spike<T>(cfg.lif.spike_fn, u - vth);
          const T sr = frozen ? frozen->s[l][size_t(b)][size_t(t)][size_t(h)] : s;
          up[size_t(h)] = u * (T(1) - sr);
          U[size_t(t)][size_t(h)] = u;
          S[size_t(t)][size_t(h)] = s;
          A[size_t(t)][size_t(h)] = psc ? (t > 0 ? kappa * A[size_t(t - 1)][size_t(h)] : T(0)) + cgain * s : s;
        }
      }
      in = A;
    }
    auto& z = run.logits[size_t(b)];
    for (Index k = 0; k < cfg.num_classes; ++k)
      for (Index t = 0; t < steps; ++t) z[size_t(k)] += in[size_t(t)][size_t(k)];
    if (cfg.loss == LossKind::spike_train) {
      T want = 0;  // the label neuron's desired output
      for (Index t = 0; t < steps; ++t) {
        const T d = t % 2 == 1 ? T(1) : T(0);
        want = psc ? kappa * want + cgain * d : d;
        for (Index k = 0; k < cfg.num_classes; ++k) {
          const T diff = in[size_t(t)][size_t(k)] - (k == labels[size_t(b)] ? want : T(0));
          run.loss += diff * diff / T(2);
        }
      }
      continue;
    }
    T m = z[0], sum = 0;
    for (T v : z) m = std::max(m, v);
    for (T v : z) sum += std::exp(v - m);
    run.loss += m + std::log(sum) - z[size_t(labels[size_t(b)])];
  }
  run.loss /= T(B);
  return run;
}

}  // namespace asrc_test
