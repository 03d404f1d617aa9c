#!/usr/bin/env python3
"""Generates random well-shaped kobai programs for the differential fuzzer (tests/fuzz/harness.hpp).

Each program is written twice: in kobai's syntax, and as calls on the naive reference evaluator of
tests/fuzz/reference.hpp. Programs use elementwise ops, broadcasting through unsqueeze, reductions
along axes with and without keepdims, matmul, transpose, softmax, logsumexp, the losses, where and
max/min, take with integer index leaves (int64 and int32), select, narrow, concat and stack, and
compile several outputs together: a loss with its gradients, a vjp with a random seed,
or an hvp. Extents include 1, 7, 17 and 257. A program is called three times: on new data at the same
extents, then at new extents.

  generate.py --seed S --count N --per-file K --out DIR   writes DIR/fuzz_<i>.cpp
  generate.py --seed S --only I --out DIR                 writes program I alone, to reproduce it
"""
import argparse
import math
import os
import random

EXTENTS = [1, 2, 3, 4, 5, 7, 8, 16, 17, 33, 257]
MAX_ELEMENTS = 20000  # of any node, per call: the reference is naive
SYMBOLS = "abcdef"


class Expr:
    """A node: its kobai expression (a constexpr name), its reference node, shape and value bounds."""

    def __init__(self, kobai, text, ref, shape, lo, hi, smooth, depth=0):
        self.kobai = kobai  # C++ name of the constexpr expression
        self.text = text  # nested kobai syntax, for messages
        self.ref = ref  # C++ name of the reference node id
        self.shape = tuple(shape)  # symbols, or 1 for an axis of static extent 1
        self.lo, self.hi = lo, hi
        self.smooth = smooth
        self.depth = depth

    @property
    def rank(self):
        return len(self.shape)

    def has_units(self):
        return 1 in self.shape


def broadcast(*shapes):
    """NumPy's broadcast on symbolic shapes, or None when two different symbols meet."""
    rank = max(len(s) for s in shapes)
    out = []
    for p in range(rank):
        axis = 1
        for s in shapes:
            q = p - (rank - len(s))
            if q < 0 or s[q] == 1:
                continue
            if axis == 1:
                axis = s[q]
            elif axis != s[q]:
                return None
        out.append(axis)
    return tuple(out)  # one symbol may sit on two axes: x·xᵀ-like products are programs too


def interval_mul(a, b):
    products = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return min(products), max(products)


def flat(*exprs):
    """Whether a value may cluster at a stationary point (sin, cos and what is built from them: x·cos x
    near its minimum): a max or min over it is then a near-tie that float32 rounding may break
    differently from the float64 reference (seed 76, program 82), so none is taken."""
    return any("sin(" in e.text or "cos(" in e.text for e in exprs)


