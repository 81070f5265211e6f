#pragma once
// A hidden layer of spiking neurons: Linear -> dropout -> + recurrent input -> neuron.
//
//   a_t  = m (.) (W x_t + sum_k W_k s^k_t + b) feed-forward drive (s^k: the spikes of earlier
//                                             layers read besides x), dropout mask m per sequence
//   r_t  = sum_j c_j W_rec y_{t-j}            recurrent drive (layers/recurrence.hpp)
//          + w_s (.) y_{t-1}                  with a diagonal self-recurrence (ScSr-SNN)
//   s_t  = neuron step(a_t, r_t, state)       neuron/neuron.hpp: LIF (Table 1) sees
//                                             I_t = a_t + r_t; Zeng et al. gets them apart
//   y_t  = s_t, or with a PSC filter          the layer's output, which the next layers,
//          kappa y_{t-1} + c s_t              the recurrences and the readout read
//                                             (layers/psc.hpp; ScSr-SNN: layers exchange PSCs)
//
// The lag coefficients c_j (j = 1..K) are one-hot at lambda for SRC, at 1 for a vanilla
// RSNN, at j* for ASRC in evaluation, and p = softmax(w / tau) for ASRC in training.
// Without self connections (Zeng et al.) W_rec has a zero diagonal that is not a
// parameter: only its H(H-1) off-diagonal entries are stored and trained.
//
// Contract (dlib style), for one chunk of Bc sequences stored time-major:
//   forward(x)  caches  V (the neuron's membrane cache per step), S (outputs y_t), both
//               (T*Bc) x H; with a PSC filter Sp (the spikes s_t; otherwise S is them);
//               for a split-input neuron R (r_t) and F (its flags); for ASRC
//               in training Y_t = y_t W_rec^T. Outputs S. G is not used.
//   backward()  takes dL/dS in G (written there by the layer above or the readout) and
//               ASSIGNS G := dL/da (in place, step by step; dL/dI for LIF), and for a
//               split-input neuron GR := dL/dr; ASSIGNS dL/dx into *grad_input (ADDS when
//               the caller says other layers read x too); ADDS dL/ds^k into each extra
//               input's gradient (a layer's output can feed several layers: dlib's rule);
//               ACCUMULATES into `grad` (flat buffer): dW, db, dW_rec, dw_s, and into
//               `grad_coeff` (dL/dc_j), from which the recurrence forms dL/dw for ASRC.
//               For the ASRC mixture, V is overwritten with dL/dY_t (Y_t = s_t W_rec^T);
//               S is left as it was.
// Only the recurrent term lives inside the time loop; the feed-forward product, the
// input gradient and the weight gradients are single products over all T*Bc rows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "asrc/core/kernels.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/core/random.hpp"
#include "asrc/core/small_gemm.hpp"
#include "asrc/core/init.hpp"
#include "asrc/layers/psc.hpp"
#include "asrc/layers/recurrence.hpp"
#include "asrc/neuron/neuron.hpp"

namespace asrc {

/// Settings of one hidden layer, with the reference defaults.
struct HiddenLayerConfig {
  Index input_size = 1;
  Index size = 64;
  bool bias = true;
  Recurrence recurrence = Recurrence::src;
  Index skip = 1;        ///< lambda (SRC) or T_lambda (ASRC); ignored otherwise
  double dropout = 0.0;  ///< probability of zeroing a unit (mask fixed per sequence)
  bool self_connections = true;  ///< false: W_rec has a zero, untrained diagonal
  /// Further inputs besides the one before it: (source layer, its width). Each has a weight
  /// "<prefix>.from<source>" of its own whose product adds into the feed-forward drive.
  std::vector<std::pair<Index, Index>> extra_inputs;
  /// A trained weight per neuron feeding its own output y_{t-1} back ("<prefix>.self").
  bool self_recurrence = false;
  bool self_init_uniform = false;  ///< its initial values U(0, 1) instead of 0
  PscConfig psc;                   ///< the output filter (tau_s 0: none, the output is s_t)
  NeuronKind neuron = NeuronKind::lif;
  LifConfig lif;
  ZengConfig zeng;
};

/// Per-chunk buffers of one layer. Reused between batches (no reallocation).
template <typename T>
struct LayerCache {
  Matrix<T> G;  ///< backward: dL/ds_t in (written by the layer above), dL/da_t out
  Matrix<T> V;  ///< forward: the neuron's membrane cache; after backward (ASRC): dL/dY_t
  Matrix<T> S;  ///< outputs y_t (spikes s_t without a PSC filter)
  Matrix<T> Sp;  ///< with a PSC filter: the spikes s_t
  Matrix<T> E;   ///< with a PSC filter, backward: the filter's carry e_t (Bc x H)
  Matrix<T> R;  ///< split-input neuron: recurrent drive r_t
  Matrix<T> GR;  ///< split-input neuron, backward: dL/dr_t
  Matrix<T> F;  ///< neuron flags per step (kFlags)
  std::vector<Matrix<T>> state;  ///< the neuron's carried state, Bc x H each
  Matrix<T> gy;     ///< ASRC training: dL/dY_t of one block of steps (min(kMixBlock, K) x Bc*H)
  Matrix<T> lagA;   ///< ASRC training: lag coefficients of one block as a banded matrix
  std::vector<Index> ks;              ///< ASRC training: rows_gemm's scratch
  std::vector<Index> live;            ///< ASRC training: the lags of one step that are not silent
  std::vector<std::uint8_t> silent;  ///< ASRC training, skipping: step t's outputs y_t are all zero
  Matrix<T> gsum;   ///< Bc x H: sum over steps of dL/da_t (for the bias gradient)
  Matrix<T> tmp;    ///< F x H scratch of the gathered weight gradients
  Matrix<T> gWrec;  ///< H x H: dW_rec before its diagonal is dropped (no self connections)
  Matrix<T> Y;      ///< ASRC training: Y_t = s_t W_rec^T of every step (forward to backward)
};

/// Which products use the spike-aware row kernel (core/kernels.hpp) instead of GEMM.
struct KernelChoice {
  bool sparse_input = false;      ///< feed-forward product from this layer's input
  bool sparse_recurrent = false;  ///< W_rec times past spikes
  /// ASRC in training: the lag mixture and its backward leave out the terms that are
  /// exactly 0: lags whose coefficient is 0, and steps whose outputs y_t are all 0 (a
  /// silent layer). The same results bitwise as the full mixture (tested); false runs
  /// every term, for checking.
  bool skip_zero_lags = true;
};

template <typename T>
class SpikingLayer {
 public:
  /// Steps whose feed-forward drive is computed together in forward (cache-sized runs).
  static constexpr Index kTimeBlock = 32;
  /// Steps of one ASRC mixture block (at most; min(this, T_lambda) is used).
  static constexpr Index kMixBlock = 16;

