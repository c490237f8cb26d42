//! What the CLI prints of hostile files: no raw control characters, each cause said once.

use crate::tunedesk;
use predicates::prelude::*;

#[test]
fn control_characters_from_a_file_never_reach_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("ansi.csv");
    std::fs::write(
        &file,
        "text,label\nhello,\"\u{1b}[2J\u{1b}]0;pwned\u{7}red\"\nbye,\u{202e}txt.exe\n",
    )
    .unwrap();
    tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(&file)
        .args(["--name", "a", "--text", "text", "--label", "label"])
        .assert()
        .success();
    for args in [
        &["dataset", "show", "a"][..],
        &["dataset", "quality", "a"],
        &["dataset", "list"],
    ] {
        let out = tunedesk(home.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "{args:?} printed raw control characters: {text:?}"
        );
    }
    let out = tunedesk(home.path())
        .args(["dataset", "show", "a"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\\u{1b}[2J"));
    // JSON output stays valid JSON and keeps the exact label.
    let out = tunedesk(home.path())
        .args(["dataset", "show", "a", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.to_string().contains("\\u001b[2J"));
}

#[test]
fn an_os_error_is_said_once() {
    let home = tempfile::tempdir().unwrap();
    tunedesk(home.path())
        .args(["dataset", "import", "/nonexistent/t.csv", "--name", "x"])
        .args(["--text", "t", "--label", "l"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("(os error 2)")
                .count(1)
                .and(predicate::str::contains("cannot read /nonexistent/t.csv")),
        );
    tunedesk(home.path())
        .args(["dataset", "import"])
        .arg(home.path())
        .args(["--name", "x", "--text", "t", "--label", "l"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "not a regular file (a folder); give the path of a CSV or JSONL file",
        ));
}
