r"""Teacher-student generalised linear models: data, state evolution, GAMP.

The model (chapter 1): teacher weights :math:`w^\star \in \mathbb{R}^d` with
i.i.d. entries from a prior :math:`P_0` of second moment :math:`\rho`,
inputs :math:`X_{\mu i} \sim \mathcal{N}(0, 1/d)`, pre-activations
:math:`h = X w^\star` and labels :math:`y_\mu \sim P_{\rm out}(\cdot \mid h_\mu)`,
for :math:`\mu = 1, \dots, n = \alpha d`.

References
----------
.. [1] J. Barbier, F. Krzakala, N. Macris, L. Miolane, L. Zdeborová,
   "Optimal errors and phase transitions in high-dimensional generalized
   linear models", PNAS 116, 5451 (2019), arXiv:1708.03395.
.. [2] S. Rangan, "Generalized approximate message passing for estimation
   with random linear mixing", ISIT 2011, arXiv:1010.5141.
.. [3] L. Zdeborová, F. Krzakala, "Statistical physics of inference:
   thresholds and algorithms", Adv. Phys. 65, 453 (2016).
"""

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from ._seeds import seed_mean, seed_stderr
from ._validation import (
    as_float_array,
    check_choice,
    check_in_range,
    check_nonnegative,
    check_positive_int,
    scalar_or_array,
)
from .channels import Sign
from .solvers import ConvergenceWarning, fixed_point
from .sweeps import sweep

__all__ = [
    "sample",
    "state_evolution",
    "StateEvolution",
    "thresholds",
    "Thresholds",
    "amp",
    "AMPResult",
    "overlap",
    "angle_error",
    "finite_size_runs",
    "FiniteSizeRuns",
    "linear_mmse",
    "ridge",
    "hebbian",
    "hebbian_gen_error",
    "logistic_regression",
]

#: Relative error below which state evolution snaps to perfect recovery.
PERFECT = 1e-13
ADAPT, MAX_DAMPING = 0.8, 0.95


# --------------------------------------------------------------------- data
def sample(d, alpha, prior, channel, rng=None):
    r"""Draw a teacher-student data set.

    Parameters
    ----------
    d : int
        Dimension.
    alpha : float
        Sample ratio; ``n = round(alpha * d)``.
    prior : aimnotes.priors.Prior
        Prior of the teacher weights.
    channel : aimnotes.channels.Channel
        Output channel.
    rng : numpy.random.Generator or int, optional
        Source of randomness.

    Returns
    -------
    X : ndarray, shape (n, d)
        Inputs with i.i.d. :math:`\mathcal{N}(0, 1/d)` entries.
    y : ndarray, shape (n,)
        Labels :math:`y \sim P_{\rm out}(\cdot \mid X w^\star)`.
    x_true : ndarray, shape (d,)
        Teacher weights :math:`w^\star \sim P_0`.
    """
    d = check_positive_int(d, "d")
    alpha = float(check_nonnegative(alpha, "alpha"))
    rng = np.random.default_rng(rng)
    n = int(round(alpha * d))
    x_true = prior.sample(d, rng)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = channel.sample(X @ x_true, rng)
    return X, y, x_true


# ----------------------------------------------------------- state evolution
@dataclass(frozen=True)
class StateEvolution:
    """Fixed point of Bayes-optimal state evolution; fields have alpha's shape.

    Attributes
    ----------
    alpha : float or ndarray
    q : overlap :math:`q = \\hat w \\cdot w^\\star / d`.
    q_hat : conjugate overlap (``inf`` on the perfect-recovery branch).
    mse : weight MSE :math:`\\rho - q` (exactly 0 at perfect recovery).
    gen_error : Bayes-optimal test error (0-1 error for ``Sign``,
        label MSE for ``Linear``).
    free_entropy : replica-symmetric free entropy :math:`\\Phi_{\\rm RS}`.
    converged : bool or ndarray of bool
    n_iter : int or ndarray of int
    """

    alpha: np.ndarray
    q: np.ndarray
    q_hat: np.ndarray
    mse: np.ndarray
    gen_error: np.ndarray
    free_entropy: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


