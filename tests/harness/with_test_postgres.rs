//! `with-test-postgres COMMAND [ARGS…]`: runs COMMAND with a throwaway PostgreSQL cluster
//! ([`inkan_kit::pg_test`]: a temporary directory, an unprivileged user, a free loopback port)
//! and `INKAN_TEST_PG_URL`, the URL of the cluster's admin database, in its environment. The
//! cluster ends with this process. `scripts/test` runs the browser suite under it to run the
//! verifier and the site on PostgreSQL; a test creates its own databases in it.

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().context("usage: with-test-postgres COMMAND [ARGS…]")?;
    let cluster = inkan_kit::pg_test::cluster()?;
    let status = std::process::Command::new(&program)
        .args(args)
        .env("INKAN_TEST_PG_URL", format!("postgres://inkan@127.0.0.1:{}/postgres", cluster.port))
        .status()
        .with_context(|| format!("{}", program.to_string_lossy()))?;
    std::process::exit(status.code().unwrap_or(1));
}
