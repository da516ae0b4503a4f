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
# # 1. Tapes and reverse mode
#
# **What you will learn.** How `minigrad` computes gradients: while your code runs, every operation is
# written on a *tape* (a list, in the order the operations happened); `backward` then walks that list from
# the end to the beginning and applies the chain rule once per entry. You will see
#
# 1. what the tape records,
# 2. why walking it in reverse is a valid order for the chain rule, and what goes wrong in another order,
# 3. why a value used twice receives the *sum* of two gradients,
# 4. two special nodes, *stop-gradient* and *scale-gradient*, that change only the backward pass
#    (truncated backpropagation through time, in the later tutorials, is built from them),
# 5. a tiny graph drawn before and after `backward`.
#
# **What you need.** The chain rule for derivatives and a little numpy. Nothing about neural networks.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Markdown, display
from threadpoolctl import threadpool_limits

import minigrad as mg
from minigrad import viz
from minigrad.viz import show

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # only shrinks the plot at the end
threadpool_limits(1)  # one BLAS thread, as in every lesson: timings mean the same on a busy machine


def say(text):
    """Prose whose numbers come from this run: Markdown in a notebook, plain text in a script."""
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


# %% [markdown]
# ## A tiny computation
#
# Take two numbers $w$ and $x$ and compute
#
# $$a = w\,x, \qquad b = \tanh(a), \qquad y = a\,b .$$
#
# We want $\partial y / \partial w$. The value $a$ is used twice: once to make $b$, once more in the
# product $y = a\,b$. Keep an eye on that.
#
# A tensor made with `requires_grad=True` is a *parameter*: after `backward`, its `.grad` holds the
# derivative of the output with respect to it. We record into a fresh `mg.Tape()` so that we can look at
# exactly what this computation wrote on it. Names are only for printing and drawing.

# %%
w = mg.tensor(0.8, requires_grad=True, name="w")
x = mg.tensor(1.5, name="x")

with mg.Tape() as tape:
    a = w * x
    b = a.tanh()
    y = a * b
a.name, b.name, y.name = "a", "b", "y"

print(f"a = {a.item():.4f}, b = {b.item():.4f}, y = {y.item():.4f}")

# %% [markdown]
# ## What the tape records
#
# One *node* per operation, in the order they ran. A node remembers which operation it was, which
# tensors went in, and the values its backward will need (here: the inputs of each `mul`, and $b$ for
# `tanh`, since $\tanh'(a) = 1 - b^2$). The running number `seq` is the recording order.

# %%
for node in tape:
    inputs = ", ".join(t.name for t in node.inputs)
    print(f"#{node.seq}  {node.op:<5} inputs: {inputs:<6} -> output: {node.output().name}")

# %% [markdown]
# This list is called a *Wengert list*. Drawn as a graph (tensors are boxes with their name and shape,
# operations are ellipses, the parameter $w$ is gold), it is the picture of the formula. Nothing has been
# differentiated yet, so no box carries a gradient.

# %%
show(viz.draw(y))

# %% [markdown]
# ## Why walking the tape backwards is a valid order
#
# The chain rule in reverse mode works with *adjoints*: for every value $v$, $\bar v = \partial y /
# \partial v$. We start from $\bar y = 1$. The adjoint of a value is complete only when every node that
# *used* the value has passed its share back.
#
# When the forward pass recorded a node, its inputs already existed, so the nodes that made them were
# recorded *earlier*. Read backwards, the tape therefore visits every user of a value before the node that
# made it. That is exactly the order we need, and it comes for free: no graph search, no topological sort.
#
# That the recording order has this property is true by construction, so checking it on one tape would
# prove nothing. What can be checked is that the property *matters*. `users_first(order)` tests it for any
# order of the nodes, and `walk(order)` runs the reverse-mode rule (each node passes its output's adjoint,
# times its local derivative, to each input, and the shares add up) in that order, with the local
# derivatives written out in numpy.

# %%
nodes = list(tape)
LOCAL_DERIVATIVES = {  # op -> d(output)/d(input) for each input, from the input values and the output value
    "mul": lambda inputs, out: [inputs[1], inputs[0]],
    "tanh": lambda inputs, out: [1.0 - out ** 2],
}


