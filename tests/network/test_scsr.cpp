// The ScSr-SNN of Zhang & Li (spec /work/shared/spec/scsr-snn.md) as features of the layer
// and the network: PSC filters (layers/psc.hpp), the per-neuron self-recurrence, the skip
// 1 -> 3 (extra_inputs), BIP (a learned decay per neuron) and the spiking readout. The
// spec's oracles (section 9), finite-difference checks of BPTT against the naive
// reference (support/reference_scsr.hpp), the post-reset membrane in dL/dtheta, streaming
// equal to the batch pass, thread-count independence, the kernel choice on PSC outputs,
// and the settings and parameter counts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "../support/networks.hpp"
#include "../support/reference_scsr.hpp"

using namespace asrc;
using namespace asrc_test;

namespace {

// ---------------------------------------------------------------------------------------
// The spec's oracle table (section 9): one neuron, J_ff = 0.3 per step, theta = 0.9375,
// V_th = 1, kappa = 0.875 (tau_s 8). A: w_s = 0, c = 1/8; B: w_s = 0.8, c = 1/8; C: w_s = 0.8,
// c = 1. Steps t = 1..8.
struct OracleCase {
  const char* name;
  double ws;
  bool unnormalised;
  double u[8], s[8], a[8];
};
const OracleCase kOracle[] = {
    {"A", 0.0, false,
     {0.300000, 0.581250, 0.844922, 1.092114, 0.300000, 0.581250, 0.844922, 1.092114},
     {0, 0, 0, 1, 0, 0, 0, 1},
     {0, 0, 0, 0.125000, 0.109375, 0.095703, 0.083740, 0.198273}},
    {"B", 0.8, false,
     {0.300000, 0.581250, 0.844922, 1.092114, 0.400000, 0.762500, 1.091406, 0.466992},
     {0, 0, 0, 1, 0, 0, 1, 0},
     {0, 0, 0, 0.125000, 0.109375, 0.095703, 0.208740, 0.182648}},
    {"C", 0.8, true,
     {0.300000, 0.581250, 0.844922, 1.092114, 1.100000, 1.800000, 2.412500, 2.948437},
     {0, 0, 0, 1, 1, 1, 1, 1},
     {0, 0, 0, 1.000000, 1.875000, 2.640625, 3.310547, 3.896729}},
};
constexpr double kOracleTol = 1e-6;  // the table has 6 decimals

LifConfig scsr_lif() {
  LifConfig lif;
  lif.reset = ResetMode::hard;
  lif.decay = 0.9375;  // theta = 1 - 1/tau_m, tau_m = 16
  lif.threshold = 1.0;
  return lif;
}

/// The network of one oracle neuron: hidden0 is the neuron (weight 1 from the one input),
/// the spiking readout's layer (2 neurons, weights 0) is never driven.
NetworkConfig oracle_network(const OracleCase& oc) {
  NetworkConfig c;
  c.input_size = 1;
  c.hidden = {1};
  c.num_classes = 2;
  c.recurrence = Recurrence::none;
  c.bias = false;
  c.self_recurrence = true;
  c.psc.tau_s = 8;
  c.psc.unnormalised = oc.unnormalised;
  c.lif = scsr_lif();
  c.readout = ReadoutKind::spiking;
  c.chunk_size = 1;
  c.threads = 1;
  return c;
}

struct Capture : NetworkObserver<double> {
  std::vector<Matrix<double>> V, S, G;  // per spiking layer (one chunk)
  void forward_layer(size_t l, Index, Index, Index, const Matrix<double>& v, const Matrix<double>& s) override {
    if (V.size() <= l) V.resize(l + 1), S.resize(l + 1);
    V[l] = v;
    S[l] = s;
  }
  void backward_layer(size_t l, Index, Index, Index, const Matrix<double>& g) override {
    if (G.size() <= l) G.resize(l + 1);
    G[l] = g;
  }
};

// ---------------------------------------------------------------------------------------
// The tiny ScSr net of the spec's gradient check: 3-4-4-4-2, skip 1 -> 3, self-loops, the
// input filter, BIP and the spiking readout, smooth spikes.
struct Variant {
  const char* name;
  double tau_s = 4;
  bool unnormalised = false;
  bool detach = false;  // rho = 0
  Recurrence rec = Recurrence::none;
  double in_hi = 2.0;   // inputs U(0, in_hi)
  double upper = 1.5;   // scale of the weights of the layers above hidden0
  LossKind loss = LossKind::cross_entropy;
};

NetworkConfig tiny_scsr(const Variant& v) {
  NetworkConfig c;
  c.input_size = 3;
  c.hidden = {4, 4, 4};
  c.num_classes = 2;
  c.extra_inputs = {{}, {}, {0}};
  c.recurrence = v.rec;
  c.skip = 3;  // T_lambda for ASRC
  c.bias = false;
  c.lif = scsr_lif();
  c.lif.learn_decay = true;
  c.lif.detach_reset = v.detach;
  c.lif.spike_fn = SpikeFunction::smooth;  // triangle surrogate: S of the spec's section 9
  c.psc.tau_s = v.tau_s;
  c.psc.unnormalised = v.unnormalised;
  c.input_psc = true;
  c.self_recurrence = true;
  c.readout = ReadoutKind::spiking;
  c.loss = v.loss;
  c.init = InitScheme::kaiming;
  c.seed = 12;  // a draw whose every layer fires in every variant (tiny nets are fragile)
  c.chunk_size = 2;
  return c;
}

/// Non-trivial values after initialisation: self-loop weights U(-0.5, 0.5), decays spread
/// over [0.6, 0.9], the weights above hidden0 scaled by `upper` (PSCs are smaller than
/// spikes), ASRC lag logits away from their symmetric point.
void vary_scsr_params(Vector<double>& p, const ParamLayout& layout, double upper) {
  Rng rng(99);
  for (const auto& e : layout.entries()) {
    auto ends = [&](const std::string& suffix) {
      return e.name.size() >= suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    for (Index j = 0; j < e.size(); ++j) {
      double& v = p[e.offset + j];
      if (ends(".self")) v = rng.uniform(-0.5, 0.5);
      else if (ends(".decay")) v = rng.uniform(0.6, 0.9);
      else if (ends(".recurrent")) v *= 2.0;
      else if ((ends(".weight") || e.name.find(".from") != std::string::npos) && e.name.rfind("hidden0.", 0) != 0)
        v *= upper;
    }
  }
  vary_skip_logits(p, layout);
}

template <typename T>
struct Tol;
template <>
struct Tol<double> {
  static constexpr double forward = 1e-12, grad = 1e-6;
};
template <>
struct Tol<float> {
  static constexpr double forward = 1e-5, grad = 2e-4;
};

/// Relative error with a floor for values near 0.
double rel(double a, double b, double floor = 1e-6) { return std::abs(a - b) / std::max({std::abs(a), std::abs(b), floor}); }

struct CheckResult {
  double forward = 0;      // max relative error of loss and logits vs the reference
  double grad = 0;         // max normwise relative error over the parameter tensors
  std::string worst;
  double input_grad = -1;  // dL/dx (double only)
};

/// Forward and BPTT of the library (scalar T) against the long double reference and its
/// central differences, for every parameter tensor.
template <typename T>
CheckResult scsr_gradient_check(const Variant& v) {
  const NetworkConfig cfg = tiny_scsr(v);
  Network<T> net(cfg);
  const double tau = 0.8;
  net.set_tau(tau);
  Vector<double> p = net.params().template cast<double>();
  vary_scsr_params(p, net.layout(), v.upper);
  net.params() = p.cast<T>();
  p = net.params().template cast<double>();
  const Index steps = 12, B = 3;
  Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 23, 0.0, v.in_hi);
  const Matrix<T> xt = x.cast<T>();
  x = xt.template cast<double>();
  const std::vector<int> labels = {1, 0, 1};
  Vector<T> grad;
  Matrix<T> logits, gx;
  const double loss = net.forward_backward(xt, B, labels, grad, &gx, &logits);
  const auto base = reference_scsr<long double>(cfg, net.layout(), p, x, B, labels, tau, true);

  CheckResult r;
  r.forward = rel(loss, double(base.loss));
  for (Index b = 0; b < B; ++b)
    for (Index k = 0; k < cfg.num_classes; ++k)
      r.forward = std::max(r.forward, rel(double(logits(b, k)), double(base.logits[size_t(b)][size_t(k)])));
  CHECK_MESSAGE(r.forward < Tol<T>::forward, "forward vs reference: ", r.forward);

  // Every spiking layer is in its active range somewhere (a smooth spike above 0.5) and
  // carries gradient at many of its (step, neuron) points (|u - V_th| < 1).
  for (size_t l = 0; l < base.s.size(); ++l) {
    long double smax = 0;
    Index active = 0, total = 0;
    for (size_t b = 0; b < base.s[l].size(); ++b)
      for (size_t t = 0; t < base.s[l][b].size(); ++t)
        for (size_t h = 0; h < base.s[l][b][t].size(); ++h) {
          smax = std::max(smax, base.s[l][b][t][h]);
          active += std::abs(base.u[l][b][t][h] - 1.0L) < 1.0L;
          ++total;
        }
    INFO("layer ", l, ": max smooth spike ", double(smax), ", active ", active, " of ", total);
    CHECK(smax > 0.5L);
    CHECK(active >= total / 10);
  }
  // No tensor's gradient is trivially zero.
  for (const auto& e : net.layout().entries()) {
    INFO(e.name);
    CHECK(grad.segment(e.offset, e.size()).template cast<double>().norm() > 1e-6);
  }

  const ScsrRun<long double>* frozen = v.detach ? &base : nullptr;
  auto f = [&](const Vector<double>& pv) {
    return reference_scsr<long double>(cfg, net.layout(), pv, x, B, labels, tau, true, frozen).loss;
  };
  const auto g = check_gradient<double>(f, p, grad.template cast<double>(), net.layout(), 1e-7);
  CHECK(g.analytic_norm > 0);
  CHECK_MESSAGE(g.max_rel_error < Tol<T>::grad, "worst: ", g.worst, " ", g.max_rel_error);
  r.grad = g.max_rel_error;
  r.worst = g.worst;

  if (std::is_same<T, double>::value) {  // dL/dx through the input filter's backward
    ParamLayout xl;
    xl.add("x", x.rows(), x.cols(), ParamGroup::weights);
    const Vector<double> xv = Eigen::Map<const Vector<double>>(x.data(), x.size());
    const Matrix<double> gxd = gx.template cast<double>();
    const Vector<double> gxv = Eigen::Map<const Vector<double>>(gxd.data(), gxd.size());
    auto fx = [&](const Vector<double>& xs) {
      const Matrix<double> xm = Eigen::Map<const Matrix<double>>(xs.data(), x.rows(), x.cols());
      return reference_scsr<long double>(cfg, net.layout(), p, xm, B, labels, tau, true, frozen).loss;
    };
    const auto gi = check_gradient<double>(fx, xv, gxv, xl, 1e-7);
    CHECK(gi.analytic_norm > 0);
    CHECK_MESSAGE(gi.max_rel_error < Tol<T>::grad, "dL/dx: ", gi.max_rel_error);
    r.input_grad = gi.max_rel_error;
  }
  return r;
}

const Variant kVariants[] = {
    {"normalised c = 1/tau_s", 4, false, false, Recurrence::none, 2.0, 2.5},
    {"unnormalised c = 1 (Eq. 6)", 3, true, false, Recurrence::none, 1.0, 0.8},
    {"rho = 0 (detach_reset)", 4, false, true, Recurrence::none, 2.0, 2.5},
    {"ASRC T_lambda 3 in training", 4, false, false, Recurrence::asrc, 2.0, 2.5},
    {"spike-train loss", 4, false, false, Recurrence::none, 2.0, 2.5, LossKind::spike_train},
};

template <typename T>
void scsr_gradients(const char* type) {
  for (const Variant& v : kVariants) {
    INFO(std::string(v.name));
    const CheckResult r = scsr_gradient_check<T>(v);
    std::ostringstream msg;
    msg << "ScSr gradient check (" << type << ", " << v.name << "): forward " << r.forward << ", parameters "
        << r.grad << " (" << r.worst << ")";
    if (r.input_grad >= 0) msg << ", dL/dx " << r.input_grad;
    MESSAGE(msg.str());
  }
}

// ---------------------------------------------------------------------------------------
// Binary networks for streaming, threads and kernels: input filter, PSC (tau_s 8), self-
// loops (U(0, 1)), the skip, SRC recurrence on the PSCs, BIP and the spiking readout.
NetworkConfig binary_scsr() {
  NetworkConfig c;
  c.input_size = 4;
  c.hidden = {16, 12, 14};
  c.num_classes = 3;
  c.extra_inputs = {{}, {}, {0}};
  c.recurrence = Recurrence::src;
  c.skip = 3;
  c.bias = false;
  c.lif = scsr_lif();
  c.lif.learn_decay = true;
  c.psc.tau_s = 8;
  c.input_psc = true;
  c.self_recurrence = true;
  c.self_init_uniform = true;
  c.readout = ReadoutKind::spiking;
  c.init = InitScheme::kaiming;
  c.seed = 3;
  c.chunk_size = 2;
  return c;
}

NetworkConfig paper_net(Index in, Index hidden, Index out, bool self, bool skip, bool bip) {
  NetworkConfig c;
  c.input_size = in;
  c.hidden = {hidden, hidden, hidden};
  c.num_classes = out;
  c.recurrence = Recurrence::none;
  c.bias = false;
  c.self_recurrence = self;
  if (skip) c.extra_inputs = {{}, {}, {0}};
  c.lif = scsr_lif();
  c.lif.learn_decay = bip;
  c.psc.tau_s = 8;
  c.input_psc = true;
  c.readout = ReadoutKind::spiking;
  c.init = InitScheme::kaiming;
  return c;
}

}  // namespace

