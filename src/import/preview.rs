//! A look at a file before importing it: its columns, first rows and a suggested mapping
//! (what the import wizard shows).

use super::error::{ImportError, Problems};
use super::{jsonl, table, Format, ImportSpec};
use serde::Serialize;
use std::path::Path;

/// Rows shown in a preview.
pub const PREVIEW_ROWS: usize = 20;

/// What a file looks like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    /// Format detected (or given).
    pub format: Format,
    /// CSV delimiter used.
    pub delimiter: Option<char>,
    /// Column names (for JSONL: `text`, `label` and the field names found).
    pub columns: Vec<String>,
    /// The first rows, one cell per column.
    pub rows: Vec<Vec<String>>,
    /// Number of records in the file.
    pub total_rows: usize,
    /// A sensible starting mapping.
    pub suggestion: Suggestion,
    /// File name without extension, a default dataset name.
    pub suggested_name: String,
    /// Rows the import will refuse (the import then stores nothing), counted.
    pub problem_count: usize,
    /// The first of those problems, as `file:line: message`.
    pub problems: Vec<String>,
}

/// Problems listed in a preview.
const PREVIEW_PROBLEMS: usize = 5;

/// A proposed column mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// Text columns.
    pub text: Vec<String>,
    /// Label column.
    pub label: Option<String>,
    /// Field columns.
    pub fields: Vec<String>,
}

const LABEL_NAMES: &[&str] = &[
    "label",
    "category",
    "intent",
    "class",
    "classification",
    "type",
    "topic",
    "queue",
];
const TEXT_NAMES: &[&str] = &[
    "text",
    "ticket",
    "body",
    "message",
    "description",
    "content",
    "query",
    "utterance",
];

/// Reads `path` and describes it. File-level errors (empty file, bad quote, duplicate header)
/// are returned; problems of single rows are counted in the preview (mapping-dependent ones,
/// such as an empty label, only show up on import).
pub fn preview(
    path: &Path,
    format: Option<Format>,
    delimiter: Option<u8>,
) -> Result<Preview, ImportError> {
    let (file, bytes) = super::read_input(path)?;
    let data = bytes.as_slice();
    let format = format.unwrap_or_else(|| Format::from_path(path));
    let suggested_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut problems = Problems::default();
    let mut preview = match format {
        Format::Csv => {
            let t = table::read(&file, data, delimiter, &mut problems)?;
            let suggestion = suggest(&t.header, &t.records);
            Preview {
                format,
                delimiter: Some(char::from(t.delimiter)),
                total_rows: t.records.len(),
                rows: t
                    .records
                    .iter()
                    .take(PREVIEW_ROWS)
                    .map(|(_, r)| r.clone())
                    .collect(),
                columns: t.header,
                suggestion,
                suggested_name,
                problem_count: 0,
                problems: Vec::new(),
            }
        }
        Format::Jsonl => {
            let p = jsonl::read(&file, data, &ImportSpec::default(), &mut problems)?;
            let mut columns = vec!["text".to_string(), "label".to_string()];
            columns.extend(p.fields.iter().cloned());
            let rows = p
                .examples
                .iter()
                .take(PREVIEW_ROWS)
                .map(|e| {
                    let mut r = vec![e.text.clone(), e.label.clone()];
                    r.extend(
                        p.fields
                            .iter()
                            .map(|f| e.field(f).unwrap_or("").to_string()),
                    );
                    r
                })
                .collect();
            Preview {
                format,
                delimiter: None,
                total_rows: p.examples.len(),
                rows,
                suggestion: Suggestion {
                    text: vec!["text".into()],
                    label: Some("label".into()),
                    fields: p.fields.clone(),
                },
                columns,
                suggested_name,
                problem_count: 0,
                problems: Vec::new(),
            }
        }
    };
    preview.problem_count = problems.total();
    preview.problems = problems
        .listed()
        .iter()
        .take(PREVIEW_PROBLEMS)
        .map(|p| format!("{file}:{p}"))
        .collect();
    Ok(preview)
}

/// Suggests the label column by name (else the column with the fewest distinct values) and the
/// text column by name (else the column with the longest values).
fn suggest(header: &[String], records: &[(u64, Vec<String>)]) -> Suggestion {
    let by_name = |names: &[&str], taken: Option<usize>| {
        names.iter().find_map(|n| {
            header
                .iter()
                .position(|h| h.eq_ignore_ascii_case(n))
                .filter(|&i| Some(i) != taken)
        })
    };
    let sample = &records[..records.len().min(500)];
    let avg_len = |i: usize| {
        sample.iter().map(|(_, r)| r[i].len()).sum::<usize>() as f64 / sample.len().max(1) as f64
    };
    let distinct = |i: usize| {
        let mut v: Vec<&str> = sample.iter().map(|(_, r)| r[i].as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let text = by_name(TEXT_NAMES, None)
        .or_else(|| (0..header.len()).max_by(|&a, &b| avg_len(a).total_cmp(&avg_len(b))));
    let label = by_name(LABEL_NAMES, text).or_else(|| {
        (0..header.len())
            .filter(|&i| Some(i) != text && distinct(i) > 1)
            .min_by_key(|&i| distinct(i))
    });
    Suggestion {
        text: text.map(|i| vec![header[i].clone()]).unwrap_or_default(),
        label: label.map(|i| header[i].clone()),
        fields: Vec::new(),
    }
}
