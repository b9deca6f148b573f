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
quadrature, solvers
    Shared numerical machinery (Gauss rules, vectorised fixed points).
config
    Problem sizes of the book's experiments (``AIMNOTES_SIZE``).
plotting
    The book's figure style (imports matplotlib when called).
testing
    Conformance checks ``check_prior`` / ``check_channel`` for new denoisers
    (import it explicitly, like ``numpy.testing``).

Only numpy and scipy are needed to import the numerical modules.
"""

from . import channels, config, glm, plotting, priors, quadrature, solvers

__version__ = "0.1.0"

__all__ = ["channels", "config", "glm", "plotting", "priors", "quadrature", "solvers", "__version__"]
