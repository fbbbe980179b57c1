//! `examples/permissions` over HTTP: each guard form with a user it lets in and one it turns away.

use std::net::SocketAddr;

use axum_login::SessionKey;
use axum_login_tests::http::serve_with_addr;
use reqwest::{
    StatusCode,
    header::{LOCATION, SET_COOKIE},
};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

struct App {
    addr: SocketAddr,
    store: example_permissions::Store,
}

impl App {
    async fn start() -> Self {
        let store = example_permissions::seeded_store()
            .await
            .expect("seeded store");
        let app = example_permissions::app(store.clone(), SessionKey::generate())
            .await
            .expect("the app starts");
        // As `main` serves it: with the client's address, for the login throttle.
        let addr = serve_with_addr(app).await;
        Self { addr, store }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A browser with its own cookie jar, logged in as `username`.
    async fn browser(&self, username: &str) -> reqwest::Client {
        let password = example_permissions::SEED_USERS
            .iter()
            .find(|user| user.0 == username)
            .map(|user| user.1)
            .expect("a seeded user");
        let client = anonymous();
        let response = client
            .post(self.url("/login"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("login");
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login as {username}"
        );
        client
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> StatusCode {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .status()
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> StatusCode {
        client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request")
            .status()
    }
}

fn anonymous() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn roles_and_permissions_come_from_the_tables() {
    let app = App::start().await;
    let erin = app.browser("erin").await;
    let home = erin
        .get(app.url("/"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    // `posts.read` and `posts.publish` come from the editor role's rows in `role_permissions`.
    assert!(
        home.starts_with("logged in as erin (roles: [Editor], permissions: ["),
        "{home}"
    );
    assert!(
        home.contains("PostsRead") && home.contains("PostsPublish"),
        "{home}"
    );
    assert!(!home.contains("UsersManage"), "{home}");
    let alice = app.browser("alice").await;
    let home = alice
        .get(app.url("/"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    // `posts.publish` is granted to alice alone, in `user_permissions`.
    assert!(home.contains("PostsPublish"), "{home}");
}

#[tokio::test]
async fn permission_by_name() {
    let app = App::start().await;
    for user in ["admin", "erin", "alice", "bob"] {
        let client = app.browser(user).await;
        assert_eq!(app.get(&client, "/posts/1").await, StatusCode::OK, "{user}");
    }
    let carol = app.browser("carol").await;
    assert_eq!(app.get(&carol, "/posts/1").await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn any_with_a_role_or_a_check_on_the_path_id() {
    let app = App::start().await;
    let edit = [("title", "new title")];
    let alice = app.browser("alice").await;
    // Alice wrote post 1, not post 2.
    assert_eq!(
        app.post(&alice, "/posts/1/edit", &edit).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(&alice, "/posts/2/edit", &edit).await,
        StatusCode::FORBIDDEN
    );
    let bob = app.browser("bob").await;
    assert_eq!(
        app.post(&bob, "/posts/2/edit", &edit).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(&bob, "/posts/1/edit", &edit).await,
        StatusCode::FORBIDDEN
    );
    // Editors edit any post, and so do admins, through the role hierarchy.
    let erin = app.browser("erin").await;
    assert_eq!(
        app.post(&erin, "/posts/2/edit", &edit).await,
        StatusCode::NO_CONTENT
    );
    let admin = app.browser("admin").await;
    assert_eq!(
        app.post(&admin, "/posts/1/edit", &edit).await,
        StatusCode::NO_CONTENT
    );
    let carol = app.browser("carol").await;
    assert_eq!(
        app.post(&carol, "/posts/1/edit", &edit).await,
        StatusCode::FORBIDDEN
    );
    // The check's own `Path` extractor answers a malformed id.
    assert_eq!(
        app.post(&alice, "/posts/x/edit", &edit).await,
        StatusCode::BAD_REQUEST
    );

    let body = alice
        .get(app.url("/posts/1"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert!(body.contains("new title"), "{body}");
}

#[tokio::test]
async fn all_needs_the_role_and_the_permission() {
    let app = App::start().await;
    // Author with a personal `posts.publish` grant.
    let alice = app.browser("alice").await;
    assert_eq!(
        app.post(&alice, "/posts/1/publish", &[]).await,
        StatusCode::NO_CONTENT
    );
    // Author without it.
    let bob = app.browser("bob").await;
    assert_eq!(
        app.post(&bob, "/posts/2/publish", &[]).await,
        StatusCode::FORBIDDEN
    );
    // Editor: an author by the hierarchy, `posts.publish` through the role's table rows.
    let erin = app.browser("erin").await;
    assert_eq!(
        app.post(&erin, "/posts/2/publish", &[]).await,
        StatusCode::NO_CONTENT
    );
    // Neither.
    let carol = app.browser("carol").await;
    assert_eq!(
        app.post(&carol, "/posts/1/publish", &[]).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn not_keeps_muted_users_out() {
    let app = App::start().await;
    let comment = [("body", "nice post")];
    let bob = app.browser("bob").await;
    assert_eq!(
        app.post(&bob, "/posts/1/comments", &comment).await,
        StatusCode::CREATED
    );
    let carol = app.browser("carol").await;
    assert_eq!(
        app.post(&carol, "/posts/1/comments", &comment).await,
        StatusCode::CREATED
    );
    let mallory = app.browser("mallory").await;
    assert_eq!(
        app.post(&mallory, "/posts/1/comments", &comment).await,
        StatusCode::FORBIDDEN
    );
    // Muted authors keep what the author role gives them.
    assert_eq!(app.get(&mallory, "/posts/1").await, StatusCode::OK);
}

#[tokio::test]
async fn router_level_guard_on_the_admin_area() {
    let app = App::start().await;
    let response = anonymous()
        .get(app.url("/admin/users"))
        .header("accept", HTML)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login?next=%2Fadmin%2Fusers");
    let response = anonymous()
        .get(app.url("/admin/users"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Editors are one step below admins in the hierarchy: not enough.
    let erin = app.browser("erin").await;
    assert_eq!(app.get(&erin, "/admin/users").await, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&erin, "/admin").await, StatusCode::FORBIDDEN);

    let admin = app.browser("admin").await;
    let response = admin
        .get(app.url("/admin/users"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["users"][0], "admin");
    assert_eq!(
        app.get(&admin, "/admin/missing").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn login_returns_to_a_safe_next_only() {
    let app = App::start().await;
    let login = |next: &'static str| {
        let app = &app;
        async move {
            let response = anonymous()
                .post(app.url(&format!("/login?next={next}")))
                .form(&[("username", "bob"), ("password", "author-pass")])
                .send()
                .await
                .expect("login");
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            response.headers()[LOCATION]
                .to_str()
                .expect("ascii")
                .to_owned()
        }
    };
    assert_eq!(login("%2Fposts%2F2").await, "/posts/2");
    assert_eq!(login("https%3A%2F%2Fevil.example").await, "/");
    assert_eq!(login("%2F%2Fevil.example").await, "/");
}

#[tokio::test]
async fn loading_a_user_with_roles_and_permissions_is_one_query() {
    let app = App::start().await;
    let erin = app.browser("erin").await;
    let before = app.store.stats().queries;
    assert_eq!(app.get(&erin, "/posts/1").await, StatusCode::OK);
    // The user row with their roles and permissions; the handler's own query is not the store's.
    assert_eq!(app.store.stats().queries - before, 1);
}

/// How a browser marks a form that another site's page posts here: Fetch Metadata, or, in a
/// browser without it, the `Origin`.
const CROSS_SITE: [(&str, &str); 2] = [
    ("sec-fetch-site", "cross-site"),
    ("origin", "https://evil.example"),
];

async fn home(app: &App, client: &reqwest::Client) -> String {
    client
        .get(app.url("/"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn cross_site_login_is_403_and_logs_nobody_in() {
    let app = App::start().await;
    for (name, value) in CROSS_SITE {
        let client = anonymous();
        let response = client
            .post(app.url("/login"))
            .header(name, value)
            .form(&[("username", "admin"), ("password", "correct-horse-battery")])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "{name}: {value}"
        );
        assert_eq!(
            home(&app, &client).await,
            "not logged in",
            "{name}: {value}"
        );
    }
}

#[tokio::test]
async fn cross_site_logout_is_403_and_the_session_goes_on() {
    let app = App::start().await;
    for (name, value) in CROSS_SITE {
        let bob = app.browser("bob").await;
        let response = bob
            .post(app.url("/logout"))
            .header(name, value)
            .send()
            .await
            .expect("logout");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "{name}: {value}"
        );
        assert!(
            home(&app, &bob).await.starts_with("logged in as bob "),
            "{name}: {value}"
        );
        assert_eq!(app.get(&bob, "/posts/2").await, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_failed_login_is_401_whatever_was_wrong() {
    let app = App::start().await;
    let mut answers = Vec::new();
    for (username, password) in [("bob", "wrong-pass"), ("nobody", "author-pass")] {
        let client = anonymous();
        let response = client
            .post(app.url("/login"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{username}");
        answers.push(response.text().await.expect("body"));
        assert_eq!(home(&app, &client).await, "not logged in");
    }
    assert_eq!(answers[0], answers[1]);
}
