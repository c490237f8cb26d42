//! Extraction-layout checks: a field usual for a label but missing in some of its rows,
//! field-name variants, and values that do not occur in the ticket text.

use super::{count, normalize, rows_text, snippet, Check, Finding, QualityOptions, Severity};
use crate::example::Example;
use std::collections::BTreeMap;

pub(super) fn check(
    fields: &[String],
    examples: &[Example],
    opts: &QualityOptions,
) -> Vec<Finding> {
    let mut findings = missing_fields(fields, examples, opts);
    findings.extend(name_variants(fields, examples));
    findings.extend(values_not_in_text(fields, examples));
    findings
}

fn missing_fields(fields: &[String], examples: &[Example], opts: &QualityOptions) -> Vec<Finding> {
    let mut by_label: BTreeMap<&str, Vec<&Example>> = BTreeMap::new();
    for e in examples {
        by_label.entry(&e.label).or_default().push(e);
    }
    let mut findings = Vec::new();
    for (label, rows) in by_label
        .iter()
        .filter(|(_, r)| r.len() >= opts.layout_min_rows)
    {
        for field in fields {
            let missing: Vec<u64> = rows
                .iter()
                .filter(|e| e.field(field).is_none())
                .map(|e| e.row)
                .collect();
            let present = rows.len() - missing.len();
            let rate = present as f64 / rows.len() as f64;
            if !missing.is_empty() && rate >= opts.layout_majority {
                findings.push(Finding {
                    check: Check::MissingField,
                    severity: Severity::Warning,
                    message: format!(
                        "field '{field}' is present in {present} of {} '{label}' rows but missing in {} ({}): do those tickets lack it, or is the annotation incomplete?",
                        rows.len(),
                        missing.len(),
                        rows_text(&missing)
                    ),
                    rows: missing,
                });
            }
        }
    }
    findings
}

fn name_variants(fields: &[String], examples: &[Example]) -> Vec<Finding> {
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for f in fields {
        groups.entry(normalize::key(f)).or_default().push(f);
    }
    let mut findings = Vec::new();
    for group in groups.into_values().filter(|g| g.len() > 1) {
        let rows_with = |name: &str| -> Vec<u64> {
            examples
                .iter()
                .filter(|e| e.field(name).is_some())
                .map(|e| e.row)
                .collect()
        };
        let mut used: Vec<(&str, Vec<u64>)> = group.iter().map(|n| (*n, rows_with(n))).collect();
        used.sort_by_key(|(_, r)| std::cmp::Reverse(r.len()));
        let listed = used
            .iter()
            .map(|(n, r)| format!("'{n}' ({})", count(r.len(), "row")))
            .collect::<Vec<_>>()
            .join(", ");
        findings.push(Finding {
            check: Check::FieldNameVariants,
            severity: Severity::Error,
            message: format!("field names {listed} look like one field written differently"),
            rows: used[1..]
                .iter()
                .flat_map(|(_, r)| r.iter().copied())
                .collect(),
        });
    }
    findings
}

/// True when `value` (or each `; `-separated part of it) occurs in `text`, comparing
/// normalised forms (case, spacing and punctuation ignored).
fn occurs_in(value: &str, text_key: &str) -> bool {
    value
        .split("; ")
        .map(normalize::key)
        .all(|part| part.is_empty() || text_key.contains(&part))
}

fn values_not_in_text(fields: &[String], examples: &[Example]) -> Vec<Finding> {
    let mut missing: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    for e in examples {
        let text_key = normalize::key(&e.text);
        for (name, value) in &e.fields {
            if !occurs_in(value, &text_key) {
                missing.entry(name).or_default().push((e.row, value));
            }
        }
    }
    let order = |n: &str| fields.iter().position(|f| f == n).unwrap_or(usize::MAX);
    let mut findings: Vec<(usize, Finding)> = missing
        .into_iter()
        .map(|(name, hits)| {
            let rows: Vec<u64> = hits.iter().map(|(r, _)| *r).collect();
            let (row, value) = hits[0];
            (
                order(name),
                Finding {
                    check: Check::ValueNotInText,
                    severity: Severity::Warning,
                    message: format!(
                        "field '{name}' has values that do not occur in the ticket text in {} ({}), e.g. row {row}: '{}'; likely mistyped or invented",
                        count(rows.len(), "row"),
                        rows_text(&rows),
                        snippet(value, 40)
                    ),
                    rows,
                },
            )
        })
        .collect();
    findings.sort_by_key(|(o, _)| *o);
    findings.into_iter().map(|(_, f)| f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::tests::ex;

    #[test]
    fn finds_layout_problems() {
        let fields: Vec<String> = ["Customer ID", "customer_id", "Email"]
            .map(String::from)
            .to_vec();
        let mut data: Vec<Example> = (1..=9)
            .map(|i| {
                ex(
                    i,
                    &format!("customer {i}00 writes"),
                    "Billing",
                    &[("Customer ID", &format!("{i}00"))],
                )
            })
            .collect();
        data.push(ex(10, "no id here", "Billing", &[]));
        data.push(ex(11, "id 55 here", "Billing", &[("customer_id", "55")]));
        data.push(ex(
            12,
            "mail A.B@x.org now",
            "Billing",
            &[("Email", "a.b@x.org")],
        ));
        data.push(ex(13, "mail me", "Billing", &[("Email", "c@d.com")]));
        let f = check(&fields, &data, &QualityOptions::default());
        let missing = f.iter().find(|x| x.check == Check::MissingField);
        assert!(
            missing.is_none(),
            "9 of 13 is below the 80 % majority: {f:#?}"
        );

        let f = check(&fields, &data[..10], &QualityOptions::default());
        let missing = f.iter().find(|x| x.check == Check::MissingField).unwrap();
        assert_eq!(missing.rows, vec![10]);
        assert!(
            missing
                .message
                .contains("present in 9 of 10 'Billing' rows"),
            "{}",
            missing.message
        );

        let f = check(&fields, &data, &QualityOptions::default());
        let variants = f
            .iter()
            .find(|x| x.check == Check::FieldNameVariants)
            .unwrap();
        assert_eq!(variants.rows, vec![11]);
        let not_in_text: Vec<_> = f
            .iter()
            .filter(|x| x.check == Check::ValueNotInText)
            .collect();
        assert_eq!(not_in_text.len(), 1, "{not_in_text:#?}");
        assert_eq!(not_in_text[0].rows, vec![13]);
    }

    #[test]
    fn multi_values_are_checked_part_by_part() {
        assert!(occurs_in("boston; denver", "frombostontodenver"));
        assert!(!occurs_in("boston; dallas", "frombostontodenver"));
    }
}
