"""`evaluate` goes through the same evaluator factory as the search's workers.

A recipe whose `evaluation.fitness` is a `module:function` is scored by calling that function
(with θ and the seed), printed like the training path's line, without training a model or
importing TensorFlow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FITNESS = """
def score(theta, seed):
    return 0.25 + sum(theta) / 100 + seed / 1000
"""

RECIPE = """
[experiment]
name = "evaluate_custom"

[evaluation]
fitness = "evaluate_fitness_fns:score"
"""


def _evaluate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "evaluate_fitness_fns.py").write_text(textwrap.dedent(FITNESS))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(textwrap.dedent(RECIPE))
    code = (
        "import sys\n"
        "from keras_taylorglo.cli import main\n"
        "code = main(['evaluate', *sys.argv[1:]])\n"
        "assert 'tensorflow' not in sys.modules, 'a custom fitness must not import TensorFlow'\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(recipe), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_evaluate_calls_a_custom_fitness_function(tmp_path):
    result = _evaluate(tmp_path, "--theta", "1,2,3,4,0,0,0,0", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("theta: ok, fitness 0.3550 from evaluate_fitness_fns:score")


def test_evaluate_json_reports_the_function_value(tmp_path):
    result = _evaluate(tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "ok" and outcome["fitness"] == 0.25
