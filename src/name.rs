//! What a user-given name (a dataset's, a run's) may be. A name is shown in tables, typed on
//! the command line and, for a run, used as a folder name: so 1–100 characters, no line
//! breaks or other control characters, no invisible formatting characters (zero-width
//! spaces, right-to-left overrides), no path separators, no surrounding spaces, and not `.`
//! or `..`.

use std::fmt;

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {}: {why}", crate::text::Shown(.name))]
pub struct NameError {
    /// What is being named (`dataset`, `run`).
    pub kind: &'static str,
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub why: NameProblem,
}

/// What is wrong with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameProblem {
    /// Empty.
    Empty,
    /// Longer than [`MAX_NAME_CHARS`].
    TooLong,
    /// Leading or trailing whitespace.
    Spaces,
    /// A control character (line break, tab, escape…).
    Control,
    /// An invisible formatting character (zero-width, bidirectional override…).
    Invisible,
    /// `/` or `\`, or the name `.` / `..`.
    Path,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == NameProblem::TooLong {
            return write!(f, "use at most {MAX_NAME_CHARS} characters");
        }
        f.write_str(match self {
            NameProblem::Empty => "a name cannot be empty",
            NameProblem::TooLong => unreachable!("written above"),
            NameProblem::Spaces => "remove the leading or trailing spaces",
            NameProblem::Control => {
                "line breaks, tabs and other control characters are not allowed"
            }
            NameProblem::Invisible => {
                "invisible characters (zero-width spaces, direction overrides) are not allowed"
            }
            NameProblem::Path => {
                "'/', '\\', '.' and '..' are not allowed (names become folder names)"
            }
        })
    }
}

/// Checks a name for a `kind` of thing (`dataset`, `run`).
pub fn check(kind: &'static str, name: &str) -> Result<(), NameError> {
    let problem = if name.is_empty() {
        Some(NameProblem::Empty)
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(NameProblem::TooLong)
    } else if name.chars().any(char::is_control) {
        Some(NameProblem::Control)
    } else if name.chars().any(crate::text::is_invisible) {
        Some(NameProblem::Invisible)
    } else if name.trim() != name {
        Some(NameProblem::Spaces)
    } else if name.contains(['/', '\\']) || name == "." || name == ".." {
        Some(NameProblem::Path)
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(NameError {
            kind,
            name: name.to_string(),
            why,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_breaks_tables_terminals_and_paths() {
        for ok in [
            "tickets",
            "Banking 77 (v2)",
            "atis-500_e",
            "données",
            "日本語",
            "a.b",
        ] {
            check("dataset", ok).unwrap();
        }
        let cases = [
            ("", NameProblem::Empty),
            (&"x".repeat(101), NameProblem::TooLong),
            (" x", NameProblem::Spaces),
            ("x\ny", NameProblem::Control),
            ("x\u{1b}[31m", NameProblem::Control),
            ("abc\u{202e}fdp.exe", NameProblem::Invisible),
            ("a\u{200b}b", NameProblem::Invisible),
            ("a/b", NameProblem::Path),
            ("..\\x", NameProblem::Path),
            ("..", NameProblem::Path),
        ];
        for (name, why) in cases {
            assert_eq!(check("run", name).unwrap_err().why, why, "{name:?}");
        }
        let msg = check("dataset", "x\ny").unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid dataset name \"x\\ny\": line breaks, tabs and other control characters are not allowed"
        );
    }
}
