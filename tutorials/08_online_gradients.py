# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Online gradients: carrying $\partial h_t/\partial\theta$ forward
#
# **What you will learn.** Every method so far stores the past and walks it backwards; truncation decides how
# much past to store. There is another way: carry forward, at every step, how the current state depends on the
# weights, and turn each loss into a gradient the moment it arrives. Nothing of the past is stored, however long
# the sequence. You will
#
# 1. derive seed 002's forward recursion for $\partial h_t/\partial w_h$, write it in numpy for the Elman RNN,
#    and check it against its unrolled form and against BPTT;
# 2. check that RTRL (real-time recurrent learning, `rnn.RTRL`) computes exactly BPTT's gradient;
# 3. measure what the cheaper approximations give up: UORO's variance (`rnn.UORO`, unbiased) and SnAp's bias
#    (`rnn.SnAp`, deterministic);
# 4. measure the cost of each against the hidden size $n$;
# 5. run the influence-balancing problem of the UORO paper, where truncation diverges and the online methods
#    converge.
#
# **What you need.** Tutorials 2 (BPTT), 4 (truncation) and 5 (unbiased estimators).

# %%
import itertools
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Markdown, display
from threadpoolctl import threadpool_limits

import minigrad as mg
import rnn
from rnn import analysis
from rnn.online import InfluenceBalancing

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # fewer draws, smaller sizes, fewer balancing runs
threadpool_limits(1)  # one BLAS thread, as in every lesson: the timings are of the arithmetic


def say(text):
    """Prose whose numbers come from this run: Markdown in a notebook, plain text in a script."""
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


# %% [markdown]
# ## 1. Seed 002's forward recursion
#
# Write the recurrence as $h_t = f(x_t, h_{t-1}, w_h)$. The state depends on the weights $w_h$ twice: directly,
# and through $h_{t-1}$, which depends on them too. The chain rule gives seed 002's recursion (D2L's equation
# for $\partial h_t/\partial w_h$):
#
# $$\frac{\partial h_t}{\partial w_h} = \frac{\partial f(x_t, h_{t-1}, w_h)}{\partial w_h}
#   + \frac{\partial f(x_t, h_{t-1}, w_h)}{\partial h_{t-1}} \frac{\partial h_{t-1}}{\partial w_h} ,$$
#
# and unrolled,
#
# $$\frac{\partial h_t}{\partial w_h} = \frac{\partial f(x_t, h_{t-1}, w_h)}{\partial w_h}
#   + \sum_{i=1}^{t-1} \Bigl(\prod_{j=i+1}^{t} \frac{\partial f(x_j, h_{j-1}, w_h)}{\partial h_{j-1}}\Bigr)
#   \frac{\partial f(x_i, h_{i-1}, w_h)}{\partial w_h} .$$
#
# Seed 002 uses the unrolled form to explain why the gradient vanishes or explodes (the products of Jacobians
# of tutorial 3) and then computes the gradient backwards. Read forwards, the first form is an algorithm: keep
# the *influence* $M_t = \partial h_t/\partial w_h$, one matrix per step, and update it from $M_{t-1}$. For the
# Elman RNN, $h_t = \tanh(A h_{t-1} + B x_t)$, with $w_h = A$:
#
# * $J_t = \partial f/\partial h_{t-1} = \mathrm{diag}(1 - h_t^2)\, A$, the Jacobian of tutorial 3;
# * $\partial f/\partial A_{jk}$ with $h_{t-1}$ held fixed is $(1 - h_{t,j}^2)\, h_{t-1,k}$ in row $j$, 0 elsewhere.
#
# So $M_t$ is an $n \times n \times n$ array ($\partial h_{t,i} / \partial A_{jk}$), and each loss turns it into
# a gradient on the spot: $\partial l_t/\partial A = \sum_i (\partial l_t/\partial h_{t,i})\, M_t[i]$. Below, the
# recursion and the unrolled sum in numpy, both against the engine's BPTT.

# %%
rng = np.random.default_rng(0)
T, N_IN, N, N_OUT = 12, 3, 6, 2
model = rnn.ElmanRNN(N_IN, N, N_OUT, seed=0)
A, B, C = (w.data for w in model.weights())
xs, ys = rng.standard_normal((T, N_IN)), rng.standard_normal((T, N_OUT))

