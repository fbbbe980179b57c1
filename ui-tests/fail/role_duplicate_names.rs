use axum_login::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    #[role(rename = "admin")]
    SuperUser,
}

fn main() {}
