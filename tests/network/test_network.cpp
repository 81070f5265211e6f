// Whole-network properties: parameter counts of every Table 1 configuration, agreement
// with the naive reference, streaming == batch evaluation (exactly), 1 thread == 2
// threads (bitwise), spike-aware kernels == dense GEMM path, and input validation.
#include <doctest/doctest.h>

#include <cstring>

#include "../support/networks.hpp"
#include "../support/reference_rsnn.hpp"

using namespace asrc;
using namespace asrc_test;

namespace {

NetworkConfig table1(Index in, std::vector<Index> hidden, Index classes, Recurrence rec, Index skip) {
  NetworkConfig c;
  c.input_size = in;
  c.hidden = std::move(hidden);
  c.num_classes = classes;
  c.recurrence = rec;
  c.skip = skip;
  return c;
}

/// A network whose layers fire: weights scaled up so spikes are neither absent nor saturated.
template <typename T>
Network<T> lively_network(NetworkConfig cfg) {
  Network<T> net(cfg);
  for (const auto& e : net.layout().entries()) {
    auto P = view(net.params(), e);
    if (e.group == ParamGroup::skip) {
      for (Index j = 0; j < e.size(); ++j) P(0, j) = T(std::cos(2.3 * double(j + e.offset)));
    } else if (e.name.find(".weight") != std::string::npos && e.name.rfind("hidden", 0) == 0) {
      P *= T(2.5);
    }
  }
  return net;
}

const std::vector<std::pair<std::string, NetworkConfig>>& kinds() {
  static const std::vector<std::pair<std::string, NetworkConfig>> k = [] {
    std::vector<std::pair<std::string, NetworkConfig>> v;
    auto add = [&](std::string n, Recurrence r, Index s, bool nw) {
      NetworkConfig c = table1(4, {24, 20, 16}, 5, r, s);
      c.network_wise = nw;
      c.chunk_size = 3;
      v.emplace_back(n, c);
    };
    add("FF", Recurrence::none, 1, false);
    add("RSNN", Recurrence::vanilla, 1, false);
    add("SRC lambda=3", Recurrence::src, 3, false);
    add("ASRC T_lambda=5", Recurrence::asrc, 5, false);
    add("ASRC network-wise", Recurrence::asrc, 5, true);
    return v;
  }();
  return k;
}

}  // namespace

TEST_CASE("parameter counts of the eleven Table 1 configurations") {
  struct Row {
    Index in;
    std::vector<Index> hidden;
    Index classes;
    Recurrence rec;
    Index skip;
    Index expected;
  };
  const std::vector<Row> rows = {
      {40, {128, 128, 128}, 12, Recurrence::src, 4, 88972},            // GSC SRC
      {40, {128, 128, 128}, 12, Recurrence::asrc, 21, 88972 + 63},     // GSC ASRC
      {140, {256, 256, 256}, 35, Recurrence::src, 3, 373283},          // SSC SRC
      {140, {256, 256, 256}, 35, Recurrence::asrc, 6, 373283 + 18},    // SSC ASRC
      {1, {64, 128, 128}, 10, Recurrence::src, 16, 63114},             // S-MNIST SRC
      {1, {64, 212, 212}, 10, Recurrence::src, 12, 155178},            // S-MNIST SRC wide
      {1, {64, 128, 128}, 10, Recurrence::asrc, 41, 63114 + 123},      // S-MNIST ASRC
      {1, {64, 128, 128}, 10, Recurrence::src, 12, 63114},             // PS-MNIST SRC
      {1, {64, 212, 212}, 10, Recurrence::src, 16, 155178},            // PS-MNIST SRC wide
      {1, {64, 128, 128}, 10, Recurrence::asrc, 51, 63114 + 153},      // PS-MNIST ASRC
      {1, {64, 212, 212}, 10, Recurrence::asrc, 31, 155178 + 93},      // PS-MNIST ASRC wide
  };
  for (const auto& r : rows) {
    Network<float> net(table1(r.in, r.hidden, r.classes, r.rec, r.skip));
    CHECK(net.num_params() == r.expected);
  }
  // Network-wise ASRC shares one w: adds T_lambda instead of 3 T_lambda.
  NetworkConfig nw = table1(1, {64, 128, 128}, 10, Recurrence::asrc, 41);
  nw.network_wise = true;
  CHECK(Network<float>(nw).num_params() == 63114 + 41);
  CHECK(Network<float>(nw).layout().group_size(ParamGroup::skip) == 41);
}

