#pragma once
// The adaptive synaptic LIF neuron of Zeng et al. (ICONS 2022; docs/model.md, "Zeng et al.").
//
// Decays a_x = exp(-1 / tau_x); all states 0 before the first step. Per step t, in the order
// of the published code (one step of 1 ms):
//   adaptation  b_t  = a_w b_{t-1} + (1 - a_w) s_{t-1}
//   synapse     I_t  = a_s I_{t-1} + (1 - a_s) r_t          r_t: the recurrent drive W~ s_{t-1}
//   membrane    ut_t = a_m u_{t-1} + (1 - a_m) (c_t + I_t - beta b_t)   c_t: feed-forward drive
//   refractory  m_t  = [rc_{t-1} > 0]
//               u_t  = clip((1 - m_t) ut_t, 0, vmax * V_th)            (no clip: unclipped)
//   fire        s_t  = (1 - m_t) H((u_{t-1} - V_th) / V_th)             code: one step late
//               s_t  = (1 - m_t) H((u_t - V_th) / V_th)                 paper_form
//   counter     rc_t = t_ref if s_t > 0, else max(rc_{t-1} - 1, 0)
// The feed-forward drive is not filtered by the synapse; only recurrent spikes are. The
// surrogate is the damped triangle gamma max(0, 1 - |x|) in x = (u - V_th) / V_th, so
// ds/du = (gamma / V_th) max(0, 1 - |x|). The counter, the refractory mask and the clip
// bounds pass no gradient (the spike is reset only through the counter: detached).
// Synapse off: tau_syn = 0 (a_s = 0, I_t = r_t). Adaptation off: beta = 0.
//
// Neuron policy contract (neuron/neuron.hpp), one block of n = Bc*H values of one step:
//   state      4 matrices: forward u_{t-1}, rc_{t-1}, I_{t-1}, b_t;
//              backward dL/dut_{t+1}, (1 - m_{t+1}) dL/ds_{t+1}, dL/db_{t+1}, dL/dI_{t+1}
//   input      split (kSplitInput): feed-forward c_t and recurrent r_t kept apart
//   forward    `io` holds c_t on entry and u_t on exit; `flags` gets the step's masks
//              (bit 0: the clip and refractory pass gradient, bit 1: m_t)
//   backward   `g` holds dL/ds_t on entry and dL/dc_t on exit; `gr` gets dL/dr_t
//   parameters none (every constant is a setting)
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/core/types.hpp"
#include "asrc/neuron/lif.hpp"  // NeuronParams
#include "asrc/neuron/surrogate.hpp"

namespace asrc {

struct ZengConfig {
  double tau_m = 1.0;     ///< membrane time constant (steps)
  double tau_syn = 0.0;   ///< synaptic current time constant; 0: no synapse (a_s = 0)
  double tau_adp = 1.0;   ///< adaptation current time constant
  double beta = 0.0;      ///< adaptation resistance R_adp; 0: no adaptation
  double v_th = 1.0;      ///< threshold V_th (also the surrogate's half-width)
  double vmax = 1.4;      ///< membrane clipped to [0, vmax * V_th] (code: 1.4 for MNIST)
  bool clip = true;       ///< false: no clip (the paper, which does not state one)
  Index t_ref = 1;        ///< refractory steps after a spike
  double gamma = 0.3;     ///< surrogate height
  bool paper_form = false;  ///< spike from u_t (paper) instead of u_{t-1} (code)
  SpikeFunction spike_fn = SpikeFunction::heaviside;

