"""Online gradients: carry dh_t/dtheta forward in time instead of unrolling a window.

BPTT stores the past and walks it backwards.  The online family never looks
back: it carries the *influence* of every parameter on the current state,

    M_t = dh_t/dtheta = J_t M_{t-1} + N_t,     J_t = dh_t/dh_{t-1},  N_t = dh_t/dtheta (h_{t-1} held fixed),

and turns each loss into a gradient on the spot,

    dl_t/dtheta = dl_t/dtheta (h_{t-1} held fixed) + dl_t/dh_{t-1} M_{t-1}.

This is seed 002's forward recursion for dh_t/dw_h, the sum that BPTT
truncates, computed exactly instead.  Memory is the size of M (state size x
number of parameters), whatever the length of the sequence.

* ``RTRL(every=k)``: real-time recurrent learning (Williams and Zipser, 1989),
  the exact M_t. For the Elman cell M_t = D_t (A M_{t-1} + N_t) with
  D_t = diag f'(a_t), as BLAS products: O(n^4) time per step for n hidden
  units. Any other cell goes through the engine's forward mode
  (``minigrad.jvp``), one tangent per parameter entry: slow, but general.
* ``UORO(every=k, seed=s)``: unbiased online recurrent optimization (Tallec
  and Ollivier, 2017), a random rank-one estimate M_t ~ s_t theta_t^T with
  E[s_t theta_t^T] = M_t, in O(n^2): one forward-mode product J_t s and one
  reverse-mode product nu^T N_t per step, with the paper's variance-reducing
  scalings rho_0, rho_1 and random signs nu drawn from the seed.  With a batch,
  the stacked states of all sequences share one rank-one estimate (still unbiased).
* ``SnAp(level=1, every=k)``: the sparse n-step approximation (Menick et al.,
  2020, "Practical Real Time Recurrent Learning with a Sparse Approximation"),
  level 1: keep only the entries of M that a parameter reaches in one step
  (the pattern of N_t) and drop the rest after every step. Exact when the
  recurrent matrix is diagonal, biased otherwise; O(n^2) for the Elman cell.

The contract, as for every strategy: ``rnn.gradients`` makes an update every k
steps (and one at T for a remainder), each holding the gradient of the losses
since the last update, carried back to h_0 through the whole past, at fixed
weights: RTRL gives it exactly (the sum of its updates is Full BPTT's gradient),
UORO an unbiased estimate, SnAp-1 its sparse approximation.  With ``rnn.fit``
the optimizer steps at each update and the influence carries on with the new
weights, as the algorithms prescribe.

There is no unrolled window to draw: the plan of an online strategy has every
edge passing and every update reaching h_0, and ``rnn.viz`` says so.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import validate
from minigrad.tensor import Tensor

from .bptt import Result, batch_of, step_loss
from .cells import ElmanRNN, LinearRNN, holds_indices
from .manual import ACTIVATIONS
from .registry import register_strategy
from .states import parts
from .truncation import PASS, Plan, Strategy, Update


class OnlineStrategy(Strategy):
    """Base class: an update every ``every`` steps (and at T), computed by carrying influence forward."""

    def __init__(self, every: int = 1):
        self.every = validate.positive_int("every", every)

    def plan(self, T: int) -> Plan:
        T = validate.positive_int("T (the sequence length)", T)
        ends = list(range(self.every, T + 1, self.every))
        if not ends or ends[-1] != T:
            ends.append(T)
        updates, previous = [], 0
        for t in ends:
            updates.append(Update(t=t, first=previous + 1, reach=0))
            previous = t
        return Plan(T, (PASS,) * (T + 1), tuple(updates), carries=self.carries)

    #: what the strategy carries forward, for the drawings
    carries = "dh_t/dtheta"

    def influence(self, model, batch):  # pragma: no cover - abstract
        """A fresh carrier of dh/dtheta for one run (an ``Influence``)."""
        raise NotImplementedError

    def run_online(self, model, xs, ys, plan: Plan, loss, h0, on_update, scales=None) -> Result:
        """Execute the plan: one forward pass, each loss turned into a gradient as it comes."""
        params = model.parameters()
        sizes = [p.data.size for p in params]
        batch = batch_of(xs)
        h = model.initial_state(batch) if h0 is None else h0
        h = _constant(h)
        carrier = self.influence(model, batch)
        result = Result(plan)
        gradient, total, next_update = np.zeros(sum(sizes)), 0.0, 0
        for t in range(1, plan.T + 1):
            h, loss_value, loss_gradient = carrier.step(model, xs[t - 1], ys[t - 1], h, loss)
            gradient += loss_gradient
            total += loss_value
            update = plan.updates[next_update]
            if update.t != t:
                continue
            scale = 1.0 if scales is None else scales[next_update]
            gradient, total = gradient * scale, total * scale
            for p, g in zip(params, np.split(gradient, np.cumsum(sizes)[:-1])):
                p.grad = g.reshape(p.data.shape).astype(p.data.dtype)
            result.losses.append(total)
            result.peak_bytes = max(result.peak_bytes, carrier.nbytes)
            if on_update is not None:
                on_update(update, total)
            gradient, total, next_update = np.zeros(sum(sizes)), 0.0, next_update + 1
        result.final_state = h
        return result


def _constant(state):
    """The state as constant tensors (its data): the past reaches the present only through M."""
    if isinstance(state, tuple):
        return tuple(_constant(s) for s in state)
    return mg.tensor(state.data if isinstance(state, Tensor) else np.asarray(state))


def _flat_state(state) -> np.ndarray:
    """A state's parts joined along the last axis: (S,) or (batch, S)."""
    return np.concatenate([s.data for s in parts(state)], axis=-1)


