#!/usr/bin/env python3
"""Status table of resumable runs (folders with log.jsonl and config.txt), as Markdown.

    scripts/run_status.py docs/results/scsr/scsr-psmnist docs/results/scsr/scsr-psmnist-nobip

For each run: epochs done of the planned, the last epoch's test accuracy, and, when the
run holds out a validation split, the best validation accuracy with its epoch and the test
accuracy at that epoch (the honest pick: the epoch is chosen without the test set).
"""
import json
import os
import sys


def planned_epochs(run):
    with open(os.path.join(run, "config.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "--epochs":
                return int(parts[1])
    return None


def read_log(run):
    """The run's log.jsonl records, in order ([] when it has none)."""
    path = os.path.join(run, "log.jsonl")
    log = []
    if os.path.exists(path):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    log.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}: line {n}: expected a JSON object ({e})")
    return log


def best_valid(log):
    """The record with the best validation accuracy (the earliest on ties), None without a
    validation split."""
    valid = [e for e in log if e.get("valid_acc") is not None and e.get("valid_acc", 0) > 0]
    return max(valid, key=lambda e: (e["valid_acc"], -e["epoch"])) if valid else None


def row(run):
    log = read_log(run)
    if not log:
        return f"| {os.path.basename(run)} | 0 of {planned_epochs(run)} | | | |"
    last = log[-1]
    done = last["epoch"] + 1
    plan = planned_epochs(run)
    status = f"{done} of {plan}" + (" (done)" if plan == done else "")
    best = best_valid(log)
    if best:
        pick = f"{best['valid_acc']:.2f} % (epoch {best['epoch'] + 1}; test {best['test_acc']:.2f} % there)"
    else:
        pick = "no validation split"
    rates = ", ".join(f"{r:.3f}" for r in last.get("spike_rates", []))
    return f"| {os.path.basename(run)} | {status} | {last['test_acc']:.2f} % | {pick} | {rates} |"


def main(runs):
    print("| run | epochs done | test acc (last epoch) | best valid acc (epoch; test there) | spike rates per layer (last epoch) |")
    print("|---|---|---|---|---|")
    for run in runs:
        print(row(run))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