def _se_map(q, alpha, prior, channel):
    r"""One state-evolution update :math:`q \mapsto q(\alpha\,\hat q(q)/\alpha)`."""
    rho = prior.var
    q_new = prior.se_q(alpha * channel.se_q_hat(q, rho))
    return np.where(rho - q_new <= PERFECT * rho, rho, q_new)


def _free_entropy(q, alpha, prior, channel):
    rho = prior.var
    perfect = q >= rho
    q_in = np.where(perfect, 0.5 * rho, q)  # placeholder value, masked below
    q_hat = alpha * channel.se_q_hat(q_in, rho)
    phi = -0.5 * q_in * q_hat + prior.psi_in(q_hat) + alpha * channel.psi_out(q_in, rho)
    with np.errstate(invalid="ignore"):
        phi_perfect = -prior.entropy + alpha * channel.psi_out(rho, rho)
    return np.where(perfect, phi_perfect, phi)


def state_evolution(alpha, prior, channel, *, init="uninformative", q0=None,
                    damping=0.0, tol=1e-12, max_iter=10_000):
    r"""Bayes-optimal state evolution of GAMP, vectorised over ``alpha``.

    Iterates

    .. math::

        \hat q^{\,t} = \alpha\,\mathbb{E}_\xi \int dy\, Z_{\rm out}\,
        g_{\rm out}^2\Big|_{\omega = \sqrt{q^t}\xi,\ V = \rho - q^t},
        \qquad
        q^{t+1} = \mathbb{E}\, f_a\big(\hat q^{\,t},
        \hat q^{\,t} w_0 + \sqrt{\hat q^{\,t}} z\big)^2,

    for every ``alpha`` at once, and evaluates at the fixed point the
    replica-symmetric free entropy

    .. math::

        \Phi_{\rm RS} = -\tfrac12 q \hat q + \psi_{\rm in}(\hat q)
        + \alpha \Psi_{\rm out}(q).

    Parameters
    ----------
    alpha : float or array_like
        Sample ratio(s) ``n/d >= 0``; every field of the result has this shape.
    prior : aimnotes.priors.Prior
    channel : aimnotes.channels.Channel
    init : {"uninformative", "informative"}
        Start at :math:`q^0 \approx 0` (what GAMP does from scratch) or at
        :math:`q^0 \approx \rho` (the branch connected to perfect
        knowledge); the two differ inside a first-order transition.
    q0 : float, optional
        Explicit initial overlap, overriding ``init``.
    damping : float in [0, 1)
        Damping of the overlap update.
    tol : float
        Convergence threshold on :math:`|q^{t+1} - q^t|`.
    max_iter : int
        Maximum number of iterations.

    Returns
    -------
    StateEvolution
        Points where :math:`\rho - q < 10^{-13}\rho` are snapped to the
        perfect-recovery fixed point ``q = rho``, ``mse = 0``,
        ``q_hat = inf``, with free entropy :math:`-H(P_0) + \alpha
        \Psi_{\rm out}(\rho)` (:math:`-\log 2` for the binary perceptron).

    Notes
    -----
    Points that do not converge within ``max_iter`` are flagged with
    ``converged=False`` and a :class:`~aimnotes.solvers.ConvergenceWarning`.
    Critical slowing down occurs next to an algorithmic threshold.

    Examples
    --------
    >>> from aimnotes import glm, priors, channels
    >>> se = glm.state_evolution([0.5, 1.0, 2.0], priors.Gaussian(), channels.Sign())
    >>> se.gen_error.round(4)
    array([0.3393, 0.2654, 0.1735])
    """
    alpha_arr = check_nonnegative(alpha, "alpha")
    check_choice(init, "init", {"uninformative", "informative"})
    rho = prior.var
    if q0 is None:
        q0 = 1e-10 * rho if init == "uninformative" else (1.0 - 1e-10) * rho
    q0 = float(check_in_range(q0, "q0", 0.0, rho))
    flat = alpha_arr.ravel()
    q, converged, n_iter = fixed_point(
        lambda q, a: _se_map(q, a, prior, channel),
        np.full(flat.shape, q0),
        (flat,),
        tol=tol,
        max_iter=max_iter,
        damping=damping,
        finished=lambda q: q >= rho,
        name="state evolution",
    )
    perfect = q >= rho
    with np.errstate(invalid="ignore"):
        q_hat = np.where(perfect, np.inf, flat * channel.se_q_hat(np.where(perfect, 0.0, q), rho))
    shape = alpha_arr.shape
    out = {
        "alpha": flat,
        "q": q,
        "q_hat": q_hat,
        "mse": np.where(perfect, 0.0, np.maximum(rho - q, 0.0)),
        "gen_error": channel.gen_error(q, rho),
        "free_entropy": _free_entropy(q, flat, prior, channel),
        "converged": converged,
        "n_iter": n_iter,
    }
    return StateEvolution(**{k: scalar_or_array(v, shape) for k, v in out.items()})


