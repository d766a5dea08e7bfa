"""Quality checks on a valid bank: the habits of a good item writer, measured, and the
test-wiseness a candidate could score with instead of knowing the subject.

Pure: works on a loaded `Bank`. Each rule has a name, so a report reads
`questions/x.yaml:12: [q-id] key-position: ...` for a question,
`questions/x.yaml: pick-shortest: ...` for a whole file and `pick-shortest: ...` for the
whole bank.

Writing rules (per question unless said otherwise):

- coverage: every leaf objective (level `objective`) has at least `min_per_objective`
  active questions tagged with it.
- key-position: in `single` questions, no option position holds more than 40% of keys
  (whole bank).
- near-duplicate: no two stems share 80% or more of their words (Jaccard index of the
  word sets).
- above: no option says "all of the above" or "none of the above".
- choose-stated: every `multiple` stem says "(Choose N.)" with N equal to `choose`.
- rationale: every option and prompt has a rationale of at least three words that does
  not merely repeat the option.
- template: every question template is drawn 1,000 times (`templates.lint_draws`); a
  draw that passes the constraints must not fail an expression, repeat an option text
  or break the key (a numeric answer that is not a finite number a candidate can type,
  that needs more than 4 decimals under an exact tolerance, a relative tolerance
  around 0, a mistake within the tolerance of the answer), and at least 10% of the
  draws must pass the constraints. Each kind of problem is reported once, with how many
  draws had it and the values of the first.
- matching-spare: a `matching` question has more choices than prompts; otherwise the
  last pair is given away by elimination.
- near-duplicate-key: two questions that share an objective (primary or not, so a
  mis-tagged copy is caught too) test the same fact as far as text can tell: the content
  words (below) of their keys have a Jaccard index of at least 0.4, or of at least 0.25
  while their stems have one of at least 0.5. The key's text is the key option(s) for
  `single` and `multiple`, every step for `ordering`, every prompt with its matched
  choice for `matching`. One finding per pair, on the first, naming the second. Facts
  told in other words are beyond it: a reviewer still reads each objective's keys.

Test-wiseness rules. A test-wise candidate ignores the subject and plays the writer:
picks the longest (most qualified) or the shortest option, or crosses out the extremes
and guesses among the middle-length ones, picks the option that repeats the stem's
words, the option the others are variants of (or the one that lacks what they all say),
drops options that say "always" or argue for themselves, and matches a prompt to the
choice that shares its words. Each strategy below is scored on the
questions it applies to, exactly as a candidate would fare, and compared with blind
chance on the same questions.

- Strategies. A strategy gives each option a preference and picks the N most preferred
  (N = 1 for `single`, `choose` for `multiple`); ties are broken at random, so a
  question's expected credit is `1 / C(t, m)` when the options it surely picks (strictly
  preferred to the N-th) are all keys and the m keys left are all among the t options
  tied at the N-th preference, else 0 (`top_n_credit`). Full credit only when the picked
  set equals the key. Blind chance is `1 / C(options, N)`. On `single` and `multiple`:
  pick-shortest / pick-longest (preference: minus / plus the option's length in
  characters); pick-stem-echo (the number of content words the option shares with the
  stem); pick-convergent / pick-odd-one-out (plus / minus the number of content words
  the option shares with each other option, summed: the key as the variant the
  distractors were made from, or as the one option without the phrase every distractor
  repeats); drop-absolute / drop-reason (-1 for an option with an absolute word /
  reason clause, 0 without: drop those, guess among the rest). Crossing out by length,
  on `single` and `multiple`: rank the options by length (equal lengths in random
  order); each end of that order holds e options, e = N (what pick-shortest or
  pick-longest would choose) or, when crossing out N at both ends would leave fewer
  than N, e = (options - N) // 2, so that at least N are left (`extreme_size`: 1 on a
  four-option single, on five-choose-two and on six-choose-three; 2 on six-choose-two).
  pick-middle crosses out both ends and picks N at random among the options left (a
  single's two middle-length options): the candidate who "avoids the extremes", who
  wins where the writer, told not to make the key the shortest or the longest, kept it
  in the middle. drop-shortest / drop-longest cross out one end only and pick N at
  random among the rest: the cautious reader of "the longest answer is usually right"
  who distrusts only the barest (or only the most qualified) option, who wins where the
  writer kept keys away from one end. On four-option singles they add little: dropping
  an end beats chance by 5 points only when that end holds under 10% of the keys, and
  then the other end holds over 30% (key- and pick-longest or -shortest fail) or both
  ends together under 40% (pick-middle fails). They are measured on both types because
  a candidate would use them, and on `multiple` they catch what nothing else does: key
  sets that never hold the shortest option, split between the middle and the longest
  end, pass every other rule. Expected credit: the chance
  that every key survives the crossing out (within a run of s equal lengths, m of whose
  ranks survive, the run's j keys all survive with probability C(m, j) / C(s, j), runs
  independently), divided by C(options left, N) (`crossed_out_credit`). On `matching`:
  match-shared-words, each prompt gets the choice sharing most content words with it
  (ties at random); credit is the share of prompts right (as graded), chance
  `1 / choices`. `ordering` has none: options are shuffled at delivery and nothing in a
  step's wording says where it goes.
  Threshold: a strategy's mean expected score on a question type may not exceed blind
  chance's mean on the same questions by more than 5 percentage points, in the whole
  bank or in any file. The finding is named after the strategy.
- key-shortest / key-longest: the share of `single` questions whose key is strictly the
  shortest / strictly the longest option (length of the option text in characters).
  Threshold: chance, the mean of `1 / options` (25% with four options), plus 5 points;
  the readable face of pick-shortest / pick-longest, which also count ties.
- absolute-words / reason-clauses: the share of distractors that carry an absolute word
  (`ABSOLUTE`: always, never, only, every, all, none, alone, must, guaranteed, any,
  entirely, ...) or a reason clause (`REASON`: because, since, so, so that, in order to,
  due to, thus, which ensures, to avoid, ...) against the share of keys that do, over the
  options of `single` and `multiple` questions. Threshold: the two shares may differ by
  at most 5 points either way (keys that argue for themselves give the key away as
  surely as distractors that say "never").
- key-echo: an option's echo is the share of its content words that appear in the stem,
  leaving out the stem words every option of the question has (they tell nothing);
  compared as the mean echo of keys against the mean echo of distractors, over `single`
  and `multiple`. Threshold: the keys' mean may exceed the distractors' by at most 5
  points (a share of words, not a count, so that long options do not echo more merely
  by being long; pick-stem-echo counts words, as a candidate does).

Content words: lowercase runs of letters, digits and `_` (so `max_wait` is one word),
without `STOP_WORDS` (English function words, the stem's framing such as "which",
"should", "company", "engineer", and the vendor names Amazon, AWS, SageMaker, AI that
name every option alike), crudely stemmed by stripping up to two suffixes from
`SUFFIXES` while three letters remain (servers, serverless -> serv; trained,
training -> train).

Small samples: a strategy or key-shortest / key-longest fails only when it also gains at
least `MIN_EXCESS` (one) whole question over chance: with 6 `multiple` questions, 5 points
is a third of a question, which one tie at the cut gives. (Dropping one end of a
four-option single gains at most 1/3 - 1/4 of a question, so drop-shortest and
drop-longest can fail on singles only with 12 or more of them.) A file is judged on a question
type's strategies and key-shortest / key-longest only when it has at least
`MIN_PER_FILE` (5) questions of that type, and on
absolute-words, reason-clauses and key-echo only when its `single` and `multiple`
questions have at least `MIN_KEYS_PER_FILE` (20) keys; with fewer, one key moves the keys'
share by more than the 5 points allowed. Smaller samples still count in the whole
bank's figures.
`figures(...)` gives every number, judged or not, for `bank lint --figures`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from math import comb
from typing import Any

from exam_service.bank import templates
from exam_service.bank.loader import Bank, QuestionSpec
from exam_service.grading import numeric

NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5}
KEY_SHARE_LIMIT = 0.40
SIMILARITY_LIMIT = 0.80
CHANCE_MARGIN = 0.05
CUE_GAP_LIMIT = 0.05
ECHO_GAP_LIMIT = 0.05
MIN_PER_FILE = 5
MIN_KEYS_PER_FILE = 20
MIN_EXCESS = 1.0  # questions a strategy must gain over chance to fail, besides 5 points
DUPLICATE_KEY_LIMIT = 0.4
DUPLICATE_KEY_FLOOR = 0.25
DUPLICATE_STEM_LIMIT = 0.5
EPSILON = 1e-9  # a share exactly at its limit passes

ABSOLUTE = re.compile(
    r"\b(always|never|only|every|everything|all|none|nothing|alone|must|guaranteed?|any"
    r"|entirely|completely|solely|exclusively|cannot|impossible)\b",
    re.IGNORECASE,
)
REASON = re.compile(
    r"\b(because|since(?!\s+\d)|so(?!-|\s+(?:far|much|many|long|on)\b)|thereby|therefore|thus"
    r"|hence|due to|in order to|as a result"
    r"|which (ensures?|guarantees?|means|lets|allows|prevents|avoids|keeps)"
    r"|to (avoid|ensure|prevent))\b",
    re.IGNORECASE,
)
_STOP_WORDS = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during
    each few for from further had has have having he her here hers him his how i if in
    into is it its itself just let lets me more most my no nor not now of off on once one
    only or other our out over own same she should so some such than that the their them
    then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your
    best company team engineer engineers ml choose two three following option options
    approach use uses using used need needs want wants amazon aws sagemaker ai
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
SUFFIXES = (
    "ations", "ation", "ings", "ing", "less", "ness", "ment", "ism", "ers", "ies",
    "ed", "er", "es", "ly", "s", "e", "y",
)  # fmt: skip
TYPE_ORDER = ("single", "multiple", "ordering", "matching", "numeric")


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    question_id: str | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        who = f"[{self.question_id}] " if self.question_id else ""
        return f"{where}{who}{self.rule}: {self.message}"


def _finding(rule: str, message: str, q: QuestionSpec | None = None) -> Finding:
    if q is None:
        return Finding(rule, message)
    return Finding(rule, message, q.id, q.file, q.line)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _stem(word: str) -> str:
    for _ in range(2):
        suffix = next((s for s in SUFFIXES if word.endswith(s) and len(word) - len(s) >= 3), "")
        if not suffix:
            break
        word = word[: -len(suffix)]
    return word


@lru_cache(maxsize=8192)
def content_words(text: str) -> frozenset[str]:
    """The stemmed content words of a text (see the module docstring)."""
    return frozenset(
        _stem(w)
        for w in re.findall(r"[a-z0-9_]+", text.lower())
        if w not in STOP_WORDS and len(w) > 1
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


# --- writing rules --------------------------------------------------------------------


def coverage(bank: Bank, min_per_objective: int) -> list[Finding]:
    tagged = Counter(code for q in bank.questions for code in set(q.objectives))
    return [
        _finding(
            "coverage",
            f"objective {o.code} ({o.title}) has {tagged[o.code]} questions; "
            f"write at least {min_per_objective - tagged[o.code]} more",
        )
        for o in bank.objectives
        if o.level == "objective" and tagged[o.code] < min_per_objective
    ]


def key_position(bank: Bank) -> list[Finding]:
    singles = [q for q in bank.questions if q.type == "single"]
    positions = Counter(
        [o["id"] for o in q.content["options"]].index(q.content["key"][0]) + 1 for q in singles
    )
    return [
        _finding(
            "key-position",
            f"position {position} holds the key in {count} of {len(singles)} single "
            f"questions ({count / len(singles):.0%} > {KEY_SHARE_LIMIT:.0%}); move some "
            "keys to other positions",
        )
        for position, count in sorted(positions.items())
        if count / len(singles) > KEY_SHARE_LIMIT
    ]


def near_duplicates(bank: Bank) -> list[Finding]:
    words = [(q, _words(q.stem)) for q in bank.questions]
    findings = []
    for (a, wa), (b, wb) in combinations(words, 2):
        union = wa | wb
        if union and len(wa & wb) / len(union) >= SIMILARITY_LIMIT:
            findings.append(
                _finding(
                    "near-duplicate",
                    f"the stem is nearly the same as {b.id!r} ({b.file}:{b.line}); "
                    "rewrite one of them or retire it",
                    a,
                )
            )
    return findings


def key_text(q: QuestionSpec) -> str:
    """What a question's key says: key options, every step, every matched pair, or the
    number with its unit."""
    if q.type == "numeric":
        return f"{numeric.number_text(q.content['key'])} {q.content.get('unit') or ''}".strip()
    if q.type == "matching":
        choices = {c["id"]: c["text"] for c in q.content["choices"]}
        return " ".join(
            f"{p['text']} {choices[q.content['key'][p['id']]]}" for p in q.content["prompts"]
        )
    key = set(q.content["key"])
    return " ".join(o["text"] for o in q.content["options"] if o["id"] in key)


def duplicate_keys(bank: Bank) -> list[Finding]:
    """Pairs with the same primary objective whose keys (and stems) say the same thing."""
    words = [(q, content_words(key_text(q)), content_words(q.stem)) for q in bank.questions]
    findings = []
    for (a, key_a, stem_a), (b, key_b, stem_b) in combinations(words, 2):
        shared = [code for code in a.objectives if code in b.objectives]
        if not shared:
            continue
        keys, stems = _jaccard(key_a, key_b), _jaccard(stem_a, stem_b)
        if keys >= DUPLICATE_KEY_LIMIT or (
            keys >= DUPLICATE_KEY_FLOOR and stems >= DUPLICATE_STEM_LIMIT
        ):
            findings.append(
                _finding(
                    "near-duplicate-key",
                    f"may test the same fact of {shared[0]} as {b.id!r} ({b.file}:{b.line}): "
                    f"the keys share {keys:.0%} of their content words, the stems "
                    f"{stems:.0%}; merge them, or make one test another fact",
                    a,
                )
            )
    return findings


def per_question(q: QuestionSpec) -> list[Finding]:
    findings: list[Finding] = []
    items = q.content.get("options", []) + q.content.get("prompts", [])
    if q.type == "numeric":
        key = numeric.number_text(q.content["key"])
        items = [{"text": key, "rationale": q.content["rationale"]}] + [
            {"text": numeric.number_text(m["value"]), "rationale": m["rationale"]}
            for m in q.content["mistakes"]
        ]
    for item in items:
        if re.search(r"\b(all|none) of the above\b", item["text"], re.IGNORECASE):
            findings.append(
                _finding("above", f"option {item['text']!r}: write a real alternative", q)
            )
        rationale = item["rationale"]
        if len(rationale.split()) < 3 or rationale.strip().lower() == item["text"].lower():
            findings.append(
                _finding(
                    "rationale",
                    f"option {item['text']!r} has no real rationale ({rationale!r}); say "
                    "why it is right or wrong",
                    q,
                )
            )
    if q.type == "multiple":
        match = re.search(r"\(choose (\w+)\.?\)", q.stem, re.IGNORECASE)
        stated = None
        if match:
            word = match.group(1).lower()
            stated = int(word) if word.isdigit() else NUMBERS.get(word)
        if stated != q.content["choose"]:
            findings.append(
                _finding(
                    "choose-stated",
                    f"the stem must end with '(Choose {_spell(q.content['choose'])}.)' to "
                    "tell the candidate how many to pick",
                    q,
                )
            )
    if q.type == "matching" and len(q.content["choices"]) <= len(q.content["prompts"]):
        findings.append(
            _finding(
                "matching-spare",
                f"{len(q.content['choices'])} choices for {len(q.content['prompts'])} "
                "prompts: add at least one spare choice, or the last pair is given away by "
                "elimination",
                q,
            )
        )
    return findings


def _spell(n: int) -> str:
    return next((word for word, value in NUMBERS.items() if value == n), str(n))


# --- test-wiseness figures ------------------------------------------------------------

Preference = Callable[[QuestionSpec, dict[str, Any]], float]
Credit = Callable[[QuestionSpec], float]  # a strategy's expected credit on a question


def _words_of(q: QuestionSpec) -> dict[str, frozenset[str]]:
    return {o["id"]: content_words(o["text"]) for o in q.content["options"]}


def _stem_echo(q: QuestionSpec, option: dict[str, Any]) -> float:
    return len(content_words(option["text"]) & content_words(q.stem))


def _convergence(q: QuestionSpec, option: dict[str, Any]) -> float:
    words = _words_of(q)
    return sum(len(words[option["id"]] & w) for oid, w in words.items() if oid != option["id"])


def _choose(q: QuestionSpec) -> int:
    return int(q.content.get("choose") or 1)


def _picking(preference: Preference) -> Credit:
    """Picking the N options most preferred, ties at random (`top_n_credit`)."""

    def credit(q: QuestionSpec) -> float:
        preferences = {o["id"]: float(preference(q, o)) for o in q.content["options"]}
        return top_n_credit(preferences, set(q.content["key"]), _choose(q))

    return credit


def _crossing_out(shortest: bool, longest: bool) -> Credit:
    """Crossing out the shortest and/or the longest end of the length order, then
    picking N at random among the rest (`crossed_out_credit`)."""

    def credit(q: QuestionSpec) -> float:
        options = q.content["options"]
        n = _choose(q)
        extreme = extreme_size(len(options), n)
        return crossed_out_credit(
            {o["id"]: len(o["text"]) for o in options},
            set(q.content["key"]),
            n,
            extreme if shortest else 0,
            extreme if longest else 0,
        )

    return credit


STRATEGIES: dict[str, tuple[Credit, str]] = {
    "pick-shortest": (_picking(lambda q, o: -len(o["text"])), "picking {the} shortest {opt}"),
    "pick-longest": (_picking(lambda q, o: len(o["text"])), "picking {the} longest {opt}"),
    "pick-middle": (
        _crossing_out(shortest=True, longest=True),
        "crossing out the shortest and the longest {opt} and guessing among the rest",
    ),
    "drop-shortest": (
        _crossing_out(shortest=True, longest=False),
        "crossing out the shortest {opt} and guessing among the rest",
    ),
    "drop-longest": (
        _crossing_out(shortest=False, longest=True),
        "crossing out the longest {opt} and guessing among the rest",
    ),
    "pick-stem-echo": (
        _picking(_stem_echo),
        "picking {the} {opt} sharing most words with the stem",
    ),
    "pick-convergent": (
        _picking(_convergence),
        "picking {the} {opt} sharing most words with the others",
    ),
    "pick-odd-one-out": (
        _picking(lambda q, o: -_convergence(q, o)),
        "picking {the} {opt} sharing fewest words with the others",
    ),
    "drop-absolute": (
        _picking(lambda q, o: -1 if ABSOLUTE.search(o["text"]) else 0),
        "dropping options with an absolute word and guessing",
    ),
    "drop-reason": (
        _picking(lambda q, o: -1 if REASON.search(o["text"]) else 0),
        "dropping options with a reason clause and guessing",
    ),
}
STRATEGY_ADVICE = {
    "pick-shortest": "make distractors as short as keys and vary where the key falls in "
    "the length order",
    "pick-longest": "make keys as short as distractors and vary where the key falls in "
    "the length order",
    "pick-middle": "let keys fall at the shortest and at the longest end of the length "
    "order as often as chance does (a quarter each on four-option singles), not mostly "
    "in the middle",
    "drop-shortest": "let the key be the shortest option as often as chance does (a "
    "quarter of four-option singles)",
    "drop-longest": "let the key be the longest option as often as chance does (a "
    "quarter of four-option singles)",
    "pick-stem-echo": "keep the stem's words out of keys, or share them with distractors",
    "pick-convergent": "do not build every distractor as a variant of the key: give "
    "distractors near-misses of their own",
    "pick-odd-one-out": "do not let distractors share a phrase the key lacks",
    "drop-absolute": "remove absolute words from distractors",
    "drop-reason": "leave reasons to the rationales: remove 'because/so that' clauses",
    "match-shared-words": "word prompts and choices so that a prompt shares no telling "
    "word with its match",
}


def top_n_credit(preferences: dict[str, float], key: set[str], n: int) -> float:
    """P(the n most preferred options, ties broken at random, are exactly the key).

    With p the n-th highest preference, the options preferred to p are picked surely and
    the rest are drawn from the t options at p: the credit is 1 / C(t, n - sure) when the
    sure picks are keys and every other key is at p, else 0.
    """
    cut = sorted(preferences.values(), reverse=True)[n - 1]
    sure = {o for o, p in preferences.items() if p > cut}
    tied = {o for o, p in preferences.items() if p == cut}
    if not sure <= key or not key - sure <= tied:
        return 0.0
    return 1 / comb(len(tied), n - len(sure))


def extreme_size(options: int, n: int) -> int:
    """How many options each end of the length order holds when picking n: the n that
    pick-shortest or pick-longest would choose, or fewer, (options - n) // 2, when
    crossing out n at both ends would leave fewer than n to pick from."""
    return max(0, min(n, (options - n) // 2))


def crossed_out_credit(
    lengths: dict[str, int], key: set[str], n: int, shortest: int, longest: int
) -> float:
    """P(n options drawn at random, once the `shortest` shortest and the `longest` longest
    are crossed out, are exactly the key), equal lengths ranked in random order.

    A run of s equal lengths fills s consecutive ranks, m of which survive the crossing
    out; the j keys in the run all survive with probability C(m, j) / C(s, j), each run
    independently. The credit is the product over runs, divided by C(left, n) where
    left = options - shortest - longest (at least n).
    """
    left = range(shortest, len(lengths) - longest)
    survive = 1.0
    rank = 0
    for length in sorted(set(lengths.values())):
        run = {o for o, value in lengths.items() if value == length}
        kept = sum(1 for r in range(rank, rank + len(run)) if r in left)
        keys = len(run & key)
        survive *= comb(kept, keys) / comb(len(run), keys)
        rank += len(run)
    return survive / comb(len(left), n)


def _matching_credit(q: QuestionSpec) -> tuple[float, float]:
    """(expected share of prompts matched by shared words, chance share)."""
    choices = q.content["choices"]
    credit = 0.0
    for prompt in q.content["prompts"]:
        words = content_words(prompt["text"])
        preferences = {c["id"]: float(len(words & content_words(c["text"]))) for c in choices}
        credit += top_n_credit(preferences, {q.content["key"][prompt["id"]]}, 1)
    return credit / len(q.content["prompts"]), 1 / len(choices)


def _echo_share(q: QuestionSpec, option: dict[str, Any]) -> float:
    """The share of the option's content words that repeat the stem, less those every
    option of the question repeats (they tell nothing)."""
    words = _words_of(q)
    stem = content_words(q.stem)
    common = frozenset.intersection(*words.values())
    own = words[option["id"]]
    return len((own & stem) - common) / len(own) if own else 0.0


CUES: dict[str, Preference] = {
    "absolute-words": lambda q, o: 1.0 if ABSOLUTE.search(o["text"]) else 0.0,
    "reason-clauses": lambda q, o: 1.0 if REASON.search(o["text"]) else 0.0,
    "key-echo": _echo_share,
}


@dataclass(frozen=True)
class StrategyScore:
    """A strategy's expected number of questions fully right, against blind chance's."""

    strategy: str
    question_type: str
    questions: int
    expected: float
    chance: float

    @property
    def margin(self) -> float:
        return (self.expected - self.chance) / self.questions


@dataclass(frozen=True)
class KeyExtreme:
    """How many `single` keys are strictly the shortest (or longest) option."""

    extreme: str
    questions: int
    count: int
    chance: float

    @property
    def share(self) -> float:
        return self.count / self.questions

    @property
    def limit(self) -> float:
        return self.chance / self.questions + CHANCE_MARGIN


@dataclass(frozen=True)
class CueShare:
    """A cue's mean over the keys and over the distractors of `single` and `multiple`
    questions: the share carrying an absolute word or a reason clause, or the mean share
    of an option's words that echo the stem."""

    cue: str
    keys: int
    key_share: float
    distractors: int
    distractor_share: float

    @property
    def gap(self) -> float:
        """Distractors' share minus keys' share, in points of share."""
        return self.distractor_share - self.key_share


