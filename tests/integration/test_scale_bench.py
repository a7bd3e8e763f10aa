"""The scaling benchmark (``python -m bench.scale``) on tiny numbers: it runs, and its table
has every configuration side by side. Its workers are processes of their own, so the run
also checks that no reminder went out twice across two workers."""

from __future__ import annotations

import os

import pytest

from bench import scale


def test_the_scale_bench_prints_every_configuration_side_by_side(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SQLite with one worker, PostgreSQL with one and two: one column each, every row filled."""
    scale.main(["--quick", "--deliveries", "12", "--checkins", "4", "--fanout", "6"])
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == f"past one machine, {os.cpu_count()} cores, every worker a process of its own:"
    )
    headings = lines[1].split("  ")
    assert [h.strip() for h in headings if h.strip()] == [
        "SQLite, 1 worker",
        "PostgreSQL, 1 worker",
        "PostgreSQL, 2 workers",
    ]
    rows = {line.strip().split("  ")[0]: line.split()[-3:] for line in lines[2:9]}
    assert set(rows) == {
        "deliveries/s (12 due, limiter off)",
        "sent by each worker",
        "updates/s (check-in taps, 4 patients x 4)",
        "fan-out of 6, limiter on (floor 0.2 s)",
        "most sends in any second",
        "429s from the emulator",
        "lines the workers logged (warnings)",
    }
    shares = rows["sent by each worker"]
    assert shares[:2] == ["12", "12"]
    assert sum(int(n) for n in shares[2].split("+")) == 12
    for name in ("deliveries/s (12 due, limiter off)", "updates/s (check-in taps, 4 patients x 4)"):
        assert all(float(cell.replace(",", "")) > 0 for cell in rows[name])
    # Counts, not held to zero here: a busy machine may slow a reservation into a warning.
    for name in ("429s from the emulator", "lines the workers logged (warnings)"):
        assert all(cell.isdigit() for cell in rows[name])
    assert lines[9] == "notes:"
