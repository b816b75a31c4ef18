//! Package versions, the workspace's one definition: [`Evr`] (epoch, version, release)
//! and its parsing, ordered the way rpm's `rpmvercmp()` and `rpmVersionCompare()` order
//! versions (rpm 4.18 semantics, including `~` and `^`); the [`nevra`] as dnf prints it;
//! and the dependency [`Relation`] with the range overlap test that rpm and libsolv use
//! to match a requirement against a provide.
//!
//! Written by hand: no maintained crate implements rpm's exact ordering
//! (the caret rules in particular) without pulling in librpm.

use std::cmp::Ordering;
use std::fmt;

/// Compares two version (or release) strings exactly as rpm's `rpmvercmp()` does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let one = a.as_bytes();
    let two = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < one.len() || j < two.len() {
        while i < one.len() && sep(one[i]) {
            i += 1;
        }
        while j < two.len() && sep(two[j]) {
            j += 1;
        }
        let c1 = one.get(i).copied();
        let c2 = two.get(j).copied();
        // Tilde sorts before everything else, even the end of the string.
        if c1 == Some(b'~') || c2 == Some(b'~') {
            if c1 != Some(b'~') {
                return Ordering::Greater;
            }
            if c2 != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret sorts after the end of the string but before anything else.
        if c1 == Some(b'^') || c2 == Some(b'^') {
            if c1.is_none() {
                return Ordering::Less;
            }
            if c2.is_none() {
                return Ordering::Greater;
            }
            if c1 != Some(b'^') {
                return Ordering::Greater;
            }
            if c2 != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if c1.is_none() || c2.is_none() {
            break;
        }
        let (s1, s2) = (i, j);
        let isnum = one[i].is_ascii_digit();
        if isnum {
            while i < one.len() && one[i].is_ascii_digit() {
                i += 1;
            }
            while j < two.len() && two[j].is_ascii_digit() {
                j += 1;
            }
        } else {
            while i < one.len() && one[i].is_ascii_alphabetic() {
                i += 1;
            }
            while j < two.len() && two[j].is_ascii_alphabetic() {
                j += 1;
            }
        }
        // `one` has a segment here (it was not a separator, ~ or ^).
        if j == s2 {
            // Different segment types: numeric beats alpha.
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let mut seg1 = &one[s1..i];
        let mut seg2 = &two[s2..j];
        if isnum {
            while seg1.first() == Some(&b'0') {
                seg1 = &seg1[1..];
            }
            while seg2.first() == Some(&b'0') {
                seg2 = &seg2[1..];
            }
            match seg1.len().cmp(&seg2.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match seg1.cmp(seg2) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (i >= one.len(), j >= two.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// An epoch:version-release triple, ordered like rpm orders package versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Evr {
    /// Epoch; `None` when absent (compares as 0).
    pub epoch: Option<u64>,
    /// Version.
    pub version: String,
    /// Release; `None` (or empty) when absent.
    pub release: Option<String>,
}

impl Evr {
    /// Builds an EVR from its parts.
    pub fn new(epoch: Option<u64>, version: impl Into<String>, release: Option<String>) -> Self {
        Evr {
            epoch,
            version: version.into(),
            release,
        }
    }

    /// Parses `[E:]V[-R]` as rpm does (the release is after the last `-`).
    pub fn parse(s: &str) -> Evr {
        let (epoch, rest) = match s.split_once(':') {
            // rpm's parseEVR(): digits (or nothing, which is epoch 0) before a ':'.
            Some((e, rest)) if e.bytes().all(|c| c.is_ascii_digit()) => (
                if e.is_empty() {
                    Some(0)
                } else {
                    e.parse().ok()
                },
                rest,
            ),
            _ => (None, s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v.to_string(), Some(r.to_string())),
            None => (rest.to_string(), None),
        };
        Evr {
            epoch,
            version,
            release,
        }
    }

    /// The release, if present and non-empty.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref().filter(|r| !r.is_empty())
    }

    /// Compares epoch and version, then the release only when both sides have
    /// one (rpm's rule for dependency ranges such as `foo >= 1.0`).
    pub fn cmp_dep(&self, other: &Evr) -> Ordering {
        let e = self.epoch.unwrap_or(0).cmp(&other.epoch.unwrap_or(0));
        if e != Ordering::Equal {
            return e;
        }
        let v = rpmvercmp(&self.version, &other.version);
        if v != Ordering::Equal {
            return v;
        }
        match (self.release(), other.release()) {
            (Some(a), Some(b)) => rpmvercmp(a, b),
            _ => Ordering::Equal,
        }
    }
}

impl Ord for Evr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .unwrap_or(0)
            .cmp(&other.epoch.unwrap_or(0))
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(self.release().unwrap_or(""), other.release().unwrap_or("")))
    }
}

impl PartialOrd for Evr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.epoch {
            write!(f, "{e}:")?;
        }
        f.write_str(&self.version)?;
        if let Some(r) = self.release() {
            write!(f, "-{r}")?;
        }
        Ok(())
    }
}