@dataclass(frozen=True)
class Figures:
    scope: str
    types: dict[str, int]
    extremes: list[KeyExtreme]
    strategies: list[StrategyScore]
    cues: list[CueShare]

    @property
    def keys(self) -> int:
        return self.cues[0].keys if self.cues else 0


def _extremes(singles: list[QuestionSpec]) -> list[KeyExtreme]:
    if not singles:
        return []
    chance = sum(1 / len(q.content["options"]) for q in singles)
    extremes = []
    for extreme, sign in (("shortest", -1), ("longest", 1)):
        count = 0
        for q in singles:
            lengths = {o["id"]: sign * len(o["text"]) for o in q.content["options"]}
            key = q.content["key"][0]
            count += all(lengths[key] > n for oid, n in lengths.items() if oid != key)
        extremes.append(KeyExtreme(extreme, len(singles), count, chance))
    return extremes


def _strategy_scores(question_type: str, questions: list[QuestionSpec]) -> list[StrategyScore]:
    scores = []
    for name, (credit, _) in STRATEGIES.items():
        expected = chance = 0.0
        for q in questions:
            expected += credit(q)
            chance += 1 / comb(len(q.content["options"]), _choose(q))
        scores.append(StrategyScore(name, question_type, len(questions), expected, chance))
    return scores


