//! Reading JSONL: `{"text", "label", "fields": {…}}` records, or the product's
//! `{"prompt", "completion"}` records whose completion is parsed by [`crate::template`].
//! Values are kept as written: a number is its source text (`2.50`, a 24-digit id), never a
//! float printed back.

use super::error::{ImportError, Problem, ProblemKind, Problems};
use super::mapping::join_text;
use super::{Format, ImportSpec, Parsed};
use crate::example::{Example, Split};
use crate::template;
use indexmap::IndexMap;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashSet};

const FIELDS_KEY: &str = "fields";
const SPLIT_KEY: &str = "split";

/// A JSON value as written in the file.
#[derive(Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    /// The number's source text.
    Number(&'a str),
    String(String),
    /// The items, and the array's source text.
    Array(Vec<Json<'a>>, &'a str),
    /// The members in order (a repeated key keeps its first place and its last value), and
    /// the object's source text.
    Object(IndexMap<String, Json<'a>>, &'a str),
}

impl<'a> Json<'a> {
    /// Parses one line; the error is the parser's message.
    fn parse(text: &'a str) -> Result<Json<'a>, String> {
        let raw: &RawValue = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Ok(Json::tree(raw))
    }

    /// The tree under a value already checked to be valid JSON.
    fn tree(raw: &'a RawValue) -> Json<'a> {
        let s = raw.get();
        let valid = "checked JSON parses";
        match s.as_bytes().first() {
            Some(b'{') => {
                let members: IndexMap<String, &RawValue> = serde_json::from_str(s).expect(valid);
                let members = members
                    .into_iter()
                    .map(|(k, v)| (k, Json::tree(v)))
                    .collect();
                Json::Object(members, s)
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(s).expect(valid);
                Json::Array(items.into_iter().map(Json::tree).collect(), s)
            }
            Some(b'"') => Json::String(serde_json::from_str(s).expect(valid)),
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'n') => Json::Null,
            _ => Json::Number(s),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(..) => "an array",
            Json::Object(..) => "an object",
        }
    }

    /// The value as text, as written: a string's contents, anything else its source.
    fn text(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Number(s) | Json::Array(_, s) | Json::Object(_, s) => s.to_string(),
            Json::String(s) => s.clone(),
        }
    }
}

