//! Import errors: file-level failures, and per-row problems reported with file, line and column.

use crate::template::LayoutError;
use std::fmt;

/// At most this many row problems are listed; the rest are only counted.
pub const MAX_LISTED_PROBLEMS: usize = 50;
/// At most this many column names are listed in a message.
const LISTED_COLUMNS: usize = 40;

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
    /// The path is not a regular file (a folder, a named pipe, a device).
    #[error("{file}: not a regular file ({what}); give the path of a CSV or JSONL file")]
    NotAFile {
        /// File name.
        file: String,
        /// What it is instead.
        what: &'static str,
    },
    /// The file is larger than the importer reads.
    #[error("{file}: file is {} MiB; the importer reads files of at most {} MiB", .bytes >> 20, super::MAX_FILE_BYTES >> 20)]
    TooLarge {
        /// File name.
        file: String,
        /// Its size.
        bytes: u64,
    },
    /// NUL bytes: a binary file, not text.
    #[error("{file}:{line}: NUL bytes: this is a binary file, not CSV or JSONL text")]
    Binary {
        /// File name.
        file: String,
        /// Line of the first NUL byte.
        line: u64,
    },
    /// More columns than any table of tickets has.
    #[error(
        "{file}:1: header has {columns} columns; at most {} are read (is the delimiter right?)",
        super::MAX_COLUMNS
    )]
    TooManyColumns {
        /// File name.
        file: String,
        /// Columns found.
        columns: usize,
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
    #[error("{file}:1: header has column '{}' twice (columns {first} and {second})", crate::text::clip(.column))]
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
    #[error("{file}: column '{}' not found; columns are: {}", crate::text::clip(.column), crate::text::list(.available, LISTED_COLUMNS))]
    MissingColumn {
        /// File name.
        file: String,
        /// Column asked for.
        column: String,
        /// Columns of the file.
        available: Vec<String>,
    },
    /// A column was mapped to two roles.
    #[error("column '{}' is mapped as both {first} and {second}", crate::text::clip(.column))]
    ColumnMappedTwice {
        /// Column name.
        column: String,
        /// First role.
        first: &'static str,
        /// Second role.
        second: &'static str,
    },
    /// A CSV import without `--text` or `--label`.
    #[error("{file}: say which column holds the {role} (--{role} COL); columns are: {}", crate::text::list(.available, LISTED_COLUMNS))]
    MappingRequired {
        /// File name.
        file: String,
        /// `text` or `label`.
        role: &'static str,
        /// Columns of the file.
        available: Vec<String>,
    },
    /// The dataset name is not usable.
    #[error(transparent)]
    InvalidName(#[from] crate::name::NameError),
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
    #[error("missing key '{}' (records need \"{}\", or \"prompt\" and \"completion\")", crate::text::clip(.key), crate::text::clip(.key))]
    MissingKey {
        /// The key.
        key: String,
    },
    /// A JSONL value of the wrong type.
    #[error("'{}' must be {expected}, found {found}", crate::text::clip(.key))]
    WrongType {
        /// The key.
        key: String,
        /// The type wanted.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A field given twice in one JSONL record (in `fields` and as a key of its own).
    #[error("field '{}' is given twice (in \"fields\" and as a key of its own)", crate::text::clip(.name))]
    FieldTwice {
        /// The field name.
        name: String,
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
            write!(f, " in column '{}'", crate::text::clip(c))?;
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
