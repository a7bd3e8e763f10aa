"""The crisis rules read figures of speech, calm memories, questions and relapse risk by meaning.

Every wording here is new: none is copied from a labelled set, so each test checks that a rule
reads a kind of message, not one sentence.
"""

from __future__ import annotations

import pytest

from bot.models import CrisisCategory
from bot.models import CrisisCategory as C
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_signal import Tier


def _signal_category(text: str) -> CrisisCategory | None:
    signal = assess_rules(text)[0].signal
    return signal.category if signal is not None else None


def _assert_signal(text: str, category: CrisisCategory | None) -> None:
    """The message raises a signal, of the given category when one is given."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    if category is not None:
        assert signal.category is category, text


@pytest.mark.parametrize(
    "text",
    [
        "id rather die than sit through another budget meeting",
        "overdosed on pizza at my nieces party",
        "anoche me di una sobredosis de tamales",
        "this traffic, kill me now jk",
    ],
)
def test_a_crisis_word_that_measures_something_ordinary_stays_quiet(text: str) -> None:
    """Hyperbole ("rather die than", "overdosed on pizza") and a joke marker raise no signal."""
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("im going to overdose on purpose tonight", CrisisCategory.OVERDOSE),
        ("overdosed on my pills and i cant stay awake", CrisisCategory.OVERDOSE),
        ("lol jk... but actually i want to kill myself", CrisisCategory.SUICIDE),
        ("i would rather die than go on, the pills are lined up", CrisisCategory.SUICIDE),
    ],
)
def test_a_figure_of_speech_never_hides_a_plan_or_a_drug(
    text: str, category: CrisisCategory
) -> None:
    """An overdose on a drug or on purpose, a joke taken back, a plan: still crises."""
    assert _signal_category(text) is category


@pytest.mark.parametrize(
    "text",
    [
        "we lost count, three overdoses on our block this summer. grateful im out of that life",
        "we held a vigil for my uncle on overdose awareness day",
        "i was suicidal for most of 2019. now i help run the peer group",
    ],
)
def test_a_past_crisis_told_calmly_stays_quiet(text: str) -> None:
    """Overdoses counted in the neighbourhood, a vigil, a past the writer has left: no signal."""
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "what hotline should i call if my friend talks about suicide?",
        "¿a quién le llamo si mi hijo dice que se quiere matar?",
        "a que numero marco si mi esposo dice que se quiere matar",
    ],
)
def test_asking_whom_to_call_is_a_question_not_a_page(text: str) -> None:
    """A question about where to turn if someone is at risk is answered, nobody is paged."""
    assessment, _ = assess_rules(text)
    assert assessment.signal is None
    assert assessment.question


def test_whom_to_call_beside_a_threat_happening_now_is_still_a_crisis() -> None:
    """Without "if", the person at risk is real: the team is paged."""
    text = "who do i call, my brother says he is going to kill himself tonight"
    assert _signal_category(text) is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    "text",
    [
        "2 months clean and i still got the number, nobodys home this weekend",
        "quit my suboxone a week ago, gonna party like old times saturday",
        "mi hermano salio de la carcel y ya anda con sus amigos de antes",
        "not going back for my vivitrol shot, i have plans this weekend",
    ],
)
def test_a_wish_to_use_beside_a_danger_is_relapse_danger(text: str) -> None:
    """Craving or a plan to use, with being alone, lost tolerance or the blocker let lapse."""
    assert _signal_category(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "tengo ganas de consumir pero ya hable con mi padrino",
        "hoy tuve ganas de usar pero me fui al grupo",
    ],
)
def test_a_craving_being_resisted_stays_quiet(text: str) -> None:
    """A craving followed by "pero" is a craving held off, not a plan."""
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "90 days sober and i just used the same amount as before, cant lift my head",
            CrisisCategory.OVERDOSE,
        ),
        (
            "4 months clean, i used the same amount as before and i feel fine",
            CrisisCategory.RELAPSE_DANGER,
        ),
        (
            "llevo un ano limpio y tengo la cantidad que me inyectaba antes, ahorita me la pongo",
            CrisisCategory.RELAPSE_DANGER,
        ),
        ("i did a bit more than i meant to and everything is spinning", CrisisCategory.OVERDOSE),
    ],
)
def test_the_old_dose_after_lost_tolerance_is_danger(text: str, category: CrisisCategory) -> None:
    """The amount used before, after time clean, is the overdose risk of lost tolerance."""
    assert _signal_category(text) is category


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("honestly just waiting for the sweet release of death", CrisisCategory.SUICIDE),
        ("i feel totally out of options at this point", CrisisCategory.SUICIDE),
        ("sitting by the river tonight, one last look", CrisisCategory.SUICIDE),
        ("relapsed on the cutting instead of pills lol", CrisisCategory.SELF_HARM),
        ("me aprieta el pecho desde anoche y me siento mareado", CrisisCategory.MEDICAL_EMERGENCY),
        ("mom fell in the kitchen and now shes confused", CrisisCategory.MEDICAL_EMERGENCY),
        (
            "tiene moretones otra vez y dice que se pego con la puerta",
            CrisisCategory.ABUSE_OR_DANGER,
        ),
        ("my friend has bruises again and says she tripped", CrisisCategory.ABUSE_OR_DANGER),
        ("tengo tanto coraje que podria hacer dano a alguien", CrisisCategory.HARM_TO_OTHERS),
    ],
)
def test_new_frames_read_their_kind_of_crisis(text: str, category: CrisisCategory) -> None:
    """Despair, a last look from a height, self-harm as relapse, chest pressure, a fall with
    confusion, bruises explained away, and a fear of hurting someone each raise a signal."""
    signal = assess_rules(text)[0].signal
    assert signal is not None
    assert signal.category is category
    assert signal.tier in {Tier.CLEAR, Tier.POSSIBLE}


@pytest.mark.parametrize(
    "text",
    [
        "that counselor saved my life, honestly",
        "need a note for my boss about the appointment times",
    ],
)
def test_a_saved_life_and_a_letter_for_work_are_not_farewells(text: str) -> None:
    """A life saved is thanks and a letter for the boss is paperwork: no signal."""
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    [
        "i wrote a letter for my kids, its on the table. im done",
        "i have been saving all my pills for tonight",
    ],
)
def test_a_farewell_letter_and_saved_pills_stay_crises(text: str) -> None:
    """A letter left for family and pills saved up still read as suicide."""
    assert _signal_category(text) is CrisisCategory.SUICIDE


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("already figured out how im going to do it, saturday", CrisisCategory.SUICIDE),
        ("amarre el cinturon a la viga del closet para ver si aguanta", CrisisCategory.SUICIDE),
        ("ya decidi como hacerlo, nomas queria despedirme", CrisisCategory.SUICIDE),
        (
            "my son has been in the restroom at the mall for two hours and wont text back",
            CrisisCategory.OVERDOSE,
        ),
        ("mi esposo lleva dos horas en el bano y no abre", CrisisCategory.OVERDOSE),
        ("my husband is nodding real hard at the table, is that normal?", CrisisCategory.OVERDOSE),
        (
            "me pase un poco con las pastillas anoche, todavia me siento raro, es grave?",
            CrisisCategory.OVERDOSE,
        ),
        ("craving 9. did a bit more than usual tonight. ok i think", CrisisCategory.OVERDOSE),
    ],
)
def test_a_method_chosen_and_a_use_gone_too_far_are_heard(
    text: str, category: CrisisCategory
) -> None:
    """A ligature tried or a method chosen, someone shut in a bathroom for hours, nodding hard
    now, and more than meant told with the "I" dropped or with a worried question after."""
    assert _signal_category(text) is category


@pytest.mark.parametrize(
    "text",
    [
        "i finally figured out how to do it on the new app, thanks",
        "tied the dog to the railing while i grabbed coffee",
        "I have been in the bathroom for an hour fixing the sink lol",
    ],
)
def test_ordinary_hows_ties_and_bathrooms_stay_quiet(text: str) -> None:
    """Working out an app, tying up a dog, the writer's own plumbing: no signal."""
    assert assess_rules(text)[0].signal is None


