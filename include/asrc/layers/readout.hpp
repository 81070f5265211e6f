#pragma once
// Readout and loss (spec section 4; docs/model.md).
//
//   sum (Table 1):  logits = sum_{t=0..T-1} (W_o s_t + b_o) = W_o C + T b_o,  C = sum_t s_t
//   leaky-last (Zeng et al.): o_t = a_p o_{t-1} + (1 - a_p) s_t, a_p = exp(-1 / tau_p),
//                   logits = W_o o_{T-1} + b_o,  C = o_{T-1}
//   spiking (ScSr-SNN): the network ends in a layer of spiking neurons, one per class
//                   (Network adds it); logits = C = sum_t y_t, its outputs summed over
//                   time (spike counts, or PSCs with a PSC filter). No parameters here.
//   loss   = mean over the batch of -log softmax(logits)[label]
//
// Contract: forward computes C (the features of the last hidden layer: spike counts
// summed in time order, or the leaky output current at the last step) and the logits.
// backward takes dL/dlogits and ACCUMULATES dW_o, db_o into the flat gradient, and
// ASSIGNS dL/ds_t = w_t dL/dlogits W_o into the last hidden layer's G buffer (w_t = 1 for
// sum, (1 - a_p) a_p^(T-1-t) for leaky-last; dL/dy_t = dL/dlogits for spiking).
#include <cmath>
#include <string>
#include <vector>

#include "asrc/core/init.hpp"
#include "asrc/core/kernels.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/core/random.hpp"
#include "asrc/layers/psc.hpp"

namespace asrc {

enum class ReadoutKind { sum, leaky_last, spiking };

inline ReadoutKind parse_readout(const std::string& s) {
  if (s == "sum") return ReadoutKind::sum;
  if (s == "leaky-last") return ReadoutKind::leaky_last;
  if (s == "spiking") return ReadoutKind::spiking;
  fail_expected("parse_readout", "one of sum, leaky-last, spiking", "'" + s + "'");
}
inline const char* to_string(ReadoutKind k) {
  return k == ReadoutKind::sum ? "sum" : k == ReadoutKind::leaky_last ? "leaky-last" : "spiking";
}

template <typename T>
class Readout {
 public:
  Readout(Index input_size, Index classes, bool bias, ParamLayout& layout,
          ReadoutKind kind = ReadoutKind::sum, double tau_p = 1.0)
      : kind_(kind), ap_(kind == ReadoutKind::leaky_last ? std::exp(-1.0 / tau_p) : 0.0) {
    require(classes >= 2, "Readout::Readout", "at least 2 classes", classes);
    require(kind != ReadoutKind::leaky_last || (tau_p > 0 && std::isfinite(tau_p)), "Readout::Readout",
            "a finite tau_p > 0 for the leaky readout", tau_p);
    if (kind == ReadoutKind::spiking) {
      require(input_size == classes, "Readout::Readout",
              str_cat("an output layer of ", classes, " neurons for the spiking readout"), input_size);
      return;
    }
    weight_ = layout.add("readout.weight", classes, input_size, ParamGroup::weights);
    if (bias) bias_ = layout.add("readout.bias", 1, classes, ParamGroup::weights);
  }
  Index weight_entry() const { return weight_; }
  Index bias_entry() const { return bias_; }

  ReadoutKind kind() const { return kind_; }

