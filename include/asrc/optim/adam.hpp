#pragma once
// Adam and AdamW over a flat parameter buffer, one set of settings per ParamGroup.
//
// The reference training code builds one torch optimizer per parameter group
// (spec section 5), each with its own learning rate, weight decay, schedule and
// step counter. This class reproduces that: the three groups share the update
// rule (Adam or AdamW) and beta2 / eps, and keep everything else apart.
//
// Update of one element with gradient g in group k (torch.optim.Adam / AdamW as
// of torch 1.9 - 1.13, amsgrad off, maximize off):
//
//   step_k += 1                                  (once per step() for the group)
//   Adam  (L2):       g <- g + wd_k * p           (only when wd_k != 0)
//   AdamW (decoupled): p <- p * (1 - lr_k * wd_k)
//   m <- beta1_k * m + (1 - beta1_k) * g
//   v <- beta2 * v + (1 - beta2) * g * g
//   bc1 = 1 - beta1_k^step_k   (with the beta1 in force now, not the one of earlier steps)
//   bc2 = 1 - beta2^step_k
//   denom = sqrt(v) / sqrt(bc2) + eps
//   p <- p - (lr_k / bc1) * (m / denom)
//
// Scalars (lr_k / bc1, sqrt(bc2), 1 - lr_k wd_k) are computed in double, as the
// Python floats of torch are, and applied in T; the element-wise expressions keep
// the evaluation order of torch's CPU kernels (addcmul: (s * a) * b, addcdiv:
// (s * a) / b), so float64 results agree with torch to the last bit or two.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "asrc/core/error.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/core/types.hpp"
#include "asrc/io/checkpoint.hpp"

namespace asrc {

/// Learning rate and weight decay of one parameter group.
struct GroupSettings {
  double lr = 1e-3;
  double weight_decay = 0.0;
};

/// How weight decay enters the update.
enum class AdamMode {
  adam,   ///< torch.optim.Adam: L2 term wd * p added to the gradient
  adamw,  ///< torch.optim.AdamW: p scaled by (1 - lr * wd) before the Adam step
};

inline const char* to_string(AdamMode m) { return m == AdamMode::adam ? "adam" : "adamw"; }

/// Everything an Adam optimizer carries from one step to the next (for checkpoints).
/// exp_avg and exp_avg_sq have the layout of the parameter buffer; steps[k] is the
/// number of steps group k has taken. Empty moment vectors mean "no step yet".
template <typename T>
struct AdamState {
  Vector<T> exp_avg;     ///< first moment m
  Vector<T> exp_avg_sq;  ///< second moment v
  std::array<std::int64_t, kNumParamGroups> steps{};
};

template <typename T>
class Adam {
 public:
  static constexpr double kEps = 1e-8;
  static constexpr double kBeta2 = 0.999;
  static constexpr double kDefaultBeta1 = 0.9;  ///< torch's default betas[0]

  /// All groups start with the same settings; change them with set_group().
  explicit Adam(AdamMode mode = AdamMode::adam, GroupSettings all = {}) : mode_(mode) {
    for (int k = 0; k < kNumParamGroups; ++k) set_group(static_cast<ParamGroup>(k), all);
    beta1_.fill(kDefaultBeta1);
  }
  /// Settings per group, indexed by ParamGroup (weights, neuron, skip).
  Adam(AdamMode mode, const std::array<GroupSettings, kNumParamGroups>& groups) : mode_(mode) {
    for (int k = 0; k < kNumParamGroups; ++k) set_group(static_cast<ParamGroup>(k), groups[k]);
    beta1_.fill(kDefaultBeta1);
  }

  AdamMode mode() const { return mode_; }

  void set_group(ParamGroup g, const GroupSettings& s) {
    check_lr(s.lr, g, "Adam::set_group");
    require(std::isfinite(s.weight_decay) && s.weight_decay >= 0.0, "Adam::set_group",
            str_cat("a finite weight decay >= 0 for group ", to_string(g)), s.weight_decay);
    settings_[idx(g)] = s;
  }
  const GroupSettings& group(ParamGroup g) const { return settings_[idx(g)]; }

  /// Learning rate of a group for the following steps (set by the schedule each epoch).
  void set_lr(ParamGroup g, double lr) {
    check_lr(lr, g, "Adam::set_lr");
    settings_[idx(g)].lr = lr;
  }
  double lr(ParamGroup g) const { return settings_[idx(g)].lr; }

