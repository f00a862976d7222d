"""Scene cues (SceneDescription.cues) layered over the audio-driven motion.

Each cue kind is a small function registered with `@cue("kind")`; it receives a `CueContext`
(frame times, the cue, a window envelope, a seeded RNG) and writes into a `CueLayers`
accumulator: additive head pose, additive blendshapes, additive gaze, and a multiplicative
damping of the audio-driven head motion. Adding a kind is one function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..types import BLENDSHAPE_INDEX, HEAD_POSE_COLUMNS, SceneCue, SceneDescription
from .signal import window

YAW, PITCH, ROLL, TX, TY, TZ = range(len(HEAD_POSE_COLUMNS))


@dataclass
class CueLayers:
    head: np.ndarray  # (N, 6) additive head pose
    shapes: np.ndarray  # (N, 52) additive blendshapes
    gaze: np.ndarray  # (N, 2) additive gaze (horizontal > 0: subject's left; vertical > 0: up)
    head_damp: np.ndarray  # (N,) multiplies the audio-driven and idle head motion
    gaze_damp: np.ndarray  # (N,) multiplies the wandering gaze (saccades)

    @classmethod
    def empty(cls, n: int) -> "CueLayers":
        return cls(np.zeros((n, 6)), np.zeros((n, len(BLENDSHAPE_INDEX))), np.zeros((n, 2)),
                   np.ones(n), np.ones(n))

    def add_shapes(self, weights: np.ndarray, values: dict[str, float]) -> None:
        for name, v in values.items():
            self.shapes[:, BLENDSHAPE_INDEX[name]] += weights * v


@dataclass
class CueContext:
    times: np.ndarray
    cue: SceneCue
    rng: np.random.Generator

    @property
    def strength(self) -> float:
        return float(np.clip(self.cue.strength, 0.0, 2.0))

    @property
    def duration(self) -> float:
        return max(self.cue.end - self.cue.start, 1e-3)

    def envelope(self, ramp: float = 0.25) -> np.ndarray:
        """1 inside the cue, smooth ramps inside its edges."""
        return window(self.times, self.cue.start, self.cue.end, ramp)

    def phase(self) -> np.ndarray:
        """0..1 across the cue (clipped outside)."""
        return np.clip((self.times - self.cue.start) / self.duration, 0.0, 1.0)

    def inside(self) -> np.ndarray:
        return (self.times >= self.cue.start) & (self.times <= self.cue.end)


CueHandler = Callable[[CueContext, CueLayers], None]
CUE_HANDLERS: dict[str, CueHandler] = {}


def cue(kind: str) -> Callable[[CueHandler], CueHandler]:
    def register(fn: CueHandler) -> CueHandler:
        CUE_HANDLERS[kind] = fn
        return fn
    return register


def known_cue_kinds() -> tuple[str, ...]:
    return tuple(sorted(CUE_HANDLERS))


def _both(prefix: str, value: float) -> dict[str, float]:
    return {f"{prefix}Left": value, f"{prefix}Right": value}


# ------------------------------------------------------------------------------ head gestures

@cue("nod")
def _nod(ctx: CueContext, out: CueLayers) -> None:
    """Down-up nods (about 0.6 s each) filling the cue."""
    count = max(1, round(ctx.duration / 0.6))
    u = ctx.phase()
    out.head[:, PITCH] += 7.0 * ctx.strength * 0.5 * (1 - np.cos(2 * np.pi * count * u)) * \
        ctx.inside()


@cue("shake")
def _shake(ctx: CueContext, out: CueLayers) -> None:
    """Side-to-side head shakes (about 0.5 s per cycle) under a smooth envelope."""
    count = max(1, round(ctx.duration / 0.5))
    u = ctx.phase()
    out.head[:, YAW] += 9.0 * ctx.strength * np.sin(2 * np.pi * count * u) * np.sin(np.pi * u)


@cue("tilt_left")
def _tilt_left(ctx: CueContext, out: CueLayers) -> None:
    out.head[:, ROLL] += 7.0 * ctx.strength * ctx.envelope(0.35)


@cue("tilt_right")
def _tilt_right(ctx: CueContext, out: CueLayers) -> None:
    out.head[:, ROLL] -= 7.0 * ctx.strength * ctx.envelope(0.35)


@cue("look_away")
def _look_away(ctx: CueContext, out: CueLayers) -> None:
    """Eyes (and a little of the head) turn aside and slightly down, then come back."""
    side = 1.0 if ctx.rng.random() < 0.5 else -1.0
    env = ctx.envelope(0.15) * ctx.strength
    out.gaze[:, 0] += 0.45 * side * env
    out.gaze[:, 1] -= 0.12 * env
    env_head = ctx.envelope(0.4) * ctx.strength
    out.head[:, YAW] -= 6.0 * side * env_head  # gaze towards subject's left = yaw < 0
    out.head[:, PITCH] += 1.5 * env_head


@cue("look_down")
def _look_down(ctx: CueContext, out: CueLayers) -> None:
    env = ctx.envelope(0.2) * ctx.strength
    out.gaze[:, 1] -= 0.4 * env
    # The eyes do most of the looking down; the head follows a little (a head pitched
    # further changes the face's look more than the glance needs).
    out.head[:, PITCH] += 2.5 * ctx.envelope(0.4) * ctx.strength


@cue("lean_in")
def _lean_in(ctx: CueContext, out: CueLayers) -> None:
    env = ctx.envelope(0.5) * ctx.strength
    out.head[:, TZ] += 0.08 * env
    out.head[:, PITCH] += 1.5 * env


@cue("lean_back")
def _lean_back(ctx: CueContext, out: CueLayers) -> None:
    env = ctx.envelope(0.5) * ctx.strength
    out.head[:, TZ] -= 0.06 * env
    out.head[:, PITCH] -= 2.0 * env  # chin up a little as the head draws back


@cue("look_at_camera")
def _look_at_camera(ctx: CueContext, out: CueLayers) -> None:
    """Steady eye contact: the wandering gaze settles on the lens."""
    out.gaze_damp *= 1.0 - 0.9 * min(ctx.strength, 1.0) * ctx.envelope(0.3)


@cue("keep_still")
def _keep_still(ctx: CueContext, out: CueLayers) -> None:
    """Damps the audio-driven and idle head motion inside the cue (explicit gestures stay):
    at full strength to 5 % of its amplitude."""
    out.head_damp *= 1.0 - 0.95 * min(ctx.strength, 1.0) * ctx.envelope(0.3)


@cue("emphasis")
def _emphasis(ctx: CueContext, out: CueLayers) -> None:
    """A word stressed with the face: brows up and a small downward beat of the head."""
    t = ctx.times - ctx.cue.start
    beat = np.exp(-0.5 * ((t - 0.18) / 0.12) ** 2) * ctx.strength
    out.head[:, PITCH] += 3.5 * beat
    out.add_shapes(beat, {"browInnerUp": 0.32, **_both("browOuterUp", 0.35)})


# ------------------------------------------------------------------------------ expressions

@cue("smile")
def _smile(ctx: CueContext, out: CueLayers) -> None:
    out.add_shapes(ctx.envelope(0.3) * ctx.strength,
                   {**_both("mouthSmile", 0.6), **_both("cheekSquint", 0.3),
                    **_both("eyeSquint", 0.1)})


@cue("raise_brows")
def _raise_brows(ctx: CueContext, out: CueLayers) -> None:
    out.add_shapes(ctx.envelope(0.2) * ctx.strength,
                   {"browInnerUp": 0.5, **_both("browOuterUp", 0.6), **_both("eyeWide", 0.15)})


@cue("frown")
def _frown(ctx: CueContext, out: CueLayers) -> None:
    out.add_shapes(ctx.envelope(0.3) * ctx.strength,
                   {**_both("browDown", 0.39), **_both("mouthFrown", 0.17)})


@cue("laugh")
def _laugh(ctx: CueContext, out: CueLayers) -> None:
    """A laugh: broad smile, squinting eyes, and quick small head bobs (about 4 per second)."""
    env = ctx.envelope(0.2) * ctx.strength
    out.add_shapes(env, {**_both("mouthSmile", 0.9), **_both("cheekSquint", 0.7),
                         **_both("eyeSquint", 0.5), **_both("mouthUpperUp", 0.5), "jawOpen": 0.12})
    out.head[:, PITCH] += 2.0 * env * np.sin(2 * np.pi * 4.0 * (ctx.times - ctx.cue.start)) ** 2
    out.head[:, PITCH] -= 2.0 * env  # head back a little


@cue("blink_slowly")
def _blink_slowly(ctx: CueContext, out: CueLayers) -> None:
    """A slow, deliberate blink (close over 0.25 s, hold, open over 0.4 s)."""
    t = ctx.times - ctx.cue.start
    lid = np.clip(np.minimum(t / 0.25, 1 - (t - 0.4) / 0.4), 0, 1) * (t >= 0)
    out.add_shapes(lid * min(ctx.strength, 1.0), _both("eyeBlink", 1.0))


@cue("blink")
def _blink(ctx: CueContext, out: CueLayers) -> None:
    """A deliberate blink at the cue's start (quick close, slower open)."""
    t = ctx.times - ctx.cue.start
    lid = np.clip(np.minimum(t / 0.1, 1 - (t - 0.14) / 0.25), 0, 1) * (t >= 0)
    out.add_shapes(lid * min(ctx.strength, 1.0), _both("eyeBlink", 1.0))


def apply_cues(times: np.ndarray, scene: SceneDescription | None,
               rng: np.random.Generator) -> CueLayers:
    layers = CueLayers.empty(len(times))
    if scene is None:
        return layers
    for c in scene.cues:
        handler = CUE_HANDLERS.get(c.kind.strip().lower().replace(" ", "_").replace("-", "_"))
        if handler is None or c.end <= c.start:
            continue  # unknown kinds are ignored (the scene stage may propose more than we do)
        # Each cue gets its own stream, so adding a cue does not change the others.
        seed = rng.integers(0, 2**63)
        handler(CueContext(times, c, np.random.default_rng(seed)), layers)
    return layers
