#pragma once
// The leaky integrate-and-fire neuron of Table 1 (paper Eq. 1-3; docs/model.md).
//
// Per time step, in this order:
//   charge:  v_t  = d * v'_{t-1} + I_t        (input current enters with weight 1)
//   fire:    s_t  = H(v_t - theta)
//   reset:   v'_t = v_t - theta * s_t         (soft, default)
//            v'_t = v_t * (1 - s_t)           (hard)
// with v'_{-1} = 0. With detach_reset the s_t inside the reset is a constant for
// backward.
//
// Neuron policy contract (neuron/neuron.hpp), for one block of n = Bc*H values of one step:
//   state       1 matrix carried from step to step: v'_{t-1} (forward), dL/dv_{t+1} (backward)
//   input       one current I_t = a_t + r_t (feed-forward plus recurrent: kSplitInput false)
//   forward     `io` holds I_t on entry and v_t on exit (the cache backward reads)
//   backward    `g` holds dL/ds_t on entry and dL/dI_t on exit
//   parameters  none, or with learn_decay one trained decay d_h per neuron ("<layer>.decay",
//               group neuron, starting at `decay`, kept in [0, 0.999]: backpropagated
//               intrinsic plasticity, BIP, of Zhang & Li; PLIF-like): dL/dd_h = sum over
//               steps and sequences of dL/dv_t v'_{t-1}
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/core/types.hpp"
#include "asrc/neuron/surrogate.hpp"

namespace asrc {

enum class ResetMode { soft, hard };

struct LifConfig {
  double decay = 0.5;          ///< d, membrane decay per step (fixed)
  double threshold = 1.0;      ///< theta
  ResetMode reset = ResetMode::soft;
  bool detach_reset = false;   ///< treat the spike in the reset term as a constant in backward
  Surrogate surrogate = Surrogate::triangle;
  SpikeFunction spike_fn = SpikeFunction::heaviside;
  bool learn_decay = false;    ///< a trained decay per neuron, starting at `decay`
  static constexpr double kMaxDecay = 0.999;  ///< the trained decay is kept in [0, kMaxDecay]

  void validate() const {
    require(decay >= 0.0 && decay <= 1.0, "LifConfig::validate", "decay in [0, 1]", decay);
    require(threshold > 0.0 && std::isfinite(threshold), "LifConfig::validate",
            "a finite threshold > 0", threshold);
  }
};

/// A neuron's trained parameters for one step: p[k] the k-th tensor's values (one per
/// neuron, H of them), g[k] where their gradient is added (nullptr in forward).
template <typename T>
struct NeuronParams {
  const T* const* p = nullptr;
  T* const* g = nullptr;
  Index H = 0;
};

template <typename T>
struct LifNeuron {
  using Config = LifConfig;
  static constexpr int kStates = 1;          ///< v'_{t-1} / dL/dv_{t+1}
  static constexpr bool kSplitInput = false;  ///< one summed input current
  static constexpr bool kFlags = false;       ///< no per-step flag cache

  /// Declare the trained parameters of a layer of H neurons (their entries, in order).
  static void declare(const LifConfig& cfg, ParamLayout& layout, const std::string& prefix, Index H,
                      std::vector<Index>& entries) {
    if (cfg.learn_decay)
      entries.push_back(layout.add(prefix + ".decay", 1, H, ParamGroup::neuron, 0.0, LifConfig::kMaxDecay));
  }
  /// Their initial values: every decay at `decay`.
  static void initialize(const LifConfig& cfg, T* const* p, Index H) {
    if (cfg.learn_decay) std::fill(p[0], p[0] + H, static_cast<T>(cfg.decay));
  }

  /// In: io = I_t, state[0] = v'_{t-1}. Out: io = v_t, state[0] = v'_t, s = s_t.
  static void forward(const LifConfig& cfg, T* __restrict io, T* const* state, T* __restrict s, Index n,
                      const NeuronParams<T>& np = {}) {
    if (cfg.learn_decay) return forward_learned(cfg, io, state[0], s, n, np.p[0], np.H);
    const T d = static_cast<T>(cfg.decay), theta = static_cast<T>(cfg.threshold);
    T* __restrict vr = state[0];
    const bool soft = cfg.reset == ResetMode::soft;
    const Surrogate sg = cfg.surrogate;
    auto pass = [&](auto fire) {
      for (Index i = 0; i < n; ++i) {
        const T v = d * vr[i] + io[i];    // charge: v_t = d v'_{t-1} + I_t  (Eq. 1)
        const T spike = fire(v - theta);  // fire (Eq. 2)
        io[i] = v;
        s[i] = spike;
        vr[i] = soft ? v - theta * spike : v * (T(1) - spike);  // reset (Eq. 3)
      }
    };
    // The spike function is fixed per instantiation of the loop, so the binary case
    // compiles to a compare.
    if (cfg.spike_fn == SpikeFunction::heaviside)
      pass([sg](T x) { return spike_value<T>(sg, SpikeFunction::heaviside, x); });
    else
      pass([sg](T x) { return spike_value<T>(sg, SpikeFunction::smooth, x); });
  }

