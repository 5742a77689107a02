"""``python -m bench.noise [--quick] [--reps N] [--json]``: k seeds, halving, UH-CMA-ES.

Issue 23 asks three questions of a TaylorGLO search whose fitness is one noisy partial training:
is k seeds per candidate (``evaluation.seeds``, common to the generation) worth its cost, does
successive halving (more seeds only for candidates still in contention) buy the same reliability
for less, and does pycma's noise handling (``cma.NoiseHandler``, UH-CMA-ES) help. Real trainings
cost minutes each, so this benchmark answers on a synthetic objective that behaves like ours (the
model is :class:`Landscape`, the measurement :class:`Measurer`), with pure NumPy and pycma: every
configuration runs at the same total number of measurements ("partial trainings"), over many
independent repetitions, side by side in one run, and is judged by the TRUE expected fitness of
the θ it hands back and by how often that θ is fragile.

Every configuration is CMA-ES as the product runs it (``keras_taylorglo/search/oracle.py``:
λ = 8, σ0 = 1.2, θ0 = 0, the fitness-range stopping criteria off), told ``1 - fitness``.
Without finalists the θ handed back is the best aggregate seen (the product's rule); with them,
the top 3 distinct candidates and the CMA-ES mean are re-measured on S = 3 new seeds common to
the four, the best mean wins, and those 12 measurements come out of the same budget.

The rows (:data:`CONFIGS`): one measurement per candidate; k = 2, 3 measurements on seeds common
to the generation, mean-aggregated (and k = 2 on each candidate's own seeds, to see what common
seeds are worth); successive halving within a generation (8 candidates measured once, the top 4
once more, the top 2 once more: 14 measurements instead of 16 for k = 2); pycma's
``NoiseHandler`` (up to 3 evaluations per candidate), with and without its σ increase; each of
them again with the finalist stage (``+fin``). The default run (200 repetitions, budgets 48, 160
and 450) takes about 1.5 minutes of one core; ``--quick`` (4 repetitions, budgets 48 and 160)
about 2 seconds and shows only that everything runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DIM = 8
POPULATION = 8
SIGMA0 = 1.2
COLLAPSED = 0.1  # accuracy of a collapsed training: chance on 10 classes
FRAGILE = 0.1  # a θ that collapses on more than one seed in ten is "fragile"
FINALIST_COUNT = 3
FINALIST_SEEDS = 3
BUDGETS = (48, 160, 450)
QUICK_BUDGETS = (48, 160)
REPS = 200
QUICK_REPS = 4


@dataclass(frozen=True)
class Landscape:
    """The synthetic objective: a smooth quality with a plateau, and a cliff of fragile losses.

    - Quality ``q(θ) = 0.1 + 0.85 / (1 + (d / R)^4)``, ``d = ‖D (θ - c)‖``: chance (0.1) far
      from the good region, 0.95 at its centre, and a plateau (``d < 0.6 R`` is within 0.05 of
      the top) where, as in our searches, many losses are as good as each other within the noise.
      ``D`` weighs the coordinates 1.0 down to 0.4: some Taylor coefficients matter less than
      others. At θ0 = 0 the quality is ~0.55 and a first generation's median ~0.2: the search
      starts with signal.
    - Collapse probability ``p(θ) = p_max · sigmoid((u·(θ - c) - a) / w)``: a cliff (a half-space
      of width ``w``) that cuts through the plateau, with ``p(c) = 0.2``; deep beyond it losses
      collapse on 90 % of seeds. The best quality therefore sits among fragile losses, as with
      aggressive losses that learn fastest in a short training when they do not collapse: a
      search that believes one lucky measurement is drawn there.
    - True fitness ``E[f] = (1 - p) q + p · 0.1``: what a user who trains the loss on a seed the
      search never saw gets on average. This is what the benchmark reports.

    The geometry (``c``, ``u``) is drawn once from a fixed seed, so every run sees the same
    landscape.
    """

    center: np.ndarray
    scale: np.ndarray
    cliff_normal: np.ndarray
    radius: float = 1.8
    cliff_width: float = 0.2
    cliff_offset: float = 0.2 * math.log(3.5)  # p(c) = 0.9 / 4.5 = 0.2
    p_max: float = 0.9

    @classmethod
    def default(cls) -> Landscape:
        """The landscape every run of this benchmark uses."""
        rng = np.random.default_rng(20261203)
        center = rng.standard_normal(DIM)
        center *= 2.0 / np.linalg.norm(center)
        normal = rng.standard_normal(DIM)
        return cls(
            center=center,
            scale=np.linspace(1.0, 0.4, DIM),
            cliff_normal=normal / np.linalg.norm(normal),
        )

    def quality(self, thetas: np.ndarray) -> np.ndarray:
        """Accuracy of a training that does not collapse, per row of ``thetas``."""
        d = np.linalg.norm((np.atleast_2d(thetas) - self.center) * self.scale, axis=1)
        return 0.1 + 0.85 / (1.0 + (d / self.radius) ** 4)

    def collapse_probability(self, thetas: np.ndarray) -> np.ndarray:
        """Probability that a training from a random seed collapses, per row of ``thetas``."""
        h = (np.atleast_2d(thetas) - self.center) @ self.cliff_normal
        return self.p_max / (1.0 + np.exp(-(h - self.cliff_offset) / self.cliff_width))

    def true_fitness(self, thetas: np.ndarray) -> np.ndarray:
        """Expected accuracy over seeds, per row of ``thetas``."""
        p = self.collapse_probability(thetas)
        return (1.0 - p) * self.quality(thetas) + p * COLLAPSED


class Measurer:
    """Noisy measurements (partial trainings) of one search; counts them against the budget.

    A seed is modelled by an offset shared by every candidate trained from it (``tau`` = 0.02:
    some seeds' initial weights and data order are easier for every loss), and each training adds
    its own Gaussian noise (``sigma`` = 0.03: 300 validation labels, 40 % of them wrong, give a
    standard error of ~0.028, plus the loss × seed interaction). With probability ``p(θ)`` a
    training collapses instead and measures ~0.1 (an aborted attempt counted at its accuracy
    under the ``every_attempt`` rule); collapses are drawn independently per (candidate, seed),
    so common seeds do not help against them (conservative for CRN).
    """

    def __init__(
        self, landscape: Landscape, rng: np.random.Generator, sigma: float = 0.03, tau: float = 0.02
    ) -> None:
        self.landscape = landscape
        self.rng = rng
        self.sigma = sigma
        self.tau = tau
        self.used = 0

    def seeds(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Offsets of fresh seeds: shape ``(k,)`` for seeds common to all candidates."""
        return self.rng.normal(0.0, self.tau, shape)

    def measure(self, thetas: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """One measurement per (candidate, seed): an ``(m, k)`` array.

        ``offsets`` of shape ``(k,)`` are common random numbers (every candidate trains from the
        same k seeds); shape ``(m, k)`` gives every candidate its own seeds.
        """
        thetas = np.atleast_2d(thetas)
        shape = (len(thetas), np.shape(offsets)[-1])
        quality = self.landscape.quality(thetas)[:, None] + offsets
        values = quality + self.rng.normal(0.0, self.sigma, shape)
        collapsed = self.rng.random(shape) < self.landscape.collapse_probability(thetas)[:, None]
        values = np.where(collapsed, COLLAPSED + self.rng.normal(0.0, 0.01, shape), values)
        self.used += shape[0] * shape[1]
        return np.clip(values, 0.0, 1.0)


@dataclass(frozen=True)
class Config:
    """One way to turn measurements into CMA-ES's ranking.

    Attributes:
        name: The table's row label.
        kind: ``seeds`` (k measurements per candidate, mean), ``halving`` (1 each, one more for
            the top half, one more for the top quarter) or ``noise_handler`` (UH-CMA-ES).
        k: Seeds per candidate (``seeds``), or the noise handler's maximum evaluations.
        crn: Whether the candidates of a generation share their seeds.
        finalists: Whether a finalist stage chooses the θ handed back.
        change_sigma: Whether the noise handler may raise σ (pycma's ``fmin`` option
            ``noise_change_sigma_exponent`` 1, its default; 0 keeps only its re-evaluations).
    """

    name: str
    kind: str
    k: int = 1
    crn: bool = True
    finalists: bool = False
    change_sigma: bool = True


BASE_CONFIGS = (
    Config("k=1 (plain)", "seeds", 1),
    Config("k=2 mean", "seeds", 2),
    Config("k=2 mean, own seeds", "seeds", 2, crn=False),
    Config("k=3 mean", "seeds", 3),
    Config("halving 8-4-2", "halving"),
    Config("NoiseHandler max 3", "noise_handler", 3),
    Config("NoiseHandler, σ kept", "noise_handler", 3, change_sigma=False),
)
CONFIGS = BASE_CONFIGS + tuple(
    dataclasses.replace(c, name=c.name + " +fin", finalists=True) for c in BASE_CONFIGS
)


@dataclass
class _Search:
    """The state of one search: its measurer, its CMA-ES and the candidates it may hand back."""

    measurer: Measurer
    es: Any
    pool: list[tuple[float, np.ndarray]] = field(default_factory=list)


def _seeds_generation(
    config: Config, search: _Search, thetas: np.ndarray, evaluations: int
) -> np.ndarray:
    """k (or the noise handler's) measurements per candidate, aggregated by their mean."""
    shape = evaluations if config.crn else (len(thetas), evaluations)
    scores = search.measurer.measure(thetas, search.measurer.seeds(shape)).mean(axis=1)
    search.pool.extend(zip(scores.tolist(), thetas, strict=True))
    return 1.0 - scores


def _halving_generation(search: _Search, thetas: np.ndarray) -> np.ndarray:
    """1 measurement each, +1 for the top half, +1 for the top quarter (14 for λ = 8).

    Every stage measures its candidates on the same new seed. The told value puts the
    candidates eliminated earlier below every survivor and ranks within a stage by the mean
    of the measurements so far; only the last stage's candidates may be handed back.
    """
    m = search.measurer
    values = m.measure(thetas, m.seeds(1))
    told = 2.0 + (1.0 - values[:, 0])
    alive = np.arange(len(thetas))
    sums = values[:, 0].copy()
    counts = np.ones(len(thetas))
    for stage, keep in enumerate((len(thetas) // 2, len(thetas) // 4), start=1):
        alive = alive[np.argsort(-sums[alive] / counts[alive], kind="stable")][:keep]
        sums[alive] += m.measure(thetas[alive], m.seeds(1))[:, 0]
        counts[alive] += 1
        told[alive] = 2.0 - stage + (1.0 - sums[alive] / counts[alive])
    search.pool.extend((float(sums[i] / counts[i]), thetas[i]) for i in alive)
    return told


def _cma(rep: int) -> Any:
    import cma

    rng = np.random.Generator(np.random.PCG64(rep))
    options = {
        "popsize": POPULATION,
        "seed": float("nan"),
        "randn": lambda *shape: rng.standard_normal(shape),
        "verb_log": 0,
        "verbose": -9,
        "verb_disp": 0,
        "tolfun": 0,
        "tolfunhist": 0,
        "tolflatfitness": 10**9,
    }
    return cma.CMAEvolutionStrategy(np.zeros(DIM), SIGMA0, options)


def _generation_cost(config: Config, handler: Any) -> int:
    """Measurements the next generation may take (the noise handler's: at most)."""
    if config.kind == "seeds":
        return POPULATION * config.k
    if config.kind == "halving":
        return POPULATION + POPULATION // 2 + POPULATION // 4
    # NoiseHandler re-measures 2 or 3 candidates (2 + λ/20, rounded at random), each as often
    # as it measures a candidate
    return (POPULATION + 3) * int(handler.evaluations)


def _evolve(config: Config, search: _Search, budget: int) -> None:
    """Generations while the next one fits in ``budget`` measurements (or CMA-ES stops).

    The noise handler follows pycma's documented loop (``cma.NoiseHandler``'s docstring): tell,
    then ``es.sigma *= handler(X, fit, func, es.ask)``, where ``func`` is one measurement on a
    new seed and a candidate's fitness is the mean of ``int(handler.evaluations)`` measurements
    on seeds common to the generation (as ``evaluation.seeds`` would do).
    """
    import cma

    es, m = search.es, search.measurer
    handler = None
    if config.kind == "noise_handler":
        handler = cma.NoiseHandler(DIM, maxevals=[1, 1, config.k], aggregate=np.mean)

    def remeasure(theta: np.ndarray) -> float:
        return 1.0 - float(m.measure(theta, m.seeds(1))[0, 0])

    while not es.stop() and m.used + _generation_cost(config, handler) <= budget:
        thetas = np.asarray(es.ask())
        if config.kind == "halving":
            told = _halving_generation(search, thetas)
        else:
            k = config.k if handler is None else int(handler.evaluations)
            told = _seeds_generation(config, search, thetas, k)
        es.tell(list(thetas), told.tolist())
        if handler is not None:
            factor = handler(list(thetas), told.tolist(), remeasure, es.ask)
            if config.change_sigma:
                es.sigma *= factor


def _choose(config: Config, search: _Search) -> np.ndarray:
    """The θ handed back: the best aggregate, or the finalist stage's choice."""
    ranked = sorted(search.pool, key=lambda entry: -entry[0])  # stable: the earliest wins ties
    if not config.finalists:
        return ranked[0][1]
    finalists: list[np.ndarray] = []
    for _, theta in ranked:
        if not any(np.array_equal(theta, other) for other in finalists):
            finalists.append(theta)
        if len(finalists) == FINALIST_COUNT:
            break
    finalists.append(np.asarray(search.es.mean))
    m = search.measurer
    scores = m.measure(np.array(finalists), m.seeds(FINALIST_SEEDS)).mean(axis=1)
    return finalists[int(np.argmax(scores))]


def run_once(config: Config, budget: int, rep: int, landscape: Landscape) -> dict[str, float]:
    """One search at ``budget`` measurements in all; the TRUE quality of what it hands back.

    Returns:
        ``true`` (E[f] of the θ handed back), ``fragile`` (1.0 if its collapse probability is
        above :data:`FRAGILE`), ``used`` (measurements taken) and ``mean`` (E[f] of the CMA-ES
        mean when the search stopped: what handing back the mean, unmeasured, would give).
    """
    # NoiseHandler draws how many candidates to re-measure from NumPy's global generator: seed
    # it per repetition, and leave it as it was for whoever runs next in this process.
    state = np.random.get_state()
    np.random.seed(rep)
    try:
        search = _Search(Measurer(landscape, np.random.default_rng([rep, budget])), _cma(rep))
        stage = (FINALIST_COUNT + 1) * FINALIST_SEEDS if config.finalists else 0
        _evolve(config, search, budget - stage)
        mean = float(landscape.true_fitness(np.asarray(search.es.mean))[0])
        chosen = _choose(config, search)
    finally:
        np.random.set_state(state)
    return {
        "true": float(landscape.true_fitness(chosen)[0]),
        "fragile": float(landscape.collapse_probability(chosen)[0] > FRAGILE),
        "used": float(search.measurer.used),
        "mean": mean,
    }


def optimum(landscape: Landscape) -> float:
    """The best true fitness there is (noise-free CMA-ES on E[f], a few restarts)."""
    best = 0.0
    for start in range(3):
        es = _cma(10_000 + start)
        while not es.stop() and es.countiter < 400:
            thetas = es.ask()
            es.tell(thetas, (1.0 - landscape.true_fitness(np.asarray(thetas))).tolist())
        best = max(best, float(landscape.true_fitness(np.asarray(es.result.xbest))[0]))
    return best


def _stats(values: Sequence[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    se = float(array.std(ddof=1) / math.sqrt(len(array))) if len(array) > 1 else float("nan")
    return float(array.mean()), se


def measure(
    budgets: Sequence[int] = BUDGETS,
    reps: int = REPS,
    configs: Sequence[Config] = CONFIGS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every configuration at every budget over ``reps`` repetitions: means and standard errors."""
    landscape = Landscape.default()
    rows: dict[str, dict[str, dict[str, float]]] = {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycma's remarks on tiny populations and flat fitness
        for config in configs:
            if progress:
                progress(config.name)
            rows[config.name] = {}
            for budget in budgets:
                runs = [run_once(config, budget, rep, landscape) for rep in range(reps)]
                true_mean, true_se = _stats([r["true"] for r in runs])
                fragile_mean, fragile_se = _stats([r["fragile"] for r in runs])
                rows[config.name][str(budget)] = {
                    "true": true_mean,
                    "true_se": true_se,
                    "fragile": fragile_mean,
                    "fragile_se": fragile_se,
                    "used": float(np.mean([r["used"] for r in runs])),
                    "mean": float(np.mean([r["mean"] for r in runs])),
                }
    return {
        "budgets": list(budgets),
        "reps": reps,
        "optimum": optimum(landscape),
        "rows": rows,
        "seconds": time.perf_counter() - t0,
    }


def format_table(result: dict[str, Any]) -> str:
    """The compact table: per budget, true fitness ± s.e., fragile rate ± s.e., budget used.

    The ``mean`` column is the true fitness of the CMA-ES mean when the search part stopped,
    which the finalist stage measures as its fourth finalist (no configuration hands it back
    unmeasured).
    """
    budgets = result["budgets"]
    head = f"{'configuration':<26}" + "".join(f"| {'budget ' + str(b):<30}" for b in budgets)
    sub = f"{'':<26}" + "".join(
        f"| {'true':<12}{'fragile':<8}{'used':>4} {'mean':>5} " for _ in budgets
    )
    lines = [
        f"noise: {result['reps']} repetitions per cell; true fitness of the θ handed back "
        f"(mean ± s.e.; the best there is: {result['optimum']:.3f}), fragile = its collapse "
        f"probability > {FRAGILE:g}; {result['seconds']:.0f} s",
        head,
        sub,
    ]
    for name, cells in result["rows"].items():
        parts = []
        for b in budgets:
            c = cells[str(b)]
            true = f"{c['true']:.3f}±{c['true_se']:.3f}"
            fragile = f"{100 * c['fragile']:.0f}±{100 * c['fragile_se']:.0f}%"
            parts.append(f"| {true:<12}{fragile:<8}{c['used']:>4.0f} {c['mean']:>5.3f} ")
        lines.append(f"{name:<26}" + "".join(parts))
    return "\n".join(lines)


def summary(quick: bool) -> dict[str, Any]:
    """What ``python -m bench --only noise`` reports: :func:`measure` at the default settings."""
    if quick:
        return measure(QUICK_BUDGETS, QUICK_REPS)
    return measure(BUDGETS, REPS)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the table (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.noise", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 budgets, 4 repetitions (seconds)")
    parser.add_argument("--reps", type=int, help="repetitions per cell (default 200; quick 4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    reps = args.reps or (QUICK_REPS if args.quick else REPS)
    if reps < 2:
        parser.error(f"--reps must be at least 2 (a standard error needs two); got {reps}")
    budgets = QUICK_BUDGETS if args.quick else BUDGETS
    result = measure(
        budgets, reps, progress=lambda name: print(f"noise: {name} …", file=sys.stderr)
    )
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
