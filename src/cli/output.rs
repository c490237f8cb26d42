//! Printing results: JSON for scripts, aligned tables for people. Everything printed goes
//! through [`tunedesk::text::for_terminal`]: labels, names and values come from the user's
//! files, and their control characters must not reach the terminal.

use serde::Serialize;

/// `println!` for the CLI's output (control characters from files escaped).
macro_rules! outln {
    () => { println!() };
    ($($arg:tt)*) => { println!("{}", tunedesk::text::for_terminal(&format!($($arg)*))) };
}

/// `print!` for the CLI's output (control characters from files escaped).
macro_rules! out {
    ($($arg:tt)*) => { print!("{}", tunedesk::text::for_terminal(&format!($($arg)*))) };
}

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints an error: to stderr, and as `{"error": …}` on stdout too in JSON mode.
pub fn error(err: &anyhow::Error, json: bool) {
    let message = tunedesk::report(err.as_ref());
    if json {
        println!("{}", serde_json::json!({ "error": message }));
    }
    eprintln!("error: {}", tunedesk::text::for_terminal(&message));
}

/// Prints rows as left-aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// `12.3 %`.
pub fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}