def _split_state(vector: np.ndarray, like) -> tuple:
    """``vector`` (..., S) cut into arrays shaped like the parts of the state ``like``."""
    widths = [s.data.shape[-1] for s in parts(like)]
    return tuple(np.split(vector, np.cumsum(widths)[:-1], axis=-1))


# -- the influence carriers --------------------------------------------------------------
class Influence:
    """What one run carries forward, and how one step turns a loss into a gradient."""

    nbytes = 0

    def step(self, model, x, y, h, loss):  # pragma: no cover - abstract
        """Advance from state h by one step: (h_t, l_t, dl_t/dtheta flattened)."""
        raise NotImplementedError


def _tangent_step(model, params, x, y, h, loss, param_tangent, state_tangent):
    """One step under forward mode: (h_t, l_t) and their tangents along (param_tangent, state_tangent)."""
    h_parts = parts(h)

    def fn(*primals):
        state = tuple(primals[len(params):]) if isinstance(h, tuple) else primals[len(params)]
        h_new, y_hat = model.step(x, state)
        return (*parts(h_new), step_loss(loss, y_hat, y))

    tangents = [*param_tangent, *(_split_state(state_tangent, h) if state_tangent is not None else (None,) * len(h_parts))]
    with mg.no_grad():
        outputs, output_tangents = mg.jvp(fn, (*params, *h_parts), tangents)
    state_out = tuple(_constant(o) for o in outputs[:-1])
    h_new = state_out if isinstance(h, tuple) else state_out[0]
    return h_new, outputs[-1].item(), np.concatenate(output_tangents[:-1], axis=-1), float(output_tangents[-1])


