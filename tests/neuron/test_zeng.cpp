// The neuron of Zeng et al. (neuron/zeng.hpp) in a network: the hand-computed trace of the
// published code's semantics (the spec's test oracle), finite-difference gradient checks
// against the naive reference (support/reference_zeng.hpp) for every combination of
// synapse, adaptation, recurrence and spike form, streaming equal to the batch pass, and
// results independent of the thread count.
#include <doctest/doctest.h>

#include "../support/networks.hpp"
#include "../support/reference_zeng.hpp"

using namespace asrc;
using namespace asrc_test;

namespace {

NetworkConfig trace_config() {
  NetworkConfig c;
  c.input_size = 1;
  c.hidden = {2};
  c.num_classes = 2;
  c.recurrence = Recurrence::vanilla;
  c.bias = false;
  c.self_connections = false;
  c.neuron = NeuronKind::zeng;
  c.zeng.tau_m = 2;
  c.zeng.tau_syn = 3;
  c.zeng.tau_adp = 2;
  c.zeng.beta = 0.5;
  c.zeng.v_th = 0.3;
  c.zeng.vmax = 1.4;
  c.zeng.t_ref = 1;
  c.readout = ReadoutKind::leaky_last;
  c.tau_p = 4;
  c.init = InitScheme::normal;
  c.chunk_size = 1;
  c.threads = 1;
  return c;
}

// W_in = [1, 0], W_rec[0 -> 1] = 2 (neuron 1 reads neuron 0), every other entry 0.
template <typename T>
void set_trace_weights(Network<T>& net) {
  Vector<T> p = net.params();
  p.setZero();
  const auto& L = net.layout();
  p[L.entry(L.find("hidden0.weight")).offset] = T(1);
  const auto& rec = L.entry(L.find("hidden0.recurrent_offdiag"));
  REQUIRE(rec.size() == 2);   // (0, 1) and (1, 0), row-major
  p[rec.offset + 1] = T(2);   // W_rec(1, 0): into neuron 1 from neuron 0
  net.params() = p;
}

// Columns of the spec's table for t = 1..8.
const double kU0[] = {0.393469, 0.420000, 0, 0.346518, 0.420000, 0, 0.336042, 0.420000};
const double kS0[] = {0, 1, 0, 0, 1, 0, 0, 1};
const double kB0[] = {0, 0, 0.393469, 0.238651, 0.144749, 0.481264, 0.291902, 0.177047};
const double kO0[] = {0, 0.221199, 0.172270, 0.134164, 0.325686, 0.253645, 0.197539, 0.375043};
const double kU1[] = {0, 0, 0.223072, 0.295139, 0.293540, 0.420000, 0.420000, 0};
const double kS1[] = {0, 0, 0, 0, 0, 0, 1, 0};
const double kI1[] = {0, 0, 0.566937, 0.406228, 0.291075, 0.775502, 0.555671, 0.398156};
const double kB1[] = {0, 0, 0, 0, 0, 0, 0, 0.393469};
const double kO1[] = {0, 0, 0, 0, 0, 0, 0.221199, 0.172270};

struct Capture : NetworkObserver<double> {
  Matrix<double> V, S;
  void forward_layer(size_t, Index, Index, Index, const Matrix<double>& v, const Matrix<double>& s) override {
    V = v;
    S = s;
  }
};

}  // namespace

