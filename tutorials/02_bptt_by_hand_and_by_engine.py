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
# # 2. BPTT for the Elman RNN, by hand and by engine
#
# **What you will learn.** Backpropagation through time (BPTT) is the reverse walk of tutorial 1 applied
# to a recurrent network unrolled over its time steps. We derive, line by line,
#
# 1. the gradient of the loss with respect to the last hidden state, $\partial L/\partial h_T$,
# 2. the backward recursion that gives $\partial L/\partial h_t$ from $\partial L/\partial h_{t+1}$,
# 3. the same quantity unrolled: a sum over the later losses, each sent back through a product of Jacobians,
# 4. $\partial L/\partial A$, $\partial L/\partial B$ and $\partial L/\partial C$ as sums over the time steps,
#
# and check each one against computations that do not share our derivation: the tape-based engine, which
# composes the local rules of its elementary ops (tutorial 1) and knows no formula for BPTT; and two other
# hand derivations, the numpy formulas in `rnn.manual` and the backward of the engine's fused Elman node.
# All agree to round-off, about $10^{-16}$.
#
# **What you need.** Tutorial 1 (tapes, accumulation), the chain rule for vectors, numpy.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Markdown, display
from threadpoolctl import threadpool_limits

import rnn
from minigrad.viz import show
from rnn import manual
from rnn import viz as rnn_viz

FAST = os.environ.get("TUTORIAL_FAST") == "1"
threadpool_limits(1)  # one BLAS thread, as in every lesson
T = 5 if FAST else 10
N_IN, N_HIDDEN, N_OUT = 3, 4, 2
ROUND_OFF = 1e-12  # float64: what "agree to round-off" means here


def say(text):
    """Prose whose numbers come from this run: Markdown in a notebook, plain text in a script."""
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


# %% [markdown]
# ## The model
#
# The Elman RNN reads an input $x_t$ at each step $t = 1, \dots, T$, updates its hidden state and makes a
# prediction:
#
# $$\mathrm{pre}_t = A\,h_{t-1} + B\,x_t, \qquad h_t = f(\mathrm{pre}_t), \qquad
#   q_t = C\,h_t, \qquad \hat y_t = g(q_t),$$
#
# starting from $h_0 = 0$. The same three matrices $A$ (hidden to hidden), $B$ (input to hidden) and $C$
# (hidden to output) are used at every step. Here $f = \tanh$ and $g$ is the identity. The loss adds up the
# squared errors of all steps:
#
# $$L = \tfrac12 \sum_{t=1}^{T} \lVert \hat y_t - y_t \rVert^2 = \sum_{t=1}^{T} l_t .$$
#
# We take random inputs and targets and a model with seed 0, built twice from the same seed:
#
# * `fused=False`: every matrix-vector product, every addition and every $\tanh$ is its own node on the
#   tape. Its backward is nothing but the ops' local rules, chained by the tape. This is **the engine**
#   below, the computation that is independent of any BPTT derivation.
# * `fused=True` (the default, and what training uses): each step is one `elman_scan` node whose backward
#   (in `rnn/fused.py`) is the recursion of this lesson, written by hand for speed. It is a derivation
#   like ours, so we check it too, as a fourth computation.
#
# `rnn.manual.elman_forward` runs the forward pass in plain numpy and keeps every intermediate value;
# `rnn.unroll` records the same forward pass on a tape. First check that they compute the same numbers.

# %%
rng = np.random.default_rng(0)
xs = rng.standard_normal((T, N_IN))
ys = rng.standard_normal((T, N_OUT))
model = rnn.ElmanRNN(N_IN, N_HIDDEN, N_OUT, f="tanh", g="identity", seed=0, fused=False)  # the engine
fused_model = rnn.ElmanRNN(N_IN, N_HIDDEN, N_OUT, f="tanh", g="identity", seed=0)      # one node per step
A, B, C = model.A.data, model.B.data, model.C.data
assert all(np.array_equal(p.data, q.data) for p, q in zip(model.parameters(), fused_model.parameters()))