class ForwardModeInfluence(Influence):
    """The exact M_t through the engine's forward mode: one tangent per parameter entry, any cell.

    With ``mask`` (SnAp), M_t keeps only the entries where the mask is true, and each
    gradient is formed with that sparse M_t, as in the SnAp paper.
    """

    def __init__(self, model, mask=None):
        self.params = model.parameters()
        self.sizes = [p.data.size for p in self.params]
        self.M = None  # (..., S, P), made at the first step
        self.mask = mask

    @property
    def nbytes(self) -> int:
        return 0 if self.M is None else self.M.nbytes

    def step(self, model, x, y, h, loss):
        state = _flat_state(h)
        P = sum(self.sizes)
        if self.M is None:
            self.M = np.zeros(state.shape + (P,))
        M_new = np.empty_like(self.M)
        gradient = np.empty(P)
        h_new = loss_value = None
        for j in range(P):
            h_new, loss_value, dh, dl = _tangent_step(model, self.params, x, y, h, loss,
                                                      _unit_tangents(self.params, self.sizes, j), self.M[..., j])
            M_new[..., j] = dh
            gradient[j] = dl
        if self.mask is not None:
            # SnAp uses the sparse influence in the gradient too: take out what the mask drops
            dropped = M_new * ~self.mask
            M_new = M_new * self.mask
            dl_dh = _loss_state_gradient(model, x, y, h, loss)
            gradient -= np.einsum("bs,bsp->p", dl_dh.reshape(-1, dl_dh.shape[-1]),
                                  dropped.reshape((-1,) + dropped.shape[-2:]))
        self.M = M_new
        return h_new, loss_value, gradient


def _loss_state_gradient(model, x, y, h, loss) -> np.ndarray:
    """dl_t/dh_t: the gradient of the step's loss with respect to each part of the new state, the
    other parts held fixed (the parts joined), by reverse mode.

    A backward from l_t gives each part its *total* gradient.  For a part that another part is
    computed from (the per-op LSTM's c_t, inside h_t = o tanh(c_t)) that total also counts the way
    through the other part, which SnAp's correction must not.  With J_jk the derivative of part j
    with respect to part k (along every path), total_k = partial_k + sum_j J_jk^T partial_j over the
    parts j made after k; so, newest part first, partial_k = total_k - sum_j J_jk^T partial_j, one
    backward from the newer parts each.  (The fused LSTM's h and c are two slices of one node:
    neither is made from the other, and nothing is taken away.)
    """
    params = model.parameters()
    for p in params:
        # the backward below adds into .grad in place: never into the arrays the last update handed out
        p.grad = None
    with mg.Tape():
        h_new, y_hat = model.step(x, _constant(h))
        kept = parts(h_new)
        for part in kept:
            part.retain_grad()
        l_t = step_loss(loss, y_hat, y)
        partials = [np.zeros_like(part.data) for part in kept]
        if l_t.requires_grad:
            l_t.backward(retain_graph=True)
            totals = [_grad_or_zeros(part) for part in kept]
            newest_first = sorted(range(len(kept)), key=lambda i: _made_at(kept[i]), reverse=True)
            for position, k in enumerate(newest_first):
                newer = [j for j in newest_first[:position] if kept[j].requires_grad]
                for part in kept:
                    part.grad = None
                for j in newer:
                    kept[j].backward(partials[j], retain_graph=True)
                partials[k] = totals[k] - _grad_or_zeros(kept[k]) if newer else totals[k]
    for p in params:
        p.grad = None
    return np.concatenate(partials, axis=-1)


def _grad_or_zeros(t) -> np.ndarray:
    return np.zeros_like(t.data) if t.grad is None else t.grad


def _made_at(t) -> int:
    """When the tape recorded the node that made ``t`` (-1 for a leaf): a part can only be made from older ones."""
    return -1 if t.node is None else t.node.seq


def _unit_tangents(params, sizes, j: int) -> list:
    """Tangents for the parameters: the unit vector e_j of the flattened parameters, cut per parameter."""
    tangents, start = [], 0
    for p, size in zip(params, sizes):
        if start <= j < start + size:
            t = np.zeros(size, dtype=p.data.dtype)
            t[j - start] = 1.0
            tangents.append(t.reshape(p.data.shape))
        else:
            tangents.append(None)
        start += size
    return tangents


#: direct_pattern's probes: random points, each also probed negated
PROBES = 4


