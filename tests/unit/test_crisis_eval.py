"""The crisis detector on its development set, and the evaluation that measures it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import crisis_eval
from bench.crisis_eval import DEV_FILE, Case, evaluate, load_cases, main, report, targets_met

# Floors the detector reaches on the development set (it is tuned on this set, so these guard
# against regressions; the held-out set is what measures it).
DEV_FLOORS = {
    "recall": 0.98,
    "recall_overdose": 1.0,
    "recall_explicit_suicide": 1.0,
    "tier_agreement": 0.85,
}
DEV_CEILINGS = {"false_alarms": 0.03, "page_rate": 0.05}


@pytest.fixture(scope="module")
def dev_cases() -> list[Case]:
    """The development set (written apart from the patterns, used for tuning)."""
    return load_cases(DEV_FILE)


def test_dev_set_figures_are_printed_and_hold_their_floors(
    dev_cases: list[Case], capsys: pytest.CaptureFixture[str]
) -> None:
    """Recall, tiers, false alarms and pages on the development set stay at their floors."""
    evaluation = evaluate(dev_cases)
    with capsys.disabled():
        print("\n" + report(evaluation, "crisis detector on the development set"))
    assert evaluation.recall.value >= DEV_FLOORS["recall"]
    assert evaluation.recall_overdose.value >= DEV_FLOORS["recall_overdose"]
    assert evaluation.recall_explicit_suicide.value >= DEV_FLOORS["recall_explicit_suicide"]
    assert evaluation.tier_agreement.value >= DEV_FLOORS["tier_agreement"]
    assert evaluation.false_alarms.value <= DEV_CEILINGS["false_alarms"]
    assert evaluation.page_rate.value <= DEV_CEILINGS["page_rate"]
    assert all(targets_met(evaluation).values())


def test_dev_set_covers_every_expectation_language_and_category(dev_cases: list[Case]) -> None:
    """The development set holds every tier, question and quiet talk, in three languages."""
    assert len(dev_cases) >= 300
    assert {case.expect for case in dev_cases} == {"clear", "possible", "question", "none"}
    assert {case.lang for case in dev_cases} == {"en", "es", "mixed"}
    assert {case.category for case in dev_cases if case.expect == "clear"} >= {
        "overdose",
        "suicide",
        "relapse_danger",
        "abuse_or_danger",
    }


def test_report_shows_figures_and_never_a_message(dev_cases: list[Case]) -> None:
    """The printed report carries rates and counts, never the text of a message."""
    text = report(evaluate(dev_cases[:40]), "sample")
    assert "recall" in text
    assert "false alarms" in text
    assert not any(case.text in text for case in dev_cases[:40])


def test_a_malformed_set_is_refused_with_the_entry_number(tmp_path: Path) -> None:
    """A message without text or with an unknown expectation names its number."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "messages:\n  - {text: 'hi', lang: en, expect: none}\n  - {text: 'x', expect: maybe}\n",
        encoding="utf-8",
    )
    with pytest.raises(TypeError, match="message 2"):
        load_cases(broken)


def test_rates_count_each_kind_of_outcome(tmp_path: Path) -> None:
    """Recall counts either tier; false alarms count quiet talk; pages count questions."""
    sample = tmp_path / "sample.yaml"
    sample.write_text(
        "messages:\n"
        "  - {text: 'i want to kill myself tonight', lang: en, expect: clear,"
        " category: suicide, explicit: true}\n"
        "  - {text: 'i cant do this anymore', lang: en, expect: possible, category: suicide}\n"
        "  - {text: 'what does an overdose look like', lang: en, expect: question,"
        " category: overdose}\n"
        "  - {text: 'got my 30 day chip today', lang: en, expect: none}\n",
        encoding="utf-8",
    )
    evaluation = evaluate(load_cases(sample))
    assert (evaluation.recall.hits, evaluation.recall.total) == (2, 2)
    assert (evaluation.tier_agreement.hits, evaluation.tier_agreement.total) == (2, 2)
    assert (evaluation.false_alarms.hits, evaluation.false_alarms.total) == (0, 1)
    assert (evaluation.page_rate.hits, evaluation.page_rate.total) == (0, 1)
    assert evaluation.recall_explicit_suicide.value == 1.0


def test_the_bench_prints_the_dev_figures_and_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bench.crisis_eval --set dev`` prints the figures and each target's state."""
    assert main(["--set", "dev"]) == 0
    out = capsys.readouterr().out
    assert "recall by category:" in out
    assert "recall by language:" in out
    assert "target false alarms < 10%" in out


def test_the_bench_never_lists_held_out_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asking for the misses of the held-out set is refused, and no message is printed."""
    stand_in = tmp_path / "crisis_heldout.yaml"
    stand_in.write_text(
        "messages:\n  - {text: 'zzz unique words', lang: en, expect: clear, category: suicide}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(crisis_eval, "HELDOUT_FILE", stand_in)
    monkeypatch.setattr(crisis_eval, "ROOT", tmp_path)
    assert main(["--set", "heldout", "--misses"]) == 2
    captured = capsys.readouterr()
    assert "zzz unique words" not in captured.out + captured.err
