//! Sign-up, log-in and log-out, and API keys for brokers' programs.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bourse_core::profile::CodePurpose;
use bourse_core::{AccountId, Command, Event, RejectReason, Role, Scopes, UnixNanos};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{Actor, AuditKind, Record};
use crate::auth::{
    Credential, UserEntry, digest, new_secret, now, password_shape_problem, valid_username,
};
use crate::cookie;
use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Auth, ClientIp, JsonBody, Path, SessionAuth};
use crate::gateway::GatewayError;
use crate::state::State;
use crate::wire;

/// A username and password, to register or to log in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery"}))]
pub(crate) struct Credentials {
    /// 3-32 characters of a-z, 0-9, '_', '-' and '.'.
    #[schema(pattern = "^[a-z0-9_.-]{3,32}$")]
    pub(crate) username: String,
    /// 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub(crate) password: String,
}

/// A log-in: a username, email address or phone number and the password; the second
/// factor when it is on; and whether the session is to be a browser's cookie.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com", "password": "correct horse battery",
                          "totp_code": "123456"}))]
pub(crate) struct LogIn {
    #[schema(pattern = "^[a-z0-9_.-]{3,32}$")]
    username: Option<String>,
    #[schema(max_length = 254)]
    email: Option<String>,
    /// E.164.
    #[schema(max_length = 32)]
    phone: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// The authenticator's current code, when two-factor is on.
    #[schema(pattern = "^[0-9]{6}$")]
    totp_code: Option<String>,
    /// A recovery code instead (each works once).
    #[schema(max_length = 32)]
    recovery_code: Option<String>,
    /// A stable id the client keeps for itself (a log-in from an id not seen before is
    /// told to the person); without it the User-Agent stands for the device.
    #[schema(max_length = 128)]
    device_id: Option<String>,
    /// `true` from the web page: the token goes into an HttpOnly, SameSite=Strict cookie
    /// (`bourse_session`) and the answer carries the session's CSRF token instead.
    #[serde(default)]
    cookie: bool,
}

/// Sign-up: an email address or phone number (verified by the code sent to it) or a
/// username, and a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com", "password": "correct horse battery"}))]
pub(crate) struct SignUp {
    /// 3-32 characters of a-z, 0-9, '_', '-' and '.': required without an address, else a
    /// display name (one is made up when absent).
    #[schema(pattern = "^[a-z0-9_.-]{3,32}$")]
    username: Option<String>,
    #[schema(max_length = 254)]
    email: Option<String>,
    /// E.164, e.g. `+14155550100`.
    #[schema(max_length = 32)]
    phone: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// A new user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UserRegistered)]
pub(crate) struct Registered {
    username: String,
    /// The user's account, opened with them.
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    /// Signed up with an address: where the code went (`email` or `phone`). The account may
    /// not trade or withdraw until it is confirmed at `POST /v1/users/verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_sent_to: Option<&'static str>,
}

/// `POST /v1/users`: registers a trader and opens their account.
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "identity",
    request_body = Credentials,
    responses(
        (status = 201, description = "Registered, once durable.", body = Registered),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 409, description = "USERNAME_TAKEN.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_USERNAME, INVALID_PASSWORD.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (per client IP without a token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the password could not be hashed.",
         body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn register(
    axum::extract::State(s): State,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<SignUp>,
) -> Result<impl IntoResponse, ApiError> {
    let audit = |account: AccountId, by: &'static str| {
        Record::new(AuditKind::UserRegistered, Actor::Anonymous)
            .account(account)
            .ip(ip)
            .detail("by", by)
    };
    if body.email.is_none() && body.phone.is_none() {
        let Some(username) = body.username else {
            return Err(ApiError::unprocessable(
                "INVALID_FIELD",
                "give an email address, a phone number or a username",
            ));
        };
        let creds = Credentials {
            username,
            password: body.password,
        };
        let account = new_user(&s, &creds, |username, password_hash| {
            Command::RegisterUser {
                username,
                password_hash,
                role: Role::Trader,
            }
        })
        .await?;
        s.0.people.audit.record(audit(account, "username")).await;
        return Ok((
            StatusCode::CREATED,
            Json(registered(creds.username, account)),
        ));
    }
    let (kind, addr) = crate::people::address(body.email.as_deref(), body.phone.as_deref())?;
    let vault = s.0.people.vault.clone();
    let key = crate::people::key_of(&s, None).await?;
    let contact = crate::people::contact(&vault, key, kind, &addr);
    if s.0
        .people
        .profiles
        .account_by_lookup(&contact.lookup)
        .is_some()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            RejectReason::ContactTaken.code(),
            RejectReason::ContactTaken.message(),
        ));
    }
    let username = match body.username {
        Some(u) => u,
        None => {
            let (hex, _) = new_secret()?;
            format!("u-{}", &hex[..12])
        }
    };
    let creds = Credentials {
        username,
        password: body.password,
    };
    let code = crate::people::new_code(&vault, &contact.lookup, CodePurpose::Verify, kind)?;
    let account = new_user(&s, &creds, |username, password_hash| {
        Command::RegisterWithContact {
            username,
            password_hash,
            contact: Box::new(contact),
            code: Box::new(code),
        }
    })
    .await
    .map_err(|e| {
        if e.code == RejectReason::ContactTaken.code() {
            ApiError::new(StatusCode::CONFLICT, e.code, e.message)
        } else {
            e
        }
    });
    let account = match account {
        Ok(a) => a,
        Err(e) => {
            // Sealed nothing that was kept (unless the outcome is unknown: then it stays).
            if e.code != "OUTCOME_UNKNOWN" {
                s.0.people.keys.discard(key).await;
            }
            return Err(e);
        }
    };
    s.0.people.keys.bind(key, account).await;
    s.0.people.audit.record(audit(account, kind.name())).await;
    let mut r = registered(creds.username, account);
    r.verification_sent_to = Some(kind.name());
    Ok((StatusCode::CREATED, Json(r)))
}

/// Checks a username and password, hashes the password (off the engine thread), runs the
/// command that creates the user (`make(username, password_hash)`) and records the user in
/// the directory: the one way users come to be (sign-up, a broker's login for a customer,
/// the operator's brokers).
pub(crate) async fn new_user(
    s: &crate::state::AppState,
    body: &Credentials,
    make: impl FnOnce(String, String) -> Command,
) -> Result<bourse_core::AccountId, ApiError> {
    if !valid_username(&body.username) {
        return Err(ApiError::unprocessable(
            "INVALID_USERNAME",
            "usernames are 3-32 characters of a-z, 0-9, '_', '-' and '.'",
        ));
    }
    if let Some(problem) = password_shape_problem(&body.password) {
        return Err(ApiError::unprocessable("INVALID_PASSWORD", problem));
    }
    if s.0.directory.user(&body.username).is_some() {
        return Err(ApiError::rejected(bourse_core::RejectReason::UsernameTaken));
    }
    // Judged (zxcvbn) and hashed on the password threads.
    let password_hash =
        s.0.passwords
            .hash(body.password.clone(), &body.username)
            .await?;
    let reply =
        s.0.gateway
            .execute(make(body.username.clone(), password_hash.clone()))
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let (account, role) = reply
        .events
        .iter()
        .find_map(|e| match e {
            Event::UserRegistered { account, role } => Some((*account, *role)),
            _ => None,
        })
        .ok_or_else(|| ApiError::rejected(bourse_core::RejectReason::UsernameTaken))?;
    s.0.directory.add_user(
        &body.username,
        UserEntry {
            account,
            role,
            password_hash,
        },
    );
    Ok(account)
}

/// The answer to a new user: its name and account.
pub(crate) fn registered(username: String, account: bourse_core::AccountId) -> Registered {
    Registered {
        username,
        account_id: account.get().to_string(),
        verification_sent_to: None,
    }
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub(crate) struct SessionView {
    /// The bearer token (64 hex characters), shown only here.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    token: String,
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    #[schema(value_type = wire::Timestamp)]
    expires_at: String,
}

/// A new browser session: the token went into the cookie.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CookieSession)]
pub(crate) struct CookieSessionView {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    #[schema(value_type = wire::Timestamp)]
    expires_at: String,
    /// Send it as `X-CSRF-Token` with every change made with the cookie.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    csrf_token: String,
}

/// A log-in's answer: the bearer token for a program, or for the web page (`cookie: true`)
/// the CSRF token, the session itself going into the cookie.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum LoggedIn {
    Token(SessionView),
    Cookie(CookieSessionView),
}

