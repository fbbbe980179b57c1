//! `#[require_login(...)]` and `require!(...)` over HTTP: every grammar form, every kind of
//! caller, and how many times the user store is asked.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, Role, UserStore,
    authz::PermissionRef, authz::RoleRef, clock::ManualClock, require, require_login,
};
use axum_login_tests::{http::bare_client, http::browser, http::serve};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use tower_sessions::{MemoryStore, SessionManagerLayer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(Editor))]
    Admin,
    #[role(implies(Viewer))]
    Editor,
    Viewer,
    Banned,
}

#[derive(Clone, Debug)]
struct Member {
    id: i64,
    name: String,
    roles: Vec<Access>,
    permissions: Vec<String>,
}

impl AuthUser for Member {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.name.as_bytes()
    }

    fn has_role(&self, role: RoleRef<'_>) -> bool {
        role.is_satisfied_by(&self.roles)
    }

    fn has_permission(&self, permission: PermissionRef<'_>) -> bool {
        permission.is_granted_by_names(&self.permissions)
    }
}

#[derive(Clone, Default)]
struct Members {
    users: Arc<Mutex<HashMap<i64, Member>>>,
    loads: Arc<AtomicUsize>,
}

impl Members {
    fn add(&self, id: i64, name: &str, roles: &[Access], permissions: &[&str]) {
        self.users.lock().expect("lock").insert(
            id,
            Member {
                id,
                name: name.to_owned(),
                roles: roles.to_vec(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            },
        );
    }

    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

impl UserStore for Members {
    type User = Member;
    type Credentials = String;
    type Error = Infallible;

    async fn authenticate(&self, name: String) -> Result<Option<Member>, Infallible> {
        Ok(self
            .users
            .lock()
            .expect("lock")
            .values()
            .find(|user| user.name == name)
            .cloned())
    }

    async fn load_user(&self, id: &i64) -> Result<Option<Member>, Infallible> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        Ok(self.users.lock().expect("lock").get(id).cloned())
    }
}

type Auth = AuthSession<Members>;

#[derive(serde::Deserialize)]
struct LoginForm {
    name: String,
}

async fn login(mut auth: Auth, Form(form): Form<LoginForm>) -> Result<StatusCode, AuthError> {
    match auth.authenticate(form.name).await? {
        Some(user) => {
            auth.login(&user).await?;
            Ok(StatusCode::OK)
        }
        None => Ok(StatusCode::UNAUTHORIZED),
    }
}

#[require_login]
async fn logged_in() -> &'static str {
    "logged in"
}

#[require_login(role = Access::Editor)]
async fn editor_only() -> &'static str {
    "editor"
}

#[require_login(role = Access::Admin)]
async fn admin_only() -> &'static str {
    "admin"
}

#[require_login(not(role = Access::Banned))]
async fn not_banned() -> &'static str {
    "welcome"
}

#[require_login(any(role = Access::Admin, all(permission = "posts.write", permission = "posts.publish")))]
async fn publish() -> &'static str {
    "published"
}

#[require_login(
    any(role = Access::Editor, permission = "posts.publish"),
    not(role = Access::Banned)
)]
async fn product_example() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[require_login(permission = "a", permission = "b", permission = "c")]
async fn three_permissions(CurrentUser(user): CurrentUser<Member>) -> String {
    user.name
}

/// Only the member themselves, or an admin.
async fn is_self(CurrentUser(user): CurrentUser<Member>, Path(id): Path<i64>) -> bool {
    user.id == id
}

#[require_login(any(role = Access::Admin, check = is_self))]
async fn profile(Path(id): Path<i64>) -> String {
    format!("profile {id}")
}

#[require_login(fresh = "15m")]
async fn sensitive() -> &'static str {
    "sensitive"
}

#[require_login(redirect = "/other-login", redirect_field = "return_to")]
async fn custom_redirect() -> &'static str {
    "custom"
}

#[require_login(redirect = false)]
async fn no_redirect() -> &'static str {
    "no redirect"
}

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Note {
    text: String,
}

#[derive(serde::Deserialize)]
struct Page {
    page: u32,
}

