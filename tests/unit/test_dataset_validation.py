"""validate_file: every problem class reported on its 1-based line with a message a user recognises.

Broken files are generated: 100 good labelled records with one line replaced or mutated (see `broken`).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Callable

import pytest

from core.datasets.files import make_record
from core.datasets.validation import MAX_STORED_PROBLEMS, RESERVED_STRINGS, validate_file
from core.parsing import parse_router_output
from core.schema import RoutingDecision

LABEL = RoutingDecision(visual=0.6, audio=0.1, transcription=0.2, metadata=0.1, reasoning="Mostly what is seen.")


def good_records(n: int = 100, labelled: bool = True) -> list[dict]:
    return [make_record(f"clip {i} of a red car at the harbour", LABEL if labelled else None) for i in range(n)]


def to_bytes(lines: list[dict | str]) -> bytes:
    text = [line if isinstance(line, str) else json.dumps(line, separators=(",", ":")) for line in lines]
    return ("\n".join(text) + "\n").encode("utf-8")


def validate_lines(lines: list[dict | str], **limits):
    return validate_file(io.BytesIO(to_bytes(lines)), **limits)


def broken(line: int, change: str | Callable[[dict], object]) -> list[dict | str]:
    """100 good records with line `line` (1-based) replaced by a string, or mutated in place by a function."""
    lines: list[dict | str] = list(good_records())
    if isinstance(change, str):
        lines[line - 1] = change
    else:
        record = copy.deepcopy(lines[line - 1])
        change(record)
        lines[line - 1] = record
    return lines


def set_path(path: str, value: object) -> Callable[[dict], None]:
    """A mutation setting a dotted path such as 'messages.1.content.0.text'."""
    *parents, last = path.split(".")

    def change(record: dict) -> None:
        target = record
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def drop(key: str) -> Callable[[dict], None]:
    return lambda record: record.pop(key)


def assert_problems(report, line: int | None, *fragments: str) -> None:
    """Every stored problem is on `line`, and each fragment appears in one of them."""
    assert not report.ok
    assert {p.line for p in report.problems} == {line}, report.lines()
    messages = [p.message for p in report.problems]
    for fragment in fragments:
        assert any(fragment in m for m in messages), (fragment, messages)


LINE_PROBLEMS = {
    "bad JSON": (
        7,
        '{"schemaVersion": "bedrock-conversation-2024", "messages": [',
        ["not valid JSON: Expecting value at column 61"],
    ),
    "not an object": (8, "[1, 2]", ["expected a JSON object", "got a list"]),
    "missing schemaVersion": (3, drop("schemaVersion"), ['missing "schemaVersion"']),
    "wrong schemaVersion": (
        4,
        set_path("schemaVersion", "converse-v1"),
        ['"schemaVersion" is "converse-v1"; it must be'],
    ),
    "misspelt schemaVersion": (
        5,
        set_path("schemaVersion", "bedrock-conversion-2024"),
        ['did you mean "bedrock-conversation-2024"?'],
    ),
    "schemaVersion not text": (6, set_path("schemaVersion", 2024), ['"schemaVersion" must be the text']),
    "misspelt schemaVersion key": (
        9,
        lambda r: r.update(schemaversion=r.pop("schemaVersion")),
        ['unexpected key "schemaversion" in the record; did you mean "schemaVersion"?', 'missing "schemaVersion"'],
    ),
    "extra key in record": (10, set_path("id", "rec-10"), ['unexpected key "id" in the record']),
    "extra key in system": (11, set_path("system.0.cachePoint", {}), ['unexpected key "cachePoint" in system[0]']),
    "extra key in message": (12, set_path("messages.0.name", "ann"), ['unexpected key "name" in messages[0]']),
    "extra key in content": (
        13,
        set_path("messages.1.content.0.type", "text"),
        ['unexpected key "type" in messages[1].content[0]'],
    ),
    "system with two blocks": (
        14,
        set_path("system", [{"text": "a"}, {"text": "b"}]),
        ['"system" must hold exactly one'],
    ),
    "system not a list": (15, set_path("system", "route this"), ['"system" must be a list']),
    "missing messages": (16, drop("messages"), ['missing "messages"']),
    "assistant first": (
        17,
        lambda r: r["messages"].reverse(),
        [
            'messages[0] role is "assistant"; the first turn must be "user"',
            'messages[1] role is "user"; turns alternate, so this one must be "assistant"',
        ],
    ),
    "two user turns": (18, set_path("messages.1.role", "user"), ['messages[1] role is "user"; turns alternate']),
    "three turns": (19, lambda r: r["messages"].append(copy.deepcopy(r["messages"][1])), ['"messages" has 3 turns']),
    "unknown role": (20, set_path("messages.0.role", "bot"), ['messages[0] role "bot" is not allowed']),
    "two text blocks": (
        21,
        lambda r: r["messages"][0]["content"].append({"text": "again"}),
        ["messages[0].content has 2 blocks; exactly one text block is allowed"],
    ),
    "empty text": (22, set_path("messages.0.content.0.text", ""), ["messages[0].content[0].text is empty"]),
    "whitespace text": (
        23,
        set_path("messages.0.content.0.text", "  \t "),
        ["messages[0].content[0].text is only whitespace"],
    ),
    "empty system text": (24, set_path("system.0.text", ""), ["system[0].text is empty"]),
    "assistant text is prose": (
        25,
        set_path("messages.1.content.0.text", "Sure, it is mostly visual."),
        ["assistant response is not router JSON: no JSON object found in the reply"],
    ),
    "assistant JSON misses modalities": (
        26,
        set_path("messages.1.content.0.text", '{"visual": 1.0, "reasoning": "seen"}'),
        ["assistant response is not router JSON: missing modality: audio, transcription, metadata"],
    ),
    "assistant weights all zero": (
        27,
        set_path("messages.1.content.0.text", '{"visual":0,"audio":0,"transcription":0,"metadata":0}'),
        ["assistant response is not router JSON: all weights are zero"],
    ),
    "duplicate prompt": (
        50,
        set_path("messages.0.content.0.text", "Clip 2 of a red car  at the HARBOUR"),
        ["duplicate prompt: the same query as line 3"],
    ),
    "invalid UTF-8": (30, "placeholder", ["not valid UTF-8"]),
}


@pytest.mark.parametrize("case", list(LINE_PROBLEMS), ids=list(LINE_PROBLEMS))
def test_each_problem_class_is_reported_on_its_line(case):
    line, change, fragments = LINE_PROBLEMS[case]
    data = to_bytes(broken(line, change))
    if case == "invalid UTF-8":
        data = data.replace(b"placeholder", b'{"text": "caf\xe9"}')
    report = validate_file(io.BytesIO(data))
    assert_problems(report, line, *fragments)


@pytest.mark.parametrize("reserved", RESERVED_STRINGS)
def test_each_reserved_string_in_a_query_is_reported(reserved):
    report = validate_lines(broken(40, set_path("messages.0.content.0.text", f"clip where {reserved} appears")))
    assert_problems(report, 40, f'messages[0].content[0].text contains "{reserved}"')


def test_reserved_strings_in_system_and_assistant_text_are_reported():
    lines = broken(41, set_path("system.0.text", "System: route the query"))
    response = json.dumps({**LABEL.to_json_dict(), "reasoning": "Assistant: visual"})
    lines[42 - 1] = copy.deepcopy(lines[42 - 1])
    set_path("messages.1.content.0.text", response)(lines[42 - 1])
    report = validate_lines(lines)
    assert [(p.line, p.message.split(" contains")[0]) for p in report.problems] == [
        (41, "system[0].text"),
        (42, "messages[1].content[0].text"),
    ]


def test_a_good_labelled_file_is_valid():
    report = validate_lines(good_records())
    assert report.ok
    assert report.problems == [] and report.warnings == []
    assert (report.records, report.labelled) == (100, 100)
    assert report.verdict == "Valid: 100 labelled records ready for Bedrock distillation."


def test_a_good_prompt_only_file_is_valid():
    report = validate_lines(good_records(labelled=False))
    assert report.ok
    assert (report.records, report.labelled) == (100, 0)
    assert report.verdict == "Valid: 100 prompt-only records ready for Bedrock distillation."


def test_a_blank_line_in_the_middle_is_reported_and_not_counted_as_a_record():
    lines: list[dict | str] = list(good_records())
    lines.insert(4, "  ")
    report = validate_lines(lines)
    assert_problems(report, 5, "blank line")
    assert report.records == 100


def test_a_missing_final_newline_is_fine_but_extra_blank_lines_at_the_end_are_reported():
    data = to_bytes(good_records())
    assert validate_file(io.BytesIO(data.rstrip(b"\n"))).ok
    report = validate_file(io.BytesIO(data + b"\n"))
    assert [p.text() for p in report.problems] == ["line 101: blank line; remove it (every line must hold one record)"]
    assert report.records == 100


def test_a_byte_order_mark_is_reported_on_line_one_and_the_record_still_checked():
    data = b"\xef\xbb\xbf" + to_bytes(good_records())
    report = validate_file(io.BytesIO(data))
    assert_problems(report, 1, "byte-order mark")
    assert report.problem_count == 1


def test_a_mixed_file_is_a_problem_on_the_first_odd_record():
    lines: list[dict | str] = list(good_records())
    for line in (10, 20, 30):
        lines[line - 1] = make_record(f"unlabelled clip {line}", None)
    report = validate_lines(lines)
    assert_problems(
        report,
        10,
        "3 of 100 records have no assistant response (the first is here); "
        "a dataset must be all labelled or all prompt-only",
    )


def test_a_mostly_prompt_only_file_points_at_its_first_labelled_record():
    lines: list[dict | str] = list(good_records(labelled=False))
    lines[60] = make_record("the one labelled clip", LABEL)
    report = validate_lines(lines)
    assert_problems(report, 61, "1 of 100 records has an assistant response")


@pytest.mark.parametrize(
    ("records", "limits", "fragment"),
    [
        (99, {}, "only 99 records; Bedrock distillation needs at least 100"),
        (15_001, {}, "15,001 records; Bedrock distillation accepts at most 15,000"),
        (100, {"max_bytes": 1_000}, "Bedrock accepts at most 1.0 KB"),
    ],
    ids=["too few records", "too many records", "file too large"],
)
def test_file_level_limits(records, limits, fragment):
    lines = [make_record(f"query number {i}", None) for i in range(records)]
    report = validate_lines(lines, **limits)
    assert_problems(report, None, fragment)
    assert report.lines() == [f"file: {report.problems[0].message}"]


def test_an_empty_file_has_no_records():
    report = validate_file(io.BytesIO(b""))
    assert_problems(report, None, "the file has no records")
    assert report.verdict == "Invalid: 1 problem with the whole file; fix it and validate again."


def test_every_problem_is_reported_with_its_line_and_counted_in_the_verdict():
    lines = broken(2, "not json")
    lines[89] = copy.deepcopy(lines[89])
    set_path("id", 1)(lines[89])
    set_path("messages.0.content.0.text", "")(lines[89])
    report = validate_lines(lines)
    assert [p.line for p in report.problems] == [2, 90, 90]
    assert report.lines()[0].startswith("line 2: not valid JSON")
    assert report.verdict == "Invalid: 3 problems on 2 lines; fix them and validate again."


def test_the_verdict_separates_line_problems_from_file_problems():
    report = validate_lines(broken(2, "not json")[:50])
    assert report.verdict == ("Invalid: 2 problems (1 on 1 line, 1 with the whole file); fix them and validate again.")


def test_stored_problems_are_capped_but_all_are_counted_and_file_problems_kept():
    report = validate_file(io.BytesIO(b"nope\n" * (MAX_STORED_PROBLEMS + 500)), max_records=1_000)
    assert len(report.problems) == MAX_STORED_PROBLEMS + 1
    assert report.problem_count == MAX_STORED_PROBLEMS + 501
    assert report.lines()[-2:] == [
        "file: 1,500 records; Bedrock distillation accepts at most 1,000 (split or sample the file)",
        "... and 500 more problems not shown",
    ]
    assert report.verdict == (
        "Invalid: 1,501 problems (1,500 on 1,500 lines, 1 with the whole file); fix them and validate again."
    )


def test_a_response_wrapped_in_prose_is_valid_with_a_warning():
    wrapped = "Here you go:\n" + json.dumps(LABEL.to_json_dict())
    report = validate_lines(broken(33, set_path("messages.1.content.0.text", wrapped)))
    assert report.ok
    assert [w.text() for w in report.warnings] == [
        "line 33: assistant response has text around its JSON; the student would learn to write it too"
    ]


def test_parser_warnings_on_a_response_become_line_warnings():
    nested = json.dumps({"video": {**LABEL.weights(), "reasoning": "seen"}})
    report = validate_lines(broken(34, set_path("messages.1.content.0.text", nested)))
    assert report.ok
    assert report.warning_lines() == ["line 34: assistant response: weights were nested under 'video'"]
    assert report.verdict == "Valid: 100 labelled records ready for Bedrock distillation (1 warning)."


def test_a_path_is_read_and_a_name_bedrock_rejects_is_a_warning(tmp_path):
    path = tmp_path / "my data.jsonl"
    data = to_bytes(good_records())
    path.write_bytes(data)
    report = validate_file(path)
    assert report.ok
    assert report.source == "my data.jsonl"
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.size_bytes == len(data)
    assert "rename it before uploading" in report.warning_lines()[0]


def test_a_text_mode_stream_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="binary mode"):
        validate_file(io.StringIO("{}"))


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path):
    report = validate_file(tmp_path / "absent.jsonl")
    assert_problems(report, None, "could not read the file: No such file or directory")
    assert report.source == "absent.jsonl"


@pytest.mark.parametrize(
    "response",
    [
        '{"visual": 0.5, "audio": 0.5, "transcription": 0, "metadata": 0, "reasoning": "r"}',
        '{"visual": "50%", "audio": "50%", "transcription": "0%", "metadata": "0%"}',
        '{"video": {"visual": 1, "audio": 0, "transcription": 0, "metadata": 0}}',
        '{"results": [{"visual": 1, "audio": 0, "transcription": 0, "metadata": 0}]}',
        '[{"visual": 1, "audio": 0, "transcription": 0, "metadata": 0}]',
        '```json\n{"visual": 1, "audio": 0, "transcription": 0, "metadata": 0}\n```',
        '{"visual": -1, "audio": 1, "transcription": 1, "metadata": 0}',
        '{"query": "q"} {"visual": 1, "audio": 0, "transcription": 0, "metadata": 0}',
        '"just a string"',
        "0.25",
    ],
)
def test_a_response_is_accepted_exactly_when_the_router_parser_accepts_it(response):
    report = validate_lines(broken(60, set_path("messages.1.content.0.text", response)))
    assert report.ok == parse_router_output(response).valid


@pytest.mark.parametrize("case", list(LINE_PROBLEMS), ids=list(LINE_PROBLEMS))
def test_the_validate_command_exits_1_naming_the_line_and_the_problem(case, tmp_path, capsys):
    from core.cli import main

    line, change, fragments = LINE_PROBLEMS[case]
    data = to_bytes(broken(line, change))
    if case == "invalid UTF-8":
        data = data.replace(b"placeholder", b'{"text": "caf\xe9"}')
    path = tmp_path / f"{case.replace(' ', '-')}.jsonl"
    path.write_bytes(data)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert any(printed.startswith(f"line {line}: ") and fragments[0] in printed for printed in out.splitlines()), out
    assert out.splitlines()[-1].startswith("Invalid:") and "Traceback" not in out + err


def test_the_validate_command_exits_0_on_a_good_file(tmp_path, capsys):
    from core.cli import main

    path = tmp_path / "good.jsonl"
    path.write_bytes(to_bytes(good_records()))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "Valid: 100 labelled records ready for Bedrock distillation."
