//! Accounts by mail (`axum_login::accounts`), over HTTP against a real server. Password reset:
//! the request answers alike for every address, the link comes from the configured public
//! URL, a `GET` never uses the token, a reset works once and ends the user's sessions, and a
//! later login, a password change or the clock voids a link. Sign-up: a taken address gets the
//! same answer as a new one and its owner a notice, the verification link confirms the address
//! once, and no token works for another purpose. Mail goes to a `MemoryMailer`.
#![allow(clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Extension, Form, Router,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, PasswordCredentials, SqlxStore, Throttle,
    UserStore,
    accounts::{
        Accounts, ChangeRequested, EmailChanged, MemoryAccountTokenStore, ResetOutcome,
        ResetRequested, SignInRequested, SignUp, SignedIn, Verified,
    },
    clock::ManualClock,
    error::BoxError,
    events::{AuthEvent, EventRecord},
    login::BoxFuture,
    mail::{MemoryMailer, Outbox},
    remember::{MemoryRememberStore, RememberMe},
    require_login,
    second_factor::SecondFactorLookup,
    security::MemoryThrottleStore,
    session::MemoryStore,
    session_layer,
};
use axum_login_tests::http::{Visitor, serve_with_addr};
use secrecy::SecretString;

#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(email)]
    email: Option<String>,
    #[auth(email_verified)]
    email_verified: bool,
}

type Store = SqlxStore<User, sqlx::Sqlite>;

const PUBLIC_URL: &str = "https://accounts.example.test/app";

#[derive(serde::Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login(
    mut auth: AuthSession<Store>,
    Form(form): Form<Login>,
) -> Result<Response, AuthError> {
    let credentials = PasswordCredentials::new(&form.username, form.password);
    match auth.authenticate(credentials).await? {
        Some(user) => {
            auth.login(&user).await?;
            Ok("logged in".into_response())
        }
        None => Ok((StatusCode::UNAUTHORIZED, "wrong username or password").into_response()),
    }
}

#[require_login(verified)]
async fn verified_only() -> &'static str {
    "confirmed users only"
}

async fn login_remembered(
    mut auth: AuthSession<Store>,
    Form(form): Form<Login>,
) -> Result<Response, AuthError> {
    let credentials = PasswordCredentials::new(&form.username, form.password);
    let Some(user) = auth.authenticate(credentials).await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    auth.login(&user).await?;
    auth.remember_me().await?;
    Ok("remembered".into_response())
}

async fn me(auth: AuthSession<Store>) -> Result<String, AuthError> {
    Ok(auth
        .user()
        .await?
        .map_or_else(|| "anonymous".to_owned(), |user| user.username))
}

#[derive(serde::Deserialize)]
struct ResetRequest {
    email: String,
}

async fn request_reset(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Form(form): Form<ResetRequest>,
) -> Result<Response, AuthError> {
    Ok(
        match accounts.request_password_reset(&auth, &form.email).await? {
            ResetRequested::Accepted => {
                "If an account uses this address, a link is on its way.".into_response()
            }
            ResetRequested::Throttled => {
                (StatusCode::TOO_MANY_REQUESTS, "Too many requests.").into_response()
            }
            ResetRequested::InvalidAddress => {
                (StatusCode::UNPROCESSABLE_ENTITY, "Not an email address.").into_response()
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    )
}

async fn reset_page(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Path(token): Path<String>,
) -> Result<Response, AuthError> {
    Ok(if accounts.check_reset_token(&auth, &token).await? {
        "new password form".into_response()
    } else {
        (StatusCode::BAD_REQUEST, "This link does not work any more.").into_response()
    })
}

#[derive(serde::Deserialize)]
struct NewPassword {
    new_password: SecretString,
}

async fn reset(
    mut auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Path(token): Path<String>,
    Form(form): Form<NewPassword>,
) -> Result<Response, AuthError> {
    Ok(
        match accounts
            .reset_password(&mut auth, &token, form.new_password)
            .await?
        {
            ResetOutcome::Done { .. } => Redirect::to("/login").into_response(),
            ResetOutcome::InvalidToken => {
                (StatusCode::BAD_REQUEST, "This link does not work any more.").into_response()
            }
            ResetOutcome::InvalidPassword { min, max } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{min} to {max} bytes"),
            )
                .into_response(),
            _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    )
}

#[derive(serde::Deserialize)]
struct SignUpForm {
    username: String,
    email: String,
    password: SecretString,
}

async fn sign_up(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Form(form): Form<SignUpForm>,
) -> Result<Response, AuthError> {
    let outcome = accounts
        .sign_up(&auth, &form.username, &form.email, form.password)
        .await?;
    Ok(match outcome {
        SignUp::CheckYourMail => Redirect::to("/check-your-mail").into_response(),
        SignUp::Throttled => StatusCode::TOO_MANY_REQUESTS.into_response(),
        other => (StatusCode::UNPROCESSABLE_ENTITY, format!("{other:?}")).into_response(),
    })
}

async fn verify_page(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Path(token): Path<String>,
) -> Result<StatusCode, AuthError> {
    Ok(if accounts.check_verification_token(&auth, &token).await? {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    })
}

async fn verify(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Path(token): Path<String>,
) -> Result<StatusCode, AuthError> {
    Ok(match accounts.verify_email(&auth, &token).await? {
        Verified::Done => StatusCode::SEE_OTHER,
        _ => StatusCode::BAD_REQUEST,
    })
}

/// Says the user with id 2 (`admin`, the second seeded) has a second factor.
struct AdminHasTotp;

impl SecondFactorLookup for AdminHasTotp {
    fn has_second_factor<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async move { Ok(user == "2") })
    }
}

