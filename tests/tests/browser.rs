//! The demo app in a real browser: headless Chromium driven through chromedriver (WebDriver),
//! so the session cookie's attributes, the redirects and the POST forms are checked the way a
//! person would use them, not only through reqwest.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without
//! `/usr/bin/chromedriver` the test prints `SKIPPED` and passes, except under `CI=true`, where
//! it fails.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use example_sqlite::{Config, Demo};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tempfile::TempDir;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long one page may take to show what the test waits for.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// A chromedriver process started by this test, with the browser profile it uses. Dropping it
/// (also when the test panics) kills chromedriver and the Chromium it started, and deletes the
/// profile.
struct Chromedriver {
    child: Child,
    port: u16,
    profile: TempDir,
}

impl Chromedriver {
    fn start() -> Self {
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so Drop can end Chromium with it.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("chromedriver starts");
        let driver = Self {
            child,
            port,
            profile: tempfile::tempdir().expect("a temporary browser profile"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn browser(&self) -> Client {
        let binary = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .unwrap_or("/usr/bin/chromium");
        let user_data_dir = format!("--user-data-dir={}", self.profile.path().display());
        // Without the background-networking flags Chromium reaches for Google's servers, and
        // this machine's closed network refuses those connections.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            user_data_dir.as_str(),
        ];
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": binary, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .expect("chromedriver starts a Chromium session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The whole group: chromedriver and the Chromium processes it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// `true` when the test can run; `false` (after saying so loudly) when it must be skipped.
fn chromedriver_available() -> bool {
    if Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    axum_login_tests::env::skipped(
        "browser test",
        &format!(
            "{CHROMEDRIVER} is missing: install Debian's `chromium` and `chromium-driver` (.ci/run does)"
        ),
    );
    false
}

async fn serve_demo(dir: &TempDir) -> (SocketAddr, Demo) {
    let demo = Demo::new(Config {
        database: dir.path().join("demo.db"),
        session_key: None,
        mfa_key: None,
        ..Config::default()
    })
    .await
    .expect("the demo starts");
    let addr = axum_login_tests::http::serve_with_addr(demo.router()).await;
    (addr, demo)
}

/// Waits until the browser's URL has `path` and `query`, and answers the page's source.
async fn wait_for_page(browser: &Client, path: &str, query: Option<&str>) -> String {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let url = browser.current_url().await.expect("the current URL");
        if url.path() == path && url.query() == query {
            return browser.source().await.expect("the page source");
        }
        assert!(
            Instant::now() < deadline,
            "expected {path}?{query:?}, the browser is at {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The HTTP status of the page the browser shows (Navigation Timing's `responseStatus`).
async fn page_status(browser: &Client) -> u64 {
    browser
        .execute(
            "return performance.getEntriesByType('navigation')[0].responseStatus;",
            vec![],
        )
        .await
        .expect("the script runs")
        .as_u64()
        .expect("a status number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_logs_in_is_refused_admin_and_logs_out() {
    if !chromedriver_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (addr, _demo) = serve_demo(&dir).await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let base = format!("http://{addr}");

    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        // An anonymous visitor opening a protected page is sent to the login form.
        browser
            .goto(&format!("{base}/protected"))
            .await
            .expect("open /protected");
        let page = wait_for_page(&browser, "/login", Some("next=%2Fprotected")).await;
        assert!(page.contains("Log in"), "{page}");
        let next = browser
            .find(Locator::Css("input[name=next]"))
            .await
            .expect("the hidden next field")
            .attr("value")
            .await
            .expect("its value");
        assert_eq!(next.as_deref(), Some("/protected"));

        // Typing the credentials and submitting brings the browser back to /protected.
        browser
            .find(Locator::Css("input[name=username]"))
            .await
            .expect("the username field")
            .send_keys("ferris")
            .await
            .expect("type the username");
        browser
            .find(Locator::Css("input[name=password]"))
            .await
            .expect("the password field")
            .send_keys("hunter42")
            .await
            .expect("type the password");
        browser
            .find(Locator::Css("#login"))
            .await
            .expect("the login button")
            .click()
            .await
            .expect("submit the login form");
        let page = wait_for_page(&browser, "/protected", None).await;
        assert!(page.contains("Hello, ferris."), "{page}");
        assert_eq!(page_status(&browser).await, 200);

        // The browser kept the session cookie with the attributes the demo sets.
        let cookies = browser.get_all_cookies().await.expect("the cookies");
        let session = cookies
            .iter()
            .find(|cookie| cookie.name() == "id")
            .expect("the session cookie");
        assert_eq!(session.http_only(), Some(true), "HttpOnly");
        assert_eq!(
            format!("{:?}", session.same_site()),
            "Some(Lax)",
            "SameSite=Lax"
        );
        assert_ne!(session.secure(), Some(true), "not Secure on plain HTTP");

        // A user without the admin role sees 403, and is not redirected.
        browser
            .goto(&format!("{base}/admin"))
            .await
            .expect("open /admin");
        let page = wait_for_page(&browser, "/admin", None).await;
        assert_eq!(page_status(&browser).await, 403);
        assert!(!page.contains("Only admins see this page."), "{page}");

        // Logging out through the POST form lands on the login page.
        browser.goto(&format!("{base}/")).await.expect("open /");
        let page = wait_for_page(&browser, "/", None).await;
        assert!(
            page.contains("Logged in as <strong>ferris</strong>"),
            "{page}"
        );
        browser
            .find(Locator::Css("#logout"))
            .await
            .expect("the logout button")
            .click()
            .await
            .expect("submit the logout form");
        let page = wait_for_page(&browser, "/login", None).await;
        assert!(page.contains(r#"name="username""#), "{page}");

        // The protected page is closed again.
        browser
            .goto(&format!("{base}/protected"))
            .await
            .expect("open /protected");
        wait_for_page(&browser, "/login", Some("next=%2Fprotected")).await;
    })
    .await;

    let _ = browser.close().await;
    drop(driver);
    outcome.expect("the browser flow finishes within 120 s");
}

/// Fills the demo's login form on the page the browser shows and submits it.
async fn submit_login(browser: &Client, username: &str, password: &str, remember: bool) {
    for (field, value) in [("username", username), ("password", password)] {
        browser
            .find(Locator::Css(&format!("input[name={field}]")))
            .await
            .expect("a login field")
            .send_keys(value)
            .await
            .expect("type into the login form");
    }
    if remember {
        browser
            .find(Locator::Css("input[name=remember]"))
            .await
            .expect("the remember-me box")
            .click()
            .await
            .expect("tick remember me");
    }
    browser
        .find(Locator::Css("#login"))
        .await
        .expect("the login button")
        .click()
        .await
        .expect("submit the login form");
}

/// A browser restart, as far as cookies go: the session cookie (no `Max-Age`) is gone, the
/// persistent ones stay.
async fn drop_session_cookie(browser: &Client) {
    browser
        .delete_cookie("id")
        .await
        .expect("delete the session cookie");
    let cookies = browser.get_all_cookies().await.expect("the cookies");
    assert!(cookies.iter().all(|cookie| cookie.name() != "id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_stays_logged_in_after_a_restart_only_when_remembered() {
    if !chromedriver_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (addr, _demo) = serve_demo(&dir).await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let base = format!("http://{addr}");

    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        for remember in [false, true] {
            browser
                .goto(&format!("{base}/login"))
                .await
                .expect("open /login");
            wait_for_page(&browser, "/login", None).await;
            submit_login(&browser, "ferris", "hunter42", remember).await;
            let page = wait_for_page(&browser, "/", None).await;
            assert!(
                page.contains("Logged in as <strong>ferris</strong>"),
                "{page}"
            );
            let cookies = browser.get_all_cookies().await.expect("the cookies");
            let remembered = cookies
                .iter()
                .find(|cookie| cookie.name() == "axum_login_remember");
            assert_eq!(remembered.is_some(), remember, "{cookies:?}");
            if let Some(cookie) = remembered {
                assert_eq!(cookie.http_only(), Some(true), "HttpOnly");
            }
            let session_before = cookies
                .iter()
                .find(|cookie| cookie.name() == "id")
                .map(|cookie| cookie.value().to_owned());

            drop_session_cookie(&browser).await;
            browser
                .goto(&format!("{base}/protected"))
                .await
                .expect("open /protected");
            if remember {
                let page = wait_for_page(&browser, "/protected", None).await;
                assert!(page.contains("Hello, ferris."), "{page}");
                let cookies = browser.get_all_cookies().await.expect("the cookies");
                let session_after = cookies
                    .iter()
                    .find(|cookie| cookie.name() == "id")
                    .map(|cookie| cookie.value().to_owned());
                assert!(session_after.is_some(), "a new session");
                assert_ne!(session_after, session_before, "under a new id");
            } else {
                wait_for_page(&browser, "/login", Some("next=%2Fprotected")).await;
            }
        }
    })
    .await;

    let _ = browser.close().await;
    drop(driver);
    outcome.expect("the browser flow finishes within 120 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_enrols_totp_logs_out_and_logs_in_with_a_code() {
    use axum_login::mfa::{Totp, TotpSecret};

    if !chromedriver_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (addr, _demo) = serve_demo(&dir).await;
    let driver = Chromedriver::start();
    let browser = driver.browser().await;
    let base = format!("http://{addr}");
    let code = |secret: &TotpSecret, offset: u64| {
        let totp = Totp::new("axum-login demo");
        totp.code_at_step(secret, totp.step_at(std::time::SystemTime::now()) + offset)
    };
    let type_code = |code: String| {
        let browser = browser.clone();
        async move {
            browser
                .find(Locator::Css("input[name=code]"))
                .await
                .expect("the code field")
                .send_keys(&code)
                .await
                .expect("type the code");
        }
    };

    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        browser
            .goto(&format!("{base}/login"))
            .await
            .expect("open /login");
        wait_for_page(&browser, "/login", None).await;
        submit_login(&browser, "ferris", "hunter42", false).await;
        wait_for_page(&browser, "/", None).await;

        // Enrol: the page's button (a POST: loading the page starts nothing) shows the QR code
        // and the key; a first code turns TOTP on and shows the recovery codes.
        browser
            .goto(&format!("{base}/account/2fa"))
            .await
            .expect("open /account/2fa");
        let page = wait_for_page(&browser, "/account/2fa", None).await;
        assert!(
            !page.contains("<svg"),
            "no QR code before the button: {page}"
        );
        browser
            .find(Locator::Css("#start"))
            .await
            .expect("the start button")
            .click()
            .await
            .expect("start the enrolment");
        let page = wait_for_page(&browser, "/account/2fa/start", None).await;
        assert!(page.contains("<svg"), "the QR code: {page}");
        let secret = browser
            .find(Locator::Css("#secret"))
            .await
            .expect("the key")
            .text()
            .await
            .expect("its text");
        let secret = TotpSecret::from_base32(&secret).expect("a base32 key");
        type_code(code(&secret, 0)).await;
        browser
            .find(Locator::Css("#confirm"))
            .await
            .expect("the confirm button")
            .click()
            .await
            .expect("confirm");
        let deadline = Instant::now() + PAGE_TIMEOUT;
        let codes = loop {
            let codes = browser
                .find_all(Locator::Css("#recovery-codes .recovery-code"))
                .await
                .expect("the recovery codes");
            if !codes.is_empty() || Instant::now() > deadline {
                break codes;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(codes.len(), 10, "ten recovery codes");

        // Log out, and log in again: the password leads to the code form, not in.
        browser.goto(&format!("{base}/")).await.expect("open /");
        wait_for_page(&browser, "/", None).await;
        browser
            .find(Locator::Css("#logout"))
            .await
            .expect("the logout button")
            .click()
            .await
            .expect("log out");
        wait_for_page(&browser, "/login", None).await;
        submit_login(&browser, "ferris", "hunter42", false).await;
        let deadline = Instant::now() + PAGE_TIMEOUT;
        while browser.find(Locator::Css("#code-form")).await.is_err() {
            assert!(Instant::now() < deadline, "the code form is shown");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(page_status(&browser).await, 200);
        // The code used to enrol is spent; the next step's is within the window.
        type_code(code(&secret, 1)).await;
        browser
            .find(Locator::Css("#verify"))
            .await
            .expect("the verify button")
            .click()
            .await
            .expect("submit the code");
        let page = wait_for_page(&browser, "/", None).await;
        assert!(
            page.contains("Logged in as <strong>ferris</strong>"),
            "{page}"
        );

        browser
            .goto(&format!("{base}/account/secure"))
            .await
            .expect("open /account/secure");
        wait_for_page(&browser, "/account/secure", None).await;
        assert_eq!(page_status(&browser).await, 200);
    })
    .await;

    let _ = browser.close().await;
    drop(driver);
    outcome.expect("the browser flow finishes within 120 s");
}

/// The demo on a port chosen first, so that its mailed links (`PUBLIC_URL`) point at it, with
/// its mail going through the test SMTP server.
async fn serve_demo_with_mail(dir: &TempDir, smtp_url: &str) -> (SocketAddr, Demo) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    let demo = Demo::new(Config {
        database: dir.path().join("demo.db"),
        public_url: format!("http://{addr}"),
        smtp_url: Some(smtp_url.to_owned()),
        ..Config::default()
    })
    .await
    .expect("the demo starts");
    let app = demo
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server runs") });
    (addr, demo)
}

/// Waits until the page the browser shows contains `text` (a form posted to the page's own
/// URL answers without changing it).
async fn wait_for_text(browser: &Client, text: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let page = browser.source().await.expect("the page source");
        if page.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "{text:?} never showed: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `value` into the field `name` of the page the browser shows.
async fn fill(browser: &Client, name: &str, value: &str) {
    browser
        .find(Locator::Css(&format!("input[name={name}]")))
        .await
        .unwrap_or_else(|_| panic!("the field {name}"))
        .send_keys(value)
        .await
        .expect("type into the form");
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("the button {css}"))
        .click()
        .await
        .expect("click");
}

/// The link starting with `prefix` in the text part of the mail the server saved for `to`.
async fn mailed_link(mailbox: &Path, to: &str, prefix: &str) -> String {
    let has_link = |mail: &axum_login_tests::mail::Mail| {
        mail.parts.iter().any(|(_, body)| body.contains(prefix))
    };
    let raw = axum_login_tests::mail::delivered_matching(mailbox, to, has_link).await;
    let mail = axum_login_tests::mail::Mail::parse(&raw);
    let text = &mail.parts.first().expect("a text part").1;
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[start..]
        .split_whitespace()
        .next()
        .expect("a link")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_up_confirms_by_mail_and_resets_a_forgotten_password() {
    if !chromedriver_available() {
        return;
    }
    let Some(smtp) = axum_login_tests::mail::server("browser sign-up and reset").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let (addr, _demo) = serve_demo_with_mail(&dir, &smtp.url).await;
    let base = format!("http://{addr}");
    let email = format!("crab-{:016x}@example.test", rand::random::<u64>());
    let (first, second) = (Chromedriver::start(), Chromedriver::start());
    let browser = first.browser().await;
    let other = second.browser().await;

    let outcome = tokio::time::timeout(Duration::from_secs(180), async {
        // Sign up from the form, then open the link the mail brings.
        browser
            .goto(&format!("{base}/signup"))
            .await
            .expect("open /signup");
        wait_for_page(&browser, "/signup", None).await;
        fill(&browser, "username", "crab").await;
        fill(&browser, "email", &email).await;
        fill(&browser, "password", "shells and sand").await;
        click(&browser, "#signup").await;
        let page = wait_for_page(&browser, "/signup/check-mail", None).await;
        assert!(page.contains("Check your mail"), "{page}");
        let link = mailed_link(&smtp.mailbox, &email, &format!("{base}/verify-email/")).await;
        browser
            .goto(&link)
            .await
            .expect("open the verification link");
        click(&browser, "#verify").await;
        let page = wait_for_page(&browser, "/", None).await;
        assert!(page.contains("Your address is confirmed"), "{page}");

        // Log in with the new account, here and in another browser.
        for client in [&browser, &other] {
            client
                .goto(&format!("{base}/login"))
                .await
                .expect("open /login");
            wait_for_page(client, "/login", None).await;
            submit_login(client, "crab", "shells and sand", false).await;
            let page = wait_for_page(client, "/", None).await;
            assert!(
                page.contains("Logged in as <strong>crab</strong>"),
                "{page}"
            );
        }
        browser
            .goto(&format!("{base}/account/verified"))
            .await
            .expect("open");
        wait_for_page(&browser, "/account/verified", None).await;
        assert_eq!(page_status(&browser).await, 200);

        // Forgotten: the link from the login page, the mail, the new password.
        click(&browser, "#logout").await;
        wait_for_page(&browser, "/login", None).await;
        click(&browser, "#forgot").await;
        wait_for_page(&browser, "/password-reset", None).await;
        fill(&browser, "email", &email).await;
        click(&browser, "#send-link").await;
        // The answer comes back at the form's own address, where the browser already is:
        // waiting for the address would read the form before the answer arrived.
        wait_for_text(&browser, "If an account uses this address").await;
        wait_for_page(&browser, "/password-reset", None).await;
        let link = mailed_link(&smtp.mailbox, &email, &format!("{base}/password-reset/")).await;
        browser.goto(&link).await.expect("open the reset link");
        fill(&browser, "new_password", "tides and reefs").await;
        click(&browser, "#reset").await;
        let page = wait_for_page(&browser, "/login", None).await;
        assert!(page.contains("Your password is changed"), "{page}");

        // The old password fails; the new one works.
        submit_login(&browser, "crab", "shells and sand", false).await;
        wait_for_text(&browser, "Wrong username or password.").await;
        assert_eq!(page_status(&browser).await, 401);
        browser
            .goto(&format!("{base}/login"))
            .await
            .expect("open /login");
        wait_for_page(&browser, "/login", None).await;
        submit_login(&browser, "crab", "tides and reefs", false).await;
        let page = wait_for_page(&browser, "/", None).await;
        assert!(
            page.contains("Logged in as <strong>crab</strong>"),
            "{page}"
        );

        // The other browser was logged out by the reset.
        other
            .goto(&format!("{base}/protected"))
            .await
            .expect("open /protected");
        wait_for_page(&other, "/login", Some("next=%2Fprotected")).await;
    })
    .await;

    let _ = browser.close().await;
    let _ = other.close().await;
    drop((first, second));
    outcome.expect("the browser flow finishes within 180 s");
}

/// The demo on a port chosen first, so that the provider's callback (under `PUBLIC_URL`)
/// reaches it, signing in with the test OpenID Connect provider.
async fn serve_demo_with_provider(
    dir: &TempDir,
    provider: &axum_login_tests::oidc::ProviderEnv,
) -> (SocketAddr, Demo) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    let demo = Demo::new(Config {
        database: dir.path().join("demo.db"),
        public_url: format!("http://{addr}"),
        oidc: Some(example_sqlite::OidcConfig {
            issuer: provider.issuer.clone(),
            client_id: provider.client_id.clone(),
            client_secret: provider.client_secret.clone(),
            name: Some("Test Provider".to_owned()),
        }),
        ..Config::default()
    })
    .await
    .expect("the demo starts");
    let app = demo
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server runs") });
    (addr, demo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_with_the_provider_and_lands_on_the_page_it_started_from() {
    if !chromedriver_available() {
        return;
    }
    let Some(provider) = axum_login_tests::oidc::provider("browser sign-in with a provider").await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let (addr, _demo) = serve_demo_with_provider(&dir, &provider).await;
    let base = format!("http://{addr}");
    let driver = Chromedriver::start();
    let browser = driver.browser().await;

    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        // A guarded page sends the visitor to the login page, which offers the provider.
        browser
            .goto(&format!("{base}/protected"))
            .await
            .expect("open /protected");
        wait_for_page(&browser, "/login", Some("next=%2Fprotected")).await;
        click(&browser, "#oidc-login").await;
        // The provider's own login and consent pages.
        wait_for_text(&browser, "name=\"password\"").await;
        assert!(
            browser
                .current_url()
                .await
                .expect("the URL")
                .as_str()
                .starts_with(&provider.issuer)
        );
        fill(&browser, "username", "alice").await;
        fill(&browser, "password", "alice-password").await;
        click(&browser, "button[type=submit]").await;
        wait_for_text(&browser, "Allow").await;
        click(&browser, "form[action$='/confirm'] button").await;
        // Back on the demo, logged in, on the page the visit started from.
        let page = wait_for_page(&browser, "/protected", None).await;
        assert!(page.contains("alice"), "{page}");
        browser
            .goto(&format!("{base}/account/providers"))
            .await
            .expect("open /account/providers");
        let page = wait_for_page(&browser, "/account/providers", None).await;
        assert!(page.contains("Test Provider (alice@example.com)"), "{page}");
    })
    .await;

    let _ = browser.close().await;
    drop(driver);
    outcome.expect("the browser flow finishes within 120 s");
}
