//! The HTML templates, embedded in the binary.

use std::sync::Arc;

use minijinja::Environment;
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
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self(Arc::new(env)))
    }

    pub(crate) fn render(
        &self,
        name: &str,
        context: impl Serialize,
    ) -> Result<String, minijinja::Error> {
        self.0.get_template(name)?.render(context)
    }
}