/// `POST /v1/sessions`: logs in; the token is shown once.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "identity",
    request_body = LogIn,
    responses(
        (status = 201, description = "Logged in, once the session is durable: the token, or \
         with `cookie: true` the CSRF token and a Set-Cookie.", body = LoggedIn),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "INVALID_CREDENTIALS (wrong username or password alike).",
         body = ErrorBody),
        (status = 403, description = "ORIGIN_REFUSED: a cookie log-in from another origin.",
         body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (per client IP without a token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: no token could be made.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn log_in(
    axum::extract::State(s): State,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LogIn>,
) -> Result<Response, ApiError> {
    let audit = |kind, account: Option<AccountId>, reason: &'static str| {
        let mut r = Record::new(kind, Actor::Anonymous).ip(ip);
        if let Some(a) = account {
            r = r.account(a);
        }
        if !reason.is_empty() {
            r = r.detail("reason", reason);
        }
        r
    };
    // SameSite keeps the cookie from other sites' requests; this keeps another site from
    // logging a visitor in to an account of its choosing.
    if body.cookie && !cookie::same_origin(&headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ORIGIN_REFUSED",
            "a browser session is opened from the exchange's own page",
        ));
    }
    let bad = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
            "wrong username, address or password",
        )
    };
    let name = match (&body.username, &body.email, &body.phone) {
        (Some(u), None, None) => Some(u.clone()),
        (None, e, p) if e.is_some() || p.is_some() => {
            let (kind, addr) = crate::people::address(e.as_deref(), p.as_deref())?;
            let lookup = s.0.people.vault.lookup(kind, &addr);
            // Only the account's own addresses (not one it is changing to).
            s.0.people
                .profiles
                .account_by_lookup(&lookup)
                .filter(|a| {
                    s.0.people
                        .profiles
                        .get(*a)
                        .and_then(|p| p.contact(kind).map(|c| c.lookup == lookup))
                        == Some(true)
                })
                .and_then(|a| s.0.directory.username_of(a))
        }
        _ => {
            return Err(ApiError::unprocessable(
                "INVALID_FIELD",
                "give exactly one of username, email and phone",
            ));
        }
    };
    let user = name.as_deref().and_then(|n| s.0.directory.user(n));
    if let Some(u) = &user
        && let Err(e) = crate::people::not_locked(&s, u.account)
    {
        let r = audit(AuditKind::LogInLocked, Some(u.account), "");
        s.0.people.audit.record(r).await;
        return Err(e);
    }
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = s.0.passwords.verify(body.password, phc).await?;
    let Some(user) = user.filter(|_| ok) else {
        let known = name
            .as_deref()
            .and_then(|n| s.0.directory.user(n))
            .map(|u| u.account);
        if let Some(a) = known {
            s.0.people.lockout.failed(a);
        }
        let reason = if known.is_some() {
            "password"
        } else {
            "unknown_user"
        };
        let r = audit(AuditKind::LogInFailed, known, reason);
        s.0.people.audit.record(r).await;
        return Err(bad());
    };
    let factor = match crate::twofactor::factor(
        &s,
        user.account,
        body.totp_code.as_deref(),
        body.recovery_code.as_deref(),
    ) {
        Ok(f) => f,
        Err(e) => {
            let r = audit(AuditKind::LogInFailed, Some(user.account), "second_factor");
            s.0.people.audit.record(r).await;
            return Err(e);
        }
    };
    let factor_label = match factor {
        bourse_core::profile::Factor::None => "password",
        bourse_core::profile::Factor::Totp { .. } => "totp",
        bourse_core::profile::Factor::Recovery { .. } => "recovery_code",
    };
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown device");
    let device = s.0.people.vault.secret_digest(
        &format!("device {}", user.account.get()),
        body.device_id.as_deref().unwrap_or(agent),
    );
    let (token, token_digest) = new_secret()?;
    let ttl = u64::try_from(s.0.session_ttl.as_nanos()).unwrap_or(u64::MAX);
    let expires_at = UnixNanos::new(now().get().saturating_add(ttl));
    let reply =
        s.0.gateway
            .execute(Command::LogIn {
                account: user.account,
                token: token_digest,
                expires_at,
                factor,
                device: Box::new(bourse_core::profile::Device {
                    id: device,
                    label: agent.chars().take(128).collect(),
                }),
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        if e.code == RejectReason::SecondFactorInvalid.code() {
            s.0.people.lockout.failed(user.account);
            let r = audit(AuditKind::LogInFailed, Some(user.account), "second_factor");
            s.0.people.audit.record(r).await;
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, e.code, e.message));
        }
        return Err(e);
    }
    s.0.people.lockout.succeeded(user.account);
    let r = Record::new(AuditKind::LogIn, Actor::Account(user.account))
        .ip(ip)
        .detail("factor", factor_label)
        .detail("via", if body.cookie { "browser" } else { "token" });
    s.0.people.audit.record(r).await;
    s.0.directory
        .add_session(token_digest, user.account, expires_at);
    let account_id = user.account.get().to_string();
    if body.cookie {
        let set = cookie::set_session(&token, s.0.session_ttl.as_secs(), s.0.secure_cookies);
        return Ok((
            StatusCode::CREATED,
            [(header::SET_COOKIE, set)],
            Json(LoggedIn::Cookie(CookieSessionView {
                account_id,
                expires_at: expires_at.to_rfc3339(),
                csrf_token: cookie::csrf_token(&token),
            })),
        )
            .into_response());
    }
    Ok((
        StatusCode::CREATED,
        Json(LoggedIn::Token(SessionView {
            token,
            account_id,
            expires_at: expires_at.to_rfc3339(),
        })),
    )
        .into_response())
}

