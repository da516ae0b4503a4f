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
# # 6. Training with truncation
#
# **What you will learn.** Tutorials 4 and 5 measured what truncation does to *one* gradient. Here we
# train with it and watch what the network learns. We train the same Elman RNN, from the same initial
# weights, on the same data, under
#
# * full BPTT,
# * chunked truncation with chunks **shorter** and **longer** than the task's dependency,
# * TBPTT$(k_1, k_2)$: an update every $k_1$ steps, each reaching $k_2$ steps back,
# * ARTBP: random truncation, reweighted so that the gradient is unbiased,
#
# on two tasks with a known dependency length: the echo task and the adding problem. Then we sweep the
# chunk length to find how much truncation each task can take.
#
# **What you need.** Tutorial 4 (chunks, windows, TBPTT) and tutorial 5 (ARTBP). Training uses
# `rnn.training.compare_strategies`, the code behind `python -m rnn.compare`: every strategy trains a model built from the same seed on the same
# stream of data, so the only difference between two curves is the strategy.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import rnn
from minigrad.viz import show
from rnn import analysis, tasks, training
from rnn import viz as rnn_viz

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # shrinks the chunk-length sweep only


def train(config, specs):
    """Train one model per strategy spec ("full", "chunked:4", "tbptt:4,16", "artbp:0.1") on the same data.

    Returns {spec: final row} and {spec: learning curve}; a row has the training step, the loss and the
    task metric measured on a held-out batch.
    """
    comparison = training.compare_strategies(specs, **config)
    return {row["strategy"]: row for row in comparison.table}, comparison.curves


# %% [markdown]
# ## The echo task
#
# At every step the input is one of 4 symbols, drawn at random; the target is the symbol that was input
# `delay` steps ago. The symbols are independent, so nothing but a memory of the input exactly `delay`
# steps back does better than guessing, which is right 1 time in 4 (chance accuracy 0.25). The *dependency
# length* of the task is the delay: $D = 8$ here.

# %%
DELAY = 8
example = tasks.echo(T=14, delay=DELAY, seed=0)
print("input symbol: ", " ".join(str(s) for s in example.xs[:, 0].argmax(axis=1)))
print("target:       ", " ".join("." if y < 0 else str(y) for y in example.ys[:, 0]), "  (. = no target yet)")
print("dependency length:", example.dependency)

# %% [markdown]
# ## Why a short chunk cannot learn it
#
# Chunked truncation with chunk length $k$ makes an update every $k$ steps and cuts the recurrent edge at
# every chunk boundary. The loss $l_t$ therefore sends gradient back at most to the start of its own chunk,
# fewer than $k$ steps. Its target is the input at $t - D$: when $k \le D$, that input always lies in an
# earlier chunk, behind a cut. Here is `Chunked(4)` on 12 steps: the red dashed edges are the cuts.

# %%
echo_12 = tasks.echo(T=12, delay=DELAY, seed=0)
small_model = rnn.ElmanRNN(echo_12.n_in, 3, echo_12.n_out, seed=0)
show(rnn_viz.compact(rnn.unroll(small_model, echo_12.xs, echo_12.ys, rnn.Chunked(4), loss="ce")))

# %% [markdown]
# The loss $l_{12}$ needs $x_4$. The engine agrees: `rnn.analysis.state_grads(..., last_only=True)`
# backpropagates $l_{12}$ alone through the graph each strategy builds and returns
# $\partial l_{12}/\partial h_t$ for every $t$. Under `Chunked(4)` only $h_9 \dots h_{12}$ receive any
# gradient, so nothing tells the weights how $h_4$ should have stored $x_4$; under `Chunked(12)` (one chunk:
# full BPTT on these 12 steps) gradient reaches all the way back.

