// asrc-bench: speed and memory of the Table 1 models (spec section 7) on this machine.
//
// For every selected configuration it measures
//   * training throughput: one full step = Network::forward_backward + an Adam/AdamW step,
//   * evaluation throughput: set_training(false) + Network::forward,
//   * streaming latency: microseconds per Network::stream_step at batch 1,
//   * peak resident memory of a training step, measured in a separate process
//     (this program re-run with --rss-child; it reports VmHWM from /proc/self/status),
//   * achieved GFLOP/s of the dense-equivalent work, next to the machine's own
//     single-precision GEMM rate measured in the same run (1 thread and 2 threads).
//
// Inputs are random with a sparsity like the real data (S-MNIST: ~80% zero pixels, the
// rest uniform in [0,1]; SSC: sparse spike counts; GSC: standard normal features).
// Every timing is the median of several repetitions after one warm-up.
//
// With --data DIR the same measurements run on real batches of each configuration's data
// set instead (the first B training samples for training, the first B test samples for
// evaluation and streaming; MNIST IDX files for smnist/psmnist, the Speech Commands
// layout for gsc, read by the project's loaders), with the networks' own initialisation
// (no --rate calibration unless asked for), and the spike rates seen are reported.
// Configurations whose data is not in DIR are skipped with a note.
//
// --tau X sets the ASRC temperature (tau = 0.96^epoch in training: 0.96^150 = 0.0022), and
// --skip-logits A sets the ASRC logits to w_j = A cos(2.3 (j + offset)) (they start at 0,
// where softmax(w / tau) is uniform at every tau), so that a late-training kernel with
// some coefficients exactly 0 can be timed, with and without --no-skip-zero-lags.
//
// Dense-equivalent work: per sample and time step a plain implementation does, in every
// hidden layer, 2*F*H flops for the feed-forward product and 2*H*H for the recurrent
// one, plus 2*H_L*C for the readout. Backward costs about twice the forward, so a
// training step counts 3x the forward. asrc skips zero spikes, so its achieved rate
// can exceed what it actually computes; the figure says how fast the *model* runs
// compared with what a GEMM-bound implementation could reach at best.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "asrc/data/dataset.hpp"
#include "asrc/data/gsc.hpp"
#include "asrc/data/mnist.hpp"
#include "asrc/network/network.hpp"
#include "asrc/optim/adam.hpp"
#include "asrc/train/run_config.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using asrc::Index;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

enum class InputKind { pixels, counts, features };

struct BenchConfig {
  std::string name;
  Index input = 1;
  std::vector<Index> hidden;
  Index classes = 10;
  asrc::Recurrence recurrence = asrc::Recurrence::src;
  Index skip = 1;
  double dropout = 0.0;
  Index batch = 256;
  Index steps = 784;
  InputKind input_kind = InputKind::pixels;
  asrc::AdamMode adam = asrc::AdamMode::adamw;
  double lr = 1e-3, wd = 0.0, lr_skip = 0.1;
  std::string preset;  ///< non-empty: the network is this asrc-train preset's (neuron, readout, ...)
  std::vector<std::pair<std::string, std::string>> overrides;  ///< asrc-train flags set on the preset
};

