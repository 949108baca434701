"""Render-ahead for the keypad, without Qt: the next sound of every digit, ready before the key.

A key press says a digit in the voice the controls describe (a fresh variation, a held voice or a
preset, at a temperature, with a performance). Rendering it takes 10-15 ms, which would be most of
an instrument's latency budget. While the app is idle the engine therefore renders, for the voice
the keypad would speak now, one sound per digit in advance (:class:`RenderAhead` keeps them); a key
press whose request matches one (:func:`voice_key`) takes it and is heard without waiting for a
render. A fresh voice drawn ahead is as fresh as one drawn at the press: it is a new random draw
that no one has heard, and each one is used once. Anything that changes the voice (a knob, the
preset, temperature, pitch, the model) changes the key, so a stale sound is never played: a
mismatch is simply a miss and the press renders as before.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from vaesynth.digits import N_DIGITS

from .messages import Origin, RenderRequest, RenderResult

AHEAD_IDLE_S = 0.12  # render ahead only after this long without a request (never in a knob sweep)
AHEAD_ORIGINS = frozenset({Origin.KEY})  # requests that may be answered from the ahead store


def voice_key(req: RenderRequest) -> Hashable:
    """What a single-digit request renders, without the digit and without how it is played
    (origin, gain, play): two requests with equal keys and digits make equally valid sounds."""
    return (req.generation, req.knob_mode, req.knobs, req.voice, req.temperature, req.performance)


class RenderAhead:
    """Sounds rendered ahead for one voice (the *target*), at most one per digit."""

    def __init__(self) -> None:
        self._target: RenderRequest | None = None
        self._ready: dict[str, RenderResult] = {}
        self.hits = 0
        self.misses = 0

    @property
    def target(self) -> RenderRequest | None:
        """A request in the voice being rendered ahead (its digit is the one pressed last)."""
        return self._target

    def aim(self, request: RenderRequest) -> None:
        """Render ahead in ``request``'s voice from now on (sounds for another voice are dropped)."""
        if request.digit is None:
            return
        if self._target is None or voice_key(self._target) != voice_key(request):
            self._ready.clear()
        self._target = request

    def take(self, request: RenderRequest) -> RenderResult | None:
        """The sound rendered ahead for ``request`` (removed from the store), or ``None``."""
        if request.digit is None or request.origin not in AHEAD_ORIGINS or self._target is None:
            return None
        if voice_key(request) != voice_key(self._target):
            self.misses += 1
            return None
        result = self._ready.pop(request.digit, None)
        if result is None:
            self.misses += 1
        else:
            self.hits += 1
        return result

    def next_request(self, order: Iterable[str] | None = None) -> RenderRequest | None:
        """The next digit to render ahead in the target voice (the last pressed digit first, then
        its neighbours), or ``None`` when every digit is ready."""
        target = self._target
        if target is None:
            return None
        if order is None:
            start = int(target.digit)
            order = (str((start + k) % N_DIGITS) for k in range(N_DIGITS))
        for d in order:
            if d not in self._ready:
                return RenderRequest(
                    digit=d,
                    knob_mode=target.knob_mode,
                    knobs=target.knobs,
                    voice=target.voice,
                    temperature=target.temperature,
                    performance=target.performance,
                    generation=target.generation,
                    play=False,
                )
        return None

    def store(self, result: RenderResult) -> bool:
        """Keep ``result`` (rendered from :meth:`next_request`) if it is still in the target voice."""
        req = result.request
        if self._target is None or req.digit is None or voice_key(req) != voice_key(self._target):
            return False
        self._ready[req.digit] = result
        return True

    def clear(self) -> None:
        self._target = None
        self._ready.clear()

    def __len__(self) -> int:
        return len(self._ready)
