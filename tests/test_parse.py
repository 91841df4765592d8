"""Tests for starmon.parse against the real and reconstructed StarRocks samples."""

import json
import random

import pytest

from starmon.parse import (
    BACKEND_COLUMNS_25,
    BACKEND_COLUMNS_30,
    FRONTEND_COLUMNS,
    MetricSet,
    Sample,
    column,
    parse_bool,
    parse_float,
    parse_int,
    parse_percent,
    parse_prometheus,
    parse_size,
    parse_status_json,
    parse_version,
    proc_rows,
)

from .fixtures import SAMPLES  # noqa: E402  (copies of shared/starrocks/samples)


def sample(name: str) -> str:
    """Sample text without its leading '#' provenance line."""
    first, _, rest = (SAMPLES / name).read_text(encoding="utf-8").partition("\n")
    assert first.startswith("#"), name
    return rest


def sample_json(name: str):
    return json.loads(sample(name))


def backslash_g(text: str) -> dict[str, str]:
    """One row of a MySQL `\\G` capture as {column: value} (first row only)."""
    row: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or line.startswith("MySQL") or line.startswith("*"):
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            row[key.strip()] = value.strip()
    return row


# ---------------------------------------------------------------- Prometheus


@pytest.fixture(scope="module")
def fe() -> MetricSet:
    return parse_prometheus(sample("fe_metrics_prometheus_3.x_reconstructed.txt"))


@pytest.fixture(scope="module")
def be() -> MetricSet:
    return parse_prometheus(sample("be_metrics_prometheus_3.x_reconstructed.txt"))