def _cue_shares(keyed: list[QuestionSpec]) -> list[CueShare]:
    shares = []
    for cue, measure in CUES.items():
        keys: list[float] = []
        distractors: list[float] = []
        for q in keyed:
            for o in q.content["options"]:
                role = keys if o["id"] in q.content["key"] else distractors
                role.append(measure(q, o))
        shares.append(
            CueShare(
                cue,
                len(keys),
                sum(keys) / len(keys) if keys else 0.0,
                len(distractors),
                sum(distractors) / len(distractors) if distractors else 0.0,
            )
        )
    return shares


def figures(questions: Iterable[QuestionSpec], scope: str) -> Figures:
    """Every test-wiseness figure of a set of questions (the bank or one file)."""
    by_type: dict[str, list[QuestionSpec]] = {t: [] for t in TYPE_ORDER}
    for q in questions:
        by_type[q.type].append(q)
    strategies = [
        score
        for question_type in ("single", "multiple")
        if by_type[question_type]
        for score in _strategy_scores(question_type, by_type[question_type])
    ]
    if by_type["matching"]:
        credits = [_matching_credit(q) for q in by_type["matching"]]
        strategies.append(
            StrategyScore(
                "match-shared-words",
                "matching",
                len(credits),
                sum(c for c, _ in credits),
                sum(c for _, c in credits),
            )
        )
    return Figures(
        scope,
        {t: len(qs) for t, qs in by_type.items()},
        _extremes(by_type["single"]),
        strategies,
        _cue_shares(by_type["single"] + by_type["multiple"]),
    )


