"""Score losses by full training on the CLEAN validation split (never the test split).

How the digits_noisy defaults were chosen (README, "Studies"): each chosen θ of the selection
searches in ``defaults.sh``, and cross-entropy and GCE for reference, trained for the full budget
from three seeds, scored on the held-out validation images with their true labels.

Usage: python docs/studies/defaults_probe.py RECIPE STEPS 'NAME=θ-or-baseline ...' SEEDS
  e.g. python docs/studies/defaults_probe.py digits_noisy 1500 "$(cat thetas.txt)" 101,102,103
"""

from __future__ import annotations

import json
import sys

from keras_taylorglo.evaluation import Evaluator
from keras_taylorglo.recipe import load_recipe


def main(recipe_name: str, steps: str, losses_json: str, seeds_text: str) -> None:
    """Print each loss's validation accuracies (clean labels) after a full training per seed."""
    recipe = load_recipe(
        recipe_name, [f"training.full.steps={int(steps)}", "data.label_noise.validation=false"]
    )
    seeds = [int(s) for s in seeds_text.split(",")]
    evaluators: dict[str, Evaluator] = {}
    for name, theta in json.loads(losses_json).items():
        kind = "taylorglo" if isinstance(theta, list) else theta
        if kind not in evaluators:
            evaluators[kind] = Evaluator(recipe, loss=kind, budget="full", split="validation")
        accuracies = []
        for seed in seeds:
            outcome = evaluators[kind].evaluate(theta if kind == "taylorglo" else None, seed)
            ok = outcome.status == "ok"
            accuracies.append(round(outcome.fitness, 4) if ok else str(outcome.status))
        print(f"{name:14s} {accuracies}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
