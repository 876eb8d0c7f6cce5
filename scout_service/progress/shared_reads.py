"""One store read for the streams of a run that ask at the same time.

A thousand clients opening streams on one run each need the run (does it
exist?) and its stored events (the replay). Read one by one, that is two
store reads per stream; against a store that answers in a few milliseconds
the streams wait in line for seconds. ``SharedReads`` batches them the way a
database batches commits: whoever asks while a read of the same run is in
flight waits for the *next* read, which then answers everyone who asked
meanwhile. So every caller gets a read that started after it asked — what
the broker's "register for live events, then read" rule needs — and a run
costs one read at a time, however many streams ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
A = TypeVar("A")
T = TypeVar("T")


class SharedReads(Generic[K, A, T]):
    """Batches concurrent ``get(key, arg)`` calls into ``read(key, args)`` calls.

    ``read`` gets the arguments of everyone in the batch (say, where each
    stream stands) and returns one result that serves them all; a failure is
    raised to each of them. A caller that gives up (is cancelled) leaves the
    read to the others.
    """

    def __init__(self, read: Callable[[K, Sequence[A]], Awaitable[T]]) -> None:
        self._read = read
        self._waiting: dict[K, list[tuple[A, asyncio.Future[T]]]] = {}
        self._readers: dict[K, asyncio.Task[None]] = {}

    async def get(self, key: K, arg: A) -> T:
        """The result of a read of ``key`` that starts after this call."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((arg, future))
        if key not in self._readers:
            self._readers[key] = asyncio.create_task(self._serve(key), name=f"shared-read-{key}")
        return await future

    async def _serve(self, key: K) -> None:
        wanted: list[tuple[A, asyncio.Future[T]]] = []
        try:
            while batch := self._waiting.pop(key, None):
                wanted = [(arg, f) for arg, f in batch if not f.done()]
                if not wanted:
                    continue
                try:
                    result = await self._read(key, [arg for arg, _ in wanted])
                except Exception as exc:  # noqa: BLE001 - handed to every caller
                    for _, future in wanted:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in wanted:
                        if not future.done():
                            future.set_result(result)
        finally:
            del self._readers[key]
            # Cancelled (shutdown) mid-read: nobody is left to answer these.
            for _, future in [*wanted, *self._waiting.pop(key, [])]:
                future.cancel()

    async def close(self, grace_s: float = 1.0) -> None:
        """Let the reads in flight finish for ``grace_s``, then stop them.

        Callers of a read that finishes get its answer (a closing broker then
        ends their streams its own way); callers of one stopped are cancelled.
        """
        readers = list(self._readers.values())
        if not readers:
            return
        _, late = await asyncio.wait(readers, timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