  SpikingLayer(const HiddenLayerConfig& cfg, ParamLayout& layout, const std::string& prefix,
               Index shared_skip_entry = -1)
      : cfg_(cfg) {
    validate_neuron(cfg_);
    require(cfg.input_size > 0, "SpikingLayer::SpikingLayer", "input_size > 0", cfg.input_size);
    require(cfg.size > 0, "SpikingLayer::SpikingLayer", "size > 0", cfg.size);
    require(cfg.dropout >= 0.0 && cfg.dropout < 1.0, "SpikingLayer::SpikingLayer",
            "dropout in [0, 1)", cfg.dropout);
    if (cfg.recurrence == Recurrence::src || cfg.recurrence == Recurrence::asrc)
      require(cfg.skip >= 1, "SpikingLayer::SpikingLayer",
              std::string(cfg.recurrence == Recurrence::src ? "lambda" : "T_lambda") + " >= 1",
              cfg.skip);
    if (cfg.recurrence != Recurrence::none && !cfg.self_connections)
      require(cfg.size >= 2, "SpikingLayer::SpikingLayer",
              "at least 2 neurons for a recurrence without self connections", cfg.size);
    weight_ = layout.add(prefix + ".weight", cfg.size, cfg.input_size, ParamGroup::weights);
    if (cfg.bias) bias_ = layout.add(prefix + ".bias", 1, cfg.size, ParamGroup::weights);
    if (cfg.recurrence != Recurrence::none)
      recurrent_ = cfg.self_connections
                       ? layout.add(prefix + ".recurrent", cfg.size, cfg.size, ParamGroup::weights)
                       : layout.add(prefix + ".recurrent_offdiag", 1, cfg.size * (cfg.size - 1),
                                    ParamGroup::weights);
    if (cfg.recurrence == Recurrence::asrc) {
      own_skip_ = shared_skip_entry < 0;
      skip_ = own_skip_ ? layout.add(prefix + ".skip_logits", 1, cfg.skip, ParamGroup::skip)
                        : shared_skip_entry;
    }
    for (const auto& [src, width] : cfg.extra_inputs)
      extra_.push_back(layout.add(prefix + ".from" + std::to_string(src), cfg.size, width, ParamGroup::weights));
    extraWT_.resize(extra_.size());
    cfg.psc.validate();
    if (cfg.self_recurrence) self_ = layout.add(prefix + ".self", 1, cfg.size, ParamGroup::weights);
    visit_neuron<T>(cfg_, [&](auto neuron, const auto& ncfg) {
      decltype(neuron)::declare(ncfg, layout, prefix, cfg.size, neuron_);
    });
  }

  const HiddenLayerConfig& config() const { return cfg_; }
  Index size() const { return cfg_.size; }
  Index input_size() const { return cfg_.input_size; }
  Index lag_count() const { return max_lag(cfg_.recurrence, cfg_.skip); }
  Index weight_entry() const { return weight_; }
  Index bias_entry() const { return bias_; }
  Index recurrent_entry() const { return recurrent_; }
  Index skip_entry() const { return skip_; }
  const std::vector<Index>& extra_entries() const { return extra_; }
  Index self_entry() const { return self_; }
  /// Whether the output is 0/1 spikes (no PSC filter, a binary spike function).
  bool binary_output() const { return !cfg_.psc.enabled() && binary_spikes(cfg_); }
  /// The spikes s_t of a forward pass (not the PSCs).
  const Matrix<T>& spikes(const LayerCache<T>& c) const { return cfg_.psc.enabled() ? c.Sp : c.S; }
  /// The neuron's trained parameters (neuron/neuron.hpp), in the order it declared them.
  const std::vector<Index>& neuron_entries() const { return neuron_; }

  /// Draw this layer's parameters (in the order they were declared). uniform: W and b
  /// U(+-1/sqrt(fan_in)), W_rec orthogonal (QR of a Gaussian matrix, signs fixed by
  /// diag R); normal: W N(0, 1/fan_in), b 0, W_rec N(0, 1/H) (diagonal dropped). ASRC
  /// logits 0 (a shared kernel is the network's).
  void initialize(const ParamLayout& layout, Vector<T>& params, Rng& rng, InitScheme scheme) const {
    const Index H = cfg_.size, F = cfg_.input_size;
    auto W = view(params, layout.entry(weight_));
    draw_linear(W, rng, scheme);
    const double bound = 1.0 / std::sqrt(static_cast<double>(F));
    if (bias_ >= 0) {
      auto b = view(params, layout.entry(bias_));
      for (Index j = 0; j < H; ++j) b(0, j) = scheme == InitScheme::uniform ? static_cast<T>(rng.uniform(-bound, bound)) : T(0);
    }
    if (recurrent_ >= 0) {
      Eigen::MatrixXd g(H, H);
      for (Index i = 0; i < H; ++i)
        for (Index j = 0; j < H; ++j) g(i, j) = rng.normal();
      if (scheme == InitScheme::uniform) {
        Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
        Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(H, H);
        Eigen::MatrixXd r = qr.matrixQR().template triangularView<Eigen::Upper>();
        for (Index j = 0; j < H; ++j)
          if (r(j, j) < 0) q.col(j) *= -1.0;
        g = q;
      } else {
        g /= std::sqrt(static_cast<double>(H));
      }
      set_recurrent(layout, params, g.cast<T>());
    }
    if (own_skip_) view(params, layout.entry(skip_)).setZero();
    for (Index e : extra_) {  // like W, with its own fan-in
      auto We = view(params, layout.entry(e));
      draw_linear(We, rng, scheme);
    }
    if (self_ >= 0) {
      auto ws = view(params, layout.entry(self_));
      for (Index j = 0; j < H; ++j) ws(0, j) = cfg_.self_init_uniform ? static_cast<T>(rng.uniform(0.0, 1.0)) : T(0);
    }
    std::vector<T*> np;
    for (Index e : neuron_) np.push_back(params.data() + layout.entry(e).offset);
    visit_neuron<T>(cfg_, [&](auto neuron, const auto& ncfg) { decltype(neuron)::initialize(ncfg, np.data(), cfg_.size); });
  }

