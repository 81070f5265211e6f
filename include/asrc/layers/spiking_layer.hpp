#pragma once
// A hidden layer of spiking neurons: Linear -> dropout -> + recurrent input -> LIF.
//
//   a_t  = m (.) (W x_t + b)                  feed-forward, dropout mask m per sequence
//   I_t  = a_t + sum_j c_j W_rec s_{t-j}      recurrent input (layers/recurrence.hpp)
//   v_t  = d v'_{t-1} + I_t                   charge   (paper Eq. 1)
//   s_t  = H(v_t - theta)                     fire     (Eq. 2)
//   v'_t = v_t - theta s_t  |  v_t (1 - s_t)  reset    (Eq. 3; soft | hard)
//
// The lag coefficients c_j (j = 1..K) are one-hot at lambda for SRC, at 1 for a vanilla
// RSNN, at j* for ASRC in evaluation, and p = softmax(w / tau) for ASRC in training.
//
// Contract (dlib style), for one chunk of Bc sequences stored time-major:
//   forward(x)  caches  V (membrane v_t before reset), S (spikes s_t), both (T*Bc) x H,
//               and for ASRC in training Y_t = s_t W_rec^T. Outputs S. G is not used.
//   backward()  takes dL/dS in G (written there by the layer above or the readout) and
//               ASSIGNS G := dL/dI (in place, step by step), dL/dx into *grad_input;
//               ACCUMULATES into `grad` (flat buffer): dW, db, dW_rec, and into
//               `grad_coeff` (dL/dc_j), from which the network forms dL/dw for ASRC.
//               For the ASRC mixture, V is overwritten with dL/dY_t (Y_t = s_t W_rec^T);
//               S is left as it was.
// Only the recurrent term lives inside the time loop; the feed-forward product, the
// input gradient and the weight gradients are single products over all T*Bc rows.
#include <algorithm>
#include <string>
#include <vector>

#include "asrc/core/kernels.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/layers/recurrence.hpp"
#include "asrc/neuron/lif.hpp"

namespace asrc {

/// Settings of one hidden layer, with the reference defaults.
struct HiddenLayerConfig {
  Index input_size = 1;
  Index size = 64;
  bool bias = true;
  Recurrence recurrence = Recurrence::src;
  Index skip = 1;        ///< lambda (SRC) or T_lambda (ASRC); ignored otherwise
  double dropout = 0.0;  ///< probability of zeroing a unit (mask fixed per sequence)
  LifConfig lif;
};

/// Per-chunk buffers of one layer. Reused between batches (no reallocation).
template <typename T>
struct LayerCache {
  Matrix<T> G;  ///< backward: dL/ds_t in (written by the layer above), dL/dI_t out
  Matrix<T> V;  ///< forward: v_t; after backward: dL/dY_t
  Matrix<T> S;  ///< spikes s_t
  Matrix<T> vprev;  ///< Bc x H scratch: v'_{t-1} / dL/dv_{t+1}
  Matrix<T> gy;     ///< ASRC training: dL/dY_t of one block of steps (min(kMixBlock, K) x Bc*H)
  Matrix<T> lagA;   ///< ASRC training: lag coefficients of one block as a banded matrix
  Matrix<T> lagM;   ///< ASRC training: <dL/dI_t, Y_u> of one block of steps
  Matrix<T> gsum;   ///< Bc x H: sum over steps of dL/dI_t (for the bias gradient)
  Matrix<T> tmp;    ///< F x H scratch of the gathered weight gradients
  Matrix<T> Y;      ///< ASRC training: Y_t = s_t W_rec^T of every step (forward to backward)
};

/// Which products use the spike-aware row kernel (core/kernels.hpp) instead of GEMM.
struct KernelChoice {
  bool sparse_input = false;      ///< feed-forward product from this layer's input
  bool sparse_recurrent = false;  ///< W_rec times past spikes
  /// ASRC in training: the step-by-step part of the lag mixture leaves out the lags whose
  /// coefficient is exactly 0 (mix_steps_nonzero). The same results bitwise as the full
  /// mixture (tested); false runs every lag, for checking.
  bool skip_zero_lags = true;
};

template <typename T>
class SpikingLayer {
 public:
  /// Steps whose feed-forward drive is computed together in forward (cache-sized runs).
  static constexpr Index kTimeBlock = 32;
  /// Steps of one ASRC mixture block (at most; min(this, T_lambda) is used).
  static constexpr Index kMixBlock = 16;
  /// Rows of dL/dI per product of the input gradient dL/dx = dL/dI W.
  static constexpr Index kGradInputRows = 2048;

