r"""Finite-size simulations of the rules-and-facts (RAF) model.

Data (``raf.md`` §1): inputs :math:`x_\mu \sim \mathcal N(0, I_d)`, teacher
:math:`w^\star \sim \mathcal N(0, I_d)`, teacher field
:math:`\nu_\mu = w^\star\cdot x_\mu/\sqrt d`. Each sample is a **fact** with
probability :math:`\varepsilon` (uniform random label) and otherwise a
**rule** (:math:`y = \operatorname{sign}\nu`).

Learners (``raf.md`` §8) minimise the *sum* objective, without intercept,

.. math::

    \mathcal L(w) = \sum_\mu \ell\big(y_\mu, w\cdot x_\mu/\sqrt d\big)
    + \tfrac\lambda2 \|w\|^2,

so the fitted :math:`\hat w` is on the scale of the state evolution and
:math:`m = \hat w\cdot w^\star/d`, :math:`q = \|\hat w\|^2/d` are directly
comparable with it. Kernels and random features replace
:math:`x/\sqrt d` by a feature map and :math:`\|w\|^2` by the RKHS norm.

scikit-learn (the ``erm`` extra) is imported only by the hinge and logistic
fits; the square loss, kernel ridge and every metric need only numpy/scipy.
"""

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from ._validation import (
    as_float_array,
    check_choice,
    check_in_range,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from .sweeps import sweep

__all__ = [
    "sample",
    "kernel_matrix",
    "fit",
    "FittedModel",
    "errors",
    "Errors",
    "simulate",
    "Simulation",
    "SMALL_LAM",
]
# LOSSES / KERNELS / FEATURE_MAPS stay out of __all__: aimnotes.raf (theory)
# star-imports this module and has its own LOSSES (a dict of |g'(0)|).

LOSSES = ("square", "hinge", "logistic")
KERNELS = ("linear", "sign", "relu", "rbf")
FEATURE_MAPS = ("sign", "relu")

#: Penalty used in place of ``lam = 0`` for the hinge and logistic losses
#: (C = 1/lam = 1e4). On separable data it gives the max-margin
#: (interpolating) solution; beyond separability the lam -> 0 limit has no
#: finite minimiser (logistic) or is a soft-margin fit at C = 1e4 (hinge).
SMALL_LAM = 1e-4

#: Default solver tolerances: liblinear's dual coordinate descent (hinge) and
#: lbfgs (logistic). sklearn's lbfgs rescales the objective, so its default
#: tol = 1e-4 stops far from the minimiser at small lam; 1e-8 gives a
#: relative gradient of the sum objective below ~1e-4 at d = 1000.
DEFAULT_TOL = {"hinge": 1e-6, "logistic": 1e-8}
MAX_ITER = 1_000_000
_CHUNK = 2048


# --------------------------------------------------------------------- data
def sample(d, alpha, eps, rng=None):
    r"""Draw a rules-and-facts data set.

    Parameters
    ----------
    d : int
        Dimension.
    alpha : float
        Sample ratio; ``n = round(alpha * d)``.
    eps : float in [0, 1]
        Probability that a sample is a fact. The fact mask is Bernoulli
        (the number of facts is Binomial(n, eps), not exactly eps n); both
        choices have the same large-d limit.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    X : ndarray, shape (n, d)
        Inputs with i.i.d. :math:`\mathcal N(0, 1)` entries (learners divide
        by :math:`\sqrt d` themselves).
    y : ndarray, shape (n,)
        Labels in {-1.0, +1.0}: :math:`\operatorname{sign}(w^\star\cdot x/\sqrt d)`
        for rules, a fair coin for facts (so a fact agrees with the rule
        half of the time: an effective flip rate eps/2).
    w_star : ndarray, shape (d,)
        Teacher weights, i.i.d. :math:`\mathcal N(0, 1)`.
    is_fact : ndarray of bool, shape (n,)
    """
    d = check_positive_int(d, "d")
    alpha = float(check_nonnegative(alpha, "alpha"))
    eps = float(check_in_range(eps, "eps", 0.0, 1.0))
    rng = np.random.default_rng(rng)
    n = int(round(alpha * d))
    w_star = rng.standard_normal(d)
    X = rng.standard_normal((n, d))
    is_fact = rng.random(n) < eps
    coin = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    rule = np.where(X @ w_star >= 0, 1.0, -1.0)
    y = np.where(is_fact, coin, rule)
    return X, y, w_star, is_fact


# ------------------------------------------------------------------ kernels
def _check_X(X, name="X"):
    X = as_float_array(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array of shape (n, d), got shape {X.shape}")
    return X


def kernel_matrix(X1, X2, kernel, *, gamma=1.0):
    r"""Gram matrix :math:`K(x_i, x'_j)` of the RAF kernels.

    Inputs are on the :math:`\mathcal N(0, 1)` scale of :func:`sample`.

    * ``"linear"``: :math:`x\cdot x'/d`.
    * ``"sign"``: :math:`\frac2\pi\arcsin\frac{x\cdot x'}{\|x\|\|x'\|}`
      (normalised inside the arcsin, so :math:`K(x, x) = 1`).
    * ``"relu"``: :math:`\frac{\|x\|\|x'\|}{2\pi d}\big(\sqrt{1-c^2} +
      c(\pi - \arccos c)\big)` with :math:`c` the cosine of the angle
      between :math:`x` and :math:`x'`; this is :math:`f(x\cdot x'/d)` of
      ``raf.md`` §5 when :math:`\|x\|^2 = d`.
    * ``"rbf"``: :math:`e^{-\gamma\|x - x'\|^2/d}`.

    The sign and ReLU kernels are exactly
    :math:`\mathbb E_f[\sigma(f\cdot x/\sqrt d)\,\sigma(f\cdot x'/\sqrt d)]`,
    :math:`f \sim \mathcal N(0, I_d)`, i.e. the :math:`p \to \infty` limit of
    the random features of :func:`fit`.
    """
    X1, X2 = _check_X(X1, "X1"), _check_X(X2, "X2")
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(
            f"X1 and X2 must have the same number of columns, got {X1.shape[1]} and {X2.shape[1]}"
        )
    check_choice(kernel, "kernel", set(KERNELS))
    gamma = float(check_positive(gamma, "gamma"))
    d = X1.shape[1]
    G = X1 @ X2.T
    if kernel == "linear":
        return G / d
    n1 = np.sqrt(np.einsum("ij,ij->i", X1, X1))
    n2 = np.sqrt(np.einsum("ij,ij->i", X2, X2))
    if kernel == "rbf":
        sq = n1[:, None] ** 2 + n2[None, :] ** 2 - 2 * G
        return np.exp(-gamma * np.maximum(sq, 0.0) / d)
    norms = np.outer(n1, n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.clip(np.where(norms > 0, G / norms, 0.0), -1.0, 1.0)
    if kernel == "sign":
        return (2 / np.pi) * np.arcsin(c)
    return norms / (2 * np.pi * d) * (np.sqrt(1 - c * c) + c * (np.pi - np.arccos(c)))


def _rf_features(X, F, name):
    r"""Random features :math:`\sigma(F x/\sqrt d)/\sqrt p` of the rows of ``X``."""
    p, d = F.shape
    Z = X @ F.T / np.sqrt(d)
    phi = np.where(Z >= 0, 1.0, -1.0) if name == "sign" else np.maximum(Z, 0.0)
    return phi / np.sqrt(p)


# ---------------------------------------------------------------- the model
@dataclass(frozen=True)
class FittedModel:
    r"""A fitted RAF learner; call it (or :meth:`decision_function`) on raw inputs.

    Attributes
    ----------
    loss : str
    lam : float
        The penalty actually used (``SMALL_LAM`` when ``lam = 0`` was asked
        for with the hinge or logistic loss).
    kind : {"linear", "kernel", "random_features"}
    d : int
        Input dimension.
    w : ndarray, shape (d,), or None
        For linear models (and ``kernel="linear"``), the weights on the
        :math:`x/\sqrt d` scale: :math:`\hat f(x) = w\cdot x/\sqrt d`.
        None for nonlinear kernels and random features.
    kernel : str or None
    gamma : float
    coef : ndarray or None
        Dual coefficients :math:`\beta` of a kernel model,
        :math:`\hat f(x) = \sum_\mu \beta_\mu K(x, x_\mu)`, or the readout
        weights of a random-features model.
    features : ndarray, shape (p, d), or None
        Random-feature matrix :math:`F`.
    feature_map : str or None
    n_iter : int
        Iterations of the scikit-learn solver (0 for closed forms).
    """

    loss: str
    lam: float
    kind: str
    d: int
    w: np.ndarray = None
    kernel: str = None
    gamma: float = 1.0
    coef: np.ndarray = field(default=None, repr=False)
    X_train: np.ndarray = field(default=None, repr=False)
    features: np.ndarray = field(default=None, repr=False)
    feature_map: str = None
    n_iter: int = 0

    @property
    def is_linear(self):
        r"""Whether the predictor is :math:`w\cdot x/\sqrt d` with a known ``w``."""
        return self.w is not None

    def decision_function(self, X):
        r""":math:`\hat f(x)` for the rows of ``X`` (raw :math:`\mathcal N(0,1)` scale)."""
        X = _check_X(X)
        if X.shape[1] != self.d:
            raise ValueError(f"X must have {self.d} columns, got {X.shape[1]}")
        if self.w is not None:
            return X @ self.w / np.sqrt(self.d)
        out = np.empty(X.shape[0])
        for start in range(0, X.shape[0], _CHUNK):
            rows = X[start:start + _CHUNK]
            if self.kind == "kernel":
                out[start:start + _CHUNK] = kernel_matrix(
                    rows, self.X_train, self.kernel, gamma=self.gamma) @ self.coef
            else:
                out[start:start + _CHUNK] = self._rf(rows) @ self.coef
        return out

    __call__ = decision_function

    def predict(self, X):
        r"""Labels :math:`\operatorname{sign}\hat f(x)` (0 where :math:`\hat f = 0`)."""
        return np.sign(self.decision_function(X))

    def _rf(self, X):
        return _rf_features(X, self.features, self.feature_map)


# ------------------------------------------------------------------ fitting
def _check_data(X, y):
    X = _check_X(X)
    y = as_float_array(y, "y")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have shape (n,) = ({X.shape[0]},) to match X, got shape {y.shape}"
        )
    if X.shape[0] == 0:
        raise ValueError("X must have at least one row (n >= 1)")
    return X, y


def _linear_erm(A, y, lam, loss, tol):
    """Minimiser of sum_mu loss(y_mu, A_mu . w) + lam/2 |w|^2, and solver iterations."""
    n, p = A.shape
    if loss == "square":
        if lam == 0:
            return np.linalg.lstsq(A, y, rcond=None)[0], 0  # min-norm least squares
        if n >= p:
            return linalg.solve(A.T @ A + lam * np.eye(p), A.T @ y, assume_a="pos"), 0
        return A.T @ linalg.solve(A @ A.T + lam * np.eye(n), y, assume_a="pos"), 0
    if loss == "hinge":
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=1.0 / lam, loss="hinge", fit_intercept=False, dual=True,
                          tol=tol, max_iter=MAX_ITER, random_state=0)
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0 / lam, fit_intercept=False, tol=tol,
                                   max_iter=MAX_ITER)
    model.fit(A, y)
    w = model.coef_.ravel().copy()
    if model.classes_[1] < 0:  # pragma: no cover - classes_ is sorted, +1 is last
        w = -w
    return w, int(np.max(model.n_iter_))


