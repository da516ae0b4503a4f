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
# # 4. Truncated BPTT
#
# **What you will learn.** Full BPTT keeps the whole sequence on the tape and makes one update at its end.
# Truncated BPTT cuts the backward pass short: it updates more often, holds less memory, and gets a
# different (biased) gradient. You will
#
# 1. write the chunked loop yourself (carry the hidden state, detach it at each chunk boundary) and check
#    it against `rnn.Chunked(k)`;
# 2. write TBPTT$(k_1, k_2)$ from Sutskever's pseudo-code and check it against `rnn.TBPTT(k1, k2)`;
# 3. derive the truncated sum for $\partial L/\partial A$ and compute it by hand (`rnn.manual`) and on the
#    engine;
# 4. draw the windows each strategy backpropagates through;
# 5. measure the bias of the truncated gradient against $k$ (cosine similarity, relative error);
# 6. measure time and memory against $k$ and against $T$;
# 7. fill the trade-off table of truncation (speed, memory, long-term learning) with measured numbers.
#
# **What you need.** Tutorial 2 (BPTT for the Elman RNN) and tutorial 3 (gradients vanish over long lags).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
import rnn
import rnn.viz
from minigrad.viz import show
from rnn import analysis, manual
from rnn.training import compare_strategies

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # only shrinks the sequence lengths of the timing section


def step_loss(y_hat, y):
    """l_t = 1/2 ||y_hat_t - y_t||^2, summed over the batch: the loss the library uses."""
    return 0.5 * mg.mse(y_hat, y, reduction="sum")


def largest_difference(got, want):
    """The largest |difference| over the updates and the parameters of two lists of {name: gradient}."""
    assert len(got) == len(want), (len(got), len(want))
    return max(np.abs(g[name] - w[name]).max() for g, w in zip(got, want) for name in w)

# %% [markdown]
# Throughout, the Elman RNN of tutorial 2:
#
# $$\mathrm{pre}_t = A h_{t-1} + B x_t, \quad h_t = f(\mathrm{pre}_t), \quad q_t = C h_t,
#   \quad \hat y_t = g(q_t), \quad l_t = \tfrac12 \lVert \hat y_t - y_t\rVert^2, \quad L = \sum_{t=1}^T l_t,$$
#
# with $f = \tanh$ and $g$ the identity.
#
# ## 1. The chunked loop
#
# Cut the sequence into chunks of $k$ steps. Each chunk gets its own forward pass, its own loss (the sum of
# its $l_t$), its own backward pass and its own update. Between chunks the hidden state is **carried**: the
# next chunk starts from the last state of the previous one, so the forward computation is exactly that of
# the whole sequence. But it is **detached** (`h.detach()`: the same numbers, no history), so the backward
# pass stops at the chunk boundary. That is all truncation is.
#
#     steps:   1 2 3 4 | 5 6 7 8 | 9 10 11 12        k = 4
#     state:   h0 ---> h4 ------> h8 ------->        carried across the boundaries
#     gradient:  <---- |   <----  |   <-----         stops at each boundary

# %%
rng = np.random.default_rng(0)
T, k = 12, 4
model = rnn.ElmanRNN(n_in=2, n_hidden=6, n_out=2, seed=0)
xs, ys = rng.standard_normal((T, 2)), rng.standard_normal((T, 2))

by_hand = []
h = model.initial_state()
for start in range(0, T, k):
    with mg.Tape():
        h = h.detach()  # carry the value, drop the history: gradient stops here
        chunk_loss = None
        for t in range(start, start + k):
            h, y_hat = model.step(xs[t], h)
            chunk_loss = step_loss(y_hat, ys[t]) if chunk_loss is None else chunk_loss + step_loss(y_hat, ys[t])
        model.zero_grad()
        chunk_loss.backward()
    by_hand.append({name: p.grad.copy() for name, p in model.named_parameters()})
model.zero_grad()