# %%
for k in (4, 12):
    grads = analysis.state_grads(small_model, echo_12.xs, echo_12.ys, loss="ce", last_only=True,
                                 strategy=rnn.Chunked(k))
    reached = [t for t in range(1, 13) if np.any(grads[t - 1] != 0)]
    print(f"Chunked({k:2d}): l_12 sends gradient to h_t for t = {reached}")
    assert (12 - DELAY in reached) == (k > DELAY)

# %% [markdown]
# ## Training on the echo task
#
# Five strategies, each on 8,000 time steps: pieces of 32 steps, a batch of 32 sequences, Adam with learning
# rate 0.005, gradient norm clipped at 1. The accuracy is measured on a held-out batch that no model trains
# on, at the steps where a target exists.

# %%
# the run's settings (the keyword arguments of rnn.training.build, as `python -m rnn.compare` takes them)
ECHO = {"task": "echo", "delay": DELAY, "seq_len": 32, "batch": 32, "cell": "elman", "hidden": 32,
        "steps": 8000, "optimizer": "adam", "lr": 0.005, "clip": 1.0, "seed": 0}
ECHO_STRATEGIES = ["full", "chunked:4", "chunked:16", "tbptt:4,16", "artbp:0.1"]
SWEEP = [2, 4, 8, 9, 12, 16] if FAST else [2, 4, 6, 8, 9, 10, 12, 16]

echo_final, echo_curves = train(ECHO, ECHO_STRATEGIES + [f"chunked:{k}" for k in SWEEP if k not in (4, 16)])
for spec in ECHO_STRATEGIES:
    row = echo_final[spec]
    print(f"{spec:<12} held-out accuracy {row['metric']:.3f}   {row['seconds']:.1f} s")

# %% [markdown]
# The learning curves, side by side. Full BPTT, the long chunk (16 > 8), TBPTT(4, 16) (updates as often as
# the short chunk, but each reaches 16 steps back) and ARTBP all climb to an accuracy near 1.
#
# The short chunk (4 < 8) is the orange curve. Look at its start: it rises to about 0.6 in the first few
# hundred steps, then *falls* back towards chance. The likely reason: early on, the readout learns to use
# whatever memory of the inputs the random initial recurrent weights happen to carry; but no update ever
# rewards remembering 8 steps back, so as training goes on that accidental memory is worn away. Truncation
# does not merely fail to learn the echo here; it trains the network away from it.

# %%
chance = 1 / example.n_out


def plot_echo(ax):
    """The echo learning curves: held-out accuracy against training step."""
    for spec in ECHO_STRATEGIES:
        rows = echo_curves[spec]
        ax.plot([r["step"] for r in rows], [r["metric"] for r in rows], label=spec, linewidth=2)
    ax.axhline(chance, color="grey", linestyle=":", label="chance (0.25)")
    ax.set(xlabel="training step", ylabel="held-out accuracy", ylim=(0, 1.05),
           title=f"echo, delay {DELAY}: learning curves")
    ax.legend(fontsize=8, loc="lower right", ncol=2)
    ax.grid(alpha=0.3)


fig, ax = plt.subplots(figsize=(7, 4))
plot_echo(ax)
plt.show()

# %%
assert echo_final["chunked:4"]["metric"] < 0.5, echo_final["chunked:4"]
for spec in ("full", "chunked:16", "tbptt:4,16", "artbp:0.1"):
    assert echo_final[spec]["metric"] > 0.9, (spec, echo_final[spec])

# %% [markdown]
# ## How long must the chunks be?
#
# Now vary the chunk length $k$ alone. The argument above predicts a threshold: with $k \le D$ no loss ever
# reaches its input, with $k \ge D + 1$ the loss at the end of each chunk does. (Only the last $k - D$ steps
# of each chunk see their inputs, but that is enough: once the network has learned to remember, it echoes
# at every step, because the forward pass carries the state across chunks.)

