//! `tunedesk dataset mislabels | relabel | dismiss | edits`: find labels a fine-tuned model
//! contradicts, correct or keep them, and see what was changed.

use super::Context;
use crate::cli::args::MislabelArgs;
use crate::cli::output;
use anyhow::Result;
use tunedesk::evaluate::mislabels;
use tunedesk::paths::current_user;
use tunedesk::store::Relabel;
use tunedesk::text::clip;

pub fn mislabels_cmd(ctx: &Context, args: MislabelArgs) -> Result<()> {
    let store = ctx.store()?;
    let mut found = mislabels::of_dataset(
        &store,
        &args.name,
        args.eval,
        args.second,
        args.min_confidence,
    )?;
    found.truncate(args.limit);
    if ctx.json {
        return output::json(&found);
    }
    if found.is_empty() {
        outln!(
            "no suspected mislabels (confidence ≥ {})",
            args.min_confidence
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|s| {
            vec![
                s.row.to_string(),
                clip(&s.gold),
                clip(&s.predicted),
                output::percent(s.confidence),
                match s.confirmed {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                },
                clip(&s.text),
            ]
        })
        .collect();
    output::table(
        &[
            "ROW",
            "LABEL",
            "MODEL SAYS",
            "CONFIDENCE",
            "2ND AGREES",
            "TICKET",
        ],
        &rows,
    );
    outln!(
        "\nfix one: tunedesk dataset relabel {} --row N --from OLD --to NEW; keep one: tunedesk dataset dismiss {} --row N --label OLD",
        args.name,
        args.name
    );
    Ok(())
}

pub fn relabel_cmd(ctx: &Context, name: &str, change: Relabel, reason: &str) -> Result<()> {
    let mut store = ctx.store()?;
    let info = store.dataset(name)?;
    let edits = store.relabel(&info, &[change], reason, &current_user())?;
    if ctx.json {
        return output::json(&edits);
    }
    for e in &edits {
        outln!(
            "row {} of '{name}': '{}' → '{}'",
            e.row,
            e.old_label,
            e.new_label
        );
    }
    Ok(())
}

pub fn dismiss_cmd(ctx: &Context, name: &str, row: u64, label: &str) -> Result<()> {
    let mut store = ctx.store()?;
    let info = store.dataset(name)?;
    store.dismiss_mislabel(&info, row, label, &current_user())?;
    if ctx.json {
        return output::json(&serde_json::json!({"dataset": name, "row": row, "label": label}));
    }
    outln!("row {row} of '{name}' keeps '{label}' and is no longer suggested");
    Ok(())
}

pub fn edits_cmd(ctx: &Context, name: &str) -> Result<()> {
    let store = ctx.store()?;
    let edits = store.edits(&store.dataset(name)?)?;
    if ctx.json {
        return output::json(&edits);
    }
    if edits.is_empty() {
        outln!("no label of '{name}' was changed since import");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = edits
        .iter()
        .map(|e| {
            vec![
                e.edited_at.clone(),
                e.author.clone(),
                e.row.to_string(),
                clip(&e.old_label),
                clip(&e.new_label),
                clip(&e.reason),
            ]
        })
        .collect();
    output::table(&["WHEN", "WHO", "ROW", "OLD", "NEW", "WHY"], &rows);
    Ok(())
}