def test_fe_sample_parses_cleanly(fe):
    assert fe.bad_lines == 0
    data_lines = [
        line
        for line in sample("fe_metrics_prometheus_3.x_reconstructed.txt").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(fe) == len(data_lines) == 83


def test_fe_jvm_and_node_info(fe):
    assert fe.get("jvm_heap_size_bytes", type="used") == 1904211520
    assert fe.get("jvm_heap_size_bytes", type="max") == 8589934592
    assert fe.get("jvm_thread", type="peak_count") == 468
    assert fe.get("node_info", type="is_master") == 1
    assert fe.get("node_info", type="be_node_num", state="alive") == 2
    assert fe.get("node_info", type="be_node_num", state="decommissioned") == 0


def test_fe_labels_with_comma_space(fe):
    assert fe.get("starrocks_fe_job", job="load", type="INSERT", state="FINISHED") == 12
    assert fe.get("starrocks_fe_job", job="alter", type="ROLLUP") == 0
    labels, _ = fe.series("starrocks_fe_job")[2]
    assert labels == {"job": "load", "type": "INSERT", "state": "FINISHED"}
    job = next(s for s in fe.samples if s.name == "starrocks_fe_job")
    assert job == Sample("starrocks_fe_job", (("job", "load"), ("type", "BROKER"), ("state", "PENDING")), 0.0)


def test_fe_gauges_and_counters_keep_their_names(fe):
    assert fe.get("starrocks_fe_qps") == 3.4375
    assert fe.get("starrocks_fe_query_err_rate") == 0.0
    assert fe.get("starrocks_fe_query_err") == 213
    assert fe.get("starrocks_fe_query_total") == 1209931
    assert fe.get("starrocks_fe_query_err_total") is None
    assert fe.get("starrocks_fe_query_latency", type="99_quantile") == 410.0
    assert fe.get("starrocks_fe_tablet_num", backend="172.26.92.2:9050") == 1529


def test_fe_summary(fe):
    assert fe.get("starrocks_fe_query_latency_ms", quantile="0.99") == 410.0
    assert fe.get("starrocks_fe_query_latency_ms", quantile="0.5") is None
    assert fe.get("starrocks_fe_query_latency_ms_sum") == 49883519.999999994
    assert fe.get("starrocks_fe_query_latency_ms_count") == 1209931
    assert len(fe.series("starrocks_fe_query_latency_ms")) == 5


def test_fe_sum_max_and_absent(fe):
    assert fe.sum("starrocks_fe_tablet_num") == 1533 + 1529
    assert fe.max("starrocks_fe_tablet_max_compaction_score") == 11
    assert fe.sum("node_info", type="be_node_num") == 4
    assert fe.sum("starrocks_fe_nope") is None
    assert fe.max("starrocks_fe_nope") is None
    assert fe.get("starrocks_fe_nope") is None
    assert fe.get("jvm_heap_size_bytes", type="nope") is None


def test_be_sample(be):
    assert be.bad_lines == 0
    assert be.get("starrocks_be_cpu", mode="idle") == 2887456161
    assert be.sum("starrocks_be_cpu") == 2887456161 + 1466571 + 8612 + 379540 + 10287440 + 39872211
    path = "/data1/starrocks/storage"
    assert be.get("starrocks_be_disks_total_capacity", path=path) == 210304679936
    assert be.get("starrocks_be_disks_avail_capacity", path=path) == 168603099136
    assert be.get("starrocks_be_disks_data_used_capacity", path=path) == 14237184
    assert be.get("starrocks_be_engine_requests_total", type="cumulative_compaction", status="total") == 5230
    assert be.series("starrocks_be_disks_state") == [({"path": path}, 1.0)]


def test_only_parses_the_names_asked_for():
    text = sample("fe_metrics_prometheus_3.x_reconstructed.txt")
    wanted = frozenset({"starrocks_fe_query_total", "jvm_heap_size_bytes", "starrocks_fe_query_latency_ms"})
    full = parse_prometheus(text)
    some = parse_prometheus(text, wanted)
    assert some.samples == [s for s in full.samples if s.name in wanted]
    assert {s.name for s in some.samples} == wanted
    assert some.skipped == len(full) - len(some) > 0
    assert some.get("jvm_heap_size_bytes", type="max") == full.get("jvm_heap_size_bytes", type="max")


def test_only_does_not_read_damage_in_lines_it_skips():
    text = 'good{a="1"} 1\nother{a="unterminated} 2\nother_too one\n'
    assert parse_prometheus(text).bad_lines == 2
    some = parse_prometheus(text, frozenset({"good"}))
    assert (len(some), some.bad_lines, some.skipped) == (1, 0, 2)
    assert parse_prometheus('good{a="1} 1\n', frozenset({"good"})).bad_lines == 1


def test_be_real_issue1390_fragment():
    metrics = parse_prometheus(sample("be_metrics_fragment_real_issue1390.txt"))
    assert metrics.bad_lines == 0
    assert len(metrics) == 2
    assert metrics.get("starrocks_be_storage_page_cache_mem_bytes") == 111917999792
    assert metrics.get("starrocks_be_tcmalloc_bytes_in_use") == 903337928


def test_non_contiguous_series_fully_returned():
    text = (
        "# TYPE starrocks_fe_tablet_num gauge\n"
        'starrocks_fe_tablet_num{backend="a:9050"} 1\n'
        "# TYPE starrocks_fe_qps gauge\n"
        "starrocks_fe_qps 2.5\n"
        'starrocks_fe_tablet_num{backend="b:9050"} 3\n'
    )
    metrics = parse_prometheus(text)
    assert metrics.series("starrocks_fe_tablet_num") == [({"backend": "a:9050"}, 1.0), ({"backend": "b:9050"}, 3.0)]
    assert metrics.sum("starrocks_fe_tablet_num") == 4
    assert metrics.get("starrocks_fe_tablet_num", backend="b:9050") == 3


@pytest.mark.parametrize("tail", ["starrocks_fe_q", 'starrocks_fe_qps{type="m', "foo bar", "starrocks_fe_qps 1 2 3"])
def test_malformed_last_line_is_counted_and_earlier_samples_survive(tail):
    metrics = parse_prometheus('starrocks_fe_qps 1.5\nnode_info{type="is_master"} 1\n' + tail)
    assert metrics.bad_lines == 1
    assert len(metrics) == 2
    assert metrics.get("starrocks_fe_qps") == 1.5
    assert metrics.get("node_info", type="is_master") == 1


def test_truncated_real_sample_keeps_everything_before_the_cut():
    text = sample("fe_metrics_prometheus_3.x_reconstructed.txt")
    cut = text.index('node_info{type="is_master"}') + len("node_info{ty")
    metrics = parse_prometheus(text[:cut])
    assert metrics.bad_lines == 1
    assert len(metrics) == 82
    assert metrics.get("node_info", type="is_master") is None
    assert metrics.get("node_info", type="cn_node_num", state="alive") == 0


@pytest.mark.parametrize(
    "garbage",
    [
        bytes(range(256)).decode("latin-1"),
        '\x00\xff\xfe}{ 12\n{}} 3\n=== 4\n"a" 5\n',
        '{a="b"} 1\n1abc 2\nname{a=b} 3\nname{a="b" c="d"} 4\nname{"a"="b"} 5\n',
        "<html><body>this is 404 page.</body></html>",
        'x{a="1"} 1e\ny 0x10\nz 1 12.5\n',
    ],
)
def test_garbage_gives_no_samples_and_never_raises(garbage):
    metrics = parse_prometheus(garbage)
    assert len(metrics) == 0
    assert metrics.bad_lines > 0


def test_blank_comment_and_crlf_lines():
    text = (
        '\r\n# HELP  jvm_thread jvm thread stat\r\n   \r\n\t# indented comment\r\njvm_thread{type="count"} 432\r\n\r\n'
    )
    metrics = parse_prometheus(text)
    assert metrics.bad_lines == 0
    assert metrics.series("jvm_thread") == [({"type": "count"}, 432.0)]
    assert parse_prometheus("").bad_lines == 0
    assert len(parse_prometheus("")) == 0
    odd_blank = parse_prometheus("\x0c\n\u3000\n\x85\n \t\n")
    assert (len(odd_blank), odd_blank.bad_lines) == (0, 0)


def test_random_cuts_and_noise_never_raise():
    text = sample("fe_metrics_prometheus_3.x_reconstructed.txt")
    rng = random.Random(1390)
    for _ in range(300):
        start, stop = sorted(rng.randrange(len(text)) for _ in range(2))
        noise = "".join(chr(rng.randrange(0x250)) for _ in range(rng.randrange(40)))
        metrics = parse_prometheus(text[start:stop] + noise)
        assert len(metrics) + metrics.bad_lines <= (text[start:stop] + noise).count("\n") + 1


def test_escaped_label_values():
    text = r'm{path="C:\\data",msg="say \"hi\"\nbye",odd="a\tb"} 1' + "\n"
    metrics = parse_prometheus(text)
    assert metrics.bad_lines == 0
    labels, value = metrics.series("m")[0]
    assert labels == {"path": "C:\\data", "msg": 'say "hi"\nbye', "odd": "a\\tb"}
    assert metrics.get("m", path="C:\\data") == 1


def test_brace_and_separators_inside_label_values():
    metrics = parse_prometheus('m{a="x} 9", b="{,}"} 7\nm{a="y",} 8\nm{} 9\n')
    assert metrics.bad_lines == 0
    assert metrics.series("m") == [({"a": "x} 9", "b": "{,}"}, 7.0), ({"a": "y"}, 8.0), ({}, 9.0)]


def test_special_values_and_timestamps():
    text = "\n".join(
        [
            "a 0.0",
            "b 1.2E7",
            "c NaN",
            "d +Inf",
            "e -Inf",
            "f 49883519.999999994",
            "g 7 1700000000000",
            'h{x="1"} 8 1700000000000',
            "i -3",
            "j 1 1.5",
        ]
    )
    metrics = parse_prometheus(text)
    assert metrics.bad_lines == 1  # j: the timestamp must be an integer
    assert metrics.get("a") == 0.0
    assert metrics.get("b") == 12_000_000
    assert metrics.get("c") != metrics.get("c")
    assert metrics.get("d") == float("inf")
    assert metrics.get("e") == float("-inf")
    assert metrics.get("f") == 49883519.999999994
    assert metrics.get("g") == 7
    assert metrics.get("h", x="1") == 8
    assert metrics.get("i") == -3
    assert metrics.get("j") is None


# ---------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.800 TB", round(1.8 * 1024**4)),
        ("0.000 B", 0),
        ("13.255 KB", round(13.255 * 1024)),
        ("157.024 GB", round(157.024 * 1024**3)),
        ("57.012GB", round(57.012 * 1024**3)),
        ("8388608.000 TB", 2**63),
        ("0.000 ", 0),
        ("1234", 1234),
        ("2.000 PB", 2 * 1024**5),
        ("1.000 EB", 1024**6),
        ("512.000 MB", 512 * 1024**2),
        (None, None),
        ("", None),
        ("N/A", None),
        ("\\N", None),
        ("NULL", None),
        ("12 XB", None),
        ("GB", None),
        ("1.2.3 GB", None),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19.83 %", 19.83),
        ("0.0 %", 0.0),
        ("27.16%", 27.16),
        ("100.00 %", 100.0),
        ("N/A", None),
        ("", None),
        (None, None),
        ("abc %", None),
        ("%", None),
    ],
)
def test_parse_percent(text, expected):
    assert parse_percent(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("FALSE", False),
        ("True", True),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("yes", None),
        (2, None),
        ("", None),
        (None, None),
    ],
)
def test_parse_bool(value, expected):
    assert parse_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        (42, 42),
        ("1023445 rows", 1023445),
        ("9223372036854775807", 2**63 - 1),
        ("-3", -3),
        ("42.0", 42),
        ("4.5", None),
        ("", None),
        (None, None),
        ("N/A", None),
        ("\\N", None),
        ("NULL", None),
    ],
)
def test_parse_int(value, expected):
    assert parse_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4.231 s", 4.231),
        ("3.210 s", 3.21),
        ("4231", 4231.0),
        (2.5, 2.5),
        ("1023445 rows", 1023445.0),
        ("", None),
        (None, None),
        ("N/A", None),
        ("\\N", None),
        ("NULL", None),
    ],
)
def test_parse_float(value, expected):
    assert parse_float(value) == expected