def fit(X, y, lam, loss="square", *, kernel=None, gamma=1.0, random_features=None,
        feature_map="sign", rng=None, tol=None):
    r"""Fit a RAF learner by empirical risk minimisation (``raf.md`` §8).

    Minimises :math:`\sum_\mu\ell(y_\mu, \hat f(x_\mu)) + \frac\lambda2\|\cdot\|^2`
    without intercept, where :math:`\hat f(x) = w\cdot x/\sqrt d` (linear),
    :math:`\sum_\mu\beta_\mu K(x, x_\mu)` (kernel, RKHS-norm penalty) or
    :math:`w\cdot\sigma(Fx/\sqrt d)/\sqrt p` (random features, ``F`` with
    i.i.d. :math:`\mathcal N(0,1)` entries).

    * **square** :math:`\frac12(y - z)^2`: closed form,
      :math:`\hat w = (A^\top A + \lambda I)^{-1}A^\top y` with
      :math:`A = X/\sqrt d` (this is ``sklearn.linear_model.Ridge(alpha=lam,
      fit_intercept=False)`` on ``A``); kernel ridge
      :math:`\beta = (K + \lambda I)^{-1}y`. At ``lam = 0`` the min-norm
      least-squares solution (``lstsq``), i.e. the min-norm interpolator
      when there are fewer equations than parameters.
    * **hinge** :math:`\max(0, 1 - yz)`: ``LinearSVC(C=1/lam, loss="hinge",
      fit_intercept=False, dual=True)``, with a fixed ``random_state`` so that
      the fit is reproducible (liblinear's coordinate order is random).
    * **logistic** :math:`\log(1 + e^{-yz})`: ``LogisticRegression(C=1/lam,
      fit_intercept=False)``.

    For hinge and logistic, ``lam = 0`` is replaced by ``SMALL_LAM``
    (``1e-4``), which approximates the max-margin solution; this makes sense
    only while the data are separable (see ``raf.md`` §6).

    Kernel hinge/logistic are solved exactly, without intercept, as a linear
    ERM on the features :math:`\Phi = U S^{1/2}` of :math:`K = U S U^\top`
    (positive eigenvalues only): by the representer theorem the RKHS problem
    restricted to :math:`\operatorname{span}\{K(\cdot, x_\mu)\}` is this
    linear problem, and :math:`\beta = U S^{-1/2}v`.
    (``SVC(kernel="precomputed")`` always fits an intercept, which the RAF
    model does not have.)

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Inputs on the :math:`\mathcal N(0, 1)` scale (as from :func:`sample`).
    y : ndarray, shape (n,)
        Labels in {-1, +1} (any real values for the square loss).
    lam : float >= 0
        Ridge penalty :math:`\lambda` of the sum objective.
    loss : {"square", "hinge", "logistic"}
    kernel : {None, "linear", "sign", "relu", "rbf"}
        See :func:`kernel_matrix`. ``None`` is the linear model on
        :math:`x/\sqrt d`; ``"linear"`` solves the same problem in dual form
        (and still exposes ``w``).
    gamma : float > 0
        Width of the RBF kernel.
    random_features : int or float, optional
        An ``int`` is the number of features ``p``; a ``float`` is the ratio
        ``p/d`` (``p = max(1, round(ratio * d))``). Exclusive with ``kernel``.
    feature_map : {"sign", "relu"}
        :math:`\sigma` of the random features.
    rng : numpy.random.Generator or int, optional
        Draws the random features. Do not reuse the integer seed of
        :func:`sample`: both draw a standard normal array first, so the
        first random feature would be the teacher itself.
    tol : float, optional
        Solver tolerance for hinge/logistic (default ``DEFAULT_TOL``).

    Returns
    -------
    FittedModel
    """
    X, y = _check_data(X, y)
    lam = float(check_nonnegative(lam, "lam"))
    check_choice(loss, "loss", set(LOSSES))
    if kernel is not None:
        check_choice(kernel, "kernel", set(KERNELS))
    check_choice(feature_map, "feature_map", set(FEATURE_MAPS))
    gamma = float(check_positive(gamma, "gamma"))
    if kernel is not None and random_features is not None:
        raise ValueError("kernel and random_features are exclusive: give at most one")
    if loss != "square":
        if not np.all(np.abs(y) == 1):
            raise ValueError(f"y must contain only -1 and +1 for the {loss} loss")
        if lam == 0:
            lam = SMALL_LAM
    if loss != "square":
        tol = float(check_positive(DEFAULT_TOL[loss] if tol is None else tol, "tol"))
    n, d = X.shape
    common = dict(loss=loss, lam=lam, d=d)

    if random_features is not None:
        if isinstance(random_features, (bool, np.bool_)):
            raise ValueError(f"random_features must be an int (p) or a float (p/d), "
                             f"got {random_features!r}")
        if isinstance(random_features, (int, np.integer)):
            p = check_positive_int(random_features, "random_features")
        else:
            ratio = float(check_positive(random_features, "random_features"))
            p = max(1, int(round(ratio * d)))
        rng = np.random.default_rng(rng)
        F = rng.standard_normal((p, d))
        v, n_iter = _linear_erm(_rf_features(X, F, feature_map), y, lam, loss, tol)
        return FittedModel(kind="random_features", features=F, feature_map=feature_map,
                           coef=v, n_iter=n_iter, **common)

    if kernel is None:
        w, n_iter = _linear_erm(X / np.sqrt(d), y, lam, loss, tol)
        return FittedModel(kind="linear", w=w, n_iter=n_iter, **common)

    K = kernel_matrix(X, X, kernel, gamma=gamma)
    n_iter = 0
    if loss == "square":
        if lam == 0:
            beta = np.linalg.lstsq(K, y, rcond=None)[0]  # min-RKHS-norm interpolant
        else:
            beta = linalg.solve(K + lam * np.eye(n), y, assume_a="pos")
    else:
        s, U = np.linalg.eigh(K)
        keep = s > n * np.finfo(float).eps * max(s.max(), 0.0)
        U, s = U[:, keep], s[keep]
        v, n_iter = _linear_erm(U * np.sqrt(s), y, lam, loss, tol)
        beta = U @ (v / np.sqrt(s))
    w = X.T @ beta / np.sqrt(d) if kernel == "linear" else None
    return FittedModel(kind="kernel", w=w, kernel=kernel, gamma=gamma, coef=beta,
                       X_train=X, n_iter=n_iter, **common)


