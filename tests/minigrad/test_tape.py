"""Tape semantics: order, accumulation, truncation primitives, cutting, freeing, counts."""

import gc
import warnings
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import FreedGraphError, NonScalarBackwardError


def leaf(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_tape_records_nodes_in_forward_order_and_backward_visits_them_in_reverse():
    visited = []
    with mg.Tape() as tape:
        x = leaf([1.0, 2.0])
        y = x * 3.0
        z = y.tanh()
        loss = z.sum()
        assert [n.op for n in tape] == ["mul", "tanh", "sum"]
        original = {n.op: n.fn.backward for n in tape}
        for node in tape:
            node.fn = type(node.fn.__name__, (node.fn,), {
                "backward": staticmethod(lambda ctx, g, op=node.op: (visited.append(op), original[op](ctx, g))[1])
            })
        loss.backward()
    assert visited == ["sum", "tanh", "mul"]
    np.testing.assert_allclose(x.grad, 3 * (1 - np.tanh(3 * x.data) ** 2))


def test_a_tensor_used_twice_gets_the_sum_of_both_gradients():
    x = leaf([1.5, -2.0])
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


def test_diamond_graph():
    # a -> b = 2a, c = a^2 -> d = b * c ; dd/da = 2 a^2 + 2a * 2a = 6 a^2
    a = leaf([0.5, -1.0, 2.0])
    b = a * 2.0
    c = a ** 2
    (b * c).sum().backward()
    np.testing.assert_allclose(a.grad, 6 * a.data ** 2)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = leaf([1.0, 2.0])
    (x * 2.0).sum().backward()
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, [4.0, 4.0])
    x.zero_grad()
    assert x.grad is None


def test_stop_gradient_is_a_node_that_passes_no_gradient_upstream():
    with mg.Tape() as tape:
        x = leaf([1.0, 2.0])
        w = leaf([3.0, 4.0])
        y = mg.stop_gradient(x * w) * w
        assert "stop_gradient" in [n.op for n in tape]
        np.testing.assert_allclose(y.data, x.data * w.data ** 2)
        y.sum().backward()
    assert x.grad is None  # no path reached x
    np.testing.assert_allclose(w.grad, x.data * w.data)  # only the direct use of w


def test_scale_grad_scales_the_gradient_exactly_and_leaves_the_value():
    x = leaf([1.0, -2.0, 0.5])
    y = mg.scale_grad(x.tanh(), 0.25)
    np.testing.assert_array_equal(y.data, np.tanh(x.data))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 0.25 * (1 - np.tanh(x.data) ** 2))


def test_detach_makes_a_new_leaf_without_a_node():
    x = leaf([1.0, 2.0])
    y = (x * 2.0).detach()
    assert y.is_leaf and not y.requires_grad and y.node is None
    np.testing.assert_array_equal(y.data, [2.0, 4.0])


def test_no_grad_records_nothing():
    with mg.Tape() as tape:
        x = leaf([1.0, 2.0])
        with mg.no_grad():
            y = (x * x).sum()
        assert tape.live_nodes == 0
        assert not y.requires_grad and y.node is None


def test_second_backward_over_a_freed_graph_raises_and_says_what_to_do():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(FreedGraphError, match=r"retain_graph=True.*h = h.detach\(\)"):
        loss.backward()


def test_retain_graph_allows_a_second_backward_and_accumulates():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_backward_frees_the_nodes_it_used():
    with mg.Tape() as tape:
        x = leaf(np.ones(1000))
        loss = (x.tanh() * 2.0).sum()
        assert tape.live_nodes == 3 and tape.saved_bytes() >= 8000
        loss.backward()
        assert tape.live_nodes == 0 and tape.saved_bytes() == 0
        assert tape.peak_live_nodes == 3


def test_saved_bytes_counts_an_array_and_its_views_once():
    with mg.Tape() as tape:
        x = leaf(np.ones((10, 100)))
        y = x * x  # mul saves its inputs: x's 8,000 bytes, once
        rows = x[1:]
        z = rows * rows  # getitem saves nothing; this mul saves x[1:], a view into x
        assert tape.saved_bytes() == x.data.nbytes
        data = np.ones((10, 100))
        w = leaf(np.ones(900)).reshape(9, 100) * data[1:]  # a view of data no node owns: its own bytes
        assert tape.saved_bytes() == x.data.nbytes + 900 * 8 + data[1:].nbytes
    del y, z, w, rows


def test_non_scalar_backward_needs_an_explicit_grad():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    with pytest.raises(NonScalarBackwardError, match=r"shape \(2,\).*pass grad="):
        y.backward()
    y.backward(grad=np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [3.0, 30.0])


def test_cut_makes_the_tensor_a_leaf_and_releases_older_nodes():
    with mg.Tape() as tape:
        x = leaf(np.ones(10_000))
        h = x
        for _ in range(5):
            h = (h * 0.5).tanh()
        middle = h
        for _ in range(5):
            h = (h * 0.5).tanh()
        loss = h.sum()
        before_nodes, before_bytes = tape.live_nodes, tape.saved_bytes()
        released = tape.cut(middle)
        assert released == 10
        assert middle.is_leaf and not middle.requires_grad
        assert tape.live_nodes == before_nodes - 10
        # x and the first four tanh outputs were held only by the released nodes
        assert before_bytes - tape.saved_bytes() >= 5 * x.data.nbytes
        loss.backward()
    assert x.grad is None  # gradient stopped at the cut


