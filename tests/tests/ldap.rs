//! `LdapStore` against a real OpenLDAP slapd, over HTTP with a real client and cookie jar.
//!
//! `tests/ldap/start-slapd.sh` starts the server and writes the variables read here
//! (`LDAP_URL`, `LDAPS_URL`, `LDAP_CA_CERT`, `LDAP_BASE_DN`, `LDAP_BIND_DN`,
//! `LDAP_BIND_PASSWORD`, `LDAP_ADMIN_DN`, `LDAP_ADMIN_PASSWORD`; the defaults are the script's);
//! `.ci/run` runs it and exports them. When the directory cannot be reached a test prints
//! `SKIPPED` and passes, except under `CI=true`, where it fails.
//!
//! Tests that change the directory do it to users of their own (random names), made and
//! removed through the root DN.

use std::{
    collections::HashSet,
    net::{SocketAddr, ToSocketAddrs},
    path::PathBuf,
    time::{Duration, Instant},
};

use axum::{
    Router,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::session::MemoryStore;
use axum_login::{
    AuthLayer, CurrentUser, PasswordCredentials, Role, Throttle, UserStore,
    ldap::{LdapConfig, LdapConfigBuilder, LdapStore, LdapStoreStats, LdapUser},
    require_login, session_layer,
};
use axum_login_tests::{
    env::{env_or, skipped},
    http::{browser, serve},
    login::{Answers, login},
};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, exop::PasswordModify};
use reqwest::header::ACCEPT;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(Staff))]
    Admin,
    Staff,
}

type User = LdapUser<Access>;
type Store = LdapStore<User>;

const LOGIN_FAILED: &str = "wrong username or password";

/// Where the test directory is, from the environment or the start script's defaults.
struct Env {
    url: String,
    ldaps_url: String,
    ca_cert: PathBuf,
    base: String,
    bind_dn: String,
    bind_password: String,
    admin_dn: String,
    admin_password: String,
}

impl Env {
    fn read() -> Self {
        let dir = env_or("TMPDIR", "/tmp");
        Self {
            url: env_or("LDAP_URL", "ldap://127.0.0.1:3890"),
            ldaps_url: env_or("LDAPS_URL", "ldaps://127.0.0.1:6360"),
            ca_cert: PathBuf::from(env_or(
                "LDAP_CA_CERT",
                &format!("{dir}/axum-login-slapd/ca.pem"),
            )),
            base: env_or("LDAP_BASE_DN", "dc=example,dc=test"),
            bind_dn: env_or("LDAP_BIND_DN", "cn=service,dc=example,dc=test"),
            bind_password: env_or("LDAP_BIND_PASSWORD", "service-secret"),
            admin_dn: env_or("LDAP_ADMIN_DN", "cn=admin,dc=example,dc=test"),
            admin_password: env_or("LDAP_ADMIN_PASSWORD", "admin-secret"),
        }
    }

    fn people(&self) -> String {
        format!("ou=people,{}", self.base)
    }

    fn group(&self, cn: &str) -> String {
        format!("cn={cn},ou=groups,{}", self.base)
    }

    /// The suite's usual configuration for `url`: search-then-bind, groups from `memberOf`.
    fn config_for(&self, url: &str) -> LdapConfigBuilder {
        LdapConfig::builder(url)
            .service_account(&self.bind_dn, self.bind_password.as_str())
            .user_search(self.people(), "(&(objectClass=inetOrgPerson)(uid={}))")
            .attributes(["cn"])
            .group_attribute("memberOf")
            .group_role(self.group("admins"), Access::Admin)
            .group_role(self.group("staff"), Access::Staff)
    }

    fn config(&self) -> LdapConfigBuilder {
        self.config_for(&self.url)
    }

    fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).unwrap_or_else(|error| {
            panic!(
                "read the test CA {}: {error} (set LDAP_CA_CERT)",
                self.ca_cert.display()
            )
        })
    }

    fn socket_addr(&self) -> SocketAddr {
        let host_port = self.url.trim_start_matches("ldap://").trim_end_matches('/');
        host_port
            .to_socket_addrs()
            .expect("LDAP_URL resolves")
            .next()
            .expect("an address for LDAP_URL")
    }
}

