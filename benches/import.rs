//! Import and quality-report speed on the shared real datasets (Banking77, ATIS).
//!
//! `cargo bench --bench import` — prints one JSON line per measurement. The datasets are read
//! from `$TUNEDESK_DATASETS` (default: `../shared/datasets` beside the repository).

use std::path::PathBuf;
use std::time::Instant;
use tunedesk::import::{self, ImportSpec};
use tunedesk::quality::{self, QualityOptions};
use tunedesk::store::Store;

const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = std::env::var_os("TUNEDESK_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    let mut atis = ImportSpec::csv("atis", ["text"], "intent");
    atis.fields_rest = true;
    let cases = [
        (
            "banking77/train.csv",
            ImportSpec::csv("banking77", ["text"], "category"),
        ),
        ("atis/train.csv", atis),
    ];
    for (file, spec) in cases {
        let path = root.join(file);
        if !path.exists() {
            eprintln!(
                "skipping {}: not found (set TUNEDESK_DATASETS)",
                path.display()
            );
            continue;
        }
        let (mut imports, mut reports, mut rows) = (Vec::new(), Vec::new(), 0);
        for _ in 0..RUNS {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(dir.path().join("tunedesk.db")).unwrap();
            let t = Instant::now();
            rows = import::import_file(&mut store, &path, &spec, &mut |_| {})
                .unwrap()
                .rows;
            imports.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let (info, examples) = tunedesk::dataset::load(&store, &spec.name).unwrap();
            let report = quality::check(&info, &examples, &QualityOptions::default());
            reports.push(t.elapsed().as_secs_f64());
            std::hint::black_box(report);
        }
        println!(
            "{}",
            serde_json::json!({
                "dataset": file, "rows": rows,
                "import_s": median(imports), "quality_s": median(reports), "runs": RUNS,
            })
        );
    }
}
