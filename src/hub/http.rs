//! The resolve protocol over HTTP: `HEAD {endpoint}/{repo}/resolve/{rev}/{file}` for a file's
//! ETag, commit and size, and `GET` of the same URL (with `Range` to resume). One reqwest client
//! with bounded timeouts serves these requests and hf-hub's.

use super::{HubConfig, HubError, RepoId};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RANGE};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// What a HEAD on a file's resolve URL tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileMeta {
    /// ETag of the contents (the blob's name in the cache; SHA-256 for LFS/Xet files).
    pub etag: String,
    /// The commit the revision resolved to.
    pub commit: String,
    /// Size in bytes.
    pub size: u64,
}

/// The Hub's HTTP side, as TuneDesk uses it.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    no_redirect: reqwest::Client,
    auth: Option<HeaderValue>,
    endpoint: String,
    pub(crate) had_token: bool,
}

impl Http {
    pub(crate) fn new(cfg: &HubConfig) -> Result<Http, HubError> {
        let user_agent = concat!("tunedesk/", env!("CARGO_PKG_VERSION"), "; hf-hub/1");
        let build = |redirects: bool| {
            reqwest::Client::builder()
                .user_agent(user_agent)
                .connect_timeout(cfg.timeout)
                .read_timeout(cfg.timeout)
                .redirect(if redirects {
                    reqwest::redirect::Policy::limited(10)
                } else {
                    reqwest::redirect::Policy::none()
                })
                .build()
                .map_err(|e| HubError::Client(e.to_string()))
        };
        let auth = match &cfg.token {
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", t.secret()))
                    .map_err(|_| HubError::Client("the token has invalid characters".into()))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Http {
            client: build(true)?,
            no_redirect: build(false)?,
            had_token: auth.is_some(),
            auth,
            endpoint: cfg.endpoint.clone(),
        })
    }

