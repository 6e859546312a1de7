//! Marks a build without `TEST_DATABASE_URL` (cfg `no_test_database`): the programs' tests
//! against PostgreSQL are then ignored, and `cargo test` lists them with the reason.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_test_database)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var_os("TEST_DATABASE_URL").is_none_or(|url| url.is_empty()) {
        println!("cargo::rustc-cfg=no_test_database");
    }
}
