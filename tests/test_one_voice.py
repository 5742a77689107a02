"""One voice for one problem (issue 22 §4): every command and the Python API say "no run here"
with the same function, a Python user is told the keyword and not ``--set``, and the analysis's
progress names the losses as its table does.

The commands run in this process (``cli.main``): the process boundary is not the point here, and
none of them gets as far as importing TensorFlow.
"""

from __future__ import annotations

import pytest
from rich.console import Console

import keras_taylorglo as ktg
from keras_taylorglo.api import SearchResult
from keras_taylorglo.cli import main
from keras_taylorglo.errors import StoreError
from keras_taylorglo.store import Store, locate
from keras_taylorglo.store.locate import no_run_error

#: Every command that takes a run directory, with the arguments it needs besides it.
COMMANDS = {
    "status": [],
    "monitor": [],
    "export": [],
    "plot": [],
    "resume": [],
    "analyze": [],
    "study": ["--out", "{tmp}/study"],
}


@pytest.fixture(params=["missing", "file", "empty"])
def not_a_run(request, tmp_path):
    """A path that holds no run: missing, a file (a recipe, say), an empty directory."""
    path = (
        tmp_path / {"missing": "runs/nope", "file": "digits.toml", "empty": "empty"}[request.param]
    )
    if request.param == "file":
        path.write_text("[experiment]\n")
    elif request.param == "empty":
        path.mkdir()
    return path


def test_the_message_says_what_the_path_is(tmp_path):
    (tmp_path / "digits.toml").write_text("")
    (tmp_path / "empty").mkdir()
    assert str(no_run_error("runs/nope")) == (
        "runs/nope: no keras-taylorglo run here (it does not exist; a search writes one, "
        "e.g. runs/digits)"
    )
    assert "(it is a file, not a run directory;" in str(no_run_error(tmp_path / "digits.toml"))
    assert "(no experiment.sqlite in it;" in str(no_run_error(tmp_path / "empty"))
    with pytest.raises(StoreError) as error:
        Store.open(tmp_path / "empty")  # the store itself says it the same way
    assert str(error.value) == str(no_run_error(tmp_path / "empty"))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_says_it_with_the_one_function(
    command, not_a_run, tmp_path, capsys, monkeypatch
):
    expected = f"error: {no_run_error(not_a_run)}\n"
    extra = [a.format(tmp=tmp_path) for a in COMMANDS[command]]
    assert main([command, str(not_a_run), *extra]) == 2
    assert capsys.readouterr().err == expected
    # ... and the message comes from that function, not from a copy of its words.
    monkeypatch.setattr(locate, "no_run_error", lambda run_dir: StoreError(f"VOICE {run_dir}"))
    assert main([command, str(not_a_run), *extra]) == 2
    assert capsys.readouterr().err == f"error: VOICE {not_a_run}\n"
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize(
    "call",
    [
        lambda path: ktg.resume(path, progress=False),
        lambda path: ktg.analyze(path, progress=False),
        SearchResult.from_run_dir,
    ],
    ids=["resume", "analyze", "from_run_dir"],
)
def test_the_python_api_says_it_too(call, not_a_run):
    with pytest.raises(ktg.TaylorGLOError) as error:
        call(not_a_run)
    assert str(error.value) == str(no_run_error(not_a_run))


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        (
            {"evolution": {"populaton": 4}},
            "evolution={...}: populaton: unknown key; did you mean 'population'? (expected one "
            "of population, sigma, generations, initial, invariant_check, finalists)",
        ),
        (
            {"evolution": {"finalists": {"cont": 3}}},
            "evolution={...}: finalists.cont: unknown key; did you mean 'finalists.count'? "
            "(expected one of count, seeds, budget)",
        ),
        (
            {"data_options": {"augment": {"flp": True}}},
            "data_options={...}: augment.flp: unknown key; did you mean 'augment.flip'? "
            "(expected one of flip, crop_padding, cutout)",
        ),
        (
            {"training": {"partial": {"steps": 0}}},
            "training={...}: partial.steps: out of range (got 0; expected an integer >= 1)",
        ),
        (
            {"overrides": ["evolution.populaton=4"]},
            "overrides=[...]: evolution.populaton: unknown key; did you mean "
            "'evolution.population'? (expected one of population, sigma, generations, initial, "
            "invariant_check, finalists)",
        ),
    ],
)
def test_a_python_user_is_told_the_keyword_never_set(keywords, message):
    with pytest.raises(ktg.TaylorGLOError) as error:
        ktg.Search(**keywords)
    assert str(error.value) == message
    assert "--set" not in str(error.value)


def test_analysis_progress_names_the_losses_as_its_table_does():
    from keras_taylorglo.analysis.plan import plan_jobs
    from keras_taylorglo.analysis.run import _advance
    from keras_taylorglo.search.progress import ProgressBar

    console = Console(record=True, width=200)
    bar = ProgressBar("trainings", console=console, live=False)
    jobs = plan_jobs([[0.0] * 8], [1.0], 1, 0, ["crossentropy", "gce:0.7"])
    bar.start(len(jobs))
    for job in jobs:
        _advance(bar, job, "ok", 0.5)
    lines = console.export_text().splitlines()
    assert [line.split(": ", 1)[1].split(" run ")[0] for line in lines] == [
        "TaylorGLO",
        "cross-entropy",
        "GCE q=0.7",
    ]
    assert "baseline" not in console.export_text()
