//! `pull`, `push`, `login`, `logout`: the registry commands, with
//! Docker's output.

mod progress;

use std::io::{self, BufRead, Write};

use anyhow::{bail, Result};
use berth_engine::image::{registry_host, Credentials, Platform, Reference};
use berth_engine::Engine;

use crate::args::{LoginArgs, LogoutArgs, PullArgs, PushArgs};
use progress::{Direction, Display};

/// The path of a name without its registry: `library/busybox`.
fn remote_path(r: &Reference) -> &str {
    r.name.split_once('/').map(|(_, p)| p).unwrap_or(&r.name)
}

pub fn pull(engine: &Engine, a: PullArgs) -> Result<()> {
    let reference = Reference::parse(&a.reference)?;
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    let mut out = io::stdout().lock();
    if !a.quiet {
        let by = match (&reference.tag, &reference.digest) {
            (_, Some(d)) => d.to_string(),
            (Some(t), None) => t.clone(),
            (None, None) => unreachable!("a parsed reference has a tag or digest"),
        };
        writeln!(out, "{by}: Pulling from {}", remote_path(&reference))?;
        out.flush()?;
    }
    drop(out);
    let display = Display::new(Direction::Pull, a.quiet);
    let result = engine.pull_image(&reference, platform, a.tls.tls_verify, &display);
    display.finish();
    let pulled = result?;
    let mut out = io::stdout().lock();
    if !a.quiet {
        writeln!(out, "Digest: {}", pulled.digest)?;
        let status = if pulled.downloaded {
            "Downloaded newer image for"
        } else {
            "Image is up to date for"
        };
        writeln!(out, "Status: {status} {}", reference.familiar())?;
    }
    writeln!(out, "{reference}")?;
    Ok(())
}

pub fn push(engine: &Engine, a: PushArgs) -> Result<()> {
    let reference = Reference::parse(&a.reference)?;
    if reference.digest.is_some() {
        bail!("cannot push a digest reference: {}", a.reference);
    }
    if !a.quiet {
        writeln!(
            io::stdout().lock(),
            "The push refers to repository [{}]",
            reference.familiar_name()
        )?;
    }
    let display = Display::new(Direction::Push, a.quiet);
    let result = engine.push_image(&reference, a.tls.tls_verify, &display);
    display.finish();
    let pushed = result?;
    let mut out = io::stdout().lock();
    if a.quiet {
        writeln!(out, "{}", reference.familiar())?;
    } else {
        writeln!(
            out,
            "{}: digest: {} size: {}",
            pushed.tag, pushed.digest, pushed.size
        )?;
    }
    Ok(())
}

pub fn login(engine: &Engine, a: LoginArgs) -> Result<()> {
    let host = registry_host(&a.server);
    let Some(username) = a.username.filter(|u| !u.is_empty()) else {
        bail!("a username is required: use -u USER with -p PASSWORD or --password-stdin");
    };
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        (None, true) => {
            let mut line = String::new();
            io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => bail!("a password is required: use -p PASSWORD or --password-stdin"),
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    let creds = Credentials { username, password };
    engine.login(&host, a.tls.tls_verify, creds)?;
    writeln!(io::stdout().lock(), "Login Succeeded")?;
    Ok(())
}

pub fn logout(engine: &Engine, a: LogoutArgs) -> Result<()> {
    let host = registry_host(&a.server);
    let mut out = io::stdout().lock();
    if engine.logout(&host)? {
        writeln!(out, "Removing login credentials for {host}")?;
    } else {
        writeln!(out, "Not logged in to {host}")?;
    }
    Ok(())
}
