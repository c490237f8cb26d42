//! Checkpoint files: `adapter.safetensors` (LoRA `A`/`B` by PEFT name), `optimizer.safetensors`
//! (AdamW moments `m.<name>`, `v.<name>`) and `state.json` ([`TrainState`]) in one directory,
//! written to a temporary directory first and renamed into place, so a crash or full disk
//! leaves the previous checkpoint intact. Replacing a checkpoint takes two renames (the old
//! one aside, the new one in); a crash between them is finished by [`recover`], which a run
//! calls on its checkpoints before it starts or resumes.

use super::{Checkpoint, Restored, TrainState};
use crate::adapter::{AdapterInfo, ADAPTER_FILE};
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const STATE_FILE: &str = "state.json";

fn io(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", path.display()))
}

/// Environment variable for the crash and window tests: `checkpoint-swap:N` aborts the
/// process at the N-th replacement of a checkpoint, between its two renames (the old one moved
/// aside, the new one not yet in place); `slow-step:MS` waits MS milliseconds before each
/// optimizer step (so a test can watch a tiny model's run while it trains).
pub const FAULT_ENV: &str = "TUNEDESK_FAULT";

/// The temporary (`.NAME.tmp`) and set-aside (`.NAME.old`) folders of checkpoint `dir`.
fn sidecars(dir: &Path) -> (PathBuf, PathBuf) {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("checkpoint");
    (
        parent.join(format!(".{name}.tmp")),
        parent.join(format!(".{name}.old")),
    )
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Finishes a replacement of checkpoint `dir` that a crash interrupted. [`save`] makes the
/// new checkpoint complete and durable in `.NAME.tmp`, moves `dir` aside to `.NAME.old`, then
/// moves the new one in: `dir` missing while `.NAME.old` exists means the crash fell between
/// the two renames, so the new checkpoint is moved into place (the old one if the new one is
/// gone). Anything else is left as it is.
pub fn recover(dir: &Path) -> std::io::Result<()> {
    let (tmp, old) = sidecars(dir);
    if dir.exists() || !old.exists() {
        return Ok(());
    }
    let source = if tmp.join(STATE_FILE).exists() {
        &tmp
    } else {
        &old
    };
    tracing::warn!(
        "checkpoint {} was being replaced when the process stopped; restoring {}",
        dir.display(),
        source.display()
    );
    std::fs::rename(source, dir)?;
    sync_dir(dir.parent().unwrap_or(Path::new(".")))
}

/// Aborts the process here when [`FAULT_ENV`] asks for it at this (the `n`-th) swap.
fn fault_point(n: usize) {
    let wanted = std::env::var(FAULT_ENV).ok().and_then(|v| {
        v.strip_prefix("checkpoint-swap:")
            .and_then(|k| k.parse::<usize>().ok())
    });
    if wanted == Some(n) {
        eprintln!("{FAULT_ENV}: aborting between the checkpoint renames");
        std::process::abort();
    }
}

/// Waits before an optimizer step when [`FAULT_ENV`] is `slow-step:MS`.
pub(crate) fn test_pace() {
    static PACE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let pace = PACE.get_or_init(|| {
        std::env::var(FAULT_ENV)
            .ok()?
            .strip_prefix("slow-step:")?
            .parse()
            .ok()
    });
    if let Some(ms) = pace {
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
}

/// Writes `ck` and the adapter's description to `dir` atomically (replacing what was there).
pub fn save(dir: &Path, ck: &Checkpoint, info: &AdapterInfo) -> std::io::Result<()> {
    static SWAPS: AtomicUsize = AtomicUsize::new(0);
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let (tmp, old) = sidecars(dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let adapter: HashMap<String, Tensor> = ck
        .lora
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&adapter, tmp.join(ADAPTER_FILE)).map_err(|e| io(&tmp, e))?;
    let mut moments: HashMap<String, Tensor> = HashMap::new();
    for (i, (n, _)) in ck.lora.iter().enumerate() {
        moments.insert(format!("m.{n}"), ck.optimizer.m[i].clone());
        moments.insert(format!("v.{n}"), ck.optimizer.v[i].clone());
    }
    candle_core::safetensors::save(&moments, tmp.join(OPTIMIZER_FILE)).map_err(|e| io(&tmp, e))?;
    let state = serde_json::to_vec_pretty(ck.state).map_err(|e| io(&tmp, e))?;
    std::fs::write(tmp.join(STATE_FILE), state)?;
    info.write(&tmp)?;
    // Make the files durable before the rename publishes them.
    for f in [ADAPTER_FILE, OPTIMIZER_FILE, STATE_FILE] {
        std::fs::File::open(tmp.join(f))?.sync_all()?;
    }
    sync_dir(&tmp)?;
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(dir, &old)?;
        fault_point(SWAPS.fetch_add(1, Ordering::Relaxed) + 1);
    }
    std::fs::rename(&tmp, dir)?;
    sync_dir(parent)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Writes only the adapter of `ck` and its description to `dir`, each file atomically (a step
/// checkpoint: enough to evaluate, predict or export, not to resume).
pub fn save_adapter(dir: &Path, ck: &Checkpoint, info: &AdapterInfo) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    info.write(dir)?;
    let adapter: HashMap<String, Tensor> = ck
        .lora
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect();
    let tmp = dir.join(format!(".{ADAPTER_FILE}.tmp"));
    candle_core::safetensors::save(&adapter, &tmp).map_err(|e| io(&tmp, e))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(ADAPTER_FILE))
}

/// Reads a checkpoint written by [`save`].
pub fn load(dir: &Path) -> std::io::Result<(TrainState, Restored)> {
    let state: TrainState = serde_json::from_slice(&std::fs::read(dir.join(STATE_FILE))?)
        .map_err(|e| io(&dir.join(STATE_FILE), e))?;
    let mut tensors = HashMap::new();
    for f in [ADAPTER_FILE, OPTIMIZER_FILE] {
        let path = dir.join(f);
        let loaded = candle_core::safetensors::load(&path, &candle_core::Device::Cpu)
            .map_err(|e| io(&path, e))?;
        tensors.extend(loaded);
    }
    Ok((state, tensors))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder holding a `state.json` that says `tag`.
    fn folder(path: &Path, tag: &str) {
        std::fs::create_dir_all(path).unwrap();
        std::fs::write(path.join(STATE_FILE), tag).unwrap();
    }

    fn tag(path: &Path) -> String {
        std::fs::read_to_string(path.join(STATE_FILE)).unwrap()
    }

    #[test]
    fn recover_finishes_a_swap_cut_between_the_renames() {
        let root = tempfile::tempdir().unwrap();
        let last = root.path().join("last");
        let (tmp, old) = sidecars(&last);

        // Cut after `last` was moved aside: the complete new checkpoint goes in.
        folder(&old, "old");
        folder(&tmp, "new");
        recover(&last).unwrap();
        assert_eq!(tag(&last), "new");
        assert!(!tmp.exists());

        // Only the old one left: it comes back.
        std::fs::remove_dir_all(&last).unwrap();
        recover(&last).unwrap();
        assert_eq!(tag(&last), "old");
        assert!(!old.exists());

        // A checkpoint in place is never touched, whatever lies beside it.
        folder(&tmp, "half-written");
        folder(&old, "stale");
        recover(&last).unwrap();
        assert_eq!(tag(&last), "old");

        // Nothing to recover from: nothing happens.
        let none = root.path().join("best");
        recover(&none).unwrap();
        assert!(!none.exists());
    }
}