  SpikingLayer(const HiddenLayerConfig& cfg, ParamLayout& layout, const std::string& prefix,
               Index shared_skip_entry = -1)
      : cfg_(cfg) {
    cfg_.lif.validate();
    require(cfg.input_size > 0, "SpikingLayer::SpikingLayer", "input_size > 0", cfg.input_size);
    require(cfg.size > 0, "SpikingLayer::SpikingLayer", "size > 0", cfg.size);
    require(cfg.dropout >= 0.0 && cfg.dropout < 1.0, "SpikingLayer::SpikingLayer",
            "dropout in [0, 1)", cfg.dropout);
    if (cfg.recurrence == Recurrence::src || cfg.recurrence == Recurrence::asrc)
      require(cfg.skip >= 1, "SpikingLayer::SpikingLayer",
              std::string(cfg.recurrence == Recurrence::src ? "lambda" : "T_lambda") + " >= 1",
              cfg.skip);
    weight_ = layout.add(prefix + ".weight", cfg.size, cfg.input_size, ParamGroup::weights);
    if (cfg.bias) bias_ = layout.add(prefix + ".bias", 1, cfg.size, ParamGroup::weights);
    if (cfg.recurrence != Recurrence::none)
      recurrent_ = layout.add(prefix + ".recurrent", cfg.size, cfg.size, ParamGroup::weights);
    if (cfg.recurrence == Recurrence::asrc)
      skip_ = shared_skip_entry >= 0
                  ? shared_skip_entry
                  : layout.add(prefix + ".skip_logits", 1, cfg.skip, ParamGroup::skip);
  }

  const HiddenLayerConfig& config() const { return cfg_; }
  Index size() const { return cfg_.size; }
  Index input_size() const { return cfg_.input_size; }
  Index lag_count() const { return max_lag(cfg_.recurrence, cfg_.skip); }
  Index weight_entry() const { return weight_; }
  Index bias_entry() const { return bias_; }
  Index recurrent_entry() const { return recurrent_; }
  Index skip_entry() const { return skip_; }

  /// Transposed copies of W and W_rec for the row kernel; call once per parameter update.
  void prepare(const ParamLayout& layout, const Vector<T>& params) {
    WT_ = view(params, layout.entry(weight_)).transpose();
    if (recurrent_ >= 0) WrecT_ = view(params, layout.entry(recurrent_)).transpose();
  }

  /// Whole-sequence forward of one chunk. `coeff` has lag_count() entries (c_1..c_K).
  /// `mask` is Bc x H (nullptr: no dropout).
  template <typename XDerived>
  void forward(const ParamLayout& layout, const Vector<T>& params,
               const Eigen::MatrixBase<XDerived>& x, Index Bc, const Matrix<T>* mask,
               const std::vector<T>& coeff, KernelChoice kc, LayerCache<T>& c) const {
    const Index H = cfg_.size, steps = x.rows() / Bc;
    const auto W = view(params, layout.entry(weight_));
    const T* b = bias_ >= 0 ? params.data() + layout.entry(bias_).offset : nullptr;

    c.V.resize(steps * Bc, H);
    c.S.resize(steps * Bc, H);
    c.vprev.setZero(Bc, H);
    const Index K = lag_count();
    const Index single = single_lag(coeff);
    const bool mixture = K > 0 && single == 0;  // ASRC in training
    // ASRC in training keeps Y_t = s_t W_rec^T of every step: the forward mixes the last
    // K of them, and backward needs all of them for dL/dc_j.
    if (mixture) c.Y.resize(steps * Bc, H);
    const std::vector<Index> lags = mixture ? nonzero_lags(coeff, kc.skip_zero_lags) : std::vector<Index>{};
    const auto Wrec = recurrent_ >= 0 ? view(params, layout.entry(recurrent_))
                                      : ConstMatrixMap<T>(nullptr, 0, 0);

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
      if (mask)
        for (Index t = 0; t < fn; ++t) A.middleRows(t * Bc, Bc).array() *= mask->array();

      for (Index t0 = f0; t0 < f0 + fn; t0 += block) {
        const Index nb = std::min(block, f0 + fn - t0);
        auto Iblk = c.V.middleRows(t0 * Bc, nb * Bc);
        if (K > 0 && !mixture && t0 >= single)
          add_recurrent(c.S.middleRows((t0 - single) * Bc, nb * Bc), Wrec, kc, Iblk);
        if (mixture) {
          // Terms from before the block: V[t0 + i] += sum_u c_(t0+i-u) Y[u], u < t0.
          const Index u0 = std::max<Index>(0, t0 - K);
          add_band(coeff, t0, nb, u0, t0 - u0, c.Y.data(), Bc * H, c.V.data() + t0 * Bc * H, c.lagA);
        }
        for (Index t = t0; t < t0 + nb; ++t) {
          auto I = c.V.middleRows(t * Bc, Bc);
          // Terms from inside the block: lags 1 .. t - t0.
          if (mixture) {
            if (lags.empty()) mix_steps(c.Y.data(), Bc * H, t, -1, steps, coeff, I.data(), t - t0);
            else mix_steps_nonzero(c.Y.data(), Bc * H, t, -1, steps, coeff, lags, I.data(), t - t0);
          }
          charge_fire_reset(I, c.vprev, c.S.middleRows(t * Bc, Bc));
          if (mixture) {
            auto Y = c.Y.middleRows(t * Bc, Bc);
            add_recurrent(c.S.middleRows(t * Bc, Bc), Wrec, kc, Y, false);
          }
        }
      }
    }
  }

