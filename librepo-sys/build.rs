//! Links librepo and glib only when the `librepo` feature is on.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_LIBREPO").is_some() {
        println!("cargo:rustc-link-lib=repo");
        println!("cargo:rustc-link-lib=glib-2.0");
    }
}
