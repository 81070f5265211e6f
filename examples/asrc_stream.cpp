// asrc-stream: feeds MNIST test digits to a trained S-MNIST / PS-MNIST network one pixel
// per time step through the streaming API (Network::make_stream / stream_step), and
// prints the predicted class at several points along the 784 steps, so that one can
// watch the prediction settle as the digit is read.
//
//   asrc-stream docs/results/smnist-src-15ep/best.ckpt --dataset-dir data/mnist
//   asrc-stream CKPT --dataset-dir DIR --count 8 --first 100 --every 112
//
// The model (task, layers, recurrence, neuron settings) and the PS-MNIST permutation come
// from the checkpoint, as for `asrc-train --resume`.
#include <asrc/asrc.hpp>
#include <asrc/data/mnist.hpp>
#include <asrc/io/checkpoint.hpp>
#include <asrc/train/run_config.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "build_commit.hpp"

using namespace asrc;

namespace {

const char* kWhere = "asrc-stream";

void print_help() {
  std::printf(
      "usage: asrc-stream CKPT [--dataset-dir DIR] [--count N] [--first I] [--every K]\n"
      "  CKPT               checkpoint of an S-MNIST or PS-MNIST run (best.ckpt, last.ckpt)\n"
      "  --dataset-dir DIR  folder with t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (default: data/mnist)\n"
      "  --count N          number of test digits streamed (default: 5)\n"
      "  --first I          index of the first test digit (default: 0)\n"
      "  --every K          print the prediction every K pixels (default: 98)\n"
      "  --version          the version and git commit this program was built from\n");
}

Index parse_index(const std::string& flag, const std::string& v, Index lo) {
  Index out = 0;
  std::size_t used = 0;
  try {
    out = static_cast<Index>(std::stoll(v, &used));
  } catch (const std::exception&) {
    used = 0;
  }
  require(used == v.size() && used > 0 && out >= lo, kWhere,
          str_cat("an integer >= ", lo, " for --", flag), "'" + v + "'");
  return out;
}

int run(int argc, char** argv) {
  std::string ckpt, dir = "data/mnist";
  Index count = 5, first = 0, every = 98;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      print_help();
      return 0;
    }
    if (a == "--version") {
      print_version("asrc-stream");
      return 0;
    }
    if (a.rfind("--", 0) != 0) {
      require(ckpt.empty(), kWhere, "one checkpoint path", "a second one, '" + a + "'");
      ckpt = a;
      continue;
    }
    const std::string k = a.substr(2);
    require(k == "dataset-dir" || k == "count" || k == "first" || k == "every", kWhere,
            "a known option (see --help)", a);
    require(i + 1 < argc, kWhere, "a value after " + a, "end of the command line");
    const std::string v = argv[++i];
    if (k == "dataset-dir") dir = v;
    else if (k == "count") count = parse_index(k, v, 1);
    else if (k == "first") first = parse_index(k, v, 0);
    else every = parse_index(k, v, 1);
  }
  require(!ckpt.empty(), kWhere, "a checkpoint path (see --help)", "none");

  // The run's configuration is stored in the checkpoint as config.* entries.
  const Checkpoint c = load_checkpoint(ckpt);
  RunConfig cfg = run_config_of(c, ckpt);
  require(cfg.task == "smnist" || cfg.task == "psmnist", kWhere,
          "a checkpoint of an S-MNIST or PS-MNIST run", "task '" + cfg.task + "' in " + ckpt);
  cfg.validate();

  Network<float> net(cfg.network_config());
  for (const auto& e : net.layout().entries())
    view(net.params(), e) = c.tensor<float>("param." + e.name, e.rows, e.cols);
  net.set_tau(c.meta_number("tau"));
  net.set_training(false);  // ASRC reads its hard argmax lag from here on

  MnistDataset test(dir, MnistSplit::test);
  if (cfg.task == "psmnist") {
    std::vector<int> perm;
    for (auto p : c.ints_at("permutation")) perm.push_back(static_cast<int>(p));
    test.set_permutation(perm);
  }
  require(first + count <= test.size(), kWhere,
          str_cat("--first + --count <= ", test.size(), " test digits"), first + count);

  const Index T = 784;
  std::vector<std::vector<float>> px(static_cast<std::size_t>(count), std::vector<float>(T));
  for (Index b = 0; b < count; ++b) test.fill(first + b, px[static_cast<std::size_t>(b)].data());

  std::printf("%s: %s, %s layers", kWhere, cfg.run_name().c_str(), cfg.model.c_str());
  for (Index h : cfg.layers) std::printf(" %ld", long(h));
  std::printf(", %s %ld, from %s\n", cfg.model == "ASRC" ? "T_lambda" : "lambda", long(cfg.skip),
              ckpt.c_str());
  std::printf("streaming %ld test digit%s one pixel per step; predicted class after pixel:\n",
              long(count), count == 1 ? "" : "s");
  std::printf("digit label |");
  std::vector<Index> marks;
  for (Index t = every; t < T; t += every) marks.push_back(t);
  if (marks.empty() || marks.back() != T) marks.push_back(T);
  for (Index t : marks) std::printf(" %4ld", long(t));
  std::printf(" | result\n");

  // All digits stream side by side as one batch: each row keeps its own state.
  StreamState<float> st = net.make_stream(count);
  Matrix<float> xt(count, 1);
  std::vector<std::vector<int>> pred(static_cast<std::size_t>(count));
  for (Index t = 0, mi = 0; t < T; ++t) {
    for (Index b = 0; b < count; ++b) xt(b, 0) = px[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)];
    net.stream_step(st, xt);
    if (t + 1 == marks[static_cast<std::size_t>(mi)]) {
      const Matrix<float> logits = net.stream_logits(st);
      for (Index b = 0; b < count; ++b) {
        Index k = 0;
        logits.row(b).maxCoeff(&k);
        pred[static_cast<std::size_t>(b)].push_back(static_cast<int>(k));
      }
      ++mi;
    }
  }
  Index correct = 0;
  for (Index b = 0; b < count; ++b) {
    const int label = test.label(first + b);
    std::printf("%5ld %5d |", long(first + b), label);
    for (int p : pred[static_cast<std::size_t>(b)]) std::printf(" %4d", p);
    const bool ok = pred[static_cast<std::size_t>(b)].back() == label;
    correct += ok;
    std::printf(" | %s\n", ok ? "correct" : "wrong");
  }
  std::printf("%ld of %ld correct after all %ld pixels\n", long(correct), long(count), long(T));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "asrc-stream: error: " << e.what() << std::endl;
    return 2;
  }
}
