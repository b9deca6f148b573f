"""Spreading processes: simulation, BP on infection times, BP-AMP and baselines.

BP is checked against exact enumeration of every trajectory on small trees,
with node factors written here directly from the dynamics (independently
of the cumulative-product arrays of the package), and against the exact
fractions of the tree instances A and C of the science notes. The
simulation is checked against graph distances (lambda = 1) and against the
same enumeration (the law of the infection times). The perceptron part is
checked against Gauss-Hermite quadrature and finite-size GAMP.
"""

import itertools
import warnings
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import ndtr

from aimnotes import glm, spreading
from aimnotes.channels import Sign
from aimnotes.priors import Gaussian, Rademacher
from aimnotes.solvers import ConvergenceWarning

PATH3 = np.array([[0, 1], [1, 2]])
PATH5 = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])


# ------------------------------------------------------- brute force on trees
def _node_weights(edges, n, T, lam, delta, recovery=None):
    """P(tau) = prod_i psi_i for every configuration, from the dynamics directly."""
    K = T + 2
    taus = np.array(list(itertools.product(range(K), repeat=n)))  # (K^n, n)
    nbrs = [[] for _ in range(n)]
    for u, v in edges:
        nbrs[u].append(v)
        nbrs[v].append(u)
    weight = np.ones(taus.shape[0])
    for i in range(n):
        # s[t] = probability that no neighbour infects i at contact time t.
        s = np.ones((taus.shape[0], T))
        for t in range(T):
            for j in nbrs[i]:
                infectious = taus[:, j] <= t
                if recovery is not None:
                    infectious &= t < taus[:, j] + recovery
                s[:, t] *= np.where(infectious, 1 - lam, 1.0)
        ti = taus[:, i]
        psi = np.zeros(taus.shape[0])
        psi[ti == 0] = delta[i]
        for tau in range(1, T + 1):
            sel = ti == tau
            psi[sel] = (1 - delta[i]) * np.prod(s[sel, :tau - 1], axis=1) * (1 - s[sel, tau - 1])
        sel = ti == T + 1
        psi[sel] = (1 - delta[i]) * np.prod(s[sel], axis=1)
        weight *= psi
    return taus, weight


def _brute_force(edges, n, T, lam, delta, observations, recovery=None):
    """Marginals, evidence and soft labels by enumeration of all trajectories."""
    delta = np.broadcast_to(np.asarray(delta, float), (n,))
    O = spreading.observation_matrix(observations, n, T, recovery)
    taus, w = _node_weights(edges, n, T, lam, delta, recovery)
    w = w * np.prod(O[np.arange(n), taus], axis=1)
    Z = w.sum()
    marg = np.array([np.bincount(taus[:, i], weights=w, minlength=T + 2) for i in range(n)]) / Z
    nu = np.empty(n)
    for i in range(n):
        d = delta.copy()
        d[i] = 0.5
        _, wi = _node_weights(edges, n, T, lam, d, recovery)
        wi = wi * np.prod(O[np.arange(n), taus], axis=1)
        nu[i] = wi[taus[:, i] > 0].sum() / wi.sum()
    return marg, Z, nu


def _random_tree(n, rng):
    parent = [int(rng.integers(i)) for i in range(1, n)]
    return np.array([[p, i] for i, p in enumerate(parent, start=1)])


# ------------------------------------------------------ exact tree instances
def test_instance_a_exact_fractions():
    obs = [(2, "I", 2), (0, "S", 1)]
    res = spreading.bp_marginals(PATH3, 3, 3, 0.5, 0.2, obs)
    F = Fraction
    expected = [[0, 0, F(1, 3), F(1, 4), F(5, 12)],
                [F(1, 3), F(1, 3), F(1, 6), F(1, 12), F(1, 12)],
                [F(3, 4), F(1, 6), F(1, 12), 0, 0]]
    np.testing.assert_allclose(res.marginals, np.array(expected, dtype=float), atol=1e-13)
    assert res.log_evidence == pytest.approx(np.log(24 / 125), abs=1e-13)
    np.testing.assert_allclose(res.nu, [1, 1 / 3, 1 / 13], atol=1e-13)
    assert res.converged and res.n_iter <= 4  # exact after diameter + 1 sweeps