// The Table 1 rows (spec section 7).
std::vector<BenchConfig> table1() {
  using R = asrc::Recurrence;
  std::vector<BenchConfig> v;
  auto mnist = [&](const std::string& name, Index width, R rec, Index skip) {
    BenchConfig c;
    c.name = name;
    c.input = 1;
    c.hidden = {64, width, width};
    c.classes = 10;
    c.recurrence = rec;
    c.skip = skip;
    c.batch = 256;
    c.steps = 784;
    c.input_kind = InputKind::pixels;
    c.adam = asrc::AdamMode::adamw;
    c.lr = 1e-3;
    c.wd = 0.01;
    c.lr_skip = 0.1;
    v.push_back(c);
  };
  auto speech = [&](const std::string& name, bool ssc, R rec, Index skip) {
    BenchConfig c;
    c.name = name;
    c.input = ssc ? 140 : 40;
    const Index h = ssc ? 256 : 128;
    c.hidden = {h, h, h};
    c.classes = ssc ? 35 : 12;
    c.recurrence = rec;
    c.skip = skip;
    c.dropout = 0.1;
    c.batch = 128;
    c.steps = ssc ? 250 : 101;
    c.input_kind = ssc ? InputKind::counts : InputKind::features;
    c.adam = asrc::AdamMode::adam;
    c.lr = ssc ? 1e-3 : 2.5e-3;
    c.wd = 0.0;
    c.lr_skip = ssc ? 0.1 : 0.25;
    v.push_back(c);
  };
  speech("gsc-src", false, R::src, 4);
  speech("gsc-asrc", false, R::asrc, 21);
  speech("ssc-src", true, R::src, 3);
  speech("ssc-asrc", true, R::asrc, 6);
  mnist("smnist-src", 128, R::src, 16);
  mnist("smnist-src-212", 212, R::src, 12);
  mnist("smnist-asrc", 128, R::asrc, 41);
  mnist("psmnist-src", 128, R::src, 12);
  mnist("psmnist-src-212", 212, R::src, 16);
  mnist("psmnist-asrc", 128, R::asrc, 51);
  mnist("psmnist-asrc-212", 212, R::asrc, 31);
  // A network as an asrc-train preset builds it (neuron, readout, ...), with some of its
  // flags changed.
  auto from_preset = [&](const std::string& name, const std::string& preset,
                         std::vector<std::pair<std::string, std::string>> overrides) {
    asrc::RunConfig z = asrc::make_preset(preset);
    for (const auto& [k, val] : overrides) z.set(k, val);
    BenchConfig c;
    c.name = name;
    c.preset = preset;
    c.overrides = std::move(overrides);
    c.hidden = z.layers;
    c.recurrence = asrc::parse_recurrence(z.model);
    c.batch = z.batch_size;
    c.adam = asrc::AdamMode::adam;
    c.lr = z.lr;
    v.push_back(c);
  };
  // Zeng et al.'s best S-MNIST setting: 1-200-10, adaptive synaptic neurons.
  from_preset("zeng-smnist-7", "zeng-smnist-7", {});
  // The ScSr-SNN at Table 1's PS-MNIST size, and without its layer skip or its
  // self-loops: the differences are what those connections cost.
  from_preset("scsr-psmnist", "scsr-psmnist", {});
  from_preset("scsr-psmnist-noskip", "scsr-psmnist", {{"layer-skip", "0"}});
  from_preset("scsr-psmnist-noself", "scsr-psmnist", {{"self-recurrence", "0"}});
  return v;
}

/// Sequences per work item (NetworkConfig::chunk_size), --chunk.
asrc::Index g_chunk = asrc::NetworkConfig{}.chunk_size;
/// NetworkConfig::flush_denormals, --no-flush turns it off.
bool g_flush = asrc::NetworkConfig{}.flush_denormals;
/// NetworkConfig::skip_zero_lags, --no-skip-zero-lags turns it off.
bool g_skip_zero = asrc::NetworkConfig{}.skip_zero_lags;
/// --data DIR ("" : random inputs), --tau, --skip-logits.
std::string g_data;
double g_tau = 1.0;
double g_skip_logits = 0.0;

asrc::NetworkConfig network_config(const BenchConfig& b, int threads,
                                   asrc::KernelPolicy kernels = asrc::KernelPolicy::automatic) {
  asrc::NetworkConfig nc;
  if (!b.preset.empty()) {
    asrc::RunConfig rc = asrc::make_preset(b.preset);
    for (const auto& [k, v] : b.overrides) rc.set(k, v);
    nc = rc.network_config();
  }
  nc.input_size = b.input;
  nc.hidden = b.hidden;
  nc.num_classes = b.classes;
  nc.recurrence = b.recurrence;
  nc.skip = b.skip;
  nc.dropout = b.dropout;
  nc.seed = 0;
  nc.threads = threads;
  nc.kernels = kernels;
  nc.chunk_size = g_chunk;
  nc.flush_denormals = g_flush;
  nc.skip_zero_lags = g_skip_zero;
  return nc;
}

asrc::Adam<float> make_optimizer(const BenchConfig& b) {
  std::array<asrc::GroupSettings, asrc::kNumParamGroups> groups{};
  groups[int(asrc::ParamGroup::weights)] = {b.lr, b.wd};
  groups[int(asrc::ParamGroup::neuron)] = {1e-4, 0.0};
  groups[int(asrc::ParamGroup::skip)] = {b.lr_skip, 0.0};
  return asrc::Adam<float>(b.adam, groups);
}

/// Time-major (steps*batch) x input matrix of random data shaped like the real inputs.
asrc::Matrix<float> make_input(const BenchConfig& b, Index batch, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  asrc::Matrix<float> x(b.steps * batch, b.input);
  for (Index i = 0; i < x.size(); ++i) {
    float v = 0.0f;
    switch (b.input_kind) {
      case InputKind::pixels:  // ~80% background, the stroke pixels spread over [0, 1]
        v = u01(gen) < 0.8f ? 0.0f : u01(gen);
        break;
      case InputKind::counts: {  // 5 channels summed: mostly 0, sometimes 1, rarely 2-3
        const float r = u01(gen);
        v = r < 0.9f ? 0.0f : (r < 0.98f ? 1.0f : (r < 0.995f ? 2.0f : 3.0f));
        break;
      }
      case InputKind::features:  // z-scored log-mel features
        v = normal(gen);
        break;
    }
    x.data()[i] = v;
  }
  return x;
}

std::vector<int> make_labels(const BenchConfig& b, Index batch, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int> d(0, int(b.classes) - 1);
  std::vector<int> y(static_cast<size_t>(batch));
  for (auto& v : y) v = d(gen);
  return y;
}

