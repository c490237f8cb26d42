//! The malformed-input corpus. Every case must fail with its precise message (file, line,
//! column, what was expected) and leave the store exactly as it was.

use crate::util::{csv_spec, jsonl_spec, Env};
use tunedesk::import::ImportSpec;

/// Imports `content` as `file` into a store that already holds a dataset `keep`, expects an
/// error whose message contains every `expected` fragment, and checks nothing changed.
pub(crate) fn fails(file: &str, content: impl AsRef<[u8]>, spec: &ImportSpec, expected: &[&str]) {
    let mut env = Env::with_kept_dataset();
    let before = env.store.list_datasets().unwrap();
    let err = env.import(file, content, spec).unwrap_err().to_string();
    for fragment in expected {
        let fragment = fragment.replace("{dir}", &env.dir.path().display().to_string());
        assert!(
            err.contains(&fragment),
            "error for {file} should contain {fragment:?}:\n{err}"
        );
    }
    assert_eq!(
        env.store.list_datasets().unwrap(),
        before,
        "{file}: the store changed"
    );
    assert_eq!(env.kept_rows(), 1);
}

#[test]
fn ragged_row() {
    fails(
        "t.csv",
        "text,label\na,b\nc,d,e\n",
        &csv_spec(),
        &["{dir}/t.csv:3: record has 3 fields, header has 2; nothing was imported"],
    );
}

#[test]
fn short_row() {
    fails(
        "t.csv",
        "text,label,extra\na,b,c\nd,e\n",
        &csv_spec(),
        &["t.csv:3: record has 2 fields, header has 3"],
    );
}

#[test]
fn invalid_utf8_names_line_and_column() {
    fails(
        "t.csv",
        b"text,label\nok,b\nbad \xff\xfe here,c\n",
        &csv_spec(),
        &["t.csv:3: invalid UTF-8 in column 'text'"],
    );
}

#[test]
fn invalid_utf8_in_header() {
    fails(
        "t.csv",
        b"te\xffxt,label\na,b\n",
        &csv_spec(),
        &["t.csv:1: invalid UTF-8 in the header row"],
    );
}

#[test]
fn unterminated_quote() {
    fails(
        "t.csv",
        "text,label\nfine,a\n\"never closed,b\nmore,c\n",
        &csv_spec(),
        &["t.csv:3: unterminated quote"],
    );
}

#[test]
fn missing_mapped_column_lists_the_columns() {
    let spec = ImportSpec::csv("d", ["text"], "category");
    fails(
        "t.csv",
        "text,label,email\na,b,c\n",
        &spec,
        &["column 'category' not found; columns are: text, label, email"],
    );
}

#[test]
fn missing_field_column() {
    let mut spec = csv_spec();
    spec.field_columns = vec!["Customer ID".into()];
    fails(
        "t.csv",
        "text,label\na,b\n",
        &spec,
        &["column 'Customer ID' not found"],
    );
}

#[test]
fn empty_file() {
    fails("t.csv", "", &csv_spec(), &["t.csv: file is empty"]);
}

#[test]
fn whitespace_only_file() {
    fails(
        "t.csv",
        "\n\r\n  \n",
        &csv_spec(),
        &["t.csv: file is empty"],
    );
}

#[test]
fn header_only() {
    fails(
        "t.csv",
        "text,label\n",
        &csv_spec(),
        &["t.csv: header row only, no records"],
    );
}

#[test]
fn header_only_with_bom_and_crlf() {
    fails(
        "t.csv",
        "\u{feff}text,label\r\n",
        &csv_spec(),
        &["t.csv: header row only, no records"],
    );
}

#[test]
fn duplicate_header_names() {
    fails(
        "t.csv",
        "text,label,text\na,b,c\n",
        &csv_spec(),
        &["t.csv:1: header has column 'text' twice (columns 1 and 3)"],
    );
}

#[test]
fn empty_text() {
    fails(
        "t.csv",
        "text,label\nfine,a\n   ,b\n",
        &csv_spec(),
        &["t.csv:3: empty text in column 'text'"],
    );
}

#[test]
fn empty_text_in_all_joined_columns() {
    let spec = ImportSpec::csv("d", ["subject", "body"], "label");
    fails(
        "t.csv",
        "subject,body,label\n,,a\n",
        &spec,
        &["t.csv:2: empty text in column 'subject' + 'body'"],
    );
}

#[test]
fn empty_label() {
    fails(
        "t.csv",
        "text,label\nfine,a\nno label,\n",
        &csv_spec(),
        &["t.csv:3: empty label in column 'label'"],
    );
}

#[test]
fn huge_field() {
    let huge = "x".repeat(2 << 20);
    fails(
        "t.csv",
        format!("text,label\n{huge},a\n"),
        &csv_spec(),
        &[
            "t.csv:2: value is 2097152 bytes long, more than the 1048576-byte limit",
            "in column 'text'",
        ],
    );
}

#[test]
fn utf16_file() {
    let mut data = vec![0xFF, 0xFE];
    for unit in "text,label\na,b\n".encode_utf16() {
        data.extend(unit.to_le_bytes());
    }
    fails(
        "t.csv",
        data,
        &csv_spec(),
        &["t.csv: file is UTF-16 encoded; save it as UTF-8"],
    );
}

#[test]
fn column_mapped_twice() {
    let spec = ImportSpec::csv("d", ["text"], "text");
    fails(
        "t.csv",
        "text,label\na,b\n",
        &spec,
        &["column 'text' is mapped as both text and label"],
    );
}

