"""The analysis of a search: full trainings of the best loss against cross-entropy, with statistics.

``keras-taylorglo analyze RUN_DIR`` trains the chosen θ and the cross-entropy baseline for the
recipe's full budget (``training.full``), ``--runs`` times each, scored on the test split, on the
same device pool as the search (``[execution]``: one warm worker per device group, local or Ray,
in parallel). Run ``i``
of every loss uses the same seed (:func:`analysis_seed`), so the results are paired by run index.
Every training is journaled in the run's store (``analysis_runs``) when it starts and when it
ends, so an interrupted analysis resumes without redoing a finished training.

The report (``report.json``, ``report.md``) is a contract::

    {"runs": N, "test": "welch-one-tailed",
     "taylorglo": {"theta": [...], "accuracies": [...], "mean": m, "std": s},
     "baseline": {"accuracies": [...], "mean": m, "std": s},
     "p_value": p}

``std`` is the sample standard deviation (``ddof = 1``; ``None`` with fewer than two results);
``p_value`` is SciPy's one-tailed Welch t-test that TaylorGLO's mean accuracy is greater
(``scipy.stats.ttest_ind(taylorglo, baseline, equal_var=False, alternative="greater")``; ``None``
when it is undefined). Extra keys never change those: ``difference``, ``train_fraction``,
``seeds``, ``std_ddof``, ``statuses`` (per final status, with ``failed`` for trainings that
failed on every re-run), ``candidates`` (when ``--candidates top:K`` or ``generations`` chose more
than one distinct θ: every analysed θ, the best first) and ``fractions`` (with
``--train-fractions``).

Also here: ``ttest`` (Student's and Welch's t-tests between two result files, like the original
TaylorGLO ``ttest``), ``plot`` (the paper's figures, see :mod:`keras_taylorglo.plots`) and
``export`` (the best loss as a line of Python or as JSON). The command functions
(``analyze_main`` …) take an :class:`argparse.Namespace`; :func:`add_analysis_parsers` registers
them.

The package imports neither TensorFlow nor matplotlib at import time.
"""

from __future__ import annotations

from .commands import (
    add_analysis_parsers,
    analyze_main,
    export_main,
    plot_main,
    study_main,
    ttest_main,
)
from .plan import (
    ANALYSIS_DIR,
    MAX_RERUNS,
    Job,
    analysis_seed,
    parse_candidates,
    parse_fractions,
    plan_jobs,
    select_candidates,
)
from .report import export_text, missing_results, report_markdown, table_row, write_reports
from .run import build_report, run_analysis
from .stats import TEST_NAME, compare, load_result_set, summarize, welch_p_value

__all__ = [
    "ANALYSIS_DIR",
    "MAX_RERUNS",
    "TEST_NAME",
    "Job",
    "add_analysis_parsers",
    "analysis_seed",
    "analyze_main",
    "build_report",
    "compare",
    "export_main",
    "export_text",
    "load_result_set",
    "missing_results",
    "parse_candidates",
    "parse_fractions",
    "plan_jobs",
    "plot_main",
    "report_markdown",
    "run_analysis",
    "select_candidates",
    "study_main",
    "summarize",
    "table_row",
    "ttest_main",
    "welch_p_value",
    "write_reports",
]
