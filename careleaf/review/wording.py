"""check's wording findings: long sentences and hard words in every piece of wording, and the readability
of every answer and intro against the targets in ``check.yaml``.

Each finding is at the line the sentence starts on, found in the file itself, so
an editor lands right on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from careleaf.content import model
from careleaf.content.catalog import Catalog
from careleaf.content.facts import FACT_GROUPS, SIDE_EFFECTS, URGENT_HELP
from careleaf.content.fields import describe_character, unseen_character
from careleaf.content.load import Document, KeyPath
from careleaf.content.settings import Limits
from careleaf.errors import display_path
from careleaf.project import read_own
from careleaf.review import readability
from careleaf.review.findings import Finding, finding_at


@dataclass(frozen=True)
class SectionScore:
    """The readability of one answer or intro."""

    file: str
    line: int
    section: str
    score: readability.Score

    def as_json(self) -> dict[str, Any]:
        counts = {"file": self.file, "line": self.line, "section": self.section, "lang": self.score.lang,
                  "words": self.score.words, "sentences": self.score.sentences}
        scores = {k: getattr(self.score, k) for k in ("reading_ease", "grade", "atesman")
                  if getattr(self.score, k) is not None}
        return {**counts, **scores}


def jargon_for(settings: model.CheckSettings, lang: str) -> dict[str, str]:
    """The hard words of a language, each with the plain word to say instead."""
    checks = getattr(settings, lang, None) if lang in ("en", "tr") else None
    return {entry.word: entry.say for entry in checks.jargon} if checks else {}


@dataclass(frozen=True)
class Wording:
    """One piece of wording in one file: a question, an answer, a side effect's advice…"""

    doc: Document
    where: KeyPath
    lang: str
    text: str
    label: str | None = None   # set for answers and intros, which are scored


def wording_findings(catalog: Catalog, settings: model.CheckSettings) -> tuple[list[Finding], list[SectionScore]]:
    """Long sentences and hard words in every piece of wording; scores for answers and intros."""
    found, scores = [], []
    locate = _Locator()
    for piece in pieces(catalog):
        found += _unseen(piece)
        sentences = readability.sentences(piece.text)
        for sentence, line in zip(sentences, locate.lines(piece, sentences)):
            found += _sentence_findings(piece, sentence, line, settings)
        scored = _scored(piece)
        if scored:
            scores.append(scored)
            found += _hard_to_read(scored, settings)
    return found, scores


def _scored(piece: Wording) -> SectionScore | None:
    score = readability.score(piece.text, piece.lang) if piece.label else None
    if score is None:
        return None
    line = piece.doc.problem(piece.where[:-1], "", at_key=True).line   # the section's (or leaflet's) name
    return SectionScore(display_path(piece.doc.path), line, piece.label, score)


def pieces(catalog: Catalog) -> Iterator[Wording]:
    """Every piece of wording in every language, treatments first, then shared."""
    for entry in catalog.treatments.values():
        for lang, wording in entry.wording.items():
            yield from _treatment_pieces(entry.id, wording, entry.wording_docs[lang], lang)
    for lang, (shared, doc) in catalog.shared.items():
        yield from _section_pieces("shared", shared.sections, doc, lang)
        yield from _urgent_help_pieces(shared.urgent_help, doc, lang)


def _treatment_pieces(treatment: str, wording: model.TreatmentWording, doc: Document, lang: str) -> Iterator[Wording]:
    yield Wording(doc, ("name",), lang, wording.name)
    for kind, leaflet in wording.leaflets.items():
        yield Wording(doc, ("leaflets", kind, "title"), lang, leaflet.title)
        if leaflet.intro:
            yield Wording(doc, ("leaflets", kind, "intro"), lang, leaflet.intro, f"{treatment}/{kind} intro")
    yield from _section_pieces(treatment, wording.sections, doc, lang)
    for group in FACT_GROUPS:
        for name, said in getattr(wording, group.key).items():
            if group is not SIDE_EFFECTS:
                yield Wording(doc, (group.key, name), lang, said)
                continue
            yield Wording(doc, (group.key, name, "effect"), lang, said.effect)
            if said.what_to_do:     # an urgent one has none: its row points to the urgent-help box
                yield Wording(doc, (group.key, name, "what_to_do"), lang, said.what_to_do)
    yield from _urgent_help_pieces(wording.urgent_help, doc, lang)


def _urgent_help_pieces(box: model.UrgentHelp | model.TreatmentUrgentHelp | None, doc: Document,
                        lang: str) -> Iterator[Wording]:
    """The signs and the action of a file's urgent-help wording (a treatment's own may leave the action out)."""
    if box is None:
        return
    for index, symptom in enumerate(box.symptoms):
        yield Wording(doc, (URGENT_HELP.key, "symptoms", index), lang, symptom)
    if box.action:
        yield Wording(doc, (URGENT_HELP.key, "action"), lang, box.action)


