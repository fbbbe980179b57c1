//! The account pages: the user's sessions, which they can end, TOTP enrolment and removal, new
//! recovery codes, and a page that needs a second factor. Every page needs a login; every `POST` refuses a cross-site request
//! with `403`.

use std::time::SystemTime;

use axum::{
    Form, Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header::CACHE_CONTROL},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    CurrentUser, clock::SystemClock, csrf::CsrfToken, events::SecondFactorChange,
    mfa::RecoveryCodes, registry::SessionInfo, require_login,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::time::OffsetDateTime;

use crate::{
    User,
    routes::{AppState, Auth, FLASH_KEY, Page, PageError, PageResult, html},
    templates::Templates,
};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/sessions/end-others", post(end_other_sessions))
        .route("/account/2fa", get(enrolment_page).post(confirm_enrolment))
        .route("/account/2fa/start", post(start_enrolment))
        .route(
            "/account/2fa/recovery-codes",
            post(regenerate_recovery_codes),
        )
        .route("/account/2fa/disable", post(disable))
        .route("/account/secure", get(secure))
}

/// One row of the sessions page.
#[derive(Serialize)]
struct SessionRow {
    id: String,
    created: String,
    last_seen: String,
    address: String,
    user_agent: String,
    current: bool,
    remembered: bool,
}

impl From<SessionInfo> for SessionRow {
    fn from(info: SessionInfo) -> Self {
        Self {
            id: info.id,
            created: timestamp(info.created_at),
            last_seen: timestamp(info.last_seen),
            address: info
                .address
                .map_or_else(|| "unknown".to_owned(), |address| address.to_string()),
            user_agent: info.user_agent.unwrap_or_else(|| "unknown".to_owned()),
            current: info.current,
            remembered: info.remembered,
        }
    }
}

/// A time as the page shows it, to the second, in UTC (the server does not know the reader's
/// time zone).
pub(crate) fn timestamp(at: SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[derive(Serialize)]
struct SessionsPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    sessions: Vec<SessionRow>,
}

#[require_login]
async fn sessions_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let notice: Option<String> = auth.session().remove(FLASH_KEY).await?;
    let sessions = auth.sessions().await?.into_iter().map(SessionRow::from);
    let page = SessionsPage {
        page: Page {
            notice: notice.as_deref(),
            ..Page::new(Some(&user))
        },
        sessions: sessions.collect(),
    };
    Ok(html(
        StatusCode::OK,
        templates.render("sessions.html", &csrf, page)?,
    ))
}

/// Ends one session by its registry id. Ending this browser's own session is a logout.
#[require_login]
async fn end_session(mut auth: Auth, Path(id): Path<String>) -> Result<Redirect, PageError> {
    let ended = auth.end_session(&id).await?;
    if !auth.is_authenticated().await? {
        return Ok(Redirect::to("/login"));
    }
    let notice = if ended {
        "The session has been logged out."
    } else {
        "That session had ended already."
    };
    auth.session().insert(FLASH_KEY, notice).await?;
    Ok(Redirect::to("/account/sessions"))
}

/// "Log out other devices": every other session ends, and so does every remember-me cookie
/// of the user, this browser's too, or a stolen one would log straight back in.
#[require_login]
async fn end_other_sessions(mut auth: Auth) -> Result<Redirect, PageError> {
    let ended = auth.end_other_sessions().await?;
    let notice = match ended {
        0 => "You had no other sessions.".to_owned(),
        1 => "Logged out 1 other session.".to_owned(),
        n => format!("Logged out {n} other sessions."),
    };
    auth.session().insert(FLASH_KEY, notice).await?;
    Ok(Redirect::to("/account/sessions"))
}

#[derive(Serialize)]
struct EnrolmentPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    enabled: bool,
    /// The QR code, an SVG element to put in the page as it is.
    qr_svg: Option<String>,
    uri: Option<&'a str>,
    secret: Option<&'a str>,
    recovery_codes: Vec<&'a str>,
    codes_left: usize,
}

/// A page that shows a secret: no cache may keep it.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The TOTP page: whether it is on, how many recovery codes are left, and the forms that
/// change it. A `GET` changes nothing and shows no secret (a page of another site can make the
/// browser load it), so a fresh password is enough to see it (a remembered login never is).
///
/// The forms post to handlers guarded by `fresh_mfa = "10m"`: a password entered within ten
/// minutes and, for a user who has a second factor, a second factor completed within as long.
/// Whoever finds a session left open, or knows the password alone, must not move the second
/// factor to their own phone, print new recovery codes, or turn it off.
#[require_login(fresh = "10m")]
async fn enrolment_page(
    csrf: CsrfToken,
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let mfa = &state.mfa;
    let page = EnrolmentPage {
        page: Page::new(Some(&user)),
        enabled: mfa.totp_enabled(&user.id).await?,
        qr_svg: None,
        uri: None,
        secret: None,
        recovery_codes: Vec::new(),
        codes_left: mfa.recovery_codes_left(&user.id).await?,
    };
    let body = state.templates.render("two_factor.html", &csrf, page)?;
    Ok(no_store(html(StatusCode::OK, body)))
}