/// Real batches of a configuration's data set (--data).
struct RealData {
  asrc::Matrix<float> x_train, x_test, x_stream;  // time-major; x_stream: one test sample
  std::vector<int> y_train, y_test;
  std::string note;  // what was read, or why the configuration is skipped
  bool ok = false;
};

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

/// The first `batch` training and test samples of b's data set in `dir` (repeated in order
/// when a split is smaller than the batch).
RealData load_real(const BenchConfig& b, const std::string& dir) {
  RealData d;
  std::shared_ptr<const asrc::Dataset> train, test;
  const std::string task = b.preset.empty() ? b.name.substr(0, b.name.find('-')) : asrc::make_preset(b.preset).task;
  const std::string sep = dir.empty() || dir.back() == '/' ? "" : "/";
  try {
    if (task == "smnist" || task == "psmnist") {
      if (!file_exists(dir + sep + "train-images-idx3-ubyte") && !file_exists(dir + sep + "train-images-idx3-ubyte.gz")) {
        d.note = "no MNIST IDX files in " + dir;
        return d;
      }
      auto tr = std::make_shared<asrc::MnistDataset>(dir, asrc::MnistSplit::train, b.batch);
      auto te = std::make_shared<asrc::MnistDataset>(dir, asrc::MnistSplit::test, b.batch);
      if (task == "psmnist") {  // the permutation of seed 0, as asrc-train --seed 0
        const auto perm = asrc::make_permutation(0);
        tr->set_permutation(perm);
        te->set_permutation(perm);
      }
      train = tr;
      test = te;
    } else if (task == "gsc") {
      if (!file_exists(dir + sep + "testing_list.txt")) {
        d.note = "no Speech Commands layout (testing_list.txt) in " + dir;
        return d;
      }
      asrc::GscOptions o;  // no cache file: nothing is written next to the data
      train = std::make_shared<asrc::GscDataset>(dir, asrc::GscSplit::train, o);
      test = std::make_shared<asrc::GscDataset>(dir, asrc::GscSplit::test, o);
    } else {
      d.note = "asrc-bench reads no " + task + " data (HDF5 is not linked into it)";
      return d;
    }
  } catch (const std::exception& e) {
    d.note = std::string("cannot read the data: ") + e.what();
    return d;
  }
  if (train->steps() != b.steps || train->width() != b.input || train->size() == 0 || test->size() == 0) {
    d.note = "the data in " + dir + " does not have " + std::to_string(b.steps) + " steps x " +
             std::to_string(b.input) + " inputs";
    return d;
  }
  auto first = [&](const asrc::Dataset& ds, Index n) {
    std::vector<Index> idx(static_cast<size_t>(n));
    for (Index i = 0; i < n; ++i) idx[size_t(i)] = i % ds.size();
    return idx;
  };
  asrc::make_batch(*train, first(*train, b.batch), d.x_train, d.y_train);
  asrc::make_batch(*test, first(*test, b.batch), d.x_test, d.y_test);
  std::vector<int> y1;
  asrc::make_batch(*test, first(*test, 1), d.x_stream, y1);
  const double nz = double((d.x_train.array() != 0.0f).count()) / double(d.x_train.size());
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s: %ld of %ld training and %ld of %ld test samples (first B), %.1f%% non-zero inputs",
                dir.c_str(), long(std::min(b.batch, train->size())), long(train->size()),
                long(std::min(b.batch, test->size())), long(test->size()), 100.0 * nz);
  d.note = buf;
  d.ok = true;
  return d;
}

/// --tau and --skip-logits on a freshly built network.
void set_temperature(asrc::Network<float>& net) {
  net.set_tau(g_tau);
  if (g_skip_logits == 0.0) return;
  for (const auto& e : net.layout().entries())
    if (e.group == asrc::ParamGroup::skip)
      for (Index j = 0; j < e.size(); ++j)
        asrc::view(net.params(), e)(0, j) = float(g_skip_logits * std::cos(2.3 * double(j + e.offset)));
}

/// Dense-equivalent forward flops per sample and time step.
double forward_flops_per_sample_step(const BenchConfig& b) {
  double f = 0.0;
  Index in = b.input;
  const asrc::NetworkConfig nc = network_config(b, 1);
  for (size_t l = 0; l < b.hidden.size(); ++l) {
    const Index h = b.hidden[l];
    f += 2.0 * double(in) * double(h);
    if (b.recurrence != asrc::Recurrence::none) f += 2.0 * double(h) * double(h);
    for (Index j : nc.extra_inputs_of(l)) f += 2.0 * double(b.hidden[size_t(j)]) * double(h);  // layer skips
    in = h;
  }
  f += 2.0 * double(in) * double(b.classes);
  return f;
}

