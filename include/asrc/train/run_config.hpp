#pragma once
// The configuration of a training run: every flag of asrc-train, its default, the Table 1
// presets (spec section 7), command-line parsing, and a key/value form for checkpoints.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
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
  std::string preset;                      ///< name of the preset it started from
  std::string task = "smnist";             ///< smnist | psmnist | ssc | shd | gsc (| the ScSr sets, count only)
  std::string model = "ASRC";              ///< SRC | ASRC | RSNN | FF
  std::vector<Index> layers = {64, 128, 128};
  Index skip = 41;                         ///< lambda (SRC) or T_lambda (ASRC)
  double lr = 1e-3;
  double lr_skip = 0.1;
  double lr_neuron = 1e-4;
  double wd = 0.01;
  double clip_grad_norm = 0;               ///< 0: off
  double clip_weights = 0;                 ///< 0: off
  std::string optim = "adamw";             ///< adam | adamw
  std::string scheduler = "onecycle";      ///< onecycle | cos | constant | step
  Index lr_step = 10;                      ///< step: epochs per decay
  double lr_gamma = 0.8;                   ///< step: factor per decay
  double drop = 0.0;
  bool bias = true;
  bool hidden_bias = true;
  Index epochs = 200;
  Index batch_size = 256;
  std::uint64_t seed = 0;
  std::string neuron = "lif";              ///< lif | zeng
  double decay = 0.5;                      ///< --decay-para
  double threshold = 1.0;
  std::string sg = "triangle";
  bool hard_reset = false;
  bool detach_reset = false;
  bool learn_decay = false;
  bool learn_decay_output = true;
  double tau_m = 1.0;                      ///< Zeng et al.: time constants, resistance, threshold
  double tau_syn = 0.0;
  double tau_adp = 1.0;
  double beta = 0.0;
  double v_th = 1.0;
  double vmax = 1.4;                       ///< 0: no membrane clip
  Index t_ref = 1;
  bool paper_form = false;
  bool self_connections = true;
  std::string readout = "sum";             ///< sum | leaky-last | spiking
  double tau_p = 1.0;
  std::string loss = "ce";                 ///< ce | spike-train
  double tau_s = 0.0;                      ///< ScSr-SNN: PSC filter on every layer's output (0: none)
  bool psc_unnormalised = false;
  bool input_psc = false;
  bool self_recurrence = false;
  std::string self_init = "zero";          ///< zero | uniform
  Index layer_skip = 0;                    ///< layer l also reads layer l - layer_skip (0: none)
  std::string init = "uniform";            ///< uniform | normal | kaiming
  double de_tau = 0.96;                    ///< ASRC temperature decay per epoch
  bool network_wise = false;
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
    require(task == "smnist" || task == "psmnist" || task == "ssc" || task == "shd" || task == "gsc" ||
                task == "ti46-digits" || task == "ti46-alpha" || task == "ntidigits",
            w, "--task smnist|psmnist|ssc|shd|gsc|ti46-digits|ti46-alpha|ntidigits", task);
    parse_recurrence(model);
    require(!layers.empty(), w, "--layers with at least one width", "none");
    for (Index h : layers) require(h > 0, w, "--layers widths > 0", h);
    require(skip >= 1, w, "--skip >= 1", skip);
    require(lr > 0, w, "--lr > 0", lr);
    require(lr_skip >= 0, w, "--lr-skip >= 0", lr_skip);
    require(wd >= 0, w, "--wd >= 0", wd);
    require(clip_grad_norm >= 0 && std::isfinite(clip_grad_norm), w, "a finite --clip-grad-norm >= 0 (0: off)", clip_grad_norm);
    require(clip_weights >= 0 && std::isfinite(clip_weights), w, "a finite --clip-weights >= 0 (0: off)", clip_weights);
    require(optim == "adam" || optim == "adamw", w, "--optim adam|adamw", optim);
    require(scheduler == "onecycle" || scheduler == "cos" || scheduler == "constant" || scheduler == "step", w,
            "--scheduler onecycle|cos|constant|step", scheduler);
    require(lr_step >= 1, w, "--lr-step >= 1", lr_step);
    require(lr_gamma > 0 && std::isfinite(lr_gamma), w, "a finite --lr-gamma > 0", lr_gamma);
    require(drop >= 0 && drop < 1, w, "--drop in [0, 1)", drop);
    require(epochs >= 1, w, "--epochs >= 1", epochs);
    require(batch_size >= 1, w, "--batch-size >= 1", batch_size);
    parse_neuron(neuron);
    require(decay >= 0 && decay <= 1, w, "--decay-para in [0, 1]", decay);
    require(threshold > 0, w, "--threshold > 0", threshold);
    parse_surrogate(sg);
    require(vmax >= 0, w, "--vmax >= 0 (0: no clip)", vmax);
    parse_readout(readout);
    parse_loss(loss);
    require(init == "uniform" || init == "normal" || init == "kaiming", w, "--init uniform|normal|kaiming", init);
    require(self_init == "zero" || self_init == "uniform", w, "--self-init zero|uniform", self_init);
    require(layer_skip == 0 || layer_skip >= 2, w, "--layer-skip 0 (none) or >= 2", layer_skip);
    require(de_tau > 0 && de_tau <= 1, w, "--de-tau in (0, 1]", de_tau);
    require(threads >= 0, w, "--threads >= 0", threads);
    require(n_bins >= 1 && 700 % n_bins == 0, w, "--n-bins dividing 700", n_bins);
    require(chunk_size >= 1, w, "--chunk-size >= 1", chunk_size);
    require(max_loss >= 0, w, "--max-loss >= 0 (0: off)", max_loss);
    require(limit_train >= 0 && limit_test >= 0 && valid_split >= 0, w,
            "non-negative --limit-train, --limit-test, --valid-split",
            str_cat(limit_train, ", ", limit_test, ", ", valid_split));
    network_config().validate();  // the neuron's and readout's own settings
  }

  Index input_size() const {
    if (task == "ssc" || task == "shd") return 700 / n_bins;
    if (task == "gsc") return 40;
    if (task == "ti46-digits" || task == "ti46-alpha") return 78;  // Lyon ear channels
    if (task == "ntidigits") return 64;                             // cochlea channels
    return 1;
  }
  Index num_classes() const {
    if (task == "ssc") return 35;
    if (task == "shd") return 20;
    if (task == "gsc") return 12;
    if (task == "ti46-alpha") return 26;
    if (task == "ntidigits") return 11;
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
    c.hidden_bias = hidden_bias;
    c.self_connections = self_connections;
    c.dropout = drop;
    c.neuron = parse_neuron(neuron);
    c.lif.decay = decay;
    c.lif.threshold = threshold;
    c.lif.reset = hard_reset ? ResetMode::hard : ResetMode::soft;
    c.lif.detach_reset = detach_reset;
    c.lif.learn_decay = learn_decay;
    c.learn_decay_output = learn_decay_output;
    c.lif.surrogate = parse_surrogate(sg);
    c.zeng.tau_m = tau_m;
    c.zeng.tau_syn = tau_syn;
    c.zeng.tau_adp = tau_adp;
    c.zeng.beta = beta;
    c.zeng.v_th = v_th;
    c.zeng.clip = vmax > 0;
    c.zeng.vmax = vmax > 0 ? vmax : 1.0;
    c.zeng.t_ref = t_ref;
    c.zeng.paper_form = paper_form;
    c.readout = parse_readout(readout);
    c.tau_p = tau_p;
    c.loss = parse_loss(loss);
    c.psc.tau_s = tau_s;
    c.psc.unnormalised = psc_unnormalised;
    c.input_psc = input_psc;
    c.self_recurrence = self_recurrence;
    c.self_init_uniform = self_init == "uniform";
    if (layer_skip > 0) {
      c.extra_inputs.resize(layers.size());
      for (size_t l = size_t(layer_skip); l < layers.size(); ++l) c.extra_inputs[l] = {Index(l) - layer_skip};
    }
    c.init = init == "normal" ? InitScheme::normal : init == "kaiming" ? InitScheme::kaiming : InitScheme::uniform;
    c.seed = seed;
    c.threads = threads;
    c.chunk_size = chunk_size;
    c.flush_denormals = flush_denormals;
    return c;
  }

  LrSchedule schedule() const {
    if (scheduler == "onecycle") return LrSchedule::onecycle;
    if (scheduler == "cos") return LrSchedule::cosine;
    if (scheduler == "step") return LrSchedule::step;
    return LrSchedule::constant;
  }
  StepConfig step_schedule() const { return {lr_step, lr_gamma}; }

  /// Every setting as text (for config.txt and checkpoints): one entry per setting of
  /// run_flags().
  std::map<std::string, std::string> to_map() const;
  /// Set one setting from its flag name (without "--") and text value.
  void set(const std::string& key, const std::string& value);

  static RunConfig from_map(const std::map<std::string, std::string>& m) {
    RunConfig c;
    for (const auto& [k, v] : m) c.set(k, v);
    return c;
  }
};

