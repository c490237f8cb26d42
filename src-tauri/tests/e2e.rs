//! End-to-end tests of the real desktop window: the app under Xvfb, driven through WebDriver
//! (tauri-driver + WebKitWebDriver).
//! - Datasets: imports a CSV through the wizard, sees it listed with its row count, opens its
//!   quality report, and sees a malformed file's error in the page.
//! - Training: pulls a tiny model from a local fake Hub with a visible progress bar, starts a
//!   run from the Train page, sees the live chart with validation points, cancels, resumes,
//!   finds it on the Runs page with its best validation loss, and overlays two runs.
//! - Jobs: leaves the page of a running pull and of a running run and comes back to the same
//!   progress; a run that a crash left "running" shows as interrupted and Resume finishes it.
//!
//! Needs `DISPLAY` (run under `xvfb-run`), `tauri-driver` on `PATH` (or `$TAURI_DRIVER`) and
//! `WebKitWebDriver`. Screenshots go to `$TUNEDESK_SCREENSHOTS` (default: the target dir).

#[path = "../../tests/hub/fake_hub.rs"]
#[allow(dead_code)]
mod fake_hub;
#[path = "../../tests/common/tiny_model.rs"]
mod tiny_model;

use fantoccini::{Client, ClientBuilder, Locator};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);

