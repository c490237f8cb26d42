//! The engine's top-level error: one variant per stage, each wrapping that stage's own error.

use crate::{dataset::DatasetError, import::ImportError, model::ModelError, store::StoreError};

/// Any error the engine reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or validating an input file failed; nothing was stored.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The SQLite store failed or refused the operation.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dataset operation (split, export) was refused.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] crate::chart::ChartError),
    /// A model could not be pulled from the Hugging Face Hub.
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    /// A model could not be registered or resolved.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// A training run could not start or continue.
    #[error(transparent)]
    Train(#[from] crate::train::run::TrainError),
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message of `err` and of its causes, joined by `: `, leaving out a cause whose message
/// the text already holds (most engine errors quote their cause, so a plain chain would print
/// "Is a directory (os error 21): Is a directory (os error 21)").
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    /// An error that quotes its cause in its message, as most engine errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("importing: {0}")]
    struct Quoting(#[source] crate::import::ImportError);

    #[test]
    fn report_names_each_cause_once() {
        let io = std::io::Error::from_raw_os_error(21);
        let err = crate::import::ImportError::Io {
            file: "dir".into(),
            source: io,
        };
        let text = super::report(&err);
        assert_eq!(text.matches("os error 21").count(), 1, "{text}");
        assert!(text.starts_with("cannot read dir: "), "{text}");
        let text = super::report(&Quoting(err));
        assert_eq!(text.matches("os error 21").count(), 1, "{text}");
        assert!(text.starts_with("importing: cannot read dir"), "{text}");
    }
}
