"""Plots (real PNG images of the run's data) and the TF-free TensorBoard writer."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from in_process import run_cli
from PIL import Image

from keras_taylorglo import plots
from keras_taylorglo.expansion import shifted_loss_shape
from keras_taylorglo.presets import PAPER_MNIST
from keras_taylorglo.store import Store
from keras_taylorglo.tensorboard import TB_DIR, EventWriter, SearchLogger, png_size

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
META = {"order": 3, "inputs": ["label", "prediction"], "trim": True, "convention": "paper"}


def make_run(run_dir: Path, shift: float = 0.0, generations: int = 4, population: int = 5) -> Path:
    """A finished run with a made-up, deterministic history (``shift`` changes all the data)."""
    rng = np.random.default_rng(int(shift * 100) + 1)
    store = Store.create(run_dir, recipe_text="", meta={**META, "name": "plots", "seed": 0})
    mean = np.zeros(8)
    for g in range(generations):
        thetas = [list(mean + rng.normal(0, 1.0, 8) + shift) for _ in range(population)]
        store.begin_generation(g, b"before", thetas)
        for c in range(population):
            store.set_candidate_result(g, c, "ok", 0.5 + 0.1 * g + 0.02 * c - shift / 10)
        mean = np.mean(thetas, axis=0)
        store.finish_generation(g, b"after", list(mean), 1.2 / (g + 1))
    store.set_state("finished")
    store.close()
    return run_dir


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


# --------------------------------------------------------------------------------------- plots


def test_plot_run_writes_real_pngs_that_follow_the_data(tmp_path: Path) -> None:
    a = plots.plot_run(make_run(tmp_path / "a"), tmp_path / "out_a")
    a_again = plots.plot_run(tmp_path / "a", tmp_path / "out_a2")
    b = plots.plot_run(make_run(tmp_path / "b", shift=0.7), tmp_path / "out_b")
    assert [p.name for p in a] == list(plots.PLOT_FILES)
    for pa, pa2, pb in zip(a, a_again, b, strict=True):
        data = pa.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 15_000, pa
        width, height = png_size(data)
        assert (width, height) == (640, 420)
        image = pixels(pa)
        assert image.shape == (420, 640, 3)
        # Drawn, not blank: many distinct colours, and a good share of non-white pixels.
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50
        assert (image.sum(axis=2) < 3 * 250).mean() > 0.05
        assert pa2.read_bytes() == data  # same data, same picture
        other = pixels(pb)
        assert pb.read_bytes() != data
        assert np.abs(other - image).sum(axis=2).astype(bool).mean() > 0.005, pb.name


def test_fitness_plot_marks_new_bests_in_red(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r")
    with Store.open_existing(run) as store:
        generations = store.generations()
    assert sum(g.new_best for g in generations) == 4
    red = []
    for marks in (True, False):
        gens = [dataclasses.replace(g, new_best=g.new_best and marks) for g in generations]
        path = tmp_path / f"fig2_{marks}.png"
        plots.plot_fitness(gens, path)
        image = pixels(path)
        is_red = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)
        red.append(int(is_red.sum()))
    assert red[0] > 4 * 40 and red[1] < red[0] / 4  # four red dots (legend marker aside)


def test_fitness_axis_names_the_recipes_fitness(tmp_path: Path) -> None:
    custom = '[evaluation]\nfitness = "my_fitness:score"\n'
    assert plots.fitness_measure({"recipe_text": custom}) == "my_fitness:score"
    assert plots.fitness_measure({"recipe_text": ""}) == "validation_accuracy"
    assert plots.fitness_measure({"recipe_text": "not = [toml"}) == "validation_accuracy"
    run = make_run(tmp_path / "r", generations=2)
    with Store.open_existing(run) as store:
        generations = store.generations()
    default = plots.plot_fitness(generations, tmp_path / "a.png")
    named = plots.plot_fitness(generations, tmp_path / "b.png", "my_fitness:score")
    assert default != named and png_size(default) == png_size(named)


def test_loss_shapes_are_shifted_to_zero_at_one() -> None:
    y0, loss = shifted_loss_shape(PAPER_MNIST, **plots.loss_settings(META))
    assert loss[-1] == 0.0 and y0[-1] == 1.0
    assert 0.7 <= y0[loss.argmin()] <= 0.95  # the paper's shallow minimum near 0.8


def test_pca_projection() -> None:
    rng = np.random.default_rng(0)
    direction = rng.normal(size=8)
    points = np.outer(np.linspace(-3, 3, 20), direction) + rng.normal(0, 0.01, (20, 8))
    xy = plots.pca_2d(points)
    assert xy.shape == (20, 2)
    # Almost all the spread lies on the first component, and it is centred.
    assert np.var(xy[:, 0]) > 1000 * np.var(xy[:, 1])
    assert abs(xy[:, 0].mean()) < 1e-9
    assert np.allclose(plots.pca_2d([[1.0, 2.0]]), 0.0)


def test_plot_command_and_an_empty_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", generations=2)
    out = run_cli("plot", str(run))  # in this process (tests/in_process.py)
    assert out.returncode == 0, out.stderr
    assert [Path(p).name for p in out.stdout.split()] == list(plots.PLOT_FILES)
    assert all((run / "plots" / name).is_file() for name in plots.PLOT_FILES)

    Store.create(tmp_path / "empty", recipe_text="", meta=META).close()
    out = run_cli("plot", str(tmp_path / "empty"))
    assert out.returncode == 2 and "nothing to plot" in out.stderr


def test_analysis_modules_import_no_tensorflow_or_matplotlib() -> None:
    code = (
        "import sys, keras_taylorglo.analysis, keras_taylorglo.tensorboard, "
        "keras_taylorglo.plots\n"
        "print(json.dumps([m for m in ('tensorflow', 'keras', 'matplotlib') "
        "if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_search_logging_imports_no_tensorflow(tmp_path: Path) -> None:
    """tensorboard's writer would load TensorFlow into the driver if we let it."""
    run = make_run(tmp_path / "r", generations=2)
    code = (
        "import sys\n"
        "from keras_taylorglo.store import Store\n"
        "from keras_taylorglo.tensorboard import SearchLogger\n"
        f"logger = SearchLogger({str(run)!r})\n"
        f"store = Store.open_existing({str(run)!r})\n"
        "logger.log_generation(store, 0); logger.log_generation(store, 1); logger.close()\n"
        "print(json.dumps(['tensorflow' in sys.modules, 'keras' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [False, False]
    assert len(list((run / TB_DIR).glob("events.out.tfevents.*"))) == 1


# --------------------------------------------------------------------------------- tensorboard


def _png_1x1() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (255, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG_1x1 = _png_1x1()


def test_event_file_is_read_back_by_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    writer = EventWriter(tmp_path)
    writer.add_scalars(3, {"a/b": 0.25, "skipped": None})
    writer.add_image(3, "img", PNG_1x1)
    writer.close()
    files = list(tmp_path.glob("events.out.tfevents.*"))
    assert len(files) == 1
    acc = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    acc.Reload()
    assert acc.Tags()["scalars"] == ["a/b"]  # None values are skipped
    (event,) = acc.Scalars("a/b")
    assert (event.step, event.value) == (3, 0.25)
    (image,) = acc.Images("img")
    assert (image.step, image.width, image.height) == (3, 1, 1)
    assert image.encoded_image_string == PNG_1x1


@pytest.mark.slow
def test_search_logger_is_read_back_by_tensorflow(tmp_path: Path) -> None:
    """TensorFlow's own event reader (CRC-checked) sees the scalars and the image."""
    run = make_run(tmp_path / "r", generations=3)
    logger = SearchLogger(run)
    with Store.open_existing(run) as store:
        for g in range(3):
            logger.log_generation(store, g)
        generations = store.generations()
    logger.close()
    files = sorted((run / TB_DIR).glob("events.out.tfevents.*"))
    assert len(files) == 1
    # TensorFlow's reader in this process: the suite's Keras tests have TensorFlow loaded here.
    from keras_taylorglo._quiet import import_tensorflow

    tf = import_tensorflow()
    values = []
    for event in tf.compat.v1.train.summary_iterator(str(files[0])):
        for v in event.summary.value:
            if v.HasField("image"):
                values.append(
                    [
                        event.step,
                        v.tag,
                        v.image.width,
                        v.image.height,
                        v.image.encoded_image_string.hex(),
                    ]
                )
            else:
                values.append([event.step, v.tag, v.simple_value])
    scalars = {(v[0], v[1]): v[2] for v in values if len(v) == 3}
    images = [v for v in values if len(v) == 5]
    best_so_far = 0.0
    for g in generations:
        step = g.generation
        best_so_far = max(best_so_far, g.best_fitness)
        assert scalars[(step, "fitness/generation_best")] == pytest.approx(g.best_fitness)
        assert scalars[(step, "fitness/generation_mean")] == pytest.approx(g.mean_fitness)
        assert scalars[(step, "fitness/best_so_far")] == pytest.approx(best_so_far)
        assert scalars[(step, "cma/sigma")] == pytest.approx(g.sigma)
    assert [i[0] for i in images] == [0, 1, 2]
    assert {i[1] for i in images} == {"loss_shape/generation_best"}
    for _, _, width, height, png_hex in images:
        image = Image.open(io.BytesIO(bytes.fromhex(png_hex)))
        assert image.size == (width, height) == (400, 300)
    assert len({i[4] for i in images}) == 3  # a different best loss each generation


def test_submitted_generations_equal_logged_ones_and_the_renderer_stops(tmp_path: Path) -> None:
    """The search's path (render in a child process, write in a thread) writes what the
    synchronous path writes, and close() waits for it and stops the renderer."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    written = {}
    for how in ("log", "submit"):
        run = make_run(tmp_path / how, generations=3)
        logger = SearchLogger(run)
        with Store.open_existing(run) as store:
            for g in range(3):
                getattr(logger, f"{how}_generation")(store, g)
        renderer = logger._renderer
        logger.close()
        if how == "submit":
            assert renderer is not None and not renderer._process.is_alive()
        acc = EventAccumulator(str(run / TB_DIR), size_guidance={"images": 0, "scalars": 0})
        acc.Reload()
        written[how] = (
            {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]},
            [(e.step, e.encoded_image_string) for e in acc.Images("loss_shape/generation_best")],
        )
    assert written["submit"] == written["log"]
    assert [step for step, _ in written["log"][1]] == [0, 1, 2]


def test_search_logger_never_raises(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", generations=1)
    logger = SearchLogger(run)
    with Store.open_existing(run) as store, pytest.warns(RuntimeWarning, match="generation 7"):
        logger.log_generation(store, 7)  # not in the store: a warning, not an exception
    logger.close()
