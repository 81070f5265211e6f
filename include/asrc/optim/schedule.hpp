#pragma once
// Learning-rate, beta1 and temperature schedules, all stepped once per epoch.
//
// Every schedule is a pure function of (epoch e, total epochs E, peak value), so
// resuming from a checkpoint needs only the epoch number. e counts from 0; the
// value for e is the one in force while epoch e trains.
//
// OneCycle (torch.optim.lr_scheduler.OneCycleLR with total_steps = E,
// three_phase = False, anneal_strategy 'cos', stepped once per epoch):
//
//   lr0 = max / div_factor,  lr_min = lr0 / final_div_factor
//   e1  = pct_start * E - 1                  (a double, not rounded: 29.000000000000004 for E = 100)
//   anneal(a -> b, q) = b + (a - b) / 2 * (cos(pi q) + 1)
//   e <= e1:  lr = anneal(lr0 -> max, e / e1),                beta1 = anneal(0.95 -> 0.85, e / e1)
//   e >  e1:  lr = anneal(max -> lr_min, (e - e1) / (E - 1 - e1)), beta1 = anneal(0.85 -> 0.95, same q)
//
// The expressions keep torch's evaluation order and round every product before a
// sum (no fused multiply-add), so the doubles agree with torch's bit for bit on a
// platform whose cos() agrees with Python's math.cos.
// Like torch, e = E (the value after the last scheduler step, never trained with)
// is accepted; e > E is refused.
//
// Cosine annealing (torch.optim.lr_scheduler.CosineAnnealingLR, T_max = E,
// eta_min, stepped once per epoch): torch updates the rate recursively,
//
//   lr(0) = max
//   lr(e) = (1 + cos(pi e / T)) / (1 + cos(pi (e - 1) / T)) * (lr(e-1) - eta_min) + eta_min
//   (and lr(e) = lr(e-1) + (max - eta_min) (1 - cos(pi / T)) / 2 when (e - 1 - T) mod 2T == 0)
//
// which differs from the closed form eta_min + (max - eta_min)(1 + cos(pi e / T)) / 2
// in the last bits; cosine_lr() runs the recursion to match torch exactly.
//
// ASRC temperature: tau = 1 at epoch 0 and multiplied by 0.96 after each epoch, so
// tau(e) = 0.96^e, computed as the same running product as the reference.
#include <cmath>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

/// OneCycle settings; the defaults are the reference's (and torch's).
struct OneCycleConfig {
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  double max_beta1 = 0.95;   ///< beta1 at the start and the end (torch: max_momentum)
  double base_beta1 = 0.85;  ///< beta1 at the peak learning rate (torch: base_momentum)
};

namespace detail {

inline constexpr double kPi = 3.141592653589793238462643383279502884;

/// Cosine anneal from a to b as q goes 0 -> 1 (torch's _annealing_cos).
inline double anneal_cos(double a, double b, double q) {
  const double cos_out = std::cos(kPi * q) + 1.0;
  // The volatile keeps the compiler from fusing the product and the sum into one
  // fma (GCC does so by default under -march with FMA), which would round
  // differently from torch.
  const volatile double scaled = (a - b) / 2.0 * cos_out;
  return b + scaled;
}

inline void check_epoch(const char* where, Index epoch, Index total) {
  require(total >= 1, where, "total epochs >= 1", total);
  require(epoch >= 0 && epoch <= total, where, str_cat("an epoch in [0, ", total, "]"), epoch);
}

inline void check_onecycle(const char* where, const OneCycleConfig& c) {
  require(c.pct_start >= 0.0 && c.pct_start <= 1.0, where, "pct_start in [0, 1]", c.pct_start);
  require(c.div_factor > 0.0 && std::isfinite(c.div_factor), where, "div_factor > 0",
          c.div_factor);
  require(c.final_div_factor > 0.0 && std::isfinite(c.final_div_factor), where,
          "final_div_factor > 0", c.final_div_factor);
}

/// Phase and position within it: returns q, sets first_phase.
inline double onecycle_position(Index epoch, Index total, double pct_start, bool& first_phase) {
  const double e = static_cast<double>(epoch);
  // End of the rising phase; rounded after the product, not fused into an fma.
  const volatile double pct_total = pct_start * static_cast<double>(total);
  const double e1 = pct_total - 1.0;
  if (e <= e1) {
    first_phase = true;
    return e / e1;  // e1 > 0 here unless e = e1 = 0, which pct_start * E = 1 would need
  }
  first_phase = false;
  return (e - e1) / (static_cast<double>(total - 1) - e1);
}

}  // namespace detail

/// OneCycle learning rate in force during epoch `epoch` of `total`, peaking at `max_lr`.
inline double onecycle_lr(Index epoch, Index total, double max_lr, const OneCycleConfig& c = {}) {
  detail::check_epoch("onecycle_lr", epoch, total);
  detail::check_onecycle("onecycle_lr", c);
  require(std::isfinite(max_lr) && max_lr >= 0.0, "onecycle_lr", "a finite max_lr >= 0", max_lr);
  const double initial = max_lr / c.div_factor;
  const double min_lr = initial / c.final_div_factor;
  bool first = false;
  const double q = detail::onecycle_position(epoch, total, c.pct_start, first);
  if (first && std::isnan(q)) return initial;  // 0 / 0: only when pct_start * E == 1 and e == 0
  return first ? detail::anneal_cos(initial, max_lr, q) : detail::anneal_cos(max_lr, min_lr, q);
}

