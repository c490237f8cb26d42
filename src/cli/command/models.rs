//! `tunedesk model catalog|pull|add|list|show|remove|discover`, the pull progress bars, and
//! [`resolve_model`], which every command taking `--model` goes through.

use super::{cancel_flag, Context};
use crate::cli::args::ModelCommand;
use crate::cli::output;
use anyhow::Result;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use tunedesk::hub::{self, catalog::catalog, PullEvent, RepoId};
use tunedesk::model::estimate::TrainShape;
use tunedesk::registry::{self, discover, Origin};
use tunedesk::store::ModelInfo;

pub fn run(ctx: &Context, cmd: ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Catalog => show_catalog(ctx),
        ModelCommand::Pull { repo, revision } => pull(ctx, &repo, &revision),
        ModelCommand::Add { path, name } => {
            let mut store = ctx.store()?;
            let m = registry::add(&mut store, &path, name.as_deref())?;
            if ctx.json {
                return output::json(&m);
            }
            outln!(
                "added '{}': {}, {} parameters, {} ({})",
                m.name,
                m.architecture,
                params(m.params),
                HumanBytes(m.size_bytes),
                m.path
            );
            Ok(())
        }
        ModelCommand::List => {
            let models = ctx.store()?.list_models()?;
            if ctx.json {
                return output::json(&models);
            }
            let rows: Vec<Vec<String>> = models
                .iter()
                .map(|m| {
                    vec![
                        m.name.clone(),
                        m.kind.as_str().to_string(),
                        m.architecture.clone(),
                        params(m.params),
                        HumanBytes(m.size_bytes).to_string(),
                        m.path.clone(),
                    ]
                })
                .collect();
            output::table(
                &["NAME", "KIND", "ARCHITECTURE", "PARAMS", "SIZE", "PATH"],
                &rows,
            );
            Ok(())
        }
        ModelCommand::Show { name } => {
            let m = ctx.store()?.model(&name)?;
            let present = std::path::Path::new(&m.path).exists();
            if ctx.json {
                return output::json(&serde_json::json!({"model": m, "present": present}));
            }
            show(&m, present);
            Ok(())
        }
        ModelCommand::Remove { name } => {
            let m = ctx.store()?.remove_model(&name)?;
            if ctx.json {
                return output::json(&serde_json::json!({ "removed": m }));
            }
            outln!(
                "removed '{}' from the registry; its files stay at {}",
                m.name,
                m.path
            );
            Ok(())
        }
        ModelCommand::Discover { add } => discover_models(ctx, add),
    }
}

/// `1.2B`, `135M`.
fn params(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.2}B", n as f64 / 1e9)
    } else {
        format!("{:.0}M", n as f64 / 1e6)
    }
}

fn show(m: &ModelInfo, present: bool) {
    outln!("{} ({})", m.name, m.kind.as_str());
    outln!("source:        {}", m.source);
    if let Some(r) = &m.revision {
        outln!("revision:      {r}");
    }
    outln!(
        "path:          {}{}",
        m.path,
        if present { "" } else { "  (missing!)" }
    );
    outln!("architecture:  {}", m.architecture);
    outln!("parameters:    {} ({})", m.params, params(m.params));
    outln!("size:          {}", HumanBytes(m.size_bytes));
    outln!("registered:    {}", m.created_at);
}

fn show_catalog(ctx: &Context) -> Result<()> {
    let rows = catalog(&ctx.hub(), TrainShape::default())?;
    if ctx.json {
        return output::json(&rows);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.repo.clone(),
                params(r.params),
                format!("≈ {}", HumanBytes(r.download_bytes)),
                format!("≈ {}", HumanBytes(r.train_ram_bytes)),
                if r.gated {
                    format!("{} (gated)", r.license)
                } else {
                    r.license.clone()
                },
                if r.cached { "yes" } else { "-" }.to_string(),
            ]
        })
        .collect();
    output::table(
        &[
            "MODEL",
            "PARAMS",
            "DOWNLOAD",
            "TRAIN RAM",
            "LICENSE",
            "CACHED",
        ],
        &table,
    );
    outln!("\nTRAIN RAM: LoRA at the defaults (batch 8 × 256 tokens, rank 8), an upper bound.");
    Ok(())
}