def users_first(order):
    """True if every node comes after all the nodes that used its output (what reverse mode needs)."""
    position = {id(node): i for i, node in enumerate(order)}
    return all(position[id(user)] < position[id(inp.node)]
               for user in order for inp in user.inputs if inp.node is not None)


def walk(order):
    """Reverse mode by hand over the nodes in the given order; returns dy/dw."""
    adjoint = {id(y): 1.0}
    for node in order:
        passed_on = adjoint.get(id(node.output()), 0.0)
        values = [inp.item() for inp in node.inputs]
        for inp, local in zip(node.inputs, LOCAL_DERIVATIVES[node.op](values, node.output().item())):
            adjoint[id(inp)] = adjoint.get(id(inp), 0.0) + passed_on * local
    return adjoint.get(id(w), 0.0)


reverse_walk, forward_walk = walk(nodes[::-1]), walk(nodes)
for name, order, result in (("reversed tape", nodes[::-1], reverse_walk), ("recording order", nodes, forward_walk)):
    print(f"{name:<16} {' '.join(f'#{n.seq} {n.op}' for n in order)}: users first? {users_first(order)}; "
          f"dy/dw by this walk = {result:.12f}")
assert users_first(nodes[::-1]) and not users_first(nodes)
assert forward_walk != reverse_walk

# %% [markdown]
# ## Backward by hand, one tape entry at a time
#
# Walk the three entries from the last to the first. Each entry passes the adjoint of its output to its
# inputs, multiplied by its local derivative, and the shares are **added** (`+=`) into the inputs'
# adjoints:
#
# | entry (in reverse) | local rule | what it adds |
# |---|---|---|
# | #3 `y = a * b`, input $a$ | $\partial y/\partial a = b$ | $\bar a$ += $\bar y\,b$ |
# | #3 `y = a * b`, input $b$ | $\partial y/\partial b = a$ | $\bar b$ += $\bar y\,a$ |
# | #2 `b = tanh(a)` | $\partial b/\partial a = 1 - b^2$ | $\bar a$ += $\bar b\,(1 - b^2)$ |
# | #1 `a = w * x` | $\partial a/\partial w = x$ | $\bar w$ += $\bar a\,x$ |
#
# So $\bar a$ receives two shares, one per use of $a$, and
#
# $$\frac{\partial y}{\partial w} = x\,\bigl(b + a\,(1 - b^2)\bigr).$$
#
# Here is the same walk in plain numpy, next to what the engine computes.

# %%
a_, b_, x_ = a.item(), b.item(), x.item()
y_bar = 1.0
a_bar_from_product = y_bar * b_               # entry #3, first input
b_bar = y_bar * a_                            # entry #3, second input
a_bar_from_tanh = b_bar * (1 - b_**2)         # entry #2
a_bar = a_bar_from_product + a_bar_from_tanh  # a was used twice: the shares add up
w_bar = a_bar * x_                            # entry #1

for v in (a, b, y):
    v.retain_grad()               # keep dy/dv for the intermediate values too (normally only parameters keep it)
y.backward(retain_graph=True)     # retain_graph: keep the saved values so we can draw the graph below

print(f"share of a's use in the product: {a_bar_from_product:.6f}")
print(f"share of a's use in tanh:        {a_bar_from_tanh:.6f}")
print(f"sum by hand {a_bar:.12f}   engine dy/da {a.grad.item():.12f}")
print(f"dy/db: by hand {b_bar:.12f}   engine {b.grad.item():.12f}")
print(f"dy/dw: by hand {w_bar:.12f}   engine {w.grad.item():.12f}")
assert abs(a.grad.item() - a_bar) < 1e-14, (a.grad, a_bar)
assert abs(b.grad.item() - b_bar) < 1e-14, (b.grad, b_bar)
assert abs(w.grad.item() - w_bar) < 1e-14, (w.grad, w_bar)
assert abs(reverse_walk - w_bar) < 1e-14  # the walk in reversed tape order is this computation
assert abs(forward_walk - w_bar) > 0.1 * abs(w_bar)  # the walk in recording order is not

