"""Behavioural tests of the audio-to-motion module on synthetic transcripts and prosody."""
from __future__ import annotations

import csv
import time

import numpy as np
import pytest

from pipelines.motion import AudioToMotion, known_cue_kinds, motion_to_csv
from pipelines.settings import MotionSettings
from pipelines.types import (ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, EmotionTrack, Phone, Prosody, SceneCue,
                             SceneDescription, Segment, SegmentEmotion, Transcript)

FPS = 25.0
HOP = 0.01
MOUTH = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft",
         "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthUpperUpLeft",
         "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
         "mouthPressRight", "tongueOut")
VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH",
          "UW"}


def make_transcript(spec: list[tuple[str, float]], source: str = "aligned") -> Transcript:
    phones, t = [], 0.0
    for label, dur in spec:
        phones.append(Phone(label, t, t + dur))
        t += dur
    return Transcript(text="", phones=phones, source=source)


def make_prosody(transcript: Transcript, duration: float, level: float = 0.85,
                 rng: np.random.Generator | None = None) -> Prosody:
    """Loudness `level` on vowels, lower on consonants, 0 in silences; a pitch contour."""
    n = int(np.ceil(duration / HOP)) + 1
    t = np.arange(n) * HOP
    loud = np.zeros(n)
    for p in transcript.phones:
        if p.label == "SIL":
            continue
        inside = (t >= p.start) & (t < p.end)
        loud[inside] = level if p.label in VOWELS else 0.45 * level
    if rng is not None:
        loud = np.clip(loud * rng.uniform(0.7, 1.2, n), 0, 1.2)
    speech = loud > 0
    f0 = np.where(speech, 120 + 25 * np.sin(2 * np.pi * 0.7 * t), 0.0)
    return Prosody(hop=HOP, rms=0.1 * loud, loudness=loud, f0=f0, voiced=speech, speech=speech)


def sentence(repeats: int = 1) -> list[tuple[str, float]]:
    words = [("B", 0.07), ("AA", 0.16), ("T", 0.06), ("M", 0.08), ("IY", 0.12), ("P", 0.06),
             ("UW", 0.14), ("K", 0.06), ("AE", 0.15), ("M", 0.05), ("AH", 0.1), ("V", 0.07),
             ("OW", 0.18), ("B", 0.03), ("AY", 0.2), ("S", 0.1)]
    return [("SIL", 0.4)] + words * repeats + [("SIL", 0.5)]


def run(transcript, prosody, duration, seed=0, settings=None, **kw):
    a2m = AudioToMotion(settings or MotionSettings())
    return a2m(transcript=transcript, prosody=prosody, duration=duration, fps=FPS, seed=seed,
               **kw)


def frame_at(t: float, lead: float = MotionSettings().lip_lead_s) -> int:
    """The frame that shows the mouth shape of audio time t (the mouth leads the audio)."""
    return int(round((t - lead) * FPS))


@pytest.fixture(scope="module")
def speech_case():
    tr = make_transcript(sentence(3))
    dur = tr.phones[-1].end
    return tr, make_prosody(tr, dur), dur


# ------------------------------------------------------------------------------ basics

@pytest.mark.parametrize("duration,fps", [(3.37, 25.0), (2.0, 30.0), (1.01, 24.0), (0.0, 25.0)])
def test_frame_count_matches_duration(duration, fps):
    tr = make_transcript([("SIL", 0.2), ("AA", max(duration - 0.2, 0.05))])
    m = AudioToMotion(MotionSettings())(transcript=tr, prosody=make_prosody(tr, duration + 0.1),
                                        duration=duration, fps=fps, seed=1)
    n = round(duration * fps)
    assert m.blendshapes.shape == (n, 52) and m.head_pose.shape == (n, 6)
    assert m.blendshapes.dtype == np.float32 and m.head_pose.dtype == np.float32
    assert m.blendshape_names == ARKIT_BLENDSHAPES
    if n:
        assert m.blendshapes.min() >= 0.0 and m.blendshapes.max() <= 1.0


