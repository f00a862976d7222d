"""Scene description: parsing, the offline template, the OpenAI-compatible LLM path against a real
loopback server, and the cues' effect on motion and on the rendered face."""
import json
import time

import pytest

from llm_server import FakeLLM, Reply
from pipelines.errors import LLMUnavailableError
from pipelines.scene import (SceneContext, SceneDirector, SceneRequest, TemplateSceneWriter,
                             answer_to_scene_text, cue_line, parse_scene_text)
from pipelines.scene.request import SegmentBrief
from pipelines.settings import SceneSettings
from pipelines.types import SceneCue, Segment, Word

SAID = "and mister john dashwood had then leisure to consider how much there might never be"


def _words():
    return tuple(Word(t, round(i * 0.5, 2), round(i * 0.5 + 0.4, 2)) for i, t in enumerate(SAID.split()))


@pytest.fixture
def request_():
    words = _words()
    segs = (SegmentBrief(0.0, 3.0, " ".join(SAID.split()[:6]), "happy", 0.8, 0.6, 0.3),
            SegmentBrief(3.9, 8.0, " ".join(SAID.split()[6:]) + "?", "sad", 0.7, -0.5, -0.4))
    portrait = {"summary": "A head-and-shoulders shot; the person faces the camera, smiling.",
                "framing": "full", "facing": "the camera"}
    return SceneRequest(duration=8.0, segments=segs, words=words, portrait=portrait)


def ctx():
    return SceneContext(8.0, _words(), (Segment(0, 3, " ".join(SAID.split()[:6])),
                                        Segment(3.9, 8, " ".join(SAID.split()[6:]))))


def kinds(cues):
    return [c.kind for c in cues]


# ------------------------------------------------------------------------------ parser

def test_a_sentence_without_an_anchor_covers_the_whole_clip():
    assert [(c.kind, c.start, c.end) for c in parse_scene_text("She nods repeatedly.", ctx())] == \
        [("nod", 0.0, 8.0)]
    still = parse_scene_text("He keeps his head completely still the whole time.", ctx())
    assert kinds(still) == ["keep_still"] and (still[0].start, still[0].end) == (0.0, 8.0)


def test_cues_anchor_to_spoken_words_and_times():
    shake = parse_scene_text('When she says "never", she shakes her head.', ctx())
    never = next(w for w in _words() if w.text == "never")
    assert kinds(shake) == ["shake"] and shake[0].start <= never.start < shake[0].end
    smile = parse_scene_text("She smiles from 2 to 3.5 s.", ctx())
    assert (smile[0].kind, smile[0].start, smile[0].end) == ("smile", 2.0, 3.5)
    line = parse_scene_text("[4.00–6.00 s] She looks down, then glances away.", ctx())
    assert [(c.kind, c.start, c.end) for c in line] == [("look_down", 4.0, 5.0), ("look_away", 5.0, 6.0)]
    mixed = parse_scene_text("She nods repeatedly as she speaks, and smiles from 4 to 6 s.", ctx())
    assert [(c.kind, c.start, c.end) for c in mixed] == [("nod", 0.0, 8.0), ("smile", 4.0, 6.0)]
    opening = parse_scene_text("After 5 s she leans back and laughs.", ctx())
    assert [(c.kind, c.start) for c in opening] == [("lean_back", 5.0), ("laugh", 5.0)]
    quoted = parse_scene_text('She leans in on "leisure to consider how much".', ctx())
    assert kinds(quoted) == ["lean_in"] and (quoted[0].start, quoted[0].end) == (3.0, 5.4)


def said(text):
    return next(w for w in _words() if w.text == text)


def covers(cue, word):
    return cue.start <= word.start < cue.end


