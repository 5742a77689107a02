"""Fault injection for the search tests: SIGKILL the driver inside a store transaction.

A test puts this directory first on PYTHONPATH and sets ``TG_FAULT=method:n``: the n-th call of
``Store.<method>`` in the driver runs its statements and then kills the process before COMMIT,
which is what a power cut or the OOM killer does while the engine journals.
``TG_FAULT=method:n:after`` kills it just after that call returned (committed) instead.
"""

import contextlib
import os
import signal

_spec = os.environ.get("TG_FAULT")
if _spec:
    from keras_taylorglo import store as _store

    _name, _n, *_when = _spec.split(":")
    _original = getattr(_store.Store, _name)
    _calls = {"n": 0}

    def _dying(self, *args, **kwargs):
        _calls["n"] += 1
        if _when == ["after"] and _calls["n"] == int(_n) and not self.readonly:
            result = _original(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)  # committed; nothing after it ran
            return result
        if _calls["n"] == int(_n) and not self.readonly:
            write = self._write

            @contextlib.contextmanager
            def dying_write():
                with write() as conn:
                    yield conn
                    os.kill(os.getpid(), signal.SIGKILL)  # statements done, COMMIT not reached

            self._write = dying_write
        return _original(self, *args, **kwargs)

    setattr(_store.Store, _name, _dying)
