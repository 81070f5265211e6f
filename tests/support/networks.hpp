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

/// Non-uniform ASRC lag logits in `p` (layout `layout`), so that the softmax backward is
/// checked away from its symmetric point.
inline void vary_skip_logits(Vector<double>& p, const ParamLayout& layout) {
  for (const auto& e : layout.entries())
    if (e.group == ParamGroup::skip)
      for (Index j = 0; j < e.size(); ++j) p[e.offset + j] = 0.3 * std::sin(1.7 * double(j) + double(e.offset));
}

/// A network of `cfg` on x (B sequences): in evaluation a stream equals the batch pass
/// bitwise (with layer `active` firing), in training 1 thread equals 2 threads bitwise
/// (loss and a non-zero gradient).
inline void check_stream_and_threads(NetworkConfig cfg, const Matrix<float>& x, Index B,
                                     const std::vector<int>& labels, size_t active) {
  const Index steps = x.rows() / B;
  Network<float> net(cfg);
  net.set_training(false);
  const Matrix<float> batch = net.forward(x, B);
  CHECK(net.spike_rates()[active] > 0.01);
  auto st = net.make_stream(B);
  for (Index t = 0; t < steps; ++t) net.stream_step(st, x.middleRows(t * B, B));
  CHECK(net.stream_logits(st) == batch);

  Vector<float> g1, g2;
  cfg.threads = 1;
  Network<float> one(cfg);
  cfg.threads = 2;
  Network<float> two(cfg);
  CHECK(one.forward_backward(x, B, labels, g1) == two.forward_backward(x, B, labels, g2));
  CHECK(g1 == g2);
  CHECK(g1.norm() > 0);
}

}  // namespace asrc_test
