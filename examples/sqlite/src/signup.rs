//! Sign-up and email verification: the form, the "check your mail" page, and the link's page.

use axum::{
    Form, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
    routing::get,
};
use axum_login::{
    CurrentUser,
    accounts::{Accounts, EmailUser as _, SignUp, Verified},
    csrf::CsrfToken,
    require_login,
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
        .route("/signup", get(signup_page).post(signup))
        .route("/signup/check-mail", get(check_mail))
        .route("/verify-email/{token}", get(verify_page).post(verify))
        .route("/account/verify", get(unverified_page).post(resend))
        .route("/account/verified", get(verified_only))
}

/// Where a guard with `verified` sends a browser whose address is not confirmed.
pub(crate) const UNVERIFIED_URL: &str = "/account/verify";

/// What the link's page says when the token does not work: the same for every reason.
const LINK_DEAD: &str = "This link does not work any more: it was used, it expired, or the \
                         address changed since. Log in and ask for a new one from your account.";

#[derive(Serialize)]
struct SignupPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    /// What the form held, to fill it again.
    username: &'a str,
    email: &'a str,
    /// The verification form is shown (the link works), posting to this token.
    token: Option<&'a str>,
    /// The page after a sign-up.
    sent: bool,
}

impl<'a> SignupPage<'a> {
    fn new(user: Option<&'a User>) -> Self {
        Self {
            page: Page::new(user),
            username: "",
            email: "",
            token: None,
            sent: false,
        }
    }
}

fn render(
    templates: &Templates,
    csrf: &CsrfToken,
    status: StatusCode,
    page: SignupPage<'_>,
) -> PageResult {
    Ok(html(status, templates.render("signup.html", csrf, page)?))
}

async fn signup_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    user: Option<CurrentUser<User>>,
) -> PageResult {
    let user = user.map(|CurrentUser(user)| user);
    render(
        &templates,
        &csrf,
        StatusCode::OK,
        SignupPage::new(user.as_ref()),
    )
}

#[derive(Deserialize)]
struct SignupForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// A new account and an address that has one get the same answer: `303` to the "check your
/// mail" page; only the address's owner learns, by mail, that it was taken.
async fn signup(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    Form(form): Form<SignupForm>,
) -> PageResult {
    let password = SecretString::from(form.password);
    let outcome = accounts
        .sign_up(&auth, &form.username, &form.email, password)
        .await?;
    let (status, problem) = match &outcome {
        SignUp::CheckYourMail => return Ok(Redirect::to("/signup/check-mail").into_response()),
        SignUp::UsernameTaken => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "That username is taken: pick another.".to_owned(),
        ),
        SignUp::InvalidUsername => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a username.".to_owned(),
        ),
        SignUp::InvalidAddress => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is not an email address.".to_owned(),
        ),
        SignUp::InvalidPassword { min, max } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The password must be {min} to {max} bytes long."),
        ),
        _ => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests from here: wait a few minutes and try again.".to_owned(),
        ),
    };
    let page = SignupPage {
        page: Page {
            flash: Some(&problem),
            ..Page::new(None)
        },
        username: &form.username,
        email: &form.email,
        ..SignupPage::new(None)
    };
    render(&templates, &csrf, status, page)
}

async fn check_mail(csrf: CsrfToken, State(templates): State<Templates>) -> PageResult {
    let page = SignupPage {
        page: Page {
            notice: Some(
                "Check your mail: we sent a link that confirms your address. It works for three days.",
            ),
            ..Page::new(None)
        },
        sent: true,
        ..SignupPage::new(None)
    };
    render(&templates, &csrf, StatusCode::OK, page)
}

/// The link's page: a form that posts the token, never a use of it (mail scanners follow
/// links).
async fn verify_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    Path(token): Path<String>,
) -> PageResult {
    let works = accounts.check_verification_token(&auth, &token).await?;
    let page = SignupPage {
        page: Page {
            flash: (!works).then_some(LINK_DEAD),
            ..Page::new(None)
        },
        token: works.then_some(token.as_str()),
        ..SignupPage::new(None)
    };
    let status = if works {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render(&templates, &csrf, status, page)
}

async fn verify(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    Path(token): Path<String>,
) -> PageResult {
    if accounts.verify_email(&auth, &token).await? == Verified::Done {
        auth.session()
            .insert(FLASH_KEY, "Your address is confirmed. Thank you!")
            .await?;
        return Ok(Redirect::to("/").into_response());
    }
    let page = SignupPage {
        page: Page {
            flash: Some(LINK_DEAD),
            ..Page::new(None)
        },
        ..SignupPage::new(None)
    };
    render(&templates, &csrf, StatusCode::BAD_REQUEST, page)
}

#[derive(Serialize)]
struct VerifyPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    email: Option<&'a str>,
    verified: bool,
}

/// The page a guard with `verified` sends an unconfirmed user to: it says which address waits
/// for confirmation, and mails a new link.
#[require_login]
async fn unverified_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let notice: Option<String> = auth.session().remove(FLASH_KEY).await?;
    let page = VerifyPage {
        page: Page {
            notice: notice.as_deref(),
            ..Page::new(Some(&user))
        },
        email: user.email.as_deref(),
        verified: user.email_verified(),
    };
    Ok(html(
        StatusCode::OK,
        templates.render("verify.html", &csrf, page)?,
    ))
}

#[require_login]
async fn resend(
    State(accounts): State<Accounts<Store>>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let message = if accounts.send_verification(&auth, &user).await? {
        "We sent a new link; it works for three days."
    } else {
        "Too many mails asked for from here: wait a few minutes and try again."
    };
    auth.session().insert(FLASH_KEY, message).await?;
    Ok(Redirect::to(UNVERIFIED_URL).into_response())
}

/// A page only users with a confirmed address see.
#[require_login(verified)]
async fn verified_only(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let page = VerifyPage {
        page: Page::new(Some(&user)),
        email: user.email.as_deref(),
        verified: true,
    };
    Ok(html(
        StatusCode::OK,
        templates.render("verify.html", &csrf, page)?,
    ))
}