/// One flag of asrc-train: the single home of its name, its help and, for a setting of
/// RunConfig, how it is read and written. Parsing, --help, config.txt, checkpoints and the
/// fuzz target's dictionary (checked by a test) all come from run_flags().
struct FlagSpec {
  const char* name;
  const char* value;  ///< what follows it in --help; "" for a switch (no value)
  const char* help;
  std::function<std::string(const RunConfig&)> get;        ///< empty: a flag of the program
  std::function<void(RunConfig&, const std::string&)> set;  ///<   itself, not a setting
  bool setting() const { return static_cast<bool>(get); }
  bool is_switch() const { return value[0] == '\0'; }
};

namespace detail {
inline Index parse_index(const std::string& flag, const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  require(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, "RunConfig::set",
          "a 64-bit integer for --" + flag, "'" + s + "'");
  return static_cast<Index>(v);
}
inline bool parse_bool(const std::string& flag, const std::string& s) {
  if (s == "1" || s == "true" || s == "True" || s.empty()) return true;
  if (s == "0" || s == "false" || s == "False") return false;
  fail_expected("RunConfig::set", "true or false for --" + flag, "'" + s + "'");
}
inline FlagSpec text(const char* n, const char* v, const char* h, std::string RunConfig::*m) {
  return {n, v, h, [m](const RunConfig& c) { return c.*m; }, [m](RunConfig& c, const std::string& s) { c.*m = s; }};
}
inline FlagSpec real(const char* n, const char* v, const char* h, double RunConfig::*m) {
  return {n, v, h, [m](const RunConfig& c) { return shortest_number(c.*m); },
          [m, n](RunConfig& c, const std::string& s) { c.*m = parse_number("RunConfig::set", n, s); }};
}
inline FlagSpec integer(const char* n, const char* v, const char* h, Index RunConfig::*m) {
  return {n, v, h, [m](const RunConfig& c) { return std::to_string(c.*m); },
          [m, n](RunConfig& c, const std::string& s) { c.*m = parse_index(n, s); }};
}
inline FlagSpec boolean(const char* n, const char* v, const char* h, bool RunConfig::*m) {
  return {n, v, h, [m](const RunConfig& c) { return std::string(c.*m ? "1" : "0"); },
          [m, n](RunConfig& c, const std::string& s) { c.*m = parse_bool(n, s); }};
}
inline FlagSpec program(const char* n, const char* v, const char* h) { return {n, v, h, nullptr, nullptr}; }
}  // namespace detail

