use axum_login::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(Editor))]
    Admin,
    #[role(implies(Viewer))]
    Editor,
    #[role(implies(Admin))]
    Viewer,
}

fn main() {}