forward = manual.elman_forward(A, B, C, xs, f="tanh", g="identity")
h, pre, q, y_hat = forward["h"], forward["pre"], forward["q"], forward["y_hat"]  # h[t] is h_t; pre[t-1] is pre_t

unrolled = rnn.unroll(model, xs, ys, rnn.Full())
fused_unrolled = rnn.unroll(fused_model, xs, ys, rnn.Full())
engine_h = np.array([state.data for state in unrolled.states])
print(f"loss: numpy {manual.elman_loss(A, B, C, xs, ys):.12f}   engine {unrolled.loss.item():.12f}   "
      f"fused {fused_unrolled.loss.item():.12f}")
print(f"max |h_t numpy - h_t engine| = {np.max(np.abs(engine_h - h)):.1e}")
assert np.max(np.abs(engine_h - h)) < ROUND_OFF
assert abs(manual.elman_loss(A, B, C, xs, ys) - unrolled.loss.item()) < ROUND_OFF
assert abs(fused_unrolled.loss.item() - unrolled.loss.item()) < ROUND_OFF
print("ops on the engine's tape, step 1:", [n.op for n in unrolled.tape.nodes() if n.tags.get("step") == 1])
print("ops on the fused tape, step 1:   ", [n.op for n in fused_unrolled.tape.nodes() if n.tags.get("step") == 1])

# %% [markdown]
# ## The unrolled graph
#
# Unrolling turns the loop into one long graph: one column per time step. Read each column from the bottom:
# $x_t$ and $h_{t-1}$ make $h_t$, which makes $\hat y_t$ and the step's loss $l_t$. The thick arrows
# $h_{t-1} \to h_t$ are the *recurrent edges*: the only way information, and gradient, travels between
# steps. The tag `W1` says that the gradient of update 1 flows through the step; full BPTT makes a single
# update, which uses every loss $l_1 \dots l_T$ and reaches back to $h_0$.

# %%
show(rnn_viz.compact(unrolled))

# %% [markdown]
# The same graph at the level of the tape, for the first three steps: every node the engine recorded. Tensors
# are boxes with their name and shape, ops are ellipses. The engine does not name the tensors it makes, so
# `name_by_role` below names each one after its place in the formulas above, reading the op that made it
# (`matvec` with $A$ makes $A h_{t-1}$, the `add` makes $\mathrm{pre}_t$, and so on). The gold boxes $A$, $B$,
# $C$ are used by every step: their gradients will *accumulate* over the steps, as in tutorial 1. Each step's
# loss is `mse` times $\tfrac12$, and the running sum of the losses runs down the right edge of each column.


# %%
def name_by_role(unrolled):
    """Name every tensor of an unrolled per-op Elman graph after its role (only for drawing)."""
    for node in unrolled.tape.nodes():
        t, out, inputs = node.tags.get("step"), node.output(), node.inputs
        if t is None:  # the running sum of the losses, recorded between steps
            out.name = f"l1 + .. + l{max(n.tags.get('step') or 0 for n in unrolled.tape.nodes() if n.seq < node.seq)}"
        elif node.op == "matvec":
            weight = inputs[0].name
            if weight == "B":
                inputs[1].name, out.name = f"x{t}", f"B x{t}"
            else:
                out.name = f"A h{t - 1}" if weight == "A" else f"q{t} = ŷ{t}"
        elif node.op == "add":
            out.name = f"pre{t}"
        elif node.op == "tanh":
            out.name = f"h{t}"
        elif node.op == "mse":
            inputs[1].name, out.name = f"y{t}", f"mse{t}"
        elif node.op == "mul":
            inputs[1].name, out.name = "1/2", f"l{t}"