def direct_pattern(model, batch) -> np.ndarray:
    """Which entries of N = dh_t/dtheta (h_{t-1} fixed) can be nonzero: (S, P) booleans.

    The union of N's nonzeros at random states and inputs and at their negations, so
    that no entry is zero by accident: not as the A columns are at h_0 = 0, nor as a
    relu unit is where its pre-activation is negative (a = A h + B x changes sign
    with (h, x)).  SnAp-1 keeps exactly these entries of M.
    """
    rng = np.random.default_rng(0)
    params = model.parameters()
    sizes = [p.data.size for p in params]
    n_in = getattr(model, "n_in")
    pattern = np.zeros((_flat_state(model.initial_state(batch)).shape[-1], sum(sizes)), dtype=bool)
    for _ in range(PROBES):
        h = _random_like(model.initial_state(batch), rng)
        x = rng.standard_normal((n_in,) if batch is None else (batch, n_in))
        for probe_h, probe_x in ((h, x), (_negated(h), -x)):
            pattern |= _pattern_at(model, params, sizes, _constant(probe_h), probe_x)
    return pattern


def _pattern_at(model, params, sizes, h, x) -> np.ndarray:
    """The nonzeros of N at the state h and input x: (S, P) booleans (any over a batch)."""
    columns = []
    for j in range(sum(sizes)):
        def fn(*primals):
            state = tuple(primals[len(params):]) if isinstance(h, tuple) else primals[len(params)]
            return parts(model.step(x, state)[0])

        with mg.no_grad():
            _, dh = mg.jvp(fn, (*params, *parts(h)), [*_unit_tangents(params, sizes, j), *(None,) * len(parts(h))])
        column = np.abs(np.concatenate(dh, axis=-1)) > 0
        columns.append(column if column.ndim == 1 else column.any(axis=tuple(range(column.ndim - 1))))
    return np.stack(columns, axis=1)


def _negated(state):
    if isinstance(state, tuple):
        return tuple(_negated(s) for s in state)
    return -state


def _random_like(state, rng):
    if isinstance(state, tuple):
        return tuple(_random_like(s, rng) for s in state)
    return rng.uniform(-0.9, 0.9, state.data.shape)


class ElmanInfluence(Influence):
    """RTRL and SnAp-1 for the Elman cell, in NumPy: M_t = D_t (A M_{t-1} + N_t).

    theta_r = (A, B[, b_h]) are the recurrent parameters (M covers them); the
    readout C[, b_y] reaches each loss directly.  N_t has one nonzero per column:
    dA_ik -> unit i gets h_{t-1,k}, dB_ik -> unit i gets x_{t,k}, db_i -> unit i gets 1.
    ``sparse`` (SnAp-1) keeps only those entries of M: then M is one number per
    parameter, m_j = M[unit(j), j], updated as f'_i (A_ii m_j + N_j).
    """

    def __init__(self, model: ElmanRNN, batch, sparse: bool):
        self.model, self.sparse = model, sparse
        H, n_in = model.n_hidden, model.n_in
        self.n_recurrent = H * H + H * n_in + (H if model.bias else 0)
        #: unit(j): the hidden unit parameter j feeds directly
        self.unit = np.concatenate([np.repeat(np.arange(H), H), np.repeat(np.arange(H), n_in)]
                                   + ([np.arange(H)] if model.bias else []))
        lead = () if batch is None else (batch,)
        self.M = np.zeros(lead + ((self.n_recurrent,) if sparse else (H, self.n_recurrent)))

    @property
    def nbytes(self) -> int:
        return self.M.nbytes

    def _direct(self, h_prev: np.ndarray, x: np.ndarray) -> np.ndarray:
        """N_t's nonzero per column: (..., P_r), the value that parameter j adds to a_unit(j)."""
        H = self.model.n_hidden
        lead = h_prev.shape[:-1]
        pieces = [np.broadcast_to(h_prev[..., None, :], lead + (H, H)).reshape(lead + (H * H,)),
                  np.broadcast_to(x[..., None, :], lead + (H, x.shape[-1])).reshape(lead + (-1,))]
        if self.model.bias:
            pieces.append(np.ones(lead + (H,)))
        return np.concatenate(pieces, axis=-1)

    def step(self, model, x, y, h, loss):
        A, B, C = (w.data for w in model.weights())
        if holds_indices(x):
            x = np.eye(model.n_in)[x]
        x = np.asarray(x, dtype=A.dtype)
        h_prev = h.data
        a = h_prev @ A.T + x @ B.T + (model.b_h.data if model.bias else 0.0)
        h_new = ACTIVATIONS[model.f_name][0](a)
        slope = ACTIVATIONS[model.f_name][1](h_new)  # f'(a_t), through the output
        direct = self._direct(h_prev, x)
        if self.sparse:
            diagonal = np.diag(A)[self.unit]
            self.M = slope[..., self.unit] * (diagonal * self.M + direct)
        else:
            self.M = slope[..., :, None] * (A @ self.M
                                            + _scatter(direct, self.unit, model.n_hidden))
        h_tensor = mg.tensor(h_new)
        loss_value, dl_dh, readout = _readout_gradients(model, h_tensor, y, loss)
        if self.sparse:
            recurrent = np.sum(dl_dh[..., self.unit] * self.M, axis=tuple(range(self.M.ndim - 1)))
        else:
            H, P = self.M.shape[-2:]
            recurrent = np.einsum("bi,bip->p", dl_dh.reshape(-1, H), self.M.reshape(-1, H, P))
        return h_tensor, loss_value, _elman_gradient(model, recurrent, readout)


