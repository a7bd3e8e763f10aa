"""Crisis-language detection: the deterministic detector behind the safety net.

This module owns the decision "does this text signal a crisis, and of which kind". It is pure
(no I/O, no logging, no clock), deterministic (regular expressions, then a small linear model
with fixed weights shipped in the package, :mod:`bot.services.crisis_model`; no network) and
tuned for RECALL: a false alarm costs the patient one extra message and the care team one
alert, a miss can cost a life. English and Spanish patterns are both applied to every message,
whatever language the patient chose.

How a message is matched:

1. It is normalised (:func:`normalize`): quotes straightened and apostrophes removed
   ("don't" -> "dont"), accents stripped ("suicidárme" -> "suicidarme"), case folded, digits
   inside words read as letters ("k1ll" -> "kill"), everything that is not a letter or digit
   turned into one space, runs of three or more of the same letter collapsed ("diiiie" ->
   "die"), and common internet forms mapped to plain words ("kms" -> "kill myself", "kys" ->
   "kill yourself", "unalive", "sewerslide", "self delete", "can not" -> "cant", "wanna" ->
   "want to", "kiero" -> "quiero", "od'd" -> "overdosed"). A letter run is also tried collapsed
   to two letters ("killlll" -> "kill").
2. Patterns are matched on whole words, so "diet", "studied", "skill", "overdue", "cutting
   board" and "killing time" do not match. Euphemisms ("end it all", "off myself", "not wake
   up", "dirt nap", "final exit") are patterns of their own.
3. Negation is deliberately ignored: "I don't want to die but I keep thinking about it" and
   "I'm not suicidal" both match.
4. When several categories match, the most severe wins (:data:`SEVERITY_ORDER`). Severity is the
   urgency of a threat to life in the next minutes: an overdose or another medical emergency
   needs 911 and naloxone now, so it outranks suicide, which outranks harm to others, danger
   or abuse, and self-harm. Within a category an English pattern is reported before a Spanish
   one.

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

5. When the rules raise nothing, the model scores the message (:func:`_model_signal`): it
   catches wording no rule spells out, with its score and top n-grams as reasons. It never
   overrules a question, memory or idiom the rules recognised unless its score reaches the
   "overrule" threshold (set out of reach by the current training).

The result never carries or logs the text, only the category and the locale of the pattern.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.models import SEVERITY_ORDER, CrisisCategory
from bot.services import crisis_frames, crisis_model

__all__ = [
    "SEVERITY_ORDER",
    "Assessment",
    "CrisisCategory",
    "CrisisSignal",
    "Tier",
    "Who",
    "assess",
    "detect_crisis",
    "normalize",
]


class Tier(StrEnum):
    """How sure the detector is that the message is a crisis."""

    CLEAR = "clear"  # the full answer and an urgent alert at once
    POSSIBLE = "possible"  # "Are you safe right now?" with buttons; silence alerts the team


class Who(StrEnum):
    """Who is at risk: the writer or someone with them."""

    SELF = "self"
    OTHER = "other"


_LOCALES: Final[tuple[str, ...]] = ("en", "es")
_LEXICON: Final = crisis_frames.load_lexicon(crisis_frames.BUNDLED_PHRASES)


@dataclass(frozen=True, slots=True)
class CrisisSignal:
    """A crisis signal: what kind, how sure, who is at risk, and why (never the text itself).

    ``locale`` is the language of the first rule that fired; ``reasons`` names the rules and
    meaning slots that fired ("phrase:suicide:en", "slot:other+unresponsive"), so a clinician
    or a test can see why a message alarmed.
    """

    category: CrisisCategory
    locale: str
    tier: Tier = Tier.CLEAR
    who: Who = Who.SELF
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Assessment:
    """The detector's reading of one message.

    ``signal`` is a crisis to answer (None when there is none). ``question`` is set when the
    message asks about a crisis topic (overdose signs, mixing, naloxone) without reporting one:
    it is answered from the library with the emergency steps on top, and nobody is paged.
    """

    signal: CrisisSignal | None
    question: bool = False
    reasons: tuple[str, ...] = ()

    def explain(self) -> str:
        """Return the reasons as one line, for tests and the evaluation's miss list."""
        if self.signal is not None:
            return f"{self.signal.tier} {self.signal.category} ({self.signal.who}): " + ", ".join(
                self.signal.reasons
            )
        if self.question:
            return "question: " + ", ".join(self.reasons)
        return "quiet"


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

_QUOTES: Final = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark, the usual phone apostrophe
        "\u201a": "'",
        "\u201b": "'",
        "\u02bc": "'",  # modifier letter apostrophe
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent typed as an apostrophe
        "`": "'",
        "\uff07": "'",  # fullwidth apostrophe
        "&": " and ",
        "\U0001f602": " lol ",  # face with tears of joy: laughing at a figure of speech
        "\U0001f923": " lol ",  # rolling on the floor laughing
    }
)
# Combining accents (what NFKD splits off "á" and "ñ") and invisible characters (zero-width
# spaces and joiners, soft hyphens, byte-order marks) that would split a word in two.
_MARKS: Final = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_OD_APOSTROPHE: Final = re.compile(r"\bo\.?d\.?\s*'\s*(d|ed|ing)\b")
_LEET_CHAR: Final = re.compile(r"[0-9@$]")
_WORDISH: Final = re.compile(r"[a-z0-9@$]+")
_LEET: Final = str.maketrans("0134579@$", "oieastgas")
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")
_NOT_WORD_OR_BREAK: Final = re.compile(r"[^a-z0-9\x1f]+")
# A sentence break: one stop, or ! ? ; , : followed by a space, or a new line. An ellipsis is
# not a break ("i just want to... disappear").
_SENTENCE_BREAK: Final = re.compile(r"(?:(?<!\.)\.(?!\.)|[!?;,:]+)(?=\s)|\n")
_LETTER_RUN: Final = re.compile(r"([a-z])\1{2,}")

# Single words typed in place of plain ones (chat spelling, slang, common typos), and phrases
# run together, as in hashtags ("#iwanttodie"): kept as data in content/safety/crisis_phrases.yaml.
_WORD_MAP: Final[dict[str, str]] = dict(_LEXICON["word_map"])
_WORD_MAP_PATTERN: Final = re.compile(r"\b(?:" + "|".join(sorted(_WORD_MAP)) + r")\b")
_RUN_TOGETHER: Final[dict[str, str]] = dict(_LEXICON["run_together"])
_RUN_TOGETHER_PATTERN: Final = re.compile("|".join(sorted(_RUN_TOGETHER, key=len, reverse=True)))
_TARGETS_OF_OTHERS: Final = (
    r"him|her|them|someone|somebody|you|yourself|everyone|everybody|people|my|his|that|this"
)

# Multi-word forms, rewritten in one pass after the single-word map. Earlier rules win where
# two could start at the same place ("unalive myself" before "unalive").
_PHRASE_RULES: Final[tuple[tuple[str, Callable[[str], str]], ...]] = (
    (r"can not", lambda _: "cant"),
    # "i dont want to be here no more": a chat form of "anymore" at the end of a clause.
    (r"no more(?= \.|$)", lambda _: "anymore"),
    (r"do not", lambda _: "dont"),
    (r"will not", lambda _: "wont"),
    (r"does not", lambda _: "doesnt"),
    (r"did not", lambda _: "didnt"),
    (r"is not", lambda _: "isnt"),
    (r"are not", lambda _: "arent"),
    (r"was not", lambda _: "wasnt"),
    (r"could not", lambda _: "couldnt"),
    (r"i am", lambda _: "im"),
    (r"he is", lambda _: "hes"),
    (r"she is", lambda _: "shes"),
    (r"they are", lambda _: "theyre"),
    (r"it is", lambda _: "its"),
    (
        r"(?:want|wants|wanted|going|ready|need|have|got|wish|trying|about|deserve|like) 2",
        lambda found: found[:-1] + "to",
    ),
    (
        r"(?:took|take|taking|taken|used) (?:2|to) (?:much|many)",
        lambda found: found.split()[0] + " too " + found.split()[2],
    ),
    (r"my self", lambda _: "myself"),
    (r"your self", lambda _: "yourself"),
    (r"some one", lambda _: "someone"),
    (r"sewer ?(?:slide|side|slid)\w*", lambda _: "suicide"),
    (r"self ?delet\w*", lambda _: "suicide"),
    (r"(?:commit|kermit) (?:sudoku|die|toaster bath|seppuku|suicide)", lambda _: "commit suicide"),
    (r"un ?aliv(?:e|ed|es|ing)? (?:me|myself)", lambda _: "kill myself"),
    (r"un ?aliv(?:e|ed|es|ing)?(?= (?:" + _TARGETS_OF_OTHERS + r")\b)", lambda _: "kill"),
    (r"un ?aliv\w*", lambda _: "kill myself"),
    (r"od (?:d|ed)", lambda _: "overdosed"),
    (r"over dos(?:e|ed|es|ing)", lambda found: found.replace(" ", "")),
    (r"sobre dosis", lambda _: "sobredosis"),
    (r"(?:feeling|feel|im|so|very|bit) sui", lambda found: found[:-3] + "suicidal"),
    (r"sui (?:thoughts|ideation|vibes)", lambda found: "suicidal" + found[3:]),
)
_PHRASE_PATTERN: Final = re.compile(
    r"\b(?:"
    + "|".join(f"(?P<r{index}>{pattern})" for index, (pattern, _) in enumerate(_PHRASE_RULES))
    + r")\b"
)


def _rewrite_phrase(match: re.Match[str]) -> str:
    rule = match.lastgroup
    if rule is None:  # every alternative is a named group, so this never happens
        return match.group()
    return _PHRASE_RULES[int(rule[1:])][1](match.group())