/// OneCycle beta1 in force during epoch `epoch` of `total` (0.95 -> 0.85 -> 0.95).
inline double onecycle_beta1(Index epoch, Index total, const OneCycleConfig& c = {}) {
  detail::check_epoch("onecycle_beta1", epoch, total);
  detail::check_onecycle("onecycle_beta1", c);
  bool first = false;
  const double q = detail::onecycle_position(epoch, total, c.pct_start, first);
  if (first && std::isnan(q)) return c.max_beta1;
  return first ? detail::anneal_cos(c.max_beta1, c.base_beta1, q)
               : detail::anneal_cos(c.base_beta1, c.max_beta1, q);
}

/// CosineAnnealingLR (T_max = total) learning rate in force during epoch `epoch`,
/// starting from `max_lr`. Any epoch >= 0 is accepted (torch continues past T_max).
inline double cosine_lr(Index epoch, Index total, double max_lr, double eta_min = 0.0) {
  require(total >= 1, "cosine_lr", "total epochs (T_max) >= 1", total);
  require(epoch >= 0, "cosine_lr", "an epoch >= 0", epoch);
  require(std::isfinite(max_lr) && max_lr >= 0.0, "cosine_lr", "a finite max_lr >= 0", max_lr);
  require(std::isfinite(eta_min) && eta_min >= 0.0, "cosine_lr", "a finite eta_min >= 0",
          eta_min);
  const double t_max = static_cast<double>(total);
  double lr = max_lr;
  for (Index e = 1; e <= epoch; ++e) {
    const Index r = (e - 1 - total) % (2 * total);  // zero under C++ and Python modulo alike
    if (r == 0) {
      lr = lr + (max_lr - eta_min) * (1.0 - std::cos(detail::kPi / t_max)) / 2.0;
    } else {
      const double num = 1.0 + std::cos(detail::kPi * static_cast<double>(e) / t_max);
      const double den = 1.0 + std::cos(detail::kPi * static_cast<double>(e - 1) / t_max);
      const volatile double scaled = num / den * (lr - eta_min);  // no fma, as in anneal_cos
      lr = scaled + eta_min;
    }
  }
  return lr;
}

/// ASRC softmax temperature during epoch `epoch`: 1 * decay * decay * ... (epoch times).
inline double asrc_tau(Index epoch, double decay = 0.96) {
  require(epoch >= 0, "asrc_tau", "an epoch >= 0", epoch);
  require(std::isfinite(decay) && decay > 0.0, "asrc_tau", "a finite decay > 0", decay);
  double tau = 1.0;
  for (Index e = 0; e < epoch; ++e) tau *= decay;
  return tau;
}

/// Step decay (torch.optim.lr_scheduler.StepLR, stepped per epoch; Zeng et al.: x0.8 every
/// 10 epochs): max_lr * gamma^floor(epoch / every), as a running product.
inline double step_lr(Index epoch, double max_lr, Index every, double gamma) {
  require(epoch >= 0, "step_lr", "an epoch >= 0", epoch);
  require(every >= 1, "step_lr", "a step of >= 1 epochs", every);
  require(std::isfinite(gamma) && gamma > 0.0, "step_lr", "a finite gamma > 0", gamma);
  double lr = max_lr;
  for (Index k = 0; k < epoch / every; ++k) lr *= gamma;
  return lr;
}

/// Which learning-rate schedule a run uses.
enum class LrSchedule {
  onecycle,  ///< OneCycle, with beta1 cycled
  cosine,    ///< CosineAnnealingLR, beta1 fixed
  constant,  ///< no schedule, beta1 fixed
  step,      ///< StepLR (every, gamma), beta1 fixed
};

/// StepLR's settings.
struct StepConfig {
  Index every = 10;
  double gamma = 0.8;
};

/// Learning rate for epoch `epoch` of `total` under schedule `s` with peak `max_lr`.
inline double scheduled_lr(LrSchedule s, Index epoch, Index total, double max_lr, const StepConfig& step = {}) {
  switch (s) {
    case LrSchedule::onecycle: return onecycle_lr(epoch, total, max_lr);
    case LrSchedule::cosine: return cosine_lr(epoch, total, max_lr);
    case LrSchedule::step: return step_lr(epoch, max_lr, step.every, step.gamma);
    case LrSchedule::constant: break;
  }
  return max_lr;
}

/// beta1 for epoch `epoch`: cycled by OneCycle, otherwise `fixed_beta1` (torch's default 0.9).
inline double scheduled_beta1(LrSchedule s, Index epoch, Index total, double fixed_beta1 = 0.9) {
  if (s == LrSchedule::onecycle) return onecycle_beta1(epoch, total);
  return fixed_beta1;
}

}  // namespace asrc
