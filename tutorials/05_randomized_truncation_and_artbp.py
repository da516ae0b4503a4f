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
# # 5. Randomized truncation and ARTBP
#
# **What you will learn.** Truncation at a fixed length $k$ is biased: it always drops the same long-range
# terms (tutorial 4). Cutting at *random* places and scaling up what survives gives a gradient that is right
# *on average*: unbiased, but noisy. You will see
#
# 1. the randomized estimator: each recurrent edge is cut with probability $1-p$ or kept and scaled by $1/p$;
# 2. why its expectation is the full gradient, derived, and checked exactly by averaging over every possible
#    draw;
# 3. a running mean of draws converging to the full gradient (plot);
# 4. its variance against $p$, and why it explodes for small $p$;
# 5. the graph with its scale-gradient nodes;
# 6. ARTBP (Tallec and Ollivier, 2017): its truncation schedule and its reweighting;
# 7. where each one loses to plain truncation in practice, measured: variance, memory, learning.
#
# **What you need.** Tutorials 3 and 4; expectation and variance of a random variable; independence.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import rnn
import rnn.viz
from minigrad.viz import show
from rnn import analysis
from rnn.training import compare_strategies

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # only shrinks the number of random draws
DRAWS = 200 if FAST else 400


# %% [markdown]
# ## 1. The estimator $\xi_t$
#
# Take the Elman RNN of tutorials 2 and 4, $h_t = f(A h_{t-1} + B x_t)$, $\hat y_t = g(C h_t)$,
# $L = \sum_t l_t$. In the backward pass the gradient crosses the recurrent edge $h_{t-1} \to h_t$ as
#
# $$\frac{\partial L}{\partial h_{t-1}} \mathrel{+}= J_t^\top \frac{\partial L}{\partial h_t}, \qquad
#   J_t = \frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}(f'_t)\, A .$$
#
# Randomized truncation multiplies what crosses edge $t$ by a random factor, drawn independently for
# $t = 2, \dots, T$ before the pass:
#
# $$\xi_t = \begin{cases} 1/p & \text{with probability } p \quad \text{(kept: a scale-gradient node)} \\
#   0 & \text{with probability } 1-p \quad \text{(cut: a stop-gradient node).}\end{cases}$$
#
# **Why the expectation is the full gradient.** Expand the full gradient of any weight as a sum over
# paths: the loss $l_t$ reaches the use of the weight at step $s \le t$ through the edges $s+1, \dots, t$, so
# its term is a product $M_{t,s}$ of Jacobians and local derivatives, and
# $g = \sum_t \sum_{s \le t} M_{t,s}$. With the random factors each term becomes
# $\big(\prod_{u=s+1}^{t} \xi_u\big) M_{t,s}$. The factors are independent with $\mathbb{E}[\xi_u] =
# p \cdot \tfrac1p + (1-p) \cdot 0 = 1$, so the expectation of each product is the product of expectations,
# 1, and by linearity
#
# $$\mathbb{E}[\hat g] = \sum_t \sum_{s\le t} \mathbb{E}\Big[\prod_{u=s+1}^{t} \xi_u\Big] M_{t,s} = g .$$
#
# The estimator is **unbiased**. A draw is a plan: the factor on every edge.

# %%
rng = np.random.default_rng(0)
print("Randomized(0.5), edges into steps 1..12:", rnn.Randomized(0.5, seed=0).plan(12).edges[1:])

# %% [markdown]
# For a short sequence we can check the claim *exactly*: there are $2^{T-1}$ possible draws (each edge
# $2..T$ kept or cut), the draw with $m$ kept edges has probability $p^m (1-p)^{T-1-m}$, and
# `analysis.randomized_exact_moments` runs every one of them on the engine and takes the weighted mean. No
# sampling, so the mean must equal the full gradient to round-off, for every $p$.

# %%
model = rnn.ElmanRNN(n_in=3, n_hidden=8, n_out=2, seed=0)
T_SHORT = 8
xs_short, ys_short = rng.standard_normal((T_SHORT, 4, 3)), rng.standard_normal((T_SHORT, 4, 2))
full_short = analysis.flatten(analysis.summed_gradient(model, xs_short, ys_short, rnn.Full()))