three_steps = rnn.unroll(model, xs[:3], ys[:3], rnn.Full())
name_by_role(three_steps)
unnamed = [n.op for n in three_steps.tape.nodes() for v in (*n.inputs, n.output()) if not v.name]
assert not unnamed, unnamed  # every box of the drawing says what it is
show(rnn_viz.ops_view(three_steps))

# %% [markdown]
# Now let the engine do its reverse walk. `rnn.viz.backpropagate` asks every hidden state to keep its
# gradient (`retain_grad`) and runs `backward` on the total loss, so afterwards `state.grad` is
# $\partial L/\partial h_t$ and `model.A.grad` is $\partial L/\partial A$, all computed by the tape. The
# fused model does the same through its hand-written node.

# %%
rnn_viz.backpropagate(unrolled)
engine_dh = np.array([state.grad for state in unrolled.states[1:]])  # engine_dh[t-1] is dL/dh_t
engine_grads = {name: getattr(model, name).grad for name in "ABC"}
rnn_viz.backpropagate(fused_unrolled)
fused_dh = np.array([state.grad for state in fused_unrolled.states[1:]])
fused_grads = {name: getattr(fused_model, name).grad for name in "ABC"}
manual_dh = manual.elman_hidden_grads(A, B, C, xs, ys, f="tanh", g="identity")
manual_grads = manual.elman_bptt(A, B, C, xs, ys, f="tanh", g="identity")
max_diff = {}  # quantity -> largest |difference| between the computations, for the summary plot


def agreement(name, by_hand, by_manual, by_engine, by_fused):
    """Print and record the largest disagreement of the other three computations with ours."""
    diff = max(np.max(np.abs(by_hand - other)) for other in (by_manual, by_engine, by_fused))
    max_diff[name] = diff
    print(f"{name:<14} by hand vs rnn.manual, engine and fused node: max |diff| = {diff:.1e}")
    return diff


# %% [markdown]
# ## Step 1: the last hidden state
#
# Write $e_t = \hat y_t - y_t$ for the error of step $t$. Since $l_t = \tfrac12 \lVert g(q_t) - y_t
# \rVert^2$, the gradient with respect to the output pre-activation is
#
# $$\varepsilon_t := \frac{\partial L}{\partial q_t} = g'(q_t) \odot e_t ,$$
#
# ($\odot$ is the elementwise product; for $g$ the identity, $g' = 1$ and $\varepsilon_t = e_t$).
# The last state $h_T$ influences $L$ only through $q_T = C h_T$: there is no $h_{T+1}$. The chain rule
# through a matrix product gives the transpose:
#
# $$\frac{\partial L}{\partial h_T} = C^\top \varepsilon_T = C^\top \bigl(g'(q_T) \odot (\hat y_T - y_T)\bigr).$$
#
# (Seed 000, the course notes this lesson follows, prints this formula with $\hat y_t$ in place of
# $\hat y_T$. It is a typo: at the last step the only output $h_T$ feeds is $\hat y_T$. We use $\hat y_T$,
# and the check below would fail with the output of any other step.)

# %%
g_prime = np.ones_like(q)  # g = identity, so g'(q_t) = 1
eps = g_prime * (y_hat - ys)  # eps[t-1] is epsilon_t
dh_T = C.T @ eps[T - 1]
print("dL/dh_T by hand:", np.round(dh_T, 6))
assert agreement("dL/dh_T", dh_T, manual_dh[T - 1], engine_dh[T - 1], fused_dh[T - 1]) < ROUND_OFF
wrong_step = min(np.max(np.abs(C.T @ eps[t] - engine_dh[T - 1])) for t in range(T - 1))
assert wrong_step > 1e-3, wrong_step  # the typo's formula, with any earlier step's output, is not the gradient

