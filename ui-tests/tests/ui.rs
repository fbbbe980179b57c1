//! Every macro mistake gives one error that says how to fix it (`fail/`), and every accepted form
//! compiles and behaves (`pass/`, whose `main` runs).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("fail/*.rs");
    t.pass("pass/*.rs");
}
