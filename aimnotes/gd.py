r"""Gradient-descent baselines for the attention-indexed model (AIM).

The model: a sample is :math:`X_\mu \in \mathbb{R}^{T \times d}` with i.i.d.
:math:`\mathcal{N}(0, 1)` entries; the attention indices are the symmetric
:math:`T \times T` matrices

.. math::

    h_\mu = \frac{X_\mu S X_\mu^\top - \operatorname{Tr}(S)\, I_T}{\sqrt d},
    \qquad S = \frac{W W^\top}{\sqrt{r d}}, \quad W \in \mathbb{R}^{d \times r},

and the labels are :math:`y_\mu = \operatorname{softmax}_{\rm row}(\beta h_\mu)`
(softmax channel) or :math:`y_\mu = h_\mu` (linear channel; for :math:`T = 1`
this is the quadratic network of [2]_).

The student has the teacher's tied architecture, :math:`S_s = W_s W_s^\top /
\sqrt{r d}`, and is trained by full-batch Adam or plain gradient descent on
the square loss, as in the authors' released code [1]_ [2]_; averaging the
final :math:`S_s` over independent initialisations gives a proxy of the
posterior mean ("averaged GD").

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, "Bayes optimal
   learning of attention-indexed models", arXiv:2506.01582 (2025); code
   ``FabrizioBoncoraglio/BO_ExtensiveRankAttention`` (``GD_softmax_averaged.py``).
.. [2] A. Maillard, E. Troiani, S. Martin, F. Krzakala, L. Zdeborová,
   "Bayes-optimal learning of an extensive-width neural network from
   quadratically many samples", arXiv:2408.03733 (2024); code
   ``SPOC-group/ExtensiveWidthQuadraticSamples`` (``GD_vanilla.py``,
   ``GD_averaged.py``).
"""

from dataclasses import dataclass, field

import numpy as np

from .aim import attention_indices
from ._validation import (
    as_float_array,
    check_choice,
    check_nonnegative,
    check_positive,
    check_positive_int,
)

__all__ = [
    "attention_indices",
    "test_error",
    "attention_gd",
    "GDResult",
    "averaged_attention_gd",
    "AveragedGDResult",
]

OUTPUTS = {"softmax", "linear"}
OPTIMIZERS = {"adam", "gd"}
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Final/initial loss ratio below which a run counts as interpolating.
INTERPOLATED = 1e-8


# ------------------------------------------------------------------ checks
def _check_tokens(tokens):
    X = as_float_array(tokens, "tokens")
    if X.ndim != 3 or X.shape[0] < 1:
        raise ValueError(
            f"tokens must be a 3-d array of shape (n, T, d) with n >= 1, got shape {X.shape}"
        )
    return X


def _check_labels(y, n, T, output):
    y = as_float_array(y, "y")
    if y.shape != (n, T, T):
        raise ValueError(
            f"y must have shape (n, T, T) = ({n}, {T}, {T}) to match tokens, got shape {y.shape}"
        )
    stochastic = np.all(y >= 0) and np.allclose(y.sum(axis=-1), 1.0, rtol=0, atol=1e-6)
    if output == "softmax" and not stochastic:
        raise ValueError(
            "y must hold row-stochastic T x T matrices (y >= 0, rows summing to 1) "
            "for output='softmax'"
        )
    return y


def _check_matrix(S, name, d):
    S = as_float_array(S, name)
    if S.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}), got shape {S.shape}")
    return S


def _check_rank(rank, d):
    rank = check_positive_int(rank, "rank")
    if rank > d:
        raise ValueError(f"rank must be <= d = {d}, got {rank}")
    return rank


