"""The bounded queue of a consumer of access units (a live viewer, the fMP4 broadcast's
viewers, an analytics worker on another host): it starts at a keyframe and, when the
consumer falls behind by ``max_items``, drops its whole backlog and resumes at the next
keyframe, since a decoder needs an unbroken run from a keyframe. The producer is never
slowed. Pure; not thread-safe (one event loop fills and drains it)."""

from __future__ import annotations

from collections import deque
from typing import Generic, Protocol, TypeVar


class _Unit(Protocol):
    @property
    def keyframe(self) -> bool: ...


T = TypeVar("T", bound=_Unit)


class KeyframeQueue(Generic[T]):
    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: deque[T] = deque()
        self.waiting_keyframe = True
        self.cuts = 0
        """Times the consumer fell behind and was moved to the next keyframe."""
        self.received = 0

    def push(self, item: T) -> bool:
        """Queue ``item``; False if it was dropped (waiting for a keyframe)."""
        self.received += 1
        if self.waiting_keyframe:
            if not item.keyframe:
                return False
            self.waiting_keyframe = False
        elif len(self._items) >= self.max_items:
            self._items.clear()
            self.cuts += 1
            if not item.keyframe:
                self.waiting_keyframe = True
                return False
        self._items.append(item)
        return True

    def pop(self) -> T | None:
        return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        return len(self._items)