  /// One step of streaming inference (evaluation semantics, single lag `lag`):
  /// `a` (B x H) holds nothing on entry and the membrane v_t on exit; `history`
  /// gives the spike block s_{t-lag} or nullptr when t < lag. Uses the same kernels,
  /// in the same order, as forward() in evaluation, so the results are identical.
  template <typename XDerived, typename SDerived>
  void stream_step(const ParamLayout& layout, const Vector<T>& params,
                   const Eigen::MatrixBase<XDerived>& x, const Matrix<T>* history,
                   Matrix<T>& a, Matrix<T>& vprev, Eigen::MatrixBase<SDerived>& s) const {
    const T* b = bias_ >= 0 ? params.data() + layout.entry(bias_).offset : nullptr;
    a.resize(x.rows(), cfg_.size);
    project_rows<T>(x, WT_, b, a, false);
    if (history) project_rows<T>(*history, WrecT_, nullptr, a, true);
    charge_fire_reset(a, vprev, s);
  }

  /// Backward of one chunk (see the contract at the top of this file).
  template <typename XDerived>
  void backward(const ParamLayout& layout, const Vector<T>& params,
                const Eigen::MatrixBase<XDerived>& x, Index Bc, const Matrix<T>* mask,
                const std::vector<T>& coeff, KernelChoice kc, LayerCache<T>& c,
                Vector<T>& grad, Matrix<T>* grad_input, std::vector<T>& grad_coeff) const {
    const Index H = cfg_.size, steps = x.rows() / Bc, K = lag_count();
    const T d = static_cast<T>(cfg_.lif.decay), theta = static_cast<T>(cfg_.lif.threshold);
    const bool soft = cfg_.lif.reset == ResetMode::soft, detach = cfg_.lif.detach_reset;
    const Surrogate sg = cfg_.lif.surrogate;
    const auto W = view(params, layout.entry(weight_));
    const auto Wrec = recurrent_ >= 0 ? view(params, layout.entry(recurrent_))
                                      : ConstMatrixMap<T>(nullptr, 0, 0);
    auto& gnext = c.vprev;  // dL/dv_{t+1}
    gnext.setZero(Bc, H);
    // The bias gradient sum_t m (.) dL/dI_t = m (.) sum_t dL/dI_t (the dropout mask m is
    // fixed per sequence): the sum is taken in the neuron pass, while the rows are in cache.
    T* gsum = nullptr;
    if (bias_ >= 0) {
      c.gsum.setZero(Bc, H);
      gsum = c.gsum.data();
    }

    const Index single = single_lag(coeff);  // SRC, vanilla, ASRC in evaluation
    const bool mixture = K > 0 && single == 0;
    const Index N = Bc * H;  // values per step
    // ASRC in training: dL/dY_t = sum_j c_j dL/dI_{t+j}. Blocks of L steps as in forward,
    // mirrored: for the steps t_first .. t1 the terms from after t1 are known before the
    // block starts and are one banded product into c.gy; the terms from inside the block
    // run step by step. Forward left Y_t = s_t W_rec^T of every step in c.Y, for
    // dL/dc_j = sum_t <dL/dI_t, Y_{t-j}> after the loop (lag_gradient).
    //
    // Single lag lambda: dL/dY_t = dL/dI_{t+lambda}, and for the steps t1-lambda+1 .. t1
    // those rows are all known once step t1+1 is done, so their recurrent gradient is
    // one product over lambda*Bc rows, made before the neurons of those steps run.
    const Index block = mixture ? std::min(kMixBlock, K) : (K > 0 && single > 0 ? single : 1);
    if (mixture) c.gy.resize(block, N);
    const std::vector<Index> lags = mixture ? nonzero_lags(coeff, kc.skip_zero_lags) : std::vector<Index>{};
    for (Index t1 = steps - 1; t1 >= 0; t1 -= block) {
      const Index t_first = std::max<Index>(0, t1 - block + 1);
      if (K > 0 && single > 0) {
        const Index t_last = std::min(t1, steps - 1 - single);  // steps with t + lambda < T
        if (t_last >= t_first) {
          const Index rows = (t_last - t_first + 1) * Bc;
          c.G.middleRows(t_first * Bc, rows).noalias() +=
              c.G.middleRows((t_first + single) * Bc, rows) * Wrec;
        }
      }
      if (mixture) {
        // Terms from after the block: gy[t - t_first] = sum_u c_(u-t) dL/dI[u], u > t1.
        const Index nb = t1 - t_first + 1, u0 = t1 + 1;
        MatrixMap<T>(c.gy.data(), nb, N).setZero();
        add_band(coeff, t_first, nb, u0, std::min(steps, u0 + K) - u0, c.G.data(), N, c.gy.data(), c.lagA);
      }
      for (Index t = t1; t >= t_first; --t) {
        auto gS = c.G.middleRows(t * Bc, Bc);  // in: dL/ds_t from above; out: dL/dI_t
        auto V = c.V.middleRows(t * Bc, Bc);
        const auto S = c.S.middleRows(t * Bc, Bc);
        MatrixMap<T> gy(mixture ? c.gy.data() + (t - t_first) * N : nullptr, Bc, H);
        if (mixture) {
          // dL/dY_t: add the terms from inside the block (lags 1 .. t1 - t); rows of
          // later steps already hold dL/dI.
          if (lags.empty()) mix_steps(c.G.data(), N, t, +1, steps, coeff, gy.data(), t1 - t);
          else mix_steps_nonzero(c.G.data(), N, t, +1, steps, coeff, lags, gy.data(), t1 - t);
          if (t + 1 < steps) gS.noalias() += gy * Wrec;
        }
        // dL/dI_t from dL/ds_t (gS), dL/dv_{t+1} (gnext) and the surrogate g(v_t - theta),
        // one fused pass; gnext becomes dL/dv_t (= dL/dI_t).
        neuron_backward(sg, soft, detach, V.data(), S.data(), gS.data(), gnext.data(), gsum, Bc * H, d, theta);
        if (mixture) V = gy;  // v_t is no longer needed: keep dL/dY_t there
      }
    }
    if (mixture && skip_ >= 0) lag_gradient(c, steps, N, K, grad_coeff);

    if (K > 0) {
      // dW_rec = sum_t dL/dY_t^T s_t: one product over all rows (for 0/1 spikes, the
      // rows of dL/dY selected by each spike column are summed: project_columns).
      auto gWrec = view(grad, layout.entry(recurrent_));
      if (single > 0) {
        // dL/dY_t = dL/dI_{t+lambda}: one product over the shifted rows.
        const Index n = (steps - single) * Bc;
        if (n > 0) add_weight_grad(gWrec, c.G.bottomRows(n), c.S.topRows(n), kc.sparse_recurrent, c.tmp);
      } else {
        add_weight_grad(gWrec, c.V, c.S, kc.sparse_recurrent, c.tmp);
      }
    }
    if (mask)
      for (Index t = 0; t < steps; ++t) c.G.middleRows(t * Bc, Bc).array() *= mask->array();
    if (bias_ >= 0) {
      if (mask) c.gsum.array() *= mask->array();
      view(grad, layout.entry(bias_)).row(0) += c.gsum.colwise().sum();
    }
    add_weight_grad(view(grad, layout.entry(weight_)), c.G, x, kc.sparse_input, c.tmp);
    if (grad_input) {
      // In row blocks: one product over all T*Bc rows (10 MB of dL/dI for S-MNIST) ran
      // 7-13% slower in Eigen than the same product in blocks of 2048 rows (microbenchmark
      // on a 2-core AMD EPYC, shapes of the Table 1 layers; on a whole training step the
      // difference was within run-to-run noise).
      grad_input->resize(c.G.rows(), W.cols());
      for (Index r0 = 0; r0 < c.G.rows(); r0 += kGradInputRows) {
        const Index nr = std::min(kGradInputRows, c.G.rows() - r0);
        grad_input->middleRows(r0, nr).noalias() = c.G.middleRows(r0, nr) * W;
      }
    }
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
    constexpr Index kW = 128;
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

  /// mix_steps with the lags whose c_j is exactly 0 left out of the tiles (`lags`: the
  /// others, increasing). The same results bitwise: in a tile every element is the chain
  /// a <- a + c_j y over j increasing, the same expression as in mix_steps (GCC fuses it
  /// into one FMA per lag in both), so the lags kept see the same operations in the same
  /// order, and a lag left out would have added c_j y = +-0, which leaves a unchanged for
  /// finite y except that +0 + -0 gives +0 where a was -0 (the sign of a zero current or
  /// dL/dY; the spikes and every non-zero value are the same). With y = +-inf or NaN the
  /// full mixture gives NaN where this does not. The last n mod 128 columns run every lag
  /// (mix_tail, see there).
  static void mix_steps_nonzero(const T* src, Index n, Index t, int dir, Index steps,
                                const std::vector<T>& coeff, const std::vector<Index>& lags,
                                T* __restrict out, Index jmax) {
    const Index K = std::min(static_cast<Index>(coeff.size()), jmax);
    const Index J = dir < 0 ? std::min(K, t) : std::min(K, steps - 1 - t);
    Index nl = 0;  // lags is increasing: those up to J are a prefix
    while (nl < static_cast<Index>(lags.size()) && lags[size_t(nl)] <= J) ++nl;
    const Index* lag = lags.data();
    constexpr Index kW = 128;
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
  /// backward), one block of N values per step: one GEMM with the banded coefficients
  /// A(i, k) = c_lag, lag = |(u0 + k) - (t0 + i)|, for 1 <= lag <= K, else 0 (in `A`).
  static void add_band(const std::vector<T>& coeff, Index t0, Index nb, Index u0, Index nu,
                       const T* src, Index N, T* out, Matrix<T>& A) {
    if (nu <= 0) return;
    const Index K = static_cast<Index>(coeff.size());
    A.resize(nb, nu);
    for (Index i = 0; i < nb; ++i)
      for (Index k = 0; k < nu; ++k) {
        const Index lag = std::abs((u0 + k) - (t0 + i));
        A(i, k) = (lag >= 1 && lag <= K) ? coeff[size_t(lag - 1)] : T(0);
      }
    MatrixMap<T>(out, nb, N).noalias() += A * ConstMatrixMap<T>(src + u0 * N, nu, N);
  }

  /// grad_coeff[j-1] += sum_t <dL/dI_t, Y_{t-j}> (j = 1..K) with G = dL/dI and Y from
  /// forward: per block of steps, one product of its dL/dI rows with the Y rows of the
  /// lags it reaches (c.lagM, some of whose entries fall outside the band and are not
  /// used), instead of K separate dot products per step.
  static void lag_gradient(LayerCache<T>& c, Index steps, Index N, Index K, std::vector<T>& grad_coeff) {
    // Blocks of kMixBlock steps even when T_lambda is shorter: for SSC (T_lambda 6) the
    // larger products were 7% faster per training step than blocks of 6 (asrc-bench).
    const Index L = kMixBlock;
    for (Index t0 = 1; t0 < steps; t0 += L) {
      const Index nb = std::min(L, steps - t0), u0 = std::max<Index>(0, t0 - K);
      const Index nu = t0 + nb - 1 - u0;  // sources u0 .. t0+nb-2
      c.lagM.noalias() = ConstMatrixMap<T>(c.G.data() + t0 * N, nb, N) *
                         ConstMatrixMap<T>(c.Y.data() + u0 * N, nu, N).transpose();
      for (Index i = 0; i < nb; ++i)
        for (Index k = 0; k < nu; ++k) {
          const Index lag = (t0 + i) - (u0 + k);
          if (lag >= 1 && lag <= K) grad_coeff[size_t(lag - 1)] += c.lagM(i, k);
        }
    }
  }

  /// In: I holds I_t, vprev holds v'_{t-1}. Out: I holds v_t, vprev holds v'_t, s holds s_t.
  template <typename IDerived, typename SDerived>
  void charge_fire_reset(Eigen::MatrixBase<IDerived>& I, Matrix<T>& vprev,
                         Eigen::MatrixBase<SDerived>&& s) const {
    charge_fire_reset(I, vprev, s);
  }
  template <typename IDerived, typename SDerived>
  void charge_fire_reset(Eigen::MatrixBase<IDerived>& I, Matrix<T>& vprev,
                         Eigen::MatrixBase<SDerived>& s) const {
    const T d = static_cast<T>(cfg_.lif.decay), theta = static_cast<T>(cfg_.lif.threshold);
    const Index n = I.size();  // one fused pass over the block (its rows are contiguous)
    T* __restrict vp = I.derived().data();
    T* __restrict vr = vprev.data();
    T* __restrict sp = s.derived().data();
    const bool soft = cfg_.lif.reset == ResetMode::soft;
    const Surrogate sg = cfg_.lif.surrogate;
    auto pass = [&](auto fire) {
      for (Index i = 0; i < n; ++i) {
        const T v = d * vr[i] + vp[i];  // charge: v_t = d v'_{t-1} + I_t  (Eq. 1)
        const T spike = fire(v - theta);  // fire (Eq. 2)
        vp[i] = v;
        sp[i] = spike;
        vr[i] = soft ? v - theta * spike : v * (T(1) - spike);  // reset (Eq. 3)
      }
    };
    // The spike function is fixed per instantiation of the loop, so the binary case
    // compiles to a compare.
    if (cfg_.lif.spike_fn == SpikeFunction::heaviside)
      pass([sg](T x) { return spike_value<T>(sg, SpikeFunction::heaviside, x); });
    else
      pass([sg](T x) { return spike_value<T>(sg, SpikeFunction::smooth, x); });
  }

  /// Backward through fire and reset (Eqs. 1-3) for one step, elementwise:
  ///   dL/dv'_t = d dL/dv_{t+1}
  ///   dL/dv_t  = dL/ds_t g(v_t - theta) + dL/dv'_t dv'_t/dv_t (+ through s_t unless detached)
  /// soft reset v' = v - theta s:  (gS - theta gvp) g + gvp      detached: gS g + gvp
  /// hard reset v' = v (1 - s):    (gS - v gvp) g + gvp (1 - s)  detached: gS g + gvp (1 - s)
  template <Surrogate SG, bool Soft, bool Detach>
  static void neuron_backward_impl(const T* __restrict v, const T* __restrict s, T* __restrict gS,
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
  static void neuron_backward_sg(bool soft, bool detach, const T* v, const T* s, T* gS, T* gnext,
                                 T* gsum, Index n, T d, T theta) {
    if (soft && detach) neuron_backward_impl<SG, true, true>(v, s, gS, gnext, gsum, n, d, theta);
    else if (soft) neuron_backward_impl<SG, true, false>(v, s, gS, gnext, gsum, n, d, theta);
    else if (detach) neuron_backward_impl<SG, false, true>(v, s, gS, gnext, gsum, n, d, theta);
    else neuron_backward_impl<SG, false, false>(v, s, gS, gnext, gsum, n, d, theta);
  }
  static void neuron_backward(Surrogate sg, bool soft, bool detach, const T* v, const T* s, T* gS,
                              T* gnext, T* gsum, Index n, T d, T theta) {
    switch (sg) {
      case Surrogate::triangle: return neuron_backward_sg<Surrogate::triangle>(soft, detach, v, s, gS, gnext, gsum, n, d, theta);
      case Surrogate::exp: return neuron_backward_sg<Surrogate::exp>(soft, detach, v, s, gS, gnext, gsum, n, d, theta);
      case Surrogate::rectangle: return neuron_backward_sg<Surrogate::rectangle>(soft, detach, v, s, gS, gnext, gsum, n, d, theta);
      case Surrogate::gaussian: return neuron_backward_sg<Surrogate::gaussian>(soft, detach, v, s, gS, gnext, gsum, n, d, theta);
    }
  }

  template <typename IDerived, typename SDerived>
  void charge_fire_reset(Eigen::MatrixBase<IDerived>&& I, Matrix<T>& vprev,
                         Eigen::MatrixBase<SDerived>&& s) const {
    charge_fire_reset(I, vprev, s);
  }

  HiddenLayerConfig cfg_;
  Index weight_ = -1, bias_ = -1, recurrent_ = -1, skip_ = -1;
  Matrix<T> WT_, WrecT_;
};

}  // namespace asrc
