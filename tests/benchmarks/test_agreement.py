"""The gradient check before timing: it accepts equal gradients and refuses a wrong implementation."""

import numpy as np
import pytest

from benchmarks.agreement import compare_gradients, relative_error
from benchmarks.configs import Config
from benchmarks.implementations import (
    FUSED,
    FUSED_INDICES,
    OP_LEVEL,
    REFERENCE,
    Implementation,
    ReferenceTrainer,
    implementations,
)
from benchmarks.references import sgd, softmax_cross_entropy, step_loop
from benchmarks.speed import benchmark_config
from benchmarks.timing import TimingPlan

TINY = Config("tiny", vocab=5, batch=2, hidden=4, T=6)
ONE_STEP = TimingPlan(warmup=1, repeats=1, min_repeats=1)


def grads():
    rng = np.random.default_rng(0)
    return {"A": rng.standard_normal((3, 3)), "B": rng.standard_normal((3, 2)), "C": rng.standard_normal((2, 3))}


def test_equal_gradients_pass_and_a_scaled_one_is_reported_with_its_error():
    reference = grads()
    scaled = {**reference, "B": reference["B"] * 1.01}
    assert compare_gradients(reference, {"same": grads()}) == []
    [found] = compare_gradients(reference, {"same": grads(), "scaled": scaled})
    assert (found.implementation, found.parameter) == ("scaled", "B")
    assert found.error == pytest.approx(0.01)
    assert "scaled: dB differs by 1.00e-02" in str(found)


def test_missing_misshapen_and_non_finite_gradients_are_disagreements():
    reference = grads()
    broken = {"A": reference["A"][:2], "C": np.full((2, 3), np.nan)}
    found = {d.parameter: str(d) for d in compare_gradients(reference, {"broken": broken})}
    assert found == {"A": "broken: dA has shape (2, 3), the reference (3, 3)",
                     "B": "broken: dB is missing", "C": "broken: dC has non-finite entries"}


def test_relative_error_is_taken_against_the_largest_reference_entry():
    assert relative_error(np.array([1.0, 10.5]), np.array([1.0, 10.0])) == pytest.approx(0.05)
    assert relative_error(np.array([0.5]), np.array([0.0])) == 0.5


def step_without_tanh_derivative(weights, xs, ys, lr):
    """A plausible student bug: BPTT that forgets tanh' (delta = dh instead of dh * (1 - h^2))."""
    A, B, C = weights["A"], weights["B"], weights["C"]
    T, batch, _ = xs.shape
    hs, dlogits = [np.zeros((batch, A.shape[0]), dtype=A.dtype)], []
    for t in range(T):
        hs.append(np.tanh(hs[t] @ A.T + xs[t] @ B.T))
        dlogits.append(softmax_cross_entropy(hs[t + 1] @ C.T, ys[t])[1])
    dA, dB, dC = np.zeros_like(A), np.zeros_like(B), np.zeros_like(C)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dC += dlogits[t].T @ hs[t + 1]
        delta = dlogits[t] @ C + dh_next
        dA += delta.T @ hs[t]
        dB += delta.T @ xs[t]
        dh_next = delta @ A
    found = {"A": dA, "B": dB, "C": dC}
    sgd(weights, found, lr)
    return 0.0, found


def test_a_wrong_implementation_makes_the_configuration_refused_and_nothing_is_timed(monkeypatch):
    timed = []
    monkeypatch.setattr("benchmarks.speed.time_interleaved", lambda steps, plan: timed.append(steps))
    impls = implementations(use_torch=False) + [
        Implementation("forgot tanh'", "reference", lambda p: ReferenceTrainer(step_without_tanh_derivative, p))
    ]
    messages = []
    result = benchmark_config(TINY, impls, ONE_STEP, log=messages.append)
    assert timed == []
    assert {d.implementation for d in result.refused} == {"forgot tanh'"}
    assert {d.parameter for d in result.refused} == {"A", "B"}  # dC does not pass through tanh'
    assert all(m.median_s is None for m in result.measurements)
    assert "tiny not timed" in messages[0] and "forgot tanh': dA differs by" in messages[0]


def test_agreeing_implementations_are_all_timed_with_minigrad_within_float32_tolerance():
    result = benchmark_config(TINY, implementations(use_torch=False), ONE_STEP, log=lambda message: None)
    assert result.refused == []
    assert result.get(REFERENCE).gradient_error == 0.0
    for name in (FUSED, FUSED_INDICES, OP_LEVEL):
        assert result.get(name).gradient_error < 1e-5
    numba = result.get("numba recurrence")
    assert numba.median_s is None and numba.note.startswith("not run")  # batch 2: not applicable
    timed = [m for m in result.measurements if m.median_s is not None]
    assert len(timed) == 5 and all(m.steps == 1 and m.median_s > 0 for m in timed)
    assert result.fastest_reference().kind == "reference"


def test_the_reference_must_be_among_the_implementations():
    others = [i for i in implementations(use_torch=False) if i.name != REFERENCE]
    with pytest.raises(ValueError, match="must include the reference 'numpy loop'"):
        benchmark_config(TINY, others, ONE_STEP)


def test_the_numpy_loop_reference_trainer_keeps_its_own_weights():
    problem_weights = {"A": np.eye(2), "B": np.ones((2, 3)), "C": np.ones((3, 2))}

    class Problem:
        weights, lr = problem_weights, 0.1
        xs = np.eye(3)[[[0], [1]]]
        ys = np.array([[1], [2]])

    trainer = ReferenceTrainer(step_loop, Problem)
    trainer.step()
    np.testing.assert_array_equal(problem_weights["A"], np.eye(2))
    assert not np.array_equal(trainer.weights["A"], np.eye(2))
