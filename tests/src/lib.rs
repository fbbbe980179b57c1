//! Integration tests for axum-login live in `tests/`.
