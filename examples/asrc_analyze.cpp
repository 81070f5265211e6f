// asrc-analyze: the paper's analysis (section 3.2, Fig. 5, Table 4) measured on real runs.
//
//   asrc-analyze gradient-flow --model-version SRC --dataset-dir data/mnist --out g.csv
//   asrc-analyze gradient-flow --checkpoint docs/results/smnist-src-15ep/best.ckpt --out g.csv
//   asrc-analyze kernels docs/results/smnist-asrc-7ep/log.jsonl --out kernels.csv
//   asrc-analyze kernels docs/results/smnist-asrc-7ep/best.ckpt
//   asrc-analyze evaluate docs/results/table1/psmnist-asrc/last.ckpt --dataset-dir data/mnist
//
// gradient-flow writes, per layer and step, ||dL/dU[t]|| for the training loss and for
// the last step's output alone (asrc/analysis/gradient_flow.hpp), and with --factors the
// Eq. 5-7 scalar products averaged over neurons. kernels writes the ASRC softmax kernels
// of every layer, per epoch of a run's log.jsonl or from one checkpoint, and prints the
// argmax lags (Table 4). evaluate runs a checkpoint over a split with the kernel that
// evaluation uses (one-hot at the argmax lag) and with the one training uses (the softmax
// at tau): the gap between the two is the part of a train/test gap that the kernel causes.
#include <asrc/analysis/gradient_flow.hpp>
#include <asrc/analysis/run_log.hpp>
#include <asrc/asrc.hpp>
#include <asrc/train/tasks.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "build_commit.hpp"

using namespace asrc;

namespace {

void print_help() {
  std::printf(
      "usage: asrc-analyze gradient-flow [--checkpoint CKPT] [asrc-train model/data flags]\n"
      "                    [--samples N] [--split test|train] [--precision double|float]\n"
      "                    [--out FILE.csv] [--factors FILE.csv]\n"
      "       asrc-analyze kernels RUN_DIR|log.jsonl|CHECKPOINT [--out FILE.csv]\n"
      "       asrc-analyze evaluate CHECKPOINT [--kernel both|argmax|softmax] [--tau X]\n"
      "                    [--split test|valid|train] [--samples N] [--dataset-dir DIR] [--threads N]\n"
      "       asrc-analyze --version\n\n"
      "gradient-flow: forward and BPTT on the first N samples (default 64) of the split,\n"
      "  in training mode (ASRC: softmax kernel at the checkpoint's tau, 1 when fresh),\n"
      "  dropout off. Without --checkpoint the network is a fresh initialisation built from\n"
      "  the asrc-train flags (--preset, --model-version, --layers, --skip, --seed, ...).\n"
      "  With --checkpoint its config.* meta rebuilds the model; only --dataset-dir,\n"
      "  --threads and --chunk-size may change. --precision double (default) keeps\n"
      "  gradients that fall below float's range (1e-38) visible.\n"
      "  CSV (--out, default stdout): layer,t,k,grad_norm,grad_norm_last_step with k = T-1-t\n"
      "  (layers and steps count from 0 in the CSVs, layers from 1 in the summary);\n"
      "  grad_norm = ||dL/dU[t]|| (Frobenius over samples and neurons, L = mean loss),\n"
      "  grad_norm_last_step = the same for the last step's output alone (dL[T-1]/dU[t]).\n"
      "  --factors: layer,k,mean_abs,alive_fraction of the scalar model of Eq. 5-7,\n"
      "  dU[T-1]/dU[T-1-k] per neuron with its own recurrent weight W_rec(i,i).\n"
      "kernels: CSV epoch,layer,lag,p (from a log: every epoch; from a checkpoint: its\n"
      "  epoch, p = softmax(w / tau) at its tau), then the argmax lags per layer on stderr.\n"
      "evaluate: loss and accuracy of a checkpoint on a split (default test; valid is the\n"
      "  checkpoint's --valid-split; --samples N: the first N, 0 = all) in batches of its\n"
      "  --batch-size, with ASRC's evaluation kernel (argmax: one-hot at the argmax lag, what\n"
      "  asrc-train reports) and its training kernel (softmax(w / tau) over every lag, tau =\n"
      "  the checkpoint's or --tau; dropout off). CSV on stdout:\n"
      "  kernel,tau,samples,loss,accuracy; then the difference on stderr. For SRC, RSNN and\n"
      "  the other fixed-lag models the two kernels are the same one-hot lag.\n");
}

struct FlowOptions {
  std::string checkpoint, out, factors, split = "test", precision = "double";
  Index samples = 64;
};

std::ostream& open_out(const std::string& path, std::ofstream& f) {
  if (path.empty() || path == "-") return std::cout;
  f.open(path);
  require(bool(f), "asrc-analyze", "a writable --out file", path);
  return f;
}

// A whole number >= min given for --flag.
Index parse_count(const std::string& flag, const std::string& v, Index min) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  require(!v.empty() && *end == '\0' && n >= min, "asrc-analyze", str_cat("--", flag, " N >= ", min), v);
  return n;
}

