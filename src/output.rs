//! Output shared by all subcommands: human text on a terminal, or one JSON
//! document on standard output with `--json`.

use serde::Serialize;

/// Prints `value` as pretty JSON on standard output.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}
