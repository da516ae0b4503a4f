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
#    checked on the engine to round-off;
# 2. what powers of a matrix do: $M^k x$ turns towards the dominant eigenvector and grows or shrinks like
#    $|\lambda_1|^k$ (computed, and compared with the prediction);
# 3. the gradient norm against the time lag for spectral radius 0.9, 1.0 and 1.1 (plotted), and the same
#    thing drawn on the unrolled graph as *gradient heat*;
# 4. why a tanh RNN behaves differently (its Jacobians $\mathrm{diag}(f')A$);
# 5. three remedies, each measured: gradient clipping, orthogonal initialisation, layer normalisation.
#
# **What you need.** The chain rule, numpy, and tutorial 2 (BPTT for the Elman RNN). A little linear
# algebra: eigenvalues and eigenvectors of a symmetric matrix.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
import rnn
import rnn.viz
from minigrad.viz import show
from rnn import analysis
from rnn.layer_norm import LayerNormElman
from rnn.analysis import set_spectral_radius

FAST = os.environ.get("TUTORIAL_FAST") == "1"  # only shrinks the sequence lengths
T_LONG = 30 if FAST else 60  # the longest lag we look at


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
print("angle between M^k x and q_1 (degrees) at k = 0, 20, 40, 60:", np.round(angles[[0, 20, 40, 60]], 4))
assert np.all(angles <= bound + 1e-9), "the angle must stay below the |lambda_2/lambda_1|^k bound"
assert angles[K] < 0.1, "after 60 products only the dominant direction is left"

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(k, angles, "o-", markersize=3, label=r"angle between $M^k x$ and $q_1$ (power iteration)")
ax.semilogy(k, bound, "--", color="grey", label=r"bound: $\tan\theta_k \leq |\lambda_2/\lambda_1|^k \tan\theta_0$")
ax.set_xlabel("k (number of products)")
ax.set_ylabel("angle (degrees, log scale)")
ax.set_title(r"$M^k x$ turns towards the dominant eigenvector ($\lambda_1 = 0.95$, $\lambda_2 = -0.8$)")
ax.legend()
plt.show()

# %% [markdown]
# **What to look at.** The angle falls on a straight line in the log scale: it shrinks by a constant factor
# per step, about $|\lambda_2/\lambda_1| = 0.84$, and stays under the dashed bound. After 60 products it is
# below a tenth of a degree: only the dominant direction is left.
#
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

