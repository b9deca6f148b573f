"""aimnotes.sweep: grid order, reproducible seeds on every executor, errors, progress."""

import functools
import io
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import aimnotes
from aimnotes import glm, sweep, sweeps
from aimnotes.channels import Sign
from aimnotes.priors import Rademacher


def power(x, p):
    return x ** p


def noisy(n, scale, rng):
    return scale * rng.standard_normal(n)


def fails_at_three(x):
    if x == 3:
        raise ZeroDivisionError("three is bad")
    return x


# A module-level function of the installed package, so that dask workers in
# other processes unpickle it by reference (test modules are not importable there).
SAMPLE = functools.partial(glm.sample, prior=Rademacher(), channel=Sign())
SAMPLE_GRID = {"d": [20, 30], "alpha": [0.5, 1.0, 2.0]}


def _stack(res):
    return [np.concatenate([np.ravel(a) for a in r]) for r in res]


def test_exported():
    assert aimnotes.sweep is sweeps.sweep


def test_cartesian_grid_order_and_shape():
    res = sweep(power, {"x": [1, 2, 3], "p": [1, 2]}, progress=False)
    assert res.shape == (3, 2)
    assert list(res) == [1, 1, 2, 4, 3, 9]
    assert res.params[1] == {"x": 1, "p": 2}
    assert res.axes == {"x": [1, 2, 3], "p": [1, 2]}
    np.testing.assert_array_equal(res.to_array(), [[1, 1], [2, 4], [3, 9]])
    assert res.seed is None  # fn takes no rng


def test_sequence_of_kwargs_and_fields():
    res = sweep(lambda a, b: {"sum": a + b, "prod": a * b},
                [{"a": 1, "b": 2}, {"a": 3, "b": 4}], progress=False)
    assert res.shape == (2,)
    np.testing.assert_array_equal(res.to_array("sum"), [3, 7])
    np.testing.assert_array_equal(res.to_array("prod"), [2, 12])
    runs = sweep(functools.partial(glm.finite_size_runs, 30, [1.0], Rademacher(), Sign(),
                                   estimator=glm.hebbian, n_seeds=1, progress=False),
                 {"rng": [0, 1]}, progress=False)
    assert runs.to_array("mse").shape == (2, 1, 1)


def test_array_valued_results_stack_to_grid_shape():
    res = sweep(noisy, {"n": [4], "scale": [1.0, 2.0, 3.0]}, rng=0, progress=False)
    assert res.to_array().shape == (1, 3, 4)


def test_seeds_are_children_of_one_seed_sequence():
    res = sweep(noisy, {"n": [5], "scale": [1.0, 1.0]}, rng=42, progress=False)
    children = np.random.SeedSequence(42).spawn(2)
    for r, child in zip(res, children):
        np.testing.assert_array_equal(r, np.random.default_rng(child).standard_normal(5))
    assert not np.array_equal(res[0], res[1])  # independent streams
    again = sweep(noisy, {"n": [5], "scale": [1.0, 1.0]}, rng=42, progress=False)
    np.testing.assert_array_equal(res.to_array(), again.to_array())
    fresh = sweep(noisy, {"n": [5], "scale": [1.0]}, progress=False)
    replay = sweep(noisy, {"n": [5], "scale": [1.0]}, rng=fresh.seed.entropy,
                   progress=False)
    np.testing.assert_array_equal(fresh[0], replay[0])


def test_rng_given_in_grid_is_not_overridden():
    res = sweep(noisy, [{"n": 3, "scale": 1.0, "rng": np.random.default_rng(7)}],
                progress=False)
    np.testing.assert_array_equal(res[0], np.random.default_rng(7).standard_normal(3))
    assert res.seed is None


@pytest.mark.parametrize("make", [lambda: ThreadPoolExecutor(2),
                                  lambda: ProcessPoolExecutor(2)], ids=["threads", "processes"])
