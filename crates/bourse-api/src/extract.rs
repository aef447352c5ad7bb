//! The extractors every handler shares: JSON bodies, query strings and paths that fail with
//! an [`ApiError`], and who the caller is and what their credential may do.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bourse_core::{AccountId, Role, Scopes};
use serde::de::DeserializeOwned;

use crate::auth::{Principal, now};
use crate::cookie::{self, Via};
use crate::error::ApiError;
use crate::orders::parse_account;
use crate::state::AppState;

/// A JSON body whose every failure is an [`ApiError`] with a stable code.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if let Some(charset) = declared_charset(req.headers())
            && !charset.eq_ignore_ascii_case("utf-8")
            && !charset.eq_ignore_ascii_case("utf8")
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_CHARSET",
                "JSON bodies are UTF-8: send no charset or charset=utf-8",
            ));
        }
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(r) => Err(match r {
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::bad_request("MALFORMED_JSON", e.body_text())
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::unprocessable("INVALID_FIELD", e.body_text())
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "send the body as application/json",
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "BODY_TOO_LARGE",
                        "the request body is too large",
                    )
                }
                other => ApiError::bad_request("INVALID_BODY", other.body_text()),
            }),
        }
    }
}

/// The `charset` parameter of the request's `Content-Type`, if it names one.
fn declared_charset(headers: &axum::http::HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    ct.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Query parameters whose every failure is an [`ApiError`] (`400 MALFORMED_QUERY`), not axum's
/// plain-text answer: a malformed number, a repeated or missing parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(ApiError::bad_request("MALFORMED_QUERY", e.body_text())),
        }
    }
}

/// Path parameters whose every failure is an [`ApiError`] (`400 MALFORMED_PATH`, e.g. a
/// segment that is not UTF-8 once percent-decoded), not axum's plain-text answer.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            // A route whose parameters do not fit its handler: our bug, not the client's.
            Err(e) if e.status().is_server_error() => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                e.body_text(),
            )),
            Err(e) => Err(ApiError::bad_request("MALFORMED_PATH", e.body_text())),
        }
    }
}

/// The authenticated caller (a session token, an API key or the operator token).
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, via) = cookie::credential(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("send Authorization: Bearer <token> (or log in on the web page)")
        })?;
        let who = state
            .0
            .directory
            .authenticate(token, now())
            .ok_or_else(|| ApiError::unauthorized("unknown, expired or revoked credentials"))?;
        // A cookie is sent by the browser whoever asks it to: a state change must prove it
        // comes from our own page.
        if via == Via::Cookie && !cookie::csrf_ok(&parts.method, &parts.headers, token) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "CSRF_TOKEN_INVALID",
                "a change made with the session cookie needs the session's X-CSRF-Token \
                 (GET /v1/sessions/current)",
            ));
        }
        Ok(Auth(who))
    }
}

/// An authenticated caller whose credential holds the scopes `S` (bits of [`Scopes`]):
/// `403 INSUFFICIENT_SCOPE` for an API key made without them. Sessions and the operator
/// token hold every scope.
#[derive(Debug, Clone, Copy)]
pub struct Can<const S: u8>(pub Principal);

/// Reads the caller's account.
pub type CanRead = Can<{ Scopes::READ.bits() }>;
/// Places, replaces and cancels orders; manages alerts.
pub type CanTrade = Can<{ Scopes::TRADE.bits() }>;
/// Moves cash.
pub type CanTransfer = Can<{ Scopes::TRANSFER.bits() }>;

impl Principal {
    /// `403 INSUFFICIENT_SCOPE` unless the credential holds every scope of `need`.
    pub fn require(&self, need: Scopes) -> Result<(), ApiError> {
        if self.scopes.contains(need) {
            return Ok(());
        }
        let names: Vec<&str> = need.names().collect();
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_SCOPE",
            format!(
                "this API key lacks the {} scope; make a key with it (POST /v1/api-keys, \
                 logged in with a password)",
                names.join(" and ")
            ),
        ))
    }
}

impl<const S: u8> FromRequestParts<AppState> for Can<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(p) = Auth::from_request_parts(parts, state).await?;
        p.require(Scopes::from_bits(S))?;
        Ok(Can(p))
    }
}

/// A caller who logged in with a password (a session token): key management needs one, so
/// that a leaked key cannot mint or revoke keys. `403 SESSION_REQUIRED` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct SessionAuth(pub Principal);

impl FromRequestParts<AppState> for SessionAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(p) = Auth::from_request_parts(parts, state).await?;
        match p.credential {
            crate::auth::Credential::Session(_) => Ok(SessionAuth(p)),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "SESSION_REQUIRED",
                "API keys are managed from a session: log in with your password \
                 (POST /v1/sessions) and use its token",
            )),
        }
    }
}

/// The caller has the operator role.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(p) = Auth::from_request_parts(parts, state).await?;
        if p.role == Role::Operator {
            Ok(Operator)
        } else {
            Err(ApiError::forbidden("this route needs the operator role"))
        }
    }
}

impl Principal {
    /// The account a request acts for: the caller's own; one it names that is its own, or
    /// — for a broker — one of its customers'; or, for the operator only, any it names.
    /// Naming any other account is `404 UNKNOWN_ACCOUNT`, as if it did not exist.
    pub fn acting_for(
        &self,
        named: Option<&str>,
        directory: &crate::auth::Directory,
    ) -> Result<AccountId, ApiError> {
        match (self.account, named) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(n)) => {
                let a = parse_account(n)?;
                let allowed = a == own
                    || self.role == Role::Operator
                    || (self.role == Role::Broker && directory.broker_of(a) == Some(own));
                if allowed {
                    Ok(a)
                } else {
                    Err(ApiError::not_found("UNKNOWN_ACCOUNT", "no such account"))
                }
            }
            (None, Some(n)) => parse_account(n),
            (None, None) => Err(ApiError::unprocessable(
                "MISSING_ACCOUNT_ID",
                "the operator names the account it acts for (account_id)",
            )),
        }
    }
}

/// The client's address as the listener saw it (`None` where the router was not served
/// with connection info: tests). Never fails.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