# %%
say(f"""The reversed walk of the previous section gives the engine's $\\partial y/\\partial w = {w_bar:.6f}$. The walk
in recording order gives {forward_walk:.6f}: its first entry, `a = w * x`, passed $\\bar a$ on to $w$ while
$\\bar a$ was still 0, before either use of $a$ had added its share.

Had the engine *overwritten* $\\bar a$ instead of adding to it, it would have kept only one of the two
shares ({a_bar_from_product:.4f} or {a_bar_from_tanh:.4f} instead of their sum {a_bar:.4f}) and got
$\\partial y / \\partial w$ wrong. Accumulation is the rule "a value used twice gets the sum of the gradients
of both uses", which is the multivariable chain rule.""")

# %% [markdown]
# ## The graph after backward
#
# With `show_grad=True` every tensor that kept a gradient shows its size $\lVert \bar v \rVert$ (for a
# single number, its absolute value): $w$ as a parameter, $a$, $b$ and $y$ because we asked with
# `retain_grad()`. Read it from right to left, the order backward went: $\bar y = 1$, $\bar b = a$,
# $\bar a$ = the sum of two shares, and in the gold box $\partial y/\partial w = \bar a\,x$.

# %% tags=["readme"]
show(viz.draw(y, show_grad=True))

# %% [markdown]
# ## Gradient check over a range of $w$
#
# One number agreeing could be luck. The plot shows $y(w)$ and its slope for many values of $w$: the line
# is the engine's $\partial y/\partial w$, the dots are central finite differences
# $\bigl(y(w+\varepsilon) - y(w-\varepsilon)\bigr) / 2\varepsilon$ computed from the forward pass alone.
# Where the dots sit on the line, the tape's derivative is the true slope. The red star is the value we
# derived by hand above.


# %%
def y_of(w_value):
    """The forward pass for a given w, as a plain float."""
    a = w_value * x.item()
    return a * np.tanh(a)


def engine_slope(w_value):
    """dy/dw from the tape: record the forward pass, then walk it backwards."""
    w_t = mg.tensor(w_value, requires_grad=True)
    a_t = w_t * x
    (a_t * a_t.tanh()).backward()
    return w_t.grad.item()


ws = np.linspace(-2.0, 2.0, 21 if FAST else 81)
eps = 1e-6
slopes = np.array([engine_slope(v) for v in ws])
finite_differences = np.array([(y_of(v + eps) - y_of(v - eps)) / (2 * eps) for v in ws])
worst = np.max(np.abs(slopes - finite_differences))
print(f"largest |engine - finite difference| over {len(ws)} points: {worst:.1e}")
assert worst < 1e-7, worst

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
left.plot(ws, [y_of(v) for v in ws], color="tab:blue")
left.set(title="forward: y = (wx) tanh(wx), x = 1.5", xlabel="w", ylabel="y")
right.plot(ws, slopes, color="tab:orange", label="engine: dy/dw from the tape")
right.plot(ws[::4], finite_differences[::4], "o", color="black", markersize=4, label="central finite differences")
right.plot([w.item()], [w_bar], "*", color="tab:red", markersize=14, label=f"by hand above, w = {w.item()}")
right.set(title="backward: the slope dy/dw", xlabel="w", ylabel="dy/dw")
right.legend()
for ax in (left, right):
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Stop-gradient: a node whose backward sends nothing
#
# `mg.stop_gradient(v)` records a node that is the identity going forward and sends **no** gradient back.
# It tells the engine "treat this use of $v$ as a constant". Replace $b$'s input by a stopped copy of $a$:
#
# $$y_{\text{stop}} = a \cdot \tanh(\operatorname{stop}(a)).$$
#
# The value is the same as before. The gradient keeps only the share of the product:
# $\partial y_{\text{stop}}/\partial w = x \tanh(a) = x\,b$.

# %%
w.zero_grad()
a_s = w * x
a_stopped = mg.stop_gradient(a_s)
b_s = a_stopped.tanh()
y_stop = a_s * b_s
a_s.name, a_stopped.name, b_s.name, y_stop.name = "a", "stop(a)", "b = tanh(stop(a))", "y_stop"
for v in (a_s, a_stopped, b_s, y_stop):
    v.retain_grad()