/// A scalar as text: strings as-is, numbers and booleans as written, arrays of scalars joined
/// by `; ` (the datasets' convention for repeated values). `Ok(None)` for null.
fn scalar_text(key: &str, v: &Json) -> Result<Option<String>, ProblemKind> {
    let wrong = |v: &Json| ProblemKind::WrongType {
        key: key.to_string(),
        expected: "a string, number or list of them",
        found: v.type_name(),
    };
    Ok(match v {
        Json::Null => None,
        Json::String(_) | Json::Number(_) | Json::Bool(_) => Some(v.text()),
        Json::Array(items, _) => {
            let parts = items
                .iter()
                .map(|i| match i {
                    Json::Array(..) | Json::Object(..) => Err(wrong(v)),
                    other => Ok(scalar_text(key, other)?.unwrap_or_default()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(parts.join("; "))
        }
        Json::Object(..) => return Err(wrong(v)),
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
        let obj = match Json::parse(text) {
            Ok(Json::Object(obj, _)) => obj,
            Ok(other) => {
                let found = other.type_name();
                problems.push(Problem::new(line, None, ProblemKind::NotObject { found }));
                continue;
            }
            Err(message) => {
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

type Members<'a> = IndexMap<String, Json<'a>>;

fn string_key(obj: &Members, key: &str) -> Result<String, (Option<String>, ProblemKind)> {
    match obj.get(key) {
        None => Err((None, ProblemKind::MissingKey { key: key.into() })),
        Some(v @ (Json::String(_) | Json::Number(_) | Json::Bool(_))) => Ok(v.text()),
        Some(v) => Err((
            None,
            ProblemKind::WrongType {
                key: key.into(),
                expected: "a string",
                found: v.type_name(),
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
fn keep_rest(e: &mut Example, obj: &Members, used: &HashSet<&str>) {
    for (k, v) in obj {
        if used.contains(k.as_str()) {
            continue;
        }
        let text = v.text();
        if k == SPLIT_KEY {
            if let Some(s) = Split::parse(&text) {
                e.split = Some(s);
                continue;
            }
        }
        e.extra.insert(k.clone(), text);
    }
}

fn prompt_record(obj: &Members) -> RecordResult {
    let prompt = string_key(obj, "prompt")?;
    let completion = string_key(obj, "completion")?;
    let layout = |e| (None, ProblemKind::Layout(e));
    let text = template::ticket_from_prompt(&prompt).map_err(layout)?;
    if text.trim().is_empty() {
        return Err((Some("prompt".into()), ProblemKind::EmptyText));
    }
    let parsed = template::parse_completion(&completion).map_err(layout)?;
    let mut e = new_example(text.trim().to_string(), parsed.label, parsed.fields);
    keep_rest(&mut e, obj, &HashSet::from(["prompt", "completion"]));
    Ok(e)
}

fn plain_record(obj: &Members, keys: &Keys) -> RecordResult {
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
    let mut names: HashSet<String> = HashSet::new();
    let mut push = |name: &str, v: &Json| -> Result<(), (Option<String>, ProblemKind)> {
        let value = scalar_text(name, v).map_err(|k| (None, k))?;
        if let Some(value) = value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            if !names.insert(name.to_string()) {
                let name = name.to_string();
                return Err((None, ProblemKind::FieldTwice { name }));
            }
            fields.push((name.to_string(), value));
        }
        Ok(())
    };
    match obj.get(FIELDS_KEY) {
        None | Some(Json::Null) => {}
        Some(Json::Object(map, _)) => {
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
                    found: v.type_name(),
                },
            ))
        }
    }
    let mut used: HashSet<&str> = keys.text.iter().copied().collect();
    used.extend([keys.label, FIELDS_KEY]);
    for name in keys.fields {
        if let Some(v) = obj.get(name) {
            push(name, v)?;
        }
        used.insert(name.as_str());
    }
    if keys.fields_rest {
        for (name, v) in obj {
            if !used.contains(name.as_str()) && name != SPLIT_KEY {
                push(name, v)?;
                used.insert(name.as_str());
            }
        }
    }
    let mut e = new_example(text, label, fields);
    keep_rest(&mut e, obj, &used);
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_source_text() {
        let line = r#"{"a": 2.50, "b": [1e3, "x", null, true], "c": {"d": -0.0}, "a": 7}"#;
        let Json::Object(members, raw) = Json::parse(line).unwrap() else {
            panic!("an object");
        };
        assert_eq!(raw, line);
        // A repeated key keeps its first place and its last value, as serde_json's map does.
        let keys: Vec<&str> = members.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(members["a"].text(), "7");
        assert_eq!(
            scalar_text("b", &members["b"]).unwrap().unwrap(),
            "1e3; x; ; true"
        );
        assert_eq!(members["c"].text(), r#"{"d": -0.0}"#);
        assert!(matches!(
            scalar_text("c", &members["c"]),
            Err(ProblemKind::WrongType {
                found: "an object",
                ..
            })
        ));
        assert_eq!(scalar_text("n", &Json::Null).unwrap(), None);
    }

    #[test]
    fn parse_errors_and_types_are_named() {
        assert!(Json::parse("{\"a\": }")
            .unwrap_err()
            .contains("expected value"));
        assert!(Json::parse("{} trailing").is_err());
        assert_eq!(Json::parse("[1]").unwrap().type_name(), "an array");
        assert_eq!(Json::parse(" \"s\" ").unwrap().text(), "s");
        assert_eq!(
            Json::parse("123456789012345678901234").unwrap().text(),
            "123456789012345678901234"
        );
    }
}
