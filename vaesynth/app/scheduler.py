"""Render scheduling without widgets: one request in flight, only the newest one waiting.

A knob sweep or a key mash therefore renders as fast as the engine can, always ends on the last
value, and never builds a backlog. Each model load starts a new *generation*: requests are
stamped with it, and results of an older generation are stale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .messages import RenderRequest


class RenderScheduler:
    """Coalesces render requests. ``start`` hands a request to the engine (it must not block).

    Call :meth:`submit` for every new request and :meth:`finish` when the engine is done with
    the one in flight (rendered or failed); :meth:`finish` starts the waiting one, if any.
    """

    def __init__(self, start: Callable[[RenderRequest], None]) -> None:
        self._start = start
        self._inflight: RenderRequest | None = None
        self._pending: RenderRequest | None = None
        self._generation = 0
        self._closed = False
        self.submitted = 0  # requests submitted
        self.dropped = 0  # requests replaced while waiting (never started)

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def inflight(self) -> RenderRequest | None:
        return self._inflight

    @property
    def pending(self) -> RenderRequest | None:
        return self._pending

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing waiting."""
        return self._inflight is None and self._pending is None

    def new_generation(self) -> int:
        """A new model is on its way: drop the waiting request; later results of the old one are stale."""
        self._generation += 1
        self._pending = None
        return self._generation

    def adopt_generation(self, generation: int) -> None:
        """Go back to ``generation`` (a load failed and the engine still holds that model)."""
        self._generation = generation

    def is_current(self, request: RenderRequest) -> bool:
        return request.generation == self._generation

    def stamp(self, request: RenderRequest) -> RenderRequest:
        """``request`` made for the current generation (what :meth:`submit` hands on)."""
        return dataclasses.replace(request, generation=self._generation)

    def submit(self, request: RenderRequest) -> RenderRequest:
        """Stamp ``request`` with the current generation; start it now or let it wait (replacing
        any waiting one). Returns the stamped request."""
        req = self.stamp(request)
        self.submitted += 1
        if self._closed:
            return req
        if self._inflight is not None:
            if self._pending is not None:
                self.dropped += 1
            self._pending = req
        else:
            self._inflight = req
            self._start(req)
        return req

    def finish(self) -> bool:
        """The request in flight is done; start the waiting one. Returns whether a newer request
        was waiting (the finished one is then superseded)."""
        superseded = self._pending is not None
        self._inflight = None
        if self._pending is not None and not self._closed:
            self._inflight, self._pending = self._pending, None
            self._start(self._inflight)
        return superseded

    def close(self) -> None:
        """Start nothing more (shutdown)."""
        self._closed = True
        self._pending = None