def test_parse_status_json():
    row = sample_json("show_proc_backends_3.1dev_objects.json.txt")[0]
    assert parse_status_json(row["Status"]) == {"lastSuccessReportTabletsTime": "2023-05-27 18:37:17"}
    assert parse_status_json('{"lastSuccessReportTabletsTime":"N/A"}') == {"lastSuccessReportTabletsTime": "N/A"}
    for bad in (None, "", "N/A", "{not json", "[1, 2]", '"text"', "42", "[" * 100_000):
        assert parse_status_json(bad) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.3.5 6d81f75", "3.3.5"),
        ("2.1.2 0782ad7", "2.1.2"),
        ("3.3.5-6d81f75", "3.3.5"),
        ("3.2.0", "3.2.0"),
        ("3.4.1-abcdef0", "3.4.1"),
        ("meidi-dev-3.1.7-bc488c8", "3.1.7"),
        ("StarRocks version 2.1.2", "2.1.2"),
        ("3.3", "3.3"),
        ("JSON-410e4c8", None),
        ("DEV-MAIN-f2dc764", None),
        ("NULL", None),
        ("", None),
        (None, None),
        ("abc1.2def", None),
    ],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


def test_current_version_docs_sample():
    cell = next(line for line in sample("current_version_docs.txt").splitlines() if "0782ad7" in line)
    assert parse_version(cell.strip("| ")) == "2.1.2"


