"""Tests for behaviour that mutation testing found unchecked (issue 20; docs/mutation.md).

Each test pins one property that a small edit of minigrad/tape.py or
minigrad/ops/base.py changed without any other test noticing: anomaly mode on
a finite backward, index checks with the bad index first, the growth
warning's edges, the compaction of dead tape entries, 0-d reductions, and
which nodes ``Tape.nodes()`` lists.
"""

import gc
import linecache
import warnings
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import AnomalyError, ShapeError


def leaf(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# -- anomaly mode --------------------------------------------------------------
def test_a_finite_backward_under_anomaly_mode_runs_and_gives_the_usual_gradient():
    x = leaf([0.5, -1.0, 2.0])
    with mg.detect_anomaly():
        loss = ((x * x).tanh() + x.exp()).sum()
        loss.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data * (1 - np.tanh(x.data ** 2) ** 2) + np.exp(x.data))


def test_anomaly_mode_names_the_op_whose_backward_is_not_finite():
    # sqrt is finite at 0, its slope is not: the forward passes, the backward must not
    x = leaf([0.0, 4.0])
    with mg.detect_anomaly(), mg.tags(step=3):
        y = (x ** 0.5).sum()
    with mg.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's divide by zero in 0 ** -0.5
        with pytest.raises(AnomalyError, match=r"backward of 'pow'.*step.*3.*input 0 of shape \(2,\)"):
            y.backward()