def test_deterministic_per_seed_and_seeds_differ(speech_case):
    tr, pros, dur = speech_case
    a, b = run(tr, pros, dur, seed=7), run(tr, pros, dur, seed=7)
    np.testing.assert_array_equal(a.blendshapes, b.blendshapes)
    np.testing.assert_array_equal(a.head_pose, b.head_pose)
    c = run(tr, pros, dur, seed=8)
    assert np.abs(a.head_pose - c.head_pose).max() > 0.2
    assert not np.array_equal(a.column("eyeBlinkLeft"), c.column("eyeBlinkLeft"))
    # The mouth follows the speech, not the seed.
    np.testing.assert_allclose(a.column("jawOpen"), c.column("jawOpen"))


def test_runs_fast_on_a_30s_clip():
    tr = make_transcript(sentence(13))
    dur = 30.0
    pros = make_prosody(tr, dur)
    run(tr, pros, dur)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    m = run(tr, pros, dur, emotion=EmotionTrack([SegmentEmotion(Segment(0, 30), "happy", 0.5)]),
            scene=SceneDescription(cues=[SceneCue("nod", 3, 4), SceneCue("keep_still", 10, 12)]))
    assert m.num_frames == 750
    assert time.perf_counter() - t0 < 0.5


# ------------------------------------------------------------------------------ mouth

def _assert_bilabials_closed(m, tr):
    for p in tr.phones:
        if p.label in ("P", "B", "M"):
            i = frame_at((p.start + p.end) / 2)
            assert m.column("jawOpen")[i] <= 0.05, (p, m.column("jawOpen")[i])
            assert m.column("mouthClose")[i] >= 0.9, (p, m.column("mouthClose")[i])
            opening = (m.column("mouthLowerDownLeft")[i] + m.column("mouthUpperUpLeft")[i]
                       + m.column("mouthFunnel")[i])
            assert opening < 0.05, (p, opening)


def test_bilabials_close_the_lips(speech_case):
    tr, pros, dur = speech_case
    _assert_bilabials_closed(run(tr, pros, dur), tr)


@pytest.mark.parametrize("label", ["surprised", "disgusted", "happy", "fearful", "angry"])
def test_bilabial_closure_wins_under_emotion(speech_case, label):
    tr, pros, dur = speech_case
    emotion = EmotionTrack([SegmentEmotion(Segment(0, dur), label, 1.0)])
    m = run(tr, pros, dur, emotion=emotion,
            settings=MotionSettings(expression_strength=1.5, jaw_gain=1.5))
    _assert_bilabials_closed(m, tr)
    # ... and the mouth still opens on the vowels.
    aa = [frame_at((p.start + p.end) / 2) for p in tr.phones if p.label == "AA"]
    assert m.column("jawOpen")[aa].min() > 0.2


def test_open_vowels_open_more_than_bilabials(speech_case):
    tr, pros, dur = speech_case
    m = run(tr, pros, dur)
    jaw = m.column("jawOpen")

    def at(labels):
        return np.array([jaw[frame_at((p.start + p.end) / 2)] for p in tr.phones
                         if p.label in labels])
    open_v = at({"AA", "AE", "AY"})
    assert open_v.min() > 0.2 and open_v.max() < 0.75
    assert open_v.mean() > at({"P", "B", "M"}).max() + 0.2
    assert open_v.mean() > at({"IY", "UW"}).mean()


def test_rounded_and_spread_vowels_and_labiodentals(speech_case):
    tr, pros, dur = speech_case
    m = run(tr, pros, dur)

    def mean_at(label, channel):
        return np.mean([m.column(channel)[frame_at((p.start + p.end) / 2)]
                        for p in tr.phones if p.label == label])
    assert mean_at("UW", "mouthPucker") > 0.4
    assert mean_at("UW", "mouthPucker") > mean_at("IY", "mouthPucker") + 0.3
    assert mean_at("IY", "mouthStretchLeft") > mean_at("UW", "mouthStretchLeft") + 0.15
    assert mean_at("V", "mouthRollLower") > 0.3


