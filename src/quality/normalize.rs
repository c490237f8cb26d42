//! Normal forms used to compare texts, labels and field names.

/// Lower case, punctuation removed, whitespace collapsed: `"Hello,  World!"` → `"hello world"`.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        let w: String = word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if !w.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&w);
        }
    }
    out
}

/// Only lower-cased letters and digits: `"Customer ID"`, `"customer_id"` → `"customerid"`.
pub(crate) fn key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn normal_forms() {
        assert_eq!(
            super::text("  Hello,\tWORLD!  it's me "),
            "hello world its me"
        );
        assert_eq!(super::key("Customer ID"), super::key("customer_id"));
        assert_eq!(super::key("billing "), super::key("Billing"));
    }
}