by_library = rnn.gradients(model, xs, ys, rnn.Chunked(k))  # one {name: gradient} per update
print(f"{len(by_hand)} updates by hand, {len(by_library)} by rnn.Chunked({k})")
print("largest difference:", largest_difference(by_hand, by_library))
assert largest_difference(by_hand, by_library) < 1e-12

# %% [markdown]
# The library does the same with a *plan*: for every step, the factor on the recurrent edge $h_{t-1} \to h_t$
# (1 passes, 0 is a cut) and the list of updates, each with the losses it uses and the state it reaches back
# to. All updates are computed at the same weights here (`rnn.gradients` never changes the model); when
# training, each update changes the weights before the next chunk runs.

# %%
plan = rnn.Chunked(k).plan(T)
print("edge factors for t = 1..12:", plan.edges[1:])
for u in plan.updates:
    print(f"update after step {u.t}: losses l_{u.first}..l_{u.t}, back to h_{u.reach}")

# %% [markdown]
# ## 2. TBPTT$(k_1, k_2)$
#
# Chunks have a flaw: the loss at the start of a chunk is backpropagated through one step only, the loss
# at its end through $k$. Williams and Peng's TBPTT$(k_1, k_2)$ separates *how often* we update ($k_1$) from
# *how far back* we go ($k_2 \ge k_1$). Sutskever (2013, p. 23) writes it as
#
#     for t from 1 to T:
#         run the RNN for one step, computing h_t and y_hat_t
#         if t divides by k1:
#             run BPTT from t down to t - k2 + 1
#             update the weights
#
# "BPTT from $t$ down to $t - k_2 + 1$" backpropagates the losses since the last update,
# $l_{t-k_1+1}, \dots, l_t$, through the last $k_2$ steps, so $h_{t-k_2}$ is treated as a constant. The windows
# of successive updates overlap when $k_2 > k_1$. Below, by hand: keep the states, and for each update
# rerun the last $k_2$ steps on a fresh tape from the stored $h_{t-k_2}$, detached.

# %%
k1, k2 = 3, 5
with mg.no_grad():  # the forward pass, once: h_0 .. h_T as plain values
    states = [model.initial_state()]
    for t in range(T):
        states.append(model.step(xs[t], states[-1])[0])

by_hand = []
for t in range(k1, T + 1, k1):  # an update every k1 steps
    first_loss, reach = t - k1 + 1, max(t - k2, 0)
    with mg.Tape():
        h = states[reach].detach()  # h_{t-k2}: a constant, so backward stops there
        window_loss = None
        for s in range(reach + 1, t + 1):  # rerun steps t-k2+1 .. t
            h, y_hat = model.step(xs[s - 1], h)
            if s >= first_loss:  # only the losses since the last update
                window_loss = step_loss(y_hat, ys[s - 1]) if window_loss is None else window_loss + step_loss(
                    y_hat, ys[s - 1])
        model.zero_grad()
        window_loss.backward()
    by_hand.append({name: p.grad.copy() for name, p in model.named_parameters()})
model.zero_grad()

by_library = rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2))
print(f"TBPTT({k1}, {k2}): {len(by_hand)} updates; largest difference to the library:",
      largest_difference(by_hand, by_library))
assert largest_difference(by_hand, by_library) < 1e-12

