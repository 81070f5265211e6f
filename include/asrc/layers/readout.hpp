#pragma once
// Readout and loss (spec section 4).
//
//   logits = sum_{t=0..T-1} (W_o s_t + b_o) = W_o C + T b_o,   C = sum_t s_t
//   loss   = mean over the batch of -log softmax(logits)[label]
//
// Contract: forward computes C (spike counts of the last hidden layer, summed in
// time order) and the logits. backward takes dL/dlogits and ACCUMULATES dW_o, db_o
// into the flat gradient, and ASSIGNS dL/ds_t = dL/dlogits W_o (the same block for
// every t) into the last hidden layer's G buffer.
#include <cmath>
#include <string>
#include <vector>

#include "asrc/core/kernels.hpp"
#include "asrc/core/parameters.hpp"

namespace asrc {

template <typename T>
class Readout {
 public:
  Readout(Index input_size, Index classes, bool bias, ParamLayout& layout) {
    require(classes >= 2, "Readout::Readout", "at least 2 classes", classes);
    weight_ = layout.add("readout.weight", classes, input_size, ParamGroup::weights);
    if (bias) bias_ = layout.add("readout.bias", 1, classes, ParamGroup::weights);
  }
  Index weight_entry() const { return weight_; }
  Index bias_entry() const { return bias_; }

  void prepare(const ParamLayout& layout, const Vector<T>& params) {
    WT_ = view(params, layout.entry(weight_)).transpose();
  }

  /// Spike counts C (Bc x H) of a time-major spike matrix, summed in time order.
  static void counts(const Matrix<T>& S, Index Bc, Matrix<T>& C) {
    const Index steps = S.rows() / Bc;
    C.setZero(Bc, S.cols());
    for (Index t = 0; t < steps; ++t) C += S.middleRows(t * Bc, Bc);
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
      out.rowwise() += T(steps) * Eigen::Map<const RowVector<T>>(
                                      params.data() + layout.entry(bias_).offset, K);
  }

  /// Backward: see the contract above. `gS` is resized to (steps*Bc) x H.
  void backward(const ParamLayout& layout, const Vector<T>& params, const Matrix<T>& C,
                const Matrix<T>& glogits, Index steps, Vector<T>& grad, Matrix<T>& gS) const {
    const auto W = view(params, layout.entry(weight_));
    view(grad, layout.entry(weight_)).noalias() += glogits.transpose() * C;
    if (bias_ >= 0) view(grad, layout.entry(bias_)).row(0) += T(steps) * glogits.colwise().sum();
    const Index Bc = C.rows();
    gS.resize(steps * Bc, C.cols());
    Matrix<T> g = glogits * W;
    for (Index t = 0; t < steps; ++t) gS.middleRows(t * Bc, Bc) = g;
  }

 private:
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
