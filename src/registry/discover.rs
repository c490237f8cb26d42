//! GGUF models other apps already keep on this machine: Ollama (`$OLLAMA_MODELS`, else
//! `~/.ollama/models`: manifests naming `sha256-…` blobs) and LM Studio (`~/.lmstudio/models`,
//! `~/.cache/lm-studio/models`: `publisher/repo/*.gguf`). Only file headers are read.

use candle_core::quantized::gguf_file;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A GGUF file found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// `ollama` or `lm-studio`.
    pub app: &'static str,
    /// A registry name for it (`model:tag`, or the file stem).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Bytes.
    pub size_bytes: u64,
    /// `general.architecture` of its header (`llama`, `qwen2`, …), if readable.
    pub architecture: Option<String>,
    /// The engine can load this architecture.
    pub supported: bool,
}

/// Looks in the standard places of Ollama and LM Studio.
pub fn discover() -> Vec<Found> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_default();
    let ollama = std::env::var_os("OLLAMA_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".ollama/models"));
    let lmstudio = [
        home.join(".lmstudio/models"),
        home.join(".cache/lm-studio/models"),
    ];
    discover_in(&ollama, &lmstudio)
}

/// Looks in an Ollama models folder and LM Studio models folders.
pub fn discover_in(ollama: &Path, lmstudio: &[PathBuf]) -> Vec<Found> {
    let mut found = ollama_models(ollama);
    for root in lmstudio {
        let mut files = Vec::new();
        gguf_files(root, 3, &mut files);
        files.sort();
        for path in files {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            found.extend(describe("lm-studio", name, path));
        }
    }
    found
}

/// `manifests/<registry>/<namespace>/<model>/<tag>` → the model layer's blob.
fn ollama_models(root: &Path) -> Vec<Found> {
    let mut manifests = Vec::new();
    files_at_depth(&root.join("manifests"), 4, &mut manifests);
    manifests.sort();
    let mut found = Vec::new();
    for manifest in manifests {
        let Some(json) = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        else {
            continue;
        };
        let Some(digest) = json["layers"].as_array().and_then(|layers| {
            layers
                .iter()
                .find(|l| l["mediaType"] == "application/vnd.ollama.image.model")
                .and_then(|l| l["digest"].as_str())
        }) else {
            continue;
        };
        let blob = root.join("blobs").join(digest.replace(':', "-"));
        let part = |p: &Path| {
            p.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let model = manifest.parent().map(part).unwrap_or_default();
        let name = format!("{model}:{}", part(&manifest));
        found.extend(describe("ollama", name, blob));
    }
    found
}

fn files_at_depth(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        match (depth, p.is_dir()) {
            (1, false) => out.push(p),
            (d, true) if d > 1 => files_at_depth(&p, d - 1, out),
            _ => {}
        }
    }
}

fn gguf_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && depth > 0 {
            gguf_files(&p, depth - 1, out);
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("gguf"))
        {
            out.push(p);
        }
    }
}

/// A `Found` for a GGUF file (`None` when it is not one).
fn describe(app: &'static str, name: String, path: PathBuf) -> Option<Found> {
    let mut file = std::fs::File::open(&path).ok()?;
    let size_bytes = file.metadata().ok()?.len();
    let architecture = gguf_file::Content::read(&mut file).ok().and_then(|c| {
        c.metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok().cloned())
    });
    let mut magic = [0u8; 4];
    use std::io::{Read, Seek};
    file.seek(std::io::SeekFrom::Start(0)).ok()?;
    file.read_exact(&mut magic).ok()?;
    if &magic != b"GGUF" {
        return None;
    }
    let supported = matches!(architecture.as_deref(), Some("llama" | "qwen2"));
    Some(Found {
        app,
        name,
        path,
        size_bytes,
        architecture,
        supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ollama_and_lm_studio_files() {
        let dir = tempfile::tempdir().unwrap();
        let ollama = dir.path().join("ollama");
        let manifest = ollama.join("manifests/registry.ollama.ai/library/smollm2/135m");
        std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
        std::fs::write(
            &manifest,
            r#"{"layers": [{"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:t"},
                           {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:abc"}]}"#,
        )
        .unwrap();
        std::fs::create_dir_all(ollama.join("blobs")).unwrap();
        std::fs::write(ollama.join("blobs/sha256-abc"), b"GGUF\x03\0\0\0junk").unwrap();
        let lms = dir.path().join("lms");
        std::fs::create_dir_all(lms.join("pub/repo")).unwrap();
        std::fs::write(lms.join("pub/repo/m-Q4.gguf"), b"GGUF\x03\0\0\0").unwrap();
        std::fs::write(lms.join("pub/repo/readme.md"), b"x").unwrap();
        std::fs::write(lms.join("pub/repo/fake.gguf"), b"NOPE").unwrap();

        let found = discover_in(&ollama, &[lms.clone(), dir.path().join("absent")]);
        let names: Vec<_> = found.iter().map(|f| (f.app, f.name.as_str())).collect();
        assert_eq!(names, [("ollama", "smollm2:135m"), ("lm-studio", "m-Q4")]);
        assert_eq!(found[0].path, ollama.join("blobs/sha256-abc"));
        assert!(!found[0].supported, "an unreadable header is not supported");
    }
}
