//! Output shared by all subcommands: human text on a terminal, or one JSON
//! document on standard output with `--json`; `--quiet` and the progress bars.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// `--quiet`: no progress and no notes on standard error, only results and errors.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Sets `--quiet` for the run.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether human progress is shown: not with `--json` or `--quiet`, and only when both
/// standard output and standard error are terminals.
pub fn progress_shown(json: bool) -> bool {
    !json && !quiet() && std::io::stderr().is_terminal() && std::io::stdout().is_terminal()
}

/// A bar counting `what` up to `total` on standard error, or `None` when progress is not
/// shown ([`progress_shown`]).
pub fn counter(json: bool, total: u64, what: &str) -> Option<ProgressBar> {
    progress_shown(json).then(|| {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{msg} {pos}/{len} {wide_bar} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(what.to_string());
        b
    })
}

/// A spinner with a changing message on standard error, or `None` when progress is not
/// shown ([`progress_shown`]).
pub fn spinner(json: bool, msg: &str) -> Option<ProgressBar> {
    progress_shown(json).then(|| {
        let b = ProgressBar::new_spinner();
        b.set_message(msg.to_string());
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    })
}

/// Prints `value` as pretty JSON on standard output.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}
