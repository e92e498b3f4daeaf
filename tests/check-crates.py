"""Every crate of the workspace carries what a registry needs: description,
license, repository, readme and keywords (at most five, as crates.io
allows). Run by tests/run-all.sh; reads `cargo metadata`."""

import json
import subprocess
import sys

meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
problems = []
for pkg in meta["packages"]:
    for field in ("description", "license", "repository", "readme"):
        if not pkg.get(field):
            problems.append(f"{pkg['name']}: no {field}")
    keywords = pkg.get("keywords") or []
    if not keywords or len(keywords) > 5:
        problems.append(f"{pkg['name']}: {len(keywords)} keywords (want 1 to 5)")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"crate metadata: {len(meta['packages'])} crates complete")
