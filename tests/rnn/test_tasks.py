"""Tests for rnn.tasks: shapes, determinism, the property each task is built on, errors."""

import re

import numpy as np
import pytest

from rnn.tasks import (
    REBER_SYMBOLS,
    TASKS,
    CharText,
    Task,
    TaskError,
    adding,
    echo,
    is_reber,
    make_task,
    reber,
    reber_string,
    sine,
)

GENERATORS = {
    "echo": lambda **kw: echo(T=20, delay=5, n_symbols=4, **kw),
    "adding": lambda **kw: adding(T=20, **kw),
    "reber": lambda **kw: reber(T=60, **kw),
    "reber-plain": lambda **kw: reber(T=60, embedded=False, **kw),
    "sine": lambda **kw: sine(T=20, **kw),
}


def perfect_predictions(task: Task) -> np.ndarray:
    """Logits with the target class highest (ce) or the targets themselves (mse)."""
    if task.loss == "ce":
        return np.eye(task.n_out)[np.maximum(task.ys, 0)] * 10.0
    return np.nan_to_num(task.ys, nan=123.0)


def reber_strings_in(stream: str) -> list[str]:
    """The complete embedded strings of a stream: it is always B?B...E?E B?B...E?E ..."""
    return re.findall(r"B[TP]B[TSXPV]*E[TP]E", stream)


# ---------------------------------------------------------------- shapes, dtypes


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("batch", [1, 3])
def test_shapes_and_dtypes(name, batch):
    task = GENERATORS[name](batch=batch, seed=1)
    T = task.xs.shape[0]
    assert task.xs.dtype == np.float64
    assert task.xs.shape == (T, batch, task.n_in)
    assert task.metric_mask.dtype == bool
    assert task.metric_mask.shape == (T, batch)
    if task.loss == "ce":
        assert task.metric_name == "accuracy"
        assert task.ys.dtype == np.int64
        assert task.ys.shape == (T, batch)
        assert ((task.ys >= -1) & (task.ys < task.n_out)).all()
        assert (task.ys[task.metric_mask] >= 0).all()
        np.testing.assert_array_equal(task.xs.sum(axis=-1), 1.0)  # one-hot
    else:
        assert (task.loss, task.metric_name) == ("mse", "mse")
        assert task.ys.dtype == np.float64
        assert task.ys.shape == (T, batch, task.n_out)
        assert not np.isnan(task.ys[task.metric_mask]).any()


def test_chartext_task_shapes():
    text = CharText.from_string("hello world, hello minigrad")
    task = text.task(T=5, batch=2)
    V = len(text.vocab)
    assert (task.xs.shape, task.xs.dtype) == ((5, 2, V), np.float64)
    assert (task.ys.shape, task.ys.dtype) == ((5, 2), np.int64)
    assert task.n_in == task.n_out == V
    assert task.metric_mask.all()


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_arrays_different_seed_different(name):
    a, b, c = (GENERATORS[name](batch=4, seed=s) for s in (7, 7, 8))
    for field in ("xs", "ys", "metric_mask"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.dependency == b.dependency
    assert not np.array_equal(a.xs, c.xs)


def test_batch_columns_differ():
    task = echo(T=30, delay=3, batch=2, seed=0)
    assert not np.array_equal(task.xs[:, 0], task.xs[:, 1])


# ---------------------------------------------------------------- echo


@pytest.mark.parametrize("delay", [0, 1, 7, 29])
def test_echo_target_is_input_delay_steps_back(delay):
    task = echo(T=30, delay=delay, n_symbols=5, batch=3, seed=2)
    symbols = task.xs.argmax(axis=-1)
    expected_mask = np.zeros((30, 3), dtype=bool)
    expected_mask[delay:] = True
    np.testing.assert_array_equal(task.metric_mask, expected_mask)
    np.testing.assert_array_equal(task.ys[:delay], -1)
    for t in range(delay, 30):
        np.testing.assert_array_equal(task.ys[t], symbols[t - delay])
    assert task.dependency == delay


@pytest.mark.parametrize("kwargs, arg", [
    (dict(T=10, delay=10), "delay=10"),
    (dict(T=10, delay=-1), "delay=-1"),
    (dict(T=0, delay=0), "T must be an integer >= 1, got 0"),
    (dict(T=10, delay=2, n_symbols=1), "n_symbols=1"),
    (dict(T=10, delay=2, batch=0), "batch must be an integer >= 1, got 0"),
])
def test_echo_rejects_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=re.escape(arg)):
        echo(**kwargs)


