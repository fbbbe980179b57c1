//! Compile-fail tests for the macros; see `tests/ui.rs`.