def test_a_non_finite_backward_is_let_through_without_anomaly_mode():
    x = leaf([0.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (x ** 0.5).sum().backward()
    assert np.isinf(x.grad[0]) and x.grad[1] == pytest.approx(0.25)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_a_non_finite_forward_under_anomaly_mode_raises_anomaly_error_with_or_without_a_node(requires_grad):
    x = mg.tensor([1.0, 0.0], requires_grad=requires_grad)
    with mg.detect_anomaly(), mg.tags(step=5), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(AnomalyError, match=r"'log' produced a non-finite value \(tags \{'step': 5\}\)"):
            x.log()


def test_a_non_finite_forward_under_no_grad_and_anomaly_mode_raises_anomaly_error():
    x = leaf([0.0])
    with mg.detect_anomaly(), mg.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(AnomalyError, match="'log' produced a non-finite value"):
            x.log()


# -- index checks: the bad index in position 0 -----------------------------------
@pytest.mark.parametrize("index", [[-1, 0, 1], [3, 0, 1], [[5, 0], [1, 2]]])
def test_take_rows_rejects_a_bad_index_in_first_position(index):
    W = leaf(np.arange(6.0).reshape(3, 2))
    bad = np.asarray(index).reshape(-1)[0]
    with pytest.raises(ValueError, match=rf"take_rows: index {bad} is out of range for W with 3 rows"):
        mg.ops.take_rows(W, np.asarray(index))


def test_take_rows_accepts_every_row_and_scatters_the_gradient_back():
    W = leaf(np.arange(6.0).reshape(3, 2))
    rows = mg.ops.take_rows(W, np.array([0, 2, 0]))
    np.testing.assert_array_equal(rows.data, [[0, 1], [4, 5], [0, 1]])
    rows.sum().backward()
    np.testing.assert_array_equal(W.grad, [[2, 2], [0, 0], [1, 1]])


@pytest.mark.parametrize("targets", [[-2, 0, 1], [3, 0, 1]])
def test_cross_entropy_rejects_a_bad_target_in_first_position(targets):
    logits = leaf(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=rf"cross_entropy: target {targets[0]} is out of range for 3 classes"):
        mg.cross_entropy(logits, np.array(targets))


def test_cross_entropy_skips_a_target_of_minus_one_in_first_position():
    logits = leaf(np.zeros((3, 4)))
    loss = mg.cross_entropy(logits, np.array([-1, 0, 3]), reduction="sum")
    assert loss.item() == pytest.approx(2 * np.log(4))


# -- the growth warning's edges -------------------------------------------------------
def _grow(chain, w, n):
    """Add n nodes to the chain (each kept alive by the next), then one backward that keeps them."""
    for _ in range(n):
        chain = chain * w
    chain.backward(retain_graph=True)
    return chain


def _growth_warnings(record):
    return [str(w.message) for w in record if issubclass(w.category, RuntimeWarning) and "tape grew" in str(w.message)]


def test_the_growth_warning_comes_at_the_eighth_growing_backward_not_the_seventh():
    assert mg.Tape.GROWTH_PATIENCE == 8
    w = leaf(0.5)
    with mg.Tape() as tape, warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        chain = mg.tensor(1.0)
        for call in range(1, 8):
            chain = _grow(chain, w, 1)
        assert tape.live_nodes == 7 and _growth_warnings(record) == []
        chain = _grow(chain, w, 1)  # the 8th growing backward in a row
        assert _growth_warnings(record) == [
            "the tape grew from 0 to 8 live nodes over 8 backward calls: a hidden state is probably still "
            "attached to the graph of earlier updates, so every backward walks the whole history. Detach it "
            "between updates (h = h.detach()) or cut the tape (tape.cut(h))."
        ]
        for _ in range(10):  # once only
            chain = _grow(chain, w, 1)
        assert len(_growth_warnings(record)) == 1


def test_a_backward_without_growth_restarts_the_count():
    w = leaf(0.5)
    with mg.Tape() as tape, warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        chain = mg.tensor(1.0)
        for _ in range(7):
            chain = _grow(chain, w, 1)
        chain = _grow(chain, w, 0)  # same size as before: not growing
        for _ in range(7):
            chain = _grow(chain, w, 1)
        assert tape.live_nodes == 14
        assert _growth_warnings(record) == []
        chain = _grow(chain, w, 1)  # the 8th growing call since the pause
        assert len(_growth_warnings(record)) == 1


def test_the_growth_warning_needs_the_tape_to_more_than_double():
    w = leaf(0.5)
    with mg.Tape() as tape, warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        chain = _grow(mg.tensor(1.0), w, 20)  # one growing call, then a pause:
        chain = _grow(chain, w, 0)  # the next growth starts from 20 live nodes
        for _ in range(20):  # 20 growing calls in a row, up to exactly twice the start
            chain = _grow(chain, w, 1)
        assert tape.live_nodes == 40
        assert _growth_warnings(record) == []
        chain = _grow(chain, w, 1)  # 41 > 2 * 20
        assert len(_growth_warnings(record)) == 1
        assert _growth_warnings(record)[0].startswith("the tape grew from 20 to 41 live nodes over 21 backward calls")


# -- tape bookkeeping -------------------------------------------------------------------
def test_dead_graphs_do_not_pile_up_in_the_tape_entries():
    # The tape keeps a weak reference per recorded node; a graph nobody holds dies at once,
    # and the tape drops its dead references once they outnumber the live ones (plus 1024).
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        kept = [x * 2.0 for _ in range(100)]
        for _ in range(5000):
            (x * 3.0).sum()  # recorded, then dead at once
        assert tape.live_nodes == 100
        assert len(tape._entries) <= 2 * 100 + 1024 + 1  # private: the list the tape compacts
        assert [n.op for n in tape.nodes()] == ["mul"] * 100
        del kept


def test_nodes_lists_neither_freed_nor_cut_nodes():
    with mg.Tape() as tape:
        x = leaf([1.0, -2.0])
        y = x * 2.0
        z = y.tanh()
        loss = z.sum()
        assert [n.op for n in tape.nodes()] == ["mul", "tanh", "sum"]
        tape.cut(y)  # y's node is released (y stays alive, as a leaf)
        assert [n.op for n in tape.nodes()] == ["tanh", "sum"] == [n.op for n in tape]
        loss.backward()  # releases the rest; y, z and loss still hold their (freed) nodes
        assert z.node.freed and loss.node.freed
        assert tape.nodes() == [] and list(tape) == [] and len(tape) == 0


def test_a_node_counts_the_bytes_of_its_saved_arrays_until_released():
    x = leaf(np.ones((4, 5)))
    y = x.tanh()  # saves its output: 20 float64
    node = y.node
    assert node.nbytes == sum(a.nbytes for a in node.saved if isinstance(a, np.ndarray)) >= 160
    y.sum().backward()
    assert node.freed and node.nbytes == 0


# -- reductions of a 0-d tensor --------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,), [0], [-1]])
def test_reductions_of_a_0d_tensor_over_its_only_axis_work_and_backpropagate(reduce, axis):
    # NumPy's sum and max take axis 0 and -1 on a 0-d array (its mean refuses both); here
    # sum, mean and max agree, as the issue asked
    x = mg.tensor(3.0, requires_grad=True)
    y = getattr(x, reduce)(axis=axis)
    assert y.shape == () and y.item() == 3.0
    (y * 2.0).backward()
    assert x.grad == 2.0 and np.shape(x.grad) == ()
    assert getattr(mg, reduce)(mg.tensor(3.0), axis=axis).item() == 3.0


@pytest.mark.parametrize("axis", [0, -1])
def test_sum_and_max_of_a_0d_tensor_take_the_axes_numpy_takes(axis):
    assert mg.tensor(3.0).sum(axis=axis).item() == np.sum(np.array(3.0), axis=axis)
    assert mg.tensor(3.0).max(axis=axis).item() == np.max(np.array(3.0), axis=axis)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [1, -2, (0, 1), [2]])
def test_reductions_of_a_0d_tensor_refuse_an_axis_it_does_not_have(reduce, axis):
    bad = [a for a in (axis if isinstance(axis, (tuple, list)) else (axis,)) if a not in (0, -1)][0]
    with pytest.raises(ShapeError, match=rf"^{reduce}: axis {bad} is out of range for a tensor with 0 dimensions"):
        getattr(mg.tensor(3.0), reduce)(axis=axis)


# -- nodes: what they expose and what releasing them drops ------------------------------------------
def test_a_recorded_node_exposes_its_op_inputs_output_and_defaults():
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        y = x * 2.0
    node = y.node
    assert node.op == "mul" and node.tape is tape and node.output() is y
    assert node.inputs[0] is x and node.inputs[1].data == 2.0
    assert node.meta is None and node.tags == {} and not node.freed and not node.retain


def test_releasing_a_node_drops_its_inputs_and_saved_arrays_and_is_counted_once():
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        a = x * 2.0
        y = a.tanh()
        z = y * 3.0
    assert tape.live_nodes == 3
    node = y.node
    assert node.saved != () and node.inputs == (a,)
    node.release()
    assert node.freed and node.saved == () and node.inputs == () and tape.live_nodes == 2
    node.release()  # a second release changes nothing
    assert tape.live_nodes == 2
    z.node.release()
    assert tape.live_nodes == 1 and tape.peak_live_nodes == 3 and a.node in tape.nodes()


def test_backward_lets_the_upstream_graph_die():
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        y = x * 2.0
        z = y.tanh()
        gone = weakref.ref(y)
        del y
        z.sum().backward()
        assert z.node.inputs == () and gone() is None  # the freed tanh node no longer holds y
        assert tape.saved_bytes() == 0


def test_a_fresh_tape_has_no_live_nodes_and_a_peak_of_zero():
    tape = mg.Tape()
    assert tape.live_nodes == 0 and tape.peak_live_nodes == 0 and tape.nodes() == [] and len(tape) == 0


class ScaleBy(mg.ops.Function):
    """A user-defined op that saves a Python number beside an array: y = c * a."""

    name = "scale_by"

    @staticmethod
    def forward(ctx, a, c):
        ctx.save(a, c)
        return a * c

    @staticmethod
    def backward(ctx, grad):
        a, c = ctx.saved
        return (grad * c,)


def test_saved_bytes_and_nbytes_count_only_the_arrays_a_node_saved():
    x = leaf(np.ones(4))
    with mg.Tape() as tape:
        y = ScaleBy.apply(x, c=2.5)
        assert y.node.nbytes == 32 and tape.saved_bytes() == 32
        y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.5] * 4)


