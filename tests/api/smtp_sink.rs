//! A minimal SMTP server for tests: accepts or temporarily refuses mail, and keeps what arrived.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// Answers `451` to MAIL FROM, as a server does when it is overloaded or its disk is full.
    RefuseTemporarily,
    /// Answers `550` to RCPT TO, repeating the address as many real servers do.
    RejectRecipient,
    /// Accepts, but waits this long before each reply, as a server under heavy load does.
    SlowReplies(Duration),
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start(mode: Mode) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            port: listener.local_addr().unwrap().port(),
            mode: Arc::new(Mutex::new(mode)),
            messages: Arc::default(),
        };
        let served = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = served.clone();
                tokio::spawn(async move {
                    let _ = session.serve(stream).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Raw messages as received (headers and body, dot-unstuffed).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    async fn serve(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        self.pause().await;
        write.write_all(b"220 sink ESMTP ready\r\n").await?;
        while let Some(line) = lines.next_line().await? {
            let command = line.to_ascii_uppercase();
            let rejected_recipient;
            let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else if command.starts_with("MAIL FROM") {
                match *self.mode.lock().unwrap() {
                    Mode::Accept | Mode::RejectRecipient | Mode::SlowReplies(_) => b"250 OK\r\n",
                    Mode::RefuseTemporarily => b"451 4.3.0 Temporarily unable to accept mail\r\n",
                }
            } else if command.starts_with("RCPT TO")
                && *self.mode.lock().unwrap() == Mode::RejectRecipient
            {
                let address = line.split_once(':').map_or("", |(_, a)| a.trim());
                rejected_recipient =
                    format!("550 5.1.1 {address}: Recipient address rejected: User unknown\r\n");
                rejected_recipient.as_bytes()
            } else if command.starts_with("RCPT TO")
                || command.starts_with("RSET")
                || command.starts_with("NOOP")
            {
                b"250 OK\r\n"
            } else if command.starts_with("DATA") {
                self.pause().await;
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = String::new();
                while let Some(data) = lines.next_line().await? {
                    if data == "." {
                        break;
                    }
                    message.push_str(data.strip_prefix('.').unwrap_or(&data));
                    message.push('\n');
                }
                self.messages.lock().unwrap().push(message);
                b"250 OK queued\r\n"
            } else if command.starts_with("QUIT") {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            } else {
                b"502 Command not implemented\r\n"
            };
            self.pause().await;
            write.write_all(reply).await?;
        }
        Ok(())
    }

    async fn pause(&self) {
        let mode = *self.mode.lock().unwrap();
        if let Mode::SlowReplies(delay) = mode {
            tokio::time::sleep(delay).await;
        }
    }
}
