"""Python peers on the benchmarks' own data: JAX jit(value_and_grad), PyTorch eager autograd and
torch.compile.

Usage: peers.py DIR PEER WORKLOAD, with PEER one of jax, torch, torch.compile and WORKLOAD one of
W1..W9 (W9, a training epoch with Adam, for torch only). Reads the inputs and kobai's results that the C++ benchmarks wrote with --out DIR, checks
the peer's loss and gradients against kobai's before its time counts, and appends one JSON object
per measurement to DIR/peers.jsonl. bench/run runs each peer and workload in its own process, so
the peak RSS is that peer's on that workload alone. Thread count: all threads by default;
KOBAI_PEER_THREADS=1 asks the framework for one thread (bench/run also pins the process to one core).
"""
import json
import os
import resource
import sys
import time

import numpy as np

threads = os.environ.get("KOBAI_PEER_THREADS", "all")
peer_threads = 1 if threads == "1" else os.cpu_count()
if threads == "1":
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
    os.environ["OMP_NUM_THREADS"] = "1"


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_seconds(function, repetitions):
    function()  # warm-up: tracing and compilation are excluded
    function()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def repetitions_for(n):
    return 11 if n >= 10**7 else 31 if n >= 10**6 else 101 if n >= 10**5 else 301


def agreement(numbers, reference):
    """Largest difference over the largest magnitude (at least 1e-3), over every number of the step."""
    numbers = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in numbers])
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(numbers - reference)) / max(1e-3, float(np.max(np.abs(reference)))))


def load(directory, name, shape=None):
    data = np.fromfile(os.path.join(directory, name + ".f32"), dtype=np.float32)
    return data.reshape(shape) if shape else data


# Each workload: for a size n, the inputs as numpy arrays, kobai's numbers in order, and a tolerance.
def w1_case(directory, row):
    n = row["n"]
    data = dict(x=load(directory, f"w1_x_{n}"), t=load(directory, f"w1_t_{n}"), w=np.float32(0.5), b=np.float32(0.25))
    return data, [row["loss"], row["dw"], row["db"]], 1e-4


def w2_case(directory, row):
    n = row["n"]
    data = dict(X=load(directory, f"w2_x_{n}", (n, -1)), y=load(directory, f"w2_y_{n}"),
                w=load(directory, f"w2_w_{n}"), b=np.float32(0.1))
    return data, [row["loss"], *row["dw"], row["db"]], 1e-3


def w3_case(directory, row):
    data = dict(X=load(directory, "w3_x", (1000, 1000)), Y=load(directory, "w3_y", (1000, 1000)))
    return data, [row["zx_sum"], row["zy_sum"], row["zxx_sum"]], 1e-5


def w4_case(directory, row):
    n = row["n"]
    data = dict(X=load(directory, f"w4_x_{n}", (n, -1)), t=load(directory, f"w4_t_{n}"),
                W1=load(directory, f"w4_W1_{n}", (8, -1)), b1=load(directory, f"w4_b1_{n}"),
                w2=load(directory, f"w4_w2_{n}"), b2=np.float32(0.1))
    return data, row["numbers"], 1e-3


# W5–W8 (bench/classifiers.cpp, bench/mixture.cpp): the inputs by name, and kobai's numbers (loss,
# then every gradient, flattened) from its own dump.
CLASSIFIER_SHAPES = {"W5": {"W": (64, 10), "b": (10,)},
                     "W6": {"W1": (64, 32), "b1": (32,), "W2": (32, 10), "b2": (10,)},
                     "W7": {"W1": (64, 256), "b1": (256,), "W2": (256, 256), "b2": (256,), "W3": (256, 10),
                            "b3": (10,)}}


def classifier_case(workload):
    def case(directory, row):
        n = row["n"]
        data = dict(X=load(directory, f"w5_x_{n}", (n, 64)), Y=load(directory, f"w5_y_{n}", (n, 10)))
        for name, shape in CLASSIFIER_SHAPES[workload].items():
            data[name] = load(directory, f"{workload}_{name}_{n}", shape)
        return data, load(directory, f"{workload}_{n}_kobai"), 1e-3
    return case


