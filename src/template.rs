//! The task format, owned in one place: how an example becomes a prompt and a completion, and
//! how a completion (from a file or from the model) is parsed back into a label and fields.
//!
//! ```text
//! prompt:     Classify the following support ticket and extract relevant information:
//!
//!             Ticket: "My card was charged twice"
//!
//!             Classification:
//! completion: ␠Billing
//!
//!             Customer ID: 789012
//! ```
//!
//! Import (JSONL completions), training, evaluation and prediction all go through this module;
//! nothing else knows the layout.

use serde::{Deserialize, Serialize};

/// The instruction line of the default template.
pub const DEFAULT_INSTRUCTION: &str =
    "Classify the following support ticket and extract relevant information:";

const TICKET_OPEN: &str = "Ticket: \"";
const CLASSIFICATION: &str = "Classification:";
/// What separates the label line of a completion from its field lines: a blank line.
pub const FIELDS_START: &str = "\n\n";
/// What separates a field's name from its value on a field line.
const NAME_VALUE: &str = ": ";

/// A prompt/completion template for classification + extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// First line of every prompt.
    pub instruction: String,
    /// Order of the `Name: value` lines in a completion (runs stored before this option
    /// existed kept the dataset's order, the default).
    #[serde(default)]
    pub field_order: FieldOrder,
}

impl Default for Template {
    fn default() -> Self {
        Template {
            instruction: DEFAULT_INSTRUCTION.to_string(),
            field_order: FieldOrder::default(),
        }
    }
}

/// The order in which a completion lists an example's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FieldOrder {
    /// As the dataset stores them (column order on import): one fixed layout.
    #[default]
    Dataset,
    /// By where each value first appears in the ticket text (case-folded), so the model reads
    /// and writes left to right; values not in the text follow, in the dataset's order.
    Text,
}

impl FieldOrder {
    /// `fields` in this order for a ticket `text`.
    pub fn arrange<'a>(
        self,
        text: &str,
        fields: &'a [(String, String)],
    ) -> Vec<&'a (String, String)> {
        let mut out: Vec<&(String, String)> = fields.iter().collect();
        if self == FieldOrder::Text {
            let text = text.to_lowercase();
            // Stable: fields at the same position, or absent from the text, keep their order.
            out.sort_by_key(|(_, value)| first_position(&text, value));
        }
        out
    }
}

/// Where the earliest of a value's parts (`a; b` holds two) occurs in the case-folded `text`;
/// `usize::MAX` when none does.
fn first_position(text: &str, value: &str) -> usize {
    value
        .split("; ")
        .filter_map(|part| {
            let part = part.trim().to_lowercase();
            (!part.is_empty()).then(|| text.find(&part)).flatten()
        })
        .min()
        .unwrap_or(usize::MAX)
}

/// A label and its fields, as read from a completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The class label (first line).
    pub label: String,
    /// `Name: value` lines, in order.
    pub fields: Vec<(String, String)>,
}

/// Why a completion does not follow the layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Nothing but whitespace.
    #[error("completion is empty")]
    Empty,
    /// The first line, which holds the label, is blank.
    #[error("completion has no label on its first line")]
    NoLabel,
    /// A line after the label is not `Name: value`.
    #[error("completion line {line} is not 'Name: value': {}", crate::text::Shown(.text))]
    NotAField {
        /// 1-based line within the completion.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// A field line with no value.
    #[error("completion line {line}: field '{}' has no value", crate::text::clip(.name))]
    EmptyValue {
        /// 1-based line within the completion.
        line: usize,
        /// Field name.
        name: String,
    },
    /// The same field twice.
    #[error("completion line {line}: field '{}' appears twice", crate::text::clip(.name))]
    DuplicateField {
        /// 1-based line within the completion.
        line: usize,
        /// Field name.
        name: String,
    },
    /// A prompt without the `Ticket: "…"` part.
    #[error("prompt has no 'Ticket: \"…\"' part to take the ticket text from")]
    NoTicket,
    /// A label with a line break: the completion holds the label on its first line.
    #[error("label {} contains a line break; a completion holds the label on one line", crate::text::Shown(.0))]
    LabelLineBreak(String),
    /// A field with an empty name.
    #[error("a field has an empty name")]
    EmptyFieldName,
    /// A field name that a completion line cannot hold: with `:`, a line break, or spaces
    /// around it.
    #[error("field name {} cannot be written as a 'Name: value' line (no ':', line breaks, or spaces around the name): rename it", crate::text::Shown(.0))]
    BadFieldName(String),
    /// A field value with a line break: a completion holds one field per line.
    #[error("value of field '{}' contains a line break; a completion holds one field per line", crate::text::clip(.0))]
    ValueLineBreak(String),
}

