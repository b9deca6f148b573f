r"""Conformance checks for priors and channels.

In the spirit of scikit-learn's ``check_estimator``, :func:`check_prior`
and :func:`check_channel` verify that a denoiser honours the contract that
message passing and state evolution rely on, and raise ``AssertionError``
with a readable message when it does not. They need only numpy, run in
well under a second, and are deterministic for a fixed ``rng``.

A prior (:class:`aimnotes.priors.Prior`) must provide

* ``moments(A, B)`` elementwise over any batch shape, with
  ``mean`` :math:`= \partial_B \log Z_{\rm in}` and
  ``var`` :math:`= \partial_B^2 \log Z_{\rm in}`;
* ``sample(shape, rng)`` and ``var`` :math:`= \mathbb{E} w^2`;
* ``se_q(q_hat)`` and ``psi_in(q_hat)`` equal to the planted averages
  :math:`\mathbb{E} f_a^2` and :math:`\mathbb{E} \log Z_{\rm in}` with
  :math:`B = \hat q w_0 + \sqrt{\hat q} z`, :math:`w_0 \sim P_0`, which
  also satisfy the Nishimori identity
  :math:`\mathbb{E}[w_0 f_a] = \mathbb{E}[f_a^2]`.

A channel (:class:`aimnotes.channels.Channel`) must provide

* ``g_out(y, omega, V)`` and ``log_z_out(y, omega, V)`` elementwise, with
  :math:`g = \partial_\omega \log Z_{\rm out}` and
  ``dg`` :math:`= \partial_\omega g`, and a non-negative posterior
  variance :math:`V + V^2 \partial_\omega g` of the pre-activation;
* ``sample(h, rng)`` whose labels pass ``check_labels``;
* ``se_q_hat(q, rho)`` and ``psi_out(q, rho)`` equal to
  :math:`\mathbb{E}\, g_{\rm out}^2` and :math:`\mathbb{E} \log Z_{\rm out}`
  over :math:`\omega = \sqrt q\,\xi`, :math:`h = \omega + \sqrt{\rho - q}\, z`,
  :math:`y \sim P_{\rm out}(\cdot \mid h)`, which also satisfy
  :math:`\mathbb{E}\, g_{\rm out} = 0` and
  :math:`\mathbb{E}[\partial_\omega g_{\rm out} + g_{\rm out}^2] = 0`.

Monte Carlo comparisons use ``n_samples`` draws and fail beyond
``n_sigma`` standard errors; derivatives are checked by central finite
differences.

Examples
--------
>>> from aimnotes import channels, priors
>>> from aimnotes.testing import check_channel, check_prior
>>> check_prior(priors.Rademacher())
>>> check_channel(channels.Sign(kappa=0.5))
"""

import numpy as np

__all__ = ["check_prior", "check_channel"]

_BATCH_SHAPES = ((7,), (3, 4))


# ------------------------------------------------------------------ helpers
def _close(actual, desired, *, rtol, atol, what):
    """``assert_allclose`` with a message that names the object and the check."""
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=what)


def _finite(x, what):
    x = np.asarray(x)
    if not np.all(np.isfinite(x)):
        raise AssertionError(f"{what}: {np.size(x) - np.count_nonzero(np.isfinite(x))} "
                             f"non-finite value(s)")


def _shape(x, shape, what):
    if np.shape(x) != tuple(shape):
        raise AssertionError(f"{what}: expected shape {tuple(shape)}, got {np.shape(x)}")


def _mc_agrees(value, samples, n_sigma, what):
    """``value`` must lie within ``n_sigma`` standard errors of ``mean(samples)``."""
    samples = np.asarray(samples, dtype=float)
    _finite(samples, f"{what} (Monte Carlo samples)")
    value = float(np.asarray(value))
    mc = samples.mean()
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    tol = n_sigma * se + 1e-12 * (1.0 + abs(mc))
    if not abs(value - mc) <= tol:
        raise AssertionError(
            f"{what}: got {value:.8g}, Monte Carlo gives {mc:.8g} +- {se:.2g} "
            f"(|difference| = {abs(value - mc) / max(se, 1e-300):.1f} standard errors "
            f"> {n_sigma:g})"
        )