def test_cut_then_backward_equals_backward_from_a_detached_copy():
    w = leaf([0.7, -0.3])
    with mg.Tape() as tape:
        h = mg.tensor([1.0, 1.0])
        for _ in range(3):
            h = (h * w).tanh()
        tape.cut(h)
        for _ in range(2):
            h = (h * w).tanh()
        h.sum().backward()
    cut_grad = w.grad.copy()
    w.zero_grad()
    h = mg.tensor([1.0, 1.0])
    with mg.no_grad():
        for _ in range(3):
            h = (h * w).tanh()
    h = h.detach()
    for _ in range(2):
        h = (h * w).tanh()
    h.sum().backward()
    np.testing.assert_allclose(cut_grad, w.grad)


def test_unreachable_graphs_are_freed_without_a_backward():
    with mg.Tape() as tape:
        x = leaf(np.ones(100))
        for _ in range(10):
            (x * 2.0).tanh()  # results dropped at once
        gc.collect()
        assert tape.live_nodes == 0


def test_tags_are_attached_to_nodes():
    with mg.Tape() as tape:
        x = leaf([1.0])
        with mg.tags(step=3, window=1):
            y = x * 2.0
        z = y + 1.0
        nodes = tape.nodes()
    assert nodes[0].tags == {"step": 3, "window": 1}
    assert nodes[1].tags == {}
    del z


def test_retain_grad_keeps_an_intermediate_gradient():
    x = leaf([0.5, 1.0])
    h = (x * 2.0).retain_grad()
    (h.tanh()).sum().backward()
    np.testing.assert_allclose(h.grad, 1 - np.tanh(2 * x.data) ** 2)


def test_anomaly_mode_names_the_first_non_finite_op_its_tags_and_shapes():
    x = leaf([1.0, 0.0])
    with mg.detect_anomaly(), mg.tags(step=7):
        y = x * 1.0
        with pytest.raises(mg.errors.AnomalyError, match=r"'log'.*step.*7.*\(2,\)"):
            y.log()


def test_anomaly_mode_off_lets_non_finite_values_through():
    x = leaf([0.0])
    assert np.isneginf(x.log().data).all()


def test_a_node_joins_the_tape_of_its_inputs_and_two_tapes_cannot_be_joined():
    x = leaf([1.0])
    with mg.Tape() as first:
        y = x * 2.0
    with mg.Tape() as second:
        z = y * 3.0  # continues y's graph, on y's tape
        fresh = x * 4.0  # a new graph from a leaf: on the current tape
        assert z.node.tape is first and fresh.node.tape is second
        with pytest.raises(ValueError, match="two different tapes.*detach"):
            z + fresh
    z.backward()
    np.testing.assert_allclose(x.grad, [6.0])


def test_warns_once_when_the_graph_keeps_growing_across_backward_calls():
    w = leaf([0.5])
    with mg.Tape():
        h = mg.tensor([1.0])
        with pytest.warns(RuntimeWarning, match=r"tape grew from .* live nodes over .*detach"):
            for _ in range(20):
                h = (h * w).tanh()
                (h * h).sum().backward(retain_graph=True)


def test_no_growth_warning_when_the_state_is_detached():
    w = leaf([0.5])
    with mg.Tape() as tape, warnings.catch_warnings():
        warnings.simplefilter("error")
        h = mg.tensor([1.0])
        for _ in range(30):
            h = (h * w).tanh()
            (h * h).sum().backward()
            h = h.detach()
        assert tape.live_nodes == 0


def test_a_tape_that_does_not_watch_growth_stays_silent():
    w = leaf([0.5])
    with mg.Tape(watch_growth=False), warnings.catch_warnings():
        warnings.simplefilter("error")
        h = mg.tensor([1.0])
        for _ in range(20):
            h = (h * w).tanh()
            (h * h).sum().backward(retain_graph=True)


def test_a_tape_and_its_graph_are_freed_without_the_cyclic_collector():
    """Reference counting alone frees a finished tape and its nodes: the BPTT driver
    drops its tape without clearing it, and a training loop makes one per call."""
    gc.collect()
    gc.disable()
    try:
        with mg.Tape() as tape:
            x = mg.tensor(np.ones(3), requires_grad=True)
            y = (x * 2).sum()
        node = weakref.ref(y.node)
        tape_ref = weakref.ref(tape)
        assert len(tape) == 2
        del tape, y
        assert node() is None and tape_ref() is None
    finally:
        gc.enable()


def test_a_node_dying_before_its_tape_is_no_longer_counted_live():
    with mg.Tape() as tape:
        x = mg.tensor(np.ones(3), requires_grad=True)
        y = x * 2
        z = x + 1
    assert tape.live_nodes == 2
    del y
    assert tape.live_nodes == 1
    z.backward(np.ones(3))  # releases z's node
    assert tape.live_nodes == 0