/// Whether `label` can be written in a completion and read back unchanged (up to the spaces
/// around it): no line breaks.
pub fn check_label(label: &str) -> Result<(), LayoutError> {
    if label.contains(['\n', '\r']) {
        return Err(LayoutError::LabelLineBreak(label.to_string()));
    }
    Ok(())
}

/// Whether a field can be written as a `Name: value` line and read back unchanged: a
/// non-empty name without `:`, line breaks or surrounding spaces, a value without line breaks.
pub fn check_field(name: &str, value: &str) -> Result<(), LayoutError> {
    if name.is_empty() {
        return Err(LayoutError::EmptyFieldName);
    }
    if name.contains([':', '\n', '\r']) || name.trim() != name {
        return Err(LayoutError::BadFieldName(name.to_string()));
    }
    if value.contains(['\n', '\r']) {
        return Err(LayoutError::ValueLineBreak(name.to_string()));
    }
    Ok(())
}

impl Template {
    /// The prompt for a ticket text, ending with `Classification:`.
    pub fn prompt(&self, text: &str) -> String {
        format!(
            "{}\n\n{TICKET_OPEN}{text}\"\n\n{CLASSIFICATION}",
            self.instruction
        )
    }

    /// The start every prompt shares, up to the ticket text:
    /// `prompt_head() + prompt_tail(text) == prompt(text)`.
    pub fn prompt_head(&self) -> String {
        format!("{}\n\n{TICKET_OPEN}", self.instruction)
    }

    /// The prompt after [`Template::prompt_head`]: the ticket text and `Classification:`.
    pub fn prompt_tail(&self, text: &str) -> String {
        format!("{text}\"\n\n{CLASSIFICATION}")
    }

    /// The prompt head for a base model without fine-tuning: the instruction, the allowed
    /// labels and fields, then `shots` worked examples (ticket text, completion) in the same
    /// layout, ending where the ticket text goes.
    pub fn few_shot_head(
        &self,
        labels: &[String],
        fields: &[String],
        shots: &[(String, String)],
    ) -> String {
        let mut out = format!(
            "{}\nAnswer with one of these labels: {}.",
            self.instruction,
            labels.join(", ")
        );
        if !fields.is_empty() {
            out.push_str(&format!(
                "\nThen, after a blank line, list the fields found in the ticket, one per line as \"Name: value\", from: {}.",
                fields.join(", ")
            ));
        }
        for (text, completion) in shots {
            out.push_str("\n\n");
            out.push_str(TICKET_OPEN);
            out.push_str(&self.prompt_tail(text));
            out.push_str(completion);
        }
        out.push_str("\n\n");
        out.push_str(TICKET_OPEN);
        out
    }

    /// The completion for a ticket `text` with a label and fields: ` label`, then a blank
    /// line and one `Name: value` line per field (when there are fields), in the template's
    /// [`FieldOrder`].
    pub fn completion(&self, text: &str, label: &str, fields: &[(String, String)]) -> String {
        let mut out = label_text(label);
        if !fields.is_empty() {
            out.push('\n');
            for (name, value) in self.field_order.arrange(text, fields) {
                out.push('\n');
                out.push_str(name);
                out.push_str(NAME_VALUE);
                out.push_str(value);
            }
        }
        out
    }
}

/// A label as a completion begins with it, after `Classification:`: ` label`.
pub fn label_text(label: &str) -> String {
    format!(" {label}")
}

/// The start of field `name`'s line up to its colon: `Name:`.
pub fn field_name_text(name: &str) -> String {
    format!("{name}:")
}

/// Whether `partial`, the beginning of a line, can still become the start of field `name`'s
/// line (`Name: `).
pub fn could_start_field(partial: &str, name: &str) -> bool {
    format!("{name}{NAME_VALUE}").starts_with(partial)
}

/// A field line as the model writes it, split into name and value: `Name: value`.
pub fn field_line(line: &str) -> Option<(&str, &str)> {
    line.split_once(NAME_VALUE)
}