TEST_CASE("ScSr: the spec's single-neuron oracle (cases A, B, C) by the layer, the network and the reference") {
  const Matrix<double> x = Matrix<double>::Constant(8, 1, 0.3);
  for (const OracleCase& oc : kOracle) {
    // The layer alone: weight 1, no bias, w_s, PSC tau_s 8; GEMM and row kernels.
    HiddenLayerConfig hc;
    hc.input_size = 1;
    hc.size = 1;
    hc.bias = false;
    hc.recurrence = Recurrence::none;
    hc.self_recurrence = true;
    hc.psc.tau_s = 8;
    hc.psc.unnormalised = oc.unnormalised;
    hc.lif = scsr_lif();
    ParamLayout layout;
    SpikingLayer<double> layer(hc, layout, "n");
    Vector<double> p = Vector<double>::Zero(layout.size());
    p[layout.entry(layer.weight_entry()).offset] = 1.0;
    REQUIRE(layer.self_entry() >= 0);
    p[layout.entry(layer.self_entry()).offset] = oc.ws;
    layer.prepare(layout, p);
    for (bool rows : {false, true}) {
      KernelChoice kc;
      kc.sparse_input = kc.sparse_recurrent = rows;
      LayerCache<double> c;
      layer.forward(layout, p, x, 1, nullptr, {}, kc, c);
      for (int t = 0; t < 8; ++t) {
        INFO("case ", std::string(oc.name), ", row kernels ", rows, ", t = ", t + 1, ": u ", c.V(t, 0), " s ", c.Sp(t, 0), " a ",
             c.S(t, 0));
        CHECK(std::abs(c.V(t, 0) - oc.u[t]) < kOracleTol);
        CHECK(c.Sp(t, 0) == oc.s[t]);
        CHECK(std::abs(c.S(t, 0) - oc.a[t]) < kOracleTol);
      }
    }
    // The network: batch passes in evaluation and training, a stream, and the reference.
    const NetworkConfig cfg = oracle_network(oc);
    Network<double> net(cfg);
    Vector<double> q = Vector<double>::Zero(net.num_params());
    q[net.layout().entry(net.layout().find("hidden0.weight")).offset] = 1.0;
    q[net.layout().entry(net.layout().find("hidden0.self")).offset] = oc.ws;
    net.params() = q;
    for (bool training : {false, true}) {
      Capture cap;
      net.set_training(training);
      net.set_observer(&cap);
      net.forward(x, 1);
      net.set_observer(nullptr);
      REQUIRE(cap.V.size() == 2);
      for (int t = 0; t < 8; ++t) {
        INFO("case ", std::string(oc.name), ", network, training ", training, ", t = ", t + 1);
        CHECK(std::abs(cap.V[0](t, 0) - oc.u[t]) < kOracleTol);
        CHECK(cap.S[0](t, 0) == oc.s[t]);
      }
    }
    net.set_training(false);
    auto st = net.make_stream(1);
    for (int t = 0; t < 8; ++t) {
      net.stream_step(st, x.middleRows(t, 1));
      INFO("case ", std::string(oc.name), ", stream, t = ", t + 1);
      CHECK(std::abs(st.spikes[0](0, 0) - oc.a[t]) < kOracleTol);
    }
    const auto ref = reference_scsr<long double>(cfg, net.layout(), q, x, 1, {0}, 1.0, false);
    for (int t = 0; t < 8; ++t) {
      INFO("case ", std::string(oc.name), ", reference, t = ", t + 1);
      CHECK(std::abs(double(ref.u[0][0][size_t(t)][0]) - oc.u[t]) < kOracleTol);
      CHECK(double(ref.s[0][0][size_t(t)][0]) == oc.s[t]);
      CHECK(std::abs(double(ref.a[0][0][size_t(t)][0]) - oc.a[t]) < kOracleTol);
    }
  }
}