# %%
def plot_sweep(ax):
    """Held-out accuracy against chunk length, with the delay marked."""
    accuracy = [echo_final[f"chunked:{k}"]["metric"] for k in SWEEP]
    ax.plot(SWEEP, accuracy, "o-", color="tab:purple", linewidth=2, label="chunked: accuracy after training")
    ax.axvline(DELAY + 0.5, color="tab:red", linestyle="--", label=f"between k = delay = {DELAY} and k = {DELAY + 1}")
    ax.axhline(chance, color="grey", linestyle=":", label="chance")
    ax.set(xlabel="chunk length k", ylabel="held-out accuracy", ylim=(0, 1.05), xticks=SWEEP,
           title="echo: how long must the chunks be?")
    ax.legend(fontsize=8, loc="center right")
    ax.grid(alpha=0.3)


fig, ax = plt.subplots(figsize=(7, 4))
plot_sweep(ax)
plt.show()

for k in SWEEP:
    print(f"k = {k:2d}: accuracy {echo_final[f'chunked:{k}']['metric']:.3f}")
    if k <= DELAY:
        assert echo_final[f"chunked:{k}"]["metric"] < 0.5, (k, echo_final[f"chunked:{k}"])
    else:
        assert echo_final[f"chunked:{k}"]["metric"] > 0.7, (k, echo_final[f"chunked:{k}"])

# %% [markdown]
# The jump sits exactly where the argument put it, between $k = D$ and $k = D + 1$. At $k = D + 1$ only one
# step per chunk links a loss to its input, and learning is a little slower; from there on, the longer the
# chunk, the more losses per update see their input.
#
# ## The adding problem
#
# Each sequence has two channels: a number drawn uniformly in $[0, 1]$ at every step, and a marker that is 1
# at exactly two steps, one in the first half and one in the second. The only target is at the last step:
# the sum of the two marked numbers. The first marked number must be carried to the end, so the dependency
# is at least half the sequence. The metric is the mean squared error on a held-out batch. Two reference
# levels help to read it:
#
# * always answering 1 (the mean of the sum) gives $\operatorname{Var}(u_1 + u_2) = 1/6 \approx 0.167$;
# * knowing the second number but not the first gives $\operatorname{Var}(u_1) = 1/12 \approx 0.083$.
#
# So an error well below $1/12$ means the network carries the first number across the sequence.

# %%
adding_example = tasks.adding(T=10, seed=0)
print("numbers:", np.round(adding_example.xs[:, 0, 0], 2))
print("markers:", adding_example.xs[:, 0, 1].astype(int))
print("target at the last step:", np.round(adding_example.ys[-1, 0, 0], 3), "  dependency:", adding_example.dependency)

# %% [markdown]
# Sequences of 10 steps, so the dependency is between 5 and 9 steps: a chunk "longer than the dependency"
# would be the whole sequence, which is full BPTT. The strategies: full, chunks of 2 and 5 (both shorter than
# every dependency: the last chunk never contains the first marked number), TBPTT(5, 10) and ARTBP; 20,000
# steps each. (The only loss is at the last step, so TBPTT(5, 10)'s update at step 10 is exactly the full
# gradient, and its update at step 5 has no loss to send back: $k_2$, not $k_1$, decides what it can learn.)

# %%
ADDING = {**ECHO, "task": "adding", "seq_len": 10, "steps": 20000}
ADDING_STRATEGIES = ["full", "chunked:2", "chunked:5", "tbptt:5,10", "artbp:0.1"]
SMOOTHING = 5  # the held-out batch is small, so each evaluation is noisy: average the last few


def last_evaluations(rows, n=SMOOTHING):
    """The mean held-out metric over the last n evaluations (one evaluation is noisy)."""
    return float(np.mean([r["metric"] for r in rows[-n:]]))


adding_final, adding_curves = train(ADDING, ADDING_STRATEGIES)
adding_mse = {spec: last_evaluations(adding_curves[spec]) for spec in ADDING_STRATEGIES}
for spec in ADDING_STRATEGIES:
    print(f"{spec:<12} held-out mse (mean of the last {SMOOTHING} evaluations) {adding_mse[spec]:.4f}"
          f"   {adding_final[spec]['seconds']:.1f} s")