# %% [markdown]
# The library does not rerun the steps: it keeps the last $k_2$ steps on the tape and cuts older nodes off
# (`tape.cut`), which frees their memory. Same gradients, less work.
#
# ## 3. The truncated sum for $\partial L/\partial A$
#
# $A$ is used at every step, so $l_t$ depends on $A$ through every $\mathrm{pre}_s$, $s \le t$. Write
# $\delta^{(t)}_s = \partial l_t / \partial\, \mathrm{pre}_s$ for the gradient of one loss at one step. The
# chain rule, step by step backwards from $s = t$:
#
# $$\frac{\partial l_t}{\partial h_t} = C^\top \big(g'(q_t) \odot (\hat y_t - y_t)\big), \qquad
#   \delta^{(t)}_s = f'(\mathrm{pre}_s) \odot \frac{\partial l_t}{\partial h_s}, \qquad
#   \frac{\partial l_t}{\partial h_{s-1}} = A^\top \delta^{(t)}_s ,$$
#
# and $A$ enters $\mathrm{pre}_s$ through $A h_{s-1}$, which contributes $\delta^{(t)}_s h_{s-1}^\top$. So
#
# $$\frac{\partial L}{\partial A} = \sum_{t=1}^{T} \sum_{s=1}^{t} \delta^{(t)}_s\, h_{s-1}^\top
#   \qquad\text{(full)}, \qquad\qquad
#   \frac{\partial L}{\partial A} \approx \sum_{t=1}^{T} \sum_{s=\max(1,\, t-k+1)}^{t} \delta^{(t)}_s\, h_{s-1}^\top
#   \qquad\text{(truncated at } k\text{)}.$$
#
# The truncated sum keeps, for each loss, the last $k$ steps. The terms it drops have lag $t - s \ge k$: their
# $\delta^{(t)}_s$ went through at least $k$ Jacobians $\mathrm{diag}(f')A$, which (tutorial 3) makes them
# small when gradients vanish. This is exactly TBPTT$(1, k)$, an update after every step reaching $k$ steps
# back, with all its updates added up. `rnn.manual.elman_bptt(..., k=k)` is the sum in plain numpy; we
# compare it with the engine's TBPTT$(1, k)$ updates, summed.

# %%
w = {name: p.data for name, p in model.named_parameters()}
full_by_hand = manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, f="tanh", g="identity")
for k in (1, 3, 6):
    truncated_by_hand = manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, f="tanh", g="identity", k=k)
    on_engine = analysis.summed_gradient(model, xs, ys, rnn.TBPTT(1, k))
    difference = max(np.abs(truncated_by_hand[name] - on_engine[name]).max() for name in "ABC")
    dropped = np.linalg.norm(full_by_hand["A"] - truncated_by_hand["A"]) / np.linalg.norm(full_by_hand["A"])
    print(f"k = {k}: hand vs engine {difference:.1e};  ||dL/dA dropped|| / ||dL/dA|| = {dropped:.2e}")
    assert difference < 1e-12
every_term = manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, f="tanh", g="identity", k=T)
print(f"k = T = {T}: max |truncated - full| = {np.abs(every_term['A'] - full_by_hand['A']).max():.1e}")
assert np.abs(every_term["A"] - full_by_hand["A"]).max() < 1e-14, "k = T keeps every term: the full gradient"

# %% [markdown]
# ## 4. The windows, drawn
#
# `rnn.unroll` records the graph a strategy builds (with its stop-gradient nodes) and `rnn.viz.compact`
# draws it: one column per step. A dashed red edge is a stop-gradient: gradient cannot cross it. A coloured
# tag "W$i$" in a step says that update $i$'s gradient flows through that step; the "update $i$" notes say
# which losses each update uses and how far back it reaches. First Chunked(4): three windows side by side.

# %%
show(rnn.viz.compact(rnn.unroll(model, xs, ys, rnn.Chunked(4))))

# %% [markdown]
# Then TBPTT(3, 5): an update every 3 steps, each reaching 5 steps back. There is no cut on the graph (the
# state is carried and nothing is detached); the windows come from where each update cuts the tape.
# Steps covered by two windows carry two tags: their gradient is computed twice, once per update.

# %%
show(rnn.viz.compact(rnn.unroll(model, xs, ys, rnn.TBPTT(3, 5))))

