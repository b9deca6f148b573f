"""Benchmark of :mod:`aimnotes.spreading`: BP sweeps and BP-AMP outer steps.

Usage::

    python benchmarks/bench_spreading.py [--quick]

:func:`bench_bp_sweep` measures

1. one synchronous BP sweep over all ``2E`` pair messages (damping and the
   convergence check included) on a random 3-regular graph with
   ``N = 10**5`` nodes and ``T = 5`` (requirement: about one second on two
   cores), and one whole :func:`aimnotes.spreading.bp_marginals` call
   limited to one sweep (set-up, marginals and Bethe free entropy included);
2. one outer step of :func:`aimnotes.spreading.bp_amp` (``N = 10**4``,
   ``alpha = 5``) against its two matrix-vector products ``F @ a`` and
   ``F.T @ g``: the difference of two runs with 6 and 1 outer steps,
   divided by 5.

Times are medians over repeats. Nothing is asserted: the numbers are returned
(and printed) for ``benchmarks/run.py`` or a reader.
"""

import argparse
import time
import warnings

import numpy as np

from aimnotes import spreading
from aimnotes.priors import Rademacher
from aimnotes.solvers import ConvergenceWarning


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_bp_sweep(quick=False):
    """Measure one BP sweep and one BP-AMP outer step.

    Parameters
    ----------
    quick : bool
        Ten times smaller graphs and fewer repeats (a smoke test).

    Returns
    -------
    dict
        ``n_nodes``, ``T``, ``graph_s`` (networkx graph and edge array),
        ``sweep_s`` (one sweep), ``bp_call_s`` (a one-sweep ``bp_marginals``
        call), ``messages_mb``; ``amp_n_nodes``, ``amp_m``, ``outer_step_s``,
        ``matvecs_s`` and ``outer_over_matvecs``.
    """
    n, T, lam = (10_000 if quick else 100_000), 5, 0.5
    repeats = 3 if quick else 5
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    edges, n = spreading.edges_from_graph(spreading.random_regular_graph(n, 3, rng))
    graph_s = time.perf_counter() - start
    tau = spreading.simulate_si(edges, T, lam, rng.random(n) < 0.01, rng)
    obs = spreading.sensor_observations(tau, T, 0.1, rng)
    O = spreading.observation_matrix(obs, n, T)
    bp = spreading._BPGraph(edges, n, T, lam)
    M = bp.uniform()
    W = spreading._prior_weights(np.full(n, 0.01), O)
    sweep_s = _median_time(lambda: bp.run(M, W, 0.0, 1e-6, 1), repeats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bp_call_s = _median_time(
            lambda: spreading.bp_marginals(edges, n, T, lam, 0.01, O, max_iter=1), repeats)

    # BP-AMP: an outer step is a few BP sweeps plus two mat-vecs with F.
    n_amp, alpha, kappa = (2_000 if quick else 10_000), 5.0, -1.0
    edges_amp, _ = spreading.edges_from_graph(spreading.random_regular_graph(n_amp, 3, rng))
    F, u, src = spreading.sample_perceptron_sources(n_amp, alpha, kappa, Rademacher(), rng)
    tau = spreading.simulate_si(edges_amp, 100, 1.0, src, rng)
    T_amp = int(tau.max())
    obs = spreading.sensor_observations(tau, T_amp, 0.2, rng)

    def outer(steps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            spreading.bp_amp(edges_amp, n_amp, T_amp, 1.0, F, kappa, obs, Rademacher(),
                             max_iter=steps, rng=1)

    outer_step_s = (_median_time(lambda: outer(6), repeats)
                    - _median_time(lambda: outer(1), repeats)) / 5
    a, g = rng.standard_normal(F.shape[1]), rng.standard_normal(n_amp)
    matvecs_s = _median_time(lambda: (F @ a, F.T @ g), 5 * repeats)
    return {
        "n_nodes": n,
        "T": T,
        "graph_s": graph_s,
        "sweep_s": sweep_s,
        "bp_call_s": bp_call_s,
        "messages_mb": M.nbytes / 2**20,
        "amp_n_nodes": n_amp,
        "amp_m": F.shape[1],
        "outer_step_s": outer_step_s,
        "matvecs_s": matvecs_s,
        "outer_over_matvecs": outer_step_s / matvecs_s,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args(argv)
    for key, value in bench_bp_sweep(quick=args.quick).items():
        print(f"{key:>20}: {value:.4g}" if isinstance(value, float) else f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