/// `tauri-driver`, stopped (with its WebKitWebDriver child) when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(data_dir: &Path, env: &[(&str, String)]) -> Driver {
        let port = free_port();
        let native_port = free_port();
        let exe = std::env::var_os("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
        let child = Command::new(&exe)
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("TUNEDESK_HOME", data_dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {exe:?} ({e}); install it with `cargo install tauri-driver --version ^2 --locked` and put it on PATH")
            });
        let driver = Driver { child, port };
        // tauri-driver starts WebKitWebDriver on the native port at once; a session asked for
        // before both listen fails with a broken connection.
        let deadline = Instant::now() + TIMEOUT;
        for p in [port, native_port] {
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "tauri-driver did not open port {p}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SIGTERM lets tauri-driver stop WebKitWebDriver (and so the app) too.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // An app window that outlived its driver must not share the display with the next
        // test's (one window at a time: `ONE_WINDOW`).
        let app = env!("CARGO_BIN_EXE_tunedesk-app");
        let _ = Command::new("pkill").args(["-TERM", "-f", app]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Command::new("pgrep")
            .args(["-f", app])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
        {
            if Instant::now() >= deadline {
                let _ = Command::new("pkill").args(["-KILL", "-f", app]).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("TUNEDESK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) {
    // WebKit's screenshot can lag a DOM change by a frame.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Scrolls element `id` into view, then takes screenshot `name`.
async fn screenshot_at(c: &Client, id: &str, name: &str) {
    c.execute(
        "document.getElementById(arguments[0]).scrollIntoView()",
        vec![id.into()],
    )
    .await
    .unwrap();
    screenshot(c, name).await;
}

/// Waits for `css` to appear. Live pages redraw parts as job events arrive, so an element
/// found while it was being replaced is looked for again.
async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(e) => return e,
            Err(e) if Instant::now() >= deadline => {
                let page = failure_dump(c).await;
                panic!("element {css} did not appear: {e:?}\n{page}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// What the window showed when a wait failed: a screenshot (`FAILED.png` beside the others)
/// and the page's text.
async fn failure_dump(c: &Client) -> String {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(screenshot_dir().join("FAILED.png"), png);
    }
    match c.execute("return document.body.innerText", vec![]).await {
        Ok(text) => format!("the page said:\n{}", text.as_str().unwrap_or_default()),
        Err(e) => format!("the page could not be read: {e:?}"),
    }
}

/// Waits until the text of `css` satisfies `ok`, returning it.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    wait_text_for(c, css, TIMEOUT, ok).await
}

/// [`wait_text`] with its own limit.
async fn wait_text_for(
    c: &Client,
    css: &str,
    limit: Duration,
    ok: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
                assert!(
                    Instant::now() < deadline,
                    "text of {css} never matched; last: {t:?}"
                );
            }
        }
        if Instant::now() >= deadline {
            panic!("element {css} did not appear; {}", failure_dump(c).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn select(c: &Client, column: &str, role: &str) {
    let css = format!("select[data-column=\"{column}\"]");
    find(c, &css).await.select_by_value(role).await.unwrap();
}

const TICKETS: &str = "subject,body,queue,Customer ID\n\
Refund,I was charged twice for order 1001,Billing,789012\n\
Crash,The app crashes when I open settings,Technical Issue,\n\
Password,I cannot reset my password,Account Management,456789\n\
Refund,I was charged twice for order 1001,Billing,789012\n\
Invoice,Where is my invoice for March?,Billing,111222\n\
Login,Login fails with error 500,Technical Issue,\n\
Email,Please change my email address,Account Management,333444\n\
Late fee,Why was I charged a late fee?,billing ,555666\n\
Sync,Data does not sync between devices,Technical Issue,\n\
Close,Close my account please,Account Management,777888\n\
Double,Charged twice this month,Billing,999000\n\
Update,App update failed to install,Technical Issue,\n";

async fn drive(c: &Client, dir: &Path) {
    let file = dir.join("tickets.csv");
    std::fs::write(&file, TICKETS).unwrap();
    let bad = dir.join("broken.csv");
    std::fs::write(&bad, "text,label\nok,a\nnot,ok,at all\n").unwrap();

    find(c, "#datasets-empty").await;
    screenshot(c, "01-empty").await;

    // The empty app offers the sample tickets.
    click(c, "#btn-sample").await;
    wait_text(c, "#dataset-detail", |t| {
        t.contains("sample-tickets") && t.contains("360")
    })
    .await;
    click(c, "#nav-datasets").await;

    // A malformed file: the error is shown in plain words and nothing is imported.
    find(c, "#btn-import").await.click().await.unwrap();
    find(c, "#import-path")
        .await
        .send_keys(&bad.display().to_string())
        .await
        .unwrap();
    find(c, "#btn-preview").await.click().await.unwrap();
    find(c, "#preview-table").await;
    select(c, "text", "text").await;
    select(c, "label", "label").await;
    find(c, "#btn-do-import").await.click().await.unwrap();
    let err = wait_text(c, "#import-error", |t| t.contains("record has 3 fields")).await;
    assert!(err.contains("broken.csv:3"), "{err}");
    screenshot(c, "02-import-error").await;

    // The real import through the wizard.
    find(c, "#nav-datasets").await.click().await.unwrap();
    find(c, "#btn-import").await.click().await.unwrap();
    let path = find(c, "#import-path").await;
    path.clear().await.unwrap();
    path.send_keys(&file.display().to_string()).await.unwrap();
    find(c, "#btn-preview").await.click().await.unwrap();
    find(c, "#preview-table").await;
    let name = find(c, "#import-name").await;
    assert_eq!(
        name.prop("value").await.unwrap().as_deref(),
        Some("tickets")
    );
    select(c, "subject", "text").await;
    select(c, "body", "text").await;
    select(c, "queue", "label").await;
    select(c, "Customer ID", "field").await;
    screenshot(c, "03-import-wizard").await;
    find(c, "#btn-do-import").await.click().await.unwrap();
    wait_text(c, "#dataset-detail", |t| {
        t.contains("tickets") && t.contains("12")
    })
    .await;
    screenshot(c, "04-dataset-detail").await;

    // Listed with its row count.
    find(c, "#nav-datasets").await.click().await.unwrap();
    let rows = wait_text(c, "tr[data-dataset=\"tickets\"] .ds-rows", |t| {
        !t.is_empty()
    })
    .await;
    assert_eq!(rows.trim(), "12");
    screenshot(c, "05-datasets").await;

    // Its quality report shows the planted problems.
    find(c, "tr[data-dataset=\"tickets\"] .ds-name")
        .await
        .click()
        .await
        .unwrap();
    find(c, "#btn-quality").await.click().await.unwrap();
    find(c, "#quality-summary").await;
    find(c, ".finding[data-check=\"exact_duplicate\"]").await;
    let variants = wait_text(c, ".finding[data-check=\"label_variants\"]", |t| {
        !t.is_empty()
    })
    .await;
    assert!(variants.contains("'billing '"), "{variants}");
    screenshot(c, "06-quality").await;
}

/// The window tests share the machine's two cores: one app at a time.
static ONE_WINDOW: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts the app on `data_dir` (with `env`) and runs `drive` in it (within `limit`); a
/// screenshot named after `name` is taken if it times out.
fn in_window<F, Fut>(data_dir: &Path, env: &[(&str, String)], name: &str, limit: Duration, drive: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the end-to-end test needs an X display: run the suite under `xvfb-run -a` (see README)"
    );
    let _one = ONE_WINDOW.lock().unwrap_or_else(|p| p.into_inner());
    let driver = Driver::start(data_dir, env);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": env!("CARGO_BIN_EXE_tunedesk-app") }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("WebDriver session (is WebKitWebDriver installed? apt-get install webkit2gtk-driver)");
        let result = tokio::time::timeout(limit, drive(client.clone())).await;
        if result.is_err() {
            screenshot(&client, &format!("99-timeout-{name}")).await;
        }
        let _ = client.close().await;
        result.unwrap_or_else(|_| panic!("{name}: the end-to-end run took more than {limit:?}"));
    });
    drop(driver);
}

#[test]
fn import_list_and_quality_in_the_real_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    in_window(
        dir.path(),
        &[],
        "datasets",
        Duration::from_secs(180),
        |c| async move { drive(&c, &path).await },
    );
    // The data really landed in the engine's store.
    let store = tunedesk::store::Store::open(dir.path().join("tunedesk.db")).unwrap();
    let info = store.dataset("tickets").unwrap();
    assert_eq!(info.rows, 12);
    assert_eq!(info.fields, vec!["Customer ID"]);
    assert_eq!(store.dataset("sample-tickets").unwrap().rows, 360);
    assert_eq!(
        store.list_datasets().unwrap().len(),
        2,
        "the broken file stored nothing"
    );
}

// ---------- training ----------

/// A data folder with a small ticket dataset the tiny model's tokenizer knows (`w2`…`w39`),
/// the tiny model at `model` registered as `tiny-local`, and, when `baseline`, one finished
/// run on it (for the overlay).
fn training_fixture(dir: &Path, model: &Path, baseline: bool) {
    use tunedesk::{paths::DataDir, store::Store};
    let data_dir = DataDir::resolve(Some(dir));
    let mut store = Store::open(data_dir.db_path()).unwrap();
    let mut csv = String::from("text,label,Customer ID\n");
    for i in 0..40u32 {
        let (a, b, c) = (2 + i % 19, 21 + (i * 7) % 17, 2 + (i * 3) % 37);
        let label = if a % 2 == 0 { "billing" } else { "technical" };
        csv.push_str(&format!(
            "w{a} w{b} w{c} w{},{label},w{}\n",
            2 + i % 37,
            30 + a % 9
        ));
    }
    let file = dir.join("tickets.csv");
    std::fs::write(&file, csv).unwrap();
    let mut spec = tunedesk::import::ImportSpec::csv("tickets", ["text"], "label");
    spec.field_columns = vec!["Customer ID".into()];
    tunedesk::import::import_file(&mut store, &file, &spec, &mut |_| {}).unwrap();
    tunedesk::registry::add(&mut store, model, Some("tiny-local")).unwrap();
    let spec = |epochs| tunedesk::train::run::RunSpec {
        dataset: "tickets".into(),
        model: model.to_path_buf(),
        config: tunedesk::train::TrainConfig {
            epochs: Some(epochs),
            batch_size: 4,
            lr: 5e-3,
            ..Default::default()
        },
        train_limit: None,
        val_limit: None,
        device: Default::default(),
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    let template = tunedesk::template::Template::default();
    let mut train = |name: &str, epochs: usize, kill_at: usize| {
        tunedesk::train::run::start(
            &mut store,
            &data_dir,
            name,
            &spec(epochs),
            &template,
            &never,
            &mut |e| {
                if matches!(e, tunedesk::train::TrainEvent::Step { step, .. } if *step == kill_at) {
                    panic!("simulated power loss");
                }
            },
        )
    };
    if baseline {
        train("baseline", 3, 0).unwrap();
    } else {
        // A run whose process died mid-run: it stays "running" in the store.
        let died =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train("crashed", 1, 3)));
        assert!(died.is_err());
    }
}

/// The files of a tiny Llama in Hugging Face layout (written to `dir` as well).
fn tiny_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::create_dir_all(dir).unwrap();
    tiny_model::write_tiny(dir, "LlamaForCausalLM", 5);
    ["config.json", "tokenizer.json", "model.safetensors"]
        .into_iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
}