def test_instance_c_exact():
    obs = [(2, "S", 1), (4, "I", 2)]
    res = spreading.bp_marginals(PATH5, 5, 4, 1.0, 0.3, obs)
    expected = np.zeros((5, 6))
    expected[4, 0] = expected[3, 1] = expected[2, 2] = 1.0
    expected[1, 1], expected[1, 3] = 0.3, 0.7
    expected[0, 0], expected[0, 4] = 0.3, 0.7
    np.testing.assert_allclose(res.marginals, expected, atol=1e-13)
    assert res.log_evidence == pytest.approx(np.log(0.3 * 0.7**3), abs=1e-12)
    np.testing.assert_allclose(res.nu, [0.5, 1, 1, 1, 0], atol=1e-13)


@pytest.mark.parametrize("edges, n, T, lam, delta, obs", [
    (PATH3, 3, 3, 0.5, 0.2, [(2, "I", 2), (0, "S", 1)]),
    (PATH5, 5, 4, 1.0, 0.3, [(2, "S", 1), (4, "I", 2)]),
])
def test_brute_force_reproduces_instances(edges, n, T, lam, delta, obs):
    # The enumeration of the tests agrees with the notes (and so checks itself).
    marg, Z, nu = _brute_force(edges, n, T, lam, delta, obs)
    res = spreading.bp_marginals(edges, n, T, lam, delta, obs)
    np.testing.assert_allclose(marg, res.marginals, atol=1e-12)
    assert np.log(Z) == pytest.approx(res.log_evidence, abs=1e-12)


# ---------------------------------------------------------- random small trees
@pytest.mark.parametrize("seed", range(6))
def test_bp_exact_on_random_trees(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 7))
    T = int(rng.integers(2, 4))
    edges = _random_tree(n, rng)
    lam = float(rng.choice([0.3, 0.7, 1.0]))
    delta = rng.uniform(0.05, 0.6, n)  # node-dependent priors
    sources = rng.random(n) < delta
    sources[0] |= not sources.any()
    tau = spreading.simulate_si(edges, T, lam, sources, rng=rng)
    obs = spreading.sensor_observations(tau, T, 0.4, rng=rng)
    obs += spreading.snapshot_observations(tau, T - 0.5, 0.3, rng=rng)
    marg, Z, nu = _brute_force(edges, n, T, lam, delta, obs)
    res = spreading.bp_marginals(edges, n, T, lam, delta, obs)
    assert res.converged
    np.testing.assert_allclose(res.marginals, marg, atol=1e-10)
    assert res.log_evidence == pytest.approx(np.log(Z), abs=1e-10)
    np.testing.assert_allclose(res.nu, nu, atol=1e-10)


@pytest.mark.parametrize("recovery", [1, 2])
def test_bp_exact_on_trees_dsir(recovery):
    rng = np.random.default_rng(10 + recovery)
    edges = np.array([[0, 1], [1, 2], [1, 3], [3, 4]])
    n, T, lam = 5, 4, 0.6
    tau = spreading.simulate_dsir(edges, T, lam, [1], recovery=recovery, rng=rng)
    obs = spreading.snapshot_observations(tau, 3, 0.8, recovery=recovery, rng=rng)
    obs += [(4, "S", 0)]
    marg, Z, nu = _brute_force(edges, n, T, lam, 0.2, obs, recovery)
    res = spreading.bp_marginals(edges, n, T, lam, 0.2, obs, recovery=recovery)
    np.testing.assert_allclose(res.marginals, marg, atol=1e-10)
    assert res.log_evidence == pytest.approx(np.log(Z), abs=1e-10)
    # dSIR differs from SI: the same data under SI give another evidence
    si = spreading.bp_marginals(edges, n, T, lam, 0.2,
                                [o for o in obs if o[1] != "R"])
    assert abs(si.log_evidence - res.log_evidence) > 1e-3


