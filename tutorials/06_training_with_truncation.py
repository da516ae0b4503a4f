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
# on two tasks with a known dependency length: the echo task and the adding problem. We look inside the
# network to see what a too-short window does to its memory, sweep the chunk length to find how much
# truncation each task can take, and find out why two strategies that compute the same gradient can
# still train differently.
#
# **What you need.** Tutorial 4 (chunks, windows, TBPTT) and tutorial 5 (ARTBP). Training uses
# `rnn.training`, the code behind `python -m rnn.compare`: every strategy trains a model built from the same
# seed on the same stream of data, so the only difference between two curves is the strategy.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Markdown, display
from threadpoolctl import threadpool_limits

import minigrad as mg
import rnn
from minigrad.viz import show
from rnn import analysis, tasks, training
from rnn import viz as rnn_viz

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # a shorter chunk-length sweep, one seed on the adding problem
threadpool_limits(1)  # one BLAS thread, as in every lesson


def say(text):
    """Prose whose numbers come from this run: Markdown in a notebook, plain text in a script."""
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


def train(config, specs, on_piece=None):
    """Train one model per strategy spec ("full", "chunked:4", "tbptt:4,16", "artbp:0.1") on the same data.

    Returns {spec: final row}, {spec: learning curve} and {spec: run}; a row has the training step, the loss
    and the task metric measured on a held-out batch. ``on_piece(spec, run, progress)`` runs after every piece.
    """
    runs = training.build_runs(specs, **config)
    hook = None if on_piece is None else (lambda spec, progress: on_piece(spec, runs[spec], progress))
    comparison = training.train_runs(runs, on_piece=hook)
    return {row["strategy"]: row for row in comparison.table}, comparison.curves, runs


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
# on, at the steps where a target exists. While they train, we keep a copy of the weights of full BPTT and of
# Chunked(4) every 800 steps, to look inside them afterwards.

# %%
# the run's settings (the keyword arguments of rnn.training.build, as `python -m rnn.compare` takes them)
ECHO = {"task": "echo", "delay": DELAY, "seq_len": 32, "batch": 32, "cell": "elman", "hidden": 32,
        "steps": 8000, "optimizer": "adam", "lr": 0.005, "clip": 1.0, "seed": 0}
ECHO_STRATEGIES = ["full", "chunked:4", "chunked:16", "tbptt:4,16", "artbp:0.1"]
SWEEP = [2, 4, 8, 9, 12, 16] if FAST else [2, 4, 6, 8, 9, 10, 12, 16]
SNAPSHOT_EVERY = 800
snapshots = {"full": [], "chunked:4": []}  # spec -> [(step, weights)]


def keep_weights(spec, run, progress):
    """Copy the weights at the start and every SNAPSHOT_EVERY steps, for full BPTT and Chunked(4)."""
    if spec in snapshots and (progress.step == ECHO["seq_len"] or progress.step % SNAPSHOT_EVERY == 0):
        snapshots[spec].append((progress.step, [p.data.copy() for p in run.model.parameters()]))


echo_final, echo_curves, echo_runs = train(ECHO, ECHO_STRATEGIES + [f"chunked:{k}" for k in SWEEP if k not in (4, 16)],
                                           on_piece=keep_weights)
for spec in ECHO_STRATEGIES:
    print(f"{spec:<12} held-out accuracy {echo_final[spec]['metric']:.3f}")

# %% [markdown]
# The learning curves, side by side. Full BPTT, the long chunk (16 > 8), TBPTT(4, 16) (updates as often as
# the short chunk, but each reaches 16 steps back) and ARTBP all climb to an accuracy near 1.

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
short = [r["metric"] for r in echo_curves["chunked:4"]]
peak_step = echo_curves["chunked:4"][int(np.argmax(short))]["step"]
assert max(short) > short[-1] + 0.1, "the short chunk rises first, then falls back"

# %%
say(f"""The short chunk (4 < 8) is the orange curve. Look at its start: it rises to {max(short):.2f} by step
{peak_step}, then *falls* back towards chance, to {short[-1]:.2f} at the end. Truncation does not merely fail to
learn the echo here; it trains the network away from it. Why? The next section looks inside.""")

