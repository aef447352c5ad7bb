//! The trading web page: `web/dist` (built by `make web`) served at `/`.
//!
//! Release builds carry the files inside the binary (one file to ship); debug builds read
//! them from `web/dist` on disk, so a rebuilt page shows without recompiling. Files under
//! `/assets/` have content hashes in their names and are cached for a year; `index.html`
//! is revalidated every time (by ETag), and answers every other path outside the API so the
//! page's own routes (`/stocks/AAPL`) survive a reload. Everything the page is made of comes
//! from here, which the Content-Security-Policy holds it to.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The page's policy: its own scripts, styles and connections (`'self'` covers its
/// WebSocket), images as files or data URLs (the chart), nothing inline, no frames.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[derive(rust_embed::Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Dist;

/// One file of the page.
#[derive(Debug)]
pub struct File {
    pub bytes: Cow<'static, [u8]>,
    pub mime: Cow<'static, str>,
    /// A strong validator of the content.
    pub etag: String,
}

/// Where the page's files come from (the embedded build, or a test's own set).
pub trait Assets: Send + Sync {
    fn file(&self, path: &str) -> Option<File>;
}

/// The built page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embedded;

impl Assets for Embedded {
    fn file(&self, path: &str) -> Option<File> {
        let f = Dist::get(path)?;
        let hash = f.metadata.sha256_hash();
        Some(File {
            mime: Cow::Owned(f.metadata.mimetype().to_owned()),
            etag: format!("\"{}\"", hex16(&hash)),
            bytes: f.data,
        })
    }
}

fn hex16(b: &[u8; 32]) -> String {
    b[..16].iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether a path belongs to the API rather than the page: those keep their JSON 404.
fn is_api(path: &str) -> bool {
    path.starts_with("/v1/")
        || path == "/v1"
        || matches!(path, "/metrics" | "/healthz" | "/openapi.json")
}

/// Answers a request no route took: a file of the page, `index.html` for the page's own
/// routes, or the API's JSON 404.
pub fn serve(assets: &dyn Assets, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path();
    if is_api(path) || !matches!(*method, Method::GET | Method::HEAD) {
        return ApiError::not_found("NOT_FOUND", "no such route").into_response();
    }
    let rel = path.trim_start_matches('/');
    let (file, cache) = match assets.file(rel).filter(|_| !rel.is_empty()) {
        Some(f) if rel.starts_with("assets/") => (f, IMMUTABLE),
        Some(f) => (f, "no-cache"),
        // A missing hashed asset is a 404, never the page in its place (a script tag
        // would get HTML).
        None if rel.starts_with("assets/") => {
            return ApiError::not_found("NOT_FOUND", "no such file").into_response();
        }
        None => match assets.file("index.html") {
            Some(f) => (f, "no-cache"),
            None => {
                return ApiError::not_found(
                    "PAGE_NOT_BUILT",
                    "the web page is not built: run `make web` (or `make run`)",
                )
                .into_response();
            }
        },
    };
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(&file.mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&file.etag) {
        h.insert(header::ETAG, v);
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == file.etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    if *method == Method::HEAD {
        return (StatusCode::OK, h).into_response();
    }
    (StatusCode::OK, h, file.bytes).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);

    impl Assets for Fake {
        fn file(&self, path: &str) -> Option<File> {
            let body = self.0.get(path)?;
            let mime = if path.ends_with(".js") {
                "text/javascript"
            } else {
                "text/html"
            };
            Some(File {
                bytes: Cow::Borrowed(body.as_bytes()),
                mime: Cow::Borrowed(mime),
                etag: format!("\"{}\"", body.len()),
            })
        }
    }

    fn page() -> Fake {
        Fake(HashMap::from([
            ("index.html", "<!doctype html><title>bourse</title>"),
            ("assets/app-abc123.js", "console.log(1)"),
            ("LICENSE.txt", "licence"),
        ]))
    }

    fn get(a: &dyn Assets, path: &str, h: &HeaderMap) -> Response {
        serve(a, &Method::GET, &path.parse().unwrap(), h)
    }

    fn header(r: &Response, name: header::HeaderName) -> &str {
        r.headers().get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn hashed_assets_are_immutable_and_the_page_is_revalidated() {
        let p = page();
        let r = get(&p, "/assets/app-abc123.js", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(header(&r, header::CONTENT_TYPE), "text/javascript");
        assert_eq!(header(&r, header::CONTENT_SECURITY_POLICY), PAGE_CSP);
        let r = get(&p, "/", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, header::CACHE_CONTROL), "no-cache");
        assert_eq!(header(&r, header::CONTENT_TYPE), "text/html");
        let r = get(&p, "/LICENSE.txt", &HeaderMap::new());
        assert_eq!(header(&r, header::CACHE_CONTROL), "no-cache");
    }

    #[test]
    fn the_pages_routes_get_the_page_and_the_apis_keep_their_404() {
        let p = page();
        for path in ["/stocks/AAPL", "/portfolio", "/x/y/z"] {
            let r = get(&p, path, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&r, header::CONTENT_TYPE), "text/html", "{path}");
        }
        for path in ["/v1/nope", "/v1", "/assets/app-gone.js"] {
            assert_eq!(
                get(&p, path, &HeaderMap::new()).status(),
                StatusCode::NOT_FOUND
            );
        }
        let post = serve(&p, &Method::POST, &"/".parse().unwrap(), &HeaderMap::new());
        assert_eq!(post.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_known_etag_gets_not_modified() {
        let p = page();
        let r = get(&p, "/assets/app-abc123.js", &HeaderMap::new());
        let etag = header(&r, header::ETAG).to_owned();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
        assert_eq!(
            get(&p, "/assets/app-abc123.js", &h).status(),
            StatusCode::NOT_MODIFIED
        );
    }

    #[tokio::test]
    async fn no_page_built_says_so() {
        let r = get(&Fake(HashMap::new()), "/", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("PAGE_NOT_BUILT"));
    }
}