TEST_CASE("Zeng neuron: the spec's hand trace, by streaming, by the batch pass and by the reference") {
  const NetworkConfig cfg = trace_config();
  Network<double> net(cfg);
  set_trace_weights(net);
  net.set_training(false);
  auto st = net.make_stream(1);
  const Matrix<double> one = Matrix<double>::Ones(1, 1);
  for (int t = 0; t < 8; ++t) {
    INFO("t = ", t + 1);
    const double b0 = st.state[0][3](0, 0), b1 = st.state[0][3](0, 1);  // b_t: set at the end of step t-1
    net.stream_step(st, one);
    CHECK(st.state[0][0](0, 0) == doctest::Approx(kU0[t]).epsilon(1e-5));
    CHECK(st.spikes[0](0, 0) == kS0[t]);
    CHECK(b0 == doctest::Approx(kB0[t]).epsilon(1e-5));
    CHECK(st.counts(0, 0) == doctest::Approx(kO0[t]).epsilon(1e-5));
    CHECK(st.state[0][0](0, 1) == doctest::Approx(kU1[t]).epsilon(1e-5));
    CHECK(st.spikes[0](0, 1) == kS1[t]);
    CHECK(st.state[0][2](0, 1) == doctest::Approx(kI1[t]).epsilon(1e-5));
    CHECK(st.state[0][2](0, 0) == 0.0);  // I0 = 0 always: nothing feeds neuron 0
    CHECK(b1 == doctest::Approx(kB1[t]).epsilon(1e-5));
    CHECK(st.counts(0, 1) == doctest::Approx(kO1[t]).epsilon(1e-5));
  }
  // The batch pass, in evaluation and in training (other kernels), runs the same steps.
  const Matrix<double> x = Matrix<double>::Ones(8, 1);
  for (bool training : {false, true}) {
    Capture cap;
    net.set_training(training);
    net.set_observer(&cap);
    net.forward(x, 1);
    net.set_observer(nullptr);
    for (int t = 0; t < 8; ++t) {
      INFO("training ", training, ", t = ", t + 1);
      CHECK(cap.V(t, 0) == doctest::Approx(kU0[t]).epsilon(1e-5));
      CHECK(cap.V(t, 1) == doctest::Approx(kU1[t]).epsilon(1e-5));
      CHECK(cap.S(t, 0) == kS0[t]);
      CHECK(cap.S(t, 1) == kS1[t]);
    }
  }
  // The naive reference gives the same trace.
  ZengTrace<double> tr;
  reference_zeng_loss<double>(cfg, net.layout(), net.params(), x, 1, {0}, 1.0, &tr);
  for (int t = 0; t < 8; ++t) {
    INFO("reference, t = ", t + 1);
    CHECK(tr.u[0][0][size_t(t)][0] == doctest::Approx(kU0[t]).epsilon(1e-5));
    CHECK(tr.u[0][0][size_t(t)][1] == doctest::Approx(kU1[t]).epsilon(1e-5));
    CHECK(tr.s[0][0][size_t(t)][0] == kS0[t]);
    CHECK(tr.s[0][0][size_t(t)][1] == kS1[t]);
    CHECK(tr.b[0][0][size_t(t)][0] == doctest::Approx(kB0[t]).epsilon(1e-5));
    CHECK(tr.I[0][0][size_t(t)][1] == doctest::Approx(kI1[t]).epsilon(1e-5));
  }
  CHECK(tr.out[0][0] == doctest::Approx(kO0[7]).epsilon(1e-5));
}

