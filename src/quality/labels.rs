//! Label checks: variants of one label, class imbalance and classes too small to learn.

use super::{count, normalize, rows_text, Check, Finding, QualityOptions, Severity};
use crate::example::Example;
use std::collections::BTreeMap;

pub(super) fn check(examples: &[Example], opts: &QualityOptions) -> Vec<Finding> {
    let mut rows_by_label: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in examples {
        rows_by_label.entry(&e.label).or_default().push(e.row);
    }
    let mut findings = Vec::new();

    let mut variants: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for label in rows_by_label.keys() {
        variants
            .entry(normalize::key(label))
            .or_default()
            .push(label);
    }
    for mut group in variants.into_values().filter(|g| g.len() > 1) {
        group.sort_by_key(|l| std::cmp::Reverse(rows_by_label[l].len()));
        let minority: Vec<u64> = group[1..]
            .iter()
            .flat_map(|l| rows_by_label[l].iter().copied())
            .collect();
        let listed = group
            .iter()
            .map(|l| format!("'{l}' ({})", count(rows_by_label[l].len(), "row")))
            .collect::<Vec<_>>()
            .join(", ");
        findings.push(Finding {
            check: Check::LabelVariants,
            severity: Severity::Error,
            message: format!(
                "labels {listed} differ only in case, spacing or punctuation: the model will learn them as different classes"
            ),
            rows: minority,
        });
    }

    let mut counts: Vec<(&str, usize)> = rows_by_label.iter().map(|(l, r)| (*l, r.len())).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if let (Some(&(big, nb)), Some(&(small, ns))) = (counts.first(), counts.last()) {
        let ratio = nb as f64 / ns as f64;
        let severity = if ratio >= opts.imbalance_ratio {
            Severity::Warning
        } else {
            Severity::Info
        };
        let share = 100.0 * nb as f64 / examples.len() as f64;
        findings.push(Finding {
            check: Check::ClassImbalance,
            severity,
            message: format!(
                "{} classes; largest '{big}' has {nb} rows ({share:.1} %), smallest '{small}' has {ns} (ratio {ratio:.1}:1){}",
                counts.len(),
                if severity == Severity::Warning {
                    "; accuracy alone will flatter a model that favours the large classes — look at macro-F1"
                } else {
                    ""
                }
            ),
            rows: Vec::new(),
        });
    }
    for (label, n) in counts
        .iter()
        .rev()
        .filter(|(_, n)| *n < opts.min_class_rows)
    {
        let rows = rows_by_label[label].clone();
        findings.push(Finding {
            check: Check::SmallClass,
            severity: Severity::Warning,
            message: format!(
                "class '{label}' has only {} ({}); fewer than {} is too few to learn or to evaluate",
                count(*n, "row"),
                rows_text(&rows),
                opts.min_class_rows
            ),
            rows,
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::tests::ex;

    #[test]
    fn finds_variants_imbalance_and_small_classes() {
        let mut data: Vec<Example> = (1..=30)
            .map(|i| ex(i, &format!("t{i}"), "Billing", &[]))
            .collect();
        data.push(ex(31, "x", "billing ", &[]));
        data.push(ex(32, "y", "Technical", &[]));
        let f = check(&data, &QualityOptions::default());
        let variants = f.iter().find(|x| x.check == Check::LabelVariants).unwrap();
        assert_eq!(variants.rows, vec![31]);
        assert!(
            variants
                .message
                .contains("'Billing' (30 rows), 'billing ' (1 row)"),
            "{}",
            variants.message
        );
        let imb = f.iter().find(|x| x.check == Check::ClassImbalance).unwrap();
        assert_eq!(imb.severity, Severity::Warning);
        assert!(imb.message.contains("ratio 30.0:1"), "{}", imb.message);
        let small: Vec<_> = f.iter().filter(|x| x.check == Check::SmallClass).collect();
        assert_eq!(small.len(), 2);
    }
}