# ---------------------------------------------------------------- show_proc


def test_column_lists():
    assert len(BACKEND_COLUMNS_25) == 23
    assert BACKEND_COLUMNS_25[0] == "BackendId" and BACKEND_COLUMNS_25[-1] == "CpuCores"
    assert BACKEND_COLUMNS_30 == BACKEND_COLUMNS_25 + ("NumRunningQueries", "MemUsedPct", "CpuUsedPct")
    assert len(FRONTEND_COLUMNS) == 16 and FRONTEND_COLUMNS[6] == "Role"


def test_proc_rows_pre31_list_of_lists():
    rows = proc_rows(sample_json("show_proc_backends_pre3.1_list_of_lists.json.txt"), "/backends")
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == list(BACKEND_COLUMNS_30)
    assert row["IP"] == "192.168.7.221"
    assert row["TotalCapacity"] == "195.861 GB"
    assert row["CpuUsedPct"] == "0.0 %"
    assert row["Version"] == "DEV-MAIN-f2dc764"
    assert parse_status_json(row["Status"]) == {"lastSuccessReportTabletsTime": "2023-05-27 18:18:42"}


def test_proc_rows_shapes_agree_on_shared_columns():
    old = proc_rows(sample_json("show_proc_backends_pre3.1_list_of_lists.json.txt"), "/backends")[0]
    new = proc_rows(sample_json("show_proc_backends_3.1dev_objects.json.txt"), "/backends")[0]
    latest = proc_rows(sample_json("show_proc_backends_3.4plus_reconstructed.json.txt"), "/backends")[0]
    assert set(old) == set(new) == set(BACKEND_COLUMNS_30) < set(latest)
    for key in (
        "BackendId",
        "IP",
        "HttpPort",
        "TabletNum",
        "DataUsedCapacity",
        "TotalCapacity",
        "UsedPct",
        "CpuCores",
        "NumRunningQueries",
        "MemUsedPct",
        "CpuUsedPct",
    ):
        assert old[key] == new[key], key
    for key in ("TotalCapacity", "AvailCapacity", "UsedPct", "CpuCores", "NumRunningQueries"):
        assert latest[key] == new[key], key
    assert latest["MemLimit"] == "57.012GB"
    assert parse_size(latest["MemLimit"]) == round(57.012 * 1024**3)
    assert parse_percent(new["UsedPct"]) == 19.83
    assert parse_size(new["DataUsedCapacity"]) == round(13.255 * 1024)