# ------------------------------------------------------------------ metrics
@dataclass(frozen=True)
class Errors:
    r"""Metrics of a fitted model (``raf.md`` §1).

    Attributes
    ----------
    gen_error : :math:`P(\operatorname{sign}\hat f(x)\ne\operatorname{sign}\nu)`
        on fresh rule data.
    gen_error_stderr : its Monte Carlo standard error (0 when exact).
    mem_error : fraction of training facts with :math:`y\hat f(x) < 0`
        (NaN when there are no facts).
    train_error_rule : the same fraction over the training rules (NaN
        when there are none).
    m, q : :math:`\hat w\cdot w^\star/d` and :math:`\|\hat w\|^2/d` (NaN for
        nonlinear models).
    """

    gen_error: float
    gen_error_stderr: float
    mem_error: float
    train_error_rule: float
    m: float
    q: float


def _fraction(mask):
    return float(mask.mean()) if mask.size else np.nan


def errors(model, X, y, is_fact, w_star, *, n_test=10_000, test_set=False, rng=None):
    r"""Generalisation, memorisation and rule training errors of a fitted model.

    Parameters
    ----------
    model : FittedModel
    X, y, is_fact : training data (as from :func:`sample`).
    w_star : ndarray, shape (d,)
        Teacher.
    n_test : int
        Size of the fresh rule-labelled test set, used for models without
        ``w`` (nonlinear kernels, random features) or when ``test_set``.
    test_set : bool
        Estimate the generalisation error on a test set even for a linear
        model (instead of the exact formula).
    rng : numpy.random.Generator or int, optional
        Draws the test set.

    Returns
    -------
    Errors
        For a linear model ``gen_error`` is exact for Gaussian inputs,
        :math:`\frac1\pi\arccos\frac{\hat w\cdot w^\star}{\|\hat w\|\|w^\star\|}`
        (½ when :math:`\hat w = 0`), and :math:`m = \hat w\cdot w^\star/d`,
        :math:`q = \|\hat w\|^2/d` are the order parameters of the state
        evolution (same sum objective, same :math:`x/\sqrt d` scale; the
        teacher is the drawn one, with :math:`\|w^\star\|^2/d \approx 1`).
    """
    X, y = _check_data(X, y)
    is_fact = np.asarray(is_fact)
    if is_fact.shape != y.shape:
        raise ValueError(f"is_fact must have shape {y.shape} to match y, got {is_fact.shape}")
    is_fact = is_fact.astype(bool)
    w_star = as_float_array(w_star, "w_star")
    d = X.shape[1]
    if w_star.shape != (d,):
        raise ValueError(f"w_star must have shape ({d},) to match X, got {w_star.shape}")
    if model.d != d:
        raise ValueError(f"model was fitted in dimension {model.d}, X has {d} columns")
    n_test = check_positive_int(n_test, "n_test")
    margin = y * model.decision_function(X)
    wrong = margin < 0
    mem = _fraction(wrong[is_fact])
    rule = _fraction(wrong[~is_fact])
    m = q = np.nan
    if model.is_linear:
        w = model.w
        m, q = float(w @ w_star / d), float(w @ w / d)
    if model.is_linear and not test_set:
        norm = np.linalg.norm(w) * np.linalg.norm(w_star)
        gen = 0.5 if norm == 0 else float(np.arccos(np.clip(w @ w_star / norm, -1, 1)) / np.pi)
        se = 0.0
    else:
        rng = np.random.default_rng(rng)
        n_wrong = 0
        for start in range(0, n_test, _CHUNK):
            Xt = rng.standard_normal((min(_CHUNK, n_test - start), d))
            yt = np.where(Xt @ w_star >= 0, 1.0, -1.0)
            n_wrong += int(np.sum(np.sign(model.decision_function(Xt)) != yt))
        gen = n_wrong / n_test
        se = float(np.sqrt(gen * (1 - gen) / n_test))
    return Errors(gen_error=gen, gen_error_stderr=se, mem_error=mem, train_error_rule=rule,
                  m=m, q=q)