TEST_CASE("ScSr: the input filter's oracle (x = 1, c = 1/8: a^0_t = 1 - kappa^t)") {
  const double expect[] = {0.125, 0.234375, 0.330078, 0.413818, 0.487091, 0.551205};
  PscConfig psc;
  psc.tau_s = 8;
  // Two sequences, time-major: x = 1 and x = 2 (the filter is linear, per sequence).
  Matrix<double> x(12, 1);
  for (Index t = 0; t < 6; ++t) x(2 * t, 0) = 1.0, x(2 * t + 1, 0) = 2.0;
  psc_filter_in_place(psc, x, 2);
  for (int t = 0; t < 6; ++t) {
    INFO("t = ", t + 1);
    CHECK(std::abs(x(2 * t, 0) - expect[t]) < kOracleTol);
    CHECK(std::abs(x(2 * t, 0) - (1.0 - std::pow(0.875, t + 1))) < 1e-15);
    CHECK(std::abs(x(2 * t + 1, 0) - 2.0 * (1.0 - std::pow(0.875, t + 1))) < 1e-15);
  }
  // Through the network: input_psc feeds the filtered data to hidden0 (weight 1, decay 0,
  // a threshold never reached, so its membrane is the filtered input itself).
  NetworkConfig cfg = oracle_network(kOracle[0]);
  cfg.input_psc = true;
  cfg.self_recurrence = false;
  cfg.lif.decay = 0.0;
  cfg.lif.threshold = 100.0;
  Network<double> net(cfg);
  Vector<double> q = Vector<double>::Zero(net.num_params());
  q[net.layout().entry(net.layout().find("hidden0.weight")).offset] = 1.0;
  net.params() = q;
  Capture cap;
  net.set_observer(&cap);
  net.forward(Matrix<double>::Ones(6, 1), 1);
  net.set_observer(nullptr);
  for (int t = 0; t < 6; ++t) {
    INFO("network, t = ", t + 1);
    CHECK(std::abs(cap.V[0](t, 0) - expect[t]) < kOracleTol);
  }
}