y_stop.backward(retain_graph=True)
print(f"value: {y_stop.item():.6f} (before: {y.item():.6f})")
print(f"dy_stop/dw: engine {w.grad.item():.12f}   by hand x*b = {x_ * b_:.12f}")
assert y_stop.item() == y.item()
assert abs(w.grad.item() - x_ * b_) < 1e-14, w.grad
assert abs(a_stopped.grad.item() - a_bar_from_tanh) < 1e-14  # the tanh share arrives at the octagon ...
assert abs(a_s.grad.item() - a_bar_from_product) < 1e-14     # ... and a gets only the product's share

# %%
say(f"""In the drawing the stop-gradient node is a red octagon, and the edge into it is dashed red: gradient
cannot cross it. Gradient does *arrive* at the octagon: the box `stop(a)` holds the share that `tanh` sends
back, $\\bar b\\,(1 - b^2) = {a_stopped.grad.item():.4f}$. The octagon passes nothing on, so $a$ receives only the
share of the product, $b = {a_s.grad.item():.4f}$, instead of $\\bar a = {a_bar:.4f}$ as before.""")
show(viz.draw(y_stop, show_grad=True))

# %% [markdown]
# ## Scale-gradient: a node whose backward multiplies
#
# `mg.scale_grad(v, c)` is also the identity going forward; going backward it multiplies the adjoint by
# $c$. With $y_c = \operatorname{scale}(a, c)^2$ the value is $a^2$, and the gradient is $c$ times the
# usual one: $\partial y_c / \partial w = c \cdot 2 a x$.

# %%
c = 0.25
w.zero_grad()
a_c = w * x
a_scaled = mg.scale_grad(a_c, c)
y_scaled = a_scaled**2
a_c.name, a_scaled.name, y_scaled.name = "a", "scale(a, c)", "y_c"
for v in (a_c, a_scaled, y_scaled):
    v.retain_grad()
y_scaled.backward(retain_graph=True)
print(f"value: {y_scaled.item():.6f} = a^2 = {a_**2:.6f}")
print(f"dy_c/dw: engine {w.grad.item():.12f}   by hand c*2*a*x = {c * 2 * a_ * x_:.12f}")
assert abs(y_scaled.item() - a_**2) < 1e-15
assert abs(w.grad.item() - c * 2 * a_ * x_) < 1e-14, w.grad
assert abs(a_scaled.grad.item() - 2 * a_) < 1e-14 and abs(a_c.grad.item() - c * 2 * a_) < 1e-14

# %%
say(f"""In the drawing the scale-gradient node is a blue hexagon showing its factor. The gradient that arrives at
it, $2a = {a_scaled.grad.item():.4g}$, leaves it multiplied by $c = {c}$: $a$ receives {a_c.grad.item():.4g}.""")
show(viz.draw(y_scaled, show_grad=True))

# %% [markdown]
# Why have such nodes? In a recurrent network the hidden state passes from step to step,
# $h_{t-1} \to h_t$. *Truncated* backpropagation through time puts a stop-gradient on some of those
# edges (gradient from later losses does not reach earlier steps); *randomized* truncation puts a
# scale-gradient $1/p$ on the edges it keeps, to make up on average for the ones it cut. Both are just
# nodes on the tape, so the same drawing shows them (tutorials 4 and 5).
#
# ## `detach` is not a node
#
# `v.detach()` returns a *new leaf* with the same numbers and no history. The effect on the gradient is
# the same as `stop_gradient`, but nothing is recorded: the tape simply does not know where the value came
# from. The drawings in the later tutorials use `stop_gradient` so that you can *see* the cut.

# %%
with mg.Tape() as stop_tape:
    a_1 = w * x
    y_1 = a_1 * mg.stop_gradient(a_1).tanh()
with mg.Tape() as detach_tape:
    a_2 = w * x
    detached_tanh = a_2.detach().tanh()
    y_2 = a_2 * detached_tanh
stop_ops, detach_ops = [node.op for node in stop_tape], [node.op for node in detach_tape]
print("with stop_gradient:", stop_ops)
print("with detach:       ", detach_ops)
assert y_1.item() == y_2.item()
assert stop_ops == ["mul", "stop_gradient", "tanh", "mul"], stop_ops
assert detach_ops == ["mul", "mul"], detach_ops  # no stop_gradient node, and no tanh either
assert detached_tanh.node is None and not detached_tanh.requires_grad