def test_proc_rows_frontends_and_compute_nodes():
    payload = sample_json("show_proc_frontends_3.x_reconstructed.json.txt")
    rows = proc_rows(payload, "/frontends")
    assert [r["Role"] for r in rows] == ["LEADER", "FOLLOWER"]
    as_lists = [[row[c] for c in FRONTEND_COLUMNS] for row in payload]
    assert proc_rows(as_lists, "/frontends/") == rows
    cn = proc_rows(sample_json("show_proc_compute_nodes_3.4plus_reconstructed.json.txt"), "/compute_nodes")
    assert cn[0]["ComputeNodeId"] == "10011" and cn[0]["HasStoragePath"] == "false"


def test_proc_rows_unknown_lengths_and_values():
    row25 = proc_rows([[str(i) for i in range(23)]], "/backends")[0]
    assert list(row25) == list(BACKEND_COLUMNS_25)
    wide = proc_rows([[str(i) for i in range(28)]], "/backends")[0]
    assert list(wide)[:26] == list(BACKEND_COLUMNS_30)
    assert wide["col26"] == "26" and wide["col27"] == "27"
    short = proc_rows([["10003", "h"]], "backends")[0]
    assert short == {"BackendId": "10003", "IP": "h"}
    assert proc_rows([["a", 1, None]], "/dbs") == [{"col0": "a", "col1": "1", "col2": None}]
    assert proc_rows([{"DbId": 10005, "Quota": "8388608.000 TB"}], "/dbs") == [
        {"DbId": "10005", "Quota": "8388608.000 TB"}
    ]
    assert proc_rows([], "/backends") == []


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"status": "FAILED", "code": "1"}, "object"),
        ("Failed to get result set", "string"),
        (42, "number"),
        (None, "null"),
        ([["a"], {"b": "c"}], "array of array/object"),
        ([1, 2], "array of number"),
    ],
)
def test_proc_rows_rejects_non_rows(payload, kind):
    with pytest.raises(ValueError, match=f"^expected a JSON array of rows, got {kind}$"):
        proc_rows(payload, "/backends")


def test_column_lookup():
    assert column({"location": ""}, "Location") == ""
    assert column({"Location": "rack:a"}, "location") == "rack:a"
    assert column({"IP": "1.2.3.4", "Host": "h"}, "Host", "IP") == "h"
    assert column({"IP": "1.2.3.4"}, "Hostname", "ip") == "1.2.3.4"
    assert column({"TABLE_ROWS": 4, "AVG": 1.5, "DATA_FREE": None}, "table_rows") == "4"
    assert column({"AVG": 1.5}, "avg") == "1.5"
    assert column({"DATA_FREE": None}, "data_free", "avg") is None
    assert column({"IP": "x"}, "Nope") is None
    assert column({}, "Nope") is None


# ---------------------------------------------------------------- SHOW BACKENDS\G


def test_show_backends_backslash_g_320():
    row = backslash_g(sample("show_backends_G_3.2.0_shared_data.txt"))
    assert row["BackendId"] == "10006"
    assert parse_size(row["AvailCapacity"]) == round(649.658 * 1024**3)
    assert parse_size(row["DataUsedCapacity"]) == 0
    assert parse_percent(row["UsedPct"]) == 17.05
    assert parse_percent(row["CpuUsedPct"]) == 0.0
    assert parse_version(column(row, "Version")) == "3.2.0"
    assert column(row, "Location") == ""
    assert column(row, "DataCacheMetrics") == "Status: Disabled"
    assert parse_status_json(row["Status"]) == {"lastSuccessReportTabletsTime": "N/A"}
    assert parse_bool(row["Alive"]) is True
    assert parse_int(row["StarletPort"]) == 9070


def test_show_backends_backslash_g_317():
    row = backslash_g(sample("show_backends_G_3.1.7_shared_data.txt"))
    assert parse_version(row["Version"]) == "3.1.7"
    assert parse_percent(row["MemUsedPct"]) == 27.16
    assert parse_size(row["TotalCapacity"]) == round(783.211 * 1024**3)
    assert column(row, "Location") is None
    assert list(row)[: len(BACKEND_COLUMNS_30)] == list(BACKEND_COLUMNS_30)