# %% [markdown]
# ## What a too-short window does to the memory
#
# A hypothesis: the random initial recurrent weights ($A$ starts orthogonal, so the state keeps much of what
# went in) happen to carry a memory of the inputs, and early on the readout learns to use it; but no update of
# Chunked(4) ever rewards remembering 8 steps back, so as training goes on that accidental memory is worn away.
#
# Measured with a *probe*: how well the input of 8 steps ago can be read off the hidden state by the best
# linear readout. For each saved copy of the weights we run the network over held-out sequences, fit a linear
# map from $h_t$ to the symbol $x_{t-8}$ (least squares on one batch of sequences) and measure its accuracy on
# another. The probe asks what the state *holds*, whatever the network's own readout does with it.

# %%
PROBE_FIT = tasks.echo(T=200, delay=DELAY, batch=64, seed=101)
PROBE_TEST = tasks.echo(T=200, delay=DELAY, batch=64, seed=102)
WARM_UP = 20  # steps skipped at the start of each probe sequence (the state is still filling up)


def hidden_states(model, task):
    """h_1..h_T of the model over the task's inputs: (T, batch, n_hidden), no tape."""
    states = []
    with mg.no_grad():
        h = model.initial_state(task.xs.shape[1])
        for x in task.xs:
            h, _ = model.step(x, h)
            states.append(h.data.copy())
    return np.stack(states)


def probe_accuracy(model, lag=DELAY):
    """Accuracy of the best linear readout of x_{t-lag} from h_t (fitted on one batch, tested on another)."""
    def pairs(task):
        states = hidden_states(model, task)[WARM_UP + lag:]
        symbols = task.xs[WARM_UP:len(task.xs) - lag].argmax(axis=-1)
        features = states.reshape(-1, states.shape[-1])
        return np.c_[features, np.ones(len(features))], symbols.reshape(-1)

    fit_x, fit_y = pairs(PROBE_FIT)
    weights, *_ = np.linalg.lstsq(fit_x, np.eye(4)[fit_y], rcond=None)
    test_x, test_y = pairs(PROBE_TEST)
    return float(np.mean((test_x @ weights).argmax(axis=1) == test_y))


probe = {}
for spec, saved in snapshots.items():
    model = echo_runs[spec].model
    final = [p.data.copy() for p in model.parameters()]
    probe[spec] = []
    for step, weights in saved:
        for p, w in zip(model.parameters(), weights):
            p.data[...] = w
        probe[spec].append((step, probe_accuracy(model)))
    for p, w in zip(model.parameters(), final):
        p.data[...] = w
    print(f"{spec:<10} probe accuracy of x_(t-{DELAY}) from h_t: "
          + ", ".join(f"step {s}: {a:.2f}" for s, a in probe[spec]))
start = {spec: values[0][1] for spec, values in probe.items()}
end = {spec: values[-1][1] for spec, values in probe.items()}
assert min(start.values()) > 0.6, "the untrained state already holds the input of 8 steps ago"
assert end["chunked:4"] < start["chunked:4"] - 0.2, "Chunked(4) wears that memory away"
assert end["full"] > 0.95, "full BPTT builds it up"

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for spec, colour in (("full", "tab:blue"), ("chunked:4", "tab:orange")):
    steps, accuracies = zip(*probe[spec])
    ax.plot(steps, accuracies, "o-", color=colour, label=f"{spec}: probe (what the state holds)")
    rows = echo_curves[spec]
    ax.plot([r["step"] for r in rows], [r["metric"] for r in rows], ":", color=colour,
            label=f"{spec}: the network's own held-out accuracy")
ax.axhline(chance, color="grey", linestyle="--", linewidth=0.8, label="chance")
ax.set(xlabel="training step", ylabel="accuracy", ylim=(0, 1.05),
       title=f"Is x(t-{DELAY}) in the hidden state? A linear probe during training")
ax.legend(fontsize=8, loc="lower left")
ax.grid(alpha=0.3)
plt.show()

# %%
say(f"""**What to look at.** Before any training the state already holds the input of 8 steps ago: a linear probe
reads it off with accuracy {start['chunked:4']:.2f}. Under full BPTT that memory is built up ({end['full']:.2f} at the
end), and the network's own accuracy follows it. Under Chunked(4) it is worn away, to {end['chunked:4']:.2f}: the
updates shape $A$ for what happens within 4 steps, and nothing defends the part of the state that carried older
inputs. The network's own accuracy rises while the readout learns to use the accidental memory and falls as
the memory goes: the hypothesis, measured.""")