/// Every flag of asrc-train, in --help order.
inline const std::vector<FlagSpec>& run_flags() {
  using namespace detail;
  using C = RunConfig;
  static const std::vector<FlagSpec> flags = {
      text("preset", "NAME", "start from a preset (Table 1 rows, Zeng et al.); later flags override it", &C::preset),
      text("task", "smnist|psmnist|ssc|shd|gsc|ti46-digits|ti46-alpha|ntidigits", "dataset and its preprocessing (ti46-*: sizes for --count-params only, no reader; ntidigits: n-tidigits.hdf5, needs HDF5)", &C::task),
      text("model-version", "SRC|ASRC|RSNN|FF", "recurrence: skip, adaptive skip, vanilla, none", &C::model),
      {"layers", "W1,W2,...", "hidden layer widths",
       [](const C& c) {
         std::string ls;
         for (size_t i = 0; i < c.layers.size(); ++i) ls += (i ? "," : "") + std::to_string(c.layers[i]);
         return ls;
       },
       [](C& c, const std::string& v) {
         c.layers.clear();
         std::stringstream ss(v);
         std::string item;
         while (std::getline(ss, item, ',')) c.layers.push_back(parse_index("layers", item));
       }},
      integer("skip", "N", "lambda (SRC) or T_lambda (ASRC)", &C::skip),
      real("lr", "X", "peak learning rate of weights and biases", &C::lr),
      real("lr-skip", "X", "peak learning rate of the ASRC lag logits w", &C::lr_skip),
      real("lr-neuron", "X", "learning rate of neuron parameters", &C::lr_neuron),
      real("wd", "X", "weight decay of weights and biases", &C::wd),
      real("clip-grad-norm", "X", "rescale each batch's gradient to this L2 norm when longer (0: off)", &C::clip_grad_norm),
      real("clip-weights", "X", "clamp weights to [-X, X] after each step (0: off)", &C::clip_weights),
      text("optim", "adam|adamw", "optimizer (adamw: decoupled weight decay)", &C::optim),
      text("scheduler", "onecycle|cos|constant|step", "learning-rate schedule, stepped per epoch", &C::scheduler),
      integer("lr-step", "N", "step schedule: epochs between decays", &C::lr_step),
      real("lr-gamma", "X", "step schedule: factor of each decay", &C::lr_gamma),
      real("drop", "P", "dropout probability (one mask per sequence)", &C::drop),
      boolean("bias", "true|false", "biases in every Linear", &C::bias),
      boolean("hidden-bias", "true|false", "biases in the hidden layers (with --bias; Zeng et al.: none)", &C::hidden_bias),
      integer("epochs", "N", "number of epochs (the schedule spans them)", &C::epochs),
      integer("batch-size", "N", "samples per batch", &C::batch_size),
      {"seed", "N", "initialisation, shuffling, dropout and PS-MNIST permutation seed",
       [](const C& c) { return std::to_string(c.seed); },
       [](C& c, const std::string& s) {
         char* end = nullptr;
         errno = 0;
         const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
         require(!s.empty() && s[0] != '-' && end == s.c_str() + s.size() && errno != ERANGE, "RunConfig::set",
                 "an unsigned 64-bit integer for --seed", "'" + s + "'");
         c.seed = static_cast<std::uint64_t>(v);
       }},
      text("neuron", "lif|zeng", "neuron model: LIF (Table 1) or the adaptive synaptic neuron of Zeng et al.", &C::neuron),
      real("decay-para", "X", "LIF: membrane decay d", &C::decay),
      real("threshold", "X", "LIF: firing threshold theta", &C::threshold),
      text("sg", "triangle|exp|rectangle|gau", "LIF: surrogate gradient", &C::sg),
      boolean("hard-reset", "", "LIF: reset the membrane to 0 instead of subtracting theta", &C::hard_reset),
      boolean("detach-reset", "", "LIF: no gradient through the reset term", &C::detach_reset),
      boolean("learn-decay", "", "LIF: a trained decay per neuron (BIP, PLIF), starting at --decay-para, kept in [0, 0.999], learning rate --lr-neuron", &C::learn_decay),
      boolean("learn-decay-output", "true|false", "with --learn-decay and --readout spiking: train the output layer's decay too (false: hidden layers only)", &C::learn_decay_output),
      real("tau-m", "X", "zeng: membrane time constant (steps)", &C::tau_m),
      real("tau-syn", "X", "zeng: synaptic current time constant (0: no synapse)", &C::tau_syn),
      real("tau-adp", "X", "zeng: adaptation current time constant", &C::tau_adp),
      real("beta", "X", "zeng: adaptation resistance R_adp (0: no adaptation)", &C::beta),
      real("v-th", "X", "zeng: threshold V_th (also the surrogate's half-width)", &C::v_th),
      real("vmax", "X", "zeng: membrane clipped to [0, vmax V_th] (0: no clip, the paper's form)", &C::vmax),
      integer("t-ref", "N", "zeng: refractory steps after a spike", &C::t_ref),
      boolean("paper-form", "", "zeng: spike from this step's membrane (paper) instead of the last (code)", &C::paper_form),
      boolean("self-connections", "true|false", "W_rec diagonal (false: zero and untrained, Zeng et al.)", &C::self_connections),
      text("readout", "sum|leaky-last|spiking", "readout: spike counts over time, a leaky output current read at the last step, or an output layer of spiking neurons whose outputs are summed (ScSr-SNN)", &C::readout),
      real("tau-p", "X", "leaky-last readout: output current time constant", &C::tau_p),
      text("loss", "ce|spike-train", "training loss: cross-entropy of the logits, or (spiking readout) the ScSr-SNN's distance of the output PSCs to a spike every second step for the label, none for the others; the logged test loss is the cross-entropy", &C::loss),
      real("tau-s", "X", "PSC filter on every layer's output, time constant in steps (ScSr-SNN; 0: none, layers exchange spikes)", &C::tau_s),
      boolean("psc-unnormalised", "", "PSC filter gain 1 (the paper's Eq. 6) instead of 1/tau_s", &C::psc_unnormalised),
      boolean("input-psc", "", "the PSC filter also on the data before the first layer", &C::input_psc),
      boolean("self-recurrence", "", "a trained weight per hidden neuron feeding its own output back one step later (ScSr-SNN)", &C::self_recurrence),
      text("self-init", "zero|uniform", "initial self-recurrent weights: 0, or U(0, 1)", &C::self_init),
      integer("layer-skip", "N", "hidden layer l also reads layer l - N through a weight of its own (ScSr-SNN: 2; 0: none)", &C::layer_skip),
      text("init", "uniform|normal|kaiming", "initialisation: torch's uniform (Table 1), Gaussian (Zeng et al.) or Kaiming normal (ScSr-SNN)", &C::init),
      real("de-tau", "X", "ASRC temperature decay per epoch (tau = de_tau^epoch)", &C::de_tau),
      boolean("network-wise", "", "ASRC: one lag kernel shared by all layers", &C::network_wise),
      text("dataset-dir", "DIR", "where the dataset files are (see README)", &C::dataset_dir),
      text("results-dir", "DIR", "logs and checkpoints (default results/<preset>)", &C::results_dir),
      {"threads", "N", "OpenMP threads (0: all cores)", [](const C& c) { return std::to_string(c.threads); },
       [](C& c, const std::string& s) { c.threads = static_cast<int>(parse_index("threads", s)); }},
      integer("chunk-size", "N", "sequences per parallel work item (results depend on it, not on threads)", &C::chunk_size),
      boolean("flush-denormals", "0|1", "treat subnormal numbers as 0 in forward/backward (default 1: much faster on many x86 cores)", &C::flush_denormals),
      integer("n-bins", "N", "SSC/SHD: input units summed per channel", &C::n_bins),
      real("max-loss", "X", "stop (exit 3, resumable) when a batch loss exceeds X: diverging run (0: off)", &C::max_loss),
      text("cache-dir", "DIR", "GSC feature cache (default <dataset-dir>/.asrc-cache, or ~/.cache/asrc if read-only)", &C::cache_dir),
      integer("limit-train", "N", "use only the first N training samples (0: all)", &C::limit_train),
      integer("limit-test", "N", "use only the first N test samples (0: all)", &C::limit_test),
      integer("valid-split", "N", "hold out N training samples to select the best epoch", &C::valid_split),
      program("resume", "DIR", "continue the run whose last.ckpt is in DIR (its settings come from the checkpoint)"),
      program("time-limit", "MINUTES", "stop at a batch boundary before MINUTES pass (counted from the start, leaving room for the test pass and checkpoint), write last.ckpt, exit 75 (0: none)"),
      program("eval-only", "CHECKPOINT", "evaluate a checkpoint on the test set and exit (model, task and permutation from the checkpoint)"),
      program("count-params", "", "print the number of trainable parameters and exit"),
      program("mpi-reduce", "exact|allreduce", "under mpirun: gradients added in chunk order (bitwise as one process), or a faster plain allreduce [default: exact]"),
      program("help", "", "this text"),
      program("version", "", "print the version and the git commit this program was built from (+modified: with uncommitted changes), and exit"),
  };
  return flags;
}

