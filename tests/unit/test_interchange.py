"""Importing GIFT, Aiken, Moodle XML and bank YAML: every construct and every error class,
read from hand-written files under tests/fixtures/interchange/."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from exam_service.bank.formats.common import Issue, split_category
from exam_service.bank.formats.html_text import html_to_text
from exam_service.bank.interchange import ParsedImport, guess_format, parse_import
from exam_service.bank.loader import ObjectiveSpec, QuestionSpec, load_bank
from tests.conftest import FIXTURE_BANK

SAMPLES = Path(__file__).parents[1] / "fixtures" / "interchange"
OBJECTIVES = load_bank(FIXTURE_BANK).objectives
GIFT_MAPPING = {"Week 2/Training": "D2.2.3"}
XML_MAPPING = {"$course$/top/Week 2/Models // trees": "D2.1.3"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def line_of(name: str, marker: str) -> int:
    for number, line in enumerate(sample(name).decode().splitlines(), 1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {name}")


def run(
    name: str,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    default_objective: str | None = None,
    objectives: list[ObjectiveSpec] = OBJECTIVES,
) -> ParsedImport:
    return parse_import(name, sample(name), fmt, objectives, mapping, default_objective)


def by_id(result: ParsedImport) -> dict[str, QuestionSpec]:
    return {spec.id: spec for spec in result.specs}


def options(spec: QuestionSpec) -> list[tuple[str, bool, str]]:
    key = set(spec.content["key"])
    return [(o["text"], o["id"] in key, o["rationale"]) for o in spec.content["options"]]


def messages(issues: list[Issue]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for issue in issues:
        found.setdefault(issue.where, []).append(issue.message)
    return found


# --- GIFT -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gift() -> ParsedImport:
    return run("constructs.gift", mapping=GIFT_MAPPING)


def test_gift_imports_every_construct_without_errors(gift: ParsedImport) -> None:
    assert gift.format == "gift"
    assert gift.errors == [] and gift.skipped == []
    assert list(by_id(gift)) == [
        "pick-xgboost",
        "escapes",
        "multi-line",
        "pick-xgboost-2",
        "missing-word",
        "imported-66f44ac92b",
        "l1-zeros",
        "l2-zeros",
        "two-regularizers",
        "one-among-weights",
        "partial",
        "match-algorithms",
        "html-stem",
        "markdown",
    ]


def test_gift_single_answer_feedback_tags_and_category(gift: ParsedImport) -> None:
    q = by_id(gift)["pick-xgboost"]
    assert q.type == "single" and q.difficulty == "medium"
    assert q.stem == "Which algorithm is the usual first choice for churn on tabular data?"
    assert options(q) == [
        ("XGBoost", True, "Gradient boosted trees suit tabular data."),
        ("K-Means", False, "K-Means clusters unlabelled data."),
        ("PCA", False, "PCA reduces dimensions."),
    ]
    assert q.content["explanation"] == "Churn is supervised classification on tabular data."
    # The category's last segment is the primary objective; a tag naming one adds it.
    assert q.objectives == ("D2.1.2", "D2.1.3")
    assert q.content["tags"] == ["week-1"]
    assert q.source == "imported from constructs.gift, category $course$/top/MLA-C01/D2/D2.1/D2.1.2"
    assert q.file == "constructs.gift" and q.line == line_of("constructs.gift", "::Pick XGBoost::")


def test_gift_escapes_are_undone_everywhere(gift: ParsedImport) -> None:
    q = by_id(gift)["escapes"]
    assert q.stem == "Which text uses a GIFT escape: ~ = # { } or \\?"
    assert options(q) == [
        ("Backslash~tilde", True, "Right: { and } are escaped too."),
        ("Plain = sign", False, "No."),
        ("A # hash", False, "No."),
    ]
    assert q.content["explanation"] == (
        "All six specials ~ = # { } : take a backslash.\nEven in feedback."
    )


def test_gift_multi_line_question_with_a_comment_inside(gift: ParsedImport) -> None:
    q = by_id(gift)["multi-line"]
    assert (
        q.stem
        == "A model's training loss falls while\nits validation loss rises. What is happening?"
    )
    assert [text for text, _, _ in options(q)] == ["Overfitting", "Underfitting", "Data leakage"]
    assert options(q)[0] == ("Overfitting", True, "The model memorises the training data.")


def test_gift_names_ids_duplicates_and_missing_word(gift: ParsedImport) -> None:
    questions = by_id(gift)
    assert questions["pick-xgboost-2"].stem.startswith("Which algorithm suits click-through")
    assert questions["missing-word"].stem == "SageMaker _____ explains model predictions."
    assert questions["imported-66f44ac92b"].stem.startswith("Which AWS service stores")
    renamed = [w for w in gift.warnings if w.question == "pick-xgboost-2"]
    assert "'pick-xgboost' is used before: imported as 'pick-xgboost-2'" in renamed[0].message


def test_gift_true_false_and_its_two_feedbacks(gift: ParsedImport) -> None:
    true_one, false_one = by_id(gift)["l1-zeros"], by_id(gift)["l2-zeros"]
    # The category names the objective by its title.
    assert true_one.objectives == ("D2.2.3",)
    assert options(true_one) == [
        ("True", True, "Right: that is why L1 selects features."),
        ("False", False, "No: the L1 penalty's corners zero some weights."),
    ]
    assert options(false_one) == [("True", False, ""), ("False", True, "")]
    assert false_one.content["explanation"] == "L2 shrinks weights smoothly."


def test_gift_weights_make_multiple_single_or_drop_partial_credit(gift: ParsedImport) -> None:
    questions = by_id(gift)
    two = questions["two-regularizers"]
    assert two.type == "multiple" and two.content["choose"] == 2
    assert [right for _, right, _ in options(two)] == [True, True, False, False]
    assert two.objectives == ("D2.2.3",)  # through the user's mapping of "Week 2/Training"
    one = questions["one-among-weights"]
    assert one.type == "single" and [r for _, r, _ in options(one)] == [True, False, False]
    partial = questions["partial"]
    assert partial.type == "single" and [r for _, r, _ in options(partial)] == [True, False, False]
    assert (
        "partial credit for answer(s) 2 is not kept"
        in messages(gift.warnings)[f"line {line_of('constructs.gift', '::Partial::')}"][0]
    )


def test_gift_matching_with_a_distractor(gift: ParsedImport) -> None:
    q = by_id(gift)["match-algorithms"]
    assert q.type == "matching" and q.objectives == ("D2.1.3",)
    choices = {c["id"]: c["text"] for c in q.content["choices"]}
    assert [(p["text"], choices[q.content["key"][p["id"]]]) for p in q.content["prompts"]] == [
        ("Group customers without labels", "K-Means"),
        ("Flag unusual sensor readings", "Random Cut Forest"),
        ("Compress correlated features", "PCA"),
    ]
    assert sorted(choices.values()) == ["K-Means", "Linear Learner", "PCA", "Random Cut Forest"]


def test_gift_html_becomes_plain_text_and_markdown_is_kept(gift: ParsedImport) -> None:
    html = by_id(gift)["html-stem"]
    assert html.stem == "Which two words are bold?\nPick one."
    assert options(html) == [
        ("two", True, "It is in bold tags."),
        ("bold", False, "Only two is bold."),
    ]
    assert html.content["explanation"] == 'Bold is "strong" text.'
    assert "<" not in str(html.content) + html.stem and "alert" not in html.stem
    markdown = by_id(gift)["markdown"]
    assert markdown.stem == "Which is **bold** in Markdown?"
    assert options(markdown)[0][0] == "**text**"


def test_gift_missing_feedback_is_a_warning_not_an_error(gift: ParsedImport) -> None:
    found = messages(gift.warnings)
    assert any(
        "no general feedback" in m
        for m in found[f"line {line_of('constructs.gift', 'Multi line')}"]
    )
    at = f"line {line_of('constructs.gift', '::L2 zeros::')}"
    assert any("no feedback for option(s) 1, 2" in m for m in found[at])
    matching = f"line {line_of('constructs.gift', '::Match algorithms::')}"
    assert any("no feedback for prompt(s) 1, 2, 3" in m for m in found[matching])
    assert by_id(gift)["l2-zeros"].content["options"][0]["rationale"] == ""


def test_gift_unsupported_types_are_skipped_with_their_line() -> None:
    result = run("unsupported.gift")
    assert [spec.id for spec in result.specs] == ["kept"]
    assert result.errors == []
    skipped = {issue.question: (issue.where, issue.message) for issue in result.skipped}
    for title, marker, kind in [
        ("essay", "::Essay::", "essay"),
        ("short-answer", "::Short answer::", "short-answer"),
        ("description", "::Description::", "description"),
    ]:
        where, message = skipped[title]
        assert where == f"line {line_of('unsupported.gift', marker)}"
        assert message.startswith("skipped:") and kind in message


GIFT_ERRORS = [
    ("::Unclosed block::", "the answer block opened here is not closed: add '}'"),
    ("::Unclosed title", "the title opened with '::' is not closed"),
    ("::No positive::", "no answer has a positive weight"),
    ("::Two full::", "2 answers give full marks in a one-answer question"),
    ("::Same text::", "two options have the same text"),
    ("::Pair without arrow::", "pair 2 has no '->'"),
    ("::Text first::", "text before the first answer"),
    ("::Two blocks::", "a second answer block"),
    ("::Not true or false::", "{MAYBE} is not an answer block GIFT knows"),
    ("::Stray brace::", "'}' before the answer block"),
    ("::Empty answer::", "answer 1 is empty"),
    ("::Heavy weight::", "answer 1 has weight 150%: use -100 to 100"),
    ("::Only title::", "the question has no text"),
    ("::One pair::", "a matching question needs at least 2 prompts"),
    ("::One option::", "a single question needs at least 2 options"),
    ("::Empty pair answer::", "pair 1 has nothing after '->'"),
]


def test_gift_every_error_is_reported_with_its_line() -> None:
    result = run("errors.gift")
    assert result.specs == []
    found = messages(result.errors)
    for marker, expected in GIFT_ERRORS:
        at = f"line {line_of('errors.gift', marker)}"
        assert any(expected in m for m in found.get(at, [])), (marker, found.get(at))
    assert len(result.errors) == len(GIFT_ERRORS)
    assert str(result.errors[0]) == (
        f"errors.gift line {line_of('errors.gift', '::Unclosed block::')} [unclosed-block]: "
        "the answer block opened here is not closed: add '}' (a blank line ends a question, "
        "so remove blank lines inside { })"
    )


def test_a_category_that_names_no_objective_is_an_error_that_names_it() -> None:
    result = run("constructs.gift")  # no mapping for "Week 2/Training"
    unplaced = [e for e in result.errors if "no objective" in e.message]
    assert {e.question for e in unplaced} == {"two-regularizers", "one-among-weights", "partial"}
    assert "category 'Week 2/Training'" in unplaced[0].message
    assert "pass a mapping" in unplaced[0].message and "default objective" in unplaced[0].message
    assert len(result.specs) == 11


def test_a_default_objective_places_what_nothing_maps() -> None:
    result = run("constructs.gift", default_objective="D2.2.1")
    assert result.errors == []
    assert by_id(result)["partial"].objectives == ("D2.2.1",)
    assert by_id(result)["pick-xgboost"].objectives == ("D2.1.2", "D2.1.3")


def test_a_mapping_wins_over_the_default_rule_and_can_name_a_segment() -> None:
    mapping = {"$course$/top/MLA-C01/D2/D2.1/D2.1.2": "D2.1.5", "Training": "D2.2.2"}
    result = run("constructs.gift", mapping=mapping)
    assert by_id(result)["escapes"].objectives == ("D2.1.5",)
    assert by_id(result)["two-regularizers"].objectives == ("D2.2.2",)


def test_a_mapping_to_an_unknown_objective_is_refused() -> None:
    result = run("constructs.gift", mapping={"Week 2/Training": "D9"}, default_objective="X1")
    assert result.specs == []
    assert [(e.where, e.message.split(":")[0]) for e in result.errors] == [
        ("mapping", "'Week 2/Training' maps to 'D9', which is not an objective code"),
        ("default objective", "'X1' is not an objective code"),
    ]


# --- Aiken ----------------------------------------------------------------------------------


def test_aiken_imports_with_a_default_objective() -> None:
    result = run("quiz.txt", default_objective="D2.1.2")
    assert result.format == "aiken" and result.errors == []
    first, second, third = result.specs
    assert first.id.startswith("imported-") and len(first.id) == len("imported-") + 10
    assert options(first) == [
        ("K-Means", False, ""),
        ("XGBoost", True, ""),
        ("Random Cut Forest", False, ""),
        ("PCA", False, ""),
    ]
    assert second.stem == "A stem spread over\ntwo lines?"
    assert third.stem == "Which service converts speech to text?"
    assert [right for _, right, _ in options(third)] == [False, True]  # "answer: b"
    assert all(spec.objectives == ("D2.1.2",) for spec in result.specs)
    assert len(result.warnings) == 6  # no rationales and no explanation, for each


def test_aiken_without_a_default_objective_says_to_give_one() -> None:
    result = run("quiz.txt")
    assert result.specs == []
    assert [e.where for e in result.errors] == ["line 1", "line 8", "line 13"]
    assert all("default objective" in e.message for e in result.errors)


AIKEN_ERRORS = [  # (the line, which occurrence of it, the message)
    ("Missing answer line", 1, "no 'ANSWER:' line after this question's options"),
    ("ANSWER: C", 1, "'ANSWER: C' names no option: the options are A, B"),
    ("ANSWER: A, B", 1, "Aiken has one right answer per question"),
    ("A. b", 1, "option letter A is used twice"),
    ("A.", 1, "option A is empty"),
    ("ANSWER: A", 2, "'ANSWER:' with no question before it"),
    ("A. Orphan option", 1, "an option with no question before it"),
    ("ANSWER: A", 4, "no options before 'ANSWER:'"),
    ("ANSWER: 1", 1, "'ANSWER: 1' does not name an option"),
    ("Same text twice", 1, "two options have the same text"),
    ("Trailing question with no options", 1, "a question with no options and no 'ANSWER:'"),
]


def test_aiken_every_error_is_reported_with_its_line() -> None:
    result = run("errors-aiken.txt", default_objective="D2.1.2")
    assert result.specs == []
    lines = sample("errors-aiken.txt").decode().splitlines()
    expected = []
    for text, occurrence, message in AIKEN_ERRORS:
        numbers = [number for number, line in enumerate(lines, 1) if line == text]
        expected.append((f"line {numbers[occurrence - 1]}", message))
    assert len(result.errors) == len(expected)
    for error, (where, message) in zip(result.errors, expected, strict=True):
        assert (error.where, message in error.message) == (where, True), error


def test_aiken_reads_options_without_a_space_as_moodle_does() -> None:
    # The fixture follows the cases of Moodle's own sample aiken_errors.txt, in other
    # words: one option only, an option before any question, a good question, a missing
    # ANSWER line, and options written "A)text", whose ANSWER is on line 21.
    result = run("aiken-moodle-cases.txt", default_objective="D2.1.2")
    assert [(e.where, e.message.split(":")[0]) for e in result.errors] == [
        ("line 1", "a single question needs at least 2 options"),
        ("line 5", "an option with no question before it"),
        ("line 14", "no 'ANSWER"),
    ]
    good, tight = result.specs
    assert options(good) == [("Right", True, ""), ("Wrong", False, "")]
    assert tight.stem == "A question whose options have no space after the letter"
    assert options(tight) == [
        ("Wrong, written tight", False, ""),
        ("Right, written tight", True, ""),
    ]


def test_aiken_without_options_says_which_lines_were_read_as_the_question() -> None:
    body = b"Which service stores data?\na) Amazon S3\nb) Amazon Polly\nANSWER: A\n"
    result = parse_import("q.txt", body, "aiken", OBJECTIVES, None, "D2.1.2")
    assert [(e.where, e.message) for e in result.errors] == [
        (
            "line 4",
            "no options before 'ANSWER:' (lines 1-3 were all read as the question's text): "
            "write each option on its own line as 'A. text' or 'A) text', with a capital "
            "letter",
        )
    ]


def test_aiken_a_first_line_like_an_option_without_a_space_is_the_question() -> None:
    body = b"A.I. tools: which one transcribes speech?\nA. Polly\nB. Transcribe\nANSWER: B\n"
    result = parse_import("q.txt", body, "aiken", OBJECTIVES, None, "D2.1.2")
    assert result.errors == []
    assert result.specs[0].stem == "A.I. tools: which one transcribes speech?"


# --- Moodle XML -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moodle() -> ParsedImport:
    return run("quiz.xml", mapping=XML_MAPPING)


def test_moodle_xml_imports_every_supported_type(moodle: ParsedImport) -> None:
    assert moodle.format == "moodle-xml" and moodle.errors == []
    assert list(by_id(moodle)) == [
        "churn-algorithm",
        "two-regularizers",
        "imported-e1dea52faa",
        "l1-zeros",
        "match-algorithms",
        "chart-reading",
        "epochs",
    ]
    epochs = by_id(moodle)["epochs"]  # numerical: its own tests are in test_interchange_numeric
    assert (epochs.type, epochs.content["key"], epochs.content["tolerance"]) == ("numeric", 25, 5)


def test_moodle_xml_cdata_html_and_tags(moodle: ParsedImport) -> None:
    q = by_id(moodle)["churn-algorithm"]
    assert q.stem == (
        "Which algorithm is the usual first choice for churn on tabular data?\n\n"
        "Pick one & only one."
    )
    assert options(q) == [
        ("XGBoost", True, "Gradient boosted trees."),
        ("K-Means", False, "Clusters unlabelled data."),
        ("PCA", False, "Reduces dimensions."),  # escaped HTML is HTML too
    ]
    assert q.content["explanation"] == "Churn is supervised\nclassification."
    assert q.objectives == ("D2.1.2", "D2.1.3") and q.content["tags"] == ["week-1"]
    assert q.line == 0 and q.file == "quiz.xml"


def test_moodle_xml_nested_categories_place_each_question(moodle: ParsedImport) -> None:
    questions = by_id(moodle)
    assert questions["two-regularizers"].objectives == ("D2.1.2",)
    assert questions["l1-zeros"].objectives == ("D2.2.3",)
    assert questions["match-algorithms"].objectives == ("D2.1.3",)  # mapped path with '//'
    assert questions["match-algorithms"].source.endswith(
        "category $course$/top/Week 2/Models // trees"
    )


def test_moodle_xml_weights_true_false_and_matching(moodle: ParsedImport) -> None:
    questions = by_id(moodle)
    two = questions["two-regularizers"]
    assert two.type == "multiple" and two.content["choose"] == 2
    one = questions["imported-e1dea52faa"]  # <single>false</single> but one right answer
    assert one.type == "single"
    assert options(questions["l1-zeros"]) == [("True", True, "Right."), ("False", False, "It can.")]
    matching = questions["match-algorithms"]
    choices = {c["id"]: c["text"] for c in matching.content["choices"]}
    assert [choices[c] for c in matching.content["key"].values()] == [
        "K-Means",
        "Random Cut Forest",
        "PCA",
    ]
    assert "Linear Learner" in choices.values()


def test_moodle_xml_html_loses_media_and_scripts_with_a_warning(moodle: ParsedImport) -> None:
    chart = by_id(moodle)["chart-reading"]
    assert chart.stem == "Which curve shows overfitting?"
    found = messages(moodle.warnings)['question[10] (multichoice "Chart reading")']
    assert any("<img>" in m for m in found)
    assert any("partial credit for answer(s) 2" in m for m in found)


def test_moodle_xml_unsupported_types_are_skipped_with_their_element(
    moodle: ParsedImport,
) -> None:
    assert [(s.where, s.message.split(" questions")[0]) for s in moodle.skipped] == [
        ('question[11] (essay "Explain overfitting")', "skipped: essay"),
        ('question[12] (shortanswer "Name it")', "skipped: shortanswer"),
        ('question[14] (cloze "Cloze")', "skipped: cloze"),
        ('question[15] (description "Intro")', "skipped: description"),
    ]


def test_moodle_xml_attachments_and_old_images_are_named_in_a_warning() -> None:
    result = run("attachments.xml", default_objective="D2.1.2")
    assert result.errors == [] and [q.id for q in result.specs] == ["loss-curves", "old-picture"]
    found = messages(result.warnings)
    assert (
        'not imported: <file name="curves.png"> in <questiontext>, <file name="marked.png"> '
        "in <feedback> (the bank keeps no attachments or pictures); if the question needs the "
        "picture, describe it in the text"
    ) in found['question[1] (multichoice "Loss curves")']
    assert any(
        m.startswith("not imported: <image>, <image_base64> (the bank keeps no attachments")
        for m in found['question[2] (truefalse "Old picture")']
    )


XML_ERRORS = [
    ('question[2] (multichoice "Bad fraction")/answer[2]', 'fraction="lots" is not a percentage'),
    ('question[3] (multichoice "No text")/questiontext', "no question text"),
    ('question[4] (multichoice "No answers")', "no <answer> elements"),
    ('question[5] (truefalse "Yes or no")/answer', 'two answers, "true" and "false"'),
    ('question[6] (truefalse "Both true")/answer', 'exactly one of "true" and "false"'),
    ('question[7] (matching "Missing answer")/subquestion[2]/answer', "no answer"),
    ('question[8] (matching "No pairs")', "no <subquestion> elements"),
    ('question[9] ("No type")', 'no type: add type="multichoice"'),
    ('question[10] (multichoice "Two full")', "2 answers give full marks"),
    ('question[11] (multichoice "No positive")', "no answer has a positive weight"),
    ('question[12] (multichoice "Image answer")/answer[1]', "the answer has no text"),
    ('question[13] (multichoice "Same text")', "two options have the same text"),
]


def test_moodle_xml_every_error_names_its_element_path() -> None:
    result = run("errors.xml")
    assert result.specs == []
    assert [e.where for e in result.errors] == [where for where, _ in XML_ERRORS]
    for error, (_, message) in zip(result.errors, XML_ERRORS, strict=True):
        assert message in error.message, error
    assert result.errors[0].question == "bad-fraction"
    assert [(w.where, w.message) for w in result.warnings] == [
        ("<comment>", "ignored: a quiz file holds <question> elements")
    ]


@pytest.mark.parametrize(
    ("body", "where", "expected"),
    [
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>\n'
            b"<quiz>&b;</quiz>",
            "document",
            "refused for safety",
        ),
        (
            b'<!DOCTYPE quiz SYSTEM "http://example.com/evil.dtd"><quiz/>',
            "document",
            "refused for safety",
        ),
        (
            b"<quiz>\n<question type='multichoice'><name><text>a &nbsp; b</text></name>"
            b"</question></quiz>",
            "line 2, column 44",
            "not well-formed XML (undefined entity)",
        ),
        (b"<quiz><question></quiz>", "line 1, column 19", "not well-formed XML (mismatched tag)"),
        (b"<questions/>", "questions", "the root element is <questions>"),
    ],
)
def test_moodle_xml_unsafe_or_broken_documents(body: bytes, where: str, expected: str) -> None:
    result = parse_import("quiz.xml", body, "moodle-xml", OBJECTIVES)
    assert [(e.where, expected in e.message) for e in result.errors] == [(where, True)]
    assert result.specs == []


# --- the bank's own YAML --------------------------------------------------------------------


def test_yaml_import_uses_the_loaders_rules_and_lines() -> None:
    result = run("questions.yaml")
    assert result.format == "yaml"
    assert [spec.id for spec in result.specs] == ["churn-algorithm"]
    assert result.specs[0].case_id == "churn-retailer"
    assert result.specs[0].line == line_of("questions.yaml", "- id: churn-algorithm")
    assert [(e.where, e.question, e.message) for e in result.errors] == [
        (
            f"line {line_of('questions.yaml', '- id: unknown-objective')}",
            "unknown-objective",
            "unknown objective 'D9.9': use a code from objectives.yaml",
        )
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"questions: [\n", "YAML syntax error"),
        (b"- just a list\n", "expected a mapping with 'cases:' and 'questions:' lists"),
        (b"questions: 5\n", "'questions:' must be a list"),
        (b"extra: 1\nquestions: []\n", "unknown top-level key 'extra'"),
        (b"questions:\n  - id: x\n    type: essay\n", "Invalid enum value 'essay' (at type)"),
        (b"questions:\n  - when: 2001-13-45\n", "cannot read the YAML"),
    ],
)
def test_yaml_import_errors_have_a_line(body: bytes, expected: str) -> None:
    result = parse_import("q.yaml", body, "yaml", OBJECTIVES)
    assert result.errors and result.specs == []
    assert any(expected in e.message for e in result.errors), result.errors
    assert all(e.where.startswith("line ") for e in result.errors)


# --- formats, text and shared rules ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("constructs.gift", "gift"),
        ("unsupported.gift", "gift"),
        ("quiz.txt", "aiken"),
        ("errors-aiken.txt", "aiken"),
        ("quiz.xml", "moodle-xml"),
        ("questions.yaml", "yaml"),
    ],
)
def test_the_format_is_guessed_from_the_content(name: str, expected: str) -> None:
    assert guess_format("upload", sample(name)) == expected
    assert guess_format(name, sample(name)) == expected


def test_the_format_falls_back_on_the_file_name() -> None:
    assert guess_format("notes.txt", b"nothing to go on") == "aiken"
    assert guess_format("notes.yml", b"nothing to go on") == "yaml"
    assert guess_format("notes", b"nothing to go on") == "gift"


def test_an_unknown_format_or_a_non_utf8_file_is_an_error() -> None:
    unknown = parse_import("q.doc", b"x", "word", OBJECTIVES)
    assert unknown.errors[0].message.startswith("unknown format 'word'")
    latin = parse_import("q.gift", b"::T::Caf\xe9? {=a ~b}", "gift", OBJECTIVES)
    assert latin.errors[0].where == "line 1"
    assert "not UTF-8 text" in latin.errors[0].message


def test_html_to_text_leaves_no_markup() -> None:
    text, dropped = html_to_text(
        '<div><h1>Title</h1><p>One&nbsp;&amp; <a href="x">two</a><br/>three</p>'
        "<ul><li>a</li><li>b</li></ul><style>p {}</style><img src=x></div>"
    )
    assert text == "Title\n\nOne & two\nthree\n\n- a\n- b"
    assert dropped == {"img"}


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("if a<b then", "if a"),  # a tag cut off by the end of the text is dropped
        ("kept<!-- never closed <b>x</b>", "kept"),  # so is a comment
        ("<a title='x>y'>link</a> text", "link text"),  # '>' inside quotes closes nothing
        ("<script>if (a<b) {}</script>after", "after"),
        ("a < b and <3 and <<b>c>", "a < b and <3 and <c>"),  # '<' opening nothing is text
        ("<![CDATA[a>b]]>c", "b]]>c"),  # in HTML, CDATA is a comment up to the first '>'
        ("<P>Upper</P>case<BR>again", "Upper\n\ncase\nagain"),
    ],
)
def test_html_to_text_follows_the_browsers_rules(html: str, text: str) -> None:
    assert html_to_text(html)[0] == text


def test_category_paths_split_on_single_slashes_only() -> None:
    assert split_category("$course$/top/A//B/ C ") == ["$course$", "top", "A/B", "C"]


def test_issue_reads_as_file_place_question_message() -> None:
    assert (
        str(Issue("quiz.gift", "line 12", "fix it", "q-id")) == "quiz.gift line 12 [q-id]: fix it"
    )
    assert str(Issue("quiz.gift", "line 12", "fix it")) == "quiz.gift line 12: fix it"


def test_an_import_result_crosses_to_and_from_a_worker_process(gift: ParsedImport) -> None:
    # parse_import runs in the app's worker processes: what it returns must pickle.
    assert pickle.loads(pickle.dumps(gift)) == gift