namespace {

struct ZCase {
  bool synapse, adaptation;
  Recurrence rec;
  bool paper_form;
  bool clip;
};

template <typename T>
struct ZTol;
template <>
struct ZTol<double> {
  static constexpr double max_err = 1e-6;
};
template <>
struct ZTol<float> {
  static constexpr double max_err = 2e-4;
};

template <typename T>
GradientCheckResult zeng_gradient_check(const ZCase& zc, std::vector<Index> hidden, ReadoutKind readout,
                                        bool* both_bounds = nullptr) {
  NetworkConfig cfg;
  cfg.input_size = 2;
  cfg.hidden = std::move(hidden);
  cfg.num_classes = 3;
  cfg.recurrence = zc.rec;
  cfg.skip = zc.rec == Recurrence::asrc ? 3 : 2;
  cfg.self_connections = false;
  cfg.hidden_bias = false;
  cfg.neuron = NeuronKind::zeng;
  cfg.zeng.tau_m = 3;
  cfg.zeng.tau_syn = zc.synapse ? 4 : 0;
  cfg.zeng.tau_adp = 5;
  cfg.zeng.beta = zc.adaptation ? 0.7 : 0;
  cfg.zeng.v_th = 0.4;
  cfg.zeng.vmax = 1.5;
  cfg.zeng.clip = zc.clip;
  cfg.zeng.t_ref = 0;
  cfg.zeng.paper_form = zc.paper_form;
  cfg.zeng.spike_fn = SpikeFunction::smooth;
  cfg.readout = readout;
  cfg.tau_p = 3;
  cfg.init = InitScheme::normal;
  cfg.seed = 5;
  cfg.chunk_size = 2;
  Network<T> net(cfg);
  const double tau = 0.7;
  net.set_tau(tau);
  Vector<double> p = net.params().template cast<double>();
  for (const auto& e : net.layout().entries()) {
    if (e.name.find("recurrent") != std::string::npos)
      for (Index j = 0; j < e.size(); ++j) p[e.offset + j] *= 2.0;  // a recurrence that matters
    // Layers above the first see spikes of at most gamma = 0.3 (smooth): stronger weights
    // keep them in their active range, so their gradients are far above rounding.
    if (e.name.rfind("hidden0.", 0) != 0 && e.name.find(".weight") != std::string::npos)
      for (Index j = 0; j < e.size(); ++j) p[e.offset + j] *= 4.0;
  }
  vary_skip_logits(p, net.layout());
  net.params() = p.cast<T>();
  p = net.params().template cast<double>();
  const Index steps = 10, batch = 3;
  Matrix<double> x = random_input<double>(steps, batch, cfg.input_size, 17, -1.0, 2.5);
  const Matrix<T> xt = x.cast<T>();
  x = xt.template cast<double>();
  const std::vector<int> labels = {0, 2, 1};
  Vector<T> grad;
  const double loss = net.forward_backward(xt, batch, labels, grad);
  ZengTrace<long double> tr;
  const long double ref = reference_zeng_loss<long double>(cfg, net.layout(), p, x, batch, labels, tau, &tr);
  CHECK(loss == doctest::Approx(double(ref)).epsilon(std::is_same<T, float>::value ? 1e-5 : 1e-12));
  if (both_bounds) {
    bool lo = false, hi = false;
    const long double cap = (long double)cfg.zeng.vmax * (long double)cfg.zeng.v_th;
    for (const auto& layer : tr.u)
      for (const auto& seq : layer)
        for (const auto& step : seq)
          for (long double u : step) lo |= u == 0.0L, hi |= std::abs(u - cap) < 1e-15L;
    *both_bounds = lo && hi;
  }
  auto f = [&](const Vector<double>& pv) {
    return reference_zeng_loss<long double>(cfg, net.layout(), pv, x, batch, labels, tau);
  };
  return check_gradient<double>(f, p, grad.template cast<double>(), net.layout(), 1e-7);
}

template <typename T>
void zeng_gradients_all_components() {
  double worst = 0;
  for (Recurrence rec : {Recurrence::none, Recurrence::vanilla})
    for (bool syn : {false, true})
      for (bool adp : {false, true})
        for (bool paper : {false, true}) {
          const ZCase zc{syn, adp, rec, paper, true};
          INFO(std::string(to_string(rec)), " synapse ", syn, " adaptation ", adp, " paper_form ", paper);
          bool bounds = false;
          const auto r = zeng_gradient_check<T>(zc, {4}, ReadoutKind::leaky_last, &bounds);
          CHECK(bounds);  // both clip bounds are reached somewhere
          CHECK(r.analytic_norm > 0);
          CHECK_MESSAGE(r.max_rel_error < ZTol<T>::max_err, "worst: ", r.worst, " ", r.max_rel_error);
          worst = std::max(worst, r.max_rel_error);
        }
  MESSAGE("Zeng gradient checks (", std::string(sizeof(T) == 8 ? "double" : "float"), "): worst relative error ",
          worst);
}

}  // namespace

