# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/fault_matrix.md documents exactly the cases of the fault_matrix integration target.

One table row per case of tests/integration/targets/fault_matrix/vars/cases.yml, in any order,
with the same outcome and the same request counts.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CASES = os.path.join(ROOT, "tests", "integration", "targets", "fault_matrix", "vars", "cases.yml")
DOC = os.path.join(ROOT, "docs", "fault_matrix.md")

OUTCOMES = {"retried_to_success", "success", "resolved_success", "resent_success", "failure", "failure_unknown"}
REQUEST_RE = re.compile(r"(\d+) (GET|POST)")


def load_cases():
    with open(CASES, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["fault_matrix_cases"]


def load_doc_rows():
    """{case id: {column: cell}} from the table whose header has case, outcome and requests."""
    with open(DOC, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    rows = {}
    header = None
    for line in lines:
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if set(cells) <= {"", "---"} or all(set(cell) <= set("-: ") for cell in cells):
            continue  # the separator row
        if not {"case", "outcome", "requests"} <= set(header):
            continue
        assert len(cells) == len(header), "a row of %s has %d cells, the header %d: %s" % (DOC, len(cells), len(header), line)
        row = dict(zip(header, cells))
        case_id = row["case"].strip("`")
        assert case_id not in rows, "case %s is listed twice in %s" % (case_id, DOC)
        rows[case_id] = row
    return rows


def parse_requests(text):
    """'1 POST + 3 GET' -> {'POST': 1, 'GET': 3}; 'none' -> {}."""
    if text == "none":
        return {}
    parts = [part.strip() for part in text.split("+")]
    counts = {}
    for part in parts:
        match = REQUEST_RE.fullmatch(part)
        assert match, "cannot read the requests cell %r (expected e.g. '1 POST + 3 GET' or 'none')" % text
        counts[match.group(2)] = int(match.group(1))
    return counts


CASE_LIST = load_cases()
DOC_ROWS = load_doc_rows()


def test_cases_are_well_formed():
    ids = [case["id"] for case in CASE_LIST]
    assert len(ids) == len(set(ids)), "duplicate case ids in cases.yml"
    for case in CASE_LIST:
        assert case["module"] in ("restart", "stop", "update", "info"), case["id"]
        assert case["expect"]["outcome"] in OUTCOMES, case["id"]
        assert set(case["expect"]["requests"]) <= {"GET", "POST"}, case["id"]
        assert case.get("doc"), "case %s has no doc sentence" % case["id"]


def test_every_case_is_documented_and_nothing_else():
    cases = {case["id"] for case in CASE_LIST}
    documented = set(DOC_ROWS)
    assert sorted(cases - documented) == [], "cases missing from docs/fault_matrix.md"
    assert sorted(documented - cases) == [], "docs/fault_matrix.md lists cases that cases.yml does not have"


@pytest.mark.parametrize("case", CASE_LIST, ids=[case["id"] for case in CASE_LIST])
def test_doc_row_matches_case(case):
    row = DOC_ROWS.get(case["id"])
    if row is None:
        pytest.fail("case %s is missing from docs/fault_matrix.md" % case["id"])
    assert row["outcome"].strip("`") == case["expect"]["outcome"]
    expected = {method: count for method, count in case["expect"]["requests"].items() if count}
    assert parse_requests(row["requests"]) == expected
    if "module" in row:
        assert row["module"] == case["module"]
    if "changed" in row:
        assert row["changed"] == ("yes" if case["expect"]["changed"] else "no")
    # the description is the case's doc sentence, and says "Not run" exactly when the case is skipped
    known = ("case", "module", "fault", "module args", "outcome", "changed", "requests")
    described = [cell for name, cell in row.items() if name not in known]
    assert described, "the table has no description column"
    assert described[-1].startswith(" ".join(case["doc"].split())), case["id"]
    assert ("Not run" in described[-1]) == bool(case.get("skip")), case["id"]