  /// W_rec as an H x H matrix (zero diagonal without self connections).
  Matrix<T> recurrent_matrix(const ParamLayout& layout, const Vector<T>& params) const {
    const Index H = cfg_.size;
    if (cfg_.self_connections) return view(params, layout.entry(recurrent_));
    Matrix<T> W = Matrix<T>::Zero(H, H);
    const T* p = params.data() + layout.entry(recurrent_).offset;
    for (Index i = 0; i < H; ++i)
      for (Index j = 0; j < H; ++j)
        if (i != j) W(i, j) = *p++;
    return W;
  }
  /// Store an H x H W_rec (its diagonal is dropped without self connections).
  void set_recurrent(const ParamLayout& layout, Vector<T>& params, const Matrix<T>& W) const {
    if (cfg_.self_connections) {
      view(params, layout.entry(recurrent_)) = W;
      return;
    }
    T* p = params.data() + layout.entry(recurrent_).offset;
    for (Index i = 0; i < cfg_.size; ++i)
      for (Index j = 0; j < cfg_.size; ++j)
        if (i != j) *p++ = W(i, j);
  }

  /// Transposed copies of W and W_rec for the row kernel (and W_rec itself without self
  /// connections); call once per parameter update.
  void prepare(const ParamLayout& layout, const Vector<T>& params) {
    WT_ = view(params, layout.entry(weight_)).transpose();
    for (size_t k = 0; k < extra_.size(); ++k) extraWT_[k] = view(params, layout.entry(extra_[k])).transpose();
    if (recurrent_ >= 0) {
      if (!cfg_.self_connections) Wrec_ = recurrent_matrix(layout, params);
      WrecT_ = cfg_.self_connections ? Matrix<T>(view(params, layout.entry(recurrent_)).transpose())
                                     : Matrix<T>(Wrec_.transpose());
    }
  }

  /// Whole-sequence forward of one chunk. `coeff` has lag_count() entries (c_1..c_K).
  /// `mask` is Bc x H (nullptr: no dropout). `extra` are the spikes of the extra inputs
  /// (config().extra_inputs, in order), time-major like x.
  template <typename XDerived>
  void forward(const ParamLayout& layout, const Vector<T>& params,
               const Eigen::MatrixBase<XDerived>& x, Index Bc, const Matrix<T>* mask,
               const std::vector<T>& coeff, KernelChoice kc, LayerCache<T>& c,
               const std::vector<const Matrix<T>*>& extra = {}) const {
    require(extra.size() == extra_.size(), "SpikingLayer::forward", str_cat(extra_.size(), " extra inputs"),
            extra.size());
    visit_neuron<T>(cfg_, [&](auto neuron, const auto& ncfg) {
      forward_impl<decltype(neuron)>(ncfg, layout, params, x, Bc, mask, coeff, kc, c, extra);
    });
  }

  /// One step of streaming inference (evaluation semantics, single lag): `a` gets the
  /// neuron's membrane cache, `r` is scratch; `history` gives the output block y_{t-lag} or
  /// nullptr when t < lag; `state` (stream_state(): zero at the first step; with a PSC
  /// filter or a self-recurrence its last matrix keeps y_{t-1}), `flags` and `s` (the
  /// output y_t) as in forward(). Uses the same kernels, in the same order, as forward()
  /// in evaluation, so the results are identical.
  template <typename XDerived, typename SDerived>
  void stream_step(const ParamLayout& layout, const Vector<T>& params,
                   const Eigen::MatrixBase<XDerived>& x, const Matrix<T>* history,
                   Matrix<T>& a, Matrix<T>& r, std::vector<Matrix<T>>& state, Matrix<T>& flags,
                   Eigen::MatrixBase<SDerived>& s, const std::vector<const Matrix<T>*>& extra = {}) const {
    const T* b = bias_ >= 0 ? params.data() + layout.entry(bias_).offset : nullptr;
    const Index B = x.rows(), H = cfg_.size;
    a.resize(B, H);
    project_rows<T>(x, WT_, b, a, false);
    for (size_t k = 0; k < extra_.size(); ++k) project_rows<T>(*extra[k], extraWT_[k], nullptr, a, true);
    visit_neuron<T>(cfg_, [&](auto neuron, const auto& ncfg) {
      using N = decltype(neuron);
      T* st[N::kStates];
      for (int k = 0; k < N::kStates; ++k) st[k] = state[size_t(k)].data();
      const auto pv = neuron_values(layout, params);
      const NeuronParams<T> np{pv.data(), nullptr, H};
      const T* ws = self_ >= 0 ? params.data() + layout.entry(self_).offset : nullptr;
      T* yprev = (ws || cfg_.psc.enabled()) ? state.back().data() : nullptr;
      T* y = s.derived().data();
      if constexpr (N::kSplitInput) {
        const bool rec = recurrent_ >= 0 || ws;
        if (rec) {
          r.setZero(B, H);
          if (history) project_rows<T>(*history, WrecT_, nullptr, r, true);
          if (ws) add_self(ws, yprev, r.data(), B, H);
        }
        flags.resize(B, H);
        N::forward(ncfg, a.data(), rec ? r.data() : nullptr, st, flags.data(), y, B * H, np);
      } else {
        if (history) project_rows<T>(*history, WrecT_, nullptr, a, true);
        if (ws) add_self(ws, yprev, a.data(), B, H);
        N::forward(ncfg, a.data(), st, y, B * H, np);
      }
      if (cfg_.psc.enabled()) psc_step<T>(cfg_.psc, yprev, y, y, B * H);  // spikes -> PSC, in place
      if (yprev) std::copy(y, y + B * H, yprev);
    });
  }
  /// The neuron's carried state for a stream of `batch` sequences (all zero).
  std::vector<Matrix<T>> stream_state(Index batch) const {
    int k = 0;
    visit_neuron<T>(cfg_, [&](auto neuron, const auto&) { k = decltype(neuron)::kStates; });
    if (self_ >= 0 || cfg_.psc.enabled()) ++k;  // y_{t-1}
    return std::vector<Matrix<T>>(size_t(k), Matrix<T>::Zero(batch, cfg_.size));
  }

