"""Gradient-descent baselines of the attention-indexed model (aimnotes.gd).

The gradient is checked against finite differences of a loss computed by a
separate code path (attention_indices + an explicit softmax); the recovery
tests use the perfect-recovery thresholds alpha_PR = (2 rho - rho^2) / c of
aim.md §2.4 (c = 2 for the quadratic network, c = 4 for softmax T = 2).
"""

import numpy as np
import pytest

from aimnotes import gd
from aimnotes.gd import attention_indices
from aimnotes.gd import test_error as matrix_error


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def _teacher(d, r, T, n, output="softmax", beta=1.0, rng=0):
    """Tokens, labels and S = W W^T / sqrt(rd) of the AIM teacher."""
    rng = np.random.default_rng(rng)
    W = rng.standard_normal((d, r))
    S = W @ W.T / np.sqrt(r * d)
    X = rng.standard_normal((n, T, d))
    h = attention_indices(X, S)
    y = _softmax(beta * h) if output == "softmax" else h
    return X, y, S


def _loss(X, y, W, output, beta, loss_scale):
    """Documented loss s/d sum (y_hat - y)^2, computed from the forward map."""
    d, r = W.shape
    h = attention_indices(X, W @ W.T / np.sqrt(r * d))
    y_hat = _softmax(beta * h) if output == "softmax" else h
    return loss_scale * np.sum((y_hat - y) ** 2) / d


# ------------------------------------------------------------ forward map
def test_attention_indices_matches_definition():
    rng = np.random.default_rng(1)
    n, T, d = 5, 3, 7
    X = rng.standard_normal((n, T, d))
    S = rng.standard_normal((d, d))  # not symmetric: the map is linear in S anyway
    h = attention_indices(X, S)
    for mu in range(n):
        expected = (X[mu] @ S @ X[mu].T - np.trace(S) * np.eye(T)) / np.sqrt(d)
        np.testing.assert_allclose(h[mu], expected, rtol=1e-13, atol=1e-13)


def test_matrix_error():
    S = np.diag([1.0, 2.0, 3.0, 4.0])
    assert matrix_error(S, S) == 0.0
    assert matrix_error(S + np.eye(4), S) == pytest.approx(1.0)
    assert matrix_error(np.zeros((4, 4)), S) == pytest.approx(30 / 4)


# --------------------------------------------------------------- gradient
@pytest.mark.parametrize("output", ["softmax", "linear"])
@pytest.mark.parametrize("T", [1, 2, 3])
def test_gradient_matches_finite_differences(output, T):
    d, r, n = 6, 3, 9
    beta, loss_scale, wd = 1.7, 2.5, 0.3
    X, y, _ = _teacher(d, r, T, n, output, beta=1.2, rng=T)
    W = np.random.default_rng(10 + T).standard_normal((d, r))
    # One plain GD step with lr = 1 returns W - grad L(W) - wd W.
    res = gd.attention_gd(X, y, r, output=output, beta=beta, optimizer="gd", lr=1.0, n_steps=1,
                          loss_scale=loss_scale, weight_decay=wd, W_init=W)
    grad = W - res.W_hat - wd * W
    L0 = _loss(X, y, W, output, beta, loss_scale)
    assert res.loss_history[0] == pytest.approx(L0, rel=1e-12)
    eps = 1e-6
    fd = np.empty_like(W)
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += eps
        Wm[idx] -= eps
        fd[idx] = (_loss(X, y, Wp, output, beta, loss_scale)
                   - _loss(X, y, Wm, output, beta, loss_scale)) / (2 * eps)
    scale = np.abs(fd).max()
    if T == 1 and output == "softmax":
        assert scale == 0.0  # softmax over one token: constant output, zero gradient
    np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-7 * max(scale, 1.0))