/// The names of the fields in a field section (the text after the label), in order.
pub fn field_names(section: &str) -> Vec<&str> {
    section
        .split('\n')
        .filter_map(|l| field_line(l).map(|(name, _)| name))
        .collect()
}

/// The fields of a field section (the text after the label); none if it does not parse.
pub fn parse_fields(section: &str) -> Vec<(String, String)> {
    parse_completion(&format!("x{section}"))
        .map(|c| c.fields)
        .unwrap_or_default()
}

/// The first answer in free text: the label line and the field block right after it. What
/// follows a second blank line is the model moving on to something else.
pub fn first_answer(output: &str) -> &str {
    match output.find(FIELDS_START) {
        Some(i) => match output[i + FIELDS_START.len()..].find(FIELDS_START) {
            Some(j) => &output[..i + FIELDS_START.len() + j],
            None => output,
        },
        None => output,
    }
}

/// Whether free text after the label has finished its answer: a second blank line after
/// the fields.
pub fn answer_ended(after_label: &str) -> bool {
    let body = after_label.trim_start_matches(|c: char| c != '\n');
    body.trim_start_matches('\n').contains(FIELDS_START)
}

/// Recovers the ticket text from a prompt in the product's layout: the text between
/// `Ticket: "` and the last `"` before `Classification:` (or the end of the prompt).
pub fn ticket_from_prompt(prompt: &str) -> Result<String, LayoutError> {
    let start = prompt.find(TICKET_OPEN).ok_or(LayoutError::NoTicket)? + TICKET_OPEN.len();
    ticket_from_tail(&prompt[start..])
        .map(str::to_string)
        .ok_or(LayoutError::NoTicket)
}

/// The ticket text of a prompt tail ([`Template::prompt_tail`]): what comes before the last
/// `"` ahead of `Classification:` (or the end).
pub fn ticket_from_tail(tail: &str) -> Option<&str> {
    let rest = match tail.rfind(CLASSIFICATION) {
        Some(end) => &tail[..end],
        None => tail,
    };
    rest.rfind('"').map(|end| &rest[..end])
}

