use axum_login::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
    Editor(u32),
}

fn main() {}
