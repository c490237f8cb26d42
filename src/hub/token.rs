//! The Hugging Face access token: where it comes from, and a type that never shows it.

use std::path::PathBuf;

/// A Hugging Face access token. `Debug` and `Display` print `hf_***`; the value is only handed
/// to the HTTP layer as an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token string (surrounding whitespace removed); `None` when empty.
    pub fn new(value: impl AsRef<str>) -> Option<Token> {
        let v = value.as_ref().trim();
        (!v.is_empty()).then(|| Token(v.to_string()))
    }

    /// The secret itself, for the `Authorization` header only.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }

    /// The token to use, first found: `explicit` (the app's settings), `$HF_TOKEN`, the file
    /// named by `$HF_TOKEN_PATH`, then `$HF_HOME/token` (written by `huggingface-cli login`).
    /// `$HF_HUB_DISABLE_IMPLICIT_TOKEN` turns off everything but `explicit`.
    pub fn resolve(explicit: Option<Token>) -> Option<Token> {
        if explicit.is_some() {
            return explicit;
        }
        if std::env::var_os("HF_HUB_DISABLE_IMPLICIT_TOKEN").is_some_and(|v| !v.is_empty()) {
            return None;
        }
        if let Some(t) = std::env::var("HF_TOKEN").ok().and_then(Token::new) {
            return Some(t);
        }
        let from_file = |path: PathBuf| std::fs::read_to_string(path).ok().and_then(Token::new);
        if let Some(t) = std::env::var_os("HF_TOKEN_PATH").and_then(|p| from_file(p.into())) {
            return Some(t);
        }
        from_file(super::hf_home().join("token"))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hf_***")
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hf_***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_secret() {
        let t = Token::new(" hf_secret123 \n").unwrap();
        assert_eq!(t.secret(), "hf_secret123");
        assert_eq!(
            format!("{t} {t:?} {:?}", Some(&t)),
            "hf_*** hf_*** Some(hf_***)"
        );
        assert!(Token::new("  ").is_none());
        assert_eq!(Token::resolve(Some(t.clone())), Some(t));
    }
}
