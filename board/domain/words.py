"""The word cloud: the words of a thread's published answers, weighed by how many answers use them.

French and English function words are left out. No lemmatiser for French ships as a small, well-kept
Python package without models to download, so the only folding done is the plain plural: a word and
the same word ending in « s » or « x » count as one, under the form most answers use.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from board.domain.context import BoardContext
from board.models import Answer, AnswerStatus

MAX_WORDS = 40
WEIGHTS = 5
MIN_LENGTH = 3
_WORD = re.compile(r"[^\W\d_]+(?:[-'\u2019][^\W\d_]+)*")
_INVERSION = re.compile(r"(?:-t)?-(?:je|tu|il|elle|on|nous|vous|ils|elles)$")
_ELISION = re.compile(r"^(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu|quoiqu)['\u2019]")

FRENCH = frozenset(
    """
    a à afin ai aie aient aies ait alors as au aucun aucune aujourd auquel aura aurai auraient aurais
    aurait auras aurez auriez aurions aurons auront aussi autre autres aux auxquelles auxquels avaient
    avais avait avant avec avez aviez avions avoir avons ayant ayez ayons bien c ça car ce ceci cela
    celle celles celui cependant certain certaine certaines certains ces cet cette ceux chacun chacune
    chaque chez ci comme comment d dans de des depuis donc dont du elle elles en encore entre es est et
    étaient étais était étant été êtes étiez étions être eu eue eues eûmes eurent eus eut eux fait faire
    fais faut fois font furent fut ici il ils j je jusqu l la là laquelle le lequel les lesquelles
    lesquels leur leurs lors lui m ma mais me même mêmes mes moi moins mon n ne ni non nos notre nous on
    ont ou où par parce pas peu peut peuvent plus pour pourquoi pourrait qu quand que quel quelle
    quelles quels qui quoi s sa sans se sera serai seraient serait seras serez seriez serions serons
    seront ses si sien soi soient sois soit sommes son sont sous soyez soyons suis sur t ta te tes toi
    ton tous tout toute toutes très tu un une unes uns vers voici voilà vont vos votre vous y
    aujourd'hui
    """.split()  # noqa: SIM905 - a list to read, not to scroll
)
ENGLISH = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves
    """.split()  # noqa: SIM905 - a list to read, not to scroll
)
STOP_WORDS = FRENCH | ENGLISH
_ANSWERS = Answer.__table__  # type: ignore[attr-defined]
_PUBLISHED = select(_ANSWERS.c.id, _ANSWERS.c.body).where(
    _ANSWERS.c.thread_id == bindparam("thread"), _ANSWERS.c.status == AnswerStatus.PUBLISHED
)


@dataclass(frozen=True)
class Word:
    text: str
    answers: int
    weight: int
    """1 (fewest answers) to WEIGHTS (most), the size class the screen draws it at."""


def words_of(body: str) -> set[str]:
    """The distinct words of one answer that may enter the cloud."""
    found = set()
    for match in _WORD.finditer(unicodedata.normalize("NFC", body).lower()):
        word = _INVERSION.sub("", _ELISION.sub("", match.group().replace("\u2019", "'")))
        if len(word) >= MIN_LENGTH and word not in STOP_WORDS:
            found.add(word)
    return found


def _base(word: str, vocabulary: Counter[str]) -> str:
    """The singular of a plain plural that also occurs in the vocabulary, else the word itself."""
    if len(word) > MIN_LENGTH and word[-1] in "sx" and word[:-1] in vocabulary:
        return word[:-1]
    return word


def cloud(answers: Iterable[set[str] | frozenset[str]], limit: int = MAX_WORDS) -> list[Word]:
    """The most used words, most used first (alphabetical on ties), each answer counting once per word."""
    answers = list(answers)
    forms: Counter[str] = Counter()
    for words in answers:
        forms.update(words)
    counts: Counter[str] = Counter()
    for words in answers:
        counts.update({_base(w, forms) for w in words})
    named: dict[str, str] = {}
    for word in forms:
        base = _base(word, forms)
        shown = named.get(base, base)
        if (forms[word], word == base) > (forms[shown], shown == base):
            named[base] = word
        else:
            named[base] = shown
    ranked = sorted(((named[b], n) for b, n in counts.items()), key=lambda item: (-item[1], item[0]))
    ranked = ranked[:limit]
    if not ranked:
        return []
    most, fewest = ranked[0][1], ranked[-1][1]
    span = max(most - fewest, 1)
    return [Word(text, n, 1 + round((WEIGHTS - 1) * (n - fewest) / span)) for text, n in ranked]


_known: dict[int, frozenset[str]] = {}
"""The words of answers already read, by answer id: an answer's text never changes once posted."""


def _words_by_id(rows: list[tuple[int, str]]) -> list[frozenset[str]]:
    if len(_known) > 50_000:
        _known.clear()
    found = []
    for answer_id, body in rows:
        words = _known.get(answer_id)
        if words is None:
            words = _known[answer_id] = frozenset(words_of(body))
        found.append(words)
    return found


async def thread_words(ctx: BoardContext, thread_id: int) -> list[Word]:
    """The cloud of a thread's published answers; hidden, rejected and pending ones never count."""
    async with ctx.db.connect() as conn:
        rows = (await conn.execute(_PUBLISHED, {"thread": thread_id})).all()
    return cloud(_words_by_id([(r[0], r[1]) for r in rows]))
