"""Writes docs/compile.md (budgets, scaling tables, test translation units) and docs/compile.png
(compile time and peak memory against each knob) from one bench/compile/run."""
import json
import os
import platform
import subprocess
import sys
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BUDGETS = {  # seconds, MB (None: no memory budget)
    "hello": (1, None),
    "logistic_step": (5, None),
    "mlp_step": (5, None),
    "bundle_adjustment": (60, 2048),
}
KNOBS = (("nodes", "forward nodes (4 gradients)"), ("outputs", "outputs (150 forward nodes)"),
         ("order", "derivative order (20 forward nodes)"), ("rank", "leaf rank (50 forward nodes)"))


def shell(command):
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout.strip()


def cell(record):
    if record is None:
        return "—", "—"
    if record["status"] == "timeout":
        return f"> {record['seconds']:.0f} s", "—"
    if record["status"] == "error":
        return "error", "—"
    if record["status"] == "memory":
        return "stopped", f"> {record.get('memory_gib', 8)} GB"
    return f"{record['seconds']:.1f} s", f"{record['kb'] / 1024:.0f} MB"


def main(directory, docs):
    records = [json.loads(line) for name in ("budgets.jsonl", "scaling.jsonl", "traced.jsonl")
               if os.path.exists(os.path.join(directory, name)) for line in open(os.path.join(directory, name))]
    by = {(r["name"], r["compiler"]): r for r in records}
    cpu = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    gcc = shell("g++ --version | head -1")
    clang = shell("clang++ --version | head -1")
    lines = ["# kobai compile cost", "",
             f"Written by `bench/compile/run` on {date.today()}: {os.cpu_count()} cores, {cpu}, "
             f"{platform.system()} {platform.machine()}. {gcc}; {clang}. Each figure is one compile "
             "(`-std=c++20 -O2 -fopenmp -c`, and for g++ `--param=ggc-min-heapsize=1048576 -fconstexpr-ops-limit=1073741824` as `kobai::kobai` adds; one "
             "translation unit) on a machine that may be shared: wall "
             "time and peak resident memory.", "", "## Budgets (g++ -O2)", "",
             "| program | wall | peak memory | budget |", "|---|---:|---:|---|"]
    for name, (seconds, mb) in BUDGETS.items():
        record = by.get((f"budget/{name}", "g++"))
        wall, memory = cell(record)
        budget = f"≤ {seconds} s" + (f", ≤ {mb // 1024} GB" if mb else "")
        if record and record["status"] == "ok":
            met = record["seconds"] <= seconds and (mb is None or record["kb"] / 1024 <= mb)
            budget += " — met" if met else " — **missed**"
        lines.append(f"| {name} | {wall} | {memory} | {budget} |")
    lines += ["", "## Scaling, one knob at a time (`bench/compile/generate.py`)", ""]
    fig, axes = plt.subplots(1, len(KNOBS), figsize=(4 * len(KNOBS), 3.6))
    for axis, (knob, title) in zip(axes, KNOBS):
        rows = sorted({int(r["name"].split("/")[1]) for r in records if r["name"].startswith(knob + "/")})
        if not rows:
            axis.set_visible(False)
            continue
        lines += [f"### {title}", "", "| value | g++ | g++ memory | clang++ | clang++ memory |",
                  "|---:|---:|---:|---:|---:|"]
        for value in rows:
            g, c = by.get((f"{knob}/{value}", "g++")), by.get((f"{knob}/{value}", "clang++"))
            lines.append(f"| {value} | " + " | ".join(cell(g) + cell(c)) + " |")
        lines.append("")
        memory_axis = axis.twinx()
        for compiler, colour in (("g++", "tab:blue"), ("clang++", "tab:orange")):
            points = [(v, by[(f"{knob}/{v}", compiler)]) for v in rows if (f"{knob}/{v}", compiler) in by]
            ok = [(v, r) for v, r in points if r["status"] == "ok"]
            axis.plot([v for v, _ in ok], [r["seconds"] for _, r in ok], "o-", color=colour, label=f"{compiler} time")
            memory_axis.plot([v for v, _ in ok], [r["kb"] / 2**20 for _, r in ok], "s--", color=colour, alpha=0.5,
                             label=f"{compiler} memory")
            late = [(v, r) for v, r in points if r["status"] == "timeout"]
            axis.plot([v for v, _ in late], [r["seconds"] for _, r in late], "x", color=colour, markersize=10)
        axis.set_title(title, fontsize=9)
        axis.set_yscale("log")
        axis.set_ylabel("wall s (log)")
        memory_axis.set_ylabel("peak GB (dashed)")
        if knob in ("nodes", "outputs"):
            axis.set_xscale("log")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(os.path.join(docs, "compile.png"), dpi=110)
    functions = list(dict.fromkeys(r["name"].split("/")[0] for r in records if r["name"].endswith("/traced")))
    if functions:
        lines += ["## kobai::trace against the same function written by hand (`bench/compile/traced.cpp`)", "",
                  "Each program is the function, its gradient and its Hessian, evaluated at a point. Budget: tracing at "
                  "most doubles the compile time.", "",
                  "| function | g++ hand | g++ traced | ratio | clang++ hand | clang++ traced | ratio |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for function in functions:
            row = [function]
            for compiler in ("g++", "clang++"):
                hand, traced = by.get((f"{function}/hand", compiler)), by.get((f"{function}/traced", compiler))
                row += [cell(hand)[0] + " / " + cell(hand)[1], cell(traced)[0] + " / " + cell(traced)[1]]
                ok = hand and traced and hand["status"] == traced["status"] == "ok"
                row.append(f"{traced['seconds'] / hand['seconds']:.2f}" if ok else "—")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    tests = os.path.join(directory, "tests.log")
    if os.path.exists(tests):
        units = [line.split() for line in open(tests) if len(line.split()) == 3]
        units = sorted(((float(s), int(kb), path) for path, s, kb in units), reverse=True)
        over = [u for u in units if u[0] > 30 or u[1] > 2 * 2**20]
        lines += ["## Test translation units (g++, the suite's flags, built two at a time)", "",
                  f"{len(units)} translation units; {len(over)} over 30 s or 2 GB. The slowest:", "",
                  "| translation unit | wall | peak memory |", "|---|---:|---:|"]
        for seconds, kb, path in units[:8]:
            lines.append(f"| {os.path.relpath(path) if os.path.isabs(path) else path} | {seconds:.1f} s | "
                         f"{kb / 1024:.0f} MB |")
        lines.append("")
    lines += ["![compile cost](compile.png)", ""]
    with open(os.path.join(docs, "compile.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