class Program:
    def __init__(self, rng, index, seed):
        self.rng = rng
        self.index = index
        self.seed = seed
        self.leaves = []  # (name, role, shape)
        self.kobai_lines = []
        self.ref_lines = []
        self.count = 0
        # Three calls: new data at the same extents (stale state shows up there), then new extents.
        first, second = ({s: rng.choice(EXTENTS) for s in SYMBOLS} for _ in range(2))
        self.extents = [first, dict(first), second]
        self.nodes = []
        self.products = []
        self.direction = (None, None)
        self.mode = None
        self.indices = {}  # index leaf -> (C++ element type, the symbol of the axis it indexes)
        self.minimums = {}  # symbol -> the extent a select or narrow needs it to keep

    # Bounds use the largest extent a symbol takes over the calls.
    def extent(self, axis):
        return 1 if axis == 1 else max(size_of(axis, e) for e in self.extents)

    def fresh(self):
        self.count += 1
        return self.count

    def emit(self, kobai, text, ref, shape, lo, hi, smooth, depth):
        k = self.fresh()
        self.kobai_lines.append(f"[[maybe_unused]] constexpr auto e{k} = {kobai};")
        self.ref_lines.append(f"[[maybe_unused]] const int r{k} = {ref};")
        lo, hi = min(lo, hi), max(lo, hi)
        node = Expr(f"e{k}", text, f"r{k}", shape, lo, hi, smooth, depth)
        self.nodes.append(node)
        return node

    def leaf(self, role, shape):
        name = ("w" if role == "var" else "x") + str(len(self.leaves))
        self.leaves.append((name, role, tuple(shape)))
        rank = len(shape)
        maker = "var" if role == "var" else "input"
        self.kobai_lines.append(f'constexpr auto {name} = {maker}<"{name}", {rank}>;')
        node = Expr(name, name, "L_" + name, shape, -1.0, 1.0, True, 0)
        self.nodes.append(node)
        return node

    def index_leaf(self, shape, axis_symbol):
        name = "i" + str(len(self.leaves))
        element = self.rng.choice(["std::int64_t", "std::int32_t"])
        self.leaves.append((name, "index", tuple(shape)))
        self.indices[name] = (element, axis_symbol)
        self.kobai_lines.append(f'constexpr auto {name} = input<"{name}", {len(shape)}, {element}>;')
        return name

    def random_shape(self, rank):
        return tuple(self.rng.sample(SYMBOLS[:4], rank))

    def leaf_extents(self, shape, e):
        return ", ".join(str(size_of(s, e)) for s in shape)

    # -- elementwise ---------------------------------------------------------------------------

    def positive(self, a, floor=0.1):
        """a, or a transformed to be at least `floor` (for log, sqrt, division)."""
        if a.lo >= floor:
            return a
        lift = self.rng.choice(["softplus", "square", "sigmoid"])
        if lift == "softplus":
            return self.emit(f"softplus({a.kobai}) + literal<1, 10>", f"softplus({a.text}) + 0.1",
                             f"g.add(g.softplus({a.ref}), g.scalar(0.1))", a.shape, 0.1,
                             max(a.hi, 0) + 0.8, a.smooth, a.depth + 1)
        if lift == "square":
            return self.emit(f"pow<2>({a.kobai}) + 1_c", f"pow<2>({a.text}) + 1",
                             f"g.add(g.power({a.ref}, 2), g.scalar(1))", a.shape, 1.0,
                             1 + max(a.lo ** 2, a.hi ** 2), a.smooth, a.depth + 1)
        return self.emit(f"sigmoid({a.kobai}) + literal<1, 4>", f"sigmoid({a.text}) + 0.25",
                         f"g.add(g.sigmoid({a.ref}), g.scalar(0.25))", a.shape, 0.25, 1.25, a.smooth, a.depth + 1)

    def bounded(self, a, limit=6.0):
        """a, or tanh(a / 2^k) when a may exceed the limit (before exp, powers), 2^k bringing the
        argument within ±4: there tanh's derivative is at least 1.3e-3, where a saturated tanh's
        1 − tanh² is a difference of nearly equal numbers, a few float32 ulps of 1 off by tens of
        percent (seed 107, program 0: a gradient of 7e-6, 22% off in float)."""
        largest = max(abs(a.lo), abs(a.hi))
        if largest <= limit:
            return a
        k = min(60, max(0, math.ceil(math.log2(largest / 4))))
        if k > 0:
            a = self.emit(f"literal<1, {2 ** k}> * {a.kobai}", f"{2.0 ** -k!r} * ({a.text})",
                          f"g.mul({a.ref}, g.scalar({2.0 ** -k!r}))", a.shape, a.lo / 2 ** k, a.hi / 2 ** k, a.smooth,
                          a.depth + 1)
        return self.emit(f"tanh({a.kobai})", f"tanh({a.text})", f"g.tanh({a.ref})", a.shape, -1, 1, a.smooth,
                         a.depth + 1)

    def unary(self, a):
        op = self.rng.choice(["exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "erf", "sigmoid", "softplus",
                              "relu", "abs", "neg", "square", "cube", "reciprocal", "rsqrt", "cbrt", "scale",
                              "detach", "tan", "sign", "self"])
        d = a.depth + 1
        if op == "tan":
            a = self.bounded(a, 1.2)
            bound = math.tan(max(abs(a.lo), abs(a.hi)))
            return self.emit(f"tan({a.kobai})", f"tan({a.text})", f"g.tan({a.ref})", a.shape, -bound, bound,
                             a.smooth, d)
        if op == "sign":
            return self.emit(f"sign({a.kobai})", f"sign({a.text})", f"g.sign({a.ref})", a.shape, -1, 1, False, d)
        if op == "self":  # simplifies to a constant of a's shape: X − X, X/X, X·0, where with equal branches
            form = self.rng.choice(["sub", "div", "zero", "where"])
            if form == "sub":
                return self.emit(f"{a.kobai} - {a.kobai}", f"({a.text} - {a.text})", f"g.sub({a.ref}, {a.ref})",
                                 a.shape, 0, 0, a.smooth, d)
            if form == "div":
                a = self.positive(a)
                return self.emit(f"{a.kobai} / {a.kobai}", f"({a.text} / {a.text})", f"g.div({a.ref}, {a.ref})",
                                 a.shape, 1, 1, a.smooth, d)
            if form == "zero":
                return self.emit(f"{a.kobai} * 0_c", f"({a.text} * 0)", f"g.mul({a.ref}, g.scalar(0))", a.shape, 0,
                                 0, a.smooth, d)
            b = self.partner(a)
            shape = broadcast(a.shape, b.shape)
            if shape is None:
                return None
            return self.emit(f"where({a.kobai} > {b.kobai}, {a.kobai}, {a.kobai})",
                             f"where({a.text} > {b.text}, {a.text}, {a.text})",
                             f"g.where(g.greater({a.ref}, {b.ref}), {a.ref}, {a.ref})", shape, a.lo, a.hi, a.smooth, d)
        if op in ("exp", "expm1"):
            a = self.bounded(a)
            lo, hi = math.exp(a.lo), math.exp(a.hi)
            if op == "expm1":
                lo, hi = lo - 1, hi - 1
            return self.emit(f"{op}({a.kobai})", f"{op}({a.text})", f"g.{op}({a.ref})", a.shape, lo, hi, a.smooth, d)
        if op == "log":
            a = self.positive(a)
            return self.emit(f"log({a.kobai})", f"log({a.text})", f"g.log({a.ref})", a.shape, math.log(a.lo),
                             math.log(a.hi), a.smooth, d)
        if op == "log1p":
            a = self.positive(a)
            return self.emit(f"log1p({a.kobai})", f"log1p({a.text})", f"g.log1p({a.ref})", a.shape,
                             math.log1p(a.lo), math.log1p(a.hi), a.smooth, d)
        if op in ("sqrt", "rsqrt", "cbrt"):
            a = self.positive(a)
            power = {"sqrt": (1, 2), "rsqrt": (-1, 2), "cbrt": (1, 3)}[op]
            p = power[0] / power[1]
            kobai = f"sqrt({a.kobai})" if op == "sqrt" else f"pow<{power[0]}, {power[1]}>({a.kobai})"
            bounds = sorted([a.lo ** p, a.hi ** p])
            return self.emit(kobai, kobai.replace(a.kobai, a.text), f"g.power({a.ref}, {p!r})", a.shape, bounds[0],
                             bounds[1], a.smooth, d)
        if op in ("sin", "cos", "tanh", "erf"):
            if op in ("sin", "cos"):  # a large argument is ill-conditioned in float32: cos(1e4) has an ulp of 1e-3
                a = self.bounded(a, 8.0)
            return self.emit(f"{op}({a.kobai})", f"{op}({a.text})", f"g.{op}({a.ref})", a.shape, -1, 1, a.smooth, d)
        if op == "sigmoid":
            return self.emit(f"sigmoid({a.kobai})", f"sigmoid({a.text})", f"g.sigmoid({a.ref})", a.shape, 0, 1,
                             a.smooth, d)
        if op == "softplus":
            return self.emit(f"softplus({a.kobai})", f"softplus({a.text})", f"g.softplus({a.ref})", a.shape, 0,
                             max(a.hi, 0) + 0.7, a.smooth, d)
        if op == "relu":
            return self.emit(f"relu({a.kobai})", f"relu({a.text})", f"g.relu({a.ref})", a.shape, max(a.lo, 0),
                             max(a.hi, 0), False, d)
        if op == "abs":
            return self.emit(f"abs({a.kobai})", f"abs({a.text})", f"g.abs({a.ref})", a.shape, 0,
                             max(abs(a.lo), abs(a.hi)), False, d)
        if op == "neg":
            return self.emit(f"-{a.kobai}", f"-({a.text})", f"g.neg({a.ref})", a.shape, -a.hi, -a.lo, a.smooth, d)
        if op in ("square", "cube"):
            a = self.bounded(a, 10)
            n = 2 if op == "square" else 3
            values = [a.lo ** n, a.hi ** n] + ([0.0] if a.lo < 0 < a.hi else [])
            return self.emit(f"pow<{n}>({a.kobai})", f"pow<{n}>({a.text})", f"g.power({a.ref}, {n})", a.shape,
                             min(values), max(values), a.smooth, d)
        if op == "reciprocal":
            a = self.positive(a, 0.2)
            return self.emit(f"1_c / {a.kobai}", f"1 / ({a.text})", f"g.power({a.ref}, -1)", a.shape, 1 / a.hi,
                             1 / a.lo, a.smooth, d)
        if op == "scale":
            num, den = self.rng.choice([(-1, 1), (2, 1), (-3, 2), (1, 4), (5, 1)])
            c = num / den
            return self.emit(f"literal<{num}, {den}> * {a.kobai}", f"{c} * ({a.text})",
                             f"g.mul({a.ref}, g.scalar({c!r}))", a.shape, c * a.lo, c * a.hi, a.smooth, d)
        # finite differences see through detach: not "smooth" for the check of the reference
        return self.emit(f"detach({a.kobai})", f"detach({a.text})", f"g.detach({a.ref})", a.shape, a.lo, a.hi,
                         False, d)

    def partner(self, a):
        """An operand that broadcasts with a: an existing node, or a new leaf of a suffix of a's shape."""
        candidates = [n for n in self.nodes if n is not a and broadcast(a.shape, n.shape) is not None]
        if candidates and self.rng.random() < 0.7:
            return self.rng.choice(candidates)
        symbols = [s for s in a.shape if s != 1]
        keep = self.rng.randint(0, len(symbols))
        shape = tuple(symbols[len(symbols) - keep:])
        if self.rng.random() < 0.2:  # a new axis: an outer product
            unused = [s for s in SYMBOLS[:5] if s not in a.shape]
            if unused and a.rank < 3:
                b = self.leaf(self.role(), (self.rng.choice(unused),))
                return self.emit(f"unsqueeze<1>({b.kobai})", f"unsqueeze<1>({b.text})", f"g.unsqueeze({b.ref}, 1)",
                                 (b.shape[0], 1), b.lo, b.hi, True, 1)
        return self.leaf(self.role(), shape)

    def role(self):
        return "var" if self.rng.random() < 0.5 else "input"

    def binary(self, a):
        b = self.partner(a)
        shape = broadcast(a.shape, b.shape)
        if shape is None:
            return None
        if self.rng.random() < 0.5:
            a, b = b, a
        op = self.rng.choice(["+", "-", "*", "*", "/", "max", "min", "where", "pow"])
        if op in ("max", "min") and flat(a, b):
            op = "+"
        if op in ("max", "min", "where") and (a.text in b.text or b.text in a.text):
            # x against a function of x: tanh(x) > x near 0 is a near-tie that float32 rounding may
            # break differently from the float64 reference (seed 105, program 58)
            op = "+"
        d = max(a.depth, b.depth) + 1
        smooth = a.smooth and b.smooth
        if op == "+":
            return self.emit(f"{a.kobai} + {b.kobai}", f"({a.text} + {b.text})", f"g.add({a.ref}, {b.ref})", shape,
                             a.lo + b.lo, a.hi + b.hi, smooth, d)
        if op == "-":
            return self.emit(f"{a.kobai} - {b.kobai}", f"({a.text} - {b.text})", f"g.sub({a.ref}, {b.ref})", shape,
                             a.lo - b.hi, a.hi - b.lo, smooth, d)
        if op == "*":
            a, b = self.bounded(a, 30), self.bounded(b, 30)
            lo, hi = interval_mul(a, b)
            return self.emit(f"{a.kobai} * {b.kobai}", f"({a.text} * {b.text})", f"g.mul({a.ref}, {b.ref})", shape,
                             lo, hi, smooth, d)
        if op == "/":
            a = self.bounded(a, 30)
            b = self.positive(b, 0.2) if self.rng.random() < 0.7 or b.hi > -0.2 else b
            inverse = Expr("", "", "", b.shape, 1 / b.hi, 1 / b.lo, True)
            lo, hi = interval_mul(a, inverse)
            return self.emit(f"{a.kobai} / {b.kobai}", f"({a.text} / {b.text})", f"g.div({a.ref}, {b.ref})", shape,
                             lo, hi, smooth, d)
        if op == "pow":  # a positive base to a bounded exponent
            a, b = self.positive(a), self.bounded(b, 2)
            ends = [a.lo ** b.lo, a.lo ** b.hi, a.hi ** b.lo, a.hi ** b.hi]
            return self.emit(f"pow({a.kobai}, {b.kobai})", f"pow({a.text}, {b.text})", f"g.pow({a.ref}, {b.ref})",
                             shape, min(ends), max(ends), smooth, d)
        if op in ("max", "min"):
            name = "maximum" if op == "max" else "minimum"
            lo = max(a.lo, b.lo) if op == "max" else min(a.lo, b.lo)
            hi = max(a.hi, b.hi) if op == "max" else min(a.hi, b.hi)
            return self.emit(f"{op}({a.kobai}, {b.kobai})", f"{op}({a.text}, {b.text})",
                             f"g.{name}({a.ref}, {b.ref})", shape, lo, hi, False, d)
        # where(a > b, x, y) with branches that broadcast too
        x, y = self.rng.choice([(a, b), (b, a)])
        if self.rng.random() < 0.5:
            x = self.unary(x)
            shape = broadcast(a.shape, b.shape, x.shape)
            if shape is None:
                return None
        relation, name = self.rng.choice([(">", "greater"), ("<", "less"), (">=", "greater_equal"),
                                          ("<=", "less_equal")])
        return self.emit(f"where({a.kobai} {relation} {b.kobai}, {x.kobai}, {y.kobai})",
                         f"where({a.text} {relation} {b.text}, {x.text}, {y.text})",
                         f"g.where(g.{name}({a.ref}, {b.ref}), {x.ref}, {y.ref})", shape, min(x.lo, y.lo),
                         max(x.hi, y.hi), False, max(d, x.depth + 1))

    # -- shapes and reductions -----------------------------------------------------------------

    def reduce(self, a):
        if a.rank == 0:
            return None
        op = self.rng.choice(["sum", "sum", "mean", "max", "min", "logsumexp", "softmax"])
        if op in ("max", "min") and flat(a):
            op = "sum"
        count = self.rng.choice([1, 1, 1, 2]) if a.rank >= 2 else 1
        axes = sorted(self.rng.sample(range(a.rank), count))
        keep = self.rng.random() < 0.4
        shown = [p - a.rank if self.rng.random() < 0.3 else p for p in axes]
        axis_list = ", ".join(str(p) for p in shown)
        ref_axes = "{" + axis_list + "}"
        kept = tuple(1 if p in axes else s for p, s in enumerate(a.shape)) if keep else \
            tuple(s for p, s in enumerate(a.shape) if p not in axes)
        folded = 1
        for p in axes:
            folded *= self.extent(a.shape[p])
        keepdims = ", keepdims" if keep else ""
        keep_text = "true" if keep else "false"
        d = a.depth + 1
        if op == "softmax":
            axis = shown[0]
            return self.emit(f"softmax<{axis}>({a.kobai})", f"softmax<{axis}>({a.text})",
                             f"g.softmax({a.ref}, {axis})", a.shape, 0, 1, a.smooth, d)
        if op == "logsumexp":
            a = self.bounded(a, 30)
            return self.emit(f"logsumexp<{axis_list}>({a.kobai}{keepdims})", f"logsumexp<{axis_list}>({a.text}{keepdims})",
                             f"g.logsumexp({a.ref}, {ref_axes}, {keep_text})", kept, a.lo,
                             a.hi + math.log(folded), a.smooth, d)
        if op == "sum":
            lo, hi = min(a.lo, a.lo * folded), max(a.hi, a.hi * folded)
            return self.emit(f"sum<{axis_list}>({a.kobai}{keepdims})", f"sum<{axis_list}>({a.text}{keepdims})",
                             f"g.sum({a.ref}, {ref_axes}, {keep_text})", kept, lo, hi, a.smooth, d)
        if op == "mean":
            return self.emit(f"mean<{axis_list}>({a.kobai}{keepdims})", f"mean<{axis_list}>({a.text}{keepdims})",
                             f"g.mean({a.ref}, {ref_axes}, {keep_text})", kept, a.lo, a.hi, a.smooth, d)
        name = "amax" if op == "max" else "amin"
        return self.emit(f"{op}<{axis_list}>({a.kobai}{keepdims})", f"{op}<{axis_list}>({a.text}{keepdims})",
                         f"g.{name}({a.ref}, {ref_axes}, {keep_text})", kept, a.lo, a.hi, False, d)

    def reshape(self, a):
        if a.rank >= 2 and self.rng.random() < 0.5:
            shape = a.shape[:-2] + (a.shape[-1], a.shape[-2])
            return self.emit(f"transpose({a.kobai})", f"transpose({a.text})", f"g.transpose({a.ref})", shape, a.lo,
                             a.hi, a.smooth, a.depth + 1)
        if a.rank >= 3:
            return None
        p = self.rng.randint(0, a.rank)
        shape = a.shape[:p] + (1,) + a.shape[p:]
        return self.emit(f"unsqueeze<{p}>({a.kobai})", f"unsqueeze<{p}>({a.text})", f"g.unsqueeze({a.ref}, {p})",
                         shape, a.lo, a.hi, a.smooth, a.depth + 1)

    def matmul(self, a):
        if a.rank == 0 or a.shape[-1] == 1 or a.rank > 3:
            return None
        k = a.shape[-1]
        a = self.bounded(a, 10)
        unused = [s for s in SYMBOLS if s not in a.shape]
        if self.rng.random() < 0.35:  # matrix·vector, or a dot product
            others = [n for n in self.nodes if n.shape == (k,)]
            b = self.rng.choice(others) if others and self.rng.random() < 0.5 else self.leaf(self.role(), (k,))
            shape = a.shape[:-1]
        else:  # matrix·matrix, vector·matrix, or a stack against a stack
            m = self.rng.choice(unused)
            batch = a.rank == 3 and a.shape[0] != 1 and self.rng.random() < 0.5
            b_shape = ((a.shape[0],) if batch else ()) + (k, m)
            others = [n for n in self.nodes if n.shape == b_shape]
            b = self.rng.choice(others) if others and self.rng.random() < 0.5 else self.leaf(self.role(), b_shape)
            shape = a.shape[:-1] + (m,)
        b = self.bounded(b, 10)
        self.products.append(a.shape + b.shape[-1:])  # the reference forms the broadcast product
        lo, hi = interval_mul(a, b)
        n = self.extent(k)
        return self.emit(f"matmul({a.kobai}, {b.kobai})", f"matmul({a.text}, {b.text})",
                         f"g.matmul({a.ref}, {b.ref})", shape, min(lo, lo * n), max(hi, hi * n),
                         a.smooth and b.smooth, max(a.depth, b.depth) + 1)

    def normalize(self, a):
        """a against a reduction of itself that keeps its axes: centring, scaling, softmax-like."""
        if a.rank == 0:
            return None
        axes = sorted(self.rng.sample(range(a.rank), 1 if a.rank == 1 or self.rng.random() < 0.7 else 2))
        op = self.rng.choice(["sum", "mean", "max", "min", "logsumexp"])
        if op in ("max", "min") and flat(a):
            op = "sum"
        axis_list = ", ".join(str(p) for p in axes)
        kept = tuple(1 if p in axes else s for p, s in enumerate(a.shape))
        folded = 1
        for p in axes:
            folded *= self.extent(a.shape[p])
        if op == "logsumexp":
            a = self.bounded(a, 30)
        name = {"max": "amax", "min": "amin"}.get(op, op)
        lo, hi = (min(a.lo, a.lo * folded), max(a.hi, a.hi * folded)) if op == "sum" else (a.lo, a.hi)
        if op == "logsumexp":
            hi = a.hi + math.log(folded)
        r = self.emit(f"{op}<{axis_list}>({a.kobai}, keepdims)", f"{op}<{axis_list}>({a.text}, keepdims)",
                      f"g.{name}({a.ref}, {{{axis_list}}}, true)", kept, lo, hi, a.smooth and op not in ("max", "min"),
                      a.depth + 1)
        if self.rng.random() < 0.4:  # a costly function of the reduction, read back under its axes
            r = self.emit(f"exp(tanh({r.kobai}))", f"exp(tanh({r.text}))", f"g.exp(g.tanh({r.ref}))", kept,
                          math.exp(-1), math.exp(1), r.smooth, r.depth + 1)
        combine = self.rng.choice(["-", "*", "/"])
        d = max(a.depth, r.depth) + 1
        if combine == "-":
            return self.emit(f"{a.kobai} - {r.kobai}", f"({a.text} - {r.text})", f"g.sub({a.ref}, {r.ref})", a.shape,
                             a.lo - r.hi, a.hi - r.lo, a.smooth and r.smooth, d)
        a, r = self.bounded(a, 30), self.bounded(r, 30)
        if combine == "*":
            lo, hi = interval_mul(a, r)
            return self.emit(f"{a.kobai} * {r.kobai}", f"({a.text} * {r.text})", f"g.mul({a.ref}, {r.ref})", a.shape,
                             lo, hi, a.smooth and r.smooth, d)
        r = self.positive(r, 0.2)
        lo, hi = interval_mul(a, Expr("", "", "", r.shape, 1 / r.hi, 1 / r.lo, True))
        return self.emit(f"{a.kobai} / {r.kobai}", f"({a.text} / {r.text})", f"g.div({a.ref}, {r.ref})", a.shape, lo,
                         hi, a.smooth and r.smooth, d)

    def merge(self, a):
        """a combined with an earlier intermediate value: the program becomes a DAG."""
        earlier = [n for n in self.nodes if n is not a and n.kobai.startswith("e") and
                   broadcast(a.shape, n.shape) is not None]
        if not earlier:
            return None
        b = self.rng.choice(earlier)
        op = self.rng.choice(["+", "*", "max"])
        if op == "max" and flat(a, b):
            op = "+"
        shape = broadcast(a.shape, b.shape)
        d = max(a.depth, b.depth) + 1
        if op == "+":
            return self.emit(f"{a.kobai} + {b.kobai}", f"({a.text} + {b.text})", f"g.add({a.ref}, {b.ref})", shape,
                             a.lo + b.lo, a.hi + b.hi, a.smooth and b.smooth, d)
        if op == "max":
            return self.emit(f"max({a.kobai}, {b.kobai})", f"max({a.text}, {b.text})", f"g.maximum({a.ref}, {b.ref})",
                             shape, max(a.lo, b.lo), max(a.hi, b.hi), False, d)
        a, b = self.bounded(a, 30), self.bounded(b, 30)
        lo, hi = interval_mul(a, b)
        return self.emit(f"{a.kobai} * {b.kobai}", f"({a.text} * {b.text})", f"g.mul({a.ref}, {b.ref})", shape, lo, hi,
                         a.smooth and b.smooth, d)

    def self_product(self, a):
        """a against itself on two axes (issue 16): the outer product of a vector with itself, or a
        matrix times its own transpose. The planner instantiates a once per index map it is read under."""
        if a.rank not in (1, 2) or a.shape[-1] == 1 or (a.rank == 2 and a.shape[0] == a.shape[1]):
            return None
        a = self.bounded(a, 10)
        lo, hi = interval_mul(a, a)
        d = a.depth + 1
        if a.rank == 1:
            s = a.shape[0]
            self.products.append((s, s))
            return self.emit(f"unsqueeze<1>({a.kobai}) * unsqueeze<0>({a.kobai})", f"outer({a.text}, {a.text})",
                             f"g.mul(g.unsqueeze({a.ref}, 1), g.unsqueeze({a.ref}, 0))", (s, s), lo, hi, a.smooth, d)
        s, k = a.shape
        self.products.append((s, k, s))
        n = self.extent(k)
        return self.emit(f"matmul({a.kobai}, transpose({a.kobai}))", f"matmul({a.text}, transpose({a.text}))",
                         f"g.matmul({a.ref}, g.transpose({a.ref}))", (s, s), min(lo, lo * n), max(hi, hi * n),
                         a.smooth, d)

    def triangle(self, a):
        """tril<K>(a) or triu<K>(a) over the last two axes (arange's masks, expr/indices.hpp)."""
        if a.rank < 2:
            return None
        name = self.rng.choice(["tril", "triu"])
        k = self.rng.choice([-1, 0, 0, 1])
        param = f"<{k}>" if k != 0 else ""
        return self.emit(f"{name}{param}({a.kobai})", f"{name}{param}({a.text})",
                         f"g.triangle({a.ref}, {k}, {'true' if name == 'tril' else 'false'})", a.shape, min(a.lo, 0),
                         max(a.hi, 0), a.smooth, a.depth + 1)

    def flatten(self, a):
        """flatten: one axis of numel elements, a symbol of its own (the product of a's extents)."""
        if a.rank < 2:
            return None
        symbol = "*".join(str(s) for s in a.shape)
        return self.emit(f"flatten({a.kobai})", f"flatten({a.text})", f"g.flatten({a.ref})", (symbol,), a.lo, a.hi,
                         a.smooth, a.depth + 1)

    def shown_axis(self, p, rank):
        return p - rank if self.rng.random() < 0.3 else p

    def gather(self, a):
        """take<Axis>(a, idx) with a new integer leaf idx of rank 1 or 2, its values within the axis."""
        if a.rank == 0:
            return None
        p = self.rng.randrange(a.rank)
        index_rank = 1 if a.rank == 3 or self.rng.random() < 0.7 else 2
        shape = tuple(self.rng.choice(SYMBOLS) for _ in range(index_rank))
        name = self.index_leaf(shape, a.shape[p])
        shown = self.shown_axis(p, a.rank)
        out = a.shape[:p] + shape + a.shape[p + 1:]
        return self.emit(f"take<{shown}>({a.kobai}, {name})", f"take<{shown}>({a.text}, {name})",
                         f'g.gather({a.ref}, {p}, c.positions("{name}"), c.find("{name}").shape)', out, a.lo, a.hi,
                         a.smooth, a.depth + 1)

    def slice(self, a):
        """select<Axis, J>(a) or narrow<Axis, Start, Length>(a) along an axis of a plain symbol; the
        extents it needs are kept when the program's extents shrink."""
        axes = [p for p, s in enumerate(a.shape) if isinstance(s, str) and s in SYMBOLS]
        if not axes:
            return None
        p = self.rng.choice(axes)
        s = a.shape[p]
        n = min(size_of(s, e) for e in self.extents)
        shown = self.shown_axis(p, a.rank)
        if self.rng.random() < 0.4:
            j = self.rng.randrange(n)
            self.minimums[s] = max(self.minimums.get(s, 1), j + 1)
            out = a.shape[:p] + a.shape[p + 1:]
            return self.emit(f"select<{shown}, {j}>({a.kobai})", f"select<{shown}, {j}>({a.text})",
                             f"g.gather({a.ref}, {p}, {{{j}}}, {{}})", out, a.lo, a.hi, a.smooth, a.depth + 1)
        length = self.rng.randint(1, n)
        start = self.rng.randint(0, n - length)
        self.minimums[s] = max(self.minimums.get(s, 1), start + length)
        out = a.shape[:p] + (str(length) if length > 1 else 1,) + a.shape[p + 1:]  # a static unit, as unsqueeze's
        positions = ", ".join(str(start + k) for k in range(length))
        return self.emit(f"narrow<{shown}, {start}, {length}>({a.kobai})",
                         f"narrow<{shown}, {start}, {length}>({a.text})",
                         f"g.gather({a.ref}, {p}, {{{positions}}}, {{{length}}})", out, a.lo, a.hi, a.smooth,
                         a.depth + 1)

    def join(self, a):
        """concat<Axis>(a, b, …) or stack<Axis>(a, b): parts of a's rank whose other axes agree or
        broadcast (existing nodes, or new leaves)."""
        if a.rank == 0 or a.rank == 3 and self.rng.random() < 0.5:
            return None
        stack = self.rng.random() < 0.3
        p = self.rng.randrange(a.rank + 1 if stack else a.rank)

        def fits(n):
            if n is a or n.rank != a.rank:
                return False
            return all(x == y or x == 1 or y == 1 for q, (x, y) in enumerate(zip(a.shape, n.shape))
                       if stack or q != p)

        parts = [a]
        for _ in range(self.rng.choice([1, 1, 2])):
            candidates = [n for n in self.nodes if fits(n)]
            if candidates and self.rng.random() < 0.6:
                parts.append(self.rng.choice(candidates))
            elif 1 not in a.shape:
                shape = list(a.shape)
                if not stack:
                    shape[p] = self.rng.choice(SYMBOLS[:5])
                parts.append(self.leaf(self.role(), shape))
        if len(parts) == 1:
            return None
        out = []
        for q in range(a.rank):
            axes = [n.shape[q] for n in parts]
            if not stack and q == p:
                out.append("(" + "+".join(str(x) for x in axes) + ")")
            else:
                out.append(next((x for x in axes if x != 1), 1))
        if stack:
            out.insert(p, str(len(parts)))
        shown = self.shown_axis(p, a.rank + 1 if stack else a.rank)
        name = "stack" if stack else "concat"
        kobai = f"{name}<{shown}>({', '.join(n.kobai for n in parts)})"
        text = f"{name}<{shown}>({', '.join(n.text for n in parts)})"
        refs = [f"g.unsqueeze({n.ref}, {p})" if stack else n.ref for n in parts]
        ref = f"g.concat({{{', '.join(refs)}}}, {p})"
        return self.emit(kobai, text, ref, tuple(out), min(n.lo for n in parts), max(n.hi for n in parts),
                         all(n.smooth for n in parts), max(n.depth for n in parts) + 1)

    def step(self, a):
        kind = self.rng.choices(["unary", "binary", "reduce", "reshape", "matmul", "normalize", "merge", "flatten",
                                 "self_product", "triangle", "gather", "slice", "join"],
                                [26, 30, 14, 7, 9, 8, 5, 2, 5, 3, 5, 5, 5])[0]
        if kind == "self_product" and self.mode == "hvp":
            return None  # an hvp around a·aᵀ may meet the separator's work bound (uses.hpp): a known refusal
        return getattr(self, kind)(a)

    # -- the program ---------------------------------------------------------------------------

    def body(self, steps):
        rank = self.rng.choice([0, 1, 1, 2, 2, 2, 2, 3, 3])
        a = self.leaf(self.role(), self.random_shape(rank))
        for _ in range(steps):
            for _attempt in range(5):
                b = self.step(a)
                if b is not None:
                    a = b
                    break
        return a

    def loss(self, a):
        """A scalar from a tensor: a reduction over everything or a loss against data."""
        choices = ["sum", "mean", "logsumexp"]
        if a.rank > 0 and not a.has_units():
            choices += ["mse", "bce", "cross_entropy"] * 2
        op = self.rng.choice(choices) if a.rank > 0 else "self"
        if op == "self":
            return a
        d = a.depth + 1
        if op in ("sum", "mean"):
            return self.emit(f"{op}({a.kobai})", f"{op}({a.text})", f"g.{op}({a.ref}, {{}}, false)", (), a.lo, a.hi,
                             a.smooth, d)
        if op == "logsumexp":
            a = self.bounded(a, 30)
            return self.emit(f"logsumexp({a.kobai})", f"logsumexp({a.text})", f"g.logsumexp({a.ref}, {{}}, false)",
                             (), a.lo, a.hi + 12, a.smooth, d)
        target = self.leaf("input", a.shape)
        if op == "mse":
            a = self.bounded(a, 30)
            return self.emit(f"mse({a.kobai}, {target.kobai})", f"mse({a.text}, {target.text})",
                             f"g.mse({a.ref}, {target.ref})", (), 0, 1, a.smooth, d)
        a = self.bounded(a, 30)
        if op == "bce":
            return self.emit(f"bce_with_logits({a.kobai}, sigmoid({target.kobai}))",
                             f"bce_with_logits({a.text}, sigmoid({target.text}))",
                             f"g.bce_with_logits({a.ref}, g.sigmoid({target.ref}))", (), 0, 1, a.smooth, d)
        return self.emit(f"cross_entropy({a.kobai}, softmax({target.kobai}))",
                         f"cross_entropy({a.text}, softmax({target.text}))",
                         f"g.cross_entropy({a.ref}, g.softmax({target.ref}, -1))", (), 0, 1, a.smooth, d)

    def size_ok(self):
        for e in self.extents:
            for shape in [n.shape for n in self.nodes] + self.products:
                size = 1
                for s in shape:
                    size *= size_of(s, e)
                if size > MAX_ELEMENTS:
                    return False
        return True

    def make(self):
        mode = self.rng.choices(["grad", "vjp", "hvp", "multi"], [40, 20, 25, 15])[0]
        self.mode = mode
        # A second derivative multiplies the graph: hvp programs stay short, so that every program
        # compiles in seconds (a 9-step hvp once took over 15 minutes and 4.6 GB in g++).
        steps = self.rng.randint(2, 5 if mode == "hvp" else 9)
        body = self.body(steps)
        variables = [name for name, role, _ in self.leaves if role == "var"]
        if not variables:  # make the first leaf a var
            name, _, shape = self.leaves[0]
            self.leaves[0] = (name, "var", shape)
            self.kobai_lines = [l.replace(f'input<"{name}"', f'var<"{name}"') for l in self.kobai_lines]
            variables = [name]
        if mode == "vjp" and (body.rank == 0 or body.has_units()):
            mode = "grad"
        self.mode = mode
        if mode == "vjp":
            seed = self.leaf("input", body.shape)
            self.outputs_node = body
            self.seed_leaf = seed.kobai
            chosen = self.rng.sample(variables, self.rng.randint(1, len(variables)))
            self.variables = chosen
            if len(chosen) == 1:
                vjp = f"vjp({body.kobai}, {chosen[0]}, {seed.kobai})"
                self.outputs = [body.kobai, vjp]
            else:
                self.kobai_lines.append(
                    f"constexpr auto pullback = vjp({body.kobai}, std::tuple{{{', '.join(chosen)}}}, {seed.kobai});")
                self.outputs = [body.kobai] + [f"std::get<{i}>(pullback)" for i in range(len(chosen))]
            self.ref_outs = [body.ref]
            self.smooth = body.smooth
            return
        f = self.loss(body)
        self.ref_outs = [f.ref]
        self.smooth = f.smooth
        if mode == "hvp":
            v = self.rng.choice(variables)
            shape = dict((n, s) for n, _, s in self.leaves)[v]
            q = self.leaf("input", shape)
            self.variables = [v]
            self.direction = (v, q.kobai)
            self.outputs = [f.kobai, f"grad({f.kobai}, {v})", f"hvp({f.kobai}, {v}, {q.kobai})"]
            return
        self.variables = variables
        if len(variables) == 1:
            self.outputs = [f.kobai, f"grad({f.kobai}, {variables[0]})"]
        else:
            self.kobai_lines.append(f"constexpr auto gradients = grad({f.kobai}, {', '.join(variables)});")
            self.outputs = [f.kobai] + [f"std::get<{i}>(gradients)" for i in range(len(variables))]
        if mode == "multi" and body.rank > 0:
            self.outputs.append(body.kobai)
            self.ref_outs.append(body.ref)
            others = [n for n in self.nodes if n.rank > 0 and n is not body and n.kobai.startswith("e")]
            if others:
                extra = self.rng.choice(others)
                self.outputs.append(extra.kobai)
                self.ref_outs.append(extra.ref)
            if self.rng.random() < 0.5:  # a leaf asked for as an output, and one output asked for twice
                leaf = self.rng.choice([n for n in self.nodes if not n.kobai.startswith("e")])
                self.outputs += [leaf.kobai, body.kobai]
                self.ref_outs += [leaf.ref, body.ref]

    def render(self):
        name = f"p{self.index}"
        out = [f"namespace fuzz_{name} {{", "using namespace kobai;", "using namespace kobai::literals;"]
        out += self.kobai_lines
        out.append(f"constexpr auto program = compile({', '.join(self.outputs)});")
        binds, device_binds = [], []
        for leaf_name, role, shape in self.leaves:
            if role == "index":  # (a host container on every backend)
                bind = f'{leaf_name} = c.tensor<{self.indices[leaf_name][0]}, {len(shape)}>("{leaf_name}")'
                binds.append(bind)
                device_binds.append(bind)
            elif shape:
                binds.append(f'{leaf_name} = c.tensor<T, {len(shape)}>("{leaf_name}")')
                device_binds.append(f'{leaf_name} = to_device(c.tensor<T, {len(shape)}>("{leaf_name}"), p.backend())')
            else:
                binds.append(f'{leaf_name} = c.scalar<T>("{leaf_name}")')
                device_binds.append(binds[-1])
        out += ["template <class T>",
                "std::vector<fuzz::flat> run(const fuzz::call& c, unsigned threads, bool blocks) {",
                "  auto p = program;",
                "  p.threads(threads).grain(1).blocks(blocks ? decltype(p)::block_extent : 0);",
                f"  return fuzz::flatten(p({', '.join(binds)}));",
                "}",
                "template <class T>",
                "std::vector<fuzz::flat> run_device(const fuzz::call& c) {",
                f"  static const auto p = compile(device::emulated, {', '.join(self.outputs)});",
                f"  return fuzz::flatten(p({', '.join(device_binds)}));",
                "}",
                "template <class S>",
                "std::vector<int> build(fuzz::ref::graph<S>& g, const fuzz::call& c, std::vector<int>& vars,",
                "                       [[maybe_unused]] const std::string& direction) {"]
        for leaf_name, role, _ in self.leaves:
            if role == "index":
                continue
            tangent = ", direction" if self.direction[0] == leaf_name else ""
            out.append(f'  [[maybe_unused]] const int L_{leaf_name} = g.leaf(c.reference<S>("{leaf_name}"{tangent}));')
        out.append("  vars = {" + ", ".join(f"L_{v}" for v in self.variables) + "};")
        out += ["  " + line for line in self.ref_lines]
        out.append("  return {" + ", ".join(self.ref_outs) + "};")
        out.append("}")
        vars_list = "{" + ", ".join(f'"{v}"' for v in self.variables) + "}"
        build = "[](auto& g, const fuzz::call& c, std::vector<int>& v, const std::string& d) { return build(g, c, v, d); }"
        if self.mode == "vjp":
            reference = f'fuzz::reference_vjp({build}, c, {vars_list}, "{self.seed_leaf}")'
        elif self.mode == "hvp":
            reference = f'fuzz::reference_hvp({build}, c, "{self.direction[0]}", "{self.direction[1]}")'
        else:
            extra = "{" + ", ".join(str(i) for i in range(1, len(self.ref_outs))) + "}"
            reference = f"fuzz::reference_gradients({build}, c, {vars_list}, {extra})"
        calls = []
        for e in self.extents:
            leaves = ", ".join(
                f'{{"{n}", {{{self.leaf_extents(shape, e)}}}, {{}}, {size_of(self.indices[n][1], e) if n in self.indices else 0}}}'
                for n, _, shape in self.leaves)
            calls.append("{" + leaves + "}")
        source = "\n  ".join(self.kobai_lines + [f"compile({', '.join(self.outputs)})"])
        smooth = "true" if self.smooth else "false"
        loss_seed = f', "{self.seed_leaf}"' if self.mode == "vjp" else ""
        direction = self.direction[1] or ""
        out += [f'TEST_CASE("fuzz {name} (seed {self.seed})") {{',
                "  const fuzz::program_case p{",
                f'      "{name}", "tests/fuzz/run {self.seed} --only {self.index}", {cpp_string(source)}, {smooth},',
                "      run<double>, run<float>,",
                f"      [](const fuzz::call& c) {{ return {reference}; }},",
                f"      [](const fuzz::call& c) {{ return fuzz::reference_loss({build}, c{loss_seed}); }},",
                f'      {vars_list}, "{direction}",',
                "      {" + ", ".join(calls) + "},",
                "      run_device<double>, run_device<float>};",
                f"  fuzz::check_program(p, {self.seed * 1000003 + self.index}ULL);",
                "}",
                f"}}  // namespace fuzz_{name}"]
        return "\n".join(out)


