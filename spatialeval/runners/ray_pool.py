"""Runners as Ray actors: the same hf or vllm runner, replicated over a Ray cluster (``--ray``).

``RayRunner`` is itself a runner, so the pipeline does not change: it still reads fixed batches
by index, consults the cache, writes whole batches to the same run directory and finalizes. The
pipeline hands it a large batch (``preferred_batch_size`` = model batch x workers x 2); the Ray
runner cuts the cache misses back into the model batches a single process would have made
(batch k = samples kB..kB+B-1, by sample index), hands each to the next idle worker (an actor
pool's scheduling), and returns the responses in order. So the prompts padded together are the
same as in a single-process run, and the results are identical.

Each actor builds its runner with the same ``make_runner`` arguments (a picklable factory) and
loads the model lazily; identity (fingerprint, backend, run id, cache keys) comes from a local,
never-loaded copy, so ``--ray`` writes to the same run directory as a run without it. Images
travel as bytes (a path on the driver's disk may not exist on a worker node).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..records import ImageRef, Request, Response
from .base import error_responses, short_error

CHUNKS_PER_WORKER = 2


class _Worker:
    """A Ray actor holding one runner (one model replica)."""

    def __init__(self, factory: Callable[[], Any], num_threads: int | None = None):
        if num_threads:
            try:
                import torch

                torch.set_num_threads(num_threads)
            except ImportError:
                pass
        self.runner = factory()

    def generate(self, requests: list[Request]) -> list[Response]:
        return self.runner.generate(requests)

    def info(self) -> dict[str, Any]:
        import os
        import socket

        return {"host": socket.gethostname(), "pid": os.getpid()}


def model_batches(requests: list[Request], batch_size: int) -> list[list[int]]:
    """Positions of ``requests`` grouped into the index-aligned model batches of a single process."""
    groups: dict[int, list[int]] = {}
    for pos, r in enumerate(requests):
        key = r.sample_index // batch_size if r.sample_index >= 0 else pos // batch_size
        groups.setdefault(key, []).append(pos)
    return [groups[k] for k in sorted(groups)]


def _portable(r: Request) -> Request:
    if all(im.data is not None for im in r.images):
        return r
    return replace(r, images=tuple(im if im.data is not None else ImageRef(data=im.read_bytes(), path=im.path)
                                   for im in r.images))


class RayRunner:
    def __init__(self, local: Any, factory: Callable[[], Any], *, workers: int = 2, address: str | None = None,
                 batch_size: int = 8, num_cpus: float = 1, num_gpus: float = 0,
                 init_kwargs: dict[str, Any] | None = None):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.local = local
        self.factory = factory
        self.model_id = local.model_id
        self.backend = local.backend
        self.workers = workers
        self.address = address
        self.batch_size = batch_size
        self.preferred_batch_size = batch_size * workers * CHUNKS_PER_WORKER
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.init_kwargs = dict(init_kwargs or {})
        self.calls = 0
        self._actors: list[Any] = []
        self._served: dict[int, int] = {}  # worker number -> model batches it answered
        self._number: dict[int, int] = {}

    def fingerprint(self) -> dict[str, Any]:
        return self.local.fingerprint()  # the same model: the same run id and cache keys

    def info(self) -> dict[str, Any]:
        return {**self.local.info(), "ray": {"workers": self.workers, "address": self.address,
                                             "model_batch_size": self.batch_size, "num_cpus": self.num_cpus,
                                             "num_gpus": self.num_gpus}}

    def start(self) -> None:
        if self._actors:
            return
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_kwargs)
        actor = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(_Worker)
        threads = max(1, int(self.num_cpus)) if not self.num_gpus else None
        self._actors = [actor.remote(self.factory, threads) for _ in range(self.workers)]
        self._served = dict.fromkeys(range(self.workers), 0)
        self._number = {id(a): k for k, a in enumerate(self._actors)}

    def generate(self, requests: list[Request]) -> list[Response]:
        """Model batches to idle workers as they free up; a batch a worker fails is an error batch."""
        if not requests:
            return []
        import ray
        from ray.exceptions import RayActorError

        self.start()
        batches = model_batches(requests, self.batch_size)
        queue = deque(range(len(batches)))
        idle = list(self._actors)
        pending: dict[Any, tuple[int, Any]] = {}
        outs: dict[int, list[Response]] = {}
        while queue or pending:
            while queue and idle:
                i, a = queue.popleft(), idle.pop()
                pending[a.generate.remote([_portable(requests[p]) for p in batches[i]])] = (i, a)
            if not pending:  # every worker died: the rest of the batch fails, a rerun retries it
                for i in queue:
                    outs[i] = error_responses(len(batches[i]), "ray: no live worker left")
                break
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i, a = pending.pop(ref)
                try:
                    outs[i] = ray.get(ref)
                    idle.append(a)
                    self._served[self._number[id(a)]] += 1
                except RayActorError as exc:
                    self._actors.remove(a)
                    outs[i] = error_responses(len(batches[i]), f"ray worker died: {short_error(exc)}")
                except Exception as exc:  # noqa: BLE001 - the runner failed on this batch
                    idle.append(a)
                    outs[i] = error_responses(len(batches[i]), f"ray worker: {short_error(exc)}")
        self.calls += len(batches)
        results: list[Response | None] = [None] * len(requests)
        for i, positions in enumerate(batches):
            resps = outs[i]
            if len(resps) != len(positions):
                resps = error_responses(len(positions), f"ray worker returned {len(resps)} responses "
                                                        f"for {len(positions)} requests")
            for p, resp in zip(positions, resps, strict=True):
                results[p] = resp
        return [r for r in results if r is not None]

    def take_stats(self, run_dir: Any = None) -> dict[str, Any]:
        """Model batches each worker answered since the last call (goes to stats.json)."""
        served, self._served = self._served, dict.fromkeys(self._served, 0)
        return {"ray": {"workers": self.workers, "batches_per_worker": [served[k] for k in sorted(served)]}}

    def close(self) -> None:
        """Free the workers (and their GPUs) now rather than at interpreter exit."""
        if not self._actors:
            return
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors = []
