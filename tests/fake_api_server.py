"""A chat-completions server on loopback that injects faults, for the API runner's tests and benchmark.

It speaks OpenAI's ``POST /v1/chat/completions`` (and Anthropic's ``POST /v1/messages``), keys
every request by a hash of its messages (one key per sample), and asks ``plan(key, attempt)``
what to do with the attempt-th request for that key:

- ``ok``: answer (after ``latency`` seconds);
- ``429``: Too Many Requests with ``Retry-After: retry_after``;
- ``500``: an internal error whose body echoes the Authorization header (the client must redact);
- ``400``: a final client error;
- ``slow``: sleep ``slow_s`` (longer than the client's timeout), then answer into a closed socket;
- ``malformed``: 200 with a body that is not JSON;
- ``drop``: close the connection without a response.

``hits[key]`` lists (time, outcome) per request, so a test can count answers per sample.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Plan = Callable[[str, int], str]


def always_ok(key: str, attempt: int) -> str:
    return "ok"


def request_key(messages: Any) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16]


class FakeChatServer:
    def __init__(self, plan: Plan = always_ok, *, api_key: str | None = None, latency: float = 0.0,
                 slow_s: float = 1.0, retry_after: str = "1", answer: str = "A", prompt_tokens: int = 100,
                 completion_tokens: int = 1, served_model: str = "fake-model-2024-01-01"):
        self.plan = plan
        self.api_key = api_key
        self.latency = latency
        self.slow_s = slow_s
        self.retry_after = retry_after
        self.answer = answer
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.served_model = served_model
        self.hits: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.bodies: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> FakeChatServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # -- accounting ---------------------------------------------------------------------------
    def answered(self) -> dict[str, int]:
        """key -> number of requests that got a real answer."""
        with self.lock:
            return {k: sum(1 for _, o in v if o == "ok") for k, v in self.hits.items()}

    def total_hits(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.hits.values())


def _handler(fake: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length))
            anthropic = self.path.endswith("/messages")
            auth = self.headers.get("x-api-key") if anthropic else self.headers.get("Authorization")
            if fake.api_key is not None and auth not in (fake.api_key, f"Bearer {fake.api_key}"):
                self._send(401, b'{"error": {"message": "bad key"}}')
                return
            key = request_key(payload.get("messages"))
            with fake.lock:
                attempt = len(fake.hits[key])
                outcome = fake.plan(key, attempt)
                fake.hits[key].append((time.monotonic(), outcome))
                fake.bodies[key] = payload
            if outcome == "ok":
                if fake.latency:
                    time.sleep(fake.latency)
                self._send(200, json.dumps(_anthropic_reply(fake) if anthropic else _openai_reply(fake)).encode())
            elif outcome == "429":
                self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": fake.retry_after})
            elif outcome == "500":
                self._send(500, json.dumps({"error": {"message": f"boom; you sent {auth}"}}).encode())
            elif outcome == "400":
                self._send(400, b'{"error": {"message": "invalid request"}}')
            elif outcome == "slow":
                time.sleep(fake.slow_s)
                try:
                    self._send(200, json.dumps(_openai_reply(fake)).encode())
                except OSError:
                    pass
            elif outcome == "malformed":
                self._send(200, b'{"choices": [{"message": ')
            elif outcome == "drop":
                self.close_connection = True
            else:
                raise ValueError(f"unknown outcome {outcome!r}")

    return Handler


def _openai_reply(fake: FakeChatServer) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "model": fake.served_model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": fake.answer},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": fake.prompt_tokens, "completion_tokens": fake.completion_tokens,
                      "total_tokens": fake.prompt_tokens + fake.completion_tokens}}


def _anthropic_reply(fake: FakeChatServer) -> dict[str, Any]:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": fake.served_model,
            "content": [{"type": "text", "text": fake.answer}], "stop_reason": "end_turn",
            "usage": {"input_tokens": fake.prompt_tokens, "output_tokens": fake.completion_tokens}}
