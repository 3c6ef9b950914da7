//! Outgoing email: over SMTP (lettre) in production, or written to the log in development.
//! Callers hand over rendered emails; requests never send mail themselves (the outbox does).

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

#[derive(Clone)]
pub enum Mailer {
    /// Development: the email is logged (with its link) instead of sent.
    Log,
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Log => f.write_str("Mailer::Log"),
            Mailer::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
        }
    }
}

impl Mailer {
    /// `smtps://user:pass@host` (implicit TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), or `smtp://host:port` (no TLS: a relay on the same machine only).
    ///
    /// # Errors
    /// When the URL or the sender address is malformed.
    pub fn smtp(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from.parse().map_err(|e| format!("sender address `{from}`: {e}"))?;
        Ok(Mailer::Smtp { transport, from })
    }

    /// Sends one email, once: the durable consumer that calls it retries with growing pauses
    /// and parks the event as a dead letter after its last attempt.
    ///
    /// # Errors
    /// The last failure, when every try failed.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        match self {
            Mailer::Log => {
                // Personal data never goes to the log: the recipient is masked and of the body
                // only its links are shown (what a developer needs to follow them).
                let links: Vec<&str> = body.split_whitespace().filter(|w| w.starts_with("http")).collect();
                let to = mask(to);
                tracing::info!(target: "rouge::mail", %to, subject, ?links, "email (development mailer: not sent)");
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
                let msg = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .body(body.to_owned())
                    .map_err(|e| format!("building the email: {e}"))?;
                transport.send(msg).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
            }
        }
    }
}

/// `ana@example.com` → `a…@example.com`: enough to tell emails apart while developing,
/// not enough to be personal data in a log.
fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{}…@{domain}", local.chars().next().unwrap_or('?')),
        None => "…".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recipients_are_masked() {
        assert_eq!(super::mask("ana.secret@example.com"), "a…@example.com");
        assert_eq!(super::mask("nonsense"), "…");
    }
}
