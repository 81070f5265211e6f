#pragma once
// Recurrent input of a hidden layer (paper Eq. 4 vanilla, Eq. 9 SRC, Eq. 12-13 ASRC,
// Eq. 11 the hard limit used in evaluation; spec section 3).
//
//   none     r_t = 0                                (feed-forward SNN, "FF")
//   vanilla  r_t = s_{t-1}                          (RSNN)
//   src      r_t = s_{t-lambda}                     (skip recurrent connection, Eq. 9)
//   asrc     r_t = sum_{j=1..T_lambda} p_j s_{t-j}, p = softmax(w / tau)   (training, Eq. 12-13)
//            r_t = s_{t-j*}, j* = 1 + argmax(w)     (evaluation, Eq. 11; ties: smallest lag)
// Spikes before t = 0 are zero. The current entering the neuron is I_t = W_rec r_t + a_t.
#include <cmath>
#include <string>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

enum class Recurrence { none, vanilla, src, asrc };

inline Recurrence parse_recurrence(const std::string& s) {
  if (s == "none" || s == "FF" || s == "ff") return Recurrence::none;
  if (s == "vanilla" || s == "RSNN" || s == "rsnn") return Recurrence::vanilla;
  if (s == "src" || s == "SRC") return Recurrence::src;
  if (s == "asrc" || s == "ASRC") return Recurrence::asrc;
  fail_expected("parse_recurrence", "one of FF, RSNN, SRC, ASRC", "'" + s + "'");
}
inline const char* to_string(Recurrence r) {
  switch (r) {
    case Recurrence::none: return "FF";
    case Recurrence::vanilla: return "RSNN";
    case Recurrence::src: return "SRC";
    case Recurrence::asrc: return "ASRC";
  }
  return "?";
}

/// Longest lag a layer looks back: the length of its spike-history buffer.
inline Index max_lag(Recurrence kind, Index skip) {
  switch (kind) {
    case Recurrence::none: return 0;
    case Recurrence::vanilla: return 1;
    case Recurrence::src:
    case Recurrence::asrc: return skip;
  }
  return 0;
}

/// Softmax of w / tau (the ASRC lag kernel p, Eq. 13).
template <typename T>
std::vector<T> skip_softmax(const T* w, Index n, double tau) {
  std::vector<T> p(static_cast<size_t>(n));
  T m = w[0];
  for (Index j = 1; j < n; ++j) m = std::max(m, w[j]);
  T sum = 0;
  for (Index j = 0; j < n; ++j) {
    p[size_t(j)] = std::exp((w[j] - m) / static_cast<T>(tau));
    sum += p[size_t(j)];
  }
  for (auto& v : p) v /= sum;
  return p;
}

/// Evaluation lag of ASRC: 1 + argmax(w), the smallest lag on ties.
template <typename T>
Index skip_argmax_lag(const T* w, Index n) {
  Index best = 0;
  for (Index j = 1; j < n; ++j)
    if (w[j] > w[best]) best = j;
  return best + 1;
}

/// Lag coefficients c_1..c_K of a layer with this recurrence and K = max_lag(kind, skip):
/// one-hot at 1 (vanilla) or at lambda (SRC); for ASRC (logits w) the softmax p in
/// training and one-hot at the argmax lag in evaluation. Empty without recurrence.
template <typename T>
std::vector<T> lag_coefficients(Recurrence kind, Index K, const T* w, bool training, double tau) {
  std::vector<T> c(static_cast<size_t>(K), T(0));
  if (K == 0) return c;
  switch (kind) {
    case Recurrence::none: break;
    case Recurrence::vanilla: c[0] = T(1); break;
    case Recurrence::src: c[size_t(K - 1)] = T(1); break;
    case Recurrence::asrc:
      if (training)
        c = skip_softmax<T>(w, K, tau);
      else
        c[size_t(skip_argmax_lag<T>(w, K) - 1)] = T(1);
      break;
  }
  return c;
}

/// Backward of the ASRC kernel in training: from dL/dc (gc) and c = softmax(w / tau),
/// ADDS dL/dw_i = (1/tau) c_i (dL/dc_i - sum_j c_j dL/dc_j) into gw.
template <typename T>
void skip_softmax_backward(const std::vector<T>& c, const std::vector<T>& gc, double tau, T* gw) {
  T dot = 0;
  for (size_t j = 0; j < c.size(); ++j) dot += c[j] * gc[j];
  for (size_t j = 0; j < c.size(); ++j) gw[j] += c[j] * (gc[j] - dot) / static_cast<T>(tau);
}

}  // namespace asrc