# ----------------------------------------------------------- forward map
def test_error(S_hat, S_true):
    r"""Matrix error :math:`\|\hat S - S\|_F^2 / d`.

    Its Bayes-optimal value is the MMSE of the AIM [1]_ (and, for
    :math:`T = 1`, of the quadratic network [2]_ in the AIM normalisation).
    """
    S_true = as_float_array(S_true, "S_true")
    if S_true.ndim != 2 or S_true.shape[0] != S_true.shape[1]:
        raise ValueError(f"S_true must be a square matrix, got shape {S_true.shape}")
    S_hat = _check_matrix(S_hat, "S_hat", S_true.shape[0])
    return float(np.sum((S_hat - S_true) ** 2) / S_true.shape[0])


test_error.__test__ = False  # not a pytest test when imported into a test module


# ------------------------------------------------------- loss and gradient
def _loss_and_grad(Xf, n, T, y, W, output, beta, loss_scale):
    r"""Loss and gradient for a batch of ``k`` students.

    Layouts (chosen so that no large array is transposed or copied):
    ``Xf`` has shape (T n, d), rows ordered (token a, sample mu); ``y`` has
    shape (T, T, n, 1); ``W`` has shape (d, k, r).

    With :math:`Z_\mu = X_\mu W_s` and :math:`c = 1/(d\sqrt r)` the student
    indices are :math:`h_\mu = c\,(Z_\mu Z_\mu^\top - \|W_s\|_F^2 I_T)`. For
    :math:`G_\mu = \partial L/\partial h_\mu`,

    .. math::

        \frac{\partial L}{\partial W_s} = c \Big[\sum_\mu X_\mu^\top (G_\mu +
        G_\mu^\top) Z_\mu - 2 \Big(\sum_\mu \operatorname{tr} G_\mu\Big) W_s\Big],

    which is :math:`(\partial_S L + \partial_S L^\top) W_s/\sqrt{rd}` with
    :math:`\partial_S L = \sum_\mu (X_\mu^\top G_\mu X_\mu - \operatorname{tr}
    G_\mu\, I)/\sqrt d` contracted with :math:`W_s` first: the sum over
    samples is one :math:`(d \times Tn)(Tn \times kr)` matmul, and no
    :math:`d \times d` matrix is formed (cost :math:`O(nTdr)` per step). The
    only Python loops run over token pairs :math:`(a, b)`.
    """
    d, k, r = W.shape
    c = 1.0 / (d * np.sqrt(r))
    Z = (Xf @ W.reshape(d, k * r)).reshape(T, n, k, r)
    h = np.empty((T, T, n, k))
    for a in range(T):
        for b in range(a, T):
            h[a, b] = np.einsum("nkr,nkr->nk", Z[a], Z[b])
            h[b, a] = h[a, b]
    h *= c
    diag = np.arange(T)
    h[diag, diag] -= c * np.einsum("ikr,ikr->k", W, W)
    if output == "softmax":
        h *= beta
        h -= h.max(axis=1, keepdims=True)
        y_hat = np.exp(h)
        y_hat /= y_hat.sum(axis=1, keepdims=True)
    else:
        y_hat = h
    res = y_hat - y
    loss = (loss_scale / d) * np.einsum("abnk,abnk->k", res, res)
    e = (2.0 * loss_scale / d) * res  # dL / dy_hat
    if output == "softmax":
        G = beta * y_hat * (e - np.sum(y_hat * e, axis=1, keepdims=True))
    else:
        G = e
    tr_G = G[diag, diag].sum(axis=(0, 1))
    G = G + G.transpose(1, 0, 2, 3)
    dZ = np.zeros((T, n, k, r))
    for a in range(T):
        for b in range(T):
            dZ[a] += G[a, b][..., None] * Z[b]
    grad = (Xf.T @ dZ.reshape(T * n, k * r)).reshape(d, k, r)
    grad -= 2.0 * tr_G[:, None] * W
    grad *= c
    return loss, grad


