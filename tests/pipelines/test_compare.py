"""Comparing a window's result from v1 and v2: counts, per-column differences, one-sided columns."""

from __future__ import annotations

from pathlib import Path

from pipelines.compare import compare_files


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_equal_results_with_different_number_spellings_have_no_differences(tmp_path: Path) -> None:
    v1 = _file(tmp_path / "v1.csv", "id,net,_data_load_time\ntxn_1,12.50,2026-11-10\ntxn_2,3,2026-11-10\n")
    v2 = _file(tmp_path / "v2.csv", "id,net\ntxn_2,3.000\ntxn_1,12.5\n")

    comparison = compare_files(v1, v2, key="id")

    assert comparison.identical, comparison.describe()
    assert (comparison.v1_rows, comparison.v2_rows) == (2, 2)


def test_a_changed_value_is_counted_in_its_column(tmp_path: Path) -> None:
    v1 = _file(tmp_path / "v1.csv", "id,net,fee\ntxn_1,12.50,1\ntxn_2,3,0\n")
    v2 = _file(tmp_path / "v2.csv", "id,net,fee,extra\ntxn_1,12.50,1,x\ntxn_2,4,0,y\n")

    comparison = compare_files(v1, v2, key="id")

    assert not comparison.identical
    assert {c.column: c.differing for c in comparison.columns} == {"id": 0, "net": 1, "fee": 0}
    assert comparison.only_v2 == ["extra"]


def test_without_an_id_columns_are_compared_as_multisets(tmp_path: Path) -> None:
    v1 = _file(tmp_path / "v1.csv", "day,n\n2026-11-08,4\n2026-11-09,5\n")
    v2 = _file(tmp_path / "v2.csv", "day,n\n2026-11-09,5\n2026-11-08,4\n2026-11-10,1\n")

    comparison = compare_files(v1, v2)

    assert (comparison.v1_rows, comparison.v2_rows) == (2, 3)
    assert {c.column: c.differing for c in comparison.columns} == {"day": 1, "n": 1}