# %% [markdown]
# ## How long must the chunks be?
#
# Now vary the chunk length $k$ alone. The argument above predicts a threshold for the *exact* gradient: with
# $k \le D$ no loss ever reaches its input, with $k \ge D + 1$ the loss at the end of each chunk does. (Only the
# last $k - D$ steps of each chunk see their inputs, but that is enough: once the network has learned to
# remember, it echoes at every step, because the forward pass carries the state across chunks.)

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

sweep = {k: echo_final[f"chunked:{k}"]["metric"] for k in SWEEP}
for k in SWEEP:
    print(f"k = {k:2d}: accuracy {sweep[k]:.3f}")
    if k <= DELAY:
        assert sweep[k] < 0.5, (k, sweep[k])
    else:
        assert sweep[k] > 0.7, (k, sweep[k])

# %%
say(f"""The jump sits where the argument put it, between $k = D$ ({sweep[DELAY]:.2f}) and $k = D + 1$
({sweep[DELAY + 1]:.2f}). At $k = D + 1$ only one step per chunk links a loss to its input, and learning is a little
slower; from there on, the longer the chunk, the more losses per update see their input.

This is a threshold for this task and these settings, not a law. Below it the network can still pick up part of
the task from the accidental memory of the previous section, and how much depends on the setting (tutorial 5
trains Chunked(8) on a delay of 10). What holds generally is the other side: at $k \\ge D + 1$ the exact
gradient of some losses reaches their inputs.""")

# %% [markdown]
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
# steps each, on several seeds (data and weights).

# %%
ADDING = {**ECHO, "task": "adding", "seq_len": 10, "steps": 20000}
ADDING_STRATEGIES = ["full", "chunked:2", "chunked:5", "tbptt:5,10", "artbp:0.1"]
ADDING_SEEDS = [0] if FAST else [0, 1, 2]
SMOOTHING = 5  # the held-out batch is small, so each evaluation is noisy: average the last few


def last_evaluations(rows, n=SMOOTHING):
    """The mean held-out metric over the last n evaluations (one evaluation is noisy)."""
    return float(np.mean([r["metric"] for r in rows[-n:]]))


adding_curves, adding_mse = {}, {spec: [] for spec in ADDING_STRATEGIES}
for seed in ADDING_SEEDS:
    _, curves, _ = train({**ADDING, "seed": seed}, ADDING_STRATEGIES)
    adding_curves.setdefault(seed, curves)
    for spec in ADDING_STRATEGIES:
        adding_mse[spec].append(last_evaluations(curves[spec]))
for spec in ADDING_STRATEGIES:
    print(f"{spec:<12} held-out mse (mean of the last {SMOOTHING} evaluations), by seed: "
          + ", ".join(f"{v:.4f}" for v in adding_mse[spec]))


# %%
def plot_adding(ax, seed=0):
    """The adding-problem learning curves of one seed: every held-out evaluation, and their moving average."""
    for spec in ADDING_STRATEGIES:
        rows = adding_curves[seed][spec]
        steps, values = np.array([r["step"] for r in rows]), np.array([r["metric"] for r in rows])
        average = np.array([values[max(0, i - SMOOTHING + 1):i + 1].mean() for i in range(len(values))])
        line, = ax.plot(steps, average, label=spec, linewidth=2)
        ax.plot(steps, values, ".", color=line.get_color(), alpha=0.35, markersize=4)
    ax.axhline(1 / 6, color="grey", linestyle=":", label="answer 1 always (1/6)")
    ax.axhline(1 / 12, color="black", linestyle="--", label="second number only (1/12)")
    everything = np.concatenate([[r["metric"] for r in rows] for rows in adding_curves[seed].values()])
    ax.set(xlabel="training step", ylabel=f"held-out mse (dots; line: mean of the last {SMOOTHING})",
           yscale="log", ylim=(0.7 * everything.min(), 1.5),  # room above the curves for the legend
           title=f"adding, 10 steps: learning curves (seed {seed})")
    ax.legend(fontsize=7, loc="upper right", ncol=3)
    ax.grid(alpha=0.3, which="both")


fig, ax = plt.subplots(figsize=(7, 4))
plot_adding(ax)
plt.show()

