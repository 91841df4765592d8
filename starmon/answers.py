"""Answers computed once for everyone who asks the same question before anything changes.

Twenty dashboards or scripts polling one cluster's overview ask the same question: the same
cluster, range window and newest round (what the API's ETag is made of). Each read costs a few
hundred milliseconds of Python under one GIL, so computing it per caller queues them all; here
the first caller computes and the others, at the same moment or later, get its answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class SharedAnswers:
    """A small LRU of answers by key, where concurrent askers of one missing key wait for one computation."""

    def __init__(self, size: int = 64):
        self.size = size
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, Any] = OrderedDict()
        self._computing: dict[str, threading.Lock] = {}

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        """The answer kept for `key`, else `compute()`'s, kept. Answers must not be changed by callers."""
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
            flight = self._computing.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                if key in self._answers:
                    return self._answers[key]
            try:
                answer = compute()
            except BaseException:
                with self._lock:
                    self._computing.pop(key, None)
                raise
            with self._lock:
                self._answers[key] = answer
                while len(self._answers) > self.size:
                    self._answers.popitem(last=False)
                self._computing.pop(key, None)
            return answer
