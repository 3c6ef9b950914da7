//! A minimal SMTP server for the tests: it accepts every message and keeps it, so account
//! emails travel over a real SMTP conversation and the tests read the links they carry.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct SmtpSink {
    pub url: String,
    mails: Arc<Mutex<Vec<String>>>,
    /// While set, every connection is turned away (421), as by a mail server that is down.
    refusing: Arc<std::sync::atomic::AtomicBool>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let mails = Arc::new(Mutex::new(vec![]));
        let kept = mails.clone();
        let refusing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refuse = refusing.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                let refuse = refuse.clone();
                let down = move || refuse.load(std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    if down() {
                        let _ = w.write_all(b"421 sink is down\r\n").await;
                        return;
                    }
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let (mut in_data, mut message) = (false, String::new());
                    while let Ok(Some(line)) = lines.next_line().await {
                        // Pooled connections too: a server that went down answers nothing well.
                        if down() && !in_data {
                            let _ = w.write_all(b"421 sink is down\r\n").await;
                            break;
                        }
                        let reply: &[u8] = if in_data {
                            if line == "." {
                                in_data = false;
                                kept.lock().unwrap().push(decode(&std::mem::take(&mut message)));
                                b"250 queued\r\n"
                            } else {
                                message.push_str(line.strip_prefix('.').unwrap_or(&line));
                                message.push('\n');
                                continue;
                            }
                        } else {
                            match line.get(..4).unwrap_or_default().to_ascii_uppercase().as_str() {
                                "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                                "DATA" => {
                                    in_data = true;
                                    b"354 go ahead\r\n"
                                }
                                "QUIT" => {
                                    let _ = w.write_all(b"221 bye\r\n").await;
                                    break;
                                }
                                _ => b"250 ok\r\n",
                            }
                        };
                        if w.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { url, mails, refusing }
    }

    /// Turns every new connection away (or stops doing so).
    pub fn refuse(&self, on: bool) {
        self.refusing.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The newest message to `to` whose text contains `needle`, waiting for it to arrive.
    pub async fn wait_for(&self, to: &str, needle: &str) -> String {
        for _ in 0..500 {
            if let Some(m) =
                self.mails.lock().unwrap().iter().rev().find(|m| m.contains(&format!("To: {to}")) && m.contains(needle))
            {
                return m.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no email to {to} containing {needle:?} arrived; got {:?}", self.mails.lock().unwrap());
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }

    pub fn count_to(&self, to: &str) -> usize {
        self.mails.lock().unwrap().iter().filter(|m| m.contains(&format!("To: {to}"))).count()
    }
}

/// The `token=` value of the link in an email.
pub fn link_token(mail: &str) -> String {
    let rest = mail.split("token=").nth(1).expect("a link with a token");
    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// The message as a mail client shows it: a quoted-printable body decoded.
fn decode(message: &str) -> String {
    let Some((head, body)) = message.split_once("\n\n") else { return message.to_owned() };
    if !head.contains("Content-Transfer-Encoding: quoted-printable") {
        return message.to_owned();
    }
    let joined = body.replace("=\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(b) = joined.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    format!("{head}\n\n{}", String::from_utf8_lossy(&out))
}
