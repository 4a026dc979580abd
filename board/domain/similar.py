"""Published answers close to a draft, so that people vote for an existing answer instead of repeating it.

Character n-gram TF-IDF finds rephrasings, plurals and typos, not only shared words, in French and
English alike, and needs no model downloaded at run time. Each thread's weights are learnt once and kept
until its published answers change, so a request only weighs the draft. The weighting is scikit-learn's
`TfidfVectorizer(analyzer="char", ngram_range=(3, 5), sublinear_tf=True, strip_accents="unicode")`,
written out here in plain Python: loading scikit-learn (and SciPy) would cost every web worker about
80 MB for a few dictionaries. Measured with `python -m tests.bench_similar` (README, "Similar answers").
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from board.domain.answers import answer_view, has_visible
from board.domain.context import BoardContext
from board.domain.views import AnswerView, ThreadView
from board.models import Answer, AnswerStatus, Vote

LIMIT = 3
THRESHOLD = 0.45
"""Cosine similarity from which an answer is suggested (see the bench for its precision and recall)."""
SMALL_THREAD = 10
SMALL_THRESHOLD = 0.5
"""Below SMALL_THREAD answers the n-gram weights are poorly estimated: unrelated texts score higher."""
MIN_DRAFT = 12
"""Fewer visible characters than this say too little to compare."""
CACHED_THREADS = 256
REFIT_EVERY = 30.0
"""Seconds: a busy thread learns its weights again at most this often; in between, answers are added."""


GRAMS = (3, 5)
_SPACES = re.compile(r"\s\s+")

Vector = dict[str, float]
"""Weights of a text's character n-grams, of unit length."""


def grams(text: str) -> Counter[str]:
    """The text's character 3- to 5-grams, lower-cased, accents stripped and runs of spaces folded."""
    text = text.lower()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _SPACES.sub(" ", text)
    low, high = GRAMS
    return Counter(
        text[i : i + n] for n in range(low, min(high, len(text)) + 1) for i in range(len(text) - n + 1)
    )


@dataclass(frozen=True)
class Weights:
    """Inverse document frequencies learnt from a thread's answers (smoothed, as scikit-learn does)."""

    idf: dict[str, float]

    @classmethod
    def learn(cls, bodies: list[str]) -> Weights:
        seen: Counter[str] = Counter()
        for body in bodies:
            seen.update(grams(body).keys())
        documents = len(bodies) + 1
        return cls({gram: math.log(documents / (count + 1)) + 1.0 for gram, count in seen.items()})

    def vector(self, text: str) -> Vector:
        """Sublinear term frequency times idf over the learnt n-grams only, of unit length."""
        idf = self.idf
        raw = {g: (1.0 + math.log(n)) * idf[g] for g, n in grams(text).items() if g in idf}
        norm = math.sqrt(math.fsum(w * w for w in raw.values()))
        return {g: w / norm for g, w in raw.items()} if norm else {}


Postings = dict[str, list[tuple[int, float]]]
"""n-gram → (row, weight) of every answer vector that has it: a draft meets only the answers it shares
n-grams with."""


def postings(vectors: list[Vector], first_row: int) -> Postings:
    found: Postings = {}
    for row, vector in enumerate(vectors, start=first_row):
        for gram, weight in vector.items():
            found.setdefault(gram, []).append((row, weight))
    return found


@dataclass(frozen=True)
class ThreadIndex:
    """A thread's published answers as unit TF-IDF vectors, so that a product is a cosine.

    The weights are learnt once; answers published later are weighed the same way and answers withdrawn
    are left out, until the next full fit (at most every REFIT_EVERY seconds).
    """

    ids: tuple[int, ...]
    weights: Weights | None
    """None for a thread without answers."""
    blocks: tuple[Postings, ...]
    """The rows of `ids`, in order: one block from the fit, one more each time answers are added."""
    fitted: int
    """How many answers the weights were learnt on."""
    gone: frozenset[int] = frozenset()

    @classmethod
    def fit(cls, ids: list[int], bodies: list[str]) -> ThreadIndex:
        if not ids:
            return cls((), None, (), 0)
        weights = Weights.learn(bodies)
        return cls(tuple(ids), weights, (postings([weights.vector(b) for b in bodies], 0),), len(ids))

    def follow(self, ids: list[int], bodies: list[str]) -> ThreadIndex:
        """The same weights over the answers published now: new ones weighed, withdrawn ones left out."""
        if self.weights is None:
            return ThreadIndex.fit(ids, bodies)
        known = set(self.ids)
        new = [(i, b) for i, b in zip(ids, bodies, strict=True) if i not in known]
        blocks = self.blocks
        if new:
            blocks = (*blocks, postings([self.weights.vector(b) for _, b in new], len(self.ids)))
        gone = frozenset(known - set(ids))
        return ThreadIndex((*self.ids, *(i for i, _ in new)), self.weights, blocks, self.fitted, gone)

    @property
    def size(self) -> int:
        return len(self.ids) - len(self.gone)

    def closest(self, draft: str, limit: int = LIMIT) -> list[tuple[int, float]]:
        """Up to `limit` (answer id, similarity) above the threshold, closest first."""
        if self.weights is None or len(draft.strip()) < MIN_DRAFT or not has_visible(draft):
            return []
        threshold = THRESHOLD if self.fitted >= SMALL_THREAD else SMALL_THRESHOLD
        scores = [0.0] * len(self.ids)
        for gram, wanted in self.weights.vector(draft).items():
            for block in self.blocks:
                for row, weight in block.get(gram, ()):
                    scores[row] += wanted * weight
        ranked = sorted((-score, row) for row, score in enumerate(scores) if self.ids[row] not in self.gone)
        return [(self.ids[row], round(-score, 3)) for score, row in ranked[:limit] if -score >= threshold]


