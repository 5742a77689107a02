"""What an analysis trains: the candidates, the losses, the fractions, the paired seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import TaylorGLOError

__all__ = [
    "ANALYSIS_DIR",
    "MAX_RERUNS",
    "CROSSENTROPY",
    "SELECTIONS",
    "Job",
    "analysis_seed",
    "baseline_label",
    "parse_candidates",
    "parse_fractions",
    "parse_select",
    "plan_jobs",
    "select_candidates",
]

ANALYSIS_DIR = "analysis"
"""The default output directory's name inside the run directory."""
MAX_RERUNS = 3
"""How many times a training that failed (exception, worker died) is re-run with its seed."""
_SEED_TAG = 0x414E41  # "ANA": keeps analysis seeds apart from the search's derive_seed values


def analysis_seed(experiment_seed: int, run_index: int) -> int:
    """The seed of analysis run ``run_index``: the same for every loss (paired runs).

    Args:
        experiment_seed: ``experiment.seed``.
        run_index: Which repetition, from 0.

    Returns:
        An int in ``[0, 2**31)``, different from every search attempt's seed.
    """
    import numpy as np

    state = np.random.SeedSequence([int(experiment_seed), _SEED_TAG, int(run_index)])
    return int(state.generate_state(1)[0]) % 2**31


def parse_candidates(spec: str) -> tuple[str, int]:
    """Parse ``--candidates``: ``best``, ``top:K``, ``generations`` or ``finalists``.

    Args:
        spec: The option's value.

    Returns:
        ``(kind, k)``; ``k`` is 1 for ``best`` and 0 for ``generations``.

    Raises:
        TaylorGLOError: For another value.
    """
    text = spec.strip().lower()
    if text == "best":
        return "best", 1
    if text in ("generations", "finalists"):
        return text, 0
    if text.startswith("top:"):
        try:
            k = int(text[4:])
        except ValueError:
            k = 0
        if k >= 1:
            return "top", k
    raise TaylorGLOError(
        f"--candidates: {spec!r} is not understood; expected best, top:K (K >= 1, e.g. top:3), "
        "generations or finalists"
    )


def parse_fractions(text: str) -> list[float]:
    """Parse ``--train-fractions 1,0.5,0.1`` (order kept, duplicates dropped).

    Args:
        text: Comma-separated fractions in (0, 1].

    Returns:
        The fractions.

    Raises:
        TaylorGLOError: For a value that is not a number in (0, 1], or none at all.
    """
    fractions: list[float] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not 0.0 < value <= 1.0:
            raise TaylorGLOError(
                f"--train-fractions: {part!r} is not a fraction in (0, 1] "
                "(expected comma-separated values, e.g. 1,0.5,0.1)"
            )
        if value not in fractions:
            fractions.append(value)
    if not fractions:
        raise TaylorGLOError(f"--train-fractions: no fraction in {text!r} (e.g. 1,0.5,0.1)")
    return fractions


def select_candidates(store: Any, spec: str = "best") -> list[dict[str, Any]]:
    """The θ to analyse, the best first (distinct θ only).

    Args:
        store: The run's store.
        spec: ``best`` (the chosen loss: the chosen finalist, or the best single evaluation of a
            run without a finalist stage), ``top:K`` (the K best candidates), ``generations``
            (each generation's best) or ``finalists`` (every finalist, the chosen one first).

    Returns:
        ``{"theta", "fitness", "generation", "candidate"}`` dicts, best first; a finalist's also
        has ``chosen_by`` (``"finalists"``), ``finalist`` and ``search_fitness`` (its ``fitness``
        is its aggregate over the finalist seeds).

    Raises:
        TaylorGLOError: If no candidate has a result yet, or ``finalists`` for a run whose
            finalist stage has not chosen.
    """
    kind, k = parse_candidates(spec)
    chosen = store.chosen()
    if chosen is None:
        raise TaylorGLOError(
            f"{store.run_dir}: no candidate has a result yet; run or resume the search first"
        )
    if kind == "best":
        return [_selection(chosen)]
    if kind == "finalists":
        ranked = sorted(store.finalists(), key=lambda f: (not f.chosen, f.finalist))
        if not ranked or not ranked[0].chosen:
            raise TaylorGLOError(
                f"--candidates finalists: {store.run_dir} has no finalist stage that has chosen "
                "(evolution.finalists.count = 0, or the search has not finished)"
            )
        return [_finalist_selection(f) for f in ranked]
    done = [c for c in store.candidates() if c.fitness is not None]
    if kind == "generations":
        wanted = {
            (g.generation, g.best_candidate)
            for g in store.generations()
            if g.best_candidate is not None
        }
        done = [c for c in done if (c.generation, c.candidate) in wanted]
    done.sort(key=lambda c: (-c.fitness, c.generation, c.candidate))
    chosen: list[dict[str, Any]] = []
    seen: set[tuple[float, ...]] = set()
    for c in done:
        key = tuple(c.theta)
        if key in seen:
            continue
        seen.add(key)
        chosen.append(
            {
                "theta": c.theta,
                "fitness": c.fitness,
                "generation": c.generation,
                "candidate": c.candidate,
            }
        )
        if kind == "top" and len(chosen) == k:
            break
    return chosen