# ----------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Thresholds:
    """Information-theoretic and algorithmic thresholds (NaN if absent)."""

    alpha_it: float
    alpha_alg: float


_Q_GRID = 1.0 / (1.0 + np.exp(-np.linspace(-14.0, 16.0, 1500)))  # q/rho in (0, 1)


def _gap(alpha, q, prior, channel):
    """``F_alpha(q) - q`` without snapping (a smooth function of ``q``)."""
    return prior.se_q(alpha * channel.se_q_hat(q, prior.var)) - q


def _min_gap(alpha, prior, channel):
    """Minimum over ``q`` of ``F_alpha(q) - q``, and where it is reached."""
    q = prior.var * _Q_GRID
    gap = _gap(alpha, q, prior, channel)
    k = int(np.argmin(gap))
    lo, hi = q[max(k - 1, 0)], q[min(k + 1, q.size - 1)]
    res = minimize_scalar(
        lambda x: float(_gap(alpha, np.array([x]), prior, channel)[..., 0]),
        bounds=(lo, hi), method="bounded", options={"xatol": 1e-13},
    )
    return (res.fun, res.x) if res.fun < gap[k] else (gap[k], q[k])


def _uninformative_q(alpha, prior, channel):
    """Smallest root of ``F_alpha(q) = q``: the fixed point GAMP reaches."""
    q = prior.var * _Q_GRID
    gap = _gap(alpha, q, prior, channel)
    below = np.nonzero(gap <= 0)[0]
    if below.size == 0:  # only the tangency is left: refine it
        g_min, q_min = _min_gap(alpha, prior, channel)
        if g_min > 0:  # at (or within xtol of) the saddle-node itself
            return q_min
        hi = q_min
    else:
        hi = q[below[0]]
    lo = q[below[0] - 1] if below.size and below[0] > 0 else 0.0
    f = lambda x: float(_gap(alpha, np.array([x]), prior, channel)[..., 0])  # noqa: E731
    return brentq(f, lo, hi, xtol=1e-15, rtol=1e-14) if f(lo) > 0 else lo


