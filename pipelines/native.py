"""Keeps native libraries' console chatter (MediaPipe/TFLite print warnings straight to the
process's stderr from C++, before absl logging is set up) away from the user's terminal."""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()  # fd 2 is process-wide: one redirection at a time


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    if os.environ.get("SYNCHRORAMA_NATIVE_LOGS"):  # set to see them when debugging
        yield
        return
    with _lock:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
