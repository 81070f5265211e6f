#pragma once
// Settings of the leaky integrate-and-fire neuron (paper Eq. 1-3; spec section 1).
//
// Per time step, in this order:
//   charge:  v_t  = d * v'_{t-1} + I_t        (input current enters with weight 1)
//   fire:    s_t  = H(v_t - theta)
//   reset:   v'_t = v_t - theta * s_t         (soft, default)
//            v'_t = v_t * (1 - s_t)           (hard)
// with v'_{-1} = 0. With detach_reset the s_t inside the reset is a constant for
// backward. The step itself is implemented in layers/spiking_layer.hpp.
#include <string>

#include "asrc/core/error.hpp"
#include "asrc/neuron/surrogate.hpp"

namespace asrc {

enum class ResetMode { soft, hard };

struct LifConfig {
  double decay = 0.5;          ///< d, membrane decay per step (fixed)
  double threshold = 1.0;      ///< theta
  ResetMode reset = ResetMode::soft;
  bool detach_reset = false;   ///< treat the spike in the reset term as a constant in backward
  Surrogate surrogate = Surrogate::triangle;
  SpikeFunction spike_fn = SpikeFunction::heaviside;

  void validate() const {
    require(decay >= 0.0 && decay <= 1.0, "LifConfig::validate", "decay in [0, 1]", decay);
    require(threshold > 0.0 && std::isfinite(threshold), "LifConfig::validate",
            "a finite threshold > 0", threshold);
  }
};

}  // namespace asrc