def test_coarticulation_rounds_a_consonant_between_rounded_vowels():
    rounded = make_transcript([("SIL", 0.3), ("UW", 0.15), ("K", 0.07), ("UW", 0.15),
                               ("SIL", 0.4)])
    spread = make_transcript([("SIL", 0.3), ("IY", 0.15), ("K", 0.07), ("IY", 0.15),
                              ("SIL", 0.4)])
    k = rounded.phones[2]
    i = frame_at((k.start + k.end) / 2)
    dur = 1.1
    mr = run(rounded, make_prosody(rounded, dur), dur)
    ms = run(spread, make_prosody(spread, dur), dur)
    assert mr.column("mouthPucker")[i] > 0.4
    assert mr.column("mouthPucker")[i] > ms.column("mouthPucker")[i] + 0.3


def test_louder_speech_opens_the_jaw_more(speech_case):
    tr, _, dur = speech_case
    loud = run(tr, make_prosody(tr, dur, level=0.95), dur).column("jawOpen")
    quiet = run(tr, make_prosody(tr, dur, level=0.3), dur).column("jawOpen")
    vowels = [frame_at((p.start + p.end) / 2) for p in tr.phones if p.label in VOWELS]
    assert loud[vowels].mean() > 1.4 * quiet[vowels].mean()
    assert quiet[vowels].mean() > 0.05  # mumbled, not shut


def test_mouth_leads_the_audio():
    tr = make_transcript([("SIL", 0.5), ("AA", 0.2), ("SIL", 0.8)])
    dur = 1.5
    jaw = run(tr, make_prosody(tr, dur), dur, settings=MotionSettings(idle_motion=0)).column(
        "jawOpen")
    peak_time = np.argmax(jaw) / FPS
    centre = 0.6
    assert centre - 0.1 <= peak_time < centre  # one to two frames ahead
    # Lips start moving before the sound starts.
    assert jaw[int(0.5 * FPS) - 1] > 0.02


def test_mouth_rests_in_a_long_pause():
    spec = sentence(1)[:-1] + [("SIL", 2.5)] + sentence(1)[1:]
    tr = make_transcript(spec)
    dur = tr.phones[-1].end
    m = run(tr, make_prosody(tr, dur), dur)
    pause = [p for p in tr.phones if p.label == "SIL" and p.end - p.start > 2][0]
    frames = slice(int((pause.start + 0.3) * FPS), int((pause.end - 0.3) * FPS))
    for name in MOUTH:
        assert m.column(name)[frames].max() < 0.02, name
    # Also at the very start and end of the clip.
    assert m.column("jawOpen")[:3].max() < 0.02 and m.column("jawOpen")[-3:].max() < 0.02


def test_energy_mode_follows_loudness_and_ignores_noise():
    dur, n = 6.0, 601
    rng = np.random.default_rng(3)
    t = np.arange(n) * HOP
    noise = rng.uniform(0.0, 0.08, n)
    speaking = (t > 2.0) & (t < 4.0)
    syll = 0.35 + 0.6 * np.sin(2 * np.pi * 2 * t) ** 2  # 4 syllables per second
    loud = np.where(speaking, syll, noise)
    pros = Prosody(HOP, 0.1 * loud, loud, np.where(speaking, 130.0, 0.0), speaking, speaking)
    tr = Transcript(text="", source="energy")
    m = run(tr, pros, dur)
    jaw = m.column("jawOpen")
    quiet = np.r_[0:int(1.8 * FPS), int(4.3 * FPS):len(jaw)]
    for name in MOUTH:
        assert m.column(name)[quiet].max() < 0.01, name
    talk = jaw[int(2.3 * FPS):int(3.7 * FPS)]
    assert 0.15 < talk.max() < 0.7
    assert talk.std() > 0.03  # syllables, not a held-open mouth
    # Noise that the VAD calls speech but is near the floor still does not chatter.
    pros2 = Prosody(HOP, 0.1 * noise, noise, np.zeros(n), np.zeros(n, bool), np.ones(n, bool))
    assert run(tr, pros2, dur).column("jawOpen").max() < 0.01