TEST_CASE("initialisation: seeded, bounded by 1/sqrt(fan_in), orthogonal W_rec") {
  NetworkConfig c = table1(3, {8, 6}, 4, Recurrence::src, 2);
  Network<double> a(c), b(c);
  CHECK(a.params() == b.params());
  c.seed = 1;
  Network<double> other(c);
  CHECK(a.params() != other.params());
  for (const auto& e : a.layout().entries()) {
    const auto P = view(a.params(), e);
    if (e.name.find("recurrent") != std::string::npos) {
      Matrix<double> I = P * P.transpose();
      CHECK((I - Matrix<double>::Identity(e.rows, e.rows)).cwiseAbs().maxCoeff() < 1e-12);
    } else {
      const std::string base = e.name.substr(0, e.name.rfind('.'));
      const double bound = 1.0 / std::sqrt(double(a.layout().entry(a.layout().find(base + ".weight")).cols));
      CHECK(P.cwiseAbs().maxCoeff() <= bound);
      CHECK(P.cwiseAbs().maxCoeff() > 0.5 * bound);
    }
  }
}

TEST_CASE("binary forward agrees with the naive reference (training and evaluation)") {
  for (const auto& [name, cfg0] : kinds()) {
    for (bool training : {true, false}) {
      NetworkConfig cfg = cfg0;
      cfg.lif.reset = training ? ResetMode::soft : ResetMode::hard;
      Network<double> net = lively_network<double>(cfg);
      net.set_training(training);
      net.set_tau(0.8);
      const Index steps = 12, B = 7;
      Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 3, -0.2, 1.0);
      std::vector<int> labels = {0, 1, 2, 3, 4, 0, 1};
      const Matrix<double> logits = net.forward(x, B);
      const auto ref = reference_forward<double>(cfg, net.layout(), net.params(), x, B, labels, 0.8, training, {});
      INFO(name, training ? " training" : " evaluation");
      double worst = 0;
      for (Index b = 0; b < B; ++b)
        for (Index k = 0; k < cfg.num_classes; ++k)
          worst = std::max(worst, std::abs(logits(b, k) - ref.logits[size_t(b)][size_t(k)]));
      CHECK(worst < 1e-9);
      CHECK(net.spike_rates()[0] > 0.02);
      CHECK(net.spike_rates()[0] < 0.98);
    }
  }
}

TEST_CASE("streaming inference equals whole-sequence evaluation exactly") {
  for (const auto& [name, cfg] : kinds()) {
    Network<float> net = lively_network<float>(cfg);
    net.set_training(false);
    const Index steps = 40, B = 5;
    Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 9, -0.2, 1.0);
    const Matrix<float> batch_logits = net.forward(x, B);
    auto st = net.make_stream(B);
    for (Index t = 0; t < steps; ++t) net.stream_step(st, x.middleRows(t * B, B));
    const Matrix<float> stream_logits = net.stream_logits(st);
    INFO(name);
    CHECK(st.steps == steps);
    CHECK(stream_logits == batch_logits);  // bitwise
    // Batch 1 streams of each sequence agree too.
    for (Index b = 0; b < B; ++b) {
      auto s1 = net.make_stream(1);
      for (Index t = 0; t < steps; ++t) net.stream_step(s1, x.row(t * B + b));
      CHECK(net.stream_logits(s1) == batch_logits.row(b));
    }
    // The buffer holds only the lags needed: no growth with time.
    for (size_t l = 0; l < st.ring.size(); ++l) CHECK(Index(st.ring[l].size()) <= cfg.lag());
  }
}