# %%
for i in range(len(ADDING_SEEDS)):  # on every seed
    for spec in ("full", "chunked:5"):  # both carry the first number: far below 1/12
        assert adding_mse[spec][i] < 1 / 24, (spec, adding_mse)
    assert adding_mse["chunked:2"][i] < 1 / 12, adding_mse  # part of it
    assert adding_mse["full"][i] < adding_mse["chunked:2"][i] and adding_mse["full"][i] < adding_mse["chunked:5"][i]


def span(spec):
    values = adding_mse[spec]
    return f"{values[0]:.4f}" if len(values) == 1 else f"between {min(values):.4f} and {max(values):.4f}"


say(f"""A surprise, compared with the echo: chunks of 5 steps, which never send gradient from the answer back to the
first marked number, end far below $1/12$ ({span('chunked:5')}), about as low as TBPTT ({span('tbptt:5,10')}) and
ARTBP ({span('artbp:0.1')}): the network carries the first number anyway. Chunks of 2 learn more slowly and end
between the two reference lines ({span('chunked:2')}), having learned part of it. Full BPTT ends lowest
({span('full')}). Over the {len(ADDING_SEEDS)} seed(s) run here, that order holds on every one (asserted): truncation
costs something, but it does not stop learning.

One way to see the difference. To add, the network must *write* the first number into its state and then
*keep* it. Keeping is the same operation at every step, done by the same matrix $A$: a window of 2 steps
already rewards keeping the state for 2 steps, and a state kept for 2 steps by a fixed map is kept for 10.
The echo needs each symbol to arrive at the output exactly $D$ steps later, among $D$ other symbols in
flight; a window shorter than $D$ never contains both ends of that route, so nothing rewards building it.
The dependency length tells you when the *exact* gradient is out of reach; whether the task is then out of
reach depends on how its solution is built.""")

# %% [markdown]
# ## The same gradient, a different training: TBPTT(5, 10) under Adam
#
# The only loss of the adding problem is at the last step. So TBPTT(5, 10) makes two updates per sequence: at
# step 5, with no loss at all (its gradient is zero), and at step 10, with the loss $l_{10}$ backpropagated 10
# steps, to $h_0$: exactly the full gradient. Yet above it does not end where full BPTT ends. The reason is
# the optimizer, not the gradient. Adam keeps a running mean $m$ of past gradients and moves the
# weights by $\text{lr}\cdot \hat m/(\sqrt{\hat v} + \epsilon)$ at every update, so an update whose gradient is
# zero still moves them, along the remembered direction. Plain SGD moves them by $\text{lr}\cdot g = 0$. Three
# checks: the gradients, one Adam step with a zero gradient, and both strategies trained with SGD, where they
# must give the same run.

# %%
check_task = tasks.adding(T=10, batch=8, seed=3)
check_model = rnn.ElmanRNN(check_task.n_in, 32, check_task.n_out, seed=0)
tbptt_updates = rnn.gradients(check_model, check_task.xs, check_task.ys, rnn.TBPTT(5, 10))
full_update = rnn.gradients(check_model, check_task.xs, check_task.ys, rnn.Full())[0]
print("TBPTT(5, 10) on one sequence: largest |gradient| of the update at step 5:",
      max(np.abs(g).max() for g in tbptt_updates[0].values()),
      "; update at step 10 against full BPTT:", max(np.abs(tbptt_updates[1][n] - full_update[n]).max() for n in full_update))
assert len(tbptt_updates) == 2 and all(np.all(g == 0) for g in tbptt_updates[0].values())
assert max(np.abs(tbptt_updates[1][n] - full_update[n]).max() for n in full_update) < 1e-12

weight = mg.nn.Parameter(np.array([1.0]), name="w")
adam = mg.optim.Adam([weight], lr=0.005)
weight.grad = np.array([0.3])
adam.step()
after_first = weight.data.copy()
weight.grad = np.zeros(1)
adam.step()
print(f"one Adam step with gradient 0.3 moves w by {after_first[0] - 1.0:+.6f}; the next, with gradient 0, "
      f"by {weight.data[0] - after_first[0]:+.6f}")
assert weight.data[0] != after_first[0]

