#pragma once
// Readout and loss (spec section 4; docs/model.md).
//
//   sum (Table 1):  logits = sum_{t=0..T-1} (W_o s_t + b_o) = W_o C + T b_o,  C = sum_t s_t
//   leaky-last (Zeng et al.): o_t = a_p o_{t-1} + (1 - a_p) s_t, a_p = exp(-1 / tau_p),
//                   logits = W_o o_{T-1} + b_o,  C = o_{T-1}
//   loss   = mean over the batch of -log softmax(logits)[label]
//
// Contract: forward computes C (the features of the last hidden layer: spike counts
// summed in time order, or the leaky output current at the last step) and the logits.
// backward takes dL/dlogits and ACCUMULATES dW_o, db_o into the flat gradient, and
// ASSIGNS dL/ds_t = w_t dL/dlogits W_o into the last hidden layer's G buffer (w_t = 1 for
// sum, (1 - a_p) a_p^(T-1-t) for leaky-last).
#include <cmath>
#include <string>
#include <vector>

#include "asrc/core/init.hpp"
#include "asrc/core/kernels.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/core/random.hpp"

namespace asrc {

enum class ReadoutKind { sum, leaky_last };

inline ReadoutKind parse_readout(const std::string& s) {
  if (s == "sum") return ReadoutKind::sum;
  if (s == "leaky-last") return ReadoutKind::leaky_last;
  fail_expected("parse_readout", "one of sum, leaky-last", "'" + s + "'");
}
inline const char* to_string(ReadoutKind k) { return k == ReadoutKind::sum ? "sum" : "leaky-last"; }

template <typename T>
class Readout {
 public:
  Readout(Index input_size, Index classes, bool bias, ParamLayout& layout,
          ReadoutKind kind = ReadoutKind::sum, double tau_p = 1.0)
      : kind_(kind), ap_(kind == ReadoutKind::leaky_last ? std::exp(-1.0 / tau_p) : 0.0) {
    require(classes >= 2, "Readout::Readout", "at least 2 classes", classes);
    require(kind == ReadoutKind::sum || (tau_p > 0 && std::isfinite(tau_p)), "Readout::Readout",
            "a finite tau_p > 0 for the leaky readout", tau_p);
    weight_ = layout.add("readout.weight", classes, input_size, ParamGroup::weights);
    if (bias) bias_ = layout.add("readout.bias", 1, classes, ParamGroup::weights);
  }
  Index weight_entry() const { return weight_; }
  Index bias_entry() const { return bias_; }

  ReadoutKind kind() const { return kind_; }