TEST_CASE("ScSr: forward equals the naive reference (smooth and binary spikes, double)") {
  double worst = 0;
  for (const Variant& v : kVariants)
    for (int mode : {0, 1, 2}) {  // smooth in training; binary in training; binary in evaluation
      NetworkConfig cfg = tiny_scsr(v);
      if (mode > 0) cfg.lif.spike_fn = SpikeFunction::heaviside;
      Network<double> net(cfg);
      const double tau = 0.8;
      net.set_tau(tau);
      net.set_training(mode < 2);
      Vector<double> p = net.params();
      vary_scsr_params(p, net.layout(), v.upper);
      net.params() = p;
      const Index steps = 12, B = 3;
      const Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 5, 0.0, v.in_hi);
      const std::vector<int> labels = {0, 1, 1};
      Vector<double> grad;
      Matrix<double> logits;
      const double loss = net.forward_backward(x, B, labels, grad, nullptr, &logits);
      const auto ref = reference_scsr<long double>(cfg, net.layout(), p, x, B, labels, tau, mode < 2);
      double err = rel(loss, double(ref.loss));
      for (Index b = 0; b < B; ++b)
        for (Index k = 0; k < cfg.num_classes; ++k)
          err = std::max(err, rel(logits(b, k), double(ref.logits[size_t(b)][size_t(k)])));
      long double out = 0;  // the output layer fires (in binary modes: spikes somewhere)
      for (const auto& z : ref.logits) out += z[0] + z[1];
      INFO(std::string(v.name), ", mode ", mode, ": max relative error ", err, ", sum of logits ", double(out));
      CHECK(err < 1e-12);
      CHECK(out > 0.1L);
      worst = std::max(worst, err);
    }
  MESSAGE("ScSr forward vs reference: worst relative error ", worst);
}