# ---------------------------------------------------------------- adding


@pytest.mark.parametrize("T", [2, 3, 11, 50])
def test_adding_two_markers_one_per_half_target_is_their_sum(T):
    task = adding(T=T, batch=64, seed=3)
    values, markers = task.xs[..., 0], task.xs[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(np.unique(markers)) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers[: T // 2].sum(axis=0), 1)
    np.testing.assert_array_equal(markers[T // 2:].sum(axis=0), 1)
    np.testing.assert_allclose(task.ys[-1, :, 0], (values * markers).sum(axis=0))
    assert np.isnan(task.ys[:-1]).all()
    np.testing.assert_array_equal(task.metric_mask[-1], True)
    assert not task.metric_mask[:-1].any()
    first = markers.argmax(axis=0)
    assert task.dependency == T - 1 - first.min()


def test_adding_constant_one_baseline_is_about_one_sixth():
    task = adding(T=10, batch=20000, seed=0)
    assert task.metric(np.ones((10, 20000, 1))) == pytest.approx(1 / 6, abs=0.01)


def test_adding_rejects_too_short():
    with pytest.raises(ValueError, match="T=1"):
        adding(T=1)


# ---------------------------------------------------------------- reber


def test_reber_string_samples_are_in_the_grammar():
    rng = np.random.default_rng(0)
    for _ in range(300):
        assert is_reber(reber_string(rng, embedded=True), embedded=True)
        assert is_reber(reber_string(rng, embedded=False), embedded=False)


@pytest.mark.parametrize("s", ["BTSSXXTVVE", "BPVVE", "BTXSE", "BPTVPXVVE"])
def test_is_reber_accepts_known_strings(s):
    assert is_reber(s, embedded=False)
    assert is_reber(f"BT{s}TE") and is_reber(f"BP{s}PE")


@pytest.mark.parametrize("s, embedded", [
    ("BTBTXSEPE", True),    # the remembered symbol is not repeated
    ("BPBTXSETE", True),
    ("BTBTXSET", True),     # no final E
    ("TBTXSETE", True),     # no initial B
    ("BTBTXXETE", True),    # inner string invalid
    ("BTXSE", True),        # plain string is not embedded
    ("BTBTXSETE", False),   # embedded string is not plain
    ("BTXE", False),        # stops before state 5
    ("BTSSXSSE", False),    # S after X leads to the end, no more S
    ("BPVVPE", False),
    ("BE", False),
    ("", False),
    ("", True),
])
def test_is_reber_rejects_corrupted_strings(s, embedded):
    assert not is_reber(s, embedded=embedded)


def test_reber_stream_is_concatenated_grammar_strings():
    task = reber(T=400, batch=3, seed=4)
    for column in range(3):
        symbols = task.xs[:, column].argmax(axis=-1)
        stream = "".join(REBER_SYMBOLS[i] for i in symbols)
        strings = reber_strings_in(stream)
        assert len(strings) >= 5
        assert all(is_reber(s) for s in strings)
        # the complete strings tile the stream from its start, only the tail is cut
        assert stream.startswith("".join(strings))
        assert len(stream) - len("".join(strings)) < 100


def test_reber_targets_are_next_symbol():
    task = reber(T=100, batch=2, seed=5)
    symbols = task.xs.argmax(axis=-1)
    np.testing.assert_array_equal(task.ys[:-1], symbols[1:])
    np.testing.assert_array_equal(task.ys[-1], -1)


def test_reber_masked_targets_repeat_the_second_symbol_of_their_string():
    task = reber(T=500, batch=2, seed=6)
    lags = []
    for column in range(2):
        stream = "".join(REBER_SYMBOLS[i] for i in task.xs[:, column].argmax(axis=-1))
        expected = np.zeros(500, dtype=bool)
        start = 0
        for s in reber_strings_in(stream):
            t = start + len(s) - 3            # the step whose target is s[-2]
            expected[t] = True
            assert REBER_SYMBOLS[task.ys[t, column]] == s[-2] == stream[start + 1]
            lags.append(t - (start + 1))
            start += len(s)
        # a cut-off last string is masked only if its s[-2] made it into the stream
        tail = task.metric_mask[start:, column]
        assert tail.sum() <= 1
        if tail.any():
            t = start + int(tail.argmax())
            assert t + 2 == len(stream)               # only its final E was cut
            assert REBER_SYMBOLS[task.ys[t, column]] == stream[start + 1]
            expected[t] = True
            lags.append(t - (start + 1))
        np.testing.assert_array_equal(task.metric_mask[:, column], expected)
    assert len(lags) >= 20
    assert task.dependency == max(lags)


def test_reber_plain_masks_final_e():
    task = reber(T=200, embedded=False, seed=8)
    assert task.dependency is None
    assert (task.ys[task.metric_mask] == REBER_SYMBOLS.index("E")).all()
    assert task.metric_mask.sum() == (task.ys == REBER_SYMBOLS.index("E")).sum()


def test_reber_rejects_short_stream():
    with pytest.raises(ValueError, match="T=8"):
        reber(T=8)


# ---------------------------------------------------------------- sine


def test_sine_target_is_next_clean_value():
    task = sine(T=50, n_waves=3, noise=0.0, batch=4, seed=9)
    np.testing.assert_array_equal(task.ys[:-1], task.xs[1:])
    assert np.isnan(task.ys[-1]).all()
    assert not task.metric_mask[-1].any() and task.metric_mask[:-1].all()
    assert np.abs(task.xs).max() <= 1.0


def test_sine_noise_is_added_to_the_same_clean_signal():
    clean = sine(T=2000, noise=0.0, batch=2, seed=10)
    noisy = sine(T=2000, noise=0.1, batch=2, seed=10)
    residual = noisy.xs - clean.xs
    assert residual.std() == pytest.approx(0.1, rel=0.1)
    np.testing.assert_array_equal(noisy.ys, clean.ys)


def test_sine_rejects_negative_noise():
    with pytest.raises(ValueError, match="noise=-0.1"):
        sine(T=10, noise=-0.1)


# ---------------------------------------------------------------- metric


@pytest.mark.parametrize("name", GENERATORS)
def test_metric_of_perfect_predictions(name):
    task = GENERATORS[name](batch=5, seed=11)
    expected = 1.0 if task.metric_name == "accuracy" else 0.0
    assert task.metric(perfect_predictions(task)) == expected


def test_accuracy_of_constant_logits_is_chance():
    task = echo(T=50, delay=10, n_symbols=4, batch=400, seed=12)
    constant = np.zeros((50, 400, 4))
    assert task.metric(constant) == pytest.approx(1 / 4, abs=0.02)


def test_reber_long_range_chance_is_one_half():
    task = reber(T=200, batch=200, seed=13)
    always_t = np.zeros((200, 200, 7))
    always_t[..., REBER_SYMBOLS.index("T")] = 1.0
    assert task.metric(always_t) == pytest.approx(0.5, abs=0.05)


def test_mse_metric_ignores_unmasked_and_nan():
    task = sine(T=10, batch=2, seed=14)
    y_hat = perfect_predictions(task)
    y_hat[-1] = 1e6                                    # unmasked last step
    assert task.metric(y_hat) == 0.0
    y_hat[3, 1, 0] += 2.0                              # one masked error of 2
    assert task.metric(y_hat) == pytest.approx(4.0 / (9 * 2))


def test_metric_rejects_wrong_shape():
    task = echo(T=10, delay=2, batch=2)
    with pytest.raises(ValueError, match="shape"):
        task.metric(np.zeros((10, 2, 3)))


# ---------------------------------------------------------------- CharText

ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def test_vocab_sorted_unique_and_encode_decode_roundtrip():
    text = CharText.from_string("the cat sat on the mat\n", name="cats")
    assert text.vocab == sorted(set(text.vocab))
    assert set(text.vocab) == set(text.text)
    assert all(text.vocab[i] == c for c, i in text.char_to_index.items())
    codes = text.encode(text.text)
    assert codes.dtype == np.int64
    assert text.decode(codes) == text.text
    assert text.decode(text.encode("hat")) == "hat"


def test_encode_unknown_character():
    with pytest.raises(TaskError, match="'z'"):
        CharText.from_string("abc").encode("az")


def test_batchify_layout_columns_are_contiguous_slices():
    text = CharText.from_string(ALPHABET)
    task = text.task(T=5, batch=4)             # 26 // 4 = 6 chars per column
    columns = task.xs.argmax(axis=-1)
    for j in range(4):
        assert text.decode(columns[:, j]) == ALPHABET[6 * j: 6 * j + 5]
        assert text.decode(task.ys[:, j]) == ALPHABET[6 * j + 1: 6 * j + 6]


def test_chunks_continue_each_column():
    text = CharText.from_string(ALPHABET * 4)  # 104 chars, 3 columns of 34
    first, second = text.task(T=10, batch=3), text.task(T=10, batch=3, offset=10)
    for j in range(3):
        joined = text.decode(first.xs[:, j].argmax(-1)) + text.decode(second.xs[:, j].argmax(-1))
        assert joined == text.text[34 * j: 34 * j + 20]
        np.testing.assert_array_equal(first.ys[-1, j], second.xs[0, j].argmax())


def test_next_char_targets():
    text = CharText.from_string("hello, world")
    task = text.task(T=11)
    np.testing.assert_array_equal(task.xs[:, 0].argmax(-1), text.encode("hello, worl"))
    np.testing.assert_array_equal(task.ys[:, 0], text.encode("ello, world"))


def test_text_too_short_names_the_sizes():
    text = CharText.from_string(ALPHABET)
    text.task(T=5, batch=4)                    # 6 per stream: exactly T + 1
    with pytest.raises(TaskError, match=r"26 chars / batch 4 = 6 per stream, need .* = 7"):
        text.task(T=6, batch=4)
    with pytest.raises(TaskError, match="= 8"):
        text.task(T=5, batch=4, offset=2)


def test_from_file_reads_text(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("héllo wörld\n", encoding="utf-8")
    text = CharText.from_file(path)
    assert text.text == "héllo wörld\n"
    assert "é" in text.vocab and text.name == "poem.txt"


def test_from_file_missing(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(TaskError, match=r"nope\.txt: no such file"):
        CharText.from_file(path)


def test_from_file_directory(tmp_path):
    with pytest.raises(TaskError, match="is a directory"):
        CharText.from_file(tmp_path)


def test_from_file_empty(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(TaskError, match=r"empty\.txt: file is empty"):
        CharText.from_file(path)


def test_from_file_binary(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"PK\x03\x04\x00\x00abc")
    with pytest.raises(TaskError, match=r"blob\.bin: binary file \(NUL byte at offset 4\)"):
        CharText.from_file(path)


def test_task_error_is_a_value_error():
    assert issubclass(TaskError, ValueError)


def test_from_file_invalid_utf8_warns_and_replaces(tmp_path):
    path = tmp_path / "latin1.txt"
    data = "café ".encode("utf-8") + "naïve déjà".encode("latin-1")  # 3 invalid bytes
    path.write_bytes(data)
    first_bad = len("café naïve".encode("utf-8")) - len("ïve".encode("utf-8"))
    with pytest.warns(UnicodeWarning, match=rf"3 invalid UTF-8 byte\(s\), first at byte offset {first_bad}"):
        text = CharText.from_file(path)
    assert text.text == data.decode("utf-8", errors="replace")
    assert text.text.count("\ufffd") == 3
    assert "\ufffd" in text.vocab and "é" in text.vocab
    assert text.decode(text.encode(text.text)) == text.text


def test_from_file_counts_every_invalid_byte(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\xff\xfe text \xe2\x82")   # two stray bytes and a truncated sequence
    with pytest.warns(UnicodeWarning, match=r"4 invalid UTF-8 byte\(s\), first at byte offset 2"):
        CharText.from_file(path)


def test_from_string_empty():
    with pytest.raises(TaskError, match="empty"):
        CharText.from_string("")


# ---------------------------------------------------------------- registry


def test_make_task_builds_registered_tasks():
    assert set(TASKS) == {"echo", "adding", "reber", "sine"}
    task = make_task("echo", T=12, delay=3, batch=2, seed=5)
    np.testing.assert_array_equal(task.xs, echo(T=12, delay=3, batch=2, seed=5).xs)


def test_make_task_unknown_name_lists_known_names():
    with pytest.raises(TaskError, match="unknown task 'copy'; known tasks: adding, echo, reber, sine"):
        make_task("copy", T=10)
