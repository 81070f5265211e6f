// The LIF policy's trained parameter: a membrane decay per neuron (LifConfig::learn_decay,
// BIP / PLIF). Finite differences against the naive reference (which reads the decays by
// name), streaming equal to the batch pass, the optimizer keeping the decays in range.
#include <doctest/doctest.h>

#include "../support/networks.hpp"
#include "../support/reference_rsnn.hpp"

using namespace asrc;
using namespace asrc_test;

namespace {

NetworkConfig decay_config(Recurrence rec, Index skip, ResetMode reset, bool detach) {
  NetworkConfig cfg;
  cfg.input_size = 2;
  cfg.hidden = {5, 4};
  cfg.num_classes = 3;
  cfg.recurrence = rec;
  cfg.skip = skip;
  cfg.lif.reset = reset;
  cfg.lif.detach_reset = detach;
  cfg.lif.learn_decay = true;
  cfg.seed = 6;
  cfg.chunk_size = 2;
  return cfg;
}

template <typename T>
GradientCheckResult decay_check(NetworkConfig cfg) {
  cfg.lif.spike_fn = SpikeFunction::smooth;
  cfg.lif.surrogate = Surrogate::exp;
  Network<T> net(cfg);
  const double tau = 0.9;
  net.set_tau(tau);
  Vector<double> p = net.params().template cast<double>();
  for (const auto& e : net.layout().entries()) {
    if (e.name.find(".decay") != std::string::npos)  // different decays, away from the bounds
      for (Index j = 0; j < e.size(); ++j) p[e.offset + j] = 0.3 + 0.5 * (0.5 + 0.5 * std::sin(2.1 * double(j + e.offset)));
  }
  vary_skip_logits(p, net.layout());
  net.params() = p.cast<T>();
  p = net.params().template cast<double>();
  const Index steps = 9, batch = 3;
  Matrix<double> x = random_input<double>(steps, batch, cfg.input_size, 13, -0.5, 2.0);
  const Matrix<T> xt = x.cast<T>();
  x = xt.template cast<double>();
  const std::vector<int> labels = {1, 0, 2};
  Vector<T> grad;
  const double loss = net.forward_backward(xt, batch, labels, grad);
  const std::vector<Matrix<double>> masks;
  const auto base = reference_forward<long double>(cfg, net.layout(), p, x, batch, labels, tau, true, masks);
  CHECK(loss == doctest::Approx(double(base.loss)).epsilon(std::is_same<T, float>::value ? 1e-5 : 1e-12));
  const auto* frozen = cfg.lif.detach_reset ? &base : nullptr;
  auto f = [&](const Vector<double>& pv) {
    return reference_forward<long double>(cfg, net.layout(), pv, x, batch, labels, tau, true, masks, frozen).loss;
  };
  return check_gradient<double>(f, p, grad.template cast<double>(), net.layout(), 1e-7);
}

template <typename T>
void decay_gradients(double tol) {
  double worst = 0;
  for (Recurrence rec : {Recurrence::none, Recurrence::vanilla, Recurrence::src, Recurrence::asrc})
    for (ResetMode reset : {ResetMode::soft, ResetMode::hard})
      for (bool detach : {false, true}) {
        INFO(std::string(to_string(rec)), reset == ResetMode::soft ? " soft" : " hard", detach ? " detached" : "");
        const auto r = decay_check<T>(decay_config(rec, rec == Recurrence::asrc ? 3 : 2, reset, detach));
        CHECK_MESSAGE(r.max_rel_error < tol, "worst: ", r.worst, " ", r.max_rel_error);
        worst = std::max(worst, r.max_rel_error);
      }
  MESSAGE("trained decays (", std::string(sizeof(T) == 8 ? "double" : "float"), "): worst relative error ", worst);
}

}  // namespace

TEST_CASE("LIF with a trained decay per neuron: BPTT equals finite differences (double)") { decay_gradients<double>(1e-6); }
TEST_CASE("LIF with a trained decay per neuron: BPTT equals finite differences (float)") { decay_gradients<float>(1e-4); }

TEST_CASE("LIF with a trained decay per neuron: parameters, initial values, streaming") {
  NetworkConfig cfg = decay_config(Recurrence::src, 3, ResetMode::soft, false);
  cfg.hidden = {12, 10};
  cfg.lif.decay = 0.7;
  Network<float> net(cfg);
  const auto& L = net.layout();
  const Index e = L.find("hidden1.decay");
  REQUIRE(e >= 0);
  CHECK(L.entry(e).group == ParamGroup::neuron);
  CHECK(L.entry(e).size() == 10);
  CHECK(L.entry(e).lo == 0.0);
  CHECK(L.entry(e).hi == LifConfig::kMaxDecay);
  for (Index j = 0; j < 10; ++j) CHECK(net.params()[L.entry(e).offset + j] == 0.7f);
  NetworkConfig fixed = cfg;
  fixed.lif.learn_decay = false;
  CHECK(Network<float>::count_params(cfg) == Network<float>::count_params(fixed) + 22);

  const Index steps = 30, B = 4;
  const Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 5, 0.0, 3.0);
  // Decays of their own, then a stream against the batch pass.
  Vector<float> p = net.params();
  for (const char* name : {"hidden0.decay", "hidden1.decay"}) {
    const auto& en = L.entry(L.find(name));
    for (Index j = 0; j < en.size(); ++j) p[en.offset + j] = 0.5f + 0.04f * float(j);
  }
  const auto& w1 = L.entry(L.find("hidden1.weight"));  // a second layer that fires
  for (Index j = 0; j < w1.size(); ++j) p[w1.offset + j] *= 3.0f;
  net.params() = p;
  net.set_training(false);
  const Matrix<float> batch = net.forward(x, B);
  CHECK(net.spike_rates()[1] > 0.01);
  auto st = net.make_stream(B);
  for (Index t = 0; t < steps; ++t) net.stream_step(st, x.middleRows(t * B, B));
  CHECK(net.stream_logits(st) == batch);
}

TEST_CASE("Adam keeps a bounded entry in its range, and leaves the others alone") {
  ParamLayout layout;
  layout.add("w", 1, 3, ParamGroup::weights);
  layout.add("d", 1, 3, ParamGroup::neuron, 0.0, 0.999);
  Vector<float> p(6), g(6);
  p << 0.5f, 0.9985f, -3.0f, 0.9985f, 0.001f, 0.5f;
  g << -1.0f, -1.0f, 1.0f, -1.0f, 1.0f, 0.0f;
  Adam<float> opt(AdamMode::adam, GroupSettings{0.01, 0.0});
  opt.step(layout, p, g);
  CHECK(p[1] > 0.999f);   // unbounded: moved past 0.999
  CHECK(p[2] < -3.0f);
  CHECK(p[3] == 0.999f);  // bounded: clamped at the top
  CHECK(p[4] == 0.0f);    // and at the bottom
  CHECK(p[5] == 0.5f);
  CHECK_THROWS_AS(layout.add("bad", 1, 1, ParamGroup::neuron, 1.0, 0.0), std::invalid_argument);
}