# %%
def plot_adding(ax):
    """The adding-problem learning curves: held-out mse (moving average) against training step, log scale."""
    window = np.ones(SMOOTHING) / SMOOTHING
    for spec in ADDING_STRATEGIES:
        rows = adding_curves[spec]
        steps = [r["step"] for r in rows][SMOOTHING - 1:]
        ax.plot(steps, np.convolve([r["metric"] for r in rows], window, mode="valid"), label=spec, linewidth=2)
    ax.axhline(1 / 6, color="grey", linestyle=":", label="answer 1 always (1/6)")
    ax.axhline(1 / 12, color="black", linestyle="--", label="second number only (1/12)")
    ax.set(xlabel="training step", ylabel=f"held-out mse, mean of {SMOOTHING} evaluations",
           yscale="log", ylim=(5e-4, 0.3), title="adding, 10 steps: learning curves")
    ax.legend(fontsize=8, loc="lower left", ncol=2)
    ax.grid(alpha=0.3, which="both")


fig, ax = plt.subplots(figsize=(7, 4))
plot_adding(ax)
plt.show()

# %% [markdown]
# A surprise, compared with the echo: chunks of 5 steps, which never send gradient from the answer back to the
# first marked number, end far below $1/12$, about as low as TBPTT and ARTBP: the network carries the first
# number anyway. Chunks of 2 learn more slowly and end between the two reference lines, having learned part of
# it. Full BPTT ends lowest. So truncation costs something here, but it does not stop learning. This is not
# luck of the seed: averaged over the last 5 evaluations, with seeds 0 to 6, full BPTT ended between 0.006 and
# 0.012, chunks of 5 between 0.008 and 0.031, chunks of 2 between 0.031 and 0.065, always above full BPTT.
#
# One way to see the difference. To add, the network must *write* the first number into its state and then
# *keep* it. Keeping is the same operation at every step, done by the same matrix $A$: a window of 2 steps
# already rewards keeping the state for 2 steps, and a state kept for 2 steps by a fixed map is kept for 10.
# The echo needs each symbol to arrive at the output exactly $D$ steps later, among $D$ other symbols in
# flight; a window shorter than $D$ never contains both ends of that route, so nothing rewards building it.
# The dependency length tells you when the *exact* gradient is out of reach; whether the task is then out of
# reach depends on how its solution is built.

# %%
for spec in ("full", "chunked:5"):  # both carry the first number: far below 1/12
    assert adding_mse[spec] < 1 / 24, (spec, adding_mse)
assert adding_mse["chunked:2"] < 1 / 12, adding_mse  # part of it
assert adding_mse["full"] < adding_mse["chunked:2"], adding_mse

# %% [markdown]
# ## Summary: both tasks side by side

# %% tags=["readme"]
fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.2))
plot_echo(left)
plot_sweep(middle)
plot_adding(right)
fig.suptitle("Training an Elman RNN under truncation: same data, same initial weights, one curve per strategy")
fig.tight_layout()
plt.show()

# %% [markdown]
# * A chunk shorter than the echo's delay cuts every loss off from its input: the echo stays near chance.
#   One step longer than the delay and it is learned. The truncation length a task needs is its dependency
#   length plus one, when the solution has to be discovered across the whole span.
# * TBPTT$(k_1, k_2)$ decouples the two jobs of the chunk length: update often ($k_1 = 4$) but look far back
#   ($k_2 = 16 > D$). It learns the echo like full BPTT.
# * ARTBP cuts at random but reweights what it keeps, so its gradient is right on average and reaches any
#   lag with some probability: it learns the echo too, with noisier updates.
# * On the adding problem even chunks shorter than the dependency learn, more slowly or less well: a solution
#   that only has to *keep* a value can be found through short windows. Measure before you conclude that a
#   truncation is too short.
