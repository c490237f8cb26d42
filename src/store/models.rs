//! The `models` table: base models known by name — local folders and GGUF files the user
//! added, and models pulled from the Hugging Face Hub (their snapshot in the HF cache). No
//! credentials are ever stored here.

use super::{Store, StoreError};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

pub(super) const V1: &str = "
CREATE TABLE models (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('hub', 'folder', 'gguf')),
    source        TEXT NOT NULL,   -- repo id (hub) or the path as given
    revision      TEXT,            -- hub: branch, tag or commit asked for
    path          TEXT NOT NULL,   -- what the model loader opens
    architecture  TEXT NOT NULL,
    params        INTEGER NOT NULL,
    size_bytes    INTEGER NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);";

/// Where a registered model comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Pulled from the Hugging Face Hub.
    Hub,
    /// A local Hugging Face folder.
    Folder,
    /// A local `.gguf` file.
    Gguf,
}

impl ModelKind {
    /// `hub`, `folder` or `gguf` (as stored and in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Hub => "hub",
            ModelKind::Folder => "folder",
            ModelKind::Gguf => "gguf",
        }
    }

    fn parse(s: &str) -> ModelKind {
        match s {
            "hub" => ModelKind::Hub,
            "gguf" => ModelKind::Gguf,
            _ => ModelKind::Folder,
        }
    }
}

/// A model to register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: ModelKind,
    /// Repo id or the path as given.
    pub source: String,
    /// Hub revision.
    pub revision: Option<String>,
    /// Folder or file to load.
    pub path: String,
    /// Architecture.
    pub architecture: String,
    /// Parameter count.
    pub params: u64,
    /// Bytes on disk.
    pub size_bytes: u64,
}

/// A registered model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: ModelKind,
    /// Repo id or the path as given.
    pub source: String,
    /// Hub revision.
    pub revision: Option<String>,
    /// Folder or file to load.
    pub path: String,
    /// Architecture.
    pub architecture: String,
    /// Parameter count.
    pub params: u64,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// When it was registered (UTC).
    pub created_at: String,
}

const SELECT: &str = "SELECT id, name, kind, source, revision, path, architecture, params,
    size_bytes, created_at FROM models";

fn from_row(r: &Row) -> rusqlite::Result<ModelInfo> {
    Ok(ModelInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: ModelKind::parse(&r.get::<_, String>(2)?),
        source: r.get(3)?,
        revision: r.get(4)?,
        path: r.get(5)?,
        architecture: r.get(6)?,
        params: r.get::<_, i64>(7)? as u64,
        size_bytes: r.get::<_, i64>(8)? as u64,
        created_at: r.get(9)?,
    })
}

impl Store {
    /// Registers a model. A taken name is refused unless `replace` (a pull updating its own
    /// entry).
    pub fn add_model(&mut self, m: &NewModel, replace: bool) -> Result<ModelInfo, StoreError> {
        let tx = self.conn.transaction()?;
        let taken = tx
            .query_row("SELECT id FROM models WHERE name = ?1", [&m.name], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?;
        if taken.is_some() {
            if !replace {
                return Err(StoreError::ModelExists(m.name.clone()));
            }
            tx.execute("DELETE FROM models WHERE name = ?1", [&m.name])?;
        }
        tx.execute(
            "INSERT INTO models (name, kind, source, revision, path, architecture, params, size_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                m.name,
                m.kind.as_str(),
                m.source,
                m.revision,
                m.path,
                m.architecture,
                m.params as i64,
                m.size_bytes as i64
            ],
        )?;
        tx.commit()?;
        self.model(&m.name)
    }

    /// The model called `name`, if registered.
    pub fn find_model(&self, name: &str) -> Result<Option<ModelInfo>, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("{SELECT} WHERE name = ?1"), [name], from_row)
            .optional()?)
    }

    /// The model called `name`.
    pub fn model(&self, name: &str) -> Result<ModelInfo, StoreError> {
        match self.find_model(name)? {
            Some(m) => Ok(m),
            None => Err(StoreError::ModelNotFound {
                name: name.to_string(),
                available: self.list_models()?.into_iter().map(|m| m.name).collect(),
            }),
        }
    }

    /// All registered models, by name.
    pub fn list_models(&self) -> Result<Vec<ModelInfo>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("{SELECT} ORDER BY name"))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Unregisters a model (its files stay where they are).
    pub fn remove_model(&mut self, name: &str) -> Result<ModelInfo, StoreError> {
        let info = self.model(name)?;
        self.conn
            .execute("DELETE FROM models WHERE id = ?1", [info.id])?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str, kind: ModelKind) -> NewModel {
        NewModel {
            name: name.into(),
            kind,
            source: "org/m".into(),
            revision: Some("main".into()),
            path: "/cache/x".into(),
            architecture: "LlamaForCausalLM".into(),
            params: 135_000_000,
            size_bytes: 270_000_000,
        }
    }

    #[test]
    fn register_list_replace_remove() {
        let mut s = Store::open_in_memory().unwrap();
        let m = s.add_model(&new("org/m", ModelKind::Hub), false).unwrap();
        assert_eq!((m.kind, m.params), (ModelKind::Hub, 135_000_000));
        for k in [ModelKind::Hub, ModelKind::Folder, ModelKind::Gguf] {
            assert_eq!(ModelKind::parse(k.as_str()), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!(matches!(
            s.add_model(&new("org/m", ModelKind::Hub), false),
            Err(StoreError::ModelExists(_))
        ));
        let mut again = new("org/m", ModelKind::Hub);
        again.path = "/cache/y".into();
        assert_eq!(s.add_model(&again, true).unwrap().path, "/cache/y");
        s.add_model(&new("local", ModelKind::Gguf), false).unwrap();
        let names: Vec<_> = s
            .list_models()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["local", "org/m"]);
        s.remove_model("local").unwrap();
        let err = s.model("local").unwrap_err().to_string();
        assert!(err.contains("org/m"), "{err}");
        assert!(s.find_model("local").unwrap().is_none());
    }
}
