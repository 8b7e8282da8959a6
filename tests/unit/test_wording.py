"""Counts read as English wherever the studio writes them."""

from core.wording import count


def test_one_is_singular_and_every_other_count_plural_with_separators():
    assert count(1, "record") == "1 record"
    assert count(0, "record") == "0 records"
    assert count(12_500, "labelled record") == "12,500 labelled records"