def w8_case(directory, row):
    d, k = row["d"], row["k"]
    shape = f"{d}_{k}"
    data = dict(X=load(directory, f"W8_x_{shape}", (row["n"], d)), alphas=load(directory, f"W8_alphas_{shape}"),
                means=load(directory, f"W8_means_{shape}", (k, d)), L=load(directory, f"W8_L_{shape}", (k, d, d)),
                eye=np.eye(d, dtype=np.float32), lower=np.tril(np.ones((d, d), dtype=np.float32), -1))
    return data, load(directory, f"W8_kobai_{shape}"), 1e-3


def w9_case(directory, row):
    n = row["n"]
    data = dict(X=load(directory, f"w9_x_{n}", (n, 64)), Y=load(directory, f"w9_y_{n}", (n, 10)),
                W1=load(directory, f"W9_W1_{n}", (64, 32)), b1=load(directory, f"W9_b1_{n}"),
                W2=load(directory, f"W9_W2_{n}", (32, 10)), b2=load(directory, f"W9_b2_{n}"))
    return data, load(directory, f"W9_{n}_kobai"), 1e-3


cases = {"W1": w1_case, "W2": w2_case, "W3": w3_case, "W4": w4_case, "W5": classifier_case("W5"),
         "W6": classifier_case("W6"), "W7": classifier_case("W7"), "W8": w8_case, "W9": w9_case}
# The parameters each of W5–W8 differentiates, in kobai's output order.
PARAMETERS = {"W5": ("W", "b"), "W6": ("W1", "b1", "W2", "b2"), "W7": ("W1", "b1", "W2", "b2", "W3", "b3"),
              "W8": ("alphas", "means", "L")}


