#!/usr/bin/python3
"""Hyper-parameter search with Optuna's TPE sampler, as Zeng et al. (2022) tuned their SNNs,
over asrc-train runs (Debian: python3-optuna).

  scripts/tune.py --space scripts/tune-space-smnist.json --out results/tune-smnist --trials 20 \\
      -- --preset smnist-src --epochs 2 --limit-train 4096 --limit-test 1024 --valid-split 1024 \\
         --dataset-dir data/mnist --threads 2

Each trial runs `asrc-train FIXED_FLAGS SAMPLED_FLAGS --results-dir OUT/trial-NNNN` as a
subprocess. Its per-epoch log.csv feeds the pruner (trial.report per epoch; a pruned trial's
trainer gets SIGTERM, which asrc-train answers by saving last.ckpt and exiting). The study
lives in OUT/study.db (SQLite): running the same command again continues it until --trials
trials have finished (complete or pruned). Results: OUT/trials.csv (one row per trial) and
OUT/best_command.txt (the best configuration as an asrc-train command line).

Objective (maximised): the accuracy of the last logged epoch on the validation split when the
fixed flags hold one out (--valid-split N: what Zeng et al. did, 256 validation images), on the
test set otherwise; --objective best takes the best epoch's instead. Zeng et al. used the default
TPE sampler and no pruning (--pruner none); the default here is Optuna's median pruner.

Search space file (JSON, or TOML by its .toml extension), one entry per asrc-train flag:
  {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": true},
   "skip": {"type": "int", "low": 1, "high": 41},
   "decay-para": {"type": "categorical", "choices": [0.3, 0.5, 0.7]}}
"""
import argparse
import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time

try:
    import optuna
except ImportError:  # the ctest wrapper turns this into a skip
    sys.stderr.write("tune.py: error: expected python3-optuna (apt-get install python3-optuna), got none\n")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    sys.stderr.write("tune.py: error: %s\n" % msg)
    sys.exit(2)


def load_space(path):
    try:
        if path.endswith(".toml"):
            import tomllib
            with open(path, "rb") as f:
                space = tomllib.load(f)
        else:
            with open(path) as f:
                space = json.load(f)
    except (OSError, ValueError) as e:
        fail("expected a readable JSON/TOML search space, got %s: %s" % (path, e))
    if not isinstance(space, dict) or not space:
        fail("expected a table of flags in %s, got %r" % (path, space))
    for name, s in space.items():
        t = s.get("type") if isinstance(s, dict) else None
        if t in ("float", "int"):
            if not all(k in s for k in ("low", "high")) or not s["low"] < s["high"]:
                fail("expected low < high for %s in %s, got %r" % (name, path, s))
        elif t == "categorical":
            if not isinstance(s.get("choices"), list) or not s["choices"]:
                fail("expected a non-empty list of choices for %s in %s, got %r" % (name, path, s))
        else:
            fail("expected type float|int|categorical for %s in %s, got %r" % (name, path, t))
        if name.startswith("-"):
            fail("expected flag names without dashes in %s, got %r" % (path, name))
    return space


def suggest(trial, space):
    p = {}
    for name, s in space.items():
        if s["type"] == "float":
            p[name] = trial.suggest_float(name, float(s["low"]), float(s["high"]), log=bool(s.get("log", False)),
                                          step=s.get("step"))
        elif s["type"] == "int":
            p[name] = trial.suggest_int(name, int(s["low"]), int(s["high"]), log=bool(s.get("log", False)),
                                        step=int(s.get("step", 1)))
        else:
            p[name] = trial.suggest_categorical(name, s["choices"])
    return p


def flag_value(v):
    return repr(v) if isinstance(v, float) else str(v)


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def metric(row, use_valid):
    return float(row["valid_acc"] if use_valid else row["test_acc"])


def objective_factory(args, space, fixed, use_valid):
    def objective(trial):
        params = suggest(trial, space)
        run_dir = os.path.join(args.out, "trial-%04d" % trial.number)
        cmd = [args.train] + fixed
        for k, v in params.items():
            cmd += ["--" + k, flag_value(v)]
        cmd += ["--results-dir", run_dir]
        os.makedirs(run_dir, exist_ok=True)
        trial.set_user_attr("command", " ".join(shlex.quote(c) for c in cmd))
        print("tune.py: trial %d: %s" % (trial.number, " ".join("--%s %s" % (k, flag_value(v)) for k, v in params.items())),
              flush=True)
        with open(os.path.join(run_dir, "console.txt"), "w") as console:
            proc = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT)
            seen, best, start = 0, None, time.time()
            try:
                while True:
                    rc = proc.poll()
                    rows = read_log(os.path.join(run_dir, "log.csv"))
                    for r in rows[seen:]:  # one report per finished epoch
                        v = metric(r, use_valid)
                        best = v if best is None else max(best, v)
                        trial.report(v, int(r["epoch"]))
                        seen += 1
                        if trial.should_prune():
                            proc.send_signal(signal.SIGTERM)  # asrc-train saves last.ckpt and exits
                            proc.wait()
                            trial.set_user_attr("epochs", seen)
                            raise optuna.TrialPruned("pruned at epoch %s with %.2f%%" % (r["epoch"], v))
                    if rc is not None:
                        break
                    if args.trial_timeout and time.time() - start > args.trial_timeout:
                        proc.send_signal(signal.SIGTERM)
                        proc.wait()
                        raise RuntimeError("trial %d exceeded --trial-timeout %g s" % (trial.number, args.trial_timeout))
                    time.sleep(args.poll)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        trial.set_user_attr("epochs", seen)
        if rc != 0 or seen == 0:
            raise RuntimeError("trial %d: asrc-train exited %s after %d epoch(s); see %s/console.txt"
                               % (trial.number, rc, seen, run_dir))
        last = metric(rows[-1], use_valid)
        return best if args.objective == "best" else last
    return objective


