#!/usr/bin/env python3
"""suite2list: tcbot's benchmark manifest as the list tcbot-bench builds from.

    suite2list.py suite.yaml > suite.list

One line per benchmark, five fields separated by "|": name, checksum,
sources, arguments, ldflags (each list space-separated, possibly empty; "|"
rather than a tab so that the shell's read keeps empty fields). The manifest (benchmarks/suite.yaml)
is read with a small parser of just the YAML it uses, so the build needs
no PyYAML: top-level "key: value" lines and a "benchmarks:" list of
mappings whose values are plain or quoted scalars or flow sequences
([a.c], ["24000"]). Anything else, and any value the build or the run
script could not pass safely through a shell, stops with an error naming
the line. Keys other than name, sources, args, checksum and ldflags
(description) are ignored.
"""

import json
import re
import sys

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
CHECKSUM_RE = re.compile(r"^[0-9a-f]{16}$")
SOURCE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.c$")
ARG_RE = re.compile(r"^[A-Za-z0-9_.,:=+-]+$")
LDFLAG_RE = re.compile(r"^-[A-Za-z0-9_.,:=+-]+$")
KEEP = ("name", "sources", "args", "checksum", "ldflags")


class ManifestError(Exception):
    pass


def scalar(text, where):
    text = text.strip()
    if text.startswith('"'):
        end = text.rfind('"')
        if end == 0:
            raise ManifestError("%s: unterminated string" % where)
        rest = text[end + 1:].strip()
        if rest and not rest.startswith("#"):
            raise ManifestError("%s: text after the string: %r" % (where, rest))
        return json.loads(text[:end + 1])
    if text.startswith("'"):
        end = text.rfind("'")
        if end == 0:
            raise ManifestError("%s: unterminated string" % where)
        return text[1:end].replace("''", "'")
    return re.sub(r"\s+#.*$", "", text).strip()


def split_flow(text, where):
    """Split the inside of [a, "b", 'c'] at top-level commas."""
    items, cur, quote = [], "", None
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch == ",":
            items.append(cur)
            cur = ""
        elif ch in "[]{}":
            raise ManifestError("%s: nested collections are not supported" % where)
        else:
            cur += ch
    if quote:
        raise ManifestError("%s: unterminated string in a list" % where)
    if cur.strip():
        items.append(cur)
    return [scalar(i, where) for i in items]


def value(text, where):
    text = re.sub(r"\s+#[^\"']*$", "", text.strip())
    if text.startswith("["):
        if not text.endswith("]"):
            raise ManifestError("%s: a list must be written on one line: [a, b]" % where)
        return split_flow(text[1:-1], where)
    return scalar(text, where)


def parse(lines, path):
    benchmarks, cur, in_list = [], None, False
    for n, raw in enumerate(lines, 1):
        where = "%s:%d" % (path, n)
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise ManifestError("%s: tab in indentation" % where)
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if indent == 0:
            key, sep, rest = body.partition(":")
            if not sep:
                raise ManifestError("%s: want key: value" % where)
            in_list = key == "benchmarks"
            if in_list and rest.strip():
                raise ManifestError("%s: benchmarks: must be a block list" % where)
            continue
        if not in_list:
            raise ManifestError("%s: unexpected indented line outside benchmarks:" % where)
        if body.startswith("- "):
            cur = {"_line": n}
            benchmarks.append(cur)
            body = body[2:].strip()
        elif cur is None:
            raise ManifestError("%s: want a list item (- name: ...)" % where)
        key, sep, rest = body.partition(":")
        key = key.strip()
        if not sep or not re.match(r"^[a-z_]+$", key):
            raise ManifestError("%s: want key: value" % where)
        if key in cur:
            raise ManifestError("%s: %s given twice" % (where, key))
        if key in KEEP:
            cur[key] = value(rest, where)
            cur["_" + key] = n
    return benchmarks


def check(b, path):
    where = "%s:%d" % (path, b["_line"])
    for key in ("name", "sources", "args", "checksum"):
        if key not in b:
            raise ManifestError("%s: benchmark without %s" % (where, key))
    name = b["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ManifestError("%s: name %r: want lowercase letters, digits and -" % (where, name))
    if not isinstance(b["checksum"], str) or not CHECKSUM_RE.match(b["checksum"]):
        raise ManifestError("%s: %s: checksum %r: want 16 lowercase hex digits" % (where, name, b["checksum"]))
    lists = {"sources": SOURCE_RE, "args": ARG_RE, "ldflags": LDFLAG_RE}
    for key, pattern in lists.items():
        items = b.get(key, [])
        if not isinstance(items, list):
            raise ManifestError("%s: %s: %s must be a list" % (where, name, key))
        for item in items:
            if not isinstance(item, str) or not pattern.match(item):
                raise ManifestError("%s: %s: %s entry %r cannot be passed through a shell as it is" % (where, name, key, item))
    if not b["sources"]:
        raise ManifestError("%s: %s: no sources" % (where, name))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: suite2list.py suite.yaml > suite.list\n")
        return 2
    path = argv[1]
    try:
        with open(path, encoding="utf-8") as f:
            benchmarks = parse(f.readlines(), path)
        if not benchmarks:
            raise ManifestError("%s: no benchmarks" % path)
        seen = set()
        for b in benchmarks:
            check(b, path)
            if b["name"] in seen:
                raise ManifestError("%s:%d: %s given twice" % (path, b["_line"], b["name"]))
            seen.add(b["name"])
    except (OSError, ManifestError, ValueError) as e:
        sys.stderr.write("suite2list: %s\n" % e)
        return 1
    for b in benchmarks:
        sys.stdout.write("|".join([b["name"], b["checksum"], " ".join(b["sources"]),
                                    " ".join(b["args"]), " ".join(b.get("ldflags", []))]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
