#!/usr/bin/env python3
"""Run asrc-bench and the PyTorch baseline on the same configurations and compare them.

For each configuration the two programs run one after the other (asrc first), so that
both see about the same machine load. Prints a markdown table with the asrc / PyTorch
throughput ratios for training and evaluation, and writes it to --out if given.

Example:
    python3 bench/compare.py build-bench/bench/asrc-bench --threads 2 --configs all \\
        --torch-steps 2 --out docs/results/benchmark.md --json docs/results/benchmark.json
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pytorch_reference import load_average  # noqa: E402  (torch is imported lazily there)

DEFAULT_CONFIGS = ["gsc-src", "gsc-asrc", "ssc-src", "ssc-asrc", "smnist-src", "smnist-asrc"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def find_binary(path):
    for cand in (path, os.path.join(ROOT, path)):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    sys.exit(f"asrc-bench not found at '{path}' (build it: cmake --build build --target asrc-bench)")


def run_json(cmd, what):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        path = tmp.name
    try:
        proc = subprocess.run(cmd + ["--json", path], stdout=subprocess.PIPE, text=True)
        sys.stderr.write(proc.stdout)
        if proc.returncode != 0:
            print(f"[compare] {what} exited with {proc.returncode}", file=sys.stderr)
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    finally:
        os.unlink(path)


def fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def table_head(columns):
    """The two header lines of a markdown table."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def ratio(a, b):
    return None if not a or not b else a / b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", nargs="?", default="build/bench/asrc-bench", help="path of the asrc-bench binary")
    ap.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                    help="comma-separated names (default: %(default)s; 'all' for the 11 Table 1 rows)")
    ap.add_argument("--threads", type=int, default=1, help="threads for both (default 1)")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="threads for PyTorch only (default: --threads); its small per-step ops often run "
                         "slower with more threads on a busy machine")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions on both sides")
    ap.add_argument("--torch-steps", type=int, default=0,
                    help="timed PyTorch steps of each kind after the warm-up (default: the reference's own)")
    ap.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch for the baseline")
    ap.add_argument("--buffer", default="roll,list",
                    help="baseline spike-buffer forms, comma-separated: roll (the authors' code), list "
                         "(a faster form of the same arithmetic); default: both")
    ap.add_argument("--rate", type=float, default=None, help="asrc-bench --rate (target spike rate)")
    ap.add_argument("--data", metavar="DIR",
                    help="asrc-bench --data: asrc runs on real batches from DIR (MNIST IDX files, a Speech "
                         "Commands root) with the initial network's own spike rates; configurations without "
                         "their data there are skipped. The PyTorch reference keeps random inputs: its dense "
                         "loop does the same work whatever the values.")
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--json", help="also write both programs' raw results as JSON")
    args = ap.parse_args()

    bench = find_binary(args.bench)
    torch_threads = args.torch_threads or args.threads
    buffers = [b for b in args.buffer.split(",") if b]
    for b in buffers:
        if b not in ("roll", "list"):
            sys.exit(f"--buffer: roll and/or list, got '{b}'")
    if args.configs == "all":
        out = subprocess.run([bench, "--list"], stdout=subprocess.PIPE, text=True, check=True).stdout
        names = [n for n in out.split() if not n.startswith("zeng-")]  # no PyTorch reference of its own
    else:
        names = [n for n in args.configs.split(",") if n]
    reference = os.path.join(HERE, "pytorch_reference.py")

    load_start = load_average()
    rows, peak, raw = [], None, {"asrc": [], "pytorch": {b: [] for b in buffers}}
    for i, name in enumerate(names):
        cmd = [bench, "--configs", name, "--threads", str(args.threads)]
        if args.quick:
            cmd.append("--quick")
        if args.rate is not None:
            cmd += ["--rate", str(args.rate)]
        if args.data:
            cmd += ["--data", args.data]
        if i > 0:
            cmd.append("--no-peak")  # the SGEMM ceiling is measured once, with the first one
        a = run_json(cmd, "asrc-bench")
        if a and i == 0:
            peak = a.get("gemm_peak")
        raw["asrc"].append(a)
        ar = a["results"][0] if a and a.get("results") else None
        prs = {}
        for buf in buffers:
            cmd = [args.python, reference, "--configs", name, "--threads", str(torch_threads), "--buffer", buf]
            if args.quick:
                cmd.append("--quick")
            if args.torch_steps > 0:
                cmd += ["--train-steps", str(args.torch_steps), "--eval-steps", str(args.torch_steps)]
            p = run_json(cmd, "pytorch_reference")
            raw["pytorch"][buf].append(p)
            r = p["results"][0] if p and p.get("results") else None
            prs[buf] = r
        rows.append((name, ar, prs))
    load_end = load_average()

    ceiling = None
    if peak:
        ceiling = peak["gflops_2_threads"] if args.threads >= 2 else peak["gflops_1_thread"]

    def cell(r, key, digits=1):
        if not r:
            return "-"
        if "error" in r:
            return r["error"]
        return fmt(r[key], digits)

    def speedup(ar, r, key):
        if not ar or not r or "error" in r:
            return "-"
        x = ratio(ar[key], r[key])
        return "-" if x is None else f"**{x:.1f}x**"

    lines = []
    lines.append("# asrc vs PyTorch: training and inference speed")
    lines.append("")
    lines.append(f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    lines.append(f"- machine: {cpu_model()}, {os.cpu_count()} hardware threads; threads: asrc {args.threads}, "
                 f"PyTorch {torch_threads}")
    lines.append(f"- load average (1/5/15 min) at start: {load_start}; at end: {load_end}")
    if peak:
        lines.append(f"- Eigen SGEMM {peak['n']}x{peak['n']} ceiling measured in the same run: "
                     f"{peak['gflops_1_thread']:.1f} GFLOP/s (1 thread), {peak['gflops_2_threads']:.1f} GFLOP/s (2 threads)")
    lines.append("- baseline: bench/pytorch_reference.py, a Python loop over time steps calling every layer "
                 "once per step; spike buffer 'roll' = the authors' form (a K x B x H tensor rolled each "
                 "step), 'list' = the same arithmetic on a list of the last K spike tensors")
    lines.append(f"- asrc: {os.path.relpath(bench, ROOT)}{' --quick' if args.quick else ''}{(' --data ' + args.data) if args.data else ''}; each "
                 "configuration runs asrc first, then each baseline form, so all see about the same load")
    lines.append("- subnormal numbers: asrc flushes them to zero inside forward/backward "
                 "(NetworkConfig::flush_denormals, on by default; asrc-bench --no-flush keeps them); "
                 "PyTorch runs with its default (kept)")
    lines.append("- samples/s: median over timed steps after one warm-up; a training step is forward + "
                 "BPTT + Adam(W) update; evaluation is the forward pass only")
    lines.append("")
    lines.append("## Training")
    lines.append("")
    lines += table_head(["config", "B", "T", "asrc samples/s", "asrc GFLOP/s (% of SGEMM ceiling)"]
                        + [c for buf in buffers for c in (f"PyTorch {buf} samples/s", f"speed-up vs {buf}")]
                        + ["asrc peak MB"] + [f"PyTorch {buf} peak MB" for buf in buffers])
    for name, ar, prs in rows:
        some = ar or next((r for r in prs.values() if r and "error" not in r), None) or {}
        gf = "-"
        if ar:
            gf = f"{ar['train_gflops']:.1f}" + (f" ({100 * ar['train_gflops'] / ceiling:.0f}%)" if ceiling else "")
        line = f"| {name} | {some.get('batch', '-')} | {some.get('steps', '-')} | {cell(ar, 'train_samples_per_s')} | {gf} |"
        for buf in buffers:
            line += f" {cell(prs[buf], 'train_samples_per_s')} | {speedup(ar, prs[buf], 'train_samples_per_s')} |"
        line += f" {fmt(ar['rss_peak_kib'] / 1024 if ar and ar['rss_peak_kib'] > 0 else None)} |"
        for buf in buffers:
            r = prs[buf]
            line += f" {fmt(r['rss_peak_kib'] / 1024 if r and 'error' not in r and r['rss_peak_kib'] > 0 else None)} |"
        lines.append(line)
    lines.append("")
    if ceiling:
        lines.append("## How far from the dense floor")
        lines.append("")
        lines.append("Exact fp32 BPTT cannot skip the products dL/ds = W_rec^T dL/dI and dL/dx = W^T dL/dI: "
                     "dL/dI is dense (the leak carries it through every step); spikes make only the forward "
                     "products and the weight gradients sparse. 'Dense floor' is the training speed of a step "
                     "that did nothing but these products, at the Eigen SGEMM rate measured in this run. asrc "
                     "cannot train faster than that without lower-precision products, so 'floor / roll' bounds "
                     "its speed-up over the authors' form. (Only the entries of dL/ds inside the surrogate's "
                     "support are used, about half of them in asrc-bench's S-MNIST runs; a masked product "
                     "would do fewer flops, but at that density it is not expected to beat the dense one.)")
        lines.append("")
        lines += table_head(["config", "backward dense GFLOP per step", "dense floor samples/s",
                             "asrc samples/s (% of floor)", "floor / roll", "asrc / roll"])
        for name, ar, prs in rows:
            if not ar or "backward_dense_gflop" not in ar:
                continue
            floor_sps = ar["batch"] / (ar["backward_dense_gflop"] / ceiling)
            roll = prs.get("roll")
            x = ratio(floor_sps, roll["train_samples_per_s"]) if roll and "error" not in roll else None
            bound = "-" if x is None else f"{x:.1f}x"
            lines.append(f"| {name} | {ar['backward_dense_gflop']:.1f} | {fmt(floor_sps)} | "
                         f"{fmt(ar['train_samples_per_s'])} ({100 * ar['train_samples_per_s'] / floor_sps:.0f}%) | "
                         f"{bound} | {speedup(ar, roll, 'train_samples_per_s')} |")
        lines.append("")
    lines.append("## Inference")
    lines.append("")
    lines += table_head(["config", "asrc eval samples/s"]
                        + [c for buf in buffers for c in (f"PyTorch {buf} eval samples/s", f"speed-up vs {buf}")]
                        + ["asrc streaming us/step (batch 1)"])
    for name, ar, prs in rows:
        line = f"| {name} | {cell(ar, 'eval_samples_per_s')} |"
        for buf in buffers:
            line += f" {cell(prs[buf], 'eval_samples_per_s')} | {speedup(ar, prs[buf], 'eval_samples_per_s')} |"
        line += f" {fmt(ar['stream_us_per_step'] if ar else None, 2)} |"
        lines.append(line)
    lines.append("")
    lines.append("Peak MB is the resident-memory high-water mark of a process that builds the model and runs "
                 "training steps (for PyTorch it includes the interpreter and torch itself). GFLOP/s counts the "
                 "dense-equivalent work (2*F*H feed-forward + 2*H*H recurrent per layer, readout; training = 3x "
                 "forward); asrc skips zero spikes, so the figure can exceed what it computes, and the SGEMM "
                 "ceiling. " + (
                     f"asrc ran on real batches from {args.data} with the initial network's own spike rates (the "
                     "'spike rates' of asrc-bench's table); the PyTorch reference ran on random inputs, since its "
                     "dense loop's cost does not depend on the values. " if args.data else
                     "asrc-bench scales "
                     f"each layer's input weights so that it fires at about {100 * (0.1 if args.rate is None else args.rate):.0f}% in training (the initial network is "
                     "nearly silent beyond the first layer); the dense PyTorch loop's cost does not depend on spike rates. ") +
                 "'out of memory': the baseline needed more than the memory the reference script allows itself "
                 "(--max-gb, 90% of the available memory by default).")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(report)
        print(f"[compare] wrote {args.out}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
