#!/usr/bin/env python3
"""Prints the PyTorch reference values of tests/train/optimizers.cpp (run with bench/.venv's torch):
every optimizer setting run for 50 steps on the test's loss, and every schedule's learning rates.
The gradient is the same closed form as the test's, set by hand, so the two share no code."""
import math

import torch

torch.set_default_dtype(torch.float64)
TARGETS = [0.5, -1.0, 2.0, 0.25, -0.5, 1.5, 3.0]
WEIGHTS = [1.0, 2.0, 0.5, 3.0, 1.5, 0.75, 2.5]
START = [1.5, 1.0, -2.0, 0.5, 0.0, 2.0, -1.0]


def gradient(p):  # d/dp of Σ c·(p − t)² + 0.1·sin(p)
    return torch.tensor([2 * c * (x - t) + 0.1 * math.cos(x) for x, t, c in zip(p.tolist(), TARGETS, WEIGHTS)])


def run(make, schedule=None, steps=50):
    p = torch.tensor(START, requires_grad=True)
    optimizer = make([p])
    scheduler = schedule(optimizer) if schedule else None
    for _ in range(steps):
        optimizer.zero_grad()
        p.grad = gradient(p.detach())
        optimizer.step()
        if scheduler:
            scheduler.step()
    return p.detach().tolist()


O = torch.optim
S = torch.optim.lr_scheduler
settings = [
    ("adam", "{}", lambda q: O.Adam(q)),
    ("adam", "{.learning_rate = 0.05, .weight_decay = 0.1}", lambda q: O.Adam(q, lr=0.05, weight_decay=0.1)),
    ("adam", "{.learning_rate = 0.02, .betas = {0.8, 0.99}, .eps = 1e-6, .amsgrad = true}",
     lambda q: O.Adam(q, lr=0.02, betas=(0.8, 0.99), eps=1e-6, amsgrad=True)),
    ("adamw", "{}", lambda q: O.AdamW(q)),
    ("adamw", "{.learning_rate = 0.05, .weight_decay = 0.2, .amsgrad = true}",
     lambda q: O.AdamW(q, lr=0.05, weight_decay=0.2, amsgrad=True)),
    ("rmsprop", "{}", lambda q: O.RMSprop(q)),
    ("rmsprop", "{.learning_rate = 0.005, .momentum = 0.9}", lambda q: O.RMSprop(q, lr=0.005, momentum=0.9)),
    ("rmsprop", "{.learning_rate = 0.01, .alpha = 0.9, .weight_decay = 0.05, .centered = true}",
     lambda q: O.RMSprop(q, lr=0.01, alpha=0.9, weight_decay=0.05, centered=True)),
    ("rmsprop", "{.learning_rate = 0.003, .momentum = 0.5, .centered = true}",
     lambda q: O.RMSprop(q, lr=0.003, momentum=0.5, centered=True)),
]
print("// optimizers: final parameters after 50 steps")
for name, options, make in settings:
    values = ", ".join(f"{v:.17g}" for v in run(make))
    print(f'  {{"{name}", {name}_options{options}, {{{values}}}}},')

schedules = [
    ("step_lr", "{.step_size = 3, .gamma = 0.5}", lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
    ("exponential_lr", "{.gamma = 0.8}", lambda o: S.ExponentialLR(o, gamma=0.8)),
    ("cosine_annealing_lr", "{.t_max = 8, .eta_min = 0.001}", lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.001)),
    ("linear_lr", "{.start_factor = 0.25, .end_factor = 1.0, .total_iters = 4}",
     lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4)),
]
print("// schedules: the learning rate of epochs 0..11, base 0.1")
for name, options, make in schedules:
    optimizer = O.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make(optimizer)
    rates = []
    for _ in range(12):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    print(f"  // {name} {options}: " + ", ".join(f"{r:.17g}" for r in rates))
optimizer = O.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
warm_up = S.LinearLR(optimizer, start_factor=0.25, end_factor=1.0, total_iters=3)
cosine = S.CosineAnnealingLR(optimizer, T_max=6, eta_min=0.001)
scheduler = S.SequentialLR(optimizer, [warm_up, cosine], milestones=[3])
rates = []
for _ in range(12):
    rates.append(scheduler.get_last_lr()[0])
    optimizer.step()
    scheduler.step()
print("  // sequential_lr linear_lr(0.25, 1.0, 3) then cosine_annealing_lr(6, 0.001) at 3: " +
      ", ".join(f"{r:.17g}" for r in rates))
print("// adam {.learning_rate = 0.05} under cosine_annealing_lr {.t_max = 50}: final parameters")
values = run(lambda q: O.Adam(q, lr=0.05), lambda o: S.CosineAnnealingLR(o, T_max=50))
print("  " + ", ".join(f"{v:.17g}" for v in values))
