"""Stand-in for ``az``, ``temporal``, ``curl`` and ``orderflow`` in the deploy-script tests.

Installed on ``PATH`` under each tool's name (a tiny wrapper passes the name as the first
argument). Each call appends ``{"tool", "argv", "stdin"}`` as one JSON line to ``$FAKE_LOG``
and answers from the rules in ``$FAKE_RULES``: a JSON list of
``{"tool": "az", "match": ["job", "start"], "stdout": "...", "exit": 0, "times": 1}``; the first
rule of the tool whose ``match`` words all occur in the arguments answers. A rule with ``times``
answers that many calls and is then used up (so a poll can say "Running" once, then
"Succeeded"). No rule: empty output, exit 0.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    tool, argv = sys.argv[1], sys.argv[2:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    with Path(os.environ["FAKE_LOG"]).open("a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "argv": argv, "stdin": stdin}) + "\n")

    rules_path = Path(os.environ["FAKE_RULES"])
    used_path = rules_path.with_suffix(".used.json")
    rules = json.loads(rules_path.read_text(encoding="utf-8"))
    used: dict[str, int] = (
        json.loads(used_path.read_text(encoding="utf-8")) if used_path.exists() else {}
    )
    for index, rule in enumerate(rules):
        if rule["tool"] != tool or not all(word in argv for word in rule.get("match", [])):
            continue
        times = rule.get("times")
        if times is not None and used.get(str(index), 0) >= times:
            continue
        used[str(index)] = used.get(str(index), 0) + 1
        used_path.write_text(json.dumps(used), encoding="utf-8")
        sys.stdout.write(rule.get("stdout", ""))
        sys.stderr.write(rule.get("stderr", ""))
        return int(rule.get("exit", 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
