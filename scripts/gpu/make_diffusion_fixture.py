"""Writes the analysed project that tests/test_diffusion_gpu.py renders, for a GPU machine that
lacks the CPU analysis stack (MediaPipe, pocketsphinx, ...): run it where `bash setup.sh` was run,
carry the folder, and point SYNCHRORAMA_DIFFUSION_FIXTURE at it there.

    .venv/bin/python scripts/gpu/make_diffusion_fixture.py [.gpu_fixture]
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import diffusion_fixture  # noqa: E402
from pipelines.settings import PipelineSettings  # noqa: E402


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / ".gpu_fixture")
    # The render and face settings of tests/test_diffusion.py (they decide the framing and the
    # motion); the diffusion settings are the test's own.
    settings = PipelineSettings().with_overrides({
        "render": {"renderer": "diffusion", "size": 64}, "face": {"framing": "crop"}})
    project, matte = diffusion_fixture.analyse(settings)
    diffusion_fixture.save(folder, project, matte)
    print(f"{folder}: {project.motion.num_frames} frames, matte {matte.shape}")


if __name__ == "__main__":
    main()