  /// Backward of one chunk (see the contract at the top of this file). With
  /// `accumulate_input` dL/dx is ADDED into *grad_input (sized already): an input that
  /// other layers also read. dL/d(extra input k) is always ADDED into *extra_grad[k].
  template <typename XDerived>
  void backward(const ParamLayout& layout, const Vector<T>& params,
                const Eigen::MatrixBase<XDerived>& x, Index Bc, const Matrix<T>* mask,
                const std::vector<T>& coeff, KernelChoice kc, LayerCache<T>& c,
                Vector<T>& grad, Matrix<T>* grad_input, std::vector<T>& grad_coeff,
                const std::vector<const Matrix<T>*>& extra = {}, const std::vector<Matrix<T>*>& extra_grad = {},
                bool accumulate_input = false) const {
    require(extra.size() == extra_.size() && extra_grad.size() == extra_.size(), "SpikingLayer::backward",
            str_cat(extra_.size(), " extra inputs and their gradients"), str_cat(extra.size(), " and ", extra_grad.size()));
    visit_neuron<T>(cfg_, [&](auto neuron, const auto& ncfg) {
      backward_impl<decltype(neuron)>(ncfg, layout, params, x, Bc, mask, coeff, kc, c, grad, grad_input,
                                      grad_coeff, extra, extra_grad, accumulate_input);
    });
  }

  /// Index of the single non-zero coefficient (1-based), or 0 for a mixture / no lag.
  static Index single_lag(const std::vector<T>& coeff) {
    Index found = 0;
    for (size_t j = 0; j < coeff.size(); ++j) {
      if (coeff[j] == T(0)) continue;
      if (found != 0 || coeff[j] != T(1)) return 0;
      found = static_cast<Index>(j) + 1;
    }
    return found;
  }

 private:
  /// Pointers to the neuron's parameter values.
  std::vector<const T*> neuron_values(const ParamLayout& layout, const Vector<T>& params) const {
    std::vector<const T*> v;
    for (Index e : neuron_) v.push_back(params.data() + layout.entry(e).offset);
    return v;
  }

  /// r (+)= w_s (.) y over Bc rows of H: the diagonal self-recurrence (and, with r and y
  /// swapped, its backward dL/dy_{t-1} += w_s (.) dL/dr_t).
  static void add_self(const T* __restrict ws, const T* __restrict y, T* __restrict r, Index Bc, Index H) {
    for (Index b = 0; b < Bc; ++b)
      for (Index h = 0; h < H; ++h) r[b * H + h] += ws[h] * y[b * H + h];
  }

  /// W_rec as the kernels read it: the parameter itself, or its expanded copy without self
  /// connections (prepare()).
  ConstMatrixMap<T> recurrent_view(const ParamLayout& layout, const Vector<T>& params) const {
    if (recurrent_ < 0) return ConstMatrixMap<T>(nullptr, 0, 0);
    if (cfg_.self_connections) return view(params, layout.entry(recurrent_));
    return ConstMatrixMap<T>(Wrec_.data(), cfg_.size, cfg_.size);
  }

