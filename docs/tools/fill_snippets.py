#!/usr/bin/env python3
"""Copies tagged regions of the doc test classes into the markdown files that show them.

Usage: python3 docs/tools/fill_snippets.py [FILE.md ...]   (default: README.md and docs/*.md)

For each line '<!-- snippet: ClassName#TAG -->' followed by a ```java block, replaces the block's content with the
region between '// tag::TAG[]' and '// end::TAG[]' in
nbd-examples/src/test/java/io/nbdnetty/examples/docs/ClassName.java, without its common indentation.
DocSnippetsTest fails when a block and its region differ; run this script to bring the docs up to date.
"""
import glob
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SOURCES = os.path.join(ROOT, "nbd-examples/src/test/java/io/nbdnetty/examples/docs")
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*([A-Za-z0-9_]+)#([A-Za-z0-9_-]+)\s*-->\s*$")


def region(cls, tag):
    lines = open(os.path.join(SOURCES, cls + ".java"), encoding="utf-8").read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.strip() == "// tag::%s[]" % tag)
    end = next(i for i, l in enumerate(lines) if l.strip() == "// end::%s[]" % tag)
    body = lines[start + 1:end]
    indent = min(len(l) - len(l.lstrip()) for l in body if l.strip())
    return [l[indent:].rstrip() if l.strip() else "" for l in body]


def fill(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        out.append(lines[i])
        if m and i + 1 < len(lines) and lines[i + 1].strip() == "```java":
            out.append(lines[i + 1])
            j = i + 2
            while lines[j].strip() != "```":
                j += 1
            out.extend(region(m.group(1), m.group(2)))
            out.append(lines[j])
            i = j + 1
            continue
        i += 1
    open(path, "w", encoding="utf-8").write("\n".join(out))


if __name__ == "__main__":
    files = sys.argv[1:] or [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    for f in files:
        fill(f)
