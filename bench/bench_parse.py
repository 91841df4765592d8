"""Parsing FE and BE /metrics: starmon's line parser against prometheus_client, same inputs.

Inputs are deterministic (fixed seed, fixed clock): an FE answer of about 300 lines, a BE
answer of about 1,500 lines, and an FE answer with per-table metrics of about 50,000 lines
(`?with_table_metrics=all`: a different label set on every line).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starmon.emulator.exposition import be_metrics, fe_metrics  # noqa: E402
from starmon.emulator.model import ClusterModel, Workload  # noqa: E402
from starmon.emulator.profiles import PROFILES  # noqa: E402
from starmon.parse import parse_prometheus  # noqa: E402

T = 1_790_000_000.0


def _model(bes: int) -> ClusterModel:
    return ClusterModel(
        "bench",
        PROFILES["3.3"],
        ["127.0.0.1", "127.0.0.2"],
        [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(bes)],
        http_port=8030,
        query_port=9030,
        be_http_port=8040,
        workload=Workload(seed=1),
        clock=lambda: T,
    )


def fe_text() -> str:
    """An FE answer of ~300 lines: the emulator's FE with 60 BEs (two series per BE)."""
    model = _model(60)
    return fe_metrics(model, model.leader, T)


def be_text() -> str:
    """A BE answer of ~1,500 lines: the emulator's BE families plus the long tail a real BE has
    (thread pools, per-device disk and network, per-type engine requests), in BE format."""
    rnd = random.Random(7)
    model = _model(3)
    lines = be_metrics(model, model.backends[0], T).splitlines()
    families = {
        "starrocks_be_disk_bytes_read": [("device", f"nvme{i}n1") for i in range(12)],
        "starrocks_be_disk_bytes_written": [("device", f"nvme{i}n1") for i in range(12)],
        "starrocks_be_disk_io_time_ms": [("device", f"nvme{i}n1") for i in range(12)],
        "starrocks_be_network_receive_packets": [("device", f"eth{i}") for i in range(8)],
        "starrocks_be_network_send_packets": [("device", f"eth{i}") for i in range(8)],
    }
    for name, labels in families.items():
        lines.append(f"# TYPE {name} counter")
        lines += [f'{name}{{{k}="{v}"}} {rnd.randrange(10**12)}' for k, v in labels]
    pools = [f"pool_{i:03d}" for i in range(84)]
    for suffix in (
        "threadpool_size",
        "queue_count",
        "active_threads",
        "running_tasks",
        "finished_tasks",
        "pending_time_ns",
        "execute_time_ns",
        "rejected_tasks",
    ):
        for pool in pools:
            lines.append(f"# TYPE starrocks_be_{pool}_{suffix} gauge")
            lines.append(f"starrocks_be_{pool}_{suffix} {rnd.randrange(10**6)}")
    for kind in ("create_tablet", "report_tablet", "clone", "publish", "storage_migrate", "delete"):
        lines.append("# TYPE starrocks_be_engine_requests_total counter")
        lines += [
            f'starrocks_be_engine_requests_total{{type="{kind}",status="{s}"}} {rnd.randrange(10**5)}'
            for s in ("total", "failed")
        ]
    return "\n".join(lines) + "\n"


def fe_with_tables(tables: int = 4800) -> str:
    """An FE answer with per-table metrics (~50,000 lines): every line a new label set."""
    rnd = random.Random(11)
    out = [fe_text()]
    metrics = (
        "table_scan_bytes",
        "table_scan_rows",
        "table_scan_finished",
        "table_load_bytes",
        "table_load_rows",
        "table_load_finished",
        "table_query_cnt",
        "table_tablet_count",
        "table_partition_count",
        "table_data_size",
    )
    for name in metrics:
        out.append(f"# HELP starrocks_fe_{name} per-table statistics")
        out.append(f"# TYPE starrocks_fe_{name} counter")
        for t in range(tables):
            out.append(
                f'starrocks_fe_{name}{{db_name="db_{t % 40}", tbl_name="table_{t:05d}", '
                f'tbl_id="{20000 + t}"}} {rnd.randrange(10**9)}'
            )
    return "\n".join(out) + "\n"


def _theirs(text: str) -> list[tuple]:
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def _ours(text: str) -> list[tuple]:
    return [(s.name, tuple(sorted(s.labels)), s.value) for s in parse_prometheus(text).samples]


def _same(ours: list[tuple], theirs: list[tuple]) -> bool:
    """Identical (name, labels, value) results, ignoring prometheus_client's `_total` renaming."""

    def key(sample):
        name, labels, value = sample
        return (name.removesuffix("_total"), labels, value)

    return sorted(map(key, ours)) == sorted(map(key, theirs))


def _best(fn, text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def run(quick: bool = False) -> list[dict]:
    rows = []
    inputs = [
        ("FE /metrics", fe_text()),
        ("BE /metrics", be_text()),
        ("FE /metrics with per-table metrics", fe_with_tables(1200 if quick else 4800)),
    ]
    for label, text in inputs:
        lines = text.count("\n")
        repeat = 3 if lines > 10_000 else 20
        ours, theirs = _best(_ours, text, repeat), _best(_theirs, text, repeat)
        same = _same(_ours(text), _theirs(text))
        ratio = theirs / ours
        rows.append(
            {
                "what": f"Parse {label} ({lines:,} lines)",
                "compared_with": "prometheus_client text_string_to_metric_families",
                "target": ">= 5x faster, identical samples",
                "figures": f"{ours * 1000:.2f} ms vs {theirs * 1000:.2f} ms = {ratio:.1f}x; "
                f"identical: {'yes' if same else 'NO'}",
                "met": ratio >= 5 and same,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(f"{row['what']}: {row['figures']} (target {row['target']}: {'met' if row['met'] else 'MISSED'})")
