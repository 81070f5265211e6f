#pragma once
// Helpers shared by the network tests: small configurations and random inputs.
#include <asrc/asrc.hpp>

namespace asrc_test {

using namespace asrc;

/// A 3-layer network small enough for finite differences.
inline NetworkConfig tiny_config(Recurrence rec, Index skip, bool network_wise = false) {
  NetworkConfig c;
  c.input_size = 3;
  c.hidden = {5, 6, 4};
  c.num_classes = 3;
  c.recurrence = rec;
  c.skip = skip;
  c.network_wise = network_wise;
  c.seed = 7;
  c.chunk_size = 2;
  return c;
}

/// Time-major random input in [lo, hi).
template <typename T>
Matrix<T> random_input(Index steps, Index batch, Index width, std::uint64_t seed, double lo,
                       double hi) {
  Rng rng(seed);
  Matrix<T> x(steps * batch, width);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<T>(rng.uniform(lo, hi));
  return x;
}

/// Mean cross-entropy of a forward pass, with the dropout generator reset to `rng_state`.
template <typename T>
double forward_loss(Network<T>& net, const Matrix<T>& x, Index batch,
                    const std::vector<int>& labels, const std::string& rng_state) {
  net.dropout_rng().set_state(rng_state);
  const Matrix<T> logits = net.forward(x, batch);
  return softmax_cross_entropy(logits, labels.data(), batch, nullptr) / double(batch);
}

}  // namespace asrc_test
