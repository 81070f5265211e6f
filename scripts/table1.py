#!/usr/bin/env python3
"""Write docs/results/table1/README.md (and the results table of the main README) from
the runs under docs/results/table1/*/: every row's status against the paper's Table 1.

    python3 scripts/table1.py            # rewrite both files
    python3 scripts/table1.py --check    # exit 1 if either file is out of date
    python3 scripts/table1.py --check --committed   # the same for the files of git's HEAD
                                                    # (a run in progress may change the others)
    python3 scripts/table1.py --queue    # the rows in the order they run, a line each:
                                         # ROW PRESET [asrc-train flags] (scripts/table1-queue.sh)

Standard library only. Each row folder holds the log.csv and config.txt that asrc-train
writes; console.txt's '+ ...' lines are the commands that ran it (scripts/reproduce.sh).
"""
import argparse
import csv
import io
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE1 = os.path.join(ROOT, "docs", "results", "table1")
MAIN_README = os.path.join(ROOT, "README.md")
COMMITTED = False  # read files as git's HEAD has them (--committed)
BEGIN, END = "<!-- table1: begin (scripts/table1.py) -->", "<!-- table1: end -->"

# Table 1 of the paper (arXiv 2505.11455), test accuracy in percent.
PAPER = {
    "gsc-src": 96.18, "gsc-asrc": 96.29, "ssc-src": 81.83, "ssc-asrc": 81.91,
    "smnist-src": 99.32, "smnist-src-212": 99.38, "smnist-asrc": 99.57,
    "psmnist-src": 94.78, "psmnist-src-212": 96.36, "psmnist-asrc": 95.40,
    "psmnist-asrc-212": 96.62,
}
# The rows in the order they run (scripts/table1-queue.sh): name, preset, the flags beyond
# the preset. The clean-protocol row chooses its epoch on 5,000 held-out training images.
QUEUE = [
    ("smnist-src", "smnist-src", []), ("psmnist-asrc", "psmnist-asrc", []),
    ("smnist-asrc", "smnist-asrc", []), ("psmnist-src", "psmnist-src", []),
    ("smnist-src-valid5000", "smnist-src", ["--valid-split", "5000"]),
    ("smnist-src-212", "smnist-src-212", []), ("psmnist-src-212", "psmnist-src-212", []),
    ("psmnist-asrc-212", "psmnist-asrc-212", []),
]
# The order of the tables: the queue's, with the clean-protocol row beside the row it repeats;
# other folders follow by name.
ORDER = [q[0] for q in QUEUE if q[0] != "smnist-src-valid5000"]
ORDER.insert(1, "smnist-src-valid5000")


def read_text(path):
    """The file's text (None if missing), from git's HEAD with --committed."""
    if COMMITTED:
        rel = os.path.relpath(path, ROOT)
        r = subprocess.run(["git", "-C", ROOT, "show", "HEAD:" + rel], capture_output=True)
        return r.stdout.decode("utf-8", "replace") if r.returncode == 0 else None
    if not os.path.exists(path):
        return None
    with open(path, errors="replace") as f:
        return f.read()


def exists(path):
    return read_text(path) is not None if COMMITTED else os.path.exists(path)


def list_rows():
    if COMMITTED:
        rel = os.path.relpath(TABLE1, ROOT)
        r = subprocess.run(["git", "-C", ROOT, "ls-tree", "--name-only", "HEAD", rel + "/"],
                           capture_output=True, text=True)
        return sorted(os.path.basename(n) for n in r.stdout.split() if exists(os.path.join(ROOT, n, "log.csv")))
    if not os.path.isdir(TABLE1):
        return []
    return sorted(d for d in os.listdir(TABLE1) if os.path.isdir(os.path.join(TABLE1, d)))


def read_config(folder):
    cfg = {}
    text = read_text(os.path.join(folder, "config.txt"))
    if text is not None:
        for line in text.splitlines(True):
            parts = line.rstrip("\n").split(" ", 1)
            if parts and parts[0].startswith("--"):
                cfg[parts[0][2:]] = parts[1] if len(parts) > 1 else ""
    return cfg


def read_log(folder):
    text = read_text(os.path.join(folder, "log.csv"))
    return list(csv.DictReader(io.StringIO(text))) if text else []


def commands(folder):
    text = read_text(os.path.join(folder, "console.txt"))
    out = []
    if text is not None:
        for line in text.splitlines(True):
            if line.startswith("+ "):
                words = line[2:].split()
                out.append(" ".join(words[2:]) if len(words) > 2 else line[2:].strip())
    return out


