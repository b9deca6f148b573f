r"""Parameter sweeps for finite-size experiments, on any executor.

:func:`sweep` calls a function once per point of a parameter grid (sizes,
seeds, sample ratios, ...) and returns the results in grid order. Where the
calls run is the caller's choice of ``concurrent.futures.Executor``:

* ``executor=None`` (default): one after the other, in this process;
* ``ProcessPoolExecutor``: all cores of one
  machine (``fn`` and its arguments must be picklable, i.e. defined at
  module level);
* a dask.distributed cluster, ``Client(...).get_executor()``, when one
  machine is not enough (see the README).

The results never depend on the executor: a function that takes an
``rng`` argument receives a generator seeded from its own child of one
``numpy.random.SeedSequence``, fixed by the grid position only.

Examples
--------
>>> import numpy as np
>>> from aimnotes import sweep
>>> def noisy_mean(n, scale, rng):
...     return scale * rng.standard_normal(n).mean()
>>> res = sweep(noisy_mean, {"n": [10, 1000], "scale": [1.0, 2.0]}, rng=0,
...             progress=False)
>>> res.shape
(2, 2)
>>> res.to_array().shape
(2, 2)
"""

import inspect
import itertools
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, wait
from dataclasses import dataclass

import numpy as np

__all__ = ["sweep", "SweepResult", "SweepError", "PROGRESS_ENV"]

#: Environment variable that turns progress bars off when set to ``0``,
#: ``false``, ``no`` or ``off`` (``make book`` and the notebook checks set it).
PROGRESS_ENV = "AIMNOTES_PROGRESS"
_OFF = {"0", "false", "no", "off"}


class SweepError(RuntimeError):
    """A call of a sweep raised; the original exception is its ``__cause__``.

    Attributes
    ----------
    index : int
        Position of the failing point in grid order.
    params : dict
        Its keyword arguments (without the ``rng`` a sweep supplies).
    """

    def __init__(self, index, params, exc):
        self.index = index
        self.params = dict(params)
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        super().__init__(
            f"sweep point {index} ({shown}) raised {type(exc).__name__}: {exc}"
        )

    def __reduce__(self):
        """Pickle with its fields (process pools, dask)."""
        return (_rebuild_sweep_error, (self.index, self.params, str(self)))


def _rebuild_sweep_error(index, params, message):
    err = SweepError.__new__(SweepError)
    RuntimeError.__init__(err, message)
    err.index, err.params = index, params
    return err


@dataclass(frozen=True)
class SweepResult(Sequence):
    """Results of :func:`sweep`, in grid order.

    A sequence (``len``, indexing, iteration) of the values ``fn``
    returned, with the grid they came from.

    Attributes
    ----------
    results : tuple
        ``fn(**params[i])`` for every point ``i``.
    params : tuple of dict
        The keyword arguments of every point (without a supplied ``rng``).
    shape : tuple of int
        ``tuple(len(v) for v in grid.values())`` for a Cartesian grid,
        ``(n_points,)`` for a sequence of keyword dicts.
    axes : dict
        For a Cartesian grid, name -> the values along that axis (in
        order); empty for a sequence of keyword dicts.
    seed : numpy.random.SeedSequence or None
        The parent of the seeds handed to ``fn`` (None if ``fn`` takes no
        ``rng``); ``seed.entropy`` reproduces a sweep run with ``rng=None``.
    """

    results: tuple
    params: tuple
    shape: tuple
    axes: dict
    seed: object = None

    def __len__(self):
        """Return the number of grid points."""
        return len(self.results)

    def __getitem__(self, index):
        """Return the result(s) at a position of the grid order."""
        return self.results[index]

    def to_array(self, field=None, dtype=None):
        """Stack the results (or one field of each) into an array of the grid's shape.

        Parameters
        ----------
        field : str, optional
            Take ``result[field]`` from mappings, ``getattr(result, field)``
            otherwise; default: the results themselves.
        dtype : data-type, optional
            Passed to ``numpy.asarray``.

        Returns
        -------
        numpy.ndarray
            Shape ``self.shape + shape_of_one_value``.
        """
        if field is None:
            values = list(self.results)
        else:
            values = [r[field] if isinstance(r, Mapping) else getattr(r, field)
                      for r in self.results]
        arr = np.asarray(values, dtype=dtype)
        return arr.reshape(self.shape + arr.shape[1:])


