// Closed-form traces of one hidden layer: membrane values and spikes computed by hand
// (in the comments) and checked step by step, for both reset modes, an SRC buffer and
// an ASRC buffer in training (soft mixture) and evaluation (argmax lag).
#include <doctest/doctest.h>

#include <asrc/asrc.hpp>

using namespace asrc;

namespace {

struct Trace {
  std::vector<double> v, s;
};

// One neuron, input weight 1, no bias, recurrent weight wrec; the layer's dense path
// (GEMM) or its sparse path (the spike kernels), each into a cache of its own.
Trace run_layer_path(bool sparse, Recurrence rec, Index skip, ResetMode reset, double wrec,
                     const std::vector<double>& x, const std::vector<double>& coeff) {
  HiddenLayerConfig hc;
  hc.input_size = 1;
  hc.size = 1;
  hc.bias = false;
  hc.recurrence = rec;
  hc.skip = skip;
  hc.lif.reset = reset;
  ParamLayout layout;
  SpikingLayer<double> layer(hc, layout, "h");
  Vector<double> p = Vector<double>::Zero(layout.size());
  p[layout.entry(layer.weight_entry()).offset] = 1.0;
  if (layer.recurrent_entry() >= 0) p[layout.entry(layer.recurrent_entry()).offset] = wrec;
  layer.prepare(layout, p);
  Matrix<double> X(Index(x.size()), 1);
  for (size_t t = 0; t < x.size(); ++t) X(Index(t), 0) = x[t];
  LayerCache<double> cache;
  layer.forward(layout, p, X, 1, nullptr, coeff, KernelChoice{sparse, sparse}, cache);
  Trace tr;
  for (Index t = 0; t < X.rows(); ++t) {
    tr.v.push_back(cache.V(t, 0));
    tr.s.push_back(cache.S(t, 0));
  }
  return tr;
}

// Both paths, each checked against the hand-computed trace by the caller: the sparse
// path's trace is returned once it is known to equal the dense one exactly.
Trace run_layer(Recurrence rec, Index skip, ResetMode reset, double wrec, const std::vector<double>& x,
                const std::vector<double>& coeff) {
  const Trace dense = run_layer_path(false, rec, skip, reset, wrec, x, coeff);
  const Trace sparse = run_layer_path(true, rec, skip, reset, wrec, x, coeff);
  CHECK(dense.v == sparse.v);
  CHECK(dense.s == sparse.s);
  return dense;
}

void check_trace(const Trace& got, const std::vector<double>& v, const std::vector<double>& s) {
  REQUIRE(got.v.size() == v.size());
  for (size_t t = 0; t < v.size(); ++t) {
    INFO("step ", t);
    CHECK(got.v[t] == doctest::Approx(v[t]).epsilon(1e-12));
    CHECK(got.s[t] == s[t]);
  }
}

}  // namespace

TEST_CASE("LIF trace without recurrence, soft and hard reset (d = 0.5, theta = 1)") {
  const std::vector<double> x = {0.6, 0.8, 0.3, 1.5, 0.0};
  // soft: v0 = 0.6; v1 = 0.3 + 0.8 = 1.1 -> spike, v'1 = 0.1; v2 = 0.05 + 0.3 = 0.35;
  //       v3 = 0.175 + 1.5 = 1.675 -> spike, v'3 = 0.675; v4 = 0.3375
  check_trace(run_layer(Recurrence::none, 1, ResetMode::soft, 0, x, {}),
              {0.6, 1.1, 0.35, 1.675, 0.3375}, {0, 1, 0, 1, 0});
  // hard: v'1 = 0, so v2 = 0.3; v3 = 0.15 + 1.5 = 1.65 -> spike, v'3 = 0; v4 = 0
  check_trace(run_layer(Recurrence::none, 1, ResetMode::hard, 0, x, {}),
              {0.6, 1.1, 0.3, 1.65, 0.0}, {0, 1, 0, 1, 0});
}

TEST_CASE("SRC trace: the spike of step t - lambda enters through W_rec (lambda = 2)") {
  const std::vector<double> x = {1.2, 0, 0, 0.8, 0, 0};
  // t0: v = 1.2 spike, v' = 0.2      t1: v = 0.1 (s_{-1} = 0)
  // t2: v = 0.05 + 0.5 s0 = 0.55     t3: v = 0.275 + 0.8 + 0.5 s1 = 1.075 spike, v' = 0.075
  // t4: v = 0.0375 + 0.5 s2 = 0.0375 t5: v = 0.01875 + 0.5 s3 = 0.51875
  check_trace(run_layer(Recurrence::src, 2, ResetMode::soft, 0.5, x, {0, 1}),
              {1.2, 0.1, 0.55, 1.075, 0.0375, 0.51875}, {1, 0, 0, 1, 0, 0});
  // vanilla RSNN (lag 1), hard reset: t0 spike, v' = 0; t1: v = 0 + 0.5 s0 = 0.5;
  // t2: v = 0.25; t3: v = 0.125 + 0.8 = 0.925; t4: v = 0.4625; t5: v = 0.23125
  check_trace(run_layer(Recurrence::vanilla, 1, ResetMode::hard, 0.5, x, {1}),
              {1.2, 0.5, 0.25, 0.925, 0.4625, 0.23125}, {1, 0, 0, 0, 0, 0});
}

