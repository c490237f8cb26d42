//! The error every command returns: the engine error's message, sent to the UI as a string.

use serde::{Serialize, Serializer};

/// A command failure, serialized as its message (with its cause chain).
#[derive(Debug)]
pub struct CommandError(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for CommandError {
    fn from(err: E) -> Self {
        CommandError(err.into())
    }
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&tunedesk::report(self.0.as_ref()))
    }
}

/// Result of a command.
pub type CommandResult<T> = Result<T, CommandError>;
