//! Over-long texts: estimated token counts against the training length.

use super::{rows_text, Check, Finding, QualityOptions, Severity};
use crate::example::Example;
use crate::template::Template;

/// How tokens are estimated until a model's tokenizer is chosen.
pub(super) const ESTIMATE: &str =
    "estimated as characters ÷ 4 (prompt template included); exact counts need the model's tokenizer";

/// Estimated tokens of a string.
pub(crate) fn estimate_tokens(s: &str) -> usize {
    s.chars().count().div_ceil(4)
}

pub(super) fn check(examples: &[Example], opts: &QualityOptions) -> Vec<Finding> {
    let t = Template::default();
    let overhead = estimate_tokens(&t.prompt(""));
    let long: Vec<(u64, usize)> = examples
        .iter()
        .map(|e| {
            (
                e.row,
                overhead
                    + estimate_tokens(&e.text)
                    + estimate_tokens(&t.completion(&e.text, &e.label, &e.fields)),
            )
        })
        .filter(|(_, n)| *n > opts.max_tokens)
        .collect();
    if long.is_empty() {
        return Vec::new();
    }
    let longest = long.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let rows: Vec<u64> = long.iter().map(|(r, _)| *r).collect();
    vec![Finding {
        check: Check::OverLong,
        severity: Severity::Warning,
        message: format!(
            "{} longer than {} tokens ({}; longest ≈ {longest}); they will be truncated in training — raise max length or shorten them (tokens {})",
            if rows.len() == 1 { "1 example is".to_string() } else { format!("{} examples are", rows.len()) },
            opts.max_tokens,
            rows_text(&rows),
            ESTIMATE
        ),
        rows,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::tests::ex;

    #[test]
    fn flags_long_texts() {
        let long = "word ".repeat(300);
        let data = vec![ex(1, "short", "a", &[]), ex(2, &long, "a", &[])];
        let f = check(&data, &QualityOptions::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rows, vec![2]);
        assert!(
            f[0].message
                .starts_with("1 example is longer than 256 tokens"),
            "{}",
            f[0].message
        );
    }
}
