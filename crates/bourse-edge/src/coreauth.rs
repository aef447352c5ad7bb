//! Credentials an edge is given, checked with the core: `GET /v1/account` with the client's
//! bearer token answers which account it stands for, and only for a credential that may read
//! (an API key without the `read` scope is refused there, so it is here). The edge's
//! directory then holds it for `edge.auth_cache_secs` (see `bourse_api::edge`).

use std::time::Duration;

use bourse_api::ApiError;
use bourse_api::edge::{CoreAuth, Verified};
use bourse_core::AccountId;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::http::StatusCode;
use hyper_util::rt::TokioIo;

/// Longest answer read from the core.
const MAX_ANSWER: usize = 64 * 1024;
/// Longest wait for the core.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the core at `base` (`http://host:port`).
#[derive(Debug, Clone)]
pub struct HttpCoreAuth {
    authority: String,
}

impl HttpCoreAuth {
    /// `base` is the core's `http://host:port` (plain HTTP: edges and the core share a
    /// private network).
    pub fn new(base: &str) -> Result<HttpCoreAuth, String> {
        let uri: hyper::Uri = base
            .parse()
            .map_err(|e| format!("edge.core_url {base:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("edge.core_url {base:?}: give http://host:port"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("edge.core_url {base:?}: no host"))?
            .to_string();
        Ok(HttpCoreAuth { authority })
    }

    async fn ask(authority: String, token: String) -> Result<Option<AccountId>, String> {
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("connecting to the core at {authority}: {e}"))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::get("/v1/account")
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        // Refused (401), may not read (403), or acts for no account of its own (the
        // operator token, 422): nothing private to follow here.
        if status.is_client_error() {
            return Ok(None);
        }
        if status != StatusCode::OK {
            return Err(format!("the core answered {status}"));
        }
        let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(v.get("account_id")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .map(AccountId::new))
    }
}

impl CoreAuth for HttpCoreAuth {
    fn verify(&self, token: String) -> Verified {
        let authority = self.authority.clone();
        Box::pin(async move {
            match tokio::time::timeout(TIMEOUT, Self::ask(authority, token)).await {
                Ok(Ok(a)) => Ok(a),
                Ok(Err(e)) => {
                    tracing::warn!("checking a credential with the core: {e}");
                    Err(unavailable())
                }
                Err(_) => Err(unavailable()),
            }
        })
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "CORE_UNAVAILABLE",
        "the edge could not check the credential with the core just now; retry",
    )
}
