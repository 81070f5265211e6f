// Layers as a graph (NetworkConfig::extra_inputs): a layer read by two others gets the
// gradient of both, added (the dlib convention). Finite-difference checks against the
// naive reference (which runs the graph literally), streaming equal to the batch pass,
// thread-count independence, and the checks of the graph itself.
#include <doctest/doctest.h>

#include "../support/networks.hpp"
#include "../support/reference_rsnn.hpp"

using namespace asrc;
using namespace asrc_test;

namespace {

// 4 layers: 0 feeds 1 (the chain) and 2 and 3; 1 feeds 2 and 3; 2 feeds 3.
NetworkConfig graph_config(Recurrence rec, Index skip) {
  NetworkConfig cfg;
  cfg.input_size = 2;
  cfg.hidden = {5, 4, 6, 3};
  cfg.extra_inputs = {{}, {}, {0}, {0, 1}};
  cfg.num_classes = 3;
  cfg.recurrence = rec;
  cfg.skip = skip;
  cfg.seed = 4;
  cfg.chunk_size = 2;
  return cfg;
}

template <typename T>
GradientCheckResult graph_check(NetworkConfig cfg, double dropout) {
  cfg.lif.spike_fn = SpikeFunction::smooth;
  cfg.lif.surrogate = Surrogate::exp;  // smooth everywhere: no kinks for the differences
  cfg.dropout = dropout;
  Network<T> net(cfg);
  const double tau = 0.8;
  net.set_tau(tau);
  Vector<double> p = net.params().template cast<double>();
  vary_skip_logits(p, net.layout());
  net.params() = p.cast<T>();
  p = net.params().template cast<double>();
  const Index steps = 8, batch = 3;
  Matrix<double> x = random_input<double>(steps, batch, cfg.input_size, 21, -0.5, 2.0);
  const Matrix<T> xt = x.cast<T>();
  x = xt.template cast<double>();
  const std::vector<int> labels = {2, 0, 1};
  std::vector<Matrix<double>> masks;
  if (dropout > 0) {
    Rng r;
    r.set_state(net.dropout_rng().state());
    for (Index h : cfg.hidden) {
      Matrix<double> m(batch, h);
      for (Index i = 0; i < m.size(); ++i) m.data()[i] = r.uniform01() < dropout ? 0.0 : double(T(1.0 / (1.0 - dropout)));
      masks.push_back(m);
    }
  }
  Vector<T> grad;
  const double loss = net.forward_backward(xt, batch, labels, grad);
  const auto base = reference_forward<long double>(cfg, net.layout(), p, x, batch, labels, tau, true, masks);
  CHECK(loss == doctest::Approx(double(base.loss)).epsilon(std::is_same<T, float>::value ? 1e-5 : 1e-12));
  auto f = [&](const Vector<double>& pv) {
    return reference_forward<long double>(cfg, net.layout(), pv, x, batch, labels, tau, true, masks).loss;
  };
  return check_gradient<double>(f, p, grad.template cast<double>(), net.layout(), 1e-7);
}

template <typename T>
void graph_gradients(double tol) {
  for (Recurrence rec : {Recurrence::none, Recurrence::src, Recurrence::asrc})
    for (double dropout : {0.0, 0.25}) {
      INFO(std::string(to_string(rec)), " dropout ", dropout);
      const auto r = graph_check<T>(graph_config(rec, rec == Recurrence::asrc ? 3 : 2), dropout);
      CHECK(r.analytic_norm > 0);
      CHECK_MESSAGE(r.max_rel_error < tol, "worst: ", r.worst, " ", r.max_rel_error);
    }
}

}  // namespace

TEST_CASE("graph: a layer feeding two others, BPTT equals finite differences (double)") { graph_gradients<double>(1e-6); }
TEST_CASE("graph: a layer feeding two others, BPTT equals finite differences (float)") { graph_gradients<float>(1e-4); }

TEST_CASE("graph: the extra weights are parameters of their own") {
  Network<float> net(graph_config(Recurrence::src, 2));
  const auto& L = net.layout();
  REQUIRE(L.find("hidden2.from0") >= 0);
  CHECK(L.entry(L.find("hidden2.from0")).rows == 6);
  CHECK(L.entry(L.find("hidden2.from0")).cols == 5);
  CHECK(L.entry(L.find("hidden3.from1")).cols == 4);
  CHECK(L.find("hidden1.from0") < 0);  // the chain's own input is hidden1.weight
}

TEST_CASE("graph: a stream equals the batch pass bitwise; 1 thread equals 2") {
  for (Recurrence rec : {Recurrence::vanilla, Recurrence::asrc}) {
    INFO(std::string(to_string(rec)));
    NetworkConfig cfg = graph_config(rec, 4);
    cfg.hidden = {16, 12, 14, 10};
    const Index steps = 40, B = 5;
    const Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 8, 0.0, 3.0);
    check_stream_and_threads(cfg, x, B, {0, 1, 2, 0, 1}, 3);
  }
}

TEST_CASE("graph: an extra input must come from a layer before the previous one") {
  NetworkConfig cfg = graph_config(Recurrence::src, 2);
  cfg.extra_inputs = {{}, {}, {1}};
  CHECK_THROWS_WITH_AS(Network<float>{cfg},
                       "NetworkConfig::validate(): expected extra inputs of layer 2 from earlier layers 0 .. 0, "
                       "increasing, got 1",
                       std::invalid_argument);
  cfg.extra_inputs = {{}, {}, {}, {1, 0}};
  CHECK_THROWS_AS(Network<float>{cfg}, std::invalid_argument);
}
