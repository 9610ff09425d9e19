"""An invented training corpus for the overfit tests; test_overfit_corpus_is_fair checks it.

Thirty made-up titles in the style of streaming-catalogue blurbs, with the stock phrasing real
ones share ("In this documentary,", "a young woman", "must find a way"), and original texts that
share that phrasing without copying any of them. The real data set never enters the repository.
"""

from collections.abc import Iterator

import pytest

from generator.ml.overfit import Detector, Document

TRAINING = [
    Document(
        "f1",
        "The Lighthouse Accountant",
        "A lighthouse keeper with a gift for numbers audits the ghosts who haunt his island, "
        "and finds the books of the dead never balance.",
    ),
    Document(
        "f2",
        "Pickle Street Irregulars",
        "Four retirees run a detective agency out of a pickle shop in Leeds, solving crimes "
        "badly and arguing about brine.",
    ),
    Document(
        "f3",
        "Zero Gravity Bakery",
        "On a failing space station, a young baker must find a way to save the crew's morale, "
        "one floating cake at a time.",
    ),
    Document(
        "f4",
        "Salt and Sorrow",
        "In this documentary, the last salt miners of the Karvela valley recount a century of "
        "strikes, floods and stubborn pride.",
    ),
    Document(
        "f5",
        "The Ninth Violinist",
        "When her orchestra loses its conductor on the eve of a world tour, a young woman from "
        "the back row must lead ninety rivals to Vienna.",
    ),
    Document(
        "f6",
        "Borrowed Thunder",
        "A washed-up weatherman in rural Saskatchewan fakes a tornado warning to win back his "
        "audience, then has to live with the storm he summoned.",
    ),
    Document(
        "f7",
        "Nightshift at the Museum of Clocks",
        "Two security guards discover that the antique clocks they protect can rewind the last "
        "hour, and start fixing the worst mistakes of their lives.",
    ),
    Document(
        "f8",
        "Queen of the Ferry",
        "Captain Ottilie Brandt has run the Hamburg harbour ferry for thirty years, until a "
        "property developer buys the pier and declares war on her passengers.",
    ),
    Document(
        "f9",
        "Paper Lanterns",
        "Three estranged sisters return to their grandmother's village in Hoi An for her "
        "funeral and uncover the love letters she never sent.",
    ),
    Document(
        "f10",
        "The Quiet Goalkeeper",
        "A deaf goalkeeper from Cork fights his way onto the national team while hiding a "
        "gambling debt from the coach who believes in him.",
    ),
    Document(
        "f11",
        "Copper Moon",
        "In a mining town on Mars, a teenage mechanic and her robot dog stumble onto a "
        "conspiracy that reaches the colony's founding family.",
    ),
    Document(
        "f12",
        "Kitchen Confidential Seoul",
        "This reality series follows eight ambitious chefs competing for a place in the "
        "kitchen of Seoul's most feared restaurateur.",
    ),
    Document(
        "f13",
        "The Beekeeper's Ledger",
        "After inheriting a failing honey farm in Provence, a cynical London banker must "
        "decide whether to sell the land or save the hives.",
    ),
    Document(
        "f14",
        "Runaway Alphabet",
        "In this animated series, twenty-six mischievous letters escape from a children's book "
        "and cause chaos across the city of Lexicon.",
    ),
    Document(
        "f15",
        "Glass Harbour",
        "A detective with a fading memory reopens the case of a drowned fisherman and finds "
        "the whole harbour town lying to protect a secret.",
    ),
    Document(
        "f16",
        "Last Train to Tromsø",
        "Snowed in on an overnight train, a group of strangers realise that one of them is "
        "not who they claim to be, and that the driver has vanished.",
    ),
    Document(
        "f17",
        "The Marathon Monk",
        "In this documentary, a Buddhist monk from Kyoto attempts to run one thousand "
        "marathons in one thousand days across the mountains of Hiei.",
    ),
    Document(
        "f18",
        "Mothballs",
        "A grieving tailor in Buenos Aires opens a stranger's forgotten wardrobe and starts "
        "living the lives stitched into each suit.",
    ),
    Document(
        "f19",
        "Comedian Rhea Patel: Overbooked",
        "Comedian Rhea Patel riffs on airport lounges, wedding planners, her mother's group "
        "chat and more in this stand-up special filmed in Toronto.",
    ),
    Document(
        "f20",
        "The Orchard War",
        "Two feuding families in Normandy battle over a single apple tree that straddles "
        "their border, while their children fall in love.",
    ),
    Document(
        "f21",
        "Signal Lost",
        "When every phone in Lagos goes silent for a week, a radio host and a hacker race to "
        "find out who switched the city off and why.",
    ),
    Document(
        "f22",
        "Under the Glacier",
        "A team of climate scientists drilling into an Icelandic glacier pull up something "
        "frozen for ten thousand years that is still breathing.",
    ),
    Document(
        "f23",
        "The Gardener of Aleppo",
        "Years after the war destroyed his city, an elderly gardener replants the public park "
        "of Aleppo seed by seed with the help of local children.",
    ),
    Document(
        "f24",
        "Midnight Ramen",
        "A shy night-shift cook in Osaka feeds a parade of lonely regulars, each of whom "
        "brings a story that changes his recipe.",
    ),
    Document(
        "f25",
        "Hotel Vesuvius",
        "The staff of a crumbling Neapolitan hotel scramble to hide the building's collapse "
        "from a visiting inspector during the busiest week of summer.",
    ),
    Document(
        "f26",
        "Wild Card Wedding",
        "A professional poker player bets her fiance's family inheritance on a single hand "
        "the night before the wedding, and loses.",
    ),
    Document(
        "f27",
        "The Cartographer's Daughter",
        "Armed with her late father's unfinished maps, a young woman sets out across the "
        "Atacama desert to find the city he swore was real.",
    ),
    Document(
        "f28",
        "Little Big Band",
        "A group of fifth-graders in New Orleans form a jazz band to save their school's music "
        "room from being turned into a parking lot.",
    ),
    Document(
        "f29",
        "The Ice Cream Heist",
        "Three bored grandmothers in Minnesota plan the perfect robbery of the county fair's "
        "famous ice cream truck, with help from a retired getaway driver.",
    ),
    Document(
        "f30",
        "Frontier Radio",
        "This docuseries follows the volunteers who keep a tiny Alaskan radio station on the "
        "air through the longest, darkest winter on record.",
    ),
]

