// asrc-train as a user runs it, on a tiny MNIST written here: --time-limit stops with a
// resumable last.ckpt and its own exit status, the resumed run ends exactly where an
// uninterrupted one does, and --eval-only needs nothing but the checkpoint.
#include <doctest/doctest.h>

#include <asrc/io/checkpoint.hpp>
#include <asrc/train/run_config.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef ASRC_TRAIN_EXE
#error "ASRC_TRAIN_EXE must name the asrc-train executable"
#endif

using namespace asrc;

namespace {

void put_be32(std::ofstream& f, std::uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  f.write(reinterpret_cast<const char*>(b), 4);
}

/// IDX files of n 28x28 digits: class k lights a band of rows around 2k+4, plus noise, so
/// that a couple of epochs learn something.
void write_mnist(const std::string& dir, const std::string& prefix, int n, unsigned seed) {
  std::ofstream img(dir + "/" + prefix + "-images-idx3-ubyte", std::ios::binary);
  std::ofstream lab(dir + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary);
  put_be32(img, 0x803);
  put_be32(img, std::uint32_t(n));
  put_be32(img, 28);
  put_be32(img, 28);
  put_be32(lab, 0x801);
  put_be32(lab, std::uint32_t(n));
  std::uint32_t s = seed;
  for (int i = 0; i < n; ++i) {
    const int k = i % 10;
    for (int p = 0; p < 784; ++p) {
      s = s * 1664525u + 1013904223u;
      const int row = p / 28;
      const bool on = row >= 2 * k + 4 && row < 2 * k + 7 && (s >> 28) > 3;
      img.put(static_cast<char>(on ? 200 + (s >> 29) : ((s >> 24) & 15)));
    }
    lab.put(static_cast<char>(k));
  }
}

struct Result {
  int status = -1;
  std::string output;
};

/// Run asrc-train with `args`; its stdout and stderr together.
Result run(const std::string& args) {
  const std::string cmd = std::string(ASRC_TRAIN_EXE) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  Result r;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, got);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string data_dir() {
  static const std::string dir = [] {
    const std::string d = "asrc_train_test_mnist";
    std::system(("rm -rf " + d + " && mkdir -p " + d).c_str());
    write_mnist(d, "train", 96, 1);
    write_mnist(d, "t10k", 40, 2);
    return d;
  }();
  return dir;
}

std::string fresh(const std::string& name) {
  std::system(("rm -rf " + name).c_str());
  return name;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(f, line)) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    std::string c;
    while (std::getline(ls, c, ',')) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}

/// log.csv without its timing columns (seconds, samples/s).
std::vector<std::vector<std::string>> untimed_log(const std::string& dir) {
  auto rows = read_csv(dir + "/log.csv");
  for (auto& r : rows)
    if (r.size() > 14) r.erase(r.begin() + 13, r.begin() + 15);
  return rows;
}

/// Every parameter tensor of a checkpoint, bytes and all.
std::map<std::string, std::vector<float>> params_of(const std::string& path) {
  const Checkpoint c = load_checkpoint(path);
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, t] : c.tensors)
    if (name.rfind("param.", 0) == 0) {
      const Matrix<float> m = c.tensor<float>(name);
      out[name] = std::vector<float>(m.data(), m.data() + m.size());
    }
  return out;
}

const std::string kTiny = " --batch-size 16 --chunk-size 8 --threads 2 --epochs 3 ";

}  // namespace

TEST_CASE("--time-limit stops at a batch boundary with last.ckpt and exit 75; --resume ends as an uninterrupted run") {
  const std::string d = data_dir();
  const std::string straight = fresh("asrc_train_test_straight"), limited = fresh("asrc_train_test_limited");
  const Result a = run("--preset smnist-asrc --dataset-dir " + d + kTiny + "--results-dir " + straight);
  INFO(a.output);
  REQUIRE(a.status == 0);

  // A limit that has passed before the first batch: the run stops at once, writing a
  // last.ckpt that holds the untouched epoch-0 state.
  const Result b = run("--preset smnist-asrc --dataset-dir " + d + kTiny + "--results-dir " + limited +
                       " --time-limit 1e-9");
  INFO(b.output);
  CHECK(b.status == 75);
  CHECK(b.output.find("time limit") != std::string::npos);
  CHECK(b.output.find("resume with: asrc-train --resume " + limited) != std::string::npos);
  const Checkpoint ck = load_checkpoint(limited + "/last.ckpt");
  CHECK(ck.meta_int("epoch") == 0);
  CHECK(ck.meta_int("batch") == 0);

  // Continue with a limit that is never reached.
  const Result c = run("--resume " + limited + " --dataset-dir " + d + " --time-limit 600");
  INFO(c.output);
  REQUIRE(c.status == 0);
  CHECK(untimed_log(limited) == untimed_log(straight));
  CHECK(params_of(limited + "/last.ckpt") == params_of(straight + "/last.ckpt"));
  CHECK(params_of(limited + "/best.ckpt") == params_of(straight + "/best.ckpt"));
}