def test_each_clause_keeps_its_own_anchor():
    """A word or time belongs to the clause it is written in, even when the next cue phrase
    is fewer characters away from it than its own."""
    leisure = said("leisure")
    brows, tilt = parse_scene_text(
        'She raises her brows when she says "leisure" and tilts her head left from 5 to 6.5 s.', ctx())
    assert brows.kind == "raise_brows" and covers(brows, leisure)
    assert (tilt.kind, tilt.start, tilt.end) == ("tilt_left", 5.0, 6.5)
    tilt, brows = parse_scene_text(
        'She tilts her head left from 5 to 6.5 s and raises her brows when she says "leisure".', ctx())
    assert (tilt.kind, tilt.start, tilt.end) == ("tilt_left", 5.0, 6.5)
    assert brows.kind == "raise_brows" and covers(brows, leisure)
    # A comma between the anchor and the next clause's time: the first break ends the clause.
    brows, tilt = parse_scene_text(
        'She raises her brows when she says "leisure" and, from 5 to 6.5 s, tilts her head left.', ctx())
    assert covers(brows, leisure) and (tilt.start, tilt.end) == (5.0, 6.5)


def test_two_spoken_words_in_two_clauses():
    nod, shake = parse_scene_text('She nods when she says "dashwood" and shakes her head on "never".', ctx())
    assert (nod.kind, shake.kind) == ("nod", "shake")
    assert covers(nod, said("dashwood")) and covers(shake, said("never"))
    # The template's line for an angry question: the tilt is held over the segment, not taken
    # by the word of the clause before it.
    cues = parse_scene_text('[3.90–8.00 s] the speaker frowns, shakes the head when saying "consider", '
                            'tilts the head to the left and nods gently when saying "never".', ctx())
    by_kind = {c.kind: c for c in cues}
    assert (by_kind["frown"].start, by_kind["frown"].end) == (3.9, 8.0)
    assert (by_kind["tilt_left"].start, by_kind["tilt_left"].end) == (3.9, 8.0)
    assert covers(by_kind["shake"], said("consider")) and covers(by_kind["nod"], said("never"))


def test_a_then_step_with_its_own_time_keeps_it():
    down, away = parse_scene_text("She looks down from 2 to 4 s, then glances away.", ctx())
    assert (down.kind, down.start, down.end) == ("look_down", 2.0, 4.0)
    assert away.kind == "look_away" and away.start >= 4.0
    # A time that opens the sentence still covers all its steps, and an "and" inside a time
    # expression is no clause break.
    down, away = parse_scene_text("From 2 to 4 s she looks down, then glances away.", ctx())
    assert [(c.start, c.end) for c in (down, away)] == [(2.0, 3.0), (3.0, 4.0)]
    smile, nod = parse_scene_text("She smiles between 2 and 3 seconds and nods.", ctx())
    assert (smile.start, smile.end) == (2.0, 3.0) and nod.start == 0.0


def test_negation_direction_strength_and_quoted_speech():
    assert parse_scene_text("She does not nod and never smiles.", ctx()) == []
    assert parse_scene_text("She doesn't nod. She didn't smile.", ctx()) == []
    assert kinds(parse_scene_text("She tilts her head to the right.", ctx())) == ["tilt_right"]
    assert kinds(parse_scene_text("She tilts her head.", ctx())) == ["tilt_left"]
    weak, strong = (parse_scene_text(t, ctx())[0].strength
                    for t in ("She smiles slightly.", "She smiles broadly."))
    assert weak < 1.0 < strong
    # What is said is not what is done.
    assert parse_scene_text('She says "I always smile and nod".', ctx()) == []
    # ... even when the quote holds sentences of its own (as the template quotes a segment).
    assert parse_scene_text('[0.00–3.00 s] “Well. I smile, I nod. I never frown…” — calm; '
                            'she looks down.', ctx()) == [SceneCue("look_down", 0.0, 3.0, 1.0)]
    assert parse_scene_text("The weather is nice.", ctx()) == []


def test_a_cue_line_parses_back_to_the_same_cue():
    for cue in (SceneCue("nod", 1.0, 1.9, 1.0), SceneCue("smile", 2.0, 5.5, 0.5),
                SceneCue("nod", 0.5, 6.0, 1.4), SceneCue("keep_still", 0.0, 8.0, 1.0)):
        (back,) = parse_scene_text(cue_line(cue), ctx())
        assert back.kind == cue.kind
        assert (back.start, back.end) == pytest.approx((cue.start, cue.end), abs=0.01)
        assert (back.strength < 1) == (cue.strength < 0.75) and (back.strength > 1) == (cue.strength > 1.25)