TEST_CASE("ScSr: BPTT equals finite differences of the reference (double)") { scsr_gradients<double>("double"); }
TEST_CASE("ScSr: BPTT equals finite differences of the reference (float)") { scsr_gradients<float>("float"); }

TEST_CASE("ScSr: dL/dtheta uses the post-reset membrane u_{t-1} (1 - s_{t-1})") {
  // The decay multiplies the post-reset membrane: u_t = theta u_{t-1} (1 - s_{t-1}) + J_t,
  // so dL/dtheta_h = sum_t dL/du_t u_{t-1} (1 - s_{t-1}) (spec sections 3 and 5). From the
  // library's own caches (the observer: u_t before reset, the spikes s_t, and dL/du_t after
  // backward) both candidate sums are formed: the library's gradient must equal the
  // post-reset sum, and the pre-reset sum sum_t dL/du_t u_{t-1} must differ from it by far
  // more than the finite-difference tolerance (spikes and resets do happen), so a library
  // that used the pre-reset membrane would fail this test and the gradient checks above.
  // Finite differences of the reference then confirm the post-reset sum directly.
  Variant v = kVariants[0];
  NetworkConfig cfg = tiny_scsr(v);
  cfg.chunk_size = 4;  // one chunk: the observer sees the whole batch
  cfg.threads = 1;
  Network<double> net(cfg);
  Vector<double> p = net.params();
  vary_scsr_params(p, net.layout(), v.upper);
  net.params() = p;
  const Index steps = 12, B = 3;
  const Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 23, 0.0, v.in_hi);
  const std::vector<int> labels = {1, 0, 1};
  Capture cap;
  net.set_observer(&cap);
  Vector<double> grad;
  net.forward_backward(x, B, labels, grad);
  net.set_observer(nullptr);
  const auto& L = net.layout();
  const std::vector<std::string> names = {"hidden0.decay", "hidden1.decay", "hidden2.decay", "output.decay"};
  REQUIRE(cap.V.size() == names.size());
  REQUIRE(cap.G.size() == names.size());
  std::vector<double> lib, post, pre;
  double reset_mass = 0;  // sum of u s over the steps that feed a decay's gradient
  for (size_t l = 0; l < names.size(); ++l) {
    const auto& e = L.entry(L.find(names[l]));
    for (Index h = 0; h < e.size(); ++h) {
      double gpost = 0, gpre = 0;
      for (Index t = 1; t < steps; ++t)
        for (Index b = 0; b < B; ++b) {
          const double g = cap.G[l](t * B + b, h), u = cap.V[l]((t - 1) * B + b, h), s = cap.S[l]((t - 1) * B + b, h);
          gpost += g * u * (1.0 - s);
          gpre += g * u;
          reset_mass += std::abs(u * s);
        }
      lib.push_back(grad[e.offset + h]);
      post.push_back(gpost);
      pre.push_back(gpre);
    }
  }
  CHECK(reset_mass > 1.0);
  const double lib_post = normwise_relative_error(lib, post, 1e-12);
  const double pre_post = normwise_relative_error(pre, post, 1e-12);
  CHECK(lib_post < 1e-12);
  CHECK(pre_post > 0.05);
  // Central differences of the reference loss in each decay.
  std::vector<double> fd;
  auto loss = [&](const Vector<double>& pv) {
    return reference_scsr<long double>(cfg, L, pv, x, B, labels, 1.0, true).loss;
  };
  for (const auto& name : names) {
    const auto& e = L.entry(L.find(name));
    for (Index h = 0; h < e.size(); ++h) {
      Vector<double> pp = p, pm = p;
      pp[e.offset + h] += 1e-7;
      pm[e.offset + h] -= 1e-7;
      fd.push_back(double((loss(pp) - loss(pm)) / (long double)(pp[e.offset + h] - pm[e.offset + h])));
    }
  }
  const double fd_post = normwise_relative_error(fd, post, 1e-12);
  const double fd_pre = normwise_relative_error(fd, pre, 1e-12);
  CHECK(fd_post < 1e-6);
  CHECK(fd_pre > 0.05);
  MESSAGE("ScSr dL/dtheta: library vs post-reset sum ", lib_post, ", differences vs post-reset ", fd_post,
          ", vs pre-reset ", fd_pre);
}

