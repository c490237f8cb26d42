//! Reading a CSV file into a header and records of strings: BOM, delimiter sniffing, quoted
//! fields, and precise per-record problems (field count, UTF-8, size).

use super::error::{ImportError, Problem, ProblemKind, Problems};

/// Delimiters tried when none is given, in order of preference.
pub const SNIFFED_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// The largest cell accepted, in bytes.
pub const MAX_CELL_BYTES: usize = 1 << 20;

/// A parsed CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Delimiter used (given or sniffed).
    pub delimiter: u8,
    /// Column names (empty names become `column N`).
    pub header: Vec<String>,
    /// Positions of header cells that had no name.
    pub unnamed: Vec<usize>,
    /// Records that have the header's length and valid UTF-8, with their first line.
    pub records: Vec<(u64, Vec<String>)>,
}

/// Refuses what is not UTF-8 text: UTF-16 with or without its byte-order mark (Excel's
/// "Unicode text"), and binary files (NUL bytes, which no text file has).
pub(crate) fn check_text(file: &str, data: &[u8]) -> Result<(), ImportError> {
    if data.starts_with(&[0xFF, 0xFE]) || data.starts_with(&[0xFE, 0xFF]) || looks_utf16(data) {
        return Err(ImportError::Utf16 { file: file.into() });
    }
    if let Some(at) = data.iter().position(|&b| b == 0) {
        let line = data[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        return Err(ImportError::Binary {
            file: file.into(),
            line,
        });
    }
    Ok(())
}

/// UTF-16 without a byte-order mark: in its first kilobyte, most bytes on one parity are NUL
/// (the high bytes of ASCII characters) and almost none on the other.
fn looks_utf16(data: &[u8]) -> bool {
    let head = &data[..data.len().min(1024) & !1];
    if head.len() < 4 {
        return false;
    }
    let zeros = |parity: usize| {
        head.iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd, half) = (zeros(0), zeros(1), head.len() / 2);
    let mostly = |n: usize| n * 10 >= half * 6;
    let hardly = |n: usize| n * 10 <= half;
    (mostly(odd) && hardly(even)) || (mostly(even) && hardly(odd))
}

/// Parses CSV `data` (as [`super::read_input`] returns it). Row-level problems go to `problems`; file-level
/// ones are returned as errors.
pub(crate) fn read(
    file: &str,
    data: &[u8],
    delimiter: Option<u8>,
    problems: &mut Problems,
) -> Result<Table, ImportError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::EmptyFile { file: file.into() });
    }
    let delimiter = delimiter.unwrap_or_else(|| sniff(data));
    if let Some(line) = unterminated_quote(data, delimiter) {
        return Err(ImportError::UnterminatedQuote {
            file: file.into(),
            line,
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(csv_io_error(file, e)),
        None => return Err(ImportError::EmptyFile { file: file.into() }),
    };
    let (header, unnamed) = read_header(file, &header)?;

    let mut out = Vec::new();
    for record in records {
        let record = record.map_err(|e| csv_io_error(file, e))?;
        let line = record.position().map_or(0, |p| record_line(data, p));
        if record.len() != header.len() {
            problems.push(Problem::new(
                line,
                None,
                ProblemKind::FieldCount {
                    found: record.len(),
                    expected: header.len(),
                },
            ));
            continue;
        }
        let mut cells = Vec::with_capacity(record.len());
        for (i, bytes) in record.iter().enumerate() {
            if bytes.len() > MAX_CELL_BYTES {
                problems.push(Problem::new(
                    line,
                    Some(&header[i]),
                    ProblemKind::TooLong {
                        bytes: bytes.len(),
                        max: MAX_CELL_BYTES,
                    },
                ));
                continue;
            }
            match std::str::from_utf8(bytes) {
                Ok(s) => cells.push(s.to_string()),
                Err(_) => problems.push(Problem::new(
                    line,
                    Some(&header[i]),
                    ProblemKind::InvalidUtf8,
                )),
            }
        }
        if cells.len() == header.len() {
            out.push((line, cells));
        }
    }
    if out.is_empty() && problems.total() == 0 {
        return Err(ImportError::HeaderOnly { file: file.into() });
    }
    Ok(Table {
        delimiter,
        header,
        unnamed,
        records: out,
    })
}

/// The physical line where a record starts. The csv crate positions a record where the previous
/// one ended, before any line terminator and blank lines: skip those, counting `\n`s.
fn record_line(data: &[u8], pos: &csv::Position) -> u64 {
    let start = pos.byte() as usize;
    let skipped = data[start.min(data.len())..]
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|&&b| b == b'\n')
        .count();
    pos.line() + skipped as u64
}