def thresholds(prior, channel, *, xtol=1e-7):
    r"""Thresholds of the first-order transition to perfect recovery.

    ``alpha_alg`` is where the uninformative fixed point of state
    evolution disappears (a saddle-node: :math:`\min_q [F_\alpha(q) - q]`
    crosses 0); above it GAMP from scratch recovers the teacher.
    ``alpha_it`` is where the free entropy of that fixed point crosses the
    one of perfect recovery, :math:`-H(P_0) + \alpha \Psi_{\rm out}(\rho)`;
    above it the posterior concentrates on the teacher. Both are NaN
    when there is no such transition: continuous priors (no
    perfect-recovery branch) and noisy channels.

    Parameters
    ----------
    prior : aimnotes.priors.Prior
    channel : aimnotes.channels.Channel
    xtol : float
        Absolute tolerance on the thresholds.

    Returns
    -------
    Thresholds
        ``alpha_it <= alpha_alg``.

    Notes
    -----
    The bracket for :math:`\alpha_{\rm alg}` grows geometrically from 0.1
    until the uninformative fixed point is gone, so it adapts to the
    threshold :math:`\kappa` of :class:`~aimnotes.channels.Sign`, where
    both thresholds grow quickly with :math:`|\kappa|`. For the binary
    perceptron (``kappa = 0``): :math:`\alpha_{\rm IT} \approx 1.2447`
    (Györgyi 1990) and :math:`\alpha_{\rm alg} \approx 1.4926`.
    """
    if not (np.isfinite(prior.entropy) and channel.noiseless):
        return Thresholds(np.nan, np.nan)

    def g(a):
        return _min_gap(a, prior, channel)[0]

    lo, hi = 0.0, 0.1
    while g(hi) <= 0:
        lo, hi = hi, 2.0 * hi
        if hi > 1e6:
            raise RuntimeError("no algorithmic threshold found below alpha = 1e6")
    alpha_alg = brentq(g, lo, hi, xtol=xtol)

    def free_entropy_gap(a):
        q = _uninformative_q(a, prior, channel)
        return float(_free_entropy(np.array([q]), np.array([a]), prior, channel)[0]
                     - _free_entropy(np.array([prior.var]), np.array([a]), prior, channel)[0])

    upper = alpha_alg * (1 - 1e-9)
    if free_entropy_gap(upper) >= 0:  # uninformative branch dominates up to its end
        return Thresholds(float(alpha_alg), float(alpha_alg))
    a_small = 1e-3 * alpha_alg
    if free_entropy_gap(a_small) < 0:  # perfect branch wins (e.g. infinite channel entropy)
        return Thresholds(0.0, float(alpha_alg))
    alpha_it = brentq(free_entropy_gap, a_small, upper, xtol=xtol)
    return Thresholds(float(alpha_it), float(alpha_alg))


# ----------------------------------------------------------------------- GAMP
@dataclass(frozen=True)
class AMPResult:
    """Outcome of :func:`amp`.

    Attributes
    ----------
    x_hat : ndarray, shape (d,)
        Posterior-mean estimate :math:`a` of the teacher.
    variance : ndarray, shape (d,)
        Posterior variances :math:`c`.
    n_iter : int
    converged : bool
    collapsed : bool
        Whether the iteration stopped because the mean variance collapsed
        (perfect recovery).
    history : dict of ndarray
        One entry per iteration: ``"change"`` (mean absolute change of
        ``x_hat``), ``"variance"`` (mean of ``c``), ``"q"``
        (:math:`\\|a\\|^2/d`) and, when ``x_true`` is given, ``"overlap"``
        (:math:`a \\cdot w^\\star/d`) and ``"mse"``.
    """

    x_hat: np.ndarray
    variance: np.ndarray
    n_iter: int
    converged: bool
    collapsed: bool
    history: dict = field(repr=False)


def _check_design(X, y):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array of shape (n, d), got shape {X.shape}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have shape (n,) = ({X.shape[0]},) to match X, got shape {y.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no NaN or inf)")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite (no NaN or inf)")
    return X, y


