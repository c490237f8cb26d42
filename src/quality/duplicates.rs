//! Duplicates, conflicting labels and split leakage: all are groups of rows whose texts are
//! equal (exactly or after normalisation).

use super::{normalize, rows_text, snippet, Check, Finding, Severity};
use crate::example::Example;
use std::collections::{BTreeSet, HashMap};

/// Groups of row indices with the same key, in first-row order, only groups of 2+.
fn groups<'a>(examples: &'a [Example], key: impl Fn(&'a Example) -> String) -> Vec<Vec<usize>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        let k = key(e);
        match index.get(&k) {
            Some(&g) => out[g].push(i),
            None => {
                index.insert(k, out.len());
                out.push(vec![i]);
            }
        }
    }
    out.retain(|g| g.len() > 1);
    out
}

pub(super) fn check(examples: &[Example]) -> Vec<Finding> {
    let rows = |g: &[usize]| g.iter().map(|&i| examples[i].row).collect::<Vec<_>>();
    let mut findings = Vec::new();

    for g in groups(examples, |e| e.text.trim().to_string()) {
        let r = rows(&g);
        findings.push(Finding {
            check: Check::ExactDuplicate,
            severity: Severity::Warning,
            message: format!(
                "{} rows have the same text ({}): \"{}\"",
                g.len(),
                rows_text(&r),
                snippet(&examples[g[0]].text, 80)
            ),
            rows: r,
        });
    }

    for g in groups(examples, |e| normalize::text(&e.text)) {
        let texts: BTreeSet<&str> = g.iter().map(|&i| examples[i].text.trim()).collect();
        let r = rows(&g);
        if texts.len() > 1 {
            findings.push(Finding {
                check: Check::NearDuplicate,
                severity: Severity::Warning,
                message: format!(
                    "{} rows have the same text up to case, spacing and punctuation ({}): \"{}\"",
                    g.len(),
                    rows_text(&r),
                    snippet(&examples[g[0]].text, 80)
                ),
                rows: r.clone(),
            });
        }
        let mut labels: Vec<(&str, Vec<u64>)> = Vec::new();
        let mut splits: Vec<(&str, Vec<u64>)> = Vec::new();
        for &i in &g {
            let e = &examples[i];
            push_to(&mut labels, &e.label, e.row);
            if let Some(s) = e.split {
                push_to(&mut splits, s.as_str(), e.row);
            }
        }
        if labels.len() > 1 {
            findings.push(Finding {
                check: Check::ConflictingLabels,
                severity: Severity::Error,
                message: format!(
                    "the same text has different labels: {} — \"{}\"",
                    described(&labels),
                    snippet(&examples[g[0]].text, 60)
                ),
                rows: r.clone(),
            });
        }
        if splits.len() > 1 {
            findings.push(Finding {
                check: Check::SplitLeakage,
                severity: Severity::Warning,
                message: format!(
                    "the same text is in more than one split: {} — \"{}\"",
                    described(&splits),
                    snippet(&examples[g[0]].text, 60)
                ),
                rows: r,
            });
        }
    }
    findings
}

fn push_to<'a>(groups: &mut Vec<(&'a str, Vec<u64>)>, key: &'a str, row: u64) {
    match groups.iter_mut().find(|(k, _)| *k == key) {
        Some((_, rows)) => rows.push(row),
        None => groups.push((key, vec![row])),
    }
}

fn described(groups: &[(&str, Vec<u64>)]) -> String {
    groups
        .iter()
        .map(|(k, rows)| format!("'{k}' ({})", rows_text(rows)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example::Split;
    use crate::quality::tests::ex;

    #[test]
    fn finds_duplicates_conflicts_and_leakage() {
        let mut data = vec![
            ex(1, "My card is lost", "lost_card", &[]),
            ex(2, "My card is lost", "lost_card", &[]),
            ex(3, "my card is LOST!", "card_lost", &[]),
            ex(4, "Refund please", "refund", &[]),
        ];
        data[2].split = Some(Split::Test);
        let f = check(&data);
        let of = |c: Check| f.iter().filter(|x| x.check == c).collect::<Vec<_>>();
        assert_eq!(of(Check::ExactDuplicate).len(), 1);
        assert_eq!(of(Check::ExactDuplicate)[0].rows, vec![1, 2]);
        assert_eq!(of(Check::NearDuplicate)[0].rows, vec![1, 2, 3]);
        let conflict = &of(Check::ConflictingLabels)[0];
        assert_eq!(conflict.rows, vec![1, 2, 3]);
        assert!(
            conflict
                .message
                .contains("'lost_card' (rows 1, 2), 'card_lost' (row 3)"),
            "{}",
            conflict.message
        );
        let leak = &of(Check::SplitLeakage)[0];
        assert!(
            leak.message.contains("'train' (rows 1, 2), 'test' (row 3)"),
            "{}",
            leak.message
        );
        assert!(f.iter().all(|x| !x.rows.contains(&4)));
    }
}
