#!/usr/bin/env python3
"""Convert one Debian binary package (.deb) into an RPM with the same files.

Usage: deb2rpm.py [--rebuild N] DEB OUTDIR WORKDIR
       (payload compression: $DEB2RPM_PAYLOAD, default w19.zstdio as Fedora)
       deb2rpm.py --set-mtimes DEB ROOT   (used by the generated spec's %install)
       deb2rpm.py --mark-rebuild N ROOT   (used by the generated spec's %install)

--rebuild N makes the RPM of a rebuild of the package, as a distribution's
no-source-change rebuild would: Release gets the suffix `.N`, and every ELF
file gets a `.note.corpus-rebuild` section naming the rebuild (a real rebuild
changes the binaries' bytes too: build ids, embedded dates).

The file list (paths, types, modes, owner and group names, symlink targets,
hardlinks) is read from the .deb's data tar; rpmbuild's %install step unpacks
the same data with `dpkg-deb -x`, so every file in the RPM has exactly the
bytes Debian shipped.  Dependencies are simplified to package names
(alternatives become rich `(a or b)` dependencies); Provides keep their names.
Maintainer scripts, triggers, Breaks/Conflicts/Replaces and debconf templates
are not carried over (the corpus is installed with --noscripts anyway).

Prints the path of the RPM it wrote.  Exits non-zero with a one-line message
on any problem (unknown file type, unrepresentable name, rpmbuild failure).
"""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tarfile

# Characters that rpm's %files glob handling treats specially.  Paths that
# contain one are written as a `?` pattern that must match only that path.
GLOB_CHARS = set("*?[]{}\\")


def fail(msg):
    sys.stderr.write("deb2rpm: error: %s\n" % msg)
    sys.exit(1)


def control_fields(deb):
    """Return the control fields of DEB as a dict (continuation lines joined with newlines)."""
    out = subprocess.run(["dpkg-deb", "-f", deb], check=True, capture_output=True).stdout
    fields, key = {}, None
    for line in out.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, val = line.split(":", 1)
            fields[key] = val.strip()
    return fields


def conffiles(deb):
    """Paths listed in the control tar's conffiles (flags such as remove-on-upgrade dropped)."""
    proc = subprocess.Popen(["dpkg-deb", "--ctrl-tarfile", deb], stdout=subprocess.PIPE)
    result = set()
    with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
        for member in tar:
            if member.name in ("conffiles", "./conffiles") and member.isfile():
                data = tar.extractfile(member).read().decode("utf-8", "replace")
                for line in data.splitlines():
                    words = line.split()
                    if words and words[0] == "remove-on-upgrade":
                        continue  # not shipped: dpkg removes it on upgrade
                    if words:
                        result.add(words[-1])
    if proc.wait() != 0:
        fail("dpkg-deb --ctrl-tarfile failed on %s" % deb)
    return result


