"""Medication guardrails: spot questions that ask for a personal decision about a medicine.

A patient asking whether to change a dose, stop, start, or mix a medicine with alcohol, drugs
or another medicine must be pointed to their prescriber and care team, never answered by the
library. Detection is tuned for recall in English and Spanish; general educational questions
("how does methadone work") do not match. Medication names go through the shared lexicon.

The text is first reduced to a "shape": folded words in which every medication mention becomes
MED and every substance (alcohol, cannabis, opioids ...) becomes SUB, so the patterns below can
be written once for all brand names, slang and misspellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.services.library import bundled_lexicon
from bot.services.search import Lexicon

GuardrailKind = Literal["dose_change", "stop", "start", "mixing"]


@dataclass(frozen=True, slots=True)
class GuardrailMatch:
    """A personal medication-decision question: its kind and the generic names it mentions."""

    kind: GuardrailKind
    medications: tuple[str, ...]


def _alternatives(*options: str) -> str:
    return "(?:" + "|".join(options) + ")"


# Generic words for "my medicine" besides a named medication (MED).
_MEDOBJ = (
    _alternatives(
        "MED",
        r"meds?",
        r"medications?",
        r"medicines?",
        r"medicinas?",
        r"medicamentos?",
        r"pills?",
        r"pastillas?",
        r"tablets?",
        r"films?",
        r"strips?",
        r"doses?",
        r"dosage",
        r"dosis",
        r"prescriptions?",
        r"shots?",
        r"injections?",
        r"inyeccion",
    )
    + r"(?:\s+(?:dose|doses|dosage|dosis|pills?|films?|strips?|shots?))?"
)
# A medicine word that is not the start of "dose reminders", "pill time" and the like.
_MED_NOT_SETTING = _MEDOBJ + (
    r"(?!\s+(?:reminders?|notifications?|alerts?|messages?|times?|schedule|"
    r"recordatorios?|horario))\b"
)
_DET = (
    r"(?:(?:my|the|this|that|these|those|a|an|your|some|any|mi|mis|la|el|los|las|lo|su|sus|"
    r"todays|tonights|tomorrows|morning|evening|night|next|daily|usual|whole|entire)\s+)*"
)
_FRAME = re.compile(
    r"\b"
    + _alternatives(
        r"(?:can|cant|could|may|should|shall|must|do|would|will|am) i",
        r"(?:is|would) it (?:be )?(?:ok|okay|safe|fine|alright|all right|bad|dangerous|risky|"
        r"wrong|possible|allowed|better|smart|wise|a good idea|a bad idea|good)",
        r"(?:ok|okay|safe|fine|alright) (?:for me )?to",
        r"what (?:happens|will happen|would happen|if) (?:if )?i",
        r"i (?:want|wanna|need|have|plan|planning|am planning|intend|would like|d like|am going|"
        r"gonna|am gonna|am thinking|was thinking|am about|decided|am tempted|am trying|"
        r"think i should|think i will|should|will|might|am considering|feel like)",
        r"id like",
        r"im (?:going|gonna|thinking|planning|about|tempted|trying|considering|allowed)",
        r"thinking (?:of|about)",
        r"planning (?:to|on)",
        r"tempted to",
        r"how (?:many|much|often)",
        r"puedo|podria|debo|deberia|quiero|quisiera|necesito|tengo que|voy a|pienso|"
        r"estoy pensando|se puede|esta bien|es seguro|es malo|es peligroso|que pasa si|"
        r"me conviene|estaria bien|hay problema",
    )
    + r"\b"
    + r"|\b(?:ok|okay|safe|fine|alright|bad|dangerous|risky)$"
)
_FIRST_PERSON = re.compile(r"\b(?:i|im|ive|id|my|me|myself|yo|mi|mis)\b")
# Questions that ask how things work, unless they also use a decision frame.
_EDUCATIONAL = re.compile(
    r"^(?:how (?:does|do(?! i\b)|is|are|long does|long do|long is)|what (?:is|are|does|do(?! i\b))|"
    r"whats|tell me|explain|que es|que son|como funciona|como actua|cual es|cuales son)\b"
)
_WHY = re.compile(r"^(?:why|por que|porque)\b")

_CONNECTOR = _alternatives(
    r"with",
    r"on",
    r"while(?: on| taking| using)?",
    r"and",
    r"plus",
    r"together with",
    r"if (?:im|i am) on",
    r"when (?:im|i am) on",
    r"after taking",
    r"con",
    r"y",
    r"mientras(?: tomo| estoy en| uso)?",
    r"si tomo",
    r"si estoy (?:en|con|tomando)",
    r"estando en",
)
_MIX_EXPLICIT = re.compile(
    rf"\b(?:SUB|MED)\s+{_CONNECTOR}\s+{_DET}(?:MED\b|{_MED_NOT_SETTING})"
    rf"|\bMED\s+{_CONNECTOR}\s+{_DET}SUB\b"
    rf"|\b(?:take|taking|use|using|have|tomar|usar)\s+{_DET}\w+(?:\s+\w+)?\s+"
    rf"(?:with|while on|while taking|on top of|con|junto con)\s+{_DET}{_MED_NOT_SETTING}"
    rf"|\b(?:take|taking|tomar)\s+{_DET}{_MEDOBJ}(?:\s+\w+)?\s+(?:with|con)\b"
)
_MIX_WORD = re.compile(
    r"\b(?:mix|mixing|combine|combining|together|at the same time|interact|mezclar|combinar|"
    r"juntos|juntas|al mismo tiempo)\b"
)
_QUIT_SUBSTANCE = re.compile(
    r"\b(?:stop|stopping|stopped|quit|quitting|give up|giving up|cut down on|cut back on|"
    r"dejar de|deje de|dejo de|dejar el|dejar la)\s+(?:\w+\s+)?SUB\b"
)

_STOP = re.compile(
    r"\b"
    + _alternatives(
        r"stop",
        r"stopping",
        r"stopped",
        r"quit",
        r"quitting",
        r"discontinue",
        r"discontinuing",
        r"(?:come|coming|came|get|getting|go|going|went|be) off(?: of)?",
        r"taper(?:ing)?(?: off)?",
        r"wean(?:ing)?(?: myself)?(?: off)?",
        r"drop",
        r"dropping",
        r"ditch",
        r"give up",
        r"giving up",
        r"get rid of",
        r"keep taking",
        r"stay on",
        r"staying on",
        r"continue(?: taking| on| with)?",
        r"ran out of",
        r"run out of",
        r"dejar(?: de tomar| de usar)?",
        r"deje(?: de tomar| de usar)?",
        r"dejo(?: de tomar| de usar)?",
        r"suspender",
        r"parar(?: de tomar)?",
        r"abandonar",
        r"seguir tomando",
        r"retirar(?:me)?(?: de)?",
    )
    + r"\s+(?:(?:taking|using|on|with|de tomar|con)\s+)?"
    + _DET
    + _alternatives(_MED_NOT_SETTING, r"(?<=taking )(?:it|them)\b", r"(?<=using )(?:it|them)\b")
)
_START = re.compile(
    r"\b"
    + _alternatives(
        r"start",
        r"starting",
        r"begin",
        r"beginning",
        r"try",
        r"trying",
        r"(?:get|getting|go|going|be) (?:back )?on",
        r"restart",
        r"resume",
        r"switch(?:ing)? (?:over )?(?:to|from)",
        r"change (?:over )?to",
        r"ask (?:my \w+ )?for",
        r"empezar",
        r"empiezo",
        r"comenzar",
        r"iniciar",
        r"probar",
        r"cambiar(?:me)? a",
        r"pasar(?:me)? a",
        r"volver a tomar",
    )
    + r"\s+(?:(?:taking|using|on|a tomar|con|el|la)\s+)?"
    + _DET
    + _MED_NOT_SETTING
    + r"|\b(?:(?:should|shall) i (?:get|take|use|be on|go with|ask for)|(?:can|could) i "
    r"(?:take|be on|go on)|do i (?:need|have) to (?:take|be on|get))\s+"
    + _DET
    + r"MED\b"
    + r"|\b(?:debo|deberia|puedo) (?:tomar|usar|pedir)\s+"
    + _DET
    + r"MED\b"
)
_DOSE = re.compile(
    r"\b(?:take|taking|have|use|do|give|tomar|tomo|usar)\s+(?:(?:a|an|my|the|mi)\s+)?"
    + _alternatives(
        r"two",
        r"2",
        r"three",
        r"3",
        r"four",
        r"double",
        r"doble",
        r"extra",
        r"another",
        r"more",
        r"less",
        r"fewer",
        r"half",
        r"second",
        r"2nd",
        r"dos",
        r"tres",
        r"mas",
        r"menos",
        r"media",
        r"otra",
        r"otro",
        r"la mitad",
    )
    + r"\b"
    + r"|(?:\bi|\bto|\bor)\s+(?:bump\s+)?up\s+"
    + _DET
    + _MED_NOT_SETTING
    + r"|\b"
    + _alternatives(
        r"raise",
        r"raising",
        r"increase",
        r"increasing",
        r"lower",
        r"lowering",
        r"decrease",
        r"decreasing",
        r"reduce",
        r"reducing",
        r"cut",
        r"cutting",
        r"split",
        r"splitting",
        r"halve",
        r"halving",
        r"double",
        r"doubling",
        r"triple",
        r"change",
        r"changing",
        r"adjust",
        r"adjusting",
        r"bump",
        r"boost",
        r"skip",
        r"skipping",
        r"miss",
        r"missed",
        r"missing",
        r"forgot",
        r"forget",
        r"(?:cut|cutting) (?:back|down) on",
        r"subir",
        r"bajar",
        r"aumentar",
        r"reducir",
        r"disminuir",
        r"cambiar",
        r"partir",
        r"dividir",
        r"duplicar",
        r"doblar",
        r"saltar(?:me)?",
        r"omitir",
        r"olvide",
    )
    + r"\s+"
    + _DET
    + _MED_NOT_SETTING
    + r"|\bhow (?:many|much)\b.*\b(?:should|can|do|must|could|would|shall) i "
    r"(?:take|use|have|do|give|be on)\b"
    + r"|\bwhat (?:dose|dosage|amount|strength|mg)\b.*\b(?:should|can|do|must) i\b"
    + r"|\bcuant[oa]s?\b.*\b(?:debo|puedo|tengo que|deberia) (?:tomar|usar)\b"
    + r"|\b(?:que|cual) dosis\b"
    + r"|\b(?:double (?:up|dose)|extra dose|dosis doble|doble dosis|media dosis|in half|"
    r"por la mitad|twice (?:a|as|the)|2x)\b"
    + r"|\b(?:higher|lower|bigger|smaller|stronger|weaker|larger|different|new) "
    r"(?:dose|dosage|strength|mg)\b|\bdosis (?:mas )?(?:alta|baja|mayor|menor)\b"
    + r"|\btoo (?:much|little|high|low|strong|weak)\b|\bnot enough\b|\bdemasiad[oa]\b"
    + r"|\b"
    + _MEDOBJ
    + r"\s+(?:be|get|gets|being|to be) (?:raised|lowered|increased|decreased|changed|adjusted|"
    r"upped|cut|reduced|split|doubled)\b"
    + r"|\b(?:take|taking|tomar)\s+"
    + _DET
    + _MEDOBJ
    + r"\s+(?:early|earlier|late|later|twice|again|at night|in the (?:morning|evening)|"
    r"every|each|once|antes|despues|mas tarde|temprano)\b"
)
_DOSE_WORD = re.compile(r"\b" + _MEDOBJ + r"\b|\b(?:mg|milligrams?|miligramos?|mgs)\b")


def _shape(text: str, lexicon: Lexicon) -> tuple[str, tuple[str, ...]]:
    parts: list[str] = []
    medications: list[str] = []
    for token in lexicon.analyse(text, lexicon.correct_medication_word):
        term = token.term
        if term is not None and term.group == "medications":
            parts.append("MED")
            if term.canonical not in medications:
                medications.append(term.canonical)
        elif term is not None and term.group == "substances":
            parts.append("SUB")
        else:
            parts.append(token.text)
    return " ".join(parts), tuple(medications)


def classify_medication_question(
    text: str, *, lexicon: Lexicon | None = None
) -> GuardrailMatch | None:
    """Return the kind of medication decision a message asks about, or None if it asks none."""
    shape, medications = _shape(text, lexicon or bundled_lexicon())
    framed = _FRAME.search(shape) is not None
    if _WHY.search(shape) or (_EDUCATIONAL.search(shape) and not framed):
        return None
    if not framed and not _FIRST_PERSON.search(shape):
        return None
    kind = _classify_shape(shape)
    return None if kind is None else GuardrailMatch(kind=kind, medications=medications)


def _classify_shape(shape: str) -> GuardrailKind | None:
    if _MIX_EXPLICIT.search(shape) or (_MIX_WORD.search(shape) and _DOSE_WORD.search(shape)):
        return "mixing"
    if _STOP.search(shape):
        return "stop"
    if _DOSE.search(shape) and _DOSE_WORD.search(shape):
        return "dose_change"
    if _START.search(shape):
        return "start"
    consumed = _QUIT_SUBSTANCE.sub(" ", shape)
    if re.search(r"\bSUB\b", consumed) and _DOSE_WORD.search(consumed):
        return "mixing"
    return None
