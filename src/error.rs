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
