"""The process-wide native settings launch.py applies before any work."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Renders frames of the bundled portrait in a fresh process and prints the page faults a frame
# costs once the renderer is warm: frame-sized buffers the heap keeps are reused without
# faults; ones it hands back to the system are faulted in (zeroed) again in every frame.
_FAULTS_PER_FRAME = """
import resource, sys
sys.path.insert(0, {root!r})
import numpy as np
from pipelines.native import keep_frame_buffers_in_heap
print(keep_frame_buffers_in_heap())
from pipelines.face import FaceAnalyzer, load_portrait, frame_image
from pipelines.render.cpu import CpuRenderer
from pipelines.settings import RenderSettings
from pipelines.types import BLENDSHAPE_INDEX
image, reference = load_portrait({root!r} + "/assets/portrait.png")
face = FaceAnalyzer().analyze(image, reference, 512)
renderer = CpuRenderer(RenderSettings())
portrait = renderer.prepare(frame_image(image, face.framing), face)
def talk(frames):
    for i in range(frames):
        weights = portrait.rig.rest_expression.astype(np.float32)
        weights[BLENDSHAPE_INDEX["jawOpen"]] = 0.3 * (1 + np.sin(i / 3))
        renderer.render_frame(portrait, weights, np.zeros(6, np.float32))
talk(3)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
talk(10)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults_per_frame() -> tuple[str, float]:
    code = _FAULTS_PER_FRAME.format(root=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], float(out[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator setting")
def test_rendering_a_frame_reuses_its_buffers_without_new_page_faults():
    applied, faults = _faults_per_frame()
    assert applied == "True"
    # A 512 px frame's maps and layers are ~2,500 pages; reused buffers fault in almost none.
    assert faults < 100