def _strip_marks(text: str) -> str:
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


def _read_leet(match: re.Match[str]) -> str:
    token = match.group()
    # Only words that mix letters with look-alike digits ("k1ll", "d13"); "911", "2x" and "0d"
    # stay as typed.
    if len(token) >= 3 and not token.isalpha() and any(c.isalpha() for c in token):
        return token.translate(_LEET)
    return token


def _map_words(text: str) -> str:
    if _RUN_TOGETHER_PATTERN.search(text):
        text = _RUN_TOGETHER_PATTERN.sub(lambda m: f" {_RUN_TOGETHER[m.group()]} ", text)
        text = " ".join(text.split())
    text = _WORD_MAP_PATTERN.sub(lambda m: _WORD_MAP[m.group()], text)
    return _PHRASE_PATTERN.sub(_rewrite_phrase, text)


def _fold(text: str) -> str:
    """Fold quotes, marks, case and look-alike digits; punctuation and letter runs stay."""
    text = text.translate(_QUOTES)
    if not text.isascii():
        text = _strip_marks(text)
    text = text.casefold()
    text = _OD_APOSTROPHE.sub(
        lambda m: " overdosing " if m.group(1) == "ing" else " overdosed ", text
    )
    text = text.replace("'", "")
    if _LEET_CHAR.search(text) is None:
        return text
    return _WORDISH.sub(_read_leet, text)


def _forms(text: str) -> tuple[str, ...]:
    """Return every normalised form of ``text`` that the patterns are matched against.

    The flat form joins words across punctuation ("i.want.to.die"). When the text has sentence
    breaks, a second form keeps them as " . ", so that an exception written for one phrase
    ("wake up" followed by "so early") never reads into the next sentence ("...never wake up.
    So tired"). Each form is tried with letter runs cut to one letter and to two.
    """
    folded = _fold(text)
    flats = [_NOT_WORD.sub(" ", folded).strip()]
    if _SENTENCE_BREAK.search(folded):
        marked = _SENTENCE_BREAK.sub(" \x1f ", folded)
        flats.append(_NOT_WORD_OR_BREAK.sub(" ", marked).replace("\x1f", ".").strip())
    forms: list[str] = []
    for flat in flats:
        if _LETTER_RUN.search(flat) is None:
            forms.append(_map_words(flat))
        else:
            forms.append(_map_words(_LETTER_RUN.sub(r"\1", flat)))
            forms.append(_map_words(_LETTER_RUN.sub(r"\1\1", flat)))
    return tuple(forms)


def normalize(text: str) -> str:
    """Return the folded form of ``text`` that the crisis patterns are matched against."""
    flat = _NOT_WORD.sub(" ", _fold(text)).strip()
    return _map_words(_LETTER_RUN.sub(r"\1", flat))


# ---------------------------------------------------------------------------------------------
# Patterns (written against normalised text: lowercase ASCII words separated by single spaces)
# ---------------------------------------------------------------------------------------------

# Filler words people put inside a phrase ("i just really want to die").
_PIECES: Final[dict[str, str]] = crisis_frames.expand_pieces(_LEXICON["pieces"])
_ADV: Final = _PIECES["adv"]
_PEOPLE: Final = _PIECES["people"]
# "wake up" as a wish not to live, but not "wake up early" or "wake up late".
_WAKE_UP: Final = _PIECES["wake_up"]
# Third parties whose collapse is someone else's medical emergency.
_SOMEONE_ELSE: Final = _PIECES["someone"]
_AGGRESSOR: Final = _PIECES["aggressor"]
_DRUGS: Final = _PIECES["drugs"]
_SEDATIVES: Final = _PIECES["sedatives"]
_SEDANTES: Final = _PIECES["sedantes"]
# "morirse de risa", "me mató de hambre": Spanish idioms, not intent.
_NOT_AN_IDIOM: Final = _PIECES["not_an_idiom"]
_PERSONAS: Final = _PIECES["personas"]
_HARM_INTENT: Final = _PIECES["harm_intent"]


def _compile(alternatives: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.ASCII)


# In severity order, English before Spanish: the first pattern that matches decides.
_PHRASES: Final[tuple[tuple[CrisisCategory, str, re.Pattern[str]], ...]] = tuple(
    (
        category,
        locale,
        _compile(crisis_frames.expand_all(_LEXICON["clear"][category][locale], _PIECES)),
    )
    for category in SEVERITY_ORDER
    if category in _LEXICON["clear"]
    for locale in _LOCALES
)
_POSSIBLE: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (locale, _compile(crisis_frames.expand_all(_LEXICON["possible"][locale], _PIECES)))
    for locale in _LOCALES
)


# ---------------------------------------------------------------------------------------------
# Meaning slots: who is at risk, what is happening, how soon, and whether it is a question
# ---------------------------------------------------------------------------------------------
#
# The phrase patterns above recognise ways of saying a crisis. The slots below recognise its
# parts, so that a sentence nobody wrote down before still reads as a crisis when its parts do:
# "my buddy is blue and wont wake up" is another person + a body that does not respond;
# "just shot up alone after detox" is use + now + alone + lost tolerance. Each slot is a small
# lexicon in English and Spanish; the rules in :func:`_slot_rules` compose them.

_OTHER_PERSON_WORDS: Final = (
    r"he|she|they|hes|shes|theyre|him|her|them|someone|somebody|this (?:guy|girl|dude|man|woman"
    r"|person|kid)|(?:my|our|his|her|a|the) (?:friend|buddy|homie|bro|brother|sister|sis|son"
    r"|daughter|kid|baby|boyfriend|girlfriend|bf|gf|husband|wife|partner|roommate|mom|mum"
    r"|mother|dad|father|cousin|uncle|aunt|neighbor|neighbour|guy|girl|dude|man|woman|person"
    r"|sponsor|sponsee|ex|coworker|nephew|niece|grandma|grandpa|fiance|fiancee|boo|mate"
    r"|housemate|child|teen|teenager|patient)|el|ella|ellos|ellas|alguien|(?:mi|mis|su|un|una"
    r"|el|la) (?:amig[oa]s?|compa|carnal|bro|herman[oa]|hij[oa]|novi[oa]|espos[oa]|marido"
    r"|mujer|pareja|companer[oa] de cuarto|roomie|roommate|mama|papa|madre|padre|prim[oa]"
    r"|ti[oa]|vecin[oa]|chav[oa]|muchach[oa]|senor[a]?|bebe|nene|nena|jefe|suegr[oa]"
    r"|cunad[oa]|sobrin[oa]|buddy|friend|homie)"
)
_SELF_WORDS: Final = r"i|im|ive|id|ill|me|my|myself|yo|me|mi|estoy|tengo|siento"

