"""The pure parts of the benchmark harness (bench/harness): no wrk, no servers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(ROOT / "bench"))

from harness import docs, facts, procs, report, soak, stats, wrk  # noqa: E402 - imported after sys.path gains bench/, where the harness lives
from harness.render import render  # noqa: E402 - imported after sys.path gains bench/, where the harness lives


@pytest.fixture
def results() -> dict:
    """A small results document with two repetitions per run."""
    return json.loads((FIXTURES / "results.json").read_text())


def test_wrk_summary_line_is_parsed():
    """The WRK_JSON line printed by report.lua becomes a WrkResult; the rest is ignored."""
    result = wrk.parse_output((FIXTURES / "wrk-output.txt").read_text())
    assert result.requests == 7470
    assert result.duration_s == pytest.approx(3.001234)
    assert result.errors == {"connect": 0, "read": 1, "write": 0, "status": 12, "timeout": 2}
    assert result.error_count == 15
    assert result.ok_requests == 7458
    assert result.latency_us["p50"] == 3050
    assert result.latency_us["p99"] == 7900
    assert result.rps == pytest.approx(7470 / 3.001234)


def test_wrk_output_without_summary_is_an_error():
    """A wrk run that printed no summary (e.g. it could not connect) raises WrkError."""
    with pytest.raises(wrk.WrkError, match="no summary"):
        wrk.parse_output("unable to connect to 127.0.0.1:9 Connection refused\n")


def test_wrk_command_is_pinned_and_carries_the_load_shape():
    """The wrk command line pins wrk with taskset and passes connections, duration, script."""
    run = wrk.WrkRun("chat.lua", "http://127.0.0.1:1/v1/chat/completions", 8, 3, "auto")
    argv = run.argv(cpu=0)
    assert argv[:3] == ["taskset", "-c", "0"]
    assert "-c8" in argv
    assert "-d3s" in argv
    assert argv[-2].endswith("bench/wrk/chat.lua")
    assert run.env()["BENCH_MODEL"] == "auto"
    assert wrk.WrkRun("chat.lua", "u", 1, 1, "m").argv(cpu=None)[0] == "wrk"


def test_a_targets_wrk_run_carries_its_url_model_and_key():
    """A target's wrk run hits its chat path (or the path given) with its model and key."""
    from harness import targets

    spec = targets.Spec("t", [], 8000, "/v1/chat/completions", "auto", api_key="k")
    run = spec.wrk_run("chat.lua", 8, 3)
    assert run.url == "http://127.0.0.1:8000/v1/chat/completions"
    assert (run.model, run.api_key, run.connections, run.duration_s) == ("auto", "k", 8, 3)
    paced = spec.wrk_run("plan.lua", 4, 60, path="/v1/plan", delay_ms=20)
    assert paced.url == "http://127.0.0.1:8000/v1/plan"
    assert paced.env()["BENCH_DELAY_MS"] == "20"


def test_stat_line_with_spaces_and_parentheses_in_the_name():
    """Ppid and utime+stime are read after the last ')' of the command name."""
    text = (FIXTURES / "proc" / "100" / "stat").read_text()
    assert procs.parse_stat(text) == (1, 300)


def test_status_memory_fields():
    """VmRSS and VmHWM come from /proc/<pid>/status in KiB; missing fields count as 0."""
    assert procs.parse_status((FIXTURES / "proc" / "100" / "status").read_text()) == (61440, 81920)
    assert procs.parse_status("Name:\tkthread\n") == (0, 0)


def test_snapshot_sums_the_process_tree_only():
    """A snapshot adds CPU and memory over the process and its descendants, nothing else."""
    snap = procs.snapshot(100, proc=FIXTURES / "proc")
    assert snap.pids == (100, 101, 102)
    assert snap.ticks == 300 + 50 + 10
    assert snap.rss_kib == 61440 + 10240
    assert snap.rss_mib == pytest.approx(70.0)
    assert snap.hwm_mib == pytest.approx(100.0)


def test_cpu_per_request_from_two_snapshots():
    """CPU ms per request is the tick difference in ms divided by the requests answered."""
    before = procs.Snapshot(ticks=1000, rss_kib=0, hwm_kib=0, pids=(1,))
    after = procs.Snapshot(ticks=1150, rss_kib=0, hwm_kib=0, pids=(1,))
    assert procs.cpu_ms(before, after, ticks_per_s=100) == pytest.approx(1500)
    assert procs.cpu_ms_per_request(before, after, 3000, ticks_per_s=100) == pytest.approx(0.5)
    assert procs.cpu_ms_per_request(before, after, 0) is None


def test_summary_takes_medians_and_adds_latency_over_direct(results):
    """Rows hold the median over repetitions and the p50 / TTFT added over the direct target."""
    rows = report.summarize(results["runs"])
    row = next(r for r in rows if r["scenario"] == "chat-c1" and r["target"] == "tokenhub")
    assert row["reps"] == 2
    assert row["rps"] == pytest.approx(1505)
    assert row["rps_spread_pct"] == pytest.approx(10 / 1505 * 100)
    assert row["added_p50_ms"] == pytest.approx(0.45)
    ttft = next(r for r in rows if r["scenario"] == "ttft-c1" and r["target"] == "tokenhub")
    assert ttft["added_ttft_ms"] == pytest.approx(1.6)
    assert [r["target"] for r in rows if r["scenario"] == "chat-c8"] == [
        "direct",
        "lean",
        "tokenhub",
        "litellm",
    ]


