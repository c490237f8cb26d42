//! Checkpoint files: `adapter.safetensors` (LoRA `A`/`B` by PEFT name), `optimizer.safetensors`
//! (AdamW moments `m.<name>`, `v.<name>`) and `state.json` ([`TrainState`]) in one directory,
//! written to a temporary directory first and renamed into place, so a crash or full disk
//! leaves the previous checkpoint intact.

use super::{Checkpoint, Restored, TrainState};
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// File of the adapter weights.
pub const ADAPTER_FILE: &str = "adapter.safetensors";
/// Folder (in a run's folder) of the adapters kept at each checkpointed step: `<step>/`.
pub const STEPS_DIR: &str = "steps";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const STATE_FILE: &str = "state.json";

fn io(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", path.display()))
}

/// Writes `ck` to `dir` atomically (replacing what was there).
pub fn save(dir: &Path, ck: &Checkpoint) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("checkpoint");
    let tmp = parent.join(format!(".{name}.tmp"));
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
    // Make the files durable before the rename publishes them.
    for f in [ADAPTER_FILE, OPTIMIZER_FILE, STATE_FILE] {
        std::fs::File::open(tmp.join(f))?.sync_all()?;
    }
    let old = parent.join(format!(".{name}.old"));
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&tmp, dir)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Writes only the adapter of `ck` to `dir/adapter.safetensors`, atomically (a step
/// checkpoint: enough to evaluate or predict, not to resume).
pub fn save_adapter(dir: &Path, ck: &Checkpoint) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
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
