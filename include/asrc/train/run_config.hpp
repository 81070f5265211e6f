#pragma once
// The configuration of a training run: every flag of asrc-train, its default, the Table 1
// presets (spec section 7), command-line parsing, and a key/value form for checkpoints.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/io/checkpoint.hpp"
#include "asrc/network/network.hpp"
#include "asrc/optim/adam.hpp"
#include "asrc/optim/schedule.hpp"

namespace asrc {

/// A decimal number given for flag --`flag`; `where` names the caller in the error.
inline double parse_number(const std::string& where, const std::string& flag, const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  require(!s.empty() && end == s.c_str() + s.size(), where, "a number for --" + flag, "'" + s + "'");
  return v;
}

/// The shortest decimal text that reads back as exactly `v` ("0.1", "0.96", "1e-05"): as a
/// user would type it, and exact in checkpoints.
inline std::string shortest_number(double v) {
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

struct RunConfig {
  std::string preset;                      ///< name of the Table 1 row it started from
  std::string task = "smnist";             ///< smnist | psmnist | ssc | shd | gsc
  std::string model = "ASRC";              ///< SRC | ASRC | RSNN | FF
  std::vector<Index> layers = {64, 128, 128};
  Index skip = 41;                         ///< lambda (SRC) or T_lambda (ASRC)
  double lr = 1e-3;
  double lr_skip = 0.1;
  double lr_neuron = 1e-4;
  double wd = 0.01;
  std::string optim = "adamw";             ///< adam | adamw
  std::string scheduler = "onecycle";      ///< onecycle | cos | constant
  double drop = 0.0;
  bool bias = true;
  Index epochs = 200;
  Index batch_size = 256;
  std::uint64_t seed = 0;
  double decay = 0.5;                      ///< --decay-para
  double threshold = 1.0;
  std::string sg = "triangle";
  double de_tau = 0.96;                    ///< ASRC temperature decay per epoch
  bool network_wise = false;
  bool hard_reset = false;
  bool detach_reset = false;
  std::string dataset_dir = "data";
  std::string results_dir;                 ///< default: results/<run name>
  int threads = 0;
  Index limit_train = 0;
  Index limit_test = 0;
  Index valid_split = 0;
  std::string cache_dir;                   ///< GSC feature cache (default: <dataset-dir>/.asrc-cache)
  Index chunk_size = 16;
  bool flush_denormals = true;             ///< subnormals as zero in forward/backward (core/denormals.hpp)
  Index n_bins = 5;                        ///< SSC/SHD: units summed per input channel (700 / n_bins inputs)
  /// Divergence guard: a batch loss above this stops the run like a non-finite one
  /// (0: off). Losses of the summed readout start near 50; exploding weights (a
  /// learning rate of 10, say) pass 1e4 within an epoch while every value stays finite.
  double max_loss = 1e4;

  /// The name used for the default results folder.
  std::string run_name() const { return preset.empty() ? task + "-" + model : preset; }

  void validate() const {
    const std::string w = "RunConfig::validate";
    require(task == "smnist" || task == "psmnist" || task == "ssc" || task == "shd" || task == "gsc",
            w, "--task smnist|psmnist|ssc|shd|gsc", task);
    parse_recurrence(model);
    require(!layers.empty(), w, "--layers with at least one width", "none");
    for (Index h : layers) require(h > 0, w, "--layers widths > 0", h);
    require(skip >= 1, w, "--skip >= 1", skip);
    require(lr > 0, w, "--lr > 0", lr);
    require(lr_skip >= 0, w, "--lr-skip >= 0", lr_skip);
    require(wd >= 0, w, "--wd >= 0", wd);
    require(optim == "adam" || optim == "adamw", w, "--optim adam|adamw", optim);
    require(scheduler == "onecycle" || scheduler == "cos" || scheduler == "constant", w,
            "--scheduler onecycle|cos|constant", scheduler);
    require(drop >= 0 && drop < 1, w, "--drop in [0, 1)", drop);
    require(epochs >= 1, w, "--epochs >= 1", epochs);
    require(batch_size >= 1, w, "--batch-size >= 1", batch_size);
    require(decay >= 0 && decay <= 1, w, "--decay-para in [0, 1]", decay);
    require(threshold > 0, w, "--threshold > 0", threshold);
    parse_surrogate(sg);
    require(de_tau > 0 && de_tau <= 1, w, "--de-tau in (0, 1]", de_tau);
    require(threads >= 0, w, "--threads >= 0", threads);
    require(n_bins >= 1 && 700 % n_bins == 0, w, "--n-bins dividing 700", n_bins);
    require(chunk_size >= 1, w, "--chunk-size >= 1", chunk_size);
    require(max_loss >= 0, w, "--max-loss >= 0 (0: off)", max_loss);
    require(limit_train >= 0 && limit_test >= 0 && valid_split >= 0, w,
            "non-negative --limit-train, --limit-test, --valid-split",
            str_cat(limit_train, ", ", limit_test, ", ", valid_split));
  }

  Index input_size() const {
    if (task == "ssc" || task == "shd") return 700 / n_bins;
    if (task == "gsc") return 40;
    return 1;
  }
  Index num_classes() const {
    if (task == "ssc") return 35;
    if (task == "shd") return 20;
    if (task == "gsc") return 12;
    return 10;
  }

  NetworkConfig network_config() const {
    NetworkConfig c;
    c.input_size = input_size();
    c.hidden = layers;
    c.num_classes = num_classes();
    c.recurrence = parse_recurrence(model);
    c.skip = skip;
    c.network_wise = network_wise;
    c.bias = bias;
    c.dropout = drop;
    c.lif.decay = decay;
    c.lif.threshold = threshold;
    c.lif.reset = hard_reset ? ResetMode::hard : ResetMode::soft;
    c.lif.detach_reset = detach_reset;
    c.lif.surrogate = parse_surrogate(sg);
    c.seed = seed;
    c.threads = threads;
    c.chunk_size = chunk_size;
    c.flush_denormals = flush_denormals;
    return c;
  }

  LrSchedule schedule() const {
    if (scheduler == "onecycle") return LrSchedule::onecycle;
    if (scheduler == "cos") return LrSchedule::cosine;
    return LrSchedule::constant;
  }

  /// Every setting as text (for config.txt and checkpoints).
  std::map<std::string, std::string> to_map() const {
    std::map<std::string, std::string> m;
    auto num = [](double v) { return shortest_number(v); };
    std::string ls;
    for (size_t i = 0; i < layers.size(); ++i) ls += (i ? "," : "") + std::to_string(layers[i]);
    m["preset"] = preset;
    m["task"] = task;
    m["model-version"] = model;
    m["layers"] = ls;
    m["skip"] = std::to_string(skip);
    m["lr"] = num(lr);
    m["lr-skip"] = num(lr_skip);
    m["lr-neuron"] = num(lr_neuron);
    m["wd"] = num(wd);
    m["optim"] = optim;
    m["scheduler"] = scheduler;
    m["drop"] = num(drop);
    m["bias"] = bias ? "1" : "0";
    m["epochs"] = std::to_string(epochs);
    m["batch-size"] = std::to_string(batch_size);
    m["seed"] = std::to_string(seed);
    m["decay-para"] = num(decay);
    m["threshold"] = num(threshold);
    m["sg"] = sg;
    m["de-tau"] = num(de_tau);
    m["network-wise"] = network_wise ? "1" : "0";
    m["hard-reset"] = hard_reset ? "1" : "0";
    m["detach-reset"] = detach_reset ? "1" : "0";
    m["dataset-dir"] = dataset_dir;
    m["results-dir"] = results_dir;
    m["threads"] = std::to_string(threads);
    m["limit-train"] = std::to_string(limit_train);
    m["limit-test"] = std::to_string(limit_test);
    m["valid-split"] = std::to_string(valid_split);
    m["chunk-size"] = std::to_string(chunk_size);
    m["flush-denormals"] = flush_denormals ? "1" : "0";
    m["cache-dir"] = cache_dir;
    m["n-bins"] = std::to_string(n_bins);
    m["max-loss"] = num(max_loss);
    return m;
  }

  /// Set one option from its flag name (without "--") and text value.
  void set(const std::string& key, const std::string& value) {
    const std::string w = "RunConfig::set";
    auto to_d = [&](const std::string& s) { return parse_number(w, key, s); };
    auto to_i = [&](const std::string& s) {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(s.c_str(), &end, 10);
      require(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, w,
              "a 64-bit integer for --" + key, "'" + s + "'");
      return static_cast<Index>(v);
    };
    auto to_u = [&](const std::string& s) {
      char* end = nullptr;
      errno = 0;
      const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
      require(!s.empty() && s[0] != '-' && end == s.c_str() + s.size() && errno != ERANGE, w,
              "an unsigned 64-bit integer for --" + key, "'" + s + "'");
      return static_cast<std::uint64_t>(v);
    };
    auto to_b = [&](const std::string& s) {
      if (s == "1" || s == "true" || s == "True" || s.empty()) return true;
      if (s == "0" || s == "false" || s == "False") return false;
      fail_expected(w, "true or false for --" + key, "'" + s + "'");
    };
    if (key == "preset") preset = value;
    else if (key == "task") task = value;
    else if (key == "model-version") model = value;
    else if (key == "layers") {
      layers.clear();
      std::stringstream ss(value);
      std::string item;
      while (std::getline(ss, item, ',')) layers.push_back(to_i(item));
    } else if (key == "skip") skip = to_i(value);
    else if (key == "lr") lr = to_d(value);
    else if (key == "lr-skip") lr_skip = to_d(value);
    else if (key == "lr-neuron") lr_neuron = to_d(value);
    else if (key == "wd") wd = to_d(value);
    else if (key == "optim") optim = value;
    else if (key == "scheduler") scheduler = value;
    else if (key == "drop") drop = to_d(value);
    else if (key == "bias") bias = to_b(value);
    else if (key == "epochs") epochs = to_i(value);
    else if (key == "batch-size") batch_size = to_i(value);
    else if (key == "seed") seed = to_u(value);
    else if (key == "decay-para") decay = to_d(value);
    else if (key == "threshold") threshold = to_d(value);
    else if (key == "sg") sg = value;
    else if (key == "de-tau") de_tau = to_d(value);
    else if (key == "network-wise") network_wise = to_b(value);
    else if (key == "hard-reset") hard_reset = to_b(value);
    else if (key == "detach-reset") detach_reset = to_b(value);
    else if (key == "dataset-dir") dataset_dir = value;
    else if (key == "results-dir") results_dir = value;
    else if (key == "threads") threads = static_cast<int>(to_i(value));
    else if (key == "limit-train") limit_train = to_i(value);
    else if (key == "limit-test") limit_test = to_i(value);
    else if (key == "valid-split") valid_split = to_i(value);
    else if (key == "chunk-size") chunk_size = to_i(value);
    else if (key == "flush-denormals") flush_denormals = to_b(value);
    else if (key == "cache-dir") cache_dir = value;
    else if (key == "n-bins") n_bins = to_i(value);
    else if (key == "max-loss") max_loss = to_d(value);
    else fail_expected(w, "a known option (see --help)", "--" + key);
  }

  static RunConfig from_map(const std::map<std::string, std::string>& m) {
    RunConfig c;
    for (const auto& [k, v] : m) c.set(k, v);
    return c;
  }
};

/// Flags of asrc-train that take no value.
inline bool is_switch_flag(const std::string& k) {
  return k == "network-wise" || k == "hard-reset" || k == "detach-reset" || k == "count-params" ||
         k == "help";
}

/// Split asrc-train's arguments (without the program name) into (flag, value) pairs:
/// `--key value`, `--key=value`, or a switch (value "1").
inline std::vector<std::pair<std::string, std::string>> split_command_line(
    const std::vector<std::string>& args) {
  std::vector<std::pair<std::string, std::string>> opts;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    require(a.rfind("--", 0) == 0, "asrc-train", "an option starting with --", "'" + a + "'");
    a = a.substr(2);
    std::string v;
    const auto eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (!is_switch_flag(a)) {
      require(i + 1 < args.size(), "asrc-train", "a value after --" + a, "end of the command line");
      v = args[++i];
    } else {
      v = "1";
    }
    opts.emplace_back(a, v);
  }
  return opts;
}

/// The Table 1 rows (spec section 7), plus SHD set up like SSC.
inline std::vector<std::string> preset_names() {
  return {"smnist-src",  "smnist-src-212",  "smnist-asrc",      "psmnist-src", "psmnist-src-212",
          "psmnist-asrc", "psmnist-asrc-212", "ssc-src",        "ssc-asrc",    "gsc-src",
          "gsc-asrc",    "shd-src",         "shd-asrc"};
}

inline RunConfig make_preset(const std::string& name) {
  RunConfig c;
  c.preset = name;
  auto mnist = [&](const char* task, const char* model, std::vector<Index> layers, Index skip) {
    c.task = task;
    c.model = model;
    c.layers = std::move(layers);
    c.skip = skip;
    c.lr = 1e-3;
    c.lr_skip = 0.1;
    c.optim = "adamw";
    c.wd = 0.01;
    c.drop = 0.0;
    c.epochs = 200;
    c.batch_size = 256;
  };
  auto speech = [&](const char* task, const char* model, std::vector<Index> layers, Index skip,
                    double lr, double lr_skip) {
    c.task = task;
    c.model = model;
    c.layers = std::move(layers);
    c.skip = skip;
    c.lr = lr;
    c.lr_skip = lr_skip;
    c.optim = "adam";
    c.wd = 0.0;
    c.drop = 0.1;
    c.epochs = 100;
    c.batch_size = 128;
  };
  if (name == "smnist-src") mnist("smnist", "SRC", {64, 128, 128}, 16);
  else if (name == "smnist-src-212") mnist("smnist", "SRC", {64, 212, 212}, 12);
  else if (name == "smnist-asrc") mnist("smnist", "ASRC", {64, 128, 128}, 41);
  else if (name == "psmnist-src") mnist("psmnist", "SRC", {64, 128, 128}, 12);
  else if (name == "psmnist-src-212") mnist("psmnist", "SRC", {64, 212, 212}, 16);
  else if (name == "psmnist-asrc") mnist("psmnist", "ASRC", {64, 128, 128}, 51);
  else if (name == "psmnist-asrc-212") mnist("psmnist", "ASRC", {64, 212, 212}, 31);
  else if (name == "ssc-src") speech("ssc", "SRC", {256, 256, 256}, 3, 1e-3, 0.1);
  else if (name == "ssc-asrc") speech("ssc", "ASRC", {256, 256, 256}, 6, 1e-3, 0.1);
  else if (name == "shd-src") speech("shd", "SRC", {256, 256, 256}, 3, 1e-3, 0.1);
  else if (name == "shd-asrc") speech("shd", "ASRC", {256, 256, 256}, 6, 1e-3, 0.1);
  else if (name == "gsc-src") speech("gsc", "SRC", {128, 128, 128}, 4, 2.5e-3, 0.25);
  else if (name == "gsc-asrc") speech("gsc", "ASRC", {128, 128, 128}, 21, 2.5e-3, 0.25);
  else {
    std::string all;
    for (const auto& n : preset_names()) all += (all.empty() ? "" : ", ") + n;
    fail_expected("make_preset", "one of " + all, "'" + name + "'");
  }
  return c;
}

/// The configuration a checkpoint written by asrc-train was trained with (its `config.*`
/// entries); `path` names the file in errors.
inline RunConfig run_config_of(const Checkpoint& c, const std::string& path) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : c.meta)
    if (k.rfind("config.", 0) == 0) m[k.substr(7)] = v;
  require(!m.empty(), "run_config_of", "a checkpoint written by asrc-train (config.* entries) in " + path,
          "none");
  return RunConfig::from_map(m);
}

}  // namespace asrc
