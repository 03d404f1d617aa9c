"""Merges one bench/run into docs/benchmarks.md (tables of medians, ratios, memory and compile
times) and docs/benchmarks.png (each peer's time relative to kobai's, log scale)."""
import json
import os
import platform
import subprocess
import sys
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PYTHON_PEERS = (("torch", "PyTorch eager"), ("torch.compile", "torch.compile"), ("jax", "JAX"))


def load(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def fmt(seconds):
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def ratio(a, b):
    if not (a and b):
        return "—"
    return f"{a / b:.2f}" if a / b >= 0.1 else f"{a / b:.3f}" if a / b >= 0.01 else f"{a / b:.4f}"


def shell(command):
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout.strip()


def main(directory, docs):
    records = load(os.path.join(directory, "kobai.jsonl"))
    kobai = [r for r in records if "kobai_s" in r]
    memory = {r["workload"]: r["extra_rss_kib"] for r in records if "extra_rss_kib" in r}
    peers = load(os.path.join(directory, "peers.jsonl"))
    timed = {(p["workload"], p.get("d"), p.get("k"), p["n"], p["peer"], p["threads"]): p for p in peers}
    versions = {p["peer"]: p["version"] for p in peers if "version" in p}
    failures = sorted({(p["peer"], p["workload"], p["error"]) for p in peers if p.get("error")})
    compile_times = load(os.path.join(directory, "compile.jsonl"))
    gcc = shell("g++ -dumpfullversion")
    cpu = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    lines = [
        "# kobai benchmarks",
        "",
        f"Written by `bench/run` on {date.today().isoformat()}: {os.cpu_count()} cores, "
        f"{cpu}, {platform.system()} {platform.machine()}, "
        "no GPU. kobai and the hand loops: GCC " + gcc + " `-O3 -march=native`. Peers: LibTorch 1.13 (Debian "
        "`libtorch-dev`, C++ eager autograd), " + ", ".join(versions.get(k, k) for k, _ in PYTHON_PEERS) +
        " (PyPI; JAX as `jit(value_and_grad)`).",
        "",
        "Medians of repetitions after warm-up (compilation excluded). Every peer's loss and gradients were "
        "checked against kobai's before its time counted. A ratio is kobai's time over the peer's: **below 1, "
        "kobai is faster**. The hand-loop and LibTorch ratios are taken within one interleaved series in one "
        "process; the Python peers run in their own processes right after, on the same data. *1 thread*: "
        "kobai `.threads(1)`, OpenMP and LibTorch set to one thread, Python peers pinned to one core "
        "(`taskset`) and asked for one thread; *all*: every core.",
        "",
        "- **W1** linear-regression step: MSE loss, dL/dw, dL/db.",
        "- **W2** logistic regression, D = 16 features: BCE with logits, loss, dL/dW, dL/db.",
        "- **W3** ∂z/∂X, ∂z/∂Y and ∂²z/∂X² of z = X²Y + 2XY³ on a 1000×1000 grid.",
        "- **W4** MLP regression, D = 8 → 32 (tanh) → 1, MSE: the loss and the gradients of W1, b1, w2, b2.",
        "- **W5** softmax classifier 64 → 10, cross-entropy (one-hot targets), on data shaped like "
        "scikit-learn's digits (synthetic values): the loss and the gradients of W and b.",
        "- **W6** MLP 64 → 32 (tanh) → 10, cross-entropy: the loss and every gradient.",
        "- **W7** MLP 64 → 256 (tanh) → 256 (tanh) → 10, cross-entropy: the loss and every gradient.",
        "- **W8** Gaussian-mixture log-likelihood (ADBench's GMM objective without the prior) over N = 1000 "
        "points in D dimensions with K components, inverse covariances by Cholesky factors: the objective "
        "and its gradient with respect to the weights, means and factors (*kobai* times both; *hand* is a "
        "hand-written loop nest of the objective alone, exploiting the factors' triangles).",
        "- **W9** training throughput: one epoch (1,437 rows of scikit-learn's digits, standardised) of the "
        "MLP 64 → 32 (tanh) → 10 with Adam in batches of 64, each epoch shuffled once: kobai's `compile_step` "
        "and `fit` against PyTorch eager's `torch.optim.Adam` loop over the same batches (checked on the first, "
        "unshuffled epoch). Rows per second are 1,437 over the time.",
        "",
        "All float32. *hand* is the faster of a plain hand-written fused loop and the same with `omp simd`.",
        "",
        "| workload | N | threads | kobai | hand | LibTorch | PyTorch | torch.compile | JAX "
        "| ÷hand | ÷LibTorch | ÷PyTorch | ÷torch.compile | ÷JAX |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = []
    relative = {name: [] for name in ("hand", "LibTorch", *(label for _, label in PYTHON_PEERS))}
    for row in kobai:
        simd = row.get("simd_s")
        hand, kobai_hand = row.get("hand_s"), row.get("objective_s", row["kobai_s"])
        if simd and simd < hand:
            hand, kobai_hand = simd, row.get("kobai_with_simd_s", row["kobai_s"])
        python = [timed.get((row["workload"], row.get("d"), row.get("k"), row["n"], peer, row["threads"]),
                            {}).get("seconds") for peer, _ in PYTHON_PEERS]
        libtorch = row.get("libtorch_s")
        cells = [fmt(row["kobai_s"]), fmt(hand), fmt(libtorch), *(fmt(s) for s in python),
                 ratio(kobai_hand, hand), ratio(row.get("kobai_with_libtorch_s", row["kobai_s"]), libtorch),
                 *(ratio(row["kobai_s"], s) for s in python)]
        size = f"{row['n']:,}" + (f" (D={row['d']}, K={row['k']})" if "d" in row else "")
        lines.append(f"| {row['workload']} | {size} | {row['threads']} | " + " | ".join(cells) + " |")
        labels.append(f"{row['workload']} " + (f"D={row['d']},K={row['k']}" if "d" in row else f"N={row['n']:.0e}") +
                      f"\n{row['threads']} thr")
        for name, value in zip(relative, (hand, libtorch, *python)):
            relative[name].append(value / row["kobai_s"] if value else float("nan"))
    lines += ["", "W8's *hand* ratio compares kobai's objective alone with the hand-written objective."]
    rates = [r for r in kobai if "gflops" in r or "objective_s" in r]
    if rates:
        lines += ["", "## Contraction-bound steps: GFLOP/s and AD's cost", "",
                  "The floor is a register-tiled loop of fused multiply-adds on one thread, compiled in the same run "
                  "(`bench::fma_floor_gflops`). W5–W7: the whole step's floating-point operations (multiply-adds "
                  "as 2) per second. W8: the objective's dense products Q_k·(x − μ_k) per second, kobai's objective "
                  "over the hand-written one, and kobai's gradient (objective and gradients) over its objective. "
                  "*float64 ÷ float32*: the same step's time with float64 data over its time with float32.", "",
                  "| workload | N | threads | GFLOP/s | floor × threads | float64 ÷ float32 | objective ÷ hand "
                  "| gradient ÷ objective |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in rates:
            size = f"{row['n']:,}" + (f" (D={row['d']}, K={row['k']})" if "d" in row else "")
            if "objective_s" in row:
                gflops = 2.0 * row["k"] * row["d"] ** 2 * row["n"] / row["objective_s"] * 1e-9
                cells = [f"{gflops:.2f}", f"{row['floor_gflops'] * row['threads']:.1f}", "—",
                         ratio(row["objective_s"], row.get("hand_s")), ratio(row["kobai_s"], row["objective_s"])]
            else:
                cells = [f"{row['gflops']:.2f}", f"{row['floor_gflops'] * row['threads']:.1f}",
                         ratio(row.get("float64_s"), row["kobai_s"]), "—", "—"]
            lines.append(f"| {row['workload']} | {size} | {row['threads']} | " + " | ".join(cells) + " |")
    if failures:
        lines += ["", "Peers that could not run a workload: " + "; ".join(
            f"{peer} on {workload} ({error})" for peer, workload, error in failures) + "."]

    lines += ["", "## Memory", "",
              "Extra peak RSS a step needed beyond its inputs, at the largest N of each workload (MiB). "
              "C++ peers: the growth of the process's peak during the first timed call (kobai's result "
              "tensors, allocated once by the call before, are not counted). Python peers: the growth "
              "from after the inputs were in the framework's arrays to the end of the timing, the larger "
              "of 1 thread and all; the process's whole peak (interpreter and framework included) is in "
              "parentheses.", "",
              "| workload | kobai | LibTorch | " + " | ".join(label for _, label in PYTHON_PEERS) + " |",
              "|---|---:|---:|" + "---:|" * len(PYTHON_PEERS)]
    for workload in sorted({r["workload"] for r in kobai}):
        cells = [f"{memory[workload]['kobai'] / 1024:.1f}", f"{memory[workload]['libtorch'] / 1024:.1f}"] \
            if workload in memory else ["—", "—"]
        for peer, _ in PYTHON_PEERS:
            measured = [p for p in peers if p["workload"] == workload and p["peer"] == peer and "extra_rss_mib" in p]
            if measured:
                largest = max(p["n"] for p in measured)
                at_largest = [p for p in measured if p["n"] == largest]
                cells.append(f"{max(p['extra_rss_mib'] for p in at_largest):.1f} "
                             f"({max(p['peak_rss_mib'] for p in at_largest):.0f})")
            else:
                cells.append("—")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    if compile_times:
        lines += ["", "## Compile time", "",
                  "C++ compile time of each workload's translation unit (kobai, the hand loops and, where "
                  "built, LibTorch's code are in it), `g++ -O2`, median of 3: " + ", ".join(
                      f"`{c['source']}` {c['seconds']:.2f} s" for c in compile_times) + "."]
    lines += ["", "![peer time relative to kobai](benchmarks.png)", ""]
    os.makedirs(docs, exist_ok=True)
    open(os.path.join(docs, "benchmarks.md"), "w").write("\n".join(lines))

    figure, axes = plt.subplots(figsize=(max(9, len(labels) * 1.2), 5))
    width = 0.8 / len(relative)
    for k, (name, values) in enumerate(relative.items()):
        axes.bar([i + (k - (len(relative) - 1) / 2) * width for i in range(len(labels))], values, width, label=name)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_ylabel("peer's time / kobai's time (above 1: kobai faster)")
    axes.set_xticks(range(len(labels)), labels, fontsize=8)
    axes.legend(fontsize=8)
    axes.set_title("kobai against a hand-written loop, LibTorch, PyTorch, torch.compile and JAX (CPU, float32)")
    figure.tight_layout()
    figure.savefig(os.path.join(docs, "benchmarks.png"), dpi=110)
    start = lines.index(next(line for line in lines if line.startswith("| workload")))
    print("\n".join(lines[start:]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "docs")
