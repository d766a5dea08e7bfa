"""Each quality rule of `bank lint` catches a bank that breaks it, and passes one that doesn't."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exam_service.bank.lint import (
    Finding,
    crossed_out_credit,
    extreme_size,
    figures_report,
    lint_bank,
    top_n_credit,
)
from exam_service.bank.loader import load_bank
from exam_service.bank.stats import stats_table
from exam_service.cli import main
from tests.conftest import FIXTURE_BANK

NATO = ["Alpha", "Bravo", "Gamma", "Delta", "Hotel", "Kilos"]  # all five letters long
FILE = "questions/lint.yaml"
MULTIPLE_STEMS = [
    "A clinic triages patient messages by urgency",
    "A carrier prices parcels from size and distance",
    "A school predicts which pupils need tutoring",
    "A utility estimates household power usage",
    "A museum labels scanned paintings by era",
    "A brewery schedules tank cleaning from sensor logs",
    "A ferry operator forecasts crossings cancelled by wind",
    "A library suggests titles to returning borrowers",
    "A vineyard grades grape batches from photographs",
    "A council routes pothole reports to repair crews",
    "A dairy predicts milk yield per herd",
    "A cinema chain sets ticket prices per showing",
]
STEMS = [
    "A retailer forecasts weekly demand for ten thousand products",
    "A hospital classifies chest images into four conditions",
    "A bank scores loan applications for default risk",
    "A factory detects defects on a moving assembly line",
    "A streaming service recommends films from viewing history",
    "A logistics firm groups depots by delivery patterns",
    "An insurer flags unusual claims for manual review",
    "A publisher tags articles by topic automatically",
]


def plain(i: int, count: int = 4) -> list[str]:
    """Options of one length that share no word with each other or with other questions."""
    return [f"{NATO[o]}{i}" for o in range(count)]


def single(qid: str, key: int, stem: str, texts: list[str], objective: str = "D2.1.1") -> str:
    options = []
    for index, text in enumerate(texts):
        correct = "\n        correct: true" if index == key else ""
        options.append(
            f"      - text: {text}{correct}\n        rationale: Says why option {index} is so."
        )
    return (
        f"  - id: {qid}\n    type: single\n    objectives: [{objective}]\n"
        f"    difficulty: easy\n    source: Comparison Tables\n    stem: {stem}\n    options:\n"
        + "\n".join(options)
        + "\n    explanation: Because the guide says so.\n"
    )


def multiple(qid: str, keys: set[int], texts: list[str], stem: str = MULTIPLE_STEMS[0]) -> str:
    options = []
    for index, text in enumerate(texts):
        correct = "\n        correct: true" if index in keys else ""
        options.append(
            f"      - text: {text}{correct}\n        rationale: Says why option {index} is so."
        )
    return (
        f"  - id: {qid}\n    type: multiple\n    choose: {len(keys)}\n    objectives: [D2.2.3]\n"
        f"    difficulty: medium\n    source: Key Terms & Glossary\n"
        f"    stem: {stem}; which two apply? (Choose two.)\n    options:\n"
        + "\n".join(options)
        + "\n    explanation: Both keys apply.\n"
    )


def matching(qid: str, pairs: list[tuple[str, str]], spares: list[str]) -> str:
    prompts = "".join(
        f"      - {{text: {prompt}, match: c{i}, rationale: Pair {i} belongs together.}}\n"
        for i, (prompt, _) in enumerate(pairs)
    )
    choices = "".join(
        f"      - {{id: c{i}, text: {choice}}}\n" for i, (_, choice) in enumerate(pairs)
    )
    choices += "".join(f"      - {{id: s{i}, text: {spare}}}\n" for i, spare in enumerate(spares))
    return (
        f"  - id: {qid}\n    type: matching\n    objectives: [D2.1.3]\n    difficulty: easy\n"
        f"    source: Hierarchical Outline\n    stem: Match each case of {qid} to its answer.\n"
        f"    prompts:\n{prompts}    choices:\n{choices}"
        "    explanation: Each pair belongs together.\n"
    )


def bank_with(tmp_path: Path, body: str, **other_files: str) -> Path:
    root = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, root)
    (root / "questions" / "starter.yaml").unlink()
    (root / "questions" / "lint.yaml").write_text("questions:\n" + body, encoding="utf-8")
    for name, text in other_files.items():
        (root / "questions" / f"{name}.yaml").write_text("questions:\n" + text, encoding="utf-8")
    bank = load_bank(root)
    assert bank.problems == [], bank.problems
    return root


def rules(root: Path) -> list[Finding]:
    return list(lint_bank(load_bank(root), min_per_objective=0))


def where(findings: list[Finding]) -> set[tuple[str, str | None]]:
    """(rule, file) of each finding: file None for the whole bank."""
    return {(f.rule, f.file) for f in findings}


def singles(texts_of: list[list[str]] | None = None, keys: list[int] | None = None) -> str:
    """Eight single questions on their own stems; keys rotate over the positions."""
    return "".join(
        single(
            f"q{i}",
            keys[i] if keys else i % 4,
            STEMS[i],
            texts_of[i] if texts_of else plain(i),
        )
        for i in range(len(STEMS))
    )


def test_a_balanced_bank_passes(tmp_path: Path) -> None:
    assert rules(bank_with(tmp_path, singles())) == []


def test_key_position(tmp_path: Path) -> None:
    findings = rules(bank_with(tmp_path, singles(keys=[0, 0, 0, 0, 0, 1, 2, 3])))
    assert [f.rule for f in findings] == ["key-position"]
    assert "position 1 holds the key in 5 of 8" in findings[0].message


# --- length --------------------------------------------------------------------------


def lengthened(keyed: int, extreme: str) -> list[list[str]]:
    """Eight questions; in the first `keyed` the key is strictly the `extreme` option, in
    the rest a distractor is."""
    texts_of = []
    for i in range(len(STEMS)):
        texts, key = plain(i), i % 4
        odd = key if i < keyed else (key + 1) % 4
        if extreme == "longest":
            texts[odd] = f"{texts[odd]} {texts[odd]} {texts[odd]}"
        else:
            texts = [t if o == odd else f"{t} {t} {t}" for o, t in enumerate(texts)]
        texts_of.append(texts)
    return texts_of


@pytest.mark.parametrize("extreme", ["longest", "shortest"])
def test_key_strictly_longest_or_shortest(tmp_path: Path, extreme: str) -> None:
    findings = rules(bank_with(tmp_path, singles(lengthened(4, extreme))))
    assert where(findings) == {
        (f"key-{extreme}", None),
        (f"pick-{extreme}", None),
        (f"key-{extreme}", FILE),
        (f"pick-{extreme}", FILE),
    }
    bank_wide = [f for f in findings if f.rule == f"key-{extreme}" and f.file is None]
    assert f"strictly the {extreme} option in 4 of 8 single questions in the bank" in (
        bank_wide[0].message
    )
    assert "(50% > 30%" in bank_wide[0].message
    strategy = next(f for f in findings if f.rule == f"pick-{extreme}" and f.file == FILE)
    assert str(strategy).startswith(
        f"{FILE}: pick-{extreme}: picking the {extreme} option scores 50%"
    )
    assert "against 25% by blind chance: +25.0 points > +5" in strategy.message


@pytest.mark.parametrize("extreme", ["longest", "shortest"])
def test_key_at_an_extreme_as_often_as_chance_passes(tmp_path: Path, extreme: str) -> None:
    assert rules(bank_with(tmp_path, singles(lengthened(2, extreme)))) == []


def test_a_tie_gives_its_share_of_credit() -> None:
    assert top_n_credit({"a": 1, "b": 1, "c": 0}, {"a"}, 1) == 0.5
    assert top_n_credit({"a": 3, "b": 2, "c": 2, "d": 1}, {"a", "b"}, 2) == 0.5
    assert top_n_credit({"a": 3, "b": 2, "c": 2, "d": 1}, {"a", "d"}, 2) == 0.0
    assert top_n_credit({"a": 0, "b": 0, "c": 0, "d": 0, "e": 0}, {"a", "b"}, 2) == 0.1


def ranked(i: int, keys_at: tuple[int, int], count: int = 5) -> str:
    """A multiple question with `count` options of 1 to `count` words (option o has o + 1)
    and its keys at the two given ranks of that length order."""
    texts = [" ".join([f"{NATO[o]}{i}"] * (o + 1)) for o in range(count)]
    return multiple(f"m{i}", set(keys_at), texts, MULTIPLE_STEMS[i])


def test_pick_n_shortest_on_multiple_questions(tmp_path: Path) -> None:
    shortest = [(0, 1), (0, 1), (0, 1), (1, 3), (2, 4)]  # the two shortest keyed thrice
    body = "".join(ranked(i, at) for i, at in enumerate(shortest))
    findings = rules(bank_with(tmp_path, singles() + body))
    assert where(findings) == {("pick-shortest", None), ("pick-shortest", FILE)}
    assert "picking the N shortest options scores 60% on the 5 multiple questions in the bank" in (
        findings[0].message
    )
    assert "(3.0 expected right) against 10% by blind chance: +50.0 points" in findings[0].message


def test_multiple_keys_spread_over_the_length_order_pass(tmp_path: Path) -> None:
    spread = [(0, 2), (1, 3), (2, 4), (0, 3), (1, 4)]  # never the two shortest or longest
    body = "".join(ranked(i, at) for i, at in enumerate(spread))
    assert rules(bank_with(tmp_path, singles() + body)) == []


def test_one_question_given_away_among_six_is_not_a_pattern(tmp_path: Path) -> None:
    # picking the two shortest scores 1 of 6 against 0.6 by chance: 6.7 points, less than
    # one whole question
    spread = [(0, 1), (0, 2), (1, 3), (2, 4), (0, 3), (1, 4)]
    body = "".join(ranked(i, at) for i, at in enumerate(spread))
    assert rules(bank_with(tmp_path, singles() + body)) == []
    report = figures_report(load_bank(bank_with(tmp_path / "again", singles() + body)))
    assert "  pick-shortest          multiple    1.0/6    16.7%  chance 10.0%   +6.7 points\n" in (
        report
    )


def by_length(key_ranks: list[int]) -> str:
    """Eight single questions with options of 1-4 words; question i's key is the option at
    rank key_ranks[i] of that length order (0 the shortest) and sits at position i % 4."""
    texts_of = []
    for i, rank in enumerate(key_ranks):
        words = [" ".join([f"{NATO[o]}{i}"] * (o + 1)) for o in range(4)]
        shift = (rank - i) % 4  # position p holds rank (p + shift) % 4
        texts_of.append(words[shift:] + words[:shift])
    return singles(texts_of)


def test_keys_kept_in_the_middle_of_the_length_order(tmp_path: Path) -> None:
    # never the shortest nor the longest, so key-shortest and key-longest see nothing
    findings = rules(bank_with(tmp_path, by_length([1, 2] * 4)))
    assert where(findings) == {("pick-middle", None), ("pick-middle", FILE)}
    assert findings[0].message.startswith(
        "crossing out the shortest and the longest option and guessing among the rest "
        "scores 50% on the 8 single questions in the bank (4.0 expected right) against 25% "
        "by blind chance: +25.0 points > +5"
    )


def test_keys_at_each_end_as_often_as_chance_pass(tmp_path: Path) -> None:
    # two shortest, two longest, four in the middle: every length strategy scores 25%
    assert rules(bank_with(tmp_path, by_length([0, 1, 2, 3, 2, 1, 3, 0]))) == []


def test_multiple_keys_kept_off_both_ends_of_the_length_order(tmp_path: Path) -> None:
    middle = [(1, 2), (2, 3), (1, 3), (1, 2), (2, 3)]  # never the shortest or the longest
    body = "".join(ranked(i, at) for i, at in enumerate(middle))
    findings = rules(bank_with(tmp_path, singles() + body))
    assert where(findings) == {("pick-middle", None), ("pick-middle", FILE)}
    assert (
        "crossing out the shortest and the longest options and guessing among the rest scores "
        "33% on the 5 multiple questions in the bank (1.7 expected right) against 10% by "
        "blind chance: +23.3 points > +5" in findings[0].message
    )


@pytest.mark.parametrize("end", ["shortest", "longest"])
def test_multiple_keys_kept_off_one_end_only(tmp_path: Path, end: str) -> None:
    # six options, choose two: the two shortest (longest) never keyed, the other end keyed
    # as often as the middle, so only crossing out that one end finds the pattern
    away = [(2, 5), (3, 5), (2, 4), (3, 4)] * 3
    if end == "longest":
        away = [(5 - a, 5 - b) for a, b in away]
    body = "".join(ranked(i, at, count=6) for i, at in enumerate(away))
    findings = rules(bank_with(tmp_path, singles() + body))
    assert where(findings) == {(f"drop-{end}", None), (f"drop-{end}", FILE)}
    assert (
        f"crossing out the {end} options and guessing among the rest scores 17% on the 12 "
        "multiple questions in the bank (2.0 expected right) against 7% by blind chance: "
        "+10.0 points > +5" in findings[0].message
    )


def test_crossing_out_an_end_of_the_length_order_splits_ties_fairly() -> None:
    lengths = {"a": 10, "b": 20, "c": 30, "d": 40}
    assert crossed_out_credit(lengths, {"b"}, 1, 1, 1) == 0.5
    assert crossed_out_credit(lengths, {"d"}, 1, 1, 1) == 0.0
    assert crossed_out_credit(lengths, {"d"}, 1, 1, 0) == pytest.approx(1 / 3)
    # a and b tie for the shortest: one of them, at random, is crossed out
    tied = {"a": 10, "b": 10, "c": 30, "d": 40}
    assert crossed_out_credit(tied, {"a"}, 1, 1, 1) == 0.25
    assert crossed_out_credit(tied, {"c"}, 1, 1, 1) == 0.5
    # equal lengths tell nothing: blind chance, 1 / 4 and 1 / C(5, 2)
    assert crossed_out_credit(dict.fromkeys("abcd", 7), {"a"}, 1, 1, 1) == 0.25
    same = dict.fromkeys("abcde", 7)
    assert crossed_out_credit(same, {"a", "b"}, 2, 1, 1) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("options", "choose", "size"),
    [(4, 1, 1), (3, 1, 1), (2, 1, 0), (5, 2, 1), (6, 2, 2), (6, 3, 1), (5, 3, 1)],
)
def test_each_end_leaves_enough_options_to_pick_from(options: int, choose: int, size: int) -> None:
    assert extreme_size(options, choose) == size
    assert options - 2 * size >= choose


def test_a_small_file_counts_in_the_bank_but_is_not_judged_alone(tmp_path: Path) -> None:
    shortest = [(0, 1)] * 4  # four multiple questions: fewer than the five a file needs
    body = "".join(ranked(i, at) for i, at in enumerate(shortest))
    root = bank_with(tmp_path, singles(), small=body)
    findings = rules(root)
    assert where(findings) == {("pick-shortest", None)}
    assert "on the 4 multiple questions in the bank" in findings[0].message
    report = figures_report(load_bank(root))
    small = report.split("questions/small.yaml")[1]
    assert "pick-shortest          multiple    4.0/4   100.0%" in small
    assert "(too few to judge)" in small


# --- cue words ---------------------------------------------------------------------------


def cued(words: list[str], cue_words: list[str], cued_questions: int, on_key: bool) -> str:
    """Eight single questions whose options end in a word of one length; in the first
    `cued_questions`, the key (or two distractors) take the cue words instead."""
    texts_of = []
    for i in range(len(STEMS)):
        key = i % 4
        texts = [f"{NATO[o]}{i} {words[o]}" for o in range(4)]
        if i < cued_questions:
            targets = [key] if on_key else [(key + 1) % 4, (key + 2) % 4]
            for target, cue in zip(targets, cue_words, strict=False):
                texts[target] = f"{NATO[target]}{i} {cue}"
        texts_of.append(texts)
    return singles(texts_of)


def test_absolute_words_in_distractors(tmp_path: Path) -> None:
    neutral = ["mostly", "partly", "slowly", "gently"]
    findings = rules(bank_with(tmp_path, cued(neutral, ["always", "solely"], 4, False)))
    # eight keys are too few to judge the file's shares; its strategy score is judged
    assert where(findings) == {
        ("absolute-words", None),
        ("drop-absolute", None),
        ("drop-absolute", FILE),
    }
    share = next(f for f in findings if f.rule == "absolute-words")
    assert share.message.startswith(
        "33% of the 24 distractors in the bank carry an absolute word (always, never, only"
    )
    assert "0% of the 8 keys: a gap of 33.3 points > 5" in share.message
    strategy = next(f for f in findings if f.rule == "drop-absolute" and f.file is None)
    assert "scores 38% on the 8 single questions in the bank" in strategy.message


def test_reason_clauses_in_distractors(tmp_path: Path) -> None:
    neutral = ["quickly", "roughly", "lightly", "briskly"]
    findings = rules(bank_with(tmp_path, cued(neutral, ["because", "thereby"], 4, False)))
    assert where(findings) == {
        ("reason-clauses", None),
        ("drop-reason", None),
        ("drop-reason", FILE),
    }
    share = next(f for f in findings if f.rule == "reason-clauses")
    assert "carry a reason clause (because, since, so that" in share.message


def test_reason_clauses_in_keys_give_the_key_away_too(tmp_path: Path) -> None:
    neutral = ["quickly", "roughly", "lightly", "briskly"]
    findings = rules(bank_with(tmp_path, cued(neutral, ["because"], 3, True)))
    assert where(findings) == {("reason-clauses", None)}
    assert "0% of the 24 distractors" in findings[0].message
    assert "38% of the 8 keys: a gap of 37.5 points > 5" in findings[0].message


def test_cue_words_shared_evenly_pass(tmp_path: Path) -> None:
    neutral = ["mostly", "partly", "slowly", "gently"]
    texts_of = [[f"{NATO[o]}{i} {neutral[o]}" for o in range(4)] for i in range(len(STEMS))]
    for i, texts in enumerate(texts_of):  # the key in two questions, a distractor in six
        said = i % 4 if i < 2 else (i + 1) % 4
        texts[said] = f"{NATO[said]}{i} always"
    assert rules(bank_with(tmp_path, singles(texts_of))) == []  # 25% of keys and distractors


# --- the stem and the other options --------------------------------------------------------

ECHOES = [  # a word of the stem, then three words of its length that the stem lacks
    ["demand", "supply", "market", "budget"],
    ["images", "sounds", "tables", "graphs"],
    ["default", "balance", "payment", "account"],
    ["defects", "outputs", "repairs", "budgets"],
    ["films", "songs", "books", "games"],
    ["depots", "trucks", "routes", "fleets"],
    ["claims", "quotes", "agents", "policy"],
    ["topic", "genre", "style", "title"],
]


def test_key_echoing_the_stem(tmp_path: Path) -> None:
    texts_of = []
    for i, words in enumerate(ECHOES):
        key = i % 4
        others = iter(words[1:])
        texts_of.append([words[0] if o == key else next(others) for o in range(4)])
    findings = rules(bank_with(tmp_path, singles(texts_of)))
    assert where(findings) == {
        ("pick-stem-echo", None),
        ("pick-stem-echo", FILE),
        ("key-echo", None),
    }
    echo = next(f for f in findings if f.rule == "key-echo")
    assert echo.message.startswith(
        "on average 100% of a key's content words in the bank repeat the stem, 0% of a distractor's"
    )


def test_stem_words_in_every_option_tell_nothing(tmp_path: Path) -> None:
    texts_of = [
        [f"{NATO[o]}{i} {STEMS[i].split()[1]}" for o in range(4)] for i in range(len(STEMS))
    ]
    assert rules(bank_with(tmp_path, singles(texts_of))) == []


def test_distractors_built_as_variants_of_the_key(tmp_path: Path) -> None:
    texts_of = []
    for i in range(len(STEMS)):
        a, b, c, d, e, f = (f"{NATO[o]}{i}" for o in range(6))
        texts = [f"{a} {c}", f"{b} {d}", f"{e} {f}"]  # two variants of the key, one apart
        texts.insert(i % 4, f"{a} {b}")  # the key shares a word with two distractors
        texts_of.append(texts)
    findings = rules(bank_with(tmp_path, singles(texts_of)))
    assert where(findings) == {("pick-convergent", None), ("pick-convergent", FILE)}
    assert (
        "picking the option sharing most words with the others scores 100%" in findings[0].message
    )


def test_every_distractor_repeating_a_phrase_the_key_lacks(tmp_path: Path) -> None:
    texts_of = []
    for i in range(len(STEMS)):
        key = i % 4
        texts_of.append(
            [
                f"{NATO[o]}{i} {NATO[4]}{i}" if o == key else f"{NATO[o]}{i} {NATO[5]}{i}"
                for o in range(4)
            ]
        )
    findings = rules(bank_with(tmp_path, singles(texts_of)))
    assert where(findings) == {("pick-odd-one-out", None), ("pick-odd-one-out", FILE)}


# --- matching ---------------------------------------------------------------------------


def test_matching_prompts_that_share_a_word_with_their_choice(tmp_path: Path) -> None:
    body = "".join(
        matching(
            f"t{i}",
            [(f"When {NATO[p]}{i} is used", f"{NATO[p]}{i}") for p in range(3)],
            [f"{NATO[3]}{i}"],
        )
        for i in range(5)
    )
    findings = rules(bank_with(tmp_path, singles() + body))
    assert where(findings) == {("match-shared-words", None), ("match-shared-words", FILE)}
    assert findings[0].message.startswith(
        "matching each prompt to the choice sharing most words with it scores 100% on the 5 "
        "matching questions in the bank"
    )
    assert "against 25% by blind chance: +75.0 points" in findings[0].message


def test_matching_prompts_worded_apart_from_their_choices_pass(tmp_path: Path) -> None:
    body = "".join(
        matching(
            f"t{i}",
            [(f"When {NATO[p]}{i} is used", f"{NATO[p + 3]}{i}") for p in range(3)],
            [f"Zulu{i}"],
        )
        for i in range(5)
    )
    assert rules(bank_with(tmp_path, singles() + body)) == []


def test_matching_needs_a_spare_choice(tmp_path: Path) -> None:
    body = matching("t0", [(f"Case {NATO[p]}", f"Answer {NATO[p + 3]}") for p in range(3)], [])
    findings = rules(bank_with(tmp_path, singles() + body))
    assert [(f.rule, f.question_id) for f in findings] == [("matching-spare", "t0")]
    assert str(findings[0]).startswith(f"{FILE}:")
    assert "3 choices for 3 prompts: add at least one spare choice" in findings[0].message


# --- same fact twice -------------------------------------------------------------------------


def test_two_keys_saying_the_same_thing_for_one_objective(tmp_path: Path) -> None:
    body = singles() + single(
        "q-bedrock-a",
        0,
        "A travel site drafts hotel descriptions with no servers to manage",
        ["Bedrock serverless foundation models", "JumpStart hosted endpoint", "EC2 GPU fleet"],
        "D2.1.4",
    )
    body += single(
        "q-bedrock-b",
        1,
        "A bank summarises call transcripts overnight at low volume",
        ["Custom Script Mode job", "Bedrock foundation models, serverless", "Batch transform"],
        "D2.1.4",
    )
    findings = [f for f in rules(bank_with(tmp_path, body)) if f.rule == "near-duplicate-key"]
    assert [(f.question_id, f.line) for f in findings] == [("q-bedrock-a", findings[0].line)]
    assert "may test the same fact of D2.1.4 as 'q-bedrock-b' (questions/lint.yaml:" in (
        findings[0].message
    )
    assert "the keys share 100% of their content words" in findings[0].message


def test_the_same_key_for_different_objectives_passes(tmp_path: Path) -> None:
    body = singles() + single(
        "q-bedrock-a", 0, "A travel site drafts hotel texts", plain(10), "D2.1.4"
    )
    body += single("q-bedrock-b", 0, "A bank summarises call transcripts", plain(10), "D2.2.1")
    assert "near-duplicate-key" not in {f.rule for f in rules(bank_with(tmp_path, body))}


# --- the figures --------------------------------------------------------------------------


def test_lint_figures_prints_every_figure_for_the_bank_and_each_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = bank_with(tmp_path, singles(lengthened(4, "shortest")))
    assert main(["bank", "lint", "--figures", str(root)]) == 1
    out, err = capsys.readouterr()
    bank_part, file_part = out.split(f"{FILE}:")
    assert "\nthe bank: 8 single\n" in bank_part
    for line in (
        "  key-shortest           single        4/8    50.0%  chance 25.0%  limit 30.0%  FAIL",
        "  pick-shortest          single      4.0/8    50.0%  chance 25.0%  +25.0 points  FAIL",
        "  pick-longest           single      1.3/8    16.7%  chance 25.0%   -8.3 points",
        "  pick-middle            single      1.3/8    16.7%  chance 25.0%   -8.3 points",
        "  drop-shortest          single      1.3/8    16.7%  chance 25.0%   -8.3 points",
        "  drop-longest           single      2.2/8    27.8%  chance 25.0%   +2.8 points",
        "  absolute-words         keys          8   0.0%  distractors   24   0.0%  gap  +0.0 "
        "points",
    ):
        assert line in bank_part, bank_part
    assert "  pick-shortest          single      4.0/8    50.0%" in file_part
    assert "absolute-words" in file_part and "(too few to judge)" in file_part
    assert f"{FILE}: pick-shortest: picking the shortest option scores 50%" in err


@pytest.mark.parametrize("code", ["D2.1.3", "D2.2.4"])
def test_stats_counts_each_question_once_under_its_primary_objective(code: str) -> None:
    table = stats_table(load_bank(FIXTURE_BANK))
    rows = {
        line.split("|")[1].strip().strip("*"): line
        for line in table.splitlines()[2:]
        if "|" in line
    }
    assert rows[code].endswith("| 1 |")
    assert rows["MLA-C01"].split("|")[3:8] == [" 4 ", " 1 ", " 1 ", " 1 ", " 7 "]
    assert table.endswith("7 questions, 1 cases.\n")


def test_coverage_per_leaf_objective(tmp_path: Path) -> None:
    bank = load_bank(bank_with(tmp_path, singles()))
    findings = [f for f in lint_bank(bank, min_per_objective=10) if f.rule == "coverage"]
    codes = {f.message.split()[1] for f in findings}
    assert "D2.1.1" in codes  # has 8 of the 10 it needs
    assert any("D2.1.1" in f.message and "write at least 2 more" in f.message for f in findings)
    assert "D2.1" not in codes and "D1" not in codes  # tasks and uncovered domains are exempt
    assert len(codes) == 14


def test_near_duplicate_stems(tmp_path: Path) -> None:
    copy = single(
        "q-copy", 1, "A retailer forecasts the weekly demand for ten thousand products", plain(9)
    )
    findings = rules(bank_with(tmp_path, singles() + copy))
    assert [f.rule for f in findings] == ["near-duplicate"]
    assert findings[0].question_id == "q0" and "'q-copy'" in findings[0].message


def test_all_or_none_of_the_above(tmp_path: Path) -> None:
    texts = ["Alpha9", "Bravo9", "Gamma9", "None of the above"]
    findings = rules(bank_with(tmp_path, singles() + single("q-above", 2, "A telco", texts)))
    assert ("above", "q-above") in {(f.rule, f.question_id) for f in findings}


def test_multiple_must_state_how_many(tmp_path: Path) -> None:
    body = multiple("m0", {0, 2}, plain(9, 5)).replace("(Choose two.)", "(Choose three.)")
    findings = rules(bank_with(tmp_path, singles() + body))
    assert [(f.rule, f.question_id) for f in findings] == [("choose-stated", "m0")]
    assert "(Choose two.)" in findings[0].message


def test_rationale_must_explain(tmp_path: Path) -> None:
    extra = single("q-lazy", 3, "A telco predicts churn", plain(9)).replace(
        "rationale: Says why option 1 is so.", "rationale: Wrong."
    )
    findings = rules(bank_with(tmp_path, singles() + extra))
    assert [(f.rule, f.question_id) for f in findings] == [("rationale", "q-lazy")]