exact = {}
for p in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
    exact[p] = analysis.randomized_exact_moments(model, xs_short, ys_short, p)
    error = analysis.relative_error(exact[p].mean, full_short)
    assert error < 1e-13, (p, error)
print(f"{exact[0.5].draws} draws for p = 0.5; the largest relative error of the exact mean over all p: "
      f"{max(analysis.relative_error(e.mean, full_short) for e in exact.values()):.1e}")

# %% [markdown]
# ## 2. The graph with scale-gradient nodes
#
# `rnn.unroll` records one draw as a graph. In the compact view a kept edge is labelled "× 2" (its gradient is
# multiplied by $1/p = 2$) and a cut edge is a dashed red stop-gradient. There is one update, at $T$, with every
# loss: the whole sequence stays on the tape, as in full BPTT.

# %%
small = rnn.ElmanRNN(n_in=3, n_hidden=3, n_out=2, seed=0)
xs_draw, ys_draw = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
show(rnn.viz.compact(rnn.unroll(small, xs_draw, ys_draw, rnn.Randomized(0.5, seed=1))))

# %% [markdown]
# The op-level view of three steps shows the nodes themselves: the scale-gradient node (a blue hexagon,
# "scale_grad × 2") and the stop-gradient node (a red octagon) sit on the recurrent edge, between one step's
# state and the next step's `elman_step`. Both are the identity in the forward pass; only the backward pass
# changes.

# %%
show(rnn.viz.ops_view(rnn.unroll(small, xs_draw[:3], ys_draw[:3], rnn.Randomized(0.5, seed=8))))

# %% [markdown]
# ## 3. A running mean converges to the full gradient
#
# Unbiased means: average many independent draws and the mean goes to $g$. By the law of large numbers the
# error of the mean of $n$ draws is about $\sqrt{\mathrm{tr}\,\mathrm{Cov}(\hat g)/n}$ (the *standard
# error*): it falls like $1/\sqrt n$. We take $T = 30$ and draw 400 gradients each from Randomized(0.7)
# and from ARTBP with $c = 0.2$ (section 5; it is unbiased too). For comparison, the fixed truncations
# Chunked(5) and Chunked(10): deterministic, so their "mean" never moves from their bias.

# %%
T = 30
xs, ys = rng.standard_normal((T, 4, 3)), rng.standard_normal((T, 4, 2))
full = analysis.flatten(analysis.summed_gradient(model, xs, ys, rnn.Full()))
estimators = {"Randomized(0.7)": rnn.Randomized(0.7, seed=0), "ARTBP(c = 0.2)": rnn.ARTBP(c=0.2, seed=0)}
samples = {name: analysis.gradient_samples(model, xs, ys, strategy, n=DRAWS) for name, strategy in estimators.items()}
running = {name: analysis.running_mean_error(s, full) for name, s in samples.items()}
stats = {name: analysis.estimator_stats(s, full) for name, s in samples.items()}
chunked = {f"Chunked({k})": b for k, b in zip((5, 10), analysis.truncation_bias(
    model, xs, ys, [rnn.Chunked(5), rnn.Chunked(10)]))}

for name, errors in running.items():
    s = stats[name]
    print(f"{name}: error of the mean after 10 draws {errors[9]:.3f}, after {DRAWS} {errors[-1]:.4f} "
          f"(standard error {s.standard_error:.4f}); error of one draw {s.draw_error:.3f}")
    assert errors[-1] < 0.4 * errors[9], "the running mean converges"
    assert errors[-1] < 3 * s.standard_error, "its error is of the order of the standard error: no bias"
for name, b in chunked.items():
    print(f"{name}: relative error {b.relative_error:.3f}, the same however many times it is computed")

# %% tags=["readme"]
n = np.arange(1, DRAWS + 1)
fig, ax = plt.subplots(figsize=(7, 4.2))
for (name, errors), colour in zip(running.items(), ("tab:blue", "tab:orange")):
    ax.loglog(n, errors, color=colour, label=f"{name}: mean of n draws")
    ax.loglog(n, stats[name].standard_error * np.sqrt(DRAWS / n), ":", color=colour,
              label=rf"{name}: standard error $\propto 1/\sqrt{{n}}$")