# %% [markdown]
# ## Step 2: the backward recursion
#
# An earlier state $h_t$ ($t < T$) influences $L$ along **two** paths: directly through its own output
# $q_t = C h_t$, and through the next state, $\mathrm{pre}_{t+1} = A h_t + B x_{t+1}$. As in tutorial 1,
# a value used twice receives the sum of both shares:
#
# $$\frac{\partial L}{\partial h_t}
#   = \underbrace{C^\top \varepsilon_t}_{\text{its own loss}}
#   + \underbrace{A^\top \Bigl( f'(\mathrm{pre}_{t+1}) \odot \frac{\partial L}{\partial h_{t+1}} \Bigr)}_{
#       \text{everything later}} .$$
#
# For $f = \tanh$, $f'(\mathrm{pre}_{t+1}) = 1 - h_{t+1}^2$. Start at $t = T$ (step 1) and run the
# recursion down to $t = 1$: that is the "backward through time". Each line below is one line of the
# formula.

# %%
dh = np.zeros((T, N_HIDDEN))  # dh[t-1] is dL/dh_t
dh[T - 1] = dh_T
for t in range(T - 1, 0, -1):
    own_loss = C.T @ eps[t - 1]
    f_prime_next = 1.0 - h[t + 1] ** 2  # tanh'(pre_{t+1}) through the output h_{t+1}
    dh[t - 1] = own_loss + A.T @ (f_prime_next * dh[t])

for t in range(1, T + 1):
    print(f"t = {t:2d}   ||dL/dh_t||: by hand {np.linalg.norm(dh[t - 1]):.10f}"
          f"   rnn.manual {np.linalg.norm(manual_dh[t - 1]):.10f}   engine {np.linalg.norm(engine_dh[t - 1]):.10f}")
assert agreement("dL/dh_t", dh, manual_dh, engine_dh, fused_dh) < ROUND_OFF

# %% [markdown]
# ## Step 3: the recursion unrolled
#
# Substitute the recursion into itself. With the Jacobian of one step,
#
# $$J_s = \frac{\partial h_s}{\partial h_{s-1}} = \operatorname{diag}\bigl(f'(\mathrm{pre}_s)\bigr)\, A ,$$
#
# every later loss $l_s$ ($s \ge t$) reaches $h_t$ through the $s - t$ steps in between:
#
# $$\frac{\partial L}{\partial h_t}
#   = \sum_{s=t}^{T} \bigl(J_s J_{s-1} \cdots J_{t+1}\bigr)^\top C^\top \varepsilon_s .$$
#
# (For $s = t$ the product is empty, the identity.) This form says where the gradient at step $t$ comes
# from: one term per later loss, and the farther away the loss, the more Jacobians it is multiplied by.
# Tutorial 3 asks what happens to such long products; tutorial 4 drops the terms with $s - t \ge k$.
# First check the sum; keep every term, to plot them.

# %%
jacobians = {s: np.diag(1.0 - h[s] ** 2) @ A for s in range(1, T + 1)}  # J_s = diag(f'(pre_s)) A
term = np.zeros((T + 1, T + 1, N_HIDDEN))  # term[t, s]: what loss l_s sends back to h_t
for s in range(1, T + 1):
    back = C.T @ eps[s - 1]  # dl_s/dh_s
    for t in range(s, 0, -1):
        term[t, s] = back
        back = jacobians[t].T @ back  # one more step back: dl_s/dh_{t-1}
dh_unrolled = term[1:, 1:].sum(axis=1)  # row t: the sum over s
assert agreement("dL/dh_t (sum)", dh_unrolled, manual_dh, engine_dh, fused_dh) < ROUND_OFF