norms = {}
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
    slope = np.polyfit(lags[T_LONG // 2:], np.log(norms[rho][T_LONG // 2:]), 1)[0]
    print(f"rho = {rho}: engine vs closed form, worst relative difference {worst:.1e}; "
          f"norm at lag {T_LONG - 1} / norm at lag 0 = {norms[rho][-1] / norms[rho][0]:.3g}; "
          f"growth per step {np.exp(slope):.4f}")
    assert worst < 1e-10
    assert abs(slope - np.log(rho)) < 0.01, "for large lags the norm must grow like rho^k"

# %% tags=["readme"]
fig, ax = plt.subplots(figsize=(7, 4.2))
for rho, colour in zip(norms, ("tab:blue", "tab:green", "tab:red")):
    ax.semilogy(lags, norms[rho], "o", markersize=3, color=colour, label=rf"spectral radius $\rho = {rho}$")
    ax.semilogy(lags, norms[rho][-1] * rho ** (lags - lags[-1]), "--", color=colour, linewidth=1)
ax.plot([], [], "--", color="grey", linewidth=1, label=r"prediction $\propto \rho^k$")
ax.set_xlabel("time lag k (steps back from the loss)")
ax.set_ylabel(r"$\Vert\partial l_T/\partial h_{T-k}\Vert$ on the engine (log scale)")
ax.set_title(r"Linear RNN: the gradient vanishes or explodes like $\rho^k$")
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# **What to look at.** The dots are measured on the engine, the dashed lines are $\rho^k$. After the first
# steps (where the other eigen-directions still count) each curve is a straight line of slope $\log\rho$:
# over 60 steps, $0.9^{60} \approx 0.002$ and $1.1^{60} \approx 300$. An error made 60 steps after an input
# sends back to it a gradient 500 times weaker, or 300 times stronger, than one made right away. Only
# $\rho = 1$ keeps it, and only in the dominant direction.
#
# ## 4. The same, drawn on the unrolled graph
#
# `rnn.viz.heat` colours each $h_t$ of the unrolled graph by $\lVert \partial L / \partial h_t \rVert$ (log
# scale, dark = large). We give a target at the last step only (a NaN target means "no target here", so it
# adds nothing to the loss): then $L = l_T$ and the colours show the gradient of one loss flowing back
# (the boxes $l_1, \dots, l_9$ are still drawn; they are zero).
# Two spectral radii, 0.6 (contracting) and 1.4 (expanding), over 10 steps.

# %%
T_DRAW = 10
xs_draw = rng.standard_normal((T_DRAW, 2))
ys_draw = np.full((T_DRAW, 3), np.nan)
ys_draw[-1] = rng.standard_normal(3)
heat_norms = {}
for rho in (0.6, 1.4):
    model = rnn.LinearRNN(n_in=2, n_hidden=3, n_out=3, seed=0)
    set_spectral_radius(model, rho)
    unrolled = rnn.unroll(model, xs_draw, ys_draw, rnn.Full())
    drawing = rnn.viz.heat(unrolled)
    heat_norms[rho] = rnn.viz.state_grad_norms(unrolled)
    print(f"spectral radius {rho}: ||dL/dh_1|| / ||dL/dh_10|| = {heat_norms[rho][1] / heat_norms[rho][T_DRAW]:.3g}")
    show(drawing)
assert heat_norms[0.6][1] < 0.1 * heat_norms[0.6][T_DRAW] and heat_norms[1.4][1] > 10 * heat_norms[1.4][T_DRAW]

# %% [markdown]
# **What to look at.** In the first drawing the colour fades from dark at $h_{10}$ to light at $h_1$: the
# gradient vanishes on its way back. In the second it darkens: it explodes. $h_0$ is grey: it is a constant,
# not a trained value, so it gets no gradient.
#
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

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for rho, colour in zip(largest_sv, ("tab:green", "tab:purple")):
    left.plot(np.arange(1, T_LONG + 1), largest_sv[rho], color=colour, label=rf"$A$ of spectral radius {rho:g}")
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
right.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to look at.** With spectral radius 1 ($A$ orthogonal, so $\sigma_{\max}(A) = 1$) every Jacobian has
# $\sigma_{\max}(J_t) \le 1$, because $1 - h^2 \le 1$; here they all lie between 0.97 and 1. Yet the gradient
# falls by almost eight powers of ten over 60 steps, far below the dashed bound: the product of the norms assumes
# every step stretches the gradient in the direction it already points, but the Jacobians change from step
# to step and each one shrinks the other directions. With radius 4 the Jacobians jump around, large where
# the units are not saturated, small where they are; the gradient explodes, but by about $10^4$ over 60 steps,
# not $4^{60} \approx 10^{36}$, and not smoothly.
#
# ## 6. Remedies, each measured
#
# ### Gradient clipping (against explosion)
#
# If the gradient $g$ of all the weights is longer than a bound $c$, shrink it to length $c$:
# $g \leftarrow g \cdot c / \lVert g\rVert$ (`minigrad.optim.clip_grad_norm`). The direction is kept, only the
# step length is capped. We train the linear RNN with spectral radius 1.05 to output its input of 3 steps
# ago, with plain SGD, once without and once with clipping at $c = 10$. Each update uses a fresh batch of 16
# sequences of 40 steps and full BPTT. The loss is shown per target.

# %%
T_TASK, DELAY, BATCH, UPDATES = 40, 3, 16, 200


def delay_task(rng):
    """Inputs (T, batch, 1) and targets: the input DELAY steps earlier (NaN, no target, before that)."""
    xs = rng.standard_normal((T_TASK, BATCH, 1))
    ys = np.full_like(xs, np.nan)
    ys[DELAY:] = xs[:-DELAY]
    return xs, ys


def train_linear(clip):
    """SGD on the delay task; returns (loss per target, gradient norm before clipping) per update."""
    model = rnn.LinearRNN(n_in=1, n_hidden=16, n_out=1, seed=0)
    set_spectral_radius(model, 1.05)
    optimizer = mg.optim.SGD(model.parameters(), lr=1e-4)
    data_rng = np.random.default_rng(1)
    losses, grad_norms = [], []

    def update(plan_update, loss):
        params = model.parameters()
        raw = [p.grad.copy() for p in params]
        norm = mg.optim.clip_grad_norm(params, clip) if clip else np.sqrt(sum(np.sum(g ** 2) for g in raw))
        if clip:  # clipping rescales, it never turns the gradient
            kept = [p.grad for p in params]
            assert abs(analysis.cosine_similarity(np.concatenate([g.ravel() for g in raw]),
                                                  np.concatenate([g.ravel() for g in kept])) - 1) < 1e-12
        losses.append(loss / ((T_TASK - DELAY) * BATCH))
        grad_norms.append(norm)
        optimizer.step()

    for _ in range(UPDATES):
        rnn.run(model, *delay_task(data_rng), rnn.Full(), on_update=update)
        if losses[-1] > 1e6:  # diverged: stop before the numbers overflow
            break
    return np.array(losses), np.array(grad_norms)


plain_losses, plain_norms = train_linear(clip=None)
clipped_losses, clipped_norms = train_linear(clip=10.0)
print(f"without clipping: {len(plain_losses)} updates, loss {plain_losses[0]:.3g} -> {plain_losses[-1]:.3g}; "
      f"first gradient norm {plain_norms[0]:.3g}")
print(f"with clipping:    {len(clipped_losses)} updates, loss {clipped_losses[0]:.3g} -> {clipped_losses[-1]:.3g}")
print(f"gradient norm before clipping: median {np.median(clipped_norms):.3g}, largest {clipped_norms.max():.3g}")
assert plain_losses[-1] > 1e6, "without clipping the exploding gradient throws the weights far off"
assert clipped_losses[-10:].mean() < 0.25 * clipped_losses[:10].mean(), "with clipping it learns"

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, plain, clipped, top in ((left, plain_losses, clipped_losses, 1e4), (right, plain_norms, clipped_norms, 1e8)):
    ax.semilogy(plain, "o-", color="tab:red", label="SGD, no clipping")
    ax.semilogy(clipped, color="tab:blue", label="SGD, clipped at c = 10")
    ax.set_ylim(1, top)
    ax.annotate(f"no clipping: {plain[-1]:.0e} at update {len(plain) - 1}, off the scale",
                xy=(len(plain) - 1, top), xytext=(25, top / 30), color="tab:red",
                arrowprops={"arrowstyle": "->", "color": "tab:red"})
    ax.set_xlabel("update")
right.axhline(10.0, color="grey", linestyle="--", label="clipping bound c = 10")
left.set_ylabel("loss per target (log scale)")
left.set_title("Linear RNN, spectral radius 1.05: loss")
right.set_ylabel(r"$\Vert g \Vert$ before clipping (log scale)")
right.set_title("Gradient norm per update")
left.legend(loc="lower left")
right.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to look at.** Without clipping, the first gradient is about $10^5$ long; one SGD step with it
# makes $W_{hh}$ so large that the loss jumps by dozens of powers of ten (the red arrow), and training is
# over. With clipping the raw gradient stays huge (every step here is clipped), but each step moves the
# weights by at most $\text{lr} \cdot c$, and the loss falls steadily. Clipping treats the symptom of an
# exploding gradient; it does nothing for a vanishing one (a short gradient is never lengthened).
#
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

powers = [1, 5, 10, 20]
init_norms = {}
for name, A in (("Gaussian", gaussian), ("orthogonal", orthogonal)):
    spread = [analysis.singular_values(np.linalg.matrix_power(A, k))[[0, -1]] for k in powers]
    print(f"{name:>10}: spectral radius {analysis.spectral_radius(A):.2f}; (largest, smallest) singular value of W^k, "
          + ", ".join(f"k={k}: ({s[0]:.2f}, {s[1]:.1e})" for k, s in zip(powers, spread)))
    model = rnn.ElmanRNN(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
    model.A.data[:] = A
    init_norms[name] = np.mean([analysis.grad_norm_by_lag(model, xs_s, ys_s) for xs_s, ys_s in sequences], axis=0)
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

# %% [markdown]
# **What to look at.** Both start with the same spectral radius, yet the orthogonal start sends back a
# larger gradient at every lag: none of its directions is crushed. The tanh still shrinks the gradient
# ($1 - h^2 < 1$), so orthogonality delays vanishing at the start of training; it does not abolish it.
#
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
plain_by_scale, normalised_by_scale = {}, {}
for s in scales:
    plain = rnn.ElmanRNN(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
    normalised = LayerNormElman(n_in=2, n_hidden=n_hidden, n_out=3, seed=0)
    for cell in (plain, normalised):
        cell.A.data *= s
        cell.B.data *= s
    plain_by_scale[s] = np.mean([analysis.grad_norm_by_lag(plain, a, b) for a, b in sequences], axis=0)
    normalised_by_scale[s] = np.mean([analysis.grad_norm_by_lag(normalised, a, b) for a, b in sequences], axis=0)


def decades(curves):
    """How many powers of 10 separate the largest and smallest curve at the longest lag."""
    last = [curve[-1] for curve in curves.values()]
    return np.log10(max(last) / min(last))


print(f"at lag {T_LONG - 1} the curves span {decades(plain_by_scale):.1f} decades without layer norm, "
      f"{decades(normalised_by_scale):.1e} with it")
assert decades(plain_by_scale) > 5
assert decades(normalised_by_scale) < 1e-3

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

# %% [markdown]
# **What to look at.** Left, the same network with its weights scaled by 0.5 or by 4 goes from a gradient
# that vanishes to one that explodes, over many powers of ten. Right, the four curves lie on top of each
# other (drawn with decreasing widths so you can see them all). Layer normalisation does not make the
# gradient constant over the lags (the tanh and the normalisation still shape it); it removes the
# dependence on the scale of the weights, so training cannot drift into explosion by growing them.
#
# ## Summary
#
# * $\partial L/\partial h_t = \sum_{i \ge t} (W_{hh}^\top)^{i-t} W_{qh}^\top e_i$: the error $k$ steps later
#   arrives through the $k$-th power of $W_{hh}^\top$.
# * Powers of a matrix turn every vector towards the dominant eigenvector and scale it like $\rho^k$:
#   vanishing for $\rho < 1$, exploding for $\rho > 1$.
# * With a nonlinearity the matrices change from step to step ($\mathrm{diag}(f')A$), and saturation
#   shrinks them.
# * Clipping caps the step when the gradient explodes; an orthogonal start keeps all directions at first;
#   layer normalisation makes the gradient flow independent of the scale of the weights.
#
# Next, tutorial 4: if distant gradients are so weak anyway, why not cut them off on purpose?
