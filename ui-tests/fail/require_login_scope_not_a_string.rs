use axum_login::require_login;

#[require_login(scope = Scope::PostsWrite)]
async fn write_posts() -> &'static str {
    "written"
}

fn main() {}
