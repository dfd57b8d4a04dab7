//! `with-test-desktop COMMAND [ARGS…]`: runs COMMAND on a throwaway desktop
//! ([`inkan_e2e::desktop::TestDesktop`]: Xvfb, a private session bus with an unlocked
//! gnome-keyring, the Xfce window manager and panel with its system tray, and dunst), with
//! `DISPLAY` and `DBUS_SESSION_BUS_ADDRESS` in its environment. The desktop ends with this
//! process. `scripts/bench-app` measures the app on it.

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().context("usage: with-test-desktop COMMAND [ARGS…]")?;
    let desktop = inkan_e2e::desktop::TestDesktop::start();
    let status =
        desktop.command(&program).args(args).status().with_context(|| format!("{}", program.to_string_lossy()))?;
    drop(desktop);
    std::process::exit(status.code().unwrap_or(1));
}
