"""aimnotes: the companion package of the lecture notes on the statistical physics of learning.

Modules
-------
priors
    Scalar priors as vectorised denoisers.
channels
    Scalar output channels (``g_out`` and state-evolution averages).
glm
    Teacher-student generalised linear models: data, state evolution,
    thresholds, GAMP and simple baselines.
rmt
    Random-matrix tools: free convolution of Marchenko-Pastur and
    semicircle laws, Wishart denoising error, rotation-invariant estimator.
aim
    The attention-indexed model: output channels, state evolution,
    GAMP-RIE (quadratic networks are its T = 1 case).
gd
    Gradient-descent baselines for the attention student.
bsr
    Bilinear sequence regression: state evolution with the rectangular
    RIE, thresholds and limits, GAMP-RIE, ridge and gradient-descent
    baselines.
raf
    Rules and facts: state evolution of ridge, hinge and logistic ERM,
    kernels and random features, Bayes-optimal baseline, finite-size
    learners (scikit-learn, imported when used).
spreading
    Epidemic source inference: SI/dSIR simulation, belief propagation on
    infection times, the hybrid BP-AMP with a perceptron source prior and
    its baselines (networkx, imported when used, builds graphs).
quadrature, solvers
    Shared numerical machinery (Gauss rules, vectorised fixed points).
sweeps
    :func:`sweep`, exported as ``aimnotes.sweep``: finite-size runs over a
    parameter grid on any ``concurrent.futures`` executor (in process, a
    process pool, a dask.distributed cluster), with reproducible seeds.
config
    Problem sizes of the book's experiments (``AIMNOTES_SIZE``).
plotting
    The book's figure style (imports matplotlib when called).
testing
    Conformance checks ``check_prior`` / ``check_channel`` for new denoisers
    (import it explicitly, like ``numpy.testing``).

Only numpy and scipy are needed to import the numerical modules.
"""

from . import aim, bsr, channels, config, gd, glm, plotting, priors, quadrature, raf, rmt, solvers
from . import spreading
from . import sweeps
from .sweeps import sweep

__version__ = "0.1.0"

__all__ = [
    "aim", "bsr", "channels", "config", "gd", "glm", "plotting", "priors", "quadrature", "raf",
    "rmt", "solvers", "spreading", "sweeps", "sweep", "__version__",
]