/// The test directory, or `None` after a loud `SKIPPED` when it is unreachable outside CI
/// (under CI, a failure).
async fn directory(test: &str) -> Option<Env> {
    let env = Env::read();
    match Admin::connect(&env).await {
        Ok(_) => Some(env),
        Err(error) => {
            skipped(
                test,
                &format!(
                    "the LDAP directory at {} is unreachable ({error}); tests/ldap/start-slapd.sh starts one",
                    env.url
                ),
            );
            None
        }
    }
}

/// The directory as its root DN sees it, to change it behind the store's back.
struct Admin {
    ldap: Ldap,
    people: String,
}

impl Admin {
    async fn connect(env: &Env) -> Result<Self, ldap3::LdapError> {
        let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(2));
        let (connection, mut ldap) = LdapConnAsync::with_settings(settings, &env.url).await?;
        tokio::spawn(async move {
            let _ = connection.drive().await;
        });
        ldap.simple_bind(&env.admin_dn, &env.admin_password)
            .await?
            .success()?;
        Ok(Self {
            ldap,
            people: env.people(),
        })
    }

    async fn connected(env: &Env) -> Self {
        Self::connect(env).await.expect("bind as the root DN")
    }

    /// The DN of a user, escaped by ldap3's own `dn_escape`, not the store's.
    fn dn(&self, uid: &str) -> String {
        format!("uid={},{}", ldap3::dn_escape(uid), self.people)
    }

    /// Adds a user with `password`, in `groups` (DNs).
    async fn add_user(&mut self, uid: &str, password: &str, groups: &[String]) {
        let dn = self.dn(uid);
        let attributes = vec![
            ("objectClass", HashSet::from(["inetOrgPerson"])),
            ("uid", HashSet::from([uid])),
            ("cn", HashSet::from([uid])),
            ("sn", HashSet::from(["Test"])),
        ];
        self.ldap
            .add(&dn, attributes)
            .await
            .and_then(|result| result.success())
            .unwrap_or_else(|error| panic!("add {dn}: {error}"));
        self.set_password(uid, password).await;
        for group in groups {
            self.join(uid, group).await;
        }
    }

    /// Sets the password as `ldappasswd` does (the Password Modify operation), hashed by slapd.
    async fn set_password(&mut self, uid: &str, password: &str) {
        let dn = self.dn(uid);
        self.ldap
            .extended(PasswordModify {
                user_id: Some(&dn),
                old_pass: None,
                new_pass: Some(password),
            })
            .await
            .and_then(|result| result.success())
            .unwrap_or_else(|error| panic!("set the password of {dn}: {error}"));
    }

    async fn change_membership(&mut self, uid: &str, group: &str, join: bool) {
        let member = self.dn(uid);
        let values = HashSet::from([member.as_str()]);
        let change = if join {
            Mod::Add("member", values)
        } else {
            Mod::Delete("member", values)
        };
        self.ldap
            .modify(group, vec![change])
            .await
            .and_then(|result| result.success())
            .unwrap_or_else(|error| panic!("change {group}: {error}"));
    }

    async fn join(&mut self, uid: &str, group: &str) {
        self.change_membership(uid, group, true).await;
    }

    async fn leave(&mut self, uid: &str, group: &str) {
        self.change_membership(uid, group, false).await;
    }

    /// Deletes the user; memberof-refint takes them out of their groups.
    async fn delete_user(&mut self, uid: &str) {
        let dn = self.dn(uid);
        let _ = self.ldap.delete(&dn).await;
    }
}

/// A user name no other test run uses.
fn fresh_uid(test: &str) -> String {
    format!("t-{test}-{:08x}", rand::random::<u32>())
}

/// The answers the LDAP tests check: `/me` once logged in, `422` with [`LOGIN_FAILED`] when
/// refused.
struct ToMe;

