#pragma once
// Gradient flow through time (paper section 3.2), measured on a real network.
//
// GradientFlowRecorder: per hidden layer l and step t, the norm of the membrane gradient
//   ||dL/dU^l[t]||   (U[t] = v_t before reset, Eq. 1; the Frobenius norm over the batch
//                     and the layer's neurons of what backward already computes)
// for the network's loss, or, with `last_step_only`, for the last step's output alone
// (dL[T-1]/dU[t]: the quantity whose decay over k = T-1-t steps Eq. 5-8 describe).
//
// TemporalFactorRecorder: the per-neuron scalar model of Eq. 5-7, evaluated on the
// membrane traces of a real forward pass. With one neuron's own recurrent weight
// w = W_rec(i, i) (the paper's scalar W_2) and the lag coefficients c_j of its layer
// (c_1 = 1 for an RSNN, c_lambda = 1 for SRC, softmax(w / tau) for ASRC), the membrane
// recurrence U[t+j] = d v'[t+j-1] + ... + c_j w S[t] gives
//   E[T-1] = 1,
//   E[t]   = d (dv'_t/dU_t) E[t+1] + w g(U[t] - theta) sum_j c_j E[t+j],
// E[t] = dU[T-1]/dU[t] of that scalar model, with dv'/dU = 1 - theta g for the soft reset
// (1 when detached) and (1 - s) - U g for the hard reset ((1 - s) when detached).
// For an RSNN this is Eq. 7's product of the factors alpha + (W_2 - alpha V_th) H(U)
// of Eq. 5; the recorder averages |E| over neurons and samples for each k = T-1-t.
// The exact gradient (all of W_rec, not only its diagonal) is GradientFlowRecorder's.
//
// Both are NetworkObserver's (network/network.hpp): per-chunk storage, reduced in
// chunk order in end(), so the results do not depend on the thread count.
#include <cmath>
#include <vector>

#include "asrc/network/network.hpp"

namespace asrc {

template <typename T>
class GradientFlowRecorder : public NetworkObserver<T> {
 public:
  explicit GradientFlowRecorder(size_t layers, bool last_step_only = false)
      : layers_(layers), last_only_(last_step_only) {
    require(layers >= 1, "GradientFlowRecorder::GradientFlowRecorder", "at least one layer", layers);
  }

  void begin(Index batch, Index steps, Index chunk_size, Index chunks) override {
    steps_ = steps;
    chunk_.assign(size_t(chunks), std::vector<ScaledSq>(layers_ * size_t(steps)));
  }
  void top_gradient(Index ci, Index Bc, Matrix<T>& dS) override {
    if (last_only_) dS.topRows(dS.rows() - Bc).setZero();
  }
  void backward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<T>& G) override {
    require(l < layers_, "GradientFlowRecorder::backward_layer", str_cat("a layer < ", layers_), l);
    // Kept as (scale, sum of (x / scale)^2), as LAPACK's nrm2 does: the squares of
    // gradients below 1e-154 would underflow (and are flushed to 0 in this thread).
    ScaledSq* out = chunk_[size_t(ci)].data() + l * size_t(steps_);
    for (Index t = 0; t < steps_; ++t) {
      const auto g = G.middleRows(t * Bc, Bc).template cast<double>();
      const double m = g.cwiseAbs().maxCoeff();
      out[t] = m > 0 ? ScaledSq{m, (g / m).squaredNorm()} : ScaledSq{};
    }
  }
  void end() override {
    norm_.assign(layers_ * size_t(steps_), 0.0);
    for (size_t i = 0; i < norm_.size(); ++i) {
      ScaledSq acc;
      for (const auto& c : chunk_) acc.add(c[i]);
      norm_[i] = acc.scale * std::sqrt(acc.ssq);
    }
  }

  Index steps() const { return steps_; }
  size_t layers() const { return layers_; }
  /// ||dL/dU^l[t]|| of the last backward pass.
  double norm(size_t l, Index t) const {
    require(l < layers_ && t >= 0 && t < steps_ && !norm_.empty(), "GradientFlowRecorder::norm",
            str_cat("a recorded layer < ", layers_, " and step < ", steps_), str_cat(l, ", ", t));
    return norm_[l * size_t(steps_) + size_t(t)];
  }

 private:
  size_t layers_;
  bool last_only_;
  Index steps_ = 0;
  struct ScaledSq {
    double scale = 0, ssq = 0;  // the sum of squares is scale^2 * ssq
    void add(const ScaledSq& o) {
      if (o.scale == 0) return;
      if (o.scale > scale) {
        ssq = o.ssq + ssq * (scale / o.scale) * (scale / o.scale);
        scale = o.scale;
      } else {
        ssq += o.ssq * (o.scale / scale) * (o.scale / scale);
      }
    }
  };
  std::vector<std::vector<ScaledSq>> chunk_;  // [chunk][l * steps + t]
  std::vector<double> norm_;
};

