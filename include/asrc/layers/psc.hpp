#pragma once
// The postsynaptic-current (PSC) filter of the ScSr-SNN (Zhang & Li; spec scsr-snn.md
// section 1), the synapse between layers when a layer's output is filtered:
//
//   y_t = kappa y_{t-1} + c s_t,   kappa = 1 - 1/tau_s,   y_{-1} = 0
//
// with c = 1/tau_s (normalised, the TSSL-BP code's form and the default: a steady PSC
// equals the firing rate) or c = 1 (the paper's Eq. 6). The same filter may run on the
// data before the first layer (the input filter). Backward, in reverse time, with
// e_{T} = 0:
//
//   e_t = kappa e_{t+1} + dL/dy_t,   dL/ds_t = c e_t
#include <cmath>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

struct PscConfig {
  double tau_s = 0.0;         ///< synaptic time constant in steps; 0: no filter (outputs are spikes)
  bool unnormalised = false;  ///< c = 1 (paper Eq. 6) instead of c = 1/tau_s

  bool enabled() const { return tau_s > 0.0; }
  double kappa() const { return 1.0 - 1.0 / tau_s; }
  double gain() const { return unnormalised ? 1.0 : 1.0 / tau_s; }
  void validate() const {
    require(tau_s == 0.0 || (tau_s >= 1.0 && std::isfinite(tau_s)), "PscConfig::validate",
            "tau_s = 0 (no filter) or a finite tau_s >= 1", tau_s);
  }
};

/// One step forward: y = kappa y_prev + c s over n values (y_prev nullptr: the first step).
template <typename T>
inline void psc_step(const PscConfig& p, const T* y_prev, const T* s, T* y, Index n) {  // s may be y
  const T kappa = static_cast<T>(p.kappa()), c = static_cast<T>(p.gain());
  if (!y_prev) {
    for (Index i = 0; i < n; ++i) y[i] = c * s[i];
    return;
  }
  for (Index i = 0; i < n; ++i) y[i] = kappa * y_prev[i] + c * s[i];
}

/// One step backward, in place: e = kappa e + g (e carries e_{t+1} in and e_t out),
/// then g = c e (dL/dy_t in, dL/ds_t out).
template <typename T>
inline void psc_step_backward(const PscConfig& p, T* e, T* g, Index n) {
  const T kappa = static_cast<T>(p.kappa()), c = static_cast<T>(p.gain());
  for (Index i = 0; i < n; ++i) {
    e[i] = kappa * e[i] + g[i];
    g[i] = c * e[i];
  }
}

/// The filter over a whole time-major block in place: rows t*B .. t*B+B-1 are step t.
template <typename T>
inline void psc_filter_in_place(const PscConfig& p, Matrix<T>& x, Index B) {
  const Index steps = x.rows() / B, n = B * x.cols();
  for (Index t = 0; t < steps; ++t)
    psc_step<T>(p, t > 0 ? x.data() + (t - 1) * n : nullptr, x.data() + t * n, x.data() + t * n, n);
}

/// Its backward over a whole block in place: dL/dy in, dL/ds out (e starts at zero).
template <typename T>
inline void psc_filter_backward_in_place(const PscConfig& p, Matrix<T>& g, Index B, Matrix<T>& e) {
  const Index steps = g.rows() / B, n = B * g.cols();
  e.setZero(B, g.cols());
  for (Index t = steps - 1; t >= 0; --t) psc_step_backward<T>(p, e.data(), g.data() + t * n, n);
}

}  // namespace asrc
