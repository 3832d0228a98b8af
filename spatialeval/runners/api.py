"""The API runner: OpenAI-compatible chat completions (and Anthropic's messages API) over HTTP.

``-m openai:gpt-4o-2024-05-13`` calls OpenAI; ``-m openai:<name> --base-url http://host:8000/v1``
calls any OpenAI-compatible server (``vllm serve``, a gateway); ``-m anthropic:claude-3-5-sonnet-
20240620`` calls Anthropic. Base URL and key come from flags or the provider's environment
variables (``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``, ``ANTHROPIC_BASE_URL`` / ``ANTHROPIC_API_KEY``).
The key lives in this object only: it is never part of ``info()``, the fingerprint, an error
message (server bodies are redacted) or the cache.

The HTTP client is the standard library's (``http.client``, one keep-alive connection per worker
thread, ``HTTPS_PROXY`` honoured through a CONNECT tunnel), so the core install stays light.

- **Bounded concurrency**: a pool of ``concurrency`` threads; a pipeline batch is sent at once.
- **Retries**: 408/409/425/429/5xx/529, timeouts, dropped or reset connections and malformed
  bodies are retried with exponential backoff and jitter; a ``Retry-After`` (or
  ``retry-after-ms``) header is honoured as a lower bound on the wait. Other 4xx are final. An
  error that persists is returned as an error response: recorded, never scored, retried by the
  next run of the same command (the pipeline retries error records).
- **Images** go as their original encoded bytes, base64, with the mime type read from the bytes
  (PNG, JPEG, GIF, WebP). Formats the APIs do not accept (BMP, TIFF, ...) are converted to PNG,
  which is lossless, and the response records that it was.
- **Cost**: token usage per response; a price table per model (``PRICES``, overridable with
  ``--price``) turns it into dollars in ``stats.json``; ``--max-cost`` stops spending (a request
  is only sent if its worst case fits the budget); ``estimate`` backs ``--dry-run``.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import math
import random
import ssl
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..errors import UserError
from ..records import Request, Response
from ..redaction import public_url, redact
from .base import short_error

PROVIDERS: dict[str, dict[str, str]] = {
    "openai": {"base_url": "https://api.openai.com/v1", "key_env": "OPENAI_API_KEY", "base_env": "OPENAI_BASE_URL"},
    "anthropic": {"base_url": "https://api.anthropic.com/v1", "key_env": "ANTHROPIC_API_KEY",
                  "base_env": "ANTHROPIC_BASE_URL"},
}
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
IMAGE_DETAILS = ("auto", "low", "high")
ANTHROPIC_VERSION = "2023-06-01"
MAX_RETRY_AFTER_S = 300.0


@dataclass(frozen=True)
class Price:
    """List prices in USD per million tokens, and how the provider counts image tokens."""

    input_per_mtok: float
    output_per_mtok: float
    image_rule: str = "openai"  # openai | openai-mini | anthropic

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return ((input_tokens or 0) * self.input_per_mtok + (output_tokens or 0) * self.output_per_mtok) / 1e6


# The providers' published list prices (USD / 1M tokens) for the snapshots the papers used.
# Prices change: check them, or pass --price IN,OUT; a model missing here has no cost figure.
PRICES: dict[str, Price] = {
    "gpt-4o-2024-05-13": Price(5.00, 15.00),
    "gpt-4o-2024-08-06": Price(2.50, 10.00),
    "gpt-4o-2024-11-20": Price(2.50, 10.00),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini-2024-07-18": Price(0.15, 0.60, "openai-mini"),
    "gpt-4o-mini": Price(0.15, 0.60, "openai-mini"),
    "claude-3-5-sonnet-20240620": Price(3.00, 15.00, "anthropic"),
    "claude-3-5-sonnet-20241022": Price(3.00, 15.00, "anthropic"),
}


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Final(Exception):
    pass


# -- images ------------------------------------------------------------------------------------
_MIME_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
               (b"GIF89a", "image/gif"))


def sniff_mime(data: bytes) -> str | None:
    for magic, mime in _MIME_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_payload(data: bytes) -> tuple[str, str, str | None]:
    """Encoded image bytes -> (base64, mime, converted-from). Accepted formats go unchanged."""
    mime = sniff_mime(data)
    if mime is not None:
        return base64.b64encode(data).decode("ascii"), mime, None
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        fmt = (im.format or "unknown").lower()
        buf = io.BytesIO()
        im.save(buf, format="PNG")  # lossless: the pixels the model sees are the dataset's
    return base64.b64encode(buf.getvalue()).decode("ascii"), "image/png", fmt


def image_tokens(width: int, height: int, rule: str, detail: str) -> int:
    """The provider's documented image-token formula (an estimate for --dry-run and budgets)."""
    if rule == "anthropic":
        scale = min(1.0, 1568 / max(width, height), math.sqrt(1_150_000 / (width * height)))
        return math.ceil(width * scale * height * scale / 750)
    base, tile = (2833, 5667) if rule == "openai-mini" else (85, 170)
    if detail == "low":
        return base
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return base + tile * math.ceil(w / 512) * math.ceil(h / 512)