def test_unaligned_speech_still_moves_the_mouth():
    """A stretch of loud speech the aligner left without phones follows loudness."""
    tr = make_transcript(sentence(1) + [("SIL", 1.2)] + sentence(1)[1:])
    dur = tr.phones[-1].end
    pros = make_prosody(tr, dur)
    gap = [p for p in tr.phones if p.label == "SIL" and p.end - p.start > 1][0]
    t = np.arange(len(pros.loudness)) * HOP
    inside = (t > gap.start + 0.2) & (t < gap.end - 0.2)
    pros.loudness[inside] = 0.5 + 0.4 * np.sin(2 * np.pi * 2 * t[inside]) ** 2
    pros.speech[inside] = True
    jaw = run(tr, pros, dur).column("jawOpen")
    frames = slice(int((gap.start + 0.4) * FPS), int((gap.end - 0.4) * FPS))
    assert jaw[frames].max() > 0.15


def test_recognised_phones_in_silence_are_gated_by_voice_activity():
    tr = make_transcript(sentence(2), source="phones")
    dur = tr.phones[-1].end
    n = int(np.ceil(dur / HOP)) + 1
    quiet = Prosody(HOP, np.zeros(n), np.full(n, 0.03), np.zeros(n), np.zeros(n, bool),
                    np.zeros(n, bool))
    m = run(tr, quiet, dur)
    for name in ("jawOpen", "mouthPucker", "mouthFunnel", "mouthStretchLeft"):
        assert m.column(name).max() < 0.02, name
    # The same phones with speech present articulate normally.
    assert run(tr, make_prosody(tr, dur), dur).column("jawOpen").max() > 0.3


def test_blinks_avoid_stressed_peaks(speech_case):
    from pipelines.motion.features import ProsodyFeatures
    tr, pros, dur = speech_case
    feats = ProsodyFeatures.from_prosody(pros, dur)
    strong = feats.accent_times[feats.accent_strength > 0.4]
    assert strong.size >= 3
    for seed in range(20):
        lid = run(tr, pros, dur, seed=seed,
                  settings=MotionSettings(blink_rate_per_min=40)).column("eyeBlinkLeft")
        assert lid[np.round(strong * FPS).astype(int)].max() < 0.5


def test_transcript_without_phones_falls_back_to_energy():
    dur = 2.0
    n = 201
    loud = np.where((np.arange(n) * HOP > 0.5) & (np.arange(n) * HOP < 1.5), 0.8, 0.0)
    pros = Prosody(HOP, loud, loud, np.zeros(n), loud > 0, loud > 0)
    m = run(Transcript(text="hello", source="aligned"), pros, dur)
    assert m.column("jawOpen").max() > 0.15


# ------------------------------------------------------------------------------ eyes

@pytest.mark.parametrize("rate", [12.0, 17.0, 25.0])
def test_blink_rate_matches_setting(rate):
    dur = 60.0
    tr = make_transcript(sentence(25))
    pros = make_prosody(tr, dur)
    counts = []
    for seed in range(4):
        m = run(tr, pros, dur, seed=seed, settings=MotionSettings(blink_rate_per_min=rate))
        lid = m.column("eyeBlinkLeft")
        assert np.array_equal(lid, m.column("eyeBlinkRight"))
        closed = lid > 0.5
        counts.append(int(np.sum(closed[1:] & ~closed[:-1]) + closed[0]))
        assert lid.max() > 0.9
    for c in counts:
        assert abs(c - rate) <= 0.3 * rate, counts
    assert abs(np.mean(counts) - rate) <= 0.15 * rate, counts


def test_blinks_are_short_and_irregular():
    dur = 60.0
    tr = make_transcript([("SIL", dur)])
    m = run(tr, make_prosody(tr, dur), dur, seed=2)
    closed = m.column("eyeBlinkLeft") > 0.5
    starts = np.flatnonzero(closed[1:] & ~closed[:-1]) + 1
    ends = np.flatnonzero(~closed[1:] & closed[:-1]) + 1
    widths = (ends[:len(starts)] - starts[:len(ends)]) / FPS
    assert widths.max() <= 0.3
    gaps = np.diff(starts) / FPS
    assert gaps.std() / gaps.mean() > 0.25


def test_tiny_clip_works():
    tr = make_transcript([("SIL", 0.05), ("AA", 0.1), ("SIL", 0.05)])
    m = run(tr, make_prosody(tr, 0.2), 0.2)
    assert m.num_frames == 5


