#pragma once
// A deliberately naive reference of a network of Zeng et al. neurons: the equations of
// docs/model.md ("Zeng et al.") per sample, per step, per neuron, with the steps counted
// 1..T as the paper does. It shares nothing with the library's neuron, layer or readout
// code (not even the smooth spike function), so agreement is evidence for both.
#include <asrc/asrc.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace asrc_test {

using namespace asrc;

template <typename T>
struct ZengTrace {
  // [layer][b][t][h], t = 0..T-1 for the paper's steps 1..T
  std::vector<std::vector<std::vector<std::vector<T>>>> u, s, I, b;
  std::vector<std::vector<T>> out;  // [b][h] readout features at the end (o_T or sum of s)
};

template <typename T>
T zeng_reference_fire(const ZengConfig& z, T v) {
  if (z.spike_fn == SpikeFunction::heaviside) return v > T(0) ? T(1) : T(0);
  const T g = T(z.gamma);
  if (v <= T(-1)) return T(0);
  if (v <= T(0)) return g * (v + 1) * (v + 1) / 2;
  if (v <= T(1)) return g * (T(0.5) + v - v * v / 2);
  return g;
}

/// Mean cross-entropy of the network `cfg` (neuron zeng) with parameters `p` (layout of
/// Network<double>(cfg)) on x (time-major, B sequences); `trace` receives the states.
template <typename T, typename P>
T reference_zeng_loss(const NetworkConfig& cfg, const ParamLayout& layout, const Vector<P>& p,
                      const Matrix<double>& x, Index B, const std::vector<int>& labels, double tau,
                      ZengTrace<T>* trace = nullptr) {
  const ZengConfig& z = cfg.zeng;
  const Index steps = x.rows() / B;
  auto param = [&](const std::string& name, Index i) -> T {
    const Index e = layout.find(name);
    REQUIRE(e >= 0);
    return T(p[layout.entry(e).offset + i]);
  };
  const T am = std::exp(T(-1) / T(z.tau_m)), aw = std::exp(T(-1) / T(z.tau_adp));
  const T as = z.tau_syn > 0 ? std::exp(T(-1) / T(z.tau_syn)) : T(0);
  const T ap = std::exp(T(-1) / T(cfg.tau_p));
  const T vth = T(z.v_th), cap = T(z.vmax) * T(z.v_th), beta = T(z.beta);
  const size_t L = cfg.hidden.size();
  const Index K = max_lag(cfg.recurrence, cfg.skip);
  // Lag coefficients (one-hot, or softmax(w / tau) for ASRC in training).
  std::vector<std::vector<T>> coeff(L, std::vector<T>(size_t(K), T(0)));
  for (size_t l = 0; l < L; ++l) {
    if (cfg.recurrence == Recurrence::vanilla) coeff[l][0] = 1;
    if (cfg.recurrence == Recurrence::src) coeff[l][size_t(K - 1)] = 1;
    if (cfg.recurrence == Recurrence::asrc) {
      const std::string name = cfg.network_wise ? "skip_logits" : "hidden" + std::to_string(l) + ".skip_logits";
      T m = param(name, 0), sum = 0;
      for (Index j = 1; j < K; ++j) m = std::max(m, param(name, j));
      for (Index j = 0; j < K; ++j) sum += (coeff[l][size_t(j)] = std::exp((param(name, j) - m) / T(tau)));
      for (auto& c : coeff[l]) c /= sum;
    }
  }
  if (trace) {
    for (auto* v : {&trace->u, &trace->s, &trace->I, &trace->b}) v->assign(L, {});
    trace->out.assign(size_t(B), {});
  }
  T loss = 0;
  for (Index bi = 0; bi < B; ++bi) {
    std::vector<std::vector<T>> in(size_t(steps), std::vector<T>(size_t(cfg.input_size)));
    for (Index t = 0; t < steps; ++t)
      for (Index f = 0; f < cfg.input_size; ++f) in[size_t(t)][size_t(f)] = T(x(t * B + bi, f));
    for (size_t l = 0; l < L; ++l) {
      const Index H = cfg.hidden[l], F = Index(in[0].size());
      const std::string pre = "hidden" + std::to_string(l);
      // W~: the off-diagonal entries in row-major order, the diagonal 0.
      std::vector<std::vector<T>> Wr(size_t(H), std::vector<T>(size_t(H), T(0)));
      if (K > 0) {
        Index k = 0;
        for (Index i = 0; i < H; ++i)
          for (Index j = 0; j < H; ++j)
            if (i != j) Wr[size_t(i)][size_t(j)] = param(pre + ".recurrent_offdiag", k++);
      }
      std::vector<std::vector<T>> s(size_t(steps), std::vector<T>(size_t(H), T(0)));
      std::vector<T> u(size_t(H), 0), r(size_t(H), 0), I(size_t(H), 0), b(size_t(H), 0);
      if (trace)
        for (auto* v : {&trace->u, &trace->s, &trace->I, &trace->b})
          (*v)[l].push_back(std::vector<std::vector<T>>(size_t(steps), std::vector<T>(size_t(H))));
      for (Index t = 0; t < steps; ++t) {
        std::vector<T> un(static_cast<size_t>(H)), rn(static_cast<size_t>(H)), In(static_cast<size_t>(H)),
            bn(static_cast<size_t>(H));
        for (Index h = 0; h < H; ++h) {
          const T sprev = t > 0 ? s[size_t(t - 1)][size_t(h)] : T(0);
          bn[size_t(h)] = aw * b[size_t(h)] + (1 - aw) * sprev;  // F1
          T c = cfg.bias && cfg.hidden_bias ? param(pre + ".bias", h) : T(0);
          for (Index f = 0; f < F; ++f) c += param(pre + ".weight", h * F + f) * in[size_t(t)][size_t(f)];  // F2
          T rec = 0;
          for (Index j = 1; j <= K; ++j)
            if (t - j >= 0)
              for (Index k = 0; k < H; ++k) rec += coeff[l][size_t(j - 1)] * Wr[size_t(h)][size_t(k)] * s[size_t(t - j)][size_t(k)];
          In[size_t(h)] = as * I[size_t(h)] + (1 - as) * rec;  // F3
          const T ut = am * u[size_t(h)] + (1 - am) * (c + In[size_t(h)] - beta * bn[size_t(h)]);  // F4
          const T m = r[size_t(h)] > 0 ? T(1) : T(0);  // F5
          T unew = (1 - m) * ut;
          if (z.clip) unew = std::min(std::max(unew, T(0)), cap);
          un[size_t(h)] = unew;
          const T v = ((z.paper_form ? unew : u[size_t(h)]) - vth) / vth;  // F6
          const T sp = (1 - m) * zeng_reference_fire<T>(z, v);
          s[size_t(t)][size_t(h)] = sp;
          rn[size_t(h)] = sp > 0 ? T(z.t_ref) : std::max(r[size_t(h)] - 1, T(0));  // F7
        }
        u = un, r = rn, I = In, b = bn;
        if (trace)
          for (Index h = 0; h < H; ++h) {
            trace->u[l][size_t(bi)][size_t(t)][size_t(h)] = u[size_t(h)];
            trace->s[l][size_t(bi)][size_t(t)][size_t(h)] = s[size_t(t)][size_t(h)];
            trace->I[l][size_t(bi)][size_t(t)][size_t(h)] = I[size_t(h)];
            trace->b[l][size_t(bi)][size_t(t)][size_t(h)] = b[size_t(h)];
          }
      }
      in = s;
    }
    const Index HL = cfg.hidden.back();
    std::vector<T> o(size_t(HL), T(0));
    for (Index t = 0; t < steps; ++t)
      for (Index h = 0; h < HL; ++h)
        o[size_t(h)] = cfg.readout == ReadoutKind::leaky_last ? ap * o[size_t(h)] + (1 - ap) * in[size_t(t)][size_t(h)]
                                                               : o[size_t(h)] + in[size_t(t)][size_t(h)];  // F8
    if (trace) trace->out[size_t(bi)] = o;
    std::vector<T> zl(size_t(cfg.num_classes));
    for (Index k = 0; k < cfg.num_classes; ++k) {
      T v = cfg.bias ? param("readout.bias", k) * T(cfg.readout == ReadoutKind::sum ? steps : 1) : T(0);
      for (Index h = 0; h < HL; ++h) v += param("readout.weight", k * HL + h) * o[size_t(h)];
      zl[size_t(k)] = v;
    }
    T m = zl[0], sum = 0;
    for (T v : zl) m = std::max(m, v);
    for (T v : zl) sum += std::exp(v - m);
    loss += m + std::log(sum) - zl[size_t(labels[size_t(bi)])];
  }
  return loss / T(B);
}

}  // namespace asrc_test
