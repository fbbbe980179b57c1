//! `SmtpMailer` and `Outbox` against a real SMTP server, reading what arrived from its Maildir.
//!
//! `tests/smtp/start-smtp.sh` starts the server and writes the variables read here
//! (`SMTP_URL`, `SMTP_STARTTLS_URL`, `SMTPS_URL`, `SMTP_CA_CERT`, `SMTP_MAILBOX`; the defaults
//! are the script's); `.ci/run` runs it and exports them. When the server cannot be reached a
//! test prints `SKIPPED` and passes, except under `CI=true`, where it fails.
//!
//! Each test sends to a recipient of its own (a random name), and finds its message by it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum_login::mail::{MailError, Mailer as _, Message, Outbox, SmtpMailer};
use axum_login_tests::mail::{Env, Mail, delivered_to, server};
use tokio::sync::mpsc;

const FROM: &str = "axum-login tests <no-reply@example.test>";

fn recipient() -> String {
    format!("user-{:016x}@example.test", rand::random::<u64>())
}

/// A reset link long enough that quoted-printable has to break its line, with the characters
/// it escapes (`=`, `&`).
fn link() -> String {
    format!(
        "https://app.example.test/reset-password?token={}&next=%2Faccount%2Fsettings",
        "Ab9_".repeat(20)
    )
}

fn reset_message(to: &str, link: &str) -> Message {
    Message::new(
        "password_reset",
        to,
        format!("Reset your password ({to})"),
        format!("Someone asked to reset your password.\n\nOpen {link} to choose a new one.\n"),
        format!(
            "<p>Someone asked to reset your password.</p>\n<p><a href=\"{}\">Choose a new password</a></p>\n",
            link.replace('&', "&amp;")
        ),
    )
}

/// Sends a reset mail through `mailer` to a new recipient and checks what the server saved:
/// the envelope and headers, `multipart/alternative` with the text then the HTML part, and the
/// link whole in both once decoded.
async fn send_and_find(mailer: &SmtpMailer, env: &Env) {
    let to = recipient();
    let link = link();
    mailer
        .send(&reset_message(&to, &link))
        .await
        .expect("the server takes the message");

    let raw = delivered_to(&env.mailbox, &to).await;
    let mail = Mail::parse(&raw);
    assert_eq!(mail.header("To"), to);
    assert_eq!(
        mail.header("Subject"),
        format!("Reset your password ({to})")
    );
    assert!(mail.header("From").contains("no-reply@example.test"));
    assert!(
        mail.header("Content-Type")
            .starts_with("multipart/alternative"),
        "{}",
        mail.headers
    );
    let [(text_type, text), (html_type, html)] = &mail.parts[..] else {
        panic!("two parts, not {}:\n{raw}", mail.parts.len());
    };
    assert!(text_type.starts_with("text/plain"), "{text_type}");
    assert!(html_type.starts_with("text/html"), "{html_type}");
    assert!(
        text.contains(&format!("Open {link} to choose a new one.")),
        "{text}"
    );
    assert!(
        html.contains(&format!(
            "<a href=\"{}\">Choose a new password</a>",
            link.replace('&', "&amp;")
        )),
        "{html}"
    );
}

#[tokio::test]
async fn plain_smtp_delivers_both_parts_with_the_link_intact() {
    let Some(env) = server("plain_smtp_delivers_both_parts_with_the_link_intact").await else {
        return;
    };
    let mailer = SmtpMailer::from_url(&env.url, FROM)
        .expect("a valid URL")
        .timeout(Duration::from_secs(5));
    send_and_find(&mailer, &env).await;
}

#[tokio::test]
async fn starttls_with_auth_and_the_test_ca_delivers() {
    let Some(env) = server("starttls_with_auth_and_the_test_ca_delivers").await else {
        return;
    };
    let mailer = SmtpMailer::from_url(&env.starttls_url, FROM)
        .expect("a valid URL")
        .with_root_certificate_pem(&env.ca_cert())
        .expect("the test CA")
        .timeout(Duration::from_secs(5));
    send_and_find(&mailer, &env).await;
}

#[tokio::test]
async fn smtps_with_auth_and_the_test_ca_delivers() {
    let Some(env) = server("smtps_with_auth_and_the_test_ca_delivers").await else {
        return;
    };
    let mailer = SmtpMailer::from_url(&env.smtps_url, FROM)
        .expect("a valid URL")
        .with_root_certificate_pem(&env.ca_cert())
        .expect("the test CA")
        .timeout(Duration::from_secs(5));
    send_and_find(&mailer, &env).await;
}

