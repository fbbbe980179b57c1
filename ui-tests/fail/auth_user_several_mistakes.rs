use axum_login::AuthUser;

// Every mistake is reported in one build.
#[derive(Clone, AuthUser)]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(usrname)]
    email: String,
    #[auth(password_hash = "argon2")]
    password_hash: secrecy::SecretString,
    #[auth(id)]
    other_id: i64,
}

fn main() {}