for (name, b), style in zip(chunked.items(), ("--", "-.")):
    ax.axhline(b.relative_error, color="grey", linestyle=style, label=f"{name}: its bias (no randomness)")
ax.set_ylim(1e-2, 1)
ax.set_xlabel("number of draws n")
ax.set_ylabel(r"$\Vert \mathrm{mean} - g\Vert / \Vert g\Vert$ (log scale)")
ax.set_title("Unbiased estimators converge to the full gradient; truncation does not")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **What to look at.** The means of the random estimators fall along their $1/\sqrt n$ lines and go on
# falling; the truncated gradients are stuck at their bias. But look at the left edge: a *single* draw of
# Randomized(0.7) is further from $g$ than Chunked(5)'s biased gradient. Training uses one draw per update,
# so what matters in practice is the error of one draw, bias and noise together. That is the subject of
# the rest of this tutorial.
#
# ## 4. The variance against $p$
#
# One path through $m$ kept-or-cut edges gets the factor $Z = \prod_{u} \xi_u$, with $\mathbb{E}[Z] = 1$ and
#
# $$\mathbb{E}[Z^2] = \prod_u \mathbb{E}[\xi_u^2] = \Big(p \cdot \frac{1}{p^2}\Big)^m = p^{-m}, \qquad
#   \mathrm{Var}[Z] = p^{-m} - 1 .$$
#
# A long path is rarely kept ($p^m$), but when it is, it is scaled by $p^{-m}$: the variance grows
# *exponentially* with the path length, the faster the smaller $p$. At $p = 1$ nothing is ever cut and the
# variance is 0. Measured below: exactly (all draws, $T = 8$) and from samples ($T = 30$), as the total
# variance $\mathbb{E}\lVert \hat g - g\rVert^2$ relative to $\lVert g\rVert^2$.