#[tokio::test]
async fn starttls_refuses_a_certificate_from_an_untrusted_ca() {
    let Some(env) = server("starttls_refuses_a_certificate_from_an_untrusted_ca").await else {
        return;
    };
    let mailer = SmtpMailer::from_url(&env.starttls_url, FROM)
        .expect("a valid URL")
        .timeout(Duration::from_secs(5));
    let to = recipient();
    let error = mailer
        .send(&reset_message(&to, &link()))
        .await
        .expect_err("the test CA is not trusted");
    assert!(matches!(error, MailError::Transport(_)), "{error:?}");
}

#[tokio::test]
async fn a_wrong_password_is_a_permanent_error_and_not_retried() {
    let Some(env) = server("a_wrong_password_is_a_permanent_error_and_not_retried").await else {
        return;
    };
    let (credentials, host) = env
        .starttls_url
        .rsplit_once('@')
        .expect("the STARTTLS URL has credentials");
    let (user, _) = credentials.rsplit_once(':').expect("user:password");
    let wrong = format!("{user}:not-the-password@{host}");
    let mailer = SmtpMailer::from_url(&wrong, FROM)
        .expect("a valid URL")
        .with_root_certificate_pem(&env.ca_cert())
        .expect("the test CA")
        .timeout(Duration::from_secs(5));

    let to = recipient();
    let error = mailer
        .send(&reset_message(&to, &link()))
        .await
        .expect_err("the server refuses the login");
    assert!(matches!(error, MailError::Rejected(_)), "{error:?}");
    assert!(error.to_string().contains("535"), "{error}");

    // Through an outbox that would wait 30 s before a retry, the failure is reported at once.
    let (failed, mut failures) = mpsc::unbounded_channel();
    let outbox = Outbox::new(mailer)
        .attempts(5)
        .backoff(Duration::from_secs(30), Duration::from_secs(30))
        .on_failure(move |message, error| {
            let _ = failed.send((message.to().to_owned(), error.is_permanent()));
        });
    outbox
        .enqueue(reset_message(&to, &link()))
        .expect("room in the outbox");
    let (failed_to, permanent) = tokio::time::timeout(Duration::from_secs(10), failures.recv())
        .await
        .expect("reported before any retry was due")
        .expect("the hook ran");
    assert_eq!(failed_to, to);
    assert!(permanent);
}

#[tokio::test]
async fn a_refused_recipient_is_a_permanent_error() {
    let Some(env) = server("a_refused_recipient_is_a_permanent_error").await else {
        return;
    };
    let mailer = SmtpMailer::from_url(&env.url, FROM)
        .expect("a valid URL")
        .timeout(Duration::from_secs(5));
    // The test server refuses every recipient at this domain with a 550.
    let error = mailer
        .send(&reset_message("nobody@rejected.test", &link()))
        .await
        .expect_err("the server refuses the recipient");
    assert!(matches!(error, MailError::Rejected(_)), "{error:?}");
    assert!(error.is_permanent());
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported_once() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    let mailer = SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}"), FROM)
        .expect("a valid URL")
        .timeout(Duration::from_secs(2));
    let calls = Arc::new(AtomicU32::new(0));
    let (failed, mut failures) = mpsc::unbounded_channel();
    let outbox = Outbox::new(mailer)
        .attempts(3)
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .on_failure({
            let calls = Arc::clone(&calls);
            move |message, error| {
                calls.fetch_add(1, Ordering::SeqCst);
                let _ = failed.send((message.kind(), error.is_permanent(), error.to_string()));
            }
        });

    let start = Instant::now();
    outbox
        .enqueue(reset_message(&recipient(), &link()))
        .expect("room in the outbox");
    assert!(
        start.elapsed() < Duration::from_millis(50),
        "enqueue returned at once, not after a send: {:?}",
        start.elapsed()
    );
    assert_eq!(outbox.queued(), 1);

    let (kind, permanent, error) = tokio::time::timeout(Duration::from_secs(20), failures.recv())
        .await
        .expect("reported after the attempts")
        .expect("the hook ran");
    let elapsed = start.elapsed();
    assert_eq!(kind, "password_reset");
    assert!(!permanent, "a refused connection is retried: {error}");
    assert!(
        elapsed >= Duration::from_millis(300),
        "three attempts, 100 ms and 200 ms apart: reported after {elapsed:?}"
    );
    assert_eq!(outbox.queued(), 0);

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the hook ran once");
}
