#!/usr/bin/python3
"""The paper's figures from asrc's own measurements (Debian: python3-matplotlib, python3-numpy).

  scripts/figures.py                     # every figure under docs/figures/ from committed data
  scripts/figures.py gradient-flow --init RSNN=a.csv SRC=b.csv --trained SRC=c.csv --out g.png
  scripts/figures.py kernels --log docs/results/smnist-asrc-7ep/log.jsonl --out k.png
  scripts/figures.py accuracy --log ASRC=docs/results/smnist-asrc-7ep/log.csv --out a.png
  scripts/figures.py sweep --csv sweep.csv --param lambda --out s.png

Inputs: the CSVs of `asrc-analyze gradient-flow` (layer,t,k,grad_norm,grad_norm_last_step),
the runs' log.jsonl / log.csv written by asrc-train, and the results.csv of scripts/sweep.sh
(value,status,epochs,best_acc,last_acc,...). A figure whose data is missing is not drawn:
the script says so instead of plotting anything in its place.
"""
import argparse
import csv
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_status import planned_epochs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLORS = {"RSNN": "#d62728", "SRC": "#1f77b4", "ASRC": "#2ca02c", "FF": "#7f7f7f"}
# Below this a norm is drawn at the floor: 0 means it fell below double's range (flushed).
FLOOR = 1e-300


def model_of(label):
    """The model a series label starts with ("RSNN, 3 epochs" -> "RSNN")."""
    return label.split()[0].rstrip(",") if label else ""


def fail(msg):
    sys.stderr.write("figures.py: error: %s\n" % msg)
    sys.exit(2)