# %%
p_values = sorted(exact)
exact_variance = [exact[p].total_variance / (full_short @ full_short) for p in p_values]
sampled_p = (0.5, 0.7, 0.9)
sampled_variance = [analysis.total_variance(analysis.gradient_samples(
    model, xs, ys, rnn.Randomized(p, seed=1), n=DRAWS // 2)) / (full @ full) for p in sampled_p]
for p, v in zip(p_values, exact_variance):
    print(f"p = {p:.1f}: exact relative variance (T = {T_SHORT}) {v:.3g}")
print("sampled relative variance (T = 30):", dict(zip(sampled_p, np.round(sampled_variance, 3))))
assert np.all(np.diff(exact_variance) < 0), "the variance falls as p grows"
assert exact_variance[-1] == 0.0, "p = 1 is full BPTT"
assert np.all(np.diff(sampled_variance) < 0), "sampled too, the variance falls as p grows"

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.semilogy(p_values[:-1], exact_variance[:-1], "o-", label=f"exact, all {exact[0.5].draws} draws (T = {T_SHORT})")
ax.semilogy(sampled_p, sampled_variance, "s--", label=f"sampled, {DRAWS // 2} draws (T = {T})")
ax.set_xlabel("keep probability p")
ax.set_ylabel(r"$\mathbb{E}\Vert\hat g - g\Vert^2 / \Vert g\Vert^2$ (log scale)")
ax.set_title("Variance of Randomized(p) (0 at p = 1, not shown)")
ax.legend()
plt.show()

# %% [markdown]
# **What to look at.** The variance falls by orders of magnitude as $p$ grows, and it is larger for the
# longer sequence at the same $p$: more long paths. Small $p$ is cheap in nothing (the whole sequence is still
# on the tape) and expensive in noise. The noise is also *heavy-tailed*: most draws keep only short paths
# and are close to one another, and a rare draw that keeps a long path is scaled by $p^{-m}$. So a sample
# of a few hundred draws can underestimate the variance badly for small $p$ (which is why the sampled
# curve starts at $p = 0.5$).
#
# ## 5. ARTBP: anticipated reweighted truncated backpropagation
#
# Randomized truncation still makes one update at the end of the sequence, with everything on the tape.
# ARTBP (`rnn.ARTBP`, Tallec and Ollivier 2017) is its *online* form. After each step $t$:
#
# * a truncation probability $c_t$ is fixed **before** the draw; it may depend on the length $L$ of the
#   current sub-sequence (the steps since the last cut);
# * with probability $c_t$ the sub-sequence ends: an **update** with its losses, and a stop-gradient on the
#   edge into step $t+1$ (the state itself is carried on);
# * otherwise the edge into step $t+1$ gets a scale-gradient node with the factor $1/(1-c_t)$: the
#   **reweighting**.
#
# Each kept edge's factor is $\mathbb{1}[\text{kept}]/(1-c_t)$, of mean 1 given everything drawn before, so by
# the argument of section 1 the sum of the updates is unbiased. With a constant $c$ the factors are exactly
# those of Randomized($1-c$): the same estimator (compare the errors of one draw, measured below), made online, with
# an update at every cut and only the current sub-sequence on the tape. Here is one draw with $c = 0.25$:
# three sub-sequences, three updates, each edge inside a sub-sequence scaled by $1/(1 - 0.25) = 4/3$.

# %%
artbp_plan = rnn.ARTBP(c=0.25, seed=0).plan(10)
for u in artbp_plan.updates:
    print(f"update after step {u.t}: losses l_{u.first}..l_{u.t}, back to h_{u.reach}")
show(rnn.viz.compact(rnn.unroll(small, xs_draw[:10], ys_draw[:10], rnn.ARTBP(c=0.25, seed=0))))

same = analysis.gradient_samples(model, xs, ys, rnn.Randomized(0.8, seed=2), n=DRAWS)
print(f"error of one draw: Randomized(0.8) {analysis.estimator_stats(same, full).draw_error:.3f}, "
      f"ARTBP(c = 0.2) {stats['ARTBP(c = 0.2)'].draw_error:.3f}")

# %% [markdown]
# **The schedule.** With a constant $c$ the sub-sequence length is geometric: a dependency of $m$ steps
# survives with probability $(1-c)^m$, exponentially rare, and is then weighted by $(1-c)^{-m}$: the
# exponential variance of section 4. Tallec and Ollivier let $c$ depend on the current length $L$ so that
# survival decays only polynomially. `rnn.survival_schedule(L0, a)` takes the survival function
# $S(L) = (1 + L/L_0)^{-a}$ and sets
#
# $$c(L) = 1 - \frac{S(L+1)}{S(L)}, \qquad\text{so}\qquad
#   P(\text{a sub-sequence grows past length } L) = \prod_{j=1}^{L} \big(1 - c(j)\big) = \frac{S(L+1)}{S(1)} .$$
#
# The longer a sub-sequence has already run, the less likely it is to be cut now; $a > 2$ keeps the variance
# of its length finite. Below: $c(L)$ for both, and the measured distribution of sub-sequence lengths over
# long draws against the prediction.

# %%
schedule = rnn.survival_schedule(L0=10, a=3)
lengths = np.arange(1, 201)


def sub_sequence_lengths(strategy, T=20000):
    """The lengths of the sub-sequences of one long draw (the last one, cut short by T, is left out)."""
    updates = strategy.plan(T).updates[:-1]
    return np.array([u.t - u.first + 1 for u in updates])


print("the schedule:", schedule.description)
measured = {"constant c = 0.1": sub_sequence_lengths(rnn.ARTBP(c=0.1, seed=3)),
            "schedule L0 = 10, a = 3": sub_sequence_lengths(rnn.ARTBP(schedule=schedule, seed=3))}
predicted = {"constant c = 0.1": 0.9 ** lengths,  # (1 - c)^L
             "schedule L0 = 10, a = 3": (1 + (lengths + 1) / 10) ** -3 / (1 + 1 / 10) ** -3}  # S(L+1) / S(1)
for name, observed in measured.items():
    beyond = {L: np.mean(observed > L) for L in (10, 50)}
    print(f"{name}: {len(observed)} sub-sequences, mean length {observed.mean():.1f}, longest {observed.max()}; "
          f"P(length > 10) = {beyond[10]:.3f} (predicted {predicted[name][9]:.3f}), "
          f"P(length > 50) = {beyond[50]:.4f} (predicted {predicted[name][49]:.4f})")
    assert abs(beyond[10] - predicted[name][9]) < 0.03, "the lengths follow the schedule"

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
left.plot(lengths[:60], np.full(60, 0.1), label="constant c = 0.1")
left.plot(lengths[:60], [schedule(L) for L in lengths[:60]], label=r"schedule, $L_0 = 10$, $a = 3$")
left.set_xlabel("current sub-sequence length L")
left.set_ylabel("truncation probability c(L)")
left.set_title("When to cut")
left.legend()
for (name, observed), colour in zip(measured.items(), ("tab:blue", "tab:orange")):
    right.loglog(lengths, [np.mean(observed > L) for L in lengths], color=colour, label=f"measured, {name}")
    right.loglog(lengths, predicted[name], ":", color=colour, label=f"predicted, {name}")
right.set_ylim(1e-4, 1.5)
right.set_xlabel("L")
right.set_ylabel("P(sub-sequence longer than L)")
right.set_title("Sub-sequence lengths over 20000 steps")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to look at.** Left: the schedule cuts often at first and ever less as the sub-sequence grows. Right:
# with a constant $c$ the chance of a long sub-sequence falls off a cliff (a straight line would be a
# power law; this one bends down exponentially): a dependency of 50 steps is almost never seen whole. With
# the schedule it falls like a power of $L$: long dependencies are kept now and then, and their weight
# $1/P$ grows only polynomially. The price is the other side of the same coin: now and then a very long
# sub-sequence, which must sit on the tape whole.
#
# ## 6. Where each loses to plain truncation, measured
#
# Unbiasedness is a statement about the average over many draws. Training takes one draw per update. Three
# measurements:
#
# **Error of one draw.** The root-mean-square relative error of a single draw (bias and noise together),
# against the bias of Chunked($k$) on the same sequence ($T = 30$).

# %%
one_draw = {f"Randomized({p})": analysis.estimator_stats(analysis.gradient_samples(
    model, xs, ys, rnn.Randomized(p, seed=4), n=DRAWS // 2), full).draw_error for p in (0.5, 0.7, 0.9)}
one_draw["ARTBP(c = 0.2)"] = stats["ARTBP(c = 0.2)"].draw_error
one_draw["ARTBP(c = 0.1)"] = analysis.estimator_stats(analysis.gradient_samples(
    model, xs, ys, rnn.ARTBP(c=0.1, seed=4), n=DRAWS // 2), full).draw_error
one_draw["ARTBP(schedule)"] = analysis.estimator_stats(analysis.gradient_samples(
    model, xs, ys, rnn.ARTBP(schedule=schedule, seed=4), n=DRAWS // 2), full).draw_error
for name, b in chunked.items():
    one_draw[name] = b.relative_error
for name, value in one_draw.items():
    print(f"{name:>16}: error of one gradient {value:.3f}")
assert one_draw["Randomized(0.5)"] > 2 * one_draw["Chunked(5)"], "a random draw can be worse than the biased one"

# %% [markdown]
# On average, one draw of a random strategy is no closer to $g$ than the biased gradient of a fixed window
# of about the same length: ARTBP($c = 0.1$) (mean sub-sequence about 10) is about as far off as Chunked(10),
# and so is its twin Randomized(0.9); ARTBP with the schedule (mean sub-sequence about 6) about as far as
# Chunked(5); Randomized(0.5) is many times further off than anything else (and its estimate here is itself
# noisy, being dominated by rare draws). Randomization turns the bias into noise of about the same size,
# or larger.
#
# **Memory.** The peak tape of one run over 200 steps (batch 32, 32 units), the largest over 5 draws for the
# random strategies: Randomized keeps the whole sequence, like full BPTT; ARTBP keeps its longest
# sub-sequence, which is random.

# %%
memory_model = rnn.ElmanRNN(n_in=3, n_hidden=32, n_out=2, seed=0)
xs_long, ys_long = rng.standard_normal((200, 32, 3)), rng.standard_normal((200, 32, 2))
memory = {name: analysis.measure(memory_model, xs_long, ys_long, strategy, repeats=5).peak_bytes
          for name, strategy in {"Full": rnn.Full(), "Randomized(0.5)": rnn.Randomized(0.5, seed=5),
                                 "ARTBP(c = 0.1)": rnn.ARTBP(c=0.1, seed=5),
                                 "ARTBP(schedule)": rnn.ARTBP(schedule=schedule, seed=5),
                                 "Chunked(10)": rnn.Chunked(10)}.items()}
for name, peak in memory.items():
    print(f"{name:>16}: peak tape {peak / 1e3:8.1f} kB")
assert memory["Randomized(0.5)"] == memory["Full"], "randomized truncation holds the whole sequence"
assert memory["ARTBP(c = 0.1)"] > 2 * memory["Chunked(10)"], "ARTBP's longest sub-sequence sets its memory"

# %% [markdown]
# **Learning.** The echo task of tutorial 4 (output the symbol seen 10 steps ago), the same network, data
# and optimizer for every strategy: 6000 steps in pieces of 40, Adam, clipping at 1. Chunked(16) against
# Randomized($p$) and ARTBP($c$).

# %%
STRATEGIES = ["chunked:16", "randomized:0.5", "randomized:0.8", "artbp:0.1", "artbp:0.2"]
comparison = compare_strategies(STRATEGIES, task="echo", delay=10, seq_len=40, batch=32, cell="elman", hidden=32,
                                steps=6000, optimizer="adam", lr=0.003, clip=1.0, seed=0)
table, curves = comparison.table, comparison.curves
print(f"{'strategy':<16}{'accuracy':>10}{'updates':>9}{'peak tape':>12}")
for row in table:
    print(f"{row['strategy']:<16}{row['metric']:>10.3f}{row['updates']:>9}{row['peak_bytes'] / 1e3:>9.1f} kB")
accuracy = {row["strategy"]: row["metric"] for row in table}
assert accuracy["randomized:0.5"] < accuracy["chunked:16"] - 0.2, "high variance: learns far less"
assert max(accuracy["randomized:0.8"], accuracy["artbp:0.2"]) < accuracy["chunked:16"]

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for spec, rows in curves.items():
    ax.plot([r["step"] for r in rows], [r["metric"] for r in rows], label=spec)
ax.axhline(0.25, color="grey", linestyle="--", label="chance")
ax.set_xlabel("training step")
ax.set_ylabel("held-out accuracy")
ax.set_title("Echo task, delay 10: fixed against random truncation")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **What to look at, and why.**
#
# * **Randomized($p$)** loses on every count here. Its single draws are noisy (the variance of section 4),
#   so it learns slowly: with $p = 0.5$ it stays near 60 % accuracy, far behind. It still holds the whole
#   sequence on the tape and makes one update per piece, so it saves neither memory nor waiting time over
#   full BPTT. Its only virtue, no bias, pays off when many draws are averaged, which training never does.
# * **ARTBP** is online: an update at every cut (more updates than chunks of 16 for $c = 0.1$), only the
#   current sub-sequence on the tape. With $c = 0.1$ it learns about as well as Chunked(16); with $c = 0.2$
#   the reweighting $1/(1-c)^m$ is noisier and it falls behind. Its memory is set by its longest sub-sequence,
#   which is random: over a long run it will sooner or later hold a whole piece, while Chunked's memory is
#   fixed in advance. The schedule makes long dependencies reachable, at the price of rare very long
#   sub-sequences.
# * **Plain truncation** is biased, but when the window covers the dependency (here 16 > 10) the bias is
#   small where it matters, it has no variance at all, and its cost is known in advance. That is why it is
#   what people use; the unbiased methods pay off when dependencies are longer than any window you can afford.
#
# ## Summary
#
# * Randomized truncation multiplies each recurrent edge by $\xi_t \in \{0, 1/p\}$ with $\mathbb{E}[\xi_t] = 1$;
#   independence makes every path's factor average to 1, so $\mathbb{E}[\hat g] = g$ (checked over all draws).
# * The mean of $n$ draws converges like $1/\sqrt n$; one draw has variance growing like $p^{-m}$ in the path
#   length $m$.
# * ARTBP is the online form: cut with probability $c_t$, reweight kept edges by $1/(1-c_t)$; a length-dependent
#   schedule keeps long dependencies with polynomial rather than exponential rarity.
# * In practice, noise and memory make them lose to a fixed window that covers the dependency.
#
# Next, tutorial 6: training with truncation, task by task.