TEST_CASE("ScSr: a stream equals the batch pass bitwise; 1 thread equals 2 (binary spikes)") {
  // Input filter, PSC, self-loops, skip, SRC recurrence on the PSCs, BIP, spiking readout;
  // chunk_size 2, batch 5. check_stream_and_threads also asks the output layer to fire.
  const NetworkConfig cfg = binary_scsr();
  const Index steps = 40, B = 5;
  const Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 8, 0.0, 3.0);
  check_stream_and_threads(cfg, x, B, {0, 1, 2, 0, 1}, cfg.hidden.size());
  Network<float> net(cfg);
  {  // steps given as strided views (columns of a wider matrix) stream the same
    Matrix<float> wide = Matrix<float>::Zero(x.rows(), x.cols() + 3);
    wide.leftCols(x.cols()) = x;
    net.set_training(false);
    const Matrix<float> batch = net.forward(x, B);
    auto st = net.make_stream(B);
    for (Index t = 0; t < steps; ++t) net.stream_step(st, wide.middleRows(t * B, B).leftCols(x.cols()));
    CHECK(net.stream_logits(st) == batch);
  }
  net.set_training(false);
  net.forward(x, B);
  for (size_t l = 0; l < net.spike_rates().size(); ++l) {
    INFO("layer ", l, " spike rate ", net.spike_rates()[l]);
    CHECK(net.spike_rates()[l] > 0.01);
    CHECK(net.spike_rates()[l] < 0.9);
  }
}