_SLOT_SOURCES: Final[dict[str, str]] = {
    "other": r"\b(?:" + _OTHER_PERSON_WORDS + r")\b",
    # A body that does not respond, does not breathe, or has turned colour.
    "unresponsive": (
        r"\b(?:unresponsive|non ?responsive|(?:not|isnt|stopped|barely|hardly|stop|isnt really"
        r"|aint) breath\w*|breathing (?:weird|funny|slow|really slow|shallow|strange)|(?:no|not)"
        r" (?:breathing|pulse|heartbeat)|(?:turning|turned|gone|going|is|are|look|looks|getting"
        r"|lips|face|skin|fingers|nails) (?:\w+ )?(?:blue|purple|gray|grey|ashy)|blue lips"
        r"|lips are blue|(?:snoring|gurgling|choking) (?:weird|funny|sound|noise|strange|and)"
        r"|gurgl\w*|foam\w* (?:at|from) (?:the|his|her) mouth|foaming|cold and (?:blue|pale)"
        r"|no (?:respira|reacciona|responde)|dejo de respirar|(?:casi|apenas) no respira"
        r"|respira (?:raro|muy lento|poco)|(?:esta|se puso|se esta poniendo|tiene los labios"
        r"|labios|labios estan|cara) (?:\w+ )?(?:morad[oa]s?|azul(?:es)?)|inconsciente"
        r"|desmayad[oa] y|echa espuma)\b"
    ),
    # Someone who will not wake or answer: a crisis when it is another person, or after use.
    "wont_wake": (
        r"\b(?:(?:wont|doesnt|isnt|not|wouldnt|couldnt) (?:\w+ )?(?:wake|waking|respond"
        r"|responding|move|moving|come to|coming to|open (?:his|her|their) eyes)|(?:is|might be"
        r"|looks|think (?:hes|shes)) dead|(?:cant|cannot"
        r"|couldnt|can not) (?:\w+ )?(?:wake|get) (?:him|her|them|my \w+|\w+ to wake)|(?:passed"
        r"|knocked) out and|limp|no (?:despierta|se mueve)|no (?:lo|la|los) (?:puedo|podemos)"
        r" despertar)\b"
    ),
    # Overdose named, or too much taken.
    "overdose": (
        r"\b(?:overdos\w*|od|oded|oding|overdosed|sobredosis|sobre dosis|(?:did|took|used|shot)"
        r" (?:way )?more than (?:usual|normal|i usually|i normally|i should)|(?:pill )?bottle"
        r" (?:is |was )?empty|empty (?:pill )?bottle|frasco vacio|(?:took|taken|used|did"
        r"|shot|snorted|swallowed|popped|injected) (?:\w+ )?(?:too|way too|to) (?:much|many)"
        r"|too (?:much|many) (?:pills|xans|bars|of)|(?:tome|me tome|tomo|se tomo|uso|use|consumi"
        r"|se metio|me meti) (?:\w+ )?(?:demasiad[oa]s?|de mas|mucho|muchas|un monton)"
        r"|me pase (?:de|con)|se paso (?:de|con)|una dosis muy alta)\b"
    ),
    # The writer's own body slowing down after use: the overdose is starting.
    "sedated": (
        r"\b(?:cant (?:keep|stay|hold) (?:my )?(?:eyes open|awake|head up)|(?:eyes|eyelids)"
        r" (?:\w+ )?(?:closing|wont stay open)|cant stay awake|keep (?:passing|blacking) out"
        r"|nodding (?:out|off|hard) (?:and|while|mid)|(?:passing|blacking|fading) out|cant"
        r" (?:stop|keep from) nodding|not making (?:any )?sense|no (?:dice|habla) coherente|cant"
        r" breathe|cant catch my breath|hard to breathe|(?:barely|hardly) breathing|breathing"
        r" (?:is )?(?:really |very |super )?(?:slow|shallow)|(?:feel|feeling|felt) (?:\w+ )?(?:like"
        r" im dying|like im going to pass out|like passing out|like i cant breathe)|chest (?:is )?"
        r"(?:tight|heavy)|heart (?:is )?(?:slow|slowing)|(?:lips|fingers) (?:are |look |turning )?"
        r"(?:blue|purple)|no puedo (?:respirar|mantener los ojos abiertos|mantenerme despiert[oa]"
        r"|abrir los ojos)|me (?:estoy|siento) (?:\w+ )?(?:desmayando|muriendo)|se me cierran los"
        r" ojos|me cuesta respirar|respiro (?:muy )?(?:lento|poco)|me falta el aire"
        r"|(?:siento que )?me (?:voy a desmayar|desmayo))\b"
    ),
    # Use that happened just now, or that is about to happen.
    "use": (
        r"\b(?:shot up|shoot up|shooting up|used|use|using|relapsed|relapse|relapsing|took|take"
        r"|taking|snorted|snort|snorting|smoked|smoking|injected|inject|banged|slammed|fixed"
        r"|did (?:a|some|a bag|a line|a shot|fent|dope|heroin|h|a bump|a blue|blues|pills"
        r"|a point)|picked up|pick up|picking up|cop|copped|copping|score|scored|scoring|get high"
        r"|got high|getting high|high as|drank|drinking|drink|popped|pop|dosed|hit (?:a|the|some)"
        r"|me inyecte|me meti|me puse|consumi|consumir|consumo|use|usar|drogarme|me drogue"
        r"|tome|tomar|fume|fumar|recai|recaida|recaer|inhale|esnife|me pique|meterme|picarme"
        r"|comprar|compre|conseguir|consegui)\b"
    ),
    "drug": (
        r"\b(?:fent|fentanyl|fentanil|fentanilo|fetty|fenty|heroin|heroina|dope|h|smack|blues"
        r"|m30s?|perc\w*|oxy\w*|roxy\w*|opiates?|opioids?|opiaceos|opioides|pills?|pastillas?"
        r"|xans?|xanax|bars?|benzos?|klonopin|valium|ativan|methadone|metadona|suboxone|subs?"
        r"|bupe|tranq|xylazine|xilacina|meth|crack|coke|cocaine|cocaina|alcohol|booze|drinks?"
        r"|vodka|liquor|pills|lean|morphine|morfina|dilaudid|carfentanil|speedball|dose|dosis"
        r"|bag|bags|bundle|shot|rig|needle|aguja|jeringa|droga|drogas|chiva|cristal)\b"
    ),
    # Tolerance lost: after detox, rehab, jail, hospital, or a long stretch without use.
    "lost_tolerance": (
        r"\b(?:(?:after|since|out of|from|left|got out of|just got out of|released from|home from"
        r"|back from|discharged from|finished|completed) (?:\w+ )?(?:detox|rehab|jail|prison"
        r"|treatment|inpatient|the hospital|hospital|lockup|county|the joint|residential)"
        r"|(?:just )?(?:got out|got released|got home from)|first time in (?:\w+ )?(?:months"
        r"|years|weeks|a long time|forever|a while)|(?:\w+ )?(?:months|years|weeks|days) (?:clean"
        r"|sober|off|without)|(?:been|was) (?:clean|sober|off it|off dope|off fent)"
        r"|off (?:methadone|suboxone|subs|vivitrol|bupe|naltrexone) (?:for|since)|(?:stopped"
        r"|quit|came off|missed) (?:my )?(?:methadone|suboxone|subs|vivitrol|shot|bupe|naltrexone)"
        r"|no tolerance|(?:tolerance|tolerancia) (?:is |esta )?(?:gone|low|baja|down|zero)"
        r"|(?:havent|hasnt|have not|has not) (?:used|drank|touched it|been high) (?:in|for)"
        r" (?:\w+ )?(?:months|years|a year|weeks|a while|so long)"
        r"|(?:got|lost|dropped) my tolerance"
        r"|(?:despues|al salir|sali|recien sali|saliendo) (?:de )?(?:la |el )?(?:desintox\w*"
        r"|rehab\w*|carcel|prision|cana|bote|hospital|tratamiento|centro)|(?:meses|anos|semanas)"
        r" (?:limpi[oa]|sin consumir|sin usar|sobri[oa])|hace (?:meses|anos) que no"
        r"|perdi la tolerancia|sin tolerancia)\b"
    ),
    "alone": (
        r"\b(?:alone|by myself|on my own|nobody (?:here|around|with me|home)|no one (?:here"
        r"|around|with me|home)|(?:sol[oa]|sin nadie|nadie (?:aqui|conmigo|en casa)))\b"
    ),
    "naloxone": r"\b(?:narcan|naloxone|naloxona|nasal spray|kloxxado|zimhi)\b",
    "cyanosis": (
        r"\b(?:blue|purple|gray|grey|ashy|azul(?:es)?|morad[oa]s?|gris(?:es)?|blue lips"
        r"|labios (?:morados|azules))\b"
    ),
    # Two depressants together: the mixing danger (opioids with benzodiazepines or alcohol).
    "opioid": (
        r"\b(?:methadone|metadona|suboxone|subs|bupe|buprenorphine|buprenorfina|fent|fentanyl"
        r"|fentanilo|heroin|heroina|dope|oxy\w*|perc\w*|opioids?|opiates?|opioides|morphine"
        r"|morfina|tramadol|codeine|codeina|lean|dilaudid|vicodin|norco|m30s?|blues|a bag"
        r"|bags|bundle|chiva)\b"
    ),
    "depressant": (
        r"\b(?:xanax|xans?|bars|benzos?|benzodiazepin\w*|klonopin|clonazepam|rivotril|valium"
        r"|diazepam|ativan|lorazepam|alprazolam|alcohol|booze|drinks?|drinking|drank|beers?"
        r"|wine|vodka|whiskey|liquor|tequila|shots|cerveza\w*|trago\w*|vino|gabapentin\w*"
        r"|gabbies|lyrica|pregabalin\w*|soma|muscle relaxers?|ambien|sleeping pills"
        r"|pastillas para dormir|xylazine|tranq|ghb)\b"
    ),
    "now": (
        r"\b(?:now|right now|rn|tonight|just|already|currently|at the moment|a minute ago"
        r"|minutes ago|an hour ago|this morning|today|earlier|ahora|ahorita|ya|esta noche|hoy"
        r"|acabo de|acaba de|hace (?:un rato|rato|unos minutos|poco)|en este momento)\b"
    ),
    # A report in the first or third person, of something done or felt (not "if I took").
    "report_self": (
        r"\b(?:(?<!if )(?<!what if )(?<!can )(?<!should )(?<!could )(?<!would )(?<!do )i (?:just "
        r"|already |accidentally |kinda |)(?:took|used|mixed|shot|did|drank|snorted|smoked"
        r"|had|popped|relapsed|injected|swallowed|feel|cant|think i|am)|im (?:so |really |kinda"
        r" |)(?:high|scared|freaking|nodding|passing|dizzy|on|feeling)|(?:ive|i have)"
        r" (?:been|taken|used|had)|(?:tome|me tome|consumi|mezcle|me inyecte|me siento"
        r"|me estoy|estoy|siento|me voy a|voy a)|^(?:just |accidentally )?(?:took|used|mixed"
        r"|shot up|snorted|drank|popped|swallowed|injected)|im (?:going|about|gonna) to|im gonna)\b"
    ),
    "report_other": (
        r"\b(?:(?:he|she|they|hes|shes|theyre|my \w+|el|ella|mi \w+) (?:just |already |ya )?"
        r"(?:took|used|mixed|shot|did|is|isnt|wont|cant|has|had|was|looks|keeps|stopped|started"
        r"|been|just"
        r"|se tomo|se metio|tomo|mezclo|no puede|no esta|esta|se puso))\b"
    ),
    # Question form: how people ask about a topic rather than report it.
    "question": (
        r"(?:^|\. )(?:what|whats|how|hows|can|could|should|is|are|does|do|did|why|when|which"
        r"|where|will|would|who|any(?:one|body) know|tell me|explain|como (?:se|puedo|hago|ayudo"
        r"|saber|le|funciona)|cual|cuales|cuanto|cuanta|cuantos|cuantas|se puede|puedo|por que"
        r"|donde|sabes|me explicas|explicame|i was wondering|wondering|question|pregunta)\b"
        r"|\b(?:signs of|symptoms of|look like|what happens (?:if|when)|is it (?:safe|dangerous"
        r"|ok|okay|bad)"
        r"|how (?:do|does|can|long|much|many)|how to|que pasa si|es (?:peligroso|seguro|malo)"
        r"|senales de|sintomas de|como se ve|como saber|how would i know|difference between)\b"
    ),
    # Told as the past or as a hypothesis: "years ago", "used to", "what if".
    "past": (
        r"\b(?:years ago|months ago|last year|back (?:in|then|when)|used to|when i was (?:young"
        r"|a kid|little|younger|using|in)|in the past|long time ago|(?:once|one time) (?:in|back)"
        r"|what if|in case|hypothetically|hace (?:anos|meses|mucho)|el ano pasado|cuando era"
        r"|antes (?:yo )?(?:usaba|consumia)|en el pasado|solia|que tal si|por si acaso)\b"
    ),
    "future_use": (
        r"\b(?:going to|gonna|about to|will|ill|plan to|planning to|want to|tonight i|fixing to"
        r"|finna|voy a|quiero|pienso|planeo|esta noche)\s(?:\w+ ){0,2}?(?:use|get high|shoot up"
        r"|pick up(?! (?:my|the|a|his|her|some food|groceries)\b)|cop|score|relapse|do (?:a|some"
        r"|fent|dope|heroin|it)|drink|consumir|usar|drogarme|meterme|picarme|recaer"
        r"|(?:comprar|conseguir|buscar) (?:droga|perico|chiva|cristal|fentanilo|fenta|heroina"
        r"|cocaina"
        r"|piedra|polvo|pastillas)|inyectarme|take (?:\d+|some|a few"
        r"|a couple|the|my|all)? ?(?:blues|bars|xans|pills|percs|oxys|hits|\d+))\b"
    ),
}
# Fragments shared by the rules below.
_KIN: Final = (
    r"(?:friend|buddy|homie|bro|brother|sister|sis|son|daughter|kid|kids|baby|boyfriend"
    r"|girlfriend|bf|gf|husband|wife|partner|roommate|mom|mum|mother|dad|father|cousin|uncle"
    r"|aunt|neighbor|neighbour|guy|girl|dude|man|woman|lady|person|sponsor|ex|coworker|nephew"
    r"|niece|grandma|grandpa|child|teen|teenager|tio|tia|pana|amig[oa]|herman[oa]|hij[oa]"
    r"|novi[oa]|espos[oa]|marido|mujer|pareja|mama|papa|madre|padre|prim[oa]|vecin[oa]"
    r"|cunad[oa]|suegr[oa]|sobrin[oa]|nene|nena|bebe|chav[oa]|compa|carnal)"
)
_EXTRA_SLOTS: Final[dict[str, str]] = {
    # Told as memory, idiom or fiction: "2 years ago I overdosed", "my boss will kill me".
    "remembrance": (
        r"\b(?:years? ago|months ago|last (?:year|month|summer|winter)|back in (?:\d+|the)"
        r"|in the (?:\d0s|nineties|eighties)|used to|funeral|memorial|passed (?:away )?from"
        r"|died (?:of|from)|lost (?:him|her|them) to|miss (?:him|her|them)|rip|candle for"
        r"|not anymore|no longer|therapy (?:really )?helped|saved me|(?:\d+|one|two|three)"
        r" (?:months|years|days) (?:clean|sober)|hace (?:\w+ )?(?:anos|ano|meses)|antes"
        r" (?:pensaba|queria|usaba)|velorio|funeral|murio de|fallecio|ya no (?:uso|consumo|pienso"
        r"|bebo|tomo|lo hago)|ya estoy bien|(?:told|telling) (?:me|us) about|me ayudo"
        r"|llevo (?:\w+ )?(?:ano|anos"
        r"|meses|dias) (?:limpi[oa]|sobri[oa])|celebro)\b"
    ),
    "fiction": (
        r"\b(?:episode|movie|film|show|series|documentary|song|book|netflix|tv|video game|game"
        r"|call of duty|euphoria|pelicula|serie|novela|cancion|juego|partido|of cheese"
        r"|on the news|in the news|went viral|headline|noticias)\b"
    ),
    # Laughing at a figure of speech: "this heat is gonna kill me lmao", "I'm dying lol".
    "laughing": r"\b(?:lol|lmao|lmfao|rofl|haha\w*|jaja\w*|jeje\w*|xd)\b",
    "idiom_threat": (
        r"\b(?:(?:boss|mom|mum|mother|dad|wife|husband|teacher|coach|jefe|mama|papa|esposa"
        r"|esposo|maestr[oa]) (?:\w+ ){0,3}?(?:is (?:gonna|going to)|will|gonna|going to|va a"
        r"|me va a|said hed|would|d) (?:literally )?(?:kill|matar|matarme)(?: me)?\b"
        r")"
    ),
    "present": (
        r"\b(?:again|otra vez|de nuevo|lately|these days|tonight|right now|keep|keeps"
        r"|esta noche|ahorita|im going to|im gonna|im about to|voy a|me voy a)\b"
    ),
    "first_person": (
        r"\b(?:i|im|ive|id|ill|me|my|mine|myself|yo|mi|mis|conmigo|estoy|tengo|quiero|puedo"
        r"|siento|soy|voy|necesito|aguanto)\b"
    ),
    "help_frame": (
        r"\b(?:what (?:should|do|can|would) i do (?:if|when)|how (?:do|can|should) (?:i|we)"
        r" (?:help|ask|talk|tell|support|know)|how to (?:help|tell|know|ask|support)|what are"
        r" (?:the |some )?(?:warning )?signs|warning signs|what counts as|alternatives to|is it"
        r" (?:common|normal)|are (?:\w+ ){1,3}common|como (?:ayudo|ayudar|le pregunto|saber)"
        r"|que (?:hago|debo hacer|hacer|hacemos) si"
        r"|how (?:would|do|can|will) (?:i|you|we) (?:know|tell) (?:if|when)|who (?:do|should|can)"
        r" (?:you|i|we) call (?:if|when)|what (?:should|do|can) i say (?:if|when|to)"
        r"|como (?:le hablo|puedo saber|se si|le hago para no|evito que|hablarle)"
        r"|que le (?:debo|digo|deberia|puedo) decir|si alguien (?:me dice|te dice|dice)"
        r"|(?:cuales|que) son las senales|pregunta si|puede (?:causar|dar|provocar)|can (?:\w+"
        r" ){0,2}cause|do (?:\w+ ){1,2}make|does (?:\w+ ){1,3}help)\b"
    ),
}
_SLOT_SOURCES.update(_EXTRA_SLOTS)
_SLOT_SOURCES["other"] += r"|^" + _KIN + r"\b|\bfound (?:him|her|them|my)\b"
_SLOT_SOURCES["unresponsive"] = (
    _SLOT_SOURCES["unresponsive"][:-3]
    + r"|out cold|fell out|(?:hes|shes|he is|she is|(?:he|she) might be) dead|is (?:he|she)"
    r" dead|found (?:him|her|them|my \w+) (?:\w+ ){0,2}(?:on the floor|in the (?:bathroom|car"
    r"|tub)"
    r"|passed out|unconscious|slumped|not moving|cold)|(?:lo|la) encontre (?:\w+ ){0,2}(?:tirad[oa]"
    r"|inconsciente|en el piso|en el suelo)"
    r"|(?:hes|shes|theyre|is|looks|turned|turning|face is|skin is) (?:\w+ )?(?:gray|grey"
    r"|blue|purple)|slumped|(?:wont|isnt|not|doesnt) (?:\w+ )?(?:answer(?:ing)? me|moving"
    r"|responding|waking up)|not (?:moving|responding|waking)|no se mueve|(?:sin|no sigue)"
    r" (?:respirar|reaccionar)|sigue sin respirar|no se si respira|eyes (?:rolled|rolling)"
    r" back|clammy|pin(?:ned|point) pupils|(?:doing|started|give|giving) (?:him |her )?cpr"
    r"|rescue breath\w*|no (?:me )?(?:responde|contesta)|tirad[oa] en|breathing (?:real|really"
    r"|super|very) slow|gasping|respirando (?:muy )?raro|(?:labios|unas) (?:\w+ )?morad\w*"
    r"|(?:had to|just|we|i) (?:\w+ )?(?:narcan|naloxone)(?:ed)? (?:him|her|them|my)"
    r"|(?:gave|give|giving|dimos|le di) (?:him |her |them )?(?:narcan|naloxone|naloxona)"
    r"|narcaned)\b"
)
_SLOT_SOURCES["sedated"] = (
    _SLOT_SOURCES["sedated"][:-3]
    + r"|going under|(?:everything|its|it) (?:is )?(?:going|getting|turning) (?:dark|black)"
    r"|todo se (?:esta )?(?:poniendo|pone|puso) negro|cant (?:even )?move|no puedo (?:ni )?"
    r"moverme|(?:me estoy|se esta) quedando dormid[oa]|falling asleep (?:sitting|standing"
    r"|mid)|something (?:is|feels) (?:really )?wrong|algo (?:anda|esta) mal|slurr\w*"
    r"|me late (?:\w+ )?rar\w*|no siento (?:las|los|mis) (?:manos"
    r"|pies|brazos|piernas))\b"
)
_SLOT_SOURCES["sedated_mild"] = (
    r"\b(?:dizzy|sleepy|drowsy|heavy|weird|funny|strange|faint|numb|out of it|nodding"
    r"|nodding off|dozing|slurr\w*|acting (?:really )?"
    r"(?:drunk|weird|off)|confused|loopy|foggy|lightheaded|mareado|adormilad[oa]|pesad[oa]"
    r"|rar[oa]|mal|muy mal|cabeceando|durmiendo|somnolient[oa]|lent[oa]|confundid[oa])\b"
)
_SLOT_SOURCES["drug"] = (
    _SLOT_SOURCES["drug"][:-3]
    + r"|needle|syringe|foil|straw|pressed|line|strips?|films?|gabapentin|seroquel|klonopin"
    r"|clonazepam|naltrexona|naltrexone|vivitrol|antabuse|disulfiram)\b"
)