def test_saccades_can_be_turned_off(speech_case):
    tr, pros, dur = speech_case
    gaze = ("eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeLookDownLeft")
    on = run(tr, pros, dur, settings=MotionSettings(gaze_stabilisation=0))
    off = run(tr, pros, dur, settings=MotionSettings(gaze_stabilisation=0, saccades=False))
    assert max(on.column(c).max() for c in gaze) > 0.05
    assert max(off.column(c).max() for c in gaze) == 0.0


# ------------------------------------------------------------------------------ head

def _head_energy(m) -> float:
    return float(np.std(m.head_pose[:, :3], axis=0).sum())


def test_head_motion_scales_with_setting(speech_case):
    tr, pros, dur = speech_case
    still = run(tr, pros, dur, settings=MotionSettings(head_motion=0, idle_motion=0))
    assert np.abs(still.head_pose).max() == 0.0
    idle = run(tr, pros, dur, settings=MotionSettings(head_motion=0))
    normal = run(tr, pros, dur, settings=MotionSettings(head_motion=1))
    big = run(tr, pros, dur, settings=MotionSettings(head_motion=2))
    assert np.abs(idle.head_pose[:, :3]).max() < 3.5  # idle drift and breathing only
    assert _head_energy(idle) < _head_energy(normal) < _head_energy(big)
    assert _head_energy(big) > 1.5 * _head_energy(idle)
    yaw, pitch, roll = np.abs(normal.head_pose[:, :3]).max(axis=0)
    assert yaw < 8 and pitch < 7 and roll < 4


def test_head_motion_is_smooth(speech_case):
    tr, pros, dur = speech_case
    for seed in range(3):
        pose = run(tr, pros, dur, seed=seed).head_pose[:, :3]
        assert np.abs(np.diff(pose, axis=0)).max() < 1.5  # degrees per frame
        assert np.abs(np.diff(pose, n=2, axis=0)).max() < 1.0
        # No jitter: almost nothing left after a 3-frame moving average.
        residual = pose[1:-1] - (pose[:-2] + pose[1:-1] + pose[2:]) / 3
        assert np.abs(residual).max() < 0.3


def test_breathing_in_idle_motion():
    dur = 20.0
    tr = make_transcript([("SIL", dur)])
    m = run(tr, make_prosody(tr, dur), dur, settings=MotionSettings(head_motion=0))
    ty = m.head_pose[:, 4] - np.convolve(m.head_pose[:, 4], np.ones(101) / 101, mode="same")
    spec = np.abs(np.fft.rfft(ty[60:-60]))
    freqs = np.fft.rfftfreq(len(ty) - 120, 1 / FPS)
    assert 0.15 <= freqs[np.argmax(spec)] <= 0.35


# ------------------------------------------------------------------------------ emotion

def test_happy_overlay_raises_smile_in_its_segment_only(speech_case):
    tr, pros, dur = speech_case
    emotion = EmotionTrack([SegmentEmotion(Segment(0, 2.0), "neutral", 0.0),
                            SegmentEmotion(Segment(2.0, 4.0), "happy", 0.8),
                            SegmentEmotion(Segment(4.0, dur), "neutral", 0.0)])
    m = run(tr, pros, dur, emotion=emotion)
    smile = m.column("mouthSmileLeft")
    t = np.arange(m.num_frames) / FPS
    assert smile[(t > 2.3) & (t < 3.7)].min() > 0.4
    assert smile[t < 1.7].max() < 0.01 and smile[t > 4.3].max() < 0.01
    # Ramps in over several frames (0.4 s), never a one-frame pop.
    assert np.abs(np.diff(smile)).max() < 0.2 * smile.max()
    assert m.column("cheekSquintLeft")[(t > 2.3) & (t < 3.7)].min() > 0.2
    neutral = run(tr, pros, dur)
    assert neutral.column("mouthSmileLeft").max() == 0.0
    # A segment that starts with the clip holds its expression from the first frame.
    whole = run(tr, pros, dur,
                emotion=EmotionTrack([SegmentEmotion(Segment(0, dur), "happy", 0.8)]))
    assert whole.column("mouthSmileLeft")[[0, -1]].min() > 0.5


