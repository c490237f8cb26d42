//! Hostile inputs from the adversarial drill: each gives a short, clear error naming the file
//! (and line and column where there is one) and stores nothing — or imports correctly.

use crate::import_errors::fails;
use crate::util::{csv_spec, jsonl_spec, within, Env};
use tunedesk::dataset::export::{export, ExportFormat};
use tunedesk::import::{self, ImportSpec};

#[test]
fn an_absurd_column_count_is_refused_at_once() {
    let mut header = String::from("text,label");
    for i in 0..200_000 {
        header.push_str(&format!(",c{i}"));
    }
    let data = format!("{header}\n");
    let err = within(60, move || {
        let mut env = Env::new();
        env.import("wide.csv", data, &csv_spec())
            .unwrap_err()
            .to_string()
    });
    assert_eq!(
        err.rsplit('/').next().unwrap(),
        "wide.csv:1: header has 200002 columns; at most 16384 are read (is the delimiter right?)"
    );
}

#[test]
fn many_columns_import_in_linear_time() {
    // 16 000 columns, all fields: every step that looked a column up by scanning the header
    // was quadratic (100 000 columns took 28 s).
    let mut header = String::from("text,label");
    let mut row = String::from("hello,a");
    for i in 0..16_000 {
        header.push_str(&format!(",c{i}"));
        row.push_str(&format!(",{i}"));
    }
    let data = format!("{header}\n{row}\n");
    let fields = within(60, move || {
        let mut env = Env::new();
        let mut spec = csv_spec();
        spec.fields_rest = true;
        env.import("wide.csv", data, &spec).unwrap().dataset.fields
    });
    assert_eq!(fields.len(), 16_000);
}

#[cfg(unix)]
#[test]
fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
    let env = Env::new();
    let fifo = env.dir.path().join("pipe.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = within(30, move || {
        let mut env = env;
        import::import_file(&mut env.store, &fifo, &csv_spec(), &mut |_| {})
            .unwrap_err()
            .to_string()
    });
    assert!(
        err.ends_with(
            "pipe.csv: not a regular file (a named pipe); give the path of a CSV or JSONL file"
        ),
        "{err}"
    );
}

