//! Import errors: file-level failures, and per-row problems reported with file, line and column.

use crate::template::LayoutError;
use std::fmt;

/// At most this many row problems are listed; the rest are only counted.
pub const MAX_LISTED_PROBLEMS: usize = 50;

/// Why an import failed. Whatever the error, nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// File name as given.
        file: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file has no content.
    #[error("{file}: file is empty")]
    EmptyFile {
        /// File name.
        file: String,
    },
    /// The file is UTF-16 (Excel's "Unicode text"), not UTF-8.
    #[error("{file}: file is UTF-16 encoded; save it as UTF-8 (CSV UTF-8) and import again")]
    Utf16 {
        /// File name.
        file: String,
    },
    /// A CSV header row and nothing else.
    #[error("{file}: header row only, no records")]
    HeaderOnly {
        /// File name.
        file: String,
    },
    /// Two header cells with the same name.
    #[error("{file}:1: header has column '{column}' twice (columns {first} and {second})")]
    DuplicateHeader {
        /// File name.
        file: String,
        /// Repeated name.
        column: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// The header is not valid UTF-8.
    #[error("{file}:1: invalid UTF-8 in the header row")]
    HeaderUtf8 {
        /// File name.
        file: String,
    },
    /// A quoted field that is never closed.
    #[error(
        "{file}:{line}: unterminated quote: a field opened with \" on this line is never closed"
    )]
    UnterminatedQuote {
        /// File name.
        file: String,
        /// Line where the quote opens.
        line: u64,
    },
    /// A mapped column is not in the file.
    #[error("{file}: column '{column}' not found; columns are: {}", .available.join(", "))]
    MissingColumn {
        /// File name.
        file: String,
        /// Column asked for.
        column: String,
        /// Columns of the file.
        available: Vec<String>,
    },
    /// A column was mapped to two roles.
    #[error("column '{column}' is mapped as both {first} and {second}")]
    ColumnMappedTwice {
        /// Column name.
        column: String,
        /// First role.
        first: &'static str,
        /// Second role.
        second: &'static str,
    },
    /// A CSV import without `--text` or `--label`.
    #[error("{file}: say which column holds the {role} (--{role} COL); columns are: {}", .available.join(", "))]
    MappingRequired {
        /// File name.
        file: String,
        /// `text` or `label`.
        role: &'static str,
        /// Columns of the file.
        available: Vec<String>,
    },
    /// The dataset name is not usable.
    #[error("invalid dataset name {0:?}: use 1-100 characters without leading or trailing spaces")]
    InvalidName(String),
    /// One or more rows are invalid.
    #[error("{}", RowsDisplay { file, problems, total: *total })]
    Rows {
        /// File name.
        file: String,
        /// The first problems found, in file order.
        problems: Vec<Problem>,
        /// Number of problems in all (may exceed `problems.len()`).
        total: usize,
    },
    /// Storing failed (the transaction was rolled back).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A problem with one row of the input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Physical line where the record starts (1-based).
    pub line: u64,
    /// The column concerned, if one is.
    pub column: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A CSV record with the wrong number of fields.
    #[error("record has {found} field{}, header has {expected}", if *found == 1 { "" } else { "s" })]
    FieldCount {
        /// Fields in the record.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// Bytes that are not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// All text columns empty.
    #[error("empty text")]
    EmptyText,
    /// Empty label.
    #[error("empty label")]
    EmptyLabel,
    /// A cell longer than the limit.
    #[error(
        "value is {bytes} bytes long, more than the {max}-byte limit (a missing closing quote?)"
    )]
    TooLong {
        /// Length of the value.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A JSONL line that is not JSON.
    #[error("invalid JSON: {message}")]
    Json {
        /// The parser's message.
        message: String,
    },
    /// A JSONL line that is valid JSON but not an object.
    #[error("expected a JSON object, found {found}")]
    NotObject {
        /// What was found instead.
        found: &'static str,
    },
    /// A required key is missing from a JSONL record.
    #[error("missing key '{key}' (records need \"{key}\", or \"prompt\" and \"completion\")")]
    MissingKey {
        /// The key.
        key: String,
    },
    /// A JSONL value of the wrong type.
    #[error("'{key}' must be {expected}, found {found}")]
    WrongType {
        /// The key.
        key: String,
        /// The type wanted.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A completion or prompt that does not follow the task layout.
    #[error("{0}")]
    Layout(#[serde(serialize_with = "as_display")] LayoutError),
}

fn as_display<S: serde::Serializer>(e: &LayoutError, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

impl Problem {
    /// A problem on `line`, in `column` if given.
    pub fn new(line: u64, column: Option<&str>, kind: ProblemKind) -> Problem {
        Problem {
            line,
            column: column.map(str::to_string),
            kind,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.kind)?;
        if let Some(c) = &self.column {
            write!(f, " in column '{c}'")?;
        }
        Ok(())
    }
}

struct RowsDisplay<'a> {
    file: &'a str,
    problems: &'a [Problem],
    total: usize,
}

impl fmt::Display for RowsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ([only], 1) = (self.problems, self.total) {
            return write!(f, "{}:{only}; nothing was imported", self.file);
        }
        write!(
            f,
            "{}: {} rows have problems; nothing was imported",
            self.file, self.total
        )?;
        for p in self.problems {
            write!(f, "\n  {}:{p}", self.file)?;
        }
        if self.total > self.problems.len() {
            write!(f, "\n  … and {} more", self.total - self.problems.len())?;
        }
        Ok(())
    }
}

/// Collects row problems, keeping the first [`MAX_LISTED_PROBLEMS`].
#[derive(Debug, Default)]
pub(crate) struct Problems {
    listed: Vec<Problem>,
    total: usize,
}

impl Problems {
    pub(crate) fn push(&mut self, p: Problem) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(p);
        }
    }

    /// The problems kept (the first [`MAX_LISTED_PROBLEMS`]).
    pub(crate) fn listed(&self) -> &[Problem] {
        &self.listed
    }

    /// Number of problems pushed so far.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// `Ok(())` when no problem was found, else the [`ImportError::Rows`] error.
    pub(crate) fn into_result(self, file: &str) -> Result<(), ImportError> {
        if self.total == 0 {
            return Ok(());
        }
        Err(ImportError::Rows {
            file: file.to_string(),
            problems: self.listed,
            total: self.total,
        })
    }
}