/// Starts an enrolment: a new secret, pending until a code confirms it (a confirmed one stays
/// in force until then), shown as a QR code, its `otpauth://` URI and the secret to type in.
/// A `POST` from this site's form, so no other site can replace a pending secret.
#[require_login(fresh_mfa = "10m")]
async fn start_enrolment(
    csrf: CsrfToken,
    State(state): State<AppState>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    auth.check_same_site()?;
    let mfa = &state.mfa;
    let enabled = mfa.totp_enabled(&user.id).await?;
    let enrolment = mfa.start_totp_enrollment(&user.id, &user.username).await?;
    let svg = enrolment.qr_svg()?;
    // The renderer writes a standalone document; inside HTML only the element belongs.
    let svg = svg.find("<svg").map_or(svg.as_str(), |start| &svg[start..]);
    let secret = enrolment.secret().to_base32();
    let page = EnrolmentPage {
        page: Page::new(Some(&user)),
        enabled,
        qr_svg: Some(svg.to_owned()),
        uri: Some(enrolment.uri().expose_secret()),
        secret: Some(secret.expose_secret()),
        recovery_codes: Vec::new(),
        codes_left: mfa.recovery_codes_left(&user.id).await?,
    };
    let body = state.templates.render("two_factor.html", &csrf, page)?;
    Ok(no_store(html(StatusCode::OK, body)))
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    code: String,
}

/// Confirms the pending secret with a first code: TOTP is on, and the ten recovery codes are
/// shown, this once (only their hashes are kept). Every remember-me cookie of the user ends.
#[require_login(fresh_mfa = "10m")]
async fn confirm_enrolment(
    csrf: CsrfToken,
    State(state): State<AppState>,
    mut auth: Auth,
    CurrentUser(user): CurrentUser<User>,
    Form(form): Form<ConfirmForm>,
) -> PageResult {
    // Turning on a second factor changes the account, so it must come from this site's form.
    auth.check_same_site()?;
    let mfa = &state.mfa;
    let Some(codes) = mfa
        .confirm_totp(&user.id, form.code.trim(), &SystemClock)
        .await?
    else {
        let page = EnrolmentPage {
            page: Page {
                flash: Some("That code is not right. Enter the current code from your app."),
                ..Page::new(Some(&user))
            },
            enabled: mfa.totp_enabled(&user.id).await?,
            qr_svg: None,
            uri: None,
            secret: None,
            recovery_codes: Vec::new(),
            codes_left: mfa.recovery_codes_left(&user.id).await?,
        };
        let body = state.templates.render("two_factor.html", &csrf, page)?;
        return Ok(no_store(html(StatusCode::UNPROCESSABLE_ENTITY, body)));
    };
    auth.second_factors_changed(SecondFactorChange::TotpEnrolled)
        .await?;
    recovery_codes_page(
        &state,
        &csrf,
        &user,
        &codes,
        "Two-factor authentication is on.",
    )
}

/// Replaces the recovery codes with ten new ones, shown once. Every remember-me cookie of the
/// user ends.
#[require_login(fresh_mfa = "10m")]
async fn regenerate_recovery_codes(
    csrf: CsrfToken,
    State(state): State<AppState>,
    mut auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    auth.check_same_site()?;
    if !state.mfa.totp_enabled(&user.id).await? {
        return Ok(Redirect::to("/account/2fa").into_response());
    }
    let codes = state.mfa.regenerate_recovery_codes(&user.id).await?;
    auth.second_factors_changed(SecondFactorChange::RecoveryCodesRegenerated)
        .await?;
    recovery_codes_page(
        &state,
        &csrf,
        &user,
        &codes,
        "New recovery codes; the old ones no longer work.",
    )
}

/// The page that shows recovery codes, this once.
fn recovery_codes_page(
    state: &AppState,
    csrf: &CsrfToken,
    user: &User,
    codes: &RecoveryCodes,
    notice: &str,
) -> Result<Response, PageError> {
    let page = EnrolmentPage {
        page: Page {
            notice: Some(notice),
            ..Page::new(Some(user))
        },
        enabled: true,
        qr_svg: None,
        uri: None,
        secret: None,
        recovery_codes: codes.iter().collect(),
        codes_left: codes.iter().count(),
    };
    let body = state.templates.render("two_factor.html", csrf, page)?;
    Ok(no_store(html(StatusCode::OK, body)))
}

/// Turns TOTP off and drops the recovery codes. It needs the second factor itself, completed
/// within ten minutes, not only the password: a session left open, or a password that leaked,
/// must not be able to remove the owner's second factor. Every remember-me cookie of the user
/// ends.
#[require_login(fresh_mfa = "10m")]
async fn disable(
    State(state): State<AppState>,
    mut auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    auth.check_same_site()?;
    if state.mfa.disable(&user.id).await? {
        auth.second_factors_changed(SecondFactorChange::Removed)
            .await?;
    }
    Ok(Redirect::to("/account/2fa").into_response())
}

/// Open only with a second factor completed in this session; the guard sends anyone else to
/// the code form, and back here after it.
#[require_login(mfa)]
async fn secure(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let body = templates.render("secure.html", &csrf, Page::new(Some(&user)))?;
    Ok(html(StatusCode::OK, body))
}
