//! Assigning examples to train / val / test: stratified by label and reproducible from a seed,
//! or taken from a column of the source file.

use super::{DatasetError, DatasetInfo, Example, Split, SplitCounts};
use crate::store::Store;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Fractions and seed of a random stratified split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitPlan {
    /// Fraction of each label's rows that goes to validation.
    pub val: f64,
    /// Fraction of each label's rows that goes to test.
    pub test: f64,
    /// Seed of the shuffle; the same seed and data give the same split.
    pub seed: u64,
}

impl Default for SplitPlan {
    fn default() -> Self {
        SplitPlan {
            val: 0.1,
            test: 0.1,
            seed: 42,
        }
    }
}

/// How to assign splits.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitMethod {
    /// Random, stratified by label.
    Stratified(SplitPlan),
    /// From an unmapped column of the source file.
    ByColumn(String),
}

/// Assigns the splits of the stored dataset `name` (replacing earlier ones) and returns the
/// new counts.
pub fn apply(
    store: &mut Store,
    name: &str,
    method: &SplitMethod,
) -> Result<SplitCounts, DatasetError> {
    let (info, mut examples) = super::load(store, name)?;
    let splits = match method {
        SplitMethod::Stratified(plan) => stratified(&examples, *plan)?,
        SplitMethod::ByColumn(column) => by_column(&examples, column)?,
    };
    store_splits(store, &info, &mut examples, splits)?;
    Ok(SplitCounts::of(&examples))
}

/// Stores `splits` for the dataset and sets them on its loaded `examples` too.
fn store_splits(
    store: &mut Store,
    info: &DatasetInfo,
    examples: &mut [Example],
    splits: Vec<(u64, Split)>,
) -> Result<(), DatasetError> {
    store.set_splits(info, &splits)?;
    let by_row: std::collections::HashMap<u64, Split> = splits.into_iter().collect();
    for e in examples {
        e.split = by_row.get(&e.row).copied();
    }
    Ok(())
}

/// The train and validation examples a run uses: the dataset's train and val splits (split
/// first, stratified with the default plan, if it has none), each cut to a stratified sample
/// of at most `train_limit` / `val_limit` rows.
pub fn run_examples(
    store: &mut Store,
    dataset: &str,
    train_limit: Option<usize>,
    val_limit: Option<usize>,
    seed: u64,
) -> Result<(Vec<Example>, Vec<Example>), DatasetError> {
    let (info, mut examples) = super::load(store, dataset)?;
    if examples.iter().all(|e| e.split.is_none()) {
        let splits = stratified(&examples, SplitPlan::default())?;
        store_splits(store, &info, &mut examples, splits)?;
    }
    let pick = |s: Split| {
        examples
            .iter()
            .filter(|e| e.split == Some(s))
            .cloned()
            .collect::<Vec<_>>()
    };
    let train = stratified_sample(pick(Split::Train), train_limit, seed);
    let val = stratified_sample(pick(Split::Val), val_limit, seed);
    Ok((train, val))
}