h = [np.zeros(N)]  # h_0 .. h_T
for x in xs:
    h.append(np.tanh(A @ h[-1] + B @ x))


def direct(t):
    """d f(x_t, h_{t-1}, A) / dA with h_{t-1} held fixed: (n, n, n), [i, j, k] = delta_ij (1 - h_t,j^2) h_{t-1},k."""
    out = np.zeros((N, N, N))
    for j in range(N):
        out[j, j, :] = (1 - h[t][j] ** 2) * h[t - 1]
    return out


def jacobian(t):
    """J_t = d f(x_t, h_{t-1}, A) / d h_{t-1} = diag(1 - h_t^2) A."""
    return (1 - h[t] ** 2)[:, None] * A


# forwards: M_t = direct_t + J_t M_{t-1}, and each loss's gradient at once
M = np.zeros((N, N, N))
by_recursion = np.zeros_like(A)
influences = {}
for t in range(1, T + 1):
    M = direct(t) + np.einsum("ij,jab->iab", jacobian(t), M)
    influences[t] = M
    dl_dh = C.T @ (C @ h[t] - ys[t - 1])  # l_t = 1/2 ||C h_t - y_t||^2
    by_recursion += np.einsum("i,iab->ab", dl_dh, M)

# the unrolled sum, for every t
worst_unrolled = 0.0
for t in range(1, T + 1):
    total = direct(t).copy()
    for i in range(1, t):
        product = np.eye(N)
        for j in range(i + 1, t + 1):
            product = jacobian(j) @ product  # J_t ... J_{i+1}, newest on the left
        total += np.einsum("ij,jab->iab", product, direct(i))
    worst_unrolled = max(worst_unrolled, np.abs(total - influences[t]).max())

by_bptt = rnn.gradients(model, xs, ys, rnn.Full())[0]["A"]
print(f"max |recursion - unrolled sum| over all t: {worst_unrolled:.1e}")
print(f"dL/dA: max |forward recursion - BPTT| = {np.abs(by_recursion - by_bptt).max():.1e}")
assert worst_unrolled < 1e-12
assert np.abs(by_recursion - by_bptt).max() < 1e-12

# %%
say(f"""Forwards and backwards give the same $\\partial L/\\partial A$, to {np.abs(by_recursion - by_bptt).max():.0e}.
What differs is what they keep. BPTT keeps the {T} states and walks back over them; the recursion keeps one
$M_t$ of ${N}^3 = {N ** 3}$ numbers, whatever $T$. That is the trade: memory that does not grow with the sequence,
for an influence whose size grows like $n^3$ (here with $A$ alone; with $B$ too, $n \\times (n^2 + n\\,n_{{in}})$),
and a step that costs $O(n^4)$: the product $J_t M_{{t-1}}$.""")

# %% [markdown]
# ## 2. RTRL is BPTT, computed forwards
#
# `rnn.RTRL(every=k)` is that recursion for every recurrent parameter at once ($A$, $B$ and the bias, if any; the
# readout $C$ needs no recursion), with an update every $k$ steps. As every strategy, it runs in the engine's
# driver: `rnn.gradients(model, xs, ys, rnn.RTRL())`. Its updates must equal those of a BPTT that makes updates at
# the same steps and reaches back to $h_0$ every time: TBPTT$(k, k_2)$ with $k_2 \ge T$.

# %%
for every in (1, 5):
    online = rnn.gradients(model, xs, ys, rnn.RTRL(every=every))
    backwards = rnn.gradients(model, xs, ys, rnn.TBPTT(every, 10 * T))
    gap = max(np.abs(a[name] - b[name]).max() for a, b in zip(online, backwards) for name in a)
    print(f"RTRL(every={every}): {len(online)} updates; max |RTRL - TBPTT({every}, {10 * T})| = {gap:.1e}")
    assert len(online) == len(backwards) and gap < 1e-12
full = analysis.flatten(analysis.summed_gradient(model, xs, ys, rnn.Full()))
rtrl = analysis.flatten(analysis.summed_gradient(model, xs, ys, rnn.RTRL()))
print(f"summed RTRL updates against full BPTT: relative error {analysis.relative_error(rtrl, full):.1e}")
assert analysis.relative_error(rtrl, full) < 1e-13

