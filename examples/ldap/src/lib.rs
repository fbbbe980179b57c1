//! The demo's pages over an LDAP directory: users log in with their directory password
//! (search-then-bind as a read-only service account), and membership of a group makes an
//! admin. Nothing about users is stored in the app; sessions are in memory.
//!
//! [`Settings::from_env`] reads where the directory is; [`store`] makes the
//! [`LdapStore`]; [`app`] builds the router that `src/main.rs` serves. The tests build it the
//! same way against the directory of `tests/ldap/start-slapd.sh`.

use axum::{
    Form, Router,
    extract::Query,
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::session::MemoryStore;
use axum_login::{
    AuthError, AuthLayer, AuthSession, CurrentUser, LoginForm, Role as _, SessionKey,
    ldap::{LdapConfig, LdapConfigError, LdapStore, LdapUser},
    require_login, safe_next, session_layer,
};
use secrecy::SecretString;
use serde::Deserialize;

/// What a user may do, from their groups in the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, axum_login::Role)]
pub enum Role {
    /// May open `/admin`; passes every check for [`Role::User`] too.
    #[role(implies(User))]
    Admin,
    /// Any member of the users' group.
    User,
}

/// A user as the directory describes them: uid, DN, `cn`, groups, roles.
pub type User = LdapUser<Role>;

/// The demo's user store: the directory.
pub type Store = LdapStore<User>;

/// Where the directory is and how users and groups are found in it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ldap://host:port` or `ldaps://host:port` (`LDAP_URL`).
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (`LDAP_STARTTLS=true`).
    pub starttls: bool,
    /// PEM of the directory's CA, when it is not among the system's roots (the file named by
    /// `LDAP_CA_CERT`).
    pub ca_pem: Option<Vec<u8>>,
    /// The service account that searches (`LDAP_BIND_DN`).
    pub bind_dn: String,
    /// Its password (`LDAP_BIND_PASSWORD`).
    pub bind_password: SecretString,
    /// Where users are (`LDAP_USER_BASE`).
    pub user_base: String,
    /// How a login name finds its user; `{}` is the escaped name (`LDAP_USER_FILTER`).
    pub user_filter: String,
    /// Members of this group are admins (`LDAP_ADMIN_GROUP`).
    pub admin_group: String,
    /// Members of this group are users (`LDAP_USER_GROUP`).
    pub user_group: String,
}

impl Settings {
    /// The settings from the environment; each unset variable defaults to the test directory
    /// of `tests/ldap/start-slapd.sh` (`LDAP_BASE_DN`, default `dc=example,dc=test`, is the
    /// suffix of the other defaults).
    pub fn from_env() -> Result<Self, String> {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let base = var("LDAP_BASE_DN", "dc=example,dc=test");
        let ca_pem = match std::env::var("LDAP_CA_CERT") {
            Ok(path) if !path.is_empty() => Some(
                std::fs::read(&path).map_err(|error| format!("LDAP_CA_CERT {path}: {error}"))?,
            ),
            _ => None,
        };
        Ok(Self {
            url: var("LDAP_URL", "ldap://127.0.0.1:3890"),
            starttls: matches!(var("LDAP_STARTTLS", "false").as_str(), "true" | "1"),
            ca_pem,
            bind_dn: var("LDAP_BIND_DN", &format!("cn=service,{base}")),
            bind_password: var("LDAP_BIND_PASSWORD", "service-secret").into(),
            user_base: var("LDAP_USER_BASE", &format!("ou=people,{base}")),
            user_filter: var("LDAP_USER_FILTER", "(&(objectClass=inetOrgPerson)(uid={}))"),
            admin_group: var("LDAP_ADMIN_GROUP", &format!("cn=admins,ou=groups,{base}")),
            user_group: var("LDAP_USER_GROUP", &format!("cn=staff,ou=groups,{base}")),
        })
    }
}

/// The store for `settings`: search-then-bind, groups from `memberOf`, `cn` for the pages.
pub fn store(settings: &Settings) -> Result<Store, LdapConfigError> {
    let mut config = LdapConfig::builder(&settings.url)
        .starttls(settings.starttls)
        .service_account(&settings.bind_dn, settings.bind_password.clone())
        .user_search(&settings.user_base, &settings.user_filter)
        .attributes(["cn"])
        .group_attribute("memberOf")
        .group_role(&settings.admin_group, Role::Admin)
        .group_role(&settings.user_group, Role::User);
    if let Some(pem) = &settings.ca_pem {
        config = config.tls_ca_pem(pem);
    }
    Ok(Store::new(config.build()?))
}