def test_dead_entries_are_skipped_by_saved_bytes():
    x = leaf(np.ones(5))
    with mg.Tape() as tape:
        kept = x.tanh()  # saves its output: 5 float64
        for _ in range(10):
            (x * 3.0).sum()  # dead at once; their entries stay until the next compaction
        assert tape.saved_bytes() == 40 == kept.node.nbytes


def test_the_entry_list_is_compacted_only_now_and_then():
    # Compaction rebuilds the tape's list of weak references (private: tape._entries) once the
    # dead ones outnumber the live ones plus 1024; doing it on every record would make
    # recording a long sequence quadratic.
    x = leaf([1.0])
    with mg.Tape() as tape:
        kept, rebuilds, entries = [], 0, tape._entries
        for i in range(8000):
            if i < 3000:
                kept.append(x * 2.0)
            (x * 3.0).sum()  # dead at once
            if tape._entries is not entries:
                rebuilds, entries = rebuilds + 1, tape._entries
        assert tape.live_nodes == 3000
        assert 1 <= rebuilds <= 4
        assert len(tape._entries) <= 2 * 3000 + 1024 + 1


# -- cut and clear --------------------------------------------------------------------------
def test_cut_of_a_leaf_releases_nothing():
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        y = x * 2.0
        assert tape.cut(x) == 0
        assert tape.live_nodes == 1 and not y.node.freed