# ------------------------------------------------------------------------------ template

def test_the_template_describes_portrait_segments_and_emotions(request_):
    text = TemplateSceneWriter().write(request_)
    assert request_.portrait["summary"] in text
    assert "[0.00–3.00 s]" in text and "[3.90–8.00 s]" in text
    assert "happy" in text and "sad" in text
    assert "glances away" in text  # the 0.9 s pause between the segments
    cues = parse_scene_text(text, request_.context)
    by_kind = {}
    for c in cues:
        by_kind.setdefault(c.kind, c)  # the first of each kind
    assert by_kind["smile"].start == 0.0 and by_kind["smile"].end == 3.0 and by_kind["smile"].strength > 1
    assert by_kind["look_down"].start == 3.9
    assert "tilt_left" in by_kind  # the second segment is a question
    assert "look_at_camera" in by_kind and by_kind["look_at_camera"].start == 0.0
    assert 3.0 <= by_kind["look_away"].start < by_kind["look_away"].end <= 3.9


def test_the_template_is_deterministic_and_sparse(request_):
    a, b = TemplateSceneWriter().write(request_), TemplateSceneWriter().write(request_)
    assert a == b
    assert len(parse_scene_text(a, request_.context)) <= 4 * len(request_.segments) + 2


# ------------------------------------------------------------------------------ LLM answers

def test_a_json_answer_becomes_editable_text_with_the_same_cues(request_):
    answer = json.dumps({"description": "She speaks warmly, then grows thoughtful.",
                         "cues": [{"kind": "nod", "start": 1.0, "end": 1.9},
                                  {"kind": "smile", "start": 0.0, "end": 3.0, "strength": 0.5},
                                  {"kind": "shake", "word": "never"},
                                  {"kind": "juggle", "start": 1, "end": 2},
                                  {"kind": "nod", "start": "soon"}]})
    text = answer_to_scene_text("```json\n" + answer + "\n```", request_)
    assert text.splitlines()[0] == "She speaks warmly, then grows thoughtful."
    cues = parse_scene_text(text, request_.context)
    assert kinds(cues) == ["nod", "smile", "shake"]  # unknown kinds and bad times dropped
    never = next(w for w in request_.words if w.text == "never")
    assert cues[2].start <= never.start <= cues[2].end


def test_an_llm_cue_anchors_to_a_spoken_phrase_as_the_text_does(request_):
    """The "word" of a JSON cue may be a phrase or carry capitals and punctuation."""
    answer = json.dumps({"description": "", "cues": [{"kind": "nod", "word": "John Dashwood,"},
                                                     {"kind": "shake", "word": "might never"}]})
    nod, shake = parse_scene_text(answer_to_scene_text(answer, request_), request_.context)
    said = {w.text: w for w in request_.words}
    assert nod.start <= said["john"].start and nod.end >= said["dashwood"].end
    assert shake.start <= said["might"].start and shake.end >= said["never"].end


@pytest.mark.parametrize("answer", ["", "   ", "<html><body>502 Bad Gateway</body></html>",
                                    "\x00\x01\x02 ### 12 34 56 @@", '{"cues": "none"}'])
def test_garbage_answers_are_refused(answer, request_):
    with pytest.raises(LLMUnavailableError):
        answer_to_scene_text(answer, request_)


def test_a_plain_text_answer_is_used_as_is(request_):
    text = "She smiles as she begins, then looks down and keeps her head still."
    assert answer_to_scene_text(text, request_) == text


# ------------------------------------------------------------------------------ the real server

@pytest.fixture
def llm():
    server = FakeLLM()
    yield server
    server.close()


def _settings(llm, **kw):
    base = dict(llm_base_url=llm.base_url, llm_model="tiny-director", timeout_s=2.0, retries=0)
    base.update(kw)
    return SceneSettings(**base)


ANSWER = json.dumps({"description": "She looks into the lens, warm at first, then subdued.",
                     "cues": [{"kind": "nod", "start": 0.5, "end": 1.4, "strength": 1.0},
                              {"kind": "look_down", "start": 4.0, "end": 6.0}]})


