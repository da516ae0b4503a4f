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
# 3. derive the truncated sum for $\partial L/\partial A$, compute it by hand (`rnn.manual`) and on the
#    engine, and relate it to seed 000's form, one backward pass from $T$ with $k + 1$ terms;
# 4. draw the windows each strategy backpropagates through;
# 5. measure the bias of the truncated gradient against $k$ (cosine similarity, relative error);
# 6. measure time and memory against $k$ and against $T$;
# 7. fill seed 001's trade-off table of truncation (speed, memory, long-term learning, parallelization)
#    with measured numbers, and find where truncation is faster than full BPTT and where it is not.
#
# **What you need.** Tutorial 2 (BPTT for the Elman RNN) and tutorial 3 (gradients vanish over long lags).

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
from rnn.training import compare_strategies

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # shrinks the timing sweeps and trains on one seed instead of three
threadpool_limits(1)  # one BLAS thread: with several, numpy's threads fight over a busy machine's cores


def say(text):
    """Prose whose numbers come from this run: Markdown in a notebook, plain text in a script."""
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


def cpu_seconds(fns, rounds=5):
    """{name: the least CPU time of `rounds` calls of fns[name]()}, the calls taken in turn, in a rotating order.

    CPU time is this process's own time: the machine is shared, and its other work would otherwise count
    against whichever strategy happened to be running. Taking the calls in turn, rather than all of one then
    all of the next, spreads what load remains evenly over them.
    """
    best, names = {name: math.inf for name in fns}, list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            started = time.process_time()
            fns[name]()
            best[name] = min(best[name], time.process_time() - started)
    return best


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
# *how far back* we go ($k_2 \ge k_1$). Seed 000 gives Sutskever's pseudo-code (2013, p. 23) as
#
#     for t from 1 to T:
#         run the RNN for one step, computing h_t and y_hat_t
#         if t divides by k1:
#             run BPTT from t down to t - k2
#             update the weights
#
# "From $t$ down to $t - k_2$" names the states the backward pass visits: it starts at $h_t$ and stops at
# $h_{t-k_2}$, which it treats as a constant, so the steps $t - k_2 + 1, \dots, t$ are backpropagated ($k_2$ of
# them). It backpropagates the losses since the last update, $l_{t-k_1+1}, \dots, l_t$. The windows of
# successive updates overlap when $k_2 > k_1$. Below, by hand: keep the states, and for each update rerun
# the last $k_2$ steps on a fresh tape from the stored $h_{t-k_2}$, detached.

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
assert all(u.reach == max(u.t - k2, 0) for u in rnn.TBPTT(k1, k2).plan(T).updates)  # stops at h_{t-k2}

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
    assert dropped > 1e-6  # with k < T something is always dropped
every_term = manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, f="tanh", g="identity", k=T)
print(f"k = T = {T}: max |truncated - full| = {np.abs(every_term['A'] - full_by_hand['A']).max():.1e}")
assert np.abs(every_term["A"] - full_by_hand["A"]).max() < 1e-14, "k = T keeps every term: the full gradient"

# %% [markdown]
# ### Seed 000's form: one backward pass from $T$, $k + 1$ terms
#
# Seed 000 writes the truncated gradient of the loss at time $T$ as one backward pass from $T$,
#
# $$\frac{\partial l_T}{\partial A} \approx \sum_{j=T-k}^{T} \frac{\partial l_T}{\partial h_j}\,
#   \frac{\partial^+ h_j}{\partial A},$$
#
# where $\partial^+ h_j/\partial A$ is the *immediate* derivative: $h_{j-1}$ held fixed, so it is
# $\mathrm{diag}(f'(\mathrm{pre}_j))$ applied to $A$'s use in $A h_{j-1}$, and its product with
# $\partial l_T/\partial h_j$ is $\delta^{(T)}_j h_{j-1}^\top$. The two forms count differently: seed 000's
# sum runs over $j = T-k, \dots, T$, **$k + 1$ terms** (lags $0..k$); the sum above, truncated "at $k$", keeps
# $k$ terms per loss (lags $0..k-1$). So seed 000's truncation at $k$ is ours at $k + 1$, and doing its backward
# pass once for every $T$ and adding up gives the per-loss sum of section 3 with $k + 1$. Both checked: seed
# 000's sum by hand for the last loss against the engine running a plan written by hand (`rnn.Fixed`: one
# update after step $T$ reaching back to $h_{T-k-1}$, on targets that are NaN, "no loss", except at $T$), and the sum over every loss
# against `rnn.manual.elman_bptt(..., k=k+1)`.

# %%
k = 3
forward = manual.elman_forward(w["A"], w["B"], w["C"], xs, f="tanh", g="identity")
h_all = forward["h"]  # h_0 .. h_T