// A checkpoint's parameters and temperature into a network built from its config.
template <typename T>
void load_weights(Network<T>& net, const Checkpoint& ckpt) {
  for (const auto& e : net.layout().entries())
    view(net.params(), e) = ckpt.template tensor<T>("param." + e.name, e.rows, e.cols);
  net.set_tau(ckpt.meta_number("tau"));
}

template <typename T>
int gradient_flow(const RunConfig& cfg, const FlowOptions& o, const Checkpoint* ckpt,
                  const Dataset& ds) {
  NetworkConfig nc = cfg.network_config();
  nc.dropout = 0.0;  // the analysis is of the recurrence, not of one dropout draw
  Network<T> net(nc);
  if (ckpt) load_weights(net, *ckpt);
  net.set_training(true);
  const Index B = std::min<Index>(o.samples, ds.size());
  std::vector<Index> idx(static_cast<size_t>(B));
  for (Index i = 0; i < B; ++i) idx[size_t(i)] = i;
  Matrix<T> x;
  std::vector<int> labels;
  make_batch(ds, idx, x, labels);
  const Index steps = ds.steps();
  const size_t L = net.layers().size();  // the hidden layers, and a spiking readout's output layer

  GradientFlowRecorder<T> full(L, false), last(L, true);
  TemporalFactorRecorder<T> factors(net);
  // One observer for the first pass: the exact norms and the scalar model together.
  struct Both : NetworkObserver<T> {
    GradientFlowRecorder<T>* g;
    TemporalFactorRecorder<T>* f;
    void begin(Index n, Index s, Index cs, Index ch) override { g->begin(n, s, cs, ch); f->begin(n, s, cs, ch); }
    void forward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<T>& V, const Matrix<T>& S) override {
      f->forward_layer(l, ci, b0, Bc, V, S);
    }
    void backward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<T>& G) override {
      g->backward_layer(l, ci, b0, Bc, G);
    }
    void end() override { g->end(); f->end(); }
  } both;
  both.g = &full;
  both.f = &factors;
  Vector<T> grad;
  Matrix<T> logits;
  net.set_observer(&both);
  const double loss = net.forward_backward(x, B, labels, grad, nullptr, &logits);
  net.set_observer(&last);
  net.forward_backward(x, B, labels, grad);
  net.set_observer(nullptr);
  Index correct = 0;
  for (Index b = 0; b < B; ++b) {
    Index k;
    logits.row(b).maxCoeff(&k);
    correct += k == labels[size_t(b)];
  }

  std::ofstream f;
  std::ostream& out = open_out(o.out, f);
  out << "layer,t,k,grad_norm,grad_norm_last_step\n";
  char buf[160];
  for (size_t l = 0; l < L; ++l)
    for (Index t = 0; t < steps; ++t) {
      std::snprintf(buf, sizeof buf, "%zu,%ld,%ld,%.6e,%.6e\n", l, long(t), long(steps - 1 - t),
                    full.norm(l, t), last.norm(l, t));
      out << buf;
    }
  if (!o.factors.empty()) {
    std::ofstream ff(o.factors);
    require(bool(ff), "asrc-analyze", "a writable --factors file", o.factors);
    ff << "layer,k,mean_abs,alive_fraction\n";
    for (size_t l = 0; l < L; ++l)
      for (Index k = 0; k < steps; ++k) {
        std::snprintf(buf, sizeof buf, "%zu,%ld,%.6e,%.6f\n", l, long(k), factors.mean_abs(l, k),
                      factors.alive_fraction(l, k));
        ff << buf;
      }
  }
  // Summary: how much of the last step's gradient reaches back k steps.
  std::fprintf(stderr, "asrc-analyze: %s %s, %ld samples of %ld steps, loss %.4f, accuracy %.1f%%, tau %g\n",
               cfg.model.c_str(), ckpt ? o.checkpoint.c_str() : "fresh initialisation", long(B), long(steps),
               loss, 100.0 * double(correct) / double(B), net.tau());
  for (size_t l = 0; l < L; ++l) {
    std::fprintf(stderr, "  layer %zu: ||dL[T-1]/dU[T-1-k]||", l + 1);
    for (Index k : {Index(0), Index(10), Index(100), Index(300), steps - 1})
      if (k < steps) std::fprintf(stderr, "  k=%ld: %.3g", long(k), last.norm(l, steps - 1 - k));
    std::fprintf(stderr, "\n");
  }
  return 0;
}

