//! Chat prompts: renders the model's own Jinja chat template (from `tokenizer_config.json` or
//! GGUF `tokenizer.chat_template`) with minijinja; ChatML when the model has none.

use super::ModelError;
use serde::Serialize;

/// A chat message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A user turn.
    pub fn user(content: &str) -> Message {
        Message {
            role: "user".into(),
            content: content.into(),
        }
    }
}

/// ChatML, the fallback template.
pub const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Renders `messages` with `template` (or ChatML), ending with the generation prompt.
pub fn render(
    template: Option<&str>,
    messages: &[Message],
    bos_token: &str,
    eos_token: &str,
) -> Result<String, ModelError> {
    let mut env = minijinja::Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    let err = |e: minijinja::Error| ModelError::Tokenizer(format!("chat template: {e}"));
    env.add_template("chat", template.unwrap_or(CHATML))
        .map_err(err)?;
    env.get_template("chat")
        .map_err(err)?
        .render(minijinja::context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => bos_token,
            eos_token => eos_token,
        })
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_smollm2_template() {
        let smollm = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        let out = render(
            Some(smollm),
            &[Message::user("What is the capital of France?")],
            "",
            "",
        )
        .unwrap();
        assert_eq!(out, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn falls_back_to_chatml() {
        let out = render(None, &[Message::user("hi")], "", "").unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn llama3_style_template_with_python_methods() {
        let t = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";
        let out = render(Some(t), &[Message::user(" hi ")], "<|begin_of_text|>", "").unwrap();
        assert_eq!(out, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    }
}