# Original texts: they share stock phrasing with the corpus but copy none of it.
ORIGINALS = [
    "In this documentary, veteran lighthouse keepers along the Breton coast describe the "
    "storms, shipwrecks and silences of a vanishing job.",
    "A young woman from a fishing village must find a way to pay off her father's debts "
    "before the harbour master seizes the family boat.",
    "When a blizzard traps a wedding party in a mountain lodge, the bride must find a way "
    "to keep two rival families from ruining the ceremony.",
    "This reality series follows six rookie firefighters through their first summer of "
    "wildfires in the hills of southern Portugal.",
    "In this stand-up special, comedian Marco Díaz takes on dating apps, his Catholic "
    "grandmother and the horrors of assembling flat-pack furniture.",
    "A young woman who inherits a run-down cinema in Glasgow teams up with its elderly "
    "projectionist to win back the neighbourhood.",
    "In this animated series, a curious octopus and her friends explore the coral reef and "
    "learn how to share, listen and be brave.",
    "After a bitter divorce, a retired judge moves to a small island off the coast of "
    "Maine and becomes the reluctant referee of its endless feuds.",
    "Two estranged brothers reunite to drive their father's vintage motorcycle across "
    "India, settling old scores along the way.",
    "A team of divers searching for a sunken treasure ship off the coast of Cuba discovers "
    "that another crew will stop at nothing to get there first.",
    "This docuseries follows the nurses of a rural hospital in Kenya as they care for "
    "their community through drought, floods and a measles outbreak.",
    "In a small town in Texas, a high school chemistry teacher coaches an unlikely robotics "
    "team all the way to the national finals.",
    "A detective haunted by an unsolved case returns to her hometown in Wales when a "
    "teenager disappears in the same woods twenty years later.",
    "An awkward teenager discovers that her grandmother's old typewriter writes tomorrow's "
    "headlines, and must decide which ones to stop.",
]


def build_detector() -> Detector:
    return Detector(TRAINING)


def text_of(key: str) -> str:
    return next(document.text for document in TRAINING if document.key == key)


def load_training_titles(documents: list[Document] | None = None) -> None:
    """Store the corpus as training titles (Django tests only)."""
    from titles.models import TrainingTitle

    TrainingTitle.objects.bulk_create(
        TrainingTitle(
            show_id=d.key,
            kind="movie",
            title=d.title,
            description=d.text,
            source=TrainingTitle.Source.NETFLIX_CSV,
        )
        for d in (TRAINING if documents is None else documents)
    )


@pytest.fixture
def fresh_training_detector() -> Iterator[None]:
    """The per-process training detector cache, empty before and after the test."""
    from generator import overfit_check

    overfit_check.reset()
    yield
    overfit_check.reset()
