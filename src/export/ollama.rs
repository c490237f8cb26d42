//! An Ollama model: the merged GGUF ([`super::gguf`]) and a `Modelfile` whose `TEMPLATE` is
//! exactly the run's prompt with the ticket as `{{ .Prompt }}`, greedy decoding and the
//! model's end-of-sequence tokens as stops, so `ollama run NAME "ticket text"` answers as
//! TuneDesk does. (Ollama's own import of safetensors adapters is unreliable upstream, so the
//! adapter is merged, not referenced.)

use super::gguf::MODEL_FILE;
use super::ExportError;
use crate::template::Template;

/// The Modelfile's name.
pub const MODELFILE: &str = "Modelfile";

/// Ollama's placeholder for the user's text in a `TEMPLATE`.
const PROMPT: &str = "{{ .Prompt }}";

/// The `Modelfile` for a model whose prompt is `template`'s and whose end-of-sequence tokens
/// are `stops`.
pub(super) fn modelfile(template: &Template, stops: &[String]) -> Result<String, ExportError> {
    // Literal braces in the instruction would be read as Go template actions: quote them.
    let marker = "\u{0}TICKET\u{0}";
    let prompt = template
        .prompt(marker)
        .replace("{{", "{{\"{{\"}}")
        .replace(marker, PROMPT);
    if prompt.contains("\"\"\"") {
        return Err(ExportError::Unsupported(
            "the prompt contains \"\"\", which a Modelfile TEMPLATE cannot hold".into(),
        ));
    }
    let mut text = format!(
        "FROM ./{MODEL_FILE}\n\nTEMPLATE \"\"\"{prompt}\"\"\"\n\nPARAMETER temperature 0\nPARAMETER top_k 1\n"
    );
    for stop in stops {
        text += &format!("PARAMETER stop {stop:?}\n");
    }
    Ok(text)
}

/// The README's "Use" section for an Ollama export named `name`.
pub(super) fn usage(name: &str) -> String {
    format!(
        "```sh\nollama create {name} -f Modelfile\nollama run {name} \"My card was charged twice\"\n```\n\n\
         The Modelfile's `TEMPLATE` wraps the text you send in the same prompt the model was \
         trained on; send only the ticket text.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_the_run_prompt_around_the_ticket() {
        let t = Template::default();
        let m = modelfile(&t, &["<|im_end|>".into()]).unwrap();
        assert!(m.starts_with("FROM ./model.gguf\n"), "{m}");
        let template = m
            .split_once("TEMPLATE \"\"\"")
            .and_then(|(_, rest)| rest.split_once("\"\"\""))
            .unwrap()
            .0;
        assert_eq!(template, t.prompt("{{ .Prompt }}"));
        assert!(m.contains("PARAMETER temperature 0\n"));
        assert!(m.contains("PARAMETER stop \"<|im_end|>\"\n"));

        let braces = Template {
            instruction: "Use {{ and }} literally.".into(),
            ..Template::default()
        };
        let m = modelfile(&braces, &[]).unwrap();
        assert!(m.contains("Use {{\"{{\"}} and }} literally."), "{m}");
    }
}
