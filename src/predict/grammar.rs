//! The completion grammar used for constrained decoding: ` <label>` from a known label set
//! (as a token trie), then optionally a blank line and `Name: value` lines whose names come
//! from the known field set (each at most once) and whose values are free text ended by a
//! newline. Checked on text, so any tokenization of the field part is accepted.

use crate::model::generate::TokenTrie;
use crate::model::{ModelError, Tokenizer};
use std::collections::{BTreeSet, HashMap};

/// How far a field section is from being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Can never become valid.
    Invalid,
    /// A valid beginning, not yet a whole section.
    Partial,
    /// A whole section (may still be extended).
    Complete,
}

/// Labels (tokenized) and field names a completion may use.
#[derive(Debug, Clone)]
pub struct Grammar {
    /// Label token sequences (` label`).
    pub labels: TokenTrie,
    by_ids: HashMap<Vec<u32>, String>,
    /// Known field names.
    pub fields: BTreeSet<String>,
}

impl Grammar {
    /// The grammar for `labels` and `fields`, tokenized with `tokenizer`.
    pub fn new(
        tokenizer: &Tokenizer,
        labels: &[String],
        fields: &[String],
    ) -> Result<Grammar, ModelError> {
        let mut by_ids = HashMap::new();
        for label in labels {
            by_ids.insert(tokenizer.encode_plain(&format!(" {label}"))?, label.clone());
        }
        Ok(Grammar {
            labels: TokenTrie::new(by_ids.keys().map(Vec::as_slice)),
            by_ids,
            fields: fields.iter().cloned().collect(),
        })
    }

    /// The label spelled by `ids`, if they are a whole label.
    pub fn label(&self, ids: &[u32]) -> Option<&str> {
        self.by_ids.get(ids).map(String::as_str)
    }

    /// Checks the text after the label: empty, or `\n\n` then `Name: value` lines.
    pub fn check_fields(&self, text: &str) -> Check {
        if text.is_empty() {
            return Check::Complete;
        }
        let Some(body) = text.strip_prefix("\n\n") else {
            return if "\n\n".starts_with(text) && !self.fields.is_empty() {
                Check::Partial
            } else {
                Check::Invalid
            };
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let mut seen = BTreeSet::new();
        for (i, line) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            match line.split_once(": ") {
                Some((name, value)) => {
                    if !self.fields.contains(name) || !seen.insert(name) {
                        return Check::Invalid;
                    }
                    if value.trim().is_empty() {
                        return if last { Check::Partial } else { Check::Invalid };
                    }
                    if last {
                        return Check::Complete;
                    }
                }
                None => {
                    let open = self
                        .fields
                        .iter()
                        .any(|n| !seen.contains(n.as_str()) && format!("{n}: ").starts_with(line));
                    return if last && open {
                        Check::Partial
                    } else {
                        Check::Invalid
                    };
                }
            }
        }
        Check::Invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grammar() -> Grammar {
        Grammar {
            labels: TokenTrie::default(),
            by_ids: HashMap::new(),
            fields: ["Email", "Customer ID"].map(String::from).into(),
        }
    }

    #[test]
    fn field_sections_are_checked_as_they_grow() {
        let g = grammar();
        use Check::*;
        for (text, want) in [
            ("", Complete),
            ("\n", Partial),
            ("\n\n", Partial),
            ("\n\nCust", Partial),
            ("\n\nCustomer ID:", Partial),
            ("\n\nCustomer ID: ", Partial),
            ("\n\nCustomer ID: 12", Complete),
            ("\n\nCustomer ID: 12\n", Partial),
            ("\n\nCustomer ID: 12\nEm", Partial),
            ("\n\nCustomer ID: 12\nEmail: a@b.c", Complete),
            ("\n\nCustomer ID: 12\nCustomer ID: 13", Invalid),
            ("\n\nCustomer ID: 12\n\n", Invalid),
            ("\n\nPhone: 1", Invalid),
            ("\n\nX", Invalid),
            ("\n\nCustomer ID: \n", Invalid),
            (" more label", Invalid),
        ] {
            assert_eq!(g.check_fields(text), want, "{text:?}");
        }
    }
}
