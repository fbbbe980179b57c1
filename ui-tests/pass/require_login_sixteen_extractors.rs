//! axum takes at most sixteen extractors; the guard shares the first one's argument, so a
//! handler with sixteen still is one.

use axum::{
    Router,
    extract::{OriginalUri, Path, Query, State},
    http::{HeaderMap, Method, Uri, Version},
    routing::post,
};
use axum_login::{Role, require_login};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    Admin,
}

#[derive(Clone)]
struct AppState;

#[require_login(role = Access::Admin)]
#[allow(clippy::too_many_arguments)]
async fn sixteen(
    State(_): State<AppState>,
    Path(_): Path<u32>,
    Query(_): Query<Vec<(String, String)>>,
    _: HeaderMap,
    _: Method,
    _: Uri,
    _: Version,
    _: OriginalUri,
    _: HeaderMap,
    _: Method,
    _: Uri,
    _: Version,
    _: OriginalUri,
    _: HeaderMap,
    _: Method,
    body: String,
) -> String {
    body
}

#[require_login]
#[allow(clippy::too_many_arguments)]
async fn sixteen_bare(
    _: HeaderMap,
    _: Method,
    _: Uri,
    _: Version,
    _: OriginalUri,
    _: HeaderMap,
    _: Method,
    _: Uri,
    _: Version,
    _: OriginalUri,
    _: HeaderMap,
    _: Method,
    _: Uri,
    _: Version,
    _: OriginalUri,
    body: String,
) -> String {
    body
}

fn main() {
    let _: Router = Router::new()
        .route("/{id}", post(sixteen))
        .route("/bare", post(sixteen_bare))
        .with_state(AppState);
}