def _optimise(Xf, n, T, y, W, *, output, beta, optimizer, lr, n_steps, weight_decay,
              loss_scale, S_true, track):
    """Run ``n_steps`` full-batch steps for a batch of students ``W`` (d, k, r).

    Returns the final ``W`` and the loss (and error) histories, shape
    (n_steps + 1, k): entry ``t`` is measured after ``t`` updates.
    """
    d, k, r = W.shape
    W = W.copy()
    losses = np.empty((n_steps + 1, k))
    errors = np.empty((n_steps + 1, k)) if (S_true is not None and track) else None
    if optimizer == "adam":
        m = np.zeros_like(W)
        v = np.zeros_like(W)
        b1, b2 = ADAM_BETAS
    norm = 1.0 / np.sqrt(r * d)
    for t in range(n_steps + 1):
        loss, grad = _loss_and_grad(Xf, n, T, y, W, output, beta, loss_scale)
        losses[t] = loss
        if errors is not None:
            S = norm * np.einsum("ikr,jkr->kij", W, W) - S_true
            errors[t] = np.einsum("kij,kij->k", S, S) / d
        if t == n_steps:
            break
        if weight_decay:
            grad += weight_decay * W  # L2 penalty in the gradient, as torch's Adam/SGD
        if optimizer == "adam":
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            m_hat = m / (1 - b1 ** (t + 1))
            v_hat = v / (1 - b2 ** (t + 1))
            W -= lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
        else:
            W -= lr * grad
    return W, losses, errors


