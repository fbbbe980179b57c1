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
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, Role, UserStore,
    authz::{AuthzKinds, Held, PermissionRef, RoleRef},
    clock::ManualClock,
    guard::{Guard, Policy, PolicyContext},
    require, require_login,
};
use axum_login_tests::{http::bare_client, http::browser, http::serve, login::log_in};
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

    // Declared, so that a guard asking for a role of another enum is a setup error here too.
    fn authz_kinds() -> AuthzKinds {
        AuthzKinds {
            roles: Held::role_enum::<Access>(),
            permissions: Held::Names,
        }
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

/// Logs in by name, for both stores here whose credentials are the name alone.
async fn login<S>(
    mut auth: AuthSession<S>,
    Form(form): Form<LoginForm>,
) -> Result<StatusCode, AuthError>
where
    S: UserStore<Credentials = String>,
{
    Ok(match log_in(&mut auth, form.name).await? {
        Some(_) => StatusCode::OK,
        None => StatusCode::UNAUTHORIZED,
    })
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
        .route("/login", post(login::<Members>))
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
        .route("/login", post(login::<Members>))
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

// What a guard cannot know at compile time, the user type, it checks on the first request: a
// role or permission the user type can never hold is a `500` that names both sides, logged at
// error level; never a `403` for everyone, and inside `not(..)` never a pass for everyone.

/// An enum that is not the users' role type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Muting {
    Muted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, axum_login::Permission)]
#[permission(rename_all = "dot.case")]
enum Perm {
    PostsWrite,
    PostsPublish,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, axum_login::Permission)]
enum OtherPerm {
    Deploy,
}

/// A derived user: roles of `Access`, permissions of `Perm`.
#[derive(Clone, Debug, AuthUser)]
struct Staff {
    #[auth(id)]
    id: i64,
    name: String,
    #[auth(roles)]
    roles: Vec<Access>,
    #[auth(permissions)]
    permissions: Vec<Perm>,
}

/// A derived user with no roles or permissions at all.
#[derive(Clone, Debug, AuthUser)]
struct Plain {
    #[auth(id)]
    id: i64,
}

#[derive(Clone, Default)]
struct StaffStore(Arc<Mutex<HashMap<i64, Staff>>>);

impl UserStore for StaffStore {
    type User = Staff;
    type Credentials = String;
    type Error = Infallible;

    async fn authenticate(&self, name: String) -> Result<Option<Staff>, Infallible> {
        Ok(self
            .0
            .lock()
            .expect("lock")
            .values()
            .find(|user| user.name == name)
            .cloned())
    }

    async fn load_user(&self, id: &i64) -> Result<Option<Staff>, Infallible> {
        Ok(self.0.lock().expect("lock").get(id).cloned())
    }
}

#[require_login(role = Muting::Muted)]
async fn role_of_another_enum() -> &'static str {
    "never"
}

#[require_login(not(role = Muting::Muted))]
async fn not_a_role_of_another_enum() -> &'static str {
    "never"
}

#[require_login(any(role = Access::Admin, role = Muting::Muted))]
async fn any_with_a_role_of_another_enum() -> &'static str {
    "never"
}

#[require_login(role = "admin")]
async fn role_by_name() -> &'static str {
    "admin by name"
}

#[require_login(role = "editor")]
async fn implied_role_by_name() -> &'static str {
    "editor by name"
}

#[require_login(permission = Perm::PostsWrite)]
async fn permission_variant() -> &'static str {
    "write"
}

#[require_login(permission = "posts.publish")]
async fn permission_by_name() -> &'static str {
    "publish"
}

#[require_login(not(permission = "posts.wirte"))]
async fn not_a_misspelt_permission() -> &'static str {
    "never"
}

#[require_login(all(role = Access::Viewer, not(permission = OtherPerm::Deploy)))]
async fn not_a_permission_of_another_enum() -> &'static str {
    "never"
}

