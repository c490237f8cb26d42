//! The app's command list is written in four places that Tauri needs separately: the build
//! script (which generates one `allow-…` permission per command), the handler registration,
//! the window's capability file, and the UI's `backend.js`. This test fails when they
//! disagree, naming what is missing where.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let to = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?}"))
        + from;
    &text[from..to]
}

/// Every `"…"`- or `'…'`-quoted string in `text`.
fn quoted(text: &str, quote: char) -> Vec<String> {
    text.split(quote)
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

fn build_script() -> BTreeSet<String> {
    let build = read("build.rs");
    quoted(between(&build, "const COMMANDS: &[&str] = &[", "];"), '"')
        .into_iter()
        .collect()
}

fn registered() -> BTreeSet<String> {
    let lib = read("src/lib.rs");
    between(&lib, "generate_handler![", "]")
        .split(',')
        .filter_map(|path| path.trim().rsplit("::").next())
        .filter(|name| !name.is_empty())
        .map(String::from)
        .collect()
}

fn allowed() -> BTreeSet<String> {
    let caps = read("capabilities/main.json");
    quoted(between(&caps, "\"permissions\": [", "]"), '"')
        .into_iter()
        .filter(|p| !p.starts_with("core:event:allow-"))
        .map(|p| {
            p.strip_prefix("allow-")
                .unwrap_or_else(|| panic!("permission {p} is not one of the app's commands"))
                .replace('-', "_")
        })
        .collect()
}

fn invoked() -> BTreeSet<String> {
    let js = read("../ui/src/backend.js");
    js.split("invoke('")
        .skip(1)
        .map(|rest| rest.split('\'').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_four_command_lists_agree() {
    let listed = build_script();
    assert!(listed.len() >= 9, "{listed:?}");
    for (place, names) in [
        ("src/lib.rs generate_handler!", registered()),
        ("capabilities/main.json", allowed()),
        ("ui/src/backend.js", invoked()),
    ] {
        let missing: Vec<_> = listed.difference(&names).collect();
        let extra: Vec<_> = names.difference(&listed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{place} disagrees with build.rs COMMANDS: missing {missing:?}, not in build.rs {extra:?}"
        );
    }
}