# %% [markdown]
# The picture of that sum: row $t$, column $s$ shows $\lVert (J_s \cdots J_{t+1})^\top C^\top \varepsilon_s
# \rVert$, the size of what loss $l_s$ sends back to $h_t$. Only $s \ge t$ is coloured: $h_t$ cannot
# change a loss that came before it. Follow one column upwards: it is one loss sent further and further
# back, and its term can only shrink. $A$ is orthogonal at initialisation, so $A^\top$ keeps lengths, and
# $0 < \tanh' \le 1$ can only shorten them (the assert below checks every column, and that $A$ is
# orthogonal). Along a row the picture is less tidy: the losses differ in size, and how fast a term shrinks
# depends on the states it passes through (a saturated $\tanh$, with $h$ near $\pm 1$, has
# $\tanh' \approx 0$ and cuts the term down quickly).

# %%
assert np.allclose(A.T @ A, np.eye(N_HIDDEN), atol=1e-12), "A starts orthogonal"
sizes = np.full((T, T), np.nan)
for t in range(1, T + 1):
    for s in range(t, T + 1):
        sizes[t - 1, s - 1] = np.linalg.norm(term[t, s])
for s in range(2, T + 1):  # each column, read upwards (t = s, s-1, ..., 1), never grows
    column = sizes[:s, s - 1][::-1]
    assert np.all(np.diff(column) <= 1e-12), (s, column)
fig, ax = plt.subplots(figsize=(5.6, 4.4))
image = ax.imshow(np.log10(sizes), cmap="magma_r", origin="upper",
                  extent=(0.5, T + 0.5, T + 0.5, 0.5))
fig.colorbar(image, ax=ax, label="log10 of the term's norm")
ax.set(xlabel=r"$s$: the loss $l_s$ that sends gradient", ylabel=r"$t$: the state $h_t$ that receives it",
       title=r"$\|(J_s \cdots J_{t+1})^\top C^\top \varepsilon_s\|$, the terms of $\partial L/\partial h_t$",
       xticks=range(1, T + 1), yticks=range(1, T + 1))
plt.show()

# %% [markdown]
# ## Step 4: the gradients of the weights, as sums over time
#
# $A$ is used once per step, in $\mathrm{pre}_t = A h_{t-1} + B x_t$. Write
#
# $$\delta_t := \frac{\partial L}{\partial \mathrm{pre}_t} = f'(\mathrm{pre}_t) \odot \frac{\partial L}{\partial h_t}$$
#
# for the gradient arriving at step $t$'s pre-activation. The derivative of $A h_{t-1}$ with respect to
# $A$, contracted with $\delta_t$, is the outer product $\delta_t h_{t-1}^\top$; and since $A$ is used at
# every step, the uses **accumulate**:
#
# $$\frac{\partial L}{\partial A} = \sum_{t=1}^{T} \delta_t\, h_{t-1}^\top, \qquad
#   \frac{\partial L}{\partial B} = \sum_{t=1}^{T} \delta_t\, x_t^\top, \qquad
#   \frac{\partial L}{\partial C} = \sum_{t=1}^{T} \varepsilon_t\, h_t^\top .$$
#
# $\partial L/\partial C$ needs no recursion: $C$ acts only within a step. $\partial L/\partial A$ and
# $\partial L/\partial B$ carry the whole past through $\delta_t$.

# %%
delta = (1.0 - h[1:] ** 2) * dh  # delta[t-1] is delta_t
dA_terms = [np.outer(delta[t - 1], h[t - 1]) for t in range(1, T + 1)]
dB_terms = [np.outer(delta[t - 1], xs[t - 1]) for t in range(1, T + 1)]
dC_terms = [np.outer(eps[t - 1], h[t]) for t in range(1, T + 1)]
by_hand = {"A": sum(dA_terms), "B": sum(dB_terms), "C": sum(dC_terms)}
for name in "ABC":
    assert agreement(f"dL/d{name}", by_hand[name], manual_grads[name], engine_grads[name],
                     fused_grads[name]) < ROUND_OFF

# %% [markdown]
# How much does each step add to $\partial L/\partial A$? The bars are $\lVert \delta_t h_{t-1}^\top \rVert$.
# Step 1 adds nothing: $h_0 = 0$, so its outer product vanishes (asserted).