/// Doc comments and other attributes survive the macro.
#[require_login(role = Access::Viewer)]
#[allow(clippy::too_many_arguments)]
async fn every_extractor(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(page): Query<Page>,
    CurrentUser(user): CurrentUser<Member>,
    auth: Auth,
    Json(note): Json<Note>,
) -> Result<String, AuthError> {
    let again = auth.user().await?.map(|user| user.name).unwrap_or_default();
    Ok(format!(
        "{} {} {id} {} {} {}",
        state.greeting, user.name, page.page, again, note.text
    ))
}

// `#[axum::debug_handler]` goes below `#[require_login]`, so that it checks the guarded handler.
#[require_login(role = Access::Editor)]
#[axum::debug_handler]
async fn debug_inner(CurrentUser(user): CurrentUser<Member>) -> String {
    user.name
}

#[require_login]
async fn form_handler(Form(note): Form<Note>) -> String {
    note.text
}

struct App {
    base: String,
    members: Members,
    clock: ManualClock,
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn app() -> App {
    let members = Members::default();
    members.add(1, "admin", &[Access::Admin], &[]);
    members.add(2, "editor", &[Access::Editor], &[]);
    members.add(3, "viewer", &[Access::Viewer], &[]);
    members.add(
        4,
        "writer",
        &[Access::Viewer],
        &["posts.write", "posts.publish"],
    );
    members.add(5, "banned", &[Access::Editor, Access::Banned], &[]);
    members.add(6, "abc", &[], &["a", "b", "c"]);
    members.add(7, "ab", &[], &["a", "b"]);
    let clock = ManualClock::new();

    let admin_area = Router::new()
        .route("/", get(|| async { "admin home" }))
        .route("/users", get(|| async { "admin users" }))
        .route_layer(require!(role = Access::Admin));
    let stale_area = Router::new()
        .route("/", get(|| async { "fresh area" }))
        .route_layer(require!(fresh = "1m", redirect = "/reauth"));

    let router = Router::new()
        .route("/login", post(login))
        .route("/logged-in", get(logged_in))
        .route("/editor", get(editor_only))
        .route("/admin", get(admin_only))
        .route("/not-banned", get(not_banned))
        .route("/publish", get(publish))
        .route("/product", get(product_example))
        .route("/three", get(three_permissions))
        .route("/profile/{id}", get(profile))
        .route("/sensitive", get(sensitive))
        .route("/custom", get(custom_redirect))
        .route("/no-redirect", get(no_redirect))
        .route("/every/{id}", post(every_extractor))
        .route("/debug-inner", get(debug_inner))
        .route("/form", post(form_handler))
        .nest("/admin-area", admin_area)
        .nest("/fresh-area", stale_area)
        .with_state(AppState { greeting: "hi" })
        .layer(
            AuthLayer::builder(
                members.clone(),
                SessionManagerLayer::new(MemoryStore::default()).with_secure(false),
            )
            .clock(clock.clone())
            .build(),
        );
    let addr = serve(router).await;
    App {
        base: format!("http://{addr}"),
        members,
        clock,
    }
}

async fn logged_in_as(app: &App, name: &str) -> reqwest::Client {
    let client = browser();
    let response = client
        .post(app.url("/login"))
        .form(&[("name", name)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK, "login as {name}");
    client
}

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn status(client: &reqwest::Client, url: String) -> StatusCode {
    client.get(url).send().await.expect("request").status()
}

async fn status_as_api(client: &reqwest::Client, url: String) -> StatusCode {
    client
        .get(url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("request")
        .status()
}

#[tokio::test]
async fn anonymous_browser_is_sent_to_login_with_next() {
    let app = app().await;
    let response = bare_client()
        .get(app.url("/editor?tab=drafts&sort=new"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=%2Feditor%3Ftab%3Ddrafts%26sort%3Dnew"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn anonymous_api_client_gets_401_json() {
    let app = app().await;
    for path in [
        "/logged-in",
        "/editor",
        "/publish",
        "/profile/2",
        "/admin-area/users",
    ] {
        let response = bare_client()
            .get(app.url(path))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/json",
            "{path}"
        );
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["error"], "unauthorized", "{path}");
    }
    // No Accept header at all is an API client too.
    let response = bare_client()
        .get(app.url("/logged-in"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logged_in_user_without_the_role_gets_403_never_a_redirect() {
    let app = app().await;
    let viewer = logged_in_as(&app, "viewer").await;
    let response = viewer
        .get(app.url("/editor"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(LOCATION).is_none());
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let response = viewer
        .get(app.url("/editor"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "forbidden");
}

#[tokio::test]
async fn role_checks_honour_the_hierarchy() {
    let app = app().await;
    let admin = logged_in_as(&app, "admin").await;
    let editor = logged_in_as(&app, "editor").await;
    let viewer = logged_in_as(&app, "viewer").await;
    assert_eq!(status(&admin, app.url("/editor")).await, StatusCode::OK);
    assert_eq!(status(&admin, app.url("/admin")).await, StatusCode::OK);
    assert_eq!(status(&editor, app.url("/editor")).await, StatusCode::OK);
    assert_eq!(
        status(&editor, app.url("/admin")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&viewer, app.url("/editor")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(status(&viewer, app.url("/logged-in")).await, StatusCode::OK);
}

#[tokio::test]
async fn not_excludes_a_role() {
    let app = app().await;
    let banned = logged_in_as(&app, "banned").await;
    let viewer = logged_in_as(&app, "viewer").await;
    assert_eq!(
        status(&banned, app.url("/not-banned")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&viewer, app.url("/not-banned")).await,
        StatusCode::OK
    );
    // `any(editor, ..)` would let the banned editor in; the top-level `not` keeps them out.
    assert_eq!(
        status(&banned, app.url("/product")).await,
        StatusCode::FORBIDDEN
    );
    let editor = logged_in_as(&app, "editor").await;
    assert_eq!(
        status(&editor, app.url("/product")).await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn nested_any_and_all() {
    let app = app().await;
    let admin = logged_in_as(&app, "admin").await;
    let writer = logged_in_as(&app, "writer").await;
    let ab = logged_in_as(&app, "ab").await;
    let viewer = logged_in_as(&app, "viewer").await;
    assert_eq!(status(&admin, app.url("/publish")).await, StatusCode::OK);
    assert_eq!(status(&writer, app.url("/publish")).await, StatusCode::OK);
    assert_eq!(
        status(&ab, app.url("/publish")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&viewer, app.url("/publish")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&writer, app.url("/product")).await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn custom_check_sees_the_path_id() {
    let app = app().await;
    let viewer = logged_in_as(&app, "viewer").await;
    let admin = logged_in_as(&app, "admin").await;
    let response = viewer
        .get(app.url("/profile/3"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("body"), "profile 3");
    assert_eq!(
        status(&viewer, app.url("/profile/2")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(status(&admin, app.url("/profile/2")).await, StatusCode::OK);
    // The check's own extractor rejects a bad id with its own answer.
    assert_eq!(
        status(&viewer, app.url("/profile/abc")).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn fresh_login_is_required_for_sensitive_handlers() {
    let app = app().await;
    let viewer = logged_in_as(&app, "viewer").await;
    assert_eq!(status(&viewer, app.url("/sensitive")).await, StatusCode::OK);
    app.clock.advance(Duration::from_secs(16 * 60));
    let response = viewer
        .get(app.url("/sensitive"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login?next=%2Fsensitive");
    assert_eq!(
        status_as_api(&viewer, app.url("/sensitive")).await,
        StatusCode::UNAUTHORIZED
    );
    // The stale login still passes handlers that do not ask for freshness.
    assert_eq!(status(&viewer, app.url("/logged-in")).await, StatusCode::OK);
    // Logging in again makes it fresh.
    let response = viewer
        .post(app.url("/login"))
        .form(&[("name", "viewer")])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(status(&viewer, app.url("/sensitive")).await, StatusCode::OK);
}

#[tokio::test]
async fn per_handler_redirect_overrides() {
    let app = app().await;
    let response = bare_client()
        .get(app.url("/custom"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/other-login?return_to=%2Fcustom"
    );
    let response = bare_client()
        .get(app.url("/no-redirect"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn router_level_guard_protects_a_nested_router() {
    let app = app().await;
    let response = bare_client()
        .get(app.url("/admin-area/users?q=1"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=%2Fadmin-area%2Fusers%3Fq%3D1",
        "next is the full path, not the one inside the nested router"
    );
    let editor = logged_in_as(&app, "editor").await;
    assert_eq!(
        status(&editor, app.url("/admin-area/users")).await,
        StatusCode::FORBIDDEN
    );
    let admin = logged_in_as(&app, "admin").await;
    let response = admin
        .get(app.url("/admin-area/users"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("body"), "admin users");
    assert_eq!(
        status(&admin, app.url("/admin-area/missing")).await,
        StatusCode::NOT_FOUND
    );

    let viewer = logged_in_as(&app, "viewer").await;
    assert_eq!(
        status(&viewer, app.url("/fresh-area")).await,
        StatusCode::OK
    );
    app.clock.advance(Duration::from_secs(120));
    let response = viewer
        .get(app.url("/fresh-area"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()[LOCATION], "/reauth?next=%2Ffresh-area");
}

#[tokio::test]
async fn a_guarded_request_loads_the_user_once() {
    let app = app().await;
    let abc = logged_in_as(&app, "abc").await;
    let ab = logged_in_as(&app, "ab").await;
    let before = app.members.loads();
    let response = abc.get(app.url("/three")).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("body"), "abc");
    assert_eq!(
        app.members.loads() - before,
        1,
        "three permissions and CurrentUser cost one store call"
    );
    let before = app.members.loads();
    assert_eq!(status(&ab, app.url("/three")).await, StatusCode::FORBIDDEN);
    assert_eq!(app.members.loads() - before, 1);
    let before = app.members.loads();
    assert_eq!(
        status(&bare_client(), app.url("/three")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.members.loads() - before, 0, "no session, no store call");
}

#[tokio::test]
async fn guard_works_with_every_extractor() {
    let app = app().await;
    let viewer = logged_in_as(&app, "viewer").await;
    let response = viewer
        .post(app.url("/every/9?page=2"))
        .json(&Note {
            text: "note".into(),
        })
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.expect("body"),
        "hi viewer 9 2 viewer note"
    );
    let editor = logged_in_as(&app, "editor").await;
    assert_eq!(
        status(&editor, app.url("/debug-inner")).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&viewer, app.url("/debug-inner")).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_guard_runs_before_the_body_is_read() {
    let app = app().await;
    // An anonymous client sending a body the handler could not parse is told to log in, not
    // that its body is wrong: the body is never looked at.
    let response = bare_client()
        .post(app.url("/every/1?page=1"))
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = bare_client()
        .post(app.url("/form"))
        .header(ACCEPT, "application/json")
        .body("garbage")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let viewer = logged_in_as(&app, "viewer").await;
    let response = viewer
        .post(app.url("/form"))
        .form(&[("text", "hello")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.text().await.expect("body"), "hello");
}

#[tokio::test]
async fn a_custom_denial_responder_answers_for_the_layer() {
    use axum::response::{Html, IntoResponse};
    use axum_login::{guard::Denial, guard::DenialReason};

    fn branded(denial: &Denial<'_>) -> Option<axum::response::Response> {
        (denial.reason() == DenialReason::Forbidden).then(|| {
            (
                StatusCode::FORBIDDEN,
                Html("<h1>Members of staff only</h1>"),
            )
                .into_response()
        })
    }

    let members = Members::default();
    members.add(3, "viewer", &[Access::Viewer], &[]);
    let router = Router::new()
        .route("/login", post(login))
        .route("/editor", get(editor_only))
        .layer(
            AuthLayer::builder(
                members,
                SessionManagerLayer::new(MemoryStore::default()).with_secure(false),
            )
            .on_denied(branded)
            .build(),
        );
    let addr = serve(router).await;
    let app = App {
        base: format!("http://{addr}"),
        members: Members::default(),
        clock: ManualClock::new(),
    };
    let viewer = logged_in_as(&app, "viewer").await;
    let response = viewer
        .get(app.url("/editor"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.text().await.expect("body"),
        "<h1>Members of staff only</h1>"
    );
    // `None` keeps the default answer: anonymous browsers still go to the login page.
    let response = bare_client()
        .get(app.url("/editor"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}
