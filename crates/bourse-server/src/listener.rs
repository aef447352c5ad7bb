//! The HTTP(S) listener of `serve`, as a task that can be stopped, and whose application
//! can be put in place after it started listening: a standby listens from its start (its
//! health is the way to watch it) and opens the whole API on the same socket when it takes
//! over.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::Request;
use axum::serve::ListenerExt as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

/// A running HTTP server.
pub struct HttpServer {
    pub addr: SocketAddr,
    /// The application put in place by [`HttpServer::open`] (with `switchable`).
    app: Arc<OnceLock<Router>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .field("opened", &self.app.get().is_some())
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Binds `listen` and serves `app` (TLS when `tls` is given). With `switchable`, `app`
    /// answers only until [`HttpServer::open`] puts another in its place.
    pub async fn bind(
        listen: &str,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
        app: Router,
        switchable: bool,
    ) -> Result<HttpServer> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        let slot: Arc<OnceLock<Router>> = Arc::new(OnceLock::new());
        let app = if switchable {
            let (slot, first) = (slot.clone(), app);
            // One more router clone (an `Arc`) per request, on a standby's socket only.
            Router::new().fallback_service(tower::service_fn(move |req: Request| {
                let r = slot.get().cloned().unwrap_or_else(|| first.clone());
                async move { r.oneshot(req).await }
            }))
        } else {
            app
        };
        let (stop, mut stopped) = watch::channel(false);
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            match tls {
                Some(config) => {
                    // `tap_io` for axum's `ConnectInfo<SocketAddr>`, which it implements for
                    // a tapped listener of any kind (the rate limits key on the peer).
                    let listener = crate::tls::TlsListener::start(listener, config)?.tap_io(|_| {});
                    axum::serve(listener, service)
                        .with_graceful_shutdown(shutdown)
                        .await
                        .context("serving HTTPS")
                }
                None => axum::serve(listener, service)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .context("serving HTTP"),
            }
        });
        Ok(HttpServer {
            addr,
            app: slot,
            stop,
            task,
        })
    }

    /// Serves `app` from now on (a switchable server).
    pub fn open(&self, app: Router) {
        let _ = self.app.set(app);
    }

    /// Resolves when the server task has ended by itself.
    pub async fn stopped(&self) {
        while !self.task.is_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Stops accepting, lets open requests finish, and returns how serving ended.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("the HTTP server task")?
    }
}