# -------------------------------------------------------------- simulations
@dataclass(frozen=True)
class Simulation:
    r"""Metrics of repeated RAF runs; each metric has shape (n_seeds, n_alpha).

    Attributes
    ----------
    alpha : ndarray, shape (n_alpha,)
    d, eps, lam, loss : the run's parameters.
    gen_error, mem_error, train_error_rule : see :class:`Errors`.
    m, q : order parameters (NaN for nonlinear models).
    """

    alpha: np.ndarray
    d: int
    eps: float
    lam: float
    loss: str
    gen_error: np.ndarray
    mem_error: np.ndarray
    train_error_rule: np.ndarray
    m: np.ndarray
    q: np.ndarray

    def mean(self, name):
        """Return the average of a metric over seeds, skipping NaN entries (no facts)."""
        values = getattr(self, name)
        with np.errstate(invalid="ignore"):
            count = np.sum(~np.isnan(values), axis=0)
            return np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), np.nan)

    def stderr(self, name):
        """Return the standard error of that average (0 with a single valid seed)."""
        values = getattr(self, name)
        count = np.sum(~np.isnan(values), axis=0)
        out = np.zeros(values.shape[1])
        for j in range(values.shape[1]):
            v = values[~np.isnan(values[:, j]), j]
            if v.size >= 2:
                out[j] = v.std(ddof=1) / np.sqrt(v.size)
        return np.where(count > 0, out, np.nan)


