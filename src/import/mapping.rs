//! Mapping CSV columns to the roles of an example (text, label, field, unmapped) and building
//! validated [`Example`]s from the records.

use super::error::{ImportError, Problem, ProblemKind, Problems};
use super::table::Table;
use super::{Format, ImportSpec, Parsed};
use crate::example::Example;
use std::collections::BTreeMap;

/// Column indices of each role.
struct Roles {
    text: Vec<usize>,
    label: usize,
    fields: Vec<usize>,
    unmapped: Vec<usize>,
}

fn resolve(file: &str, table: &Table, spec: &ImportSpec) -> Result<Roles, ImportError> {
    let find = |name: &str| {
        table
            .header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ImportError::MissingColumn {
                file: file.into(),
                column: name.into(),
                available: table.header.clone(),
            })
    };
    let required = |role: &'static str| ImportError::MappingRequired {
        file: file.into(),
        role,
        available: table.header.clone(),
    };
    if spec.text_columns.is_empty() {
        return Err(required("text"));
    }
    let label_name = spec
        .label_column
        .as_deref()
        .ok_or_else(|| required("label"))?;

    let mut roles: Vec<Option<&'static str>> = vec![None; table.header.len()];
    let mut assign = |i: usize, role: &'static str| match roles[i] {
        Some(first) => Err(ImportError::ColumnMappedTwice {
            column: table.header[i].clone(),
            first,
            second: role,
        }),
        None => {
            roles[i] = Some(role);
            Ok(i)
        }
    };
    let text = spec
        .text_columns
        .iter()
        .map(|c| find(c).and_then(|i| assign(i, "text")))
        .collect::<Result<Vec<_>, _>>()?;
    let label = assign(find(label_name)?, "label")?;
    let mut fields = spec
        .field_columns
        .iter()
        .map(|c| find(c).and_then(|i| assign(i, "field")))
        .collect::<Result<Vec<_>, _>>()?;
    if spec.fields_rest {
        // Unnamed columns (e.g. a spreadsheet's index column) are never fields.
        let unnamed: std::collections::HashSet<usize> = table.unnamed.iter().copied().collect();
        let given: std::collections::HashSet<usize> = fields.iter().copied().collect();
        fields = (0..table.header.len())
            .filter(|i| given.contains(i) || (roles[*i].is_none() && !unnamed.contains(i)))
            .collect();
        for &i in &fields {
            roles[i].get_or_insert("field");
        }
    }
    let unmapped = (0..table.header.len())
        .filter(|i| roles[*i].is_none())
        .collect();
    Ok(Roles {
        text,
        label,
        fields,
        unmapped,
    })
}

/// Builds the examples of a CSV table; rows with problems are reported and skipped.
pub(super) fn examples_from_table(
    file: &str,
    table: Table,
    spec: &ImportSpec,
    problems: &mut Problems,
) -> Result<Parsed, ImportError> {
    let roles = resolve(file, &table, spec)?;
    let header = &table.header;
    let mut examples = Vec::with_capacity(table.records.len());
    for (line, cells) in &table.records {
        let text = join_text(roles.text.iter().map(|&i| cells[i].as_str()));
        let label = &cells[roles.label];
        if text.is_empty() {
            let columns = roles
                .text
                .iter()
                .map(|&i| header[i].as_str())
                .collect::<Vec<_>>();
            problems.push(Problem::new(
                *line,
                Some(&columns.join("' + '")),
                ProblemKind::EmptyText,
            ));
            continue;
        }
        if label.trim().is_empty() {
            problems.push(Problem::new(
                *line,
                Some(&header[roles.label]),
                ProblemKind::EmptyLabel,
            ));
            continue;
        }
        let fields = roles
            .fields
            .iter()
            .filter_map(|&i| {
                let v = cells[i].trim();
                (!v.is_empty()).then(|| (header[i].clone(), v.to_string()))
            })
            .collect();
        let extra: BTreeMap<String, String> = roles
            .unmapped
            .iter()
            .map(|&i| (header[i].clone(), cells[i].clone()))
            .collect();
        examples.push(Example {
            row: examples.len() as u64 + 1,
            line: *line,
            text,
            label: label.clone(),
            fields,
            split: None,
            extra,
        });
    }
    let names = |idx: &[usize]| idx.iter().map(|&i| header[i].clone()).collect::<Vec<_>>();
    Ok(Parsed {
        format: Format::Csv,
        delimiter: Some(table.delimiter),
        text_columns: names(&roles.text),
        label_column: header[roles.label].clone(),
        fields: names(&roles.fields),
        unmapped: names(&roles.unmapped),
        examples,
    })
}

/// Joins the non-empty, trimmed parts of a text with newlines.
pub(super) fn join_text<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
