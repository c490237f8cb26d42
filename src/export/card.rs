//! The model card (`README.md`) written into every export: what the model is for, the exact
//! prompt and answer layout, the training settings and the latest evaluation, then how to use
//! the files of that format.

use super::ExportError;
use crate::adapter::AdapterInfo;
use crate::store::{RunInfo, Store};

/// The model card's file name.
pub const CARD_FILE: &str = "README.md";

/// The model card: what the adapter is for, how to prompt it, how it was trained and scored.
///
/// `front` is the format's front-matter line (`library_name: peft`, …), `use_it` the Markdown
/// of the "Use" section.
pub(super) fn card(
    store: &Store,
    run: &RunInfo,
    info: &AdapterInfo,
    base: &str,
    front: &str,
    use_it: &str,
) -> Result<String, ExportError> {
    let t = &info.template;
    let placeholders: Vec<(String, String)> = info
        .fields
        .iter()
        .map(|f| (f.clone(), "…".to_string()))
        .collect();
    let label = info.labels.first().map_or("LABEL", |l| l.as_str());
    let example = t.completion("", label, &placeholders);
    let settings = serde_json::to_string_pretty(&run.config["config"]).unwrap_or_default();
    let mut md = format!(
        "---\n{front}\nbase_model: {base}\ntags:\n- tunedesk\n- lora\n- text-classification\n---\n\n\
         # {name}\n\nA model fine-tuned (LoRA) with TuneDesk to classify tickets and extract fields.\n\n\
         - Base model: `{base}`\n- Dataset: `{dataset}`\n- Labels: {labels}\n- Fields: {fields}\n\n\
         ## Prompt\n\nThe model reads exactly this prompt (the ticket in place of `{{ticket}}`) and \
         answers after it with greedy decoding:\n\n```text\n{prompt}\n```\n\n\
         and answers in this layout:\n\n```text\n{example}\n```\n\n## Training settings\n\n```json\n{settings}\n```\n",
        name = run.name,
        dataset = run.dataset,
        labels = list(&info.labels),
        fields = if info.fields.is_empty() { "none".into() } else { list(&info.fields) },
        prompt = t.prompt("{ticket}"),
    );
    if let Some(e) = store.list_evals(Some(&run.name))?.into_iter().next() {
        md += &format!(
            "\n## Evaluation\n\nOn `{}` ({}, {} tickets, checkpoint {}): accuracy {:.1} %, macro-F1 {:.1} %{}.\n",
            e.spec.dataset,
            e.spec.split,
            e.metrics.examples,
            e.spec.checkpoint.as_deref().unwrap_or("best"),
            e.metrics.accuracy * 100.0,
            e.metrics.macro_f1 * 100.0,
            e.metrics
                .fields
                .as_ref()
                .map(|f| format!(", field micro-F1 {:.1} %", f.micro_f1 * 100.0))
                .unwrap_or_default()
        );
    }
    md += "\n## Use\n\n";
    md += use_it;
    Ok(md)
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