# %% [markdown]
# ## 5. The bias of the truncated gradient against $k$
#
# How far is the truncated gradient $g_k$ from the full one $g$? Two numbers, over all the weights flattened
# into one vector:
#
# * the **cosine similarity** $\langle g_k, g\rangle / (\lVert g_k\rVert \lVert g\rVert)$: 1 when they point the
#   same way (then a gradient step with $g_k$ still goes downhill);
# * the **relative error** $\lVert g_k - g\rVert / \lVert g\rVert$: 0 when they are equal.
#
# We take a tanh RNN with 16 units, a batch of 8 random sequences of $T = 60$ steps, and compute both for
# Chunked($k$) on the engine (`analysis.truncation_bias`) and for the sum of section 3 (TBPTT(1, $k$),
# with `rnn.manual`, which section 3 showed equals the engine) for every $k$ that divides 60.

# %%
T_BIAS = 60
bias_model = rnn.ElmanRNN(n_in=3, n_hidden=16, n_out=2, seed=0)
xs_bias, ys_bias = rng.standard_normal((T_BIAS, 8, 3)), rng.standard_normal((T_BIAS, 8, 2))
ks = [k for k in range(1, T_BIAS + 1) if T_BIAS % k == 0]

chunked_bias = analysis.truncation_bias(bias_model, xs_bias, ys_bias, [rnn.Chunked(k) for k in ks])
w = {name: p.data for name, p in bias_model.named_parameters()}
full = analysis.flatten(manual.elman_bptt(w["A"], w["B"], w["C"], xs_bias, ys_bias))
per_step = [analysis.flatten(manual.elman_bptt(w["A"], w["B"], w["C"], xs_bias, ys_bias, k=k)) for k in ks]
per_step_cosine = [analysis.cosine_similarity(g, full) for g in per_step]
per_step_error = [analysis.relative_error(g, full) for g in per_step]
chunked_error = [b.relative_error for b in chunked_bias]

print(" k   Chunked(k): cosine  rel. error   TBPTT(1, k): cosine  rel. error")
for k, b, c, e in zip(ks, chunked_bias, per_step_cosine, per_step_error):
    print(f"{k:2d}   {b.cosine:18.5f}  {b.relative_error:10.2e}   {c:19.5f}  {e:10.2e}")