# %%
assert np.linalg.norm(dA_terms[0]) == 0.0 and min(np.linalg.norm(d) for d in dA_terms[1:]) > 0
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.bar(range(1, T + 1), [np.linalg.norm(term_t) for term_t in dA_terms], color="tab:purple")
ax.set(xlabel="time step $t$", ylabel=r"$\|\delta_t\, h_{t-1}^\top\|$",
       title=r"each step's share of $\partial L/\partial A$", xticks=range(1, T + 1))
ax.grid(axis="y", alpha=0.3)
plt.show()

# %% [markdown]
# ## Summary: four computations, one answer
#
# Left: the components of $\partial L/\partial h_t$ at each step, from our recursion (open circles) and from
# the engine's tape (crosses): each cross sits in its circle. Right: for every quantity we derived, the
# largest difference between our numbers and the three other computations, on a log scale, next to the
# asserted bound and float64's machine epsilon.

# %% tags=["readme"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.1, 1]})
steps = np.arange(1, T + 1)
for i in range(N_HIDDEN):
    offset = (i - (N_HIDDEN - 1) / 2) * 0.12  # side by side within a step, so the markers do not hide each other
    dots = left.plot(steps + offset, dh[:, i], "o", markerfacecolor="none", markersize=8,
                     label=f"component {i + 1}")[0]
    left.plot(steps + offset, engine_dh[:, i], "x", color=dots.get_color(), markersize=6)
left.plot([], [], "ko", markerfacecolor="none", label="backward recursion")
left.plot([], [], "kx", label="engine (per-op tape)")
left.set(xlabel="time step $t$", ylabel=r"$\partial L/\partial h_t$", xticks=steps,
         title=r"$\partial L/\partial h_t$: by hand and by the engine")
