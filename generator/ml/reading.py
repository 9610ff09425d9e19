"""What a careful reader catches first in a generated record. Plain Python: no Django, no torch.

Blind readers picked out served texts by, in order: invented or misspelt words; slips a catalogue
editor would never let through ("an ruthless", "the the", "in India in India"); real titles and
people in the wrong roles; and a title or text whose kind contradicts the record. `problem` names
the first one a record shows, so batches, pitches and evaluations hold it, and the evaluation
reports the same rates for real descriptions beside the served ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from generator.ml.format import Record
from generator.ml.text import normalise, tokens

INVENTED_WORD = "invented_word"
ARTICLE = "article"
DOUBLED_WORD = "doubled_word"
REPEATED_PHRASE = "repeated_phrase"
EXTENDS_REAL_TITLE = "extends_real_title"
REAL_PERSON = "real_person"
WRONG_KIND = "wrong_kind"
# The mechanical slips, in the order they are looked for (invented words come before them).
SLIPS = (ARTICLE, DOUBLED_WORD, REPEATED_PHRASE, EXTENDS_REAL_TITLE, REAL_PERSON, WRONG_KIND)
PROBLEMS = (INVENTED_WORD, *SLIPS)

# Words as a reader sees them: letters (any script) joined by apostrophes; hyphens split words.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_ARTICLE = re.compile(r"(?<![\w'’])([Aa]n?) ([^\W\d_][\w'’-]*)")
_DOUBLED = re.compile(r"\b([a-z]+) \1\b")
_REPEATED = re.compile(r"\b(\w+,? \w+) \1\b", re.IGNORECASE)
# Doubled on purpose in good English ("what it had had", "so that that").
_FINE_DOUBLES = frozenset({"had", "that"})
# Words that say a record is the other kind: in its text, and (narrower) in its title.
_TEXT_SAYS = {
    "movie": re.compile(
        r"\b(docuseries|miniseries|sitcom|seasons?|episodes|this show|this(?: [\w-]+)? series)\b",
        re.I,
    ),
    "tv": re.compile(r"\b(this (?:film|movie)|feature film|biopic)\b", re.I),
}
_TITLE_SAYS = {
    "movie": re.compile(r"\b(series|docuseries|miniseries|(?:season|episode) \d+)\b", re.I),
    "tv": re.compile(r"\b(movie|film)\b", re.I),
}
_POSSESSIVE = ("'s", "’s", "'", "’")
# A real title this short ("Love", "Up") begins too many invented ones to count as extended.
MIN_EXTENDED_TITLE_WORDS = 2
MIN_LONG_TITLE_WORDS = 3  # a real title this long begins no invented one by chance
_SEQUEL_MARKS = frozenset(":-–—(")
MAX_NAME_WORDS = 4


@dataclass(frozen=True)
class Lexicon:
    """The words of English a reader knows, lowercase."""

    words: frozenset[str]

    @classmethod
    def english(cls) -> Lexicon:
        """wordfreq's large English list (321,000 words), read once per process."""
        return _english()

    def knows(self, word: str) -> bool:
        lower = word.lower()
        if lower in self.words or lower.replace("’", "'") in self.words:
            return True
        stem = next((lower[: -len(end)] for end in _POSSESSIVE if lower.endswith(end)), None)
        return stem is not None and stem in self.words


@cache
def _english() -> Lexicon:
    from wordfreq import get_frequency_dict

    return Lexicon(frozenset(get_frequency_dict("en", wordlist="large")))


@dataclass(frozen=True)
class Facts:
    """What the training data says is real: titles and the people in its cast and director
    columns, folded as generator.ml.text folds them."""

    titles: frozenset[str] = frozenset()
    people: frozenset[str] = frozenset()

    @classmethod
    def from_columns(cls, titles: Iterable[str], credits: Iterable[str]) -> Facts:
        """From training titles and cast/director cells (comma-separated names)."""
        people = {
            folded
            for cell in credits
            for name in cell.split(",")
            if len((folded := normalise(name)).split()) >= 2
        }
        return cls(frozenset(filter(None, map(normalise, titles))), frozenset(people))


def invented_words(text: str, lexicon: Lexicon) -> list[str]:
    """Lowercase words no English dictionary lists (capitalised ones may be invented names)."""
    return [
        word
        for match in _WORD.finditer(text)
        if (word := match.group()).islower() and not lexicon.knows(word)
    ]


def slips(record: Record, facts: Facts) -> list[str]:
    """The mechanical slips of `record`, each named once, in SLIPS order."""
    text = record.description
    found = []
    if any(_wrong_article(article, word) for article, word in _ARTICLE.findall(text)):
        found.append(ARTICLE)
    if any(word not in _FINE_DOUBLES for word in _DOUBLED.findall(text)):
        found.append(DOUBLED_WORD)
    if _REPEATED.search(text):
        found.append(REPEATED_PHRASE)
    if extends_real_title(record.title, facts):
        found.append(EXTENDS_REAL_TITLE)
    if real_people(record.title, facts) or real_people(text, facts):
        found.append(REAL_PERSON)
    if _says_other_kind(record):
        found.append(WRONG_KIND)
    return found


def problem(record: Record, lexicon: Lexicon, facts: Facts) -> str | None:
    """The first thing a reader would catch in `record` (PROBLEMS order), or None."""
    if invented_words(record.description, lexicon) or invented_words(record.title, lexicon):
        return INVENTED_WORD
    found = slips(record, facts)
    return found[0] if found else None


def extends_real_title(title: str, facts: Facts) -> bool:
    """A real title with more after it, told as a sequel or an episode of it: after a colon, a
    dash or a number ("Ip Man 3: New Homecoming"), or a real title of three words or more. A short
    real title that merely begins a new one ("The Dead" in "The Dead Man") does not count."""
    found = tokens(title)
    words = found.words
    for length in range(MIN_EXTENDED_TITLE_WORDS, len(words)):
        if " ".join(words[:length]) not in facts.titles:
            continue
        rest = found.text[found.offsets[length - 1][1] :].lstrip()
        if length >= MIN_LONG_TITLE_WORDS or rest[:1] in _SEQUEL_MARKS or rest[:1].isdigit():
            return True
    return False


def real_people(text: str, facts: Facts) -> list[str]:
    """Full names of real cast members and directors written capitalised in `text`."""
    found = tokens(text)
    capitalised = [found.text[start].isupper() for start, _end in found.offsets]
    names = []
    for start in range(len(found.words)):
        for end in range(start + 2, min(start + MAX_NAME_WORDS, len(found.words)) + 1):
            if not all(capitalised[start:end]):
                break
            name = " ".join(found.words[start:end])
            if name in facts.people:
                names.append(name)
    return names


def _wrong_article(article: str, word: str) -> bool:
    """ "an" before a consonant or "a" before a vowel, for lowercase words whose sound their first
    letter tells (u-, h- and o-words like "unique", "hour" or "one" are left alone)."""
    if not word.islower():
        return False  # names and acronyms: "an FBI agent", "a Ouija board"
    first = word[0]
    if article.lower() == "an":
        return first not in "aeiouh"
    if first == "e":
        return not word.startswith(("eu", "ewe"))
    return first in "ai" or (first == "o" and not word.startswith(("one", "once")))


def _says_other_kind(record: Record) -> bool:
    if record.kind not in _TEXT_SAYS:
        return False
    text, title = _TEXT_SAYS[record.kind], _TITLE_SAYS[record.kind]
    return bool(text.search(record.description) or title.search(record.title))
