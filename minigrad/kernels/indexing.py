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