# %% [markdown]
# With `detach` even the `tanh` is missing from the tape (the asserts compare the two lists): its only input
# is a leaf that needs no gradient, so its output needs none either (`requires_grad` is False and it has no
# node, also asserted). There is nothing for backward to do there, and the engine does not record it.

# %% [markdown]
# ## Backward releases what it used
#
# The saved values on a tape are what reverse mode costs in memory. A plain `backward()` releases each
# node after using it, so a second `backward` through the same nodes cannot work, and says so (the later
# tutorials meet this error when a hidden state is carried from one update to the next without being cut).
# `retain_graph=True`, which we used above in order to draw, keeps them.

# %%
w.zero_grad()
z = (w * x).tanh()
z.backward()
try:
    z.backward()
except mg.errors.FreedGraphError as error:
    print("second backward:", error)
else:
    raise AssertionError("a second backward through released nodes should raise FreedGraphError")

# %% [markdown]
# ## Summary
#
# * The tape is the list of operations in the order they ran; each node keeps what its backward needs.
# * Recording order is already a valid order for the chain rule: read backwards, every user of a value
#   comes before the value's maker. In another order the chain rule passes on incomplete adjoints.
# * Gradients **accumulate**: a value used twice gets the sum of the two shares.
# * `stop_gradient` (backward sends nothing) and `scale_grad` (backward multiplies by $c$) are nodes that
#   change only the backward pass; truncated BPTT is built from them.
#
# ## Your turn
#
# **Assignment `a1_backward`** asks you to write the backward of the engine's ops yourself: `unbroadcast`,
# `Add`, `Mul`, `Exp`, `Tanh`, `MatMul`, `Sum` and the softmax cross-entropy. Get it with
# `python -m assignments release my_work/ -a 1` and run `pytest` in `my_work/a1_backward/`.
#
# A warm-up here first. Write the local rule of `tanh` as a function of its input $a$, its output $b$ and
# the adjoint $\bar b$ arriving from above, returning $\bar a$; and, as a second exercise, the adjoint of
# the *input* $x$ of our graph, $\partial y/\partial x$, by the same reverse walk (the engine never computed
# it, since $x$ is not a parameter). Replace the `None`s and run the cell: `check` compares your answer with
# the engine on random inputs. The check itself is checked below: it accepts the right rule and rejects a
# plausible wrong one.

# %%
your_tanh_backward = None  # e.g. lambda a, b, b_bar: ...
your_dy_dx = None          # a number: dy/dx at w = 0.8, x = 1.5


def check_tanh_backward(rule, trials=20, seed=0):
    """True if rule(a, b, b_bar) gives the engine's gradient of tanh at random points."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        a_value, b_bar = rng.uniform(-3, 3), rng.standard_normal()
        a_t = mg.tensor(a_value, requires_grad=True)
        a_t.tanh().backward(np.array(b_bar))
        if not np.isclose(rule(a_value, np.tanh(a_value), b_bar), a_t.grad.item(), rtol=1e-10, atol=1e-12):
            return False
    return True


def check_dy_dx(value):
    """True if value is dy/dx at (w, x) = (0.8, 1.5), from the engine with x as a parameter."""
    w_t, x_t = mg.tensor(0.8), mg.tensor(1.5, requires_grad=True)
    a_t = w_t * x_t
    (a_t * a_t.tanh()).backward()
    return bool(np.isclose(value, x_t.grad.item(), rtol=1e-10))


# the checks can fail: the right rule passes, a plausible mistake does not
assert check_tanh_backward(lambda a, b, b_bar: b_bar * (1 - b ** 2))
assert not check_tanh_backward(lambda a, b, b_bar: b_bar * (1 - a ** 2))
assert check_dy_dx(w.item() * (b_ + a_ * (1 - b_ ** 2))) and not check_dy_dx(w_bar)
for name, answer, check in (("tanh backward", your_tanh_backward, check_tanh_backward),
                            ("dy/dx", your_dy_dx, check_dy_dx)):
    print(f"{name}: " + ("not tried yet" if answer is None else ("right" if check(answer) else "not right yet")))
