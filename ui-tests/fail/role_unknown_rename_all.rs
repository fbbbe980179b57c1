use axum_login::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
#[role(rename_all = "snake-case")]
enum Access {
    Admin,
}

fn main() {}
