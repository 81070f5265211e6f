#pragma once
// A deliberately naive reference of the network of spec sections 1-4: per sample, per
// step, per neuron loops that follow the equations literally. It shares nothing with
// the library's kernels, so agreement between the two is evidence for both. It can
// also hold the spikes inside the reset term fixed (as detach_reset's backward assumes),
// which makes the detach_reset gradient checkable by finite differences.
#include <asrc/asrc.hpp>

#include <cmath>
#include <vector>

namespace asrc_test {

using namespace asrc;

template <typename T>
struct ReferenceRun {
  T loss = 0;  // in T: finite differences of it must not be rounded to double
  std::vector<std::vector<T>> logits;                   // [b][k]
  std::vector<std::vector<std::vector<T>>> reset_spikes;  // [layer][b][t*H + h]
};

/// A perturbation of one input current: I^layer_t(b, h) += eps (for finite differences
/// of dL/dI_t = dL/dU[t], the per-step gradients of asrc/analysis/gradient_flow.hpp).
template <typename T>
struct CurrentDelta {
  size_t layer = 0;
  Index b = 0, t = 0, h = 0;
  T eps = 0;
};

/// Forward of the network `cfg` with parameters `p` (layout of Network<double>(cfg)).
/// The lag coefficients follow recurrence.hpp (softmax(w / tau) for ASRC in training,
/// computed here in T); masks[l] is B x H or empty.
/// If `frozen` is given, its spikes replace s_t inside the reset term; `delta` adds a
/// perturbation to one input current.
template <typename T, typename P>
ReferenceRun<T> reference_forward(const NetworkConfig& cfg, const ParamLayout& layout,
                                  const Vector<P>& p, const Matrix<double>& x, Index B,
                                  const std::vector<int>& labels,
                                  double tau, bool training,
                                  const std::vector<Matrix<double>>& masks,
                                  const ReferenceRun<T>* frozen = nullptr,
                                  const CurrentDelta<T>* delta = nullptr) {
  const Index steps = x.rows() / B;
  auto W = [&](const std::string& name, Index i, Index j) -> T {
    const auto& e = layout.entry(layout.find(name));
    return static_cast<T>(p[e.offset + i * e.cols + j]);
  };
  ReferenceRun<T> run;
  run.logits.assign(size_t(B), std::vector<T>(size_t(cfg.num_classes), T(0)));
  run.reset_spikes.resize(cfg.hidden.size());
  const T d = T(cfg.lif.decay), theta = T(cfg.lif.threshold);
  std::vector<std::vector<T>> coeff(cfg.hidden.size());
  for (size_t l = 0; l < cfg.hidden.size(); ++l) {
    const Index K = max_lag(cfg.recurrence, cfg.skip);
    auto& c = coeff[l];
    c.assign(size_t(K), T(0));
    if (cfg.recurrence == Recurrence::vanilla) c[0] = T(1);
    if (cfg.recurrence == Recurrence::src) c[size_t(K - 1)] = T(1);
    if (cfg.recurrence == Recurrence::asrc) {
      const std::string name = cfg.network_wise ? "skip_logits" : "hidden" + std::to_string(l) + ".skip_logits";
      const auto& e = layout.entry(layout.find(name));
      std::vector<T> w(static_cast<size_t>(K));
      for (Index j = 0; j < K; ++j) w[size_t(j)] = T(p[e.offset + j]);
      if (training) {
        T m = w[0], sum = 0;
        for (T v : w) m = std::max(m, v);
        for (Index j = 0; j < K; ++j) sum += (c[size_t(j)] = std::exp((w[size_t(j)] - m) / T(tau)));
        for (auto& v : c) v /= sum;
      } else {
        Index best = 0;
        for (Index j = 1; j < K; ++j) if (w[size_t(j)] > w[size_t(best)]) best = j;
        c[size_t(best)] = T(1);
      }
    }
  }
  for (Index b = 0; b < B; ++b) {
    std::vector<std::vector<std::vector<T>>> all_s(cfg.hidden.size());  // [layer][t][h], for extra inputs
    // in[t][f]: input sequence of the current layer
    std::vector<std::vector<T>> in(size_t(steps), std::vector<T>(size_t(cfg.input_size)));
    for (Index t = 0; t < steps; ++t)
      for (Index f = 0; f < cfg.input_size; ++f) in[size_t(t)][size_t(f)] = T(x(t * B + b, f));
    for (size_t l = 0; l < cfg.hidden.size(); ++l) {
      const Index H = cfg.hidden[l], F = Index(in[0].size());
      const std::string pre = "hidden" + std::to_string(l);
      std::vector<std::vector<T>> s(size_t(steps), std::vector<T>(size_t(H), T(0)));
      std::vector<T> vp(size_t(H), T(0));
      auto& rs = run.reset_spikes[l];
      rs.resize(size_t(B));
      rs[size_t(b)].assign(size_t(steps * H), T(0));
      for (Index t = 0; t < steps; ++t) {
        for (Index h = 0; h < H; ++h) {
          T a = cfg.bias ? W(pre + ".bias", 0, h) : T(0);
          for (Index f = 0; f < F; ++f) a += W(pre + ".weight", h, f) * in[size_t(t)][size_t(f)];
          for (Index j : cfg.extra_inputs_of(l))  // the layer graph: earlier layers' spikes
            for (Index k = 0; k < cfg.hidden[size_t(j)]; ++k)
              a += W(pre + ".from" + std::to_string(j), h, k) * all_s[size_t(j)][size_t(t)][size_t(k)];
          if (!masks.empty()) a *= T(masks[l](b, h));
          T rec = 0;
          const auto& c = coeff[l];
          for (size_t j = 1; j <= c.size(); ++j) {
            if (Index(j) > t || c[j - 1] == T(0)) continue;
            for (Index k = 0; k < H; ++k)
              rec += c[j - 1] * W(pre + ".recurrent", h, k) * s[size_t(t) - j][size_t(k)];
          }
          const T dh = cfg.lif.learn_decay ? W(pre + ".decay", 0, h) : d;  // BIP: one decay per neuron
          T v = dh * vp[size_t(h)] + (rec + a);
          if (delta && delta->layer == l && delta->b == b && delta->t == t && delta->h == h) v += delta->eps;
          const T sp = spike_value<T>(cfg.lif.surrogate, cfg.lif.spike_fn, v - theta);
          s[size_t(t)][size_t(h)] = sp;
          const T sr = frozen ? frozen->reset_spikes[l][size_t(b)][size_t(t * H + h)] : sp;
          rs[size_t(b)][size_t(t * H + h)] = sp;
          vp[size_t(h)] = cfg.lif.reset == ResetMode::soft ? v - theta * sr : v * (T(1) - sr);
        }
      }
      all_s[l] = s;
      in = s;
    }
    const Index HL = cfg.hidden.back();
    for (Index k = 0; k < cfg.num_classes; ++k) {
      T z = 0;
      for (Index t = 0; t < steps; ++t) {
        T y = cfg.bias ? W("readout.bias", 0, k) : T(0);
        for (Index h = 0; h < HL; ++h) y += W("readout.weight", k, h) * in[size_t(t)][size_t(h)];
        z += y;
      }
      run.logits[size_t(b)][size_t(k)] = z;
    }
    const auto& z = run.logits[size_t(b)];
    T m = z[0];
    for (T v : z) m = std::max(m, v);
    T sum = 0;
    for (T v : z) sum += std::exp(v - m);
    run.loss += m + std::log(sum) - z[size_t(labels[size_t(b)])];
  }
  run.loss /= T(B);
  return run;
}

}  // namespace asrc_test