impl Answers<User> for ToMe {
    fn logged_in(_: &User) -> Response {
        Redirect::to("/me").into_response()
    }

    fn refused() -> Response {
        (StatusCode::UNPROCESSABLE_ENTITY, LOGIN_FAILED).into_response()
    }
}

#[require_login]
async fn me(CurrentUser(user): CurrentUser<User>) -> String {
    format!(
        "{} cn={} roles={:?}",
        user.uid,
        user.attribute("cn").unwrap_or_default(),
        user.roles
    )
}

#[require_login(role = Access::Admin)]
async fn admin() -> &'static str {
    "admin"
}

#[require_login(role = Access::Staff)]
async fn staff() -> &'static str {
    "staff"
}

/// The test app on an ephemeral loopback port: `POST /login`, `GET /me`, `/admin`, `/staff`.
struct App {
    base: String,
    store: Store,
}

impl App {
    async fn start(config: LdapConfigBuilder) -> Self {
        let store = Store::new(config.build().expect("the LDAP configuration builds"));
        // Plain HTTP on loopback: a `Secure` cookie would never come back. No throttle: the
        // tests fail logins on purpose, many times.
        let sessions = session_layer(MemoryStore::default()).with_secure(false);
        let auth = AuthLayer::builder(store.clone(), sessions)
            .login_url("/login")
            .throttle(Throttle::disabled())
            .build();
        let router = Router::new()
            .route("/login", post(login::<Store, ToMe>))
            .route("/me", get(me))
            .route("/admin", get(admin))
            .route("/staff", get(staff))
            .layer(auth);
        let addr = serve(router).await;
        Self {
            base: format!("http://{addr}"),
            store,
        }
    }