#[test]
fn a_folder_is_refused() {
    let mut env = Env::new();
    let dir = env.dir.path().join("folder.csv");
    std::fs::create_dir(&dir).unwrap();
    let err = import::import_file(&mut env.store, &dir, &csv_spec(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().ends_with(
        "folder.csv: not a regular file (a folder); give the path of a CSV or JSONL file"
    ));
}

#[test]
fn cr_only_line_endings_count_lines() {
    fails(
        "mac.csv",
        "text,label\rok,a\rbad,b,c\r",
        &csv_spec(),
        &["mac.csv:3: record has 3 fields, header has 2"],
    );
    let mut env = Env::new();
    let s = env
        .import("mac.csv", "text,label\rfirst,a\rsecond,b\r", &csv_spec())
        .unwrap();
    let lines: Vec<u64> = env
        .store
        .examples(&s.dataset)
        .unwrap()
        .iter()
        .map(|e| e.line)
        .collect();
    assert_eq!(lines, [2, 3]);
}

#[test]
fn a_huge_header_cell_gives_a_short_message() {
    let big = "x".repeat(5 << 20);
    let data = format!("{big},label,{big}\na,b,c\n");
    let mut env = Env::new();
    let err = env
        .import("big.csv", data, &csv_spec())
        .unwrap_err()
        .to_string();
    assert!(err.len() < 600, "{} bytes", err.len());
    assert!(err.contains("header has column 'xxxx"), "{err}");
    assert!(
        err.contains(&format!("… ({} more bytes)", (5 << 20) - 80)),
        "{err}"
    );
}

#[test]
fn control_characters_from_the_file_are_escaped_in_messages() {
    fails(
        "ansi.csv",
        "\u{1b}[2Jtext,label\na,b\n",
        &csv_spec(),
        &["column 'text' not found; columns are: \\u{1b}[2Jtext, label"],
    );
    let mut env = Env::new();
    let err = env
        .import("ansi.csv", "\u{1b}[2Jtext,label\na,b\n", &csv_spec())
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn utf16_without_a_byte_order_mark_is_named() {
    for big_endian in [false, true] {
        let mut bytes = Vec::new();
        for unit in "text,label\nhello there,a\n".encode_utf16() {
            let pair = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            bytes.extend(pair);
        }
        fails(
            "u16.csv",
            &bytes,
            &csv_spec(),
            &["u16.csv: file is UTF-16 encoded; save it as UTF-8"],
        );
    }
}

#[test]
fn a_field_in_fields_and_at_top_level_is_named() {
    let mut spec = jsonl_spec();
    spec.fields_rest = true;
    fails(
        "t.jsonl",
        "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"t\",\"label\":\"a\",\"fields\":{\"Email\":\"x@y.z\"},\"Email\":\"y@z.w\"}\n",
        &spec,
        &["t.jsonl:2: field 'Email' is given twice (in \"fields\" and as a key of its own); nothing was imported"],
    );
}

#[test]
fn jsonl_numbers_are_kept_as_written() {
    let mut env = Env::new();
    let mut spec = jsonl_spec();
    spec.fields_rest = true;
    let data = concat!(
        r#"{"text":"pay","label":7.0,"fields":{"Account":123456789012345678901234},"Amount":2.50,"Codes":[1.10, 2]}"#,
        "\n"
    );
    let s = env.import("n.jsonl", data, &spec).unwrap();
    let e = &env.store.examples(&s.dataset).unwrap()[0];
    assert_eq!(e.label, "7.0");
    assert_eq!(
        e.fields,
        [
            (
                "Account".to_string(),
                "123456789012345678901234".to_string()
            ),
            ("Amount".to_string(), "2.50".to_string()),
            ("Codes".to_string(), "1.10; 2".to_string()),
        ]
    );
    // Unmapped values too, as their source text.
    let data = concat!(r#"{"text":"pay","label":"a","meta":{"v": 1.50}}"#, "\n");
    let s = env
        .import(
            "m.jsonl",
            data,
            &ImportSpec {
                name: "m".into(),
                ..jsonl_spec()
            },
        )
        .unwrap();
    let e = &env.store.examples(&s.dataset).unwrap()[0];
    assert_eq!(e.extra["meta"], r#"{"v": 1.50}"#);
}

#[test]
fn a_file_of_nul_bytes_is_binary() {
    fails(
        "zeros.csv",
        vec![0u8; 1 << 20],
        &csv_spec(),
        &["zeros.csv:1: NUL bytes: this is a binary file, not CSV or JSONL text"],
    );
    fails(
        "late.jsonl",
        b"{\"text\":\"a\",\"label\":\"b\"}\n\n\0\0\0\n",
        &jsonl_spec(),
        &["late.jsonl:3: NUL bytes"],
    );
}

#[test]
fn dataset_names_that_break_tables_terminals_or_paths_are_refused() {
    for (name, why) in [
        ("two\nlines", "control characters"),
        ("abc\u{202e}gpj.exe", "invisible characters"),
        ("zero\u{200b}width", "invisible characters"),
        ("a/b", "names become folder names"),
        ("..", "names become folder names"),
    ] {
        let spec = ImportSpec::csv(name, ["text"], "label");
        fails(
            "t.csv",
            "text,label\na,b\n",
            &spec,
            &["invalid dataset name", why],
        );
    }
}

#[test]
fn labels_and_field_names_that_cannot_round_trip_are_refused() {
    fails(
        "t.csv",
        "text,label\nok,a\nbroken,\"Billing\nRefund\"\n",
        &csv_spec(),
        &["t.csv:3: label \"Billing\\nRefund\" contains a line break; a completion holds the label on one line in column 'label'"],
    );
    let mut spec = csv_spec();
    spec.fields_rest = true;
    fails(
        "t.csv",
        "text,label,Customer: ID\na,b,1\nc,d,2\n",
        &spec,
        &["t.csv:2: field name \"Customer: ID\" cannot be written as a 'Name: value' line"],
    );
    fails(
        "t.jsonl",
        "{\"text\":\"a\",\"label\":\"b\",\"fields\":{\"\":\"x\"}}\n",
        &jsonl_spec(),
        &["t.jsonl:1: a field has an empty name"],
    );
    fails(
        "t.csv",
        "text,label,Address\na,b,\"1 Main St\nSpringfield\"\n",
        &spec,
        &["t.csv:2: value of field 'Address' contains a line break"],
    );
}

#[test]
fn what_the_layout_accepts_round_trips_through_every_export() {
    let data = "text,label,Time,x.y\n\
\"He wrote \"\"Ticket: \"\"\"\" then Classification: done\",Technical Issue,10:30,\"a \"\"b\"\"\"\n\
\"Ünïcödé ✓, tab\there\",Billing,,7\n";
    let mut env = Env::new();
    let mut spec = csv_spec();
    spec.fields_rest = true;
    let info = env.import("t.csv", data, &spec).unwrap().dataset;
    let original = env.store.examples(&info).unwrap();
    let kept = |ex: Vec<tunedesk::dataset::Example>| {
        ex.into_iter()
            .map(|e| (e.text, e.label, e.fields))
            .collect::<Vec<_>>()
    };
    for (i, (file, format)) in [
        ("o.jsonl", ExportFormat::Jsonl),
        ("o.csv", ExportFormat::Csv),
        ("pc.jsonl", ExportFormat::PromptCompletion),
    ]
    .into_iter()
    .enumerate()
    {
        let path = env.dir.path().join(file);
        export(&info, &original, &path, format).unwrap();
        let mut spec = if file.ends_with(".csv") {
            let mut s = ImportSpec::csv("", ["text"], "label");
            s.field_columns = vec!["Time".into(), "x.y".into()];
            s
        } else {
            jsonl_spec()
        };
        spec.name = format!("again{i}");
        let again = import::import_file(&mut env.store, &path, &spec, &mut |_| {}).unwrap();
        let again = env.store.examples(&again.dataset).unwrap();
        assert_eq!(kept(again), kept(original.clone()), "{file}");
    }
}
