"""Invented training rows: the real data set never goes into the repository."""

from generator.ml.dataset import NETFLIX_COLUMNS

# The header itself lives in generator/ml/dataset.py; test_overfit_cli_contract imports this name.
NETFLIX_HEADER = list(NETFLIX_COLUMNS)

SAMPLE_ROWS = [
    [
        "x1",
        "Movie",
        "The Lighthouse Accountant",
        "Ann Doe",
        "A, B",
        "Norway",
        "25-Sep-21",
        "2019",
        "PG-13",
        "96 min",
        "Dramas, Independent Movies",
        "A lighthouse keeper with a gift for numbers audits the ghosts who haunt his island.",
    ],
    [
        "x2",
        "TV Show",
        "Pickle Street Irregulars",
        "",
        "",
        "United Kingdom",
        "1-Oct-20",
        "2020",
        "TV-14",
        "2 Seasons",
        "British TV Shows, TV Comedies",
        'Four retirees run a detective agency from a pickle shop, "solving" crimes, badly.',
    ],
    [
        "x3",
        "Movie",
        "Zero Gravity Bakery",
        "Jo Roe",
        "",
        "",
        " May 31, 2015",
        "2015",
        "TV-G",
        "88 min",
        "Children & Family Movies, Comedies",
        "On a space station, a young baker must save the crew's morale, one floating cake "
        "at a time.",
    ],
]
