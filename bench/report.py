"""Merges one bench/run into docs/benchmarks.md (a table of medians and ratios) and
docs/benchmarks.png (each peer's time relative to kobai's, log scale)."""
import json
import os
import platform
import subprocess
import sys
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def fmt(seconds):
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.2f} µs"


def ratio(a, b):
    return f"{a / b:.3f}" if a and b else "—"


def main(directory, docs):
    kobai = load(os.path.join(directory, "kobai.jsonl"))
    peers = load(os.path.join(directory, "peers.jsonl"))
    compile_times = load(os.path.join(directory, "compile.jsonl"))
    jax = {(p["workload"], p["n"], p["threads"]): p["seconds"] for p in peers if "workload" in p}
    jax_info = {p["threads"]: p for p in peers if "peak_rss_mib" in p}
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    gcc = subprocess.run(["g++", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# kobai benchmarks",
        "",
        f"Written by `bench/run` on {date.today().isoformat()}: {os.cpu_count()} cores, {cpu}, "
        f"{platform.system()} {platform.machine()}; GCC {gcc} `-O3` (no `-march=native`), LibTorch 1.13 "
        f"(Debian), JAX {next(iter(jax_info.values()), {}).get('version', '—')} (PyPI, `jit(value_and_grad)`).",
        "Medians of repetitions after warm-up; every peer's loss and gradients were checked against "
        "kobai's before its time counted. Ratios below 1 mean kobai is faster. Each hand-loop ratio is "
        "taken against kobai's median from the same interleaved series (the *kobai* column shows the "
        "series against *hand*).",
        "",
        "W1 is the linear-regression step (MSE loss, dL/dw, dL/db, float32). W2 is the logistic-regression "
        "step with D = 16 features (BCE on logits, loss, dL/dW, dL/db, float32), one pass over the rows. W3 is ∂z/∂X, ∂z/∂Y and "
        "∂²z/∂X² of z = X²Y + 2XY³ on a 1000×1000 float32 grid. *hand* is a plain hand-written fused "
        "loop, *simd* the same with `omp simd` (W3's hand loop is already `omp simd`).",
        "",
        "| workload | N | threads | kobai | hand | simd | LibTorch | JAX | kobai/simd | kobai/LibTorch | kobai/JAX |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels, relative = [], {"hand": [], "simd": [], "LibTorch": [], "JAX": []}
    for row in kobai:
        simd = row.get("simd_s", row["hand_s"] if row["workload"] == "W3" else None)
        jax_time = jax.get((row["workload"], row["n"], row["threads"]))
        lines.append(
            f"| {row['workload']} | {row['n']:,} | {row['threads']} | {fmt(row['kobai_s'])} | {fmt(row['hand_s'])} "
            f"| {fmt(row.get('simd_s'))} | {fmt(row.get('libtorch_s'))} | {fmt(jax_time)} "
            f"| {ratio(row.get('kobai_with_simd_s', row['kobai_s']), simd)} | {ratio(row.get('kobai_with_libtorch_s', row['kobai_s']), row.get('libtorch_s'))} "
            f"| {ratio(row['kobai_s'], jax_time)} |")
        labels.append(f"{row['workload']} N={row['n']:.0e}\n{row['threads']} thr")
        for name, value in (("hand", row["hand_s"]), ("simd", simd), ("LibTorch", row.get("libtorch_s")),
                            ("JAX", jax_time)):
            relative[name].append(value / row["kobai_s"] if value else float("nan"))
    if jax_info:
        lines += ["", "Peak RSS of the JAX process: " + ", ".join(
            f"{info['peak_rss_mib']:.0f} MiB ({threads} thread{'s' if threads != 1 else ''})"
            for threads, info in sorted(jax_info.items())) + "."]
    if compile_times:
        lines += ["", "C++ compile time of one translation unit, `g++ -O2` (median of 3): " + ", ".join(
            f"`{c['source']}` {c['seconds']:.2f} s" for c in compile_times) + "."]
    lines += ["", "![peer time relative to kobai](benchmarks.png)", ""]
    os.makedirs(docs, exist_ok=True)
    open(os.path.join(docs, "benchmarks.md"), "w").write("\n".join(lines))

    figure, axes = plt.subplots(figsize=(max(8, len(labels) * 1.1), 4.5))
    width = 0.2
    for k, (name, values) in enumerate(relative.items()):
        axes.bar([i + (k - 1.5) * width for i in range(len(labels))], values, width, label=name)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_ylabel("time / kobai's time (higher: kobai faster)")
    axes.set_xticks(range(len(labels)), labels, fontsize=8)
    axes.legend()
    axes.set_title("kobai against hand-written loops, LibTorch and JAX (CPU)")
    figure.tight_layout()
    figure.savefig(os.path.join(docs, "benchmarks.png"), dpi=110)
    print("\n".join(lines[10:]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "docs")