def seed_000(T_loss, k):
    """d l_{T_loss} / dA by one backward pass from T_loss, with the k + 1 terms j = T_loss - k .. T_loss."""
    dl_dh = w["C"].T @ (forward["y_hat"][T_loss - 1] - ys[T_loss - 1])  # dl/dh_T, g = identity
    total = np.zeros_like(w["A"])
    for j in range(T_loss, max(T_loss - k, 1) - 1, -1):
        delta = (1 - h_all[j] ** 2) * dl_dh  # dl/dpre_j = (dl/dh_j) (d+ h_j / d pre_j)
        total += np.outer(delta, h_all[j - 1])  # times d+ pre_j / dA: h_{j-1} held fixed
        dl_dh = w["A"].T @ delta  # one step further back
    return total


# one update after step T reaching back to h_{T-k-1}, a plan written by hand; the only target is at T
one_backward = rnn.Plan(T, (1.0,) * (T + 1), (rnn.Update(t=T, first=1, reach=T - k - 1),))
only_last = np.full_like(ys, np.nan)  # NaN: no target, no loss
only_last[-1] = ys[-1]
engine_last = rnn.gradients(model, xs, only_last, rnn.Fixed(one_backward))[0]["A"]
summed = sum(seed_000(t, k) for t in range(1, T + 1))
per_loss = manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, f="tanh", g="identity", k=k + 1)["A"]
print(f"seed 000, l_T with k = {k} ({k + 1} terms) vs the engine, l_T back to h_{T - k - 1}: "
      f"{np.abs(seed_000(T, k) - engine_last).max():.1e}")
print(f"sum over every loss vs rnn.manual.elman_bptt(k = {k + 1}): {np.abs(summed - per_loss).max():.1e};  "
      f"vs k = {k}: {np.abs(summed - manual.elman_bptt(w['A'], w['B'], w['C'], xs, ys, k=k)['A']).max():.1e}")
assert np.abs(seed_000(T, k) - engine_last).max() < 1e-12
assert np.abs(summed - per_loss).max() < 1e-12
assert np.abs(summed - manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, k=k)["A"]).max() > 1e-6  # off by one

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
w_bias = {name: p.data for name, p in bias_model.named_parameters()}
full = analysis.flatten(manual.elman_bptt(w_bias["A"], w_bias["B"], w_bias["C"], xs_bias, ys_bias))
per_step = [analysis.flatten(manual.elman_bptt(w_bias["A"], w_bias["B"], w_bias["C"], xs_bias, ys_bias, k=k))
            for k in ks]
per_step_cosine = [analysis.cosine_similarity(g, full) for g in per_step]
per_step_error = [analysis.relative_error(g, full) for g in per_step]
chunked_error = [b.relative_error for b in chunked_bias]

print(" k   Chunked(k): cosine  rel. error   TBPTT(1, k): cosine  rel. error")
for k, b, c, e in zip(ks, chunked_bias, per_step_cosine, per_step_error):
    print(f"{k:2d}   {b.cosine:18.5f}  {b.relative_error:10.2e}   {c:19.5f}  {e:10.2e}")
assert np.all(np.diff(per_step_error) < 0), "TBPTT(1, k): the bias shrinks as k grows"
assert np.all(np.diff(chunked_error) < 0), "Chunked(k): the bias shrinks as k grows"
assert per_step_error[-1] < 1e-12 and chunked_error[-1] < 1e-12, "k = T is full BPTT"
assert all(e_c > e_t for e_c, e_t in zip(chunked_error[:-1], per_step_error[:-1])), "chunks lose more"
assert min(b.cosine for b in chunked_bias) > 0.9

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

# %%
say(f"""**What to look at.** Both errors fall as $k$ grows (the point at $k = T$, exactly 0, is left off the log
plot). TBPTT(1, $k$) falls fast and steadily, on a straight line in the log scale, like the gradient norm
against lag of tutorial 3: the terms it drops have lag $\\ge k$, and those shrink geometrically. Chunked($k$)
falls slowly, and is further off than TBPTT(1, $k$) at every $k$: in a chunk the first loss reaches back one
step, the last $k$ steps, so on average a loss keeps only about $k/2$ steps, and the losses at the start of
each chunk lose nearly everything. Even where the relative error is large (up to
{max(chunked_error):.2f}) the cosine stays above {min(b.cosine for b in chunked_bias):.2f}: the truncated gradient
still points downhill here, because with random data most of the gradient comes from short lags. When the
task needs a long lag, that part is exactly what truncation removes (section 7).""")

