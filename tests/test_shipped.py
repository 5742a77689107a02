"""The shipped recipes: one copy inside the package, named anywhere a recipe is asked for.

`keras-taylorglo search digits_noisy` runs the shipped recipe from any directory, a file that
exists wins over a name, an unknown name is one line with the shipped names and a did-you-mean,
`recipes` lists them and `init` copies one out to edit. (tests/test_wheel.py runs the same from an
installed wheel.)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import keras_taylorglo as ktg
from keras_taylorglo.cli import main
from keras_taylorglo.errors import RecipeError
from keras_taylorglo.recipe import load_default_recipe, load_recipe, parse_recipe
from keras_taylorglo.recipe.shipped import (
    shipped_description,
    shipped_name,
    shipped_names,
    shipped_text,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_RECIPES = ROOT / "keras_taylorglo" / "recipes"
OFFLINE = {"digits", "digits_noisy", "mnist5k"}


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """An empty working directory that is not the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_recipes_have_one_source_inside_the_package():
    # The repository's recipes/ is a link to the package's folder, not a second copy.
    assert (ROOT / "recipes").is_symlink()
    assert (ROOT / "recipes").resolve() == PACKAGE_RECIPES.resolve()
    assert shipped_names() == sorted(p.stem for p in PACKAGE_RECIPES.glob("*.toml"))
    assert not list((ROOT / "keras_taylorglo").glob("*.toml"))  # no default_recipe.toml copy
    for name in shipped_names():
        assert shipped_text(name) == (PACKAGE_RECIPES / f"{name}.toml").read_text("utf-8")


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_recipe_says_what_it_is_for_on_its_first_line(name):
    first = shipped_text(name).splitlines()[0]
    assert first.startswith(f"# {name}.toml - "), first
    description = shipped_description(name)
    assert first == f"# {name}.toml - {description}"
    assert 10 < len(description) <= 100, description


def test_a_name_loads_the_shipped_recipe_from_any_directory(elsewhere):
    by_name = load_recipe("digits_noisy")
    assert (
        by_name
        == load_recipe("digits_noisy.toml")
        == load_recipe(ROOT / "recipes/digits_noisy.toml")
    )
    assert by_name.data.label_noise.rate == 0.4
    assert by_name.source == "digits_noisy (shipped)"
    assert by_name.base_dir == elsewhere  # not site-packages: its relative paths are the user's
    assert by_name.experiment.name == "digits_noisy"
    assert load_recipe("digits", ["evolution.population=4"]).evolution.population == 4
    assert load_default_recipe() == load_recipe("digits")


def test_a_file_that_exists_wins_over_a_shipped_name(elsewhere):
    (elsewhere / "digits_noisy").write_text(
        '[data]\ndataset = "digits"\n[model]\n[loss]\norder = 2\n'
    )
    (elsewhere / "digits.toml").write_text("[data]\n[model]\n[evolution]\npopulation = 5\n")
    assert load_recipe("digits_noisy").loss.order == 2
    assert load_recipe("digits_noisy").source == "digits_noisy"
    assert load_recipe("digits.toml").evolution.population == 5
    assert load_recipe("digits").evolution.population == 8  # no file named "digits": shipped
    (elsewhere / "mnist5k").mkdir()  # a directory is not a recipe: the name still works
    assert load_recipe("mnist5k").source == "mnist5k (shipped)"
    (elsewhere / "mine").mkdir()
    with pytest.raises(RecipeError, match="^mine: file: is a directory, not a recipe"):
        load_recipe("mine")
    assert shipped_name("./digits_noisy") is None  # a directory part makes it a path


def test_an_unknown_name_is_one_line_with_the_shipped_names(elsewhere):
    with pytest.raises(RecipeError) as error:
        load_recipe("digits_nosy")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "digits_nosy: file: no such file, nor a shipped recipe; did you mean 'digits_noisy'? "
        "(expected a path to a TOML recipe, or a shipped recipe: cifar10_alexnet, "
    )
    assert message.endswith(", ".join(shipped_names()) + ")")
    # A clone's path from elsewhere: the closest shipped name is offered.
    with pytest.raises(
        RecipeError, match=r"no such file, nor a shipped recipe; did you mean 'digits'\?"
    ):
        load_recipe("recipes/digits.toml")
    with pytest.raises(RecipeError) as error:
        load_recipe("zzz")
    assert "did you mean" not in str(error.value)


