// read_skip_kernels (analysis/run_log.hpp): the ASRC kernels of a log.jsonl, of a run
// folder and of a checkpoint, and the refusal of logs that are not an ASRC run's.
#include <doctest/doctest.h>

#include <asrc/analysis/run_log.hpp>
#include <asrc/asrc.hpp>

#include <cstdio>
#include <fstream>

using namespace asrc;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = "run_log_" + name;
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("read_skip_kernels reads every epoch of a log.jsonl") {
  const std::string path = write_temp("ok.jsonl",
      "{\"epoch\": 0, \"best_epoch\": 0, \"tau\": 1, \"lags\": [2, 1], \"skip_kernels\": [[0.25, 0.5, 0.25], [0.5, 0.25, 0.25]]}\n"
      "\n"
      "{\"epoch\": 1, \"best_epoch\": 0, \"tau\": 0.5, \"lags\": [3, 1], \"skip_kernels\": [[0, 1e-3, 0.999], [1, 0, 0]]}\n");
  const auto recs = read_skip_kernels(path);
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].epoch == 1);
  CHECK(recs[1].tau == 0.5);
  CHECK(recs[1].lags == std::vector<Index>{3, 1});
  REQUIRE(recs[1].kernels.size() == 2);
  CHECK(recs[1].kernels[0] == std::vector<double>{0, 1e-3, 0.999});
  CHECK(recs[0].kernels[1] == std::vector<double>{0.5, 0.25, 0.25});
}

TEST_CASE("read_skip_kernels refuses logs without ASRC kernels or with bad lags") {
  auto err = [](const std::string& name, const std::string& text) {
    const std::string p = write_temp(name, text);
    try {
      read_skip_kernels(p);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err("src.jsonl", "{\"epoch\": 0, \"lags\": [16, 16], \"skip_kernels\": []}\n").find(
            "expected ASRC kernels in run_log_src.jsonl line 1") != std::string::npos);
  CHECK(err("nolags.jsonl", "{\"epoch\": 0, \"skip_kernels\": [[1]]}\n").find("expected \"lags\"") != std::string::npos);
  CHECK(err("badlag.jsonl", "{\"epoch\": 0, \"lags\": [4], \"skip_kernels\": [[0.5, 0.5]]}\n").find(
            "expected lags in [1, 2]") != std::string::npos);
  CHECK(err("count.jsonl", "{\"epoch\": 0, \"lags\": [1, 1], \"skip_kernels\": [[1]]}\n").find(
            "expected 1 lags") != std::string::npos);
  CHECK(err("open.jsonl", "{\"epoch\": 0, \"lags\": [1], \"skip_kernels\": [[1, 0\n").find(
            "expected a closed JSON array") != std::string::npos);
  CHECK(err("empty.jsonl", "\n").find("expected at least one epoch") != std::string::npos);
}

TEST_CASE("read_skip_kernels of a checkpoint: softmax(w / tau) and the argmax lag per layer") {
  NetworkConfig cfg;
  cfg.hidden = {3, 2};
  cfg.recurrence = Recurrence::asrc;
  cfg.skip = 4;
  Network<float> net(cfg);
  Checkpoint c;
  for (const auto& e : net.layout().entries()) {
    Matrix<float> v = view(net.params(), e);
    if (e.name == "hidden0.skip_logits") v << 0.f, 2.f, 1.f, 0.f;
    if (e.name == "hidden1.skip_logits") v << 3.f, 0.f, 0.f, 3.f;  // ties: smallest lag
    c.set_tensor("param." + e.name, v, DType::float32);
  }
  c.set_meta_number("tau", 0.5);
  c.set_meta_int("epoch", 9);
  save_checkpoint("run_log.ckpt", c);
  const auto recs = read_skip_kernels("run_log.ckpt");
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].epoch == 9);
  CHECK(recs[0].lags == std::vector<Index>{2, 1});
  const double z = 2 * std::exp(0.0) + std::exp(4.0) + std::exp(2.0);  // exp(w / 0.5)
  CHECK(recs[0].kernels[0][1] == doctest::Approx(std::exp(4.0) / z));
  CHECK(recs[0].kernels[1][0] == doctest::Approx(std::exp(6.0) / (2 * std::exp(6.0) + 2)));
}