/// Who is logged in.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CurrentSession)]
pub(crate) struct CurrentView {
    #[schema(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
    username: Option<String>,
    /// When the credential ends (absent for an API key, which lasts until revoked).
    #[schema(value_type = Option<wire::Timestamp>)]
    expires_at: Option<String>,
    /// With the session cookie only: the `X-CSRF-Token` its changes need.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{64}$")]
    csrf_token: Option<String>,
}

/// `GET /v1/sessions/current`: who the credential belongs to; the web page asks on load.
#[utoipa::path(
    get,
    path = "/v1/sessions/current",
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller.", body = CurrentView),
        (status = 401, description = "UNAUTHORIZED: not logged in.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn current(
    axum::extract::State(s): State,
    Auth(who): Auth,
    headers: HeaderMap,
) -> Json<CurrentView> {
    let csrf_token = match cookie::credential(&headers) {
        Some((token, cookie::Via::Cookie)) => Some(cookie::csrf_token(token)),
        _ => None,
    };
    Json(CurrentView {
        account_id: who.account.map(|a| a.get().to_string()),
        username: who.account.and_then(|a| s.0.directory.username_of(a)),
        expires_at: s
            .0
            .directory
            .expires_at(&who.credential)
            .map(|t| t.to_rfc3339()),
        csrf_token,
    })
}

/// `DELETE /v1/sessions`: logs out the session whose token authenticates the request.
#[utoipa::path(
    delete,
    path = "/v1/sessions",
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out: the token no longer works."),
        (status = 400, description = "NOT_A_SESSION: authenticated with an API key or the \
         operator token.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 422, description = "UNKNOWN_SESSION: it ended meanwhile.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn log_out(
    axum::extract::State(s): State,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Credential::Session(token) = who.credential else {
        return Err(ApiError::bad_request(
            "NOT_A_SESSION",
            "log out with the session token itself",
        ));
    };
    // Forgotten here first: the token stops working even if the command is slow (the
    // journaled end reaches the directory again once durable). Refused outright, nothing
    // was done, and the session is as it was.
    let was = s.0.directory.end_session(&token);
    let reply = match s.0.gateway.execute(Command::EndSession { token }).await {
        Ok(r) => r,
        Err(e) => {
            if matches!(e, GatewayError::Overloaded | GatewayError::Closed)
                && let Some((account, expires)) = was
            {
                s.0.directory.add_session(token, account, expires);
            }
            return Err(e.into());
        }
    };
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let r = Record::new(AuditKind::LogOut, Actor::of(&who)).ip(ip);
    s.0.people.audit.record(r).await;
    if matches!(cookie::credential(&headers), Some((_, cookie::Via::Cookie))) {
        let clear = cookie::clear_session(s.0.secure_cookies);
        return Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new API key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"label": "algo", "scopes": ["read", "trade"]}))]
pub(crate) struct NewKey {
    /// At most 64 printable characters; empty when absent.
    #[serde(default)]
    #[schema(max_length = 64)]
    label: Option<String>,
    /// What the key may do: `read` (the account, orders, positions, history, private
    /// channels), `trade` (place, replace and cancel orders; alerts), `transfer` (move cash).
    /// Least privilege: `["read"]` when absent.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, example = json!(["read", "trade"]))]
    scopes: Option<Vec<String>>,
}

