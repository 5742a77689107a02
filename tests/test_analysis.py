"""The analysis commands: analyze (journaled, resumable, SciPy-exact reports), ttest, export.

Most tests analyse a real search whose fitness is a cheap function of (θ, seed)
(``tests/analysis_fns.py``), through real driver and worker processes and no TensorFlow. The
slow test at the end does real full trainings on the digits data set and kills the analysis
midway.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from keras_taylorglo import analysis
from keras_taylorglo.errors import TaylorGLOError
from keras_taylorglo.outcomes import derive_seed

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import analysis_fns  # noqa: E402
from in_process import run_cli  # noqa: E402

RECIPE = """
[experiment]
name = "an"
seed = 5

[evolution]
population = 4
generations = 3

[evaluation]
fitness = "analysis_fns:noisy"

[execution]
devices = "cpu"
workers = 2
"""

# The analysis as a process of its own: for the tests that SIGKILL it midway.
COMMAND = [sys.executable, "-m", "keras_taylorglo.analysis"]


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``keras-taylorglo ARGS`` in this process (tests/in_process.py); its workers run apart."""
    return run_cli(*args, env=env)


def rows(run_dir: Path) -> list[tuple]:
    con = sqlite3.connect(f"file:{run_dir / 'experiment.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(
            "SELECT id, label, theta_key, train_fraction, run_index, seed, status, "
            "test_accuracy, started, ended FROM analysis_runs ORDER BY id"
        ).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """A finished search (custom fitness) to analyse; tests copy it."""
    tmp = tmp_path_factory.mktemp("search")
    shutil.copy(HERE / "analysis_fns.py", tmp / "analysis_fns.py")
    (tmp / "recipe.toml").write_text(RECIPE)
    out = run("search", str(tmp / "recipe.toml"), "--out", str(tmp / "run"))
    assert out.returncode == 0, out.stderr
    return tmp


@pytest.fixture
def run_dir(searched: Path, tmp_path: Path) -> Path:
    shutil.copy(searched / "analysis_fns.py", tmp_path / "analysis_fns.py")
    shutil.copytree(searched / "run", tmp_path / "run")
    return tmp_path / "run"


def best_theta(run_dir: Path) -> list[float]:
    from keras_taylorglo.store import Store

    with Store.open_existing(run_dir) as store:
        return store.best().theta


# ---------------------------------------------------------------------------------- analyze