  template <typename N, typename XDerived>
  void forward_impl(const typename N::Config& ncfg, const ParamLayout& layout, const Vector<T>& params,
                    const Eigen::MatrixBase<XDerived>& x, Index Bc, const Matrix<T>* mask,
                    const std::vector<T>& coeff, KernelChoice kc, LayerCache<T>& c,
                    const std::vector<const Matrix<T>*>& extra) const {
    const Index H = cfg_.size, steps = x.rows() / Bc;
    const auto W = view(params, layout.entry(weight_));
    const T* b = bias_ >= 0 ? params.data() + layout.entry(bias_).offset : nullptr;

    c.V.resize(steps * Bc, H);
    c.S.resize(steps * Bc, H);
    const bool psc = cfg_.psc.enabled();
    if (psc) c.Sp.resize(steps * Bc, H);
    c.state.resize(size_t(N::kStates));
    T* st[N::kStates];
    for (int k = 0; k < N::kStates; ++k) {
      c.state[size_t(k)].setZero(Bc, H);
      st[k] = c.state[size_t(k)].data();
    }
    static_assert(!N::kFlags || N::kSplitInput, "a neuron with flags takes the split-input signature");
    if (N::kFlags) c.F.resize(steps * Bc, H);
    const Index K = lag_count();
    const Index single = single_lag(coeff);
    const bool mixture = K > 0 && single == 0;  // ASRC in training
    // The recurrent drive goes into V, on top of the feed-forward drive, for a neuron
    // that sums them; into R of its own for one that keeps them apart.
    constexpr bool split = N::kSplitInput;
    Matrix<T>& Rm = split ? c.R : c.V;
    const bool has_r = K > 0 || self_ >= 0;  // a recurrent drive of any kind
    if (split && has_r) c.R.setZero(steps * Bc, H);
    const T* ws = self_ >= 0 ? params.data() + layout.entry(self_).offset : nullptr;
    // ASRC in training keeps Y_t = s_t W_rec^T of every step: the forward mixes the last
    // K of them, and backward needs all of them for dL/dc_j.
    if (mixture) c.Y.resize(steps * Bc, H);
    // Silent steps are only looked for when they are skipped (forward and backward).
    if (mixture && kc.skip_zero_lags) c.silent.assign(size_t(steps), 0);
    std::uint8_t* silent = mixture && kc.skip_zero_lags ? c.silent.data() : nullptr;
    const std::vector<Index> lags = mixture ? nonzero_lags(coeff, kc.skip_zero_lags) : std::vector<Index>{};
    const auto Wrec = recurrent_view(layout, params);
    const auto pv = neuron_values(layout, params);
    const NeuronParams<T> np{pv.data(), nullptr, H};

    // A single lag lambda (SRC, vanilla, ASRC in evaluation): steps t .. t+lambda-1 only
    // need spikes from before t, so their recurrent input is one product over
    // lambda*Bc rows, made before the neurons of those steps run.
    //
    // ASRC in training (the mixture): for a block of L steps t0 .. t0+L-1, the terms
    // c_j Y_{t-j} with t - j < t0 are all known before the block starts, so they are one
    // product of the banded L x (lags) matrix of coefficients with the block of earlier Y
    // rows (one GEMM); only the terms from inside the block run step by step. Each Y
    // row is then read once per block instead of once per step.
    const Index block = mixture ? std::min(kMixBlock, K) : (K > 0 ? single : 1);
    // The feed-forward drive a_t = m (.) (W x_t + b) is one product per run of about
    // kTimeBlock steps, written straight into V (where the recurrent input is then added
    // and the neurons run in place) just before those steps: it is still in cache when
    // the neurons read it.
    const Index ff_block = block * std::max<Index>(1, kTimeBlock / block);
    for (Index f0 = 0; f0 < steps; f0 += ff_block) {
      const Index fn = std::min(ff_block, steps - f0);
      auto A = c.V.middleRows(f0 * Bc, fn * Bc);
      const auto xb = x.middleRows(f0 * Bc, fn * Bc);
      if (kc.sparse_input) {
        project_rows<T>(xb, WT_, b, A, false);
      } else {
        A.noalias() = xb * W.transpose();
        if (b) A.rowwise() += Eigen::Map<const RowVector<T>>(b, H);
      }
      for (size_t k = 0; k < extra_.size(); ++k) {  // spikes of earlier layers, as W_rec's
        const auto sk = extra[k]->middleRows(f0 * Bc, fn * Bc);
        if (kc.sparse_recurrent)
          project_rows<T>(sk, extraWT_[k], nullptr, A, true);
        else
          A.noalias() += sk * view(params, layout.entry(extra_[k])).transpose();
      }
      if (mask)
        for (Index t = 0; t < fn; ++t) A.middleRows(t * Bc, Bc).array() *= mask->array();

      for (Index t0 = f0; t0 < f0 + fn; t0 += block) {
        const Index nb = std::min(block, f0 + fn - t0);
        if (K > 0 && !mixture && t0 >= single) {
          auto Rblk = Rm.middleRows(t0 * Bc, nb * Bc);
          add_recurrent(c.S.middleRows((t0 - single) * Bc, nb * Bc), Wrec, kc, Rblk);
        }
        if (mixture) {
          // Terms from before the block: R[t0 + i] += sum_u c_(t0+i-u) Y[u], u < t0.
          const Index u0 = std::max<Index>(0, t0 - K);
          add_band(coeff, t0, nb, u0, t0 - u0, c.Y.data(), Bc * H, Rm.data() + t0 * Bc * H, c, silent,
                   kc.skip_zero_lags);
        }
        for (Index t = t0; t < t0 + nb; ++t) {
          T* rt = Rm.data() + t * Bc * H;
          // Terms from inside the block: lags 1 .. t - t0.
          if (mixture) {
            const std::vector<Index>* live = audible_lags(lags, K, silent, t, t - t0, c.live);
            if (live) mix_steps_nonzero(c.Y.data(), Bc * H, t, -1, steps, coeff, *live, rt, t - t0);
            else if (lags.empty()) mix_steps(c.Y.data(), Bc * H, t, -1, steps, coeff, rt, t - t0);
            else mix_steps_nonzero(c.Y.data(), Bc * H, t, -1, steps, coeff, lags, rt, t - t0);
          }
          if (ws && t > 0) add_self(ws, c.S.data() + (t - 1) * Bc * H, rt, Bc, H);
          T* v = c.V.data() + t * Bc * H;
          T* y = c.S.data() + t * Bc * H;
          T* s = psc ? c.Sp.data() + t * Bc * H : y;
          if constexpr (split)
            N::forward(ncfg, v, has_r ? rt : nullptr, st, c.F.data() + t * Bc * H, s, Bc * H, np);
          else
            N::forward(ncfg, v, st, s, Bc * H, np);
          if (psc) psc_step<T>(cfg_.psc, t > 0 ? y - Bc * H : nullptr, s, y, Bc * H);
          if (mixture) {
            auto Y = c.Y.middleRows(t * Bc, Bc);
            add_recurrent(c.S.middleRows(t * Bc, Bc), Wrec, kc, Y, false);
            if (silent) {
              const T* yt = c.S.data() + t * Bc * H;
              silent[t] = std::all_of(yt, yt + Bc * H, [](T v) { return v == T(0); });
            }
          }
        }
      }
    }
  }

