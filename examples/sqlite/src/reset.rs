//! Password reset by mail: the request form, the link's page, and the new password.

use axum::{
    Form, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
    routing::get,
};
use axum_login::{
    CurrentUser,
    accounts::{Accounts, ResetOutcome, ResetRequested},
    csrf::CsrfToken,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::{
    Store, User,
    routes::{AppState, Auth, FLASH_KEY, Page, PageResult, html},
    templates::Templates,
};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/password-reset", get(request_page).post(request_reset))
        .route("/password-reset/{token}", get(reset_page).post(reset))
}

/// What the request page says after a request: the same whatever the address.
const SENT: &str = "If an account uses this address, we sent it a link to choose a new password. \
                    It works for an hour.";

/// What the link's page says when the token does not work: the same for every reason.
const LINK_DEAD: &str = "This link does not work any more: it was used, it expired, or a newer \
                         login or password change replaced it. Ask for a new one below.";

#[derive(Serialize)]
struct ResetPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    /// The token's form is shown (the link works).
    token: Option<&'a str>,
}

fn render(
    templates: &Templates,
    csrf: &CsrfToken,
    status: StatusCode,
    page: ResetPage<'_>,
) -> PageResult {
    Ok(html(
        status,
        templates.render("password_reset.html", csrf, page)?,
    ))
}

async fn request_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    user: Option<CurrentUser<User>>,
) -> PageResult {
    let user = user.map(|CurrentUser(user)| user);
    let page = ResetPage {
        page: Page::new(user.as_ref()),
        token: None,
    };
    render(&templates, &csrf, StatusCode::OK, page)
}

#[derive(Deserialize)]
struct RequestForm {
    #[serde(default)]
    email: String,
}

async fn request_reset(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    Form(form): Form<RequestForm>,
) -> PageResult {
    let (status, message) = match accounts.request_password_reset(&auth, &form.email).await? {
        ResetRequested::InvalidAddress => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is not an email address.",
        ),
        ResetRequested::Throttled => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests from here: wait a few minutes and try again.",
        ),
        _ => (StatusCode::OK, SENT),
    };
    let page = ResetPage {
        page: Page {
            notice: (status == StatusCode::OK).then_some(message),
            flash: (status != StatusCode::OK).then_some(message),
            ..Page::new(None)
        },
        token: None,
    };
    render(&templates, &csrf, status, page)
}

/// The link's page: a form that posts the token, never a use of it (mail scanners follow
/// links).
async fn reset_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    Path(token): Path<String>,
) -> PageResult {
    let works = accounts.check_reset_token(&auth, &token).await?;
    let page = ResetPage {
        page: Page {
            flash: (!works).then_some(LINK_DEAD),
            ..Page::new(None)
        },
        token: works.then_some(token.as_str()),
    };
    let status = if works {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render(&templates, &csrf, status, page)
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    new_password: String,
}

async fn reset(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    mut auth: Auth,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> PageResult {
    let password = SecretString::from(form.new_password);
    let problem = match accounts.reset_password(&mut auth, &token, password).await? {
        ResetOutcome::Done { .. } => {
            auth.session()
                .insert(
                    FLASH_KEY,
                    "Your password is changed, and every session of yours has ended. Log in with the new one.",
                )
                .await?;
            return Ok(Redirect::to("/login").into_response());
        }
        ResetOutcome::InvalidPassword { min, max } => {
            let message = format!("The new password must be {min} to {max} bytes long.");
            let page = ResetPage {
                page: Page {
                    flash: Some(&message),
                    ..Page::new(None)
                },
                token: Some(&token),
            };
            return render(&templates, &csrf, StatusCode::UNPROCESSABLE_ENTITY, page);
        }
        _ => LINK_DEAD,
    };
    let page = ResetPage {
        page: Page {
            flash: Some(problem),
            ..Page::new(None)
        },
        token: None,
    };
    render(&templates, &csrf, StatusCode::BAD_REQUEST, page)
}