@pytest.mark.parametrize(
    "text",
    ["my morning dose is wearing off by 3pm every day", "want to taper down my methadone slowly"],
)
def test_talk_of_a_dose_is_left_to_the_models_only_above_their_overrule_bar(text: str) -> None:
    """A dose that does not hold or is to be tapered is for the prescriber: the rules raise
    nothing and mark it explained, so the models need their overrule score."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None
    assert why == "explained"


@pytest.mark.parametrize(
    "text",
    [
        "my dose wears off so i used on top of it and now im nodding",
        "they cut my dose and somebody is gonna pay for it",
    ],
)
def test_talk_of_a_dose_beside_use_or_another_person_stays_open_to_the_models(text: str) -> None:
    """Use, sedation or another person told beside the dose is not left to the overrule bar."""
    assert assess_rules(text)[1] != "explained"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("made sure the kids will be ok without me, its almost time", CrisisCategory.SUICIDE),
        ("mis hijos van a estar bien sin mi, ya lo decidi", CrisisCategory.SUICIDE),
        ("the kids will be fine without me for the weekend trip", None),
        ("mis hijos van a estar bien sin mi este fin de semana", None),
    ],
)
def test_others_fine_without_the_writer_for_good_is_a_farewell(
    text: str, expected: CrisisCategory | None
) -> None:
    """Family said to be fine without the writer reads as a farewell; a weekend away does not."""
    assert _signal_category(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "si llamo a una ambulancia por una sobredosis, me pueden quitar a mis hijos?",
        "if i call 911 for my friend overdosing will i get in trouble too?",
    ],
)
def test_a_conditional_asked_about_the_writer_is_a_question(text: str) -> None:
    """Asking what happens if the writer calls 911 for an overdose tells of no overdose now."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None
    assert why == "question"