  template <typename N, typename XDerived>
  void backward_impl(const typename N::Config& ncfg, const ParamLayout& layout, const Vector<T>& params,
                     const Eigen::MatrixBase<XDerived>& x, Index Bc, const Matrix<T>* mask,
                     const std::vector<T>& coeff, KernelChoice kc, LayerCache<T>& c,
                     Vector<T>& grad, Matrix<T>* grad_input, std::vector<T>& grad_coeff,
                     const std::vector<const Matrix<T>*>& extra, const std::vector<Matrix<T>*>& extra_grad,
                     bool accumulate_input) const {
    const Index H = cfg_.size, steps = x.rows() / Bc, K = lag_count();
    const auto W = view(params, layout.entry(weight_));
    const auto Wrec = recurrent_view(layout, params);
    const auto pv = neuron_values(layout, params);
    std::vector<T*> pg;  // the neuron's parameter gradients, straight into the chunk's gradient
    for (Index e : neuron_) pg.push_back(grad.data() + layout.entry(e).offset);
    const NeuronParams<T> np{pv.data(), pg.data(), H};
    // The neuron's backward carries (dL/dv_{t+1} for LIF) start at zero.
    T* st[N::kStates];
    for (int k = 0; k < N::kStates; ++k) {
      c.state[size_t(k)].setZero(Bc, H);
      st[k] = c.state[size_t(k)].data();
    }
    // The bias gradient sum_t m (.) dL/da_t = m (.) sum_t dL/da_t (the dropout mask m is
    // fixed per sequence): the sum is taken in the neuron pass, while the rows are in cache.
    T* gsum = nullptr;
    if (bias_ >= 0) {
      c.gsum.setZero(Bc, H);
      gsum = c.gsum.data();
    }
    // dL/dr_t, the gradient the recurrence reads: dL/dI_t itself for a summing neuron.
    constexpr bool split = N::kSplitInput;
    const bool has_r = K > 0 || self_ >= 0;
    if (split && has_r) c.GR.resize(steps * Bc, H);
    const Matrix<T>& GR = split ? c.GR : c.G;
    const T* ws = self_ >= 0 ? params.data() + layout.entry(self_).offset : nullptr;
    const bool psc = cfg_.psc.enabled();
    if (psc) c.E.setZero(Bc, H);
    const Matrix<T>& Sp = spikes(c);

    const Index single = single_lag(coeff);  // SRC, vanilla, ASRC in evaluation
    const bool mixture = K > 0 && single == 0;
    const Index N_ = Bc * H;  // values per step
    // ASRC in training: dL/dY_t = sum_j c_j dL/dr_{t+j}. Blocks of L steps as in forward,
    // mirrored: for the steps t_first .. t1 the terms from after t1 are known before the
    // block starts and are one banded product into c.gy; the terms from inside the block
    // run step by step. Forward left Y_t = s_t W_rec^T of every step in c.Y, for
    // dL/dc_j = sum_t <dL/dr_t, Y_{t-j}> after the loop (lag_correlation).
    //
    // Single lag lambda: dL/dY_t = dL/dr_{t+lambda}, and for the steps t1-lambda+1 .. t1
    // those rows are all known once step t1+1 is done, so their recurrent gradient is
    // one product over lambda*Bc rows, made before the neurons of those steps run.
    const Index block = mixture ? std::min(kMixBlock, K) : (K > 0 && single > 0 ? single : 1);
    if (mixture) c.gy.resize(block, N_);
    const std::vector<Index> lags = mixture ? nonzero_lags(coeff, kc.skip_zero_lags) : std::vector<Index>{};
    for (Index t1 = steps - 1; t1 >= 0; t1 -= block) {
      const Index t_first = std::max<Index>(0, t1 - block + 1);
      if (K > 0 && single > 0) {
        const Index t_last = std::min(t1, steps - 1 - single);  // steps with t + lambda < T
        if (t_last >= t_first) {
          const Index rows = (t_last - t_first + 1) * Bc;
          c.G.middleRows(t_first * Bc, rows).noalias() +=
              GR.middleRows((t_first + single) * Bc, rows) * Wrec;
        }
      }
      if (mixture) {
        // Terms from after the block: gy[t - t_first] = sum_u c_(u-t) dL/dr[u], u > t1.
        const Index nb = t1 - t_first + 1, u0 = t1 + 1;
        MatrixMap<T>(c.gy.data(), nb, N_).setZero();
        add_band(coeff, t_first, nb, u0, std::min(steps, u0 + K) - u0, GR.data(), N_, c.gy.data(), c, nullptr,
                 kc.skip_zero_lags);
      }
      for (Index t = t1; t >= t_first; --t) {
        auto gS = c.G.middleRows(t * Bc, Bc);  // in: dL/ds_t from above; out: dL/da_t
        auto V = c.V.middleRows(t * Bc, Bc);
        const T* S = Sp.data() + t * N_;
        MatrixMap<T> gy(mixture ? c.gy.data() + (t - t_first) * N_ : nullptr, Bc, H);
        if (mixture) {
          // dL/dY_t: add the terms from inside the block (lags 1 .. t1 - t); rows of
          // later steps already hold dL/dr.
          if (lags.empty()) mix_steps(GR.data(), N_, t, +1, steps, coeff, gy.data(), t1 - t);
          else mix_steps_nonzero(GR.data(), N_, t, +1, steps, coeff, lags, gy.data(), t1 - t);
          if (t + 1 < steps)
            rows_gemm<T>(Bc, H, H, gy.data(), H, Wrec.data(), H, gS.data(), H, kc.skip_zero_lags, c.ks);
        }
        // dL/dy_t += w_s (.) dL/dr_{t+1}; then through the PSC filter to dL/ds_t.
        if (ws && t + 1 < steps) add_self(ws, GR.data() + (t + 1) * N_, gS.data(), Bc, H);
        if (psc) psc_step_backward<T>(cfg_.psc, c.E.data(), gS.data(), N_);
        // dL/da_t (and dL/dr_t) from dL/ds_t (gS) and the neuron's carries, one fused pass.
        if constexpr (split)
          N::backward(ncfg, V.data(), c.F.data() + t * N_, S, gS.data(), has_r ? c.GR.data() + t * N_ : nullptr,
                      st, gsum, N_, np);
        else
          N::backward(ncfg, V.data(), S, gS.data(), st, gsum, N_, np);
        if (mixture) V = gy;  // the membrane cache is no longer needed: keep dL/dY_t there
      }
    }
    if (mixture && skip_ >= 0) {
      // With skipping, dL/dc_j is not computed where c_j = 0: the softmax backward
      // multiplies it by c_j (recurrence.hpp), so dL/dw is the same.
      const bool skip = kc.skip_zero_lags;
      lag_correlation<T>(GR.data(), c.Y.data(), steps, N_, K, skip ? c.silent.data() : nullptr,
                         skip ? coeff.data() : nullptr, grad_coeff.data());
    }
    if (ws) {  // dL/dw_s = sum over steps t >= 1 and sequences of dL/dr_t (.) y_{t-1}
      T* gws = grad.data() + layout.entry(self_).offset;
      for (Index t = 1; t < steps; ++t) {
        const T* gr = GR.data() + t * N_;
        const T* y = c.S.data() + (t - 1) * N_;
        for (Index b = 0; b < Bc; ++b)
          for (Index h = 0; h < H; ++h) gws[h] += gr[b * H + h] * y[b * H + h];
      }
    }

    if (K > 0) {
      // dW_rec = sum_t dL/dY_t^T s_t: one product over all rows (for 0/1 spikes, the
      // rows of dL/dY selected by each spike column are summed: project_columns).
      if (!cfg_.self_connections) c.gWrec.setZero(H, H);
      MatrixMap<T> gWrec = cfg_.self_connections ? view(grad, layout.entry(recurrent_))
                                                 : MatrixMap<T>(c.gWrec.data(), H, H);
      if (single > 0) {
        // dL/dY_t = dL/dr_{t+lambda}: one product over the shifted rows.
        const Index n = (steps - single) * Bc;
        if (n > 0) add_weight_grad(gWrec, GR.bottomRows(n), c.S.topRows(n), kc.sparse_recurrent, c.tmp);
      } else {
        add_weight_grad(gWrec, c.V, c.S, kc.sparse_recurrent, c.tmp);
      }
      if (!cfg_.self_connections) {
        T* g = grad.data() + layout.entry(recurrent_).offset;
        for (Index i = 0; i < H; ++i)
          for (Index j = 0; j < H; ++j)
            if (i != j) *g++ += c.gWrec(i, j);
      }
    }
    if (mask)
      for (Index t = 0; t < steps; ++t) c.G.middleRows(t * Bc, Bc).array() *= mask->array();
    if (bias_ >= 0) {
      if (mask) c.gsum.array() *= mask->array();
      view(grad, layout.entry(bias_)).row(0) += c.gsum.colwise().sum();
    }
    add_weight_grad(view(grad, layout.entry(weight_)), c.G, x, kc.sparse_input, c.tmp);
    for (size_t k = 0; k < extra_.size(); ++k) {
      add_weight_grad(view(grad, layout.entry(extra_[k])), c.G, *extra[k], kc.sparse_recurrent, c.tmp);
      input_gradient(c.G, view(params, layout.entry(extra_[k])), *extra_grad[k], true, c.ks);
    }
    if (grad_input) {
      if (!accumulate_input) grad_input->resize(c.G.rows(), W.cols());
      input_gradient(c.G, W, *grad_input, accumulate_input, c.ks);
    }
  }