TEST_CASE("loss and gradients are bitwise identical for 1 and 2 threads") {
  for (const auto& [name, cfg0] : kinds()) {
    NetworkConfig cfg = cfg0;
    cfg.dropout = 0.2;
    cfg.chunk_size = 4;
    const Index steps = 15, B = 13;
    Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 5, -0.2, 1.0);
    std::vector<int> labels(B);
    for (Index b = 0; b < B; ++b) labels[size_t(b)] = int(b % cfg.num_classes);
    Vector<float> g1, g2;
    Matrix<float> gx1, gx2;
    cfg.threads = 1;
    Network<float> n1 = lively_network<float>(cfg);
    cfg.threads = 2;
    Network<float> n2 = lively_network<float>(cfg);
    const double l1 = n1.forward_backward(x, B, labels, g1, &gx1);
    const double l2 = n2.forward_backward(x, B, labels, g2, &gx2);
    INFO(name);
    CHECK(l1 == l2);
    CHECK(g1 == g2);
    CHECK(gx1 == gx2);
    CHECK(g1.norm() > 0);
  }
}

/// The ASRC network of the skipping tests: 3-32-width-36-5, T_lambda 21 > kMixBlock,
/// chunks of 16 (with B = 20, a partial last chunk), 2 threads, dropout.
NetworkConfig skip_test_config(Index width, KernelPolicy kernels) {
  NetworkConfig cfg = table1(3, {32, width, 36}, 5, Recurrence::asrc, 21);
  cfg.chunk_size = 16;
  cfg.threads = 2;
  cfg.dropout = 0.1;
  cfg.kernels = kernels;
  return cfg;
}

/// Labels 0, 1, ..., classes-1, 0, 1, ... for B sequences.
std::vector<int> cycle_labels(Index B, Index classes) {
  std::vector<int> labels(static_cast<size_t>(B));
  for (Index b = 0; b < B; ++b) labels[size_t(b)] = int(b % classes);
  return labels;
}

/// Two runs of forward_backward (skip_zero_lags off, on) gave the same loss, parameter
/// gradient and input gradient, bit for bit, and a gradient that is not all zero.
void check_same_bits(const double (&loss)[2], const Vector<float> (&g)[2], const Matrix<float> (&gx)[2]) {
  CHECK(std::memcmp(&loss[0], &loss[1], sizeof(double)) == 0);
  REQUIRE(g[0].size() == g[1].size());
  CHECK(std::memcmp(g[0].data(), g[1].data(), sizeof(float) * size_t(g[0].size())) == 0);
  REQUIRE(gx[0].size() == gx[1].size());
  CHECK(std::memcmp(gx[0].data(), gx[1].data(), sizeof(float) * size_t(gx[0].size())) == 0);
  CHECK(g[0].norm() > 0);
}

TEST_CASE("ASRC: skipping the lags whose coefficient is exactly 0 changes nothing (bitwise)") {
  // Logits spread over +-0.5 and small tau: softmax(w / tau) underflows to exactly 0 for
  // some lags but not for all (a one-hot kernel would take the single-lag path).
  // Widths 37 (16 x 37 = 592 values per step: 4 tiles of 128 and a tail) and 40; chunks
  // of 16 with a partial last chunk; T_lambda 21 > kMixBlock; both kernel policies; dropout.
  for (KernelPolicy kernels : {KernelPolicy::automatic, KernelPolicy::dense})
  for (Index width : {37, 40})
  for (double tau : {0.005, 0.002}) {
    NetworkConfig cfg = skip_test_config(width, kernels);
    const Index steps = 130, B = 20;
    Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 31, -0.2, 1.0);
    const std::vector<int> labels = cycle_labels(B, cfg.num_classes);
    Vector<float> g[2];
    Matrix<float> gx[2];
    double loss[2];
    Index zeros = 0, nonzeros = 0;
    for (int skip : {0, 1}) {
      cfg.skip_zero_lags = skip == 1;
      Network<float> net = lively_network<float>(cfg);
      for (const auto& e : net.layout().entries())
        if (e.group == ParamGroup::skip)
          for (Index j = 0; j < e.size(); ++j)
            view(net.params(), e)(0, j) = float(0.5 * std::cos(2.3 * double(j + e.offset)));
      net.set_tau(tau);
      if (skip == 1)
        for (size_t l = 0; l < net.layers().size(); ++l)
          for (float c : net.lag_coefficients(l)) (c == 0.0f ? zeros : nonzeros) += 1;
      loss[skip] = net.forward_backward(x, B, labels, g[skip], &gx[skip]);
    }
    const std::string what = "width " + std::to_string(width) + " tau " + std::to_string(tau) +
                             (kernels == KernelPolicy::dense ? " dense" : " automatic");
    INFO(what);
    REQUIRE(zeros > 0);
    REQUIRE(nonzeros > 3 * 2);  // more than one lag per layer: the mixture runs
    check_same_bits(loss, g, gx);
  }
}