assert np.all(np.diff(per_step_error) < 0), "TBPTT(1, k): the bias shrinks as k grows"
assert np.all(np.diff(chunked_error) < 0), "Chunked(k): the bias shrinks as k grows"
assert per_step_error[-1] < 1e-12 and chunked_error[-1] < 1e-12, "k = T is full BPTT"

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
left.semilogy(ks[:-1], chunked_error[:-1], "o-", label="Chunked(k)")
left.semilogy(ks[:-1], per_step_error[:-1], "s-", label="TBPTT(1, k)")
left.set_xlabel("truncation length k")
left.set_ylabel(r"$\Vert g_k - g\Vert / \Vert g\Vert$ (log scale)")
left.set_title("Relative error to the full gradient (T = 60)")
left.legend()
right.plot(ks, [b.cosine for b in chunked_bias], "o-", label="Chunked(k)")
right.plot(ks, per_step_cosine, "s-", label="TBPTT(1, k)")
right.set_xlabel("truncation length k")
right.set_ylabel("cosine similarity to the full gradient")
right.set_title("Direction of the truncated gradient")
right.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to look at.** Both errors fall as $k$ grows (the point at $k = T$, exactly 0, is left off the log
# plot). TBPTT(1, $k$) falls fast and steadily, on a straight line in the log scale, like the gradient norm
# against lag of tutorial 3: the terms it drops have lag $\ge k$, and those shrink geometrically. Chunked($k$)
# falls slowly: in a chunk the first loss reaches back one step, the last $k$ steps, so on average a loss
# keeps only about $k/2$ steps, and the losses at the start of each chunk lose nearly everything. Even
# where the relative error is large the cosine stays above 0.9: the truncated gradient still points
# downhill here, because with random data most of the gradient comes from short lags. When the task needs a
# long lag, that part is exactly what truncation removes (section 7).
#
# ## 6. Time and memory, measured
#
# `analysis.measure` runs a strategy over a sequence and reports the wall time (the fastest of 5 runs) and
# the tape's own account of its memory: the peak number of bytes saved for backward (`rnn.run(...).peak_bytes`).
# A tanh RNN with 32 units, a batch of 32. First against $k$ on one long sequence, for Chunked($k$) and for
# TBPTT($k/5$, $k$) (an update every $k/5$ steps, so every step is backpropagated five times). Timings on a
# shared machine are noisy; the memory is exact.

# %%
cost_model = rnn.ElmanRNN(n_in=4, n_hidden=32, n_out=4, seed=0)


def cost(strategy, T, repeats=5):
    """Time (fastest of ``repeats`` runs) and peak tape memory of the strategy over T steps of random data."""
    data = np.random.default_rng(T)
    return analysis.measure(cost_model, data.standard_normal((T, 32, 4)), data.standard_normal((T, 32, 4)),
                            strategy, repeats=repeats)


cost(rnn.Full(), 50)  # warm up (the first run loads the compiled kernels)
T_SWEEP = 100 if FAST else 200
k_values = [5, 10, 20, 50, 100] + ([] if FAST else [200])
chunked_costs = [cost(rnn.Chunked(k), T_SWEEP) for k in k_values]
tbptt_costs = [cost(rnn.TBPTT(k // 5, k), T_SWEEP) for k in k_values]
print(f"T = {T_SWEEP}:   k   Chunked: ms/step  peak kB   TBPTT(k/5, k): ms/step  peak kB")
for k, c, b in zip(k_values, chunked_costs, tbptt_costs):
    print(f"          {k:3d}  {1e3 * c.seconds_per_step:14.3f}  {c.peak_bytes / 1e3:8.1f}  "
          f"{1e3 * b.seconds_per_step:22.3f}  {b.peak_bytes / 1e3:8.1f}")
chunked_bytes = np.array([c.peak_bytes for c in chunked_costs])
assert np.all(np.diff(chunked_bytes) > 0), "a longer window holds more on the tape"
per_step_bytes = chunked_bytes / np.array(k_values)
assert per_step_bytes.max() < 1.5 * per_step_bytes.min(), "memory grows in proportion to k"

# %% [markdown]
# Then against $T$ for four strategies: Full, Chunked(20), TBPTT(4, 20), and Checkpointed($\sqrt T$), which
# computes the *full* gradient while storing only every $\sqrt T$-th state and recomputing the rest on the way
# back (its peak also counts the stored states).

# %%
T_values = [100, 200, 400] + ([] if FAST else [800])
strategies_against_T = {
    "Full": lambda T: rnn.Full(),
    "Chunked(20)": lambda T: rnn.Chunked(20),
    "TBPTT(4, 20)": lambda T: rnn.TBPTT(4, 20),
    "Checkpointed(sqrt T)": lambda T: rnn.Checkpointed(round(np.sqrt(T))),
}
costs_against_T = {name: [cost(make(T), T, repeats=1) for T in T_values]  # memory only: one run is exact
                   for name, make in strategies_against_T.items()}
for name, costs in costs_against_T.items():
    print(f"{name:>21}: peak kB " + ", ".join(f"{c.peak_bytes / 1e3:.0f}" for c in costs)
          + f"  for T = {T_values}")
growth = {name: costs[-1].peak_bytes / costs[0].peak_bytes for name, costs in costs_against_T.items()}
ratio = T_values[-1] / T_values[0]
print(f"memory growth from T = {T_values[0]} to {T_values[-1]} (x{ratio:.0f}):",
      {name: round(g, 2) for name, g in growth.items()})
assert 0.8 * ratio < growth["Full"] < 1.2 * ratio, "full BPTT holds the whole sequence: linear in T"
assert growth["Chunked(20)"] == 1.0 and growth["TBPTT(4, 20)"] == 1.0, "a truncated window does not grow with T"
assert growth["Checkpointed(sqrt T)"] < 2 * np.sqrt(ratio), "checkpointing grows like sqrt(T)"

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
axes[0].loglog(k_values, chunked_bytes / 1e3, "o-", label="Chunked(k)")
axes[0].loglog(k_values, [c.peak_bytes / 1e3 for c in tbptt_costs], "s-", label="TBPTT(k/5, k)")
axes[0].set_xlabel("truncation length k")
axes[0].set_ylabel("peak tape (kB, log scale)")
axes[0].set_title(f"Memory against k (T = {T_SWEEP})")
axes[1].semilogx(k_values, [1e3 * c.seconds_per_step for c in chunked_costs], "o-", label="Chunked(k)")
axes[1].semilogx(k_values, [1e3 * c.seconds_per_step for c in tbptt_costs], "s-", label="TBPTT(k/5, k)")
axes[1].set_xlabel("truncation length k")
axes[1].set_ylabel("time per step (ms)")
axes[1].set_ylim(bottom=0)
axes[1].set_title(f"Time against k (T = {T_SWEEP})")
for name, costs in costs_against_T.items():
    axes[2].loglog(T_values, [c.peak_bytes / 1e3 for c in costs], "o-", label=name)
axes[2].set_xlabel("sequence length T")
axes[2].set_ylabel("peak tape (kB, log scale)")
axes[2].set_title("Memory against T")
for ax, ticks in zip(axes, (k_values, k_values, T_values)):
    ax.minorticks_off()
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to look at.** Left: memory grows in proportion to the window $k$ (a straight line of slope 1 in
# the log-log plot), for both strategies. Middle: Chunked($k$) pays about the same per step whatever $k$
# (each step goes forward once and backward once), while TBPTT($k/5$, $k$) pays more: each step is
# backpropagated $k_2/k_1 = 5$ times, and for short windows it updates after every step or two, and every
# update has a fixed cost (cutting the tape, starting a backward pass). Right: full BPTT's
# memory grows in proportion to $T$, the truncated strategies' memory does not grow at all, and
# checkpointing grows like $\sqrt T$ while still giving the exact full gradient. (On a busy machine a single
# timing can jump up; the memory numbers are exact and never do.)
#
# ## 7. The trade-off table, measured
#
# Speed and memory are half the story; the other half is what the network can *learn*. The echo task: the
# input is a random symbol (one of 4, one-hot) at every step, and the target is the symbol seen 10 steps
# earlier. Nothing but a memory of 10 steps beats chance (25 %). With truncation at $k < 10$, no loss ever
# sends gradient back to the input it needs.
#
# Every strategy trains the same Elman RNN (32 units, same starting weights) on the same data: 6000 steps,
# in pieces of 40 steps with batch 32, Adam with learning rate 0.003, gradients clipped at 1
# (`rnn.compare`, which `python -m rnn.compare` runs). Accuracy is measured on held-out sequences. Time per
# step and peak tape are measured with `analysis.measure` on one training piece.

# %%
STRATEGIES = ["full", "checkpointed:10", "chunked:4", "chunked:16", "tbptt:4,16"]
comparison = compare_strategies(STRATEGIES, task="echo", delay=10, seq_len=40, batch=32, cell="elman", hidden=32,
                                steps=6000, optimizer="adam", lr=0.003, clip=1.0, seed=0)
runs, table, curves = comparison.runs, comparison.table, comparison.curves

piece = next(iter(runs.values())).source.piece(0)
rows = []
for row, (spec, run) in zip(table, runs.items()):
    fresh = rnn.ElmanRNN(n_in=4, n_hidden=32, n_out=4, seed=0)
    measured = analysis.measure(fresh, piece.xs, piece.ys, run.strategy, loss="ce", repeats=15)
    rows.append({"strategy": spec, "ms per step": 1e3 * measured.seconds_per_step,
                 "peak tape kB": measured.peak_bytes / 1e3, "updates per piece": measured.updates,
                 "accuracy": row["metric"]})

print(f"{'strategy':<16}{'ms/step':>9}{'peak tape':>12}{'updates/piece':>15}{'accuracy':>10}")
for r in rows:
    print(f"{r['strategy']:<16}{r['ms per step']:>9.3f}{r['peak tape kB']:>9.1f} kB{r['updates per piece']:>15}"
          f"{r['accuracy']:>10.3f}")
accuracy = {r["strategy"]: r["accuracy"] for r in rows}
assert accuracy["chunked:4"] < 0.5, "windows shorter than the delay do not learn the echo"
assert min(accuracy["full"], accuracy["chunked:16"], accuracy["tbptt:4,16"]) > 0.9, "windows longer than it do"
assert abs(accuracy["full"] - accuracy["checkpointed:10"]) < 0.02, "checkpointing computes the same gradient"

# %% tags=["readme"]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
names = [r["strategy"] for r in rows]
colours = ["tab:blue", "tab:cyan", "tab:red", "tab:green", "tab:olive"]
for ax, key, title in zip(axes, ("ms per step", "peak tape kB", "accuracy"),
                          ("Speed: time per step (ms)", "Memory: peak tape (kB)",
                           "Long-term learning: echo accuracy, delay 10")):
    ax.barh(names, [r[key] for r in rows], color=colours)
    ax.set_title(title)
    ax.invert_yaxis()
    for y, r in enumerate(rows):
        ax.text(r[key], y, f" {r[key]:.3g}", va="center", fontsize=9)
    ax.margins(x=0.25)
axes[2].axvline(0.25, color="grey", linestyle="--", label="chance (0.25)")
axes[2].legend(loc="center right", fontsize=9)
for ax in axes[1:]:
    ax.set_yticklabels([])
fig.suptitle("The trade-off of truncation, measured (Elman RNN, 32 units, batch 32)")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to look at.** Read the table row by row.
#
# * **full**: the exact gradient, one update per piece of 40 steps, the whole piece on the tape.
# * **checkpointed:10**: the same gradient (the same accuracy) with less memory, paid for in time: every step
#   is computed twice.
# * **chunked:4**: the least memory and many updates, but its windows are shorter than the delay of 10:
#   it stays near chance. (What it does learn beyond chance comes from the readout picking up what the
#   untrained recurrent weights happen to carry forward, not from gradient through time.)
# * **chunked:16**: windows longer than the delay: it learns the echo with under half the memory of full BPTT
#   and more frequent updates.
# * **tbptt:4,16**: updates every 4 steps, each reaching 16 back: it learns too, with as many updates as
#   chunked:4, but each step is backpropagated 4 times, so it takes more time per step than chunked:16.
#
# The rule of thumb: the truncation length must cover the dependency the task needs ($k > 10$ here); within
# that, shorter windows buy memory and more frequent updates, and the overlap of TBPTT buys a better
# gradient for the first losses of each window at the price of time.
#
# ## Summary
#
# * Truncation = carry the state, detach it (or cut the tape) so the backward pass stops after $k$ steps.
# * TBPTT$(k_1, k_2)$ updates every $k_1$ steps and reaches back $k_2$; the sum of TBPTT(1, $k$)'s updates is
#   the truncated sum $\sum_t \sum_{s > t-k} \delta^{(t)}_s h_{s-1}^\top$.
# * The bias shrinks as $k$ grows, like the gradient norm against lag.
# * Memory grows with the window, not with $T$; time per step grows with the overlap $k_2/k_1$.
# * A truncation shorter than the task's dependency cannot learn it.
#
# Next, tutorial 5: can we truncate *at random* and still be right on average?
