"""Vectorised fixed-point iteration shared by every state evolution.

State-evolution equations are iterated for a whole grid of parameters at
once: the state is an array whose leading axis runs over grid points,
points that have converged are frozen (a mask), and the update is
evaluated only on the active ones. No Python loop runs over parameters.
"""

import warnings

import numpy as np

__all__ = ["fixed_point", "ConvergenceWarning"]


class ConvergenceWarning(RuntimeWarning):
    """An iteration stopped at ``max_iter`` before reaching ``tol``."""


def fixed_point(step, x0, params=(), *, tol=1e-12, max_iter=10_000, damping=0.0,
                finished=None, name="iteration"):
    r"""Iterate ``x <- step(x, *params)`` for a batch of independent problems.

    Parameters
    ----------
    step : callable
        ``step(x, *params) -> x_new`` for arrays whose first axis runs
        over the active problems (trailing axes hold the components of
        the state, e.g. ``(m, q, V)``).
    x0 : array_like, shape (N, ...)
        Initial states of the ``N`` problems.
    params : tuple of ndarray, each of shape (N,)
        Per-problem parameters, sliced with the active mask.
    tol : float
        A problem has converged when the largest absolute change of its
        state is ``<= tol``.
    max_iter : int
        Maximum number of updates.
    damping : float in [0, 1)
        ``x <- damping * x + (1 - damping) * step(x)``.
    finished : callable, optional
        ``finished(x_new) -> bool array``: problems that reached an exact
        fixed point (e.g. perfect recovery) and stop at once.
    name : str
        Used in the warning issued when some problem does not converge.

    Returns
    -------
    x : ndarray, shape (N, ...)
        Final states.
    converged : ndarray of bool, shape (N,)
    n_iter : ndarray of int, shape (N,)
        Number of updates each problem used.
    """
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must lie in [0, 1), got {damping!r}")
    x = np.array(x0, dtype=float)
    n = x.shape[0]
    params = tuple(np.asarray(p) for p in params)
    converged = np.zeros(n, dtype=bool)
    n_iter = np.zeros(n, dtype=int)
    active = np.arange(n)
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        x_old = x[active]
        x_new = step(x_old, *(p[active] for p in params))
        if damping:
            x_new = damping * x_old + (1.0 - damping) * x_new
        change = np.abs(x_new - x_old).reshape(active.size, -1).max(axis=1)
        done = change <= tol
        if finished is not None:
            done |= np.asarray(finished(x_new), dtype=bool).reshape(active.size)
        x[active] = x_new
        n_iter[active] = it
        converged[active[done]] = True
        active = active[~done]
    if active.size:
        warnings.warn(
            f"{name} did not converge for {active.size} of {n} parameter values "
            f"in {max_iter} iterations (tol={tol:g})",
            ConvergenceWarning,
            stacklevel=3,
        )
    return x, converged, n_iter