def test_bp_without_observations_is_the_prior_and_evidence_one():
    rng = np.random.default_rng(3)
    edges = _random_tree(6, rng)
    res = spreading.bp_marginals(edges, 6, 3, 0.4, 0.25, [])
    marg, Z, _ = _brute_force(edges, 6, 3, 0.4, 0.25, [])
    assert Z == pytest.approx(1.0, abs=1e-12)
    assert res.log_evidence == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(res.marginals, marg, atol=1e-12)


def test_isolated_node_and_warm_start():
    edges = np.array([[0, 1], [1, 2]])
    res = spreading.bp_marginals(edges, 4, 3, 0.5, 0.2, [(2, "I", 2)])
    np.testing.assert_allclose(res.marginals[3], [0.2, 0, 0, 0, 0.8], atol=1e-14)
    again = spreading.bp_marginals(edges, 4, 3, 0.5, 0.2, [(2, "I", 2)],
                                   messages=res.messages)
    assert again.n_iter == 1
    np.testing.assert_allclose(again.marginals, res.marginals, atol=1e-12)


def test_observation_array_form_matches_list():
    obs = [(2, "I", 2), (0, "S", 1)]
    O = spreading.observation_matrix(obs, 3, 3)
    np.testing.assert_array_equal(O, [[0, 0, 1, 1, 1], [1] * 5, [1, 1, 1, 0, 0]])
    a = spreading.bp_marginals(PATH3, 3, 3, 0.5, 0.2, O)
    b = spreading.bp_marginals(PATH3, 3, 3, 0.5, 0.2, obs)
    np.testing.assert_array_equal(a.marginals, b.marginals)


def test_sensors_reveal_infection_times():
    tau = np.array([0, 1, 3, 5])  # T = 4: node 3 never infected
    obs = spreading.sensor_observations(tau, 4, 1.0, rng=0)
    O = spreading.observation_matrix(obs, 4, 4)
    np.testing.assert_array_equal(O, np.eye(6)[tau])


# ------------------------------------------------------------------ simulation
def test_si_deterministic_is_distance_to_sources():
    graph = spreading.erdos_renyi_graph(300, 2.5, rng=1)
    sources = np.array([0, 17, 150])
    T = 6
    tau = spreading.simulate_si(graph, T, 1.0, sources, rng=2)
    dist = nx.multi_source_dijkstra_path_length(graph, set(sources.tolist()))
    expected = np.full(300, T + 1)
    for node, d in dist.items():
        expected[node] = min(d, T + 1)
    np.testing.assert_array_equal(tau, expected)
    edges, n = spreading.edges_from_graph(graph)
    mask = np.zeros(n, dtype=bool)
    mask[sources] = True
    np.testing.assert_array_equal(spreading.simulate_si(edges, T, 1.0, mask), expected)


def test_dsir_deterministic_on_a_path():
    # Delta = 1: the infection front moves one step per time along the path.
    tau = spreading.simulate_dsir(PATH5, 6, 1.0, [0], recovery=1)
    np.testing.assert_array_equal(tau, [0, 1, 2, 3, 4])
    # ... but with lam < 1 a node that failed once never transmits again.
    rng = np.random.default_rng(0)
    taus = np.array([spreading.simulate_dsir(PATH3, 4, 0.5, [0], rng=rng)
                     for _ in range(2000)])
    assert np.all((taus[:, 1] == 1) | (taus[:, 1] == 5))
    assert np.mean(taus[:, 1] == 1) == pytest.approx(0.5, abs=0.05)