# %% [markdown]
# ## 6. Time and memory, measured
#
# `cost` below runs a strategy over a sequence with `rnn.run` and reports its time, the least CPU time of 5
# runs with one BLAS thread, and the tape's own account of its memory: the peak number of bytes saved for
# backward (`rnn.run(...).peak_bytes`). A tanh RNN with 32 units, a batch of 32. First against $k$ on one long
# sequence, for Chunked($k$) and for TBPTT($k/5$, $k$) (an update every $k/5$ steps, each reaching $k$ back).

# %%
cost_model = rnn.ElmanRNN(n_in=4, n_hidden=32, n_out=4, seed=0)


def costs(strategies, T, rounds=5):
    """{name: (ms per step, peak tape bytes)} of each strategy over the same T steps of random data."""
    data = np.random.default_rng(T)
    xs_c, ys_c = data.standard_normal((T, 32, 4)), data.standard_normal((T, 32, 4))
    peaks = {name: rnn.run(cost_model, xs_c, ys_c, strategy).peak_bytes for name, strategy in strategies.items()}
    seconds = cpu_seconds({name: (lambda s=strategy: rnn.run(cost_model, xs_c, ys_c, s))
                           for name, strategy in strategies.items()}, rounds) if rounds else {}
    cost_model.zero_grad()
    return {name: (1e3 * seconds.get(name, math.nan) / T, peaks[name]) for name in strategies}


def passes_per_step(strategy, T):
    """How many updates backpropagate through each step, averaged over the steps (from the plan)."""
    covered = rnn.viz.windows(strategy.plan(T))
    return float(np.mean([len(covered[t]) for t in range(1, T + 1)]))


