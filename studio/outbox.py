"""The files a page may show or download, handed out as copies.

The studio never lets the web server reach into its data folder (the library database, every
project's media and takes). A file a page needs (the take just rendered, a thumbnail, a re-opened
project's portrait) is copied here first, under the name the creator should see, and Gradio then
serves its own copy of that. The folder lives in the system's temporary folder (where Gradio
accepts files from) and is removed when the studio stops.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import weakref
from pathlib import Path

# Copies are only needed until Gradio has taken its own: keep the last few hand-outs only.
KEEP_HANDOUTS = 64


class Outbox:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="synchrorama-outbox-"))
        self._handouts: list[Path] = []
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.root), True)

    def publish(self, files: list[tuple[Path, str]]) -> list[Path]:
        """Copies of `files` ((source, name the page shows) pairs), in one new folder."""
        folder = self.root / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        out = []
        for source, name in files:
            target = folder / name
            try:
                os.link(source, target)  # same disk: no bytes copied
            except OSError:
                shutil.copyfile(source, target)
            out.append(target)
        self._handouts.append(folder)
        while len(self._handouts) > KEEP_HANDOUTS:
            shutil.rmtree(self._handouts.pop(0), ignore_errors=True)
        return out

    def one(self, source: Path, name: str | None = None) -> str:
        return str(self.publish([(Path(source), name or Path(source).name)])[0])

    def close(self) -> None:
        self._remove()