def test_si_law_matches_enumeration():
    # 3000 disjoint copies of a small tree in one vectorised simulation.
    edges, n, T, lam, delta = np.array([[0, 1], [1, 2], [1, 3]]), 4, 3, 0.5, 0.3
    copies = 3000
    big = (edges[None, :, :] + n * np.arange(copies)[:, None, None]).reshape(-1, 2)
    rng = np.random.default_rng(4)
    sources = rng.random(n * copies) < delta
    tau = spreading.simulate_si(big, T, lam, sources, rng=rng).reshape(copies, n)
    marg, _, _ = _brute_force(edges, n, T, lam, delta, [])
    freq = np.array([np.bincount(tau[:, i], minlength=T + 2) for i in range(n)]) / copies
    assert np.abs(freq - marg).max() < 4 * np.sqrt(0.25 / copies)


def test_random_regular_graph_edges():
    edges, n = spreading.edges_from_graph(spreading.random_regular_graph(50, 3, rng=0))
    assert n == 50 and edges.shape == (75, 2)
    np.testing.assert_array_equal(np.bincount(edges.ravel(), minlength=50), 3)


# ------------------------------------------------------ perceptron prior: theory
@pytest.mark.parametrize("kappa", [0.7, 1.5])
def test_thresholds_symmetric_under_kappa_flip(kappa):
    plus = glm.thresholds(Rademacher(), Sign(kappa))
    minus = glm.thresholds(Rademacher(), Sign(-kappa))
    assert plus.alpha_it == pytest.approx(minus.alpha_it, rel=1e-6)
    assert plus.alpha_alg == pytest.approx(minus.alpha_alg, rel=1e-6)
    assert plus.alpha_it > 1.2447 + 0.1  # and they grow with |kappa|
    rho = np.array([0.1, 0.4, 0.8])
    np.testing.assert_allclose(spreading.amp_only_theory(rho, 3.0, kappa, Rademacher()),
                               spreading.amp_only_theory(rho, 3.0, -kappa, Rademacher()),
                               atol=1e-8)


@pytest.mark.parametrize("prior", [Gaussian(), Rademacher()])
def test_amp_only_theory_against_quadrature(prior):
    alpha, kappa = 2.0, -1.0
    rho = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    curve = spreading.amp_only_theory(rho, alpha, kappa, prior)
    o_rnd = max(ndtr(kappa), 1 - ndtr(kappa))
    for r, c in zip(rho, curve):
        q = float(glm.state_evolution(r * alpha, prior, Sign(kappa), max_iter=100_000).q)
        if q >= 1.0:
            expected_max = 1.0
        elif q == 0.0:  # nothing learnt: the best constant guess
            expected_max = o_rnd
        else:
            def f(xi):
                a = (np.sqrt(q) * xi - kappa) / np.sqrt(1 - q)
                return stats.norm.pdf(xi) * max(ndtr(a), ndtr(-a))

            kink = kappa / np.sqrt(q)  # a' = 0: split the integral there
            expected_max = (integrate.quad(f, -np.inf, kink, epsabs=1e-12)[0]
                            + integrate.quad(f, kink, np.inf, epsabs=1e-12)[0])
        expected = (r + (1 - r) * expected_max - o_rnd) / (1 - o_rnd)
        assert c == pytest.approx(expected, abs=1e-6)
    assert curve[0] == pytest.approx(0.0, abs=1e-6) and curve[-1] == pytest.approx(1.0)
    assert np.all(np.diff(curve) > 0)


def test_amp_only_theory_perfect_above_alpha_alg():
    th = glm.thresholds(Rademacher(), Sign(-1.0))
    alpha = 5.0
    rho = np.array([0.9, 1.1]) * th.alpha_alg / alpha
    below, above = spreading.amp_only_theory(rho, alpha, -1.0, Rademacher())
    assert above == 1.0 and below < 0.95
    assert spreading.amp_only_theory(0.9, alpha, -1.0, Gaussian()) < 1.0  # no jump