costs({"warm-up": rnn.Full()}, 50, rounds=1)  # the first run loads the compiled kernels
T_SWEEP = 100 if FAST else 200
k_values = [5, 10, 20, 50, 100] + ([] if FAST else [200])
sweep = costs({**{("chunked", k): rnn.Chunked(k) for k in k_values},
               **{("tbptt", k): rnn.TBPTT(k // 5, k) for k in k_values}}, T_SWEEP)
tbptt_passes = [passes_per_step(rnn.TBPTT(k // 5, k), T_SWEEP) for k in k_values]
print(f"T = {T_SWEEP}:   k   Chunked: ms/step  peak kB   TBPTT(k/5, k): ms/step  peak kB  backward passes per step")
for k, n in zip(k_values, tbptt_passes):
    (c_ms, c_bytes), (b_ms, b_bytes) = sweep[("chunked", k)], sweep[("tbptt", k)]
    print(f"          {k:3d}  {c_ms:14.3f}  {c_bytes / 1e3:8.1f}  {b_ms:22.3f}  {b_bytes / 1e3:8.1f}  {n:10.2f}")
chunked_bytes = np.array([sweep[("chunked", k)][1] for k in k_values])
tbptt_bytes = np.array([sweep[("tbptt", k)][1] for k in k_values])
assert np.all(np.diff(chunked_bytes) > 0), "a longer window holds more on the tape"
per_step_bytes = chunked_bytes / np.array(k_values)
assert per_step_bytes.max() < 1.5 * per_step_bytes.min(), "memory grows in proportion to k"
chunked_ms = np.array([sweep[("chunked", k)][0] for k in k_values])
tbptt_ms = np.array([sweep[("tbptt", k)][0] for k in k_values])
long_chunks = chunked_ms[(np.array(k_values) >= 20) & (np.array(k_values) <= 100)]
assert long_chunks.max() < 1.5 * long_chunks.min(), "from k = 20 to 100, about the same per step whatever k"
assert chunked_ms[0] > long_chunks.min(), "short chunks pay each update's fixed cost more often"
assert np.all(tbptt_ms > chunked_ms), "overlapping windows cost more per step"

# %%
say(f"""TBPTT($k/5$, $k$) backpropagates a step up to 5 times (once per window that covers it): over this
sequence of {T_SWEEP} steps {min(tbptt_passes):.2f} to {max(tbptt_passes):.2f} times on average, fewer than 5 because
the last steps of the sequence are covered only by the windows that end there. Chunked($k$) backpropagates
every step exactly once.""")

# %% [markdown]
# Then against $T$ for four strategies: Full, Chunked(20), TBPTT(4, 20), and Checkpointed($\sqrt T$), which
# computes the *full* gradient while storing only every $\sqrt T$-th state and recomputing the rest on the way
# back (its peak also counts the stored states).

# %%
T_values = [100, 200, 400] + ([] if FAST else [800, 1600])
strategies_against_T = {
    "Full": lambda T: rnn.Full(),
    "Chunked(20)": lambda T: rnn.Chunked(20),
    "TBPTT(4, 20)": lambda T: rnn.TBPTT(4, 20),
    "Checkpointed(sqrt T)": lambda T: rnn.Checkpointed(round(np.sqrt(T))),
}
peak_against_T = {name: [costs({name: make(T)}, T, rounds=0)[name][1] for T in T_values]  # memory is exact
                  for name, make in strategies_against_T.items()}
for name, peaks in peak_against_T.items():
    print(f"{name:>21}: peak kB " + ", ".join(f"{b / 1e3:.0f}" for b in peaks) + f"  for T = {T_values}")
slope_in_T = {name: np.polyfit(np.log(T_values), np.log(peaks), 1)[0] for name, peaks in peak_against_T.items()}
print("slope of log memory against log T:", {name: round(s, 2) for name, s in slope_in_T.items()})
assert 0.9 < slope_in_T["Full"] < 1.1, "full BPTT holds the whole sequence: linear in T"
assert all(len(set(peak_against_T[name])) == 1 for name in ("Chunked(20)", "TBPTT(4, 20)")), \
    "a window does not grow with T: the same peak for every T"
assert 0.35 < slope_in_T["Checkpointed(sqrt T)"] < 0.65, "checkpointing grows like sqrt(T)"

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
axes[0].loglog(k_values, chunked_bytes / 1e3, "o-", label="Chunked(k)")
axes[0].loglog(k_values, tbptt_bytes / 1e3, "s-", label="TBPTT(k/5, k)")
axes[0].set_xlabel("truncation length k")
axes[0].set_ylabel("peak tape (kB, log scale)")
axes[0].set_title(f"Memory against k (T = {T_SWEEP})")
axes[1].semilogx(k_values, chunked_ms, "o-", label="Chunked(k)")
axes[1].semilogx(k_values, tbptt_ms, "s-", label="TBPTT(k/5, k)")
axes[1].set_xlabel("truncation length k")
axes[1].set_ylabel("time per step (ms)")
axes[1].set_ylim(bottom=0)
axes[1].set_title(f"CPU time against k (T = {T_SWEEP}, one BLAS thread)")
for name, peaks in peak_against_T.items():
    axes[2].loglog(T_values, np.array(peaks) / 1e3, "o-", label=f"{name}: slope {round(slope_in_T[name], 2) + 0.0:.2f}")
axes[2].set_xlabel("sequence length T")
axes[2].set_ylabel("peak tape (kB, log scale)")
axes[2].set_title("Memory against T")
for ax, ticks in zip(axes, (k_values, k_values, T_values)):
    ax.minorticks_off()
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.legend(fontsize=8)
for ax in (axes[0], axes[2]):  # a tick label at every power of ten and at 2 and 5 times it
    low, high = ax.get_ylim()
    ticks = [m * 10.0 ** e for e in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
             for m in (1, 2, 5) if low <= m * 10.0 ** e <= high]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
fig.tight_layout()
plt.show()

# %%
longest = ("" if k_values[-1] <= 100 else
           f" (at $k = {k_values[-1]}$ a step costs {chunked_ms[-1]:.3f} ms for the same arithmetic, with "
           f"{chunked_bytes[-1] / 1e3:.0f} kB held for one window: a longer window is not always free per step)")
say(f"""**What to look at.** Left: memory grows in proportion to the window $k$ (a straight line of slope 1 in
the log-log plot), for both strategies. Middle: from $k = 20$ to $100$, Chunked($k$) pays about the same per step
whatever $k$ ({long_chunks.min():.3f} to {long_chunks.max():.3f} ms: each step goes forward once and backward once){longest};
shorter chunks pay more ({chunked_ms[0]:.3f} ms at $k = {k_values[0]}$), because every update has a fixed cost
(cutting the tape, starting a backward pass, handing the gradient over) and they update more often.
TBPTT($k/5$, $k$) pays more still ({tbptt_ms.min():.3f} to {tbptt_ms.max():.3f} ms): each step is backpropagated
up to 5 times, and for short windows it updates after every step or two. Right: full BPTT's memory grows in proportion to $T$ (slope
{slope_in_T['Full']:.2f}), the truncated strategies' memory does not grow at all, and checkpointing grows like
$\\sqrt T$ (slope {slope_in_T['Checkpointed(sqrt T)']:.2f}) while still giving the exact full gradient.""")

# %% [markdown]
# ## 7. The trade-off table, measured
#
# Seed 001 sums truncation up in a table: compared with full BPTT it is faster, uses less memory, can be
# parallelised, and cannot learn dependencies longer than its window. Here every row of that table is
# measured. The task is the echo task: the input is a random symbol (one of 4, one-hot) at every step, and the
# target is the symbol seen 10 steps earlier. Nothing but a memory of 10 steps beats chance (25 %). With
# truncation at $k < 10$, no loss ever sends gradient back to the input it needs.
#
# Every strategy trains the same Elman RNN (32 units, same starting weights) on the same data: 6000 steps,
# in pieces of 40 steps with batch 32, Adam with learning rate 0.003, gradients clipped at 1
# (`rnn.training.compare_strategies`, which `python -m rnn.compare` runs), on three seeds of data and weights
# (one in the shrunk lesson).
# Accuracy is measured on held-out sequences.
#
# "Faster" has three meanings, and they disagree:
#
# * **time per step of data**: what it costs to get through the stream once, updates included;
# * **updates per step of data**: how often the weights move;
# * **steps (and seconds) to 90 % accuracy**: what a user waits for.
#
# The first is timed directly: one call of `rnn.fit` (forward, backward, clipping and the Adam steps) on one
# training piece, the least CPU time of 15. The second comes from the plan. The third is read off the learning curves
# (the first evaluation at 90 % held-out accuracy, evaluated every 120 steps) and turned into seconds with the
# first: steps to 90 % times the time per step of data, which leaves out the evaluations and the machine's
# other load.

# %%
STRATEGIES = ["full", "checkpointed:10", "chunked:4", "chunked:16", "tbptt:4,16"]
SEEDS = [0] if FAST else [0, 1, 2]
SETTINGS = {"task": "echo", "delay": 10, "seq_len": 40, "batch": 32, "cell": "elman", "hidden": 32,
            "steps": 6000, "optimizer": "adam", "lr": 0.003, "clip": 1.0}
comparisons = {seed: compare_strategies(STRATEGIES, **SETTINGS, seed=seed) for seed in SEEDS}
runs = comparisons[0].runs
piece = runs["full"].source.piece(0)


def one_piece(spec):
    """A call of rnn.fit on one training piece, from the same starting weights every time it is called."""
    fresh = rnn.training.build(**SETTINGS, seed=0, strategy=spec)
    start = [p.data.copy() for p in fresh.model.parameters()]

    def call():
        for p, value in zip(fresh.model.parameters(), start):
            p.data[...] = value
        rnn.fit(fresh.model, piece.xs, piece.ys, fresh.strategy, fresh.optimizer, loss="ce", clip=1.0)

    return call


seconds_per_piece = cpu_seconds({spec: one_piece(spec) for spec in STRATEGIES}, rounds=15)


def steps_to(curve, level=0.9):
    """The training step of the first evaluation at or above `level` accuracy (None if never)."""
    return next((row["step"] for row in curve if row["metric"] >= level), None)


rows = {}
for spec in STRATEGIES:
    run = runs[spec]
    seconds = seconds_per_piece[spec]
    measured = analysis.measure(run.model, piece.xs, piece.ys, run.strategy, loss="ce", repeats=1)
    plan = run.strategy.plan(len(piece.xs))
    reached = [steps_to(comparisons[seed].curves[spec]) for seed in SEEDS]
    rows[spec] = {
        "ms per step": 1e3 * seconds / len(piece.xs),
        "ms per update": 1e3 * seconds / len(plan.updates),
        "updates per step": len(plan.updates) / len(piece.xs),
        "steps to 90%": None if None in reached else float(np.mean(reached)),
        "each seed": reached,
        "peak tape kB": measured.peak_bytes / 1e3,
        "accuracy": [next(r for r in comparisons[seed].table if r["strategy"] == spec)["metric"] for seed in SEEDS],
        # parallelization: the longest run of backward steps that must follow one another, and how many
        # backward passes each piece splits into (they need only the forward states, not each other)
        "backward chain": max(u.t - u.reach for u in plan.updates) if not plan.checkpoint else len(piece.xs),
        "backward passes": len(plan.updates),
    }
    row = rows[spec]
    row["seconds to 90%"] = None if row["steps to 90%"] is None else row["steps to 90%"] * row["ms per step"] / 1e3
print(f"{'strategy':<16}{'ms/step':>9}{'ms/update':>10}{'upd/step':>9}{'steps to 90%':>22}{'s to 90%':>9}"
      f"{'peak kB':>9}{'accuracy':>20}{'chain':>7}")
for spec, r in rows.items():
    reached = "never" if r["steps to 90%"] is None else f"{r['steps to 90%']:.0f} {r['each seed']}"
    to_90 = "never" if r["seconds to 90%"] is None else f"{r['seconds to 90%']:.2f}"
    print(f"{spec:<16}{r['ms per step']:>9.3f}{r['ms per update']:>10.3f}{r['updates per step']:>9.3f}{reached:>22}"
          f"{to_90:>9}{r['peak tape kB']:>9.1f}{' '.join(f'{a:.3f}' for a in r['accuracy']):>20}"
          f"{r['backward chain']:>7}")

# %% [markdown]
# First the claims that do not depend on timing. Checkpointing computes the same gradient as full BPTT (so
# it learns exactly the same thing): asserted on the gradients themselves, not on the accuracies. Windows
# shorter than the delay never learn the echo; windows longer than it do, on every seed.

# %%
same = rnn.gradients(rnn.ElmanRNN(4, 32, 4, seed=0), piece.xs, piece.ys, rnn.Full(), loss="ce")[0]
checkpointed = rnn.gradients(rnn.ElmanRNN(4, 32, 4, seed=0), piece.xs, piece.ys, rnn.Checkpointed(10), loss="ce")[0]
gap = max(np.abs(same[name] - checkpointed[name]).max() for name in same)
print(f"max |gradient of full - gradient of checkpointed:10| on a training piece: {gap:.1e}")
assert gap < 1e-12
accuracy = {spec: r["accuracy"] for spec, r in rows.items()}
assert max(accuracy["chunked:4"]) < 0.5, "windows shorter than the delay do not learn the echo"
assert min(min(accuracy[s]) for s in ("full", "chunked:16", "tbptt:4,16")) > 0.9, "windows longer than it do"
assert max(abs(a - b) for a, b in zip(accuracy["full"], accuracy["checkpointed:10"])) < 0.01, \
    "the same gradients (round-off apart), so the same training"
peak = {spec: r["peak tape kB"] for spec, r in rows.items()}
assert min(peak, key=peak.get) == "chunked:4"
assert max(peak["chunked:16"], peak["tbptt:4,16"], peak["checkpointed:10"]) < 0.5 * peak["full"]

# %% [markdown]
# Then speed. Per step of data, full BPTT is the cheapest way through the stream here; truncation makes the
# weights move more often, and on this task that gets to 90 % after fewer steps of data. Whether it also gets
# there sooner in seconds depends on what each step costs.

# %%
ms = {spec: r["ms per step"] for spec, r in rows.items()}
to_90 = {spec: r["steps to 90%"] for spec, r in rows.items()}
reached_each = {spec: r["each seed"] for spec, r in rows.items()}
assert ms["checkpointed:10"] > ms["full"] and ms["tbptt:4,16"] > ms["full"], "recomputing and overlap cost time"
assert all(t < f for t, f in zip(reached_each["tbptt:4,16"], reached_each["full"])), "fewer steps, every seed"
assert all(t < f for t, f in zip(reached_each["chunked:16"], reached_each["full"])), "fewer steps, every seed"
seconds_to_90 = {spec: r["seconds to 90%"] for spec, r in rows.items()}
learners = ("full", "chunked:16", "tbptt:4,16")
steps_spread = max(to_90[s] for s in learners) / min(to_90[s] for s in learners)
seconds_spread = max(seconds_to_90[s] for s in learners) / min(seconds_to_90[s] for s in learners)
assert seconds_spread < steps_spread, "the extra updates cost back much of what the fewer steps save"
assert ms["full"] <= 1.1 * min(ms.values()), "full BPTT is the cheapest per step of data (within 10 %)"

# %% tags=["readme"]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
names = list(rows)
colours = ["tab:blue", "tab:cyan", "tab:red", "tab:green", "tab:olive"]
panels = (("ms per step", "Time per step of data (ms)", "{:.3f}"),
          ("steps to 90%", "Steps of data to 90 % accuracy", "{:.0f}"),
          ("peak tape kB", "Memory: peak tape (kB)", "{:.0f}"),
          ("accuracy", "Echo accuracy, delay 10" + (f" (mean of {len(SEEDS)} seeds)" if len(SEEDS) > 1 else ""),
               "{:.2f}"))
for ax, (key, title, fmt) in zip(axes, panels):
    values = [np.mean(rows[n][key]) if rows[n][key] is not None else 0.0 for n in names]
    ax.barh(names, values, color=colours)
    ax.set_title(title, fontsize=10)
    ax.invert_yaxis()
    for y, n in enumerate(names):
        label = "never" if rows[n][key] is None else fmt.format(np.mean(rows[n][key]))
        ax.text(values[y], y, f" {label}", va="center", fontsize=9)
    ax.margins(x=0.3)
axes[3].axvline(0.25, color="grey", linestyle="--", label="chance (0.25)")
axes[3].legend(loc="lower right", fontsize=8)
for ax in axes[1:]:
    ax.set_yticklabels([])
fig.suptitle("The trade-off of truncation, measured (Elman RNN, 32 units, batch 32, one BLAS thread)")
fig.tight_layout()
plt.show()

# %%
r = rows
say(f"""**What to look at.** Read the table row by row, as seed 001 lays it out.

| | full | checkpointed:10 | chunked:4 | chunked:16 | tbptt:4,16 |
|---|---|---|---|---|---|
| **speed**: ms per step of data | {' | '.join(f"{r[s]['ms per step']:.3f}" for s in names)} |
| updates per step of data | {' | '.join(f"{r[s]['updates per step']:.3f}" for s in names)} |
| steps of data to 90 % accuracy | {' | '.join('never' if r[s]['steps to 90%'] is None else f"{r[s]['steps to 90%']:.0f}" for s in names)} |
| seconds to 90 % accuracy | {' | '.join('never' if r[s]['seconds to 90%'] is None else f"{r[s]['seconds to 90%']:.2f}" for s in names)} |
| **memory**: peak tape (kB) | {' | '.join(f"{r[s]['peak tape kB']:.1f}" for s in names)} |
| **parallelization**: longest chain of backward steps | {' | '.join(str(r[s]['backward chain']) for s in names)} |
| independent backward passes per piece of 40 | {' | '.join(str(r[s]['backward passes']) for s in names)} |
| **long-term learning**: accuracy, delay 10 | {' | '.join(' / '.join(f'{a:.2f}' for a in r[s]['accuracy']) for s in names)} |

* **Speed.** Per step of data full BPTT is the cheapest here ({ms['full']:.3f} ms, within 10 % of the least CPU
  time measured): seed 001's "truncation is faster" is not true of the work per step. Chunked(16) does the same
  work per step as full BPTT (each step forward and backward once) plus two more optimizer steps per piece;
  TBPTT(4, 16) backpropagates each step up to four times and updates ten times per piece, and costs
  {ms['tbptt:4,16'] / ms['full']:.1f} times as much per step. Where truncation wins is in updates: chunked:16 moves
  the weights {r['chunked:16']['updates per step'] / r['full']['updates per step']:.0f} times as often per step of data and
  tbptt:4,16 {r['tbptt:4,16']['updates per step'] / r['full']['updates per step']:.0f} times, and on every seed both
  reach 90 % after fewer steps of data than full BPTT ({to_90['chunked:16']:.0f} and {to_90['tbptt:4,16']:.0f} on
  average, against {to_90['full']:.0f}: {steps_spread:.1f} times apart). In CPU seconds the extra updates cost back
  much of that: to 90 %, full {seconds_to_90['full']:.2f} s, chunked:16 {seconds_to_90['chunked:16']:.2f} s,
  tbptt:4,16 {seconds_to_90['tbptt:4,16']:.2f} s, only {seconds_spread:.1f} times apart. The fewer steps count for
  more wherever an update costs little next to a step of data.
* **Memory.** chunked:4 holds the least; chunked:16 and tbptt:4,16 hold {peak['chunked:16'] / peak['full']:.0%} and
  {peak['tbptt:4,16'] / peak['full']:.0%} of full's piece of 40; checkpointed:10 computes exactly full's gradient with
  {peak['checkpointed:10'] / peak['full']:.0%} of its memory, paid in time: every step's forward pass runs twice
  (once to store the checkpoints, once to rebuild each segment for its backward), and here it costs
  {ms['checkpointed:10'] / ms['full']:.1f} times full's time per step.
* **Parallelization.** The forward pass is sequential in every strategy: $h_t$ needs $h_{{t-1}}$. The backward
  pass of full BPTT is one chain through all 40 steps, while a truncated piece splits into independent backward
  passes (each needs only the states of the forward pass, not the other windows), none longer than its window.
  They could run side by side; how much that buys, when the state is *reset* at each boundary, the next cell
  measures.
* **Long-term learning.** chunked:4's windows are shorter than the delay of 10: it stays near chance (what it
  learns beyond chance does not come from gradient through time; lesson 6 measures where it comes from). The
  windows of 16 cover the delay and learn it.

The rule of thumb: the truncation length must cover the dependency the task needs ($k > 10$ here); within
that, shorter windows buy memory and more frequent updates, and the overlap of TBPTT buys a better
gradient for the first losses of each window at the price of time per step.""")

# %% [markdown]
# ### Parallel chunks, measured
#
# With the state *reset* at every chunk boundary (`hidden="reset"`), the chunks of a piece are independent
# sequences: nothing flows between them, forward or backward. So they need not run one after another at all:
# the 10 chunks of 4 steps of a piece of 40 (batch 32) are the same computation as one chunk of 4 steps with a
# batch of 320. Same gradient (the sum of the 10 updates), asserted; the time, measured. This is how
# D2L's "random sampling" of windows trains, and what lesson 7 uses.

# %%
def as_batch(array, k):
    """(T, batch, ...) cut into chunks of k steps, the chunks side by side: (k, T/k * batch, ...)."""
    T, batch = array.shape[:2]
    return array.reshape(T // k, k, batch, *array.shape[2:]).swapaxes(0, 1).reshape(k, (T // k) * batch,
                                                                                      *array.shape[2:])


parallel_model = rnn.ElmanRNN(4, 32, 4, seed=0)
one_after_another = analysis.summed_gradient(parallel_model, piece.xs, piece.ys, rnn.Chunked(4), loss="ce")
resetting = rnn.gradients(parallel_model, piece.xs, piece.ys, rnn.Chunked(4), loss="ce", hidden="reset")
side_by_side = rnn.gradients(parallel_model, as_batch(piece.xs, 4), as_batch(piece.ys, 4), rnn.Full(), loss="ce")[0]
reset_sum = {name: sum(u[name] for u in resetting) for name in side_by_side}
gap = max(np.abs(reset_sum[name] - side_by_side[name]).max() for name in side_by_side)
chunks_xs, chunks_ys = as_batch(piece.xs, 4), as_batch(piece.ys, 4)
timed = cpu_seconds({"serial": lambda: rnn.run(parallel_model, piece.xs, piece.ys, rnn.Chunked(4), loss="ce",
                                               hidden="reset"),
                     "parallel": lambda: rnn.run(parallel_model, chunks_xs, chunks_ys, rnn.Full(), loss="ce")},
                    rounds=15)
serial, parallel = timed["serial"], timed["parallel"]
print(f"reset chunks one after another vs side by side: max |gradient difference| {gap:.1e}; "
      f"{1e3 * serial:.2f} ms against {1e3 * parallel:.2f} ms ({serial / parallel:.1f} times faster)")
assert gap < 1e-12 and parallel < serial
assert max(np.abs(reset_sum[n] - one_after_another[n]).max() for n in reset_sum) > 1e-6  # carrying the state differs

# %%
say(f"""Side by side, the same gradient costs {1e3 * parallel:.2f} ms instead of {1e3 * serial:.2f} ms: {serial / parallel:.1f}
times less, on one core, because one pass over a batch of 320 replaces ten passes over 32 (fewer, larger
products, and a tenth of the nodes on the tape). The price is the state: reset chunks start from $h_0$, so the forward pass no longer carries the
stream across chunk boundaries, and the gradient differs from that of carried chunks (asserted). Lesson 7
compares the two on real text.""")

# %% [markdown]
# ## Summary
#
# * Truncation = carry the state, detach it (or cut the tape) so the backward pass stops after $k$ steps.
# * TBPTT$(k_1, k_2)$ updates every $k_1$ steps and reaches back $k_2$; the sum of TBPTT(1, $k$)'s updates is
#   the truncated sum $\sum_t \sum_{s > t-k} \delta^{(t)}_s h_{s-1}^\top$. Seed 000's one backward pass from
#   $T$ with $k + 1$ terms is that sum's term for $l_T$, with a window of $k + 1$.
# * The bias shrinks as $k$ grows, like the gradient norm against lag.
# * Memory grows with the window, not with $T$; time per step grows with the overlap $k_2/k_1$.
# * Per step of data, full BPTT is the cheapest; truncation wins by updating more often, which on the echo
#   task reaches a target accuracy after fewer steps of data, and in less time when the updates are cheap
#   (chunks) rather than overlapping (TBPTT).
# * A truncation shorter than the task's dependency cannot learn it.
#
# Next, tutorial 5: can we truncate *at random* and still be right on average?
#
# ## Your turn
#
# **Assignment `a3_truncation`** asks you to write `Chunked.plan` and `TBPTT.plan` as policies of the
# engine's driver, and TBPTT as an explicit loop with `tape.cut` whose memory stays bounded. Get it with
# `python -m assignments release my_work/ -a 3`.
#
# A warm-up here: write the plan of TBPTT(2, 3) on $T = 7$ steps as a list of `(t, first, reach)` triples, one
# per update (the last update at $T$ takes the remaining losses). `check_plan` compares it with the
# library's; it accepts the library's own plan and rejects the plan of Chunked(2).

# %%
your_plan = None  # e.g. [(2, 1, 0), ...]


def check_plan(triples, k1=2, k2=3, T=7):
    """True if the triples are the updates of TBPTT(k1, k2) on T steps."""
    return triples is not None and [tuple(t) for t in triples] == [
        (u.t, u.first, u.reach) for u in rnn.TBPTT(k1, k2).plan(T).updates]


assert check_plan([(u.t, u.first, u.reach) for u in rnn.TBPTT(2, 3).plan(7).updates])
assert not check_plan([(u.t, u.first, u.reach) for u in rnn.Chunked(2).plan(7).updates])
print("plan of TBPTT(2, 3): " + ("not tried yet" if your_plan is None
                                 else ("right" if check_plan(your_plan) else "not right yet")))