def write_results(study, args, fixed, use_valid):
    trials = study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    path = os.path.join(args.out, "trials.csv")
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", "epochs", "seconds"] + names)
        for t in trials:
            secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else ""
            value = t.value if t.value is not None else (
                t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else "")
            w.writerow([t.number, t.state.name, value, t.user_attrs.get("epochs", ""),
                        "%.1f" % secs if secs != "" else ""] + [t.params.get(n, "") for n in names])
    os.replace(path + ".tmp", path)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        print("tune.py: no completed trial yet; wrote", path)
        return
    b = study.best_trial
    cmd = ["build/examples/asrc-train"] + [a for a in fixed if a] + \
        sum((["--" + k, flag_value(v)] for k, v in b.params.items()), [])
    with open(os.path.join(args.out, "best_command.txt"), "w") as f:
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in trials)
        f.write("# best of %d completed trials (%d more pruned): trial %d, %s accuracy %.2f%% (%s epoch)\n"
                % (len(done), pruned, b.number, "validation" if use_valid else "test", b.value, args.objective))
        f.write(" ".join(shlex.quote(c) for c in cmd) + "\n")
    print("tune.py: wrote %s and %s/best_command.txt; best trial %d: %.2f%% with %s"
          % (path, args.out, b.number, b.value, " ".join("--%s %s" % (k, flag_value(v)) for k, v in b.params.items())))


def make_pruner(spec):
    if spec == "none":
        return optuna.pruners.NopPruner()
    if spec == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if spec.startswith("threshold:"):
        try:
            return optuna.pruners.ThresholdPruner(lower=float(spec.split(":", 1)[1]))
        except ValueError:
            pass
    fail("expected --pruner median|none|threshold:LOWER, got %r" % spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", required=True, help="search space, JSON or TOML")
    ap.add_argument("--out", required=True, help="folder of the study (study.db, trials, results)")
    ap.add_argument("--trials", type=int, default=20, help="finished trials to reach (default 20)")
    ap.add_argument("--study-name", default="asrc")
    ap.add_argument("--seed", type=int, default=0, help="TPE sampler seed")
    ap.add_argument("--pruner", default="median", help="median | none | threshold:LOWER")
    ap.add_argument("--objective", choices=["last", "best"], default="last")
    ap.add_argument("--train", default=os.path.join(ROOT, "build", "examples", "asrc-train"))
    ap.add_argument("--trial-timeout", type=float, default=0, help="seconds per trial (0: none)")
    ap.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    ap.add_argument("fixed", nargs="*", help="-- then the asrc-train flags every trial shares")
    args = ap.parse_args()
    if args.trials < 1:
        fail("expected --trials >= 1, got %d" % args.trials)
    if not (os.path.isfile(args.train) and os.access(args.train, os.X_OK)):
        fail("expected an executable trainer (build asrc-train or pass --train), got %r" % args.train)
    space = load_space(args.space)
    fixed = list(args.fixed)
    for a in fixed:
        if a.lstrip("-") in space or a in ("--results-dir", "--resume"):
            fail("expected the searched flags, --results-dir and --resume to be left to tune.py, got %r "
                 "among the fixed flags" % a)
    use_valid = any(a == "--valid-split" or a.startswith("--valid-split=") for a in fixed)
    if use_valid:
        i = fixed.index("--valid-split") if "--valid-split" in fixed else -1
        if i >= 0 and i + 1 < len(fixed) and fixed[i + 1] == "0":
            use_valid = False
    os.makedirs(args.out, exist_ok=True)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage("sqlite:///" + os.path.abspath(os.path.join(args.out, "study.db")))
    study = optuna.create_study(study_name=args.study_name, storage=storage, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=args.seed),
                                pruner=make_pruner(args.pruner), load_if_exists=True)
    # A trial left RUNNING by a killed tune.py would never finish: mark it failed.
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    objective = objective_factory(args, space, fixed, use_valid)
    try:
        while len(study.get_trials(deepcopy=False, states=finished)) < args.trials:
            study.optimize(objective, n_trials=1, catch=(RuntimeError,))
            write_results(study, args, fixed, use_valid)
            failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
            if len(failed) >= max(3, args.trials):
                fail("expected trials that run, got %d failed ones (see %s/trial-*/console.txt)" % (len(failed), args.out))
    except KeyboardInterrupt:
        write_results(study, args, fixed, use_valid)
        sys.stderr.write("tune.py: interrupted; run the same command again to continue the study\n")
        sys.exit(130)
    write_results(study, args, fixed, use_valid)


if __name__ == "__main__":
    main()
