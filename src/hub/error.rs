//! Why a pull failed, phrased so that the user knows what to do next. No variant carries the
//! token.

use std::path::PathBuf;

/// Why a model could not be pulled or found in the cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// Not of the form `owner/name`.
    #[error("'{0}' is not a Hugging Face repo id (expected owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct)")]
    InvalidRepoId(String),
    /// A gated model whose license the user has not accepted, or no token was sent.
    #[error("{repo} is a gated model: open {url}, log in and accept its license, then {}", if *.had_token { "wait until access is granted (the token in use has no access yet)" } else { "set a token with read access (HF_TOKEN, `huggingface-cli login`, or the app's settings)" })]
    Gated {
        /// Repo id.
        repo: String,
        /// Its page.
        url: String,
        /// Whether a token was sent.
        had_token: bool,
    },
    /// 401/403 that is not a gate: private repo, bad token, or no such repo.
    #[error("{repo}: access denied (HTTP {status}); {}", if *.had_token { "the token was refused, or it has no access to this repo" } else { "the repo does not exist or is private; check the id, or set a token (HF_TOKEN, `huggingface-cli login`, or the app's settings)" })]
    Denied {
        /// Repo id.
        repo: String,
        /// 401 or 403.
        status: u16,
        /// Whether a token was sent.
        had_token: bool,
    },
    /// 404 on the repo or the revision.
    #[error(
        "no model {repo} at revision '{revision}' on {endpoint} (check the repo id and --revision)"
    )]
    NotFound {
        /// Repo id.
        repo: String,
        /// Revision asked for.
        revision: String,
        /// The Hub.
        endpoint: String,
    },
    /// A file the model needs is not in the repo.
    #[error("{repo} has no {file}: {why}")]
    MissingFile {
        /// Repo id.
        repo: String,
        /// File name.
        file: String,
        /// What that means.
        why: String,
    },
    /// The architecture is not implemented (found before any weights were downloaded).
    #[error("{repo} is a {architecture} model, which TuneDesk cannot train; supported architectures: {}", crate::model::SUPPORTED_ARCHITECTURES.join(", "))]
    Unsupported {
        /// Repo id.
        repo: String,
        /// `architectures[0]` of its config.json.
        architecture: String,
    },
    /// The repo's config.json could not be read as a model configuration.
    #[error("{repo}: {source}")]
    Config {
        /// Repo id.
        repo: String,
        /// Why.
        source: Box<crate::model::ModelError>,
    },
    /// Offline mode, and the model is not (completely) in the cache.
    #[error("offline (HF_HUB_OFFLINE is set) and {repo}@{revision} is not in the cache {}; pull it while online", .cache_dir.display())]
    NotCached {
        /// Repo id.
        repo: String,
        /// Revision.
        revision: String,
        /// The cache looked in.
        cache_dir: PathBuf,
    },
    /// The Hub could not be reached and the model is not cached.
    #[error("cannot reach {endpoint} ({reason}) and {repo} is not in the cache; check the network, or HF_ENDPOINT")]
    Unreachable {
        /// The Hub.
        endpoint: String,
        /// Repo id.
        repo: String,
        /// The transport error.
        reason: String,
    },
    /// The connection broke and retries ran out; the partial file is kept.
    #[error("download of {file} interrupted after {done} of {total} bytes ({reason}); run the same command again to resume")]
    Interrupted {
        /// File name.
        file: String,
        /// Bytes kept.
        done: u64,
        /// File size.
        total: u64,
        /// The transport error.
        reason: String,
    },
    /// The downloaded file does not have the size or hash the Hub announced, twice in a row.
    #[error(
        "{file}: the downloaded file does not match the Hub's {what}; it was deleted, try again"
    )]
    Integrity {
        /// File name.
        file: String,
        /// `size` or `sha256`.
        what: String,
    },
    /// The server answered something the resolve protocol does not allow.
    #[error("unexpected answer from {url}: {what}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        what: String,
    },
    /// Stopped on request; partial downloads are kept for resuming.
    #[error("download cancelled; run it again to resume")]
    Cancelled,
    /// Reading or writing the cache failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An error reported by the hf-hub client.
    #[error("Hugging Face Hub: {0}")]
    Client(String),
}

impl HubError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> HubError {
        HubError::Io {
            path: path.into(),
            source,
        }
    }
}