def test_a_conditional_beside_a_report_is_still_heard() -> None:
    """With a report of use beside the "if", the message is no question."""
    text = "i just took 6 bars, if i take 2 more will i od?"
    assert _signal_category(text) is CrisisCategory.OVERDOSE


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # an attempt just made, or its aftermath found
        ("my roommate just tried to hang himself, i cut him down, hes breathing", "suicide"),
        ("walked in on my brother with his wrists slit", "suicide"),
        ("mi prima acaba de intentar ahorcarse, ya la bajamos", "suicide"),
        ("la encontre en el bano con las munecas cortadas", "suicide"),
        # a goodbye with no reason, belongings given away
        ("just wanted to say goodbye to you all in case", "suicide"),
        ("mi esposo esta regalando sus cosas y su guitarra", "suicide"),
        # threats with a time, named by the writer
        ("me tienen amenazado por una deuda, dicen que esta noche me levantan", "abuse_or_danger"),
        # a meeting with a dealer set, the old places, an offer nearly taken
        ("called my old connect, hes on his way", "relapse_danger"),
        ("cant stop driving past the old corner after work", "relapse_danger"),
        ("dont know if i can make it through the weekend without picking up", "relapse_danger"),
        ("en el trabajo me ofrecieron y por poco dije que si", "relapse_danger"),
    ],
)
def test_attempts_farewells_threats_and_set_meetings_are_heard(text: str, category: str) -> None:
    """Crises told by what just happened or what is arranged, with no crisis word, are read."""
    assert _signal_category(text) is CrisisCategory(category), text