  void validate() const {
    const char* w = "ZengConfig::validate";
    require(tau_m > 0 && std::isfinite(tau_m), w, "a finite --tau-m > 0", tau_m);
    require(tau_syn >= 0 && std::isfinite(tau_syn), w, "a finite --tau-syn >= 0 (0: no synapse)", tau_syn);
    require(tau_adp > 0 && std::isfinite(tau_adp), w, "a finite --tau-adp > 0", tau_adp);
    require(beta >= 0 && std::isfinite(beta), w, "a finite --beta >= 0 (0: no adaptation)", beta);
    require(v_th > 0 && std::isfinite(v_th), w, "a finite --v-th > 0", v_th);
    require(!clip || (vmax > 0 && std::isfinite(vmax)), w, "a finite --vmax > 0", vmax);
    require(t_ref >= 0, w, "--t-ref >= 0", t_ref);
    require(gamma > 0 && std::isfinite(gamma), w, "a finite surrogate gamma > 0", gamma);
    // Smooth spikes are real numbers, for which "a spike starts the refractory count" has
    // no derivative: the gradient check runs without the counter.
    require(spike_fn == SpikeFunction::heaviside || t_ref == 0, w, "t_ref 0 with smooth spikes", t_ref);
  }
  double a_m() const { return std::exp(-1.0 / tau_m); }
  double a_s() const { return tau_syn > 0 ? std::exp(-1.0 / tau_syn) : 0.0; }
  double a_w() const { return std::exp(-1.0 / tau_adp); }
};

template <typename T>
struct ZengNeuron {
  using Config = ZengConfig;
  static constexpr int kStates = 4;
  static constexpr bool kSplitInput = true;
  static constexpr bool kFlags = true;

  /// The spike of x = (u - V_th) / V_th: H(x) (strict), or its smooth form
  /// gamma * integral of max(0, 1 - |x|) for gradient checks.
  static T fire(const ZengConfig& cfg, T x) {
    if (cfg.spike_fn == SpikeFunction::heaviside) return x > T(0) ? T(1) : T(0);
    const T g = static_cast<T>(cfg.gamma);
    if (x <= T(-1)) return T(0);
    if (x <= T(0)) return g * (x + T(1)) * (x + T(1)) / T(2);
    if (x <= T(1)) return g * (T(0.5) + x - x * x / T(2));
    return g;
  }
  /// In: io = c_t, r = r_t (nullptr: no recurrence), state = u_{t-1}, rc_{t-1}, I_{t-1}, b_t.
  /// Out: io = u_t, state advanced, flags and s for step t.
  /// No trained parameters (every constant is a setting).
  static void declare(const ZengConfig&, ParamLayout&, const std::string&, Index, std::vector<Index>&) {}
  static void initialize(const ZengConfig&, T* const*, Index) {}

  static void forward(const ZengConfig& cfg, T* io, const T* r, T* const* state, T* flags, T* s, Index n,
                      const NeuronParams<T>& = {}) {
    // The settings fixed per call become template arguments: the loops compile without
    // branches (compares and blends), so they vectorise.
    auto with = [&](auto clip, auto paper, auto smooth) {
      if (r) forward_loop<decltype(clip)::value, decltype(paper)::value, decltype(smooth)::value, true>(cfg, io, r, state, flags, s, n);
      else forward_loop<decltype(clip)::value, decltype(paper)::value, decltype(smooth)::value, false>(cfg, io, r, state, flags, s, n);
    };
    auto with_smooth = [&](auto clip, auto paper) {
      if (cfg.spike_fn == SpikeFunction::smooth) with(clip, paper, std::true_type{});
      else with(clip, paper, std::false_type{});
    };
    auto with_paper = [&](auto clip) {
      if (cfg.paper_form) with_smooth(clip, std::true_type{});
      else with_smooth(clip, std::false_type{});
    };
    if (cfg.clip) with_paper(std::true_type{});
    else with_paper(std::false_type{});
  }

  /// In: u = u_t (forward's io), flags and s of step t, g = dL/ds_t from outside the neuron
  /// (the layer above or the readout, and the recurrence), state = the backward carries of
  /// step t+1 (zero at the last step). Out: g = dL/dc_t, gr = dL/dr_t (if given), state for
  /// step t, gsum (if given) += dL/dc_t.
  static void backward(const ZengConfig& cfg, const T* u, const T* flags, const T* s, T* g, T* gr,
                       T* const* state, T* gsum, Index n, const NeuronParams<T>& = {}) {
    (void)s;
    if (cfg.paper_form) {
      if (gr) backward_loop<true, true>(cfg, u, flags, g, gr, state, n);
      else backward_loop<true, false>(cfg, u, flags, g, gr, state, n);
    } else {
      if (gr) backward_loop<false, true>(cfg, u, flags, g, gr, state, n);
      else backward_loop<false, false>(cfg, u, flags, g, gr, state, n);
    }
    if (gsum)
      for (Index i = 0; i < n; ++i) gsum[i] += g[i];
  }