def size_of(axis, extents):
    """The extent of an axis: 1, a symbol's, a number (narrow's, stack's), or an expression of them:
    flatten's products, concat's sums."""
    return eval(str(axis), {}, dict(extents))  # pylint: disable=eval-used


def shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def cpp_string(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def generate(seed, index):
    rng = random.Random(seed * 7919 + index)
    for _ in range(50):
        program = Program(rng, index, seed)
        program.make()
        if program.size_ok():
            return program
        # too large: shrink the extents and try again with the same structure
        for e in program.extents:
            for s in e:
                e[s] = max(min(e[s], rng.choice(EXTENTS[:8])), program.minimums.get(s, 1))
        program.extents[1] = dict(program.extents[0])
        if program.size_ok():
            return program
    return program


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--only", type=int, help="the one program to write")
    parser.add_argument("--per-file", type=int, default=8)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    indices = [args.only] if args.only is not None else list(range(args.count))
    files = (len(indices) + args.per_file - 1) // args.per_file
    for f in range(files):
        programs = [generate(args.seed, i) for i in indices[f * args.per_file:(f + 1) * args.per_file]]
        text = [f"// Generated by tests/fuzz/generate.py --seed {args.seed}: programs "
                f"{programs[0].index}-{programs[-1].index}. Do not edit.",
                '#include "fuzz/harness.hpp"', ""]
        text += [p.render() + "\n" for p in programs]
        path = os.path.join(args.out, f"fuzz_{f}.cpp")
        with open(path, "w") as out:
            out.write("\n".join(text))


if __name__ == "__main__":
    main()
