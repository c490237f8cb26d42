//! Import: reads a CSV or JSONL file, maps its columns to text / label / fields, validates every
//! row and stores the dataset in one transaction.
//!
//! Input: a file and an [`ImportSpec`]. Output: a stored dataset, or an [`ImportError`] naming
//! the file, line and column of each problem, in which case nothing was stored.
//! Must not touch: SQL (goes through [`Store`]), the completion layout (goes through
//! [`crate::template`]).

pub(crate) mod error;
mod jsonl;
mod mapping;
mod preview;
pub mod sample;
pub(crate) mod table;

pub use error::{ImportError, Problem, ProblemKind, MAX_LISTED_PROBLEMS};
pub use preview::{preview, Preview, Suggestion};
pub use table::{MAX_CELL_BYTES, SNIFFED_DELIMITERS};

use crate::example::{DatasetInfo, Example};
use crate::store::{NewDataset, Store};
use error::Problems;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma/semicolon/tab/pipe separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format implied by a file name: `.jsonl`, `.ndjson` and `.json` are JSONL, anything
    /// else CSV.
    pub fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
            _ => Format::Csv,
        }
    }

    /// `csv` or `jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// How to read a file and map its columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportSpec {
    /// Name of the new dataset.
    pub name: String,
    /// File format; `None` = from the extension.
    pub format: Option<Format>,
    /// CSV delimiter; `None` = sniffed.
    pub delimiter: Option<u8>,
    /// Columns joined (by a newline) into the ticket text. JSONL default: `text`.
    pub text_columns: Vec<String>,
    /// Label column. JSONL default: `label`.
    pub label_column: Option<String>,
    /// Columns whose values are fields to extract.
    pub field_columns: Vec<String>,
    /// Every column not used as text or label is a field.
    pub fields_rest: bool,
    /// Overwrite an existing dataset of the same name.
    pub replace: bool,
}

impl ImportSpec {
    /// A CSV spec with the given text columns and label column.
    pub fn csv<S: Into<String>>(
        name: &str,
        text: impl IntoIterator<Item = S>,
        label: &str,
    ) -> ImportSpec {
        ImportSpec {
            name: name.to_string(),
            format: Some(Format::Csv),
            text_columns: text.into_iter().map(Into::into).collect(),
            label_column: Some(label.to_string()),
            ..ImportSpec::default()
        }
    }
}

/// Progress of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ImportEvent {
    /// The file was parsed and validated.
    Parsed {
        /// Valid rows.
        rows: u64,
    },
    /// Rows written so far.
    Storing {
        /// Rows written.
        done: u64,
        /// Rows to write.
        total: u64,
    },
}

/// The outcome of a successful import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The stored dataset.
    pub dataset: DatasetInfo,
    /// Number of rows stored.
    pub rows: u64,
    /// Format read.
    pub format: Format,
    /// Delimiter used (CSV only).
    pub delimiter: Option<char>,
    /// Source columns kept unmapped (stored as extra values).
    pub unmapped_columns: Vec<String>,
}

/// The examples read from a file, before storing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) format: Format,
    pub(crate) delimiter: Option<u8>,
    pub(crate) text_columns: Vec<String>,
    pub(crate) label_column: String,
    pub(crate) fields: Vec<String>,
    pub(crate) unmapped: Vec<String>,
    pub(crate) examples: Vec<Example>,
}

/// Reads, validates and stores `path` as a new dataset. All or nothing: on any error the
/// store is unchanged.
pub fn import_file(
    store: &mut Store,
    path: &Path,
    spec: &ImportSpec,
    on_event: &mut dyn FnMut(ImportEvent),
) -> Result<ImportSummary, ImportError> {
    crate::name::check("dataset", &spec.name)?;
    let parsed = parse_file(path, spec)?;
    let total = parsed.examples.len() as u64;
    on_event(ImportEvent::Parsed { rows: total });
    let new = NewDataset {
        name: spec.name.clone(),
        source: path.display().to_string(),
        format: parsed.format.as_str().to_string(),
        text_columns: parsed.text_columns.clone(),
        label_column: parsed.label_column.clone(),
        fields: parsed.fields.clone(),
    };
    let dataset = store.create_dataset(&new, &parsed.examples, spec.replace, &mut |done| {
        on_event(ImportEvent::Storing { done, total })
    })?;
    Ok(ImportSummary {
        rows: dataset.rows,
        dataset,
        format: parsed.format,
        delimiter: parsed.delimiter.map(char::from),
        unmapped_columns: parsed.unmapped,
    })
}

/// The largest input file read.
pub const MAX_FILE_BYTES: u64 = 2 << 30;
/// The most columns a CSV file may have (Excel's limit).
pub const MAX_COLUMNS: usize = 16_384;

/// Reads an input file: its display name and its text as bytes, ready for the CSV or JSONL
/// reader: a regular file of at most [`MAX_FILE_BYTES`], not empty, not UTF-16 and not
/// binary, the UTF-8 BOM stripped, and old Mac line endings (CR alone) read as line feeds so
/// that line numbers count.
pub(crate) fn read_input(path: &Path) -> Result<(String, Vec<u8>), ImportError> {
    let file = path.display().to_string();
    let io = |source| ImportError::Io {
        file: file.clone(),
        source,
    };
    // Look before opening: opening a named pipe would wait for a writer forever.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else if is_fifo(&meta) {
            "a named pipe"
        } else {
            "a device or socket"
        };
        return Err(ImportError::NotAFile { file, what });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge {
            file,
            bytes: meta.len(),
        });
    }
    let mut data = std::fs::read(path).map_err(io)?;
    if data.is_empty() {
        return Err(ImportError::EmptyFile { file });
    }
    table::check_text(&file, &data)?;
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    if !data.contains(&b'\n') {
        for b in data.iter_mut().filter(|b| **b == b'\r') {
            *b = b'\n';
        }
    }
    Ok((file, data))
}

#[cfg(unix)]
fn is_fifo(meta: &std::fs::Metadata) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type())
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::Metadata) -> bool {
    false
}

/// Reads and validates a file without storing it.
pub(crate) fn parse_file(path: &Path, spec: &ImportSpec) -> Result<Parsed, ImportError> {
    let (file, bytes) = read_input(path)?;
    let data = bytes.as_slice();
    let file = file.as_str();
    let mut problems = Problems::default();
    let parsed = match spec.format.unwrap_or_else(|| Format::from_path(path)) {
        Format::Csv => {
            let table = table::read(file, data, spec.delimiter, &mut problems)?;
            mapping::examples_from_table(file, table, spec, &mut problems)?
        }
        Format::Jsonl => jsonl::read(file, data, spec, &mut problems)?,
    };
    check_layout(&parsed, &mut problems);
    problems.into_result(file)?;
    Ok(parsed)
}

/// Checks that each label and field can go through the task layout and come back unchanged
/// (the template decides what can); a bad field name is reported once, where it first occurs.
fn check_layout(parsed: &Parsed, problems: &mut Problems) {
    let mut bad_names: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for e in &parsed.examples {
        if let Err(err) = crate::template::check_label(&e.label) {
            let column = Some(parsed.label_column.as_str());
            problems.push(Problem::new(e.line, column, ProblemKind::Layout(err)));
        }
        for (name, value) in &e.fields {
            if let Err(err) = crate::template::check_field(name, value) {
                let value_problem = matches!(err, crate::template::LayoutError::ValueLineBreak(_));
                if value_problem || bad_names.insert(name) {
                    let kind = ProblemKind::Layout(err);
                    problems.push(Problem::new(e.line, Some(name), kind));
                }
            }
        }
    }
}
