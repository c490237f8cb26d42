//! Text from files, shown safely: a value quoted in a message or printed to a terminal is cut
//! to a readable length and its control and invisible characters are escaped, so that a 5 MiB
//! cell or an ANSI escape sequence in a file can neither flood nor drive the terminal.

use std::fmt;

/// The most characters of a value a message shows.
pub const MAX_SHOWN_CHARS: usize = 80;

/// Whether `c` is an invisible formatting character: zero-width spaces and joiners,
/// bidirectional marks, embeddings, overrides and isolates, the byte-order mark.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}')
}

/// `s` with control and invisible characters escaped (`\n`, `\u{1b}`), every character
/// otherwise as is, and cut after `max` characters (`…` and how many more bytes).
pub fn escape(s: &str, max: usize) -> String {
    escape_but(s, max, false)
}

/// Text for a terminal: control and invisible characters escaped as by [`escape`], except
/// line breaks and tabs, which stay; nothing is cut. What the CLI prints for people goes
/// through it, so that an ANSI escape sequence in a file cannot drive the terminal.
pub fn for_terminal(s: &str) -> String {
    escape_but(s, usize::MAX, true)
}

fn escape_but(s: &str, max: usize, keep_layout: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (n, (i, c)) in s.char_indices().enumerate() {
        if n == max {
            out.push_str(&format!("… ({} more bytes)", s.len() - i));
            break;
        }
        match c {
            '\n' | '\t' if keep_layout => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_invisible(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// [`escape`] at [`MAX_SHOWN_CHARS`]: a value from a file, as a message shows it.
pub fn clip(s: &str) -> String {
    escape(s, MAX_SHOWN_CHARS)
}

/// A value from a file in double quotes, [`clip`]ped: `Shown(s)` in a `format!`.
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", clip(self.0))
    }
}

/// A list of names from a file for a message: the first `max`, [`clip`]ped, joined by `, `,
/// then how many more there are.
pub fn list(names: &[String], max: usize) -> String {
    let mut out = names
        .iter()
        .take(max)
        .map(|n| clip(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > max {
        out.push_str(&format!(" … and {} more", names.len() - max));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(clip("plain text, café"), "plain text, café");
        assert_eq!(clip("a\nb\tc\u{1b}[31m"), "a\\nb\\tc\\u{1b}[31m");
        assert_eq!(clip("evil\u{202e}txt"), "evil\\u{202e}txt");
        let long = "x".repeat(5 << 20);
        let shown = clip(&long);
        assert!(shown.len() < 120, "{}", shown.len());
        assert!(shown.ends_with(&format!("… ({} more bytes)", (5 << 20) - 80)));
        assert_eq!(Shown("a\"b").to_string(), "\"a\"b\"");
        assert_eq!(for_terminal("a\tb\n\u{1b}[2J\r"), "a\tb\n\\u{1b}[2J\\r");
        let names: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        assert_eq!(list(&names[..2], 20), "c0, c1");
        assert!(list(&names, 20).ends_with("c19 … and 10 more"));
    }
}