# %% [markdown]
# ## 3. What the cheaper approximations give up
#
# RTRL's influence has $n \times P$ entries ($P$ recurrent parameters, about $n^2$): $O(n^3)$ memory and $O(n^4)$
# time per step. Two ways to make it cheaper:
#
# * **UORO** (unbiased online recurrent optimisation, Tallec and Ollivier 2017) keeps a random *rank-one*
#   estimate $M_t \approx s_t \theta_t^\top$, with random signs drawn at every step chosen so that
#   $\mathbb{E}[s_t \theta_t^\top] = M_t$: unbiased, $O(n^2)$, but noisy.
# * **SnAp-1** (the sparse $n$-step approximation, Menick et al. 2020, at level 1) keeps only the entries of $M_t$
#   that a parameter reaches within one step (the pattern of $\partial f/\partial w$: parameter $A_{jk}$ only in row
#   $j$) and drops the rest after every step: deterministic, $O(n^2)$, but biased. It is exact when $A$ is
#   diagonal, since then no unit's influence leaks into another's.
#
# Both are measured against the full gradient on the same sequence, as tutorial 5 measured randomized truncation:
# UORO by many draws (its mean, and the error of one draw), SnAp once (it has no randomness), with Chunked(5)'s
# bias for scale.

# %%
DRAWS = 100 if FAST else 400
T_EST = 20
xs_est, ys_est = rng.standard_normal((T_EST, 4, N_IN)), rng.standard_normal((T_EST, 4, N_OUT))
full_est = analysis.flatten(analysis.summed_gradient(model, xs_est, ys_est, rnn.Full()))
uoro_samples = analysis.gradient_samples(model, xs_est, ys_est, rnn.UORO(seed=0), n=DRAWS)
uoro = analysis.estimator_stats(uoro_samples, full_est)
uoro_running = analysis.running_mean_error(uoro_samples, full_est)
snap_error = analysis.relative_error(analysis.flatten(analysis.summed_gradient(model, xs_est, ys_est, rnn.SnAp())),
                                     full_est)
chunked_error = analysis.truncation_bias(model, xs_est, ys_est, [rnn.Chunked(5)])[0].relative_error
diagonal = rnn.ElmanRNN(N_IN, N, N_OUT, seed=0)
diagonal.A.data[:] = np.diag(np.linspace(-0.9, 0.9, N))
snap_diagonal = analysis.relative_error(
    analysis.flatten(analysis.summed_gradient(diagonal, xs_est, ys_est, rnn.SnAp())),
    analysis.flatten(analysis.summed_gradient(diagonal, xs_est, ys_est, rnn.Full())))
print(f"UORO, {DRAWS} draws: error of the mean {uoro.mean_error:.3f} (standard error {uoro.standard_error:.3f}); "
      f"error of one draw {uoro.draw_error:.2f}")
print(f"SnAp-1: relative error {snap_error:.3f} (with a diagonal A: {snap_diagonal:.1e}); Chunked(5): {chunked_error:.3f}")
assert uoro.mean_error < 3 * uoro.standard_error, "UORO's mean is within a few standard errors: no bias"
assert uoro_running[-1] < 0.4 * uoro_running[9], "and it keeps converging"
assert uoro.draw_error > 1.0, "one draw is further from g than g is from zero"
assert snap_error > 0.05 and snap_diagonal < 1e-12, "SnAp: biased, exact for a diagonal A"

# %%
fig, ax = plt.subplots(figsize=(7, 4))
n_draws = np.arange(1, DRAWS + 1)
ax.loglog(n_draws, uoro_running, color="tab:orange", label="UORO: mean of n draws")
ax.loglog(n_draws, uoro.standard_error * np.sqrt(DRAWS / n_draws), ":", color="tab:orange",
          label=r"UORO: standard error $\propto 1/\sqrt{n}$")
ax.axhline(snap_error, color="tab:green", linestyle="--", label="SnAp-1: its bias (no randomness)")
ax.axhline(chunked_error, color="grey", linestyle="-.", label="Chunked(5): its bias")
ax.axhline(uoro.draw_error, color="tab:orange", linestyle="--", linewidth=0.8, label="UORO: error of one draw (rms)")
ax.set(xlabel="number of draws n", ylabel=r"$\Vert \mathrm{estimate} - g\Vert / \Vert g\Vert$ (log scale)",
       title="UORO is unbiased and noisy; SnAp-1 is biased and exact every time")
ax.legend(fontsize=8)
plt.show()