/// The flag called `name`, or nullptr.
inline const FlagSpec* find_flag(const std::string& name) {
  for (const auto& f : run_flags())
    if (name == f.name) return &f;
  return nullptr;
}

inline std::map<std::string, std::string> RunConfig::to_map() const {
  std::map<std::string, std::string> m;
  for (const auto& f : run_flags())
    if (f.setting()) m[f.name] = f.get(*this);
  return m;
}

inline void RunConfig::set(const std::string& key, const std::string& value) {
  const FlagSpec* f = find_flag(key);
  if (!f || !f->setting()) fail_expected("RunConfig::set", "a known option (see --help)", "--" + key);
  f->set(*this, value);
}

/// Flags of asrc-train that take no value.
inline bool is_switch_flag(const std::string& k) {
  const FlagSpec* f = find_flag(k);
  return f && f->is_switch();
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
/// Zeng et al.'s S-MNIST settings 1-7 (their Table 3) as zeng-smnist-1 .. zeng-smnist-7.
/// The ScSr-SNN (SrSc-BIP) at Table 1's sizes, and at its paper's sizes for its data sets.
inline std::vector<std::string> preset_names() {
  return {"smnist-src",    "smnist-src-212", "smnist-asrc",   "psmnist-src",   "psmnist-src-212",
          "psmnist-asrc",  "psmnist-asrc-212", "ssc-src",     "ssc-asrc",      "gsc-src",
          "gsc-asrc",      "shd-src",        "shd-asrc",      "zeng-smnist-1", "zeng-smnist-2",
          "zeng-smnist-3", "zeng-smnist-4",  "zeng-smnist-5", "zeng-smnist-6", "zeng-smnist-7",
          "scsr-psmnist",  "scsr-psmnist-nobip", "scsr-smnist", "scsr-gsc",    "scsr-ssc",
          "scsr-ti46-digits", "scsr-ti46-alpha", "scsr-ntidigits"};
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
  // ScSr-SNN (spec scsr-snn.md): LIF with hard reset and theta = 1 - 1/tau_m, PSC filter
  // (tau_s 8, gain 1/tau_s) on the data and every layer's output, a self-loop per hidden
  // neuron, a skip from hidden layer 1 to 3, a spiking output layer, BIP (a trained decay
  // per neuron, same learning rate as the weights), no biases, Kaiming normal weights, Adam
  // without decay, the spike-train loss. Trained with this library's surrogate BPTT, not
  // the paper's TSSL-BP.
  auto scsr = [&](const char* task, std::vector<Index> layers, double tau_m, double lr, Index batch, Index epochs) {
    c.task = task;
    c.model = "FF";
    c.layers = std::move(layers);
    c.neuron = "lif";
    c.decay = 1.0 - 1.0 / tau_m;
    c.threshold = 1.0;
    c.hard_reset = true;
    c.learn_decay = true;
    c.lr = lr;
    c.lr_neuron = lr;
    c.tau_s = 8.0;
    c.input_psc = true;
    c.self_recurrence = true;
    c.layer_skip = 2;
    c.readout = "spiking";
    c.loss = "spike-train";
    c.bias = false;
    c.init = "kaiming";
    c.optim = "adam";
    c.wd = 0.0;
    c.clip_grad_norm = 1.0;
    c.clip_weights = 4.0;
    c.drop = 0.0;
    c.batch_size = batch;
    c.epochs = epochs;
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
  // At Table 1's sizes and protocol (epochs, batch, learning rate, one-cycle schedule).
  else if (name == "scsr-psmnist") scsr("psmnist", {64, 128, 128}, 16, 1e-3, 256, 200);
  else if (name == "scsr-psmnist-nobip") {
    scsr("psmnist", {64, 128, 128}, 16, 1e-3, 256, 200);
    c.learn_decay = false;
  } else if (name == "scsr-smnist") scsr("smnist", {64, 128, 128}, 16, 1e-3, 256, 200);
  else if (name == "scsr-gsc") scsr("gsc", {128, 128, 128}, 16, 2.5e-3, 128, 100);
  else if (name == "scsr-ssc") scsr("ssc", {256, 256, 256}, 16, 1e-3, 128, 100);
  // The paper's Table 1 (data sets this library cannot read yet: --count-params only).
  else if (name == "scsr-ti46-digits" || name == "scsr-ti46-alpha" || name == "scsr-ntidigits") {
    if (name == "scsr-ti46-digits") scsr("ti46-digits", {100, 100, 100}, 16, 5e-3, 50, 400);
    else if (name == "scsr-ti46-alpha") scsr("ti46-alpha", {400, 400, 400}, 16, 5e-3, 50, 400);
    else scsr("ntidigits", {400, 400, 400}, 64, 2e-3, 50, 400);
    c.scheduler = "constant";
  }
  else if (name.rfind("zeng-smnist-", 0) == 0 && name.size() == 13 && name[12] >= '1' && name[12] <= '7') {
    // Zeng et al., Table 3 (S-MNIST, 1-200-10): recurrence, synapse, adaptation and the
    // tuned tau_m, tau_syn, tau_adp, beta, tau_p, V_th of each setting; the published
    // code's protocol: Adam, lr 0.1 x0.8 every 10 epochs, batch 256, vmax 1.4.
    struct Row { bool rec; double tau_m, tau_syn, tau_adp, beta, tau_p, v_th; };
    const Row rows[7] = {{false, 1, 0, 1, 0, 50, 8.4},   {true, 1, 0, 1, 0, 150, 1.6},
                         {true, 1, 0, 500, 40, 150, 1.3}, {true, 1, 600, 1, 0, 350, 0.2},
                         {true, 1, 50, 350, 40, 100, 5.8}, {true, 1, 25, 1, 0, 50, 5.3},
                         {true, 15, 50, 1, 10, 5, 0.4}};
    const Row& r = rows[name[12] - '1'];
    c.task = "smnist";
    c.model = r.rec ? "RSNN" : "FF";
    c.layers = {200};
    c.neuron = "zeng";
    c.tau_m = r.tau_m;
    c.tau_syn = r.tau_syn;
    c.tau_adp = r.tau_adp;
    c.beta = r.beta;
    c.tau_p = r.tau_p;
    c.v_th = r.v_th;
    c.vmax = 1.4;
    c.t_ref = 1;
    c.self_connections = false;
    c.hidden_bias = false;
    c.readout = "leaky-last";
    c.init = "normal";
    c.optim = "adam";
    c.wd = 0.0;
    c.lr = 0.1;
    c.scheduler = "step";
    c.lr_step = 10;
    c.lr_gamma = 0.8;
    c.drop = 0.0;
    c.epochs = 100;
    c.batch_size = 256;
  } else {
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