_SLOTS: Final[dict[str, re.Pattern[str]]] = {
    name: re.compile(source, re.ASCII) for name, source in _SLOT_SOURCES.items()
}

# Meaning rules: one regular expression each, written over fragments (intent, means, harm
# verbs, targets) rather than sentences, so that new wordings of the same meaning match.
_INTENT: Final = (
    r"(?:going to|gonna|gunna|about to|want to|wants to|ready to|plan(?:ning)? to|decided to"
    r"|will|ill|hell|shell|im going to|fixing to|finna|threaten(?:ing|s|ed)? to|swear (?:to god )?"
    r"(?:im|ill|i will)?(?: gonna| going to)?|voy a|va a|vamos a|iba a|quiero|quiere|amenaza con"
    r"|amenazo con|dice que (?:se )?va a|dijo que (?:se )?(?:va|iba) a|lo voy a|la voy a"
    r"|los voy a)"
)
_OTHERS_TARGET: Final = (
    r"(?:him|her|them|someone|somebody|people|everyone|the (?:kids|baby|neighbors|place|school"
    r"|clinic|office)|my (?:baby|kids|son|daughter|stepdad|dad|mom|wife|husband|ex|boss|brother"
    r"|sister|neighbor|landlord|dealer)|that (?:dude|guy|man|woman|bitch|bastard)|the guy"
    r"|his (?:dad|mom|ex|wife|kids)|her (?:dad|mom|ex|husband|kids)|a su (?:papa|mama|ex|esposa"
    r"|esposo|hijo|hija|novia|novio)|al que|a la que|a (?:mi|su|ese|esa) \w+|al \w+)"
)
_SELF_HARM_ACT: Final = (
    r"(?:cutting|cut|burning|burn|hitting|hit|punching|punched|banging|bashing|scratching"
    r"|carving|cortando|cortarme|golpeando|quemando|rascando)"
)
# "cutting my strips in half", "cut the dose down": a medicine cut, not a body.
_NOT_A_MEDICINE: Final = (
    r"(?! (?:(?:my|the|a|an|his|her|these|those|back on|down on|down|back) )?(?:\w+ )?(?:strips?"
    r"|films?|pills?|tabs?|tablets?|doses?|dosage|subs|bupe|suboxone|methadone|meds?"
    r"|medication|in half|down|back|tiras?|pastillas?|dosis)\b)"
)
_MEANING_RULES: Final[tuple[tuple[str, CrisisCategory, Tier, str], ...]] = (
    # Suicide: another person's stated intent.
    (
        "other_intent_suicide",
        CrisisCategory.SUICIDE,
        Tier.CLEAR,
        r"\b(?:(?:going to|gonna|about to|wants to|threatening to|will|said (?:hes|shes|he was"
        r"|she was|he would|she would)|says (?:hes|shes)|saying (?:hes|shes)) (?:\w+ )?(?:kill"
        r"|shoot|hang|hurt|end|off|drown|poison) (?:himself|herself|themselves|his life|her life)"
        r"|se quiere (?:matar|morir|suicidar|quitar la vida)|quiere (?:matarse|morirse|suicidarse"
        r"|quitarse la vida)"
        r"|(?:se (?:va|iba|quiere) a|dice que se va a|dijo que se (?:va|iba) a|amenaza con)"
        r" (?:\w+ )?(?:matar|tirar|aventar|quitar la vida|pegar un tiro|ahorcar|colgar|suicidar"
        r"|cortar las venas|matarse|tirarse|suicidarse)|(?:matarse|suicidarse|quitarse la vida"
        r"|pegarse un tiro|tirarse del? \w+))\b",
    ),
    # Suicide: means at hand together with finality.
    (
        "means_and_finality",
        CrisisCategory.SUICIDE,
        Tier.CLEAR,
        r"\b(?:(?:pills|meds|pastillas) (?:\w+ )?(?:lined up|ready|counted|saved|laid out)"
        r"|(?:saving|saved|stockpiling|hoarding) (?:up )?(?:my|all my|the|every) \w+"
        r"|(?:take|taking|swallow|tomar|tomarme|me voy a tomar) (?:all|every|todas|todos)"
        r" (?:of )?(?:them|the|my|las|los|mis)?(?: \w+)?(?: \w+)? (?:i have|saved|tonight|on"
        r" purpose)|car running|in the garage with|(?:the|my|a) (?:note|letter) (?:is|on|for)"
        r"|(?:compre|tengo|traigo|consegui|bought|got|have) (?:la |una |el |the |a )?(?:soga|rope"
        r"|noose|gun|arma|pistola|pills ready)|tengo el gun|(?:en|on) (?:la azotea|el techo"
        r"|el puente|the roof|the bridge|the ledge|a bridge)(?! (?:party|bar|garden)\b)"
        r"|(?:tonights|tonight is|esta noche es|hoy es) (?:the|la) (?:night|noche)|(?:es|tonight"
        r" es) la noche|everythings set|everything is set|ya lo decidi|no hay vuelta atras"
        r"|(?:be|ill be|i will be) dead (?:by|before|tomorrow)|no voy a estar (?:manana|aqui)"
        r"|ya no (?:voy a estar|estare)|so i (?:dont|wont|never) wake up|(?:go to sleep|just sleep"
        r"|dormirme) (?:forever|para siempre)|on purpose so|(?:use|take"
        r"|shoot) everything i have (?:left)?"
        r"|tengo todo (?:ready|listo)|(?:ya )?(?:me tome|me trague) (?:todas|todos) (?:las |mis )?"
        r"(?:pills|pastillas|pildoras|medicinas)|(?:took|swallowed) (?:all|every one) of (?:the|my)"
        r" pills (?:i had|i saved|at once|in the bottle))\b",
    ),
    # A child who got into medicines: an overdose until a professional says otherwise.
    (
        "child_ingestion",
        CrisisCategory.OVERDOSE,
        Tier.CLEAR,
        r"\b(?:(?:\d+|one|two|three|four|five) (?:year|yr|month) old|toddler|baby|my kid|my son"
        r"|my daughter|nino|nina|bebe|mi hij[oa]) (?:\w+ ){0,3}(?:got into|ate|swallowed|chewed"
        r"|took|found|se comio|se trago|se tomo|agarro) (?:\w+ ){0,3}(?:pills|strips?|films?|meds"
        r"|suboxone|methadone|metadona|pastillas|medicinas|fentanyl|fent|gummies)\b",
    ),
    # Harm to others: intent or threat of violence against a person or a place.
    (
        "intent_to_harm_others",
        CrisisCategory.HARM_TO_OTHERS,
        Tier.CLEAR,
        r"\b(?:" + _INTENT + r" (?:\w+ ){0,2}?(?:hurt|kill|shoot|stab|beat|poison|burn|strangle"
        r"|choke|attack|matar|lastimar|herir|apunalar|golpear|envenenar|quemar|quebrar|balear"
        r"|acuchillar|madrear|partir la madre)(?: up)? " + _OTHERS_TARGET + r"|(?:shoot|shot)"
        r" (?:the|this|that) (?:place|school|clinic|office) up|(?:la|lo|los|las) (?:mato|voy a"
        r" matar|voy a quebrar|quiebro)|(?:bat|rifle|gun|knife|machete|pistola|cuchillo)\b.{0,40}"
        r"(?:pay|kill|shoot|hurt|matar|quebrar|buscando)|(?:with|con) (?:a |la |el |un )?(?:bat"
        r"|rifle|machete|pistola)|(?:beat|kill|stab) (?:\w+ )?until (?:he|she|they) (?:stops"
        r"|dies|cant)|(?:envenenar|quemar) (?:a|la)|(?:hurt|hurting|kill|killing) (?:my|the)"
        r" (?:baby|kids|children) (?:\w+ ){0,6}(?:tonight|now|feels real|scared of what))\b",
    ),
    (
        "thoughts_of_harming_others",
        CrisisCategory.HARM_TO_OTHERS,
        Tier.POSSIBLE,
        r"\b(?:(?:thoughts|thinking|think|thought|urges?|ganas) (?:\w+ ){0,2}(?:about|of|de)"
        r" (?:\w+ ){0,2}(?:hurting|killing|harming|stabbing|lastimar|hacerle dano|matar|golpear)"
        r"|(?:could|might|gonna) (?:really )?(?:hurt|kill) (?:somebody|someone|him|her|my (?:kid"
        r"|kids|baby|son|daughter|child|wife|husband))"
        r"|hacerle dano|desquitarme)\b",
    ),
    # Abuse or danger: violence, captivity or threats from someone else.
    (
        "violence_against_me",
        CrisisCategory.ABUSE_OR_DANGER,
        Tier.CLEAR,
        r"\b(?:(?:put|puts|had) (?:his|her) hands (?:on|around) my (?:neck|throat)|choked me"
        r"|(?:he|she|they|my \w+) (?:\w+ )?(?:threw|shoved|slammed|dragged|pinned|kicked|punched"
        r"|slapped|choked|strangled|bit|burned) me\b(?! (?:up|off|back|to it|at|a|an|the)\b)"
        r"|(?:he|she|they|my \w+) (?:\w+ )?(?:hit|hits|beat|beats|punched|kicked|slapped|choked"
        r"|is hitting|is beating) (?:my|our) (?:son|daughter|kid|kids|baby|mom|sister|brother"
        r"|children|child)\b|threaten(?:ing|ed|s) me\b|banging on (?:my|the) (?:door|window)"
        r"|trying to (?:get in|break in|break the door)"
        r"|amenaz\w* con (?:matarme|lastimarme|pegarme|golpearme|quitarme)"
        r"|(?:beating|hitting|choking|kicking|strangling) (?:her|him|me|my \w+|them)(?! up)"
        r"|throwing (?:things|stuff|\w+) at|(?:locked|trapped) (?:in|inside) (?:the|my|a) \w+"
        r"|(?:wont|doesnt|dont|wouldnt) let (?:me|her|him|us) (?:go|leave|out)"
        r"|(?<!isnt )(?<!not )(?<!aint )holding (?:me|her|him|us)"
        r"(?! (?:over|anymore|any more|long enough|all day|till|until)\b)"
        r"|(?:forcing|forces|forced|making|makes|made) (?:me|her|him) (?:to )?(?:use"
        r"|shoot|carry|sell|have sex|do)|me (?:obliga|obligo|obligan|amarra|amarro|encierra"
        r"|encerro) |(?:me|le|les|nos) (?:pega|pego|golpea|golpeo|dio una golpiza|dieron una"
        r" golpiza)|golpiza|(?:la|lo|me|nos) tiene encerrad[oa]|encerrad[oa] en|se oyen golpes"
        r"|gritando auxilio|pidiendo ayuda a gritos|me (?:quito|quitaron) (?:las llaves|el"
        r" celular|el telefono)|took (?:my|her|his) (?:phone|keys)|si (?:llamo|hablo|le digo)"
        r" (?:a alguien|a la policia)? ?me mata|(?:next time|la proxima) (?:he|she|el|ella)?"
        r" ?(?:wont stop|me mata)|(?:showed up|shows up|outside|is here|is outside) (?:\w+ ){0,3}"
        r"with (?:a|his|her) (?:gun|knife)|(?:has|had|got|tiene) (?:a |his |her |un |una )?"
        r"(?:gun|knife|cuchillo|pistola|arma)(?: and| y|$| en la mano| in (?:his|her) hand)"
        r"|(?:coming|comes|came) into my room"
        r" at night|(?:kids|children|ninos|baby|babies) (?:\w+ ){0,4}(?:alone"
        r"|solos) with (?:\w+ ){0,4}"
        r"(?:blacked out|passed out|drunk|high|borracho|drogado)|says if i dont (?:\w+ )?(?:hell"
        r"|he will)|or worse|(?:hiding|escondid[oa])"
        r" (?:in|en|con|from|de)|until i pay|hasta que (?:pague|le pague))\b",
    ),
    (
        "threat_or_fear_at_home",
        CrisisCategory.ABUSE_OR_DANGER,
        Tier.POSSIBLE,
        r"\b(?:not sure (?:im|i am|if im) safe|(?:gets|get|got) (?:really )?(?:scary|violent"
        r"|mean|aggressive) when|coming (?:by|over) to collect|(?:gets|got) (?:real |really )?"
        r"mad when i say no|me va a ir mal|(?:deja|leaves|left) (?:a )?(?:los ninos|the kids"
        r"|my kids"
        r"|sus hijos) solos"
        r"|le tiene (?:panico|miedo)|me (?:sigue|siguio|sigue"
        r" siguiendo) (?:hasta|a)|(?:keeps|kept) (?:showing up|following me)|grita horrible"
        r"|(?:scared|afraid|terrified|miedo) (?:of|de) (?:him|her|them|what (?:he|she)|el|ella"
        r"|lo que)|pushing me to use)\b",
    ),
    # Self-harm happening now, or done to oneself on purpose.
    (
        "self_harm_now",
        CrisisCategory.SELF_HARM,
        Tier.CLEAR,
        r"\b(?:(?:im|i am|been) (?:cutting|burning) (?:right )?now|(?:have|got) the (?:blade"
        r"|razor) out|already did \d+|(?:hit|hitting|bang|banging|bashed) my head (?:against|on"
        r"|into)|(?:cutting|burning|hurting) (?:herself|himself|themselves)|(?:swallowed"
        r"|punched|cut|burned|hit) (?:\w+ ){0,3}on purpose|se (?:esta )?(?:cortando|golpeando"
        r"|quemando|lastimando)|(?:golpeando|golpea) la cabeza|se abrio la (?:frente|cabeza)"
        r"|cut (?:too |really |so |way too )deep|me corte (?:muy )?(?:hondo|profundo))\b",
    ),
    (
        "self_harm_urge",
        CrisisCategory.SELF_HARM,
        Tier.POSSIBLE,
        r"\b(?:(?:urge|urges|ganas|thinking about|thought about|want) (?:\w+ ){0,2}(?:to |de )?"
        + _SELF_HARM_ACT
        + _NOT_A_MEDICINE
        + r"(?:me|myself)?|deserve to (?:hurt|suffer|bleed)|(?:hit|hitting|punch|punching|burn"
        r"|burning) myself|me (?:rasco|corto|quemo|golpeo) (?:hasta|cuando)|marcas en los brazos"
        r"|(?:bloody|blood on) (?:tissues|towels|sleeves)|long sleeves in (?:july|summer|august)"
        r"|hasta sacarme sangre)\b",
    ),
    # Medical emergencies that a recovery programme sees: severe withdrawal, a disulfiram
    # reaction, stroke and heart signs.
    (
        "medical_signs",
        CrisisCategory.MEDICAL_EMERGENCY,
        Tier.CLEAR,
        r"\b(?:seeing bugs|bugs (?:on|crawling)|viendo bichos|seeing things (?:and|that|who)"
        r"|(?:shaking|sweating|confused) (?:\w+ ){0,4}seeing things|seeing things (?:\w+ ){0,4}"
        r"(?:shaking|sweating)|(?:temblando|sudando) (?:\w+ ){0,3}viendo cosas|viendo cosas"
        r" (?:\w+ ){0,4}(?:temblando|sudando|dejo de tomar|dejo el alcohol)|(?:talking to|seeing"
        r"|hearing)"
        r" (?:people|things|bugs|voices) (?:who|that)"
        r" (?:arent|are not) there|viendo cosas (?:que no hay|que no existen)|hallucinat\w*"
        r"|alucinando|(?:boca|cara) (?:chueca|caida|torcida)|face (?:is )?droop\w*|(?:cant|no"
        r" puede|cannot) (?:move|mover) (?:his|her|my|el|la|su) (?:arm|brazo|side|lado|leg|pierna)"
        r"|(?:arm|brazo) (?:is |esta )?(?:numb|dormido|entumido)|cant stop (?:vomiting|throwing"
        r" up|shaking)|precipitated withdrawal|(?:heart|corazon) (?:is )?(?:going crazy|a mil"
        r"|racing)|(?:chest|pecho) (?:\w+ ){0,2}(?:fuerte|bad|crushing)|delirium|dts)\b",
    ),
    (
        "medical_warning",
        CrisisCategory.MEDICAL_EMERGENCY,
        Tier.POSSIBLE,
        r"\b(?:palpitaciones|(?:heart|corazon) (?:\w+ ){0,5}(?:fluttery|skipping|skips|racing"
        r"|pounding)|me falta (?:un poco )?el aire|might pass out|(?:sweating|shaking|temblando"
        r"|sudando) (?:\w+ ){0,4}(?:since i stopped|since i quit|stopped drinking|quit drinking"
        r"|dejo el alcohol|deje el alcohol)|(?:stopped|quit) drinking (?:\w+ ){0,3}(?:cold turkey"
        r"|on \w+day)|(?:palid[oa]|confused|confundid[oa]) (?:\w+ ){0,4}(?:quit|stopped|dejo)"
        r" drinking|hands wont stop)\b",
    ),
    # Suicide, possible: goodbyes, giving things away, passive wishes, hopelessness.
    (
        "farewell_or_passive_wish",
        CrisisCategory.SUICIDE,
        Tier.POSSIBLE,
        r"\b(?:(?:easier|better) (?:life |lives )?if i (?:wasnt|werent|was not) (?:in it|here"
        r"|around)|gave (?:my|away my) (?:dog|cat|pets?|stuff|things)|giv(?:ing|en) (?:away )?"
        r"(?:my|his|her) (?:stuff|things|belongings)|wont need (?:it|them|my \w+)|where im going"
        r"|staring at the (?:bridge|tracks|river|pills)|tired of being alive|dont see the point"
        r"|life insurance|(?:now i |kind of |kinda )hope it happens|(?:if|hope) i (?:dont|never)"
        r" wake up(?! (?:late|early|in time|on time|at))|nothing left (?:to stay for|for me)"
        r"|(?:not|stop) being here|(?:doesnt|dont)"
        r" want to be here anymore|thanks? (?:you )?for (?:everything|trying)(?! (?:you|yall) do)"
        r"|sorry for"
        r" everything|i love you all|dying doesnt scare me|(?:so|just so) done with everything"
        r"|lost cause|said bye|wont be calling anymore|let (?:him|her|you|everyone|them) down"
        r"|something has to give|does it hurt to die|(?:ya )?no quiero estar aqui|no tiene caso"
        r"|para que sigo|regale mis cosas|ya no (?:voy a )?necesit\w+"
        r"|gracias por todo(?! (?:nos vemos|hasta|lo que))|perdon"
        r" por todo|perdonen(?:me)?|los quiero (?:mucho )?a todos|no le tengo miedo a la muerte"
        r"|seguro de vida|me quiero ir|quisiera (?:no )?(?:desaparecer|dormir y no)|ya me voy"
        r" para siempre|ya no (?:le )?(?:veo|encuentro) (?:el )?sentido)\b",
    ),
    # Relapse with lost tolerance or with no one to help: an overdose waiting to happen.
    (
        "intent_to_use_now",
        CrisisCategory.RELAPSE_DANGER,
        Tier.POSSIBLE,
        r"\b(?:(?:dealers|plugs|connects) number|(?:my|the|old) (?:dealer|plug|connect)(?:s)?"
        r" (?:tonight|now|place|house|spot)|where to get it|(?:so|para) (?:i can|poder) (?:use"
        r"|usar|get high|drogarme)|(?:skipped|skip|stopped|quit|dejo|deje) (?:my |the |el |la )?"
        r"(?:naltrexone|naltrexona|vivitrol|suboxone|methadone|metadona|shot|inyeccion)"
        r" (?:\w+ ){0,3}(?:on purpose|so i can|to use|porque quiero|para (?:usar|volver))"
        r"|(?:if|when) i use tonight|(?:thinking about|going to|gonna) (?:go )?(?:see|hit up|call"
        r"|text) (?:my )?(?:old )?(?:plug|dealer|connect)|volver a usar|going back to (?:dope"
        r"|using|fent|heroin)|do something stupid|(?:ir|voy) a comprar(?! (?:comida|ropa|leche"
        r"|pan|el|la|los|las|un|una|cosas"
        r"|regalos|algo de comer)\b)|old amount|full bag"
        r"|(?:cravings?|ganas) (?:\w+ ){0,4}(?:alone|solo|sola|nadie)|tengo muchas cravings"
        r"|(?:tengo miedo|scared|afraid) (?:de )?(?:que se muera|(?:he|she|they)(?:ll| will| is"
        r" going to) die|ill find (?:him|her))|not gonna do a little)\b",
    ),
)
_MEANING: Final[tuple[tuple[str, CrisisCategory, Tier, re.Pattern[str]], ...]] = tuple(
    (name, category, tier, re.compile(source, re.ASCII))
    for name, category, tier, source in _MEANING_RULES
)
# Danger markers that turn an intent to use into relapse danger (lost tolerance is a slot).
_USE_DANGER: Final = re.compile(
    r"\b(?:alone|by myself|solo|sola|nadie (?:sabe|esta|aqui)|nobody (?:knows|is here|home)"
    r"|no one (?:knows|is here|home)|dont (?:really )?care|dont care anymore|f it|fuck it"
    r"|whatever happens|whatever|anyway|if i die i die|(?:dont|doesnt|do not) care if (?:i|he|she"
    r"|they) (?:die\w*|wake\w*|live\w*|make it)|que sea lo que dios quiera|no me importa"
    r"|me da igual"
    r"|(?:no|without|dont have|no tengo) (?:\w+ )?narcan|old amount|full bag|my old (?:amount"
    r"|dose)|lo mismo de antes|toda|pressed|antabuse|disulfiram|right now|ahorita|tonight"
    r"|esta noche|hoy|ya)\b",
    re.ASCII,
)
_USE_INTENT: Final = re.compile(
    r"\b(?:going in|im buying|buying|to cop|a cop|copping|scoring|pa la esquina|do my usual"
    r"|(?:got|have|tengo|ya tengo) (?:the|some|el|la|my)? ?(?:stuff|bag|bolsa|fentanilo|droga"
    r"|fent|dope|rig|needle)|rig (?:is )?ready|outside (?:my )?dealers|celebrate|voy a"
    r" (?:usar|consumir|inyectarme|meterme|drogarme)|me voy a (?:inyectar|meter|drogar)"
    r"|me la voy a meter|a buscar droga|va a (?:usar|consumir)|se fue a buscar|going to use"
    r"|gonna (?:use|shoot up|shoot a|take|do (?:a|some|it|fent|dope|heroin))|about to (?:use"
    r"|shoot|drink|mix|do|take)|fresh out)\b",
    re.ASCII,
)


