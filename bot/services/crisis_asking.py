"""How a crisis message asks: question marks, suppositions, general asks and background.

Compiled once from the patterns below (written against normalised text, as the rules are) and
used by :mod:`bot.services.crisis_rules` to tell a question about a crisis topic from a report
of one, and a supposition from what happened.
"""

from __future__ import annotations

import re
from typing import Final

QUESTION_MARK: Final = re.compile(r"\?\s*$|\u00bf")
# A question that still reveals intent or method is never "only a question".
INTENT_IN_QUESTION: Final = re.compile(
    r"\b(?:to die|to kill (?:myself|me)|kill myself|end it|end my life|not wake up|never wake up"
    r"|morir|matarme|quitarme la vida|no despertar|how many (?:\w+ ){0,3}(?:would it|does it"
    r"|will it|to) (?:take|die|kill)|lethal dose|fatal dose|dosis letal|dosis mortal|painless"
    r"|asking for me|for me|(?:whats|what is) (?:even )?the point|para que|de que sirve"
    r"|let it happen"
    # Asking to be talked out of it: "tell me why i shouldnt", "dame una razon para no".
    # Only at a sentence's end: "tell me why i shouldnt mix them?" asks about a medicine.
    r"|(?:tell me why (?:i (?:shouldnt|should not)|not to)|give me (?:one|a) (?:good )?reason"
    r" (?:not to|why i shouldnt)|convince me not to|dame una razon para no)(?= \.|$)"
    r"|perdone"
    # Testing whether a blocker still lets a drug through is intent to use, however asked.
    r"|(?:see|seeing|ver) (?:if|si) (?:i |yo )?(?:can |puedo )?(?:still |todavia |aun )?(?:feel|get"
    r" high|lo siento|sentirlo|me pega)"
    # A supposition of taking all of one's pills or the whole bottle asks about dying by them.
    r"|(?:if|si) (?:i|you|u|yo|me) (?:\w+ ){0,2}?(?:took|take|swallow\w*|tomo|tomara|tomaba|trago"
    r"|trague) (?:\w+ ){0,2}?(?:all|every|whole|todas|todos|toda|todo|entero|entera))\b",
    re.ASCII,
)

# Another person's wish to die, supposed ("what do i say if my sister ever says she wants to
# die"): what the question asks how to answer, not the writer's intent.
THEIR_WISH: Final = re.compile(
    r"\b(?:(?:he|she|they|someone|somebody|a person|my \w+) (?:\w+ ){0,2}?(?:wants|want) to die"
    r"|(?:se )?quieren? morir(?:se)?)\b",
    re.ASCII,
)


def reveals_intent(form: str) -> bool:
    """Return whether a question carries intent or method, leaving out another person's
    supposed wish to die, which is what such a question is about."""
    if hypothetical(form):
        form = THEIR_WISH.sub(" ", form)
    return INTENT_IN_QUESTION.search(form) is not None