def test_report_is_the_contract_and_equals_scipy(run_dir: Path) -> None:
    out = run("analyze", str(run_dir), "--runs", "5", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report == json.loads((run_dir / "analysis" / "report.json").read_text())
    assert (run_dir / "analysis" / "report.md").read_text().count("| an |") == 1
    assert report["runs"] == 5 and report["test"] == "welch-one-tailed"
    assert {"theta", "accuracies", "mean", "std"} <= set(report["taylorglo"])
    assert {"accuracies", "mean", "std"} <= set(report["baseline"])
    assert "candidates" not in report and "fractions" not in report

    theta = best_theta(run_dir)
    assert report["taylorglo"]["theta"] == theta
    # The accuracies are what the workers computed, with seeds paired by run index.
    seeds = [analysis.analysis_seed(5, i) for i in range(5)]
    assert report["seeds"] == seeds
    assert report["taylorglo"]["accuracies"] == [analysis_fns.noisy(theta, s) for s in seeds]
    assert report["baseline"]["accuracies"] == [analysis_fns.noisy([0.0] * 8, s) for s in seeds]

    a, b = report["taylorglo"]["accuracies"], report["baseline"]["accuracies"]
    assert report["taylorglo"]["mean"] == pytest.approx(np.mean(a), abs=1e-15)
    assert report["taylorglo"]["std"] == pytest.approx(np.std(a, ddof=1), abs=1e-15)
    assert report["baseline"]["mean"] == pytest.approx(np.mean(b), abs=1e-15)
    assert report["baseline"]["std"] == pytest.approx(np.std(b, ddof=1), abs=1e-15)
    expected = stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    assert report["p_value"] == pytest.approx(expected, rel=1e-12)
    assert report["difference"] == pytest.approx(np.mean(a) - np.mean(b), abs=1e-15)
    assert len(rows(run_dir)) == 10


def test_a_second_analyze_redoes_nothing_and_more_runs_add_only_the_new(run_dir: Path) -> None:
    assert run("analyze", str(run_dir), "--runs", "3").returncode == 0
    before = rows(run_dir)
    assert len(before) == 6 and all(r[6] == "ok" for r in before)
    out = run("analyze", str(run_dir), "--runs", "3")
    assert out.returncode == 0, out.stderr
    assert rows(run_dir) == before
    assert run("analyze", str(run_dir), "--runs", "4").returncode == 0
    after = rows(run_dir)
    assert after[:6] == before and len(after) == 8
    assert {r[4] for r in after[6:]} == {3}


def test_trainings_that_always_fail_are_counted_warned_and_retried_later(run_dir: Path) -> None:
    seed = analysis.analysis_seed(5, 1)
    log = run_dir.parent / "fail.log"
    env = {"TG_FAIL_BASELINE_SEED": str(seed), "TG_FAIL_LOG": str(log)}
    out = run("analyze", str(run_dir), "--runs", "3", env=env)
    assert out.returncode == 0, out.stderr
    assert (
        "warning: cross-entropy: 1 of 3 trainings failed on every re-run (3 re-runs) and are "
        "left out" in out.stderr
    )
    report = json.loads((run_dir / "analysis" / "report.json").read_text())
    assert report["baseline"]["statuses"] == {"ok": 2, "failed": 1}
    assert len(report["baseline"]["accuracies"]) == 2
    assert report["taylorglo"]["statuses"] == {"ok": 3}
    # The failing training was tried 1 + MAX_RERUNS times and its row says failed.
    assert log.read_text().split() == [str(seed)] * (1 + analysis.MAX_RERUNS)
    failed = [r for r in rows(run_dir) if r[6] != "ok"]
    assert [(r[1], r[4], r[5], r[6]) for r in failed] == [("baseline", 1, seed, "failed")]
    # Once the cause is gone, analyze runs just that training again.
    again = run("analyze", str(run_dir), "--runs", "3")
    assert again.returncode == 0, again.stderr
    assert "warning" not in again.stderr
    report = json.loads((run_dir / "analysis" / "report.json").read_text())
    assert report["baseline"]["statuses"] == {"ok": 3}
    assert report["baseline"]["accuracies"][1] == analysis_fns.noisy([0.0] * 8, seed)


def test_a_diverged_training_counts_as_zero_is_said_and_is_never_run_again(run_dir: Path) -> None:
    """What a training whose loss became NaN gives, on any machine: status ``diverged`` in the
    report's statuses, accuracy 0 in the statistics, a log line that says so, and no re-run
    (divergence is a property of the loss, not an accident). The real trainings below may or
    may not diverge depending on the CPU's floating point; this is the promise they rely on."""
    seed = analysis.analysis_seed(5, 1)
    log = run_dir.parent / "diverged.log"
    env = {"TG_DIVERGE_BASELINE_SEED": str(seed), "TG_DIVERGE_LOG": str(log)}
    out = run("analyze", str(run_dir), "--runs", "3", env=env)
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr  # a diverged training is a result, not a failure
    said = [line for line in out.stderr.splitlines() if " diverged, test accuracy " in line]
    assert len(said) == 1 and said[0].endswith(
        ": cross-entropy run 1 (fraction 1) diverged, test accuracy 0.0000"
    ), out.stderr
    report = json.loads((run_dir / "analysis" / "report.json").read_text())
    seeds = [analysis.analysis_seed(5, i) for i in range(3)]
    expected = [analysis_fns.noisy([0.0] * 8, s) for s in seeds]
    expected[1] = 0.0
    assert report["baseline"]["statuses"] == {"ok": 2, "diverged": 1}
    assert report["baseline"]["accuracies"] == expected
    assert report["baseline"]["mean"] == pytest.approx(np.mean(expected), abs=1e-15)
    assert report["taylorglo"]["statuses"] == {"ok": 3}
    a = report["taylorglo"]["accuracies"]
    assert report["p_value"] == pytest.approx(
        stats.ttest_ind(a, expected, equal_var=False, alternative="greater").pvalue, rel=1e-12
    )
    diverged = [r for r in rows(run_dir) if r[6] == "diverged"]
    assert [(r[1], r[4], r[5], r[7]) for r in diverged] == [("baseline", 1, seed, 0.0)]
    # Final: the same analysis again (the loss would no longer diverge) trains nothing.
    before = rows(run_dir)
    again = run("analyze", str(run_dir), "--runs", "3", "--json")
    assert again.returncode == 0, again.stderr
    assert rows(run_dir) == before
    assert json.loads(again.stdout)["baseline"]["accuracies"] == expected
    assert log.read_text().split() == [str(seed)]  # trained once


def test_killed_analysis_resumes_without_redoing_finished_trainings(run_dir: Path) -> None:
    env = {**os.environ, "TG_FITNESS_SLEEP": "0.4"}
    proc = subprocess.Popen(
        [*COMMAND, "analyze", str(run_dir), "--runs", "4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if any(r[6] == "ok" for r in rows(run_dir)):
                break
        except sqlite3.Error:
            pass
        assert proc.poll() is None, "analysis ended before it could be killed"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    killed = rows(run_dir)
    finished = [r for r in killed if r[6] == "ok"]
    assert 1 <= len(finished) < 8
    out = run("analyze", str(run_dir), "--runs", "4", "--json", env={"TG_FITNESS_SLEEP": "0"})
    assert out.returncode == 0, out.stderr
    resumed = rows(run_dir)
    assert len(resumed) == 8 and all(r[6] == "ok" for r in resumed)
    by_id = {r[0]: r for r in resumed}
    for r in finished:
        assert by_id[r[0]] == r  # same id, seed, accuracy, start and end: not redone
    # Rows that were running when killed were finished in place (same id), not duplicated.
    assert {r[0] for r in killed} <= set(by_id)
    report = json.loads(out.stdout)
    assert len(report["taylorglo"]["accuracies"]) == len(report["baseline"]["accuracies"]) == 4


def test_top_k_and_generations_add_candidates_without_breaking_the_contract(
    run_dir: Path,
) -> None:
    out = run("analyze", str(run_dir), "--runs", "2", "--candidates", "top:3", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    cands = report["candidates"]
    assert len(cands) == 3
    assert cands[0]["theta"] == report["taylorglo"]["theta"] == best_theta(run_dir)
    fitness = [c["fitness"] for c in cands]
    assert fitness == sorted(fitness, reverse=True)
    for c in cands:
        assert c["accuracies"] == [
            analysis_fns.noisy(c["theta"], analysis.analysis_seed(5, i)) for i in range(2)
        ]
        expected = stats.ttest_ind(
            c["accuracies"],
            report["baseline"]["accuracies"],
            equal_var=False,
            alternative="greater",
        ).pvalue
        assert c["p_value"] == pytest.approx(expected, rel=1e-12)
    assert len(rows(run_dir)) == 3 * 2 + 2  # one baseline for all candidates

    out = run("analyze", str(run_dir), "--runs", "2", "--candidates", "generations", "--json")
    report = json.loads(out.stdout)
    assert 1 <= len(report.get("candidates", [report["taylorglo"]])) <= 3
    assert report["taylorglo"]["theta"] == best_theta(run_dir)


def test_train_fractions_repeat_the_comparison_and_draw_fig6(run_dir: Path) -> None:
    out = run("analyze", str(run_dir), "--runs", "2", "--train-fractions", "1,0.5", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [f["fraction"] for f in report["fractions"]] == [1.0, 0.5]
    assert report["train_fraction"] == 1.0
    assert report["fractions"][0]["taylorglo"] == report["taylorglo"]
    for f in report["fractions"]:
        a, b = f["taylorglo"]["accuracies"], f["baseline"]["accuracies"]
        assert f["p_value"] == pytest.approx(
            stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue, rel=1e-12
        )
    assert sorted({r[3] for r in rows(run_dir)}) == [0.5, 1.0]
    assert len(rows(run_dir)) == 2 * 2 * 2
    png = (run_dir / "analysis" / "fig6_fractions.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_analyze_is_refused_while_the_run_is_locked(run_dir: Path) -> None:
    from keras_taylorglo.store import RunLock

    with RunLock(run_dir):
        out = run("analyze", str(run_dir), "--runs", "2")
    assert out.returncode == 2
    assert "in use by process" in out.stderr and out.stderr.count("\n") == 1
    assert rows(run_dir) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--candidates", "top:0"], "--candidates: 'top:0'"),
        (["--candidates", "worst"], "expected best, top:K"),
        (["--train-fractions", "1,2"], "--train-fractions: '2' is not a fraction in (0, 1]"),
        (["--runs", "0"], "--runs must be at least 1"),
    ],
)
def test_bad_analyze_options_are_one_line_errors(run_dir: Path, args, message) -> None:
    out = run("analyze", str(run_dir), *args)
    assert out.returncode == 2
    assert message in out.stderr and out.stderr.count("\n") == 1


def test_analyze_without_a_run_is_a_one_line_error(tmp_path: Path) -> None:
    out = run("analyze", str(tmp_path))
    assert out.returncode == 2 and "no keras-taylorglo run here" in out.stderr


# ----------------------------------------------------------------------------------- units


def test_summarize_and_compare_equal_scipy() -> None:
    a = [0.95, 0.951, 0.948, 0.953, 0.952]
    b = [0.94, 0.944, 0.946, 0.939]
    s = analysis.summarize(a)
    assert s["mean"] == pytest.approx(np.mean(a)) and s["std"] == pytest.approx(np.std(a, ddof=1))
    assert analysis.summarize([0.5])["std"] is None and analysis.summarize([])["mean"] is None
    result = analysis.compare(a, b)
    for name, equal_var in (("student", True), ("welch", False)):
        two = stats.ttest_ind(a, b, equal_var=equal_var)
        one = stats.ttest_ind(a, b, equal_var=equal_var, alternative="greater")
        assert result[name]["t"] == pytest.approx(two.statistic)
        assert result[name]["p_two_tailed"] == pytest.approx(two.pvalue)
        assert result[name]["p_one_tailed"] == pytest.approx(one.pvalue)
    assert result["welch"]["p_one_tailed"] < 0.01 < result["welch"]["p_two_tailed"] * 100
    assert analysis.welch_p_value(a, [0.9]) is None
    assert analysis.welch_p_value([0.9, 0.9], [0.9, 0.9]) is None  # undefined, not NaN
    with pytest.raises(TaylorGLOError, match="result set B has 1 value"):
        analysis.compare(a, [0.9])


def test_seeds_are_paired_and_apart_from_the_search() -> None:
    jobs = analysis.plan_jobs([[1.0, 2.0], [3.0, 4.0]], [1.0, 0.5], 3, experiment_seed=7)
    assert len(jobs) == 2 * 3 * 3
    for fraction in (1.0, 0.5):
        for i in range(3):
            same = [j for j in jobs if j.fraction == fraction and j.run_index == i]
            assert {j.label for j in same} == {"taylorglo", "baseline"}
            assert {j.seed for j in same} == {analysis.analysis_seed(7, i)}
    seeds = {analysis.analysis_seed(7, i) for i in range(50)}
    assert len(seeds) == 50
    search = {derive_seed(7, g, c, a) for g in range(10) for c in range(10) for a in range(3)}
    assert not seeds & search
    assert jobs[2].key == ("baseline", "", 1.0, 0)


def test_parsers() -> None:
    assert analysis.parse_candidates(" Top:4 ") == ("top", 4)
    assert analysis.parse_candidates("generations") == ("generations", 0)
    assert analysis.parse_fractions("1, 0.5,0.1,0.5") == [1.0, 0.5, 0.1]
    with pytest.raises(TaylorGLOError, match="'abc' is not a fraction"):
        analysis.parse_fractions("1,abc")
    with pytest.raises(TaylorGLOError, match="no fraction"):
        analysis.parse_fractions(",")


# ------------------------------------------------------------------------------------- ttest


def test_ttest_reads_lists_objects_and_reports(tmp_path: Path, run_dir: Path) -> None:
    a = [0.99, 0.991, 0.989, 0.992]
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps({"accuracies": [0.98, 0.982, 0.979]}))
    out = run("ttest", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    b = [0.98, 0.982, 0.979]
    assert result["student"]["p_two_tailed"] == pytest.approx(stats.ttest_ind(a, b).pvalue)
    assert result["welch"]["p_one_tailed"] == pytest.approx(
        stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    )
    text = run("ttest", str(tmp_path / "a.json"), str(tmp_path / "b.json")).stdout
    assert "Student's" in text and "Welch's" in text and "p one-tailed (A > B)" in text

    assert run("analyze", str(run_dir), "--runs", "2").returncode == 0
    report = json.loads((run_dir / "analysis" / "report.json").read_text())
    path = run_dir / "analysis" / "report.json"
    assert analysis.load_result_set(path) == report["taylorglo"]["accuracies"]
    assert analysis.load_result_set(f"{path}#taylorglo") == report["taylorglo"]["accuracies"]
    assert analysis.load_result_set(f"{path}#baseline") == report["baseline"]["accuracies"]
    # The report against its own baseline: the p-value is the report's.
    out = run("ttest", str(path), f"{path}#baseline", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["welch"]["p_one_tailed"] == pytest.approx(report["p_value"])
    with pytest.raises(TaylorGLOError, match="#baseline needs an analysis report.json"):
        analysis.load_result_set(f"{tmp_path / 'a.json'}#baseline")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ('{"values": [1, 2]}', "no accuracies in it (keys: values)"),
        ('"0.9"', "got a JSON str"),
        ('[0.9, "x"]', "value 1 is 'x', not a finite number"),
    ],
)
def test_ttest_bad_files_are_one_line_errors(tmp_path: Path, content, message) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    (tmp_path / "good.json").write_text("[0.9, 0.91]")
    out = run("ttest", str(tmp_path / "good.json"), str(bad))
    assert out.returncode == 2
    assert message in out.stderr and out.stderr.count("\n") == 1 and str(bad) in out.stderr


# ------------------------------------------------------------------------------------ export


def test_export_python_line_and_json(run_dir: Path) -> None:
    out = run("export", str(run_dir))
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("TaylorGLOLoss(theta=[") and "\n" not in line
    kwargs = eval(line, {"TaylorGLOLoss": lambda **kw: kw})  # noqa: S307 (our own output)
    assert kwargs == {
        "theta": best_theta(run_dir),  # exact: repr of floats round-trips
        "order": 3,
        "inputs": ("label", "prediction"),
        "trim": True,
        "convention": "paper",
    }
    data = json.loads(run("export", str(run_dir), "--format", "json").stdout)
    assert data["theta"] == best_theta(run_dir)
    assert data["loss"] == {
        "order": 3,
        "inputs": ["label", "prediction"],
        "trim": True,
        "convention": "paper",
    }
    assert data["fitness_measure"] == "analysis_fns:noisy"
    assert {"fitness", "generation", "candidate"} <= set(data)


@pytest.mark.slow
def test_export_line_builds_a_working_loss(run_dir: Path) -> None:
    """The exported line is real Python for the library (the loss needs Keras: imported here,
    in this process, where the suite's Keras tests have it loaded already)."""
    from keras_taylorglo import TaylorGLOLoss

    line = run("export", str(run_dir)).stdout.strip()
    loss = eval(line, {"TaylorGLOLoss": TaylorGLOLoss})  # noqa: S307 (our own output)
    assert isinstance(loss, TaylorGLOLoss)
    assert list(map(float, loss.theta.numpy())) == pytest.approx(best_theta(run_dir), rel=1e-6)


# -------------------------------------------------------------------------------- baselines


def test_every_baseline_is_a_row_with_scipy_p_values(run_dir: Path) -> None:
    out = run(
        "analyze",
        str(run_dir),
        "--runs",
        "4",
        "--baselines",
        "gce,label_smoothing:0.2,baikal,crossentropy",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    # cross-entropy first (it is the report's "baseline"), then in the order given, canonical
    assert list(report["baselines"]) == ["crossentropy", "gce:0.7", "label_smoothing:0.2", "baikal"]
    assert report["baselines"]["crossentropy"]["accuracies"] == report["baseline"]["accuracies"]
    assert report["select"] == "last"
    a = report["taylorglo"]["accuracies"]
    seeds = [analysis.analysis_seed(5, i) for i in range(4)]
    for spec, entry in report["baselines"].items():
        # the custom fitness scores every baseline as the initial θ: same seeds, same path
        assert entry["accuracies"] == [analysis_fns.noisy([0.0] * 8, s) for s in seeds], spec
        expected = stats.ttest_ind(a, entry["accuracies"], equal_var=False, alternative="greater")
        assert entry["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
        assert entry["difference"] == pytest.approx(np.mean(a) - np.mean(entry["accuracies"]))
    labels = sorted({r[1] for r in rows(run_dir)})
    assert labels == ["baikal", "baseline", "gce:0.7", "label_smoothing:0.2", "taylorglo"]
    assert len(rows(run_dir)) == 4 * 5
    md = (run_dir / "analysis" / "report.md").read_text()
    for name in ("| GCE q=0.7 |", "| label smoothing 0.2 |", "| Baikal |", "| cross-entropy |"):
        assert name in md
    # A second analyze with one more baseline trains only that one.
    out = run("analyze", str(run_dir), "--runs", "4", "--baselines", "crossentropy,gce:0.5")
    assert out.returncode == 0, out.stderr
    assert len(rows(run_dir)) == 4 * 6


def test_select_best_validation_is_kept_apart_from_last(run_dir: Path) -> None:
    assert run("analyze", str(run_dir), "--runs", "2").returncode == 0
    out = run("analyze", str(run_dir), "--runs", "2", "--select", "best_validation", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["select"] == "best_validation"
    labels = sorted(r[1] for r in rows(run_dir))
    assert labels == sorted(
        ["taylorglo", "baseline"] * 2
        + ["taylorglo@best_validation", "baseline@best_validation"] * 2
    )
    assert "best-validation epoch" in (run_dir / "analysis" / "report.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baselines", "gcee"], "--baselines: unknown baseline 'gcee'; did you mean 'gce'?"),
        (["--baselines", "gce:2"], "--baselines: gce:2: q must be in (0, 1] (got 2)"),
        (["--select", "best"], "--select: 'best' is not a selection"),
    ],
)
def test_bad_baseline_options_are_one_line_errors(run_dir: Path, args, message) -> None:
    out = run("analyze", str(run_dir), *args)
    assert out.returncode == 2
    assert message in out.stderr and out.stderr.count("\n") == 1
    assert rows(run_dir) == []


# ------------------------------------------------------------------- real training (slow)
# One test, so that TensorFlow starts in as few worker pools as possible: real full trainings of
# TaylorGLO and every baseline on noisy digits, killed midway and resumed, then again under the
# other selection. Whether a fragile loss (Baikal, a large θ) diverges in 60 steps depends on the
# CPU's floating point (Baikal diverged on one machine and not on another), so each training is
# checked for what the product promises of either outcome, never for a number: an `ok` training
# has a real test accuracy, a `diverged` one is counted as 0, said so in its log line and kept.

BASELINES = "crossentropy,label_smoothing:0.1,gce:0.7,baikal"


def _noisy_digits_run(tmp_path: Path) -> tuple[Path, list[float]]:
    """A finished one-candidate search on the noisy-digits recipe (tiny budgets) to analyse."""
    from keras_taylorglo.presets import PAPER_MNIST
    from keras_taylorglo.recipe import load_recipe
    from keras_taylorglo.store import Store

    recipe = load_recipe(
        HERE.parent / "recipes" / "digits_noisy.toml",
        ["training.full.steps=60", "data.train_fraction=0.3"],
    )
    run_dir = tmp_path / "run"
    store = Store.create(run_dir, recipe)
    theta = [v / 10 for v in PAPER_MNIST]  # a mild loss, as a search finds
    store.begin_generation(0, b"state", [theta])
    store.set_candidate_result(0, 0, "ok", 0.5)
    store.finish_generation(0, b"after", theta, 1.0)
    store.update_meta(
        label_noise={
            "rate": 0.4,
            "kind": "symmetric",
            "validation": True,
            "realised_train": 0.41,
            "realised_validation": 0.39,
        }
    )
    store.set_state("finished")
    store.close()
    return run_dir, theta


def _each_training_is_a_result(report: dict, run_dir: Path, select: str, said: str) -> None:
    """Every training of ``report`` is ``ok`` with a real test accuracy, or ``diverged``: counted
    as 0, in the statuses, and named as diverged in the analysis's log lines ``said``."""
    suffix = "" if select == "last" else f"@{select}"
    final = {(r[1], r[4]): r for r in rows(run_dir)}
    entries = {"taylorglo": report["taylorglo"], **report["baselines"]}
    for spec, entry in entries.items():
        label = {"crossentropy": "baseline"}.get(spec, spec)
        mine = [final[(label + suffix, i)] for i in range(2)]
        assert entry["accuracies"] == [r[7] for r in mine], spec
        assert entry["statuses"] == dict(Counter(r[6] for r in mine)), spec
        assert entry["mean"] == pytest.approx(np.mean(entry["accuracies"]), abs=1e-12)
        for r in mine:
            assert r[6] in ("ok", "diverged"), r
            if r[6] == "ok":
                assert 0.0 < r[7] <= 1.0, r  # a real test accuracy (chance is 0.1)
            else:
                assert r[7] == 0.0, r
                line = f": {label} run {r[4]} (fraction 0.3) diverged, test accuracy 0.0000"
                assert any(x.endswith(line) for x in said.splitlines()), (line, said)
        if spec != "taylorglo":
            expected = stats.ttest_ind(
                report["taylorglo"]["accuracies"],
                entry["accuracies"],
                equal_var=False,
                alternative="greater",
            ).pvalue
            if np.isfinite(expected):
                assert entry["p_value"] == pytest.approx(expected, rel=1e-9), spec
            else:  # both sets constant: undefined, reported as such
                assert entry["p_value"] is None, spec


@pytest.mark.slow
def test_every_loss_trains_for_real_on_noisy_digits_killed_resumed_and_reselected(
    tmp_path: Path,
) -> None:
    run_dir, theta = _noisy_digits_run(tmp_path)
    options = ["--runs", "2", "--baselines", BASELINES]

    # SIGKILL after the first training has its result; the next analyze redoes none of them.
    proc = subprocess.Popen(
        [*COMMAND, "analyze", str(run_dir), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            if any(r[6] in ("ok", "diverged") for r in rows(run_dir)):
                break
        except sqlite3.Error:
            pass
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    _, said_before_kill = proc.communicate(timeout=10)
    killed = rows(run_dir)
    finished = [r for r in killed if r[6] in ("ok", "diverged")]
    assert 1 <= len(finished) < 10, killed

    said = {}
    for select in ("last", "best_validation"):
        out = run("analyze", str(run_dir), *options, "--select", select, "--json", timeout=400)
        assert out.returncode == 0, out.stderr
        said[select] = out.stderr
        report = json.loads(out.stdout)
        assert report["select"] == select
        assert report["taylorglo"]["theta"] == theta
        assert list(report["baselines"]) == BASELINES.split(",")
        assert report["label_noise"]["realised_train"] == 0.41
        done = [r for r in rows(run_dir) if r[6] in ("ok", "diverged")]
        assert len(done) == len(rows(run_dir)) == (5 if select == "last" else 10) * 2
        if select == "last":
            by_id = {r[0]: r for r in done}
            for r in finished:
                assert by_id[r[0]] == r  # not redone: same id, seed, start, end and accuracy
            said[select] += said_before_kill
        _each_training_is_a_result(report, run_dir, select, said[select])
    table = run("analyze", str(run_dir), *options)
    assert "label noise: symmetric 0.40 (realised 0.410 train, 0.390 validation)" in table.stdout