 private:
  template <bool Clip, bool Paper, bool Smooth, bool HasR>
  static void forward_loop(const ZengConfig& cfg, T* __restrict io, const T* __restrict r, T* const* state,
                           T* __restrict flags, T* __restrict s, Index n) {
    const T am = T(cfg.a_m()), as = T(cfg.a_s()), aw = T(cfg.a_w()), beta = T(cfg.beta);
    const T vth = T(cfg.v_th), cap = T(cfg.vmax * cfg.v_th), tref = T(cfg.t_ref);
    const T bm = T(1) - am, bs = T(1) - as, bw = T(1) - aw;
    T* __restrict u = state[0];
    T* __restrict rc = state[1];
    T* __restrict I = state[2];
    T* __restrict b = state[3];
    for (Index i = 0; i < n; ++i) {
      const T syn = as * I[i] + bs * (HasR ? r[i] : T(0));
      const T ut = am * u[i] + bm * (io[i] + syn - beta * b[i]);
      const bool m = rc[i] > T(0);
      T un = m ? T(0) : ut;
      bool pass = !m;
      if (Clip) {
        pass = pass & (ut >= T(0)) & (ut <= cap);  // & not &&: no branch in the loop
        un = std::min(std::max(un, T(0)), cap);
      }
      const T x = ((Paper ? un : u[i]) - vth) / vth;
      T spike;
      if (Smooth) spike = m ? T(0) : fire(cfg, x);
      else spike = (!m & (x > T(0))) ? T(1) : T(0);
      rc[i] = spike > T(0) ? tref : std::max(rc[i] - T(1), T(0));
      I[i] = syn;
      b[i] = aw * b[i] + bw * spike;  // b_{t+1}
      u[i] = un;
      io[i] = un;
      s[i] = spike;
      flags[i] = (pass ? T(1) : T(0)) + (m ? T(2) : T(0));
    }
  }

  template <bool Paper, bool HasGR>
  static void backward_loop(const ZengConfig& cfg, const T* __restrict u, const T* __restrict flags,
                            T* __restrict g, T* __restrict gr, T* const* state, Index n) {
    const T am = T(cfg.a_m()), as = T(cfg.a_s()), aw = T(cfg.a_w()), beta = T(cfg.beta);
    const T vth = T(cfg.v_th), k = T(cfg.gamma / cfg.v_th);
    const T bm = T(1) - am, bs = T(1) - as, bw = T(1) - aw;
    T* __restrict eut1 = state[0];  // dL/dut_{t+1}
    T* __restrict hs1 = state[1];   // (1 - m_{t+1}) dL/ds_{t+1} (code form)
    T* __restrict eb1 = state[2];   // dL/db_{t+1}
    T* __restrict eI1 = state[3];   // dL/dI_{t+1}
    for (Index i = 0; i < n; ++i) {
      const T f = flags[i];
      const bool m = f >= T(2), pass = f == T(1);  // flags: 1 pass, 2 refractory (never both)
      const T es = g[i] + bw * eb1[i];  // dL/ds_t: outside, and b_{t+1}
      const T x = (u[i] - vth) / vth;
      const T tri = std::max(T(1) - std::abs(x), T(0));
      // u_t feeds ut_{t+1}, and s_t (paper) or s_{t+1} (code)
      const T eu = am * eut1[i] + k * tri * (Paper ? (m ? T(0) : es) : hs1[i]);
      const T eut = pass ? eu : T(0);
      const T eI = as * eI1[i] + bm * eut;
      eut1[i] = eut;
      hs1[i] = m ? T(0) : es;
      eb1[i] = aw * eb1[i] - beta * bm * eut;
      eI1[i] = eI;
      g[i] = bm * eut;
      if (HasGR) gr[i] = bs * eI;
    }
  }
};

}  // namespace asrc