template <typename T>
class TemporalFactorRecorder : public NetworkObserver<T> {
 public:
  /// Reads the lag coefficients (in the network's current mode), the diagonals of W_rec
  /// and the LIF settings now: construct it after loading the parameters.
  explicit TemporalFactorRecorder(const Network<T>& net, double alive = 1e-2) : alive_(alive) {
    const auto& cfg = net.config();
    lif_ = cfg.lif;
    for (size_t l = 0; l < net.layers().size(); ++l) {
      const auto& layer = net.layers()[l];
      coeff_.push_back(net.lag_coefficients(l));
      std::vector<double> w(size_t(layer.size()), 0.0);
      if (layer.recurrent_entry() >= 0) {
        const auto R = view(net.params(), net.layout().entry(layer.recurrent_entry()));
        for (Index i = 0; i < layer.size(); ++i) w[size_t(i)] = double(R(i, i));
      }
      diag_.push_back(std::move(w));
    }
  }

  void begin(Index batch, Index steps, Index chunk_size, Index chunks) override {
    steps_ = steps;
    const size_t n = coeff_.size() * size_t(steps);
    abs_.assign(size_t(chunks), std::vector<double>(n, 0.0));
    alive_n_.assign(size_t(chunks), std::vector<double>(n, 0.0));
    count_.assign(size_t(chunks), std::vector<double>(coeff_.size(), 0.0));
  }

  void forward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<T>& V,
                     const Matrix<T>& S) override {
    const Index steps = steps_, H = V.cols();
    const auto& c = coeff_[l];
    const auto& w = diag_[l];
    const double d = lif_.decay, theta = lif_.threshold;
    const bool soft = lif_.reset == ResetMode::soft, detach = lif_.detach_reset;
    double* sum_abs = abs_[size_t(ci)].data() + l * size_t(steps);
    double* sum_alive = alive_n_[size_t(ci)].data() + l * size_t(steps);
    std::vector<double> E(static_cast<size_t>(steps));
    for (Index i = 0; i < Bc; ++i)
      for (Index h = 0; h < H; ++h) {
        for (Index t = steps - 1; t >= 0; --t) {
          if (t == steps - 1) {
            E[size_t(t)] = 1.0;
          } else {
            const double u = double(V(t * Bc + i, h)), s = double(S(t * Bc + i, h));
            const double g = double(surrogate_grad<T>(lif_.surrogate, T(u - theta)));
            const double reset = soft ? (detach ? 1.0 : 1.0 - theta * g)
                                      : (detach ? 1.0 - s : (1.0 - s) - u * g);
            double rec = 0.0;
            for (size_t j = 1; j <= c.size() && t + Index(j) < steps; ++j)
              if (c[j - 1] != T(0)) rec += double(c[j - 1]) * E[size_t(t) + j];
            E[size_t(t)] = d * reset * E[size_t(t) + 1] + w[size_t(h)] * g * rec;
          }
          const size_t k = size_t(steps - 1 - t);
          const double a = std::abs(E[size_t(t)]);
          sum_abs[k] += a;
          sum_alive[k] += a >= alive_ ? 1.0 : 0.0;
        }
      }
    count_[size_t(ci)][l] += double(Bc * H);
  }

  void end() override {
    const size_t n = coeff_.size() * size_t(steps_);
    mean_abs_.assign(n, 0.0);
    alive_frac_.assign(n, 0.0);
    std::vector<double> count(coeff_.size(), 0.0);
    for (size_t ci = 0; ci < abs_.size(); ++ci) {
      for (size_t i = 0; i < n; ++i) {
        mean_abs_[i] += abs_[ci][i];
        alive_frac_[i] += alive_n_[ci][i];
      }
      for (size_t l = 0; l < coeff_.size(); ++l) count[l] += count_[ci][l];
    }
    for (size_t l = 0; l < coeff_.size(); ++l)
      for (Index k = 0; k < steps_; ++k) {
        mean_abs_[l * size_t(steps_) + size_t(k)] /= std::max(1.0, count[l]);
        alive_frac_[l * size_t(steps_) + size_t(k)] /= std::max(1.0, count[l]);
      }
  }

  Index steps() const { return steps_; }
  size_t layers() const { return coeff_.size(); }
  /// Mean over neurons and samples of |dU[T-1]/dU[T-1-k]| in the scalar model.
  double mean_abs(size_t l, Index k) const { return at(mean_abs_, l, k); }
  /// Fraction of neurons and samples with |dU[T-1]/dU[T-1-k]| >= alive (default 1e-2).
  double alive_fraction(size_t l, Index k) const { return at(alive_frac_, l, k); }

 private:
  double at(const std::vector<double>& v, size_t l, Index k) const {
    require(l < coeff_.size() && k >= 0 && k < steps_ && !v.empty(), "TemporalFactorRecorder::at",
            str_cat("a recorded layer < ", coeff_.size(), " and k < ", steps_), str_cat(l, ", ", k));
    return v[l * size_t(steps_) + size_t(k)];
  }

  double alive_;
  LifConfig lif_;
  std::vector<std::vector<T>> coeff_;
  std::vector<std::vector<double>> diag_;
  Index steps_ = 0;
  std::vector<std::vector<double>> abs_, alive_n_, count_;
  std::vector<double> mean_abs_, alive_frac_;
};

}  // namespace asrc
