"""The built wheel, installed (not editable) into a fresh venv and used from an empty directory.

What a `pip install keras-taylorglo` user gets: every package of the source tree and every
shipped recipe, the monitor under this project's name (no top-level `tui` module, a name another
package on the index has), and a command line that lists, validates, copies and searches the
shipped recipes and monitors the run without the repository.

Installing TensorFlow again would take minutes, so the fresh venv reads the DEPENDENCIES from the
repository's venv (a `.pth` line naming its site-packages, which Python appends after the new
venv's own) and gets the wheel itself with `pip install --no-deps`. The first test proves that
`keras_taylorglo` and `keras_taylorglo_tui` then come from the installed wheel, not the sources.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from keras_taylorglo.recipe import load_recipe, parse_recipe
from keras_taylorglo.recipe.shipped import shipped_names, shipped_text

ROOT = Path(__file__).resolve().parents[1]
# What the build reads: the project file, the README (the long description) and the two folders.
BUILD_INPUTS = ("pyproject.toml", "README.md", "keras_taylorglo", "tui")
PACKAGES = {"keras_taylorglo": "keras_taylorglo", "tui": "keras_taylorglo_tui"}


class Installed:
    """The wheel, the fresh venv it is installed in, and an empty working directory."""

    def __init__(self, wheel: Path, venv: Path, site: Path, workdir: Path) -> None:
        self.wheel, self.venv, self.site, self.workdir = wheel, venv, site, workdir
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        self.env["TF_CPP_MIN_LOG_LEVEL"] = "3"

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a program of the venv (``keras-taylorglo``, ``python``) in the empty directory."""
        return subprocess.run(
            [str(self.venv / "bin" / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workdir,
            env=self.env,
        )

    def ktg(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``keras-taylorglo ARGV`` as the installed console script; asserts exit status 0."""
        out = self.run("keras-taylorglo", *argv, timeout=timeout)
        assert out.returncode == 0, (argv, out.stderr[-3000:])
        return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # only what the build reads: no stale build/ of a checkout
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _ok([*pip, "wheel", "--no-deps", "--wheel-dir", str(tmp / "dist"), str(source)], 240)
    (wheel,) = (tmp / "dist").glob("keras_taylorglo-*.whl")
    venv = tmp / "venv"
    _ok([sys.executable, "-m", "venv", "--without-pip", str(venv)], 60)
    python = venv / "bin" / "python"
    site = _ok([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], 30)
    # The dependencies: the repository venv's site-packages, after the new venv's own. Its
    # editable-install hook (a .pth there) is not run: only a site directory's .pth files are.
    (Path(site) / "_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _ok([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], 120)
    workdir = tmp / "empty"
    workdir.mkdir()
    return Installed(wheel, venv, Path(site), workdir)


def _ok(argv: list[str], timeout: float) -> str:
    """Run a build step; its stdout, or a failure that shows its stderr."""
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, (argv, out.stderr[-3000:])
    return out.stdout.strip()


def test_the_wheel_holds_every_package_and_recipe_and_no_top_level_tui(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"keras_taylorglo", "keras_taylorglo_tui"}
    expected = {
        f"{PACKAGES[path.parts[0]]}/{'/'.join(path.parts[1:])}"
        for folder in PACKAGES
        for path in (p.relative_to(ROOT) for p in (ROOT / folder).rglob("*"))
        if path.suffix in (".py", ".tcss", ".toml") or path.name == "py.typed"
    }
    assert expected <= set(names), sorted(expected - set(names))
    assert {f"keras_taylorglo/recipes/{n}.toml" for n in shipped_names()} <= set(names)


def test_the_installed_copy_is_imported_not_the_sources(installed):
    code = (
        "import importlib.util, json, sys, keras_taylorglo, keras_taylorglo_tui.app\n"
        "print(json.dumps([keras_taylorglo.__file__, keras_taylorglo_tui.__file__,\n"
        "    importlib.util.find_spec('tui') is None, 'tensorflow' in sys.modules]))\n"
    )
    out = installed.run("python", "-c", code)
    assert out.returncode == 0, out.stderr
    package, tui_package, no_tui, tensorflow = json.loads(out.stdout)
    assert Path(package) == installed.site / "keras_taylorglo" / "__init__.py"
    assert Path(tui_package) == installed.site / "keras_taylorglo_tui" / "__init__.py"
    assert no_tui  # no module named `tui` anywhere on the path
    assert not tensorflow  # the monitor imports no TensorFlow


def test_the_shipped_recipes_from_an_empty_directory(installed):
    lines = installed.ktg("recipes").stdout.splitlines()
    assert [line.split()[0] for line in lines] == shipped_names()
    assert any(line.startswith("digits_noisy ") and "offline, CPU" in line for line in lines)

    out = installed.ktg("validate", "digits_noisy")
    assert out.stdout.startswith("# resolved recipe: digits_noisy (shipped)\n")
    assert parse_recipe(out.stdout) == load_recipe(ROOT / "recipes" / "digits_noisy.toml")

    out = installed.ktg("init", "digits", "x.toml")
    assert out.stdout == "wrote x.toml; edit it, then: keras-taylorglo validate x.toml\n"
    assert (installed.workdir / "x.toml").read_text("utf-8") == shipped_text("digits")
    out = installed.run("keras-taylorglo", "init", "digits", "x.toml")
    assert out.returncode == 2
    assert out.stderr == "error: x.toml: file: already exists (--force replaces it)\n"
    (installed.workdir / "x.toml").unlink()

    out = installed.run("keras-taylorglo", "search", "digits_nosy")
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1
    assert "did you mean 'digits_noisy'?" in out.stderr
    assert sorted(os.listdir(installed.workdir)) == []


@pytest.mark.slow
def test_a_shipped_recipe_searches_and_its_run_is_shown(installed):
    """A search of seconds (2 candidates and 2 finalists of 5 steps, one worker) of the shipped
    noisy-digits recipe, then `status` and the monitor (its command on a terminal, and its
    screenshot)."""
    tiny = {
        "data.data_dir": json.dumps(str(installed.workdir.parent / "tfds")),
        "evolution.population": "2",
        "evolution.generations": "1",
        "training.partial.steps": "5",
        "execution.workers": "1",
        # the recipe's finalist stage, as small: the best candidate and the mean, one seed each
        "training.full.steps": "5",
        "evolution.finalists.count": "1",
        "evolution.finalists.seeds": "1",
    }
    sets = [arg for key, value in tiny.items() for arg in ("--set", f"{key}={value}")]
    out = installed.ktg("search", "digits_noisy", "--out", "run", *sets, timeout=300)
    assert "chosen loss: finalist" in out.stdout and "in run" in out.stdout, out.stdout

    status = json.loads(installed.ktg("status", "run", "--json").stdout)
    assert status["state"] == "finished" and status["evaluations"] == 2
    assert "label noise: symmetric 0.40" in installed.ktg("status", "run").stdout

    # the header names the run once the first read of the store is drawn
    screen = _monitor_on_a_terminal(installed, "run", until=(b"Generations", b"digits_noisy"))
    assert b"finished" in screen

    out = installed.run("python", "-m", "keras_taylorglo_tui.screenshot", "run", "shot.svg")
    assert out.returncode == 0, out.stderr
    svg = (installed.workdir / "shot.svg").read_text()
    assert svg.startswith("<svg") and "digits_noisy" in svg and "finished" in svg


def _monitor_on_a_terminal(installed: Installed, run_dir: str, until: tuple[bytes, ...]) -> bytes:
    """``keras-taylorglo monitor RUN_DIR`` on a pseudo-terminal until it draws every ``until``,
    then ``q``; asserts it draws them and quits with status 0, and returns what it drew."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: the installed command, as a user runs it
        os.chdir(installed.workdir)
        os.execve(
            str(installed.venv / "bin" / "keras-taylorglo"),
            ["keras-taylorglo", "monitor", run_dir],
            {**installed.env, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
        )
    screen, status, pressed = bytearray(), None, 0.0
    try:
        deadline = time.monotonic() + 60
        while status is None and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    screen.extend(os.read(fd, 65536))
                except OSError:  # the child closed the terminal
                    pass
            if all(text in screen for text in until) and time.monotonic() - pressed > 5:
                os.write(fd, b"q")  # again after 5 s, should the first come before it listens
                pressed = time.monotonic()
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(code)
        assert pressed and status == 0, bytes(screen[-2000:])
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return bytes(screen)
