//! Writing a stored dataset back to a file: CSV, JSONL records, or prompt/completion JSONL in
//! the task layout. Files are written to a temporary name and renamed, so a failed export
//! never leaves a half-written file.

use super::{DatasetError, DatasetInfo, Example};
use crate::template::Template;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// `text,label,<fields…>,split,<unmapped…>` with a header row.
    Csv,
    /// `{"text", "label", "fields", "split"}` per line.
    Jsonl,
    /// `{"prompt", "completion", "split"}` per line, rendered with the default template.
    PromptCompletion,
}

impl ExportFormat {
    /// The format implied by `path`'s extension (`.csv`, `.jsonl`/`.ndjson`).
    pub fn from_path(path: &Path) -> Option<ExportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "jsonl" | "ndjson" => Some(ExportFormat::Jsonl),
            _ => None,
        }
    }
}

/// Writes `examples` of `info` to `path`.
pub fn export(
    info: &DatasetInfo,
    examples: &[Example],
    path: &Path,
    format: ExportFormat,
) -> Result<(), DatasetError> {
    let write_err = |source: std::io::Error| DatasetError::Write {
        path: path.display().to_string(),
        source,
    };
    crate::paths::write_atomically(path, |out| match format {
        ExportFormat::Csv => write_csv(info, examples, out),
        ExportFormat::Jsonl => write_jsonl(examples, out, |e| {
            let fields: serde_json::Map<String, serde_json::Value> = e
                .fields
                .iter()
                .map(|(n, v)| (n.clone(), v.clone().into()))
                .collect();
            serde_json::json!({"text": e.text, "label": e.label, "fields": fields})
        }),
        ExportFormat::PromptCompletion => {
            let t = Template::default();
            write_jsonl(examples, out, |e| {
                serde_json::json!({
                    "prompt": t.prompt(&e.text),
                    "completion": t.completion(&e.text, &e.label, &e.fields),
                })
            })
        }
    })
    .map_err(write_err)
}

fn write_csv(
    info: &DatasetInfo,
    examples: &[Example],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut extra: Vec<&String> = examples.iter().flat_map(|e| e.extra.keys()).collect();
    extra.sort();
    extra.dedup();
    let has_split = examples.iter().any(|e| e.split.is_some());
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["text", "label"];
    header.extend(info.fields.iter().map(String::as_str));
    if has_split {
        header.push("split");
    }
    header.extend(extra.iter().map(|s| s.as_str()));
    w.write_record(&header)?;
    for e in examples {
        let mut rec = vec![e.text.as_str(), e.label.as_str()];
        rec.extend(info.fields.iter().map(|f| e.field(f).unwrap_or("")));
        if has_split {
            rec.push(e.split.map_or("", |s| s.as_str()));
        }
        rec.extend(
            extra
                .iter()
                .map(|k| e.extra.get(*k).map_or("", String::as_str)),
        );
        w.write_record(&rec)?;
    }
    w.flush()
}

fn write_jsonl(
    examples: &[Example],
    out: &mut impl Write,
    record: impl Fn(&Example) -> serde_json::Value,
) -> std::io::Result<()> {
    for e in examples {
        let mut v = record(e);
        if let (Some(split), Some(obj)) = (e.split, v.as_object_mut()) {
            obj.insert("split".into(), split.as_str().into());
        }
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