@pytest.mark.parametrize(
    "text",
    [
        "me meti dos tiras de subs y una botella de aguardiente, me estoy desvaneciendo",
        "tome metadona con unas chelas y me estoy apagando",
    ],
)
def test_an_opioid_with_drink_named_in_spanish_and_fading_is_an_overdose(text: str) -> None:
    """Rum, aguardiente or beer named the Spanish way count as a depressant beside an opioid."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    assert signal.category is CrisisCategory.OVERDOSE
    assert signal.tier is Tier.CLEAR


def test_a_dose_bought_days_after_leaving_a_clinic_is_relapse_danger() -> None:
    """Leaving a clinic or an anexo days ago means lost tolerance, in Spanish as in English."""
    text = "sali del internamiento hace tres dias y ya compre"
    assert _signal_category(text) is CrisisCategory.RELAPSE_DANGER


@pytest.mark.parametrize(
    "text",
    [
        "how should we approach my dad if we think hes cutting himself?",
        "what should my wife look out for, the leaflet says it may increase suicidal thoughts",
        "como le saco el tema a mi hija si creo que se esta lastimando?",
        "how long does naloxone work? i heard an overdose can come back after it wears off",
        "cuanto tarda en hacer efecto la naloxona? lei que una sobredosis puede volver",
    ],
)
def test_a_calm_question_with_its_background_does_not_page(text: str) -> None:
    """How to raise it with someone, what a leaflet warns of, or what the writer read or feels
    now and then, asked calmly, is answered as a question."""
    assessment, why = assess_rules(text)
    assert assessment.signal is None, text
    assert why == "question"


@pytest.mark.parametrize(
    "text",
    [
        "how long does narcan last? i heard it wears off and hes blue again right now",
        "what should i watch for? i want to die tonight",
        "is it normal? sometimes i think everyone would be better off without me",
    ],
)
def test_a_question_beside_a_report_or_a_wish_to_die_still_pages(text: str) -> None:
    """Background quiets only what is read or comes now and then; a report or a wish stands."""
    assert assess_rules(text)[0].signal is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "me pase con las empanadas en la fiesta jaja estoy llenisimo",
        "nos pasamos con la pizza",
    ],
)
def test_too_much_food_is_no_overdose(text: str) -> None:
    """ "Me pasé con" a dish is a figure of speech; "me pasé con" pills is still an overdose."""
    assert assess_rules(text)[0].signal is None, text
    assert _signal_category("me pase con las pastillas y me siento muy mal") is (
        CrisisCategory.OVERDOSE
    )


@pytest.mark.parametrize(
    "text",
    [
        "gonna kill my sister for taking my charger lol",
        "this commute is going to kill me one day",
        "la final estuvo de infarto, no me quedan unas",
        "me pase de parada otra vez por ir viendo el celular",
        "on the anniversary of my cousins overdose we light a candle at home",
        "manana vamos a visitar su tumba, ya son tres anos sin mi hermano",
    ],
)
def test_idioms_a_missed_stop_and_an_anniversary_stay_quiet(text: str) -> None:
    """Killing someone over leftovers, a thrilling match, a missed bus stop or a grave visited
    on an anniversary are no crisis told now."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "im going to kill him for what he did to my sister",
        "me pase de pastillas y no puedo respirar",
    ],
)
def test_a_threat_with_its_reason_and_too_many_pills_still_raise_a_signal(text: str) -> None:
    """The exceptions are narrow: a grievance is not a trifle, and pills are not a bus stop."""
    assert assess_rules(text)[0].signal is not None, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("found a rig and some foil in my nephews backpack", CrisisCategory.RELAPSE_DANGER),
        ("encontre una jeringa en el cuarto de mi hermano", CrisisCategory.RELAPSE_DANGER),
        (
            "my sister stopped answering yesterday, she was in a bad place last time we talked",
            CrisisCategory.SUICIDE,
        ),
        ("mi prima lleva dos dias sin responder y se oia muy mal", CrisisCategory.SUICIDE),
        (
            "had my injection at the clinic and my tongue is swelling, hard to breathe",
            CrisisCategory.MEDICAL_EMERGENCY,
        ),
        ("me salieron ronchas y siento la garganta cerrando", CrisisCategory.MEDICAL_EMERGENCY),
    ],
)
def test_paraphernalia_found_silence_after_a_bad_way_and_a_swelling_throat(
    text: str, category: CrisisCategory
) -> None:
    """A relative's works found, someone last in a bad way who has gone silent, and an
    allergic swelling of the throat each raise a signal of their kind."""
    assert _signal_category(text) is category, text


