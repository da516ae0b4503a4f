"""The backward of a row lookup: add each gradient row into the row it was read from."""

from numba import njit


@njit(cache=True)
def scatter_add_rows(out, index, rows):
    """out[index[n]] += rows[n] for n = 0..N-1 (out: (V, D), index: (N,), rows: (N, D)).

    A row read k times gets the sum of its k gradients.  The same as
    ``np.add.at(out, index, rows)``, which is about ten times slower.
    """
    for n in range(index.size):
        r = index[n]
        for j in range(rows.shape[1]):
            out[r, j] += rows[n, j]


@njit(cache=True)
def first_out_of_range(values, low, high):
    """The first position n with values[n] outside [low, high), or -1 if every value lies inside.

    One pass, no temporaries: the range check of every integer input (class
    targets, token indices), which NumPy would do as two reductions.
    """
    for n in range(values.size):
        if values[n] < low or values[n] >= high:
            return n
    return -1