def _slots(form: str) -> frozenset[str]:
    return frozenset(name for name, pattern in _SLOTS.items() if pattern.search(form))


def _guess_locale(form: str) -> str:
    spanish = len(
        re.findall(
            r"\b(?:el|la|los|las|que|y|de|mi|no|es|esta|estoy|se|un|una|por|para|con|ya|muy"
            r"|pero|todo|todos|soy|tengo)\b",
            form,
        )
    )
    english = len(
        re.findall(
            r"\b(?:the|and|i|im|is|my|to|a|it|of|you|he|she|not|with|for|this|just|so|but"
            r"|me|he|was|cant|dont)\b",
            form,
        )
    )
    return "es" if spanish > english else "en"


def _slot_rules(form: str, slots: frozenset[str]) -> list[tuple[CrisisCategory, Tier, Who, str]]:
    """Compose meaning slots and rules into crisis readings: (category, tier, who, reason)."""
    found: list[tuple[CrisisCategory, Tier, Who, str]] = []
    who = _who(slots)
    drugs = bool(slots & {"drug", "opioid", "depressant", "use", "overdose", "naloxone"})
    if "unresponsive" in slots or ("wont_wake" in slots and (drugs or "other" in slots)):
        # A body that does not wake or breathe: after drugs it is an overdose (naloxone first),
        # otherwise another medical emergency; the answer starts with the emergency number.
        # Blue or grey lips and skin are the look of an opioid overdose.
        overdose = drugs or "cyanosis" in slots
        category = CrisisCategory.OVERDOSE if overdose else CrisisCategory.MEDICAL_EMERGENCY
        found.append((category, Tier.CLEAR, who, "unresponsive"))
    if "overdose" in slots:
        found.append((CrisisCategory.OVERDOSE, Tier.CLEAR, who, "overdose"))
    if "sedated" in slots and drugs:
        found.append((CrisisCategory.OVERDOSE, Tier.CLEAR, who, "use+sedated"))
    elif "sedated_mild" in slots and slots & {"use", "opioid", "depressant", "overdose"}:
        found.append((CrisisCategory.OVERDOSE, Tier.POSSIBLE, who, "use+drowsy"))
    report = bool(slots & {"report_self", "report_other"})
    if {"opioid", "depressant"} <= slots and report:
        tier = Tier.CLEAR if "sedated" in slots else Tier.POSSIBLE
        found.append((CrisisCategory.OVERDOSE, tier, who, "mixed depressants"))
    intent_to_use = _USE_INTENT.search(form) is not None or "future_use" in slots
    if intent_to_use or "lost_tolerance" in slots:
        danger = len({m.group() for m in _USE_DANGER.finditer(form)})
        danger += "lost_tolerance" in slots
        danger += {"opioid", "depressant"} <= slots
        if intent_to_use and danger >= 2:
            found.append((CrisisCategory.RELAPSE_DANGER, Tier.CLEAR, who, "use+danger"))
        elif (intent_to_use and danger == 1) or ("lost_tolerance" in slots and "use" in slots):
            found.append((CrisisCategory.RELAPSE_DANGER, Tier.POSSIBLE, who, "use+risk"))
    for name, category, tier, pattern in _MEANING:
        if pattern.search(form):
            found.append((category, tier, who, name))
    return found