fn read_header(
    file: &str,
    header: &csv::ByteRecord,
) -> Result<(Vec<String>, Vec<usize>), ImportError> {
    if header.len() > super::MAX_COLUMNS {
        return Err(ImportError::TooManyColumns {
            file: file.into(),
            columns: header.len(),
        });
    }
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut unnamed = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let name = std::str::from_utf8(cell)
            .map_err(|_| ImportError::HeaderUtf8 { file: file.into() })?
            .trim();
        let name = if name.is_empty() {
            unnamed.push(i);
            format!("column {}", i + 1)
        } else {
            name.to_string()
        };
        if let Some(first) = seen.insert(name.clone(), i) {
            return Err(ImportError::DuplicateHeader {
                file: file.into(),
                column: name,
                first: first + 1,
                second: i + 1,
            });
        }
        names.push(name);
    }
    Ok((names, unnamed))
}

fn csv_io_error(file: &str, e: csv::Error) -> ImportError {
    ImportError::Io {
        file: file.into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Picks the delimiter that splits the header into the most columns while keeping the first
/// records at the header's width.
pub(crate) fn sniff(data: &[u8]) -> u8 {
    let sample = &data[..data.len().min(64 * 1024)];
    let mut best = (SNIFFED_DELIMITERS[0], (false, 0usize, 0usize));
    for &d in &SNIFFED_DELIMITERS {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample);
        let mut lens = r
            .byte_records()
            .take(21)
            .filter_map(Result::ok)
            .map(|r| r.len());
        let Some(width) = lens.next() else { continue };
        let consistent = lens.filter(|&l| l == width).count();
        let score = (width > 1, consistent, width);
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

/// The line where a quoted field opens and never closes, if any (RFC 4180 quoting: a quote
/// opens only at the start of a field, `""` inside quotes is a literal quote).
pub(crate) fn unterminated_quote(data: &[u8], delimiter: u8) -> Option<u64> {
    let (mut line, mut open_line) = (1u64, 0u64);
    let (mut in_quotes, mut field_start) = (false, true);
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if in_quotes {
            match b {
                b'"' if data.get(i + 1) == Some(&b'"') => i += 1,
                b'"' => in_quotes = false,
                b'\n' => line += 1,
                _ => {}
            }
        } else if b == b'\n' {
            line += 1;
            field_start = true;
        } else if b == delimiter {
            field_start = true;
        } else if b != b'\r' {
            if b == b'"' && field_start {
                in_quotes = true;
                open_line = line;
            }
            field_start = false;
        }
        i += 1;
    }
    in_quotes.then_some(open_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> (Result<Table, ImportError>, Problems) {
        let mut p = Problems::default();
        (read("t.csv", s.as_bytes(), None, &mut p), p)
    }

    #[test]
    fn sniffs_common_delimiters() {
        assert_eq!(sniff(b"a,b\n1,2\n"), b',');
        assert_eq!(sniff(b"a;b\n1,5;2\n"), b';');
        assert_eq!(sniff(b"a\tb\nx, y\tz\n"), b'\t');
        assert_eq!(sniff(b"a|b|c\n1|2|3\n"), b'|');
        assert_eq!(sniff(b"only\none\n"), b',');
    }

    #[test]
    fn quoted_newlines_and_quotes_keep_line_numbers() {
        let (t, _) = table("text,label\n\"multi\nline \"\"quoted\"\"\",a\nplain,b\r\n");
        let t = t.unwrap();
        assert_eq!(
            t.records[0],
            (2, vec!["multi\nline \"quoted\"".into(), "a".into()])
        );
        assert_eq!(t.records[1].0, 4);
    }

    #[test]
    fn finds_unterminated_quotes() {
        assert_eq!(unterminated_quote(b"a,b\n\"x,1\n2,3\n", b','), Some(2));
        assert_eq!(unterminated_quote(b"a,b\n5\" disk,1\n", b','), None);
        assert_eq!(unterminated_quote(b"a,b\n\"x\"\"y\",1\n", b','), None);
    }
}
