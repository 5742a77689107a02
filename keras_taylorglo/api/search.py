"""``Search``, ``resume`` and ``analyze``: the entry points, on the CLI's engine and store."""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RecipeError, TaylorGLOError
from ..recipe import SECTIONS  # a Search's keyword sections are the recipe's (the TOML's tables)
from ..stopping import interrupt_on_sigint
from .checks import (
    Keywords,
    can_probe_here,
    check_data_arrays,
    check_named_functions,
    check_training_size,
    data_kind,
    hold_out_validation,
    model_kind,
    probe_model,
    refuse_existing_run,
    section_table,
    sets_experiment_name,
)
from .inputs import (
    DATA_SPEC,
    INPUTS_DIR,
    INPUTS_MODULE,
    MODEL_SPEC,
    base_recipe,
    describe_function,
    dump_function,
    flatten_section,
    inputs_module_source,
    rebased_recipe,
    toml_value,
    write_atomic,
)
from .results import SearchResult
from .running import interrupt_says_resume, progress_display, workers_skip_main

_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _refuse_unknown_sections(unknown: Mapping[str, Any]) -> None:
    """A keyword that is no recipe section: one line, with the closest section's name."""
    if unknown:
        name = next(iter(unknown))
        close = difflib.get_close_matches(name, SECTIONS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise TaylorGLOError(
            f"Search: unknown recipe section '{name}'{hint} (expected one of "
            f"{', '.join(SECTIONS)}, or model_options, data_options, overrides)"
        )


class Search:
    """A TaylorGLO search on your own model and data, from a script or a notebook.

    Keyword sections override a base recipe key by key (nested dicts set nested keys, as
    ``--set section.key.sub=value`` does; ``model.options`` is set whole) and are validated
    exactly as the recipe file is: a bad key or value raises the recipe's one-line error.

    Args:
        model: A function ``(input_shape, num_classes, **options) -> keras.Model`` (uncompiled,
            softmax outputs); a built ``keras.Model`` (each worker clones it with fresh weights);
            a ``model.name`` string (``"wide_resnet"``, ``"my_models:small_cnn"``); a dict of
            ``[model]`` keys; or ``None`` for the base recipe's model.
        data: ``(x, y)`` arrays: images ``(n, h, w)`` or ``(n, h, w, c)``, integer class ids
            ``0..num_classes-1``; a function ``(seed) -> dict`` as a recipe's data function; a
            ``data.dataset`` string (``"mnist"``, ``"my_data:make"``); a dict of ``[data]``
            keys; or ``None`` for the base recipe's data set.
        validation_data: ``(x, y)`` scored for fitness; without it ``data.validation_size``
            examples are held out of ``data``.
        test_data: ``(x, y)`` scored by :func:`analyze`. Without it the test split is the
            validation split (the analysis then warns: that split chose θ).
        num_classes: The class count (default: the largest label + 1).
        run_dir: The run directory (default ``runs/<experiment.name>``). Without ``recipe=``
            or an explicit ``experiment.name``, the experiment is named after the directory.
        recipe: The base recipe: a ``Recipe``, a TOML file path, a shipped recipe's name
            (``"digits_noisy"``; a file of that name wins), or TOML text (a string with a
            newline or ``[``). Default: the shipped digits recipe, with
            ``data.train_fraction = 1`` when ``data`` is arrays or a function.
        overwrite: Replace a run already in ``run_dir`` (its store, reports and inputs).
        model_options: ``model.options``: keyword arguments for the model function.
        data_options: ``[data]`` keys for array data (``batch_size``, ``validation_size``,
            ``train_fraction``, ``augment``, ``label_noise``).
        overrides: ``"section.key=value"`` strings, exactly as ``--set`` (applied last).
        experiment: ``[experiment]`` keys, e.g. ``{"seed": 1}``.
        training: ``[training]`` keys, e.g. ``{"partial": {"steps": 200}}``.
        loss: ``[loss]`` keys.
        evolution: ``[evolution]`` keys, e.g. ``{"population": 8, "generations": 5}``.
        evaluation: ``[evaluation]`` keys.
        execution: ``[execution]`` keys, e.g. ``{"devices": "cpu", "workers": 2}``.
        **unknown: Refused: a misspelt section name raises a one-line error.

    Attributes:
        recipe: The validated recipe (before ``run`` points it at ``RUN_DIR/inputs``).
        run_dir: The run directory.

    Raises:
        TaylorGLOError: A bad section, key or value (the recipe's message), arrays that do not
            fit together or labels that are not class ids, a model that cannot be built, does
            not fit the data or returns logits (checked here on a few images, except for a model
            function on a machine with GPUs: TensorFlow would reserve their memory in this
            process; the workers check it then), or a run directory that already holds a run.

    Example:
        >>> search = ktg.Search(model=build_model, data=(x, y), test_data=(x_test, y_test),
        ...                     run_dir="runs/mine", evolution={"generations": 5},
        ...                     execution={"devices": "cpu"})  # doctest: +SKIP
        >>> result = search.run()  # doctest: +SKIP
        >>> result.best.theta, result.best.fitness  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any = None,
        data: Any = None,
        *,
        validation_data: tuple[Any, Any] | None = None,
        test_data: tuple[Any, Any] | None = None,
        num_classes: int | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        recipe: Any = None,
        overwrite: bool = False,
        model_options: Mapping[str, Any] | None = None,
        data_options: Mapping[str, Any] | None = None,
        overrides: Sequence[str] = (),
        experiment: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
        loss: Mapping[str, Any] | None = None,
        evolution: Mapping[str, Any] | None = None,
        evaluation: Mapping[str, Any] | None = None,
        execution: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> None:
        _refuse_unknown_sections(unknown)
        self.overwrite = bool(overwrite)
        self._model_kind, self._model = model_kind(model)
        self._data_kind, self._data = data_kind(data)
        if self._data_kind != "arrays" and (validation_data is not None or test_data is not None):
            raise TaylorGLOError(
                "Search: validation_data and test_data go with data=(x, y) arrays "
                f"(got data of type {type(data).__name__})"
            )
        sections = {
            "experiment": experiment,
            "data": data if self._data_kind == "section" else None,
            "model": model if self._model_kind == "section" else None,
            "training": training,
            "loss": loss,
            "evolution": evolution,
            "evaluation": evaluation,
            "execution": execution,
        }
        if self._model_kind == "instance" and model_options:
            raise TaylorGLOError("model_options: a keras.Model takes none (pass a function)")
        if data_options is not None and "dataset" in dict(
            section_table("data_options", data_options)
        ):
            raise TaylorGLOError("data_options: 'dataset' is set by data=, not here")
        base = base_recipe(recipe)
        if isinstance(overrides, str):
            raise TaylorGLOError('overrides: expected a list of "section.key=value" strings')
        user_items = list(overrides)
        keywords = self._keywords(
            recipe, sections, model_options, data_options, user_items, experiment, run_dir
        )
        try:
            self.recipe = base.with_overrides(keywords.items)
            check_named_functions(self.recipe, self._model_kind, self._data_kind, user_items)
        except RecipeError as error:
            raise keywords.reword(error) from None
        if self._data_kind in ("name", "section", "none"):
            from ..data.precheck import check_data_extras

            check_data_extras(self.recipe.data, "Search")  # mnist5k without its extra, say
        from ..search.runs import default_run_dir

        self.run_dir = Path(run_dir) if run_dir is not None else default_run_dir(self.recipe)
        self._take_arrays(validation_data, test_data, num_classes)
        if self._arrays and can_probe_here(self._model_kind):
            probe_model(self._model, self._model_kind, self._arrays, num_classes, self.recipe)
        refuse_existing_run(self.run_dir, self.overwrite)

    def _take_arrays(self, validation_data: Any, test_data: Any, num_classes: int | None) -> None:
        """Checks ``data=(x, y)`` arrays (and the others) and holds out validation if needed."""
        self._arrays: dict[str, np.ndarray] = {}
        self._test_is_validation = False
        self._num_classes = num_classes
        if self._data_kind != "arrays":
            return
        self._arrays = check_data_arrays(self._data, validation_data, test_data, num_classes)
        self._test_is_validation = test_data is None
        if validation_data is None and test_data is None:
            hold_out_validation(self._arrays, self.recipe.data.validation_size)
        check_training_size(self._arrays, self.recipe.data)

    def _keywords(
        self,
        recipe: Any,
        sections: Mapping[str, Any],
        model_options: Mapping[str, Any] | None,
        data_options: Mapping[str, Any] | None,
        user_items: list[str],
        experiment: Any,
        run_dir: Any,
    ) -> Keywords:
        """The overrides this Search's keywords make of the base recipe, by keyword."""
        own_data = self._data_kind in ("arrays", "function")
        keywords = Keywords()
        if own_data and recipe is None:
            # The default recipe trains on half of digits; your arrays are all meant to be used.
            keywords.add(["data.train_fraction=1.0"], "data")
        if self._model_kind in ("function", "instance") and model_options is None:
            # The base model's options are not your function's.
            keywords.add(["model.options={}"], "model")
        if self._model_kind == "name":
            keywords.add(
                [f"model.name={toml_value(self._model, 'model')}"], f"model={self._model!r}"
            )
        if self._data_kind == "name":
            keywords.add([f"data.dataset={toml_value(self._data, 'data')}"], f"data={self._data!r}")
        for name, table in sections.items():
            if table is not None:
                items = flatten_section(name, section_table(name, table))
                keywords.add(items, f"{name}={{...}}", f"{name}.")
        if data_options is not None:
            table = section_table("data_options", data_options)
            keywords.add(flatten_section("data", table), "data_options={...}", "data.")
        if model_options is not None:
            options = toml_value(
                dict(section_table("model_options", model_options)), "model_options"
            )
            keywords.add([f"model.options={options}"], "model_options={...}", "model.options.")
        keywords.add(user_items, "overrides=[...]")
        # The default recipe's name ("digits") would mislead; a recipe's own name stays (--out).
        named = (
            recipe is None
            and run_dir is not None
            and not sets_experiment_name(experiment, user_items)
        )
        if named:
            name = _NAME.sub("_", Path(run_dir).resolve().name).lstrip("._-")
            if name:
                item = f"experiment.name={toml_value(name[:100], 'run_dir')}"
                keywords.add([item], f"run_dir={os.fspath(run_dir)!r}", first=True)
        return keywords

    def run(self, progress: bool = True) -> SearchResult:
        """Write the run directory and run the search to its end (blocks).

        Args:
            progress: Show the engine's progress display (a live line on a terminal or in
                Jupyter with ipywidgets, one line per generation otherwise).

        Returns:
            The :class:`SearchResult`.

        Raises:
            TaylorGLOError: The run directory holds a run (and ``overwrite`` is false) or is in
                use, or the workers cannot build the data or the model (one line).
            KeyboardInterrupt: Ctrl-C or the notebook's stop button: the run is left resumable
                (:func:`resume`), and the message says so.

        Example:
            >>> result = search.run()  # doctest: +SKIP
        """
        from ..recipe import check_callables
        from ..search.runs import start_search

        refuse_existing_run(self.run_dir, self.overwrite)
        with interrupt_on_sigint():
            self._check_data_function()
        recipe = self._write_run_dir()
        check_callables(recipe)
        # Your arrays were checked when this Search was made, and your function just now; a
        # data set named by the recipe is checked by the search's start, before any worker.
        named = self._data_kind not in ("arrays", "function")
        with interrupt_on_sigint(), interrupt_says_resume(self.run_dir), workers_skip_main():
            start_search(
                recipe,
                self.run_dir,
                overwrite=self.overwrite,
                display=progress_display(progress),
                check_data=named,
            )
        return SearchResult.from_run_dir(self.run_dir)

    def _check_data_function(self) -> None:
        """Your data function, called once and its arrays checked, before anything is written."""
        from ..recipe import DEFAULT_FITNESS

        if self._data_kind != "function" or self.recipe.evaluation.fitness != DEFAULT_FITNESS:
            return
        from ..data.precheck import check_data_function

        data = self.recipe.data
        check_data_function(self._data, data, self.recipe.experiment.seed, "data", where="data")

    # ------------------------------------------------------------------------ run directory

    def _write_run_dir(self) -> Any:
        """Write ``RUN_DIR/inputs`` and ``RUN_DIR/recipe.toml``; the recipe that names them."""
        from ..recipe import parse_recipe

        run_dir = self.run_dir.resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".inputs-", dir=run_dir))
        try:
            functions: dict[str, str] = {}
            manifest: dict[str, Any] = {"python": sys.version.split()[0], "files": {}}
            if self._model_kind == "function":
                dump_function(self._model, staging / "model.pkl", "model")
                functions["model"] = "function"
                manifest["model"] = describe_function(self._model)
            elif self._model_kind == "instance":
                try:
                    self._model.save(staging / "model.keras")
                except Exception as exc:
                    raise TaylorGLOError(
                        f"model: cannot be saved as model.keras ({type(exc).__name__}: {exc}); "
                        "pass a function that builds it instead"
                    ) from None
                functions["model"] = "instance"
                manifest["model"] = f"{type(self._model).__name__} {self._model.name!r}"
            if self._data_kind == "arrays":
                for key, array in self._arrays.items():
                    np.save(staging / f"{key}.npy", array, allow_pickle=False)
                    manifest["files"][f"{key}.npy"] = f"{array.dtype} {list(array.shape)}"
                functions["data"] = "arrays"
                manifest["test_split"] = "validation" if self._test_is_validation else "test"
                if self._num_classes is not None:
                    manifest["num_classes"] = int(self._num_classes)
            elif self._data_kind == "function":
                dump_function(self._data, staging / "data.pkl", "data")
                functions["data"] = "function"
                manifest["data"] = describe_function(self._data)
            (staging / INPUTS_MODULE).write_text(inputs_module_source(functions, self._num_classes))
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            staging.chmod(0o755)  # mkdtemp's 0700 would hide the inputs from other users
            inputs = run_dir / INPUTS_DIR
            old = run_dir / f".inputs-old-{os.getpid()}"
            if inputs.exists():
                os.replace(inputs, old)
            os.replace(staging, inputs)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        items = []
        if "model" in functions:
            items.append(f'model.name="{MODEL_SPEC}"')
        if "data" in functions:
            items.append(f'data.dataset="{DATA_SPEC}"')
        text = rebased_recipe(self.recipe, run_dir).to_toml()
        recipe = parse_recipe(
            text, source=str(self.run_dir / "recipe.toml"), overrides=items, base_dir=run_dir
        )
        write_atomic(run_dir / "recipe.toml", recipe.to_toml())
        return recipe
