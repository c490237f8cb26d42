//! The completion grammar used for constrained decoding: ` <label>` from a known label set
//! (as a token trie), then optionally a blank line and `Name: value` lines whose names come
//! from the known field set (each at most once) and whose values are free text ended by a
//! newline — or, when values are copied, text found in the ticket (ignoring case). Checked
//! on text, so any tokenization of the field part is accepted.

use crate::model::generate::TokenTrie;
use crate::model::{ModelError, Tokenizer};
use crate::template;
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
    /// Each field name with its tokens as a line starts with it (`Name:`).
    name_ids: Vec<(String, Vec<u32>)>,
    /// The newline token, when `\n` is one token.
    newline: Option<u32>,
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
            by_ids.insert(
                tokenizer.encode_plain(&template::label_text(label))?,
                label.clone(),
            );
        }
        let name_ids = fields
            .iter()
            .map(|n| {
                Ok((
                    n.clone(),
                    tokenizer.encode_plain(&template::field_name_text(n))?,
                ))
            })
            .collect::<Result<_, ModelError>>()?;
        let newline = match tokenizer.encode_plain("\n")?.as_slice() {
            &[id] => Some(id),
            _ => None,
        };
        Ok(Grammar {
            labels: TokenTrie::new(by_ids.keys().map(Vec::as_slice)),
            by_ids,
            fields: fields.iter().cloned().collect(),
            name_ids,
            newline,
        })
    }

    /// The label tokens that must follow `ids` (a path of the label trie): while exactly one
    /// token continues it and it is not yet a whole label.
    pub fn forced_label(&self, ids: &[u32]) -> Vec<u32> {
        let mut path = ids.to_vec();
        while !self.labels.is_complete(&path) {
            match self.labels.allowed(&path).as_slice() {
                &[only] => path.push(only),
                _ => break,
            }
        }
        path.split_off(ids.len())
    }

    /// The tokens that must follow a field line begun with the tokens `line` (a field name's
    /// own tokens so far), given the names already used: the tokens every still-possible
    /// name continues with. Empty when names diverge here or `line` is no name's beginning.
    pub fn forced_name(&self, line: &[u32], used: &[&str]) -> Vec<u32> {
        let open: Vec<&[u32]> = self
            .name_ids
            .iter()
            .filter(|(n, ids)| {
                ids.len() > line.len() && ids.starts_with(line) && !used.contains(&n.as_str())
            })
            .map(|(_, ids)| ids.as_slice())
            .collect();
        let Some(first) = open.first() else {
            return Vec::new();
        };
        let mut pos = line.len();
        while pos < first.len() && open.iter().all(|ids| ids.get(pos) == Some(&first[pos])) {
            pos += 1;
        }
        first[line.len()..pos].to_vec()
    }

    /// The second newline after a label's first (the blank line before the fields).
    pub fn newline(&self) -> Option<u32> {
        self.newline
    }

    /// The label spelled by `ids`, if they are a whole label.
    pub fn label(&self, ids: &[u32]) -> Option<&str> {
        self.by_ids.get(ids).map(String::as_str)
    }

    /// Checks the text after the label: empty, or `\n\n` then `Name: value` lines. With
    /// `source` (the ticket, lower-cased), every value must occur in it.
    pub fn check_fields(&self, text: &str, source: Option<&str>) -> Check {
        if text.is_empty() {
            return Check::Complete;
        }
        let Some(body) = text.strip_prefix(template::FIELDS_START) else {
            return if template::FIELDS_START.starts_with(text) && !self.fields.is_empty() {
                Check::Partial
            } else {
                Check::Invalid
            };
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let mut seen = BTreeSet::new();
        for (i, line) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            match template::field_line(line) {
                Some((name, value)) => {
                    if !self.fields.contains(name) || !seen.insert(name) {
                        return Check::Invalid;
                    }
                    if source.is_some_and(|s| !s.contains(&value.to_lowercase())) {
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
                    let open = self.fields.iter().any(|n| {
                        !seen.contains(n.as_str()) && template::could_start_field(line, n)
                    });
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
            name_ids: Vec::new(),
            newline: None,
        }
    }

    #[test]
    fn forced_tokens_are_those_every_open_choice_shares() {
        let mut g = grammar();
        // Labels 1-2-3 and 1-2-4-5; names [7 8 9] and [7 8 6], [5].
        g.labels = TokenTrie::new([&[1u32, 2, 3][..], &[1, 2, 4, 5]]);
        assert_eq!(g.forced_label(&[]), vec![1, 2]);
        assert_eq!(g.forced_label(&[1, 2]), Vec::<u32>::new());
        assert_eq!(g.forced_label(&[1, 2, 4]), vec![5]);
        assert_eq!(g.forced_label(&[1, 2, 3]), Vec::<u32>::new());
        g.name_ids = vec![
            ("a".into(), vec![7, 8, 9]),
            ("b".into(), vec![7, 8, 6]),
            ("c".into(), vec![5]),
        ];
        assert_eq!(g.forced_name(&[7], &[]), vec![8]);
        assert_eq!(g.forced_name(&[7], &["a"]), vec![8, 6]);
        assert_eq!(g.forced_name(&[7, 8], &[]), Vec::<u32>::new());
        assert_eq!(g.forced_name(&[3], &[]), Vec::<u32>::new());
        assert_eq!(g.forced_name(&[], &["a", "b"]), vec![5]);
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
            assert_eq!(g.check_fields(text, None), want, "{text:?}");
        }
        // Copied values: each one a piece of the ticket, whatever its case.
        let ticket = Some("order 4417 for ann@x.org");
        for (text, want) in [
            ("\n\nCustomer ID: 44", Complete),
            ("\n\nCustomer ID: 4417\nEmail: Ann@X", Complete),
            ("\n\nCustomer ID: 4418", Invalid),
            ("\n\nCustomer ID: 4417 for", Complete),
            ("\n\nCustomer ID: 4417 fro", Invalid),
            ("\n\nEmail: bob\nCustomer ID: 4", Invalid),
            ("\n\nCustomer ID: ", Partial),
        ] {
            assert_eq!(g.check_fields(text, ticket), want, "{text:?}");
        }
    }
}