/// `name-[epoch:]version-release.arch` with the epoch only when non-zero, as dnf prints
/// a NEVRA.
pub fn nevra(name: &str, epoch: u64, version: &str, release: &str, arch: &str) -> String {
    if epoch == 0 {
        format!("{name}-{version}-{release}.{arch}")
    } else {
        format!("{name}-{epoch}:{version}-{release}.{arch}")
    }
}

/// Longest name, version, release or arch that [`check_nevra_field`] accepts: a
/// package file name `N-V-R.A.rpm` must fit in one path component (255 bytes).
pub const MAX_NEVRA_FIELD: usize = 255;

/// Checks a name, version, release or arch read from untrusted input (an index, a
/// repository's metadata) before it becomes part of a file name, by rpm's own rules:
/// not empty, at most [`MAX_NEVRA_FIELD`] bytes, no `/`, no leading `.`, no control
/// characters and no whitespace. Returns what is wrong.
pub fn check_nevra_field(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        Err("is empty")
    } else if value.len() > MAX_NEVRA_FIELD {
        Err("is longer than 255 bytes")
    } else if value.contains('/') {
        Err("contains '/'")
    } else if value.starts_with('.') {
        Err("starts with '.'")
    } else if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Err("contains a control character or whitespace")
    } else {
        Ok(())
    }
}

/// A version relation of a dependency (`flags` in rpm-md: EQ, LT, LE, GT, GE; in an RPM
/// header, the comparison bits of its sense flags, see `DepFlags::relation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Relation {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Relation {
    /// The rpm-md spelling (`EQ`, `LT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Eq => "EQ",
            Relation::Lt => "LT",
            Relation::Le => "LE",
            Relation::Gt => "GT",
            Relation::Ge => "GE",
        }
    }

    /// The operator as rpm prints it (`=`, `<`, ...).
    pub fn operator(self) -> &'static str {
        match self {
            Relation::Eq => "=",
            Relation::Lt => "<",
            Relation::Le => "<=",
            Relation::Gt => ">",
            Relation::Ge => ">=",
        }
    }

    /// Parses the rpm-md spelling.
    pub fn from_rpmmd(s: &str) -> Option<Relation> {
        Some(match s {
            "EQ" => Relation::Eq,
            "LT" => Relation::Lt,
            "LE" => Relation::Le,
            "GT" => Relation::Gt,
            "GE" => Relation::Ge,
            _ => return None,
        })
    }

    /// Parses an operator (`=`, `==`, `<`, `<=`, `>`, `>=`).
    pub fn from_operator(s: &str) -> Option<Relation> {
        Some(match s {
            "=" | "==" => Relation::Eq,
            "<" => Relation::Lt,
            "<=" | "=<" => Relation::Le,
            ">" => Relation::Gt,
            ">=" | "=>" => Relation::Ge,
            _ => return None,
        })
    }

    /// From rpm's RPMSENSE_LESS/GREATER/EQUAL bits (2, 4, 8); `None` if no bit is set.
    pub fn from_rpmsense(bits: u32) -> Option<Relation> {
        match (bits & 2 != 0, bits & 4 != 0, bits & 8 != 0) {
            (false, false, true) => Some(Relation::Eq),
            (true, false, false) => Some(Relation::Lt),
            (true, false, true) => Some(Relation::Le),
            (false, true, false) => Some(Relation::Gt),
            (false, true, true) => Some(Relation::Ge),
            _ => None,
        }
    }

    fn bits(self) -> (bool, bool, bool) {
        // (less, greater, equal)
        match self {
            Relation::Eq => (false, false, true),
            Relation::Lt => (true, false, false),
            Relation::Le => (true, false, true),
            Relation::Gt => (false, true, false),
            Relation::Ge => (false, true, true),
        }
    }
}

