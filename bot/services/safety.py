"""Crisis-language detection: the deterministic detector behind the safety net.

This module owns the decision "does this text signal a crisis, and of which kind". It is pure
(no I/O, no logging, no clock), deterministic (regular expressions, then a small linear model
with fixed weights shipped in the package, :mod:`bot.services.crisis_model`, and, when the
caller passes it, the semantic layer of :mod:`bot.services.crisis_semantic`, a sentence encoder
and a linear head whose weights ship in the package too; no network) and tuned for RECALL: a
false alarm costs the patient one extra message and the care team one alert, a miss can cost a
life. English and Spanish patterns are both applied to every message,
whatever language the patient chose.

How a message is matched:

1. It is normalised (:func:`~bot.services.crisis_text.normalize`): quotes straightened and
   apostrophes removed ("don't" -> "dont"), accents stripped ("suicidárme" -> "suicidarme"),
   case folded, digits inside words read as letters ("k1ll" -> "kill"), everything that is not a
   letter or digit turned into one space, runs of three or more of the same letter collapsed
   ("diiiie" -> "die"), and common internet forms mapped to plain words ("kms" -> "kill myself",
   "kys" -> "kill yourself", "unalive", "sewerslide", "self delete", "can not" -> "cant",
   "wanna" -> "want to", "kiero" -> "quiero", "od'd" -> "overdosed"). A letter run is also tried
   collapsed to two letters ("killlll" -> "kill").
2. Patterns are matched on whole words, so "diet", "studied", "skill", "overdue", "cutting
   board" and "killing time" do not match. Euphemisms ("end it all", "off myself", "not wake
   up", "dirt nap", "final exit") are patterns of their own.
3. Negation is deliberately ignored: "I don't want to die but I keep thinking about it" and
   "I'm not suicidal" both match.
4. When several categories match, the most severe wins (:data:`~bot.models.SEVERITY_ORDER`).
   Severity is the urgency of a threat to life in the next minutes: an overdose or another
   medical emergency needs 911 and naloxone now, so it outranks suicide, which outranks harm to
   others, danger or abuse, and self-harm. Within a category an English pattern is reported
   before a Spanish one.

Known false positives that are accepted (documented with examples in the test corpus): bare
mentions of suicide or overdose ("my cousin died by suicide"), idioms that use crisis words
("I'm dying" on its own, "my mom is going to kill me", "I could kill him", "this chest pain",
"I can't take it anymore" about a headache, "no puedo más"), accidents described with
self-harm words ("I cut myself shaving", "I hurt myself at the gym"), and sleepiness that is an
overdose sign on methadone ("I can't stay awake", "nodding out"). A few educational framings
are deliberately quiet because patients of a dTMS programme ask them routinely: "seizure risk",
"history of seizures", "risk of overdose", "overdose prevention", "how does naloxone reverse an
overdose"; "dying to try it" and "dying for a cigarette" are read as idioms too. "Killing time"
and "this craving is killing me" do not match: "X is killing me" describes discomfort, and
craving is recorded by the daily check-in. "odd" is an ordinary word and only "od'd" (with an
apostrophe) is read as "overdosed".

5. When the rules raise nothing, the models score the message
   (:func:`~bot.services.crisis_judgement.model_signal`): the n-gram model and, when the caller
   passes it, the semantic layer (a multilingual sentence encoder and a linear head,
   :mod:`bot.services.crisis_semantic`), their two crisis probabilities joined. They catch
   wording no rule spells out, with their scores and top n-grams as reasons. They never overrule
   a question, memory or idiom the rules recognised unless the score reaches the "overrule"
   threshold.

The detector itself does no I/O and keeps no state; the semantic layer it may be given runs a
model and logs, once, if that model fails. The result never carries or logs the text, only
the category, the locale of the pattern and the scores.

The parts live in their own modules: the values returned in :mod:`bot.services.crisis_signal`,
normalisation in :mod:`bot.services.crisis_text`, the rules' reading in
:mod:`bot.services.crisis_rules` and the models' judgement in
:mod:`bot.services.crisis_judgement`; this module puts them in order.
"""

from __future__ import annotations

from bot.services.crisis_judgement import model_signal
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_semantic import SemanticLayer
from bot.services.crisis_signal import Assessment, CrisisSignal

__all__ = ["assess", "detect_crisis"]


def assess(text: str, semantic: SemanticLayer | None = None) -> Assessment:
    """Read one message: a crisis signal (with tier, who and reasons), a question, or quiet.

    The rules are read first; when they raise nothing, the statistical models may still raise a
    signal on wording the rules do not know: the n-gram model (:mod:`bot.services.crisis_model`)
    and, when it is given, the semantic layer (:mod:`bot.services.crisis_semantic`), which
    embeds the message (milliseconds of C code that release the GIL: the handler runs this in
    a worker thread). A message the rules decide on is never embedded.
    """
    if not text:
        return Assessment(signal=None)
    assessment, quieted = assess_rules(text)
    if assessment.signal is not None:
        return assessment
    signal = model_signal(text, quieted, semantic)
    if signal is None:
        return assessment
    return Assessment(signal=signal, question=assessment.question, reasons=assessment.reasons)


def detect_crisis(text: str, semantic: SemanticLayer | None = None) -> CrisisSignal | None:
    """Return the crisis signal in ``text`` (clear before possible, most severe first), or None."""
    return assess(text, semantic).signal