def test_cut_refuses_a_tensor_of_another_tape():
    x = leaf([1.0])
    with mg.Tape() as first:
        y = x * 2.0
    with mg.Tape() as second:
        with pytest.raises(ValueError, match="cut: the tensor was recorded on another tape"):
            second.cut(y)
    assert first.live_nodes == 1


def test_cut_releases_only_live_nodes_up_to_the_tensor_and_forgets_their_entries():
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        a = x * 2.0
        (a * 5.0).sum()  # a dead graph in between
        b = a.tanh()
        freed = (b * 1.0)
        freed.sum().backward(retain_graph=False)  # frees the mul, the sum and (b's) tanh and mul(a)
        c = b * 3.0
        d = c.exp()
        assert tape.live_nodes == 2  # c and d
        e = d * 2.0
        held = c.node  # a reference from elsewhere (a drawing, say) keeps the node object alive
        assert tape.cut(d) == 2  # c and d: the freed and dead ones before them are not counted again
        assert held.freed and held.saved == () and held.inputs == ()
        assert tape.live_nodes == 1 and c.node is None and d.node is None and not e.node.freed
        assert not d.requires_grad and d.grad is None
        assert len(tape._entries) == 1  # private: only e's entry is left


def test_clear_releases_every_node_and_says_how_many():
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        y = (x * 2.0).tanh()
        z = y.sum()
        assert tape.clear() == 3
        assert tape.live_nodes == 0 and tape.nodes() == [] and z.node is None and not z.requires_grad


# -- the current tape -----------------------------------------------------------------------
def test_a_nested_tape_restores_the_outer_one_and_does_not_keep_it_alive():
    with mg.Tape() as outer:
        with mg.Tape() as inner:
            assert mg.current_tape() is inner
        assert mg.current_tape() is outer
    gone = weakref.ref(outer)
    del outer
    gc.collect()
    assert gone() is None  # the finished inner tape holds no reference to it
    assert inner is not None


def test_is_grad_enabled_follows_no_grad():
    assert mg.is_grad_enabled() is True
    with mg.no_grad():
        assert mg.is_grad_enabled() is False
    assert mg.is_grad_enabled() is True


