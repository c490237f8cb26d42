//! End-to-end test of the real desktop window: the app under Xvfb, driven through WebDriver
//! (tauri-driver + WebKitWebDriver). Imports a CSV through the wizard, sees it listed with its
//! row count, opens its quality report, and sees a malformed file's error in the page.
//!
//! Needs `DISPLAY` (run under `xvfb-run`), `tauri-driver` on `PATH` (or `$TAURI_DRIVER`) and
//! `WebKitWebDriver`. Screenshots go to `$TUNEDESK_SCREENSHOTS` (default: the target dir).

use fantoccini::{Client, ClientBuilder, Locator};
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
    fn start(data_dir: &Path) -> Driver {
        let port = free_port();
        let native_port = free_port();
        let exe = std::env::var_os("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
        let child = Command::new(&exe)
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("TUNEDESK_HOME", data_dir)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {exe:?} ({e}); install it with `cargo install tauri-driver --version ^2 --locked` and put it on PATH")
            });
        let driver = Driver { child, port };
        let deadline = Instant::now() + TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not open port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
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
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
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

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("element {css} did not appear: {e}"))
}

/// Waits until the text of `css` satisfies `ok`, returning it.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + TIMEOUT;
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
        assert!(Instant::now() < deadline, "element {css} did not appear");
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

#[test]
fn import_list_and_quality_in_the_real_window() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the end-to-end test needs an X display: run the suite under `xvfb-run -a` (see README)"
    );
    let dir = tempfile::tempdir().unwrap();
    let driver = Driver::start(dir.path());
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
        let result = tokio::time::timeout(Duration::from_secs(180), drive(&client, dir.path())).await;
        if result.is_err() {
            screenshot(&client, "99-timeout").await;
        }
        let _ = client.close().await;
        result.expect("the end-to-end run took more than 3 minutes");
    });
    drop(driver);
    // The data really landed in the engine's store.
    let store = tunedesk::store::Store::open(dir.path().join("tunedesk.db")).unwrap();
    let info = store.dataset("tickets").unwrap();
    assert_eq!(info.rows, 12);
    assert_eq!(info.fields, vec!["Customer ID"]);
    assert_eq!(
        store.list_datasets().unwrap().len(),
        1,
        "the broken file stored nothing"
    );
}
