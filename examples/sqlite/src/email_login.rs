//! Sign-in by email: the form that asks for a link and a code, the code form, and the link's
//! page.

use axum::{
    Form, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
    routing::{get, post},
};
use axum_login::{
    accounts::{Accounts, SignInRequested, SignedIn},
    csrf::CsrfToken,
};
use serde::{Deserialize, Serialize};

use crate::{
    Store,
    routes::{AppState, Auth, Page, PageResult, SECOND_FACTOR_URL, html},
    templates::Templates,
};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/login/email", get(request_page).post(request))
        .route("/login/email/code", post(code))
        .route("/login/email/{token}", get(link_page).post(link))
}

/// What a dead link's page says, whatever the reason.
const LINK_DEAD: &str = "This link does not work any more: it was used, it expired, or you logged in since. Ask for a new one.";

#[derive(Serialize)]
struct EmailLoginPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    /// Show the code form (a link and a code are on their way).
    sent: bool,
    /// Show the link's form, posting to this token.
    token: Option<&'a str>,
}

fn render(
    templates: &Templates,
    csrf: &CsrfToken,
    status: StatusCode,
    page: EmailLoginPage<'_>,
) -> PageResult {
    Ok(html(
        status,
        templates.render("login_email.html", csrf, page)?,
    ))
}

fn page<'a>(flash: Option<&'a str>, sent: bool, token: Option<&'a str>) -> EmailLoginPage<'a> {
    EmailLoginPage {
        page: Page {
            flash,
            ..Page::new(None)
        },
        sent,
        token,
    }
}

async fn request_page(csrf: CsrfToken, State(templates): State<Templates>) -> PageResult {
    render(&templates, &csrf, StatusCode::OK, page(None, false, None))
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

/// The same page whatever the address: the code form.
async fn request(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    Form(form): Form<EmailForm>,
) -> PageResult {
    match accounts.request_sign_in(&auth, &form.email).await? {
        SignInRequested::InvalidAddress => render(
            &templates,
            &csrf,
            StatusCode::UNPROCESSABLE_ENTITY,
            page(Some("That is not an email address."), false, None),
        ),
        SignInRequested::Throttled => render(
            &templates,
            &csrf,
            StatusCode::TOO_MANY_REQUESTS,
            page(
                Some("Too many requests from here: wait a few minutes and try again."),
                false,
                None,
            ),
        ),
        _ => render(&templates, &csrf, StatusCode::OK, page(None, true, None)),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

fn signed_in(outcome: SignedIn) -> Option<Redirect> {
    match outcome {
        SignedIn::LoggedIn => Some(Redirect::to("/")),
        SignedIn::SecondFactorDue => Some(Redirect::to(SECOND_FACTOR_URL)),
        _ => None,
    }
}

async fn code(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    mut auth: Auth,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let outcome = accounts.sign_in_with_code(&mut auth, &form.code).await?;
    if let Some(redirect) = signed_in(outcome) {
        return Ok(redirect.into_response());
    }
    render(
        &templates,
        &csrf,
        StatusCode::UNAUTHORIZED,
        page(
            Some("That code is not right, or it is no longer valid."),
            true,
            None,
        ),
    )
}

/// The link's page: a form that posts, never a login by a `GET` (mail scanners follow links).
async fn link_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    Path(token): Path<String>,
) -> PageResult {
    if accounts.check_sign_in_link(&auth, &token).await? {
        render(
            &templates,
            &csrf,
            StatusCode::OK,
            page(None, false, Some(&token)),
        )
    } else {
        render(
            &templates,
            &csrf,
            StatusCode::BAD_REQUEST,
            page(Some(LINK_DEAD), false, None),
        )
    }
}

async fn link(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    mut auth: Auth,
    Path(token): Path<String>,
) -> PageResult {
    let outcome = accounts.sign_in_with_link(&mut auth, &token).await?;
    if let Some(redirect) = signed_in(outcome) {
        return Ok(redirect.into_response());
    }
    render(
        &templates,
        &csrf,
        StatusCode::BAD_REQUEST,
        page(Some(LINK_DEAD), false, None),
    )
}
