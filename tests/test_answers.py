"""SharedAnswers: callers asking the same question at once, or again, share one computation."""

from __future__ import annotations

import threading
import time

import pytest

from starmon.answers import SharedAnswers


def test_concurrent_askers_of_one_key_compute_it_once():
    answers, calls = SharedAnswers(), []

    def compute() -> dict:
        calls.append(1)
        time.sleep(0.2)  # long enough that every thread asks while it runs
        return {"qps": 1.0}

    got: list[dict] = []
    threads = [threading.Thread(target=lambda: got.append(answers.get("k", compute))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(got) == 20 and all(g is got[0] for g in got)
    assert answers.get("k", lambda: {"qps": 2.0}) == {"qps": 1.0}  # asked again: kept


def test_other_keys_compute_and_the_oldest_leaves_first():
    answers = SharedAnswers(size=2)
    for key in ("a", "b", "c"):
        answers.get(key, lambda key=key: key.upper())
    assert answers.get("a", lambda: "again") == "again"  # "a" was the oldest: dropped for "c"
    assert answers.get("c", lambda: "again") == "C"


def test_a_failed_computation_is_not_kept():
    answers = SharedAnswers()

    def fail():
        raise RuntimeError("store lost")

    with pytest.raises(RuntimeError):
        answers.get("k", fail)
    assert answers.get("k", lambda: "ok") == "ok"
