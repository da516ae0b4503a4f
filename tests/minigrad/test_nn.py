"""Tests for minigrad.nn: registration, checkpoints, Linear and Embedding (gradients and errors)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.errors import DtypeError, ShapeError


class MLP(nn.Module):
    """Linear-tanh-Linear: the model most tests use."""

    def __init__(self, n_in=3, n_hidden=5, n_out=2, seed=0, dtype=np.float64):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden, seed=seed, dtype=dtype)
        self.out = nn.Linear(n_hidden, n_out, seed=seed + 1, dtype=dtype)

    def forward(self, x):
        return self.out(self.hidden(x).tanh())


class Mixed(nn.Module):
    """Parameters and modules interleaved, a list of layers and an unregistered tensor."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2))
        self.body = MLP()
        self.layers = nn.ModuleList([nn.Linear(2, 2, seed=5), nn.Linear(2, 2, bias=False, seed=6)])
        self.shift = nn.Parameter(np.zeros(2))
        self.state = mg.tensor(np.zeros(2), requires_grad=True)  # a plain Tensor: not registered


# -- registration ----------------------------------------------------------------

def test_names_follow_assignment_order_with_dotted_nested_names():
    names = [name for name, _ in Mixed().named_parameters()]
    assert names == [
        "scale",
        "body.hidden.W", "body.hidden.b", "body.out.W", "body.out.b",
        "layers.0.W", "layers.0.b", "layers.1.W",
        "shift",
    ]


def test_parameters_are_the_registered_objects_themselves():
    model = Mixed()
    params = model.parameters()
    assert len(params) == 9
    assert params[0] is model.scale and params[1] is model.body.hidden.W and params[-1] is model.shift
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in params)


def test_children_and_modules():
    model = Mixed()
    assert model.children() == [model.body, model.layers]
    assert len(model.modules()) == 1 + 3 + 3  # Mixed; body, hidden, out; layers and its two


def test_reassigning_keeps_the_position_and_other_values_unregister():
    model = Mixed()
    model.scale = nn.Parameter(np.full(2, 3.0))
    name, first = model.named_parameters()[0]
    assert name == "scale" and first is model.scale
    model.shift = None
    assert "shift" not in dict(model.named_parameters())
    del model.layers
    assert not any(name.startswith("layers.") for name, _ in model.named_parameters())


def test_a_tied_parameter_is_listed_once():
    model = MLP(n_in=4, n_hidden=4, n_out=4)
    model.out.W = model.hidden.W
    names = [name for name, _ in model.named_parameters()]
    assert names == ["hidden.W", "hidden.b", "out.b"]


def test_a_parameter_without_a_name_takes_its_attribute_name():
    assert Mixed().scale.name == "scale"
    assert nn.Linear(2, 3).W.name == "W"


def test_a_plain_list_of_modules_is_refused_with_the_fix():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

    with pytest.raises(TypeError, match=r"Stack.layers: a plain list of Modules .* nn.ModuleList"):
        Stack()


def test_forgetting_super_init_is_explained():
    class Forgetful(nn.Module):
        def __init__(self):
            self.W = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match=r"Forgetful: .* call super\(\).__init__\(\)"):
        Forgetful()


def test_module_list_indexing_and_iteration():
    layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 4)])
    layers.append(nn.Linear(4, 1))
    assert len(layers) == 3
    assert [layer.n_out for layer in layers] == [3, 4, 1]
    assert layers[-1].n_in == 4
    with pytest.raises(TypeError, match="ModuleList: can only hold Modules"):
        layers.append(nn.Parameter(np.zeros(1)))