def contraction_loss(np_, workload, p, X, Y=None, eye=None, lower=None):
    """W5–W8's loss with the array module np_ (jax.numpy or torch): p maps parameter names to arrays."""
    torch_like = np_.__name__ == "torch"

    def logsumexp(v, axis, keep=False):  # shifted by the max, kept dimension optional
        top = (np_.amax(v, dim=axis, keepdim=True) if torch_like else np_.max(v, axis=axis, keepdims=True))
        total = top + np_.log(np_.exp(v - top).sum(axis, keepdim=True) if torch_like
                              else np_.exp(v - top).sum(axis, keepdims=True))
        return total if keep else total.squeeze(axis)

    def cross_entropy(z):  # probability targets, the mean over rows
        return -(Y * (z - logsumexp(z, 1, keep=True))).sum(1).mean()
    if workload == "W5":
        return cross_entropy(X @ p["W"] + p["b"])
    if workload == "W6":
        return cross_entropy(np_.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
    if workload == "W7":
        h = np_.tanh(np_.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
        return cross_entropy(h @ p["W3"] + p["b3"])
    # W8: Q_k = lower triangle of L_k, diagonal exponentiated; y = Q_k (x − μ_k)
    Q = eye * np_.exp(p["L"]) + lower * p["L"]
    centred = X[:, None, :] - p["means"]
    y = np_.einsum("kij,nkj->nki", Q, centred)  # a batched matrix product, not an N·K·D·D product
    inner = p["alphas"] + (eye * p["L"]).sum((1, 2)) - 0.5 * (y * y).sum(2)
    return logsumexp(inner, 1).sum() - X.shape[0] * logsumexp(p["alphas"], 0)


def sums(arrays):  # W3 is compared through the float64 sums of its three grids
    return [float(np.sum(np.asarray(a, dtype=np.float64))) for a in arrays]


def jax_steps():
    import jax
    import jax.numpy as jnp

    def w1(w, b, x, t):
        return jax.value_and_grad(lambda w, b: jnp.mean((w * x + b - t) ** 2), argnums=(0, 1))(w, b)

    def w2(w, b, X, y):
        def loss(w, b):
            z = X @ w + b
            return jnp.mean(jnp.logaddexp(0.0, z) - z * y)  # BCE with logits, stable
        return jax.value_and_grad(loss, argnums=(0, 1))(w, b)

    def w3(X, Y):
        z = lambda X, Y: jnp.sum(X**2 * Y + 2 * X * Y**3)
        dzdx, dzdy = jax.grad(z, argnums=(0, 1))(X, Y)
        d2zdx2 = jax.grad(lambda X: jnp.sum(jax.grad(z, argnums=0)(X, Y)))(X)
        return dzdx, dzdy, d2zdx2

    def w4(W1, b1, w2, b2, X, t):
        def loss(W1, b1, w2, b2):
            return jnp.mean((jnp.tanh(X @ W1 + b1) @ w2 + b2 - t) ** 2)
        return jax.value_and_grad(loss, argnums=(0, 1, 2, 3))(W1, b1, w2, b2)

    w1, w2, w3, w4 = (jax.jit(f) for f in (w1, w2, w3, w4))

    def make(workload, d):
        a = {k: jnp.asarray(v) for k, v in d.items()}
        if workload in PARAMETERS:
            names = PARAMETERS[workload]
            others = {k: v for k, v in a.items() if k not in names}
            step_of = jax.jit(lambda params, others: jax.value_and_grad(
                lambda params: contraction_loss(jnp, workload, params, **others))(params))
            params = {k: a[k] for k in names}
            step = lambda: step_of(params, others)
            numbers = lambda r: [r[0], *(r[1][k] for k in names)]
            return (lambda: jax.block_until_ready(step())), numbers
        if workload == "W1":
            step = lambda: w1(a["w"], a["b"], a["x"], a["t"])
            numbers = lambda r: [r[0], *r[1]]
        elif workload == "W2":
            step = lambda: w2(a["w"], a["b"], a["X"], a["y"])
            numbers = lambda r: [r[0], r[1][0], r[1][1]]
        elif workload == "W3":
            step = lambda: w3(a["X"], a["Y"])
            numbers = sums
        else:
            step = lambda: w4(a["W1"], a["b1"], a["w2"], a["b2"], a["X"], a["t"])
            numbers = lambda r: [r[0], *r[1]]
        return (lambda: jax.block_until_ready(step())), numbers

    return make, "JAX " + jax.__version__


def torch_steps(compiled):
    import torch

    torch.set_num_threads(peer_threads)

    # The losses; the gradients come from autograd outside them. torch.compile compiles the loss
    # as its users do for training (AOTAutograd compiles its backward too): with autograd.grad
    # inside the compiled function, dynamo recompiles on every call until its limit.
    def w1(w, b, x, t):
        return ((w * x + b - t) ** 2).mean()

    def w2(w, b, X, y):
        return torch.nn.functional.binary_cross_entropy_with_logits(X @ w + b, y)

    def w3(X, Y):
        return (X**2 * Y + 2 * X * Y**3).sum()

    def w4(W1, b1, w2, b2, X, t):
        return torch.nn.functional.mse_loss(torch.tanh(X @ W1 + b1) @ w2 + b2, t)

    functions = {"W1": w1, "W2": w2, "W3": w3, "W4": w4}
    variables = {"W1": ("w", "b"), "W2": ("w", "b"), "W3": ("X", "Y"), "W4": ("W1", "b1", "w2", "b2")}
    order = {"W1": ("w", "b", "x", "t"), "W2": ("w", "b", "X", "y"), "W3": ("X", "Y"),
             "W4": ("W1", "b1", "w2", "b2", "X", "t")}

    def training(d):
        """W9: one epoch of the digits MLP with torch.optim.Adam per call, in batches of 64 rows of
        the data permuted once per epoch (file order in the first call, which is checked)."""
        params = {k: torch.tensor(d[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")}
        X, Y = torch.tensor(d["X"]), torch.tensor(d["Y"])
        optimizer = torch.optim.Adam(params.values(), lr=1e-2)
        generator = torch.Generator().manual_seed(5)
        epochs = [0]

        def epoch():
            if epochs[0] == 0:
                Xs, Ys = X, Y
            else:
                order = torch.randperm(X.shape[0], generator=generator)
                Xs, Ys = X[order], Y[order]
            epochs[0] += 1
            for first in range(0, X.shape[0], 64):
                xb, yb = Xs[first:first + 64], Ys[first:first + 64]
                optimizer.zero_grad(set_to_none=True)
                logits = torch.tanh(xb @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
                torch.nn.functional.cross_entropy(logits, yb).backward()
                optimizer.step()
            return [params[k].detach().numpy().copy() for k in ("W1", "W2", "b1", "b2")]

        return epoch, (lambda r: r)

    def make(workload, d):
        if workload == "W9":
            return training(d)
        if workload in PARAMETERS:
            names = PARAMETERS[workload]
            a = {k: torch.tensor(v, requires_grad=k in names) for k, v in d.items()}
            others = {k: v for k, v in a.items() if k not in names}

            def loss_of(*params):
                return contraction_loss(torch, workload, dict(zip(names, params)), **others)

            function = torch.compile(loss_of) if compiled else loss_of
            params = [a[k] for k in names]

            def step():
                loss = function(*params)
                return loss, *torch.autograd.grad(loss, params)

            return step, (lambda r: [r[0].item(), *(v.numpy() for v in r[1:])])
        a = {k: torch.tensor(v, requires_grad=k in variables[workload]) for k, v in d.items()}
        function = torch.compile(functions[workload]) if compiled else functions[workload]
        args = [a[k] for k in order[workload]]
        wrt = [a[k] for k in variables[workload]]

        def step():
            loss = function(*args)
            if workload != "W3":
                return loss, *torch.autograd.grad(loss, wrt)
            dzdx, dzdy = torch.autograd.grad(loss, wrt, create_graph=True)  # then differentiate again
            (d2zdx2,) = torch.autograd.grad(dzdx.sum(), wrt[0])
            return dzdx.detach(), dzdy.detach(), d2zdx2

        if workload == "W1":
            numbers = lambda r: [r[0].item(), r[1].item(), r[2].item()]
        elif workload == "W2":
            numbers = lambda r: [r[0].item(), r[1].numpy(), r[2].item()]
        elif workload == "W3":
            numbers = lambda r: sums(v.numpy() for v in r)
        else:
            numbers = lambda r: [r[0].item(), *(v.numpy() for v in r[1:])]
        return step, numbers

    return make, ("torch.compile " if compiled else "PyTorch eager ") + torch.__version__


def main(directory, peer, workload):
    rows = [json.loads(line) for line in open(os.path.join(directory, "kobai.jsonl"))]
    rows = [r for r in rows if r.get("workload") == workload and "n" in r and r["threads"] == 1]
    # W8's rows share N: one per (D, K)
    key = (lambda r: (r["d"], r["k"])) if workload == "W8" else (lambda r: r["n"])
    make, name = {"jax": jax_steps, "torch": lambda: torch_steps(False),
                  "torch.compile": lambda: torch_steps(True)}[peer]()
    out = open(os.path.join(directory, "peers.jsonl"), "a")
    for row in sorted(rows, key=key):
        data, reference, tolerance = cases[workload](directory, row)
        record = {"workload": workload, "n": row["n"], "peer": peer, "version": name, "threads": peer_threads}
        if workload == "W8":
            record.update(d=row["d"], k=row["k"])
        try:
            step, numbers = make(workload, data)
            before = rss_mib()  # the inputs are in the framework's arrays now
            difference = agreement(numbers(step()), reference)
            seconds = median_seconds(step, 5 if workload == "W7" else repetitions_for(row["n"]))
            record.update(seconds=seconds if difference <= tolerance else None, difference=difference,
                          extra_rss_mib=max(0.0, rss_mib() - before), peak_rss_mib=rss_mib())
            verdict = "agrees with kobai" if difference <= tolerance else "DISAGREES with kobai: not counted"
            print(f"  {name:24} {workload} N={row['n']:>9} threads={peer_threads}: {seconds * 1e6:12.2f} us, "
                  f"{verdict} ({difference:.1e})")
        except Exception as error:  # a peer that cannot run a workload is reported, not fatal
            reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:160]
            record.update(seconds=None, error=reason)
            print(f"  {name:24} {workload} N={row['n']:>9} threads={peer_threads}: failed: {reason}")
        out.write(json.dumps(record) + "\n")
        out.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
