//! Inputs that must import, and what they must import as.

use crate::util::{csv_spec, jsonl_spec, Env};
use tunedesk::dataset::{Example, Split};
use tunedesk::import::{self, Format, ImportEvent, ImportSpec};

fn examples(env: &Env, name: &str) -> Vec<Example> {
    let info = env.store.dataset(name).unwrap();
    env.store.examples(&info).unwrap()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn bom_crlf_quotes_and_embedded_newlines() {
    let mut env = Env::new();
    let data =
        "\u{feff}text,label\r\n\"She said \"\"hi\"\"\r\nthen left\",greeting\r\nplain,other\r\n";
    let s = env.import("t.csv", data, &csv_spec()).unwrap();
    assert_eq!(s.rows, 2);
    let ex = examples(&env, "d");
    assert_eq!(ex[0].text, "She said \"hi\"\r\nthen left");
    assert_eq!((ex[0].line, ex[1].line), (2, 4), "lines are physical lines");
    assert_eq!(ex[1].label, "other");
}

#[test]
fn delimiters_are_sniffed() {
    for (delim, name) in [(';', "semi"), ('\t', "tab"), ('|', "pipe"), (',', "comma")] {
        let mut env = Env::new();
        // The text holds commas (quoted when the delimiter is a comma).
        let text = if delim == ',' {
            "\"hello, world, again\""
        } else {
            "hello, world, again"
        };
        let data = format!("text{delim}label\n{text}{delim}greeting\nbye{delim}farewell\n");
        let s = env
            .import(&format!("{name}.csv"), data, &csv_spec())
            .unwrap();
        assert_eq!(s.delimiter, Some(delim), "{name}");
        assert_eq!(examples(&env, "d")[0].text, "hello, world, again");
    }
}

#[test]
fn given_delimiter_wins() {
    let mut env = Env::new();
    let mut spec = csv_spec();
    spec.delimiter = Some(b';');
    env.import("t.csv", "text;label\na,b;c\n", &spec).unwrap();
    assert_eq!(examples(&env, "d")[0].text, "a,b");
}

#[test]
fn several_text_columns_are_joined_and_fields_read() {
    let mut env = Env::new();
    let mut spec = ImportSpec::csv("d", ["subject", "body"], "queue");
    spec.field_columns = vec!["Customer ID".into(), "Email".into()];
    let data = "subject,body,queue,Customer ID,Email,agent\nRefund,I was charged twice,Billing,789012,,ann\n,No subject,Technical, ,x@y.z,bob\n";
    let s = env.import("t.csv", data, &spec).unwrap();
    assert_eq!(s.unmapped_columns, vec!["agent"]);
    assert_eq!(s.dataset.fields, vec!["Customer ID", "Email"]);
    let ex = examples(&env, "d");
    assert_eq!(ex[0].text, "Refund\nI was charged twice");
    assert_eq!(
        ex[0].fields,
        fields(&[("Customer ID", "789012")]),
        "empty cells are absent fields"
    );
    assert_eq!(ex[1].text, "No subject");
    assert_eq!(
        ex[1].fields,
        fields(&[("Email", "x@y.z")]),
        "blank cells are absent too"
    );
    assert_eq!(ex[1].extra.get("agent").map(String::as_str), Some("bob"));
}

#[test]
fn fields_rest_takes_every_other_named_column() {
    let mut env = Env::new();
    let mut spec = csv_spec();
    spec.fields_rest = true;
    // A spreadsheet index column (empty header) is kept but never made a field.
    let data = ",text,label,city,date\n0,fly to boston,flight,boston,\n";
    let s = env.import("t.csv", data, &spec).unwrap();
    assert_eq!(s.dataset.fields, vec!["city", "date"]);
    assert_eq!(s.unmapped_columns, vec!["column 1"]);
    assert_eq!(examples(&env, "d")[0].fields, fields(&[("city", "boston")]));
}

#[test]
fn jsonl_records_with_fields() {
    let mut env = Env::new();
    let data = concat!(
        "{\"text\": \"fly from boston to denver\", \"label\": \"flight\", \"fields\": {\"from\": \"boston\", \"to\": [\"denver\", \"dallas\"], \"n\": 2, \"x\": null}, \"split\": \"test\", \"id\": 7}\n",
        "\n",
        "{\"text\": \"cheapest fare\", \"label\": \"airfare\"}\n",
    );
    let s = env.import("t.jsonl", data, &jsonl_spec()).unwrap();
    assert_eq!(s.format, Format::Jsonl);
    assert_eq!(
        s.dataset.fields,
        vec!["from", "to", "n"],
        "first-seen order"
    );
    let ex = examples(&env, "d");
    assert_eq!(
        ex[0].fields,
        fields(&[("from", "boston"), ("to", "denver; dallas"), ("n", "2")])
    );
    assert_eq!(ex[0].split, Some(Split::Test));
    assert_eq!(ex[0].extra.get("id").map(String::as_str), Some("7"));
    assert_eq!((ex[0].line, ex[1].line), (1, 3));
}

#[test]
fn jsonl_prompt_completion_records() {
    let mut env = Env::new();
    let data = concat!(
        r#"{"prompt": "Classify the following support ticket and extract relevant information:\n\nTicket: \"My app \"crashes\" on start\"\n\nClassification:", "completion": " Technical Issue\n\nCustomer ID: 789012"}"#,
        "\n",
        r#"{"prompt": "Classify the following support ticket and extract relevant information:\n\nTicket: \"Where is my invoice?\"\n\nClassification:", "completion": " Billing"}"#,
        "\n",
    );
    let s = env.import("t.jsonl", data, &jsonl_spec()).unwrap();
    assert_eq!(s.dataset.text_columns, vec!["prompt"]);
    assert_eq!(s.dataset.label_column, "completion");
    let ex = examples(&env, "d");
    assert_eq!(ex[0].text, "My app \"crashes\" on start");
    assert_eq!(ex[0].label, "Technical Issue");
    assert_eq!(ex[0].fields, fields(&[("Customer ID", "789012")]));
    assert_eq!(ex[1].label, "Billing");
    assert!(ex[1].fields.is_empty());
}

#[test]
fn progress_events_are_reported() {
    let mut env = Env::new();
    let mut data = String::from("text,label\n");
    for i in 0..2500 {
        data.push_str(&format!("ticket {i},l{}\n", i % 3));
    }
    let path = env.file("t.csv", data);
    let mut events = Vec::new();
    import::import_file(&mut env.store, &path, &csv_spec(), &mut |e| events.push(e)).unwrap();
    assert_eq!(events.first(), Some(&ImportEvent::Parsed { rows: 2500 }));
    assert_eq!(
        events.last(),
        Some(&ImportEvent::Storing {
            done: 2500,
            total: 2500
        })
    );
    assert!(events.len() >= 4, "{events:?}");
}

#[test]
fn replace_swaps_the_dataset() {
    let mut env = Env::new();
    env.import("a.csv", "text,label\na,x\nb,y\n", &csv_spec())
        .unwrap();
    let mut spec = csv_spec();
    spec.replace = true;
    let s = env.import("b.csv", "text,label\nc,z\n", &spec).unwrap();
    assert_eq!(s.rows, 1);
    assert_eq!(env.store.list_datasets().unwrap().len(), 1);
    assert_eq!(examples(&env, "d")[0].text, "c");
}

#[test]
fn preview_suggests_a_mapping() {
    let env = Env::new();
    let path = env.file("tickets.csv", "id;subject;category\n1;My card was charged twice, please refund;Billing\n2;App crashes;Technical\n");
    let p = import::preview(&path, None, None).unwrap();
    assert_eq!(p.delimiter, Some(';'));
    assert_eq!(p.columns, vec!["id", "subject", "category"]);
    assert_eq!(p.total_rows, 2);
    assert_eq!(p.suggestion.text, vec!["subject"]);
    assert_eq!(p.suggestion.label.as_deref(), Some("category"));
    assert_eq!(p.suggested_name, "tickets");
    assert_eq!(p.problem_count, 0);

    let path = env.file("ragged.csv", "text,label\na,b\nc,d,e\n");
    let p = import::preview(&path, None, None).unwrap();
    assert_eq!((p.total_rows, p.problem_count), (1, 1));
    assert!(
        p.problems[0].ends_with("ragged.csv:3: record has 3 fields, header has 2"),
        "{:?}",
        p.problems
    );
}
