//! The HTML templates, embedded in the binary.

use std::{fmt, sync::Arc};

use axum_login::csrf::CsrfToken;
use minijinja::{
    Environment, Value, context,
    value::{Object, ObjectRepr},
};
use serde::Serialize;

/// The templates, loaded once; names ending in `.html` are HTML-escaped automatically.
#[derive(Clone)]
pub(crate) struct Templates(Arc<Environment<'static>>);

impl Templates {
    pub(crate) fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("home.html", include_str!("../templates/home.html")),
            ("login.html", include_str!("../templates/login.html")),
            (
                "protected.html",
                include_str!("../templates/protected.html"),
            ),
            ("admin.html", include_str!("../templates/admin.html")),
            ("password.html", include_str!("../templates/password.html")),
            ("code.html", include_str!("../templates/code.html")),
            ("sessions.html", include_str!("../templates/sessions.html")),
            (
                "two_factor.html",
                include_str!("../templates/two_factor.html"),
            ),
            ("secure.html", include_str!("../templates/secure.html")),
            ("tokens.html", include_str!("../templates/tokens.html")),
            (
                "password_reset.html",
                include_str!("../templates/password_reset.html"),
            ),
            ("signup.html", include_str!("../templates/signup.html")),
            ("verify.html", include_str!("../templates/verify.html")),
            (
                "login_email.html",
                include_str!("../templates/login_email.html"),
            ),
            (
                "providers.html",
                include_str!("../templates/providers.html"),
            ),
            (
                "provider_confirm.html",
                include_str!("../templates/provider_confirm.html"),
            ),
            (
                "provider_failed.html",
                include_str!("../templates/provider_failed.html"),
            ),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self(Arc::new(env)))
    }

    /// Renders `name` with `context` and `csrf_token`, the token that every form of the page
    /// carries in a hidden field (the logout form of the navigation bar among them).
    pub(crate) fn render(
        &self,
        name: &str,
        csrf: &CsrfToken,
        context: impl Serialize,
    ) -> Result<String, minijinja::Error> {
        let context = context! {
            csrf_token => Value::from_object(LazyToken(csrf.clone())),
            ..Value::from_serialize(&context)
        };
        self.0.get_template(name)?.render(context)
    }
}

/// The CSRF token, asked for only when a form renders it: a page without a form (the home page
/// of a logged-out visitor) sets no CSRF cookie.
#[derive(Debug)]
struct LazyToken(CsrfToken);

impl Object for LazyToken {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.value())
    }
}
