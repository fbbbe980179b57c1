use axum_login::UserStore;

#[derive(Clone, Copy, UserStore)]
#[user_store(table = "users")]
union User {
    id: i64,
}

fn main() {}
