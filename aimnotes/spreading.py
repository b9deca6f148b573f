r"""Inference in spreading processes: belief propagation on infection times and BP-AMP.

The model (chapter 5). A graph of :math:`N` nodes; discrete times
:math:`t = 0, \dots, T`; every node is susceptible (S) or infected (I), and
in the dSIR variant recovered (R). Sources are infected at :math:`t = 0`; a
susceptible node with infected neighbours :math:`j` becomes infected at
:math:`t + 1` with probability :math:`1 - \prod_j (1 - \lambda)`, each
infected neighbour transmitting independently with probability
:math:`\lambda` (dSIR: only during its :math:`\Delta` = ``recovery``
infectious time steps). A trajectory is encoded by the **infection times**
:math:`\tau_i \in \{0, 1, \dots, T, T+1\}`, with :math:`\tau_i = 0` for a
source and :math:`\tau_i = T + 1` for a node not infected by :math:`T`;
arrays over infection times have length :math:`T + 2` and are indexed by
:math:`\tau` itself.

Observations are pairs (state, time) of single nodes: "S at t" means
:math:`\tau_i > t`, "I at t" means :math:`\tau_i \le t` (dSIR:
:math:`\tau_i \le t < \tau_i + \Delta`) and "R at t" means
:math:`\tau_i + \Delta \le t`. They are given as a list of
``(node, state, time)`` tuples or directly as the 0/1 factor
:math:`O_i(\tau_i)` of shape ``(n_nodes, T + 2)`` (:func:`observation_matrix`).

Sources are either i.i.d., :math:`P(\tau_i = 0) = \delta`, or set by a
perceptron on known node covariates, :math:`\tau_i = 0` iff
:math:`\omega_i = F_i \cdot u < \kappa` with :math:`F_{i\mu} \sim
\mathcal{N}(0, 1/M)` and :math:`\alpha = N/M` ("neural-network prior").

References
----------
.. [1] F. Altarelli, A. Braunstein, L. Dall'Asta, A. Lage-Castellanos,
   R. Zecchina, "Bayesian inference of epidemics on networks via belief
   propagation", Phys. Rev. Lett. 112, 118701 (2014), arXiv:1307.6786.
.. [2] D. Ghio, P. Boncoraglio, L. Zdeborová, "Inference in spreading
   processes with neural-network priors", arXiv:2509.02073.
.. [3] S. Rangan, "Generalized approximate message passing for estimation
   with random linear mixing", ISIT 2011, arXiv:1010.5141.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr, ndtr

from . import glm
from ._seeds import seed_mean, seed_stderr
from ._validation import (
    as_float_array,
    check_in_range,
    check_nonnegative,
    check_positive,
    check_positive_int,
    scalar_or_array,
)
from .channels import Sign
from .solvers import ConvergenceWarning

__all__ = [
    "edges_from_graph",
    "random_regular_graph",
    "erdos_renyi_graph",
    "simulate_si",
    "simulate_dsir",
    "sample_perceptron_sources",
    "sensor_observations",
    "snapshot_observations",
    "observed_nodes",
    "observation_matrix",
    "transmission_arrays",
    "bp_marginals",
    "BPResult",
    "bp_amp",
    "BPAMPResult",
    "amp_only",
    "AMPOnlyResult",
    "amp_only_theory",
    "compare_methods",
    "Comparison",
    "state_probabilities",
    "overlaps",
    "Overlaps",
    "rescaled_overlap",
]

#: Priors fed from AMP to BP are kept in [PRIOR_CLIP, 1 - PRIOR_CLIP], so that a
#: confidently wrong AMP estimate cannot make the BP evidence exactly zero.
PRIOR_CLIP = 1e-12
#: Mean posterior variance of the weights below which AMP has reached perfect recovery.
VARIANCE_FLOOR = 1e-10
#: Floor of the AMP variance V in the label channel (keeps (omega - kappa)^2/V finite).
V_FLOOR = 1e-12
#: Largest degree of a regular graph whose cavity products are taken as plain
#: prefix/suffix products (beyond it, sums of logarithms avoid underflow).
MAX_PREFIX_DEGREE = 8
ADAPT, RELAX, MAX_DAMPING = 0.8, 0.95, 0.95
_STATES = ("S", "I", "R")


# ------------------------------------------------------------------- graphs
def edges_from_graph(graph):
    """Edge array and number of nodes of a networkx graph.

    Nodes are relabelled ``0, ..., n - 1`` in the order of ``graph.nodes``
    (the identity for graphs built by networkx's generators).

    Parameters
    ----------
    graph : networkx.Graph
        An undirected graph without self-loops.

    Returns
    -------
    edges : ndarray of int, shape (E, 2)
    n_nodes : int
    """
    nodes = list(graph.nodes())
    n_nodes = len(nodes)
    if nodes == list(range(n_nodes)):  # already 0..n-1 (networkx generators)
        edges = np.array(list(graph.edges()), dtype=np.int64)
    else:
        index = {node: k for k, node in enumerate(nodes)}
        edges = np.array([(index[u], index[v]) for u, v in graph.edges()], dtype=np.int64)
    return _check_edges(edges.reshape(-1, 2), n_nodes), n_nodes


def _nx_seed(rng):
    return int(np.random.default_rng(rng).integers(2**32))


def random_regular_graph(n_nodes, degree=3, rng=None):
    """Random ``degree``-regular graph on ``n_nodes`` nodes (networkx).

    Returns
    -------
    networkx.Graph
        Convert it once with :func:`edges_from_graph`.
    """
    import networkx as nx

    n_nodes = check_positive_int(n_nodes, "n_nodes")
    degree = check_positive_int(degree, "degree")
    if degree >= n_nodes or (n_nodes * degree) % 2:
        raise ValueError(f"degree must be < n_nodes with n_nodes * degree even, got "
                         f"degree={degree}, n_nodes={n_nodes}")
    return nx.random_regular_graph(degree, n_nodes, seed=_nx_seed(rng))


def erdos_renyi_graph(n_nodes, mean_degree, rng=None, largest_component=False):
    """Erdős–Rényi graph :math:`G(n, p)` with :math:`p = c/(n - 1)` (networkx).

    Parameters
    ----------
    n_nodes : int
    mean_degree : float
        :math:`c \\in [0, n - 1]`.
    rng : numpy.random.Generator or int, optional
    largest_component : bool
        Keep only the largest connected component, relabelled ``0, 1, ...``.

    Returns
    -------
    networkx.Graph
    """
    import networkx as nx

    n_nodes = check_positive_int(n_nodes, "n_nodes")
    c = float(check_in_range(mean_degree, "mean_degree", 0.0, max(n_nodes - 1, 0)))
    graph = nx.fast_gnp_random_graph(n_nodes, c / max(n_nodes - 1, 1), seed=_nx_seed(rng))
    if largest_component:
        nodes = max(nx.connected_components(graph), key=len)
        graph = nx.convert_node_labels_to_integers(graph.subgraph(nodes).copy())
    return graph


def _check_edges(edges, n_nodes):
    edges = np.asarray(edges)
    if edges.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must have shape (E, 2), got {edges.shape}")
    if not np.issubdtype(edges.dtype, np.integer):
        raise ValueError(f"edges must hold integer node indices, got dtype {edges.dtype}")
    if edges.min() < 0 or edges.max() >= n_nodes:
        raise ValueError(f"edges must hold node indices in [0, {n_nodes - 1}] "
                         f"(n_nodes = {n_nodes}), got values in [{edges.min()}, {edges.max()}]")
    if np.any(edges[:, 0] == edges[:, 1]):
        raise ValueError("edges must not contain self-loops (i, i)")
    key = np.minimum(edges[:, 0], edges[:, 1]) * n_nodes + np.maximum(edges[:, 0], edges[:, 1])
    if np.unique(key).size != key.size:
        raise ValueError("edges must be distinct (each undirected edge listed once)")
    return edges.astype(np.int64)


def _graph_edges(graph, n_nodes=None):
    """``(edges, n_nodes)`` from a networkx graph or an edge array."""
    if hasattr(graph, "edges") and hasattr(graph, "nodes"):
        return edges_from_graph(graph)
    edges = np.asarray(graph)
    if n_nodes is None:
        n_nodes = int(edges.max()) + 1 if edges.size else 0
    return _check_edges(edges, n_nodes), n_nodes


# --------------------------------------------------------------- simulation
def _check_T(T):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    return int(T)


def _source_mask(sources, n_nodes):
    sources = np.asarray(sources)
    if sources.dtype == bool:
        if sources.shape != (n_nodes,):
            raise ValueError(f"sources must be a boolean mask of shape ({n_nodes},) or node "
                             f"indices, got shape {sources.shape}")
        return sources.copy()
    if sources.size and not np.issubdtype(sources.dtype, np.integer):
        raise ValueError("sources must be a boolean mask or integer node indices")
    idx = sources.astype(np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= n_nodes):
        raise ValueError(f"sources must be node indices in [0, {n_nodes - 1}]")
    mask = np.zeros(n_nodes, dtype=bool)
    mask[idx] = True
    return mask


def _simulate(graph, T, lam, sources, recovery, rng):
    T = _check_T(T)
    lam = float(check_in_range(lam, "lam", 0.0, 1.0))
    rng = np.random.default_rng(rng)
    src = np.asarray(sources)
    n_hint = src.shape[0] if src.dtype == bool and src.ndim == 1 else None
    edges, n = _graph_edges(graph, n_hint)
    if n_hint is None and src.size and src.dtype != bool:
        n = max(n, int(src.max()) + 1)
    mask = _source_mask(sources, n)
    # Both directions of every edge, as arrays: one transmission coin per
    # directed edge and time step, no loop over nodes or edges.
    sender = np.concatenate([edges[:, 0], edges[:, 1]])
    receiver = np.concatenate([edges[:, 1], edges[:, 0]])
    tau = np.full(n, T + 1, dtype=np.int64)
    tau[mask] = 0
    for t in range(T):
        infectious = tau[sender] <= t
        if recovery is not None:
            infectious &= t < tau[sender] + recovery
        live = infectious & (tau[receiver] > t)
        if not live.any():  # nothing can change any more
            break
        hit = live & (rng.random(live.shape[0]) < lam)
        newly = np.zeros(n, dtype=bool)
        newly[receiver[hit]] = True
        tau[newly] = t + 1
    return tau


def simulate_si(graph, T, lam, sources, rng=None):
    r"""Simulate the SI model and return the infection times.

    From the sources (:math:`\tau = 0`), at every contact time
    :math:`t = 0, \dots, T - 1` each infected node infects each susceptible
    neighbour independently with probability :math:`\lambda`; an infection
    at contact time :math:`t` makes the receiver infected at :math:`t + 1`.
    Each step is one array operation over the directed edges; the loop stops
    early once no infected node has a susceptible neighbour.

    Parameters
    ----------
    graph : networkx.Graph or array_like of int, shape (E, 2)
        The contact graph. With an edge array the nodes are
        ``0, ..., n - 1``, where ``n`` is the length of ``sources`` if it
        is a boolean mask, else one more than the largest index seen.
    T : int
        Last time step, ``>= 1``.
    lam : float
        Transmission probability in [0, 1]; ``lam = 1`` is deterministic
        (infection time = graph distance to the nearest source).
    sources : array_like
        Boolean mask of shape (n,) or integer node indices.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    tau : ndarray of int, shape (n,)
        Infection times in ``{0, ..., T + 1}``; ``T + 1`` = not infected by ``T``.
    """
    return _simulate(graph, T, lam, sources, None, rng)


def simulate_dsir(graph, T, lam, sources, recovery=1, rng=None):
    r"""Simulate the SIR model with deterministic recovery (dSIR).

    As :func:`simulate_si`, but a node infected at :math:`\tau` transmits only
    at the contact times :math:`\tau, \dots, \tau + \Delta - 1` and is
    recovered from :math:`\tau + \Delta` on, with :math:`\Delta` = ``recovery``.

    Returns
    -------
    tau : ndarray of int, shape (n,)
        Infection times in ``{0, ..., T + 1}``; the recovery times are
        ``tau + recovery``.
    """
    recovery = check_positive_int(recovery, "recovery")
    return _simulate(graph, T, lam, sources, recovery, rng)


def sample_perceptron_sources(n_nodes, alpha, kappa, prior, rng=None):
    r"""Covariates, perceptron weights and the sources they define.

    :math:`F_{i\mu} \sim \mathcal{N}(0, 1/M)` with :math:`M =
    \mathrm{round}(N/\alpha)`, :math:`u \sim P_0` (``prior``), and node
    :math:`i` is a source iff :math:`\omega_i = F_i \cdot u < \kappa`, a
    fraction :math:`\Phi(\kappa)` of the nodes.

    Returns
    -------
    F : ndarray, shape (n_nodes, M)
    u : ndarray, shape (M,)
    is_source : ndarray of bool, shape (n_nodes,)
    """
    n_nodes = check_positive_int(n_nodes, "n_nodes")
    alpha = float(check_positive(alpha, "alpha"))
    kappa = float(as_float_array(kappa, "kappa"))
    rng = np.random.default_rng(rng)
    m = max(1, int(round(n_nodes / alpha)))
    u = prior.sample(m, rng)
    F = rng.standard_normal((n_nodes, m)) / np.sqrt(m)
    return F, u, F @ u < kappa


# ------------------------------------------------------------- observations
def _check_tau(tau, T):
    tau = np.asarray(tau)
    if tau.ndim != 1 or not np.issubdtype(tau.dtype, np.integer):
        raise ValueError("tau must be a 1-d integer array of infection times")
    if tau.size and (tau.min() < 0 or tau.max() > T + 1):
        raise ValueError(f"tau must take values in [0, T + 1] = [0, {T + 1}]")
    return tau


def sensor_observations(tau, T, rho, rng=None):
    r"""Sensors: each node is observed with probability ``rho`` and reveals :math:`\tau_i`.

    An infected node gives "I at :math:`\tau_i`" and, unless it is a
    source, "S at :math:`\tau_i - 1`"; a node never infected gives "S at T".

    Returns
    -------
    list of (int, str, int)
    """
    T = _check_T(T)
    tau = _check_tau(tau, T)
    rho = float(check_in_range(rho, "rho", 0.0, 1.0))
    rng = np.random.default_rng(rng)
    return _sensors(tau, T, np.flatnonzero(rng.random(tau.shape[0]) < rho))


def _sensors(tau, T, seen):
    obs = []
    for i, t in zip(seen.tolist(), tau[seen].tolist()):
        if t <= T:
            obs.append((i, "I", t))
            if t >= 1:
                obs.append((i, "S", t - 1))
        else:
            obs.append((i, "S", T))
    return obs


def snapshot_observations(tau, T_obs, rho, recovery=None, rng=None):
    r"""Snapshot: each node is observed with probability ``rho``, its state at ``T_obs``.

    A fractional ``T_obs`` observes each observed node at
    :math:`\lceil T_{\rm obs}\rceil` with probability
    :math:`T_{\rm obs} - \lfloor T_{\rm obs}\rfloor`, else at
    :math:`\lfloor T_{\rm obs}\rfloor`. With ``recovery`` (dSIR) nodes
    infected at least ``recovery`` steps earlier are reported "R".

    Returns
    -------
    list of (int, str, int)
    """
    T_obs = float(check_nonnegative(T_obs, "T_obs"))
    rho = float(check_in_range(rho, "rho", 0.0, 1.0))
    tau = np.asarray(tau)
    if tau.ndim != 1 or not np.issubdtype(tau.dtype, np.integer):
        raise ValueError("tau must be a 1-d integer array of infection times")
    rng = np.random.default_rng(rng)
    seen = np.flatnonzero(rng.random(tau.shape[0]) < rho)
    low = int(np.floor(T_obs))
    times = low + (rng.random(seen.size) < T_obs - low)
    t_i = tau[seen]
    state = np.where(t_i > times, "S", "I")
    if recovery is not None:
        recovery = check_positive_int(recovery, "recovery")
        state = np.where(t_i + recovery <= times, "R", state)
    return list(zip(seen.tolist(), state.tolist(), times.tolist()))


def observed_nodes(observations, n_nodes):
    """Boolean mask of the nodes that appear in a list of observations."""
    mask = np.zeros(n_nodes, dtype=bool)
    if len(observations):
        mask[np.asarray([o[0] for o in observations], dtype=np.int64)] = True
    return mask


def observation_matrix(observations, n_nodes, T, recovery=None):
    r"""Observation factors :math:`O_i(\tau_i) \in \{0, 1\}`, shape ``(n_nodes, T + 2)``.

    Parameters
    ----------
    observations : list of (node, state, time) or array_like
        ``state`` in ``{"S", "I"}`` (and ``"R"`` with ``recovery``),
        ``time`` in ``[0, T]``. An array of shape ``(n_nodes, T + 2)`` with
        entries 0 or 1 is returned as is (after checks).
    n_nodes, T : int
    recovery : int, optional
        :math:`\Delta` of the dSIR model (None: SI).

    Returns
    -------
    ndarray, shape (n_nodes, T + 2)

    Raises
    ------
    ValueError
        For malformed observations, and when the observations of one node
        contradict each other (:math:`O_i \equiv 0`).
    """
    T = _check_T(T)
    if isinstance(observations, np.ndarray) and observations.ndim == 2:
        O = as_float_array(observations, "observations")
        if O.shape != (n_nodes, T + 2):
            raise ValueError(f"observations given as an array must have shape "
                             f"(n_nodes, T + 2) = ({n_nodes}, {T + 2}), got {O.shape}")
        if not np.all((O == 0) | (O == 1)):
            raise ValueError("observations given as an array must hold only 0 and 1")
    else:
        O = np.ones((n_nodes, T + 2))
        if len(observations):
            try:
                nodes, states, times = (np.asarray(c) for c in zip(*observations))
            except (TypeError, ValueError) as exc:
                raise ValueError("observations must be (node, state, time) tuples") from exc
            if not (np.issubdtype(nodes.dtype, np.integer)
                    and np.issubdtype(times.dtype, np.integer)):
                raise ValueError("observations need integer nodes and times")
            if nodes.min() < 0 or nodes.max() >= n_nodes:
                raise ValueError(f"observed nodes must lie in [0, {n_nodes - 1}]")
            if times.min() < 0 or times.max() > T:
                raise ValueError(f"observation times must lie in [0, T] = [0, {T}]")
            allowed = _STATES if recovery is not None else _STATES[:2]
            bad = ~np.isin(states, allowed)
            if bad.any():
                raise ValueError(f"observation states must be one of {allowed}, "
                                 f"got {states[bad][0]!r}")
            tau = np.arange(T + 2)[None, :]
            t = times[:, None]
            infected = tau <= t
            if recovery is not None:
                infected &= t < tau + recovery
            allowed_tau = np.select(
                [states[:, None] == "S", states[:, None] == "I"],
                [tau > t, infected],
                default=(tau + (recovery or 0) <= t),
            )
            # A node's factor is the product of its observations' indicators.
            row, col = np.nonzero(~allowed_tau)
            O[nodes[row], col] = 0.0
    empty = np.flatnonzero(O.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(f"contradictory observations: no infection time of node "
                         f"{empty[0]} is compatible with all of its observations")
    return O


# ------------------------------------------------------ belief propagation
def transmission_arrays(T, lam, recovery=None):
    r"""Transmission arrays :math:`\Lambda^1, \Lambda^0` of one directed edge.

    Indexed ``[tau_j, tau_i]`` (infector first), shape ``(T + 2, T + 2)``:

    .. math::

        \Lambda^1(\tau_j, \tau_i) = \prod_{t=\tau_j}^{\tau_i - 2} (1 - \lambda^t_{j}),
        \qquad
        \Lambda^0(\tau_j, \tau_i) = \prod_{t=\tau_j}^{\tau_i - 1} (1 - \lambda^t_{j}),

    the probabilities that :math:`j` does not infect :math:`i` before,
    respectively up to, :math:`\tau_i` (empty products are 1; contact
    times run over :math:`t = 0, \dots, T - 1`). :math:`\lambda^t_j =
    \lambda` while :math:`j` is infectious (dSIR: only for
    :math:`t < \tau_j + \Delta`). Built by the cumulative-product trick:
    the rates fill column :math:`t + 2` (resp. :math:`t + 1`) and one
    ``cumprod`` along the :math:`\tau_i` axis does all products.

    Returns
    -------
    lam1, lam0 : ndarray, shape (T + 2, T + 2)
    """
    T = _check_T(T)
    lam = float(check_in_range(lam, "lam", 0.0, 1.0))
    K = T + 2
    t = np.arange(T)[None, :]
    tau_j = np.arange(K)[:, None]
    active = t >= tau_j
    if recovery is not None:
        active &= t < tau_j + check_positive_int(recovery, "recovery")
    rate = lam * active  # (K, T): lambda^t of an infector infected at tau_j
    fill1 = np.zeros((K, K))
    fill1[:, 2:] = rate
    fill0 = np.zeros((K, K))
    fill0[:, 1:K - 1] = rate
    return np.cumprod(1.0 - fill1, axis=1), np.cumprod(1.0 - fill0, axis=1)


class _BPGraph:
    """Directed edges sorted by receiver, and the matrices of one BP sweep.

    Messages live in one array ``M`` of shape ``(2E, K, K)``, ``K = T + 2``:
    row ``e = (k -> i)`` holds :math:`m_{k\\to i}(\\tau_k, \\tau_i)` stored
    as ``M[e, tau_i, tau_k]`` (receiver first), so that the messages into a
    node form one contiguous block.
    """

    def __init__(self, edges, n_nodes, T, lam, recovery=None):
        n_edges = edges.shape[0]
        self.n_nodes, self.T, self.K = n_nodes, T, T + 2
        src = np.concatenate([edges[:, 0], edges[:, 1]])
        dst = np.concatenate([edges[:, 1], edges[:, 0]])
        order = np.argsort(dst, kind="stable")
        self.src, self.dst = src[order], dst[order]
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        self.rev = position[(order + n_edges) % max(2 * n_edges, 1)]
        counts = np.bincount(dst, minlength=n_nodes)
        self.nonempty = counts > 0
        self.starts = (np.cumsum(counts) - counts)[self.nonempty]
        self.counts = counts[self.nonempty]
        # Regular graphs of small degree (no empty node) take a faster exact path.
        regular = n_nodes and counts.min() == counts.max()
        self.degree = int(counts[0]) if regular and 1 <= counts[0] <= MAX_PREFIX_DEGREE else 0
        K = self.K
        lam1, lam0 = transmission_arrays(T, lam, recovery)
        # "Infected exactly at tau" = Lambda^1 - Lambda^0 for 1 <= tau <= T only:
        # tau = 0 (source) and tau = T + 1 (never) keep the Lambda^1 term alone.
        lam0[:, 0] = lam0[:, -1] = 0.0
        # Gamma^a[e, tau_i] = sum_k M[e, tau_i, tau_k] Lambda^a[tau_k, tau_i], for a = 1, 0,
        # and the new message X[e', r, s] = Lambda^1[r, s] C^1[s] - Lambda^0[r, s] C^0[s],
        # are both one matrix product with a (K^2, 2K) / (2K, K^2) block matrix:
        # memory-bound passes over the message array, O(E K^2) each.
        bg = np.zeros((K, K, 2, K))
        bx = np.zeros((2, K, K, K))
        for r in range(K):
            bg[r, :, 0, r], bg[r, :, 1, r] = lam1[:, r], lam0[:, r]
            bx[0, r, :, r], bx[1, r, :, r] = lam1[:, r], -lam0[:, r]
        self.b_gamma = bg.reshape(K * K, 2 * K)
        self.b_message = bx.reshape(2 * K, K * K)
        self.norm = np.concatenate([lam1.sum(axis=0), -lam0.sum(axis=0)])

    def uniform(self):
        return np.full((self.dst.size, self.K, self.K), 1.0 / self.K**2)

    def _segment_sum(self, x):
        out = np.zeros((self.n_nodes,) + x.shape[1:], dtype=x.dtype)
        if x.shape[0]:
            out[self.nonempty] = np.add.reduceat(x, self.starts, axis=0)
        return out

    def _to_edges(self, x):
        """``x[dst]`` for per-node ``x``: a repeat, as edges are sorted by receiver."""
        return np.repeat(x[self.nonempty], self.counts, axis=0)

    def _gammas(self, M):
        G = M.reshape(M.shape[0], -1) @ self.b_gamma
        # One scale per message (Lambda^1 >= Lambda^0, so Gamma^1 holds the max):
        # it cancels in normalised messages and is added back in the evidence.
        scale = G[:, :self.K].max(axis=1)
        if np.any(scale <= 0):
            raise _contradiction()
        G /= scale[:, None]
        return G, np.log(scale)

    def _log_factors(self, G):
        """Logs of the nonzero factors and, if there are any, a 0/1 array of the zeros."""
        zero = G == 0
        if zero.any():
            G[zero] = 1.0
            zero = zero.astype(np.int32)
        else:
            zero = None
        return np.log(G, out=G), zero

    def cavity(self, M):
        """Leave-one-out products over the other incoming messages, ``(2E, 2K)``."""
        G, _ = self._gammas(M)
        if self.degree:
            # Fixed small degree: exact prefix and suffix products per node.
            g = G.reshape(self.n_nodes, self.degree, -1)
            out = np.empty_like(g)
            acc = np.ones_like(g[:, 0])
            for k in range(self.degree):
                out[:, k] = acc
                acc = acc * g[:, k]
            acc[:] = 1.0
            for k in reversed(range(self.degree)):
                out[:, k] *= acc
                acc *= g[:, k]
            return out.reshape(G.shape)
        # Any degrees: sums of logs of the nonzero factors per node, plus a count
        # of the zero ones (exact leave-one-out products, zeros included).
        log_g, zero = self._log_factors(G)
        total = self._to_edges(self._segment_sum(log_g))
        total -= log_g
        np.exp(total, out=total)
        if zero is not None:
            total[self._to_edges(self._segment_sum(zero)) - zero > 0] = 0.0
        return total

    def node_terms(self, M):
        """Full products ``D[i, tau]`` of the node factor and per-node log scales."""
        G, log_scale = self._gammas(M)
        log_g, zero = self._log_factors(G)
        prod = np.exp(self._segment_sum(log_g))
        if zero is not None:
            prod[self._segment_sum(zero) > 0] = 0.0
        K = self.K
        p1, p0 = prod[:, :K], prod[:, K:]
        p0[:, 0] = p0[:, -1] = 0.0  # isolated nodes: empty products are 1
        return np.maximum(p1 - p0, 0.0), self._segment_sum(log_scale)

    def sweep(self, M, W, out=None):
        """All new messages from ``M`` with node weights ``W = O * prior``, shape (N, K)."""
        C = self.cavity(M).reshape(-1, 2, self.K)
        C *= self._to_edges(W)[:, None, :]
        C = C.reshape(-1, 2 * self.K)[self.rev]  # row e' = (i -> j) uses the cavity of j -> i
        Z = C @ self.norm  # sum of every new message over both times, in O(E K)
        if np.any(Z <= 0):
            raise _contradiction()
        C /= Z[:, None]
        X = np.matmul(C, self.b_message, out=None if out is None else out.reshape(C.shape[0], -1))
        return np.maximum(X, 0.0, out=X).reshape(M.shape)  # rounding in L1 C1 - L0 C0

    def run(self, M, W, damping, tol, max_iter):
        """Synchronous damped sweeps until the largest change is below ``tol``."""
        M = M.copy()
        diff = np.empty_like(M)  # reused: fresh large arrays cost page faults
        change, converged, it = np.inf, False, 0
        for it in range(1, max_iter + 1):
            self.sweep(M, W, out=diff)
            diff -= M
            change = float(np.abs(diff).max()) if diff.size else 0.0
            if damping:
                diff *= 1.0 - damping
            M += diff
            if change < tol:
                converged = True
                break
        return M, converged, it, change

    def edge_log_z(self, M):
        r""":math:`\sum_{(ij)} \log \sum m_{i\to j} m_{j\to i}`, each edge once."""
        first = np.flatnonzero(np.arange(self.rev.size) < self.rev)
        z = np.einsum("ers,esr->e", M[first], M[self.rev[first]])
        if np.any(z <= 0):
            raise _contradiction()
        return float(np.log(z).sum())


def _contradiction():
    return ValueError(
        "BP messages vanished: the observations have zero probability under the model "
        "(contradictory observations, e.g. an infection with no possible infector, or "
        "priors of exactly 0 or 1), or the products underflowed")


def _prior_weights(delta, O):
    """Node weights :math:`O_i(\\tau)\\,[\\delta_i, 1 - \\delta_i, \\dots, 1 - \\delta_i]`."""
    W = O * (1.0 - delta)[:, None]
    W[:, 0] = O[:, 0] * delta
    return W


def _check_prior(source_prior, n_nodes):
    delta = check_in_range(source_prior, "source_prior", 0.0, 1.0)
    if delta.ndim == 0:
        return np.full(n_nodes, float(delta))
    if delta.shape != (n_nodes,):
        raise ValueError(f"source_prior must be a scalar or have shape ({n_nodes},), "
                         f"got {delta.shape}")
    return delta.astype(float)


def _check_setup(edges, n_nodes, T, lam, recovery):
    n_nodes = check_positive_int(n_nodes, "n_nodes")
    T = _check_T(T)
    check_in_range(lam, "lam", 0.0, 1.0)
    if recovery is not None:
        recovery = check_positive_int(recovery, "recovery")
    return _check_edges(edges, n_nodes), n_nodes, T, recovery


def _check_messages(messages, graph):
    shape = (graph.dst.size, graph.K, graph.K)
    M = as_float_array(messages, "messages")
    if M.shape != shape:
        raise ValueError(f"messages must have shape {shape} (from a previous result on the "
                         f"same graph and T), got {M.shape}")
    return M


@dataclass(frozen=True)
class BPResult:
    r"""Outcome of :func:`bp_marginals`.

    Attributes
    ----------
    marginals : ndarray, shape (n_nodes, T + 2)
        :math:`b_i(\tau)` for :math:`\tau = 0, \dots, T + 1`.
    log_evidence : float
        Bethe free entropy :math:`\log Z_{\rm Bethe}`, an estimate of
        :math:`\log P(\text{observations})` (exact on trees).
    nu : ndarray, shape (n_nodes,)
        Soft labels :math:`\nu_i = A_i^+/(A_i^+ + A_i^-)`: the probability
        that node :math:`i` is *not* a source given everything except its
        own prior (as if :math:`\delta_i = 1/2`).
    converged : bool
    n_iter : int
        Number of sweeps.
    change : float
        Largest change of a message in the last sweep.
    messages : ndarray, shape (2E, T + 2, T + 2)
        Final messages, to warm-start another call on the same graph.
    """

    marginals: np.ndarray
    log_evidence: float
    nu: np.ndarray
    converged: bool
    n_iter: int
    change: float
    messages: np.ndarray = field(repr=False)


def _node_summary(graph, M, O, delta):
    """Marginals, soft labels, log z_i and log(A^+ + A^-) from messages ``M``."""
    D, log_scale = graph.node_terms(M)
    D *= O
    a_minus, a_plus = D[:, 0], D[:, 1:].sum(axis=1)
    z = delta * a_minus + (1.0 - delta) * a_plus
    if np.any(z <= 0) or np.any(a_minus + a_plus <= 0):
        raise _contradiction()
    W = D * (1.0 - delta)[:, None]
    W[:, 0] = D[:, 0] * delta
    marginals = W / z[:, None]
    nu = a_plus / (a_plus + a_minus)
    return marginals, nu, np.log(z) + log_scale, np.log(a_plus + a_minus) + log_scale


def bp_marginals(edges, n_nodes, T, lam, source_prior, observations, *, recovery=None,
                 damping=0.0, tol=1e-6, max_iter=1000, messages=None):
    r"""Belief propagation on infection times (Altarelli et al. 2014).

    The posterior of the infection times is :math:`\prod_i \psi_i O_i` with

    .. math::

        \psi_i = \delta_i\,\mathbb 1[\tau_i = 0]
        + (1 - \delta_i)\Big[\prod_{j\in\partial i}\Lambda^1_{ji}(\tau_j, \tau_i)
        - \prod_{j\in\partial i}\Lambda^0_{ji}(\tau_j, \tau_i)\Big]_{1 \le \tau_i \le T}
        + (1 - \delta_i)\prod_{j\in\partial i}\Lambda^1_{ji}(\tau_j, T+1)\,\mathbb 1[\tau_i = T+1]

    ("infected exactly at :math:`\tau`" = "not before" minus "not up to",
    :math:`O(|\partial i| T)` instead of :math:`O(T^{|\partial i|})`;
    :func:`transmission_arrays`). Messages live on pairs of infection times,
    :math:`m_{i\to j}(\tau_i, \tau_j)`, and with
    :math:`\Gamma^a_{ki}(\tau_i) = \sum_{\tau_k} m_{k\to i}(\tau_k, \tau_i)
    \Lambda^a_{ki}(\tau_k, \tau_i)` the update is

    .. math::

        m_{i\to j}(\tau_i, \tau_j) \propto O_i(\tau_i)
        \begin{cases}
        \delta_i \prod_{k\ne j}\Gamma^1_{ki}(0) & \tau_i = 0\\
        (1-\delta_i)\big[\Lambda^1_{ji}\prod_{k\ne j}\Gamma^1_{ki}
        - \Lambda^0_{ji}\prod_{k\ne j}\Gamma^0_{ki}\big](\tau_j, \tau_i)
        & 1 \le \tau_i \le T\\
        (1-\delta_i)\,\Lambda^1_{ji}(\tau_j, T+1)\prod_{k\ne j}\Gamma^1_{ki}(T+1)
        & \tau_i = T + 1,
        \end{cases}

    normalised over both arguments. All :math:`2E` messages are updated at
    once (synchronous sweeps) in :math:`O(E T^2)` time and memory per
    sweep; cavity products over :math:`k \ne j` are exact leave-one-out
    products (sums of logarithms per node, zeros counted separately).
    Damping: :math:`m \leftarrow \theta m^{\rm old} + (1 - \theta) m^{\rm new}`.

    At the end, with :math:`A_i^- = O_i(0)\prod_k\Gamma^1_{ki}(0)` and
    :math:`A_i^+ = \sum_{\tau \ge 1} O_i(\tau)[\prod_k\Gamma^1_{ki} -
    \prod_k\Gamma^0_{ki}](\tau)`, the marginals are :math:`b_i(\tau) \propto
    \psi`-weighted products, the soft labels :math:`\nu_i = A_i^+/(A_i^+ +
    A_i^-)`, and the Bethe free entropy is

    .. math::

        \log Z = \sum_i \log\big[\delta_i A_i^- + (1 - \delta_i) A_i^+\big]
        - \sum_{(ij)} \log \sum_{\tau_i, \tau_j} m_{i\to j}(\tau_i, \tau_j)
        m_{j\to i}(\tau_j, \tau_i).

    Parameters
    ----------
    edges : array_like of int, shape (E, 2)
        Undirected edges, nodes ``0, ..., n_nodes - 1`` (see
        :func:`edges_from_graph`).
    n_nodes : int
    T : int
        Time horizon, ``>= 1``.
    lam : float
        Transmission probability in [0, 1].
    source_prior : float or array_like, shape (n_nodes,)
        :math:`\delta_i = P(\tau_i = 0)`, in [0, 1].
    observations : list of (node, state, time), or array of shape (n_nodes, T + 2)
        See :func:`observation_matrix`.
    recovery : int, optional
        :math:`\Delta` of the dSIR model (None: SI).
    damping : float in [0, 1)
    tol : float
        Stop when the largest change of a message is below ``tol``.
    max_iter : int
        Maximum number of sweeps.
    messages : ndarray, optional
        Initial messages (``BPResult.messages`` of a previous call); default uniform.

    Returns
    -------
    BPResult

    Raises
    ------
    ValueError
        For bad input, and when the observations have zero probability
        (contradictory observations) or the messages underflow.

    Warns
    -----
    aimnotes.solvers.ConvergenceWarning
        When ``max_iter`` sweeps do not reach ``tol``.

    References
    ----------
    F. Altarelli et al., Phys. Rev. Lett. 112, 118701 (2014), arXiv:1307.6786.
    """
    edges, n_nodes, T, recovery = _check_setup(edges, n_nodes, T, lam, recovery)
    delta = _check_prior(source_prior, n_nodes)
    O = observation_matrix(observations, n_nodes, T, recovery)
    damping = float(check_in_range(damping, "damping", 0.0, 1.0, high_open=True))
    tol = float(check_positive(tol, "tol"))
    max_iter = check_positive_int(max_iter, "max_iter")
    graph = _BPGraph(edges, n_nodes, T, lam, recovery)
    M0 = graph.uniform() if messages is None else _check_messages(messages, graph)
    M, converged, n_iter, change = graph.run(M0, _prior_weights(delta, O), damping, tol,
                                             max_iter)
    if not converged:
        warnings.warn(f"BP did not converge in {max_iter} sweeps (last change {change:.2e} "
                      f"> tol={tol:g})", ConvergenceWarning, stacklevel=2)
    marginals, nu, log_z, _ = _node_summary(graph, M, O, delta)
    return BPResult(marginals=marginals, log_evidence=float(log_z.sum() - graph.edge_log_z(M)),
                    nu=nu, converged=converged, n_iter=n_iter, change=change, messages=M)


# ------------------------------------------------------------------ BP-AMP
def _label_channel(nu, omega, V, kappa):
    r"""AMP output channel of the BP evidence on the source bit.

    :math:`Z^{\rm out} = \nu\,\Phi(x) + (1 - \nu)\Phi(-x)` with
    :math:`x = (\omega - \kappa)/\sqrt V`, :math:`g = \partial_\omega \log
    Z^{\rm out} = (2\nu - 1)\varphi(x)/(\sqrt V Z^{\rm out})` and the AMP
    prior of the source bit :math:`\eta = \Phi(-x)`, all through ``log_ndtr``
    so that deep tails (:math:`g \to -(\omega - \kappa)/V`) stay finite.
    """
    x = (omega - kappa) / np.sqrt(V)
    with np.errstate(divide="ignore"):
        log_z = np.logaddexp(np.log(nu) + log_ndtr(x), np.log1p(-nu) + log_ndtr(-x))
    g = (2.0 * nu - 1.0) * np.exp(-0.5 * x * x - 0.5 * np.log(2 * np.pi) - log_z) / np.sqrt(V)
    return g, log_z, ndtr(-x)


def _agrees(omega, kappa, nu, sure=0.01):
    """No node that BP is sure about lies on the wrong side of the threshold."""
    return not np.any(((nu < sure) & (omega >= kappa)) | ((nu > 1 - sure) & (omega < kappa)))


@dataclass(frozen=True)
class BPAMPResult:
    r"""Outcome of :func:`bp_amp`.

    Attributes
    ----------
    marginals : ndarray, shape (n_nodes, T + 2)
        BP marginals of the infection times with the AMP node priors.
    p_source : ndarray, shape (n_nodes,)
        :math:`P_i(\text{source}) = (1-\nu_i)\eta_i/[(1-\nu_i)\eta_i + \nu_i(1-\eta_i)]`.
    nu : ndarray, shape (n_nodes,)
        BP soft labels (extrinsic :math:`P(\text{not source})`).
    eta : ndarray, shape (n_nodes,)
        AMP node priors :math:`\eta_i = P(\omega_i < \kappa \mid \text{cavity})`.
    weights, weights_var : ndarray, shape (M,)
        Posterior means :math:`a_\mu` and variances :math:`v_\mu` of the perceptron weights.
    free_entropy : float
        :math:`\Phi = \Phi_{\rm BP} + \Phi_{\rm AMP}` per node.
    free_entropy_bp, free_entropy_amp : float
    converged : bool
    n_iter : int
        Number of outer (BP-AMP) steps.
    collapsed : bool
        Whether the AMP variances collapsed (perfect recovery of the weights).
    history : dict of ndarray
        Per outer step: ``"change"`` and, with ``u_true``, ``"weights_overlap"``
        (:math:`a\cdot u^\ast/M`).
    messages : ndarray
        Final BP messages.
    """

    marginals: np.ndarray
    p_source: np.ndarray
    nu: np.ndarray
    eta: np.ndarray
    weights: np.ndarray
    weights_var: np.ndarray
    free_entropy: float
    free_entropy_bp: float
    free_entropy_amp: float
    converged: bool
    n_iter: int
    collapsed: bool
    history: dict = field(repr=False)
    messages: np.ndarray = field(repr=False)


def _check_design(F, n_nodes):
    F = as_float_array(F, "F")
    if F.ndim != 2 or F.shape[0] != n_nodes or F.shape[1] < 1:
        raise ValueError(f"F must have shape (n_nodes, M) = ({n_nodes}, M) with M >= 1, "
                         f"got {F.shape}")
    return F


def bp_amp(edges, n_nodes, T, lam, F, kappa, observations, prior, *, init="uninformed",
           u_true=None, tau_true=None, recovery=None, damping=0.3, tol=1e-5, max_iter=300,
           bp_damping=0.0, bp_tol=1e-6, bp_max_iter=1000, rng=None):
    r"""Hybrid BP-AMP for spreading with a perceptron source prior (Ghio et al. 2025).

    The sparse node factors :math:`\psi_i` are handled by BP on infection
    times (:func:`bp_marginals`), the dense layer :math:`u \to \omega = Fu
    \to \mathbb 1[\omega_i < \kappa]` by GAMP (scalar variance); they
    exchange only each node's source bit. One outer step:

    1. :math:`V = \bar v`, :math:`\omega = F a - V g^{\rm old}`;
    2. BP soft labels :math:`\nu_i = A^+_i/(A^+_i + A^-_i)` from the current
       messages (extrinsic: without node :math:`i`'s own prior);
    3. :math:`g_i = \partial_\omega \log Z^{\rm out}_i`, with
       :math:`Z^{\rm out}_i = \tfrac12[1 + (2\nu_i - 1)
       \operatorname{erf}((\omega_i - \kappa)/\sqrt{2V})]`;
    4. node priors :math:`\delta_i = \eta_i = \tfrac12\operatorname{erfc}
       ((\omega_i - \kappa)/\sqrt{2V})`;
    5. :math:`A = -\frac1M\sum_i \partial_\omega g_i` (equal on average at
       the fixed point to the Nishimori form :math:`\frac1M\sum_i g_i^2`, but
       robust to labels that contradict the current estimate),
       :math:`B = F^\top g + A a`,
       :math:`a = f_a(A, B)`, :math:`v = f_c(A, B)` (the prior's denoiser);
    6. BP to convergence with the priors :math:`\delta`, warm-started.

    Steps 2-5 are damped by :math:`\theta` (``damping``), raised
    (:math:`1 - \theta \to 0.8(1 - \theta)`, up to 0.95) whenever the outer
    change grows and relaxed back (:math:`1 - \theta \to (1 - \theta)/0.95`)
    while it shrinks. The loop stops when the BP messages and :math:`(a, v)`
    change by less than ``tol``. At the end, :math:`P_i(\text{source}) =
    (1-\nu_i)\eta_i/[(1-\nu_i)\eta_i + \nu_i(1-\eta_i)]` (the BP marginal at
    :math:`\tau_i = 0`) and the free entropy per node is
    :math:`\Phi = \Phi_{\rm BP} + \Phi_{\rm AMP}` with

    .. math::

        N\Phi_{\rm BP} &= \sum_i \log(A_i^+ + A_i^-) - \sum_{(ij)} \log z_{ij},\\
        N\Phi_{\rm AMP} &= \sum_\mu \Big[\log \hat Z_P(A, B_\mu)
        + \tfrac A2 (a_\mu^2 + v_\mu) - B_\mu a_\mu\Big]
        + \sum_i \Big[\tfrac V2 g_i^2 + \log Z^{\rm out}_i\Big],

    which for :math:`\lambda = 1` and Rademacher weights is
    :math:`-\ln 2/\alpha` at perfect recovery.

    Parameters
    ----------
    edges, n_nodes, T, lam, observations, recovery
        As in :func:`bp_marginals`.
    F : ndarray, shape (n_nodes, M)
        Covariates, entries :math:`\mathcal{N}(0, 1/M)`.
    kappa : float
        Node :math:`i` is a source iff :math:`F_i\cdot u < \kappa`.
    prior : aimnotes.priors.Prior
        Prior of the weights :math:`u` (Gaussian or Rademacher).
    init : {"uninformed", "informed"}
        Uninformed: :math:`a \sim \mathcal N(0, 1/N)`, :math:`v = 1`,
        :math:`\nu = 1/2`, BP messages of a first run without observations.
        Informed (needs ``u_true`` and ``tau_true``): :math:`a = u^\ast`,
        :math:`v = N^{-1/2}`, :math:`\nu` = the true labels, BP messages of
        a first run fed the true trajectory. A different fixed point from
        the two starts signals a first-order transition.
    u_true : ndarray, shape (M,), optional
    tau_true : ndarray of int, shape (n_nodes,), optional
    damping : float in [0, 1)
    tol : float
    max_iter : int
        Maximum number of outer steps.
    bp_damping, bp_tol, bp_max_iter
        Settings of the inner BP runs.
    rng : numpy.random.Generator or int, optional
        For the uninformed initial weights.

    Returns
    -------
    BPAMPResult

    Warns
    -----
    aimnotes.solvers.ConvergenceWarning
        When the outer loop does not converge in ``max_iter`` steps.

    References
    ----------
    D. Ghio, P. Boncoraglio, L. Zdeborová, arXiv:2509.02073.
    """
    edges, n_nodes, T, recovery = _check_setup(edges, n_nodes, T, lam, recovery)
    F = _check_design(F, n_nodes)
    kappa = float(as_float_array(kappa, "kappa"))
    if init not in ("uninformed", "informed"):
        raise ValueError(f"init must be one of ['informed', 'uninformed'], got {init!r}")
    O = observation_matrix(observations, n_nodes, T, recovery)
    damping = float(check_in_range(damping, "damping", 0.0, 1.0, high_open=True))
    bp_damping = float(check_in_range(bp_damping, "bp_damping", 0.0, 1.0, high_open=True))
    tol, bp_tol = float(check_positive(tol, "tol")), float(check_positive(bp_tol, "bp_tol"))
    max_iter = check_positive_int(max_iter, "max_iter")
    bp_max_iter = check_positive_int(bp_max_iter, "bp_max_iter")
    m = F.shape[1]
    if u_true is not None:
        u_true = as_float_array(u_true, "u_true")
        if u_true.shape != (m,):
            raise ValueError(f"u_true must have shape ({m},), got {u_true.shape}")
    graph = _BPGraph(edges, n_nodes, T, lam, recovery)

    def bp(M, delta, O_run, tol_run=bp_tol):
        M, ok, _, _ = graph.run(M, _prior_weights(delta, O_run), bp_damping, tol_run,
                                bp_max_iter)
        return M, ok

    if init == "informed":
        if u_true is None or tau_true is None:
            raise ValueError("init='informed' needs u_true and tau_true")
        tau_true = _check_tau(tau_true, T)
        if tau_true.shape != (n_nodes,):
            raise ValueError(f"tau_true must have shape ({n_nodes},), got {tau_true.shape}")
        a, v = u_true.copy(), np.full(m, n_nodes**-0.5)
        nu = np.where(tau_true == 0, 0.0, 1.0)
        O_first = observation_matrix(sensor_observations(tau_true, T, 1.0), n_nodes, T,
                                     recovery)
    else:
        rng = np.random.default_rng(rng)
        a, v = rng.standard_normal(m) / np.sqrt(n_nodes), np.ones(m)
        nu = np.full(n_nodes, 0.5)
        O_first = np.ones_like(O)
    g = np.zeros(n_nodes)
    V = max(v.mean(), V_FLOOR)
    delta = np.clip(ndtr((kappa - F @ a) / np.sqrt(V)), PRIOR_CLIP, 1 - PRIOR_CLIP)
    M, _ = bp(graph.uniform(), delta, O_first)

    history = {"change": []}
    if u_true is not None:
        history["weights_overlap"] = []
    theta, converged, collapsed = damping, False, False
    A, B = 0.0, np.zeros(m)
    a_new, v_new, log_zp = prior.moments(A, B)
    log_zout = np.zeros(n_nodes)
    it = 0
    change = 1.0
    for it in range(1, max_iter + 1):
        V = max(v.mean(), V_FLOOR)
        omega = F @ a - V * g
        nu_bp = _node_summary(graph, M, O, delta)[1]
        nu = theta * nu + (1 - theta) * nu_bp
        g, log_zout, eta = _label_channel(nu, omega, V, kappa)
        delta = theta * delta + (1 - theta) * np.clip(eta, PRIOR_CLIP, 1 - PRIOR_CLIP)
        change_av = 0.0
        if not collapsed:  # after a collapse the weights are known: steps 1-4 only
            # A from -d(g)/d(omega), not the Nishimori form sum(g^2)/M (equal at the
            # fixed point on average): it stays O(1/V) instead of O((omega-kappa)^2/V^2)
            # where a sure BP label contradicts the current estimate, which otherwise
            # collapses the variances onto a wrong vertex at finite N.
            dg = -g * ((omega - kappa) / V + g)
            A = max(-float(dg.sum()) / m, 0.0)
            if A == 0 and V < np.sqrt(VARIANCE_FLOOR) * prior.var:
                # Every g underflowed: all labels are satisfied by many sqrt(V).
                collapsed = True
            else:
                B = F.T @ g + A * a
                a_new, v_new, log_zp = prior.moments(A, B)
                collapsed = (v_new.mean() < VARIANCE_FLOOR * prior.var
                             and _agrees(F @ a_new, kappa, nu))
                # At perfect recovery the undamped estimate is kept (damping would
                # only delay the collapse of the variances geometrically).
                step = 1.0 if collapsed else 1 - theta
                if collapsed:  # the weights are known: nothing left to damp
                    theta = 0.0
                change_av = max(np.abs(a_new - a).max(), np.abs(v_new - v).max())
                a = a + step * (a_new - a)
                v = v + step * (v_new - v)
        M_old = M
        # Inexact inner solves while the outer loop is far from its fixed point.
        tol_run = max(bp_tol, 0.1 * change)
        M, bp_ok = bp(M, delta, O, tol_run)
        change = max(change_av, float(np.abs(M - M_old).max()))
        if not collapsed and history["change"]:
            if change > history["change"][-1]:  # not contracting: damp harder
                theta = min(1.0 - (1.0 - theta) * ADAPT, MAX_DAMPING)
            else:  # contracting: relax slowly back towards the initial damping
                theta = max(1.0 - (1.0 - theta) / RELAX, damping)
        history["change"].append(change)
        if u_true is not None:
            history["weights_overlap"].append(float(a @ u_true) / m)
        if change < tol and bp_ok and tol_run == bp_tol:
            converged = True
            break
    if not converged:
        warnings.warn(f"BP-AMP did not converge in {max_iter} outer steps (last change "
                      f"{history['change'][-1]:.2e} > tol={tol:g})", ConvergenceWarning,
                      stacklevel=2)
    marginals, nu_bp, _, log_a = _node_summary(graph, M, O, delta)
    eta = delta
    p_source = marginals[:, 0]
    phi_bp = (log_a.sum() - graph.edge_log_z(M)) / n_nodes
    phi_amp = (np.sum(log_zp + 0.5 * A * (a_new**2 + v_new) - B * a_new)
               + np.sum(0.5 * V * g**2 + log_zout)) / n_nodes
    return BPAMPResult(
        marginals=marginals, p_source=p_source, nu=nu_bp, eta=eta, weights=a,
        weights_var=v, free_entropy=float(phi_bp + phi_amp), free_entropy_bp=float(phi_bp),
        free_entropy_amp=float(phi_amp), converged=converged, n_iter=it, collapsed=collapsed,
        history={k: np.asarray(x) for k, x in history.items()}, messages=M)


# --------------------------------------------------------------- AMP only
@dataclass(frozen=True)
class AMPOnlyResult:
    """Outcome of :func:`amp_only`.

    Attributes
    ----------
    p_source : ndarray, shape (n_nodes,)
        Observed nodes: their revealed bit (0 or 1); the others:
        :math:`\\Phi((\\kappa - F_i\\cdot a)/\\sqrt{\\sum_\\mu F_{i\\mu}^2 c_\\mu})`.
    weights, weights_var : ndarray, shape (M,)
    converged : bool
    n_iter : int
    """

    p_source: np.ndarray
    weights: np.ndarray
    weights_var: np.ndarray
    converged: bool
    n_iter: int


def amp_only(F, is_source, observed, kappa, prior, *, damping=0.3, max_iter=1000, tol=1e-7):
    r"""AMP-only baseline: learn the perceptron from the observed nodes' source bits.

    Sensors reveal :math:`\tau_i`, hence whether node :math:`i` is a source.
    GAMP (:func:`aimnotes.glm.amp`) learns :math:`u` from those
    :math:`\rho N` labelled rows of :math:`F` through the threshold channel
    ``Sign(kappa)``, whose label is :math:`\operatorname{sign}(\omega - \kappa)`:
    a source has label :math:`-1`. The other nodes are predicted from the
    covariates alone; the graph and the dynamics are ignored.

    Parameters
    ----------
    F : ndarray, shape (n_nodes, M)
    is_source : array_like of bool, shape (n_nodes,)
        True source bits (only the observed ones are used).
    observed : array_like of bool, shape (n_nodes,)
    kappa : float
    prior : aimnotes.priors.Prior
    damping, max_iter, tol
        Passed to :func:`aimnotes.glm.amp`.

    Returns
    -------
    AMPOnlyResult
    """
    n_nodes = F.shape[0] if np.ndim(F) == 2 else 0
    F = _check_design(F, n_nodes)
    is_source = np.asarray(is_source, dtype=bool)
    observed = np.asarray(observed, dtype=bool)
    for name, x in (("is_source", is_source), ("observed", observed)):
        if x.shape != (n_nodes,):
            raise ValueError(f"{name} must have shape ({n_nodes},), got {x.shape}")
    kappa = float(as_float_array(kappa, "kappa"))
    y = np.where(is_source[observed], -1.0, 1.0)
    run = glm.amp(F[observed], y, prior, Sign(kappa), damping=damping, max_iter=max_iter,
                  tol=tol)
    var = np.maximum((F * F) @ run.variance, 1e-300)
    p = ndtr((kappa - F @ run.x_hat) / np.sqrt(var))
    p[observed] = is_source[observed]
    return AMPOnlyResult(p_source=p, weights=run.x_hat, weights_var=run.variance,
                         converged=run.converged, n_iter=run.n_iter)


def amp_only_theory(rho, alpha, kappa, prior):
    r"""Asymptotic rescaled source overlap of the AMP-only baseline.

    With :math:`q = q_{\rm BO}(\rho\alpha)` the Bayes-optimal overlap of the
    threshold perceptron at sample ratio :math:`\rho\alpha`
    (:func:`aimnotes.glm.state_evolution` with ``Sign(kappa)``),
    :math:`a' = (\sqrt q\,\xi - \kappa)/\sqrt{1 - q}` and
    :math:`O_{\rm RND} = \max(\Phi(\kappa), 1 - \Phi(\kappa))`,

    .. math::

        \tilde O^{\rm AMP}(\rho) = \frac{\rho + (1 - \rho)\,
        \mathbb{E}_\xi\max\{\Phi(a'), \Phi(-a')\} - O_{\rm RND}}{1 - O_{\rm RND}},

    where :math:`1 - \mathbb{E}_\xi\max\{\Phi(a'), \Phi(-a')\}` is the
    Bayes-optimal classification error of the channel (``gen_error``).

    Parameters
    ----------
    rho : float or array_like
        Fraction of observed nodes, in [0, 1].
    alpha : float
        :math:`N/M > 0`.
    kappa : float
    prior : aimnotes.priors.Prior

    Returns
    -------
    float or ndarray
        Shaped like ``rho``.
    """
    rho = check_in_range(rho, "rho", 0.0, 1.0)
    alpha = float(check_positive(alpha, "alpha"))
    kappa = float(as_float_array(kappa, "kappa"))
    se = glm.state_evolution(rho * alpha, prior, Sign(kappa), max_iter=100_000)
    o_rnd = max(ndtr(kappa), 1.0 - ndtr(kappa))
    overlap = rho + (1.0 - rho) * (1.0 - np.asarray(se.gen_error))
    return scalar_or_array((overlap - o_rnd) / (1.0 - o_rnd), rho.shape)


# ------------------------------------------------------------- experiments
@dataclass(frozen=True)
class Comparison:
    r"""Rescaled overlaps of the three estimators (:func:`compare_methods`).

    Every array has shape ``(n_seeds, n_rho)`` unless noted.

    Attributes
    ----------
    rho : ndarray, shape (n_rho,)
    bp, amp, bp_amp : ndarray
        Rescaled source overlap :math:`\tilde O` of BP with the i.i.d. prior
        :math:`\Phi(\kappa)`, of AMP on the covariates alone, and of BP-AMP.
    bp_trajectory, bp_amp_trajectory : ndarray
        Rescaled overlap of the whole trajectory (states of all nodes at all times).
    bp_amp_mo : ndarray
        :math:`\widetilde{MO}` of BP-AMP, the Nishimori partner of ``bp_amp``.
    bp_amp_free_entropy : ndarray
        Free entropy per node of the BP-AMP fixed point.
    T : ndarray of int, shape (n_seeds,)
        Duration of each planted epidemic, the horizon given to BP.
    converged : ndarray of bool
        Whether BP, AMP and BP-AMP all converged.
    n_iter : ndarray of int
        Outer steps of BP-AMP.
    """

    rho: np.ndarray
    bp: np.ndarray
    amp: np.ndarray
    bp_amp: np.ndarray
    bp_trajectory: np.ndarray
    bp_amp_trajectory: np.ndarray
    bp_amp_mo: np.ndarray
    bp_amp_free_entropy: np.ndarray
    T: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray

    mean = seed_mean
    stderr = seed_stderr


def _source_overlap(p_source, is_source):
    guess = p_source.mean() > 0.5
    return rescaled_overlap(np.mean((p_source > 0.5) == is_source), np.mean(is_source == guess))


def compare_methods(n_nodes, alpha, kappa, prior, rhos, *, degree=3, lam=1.0, n_seeds=3,
                    rng=None, **bp_amp_kwargs):
    r"""BP only, AMP only and BP-AMP on planted instances, for several sensor densities.

    For each seed: a random ``degree``-regular graph, covariates and
    perceptron sources (:func:`sample_perceptron_sources`), one SI epidemic
    run until it stops (its duration is the horizon :math:`T`), and one
    uniform number per node; the nodes whose number is below :math:`\rho`
    are sensors, so the sets of sensors are nested along ``rhos``.

    Parameters
    ----------
    n_nodes : int
    alpha, kappa : float
    prior : aimnotes.priors.Prior
        Prior of the perceptron weights.
    rhos : array_like, shape (n_rho,)
        Fractions of sensors, in [0, 1].
    degree : int
    lam : float
        Transmission probability.
    n_seeds : int
    rng : numpy.random.Generator or int, optional
    **bp_amp_kwargs
        Passed to :func:`bp_amp`.

    Returns
    -------
    Comparison
        Runs that stop at their iteration limit are recorded with
        ``converged = False`` (their :class:`~aimnotes.solvers.ConvergenceWarning`
        is suppressed).
    """
    rhos = np.atleast_1d(check_in_range(rhos, "rhos", 0.0, 1.0))
    n_seeds = check_positive_int(n_seeds, "n_seeds")
    rng = np.random.default_rng(rng)
    shape = (n_seeds, rhos.size)
    keys = ("bp", "amp", "bp_amp", "bp_trajectory", "bp_amp_trajectory", "bp_amp_mo",
            "bp_amp_free_entropy")
    out = {k: np.zeros(shape) for k in keys}
    converged = np.zeros(shape, dtype=bool)
    n_iter = np.zeros(shape, dtype=int)
    durations = np.zeros(n_seeds, dtype=int)
    for s in range(n_seeds):
        edges, n = edges_from_graph(random_regular_graph(n_nodes, degree, rng))
        F, _, is_source = sample_perceptron_sources(n, alpha, kappa, prior, rng)
        tau = simulate_si(edges, n, lam, is_source, rng)
        T = max(int(tau[tau <= n].max()), 1)
        tau = np.minimum(tau, T + 1)
        durations[s] = T
        draw = rng.random(n)
        for k, rho in enumerate(rhos):
            observed = draw < rho
            obs = _sensors(tau, T, np.flatnonzero(observed))
            with warnings.catch_warnings():
                # Recorded in `converged` instead: one stuck run must not stop a sweep.
                warnings.simplefilter("ignore", ConvergenceWarning)
                bp = bp_marginals(edges, n, T, lam, float(ndtr(kappa)), obs)
                amp = amp_only(F, is_source, observed, kappa, prior)
                hybrid = bp_amp(edges, n, T, lam, F, kappa, obs, prior, rng=rng,
                                **bp_amp_kwargs)
            ov_bp, ov_hybrid = overlaps(bp.marginals, tau), overlaps(hybrid.marginals, tau)
            out["bp"][s, k] = ov_bp.sources_rescaled
            out["amp"][s, k] = _source_overlap(amp.p_source, is_source)
            out["bp_amp"][s, k] = ov_hybrid.sources_rescaled
            out["bp_trajectory"][s, k] = ov_bp.trajectory_rescaled
            out["bp_amp_trajectory"][s, k] = ov_hybrid.trajectory_rescaled
            out["bp_amp_mo"][s, k] = ov_hybrid.mo_rescaled
            out["bp_amp_free_entropy"][s, k] = hybrid.free_entropy
            converged[s, k] = bp.converged and amp.converged and hybrid.converged
            n_iter[s, k] = hybrid.n_iter
    return Comparison(rho=rhos, T=durations, converged=converged, n_iter=n_iter, **out)


# ----------------------------------------------------------------- metrics
def state_probabilities(marginals):
    r""":math:`P(\tau_i \le t)` for :math:`t = 0, \dots, T`: shape ``(n_nodes, T + 1)``.

    In the SI model this is the probability that node :math:`i` is infected at time :math:`t`.
    """
    marginals = np.asarray(marginals, dtype=float)
    return np.cumsum(marginals, axis=1)[:, :-1]


def rescaled_overlap(overlap, overlap_random):
    r"""Rescaled overlap :math:`\tilde O = (O - O_{\rm RND})/(1 - O_{\rm RND})`.

    NaN where :math:`O_{\rm RND} = 1` (nothing to infer).
    """
    overlap, overlap_random = np.asarray(overlap, float), np.asarray(overlap_random, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (overlap - overlap_random) / (1.0 - overlap_random)
    return np.where(overlap_random < 1.0, out, np.nan)[()]


@dataclass(frozen=True)
class Overlaps:
    r"""Accuracy of posterior marginals against a planted trajectory (:func:`overlaps`).

    Attributes
    ----------
    sources, sources_rescaled : float
        :math:`O` and :math:`\tilde O` of the source estimate (:math:`t = 0`).
    mo, mo_rescaled : float
        Their Nishimori partners :math:`MO = \frac1N\sum_i\max_s b_i^0(s)` and
        :math:`\widetilde{MO}`, computable without the truth.
    states, states_rescaled : ndarray, shape (T + 1,)
        Overlap of the estimated state (infected or not) at each time.
    trajectory, trajectory_rescaled : float
        Overlap over all nodes and times :math:`t = 0..T`.
    se_tau : float
        :math:`\frac1N\sum_i(\tau_i^\ast - \hat\tau_i)^2` with
        :math:`\hat\tau_i` the posterior mean.
    se_tau_nishimori : float
        Its Nishimori partner :math:`\frac1N\sum_{i,\tau}b_i(\tau)(\hat\tau_i - \tau)^2`.
    r_se : float
        :math:`1 - \mathrm{SE}_\tau/\mathrm{SE}_{\rm RND}`, with
        :math:`\mathrm{SE}_{\rm RND}` of the population-mean marginal.
    """

    sources: float
    sources_rescaled: float
    mo: float
    mo_rescaled: float
    states: np.ndarray
    states_rescaled: np.ndarray
    trajectory: float
    trajectory_rescaled: float
    se_tau: float
    se_tau_nishimori: float
    r_se: float


def overlaps(marginals, tau_true):
    r"""Overlaps of the maximum-marginal estimates with a planted trajectory.

    Node :math:`i` is estimated infected at time :math:`t` when
    :math:`P(\tau_i \le t) > 1/2` (a source at :math:`t = 0`);
    :math:`O(t)` is the fraction of nodes estimated correctly. The random
    baseline :math:`O_{\rm RND}(t)` uses one guess for every node, the
    argmax of the average marginal, and :math:`\tilde O = (O - O_{\rm
    RND})/(1 - O_{\rm RND})`. The Nishimori partner :math:`MO(t) =
    \frac1N\sum_i\max(P_i, 1 - P_i)` equals :math:`O(t)` in expectation
    when the marginals are Bayes-optimal.

    Parameters
    ----------
    marginals : ndarray, shape (n_nodes, T + 2)
    tau_true : ndarray of int, shape (n_nodes,)

    Returns
    -------
    Overlaps
    """
    marginals = as_float_array(marginals, "marginals")
    if marginals.ndim != 2 or marginals.shape[1] < 3:
        raise ValueError(f"marginals must have shape (n_nodes, T + 2), got {marginals.shape}")
    n, K = marginals.shape
    tau_true = _check_tau(tau_true, K - 2)
    if tau_true.shape != (n,):
        raise ValueError(f"tau_true must have shape ({n},), got {tau_true.shape}")
    p = state_probabilities(marginals)  # (n, T + 1)
    truth = tau_true[:, None] <= np.arange(K - 1)[None, :]
    o = np.mean((p > 0.5) == truth, axis=0)
    guess = p.mean(axis=0) > 0.5
    o_rnd = np.mean(truth == guess[None, :], axis=0)
    mo = np.mean(np.maximum(p, 1 - p), axis=0)
    p_bar = p.mean(axis=0)
    mo_rnd = np.maximum(p_bar, 1 - p_bar)
    taus = np.arange(K)
    tau_hat = marginals @ taus
    mean_marginal = marginals.mean(axis=0)
    se_rnd = np.mean((tau_true - mean_marginal @ taus) ** 2)
    se = float(np.mean((tau_true - tau_hat) ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        r_se = 1.0 - se / se_rnd
    return Overlaps(
        sources=float(o[0]), sources_rescaled=float(rescaled_overlap(o[0], o_rnd[0])),
        mo=float(mo[0]), mo_rescaled=float(rescaled_overlap(mo[0], mo_rnd[0])),
        states=o, states_rescaled=rescaled_overlap(o, o_rnd),
        trajectory=float(o.mean()),
        trajectory_rescaled=float(rescaled_overlap(o.mean(), o_rnd.mean())),
        se_tau=se,
        se_tau_nishimori=float(np.mean(np.sum(marginals * (tau_hat[:, None] - taus) ** 2,
                                              axis=1))),
        r_se=float(r_se),
    )