async fn request_sign_in(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Form(form): Form<ResetRequest>,
) -> Result<Response, AuthError> {
    Ok(match accounts.request_sign_in(&auth, &form.email).await? {
        SignInRequested::Sent => "Enter the code we mailed you.".into_response(),
        SignInRequested::Throttled => StatusCode::TOO_MANY_REQUESTS.into_response(),
        _ => StatusCode::UNPROCESSABLE_ENTITY.into_response(),
    })
}

fn signed_in(outcome: SignedIn) -> Response {
    match outcome {
        SignedIn::LoggedIn => Redirect::to("/").into_response(),
        SignedIn::SecondFactorDue => Redirect::to("/login/code").into_response(),
        SignedIn::WrongCode => StatusCode::UNAUTHORIZED.into_response(),
        _ => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn sign_in_page(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Path(token): Path<String>,
) -> Result<StatusCode, AuthError> {
    Ok(if accounts.check_sign_in_link(&auth, &token).await? {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    })
}

async fn sign_in_link(
    mut auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Path(token): Path<String>,
) -> Result<Response, AuthError> {
    Ok(signed_in(
        accounts.sign_in_with_link(&mut auth, &token).await?,
    ))
}

#[derive(serde::Deserialize)]
struct CodeForm {
    code: String,
}

async fn sign_in_code(
    mut auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Form(form): Form<CodeForm>,
) -> Result<Response, AuthError> {
    Ok(signed_in(
        accounts.sign_in_with_code(&mut auth, &form.code).await?,
    ))
}

#[derive(serde::Deserialize)]
struct NewEmail {
    email: String,
}

async fn change_email(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Form(form): Form<NewEmail>,
) -> Result<Response, AuthError> {
    let Some(user) = auth.user().await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    Ok(
        match accounts
            .request_email_change(&auth, &user, &form.email)
            .await?
        {
            ChangeRequested::Sent => "check the new address".into_response(),
            other => (StatusCode::UNPROCESSABLE_ENTITY, format!("{other:?}")).into_response(),
        },
    )
}

async fn confirm_email(
    auth: AuthSession<Store>,
    Extension(accounts): Extension<Accounts<Store>>,
    Path(token): Path<String>,
) -> Result<StatusCode, AuthError> {
    Ok(match accounts.confirm_email_change(&auth, &token).await? {
        EmailChanged::Done => StatusCode::SEE_OTHER,
        EmailChanged::Taken => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    })
}

struct App {
    base: String,
    store: Store,
    mailer: MemoryMailer,
    clock: ManualClock,
    tokens: MemoryAccountTokenStore,
    accounts: Accounts<Store>,
    events: Arc<Mutex<Vec<AuthEvent>>>,
}

impl App {
    async fn start() -> Self {
        Self::start_with(Throttle::new(MemoryThrottleStore::default())).await
    }

    async fn start_with(throttle: Throttle) -> Self {
        Self::start_full(throttle, false).await
    }

    /// With `log_in_after_reset`, and a second-factor lookup that says `admin` has one.
    async fn start_full(throttle: Throttle, log_in_after_reset: bool) -> Self {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, \
             password_hash TEXT NOT NULL, email TEXT UNIQUE, \
             email_verified BOOLEAN NOT NULL DEFAULT FALSE)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let store = Store::new(pool.clone());
        for (name, password, email) in [
            ("ferris", "hunter42", Some("ferris@example.com")),
            ("admin", "correct-horse-battery", Some("admin@example.com")),
            ("nomail", "password1", None),
        ] {
            let user = store.create_user(name, password.into()).await.unwrap();
            sqlx::query("UPDATE users SET email = ? WHERE id = ?")
                .bind(email)
                .bind(user.id)
                .execute(&pool)
                .await
                .unwrap();
        }
        let mailer = MemoryMailer::default();
        let tokens = MemoryAccountTokenStore::default();
        // Two attempts a few milliseconds apart: a mail that fails is given up on at once.
        let outbox = Outbox::new(mailer.clone())
            .attempts(2)
            .backoff(Duration::from_millis(5), Duration::from_millis(5));
        let accounts = Accounts::new(tokens.clone(), outbox, PUBLIC_URL)
            .unwrap()
            .unverified_url("/confirm-your-address")
            .log_in_after_reset(log_in_after_reset);
        let events: Arc<Mutex<Vec<AuthEvent>>> = Arc::default();
        let clock = ManualClock::new();
        let layer = AuthLayer::builder(store.clone(), session_layer(MemoryStore::default()))
            .clock(clock.clone())
            .throttle(throttle)
            .accounts(&accounts)
            .second_factors(AdminHasTotp)
            .remember_me(RememberMe::new(MemoryRememberStore::default()))
            .events({
                let events = events.clone();
                move |record: &EventRecord| events.lock().unwrap().push(record.event.clone())
            })
            .build();
        let app = Router::new()
            .route("/login", post(login))
            .route("/me", get(me))
            .route("/login-remembered", post(login_remembered))
            .route("/password-reset", post(request_reset))
            .route("/password-reset/{token}", get(reset_page).post(reset))
            .route("/signup", post(sign_up))
            .route("/account/email", post(change_email))
            .route("/account/email/{token}", post(confirm_email))
            .route("/login/email", post(request_sign_in))
            .route("/login/email/code", post(sign_in_code))
            .route("/login/email/{token}", get(sign_in_page).post(sign_in_link))
            .route("/verified", get(verified_only))
            .route("/verify-email/{token}", get(verify_page).post(verify))
            .layer(Extension(accounts.clone()))
            .layer(layer);
        let addr: SocketAddr = serve_with_addr(app).await;
        Self {
            base: format!("http://{addr}"),
            store,
            mailer,
            clock,
            tokens,
            accounts,
            events,
        }
    }

    fn events(&self) -> Vec<AuthEvent> {
        self.events.lock().unwrap().clone()
    }

    fn visitor(&self) -> Visitor {
        Visitor::new(&self.base)
    }

    async fn ask(&self, email: &str) -> (StatusCode, String) {
        let response = self
            .visitor()
            .post_form("/password-reset", &[("email", email)])
            .await;
        (response.status(), response.text().await.unwrap())
    }

    /// The next reset mail to `to`, and the link in it.
    async fn link_for(&self, to: &str) -> String {
        self.link_of_kind(to, "password_reset").await
    }

    /// The next mail to `to`, which must be of `kind`, and the link in it.
    async fn link_of_kind(&self, to: &str, kind: &str) -> String {
        let mail = self
            .mailer
            .wait_for(to, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no mail to {to}"));
        assert_eq!(mail.kind(), kind, "{}", mail.text());
        let start = mail
            .text()
            .find(PUBLIC_URL)
            .expect("a link in the text part");
        let link = mail.text()[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        assert!(
            mail.html().contains(&format!("href=\"{link}\"")),
            "the HTML part links to the same place: {}",
            mail.html()
        );
        link
    }

    /// The path of `link` on this server: the public URL is another host.
    fn path_of(link: &str) -> String {
        link.strip_prefix(PUBLIC_URL).unwrap().to_owned()
    }

    async fn reset(&self, link: &str, password: &str) -> StatusCode {
        self.visitor()
            .post_form(&Self::path_of(link), &[("new_password", password)])
            .await
            .status()
    }

    async fn logs_in(&self, username: &str, password: &str) -> bool {
        let visitor = self.visitor();
        visitor.login(username, password).await.status() == StatusCode::OK
    }
}

#[tokio::test]
async fn a_request_answers_alike_for_every_address_and_mails_only_an_account() {
    let app = App::start().await;
    let unknown = app.ask("nobody@example.com").await;
    let known = app.ask("ferris@example.com").await;
    assert_eq!(unknown, known, "the same status and body");
    assert_eq!(known.0, StatusCode::OK);
    // One queue, worked in order: once ferris's mail is there, the unknown address was worked.
    let link = app.link_for("ferris@example.com").await;
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/password-reset/")),
        "{link}"
    );
    let sent = app.mailer.sent();
    assert_eq!(sent.len(), 1, "nothing for the unknown address");
    assert!(!app.tokens.is_empty());
    let (status, _) = app.ask("not an address").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_link_comes_from_the_public_url_whatever_the_request_says_its_host_is() {
    let app = App::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/password-reset", app.base))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("Forwarded", "host=evil.example")
        .form(&[("email", "ferris@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mail = app
        .mailer
        .wait_for("ferris@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    for part in [mail.text(), mail.html()] {
        assert!(!part.contains("evil.example"), "{part}");
        assert!(
            part.contains(&format!("{PUBLIC_URL}/password-reset/")),
            "{part}"
        );
    }
}

#[tokio::test]
async fn a_get_only_looks_and_a_reset_works_once_and_ends_every_session() {
    let app = App::start().await;
    let elsewhere = app.visitor();
    assert_eq!(
        elsewhere.login("ferris", "hunter42").await.status(),
        StatusCode::OK
    );
    assert_eq!(elsewhere.whoami().await, "ferris");

    app.ask("ferris@example.com").await;
    let link = app.link_for("ferris@example.com").await;
    let path = App::path_of(&link);
    for _ in 0..3 {
        // A mail scanner following the link, then the user.
        assert_eq!(app.visitor().get(&path).await.status(), StatusCode::OK);
    }
    // A password the rules refuse leaves the token for the next try.
    assert_eq!(
        app.reset(&link, "short").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.reset(&link, "a new passphrase").await,
        StatusCode::SEE_OTHER
    );
    assert!(
        app.events()
            .iter()
            .any(|event| matches!(event, AuthEvent::PasswordReset { .. })),
        "{:?}",
        app.events()
    );

    assert!(
        !app.logs_in("ferris", "hunter42").await,
        "the old password fails"
    );
    assert!(app.logs_in("ferris", "a new passphrase").await);
    assert_eq!(
        elsewhere.whoami().await,
        "anonymous",
        "the other browser is out"
    );

    assert_eq!(
        app.reset(&link, "another passphrase").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.visitor().get(&path).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert!(
        app.logs_in("ferris", "a new passphrase").await,
        "the second use changed nothing"
    );
}

#[tokio::test]
async fn a_later_login_a_password_change_or_the_clock_voids_a_link() {
    let app = App::start().await;

    app.ask("ferris@example.com").await;
    let before_login = app.link_for("ferris@example.com").await;
    assert!(app.logs_in("ferris", "hunter42").await);
    assert_eq!(
        app.reset(&before_login, "a new passphrase").await,
        StatusCode::BAD_REQUEST
    );

    app.ask("admin@example.com").await;
    let before_change = app.link_for("admin@example.com").await;
    // Changed by the app straight in the store, without telling the layer: the link is bound
    // to the password it was made for.
    let admin = app
        .store
        .find_by_email("admin@example.com")
        .await
        .unwrap()
        .unwrap();
    app.store
        .set_password(&admin.id, "changed elsewhere".into())
        .await
        .unwrap();
    assert_eq!(
        app.reset(&before_change, "a new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    assert!(app.logs_in("admin", "changed elsewhere").await);

    // Logging in above voided ferris's links; a new one expires with the clock.
    app.ask("ferris@example.com").await;
    let expiring = app.link_for("ferris@example.com").await;
    app.clock.advance(Duration::from_secs(61 * 60));
    assert_eq!(
        app.reset(&expiring, "a new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    assert!(app.logs_in("ferris", "hunter42").await, "nothing changed");
}

#[tokio::test]
async fn a_link_is_for_one_address_and_tokens_that_are_not_ones_are_refused() {
    let app = App::start().await;
    app.ask("ferris@example.com").await;
    let link = app.link_for("ferris@example.com").await;
    // The user's address changed after the mail went out.
    sqlx::query("UPDATE users SET email = 'ferris@new.example' WHERE username = 'ferris'")
        .execute(app.store.pool())
        .await
        .unwrap();
    assert_eq!(
        app.reset(&link, "a new passphrase").await,
        StatusCode::BAD_REQUEST
    );
    let garbage = "A".repeat(43);
    for token in ["x", garbage.as_str(), &"%00".repeat(20)] {
        let path = format!("/password-reset/{token}");
        assert_eq!(
            app.visitor().get(&path).await.status(),
            StatusCode::BAD_REQUEST,
            "{token}"
        );
    }
    // A user without an address gets nothing, and the answer is the same.
    assert_eq!(app.ask("nomail@example.com").await.0, StatusCode::OK);
}

#[tokio::test]
async fn requests_are_throttled_per_address_and_mails_per_account() {
    let app = App::start_with(
        Throttle::new(MemoryThrottleStore::default())
            .max_mails_per_address(6)
            .max_mails_per_account(2),
    )
    .await;
    for _ in 0..4 {
        assert_eq!(app.ask("ferris@example.com").await.0, StatusCode::OK);
    }
    assert_eq!(app.ask("admin@example.com").await.0, StatusCode::OK);
    // Worked in order: admin's mail comes after every one of ferris's requests.
    app.link_for("admin@example.com").await;
    let to_ferris = app
        .mailer
        .sent()
        .iter()
        .filter(|mail| mail.to() == "ferris@example.com")
        .count();
    assert_eq!(to_ferris, 2, "the account's limit");
    assert_eq!(app.ask("admin@example.com").await.0, StatusCode::OK);
    let (status, _) = app.ask("admin@example.com").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the address's limit");
}

#[tokio::test]
async fn a_flood_of_requests_for_random_addresses_stays_bounded() {
    let app = App::start_with(
        Throttle::new(MemoryThrottleStore::default()).max_mails_per_address(u32::MAX),
    )
    .await;
    let client = reqwest::Client::new();
    let url = Arc::new(format!("{}/password-reset", app.base));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            for n in 0..625 {
                let email = format!("random-{worker}-{n}@example.com");
                let response = client
                    .post(url.as_str())
                    .form(&[("email", email.as_str())])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert!(
        app.accounts.queued_requests() <= axum_login::accounts::QUEUE,
        "{} queued",
        app.accounts.queued_requests()
    );
    // The queue drains; then a known address is still worked, and nothing went to the
    // random ones.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while app.accounts.queued_requests() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the queue does not drain"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.ask("ferris@example.com").await;
    app.link_for("ferris@example.com").await;
    assert!(
        app.mailer
            .sent()
            .iter()
            .all(|mail| mail.to() == "ferris@example.com")
    );
    assert_eq!(app.tokens.len(), 1);
}

#[tokio::test]
async fn a_mail_given_up_on_is_an_event_and_the_next_request_still_works() {
    let app = App::start().await;
    // Both attempts of the first mail fail.
    app.mailer.fail_next(2);
    assert_eq!(app.ask("ferris@example.com").await.0, StatusCode::OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app.events().iter().any(|event| {
        matches!(
            event,
            AuthEvent::MailFailed {
                kind: "password_reset"
            }
        )
    }) {
        assert!(std::time::Instant::now() < deadline, "{:?}", app.events());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(app.mailer.sent().is_empty());
    // The user asks again, and this time the mail goes.
    app.ask("ferris@example.com").await;
    let link = app.link_for("ferris@example.com").await;
    assert_eq!(
        app.reset(&link, "a new passphrase").await,
        StatusCode::SEE_OTHER
    );
}

impl App {
    async fn sign_up(&self, username: &str, email: &str) -> reqwest::Response {
        self.visitor()
            .post_form(
                "/signup",
                &[
                    ("username", username),
                    ("email", email),
                    ("password", "a fine passphrase"),
                ],
            )
            .await
    }

    async fn verified(&self, username: &str) -> bool {
        sqlx::query_scalar("SELECT email_verified FROM users WHERE username = ?")
            .bind(username)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_sign_up_is_confirmed_once_by_its_link_and_needs_no_login() {
    let app = App::start().await;
    let response = app.sign_up("crab", "crab@example.com").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let link = app.link_of_kind("crab@example.com", "verify_email").await;
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/verify-email/")),
        "{link}"
    );
    assert!(!app.verified("crab").await);
    // The new account logs in before confirming; the link still works after.
    assert!(app.logs_in("crab", "a fine passphrase").await);
    let path = App::path_of(&link);
    for _ in 0..2 {
        assert_eq!(app.visitor().get(&path).await.status(), StatusCode::OK);
    }
    assert!(!app.verified("crab").await, "a GET confirms nothing");
    assert_eq!(
        app.visitor().post(&path).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(app.verified("crab").await);
    assert_eq!(
        app.visitor().post(&path).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert!(
        app.events()
            .iter()
            .any(|event| matches!(event, AuthEvent::EmailVerified { .. }))
    );
}

#[tokio::test]
async fn a_taken_address_gets_the_same_answer_and_its_owner_a_notice() {
    let app = App::start().await;
    let new = app.sign_up("crab", "crab@example.com").await;
    let taken = app.sign_up("impostor", "ferris@example.com").await;
    assert_eq!(new.status(), taken.status());
    assert_eq!(
        new.headers().get("location"),
        taken.headers().get("location")
    );
    assert_eq!(new.text().await.unwrap(), taken.text().await.unwrap());
    let notice = app
        .mailer
        .wait_for("ferris@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(notice.kind(), "already_registered");
    assert!(
        notice
            .text()
            .contains(&format!("{PUBLIC_URL}/password-reset"))
    );
    assert!(
        !app.logs_in("impostor", "a fine passphrase").await,
        "no account was made"
    );
    // A taken username is the form's error, whatever the address.
    let response = app.sign_up("ferris", "someone-else@example.com").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.text().await.unwrap(), "UsernameTaken");
    let response = app.sign_up("", "x@example.com").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app.sign_up("shrimp", "not an address").await;
    assert_eq!(response.text().await.unwrap(), "InvalidAddress");
}

#[tokio::test]
async fn no_token_works_for_another_purpose_and_an_address_change_voids_a_link() {
    let app = App::start().await;
    app.sign_up("crab", "crab@example.com").await;
    let verify = app.link_of_kind("crab@example.com", "verify_email").await;
    app.ask("crab@example.com").await;
    let reset = app.link_for("crab@example.com").await;
    let verify_token = verify.rsplit('/').next().unwrap();
    let reset_token = reset.rsplit('/').next().unwrap();
    // Each token on the other's page.
    let as_reset = format!("/password-reset/{verify_token}");
    assert_eq!(
        app.visitor().get(&as_reset).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.visitor()
            .post_form(&as_reset, &[("new_password", "taken over!")])
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let as_verify = format!("/verify-email/{reset_token}");
    assert_eq!(
        app.visitor().post(&as_verify).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert!(!app.verified("crab").await);
    // The address changes before the link is used: it confirms nothing.
    sqlx::query("UPDATE users SET email = 'crab@elsewhere.example' WHERE username = 'crab'")
        .execute(app.store.pool())
        .await
        .unwrap();
    assert_eq!(
        app.visitor().post(&App::path_of(&verify)).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert!(!app.verified("crab").await);
}

#[tokio::test]
async fn a_verified_guard_lets_a_confirmed_address_through_and_sends_others_to_confirm() {
    let app = App::start().await;
    app.sign_up("crab", "crab@example.com").await;
    let link = app.link_of_kind("crab@example.com", "verify_email").await;
    let crab = app.visitor();
    assert_eq!(
        crab.login("crab", "a fine passphrase").await.status(),
        StatusCode::OK
    );
    let browser = |visitor: &Visitor| {
        visitor
            .client
            .get(visitor.url("/verified"))
            .header("Accept", "text/html")
    };
    let api = |visitor: &Visitor| {
        visitor
            .client
            .get(visitor.url("/verified"))
            .header("Accept", "application/json")
    };
    let response = crab.send(browser(&crab)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/confirm-your-address?next=%2Fverified"
    );
    let response = crab.send(api(&crab)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("email_unverified"));

    assert_eq!(
        app.visitor().post(&App::path_of(&link)).await.status(),
        StatusCode::SEE_OTHER
    );
    // The same session: the user is loaded afresh on each request.
    let response = crab.send(browser(&crab)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "confirmed users only");
    // Seeded users never confirmed theirs; anonymous visitors are sent to log in.
    let ferris = app.visitor();
    ferris.login("ferris", "hunter42").await;
    assert_eq!(
        ferris.send(api(&ferris)).await.status(),
        StatusCode::FORBIDDEN
    );
    let anonymous = app.visitor();
    let response = anonymous.send(browser(&anonymous)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

#[tokio::test]
async fn a_verified_guard_without_accounts_on_the_layer_is_a_setup_error() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, \
         password_hash TEXT NOT NULL, email TEXT UNIQUE, \
         email_verified BOOLEAN NOT NULL DEFAULT TRUE)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = Store::new(pool);
    store
        .create_user("ferris", "hunter42".into())
        .await
        .unwrap();
    let layer = AuthLayer::builder(store, session_layer(MemoryStore::default())).build();
    let app = Router::new()
        .route("/login", post(login))
        .route("/verified", get(verified_only))
        .layer(layer);
    let visitor = Visitor::new(&format!("http://{}", serve_with_addr(app).await));
    visitor.login("ferris", "hunter42").await;
    let response = visitor.get("/verified").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_reset_logs_in_only_when_asked_and_never_past_a_second_factor() {
    let unasked = App::start().await;
    unasked.ask("ferris@example.com").await;
    let link = unasked.link_for("ferris@example.com").await;
    let visitor = unasked.visitor();
    let response = visitor
        .post_form(
            &App::path_of(&link),
            &[("new_password", "a new passphrase")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(visitor.whoami().await, "anonymous");

    let app = App::start_full(Throttle::new(MemoryThrottleStore::default()), true).await;
    for (user, email, logged_in) in [
        ("ferris", "ferris@example.com", "ferris"),
        ("admin", "admin@example.com", "anonymous"),
    ] {
        app.ask(email).await;
        let link = app.link_for(email).await;
        let visitor = app.visitor();
        let response = visitor
            .post_form(
                &App::path_of(&link),
                &[("new_password", "a new passphrase")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{user}");
        assert_eq!(visitor.whoami().await, logged_in, "{user}");
    }
    assert!(app.events().iter().any(|event| matches!(
        event,
        AuthEvent::LoggedIn {
            method: axum_login::events::LoginMethod::PasswordReset,
            ..
        }
    )));
}

impl App {
    /// The next mail to `to`, which must be a sign-in mail, and its link.
    async fn sign_in_mail(&self, to: &str) -> (axum_login::mail::Message, String) {
        let mail = self
            .mailer
            .wait_for(to, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no mail to {to}"));
        assert_eq!(mail.kind(), "sign_in");
        let start = mail.text().find(PUBLIC_URL).expect("a link");
        let link = mail.text()[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        (mail, link)
    }
}

/// The code in a sign-in mail's text.
fn code_of(text: &str) -> String {
    let start = text
        .find("code on the page that asked for it: ")
        .expect("a code")
        + 36;
    text[start..start + 6].to_owned()
}

#[tokio::test]
async fn a_sign_in_link_logs_in_once_and_the_code_only_the_browser_that_asked() {
    let app = App::start().await;
    let asker = app.visitor();
    let known = asker
        .post_form("/login/email", &[("email", "ferris@example.com")])
        .await;
    let (known_status, known_body) = (known.status(), known.text().await.unwrap());
    let unknown = app
        .visitor()
        .post_form("/login/email", &[("email", "nobody@example.com")])
        .await;
    assert_eq!(known_status, unknown.status());
    assert_eq!(known_body, unknown.text().await.unwrap());
    let (mail, link) = app.sign_in_mail("ferris@example.com").await;
    let code = code_of(mail.text());
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/login/email/")),
        "{link}"
    );

    // The code in another browser: it asked for none.
    let thief = app.visitor();
    let response = thief
        .post_form("/login/email/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A wrong code, then the right one, in the browser that asked.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let response = asker
        .post_form("/login/email/code", &[("code", wrong)])
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(asker.whoami().await, "anonymous");
    let response = asker
        .post_form("/login/email/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(asker.whoami().await, "ferris");
    assert!(app.events().iter().any(|event| matches!(
        event,
        AuthEvent::LoggedIn {
            method: axum_login::events::LoginMethod::Email,
            ..
        }
    )));
    // Used: the code is gone; the login voided the link too.
    let response = asker
        .post_form("/login/email/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let path = App::path_of(&link);
    assert_eq!(
        app.visitor().get(&path).await.status(),
        StatusCode::BAD_REQUEST
    );

    // A new request: the link works once, in any browser, and a GET does not use it.
    app.visitor()
        .post_form("/login/email", &[("email", "ferris@example.com")])
        .await;
    let (_, link) = app.sign_in_mail("ferris@example.com").await;
    let path = App::path_of(&link);
    let browser = app.visitor();
    assert_eq!(browser.get(&path).await.status(), StatusCode::OK);
    assert_eq!(browser.whoami().await, "anonymous");
    assert_eq!(browser.post(&path).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.whoami().await, "ferris");
    assert_eq!(
        app.visitor().post(&path).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_code_has_few_tries_and_a_second_factor_still_applies() {
    let app = App::start().await;
    let asker = app.visitor();
    asker
        .post_form("/login/email", &[("email", "ferris@example.com")])
        .await;
    let mail = app
        .mailer
        .wait_for("ferris@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    let code = code_of(mail.text());
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let response = asker
            .post_form("/login/email/code", &[("code", wrong)])
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Past the tries, the right code is refused too.
    let response = asker
        .post_form("/login/email/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(asker.whoami().await, "anonymous");

    // admin has a second factor: the link leaves the session waiting for it.
    app.visitor()
        .post_form("/login/email", &[("email", "admin@example.com")])
        .await;
    let (_, link) = app.sign_in_mail("admin@example.com").await;
    let browser = app.visitor();
    let response = browser.post(&App::path_of(&link)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login/code");
    assert_eq!(browser.whoami().await, "anonymous");
}

#[tokio::test]
async fn a_code_that_was_not_mailed_logs_nobody_in() {
    let app =
        App::start_with(Throttle::new(MemoryThrottleStore::default()).max_mails_per_account(1))
            .await;
    let asker = app.visitor();
    asker
        .post_form("/login/email", &[("email", "ferris@example.com")])
        .await;
    let mail = app
        .mailer
        .wait_for("ferris@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    let code = code_of(mail.text());
    // Asked again: the account had its mail for the window, so this code went nowhere and
    // is kept nowhere; the session now waits for it, not for the first.
    asker
        .post_form("/login/email", &[("email", "ferris@example.com")])
        .await;
    app.ask("admin@example.com").await;
    app.link_for("admin@example.com").await;
    assert_eq!(
        app.mailer
            .sent()
            .iter()
            .filter(|mail| mail.to() == "ferris@example.com")
            .count(),
        1
    );
    let response = asker
        .post_form("/login/email/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(asker.whoami().await, "anonymous");
}

#[tokio::test]
async fn a_new_address_replaces_the_old_only_once_confirmed_and_the_old_one_is_told() {
    let app = App::start().await;
    let ferris = app.visitor();
    ferris.login("ferris", "hunter42").await;
    app.ask("ferris@example.com").await;
    let old_reset = app.link_for("ferris@example.com").await;
    let response = ferris
        .post_form("/account/email", &[("email", "ferris@new.example")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let link = app.link_of_kind("ferris@new.example", "change_email").await;
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/account/email/")),
        "{link}"
    );
    let address = || async {
        sqlx::query_scalar::<_, String>("SELECT email FROM users WHERE username = 'ferris'")
            .fetch_one(app.store.pool())
            .await
            .unwrap()
    };
    assert_eq!(
        address().await,
        "ferris@example.com",
        "nothing changes before the link"
    );
    assert_eq!(
        app.visitor().post(&App::path_of(&link)).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(address().await, "ferris@new.example");
    assert!(
        app.verified("ferris").await,
        "the new address is confirmed by its link"
    );
    let notice = app
        .mailer
        .wait_for("ferris@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(notice.kind(), "email_changed");
    assert!(notice.text().contains("ferris@new.example"));
    // Used once; the old address's reset link died with it.
    assert_eq!(
        app.visitor().post(&App::path_of(&link)).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.reset(&old_reset, "taken over!!").await,
        StatusCode::BAD_REQUEST
    );
    assert!(
        app.events()
            .iter()
            .any(|event| matches!(event, AuthEvent::EmailChanged { .. }))
    );

    // An address another account has: the same answer, a notice to that address, no link.
    let response = ferris
        .post_form("/account/email", &[("email", "admin@example.com")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let notice = app
        .mailer
        .wait_for("admin@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(notice.kind(), "already_registered");
    let response = ferris
        .post_form("/account/email", &[("email", "ferris@new.example")])
        .await;
    assert_eq!(response.text().await.unwrap(), "Unchanged");
}

#[tokio::test]
async fn a_reset_ends_a_remembered_login_too() {
    let app = App::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/login-remembered", app.base))
        .form(&[("username", "ferris"), ("password", "hunter42")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let remember = axum_login_tests::http::set_cookie_headers(&response)
        .into_iter()
        .find(|cookie| cookie.contains("remember"))
        .expect("a remember-me cookie");
    let remember = remember.split(';').next().unwrap().to_owned();
    // A browser that kept only the remember-me cookie is logged in by it.
    let whoami = || async {
        reqwest::Client::new()
            .get(format!("{}/me", app.base))
            .header("Cookie", &remember)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert_eq!(whoami().await, "ferris");
    app.ask("ferris@example.com").await;
    let link = app.link_for("ferris@example.com").await;
    assert_eq!(
        app.reset(&link, "a new passphrase").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(whoami().await, "anonymous");
}