/// Refuses with a status that says "OK": the guard must not send it as it is.
async fn refuses_with_ok() -> Result<bool, (StatusCode, &'static str)> {
    Err((StatusCode::OK, "looks served"))
}

async fn refuses_with_a_redirect() -> Result<bool, (StatusCode, [(&'static str, &'static str); 1])>
{
    Err((StatusCode::FOUND, [("location", "/elsewhere")]))
}

async fn refuses_with_a_teapot() -> Result<bool, (StatusCode, &'static str)> {
    Err((StatusCode::IM_A_TEAPOT, "short and stout"))
}

#[require_login(check = refuses_with_ok)]
async fn check_error_ok() -> &'static str {
    "secret"
}

#[require_login(not(check = refuses_with_a_redirect))]
async fn check_error_redirect() -> &'static str {
    "secret"
}

#[require_login(check = refuses_with_a_teapot)]
async fn check_error_teapot() -> &'static str {
    "secret"
}

#[derive(Clone)]
struct Greeting(&'static str);

/// Sixteen extractors, axum's most: the guard shares the first argument after the state.
#[require_login(role = "editor")]
#[allow(clippy::too_many_arguments)]
async fn sixteen_extractors(
    State(greeting): State<Greeting>,
    Path(id): Path<i64>,
    Query(page): Query<Page>,
    CurrentUser(user): CurrentUser<Staff>,
    _: axum::http::HeaderMap,
    _: axum::http::Method,
    _: axum::http::Uri,
    _: axum::http::Version,
    _: axum::extract::OriginalUri,
    _: axum::http::HeaderMap,
    _: axum::http::Method,
    _: axum::http::Uri,
    _: axum::http::Version,
    _: axum::extract::OriginalUri,
    _: axum::http::HeaderMap,
    Json(note): Json<Note>,
) -> String {
    format!(
        "{} {} {id} {} {}",
        greeting.0, user.name, page.page, note.text
    )
}

// `#[axum::debug_handler]` above the guard checks the handler as written; the guard keeps its
// arguments, so it still compiles and the guard still runs.
#[axum::debug_handler]
#[require_login(role = Access::Admin)]
async fn debug_outer(Path(id): Path<i64>) -> String {
    format!("debug {id}")
}

struct Pages;

impl Pages {
    #[require_login]
    async fn associated(CurrentUser(user): CurrentUser<Staff>) -> String {
        format!("hello {}", user.name)
    }
}

struct StaffApp {
    base: String,
}

impl StaffApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn client(&self, name: &str) -> reqwest::Client {
        let client = browser();
        let response = client
            .post(self.url("/login"))
            .form(&[("name", name)])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::OK, "login as {name}");
        client
    }
}

async fn staff_app() -> StaffApp {
    let store = StaffStore::default();
    for (id, name, roles, permissions) in [
        (1, "admin", vec![Access::Admin], vec![]),
        (2, "editor", vec![Access::Editor], vec![Perm::PostsWrite]),
        (3, "viewer", vec![Access::Viewer], vec![Perm::PostsPublish]),
    ] {
        store.0.lock().expect("lock").insert(
            id,
            Staff {
                id,
                name: name.to_owned(),
                roles,
                permissions,
            },
        );
    }
    let muted_area = Router::new()
        .route("/", get(|| async { "never" }))
        .route_layer(require!(not(role = Muting::Muted)));
    let router = Router::new()
        .route("/login", post(login::<StaffStore>))
        .route("/other-role", get(role_of_another_enum))
        .route("/not-other-role", get(not_a_role_of_another_enum))
        .route("/any-other-role", get(any_with_a_role_of_another_enum))
        .route("/role-by-name", get(role_by_name))
        .route("/implied-role-by-name", get(implied_role_by_name))
        .route("/permission-variant", get(permission_variant))
        .route("/permission-by-name", get(permission_by_name))
        .route("/not-misspelt-permission", get(not_a_misspelt_permission))
        .route(
            "/not-other-permission",
            get(not_a_permission_of_another_enum),
        )
        .route("/check-ok", get(check_error_ok))
        .route("/check-redirect", get(check_error_redirect))
        .route("/check-teapot", get(check_error_teapot))
        .route("/sixteen/{id}", post(sixteen_extractors))
        .route("/debug-outer/{id}", get(debug_outer))
        .route("/associated", get(Pages::associated))
        .nest("/muted-area", muted_area)
        .with_state(Greeting("hi"))
        .layer(
            AuthLayer::builder(
                store,
                SessionManagerLayer::new(MemoryStore::default()).with_secure(false),
            )
            // The permission names of the `Member` layers' guards, in this same program.
            .other_user_type::<Member>()
            .build(),
        );
    StaffApp {
        base: format!("http://{}", serve(router).await),
    }
}