    /// The shared client (given to hf-hub too).
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`, each part percent-encoded (the revision
    /// as one segment, `/` included).
    pub(crate) fn resolve_url(
        &self,
        repo: &RepoId,
        revision: &str,
        file: &str,
    ) -> Result<Url, HubError> {
        let mut url = Url::parse(&self.endpoint).map_err(|e| HubError::Protocol {
            url: self.endpoint.clone(),
            what: format!("not a URL: {e}"),
        })?;
        {
            let mut seg = url.path_segments_mut().map_err(|()| HubError::Protocol {
                url: self.endpoint.clone(),
                what: "not a base URL".into(),
            })?;
            seg.pop_if_empty()
                .push(repo.owner())
                .push(repo.name())
                .push("resolve")
                .push(revision);
            for part in file.split('/') {
                seg.push(part);
            }
        }
        Ok(url)
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = &self.auth {
            h.insert(AUTHORIZATION, a.clone());
        }
        h
    }

    /// HEAD of a file: `Ok(None)` when the file is not in the repo (404 on an existing repo).
    /// Relative redirects (a renamed repo) are followed; an absolute one (to a CDN) carries the
    /// metadata itself, as on the Hub.
    pub(crate) async fn head(
        &self,
        repo: &RepoId,
        revision: &str,
        file: &str,
    ) -> Result<Option<FileMeta>, HubError> {
        let mut url = self.resolve_url(repo, revision, file)?;
        for _ in 0..10 {
            let resp = self
                .no_redirect
                .head(url.clone())
                .headers(self.headers())
                .send()
                .await
                .map_err(|e| self.unreachable(repo, &e))?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok());
                if let Some(loc) = location.filter(|l| Url::parse(l).is_err()) {
                    url = url.join(loc).map_err(|e| HubError::Protocol {
                        url: url.to_string(),
                        what: format!("bad Location: {e}"),
                    })?;
                    continue;
                }
            } else if !status.is_success() {
                return match self.status_error(repo, revision, resp.status(), resp.headers()) {
                    StatusError::FileMissing => Ok(None),
                    StatusError::Other(e) => Err(e),
                };
            }
            return parse_meta(resp.headers(), &url).map(Some);
        }
        Err(HubError::Protocol {
            url: url.to_string(),
            what: "too many redirects".into(),
        })
    }

    /// GET of `url` from byte `from` on (a `Range` request when `from` > 0).
    pub(crate) async fn get(
        &self,
        url: &Url,
        from: u64,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self.client.get(url.clone()).headers(self.headers());
        if from > 0 {
            req = req.header(RANGE, format!("bytes={from}-"));
        }
        req.send().await
    }

    /// The error for a failed response status.
    pub(crate) fn status_error(
        &self,
        repo: &RepoId,
        revision: &str,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> StatusError {
        let code = headers
            .get("x-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let message = headers
            .get("x-error-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let not_found = || HubError::NotFound {
            repo: repo.to_string(),
            revision: revision.to_string(),
            endpoint: self.endpoint.clone(),
        };
        let gated = code == "GatedRepo" || message.to_ascii_lowercase().contains("gated");
        StatusError::Other(match status.as_u16() {
            401 | 403 if gated => HubError::Gated {
                repo: repo.to_string(),
                url: format!("{}/{}", self.endpoint, repo),
                had_token: self.had_token,
            },
            401 | 404 if code == "RepoNotFound" || code == "RevisionNotFound" => not_found(),
            401 | 403 => HubError::Denied {
                repo: repo.to_string(),
                status: status.as_u16(),
                had_token: self.had_token,
            },
            404 => return StatusError::FileMissing,
            s => HubError::Protocol {
                url: format!("{}/{}", self.endpoint, repo),
                what: format!(
                    "HTTP {s}{}",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
            },
        })
    }

    /// The error for a request that got no answer.
    pub(crate) fn unreachable(&self, repo: &RepoId, e: &reqwest::Error) -> HubError {
        HubError::Unreachable {
            endpoint: self.endpoint.clone(),
            repo: repo.to_string(),
            reason: transport_reason(e),
        }
    }
}

/// A failed status, sorted.
pub(crate) enum StatusError {
    /// 404 for a file of an existing repo.
    FileMissing,
    /// Anything else.
    Other(HubError),
}

/// A short reason for a transport error ("connection refused", "timed out", …).
pub(crate) fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    if e.is_connect() {
        format!("cannot connect: {last}")
    } else {
        last
    }
}

fn parse_meta(h: &HeaderMap, url: &Url) -> Result<FileMeta, HubError> {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok());
    let missing = |what: &str| HubError::Protocol {
        url: url.to_string(),
        what: format!("no {what} header"),
    };
    let etag = get("x-linked-etag")
        .or_else(|| get("etag"))
        .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
        .filter(|e| !e.is_empty() && !e.contains(['/', '\\', '.']))
        .ok_or_else(|| missing("ETag"))?;
    let commit = get("x-repo-commit")
        .map(str::to_string)
        .ok_or_else(|| missing("X-Repo-Commit"))?;
    let size = get("x-linked-size")
        .or_else(|| get("content-length"))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| missing("Content-Length"))?;
    Ok(FileMeta { etag, commit, size })
}

/// How long to wait before retry `attempt` (1-based): 0.2 s, 0.4 s, 0.8 s, … capped at 5 s.
pub(crate) fn backoff(attempt: usize) -> Duration {
    Duration::from_millis((200u64 << attempt.min(5).saturating_sub(1)).min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded() {
        let mut cfg = HubConfig::from_env(None);
        cfg.endpoint = "http://127.0.0.1:9/mirror".into();
        let http = Http::new(&cfg).unwrap();
        let repo = RepoId::parse("org/tiny").unwrap();
        let url = http
            .resolve_url(&repo, "refs/pr/1", "sub dir/a#b.json")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/mirror/org/tiny/resolve/refs%2Fpr%2F1/sub%20dir/a%23b.json"
        );
    }

    #[test]
    fn metadata_prefers_linked_headers() {
        let mut h = HeaderMap::new();
        h.insert("etag", HeaderValue::from_static("W/\"abc\""));
        h.insert("x-repo-commit", HeaderValue::from_static("c1"));
        h.insert("content-length", HeaderValue::from_static("12"));
        let url = Url::parse("http://x/").unwrap();
        assert_eq!(
            parse_meta(&h, &url).unwrap(),
            FileMeta {
                etag: "abc".into(),
                commit: "c1".into(),
                size: 12
            }
        );
        h.insert("x-linked-etag", HeaderValue::from_static("\"sha\""));
        h.insert("x-linked-size", HeaderValue::from_static("99"));
        let m = parse_meta(&h, &url).unwrap();
        assert_eq!((m.etag.as_str(), m.size), ("sha", 99));
        h.insert("x-linked-etag", HeaderValue::from_static("\"../evil\""));
        assert!(
            parse_meta(&h, &url).is_err(),
            "an ETag is a file name: no paths"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(40), Duration::from_millis(3_200));
    }
}