def test_amp_only_finite_size_matches_theory():
    n, alpha, kappa = 3000, 2.0, -1.0
    rng = np.random.default_rng(7)
    rhos = np.array([0.3, 0.8])
    got = np.zeros((2, rhos.size))
    for s in range(2):
        F, u, src = spreading.sample_perceptron_sources(n, alpha, kappa, Gaussian(), rng)
        for k, rho in enumerate(rhos):
            observed = rng.random(n) < rho
            res = spreading.amp_only(F, src, observed, kappa, Gaussian())
            assert res.converged
            o = np.mean((res.p_source > 0.5) == src)
            o_rnd = max(src.mean(), 1 - src.mean())
            got[s, k] = spreading.rescaled_overlap(o, o_rnd)
    theory = spreading.amp_only_theory(rhos, alpha, kappa, Gaussian())
    np.testing.assert_allclose(got.mean(axis=0), theory, atol=0.04)


# ------------------------------------------------------------------ BP-AMP
@pytest.fixture(scope="module")
def planted():
    n, alpha, kappa = 1200, 5.0, -1.0
    rng = np.random.default_rng(11)
    edges, _ = spreading.edges_from_graph(spreading.random_regular_graph(n, 3, rng))
    F, u, src = spreading.sample_perceptron_sources(n, alpha, kappa, Rademacher(), rng)
    tau = spreading.simulate_si(edges, 100, 1.0, src, rng)
    T = int(tau.max())
    assert T <= 100 and src.mean() > 0.1
    return dict(n=n, alpha=alpha, kappa=kappa, edges=edges, F=F, u=u, src=src, tau=tau, T=T)


def test_bp_amp_recovers_planted_sources(planted):
    p = planted
    obs = spreading.sensor_observations(p["tau"], p["T"], 0.5, rng=1)
    res = spreading.bp_amp(p["edges"], p["n"], p["T"], 1.0, p["F"], p["kappa"], obs,
                           Rademacher(), rng=2, u_true=p["u"])
    assert res.converged and res.collapsed
    np.testing.assert_array_equal(res.p_source > 0.5, p["src"])
    np.testing.assert_array_equal(np.sign(res.weights), p["u"])
    ov = spreading.overlaps(res.marginals, p["tau"])
    assert ov.sources_rescaled == 1.0 and ov.trajectory_rescaled == 1.0
    # lambda = 1, Rademacher: everything is determined by u, so Z = 2^-M.
    assert res.free_entropy == pytest.approx(-np.log(2) / p["alpha"], abs=1e-3)
    informed = spreading.bp_amp(p["edges"], p["n"], p["T"], 1.0, p["F"], p["kappa"], obs,
                                Rademacher(), init="informed", u_true=p["u"],
                                tau_true=p["tau"])
    assert informed.free_entropy == pytest.approx(res.free_entropy, abs=1e-6)


def test_bp_amp_beats_bp_only_and_amp_only(planted):
    p = planted
    obs = spreading.sensor_observations(p["tau"], p["T"], 0.15, rng=3)
    hybrid = spreading.bp_amp(p["edges"], p["n"], p["T"], 1.0, p["F"], p["kappa"], obs,
                              Rademacher(), rng=4)
    bp = spreading.bp_marginals(p["edges"], p["n"], p["T"], 1.0, ndtr(p["kappa"]), obs)
    amp = spreading.amp_only(p["F"], p["src"], spreading.observed_nodes(obs, p["n"]),
                             p["kappa"], Rademacher())
    o_rnd = max(p["src"].mean(), 1 - p["src"].mean())
    o_amp = spreading.rescaled_overlap(np.mean((amp.p_source > 0.5) == p["src"]), o_rnd)
    o_hybrid = spreading.overlaps(hybrid.marginals, p["tau"])
    o_bp = spreading.overlaps(bp.marginals, p["tau"])
    assert hybrid.converged
    assert o_hybrid.sources_rescaled > max(o_bp.sources_rescaled, o_amp) + 0.1
    # Nishimori: the overlap is predicted by the marginals themselves.
    for ov in (o_hybrid, o_bp):
        assert abs(ov.mo_rescaled - ov.sources_rescaled) < 0.1
    np.testing.assert_allclose(hybrid.p_source, hybrid.marginals[:, 0], atol=1e-12)
    expected = ((1 - hybrid.nu) * hybrid.eta
                / ((1 - hybrid.nu) * hybrid.eta + hybrid.nu * (1 - hybrid.eta)))
    np.testing.assert_allclose(hybrid.p_source, expected, atol=1e-9)
    # The hybrid's marginals are those of BP with the AMP priors eta.
    bp_eta = spreading.bp_marginals(p["edges"], p["n"], p["T"], 1.0, hybrid.eta, obs)
    np.testing.assert_allclose(bp_eta.marginals, hybrid.marginals, atol=1e-5)