int gradient_flow_main(const std::vector<std::pair<std::string, std::string>>& opts) {
  RunConfig cfg = make_preset("smnist-asrc");
  cfg.preset.clear();
  FlowOptions o;
  for (const auto& [k, v] : opts)
    if (k == "preset") cfg = make_preset(v);
  std::vector<std::pair<std::string, std::string>> train_flags;
  for (const auto& [k, v] : opts) {
    if (k == "preset") continue;
    if (k == "checkpoint") o.checkpoint = v;
    else if (k == "out") o.out = v;
    else if (k == "factors") o.factors = v;
    else if (k == "split") o.split = v;
    else if (k == "precision") o.precision = v;
    else if (k == "samples") o.samples = parse_count("samples", v, 1);
    else train_flags.emplace_back(k, v);
  }
  require(o.split == "test" || o.split == "train", "asrc-analyze", "--split test|train", o.split);
  require(o.precision == "double" || o.precision == "float", "asrc-analyze", "--precision double|float", o.precision);
  Checkpoint ckpt;
  std::vector<int> perm;
  if (!o.checkpoint.empty()) {
    ckpt = load_checkpoint(o.checkpoint);
    cfg = run_config_of(ckpt, o.checkpoint);
    for (const auto& [k, v] : train_flags) {
      require(k == "dataset-dir" || k == "threads" || k == "chunk-size", "asrc-analyze",
              "only --dataset-dir, --threads, --chunk-size with --checkpoint (the model is the checkpoint's)",
              "--" + k);
      cfg.set(k, v);
    }
    if (ckpt.has_ints("permutation"))
      for (auto p : ckpt.ints_at("permutation")) perm.push_back(int(p));
  } else {
    for (const auto& [k, v] : train_flags) cfg.set(k, v);
  }
  // Only the first N samples of one split are read.
  cfg.valid_split = 0;
  cfg.limit_test = o.split == "test" ? o.samples : 1;
  cfg.limit_train = o.split == "train" ? o.samples : 1;
  cfg.validate();
  const TaskData data = load_task(cfg, perm.empty() ? nullptr : &perm);
  const Dataset& ds = o.split == "test" ? *data.test : *data.train;
  const Checkpoint* cp = o.checkpoint.empty() ? nullptr : &ckpt;
  return o.precision == "double" ? gradient_flow<double>(cfg, o, cp, ds) : gradient_flow<float>(cfg, o, cp, ds);
}

int kernels_main(const std::string& path, const std::vector<std::pair<std::string, std::string>>& opts) {
  std::string out_path;
  for (const auto& [k, v] : opts) {
    require(k == "out", "asrc-analyze", "--out FILE.csv after kernels PATH", "--" + k);
    out_path = v;
  }
  const std::vector<KernelRecord> recs = read_skip_kernels(path);
  std::ofstream f;
  std::ostream& out = open_out(out_path, f);
  out << "epoch,layer,lag,p\n";
  char buf[96];
  for (const auto& r : recs)
    for (size_t l = 0; l < r.kernels.size(); ++l)
      for (size_t j = 0; j < r.kernels[l].size(); ++j) {
        std::snprintf(buf, sizeof buf, "%ld,%zu,%zu,%.6g\n", long(r.epoch), l, j + 1, r.kernels[l][j]);
        out << buf;
      }
  const KernelRecord& final_rec = recs.back();
  std::fprintf(stderr, "asrc-analyze: %zu epoch(s); argmax lags at epoch %ld (Table 4):", recs.size(),
               long(final_rec.epoch));
  for (size_t l = 0; l < final_rec.lags.size(); ++l)
    std::fprintf(stderr, "  layer %zu: %ld (p %.3f)", l + 1, long(final_rec.lags[l]),
                 final_rec.kernels[l][size_t(final_rec.lags[l] - 1)]);
  std::fprintf(stderr, "\n");
  return 0;
}

struct EvalOptions {
  std::string kernel = "both", split = "test";
  double tau = 0.0;  // 0: the checkpoint's
  Index samples = 0;
};