  /// beta1 of a group for the following steps (OneCycle cycles it each epoch).
  void set_beta1(ParamGroup g, double beta1) {
    require(std::isfinite(beta1) && beta1 >= 0.0 && beta1 < 1.0, "Adam::set_beta1",
            str_cat("beta1 in [0, 1) for group ", to_string(g)), beta1);
    beta1_[idx(g)] = beta1;
  }
  double beta1(ParamGroup g) const { return beta1_[idx(g)]; }

  /// Steps taken so far by a group.
  std::int64_t step_count(ParamGroup g) const { return state_.steps[idx(g)]; }

  /// One optimizer step for every group: params and grads both follow `layout`.
  /// A group without tensors in the layout takes no step (its counter stays).
  void step(const ParamLayout& layout, Vector<T>& params, const Vector<T>& grads) {
    const Index n = layout.size();
    require(params.size() == n, "Adam::step", str_cat("a parameter vector of ", n, " elements"),
            params.size());
    require(grads.size() == n, "Adam::step", str_cat("a gradient vector of ", n, " elements"),
            grads.size());
    if (state_.exp_avg.size() == 0 && state_.exp_avg_sq.size() == 0) {
      state_.exp_avg = Vector<T>::Zero(n);
      state_.exp_avg_sq = Vector<T>::Zero(n);
    }
    require(state_.exp_avg.size() == n, "Adam::step",
            str_cat("optimizer state of ", n, " elements (the layout's size)"),
            state_.exp_avg.size());

    // Per-group scalars, computed once per step.
    std::array<Coeffs, kNumParamGroups> c{};
    for (int k = 0; k < kNumParamGroups; ++k) {
      if (layout.group_size(static_cast<ParamGroup>(k)) == 0) continue;  // no tensors, no step
      const std::int64_t s = ++state_.steps[k];
      const double b1 = beta1_[k];
      const double lr = settings_[k].lr;
      const double wd = settings_[k].weight_decay;
      const double bc1 = 1.0 - std::pow(b1, static_cast<double>(s));
      const double bc2 = 1.0 - std::pow(kBeta2, static_cast<double>(s));
      c[k].beta1 = static_cast<T>(b1);
      c[k].one_minus_beta1 = static_cast<T>(1.0 - b1);
      c[k].l2 = (mode_ == AdamMode::adam) ? static_cast<T>(wd) : T(0);
      c[k].use_l2 = (mode_ == AdamMode::adam) && wd != 0.0;
      const volatile double lr_wd = lr * wd;  // rounded as in Python, not fused into an fma
      c[k].shrink = static_cast<T>(1.0 - lr_wd);
      c[k].use_shrink = (mode_ == AdamMode::adamw);
      c[k].neg_step_size = static_cast<T>(-(lr / bc1));
      c[k].sqrt_bc2 = static_cast<T>(std::sqrt(bc2));
    }

    const T beta2 = static_cast<T>(kBeta2);
    const T one_minus_beta2 = static_cast<T>(1.0 - kBeta2);
    const T eps = static_cast<T>(kEps);
    T* p = params.data();
    const T* gr = grads.data();
    T* m = state_.exp_avg.data();
    T* v = state_.exp_avg_sq.data();
    for (const ParamEntry& e : layout.entries()) {
      const Coeffs& ck = c[idx(e.group)];
      const Index begin = e.offset, end = e.offset + e.size();
      for (Index i = begin; i < end; ++i) {
        T g = gr[i];
        if (ck.use_l2) g = g + ck.l2 * p[i];
        if (ck.use_shrink) p[i] = p[i] * ck.shrink;
        m[i] = m[i] * ck.beta1 + ck.one_minus_beta1 * g;
        v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
        const T denom = std::sqrt(v[i]) / ck.sqrt_bc2 + eps;
        p[i] = p[i] + ck.neg_step_size * m[i] / denom;
      }
      if (e.bounded()) {  // the entry's range (ParamEntry::lo, hi), after the step
        const T lo = static_cast<T>(e.lo), hi = static_cast<T>(e.hi);
        for (Index i = begin; i < end; ++i) p[i] = std::min(std::max(p[i], lo), hi);
      }
    }
  }

  /// The moments and step counters, for a checkpoint (copy it to keep it).
  const AdamState<T>& state() const { return state_; }