TEST_CASE("ASRC: skipping the steps where a layer is silent changes nothing (bitwise)") {
  // No biases and no input in steps 0-29 and 60-74: the layers cannot fire there (the
  // membrane starts at 0), so their Y_t rows are 0 and the mixture, dL/dc_j and the
  // banded products leave those sources out. tau 1: no coefficient is 0, so only the
  // silent steps are skipped. Widths and chunks as in the test above.
  for (KernelPolicy kernels : {KernelPolicy::automatic, KernelPolicy::dense})
  for (Index width : {37, 40}) {
    NetworkConfig cfg = skip_test_config(width, kernels);
    const Index steps = 130, B = 20;
    Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 32, -0.2, 1.0);
    for (Index t = 0; t < steps; ++t)
      if (t < 30 || (t >= 60 && t < 75)) x.middleRows(t * B, B).setZero();
    const std::vector<int> labels = cycle_labels(B, cfg.num_classes);
    Vector<float> g[2];
    Matrix<float> gx[2];
    double loss[2];
    std::vector<double> rates;
    for (int skip : {0, 1}) {
      cfg.skip_zero_lags = skip == 1;
      Network<float> net = lively_network<float>(cfg);
      for (const auto& e : net.layout().entries())
        if (e.name.size() > 5 && e.name.compare(e.name.size() - 5, 5, ".bias") == 0) view(net.params(), e).setZero();
      net.set_tau(1.0);
      loss[skip] = net.forward_backward(x, B, labels, g[skip], &gx[skip]);
      rates = net.spike_rates();
    }
    INFO("width " << width << (kernels == KernelPolicy::dense ? " dense" : " automatic"));
    for (double r : rates) REQUIRE(r > 0.01);  // every layer fires in the other steps
    check_same_bits(loss, g, gx);
  }
}

TEST_CASE("spike-aware kernels agree with the dense GEMM path") {
  for (const auto& [name, cfg0] : kinds()) {
    for (int input : {0, 1})  // dense inputs; sparse counts (layer 0 then uses the row kernel)
    for (bool training : {true, false}) {
      NetworkConfig cfg = cfg0;
      const Index steps = 20, B = 6;
      Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 21, -0.2, 1.0);
      if (input == 1)
        for (Index i = 0; i < x.size(); ++i)
          x.data()[i] = x.data()[i] > 0.75 ? std::floor(x.data()[i] * 5.0) : 0.0;
      std::vector<int> labels = {0, 1, 2, 3, 4, 0};
      cfg.kernels = KernelPolicy::automatic;
      Network<double> fast = lively_network<double>(cfg);
      cfg.kernels = KernelPolicy::dense;
      Network<double> dense = lively_network<double>(cfg);
      fast.set_training(training);
      dense.set_training(training);
      Vector<double> gf, gd;
      const double lf = fast.forward_backward(x, B, labels, gf);
      const double ld = dense.forward_backward(x, B, labels, gd);
      INFO(name, training ? " training" : " evaluation", input ? ", sparse input" : "");
      CHECK(lf == doctest::Approx(ld).epsilon(1e-12));
      CHECK((gf - gd).norm() <= 1e-10 * gd.norm());
    }
  }
}