def estimate_input_tokens(request: Request, rule: str = "openai", detail: str = "auto") -> int:
    """Text at ~4 characters a token plus each image by the provider's formula (no tokenizer needed)."""
    from PIL import Image

    chars, tokens = 0, 0
    for m in request.messages:
        content = m["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for p in parts:
            if p["type"] == "image":
                with Image.open(io.BytesIO(request.images[p["image"]].read_bytes())) as im:
                    tokens += image_tokens(*im.size, rule, detail)
            else:
                chars += len(p["text"])
        tokens += 4  # role and message framing
    return tokens + math.ceil(chars / 4)


# -- wire formats ------------------------------------------------------------------------------
def openai_body(request: Request, model: str, detail: str | None) -> tuple[dict[str, Any], list[str]]:
    converted: list[str] = []
    messages = []
    for m in request.messages:
        content = m["content"]
        if isinstance(content, str):
            messages.append({"role": m["role"], "content": content})
            continue
        parts: list[dict[str, Any]] = []
        for p in content:
            if p["type"] == "image":
                b64, mime, conv = image_payload(request.images[p["image"]].read_bytes())
                if conv:
                    converted.append(conv)
                url: dict[str, Any] = {"url": f"data:{mime};base64,{b64}"}
                if detail:
                    url["detail"] = detail
                parts.append({"type": "image_url", "image_url": url})
            else:
                parts.append({"type": "text", "text": p["text"]})
        messages.append({"role": m["role"], "content": parts})
    params = request.params
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": params.max_new_tokens,
                            "temperature": params.temperature, "seed": params.seed}
    if not params.greedy and params.top_p != 1.0:
        body["top_p"] = params.top_p
    if params.stop:
        body["stop"] = list(params.stop)
    return body, converted


def anthropic_body(request: Request, model: str) -> tuple[dict[str, Any], list[str]]:
    converted: list[str] = []
    system: list[str] = []
    messages = []
    for m in request.messages:
        content = m["content"]
        if m["role"] == "system":
            system.append(content if isinstance(content, str) else " ".join(p["text"] for p in content
                                                                           if p["type"] == "text"))
            continue
        if isinstance(content, str):
            messages.append({"role": m["role"], "content": content})
            continue
        blocks: list[dict[str, Any]] = []
        for p in content:
            if p["type"] == "image":
                b64, mime, conv = image_payload(request.images[p["image"]].read_bytes())
                if conv:
                    converted.append(conv)
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": mime, "data": b64}})
            else:
                blocks.append({"type": "text", "text": p["text"]})
        messages.append({"role": m["role"], "content": blocks})
    params = request.params
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": params.max_new_tokens,
                            "temperature": params.temperature}
    if system:
        body["system"] = "\n".join(system)
    if not params.greedy and params.top_p != 1.0:
        body["top_p"] = params.top_p
    if params.stop:
        body["stop_sequences"] = list(params.stop)
    return body, converted


def parse_openai(d: dict[str, Any]) -> tuple[str, str | None, int | None, int | None, str | None]:
    choice = d["choices"][0]
    msg = choice["message"]
    text = msg.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text is None:
        text = msg.get("refusal") or ""
    if not isinstance(text, str):
        raise TypeError("message content is not text")
    usage = d.get("usage") or {}
    return text, choice.get("finish_reason"), usage.get("prompt_tokens"), usage.get("completion_tokens"), d.get("model")


def parse_anthropic(d: dict[str, Any]) -> tuple[str, str | None, int | None, int | None, str | None]:
    blocks = d["content"]
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    usage = d.get("usage") or {}
    return text, d.get("stop_reason"), usage.get("input_tokens"), usage.get("output_tokens"), d.get("model")