@pytest.mark.parametrize(
    "text",
    [
        "found an old spoon from my using days in a box and threw it out",
        "my throat is swollen from this cold, tea with honey all day",
        "she wasnt answering because she was at work, all good",
    ],
)
def test_an_old_spoon_a_cold_and_a_busy_friend_stay_quiet(text: str) -> None:
    """The same words with nothing found of someone else's, no breathing trouble, no worry."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("the rig is loaded and ive been clean since june. give me one reason not to", None),
        ("tengo una jeringa lista, llevo meses limpio. dame una razon para no", None),
        ("if he touches my sister again im putting a bullet in him", CrisisCategory.HARM_TO_OTHERS),
        ("le voy a meter un balazo a ese tipo si vuelve", CrisisCategory.HARM_TO_OTHERS),
        (
            "my forearm is red and full of pus where i used to inject, and im shivering",
            CrisisCategory.MEDICAL_EMERGENCY,
        ),
        ("tengo el brazo inflamado donde me picaba y me duele mucho", None),
        (
            "he cant keep anything down, 4 days into withdrawal and getting weaker",
            CrisisCategory.MEDICAL_EMERGENCY,
        ),
        ("mi mama no retiene ni el agua desde hace tres dias, esta bien debil", None),
        ("tengo unas ganas tremendas de consumir y estoy sola", CrisisCategory.RELAPSE_DANGER),
        ("linking up with my old plug after work, pretty sure its fent", None),
    ],
)
def test_a_ready_needle_a_bullet_an_infected_site_and_days_without_water(
    text: str, category: CrisisCategory | None
) -> None:
    """A needle ready with lost tolerance and a plea to be talked out of it, a bullet meant
    for someone, an injection site gone bad, days of keeping nothing down in withdrawal, and
    a strong craving told alone each raise a signal (of the kind given, where one is)."""
    _assert_signal(text, category)


@pytest.mark.parametrize(
    "text",
    [
        "my knee is swollen where i hit it on the table",
        "tengo unas ganas horribles de ver a mis hijos",
        "tell me why i should keep going to group, honestly",
    ],
)
def test_a_bruise_a_longing_and_a_plain_why_stay_quiet(text: str) -> None:
    """A swelling from a knock, "ganas" of something harmless and an ordinary "tell me why"
    raise nothing."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("my cousin is overdosing in the bathroom, does anyone have narcan??", C.OVERDOSE),
        ("creo que mi vecino se esta sobredosando, alguien tiene naloxona?", C.OVERDOSE),
        ("idk how many i swallowed honestly", C.OVERDOSE),
        ("no se cuantas me tome la verdad", C.OVERDOSE),
        ("are my fingertips supposed to look kinda bluish? just sleepy otherwise", C.OVERDOSE),
        ("ando con la cuchilla en la mano, no aguanto", C.SELF_HARM),
        ("i need to cut rn, nothing else works", C.SELF_HARM),
        ("skipped my vivitrol shot this month and got a number from a dude at the shelter", None),
    ],
)
def test_an_overdose_told_now_an_unknown_amount_blue_fingers_a_blade_a_skipped_blocker(
    text: str, category: CrisisCategory | None
) -> None:
    """An overdose happening now asked about, not knowing how many were taken, fingers going
    bluish, a blade held or a need to cut, a blocker skipped beside a dealer's number: each
    raises a signal (of the kind given, where one is), never a calm question."""
    _assert_signal(text, category)


@pytest.mark.parametrize(
    "text",
    [
        "what are the signs someone is overdosing vs just really high?",
        "the whole office is overdosing on pumpkin spice this week",
        "five years since my brother overdosed, we planted a tree for him today",
        "hoy se cumplen dos anos desde mi sobredosis y estoy limpio",
        "my uncle od'd back in 2016 and survived, now he runs a recovery house",
        "back when i was using they hit me with narcan twice in one night. glad im alive",
        "was suicidal a lot in my twenties, in a much better place now",
        "the paper says overdose deaths went down again this year",
        "signed up for the suicide prevention walk with my group",
        "bad dream about using last night, woke up fine",
        "my nephew nearly gave me a heart attack hiding behind the door",
        "me muero de la risa con este grupo, literal",
        "este partido me va a matar del coraje",
        "i could kill my roommate for finishing the coffee lol",
        "walked past the corner where i used to cop and kept going. proud of myself",
    ],
)
def test_memories_news_dreams_idioms_and_a_pull_resisted_stay_quiet(text: str) -> None:
    """A general question about the signs, a figure of speech, an anniversary, a survival told
    after a year, news figures, a prevention walk, a dream, laughter, a match, and a walk past
    the corner raise nothing."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    "text",
    [
        "two years since my overdose but tonight im thinking of doing the same amount again",
        "drove past my dealers house and didnt stop, but im going back there tonight",
        "i was suicidal back then and survived, but its back and i have a plan tonight",
    ],
)
def test_a_memory_or_a_pull_resisted_with_a_but_still_raises_a_signal(text: str) -> None:
    """A "but" after the memory or the pull resisted undoes it: what follows is told now."""
    assert assess_rules(text)[0].signal is not None, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("sliced my forearm open with a razor, it wont stop bleeding", None),
        ("me abri las venas con una navaja, hay mucha sangre", None),
        ("mi hermano durmio en la tina, estaba bien ido cuando lo saque, anoche se drogo", None),
        ("creo que me zarpe con lo de anoche, todo se siente lejos", C.OVERDOSE),
        ("took one of those online bars with my methadone, feel like im underwater", C.OVERDOSE),
        ("primera vez que me meto desde que sali, mi tolerancia bajo, me siento pesado", None),
        ("my dad's smile went crooked on one side and he cant find his words", None),
        ("tengo la vivitrol pero me voy a meter un monton para sentir algo", C.RELAPSE_DANGER),
        ("idk if i took my methadone so i took it again anyway lol", C.OVERDOSE),
        ("one of my strips is missing and the baby was on the floor with my bag", C.OVERDOSE),
    ],
)
def test_an_opened_wrist_a_tub_an_argentine_overdo_and_a_missing_strip(
    text: str, category: CrisisCategory | None
) -> None:
    """A wrist opened, someone asleep in a tub after using, "me zarpe", a pill bought online
    and an underwater feeling, a first use since tolerance dropped, a crooked smile, the
    blocker beaten, a dose retaken after forgetting, a strip missing near a baby: each raises
    a signal (of the kind given, where one is)."""
    _assert_signal(text, category)


@pytest.mark.parametrize(
    "text",
    [
        "if someone takes xanax with methadone can they still die from it",
        "i swear ill kill my sister if she takes my charger again lol",
        "mi mama dice que la voy a matar de un susto con la moto",
        "always thought id be dead by 25, now im 27 and 2 yrs clean",
        "hoy se cumplen tres anos de que mi primo murio por sobredosis, le llevamos flores",
        "my brother shared his story about his overdose at group, it was powerful",
        "saw a tiktok about narcan, ordered some for my car",
        "hoy vi a mi antiguo dealer, le dije que no y segui caminando",
    ],
)
def test_a_question_about_someone_trifles_anniversaries_and_stories_stay_quiet(
    text: str,
) -> None:
    """A supposition asked about someone, a threat over a charger or a scare, a death once
    expected, an anniversary, a story shared in group, a video, a dealer refused: nothing."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("is it normal to be this drowsy after my methadone? my breathing feels really slow", None),
        ("es normal que uno respire tan despacio despues de la dosis? me siento mareado", None),
        ("way heavier than usual after dosing today, is it normal to feel this sleepy", C.OVERDOSE),
        ("is it bad if my husband is super hard to wake after his pain pills", C.OVERDOSE),
        ("took all my take homes at once cause i felt awful, kinda floaty now", C.OVERDOSE),
        ("circled the block where my plug stays like four times, cash in my pocket", None),
    ],
)
def test_is_it_normal_about_now_take_homes_at_once_and_circling_the_block(
    text: str, category: CrisisCategory | None
) -> None:
    """ "Is it normal to be this sleepy" with slow breathing, "is it bad if" someone is hard to
    wake, take-home doses taken at once, and the dealer's block circled with cash in hand
    raise a signal (of the kind given, where one is)."""
    _assert_signal(text, category)


