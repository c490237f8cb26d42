//! Where a model runs: the CPU, or a GPU when TuneDesk is built with `cuda` (NVIDIA) or
//! `metal` (Apple). [`available`] lists what this build finds on this machine, the preferred
//! one first; a run records the [`DeviceChoice`] it trained on.

use super::ModelError;
use candle_core::Device;
use serde::Serialize;
use serde_with::{DeserializeFromStr, SerializeDisplay};
use std::fmt;
use std::str::FromStr;

/// A compute device, written `cpu`, `cuda:N` or `metal:N` (`cuda` and `metal` mean the first).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, SerializeDisplay, DeserializeFromStr,
)]
pub enum DeviceChoice {
    /// The CPU (what runs stored before devices were recorded trained on).
    #[default]
    Cpu,
    /// The NVIDIA GPU of this ordinal.
    Cuda(usize),
    /// The Apple GPU of this ordinal.
    Metal(usize),
}

/// A device this build can use on this machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceInfo {
    /// How to ask for it.
    pub id: DeviceChoice,
    /// What it is, for people: the GPU's name, or the CPU's cores and 8-bit kernel.
    pub name: String,
    /// Its own memory (a GPU's), when known; the CPU uses the system's RAM.
    pub memory_bytes: Option<u64>,
}

impl DeviceChoice {
    /// Opens the device, or says why it cannot be used here.
    pub fn open(self) -> Result<Device, ModelError> {
        type Open = fn(usize) -> candle_core::Result<Device>;
        let (n, built, kind, open): (usize, bool, &str, Open) = match self {
            DeviceChoice::Cpu => return Ok(Device::Cpu),
            DeviceChoice::Cuda(n) => (n, cfg!(feature = "cuda"), "CUDA", Device::new_cuda),
            DeviceChoice::Metal(n) => (n, cfg!(feature = "metal"), "Metal", Device::new_metal),
        };
        let unavailable =
            |why: String| ModelError::Device(format!("{self} is not available: {why}"));
        if !built {
            return Err(unavailable(format!(
                "this build of TuneDesk has no {kind} support (build with --features {})",
                kind.to_lowercase()
            )));
        }
        open(n).map_err(|e| unavailable(reason(e)))
    }

    /// Whether this is a GPU.
    pub fn is_gpu(self) -> bool {
        self != DeviceChoice::Cpu
    }
}

/// A candle error's message, without the backtrace it carries when `RUST_BACKTRACE` is set.
fn reason(e: candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => inner.to_string(),
        e => e.to_string(),
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that widths (`{:<8}`) apply.
        f.pad(&match self {
            DeviceChoice::Cpu => "cpu".to_string(),
            DeviceChoice::Cuda(n) => format!("cuda:{n}"),
            DeviceChoice::Metal(n) => format!("metal:{n}"),
        })
    }
}

impl FromStr for DeviceChoice {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        let bad = || {
            ModelError::Device(format!(
                "'{s}' is not a device: write cpu, cuda, cuda:N, metal or metal:N"
            ))
        };
        let (kind, ordinal) = match s.trim().split_once(':') {
            Some((kind, n)) => (kind, n.parse::<usize>().map_err(|_| bad())?),
            None => (s.trim(), 0),
        };
        match kind.to_ascii_lowercase().as_str() {
            "cpu" if !s.contains(':') => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(ordinal)),
            "metal" => Ok(DeviceChoice::Metal(ordinal)),
            _ => Err(bad()),
        }
    }
}

/// The devices this build can use here: GPUs first (in their driver's order), the CPU last.
pub fn available() -> Vec<DeviceInfo> {
    let mut devices = cuda_devices();
    devices.extend(metal_devices());
    devices.push(DeviceInfo {
        id: DeviceChoice::Cpu,
        name: cpu_name(),
        memory_bytes: None,
    });
    devices
}

/// The device to use when none is chosen: the first GPU, else the CPU.
pub fn preferred() -> DeviceChoice {
    available().first().map_or(DeviceChoice::Cpu, |d| d.id)
}

/// The CPU, for people: its cores and the 8-bit kernel prediction uses on it.
fn cpu_name() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = super::ops::Kernel::active().name();
    format!("CPU, {cores} threads ({kernel})")
}

#[cfg(feature = "cuda")]
fn cuda_devices() -> Vec<DeviceInfo> {
    use candle_core::cuda_backend::cudarc::driver::result;
    let count = match result::init().and_then(|()| result::device::get_count()) {
        Ok(n) => n.max(0),
        Err(e) => {
            tracing::debug!("no CUDA driver: {e}");
            0
        }
    };
    (0..count)
        .filter_map(|i| {
            let dev = result::device::get(i).ok()?;
            let name = result::device::get_name(dev).unwrap_or_else(|_| "NVIDIA GPU".into());
            // SAFETY: `dev` is a device handle the driver just returned.
            let memory = unsafe { result::device::total_mem(dev) }.ok();
            Some(DeviceInfo {
                id: DeviceChoice::Cuda(i as usize),
                name,
                memory_bytes: memory.map(|m| m as u64),
            })
        })
        .collect()
}

#[cfg(not(feature = "cuda"))]
fn cuda_devices() -> Vec<DeviceInfo> {
    Vec::new()
}

/// Apple machines have one GPU; it is listed when it opens.
#[cfg(feature = "metal")]
fn metal_devices() -> Vec<DeviceInfo> {
    match Device::new_metal(0) {
        Ok(_) => vec![DeviceInfo {
            id: DeviceChoice::Metal(0),
            name: "Apple GPU (Metal)".into(),
            memory_bytes: None,
        }],
        Err(e) => {
            tracing::debug!("no Metal device: {e}");
            Vec::new()
        }
    }
}

#[cfg(not(feature = "metal"))]
fn metal_devices() -> Vec<DeviceInfo> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_written_and_read_back() {
        for (text, want) in [
            ("cpu", DeviceChoice::Cpu),
            ("CPU", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:3", DeviceChoice::Cuda(3)),
            ("metal:0", DeviceChoice::Metal(0)),
        ] {
            let got: DeviceChoice = text.parse().unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string().parse::<DeviceChoice>().unwrap(), got);
            let json = serde_json::to_string(&got).unwrap();
            assert_eq!(serde_json::from_str::<DeviceChoice>(&json).unwrap(), got);
        }
        for bad in ["", "tpu", "cuda:x", "cpu:1", "cuda:-1"] {
            let err = bad.parse::<DeviceChoice>().unwrap_err().to_string();
            assert!(err.contains("not a device"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_cpu_is_always_listed_last_and_opens() {
        let all = available();
        let cpu = all.last().unwrap();
        assert_eq!(cpu.id, DeviceChoice::Cpu);
        assert!(cpu.name.starts_with("CPU, "), "{}", cpu.name);
        assert!(DeviceChoice::Cpu.open().unwrap().is_cpu());
        assert_eq!(preferred(), all[0].id);
    }

    #[test]
    #[cfg(not(feature = "cuda"))]
    fn a_gpu_this_build_lacks_is_refused_with_the_reason() {
        let err = DeviceChoice::Cuda(0).open().unwrap_err().to_string();
        assert!(err.contains("cuda:0 is not available"), "{err}");
        assert!(err.contains("--features cuda"), "{err}");
    }
}