sgd_final, sgd_curves, _ = train({**ADDING, "optimizer": "sgd", "seed": 0}, ["full", "tbptt:5,10"])
sgd_gap = max(abs(a["metric"] - b["metric"]) for a, b in zip(sgd_curves["full"], sgd_curves["tbptt:5,10"]))
adam_gap = max(abs(a["metric"] - b["metric"]) for a, b in zip(adding_curves[0]["full"], adding_curves[0]["tbptt:5,10"]))
print(f"largest difference between the held-out curves of full and tbptt:5,10: SGD {sgd_gap:.1e}, Adam {adam_gap:.1e}; "
      f"SGD final mse {sgd_final['full']['metric']:.4f} and {sgd_final['tbptt:5,10']['metric']:.4f}")
assert sgd_gap < 1e-9 and adam_gap > 1e-3
assert sgd_final["full"]["metric"] > 5 * adding_mse["full"][0], "SGD at this rate learns far more slowly"

# %%
say(f"""With SGD the two runs are the same run: their held-out curves differ by at most {sgd_gap:.0e}, and both end at
mse {sgd_final['full']['metric']:.4f} (with SGD at this learning rate the adding problem is learned far more slowly
than with Adam). Under Adam the empty update at step 5 takes a step of its own with the remembered direction,
{weight.data[0] - after_first[0]:+.5f} in the one-weight example, which is how TBPTT(5, 10) ends at
{adding_mse['tbptt:5,10'][0]:.4f} against full BPTT's {adding_mse['full'][0]:.4f} on seed 0 with the same gradients.
$k_2$, not $k_1$, decides what a TBPTT gradient can contain; the optimizer decides what an update with nothing in
it does.""")

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
# * A chunk shorter than the echo's delay cuts every loss off from its input: the echo stays near chance, and
#   the memory the untrained network carried by accident is worn away (measured with a linear probe). Here one
#   step longer than the delay and it is learned; below that, what a network picks up varies with the setting.
# * TBPTT$(k_1, k_2)$ decouples the two jobs of the chunk length: update often ($k_1 = 4$) but look far back
#   ($k_2 = 16 > D$). It learns the echo like full BPTT.
# * ARTBP cuts at random but reweights what it keeps, so its gradient is right on average and reaches any
#   lag with some probability: it learns the echo too, with noisier updates.
# * On the adding problem even chunks shorter than the dependency learn, more slowly or less well: a solution
#   that only has to *keep* a value can be found through short windows. Measure before you conclude that a
#   truncation is too short.
# * Two strategies with the same gradients can still train differently: an update with a zero gradient moves
#   Adam's weights, not SGD's.
#
# ## Your turn
#
# **Assignment `a3_truncation`** has you write the plans of Chunked and TBPTT that these runs used, and
# TBPTT as an explicit loop with bounded memory. Get it with `python -m assignments release my_work/ -a 3`.
#
# A warm-up here: on the echo task with delay $D$, which losses of a chunk of length $k$ (positions $1..k$ in
# the chunk) can send gradient back to their own input? Write the rule below (it returns the positions);
# `check_positions` compares it with the engine, which is asked, for a chunk late enough in the sequence that
# every step has a target, whether each position's loss reaches $h_{t-D}$ under Chunked($k$). The check accepts
# the right rule and rejects "every position, when $k > D$".

# %%
your_positions = None  # e.g. lambda k, D: [...]


def check_positions(rule, cases=((4, 8), (9, 8), (12, 8), (16, 10))):
    """True if rule(k, D) lists, for every case, the positions p in 1..k whose loss reaches its input."""
    if rule is None:
        return False
    for k, D in cases:
        first = k * (-(-D // k))  # a chunk boundary at or after step D: every step after it has a target
        task = tasks.echo(T=first + k, delay=D, seed=0)
        cell = rnn.ElmanRNN(task.n_in, 3, task.n_out, seed=0)
        reaching = []
        for position in range(1, k + 1):
            t = first + position
            grads = analysis.state_grads(cell, task.xs[:t], task.ys[:t], loss="ce", last_only=True,
                                         strategy=rnn.Chunked(k))
            if np.any(grads[t - D - 1] != 0):  # row t-D-1 is dl_t/dh_{t-D}: did l_t reach x_{t-D}?
                reaching.append(position)
        if sorted(rule(k, D)) != reaching:
            return False
    return True


assert check_positions(lambda k, D: list(range(D + 1, k + 1)))
assert not check_positions(lambda k, D: list(range(1, k + 1)) if k > D else [])
print("positions: " + ("not tried yet" if your_positions is None
                       else ("right" if check_positions(your_positions) else "not right yet")))