def _takes_rng(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "rng" in params and params["rng"].kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _expand(grid):
    """Return (list of kwargs dicts, shape, axes) for a grid."""
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid must name at least one parameter, got an empty dict")
        axes = {}
        for name, values in grid.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"grid keys must be parameter names, got {name!r}")
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise ValueError(
                    f"grid[{name!r}] must be a sequence of values, got {values!r} "
                    f"(wrap a single value in a list)")
            values = list(values)
            if not values:
                raise ValueError(f"grid[{name!r}] is empty")
            axes[name] = values
        names = list(axes)
        points = [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]
        return points, tuple(len(v) for v in axes.values()), axes
    if isinstance(grid, (str, bytes)) or not isinstance(grid, (Sequence, np.ndarray)):
        raise ValueError(
            "grid must be a dict of name -> sequence (Cartesian product) or a sequence "
            f"of keyword dicts, got {type(grid).__name__}")
    points = []
    for i, point in enumerate(grid):
        if not isinstance(point, Mapping):
            raise ValueError(f"grid[{i}] must be a dict of keyword arguments, got {point!r}")
        bad = [k for k in point if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise ValueError(f"grid[{i}] has keys that are not parameter names: {bad!r}")
        points.append(dict(point))
    return points, (len(points),), {}


def _seed_sequence(rng):
    if isinstance(rng, np.random.Generator):
        seq = rng.bit_generator.seed_seq
        if seq is None:
            raise ValueError("rng is a Generator without a SeedSequence; pass an int seed")
        return seq
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        if rng is not None and rng < 0:
            raise ValueError(f"rng must be a non-negative int seed, got {rng!r}")
        return np.random.SeedSequence(None if rng is None else int(rng))
    raise ValueError(
        f"rng must be None, an int, a SeedSequence or a Generator, got {rng!r}")


def _progress_on(progress, stream=None):
    """Whether to draw a progress bar: asked for, a terminal, not turned off."""
    if not progress:
        return False
    if os.environ.get(PROGRESS_ENV, "").strip().lower() in _OFF:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _call(fn, kwargs, seed):
    """Run one point (module level so that executors can pickle it)."""
    if seed is not None:
        kwargs = dict(kwargs, rng=np.random.default_rng(seed))
    return fn(**kwargs)


def sweep(fn, grid, executor=None, progress=True, *, rng=None, desc=None):
    r"""Call ``fn`` at every point of a parameter grid, on any executor.

    Parameters
    ----------
    fn : callable
        Called as ``fn(**params)`` for each point. With ``executor`` a
        process pool or a dask cluster, ``fn`` must be picklable (a
        module-level function, or a ``functools.partial`` of one).
    grid : dict or sequence of dict
        Either a dict of name -> sequence of values, swept as their
        Cartesian product (last name fastest, as ``itertools.product``
        and C-order arrays), or a sequence of keyword dicts, one per point.
    executor : concurrent.futures.Executor, optional
        Where the calls run: ``None`` runs them one after the other in this
        process; otherwise each point is ``executor.submit``-ted, e.g. to a
        ``ProcessPoolExecutor`` or to
        ``dask.distributed.Client(...).get_executor()``. The executor is
        not shut down.
    progress : bool
        Show a tqdm progress bar (default True). It is drawn only when
        standard error is a terminal, tqdm is installed and the
        environment variable ``AIMNOTES_PROGRESS`` is not ``0``, so it
        never appears in executed notebooks or the book.
    rng : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Used only if ``fn`` has a parameter ``rng`` that the grid does not
        set. Point ``i`` then receives ``numpy.random.default_rng(child_i)``
        with ``child_i`` the ``i``-th of ``SeedSequence(rng).spawn(n)``:
        independent streams that depend on the seed and the grid position
        only, never on the executor or the order of completion.
        ``None`` draws fresh entropy (recorded in ``result.seed``).
    desc : str, optional
        Label of the progress bar (default: the name of ``fn``).

    Returns
    -------
    SweepResult
        The return values in grid order, with the grid; ``to_array()``
        stacks them into an array of the grid's shape.

    Raises
    ------
    ValueError
        If ``grid`` is empty or not a dict of sequences / sequence of
        dicts, or ``rng`` is not a seed.
    TypeError
        If ``fn`` is not callable or ``executor`` has no ``submit``.
    SweepError
        If a call raises: the message names the point's parameters, the
        original exception is chained (``__cause__``), and the points not
        started yet are cancelled.

    See Also
    --------
    aimnotes.glm.finite_size_runs, aimnotes.raf.simulate : finite-size
        runners built on it.

    Notes
    -----
    Points are submitted all at once; the executor bounds how many run at
    a time. Each point should therefore be a sizeable piece of work (one
    AMP run, one seed of a curve), not a single cheap function call.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from aimnotes import sweep
    >>> def power(x, p):
    ...     return x ** p
    >>> res = sweep(power, {"x": [1, 2, 3], "p": [1, 2]}, progress=False)
    >>> res.to_array().tolist()
    [[1, 1], [2, 4], [3, 9]]
    >>> with ThreadPoolExecutor(2) as pool:
    ...     list(sweep(power, [{"x": 2, "p": 5}, {"x": 3, "p": 0}], pool, False))
    [32, 1]
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must have a submit method, got {executor!r}")
    points, shape, axes = _expand(grid)
    n = len(points)

    seeds = [None] * n
    parent = None
    if _takes_rng(fn) and not any("rng" in p for p in points):
        parent = _seed_sequence(rng)
        seeds = parent.spawn(n)

    bar = None
    if _progress_on(progress) and n > 0:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=desc or getattr(fn, "__name__", "sweep"), leave=False)

    results = [None] * n
    try:
        if executor is None:
            for i, (point, seed) in enumerate(zip(points, seeds)):
                try:
                    results[i] = _call(fn, point, seed)
                except Exception as exc:
                    raise SweepError(i, point, exc) from exc
                if bar is not None:
                    bar.update()
        else:
            futures = {executor.submit(_call, fn, point, seed): i
                       for i, (point, seed) in enumerate(zip(points, seeds))}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in sorted(done, key=futures.get):
                    i = futures[future]
                    exc = future.exception()
                    if exc is not None:
                        for other in pending:
                            other.cancel()
                        raise SweepError(i, points[i], exc) from exc
                    results[i] = future.result()
                if bar is not None:
                    bar.update(len(done))
    finally:
        if bar is not None:
            bar.close()
    return SweepResult(results=tuple(results), params=tuple(points), shape=shape,
                       axes=axes, seed=parent)
