"""Drawing categories by inversion: the comparison count equals numpy's
binary search exactly (same index for every uniform, edges included)."""
import numpy as np
import pytest

from simulator.models.population import category


@pytest.mark.parametrize("probabilities", [
    [0.62, 0.38],                                   # two strata
    np.array([2, 2, 1.5, 1, 1, 1, 0.75, 0.5]) / 9.75,   # eight centres
    np.full(64, 1 / 64),                            # the most edges compared
    np.full(65, 1 / 65),                            # one more: binary search
    [0.0, 0.5, 0.0, 0.5],                           # empty categories (repeated edges)
    [1.0],                                          # a single category: no edges
])
def test_category_equals_searchsorted(probabilities):
    edges = np.cumsum(probabilities)[:-1]
    u = np.random.default_rng(1).random((300, 40))
    # the edges themselves and their neighbours, where < and <= differ
    near = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 1), [0.0]])
    for values in (u, near):
        got = category(edges, values)
        assert got.dtype == np.intp and got.shape == np.shape(values)
        np.testing.assert_array_equal(got, np.searchsorted(edges, values, side="right"))