# %%
say(f"""**What to look at.** UORO's mean goes to the full gradient like $1/\\sqrt n$, as an unbiased estimator must
(after {DRAWS} draws it is {uoro.mean_error:.3f} away, against a standard error of {uoro.standard_error:.3f}). But one
draw, which is all an update gets, is {uoro.draw_error:.1f} times the length of the gradient away from it: a
rank-one estimate of a matrix of rank up to {N} throws away a great deal, and puts it back as noise. SnAp-1 is
wrong by the same {snap_error:.2f} every time, the influence that leaks from one unit into another; with a diagonal
$A$ nothing leaks and it is exact ({snap_diagonal:.0e}).""")

# %% [markdown]
# ## 4. Cost against the hidden size $n$
#
# Time per step and memory of one run over $T = 40$ steps (batch 1), for hidden sizes $n = 8 \dots 64$: RTRL,
# UORO, SnAp-1, Chunked(10) and full BPTT. The time is CPU time per run, the least of 3 measurements taken in turn
# (each repeats the run for at least 30 ms); the memory is
# what each holds for its gradient (`rnn.run(...).peak_bytes`: the tape's saved arrays for BPTT, the carried
# influence for the online methods). For RTRL the Elman cell has a dedicated numpy path; UORO goes through the
# engine's forward and reverse modes one step at a time.

# %%
SIZES = [8, 16, 32, 64]
T_COST = 40
STRATEGIES = {"RTRL": lambda: rnn.RTRL(), "UORO": lambda: rnn.UORO(seed=0), "SnAp-1": lambda: rnn.SnAp(),
              "Chunked(10)": lambda: rnn.Chunked(10), "Full BPTT": lambda: rnn.Full()}


def cpu_seconds(fns, rounds=3, at_least=0.03):
    """{name: CPU time of one call of fns[name]()}: calls repeated until they add up to `at_least` seconds, the
    least of `rounds` such measurements, the functions taken in turn in a rotating order (CPU time of this
    process, so that a shared machine's other work does not count)."""
    best, names = {name: math.inf for name in fns}, list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            calls, started = 0, time.process_time()
            while True:
                fns[name]()
                calls += 1
                spent = time.process_time() - started
                if spent >= at_least:
                    break
            best[name] = min(best[name], spent / calls)
    return best


cost, longer = {}, {}  # (strategy, n) -> (ms per step, bytes); (strategy, n) -> bytes over 2 T_COST steps
for n in SIZES:
    sized = rnn.ElmanRNN(N_IN, n, N_OUT, seed=0)
    data = np.random.default_rng(n)
    xs_c, ys_c = data.standard_normal((T_COST, N_IN)), data.standard_normal((T_COST, N_OUT))
    held = {name: rnn.run(sized, xs_c, ys_c, make()).peak_bytes for name, make in STRATEGIES.items()}
    xs_2, ys_2 = np.concatenate([xs_c, xs_c]), np.concatenate([ys_c, ys_c])
    longer.update({(name, n): rnn.run(sized, xs_2, ys_2, STRATEGIES[name]()).peak_bytes
                   for name in ("RTRL", "UORO", "SnAp-1", "Full BPTT")})
    seconds = cpu_seconds({name: (lambda m=make: rnn.run(sized, xs_c, ys_c, m())) for name, make in STRATEGIES.items()})
    for name in STRATEGIES:
        cost[(name, n)] = (1e3 * seconds[name] / T_COST, held[name])


def slope(name, which):
    """The slope of log(time or bytes) against log n over the two largest sizes."""
    (n1, n2) = SIZES[-2:]
    return math.log(cost[(name, n2)][which] / cost[(name, n1)][which]) / math.log(n2 / n1)


print(f"{'':>12}" + "".join(f"{f'n = {n}':>22}" for n in SIZES) + f"{'time slope':>12}{'memory slope':>14}")
for name in STRATEGIES:
    print(f"{name:>12}" + "".join(f"{cost[(name, n)][0]:>10.3f} ms {cost[(name, n)][1] / 1e3:>7.1f} kB" for n in SIZES)
          + f"{slope(name, 0):>12.2f}{slope(name, 1):>14.2f}")
