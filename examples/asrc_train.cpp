// asrc-train: trains and evaluates the models of Table 1 of the ASRC-SNN paper.
//
//   asrc-train --preset smnist-asrc --dataset-dir data/mnist
//   asrc-train --preset psmnist-src-212 --epochs 50 --threads 2
//   asrc-train --resume results/smnist-asrc
//   asrc-train --eval-only results/smnist-asrc/best.ckpt --dataset-dir data/mnist
//   asrc-train --preset smnist-src --time-limit 150   # stop (exit 75) before 150 minutes pass
//   mpirun -np 4 asrc-train --preset smnist-src --threads 1   (data parallel, see README)
//
// Flags follow the authors' main.py where it has them; --help lists them all.
#include <asrc/asrc.hpp>
#include <asrc/train/tasks.hpp>
#include <asrc/train/run_trainer.hpp>
#ifdef ASRC_WITH_MPI
#include <asrc/parallel/mpi_communicator.hpp>
#endif

#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>

#include "build_commit.hpp"

using namespace asrc;

namespace {

/// Exit status when --time-limit stopped the run with a resumable last.ckpt (sysexits'
/// EX_TEMPFAIL: not an error, run the printed --resume command to continue).
constexpr int kExitTimeLimit = 75;

/// When the program started; --time-limit counts from here.
const auto kProgramStart = std::chrono::steady_clock::now();

void print_help() {
  const RunConfig d = make_preset("smnist-asrc");
  const auto defaults = d.to_map();
  std::printf("usage: asrc-train [--preset NAME] [--flag value ...]\n\n");
  std::printf("Trains a recurrent spiking network (SRC / ASRC / RSNN / FF; LIF or Zeng et al. neurons) with BPTT.\n");
  std::printf("Defaults are those of the smnist-asrc preset.\n\n");
  for (const auto& f : run_flags()) {
    std::string left = std::string("--") + f.name + (f.value[0] ? std::string(" ") + f.value : "");
    std::string def;
    auto it = defaults.find(f.name);
    if (it != defaults.end() && !it->second.empty()) def = " [default: " + it->second + "]";
    std::printf("  %-38s %s%s\n", left.c_str(), f.help, def.c_str());
  }
  std::printf("\npresets:");
  for (const auto& n : preset_names()) std::printf(" %s", n.c_str());
  std::printf("\n");
}

/// Flags that may differ between a checkpoint's run and the command that continues it:
/// where things are and how fast they run, never what is computed. Evaluation may also
/// change how the test set is cut into batches and how much of it is read.
const std::set<std::string> kRunFlags = {"threads", "dataset-dir", "cache-dir"};  // RunConfig settings
const std::set<std::string> kEvalFlags = {"batch-size", "chunk-size", "limit-test"};
const std::set<std::string> kProgramFlags = {"time-limit", "resume", "eval-only", "mpi-reduce", "count-params"};
bool is_runtime_flag(const std::string& k, bool eval) {
  return kRunFlags.count(k) > 0 || kProgramFlags.count(k) > 0 || (eval && kEvalFlags.count(k) > 0);
}

/// The configuration a checkpoint was trained with (its `config.*` entries), with the
/// run-time flags of this command applied. Any other flag must agree with the checkpoint.
RunConfig config_from_checkpoint(const Checkpoint& c, const std::string& path,
                                 const std::vector<std::pair<std::string, std::string>>& opts, bool eval) {
  RunConfig saved = run_config_of(c, path);
  for (const auto& [k, v] : opts) {
    if (k == "preset") {
      require(v == saved.preset, "asrc-train", "--preset " + saved.preset + " (the preset of " + path + ")", v);
      continue;
    }
    if (is_runtime_flag(k, eval)) {
      if (kProgramFlags.count(k) == 0) saved.set(k, v);
      continue;
    }
    RunConfig probe = saved;
    probe.set(k, v);
    require(probe.to_map() == saved.to_map(), "asrc-train",
            str_cat("--", k, " as in ", path, " (", saved.to_map()[k], "; only --threads, --dataset-dir, "
                    "--cache-dir, --time-limit, --mpi-reduce", eval ? ", --batch-size, --chunk-size, --limit-test" : "",
                    " may change)"),
            v);
  }
  return saved;
}

int run(int argc, char** argv, Communicator& comm) {
  // Rank 0 alone prints; the others keep stderr for their own errors.
  if (!comm.root() && !std::freopen("/dev/null", "w", stdout))
    fail_expected("asrc-train", "/dev/null to silence ranks other than 0", "an error opening it");
  const auto opts = split_command_line(std::vector<std::string>(argv + 1, argv + argc));
  RunConfig cfg = make_preset("smnist-asrc");
  cfg.preset.clear();
  std::string resume, eval_only;
  double time_limit_min = 0;
  bool count_params = false, exact_reduce = true;
  for (const auto& [k, v] : opts) {
    if (k == "help") {
      print_help();
      return 0;
    }
    if (k == "version") {
      print_version("asrc-train");
      return 0;
    }
    if (k == "preset") cfg = make_preset(v);
    if (k == "resume") resume = v;
    if (k == "eval-only") eval_only = v;
  }
  require(resume.empty() || eval_only.empty(), "asrc-train", "either --resume or --eval-only",
          "both");
  std::vector<int> saved_perm;
  const std::string from = !resume.empty() ? join_path(resume, "last.ckpt") : eval_only;
  if (!from.empty()) {
    // The run's own configuration comes from its checkpoint.
    const Checkpoint c = load_checkpoint(from);
    cfg = config_from_checkpoint(c, from, opts, !eval_only.empty());
    if (!resume.empty()) cfg.results_dir = resume;
    if (c.has_ints("permutation"))
      for (auto p : c.ints_at("permutation")) saved_perm.push_back(int(p));
  }
  for (const auto& [k, v] : opts) {
    if (k == "preset" || k == "resume" || k == "eval-only") continue;
    if (k == "count-params") count_params = true;
    else if (k == "time-limit") time_limit_min = parse_number("asrc-train", "time-limit", v);
    else if (k == "mpi-reduce") {
      require(v == "exact" || v == "allreduce", "asrc-train", "--mpi-reduce exact|allreduce", v);
      exact_reduce = v == "exact";
    }
    else if (from.empty()) cfg.set(k, v);
  }
  require(time_limit_min >= 0 && std::isfinite(time_limit_min), "asrc-train",
          "--time-limit MINUTES >= 0 (0: none)", time_limit_min);
  cfg.validate();
  if (count_params) {
    std::printf("%ld\n", long(Network<float>::count_params(cfg.network_config())));
    return 0;
  }

  {
    // Before reading any data: the parameters, their gradient and Adam's two moments.
    const Index n = Network<float>::count_params(cfg.network_config());
    require_memory("asrc-train", str_cat(n, " parameters with their gradient and optimizer state"),
                   4.0 * double(n) * double(sizeof(float)));
  }
  const TaskData data = load_task(cfg, saved_perm.empty() ? nullptr : &saved_perm, &comm);
  std::cout << "asrc-train: " << cfg.run_name() << "  " << cfg.model << " layers";
  for (Index h : cfg.layers) std::cout << " " << h;
  if (cfg.model == "SRC" || cfg.model == "ASRC") std::cout << "  skip " << cfg.skip;
  if (cfg.neuron != "lif") std::cout << "  neuron " << cfg.neuron;
  std::cout << "  train: " << data.train->describe()
            << "  test: " << data.test->describe();
  if (data.valid) std::cout << "  valid: " << data.valid->describe();
  std::cout << std::endl;
  if (!data.notes.empty()) std::cout << "data: " << data.notes << std::endl;

  Trainer trainer(cfg, data.train, data.test, data.valid);
  trainer.comm = &comm;
  trainer.exact_reduce = exact_reduce;
  if (comm.size() > 1)
    std::cout << "data parallel: " << comm.size() << " ranks, "
              << (exact_reduce ? "exact (chunk-order) reduction" : "allreduce (not bitwise reproducible)") << std::endl;
  if (!data.permutation.empty())
    trainer.extra_ints["permutation"] = std::vector<std::int64_t>(data.permutation.begin(), data.permutation.end());
  std::cout << "parameters: " << trainer.network().num_params();
  if (eval_only.empty()) std::cout << "  results: " << trainer.config().results_dir;
  std::cout << std::endl;
  if (!eval_only.empty()) {
    trainer.load(eval_only, false);
    const EvalResult r = trainer.evaluate(*data.test);
    const long correct = std::lround(r.accuracy * double(r.samples) / 100.0);
    std::printf("test loss %.4f  accuracy %.2f%% (%ld of %ld correct)\n", r.loss, r.accuracy, correct,
                long(r.samples));
    return 0;
  }
  if (!resume.empty()) {
    trainer.load(join_path(resume, "last.ckpt"), true);
    std::cout << "resumed at epoch " << trainer.next_epoch() + 1 << " of " << cfg.epochs << std::endl;
  }
  trainer.time_limit_s = time_limit_min * 60.0;
  trainer.elapsed = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - kProgramStart).count();
  };
  install_stop_handlers();
  const std::string again = "\n  resume with: asrc-train --resume " + trainer.config().results_dir;
  try {
    trainer.fit();
  } catch (const TimeLimitReached& e) {  // every rank stops before the same batch; rank 0 says so
    if (comm.root()) std::cout << "asrc-train: " << e.what() << again << std::endl;
    return kExitTimeLimit;
  } catch (const Interrupted& e) {
    if (comm.root()) std::cerr << "asrc-train: " << e.what() << again << std::endl;
    return 130;
  } catch (const NonFiniteError& e) {  // identical on every rank (identical weights)
    if (comm.root()) std::cerr << "asrc-train: stopped: " << e.what() << again << std::endl;
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef ASRC_WITH_MPI
  // MPI only when started by mpirun: a plain start is one process without MPI_Init.
  std::unique_ptr<MpiCommunicator> mpi;
  if (MpiCommunicator::launched()) mpi = std::make_unique<MpiCommunicator>(&argc, &argv);
  Communicator& comm = mpi ? static_cast<Communicator&>(*mpi) : single_process();
#else
  Communicator& comm = single_process();
  if (const char* n = std::getenv("OMPI_COMM_WORLD_SIZE"); n && std::string(n) != "1") {
    std::cerr << "asrc-train: error: started by mpirun with " << n
              << " processes, but built without MPI (install libopenmpi-dev, reconfigure)" << std::endl;
    return 2;
  }
#endif
  try {
    return run(argc, argv, comm);
  } catch (const std::exception& e) {
    // One write: lines of several ranks reach mpirun's output interleaved otherwise.
    const std::string where = comm.size() > 1 ? str_cat(" on rank ", comm.rank(), " of ", comm.size()) : "";
    std::cerr << str_cat("asrc-train: error", where, ": ", e.what(), "\n") << std::flush;
    // The other ranks may be waiting for this one in a collective: end them all.
    if (comm.size() > 1) comm.abort(2);
    return 2;
  }
}