# ------------------------------------------------------------------- priors
def check_prior(prior, rng=0, *, n_samples=200_000, q_hats=(0.3, 1.0, 3.0), n_sigma=5.0):
    r"""Check that a prior honours the denoiser contract; raise if it does not.

    Parameters
    ----------
    prior : aimnotes.priors.Prior
        The prior to check.
    rng : int or numpy.random.Generator, optional
        Seed or generator of the random test inputs and Monte Carlo draws.
    n_samples : int, optional
        Monte Carlo sample size for the planted averages.
    q_hats : sequence of float, optional
        Moderate values of :math:`\hat q` at which ``se_q`` and ``psi_in``
        are compared with Monte Carlo.
    n_sigma : float, optional
        Number of standard errors a Monte Carlo comparison may be off.

    Raises
    ------
    AssertionError
        With a message naming the prior and the broken property:

        1. ``moments`` on batches of shapes ``(7,)`` and ``(3, 4)`` differs
           from a loop of scalar calls, or has the wrong shape; ``se_q`` and
           ``psi_in`` likewise on an array of :math:`\hat q`;
        2. ``mean`` is not :math:`\partial_B \log Z_{\rm in}`, or ``var`` is
           not :math:`\partial_B^2 \log Z_{\rm in}` (central finite
           differences), or ``var < 0``;
        3. ``var`` is not the second moment of ``sample``;
        4. ``se_q`` / ``psi_in`` disagree with the Monte Carlo planted
           averages :math:`\mathbb{E} f_a^2` / :math:`\mathbb{E}\log Z_{\rm in}`
           over :math:`w_0 \sim P_0` (drawn with ``sample``), :math:`z \sim
           \mathcal{N}(0, 1)`, :math:`B = \hat q w_0 + \sqrt{\hat q} z`;
        5. the Nishimori identities :math:`\mathbb{E}[w_0 f_a] =
           \mathbb{E}[f_a^2]` and :math:`\mathbb{E} f_c = \rho -
           \mathbb{E} f_a^2` fail by Monte Carlo.

    Examples
    --------
    >>> from aimnotes.priors import Gaussian
    >>> from aimnotes.testing import check_prior
    >>> check_prior(Gaussian(2.0))
    """
    rng = np.random.default_rng(rng)
    name = repr(prior)

    # 1. Vectorised moments == loop of scalar calls, with the batch shape.
    for shape in _BATCH_SHAPES:
        A = rng.uniform(0.0, 4.0, size=shape)
        A.flat[0] = 0.0  # A = 0 (no information) is a legal input
        B = A * prior.sample(shape, rng) + np.sqrt(A) * rng.standard_normal(shape) \
            + 0.5 * rng.standard_normal(shape)
        out = prior.moments(A, B)
        if len(out) != 3:
            raise AssertionError(f"{name}: moments must return (mean, var, log_z)")
        for label, arr in zip(("mean", "var", "log_z"), out):
            _shape(arr, shape, f"{name}: moments {label} on a batch")
            _finite(arr, f"{name}: moments {label}")
        loop = np.array([[np.asarray(v, dtype=float)[()] for v in
                          prior.moments(float(a), float(b))]
                         for a, b in zip(A.ravel(), B.ravel())])
        for k, label in enumerate(("mean", "var", "log_z")):
            _close(out[k].ravel(), loop[:, k], rtol=1e-12, atol=1e-14,
                   what=f"{name}: vectorised moments {label} != loop of scalar calls "
                        f"(batch shape {shape})")
        # Broadcasting a scalar A against a batch of B.
        _shape(prior.moments(1.0, B)[0], shape, f"{name}: moments(scalar A, batch B)")

    q_hat_grid = rng.uniform(0.05, 4.0, size=(3, 4))
    for label, fn in (("se_q", prior.se_q), ("psi_in", prior.psi_in)):
        vec = fn(q_hat_grid)
        _shape(vec, q_hat_grid.shape, f"{name}: {label} on a (3, 4) array")
        loop = np.array([np.asarray(fn(float(s)))[()] for s in q_hat_grid.ravel()])
        _close(np.ravel(vec), loop, rtol=1e-12, atol=1e-14,
               what=f"{name}: vectorised {label} != loop of scalar calls")

    # 2. mean = d logZ/dB and var = d^2 logZ/dB^2 by central differences.
    A = rng.uniform(0.2, 3.0, size=9)
    B = A * prior.sample(9, rng) + np.sqrt(A) * rng.standard_normal(9)
    mean, var, log_z = prior.moments(A, B)
    if np.any(var < 0):
        raise AssertionError(f"{name}: negative posterior variance {var.min():.3g}")
    h1, h2 = 1e-5, 1e-3
    lz = lambda b: prior.moments(A, b)[2]  # noqa: E731
    scale = 1.0 + np.abs(log_z)
    d1 = (lz(B + h1) - lz(B - h1)) / (2 * h1)
    d2 = (lz(B + h2) - 2 * log_z + lz(B - h2)) / h2**2
    _close(mean, d1, rtol=1e-6, atol=1e-7 * scale.max(),
           what=f"{name}: mean != d log Z_in / dB (central differences)")
    _close(var, d2, rtol=1e-5, atol=1e-5 * scale.max(),
           what=f"{name}: var != d^2 log Z_in / dB^2 (central differences)")
    dmean = (prior.moments(A, B + h1)[0] - prior.moments(A, B - h1)[0]) / (2 * h1)
    _close(var, dmean, rtol=1e-6, atol=1e-8,
           what=f"{name}: var != d mean / dB (central differences)")

    # 3.-5. Planted averages by Monte Carlo.
    w0 = np.asarray(prior.sample(n_samples, rng), dtype=float)
    _shape(w0, (n_samples,), f"{name}: sample(n)")
    _mc_agrees(prior.var, w0**2, n_sigma, f"{name}: var (second moment of the prior)")
    for q_hat in q_hats:
        z = rng.standard_normal(n_samples)
        B = q_hat * w0 + np.sqrt(q_hat) * z
        f_a, f_c, log_z = prior.moments(q_hat, B)
        _mc_agrees(prior.se_q(q_hat), f_a**2, n_sigma,
                   f"{name}: se_q({q_hat:g}) vs planted average E f_a^2")
        _mc_agrees(prior.psi_in(q_hat), log_z, n_sigma,
                   f"{name}: psi_in({q_hat:g}) vs planted average E log Z_in")
        _mc_agrees(0.0, w0 * f_a - f_a**2, n_sigma,
                   f"{name}: Nishimori E[w0 f_a] - E[f_a^2] at q_hat={q_hat:g}")
        _mc_agrees(0.0, f_c + f_a**2 - w0**2, n_sigma,
                   f"{name}: Nishimori E[f_c] - (rho - E[f_a^2]) at q_hat={q_hat:g}")