def _who(slots: frozenset[str]) -> Who:
    if "other" in slots and ("report_other" in slots or "report_self" not in slots):
        return Who.OTHER
    return Who.SELF


_QUESTION_MARK: Final = re.compile(r"\?\s*$|\u00bf")
# A question that still reveals intent or method is never "only a question".
_INTENT_IN_QUESTION: Final = re.compile(
    r"\b(?:to die|to kill (?:myself|me)|kill myself|end it|end my life|not wake up|never wake up"
    r"|morir|matarme|quitarme la vida|no despertar|how many (?:\w+ ){0,3}(?:would it|does it"
    r"|will it|to) (?:take|die|kill)|lethal dose|fatal dose|dosis letal|dosis mortal|painless"
    r"|asking for me|for me|(?:whats|what is) (?:even )?the point|para que|de que sirve"
    r"|let it happen"
    r"|perdone)\b",
    re.ASCII,
)


def _is_question(text: str, form: str, slots: frozenset[str]) -> bool:
    """Return True for a question about a crisis topic that reports no crisis happening now."""
    # A question mark alone makes a question only of words that say nothing of the writer:
    # "i think it was laced with fent?" is a report with a worried tone.
    asked = (
        "question" in slots
        or "help_frame" in slots
        or (_QUESTION_MARK.search(text) is not None and "first_person" not in slots)
    )
    if not asked or _INTENT_IN_QUESTION.search(form):
        return False
    report = bool(slots & _REPORTS)
    if slots & {"unresponsive", "sedated"} and (report or not _hypothetical(form)):
        return False
    if "sedated_mild" in slots and report:
        return False
    return not (report and slots & {"now", "overdose", "use"} and not _hypothetical(form))