TEST_CASE("ScSr: PSC outputs are not binary: automatic kernels equal the dense path in training") {
  // Layer outputs are PSCs, never 0/1, so in training the row kernels (which would treat a
  // non-zero as a selected row) must not replace GEMM on them: binary_output() is false
  // for every layer. The sparse binary input makes layer 0 pick the row kernel on the
  // filtered (no longer binary) data; either way the gradients must be those of GEMM.
  for (bool input_psc : {true, false}) {
    NetworkConfig cfg = binary_scsr();
    cfg.input_psc = input_psc;
    const Index steps = 30, B = 4;
    Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 31, 0.0, 1.0);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = x.data()[i] < 0.2 ? 1.0 : 0.0;
    const std::vector<int> labels = {0, 1, 2, 1};
    cfg.kernels = KernelPolicy::automatic;
    Network<double> fast(cfg);
    cfg.kernels = KernelPolicy::dense;
    Network<double> dense(cfg);
    for (const auto& layer : fast.layers()) CHECK_FALSE(layer.binary_output());
    Vector<double> gf, gd;
    const double lf = fast.forward_backward(x, B, labels, gf);
    const double ld = dense.forward_backward(x, B, labels, gd);
    for (size_t l = 0; l < fast.spike_rates().size(); ++l) {
      INFO("input_psc ", input_psc, ", layer ", l, " spike rate ", fast.spike_rates()[l]);
      CHECK(fast.spike_rates()[l] > 0.01);
    }
    const double err = (gf - gd).norm() / gd.norm();
    INFO("input_psc ", input_psc, ": loss ", lf, " vs ", ld, ", gradient relative difference ", err);
    CHECK(gd.norm() > 0);
    CHECK(rel(lf, ld) < 1e-12);
    CHECK(err < 1e-12);
    MESSAGE("ScSr kernels (input_psc ", input_psc, "): automatic vs dense gradient ", err);
  }
}

