"""The TaylorGLO search: CMA-ES oracle, trial records and fitness rules, executors and the engine.

The oracle (:mod:`keras_taylorglo.search.oracle`) and the trial records
(:mod:`keras_taylorglo.search.trial`) import no TensorFlow; this package module imports nothing,
so ``import keras_taylorglo.search.oracle`` stays cheap for the monitor and the status command.
"""