def _general_question(slots: frozenset[str]) -> bool:
    """A question about suicide, self-harm or violence in general, not about the writer now."""
    return "help_frame" in slots or "first_person" not in slots


_HYPOTHETICAL: Final = re.compile(
    r"\b(?:if (?:i|you|someone|somebody|a person|they|he|she)|what if|si (?:yo |alguien |una"
    r" persona |me |se )?\w+|que pasa si|in case)\b",
    re.ASCII,
)


def _hypothetical(form: str) -> bool:
    return _HYPOTHETICAL.search(form) is not None


# Readings that a memory, a film or an idiom can explain away ("2 years ago I overdosed",
# "that movie was an overdose of cheese", "my boss is gonna kill me"); a reading that also has
# a present sign (a body that does not respond, sedation, a plan) is never explained away.
_PRESENT_SIGNS: Final = frozenset({"unresponsive", "sedated", "wont_wake"})
_PRESENT_RULES: Final = frozenset(
    {
        "means_and_finality",
        "other_intent_suicide",
        "intent_to_harm_others",
        "violence_against_me",
        "self_harm_now",
        "medical_signs",
        "farewell_or_passive_wish",
        "use+danger",
        "intent_to_use_now",
    }
)


def _told_outside_the_question(forms: tuple[str, ...]) -> CrisisSignal | None:
    """Return the crisis told in one sentence of several, each read on its own ("esto es un
    adios. does suboxone interact with ibuprofen?"); None when there is none."""
    if len(forms) < 2:  # one sentence: the question is the whole message
        return None
    sentences = [part.strip() for part in forms[-1].split(" . ") if part.strip()]
    if len(sentences) < 2:
        return None
    # A conditional clause ("if someone overdoses, ...") belongs to its question.
    signals = [
        _assess_rules(sentence)[0].signal for sentence in sentences if not _hypothetical(sentence)
    ]
    found = [signal for signal in signals if signal is not None]
    if not found:
        return None
    rank = {category: index for index, category in enumerate(SEVERITY_ORDER)}
    return min(found, key=lambda sig: (sig.tier is not Tier.CLEAR, rank[sig.category]))