/// A new API key and its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub(crate) struct KeyView {
    /// The key's id, to revoke it.
    #[schema(pattern = "^[0-9]+$")]
    id: String,
    label: String,
    /// What the key may do.
    scopes: Vec<&'static str>,
    /// The bearer secret (64 hex characters), shown only here.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    secret: String,
}

/// `POST /v1/api-keys`: a key for the caller's account; the secret is shown once.
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "identity",
    security(("bearer" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "Created, once durable.", body = KeyView, links(
            ("RevokeKey" = (operation_id = "revoke_key",
                            parameters(("id" = "$response.body#/id"))))
        )),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED: keys are made from a password session, \
         not with an API key or the operator token.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_LABEL, INVALID_SCOPE.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: no secret could be made.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn create_key(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<impl IntoResponse, ApiError> {
    let account = who.account.ok_or_else(|| {
        ApiError::forbidden("API keys belong to a user's account; log in as that user")
    })?;
    let label = body.label.unwrap_or_default();
    if label.chars().count() > 64 || label.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "INVALID_LABEL",
            "labels are at most 64 printable characters",
        ));
    }
    let scopes = match body.scopes {
        None => Scopes::READ,
        Some(names) => {
            let mut scopes = Scopes::from_bits(0);
            for n in &names {
                let one = Scopes::parse(n).ok_or_else(|| {
                    ApiError::unprocessable(
                        "INVALID_SCOPE",
                        format!("unknown scope {n:?}: use read, trade, transfer"),
                    )
                })?;
                scopes = scopes.union(one);
            }
            if scopes.is_empty() {
                return Err(ApiError::unprocessable(
                    "INVALID_SCOPE",
                    "name at least one scope: read, trade, transfer",
                ));
            }
            scopes
        }
    };
    let (secret, secret_digest) = new_secret()?;
    let reply =
        s.0.gateway
            .execute(Command::CreateScopedApiKey {
                account,
                secret: secret_digest,
                label: label.clone(),
                scopes,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let key_id = reply
        .events
        .iter()
        .find_map(|e| match e {
            Event::ApiKeyCreated { key_id, .. } => Some(*key_id),
            _ => None,
        })
        .ok_or_else(|| ApiError::rejected(bourse_core::RejectReason::UnknownAccount))?;
    s.0.directory
        .add_key(secret_digest, key_id, account, scopes);
    debug_assert_eq!(digest(&secret), secret_digest);
    let r = Record::new(AuditKind::ApiKeyCreated, Actor::Account(account))
        .ip(ip)
        .detail("key_id", key_id.to_string())
        .detail("scopes", scopes.names().collect::<Vec<_>>().join(","));
    s.0.people.audit.record(r).await;
    Ok((
        StatusCode::CREATED,
        Json(KeyView {
            id: key_id.to_string(),
            label,
            scopes: scopes.names().collect(),
            secret,
        }),
    ))
}

/// `DELETE /v1/api-keys/{id}`: revokes one of the caller's keys.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}",
    tag = "identity",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The key's id.")),
    responses(
        (status = 204, description = "Revoked, once durable: the secret no longer works."),
        (status = 400, description = "MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED: keys are revoked from a password session.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_API_KEY (none such, or another account's).",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn revoke_key(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::not_found("UNKNOWN_API_KEY", "no such API key");
    let account = who.account.ok_or_else(not_found)?;
    let key_id: u64 = id.parse().map_err(|_| not_found())?;
    // Forgotten here first, as a log-out: the key stops working at once, and the journaled
    // revocation reaches the directory (and every open socket) once durable, even if this
    // request is answered OUTCOME_UNKNOWN. Refused outright, the key is as it was.
    let was = s.0.directory.revoke_key(account, key_id);
    let reply = match s
        .0
        .gateway
        .execute(Command::RevokeApiKey { account, key_id })
        .await
    {
        Ok(r) => r,
        Err(e) => {
            if matches!(e, GatewayError::Overloaded | GatewayError::Closed)
                && let Some((secret, scopes)) = was
            {
                s.0.directory.add_key(secret, key_id, account, scopes);
            }
            return Err(e.into());
        }
    };
    if first_reject(&reply.events).is_some() {
        return Err(not_found());
    }
    let r = Record::new(AuditKind::ApiKeyRevoked, Actor::Account(account))
        .ip(ip)
        .detail("key_id", key_id.to_string());
    s.0.people.audit.record(r).await;
    Ok(StatusCode::NO_CONTENT)
}
