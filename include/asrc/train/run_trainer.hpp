#pragma once
// asrc-train's trainer: the training loop (train/trainer.hpp) on a Network<float> and
// Adam, set up from the command line's settings (train/run_config.hpp).
#include "asrc/optim/adam.hpp"
#include "asrc/train/run_config.hpp"
#include "asrc/train/trainer.hpp"

namespace asrc {

/// The RunConfig's training settings (validated; the results folder defaults to
/// results/<run name>) and its whole text as the run's record.
inline TrainSettings train_settings(const RunConfig& c) {
  TrainSettings s;
  s.epochs = c.epochs;
  s.batch_size = c.batch_size;
  s.seed = c.seed;
  s.results_dir = c.results_dir;
  s.max_loss = c.max_loss;
  s.de_tau = c.de_tau;
  s.lr = c.lr;
  s.lr_skip = c.lr_skip;
  s.lr_neuron = c.lr_neuron;
  s.wd = c.wd;
  s.clip_grad_norm = c.clip_grad_norm;
  s.clip_weights = c.clip_weights;
  s.schedule = c.schedule();
  s.step = c.step_schedule();
  s.record = c.to_map();
  return s;
}

namespace detail {
/// Holds the RunConfig, validated and completed before the trainer is built from it.
struct CheckedRunConfig {
  explicit CheckedRunConfig(RunConfig c) : cfg(std::move(c)) {
    cfg.validate();
    if (cfg.results_dir.empty()) cfg.results_dir = "results/" + cfg.run_name();
  }
  RunConfig cfg;
};
}  // namespace detail

class Trainer : private detail::CheckedRunConfig, public BasicTrainer<Network<float>, Adam<float>> {
 public:
  Trainer(RunConfig cfg, std::shared_ptr<const Dataset> train, std::shared_ptr<const Dataset> test,
          std::shared_ptr<const Dataset> valid = nullptr)
      : detail::CheckedRunConfig(std::move(cfg)),
        BasicTrainer(train_settings(this->cfg), this->cfg.network_config(),
                     Adam<float>(this->cfg.optim == "adamw" ? AdamMode::adamw : AdamMode::adam), std::move(train),
                     std::move(test), std::move(valid)) {}

  const RunConfig& config() const { return cfg; }
};

}  // namespace asrc
