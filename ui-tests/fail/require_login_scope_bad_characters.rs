use axum_login::require_login;

#[require_login(scope = "posts write")]
async fn write_posts() -> &'static str {
    "written"
}

fn main() {}
