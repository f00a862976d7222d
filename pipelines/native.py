"""Process-wide settings of the native layer: native libraries' console chatter (MediaPipe/TFLite
print warnings straight to the process's stderr from C++, before absl logging is set up) kept away
from the user's terminal, and the C allocator's handling of large buffers."""
from __future__ import annotations

import ctypes
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


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Every rendered frame makes and drops a few dozen frame-sized arrays (maps, fields, layers:
# 0.5-16 MB). By default glibc serves blocks that large with a fresh mmap, or hands the freed
# top of its heap back to the system, so each frame pays again for zeroed pages. Its adaptive
# threshold decides which by what the process freed earlier, so the same frame cost 10 ms or
# 15 ms depending on unrelated earlier work. Fixed thresholds keep those buffers in the heap.
_MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
_TRIM_THRESHOLD = 256 << 20


def keep_frame_buffers_in_heap() -> bool:
    """Sets the allocator thresholds above (glibc only); False where they do not apply."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl): its own allocator
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mmap_set = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    trim_set = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    return bool(mmap_set and trim_set)
