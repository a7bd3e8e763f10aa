"""Medication guardrails: spot questions that ask for a personal decision about a medicine.

A patient asking whether to change a dose, stop, start, or mix a medicine with alcohol, drugs
or another medicine, or to take medicine prescribed for someone else, must be pointed to their
prescriber and care team, never answered by the library. Detection is tuned for recall in
English and Spanish; general educational questions ("how does methadone work") do not match.
Medication names go through the shared lexicon.

Two questions that look like dose questions are not for the prescriber (see
:func:`route_question`): someone asking how to give naloxone gets the overdose steps, and
someone reporting the signs of too much of an opioid medicine ("so sleepy on my new methadone
dose") gets those signs and the emergency steps.

The text is first reduced to a "shape": folded words in which every medication mention becomes
MED and every substance (alcohol, cannabis, opioids ...) becomes SUB, so the patterns below can
be written once for all brand names, slang and misspellings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.services.library_files import bundled_lexicon
from bot.services.search import Lexicon, words

GuardrailKind = Literal["dose_change", "stop", "start", "mixing", "not_prescribed"]
RouteKind = Literal["prescriber", "naloxone_steps", "warning", "library"]


@dataclass(frozen=True, slots=True)
class GuardrailMatch:
    """A personal medication-decision question: its kind and the generic names it mentions."""

    kind: GuardrailKind
    medications: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """Which answer a free-text question gets, with the guardrail match for a prescriber one."""

    kind: RouteKind
    medications: tuple[str, ...] = ()
    guard: GuardrailMatch | None = None


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
    r"(?:(?:my|the|this|that|these|those|a|an|your|some|any|mi|mis|la|el|los|las|lo|su|sus|al|"
    r"del|todays|tonights|tomorrows|morning|evening|night|next|daily|usual|whole|entire|"
    r"regular|normal|current|full|same|old|weekly|monthly|prescribed)\s+)*"
)
_FRAME = re.compile(
    r"\b"
    + _alternatives(
        r"(?:can|cant|could|may|should|shall|must|do|would|will|am) i",
        r"(?:is|would) it (?:be )?(?:ok|okay|safe|fine|alright|all right|bad|dangerous|risky|cool|"
        r"wrong|possible|allowed|better|smart|wise|a good idea|a bad idea|good)",
        r"(?:ok|okay|safe|fine|alright) (?:for me )?to",
        r"(?:ok|okay|safe|fine|alright|bad|dangerous|risky) (?:with|on|while|together|to mix|"
        r"if i)",
        r"what if i",
        r"(?:would|will|could|can|does|do) it (?:hurt|harm|matter|be a problem|mess)",
        r"i (?:want|wanna|need|have|plan|planning|am planning|intend|would like|d like|am going|"
        r"gonna|am gonna|am thinking|was thinking|am about|decided|am tempted|am trying|"
        r"think i should|think i will|should|will|might|am considering|feel like)",
        r"id like",
        r"any (?:problems?|issues?|risks?|dangers?|harm)",
        r"(?:is|would) (?:that|this) (?:be )?(?:ok|okay|safe|fine|alright|bad|a problem)",
        r"algun (?:problema|riesgo|peligro)",
        r"im (?:going|gonna|thinking|planning|about|tempted|trying|considering|allowed)",
        r"thinking (?:of|about)",
        r"planning (?:to|on)",
        r"tempted to",
        r"how (?:many|much|often)",
        r"puedo|podria|debo|deberia|quiero|quisiera|necesito|tengo que|voy a|pienso|"
        r"estoy pensando|se puede|esta bien|es seguro|es malo|es peligroso|"
        r"me conviene|estaria bien|hay problema",
    )
    + r"\b"
    + r"|\b(?:ok|okay|safe|fine|alright|bad|dangerous|risky)$"
)
# "imodium with methadone?": a bare pair of medicines or substances, asked, is a mixing question.
_BARE_PAIR = re.compile(
    r"^(?:(?:my|el|la|los|las|mi|mis|taking|mixing|using|tomar|mezclar) )?(?:SUB|MED) "
    r"(?:with|and|on|plus|while on|con|y|en|mientras) "
    r"(?:\w+ )?(?:SUB|MED)(?: (?:together|ok|okay|safe|juntos|juntas|bien))?$"
)
_FIRST_PERSON = re.compile(r"\b(?:i|im|ive|id|my|me|myself|yo|mi|mis)\b")
# Questions that ask how things work, unless they also use a decision frame.
_EDUCATIONAL = re.compile(
    r"^(?:how (?:does|do(?! i\b)|is|are|long does|long do|long is)|what (?:is|are|does|do(?! i\b))|"
    r"whats|tell me|explain|que es|que son|como funciona|como actua|cual es|cuales son|"
    r"what (?:happens|will happen|would happen|could happen) (?:if|when)|"
    r"(?:que|q) (?:pasa|pasaria|sucede|me pasa) (?:si|cuando))\b"
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
    rf"|\b(?:take|taking|use|using|have|tomar|tomarme|tomarse|tomo|beber|usar)\s+{_DET}\w+"
    rf"(?:\s+\w+){{0,3}}?\s+"
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
        r"taper(?:ing)?(?: off| down)?",
        r"(?:go|going|went|do|doing|be|being|try going|try) without",
        r"stay(?:ing)? off",
        r"(?:take|taking) a break (?:from|off)",
        r"(?:hold|holding) off on",
        r"pause",
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
_STOP_WANTING = re.compile(
    r"\b(?:dont|do not|no longer|not|never|doesnt) (?:want to |wanna |going to |gonna |feel like )?"
    r"(?:take|taking|be on|keep taking|stay on|use|need)\s+"
    + _DET
    + r"(?:\w+\s+)?"
    + _MED_NOT_SETTING
    + r"(?:\s+\w+){0,3}\s+(?:anymore|any more|no more)\b"
    + r"|\bya no (?:quiero|voy a) (?:tomar|usar|seguir)\b"
    + r"|\b(?:do|must) i (?:really |still |actually |even )?(?:need|have) to (?:take|be on|"
    r"stay on|keep)\b"
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
        r"cambi(?:ar|o|e)(?:me)? (?:a|de)",
        r"pas(?:ar|o|e)(?:me)? (?:a|de)",
        r"volver a tomar",
    )
    + r"\s+(?:back\s+)?(?:(?:taking|using|on|at|with|a tomar|con|el|la)\s+)?"
    + _DET
    + _MED_NOT_SETTING
    + r"|\b(?:(?:should|shall) i (?:get|take|use|be on|go with|ask for)|(?:can|could) i "
    r"(?:take|be on|go on|try|switch to|ask for)|do i (?:need|have) to (?:take|be on|get))\s+"
    + _DET
    + r"MED\b"
    + r"|\bMED(?:\s+\w+)?\s+instead of\b|\binstead of\s+"
    + _DET
    + r"(?:\w+\s+)?"
    + _MED_NOT_SETTING
    + r"|\b(?:debo|deberia|puedo) (?:tomar|usar|pedir)\s+"
    + _DET
    + r"MED\b"
)
_DOSE = re.compile(
    r"\b(?:take|taking|have|use|do|give|tomar|tomarme|tomarte|tomo|usar)\s+"
    r"(?:(?:a|an|my|the|mi)\s+)?"
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
    + r"|\b(?:go|going|come|coming|went|step|stepping|move|moving) (?:down|up) to \d+"
    r"(?:\s?mgs?)?\b"
    + r"|\b(?:go|going|come|coming|went|step|stepping|move|moving) (?:down|up) (?:on|in|with)\s+"
    + _DET
    + _MED_NOT_SETTING
    + r"|\b(?:snort|snorting|sniff|inject|injecting|shoot|shooting|shoot up|smoke|smoking|plug|"
    r"crush|crushing|inyectar(?:me|la|lo)?|inhalar|"
    r"aspirar|machacar|triturar|fumar(?:me)?)\s+"
    + _DET
    + r"(?:\w+\s+)?MED\b"
    + r"|\b(?:take|taking|tomar|tomarme|tomo)\s+(?:(?:only|just|like|solo|nomas)\s+)?\d+"
    r"(?:\s?mgs?)?\b"
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
        r"(?:cut|cutting) (?:back|down)(?: on)?",
        r"subir(?:me|le|la|lo)?",
        r"bajar(?:me|le|la|lo)?",
        r"aumentar(?:me|le|la|lo)?",
        r"reducir(?:me|le|la|lo)?",
        r"disminuir(?:me|le|la|lo)?",
        r"cambiar(?! de)",
        r"partir",
        r"dividir",
        r"duplicar",
        r"doblar",
        r"saltar(?:me)?",
        r"(?:me )?(?:salto|salte)",
        r"(?:le )?(?:subo|bajo|subi|baje)",
        r"omitir",
        r"olvide",
    )
    + r"\s+"
    + _DET
    + r"(?:[\w]+\s+)?"
    + _MED_NOT_SETTING
    + r"|\bhow (?:many|much)\b.*\b(?:should|can|do|must|could|would|shall) i "
    r"(?:take|use|have|do|give|be on|be taking|be using|need)\b"
    + r"|\bwhat (?:dose|dosage|amount|strength|mg)\b.*\b(?:should|can|do|must) i\b"
    + r"|\bwhat (?:dose|dosage|amount|strength|mg)\b.*\b(?:for me|right|best|do i need)\b"
    + r"|\bcuant[oa]s?\b.*\b(?:debo|puedo|tengo que|deberia) (?:tomar|usar)\b"
    + r"|\b(?:que|cual) dosis\b"
    + r"|\b(?:re ?dos(?:e|ing|ed)|dose (?:again|twice|early|earlier|double|more)|"
    r"double (?:up|dose)|extra dose|dosis doble|doble dosis|media dosis|in half|"
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
    + r"(?:\s+de (?:manana|ayer|hoy|la noche|la manana|la tarde))?"
    + r"\s+(?:early|earlier|late|later|twice|again|at night|in the (?:morning|evening)|"
    r"every|each|once|today|tonight|now|tomorrow|ahead|antes|despues|mas tarde|temprano|hoy|"
    r"ahorita|ya|esta noche|manana|dos veces|otra vez|mas temprano)\b"
)
_DOSE_WORD = re.compile(r"\b" + _MEDOBJ + r"\b|\b(?:\d+\s?)?(?:mg|milligrams?|miligramos?|mgs)\b")


# Someone else's medicine. People named by their relation to the writer ("my wife's", "his",
# "de mi esposa"); substances that are usually someone's prescription count as medicines here.
_PRESCRIPTION_SUBSTANCES = frozenset({"opioid", "sedative", "stimulant"})
_PERSON = _alternatives(
    r"wife",
    r"husband",
    r"hubby",
    r"partner",
    r"spouse",
    r"girlfriend",
    r"boyfriend",
    r"gf",
    r"bf",
    r"fiance",
    r"fiancee",
    r"friend",
    r"buddy",
    r"bud",
    r"homie",
    r"homeboy",
    r"pal",
    r"bro",
    r"brother",
    r"sister",
    r"sis",
    r"mom",
    r"mother",
    r"mum",
    r"mama",
    r"dad",
    r"father",
    r"papa",
    r"grandma",
    r"grandpa",
    r"granny",
    r"grandmother",
    r"grandfather",
    r"nana",
    r"roommate",
    r"roomie",
    r"cousin",
    r"uncle",
    r"aunt",
    r"auntie",
    r"neighbou?r",
    r"son",
    r"daughter",
    r"kid",
    r"cellie",
    r"cellmate",
    r"coworker",
    r"co worker",
    r"ex",
    r"guy",
    r"dude",
    r"girl",
    r"sponsor",
    r"someone",
    r"somebody",
    r"someone else",
    r"somebody else",
    r"other person",
    r"family member",
    r"relative",
)
_PERSON_ES = _alternatives(
    r"esposa",
    r"esposo",
    r"mujer",
    r"marido",
    r"pareja",
    r"novia",
    r"novio",
    r"amig[oa]",
    r"compa",
    r"compadre",
    r"carnal",
    r"herman[oa]",
    r"mama",
    r"madre",
    r"papa",
    r"padre",
    r"abuel[oa]",
    r"tio",
    r"tia",
    r"prim[oa]",
    r"vecin[oa]",
    r"hij[oa]",
    r"suegr[oa]",
    r"cunad[oa]",
    r"otra persona",
    r"alguien(?: mas)?",
)
_OWNER = r"(?:(?:my|a|his|her|their|our|the|some|this|that|your)\s+)?" + _PERSON + r"s"
_CONSUME = re.compile(
    r"\b(?:take|taking|took|use|using|used|have|having|had|try|trying|pop|popping|borrow|"
    r"borrowing|eat|swallow|snort|share|sharing|gave|give|offered|offering|sold|trade|trading|"
    r"swap|swapping|buy|bought|cop|copped|tomar\w*|tomo|tome|usar\w*|uso|probar\w*|dio|"
    r"ofrecio|regalo|vendio|compre|"
    r"pedir\w*|prestad[oa]s?|prestar\w*|prest[oa])\b"
)
_NOT_PRESCRIBED = re.compile(
    # "my wife's xanax", "my buddy's old subs"
    rf"\b{_OWNER}\s+(?:\w+\s+){{0,2}}?{_MEDOBJ}\b"
    # "can I take his xanax": the writer taking another person's medicine
    rf"|\b(?:can|could|should|may|would it be ok if) i (?:just )?(?:take|try|have|use|borrow|"
    rf"get|steal|pop) (?:one of |some of |a few of |a couple of )?(?:his|her|their) "
    rf"(?:\w+\s+)?{_MEDOBJ}\b"
    # "some of his subs", "one of her pills" (with "of": "his" is another person's)
    rf"|\b(?:some|one|a few|couple|any|a couple|half|part) of (?:his|her|their)\s+"
    rf"(?:\w+\s+)?{_MEDOBJ}\b"
    # "he gave me some of his subs", "offered me a sub", "can I have one of his"
    rf"|\b(?:gave|give|gives|giving|offered|offering|sold|selling|sell|handed|hooked|trade|"
    rf"trading|swap|swapping|lend|lent|loan|loaned|pass|passed|spot|spotted)\s+me\s+"
    rf"(?:up\s+)?(?:(?:some|a|an|one|two|a few|his|her|their|of|the|extra|her|half)\s+)*"
    rf"(?:\w+\s+)?{_MEDOBJ}\b"
    # "a sub from my buddy", "pills from a friend"
    rf"|\b{_MEDOBJ}\s+(?:\w+\s+)?(?:from|off|of)\s+(?:(?:my|a|his|her|their|the|some)\s+)?"
    rf"{_PERSON}\b"
    # "one of hers", "a couple of his"
    rf"|\b(?:one|some|a few|couple|any|two|2|half|a couple) of (?:hers|his|theirs)\b"
    # "my girlfriend is prescribed klonopin", "my wife has xanax"
    rf"|\b{_PERSON} (?:is|was|gets|got|has|had|have|takes|is on|was on) (?:prescribed |"
    rf"a prescription for |a script for |some |extra |leftover |left over |old )?(?:\w+\s+)?"
    rf"{_MEDOBJ}\b"
    rf"|\b(?:someone|somebody|anyone|anybody) elses\b"
    # bought, not prescribed: "a sub I bought off the street", "compré unas tiras"
    rf"|\b(?:off|from|on) the (?:street|streets)\b|\bstreet {_MEDOBJ}\b|\bde la calle\b"
    rf"|\b(?:buy|bought|buying|cop|copped|copping|score|scored|purchase|purchased|compre|"
    rf"comprar|compro|compramos)\s+(?:(?:some|a|an|extra|a few|couple|unas?|unos?)\s+)?"
    rf"(?:\w+\s+)?{_MEDOBJ}\b"
    rf"|\bnot (?:prescribed|mine|my own|my prescription|meant for me|for me)\b"
    rf"|\b(?:isnt|arent|wasnt|werent) (?:prescribed to me|mine|my own)\b"
    rf"|\bwithout (?:a|my own|my) prescription\b|\bno prescription\b"
    rf"|\bprescribed (?:to|for) (?:my|his|her|him|their|someone|somebody)\b"
    # Spanish: "las pastillas de mi esposa", "el xanax de mi amigo", "me prestó una tira"
    rf"|\b{_MEDOBJ}\s+(?:\w+\s+)?de\s+(?:(?:mi|mis|su|sus|un|una|el|la|otra|otro)\s+)?"
    rf"{_PERSON_ES}\b"
    rf"|\bme (?:presto|prestaron|regalo|regalaron|dio|dieron|vendio|vendieron|ofrecio|"
    rf"ofrecieron)\s+(?:\w+\s+){{0,3}}?{_MEDOBJ}\b"
    rf"|\b(?:unas?|unos?|algunas?|algunos?|un par) de (?:sus|las suyas|los suyos)\b"
    # "a friend wants to give me suboxone", "un amigo me quiere dar suboxone"
    rf"|\b(?:me (?:quiere|quieren|va a|van a|puede|pueden|ofrece|ofrecen) "
    rf"(?:dar|pasar|vender|prestar|regalar)|(?:wants|want|is going|offered|offering|going) to "
    rf"(?:give|sell|lend|spot|pass) me|(?:can|could|will) (?:give|sell|lend|spot) me)\s+"
    rf"(?:\w+\s+){{0,2}}?{_MEDOBJ}\b"
    rf"|\b(?:mi|su|my|his|her) (?:{_PERSON_ES}|{_PERSON}) (?:tiene|toma|usa|tenia|"
    rf"le recetaron|le dieron|has|takes|got)\s+(?:\w+\s+)?{_MEDOBJ}\b"
    rf"|\b(?:que no (?:son|es) mi[oa]s?|no (?:son|es) mi[oa]s?|no recetad[oa]s? (?:a|para) mi|"
    rf"sin receta|de otra persona|de alguien mas)\b"
)


def _shape(
    text: str, lexicon: Lexicon, *, prescription_substances: bool = False
) -> tuple[str, tuple[str, ...]]:
    """Reduce text to folded words with MED for a medication and SUB for a substance.

    With prescription_substances, opioids, sedatives and stimulants (often someone's
    prescription) are MED too, for the someone-else's-medicine patterns.
    """
    parts: list[str] = []
    medications: list[str] = []
    for token in lexicon.analyse(text, lexicon.correct_medication_word):
        term = token.term
        if term is not None and term.group == "medications":
            parts.append("MED")
            if term.canonical not in medications:
                medications.append(term.canonical)
        elif term is not None and term.group == "substances":
            rx = prescription_substances and term.canonical in _PRESCRIPTION_SUBSTANCES
            parts.append("MED" if rx else "SUB")
        else:
            parts.append(token.text)
    return " ".join(parts), tuple(medications)


def classify_medication_question(
    text: str, *, lexicon: Lexicon | None = None
) -> GuardrailMatch | None:
    """Return the kind of medication decision a message asks about, or None if it asks none."""
    lexicon = lexicon or bundled_lexicon()
    shape, medications = _shape(text, lexicon)
    framed = _FRAME.search(shape) is not None or (
        "?" in text and _BARE_PAIR.search(shape) is not None
    )
    if _WHY.search(shape) or (_EDUCATIONAL.search(shape) and not framed):
        return None
    if not framed and not _FIRST_PERSON.search(shape):
        return None
    rx_shape, _ = _shape(text, lexicon, prescription_substances=True)
    if _NOT_PRESCRIBED.search(rx_shape) and _CONSUME.search(rx_shape):
        return GuardrailMatch(kind="not_prescribed", medications=medications)
    kind = _classify_shape(shape)
    return None if kind is None else GuardrailMatch(kind=kind, medications=medications)


# "can I take 20": a number of something, unless it is time
_TAKE_NUMBER = re.compile(
    r"\b(?:take|taking|tomar|tomarme|tomo|have|use|do)\s+(?:(?:only|just|like|solo|nomas)\s+)?"
    r"\d+(?:\s?mgs?)?\b(?!\s+(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|"
    r"seconds?|minutos?|horas?|dias?|semanas?|meses|steps?|pasos?))"
)


def _classify_shape(shape: str) -> GuardrailKind | None:
    if _MIX_EXPLICIT.search(shape) or (_MIX_WORD.search(shape) and _DOSE_WORD.search(shape)):
        return "mixing"
    if _STOP.search(shape) or _STOP_WANTING.search(shape):
        return "stop"
    if (_DOSE.search(shape) and _DOSE_WORD.search(shape)) or _TAKE_NUMBER.search(shape):
        return "dose_change"
    if _START.search(shape):
        return "start"
    consumed = _QUIT_SUBSTANCE.sub(" ", shape)
    if re.search(r"\bSUB\b", consumed) and _DOSE_WORD.search(consumed):
        return "mixing"
    return None


# The signs of too much of an opioid medicine, as patients put them.
_TOO_MUCH = re.compile(
    r"\b(?:so|really|very|super|too|extremely|crazy|hella|real|always|constantly|way too|"
    r"all day|really really|soo+|sooo+)\s+(?:sleepy|drowsy|tired|groggy|sedated|out of it|high|"
    r"loaded|zonked|doped(?: up)?|knocked out|woozy|wiped out|lethargic|heavy)\b"
    r"|\b(?:sleepy|drowsy|groggy|sedated|woozy|zonked|lethargic|drowsiness|sleepiness|"
    r"sedation)\b"
    r"|\bnod(?:ding|ded|s)?(?: off| out)?\b"
    r"|\b(?:keep|keeps|kept|keeping|cant stop|start|started|always) (?:falling|dozing|passing|"
    r"drifting) (?:asleep|off|out)\b"
    r"|\b(?:fall|falling|fell|falls) asleep (?:while|mid|during|in the middle|at|standing|"
    r"talking|eating|driving|sitting|on the|all the time|everywhere|at work)\b"
    r"|\bdoz(?:e|es|ed|ing) off\b"
    r"|\b(?:cant|can not|cannot|hard to|hardly|barely|struggling to|struggle to) (?:stay|keep|"
    r"staying|keeping) (?:awake|my eyes open|eyes open|his eyes open|her eyes open|up)\b"
    r"|\b(?:hard|difficult|tough) to (?:wake|get up|wake up)\b"
    r"|\b(?:cant|can not|cannot|barely|hardly) (?:keep|hold) (?:my|his|her|their) head up\b"
    r"|\beyes (?:keep|keeps|are|r|kept) (?:closing|shutting|heavy|droopy|rolling)\b"
    r"|\b(?:cant stop|keep|keeps) yawning\b"
    r"|\bfeel(?:s|ing)? (?:so |really |very |super )?heavy\b"
    r"|\bmantener (?:los|sus|mis) ojos abiertos\b|\bse (?:le|me) cierran los ojos\b"
    r"|\bslurr(?:ing|ed|y)\b"
    r"|\bbreath(?:ing|e|es)? (?:\w+ ){0,3}?(?:slow|slowly|shallow|weird|funny|lento|despacio)\b"
    r"|\b(?:slow|shallow|slowed) breath(?:ing)?\b"
    r"|\b(?:pinpoint(?:ed)?|tiny|pinned|small) pupils\b"
    r"|\bpupils (?:are |look |got |r )?(?:so |really |very |super )?"
    r"(?:tiny|pinned|pinpoint|small)\b"
    r"|\b(?:really|so|very|super|kinda|kind of|feel|feeling|felt|im|i am|getting|hes|shes|is|"
    r"and|way too|too) (?:\w+ )?(?:dizzy|confused|wobbly|unsteady|foggy|out of it|woozy|"
    r"off balance)\b"
    r"|\bfeel(?:s|ing)? (?:too |really |so |very )?(?:high|loaded|drunk|wasted|stoned|doped|"
    r"like a zombie|out of it|sedated)\b"
    r"|\bout of it\b|\blike a zombie\b|\bzombie\b"
    r"|\b(?:mucho|muchisimo|demasiado|tanto|tengo|con|da|dando|me da|me dio) sueno\b"
    r"|\b(?:muy|bien|super|ando|estoy|me siento) (?:\w+ )?(?:maread[oa]|confundid[oa]|"
    r"tambaleando)\b"
    r"|\bsomnolient[oa]s?\b|\bsomnolencia\b|\badormilad[oa]\b|\badormecid[oa]\b"
    r"|\bcabece(?:ando|o|a|an)\b"
    r"|\b(?:me|se) (?:quedo|queda|estoy quedando|esta quedando|caigo|cae|voy quedando|va "
    r"quedando) dormid[oa]\b|\b(?:me|se) duerme?\b|\bse duerme\b"
    r"|\bme cuesta (?:mucho )?(?:mantener(?:me)? despiert[oa]|estar despiert[oa]|hablar|"
    r"respirar|despertar(?:me)?)\b"
    r"|\bno (?:me )?(?:puedo|podia) (?:mantener(?:me)? despiert[oa]|despertar)\b"
    r"|\bmuy (?:cansad[oa]|dormid[oa]|drogad[oa]|sedad[oa]|id[oa]|pesad[oa])\b"
    r"|\bdrogad[oa]\b|\bcomo (?:borrach[oa]|zombi|ido|ida)\b"
    r"|\brespir(?:o|a|ando) (?:muy )?(?:lento|despacio|poco)\b"
    r"|\bpupilas (?:muy )?(?:chiquitas|pequenas|chicas|puntiformes)\b"
    r"|\barrastr(?:o|a|ando) las palabras\b|\bgrogui\b"
)
_NOT_TOO_MUCH = re.compile(
    r"\b(?:not|no longer|never|isnt|arent|less|no|nada de|sin) (?:so |as |very |really |that )?"
    r"(?:sleepy|drowsy|tired|groggy|sedated|high|sueno)\b"
    r"|\b(?:cant|cannot|can not|unable to|trouble|hard to|no puedo) (?:fall )?(?:sleep|asleep|"
    r"dormir)\b"
)
# An opioid medicine (or a sedating one, often taken with it), an opioid or a sedative; or a
# dose, when no other kind of medicine is named ("after my dose today").
_OPIOID_MEDICINES = frozenset({"methadone", "buprenorphine"})
_SEDATING_MEDICINES = frozenset({"benzodiazepine", "gabapentin"})
_DOSE_WORDS = re.compile(r"\b(?:dose|doses|dosage|dosis|dosing)\b")
_DOSE_WENT_UP = re.compile(
    r"\b(?:new|higher|bigger|increased|raised|upped|changed|first|latest|nueva|mas alta)\s+"
    r"(?:\w+\s+)?(?:dose|doses|dosage|dosis)\b"
    r"|\b(?:dose|dosage|dosis|MED|it)\s+(?:was |got |went |has been |been |fue )?"
    r"(?:raised|increased|upped|bumped|went up|up|changed|subieron|aumentaron)\b"
    r"|\b(?:raised|increased|upped|bumped|changed|subieron|aumentaron) (?:my|mi|the|la|it|me)?\b"
    r"|\b(?:started|starting|begun|began|empece|empezo) (?:on )?(?:MED|the|my|mi|la|el)\b"
    r"|\bfirst (?:week|weeks|days|day)\b|\bprimer(?:a|as|os)? (?:semana|semanas|dias)\b"
)
_GENERIC_QUESTION = re.compile(
    r"^(?:does|do|can|could|will|would|is(?! (?:it|this|that) normal)|are|why does|why do|"
    r"how (?:does|do|long|much|many)|what (?:are|is)|whats|puede|hace|la|el|"
    r"es normal que (?:la|el))\b"
)
_SOMEONE = re.compile(
    r"\b(?:i|im|ive|id|my|me|myself|yo|mi|mis|he|hes|she|shes|they|theyre|him|her|his|"
    r"husband|wife|son|daughter|friend|partner|mom|dad|brother|sister|boyfriend|girlfriend|"
    r"esposo|esposa|hijo|hija|amigo|amiga|pareja|mama|papa|hermano|hermana|novio|novia|estoy|"
    r"tengo|siento|ando)\b"
)

_REVERSERS = frozenset({"naloxone", "nalmefene"})
_NALOXONE_ACTION = re.compile(
    r"\b(?:give|giving|gave|given|use|using|used|spray|sprays|sprayed|spraying|administer|"
    r"administering|inject|dose|doses|dosage|puff|puffs|squirt|nostril|nostrils|second|another|"
    r"again|more|how (?:much|many)(?! (?:does|do|is|time|it cost))|"
    r"how (?:do|should|can|would) (?:i|you|we) (?:use|give|spray|administer|do it|put|know)|"
    r"how to (?:use|give|spray|administer)|when (?:do|should) (?:i|you|we)|how long do i wait|"
    r"dar|darle|darlo|doy|di|aplicar|aplico|aplicarle|usar|usarla|usarlo|uso|otra|"
    r"cuant[oa]s?(?! (?:dura|tiempo|cuesta|vale|tarda))|"
    r"segunda|como se (?:usa|da|pone|aplica)|como (?:la|lo|le) (?:uso|doy|pongo|aplico))\b"
    r"|\b(?:should|can|do|must|could) (?:i|we) MED (?:him|her|them|my|the|her|someone)\b"
    r"|\b(?:after|despues de) (?:the |giving |i gave |we gave |la |darle )?MED\b"
    r"|\b(?:leave|left) (?:him|her|them|alone)\b|\bwoke up\b|\bdesperto\b"
    r"|\b(?:dejar(?:lo|la)?|dejarl[oa]) sol[oa]\b"
)
# An overdose as a bystander sees it, asked as "what do I do".
_OVERDOSE_SIGNS = re.compile(
    r"\b(?:friend|he|she|they|brother|sister|son|daughter|husband|wife|boyfriend|girlfriend|"
    r"someone|somebody|roommate|guy|dude|mom|dad|cousin|just|has|had|might have|think \w+) "
    r"(?:odd|od)\b|"
    r"\b(?:blue|grey|gray|purple|not breathing|isnt breathing|stopped breathing|barely breathing|"
    r"wont wake|cant wake|will not wake|wont respond|unresponsive|passed out|not responding|"
    r"not waking|isnt waking|not responsive|isnt responding|wont come to|"
    r"nodding out|no respira|no despierta|no responde|morad[oa]|azul|inconsciente|desmayad[oa])\b"
)
_RESPOND_TO_OVERDOSE = re.compile(
    r"\b(?:what (?:do|should|can|would) (?:i|we|you) do|what to do|how (?:do|can|should|would) "
    r"(?:i|we|you) (?:help|respond|save|reverse|wake)|how to (?:help|respond|save|reverse|wake)|"
    r"que (?:hago|hacemos|debo hacer|hay que hacer|se hace)|como (?:ayudo|ayudar|le ayudo))\b"
)
_OVERDOSE_TERMS = frozenset({"overdose"})
# Naloxone named only by what is done with it ("gave one spray, still not breathing, another?").
_SPRAY_AGAIN = re.compile(
    r"\b(?:spray|sprays|sprayed|nostril|nose|nariz|another (?:one|dose|spray)|"
    r"second (?:dose|spray)|otra(?: dosis)?|segunda dosis)\b"
)

_MISSED_HYPOTHETICAL = re.compile(
    r"^(?:so |and |but |um |ok |okay )?(?:what|wat|wht)\s+(?:if|happens if|happens when|"
    r"should i do if|do i do if|to do if|do you do if|would happen if|will happen if)\s+"
    r"(?:i|you|someone|somebody|a person)\s+(?:miss|misses|missed|forget|forgets|forgot|skip|"
    r"skips|skipped|am late|m late|are late|is late)\b"
    r"|^(?:que|q) (?:pasa|hago|debo hacer|pasaria) si (?:me )?(?:olvido|olvide|salto|pierdo|"
    r"falto a)\b"
    r"|^(?:que|q) (?:pasa|hago|pasaria) if (?:i )?(?:miss|missed|forget|forgot|skip|skipped)\b"
)
_MISSED_TOLD = re.compile(
    r"^(?:i |so i |i just |i totally |ugh i |oops i )?(?:missed|forgot|skipped|didnt take|"
    r"olvide|se me olvido|me salte|no tome)\b"
)
_DECISION_IN_MISSED = re.compile(
    r"\b(?:should|can|could|do|may|must) i (?:take|double|have|use|make)\b|\bdouble\b|"
    r"\b(?:take|taking) (?:it|two|2|another|extra|both|them)\b|\bmake (?:it )?up\b|"
    r"\b(?:tomo|tomar|tomarla|tomarlo|doble)\b"
)


def route_question(text: str, *, lexicon: Lexicon | None = None) -> Route:
    """Say which answer a free-text question gets.

    - ``warning``: the signs of too much of an opioid medicine (heavy sleepiness, nodding off,
      slow breathing) in the writer or someone else: the signs and the emergency steps, before
      anything about doses;
    - ``naloxone_steps``: how to give naloxone, or what to do in an overdose: a bystander's
      question, answered with the steps, never "your dose is set by your prescriber";
    - ``prescriber``: a personal medication decision (:func:`classify_medication_question`);
    - ``library``: everything else, including "what if I miss a dose" asked in general.
    """
    lexicon = lexicon or bundled_lexicon()
    tokens = lexicon.analyse(text, lexicon.correct_medication_word)
    shape, medications = _shape(text, lexicon)
    canonicals = {t.term.canonical for t in tokens if t.term is not None}
    groups = {t.term.canonical: t.term.group for t in tokens if t.term is not None}
    plain = " ".join(words(text))
    if _reads_as_warning(plain, shape, canonicals, groups):
        return Route("warning", medications)
    signs = _OVERDOSE_SIGNS.search(shape) is not None
    if canonicals & _REVERSERS and (signs or _NALOXONE_ACTION.search(shape)):
        return Route("naloxone_steps", medications)
    overdose = signs or bool(canonicals & _OVERDOSE_TERMS)
    if overdose and (_RESPOND_TO_OVERDOSE.search(shape) or _SPRAY_AGAIN.search(shape)):
        return Route("naloxone_steps", medications)
    if _MISSED_HYPOTHETICAL.search(shape) and not _DECISION_IN_MISSED.search(shape):
        return Route("library", medications)
    guard = classify_medication_question(text, lexicon=lexicon)
    if (
        guard is not None
        and guard.kind == "dose_change"
        and _MISSED_TOLD.search(shape)
        and not _FRAME.search(shape)
        and not _DECISION_IN_MISSED.search(shape)
    ):
        return Route("library", medications)
    if guard is not None:
        return Route("prescriber", guard.medications, guard)
    return Route("library", medications)


def _reads_as_warning(
    plain: str, shape: str, canonicals: set[str], groups: Mapping[str, str]
) -> bool:
    if not _TOO_MUCH.search(plain) or _NOT_TOO_MUCH.search(plain):
        return False
    if _GENERIC_QUESTION.search(plain) and not _SOMEONE.search(plain):
        return False  # "does methadone make you sleepy" asks how a medicine works
    if canonicals & (_OPIOID_MEDICINES | _SEDATING_MEDICINES) or any(
        groups.get(name) == "substances" for name in ("opioid", "sedative")
    ):
        return True
    other_medicine = any(group == "medications" for group in groups.values())
    if other_medicine:
        return False  # "so tired on chantix" is a side effect, not too much of an opioid
    return _DOSE_WENT_UP.search(shape) is not None or _DOSE_WORDS.search(shape) is not None
