#!/usr/bin/env python3
"""A distribution-sized rpm-md repository around a few real RPMs (issue 13's benchmark).

    bigrepo.py OUT --count N [--seed S] [--real-dir SUBDIR] RPM...

writes OUT/repodata/ (repomd.xml; primary, filelists and other .xml.gz with their
checksum, open-checksum, size and open-size, as createrepo_c writes them) listing N
generated packages plus the real RPMs given, which are hard-linked (copied across file
systems) into OUT/SUBDIR/ (default: OUT itself) and described by the real createrepo_c run
over them. The generated packages exist only as metadata (their files are never served);
their entries look like a distribution's: Fedora-like names (language prefixes, -devel,
-libs...), EVRs, a summary and a description of dictionary words, packager/url/license,
sizes and header ranges, Provides (the name, name(arch), sonames), Requires (libc symbol
versions, sonames of other packages, interpreters, some pre=1), the primary file subset
(/usr/bin, /etc) in primary and longer file lists in filelists, a changelog or two in
other. Output is deterministic for a seed (timestamps fixed), so two runs with the same
RPMs give the same bytes. Fedora 38's `fedora` repository (69,222 packages) has an 18.3 MB
primary.xml.gz; 65,000 generated packages give about 20 MB. Prints one line: the counts
and the compressed primary size.
"""

import argparse
import gzip
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

TIME = 1700000000
SYLL = ("ba be bi bo bu da de di do du fa fe fi fo ga ge gi go ka ke ki ko ku la le li lo lu "
        "ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti "
        "to tu va ve vi vo za ze zi zo x y q w tr st sp fl gr kl pr cr br dr").split()
PREFIX = ["", "", "", "", "", "python3-", "perl-", "rubygem-", "golang-github-", "texlive-",
          "ghc-", "rust-", "nodejs-", "php-", "R-", "mingw64-", "java-", "lib", "qt5-", "kf5-"]
SUFFIX = ["", "", "", "", "-devel", "-libs", "-doc", "-common", "-tools", "-data", "-static",
          "+default-devel", "-javadoc", "-tests"]
LICENSES = ["MIT", "GPL-2.0-or-later", "LGPL-2.1-or-later", "BSD-3-Clause", "Apache-2.0",
            "GPL-3.0-only", "MPL-2.0", "ISC", "Artistic-1.0-Perl OR GPL-1.0-or-later"]