TEST_CASE("ASRC trace: soft mixture over lags in training, argmax lag in evaluation") {
  const std::vector<double> x = {1.2, 0, 0.9, 0};
  // w = (0, ln 3), tau = 1 -> p = (0.25, 0.75); W_rec = 0.4.
  const double l3 = std::log(3.0);
  auto p = skip_softmax<double>(std::vector<double>{0.0, l3}.data(), 2, 1.0);
  CHECK(p[0] == doctest::Approx(0.25));
  CHECK(p[1] == doctest::Approx(0.75));
  // t0: v = 1.2 spike, v' = 0.2
  // t1: r = 0.25 s0 = 0.25 -> v = 0.1 + 0.4 * 0.25 = 0.2
  // t2: r = 0.25 s1 + 0.75 s0 = 0.75 -> v = 0.1 + 0.9 + 0.3 = 1.3 spike, v' = 0.3
  // t3: r = 0.25 s2 + 0.75 s1 = 0.25 -> v = 0.15 + 0.1 = 0.25
  check_trace(run_layer(Recurrence::asrc, 2, ResetMode::soft, 0.4, x, p),
              {1.2, 0.2, 1.3, 0.25}, {1, 0, 1, 0});
  // Evaluation: j* = 1 + argmax(w) = 2, so r_t = s_{t-2}:
  // t1: v = 0.1; t2: v = 0.05 + 0.9 + 0.4 = 1.35 spike, v' = 0.35; t3: v = 0.175 + 0.4 s1 = 0.175
  CHECK(skip_argmax_lag<double>(std::vector<double>{0.0, l3}.data(), 2) == 2);
  check_trace(run_layer(Recurrence::asrc, 2, ResetMode::soft, 0.4, x, {0, 1}),
              {1.2, 0.1, 1.35, 0.175}, {1, 0, 1, 0});
  // Ties go to the smallest lag.
  CHECK(skip_argmax_lag<double>(std::vector<double>{0.5, 0.5, 0.1}.data(), 3) == 1);
}

TEST_CASE("surrogates: values of the spec's table") {
  CHECK(surrogate_grad<double>(Surrogate::triangle, 0.0) == 1.0);
  CHECK(surrogate_grad<double>(Surrogate::triangle, 0.25) == 0.75);
  CHECK(surrogate_grad<double>(Surrogate::triangle, -1.5) == 0.0);
  CHECK(surrogate_grad<double>(Surrogate::exp, -1.0) == doctest::Approx(std::exp(-1.0)));
  CHECK(surrogate_grad<double>(Surrogate::rectangle, 0.49) == 1.0);
  CHECK(surrogate_grad<double>(Surrogate::rectangle, 0.5) == 0.0);
  // multi-Gaussian at 0: 0.5 (1.15 N(0;0,.5) - 0.3 N(0.5;0,3))
  const double n05 = 1.0 / (0.5 * std::sqrt(2 * M_PI));
  const double n3 = std::exp(-0.5 * (0.5 / 3) * (0.5 / 3)) / (3 * std::sqrt(2 * M_PI));
  CHECK(surrogate_grad<double>(Surrogate::gaussian, 0.0) == doctest::Approx(0.5 * (1.15 * n05 - 0.3 * n3)));
  // Heaviside: fires at x >= 0, except the multi-Gaussian (x > 0).
  CHECK(spike_value<double>(Surrogate::triangle, SpikeFunction::heaviside, 0.0) == 1.0);
  CHECK(spike_value<double>(Surrogate::gaussian, SpikeFunction::heaviside, 0.0) == 0.0);
}

TEST_CASE("bad layer settings are refused with Class::method(): expected ..., got ...") {
  ParamLayout layout;
  HiddenLayerConfig hc;
  hc.size = 0;
  CHECK_THROWS_WITH_AS(SpikingLayer<float>(hc, layout, "h"),
                       "SpikingLayer::SpikingLayer(): expected size > 0, got 0", std::invalid_argument);
  hc.size = 4;
  hc.recurrence = Recurrence::src;
  hc.skip = 0;
  CHECK_THROWS_WITH_AS(SpikingLayer<float>(hc, layout, "h"),
                       "SpikingLayer::SpikingLayer(): expected lambda >= 1, got 0", std::invalid_argument);
  hc.recurrence = Recurrence::asrc;
  CHECK_THROWS_WITH_AS(SpikingLayer<float>(hc, layout, "h"),
                       "SpikingLayer::SpikingLayer(): expected T_lambda >= 1, got 0", std::invalid_argument);
  hc.skip = 2;
  hc.lif.decay = 1.5;
  CHECK_THROWS_AS(SpikingLayer<float>(hc, layout, "h"), std::invalid_argument);
}