fn pull(ctx: &Context, repo: &str, revision: &str) -> Result<()> {
    let repo = RepoId::parse(repo)?;
    let hub_cfg = ctx.hub();
    let cancel = cancel_flag()?;
    let mut bars = (!ctx.json).then(PullBars::new);
    let json = ctx.json;
    let pulled = hub::pull(&hub_cfg, &repo, revision, &cancel, &mut |e| {
        if json {
            println!("{}", serde_json::to_string(e).expect("events serialize"));
        } else if let Some(b) = bars.as_mut() {
            b.event(e);
        }
    })?;
    let entry = registry::record_pull(&mut ctx.store()?, &pulled)?;
    if json {
        let mut v = serde_json::to_value(&pulled)?;
        v["event"] = "pulled".into();
        v["name"] = entry.name.into();
        outln!("{v}");
    } else {
        outln!(
            "{} @ {} is in {}\nuse it as --model {}",
            pulled.repo,
            short(&pulled.commit),
            pulled.path.display(),
            entry.name
        );
    }
    Ok(())
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

fn discover_models(ctx: &Context, add: bool) -> Result<()> {
    let found = discover::discover();
    let mut store = ctx.store()?;
    let mut added = Vec::new();
    if add {
        for f in found.iter().filter(|f| f.supported) {
            let registered = store
                .list_models()?
                .iter()
                .any(|m| m.path == f.path.display().to_string());
            if registered || store.find_model(&f.name)?.is_some() {
                continue;
            }
            match registry::add(&mut store, &f.path, Some(&f.name)) {
                Ok(m) => added.push(m),
                Err(e) => eprintln!("warning: {}: {e}", f.path.display()),
            }
        }
    }
    if ctx.json {
        return output::json(&serde_json::json!({"found": found, "added": added}));
    }
    if found.is_empty() {
        outln!("no GGUF models from Ollama or LM Studio found");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|f| {
            vec![
                f.app.to_string(),
                f.name.clone(),
                f.architecture.clone().unwrap_or_else(|| "?".into()),
                if f.supported { "yes" } else { "no" }.to_string(),
                HumanBytes(f.size_bytes).to_string(),
                f.path.display().to_string(),
            ]
        })
        .collect();
    output::table(&["APP", "NAME", "ARCH", "SUPPORTED", "SIZE", "PATH"], &rows);
    for m in &added {
        outln!("added '{}'", m.name);
    }
    if !add {
        outln!("\nregister them with: tunedesk model discover --add (or tunedesk model add PATH)");
    }
    Ok(())
}

/// Resolves a `--model` argument (registered name, path, or Hugging Face repo id, pulled now
/// if it is not cached), telling the user on stderr when it pulls.
pub(super) fn resolve_model(ctx: &Context, arg: &str) -> Result<PathBuf> {
    let mut store = ctx.store()?;
    let hub_cfg = ctx.hub();
    let cancel = cancel_flag()?;
    let mut bars: Option<PullBars> = None;
    let json = ctx.json;
    let resolved = registry::resolve(&mut store, &hub_cfg, arg, true, &cancel, &mut |e| {
        if let PullEvent::Plan { repo, .. } = e {
            eprintln!(
                "{repo} is not downloaded yet: pulling it from {}",
                hub_cfg.endpoint
            );
            if !json {
                bars = Some(PullBars::on_stderr());
            }
        }
        if let Some(b) = bars.as_mut() {
            b.event(e);
        }
    })?;
    if let Origin::Pulled { repo } = &resolved.origin {
        eprintln!("pulled {repo} into {}", resolved.path.display());
    }
    Ok(resolved.path)
}

/// Progress bars of a pull: the whole pull, and the file being fetched.
struct PullBars {
    multi: MultiProgress,
    total: ProgressBar,
    file: Option<ProgressBar>,
    to_stderr: bool,
}

impl PullBars {
    fn new() -> PullBars {
        let multi = MultiProgress::new();
        let total = multi.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        total.set_prefix("total");
        PullBars {
            multi,
            total,
            file: None,
            to_stderr: false,
        }
    }

    /// Bars whose text lines go to stderr too (stdout belongs to another command's output).
    fn on_stderr() -> PullBars {
        let mut b = PullBars::new();
        b.multi.set_draw_target(ProgressDrawTarget::stderr());
        b.to_stderr = true;
        b
    }

    /// Prints a line above the bars (also when they are hidden, e.g. not a terminal).
    fn line(&self, text: String) {
        let to_stderr = self.to_stderr;
        self.multi.suspend(|| {
            if to_stderr {
                eprintln!("{text}");
            } else {
                outln!("{text}");
            }
        });
    }

    fn event(&mut self, e: &PullEvent) {
        match e {
            PullEvent::Plan {
                repo,
                commit,
                architecture,
                params: n,
                train_ram_bytes,
                files,
                total_bytes,
                download_bytes,
                ..
            } => {
                self.line(format!(
                    "{repo} @ {}: {architecture}, {} parameters, {} files, {} ({} to download)",
                    short(commit),
                    params(*n),
                    files.len(),
                    HumanBytes(*total_bytes),
                    HumanBytes(*download_bytes)
                ));
                self.line(format!(
                    "LoRA training at the defaults (batch 8 × 256 tokens) needs up to ≈ {} of RAM",
                    HumanBytes(*train_ram_bytes)
                ));
                self.total.set_length(*total_bytes);
            }
            PullEvent::FileStarted {
                file,
                size,
                resumed_from,
            } => {
                let bar = self.multi.add(ProgressBar::new(*size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(file.chars().take(12).collect::<String>());
                bar.set_position(*resumed_from);
                bar.reset_eta();
                if *resumed_from > 0 {
                    self.line(format!(
                        "resuming {file} at {} of {}",
                        HumanBytes(*resumed_from),
                        HumanBytes(*size)
                    ));
                }
                self.file = Some(bar);
            }
            PullEvent::Progress {
                bytes, total_done, ..
            } => {
                if let Some(bar) = &self.file {
                    bar.set_position(*bytes);
                }
                self.total.set_position(*total_done);
            }
            PullEvent::Resuming {
                file,
                from,
                attempt,
                reason,
            } => self.line(format!(
                "connection lost ({reason}); resuming {file} from byte {from} (attempt {attempt})"
            )),
            PullEvent::Verifying { .. } => {
                if let Some(bar) = &self.file {
                    bar.set_prefix("verifying");
                }
            }
            PullEvent::Refetch { file, what } => self.line(format!(
                "{file}: the cached copy failed the {what} check; downloading it again"
            )),
            PullEvent::FileDone { file, size } => {
                if let Some(bar) = self.file.take() {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.line(format!("done {file} ({})", HumanBytes(*size)));
            }
            PullEvent::UsingCache { reason } => {
                self.line(format!("{reason}\nusing the cached copy"))
            }
            PullEvent::Done { .. } => self.total.finish_and_clear(),
        }
    }
}
