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
# # 3. Why gradients vanish or explode
#
# **What you will learn.** Backpropagation through time sends the gradient of a loss back through every
# step of the sequence, and each step multiplies it by a matrix. You will see
#
# 1. that for the linear RNN the gradient of the hidden state is a sum of *powers* of $W_{hh}^\top$,
#    checked on the engine to round-off, with the weight gradients it leads to, and why caching
#    $\partial L/\partial h_t$ makes them cost $O(T)$ instead of $O(T^2)$ (timed);
# 2. what powers of a matrix do: $M^k x$ turns towards the dominant eigenvector and grows or shrinks like
#    $|\lambda_1|^k$ (computed, and compared with the prediction);
# 3. the gradient norm against the time lag for spectral radius 0.9, 1.0 and 1.1 (plotted), and the same
#    thing drawn on the unrolled graph as *gradient heat*;
# 4. why a tanh RNN behaves differently (its Jacobians $\mathrm{diag}(f')A$);
# 5. four remedies, each measured: gradient clipping, orthogonal initialisation, a gradient-norm
#    regulariser, layer normalisation.
#
# **What you need.** The chain rule, numpy, and tutorial 2 (BPTT for the Elman RNN). A little linear
# algebra: eigenvalues and eigenvectors of a symmetric matrix.

# %%
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
import rnn.viz
from minigrad.viz import show
from rnn import analysis, manual
from rnn.analysis import set_spectral_radius
from rnn.layer_norm import LayerNormElman

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # only shrinks the sequence lengths and the training runs
threadpool_limits(1)  # one BLAS thread, as in every lesson: the timings below are of the arithmetic
T_LONG = 60  # the longest lag we look at


def say(text):
    """Prose whose numbers come from this run: Markdown in a notebook, plain text in a script."""
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


# %% [markdown]
# ## 1. The linear RNN and the gradient of its hidden states
#
# Take the RNN without bias and without activation functions:
#
# $$h_t = W_{hx} x_t + W_{hh} h_{t-1}, \qquad o_t = W_{qh} h_t, \qquad h_0 = 0,$$
#
# $$L = \tfrac12 \sum_{t=1}^{T} \lVert o_t - y_t \rVert^2 .$$
#
# Write $e_t = o_t - y_t$, so $\partial L / \partial o_t = e_t$. The state $h_t$ reaches $L$ along two
# roads: through its own output $o_t$, and through the next state $h_{t+1} = W_{hx} x_{t+1} + W_{hh} h_t$.
# The chain rule adds the two:
#
# $$\frac{\partial L}{\partial h_T} = W_{qh}^\top e_T, \qquad
#   \frac{\partial L}{\partial h_t} = W_{qh}^\top e_t + W_{hh}^\top \frac{\partial L}{\partial h_{t+1}}
#   \quad (t < T).$$
#
# Unroll the recursion once: $\frac{\partial L}{\partial h_t} = W_{qh}^\top e_t + W_{hh}^\top W_{qh}^\top
# e_{t+1} + W_{hh}^\top W_{hh}^\top \frac{\partial L}{\partial h_{t+2}}$. Going on to $T$:
#
# $$\boxed{\;\frac{\partial L}{\partial h_t} = \sum_{i=t}^{T} \left(W_{hh}^\top\right)^{i-t} W_{qh}^\top e_i\;}$$
#
# The error made $i - t$ steps later arrives multiplied by the $(i-t)$-th power of $W_{hh}^\top$. Everything
# in this tutorial follows from that power.
#
# We check the boxed formula three ways: the recursion (a numpy loop), the sum of powers (numpy), and the
# engine. `analysis.state_grads` unrolls the model on the tape, keeps every $h_t$'s gradient
# (`retain_grad`) and backpropagates $L$; row $t-1$ is $\partial L / \partial h_t$.

# %%
rng = np.random.default_rng(0)
T = 8
model = rnn.LinearRNN(n_in=2, n_hidden=5, n_out=3, seed=0)
W_hx, W_hh, W_qh = model.W_hx.data, model.W_hh.data, model.W_qh.data
xs, ys = rng.standard_normal((T, 2)), rng.standard_normal((T, 3))

# forward in numpy: h[t] is h_t (h[0] = h_0 = 0), e[t - 1] is e_t
h = np.zeros((T + 1, 5))
for t in range(1, T + 1):
    h[t] = W_hx @ xs[t - 1] + W_hh @ h[t - 1]
e = h[1:] @ W_qh.T - ys

by_recursion = np.zeros((T, 5))
by_recursion[T - 1] = W_qh.T @ e[T - 1]
for t in range(T - 1, 0, -1):
    by_recursion[t - 1] = W_qh.T @ e[t - 1] + W_hh.T @ by_recursion[t]

by_powers = np.array([sum(np.linalg.matrix_power(W_hh.T, i - t) @ W_qh.T @ e[i - 1] for i in range(t, T + 1))
                      for t in range(1, T + 1)])

by_engine = analysis.state_grads(model, xs, ys)

print("max |recursion - powers| =", np.abs(by_recursion - by_powers).max())
print("max |engine - powers|    =", np.abs(by_engine - by_powers).max())
assert np.abs(by_recursion - by_powers).max() < 1e-12
assert np.abs(by_engine - by_powers).max() < 1e-12

# %% [markdown]
# ### The weight gradients, and seed 002's $\tfrac1T$
#
# Each weight is used once per step, so its gradient is a sum over the steps of an outer product (tutorial
# 2), with $\partial L/\partial h_t$ from above:
#
# $$\frac{\partial L}{\partial W_{qh}} = \sum_{t=1}^T e_t\, h_t^\top, \qquad
#   \frac{\partial L}{\partial W_{hx}} = \sum_{t=1}^T \frac{\partial L}{\partial h_t}\, x_t^\top, \qquad
#   \frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^T \frac{\partial L}{\partial h_t}\, h_{t-1}^\top .$$
#
# Seed 002 (the course notes on BPTT, after D2L) writes the loss as a mean over time,
# $L' = \frac1T \sum_t \tfrac12\lVert o_t - y_t\rVert^2$, and `rnn.manual.linear_rnn_grads` follows it. The
# engine, like every lesson here, sums: $L = \sum_t \tfrac12\lVert o_t - y_t\rVert^2 = T\,L'$. So every
# gradient of $L'$ is that of $L$ divided by $T$; the formulas are otherwise the same. (`rnn.fit` takes
# `reduction="mean"` to divide each update's loss by its number of targets, which is how lesson 7 uses
# D2L's learning rate unchanged.)