#[test]
fn csv_without_label_mapping() {
    let mut spec = csv_spec();
    spec.label_column = None;
    fails(
        "t.csv",
        "text,category\na,b\n",
        &spec,
        &["say which column holds the label (--label COL); columns are: text, category"],
    );
}

#[test]
fn several_problems_are_all_listed() {
    fails(
        "t.csv",
        "text,label\na,b\n,c\nd,e,f\ng,\n",
        &csv_spec(),
        &[
            "t.csv: 3 rows have problems; nothing was imported",
            "t.csv:3: empty text in column 'text'",
            "t.csv:4: record has 3 fields, header has 2",
            "t.csv:5: empty label in column 'label'",
        ],
    );
}

#[test]
fn many_problems_are_capped() {
    let mut data = String::from("text,label\n");
    for _ in 0..120 {
        data.push_str("only-one-field\n");
    }
    fails(
        "t.csv",
        data,
        &csv_spec(),
        &["120 rows have problems", "… and 70 more"],
    );
}

#[test]
fn unparseable_completion() {
    let data = concat!(
        r#"{"prompt": "Classify:\n\nTicket: \"a\"\n\nClassification:", "completion": " Billing\n\nCustomer ID: 1"}"#,
        "\n",
        r#"{"prompt": "Classify:\n\nTicket: \"b\"\n\nClassification:", "completion": " Billing\n\nthe customer is 42"}"#,
        "\n"
    );
    fails(
        "t.jsonl",
        data,
        &jsonl_spec(),
        &["t.jsonl:2: completion line 3 is not 'Name: value': \"the customer is 42\""],
    );
}

#[test]
fn completion_with_empty_label() {
    let data =
        r#"{"prompt": "Ticket: \"a\"\n\nClassification:", "completion": "\nCustomer ID: 1"}"#;
    fails(
        "t.jsonl",
        data,
        &jsonl_spec(),
        &["t.jsonl:1: completion has no label on its first line"],
    );
}

#[test]
fn prompt_without_ticket() {
    let data = r#"{"prompt": "Classify this: hello", "completion": " Billing"}"#;
    fails(
        "t.jsonl",
        data,
        &jsonl_spec(),
        &["t.jsonl:1: prompt has no 'Ticket: \"…\"' part"],
    );
}

#[test]
fn non_object_jsonl_line() {
    let data = "{\"text\": \"a\", \"label\": \"b\"}\n[\"text\", \"label\"]\n";
    fails(
        "t.jsonl",
        data,
        &jsonl_spec(),
        &["t.jsonl:2: expected a JSON object, found an array"],
    );
}

#[test]
fn invalid_json_line() {
    let data = "{\"text\": \"a\", \"label\": \"b\"}\n\n{\"text\": \"a\", \"label\": }\n";
    fails(
        "t.jsonl",
        data,
        &jsonl_spec(),
        &["t.jsonl:3: invalid JSON: expected value at line 1 column 24"],
    );
}

#[test]
fn jsonl_missing_label() {
    fails(
        "t.jsonl",
        "{\"text\": \"a\"}\n",
        &jsonl_spec(),
        &["t.jsonl:1: missing key 'label'"],
    );
}

#[test]
fn jsonl_fields_not_an_object() {
    let data = "{\"text\": \"a\", \"label\": \"b\", \"fields\": [1, 2]}\n";
    fails(
        "t.jsonl",
        data,
        &jsonl_spec(),
        &["t.jsonl:1: 'fields' must be an object of name → value, found an array"],
    );
}

#[test]
fn jsonl_text_of_wrong_type() {
    let data = "{\"text\": {\"body\": \"x\"}, \"label\": \"b\"}\n";
    fails(
        "t.jsonl",
        data,
        &jsonl_spec(),
        &["t.jsonl:1: 'text' must be a string, found an object"],
    );
}

#[test]
fn jsonl_invalid_utf8() {
    fails(
        "t.jsonl",
        b"{\"text\": \"a\xff\", \"label\": \"b\"}\n",
        &jsonl_spec(),
        &["t.jsonl:1: invalid UTF-8"],
    );
}

#[test]
fn missing_file() {
    let mut env = Env::new();
    let path = env.dir.path().join("nope.csv");
    let err =
        tunedesk::import::import_file(&mut env.store, &path, &csv_spec(), &mut |_| {}).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read {}", path.display())),
        "{err}"
    );
}

#[test]
fn existing_name_is_refused_without_replace() {
    let spec = ImportSpec::csv("keep", ["text"], "label");
    fails(
        "t.csv",
        "text,label\nnew,row\n",
        &spec,
        &["a dataset named 'keep' already exists (use --replace to overwrite it)"],
    );
}

#[test]
fn failed_replace_keeps_the_old_dataset() {
    let mut spec = ImportSpec::csv("keep", ["text"], "label");
    spec.replace = true;
    fails(
        "t.csv",
        "text,label\nnew,row\nbroken\n",
        &spec,
        &["t.csv:3: record has 1 field, header has 2"],
    );
}

#[test]
fn bad_dataset_name() {
    let spec = ImportSpec::csv(" padded ", ["text"], "label");
    fails(
        "t.csv",
        "text,label\na,b\n",
        &spec,
        &["invalid dataset name \" padded \""],
    );
}