def parse_retry_after(headers: dict[str, str]) -> float | None:
    """``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date) -> seconds, capped."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return min(max(float(ms) / 1000, 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        return min(max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0), MAX_RETRY_AFTER_S)
    except (TypeError, ValueError):
        return None


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter (half fixed, half random); never shorter than Retry-After."""
    ceiling = min(cap, base * (2 ** attempt))
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    return max(delay, retry_after) if retry_after is not None else delay


# -- HTTP ---------------------------------------------------------------------------------------
class _Http:
    """POST with one keep-alive connection per thread and endpoint; a failed connection is dropped."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("pool", {})
        key = (scheme, host, port)
        conn = pool.get(key)
        if conn is None:
            proxy = urllib.request.getproxies().get(scheme)
            if proxy and urllib.request.proxy_bypass(host):
                proxy = None
            if scheme == "https":
                ctx = ssl.create_default_context()
                if proxy:
                    p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
                    conn = http.client.HTTPSConnection(p.hostname, p.port or 8080, timeout=self.timeout, context=ctx)
                    conn.set_tunnel(host, port or 443)
                else:
                    conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=ctx)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            pool[key] = conn
        return conn

    def _drop(self, key: tuple[str, str, int | None]) -> None:
        conn = self._local.__dict__.get("pool", {}).pop(key, None)
        if conn is not None:
            conn.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        conn = self._conn(*key)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            self._drop(key)
            raise
        if resp.will_close:
            self._drop(key)
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


# -- the runner ---------------------------------------------------------------------------------
class APIRunner:
    backend = "api"

    def __init__(self, provider: str, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 api_key_source: str | None = None, concurrency: int = 8, timeout: float = 120.0,
                 max_retries: int = 6, image_detail: str = "auto", max_cost: float | None = None,
                 price: tuple[float, float] | None = None, backoff_base: float = 1.0, backoff_cap: float = 60.0):
        if provider not in PROVIDERS:
            raise UserError(f"unknown API provider '{provider}' (choose from {', '.join(PROVIDERS)})")
        if image_detail not in IMAGE_DETAILS:
            raise UserError(f"--image-detail {image_detail}: choose from {', '.join(IMAGE_DETAILS)}")
        if concurrency < 1:
            raise UserError("--concurrency must be at least 1")
        self.provider = provider
        self.model = model
        self.model_id = f"{provider}:{model}"
        self.base_url = (base_url or PROVIDERS[provider]["base_url"]).rstrip("/")
        self.endpoint = public_url(self.base_url)
        self._api_key = api_key
        self.api_key_source = api_key_source
        self.concurrency = concurrency
        self.preferred_batch_size = max(64, 8 * concurrency)  # the unit written (and lost on a crash)
        self.timeout = timeout
        self.max_retries = max_retries
        self.image_detail = image_detail
        self.max_cost = max_cost
        known = PRICES.get(model)
        rule = known.image_rule if known else ("anthropic" if provider == "anthropic" else "openai")
        self.price = Price(price[0], price[1], rule) if price is not None else known
        if max_cost is not None and self.price is None:
            raise UserError(f"--max-cost needs a price for '{model}', which is not in spatialeval's price table: "
                            "pass --price IN,OUT (USD per million input and output tokens)")
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.calls = 0
        self._http = _Http(timeout)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._spent = 0.0
        self._reserved = 0.0
        self._counters = dict.fromkeys(("requests", "http_attempts", "retries", "errors", "budget_refused",
                                        "input_tokens", "output_tokens"), 0)
        self._cost = 0.0

    # -- identity -----------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "revision": None, "weights_sha256": None, "endpoint": self.endpoint,
                "image_detail": self.image_detail if self.provider == "openai" else None}

    def info(self) -> dict[str, Any]:
        return {"backend": self.backend, "provider": self.provider, "model": self.model, "endpoint": self.endpoint,
                "api_key_source": self.api_key_source, "concurrency": self.concurrency, "timeout_s": self.timeout,
                "max_retries": self.max_retries, "image_detail": self.image_detail if self.provider == "openai"
                else None, "max_cost_usd": self.max_cost,
                "price_usd_per_mtok": [self.price.input_per_mtok, self.price.output_per_mtok] if self.price else None}

    def check_credentials(self) -> None:
        """A missing key for the provider's own endpoint is bad input, reported before any work."""
        if self._api_key or self.base_url != PROVIDERS[self.provider]["base_url"]:
            return
        env = PROVIDERS[self.provider]["key_env"]
        raise UserError(f"model '{self.model_id}' needs an API key: set {env} or pass --api-key")

    # -- generation -----------------------------------------------------------------------------
    def generate(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="spatialeval-api")
        self.calls += 1
        return list(self._pool.map(self._call, requests))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "User-Agent": f"spatialeval/{__version__}"}
        if self.provider == "anthropic":
            h["anthropic-version"] = ANTHROPIC_VERSION
            if self._api_key:
                h["x-api-key"] = self._api_key
        elif self._api_key:
            h["Authorization"] = f"Bearer {self._api_key}"
        return h

    def _call(self, request: Request) -> Response:
        """One request with retries. Never raises: every outcome is a Response."""
        t0 = time.perf_counter()
        sampling: dict[str, Any] = {"engine": "api", "provider": self.provider, "model": self.model,
                                    "temperature": request.params.temperature,
                                    "max_tokens": request.params.max_new_tokens, "stop": list(request.params.stop)}
        if self.provider == "openai":
            sampling.update(seed=request.params.seed, image_detail=self.image_detail)
        try:
            if self.provider == "anthropic":
                body, converted = anthropic_body(request, self.model)
                url = f"{self.base_url}/messages"
            else:
                body, converted = openai_body(request, self.model, self.image_detail)
                url = f"{self.base_url}/chat/completions"
            if converted:
                sampling["images_converted_to_png_from"] = converted
            payload = json.dumps(body).encode("utf-8")
            reserve = self._worst_case_cost(request)
        except Exception as exc:  # noqa: BLE001 - an unreadable image is this sample's fault
            return self._error(f"request: {short_error(exc)}", sampling, t0)
        if not self._reserve(reserve):
            with self._lock:
                self._counters["budget_refused"] += 1
            return self._error(f"budget: --max-cost ${self.max_cost:g} reached (spent ${self._spent:.4f}); "
                               "rerun with a higher --max-cost to continue", sampling, t0)
        with self._lock:
            self._counters["requests"] += 1
        actual = 0.0
        try:
            last = "no attempt made"
            for attempt in range(self.max_retries + 1):
                if attempt:
                    with self._lock:
                        self._counters["retries"] += 1
                with self._lock:
                    self._counters["http_attempts"] += 1
                try:
                    text, reason, n_in, n_out, served = self._attempt(url, payload)
                except _Retryable as exc:
                    last = str(exc)
                    if attempt < self.max_retries:
                        time.sleep(backoff_delay(attempt, self.backoff_base, self.backoff_cap, exc.retry_after))
                    continue
                except _Final as exc:
                    return self._error(str(exc), sampling, t0)
                actual = self.price.cost(n_in, n_out) if self.price else 0.0
                with self._lock:
                    self._counters["input_tokens"] += n_in or 0
                    self._counters["output_tokens"] += n_out or 0
                sampling.update(served_model=served, finish_reason=reason, attempts=attempt + 1)
                return Response(text=text, finish_reason="length" if reason in ("length", "max_tokens") else "stop",
                                input_tokens=n_in, output_tokens=n_out,
                                latency_s=round(time.perf_counter() - t0, 6), sampling=sampling)
            sampling["attempts"] = self.max_retries + 1
            return self._error(f"gave up after {self.max_retries + 1} attempts: {last}", sampling, t0)
        finally:
            self._settle(reserve, actual)

    def _attempt(self, url: str, payload: bytes) -> tuple[str, str | None, int | None, int | None, str | None]:
        try:
            status, headers, data = self._http.post(url, payload, self._headers())
        except TimeoutError as exc:
            raise _Retryable(f"timeout after {self.timeout:g}s") from exc
        except ssl.SSLCertVerificationError as exc:  # retrying cannot fix a certificate
            raise _Final(self._redact(f"TLS: {short_error(exc)}")) from exc
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise _Retryable(self._redact(f"connection: {short_error(exc)}")) from exc
        if status != 200:
            snippet = self._redact(data[:300].decode("utf-8", "replace").strip().replace("\n", " "))
            msg = f"HTTP {status}: {snippet}"
            if status in RETRY_STATUS:
                raise _Retryable(msg, parse_retry_after(headers))
            raise _Final(msg)
        try:
            d = json.loads(data)
            return parse_anthropic(d) if self.provider == "anthropic" else parse_openai(d)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise _Retryable(f"malformed response body ({type(exc).__name__})") from exc

    def _error(self, message: str, sampling: dict[str, Any], t0: float) -> Response:
        with self._lock:
            self._counters["errors"] += 1
        return Response(finish_reason="error", error=self._redact(message),
                        latency_s=round(time.perf_counter() - t0, 6), sampling=sampling)

    def _redact(self, text: str) -> str:
        return redact(text, [self._api_key])

    # -- cost -----------------------------------------------------------------------------------
    def _worst_case_cost(self, request: Request) -> float:
        if self.max_cost is None or self.price is None:
            return 0.0
        est = estimate_input_tokens(request, self.price.image_rule, self.image_detail)
        return self.price.cost(est, request.params.max_new_tokens)

    def _reserve(self, amount: float) -> bool:
        with self._lock:
            if self.max_cost is not None and self._spent + self._reserved + amount > self.max_cost:
                return False
            self._reserved += amount
            return True

    def _settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self._reserved -= reserved
            self._spent += actual
            self._cost += actual

    def take_stats(self, run_dir: str | Path | None = None) -> dict[str, Any]:
        """Usage since the last call (this invocation of a run), and the run's whole fresh spend."""
        with self._lock:
            counters, cost = dict(self._counters), self._cost
            self._counters = dict.fromkeys(self._counters, 0)
            self._cost = 0.0
        out: dict[str, Any] = {**counters, "cost_usd": round(cost, 6) if self.price else None,
                               "price_usd_per_mtok": [self.price.input_per_mtok, self.price.output_per_mtok]
                               if self.price else None}
        if run_dir is not None:
            from ..store import RunDir

            n_in = n_out = 0
            for rec in RunDir(run_dir).records().values():
                resp = rec.get("response") or {}
                if not resp.get("cached") and not resp.get("error"):
                    n_in += resp.get("input_tokens") or 0
                    n_out += resp.get("output_tokens") or 0
            out["run_total"] = {"input_tokens": n_in, "output_tokens": n_out,
                                "cost_usd": round(self.price.cost(n_in, n_out), 6) if self.price else None}
        return {"api": out}


