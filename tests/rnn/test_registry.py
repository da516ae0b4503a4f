"""The registry: one entry per cell and strategy; specs round-trip; a new strategy needs no CLI edit."""

import numpy as np
import pytest

import rnn
from rnn import registry
from rnn.cli import common, train
from rnn.truncation import PASS, Plan, Update

SPECS = ["full", "chunked:4", "tbptt:4,16", "randomized:0.5", "randomized:0.25,seed=3", "artbp", "artbp:0.2",
         "artbp:seed=7", "checkpointed:5"]


@pytest.mark.parametrize("spec", SPECS)
def test_specs_round_trip(spec):
    strategy = rnn.parse_strategy(spec)
    assert rnn.describe(strategy) == spec
    assert rnn.parse_strategy(rnn.describe(strategy)) == strategy


def test_parse_gives_the_strategy_objects():
    assert rnn.parse_strategy("tbptt:4,16") == rnn.TBPTT(4, 16)
    assert rnn.parse_strategy("chunked") == rnn.Chunked(10)  # a bare name takes the registered example
    assert rnn.parse_strategy("tbptt", k1=2) == rnn.TBPTT(2, 20)
    assert rnn.parse_strategy("randomized:0.5", seed=4) == rnn.Randomized(0.5, seed=4)
    assert rnn.parse_strategy("randomized:0.5,seed=1", seed=4).seed == 1  # the spec wins


@pytest.mark.parametrize("spec, message", [
    ("bptt:3", r"unknown strategy 'bptt'; known: full, .*chunked"),
    ("tbptt:4", r"strategy 'tbptt:4' needs k2: write it as tbptt:K1,K2"),
    ("chunked:x", r"k must be an integer, got 'x'"),
    ("chunked:1,2", r"takes at most 1 values, written chunked:K"),
    ("artbp:q=1", r"has no parameter 'q'"),
    ("tbptt:3,2", r"k2 >= k1"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        rnn.parse_strategy(spec)


def test_a_schedule_has_no_spec():
    with pytest.raises(ValueError, match="has a schedule, which a spec cannot write"):
        rnn.describe(rnn.ARTBP(schedule=rnn.survival_schedule()))


def test_every_exported_strategy_and_cell_is_registered():
    strategies = {e.cls for e in registry.STRATEGIES.values()}
    cells = {e.cls for e in registry.CELLS.values()}
    for name in rnn.__all__:
        obj = getattr(rnn, name)
        if isinstance(obj, type) and issubclass(obj, rnn.Strategy) and obj not in (rnn.Strategy, rnn.Fixed):
            assert obj in strategies, name
        if isinstance(obj, type) and hasattr(obj, "initial_state") and obj is not rnn.Cell:
            assert obj in cells, name


class Decay(rnn.Strategy):
    """Decay: scale every recurrent edge by gamma (a toy strategy defined in a test)."""

    def __init__(self, gamma: float):
        self.gamma = float(gamma)

    def plan(self, T):
        return Plan(T, (PASS, PASS) + (self.gamma,) * (T - 1), (Update(T, 1, 0),))


@pytest.fixture
def decay():
    rnn.register_strategy("decay", Decay)
    yield Decay
    del registry.STRATEGIES["decay"]


def test_a_strategy_registered_in_a_test_reaches_the_command_line(decay, capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = capsys.readouterr().out
    assert "decay:GAMMA" in text and "scale every recurrent edge by gamma" in text and "--gamma" in text
    args = train.parser().parse_args(["--strategy", "decay", "--gamma", "0.5"])
    assert common.strategy_spec(args) == "decay:0.5"
    assert rnn.parse_strategy("decay:0.9") == Decay(0.9)


def test_a_registered_strategy_trains_through_the_library(decay):
    run = rnn.training.build(task="echo", delay=2, seq_len=6, batch=2, hidden=4, steps=12, strategy="decay:0.5")
    assert run.strategy == Decay(0.5)
    assert rnn.training.train(run).step == 12
    model = rnn.ElmanRNN(2, 3, 1, seed=0)
    xs, ys = np.ones((5, 2)), np.zeros((5, 1))
    full, decayed = (rnn.gradients(model, xs, ys, s)[0]["A"] for s in (rnn.Full(), Decay(0.5)))
    assert not np.allclose(full, decayed)