/// Flops per training step (whole batch) of the dense products that exact fp32 BPTT cannot
/// skip: the spike gradients dL/ds = W_rec^T dL/dI (one H x H product per step that has a
/// later step within the lag) and dL/dx = W^T dL/dI of every layer above the first. Their
/// inputs dL/dI are dense (the leak carries them through every step); spikes make only
/// the forward products and the weight gradients sparse. At the SGEMM ceiling these
/// products alone take this/ceiling seconds: a floor on a training step that keeps them
/// dense and in fp32, as asrc does.
double backward_dense_flops(const BenchConfig& b) {
  const double TB = double(b.steps) * double(b.batch);
  const Index min_lag = b.recurrence == asrc::Recurrence::src ? b.skip : 1;
  double f = 0.0;
  Index in = b.input;
  const asrc::NetworkConfig nc = network_config(b, 1);
  for (size_t l = 0; l < b.hidden.size(); ++l) {
    const double h = double(b.hidden[l]);
    if (b.recurrence != asrc::Recurrence::none) f += 2.0 * double(b.steps - min_lag) * double(b.batch) * h * h;
    if (l > 0) f += 2.0 * TB * double(in) * h;
    for (Index j : nc.extra_inputs_of(l)) f += 2.0 * TB * double(b.hidden[size_t(j)]) * h;
    in = b.hidden[l];
  }
  return f;
}

long read_status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::atol(line.c_str() + n + 1);
  return -1;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

/// The vector path the kernels were built for (core/kernels.hpp).
std::string simd_path() {
  const char* isa = asrc::detail::kVectorBytes == 64 ? "AVX-512" : asrc::detail::kVectorBytes == 32 ? "AVX" : "SSE";
  return std::string(isa) + ", " + std::to_string(asrc::detail::kVectorBytes) + "-byte vectors";
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// ---------------------------------------------------------------------------------------
// Machine ceiling: Eigen single-precision GEMM (Eigen's threading is off in asrc).

double gemm_seconds(const Eigen::MatrixXf& A, const Eigen::MatrixXf& B, Eigen::MatrixXf& C) {
  const auto t0 = Clock::now();
  C.noalias() = A * B;
  return seconds_since(t0);
}

struct GemmPeak {
  Index n = 0;
  double gflops_1t = 0.0, gflops_2t = 0.0;
};

GemmPeak measure_gemm_peak(Index n, int reps) {
  GemmPeak p;
  p.n = n;
  const double flops = 2.0 * double(n) * double(n) * double(n);
  Eigen::MatrixXf A = Eigen::MatrixXf::Random(n, n), B = Eigen::MatrixXf::Random(n, n), C(n, n);
  gemm_seconds(A, B, C);  // warm-up
  std::vector<double> t1;
  for (int r = 0; r < reps; ++r) t1.push_back(gemm_seconds(A, B, C));
  p.gflops_1t = flops / median(t1) * 1e-9;

  // Two independent products on two threads at once; rate = both products / wall time.
  Eigen::MatrixXf A2 = Eigen::MatrixXf::Random(n, n), B2 = Eigen::MatrixXf::Random(n, n), C2(n, n);
  std::vector<double> t2;
  for (int r = 0; r < reps + 1; ++r) {
    const auto t0 = Clock::now();
    std::thread other([&] { C2.noalias() = A2 * B2; });
    C.noalias() = A * B;
    other.join();
    const double s = seconds_since(t0);
    if (r > 0) t2.push_back(s);  // first round is the warm-up of the second thread
  }
  p.gflops_2t = 2.0 * flops / median(t2) * 1e-9;
  return p;
}

// ---------------------------------------------------------------------------------------

struct Result {
  BenchConfig cfg;
  Index params = 0;
  double train_step_s = 0, eval_step_s = 0, stream_us = 0;
  double train_forward_s = 0, optimizer_s = 0;  // parts of a training step
  double train_sps = 0, eval_sps = 0;
  double train_gflops = 0, eval_gflops = 0;
  long rss_base_kib = -1, rss_peak_kib = -1;
  std::vector<double> spike_rates, eval_spike_rates;
  std::vector<int> zero_lags;  // ASRC in training: coefficients exactly 0 per layer
  std::string data_note;
  int train_reps = 0, eval_reps = 0;
  Index stream_steps = 0;
};

/// Scale each hidden layer's feed-forward weight and bias (layer by layer, bisection on a
/// log gain) until its spike rate in training mode is close to `target`. A freshly
/// initialised network on random data is nearly silent beyond the first layer, which
/// would make the spike-skipping kernels look far better than on a trained network.
void calibrate_rates(asrc::Network<float>& net, const BenchConfig& b, double target) {
  const Index nb = 16;
  const auto x = make_input(b, nb, 7);
  const asrc::Vector<float> p0 = net.params();
  net.set_training(true);
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const auto& layer = net.layers()[l];
    std::vector<const asrc::ParamEntry*> entries{&net.layout().entry(layer.weight_entry())};
    if (layer.bias_entry() >= 0) entries.push_back(&net.layout().entry(layer.bias_entry()));
    auto rate_at = [&](double log_gain) {
      auto& p = net.params();
      for (const auto* e : entries)
        p.segment(e->offset, e->size()) = p0.segment(e->offset, e->size()) * float(std::exp(log_gain));
      net.forward(x, nb);
      return net.spike_rates()[l];
    };
    double lo = -2.0, hi = 5.0;  // gains e^-2 .. e^5
    if (rate_at(hi) < target) continue;              // cannot reach it: keep the largest gain
    if (rate_at(lo) > target) continue;              // fires too much even at the smallest
    for (int it = 0; it < 14; ++it) {
      const double mid = 0.5 * (lo + hi);
      (rate_at(mid) < target ? lo : hi) = mid;
    }
    rate_at(0.5 * (lo + hi));
  }
}