/// The status and body of a `GET`.
async fn answer(client: &reqwest::Client, url: String) -> (StatusCode, String) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_role_of_another_enum_is_a_setup_error_naming_both_types() {
    axum_login_tests::logs::capture_logs();
    let app = staff_app().await;
    for name in ["admin", "viewer"] {
        let client = app.client(name).await;
        let (status, body) = answer(&client, app.url("/other-role")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name}: {body}");
        // What to fix is in the log, never in the body: no type of the app's or the crate's.
        assert!(
            !body.contains("Muting") && !body.contains("Staff") && !body.contains("::"),
            "{body}"
        );
    }
    let logs = axum_login_tests::logs::logs();
    assert!(
        logs.contains("the guard asks for role `muted` of type")
            && logs.contains("Muting`")
            && logs.contains("Access`")
            && logs.contains("Staff`"),
        "logged at error level, naming the types"
    );
}

#[tokio::test]
async fn not_a_role_of_another_enum_never_lets_anyone_in() {
    let app = staff_app().await;
    for name in ["admin", "editor", "viewer"] {
        let client = app.client(name).await;
        for path in ["/not-other-role", "/muted-area"] {
            let (status, body) = answer(&client, app.url(path)).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name} {path}");
            assert!(!body.contains("Muting"), "{body}");
        }
    }
}

