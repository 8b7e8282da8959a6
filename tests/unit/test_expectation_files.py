"""The expectation-file reader: JSONL or CSV of query and expected channel, line-numbered problems."""

from __future__ import annotations

import pytest

from core.datasets.expectations import read_expectations
from core.evaluate.sets import EvaluationSetError, load_expectation_file


def test_a_jsonl_file_keeps_queries_channels_sources_and_line_numbers(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"query": "a kettle coming to the boil", "expected": "audio", "source": "ours", "id": 3}\n\n'
        '{"query": "Anna tells Ben she is leaving", "expected": "Transcription"}\n',
        encoding="utf-8",
    )
    read = read_expectations(path)
    assert read.ok and [(e.expected, e.source, e.line) for e in read.expectations] == [
        ("audio", "ours", 1),
        ("transcription", None, 3),
    ]
    evaluation_set = load_expectation_file(path)
    assert evaluation_set.kind == "expectations" and evaluation_set.tag_fields == ["source"]


def test_a_csv_file_needs_a_header_with_query_and_expected(tmp_path):
    good = tmp_path / "set.csv"
    good.write_text("query,expected\nrain on a tin roof,audio\n", encoding="utf-8")
    assert [e.query for e in read_expectations(good).expectations] == ["rain on a tin roof"]
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nrain,audio\n", encoding="utf-8")
    assert read_expectations(bad).lines() == ["line 1: the header has no query or expected column"]


def test_a_file_with_a_bad_line_is_refused_with_the_line_named(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"query": "x", "expected": "smell"}\nnot json\n', encoding="utf-8")
    with pytest.raises(EvaluationSetError) as raised:
        load_expectation_file(path)
    assert "cannot be used" in str(raised.value)
    assert raised.value.lines[0].startswith("line 1: 'expected' must be one of visual, audio")
    assert raised.value.lines[1].startswith("line 2: not JSON")