# %%
by_hand = {"W_qh": e.T @ h[1:], "W_hx": by_recursion.T @ xs, "W_hh": by_recursion.T @ h[:-1]}
on_engine = rnn.gradients(model, xs, ys, rnn.Full())[0]  # the summed loss L
seed_002 = manual.linear_rnn_grads(W_hx, W_hh, W_qh, xs, ys)  # the mean over time L' = L / T
for name in ("W_qh", "W_hx", "W_hh"):
    print(f"dL/d{name}: by hand vs engine {np.abs(by_hand[name] - on_engine[name]).max():.1e};  "
          f"T * rnn.manual (mean over time) vs engine {np.abs(T * seed_002[name] - on_engine[name]).max():.1e}")
    assert np.abs(by_hand[name] - on_engine[name]).max() < 1e-12
    assert np.abs(T * seed_002[name] - on_engine[name]).max() < 1e-12

# %% [markdown]
# ### Caching $\partial L/\partial h_t$: $O(T)$ instead of $O(T^2)$
#
# The boxed sum and the recursion give the same numbers, at very different prices. The sum computes each
# $\partial L/\partial h_t$ afresh, with $T - t + 1$ terms: $T(T+1)/2$ terms in all, each a power of
# $W_{hh}^\top$ times a vector. The recursion *caches* $\partial L/\partial h_{t+1}$ and reuses it: one
# matrix-vector product per step, $T$ in all. That reuse is all that backpropagation is. Timed below with
# `rnn.manual.linear_rnn_hidden_grads`, which has both methods (CPU time per call, the least of 9 measurements taken in three sweeps).

# %%
T_TIMING = [25, 50, 100] + ([] if FAST else [200])


def cpu_seconds_per_call(fn, rounds=3, at_least=0.05):
    """CPU time of one call of fn(): calls repeated until they add up to `at_least` seconds, the least of
    `rounds` such measurements (CPU time of this process: a shared machine's other work does not count)."""
    best = math.inf
    for _ in range(rounds):
        calls, started = 0, time.process_time()
        while True:
            fn()
            calls += 1
            spent = time.process_time() - started
            if spent >= at_least:
                break
        best = min(best, spent / calls)
    return best


timing_model = rnn.LinearRNN(n_in=2, n_hidden=5, n_out=3, seed=0)
weights = (timing_model.W_hx.data, timing_model.W_hh.data, timing_model.W_qh.data)
seconds = {"recurrence": [math.inf] * len(T_TIMING), "powers": [math.inf] * len(T_TIMING)}
for sweep in range(3):  # the whole sweep three times, the least of each point: a slow spell hits one sweep
    for i, T_t in enumerate(T_TIMING):
        data = np.random.default_rng(T_t)
        xs_t, ys_t = data.standard_normal((T_t, 2)), data.standard_normal((T_t, 3))
        for method in seconds:
            seconds[method][i] = min(seconds[method][i], cpu_seconds_per_call(
                lambda: manual.linear_rnn_hidden_grads(*weights, xs_t, ys_t, method=method)))
growth = {method: np.polyfit(np.log(T_TIMING), np.log(s), 1)[0] for method, s in seconds.items()}
for i, T_t in enumerate(T_TIMING):
    print(f"T = {T_t:3d}: recurrence {1e3 * seconds['recurrence'][i]:7.2f} ms, "
          f"sum of powers {1e3 * seconds['powers'][i]:8.2f} ms")
print("slope of log time against log T:", {m: round(g, 2) for m, g in growth.items()})
assert growth["recurrence"] < 1.4, growth  # linear in T (plus a fixed cost per call, which pulls the slope below 1)
assert growth["powers"] > 1.7, growth      # quadratic (and more: each power costs log k products)
assert growth["powers"] > growth["recurrence"] + 0.6, growth

# %%
say(f"""Doubling $T$ multiplies the recursion's time by about $2^{{{growth['recurrence']:.2f}}}$ and the sum's by
about $2^{{{growth['powers']:.2f}}}$; at $T = {T_TIMING[-1]}$ the sum takes
{seconds['powers'][-1] / seconds['recurrence'][-1]:.0f} times as long.""")

# %% [markdown]
# ## 2. Powers of a matrix
#
# What does $M^k x$ look like for large $k$? Take a symmetric $M$. It has real eigenvalues
# $\lambda_1, \dots, \lambda_n$ and orthonormal eigenvectors $q_1, \dots, q_n$: $M = Q \Lambda Q^\top$ with
# $Q^\top Q = I$. Then $M^k = Q \Lambda Q^\top Q \Lambda Q^\top \cdots = Q \Lambda^k Q^\top$, and writing $x$ in
# the eigenvectors, $x = \sum_i c_i q_i$ with $c = Q^\top x$,
#
# $$M^k x = \sum_i c_i \lambda_i^k q_i .$$
#
# Order the eigenvalues by size, $|\lambda_1| > |\lambda_2| \ge \dots$. The first term outgrows every other by
# the factor $(|\lambda_1|/|\lambda_i|)^k$, so
#
# * the **direction** of $M^k x$ turns towards $q_1$: the angle $\theta_k$ between them obeys
#   $\tan\theta_k = \frac{\lVert \sum_{i\ge2} c_i \lambda_i^k q_i\rVert}{|c_1 \lambda_1^k|} \le
#   \left(\frac{|\lambda_2|}{|\lambda_1|}\right)^k \tan\theta_0$;
# * the **length** of $M^k x$ behaves like $|c_1|\,|\lambda_1|^k$: it vanishes if $|\lambda_1| < 1$ and
#   explodes if $|\lambda_1| > 1$. The number $|\lambda_1| = \max_i |\lambda_i|$ is the *spectral radius*.
#
# First the identity $M^k = Q \Lambda^k Q^\top$, then the angles (this is the *power iteration*).

# %%
n = 6
Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
eigenvalues = np.array([0.95, -0.8, 0.6, 0.4, -0.3, 0.1])
M = Q @ np.diag(eigenvalues) @ Q.T

difference = np.abs(np.linalg.matrix_power(M, 10) - Q @ np.diag(eigenvalues ** 10) @ Q.T).max()
print("max |M^10 - Q diag(lambda^10) Q^T| =", difference)
print("spectral radius of M:", analysis.spectral_radius(M))
assert difference < 1e-14