#[tokio::test]
async fn every_role_of_a_policy_is_checked_even_when_an_earlier_one_decides() {
    let app = staff_app().await;
    // The admin passes `role = Access::Admin`; the role of another enum next to it is still a
    // mistake, found on the first request rather than the first one by a non-admin.
    let admin = app.client("admin").await;
    let (status, body) = answer(&admin, app.url("/any-other-role")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
}

#[tokio::test]
async fn a_role_given_by_name_is_compared_by_the_derived_name_with_the_hierarchy() {
    let app = staff_app().await;
    let admin = app.client("admin").await;
    let editor = app.client("editor").await;
    let viewer = app.client("viewer").await;
    assert_eq!(
        answer(&admin, app.url("/role-by-name")).await,
        (StatusCode::OK, "admin by name".to_owned())
    );
    assert_eq!(
        answer(&editor, app.url("/role-by-name")).await.0,
        StatusCode::FORBIDDEN
    );
    // `Admin` implies `Editor`.
    assert_eq!(
        answer(&admin, app.url("/implied-role-by-name")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        answer(&viewer, app.url("/implied-role-by-name")).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn permissions_by_variant_and_by_name() {
    let app = staff_app().await;
    let editor = app.client("editor").await;
    let viewer = app.client("viewer").await;
    assert_eq!(
        answer(&editor, app.url("/permission-variant")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        answer(&viewer, app.url("/permission-variant")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        answer(&viewer, app.url("/permission-by-name")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        answer(&editor, app.url("/permission-by-name")).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_permission_the_user_type_cannot_hold_inside_not_is_a_setup_error() {
    axum_login_tests::logs::capture_logs();
    let app = staff_app().await;
    for name in ["admin", "editor", "viewer"] {
        let client = app.client(name).await;
        let (status, body) = answer(&client, app.url("/not-misspelt-permission")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        assert!(!body.contains("wirte") && !body.contains("Perm"), "{body}");
        let (status, body) = answer(&client, app.url("/not-other-permission")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        assert!(!body.contains("Perm"), "{body}");
    }
    let logs = axum_login_tests::logs::logs();
    assert!(
        logs.contains("\"posts.wirte\"")
            && logs.contains("expected one of: `posts.write`, `posts.publish`"),
        "the log lists the names that exist"
    );
    assert!(logs.contains("OtherPerm`"), "the log names both types");
}

#[tokio::test]
async fn a_user_type_without_roles_or_permissions_cannot_be_asked_for_them() {
    axum_login_tests::logs::capture_logs();
    #[require_login(role = Access::Viewer)]
    async fn viewer_only() -> &'static str {
        "never"
    }

    #[require_login(not(permission = "banned"))]
    async fn not_banned() -> &'static str {
        "never"
    }

    #[derive(Clone)]
    struct PlainStore;

    impl UserStore for PlainStore {
        type User = Plain;
        type Credentials = i64;
        type Error = Infallible;

        async fn authenticate(&self, id: i64) -> Result<Option<Plain>, Infallible> {
            Ok(Some(Plain { id }))
        }

        async fn load_user(&self, id: &i64) -> Result<Option<Plain>, Infallible> {
            Ok(Some(Plain { id: *id }))
        }
    }

    async fn plain_login(mut auth: AuthSession<PlainStore>) -> Result<StatusCode, AuthError> {
        log_in(&mut auth, 1).await?.expect("any id");
        Ok(StatusCode::OK)
    }

    let router = Router::new()
        .route("/login", post(plain_login))
        .route("/viewer", get(viewer_only))
        .route("/not-banned", get(not_banned))
        .layer(
            AuthLayer::builder(
                PlainStore,
                SessionManagerLayer::new(MemoryStore::default()).with_secure(false),
            )
            // The permission names of the `Member` layers' guards, in this same program.
            .other_user_type::<Member>()
            .build(),
        );
    let base = format!("http://{}", serve(router).await);
    let client = browser();
    let response = client
        .post(format!("{base}/login"))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = answer(&client, format!("{base}/viewer")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("Plain"), "{body}");
    let (status, body) = answer(&client, format!("{base}/not-banned")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("Plain"), "{body}");
    let logs = axum_login_tests::logs::logs();
    assert!(logs.contains("hold no roles"), "logged");
    assert!(logs.contains("hold no permissions"), "logged");
}

#[tokio::test]
async fn a_check_error_that_says_ok_never_answers_ok() {
    axum_login_tests::logs::capture_logs();
    let app = staff_app().await;
    let viewer = app.client("viewer").await;
    let (status, body) = answer(&viewer, app.url("/check-ok")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !body.contains("looks served") && !body.contains("secret"),
        "{body}"
    );
    assert!(!body.contains("refuses_with_ok"), "{body}");
    assert!(
        axum_login_tests::logs::logs().contains("refuses_with_ok"),
        "the log names the check"
    );
    let response = viewer
        .get(app.url("/check-redirect"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get(LOCATION).is_none());
    // A refusal is sent as it is.
    assert_eq!(
        answer(&viewer, app.url("/check-teapot")).await,
        (StatusCode::IM_A_TEAPOT, "short and stout".to_owned())
    );
}

#[tokio::test]
async fn a_handler_with_sixteen_extractors_is_guarded() {
    let app = staff_app().await;
    let send = |client: reqwest::Client| {
        let url = app.url("/sixteen/7?page=3");
        async move {
            let response = client
                .post(url)
                .header(ACCEPT, "application/json")
                .json(&Note {
                    text: "note".into(),
                })
                .send()
                .await
                .expect("request");
            let status = response.status();
            (status, response.text().await.expect("body"))
        }
    };
    assert_eq!(send(bare_client()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(app.client("viewer").await).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(app.client("editor").await).await,
        (StatusCode::OK, "hi editor 7 3 note".to_owned())
    );
}

#[tokio::test]
async fn debug_handler_above_the_guard_keeps_the_guard() {
    let app = staff_app().await;
    assert_eq!(
        status_as_api(&bare_client(), app.url("/debug-outer/5")).await,
        StatusCode::UNAUTHORIZED
    );
    let editor = app.client("editor").await;
    assert_eq!(
        answer(&editor, app.url("/debug-outer/5")).await.0,
        StatusCode::FORBIDDEN
    );
    let admin = app.client("admin").await;
    assert_eq!(
        answer(&admin, app.url("/debug-outer/5")).await,
        (StatusCode::OK, "debug 5".to_owned())
    );
}

#[tokio::test]
async fn an_associated_function_can_be_guarded() {
    let app = staff_app().await;
    assert_eq!(
        status_as_api(&bare_client(), app.url("/associated")).await,
        StatusCode::UNAUTHORIZED
    );
    let viewer = app.client("viewer").await;
    assert_eq!(
        answer(&viewer, app.url("/associated")).await,
        (StatusCode::OK, "hello viewer".to_owned())
    );
}

/// Policies written by hand, for rules the attribute grammar cannot say: each asks the user
/// one question through `PolicyContext`.
struct HandWrittenRole;
struct HandWrittenRoleNamed;
struct HandWrittenPermission;

impl<S: Send + Sync> Policy<S> for HandWrittenRole {
    async fn check(cx: &mut PolicyContext<'_, S>) -> Result<bool, Response> {
        cx.has_role(&Access::Editor)
            .map_err(IntoResponse::into_response)
    }
}

impl<S: Send + Sync> Policy<S> for HandWrittenRoleNamed {
    async fn check(cx: &mut PolicyContext<'_, S>) -> Result<bool, Response> {
        cx.has_role_named("editor")
            .map_err(IntoResponse::into_response)
    }
}

impl<S: Send + Sync> Policy<S> for HandWrittenPermission {
    async fn check(cx: &mut PolicyContext<'_, S>) -> Result<bool, Response> {
        cx.has_permission("posts.write")
            .map_err(IntoResponse::into_response)
    }
}

#[tokio::test]
async fn hand_written_policies_see_the_users_roles_and_permissions() {
    let members = Members::default();
    // An admin is an editor through the hierarchy; a writer holds a permission and no role.
    members.add(1, "admin", &[Access::Admin], &[]);
    members.add(2, "writer", &[Access::Viewer], &["posts.write"]);
    let router = Router::new()
        .route("/login", post(login::<Members>))
        .route("/role", get(|_: Guard<HandWrittenRole>| async { "role" }))
        .route(
            "/role-named",
            get(|_: Guard<HandWrittenRoleNamed>| async { "role named" }),
        )
        .route(
            "/permission",
            get(|_: Guard<HandWrittenPermission>| async { "permission" }),
        )
        .layer(
            AuthLayer::builder(
                members.clone(),
                SessionManagerLayer::new(MemoryStore::default()).with_secure(false),
            )
            .build(),
        );
    let base = format!("http://{}", serve(router).await);
    let admin = browser();
    let writer = browser();
    for (client, name) in [(&admin, "admin"), (&writer, "writer")] {
        let response = client
            .post(format!("{base}/login"))
            .form(&[("name", name)])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::OK, "login as {name}");
    }
    for (client, name, path, expected) in [
        (&admin, "admin", "/role", StatusCode::OK),
        (&writer, "writer", "/role", StatusCode::FORBIDDEN),
        (&admin, "admin", "/role-named", StatusCode::OK),
        (&writer, "writer", "/role-named", StatusCode::FORBIDDEN),
        (&admin, "admin", "/permission", StatusCode::FORBIDDEN),
        (&writer, "writer", "/permission", StatusCode::OK),
    ] {
        let (status, _) = answer(client, format!("{base}{path}")).await;
        assert_eq!(status, expected, "{name} on {path}");
    }
}
