"""The CMA-ES oracle of a TaylorGLO search (pycma).

The oracle decides which θ to try and never runs anything: ``ask`` gives a generation's
candidates, ``tell`` takes their fitnesses (higher is better; CMA-ES is told ``1 - fitness``),
``stop`` says when the search is over and ``result`` holds the best candidate told so far. Its
whole state pickles to bytes, so a search resumes on exactly the trajectory it was on.

pycma samples from NumPy's global random generator by default, and ``keras.utils.set_random_seed``
(which every evaluation calls) resets that generator; the oracle therefore gives pycma its own
generator through the ``randn`` option, so the candidate sequence depends on the seed only.

This module imports no TensorFlow.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from .trial import tell_value

__all__ = ["Oracle"]

_STATE_VERSION = 1


class _GeneratorRandn:
    """``randn(*shape)`` over a private :class:`numpy.random.Generator`; picklable.

    pycma calls ``opts["randn"](number, dimension)``; a bound method of this class's instance
    pickles together with its generator state, unlike a lambda or a closure.
    """

    def __init__(self, seed: int) -> None:
        self.generator = np.random.Generator(np.random.PCG64(seed))

    def __call__(self, *shape: int) -> np.ndarray | float:
        if not shape:
            return float(self.generator.standard_normal())
        return self.generator.standard_normal(shape)


def _check_positive_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


class Oracle:
    """CMA-ES over θ: (μ/μ_w, λ) with weighted recombination and rank-μ update (pycma's default).

    Args:
        num_params: the length of θ.
        x0: the initial mean (``evolution.initial``); ``None`` means zeros.
        sigma: the initial step size σ0 (``evolution.sigma``).
        population: λ, candidates per generation (``evolution.population``).
        generations: stop after this many ``tell`` calls (``evolution.generations``); pycma's own
            termination criteria can stop it earlier.
        seed: seeds the oracle's private random generator (``experiment.seed``).

    Raises:
        ValueError: for a wrong-length ``x0``, non-positive ``sigma``, ``population < 2`` or
            ``generations < 1``.

    Example:
        >>> oracle = Oracle(2, sigma=0.5, population=6, generations=3, seed=1)
        >>> while not oracle.stop():
        ...     thetas = oracle.ask()
        ...     oracle.tell([1.0 - (t[0] - 1) ** 2 - t[1] ** 2 for t in thetas])
        >>> oracle.generation, len(oracle.result["best_theta"])
        (3, 2)
    """

    def __init__(
        self,
        num_params: int,
        x0: Sequence[float] | None = None,
        sigma: float = 1.2,
        population: int = 8,
        generations: int = 10,
        seed: int = 0,
    ) -> None:
        import cma  # pycma is light but not needed by readers of this module's docs

        self.num_params = _check_positive_int("num_params", num_params, 1)
        self.population = _check_positive_int("population", population, 2)
        self.generations = _check_positive_int("generations", generations, 1)
        self.seed = _check_positive_int("seed", seed, 0)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
            raise ValueError(f"sigma must be a number > 0; got {sigma!r}")
        if not math.isfinite(sigma):
            raise ValueError(f"sigma must be a finite number > 0; got {sigma!r}")
        self.sigma0 = float(sigma)
        mean0 = np.zeros(self.num_params) if x0 is None else np.asarray(x0, dtype=np.float64)
        if mean0.shape != (self.num_params,):
            raise ValueError(
                f"x0 must hold num_params={self.num_params} numbers; got {len(mean0.ravel())}"
            )
        if not np.all(np.isfinite(mean0)):
            raise ValueError(f"x0 must hold finite numbers; got {mean0.tolist()}")
        self.x0 = mean0.tolist()
        options = {
            "popsize": self.population,
            # the seed option only seeds np.random (the global RNG) when randn is np.random.randn;
            # NaN says "no seeding" without pycma's warning
            "seed": float("nan"),
            "randn": _GeneratorRandn(self.seed).__call__,
            "verb_log": 0,  # otherwise pycma writes outcmaes/ into the working directory
            "verbose": -9,
            "verb_disp": 0,
            "maxiter": self.generations,
            # Fitness-range criteria are off: validation accuracies are discrete and a generation
            # whose candidates all diverge (fitness 0) is "flat", which would end a days-long
            # search after one bad generation. The distribution criteria (tolx, tolupsigma,
            # tolconditioncov, noeffectaxis, tolstagnation, ...) still apply.
            "tolfun": 0,
            "tolfunhist": 0,
            "tolflatfitness": 10**9,
        }
        self._es = cma.CMAEvolutionStrategy(mean0, self.sigma0, options)
        self._pending: list[np.ndarray] | None = None
        self.generation = 0
        self.evaluations = 0
        self._best_theta: list[float] | None = None
        self._best_fitness: float | None = None
        self._best_generation: int | None = None
        self._best_candidate: int | None = None

    # -- the ask/tell contract ---------------------------------------------------------------

    def ask(self) -> list[list[float]]:
        """The current generation's candidates.

        Calling ``ask`` again before ``tell`` returns the same pending candidates (the engine
        relies on that when it resumes).

        Returns:
            ``population`` lists of ``num_params`` floats.

        Raises:
            RuntimeError: if the oracle has stopped (see :meth:`stop`).
        """
        if self._pending is None:
            if self.stop():
                raise RuntimeError(
                    f"the oracle has stopped after {self.generation} generations "
                    f"({self.stop_reason()}); there is nothing more to ask"
                )
            self._pending = [np.array(x, dtype=np.float64) for x in self._es.ask()]
        return [x.tolist() for x in self._pending]

    @property
    def pending(self) -> bool:
        """Whether ``ask`` has handed out candidates that have not been told yet."""
        return self._pending is not None

    def tell(self, fitnesses: Sequence[float]) -> None:
        """Reports the fitnesses of the pending candidates (higher is better).

        CMA-ES is told ``1 - fitness``. NaN, Inf and ``None`` are refused: the engine applies the
        fitness rules first (a failed candidate has fitness 0).

        Args:
            fitnesses: one finite number per candidate, in :meth:`ask` order.

        Raises:
            RuntimeError: if there are no pending candidates (``ask`` was not called).
            ValueError: for the wrong number of values or a non-finite value.
        """
        if self._pending is None:
            raise RuntimeError("tell() needs pending candidates: call ask() first")
        values = list(fitnesses)
        if len(values) != len(self._pending):
            raise ValueError(
                f"tell() needs one fitness per candidate: expected {len(self._pending)}, "
                f"got {len(values)}"
            )
        for index, value in enumerate(values):
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
                value, bool
            )
            if not ok or not math.isfinite(float(value)):
                raise ValueError(
                    f"fitness of candidate {index} is {value!r}; only finite numbers can be told "
                    "(apply the fitness rules first: a failed or diverged candidate has fitness 0)"
                )
        values = [float(v) for v in values]
        self._es.tell(self._pending, [tell_value(v) for v in values])
        for index, value in enumerate(values):
            # strictly greater: on ties the earliest candidate stays the best
            if self._best_fitness is None or value > self._best_fitness:
                self._best_fitness = value
                self._best_theta = self._pending[index].tolist()
                self._best_generation = self.generation
                self._best_candidate = index
        self.evaluations += len(values)
        self.generation += 1
        self._pending = None

    def stop(self) -> bool:
        """Whether the search is over: the generation budget is spent or pycma terminated.

        Returns:
            True when no further generation should be asked for.
        """
        if self.generation >= self.generations:
            return True
        if self.generation == 0:
            return False
        return bool(self._es.stop())

    def stop_reason(self) -> str:
        """Why the oracle stopped, e.g. ``"generations=10"`` or pycma's ``"tolflatfitness=1"``.

        Returns:
            An empty string while the oracle has not stopped.
        """
        if self.generation >= self.generations:
            return f"generations={self.generations}"
        if self.generation == 0:
            return ""
        reasons = dict(self._es.stop())
        return ", ".join(f"{key}={value}" for key, value in reasons.items())

    # -- views -------------------------------------------------------------------------------

    @property
    def result(self) -> dict[str, Any]:
        """The best candidate told so far (tracked here in fitness space).

        Returns:
            ``{"best_theta": list | None, "best_fitness": float | None, "best_generation": int |
            None, "best_candidate": int | None, "generations": int, "evaluations": int,
            "stop_reason": str}``.
        """
        return {
            "best_theta": None if self._best_theta is None else list(self._best_theta),
            "best_fitness": self._best_fitness,
            "best_generation": self._best_generation,
            "best_candidate": self._best_candidate,
            "generations": self.generation,
            "evaluations": self.evaluations,
            "stop_reason": self.stop_reason(),
        }

    @property
    def mean(self) -> list[float]:
        """The distribution mean (pycma's ``mean``) as a list."""
        return np.asarray(self._es.mean, dtype=np.float64).tolist()

    @property
    def sigma(self) -> float:
        """The current overall step size σ."""
        return float(self._es.sigma)

    # -- state -------------------------------------------------------------------------------

    def get_state(self) -> bytes:
        """The complete oracle state (pycma strategy, pending candidates, best so far).

        Returns:
            Pickled bytes; :meth:`from_state` restores an oracle that continues identically.
        """
        return pickle.dumps({"version": _STATE_VERSION, "oracle": self.__dict__}, protocol=4)

    @classmethod
    def from_state(cls, state: bytes) -> Oracle:
        """Restores an oracle saved with :meth:`get_state`.

        Args:
            state: the bytes from :meth:`get_state` (only load states you wrote: pickle).

        Returns:
            The oracle, exactly where it was (a pending ``ask`` stays pending).

        Raises:
            ValueError: if ``state`` is not an oracle state of a known version.
        """
        try:
            data = pickle.loads(state)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a state"
            raise ValueError(f"not an oracle state ({type(exc).__name__}: {exc})") from exc
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            got = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise ValueError(
                f"not an oracle state of version {_STATE_VERSION}; got version {got!r}"
            )
        oracle = cls.__new__(cls)
        oracle.__dict__.update(data["oracle"])
        return oracle