def amp(X, y, prior, channel, *, max_iter=1000, tol=1e-7, damping=0.3, adaptive=True,
        x_true=None, variance_floor=1e-10):
    r"""Generalised approximate message passing, scalar-variance variant.

    With :math:`s = \|X\|_F^2` (so that :math:`s/n \approx 1` and
    :math:`s/d \approx \alpha` for :math:`X_{\mu i} \sim \mathcal{N}(0,
    1/d)`), each iteration is

    .. math::

        V &= \tfrac{s}{n}\,\bar c, \qquad
        \omega = X a - V g^{\rm old}  \quad\text{(Onsager term)},\\
        g &= g_{\rm out}(y; \omega, V), \qquad
        A = -\tfrac{s}{d}\,\overline{\partial_\omega g_{\rm out}}, \qquad
        B = X^\top g + A a,\\
        a &= f_a(A, B), \qquad c = f_c(A, B),

    two matrix-vector products and :math:`O(n + d)` elementwise work.
    ``a`` and ``c`` are damped, :math:`x \leftarrow \theta x^{\rm old} +
    (1 - \theta) x^{\rm new}`.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
        Labels, checked against the channel's alphabet.
    prior : aimnotes.priors.Prior
    channel : aimnotes.channels.Channel
    max_iter : int
        Maximum number of iterations.
    tol : float
        Stop when the mean absolute change of ``x_hat`` is below ``tol``;
        ``tol=0`` runs exactly ``max_iter`` iterations (or until collapse).
    damping : float in [0, 1)
        :math:`\theta`. The default 0.3 prevents the oscillations of the
        binary prior near perfect recovery.
    x_true : ndarray, shape (d,), optional
        Teacher weights, only used to record overlap and MSE.
    variance_floor : float
        When the mean of the new (undamped) variances falls below
        ``variance_floor * rho``, or when :math:`g_{\rm out}` has underflowed
        so that :math:`A = 0`, the estimate has converged to perfect
        recovery: the iteration stops there and reports convergence, instead
        of letting the estimate reset to the prior mean.

    Returns
    -------
    AMPResult

    Warns
    -----
    aimnotes.solvers.ConvergenceWarning
        When ``tol > 0`` and the iteration has not converged.
    """
    X, y = _check_design(X, y)
    y = channel.check_labels(y)
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = float(check_nonnegative(tol, "tol"))
    damping = float(check_in_range(damping, "damping", 0.0, 1.0, high_open=True))
    n, d = X.shape
    if x_true is not None:
        x_true = as_float_array(x_true, "x_true")
        if x_true.shape != (d,):
            raise ValueError(f"x_true must have shape ({d},), got {x_true.shape}")
    rho = prior.var
    frobenius2 = np.einsum("ij,ij->", X, X)
    row_scale = frobenius2 / max(n, 1)  # sum_i X_{mu i}^2, averaged over mu
    col_scale = frobenius2 / d  # sum_mu X_{mu i}^2, averaged over i

    a = np.zeros(d)
    c = np.full(d, rho)
    g = np.zeros(n)
    history = {key: [] for key in ("change", "variance", "q")}
    if x_true is not None:
        history.update(overlap=[], mse=[])
    converged = collapsed = False
    theta = damping
    it = 0
    for it in range(1, max_iter + 1):
        V = max(row_scale * c.mean(), 1e-300)
        omega = X @ a - V * g
        g, dg = channel._g_out(y, omega, V)  # labels were checked once above
        A = -col_scale * dg.mean() if n else 0.0
        if n and it > 1 and not A > 0:
            # Every label is satisfied by a margin of many sqrt(V): g_out and
            # its derivative underflowed, which happens only once the variance
            # has collapsed. Keep the last estimate instead of resetting it.
            converged = collapsed = True
            break
        B = X.T @ g + A * a
        a_new, c_new, _ = prior.moments(A, B)
        collapsed = c_new.mean() < variance_floor * rho
        if theta and not collapsed:
            # At perfect recovery the undamped estimate is kept: damping would
            # only delay the collapse geometrically.
            a_new = theta * a + (1 - theta) * a_new
            c_new = theta * c + (1 - theta) * c_new
        change = np.abs(a_new - a).mean()
        if adaptive and it > 1 and change > history["change"][-1]:
            # Damp harder whenever the iteration stops contracting (finite-d
            # oscillations near the transitions); fixed points do not depend
            # on the damping.
            theta = min(1.0 - (1.0 - theta) * ADAPT, MAX_DAMPING)
        a, c = a_new, c_new
        history["change"].append(change)
        history["variance"].append(c.mean())
        history["q"].append(a @ a / d)
        if x_true is not None:
            history["overlap"].append(a @ x_true / d)
            history["mse"].append(np.mean((a - x_true) ** 2))
        converged = collapsed or (tol > 0 and change < tol)
        if converged:
            break
    if tol > 0 and not converged:
        warnings.warn(
            f"GAMP did not converge in {max_iter} iterations (last change {change:.2e} "
            f"> tol={tol:g})",
            ConvergenceWarning,
            stacklevel=2,
        )
    return AMPResult(
        x_hat=a,
        variance=c,
        n_iter=it,
        converged=converged,
        collapsed=collapsed,
        history={k: np.asarray(v) for k, v in history.items()},
    )


# ------------------------------------------------------------------ metrics
def overlap(x_hat, x_true):
    r"""Overlap :math:`\hat w \cdot w^\star / d`."""
    x_hat, x_true = np.asarray(x_hat, float), np.asarray(x_true, float)
    return x_hat @ x_true / x_true.shape[-1]