# -- backward over a tape that holds several graphs ------------------------------------------
def test_backward_walks_only_its_own_graph_past_freed_and_foreign_nodes():
    x = leaf([1.0, 2.0])
    with mg.Tape():
        a = x * 3.0  # the start of the graph we backpropagate ...
        y = x * 2.0
        y.sum().backward()  # ... recorded around another graph, freed but alive with y,
        other = x * 7.0  # and a third one, live
        x.grad = None
        (a * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    assert y.node.freed and not other.node.freed


def test_backward_into_a_freed_intermediate_raises_and_names_it():
    x = leaf([1.0, 2.0])
    with mg.Tape():
        with mg.tags(step=3):
            h = x * 2.0  # a hidden state ...
        h.sum().backward()  # ... used by one update, which frees its graph
        later = (h * 3.0).sum()  # carried into the next update without detach
        with pytest.raises(mg.errors.FreedGraphError, match=r"node #\d+ 'mul' \(tags \{'step': 3\}\), whose saved"):
            later.backward()


def test_the_freed_graph_message_leaves_out_tags_a_node_does_not_have():
    x = leaf([1.0])
    h = x * 2.0
    h.sum().backward()
    with pytest.raises(mg.errors.FreedGraphError, match=r"node #\d+ 'mul', whose saved arrays"):
        (h * 3.0).sum().backward()


def test_a_second_backward_from_a_freed_root_raises_even_after_a_cut():
    x = leaf([1.0, 2.0])
    with mg.Tape() as tape:
        loss = (x * 2.0).sum()
        loss.backward()
        later = x * 5.0
        tape.cut(later)  # forgets the tape entries of everything up to later, loss's included
        with pytest.raises(mg.errors.FreedGraphError, match="retain_graph=True"):
            loss.backward()


def test_no_gradient_reaches_a_leaf_through_stop_gradient_or_a_constant():
    x = leaf([1.0, 2.0])
    c = mg.tensor([3.0, 4.0])  # a constant: needs no gradient
    (mg.stop_gradient(x) * c).sum().backward()
    assert x.grad is None and c.grad is None
    (x * c).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    assert c.grad is None


def test_an_intermediate_used_twice_gets_the_sum_of_both_gradients():
    x = leaf([0.5, -1.0])
    y = x * 3.0
    (y * y + y * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * (2 * y.data + 2.0))


def test_the_growth_warning_points_at_the_line_that_called_backward():
    w = leaf(0.5)
    with mg.Tape(), warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        chain = mg.tensor(1.0)
        for _ in range(8):
            chain = _grow(chain, w, 1)
    [warning] = [w for w in record if "tape grew" in str(w.message)]
    assert warning.filename == __file__
    assert "chain.backward(retain_graph=True)" in linecache.getline(warning.filename, warning.lineno)


def test_is_anomaly_enabled_follows_detect_anomaly():
    assert mg.tape.is_anomaly_enabled() is False
    with mg.detect_anomaly():
        assert mg.tape.is_anomaly_enabled() is True
    assert mg.tape.is_anomaly_enabled() is False


# -- user-defined ops: what the engine hands them and says about them ----------------------------
class Seen(mg.ops.Function):
    """y = 2 a, saving nothing; its tangent rule records the context it was handed."""

    name = "seen"
    contexts = []

    @staticmethod
    def forward(ctx, a):
        return 2.0 * a

    @staticmethod
    def backward(ctx, grad):
        return (2.0 * grad,)

    @classmethod
    def jvp(cls, ctx, tangent):
        cls.contexts.append((ctx.saved, ctx.meta))
        return 2.0 * tangent


@pytest.mark.parametrize("requires_grad", [True, False])
def test_a_tangent_rule_sees_empty_saved_and_meta_when_forward_saved_nothing(requires_grad):
    Seen.contexts.clear()
    x = mg.tensor([1.0, 2.0], requires_grad=requires_grad)
    (y,), (dy,) = mg.jvp(lambda a: (Seen.apply(a),), (x,), (np.array([1.0, -1.0]),))
    np.testing.assert_array_equal(dy, [2.0, -2.0])
    assert Seen.contexts == [((), None)]


class SumOfMany(mg.ops.Function):
    """y = the sum of its inputs, whose backward forgets the last input's gradient."""

    name = "sum_of_many"

    @staticmethod
    def forward(ctx, *arrays):
        return np.sum(arrays, axis=0)

    @staticmethod
    def backward(ctx, grad):
        return (grad,) * (len(ctx.inputs) - 1)


def test_the_wrong_gradient_count_message_names_inputs_past_z_by_number():
    inputs = [leaf([1.0]) for _ in range(28)]
    with pytest.raises(mg.errors.BackwardError) as caught:
        SumOfMany.apply(*inputs).sum().backward()
    message = str(caught.value)
    assert "returned 27 gradients for its 28 inputs" in message
    assert "grad_y, grad_z, grad_26, grad_27)`" in message


class Widening(mg.ops.Function):
    """y = a, whose tangent rule hands back float64 whatever the output's dtype."""

    name = "widening"

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return (grad,)

    @staticmethod
    def jvp(ctx, tangent):
        return tangent.astype(np.float64) * 3.0


class DtypeProbe(mg.ops.Function):
    """y = a; its tangent rule records the dtype of the tangent it is handed."""

    name = "dtype_probe"
    seen = []

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return (grad,)

    @classmethod
    def jvp(cls, ctx, tangent):
        cls.seen.append(tangent.dtype)
        return tangent


def test_a_tangent_takes_its_output_s_dtype():
    DtypeProbe.seen.clear()
    x = mg.tensor(np.array([1.0, 2.0], dtype=np.float32))
    (y,), (dy,) = mg.jvp(lambda a: (DtypeProbe.apply(Widening.apply(a)),), (x,), (np.ones(2, dtype=np.float32),))
    assert DtypeProbe.seen == [np.float32]  # the next op gets a float32 tangent, as a float32 output has
    assert y.data.dtype == np.float32 and dy.dtype == np.float32
    np.testing.assert_array_equal(dy, [3.0, 3.0])