TEST_CASE("Zeng neuron: BPTT equals finite differences, every component on and off (double)") {
  zeng_gradients_all_components<double>();
}
TEST_CASE("Zeng neuron: BPTT equals finite differences, every component on and off (float)") {
  zeng_gradients_all_components<float>();
}

TEST_CASE("Zeng neuron: deeper networks, SRC and ASRC recurrence, no clip, the sum readout") {
  for (Recurrence rec : {Recurrence::src, Recurrence::asrc}) {
    INFO(std::string(to_string(rec)));
    const auto r = zeng_gradient_check<double>({true, true, rec, false, true}, {4, 3}, ReadoutKind::leaky_last);
    CHECK_MESSAGE(r.max_rel_error < ZTol<double>::max_err, "worst: ", r.worst, " ", r.max_rel_error);
    MESSAGE(std::string(to_string(rec)), ": worst relative error ", r.max_rel_error, " (", r.worst, ")");
  }
  const auto nc = zeng_gradient_check<double>({true, true, Recurrence::vanilla, false, false}, {3, 4},
                                              ReadoutKind::sum);
  CHECK_MESSAGE(nc.max_rel_error < ZTol<double>::max_err, "worst: ", nc.worst, " ", nc.max_rel_error);
  const auto fl = zeng_gradient_check<float>({true, true, Recurrence::asrc, true, true}, {4, 3},
                                             ReadoutKind::leaky_last);
  CHECK_MESSAGE(fl.max_rel_error < ZTol<float>::max_err, "worst: ", fl.worst, " ", fl.max_rel_error);
}

TEST_CASE("Zeng neuron: a stream equals the batch pass bitwise; 1 thread equals 2") {
  for (Recurrence rec : {Recurrence::vanilla, Recurrence::src, Recurrence::none}) {
    INFO(std::string(to_string(rec)));
    NetworkConfig cfg = trace_config();
    cfg.input_size = 3;
    cfg.hidden = {12, 10};
    cfg.num_classes = 4;
    cfg.recurrence = rec;
    cfg.skip = 3;
    cfg.bias = true;
    cfg.hidden_bias = false;
    cfg.zeng.v_th = 0.5;
    cfg.chunk_size = 2;
    cfg.seed = 3;
    const Index steps = 30, B = 5;
    const Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 9, 0.0, 1.5);
    check_stream_and_threads(cfg, x, B, {0, 1, 2, 3, 0}, 0);
  }
}

TEST_CASE("Zeng presets: the parameter counts of Zeng et al.") {
  CHECK(Network<float>::count_params(make_preset("zeng-smnist-1").network_config()) == 2210);
  for (int s = 2; s <= 7; ++s)
    CHECK(Network<float>::count_params(make_preset("zeng-smnist-" + std::to_string(s)).network_config()) == 42010);
  const RunConfig c = make_preset("zeng-smnist-7");
  CHECK(c.tau_m == 15);
  CHECK(c.tau_syn == 50);
  CHECK(c.v_th == 0.4);
  CHECK(c.lr == 0.1);
  CHECK(c.scheduler == "step");
}

TEST_CASE("Zeng neuron: settings are checked") {
  ZengConfig z;
  z.tau_m = 0;
  CHECK_THROWS_WITH_AS(z.validate(), "ZengConfig::validate(): expected a finite --tau-m > 0, got 0",
                       std::invalid_argument);
  z = ZengConfig{};
  z.spike_fn = SpikeFunction::smooth;
  CHECK_THROWS_AS(z.validate(), std::invalid_argument);  // t_ref 1 with smooth spikes
  NetworkConfig c = trace_config();
  c.hidden = {1};
  CHECK_THROWS_WITH_AS(Network<float>{c},
                       "SpikingLayer::SpikingLayer(): expected at least 2 neurons for a recurrence without "
                       "self connections, got 1",
                       std::invalid_argument);
}