  /// Backward through fire and reset (Eqs. 1-3) for one step, elementwise:
  ///   dL/dv'_t = d dL/dv_{t+1}
  ///   dL/dv_t  = dL/ds_t g(v_t - theta) + dL/dv'_t dv'_t/dv_t (+ through s_t unless detached)
  /// soft reset v' = v - theta s:  (gS - theta gvp) g + gvp      detached: gS g + gvp
  /// hard reset v' = v (1 - s):    (gS - v gvp) g + gvp (1 - s)  detached: gS g + gvp (1 - s)
  /// In: v = v_t (forward's cache), s = s_t, g = dL/ds_t, state[0] = dL/dv_{t+1}.
  /// Out: g = state[0] = dL/dv_t = dL/dI_t; gsum (if given) += dL/dI_t; with learn_decay
  /// np.g[0][h] += dL/dv_{t+1} v'_t (the decay's gradient at step t+1).
  static void backward(const LifConfig& cfg, const T* v, const T* s, T* g, T* const* state, T* gsum,
                       Index n, const NeuronParams<T>& np = {}) {
    if (cfg.learn_decay) return backward_learned(cfg, v, s, g, state[0], gsum, n, np);
    const T d = static_cast<T>(cfg.decay), theta = static_cast<T>(cfg.threshold);
    const bool soft = cfg.reset == ResetMode::soft, detach = cfg.detach_reset;
    switch (cfg.surrogate) {
      case Surrogate::triangle: return backward_sg<Surrogate::triangle>(soft, detach, v, s, g, state[0], gsum, n, d, theta);
      case Surrogate::exp: return backward_sg<Surrogate::exp>(soft, detach, v, s, g, state[0], gsum, n, d, theta);
      case Surrogate::rectangle: return backward_sg<Surrogate::rectangle>(soft, detach, v, s, g, state[0], gsum, n, d, theta);
      case Surrogate::gaussian: return backward_sg<Surrogate::gaussian>(soft, detach, v, s, g, state[0], gsum, n, d, theta);
    }
  }

 private:
  /// forward() with a decay per neuron: rows of H neurons.
  static void forward_learned(const LifConfig& cfg, T* __restrict io, T* __restrict vr, T* __restrict s, Index n,
                              const T* __restrict d, Index H) {
    const T theta = static_cast<T>(cfg.threshold);
    const bool soft = cfg.reset == ResetMode::soft;
    const Surrogate sg = cfg.surrogate;
    const SpikeFunction fn = cfg.spike_fn;
    for (Index r0 = 0; r0 < n; r0 += H)
      for (Index h = 0; h < H; ++h) {
        const Index i = r0 + h;
        const T v = d[h] * vr[i] + io[i];
        const T spike = spike_value<T>(sg, fn, v - theta);
        io[i] = v;
        s[i] = spike;
        vr[i] = soft ? v - theta * spike : v * (T(1) - spike);
      }
  }
  /// backward() with a decay per neuron (the same expressions, d -> d_h).
  static void backward_learned(const LifConfig& cfg, const T* __restrict v, const T* __restrict s, T* __restrict gS,
                               T* __restrict gnext, T* __restrict gsum, Index n, const NeuronParams<T>& np) {
    const T theta = static_cast<T>(cfg.threshold);
    const bool soft = cfg.reset == ResetMode::soft, detach = cfg.detach_reset;
    const T* __restrict d = np.p[0];
    T* __restrict gd = np.g[0];
    const Index H = np.H;
    for (Index r0 = 0; r0 < n; r0 += H)
      for (Index h = 0; h < H; ++h) {
        const Index i = r0 + h;
        const T vp = soft ? v[i] - theta * s[i] : v[i] * (T(1) - s[i]);  // v'_t
        gd[h] += gnext[i] * vp;  // v_{t+1} = d v'_t + I_{t+1}
        const T g = surrogate_grad<T>(cfg.surrogate, v[i] - theta);
        const T gvp = d[h] * gnext[i];
        T gn;
        if (soft)
          gn = detach ? gS[i] * g + gvp : (gS[i] - theta * gvp) * g + gvp;
        else
          gn = detach ? gS[i] * g + gvp * (T(1) - s[i]) : (gS[i] - v[i] * gvp) * g + gvp * (T(1) - s[i]);
        gnext[i] = gn;
        gS[i] = gn;
        if (gsum) gsum[i] += gn;
      }
  }

  template <Surrogate SG, bool Soft, bool Detach>
  static void backward_impl(const T* __restrict v, const T* __restrict s, T* __restrict gS,
                            T* __restrict gnext, T* __restrict gsum, Index n, T d, T theta) {
    for (Index i = 0; i < n; ++i) {
      const T g = surrogate_grad<T>(SG, v[i] - theta);
      const T gvp = d * gnext[i];
      T gn;
      if (Soft)
        gn = Detach ? gS[i] * g + gvp : (gS[i] - theta * gvp) * g + gvp;
      else
        gn = Detach ? gS[i] * g + gvp * (T(1) - s[i]) : (gS[i] - v[i] * gvp) * g + gvp * (T(1) - s[i]);
      gnext[i] = gn;
      gS[i] = gn;
    }
    if (gsum)
      for (Index i = 0; i < n; ++i) gsum[i] += gS[i];
  }
  template <Surrogate SG>
  static void backward_sg(bool soft, bool detach, const T* v, const T* s, T* gS, T* gnext, T* gsum,
                          Index n, T d, T theta) {
    if (soft && detach) backward_impl<SG, true, true>(v, s, gS, gnext, gsum, n, d, theta);
    else if (soft) backward_impl<SG, true, false>(v, s, gS, gnext, gsum, n, d, theta);
    else if (detach) backward_impl<SG, false, true>(v, s, gS, gnext, gsum, n, d, theta);
    else backward_impl<SG, false, false>(v, s, gS, gnext, gsum, n, d, theta);
  }
};

}  // namespace asrc