  /// out (+)= G W (rows_gemm: G has T*Bc rows, W is small; Eigen's GEMM spent a large
  /// part of this product packing).
  static void input_gradient(const Matrix<T>& G, const ConstMatrixMap<T>& W, Matrix<T>& out, bool accumulate,
                             std::vector<Index>& ks) {
    rows_gemm<T>(G.rows(), G.cols(), W.cols(), G.data(), G.cols(), W.data(), W.cols(), out.data(), out.cols(), false,
                 ks, accumulate);
  }

  /// out (+)= s W_rec^T, by the row kernel or by GEMM as `kc` says.
  template <typename SDerived, typename ODerived>
  void add_recurrent(const Eigen::MatrixBase<SDerived>& s, const ConstMatrixMap<T>& Wrec,
                     KernelChoice kc, Eigen::MatrixBase<ODerived>& out, bool accumulate = true) const {
    if (kc.sparse_recurrent)
      project_rows<T>(s, WrecT_, nullptr, out, accumulate);
    else if (accumulate)
      out.derived().noalias() += s * Wrec.transpose();
    else
      out.derived().noalias() = s * Wrec.transpose();
  }

  /// dst (H x F) += dY^T x: a weight gradient. For 0/1 x (`gather`), the rows of dY that
  /// each column of x selects are summed (project_columns) into `scratch` (F x H).
  template <typename XDerived, typename YDerived>
  static void add_weight_grad(MatrixMap<T> dst, const Eigen::MatrixBase<YDerived>& dY,
                              const Eigen::MatrixBase<XDerived>& x, bool gather, Matrix<T>& scratch) {
    if (gather) {
      project_columns<T>(x, dY, scratch, false);
      dst += scratch.transpose();
    } else {
      dst.noalias() += dY.transpose() * x;
    }
  }

  /// out[0..n) += sum_{j=1..min(K, jmax)} c_j src[step t + dir*j], over the steps inside
  /// [0, steps), j increasing for every element; src holds one block of n values per
  /// step. The output is walked in tiles held in registers, so each source block is read
  /// once.
  static void mix_steps(const T* src, Index n, Index t, int dir, Index steps,
                        const std::vector<T>& coeff, T* __restrict out, Index jmax) {
    const Index K = std::min(static_cast<Index>(coeff.size()), jmax);
    const Index J = dir < 0 ? std::min(K, t) : std::min(K, steps - 1 - t);
    constexpr Index kW = 8 * detail::Simd<T>::width;  // 8 registers of accumulators
    Index c0 = 0;
    for (; c0 + kW <= n; c0 += kW) {
      T a[kW];
      for (Index c = 0; c < kW; ++c) a[c] = out[c0 + c];
      for (Index j = 1; j <= J; ++j) {
        const T cj = coeff[size_t(j - 1)];
        const T* __restrict y = src + (t + dir * j) * n + c0;
        for (Index c = 0; c < kW; ++c) a[c] += cj * y[c];
      }
      for (Index c = 0; c < kW; ++c) out[c0 + c] = a[c];
    }
    mix_tail(src, n, t, dir, J, coeff, out, c0);
  }

