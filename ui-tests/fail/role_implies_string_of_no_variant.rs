use axum_login::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(Editor, "viewr"))]
    Admin,
    Editor,
    #[role(rename = "viewer")]
    ReadOnly,
}

fn main() {}