def row_of(name):
    folder = os.path.join(TABLE1, name)
    cfg, log = read_config(folder), read_log(folder)
    if not log:
        return None
    preset = cfg.get("preset") or name
    total = int(cfg.get("epochs", "0") or 0)
    done = len(log)
    valid = int(cfg.get("valid-split", "0") or 0) > 0
    # Selection: best test accuracy (the paper's protocol) or best validation accuracy.
    key = "valid_acc" if valid else "test_acc"
    best = max(range(done), key=lambda i: (float(log[i][key]), -i))
    last = log[-1]
    secs = sum(float(r["seconds"]) for r in log)
    recent = [float(r["seconds"]) for r in log[-10:]]
    sps = [float(r["samples_per_s"]) for r in log]
    starts = [c for c in commands(folder) if " --resume " not in " " + c + " "]
    return {
        "name": name, "preset": preset, "done": done, "total": total, "valid": valid,
        "best_epoch": best + 1, "best_test": float(log[best]["test_acc"]),
        "best_valid": float(log[best]["valid_acc"]) if valid else None,
        "last_test": float(last["test_acc"]), "paper": PAPER.get(preset),
        "hours": secs / 3600.0, "sps": sum(sps) / len(sps),
        "model": "%s %s, %s, skip %s" % (cfg.get("task", "?"), cfg.get("model-version", "?"),
                                         cfg.get("layers", "?"), cfg.get("skip", "?")),
        # The command that started the row (resumes repeat it); for a row started by hand
        # rather than by reproduce.sh, the one config.txt implies.
        "command": starts[0] if starts else "asrc-train --preset %s --results-dir %s --dataset-dir %s --threads %s" % (
            preset, cfg.get("results-dir", "?"), cfg.get("dataset-dir", "?"), cfg.get("threads", "0")),
        "running": done < total,
        # Training hours still to go at the pace of the last 10 epochs.
        "left": (total - done) * sum(recent) / len(recent) / 3600.0,
    }


def fmt_row(r, link):
    hours = "%.0f" % r["left"]
    status = "running, %d of %d epochs (about %s training hour%s left)" % (
        r["done"], r["total"], hours, "" if hours == "1" else "s") if r["running"] else "done, %d epochs" % r["done"]
    if r["valid"]:
        best = "%.2f (epoch %d, chosen on validation %.2f)" % (r["best_test"], r["best_epoch"],
                                                               r["best_valid"])
    else:
        best = "%.2f (epoch %d)" % (r["best_test"], r["best_epoch"])
    paper = "%.2f" % r["paper"] if r["paper"] is not None else "-"
    diff = "%+.2f" % (r["best_test"] - r["paper"]) if r["paper"] is not None else "-"
    name = "[%s](%s)" % (r["name"], link + r["name"] + "/") if link is not None else r["name"]
    return "| %s | %s | %s | %s | %.2f | %s | %s | %.0f | %.1f |" % (
        name, r["model"], status, best, r["last_test"], paper, diff, r["sps"], r["hours"])


HEADER = ("| row | model | status | best test accuracy % | last | paper | best - paper | "
          "samples/s | training hours |\n|---|---|---|---|---|---|---|---|---|")


def rows():
    names = list_rows()
    names.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return [r for r in (row_of(n) for n in names) if r is not None]


def table(rs, link):
    return "\n".join([HEADER] + [fmt_row(r, link) for r in rs])


def table1_readme(rs):
    lines = [
        "# Table 1 at the published protocol",
        "",
        "Written by `python3 scripts/table1.py` from the `log.csv` of each folder here; do not",
        "edit by hand. Each row runs with `scripts/reproduce.sh ROW` (200 epochs on (PS-)MNIST,",
        "seed 0, the preset unchanged) and continues from its `last.ckpt` with the same command.",
        "\"Best\" is the best test accuracy over the epochs run so far (the paper's protocol, which",
        "selects on the test set); rows with `--valid-split` select the epoch on held-out training",
        "data and report the test accuracy at that epoch. Training hours count the training",
        "passes only (not the test passes); samples/s is their mean over epochs; the hours left",
        "of a running row are its remaining epochs at the pace of its last 10.",
        "",
        table(rs, ""),
        "",
        "Commands (the first that started each row; later lines of its `console.txt` resume it):",
        "",
    ]
    for r in rs:
        lines.append("- `%s`: `%s`" % (r["name"], r["command"]))
    lines += ["", "Check a finished row's best accuracy: `build/examples/asrc-train --eval-only "
              "docs/results/table1/ROW/best.ckpt --dataset-dir data/mnist`."]
    if any(exists(os.path.join(TABLE1, r["name"], "curve.png")) for r in rs):
        lines += ["", "Learning curves (`python3 scripts/curves.py`):", ""]
        for r in rs:
            if exists(os.path.join(TABLE1, r["name"], "curve.png")):
                lines.append("![%s](%s/curve.png)" % (r["name"], r["name"]))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only check that the files are current")
    ap.add_argument("--committed", action="store_true",
                    help="with --check: read every file as git's HEAD has it")
    ap.add_argument("--queue", action="store_true",
                    help="print the rows in the order they run: ROW PRESET [flags], a line each")
    args = ap.parse_args()
    if args.queue:
        for name, preset, flags in QUEUE:
            print(" ".join([name, preset] + flags))
        return 0
    global COMMITTED
    # Outside a git checkout (an exported tarball) the working tree is what was committed.
    in_git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "-q", "HEAD"],
                            capture_output=True).returncode == 0 if args.committed else False
    COMMITTED = args.committed and args.check and in_git
    rs = rows()
    want = table1_readme(rs)
    path = os.path.join(TABLE1, "README.md")
    stale = []
    have = read_text(path)
    if have != want:
        stale.append(path)
        if not args.check:
            os.makedirs(TABLE1, exist_ok=True)
            with open(path, "w") as f:
                f.write(want)
    text = read_text(MAIN_README)
    if text is not None:
        if BEGIN in text and END in text:
            a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
            new = text[:a] + "\n" + table(rs, "docs/results/table1/") + "\n" + text[b:]
            if new != text:
                stale.append(MAIN_README)
                if not args.check:
                    with open(MAIN_README, "w") as f:
                        f.write(new)
    if args.check and stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    for p in stale:
        print("wrote " + os.path.relpath(p, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