memory_slope = {name: slope(name, 1) for name in STRATEGIES}
assert 2.8 < memory_slope["RTRL"] < 3.2, "RTRL holds n x (about n^2) numbers"
assert 1.7 < memory_slope["UORO"] < 2.3 and 1.7 < memory_slope["SnAp-1"] < 2.3, "UORO and SnAp hold O(n^2)"
assert slope("RTRL", 0) > slope("UORO", 0) + 0.5, "RTRL's time grows fastest with n"
assert cost[("RTRL", SIZES[-1])][1] > cost[("Full BPTT", SIZES[-1])][1], "at this T, RTRL holds more than BPTT"

# %% [markdown]
# BPTT's memory has two parts: what each step saves for the backward pass, and what each update saves once (the
# fused node keeps a copy of $A$, $n^2$ numbers). Running every strategy over $2T$ steps as well separates them:
# RTRL's influence does not grow with $T$ at all, BPTT's tape grows by a fixed amount per step. From these, the
# length at which full BPTT would hold as much as RTRL at each $n$.

# %%
per_step = {n: (longer[("Full BPTT", n)] - cost[("Full BPTT", n)][1]) / T_COST for n in SIZES}
once = {n: cost[("Full BPTT", n)][1] - T_COST * per_step[n] for n in SIZES}
break_even = {n: (cost[("RTRL", n)][1] - once[n]) / per_step[n] for n in SIZES}
per_step_slope = math.log(per_step[SIZES[-1]] / per_step[SIZES[-2]]) / math.log(SIZES[-1] / SIZES[-2])
print("BPTT's bytes per step:", {n: f"{b:.0f}" for n, b in per_step.items()}, f"(slope in n {per_step_slope:.2f}); "
      "saved once:", {n: f"{b:.0f}" for n, b in once.items()})
print("sequence length at which full BPTT's tape holds as much as RTRL's influence:",
      {n: f"{T_even:.0f}" for n, T_even in break_even.items()})
assert all(longer[(name, n)] == cost[(name, n)][1] for n in SIZES for name in ("RTRL", "UORO", "SnAp-1")), \
    "the online methods' memory does not grow with T"
assert 0.7 < per_step_slope < 1.2, "BPTT saves about n numbers per step"
assert all(b2 > b1 for b1, b2 in itertools.pairwise(break_even.values())), "it grows with n"

# %%
assert cost[("UORO", SIZES[0])][0] == max(cost[(name, SIZES[0])][0] for name in STRATEGIES)
assert slope("RTRL", 0) == max(slope(name, 0) for name in STRATEGIES)
overtaken = next((n for n in SIZES if cost[("RTRL", n)][0] > cost[("UORO", n)][0]), None)
say(f"""**What to look at.** Memory grows like $n^{{{memory_slope['RTRL']:.1f}}}$ for RTRL, $n^{{{memory_slope['UORO']:.1f}}}$ for UORO
and $n^{{{memory_slope['SnAp-1']:.1f}}}$ for SnAp-1 (the slopes between $n = {SIZES[-2]}$ and {SIZES[-1]}), and none of the
three grows with $T$. BPTT's tape grows with $T$ instead, by about $n$ numbers per step ({per_step[SIZES[-1]]:.0f}
bytes at $n = {SIZES[-1]}$, slope {per_step_slope:.2f} in $n$): RTRL's influence at $n = {SIZES[-1]}$ weighs as much as
{break_even[SIZES[-1]]:.0f} steps of BPTT's tape, at $n = {SIZES[0]}$ as {break_even[SIZES[0]]:.0f}. In time, RTRL's slope ({slope('RTRL', 0):.1f})
is the steepest, though still far from the 4 that the operation count of its $J_t M_{{t-1}}$ product gives: at
these sizes each step's fixed cost still weighs as much as its arithmetic. At $n = {SIZES[0]}$ UORO is the slowest per
step: each of its steps is one forward-mode and two reverse-mode passes of the engine, {cost[('UORO', SIZES[0])][0]:.2f} ms
against {cost[('Full BPTT', SIZES[0])][0]:.3f} ms for full BPTT, whose fused node does a whole sequence at once; its cost
hardly grows with $n$, and """ + (f"RTRL's overtakes it at $n = {overtaken}$." if overtaken else
                                 f"RTRL's has not overtaken it by $n = {SIZES[-1]}$."))

