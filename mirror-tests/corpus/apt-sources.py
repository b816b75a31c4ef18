#!/usr/bin/env python3
"""Write a deb822 sources file limited to some suites, from the system's apt sources.

Usage: apt-sources.py OUTFILE SUITE...

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.sources|*.list (or the
files named in $CORPUS_APT_SOURCES, space-separated) and keeps the `deb` entries
of the `main` component whose suites are among SUITE...  The mirror addresses
thus come from the machine's own apt configuration; none is written in this
repository.  Fails if a requested suite is not configured anywhere.
"""

import glob
import os
import sys


def stanzas_deb822(text):
    block = {}
    key = None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if block:
                yield block
            block, key = {}, None
        elif line[0] in " \t" and key:
            block[key] += " " + line.strip()
        elif ":" in line:
            key, val = line.split(":", 1)
            block[key.strip().lower()] = val.strip()


def stanzas_oneline(text):
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        opts = {}
        if words and words[0].startswith("["):
            opt = []
            while words:
                w = words.pop(0)
                opt.append(w)
                if w.endswith("]"):
                    break
            for o in " ".join(opt).strip("[] ").split():
                if "=" in o:
                    k, v = o.split("=", 1)
                    opts[k.lower()] = v
        if len(words) < 3:
            continue
        st = {"types": "deb", "uris": words[0], "suites": words[1],
              "components": " ".join(words[2:])}
        if "signed-by" in opts:
            st["signed-by"] = opts["signed-by"]
        yield st


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: apt-sources.py OUTFILE SUITE...")
    out, wanted = sys.argv[1], sys.argv[2:]
    files = os.environ.get("CORPUS_APT_SOURCES", "").split() or (
        ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
        + sorted(glob.glob("/etc/apt/sources.list.d/*.list")))
    result, found = [], set()
    for path in files:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        parse = stanzas_deb822 if path.endswith(".sources") else stanzas_oneline
        for st in parse(text):
            if st.get("enabled", "yes").lower() == "no" or "deb" not in st.get("types", "").split():
                continue
            if "main" not in st.get("components", "").split():
                continue
            suites = [s for s in st.get("suites", "").split() if s in wanted]
            if not suites:
                continue
            found.update(suites)
            lines = ["Types: deb", "URIs: %s" % st["uris"], "Suites: %s" % " ".join(suites),
                     "Components: main"]
            if st.get("signed-by"):
                lines.append("Signed-By: %s" % st["signed-by"])
            result.append("\n".join(lines))
    missing = [s for s in wanted if s not in found]
    if missing:
        sys.exit("apt-sources.py: error: suite(s) %s not configured in %s"
                 % (" ".join(missing), " ".join(files)))
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\n\n".join(result) + "\n")


if __name__ == "__main__":
    main()