  /// Restore moments and step counters saved from an optimizer over the same layout.
  void set_state(const ParamLayout& layout, AdamState<T> s) {
    const Index n = layout.size();
    const bool fresh = s.exp_avg.size() == 0 && s.exp_avg_sq.size() == 0;
    if (!fresh) {
      require(s.exp_avg.size() == n, "Adam::set_state",
              str_cat("exp_avg of ", n, " elements (the layout's size)"), s.exp_avg.size());
      require(s.exp_avg_sq.size() == n, "Adam::set_state",
              str_cat("exp_avg_sq of ", n, " elements (the layout's size)"), s.exp_avg_sq.size());
      for (Index i = 0; i < n; ++i) {
        require(std::isfinite(static_cast<double>(s.exp_avg[i])), "Adam::set_state",
                str_cat("finite exp_avg values"), str_cat(s.exp_avg[i], " at element ", i));
        // +inf is state a run can reach and continue with (a squared gradient beyond T's
        // range; that element takes no further step), so exact resume keeps it.
        require(!std::isnan(static_cast<double>(s.exp_avg_sq[i])) && s.exp_avg_sq[i] >= T(0),
                "Adam::set_state", "exp_avg_sq values >= 0 (+inf allowed)",
                str_cat(s.exp_avg_sq[i], " at element ", i));
      }
    }
    for (int k = 0; k < kNumParamGroups; ++k) {
      const auto g = static_cast<ParamGroup>(k);
      require(s.steps[k] >= 0, "Adam::set_state",
              str_cat("a step count >= 0 for group ", to_string(g)), s.steps[k]);
      require(!fresh || s.steps[k] == 0, "Adam::set_state",
              str_cat("a step count of 0 for group ", to_string(g), " when no moments are given"),
              s.steps[k]);
    }
    state_ = std::move(s);
  }

  /// Forget all moments and step counters (settings and beta1 are kept).
  void reset() { state_ = AdamState<T>{}; }

 private:
  struct Coeffs {
    T beta1{}, one_minus_beta1{}, l2{}, shrink{}, neg_step_size{}, sqrt_bc2{1};
    bool use_l2 = false, use_shrink = false;
  };

  static int idx(ParamGroup g) { return static_cast<int>(g); }
  static void check_lr(double lr, ParamGroup g, const char* where) {
    require(std::isfinite(lr) && lr >= 0.0, where,
            str_cat("a finite learning rate >= 0 for group ", to_string(g)), lr);
  }

  AdamMode mode_;
  std::array<GroupSettings, kNumParamGroups> settings_{};
  std::array<double, kNumParamGroups> beta1_{};
  AdamState<T> state_{};
};

/// Adam's part of a training checkpoint: "adam.exp_avg", "adam.exp_avg_sq" (absent before
/// the first step) and "adam.steps" per group. The training loop (train/trainer.hpp) calls
/// these two; another optimizer gives its own overloads.
template <typename T>
void save_optimizer(Checkpoint& c, const Adam<T>& opt) {
  const auto& st = opt.state();
  if (st.exp_avg.size()) {
    c.set_tensor("adam.exp_avg", st.exp_avg.transpose(), dtype_of<T>());
    c.set_tensor("adam.exp_avg_sq", st.exp_avg_sq.transpose(), dtype_of<T>());
  }
  c.set_ints("adam.steps", std::vector<std::int64_t>(st.steps.begin(), st.steps.end()));
}

/// Restores what save_optimizer wrote (`path` names the file in errors).
template <typename T>
void load_optimizer(const Checkpoint& c, Adam<T>& opt, const ParamLayout& layout, const std::string& path) {
  AdamState<T> st;
  if (c.has_tensor("adam.exp_avg")) {
    st.exp_avg = c.tensor_vector<T>("adam.exp_avg", layout.size());
    st.exp_avg_sq = c.tensor_vector<T>("adam.exp_avg_sq", layout.size());
  }
  const auto& steps = c.ints_at("adam.steps");
  require(steps.size() == st.steps.size(), "load_optimizer",
          str_cat(st.steps.size(), " Adam step counts in ", path), steps.size());
  for (size_t k = 0; k < steps.size(); ++k) st.steps[k] = steps[k];
  opt.set_state(layout, st);
}

}  // namespace asrc