TEST_CASE("bad configuration and input are refused with clear messages") {
  NetworkConfig c = table1(2, {4}, 3, Recurrence::src, 3);
  c.hidden = {4, 0};
  CHECK_THROWS_WITH_AS(Network<float>{c}, "NetworkConfig::validate(): expected hidden widths > 0, got 0",
                       std::invalid_argument);
  c.hidden = {};
  CHECK_THROWS_AS(Network<float>{c}, std::invalid_argument);
  c.hidden = {4};
  c.skip = 0;
  CHECK_THROWS_WITH_AS(Network<float>{c}, "NetworkConfig::validate(): expected lambda >= 1, got 0",
                       std::invalid_argument);
  c.recurrence = Recurrence::asrc;
  CHECK_THROWS_WITH_AS(Network<float>{c}, "NetworkConfig::validate(): expected T_lambda >= 1, got 0",
                       std::invalid_argument);
  c.recurrence = Recurrence::src;
  c.skip = 3;
  Network<float> net(c);
  Matrix<float> x = Matrix<float>::Zero(10 * 2, 3);  // 3 columns, network expects 2
  CHECK_THROWS_WITH_AS(net.forward(x, 2), "Network::forward(): expected 2 input columns, got 3",
                       std::invalid_argument);
  x = Matrix<float>::Zero(3 * 2, 2);  // 3 steps: not longer than lambda = 3
  CHECK_THROWS_WITH_AS(net.forward(x, 2),
                       "Network::forward(): expected sequences longer than the recurrent lag 3 steps, got 3",
                       std::invalid_argument);
  x = Matrix<float>::Zero(7, 2);  // not a multiple of the batch
  CHECK_THROWS_AS(net.forward(x, 2), std::invalid_argument);
  x = Matrix<float>::Zero(10 * 2, 2);
  x(5, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(net.forward(x, 2), "Network::forward(): expected finite inputs, got NaN or Inf",
                       std::invalid_argument);
  Vector<float> g;
  x.setZero();
  CHECK_THROWS_AS(net.forward_backward(x, 2, {0, 3}, g), std::invalid_argument);  // label 3 of 3 classes
  CHECK_THROWS_AS(net.forward_backward(x, 2, {0}, g), std::invalid_argument);     // one label for two
}

TEST_CASE("a reference to params() kept across passes never feeds stale weights to the kernels") {
  NetworkConfig cfg;
  cfg.input_size = 3;
  cfg.hidden = {20, 16};
  cfg.num_classes = 4;
  cfg.recurrence = Recurrence::src;
  cfg.skip = 2;
  cfg.threads = 1;
  const Index B = 5, T = 12;
  Matrix<float> x(T * B, 3);
  Rng rng(7);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform01() < 0.3 ? 1.f : 0.f;  // spikes: the row kernels
  const std::vector<int> y = {0, 1, 2, 3, 0};
  Network<float> net(cfg);
  net.set_training(false);
  Vector<float>& p = net.params();  // kept, as a caller holding it for an optimizer would
  const Matrix<float> before = net.forward(x, B);
  p *= 1.5f;  // written after a forward pass
  const Matrix<float> after = net.forward(x, B);
  Network<float> fresh(cfg);
  fresh.params() = p;
  fresh.set_training(false);
  CHECK(after == fresh.forward(x, B));  // bitwise: the new weights, not the transposed old ones
  CHECK(after != before);
  // Training passes and streams read the new weights too.
  net.set_training(true);
  fresh.set_training(true);
  p *= 0.5f;
  fresh.params() = p;
  Vector<float> g1, g2;
  CHECK(net.forward_backward(x, B, y, g1) == fresh.forward_backward(x, B, y, g2));
  CHECK(g1 == g2);
  net.set_training(false);
  fresh.set_training(false);
  p *= 2.0f;
  fresh.params() = p;
  auto s1 = net.make_stream(B), s2 = fresh.make_stream(B);
  for (Index t = 0; t < T; ++t) {
    net.stream_step(s1, x.middleRows(t * B, B));
    fresh.stream_step(s2, x.middleRows(t * B, B));
  }
  CHECK(net.stream_logits(s1) == fresh.stream_logits(s2));
}