@pytest.mark.parametrize(
    "text",
    [
        "shared my story at the speaker meeting, the part about my overdose in the car",
        "a lady at the bus stop od'd last week, the ambulance took her and she made it",
        "the dose is holding me well since the increase",
        "drove past my old spot today and felt nothing, progress",
        "ganas de ahorcar a mi jefe jaja, pero todo bien",
        "whats the number for the crisis line, want to save it in my phone",
        "that overdose scene in the show was intense but good",
        "is it normal to feel sleepy the first week on suboxone?",
    ],
)
def test_stories_a_dose_that_holds_a_spot_passed_and_a_hotline_saved_stay_quiet(
    text: str,
) -> None:
    """A story told at a meeting, a stranger saved, a dose that holds, a spot passed without
    feeling, a boss idiom, a hotline number to save, a scene in a show, and a general "is it
    normal" raise no signal."""
    assert assess_rules(text)[0].signal is None, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("la nena mordio un pedacito de mi tira de suboxone y esta muy dormida", C.OVERDOSE),
        ("if i dont reply by noon can somebody check on me, took a bunch earlier", C.OVERDOSE),
        ("the stuff i copped was not what he said it was, everything in slow motion", C.OVERDOSE),
        ("is it normal to still be this drowsy hours after dosing? took a lil extra", C.OVERDOSE),
        ("mixed my sleeping pills with my methadone, cant tell if im just tired", C.OVERDOSE),
        ("my uncle fell asleep with his face in his plate after his dose", C.OVERDOSE),
        ("mi tia tomo unas pastillitas y anda bien dormida, cuesta despertarla", C.OVERDOSE),
        ("got my paycheck today, first one since i got out, you know what that means", None),
    ],
)
def test_a_nena_a_check_on_me_the_wrong_stuff_and_payday_after_jail(
    text: str, category: CrisisCategory | None
) -> None:
    """A small child with a piece of a strip, "check on me" after taking a lot, a drug that
    was not what was said beside slow motion, "this drowsy" after a little extra, sleeping
    pills with methadone, a face in the plate, "pastillitas", and a first paycheck after jail
    raise a signal (of the kind given, where one is)."""
    _assert_signal(text, category)


