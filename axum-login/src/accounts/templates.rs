//! The mails [`Accounts`](super::Accounts) sends: what goes into each, and the default words.

use std::{fmt::Write as _, time::Duration};

/// A mail as a template renders it: the subject, a plain-text part and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// What a password-reset mail says.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ResetMail<'a> {
    /// The address the mail goes to.
    pub to: &'a str,
    /// The link that opens the reset form, with its token: it goes into the mail as it is.
    /// Built from the configured public URL, never from the request.
    pub link: &'a str,
    /// How long the link works.
    pub valid_for: Duration,
}

/// What a verification mail says.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct VerifyMail<'a> {
    /// The address the mail goes to, the one it confirms.
    pub to: &'a str,
    /// The link that opens the confirmation page, with its token.
    pub link: &'a str,
    /// How long the link works.
    pub valid_for: Duration,
}

/// What a sign-in mail says: a link, and a code for the browser that asked.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SignInMail<'a> {
    /// The address the mail goes to.
    pub to: &'a str,
    /// The link that logs in, with its token.
    pub link: &'a str,
    /// Six digits, for the browser that asked.
    pub code: &'a str,
    /// How long the link and the code work.
    pub valid_for: Duration,
}

/// What the notice to a replaced address says.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ChangedMail<'a> {
    /// The old address, where the mail goes.
    pub to: &'a str,
    /// The address that replaced it.
    pub new_email: &'a str,
}

/// What a notice to an address's owner says: someone tried to sign up with it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NoticeMail<'a> {
    /// The address the mail goes to.
    pub to: &'a str,
    /// Where the owner asks for a reset link, if they forgot their password.
    pub reset_link: &'a str,
}

