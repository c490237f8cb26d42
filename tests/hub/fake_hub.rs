//! A local stand-in for the Hugging Face Hub's resolve protocol, on `std::net` threads:
//!
//! - `HEAD|GET /{owner}/{repo}/resolve/{rev}/{file}` with `ETag`, `X-Repo-Commit` and
//!   `Content-Length`; `rev` is `main` or the commit.
//! - Weight files (`*.safetensors`) are "LFS" files, as on the Hub: HEAD answers `302` with
//!   `X-Linked-Etag` (their SHA-256) and `X-Linked-Size`; GET redirects to `/cdn/{sha256}`,
//!   which serves the bytes and honours `Range: bytes=N-` with `206`.
//! - `X-Error-Code` on failures: `RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, and
//!   `GatedRepo` (401 without a token, 403 with one that was not granted).
//! - Faults on demand: cut the connection once after N bytes of a file, or stall once.
//!
//! Every request is logged (method, path, `Range`, `Authorization`).

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One logged request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

struct Repo {
    files: BTreeMap<String, Vec<u8>>,
    commit: String,
    /// `Some(token)`: gated, readable with that token only.
    gate: Option<String>,
}

#[derive(Default)]
struct State {
    repos: HashMap<String, Repo>,
    log: Vec<Request>,
    /// (file, bytes sent before the cut)
    cut: Option<(String, usize)>,
    /// (file, bytes sent before the pause, pause)
    stall: Option<(String, usize, Duration)>,
}