def _converged(losses, tol):
    """Whether a loss history has settled.

    True if the loss plateaued (relative change over the last tenth of the
    run at most ``tol``) or interpolated (below ``INTERPOLATED`` times its
    initial value).
    """
    n_steps = losses.shape[0] - 1
    w = max(1, n_steps // 10)
    before, after = losses[-1 - w], losses[-1]
    plateau = np.abs(before - after) <= tol * np.maximum(before, np.finfo(float).tiny)
    return plateau | (after <= INTERPOLATED * losses[0])


def _setup(tokens, y, rank, output, beta, optimizer, lr, n_steps, weight_decay, loss_scale,
           init_scale, tol, S_true):
    X = _check_tokens(tokens)
    n, T, d = X.shape
    check_choice(output, "output", OUTPUTS)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    y = _check_labels(y, n, T, output)
    rank = _check_rank(rank, d)
    opts = dict(
        output=output,
        beta=float(check_positive(beta, "beta")),
        optimizer=optimizer,
        lr=float(check_positive(lr, "lr")),
        n_steps=check_positive_int(n_steps, "n_steps"),
        weight_decay=float(check_nonnegative(weight_decay, "weight_decay")),
        loss_scale=float(check_positive(loss_scale, "loss_scale")),
    )
    init_scale = float(check_positive(init_scale, "init_scale"))
    tol = float(check_nonnegative(tol, "tol"))
    if S_true is not None:
        S_true = _check_matrix(S_true, "S_true", d)
    # Internal layouts of _loss_and_grad: rows of Xf ordered (token, sample).
    Xf = np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(T * n, d)
    y = np.ascontiguousarray(y.transpose(1, 2, 0))[..., None]
    return Xf, n, T, d, y, rank, opts, init_scale, tol, S_true


_COMMON_DOC = r"""
    tokens : ndarray, shape (n, T, d)
        Token matrices :math:`X_\mu`, rows i.i.d. :math:`\mathcal{N}(0, I_d)`.
    y : ndarray, shape (n, T, T)
        Labels: row-stochastic matrices for ``output="softmax"`` (teacher
        softmax outputs, or one-hot rows for hardmax labels), the indices
        (possibly noisy) for ``output="linear"``.
    rank : int
        Student width :math:`r \le d` (the teacher's, :math:`r = \rho d`, in
        the baselines of [1]_ [2]_).
    output : {"softmax", "linear"}
        Student output: :math:`\hat y = \operatorname{softmax}_{\rm row}(\beta
        h_s)` or :math:`\hat y = h_s`.
    beta : float
        Inverse temperature of the student softmax (ignored for
        ``"linear"``). Use the teacher's :math:`\beta` for softmax labels.
        Hardmax (one-hot) labels: fit them with the softmax student at a
        finite :math:`\beta`, e.g. 1. They fix :math:`S` only up to a
        positive factor (:math:`h` is linear in :math:`S`), and the student
        sharpens its softmax by growing :math:`\|S_s\|` without bound, so
        :math:`\|\hat S - S\|_F^2/d` grows with ``n_steps``: compare
        directions, or rescale :math:`\hat S` (e.g. to
        :math:`\|\hat S\|_F^2/d = 1 + \rho`), before measuring errors.
    optimizer : {"adam", "gd"}
        Full-batch Adam (betas (0.9, 0.999), eps 1e-8, bias-corrected,
        torch's update rule) or plain gradient descent
        :math:`W \leftarrow W - \mathrm{lr}\,\nabla L`.
    lr : float
        Learning rate. [1]_ uses Adam at 0.1; [2]_ plain GD at 0.1 (averaged
        GD, with :math:`s = d/4`) and Adam at 0.01 (single runs).
    n_steps : int
        Number of full-batch steps (1000 in [1]_ [2]_).
    weight_decay : float
        :math:`\lambda \ge 0`, added to the gradient as :math:`\lambda W_s`
        (an L2 penalty :math:`\tfrac\lambda2\|W_s\|_F^2`, torch's
        ``weight_decay`` for Adam and SGD; not decoupled AdamW).
    loss_scale : float
        :math:`s` in the loss of :func:`attention_gd`. The default 1 is the
        AIM code [1]_;
        ``loss_scale = d / 4`` gives the quadratic-network code's
        :math:`\sum_\mu (\hat y_\mu - y_\mu)^2 / 4` [2]_. It only rescales the
        learning rate of plain GD (:math:`s` at learning rate lr is
        :math:`s = 1` at :math:`s\,\mathrm{lr}`); Adam is invariant to it
        except through eps (and the relative weight of ``weight_decay``).
    init_scale : float
        Initial :math:`W_s` has i.i.d. :math:`\mathcal{N}(0,
        \mathrm{init\_scale}^2)` entries; the default 1 matches the prior of
        the teacher, so that :math:`S_s` starts with the teacher's spectrum.
    tol : float
        Tolerance of the ``converged`` flag (see Returns).
    rng : numpy.random.Generator or int, optional
        Source of the initialisation.
    S_true : ndarray, shape (d, d), optional
        Teacher matrix, used only to record errors."""


def _doc(f):
    if f.__doc__:  # None under python -OO
        f.__doc__ = f.__doc__.replace("    %(common)s", _COMMON_DOC.strip("\n"))
    return f


# ------------------------------------------------------------ single run
@dataclass(frozen=True)
class GDResult:
    r"""Outcome of :func:`attention_gd`.

    Attributes
    ----------
    S_hat : ndarray, shape (d, d)
        Final :math:`\hat S = W_s W_s^\top / \sqrt{rd}`.
    W_hat : ndarray, shape (d, r)
        Final student weights.
    loss_history : ndarray, shape (n_steps + 1,)
        Training loss after ``t`` updates, ``t = 0 .. n_steps`` (entry 0 at
        the initialisation, the last one at the returned weights).
    error_history : ndarray, shape (n_steps + 1,), or None
        :math:`\|\hat S_t - S\|_F^2 / d` at the same times, when ``S_true``
        is given.
    error : float or None
        Final error, ``error_history[-1]``.
    n_iter : int
        Number of updates made (always ``n_steps``: the baseline is "GD
        after a fixed number of steps", as in the released code).
    converged : bool
        Whether the training has settled: the loss has plateaued (its
        relative change over the last ``max(1, n_steps // 10)`` steps is at
        most ``tol``) or the student interpolates (final loss at most
        ``INTERPOLATED`` :math:`= 10^{-8}` times the initial one; with
        noiseless labels this is the global minimum, reached
        geometrically). ``False`` flags a run still descending, e.g. the
        slow softmax dynamics close to the recovery threshold: then
        ``n_steps`` matters for the error.
    """

    S_hat: np.ndarray
    W_hat: np.ndarray
    loss_history: np.ndarray = field(repr=False)
    error_history: np.ndarray = field(repr=False)
    error: float
    n_iter: int
    converged: bool


@_doc
def attention_gd(tokens, y, rank, *, output="softmax", beta=1.0, optimizer="adam", lr=0.1,
                 n_steps=1000, weight_decay=0.0, loss_scale=1.0, init_scale=1.0, tol=1e-3,
                 rng=None, S_true=None, W_init=None):
    r"""Train the tied AIM student by full-batch Adam or gradient descent.

    Minimises

    .. math::

        L(W_s) = \frac{s}{d} \sum_{\mu=1}^n \sum_{a,b=1}^T
        \big(\hat y_{\mu,ab} - y_{\mu,ab}\big)^2,
        \qquad \hat y_\mu = \mathrm{out}(h_\mu(S_s)),
        \quad S_s = \frac{W_s W_s^\top}{\sqrt{rd}},

    with :math:`h_\mu` the indices of :func:`attention_indices` (both
    :math:`a,b` orders are summed, so an off-diagonal entry of the linear
    channel counts twice), from a Gaussian initialisation: the GD baseline of
    [1]_ (softmax, Adam, lr 0.1, 1000 steps, :math:`s = 1`) and, for
    :math:`T = 1` and ``output="linear"``, of the quadratic network [2]_
    (:math:`s = d/4`; that code does not subtract :math:`\operatorname{Tr} S`
    from the output, here the student is always the AIM). The gradient is
    analytic; softmax backward is :math:`\partial L/\partial h_{ab} = \beta
    \hat y_{ab} (e_{ab} - \sum_c \hat y_{ac} e_{ac})` with :math:`e = \partial
    L/\partial \hat y`. One step costs :math:`O(nTdr)`.

    Parameters
    ----------
    %(common)s
    W_init : ndarray, shape (d, r), optional
        Explicit initialisation, overriding ``rng`` and ``init_scale``.

    Returns
    -------
    GDResult

    Examples
    --------
    >>> import numpy as np
    >>> from aimnotes import gd
    >>> rng = np.random.default_rng(0)
    >>> d, r, n = 20, 10, 200
    >>> W = rng.standard_normal((d, r)); S = W @ W.T / np.sqrt(r * d)
    >>> X = rng.standard_normal((n, 1, d))
    >>> res = gd.attention_gd(X, gd.attention_indices(X, S), r, output="linear",
    ...                       rng=1, S_true=S)
    >>> res.error < 1e-2
    True
    """
    Xf, n, T, d, y, rank, opts, init_scale, tol, S_true = _setup(
        tokens, y, rank, output, beta, optimizer, lr, n_steps, weight_decay, loss_scale,
        init_scale, tol, S_true)
    if W_init is None:
        W0 = init_scale * np.random.default_rng(rng).standard_normal((d, rank))
    else:
        W0 = as_float_array(W_init, "W_init")
        if W0.shape != (d, rank):
            raise ValueError(f"W_init must have shape ({d}, {rank}), got shape {W0.shape}")
    W, losses, errors = _optimise(Xf, n, T, y, W0[:, None, :], S_true=S_true, track=True, **opts)
    W = W[:, 0]
    losses = losses[:, 0]
    errors = None if errors is None else errors[:, 0]
    return GDResult(
        S_hat=W @ W.T / np.sqrt(rank * d),
        W_hat=W,
        loss_history=losses,
        error_history=errors,
        error=None if errors is None else float(errors[-1]),
        n_iter=opts["n_steps"],
        converged=bool(_converged(losses, tol)),
    )


# ---------------------------------------------------------- averaged GD
@dataclass(frozen=True)
class AveragedGDResult:
    r"""Outcome of :func:`averaged_attention_gd`.

    Attributes
    ----------
    S_hat : ndarray, shape (d, d)
        Mean of the final :math:`\hat S` over the initialisations.
    n_init : int
    losses : ndarray, shape (n_init,)
        Final training loss of each run.
    error : float or None
        :math:`\|\bar S - S\|_F^2 / d` of the average (``S_true`` given).
    errors : ndarray, shape (n_init,), or None
        Final error of each run.
    running_errors : ndarray, shape (n_init,), or None
        Error of the average of the first ``k + 1`` runs.
    n_iter : int
        Steps per run.
    converged : ndarray of bool, shape (n_init,)
        The flag of :class:`GDResult`, per run.
    """

    S_hat: np.ndarray
    n_init: int
    losses: np.ndarray
    error: float
    errors: np.ndarray
    running_errors: np.ndarray
    n_iter: int
    converged: np.ndarray


@_doc
def averaged_attention_gd(tokens, y, rank, *, n_init=32, output="softmax", beta=1.0,
                          optimizer="adam", lr=0.1, n_steps=1000, weight_decay=0.0,
                          loss_scale=1.0, init_scale=1.0, tol=1e-3, rng=None, S_true=None,
                          batch=1):
    r"""Averaged GD: mean of :math:`\hat S` over independent initialisations.

    Runs :func:`attention_gd` from ``n_init`` independent Gaussian
    initialisations on the same data and returns :math:`\bar S =
    \frac{1}{n_{\rm init}}\sum_k \hat S^{(k)}`, a proxy of the posterior mean
    (32 initialisations in [1]_; averaging reaches the Bayes-optimal error of
    the quadratic network in [2]_). Only the running mean of :math:`\hat S`
    is kept. ``batch`` students can be optimised together, sharing each
    matmul :math:`(d \times nT)(nT \times \mathrm{batch}\cdot r)`. Run ``k``
    starts from the ``k``-th slice of ``init_scale *
    rng.standard_normal((n_init, d, r))``, so the result does not depend on
    ``batch`` (up to rounding) and run 0 is :func:`attention_gd` with the
    same ``rng``.

    Parameters
    ----------
    %(common)s
    n_init : int
        Number of initialisations.
    batch : int
        Students optimised together (work arrays of shape (T, n, batch,
        r)). The default 1 is as fast single-threaded, since each step is
        already two BLAS-3 matmuls; on a loaded machine the larger matmuls
        of ``batch > 1`` made multi-threaded OpenBLAS several times slower.

    Returns
    -------
    AveragedGDResult
    """
    n_init = check_positive_int(n_init, "n_init")
    Xf, n, T, d, y, rank, opts, init_scale, tol, S_true = _setup(
        tokens, y, rank, output, beta, optimizer, lr, n_steps, weight_decay, loss_scale,
        init_scale, tol, S_true)
    batch = min(check_positive_int(batch, "batch"), n_init)
    W0 = init_scale * np.random.default_rng(rng).standard_normal((n_init, d, rank))
    norm = 1.0 / np.sqrt(rank * d)
    S_sum = np.zeros((d, d))
    losses = np.empty(n_init)
    converged = np.empty(n_init, dtype=bool)
    errors = np.empty(n_init) if S_true is not None else None
    running = np.empty(n_init) if S_true is not None else None
    for start in range(0, n_init, batch):
        stop = min(start + batch, n_init)
        W_start = np.ascontiguousarray(W0[start:stop].transpose(1, 0, 2))  # (d, k, r)
        W, loss_hist, _ = _optimise(Xf, n, T, y, W_start, S_true=None, track=False, **opts)
        losses[start:stop] = loss_hist[-1]
        converged[start:stop] = _converged(loss_hist, tol)
        for j, Wj in enumerate(W.transpose(1, 0, 2), start):
            S = norm * (Wj @ Wj.T)
            S_sum += S
            if S_true is not None:
                errors[j] = np.sum((S - S_true) ** 2) / d
                running[j] = np.sum((S_sum / (j + 1) - S_true) ** 2) / d
    return AveragedGDResult(
        S_hat=S_sum / n_init,
        n_init=n_init,
        losses=losses,
        error=None if running is None else float(running[-1]),
        errors=errors,
        running_errors=running,
        n_iter=opts["n_steps"],
        converged=converged,
    )