def scopes(bank: Bank) -> list[tuple[str | None, Figures]]:
    """The whole bank's figures (file None) followed by each file's."""
    files = sorted({q.file for q in bank.questions})
    return [(None, figures(bank.questions, "the bank"))] + [
        (file, figures((q for q in bank.questions if q.file == file), file)) for file in files
    ]


def _extreme_fails(file: str | None, x: KeyExtreme) -> bool:
    judged = file is None or x.questions >= MIN_PER_FILE
    excess = x.count - x.chance
    return judged and x.share > x.limit + EPSILON and excess >= MIN_EXCESS - EPSILON


def _strategy_fails(file: str | None, s: StrategyScore) -> bool:
    judged = file is None or s.questions >= MIN_PER_FILE
    excess = s.expected - s.chance
    return judged and s.margin > CHANCE_MARGIN + EPSILON and excess >= MIN_EXCESS - EPSILON


def _cue_fails(file: str | None, fig: Figures, c: CueShare) -> bool:
    if file is not None and fig.keys < MIN_KEYS_PER_FILE:
        return False
    if c.cue == "key-echo":
        return -c.gap > ECHO_GAP_LIMIT + EPSILON
    return abs(c.gap) > CUE_GAP_LIMIT + EPSILON


def _judge(file: str | None, fig: Figures) -> list[Finding]:
    """The findings of one scope; a file is judged only on large enough samples."""
    where = "in this file" if file else "in the bank"
    findings = [
        Finding(
            f"key-{x.extreme}",
            f"the key is strictly the {x.extreme} option in {x.count} of {x.questions} "
            f"single questions {where} ({x.share:.0%} > {x.limit:.0%}, chance + 5 points); "
            + STRATEGY_ADVICE[f"pick-{x.extreme}"],
            file=file,
        )
        for x in fig.extremes
        if _extreme_fails(file, x)
    ]
    findings += [
        Finding(
            s.strategy,
            f"{_strategy_text(s)} scores {s.expected / s.questions:.0%} on the "
            f"{s.questions} {s.question_type} questions {where} "
            f"({s.expected:.1f} expected right) against {s.chance / s.questions:.0%} by "
            f"blind chance: {s.margin * 100:+.1f} points > +5; {STRATEGY_ADVICE[s.strategy]}",
            file=file,
        )
        for s in fig.strategies
        if _strategy_fails(file, s)
    ]
    findings += [
        Finding(c.cue, _cue_text(c, where), file=file) for c in fig.cues if _cue_fails(file, fig, c)
    ]
    return findings