left.axhline(0, color="grey", linewidth=0.5)
left.grid(axis="y", alpha=0.3)
left.legend(fontsize=8, ncol=2)
names = list(max_diff)
exact = [name for name, d in max_diff.items() if d == 0.0]
floor = 10 ** np.floor(np.log10(min([d for d in max_diff.values() if d > 0] + [np.finfo(float).eps]) / 10))
right.plot([max(d, floor) for d in max_diff.values()], names, "D", color="tab:green", markersize=8)
for name in exact:
    right.annotate("exactly 0", (floor, name), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
right.axvline(ROUND_OFF, color="tab:red", linestyle="--", label=f"asserted bound {ROUND_OFF:.0e}")
right.axvline(np.finfo(float).eps, color="black", linestyle=":", label="float64 machine epsilon")
right.set(xscale="log", xlim=(floor / 2, 1e-9), xlabel="max |difference| (log scale)",
          title="largest |difference| to the other three")
right.invert_yaxis()
right.grid(axis="x", alpha=0.3)
right.legend(fontsize=8, loc="lower right")
fig.suptitle(f"BPTT for the Elman RNN (T = {T}, {N_HIDDEN} hidden units, float64): by hand = by engine")
fig.tight_layout()
plt.show()

# %%
nonzero = [d for d in max_diff.values() if d > 0]
say(f"""{len(max_diff) - len(nonzero)} of the {len(max_diff)} quantities agree exactly, the others to between
{min(nonzero):.0e} and {max(nonzero):.0e}: the round-off of float64 (machine epsilon {np.finfo(float).eps:.1e}),
far below the {ROUND_OFF:.0e} the asserts demand.""")
assert max(max_diff.values()) < 100 * np.finfo(float).eps

# %% [markdown]
# ## The same agreement with a batch and other activations
#
# Nothing above depended on $f = \tanh$, $g = $ identity, or on a single sequence. `rnn.manual` implements
# the general formulas ($f'$ and $g'$ of any of its activations, sums over a batch of sequences) and
# `rnn.gradients` runs the engine under a strategy (here full BPTT), with the per-op cell and with the fused
# one; all three agree for every combination.

# %%
batch_xs = rng.standard_normal((T, 5, N_IN))
batch_ys = rng.standard_normal((T, 5, N_OUT))
for f, g in [("tanh", "identity"), ("sigmoid", "tanh"), ("relu", "sigmoid"), ("tanh", "tanh")]:
    reference, worst = None, 0.0
    for fused in (False, True):
        cell = rnn.ElmanRNN(N_IN, N_HIDDEN, N_OUT, f=f, g=g, seed=1, fused=fused)
        engine = rnn.gradients(cell, batch_xs, batch_ys, rnn.Full())[0]
        if reference is None:
            reference = manual.elman_bptt(cell.A.data, cell.B.data, cell.C.data, batch_xs, batch_ys, f=f, g=g)
        worst = max(worst, max(np.max(np.abs(engine[name] - reference[name])) for name in "ABC"))
    print(f"f = {f:<8} g = {g:<9} batch of 5: max |engine - rnn.manual| over A, B, C, per-op and fused = {worst:.1e}")
    assert worst < ROUND_OFF, (f, g, worst)

# %% [markdown]
# ## Summary
#
# * $\partial L/\partial h_T = C^\top \varepsilon_T$: the last state only feeds its own output.
# * $\partial L/\partial h_t = C^\top \varepsilon_t + A^\top\bigl(f'(\mathrm{pre}_{t+1}) \odot
#   \partial L/\partial h_{t+1}\bigr)$: two paths, two shares, summed; run from $t = T$ down to 1.
# * Unrolled, $\partial L/\partial h_t$ is a sum over the later losses, each multiplied by a product of
#   Jacobians $J_s = \operatorname{diag}(f'(\mathrm{pre}_s)) A$, one per step it travels.
# * $\partial L/\partial A = \sum_t \delta_t h_{t-1}^\top$: a weight shared by all steps collects one
#   outer product per step.
#
# The per-op engine does exactly this, node by node, in the reverse of the order it recorded the forward
# pass; the fused node does it with the recursion written out, one node per step.
#
# ## Your turn
#
# **Assignment `a2_bptt`** asks for these formulas in plain numpy, for any activation and for a batch:
# `hidden_grads` (step 2), `recurrent_grads` (step 4's $\partial L/\partial A$, $\partial L/\partial B$) and
# `readout_grad` ($\partial L/\partial C$). Get it with `python -m assignments release my_work/ -a 2`.
#
# A warm-up here: $L$ is also a function of the initial state $h_0$ (here 0). Derive
# $\partial L/\partial h_0$ from the recursion (one more step down, with no loss of its own at $t = 0$)
# and put your numpy expression in place of `None`. `check_dh0` compares it with the engine, which gets
# $\partial L/\partial h_0$ when $h_0$ is a tensor that requires grad. The check is itself checked: it
# accepts the right expression and rejects $\partial L/\partial h_1$ passed back without the $\tanh'$ factor.

# %%
your_dh0 = None  # a numpy expression of A, h, dh (dh[0] is dL/dh_1)


def check_dh0(value):
    """True if value equals dL/dh_0 as the engine computes it (h_0 a tensor that requires grad)."""
    h0 = rnn.ElmanRNN(N_IN, N_HIDDEN, N_OUT, seed=0, fused=False).initial_state()
    h0.requires_grad = True
    loss = rnn.unroll(model, xs, ys, rnn.Full(), h0=h0).loss
    loss.backward()
    model.zero_grad()
    return value is not None and np.allclose(value, h0.grad, rtol=1e-9, atol=1e-12)


assert check_dh0(A.T @ ((1 - h[1] ** 2) * dh[0])) and not check_dh0(A.T @ dh[0])
print("dL/dh_0: " + ("not tried yet" if your_dh0 is None else ("right" if check_dh0(your_dh0) else "not right yet")))