/// One training step: forward + full BPTT + optimizer update.
void train_step(asrc::Network<float>& net, asrc::Adam<float>& opt, const asrc::Matrix<float>& x,
                Index batch, const std::vector<int>& y, asrc::Vector<float>& grad) {
  net.forward_backward(x, batch, y, grad);
  opt.step(net.layout(), net.params(), grad);
}

struct Options {
  std::vector<std::string> configs;
  bool quick = false;
  int threads = 1;
  std::string json;
  int train_reps = 0;  // timed repetitions of training and evaluation; 0: automatic
  bool rss = true;
  bool peak = true;
  Index gemm_n = 1024;
  double rate = 0.1;  // target spike rate per hidden layer (0: leave the initialisation)
  bool rate_given = false;
  asrc::KernelPolicy kernels = asrc::KernelPolicy::automatic;
};

/// Timed repetitions (training and evaluation alike): fewer for the 784-step MNIST models.
int reps_for(const BenchConfig& b, const Options& o) {
  if (o.train_reps > 0) return o.train_reps;
  const bool long_seq = b.steps > 300;
  if (o.quick) return long_seq ? 1 : 2;
  return long_seq ? 3 : 5;
}

Result run_config(const BenchConfig& b, const Options& o, const RealData* real) {
  Result r;
  r.cfg = b;
  asrc::Network<float> net(network_config(b, o.threads, o.kernels));
  r.params = net.num_params();
  set_temperature(net);
  if (o.rate > 0) calibrate_rates(net, b, o.rate);
  if (b.recurrence == asrc::Recurrence::asrc)
    for (size_t l = 0; l < net.layers().size(); ++l) {
      int z = 0;
      for (float c : net.lag_coefficients(l)) z += c == 0.0f;
      r.zero_lags.push_back(z);
    }
  auto opt = make_optimizer(b);
  const auto x = real ? real->x_train : make_input(b, b.batch, 1);
  const auto y = real ? real->y_train : make_labels(b, b.batch, 2);
  const auto x_eval = real ? real->x_test : x;
  asrc::Vector<float> grad;
  const double fwd_flops = forward_flops_per_sample_step(b) * double(b.steps) * double(b.batch);

  // Training.
  net.set_training(true);
  train_step(net, opt, x, b.batch, y, grad);  // warm-up (allocates the workspaces)
  r.spike_rates = net.spike_rates();
  r.train_reps = reps_for(b, o);
  std::vector<double> ts;
  for (int i = 0; i < r.train_reps; ++i) {
    const auto t0 = Clock::now();
    train_step(net, opt, x, b.batch, y, grad);
    ts.push_back(seconds_since(t0));
  }
  r.train_step_s = median(ts);
  r.train_sps = double(b.batch) / r.train_step_s;
  r.train_gflops = 3.0 * fwd_flops / r.train_step_s * 1e-9;

  // Breakdown: the forward pass alone (training mode) and the optimizer step alone;
  // the rest of a training step is the backward pass.
  std::vector<double> tf, to;
  for (int i = 0; i < r.train_reps; ++i) {
    auto t0 = Clock::now();
    net.forward(x, b.batch);
    tf.push_back(seconds_since(t0));
    t0 = Clock::now();
    opt.step(net.layout(), net.params(), grad);
    to.push_back(seconds_since(t0));
  }
  r.train_forward_s = median(tf);
  r.optimizer_s = median(to);

  // Evaluation.
  net.set_training(false);
  asrc::Matrix<float> logits = net.forward(x_eval, b.batch);  // warm-up
  r.eval_spike_rates = net.spike_rates();
  r.eval_reps = reps_for(b, o);
  std::vector<double> te;
  for (int i = 0; i < r.eval_reps; ++i) {
    const auto t0 = Clock::now();
    logits = net.forward(x_eval, b.batch);
    te.push_back(seconds_since(t0));
  }
  r.eval_step_s = median(te);
  r.eval_sps = double(b.batch) / r.eval_step_s;
  r.eval_gflops = fwd_flops / r.eval_step_s * 1e-9;

  // Streaming at batch 1: feed one whole sequence step by step (a shorter prefix in quick mode).
  const asrc::Matrix<float> x1 = real ? real->x_stream : make_input(b, 1, 3);
  r.stream_steps = o.quick ? std::min<Index>(b.steps, 200) : b.steps;
  std::vector<double> tsu;
  for (int rep = 0; rep < 4; ++rep) {
    auto st = net.make_stream(1);
    const auto t0 = Clock::now();
    for (Index t = 0; t < r.stream_steps; ++t) net.stream_step(st, x1.row(t));
    const double s = seconds_since(t0);
    volatile float sink = net.stream_logits(st)(0, 0);
    (void)sink;
    if (rep > 0) tsu.push_back(s / double(r.stream_steps) * 1e6);  // rep 0: warm-up
  }
  r.stream_us = median(tsu);
  net.set_training(true);
  return r;
}

