use axum_login::Role;

#[derive(Clone, Copy, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor,
}

fn main() {}