def _scatter(direct: np.ndarray, unit: np.ndarray, H: int) -> np.ndarray:
    """N_t as a dense (..., H, P) array: column j holds direct[..., j] in row unit[j]."""
    dense = np.zeros(direct.shape[:-1] + (H, direct.shape[-1]))
    dense[..., unit, np.arange(direct.shape[-1])] = direct
    return dense


def _readout_gradients(model: ElmanRNN, h: Tensor, y, loss):
    """l_t from h_t through the Elman readout y_hat = g(C h [+ b_y]), by the engine's reverse mode.

    Returns (l_t, dl_t/dh_t, {readout parameter name: dl_t/dparameter}).
    """
    h = h.detach().requires_grad_()
    readout = [model.weights()[2]] + ([model.b_y] if model.bias else [])
    for p in readout:
        p.grad = None
    with mg.Tape():
        q = mg.matvec(model.weights()[2], h)
        if model.bias:
            q = q + model.b_y
        l_t = step_loss(loss, model.g(q), y)
        l_t.backward()
    grads = {id(p): (np.zeros_like(p.data) if p.grad is None else p.grad) for p in readout}
    for p in readout:
        p.grad = None
    return l_t.item(), (np.zeros_like(h.data) if h.grad is None else h.grad), grads


def _elman_gradient(model: ElmanRNN, recurrent: np.ndarray, readout: dict) -> np.ndarray:
    """The flattened gradient in ``model.parameters()`` order from the recurrent part and the readout's."""
    A, B, _ = model.weights()
    by_parameter = dict(zip((id(A), id(B)), np.split(recurrent[:A.data.size + B.data.size], [A.data.size])))
    if model.bias:
        by_parameter[id(model.b_h)] = recurrent[A.data.size + B.data.size:]
    by_parameter.update({key: value.reshape(-1) for key, value in readout.items()})
    return np.concatenate([by_parameter[id(p)].reshape(-1) for p in model.parameters()])