_PUBLISHED = (col(Answer.status) == AnswerStatus.PUBLISHED, col(Answer.merged_into).is_(None))


class SimilarCache:
    """Per process: the index of recently asked threads, keyed by a fingerprint of their published answers
    (count, sum and largest id), so that a publication, a hide or a merge updates it."""

    def __init__(self) -> None:
        self._indexes: OrderedDict[int, tuple[tuple[int, int, int], float, ThreadIndex]] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}

    async def index(self, ctx: BoardContext, thread_id: int) -> ThreadIndex:
        mark = await _fingerprint(ctx, thread_id)
        found = self._indexes.get(thread_id)
        if found is not None and found[0] == mark:
            self._indexes.move_to_end(thread_id)
            return found[2]
        async with self._locks.setdefault(thread_id, asyncio.Lock()):
            found = self._indexes.get(thread_id)
            if found is not None and found[0] == mark:
                return found[2]
            ids, bodies = await _published(ctx, thread_id)
            now = time.monotonic()
            if found is not None and now - found[1] < REFIT_EVERY:
                fitted_at, index = found[1], await asyncio.to_thread(found[2].follow, ids, bodies)
            else:
                fitted_at, index = now, await asyncio.to_thread(ThreadIndex.fit, ids, bodies)
            self._indexes[thread_id] = (mark, fitted_at, index)
            self._indexes.move_to_end(thread_id)
            while len(self._indexes) > CACHED_THREADS:
                old, _ = self._indexes.popitem(last=False)
                self._locks.pop(old, None)
            return index


async def _fingerprint(ctx: BoardContext, thread_id: int) -> tuple[int, int, int]:
    query = select(
        func.count(col(Answer.id)),
        func.coalesce(func.sum(Answer.id), 0),
        func.coalesce(func.max(Answer.id), 0),
    ).where(Answer.thread_id == thread_id, *_PUBLISHED)
    async with ctx.db.session() as session:
        count, total, last = (await session.exec(query)).one()
    return int(count), int(total or 0), int(last or 0)


async def _published(ctx: BoardContext, thread_id: int) -> tuple[list[int], list[str]]:
    query = (
        select(Answer.id, Answer.body)
        .where(Answer.thread_id == thread_id, *_PUBLISHED)
        .order_by(col(Answer.id))
    )
    async with ctx.db.session() as session:
        rows = list(await session.exec(query))
    return [int(i) for i, _ in rows if i is not None], [body for i, body in rows if i is not None]


_cache = SimilarCache()


async def similar_answers(
    ctx: BoardContext, thread: ThreadView, draft: str, viewer: str | None = None
) -> list[tuple[AnswerView, float]]:
    """The published answers of `thread` close to `draft`, with the viewer's votes, closest first."""
    if "\x00" in draft:
        return []
    index = await _cache.index(ctx, thread.id)
    found = await asyncio.to_thread(index.closest, draft[:2000])
    if not found:
        return []
    ids = [answer_id for answer_id, _ in found]
    async with ctx.db.session() as session:
        rows = {
            a.id: a for a in await session.exec(select(Answer).where(col(Answer.id).in_(ids), *_PUBLISHED))
        }
        mine: dict[int, int] = {}
        if viewer:
            votes = await session.exec(
                select(Vote.answer_id, Vote.value).where(
                    Vote.participant_id == viewer, col(Vote.answer_id).in_(ids)
                )
            )
            mine = dict(votes.all())
    return [
        (answer_view(rows[i], mine=rows[i].participant_id == viewer, my_vote=mine.get(i, 0)), score)
        for i, score in found
        if i in rows
    ]