def _simulate_seed(d, alphas, eps, lam, loss, n_test, fit_kwargs, seed, rng):
    """One seed of :func:`simulate` (``seed`` only labels it): every alpha."""
    names = ("gen_error", "mem_error", "train_error_rule", "m", "q")
    out = {k: np.full(alphas.size, np.nan) for k in names}
    X, y, w_star, is_fact = sample(d, alphas.max(), eps, rng=rng)
    for j, alpha in enumerate(alphas):
        n = int(round(alpha * d))
        model = fit(X[:n], y[:n], lam, loss, rng=rng, **fit_kwargs)
        err = errors(model, X[:n], y[:n], is_fact[:n], w_star, n_test=n_test, rng=rng)
        for k in names:
            out[k][j] = getattr(err, k)
    return out


def simulate(d, alphas, eps, lam, loss="square", *, n_seeds=3, n_test=10_000, rng=None,
             executor=None, progress=True, **fit_kwargs):
    r"""Fit and measure a RAF learner for several alphas and seeds.

    For each seed one data set is drawn at the largest alpha (:func:`sample`)
    and the smaller alphas use its first ``round(alpha d)`` rows, as in
    :func:`aimnotes.glm.finite_size_runs`. The same generator then draws the
    random features (if any) and the test sets. Each seed has its own
    generator, a child of ``rng`` (see
    :func:`aimnotes.sweep <aimnotes.sweeps.sweep>`), so the seeds can run
    in parallel with the same numbers on any executor.

    Parameters
    ----------
    d : int
    alphas : array_like, shape (n_alpha,)
        Sample ratios with ``round(alpha d) >= 1``.
    eps : float in [0, 1]
    lam : float >= 0
    loss : {"square", "hinge", "logistic"}
    n_seeds : int
    n_test : int
        Test-set size for models without an exact error formula.
    rng : numpy.random.Generator or int, optional
    executor : concurrent.futures.Executor, optional
        Runs the seeds, one task each (default: in this process); see
        :func:`~aimnotes.sweeps.sweep`.
    progress : bool
        Progress bar over the seeds (see :func:`~aimnotes.sweeps.sweep`).
    **fit_kwargs
        Passed to :func:`fit` (``kernel``, ``gamma``, ``random_features``,
        ``feature_map``, ``tol``).

    Returns
    -------
    Simulation
    """
    d = check_positive_int(d, "d")
    n_seeds = check_positive_int(n_seeds, "n_seeds")
    alphas = np.atleast_1d(check_nonnegative(alphas, "alphas")).astype(float)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError(f"alphas must be a non-empty 1-d array, got shape {alphas.shape}")
    if np.any(np.round(alphas * d) < 1):
        raise ValueError(f"alphas must give n = round(alpha d) >= 1 samples, got {alphas!r}")
    eps = float(check_in_range(eps, "eps", 0.0, 1.0))
    lam = float(check_nonnegative(lam, "lam"))
    check_choice(loss, "loss", set(LOSSES))
    n_test = check_positive_int(n_test, "n_test")
    task = functools.partial(_simulate_seed, d, alphas, eps, lam, loss, n_test, fit_kwargs)
    runs = sweep(task, {"seed": range(n_seeds)}, executor, progress, rng=rng,
                 desc="raf.simulate")
    names = ("gen_error", "mem_error", "train_error_rule", "m", "q")
    out = {k: runs.to_array(k) for k in names}
    return Simulation(alpha=alphas, d=d, eps=eps, lam=lam, loss=loss, **out)
