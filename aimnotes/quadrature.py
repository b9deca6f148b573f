"""Gaussian quadrature rules shared by every state-evolution computation.

All Gaussian expectations in the package go through these cached rules,
so that state evolution is deterministic (no Monte Carlo) and vectorised:
an expectation over ``xi ~ N(0, 1)`` becomes a weighted sum along a
trailing axis of length ``n``.
"""

from functools import lru_cache

import numpy as np

__all__ = ["gauss_hermite", "gauss_legendre", "gaussian_expectation"]

DEFAULT_NODES = 160


@lru_cache(maxsize=16)
def _hermite_e(n):
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    weights = weights / weights.sum()  # exactly normalised: E[1] = 1
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def gauss_hermite(n=DEFAULT_NODES):
    r"""Probabilists' Gauss-Hermite rule for the standard normal measure.

    Parameters
    ----------
    n : int
        Number of nodes.

    Returns
    -------
    nodes, weights : ndarray of shape (n,)
        Read-only arrays with
        :math:`\sum_k w_k f(x_k) \approx \int \mathcal{D}\xi\, f(\xi)`,
        exact for polynomials of degree ``2 n - 1``; the weights sum to 1.
    """
    return _hermite_e(int(n))


@lru_cache(maxsize=16)
def _legendre(n):
    nodes, weights = np.polynomial.legendre.leggauss(n)
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def gauss_legendre(n, a=-1.0, b=1.0):
    r"""Gauss-Legendre rule on the interval ``[a, b]``.

    Returns
    -------
    nodes, weights : ndarray of shape (n,)
        With :math:`\sum_k w_k f(x_k) \approx \int_a^b f(x)\,dx`.
    """
    x, w = _legendre(int(n))
    half = 0.5 * (b - a)
    return half * x + 0.5 * (a + b), half * w


def gaussian_expectation(f, mean=0.0, std=1.0, n=DEFAULT_NODES):
    r"""Expectation of ``f(x)`` for ``x ~ N(mean, std**2)``, broadcast.

    ``mean`` and ``std`` may be arrays; the quadrature axis is appended
    last and summed out, so the result has their broadcast shape.

    Parameters
    ----------
    f : callable
        Vectorised function of one array argument.
    mean, std : array_like
        Mean and standard deviation of the Gaussian.
    n : int
        Number of Gauss-Hermite nodes.

    Returns
    -------
    ndarray
        :math:`\mathbb{E}\, f(\mathrm{mean} + \mathrm{std}\,\xi)`.
    """
    nodes, weights = gauss_hermite(n)
    mean = np.asarray(mean, dtype=float)[..., None]
    std = np.asarray(std, dtype=float)[..., None]
    return np.sum(weights * f(mean + std * nodes), axis=-1)