class UOROInfluence(Influence):
    """UORO's rank-one estimate M_t ~ s theta^T (Tallec and Ollivier 2017, algorithm 1).

    Per step, with the state h_{t-1} and the pair (s, theta) carried in:

        dl_t/dtheta ~ dl_t/dtheta (h_{t-1} fixed) + (dl_t/dh_{t-1} . s) theta
        nu          = random signs, one per state entry
        rho0        = sqrt(||theta|| / ||J_t s||),   rho1 = sqrt(||nu^T N_t|| / ||nu||)
        s          <- rho0 J_t s + rho1 nu,          theta <- theta / rho0 + nu^T N_t / rho1

    E[nu nu^T] = I makes E[s theta^T] = M_t (unbiased); the rho's balance the
    two terms' sizes, which minimises the variance of the estimate.  J_t s is
    one forward-mode product (``minigrad.jvp``), nu^T N_t and the loss
    gradients one reverse-mode pass each.
    """

    EPS = 1e-7  # keeps the rho's finite when a norm is zero (the first step: s = theta = 0)

    def __init__(self, model, rng: np.random.Generator):
        self.params = model.parameters()
        self.sizes = [p.data.size for p in self.params]
        self.rng = rng
        self.s = None  # (..., S)
        self.theta = np.zeros(sum(self.sizes))

    @property
    def nbytes(self) -> int:
        return self.theta.nbytes + (0 if self.s is None else self.s.nbytes)

    def step(self, model, x, y, h, loss):
        state = _flat_state(h)
        if self.s is None:
            self.s = np.zeros_like(state)
        # J_t s by forward mode (the parameters held still)
        h_new, loss_value, J_s, _ = _tangent_step(model, self.params, x, y, h, loss,
                                                   [None] * len(self.params), self.s)
        # dl_t/dh_{t-1}, dl_t/dtheta (h_{t-1} fixed) and nu^T N_t by reverse mode on one step
        nu = self.rng.choice([-1.0, 1.0], size=state.shape)
        direct, dl_dh_prev, nu_N = self._reverse(model, x, y, h, loss, nu)
        gradient = direct + float(np.sum(dl_dh_prev * self.s)) * self.theta
        rho0 = np.sqrt((np.linalg.norm(self.theta) + self.EPS) / (np.linalg.norm(J_s) + self.EPS))
        rho1 = np.sqrt((np.linalg.norm(nu_N) + self.EPS) / (np.linalg.norm(nu) + self.EPS))
        self.s = rho0 * J_s + rho1 * nu
        self.theta = self.theta / rho0 + nu_N / rho1
        return h_new, loss_value, gradient

    def _reverse(self, model, x, y, h, loss, nu):
        leaves = tuple(mg.tensor(p.data, requires_grad=True) for p in parts(h))
        state = leaves if isinstance(h, tuple) else leaves[0]
        with mg.Tape():
            h_new, y_hat = model.step(x, state)
            l_t = step_loss(loss, y_hat, y)
            direct, dl_dh = _backward(self.params, leaves, l_t)
            weights = _split_state(nu, h)
            objective = None
            for part, w in zip(parts(h_new), weights):
                term = (part * w).sum()
                objective = term if objective is None else objective + term
            nu_N, _ = _backward(self.params, leaves, objective)
        return direct, dl_dh, nu_N


def _backward(params, leaves, objective):
    """d objective/d params (flattened) and d objective/d leaves (joined), keeping the graph."""
    for p in (*params, *leaves):
        p.grad = None
    if objective.requires_grad:
        objective.backward(retain_graph=True)
    flat = np.concatenate([(np.zeros_like(p.data) if p.grad is None else p.grad).reshape(-1) for p in params])
    joined = np.concatenate([np.zeros_like(l.data) if l.grad is None else l.grad for l in leaves], axis=-1)
    for p in (*params, *leaves):
        p.grad = None
    return flat, joined


# -- the strategies ---------------------------------------------------------------------
def _plain_elman(model) -> bool:
    """The fused Elman RNN or LinearRNN itself (not a subclass with its own step): the NumPy path.

    Every other cell, the per-op Elman RNN included, goes through forward mode.
    """
    return type(model) in (ElmanRNN, LinearRNN) and model.fused