def _selection(chosen: Any) -> dict[str, Any]:
    """The report's entry for the chosen loss (a plain dict: the report is JSON)."""
    entry = {
        "theta": chosen.theta,
        "fitness": chosen.fitness,
        "generation": chosen.generation,
        "candidate": chosen.candidate,
    }
    if chosen.source == "finalist":
        entry |= {
            "chosen_by": "finalists",
            "finalist": chosen.finalist,
            "search_fitness": chosen.search_fitness,
        }
    return entry


def _finalist_selection(finalist: Any) -> dict[str, Any]:
    return {
        "theta": finalist.theta,
        "fitness": finalist.fitness,
        "generation": finalist.generation,
        "candidate": finalist.candidate,
        "chosen_by": "finalists",
        "finalist": finalist.finalist,
        "search_fitness": finalist.search_fitness,
    }


SELECTIONS = ("last", "best_validation")
"""``--select``: score the weights after the last step (the paper's protocol) or those of the
data epoch with the best validation accuracy (early stopping), for every loss alike."""

CROSSENTROPY = "crossentropy"
"""The baseline whose runs are the report's ``baseline`` (store label ``"baseline"``)."""


def parse_select(value: str) -> str:
    """Check ``--select``.

    Args:
        value: The option's value.

    Returns:
        ``"last"`` or ``"best_validation"``.

    Raises:
        TaylorGLOError: For another value.
    """
    if value not in SELECTIONS:
        raise TaylorGLOError(
            f"--select: {value!r} is not a selection; expected last (the paper's protocol) or "
            "best_validation (each training scored at its best-validation epoch)"
        )
    return value


@dataclass(frozen=True)
class Job:
    """One full training of the analysis.

    Attributes:
        label: ``"taylorglo"``; ``"baseline"`` for cross-entropy; or another baseline's
            canonical spec (``"label_smoothing:0.1"``, ``"gce:0.7"``, ``"baikal"``).
        theta: θ for TaylorGLO, ``None`` for a baseline.
        fraction: ``data.train_fraction`` of this training.
        run_index: Which repetition, from 0 (the pairing key).
        seed: The training seed (:func:`analysis_seed`).
        select: ``"last"`` or ``"best_validation"`` (:data:`SELECTIONS`).
        variant: A full training other than the search's recipe's (``analyze --set``, see
            :func:`keras_taylorglo.analysis.overrides.variant`); ``""`` for the recipe's own.
    """

    label: str
    theta: tuple[float, ...] | None
    fraction: float
    run_index: int
    seed: int
    select: str = "last"
    variant: str = ""

    @property
    def loss(self) -> str:
        """The loss a worker trains: ``"taylorglo"`` or a baseline spec."""
        return CROSSENTROPY if self.label == "baseline" else self.label

    @property
    def store_label(self) -> str:
        """The store's label: the loss's label, with its selection and full training.

        ``@best_validation`` marks that selection, ``#<variant>`` another full training than the
        recipe's (kept apart from the recipe's own trainings).
        """
        label = self.label if self.select == "last" else f"{self.label}@{self.select}"
        return f"{label}#{self.variant}" if self.variant else label

    @property
    def key(self) -> tuple[str, str, float, int]:
        """The store's unique key of this training."""
        theta = "" if self.theta is None else ",".join(repr(float(v)) for v in self.theta)
        return self.store_label, theta, float(self.fraction), self.run_index


def baseline_label(spec: str) -> str:
    """The :class:`Job` label of a baseline spec (cross-entropy keeps its historic label).

    Args:
        spec: A canonical baseline spec.

    Returns:
        ``"baseline"`` for cross-entropy, else ``spec``.
    """
    return "baseline" if spec == CROSSENTROPY else spec


def plan_jobs(
    thetas: Sequence[Sequence[float]],
    fractions: Sequence[float],
    runs: int,
    experiment_seed: int,
    baselines: Sequence[str] = (CROSSENTROPY,),
    select: str = "last",
    variant: str = "",
) -> list[Job]:
    """Every training of an analysis, in the order they are dispatched.

    Run ``i`` of each θ and of every baseline are next to each other, so an analysis stopped
    early still has complete, paired sets.

    Args:
        thetas: The θ to analyse.
        fractions: The training-set fractions.
        runs: Repetitions per loss.
        experiment_seed: ``experiment.seed``.
        baselines: Canonical baseline specs (:func:`keras_taylorglo.baselines.parse_baselines`).
        select: ``"last"`` or ``"best_validation"``.
        variant: The full training's variant (:attr:`Job.variant`).

    Returns:
        The jobs.
    """
    jobs = []
    for fraction in fractions:
        for i in range(runs):
            seed = analysis_seed(experiment_seed, i)
            for theta in thetas:
                theta = tuple(float(v) for v in theta)
                jobs.append(Job("taylorglo", theta, fraction, i, seed, select, variant))
            for spec in baselines:
                jobs.append(Job(baseline_label(spec), None, fraction, i, seed, select, variant))
    return jobs