  /// The columns c0 .. n-1 of mix_steps (fewer than one tile), every lag 1..J. Not
  /// inlined, so that mix_steps and mix_steps_nonzero run the same machine code here: GCC
  /// 12 (-O3 -march=native) vectorizes this loop over j in pairs, one product rounded before its add and one
  /// fused, so leaving out a lag would change which products are fused.
  __attribute__((noinline)) static void mix_tail(const T* src, Index n, Index t, int dir, Index J,
                                                 const std::vector<T>& coeff, T* __restrict out, Index c0) {
    for (Index c = c0; c < n; ++c) {
      T a = out[c];
      for (Index j = 1; j <= J; ++j) a += coeff[size_t(j - 1)] * src[(t + dir * j) * n + c];
      out[c] = a;
    }
  }

  /// The lags j (1-based, increasing) whose coefficient is not exactly 0, when `skip` and
  /// at least one coefficient is 0; otherwise empty (run the full mix_steps).
  static std::vector<Index> nonzero_lags(const std::vector<T>& coeff, bool skip) {
    std::vector<Index> lags;
    if (!skip || std::find(coeff.begin(), coeff.end(), T(0)) == coeff.end()) return lags;
    for (size_t j = 0; j < coeff.size(); ++j)
      if (coeff[j] != T(0)) lags.push_back(static_cast<Index>(j) + 1);
    return lags;
  }

  /// mix_steps with the lags whose term is exactly 0 left out of the tiles (`lags`: the
  /// others, increasing): c_j is 0, or the source step is silent (y = 0). The same
  /// results bitwise: in a tile every element is the chain a <- a + c_j y over j
  /// increasing, the same expression as in mix_steps (GCC fuses it into one FMA per lag
  /// in both), so the lags kept see the same operations in the same order, and a lag left
  /// out would have added c_j y = +-0, which leaves a unchanged for finite c_j and y except
  /// that +0 + -0 gives +0 where a was -0 (the sign of a zero current or dL/dY; the spikes
  /// and every non-zero value are the same). With y = +-inf or NaN the full mixture gives
  /// NaN where this does not. The last n mod kW columns run every lag
  /// (mix_tail, see there).
  static void mix_steps_nonzero(const T* src, Index n, Index t, int dir, Index steps,
                                const std::vector<T>& coeff, const std::vector<Index>& lags,
                                T* __restrict out, Index jmax) {
    const Index K = std::min(static_cast<Index>(coeff.size()), jmax);
    const Index J = dir < 0 ? std::min(K, t) : std::min(K, steps - 1 - t);
    Index nl = 0;  // lags is increasing: those up to J are a prefix
    while (nl < static_cast<Index>(lags.size()) && lags[size_t(nl)] <= J) ++nl;
    const Index* lag = lags.data();
    constexpr Index kW = 8 * detail::Simd<T>::width;  // 8 registers of accumulators
    Index c0 = 0;
    for (; c0 + kW <= n; c0 += kW) {
      if (nl == 0) continue;
      T a[kW];
      for (Index c = 0; c < kW; ++c) a[c] = out[c0 + c];
      for (Index q = 0; q < nl; ++q) {
        const Index j = lag[q];
        const T cj = coeff[size_t(j - 1)];
        const T* __restrict y = src + (t + dir * j) * n + c0;
        for (Index c = 0; c < kW; ++c) a[c] += cj * y[c];
      }
      for (Index c = 0; c < kW; ++c) out[c0 + c] = a[c];
    }
    mix_tail(src, n, t, dir, J, coeff, out, c0);
  }

  /// out[i] += sum_k A(i, k) src[u0 + k] for the output steps t0 .. t0+nb-1 and the
  /// source steps u0 .. u0+nu-1 (all before them in forward, all after them in
  /// backward), one block of N values per step: the banded coefficients A(i, k) = c_lag,
  /// lag = |(u0 + k) - (t0 + i)|, for 1 <= lag <= K, else 0 (in c.lagA), times the source
  /// rows (rows_gemm). With `skip`, the terms that are exactly 0 are left out: zero
  /// coefficients, and the sources flagged in `silent` (optional), whose column of A is
  /// set to 0.
  static void add_band(const std::vector<T>& coeff, Index t0, Index nb, Index u0, Index nu, const T* src,
                       Index N, T* out, LayerCache<T>& c, const std::uint8_t* silent, bool skip) {
    if (nu <= 0) return;
    const Index K = static_cast<Index>(coeff.size());
    Matrix<T>& A = c.lagA;
    A.resize(nb, nu);
    for (Index i = 0; i < nb; ++i)
      for (Index k = 0; k < nu; ++k) {
        const Index lag = std::abs((u0 + k) - (t0 + i));
        A(i, k) = (lag >= 1 && lag <= K && !(silent && silent[u0 + k])) ? coeff[size_t(lag - 1)] : T(0);
      }
    rows_gemm<T>(nb, nu, N, A.data(), nu, src + u0 * N, N, out, N, skip, c.ks);
  }

  /// The lags of step t's mixture (`lags`, or 1 .. K when it is empty; up to jmax) whose
  /// source step is not silent, in `out`; nullptr (use `lags` as they are) without flags
  /// or when none of those sources is silent.
  static const std::vector<Index>* audible_lags(const std::vector<Index>& lags, Index K,
                                                const std::uint8_t* silent, Index t, Index jmax,
                                                std::vector<Index>& out) {
    if (!silent) return nullptr;
    const Index J = std::min({K, jmax, t});
    bool any = false;
    for (Index j = 1; j <= J && !any; ++j) any = silent[t - j] != 0;
    if (!any) return nullptr;
    out.clear();
    if (lags.empty()) {
      for (Index j = 1; j <= J; ++j)
        if (!silent[t - j]) out.push_back(j);
    } else {
      for (Index j : lags)
        if (j <= J && !silent[t - j]) out.push_back(j);
    }
    return &out;
  }

  HiddenLayerConfig cfg_;
  Index weight_ = -1, bias_ = -1, recurrent_ = -1, skip_ = -1, self_ = -1;
  bool own_skip_ = false;
  std::vector<Index> extra_, neuron_;
  Matrix<T> WT_, WrecT_, Wrec_;
  std::vector<Matrix<T>> extraWT_;
};

}  // namespace asrc