/// Child mode: one training step of a configuration, then print the memory high-water mark.
int rss_child(const std::string& name, int threads, asrc::KernelPolicy kernels) {
  for (const auto& b : table1()) {
    if (b.name != name) continue;
    const long base = read_status_kib("VmHWM:");
    RealData real;
    if (!g_data.empty()) {
      real = load_real(b, g_data);
      if (!real.ok) {
        std::fprintf(stderr, "%s\n", real.note.c_str());
        return 2;
      }
    }
    asrc::Network<float> net(network_config(b, threads, kernels));
    set_temperature(net);
    auto opt = make_optimizer(b);
    const auto x = real.ok ? real.x_train : make_input(b, b.batch, 1);
    const auto y = real.ok ? real.y_train : make_labels(b, b.batch, 2);
    asrc::Vector<float> grad;
    train_step(net, opt, x, b.batch, y, grad);
    std::printf("RSS %ld %ld\n", base, read_status_kib("VmHWM:"));
    return 0;
  }
  std::fprintf(stderr, "unknown configuration %s\n", name.c_str());
  return 2;
}

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

/// Run this program again in --rss-child mode (a fresh address space) and read its report.
bool measure_rss(const std::string& name, int threads, bool dense, long& base, long& peak) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return false;
  exe[n] = '\0';
  const std::string cmd =
      std::string("'") + exe + "' --rss-child " + name + " --threads " + std::to_string(threads) +
      (dense ? " --kernels dense" : "") + " --chunk " + std::to_string(g_chunk) +
      (g_flush ? "" : " --no-flush") + (g_skip_zero ? "" : " --no-skip-zero-lags") +
      (g_data.empty() ? "" : " --data '" + g_data + "'") + " --tau " + fmt_double(g_tau) +
      " --skip-logits " + fmt_double(g_skip_logits);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return false;
  char line[256];
  bool ok = false;
  while (std::fgets(line, sizeof(line), p))
    if (std::sscanf(line, "RSS %ld %ld", &base, &peak) == 2) ok = true;
  const int status = pclose(p);
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

