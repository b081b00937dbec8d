"""Catalogue search: find a published procedure by name, code, field or agency, ignoring diacritics and typos.

Citizens type without diacritics and make typos: "giay phep xay dugn" and "xay dng" must still find
"Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ". Every text is folded (:func:`app.common.text.fold`:
lower case, no diacritics, đ → d) and split into words; a query word matches a word of a procedure

- exactly (score 1.0);
- as a prefix of it, when it has at least 2 letters or is the query's last word (0.75): "dang k" finds "đăng ký";
- with typos (0.6 for one edit, 0.4 for two), measured as optimal string alignment distance (Damerau–Levenshtein
  where a transposition of two neighbours is one edit; ``rapidfuzz``): one edit for words of 4 letters or more,
  two for 8 or more, and one for 3-letter words against longer words only (a dropped letter: "dng" → "dung").
  Words holding digits (procedure codes, numbers) never match with typos: "1.001193" must not find "1.001192".

Where the word is found weighs too: the name and the code 1.0, the field 0.6, the agency 0.4 (agency names
match exactly or by prefix only: "tich" must not find every procedure of a "tỉnh"). A procedure's score
is the sum over the query words of each word's best match, plus a bonus when the whole folded query is in its name
(more when the name starts with it). Procedures matching *every* query word are returned, best first; when none
does, those matching at least a third of them are returned instead, most words matched first, and
:attr:`SearchResult.approximate` says so. Ties go to the shorter name.

The index is built in-process from the published procedures (active, with a current version) and kept per
application. It is rebuilt when this process commits a change to a procedure, a version or a unit (SQLAlchemy
session events), and at the latest :data:`MAX_AGE` seconds after it was built, which covers changes made by other
processes (other web workers, the CLI). A catalogue has at most a few thousand procedures: building takes one query
(columns only, no ORM objects) and about 0.2 s of CPU for 3,000 procedures; a search scans the vocabulary (distinct
words, with ``rapidfuzz`` for typos), not the procedures, in about 10 ms.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from flask import current_app
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.common.text import fold

__all__ = ["MAX_AGE", "CatalogIndex", "Entry", "Facet", "SearchResult", "catalog_index", "fast_fold", "invalidate",
           "query_words", "search", "tokens"]

#: seconds an index is used before it is rebuilt even without a change seen in this process
MAX_AGE = 60.0
#: weight of a match by where it is found
WEIGHTS = {"name": 1.0, "code": 1.0, "field": 0.6, "unit": 0.4}
EXACT, PREFIX, TYPO1, TYPO2 = 1.0, 0.75, 0.6, 0.4
#: longest query (characters) and most words considered: a search box, not a document
MAX_QUERY = 200
MAX_WORDS = 12

_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")
#: "ký" and "kí", "lý" and "lí" are the same syllable: a final y after consonants reads as i
_FINAL_Y = re.compile(r"^([bcdghklmnpqrstvx]+)y$")
#: words that say nothing about which procedure is meant, dropped when something else is asked
_GENERIC = re.compile(r"^(?:thu tuc hanh chinh|thu tuc|tthc)\b\s*")


#: precomposed Latin letters (Vietnamese ones included) → folded, so that indexing needs no NFD per character
_FOLD_TABLE = {cp: fold(chr(cp)) or chr(cp) for lo, hi in ((0xC0, 0x250), (0x1E00, 0x1F00)) for cp in range(lo, hi)}
_COMBINING = re.compile(r"[\u0300-\u036f]")
_SPACES = re.compile(r"\s+")


def fast_fold(text: str | None) -> str:
    """:func:`app.common.text.fold` through a translation table (same result for Vietnamese, ~20× faster)."""
    if not text:
        return ""
    if _COMBINING.search(text):  # decomposed input: the general way
        return fold(text)
    return _SPACES.sub(" ", text.translate(_FOLD_TABLE)).strip().lower()


@functools.lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_FINAL_Y.sub(r"\1i", w) if w.endswith("y") else w for w in _WORD.findall(fast_fold(text)))


def tokens(text: str | None) -> list[str]:
    """Folded words; codes keep their dots ("1.001193", "000.00.00.h41"); "ký" reads as "ki".

    >>> tokens("Đăng ký giấy phép (mã 1.009994)")
    ['dang', 'ki', 'giay', 'phep', 'ma', '1.009994']
    """
    return list(_tokens(text)) if text else []


def query_words(query: str | None) -> list[str]:
    """The distinct words of a query, without a leading "thủ tục" when more follows."""
    folded = fast_fold((query or "")[:MAX_QUERY])
    rest = _GENERIC.sub("", folded)
    return list(dict.fromkeys(tokens(rest if rest.strip() else folded)))[:MAX_WORDS]


def _max_typos(word: str) -> int:
    if any(ch.isdigit() for ch in word):
        return 0
    if len(word) >= 8:
        return 2
    if len(word) >= 3:
        return 1  # 3 letters: only against longer words (checked by the caller)
    return 0


@dataclass(frozen=True)
class Entry:
    """What the catalogue page shows of a procedure (no ORM object: the index outlives sessions)."""

    code: str
    name: str
    field: str
    unit_code: str
    unit_name: str
    online: bool
    #: folded name and field (words as :func:`tokens` reads them), for the phrase bonus
    folded_name: str = ""
    folded_field: str = ""


@dataclass(frozen=True)
class Facet:
    """A field or an agency to browse by, with how many published procedures it has."""

    value: str
    label: str
    count: int


@dataclass
class SearchResult:
    entries: list[Entry]
    query: str = ""
    field_label: str = ""
    unit_label: str = ""
    #: no procedure matched every word: these match at least a third of them
    approximate: bool = False
    total: int = 0
    page: int = 1
    pages: int = 1
    per_page: int = 0

    @property
    def filtered(self) -> bool:
        return bool(self.query or self.field_label or self.unit_label)

    def by_field(self) -> list[tuple[str, list[Entry]]]:
        """(field, entries) in the order of the entries (the catalogue order: fields sorted ignoring diacritics)."""
        groups: list[tuple[str, list[Entry]]] = []
        for e in self.entries:
            if not groups or groups[-1][0] != e.field:
                groups.append((e.field, []))
            groups[-1][1].append(e)
        return groups


class CatalogIndex:
    """Published procedures, their words and the vocabulary, for :meth:`search`."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        entries = [replace(e, folded_name=" ".join(tokens(e.name)), folded_field=" ".join(tokens(e.field)))
                   for e in entries]
        self.entries: list[Entry] = sorted(entries, key=lambda e: (e.folded_field or "~", e.folded_name, e.code))
        #: word → [(entry index, weight)], best weight per entry
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        for i, e in enumerate(self.entries):
            for where, text in (("name", e.name), ("field", e.field), ("unit", e.unit_name)):
                for word in _tokens(text):
                    self._post(postings, word, i, WEIGHTS[where])
            for word in self._code_words(e.code):
                self._post(postings, word, i, WEIGHTS["code"])
        self.postings: dict[str, list[tuple[int, float]]] = {w: list(d.items()) for w, d in postings.items()}
        self.vocabulary: list[str] = sorted(self.postings)
        self.fields: list[Facet] = self._facets((e.folded_field, e.field) for e in self.entries if e.field)
        self.units: list[Facet] = self._facets((e.unit_code, e.unit_name) for e in self.entries)
        self.built_at = time.monotonic()

    @staticmethod
    def _post(postings: dict[str, dict[int, float]], word: str, i: int, weight: float) -> None:
        if postings[word].get(i, 0.0) < weight:
            postings[word][i] = weight

    @staticmethod
    def _code_words(code: str) -> list[str]:
        folded = fast_fold(code)
        words = {folded, folded.replace(".", "").replace("-", "")}
        return [w for w in words if w]

    @staticmethod
    def _facets(pairs: Iterable[tuple[str, str]]) -> list[Facet]:
        counts: dict[str, int] = defaultdict(int)
        labels: dict[str, str] = {}
        for value, label in pairs:
            counts[value] += 1
            labels.setdefault(value, label)
        return sorted((Facet(v, labels[v], n) for v, n in counts.items()), key=lambda f: fast_fold(f.label))

    # ----------------------------------------------------------------------- lookup

    def field_facet(self, value: str | None) -> Facet | None:
        """The field named by a filter value (its name, with or without diacritics)."""
        key = " ".join(tokens(value))
        return next((f for f in self.fields if f.value == key), None) if key else None

    def unit_facet(self, value: str | None) -> Facet | None:
        """The agency named by a filter value (its code, any case)."""
        key = (value or "").strip().upper()
        return next((u for u in self.units if u.value.upper() == key), None) if key else None

    def _word_matches(self, word: str, last: bool = False) -> dict[str, float]:
        """Vocabulary words this query word matches, with the strength of the match (``last``: the last word of
        the query, perhaps still being typed, is a prefix even with one letter)."""
        found: dict[str, float] = {}
        if word in self.postings:
            found[word] = EXACT
        if len(word) >= 2 or last:
            start = bisect.bisect_left(self.vocabulary, word)
            for candidate in self.vocabulary[start:]:
                if not candidate.startswith(word):
                    break
                found.setdefault(candidate, PREFIX)
        digits = any(ch.isdigit() for ch in word)
        if digits and len(word) >= 4:  # a part of a code: "009994" finds "1.009994"
            for candidate in self.vocabulary:
                if word in candidate and any(ch.isdigit() for ch in candidate):
                    found.setdefault(candidate, PREFIX)
        limit = _max_typos(word)
        if limit:
            for candidate, distance, _ in process.extract(word, self.vocabulary, scorer=OSA.distance,
                                                          score_cutoff=limit, limit=None):
                if distance == 0 or any(ch.isdigit() for ch in candidate):
                    continue
                if len(word) == 3 and len(candidate) <= 3:
                    continue  # "xay" must not find "tay", "may"…: only a letter dropped from a longer word
                if distance > _max_typos(candidate) and len(word) > 3:
                    continue  # a short vocabulary word is not two edits away from a long query word
                found.setdefault(candidate, TYPO1 if distance == 1 else TYPO2)
        return found

    def search(self, query: str | None = None, *, field: str | None = None, unit: str | None = None) -> list[Entry]:
        """Entries matching the query and filters, best first (all of them, in catalogue order, without a query)."""
        return self.run(query, field=field, unit=unit)[0]

    def run(self, query: str | None = None, *, field: str | None = None,
            unit: str | None = None) -> tuple[list[Entry], bool]:
        """(entries, approximate): see :meth:`search`; approximate when no entry matched every word."""
        field_facet = self.field_facet(field) if field else None
        unit_facet = self.unit_facet(unit) if unit else None
        if (field and field_facet is None) or (unit and unit_facet is None):
            return [], False
        allowed = [i for i, e in enumerate(self.entries)
                   if (field_facet is None or e.folded_field == field_facet.value)
                   and (unit_facet is None or e.unit_code == unit_facet.value)]
        words = query_words(query)
        if not words:
            return [self.entries[i] for i in allowed], False
        allowed_set = set(allowed)
        # best[i][k]: the best score of query word k in entry i
        best: dict[int, list[float]] = defaultdict(lambda: [0.0] * len(words))
        for k, word in enumerate(words):
            for candidate, strength in self._word_matches(word, last=k == len(words) - 1).items():
                for i, weight in self.postings[candidate]:
                    if strength < PREFIX and weight <= WEIGHTS["unit"]:
                        continue  # typos in agency names ("tich" ~ "tinh") would find every agency's procedures
                    if i in allowed_set:
                        scores = best[i]
                        scores[k] = max(scores[k], strength * weight)
        if not best:
            return [], False
        matched = {i: sum(1 for s in scores if s > 0) for i, scores in best.items()}
        need = len(words)
        approximate = False
        if not any(n == need for n in matched.values()):
            need, approximate = math.ceil(len(words) / 3), True
        phrase = " ".join(words)
        ranked: list[tuple[int, float, int]] = []
        for i, scores in best.items():
            if matched[i] < need:
                continue
            score = sum(scores)
            entry = self.entries[i]
            if phrase in entry.folded_name:
                score += 1.5 if entry.folded_name.startswith(phrase) else 1.0
            elif phrase in entry.folded_field:
                score += 0.6
            ranked.append((matched[i], score, i))
        ranked.sort(key=lambda r: (-r[0], -r[1], len(self.entries[r[2]].name), r[2]))
        return [self.entries[i] for _, _, i in ranked], approximate