  /// uniform: W_o and b_o U(+-1/sqrt(H)) (torch); normal: W_o N(0, 1/H), b_o N(0, 1).
  void initialize(const ParamLayout& layout, Vector<T>& params, Rng& rng, InitScheme scheme) const {
    if (weight_ < 0) return;
    auto W = view(params, layout.entry(weight_));
    draw_linear(W, rng, scheme);
    if (bias_ >= 0) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(W.cols()));
      auto b = view(params, layout.entry(bias_));
      for (Index j = 0; j < b.cols(); ++j)
        b(0, j) = static_cast<T>(scheme == InitScheme::uniform ? rng.uniform(-bound, bound)
                                 : scheme == InitScheme::normal ? rng.normal() : 0.0);
    }
  }

  void prepare(const ParamLayout& layout, const Vector<T>& params) {
    if (weight_ < 0) return;
    WT_ = view(params, layout.entry(weight_)).transpose();
  }

  /// One step into the features: C += s (sum) or C = a_p C + (1 - a_p) s (leaky-last).
  /// The one place this happens, for batches and streams alike.
  template <typename SDerived>
  void accumulate(Matrix<T>& C, const Eigen::MatrixBase<SDerived>& s) const {
    if (kind_ != ReadoutKind::leaky_last) {
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
    if (weight_ < 0) {
      out = C;
      return;
    }
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
    const Index Bc = C.rows();
    gS.resize(steps * Bc, C.cols());
    if (weight_ < 0) {
      for (Index t = 0; t < steps; ++t) gS.middleRows(t * Bc, Bc) = glogits;
      return;
    }
    const auto W = view(params, layout.entry(weight_));
    view(grad, layout.entry(weight_)).noalias() += glogits.transpose() * C;
    if (bias_ >= 0) view(grad, layout.entry(bias_)).row(0) += T(bias_steps(steps)) * glogits.colwise().sum();
    Matrix<T> g = glogits * W;
    if (kind_ != ReadoutKind::leaky_last) {
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
  Index bias_steps(Index steps) const { return kind_ != ReadoutKind::leaky_last ? steps : 1; }

  ReadoutKind kind_;
  double ap_;
  Index weight_ = -1, bias_ = -1;
  Matrix<T> WT_;
};

/// The training loss: softmax cross-entropy of the logits (every readout), or, for the
/// spiking readout, the spike-train loss of the ScSr-SNN / TSSL-BP (spike_train_loss).
enum class LossKind { cross_entropy, spike_train };

inline LossKind parse_loss(const std::string& s) {
  if (s == "ce" || s == "cross-entropy") return LossKind::cross_entropy;
  if (s == "spike-train") return LossKind::spike_train;
  fail_expected("parse_loss", "one of ce, spike-train", "'" + s + "'");
}
inline const char* to_string(LossKind k) { return k == LossKind::cross_entropy ? "ce" : "spike-train"; }

/// The spike-train loss of the ScSr-SNN (spec scsr-snn.md section 4, from the TSSL-BP
/// code): the label's output neuron should fire at every second step (t = 1, 3, 5, ...,
/// counting from 0), the others never; desired and actual outputs pass the same PSC
/// filter (`psc`; none: the spikes themselves), and the loss of a sequence is
/// sum_t sum_k (y_kt - yhat_kt)^2 / 2 over the output layer's outputs Y (time-major,
/// steps*Bc x classes). Returns the SUM of the per-sample losses of these rows and ASSIGNS
/// dL/dY = (Y - Yhat) / batch_total (chunk results add up to the gradient of the batch mean).
template <typename T>
double spike_train_loss(const Matrix<T>& Y, Index Bc, const int* labels, Index batch_total, const PscConfig& psc,
                        Matrix<T>& gY) {
  const Index steps = Y.rows() / Bc, K = Y.cols();
  for (Index i = 0; i < Bc; ++i)
    require(labels[i] >= 0 && labels[i] < K, "spike_train_loss", str_cat("labels in [0, ", K, ")"), labels[i]);
  gY.resize(Y.rows(), K);
  const T inv = T(1) / T(batch_total);
  double total = 0.0;
  T yhat = 0;  // the label neuron's desired output, the same for every sequence
  for (Index t = 0; t < steps; ++t) {
    const T d = (t % 2 == 1) ? T(1) : T(0);
    yhat = psc.enabled() ? static_cast<T>(psc.kappa()) * yhat + static_cast<T>(psc.gain()) * d : d;
    for (Index i = 0; i < Bc; ++i)
      for (Index k = 0; k < K; ++k) {
        const T diff = Y(t * Bc + i, k) - (k == labels[i] ? yhat : T(0));
        total += 0.5 * static_cast<double>(diff) * static_cast<double>(diff);
        gY(t * Bc + i, k) = diff * inv;
      }
  }
  return total;
}

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