TEST_CASE("ScSr: settings are checked; the spiking readout has no parameters of its own") {
  NetworkConfig cfg = paper_net(78, 100, 10, true, true, true);
  for (double tau_s : {0.5, 0.999, -1.0, std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()}) {
    INFO("tau_s ", tau_s);
    cfg.psc.tau_s = tau_s;
    CHECK_THROWS_AS(Network<double>::count_params(cfg), std::invalid_argument);
  }
  cfg.psc.tau_s = 1.0;  // kappa 0: the PSC is c s_t, allowed
  CHECK_NOTHROW(Network<double>::count_params(cfg));
  cfg.psc.tau_s = 0.0;  // no filter, but an input filter asked for
  CHECK_THROWS_AS(Network<double>::count_params(cfg), std::invalid_argument);
  cfg.input_psc = false;
  CHECK_NOTHROW(Network<double>::count_params(cfg));
  {  // the spike-train loss needs the spiking readout
    NetworkConfig st = cfg;
    st.loss = LossKind::spike_train;
    CHECK_NOTHROW(Network<double>::count_params(st));
    st.readout = ReadoutKind::sum;
    CHECK_THROWS_WITH_AS(Network<double>::count_params(st), doctest::Contains("spiking readout"), std::invalid_argument);
  }
  {  // the layer refuses a bad tau_s on its own
    HiddenLayerConfig hc;
    hc.psc.tau_s = 0.5;
    ParamLayout layout;
    CHECK_THROWS_AS(SpikingLayer<double>(hc, layout, "n"), std::invalid_argument);
  }

  // The spiking readout: an output layer of num_classes neurons, no readout tensors even
  // with biases on, no self-loop or recurrence on the output layer, its decay in [0, 0.999].
  NetworkConfig small = binary_scsr();
  small.bias = true;
  Network<double> net(small);
  const auto& L = net.layout();
  CHECK(L.find("readout.weight") < 0);
  CHECK(L.find("readout.bias") < 0);
  REQUIRE(L.find("output.weight") >= 0);
  CHECK(L.entry(L.find("output.weight")).rows == small.num_classes);
  CHECK(L.entry(L.find("output.weight")).cols == small.hidden.back());
  CHECK(L.find("output.self") < 0);
  CHECK(L.find("output.recurrent") < 0);
  CHECK(L.find("hidden2.recurrent") >= 0);
  CHECK(L.find("output.from0") < 0);
  REQUIRE(L.find("output.decay") >= 0);
  CHECK(L.entry(L.find("output.decay")).lo == 0.0);
  CHECK(L.entry(L.find("output.decay")).hi == LifConfig::kMaxDecay);
  CHECK(net.layers().size() == small.hidden.size() + 1);
  CHECK(net.layers().back().size() == small.num_classes);
  for (size_t l = 0; l < small.hidden.size(); ++l) {
    const std::string n = "hidden" + std::to_string(l) + ".self";
    INFO(n);
    REQUIRE(L.find(n) >= 0);
    CHECK(L.entry(L.find(n)).rows == 1);
    CHECK(L.entry(L.find(n)).cols == small.hidden[l]);
  }
  CHECK(L.entry(L.find("hidden2.from0")).rows == 14);
  CHECK(L.entry(L.find("hidden2.from0")).cols == 16);

  // Parameter counts of the spec's section 7 (no biases, recurrence none). By hand for
  // 78-100-100-100-10 SrSc-BIP: W 78*100 + 100*100 + 100*100 + 100*10 = 28,800; self-loops
  // 3*100 = 300; skip W^{13} 100*100 = 10,000; decays 3*100 + 10 = 310; total 39,410.
  struct Row {
    Index in, hidden, out;
    Index ff, sr, sr_bip, srsc, srsc_bip;
  };
  const Row rows[] = {{78, 400, 26, 361600, 362800, 364026, 522800, 524026},
                      {78, 100, 10, 28800, 29100, 29410, 39100, 39410},
                      {64, 400, 11, 350000, 351200, 352411, 511200, 512411}};
  for (const Row& r : rows) {
    INFO(r.in, "-", r.hidden, "x3-", r.out);
    CHECK(Network<double>::count_params(paper_net(r.in, r.hidden, r.out, false, false, false)) == r.ff);
    CHECK(Network<double>::count_params(paper_net(r.in, r.hidden, r.out, true, false, false)) == r.sr);
    CHECK(Network<double>::count_params(paper_net(r.in, r.hidden, r.out, true, false, true)) == r.sr_bip);
    CHECK(Network<double>::count_params(paper_net(r.in, r.hidden, r.out, true, true, false)) == r.srsc);
    CHECK(Network<double>::count_params(paper_net(r.in, r.hidden, r.out, true, true, true)) == r.srsc_bip);
  }
}

TEST_CASE("ScSr: BIP in hidden layers only (learn_decay_output false)") {
  // The output layer's decay becomes the fixed lif.decay: one tensor fewer, and (since every
  // decay starts at lif.decay) the same forward, loss and gradients of the other tensors.
  NetworkConfig all = binary_scsr(), hidden_only = binary_scsr();
  hidden_only.learn_decay_output = false;
  CHECK(Network<double>::count_params(all) - Network<double>::count_params(hidden_only) == all.num_classes);
  Network<double> a(all), h(hidden_only);
  CHECK(a.layout().find("output.decay") >= 0);
  CHECK(h.layout().find("output.decay") < 0);
  CHECK(h.layout().find("hidden2.decay") >= 0);
  const Index steps = 30, B = 4;
  const Matrix<double> x = random_input<double>(steps, B, all.input_size, 5, 0.0, 3.0);
  const std::vector<int> y = {0, 1, 2, 1};
  Vector<double> ga, gh;
  Matrix<double> la, lh;
  const double loss_a = a.forward_backward(x, B, y, ga, nullptr, &la);
  const double loss_h = h.forward_backward(x, B, y, gh, nullptr, &lh);
  CHECK(loss_a == loss_h);
  CHECK(la == lh);
  for (const auto& e : h.layout().entries()) {
    INFO(e.name);
    const Index ia = a.layout().find(e.name);
    REQUIRE(ia >= 0);
    CHECK(view(ga, a.layout().entry(ia)) == view(gh, e));
  }
  const Index io = a.layout().find("output.decay");
  CHECK(view(ga, a.layout().entry(io)).cwiseAbs().maxCoeff() > 0);  // what the hidden-only net leaves fixed
}