void usage() {
  std::printf(
      "usage: asrc-bench [--configs a,b,...] [--quick] [--threads N] [--json PATH]\n"
      "                  [--reps N] [--rate R] [--kernels auto|dense] [--chunk N] [--no-flush] [--gemm-n N] [--no-rss] [--no-peak] [--list]\n"
      "                  [--data DIR] [--tau X] [--skip-logits A] [--no-skip-zero-lags]\n"
      "--kernels auto|dense: spike-aware row kernels (default) or Eigen GEMM everywhere\n"
      "--chunk N: sequences per work item (NetworkConfig::chunk_size, default 16)\n"
      "--no-flush: keep subnormal numbers (NetworkConfig::flush_denormals = false)\n"
      "--rate R: scale each layer's input weights so it fires at about R in training (default 0.1, with --data 0; 0: off)\n"
      "--data DIR: real batches of each configuration's data set in DIR (MNIST IDX files for smnist/psmnist,\n"
      "            the Speech Commands layout for gsc); configurations without their data are skipped\n"
      "--tau X: ASRC temperature (default 1; 0.96^epoch in training)\n"
      "--skip-logits A: ASRC logits w_j = A cos(2.3 (j + offset)) instead of 0\n"
      "--no-skip-zero-lags: run every lag of the ASRC mixture (NetworkConfig::skip_zero_lags = false)\n"
      "Benchmarks the Table 1 configurations (training, evaluation, streaming, memory).\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string rss_child_name;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value after %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--configs") o.configs = split(next(), ',');
    else if (a == "--quick") o.quick = true;
    else if (a == "--threads") o.threads = std::atoi(next().c_str());
    else if (a == "--json") o.json = next();
    else if (a == "--reps") o.train_reps = std::atoi(next().c_str());
    else if (a == "--gemm-n") o.gemm_n = std::atol(next().c_str());
    else if (a == "--no-rss") o.rss = false;
    else if (a == "--chunk") g_chunk = std::atol(next().c_str());
    else if (a == "--no-flush") g_flush = false;
    else if (a == "--rate") { o.rate = std::atof(next().c_str()); o.rate_given = true; }
    else if (a == "--data") g_data = next();
    else if (a == "--tau") g_tau = std::atof(next().c_str());
    else if (a == "--skip-logits") g_skip_logits = std::atof(next().c_str());
    else if (a == "--no-skip-zero-lags") g_skip_zero = false;
    else if (a == "--kernels") {
      const std::string k = next();
      if (k == "dense") o.kernels = asrc::KernelPolicy::dense;
      else if (k == "auto" || k == "automatic") o.kernels = asrc::KernelPolicy::automatic;
      else { std::fprintf(stderr, "--kernels: auto or dense\n"); return 2; }
    }
    else if (a == "--no-peak") o.peak = false;
    else if (a == "--rss-child") rss_child_name = next();
    else if (a == "--list") {
      for (const auto& b : table1()) std::printf("%s\n", b.name.c_str());
      return 0;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (o.threads < 1) {
    std::fprintf(stderr, "--threads must be >= 1\n");
    return 2;
  }
  if (!(g_tau > 0.0) || !std::isfinite(g_tau)) {
    std::fprintf(stderr, "--tau must be a finite number > 0\n");
    return 2;
  }
  if (!rss_child_name.empty()) return rss_child(rss_child_name, o.threads, o.kernels);
  if (!g_data.empty() && !o.rate_given) o.rate = 0.0;  // real data: the networks' own initialisation

  std::vector<BenchConfig> selected;
  const auto all = table1();
  if (o.configs.empty()) {
    selected = all;
  } else {
    for (const auto& name : o.configs) {
      auto it = std::find_if(all.begin(), all.end(), [&](const BenchConfig& b) { return b.name == name; });
      if (it == all.end()) {
        std::fprintf(stderr, "unknown configuration '%s' (see --list)\n", name.c_str());
        return 2;
      }
      selected.push_back(*it);
    }
  }

  const std::string load_start = load_average();
  std::printf("asrc-bench  cpu: %s (%s)  hardware threads: %u  bench threads: %d  subnormals: %s  load average: %s\n",
              cpu_model().c_str(), simd_path().c_str(), std::thread::hardware_concurrency(), o.threads,
              g_flush ? "flushed" : "kept", load_start.c_str());
  std::printf("inputs: %s  rate calibration: %s  tau: %g  skip logits: %s  zero-coefficient lags: %s\n",
              g_data.empty() ? "random" : ("real data in " + g_data).c_str(),
              o.rate > 0 ? std::to_string(o.rate).c_str() : "off", g_tau,
              g_skip_logits == 0.0 ? "0 (initial)" : ("A cos(...), A = " + std::to_string(g_skip_logits)).c_str(),
              g_skip_zero ? "left out" : "run");

  GemmPeak peak;
  if (o.peak) {
    peak = measure_gemm_peak(o.quick ? std::min<Index>(o.gemm_n, 512) : o.gemm_n, o.quick ? 3 : 5);
    std::printf("Eigen SGEMM %ldx%ld ceiling: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)\n",
                long(peak.n), long(peak.n), peak.gflops_1t, peak.gflops_2t);
  }
  const double ceiling = o.threads >= 2 ? peak.gflops_2t : peak.gflops_1t;

  std::vector<Result> results;
  for (const auto& b : selected) {
    std::fflush(stdout);
    std::fprintf(stderr, "[asrc-bench] %s ...\n", b.name.c_str());
    RealData real;
    if (!g_data.empty()) {
      real = load_real(b, g_data);
      std::printf("data: %s: %s%s\n", b.name.c_str(), real.ok ? "" : "skipped, ", real.note.c_str());
      if (!real.ok) continue;
    }
    Result r = run_config(b, o, real.ok ? &real : nullptr);
    r.data_note = real.note;
    if (o.rss && !measure_rss(b.name, o.threads, o.kernels == asrc::KernelPolicy::dense, r.rss_base_kib, r.rss_peak_kib))
      std::fprintf(stderr, "[asrc-bench] %s: memory measurement failed\n", b.name.c_str());
    results.push_back(r);
  }
  const std::string load_end = load_average();
  if (results.empty()) {
    std::fprintf(stderr, "asrc-bench: no configuration could run (see the notes above)\n");
    return 2;
  }

  auto pct = [&](double g) { return ceiling > 0 ? 100.0 * g / ceiling : std::nan(""); };
  std::printf("\n%-17s %4s %4s %7s | %10s %8s %6s %17s | %10s %8s %6s | %9s | %8s | %s\n", "config", "B",
              "T", "params", "train/s", "GFLOP/s", "%peak", "fwd/bwd/opt s", "eval/s", "GFLOP/s", "%peak",
              "stream us", "peak MB", "spike rates train | eval");
  for (const auto& r : results) {
    std::string rates;
    for (double s : r.spike_rates) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%s%.3f", rates.empty() ? "" : " ", s);
      rates += buf;
    }
    rates += " | eval";
    for (double s : r.eval_spike_rates) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), " %.3f", s);
      rates += buf;
    }
    if (!r.zero_lags.empty()) {
      rates += " | zero lags";
      for (int z : r.zero_lags) rates += " " + std::to_string(z);
    }
    char parts[64];
    std::snprintf(parts, sizeof(parts), "%.3f/%.3f/%.4f", r.train_forward_s,
                  std::max(0.0, r.train_step_s - r.train_forward_s - r.optimizer_s), r.optimizer_s);
    std::printf("%-17s %4ld %4ld %7ld | %10.1f %8.2f %5.1f%% %17s | %10.1f %8.2f %5.1f%% | %9.1f | %8.1f | %s\n",
                r.cfg.name.c_str(), long(r.cfg.batch), long(r.cfg.steps), long(r.params), r.train_sps,
                r.train_gflops, pct(r.train_gflops), parts, r.eval_sps, r.eval_gflops, pct(r.eval_gflops),
                r.stream_us, r.rss_peak_kib > 0 ? double(r.rss_peak_kib) / 1024.0 : -1.0, rates.c_str());
  }
  std::printf("(samples/s = median over repetitions after a warm-up; GFLOP/s counts dense-equivalent work, "
              "%%peak against the %d-thread SGEMM ceiling; load average at end: %s)\n",
              o.threads >= 2 ? 2 : 1, load_end.c_str());

  if (!o.json.empty()) {
    std::ofstream f(o.json);
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", o.json.c_str());
      return 1;
    }
    f << "{\n  \"tool\": \"asrc-bench\",\n  \"data\": \"" << json_escape(g_data) << "\",\n  \"tau\": " << g_tau
      << ",\n  \"skip_logits\": " << g_skip_logits << ",\n  \"skip_zero_lags\": " << (g_skip_zero ? "true" : "false")
      << ",\n  \"cpu\": \"" << json_escape(cpu_model()) << "\",\n  \"simd\": \"" << simd_path() << "\",\n"
      << "  \"hardware_threads\": " << std::thread::hardware_concurrency() << ",\n"
      << "  \"threads\": " << o.threads << ",\n  \"rate_target\": " << o.rate << ",\n  \"kernels\": \""
      << (o.kernels == asrc::KernelPolicy::dense ? "dense" : "auto") << "\",\n  \"flush_denormals\": "
      << (g_flush ? "true" : "false") << ",\n  \"quick\": " << (o.quick ? "true" : "false") << ",\n"
      << "  \"load_average_start\": \"" << load_start << "\",\n"
      << "  \"load_average_end\": \"" << load_end << "\",\n"
      << "  \"gemm_peak\": {\"n\": " << peak.n << ", \"gflops_1_thread\": " << peak.gflops_1t
      << ", \"gflops_2_threads\": " << peak.gflops_2t << "},\n  \"results\": [\n";
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      f << "    {\"name\": \"" << r.cfg.name << "\", \"batch\": " << r.cfg.batch << ", \"steps\": " << r.cfg.steps
        << ", \"params\": " << r.params << ",\n     \"train_step_s\": " << r.train_step_s
        << ", \"train_samples_per_s\": " << r.train_sps << ", \"train_gflops\": " << r.train_gflops
        << ", \"train_reps\": " << r.train_reps << ", \"backward_dense_gflop\": " << backward_dense_flops(r.cfg) * 1e-9
        << ",\n     \"train_forward_s\": " << r.train_forward_s
        << ", \"optimizer_s\": " << r.optimizer_s << ",\n     \"eval_step_s\": " << r.eval_step_s
        << ", \"eval_samples_per_s\": " << r.eval_sps << ", \"eval_gflops\": " << r.eval_gflops
        << ", \"eval_reps\": " << r.eval_reps << ",\n     \"stream_us_per_step\": " << r.stream_us
        << ", \"stream_steps\": " << r.stream_steps << ", \"rss_base_kib\": " << r.rss_base_kib
        << ", \"rss_peak_kib\": " << r.rss_peak_kib << ",\n     \"spike_rates\": [";
      for (size_t l = 0; l < r.spike_rates.size(); ++l) f << (l ? ", " : "") << r.spike_rates[l];
      f << "],\n     \"eval_spike_rates\": [";
      for (size_t l = 0; l < r.eval_spike_rates.size(); ++l) f << (l ? ", " : "") << r.eval_spike_rates[l];
      f << "], \"zero_lags\": [";
      for (size_t l = 0; l < r.zero_lags.size(); ++l) f << (l ? ", " : "") << r.zero_lags[l];
      f << "], \"data_note\": \"" << json_escape(r.data_note) << "\"}" << (i + 1 < results.size() ? "," : "") << "\n";
    }
    f << "  ]\n}\n";
  }
  return 0;
}