@pytest.mark.parametrize("stream", [False, True], ids=["json", "streaming"])
def test_the_request_carries_transcript_emotions_and_portrait(llm, request_, monkeypatch, stream):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    llm.replies = [Reply(ANSWER)]
    scene, warnings = SceneDirector(_settings(llm, stream=stream)).generate(request_)
    assert warnings == [] and scene.source == "llm"
    # The free-text description steers too: "looks into the lens" is eye contact.
    assert kinds(scene.cues) == ["look_at_camera", "nod", "look_down"]
    assert scene.text.startswith("She looks into the lens")
    (req,) = llm.requests
    assert req.path.endswith("/chat/completions")
    assert req.body["model"] == "tiny-director" and bool(req.body.get("stream")) == stream
    prompt = "\n".join(m["content"] for m in req.body["messages"])
    assert "leisure to consider" in prompt and "[3.90-8.00 s] sad" in prompt
    assert "[0.00-3.00 s] happy" in prompt and "valence +0.60" in prompt
    assert "head-and-shoulders" in prompt and "dashwood@1.50" in prompt
    assert req.headers.get("authorization") == "Bearer sk-test-secret"


def test_a_plain_text_streamed_answer_is_parsed(llm, request_):
    llm.replies = [Reply("The speaker nods repeatedly and smiles broadly throughout.")]
    scene, warnings = SceneDirector(_settings(llm, stream=True)).generate(request_)
    assert scene.source == "llm" and warnings == []
    assert sorted(kinds(scene.cues)) == ["nod", "smile"]


def test_a_slow_server_times_out_and_the_template_takes_over(llm, request_):
    llm.replies = [Reply(ANSWER, delay_s=3.0)]
    t0 = time.perf_counter()
    scene, warnings = SceneDirector(_settings(llm, timeout_s=0.5, stream=False)).generate(request_)
    assert time.perf_counter() - t0 < 2.5
    assert scene.source == "template" and scene.cues
    assert len(warnings) == 1 and "did not answer within 0.5 s" in warnings[0]
    assert "offline template" in warnings[0]


def test_a_slow_stream_is_cut_off(llm, request_):
    llm.replies = [Reply(ANSWER, chunk_delay_s=0.15)]
    scene, warnings = SceneDirector(_settings(llm, timeout_s=0.6, stream=True)).generate(request_)
    assert scene.source == "template" and warnings


@pytest.mark.parametrize("reply,expect", [
    (Reply(raw=b"\x89PNG\r\n\x1a\n garbage"), "unusable answer"),
    (Reply("<html><body>oops</body></html>"), "not a scene description"),
    (Reply(status=500), "HTTP 500"),
    (Reply("x " * 5000), "characters"),
], ids=["bytes", "html", "http500", "too-long"])
def test_malformed_answers_fall_back_with_a_reason(llm, request_, reply, expect):
    llm.replies = [reply]
    scene, warnings = SceneDirector(_settings(llm, stream=False, max_answer_chars=4000)).generate(request_)
    assert scene.source == "template"
    assert len(warnings) == 1 and expect in warnings[0], warnings


def test_retries_with_backoff_after_a_server_error(llm, request_):
    llm.replies = [Reply(status=503), Reply(ANSWER)]
    scene, warnings = SceneDirector(_settings(llm, retries=2, stream=False)).generate(request_)
    assert scene.source == "llm" and warnings == [] and len(llm.requests) == 2


def test_an_unreachable_endpoint_falls_back(request_):
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = SceneSettings(llm_base_url=f"http://127.0.0.1:{port}/v1", timeout_s=1.0, retries=0)
    scene, warnings = SceneDirector(settings).generate(request_)
    assert scene.source == "template" and "Could not reach" in warnings[0]


def test_without_an_endpoint_the_template_writes_silently(request_):
    scene, warnings = SceneDirector(SceneSettings()).generate(request_)
    assert scene.source == "template" and warnings == [] and scene.cues
    off, _ = SceneDirector(SceneSettings(mode="off")).generate(request_)
    assert off.text == "" and off.cues == []