# ---------------------------------------------------------- optimisation
@pytest.mark.parametrize("output,T", [("softmax", 2), ("linear", 3)])
def test_small_step_gd_decreases_loss_monotonically(output, T):
    X, y, S = _teacher(12, 6, T, 60, output, rng=2)
    res = gd.attention_gd(X, y, 6, output=output, optimizer="gd", lr=0.01, n_steps=200,
                          loss_scale=12 / 4, rng=3, S_true=S)
    L = res.loss_history
    assert L.shape == (201,) and res.error_history.shape == (201,) and res.n_iter == 200
    assert np.all(np.diff(L) <= 1e-12 * L[0])
    assert L[-1] < 0.5 * L[0]


@pytest.mark.parametrize("output,T", [("softmax", 2), ("linear", 1)])
def test_adam_decreases_loss(output, T):
    X, y, S = _teacher(12, 6, T, 60, output, rng=4)
    res = gd.attention_gd(X, y, 6, output=output, n_steps=300, rng=5, S_true=S)
    assert res.loss_history[-1] < 1e-2 * res.loss_history[0]
    # Histories and the returned estimate agree with the public helpers.
    assert res.error == res.error_history[-1]
    assert res.error == pytest.approx(matrix_error(res.S_hat, S), rel=1e-10)
    np.testing.assert_allclose(res.S_hat, res.W_hat @ res.W_hat.T / np.sqrt(6 * 12), rtol=1e-13)
    W0 = np.random.default_rng(5).standard_normal((12, 6))
    S0 = W0 @ W0.T / np.sqrt(6 * 12)
    assert res.error_history[0] == pytest.approx(matrix_error(S0, S), rel=1e-10)


def test_quadratic_network_recovers_above_threshold():
    # T = 1 linear AIM = quadratic network; rho = 0.5: alpha_PR = 0.375 < alpha = 1.
    d, r = 30, 15
    X, y, S = _teacher(d, r, 1, d * d, "linear", rng=11)
    for seed in (0, 1):
        res = gd.attention_gd(X, y, r, output="linear", rng=100 + seed, S_true=S)
        assert res.error < 1e-6  # measured ~1e-30: exact recovery
        assert res.converged
    # The released quadratic-network convention: plain GD on sum (y_hat - y)^2 / 4.
    res = gd.attention_gd(X, y, r, output="linear", optimizer="gd", lr=0.02, loss_scale=d / 4,
                          rng=102, S_true=S)
    assert res.error < 1e-2  # measured 3e-5


def test_quadratic_network_fails_below_threshold():
    # alpha = 0.1 < alpha_PR = 0.375: GD interpolates the data but not the teacher.
    d, r = 30, 15
    X, y, S = _teacher(d, r, 1, 90, "linear", rng=12)
    res = gd.attention_gd(X, y, r, output="linear", rng=7, S_true=S)
    assert res.loss_history[-1] < 1e-8 * res.loss_history[0] and res.converged
    assert res.error > 0.5  # measured ~1.1-1.5, worse than the trivial estimator (error 1)


def test_averaging_over_inits_reduces_error():
    # Softmax T = 2, rho = 0.5, alpha = 0.1 < alpha_PR = 0.1875: single runs scatter.
    d, r = 30, 15
    X, y, S = _teacher(d, r, 2, 90, "softmax", rng=13)
    res = gd.averaged_attention_gd(X, y, r, n_init=4, n_steps=500, rng=8, S_true=S)
    assert res.errors.shape == (4,) and res.running_errors.shape == (4,)
    assert res.running_errors[0] == res.errors[0] and res.running_errors[-1] == res.error
    assert res.error < 0.8 * res.errors.mean()  # measured ratio ~0.6
    # The reported error is the one of the returned average.
    assert res.error == pytest.approx(matrix_error(res.S_hat, S), rel=1e-10)


def test_hardmax_labels_with_softmax_student():
    # One-hot labels (hardmax teacher), softmax student at beta = 1. The labels
    # fix S only up to a positive factor: the direction is learnt, the norm grows.
    d, r, T = 20, 10, 2
    X, _, S = _teacher(d, r, T, 160, "softmax", rng=14)
    y = np.eye(T)[attention_indices(X, S).argmax(axis=-1)]
    W0 = np.random.default_rng(9).standard_normal((d, r))
    S0 = W0 @ W0.T / np.sqrt(r * d)
    res = gd.attention_gd(X, y, r, beta=1.0, n_steps=200, W_init=W0, S_true=S)
    assert res.loss_history[-1] < 0.05 * res.loss_history[0]

    def cosine(A):
        return np.sum(A * S) / np.linalg.norm(A) / np.linalg.norm(S)

    assert cosine(res.S_hat) > 0.8 > cosine(S0) + 0.3  # measured 0.85 vs 0.29
    assert np.linalg.norm(res.S_hat) > 2 * np.linalg.norm(S)  # measured ratio 5.7