    async fn login(&self, client: &reqwest::Client, username: &str, password: &str) -> Answer {
        let response = client
            .post(format!("{}/login", self.base))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("POST /login");
        Answer::read(response).await
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> Answer {
        let response = client
            .get(format!("{}{path}", self.base))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        Answer::read(response).await
    }

    fn stats(&self) -> LdapStoreStats {
        self.store.stats()
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    body: String,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        Self {
            status: response.status(),
            body: response.text().await.expect("a body"),
        }
    }
}

fn failed_login() -> Answer {
    Answer {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: LOGIN_FAILED.to_owned(),
    }
}

fn difference(after: LdapStoreStats, before: LdapStoreStats) -> [u64; 4] {
    [
        after.connections - before.connections,
        after.service_binds - before.service_binds,
        after.user_binds - before.user_binds,
        after.searches - before.searches,
    ]
}

#[tokio::test]
async fn login_with_the_directory_password_keeps_the_uid_in_the_session() {
    let Some(env) =
        directory("login_with_the_directory_password_keeps_the_uid_in_the_session").await
    else {
        return;
    };
    let app = App::start(env.config()).await;
    let client = browser();
    assert_eq!(
        app.get(&client, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );

    // The directory matches uid ignoring case and surrounding spaces; the id is its spelling.
    let answer = app.login(&client, "  FeRRis ", "hunter42").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
    let me = app.get(&client, "/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body, "ferris cn=Ferris the Crab roles=[Staff]");
}

#[tokio::test]
async fn failed_logins_look_the_same_whatever_was_wrong() {
    let Some(env) = directory("failed_logins_look_the_same_whatever_was_wrong").await else {
        return;
    };
    let app = App::start(env.config()).await;
    let too_long = "x".repeat(axum_login::credentials::MAX_USERNAME_LEN + 1);
    for (username, password) in [
        ("nobody-here", "hunter42"),
        ("ferris", "not-the-password"),
        ("ferris", ""),
        ("", "hunter42"),
        ("   ", "hunter42"),
        (too_long.as_str(), "hunter42"),
    ] {
        let answer = app.login(&browser(), username, password).await;
        assert_eq!(answer, failed_login(), "{username:?} / {password:?}");
    }
}

#[tokio::test]
async fn an_empty_password_never_reaches_the_directory() {
    let Some(env) = directory("an_empty_password_never_reaches_the_directory").await else {
        return;
    };
    let app = App::start(env.config()).await;
    let before = app.stats();
    for username in ["ferris", "admin", "nobody-here"] {
        let answer = app.login(&browser(), username, "").await;
        assert_eq!(answer, failed_login());
    }
    assert_eq!(
        difference(app.stats(), before),
        [0; 4],
        "no connection, bind or search"
    );

    // The same store does bind for a password that is not empty.
    let answer = app.login(&browser(), "ferris", "x").await;
    assert_eq!(answer, failed_login());
    assert_eq!(app.stats().user_binds - before.user_binds, 1);
}

#[tokio::test]
async fn an_unknown_user_costs_the_directory_work_of_a_wrong_password() {
    let Some(env) = directory("an_unknown_user_costs_the_directory_work_of_a_wrong_password").await
    else {
        return;
    };
    let app = App::start(env.config()).await;
    // Warm the pool, so neither attempt below pays for opening it.
    app.store.connect().await.expect("connect");
    let before = app.stats();
    assert_eq!(
        app.login(&browser(), "nobody-here", "hunter42").await,
        failed_login()
    );
    let unknown = difference(app.stats(), before);
    let before = app.stats();
    assert_eq!(
        app.login(&browser(), "ferris", "hunter43").await,
        failed_login()
    );
    let wrong = difference(app.stats(), before);
    // [connections, service binds, user binds, searches]: one search on the pooled connection,
    // one bind with the password given on a connection of its own.
    assert_eq!(unknown, wrong);
    assert_eq!(unknown, [1, 0, 1, 1]);
}

#[tokio::test]
async fn filter_injection_cannot_log_in_or_match_another_user() {
    let Some(env) = directory("filter_injection_cannot_log_in_or_match_another_user").await else {
        return;
    };
    let app = App::start(env.config()).await;
    // Each would find ferris's entry if it reached the filter unescaped, and ferris's password
    // would then log in.
    for username in [
        "fer*",
        "*",
        "f*s",
        "ferris)(uid=*",
        "*)(uid=ferris",
        "ferris)(|(uid=*",
        r"ferris\00",
        "ferris\0",
        r"\66erris",
    ] {
        let answer = app.login(&browser(), username, "hunter42").await;
        assert_eq!(answer, failed_login(), "{username:?}");
    }
    // The real name still works.
    let answer = app.login(&browser(), "ferris", "hunter42").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_dn_template_binds_directly_and_escapes_the_name() {
    let Some(env) = directory("a_dn_template_binds_directly_and_escapes_the_name").await else {
        return;
    };
    let config = LdapConfig::builder(&env.url)
        .service_account(&env.bind_dn, env.bind_password.as_str())
        .user_dn_template(format!("uid={{}},{}", env.people()))
        .attributes(["cn"])
        .group_attribute("memberOf")
        .group_role(env.group("admins"), Access::Admin)
        .group_role(env.group("staff"), Access::Staff);
    let app = App::start(config).await;
    for username in [
        "ferris,ou=people",
        &format!("ferris,{}", env.people()),
        "ferris+cn=Ferris the Crab",
        "*",
        "ferris\0",
        "#ferris",
        "ferris\\",
        "=ferris",
    ] {
        let answer = app.login(&browser(), username, "hunter42").await;
        assert_eq!(answer, failed_login(), "{username:?}");
    }
    let before = app.stats();
    assert_eq!(
        app.login(&browser(), "nobody-here", "hunter42").await,
        failed_login()
    );
    assert_eq!(app.stats().user_binds - before.user_binds, 1);
    assert_eq!(
        app.stats().searches - before.searches,
        0,
        "no search before the bind"
    );

    let client = browser();
    let answer = app.login(&client, "Ferris", "hunter42").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
    let me = app.get(&client, "/me").await;
    assert_eq!(me.body, "ferris cn=Ferris the Crab roles=[Staff]");
    assert_eq!(
        app.get(&client, "/admin").await.status,
        StatusCode::FORBIDDEN
    );

    // A name with DN syntax in it is one RDN value once escaped: its owner logs in, and the
    // session loads by the same escaped DN.
    let mut admin = Admin::connected(&env).await;
    let uid = format!("#{}, jr.+=\\", fresh_uid("dn"));
    admin.add_user(&uid, "odd-name-password", &[]).await;
    let client = browser();
    let answer = app.login(&client, &uid, "odd-name-password").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{uid:?}: {answer:?}");
    let me = app.get(&client, "/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(me.body.starts_with(&format!("{uid} ")), "{me:?}");
    admin.delete_user(&uid).await;
}

/// `/admin` and `/staff` for each seeded user, through `app`.
async fn assert_roles_guard_routes(app: &App) {
    for (username, password, admin, staff) in [
        (
            "admin",
            "correct-horse-battery",
            StatusCode::OK,
            StatusCode::OK,
        ),
        ("ferris", "hunter42", StatusCode::FORBIDDEN, StatusCode::OK),
        (
            "carol",
            "carol-password",
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
        ),
    ] {
        let client = browser();
        let answer = app.login(&client, username, password).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{username}: {answer:?}"
        );
        assert_eq!(
            app.get(&client, "/admin").await.status,
            admin,
            "{username} /admin"
        );
        assert_eq!(
            app.get(&client, "/staff").await.status,
            staff,
            "{username} /staff"
        );
    }
}

#[tokio::test]
async fn roles_from_member_of_guard_routes() {
    let Some(env) = directory("roles_from_member_of_guard_routes").await else {
        return;
    };
    assert_roles_guard_routes(&App::start(env.config()).await).await;
}

#[tokio::test]
async fn roles_from_a_group_search_guard_routes() {
    let Some(env) = directory("roles_from_a_group_search_guard_routes").await else {
        return;
    };
    let config = LdapConfig::builder(&env.url)
        .service_account(&env.bind_dn, env.bind_password.as_str())
        .user_search(env.people(), "(uid={})")
        .group_search(
            format!("ou=groups,{}", env.base),
            "(&(objectClass=groupOfNames)(member={dn}))",
        )
        .group_role(env.group("admins"), Access::Admin)
        .group_role(env.group("staff"), Access::Staff);
    assert_roles_guard_routes(&App::start(config).await).await;
}

#[tokio::test]
async fn a_group_change_in_the_directory_shows_on_the_next_request() {
    let Some(env) = directory("a_group_change_in_the_directory_shows_on_the_next_request").await
    else {
        return;
    };
    let mut admin = Admin::connected(&env).await;
    let uid = fresh_uid("groups");
    admin.add_user(&uid, "first-password", &[]).await;
    let app = App::start(env.config()).await;
    let client = browser();
    assert_eq!(
        app.login(&client, &uid, "first-password").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.get(&client, "/staff").await.status,
        StatusCode::FORBIDDEN
    );

    admin.join(&uid, &env.group("staff")).await;
    assert_eq!(app.get(&client, "/staff").await.status, StatusCode::OK);
    assert_eq!(
        app.get(&client, "/admin").await.status,
        StatusCode::FORBIDDEN
    );
    admin.leave(&uid, &env.group("staff")).await;
    assert_eq!(
        app.get(&client, "/staff").await.status,
        StatusCode::FORBIDDEN
    );
    admin.delete_user(&uid).await;
    assert_eq!(
        app.get(&client, "/me").await.status,
        StatusCode::UNAUTHORIZED,
        "a deleted user's session ends"
    );
}

#[tokio::test]
async fn a_password_change_in_the_directory_ends_the_session() {
    let Some(env) = directory("a_password_change_in_the_directory_ends_the_session").await else {
        return;
    };
    let mut admin = Admin::connected(&env).await;
    let uid = fresh_uid("password");
    admin
        .add_user(&uid, "first-password", &[env.group("staff")])
        .await;
    // The default stamp attributes (modifyTimestamp, entryCSN): the change below may fall in
    // the same second as the user's creation, and entryCSN still tells them apart.
    let app = App::start(env.config()).await;
    let client = browser();
    assert_eq!(
        app.login(&client, &uid, "first-password").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get(&client, "/me").await.status, StatusCode::OK);
    let other = browser();
    assert_eq!(
        app.login(&other, &uid, "first-password").await.status,
        StatusCode::SEE_OTHER
    );

    admin.set_password(&uid, "second-password").await;
    assert_eq!(
        app.get(&client, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&other, "/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&client, &uid, "first-password").await,
        failed_login()
    );
    assert_eq!(
        app.login(&client, &uid, "second-password").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get(&client, "/me").await.status, StatusCode::OK);
    admin.delete_user(&uid).await;
}

#[tokio::test]
async fn requests_after_login_search_on_pooled_connections_and_never_bind_as_the_user() {
    let Some(env) =
        directory("requests_after_login_search_on_pooled_connections_and_never_bind_as_the_user")
            .await
    else {
        return;
    };
    let app = App::start(env.config()).await;
    let client = browser();
    assert_eq!(
        app.login(&client, "ferris", "hunter42").await.status,
        StatusCode::SEE_OTHER
    );
    let before = app.stats();
    for _ in 0..10 {
        assert_eq!(app.get(&client, "/me").await.status, StatusCode::OK);
    }
    // [connections, service binds, user binds, searches]
    assert_eq!(difference(app.stats(), before), [0, 0, 0, 10]);
}

#[tokio::test]
async fn tls_ldaps_and_starttls_verify_the_directory_against_the_configured_ca() {
    let Some(env) =
        directory("tls_ldaps_and_starttls_verify_the_directory_against_the_configured_ca").await
    else {
        return;
    };
    let ca = env.ca_pem();
    for (name, config) in [
        ("ldaps://", env.config_for(&env.ldaps_url).tls_ca_pem(&ca)),
        ("StartTLS", env.config().starttls(true).tls_ca_pem(&ca)),
    ] {
        let app = App::start(config).await;
        let client = browser();
        let answer = app.login(&client, "admin", "correct-horse-battery").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{name}: {answer:?}");
        assert_eq!(
            app.get(&client, "/admin").await.status,
            StatusCode::OK,
            "{name}"
        );
    }

    // Without the test CA the server's certificate is not trusted: no login, over either.
    for config in [env.config_for(&env.ldaps_url), env.config().starttls(true)] {
        let Ok(config) = config.build() else {
            // No system roots at all: refused when built, which is as good.
            continue;
        };
        let store = Store::new(config);
        let result = store
            .authenticate(PasswordCredentials::new("admin", "correct-horse-battery"))
            .await;
        assert!(result.is_err(), "an untrusted certificate was accepted");
    }
}

/// What the proxy in front of the directory does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Forwards them.
    Up,
    /// Cuts the open ones and closes new ones at once, like a directory that is down.
    Refuse,
    /// Accepts new ones and never answers, like a directory that hangs or a dropped route.
    Stall,
}

/// A TCP proxy to the directory on an ephemeral loopback port.
struct Proxy {
    url: String,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("ldap://{}", listener.local_addr().expect("proxy address"));
        let (mode, _) = watch::channel(Mode::Up);
        let state = mode.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let now = *state.borrow();
                let mut changes = state.subscribe();
                match now {
                    Mode::Refuse => drop(client),
                    Mode::Stall => {
                        tokio::spawn(async move {
                            let _ = changes.wait_for(|mode| *mode != Mode::Stall).await;
                            drop(client);
                        });
                    }
                    Mode::Up => {
                        tokio::spawn(async move {
                            let Ok(mut server) = TcpStream::connect(upstream).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                _ = changes.wait_for(|mode| *mode != Mode::Up) => {}
                            }
                        });
                    }
                }
            }
        });
        Self { url, mode }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

#[tokio::test]
async fn a_directory_outage_answers_500_within_the_bound_and_recovers() {
    let Some(env) = directory("a_directory_outage_answers_500_within_the_bound_and_recovers").await
    else {
        return;
    };
    let proxy = Proxy::start(env.socket_addr()).await;
    let timeout = Duration::from_millis(500);
    let app = App::start(
        env.config_for(&proxy.url)
            .connect_timeout(timeout)
            .operation_timeout(timeout),
    )
    .await;
    // Each store call opens at most one connection and waits for at most one operation before
    // it fails; the rest is slack for a loaded machine.
    let bound = timeout * 2 + Duration::from_secs(2);
    let client = browser();
    assert_eq!(
        app.login(&client, "ferris", "hunter42").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get(&client, "/me").await.status, StatusCode::OK);

    for mode in [Mode::Refuse, Mode::Stall] {
        proxy.set(mode);
        let started = Instant::now();
        let me = app.get(&client, "/me").await;
        let took = started.elapsed();
        assert_eq!(
            me.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{mode:?}: {me:?}"
        );
        assert!(took < bound, "{mode:?}: the 500 took {took:?}");
        assert!(!me.body.contains("ferris"), "{mode:?}: {me:?}");
        let started = Instant::now();
        let login = app.login(&browser(), "ferris", "hunter42").await;
        let took = started.elapsed();
        assert_eq!(
            login.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{mode:?}: {login:?}"
        );
        assert!(took < bound, "{mode:?}: the failed login took {took:?}");
        println!("{mode:?}: GET /me and POST /login answered 500 within {took:?}");
    }

    // Back: the same session works again, without a restart, and so do logins.
    proxy.set(Mode::Up);
    assert_eq!(app.get(&client, "/me").await.status, StatusCode::OK);
    assert_eq!(
        app.login(&browser(), "admin", "correct-horse-battery")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[test]
fn the_throttle_key_is_the_trimmed_lower_cased_name() {
    let store = Store::new(
        LdapConfig::builder("ldap://127.0.0.1:9")
            .user_search("dc=example,dc=test", "(uid={})")
            .build()
            .expect("builds"),
    );
    for name in ["ferris", " Ferris ", "FERRIS\t"] {
        let key = store.throttle_key(&PasswordCredentials::new(name, "x"));
        assert_eq!(key.as_deref(), Some("ferris"), "{name:?}");
    }
    let other = store.throttle_key(&PasswordCredentials::new("nobody", "x"));
    assert_eq!(other.as_deref(), Some("nobody"));
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Times `count` logins of one kind, each from a fresh client (no session to load first).
async fn time_logins(
    app: &App,
    username: &str,
    password: &str,
    expect: StatusCode,
    count: usize,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let client = browser();
        let started = Instant::now();
        let answer = app.login(&client, username, password).await;
        times.push(started.elapsed());
        assert_eq!(answer.status, expect, "{username}: {answer:?}");
    }
    times.sort();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_time_over_100_logins() {
    let Some(env) = directory("login_time_over_100_logins").await else {
        return;
    };
    for (name, config) in [
        ("ldap://", env.config()),
        (
            "ldaps://",
            env.config_for(&env.ldaps_url).tls_ca_pem(env.ca_pem()),
        ),
    ] {
        let app = App::start(config).await;
        app.store.connect().await.expect("connect");
        let ok = time_logins(&app, "ferris", "hunter42", StatusCode::SEE_OTHER, 100).await;
        let wrong = time_logins(
            &app,
            "ferris",
            "wrong",
            StatusCode::UNPROCESSABLE_ENTITY,
            100,
        )
        .await;
        let unknown = time_logins(
            &app,
            "nobody-here",
            "wrong",
            StatusCode::UNPROCESSABLE_ENTITY,
            100,
        )
        .await;
        for (what, times) in [
            ("successful login", &ok),
            ("wrong password", &wrong),
            ("unknown user", &unknown),
        ] {
            println!(
                "{name} {what}: p50 {:?}, p90 {:?}, max {:?} (100 over HTTP)",
                percentile(times, 50),
                percentile(times, 90),
                times[times.len() - 1]
            );
        }
    }
}