int evaluate_main(const std::string& path, const std::vector<std::pair<std::string, std::string>>& opts) {
  EvalOptions o;
  const Checkpoint ckpt = load_checkpoint(path);
  RunConfig cfg = run_config_of(ckpt, path);
  for (const auto& [k, v] : opts) {
    if (k == "kernel") o.kernel = v;
    else if (k == "split") o.split = v;
    else if (k == "samples") o.samples = parse_count("samples", v, 0);
    else if (k == "tau") {
      o.tau = parse_number("asrc-analyze", "tau", v);
      require(o.tau > 0.0 && std::isfinite(o.tau), "asrc-analyze", "--tau X > 0", v);
    } else {
      require(k == "dataset-dir" || k == "threads" || k == "chunk-size", "asrc-analyze",
              "--kernel, --tau, --split, --samples, --dataset-dir, --threads or --chunk-size after evaluate "
              "CHECKPOINT (the model is the checkpoint's)",
              "--" + k);
      cfg.set(k, v);
    }
  }
  require(o.kernel == "both" || o.kernel == "argmax" || o.kernel == "softmax", "asrc-analyze",
          "--kernel both|argmax|softmax", "'" + o.kernel + "'");
  require(o.split == "test" || o.split == "valid" || o.split == "train", "asrc-analyze", "--split test|valid|train",
          "'" + o.split + "'");
  require(o.split != "valid" || cfg.valid_split > 0, "asrc-analyze",
          "--split valid only for a checkpoint trained with --valid-split N", "--valid-split 0 in " + path);
  if (o.split == "test") {  // the training images are not needed then
    if (o.samples > 0) cfg.limit_test = cfg.limit_test > 0 ? std::min(cfg.limit_test, o.samples) : o.samples;
    cfg.limit_train = 1;
    cfg.valid_split = 0;
  }
  cfg.validate();
  std::vector<int> perm;
  if (ckpt.has_ints("permutation"))
    for (auto p : ckpt.ints_at("permutation")) perm.push_back(int(p));
  const TaskData data = load_task(cfg, perm.empty() ? nullptr : &perm);
  const Dataset& ds = o.split == "test" ? *data.test : o.split == "valid" ? *data.valid : *data.train;

  NetworkConfig nc = cfg.network_config();
  nc.dropout = 0.0;  // the softmax pass runs in training mode: no dropout draw
  Network<float> net(nc);
  load_weights(net, ckpt);
  if (o.tau > 0.0) net.set_tau(o.tau);

  std::printf("kernel,tau,samples,loss,accuracy\n");
  EvalResult hard, soft;
  if (o.kernel != "softmax") {
    net.set_training(false);  // the argmax lag
    hard = evaluate_dataset(net, ds, cfg.batch_size, o.samples);
    std::printf("argmax,%g,%ld,%.6f,%.4f\n", net.tau(), long(hard.samples), hard.loss, hard.accuracy);
  }
  if (o.kernel != "argmax") {
    net.set_training(true);  // the softmax kernel at tau (dropout is off)
    soft = evaluate_dataset(net, ds, cfg.batch_size, o.samples);
    std::printf("softmax,%g,%ld,%.6f,%.4f\n", net.tau(), long(soft.samples), soft.loss, soft.accuracy);
  }
  std::fflush(stdout);
  const std::vector<Index> lags = net.eval_lags();
  std::fprintf(stderr, "asrc-analyze: %s %s, %s split, argmax lags", cfg.model.c_str(), path.c_str(), o.split.c_str());
  for (Index lag : lags) std::fprintf(stderr, " %ld", long(lag));
  std::fprintf(stderr, ", tau %g\n", net.tau());
  if (o.kernel == "both")
    std::fprintf(stderr, "asrc-analyze: softmax - argmax kernel: %+.2f points accuracy, %+.4f loss\n",
                 soft.accuracy - hard.accuracy, soft.loss - hard.loss);
  return 0;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help();
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  if (cmd == "--version") {
    print_version("asrc-analyze");
    return 0;
  }
  if (cmd == "gradient-flow")
    return gradient_flow_main(split_command_line(std::vector<std::string>(args.begin() + 1, args.end())));
  if (cmd == "kernels") {
    require(args.size() >= 2 && args[1].rfind("--", 0) != 0, "asrc-analyze", "kernels RUN_DIR|log.jsonl|CHECKPOINT",
            args.size() >= 2 ? args[1] : std::string("nothing"));
    return kernels_main(args[1], split_command_line(std::vector<std::string>(args.begin() + 2, args.end())));
  }
  if (cmd == "evaluate") {
    require(args.size() >= 2 && args[1].rfind("--", 0) != 0, "asrc-analyze", "evaluate CHECKPOINT",
            args.size() >= 2 ? args[1] : std::string("nothing"));
    return evaluate_main(args[1], split_command_line(std::vector<std::string>(args.begin() + 2, args.end())));
  }
  fail_expected("asrc-analyze", "a command gradient-flow|kernels|evaluate (see --help)", cmd);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "asrc-analyze: error: " << e.what() << std::endl;
    return 2;
  }
}