# %% [markdown]
# ## 5. Influence balancing: where truncation diverges
#
# The UORO paper's test problem (`rnn.online.InfluenceBalancing`): $n$ linear units driven by one scalar
# parameter $\theta$, the first `positive` of them by $+\theta$ and the rest by $-\theta$, each unit averaging
# itself with the next one, and the loss $\tfrac12 (s_1 - 1)^2$ on the first unit. A change of $\theta$ reaches
# $s_1$ at once through the positive units, and later, one unit per step, through the negative ones, which
# outnumber them. So the short-term influence of $\theta$ is positive and the long-term one negative: with
# $n = 10$ and 4 positive units, the optimum is $\theta^* = 1 / (2(2 \cdot 4 - 10)) = -0.25$.
#
# A truncated gradient sees only the short-term part and pushes $\theta$ the wrong way. Plain SGD, one pass over
# 10,000 steps (no data: a constant input and target), an update every step for the online methods and at every
# chunk boundary for Chunked($k$); learning rate $10^{-3}$, and $3 \times 10^{-4}$ for UORO, whose noise needs
# the smaller step (at $10^{-3}$ it diverges too, in the full lesson).

# %%
BALANCE_STEPS = 10_000
balancing = InfluenceBalancing(n=10, positive=4)
print(f"theta* = {balancing.optimum}")
RUNS = [("chunked:10", 1e-3), ("chunked:20", 1e-3), ("chunked:40", 1e-3), ("rtrl", 1e-3), ("snap", 1e-3),
        ("uoro", 3e-4)] + ([] if FAST else [("uoro", 1e-3)])
trajectories, verdict = {}, {}
for spec, lr in RUNS:
    cell = InfluenceBalancing(n=10, positive=4)
    thetas = []
    with np.errstate(all="ignore"):
        try:
            rnn.fit(cell, np.zeros((BALANCE_STEPS, 1)), np.ones((BALANCE_STEPS, 1)), rnn.parse_strategy(spec, seed=0),
                    mg.optim.SGD(cell.parameters(), lr=lr),
                    callback=lambda i, update, loss: thetas.append((update.t, cell.theta.data[0])))
        except mg.errors.DivergenceError:
            pass
    label = f"{spec} (lr {lr:g})"
    trajectories[label] = np.array(thetas)
    final_theta = thetas[-1][1]
    verdict[label] = ("converged" if abs(final_theta - balancing.optimum) < 1e-3 else
                      "diverged" if not np.isfinite(final_theta) or abs(final_theta) > 1e3 else "not yet")
    print(f"{label:<22} theta after {thetas[-1][0]} steps: {final_theta:.6g}  -> {verdict[label]}")
assert verdict["chunked:10 (lr 0.001)"] == verdict["chunked:20 (lr 0.001)"] == "diverged"
assert all(verdict[label] == "converged" for label in ("chunked:40 (lr 0.001)", "rtrl (lr 0.001)", "uoro (lr 0.0003)"))
assert verdict["snap (lr 0.001)"] == "converged"  # theta reaches every unit in one step: SnAp-1 keeps all of M
if not FAST:
    assert verdict["uoro (lr 0.001)"] == "diverged"

# %% tags=["readme"]
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
colours = {"chunked:10": "tab:red", "chunked:20": "tab:pink", "chunked:40": "tab:brown", "rtrl": "tab:blue",
           "snap": "tab:green", "uoro": "tab:orange"}
for label, path in trajectories.items():
    spec = label.split()[0]
    style = ":" if "0.001" in label and spec == "uoro" else "-"
    outside = np.flatnonzero(~(np.abs(path[:, 1]) <= 5))  # the first step off the chart ends the line there
    end = outside[0] + 1 if len(outside) else len(path)
    left.plot(path[:end, 0], np.clip(path[:end, 1], -10, 10), style, color=colours[spec],
              label=f"{label}: {verdict[label]}")
    if len(outside):
        left.plot(path[end - 1, 0], np.sign(path[end - 1, 1]) * 4.8, "x", color=colours[spec], markersize=9, mew=2)
left.axhline(balancing.optimum, color="black", linewidth=0.8, linestyle="--", label=r"$\theta^* = -0.25$")
left.set(xlabel="step", ylabel=r"$\theta$ (× where a run leaves the chart at $\pm 5$)", ylim=(-5, 5),
         title=r"Influence balancing (n = 10, 4 positive units): SGD on $\theta$")