/// Clicks `css`, finding it again if the page redrew it in between (live pages do).
async fn click(c: &Client, css: &str) {
    for _ in 0..20 {
        match find(c, css).await.click().await {
            Ok(()) => return,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
    panic!("{css} kept being redrawn");
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let e = find(c, css).await;
    e.clear().await.unwrap();
    if !text.is_empty() {
        e.send_keys(text).await.unwrap();
    }
}

/// Waits until attribute `attr` of `css` parses to a number ≥ `min`.
async fn wait_attr_at_least(c: &Client, css: &str, attr: &str, min: f64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(Some(v)) = e.attr(attr).await {
                if v.parse::<f64>().is_ok_and(|v| v >= min) {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{css}[{attr}] never reached {min}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

const LONG: Duration = Duration::from_secs(90);

async fn pull_in_window(c: &Client) {
    click(c, "#nav-models").await;
    find(c, "#catalog-table").await;
    screenshot(c, "07-models").await;
    type_into(c, "#pull-repo", "tiny/llama").await;
    click(c, "#btn-pull").await;
    // The weights stall half-way for a few seconds: the bar is seen moving, not just done.
    find(c, ".pull-progress[data-pull=\"tiny/llama\"] .bar").await;
    find(c, "#job-dock .dock-job[data-kind=\"pull\"]").await;
    screenshot(c, "08-models-pulling").await;
    wait_text_for(c, "tr[data-model=\"tiny/llama\"]", LONG, |t| {
        t.contains("tiny/llama")
    })
    .await;
}

/// Opens the Train page and fills the form: dataset `tickets`, `model`, run `name`, the
/// `preset` if any, then `epochs` and batch 4 (and acknowledges data errors, if any).
async fn fill_train_form(c: &Client, model: &str, name: &str, preset: Option<&str>, epochs: &str) {
    click(c, "#nav-train").await;
    for (css, value) in [("#train-dataset", "tickets"), ("#train-model", model)] {
        find(c, css).await.select_by_value(value).await.unwrap();
    }
    type_into(c, "#run-name", name).await;
    if let Some(p) = preset {
        click(c, &format!("#preset-{p}")).await;
    }
    type_into(c, "#set-epochs", epochs).await;
    type_into(c, "#set-batch", "4").await;
    wait_text(c, "#train-quality", |t| t.contains("Data check")).await;
    if let Ok(ack) = c.find(Locator::Css("#ack-quality")).await {
        ack.click().await.unwrap();
    }
}

async fn train_in_window(c: &Client, export_to: &Path) {
    // Automatic settings: the epochs come from the data (30 tickets: the most, 10).
    fill_train_form(c, "tiny/llama", "live", Some("auto"), "").await;
    wait_text(c, "#plan-steps", |t| {
        t.contains("80 steps") && t.contains("10 epochs (automatic)")
    })
    .await;
    screenshot_at(c, "preflight", "09a-train-automatic").await;
    fill_train_form(c, "tiny/llama", "live", Some("balanced"), "6").await;
    type_into(c, "#set-lr", "0.005").await;
    type_into(c, "#set-patience", "").await;
    // The pre-flight card follows the settings: 30 training tickets / batch 4 × 6 epochs.
    wait_text(c, "#plan-steps", |t| t.contains("48 steps")).await;
    wait_text(c, "#plan-ram", |t| t.contains("free now")).await;
    // Where it trains: the CPU here (a GPU build with GPUs offers a choice, the first GPU chosen).
    wait_text(c, "#train-device", |t| {
        t.contains("CPU, ") && t.contains("threads")
    })
    .await;
    screenshot_at(c, "page-train", "09b-train-form").await;
    screenshot_at(c, "preflight", "09-train").await;
    click(c, "#btn-start-run").await;
    // The run page, live: train loss and at least two validation points while it trains.
    wait_attr_at_least(c, "#loss-chart", "data-evals", 2.0, LONG).await;
    let status = wait_text(c, "#run-status", |t| !t.is_empty()).await;
    assert_eq!(
        status.trim(),
        "training",
        "still training when the chart has 2 evals"
    );
    wait_text(c, "#run-step", |t| t.contains(" / ")).await;
    wait_text(c, "#run-device", |t| {
        t.contains("on CPU, ") && t.contains("threads")
    })
    .await;
    screenshot(c, "10-run-live").await;
    click(c, "#btn-cancel-run").await;
    wait_text_for(c, "#run-status", LONG, |t| t.trim() == "cancelled").await;
    click(c, "#btn-resume-run").await;
    wait_text_for(c, "#run-status", LONG, |t| t.trim() == "done").await;
    find(c, "#best-checkpoint").await;
    click(c, "#chart-x").await;
    find(c, "#chart-x")
        .await
        .select_by_value("epoch")
        .await
        .unwrap();
    click(c, "#chart-log").await;
    wait_text(c, "#run-best", |t| t.contains("step")).await;
    screenshot(c, "11-run-done").await;
    screenshot_at(c, "panels-chart", "11b-run-panels").await;

    // Export from the run page: the job writes and checks a PEFT folder (the default format).
    type_into(c, "#export-out", &export_to.display().to_string()).await;
    click(c, "#btn-export").await;
    wait_text_for(c, "#export-status", LONG, |t| t.contains("exported to")).await;
    screenshot_at(c, "export-card", "11c-run-export").await;
    // The same folder again: refused, nothing overwritten.
    click(c, "#btn-export").await;
    wait_text_for(c, "#export-status", LONG, |t| t.contains("exists")).await;
    // Then the merged model at f16 from the last checkpoint, into a folder beside it.
    let merged = export_to.with_file_name("live-merged");
    find(c, "#export-format")
        .await
        .select_by_value("merged")
        .await
        .unwrap();
    wait_text(c, "#export-about", |t| t.contains("merged")).await;
    find(c, "#export-precision")
        .await
        .select_by_value("f16")
        .await
        .unwrap();
    find(c, "#export-checkpoint")
        .await
        .select_by_value("last")
        .await
        .unwrap();
    type_into(c, "#export-out", &merged.display().to_string()).await;
    click(c, "#btn-export").await;
    wait_text_for(c, "#export-status", LONG, |t| {
        t.contains("exported to") && t.contains("live-merged") && t.contains("f16")
    })
    .await;
    screenshot_at(c, "export-card", "11d-run-export-merged").await;
    // Train elsewhere: the same job as a folder for Axolotl.
    let job = export_to.with_file_name("live-axolotl");
    type_into(c, "#handoff-out", &job.display().to_string()).await;
    click(c, "#btn-handoff").await;
    wait_text_for(c, "#handoff-status", LONG, |t| t.starts_with("Wrote")).await;
    screenshot_at(c, "handoff", "11e-run-handoff").await;
}

/// From the finished run's page: evaluate it on all its rows, compare with prompting, open a
/// confusion cell's tickets, relabel the first suspected mislabel.
async fn evaluate_in_window(c: &Client) {
    click(c, "#btn-evaluate-run").await;
    find(c, "#page-evaluate").await;
    // The form is ready once the run's datasets are listed.
    find(c, "#eval-dataset option").await;
    find(c, "#eval-split")
        .await
        .select_by_value("all")
        .await
        .unwrap();
    click(c, "#btn-evaluate").await;
    wait_text_for(c, "#eval-accuracy", LONG, |t| t.contains('%')).await;
    click(c, "#btn-compare").await;
    wait_text_for(c, "#verdict-sentence", LONG, |t| !t.is_empty()).await;
    find(c, "#verdict-differences").await;
    screenshot(c, "13-evaluate").await;
    click(c, "#confusion td.cm-hit").await;
    wait_text(c, "#cell-tickets h3", |t| t.contains("labelled")).await;
    find(c, "#cell-tickets .ticket").await;
    screenshot_at(c, "confusion", "13a-evaluate-confusion").await;
    find(c, "#threshold-text").await;
    click(c, "#btn-save-threshold").await;
    wait_text(c, "#threshold-saved", |t| t.starts_with("Saved")).await;
    // Another checkpoint on the same rows cross-checks the suspects.
    find(c, "#eval-checkpoint")
        .await
        .select_by_value("last")
        .await
        .unwrap();
    click(c, "#btn-evaluate").await;
    wait_text_for(c, "#mislabel-cross", LONG, |t| {
        t.starts_with("Cross-checked")
    })
    .await;
    find(c, "#mislabels .suspect").await;
    screenshot_at(c, "mislabel-card", "13b-evaluate-mislabels").await;
    let row = find(c, "#mislabels .suspect")
        .await
        .attr("data-row")
        .await
        .unwrap()
        .expect("a suspect names its row");
    click(c, "#mislabels .suspect .btn-relabel").await;
    // The page reloads the evaluation; the relabelled row is no longer suspected. (Waiting for
    // the reload also keeps the next click from landing while the page is redrawn.)
    let same = format!("#mislabels .suspect[data-row=\"{row}\"]");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let listed = !c
            .find_all(Locator::Css("#mislabels .suspect, #mislabels-none"))
            .await
            .unwrap_or_default()
            .is_empty();
        if listed && c.find(Locator::Css(&same)).await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "row {row} is still suspected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Tickets for the Predict page: one row without text (reported, left out).
const NEW_TICKETS: &str = "id,text\n1,w4 w22 w6 w2\n2,w5 w30 w9\n3,\n4,w6 w25 w12 w3\n";

/// The Try page answers a typed ticket (the base model beside it); the Predict page writes a
/// file of predictions (compared with `tunedesk predict`'s after the window closes).
async fn try_and_predict_in_window(c: &Client, home: &Path) {
    click(c, "#back-run").await;
    click(c, "#btn-try-run").await;
    find(c, "#page-try").await;
    find(c, "#try-checkpoint option").await;
    type_into(c, "#try-text", "w4 w22 w6 w2").await;
    click(c, "#btn-try").await;
    let label = wait_text_for(c, "#try-answer-fine-tuned .try-label-name", LONG, |t| {
        !t.is_empty()
    })
    .await;
    assert!(
        ["billing", "technical"].contains(&label.as_str()),
        "{label}"
    );
    find(c, "#try-answer-fine-tuned .try-top-row").await;
    find(c, "#try-answers [data-side$=\"-shot base\"]").await;
    screenshot(c, "14-try").await;

    let input = home.join("new-tickets.csv");
    std::fs::write(&input, NEW_TICKETS).unwrap();
    click(c, "#nav-predict").await;
    find(c, "#predict-checkpoint option").await;
    find(c, "#predict-run")
        .await
        .select_by_value("live")
        .await
        .unwrap();
    type_into(c, "#predict-input", &input.display().to_string()).await;
    // Leaving the field previews the file and proposes the output beside it.
    click(c, "#predict-threshold").await;
    find(c, "#predict-columns input[data-column=\"text\"]:checked").await;
    find(c, "#predict-preview table").await;
    screenshot(c, "15-predict-preview").await;
    click(c, "#btn-predict").await;
    wait_text_for(c, "#predict-summary h2", LONG, |t| t.contains("predicted")).await;
    find(c, "#predict-bad-rows li").await;
    find(c, "#predict-summary table").await;
    screenshot(c, "15a-predict-done").await;
}

async fn compare_in_window(c: &Client) {
    click(c, "#nav-runs").await;
    let best = wait_text(c, "tr[data-run=\"live\"] .run-best-loss", |t| {
        t != "—" && !t.is_empty()
    })
    .await;
    assert!(
        best.trim().parse::<f64>().is_ok(),
        "best validation loss shown: {best}"
    );
    click(c, "tr[data-run=\"live\"] .run-select").await;
    click(c, "tr[data-run=\"baseline\"] .run-select").await;
    click(c, "#btn-compare").await;
    find(c, "#compare-chart").await;
    find(c, "#compare-settings").await;
    screenshot(c, "12-runs-compare").await;
}

/// A data folder (see [`training_fixture`]) and the environment that points the app at a fake
/// Hub serving a tiny model as `repo`, whose weights stall for `stall` half-way, with training
/// steps paced `pace_ms` apart.
struct Scenario {
    _dir: tempfile::TempDir,
    home: PathBuf,
    env: Vec<(&'static str, String)>,
}

fn scenario(repo: &str, stall: Duration, pace_ms: u64, baseline: bool) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("tiny");
    let hub = fake_hub::FakeHub::start();
    hub.add_repo(repo, tiny_files(&model_dir), None);
    hub.stall_once("model.safetensors", 4000, stall);
    let home = dir.path().join("home");
    training_fixture(&home, &model_dir, baseline);
    let env = vec![
        ("HF_ENDPOINT", hub.url().to_string()),
        ("HF_HOME", dir.path().join("hf").display().to_string()),
        ("TUNEDESK_FAULT", format!("slow-step:{pace_ms}")),
    ];
    Scenario {
        _dir: dir,
        home,
        env,
    }
}

#[test]
fn pull_train_cancel_resume_and_compare_in_the_real_window() {
    let Scenario { _dir, home, env } = scenario("tiny/llama", Duration::from_secs(4), 120, true);
    let export_to = home.join("exports/live-peft");
    let files_at = home.clone();
    in_window(
        &home,
        &env,
        "training",
        Duration::from_secs(300),
        |c| async move {
            pull_in_window(&c).await;
            train_in_window(&c, &export_to).await;
            evaluate_in_window(&c).await;
            try_and_predict_in_window(&c, &files_at).await;
            compare_in_window(&c).await;
        },
    );
    // The Predict page wrote what `tunedesk predict --input` writes for the same file.
    let job = tunedesk::predict::table::TableJob {
        input: home.join("new-tickets.csv"),
        text_columns: vec!["text".into()],
        output: home.join("cli-predictions.csv"),
        abstain_below: None,
    };
    let mut store = tunedesk::store::Store::open(home.join("tunedesk.db")).unwrap();
    let summary = tunedesk::predict::table::predict_with_run(
        &mut store,
        &tunedesk::paths::DataDir::resolve(Some(&home)),
        "live",
        tunedesk::adapter::Checkpoint::Best,
        tunedesk::predict::PredictOptions::default(),
        &job,
        &mut |_, _| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!((summary.predicted, summary.bad_total), (3, 1));
    let window = std::fs::read_to_string(home.join("new-tickets-predictions.csv")).unwrap();
    assert_eq!(window, std::fs::read_to_string(&job.output).unwrap());
    assert!(
        window
            .starts_with("id,text,predicted_label,confidence,predicted_Customer ID,needs_review\n"),
        "{window}"
    );
    let store = tunedesk::store::Store::open(home.join("tunedesk.db")).unwrap();
    let run = store.run("live").unwrap();
    assert_eq!(run.status, tunedesk::store::RunStatus::Done);
    for f in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "README.md",
        "tunedesk.json",
    ] {
        assert!(
            home.join("exports/live-peft").join(f).exists(),
            "{f} exported"
        );
    }
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tunedesk.json",
    ] {
        assert!(
            home.join("exports/live-merged").join(f).exists(),
            "{f} in the merged export"
        );
    }
    for f in ["axolotl.yml", "data/train.jsonl", "run.sh", "README.md"] {
        assert!(
            home.join("exports/live-axolotl").join(f).exists(),
            "{f} in the hand-off"
        );
    }
    assert!(run.best_step.is_some());
    // The relabel made on the Evaluate page changed the row and recorded the change.
    let tickets = store.dataset("tickets").unwrap();
    let edits = store.edits(&tickets).unwrap();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(tickets.edits, 1);
    let row = store
        .examples(&tickets)
        .unwrap()
        .into_iter()
        .find(|e| e.row == edits[0].row)
        .unwrap();
    assert_eq!(row.label, edits[0].new_label);
    assert_ne!(edits[0].old_label, edits[0].new_label);
    assert_eq!(
        store
            .find_model("tiny/llama")
            .unwrap()
            .map(|m| m.params > 0),
        Some(true)
    );
}

#[test]
fn leaving_a_page_keeps_the_progress_of_its_job() {
    let Scenario { _dir, home, env } = scenario("tiny/slow", Duration::from_secs(30), 400, false);
    in_window(
        &home,
        &env,
        "jobs",
        Duration::from_secs(180),
        |c| async move {
            let c = &c;
            click(c, "#nav-models").await;
            type_into(c, "#pull-repo", "tiny/slow").await;
            click(c, "#btn-pull").await;
            let pulling = ".pull-progress[data-pull=\"tiny/slow\"]";
            wait_text(c, pulling, |t| t.contains(" of ")).await;
            click(c, "#nav-datasets").await;
            find(c, "#datasets-table").await;
            click(c, "#nav-models").await;
            let again = wait_text(c, pulling, |t| t.contains(" of ")).await;
            assert!(again.to_lowercase().contains("downloading"), "{again}");

            // A run on the local model, left and opened again from the Runs page.
            fill_train_form(c, "tiny-local", "kept", None, "20").await;
            click(c, "#btn-start-run").await;
            wait_text_for(c, "#run-step", LONG, |t| {
                t.starts_with("2 / ") || t.starts_with("3 / ")
            })
            .await;
            click(c, "#nav-runs").await;
            click(c, "tr[data-run=\"kept\"] .run-link").await;
            let step = wait_text(c, "#run-step", |t| t.contains(" / ")).await;
            let n: u32 = step.split(" / ").next().unwrap().trim().parse().unwrap();
            assert!(n >= 2, "the step count carried on: {step}");
            find(c, "#job-dock .dock-job[data-kind=\"train\"]").await;
            find(c, "#job-dock .dock-job[data-kind=\"pull\"]").await;
            click(c, "#btn-cancel-run").await;
            wait_text_for(c, "#run-status", LONG, |t| t.trim() == "cancelled").await;

            // The run the crash left "running" shows as interrupted, and Resume finishes it.
            click(c, "#nav-runs").await;
            wait_text(c, "tr[data-run=\"crashed\"] .badge", |t| {
                t.trim() == "interrupted"
            })
            .await;
            screenshot(c, "13-runs-interrupted").await;
            click(c, "tr[data-run=\"crashed\"] .run-link").await;
            find(c, "#interrupted-banner").await;
            click(c, "#btn-resume-run").await;
            wait_text_for(c, "#run-status", LONG, |t| t.trim() == "done").await;
        },
    );
}

/// The README's screenshots of the Evaluate, Try and Predict pages with a real run: not part of
/// the suite (it needs a trained SmolLM2 run, its evaluation with baselines, and a CSV of new
/// tickets). `TUNEDESK_REAL_HOME`: the data folder; `TUNEDESK_REAL_RUN`: the run;
/// `TUNEDESK_REAL_TICKET`: a ticket to try; `TUNEDESK_REAL_CSV`: tickets to predict (column
/// `text`). Run with `--ignored`, `TUNEDESK_SCREENSHOTS=docs/screenshots`.
#[test]
#[ignore = "needs a real trained run (see the doc comment)"]
fn screenshots_of_a_real_run() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let (home, run, ticket, csv) = (
        PathBuf::from(var("TUNEDESK_REAL_HOME")),
        var("TUNEDESK_REAL_RUN"),
        var("TUNEDESK_REAL_TICKET"),
        var("TUNEDESK_REAL_CSV"),
    );
    in_window(
        &home,
        &[],
        "real",
        Duration::from_secs(600),
        |c| async move {
            let c = &c;
            click(c, "#nav-runs").await;
            click(c, &format!("tr[data-run=\"{run}\"] .run-link")).await;
            click(c, "#btn-evaluate-run").await;
            wait_text_for(c, "#eval-accuracy", LONG, |t| t.contains('%')).await;
            find(c, "#verdict-differences").await;
            screenshot(c, "evaluate").await;
            click(c, "#confusion td.cm-hit:not(.cm-diag)").await;
            find(c, "#cell-tickets .ticket").await;
            screenshot_at(c, "confusion", "evaluate-confusion").await;
            click(c, "#nav-try").await;
            find(c, "#try-checkpoint option").await;
            find(c, "#try-run")
                .await
                .select_by_value(&run)
                .await
                .unwrap();
            type_into(c, "#try-text", &ticket).await;
            click(c, "#btn-try").await;
            find(c, "#try-answers [data-side$=\"-shot base\"]").await;
            screenshot(c, "try").await;
            click(c, "#nav-predict").await;
            find(c, "#predict-checkpoint option").await;
            find(c, "#predict-run")
                .await
                .select_by_value(&run)
                .await
                .unwrap();
            type_into(c, "#predict-input", &csv).await;
            click(c, "#predict-threshold").await;
            find(c, "#predict-preview table").await;
            click(c, "#btn-predict").await;
            wait_text_for(c, "#predict-summary h2", LONG, |t| t.contains("predicted")).await;
            find(c, "#predict-summary table").await;
            screenshot(c, "predict").await;
        },
    );
}