TEST_CASE("--time-limit rejects what is not a non-negative number") {
  for (const char* bad : {"-1", "abc", "nan"}) {
    const Result r = run(std::string("--count-params --time-limit ") + bad);
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(r.output.find("--time-limit") != std::string::npos);
  }
}

TEST_CASE("--eval-only needs only the checkpoint: SRC, ASRC and PS-MNIST give the logged accuracy") {
  const std::string d = data_dir();
  for (const std::string preset : {"smnist-src", "smnist-asrc", "psmnist-src"}) {
    INFO(preset);
    const std::string dir = fresh("asrc_train_test_eval_" + preset);
    // A seed other than the default: the permutation and model must come from the file.
    const Result t = run("--preset " + preset + " --dataset-dir " + d + kTiny + "--seed 5 --lr 0.01 --results-dir " + dir);
    INFO(t.output);
    REQUIRE(t.status == 0);
    const auto log = read_csv(dir + "/log.csv");
    REQUIRE(log.size() == 4);
    const int best = std::stoi(log.back()[12]);
    const double logged = std::stod(log[size_t(best) + 1][8]);
    const Result e = run("--eval-only " + dir + "/best.ckpt --dataset-dir " + d);
    INFO(e.output);
    REQUIRE(e.status == 0);
    long correct = -1, total = -1;
    const auto at = e.output.find("% (");
    REQUIRE(at != std::string::npos);
    REQUIRE(std::sscanf(e.output.c_str() + at, "%% (%ld of %ld correct)", &correct, &total) == 2);
    CHECK(total == 40);
    CHECK(100.0 * double(correct) / double(total) == doctest::Approx(logged).epsilon(1e-6));
    // A model flag that contradicts the checkpoint is refused, naming it.
    const Result wrong = run("--eval-only " + dir + "/best.ckpt --dataset-dir " + d + " --layers 8");
    CHECK(wrong.status == 2);
    CHECK(wrong.output.find("--layers as in " + dir + "/best.ckpt") != std::string::npos);
  }
}

TEST_CASE("a network too large for memory is refused before allocation, with the bytes") {
  const Result r = run("--layers 100000000,100000000 --dataset-dir /nonexistent");
  INFO(r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("bytes (the memory available)") != std::string::npos);
  CHECK(r.output.find("bytes needed") != std::string::npos);
  CHECK(r.output.find("bad_alloc") == std::string::npos);
  // Counting the parameters of such a network allocates nothing and works.
  const Result n = run("--layers 100000000,100000000 --count-params");
  CHECK(n.status == 0);
  CHECK(n.output == "30000001300000092\n");
}

TEST_CASE("--help prints every default as it would be typed") {
  const Result r = run("--help");
  REQUIRE(r.status == 0);
  std::stringstream ss(r.output);
  std::string line;
  int defaults = 0;
  while (std::getline(ss, line)) {
    const auto at = line.find("[default: ");
    if (at == std::string::npos) continue;
    ++defaults;
    const std::string v = line.substr(at + 10, line.size() - at - 11);
    INFO(line);
    // A number of more than 6 significant digits is a binary fraction printed in full.
    int digits = 0;
    bool number = !v.empty();
    for (char ch : v) {
      if (ch >= '0' && ch <= '9') ++digits;
      else if (ch != '.' && ch != 'e' && ch != '-' && ch != '+') number = false;
    }
    if (number) CHECK(digits <= 6);
  }
  CHECK(defaults > 20);
  CHECK(r.output.find("--lr-skip X") != std::string::npos);
  CHECK(r.output.find("[default: 0.96]") != std::string::npos);
}