/// The running server (it lives as long as the test process).
#[derive(Clone)]
pub struct FakeHub {
    url: String,
    state: Arc<Mutex<State>>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl FakeHub {
    pub fn start() -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let hub = FakeHub { url, state };
        let server = hub.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        hub
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves `files` as repo `id` (gated behind `gate` if given); returns the commit.
    pub fn add_repo(
        &self,
        id: &str,
        files: BTreeMap<String, Vec<u8>>,
        gate: Option<&str>,
    ) -> String {
        let commit = sha256_hex(id.as_bytes())[..40].to_string();
        self.state.lock().unwrap().repos.insert(
            id.to_string(),
            Repo {
                files,
                commit: commit.clone(),
                gate: gate.map(str::to_string),
            },
        );
        commit
    }

    /// The next GET of `file`'s bytes stops after `after` bytes (connection closed).
    pub fn cut_once(&self, file: &str, after: usize) {
        self.state.lock().unwrap().cut = Some((file.to_string(), after));
    }

    /// The next GET of `file`'s bytes pauses for `pause` after `after` bytes.
    pub fn stall_once(&self, file: &str, after: usize, pause: Duration) {
        self.state.lock().unwrap().stall = Some((file.to_string(), after, pause));
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let req = Request {
            method: method.clone(),
            path: path.clone(),
            range: headers.get("range").cloned(),
            authorization: headers.get("authorization").cloned(),
        };
        self.state.lock().unwrap().log.push(req.clone());
        let mut out = stream;
        let _ = self.answer(&req, &mut out);
        let _ = out.flush();
        let _ = out.shutdown(std::net::Shutdown::Both);
        let _ = reader.read(&mut [0u8; 1]);
    }

    fn answer(&self, req: &Request, out: &mut TcpStream) -> std::io::Result<()> {
        let head = req.method == "HEAD";
        if let Some(sha) = req.path.strip_prefix("/cdn/") {
            let found = {
                let st = self.state.lock().unwrap();
                st.repos.values().find_map(|r| {
                    r.files
                        .iter()
                        .find(|(_, b)| sha256_hex(b) == sha)
                        .map(|(n, b)| (n.clone(), b.clone()))
                })
            };
            let Some((name, bytes)) = found else {
                return respond(out, "404 Not Found", &[], b"", head);
            };
            return self.send_bytes(out, &name, &bytes, req, head);
        }
        // /{owner}/{repo}/resolve/{rev}/{file…}
        let segs: Vec<&str> = req.path.trim_start_matches('/').splitn(5, '/').collect();
        if segs.len() < 5 || segs[2] != "resolve" {
            return respond(out, "404 Not Found", &[], b"not found", head);
        }
        let id = format!("{}/{}", segs[0], segs[1]);
        let rev = segs[3];
        let file = segs[4];
        let st = self.state.lock().unwrap();
        let Some(repo) = st.repos.get(&id) else {
            return respond(
                out,
                "404 Not Found",
                &[("X-Error-Code", "RepoNotFound")],
                b"",
                head,
            );
        };
        if let Some(gate) = &repo.gate {
            let sent = req.authorization.as_deref();
            if sent.is_none() {
                return respond(
                    out,
                    "401 Unauthorized",
                    &[("X-Error-Code", "GatedRepo")],
                    b"",
                    head,
                );
            }
            if sent != Some(format!("Bearer {gate}").as_str()) {
                return respond(
                    out,
                    "403 Forbidden",
                    &[("X-Error-Code", "GatedRepo")],
                    b"",
                    head,
                );
            }
        }
        if rev != "main" && rev != repo.commit {
            return respond(
                out,
                "404 Not Found",
                &[("X-Error-Code", "RevisionNotFound")],
                b"",
                head,
            );
        }
        let commit = repo.commit.clone();
        let Some(bytes) = repo.files.get(file).cloned() else {
            return respond(
                out,
                "404 Not Found",
                &[
                    ("X-Error-Code", "EntryNotFound"),
                    ("X-Repo-Commit", &commit),
                ],
                b"",
                head,
            );
        };
        drop(st);
        let sha = sha256_hex(&bytes);
        if file.ends_with(".safetensors") {
            let location = format!("{}/cdn/{sha}", self.url);
            let size = bytes.len().to_string();
            return respond(
                out,
                "302 Found",
                &[
                    ("Location", &location),
                    ("X-Linked-Etag", &format!("\"{sha}\"")),
                    ("X-Linked-Size", &size),
                    ("X-Repo-Commit", &commit),
                    ("ETag", "\"git-pointer\""),
                ],
                b"",
                head,
            );
        }
        // A git-stored file: its ETag is a 40-hex blob id, not a SHA-256.
        let etag = format!("\"{}\"", &sha[..40]);
        let len = bytes.len().to_string();
        if head {
            return respond(
                out,
                "200 OK",
                &[
                    ("ETag", &etag),
                    ("X-Repo-Commit", &commit),
                    ("Content-Length", &len),
                ],
                b"",
                true,
            );
        }
        respond(
            out,
            "200 OK",
            &[("ETag", &etag), ("X-Repo-Commit", &commit)],
            &bytes,
            false,
        )
    }

    /// The bytes of `name`, whole or from a `Range` start, with the armed faults.
    fn send_bytes(
        &self,
        out: &mut TcpStream,
        name: &str,
        bytes: &[u8],
        req: &Request,
        head: bool,
    ) -> std::io::Result<()> {
        let start = req
            .range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|r| r.parse::<usize>().ok());
        let (status, body, range) = match start {
            Some(s) if s >= bytes.len() => {
                let cr = format!("bytes */{}", bytes.len());
                return respond(
                    out,
                    "416 Range Not Satisfiable",
                    &[("Content-Range", &cr)],
                    b"",
                    head,
                );
            }
            Some(s) => (
                "206 Partial Content",
                &bytes[s..],
                Some(format!("bytes {s}-{}/{}", bytes.len() - 1, bytes.len())),
            ),
            None => ("200 OK", bytes, None),
        };
        let mut headers = vec![
            ("Accept-Ranges".to_string(), "bytes".to_string()),
            ("ETag".to_string(), format!("\"{}\"", sha256_hex(bytes))),
            ("Content-Length".to_string(), body.len().to_string()),
        ];
        if let Some(r) = range {
            headers.push(("Content-Range".to_string(), r));
        }
        let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
        for (k, v) in &headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        out.write_all(text.as_bytes())?;
        if head {
            return Ok(());
        }
        let (cut, stall) = {
            let mut st = self.state.lock().unwrap();
            let cut = st.cut.take_if(|(f, _)| f == name).map(|(_, n)| n);
            let stall = st
                .stall
                .take_if(|(f, _, _)| f == name)
                .map(|(_, n, d)| (n, d));
            (cut, stall)
        };
        if let Some(n) = cut {
            out.write_all(&body[..n.min(body.len())])?;
            out.flush()?;
            return Ok(()); // the caller closes the connection mid-body
        }
        if let Some((n, pause)) = stall {
            let n = n.min(body.len());
            out.write_all(&body[..n])?;
            out.flush()?;
            std::thread::sleep(pause);
            return out.write_all(&body[n..]);
        }
        out.write_all(body)
    }
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    head: bool,
) -> std::io::Result<()> {
    let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    let has_len = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_len {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    out.write_all(text.as_bytes())?;
    if !head {
        out.write_all(body)?;
    }
    Ok(())
}
