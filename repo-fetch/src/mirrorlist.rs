//! MirrorManager-style mirrorlists: one base URL per line, `#` comments.

/// The URLs of a mirrorlist, in file order. Blank lines and comment lines are
/// skipped; leading and trailing whitespace is ignored.
pub fn parse_mirrorlist(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_and_indented_lines() {
        let t = "# header\n\n\t\t   http://a/x/\n# http://b/\nftp://c/y/";
        assert_eq!(parse_mirrorlist(t), vec!["http://a/x/", "ftp://c/y/"]);
        assert!(parse_mirrorlist("\n").is_empty());
    }
}