def test_zero_grad_sets_every_grad_to_none():
    model = MLP()
    model(np.ones((4, 3))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_call_runs_forward_and_a_module_without_forward_says_so():
    model = MLP()
    x = np.ones((2, 3))
    np.testing.assert_array_equal(model(x).data, model.forward(x).data)
    with pytest.raises(NotImplementedError, match="ModuleList does not define forward"):
        nn.ModuleList()(x)


def test_repr_lists_parameters_with_shapes():
    text = repr(MLP())
    assert text.startswith("MLP(")
    assert "hidden.W: (5, 3) float64" in text and "out.b: (2,) float64" in text


def test_parameter_from_a_non_contiguous_array_is_made_contiguous():
    p = nn.Parameter(np.arange(6.0).reshape(2, 3).T)
    assert p.data.flags.c_contiguous
    np.testing.assert_array_equal(p.data, np.arange(6.0).reshape(2, 3).T)


# -- checkpoints -----------------------------------------------------------------

def test_state_dict_holds_copies():
    model = MLP()
    state = model.state_dict()
    state["hidden.W"][...] = 0.0
    assert not np.all(model.hidden.W.data == 0.0)


def test_save_load_round_trip_gives_identical_arrays_and_outputs(tmp_path):
    source, target = MLP(seed=0), MLP(seed=10)
    x = np.random.default_rng(0).standard_normal((4, 3))
    path = source.save(tmp_path / "model")
    assert path.endswith("model.npz")
    target.load(path)
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_saved_file_is_plain_arrays_readable_without_pickle(tmp_path):
    model = MLP()
    path = model.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(model.state_dict())
        np.testing.assert_array_equal(archive["out.W"], model.out.W.data)


def test_load_copies_in_place_so_an_optimizer_keeps_its_parameters(tmp_path):
    model = MLP()
    array_before = model.hidden.W.data
    path = MLP(seed=3).save(tmp_path / "other")
    model.load(path)
    assert model.hidden.W.data is array_before
    np.testing.assert_array_equal(model.hidden.W.data, MLP(seed=3).hidden.W.data)


def test_load_casts_to_the_parameter_dtype():
    model = MLP(dtype=np.float32)
    state = {name: a.astype(np.float64) + 1.0 for name, a in MLP().state_dict().items()}
    model.load_state_dict(state)
    assert model.hidden.W.dtype == np.float32
    np.testing.assert_allclose(model.hidden.W.data, MLP().hidden.W.data + 1.0, rtol=1e-6)


def test_load_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MLP.load: no checkpoint file at '.*nowhere.npz'"):
        MLP().load(tmp_path / "nowhere.npz")


# -- loading files that are not what they claim: checked from the zip directory first --

def _npz_with(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("content, message", [
    (b"", r"is not an .npz file \(it is empty\)"),
    (b"garbage" * 10, r"is not an .npz file \(it does not start with a zip signature"),
    (b"\x80\x04\x95" + b"\x00" * 20, r"is not an .npz file \(it looks like a Python pickle, which minigrad never loads"),
    (b"\x93NUMPY\x01\x00" + b"\x00" * 20, r"is not an .npz file \(it is a single .npy array"),
])
def test_load_of_a_file_that_is_not_an_npz_says_what_it_is(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(nn.CheckpointError, match=r"MLP.load: .*bad.npz " + message) as caught:
        MLP().load(path)
    assert "allow_pickle" not in str(caught.value)


def test_load_of_a_truncated_file_is_refused_and_changes_nothing(tmp_path):
    data = open(MLP(seed=3).save(tmp_path / "whole"), "rb").read()
    for cut in (len(data) // 2, len(data) - 10):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        model = MLP()
        before = model.state_dict()
        with pytest.raises(nn.CheckpointError, match=r"truncated or damaged"):
            model.load(tmp_path / "cut.npz")
        for name, array in model.state_dict().items():
            np.testing.assert_array_equal(array, before[name])


def test_load_refuses_pickled_members_without_numpys_advice(tmp_path):
    state = MLP().state_dict()
    state["out.b"] = np.array([None, 1], dtype=object)
    path = tmp_path / "pickled.npz"
    np.savez(path, **state)  # np.savez pickles object arrays
    with pytest.raises(nn.CheckpointError, match=r"member out.b holds Python objects .*never loads pickled data") as caught:
        MLP().load(path)
    assert "allow_pickle" not in str(caught.value)


def test_load_names_missing_and_unexpected_members(tmp_path):
    state = MLP().state_dict()
    del state["out.b"]
    state["extra"] = np.zeros(3)
    with pytest.raises(nn.CheckpointError, match=r"does not hold the expected arrays: missing out.b; unexpected extra"):
        MLP().load(_npz_with(tmp_path / "other.npz", **state))


def test_load_checks_shapes_from_headers_before_reading_data(tmp_path, monkeypatch):
    """A member whose header claims a huge array is refused from its header: its data is never read."""
    state = MLP().state_dict()
    state["hidden.W"] = np.zeros((3, 5))
    path = _npz_with(tmp_path / "shape.npz", **state)
    reads = []
    real_frombuffer = np.frombuffer
    monkeypatch.setattr(np, "frombuffer", lambda *a, **k: reads.append(1) or real_frombuffer(*a, **k))
    with pytest.raises(nn.CheckpointError, match=r"member hidden.W has shape \(3, 5\), expected \(5, 3\)"):
        MLP().load(path)
    assert reads == []  # hidden.W is the first member: no array data was read at all


def test_load_refuses_a_member_whose_size_does_not_match_its_header(tmp_path):
    import zipfile

    path = MLP().save(tmp_path / "model.npz")
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["out.W.npy"] = members["out.W.npy"][:-8]  # a consistent zip holding a short array
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(nn.CheckpointError, match=r"member out.W is \d+ bytes, but its header .* needs \d+: the file is damaged"):
        MLP().load(path)


def test_load_state_dict_reports_missing_keys():
    state = MLP().state_dict()
    del state["out.b"]
    with pytest.raises(ValueError, match=r"MLP.load_state_dict: .*missing keys: 'out.b' \(2,\)"):
        MLP().load_state_dict(state)


def test_load_state_dict_reports_unexpected_keys():
    state = MLP().state_dict()
    state["extra.W"] = np.zeros((7, 1))
    with pytest.raises(ValueError, match=r"unexpected keys: 'extra.W' \(7, 1\)"):
        MLP().load_state_dict(state)


def test_load_state_dict_reports_shape_mismatches_and_changes_nothing():
    model = MLP()
    before = model.state_dict()
    state = MLP(seed=4).state_dict()
    state["hidden.W"] = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"shape mismatch: 'hidden.W' expected \(5, 3\), got \(3, 5\)"):
        model.load_state_dict(state)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


# -- Linear ----------------------------------------------------------------------

def test_linear_computes_x_w_transpose_plus_b():
    layer = nn.Linear(3, 2)
    layer.b.data[...] = [0.5, -1.0]
    x = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.W.data.T + layer.b.data)
    assert layer.W.shape == (2, 3) and layer.b.shape == (2,)


def test_linear_without_bias_has_only_w():
    layer = nn.Linear(3, 2, bias=False)
    assert [name for name, _ in layer.named_parameters()] == ["W"]
    x = np.ones((1, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.W.data.T)


def test_linear_same_seed_same_weights():
    np.testing.assert_array_equal(nn.Linear(4, 3, seed=2).W.data, nn.Linear(4, 3, seed=2).W.data)
    assert not np.array_equal(nn.Linear(4, 3, seed=2).W.data, nn.Linear(4, 3, seed=3).W.data)


@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 4, 3)], ids=["vector", "batch", "time-batch"])
def test_linear_gradcheck_wrt_input_and_parameters(shape):
    layer = nn.Linear(3, 2, seed=1)
    layer.b.data[...] = [0.1, -0.2]
    x = mg.tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    # gradcheck nudges the arrays of x, W and b in place; the layer reads the same W and b
    assert mg.gradcheck(lambda x, W, b: layer(x).tanh(), [x, layer.W, layer.b])