# ----------------------------------------------------------------- channels
def check_channel(channel, rng=0, *, rho=1.0, n_samples=200_000, q_fractions=(0.2, 0.5, 0.8),
                  n_sigma=5.0):
    r"""Check that an output channel honours its contract; raise if it does not.

    Parameters
    ----------
    channel : aimnotes.channels.Channel
        The channel to check.
    rng : int or numpy.random.Generator, optional
        Seed or generator of the random test inputs and Monte Carlo draws.
    rho : float, optional
        Second moment of the prior, i.e. the variance of the
        pre-activation :math:`h`.
    n_samples : int, optional
        Monte Carlo sample size for the state-evolution averages.
    q_fractions : sequence of float in (0, 1), optional
        The overlaps :math:`q = f \rho` at which ``se_q_hat`` and
        ``psi_out`` are compared with Monte Carlo.
    n_sigma : float, optional
        Number of standard errors a Monte Carlo comparison may be off.

    Raises
    ------
    AssertionError
        With a message naming the channel and the broken property:

        1. ``g_out`` / ``log_z_out`` on batches of shapes ``(7,)`` and
           ``(3, 4)`` differ from a loop of scalar calls or have the wrong
           shape; ``se_q_hat`` and ``psi_out`` likewise on an array of
           :math:`q`;
        2. labels drawn with ``sample`` are rejected by ``check_labels``;
        3. ``g`` is not :math:`\partial_\omega \log Z_{\rm out}` or ``dg``
           is not :math:`\partial_\omega g` (central finite differences, at
           labels drawn from the channel), or the posterior variance
           :math:`V + V^2 \partial_\omega g` of :math:`h` is negative;
        4. ``se_q_hat(q, rho)`` / ``psi_out(q, rho)`` disagree with the
           Monte Carlo averages of :math:`g_{\rm out}^2` /
           :math:`\log Z_{\rm out}` over :math:`\xi, z \sim \mathcal{N}(0, 1)`,
           :math:`\omega = \sqrt q\,\xi`, :math:`h = \omega + \sqrt{\rho - q}\,z`,
           ``y = channel.sample(h)``, :math:`V = \rho - q`;
        5. :math:`\mathbb{E}\, g_{\rm out} = 0` or
           :math:`\mathbb{E}[\partial_\omega g_{\rm out} + g_{\rm out}^2] = 0`
           fails by Monte Carlo.

    Examples
    --------
    >>> from aimnotes.channels import Linear
    >>> from aimnotes.testing import check_channel
    >>> check_channel(Linear(0.5), rho=2.0)
    """
    rng = np.random.default_rng(rng)
    name = repr(channel)

    def draw(shape):
        omega = np.sqrt(rho) * rng.standard_normal(shape)
        V = rho * rng.uniform(0.1, 1.5, size=shape)
        h = omega + np.sqrt(V) * rng.standard_normal(shape)
        y = np.asarray(channel.sample(h, rng), dtype=float)
        _shape(y, shape, f"{name}: sample(h)")
        try:
            channel.check_labels(y)
        except ValueError as exc:
            raise AssertionError(f"{name}: labels drawn by sample() are rejected: {exc}") \
                from exc
        return y, omega, V

    # 1.-2. Vectorised g_out / log_z_out == loop of scalar calls.
    for shape in _BATCH_SHAPES:
        y, omega, V = draw(shape)
        g, dg = channel.g_out(y, omega, V)
        log_z = channel.log_z_out(y, omega, V)
        for label, arr in (("g", g), ("dg", dg), ("log_z_out", log_z)):
            _shape(arr, shape, f"{name}: {label} on a batch")
            _finite(arr, f"{name}: {label}")
        loop = np.array([
            [np.asarray(v, dtype=float)[()] for v in
             (*channel.g_out(float(a), float(b), float(c)), channel.log_z_out(
                 float(a), float(b), float(c)))]
            for a, b, c in zip(y.ravel(), omega.ravel(), V.ravel())
        ])
        for k, (label, arr) in enumerate((("g", g), ("dg", dg), ("log_z_out", log_z))):
            _close(np.ravel(arr), loop[:, k], rtol=1e-12, atol=1e-14,
                   what=f"{name}: vectorised {label} != loop of scalar calls "
                        f"(batch shape {shape})")
        # Broadcasting a scalar V against a batch.
        _shape(channel.g_out(y, omega, rho)[0], shape, f"{name}: g_out(batch, batch, scalar V)")

    q_grid = rho * rng.uniform(0.02, 0.98, size=(3, 4))
    for label, fn in (("se_q_hat", channel.se_q_hat), ("psi_out", channel.psi_out)):
        vec = fn(q_grid, rho)
        _shape(vec, q_grid.shape, f"{name}: {label} on a (3, 4) array")
        loop = np.array([np.asarray(fn(float(s), rho))[()] for s in q_grid.ravel()])
        _close(np.ravel(vec), loop, rtol=1e-12, atol=1e-14,
               what=f"{name}: vectorised {label} != loop of scalar calls")

    # 3. g = d log Z_out / d omega and dg = d g / d omega by central differences.
    y, omega, V = draw((9,))
    g, dg = channel.g_out(y, omega, V)
    h = 1e-5 * np.sqrt(rho)
    lz = lambda w: channel.log_z_out(y, w, V)  # noqa: E731
    gg = lambda w: channel.g_out(y, w, V)[0]  # noqa: E731
    d_lz = (lz(omega + h) - lz(omega - h)) / (2 * h)
    d_g = (gg(omega + h) - gg(omega - h)) / (2 * h)
    _close(g, d_lz, rtol=1e-6, atol=1e-7 * (1.0 + np.abs(g).max()),
           what=f"{name}: g != d log Z_out / d omega (central differences)")
    _close(dg, d_g, rtol=1e-6, atol=1e-7 * (1.0 + np.abs(dg).max()),
           what=f"{name}: dg != d g / d omega (central differences)")
    post_var = V + V**2 * dg
    if np.any(post_var < -1e-10 * V):
        raise AssertionError(f"{name}: negative posterior variance V + V^2 dg of the "
                             f"pre-activation (min {post_var.min():.3g})")

    # 4.-5. State-evolution averages by Monte Carlo.
    for frac in q_fractions:
        q = frac * rho
        V = rho - q
        omega = np.sqrt(q) * rng.standard_normal(n_samples)
        h = omega + np.sqrt(V) * rng.standard_normal(n_samples)
        y = channel.sample(h, rng)
        g, dg = channel.g_out(y, omega, V)
        log_z = channel.log_z_out(y, omega, V)
        _mc_agrees(channel.se_q_hat(q, rho), g**2, n_sigma,
                   f"{name}: se_q_hat(q={q:g}, rho={rho:g}) vs E g_out^2")
        _mc_agrees(channel.psi_out(q, rho), log_z, n_sigma,
                   f"{name}: psi_out(q={q:g}, rho={rho:g}) vs E log Z_out")
        _mc_agrees(0.0, g, n_sigma, f"{name}: E g_out = 0 at q={q:g}, rho={rho:g}")
        _mc_agrees(0.0, dg + g**2, n_sigma,
                   f"{name}: E[dg + g_out^2] = 0 at q={q:g}, rho={rho:g}")