/// Does the range `a_flags a_evr` overlap `b_flags b_evr`? This is rpm's
/// `rpmdsCompare()` rule: a side without a relation matches everything, and a
/// release missing on either side is not compared.
pub fn ranges_overlap(a: Option<(Relation, &Evr)>, b: Option<(Relation, &Evr)>) -> bool {
    let (Some((af, aevr)), Some((bf, bevr))) = (a, b) else {
        return true;
    };
    let (al, ag, ae) = af.bits();
    let (bl, bg, be) = bf.bits();
    match aevr.cmp_dep(bevr) {
        Ordering::Less => ag || bl,
        Ordering::Greater => al || bg,
        Ordering::Equal => (ae && be) || (al && bl) || (ag && bg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nevra_fields_are_checked_like_rpm() {
        for ok in [
            "bash",
            "5.2.15",
            "1.fc41",
            "x86_64",
            "1.0~rc1^git2+b3",
            "libstdc++",
        ] {
            assert_eq!(check_nevra_field(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".x",
            "a/b",
            "a b",
            "a\tb",
            "a\u{0}",
            &"x".repeat(256),
        ] {
            assert!(check_nevra_field(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn vercmp_like_rpm() {
        // Cases from rpm's own test suite (rpmvercmp.at).
        let cases = [
            ("1.0", "1.0", 0),
            ("1.0", "2.0", -1),
            ("2.0", "1.0", 1),
            ("2.0.1", "2.0.1", 0),
            ("2.0", "2.0.1", -1),
            ("2.0.1", "2.0", 1),
            ("2.0.1a", "2.0.1a", 0),
            ("2.0.1a", "2.0.1", 1),
            ("2.0.1", "2.0.1a", -1),
            ("5.5p1", "5.5p1", 0),
            ("5.5p1", "5.5p2", -1),
            ("5.5p2", "5.5p1", 1),
            ("5.5p10", "5.5p10", 0),
            ("5.5p1", "5.5p10", -1),
            ("5.5p10", "5.5p1", 1),
            ("10xyz", "10.1xyz", -1),
            ("10.1xyz", "10xyz", 1),
            ("xyz10", "xyz10", 0),
            ("xyz10", "xyz10.1", -1),
            ("xyz10.1", "xyz10", 1),
            ("xyz.4", "xyz.4", 0),
            ("xyz.4", "8", -1),
            ("8", "xyz.4", 1),
            ("xyz.4", "2", -1),
            ("2", "xyz.4", 1),
            ("5.5p2", "5.6p1", -1),
            ("5.6p1", "5.5p2", 1),
            ("5.6p1", "6.5p1", -1),
            ("6.5p1", "5.6p1", 1),
            ("6.0.rc1", "6.0", 1),
            ("6.0", "6.0.rc1", -1),
            ("10b2", "10a1", 1),
            ("10a2", "10b2", -1),
            ("1.0aa", "1.0aa", 0),
            ("1.0a", "1.0aa", -1),
            ("1.0aa", "1.0a", 1),
            ("10.0001", "10.0001", 0),
            ("10.0001", "10.1", 0),
            ("10.1", "10.0001", 0),
            ("10.0001", "10.0039", -1),
            ("10.0039", "10.0001", 1),
            ("4.999.9", "5.0", -1),
            ("5.0", "4.999.9", 1),
            ("20101121", "20101121", 0),
            ("20101121", "20101122", -1),
            ("20101122", "20101121", 1),
            ("2_0", "2_0", 0),
            ("2.0", "2_0", 0),
            ("2_0", "2.0", 0),
            ("a", "a", 0),
            ("a+", "a+", 0),
            ("a+", "a_", 0),
            ("a_", "a+", 0),
            ("+a", "+a", 0),
            ("+a", "_a", 0),
            ("_a", "+a", 0),
            ("+_", "+_", 0),
            ("_+", "+_", 0),
            ("_+", "_+", 0),
            ("+", "_", 0),
            ("_", "+", 0),
            ("1.0~rc1", "1.0~rc1", 0),
            ("1.0~rc1", "1.0", -1),
            ("1.0", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc2", -1),
            ("1.0~rc2", "1.0~rc1", 1),
            ("1.0~rc1~git123", "1.0~rc1~git123", 0),
            ("1.0~rc1~git123", "1.0~rc1", -1),
            ("1.0~rc1", "1.0~rc1~git123", 1),
            ("1.0^", "1.0^", 0),
            ("1.0^", "1.0", 1),
            ("1.0", "1.0^", -1),
            ("1.0^git1", "1.0^git1", 0),
            ("1.0^git1", "1.0", 1),
            ("1.0", "1.0^git1", -1),
            ("1.0^git1", "1.0^git2", -1),
            ("1.0^git2", "1.0^git1", 1),
            ("1.0^git1", "1.01", -1),
            ("1.01", "1.0^git1", 1),
            ("1.0^20160101", "1.0^20160101", 0),
            ("1.0^20160101", "1.0.1", -1),
            ("1.0.1", "1.0^20160101", 1),
            ("1.0^20160101^git1", "1.0^20160101^git1", 0),
            ("1.0^20160102", "1.0^20160101^git1", 1),
            ("1.0^20160101^git1", "1.0^20160102", -1),
            ("1.0~rc1^git1", "1.0~rc1^git1", 0),
            ("1.0~rc1^git1", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc1^git1", -1),
            ("1.0^git1~pre", "1.0^git1~pre", 0),
            ("1.0^git1", "1.0^git1~pre", 1),
            ("1.0^git1~pre", "1.0^git1", -1),
        ];
        for (a, b, want) in cases {
            let got = match rpmvercmp(a, b) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            };
            assert_eq!(got, want, "rpmvercmp({a:?}, {b:?})");
        }
    }

    #[test]
    fn evr_order_and_parse() {
        assert!(Evr::parse("1:1.0-1") > Evr::parse("2.0-1"));
        assert!(Evr::parse("0:1.0-2") > Evr::parse("1.0-1"));
        assert_eq!(
            Evr::parse("1.0-1").cmp(&Evr::parse("0:1.0-1")),
            Ordering::Equal
        );
        let e = Evr::parse("3:4.5-6.fc40");
        assert_eq!(e.epoch, Some(3));
        assert_eq!(e.version, "4.5");
        assert_eq!(e.release.as_deref(), Some("6.fc40"));
        assert_eq!(e.to_string(), "3:4.5-6.fc40");
    }

    #[test]
    fn range_overlap_like_rpm() {
        let p = Evr::parse("1.0-2");
        let q = |s: &str| Evr::parse(s);
        assert!(ranges_overlap(
            Some((Relation::Eq, &p)),
            Some((Relation::Ge, &q("1.0")))
        ));
        assert!(ranges_overlap(
            Some((Relation::Eq, &p)),
            Some((Relation::Eq, &q("1.0")))
        ));
        assert!(!ranges_overlap(
            Some((Relation::Eq, &p)),
            Some((Relation::Eq, &q("1.0-1")))
        ));
        assert!(!ranges_overlap(
            Some((Relation::Eq, &p)),
            Some((Relation::Gt, &q("1.0")))
        ));
        assert!(ranges_overlap(
            Some((Relation::Eq, &p)),
            Some((Relation::Lt, &q("1.1")))
        ));
        assert!(ranges_overlap(None, Some((Relation::Lt, &q("1.1")))));
        assert!(ranges_overlap(
            Some((Relation::Ge, &p)),
            Some((Relation::Le, &q("1.0-2")))
        ));
        assert!(!ranges_overlap(
            Some((Relation::Gt, &p)),
            Some((Relation::Le, &q("1.0-2")))
        ));
    }
}