def angle_error(x_hat, x_true):
    r"""0-1 test error of :math:`\operatorname{sign}(x\cdot\hat w)` on a sign teacher.

    For Gaussian inputs it is the angle between estimate and teacher
    divided by :math:`\pi`; see :meth:`aimnotes.channels.Channel.test_error`.
    """
    return Sign(0.0).test_error(x_hat, x_true)


@dataclass(frozen=True)
class FiniteSizeRuns:
    r"""Metrics of repeated finite-size runs, each of shape (n_seeds, n_alpha).

    Attributes
    ----------
    alpha : ndarray, shape (n_alpha,)
    mse : weight MSE :math:`\|\hat w - w^\star\|^2/d`.
    test_error : exact test error of the plug-in predictor
        (:meth:`~aimnotes.channels.Channel.test_error`).
    overlap : :math:`\hat w\cdot w^\star/d`.
    converged : whether the estimator reported convergence (True for
        estimators that do not iterate).
    n_iter : iterations used (0 for estimators that do not iterate).
    """

    alpha: np.ndarray
    mse: np.ndarray
    test_error: np.ndarray
    overlap: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray

    mean = seed_mean
    stderr = seed_stderr


def _finite_size_seed(state, d, alphas, prior, channel, estimator):
    """One seed of :func:`finite_size_runs`: redraw its data, run every alpha."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    rng = np.random.Generator(bit_generator)
    X, y, x_true = sample(d, alphas.max(), prior, channel, rng=rng)
    if estimator is None:
        def estimator(X, y):
            return amp(X, y, prior, channel)
    out = {k: np.zeros(alphas.size) for k in ("mse", "test_error", "overlap", "n_iter")}
    out["converged"] = np.ones(alphas.size, dtype=bool)
    for j, alpha in enumerate(alphas):
        n = int(round(alpha * d))
        result = estimator(X[:n], y[:n])
        if isinstance(result, AMPResult):
            x_hat = result.x_hat
            out["converged"][j] = result.converged
            out["n_iter"][j] = result.n_iter
        else:
            x_hat = np.asarray(result, dtype=float)
        out["mse"][j] = np.mean((x_hat - x_true) ** 2)
        out["test_error"][j] = channel.test_error(x_hat, x_true)
        out["overlap"][j] = x_hat @ x_true / d
    return out


def finite_size_runs(d, alphas, prior, channel, estimator=None, *, n_seeds=3, rng=None,
                     executor=None, progress=True):
    r"""Run an estimator on fresh teacher-student data for several alphas and seeds.

    For each seed one data set is drawn at the largest alpha and the
    smaller alphas use its first ``round(alpha d)`` samples, so a whole
    curve costs one draw of the design matrix per seed.

    Parameters
    ----------
    d : int
        Dimension.
    alphas : array_like, shape (n_alpha,)
        Sample ratios.
    prior, channel
        Teacher model (see :func:`sample`).
    estimator : callable, optional
        ``estimator(X, y)`` returning the estimate of the teacher, either
        an array of shape (d,) or an :class:`AMPResult`. Default: GAMP
        with its default settings, ``amp(X, y, prior, channel)``.
    n_seeds : int
        Number of independent data sets.
    rng : numpy.random.Generator or int, optional
        Seed s uses the s-th consecutive draw of :func:`sample` from this
        generator.
    executor : concurrent.futures.Executor, optional
        Runs the seeds, one task each, through
        :func:`aimnotes.sweep <aimnotes.sweeps.sweep>` (default: one after
        the other in this process). ``estimator`` must then be picklable
        for a process pool or a dask cluster.
    progress : bool
        Progress bar over the seeds (see :func:`~aimnotes.sweeps.sweep`).

    Returns
    -------
    FiniteSizeRuns

    Notes
    -----
    The numbers do not depend on ``executor``: the generator states at
    the start of every seed's draw are recorded here (drawing the data
    sets one after the other, as a sequential loop would), and each task
    redraws its data set from its state.
    """
    d = check_positive_int(d, "d")
    n_seeds = check_positive_int(n_seeds, "n_seeds")
    alphas = np.atleast_1d(check_nonnegative(alphas, "alphas"))
    shared = isinstance(rng, np.random.Generator)
    rng = np.random.default_rng(rng)
    states = []
    for s in range(n_seeds):
        states.append(rng.bit_generator.state)
        if s < n_seeds - 1 or shared:
            # Advance the generator exactly as drawing this seed's data does
            # (a caller's own generator ends where the sequential loop left it).
            sample(d, alphas.max(), prior, channel, rng=rng)
    task = functools.partial(_finite_size_seed, d=d, alphas=alphas, prior=prior,
                             channel=channel, estimator=estimator)
    runs = sweep(task, {"state": states}, executor, progress, desc="finite_size_runs")
    out = {k: np.array([r[k] for r in runs]) for k in runs[0]}
    out["n_iter"] = out["n_iter"].astype(int)
    return FiniteSizeRuns(alpha=alphas, **{
        k: out[k] for k in ("mse", "test_error", "overlap", "converged", "n_iter")})


# ---------------------------------------------------------------- baselines
def linear_mmse(alpha, noise):
    r"""Closed-form MMSE of the linear channel with a standard Gaussian prior.

    The positive root of :math:`m^2 + (\Delta + \alpha - 1) m - \Delta = 0`,

    .. math::

        m = \tfrac12\Big[-(\Delta + \alpha - 1)
        + \sqrt{(\Delta + \alpha - 1)^2 + 4\Delta}\Big]
        \xrightarrow{\Delta \to 0} \max(0, 1 - \alpha),

    the error of ridge regression with penalty :math:`\lambda = \Delta`.
    """
    alpha = check_nonnegative(alpha, "alpha")
    noise = check_nonnegative(noise, "noise")
    b = noise + alpha - 1.0
    # Stable form of the root when b > 0 (no cancellation).
    disc = np.sqrt(b**2 + 4 * noise)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(b > 0, 2 * noise / (b + disc), 0.5 * (disc - b))
    return scalar_or_array(m, m.shape)


def ridge(X, y, lam):
    r"""Ridge estimator :math:`(X^\top X + \lambda I)^{-1} X^\top y`.

    With :math:`\lambda = \Delta` and a standard Gaussian prior it is the
    posterior mean of the linear channel. Solved in the smaller of the
    primal and dual forms.
    """
    X, y = _check_design(X, y)
    lam = float(check_nonnegative(lam, "lam"))
    n, d = X.shape
    if n >= d:
        return np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y)
    return X.T @ np.linalg.solve(X @ X.T + lam * np.eye(n), y)


def hebbian(X, y):
    r"""Hebb's rule :math:`\hat w \propto X^\top y` (the classical baseline)."""
    X, y = _check_design(X, y)
    return X.T @ y