def test_linear_float32_stays_float32():
    layer = nn.Linear(3, 2, dtype=np.float32)
    assert layer.W.dtype == np.float32 and layer(np.ones((2, 3), dtype=np.float32)).dtype == np.float32


def test_linear_wrong_input_width_names_layer_and_shapes():
    with pytest.raises(ShapeError, match=r"Linear: input of shape \(4, 5\) must have last dimension n_in=3 \(W has shape \(2, 3\)\)"):
        nn.Linear(3, 2)(np.ones((4, 5)))


# -- Embedding -------------------------------------------------------------------

def test_embedding_returns_the_rows():
    emb = nn.Embedding(6, 4)
    idx = np.array([[0, 5], [2, 2]])
    out = emb(idx)
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.data, emb.W.data[idx])


def test_embedding_gradcheck():
    emb = nn.Embedding(5, 3, seed=1)
    idx = np.array([[1, 4, 1], [0, 1, 3]])
    assert mg.gradcheck(lambda W: emb(idx).tanh(), [emb.W])


def test_embedding_repeated_indices_accumulate_gradient():
    emb = nn.Embedding(5, 3)
    idx = np.array([1, 3, 1, 1, 4, 3])
    emb(idx).sum().backward()
    counts = np.bincount(idx, minlength=5)  # each use of a row adds a gradient of ones
    np.testing.assert_array_equal(emb.W.grad, np.repeat(counts[:, None], 3, axis=1).astype(float))


def test_embedding_refuses_float_indices():
    with pytest.raises(DtypeError, match=r"Embedding: indices must be integers, got dtype float64"):
        nn.Embedding(5, 3)(np.array([1.0, 2.0]))
    with pytest.raises(DtypeError, match=r"Embedding: indices must be an integer array, got a Tensor"):
        nn.Embedding(5, 3)(mg.tensor([1, 2]))


@pytest.mark.parametrize("bad", [5, -1])
def test_embedding_refuses_out_of_range_indices(bad):
    with pytest.raises(ValueError, match=rf"Embedding: index {bad} is out of range for a table of 5 embeddings"):
        nn.Embedding(5, 3)(np.array([0, bad, 2]))