def test_executors_give_identical_results(make):
    serial = sweep(SAMPLE, SAMPLE_GRID, rng=3, progress=False)
    with make() as pool:
        parallel = sweep(SAMPLE, SAMPLE_GRID, pool, False, rng=3)
    assert parallel.params == serial.params
    for a, b in zip(_stack(serial), _stack(parallel)):
        np.testing.assert_array_equal(a, b)


def test_finite_size_runs_identical_on_a_process_pool():
    kw = dict(n_seeds=3, rng=1, progress=False)
    serial = glm.finite_size_runs(80, [0.5, 1.5], Rademacher(), Sign(), **kw)
    with ProcessPoolExecutor(2) as pool:
        parallel = glm.finite_size_runs(80, [0.5, 1.5], Rademacher(), Sign(), executor=pool,
                                        **kw)
    for name in ("mse", "test_error", "overlap", "converged", "n_iter"):
        np.testing.assert_array_equal(getattr(serial, name), getattr(parallel, name))


@pytest.mark.slow
@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_dask_local_cluster_gives_identical_results(processes):
    distributed = pytest.importorskip("distributed")
    serial = sweep(SAMPLE, SAMPLE_GRID, rng=3, progress=False)
    with distributed.LocalCluster(n_workers=2, processes=processes, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        res = sweep(SAMPLE, SAMPLE_GRID, client.get_executor(), False, rng=3)
        with pytest.raises(sweeps.SweepError, match=r"d=20, alpha=0\.5"):
            sweep(functools.partial(glm.sample, prior=Rademacher(), channel=Sign()),
                  [{"d": 20, "alpha": 0.5, "rng": -1}], client.get_executor(), False)
    for a, b in zip(_stack(serial), _stack(res)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("executor", [None, "threads"])
def test_exception_names_the_failing_point(executor):
    pool = ThreadPoolExecutor(2) if executor else None
    try:
        with pytest.raises(sweeps.SweepError, match=r"point 2 \(x=3\).*ZeroDivisionError") as info:
            sweep(fails_at_three, {"x": [1, 2, 3, 4]}, pool, False)
    finally:
        if pool:
            pool.shutdown()
    assert info.value.params == {"x": 3} and info.value.index == 2
    assert isinstance(info.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize("grid", [
    {}, {"x": 3}, {"x": "abc"}, {"x": []}, {1: [1]}, "x", 5, [1, 2], [{"not a name": 1}],
])
def test_bad_grid_raises_value_error(grid):
    with pytest.raises(ValueError):
        sweep(power, grid, progress=False)


def test_bad_fn_executor_and_rng():
    with pytest.raises(TypeError):
        sweep(3, {"x": [1]})
    with pytest.raises(TypeError):
        sweep(power, {"x": [1], "p": [1]}, executor=object())
    with pytest.raises(ValueError):
        sweep(noisy, {"n": [1], "scale": [1.0]}, rng="seed", progress=False)
    with pytest.raises(ValueError):
        sweep(noisy, {"n": [1], "scale": [1.0]}, rng=-1, progress=False)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal_and_not_when_turned_off(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.delenv(sweeps.PROGRESS_ENV, raising=False)
    assert sweeps._progress_on(True, _Tty())
    assert not sweeps._progress_on(False, _Tty())
    assert not sweeps._progress_on(True, io.StringIO())  # not a terminal (notebooks, CI logs)
    for value in ("0", "off", "false", "no"):
        monkeypatch.setenv(sweeps.PROGRESS_ENV, value)
        assert not sweeps._progress_on(True, _Tty())


def test_progress_bar_is_drawn_on_a_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    tty = _Tty()
    monkeypatch.delenv(sweeps.PROGRESS_ENV, raising=False)
    monkeypatch.setattr(sweeps.sys, "stderr", tty)
    sweep(power, {"x": [1, 2], "p": [1]}, desc="powers")
    assert "powers" in tty.getvalue()
    quiet = _Tty()
    monkeypatch.setattr(sweeps.sys, "stderr", quiet)
    sweep(power, {"x": [1, 2], "p": [1]}, progress=False)
    assert quiet.getvalue() == ""