/// A stratified sample of at most `n` examples (same seed, same sample).
pub fn stratified_sample(mut examples: Vec<Example>, n: Option<usize>, seed: u64) -> Vec<Example> {
    let Some(n) = n.filter(|&n| n < examples.len()) else {
        return examples;
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let total = examples.len();
    examples.shuffle(&mut rng);
    let mut by_label: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    for e in examples {
        by_label.entry(e.label.clone()).or_default().push(e);
    }
    // Largest-remainder allocation, at least one row per label while room remains.
    let mut quotas: Vec<(String, usize, f64)> = by_label
        .iter()
        .map(|(l, v)| {
            let exact = v.len() as f64 * n as f64 / total as f64;
            (l.clone(), exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let given: usize = quotas.iter().map(|q| q.1).sum();
    quotas.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let missing = n.saturating_sub(given);
    for q in quotas.iter_mut().take(missing) {
        q.1 += 1;
    }
    let mut out: Vec<Example> = quotas
        .into_iter()
        .flat_map(|(l, k, _)| by_label.remove(&l).unwrap_or_default().into_iter().take(k))
        .collect();
    out.sort_by_key(|e| e.row);
    out
}

/// Splits `examples` per label: within each label the rows are shuffled with a seeded RNG
/// and cut by the fractions (rounded), keeping at least one training row per label.
/// Returns `(row, split)` for every example.
pub fn stratified(
    examples: &[Example],
    plan: SplitPlan,
) -> Result<Vec<(u64, Split)>, DatasetError> {
    let ok = |f: f64| (0.0..1.0).contains(&f);
    if !ok(plan.val) || !ok(plan.test) || plan.val + plan.test >= 1.0 {
        return Err(DatasetError::BadFractions {
            val: plan.val,
            test: plan.test,
        });
    }
    let mut by_label: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in examples {
        by_label.entry(&e.label).or_default().push(e.row);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut out = Vec::with_capacity(examples.len());
    for (_, mut rows) in by_label {
        rows.sort_unstable();
        rows.shuffle(&mut rng);
        let n = rows.len();
        let mut n_test = (n as f64 * plan.test).round() as usize;
        let mut n_val = (n as f64 * plan.val).round() as usize;
        while n_test + n_val >= n && n_test + n_val > 0 {
            if n_test >= n_val && n_test > 0 {
                n_test -= 1;
            } else {
                n_val -= 1;
            }
        }
        for (i, row) in rows.into_iter().enumerate() {
            let split = if i < n_test {
                Split::Test
            } else if i < n_test + n_val {
                Split::Val
            } else {
                Split::Train
            };
            out.push((row, split));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Takes each example's split from the unmapped source column `column`.
pub fn by_column(examples: &[Example], column: &str) -> Result<Vec<(u64, Split)>, DatasetError> {
    let mut out = Vec::with_capacity(examples.len());
    let mut bad = Vec::new();
    for e in examples {
        let Some(value) = e.extra.get(column) else {
            let mut available: Vec<String> = examples
                .iter()
                .flat_map(|e| e.extra.keys().cloned())
                .collect();
            available.sort();
            available.dedup();
            return Err(DatasetError::NoSplitColumn {
                column: column.to_string(),
                available,
            });
        };
        match Split::parse(value) {
            Some(s) => out.push((e.row, s)),
            None if bad.len() < 5 => {
                bad.push(format!("row {} (line {}): '{}'", e.row, e.line, value))
            }
            None => {}
        }
    }
    if !bad.is_empty() {
        return Err(DatasetError::BadSplitValues {
            column: column.to_string(),
            samples: bad,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(row: u64, label: &str) -> Example {
        Example {
            row,
            line: row + 1,
            text: format!("t{row}"),
            label: label.into(),
            fields: vec![],
            split: None,
            extra: Default::default(),
        }
    }

    fn data() -> Vec<Example> {
        (1..=100)
            .map(|i| ex(i, if i % 4 == 0 { "rare" } else { "common" }))
            .chain([ex(101, "single")])
            .collect()
    }

    #[test]
    fn stratified_keeps_label_proportions_and_is_reproducible() {
        let d = data();
        let a = stratified(&d, SplitPlan::default()).unwrap();
        let b = stratified(&d, SplitPlan::default()).unwrap();
        assert_eq!(a, b);
        let count = |label: &str, s: Split| {
            a.iter()
                .filter(|(r, sp)| *sp == s && d[*r as usize - 1].label == label)
                .count()
        };
        assert_eq!(count("common", Split::Test), 8); // round(75 * 0.1)
        assert_eq!(count("common", Split::Val), 8);
        assert_eq!(count("rare", Split::Test), 3); // round(25 * 0.1) = 3 (2.5 rounds up)
        assert_eq!(count("single", Split::Train), 1); // a lone row stays in train
        let c = stratified(
            &d,
            SplitPlan {
                seed: 7,
                ..SplitPlan::default()
            },
        )
        .unwrap();
        assert_ne!(a, c, "another seed gives another split");
    }

    #[test]
    fn bad_fractions_are_refused() {
        let plan = SplitPlan {
            val: 0.6,
            test: 0.5,
            seed: 1,
        };
        assert!(matches!(
            stratified(&data(), plan),
            Err(DatasetError::BadFractions { .. })
        ));
    }

    #[test]
    fn by_column_maps_names_and_reports_bad_values() {
        let mut d = vec![ex(1, "a"), ex(2, "a"), ex(3, "b")];
        for (e, v) in d.iter_mut().zip(["Train", "dev", "TEST"]) {
            e.extra.insert("part".into(), v.into());
        }
        let s = by_column(&d, "part").unwrap();
        assert_eq!(
            s,
            vec![(1, Split::Train), (2, Split::Val), (3, Split::Test)]
        );
        d[1].extra.insert("part".into(), "later".into());
        let err = by_column(&d, "part").unwrap_err().to_string();
        assert!(err.contains("row 2 (line 3): 'later'"), "{err}");
        let err = by_column(&d, "nope").unwrap_err().to_string();
        assert!(err.contains("available: part"), "{err}");
    }

    #[test]
    fn stratified_sample_keeps_proportions() {
        let ex = |row: u64, label: &str| Example {
            row,
            line: row,
            text: format!("t{row}"),
            label: label.into(),
            fields: vec![],
            split: None,
            extra: Default::default(),
        };
        let all: Vec<Example> = (0..100)
            .map(|i| ex(i, if i % 10 < 7 { "a" } else { "b" }))
            .collect();
        let s = stratified_sample(all.clone(), Some(10), 1);
        assert_eq!(s.len(), 10);
        assert_eq!(s.iter().filter(|e| e.label == "a").count(), 7);
        assert_eq!(s, stratified_sample(all.clone(), Some(10), 1));
        assert_eq!(stratified_sample(all.clone(), None, 1).len(), 100);
    }
}