def test_checks_compare_with_the_issue_targets(results):
    """Each target of the issue passes, fails, or is 'not measured' when its data is missing."""
    results["summary"] = report.summarize(results["runs"])
    found = {(c["what"], c["goal"]): c["status"] for c in report.checks(results)}
    assert found["req/s, non-streaming c=8", "≥ 0.5 x lean"] == "pass"
    assert found["req/s, non-streaming c=8", "≥ 30 x litellm"] == "pass"
    assert found["CPU ms/request, c=8", "≤ 2 x lean"] == "pass"
    assert found["added p50 latency, c=1", "≤ 0.5 ms over direct"] == "pass"
    assert found["req/s, streaming c=8", "≥ 0.5 x lean"] == "fail"
    assert found["added TTFT (streaming)", "≤ 1 ms over direct"] == "fail"
    assert found["routing decision, 100 models (p50)", "< 100 µs"] == "pass"
    assert found["steady RSS", "≤ 100 MB (95.4 MiB)"] == "pass"
    assert found["soak RSS growth after warm-up", "≤ 1 MiB/min"] == "not measured"
    assert found["startup to first answered request", "≤ 2 s"] == "pass"


def test_markdown_report_from_a_results_file(results):
    """The report has the scenario, process and target tables and the unavailable scenarios."""
    results["summary"] = report.summarize(results["runs"])
    text = render(results)
    assert "quick mode, 2026-01-02 03:04 UTC" in text
    assert "Test CPU, 2 cores" in text
    assert "| chat-c1 | tokenhub | 1505 | ±1% | 0.64 | 1.20 | +0.45 | 0.600 |" in text
    assert "| chat-c8 | litellm | 55 |" in text
    assert "| added p50 latency, c=1 | ≤ 0.5 ms over direct | 0.45 ms (lean floor: " in text
    assert "| tokenhub | 1.20 | 90.0 | 99.5 | tokenhub 0.1.0 |" in text
    assert "| req/s, streaming c=8 | ≥ 0.5 x lean | 0.33 x (1000 vs 3000) | **FAIL** |" in text
    assert "- `plan-c8`: not available — tokenhub answers 404 to POST /v1/plan" in text


def test_soak_growth_ignores_the_warm_up():
    """Growth is the RSS slope in MiB/min over the samples after the warm-up."""
    warm = [(float(t), 50.0 + t) for t in range(0, 120, 5)]  # fast growth while warming
    steady = [(float(t), 200.0 + (t - 120) / 60 * 0.5) for t in range(120, 600, 5)]
    assert soak.growth_after_warmup(warm + steady, 600) == pytest.approx(0.5)
    assert soak.growth_after_warmup([(0.0, 1.0)], 600) is None


def test_statistics_helpers():
    """Median, nearest-rank percentile and spread behave on small and empty inputs."""
    assert stats.median([]) is None
    assert stats.percentile([1, 2, 3, 4], 50) == 2
    assert stats.percentile(list(range(1, 101)), 99) == 99
    assert stats.spread_pct([90, 100, 110]) == pytest.approx(20)
    assert stats.slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2)


def test_microbenchmark_median_and_writer_metrics():
    """The routing median comes from pytest-benchmark JSON; writer counters sum over tables."""
    data = {
        "benchmarks": [
            {"name": "test_route_100_eligible_models[cheap]", "stats": {"median": 9e-5}},
            {"name": "test_route_100_eligible_models[normal]", "stats": {"median": 8.4e-5}},
        ]
    }
    assert facts.parse_micro(data) == {"route_100_p50_us": pytest.approx(84)}
    metrics = (
        "# HELP tokenhub_writer_rows_written_total rows\n"
        'tokenhub_writer_rows_written_total{table="request_log"} 120.0\n'
        'tokenhub_writer_rows_written_total{table="audit_log"} 3.0\n'
        'tokenhub_writer_rows_dropped_total{table="request_log"} 0.0\n'
    )
    assert facts.parse_writer_metrics(metrics) == {"written": 123.0, "dropped": 0.0}


def test_docs_block_is_replaced_between_markers(results):
    """Only the marked block of a document changes; a document without markers is refused."""
    results["summary"] = report.summarize(results["runs"])
    text = f"# Doc\n\nbefore\n{docs.START}\nold table\n{docs.END}\nafter\n"
    new = docs.replace_block(text, docs.readme_block(results))
    assert new.startswith("# Doc\n\nbefore\n<!-- bench:latest:start -->\nMeasured 2026-01-02")
    assert new.endswith("<!-- bench:latest:end -->\nafter\n")
    assert "old table" not in new
    assert "| chat-c8 | tokenhub | 2005 | 3.90 | +3.10 | 0.500 |" in new
    with pytest.raises(ValueError, match="no <!-- bench:latest:start -->"):
        docs.replace_block("# no markers\n", "x")


def test_bare_proxy_splits_whole_messages_only():
    """The floor ladder's bare proxies wait for whole Content-Length messages."""
    import bare_proxy

    head = b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 4\r\n\r\n"
    assert bare_proxy.split_message(head + b"ab") is None
    assert bare_proxy.split_message(head[:-2]) is None
    assert bare_proxy.split_message(head + b"abcdNEXT") == (b"abcd", b"NEXT")
    assert bare_proxy.split_message(b"GET / HTTP/1.1\r\n\r\nx") == (b"", b"x")
