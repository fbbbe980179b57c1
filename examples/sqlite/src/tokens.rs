//! API tokens: the account page that creates, lists and revokes them, and `GET /api/me`, which
//! answers a session or a token alike (a token needs scope `profile:read`).

use std::time::Duration;

use axum::{
    Form, Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
    routing::{get, post},
};
use axum_login::{AuthError, CurrentUser, csrf::CsrfToken, require_login, tokens::NewToken};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::{
    User,
    account::timestamp,
    routes::{AppState, Auth, FLASH_KEY, Page, PageError, PageResult, html},
    templates::Templates,
};

/// The scopes a demo token may carry.
const SCOPES: [&str; 2] = ["profile:read", "posts:write"];

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/tokens", get(tokens_page).post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/api/me", get(api_me))
}

/// One row of the tokens page.
#[derive(Serialize)]
struct TokenRow {
    id: String,
    name: String,
    scopes: String,
    created: String,
    last_used: String,
    expires: String,
}

#[derive(Serialize)]
struct TokensPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    tokens: Vec<TokenRow>,
    /// A token just created: shown once.
    secret: Option<&'a str>,
}

async fn render(
    templates: &Templates,
    csrf: &CsrfToken,
    auth: &Auth,
    user: &User,
    status: StatusCode,
    flash: Option<&str>,
    secret: Option<&str>,
) -> PageResult {
    let notice: Option<String> = auth.session().remove(FLASH_KEY).await?;
    let never = || "never".to_owned();
    let tokens = auth
        .tokens()
        .await?
        .into_iter()
        .map(|token| TokenRow {
            id: token.id,
            name: token.name,
            scopes: token.scopes.join(" "),
            created: timestamp(token.created_at),
            last_used: token.last_used_at.map_or_else(never, timestamp),
            expires: token.expires_at.map_or_else(never, timestamp),
        })
        .collect();
    let page = TokensPage {
        page: Page {
            notice: notice.as_deref(),
            flash,
            ..Page::new(Some(user))
        },
        tokens,
        secret,
    };
    Ok(html(status, templates.render("tokens.html", csrf, page)?))
}

#[require_login(session_only)]
async fn tokens_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    render(&templates, &csrf, &auth, &user, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct NewTokenForm {
    name: String,
    #[serde(default)]
    scopes: String,
    expires_in_days: Option<u64>,
}

/// Creates a token and shows its secret, once. A scope the demo does not know, an empty name or
/// a lifetime over a year is refused with `422` and the form again.
#[require_login(session_only)]
async fn create_token(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
    Form(form): Form<NewTokenForm>,
) -> PageResult {
    let scopes: Vec<String> = form.scopes.split_whitespace().map(str::to_owned).collect();
    let refused = if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        format!("Unknown scope \"{unknown}\": use profile:read or posts:write.")
    } else {
        let new = NewToken {
            name: form.name,
            scopes,
            lifetime: form
                .expires_in_days
                .map(|days| Duration::from_secs(days.saturating_mul(24 * 60 * 60))),
        };
        match auth.create_token(new).await {
            Ok(Some(created)) => {
                let secret = Some(created.secret.expose_secret());
                let status = StatusCode::CREATED;
                return render(&templates, &csrf, &auth, &user, status, None, secret).await;
            }
            // The guard let only a session's login in: nobody else reaches here.
            Ok(None) => return Ok(StatusCode::UNAUTHORIZED.into_response()),
            Err(AuthError::InvalidToken(invalid)) => {
                format!("{}.", capitalised(&invalid.to_string()))
            }
            Err(error) => return Err(error.into()),
        }
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render(
        &templates,
        &csrf,
        &auth,
        &user,
        status,
        Some(&refused),
        None,
    )
    .await
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[require_login(session_only)]
async fn revoke_token(auth: Auth, Path(id): Path<String>) -> Result<Redirect, PageError> {
    let notice = if auth.revoke_token(&id).await? {
        "The token has been revoked."
    } else {
        "That token had been revoked already."
    };
    auth.session().insert(FLASH_KEY, notice).await?;
    Ok(Redirect::to("/account/tokens"))
}

/// Who is asking, as JSON: a session, or a token with scope `profile:read`.
#[require_login(scope = "profile:read")]
async fn api_me(
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> Result<Json<serde_json::Value>, PageError> {
    let via = if auth.token_scopes().await?.is_some() {
        "token"
    } else {
        "session"
    };
    Ok(Json(
        serde_json::json!({"username": user.username, "via": via}),
    ))
}