left.legend(fontsize=7, loc="lower right", ncol=2)
for name, marker in zip(STRATEGIES, "os^vD"):
    right.loglog(SIZES, [cost[(name, n)][1] / 1e3 for n in SIZES], marker + "-", label=f"{name}: slope {memory_slope[name]:.1f}")
right.set_xticks(SIZES, [str(n) for n in SIZES])
right.minorticks_off()
right.set(xlabel="hidden size n", ylabel="bytes held for the gradient (kB, log scale)",
          title=f"Memory against n (T = {T_COST})")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
diverged_at = {label: int(path[np.argmax(np.abs(path[:, 1]) > 10), 0]) for label, path in trajectories.items()
               if verdict[label] == "diverged"}
say(f"""**What to look at.** Chunks of 10 and 20 steps see the positive short-term influence only and push $\\theta$
up, which makes the loss worse, which pushes harder: $|\\theta|$ passes 10 after
{', '.join(f'{s} steps ({label.split()[0]})' for label, s in diverged_at.items())}. Chunks of 40 reach far enough back
to see the negative long-term influence, and converge. RTRL carries the whole influence forward with no window at
all and goes straight to $\\theta^*$; so does SnAp-1, which here loses nothing, because $\\theta$ acts on every unit
directly, so its one-step pattern is the whole of $M_t$. UORO gets there too, unbiased but noisy, once its step is
small enough: it wanders (its lowest $\\theta$ is {trajectories['uoro (lr 0.0003)'][:, 1].min():.2f}) before it
settles.""")

# %% [markdown]
# ## Summary
#
# * Seed 002's recursion $\partial h_t/\partial w = \partial f/\partial w + J_t\, \partial h_{t-1}/\partial w$,
#   read forwards, is an algorithm: RTRL. It computes exactly BPTT's gradient, with no storage of the past, at the
#   price of an influence of $O(n^3)$ numbers and $O(n^4)$ work per step.
# * UORO replaces the influence by an unbiased rank-one estimate ($O(n^2)$), paid in variance; SnAp-1 keeps its
#   one-step pattern ($O(n^2)$), paid in bias, except when nothing leaks between units.
# * On a problem whose long-term influence opposes its short-term one, truncation shorter than the delay
#   diverges, and the online methods converge.
#
# ## Your turn
#
# **Assignment `a2_bptt`** asks for BPTT's backward recursion by hand; the forward recursion of section 1 is its
# mirror. Get it with `python -m assignments release my_work/ -a 2`, and after it, extend section 1's recursion to
# $B$ as well.
#
# A warm-up here: section 1 carried $\partial h_t / \partial A$. Write the same recursion for the input matrix $B$:
# `your_influence_B[t]` should be $\partial h_t / \partial B$ as an $n \times n \times n_{in}$ array (use `h`,
# `xs`, `jacobian` from section 1; $\partial f/\partial B_{jk}$ with $h_{t-1}$ fixed is $(1 - h_{t,j}^2)\, x_{t,k}$ in
# row $j$). `check_influence_B` compares the gradient it gives with BPTT's; it accepts the right recursion and
# rejects one that forgets the $J_t M_{t-1}$ term.

# %%
your_influence_B = None  # {t: dh_t/dB for t = 1..T}, each an (n, n, n_in) array


def check_influence_B(influence):
    """True if sum_t dl_t/dh_t . influence[t] equals BPTT's dL/dB (influence: {t: (n, n, n_in) array})."""
    if influence is None:
        return False
    gradient = sum(np.einsum("i,iab->ab", C.T @ (C @ h[t] - ys[t - 1]), influence[t]) for t in range(1, T + 1))
    return bool(np.abs(gradient - rnn.gradients(model, xs, ys, rnn.Full())[0]["B"]).max() < 1e-10)


def influences_of_B(with_history=True):
    out, M_B = {}, np.zeros((N, N, N_IN))
    for t in range(1, T + 1):
        direct_B = np.zeros((N, N, N_IN))
        for j in range(N):
            direct_B[j, j, :] = (1 - h[t][j] ** 2) * xs[t - 1]
        M_B = direct_B + (np.einsum("ij,jab->iab", jacobian(t), M_B) if with_history else 0.0)
        out[t] = M_B
    return out


assert check_influence_B(influences_of_B()) and not check_influence_B(influences_of_B(with_history=False))
print("influence of B: " + ("not tried yet" if your_influence_B is None
                            else ("right" if check_influence_B(your_influence_B) else "not right yet")))
