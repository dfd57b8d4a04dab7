//! The Inkan app's executable: everything is in the `inkan_app` library (`src-tauri/lib.rs`),
//! which a mobile build enters through `mobile_entry_point` instead.
#![forbid(unsafe_code)]
// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    inkan_app::run();
}