def _reason(reading: Reading) -> str:
    return reading[4].split(":", 1)[1]


def _present(reading: Reading) -> bool:
    """Return whether a reading tells of something happening now (a rule or a frame)."""
    return _reason(reading) in _PRESENT_RULES or reading[4] in _PRESENT_FRAMES


def _explained_away(reading: Reading, slots: frozenset[str]) -> bool:
    if _present(reading) or slots & _PRESENT_SIGNS:
        return False
    if "idiom_threat" in slots and reading[0] in {
        CrisisCategory.ABUSE_OR_DANGER,
        CrisisCategory.HARM_TO_OTHERS,
        CrisisCategory.SUICIDE,
    }:
        return True
    if (
        "laughing" in slots
        and reading[1] is Tier.CLEAR
        and reading[0]
        in {
            CrisisCategory.MEDICAL_EMERGENCY,
            CrisisCategory.ABUSE_OR_DANGER,
            CrisisCategory.HARM_TO_OTHERS,
        }
    ):
        return True
    if "fiction" in slots and reading[0] in {
        CrisisCategory.OVERDOSE,
        CrisisCategory.HARM_TO_OTHERS,
        CrisisCategory.SUICIDE,
    }:
        return True
    return (
        "remembrance" in slots
        and "present" not in slots
        and reading[0] is not CrisisCategory.ABUSE_OR_DANGER
    )


Reading = tuple[CrisisCategory, Tier, Who, str, str]  # category, tier, who, locale, reason

# Frames kept as data (content/safety/crisis_frames.yaml), read after the phrase lists.
_FRAMES: Final = crisis_frames.load_frames(
    crisis_frames.BUNDLED_FRAMES,
    {"people": _PEOPLE, "personas": _PERSONAS, "someone": _SOMEONE_ELSE, "adv": _ADV},
)
_PRESENT_FRAMES: Final = frozenset(frame.reason for frame in _FRAMES if frame.present)


def _readings(forms: tuple[str, ...], slots: frozenset[str]) -> list[Reading]:
    """Return every crisis reading of the phrase lists and the meaning rules."""
    readings: list[Reading] = []
    who = _who(slots)
    for category, locale, pattern in _PHRASES:
        if any(pattern.search(form) for form in forms):
            readings.append((category, Tier.CLEAR, who, locale, f"phrase:{category}:{locale}"))
    for locale, pattern in _POSSIBLE:
        if any(pattern.search(form) for form in forms):
            readings.append(
                (CrisisCategory.SUICIDE, Tier.POSSIBLE, who, locale, f"despair:{locale}")
            )
    for frame in _FRAMES:
        if any(frame.pattern.search(form) for form in forms):
            tier = Tier.CLEAR if frame.tier == "clear" else Tier.POSSIBLE
            readings.append((frame.category, tier, who, frame.locale, frame.reason))
    locale = _guess_locale(forms[0])
    for category, tier, reading_who, reason in _slot_rules(forms[0], slots):
        readings.append((category, tier, reading_who, locale, f"rule:{reason}"))
    return readings


def _kept_in_a_question(readings: list[Reading], slots: frozenset[str]) -> list[Reading]:
    """Return the readings a question does not explain: intent, or a report happening now.

    A question about overdose, mixing or naloxone is answered, not paged; so is a question
    about suicide or violence in general. A question that carries intent ("how many would it
    take to die") is never read as a question at all.
    """
    general = _general_question(slots)
    return [
        r
        for r in readings
        if (r[0] not in _EDUCATIONAL_CATEGORIES and not general)
        or (
            _present(r)
            and "help_frame" not in slots
            and (r[0] not in _EDUCATIONAL_CATEGORIES or slots & _REPORTS)
        )
    ]


def _strongest(readings: list[Reading], slots: frozenset[str], form: str) -> CrisisSignal:
    """Return the signal of the clearest, then most severe, reading, with every reason."""
    rank = {category: index for index, category in enumerate(SEVERITY_ORDER)}
    readings = sorted(readings, key=lambda r: (r[1] is not Tier.CLEAR, rank[r[0]]))
    category, tier, who, locale, _ = readings[0]
    if category is CrisisCategory.ABUSE_OR_DANGER and _WRITER_AS_OBJECT.search(form):
        who = Who.SELF  # "he threw me": the writer is the one in danger
    reasons = tuple(dict.fromkeys(r[4] for r in readings)) + _slot_names(slots)
    return CrisisSignal(category=category, locale=locale, tier=tier, who=who, reasons=reasons)


def _assess_rules(text: str) -> tuple[Assessment, str | None]:
    """Read one message with the rules alone.

    Returns the assessment and, when the rules saw crisis words but read them as something
    else, why: "question" (asked about, not reported) or "explained" (a memory, a film, an
    idiom). The model needs a very high score to overrule either reading.
    """
    forms = _forms(text)
    slots: frozenset[str] = frozenset()
    for form in forms:
        slots |= _slots(form)
    readings = _readings(forms, slots)
    explained = [r for r in readings if _explained_away(r, slots)]
    readings = [r for r in readings if r not in explained]
    if explained and not readings:
        # A memory in one sentence does not explain away a crisis told in another.
        told = _told_outside_the_question(forms)
        return Assessment(signal=told), None if told is not None else "explained"
    if _is_question(text, forms[0], slots):
        # Only a question on a crisis topic is marked as one (it gets the emergency steps on
        # top); "what time is my appointment?" is an ordinary question.
        topic = bool(readings) or bool(slots & _CRISIS_TOPICS) or {"opioid", "depressant"} <= slots
        readings = _kept_in_a_question(readings, slots)
        if not readings:
            told = _told_outside_the_question(forms)
            if told is None:
                question = Assessment(signal=None, question=topic, reasons=_slot_names(slots))
                return question, "question"
            return Assessment(signal=told), None
    if not readings:
        return Assessment(signal=None), None
    return Assessment(signal=_strongest(readings, slots, forms[0])), None


def _model_signal(text: str, quieted: str | None) -> CrisisSignal | None:
    """Return the model's signal for a message the rules left quiet, or None.

    A score at or above the clear threshold answers as a clear crisis, at or above the possible
    threshold as a possible one ("Are you safe right now?"). Overdose and suicide are read
    first for recall: when the category head names one of them with confidence, a lower score
    is enough for the possible tier. A question, a memory or an idiom that the rules recognised
    is overruled only by a score at or above the overrule threshold.
    """
    forms = _forms(text)
    if crisis_model.word_count(forms[0]) < crisis_model.MIN_WORDS:
        return None  # "no", "Room 2", "9:30": too little text for n-grams to mean anything
    score = crisis_model.MODEL.score(forms[0])
    limits = crisis_model.MODEL.thresholds
    if quieted is not None:
        if score.crisis < limits["overrule"]:
            return None
        tier = Tier.POSSIBLE
    elif score.crisis >= limits["clear"]:
        tier = Tier.CLEAR
    elif score.crisis >= limits["possible"] or (
        score.category in _RECALL_FIRST
        and score.category_probability >= limits["focus_category"]
        and score.crisis >= limits["focus"]
    ):
        tier = Tier.POSSIBLE
    else:
        return None
    slots: frozenset[str] = frozenset()
    for form in forms:
        slots |= _slots(form)
    category = CrisisCategory(score.category)
    who = _who(slots)
    if category is CrisisCategory.ABUSE_OR_DANGER and _WRITER_AS_OBJECT.search(forms[0]):
        who = Who.SELF
    reasons = (
        f"model:{score.crisis:.2f}",
        f"model_category:{score.category}:{score.category_probability:.2f}",
        *(f"ngram:{name}" for name in crisis_model.MODEL.top_ngrams(forms[0])),
        *_slot_names(slots),
    )
    return CrisisSignal(
        category=category, locale=_guess_locale(forms[0]), tier=tier, who=who, reasons=reasons
    )


def assess(text: str) -> Assessment:
    """Read one message: a crisis signal (with tier, who and reasons), a question, or quiet.

    The rules are read first; when they raise nothing, the statistical model
    (:mod:`bot.services.crisis_model`) may still raise a signal on wording the rules do not
    know.
    """
    if not text:
        return Assessment(signal=None)
    assessment, quieted = _assess_rules(text)
    if assessment.signal is not None:
        return assessment
    signal = _model_signal(text, quieted)
    if signal is None:
        return assessment
    return Assessment(signal=signal, question=assessment.question, reasons=assessment.reasons)


_RECALL_FIRST: Final = frozenset({"overdose", "suicide"})
_CRISIS_TOPICS: Final = frozenset({"overdose", "naloxone", "unresponsive", "lost_tolerance"})
_WRITER_AS_OBJECT: Final = re.compile(r"\b(?:me|us|nos|im|i)\b", re.ASCII)
_REPORTS: Final = frozenset({"report_self", "report_other", "future_use"})
_EDUCATIONAL_CATEGORIES: Final = frozenset(
    {CrisisCategory.OVERDOSE, CrisisCategory.MEDICAL_EMERGENCY, CrisisCategory.RELAPSE_DANGER}
)


def _slot_names(slots: frozenset[str]) -> tuple[str, ...]:
    return tuple(f"slot:{name}" for name in sorted(slots))


def detect_crisis(text: str) -> CrisisSignal | None:
    """Return the crisis signal in ``text`` (clear before possible, most severe first), or None."""
    return assess(text).signal
