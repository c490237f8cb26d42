//! `tunedesk generate`: print a model's continuation of a prompt, streamed.

use super::models::resolve_model;
use super::Context;
use crate::cli::args::GenerateArgs;
use crate::cli::output;
use anyhow::Result;
use std::io::Write;
use tunedesk::model::generate::{generate, GenerateOptions};
use tunedesk::model::{default_device, LoadedModel};

pub fn run(ctx: &Context, args: GenerateArgs) -> Result<()> {
    let path = resolve_model(ctx, &args.model)?;
    let lm = LoadedModel::load(&path, &default_device())?;
    let prompt = if args.chat {
        lm.chat_prompt(&args.prompt)?
    } else {
        args.prompt.clone()
    };
    let ids = lm.tokenizer.encode(&prompt)?;
    let opts = GenerateOptions {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
        stop: args.stop,
    };
    let mut shown = String::new();
    let mut so_far = Vec::new();
    let stream = !ctx.json && opts.stop.is_empty();
    let start = std::time::Instant::now();
    let generation = generate(&lm.model, &lm.tokenizer, &ids, &opts, None, &mut |id| {
        if stream {
            so_far.push(id);
            if let Ok(text) = lm.tokenizer.decode(&so_far) {
                // Print only whole characters: wait while the tail is an incomplete UTF-8 byte run.
                if text.len() > shown.len() && !text.ends_with('\u{FFFD}') {
                    out!("{}", &text[shown.len()..]);
                    let _ = std::io::stdout().flush();
                    shown = text;
                }
            }
        }
    })?;
    let secs = start.elapsed().as_secs_f64();
    if ctx.json {
        return output::json(&serde_json::json!({
            "text": generation.text,
            "ids": generation.ids,
            "stop": generation.stop,
            "prompt_tokens": generation.prompt_tokens,
            "seconds": secs,
        }));
    }
    if stream {
        if generation.text.len() > shown.len() {
            out!("{}", &generation.text[shown.len()..]);
        }
        outln!();
    } else {
        outln!("{}", generation.text);
    }
    Ok(())
}