INTERP = ["/bin/sh", "/usr/bin/python3", "/usr/bin/perl", "/usr/bin/bash", "/usr/bin/ruby"]
GLIBC = ["2.2.5", "2.3", "2.3.4", "2.4", "2.7", "2.14", "2.17", "2.28", "2.32", "2.33", "2.34"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def words(rng, n):
    # Zipf-distributed, as the words of real text.
    return " ".join(rng.choices(WORDS, cum_weights=CUM, k=n))


def make_words(rng):
    out = set()
    while len(out) < 4000:
        out.add("".join(rng.choice(SYLL) for _ in range(rng.randint(1, 4))))
    return sorted(out)


def names(rng, count):
    seen, out = set(), []
    while len(out) < count:
        stem = "".join(rng.choice(SYLL) for _ in range(rng.randint(2, 4)))
        base = rng.choice(PREFIX) + stem
        for suffix in [""] + rng.sample(SUFFIX, rng.randint(0, 3)):
            n = base + suffix
            if n not in seen and len(out) < count:
                seen.add(n)
                out.append(n)
    return out


def entry(name, flags=None, e=None, v=None, r=None, pre=False):
    s = '<rpm:entry name="%s"' % esc(name)
    if flags:
        s += ' flags="%s"' % flags
        if e is not None:
            s += ' epoch="%s"' % e
        if v is not None:
            s += ' ver="%s"' % esc(v)
        if r is not None:
            s += ' rel="%s"' % esc(r)
    if pre:
        s += ' pre="1"'
    return s + "/>"


def generated(rng, i, name, sonames):
    """(primary, filelists, other) XML of the i-th generated package."""
    arch = rng.choices(["x86_64", "noarch", "i686"], [70, 26, 4])[0]
    epoch = rng.choice([0] * 12 + [1, 2])
    ver = ".".join(str(rng.randint(0, 30)) for _ in range(rng.randint(1, 4)))
    rel = "%d.fc38" % rng.randint(1, 12)
    pkgid = hashlib.sha256(("%d:%s" % (i, name)).encode()).hexdigest()
    href = "Packages/%s/%s-%s-%s.%s.rpm" % (name[0].lower(), name, ver, rel, arch)
    size = int(rng.lognormvariate(11, 1.6)) + 6000
    inst = size * rng.randint(2, 4)
    hdr_end = 4504 + rng.randint(2000, 90000)
    isa = "(x86-64)" if arch == "x86_64" else ("(x86-32)" if arch == "i686" else "")
    evr = dict(e=epoch, v=ver, r=rel)
    prov = [entry(name, "EQ", **evr)]
    if isa:
        prov.append(entry(name + isa, "EQ", **evr))
    own = []
    if arch != "noarch" and rng.random() < 0.45:
        for _ in range(rng.randint(1, 3)):
            so = "lib%s.so.%d" % (rng.choice(WORDS), rng.randint(0, 9))
            own.append(so)
            prov.append(entry(so + "()(64bit)"))
    if rng.random() < 0.3:
        prov.append(entry("%s(%s)" % (rng.choice(["python3dist", "perl", "rubygem", "npm", "golang", "crate", "tex", "font", "mimehandler", "config"]), rng.choice(WORDS)), "EQ", v=ver))
    req = []
    if arch != "noarch":
        req.append(entry("rtld(GNU_HASH)"))
        for g in rng.sample(GLIBC, rng.randint(1, 4)):
            req.append(entry("libc.so.6(GLIBC_%s)(64bit)" % g))
        for so in rng.sample(sonames, min(len(sonames), rng.randint(0, 9))):
            req.append(entry(so + "()(64bit)"))
    if rng.random() < 0.4:
        req.append(entry(rng.choice(INTERP)))
    if rng.random() < 0.15:
        req.append(entry("/bin/sh", pre=True))
    for _ in range(rng.randint(0, 4)):
        req.append(entry(rng.choice(NAMES), rng.choice([None, "GE", "EQ"]), e=0, v=rng.choice(["1.0", "2", "3.1.4", "0.9.8"])))
    files_primary = []
    if rng.random() < 0.3:
        files_primary += ["/usr/bin/%s" % rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.1:
        files_primary.append("/etc/%s/%s.conf" % (name, rng.choice(WORDS)))
    files_other = ["/usr/share/doc/%s/%s" % (name, f) for f in ("README", "NEWS", "AUTHORS")[: rng.randint(1, 3)]]
    for _ in range(rng.randint(2, 14)):
        files_other.append("/usr/%s/%s/%s" % (rng.choice(["lib64", "share", "lib", "include"]), name, rng.choice(WORDS)))
    for so in own:
        files_other.append("/usr/lib64/%s" % so)
    summary = words(rng, rng.randint(3, 8)).capitalize()
    desc = words(rng, rng.randint(10, 70)).capitalize() + "."
    fmt_files = "".join("<file>%s</file>" % esc(f) for f in files_primary)
    primary = (
        '<package type="rpm"><name>%s</name><arch>%s</arch>'
        '<version epoch="%d" ver="%s" rel="%s"/>'
        '<checksum type="sha256" pkgid="YES">%s</checksum>'
        "<summary>%s</summary><description>%s</description>"
        "<packager>Fedora Project</packager><url>https://%s.example.org/</url>"
        '<time file="%d" build="%d"/><size package="%d" installed="%d" archive="%d"/>'
        '<location href="%s"/><format><rpm:license>%s</rpm:license>'
        "<rpm:vendor>Fedora Project</rpm:vendor><rpm:group>Unspecified</rpm:group>"
        "<rpm:buildhost>buildvm-x86-%02d.iad2.fedoraproject.org</rpm:buildhost>"
        "<rpm:sourcerpm>%s-%s-%s.src.rpm</rpm:sourcerpm>"
        '<rpm:header-range start="4504" end="%d"/>'
        "<rpm:provides>%s</rpm:provides><rpm:requires>%s</rpm:requires>%s</format></package>\n"
    ) % (esc(name), arch, epoch, esc(ver), rel, pkgid, esc(summary), esc(desc), esc(name),
         TIME - rng.randint(0, 3 * 10**7), TIME - rng.randint(0, 3 * 10**7), size, inst,
         inst + 1024, href, rng.choice(LICENSES), rng.randint(1, 40), esc(name.split("+")[0]),
         esc(ver), rel, hdr_end, "".join(prov), "".join(req), fmt_files)
    head = '<package pkgid="%s" name="%s" arch="%s"><version epoch="%d" ver="%s" rel="%s"/>' % (
        pkgid, esc(name), arch, epoch, esc(ver), rel)
    filelists = head + "".join("<file>%s</file>" % esc(f) for f in files_primary + files_other) + "</package>\n"
    other = head + "".join(
        '<changelog author="%s &lt;%s@example.org&gt; - %s-%s" date="%d">- %s</changelog>'
        % (esc(rng.choice(WORDS).capitalize()), rng.choice(WORDS), esc(ver), rel,
           TIME - rng.randint(0, 10**8), esc(words(rng, rng.randint(2, 8))))
        for _ in range(rng.randint(1, 2))) + "</package>\n"
    return primary, filelists, other


def real_entries(rpmdir):
    """The <package> elements createrepo_c writes for the RPMs under rpmdir, per file type."""
    tmp = tempfile.mkdtemp(prefix="bigrepo-")
    try:
        subprocess.run(["createrepo_c", "--quiet", "--no-database", "--simple-md-filenames",
                        "--general-compress-type=gz", "-o", tmp, rpmdir], check=True)
        out = {}
        for kind in ("primary", "filelists", "other"):
            with gzip.open(os.path.join(tmp, "repodata", kind + ".xml.gz"), "rt", encoding="utf-8") as f:
                text = f.read()
            out[kind] = [m.group(0) + "\n" for m in re.finditer(r"<package[ >].*?</package>", text, re.S)]
        return out
    finally:
        shutil.rmtree(tmp)


class Record:
    """One compressed metadata file being written, hashed on both sides."""

    def __init__(self, out, kind, ns):
        self.kind = kind
        self.path = os.path.join(out, "repodata", kind + ".xml.gz")
        self.raw = open(self.path, "wb")
        self.gz = gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=6, mtime=TIME)
        self.open_sha = hashlib.sha256()
        self.open_size = 0
        self.head = '<?xml version="1.0" encoding="UTF-8"?>\n<%s %s packages="%%d">\n' % (
            {"primary": "metadata", "filelists": "filelists", "other": "otherdata"}[kind], ns)
        self.tail = "</%s>\n" % {"primary": "metadata", "filelists": "filelists", "other": "otherdata"}[kind]

    def write(self, s):
        b = s.encode("utf-8")
        self.open_sha.update(b)
        self.open_size += len(b)
        self.gz.write(b)

    def close(self):
        self.gz.close()
        self.raw.close()
        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        self.sha = h.hexdigest()
        self.size = os.path.getsize(self.path)
        final = os.path.join(os.path.dirname(self.path), "%s-%s.xml.gz" % (self.sha, self.kind))
        os.replace(self.path, final)
        self.href = "repodata/" + os.path.basename(final)

    def repomd(self):
        return (
            '  <data type="%s">\n    <checksum type="sha256">%s</checksum>\n'
            '    <open-checksum type="sha256">%s</open-checksum>\n    <location href="%s"/>\n'
            "    <timestamp>%d</timestamp>\n    <size>%d</size>\n    <open-size>%d</open-size>\n  </data>\n"
        ) % (self.kind, self.sha, self.open_sha.hexdigest(), self.href, TIME, self.size, self.open_size)


def main():
    global WORDS, NAMES, CUM
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("rpms", nargs="*")
    ap.add_argument("--count", type=int, default=65000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--real-dir", default="", help="where the real RPMs go, relative to OUT")
    a = ap.parse_intermixed_args()
    rng = random.Random(a.seed)
    WORDS = make_words(rng)
    rng.shuffle(WORDS)
    CUM, acc = [], 0.0
    for rank in range(len(WORDS)):
        acc += 1.0 / (rank + 1)
        CUM.append(acc)
    NAMES = names(rng, a.count)
    sonames = ["lib%s.so.%d" % (rng.choice(WORDS), rng.randint(0, 9)) for _ in range(3000)]

    os.makedirs(os.path.join(a.out, "repodata"), exist_ok=True)
    for old in os.listdir(os.path.join(a.out, "repodata")):
        os.unlink(os.path.join(a.out, "repodata", old))
    real = {"primary": [], "filelists": [], "other": []}
    if a.rpms:
        dest = os.path.join(a.out, a.real_dir)
        os.makedirs(dest, exist_ok=True)
        for r in a.rpms:
            d = os.path.join(dest, os.path.basename(r))
            if not os.path.exists(d):
                try:
                    os.link(r, d)
                except OSError:
                    shutil.copy(r, d)
        real = real_entries(a.out)
    total = a.count + len(real["primary"])
    ns = {
        "primary": 'xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm"',
        "filelists": 'xmlns="http://linux.duke.edu/metadata/filelists"',
        "other": 'xmlns="http://linux.duke.edu/metadata/other"',
    }
    recs = {k: Record(a.out, k, ns[k]) for k in ("primary", "filelists", "other")}
    for r in recs.values():
        r.write(r.head % total)
    # The real packages sit in the middle of the generated ones, as a distribution's would.
    at = a.count // 2
    for i, name in enumerate(NAMES):
        if i == at:
            for k, r in recs.items():
                r.write("".join(real[k]))
        p, f, o = generated(rng, i, name, sonames)
        recs["primary"].write(p)
        recs["filelists"].write(f)
        recs["other"].write(o)
    if at >= len(NAMES):
        for k, r in recs.items():
            r.write("".join(real[k]))
    for r in recs.values():
        r.write(r.tail)
        r.close()
    repomd = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" '
        'xmlns:rpm="http://linux.duke.edu/metadata/rpm">\n  <revision>%d</revision>\n%s</repomd>\n'
    ) % (TIME + len(real["primary"]), "".join(r.repomd() for r in recs.values()))
    tmp = os.path.join(a.out, "repodata", ".repomd.xml.tmp")
    with open(tmp, "w") as f:
        f.write(repomd)
    os.replace(tmp, os.path.join(a.out, "repodata", "repomd.xml"))
    print("%s: %d packages (%d real), primary.xml.gz %d bytes (%d uncompressed), filelists %d, other %d"
          % (a.out, total, len(real["primary"]), recs["primary"].size, recs["primary"].open_size,
             recs["filelists"].size, recs["other"].size))


if __name__ == "__main__":
    sys.exit(main())