@pytest.mark.parametrize("label,channel", [
    ("sad", "browInnerUp"), ("sad", "mouthFrownLeft"), ("angry", "browDownLeft"),
    ("surprised", "eyeWideLeft"), ("surprised", "browOuterUpLeft"), ("fearful", "eyeWideLeft"),
    ("disgusted", "noseSneerLeft"), ("contempt", "mouthDimpleLeft")])
def test_each_emotion_drives_its_action_units(speech_case, label, channel):
    tr, pros, dur = speech_case
    m = run(tr, pros, dur, emotion=EmotionTrack([SegmentEmotion(Segment(0, dur), label, 1.0)]))
    # Median over a clip that is mostly speech: a sad frown eases to 0.7 while talking.
    assert np.median(m.column(channel)) > 0.12
    half = run(tr, pros, dur, emotion=EmotionTrack([SegmentEmotion(Segment(0, dur), label, 0.5)]))
    assert np.median(half.column(channel)) < np.median(m.column(channel))


@pytest.mark.parametrize("label", ["sad", "angry"])
def test_lip_closing_expressions_give_way_to_speech(speech_case, label):
    """A sad or angry face presses its lips and raises its chin in pauses, but still opens
    its mouth for every word: the jaw follows the words as in a neutral take (an angry one
    as far, a sad one, low in energy, a little less far: not so little that the words can no
    longer be read off the lips)."""
    tr, pros, dur = speech_case
    m = run(tr, pros, dur, emotion=EmotionTrack([SegmentEmotion(Segment(0, dur), label, 1.0)]))
    neutral = run(tr, pros, dur)
    t = np.arange(m.num_frames) / FPS
    pause, speech = t > dur - 0.2, (t > 1.0) & (t < dur - 1.0)
    chin = m.column("mouthShrugLower")
    assert chin[pause].min() > 0.3
    assert chin[speech].mean() < 0.25 * chin[pause].min()
    jaw, neutral_jaw = m.column("jawOpen")[speech], neutral.column("jawOpen")[speech]
    assert np.corrcoef(jaw, neutral_jaw)[0, 1] > 0.95
    if label == "angry":
        np.testing.assert_allclose(jaw.mean(), neutral_jaw.mean(), rtol=0.15)
        # Talking, the lips stay tight and the upper lip lifts off the teeth (AU23 + AU10):
        # an angry face does not talk with a neutral mouth.
        for channel in ("mouthPressLeft", "mouthUpperUpLeft"):
            assert (m.column(channel)[speech].mean()
                    > neutral.column(channel)[speech].mean() + 0.15), channel
        assert m.column("mouthUpperUpLeft")[pause].max() < 0.05
    else:
        assert 0.85 < jaw.mean() / neutral_jaw.mean() < 0.99
    if label == "sad":  # the corners stay well down while talking, fully in pauses
        frown = m.column("mouthFrownLeft")
        assert frown[pause].min() > 0.9 and 0.5 < frown[speech].mean() < 0.9
        # ... and the lower lip, which the frown bends up, drops for the words.
        lower = m.column("mouthLowerDownLeft")
        assert lower[pause].max() < 0.05 and lower[speech].mean() > 0.1
    _assert_bilabials_closed(m, tr)


def test_contempt_is_one_sided(speech_case):
    tr, pros, dur = speech_case
    m = run(tr, pros, dur,
            emotion=EmotionTrack([SegmentEmotion(Segment(0, dur), "contempt", 1.0)]))
    assert m.column("mouthDimpleLeft").mean() > m.column("mouthDimpleRight").mean() + 0.2


# ------------------------------------------------------------------------------ scene cues

def test_keep_still_damps_head_motion(speech_case):
    tr, pros, dur = speech_case
    settings = MotionSettings(head_motion=1.5)
    free = run(tr, pros, dur, settings=settings)
    still = run(tr, pros, dur, settings=settings,
                scene=SceneDescription(cues=[SceneCue("keep_still", 2.0, 5.0)]))
    t = np.arange(free.num_frames) / FPS
    w = (t > 2.4) & (t < 4.6)
    assert np.abs(still.head_pose[w, :3]).max() < 0.3 * np.abs(free.head_pose[w, :3]).max()
    outside = t < 1.5
    np.testing.assert_allclose(still.head_pose[outside], free.head_pose[outside])
    assert np.abs(np.diff(still.head_pose[:, :3], axis=0)).max() < 2.0


