#!/usr/bin/env python3
"""The tables of docs/results/scsr/README.md, from the runs' log.jsonl files.

    scripts/scsr_tables.py            rewrite the tables between their markers in place
    scripts/scsr_tables.py --check    exit 1 if the README differs from what the logs give

Each table sits between "<!-- scsr:NAME -->" and "<!-- /scsr:NAME -->" lines; the text
around them is written by hand. Epochs are numbered from 1 (log epoch + 1). A run is
"done" when its log has as many epochs as its config.txt asks for (--epochs).
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_status import best_valid, planned_epochs, read_log  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "results", "scsr")
README = os.path.join(ROOT, "README.md")

# (folder, column title); the four ScSr runs, then the same-epoch baselines.
SCSR = [
    ("scsr-psmnist-noclip", "no clip, BIP"),
    ("scsr-psmnist-nobip-noclip", "no clip, no BIP"),
    ("scsr-psmnist", "clip, BIP"),
    ("scsr-psmnist-nobip", "clip, no BIP"),
]
BASELINES = [("psmnist-src-20ep", "SRC"), ("psmnist-asrc-20ep", "ASRC")]
NORMS = [("scsr-psmnist", "clip, BIP: largest norm"), ("scsr-psmnist-nobip", "clip, no BIP: largest norm")]


def load(folder):
    """(records by epoch, epochs asked for) of one run; ([], None) when it has no log."""
    run = os.path.join(ROOT, folder)
    recs = read_log(run)
    epochs = planned_epochs(run) if os.path.exists(os.path.join(run, "config.txt")) else None
    return recs, epochs


def fmt_norm(x):
    s = f"{x:.2g}"
    return s.replace("e+0", "e+").replace("e-0", "e-")


def per_epoch_table():
    runs = {f: load(f) for f, _ in SCSR + BASELINES}
    cols = SCSR + BASELINES
    n = max(max(len(recs) for recs, _ in runs.values()), max((ep or 0) for _, ep in runs.values()))
    head = "| epoch | " + " | ".join(t for _, t in cols) + " | " + " | ".join(t for _, t in NORMS) + " |"
    lines = [head, "|" + "---|" * (1 + len(cols) + len(NORMS))]
    for e in range(n):
        cells = []
        for f, _ in cols:
            recs = runs[f][0]
            if e < len(recs):
                r = recs[e]
                cells.append(f"{r['valid_acc']:.2f} / {r['test_acc']:.2f} %")
            else:
                cells.append("not started" if not recs else "not yet")
        for f, _ in NORMS:
            recs = runs[f][0]
            gn = recs[e].get("grad_norm") if e < len(recs) else None
            cells.append(fmt_norm(gn["max"]) if gn else "")
        lines.append(f"| {e + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best(folder):
    recs, epochs = load(folder)
    if not recs:
        return "not started"
    r = best_valid(recs)
    if r is None:
        return "no validation split"
    s = f"{r['valid_acc']:.2f} % (epoch {r['epoch'] + 1}; {r['test_acc']:.2f} %)"
    if epochs is not None and len(recs) < epochs:
        s = f"{len(recs)} of {epochs} epochs, best so far {s}"
    return s


def best_table():
    lines = ["| | BIP | no BIP |", "|---|---|---|"]
    lines.append(f"| no clip | {best('scsr-psmnist-noclip')} | {best('scsr-psmnist-nobip-noclip')} |")
    lines.append(f"| clip (the presets now) | {best('scsr-psmnist')} | {best('scsr-psmnist-nobip')} |")
    lines.append("")
    lines.append("| baseline (20 epochs, the same protocol) | best validation (epoch; test there) |")
    lines.append("|---|---|")
    for f, t in BASELINES:
        lines.append(f"| {t} (`{f}`) | {best(f)} |")
    return "\n".join(lines)


def render(text):
    tables = {"per-epoch": per_epoch_table(), "best": best_table()}
    for name, body in tables.items():
        pat = re.compile(r"(<!-- scsr:%s -->\n)(.*?)(<!-- /scsr:%s -->)" % (name, name), re.S)
        if not pat.search(text):
            sys.exit(f"scsr_tables.py: {README}: expected the markers <!-- scsr:{name} --> and <!-- /scsr:{name} -->")
        text = pat.sub(lambda m: m.group(1) + body + "\n" + m.group(3), text)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if the README is not current")
    a = ap.parse_args()
    with open(README) as f:
        old = f.read()
    new = render(old)
    if a.check:
        if new != old:
            print("scsr_tables.py: docs/results/scsr/README.md is not current; run scripts/scsr_tables.py")
            return 1
        return 0
    if new != old:
        tmp = README + ".tmp"
        with open(tmp, "w") as f:
            f.write(new)
        os.replace(tmp, README)
    return 0


if __name__ == "__main__":
    sys.exit(main())