/// The demo's router over `store`, with sessions in memory under `key`: axum-login's
/// `MemoryStore`, bounded and dropping expired sessions, for a single instance.
///
/// The session cookie is not `Secure`: the demo serves plain HTTP on loopback. Behind TLS,
/// drop the `.with_secure(false)`.
pub fn app(store: Store, key: SessionKey) -> Router {
    let sessions = session_layer(MemoryStore::default()).with_secure(false);
    let auth = AuthLayer::builder(store, sessions)
        .login_url("/login")
        .session_key(key)
        .build();
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/protected", get(protected))
        .route("/admin", get(admin))
        .layer(auth)
}

type Auth = AuthSession<Store>;

/// The one message for every failed login, whatever was wrong.
const LOGIN_FAILED: &str = "Wrong username or password.";

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page: the navigation (who is logged in, a logout button), then `body`.
fn page(title: &str, user: Option<&User>, body: &str) -> Html<String> {
    let who = match user {
        Some(user) => format!(
            r#"<form method="post" action="/logout"><span id="who">{}</span> <button>Log out</button></form>"#,
            escape(&user.uid)
        ),
        None => r#"<a href="/login">Log in</a>"#.to_owned(),
    };
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><nav><a href="/">Home</a> <a href="/protected">Protected</a> <a href="/admin">Admin</a> {who}</nav>
<main><h1>{title}</h1>{body}</main></body></html>"#,
        title = escape(title),
    ))
}

/// Who the user is, as the directory says: uid and highest role, the entry's `cn`, every role.
fn describe(user: &User) -> String {
    // `Role::ALL` lists the roles from the highest down.
    let highest = Role::ALL
        .iter()
        .find(|role| user.roles.contains(role))
        .map_or("none", |role| role.as_str());
    let roles: Vec<&str> = user.roles.iter().map(|role| role.as_str()).collect();
    format!(
        r#"<p>Logged in as <strong>{}</strong> (role: {highest}).</p><p id="name">{}</p><p>roles <span id="roles">{}</span></p>"#,
        escape(&user.uid),
        escape(user.attribute("cn").unwrap_or(&user.uid)),
        escape(&roles.join(", ")),
    )
}

async fn home(user: Option<CurrentUser<User>>) -> Html<String> {
    let user = user.map(|CurrentUser(user)| user);
    let body = match &user {
        Some(user) => describe(user),
        None => "<p>Nobody is logged in.</p>".to_owned(),
    };
    page("axum-login LDAP demo", user.as_ref(), &body)
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

fn login_form(next: &str, failed: bool) -> String {
    let flash = if failed {
        format!(r#"<p id="flash" role="alert">{LOGIN_FAILED}</p>"#)
    } else {
        String::new()
    };
    format!(
        r#"{flash}<form method="post" action="/login">
<input type="hidden" name="next" value="{}">
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button>Log in</button></form>"#,
        escape(next)
    )
}

async fn login_page(Query(query): Query<NextQuery>) -> Html<String> {
    let next = safe_next(&query.next).unwrap_or_default();
    page("Log in", None, &login_form(next, false))
}

/// `LoginForm` lets every field be missing, so a form without a password fails like a wrong
/// one.
async fn login(mut auth: Auth, Form(form): Form<LoginForm>) -> Result<Response, AuthError> {
    let next = form.next().to_owned();
    let next_field = form.next_field().to_owned();
    // Unknown user, wrong or empty password, over-long input, throttled: all `None`. A
    // directory that is down is an error, which answers `500`.
    match auth.authenticate(form.into_credentials()).await? {
        Some(user) => {
            auth.login(&user).await?;
            Ok(Redirect::to(&next).into_response())
        }
        None => {
            let body = login_form(&next_field, true);
            Ok((StatusCode::UNAUTHORIZED, page("Log in", None, &body)).into_response())
        }
    }
}

async fn logout(mut auth: Auth) -> Result<Redirect, AuthError> {
    auth.logout().await?;
    Ok(Redirect::to("/login"))
}

#[require_login]
async fn protected(CurrentUser(user): CurrentUser<User>) -> Html<String> {
    page("Protected", Some(&user), &describe(&user))
}

#[require_login(role = Role::Admin)]
async fn admin(CurrentUser(user): CurrentUser<User>) -> Html<String> {
    let body = format!(
        "<p>Members of the admins group only.</p>{}",
        describe(&user)
    );
    page("Admin", Some(&user), &body)
}