# --------------------------------------------------------------------------- the index of an application

_lock = threading.Lock()
#: bumped when this process commits a change to the catalogue
_generation = 0
_CATALOG_TABLES = frozenset({"procedures", "procedure_versions", "units"})


def invalidate() -> None:
    """Forget every application's index (the next search rebuilds it)."""
    global _generation
    with _lock:
        _generation += 1


@event.listens_for(Session, "after_flush")
def _note_catalog_change(session: Session, _flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in _CATALOG_TABLES:
            session.info["catalog_changed"] = True
            return


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("catalog_changed", False):
        invalidate()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop("catalog_changed", None)


def _build() -> CatalogIndex:
    from app.auth.models import Unit
    from app.catalog.models import Procedure
    from app.extensions import db

    rows = db.session.execute(
        select(Procedure.code, Procedure.name, Procedure.field, Procedure.meta, Unit.code, Unit.name)
        .join(Unit, Unit.id == Procedure.unit_id)
        .where(Procedure.active.is_(True), Procedure.current_version_id.is_not(None)))
    entries = []
    for code, name, field_, meta, unit_code, unit_name in rows:
        channels = (meta or {}).get("channels")
        online = "online" in channels if isinstance(channels, list) else True  # the record's default
        entries.append(Entry(code=code, name=name, field=field_ or "", unit_code=unit_code, unit_name=unit_name,
                             online=online))
    return CatalogIndex(entries)


def catalog_index() -> CatalogIndex:
    """The current application's index, built when missing, stale (:data:`MAX_AGE`) or changed."""
    holder = current_app.extensions.setdefault("catalog_search", {})
    index, generation = holder.get("index"), holder.get("generation")
    if index is None or generation != _generation or time.monotonic() - index.built_at > MAX_AGE:
        generation = _generation
        index = _build()
        holder.update(index=index, generation=generation)
    return index


def search(query: str | None = None, *, field: str | None = None, unit: str | None = None, page: int = 1,
           per_page: int = 50) -> SearchResult:
    """One page of results for the catalogue page; an unknown field or agency gives no result."""
    index = catalog_index()
    entries, approximate = index.run(query, field=field, unit=unit)
    field_facet = index.field_facet(field)
    unit_facet = index.unit_facet(unit)
    total = len(entries)
    pages = max(1, math.ceil(total / per_page)) if per_page else 1
    page = min(max(1, page), pages)
    shown: Sequence[Entry] = entries[(page - 1) * per_page: page * per_page] if per_page else entries
    return SearchResult(entries=list(shown), query=(query or "").strip()[:MAX_QUERY],
                        field_label=field_facet.label if field_facet else (field or "").strip(),
                        unit_label=unit_facet.label if unit_facet else (unit or "").strip(),
                        approximate=approximate, total=total, page=page, pages=pages, per_page=per_page)