def test_compare_methods_shapes_and_nesting():
    rhos = [0.0, 0.3, 1.0]
    c = spreading.compare_methods(300, 5.0, -1.0, Gaussian(), rhos, n_seeds=2, rng=0)
    for name in ("bp", "amp", "bp_amp", "bp_trajectory", "bp_amp_trajectory", "bp_amp_mo"):
        assert getattr(c, name).shape == (2, 3) and c.mean(name).shape == (3,)
        assert np.all(getattr(c, name) <= 1.0)
    assert c.T.shape == (2,) and np.all(c.T >= 1)
    # No sensor: nothing beats the constant guess; every node a sensor: all known.
    np.testing.assert_allclose(c.bp[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(c.amp[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(c.bp[:, -1], 1.0)
    np.testing.assert_allclose(c.bp_amp_trajectory[:, -1], 1.0)


def test_snapshot_observations_are_consistent():
    tau = np.array([0, 1, 2, 3, 5, 2])
    obs = spreading.snapshot_observations(tau, 1.5, 1.0, rng=0)
    assert len(obs) == 6 and {t for _, _, t in obs} <= {1, 2}
    O = spreading.observation_matrix(obs, 6, 4)
    assert np.all(O[np.arange(6), tau] == 1)  # the truth is compatible
    dsir = spreading.snapshot_observations(tau, 3, 1.0, recovery=2, rng=0)
    assert [s for _, s, _ in dsir] == ["R", "R", "I", "I", "S", "I"]


# ------------------------------------------------------------------ metrics
def test_overlaps_of_exact_and_uninformative_marginals():
    tau = np.array([0, 1, 1, 2, 4, 0, 2, 3])
    exact = np.eye(5)[tau]
    ov = spreading.overlaps(exact, tau)
    assert ov.sources == ov.mo == 1.0 and ov.sources_rescaled == 1.0
    assert ov.trajectory_rescaled == 1.0 and ov.se_tau == 0.0 and ov.r_se == 1.0
    flat = np.tile(np.bincount(tau, minlength=5) / tau.size, (tau.size, 1))
    ov = spreading.overlaps(flat, tau)
    assert ov.sources_rescaled == 0.0 and ov.r_se == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(ov.states_rescaled[:3], 0.0)


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(edges=np.array([[0, 3]])), r"edges must hold node indices in \[0, 2\]"),
    (dict(edges=np.array([[0, 0], [0, 1]])), "self-loops"),
    (dict(edges=np.array([[0, 1], [1, 0]])), "distinct"),
    (dict(edges=np.array([0, 1, 2])), r"shape \(E, 2\)"),
    (dict(lam=1.5), r"lam must lie in \[0.0, 1.0\]"),
    (dict(lam=np.nan), "lam must be finite"),
    (dict(T=0), "T must be an integer >= 1"),
    (dict(source_prior=-0.1), r"source_prior must lie in \[0.0, 1.0\]"),
    (dict(source_prior=[0.1, 0.2]), r"source_prior must be a scalar or have shape \(3,\)"),
    (dict(observations=[(0, "X", 1)]), "states must be one of"),
    (dict(observations=[(0, "R", 1)]), "states must be one of"),
    (dict(observations=[(0, "I", 4)]), r"times must lie in \[0, T\] = \[0, 3\]"),
    (dict(observations=[(0, "I", -1)]), r"times must lie in \[0, T\]"),
    (dict(observations=[(5, "I", 1)]), r"observed nodes must lie in \[0, 2\]"),
    (dict(observations=[(0, "I", 1), (0, "S", 2)]), "contradictory observations"),
    (dict(observations=np.ones((3, 4))), r"shape \(n_nodes, T \+ 2\)"),
    (dict(damping=1.0), "damping must lie in"),
    (dict(messages=np.ones((3, 5, 5))), "messages must have shape"),
])
def test_bp_bad_input(kwargs, match):
    args = dict(edges=PATH3, n_nodes=3, T=3, lam=0.5, source_prior=0.2,
                observations=[(2, "I", 2)])
    args.update(kwargs)
    edges = args.pop("edges")
    with pytest.raises(ValueError, match=match):
        spreading.bp_marginals(edges, **args)


def test_impossible_observations_raise():
    # lambda = 0 and no source can be infected: node 2 infected has probability 0.
    with pytest.raises(ValueError, match="zero probability"):
        spreading.bp_marginals(PATH3, 3, 3, 0.0, 0.0, [(2, "I", 2)])


def test_non_convergence_warns():
    graph = spreading.random_regular_graph(40, 3, rng=0)
    edges, n = spreading.edges_from_graph(graph)
    with pytest.warns(ConvergenceWarning, match="BP did not converge"):
        res = spreading.bp_marginals(edges, n, 4, 0.5, 0.1, [(0, "I", 2)], max_iter=2)
    assert not res.converged and res.n_iter == 2


def test_simulation_and_sampling_bad_input():
    with pytest.raises(ValueError, match=r"lam must lie in \[0.0, 1.0\]"):
        spreading.simulate_si(PATH3, 3, -0.1, [0])
    with pytest.raises(ValueError, match="T must be an integer"):
        spreading.simulate_si(PATH3, 2.5, 0.5, [0])
    with pytest.raises(ValueError, match=r"edges must hold node indices in \[0, 1\]"):
        spreading.simulate_si(PATH3, 3, 0.5, np.array([True, False]))
    with pytest.raises(ValueError, match="sources must be node indices"):
        spreading.simulate_si(PATH3, 3, 0.5, [-1])
    with pytest.raises(ValueError, match="recovery must be a positive integer"):
        spreading.simulate_dsir(PATH3, 3, 0.5, [0], recovery=0)
    tau = np.array([0, 1, 2])
    for rho in (-0.1, np.nan, 1.5):
        with pytest.raises(ValueError, match="rho must"):
            spreading.sensor_observations(tau, 3, rho)
        with pytest.raises(ValueError, match="rho must"):
            spreading.amp_only_theory(rho, 2.0, 0.0, Gaussian())
    with pytest.raises(ValueError, match="tau must take values in"):
        spreading.sensor_observations(np.array([0, 9]), 3, 0.5)
    for alpha in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="alpha must"):
            spreading.sample_perceptron_sources(10, alpha, 0.0, Gaussian())
        with pytest.raises(ValueError, match="alpha must"):
            spreading.amp_only_theory(0.5, alpha, 0.0, Gaussian())
    with pytest.raises(ValueError, match=r"F must have shape \(n_nodes, M\) = \(3, M\)"):
        spreading.bp_amp(PATH3, 3, 3, 1.0, np.ones((4, 2)), 0.0, [], Gaussian())
    with pytest.raises(ValueError, match="init must be one of"):
        spreading.bp_amp(PATH3, 3, 3, 1.0, np.ones((3, 2)), 0.0, [], Gaussian(), init="x")
    with pytest.raises(ValueError, match="needs u_true and tau_true"):
        spreading.bp_amp(PATH3, 3, 3, 1.0, np.ones((3, 2)), 0.0, [], Gaussian(),
                         init="informed")


def test_results_are_frozen():
    res = spreading.bp_marginals(PATH3, 3, 3, 0.5, 0.2, [])
    with pytest.raises(AttributeError):
        res.converged = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spreading.overlaps(res.marginals, np.array([0, 1, 4]))
