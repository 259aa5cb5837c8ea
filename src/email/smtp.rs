//! SMTP connections with TCP_NODELAY, for `smtp://` relays (plain, STARTTLS required or
//! opportunistic).
//!
//! lettre 0.11.23 never sets TCP_NODELAY and writes the end-of-data marker (`\r\n.\r\n`) as
//! its own small write after the body, so Nagle holds it until the server's delayed ACK:
//! about 40 ms a message (fixed upstream in lettre PR #1159, not yet released). Its executor
//! is sealed, so we open the TCP connection ourselves, set nodelay, and hand it to lettre's
//! own SMTP client (`AsyncSmtpConnection`), which does the protocol, STARTTLS and AUTH as before.
//! Idle connections are kept for reuse and checked with NOOP first, as lettre's pool does,
//! unless used in the last two seconds.
//! `smtps://` (implicit TLS) stays on lettre's transport: its client cannot start on a
//! stream that is already encrypted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::net::TcpStream;

/// How long idle connections are kept for reuse.
const IDLE_FOR: Duration = Duration::from_secs(60);
const REUSE_AT_ONCE_FOR: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub enum SmtpRelay {
    Nodelay(Arc<NodelayRelay>),
    /// `smtps://`: lettre's own pooled transport.
    ImplicitTls(AsyncSmtpTransport<Tokio1Executor>),
}

impl SmtpRelay {
    /// Reads `smtp://[user:password@]host[:port][/hello-name][?tls=required|opportunistic]` or
    /// `smtps://…`, as lettre's `from_url` does (same default ports).
    /// `connections`: how many idle connections to keep (the sends the worker makes at once).
    pub fn from_url(
        url: &str,
        command_timeout: Duration,
        connections: usize,
    ) -> Result<Self, String> {
        // lettre checks the whole URL first, so both paths accept and refuse the same URLs.
        let stock =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| e.to_string())?;
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        if parsed.scheme() == "smtps" {
            return Ok(Self::ImplicitTls(
                stock.timeout(Some(command_timeout)).build(),
            ));
        }
        let host = parsed.host_str().unwrap_or_default().to_string();
        let tls = match parsed
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned())
            .as_deref()
        {
            None => Tls::None,
            Some(mode) => {
                let parameters = TlsParameters::new(host.clone()).map_err(|e| e.to_string())?;
                if mode == "required" {
                    Tls::Required(parameters)
                } else {
                    Tls::Opportunistic(parameters)
                }
            }
        };
        let port = parsed.port().unwrap_or(match tls {
            Tls::None => 25,
            _ => 587,
        });
        let hello = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        let credentials = match parsed.password() {
            Some(password) => Some(Credentials::new(
                decode(parsed.username())?,
                decode(password)?,
            )),
            None => None,
        };
        Ok(Self::Nodelay(Arc::new(NodelayRelay {
            host,
            port,
            tls,
            hello,
            credentials,
            max_idle: connections.max(1),
            idle: Mutex::new(Vec::new()),
        })))
    }

    /// Sends one message; the error text is lettre's.
    pub async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), String> {
        match self {
            Self::ImplicitTls(transport) => transport
                .send_raw(envelope, bytes)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Self::Nodelay(relay) => relay.send(envelope, bytes).await,
        }
    }
}

fn decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| e.to_string())
}

enum Tls {
    None,
    Required(TlsParameters),
    Opportunistic(TlsParameters),
}

pub struct NodelayRelay {
    host: String,
    port: u16,
    tls: Tls,
    hello: ClientId,
    credentials: Option<Credentials>,
    max_idle: usize,
    idle: Mutex<Vec<(Instant, AsyncSmtpConnection)>>,
}

impl NodelayRelay {
    /// Not bounded in time here: the outbox worker bounds the whole send, all its steps together,
    /// by `email.smtp_timeout_secs`.
    async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), String> {
        let mut conn = self.checkout().await?;
        // lettre has already closed the connection on a failed command.
        conn.send(envelope, bytes)
            .await
            .map_err(|error| error.to_string())?;
        self.checkin(conn);
        Ok(())
    }

    /// A connection that answers NOOP, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, String> {
        while let Some((since, mut conn)) = self.take_idle() {
            let idle = since.elapsed();
            // Just used: no NOOP round trip (one in five commands). Were it closed since, the
            // send fails and the outbox retries it.
            if idle < REUSE_AT_ONCE_FOR || (idle < IDLE_FOR && conn.test_connected().await) {
                return Ok(conn);
            }
        }
        self.connect().await
    }

    fn take_idle(&self) -> Option<(Instant, AsyncSmtpConnection)> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push((Instant::now(), conn));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect to the mail server: {e}"))?;
        // The point of this module: send each write at once.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
            .await
            .map_err(|e| e.to_string())?;
        match &self.tls {
            Tls::None => {}
            Tls::Required(parameters) => conn
                .starttls(parameters.clone(), &self.hello)
                .await
                .map_err(|e| e.to_string())?,
            Tls::Opportunistic(parameters) => {
                if conn.can_starttls() {
                    conn.starttls(parameters.clone(), &self.hello)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(conn)
    }
}