# ------------------------------------------------------------ determinism
def test_fixed_rng_is_deterministic():
    X, y, S = _teacher(10, 5, 2, 40, rng=15)
    kw = dict(n_steps=50, S_true=S)
    a = gd.attention_gd(X, y, 5, rng=3, **kw)
    b = gd.attention_gd(X, y, 5, rng=np.random.default_rng(3), **kw)
    c = gd.attention_gd(X, y, 5, rng=4, **kw)
    np.testing.assert_array_equal(a.W_hat, b.W_hat)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    assert not np.allclose(a.W_hat, c.W_hat)
    # Averaged GD: run 0 is attention_gd with the same rng; batching does not matter.
    one = gd.averaged_attention_gd(X, y, 5, n_init=3, batch=1, rng=3, **kw)
    all_ = gd.averaged_attention_gd(X, y, 5, n_init=3, batch=3, rng=3, **kw)
    assert one.errors[0] == pytest.approx(a.error, rel=1e-10)
    np.testing.assert_allclose(one.S_hat, all_.S_hat, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(one.losses, all_.losses, rtol=1e-10)
    single = gd.averaged_attention_gd(X, y, 5, n_init=1, rng=3, **kw)
    np.testing.assert_allclose(single.S_hat, a.S_hat, rtol=1e-12, atol=1e-14)


def test_results_are_frozen():
    X, y, _ = _teacher(6, 2, 2, 10, rng=16)
    res = gd.attention_gd(X, y, 2, n_steps=2, rng=0)
    assert res.error is None and res.error_history is None
    with pytest.raises(AttributeError):
        res.n_iter = 3


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize("change,name", [
    (dict(tokens=np.zeros((4, 6))), "tokens"),
    (dict(tokens=np.full((4, 2, 6), np.nan)), "tokens"),
    (dict(y=np.zeros((4, 2, 3))), "y"),
    (dict(y=np.zeros((4, 2, 2))), "y"),  # not row-stochastic for softmax
    (dict(rank=0), "rank"),
    (dict(rank=7), "rank"),
    (dict(rank=2.0), "rank"),
    (dict(output="hardmax"), "output"),
    (dict(optimizer="sgd"), "optimizer"),
    (dict(lr=0.0), "lr"),
    (dict(n_steps=0), "n_steps"),
    (dict(beta=-1.0), "beta"),
    (dict(weight_decay=-0.1), "weight_decay"),
    (dict(loss_scale=0.0), "loss_scale"),
    (dict(S_true=np.eye(5)), "S_true"),
    (dict(W_init=np.zeros((6, 3))), "W_init"),
])
def test_bad_input_names_the_parameter(change, name):
    X, y, _ = _teacher(6, 2, 2, 4, rng=17)
    kw = dict(tokens=X, y=y, rank=2, n_steps=1)
    kw.update(change)
    with pytest.raises(ValueError, match=name):
        gd.attention_gd(kw.pop("tokens"), kw.pop("y"), kw.pop("rank"), **kw)


def test_bad_input_averaged_and_helpers():
    X, y, _ = _teacher(6, 2, 2, 4, rng=18)
    with pytest.raises(ValueError, match="n_init"):
        gd.averaged_attention_gd(X, y, 2, n_init=0)
    with pytest.raises(ValueError, match="batch"):
        gd.averaged_attention_gd(X, y, 2, n_init=2, batch=0)
    with pytest.raises(ValueError, match="S"):
        attention_indices(X, np.eye(5))
    with pytest.raises(ValueError, match="S_true"):
        matrix_error(np.eye(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="S_hat"):
        matrix_error(np.eye(3), np.eye(4))
