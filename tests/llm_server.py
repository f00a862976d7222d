"""A real OpenAI-compatible chat server on loopback, for tests (no mocks of the client library).

`FakeLLM` serves POST /v1/chat/completions with a scripted behaviour per request: a JSON answer
(non-streaming), the same content as server-sent events when the client asks for `stream`,
delays, HTTP errors, raw garbage bytes. Every request body and its headers are recorded.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0  # before answering (a slow or hung server)
    raw: bytes | None = None  # sent as is instead of a well-formed completion
    chunk_delay_s: float = 0.0  # between streamed chunks


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict


@dataclass
class FakeLLM:
    replies: list[Reply] = field(default_factory=list)  # one per request; the last one repeats
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {}
                fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                i = min(len(fake.requests), len(fake.replies)) - 1
                reply = fake.replies[i] if fake.replies else Reply("{}")
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    if reply.raw is not None:
                        self._send(reply.status, reply.raw, "application/json")
                    elif reply.status != 200:
                        err = {"error": {"message": "scripted failure", "type": "server_error"}}
                        self._send(reply.status, json.dumps(err).encode(), "application/json")
                    elif body.get("stream"):
                        self._stream(body, reply)
                    else:
                        self._send(200, json.dumps(_completion(body, reply.content)).encode(),
                                   "application/json")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, size limits)

            def _send(self, status: int, data: bytes, ctype: str):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict, reply: Reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                text = reply.content
                pieces = [text[i:i + 17] for i in range(0, len(text), 17)] or [""]
                for piece in pieces:
                    chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk",
                             "created": 0, "model": body.get("model", "test"),
                             "choices": [{"index": 0, "delta": {"content": piece},
                                          "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if reply.chunk_delay_s:
                        time.sleep(reply.chunk_delay_s)
                end = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
                       "model": body.get("model", "test"),
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _completion(body: dict, content: str) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
            "model": body.get("model", "test"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
