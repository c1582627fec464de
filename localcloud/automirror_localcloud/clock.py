"""A clock whose seconds can run faster than real ones, so tests see minutes of AWS behaviour in seconds."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ScaledClock:
    """Simulated seconds = real seconds × scale, plus any manual advance. Scale 0 freezes time."""

    def __init__(self, scale: float = 1.0, real: Callable[[], float] = time.monotonic) -> None:
        if scale < 0:
            raise ValueError("time scale must be >= 0")
        self._real = real
        self._lock = threading.Lock()
        self._anchor_real = real()
        self._anchor_sim = 0.0
        self._scale = scale

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    def set_scale(self, scale: float) -> None:
        if scale < 0:
            raise ValueError("time scale must be >= 0")
        with self._lock:
            # Re-anchor so a scale change never makes simulated time jump.
            self._anchor_sim = self._now_locked()
            self._anchor_real = self._real()
            self._scale = scale

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._anchor_sim += seconds

    def _now_locked(self) -> float:
        return self._anchor_sim + (self._real() - self._anchor_real) * self._scale
