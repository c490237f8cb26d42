//! Reading JSONL: `{"text", "label", "fields": {…}}` records, or the product's
//! `{"prompt", "completion"}` records whose completion is parsed by [`crate::template`].

use super::error::{ImportError, Problem, ProblemKind, Problems};
use super::mapping::join_text;
use super::{Format, ImportSpec, Parsed};
use crate::dataset::{Example, Split};
use crate::template;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const FIELDS_KEY: &str = "fields";
const SPLIT_KEY: &str = "split";

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A scalar as text: strings as-is, numbers and booleans printed, arrays of scalars joined by
/// `; ` (the datasets' convention for repeated values). `Ok(None)` for null.
fn scalar_text(key: &str, v: &Value) -> Result<Option<String>, ProblemKind> {
    let wrong = |v: &Value| ProblemKind::WrongType {
        key: key.to_string(),
        expected: "a string, number or list of them",
        found: type_name(v),
    };
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts = items
                .iter()
                .map(|i| match i {
                    Value::Array(_) | Value::Object(_) => Err(wrong(v)),
                    other => Ok(scalar_text(key, other)?.unwrap_or_default()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(parts.join("; "))
        }
        Value::Object(_) => return Err(wrong(v)),
    })
}

/// Which keys play which role in text/label records.
struct Keys<'a> {
    text: Vec<&'a str>,
    label: &'a str,
    fields: &'a [String],
    fields_rest: bool,
}

/// Reads JSONL `data` (BOM stripped).
pub(super) fn read(
    file: &str,
    data: &[u8],
    spec: &ImportSpec,
    problems: &mut Problems,
) -> Result<Parsed, ImportError> {
    let keys = Keys {
        text: if spec.text_columns.is_empty() {
            vec!["text"]
        } else {
            spec.text_columns.iter().map(String::as_str).collect()
        },
        label: spec.label_column.as_deref().unwrap_or("label"),
        fields: &spec.field_columns,
        fields_rest: spec.fields_rest,
    };
    let mut examples = Vec::new();
    let mut field_order: Vec<String> = Vec::new();
    let mut prompt_records = 0usize;
    let mut any_line = false;
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        any_line = true;
        let Ok(text) = std::str::from_utf8(raw) else {
            problems.push(Problem::new(line, None, ProblemKind::InvalidUtf8));
            continue;
        };
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => obj,
            Ok(other) => {
                let found = type_name(&other);
                problems.push(Problem::new(line, None, ProblemKind::NotObject { found }));
                continue;
            }
            Err(e) => {
                let message = e.to_string();
                problems.push(Problem::new(line, None, ProblemKind::Json { message }));
                continue;
            }
        };
        let is_prompt = obj.contains_key("prompt") && obj.contains_key("completion");
        let result = if is_prompt {
            prompt_records += 1;
            prompt_record(&obj)
        } else {
            plain_record(&obj, &keys)
        };
        match result {
            Ok(mut e) => {
                for (name, _) in &e.fields {
                    if !field_order.contains(name) {
                        field_order.push(name.clone());
                    }
                }
                e.row = examples.len() as u64 + 1;
                e.line = line;
                examples.push(e);
            }
            Err((column, kind)) => problems.push(Problem::new(line, column.as_deref(), kind)),
        }
    }
    if !any_line {
        return Err(ImportError::EmptyFile { file: file.into() });
    }
    let (text_columns, label_column) = if prompt_records > 0 && prompt_records == examples.len() {
        (vec!["prompt".to_string()], "completion".to_string())
    } else {
        (
            keys.text.iter().map(|s| s.to_string()).collect(),
            keys.label.to_string(),
        )
    };
    let mut unmapped: Vec<String> = examples
        .iter()
        .flat_map(|e| e.extra.keys().cloned())
        .collect();
    unmapped.sort();
    unmapped.dedup();
    Ok(Parsed {
        format: Format::Jsonl,
        delimiter: None,
        text_columns,
        label_column,
        fields: field_order,
        unmapped,
        examples,
    })
}

type RecordResult = Result<Example, (Option<String>, ProblemKind)>;

fn string_key(
    obj: &Map<String, Value>,
    key: &str,
) -> Result<String, (Option<String>, ProblemKind)> {
    match obj.get(key) {
        None => Err((None, ProblemKind::MissingKey { key: key.into() })),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        Some(v) => Err((
            None,
            ProblemKind::WrongType {
                key: key.into(),
                expected: "a string",
                found: type_name(v),
            },
        )),
    }
}

fn new_example(text: String, label: String, fields: Vec<(String, String)>) -> Example {
    Example {
        row: 0,
        line: 0,
        text,
        label,
        fields,
        split: None,
        extra: BTreeMap::new(),
    }
}

/// Keeps keys not otherwise used: `split` sets the split when it names one.
fn keep_rest(e: &mut Example, obj: &Map<String, Value>, used: &[&str]) {
    for (k, v) in obj {
        if used.contains(&k.as_str()) {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if k == SPLIT_KEY {
            if let Some(s) = Split::parse(&text) {
                e.split = Some(s);
                continue;
            }
        }
        e.extra.insert(k.clone(), text);
    }
}

fn prompt_record(obj: &Map<String, Value>) -> RecordResult {
    let prompt = string_key(obj, "prompt")?;
    let completion = string_key(obj, "completion")?;
    let layout = |e| (None, ProblemKind::Layout(e));
    let text = template::ticket_from_prompt(&prompt).map_err(layout)?;
    if text.trim().is_empty() {
        return Err((Some("prompt".into()), ProblemKind::EmptyText));
    }
    let parsed = template::parse_completion(&completion).map_err(layout)?;
    let mut e = new_example(text.trim().to_string(), parsed.label, parsed.fields);
    keep_rest(&mut e, obj, &["prompt", "completion"]);
    Ok(e)
}

fn plain_record(obj: &Map<String, Value>, keys: &Keys) -> RecordResult {
    let mut parts = Vec::with_capacity(keys.text.len());
    for k in &keys.text {
        parts.push(string_key(obj, k)?);
    }
    let text = join_text(parts.iter().map(String::as_str));
    if text.is_empty() {
        return Err((Some(keys.text.join("' + '")), ProblemKind::EmptyText));
    }
    let label = string_key(obj, keys.label)?;
    if label.trim().is_empty() {
        return Err((Some(keys.label.into()), ProblemKind::EmptyLabel));
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut push = |name: &str, v: &Value| -> Result<(), (Option<String>, ProblemKind)> {
        let value = scalar_text(name, v).map_err(|k| (None, k))?;
        if let Some(value) = value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            fields.push((name.to_string(), value));
        }
        Ok(())
    };
    match obj.get(FIELDS_KEY) {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, v) in map {
                push(name, v)?;
            }
        }
        Some(v) => {
            return Err((
                None,
                ProblemKind::WrongType {
                    key: FIELDS_KEY.into(),
                    expected: "an object of name → value",
                    found: type_name(v),
                },
            ))
        }
    }
    let mut used: Vec<&str> = keys.text.clone();
    used.extend([keys.label, FIELDS_KEY]);
    for name in keys.fields {
        if let Some(v) = obj.get(name) {
            push(name, v)?;
        }
        used.push(name);
    }
    if keys.fields_rest {
        for (name, v) in obj {
            if !used.contains(&name.as_str()) && name != SPLIT_KEY {
                push(name, v)?;
                used.push(name);
            }
        }
    }
    let mut e = new_example(text, label, fields);
    keep_rest(&mut e, obj, &used);
    Ok(e)
}