@pytest.mark.parametrize("kind,column,sign", [
    ("nod", 1, 1), ("tilt_left", 2, 1), ("tilt_right", 2, -1)])
def test_head_gesture_cues(speech_case, kind, column, sign):
    tr, pros, dur = speech_case
    settings = MotionSettings(head_motion=0, idle_motion=0)
    m = run(tr, pros, dur, settings=settings, scene=SceneDescription(cues=[SceneCue(kind, 2, 3)]))
    t = np.arange(m.num_frames) / FPS
    inside = m.head_pose[(t >= 2) & (t <= 3), column]
    assert (sign * inside).max() > 4.0
    assert np.abs(m.head_pose[(t < 1.9) | (t > 3.1)]).max() < 1e-6


def test_shake_and_look_away_cues(speech_case):
    tr, pros, dur = speech_case
    settings = MotionSettings(head_motion=0, idle_motion=0, saccades=False)
    m = run(tr, pros, dur, settings=settings, scene=SceneDescription(
        cues=[SceneCue("shake", 1, 2.5), SceneCue("look_away", 3, 4)]))
    t = np.arange(m.num_frames) / FPS
    yaw = m.head_pose[:, 0]
    shake = yaw[(t > 1) & (t < 2.5)]
    assert shake.max() > 4 and shake.min() < -4
    away = (t > 3.3) & (t < 3.7)
    gaze = np.stack([m.column(c) for c in ("eyeLookOutLeft", "eyeLookInLeft")])
    assert gaze[:, away].max() > 0.3


def test_expression_cues_and_unknown_kinds(speech_case):
    tr, pros, dur = speech_case
    assert {"nod", "shake", "tilt_left", "tilt_right", "look_away", "smile", "raise_brows",
            "keep_still"} <= set(known_cue_kinds())
    m = run(tr, pros, dur, scene=SceneDescription(cues=[
        SceneCue("smile", 1, 2.5), SceneCue("raise_brows", 3, 4, strength=0.8),
        SceneCue("juggle", 0, 5)]))
    t = np.arange(m.num_frames) / FPS
    assert m.column("mouthSmileRight")[(t > 1.4) & (t < 2.1)].min() > 0.4
    assert m.column("mouthSmileRight")[t < 0.9].max() == 0.0
    assert m.column("browInnerUp")[(t > 3.3) & (t < 3.7)].min() > 0.4
    _assert_bilabials_closed(m, tr)


# ------------------------------------------------------------------------------ export

def test_csv_export(tmp_path, speech_case):
    tr, pros, dur = speech_case
    m = run(tr, pros, dur)
    path = motion_to_csv(m, tmp_path / "sub" / "motion.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:8] == ["frame", "time", "yaw", "pitch", "roll", "tx", "ty", "tz"]
    assert header[8:] == list(ARKIT_BLENDSHAPES) and len(header[8:]) == 52
    assert len(body) == m.num_frames
    assert float(body[10][1]) == pytest.approx(10 / FPS)
    j = header.index("jawOpen")
    np.testing.assert_allclose([float(r[j]) for r in body], m.column("jawOpen"), atol=1e-4)
    assert [p.name for p in path.parent.iterdir()] == ["motion.csv"]  # no temp file left


def test_a_smiling_photo_keeps_its_smile_only_when_neutral_or_happy():
    from pipelines.motion.expressions import still_expression

    rest = np.zeros(len(BLENDSHAPE_INDEX))
    rest[[BLENDSHAPE_INDEX["mouthSmileLeft"], BLENDSHAPE_INDEX["mouthSmileRight"]]] = 0.9
    smile = lambda w: w[BLENDSHAPE_INDEX["mouthSmileLeft"]]
    assert smile(still_expression("neutral", 1.0, rest)) == pytest.approx(0.9)
    assert smile(still_expression("happy", 1.0, rest)) >= 0.9
    # A surprised face that keeps a grin reads as a laugh.
    for opposed in ("surprised", "sad", "angry", "fearful", "disgusted"):
        assert smile(still_expression(opposed, 1.0, rest)) < 0.2, opposed