def test_every_command_that_takes_a_recipe_accepts_a_name(elsewhere, capsys):
    assert main(["validate", "digits_noisy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# resolved recipe: digits_noisy (shipped)\n")
    assert parse_recipe(out) == load_recipe(ROOT / "recipes" / "digits_noisy.toml")
    assert main(["validate", "digits_noisy", "mnist5k.toml"]) == 0
    out = capsys.readouterr().out
    assert "# digits_noisy\n# resolved recipe: digits_noisy (shipped)\n" in out
    assert "\n# mnist5k.toml\n# resolved recipe: mnist5k (shipped)\n" in out
    assert main(["validate", "digits_nosy"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "did you mean 'digits_noisy'?" in err
    # evaluate and search resolve the recipe before anything heavy: a bad --set proves it was read
    for command in ("evaluate", "search"):
        assert main([command, "digits_noisy", "--set", "evolution.populaton=4"]) == 2
        assert "--set: evolution.populaton: unknown key" in capsys.readouterr().err
        assert main([command, "digits_nosy"]) == 2
        assert "did you mean 'digits_noisy'?" in capsys.readouterr().err
    assert not list(elsewhere.iterdir())  # nothing written


def test_the_python_api_accepts_a_name(elsewhere):
    search = ktg.Search(recipe="digits_noisy", run_dir=elsewhere / "run")
    assert search.recipe.data.label_noise.rate == 0.4
    assert search.recipe.experiment.name == "digits_noisy"
    with pytest.raises(ktg.TaylorGLOError, match="did you mean 'digits_noisy'"):
        ktg.Search(recipe="digits_nosy", run_dir=elsewhere / "run")


def test_recipes_lists_each_shipped_recipe_on_one_line(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == shipped_names()
    for line, name in zip(lines, shipped_names(), strict=True):
        assert line.endswith(f"  {shipped_description(name)}"), line
        recipe = load_recipe(name)
        if name in OFFLINE:
            assert re.search(r"\s{2}offline, CPU\s{2}", line), line
        else:
            dataset = recipe.data.dataset
            assert re.search(rf"\s{{2}}TFDS download \({dataset}\), GPU\s{{2}}", line), line
    mnist5k = next(line for line in lines if line.startswith("mnist5k "))
    assert "keras-taylorglo[mnist5k]" in mnist5k  # the extra it needs, from its description


def test_init_copies_a_shipped_recipe_out_to_edit(elsewhere, capsys):
    assert main(["init", "digits_noisy", "mine.toml"]) == 0
    assert capsys.readouterr().out == (
        "wrote mine.toml; edit it, then: keras-taylorglo validate mine.toml\n"
    )
    mine = elsewhere / "mine.toml"
    assert mine.read_text("utf-8") == shipped_text("digits_noisy")  # comments included
    assert load_recipe(mine) == load_recipe("digits_noisy")
    assert load_recipe(mine).base_dir == elsewhere
    assert mine.stat().st_mode & 0o777 == 0o666 & ~_umask()
    # no DEST: NAME.toml here; a directory: NAME.toml inside it
    assert main(["init", "digits.toml"]) == 0
    (elsewhere / "sub").mkdir()
    assert main(["init", "mnist5k", "sub"]) == 0
    assert (elsewhere / "digits.toml").read_text("utf-8") == shipped_text("digits")
    assert (elsewhere / "sub" / "mnist5k.toml").read_text("utf-8") == shipped_text("mnist5k")
    capsys.readouterr()


def test_init_refuses_to_overwrite_and_says_why_in_one_line(elsewhere, capsys):
    mine = elsewhere / "mine.toml"
    mine.write_text("# my edits\n")
    cases = {
        (
            "init",
            "digits",
            "mine.toml",
        ): "error: mine.toml: file: already exists (--force replaces it)",
        (
            "init",
            "digitz",
            "x.toml",
        ): "error: digitz: name: not a shipped recipe; did you mean 'digits'?",
        ("init", "digits", "nodir/x.toml"): "error: nodir/x.toml: file: no such directory: nodir",
    }
    for argv, message in cases.items():
        assert main(list(argv)) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith(message), err
    assert mine.read_text() == "# my edits\n"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["mine.toml"]  # no partial file left
    assert main(["init", "digits", "mine.toml", "--force"]) == 0
    assert mine.read_text("utf-8") == shipped_text("digits")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_init_where_nothing_can_be_written_is_one_line(elsewhere, capsys):
    # /proc refuses new files, for root too (a read-only directory does not stop root).
    assert main(["init", "digits", "/proc/x.toml"]) == 2
    err = capsys.readouterr().err
    assert err == "error: /proc/x.toml: file: cannot be written: No such file or directory\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