def data_entries(deb):
    """List (path, kind, mode, user, group, linkname, mtime) for every member of the data tar."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    entries = []
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for m in tar:
            rel = m.name[2:] if m.name.startswith("./") else m.name
            path = "/" + rel.strip("/")
            if path == "/" or rel in (".", ""):
                continue
            if m.isdir():
                kind = "dir"
            elif m.issym():
                kind = "sym"
            elif m.islnk():
                kind = "hardlink"
            elif m.isreg():
                kind = "file"
            else:
                fail("%s: %s has an unsupported type (%r)" % (deb, path, m.type))
            entries.append((path, kind, m.mode & 0o7777, m.uname or "root", m.gname or "root",
                            m.linkname, m.mtime))
    if proc.wait() != 0:
        fail("dpkg-deb --fsys-tarfile failed on %s" % deb)
    return entries


def split_version(debver):
    """Map a Debian version to (epoch, version, release) acceptable to rpm."""
    epoch = None
    if ":" in debver:
        epoch, debver = debver.split(":", 1)
    if "-" in debver:
        upstream, revision = debver.rsplit("-", 1)
    else:
        upstream, revision = debver, "0"
    upstream = upstream.replace("-", "_").replace(":", "_")
    for part in (upstream, revision):
        if not re.fullmatch(r"[A-Za-z0-9._+~]+", part):
            fail("version %r has characters rpm does not accept" % debver)
    return epoch, upstream, revision


def dep_names(field):
    """Parse a Depends-style field into a list of alternative-name lists."""
    groups = []
    for clause in field.replace("\n", " ").split(","):
        alts = []
        for alt in clause.split("|"):
            name = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0].strip()
            if name and name not in alts:
                alts.append(name)
        if alts and alts not in groups:
            groups.append(alts)
    return groups


def spec_escape(text):
    return text.replace("%", "%%")


def files_path(path, all_paths):
    """Return the %files spelling of PATH: quoted, '%' doubled, glob characters neutralised."""
    if '"' in path or "\n" in path:
        fail("path %r cannot be written in a spec file" % path)
    if any(c in GLOB_CHARS for c in path) and any(c in "*?[]\\" for c in path):
        pattern = "".join("?" if c in GLOB_CHARS else c for c in path)
        matches = [p for p in all_paths if p.count("/") == path.count("/")
                   and fnmatch.fnmatchcase(p, pattern)]
        if matches != [path]:
            fail("path %r cannot be spelled unambiguously in %%files (%r)" % (path, matches))
        path = pattern
    # A path with only braces is not a glob for rpm and is taken literally.
    return '"%s"' % spec_escape(path)


def set_mtimes(deb, root):
    """Give every extracted entry under ROOT the mtime the data tar records.

    dpkg-deb -x leaves some directories (those extracted into after their own
    entry) with the extraction time; resetting them makes the RPM reproducible.
    Directories are done last, deepest first, so setting one does not move another.
    """
    entries = data_entries(deb)
    for path, kind, _mode, _u, _g, _l, mtime in sorted(
            entries, key=lambda e: (e[1] == "dir", -e[0].count("/"))):
        os.utime(root + path, (mtime, mtime), follow_symlinks=False)


def mark_rebuild(number, root):
    """Add a `.note.corpus-rebuild` section to every regular ELF file under ROOT."""
    note = os.path.join(os.path.dirname(root.rstrip("/")), "corpus-rebuild-note")
    with open(note, "w", encoding="utf-8") as fh:
        fh.write("ostree-jigdo corpus rebuild %s\n" % number)
    marked = 0
    for top, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(top, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
            subprocess.run(["objcopy", "--add-section", ".note.corpus-rebuild=%s" % note,
                            path], check=True)
            marked += 1
    os.unlink(note)
    if marked == 0:
        fail("--rebuild: no ELF file in %s" % root)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--set-mtimes":
        set_mtimes(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--mark-rebuild":
        mark_rebuild(sys.argv[2], sys.argv[3])
        return
    args = sys.argv[1:]
    rebuild = None
    if len(args) == 5 and args[0] == "--rebuild":
        rebuild = args[1]
        if not rebuild.isdigit():
            fail("--rebuild takes a number, not %r" % rebuild)
        args = args[2:]
    if len(args) != 3:
        fail("usage: deb2rpm.py [--rebuild N] DEB OUTDIR WORKDIR")
    deb, outdir, workdir = (os.path.abspath(a) for a in args)
    f = control_fields(deb)
    name, debver, debarch = f["Package"], f["Version"], f["Architecture"]
    epoch, version, release = split_version(debver)
    if rebuild is not None:
        release += "." + rebuild
    arch = {"all": "noarch", "amd64": "x86_64"}.get(debarch)
    if arch is None:
        fail("%s: unsupported architecture %s" % (deb, debarch))
    payload = os.environ.get("DEB2RPM_PAYLOAD", "w19.zstdio")
    if not re.fullmatch(r"w[0-9]*(T[0-9]*)?\.(zstdio|xzdio|gzdio|bzdio|ufdio)", payload):
        fail("DEB2RPM_PAYLOAD %r is not an rpm payload spelling like w19.zstdio" % payload)
    entries = data_entries(deb)
    confs = conffiles(deb)
    all_paths = [e[0] for e in entries]
    mtime = max([e[6] for e in entries] + [0]) or 1

    desc = f.get("Description", name).split("\n")
    summary = desc[0].strip() or name
    body = [("" if l.strip() == "." else l[1:]) for l in desc[1:]] or [summary]

    spec = [
        "# Generated by deb2rpm.py from %s" % os.path.basename(deb),
        "%global __os_install_post %{nil}",
        "%global __spec_install_post %{nil}",
        "%global __arch_install_post %{nil}",
        "%global _build_id_links none",
        "%global debug_package %{nil}",
        "%global _missing_build_ids_terminate_build 0",
        "%%define _binary_payload %s" % payload,
        "Name: %s" % name,
    ]
    if epoch:
        spec.append("Epoch: %s" % epoch)
    spec += [
        "Version: %s" % version,
        "Release: %s" % release,
        "Summary: %s" % spec_escape(summary),
        "License: see /usr/share/doc/%s/copyright" % spec_escape(name),
        "Vendor: Debian (converted by ostree-jigdo corpus builder)",
        "AutoReqProv: no",
    ]
    if arch == "noarch":
        spec.append("BuildArch: noarch")
    if f.get("Homepage"):
        spec.append("URL: %s" % spec_escape(f["Homepage"]))
    deps = dep_names(f.get("Pre-Depends", "")) + dep_names(f.get("Depends", ""))
    seen = set()
    for alts in deps:
        if name in alts:
            continue
        req = alts[0] if len(alts) == 1 else "(%s)" % " or ".join(alts)
        if req not in seen:
            seen.add(req)
            spec.append("Requires: %s" % req)
    for alts in dep_names(f.get("Provides", "")):
        spec.append("Provides: %s" % alts[0])
    spec += ["", "%description"] + [spec_escape(l) for l in body]
    spec += ["", "%install", 'dpkg-deb -x "%s" "%%{buildroot}"' % spec_escape(deb)]
    if rebuild is not None:
        spec.append('"%s" "%s" --mark-rebuild %s "%%{buildroot}"'
                    % (spec_escape(sys.executable), spec_escape(os.path.abspath(__file__)), rebuild))
    spec += ['"%s" "%s" --set-mtimes "%s" "%%{buildroot}"'
             % (spec_escape(sys.executable), spec_escape(os.path.abspath(__file__)),
                spec_escape(deb)),
             "", "%files"]
    for path, kind, mode, user, group, _link, _mt in entries:
        p = files_path(path, all_paths)
        if kind == "dir":
            spec.append("%%dir %%attr(%04o,%s,%s) %s" % (mode, user, group, p))
        elif kind == "sym":
            spec.append("%%attr(-,%s,%s) %s" % (user, group, p))
        else:
            conf = "%config(noreplace) " if path in confs else ""
            spec.append("%s%%attr(%04o,%s,%s) %s" % (conf, mode, user, group, p))

    top = os.path.join(workdir, "%s_%s_%s" % (name, debver.replace(":", "%3a"), debarch))
    if rebuild is not None:
        top += ".rebuild" + rebuild
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(top)
    spec_path = os.path.join(top, name + ".spec")
    with open(spec_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(spec) + "\n")
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(mtime), LC_ALL="C")
    cmd = ["rpmbuild", "-bb", "--quiet",
           "--define", "_topdir %s" % top,
           "--define", "_rpmdir %s/RPMS" % top,
           "--define", "_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
           "--define", "_buildhost corpus.invalid",
           "--define", "use_source_date_epoch_as_buildtime 1",
           spec_path]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = [l for l in proc.stderr.splitlines() if l.strip()][-5:]
        fail("rpmbuild failed for %s (spec %s): %s" % (deb, spec_path, " | ".join(tail)))
    built = os.listdir(os.path.join(top, "RPMS"))
    if len(built) != 1:
        fail("rpmbuild produced %r for %s" % (built, deb))
    os.makedirs(outdir, exist_ok=True)
    dest = os.path.join(outdir, built[0])
    shutil.move(os.path.join(top, "RPMS", built[0]), dest + ".tmp")
    os.replace(dest + ".tmp", dest)
    # Keep the spec for inspection, drop the build tree.
    shutil.move(spec_path, os.path.join(workdir, os.path.basename(top) + ".spec"))
    shutil.rmtree(top, ignore_errors=True)
    print(dest)


if __name__ == "__main__":
    main()
