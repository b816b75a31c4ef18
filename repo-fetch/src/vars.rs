//! dnf variables (`$basearch`, `$releasever`, …) and their substitution in
//! `.repo` values, mirrorlists and metalinks.

use std::collections::BTreeMap;
use std::path::Path;

/// A set of dnf variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    vars: BTreeMap<String, String>,
}

/// dnf's base architecture for a machine architecture.
pub fn basearch_of(arch: &str) -> &str {
    match arch {
        "i386" | "i486" | "i586" | "i686" | "athlon" | "geode" | "x86" => "i386",
        "armv7l" | "armv7hl" | "armv7hnl" | "armv8l" | "arm" => "armhfp",
        "amd64" | "ia32e" => "x86_64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        other => other,
    }
}

impl Vars {
    /// An empty set.
    pub fn new() -> Vars {
        Vars::default()
    }

    /// Variables of this machine, as dnf would set them: `arch`, `basearch`,
    /// `releasever` (from /etc/os-release `VERSION_ID`), the files in
    /// /etc/dnf/vars/, and `DNF_VAR_name` environment variables (strongest).
    pub fn from_system() -> Vars {
        let mut v = Vars::new();
        let arch = std::env::consts::ARCH;
        v.set("arch", arch);
        v.set("basearch", basearch_of(arch));
        if let Ok(text) = std::fs::read_to_string("/etc/os-release") {
            if let Some(ver) = os_release_value(&text, "VERSION_ID") {
                v.set("releasever", &ver);
            }
        }
        v.load_dir(Path::new("/etc/dnf/vars"));
        for (k, val) in std::env::vars() {
            if let Some(name) = k.strip_prefix("DNF_VAR_") {
                v.set(name, &val);
            }
        }
        for key in ["DNF0", "DNF1", "DNF2", "DNF3", "DNF4", "DNF5"] {
            if let Ok(val) = std::env::var(key) {
                v.set(key, &val);
            }
        }
        v
    }

    /// Reads a directory of variable files (file name = variable, first
    /// line = value), as /etc/dnf/vars. A missing directory is no error.
    pub fn load_dir(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                if let Some(first) = text.lines().next() {
                    self.set(&name, first.trim());
                }
            }
        }
    }

    /// Sets (or replaces) one variable.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Vars {
        self.vars.insert(name.to_string(), value.to_string());
        self
    }

    /// Builder form of [`Vars::set`].
    pub fn with(mut self, name: &str, value: &str) -> Vars {
        self.set(name, value);
        self
    }

    /// The value of one variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Replaces `$name` and `${name}` with known values; unknown variables are
    /// left as written.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(braced) = after.strip_prefix('{') {
                if let Some(end) = braced.find('}') {
                    let name = &braced[..end];
                    if let Some(v) = self.get(name) {
                        out.push_str(v);
                        rest = &braced[end + 1..];
                        continue;
                    }
                }
                out.push('$');
                rest = after;
                continue;
            }
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let name = &after[..len];
            match self.get(name) {
                Some(v) if len > 0 => {
                    out.push_str(v);
                    rest = &after[len..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_and_keeps_unknown() {
        let v = Vars::new()
            .with("basearch", "x86_64")
            .with("releasever", "40");
        assert_eq!(
            v.substitute("http://h/$releasever/${basearch}/os/$unknown/$"),
            "http://h/40/x86_64/os/$unknown/$"
        );
        assert_eq!(v.substitute("a$basearchb"), "a$basearchb");
        assert_eq!(v.substitute("${nope}x"), "${nope}x");
    }

    #[test]
    fn basearch_mapping() {
        assert_eq!(basearch_of("i686"), "i386");
        assert_eq!(basearch_of("x86_64"), "x86_64");
        assert_eq!(basearch_of("aarch64"), "aarch64");
    }

    #[test]
    fn os_release() {
        let t = "NAME=\"Fedora\"\nVERSION_ID=40\n";
        assert_eq!(os_release_value(t, "VERSION_ID").as_deref(), Some("40"));
    }
}