  /// uniform: W_o and b_o U(+-1/sqrt(H)) (torch); normal: W_o N(0, 1/H), b_o N(0, 1).
  void initialize(const ParamLayout& layout, Vector<T>& params, Rng& rng, InitScheme scheme) const {
    auto W = view(params, layout.entry(weight_));
    draw_linear(W, rng, scheme);
    if (bias_ >= 0) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(W.cols()));
      auto b = view(params, layout.entry(bias_));
      for (Index j = 0; j < b.cols(); ++j)
        b(0, j) = static_cast<T>(scheme == InitScheme::uniform ? rng.uniform(-bound, bound) : rng.normal());
    }
  }

  void prepare(const ParamLayout& layout, const Vector<T>& params) {
    WT_ = view(params, layout.entry(weight_)).transpose();
  }

  /// One step into the features: C += s (sum) or C = a_p C + (1 - a_p) s (leaky-last).
  /// The one place this happens, for batches and streams alike.
  template <typename SDerived>
  void accumulate(Matrix<T>& C, const Eigen::MatrixBase<SDerived>& s) const {
    if (kind_ == ReadoutKind::sum) {
      C += s;
      return;
    }
    const T ap = static_cast<T>(ap_), bp = T(1) - ap;
    T* c = C.data();
    for (Index i = 0; i < C.rows(); ++i)
      for (Index j = 0; j < C.cols(); ++j, ++c) *c = ap * *c + bp * s(i, j);
  }

  /// The features C (Bc x H) of a time-major spike matrix, in time order.
  void features(const Matrix<T>& S, Index Bc, Matrix<T>& C) const {
    const Index steps = S.rows() / Bc;
    C.setZero(Bc, S.cols());
    for (Index t = 0; t < steps; ++t) accumulate(C, S.middleRows(t * Bc, Bc));
  }

  /// logits = C W_o^T + steps * b_o. `exact` uses the row kernel (shape independent,
  /// the evaluation and streaming path); otherwise one GEMM.
  void logits(const ParamLayout& layout, const Vector<T>& params, const Matrix<T>& C,
              Index steps, bool exact, Matrix<T>& out) const {
    const Index K = layout.entry(weight_).rows;
    out.resize(C.rows(), K);
    if (exact)
      project_rows<T>(C, WT_, nullptr, out, false);
    else
      out.noalias() = C * view(params, layout.entry(weight_)).transpose();
    if (bias_ >= 0)
      out.rowwise() += T(bias_steps(steps)) * Eigen::Map<const RowVector<T>>(
                                      params.data() + layout.entry(bias_).offset, K);
  }

  /// Backward: see the contract above. `gS` is resized to (steps*Bc) x H.
  void backward(const ParamLayout& layout, const Vector<T>& params, const Matrix<T>& C,
                const Matrix<T>& glogits, Index steps, Vector<T>& grad, Matrix<T>& gS) const {
    const auto W = view(params, layout.entry(weight_));
    view(grad, layout.entry(weight_)).noalias() += glogits.transpose() * C;
    if (bias_ >= 0) view(grad, layout.entry(bias_)).row(0) += T(bias_steps(steps)) * glogits.colwise().sum();
    const Index Bc = C.rows();
    gS.resize(steps * Bc, C.cols());
    Matrix<T> g = glogits * W;
    if (kind_ == ReadoutKind::sum) {
      for (Index t = 0; t < steps; ++t) gS.middleRows(t * Bc, Bc) = g;
      return;
    }
    // dC/ds_t = (1 - a_p) a_p^(T-1-t), built from the last step down.
    T w = T(1) - static_cast<T>(ap_);
    for (Index t = steps - 1; t >= 0; --t) {
      gS.middleRows(t * Bc, Bc) = w * g;
      w *= static_cast<T>(ap_);
    }
  }

 private:
  /// How many times the bias enters the logits.
  Index bias_steps(Index steps) const { return kind_ == ReadoutKind::sum ? steps : 1; }

  ReadoutKind kind_;
  double ap_;
  Index weight_ = -1, bias_ = -1;
  Matrix<T> WT_;
};

/// Softmax cross-entropy. Returns the SUM of the per-sample losses of these rows and
/// writes dL/dlogits scaled by 1/batch_total (so chunk results add up to the batch mean).
template <typename T>
double softmax_cross_entropy(const Matrix<T>& logits, const int* labels, Index batch_total,
                             typename Matrix<T>::PlainObject* grad) {
  const Index n = logits.rows(), K = logits.cols();
  double total = 0.0;
  if (grad) grad->resize(n, K);
  for (Index i = 0; i < n; ++i) {
    const int y = labels[i];
    require(y >= 0 && y < K, "softmax_cross_entropy", str_cat("labels in [0, ", K, ")"), y);
    const T m = logits.row(i).maxCoeff();
    T sum = 0;
    for (Index k = 0; k < K; ++k) sum += std::exp(logits(i, k) - m);
    const T lse = m + std::log(sum);
    total += static_cast<double>(lse - logits(i, y));
    if (grad) {
      for (Index k = 0; k < K; ++k)
        (*grad)(i, k) = (std::exp(logits(i, k) - lse) - (k == y ? T(1) : T(0))) / T(batch_total);
    }
  }
  return total;
}

}  // namespace asrc
