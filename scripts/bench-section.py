#!/usr/bin/env python3
"""Replace one section of docs/benchmarks.md with standard input.

usage: bench-section.py FILE NAME < section.md

Each benchmark script owns a section of the file between
<!-- begin NAME --> and <!-- end NAME -->; the rest of the file stays as
it is. A missing section is appended; a missing file is created with the
common header.
"""
import os
import sys

HEADER = """# Benchmarks

Each section below is written by the script it names; `make bench` runs them
all (the Go benchmarks, `scripts/bench-stack.sh` and
`scripts/bench-provisioning.sh`). Numbers come from one shared machine, whose
other load shows in the load average noted with them.
"""

path, name = sys.argv[1], sys.argv[2]
body = sys.stdin.read().strip("\n")
begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
block = f"{begin}\n{body}\n{end}"
text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
if begin in text and end in text:
    i, j = text.index(begin), text.index(end) + len(end)
    text = text[:i] + block + text[j:]
else:
    if not text.strip():
        text = HEADER
    text = text.rstrip("\n") + "\n\n" + block + "\n"
with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.write(text)
os.replace(path + ".tmp", path)