@pytest.mark.parametrize(
    "text",
    [
        "my therapist asked if i had thoughts of suicide and i said no, and i meant it",
        "hoy cumplo un ano sin consumir, gracias a todos",
        "the news said three overdoses downtown this week, stay safe",
        "ill shoot you a message after group",
        "que hago si empiezo el suboxone y me da precipitated withdrawal?",
    ],
)
def test_a_screening_answered_no_a_milestone_news_and_a_text_stay_quiet(text: str) -> None:
    """A screening question answered no, a year without using, news of overdoses, "shoot you a
    message" and a question about precipitated withdrawal raise nothing."""
    assert assess_rules(text)[0].signal is None, text


def test_a_screening_answered_no_but_with_a_but_still_raises_a_signal() -> None:
    """ "I said no, but i lied" undoes the screening: what follows is told now."""
    text = "my counselor asked if i had thoughts of suicide and i said no but i lied, i do"
    assert assess_rules(text)[0].signal is not None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("is it bad if my brothers fingertips look dusky? hes been asleep since lunch", None),
        (
            "es normal que mi tio ronque tan fuerte despues de sus pastillas? no despierta bien",
            None,
        ),
        ("mi hermana dice que pronto ya no nos vamos a tener que preocupar por ella", C.SUICIDE),
        ("tengo la jeringa lista, llevo un ano limpio, no me vayan a detener", C.RELAPSE_DANGER),
        (
            "is it normal for her to be this hard to wake after her pills? she keeps dozing",
            None,
        ),
        ("roommate is on the floor and didnt answer when i knocked and called his name", None),
    ],
)
def test_dusky_fingertips_a_hard_snore_a_veiled_goodbye_and_no_answer_when_called(
    text: str, category: CrisisCategory | None
) -> None:
    """Dusky fingertips, a hard snore after pills asked about, "ya no se van a tener que
    preocupar por ella", a ready syringe after a year clean with "no me detengan", someone
    this hard to wake, and no answer when called each raise a signal."""
    _assert_signal(text, category)


@pytest.mark.parametrize(
    "text",
    [
        "are people on methadone at higher risk of suicide? writing a paper for my class",
        "if my kid was self harming what signs should i look for",
        "i overdosed 4 years ago today, grateful to be here, getting my chip tonight",
        "we ran an overdose drill at the house and i played the patient lol",
        "mi hija cumple un ano sin consumir, estoy orgullosa",
        "my dad od'd when i was 15, i talk about it in therapy now",
        "yawning all day cause i worked a double, not from anything",
        "not withdrawal, just the flu going around",
        "hate this haircut i want to die lol not really",
        "the eagles are gonna give me a heart attack",
        "overdosed on tamales at christmas again",
    ],
)
def test_a_paper_a_drill_a_chip_and_what_the_writer_explains_stay_quiet(text: str) -> None:
    """A question for a paper, signs to look for, an anniversary with a chip, a drill, a
    child's year clean, a parent's overdose talked about in therapy, a sign explained by the
    writer, "not really", a team and tamales: nothing."""
    assert assess_rules(text)[0].signal is None, text


def test_an_explanation_followed_by_a_but_still_raises_a_signal() -> None:
    """ "Not from anything, but i also took extra" undoes the explanation."""
    text = "nodding off cause i worked a double, not from anything, but i took extra pills"
    assert assess_rules(text)[0].signal is not None


@pytest.mark.parametrize(
    "text",
    [
        "im not suicidal or anything just want to go to sleep and never wake up",
        "not suicidal just tired of living honestly",
        "my counselor asked if i had thoughts of suicide and i said no and im going to kill myself",
        "2 years since my overdose doing good these days tonight im going to kill myself",
        "nodding off not from anything i just want to die",
        "how am i? not really ok, i want to die",
    ],
)
def test_a_framing_of_the_writers_own_never_explains_away_a_wish_to_die_told_after_it(
    text: str,
) -> None:
    """ "Not suicidal or anything", a screening answered no, recovery told, a sign explained or
    "not really" quiet only what they frame: a wish to die told after them, in the same breath,
    is read by the rules themselves, in the clear tier."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    assert signal.tier is Tier.CLEAR, text