/// Parses a completion: label on the first line, then optional `Name: value` lines
/// (blank lines are skipped). Surrounding whitespace is ignored.
pub fn parse_completion(completion: &str) -> Result<Completion, LayoutError> {
    if completion.trim().is_empty() {
        return Err(LayoutError::Empty);
    }
    let mut lines = completion.trim_end().split('\n').enumerate();
    let label = lines.next().map(|(_, l)| l.trim()).unwrap_or_default();
    if label.is_empty() {
        return Err(LayoutError::NoLabel);
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for (i, raw) in lines {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let (name, value) = match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => (name.trim(), value.trim()),
            _ => {
                return Err(LayoutError::NotAField {
                    line: n,
                    text: line.to_string(),
                })
            }
        };
        if value.is_empty() {
            return Err(LayoutError::EmptyValue {
                line: n,
                name: name.to_string(),
            });
        }
        if fields.iter().any(|(f, _)| f == name) {
            return Err(LayoutError::DuplicateField {
                line: n,
                name: name.to_string(),
            });
        }
        fields.push((name.to_string(), value.to_string()));
    }
    Ok(Completion {
        label: label.to_string(),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn renders_the_product_layout() {
        let t = Template::default();
        assert_eq!(
            t.prompt("My app crashes"),
            "Classify the following support ticket and extract relevant information:\n\nTicket: \"My app crashes\"\n\nClassification:"
        );
        assert_eq!(
            t.completion("", "Technical Issue", &f(&[("Customer ID", "789012")])),
            " Technical Issue\n\nCustomer ID: 789012"
        );
        assert_eq!(t.completion("", "Billing", &[]), " Billing");
        assert_eq!(t.prompt_head() + &t.prompt_tail("x"), t.prompt("x"));
        let head = t.few_shot_head(
            &["A".into(), "B".into()],
            &["Email".into()],
            &[("hi".into(), " A\n\nEmail: a@b.c".into())],
        );
        assert!(head.contains("labels: A, B."));
        assert!(head.ends_with(&format!(
            "{}\n\nClassification: A\n\nEmail: a@b.c\n\nTicket: \"",
            "Ticket: \"hi\""
        )));
    }

    #[test]
    fn completion_round_trips() {
        let t = Template::default();
        let fields = f(&[
            ("Customer ID", "789012"),
            ("Email", "a@b.c"),
            ("Time", "10:30"),
        ]);
        let text = "mail a@b.c at 10:30 about 789012";
        let c = parse_completion(&t.completion(text, "Account Management", &fields)).unwrap();
        assert_eq!(c.label, "Account Management");
        assert_eq!(c.fields, fields);
        let by_text = Template {
            field_order: FieldOrder::Text,
            ..Template::default()
        };
        let c = parse_completion(&by_text.completion(text, "A", &fields)).unwrap();
        let mut in_text = fields.clone();
        in_text.rotate_left(1);
        assert_eq!(c.fields, in_text);
        let text = "He said \"hi\" twice";
        assert_eq!(ticket_from_prompt(&t.prompt(text)).unwrap(), text);
    }

    #[test]
    fn text_order_follows_first_appearance() {
        let fields = f(&[
            ("airline", "Delta"),
            ("from", "boston"),
            ("stop", "nowhere"),
            ("to", "denver; boston"),
        ]);
        let order: Vec<&str> = FieldOrder::Text
            .arrange("Boston to Denver on delta", &fields)
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        // `to` starts at boston too (its earliest part); ties and absent values keep order.
        assert_eq!(order, ["from", "to", "airline", "stop"]);
        // Runs stored before the option existed keep the dataset's order.
        let old: Template = serde_json::from_str(r#"{"instruction":"x"}"#).unwrap();
        assert_eq!(old.field_order, FieldOrder::Dataset);
    }

    #[test]
    fn bad_layouts_are_named() {
        assert_eq!(parse_completion("  \n"), Err(LayoutError::Empty));
        assert_eq!(
            parse_completion("\nCustomer ID: 1"),
            Err(LayoutError::NoLabel)
        );
        assert!(matches!(
            parse_completion(" Billing\n\ncustomer 123"),
            Err(LayoutError::NotAField { line: 3, .. })
        ));
        assert!(matches!(
            parse_completion(" Billing\n\nEmail:"),
            Err(LayoutError::EmptyValue { line: 3, .. })
        ));
        assert!(matches!(
            parse_completion(" Billing\nA: 1\nA: 2"),
            Err(LayoutError::DuplicateField { line: 3, .. })
        ));
        assert_eq!(
            ticket_from_prompt("Classify: hello"),
            Err(LayoutError::NoTicket)
        );
    }

    #[test]
    fn decoding_helpers_read_the_layout() {
        assert_eq!(label_text("Billing"), " Billing");
        assert_eq!(field_name_text("Customer ID"), "Customer ID:");
        assert!(could_start_field("Cust", "Customer ID"));
        assert!(could_start_field("Customer ID: ", "Customer ID"));
        assert!(!could_start_field("Customer ID:1", "Customer ID"));
        assert_eq!(field_line("Time: 10:30"), Some(("Time", "10:30")));
        assert_eq!(field_names("\n\nA: 1\nB: 2\nC"), ["A", "B"]);
        assert_eq!(parse_fields("\n\nA: 1\nB: x"), f(&[("A", "1"), ("B", "x")]));
        assert!(parse_fields("\n\nnot a field").is_empty());
        let out = " Billing\n\nA: 1\n\nTicket: \"next\"";
        assert_eq!(first_answer(out), " Billing\n\nA: 1");
        assert_eq!(first_answer(" Billing"), " Billing");
        assert!(answer_ended("\n\nA: 1\n\n"));
        assert!(!answer_ended("\n\nA: 1\n"));
    }

    #[test]
    fn what_cannot_round_trip_is_refused() {
        check_label("Technical Issue").unwrap();
        check_field("Customer ID", "10:30 on a@b.c").unwrap();
        assert!(check_label("Billing\nRefund").is_err());
        assert_eq!(check_field("", "1"), Err(LayoutError::EmptyFieldName));
        for bad in ["Customer: ID", " Email", "a\nb"] {
            assert_eq!(
                check_field(bad, "1"),
                Err(LayoutError::BadFieldName(bad.into()))
            );
        }
        assert!(check_field("Address", "1 Main St\nSpringfield").is_err());
        // Everything the checks accept survives the layout.
        let t = Template::default();
        let fields = f(&[("Customer ID", "10:30 on a@b.c"), ("x.y", "\"q\"")]);
        let back = parse_completion(&t.completion("", "Technical Issue", &fields)).unwrap();
        assert_eq!(
            (back.label.as_str(), back.fields),
            ("Technical Issue", fields)
        );
    }
}
