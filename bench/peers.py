"""Python peers on the benchmarks' own data: JAX jit(value_and_grad).

Reads the inputs and kobai's results that the C++ benchmarks wrote with --out DIR, checks each
peer's numbers against kobai's before its time counts, and appends one JSON object per line to
DIR/peers.jsonl. Thread count: all threads by default; KOBAI_PEER_THREADS=1 limits XLA to one
(bench/run runs both).
"""
import json
import os
import resource
import sys
import time

threads = os.environ.get("KOBAI_PEER_THREADS", "all")
if threads == "1":
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import jax  # noqa: E402  (after XLA_FLAGS)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def median_seconds(function, repetitions):
    function()  # warm-up: tracing and compilation are excluded
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def close(a, b, tolerance):
    return abs(a - b) <= tolerance * max(1.0, abs(b))


def main(directory):
    rows = [json.loads(line) for line in open(os.path.join(directory, "kobai.jsonl"))]
    out = open(os.path.join(directory, "peers.jsonl"), "a")
    peer_threads = 1 if threads == "1" else os.cpu_count()

    @jax.jit
    def w1_step(w, b, x, t):
        return jax.value_and_grad(lambda w, b: jnp.mean((w * x + b - t) ** 2), argnums=(0, 1))(w, b)

    for n in sorted({r["n"] for r in rows if r["workload"] == "W1"}):
        kobai = next(r for r in rows if r["workload"] == "W1" and r["n"] == n)
        x = jnp.asarray(np.fromfile(os.path.join(directory, f"w1_x_{n}.f32"), dtype=np.float32))
        t = jnp.asarray(np.fromfile(os.path.join(directory, f"w1_t_{n}.f32"), dtype=np.float32))
        w, b = jnp.float32(0.5), jnp.float32(0.25)
        loss, (dw, db) = w1_step(w, b, x, t)
        agree = all(close(float(a), kobai[k], 1e-4) for a, k in ((loss, "loss"), (dw, "dw"), (db, "db")))
        seconds = median_seconds(lambda: jax.block_until_ready(w1_step(w, b, x, t)), 31 if n >= 10**7 else 301)
        out.write(json.dumps({"workload": "W1", "n": n, "peer": "jax", "threads": peer_threads,
                              "seconds": seconds if agree else None, "agrees": agree}) + "\n")
        print(f"  JAX W1 N={n:>9} threads={peer_threads}: {seconds * 1e6:10.2f} us, "
              f"{'agrees with kobai' if agree else 'DISAGREES with kobai: not counted'}")

    @jax.jit
    def w2_step(w, b, X, y):
        def loss(w, b):
            z = X @ w + b
            return jnp.mean(jnp.logaddexp(0.0, z) - z * y)  # BCE with logits, stable

        return jax.value_and_grad(loss, argnums=(0, 1))(w, b)

    for n in sorted({r["n"] for r in rows if r["workload"] == "W2"}):
        kobai = next(r for r in rows if r["workload"] == "W2" and r["n"] == n)
        X = jnp.asarray(np.fromfile(os.path.join(directory, f"w2_x_{n}.f32"), dtype=np.float32).reshape(n, -1))
        y = jnp.asarray(np.fromfile(os.path.join(directory, f"w2_y_{n}.f32"), dtype=np.float32))
        w = jnp.asarray(np.fromfile(os.path.join(directory, f"w2_w_{n}.f32"), dtype=np.float32))
        b = jnp.float32(0.1)
        loss, (dw, db) = w2_step(w, b, X, y)
        agree = close(float(loss), kobai["loss"], 1e-3) and close(float(db), kobai["db"], 1e-3) and all(
            close(float(a), k, 1e-3) for a, k in zip(np.asarray(dw), kobai["dw"]))
        seconds = median_seconds(lambda: jax.block_until_ready(w2_step(w, b, X, y)), 21 if n >= 10**7 else 101)
        out.write(json.dumps({"workload": "W2", "n": n, "peer": "jax", "threads": peer_threads,
                              "seconds": seconds if agree else None, "agrees": agree}) + "\n")
        print(f"  JAX W2 N={n:>9} threads={peer_threads}: {seconds * 1e6:10.2f} us, "
              f"{'agrees with kobai' if agree else 'DISAGREES with kobai: not counted'}")

    w3 = [r for r in rows if r["workload"] == "W3"]
    if w3:
        kobai = w3[0]
        X = jnp.asarray(np.fromfile(os.path.join(directory, "w3_x.f32"), dtype=np.float32).reshape(1000, 1000))
        Y = jnp.asarray(np.fromfile(os.path.join(directory, "w3_y.f32"), dtype=np.float32).reshape(1000, 1000))

        @jax.jit
        def partials(X, Y):
            z = lambda X, Y: jnp.sum(X**2 * Y + 2 * X * Y**3)
            dzdx, dzdy = jax.grad(z, argnums=(0, 1))(X, Y)
            d2zdx2 = jax.grad(lambda X: jnp.sum(jax.grad(z, argnums=0)(X, Y)))(X)
            return dzdx, dzdy, d2zdx2

        zx, zy, zxx = partials(X, Y)
        sums = [float(np.sum(np.asarray(a, dtype=np.float64))) for a in (zx, zy, zxx)]
        agree = all(close(s, kobai[k], 1e-5) for s, k in zip(sums, ("zx_sum", "zy_sum", "zxx_sum")))
        seconds = median_seconds(lambda: jax.block_until_ready(partials(X, Y)), 31)
        out.write(json.dumps({"workload": "W3", "n": kobai["n"], "peer": "jax", "threads": peer_threads,
                              "seconds": seconds if agree else None, "agrees": agree}) + "\n")
        print(f"  JAX W3 1000x1000 threads={peer_threads}: {seconds * 1e3:8.3f} ms, "
              f"{'agrees with kobai' if agree else 'DISAGREES with kobai: not counted'}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write(json.dumps({"peer": "jax", "threads": peer_threads, "peak_rss_mib": rss, "version": jax.__version__}) + "\n")
    print(f"  JAX {jax.__version__}, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1])
