"""results.md and --resummarize, on the hand-worked fixture (see test_stats.py for the
arithmetic)."""

import json
import shutil
from pathlib import Path

import pytest

from sluicebench import report

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results-small.json"


@pytest.fixture
def run_dir(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "results.json")
    return tmp_path


def test_formatting():
    assert report.fmt_num(None) == "–"
    assert report.fmt_num(12345.678) == "12,346"
    assert report.fmt_num(12.345, 1) == "12.3"
    assert report.fmt_stat(None) == "–"
    assert report.fmt_stat({"median": 1500, "min": 900, "max": 2100}) == "1,500 (900–2,100)"
    assert report.fmt_stat({"median": 11, "min": 10, "max": 12}, 1) == "11.0 (10.0–12.0)"
    assert report.fmt_ratio(None) == "–"
    assert report.fmt_ratio({"median": 0.8, "worst": 1.234}) == "0.80 (1.23)"


def test_resummarize_recomputes_the_summary_from_the_measurements(run_dir, capsys):
    before = json.loads((run_dir / "results.json").read_text())
    assert before["summary"]["chains"] == []  # stale on purpose
    assert report.resummarize(run_dir) == 0
    assert "rewritten:" in capsys.readouterr().out
    after = json.loads((run_dir / "results.json").read_text())
    assert after["meta"] == before["meta"]
    assert after["measurements"] == before["measurements"]
    assert after["summary"]["rates"] == {"A/ka-13b": 25.0}  # kept: it was measured
    assert len(after["summary"]["chains"]) == 12
    sluice = next(r for r in after["summary"]["chains"]
                  if (r["workload"], r["phase"], r["chain"]) == ("ka-13b", "capacity", "sluice"))
    assert sluice["rps"] == {"median": 100, "min": 90, "max": 120}
    haproxy = next(r for r in after["summary"]["ratios"]
                   if (r["workload"], r["other"]) == ("ka-13b", "haproxy"))
    assert haproxy["rps"]["per_round"] == [2.0, 1.2, 0.9]


def test_resummarize_is_idempotent(run_dir):
    report.resummarize(run_dir)
    first = [(run_dir / f).read_text() for f in ("results.md", "results.json")]
    report.resummarize(run_dir)
    assert [(run_dir / f).read_text() for f in ("results.md", "results.json")] == first


def md_lines(run_dir):
    report.resummarize(run_dir)
    text = (run_dir / "results.md").read_text()
    assert text.endswith("\n")
    return text.splitlines()


def test_results_md_header(run_dir):
    lines = md_lines(run_dir)
    assert lines[0] == "# Sluice side-by-side benchmark, 2026-01-02T03:04:05 (full run)"
    assert ("- 3 round(s), shuffled order; closed loop: 3 s warm-up + 10 s measured; open loop: "
            "2.0 s + 10.0 s at 50% of the slowest peer's capacity, every chain at once, rotated "
            "in 100 ms slices; idle: 100 connections") in lines
    assert "- Duration 61 s. Errors: 1. Problems: 1." in lines
    assert ("- layout A: proxy with 1 worker pinned to CPU 1; load generator (1 thread, 64 "
            "connections) and the 4 backends on CPU 0") in lines


def test_results_md_tables(run_dir):
    lines = md_lines(run_dir)
    assert lines.count("## Layout A") == 1
    assert "| ka-13b | sluice | 100 (90–120) | 11.0 (10.0–12.0) | – | – | – | – | 0 |" in lines
    assert "| ka-13b | nginx | 70 (60–80) | 15.5 (15.0–16.0) | – | – | – | – | 1 |" in lines
    # Latency: median p50 of 300 and 310 is 305; p99 of 1000 and 3000 is 2000.
    assert "| ka-13b | 25 | sluice | 305 | 2,000 | – | – | – | 0 |" in lines
    assert "| sluice | 9,000 (9,000–9,000) | 800 (800–800) | 700 (700–700) | 100 | 0 |" in lines
    assert ("| ka-13b | sluice / haproxy | 1.20 (0.90) | 0.85 (1.20) | 0.89 (1.03) | "
            "1.25 (2.00) | – |") in lines
    assert ("| ka-13b | sluice / floor | 0.50 (0.50) | 1.25 (1.25) | – | – | – |") in lines
    assert ("| rules | sluice-1000rules / sluice-1rule | 1.00 (0.95) | 1.00 (1.10) | – | – "
            "| – |") in lines
    assert "| idle | sluice / haproxy | – | – | – | – | 0.50 (0.50) |" in lines


def test_results_md_noise_and_problems(run_dir):
    lines = md_lines(run_dir)
    assert ("Noise: other load on the box before a measurement was up to 31 % (busy share of "
            "all CPUs while our proxy sat idle); steal up to 2.5 %.") in lines
    i = lines.index("## Problems")
    assert lines[i + 2] == ("- A ka-13b capacity round 3 nginx: nginx exited with signal "
                            "SIGSEGV during the measurement (log: logs/)")


def test_smoke_and_sequential_runs_say_so(run_dir):
    data = json.loads((run_dir / "results.json").read_text())
    data["meta"]["args"].update(smoke=True, latency_sequential=True)
    (run_dir / "results.json").write_text(json.dumps(data))
    lines = md_lines(run_dir)
    assert lines[0].endswith("(SMOKE RUN: one short round, indicative only)")
    assert any("capacity, one chain at a time; idle" in l for l in lines)