def hebbian_gen_error(alpha):
    r"""0-1 error of Hebb's rule on the perceptron, :math:`\arccos R/\pi`.

    With :math:`R = \sqrt{2\alpha/(2\alpha + \pi)}` the limiting cosine
    between :math:`X^\top y` and the teacher (Engel and Van den Broeck,
    2001, ch. 3).
    """
    alpha = check_nonnegative(alpha, "alpha")
    return np.arccos(np.sqrt(2 * alpha / (2 * alpha + np.pi))) / np.pi


def logistic_regression(X, y, lam=1e-3):
    r"""Weights of :math:`\ell_2`-regularised logistic regression (scikit-learn).

    Minimises :math:`\sum_\mu \log(1 + e^{-y_\mu x_\mu\cdot w}) +
    \tfrac{\lambda}{2}\|w\|^2` without intercept, i.e. scikit-learn's
    ``LogisticRegression(C=1/lam)``.
    """
    from sklearn.linear_model import LogisticRegression

    X, y = _check_design(X, y)
    lam = float(check_in_range(lam, "lam", 0.0, np.inf, low_open=True))
    model = LogisticRegression(C=1.0 / lam, fit_intercept=False, tol=1e-8, max_iter=10_000)
    return model.fit(X, y).coef_.ravel()