@register_strategy("rtrl")
class RTRL(OnlineStrategy):
    """RTRL: the exact gradient carried forward as dh_t/dtheta (Williams and Zipser 1989), update every k steps.

    O(n^4) time and O(n^3) memory per step for n hidden units, nothing stored of the past.
    """

    carries = "RTRL carries the exact influence M_t = dh_t/dtheta"

    def influence(self, model, batch):
        if _plain_elman(model):
            return ElmanInfluence(model, batch, sparse=False)
        return ForwardModeInfluence(model)


@register_strategy("uoro")
class UORO(OnlineStrategy):
    """UORO: an unbiased rank-one estimate of dh_t/dtheta (Tallec and Ollivier 2017), update every k steps."""

    random = True
    carries = "UORO carries a rank-one estimate s theta^T of dh_t/dtheta"

    def __init__(self, every: int = 1, seed: int = 0):
        super().__init__(every)
        self.seed = validate.seed("UORO's seed", seed)
        self._rng = np.random.default_rng(self.seed)

    def influence(self, model, batch):
        return UOROInfluence(model, self._rng)


@register_strategy("snap")
class SnAp(OnlineStrategy):
    """SnAp-1: dh_t/dtheta kept only where a parameter acts within one step (Menick et al. 2020), every k steps."""

    carries = "SnAp-1 carries dh_t/dtheta where a parameter acts within one step"

    def __init__(self, level: int = 1, every: int = 1):
        if validate.positive_int("SnAp's level", level) != 1:
            raise ValueError(f"SnAp supports level 1 (the entries a parameter reaches in one step), got level={level}")
        super().__init__(every)
        self.level = 1

    def influence(self, model, batch):
        if _plain_elman(model):
            return ElmanInfluence(model, batch, sparse=True)
        return ForwardModeInfluence(model, mask=direct_pattern(model, batch))


# -- the influence-balancing problem ---------------------------------------------------------
class InfluenceBalancing(mg.nn.Module):
    """The UORO paper's influence-balancing problem: a parameter whose short-term and
    long-term influences have opposite signs.

    n linear units driven by one scalar parameter theta, the first ``positive``
    of them by +theta and the rest by -theta, each unit averaging itself with
    the next one:

        s_i <- (s_i + s_{i+1}) / 2 + b_i theta   (s_{n+1} = 0),  b = (+1, ..., +1, -1, ..., -1)
        y_hat = s_1,  loss 1/2 (y_hat - 1)^2

    One step after theta moves, s_1 moves with it (+1); the units further down
    reach s_1 later, and at the fixed point s_1 = 2 theta (2 positive - n), so
    with positive < n/2 the long-term influence is negative.  A truncation
    shorter than that delay sees only the positive part, pushes theta the
    wrong way, and diverges; exact or unbiased gradients converge to
    theta* = 1 / (2 (2 positive - n)).
    """

    def __init__(self, n: int = 23, positive: int = 10, theta: float = 0.0):
        super().__init__()
        self.n = validate.positive_int("n", n)
        self.positive = validate.positive_int("positive", positive, minimum=0)
        if self.positive > self.n:
            raise ValueError(f"positive must be at most n={n}, got {positive}")
        self.n_in = 1
        self.theta = mg.nn.Parameter(np.array([float(theta)]), name="theta")
        self.mixing = (np.eye(n) + np.eye(n, k=1)) / 2
        self.signs = np.where(np.arange(n) < self.positive, 1.0, -1.0)

    @property
    def optimum(self) -> float:
        """theta* = 1 / (2 (2 positive - n)): s_1 = 1 at the fixed point."""
        return 1.0 / (2 * (2 * self.positive - self.n))

    def initial_state(self, batch=None):
        return mg.tensor(np.zeros((self.n,) if batch is None else (batch, self.n)))

    def step(self, x, s):
        s = mg.matmul(s, mg.tensor(self.mixing.T)) + self.theta * mg.tensor(self.signs)
        return s, s[..., :1]


__all__ = ["OnlineStrategy", "RTRL", "UORO", "SnAp", "InfluenceBalancing", "direct_pattern"]