def _strategy_text(s: StrategyScore) -> str:
    if s.strategy == "match-shared-words":
        return "matching each prompt to the choice sharing most words with it"
    text = STRATEGIES[s.strategy][1]
    if s.question_type == "single":
        return text.format(the="the", opt="option")
    return text.format(the="the N", opt="options")


def _cue_text(c: CueShare, where: str) -> str:
    if c.cue == "key-echo":
        return (
            f"on average {c.key_share:.0%} of a key's content words {where} repeat the stem, "
            f"{c.distractor_share:.0%} of a distractor's ({c.keys} keys, {c.distractors} "
            f"distractors; words every option shares aside): {-c.gap * 100:+.1f} points > "
            f"+{ECHO_GAP_LIMIT * 100:.0f}; keep the stem's words out of keys, or share them "
            "with distractors"
        )
    what, advice = {
        "absolute-words": (
            "an absolute word (always, never, only, every, all, must, ...)",
            "remove absolute words from options, or use them as often in keys",
        ),
        "reason-clauses": (
            "a reason clause (because, since, so that, which ensures, ...)",
            "leave reasons to the rationales",
        ),
    }[c.cue]
    return (
        f"{c.distractor_share:.0%} of the {c.distractors} distractors {where} carry {what}, "
        f"{c.key_share:.0%} of the {c.keys} keys: a gap of {abs(c.gap) * 100:.1f} points > "
        f"{CUE_GAP_LIMIT * 100:.0f}; {advice}"
    )