def _section_pieces(owner: str, sections: dict[str, model.Section], doc: Document, lang: str) -> Iterator[Wording]:
    for name, section in sections.items():
        yield Wording(doc, ("sections", name, "question"), lang, section.question)
        yield Wording(doc, ("sections", name, "answer"), lang, section.answer, f"{owner}/{name}")


def _sentence_findings(piece: Wording, sentence: str, line: int, settings: model.CheckSettings) -> list[Finding]:
    said = []      # (code, message); the file's name is worked out only for a finding (it resolves the path)
    count = len(readability.words(sentence))
    if count > settings.max_sentence_words:
        said.append(("long-sentence", f"this sentence has {count} words (keep to {settings.max_sentence_words} or "
                                      f"fewer): \"{_start(sentence)}\"; split it in two"))
    for written, plain in readability.find_jargon(sentence, jargon_for(settings, piece.lang)):
        said.append(("jargon", f"'{written}': say '{plain}'"))
    file = display_path(piece.doc.path) if said else ""
    return [Finding(file, line, "warning", code, message) for code, message in said]


def _unseen(piece: Wording) -> list[Finding]:
    """Prose may hold a direction mark on purpose (mixed Arabic and English); it is worth a look all the same,
    since it can print the figures beside it in another order. Numbers, addresses and links refuse them."""
    unseen = unseen_character(piece.text)
    if not unseen:
        return []
    return [finding_at(piece.doc, piece.where, "warning", "invisible-character",
                       f"contains {describe_character(unseen)}, an invisible character that can change the order "
                       "in which the words and figures around it print; delete it unless it is meant")]


def _start(sentence: str, count: int = 8) -> str:
    words = sentence.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def _hard_to_read(scored: SectionScore, settings: model.CheckSettings) -> list[Finding]:
    score = scored.score
    over = []
    if score.reading_ease is not None and score.reading_ease < settings.en.min_reading_ease:
        over.append(f"Flesch Reading Ease {score.reading_ease:g} (aim for {settings.en.min_reading_ease} or more)")
    if score.grade is not None and score.grade > settings.en.max_grade:
        over.append(f"grade {score.grade:g} (aim for {settings.en.max_grade} or lower)")
    if score.atesman is not None and score.atesman < settings.tr.min_atesman:
        over.append(f"Ateşman score {score.atesman:g} (aim for {settings.tr.min_atesman} or more)")
    if not over:
        return []
    return [Finding(scored.file, scored.line, "warning", "hard-to-read",
                    f"'{scored.section}' is hard to read: {' and '.join(over)}. "
                    "Use shorter sentences and everyday words")]


SEARCHED_LINES = 200     # how far below the one before a sentence is looked for
SEARCHED_CHARACTERS = 20_000    # and how many characters, beyond four times its own length


class _Locator:
    """The line a sentence starts on, found in the file itself, so an editor lands right on it."""

    def __init__(self) -> None:
        self.files: dict[Path, list[str]] = {}

    def lines(self, piece: Wording, sentences: list[str]) -> list[int]:
        """Searched in order from the value's first line, each sentence after the one before: on a long line
        holding many sentences, from where the one before was found, so each character is read about once."""
        text = self._text(piece.doc.path)
        place = (piece.doc.problem(piece.where, "").line, 0)
        found = []
        for sentence in sentences:
            place = self._find(text, place, sentence)
            found.append(place[0])
        return found

    def _text(self, path: Path) -> list[str]:
        if path not in self.files:
            # A file the catalog has read already, within its limit; read again as any project file is.
            data = read_own(path, limit=Limits().asset_bytes)
            self.files[path] = data.decode("utf-8-sig", "replace").splitlines()
        return self.files[path]

    @staticmethod
    def _find(lines: list[str], start: tuple[int, int], sentence: str) -> tuple[int, int]:
        # Words may be split by '**' in the file, so allow anything but letters between them;
        # a sentence broken across lines is found by fewer of its first words.
        # The search reads a bounded stretch, so a sentence that is not in the file as written (a reference to a
        # fact reads as its figure) costs no more than one that is.
        words = readability.words(sentence)
        reach = SEARCHED_CHARACTERS + 4 * len(sentence)
        first_line, first_column = start
        for count in (3, 2, 1):
            # A word's start is enough to find it (compiling a whole pasted run of 300,000 digits is not).
            pattern = re.compile(r"\W+".join(re.escape(w[:readability.LONGEST_WORD]) for w in words[:count]))
            left = reach
            for number in range(first_line, min(first_line + SEARCHED_LINES, len(lines)) + 1):
                begin = first_column if number == first_line else 0
                end = min(len(lines[number - 1]), begin + left)
                found = pattern.search(lines[number - 1], begin, end)
                if found:
                    return number, found.end()
                left -= end - begin + 1
                if left <= 0:
                    break
        return start

