//! `sqlx::migrate!` embeds the workspace's `migrations/` at compile time, but a proc macro
//! on stable Rust cannot tell cargo it read them: without this, a new or changed migration
//! would not rebuild the crate and the binary would apply a stale schema.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
