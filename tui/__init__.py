"""The keras-taylorglo monitor: a Textual app that watches a search through its store.

It imports the store, Textual, Rich and plotext, never TensorFlow. Start it with
``keras-taylorglo monitor [RUN_DIR]`` or :func:`keras_taylorglo_tui.app.run_monitor`.
"""
