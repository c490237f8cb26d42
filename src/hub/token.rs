//! The Hugging Face access token: where it comes from, and a type that never shows it. The
//! desktop app keeps a token the user typed in [`TOKEN_FILE`] in its data folder (mode 0600,
//! never in the database, never logged).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in the data folder that holds the token saved from the app.
pub const TOKEN_FILE: &str = "hf-token";

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

    /// The token saved in data folder `dir`, if any.
    pub fn load(dir: &Path) -> Option<Token> {
        std::fs::read_to_string(dir.join(TOKEN_FILE))
            .ok()
            .and_then(Token::new)
    }

    /// Saves the token in data folder `dir`, readable by the owner only; written to a
    /// temporary file first, so a crash leaves the old token or the new one.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        tmp.write_all(self.0.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(TOKEN_FILE))
            .map_err(|e| e.error)
            .map(drop)
    }

    /// Removes the token saved in data folder `dir` (nothing to do when there is none).
    pub fn forget(dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(dir.join(TOKEN_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
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

    #[test]
    fn saved_for_the_owner_only_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Token::load(dir.path()), None);
        let t = Token::new("hf_saved").unwrap();
        t.save(dir.path()).unwrap();
        assert_eq!(Token::load(dir.path()), Some(t));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Token::forget(dir.path()).unwrap();
        Token::forget(dir.path()).unwrap();
        assert_eq!(Token::load(dir.path()), None);
    }
}
