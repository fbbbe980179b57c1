use axum_login::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies("editor"))]
    Admin,
    Editor,
}

fn main() {}
