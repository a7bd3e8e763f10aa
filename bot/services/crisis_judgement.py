"""The statistical models' judgement of a message the crisis rules left quiet.

This module owns how the n-gram model (:mod:`bot.services.crisis_model`) and, when the caller
passes it, the semantic layer (:mod:`bot.services.crisis_semantic`) turn their scores into a
crisis signal (:func:`model_signal`): which tier a score reaches, which category the two heads
find likeliest together, and the reasons a clinician or a test can read.
"""

from __future__ import annotations

import math
from typing import Final

from bot.models import CrisisCategory
from bot.services import crisis_model
from bot.services.crisis_rules import WRITER_AS_OBJECT, guess_locale, slot_names, slots_of, who_of
from bot.services.crisis_semantic import CrisisHead, HeadReading, SemanticLayer, combine
from bot.services.crisis_signal import CrisisSignal, Tier, Who
from bot.services.crisis_text import forms_of


def model_signal(
    text: str, quieted: str | None, semantic: SemanticLayer | None
) -> CrisisSignal | None:
    """Return the models' signal for a message the rules left quiet, or None.

    With the semantic layer (:mod:`bot.services.crisis_semantic`), the n-gram model's and the
    head's crisis probabilities are joined (:func:`~bot.services.crisis_semantic.combine`) and
    read against the head's thresholds: at or above "clear" a clear crisis, at or above
    "possible" a possible one; a message the head reads as a question raises nothing from the
    join. Whenever the join raises nothing (and without the layer: it could not load, or
    failed on this message) the n-gram model reads alone, against its own thresholds, so the
    layer only ever adds catches: a score at or above the clear threshold answers as a clear
    crisis, at or above the possible threshold as a possible one, and overdose and suicide are
    read first for recall: when the category head names one of them with confidence, a lower
    score is enough for the possible tier. Either way, a question, a memory or an idiom that the
    rules recognised is overruled only by a score at or above the "overrule" threshold.
    """
    forms = forms_of(text)
    if crisis_model.word_count(forms[0]) < crisis_model.MIN_WORDS:
        return None  # "no", "Room 2", "9:30": too little text for n-grams to mean anything
    score = crisis_model.MODEL.score(forms[0])
    reading = semantic.read(text) if semantic is not None else None
    judged = None
    if semantic is not None and reading is not None:
        judged = _joined_judgement(score, reading, semantic.head, quieted)
        if judged is not None:
            tier, category, layer_reasons = judged
            joined = combine(score.crisis, reading.crisis, semantic.head.weight)
            layer, layer_score = "semantic", joined
    if judged is None:
        # The n-gram model's own reading stands whatever the head says: the semantic layer
        # adds catches, it never takes one away (a miss can cost a life, a false alarm little).
        tier_alone = _model_tier(score, quieted)
        if tier_alone is None:
            return None
        tier, category = tier_alone, CrisisCategory(score.category)
        layer_reasons = (
            f"model:{score.crisis:.2f}",
            f"model_category:{score.category}:{score.category_probability:.2f}",
        )
        layer, layer_score = "model", score.crisis
    slots: frozenset[str] = frozenset()
    for form in forms:
        slots |= slots_of(form)
    who = who_of(slots)
    if category is CrisisCategory.ABUSE_OR_DANGER and WRITER_AS_OBJECT.search(forms[0]):
        who = Who.SELF
    reasons = (
        *layer_reasons,
        *(f"ngram:{name}" for name in crisis_model.MODEL.top_ngrams(forms[0])),
        *slot_names(slots),
    )
    return CrisisSignal(
        category=category,
        locale=guess_locale(forms[0]),
        tier=tier,
        who=who,
        reasons=reasons,
        layer=layer,
        score=round(layer_score, 3),
    )


def _model_tier(score: crisis_model.Score, quieted: str | None) -> Tier | None:
    """The n-gram model alone: the tier its score reaches, or None."""
    limits = crisis_model.MODEL.thresholds
    if quieted is not None:
        return Tier.POSSIBLE if score.crisis >= limits["overrule"] else None
    if score.crisis >= limits["clear"]:
        return Tier.CLEAR
    if score.crisis >= limits["possible"] or (
        score.category in _RECALL_FIRST
        and score.category_probability >= limits["focus_category"]
        and score.crisis >= limits["focus"]
    ):
        return Tier.POSSIBLE
    return None


def _joined_judgement(
    score: crisis_model.Score,
    reading: HeadReading,
    head: CrisisHead,
    quieted: str | None,
) -> tuple[Tier, CrisisCategory, tuple[str, ...]] | None:
    """The n-gram model and the semantic head together: tier, category and reasons, or None."""
    if reading.reads_as_question:
        return None  # asked, not told: the article answers, nobody is paged
    limits = head.thresholds
    joined = combine(score.crisis, reading.crisis, head.weight)
    if quieted is not None:
        if joined < limits["overrule"]:
            return None
        tier = Tier.POSSIBLE
    elif joined >= limits["clear"]:
        tier = Tier.CLEAR
    elif joined >= limits["possible"]:
        tier = Tier.POSSIBLE
    else:
        return None
    # The category both heads find likeliest together (a sum of log-probabilities).
    log_model = (math.log(max(p, 1e-12)) for p in score.category_probabilities)
    together = [m + h for m, h in zip(log_model, reading.category_log_probabilities, strict=True)]
    best = max(range(len(together)), key=together.__getitem__)
    category = CrisisCategory(head.categories[best])
    reasons = (
        f"semantic:{joined:.2f}",
        f"model:{score.crisis:.2f}",
        f"semantic_head:{reading.crisis:.2f}",
        f"semantic_category:{category.value}",
    )
    return tier, category, reasons


_RECALL_FIRST: Final = frozenset({"overdose", "suicide"})