x = rng.standard_normal(n)
K = 60
angles = analysis.power_iteration_angles(M, x, steps=K)
k = np.arange(K + 1)
ratio = abs(eigenvalues[1]) / abs(eigenvalues[0])
bound = np.degrees(np.arctan(ratio ** k * np.tan(np.radians(angles[0]))))
per_step = np.exp(np.polyfit(k[K // 2:], np.log(angles[K // 2:]), 1)[0])
print("angle between M^k x and q_1 (degrees) at k = 0, 20, 40, 60:", np.round(angles[[0, 20, 40, 60]], 4))
assert np.all(angles <= bound + 1e-9), "the angle must stay below the |lambda_2/lambda_1|^k bound"
assert abs(per_step - ratio) < 0.01, (per_step, ratio)
assert angles[K] < 0.1, "after 60 products only the dominant direction is left"

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(k, angles, "o", markersize=3, label=r"angle between $M^k x$ and $q_1$ (power iteration)")
ax.semilogy(k, bound, "--", color="grey", label=r"bound: $\tan\theta_k \leq |\lambda_2/\lambda_1|^k \tan\theta_0$")
ax.set_xlabel("k (number of products)")
ax.set_ylabel("angle (degrees, log scale)")
ax.set_title(r"$M^k x$ turns towards the dominant eigenvector ($\lambda_1 = 0.95$, $\lambda_2 = -0.8$)")
ax.legend()
plt.show()

# %%
say(f"""**What to look at.** The angle falls on a straight line in the log scale: over the last {K // 2} products it
shrinks by a factor {per_step:.3f} per step, that is $|\\lambda_2/\\lambda_1| = {ratio:.3f}$, and it stays under
the dashed bound. After {K} products it is {angles[K]:.2g} degrees: only the dominant direction is left.""")

# %% [markdown]
# ## 3. Gradient norm against time lag
#
# Now the gradient. Keep only the loss of the last step, $l_T = \frac12\lVert o_T - y_T\rVert^2$. By the boxed
# formula its gradient $k$ steps back is
#
# $$\frac{\partial l_T}{\partial h_{T-k}} = \left(W_{hh}^\top\right)^k W_{qh}^\top e_T ,$$
#
# the power iteration of section 2 with $M = W_{hh}^\top$ and $x = W_{qh}^\top e_T$. So its norm behaves
# like $\rho^k$, $\rho$ the spectral radius of $W_{hh}$. We build $W_{hh} = \rho\, Q \Lambda Q^\top$ with
# eigenvalues spread in $[-0.7, 1]$ (so the spectral radius is exactly $\rho$) and measure on the engine,
# with `analysis.grad_norm_by_lag`, $\lVert \partial l_T / \partial h_{T-k} \rVert$ for $\rho = 0.9, 1.0, 1.1$.

# %%
n_hidden = 16
Q, _ = np.linalg.qr(rng.standard_normal((n_hidden, n_hidden)))
shape = Q @ np.diag(np.linspace(-0.7, 1.0, n_hidden)) @ Q.T  # symmetric, spectral radius 1
xs, ys = rng.standard_normal((T_LONG, 2)), rng.standard_normal((T_LONG, 3))
lags = np.arange(T_LONG)
HALF = T_LONG // 2  # from this lag on, the dominant direction has taken over

norms, whole, tail = {}, {}, {}
for rho in (0.9, 1.0, 1.1):
    model = rnn.LinearRNN(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
    model.W_hh.data[:] = rho * shape
    norms[rho] = analysis.grad_norm_by_lag(model, xs, ys)

    # the closed form, in numpy: (W_hh^T)^k W_qh^T e_T
    h_T = np.zeros(n_hidden)
    for x_t in xs:
        h_T = model.W_hx.data @ x_t + model.W_hh.data @ h_T
    e_T = model.W_qh.data @ h_T - ys[-1]
    closed = [np.linalg.norm(np.linalg.matrix_power(model.W_hh.data.T, k) @ model.W_qh.data.T @ e_T) for k in lags]
    worst = np.max(np.abs(norms[rho] - closed) / closed)
    slope = np.polyfit(lags[HALF:], np.log(norms[rho][HALF:]), 1)[0]
    whole[rho] = norms[rho][-1] / norms[rho][0]     # over all T - 1 lags
    tail[rho] = norms[rho][-1] / norms[rho][HALF]   # over the second half only
    print(f"rho = {rho}: engine vs closed form, worst relative difference {worst:.1e}; "
          f"norm at lag {T_LONG - 1} / norm at lag 0 = {whole[rho]:.3g} (rho^{T_LONG - 1} = {rho ** (T_LONG - 1):.3g}); "
          f"from lag {HALF} to {T_LONG - 1}: {tail[rho]:.4g} (rho^{T_LONG - 1 - HALF} = {rho ** (T_LONG - 1 - HALF):.4g})")
    assert worst < 1e-10
    assert abs(slope - np.log(rho)) < 0.01, "for large lags the norm must grow like rho^k"
    assert abs(tail[rho] / rho ** (T_LONG - 1 - HALF) - 1) < 0.05, "over the second half the ratio is rho^k"

# %% tags=["readme"]
fig, ax = plt.subplots(figsize=(7, 4.2))
for rho, colour in zip(norms, ("tab:blue", "tab:green", "tab:red")):
    ax.semilogy(lags, norms[rho], "o", markersize=3, color=colour, label=rf"spectral radius $\rho = {rho}$")
    ax.semilogy(lags, norms[rho][-1] * rho ** (lags - lags[-1]), "--", color=colour, linewidth=1)
ax.plot([], [], "--", color="grey", linewidth=1, label=r"prediction $\propto \rho^k$")
ax.set_xlabel("time lag k (steps back from the loss)")
ax.set_ylabel(r"$\Vert\partial l_T/\partial h_{T-k}\Vert$ on the engine (log scale)")
ax.set_title(r"Linear RNN: the gradient vanishes or explodes like $\rho^k$")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
fig.tight_layout()
plt.show()

# %%
say(f"""**What to look at.** The dots are measured on the engine, the dashed lines are $\\rho^k$. After the first
steps each curve is a straight line of slope $\\log\\rho$: from lag {HALF} to lag {T_LONG - 1} the norm changes by
{tail[0.9]:.3g} for $\\rho = 0.9$ and by {tail[1.1]:.3g} for $\\rho = 1.1$, which is $\\rho^{{{T_LONG - 1 - HALF}}}$
within 5 %. Over all {T_LONG - 1} lags the prediction $\\rho^{{{T_LONG - 1}}}$ is {0.9 ** (T_LONG - 1):.2g} and
{1.1 ** (T_LONG - 1):.3g}, but the measured ratios are {whole[0.9]:.2g} and {whole[1.1]:.3g}: an error made
{T_LONG - 1} steps after an input sends back to it a gradient {1 / whole[0.9]:.0f} times weaker, or
{whole[1.1]:.0f} times stronger, than one made right away. The difference lies in the first steps, where the
other eigen-directions of $W_{{hh}}$ still count (the part of $x = W_{{qh}}^\\top e_T$ along them shrinks at
first, faster than $\\rho^k$); the power law only takes over once $M^k x$ has turned towards the dominant
eigenvector, as in section 2. Only $\\rho = 1$ keeps the gradient's size, and only in the dominant direction.""")

# %% [markdown]
# ## 4. The same, drawn on the unrolled graph
#
# The compact drawing of `rnn.viz` can colour each $h_t$ of the unrolled graph by $\lVert \partial L /
# \partial h_t \rVert$ (log scale, dark = large). We give a target at the last step only (a NaN target means
# "no target here", so it adds nothing to the loss): then $L = l_T$ and the colours show the gradient of one
# loss flowing back (the boxes $l_1, \dots, l_9$ are still drawn; they are zero). Two spectral radii, 0.6
# (contracting) and 1.4 (expanding), over 10 steps.
#
# Two drawings are only comparable if a colour means the same number in both. `rnn.viz.heat` scales its
# colours to the drawing it makes, so we colour both with one scale, from the smallest to the largest norm
# over the two: `heat_on_scale` below passes a colour per state to `rnn.viz.compact`, with the ramp
# `rnn.viz.heat` uses.

# %%
T_DRAW = 10
xs_draw = rng.standard_normal((T_DRAW, 2))
ys_draw = np.full((T_DRAW, 3), np.nan)
ys_draw[-1] = rng.standard_normal(3)
RAMP, NO_GRAD = rnn.viz.HEAT_RAMP, rnn.viz.NO_GRAD


def colour_of(norm, low, high):
    """(fill, font colour) of a gradient norm on the shared log10 scale [low, high]."""
    if not norm:
        return NO_GRAD, "black"
    i = min(int((math.log10(norm) - low) / (high - low) * len(RAMP)), len(RAMP) - 1)
    return RAMP[i], "white" if i >= len(RAMP) // 2 else "black"


def heat_on_scale(unrolled, low, high, title):
    """The compact drawing with h_t coloured by log10 ||dL/dh_t|| on [low, high], and its legend."""
    norms = rnn.viz.state_grad_norms(unrolled)
    drawing = rnn.viz.compact(unrolled, lambda t: colour_of(norms[t], low, high), title=title)
    edges = np.linspace(low, high, len(RAMP) + 1)
    cells = "".join(f'<TD BGCOLOR="{c}"><FONT COLOR="{"white" if i >= len(RAMP) // 2 else "black"}">'
                    f"{10 ** edges[i]:.1e}</FONT></TD>" for i, c in enumerate(RAMP))
    drawing.node("legend", f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"><TR>'
                           f'<TD COLSPAN="{len(RAMP)}">||dL/dh_t|| (log scale, the same in both drawings): '
                           f"each colour from the value shown</TD></TR><TR>{cells}</TR></TABLE>>", shape="plaintext")
    drawing.edge(f"h{unrolled.plan.T}", "legend", style="invis")
    return drawing


heat_unrolled, heat_norms = {}, {}
for rho in (0.6, 1.4):
    model = rnn.LinearRNN(n_in=2, n_hidden=3, n_out=3, seed=0)
    set_spectral_radius(model, rho)
    heat_unrolled[rho] = rnn.unroll(model, xs_draw, ys_draw, rnn.Full())
    rnn.viz.backpropagate(heat_unrolled[rho])
    heat_norms[rho] = rnn.viz.state_grad_norms(heat_unrolled[rho])
    print(f"spectral radius {rho}: ||dL/dh_1|| / ||dL/dh_10|| = {heat_norms[rho][1] / heat_norms[rho][T_DRAW]:.3g}")
assert heat_norms[0.6][1] < 0.1 * heat_norms[0.6][T_DRAW] and heat_norms[1.4][1] > 10 * heat_norms[1.4][T_DRAW]
logs = [math.log10(v) for rho in heat_norms for v in heat_norms[rho] if v]
low, high = min(logs), max(logs)
colours = {rho: [colour_of(v, low, high)[0] for v in heat_norms[rho][1:]] for rho in heat_norms}
for rho in heat_norms:
    show(heat_on_scale(heat_unrolled[rho], low, high,
                       f"Gradient heat ||dL/dh_t||, linear RNN with spectral radius ρ = {rho}, T = {T_DRAW}, "
                       f"one loss at t = {T_DRAW}"))

# %%
shades = {rho: sorted({RAMP.index(c) for c in colours[rho]}) for rho in colours}
say(f"""**What to look at.** On the shared scale, $\\rho = 0.6$ uses the light shades (ramp positions
{shades[0.6]}, 0 = lightest) and fades from $h_{{10}}$ to $h_1$: the gradient vanishes on its way back. $\\rho = 1.4$
uses the dark ones ({shades[1.4]}) and darkens towards $h_1$: it explodes. The same last state $h_{{10}}$ gets
{heat_norms[0.6][T_DRAW]:.2g} and {heat_norms[1.4][T_DRAW]:.2g}, and $h_1$ gets {heat_norms[0.6][1]:.2g} and
{heat_norms[1.4][1]:.2g}. $h_0$ is grey: it is a constant, not a trained value, so it gets no gradient.""")
assert max(shades[0.6]) <= min(shades[1.4]), shades  # contracting is never darker than expanding
assert RAMP.index(colours[0.6][0]) < RAMP.index(colours[0.6][-1])  # h_1 lighter than h_10 ...
assert RAMP.index(colours[1.4][0]) > RAMP.index(colours[1.4][-1])  # ... and darker for rho = 1.4

# %% [markdown]
# ## 5. With a tanh: Jacobians $\mathrm{diag}(f')\,A$
#
# For the Elman RNN $h_t = f(A h_{t-1} + B x_t)$ the matrix that carries the gradient one step back is the
# Jacobian
#
# $$J_t = \frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}\big(f'(A h_{t-1} + B x_t)\big)\, A
#   = \mathrm{diag}\big(1 - h_t^2\big)\, A \quad (f = \tanh),$$
#
# and $\frac{\partial l_T}{\partial h_{T-k}} = J_{T-k+1}^\top \cdots J_T^\top \frac{\partial l_T}{\partial h_T}$:
# a product of *different* matrices, one per step. Two consequences:
#
# * the norm of a product is at most the product of the norms, so
#   $\lVert \partial l_T / \partial h_{T-k}\rVert \le \prod_{j=0}^{k-1} \sigma_{\max}(J_{T-j})\,
#   \lVert \partial l_T/\partial h_T\rVert$, with $\sigma_{\max}$ the largest singular value;
# * $0 < 1 - h^2 \le 1$: a saturated unit ($|h| \approx 1$) lets almost no gradient through. A large $A$
#   drives the units into saturation, which works against the explosion that $A$ alone would cause.
#
# `analysis.state_jacobians` reads each $J_t$ off the tape (one backward per step); we compare it with
# $\mathrm{diag}(1 - h_t^2) A$ and check the product bound, for $A$ of spectral radius 1 and 4.

# %%
xs_tanh = rng.standard_normal((T_LONG, 2))
ys_tanh = rng.standard_normal((T_LONG, 3))
largest_sv, tanh_norms, tanh_bounds = {}, {}, {}
for rho in (1.0, 4.0):
    model = rnn.ElmanRNN(n_in=2, n_hidden=n_hidden, n_out=3, f="tanh", seed=0)
    set_spectral_radius(model, rho)
    jacobians = analysis.state_jacobians(model, xs_tanh)
    states = [state.data for state in rnn.unroll(model, xs_tanh, ys_tanh, rnn.Full()).states]  # h_0 .. h_T
    worst = max(np.abs(jacobians[t - 1] - np.diag(1 - states[t] ** 2) @ model.A.data).max()
                for t in range(1, T_LONG + 1))
    largest_sv[rho] = analysis.singular_values(jacobians)[:, 0]  # sigma_max(J_t) for t = 1..T
    tanh_norms[rho] = analysis.grad_norm_by_lag(model, xs_tanh, ys_tanh)
    tanh_bounds[rho] = tanh_norms[rho][0] * np.concatenate([[1.0], np.cumprod(largest_sv[rho][::-1])[:-1]])
    print(f"rho = {rho}: max |J_t (tape) - diag(1 - h_t^2) A| = {worst:.1e}; "
          f"sigma_max(A) = {analysis.singular_values(model.A.data)[0]:.2f}, "
          f"sigma_max(J_t) from {largest_sv[rho].min():.3f} to {largest_sv[rho].max():.3f}; "
          f"norm at lag {T_LONG - 1} / norm at lag 0 = {tanh_norms[rho][-1] / tanh_norms[rho][0]:.1e}")
    assert worst < 1e-12
    assert np.all(tanh_norms[rho] <= tanh_bounds[rho] * (1 + 1e-9)), "a product's norm <= the product of the norms"
assert np.all(largest_sv[1.0] <= 1 + 1e-12), "with an orthogonal A, no step's Jacobian stretches"
tanh_ratio = {rho: tanh_norms[rho][-1] / tanh_norms[rho][0] for rho in tanh_norms}
assert tanh_ratio[1.0] < 1e-3 and 1 < tanh_ratio[4.0] < 4.0 ** (T_LONG - 1) * 1e-10, tanh_ratio

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for rho, colour in zip(largest_sv, ("tab:green", "tab:purple")):
    left.plot(np.arange(1, T_LONG + 1), largest_sv[rho], "o-", markersize=3, color=colour,
              label=rf"$A$ of spectral radius {rho:g}")
    right.semilogy(lags, tanh_norms[rho], color=colour, label=rf"spectral radius {rho:g}")
    right.semilogy(lags, tanh_bounds[rho], "--", color=colour, linewidth=1,
                   label=r"bound $\prod_j \sigma_{\max}(J_{T-j})\,\Vert\partial l_T/\partial h_T\Vert$")
left.axhline(1.0, color="grey", linewidth=0.8)
left.set_xlabel("step t")
left.set_ylabel(r"$\sigma_{\max}(J_t)$")
left.set_title("Largest singular value of each step's Jacobian")
left.legend()
right.set_xlabel("time lag k")
right.set_ylabel(r"$\Vert\partial l_T/\partial h_{T-k}\Vert$ (log scale)")
right.set_title("tanh RNN: gradient norm against lag")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
say(f"""**What to look at.** With spectral radius 1 ($A$ orthogonal, so $\\sigma_{{\\max}}(A) = 1$) every Jacobian has
$\\sigma_{{\\max}}(J_t) \\le 1$, because $1 - h^2 \\le 1$; here they lie between {largest_sv[1.0].min():.3f} and
{largest_sv[1.0].max():.3f}. Yet the gradient falls by a factor {1 / tanh_ratio[1.0]:.1e} over {T_LONG - 1} steps,
far below the dashed bound: the product of the norms assumes every step stretches the gradient in the
direction it already points, but the Jacobians change from step to step and each one shrinks the other
directions. With radius 4 the Jacobians jump around ($\\sigma_{{\\max}}$ from {largest_sv[4.0].min():.2f} to
{largest_sv[4.0].max():.2f}), large where the units are not saturated, small where they are; the gradient
explodes, but by {tanh_ratio[4.0]:.1e} over {T_LONG - 1} steps, not $4^{{{T_LONG - 1}}} \\approx
{4.0 ** (T_LONG - 1):.0e}$, and not smoothly.""")

# %% [markdown]
# ## 6. Remedies, each measured
#
# ### Gradient clipping (against explosion)
#
# If the gradient $g$ of all the weights is longer than a bound $c$, shrink it to length $c$:
# $g \leftarrow g \cdot c / \lVert g\rVert$ (`minigrad.optim.clip_grad_norm`, or `clip=c` in `rnn.fit`). The
# direction is kept, only the step length is capped, at $\text{lr} \cdot c$. We train the linear RNN with
# spectral radius 1.05 to output its input of 3 steps ago, with plain SGD, with and without clipping at
# $c = 10$. Each update uses a fresh batch of 16 sequences of 40 steps and full BPTT. The loss is shown per
# target. The targets are standard normal, so always answering 0 scores $\tfrac12 \mathbb{E}[y^2] = 0.5$
# per target: a run that ends above that has learned nothing.
#
# First at one learning rate, $10^{-3}$; then a sweep of learning rates, because what clipping changes is
# which learning rates work.

# %%
T_TASK, DELAY, BATCH = 40, 3, 16
UPDATES = 150 if FAST else 300
BASELINE = 0.5  # loss per target of always answering 0
LR_DEMO = 1e-3
LEARNING_RATES = [1e-6, 1e-5, 3e-5, 1e-4, 1e-3, 1e-2] if FAST else [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def delay_task(rng):
    """Inputs (T, batch, 1) and targets: the input DELAY steps earlier (NaN, no target, before that)."""
    xs = rng.standard_normal((T_TASK, BATCH, 1))
    ys = np.full_like(xs, np.nan)
    ys[DELAY:] = xs[:-DELAY]
    return xs, ys


def train_linear(lr, clip):
    """SGD on the delay task: (loss per target at each update, whether it diverged)."""
    model = rnn.LinearRNN(n_in=1, n_hidden=16, n_out=1, seed=0)
    set_spectral_radius(model, 1.05)
    optimizer = mg.optim.SGD(model.parameters(), lr=lr)
    data_rng = np.random.default_rng(1)
    losses = []
    for _ in range(UPDATES):
        try:
            history = rnn.fit(model, *delay_task(data_rng), rnn.Full(), optimizer, clip=clip)
        except mg.errors.DivergenceError:  # a non-finite loss or gradient: the run is over
            return np.array(losses), True
        losses.append(history.losses[0] / ((T_TASK - DELAY) * BATCH))
        if losses[-1] > 1e6:  # thrown far off: stop before the numbers overflow
            return np.array(losses), True
    return np.array(losses), False


runs = {(lr, clip): train_linear(lr, clip) for clip in (None, 10.0) for lr in LEARNING_RATES}
final = {key: (math.inf if diverged else losses[-20:].mean()) for key, (losses, diverged) in runs.items()}
first_model = rnn.LinearRNN(n_in=1, n_hidden=16, n_out=1, seed=0)
set_spectral_radius(first_model, 1.05)
first_norm = np.linalg.norm(analysis.flatten(rnn.gradients(first_model, *delay_task(np.random.default_rng(1)),
                                                           rnn.Full())[0]))
plain_losses, plain_diverged = runs[(LR_DEMO, None)]
clipped_losses, clipped_diverged = runs[(LR_DEMO, 10.0)]
for clip in (None, 10.0):
    print(f"clip = {clip}: loss per target after {UPDATES} updates (mean of the last 20), by learning rate: "
          + ", ".join(f"{lr:g}: {'diverged' if final[(lr, clip)] == math.inf else f'{final[(lr, clip)]:.3g}'}"
                      for lr in LEARNING_RATES))
unclipped_ok = [lr for lr in LEARNING_RATES if final[(lr, None)] < math.inf]
clipped_learns = [lr for lr in LEARNING_RATES if final[(lr, 10.0)] < BASELINE]
unclipped_learns = [lr for lr in LEARNING_RATES if final[(lr, None)] < BASELINE]
assert first_norm > 1e3 * 10.0, "the first gradient is far longer than the clipping bound"
assert plain_diverged and not clipped_diverged and clipped_losses[-20:].mean() < 0.1 * BASELINE
assert all(final[(lr, 10.0)] < math.inf for lr in LEARNING_RATES), "clipped, no learning rate diverges"
assert all(final[(lr, None)] == math.inf for lr in LEARNING_RATES if lr > max(unclipped_ok)), "a threshold"
assert final[(LEARNING_RATES[0], 10.0)] > final[(LEARNING_RATES[0], None)], "at a tiny rate clipping only slows"
assert min(clipped_learns) > min(unclipped_learns) and max(clipped_learns) > 10 * max(unclipped_learns)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 3.8))
left.semilogy(np.arange(1, len(plain_losses) + 1), plain_losses, "o", color="tab:red", label="no clipping")
left.semilogy(np.arange(1, len(clipped_losses) + 1), clipped_losses, color="tab:blue", label="clipped at c = 10")
left.axhline(BASELINE, color="grey", linestyle=":", label="always answer 0 (0.5)")
top = 1e4
left.set(xlabel="update", ylabel="loss per target (log scale)", title=f"SGD with lr = {LR_DEMO:g}",
         ylim=(min(clipped_losses.min(), BASELINE) / 3, top))
left.annotate(f"no clipping: {plain_losses[-1]:.0e} at update {len(plain_losses)}, off the chart; run stopped",
              xy=(len(plain_losses), top), xytext=(len(clipped_losses) * 0.15, top / 100), color="tab:red",
              fontsize=8, arrowprops={"arrowstyle": "->", "color": "tab:red"})
left.legend(fontsize=8)
for clip, colour, marker, label in ((None, "tab:red", "o", "no clipping"), (10.0, "tab:blue", "s", "clipped at c = 10")):
    ok = [lr for lr in LEARNING_RATES if final[(lr, clip)] < math.inf]
    right.loglog(ok, [final[(lr, clip)] for lr in ok], marker + "-", color=colour, label=label)
    bad = [lr for lr in LEARNING_RATES if final[(lr, clip)] == math.inf]
    right.plot(bad, [1e2] * len(bad), "x", color=colour, markersize=10, mew=2,
               label=f"{label}: diverged" if bad else None)
right.axhline(BASELINE, color="grey", linestyle=":", label="always answer 0 (0.5)")
right.set(xlabel="learning rate (log scale)", ylabel=f"loss per target after {UPDATES} updates",
          title="Which learning rates work")
right.legend(fontsize=8, loc="lower left")
fig.tight_layout()
plt.show()

# %%
best_plain = min(unclipped_ok, key=lambda lr: final[(lr, None)])
best_clipped = min(LEARNING_RATES, key=lambda lr: final[(lr, 10.0)])
say(f"""**What to look at.** Left, at learning rate {LR_DEMO:g}: without clipping the first gradient (its norm is
{first_norm:.1e}) throws $W_{{hh}}$ so far that the loss leaves the chart after {len(plain_losses)}
update(s) and the run stops; clipped, the same learning rate brings the loss from {clipped_losses[0]:.3g} to
{clipped_losses[-20:].mean():.2g} per target, far below the 0.5 of always answering 0.

Right, the sweep. Without clipping only learning rates up to {max(unclipped_ok):g} survive, and every larger one
diverges; the best, {best_plain:g}, ends at {final[(best_plain, None)]:.2g}. Clipped, no learning rate diverges,
and every one from {min(clipped_learns):g} to {max(clipped_learns):g} ends below the baseline; the best,
{best_clipped:g}, ends at {final[(best_clipped, 10.0)]:.2g}. At the smallest rates clipping makes learning
*slower* ({final[(LEARNING_RATES[0], 10.0)]:.3g} against {final[(LEARNING_RATES[0], None)]:.3g} at
{LEARNING_RATES[0]:g}): every gradient here is longer than $c$, so every step is cut to $\\text{{lr}} \\cdot c$.
Clipping does not make a gradient better; it bounds the step, so that the learning rates that make progress
no longer blow up on the rare huge gradient. It does nothing for a vanishing gradient (a short gradient is
never lengthened).""")

# %% [markdown]
# ### Orthogonal initialisation
#
# An orthogonal $W$ ($W^\top W = I$) has every singular value equal to 1, and so has every power $W^k$: it
# keeps the length of every vector. A Gaussian matrix with entries of variance $1/n$, scaled to the same
# spectral radius 1, does not: its singular values spread out, and those of $W^k$ even more. Below,
# measured: the largest and smallest singular value of $W^k$ for both, and the gradient norm against lag of
# a tanh RNN started from each (averaged over 4 random sequences; same $B$ and $C$).

# %%
n_seq = 4
sequences = [(r.standard_normal((T_LONG, 2)), r.standard_normal((T_LONG, 3)))
             for r in (np.random.default_rng(10 + s) for s in range(n_seq))]
gaussian = np.random.default_rng(1).standard_normal((n_hidden, n_hidden)) / np.sqrt(n_hidden)
gaussian *= 1.0 / analysis.spectral_radius(gaussian)
orthogonal = mg.init.orthogonal((n_hidden, n_hidden), np.random.default_rng(1))


def mean_norm_by_lag(model):
    """||dl_T/dh_{T-k}|| for k = 0..T-1, averaged over the sequences."""
    return np.mean([analysis.grad_norm_by_lag(model, xs_s, ys_s) for xs_s, ys_s in sequences], axis=0)


powers = [1, 5, 10, 20]
init_norms = {}
for name, A in (("Gaussian", gaussian), ("orthogonal", orthogonal)):
    spread = [analysis.singular_values(np.linalg.matrix_power(A, k))[[0, -1]] for k in powers]
    print(f"{name:>10}: spectral radius {analysis.spectral_radius(A):.2f}; (largest, smallest) singular value of W^k, "
          + ", ".join(f"k={k}: ({s[0]:.2f}, {s[1]:.1e})" for k, s in zip(powers, spread)))
    model = rnn.ElmanRNN(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
    model.A.data[:] = A
    init_norms[name] = mean_norm_by_lag(model)
orthogonal_sv = analysis.singular_values(np.linalg.matrix_power(orthogonal, 20))
assert np.allclose(orthogonal_sv, 1.0, atol=1e-10), "every power of an orthogonal matrix keeps every length"
gaussian_sv = analysis.singular_values(np.linalg.matrix_power(gaussian, 10))
assert gaussian_sv[0] / gaussian_sv[-1] > 1e6, "the Gaussian matrix's powers stretch some directions, crush others"
gain = init_norms["orthogonal"][-1] / init_norms["Gaussian"][-1]
print(f"tanh RNN, lag {T_LONG - 1}: orthogonal start keeps a gradient {gain:.0f} times larger than the Gaussian start")
assert np.all(init_norms["orthogonal"][1:] > init_norms["Gaussian"][1:]), "larger at every lag"
assert gain > 1.5

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for name, colour in (("Gaussian", "tab:orange"), ("orthogonal", "tab:blue")):
    ax.semilogy(lags, init_norms[name], color=colour, label=f"{name} $A$, spectral radius 1")
ax.set_xlabel("time lag k")
ax.set_ylabel(r"mean $\Vert\partial l_T/\partial h_{T-k}\Vert$ (log scale)")
ax.set_title("tanh RNN: gradient norm against lag, by initialisation")
ax.legend()
plt.show()

# %%
say(f"""**What to look at.** Both start with the same spectral radius, yet the orthogonal start sends back a
larger gradient at every lag, {gain:.0f} times larger at lag {T_LONG - 1}: none of its directions is crushed.
The tanh still shrinks the gradient ($1 - h^2 < 1$): from lag 0 to lag {T_LONG - 1} the orthogonal start loses
a factor {init_norms['orthogonal'][0] / init_norms['orthogonal'][-1]:.2g}. Orthogonality delays vanishing at the
start of training; it does not abolish it.""")

# %% [markdown]
# ### A gradient-norm regulariser
#
# Seed 002's second exercise asks for other ways than clipping to cope with gradients that explode or
# vanish. One is to make the *size of the backpropagated gradient* part of what training optimises
# (Pascanu, Mikolov and Bengio, "On the difficulty of training recurrent neural networks", 2013). With
# $\delta_{k+1} = \partial l_T/\partial h_{k+1}$, one step back multiplies it by $J_{k+1}^\top$; the
# regulariser
#
# $$\Omega = \sum_{k} \left( \frac{\lVert J_{k+1}^\top \delta_{k+1} \rVert}{\lVert \delta_{k+1} \rVert} - 1\right)^2,
#   \qquad J_{k+1}^\top \delta_{k+1} = A^\top\bigl((1 - h_{k+1}^2) \odot \delta_{k+1}\bigr),$$
#
# is zero when every step passes the gradient on at the size it received it. As in the paper, $\delta$ and the
# states are held constant when $\Omega$ is differentiated, so its gradient only asks $A$ to preserve the norm
# of the gradients that actually flow. Below, $\Omega$ written with engine ops, and gradient descent on it
# alone, from the Gaussian start that made the gradient vanish: the gradient norm against lag before and after.
# (In training, $\lambda\,\Omega$ is added to the loss.)

# %%
REG_STEPS, REG_LR = (15, 0.02) if FAST else (40, 0.02)


def omega(model):
    """Pascanu's regulariser for the tanh RNN on the sequences, as a Tensor of the weight A alone."""
    A = mg.tensor(model.A.data.copy(), requires_grad=True)
    total = None
    for xs_s, ys_s in sequences:
        deltas = analysis.state_grads(model, xs_s, ys_s, last_only=True)  # row t - 1: dl_T/dh_t
        states = [s.data for s in rnn.unroll(model, xs_s, ys_s, rnn.Full()).states]  # h_0 .. h_T
        for k in range(1, len(xs_s)):
            delta = deltas[k]  # dl_T/dh_{k+1}, held constant
            passed = mg.matvec(mg.transpose(A), mg.tensor((1 - states[k + 1] ** 2) * delta))  # J_{k+1}^T delta
            term = ((passed * passed).sum() ** 0.5 / np.linalg.norm(delta) - 1.0) ** 2
            total = term if total is None else total + term
    return A, total


regularised = rnn.ElmanRNN(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
regularised.A.data[:] = gaussian
omegas = []
for _ in range(REG_STEPS):
    A_leaf, value = omega(regularised)
    value.backward()
    omegas.append(value.item())
    regularised.A.data -= REG_LR * A_leaf.grad
regularised_norms = mean_norm_by_lag(regularised)
keep = {name: curve[-1] / curve[0] for name, curve in
        (("Gaussian", init_norms["Gaussian"]), ("orthogonal", init_norms["orthogonal"]),
         ("regularised", regularised_norms))}
print(f"Omega: {omegas[0]:.3g} at the Gaussian start, {omegas[-1]:.3g} after {REG_STEPS} steps; "
      f"spectral radius of A {analysis.spectral_radius(gaussian):.2f} -> {analysis.spectral_radius(regularised.A.data):.2f}")
print("norm at lag", T_LONG - 1, "/ norm at lag 0:", {name: f"{v:.2g}" for name, v in keep.items()})
assert omegas[-1] < 0.5 * omegas[0]
assert keep["regularised"] > 1e3 * keep["Gaussian"] and keep["regularised"] > keep["orthogonal"]

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for name, curve, colour in (("Gaussian start", init_norms["Gaussian"], "tab:orange"),
                            ("orthogonal start", init_norms["orthogonal"], "tab:blue"),
                            (f"Gaussian start after {REG_STEPS} steps on $\\Omega$", regularised_norms, "tab:green")):
    ax.semilogy(lags, curve / curve[0], color=colour, label=name)
ax.set(xlabel="time lag k", ylabel=r"$\Vert\partial l_T/\partial h_{T-k}\Vert$ / its value at lag 0",
       title="tanh RNN: what the gradient-norm regulariser does")
ax.legend(fontsize=8)
plt.show()

# %%
say(f"""**What to look at.** {REG_STEPS} gradient steps on $\\Omega$ alone bring it from {omegas[0]:.3g} to
{omegas[-1]:.3g}, and the gradient that reaches lag {T_LONG - 1} goes from {keep['Gaussian']:.1e} to
{keep['regularised']:.2g} of its size at lag 0 (the orthogonal start keeps {keep['orthogonal']:.2g}). The
regulariser does not look at the task at all: it only shapes $A$ so that gradient survives the trip back,
which is why Pascanu et al. use it together with clipping, which handles the other direction.""")

# %% [markdown]
# ### Layer normalisation
#
# The layer-normalised Elman RNN (`rnn.layer_norm.LayerNormElman`) normalises the input of the units before
# the activation:
#
# $$z_t = A h_{t-1} + B x_t, \qquad h_t = f\!\left(\gamma \odot \frac{z_t - \mu(z_t)}{\sqrt{\sigma^2(z_t) +
#   \varepsilon}} + \beta\right),$$
#
# with $\mu$ and $\sigma^2$ the mean and variance over the units. Multiply $A$ and $B$ by any $s > 0$: $z_t$,
# $z_t - \mu$ and $\sigma$ all scale by $s$, and $h_t$ does not change (up to $\varepsilon$). So the size of
# the weights, which decides vanishing or explosion in the plain RNN, no longer matters. Measured: the
# gradient norm against lag with $A$ and $B$ scaled by $s = 0.5, 1, 2, 4$, for both cells (same starting
# weights).

# %%
scales = (0.5, 1.0, 2.0, 4.0)
plain_by_scale, normalised_by_scale, weight_grads = {}, {}, {}
for s in scales:
    plain = rnn.ElmanRNN(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
    normalised = LayerNormElman(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
    for cell in (plain, normalised):
        cell.A.data *= s
        cell.B.data *= s
    plain_by_scale[s] = mean_norm_by_lag(plain)
    normalised_by_scale[s] = mean_norm_by_lag(normalised)
    weight_grads[s] = (rnn.gradients(normalised, *sequences[0], rnn.Full())[0], normalised.A.data.copy(),
                       normalised.B.data.copy())


def decades(curves):
    """How many powers of 10 separate the largest and smallest curve at the longest lag."""
    last = [curve[-1] for curve in curves.values()]
    return np.log10(max(last) / min(last))


ahead = np.log10(normalised_by_scale[1.0][-1] / plain_by_scale[1.0][-1])
grad_A = {s: np.linalg.norm(weight_grads[s][0]["A"]) for s in scales}
radial = max(abs(np.sum(g["A"] * A) + np.sum(g["B"] * B)) / (np.linalg.norm(g["A"]) * np.linalg.norm(A))
             for g, A, B in weight_grads.values())
print(f"at lag {T_LONG - 1} the curves span {decades(plain_by_scale):.1f} decades without layer norm, "
      f"{decades(normalised_by_scale):.1e} with it; at s = 1 the normalised gradient is {ahead:.1f} decades larger")
print("||dL/dA|| of the normalised cell, by scale:", {s: f"{v:.3g}" for s, v in grad_A.items()},
      f"; largest |<dL/dA, A> + <dL/dB, B>| relative: {radial:.1e}")
assert decades(plain_by_scale) > 5
assert decades(normalised_by_scale) < 1e-3
assert ahead > 2, "at the same weights, the normalised cell keeps far more gradient at the longest lag"
assert all(abs(grad_A[s] * s / grad_A[1.0] - 1) < 1e-3 for s in scales), "the gradient shrinks like 1/s"
assert radial < 1e-4, "the gradient has (up to eps) no component along the weights"

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for s, colour in zip(scales, ("tab:blue", "tab:green", "tab:orange", "tab:red")):
    left.semilogy(lags, plain_by_scale[s], color=colour, label=f"A, B scaled by {s:g}")
    right.semilogy(lags, normalised_by_scale[s], color=colour, linewidth=6 - s, alpha=0.7,
                   label=f"A, B scaled by {s:g}")
left.set_title("plain tanh RNN")
right.set_title("layer-normalised tanh RNN (the four curves coincide)")
for ax in (left, right):
    ax.set_xlabel("time lag k")
    ax.legend(fontsize=8)
left.set_ylabel(r"mean $\Vert\partial l_T/\partial h_{T-k}\Vert$ (log scale)")
fig.tight_layout()
plt.show()

# %%
say(f"""**What to look at.** Left, the same network with its weights scaled by 0.5 or by 4 goes from a gradient
that vanishes to one that explodes: at lag {T_LONG - 1} the four curves span {decades(plain_by_scale):.1f} powers of
ten. Right, the four curves lie on top of each other (drawn with decreasing widths so you can see them all).
At the unscaled weights, $s = 1$, the normalised cell's gradient at lag {T_LONG - 1} is {ahead:.1f} powers of ten
larger than the plain cell's. Layer normalisation does not make the gradient constant over the lags (the tanh
and the normalisation still shape it); it removes the dependence on the scale of the weights.

What that means for training is measured in the last line printed above. Since the loss does not change
when $A$ and $B$ are scaled together, its gradient has no component along $(A, B)$ (relative size
{radial:.0e}), and it shrinks like $1/s$ as the weights grow ($\\lVert\\partial L/\\partial A\\rVert$ from
{grad_A[0.5]:.3g} at $s = 0.5$ to {grad_A[4.0]:.3g} at $s = 4$). So a gradient step can make the weights larger,
but larger weights only make the following steps smaller: they change neither the function nor the flow of
gradient through time, where in the plain cell they would take it from vanishing to exploding.""")

# %% [markdown]
# ## Summary
#
# * $\partial L/\partial h_t = \sum_{i \ge t} (W_{hh}^\top)^{i-t} W_{qh}^\top e_i$: the error $k$ steps later
#   arrives through the $k$-th power of $W_{hh}^\top$. Computed by the recursion, with $\partial L/\partial
#   h_{t+1}$ cached, it costs $O(T)$; as the sum, $O(T^2)$.
# * Powers of a matrix turn every vector towards the dominant eigenvector and scale it like $\rho^k$:
#   vanishing for $\rho < 1$, exploding for $\rho > 1$.
# * With a nonlinearity the matrices change from step to step ($\mathrm{diag}(f')A$), and saturation
#   shrinks them.
# * Clipping bounds the step, which widens the range of learning rates that train; an orthogonal start
#   keeps all directions at first; a gradient-norm regulariser shapes $A$ to pass the gradient on at its
#   size; layer normalisation makes the gradient flow independent of the scale of the weights.
#
# Next, tutorial 4: if distant gradients are so weak anyway, why not cut them off on purpose?
#
# ## Your turn
#
# **Assignment `a5_lstm`** is the remedy this lesson leaves out: the LSTM, whose cell state $c_t$ is carried
# by an addition, so the gradient along it is multiplied by the forget gate rather than by a matrix. You write
# the backward of its fused step. Get it with `python -m assignments release my_work/ -a 5`.
#
# A warm-up here: for the linear RNN, $\partial l_T/\partial h_{T-k}$ is $(W_{hh}^\top)^k W_{qh}^\top e_T$.
# Predict, without the engine, the norm at lag `HALF + 10` for the $\rho = 1.1$ model of section 3 from its
# norm at lag `HALF` (both printed below), and put your number in place of `None`. `check_prediction` accepts
# it if it is within 5 % of what the engine measured; it is checked below on the right prediction,
# $\rho^{10}$ times the lag-`HALF` norm, and on a wrong one, $\rho^{20}$ times it.

# %%
your_prediction = None  # the norm of dl_T/dh_{T-(HALF+10)} for rho = 1.1
print(f"HALF = {HALF}; norm at lag {HALF}: {norms[1.1][HALF]:.6g}")


def check_prediction(value, rho=1.1, lag=HALF + 10):
    """True if value is within 5 % of ||dl_T/dh_{T-lag}|| measured on the engine (section 3's model)."""
    return value is not None and abs(value / norms[rho][lag] - 1) < 0.05


assert check_prediction(1.1 ** 10 * norms[1.1][HALF]) and not check_prediction(1.1 ** 20 * norms[1.1][HALF])
print("prediction: " + ("not tried yet" if your_prediction is None
                        else ("right" if check_prediction(your_prediction) else "not right yet")))
