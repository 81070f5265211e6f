#!/usr/bin/env python3
"""Learning curves of the Table 1 runs: docs/results/table1/ROW/curve.png for each row
folder with a log.csv (test accuracy and loss per epoch, the training loss beside it).

    python3 scripts/curves.py                     # every row under docs/results/table1/
    python3 scripts/curves.py path/to/run ...     # given run folders (each with log.csv)

Needs Debian's python3-matplotlib (scripts/deps.sh python3-matplotlib).
"""
import csv
import os
import sys

try:
    import matplotlib
except ImportError:
    print("curves.py: needs matplotlib (Debian: apt-get install python3-matplotlib)", file=sys.stderr)
    sys.exit(77)  # "skipped" to ctest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from table1 import PAPER, TABLE1, read_config  # noqa: E402


def plot(folder):
    with open(os.path.join(folder, "log.csv"), newline="") as f:
        log = list(csv.DictReader(f))
    if not log:
        return None
    cfg = read_config(folder)
    preset = cfg.get("preset") or os.path.basename(folder.rstrip("/"))
    total = int(cfg.get("epochs", "0") or 0)
    ep = [int(r["epoch"]) + 1 for r in log]
    test_acc = [float(r["test_acc"]) for r in log]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    a1.plot(ep, test_acc, color="#1f6fb4", lw=1.6, label="test")
    a1.plot(ep, [float(r["train_acc"]) for r in log], color="#999999", lw=1.0, label="train (running mean)")
    if int(cfg.get("valid-split", "0") or 0) > 0:
        a1.plot(ep, [float(r["valid_acc"]) for r in log], color="#2a9d55", lw=1.2, label="validation")
    if preset in PAPER:
        a1.axhline(PAPER[preset], color="#d1495b", ls="--", lw=1.0, label="paper %.2f%%" % PAPER[preset])
    best = max(range(len(log)), key=lambda i: test_acc[i])
    a1.plot([ep[best]], [test_acc[best]], "o", color="#1f6fb4", ms=4)
    a1.annotate("%.2f%%" % test_acc[best], (ep[best], test_acc[best]), textcoords="offset points",
                xytext=(-10, -14), fontsize=8)
    # Zoom on the interesting range once the run has left chance.
    lo = min(test_acc[len(test_acc) // 4:] or test_acc)
    a1.set_ylim(max(0.0, min(lo, PAPER.get(preset, lo)) - 2.0), 100.0)
    a1.set_xlabel("epoch")
    a1.set_ylabel("accuracy (%)")
    a1.legend(loc="lower right", fontsize=8)
    a1.grid(alpha=0.3)
    a2.semilogy(ep, [float(r["test_loss"]) for r in log], color="#1f6fb4", lw=1.6, label="test")
    a2.semilogy(ep, [float(r["train_loss"]) for r in log], color="#999999", lw=1.0, label="train")
    a2.set_xlabel("epoch")
    a2.set_ylabel("cross-entropy loss")
    a2.legend(loc="upper right", fontsize=8)
    a2.grid(alpha=0.3, which="both")
    for a in (a1, a2):
        a.set_xlim(1, max(total, ep[-1]))
    state = "%d of %d epochs (running)" % (len(log), total) if len(log) < total else "%d epochs" % len(log)
    fig.suptitle("%s: %s %s %s, skip %s; %s" % (os.path.basename(folder.rstrip("/")), cfg.get("task", ""),
                                                cfg.get("model-version", ""), cfg.get("layers", ""),
                                                cfg.get("skip", ""), state), fontsize=10)
    fig.tight_layout()
    out = os.path.join(folder, "curve.png")
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv):
    folders = argv or [os.path.join(TABLE1, d) for d in sorted(os.listdir(TABLE1))
                       if os.path.exists(os.path.join(TABLE1, d, "log.csv"))]
    for d in folders:
        if not os.path.exists(os.path.join(d, "log.csv")):
            print("curves.py: no log.csv in %s" % d, file=sys.stderr)
            return 2
        out = plot(d)
        if out:
            print("wrote " + out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
