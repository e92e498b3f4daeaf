#!/usr/bin/env python3
"""Read the Autobahn-format index.json written by kosoku and judge the run.

Usage: summarize.py REPORT_DIR [--expect-cases N]

A case fails when
  - its message verdict (`behavior`) is FAILED or ERROR, or
  - its closing-handshake verdict (`behaviorClose`) is anything but OK or
    INFORMATIONAL (FAILED, FAILED BY CLIENT, UNCLEAN, WRONG CODE), or
  - it is UNIMPLEMENTED outside 12.x/13.x: only the permessage-deflate cases
    may be, since the relay does not negotiate that extension.
NON-STRICT (a SHOULD not followed), INFORMATIONAL (behaviour the RFC leaves
open) and UNIMPLEMENTED 12.x/13.x pass and are counted separately.

kosoku's own exit status is not used: it treats UNIMPLEMENTED as a failure, so
it exits 1 on every run against a server without compression.

Prints the failing cases with kosoku's explanation, then the closing line
`autobahn: N passed, M failed`. Exit status 1 if any case failed, if the
index is missing, or if fewer cases ran than expected.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

PASSING_CLOSE = {"OK", "INFORMATIONAL"}
FAILING_BEHAVIOR = {"FAILED", "ERROR"}
COMPRESSION_GROUPS = {"12", "13"}


def sort_key(case_id: str) -> list[int]:
    return [int(p) if p.isdigit() else 0 for p in case_id.split(".")]


def why_failed(case_id: str, entry: dict) -> str | None:
    behavior, close = entry["behavior"], entry["behaviorClose"]
    if behavior in FAILING_BEHAVIOR:
        return f"behavior {behavior}"
    if behavior == "UNIMPLEMENTED" and case_id.split(".")[0] not in COMPRESSION_GROUPS:
        return "behavior UNIMPLEMENTED outside the compression cases (12.x/13.x)"
    if close not in PASSING_CLOSE:
        return f"behaviorClose {close}"
    return None


def describe(report_dir: Path, entry: dict) -> str:
    """kosoku's explanation of a case, from its per-case report."""
    try:
        case = json.loads((report_dir / entry["reportfile"]).read_text())
    except (OSError, ValueError, KeyError) as err:
        return f"    (per-case report unreadable: {err})"
    lines = [
        f"    description: {case.get('description', '').splitlines()[0] if case.get('description') else ''}",
        f"    expectation: {case.get('expectation')}",
        f"    result: {case.get('result')}",
        f"    resultClose: {case.get('resultClose')}",
        f"    expected: {json.dumps(case.get('expected'))[:300]}",
        f"    received: {json.dumps(case.get('received'))[:300]}",
        f"    expectedClose: {json.dumps(case.get('expectedClose'))}",
        f"    remoteCloseCode: {case.get('remoteCloseCode')} reason: {case.get('remoteCloseReason')!r}"
        f" wasClean: {case.get('wasClean')} ({case.get('wasNotCleanReason')})",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path)
    parser.add_argument(
        "--expect-cases",
        type=int,
        default=None,
        help="fail unless at least this many cases were reported",
    )
    args = parser.parse_args()

    index_path = args.report_dir / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as err:
        print(f"conformance: no usable report at {index_path}: {err}", file=sys.stderr)
        print("autobahn: 0 passed, 1 failed")
        return 1

    # One agent (the relay); merge defensively in case there were several.
    cases: dict[str, dict] = {}
    for per_agent in index.values():
        cases.update(per_agent)

    verdicts: Counter[str] = Counter()
    close_verdicts: Counter[str] = Counter()
    failures: list[tuple[str, str, dict]] = []
    for case_id in sorted(cases, key=sort_key):
        entry = cases[case_id]
        verdicts[entry["behavior"]] += 1
        close_verdicts[entry["behaviorClose"]] += 1
        reason = why_failed(case_id, entry)
        if reason is not None:
            failures.append((case_id, reason, entry))

    noteworthy = [
        case_id
        for case_id in sorted(cases, key=sort_key)
        if cases[case_id]["behavior"] in {"NON-STRICT", "INFORMATIONAL"}
        or cases[case_id]["behaviorClose"] == "INFORMATIONAL"
    ]
    if noteworthy:
        print("non-strict / informational cases:")
        for case_id in noteworthy:
            e = cases[case_id]
            print(
                f"  {case_id}: behavior={e['behavior']} behaviorClose={e['behaviorClose']}"
                f" remoteCloseCode={e['remoteCloseCode']}"
            )

    for case_id, reason, entry in failures:
        print(f"FAILED {case_id}: {reason} (behavior={entry['behavior']}, behaviorClose={entry['behaviorClose']})")
        print(describe(args.report_dir, entry))

    # Autobahn accepts a server-initiated close that carries no status code
    # (an empty close frame), so a relay that drops its 1002/1007/1009 codes
    # still passes. Count those to keep the regression visible.
    no_code: list[str] = []
    for case_id in sorted(cases, key=sort_key):
        try:
            case = json.loads((args.report_dir / cases[case_id]["reportfile"]).read_text())
        except (OSError, ValueError, KeyError):
            continue
        if (
            not case.get("closedByMe")
            and case.get("remoteCloseCode") is None
            and (case.get("expectedClose") or {}).get("closeCode")
        ):
            no_code.append(case_id)
    if no_code:
        print(
            f"note: in {len(no_code)} cases the server closed without a status code where"
            f" Autobahn names one (accepted by Autobahn), e.g. {', '.join(no_code[:5])}"
        )

    missing = 0
    if args.expect_cases is not None and len(cases) < args.expect_cases:
        missing = args.expect_cases - len(cases)
        print(
            f"conformance: only {len(cases)} of {args.expect_cases} expected cases were reported;"
            f" {missing} counted as failed"
        )

    print(
        "verdicts: "
        + ", ".join(
            f"{v} {verdicts.get(v, 0)}"
            for v in ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR")
        )
        + "; close verdicts: "
        + ", ".join(f"{k} {n}" for k, n in sorted(close_verdicts.items()))
    )
    failed = len(failures) + missing
    passed = len(cases) - len(failures)
    print(
        f"non-strict {verdicts.get('NON-STRICT', 0)}, informational {verdicts.get('INFORMATIONAL', 0)},"
        f" unimplemented {verdicts.get('UNIMPLEMENTED', 0)} (counted as passed)"
    )
    print(f"autobahn: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