def read_csv(path):
    if not os.path.exists(path):
        fail("expected a CSV file, got missing %s" % path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        fail("expected data rows in %s, got none" % path)
    return rows


def labelled(pairs):
    """LABEL=path arguments as [(label, path)]."""
    out = []
    for p in pairs or []:
        if "=" not in p:
            fail("expected LABEL=PATH, got %r" % p)
        k, v = p.split("=", 1)
        out.append((k, v))
    return out


def read_flow(path):
    """{layer: (k array, norm array, last-step norm array)} sorted by k."""
    layers = {}
    for r in read_csv(path):
        try:
            layers.setdefault(int(r["layer"]), []).append(
                (int(r["k"]), float(r["grad_norm"]), float(r["grad_norm_last_step"])))
        except (KeyError, ValueError):
            fail("expected layer,t,k,grad_norm,grad_norm_last_step in %s, got %s" % (path, list(r)))
    out = {}
    for l, v in layers.items():
        v.sort()
        a = np.array(v)
        out[l] = (a[:, 0], a[:, 1], a[:, 2])
    return out


def gradient_flow(init, trained, out, what="grad_norm_last_step"):
    cols = [("at initialisation", init), ("after training", trained)]
    cols = [(t, c) for t, c in cols if c]
    if not cols:
        fail("expected at least one --init or --trained CSV")
    data = [[(lab, read_flow(p)) for lab, p in c] for _, c in cols]
    nl = max(max(f.keys()) for d in data for _, f in d) + 1
    fig, axes = plt.subplots(nl, len(cols), figsize=(6.2 * len(cols), 2.6 * nl + 0.8),
                             sharex=True, sharey=True, squeeze=False)
    idx = 2 if what == "grad_norm_last_step" else 1
    for c, ((title, _), runs) in enumerate(zip(cols, data)):
        for l in range(nl):
            ax = axes[l][c]
            seen = []
            for lab, flow in runs:
                if l not in flow:
                    continue
                k, y = flow[l][0], flow[l][idx]
                model = model_of(lab)
                # A model's second run in one panel (a longer training) is drawn dashed.
                ls = "--" if model in seen else "-"
                seen.append(model)
                ax.semilogy(k, np.maximum(y, FLOOR), lw=0.9, ls=ls, color=COLORS.get(model), label=lab)
                zero = np.nonzero(y <= 0)[0]
                if len(zero):  # say where it underflowed instead of drawing a cliff silently
                    ax.plot(k[zero[0]], FLOOR, "v", color=COLORS.get(model), ms=5)
            # Training runs in float: below its smallest normal number, BPTT flushes to 0.
            ax.axhline(1.17549435e-38, color="0.5", ls=":", lw=0.8,
                       label="float32 smallest normal" if l == 0 else None)
            ax.grid(True, which="major", alpha=0.3)
            if c == 0:
                ax.set_ylabel("layer %d\n||dL[T-1]/dU[T-1-k]||" % (l + 1))
            if l == 0:
                ax.set_title(title)
            if l == nl - 1:
                ax.set_xlabel("k: steps back from the last step")
        axes[0][c].legend(fontsize=8, loc="upper right")
    fig.suptitle("Gradient of the last step's output reaching k steps back (S-MNIST, 784 steps, 64 test "
                 "images, computed in double; a triangle marks a fall to 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print("figures.py: wrote", out)


def factors(init, trained, out):
    """Eq. 5-7's scalar model: mean |dU[T-1]/dU[T-1-k]| per layer (asrc-analyze --factors)."""
    runs = [(lab, p, "-") for lab, p in init] + [(lab, p, "--") for lab, p in trained]
    if not runs:
        fail("expected at least one factors CSV")
    data = []
    for lab, p, ls in runs:
        layers = {}
        for r in read_csv(p):
            try:
                layers.setdefault(int(r["layer"]), []).append((int(r["k"]), float(r["mean_abs"])))
            except (KeyError, ValueError):
                fail("expected layer,k,mean_abs,alive_fraction in %s, got %s" % (p, list(r)))
        data.append((lab, ls, {l: np.array(sorted(v)) for l, v in layers.items()}))
    nl = max(max(d.keys()) for _, _, d in data) + 1
    fig, axes = plt.subplots(1, nl, figsize=(4.6 * nl, 4), sharey=True, squeeze=False)
    for l in range(nl):
        ax = axes[0][l]
        for lab, ls, d in data:
            if l in d:
                ax.semilogy(d[l][:, 0], np.maximum(d[l][:, 1], FLOOR), ls, lw=0.9,
                            color=COLORS.get(model_of(lab)), label=lab)
        ax.set_title("layer %d" % (l + 1))
        ax.set_xlabel("k")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("mean over neurons of |dU[T-1]/dU[T-1-k]|")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("Eq. 5-7 per neuron (own recurrent weight W_rec(i,i) only), on S-MNIST membrane traces; "
                 "solid: initialisation, dashed: trained", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print("figures.py: wrote", out)


def read_jsonl(path):
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                fail("expected JSON in %s line %d, got %s" % (path, n, e))
    if not recs:
        fail("expected epochs in %s, got none" % path)
    return recs


def kernels(log, out):
    recs = read_jsonl(log)
    if not recs[0].get("skip_kernels"):
        fail("expected skip_kernels (an ASRC run's log) in %s, got none" % log)
    nl = len(recs[0]["skip_kernels"])
    K = len(recs[0]["skip_kernels"][0])
    epochs = [r["epoch"] + 1 for r in recs]
    fig, axes = plt.subplots(1, nl, figsize=(3.6 * nl + 1, 4.2), squeeze=False)
    for l in range(nl):
        ax = axes[0][l]
        m = np.array([r["skip_kernels"][l] for r in recs]).T  # lag x epoch
        # Log colours: a nearly uniform early kernel (p ~ 1/T_lambda) still shows its shape.
        im = ax.imshow(np.maximum(m, 1e-4), aspect="auto", origin="lower", cmap="viridis",
                       norm=matplotlib.colors.LogNorm(vmin=1e-4, vmax=1),
                       extent=(epochs[0] - 0.5, epochs[-1] + 0.5, 0.5, K + 0.5))
        ax.plot(epochs, [r["lags"][l] for r in recs], "w.", ms=5)
        ax.set_title("layer %d (final lag %d)" % (l + 1, recs[-1]["lags"][l]))
        ax.set_xlabel("epoch")
        if l == 0:
            ax.set_ylabel("lag j (1..T_lambda)")
    fig.colorbar(im, ax=axes[0].tolist(), label="p_j = softmax(w / tau)_j (log scale, below 1e-4 clipped)")
    fig.suptitle("ASRC lag kernels during training (white dots: argmax lag); %s" % os.path.relpath(log, ROOT)
                 if os.path.isabs(log) else "ASRC lag kernels during training (white dots: argmax lag); %s" % log,
                 fontsize=9)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print("figures.py: wrote", out)


def accuracy_panel(ax, logs, title):
    models = [model_of(lab) for lab, _ in logs]
    for lab, path in logs:
        rows = read_csv(path)
        try:
            e = [int(r["epoch"]) + 1 for r in rows]
            test = [float(r["test_acc"]) for r in rows]
            train = [float(r["train_acc"]) for r in rows]
        except (KeyError, ValueError):
            fail("expected epoch,train_acc,test_acc columns in %s" % path)
        model = model_of(lab)
        color = COLORS.get(model) if models.count(model) == 1 else None
        mark = "o-" if len(e) <= 30 else "-"
        line, = ax.plot(e, test, mark, color=color, ms=3, label=lab + ", test")
        ax.plot(e, train, "--", color=line.get_color(), alpha=0.6, label=lab + ", train")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)


def accuracy(logs, out, protocol_logs=()):
    """Accuracy per epoch; with protocol_logs, a first panel of runs at the published
    protocol (Fig. 6 is the PS-MNIST ASRC one) beside the shortened runs."""
    if not logs and not protocol_logs:
        fail("expected at least one --log LABEL=log.csv")
    panels = ([(protocol_logs, "Table 1 runs at the published protocol (200 epochs)")] if protocol_logs else []) + \
        ([(logs, "Shortened runs (2-core CPU)")] if logs else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.2), squeeze=False)
    for ax, (pl, title) in zip(axes[0], panels):
        accuracy_panel(ax, pl, title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print("figures.py: wrote", out)


TASKS = {"smnist": "S-MNIST", "psmnist": "PS-MNIST", "ssc": "SSC", "shd": "SHD", "gsc": "GSC"}


def table1_logs(res):
    """(label, log.csv) of every Table 1 row under docs/results/table1 that has a log,
    labelled '<MODEL> <task>[, <width> wide] (<epochs> epochs[ so far])'."""
    out = []
    root = os.path.join(res, "table1")
    if not os.path.isdir(root):
        return out
    for row in sorted(os.listdir(root)):
        log = os.path.join(root, row, "log.csv")
        if not os.path.exists(log):
            continue
        parts = row.split("-")
        task = TASKS.get(parts[0], parts[0])
        model = parts[1].upper() if len(parts) > 1 else "?"
        extra = ", %s wide" % parts[2] if len(parts) > 2 else ""
        n = len(read_csv(log))
        planned = planned_epochs(os.path.join(root, row))
        out.append(("%s %s%s (%d epochs%s)" % (model, task, extra, n, "" if planned and n >= planned else " so far"), log))
    return out


def done_rows(path):
    return [r for r in read_csv(path) if r.get("status") == "done"]


def sweep(csvs, param, out, note="", chance=None, reference=None):
    """reference: (label, accuracy) drawn as a horizontal line, e.g. the best SRC of the
    lambda sweep under the same budget, which the paper's ASRC sweeps compare against."""
    if not csvs:
        fail("expected at least one --csv [LABEL=]results.csv")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    models = [model_of(lab) for lab, _ in csvs if lab]
    for lab, path in csvs:
        rows = done_rows(path)
        if not rows:
            fail("expected finished runs (status done) in %s, got none" % path)
        try:
            v = [float(r["value"]) for r in rows]
            best = [float(r["best_acc"]) for r in rows]
            last = [float(r["last_acc"]) for r in rows]
        except (KeyError, ValueError):
            fail("expected value,status,best_acc,last_acc columns in %s" % path)
        o = np.argsort(v)
        v, best, last = np.array(v)[o], np.array(best)[o], np.array(last)[o]
        model = model_of(lab)
        # The model's colour while it has one series; several budgets of one model take
        # matplotlib's cycle so they stay apart.
        color = COLORS.get(model) if model and models.count(model) == 1 else None
        line, = ax.plot(v, best, "o-", color=color, label=(lab + " " if lab else "") + "best")
        ax.plot(v, last, "x--", color=line.get_color(), alpha=0.7, label=(lab + " " if lab else "") + "last epoch")
    if reference:
        ax.axhline(reference[1], color=COLORS["SRC"], ls="-.", lw=1, label=reference[0])
    if chance:
        ax.axhline(chance, color="k", ls=":", lw=1, label="chance (%g %%)" % chance)
    # The whole scale: differences of a point or two near chance should look like that.
    ax.set_ylim(0, 100)
    ax.set_xlabel(param)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(("Sweep of %s" % param) + (" (%s)" % note if note else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print("figures.py: wrote", out)


def best_src_reference(path):
    """The best finished value of an SRC lambda sweep's results.csv as (label, accuracy), or
    None when there is none."""
    rows = done_rows(path) if os.path.exists(path) else []
    if not rows:
        return None
    best = max(rows, key=lambda r: float(r["best_acc"]))
    acc = float(best["best_acc"])
    return ("best SRC of the lambda sweep (lambda %s: %.2f %%)" % (best["value"], acc), acc)


def sweep_budget_key(f):
    """Sorts sweep CSVs by their budget (sweep-NAME-MODEL-<E>ep-<N>.csv): fewer epochs first."""
    m = re.search(r"-(\d+)ep-", f)
    return (int(m.group(1)) if m else 0, f)


def everything(args):
    data = os.path.join(ROOT, "docs", "figures", "data")
    res = os.path.join(ROOT, "docs", "results")
    outdir = args.out or os.path.join(ROOT, "docs", "figures")
    os.makedirs(outdir, exist_ok=True)

    def have(*names):
        return all(os.path.exists(os.path.join(data, n)) for n in names)

    init = [(m, os.path.join(data, "gradflow-smnist-%s-init.csv" % m.lower())) for m in ("RSNN", "SRC", "ASRC")]
    trained = []
    for m, label in (("rsnn-trained", "RSNN (3 epochs of 8,192 samples; at chance)"), ("src-trained", "SRC (15 epochs)"),
                     ("src-table1", "SRC (200 epochs, Table 1)"), ("asrc-trained", "ASRC (7 epochs)")):
        p = os.path.join(data, "gradflow-smnist-%s.csv" % m)
        if os.path.exists(p):
            trained.append((label, p))
    init = [(m, p) for m, p in init if os.path.exists(p)]
    if init or trained:
        gradient_flow(init, trained, os.path.join(outdir, "gradient-flow.png"))
    else:
        print("figures.py: no gradient-flow CSVs in %s: gradient-flow.png not drawn" % data)
    fi = [(m, os.path.join(data, "factors-smnist-%s-init.csv" % m.lower())) for m in ("RSNN", "SRC", "ASRC")]
    ft = [(m + " trained", os.path.join(data, "factors-smnist-%s-trained.csv" % m.lower())) for m in ("RSNN", "SRC", "ASRC")]
    fi = [(m, p) for m, p in fi if os.path.exists(p)]
    ft = [(m, p) for m, p in ft if os.path.exists(p)]
    if fi or ft:
        factors(fi, ft, os.path.join(outdir, "gradient-factors.png"))
    log = os.path.join(res, "smnist-asrc-7ep", "log.jsonl")
    if os.path.exists(log):
        kernels(log, os.path.join(outdir, "kernels.png"))
    # Fig. 5's own setting: the Table 1 PS-MNIST ASRC row at the paper's protocol, as far
    # as it has run (redraw after each stretch of the run).
    log = os.path.join(res, "table1", "psmnist-asrc", "log.jsonl")
    if os.path.exists(log):
        kernels(log, os.path.join(outdir, "kernels-psmnist-asrc.png"))
    logs = [(lab, os.path.join(res, d, "log.csv")) for lab, d in
            (("ASRC T_lambda=41, 7 epochs", "smnist-asrc-7ep"), ("SRC lambda=16, 15 epochs", "smnist-src-15ep"),
             ("RSNN, 3 epochs of 8,192 samples", "smnist-rsnn-3ep"))]
    logs = [(lab, p) for lab, p in logs if os.path.exists(p)]
    protocol = table1_logs(res)
    if logs or protocol:
        accuracy(logs, os.path.join(outdir, "accuracy.png"), protocol)
    sweep_files = sorted(os.listdir(data), key=sweep_budget_key)
    for name, param, fig in (("lambda", "lambda (SRC)", "lambda-sweep.png"),
                             ("tlambda", "T_lambda (ASRC)", "tlambda-sweep.png"),
                             ("decay", "decay alpha", "decay-sweep.png")):
        found = []
        budgets = set()  # file-name endings (-<E>ep-<N>.csv, or .csv) of the series drawn
        for model in ("SRC", "ASRC"):
            for f in sweep_files:
                m = re.fullmatch(r"sweep-%s-%s((?:-(\d+)ep-(\w+))?\.csv)" % (name, model.lower()), f)
                if not m:
                    continue
                p = os.path.join(data, f)
                if not done_rows(p):
                    print("figures.py: %s has no finished value yet: left out of %s" % (f, fig))
                    continue
                lab = model + (", %s epochs of %s images" % (m.group(2), m.group(3)) if m.group(2) else "")
                found.append((lab, p))
                budgets.add(m.group(1))
        if found:
            # The ASRC sweeps compare against the best SRC of the same budget; only when one
            # budget is drawn, so that the line has one meaning.
            reference = None
            if name != "lambda" and len(budgets) == 1:
                reference = best_src_reference(os.path.join(data, "sweep-lambda-src" + budgets.pop()))
            sweep(found, param, os.path.join(outdir, fig), "PS-MNIST, shortened schedules", chance=10,
                  reference=reference)
        else:
            print("figures.py: no finished sweep-%s-*.csv in %s: %s pending (nothing drawn)" % (name, data, fig))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    a = sub.add_parser("all", help="every figure from the committed data (the default)")
    a.add_argument("--out", help="folder (default docs/figures)")
    g = sub.add_parser("gradient-flow")
    g.add_argument("--init", nargs="*", default=[], help="LABEL=gradflow.csv at initialisation")
    g.add_argument("--trained", nargs="*", default=[], help="LABEL=gradflow.csv after training")
    g.add_argument("--full-loss", action="store_true", help="plot ||dL/dU[t]|| of the whole loss instead")
    g.add_argument("--out", required=True)
    k = sub.add_parser("kernels")
    k.add_argument("--log", required=True, help="an ASRC run's log.jsonl")
    k.add_argument("--out", required=True)
    c = sub.add_parser("accuracy")
    c.add_argument("--log", nargs="+", required=True, help="LABEL=log.csv")
    c.add_argument("--out", required=True)
    s = sub.add_parser("sweep")
    s.add_argument("--csv", nargs="+", required=True, help="[LABEL=]results.csv of scripts/sweep.sh")
    s.add_argument("--param", required=True)
    s.add_argument("--note", default="")
    s.add_argument("--reference", help="LABEL=ACCURACY: a horizontal line to compare against (e.g. the best SRC)")
    s.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd in (None, "all"):
        if args.cmd is None:
            args.out = None
        everything(args)
    elif args.cmd == "gradient-flow":
        gradient_flow(labelled(args.init), labelled(args.trained), args.out,
                      "grad_norm" if args.full_loss else "grad_norm_last_step")
    elif args.cmd == "kernels":
        kernels(args.log, args.out)
    elif args.cmd == "accuracy":
        accuracy(labelled(args.log), args.out)
    elif args.cmd == "sweep":
        csvs = [tuple(p.split("=", 1)) if "=" in p else ("", p) for p in args.csv]
        reference = None
        if args.reference is not None:
            lab, _, acc = args.reference.rpartition("=")
            try:
                reference = (lab, float(acc))
            except ValueError:
                pass
            if not lab or reference is None or not 0 <= reference[1] <= 100:
                fail("--reference: expected LABEL=ACCURACY with an accuracy in [0, 100], got '%s'" % args.reference)
        sweep(csvs, args.param, args.out, args.note, reference=reference)


if __name__ == "__main__":
    main()