# "if someone is on suboxone and takes fent can they still od": a supposition asked about
# someone, with or without its question mark.
ASKED_ABOUT_SOMEONE: Final = re.compile(
    r"\b(?:can|could|would|will|should|do|does)"
    r" (?:they|he|she|someone|somebody|a person|people|you|u) (?:still )?(?:\w+ )?"
    r"(?:od|overdose|die|be ok|be okay|be fine|survive|live|get hurt)\b"
    # "if someone overdoses while on vivitrol does narcan still work": the rescue asked about.
    r"|\b(?:does|do|will|would|can|could) (?:narcan|naloxone|naloxona|cpr|the spray|the shot)"
    r" (?:\w+ )?(?:still )?(?:work|help|reverse|bring (?:them|him|her|someone) back)\b",
    re.ASCII,
)
# Slots that tell of a person now: with them, "is that normal?" is a worry, not a question.
SEDATION_NOW: Final = frozenset(
    {"drowsy_now", "unsure_dose", "unsure_amount", "double_dose", "check_on_me", "hard_to_wake"}
)
GENERAL_ASK: Final = re.compile(
    # "is it normal to be this sleepy" asks about the writer now, not in general.
    r"\b(?:(?:is it|its|es) (?:normal|common|ok|okay|safe|bad|usual) (?:to|for|que|sentir|tener)"
    r"(?! (?:\w+ ){0,4}(?:this|that|so|tan|asi|uno respire)\b)"
    r"|(?:can|does|do|will|would|could) (?:\w+ ){1,3}(?:make|cause|get) (?:you|someone|people|u)"
    r"|what (?:does|do) (?:\w+ ){0,3}look like|how (?:do|can) (?:i|you|we) (?:tell|know)"
    # "how long after using does someone usually stop breathing": how a crisis goes, in general.
    r"|(?:how long|how soon|how fast|how quickly|cuanto tiempo) (?:\w+ ){0,6}?(?:does|do|can"
    r"|will|would|until|before|tarda|pasa) (?:\w+ )?(?:someone|somebody|a person|people|you|u"
    r"|alguien|una persona)"
    r"|(?:does|do|can|will|would) (?:someone|somebody|a person|people|you) (?:usually|typically"
    r"|normally|generally))\b",
    re.ASCII,
)


# "if" and "si" after not knowing or forgetting mean "whether": "not sure if i took my dose
# twice", "no se si se la tomo" tell of something that may have happened, not a supposition.
WHETHER: Final = (
    r"(?<!not sure )(?<!unsure )(?<!dont know )(?<!dunno )(?<!idk )(?<!forgot )(?<!remember )"
    r"(?<!wonder )(?<!no idea )(?<!no se )(?<!no sabe )(?<!no sabemos )(?<!acuerdo )(?<!olvido )"
    r"(?<!olvide )"
    # "is it bad if someone you love is hard to wake": a worry about a present case.
    r"(?<!is it bad )(?<!is it normal )(?<!is it ok )(?<!is it okay )(?<!es malo )(?<!es normal )"
)
HYPOTHETICAL: Final = re.compile(
    rf"\b(?:{WHETHER}if (?:i|you|u|ur|youre|your|someone|somebody|a person|they|he|she"
    r"|my \w+)|what if"
    rf"|{WHETHER}si (?:yo |alguien |una persona |me |se )?\w+|que pasa si|in case)\b",
    re.ASCII,
)


def hypothetical(form: str) -> bool:
    """Return whether the form supposes ("if someone", "what if", "si alguien"), not tells."""
    return HYPOTHETICAL.search(form) is not None


# Slots that tell of something now: a sentence with none of them, in a message read as a
# memory, is part of that memory.
TOLD_NOW: Final = frozenset(
    {
        "now",
        "present",
        "report_self",
        "report_other",
        "future_use",
        "unresponsive",
        "sedated",
        "wont_wake",
        "overdosing_now",
        "drowsy_now",
        "check_on_me",
        "unsure_dose",
        "unsure_amount",
        "double_dose",
        "hard_to_wake",
        "asked_done",
    }
)
BACKGROUND: Final = re.compile(
    r"\b(?:i (?:read|heard|saw)|(?:read|heard) (?:that|somewhere)|they say|people say|apparently"
    r"|supposedly|lei|escuche|oi|dicen que|sometimes|every (?:now and then|once in a while)"
    r"|from time to time|usually|a veces|de vez en cuando|por lo general|normalmente)\b",
    re.ASCII,
)
# A question someone else asked the writer, reported: "me pregunto si pensaba en hacerme dano".
REPORTED_ASK: Final = re.compile(
    r"\b(?:(?:asked|asks|asking) (?:me )?(?:if|whether)"
    r"|(?:me|nos) (?:pregunto|pregunta|preguntaron) (?:\w+ )?si)\b",
    re.ASCII,
)