/// The subjects and bodies of the mails [`Accounts`](super::Accounts) sends, for an app that
/// wants its own words, language or markup. Each method renders one mail; values put into the
/// HTML part must be escaped by the implementation ([`escape_html`] does it).
pub trait MailTemplates: Send + Sync + 'static {
    /// The mail with a password-reset link.
    fn password_reset(&self, mail: &ResetMail<'_>) -> Rendered;

    /// The mail with a link that confirms the address.
    fn verify_email(&self, mail: &VerifyMail<'_>) -> Rendered;

    /// The mail with a sign-in link and code.
    fn sign_in(&self, mail: &SignInMail<'_>) -> Rendered;

    /// The notice to an address that another replaced on its account. The link that
    /// confirms the new address uses [`verify_email`](Self::verify_email).
    fn email_changed(&self, mail: &ChangedMail<'_>) -> Rendered;

    /// The mail to the owner of an address someone tried to sign up with: the sign-up page
    /// answered as for a new address, so only the owner learns it is taken.
    fn already_registered(&self, mail: &NoticeMail<'_>) -> Rendered;
}

/// Plain English mails, signed with the site's name.
#[derive(Debug, Clone)]
pub struct DefaultTemplates {
    site: String,
}

impl Default for DefaultTemplates {
    fn default() -> Self {
        Self::new("our site")
    }
}

impl DefaultTemplates {
    /// Mails that name the site `site` ("Reset your password for {site}").
    pub fn new(site: impl Into<String>) -> Self {
        Self { site: site.into() }
    }
}

/// A duration as a person reads it: "1 hour", "15 minutes", "3 days".
fn human(duration: Duration) -> String {
    let minutes = duration.as_secs() / 60;
    let (count, unit) = if minutes >= 24 * 60 && minutes.is_multiple_of(24 * 60) {
        (minutes / (24 * 60), "day")
    } else if minutes >= 60 && minutes.is_multiple_of(60) {
        (minutes / 60, "hour")
    } else {
        (minutes.max(1), "minute")
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

/// `text` with the characters that mean something in HTML escaped, for a template's HTML part.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

impl MailTemplates for DefaultTemplates {
    fn password_reset(&self, mail: &ResetMail<'_>) -> Rendered {
        let valid = human(mail.valid_for);
        let mut text = String::new();
        let _ = write!(
            text,
            "Someone asked to reset the password of your account at {site}.\n\n\
             To choose a new password, open this link within {valid}:\n\n{link}\n\n\
             If it was not you, ignore this mail: your password stays as it is.\n",
            site = self.site,
            link = mail.link,
        );
        let html = format!(
            "<p>Someone asked to reset the password of your account at {site}.</p>\
             <p>To choose a new password, open this link within {valid}:</p>\
             <p><a href=\"{link}\">{link}</a></p>\
             <p>If it was not you, ignore this mail: your password stays as it is.</p>",
            site = escape_html(&self.site),
            link = escape_html(mail.link),
        );
        Rendered {
            subject: format!("Reset your password for {}", self.site),
            text,
            html,
        }
    }

    fn verify_email(&self, mail: &VerifyMail<'_>) -> Rendered {
        let valid = human(mail.valid_for);
        let text = format!(
            "Please confirm that {to} is your address at {site}.\n\n\
             Open this link within {valid}:\n\n{link}\n\n\
             If you did not sign up, ignore this mail.\n",
            to = mail.to,
            site = self.site,
            link = mail.link,
        );
        let html = format!(
            "<p>Please confirm that {to} is your address at {site}.</p>\
             <p>Open this link within {valid}:</p>\
             <p><a href=\"{link}\">{link}</a></p>\
             <p>If you did not sign up, ignore this mail.</p>",
            to = escape_html(mail.to),
            site = escape_html(&self.site),
            link = escape_html(mail.link),
        );
        Rendered {
            subject: format!("Confirm your address for {}", self.site),
            text,
            html,
        }
    }

    fn sign_in(&self, mail: &SignInMail<'_>) -> Rendered {
        let valid = human(mail.valid_for);
        let text = format!(
            "To log in to {site}, open this link within {valid}:\n\n{link}\n\n\
             or enter this code on the page that asked for it: {code}\n\n\
             If you did not ask, ignore this mail.\n",
            site = self.site,
            link = mail.link,
            code = mail.code,
        );
        let html = format!(
            "<p>To log in to {site}, open this link within {valid}:</p>\
             <p><a href=\"{link}\">{link}</a></p>\
             <p>or enter this code on the page that asked for it: <strong>{code}</strong></p>\
             <p>If you did not ask, ignore this mail.</p>",
            site = escape_html(&self.site),
            link = escape_html(mail.link),
            code = escape_html(mail.code),
        );
        Rendered {
            subject: format!("Log in to {}", self.site),
            text,
            html,
        }
    }

    fn email_changed(&self, mail: &ChangedMail<'_>) -> Rendered {
        let text = format!(
            "The address of your account at {site} is now {new} instead of {to}.\n\n\
             If you did not change it, your account may be in someone else's hands: contact \
             us at once.\n",
            site = self.site,
            new = mail.new_email,
            to = mail.to,
        );
        let html = format!(
            "<p>The address of your account at {site} is now {new} instead of {to}.</p>\
             <p>If you did not change it, contact us at once.</p>",
            site = escape_html(&self.site),
            new = escape_html(mail.new_email),
            to = escape_html(mail.to),
        );
        Rendered {
            subject: format!("Your address at {} changed", self.site),
            text,
            html,
        }
    }

    fn already_registered(&self, mail: &NoticeMail<'_>) -> Rendered {
        let text = format!(
            "Someone tried to sign up at {site} with {to}, which already has an account.\n\n\
             If it was you, log in instead; if you forgot your password, ask for a new one \
             here:\n\n{link}\n\n\
             If it was not you, ignore this mail: nothing changed.\n",
            to = mail.to,
            site = self.site,
            link = mail.reset_link,
        );
        let html = format!(
            "<p>Someone tried to sign up at {site} with {to}, which already has an account.</p>\
             <p>If it was you, log in instead; if you forgot your password, ask for a new one \
             here:</p><p><a href=\"{link}\">{link}</a></p>\
             <p>If it was not you, ignore this mail: nothing changed.</p>",
            to = escape_html(mail.to),
            site = escape_html(&self.site),
            link = escape_html(mail.reset_link),
        );
        Rendered {
            subject: format!("Your account at {}", self.site),
            text,
            html,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human(Duration::from_secs(15 * 60)), "15 minutes");
        assert_eq!(human(Duration::from_secs(3 * 86_400)), "3 days");
        assert_eq!(human(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(human(Duration::from_secs(5)), "1 minute");
    }

    #[test]
    fn the_reset_mail_carries_the_link_in_both_parts_and_escapes_the_html() {
        let templates = DefaultTemplates::new("Tom & Jerry's <shop>");
        let mail = templates.password_reset(&ResetMail {
            to: "a@example.com",
            link: "https://example.com/password-reset/abc_DEF-123",
            valid_for: Duration::from_secs(3600),
        });
        assert!(
            mail.text
                .contains("https://example.com/password-reset/abc_DEF-123")
        );
        assert!(mail.text.contains("within 1 hour"));
        assert!(
            mail.html
                .contains("href=\"https://example.com/password-reset/abc_DEF-123\"")
        );
        assert!(mail.html.contains("Tom &amp; Jerry&#39;s &lt;shop&gt;"));
        assert!(!mail.html.contains("<shop>"));
    }
}