def parse_model(model: str) -> tuple[str, str]:
    """``openai:gpt-4o`` -> ("openai", "gpt-4o"); a bare name means an OpenAI-compatible server."""
    provider, sep, name = model.partition(":")
    if sep and provider in PROVIDERS:
        return provider, name
    return "openai", model


def make_api_runner(model: str, *, seed: int = 0, base_url: str | None = None, api_key: str | None = None,
                    **options: Any) -> APIRunner:
    """``seed`` is accepted for symmetry with the other runners; each request carries its own."""
    import os

    provider, name = parse_model(model)
    if not name:
        raise UserError(f"model '{model}': give a model name after '{provider}:'")
    spec = PROVIDERS[provider]
    source = "flag" if api_key else None
    if api_key is None and os.environ.get(spec["key_env"]):
        api_key, source = os.environ[spec["key_env"]], f"env:{spec['key_env']}"
    base_url = base_url or os.environ.get(spec["base_env"]) or None
    return APIRunner(provider, name, base_url=base_url, api_key=api_key, api_key_source=source, **options)


def estimate(requests: list[Request], model: str, *, image_detail: str = "auto",
             price: tuple[float, float] | None = None) -> dict[str, Any]:
    """Tokens and dollars a run would spend (``--dry-run``): input estimated, output at its maximum."""
    provider, name = parse_model(model)
    known = PRICES.get(name)
    rule = known.image_rule if known else ("anthropic" if provider == "anthropic" else "openai")
    p = Price(price[0], price[1], rule) if price is not None else known
    n_in = sum(estimate_input_tokens(r, rule, image_detail) for r in requests)
    n_out = sum(r.params.max_new_tokens for r in requests)
    return {"requests": len(requests), "input_tokens": n_in, "max_output_tokens": n_out,
            "input_cost_usd": round(p.cost(n_in, 0), 4) if p else None,
            "max_cost_usd": round(p.cost(n_in, n_out), 4) if p else None}