def testwise_findings(bank: Bank) -> list[Finding]:
    """The test-wiseness findings of the whole bank and of each file."""
    return [f for file, fig in scopes(bank) for f in _judge(file, fig)]


def figures_report(bank: Bank) -> str:
    """The test-wiseness figures of the bank and of each file, judged or not, as text."""
    lines = [
        "Strategies: expected questions fully right / questions, the score, blind chance's",
        "  score, and the margin in points (fails above +5).",
        "Cues, over the keys and distractors of single and multiple questions: the share",
        "  carrying the cue (key-echo: the mean share of an option's words repeating the",
        "  stem) and the gap, distractors minus keys (fails beyond 5 either way; key-echo:",
        "  below -5).",
        "",
    ]
    for file, fig in scopes(bank):
        counts = ", ".join(f"{n} {t}" for t, n in fig.types.items() if n)
        lines.append(f"{fig.scope}: {counts}")
        for x in fig.extremes:
            lines.append(
                f"  key-{x.extreme:<19}{'single':<10}{x.count:5d}/{x.questions:<4d}"
                f"{x.share:6.1%}  chance {x.chance / x.questions:5.1%}  limit {x.limit:5.1%}"
                + _mark(_extreme_fails(file, x), file is None or x.questions >= MIN_PER_FILE)
            )
        for s in fig.strategies:
            lines.append(
                f"  {s.strategy:<23}{s.question_type:<10}{s.expected:5.1f}/{s.questions:<4d}"
                f"{s.expected / s.questions:6.1%}  chance {s.chance / s.questions:5.1%}  "
                f"{s.margin * 100:+5.1f} points"
                + _mark(_strategy_fails(file, s), file is None or s.questions >= MIN_PER_FILE)
            )
        for c in fig.cues:
            lines.append(
                f"  {c.cue:<23}{'keys':<10}{c.keys:5d} {c.key_share:6.1%}  "
                f"distractors {c.distractors:4d} {c.distractor_share:6.1%}  "
                f"gap {c.gap * 100:+5.1f} points"
                + _mark(_cue_fails(file, fig, c), file is None or fig.keys >= MIN_KEYS_PER_FILE)
            )
    return "\n".join(lines) + "\n"


def _mark(fails: bool, judged: bool) -> str:
    return "  FAIL" if fails else "" if judged else "  (too few to judge)"


def lint_bank(bank: Bank, min_per_objective: int = 10) -> list[Finding]:
    """Every finding of every rule on a bank that has passed validation."""
    findings = (
        coverage(bank, min_per_objective)
        + key_position(bank)
        + near_duplicates(bank)
        + duplicate_keys(bank)
        + testwise_findings(bank)
        + template_findings(bank)
    )
    for q in bank.questions:
        findings.extend(per_question(q))
    return findings


def template_findings(bank: Bank, draws: int = templates.LINT_DRAWS) -> list[Finding]:
    """template: every question template drawn `draws` times (`templates.lint_draws`): a
    draw passing the constraints must not fail an expression, repeat an option text or
    break the key, and at least 10% of draws must pass the constraints."""
    return [
        _finding("template", problem, q)
        for q in bank.questions
        if "template" in q.content
        for problem in templates.lint_draws(q.content, draws)
    ]
