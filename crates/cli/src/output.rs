//! Docker's output conventions: exit codes (and which error exits how),
//! the multi-container pattern, a subset of Go templates for `--format`,
//! tab-aligned tables, human sizes and durations (go-units), and the
//! columns several commands share.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use berth_engine::Container;
use serde_json::Value;

/// Exit with this code and print nothing (the container's own code).
#[derive(Debug)]
pub struct ExitWith(pub u8);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for ExitWith {}

/// The exit code for a command's error, printing `Error: ...` unless it
/// is the container's own code; None when it is no error at all (a closed
/// stdout: `berth images | head`).
pub fn exit_code(e: &anyhow::Error) -> Option<u8> {
    if broken_pipe(e) {
        return None;
    }
    if let Some(ExitWith(code)) = e.downcast_ref() {
        return Some(*code);
    }
    eprintln!("Error: {}", error_line(e));
    Some(
        e.downcast_ref::<berth_engine::Error>()
            .map_or(125, |e| e.exit_code()),
    )
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Docker's CLI exits 1, not 125, for the daemon's errors in commands
/// that run no container (`volume ...`); its flag errors stay 125. Prints
/// each error as [`exit_code`] does (one `Error:` line each), then exits 1;
/// no error is success.
pub fn exit_1(errors: impl IntoIterator<Item = anyhow::Error>) -> Result<()> {
    let mut errors: Vec<anyhow::Error> = errors.into_iter().collect();
    if let Some(i) = errors
        .iter()
        .position(|e| broken_pipe(e) || e.is::<ExitWith>())
    {
        return Err(errors.swap_remove(i));
    }
    if errors.is_empty() {
        return Ok(());
    }
    for e in &errors {
        eprintln!("Error: {}", error_line(e));
    }
    Err(ExitWith(1).into())
}

/// The error and its causes on one line, without repeating a cause the
/// message already contains.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !line.contains(&c) {
            line.push_str(": ");
            line.push_str(&c);
        }
    }
    line
}

/// Writes to `path` atomically (the engine's one atomic write), so an
/// error leaves no half-written file. An error of `f` (the content) is
/// returned as it is; the file's own (create, sync, rename) name the file.
pub fn write_file_atomic(path: &Path, f: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let mut content_error = None;
    let written = berth_engine::write_atomic_with(path, 0o666, |file| {
        f(file).map_err(|e| {
            content_error = Some(e);
            io::Error::other("content failed")
        })
    });
    match content_error {
        Some(e) => Err(e),
        None => written.with_context(|| format!("cannot write {}", path.display())),
    }
}

/// Docker's pattern for commands over several containers: print each name
/// done, report each failure, exit 125 if any failed.
pub fn each(keys: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut failed = 0;
    for key in keys {
        match f(key) {
            Ok(()) => println!("{key}"),
            Err(e) => {
                failed += 1;
                if keys.len() == 1 {
                    return Err(e);
                }
                eprintln!("Error: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(ExitWith(125).into());
    }
    Ok(())
}

/// Prints `v` through `--format`, or `plain` without one.
pub fn print_formatted(
    format: Option<&str>,
    v: &Value,
    plain: impl FnOnce() -> String,
) -> Result<()> {
    let mut out = io::stdout().lock();
    match format {
        Some(f) => writeln!(out, "{}", Template::parse(f)?.render(v)?)?,
        None => write!(out, "{}", plain())?,
    }
    Ok(())
}

pub fn print_rows(
    o: &mut impl Write,
    format: &str,
    rows: &[Value],
    title: impl Fn(&str) -> String,
) -> Result<()> {
    let t = Template::parse(format)?;
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(title));
    }
    for r in rows {
        lines.push(t.render(r)?);
    }
    if t.table {
        write!(o, "{}", tabulate(&lines))?;
    } else {
        for l in lines {
            writeln!(o, "{l}")?;
        }
    }
    Ok(())
}

pub use berth_engine::ops::list::{human_duration, state_word, status_text as container_status};

/// Docker's `Command` column: path and arguments, arguments with spaces in
/// single quotes, in double quotes, cut to 20 characters unless `no_trunc`.
pub fn command_column(c: &Container, no_trunc: bool) -> String {
    let args: Vec<String> = c
        .config
        .args()
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.contains(' ') {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect();
    let cmd = args.join(" ");
    if no_trunc || cmd.chars().count() <= 20 {
        format!("\"{cmd}\"")
    } else {
        format!("\"{}…\"", cmd.chars().take(19).collect::<String>())
    }
}

/// Nanoseconds since the epoch of an RFC 3339 time (0 when unparsable):
/// record times carry a fraction with trailing zeros trimmed, so their
/// strings do not sort as times.
pub fn nanos(rfc3339: &str) -> i128 {
    berth_engine::ops::usage::rfc3339_nanos(rfc3339)
}

/// A parsed `--format`: text, `{{.A.B}}` fields and `{{json .X}}`, with an
/// optional `table ` prefix that prints a header row.
#[derive(Debug)]
pub struct Template {
    pub table: bool,
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Field(Vec<String>),
    Json(Vec<String>),
    /// A method with one string argument, `{{.Label "k"}}`: the caller
    /// answers it ([`Template::render_with`]).
    Call(Vec<String>, String),
}

impl Template {
    pub fn parse(format: &str) -> Result<Template> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => (true, rest.trim_start()),
            _ => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let end = rest[start..]
                .find("}}")
                .map(|e| start + e)
                .ok_or_else(|| anyhow::anyhow!("template: unclosed action in {format:?}"))?;
            let action = rest[start + 2..end].trim();
            parts.push(match action.strip_prefix("json") {
                Some(arg) => Part::Json(path(arg.trim(), format)?),
                None => match call(action) {
                    Some((name, arg)) => Part::Call(path(name, format)?, arg),
                    None => Part::Field(path(action, format)?),
                },
            });
            rest = &rest[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { table, parts })
    }

    /// Renders one value.
    pub fn render(&self, v: &Value) -> Result<String> {
        self.render_with(v, &|name, _| {
            bail!("template: can't evaluate method {name} with an argument")
        })
    }

    /// Renders one value; `call(method, arg)` answers `{{.Method "arg"}}`.
    pub fn render_with(
        &self,
        v: &Value,
        call: &dyn Fn(&str, &str) -> Result<String>,
    ) -> Result<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(path) => out.push_str(&plain(lookup(v, path)?)),
                Part::Json(path) => out.push_str(&serde_json::to_string(lookup(v, path)?)?),
                Part::Call(path, arg) => out.push_str(&call(&path.join("."), arg)?),
            }
        }
        Ok(out)
    }

    /// The header row of a table: each field replaced by its column title.
    pub fn header(&self, title: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(path) | Part::Json(path) | Part::Call(path, _) => {
                    out.push_str(&title(path.last().map(String::as_str).unwrap_or("")))
                }
            }
        }
        out
    }
}

/// Renders `rows` through a `--format`: with `table`, a header row of
/// `title(field)` and tab alignment; else one line per row. `call(row,
/// method, arg)` answers `{{.Method "arg"}}` for row number `row`. The
/// one entry point for list commands (`ps`, `system df`, `stats`, ...).
pub fn render_rows(
    format: &str,
    rows: &[Value],
    title: impl Fn(&str) -> String,
    call: &dyn Fn(usize, &str, &str) -> Result<String>,
) -> Result<String> {
    let t = Template::parse(format)?;
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(title));
    }
    for (i, r) in rows.iter().enumerate() {
        lines.push(t.render_with(r, &|m, a| call(i, m, a))?);
    }
    if t.table {
        return Ok(tabulate(&lines));
    }
    Ok(lines.into_iter().map(|l| l + "\n").collect())
}

/// `.Name "arg"` → (`.Name`, `arg`).
fn call(action: &str) -> Option<(&str, String)> {
    let (name, arg) = action.split_once(char::is_whitespace)?;
    let arg = arg.trim();
    let arg = arg.strip_prefix('"')?.strip_suffix('"')?;
    Some((name, arg.replace("\\\"", "\"")))
}

fn path(arg: &str, format: &str) -> Result<Vec<String>> {
    if arg == "." {
        return Ok(Vec::new());
    }
    match arg.strip_prefix('.') {
        Some(p) if !p.is_empty() && p.split('.').all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')) => {
            Ok(p.split('.').map(str::to_owned).collect())
        }
        _ => bail!("template: unsupported action {{{{{arg}}}}} in {format:?} (berth supports {{{{.Field}}}}, {{{{json .}}}}, {{{{json .Field}}}} and table)"),
    }
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Result<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = match cur {
            Value::Object(m) => m
                .get(key)
                .ok_or_else(|| anyhow::anyhow!("template: can't evaluate field {key}"))?,
            _ => bail!("template: can't evaluate field {key}"),
        };
    }
    Ok(cur)
}

/// Go's `{{.X}}` printing of JSON-like values.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", plain(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

/// Aligns tab-separated rows like Go's tabwriter with Docker's settings
/// (min width 10, padding 3): every cell but a row's last is padded.
pub fn tabulate(rows: &[String]) -> String {
    let split: Vec<Vec<&str>> = rows.iter().map(|r| r.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &split {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            let w = cell.chars().count();
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(w);
        }
    }
    let mut out = String::new();
    for row in &split {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let width = (widths[i] + 3).max(10);
                line.push_str(&" ".repeat(width - cell.chars().count()));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, 3 digits.
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// `%.3g` for 0 <= v < 1000.
fn sig3(v: f64) -> String {
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Docker's `CreatedAt`: `2006-01-02 15:04:05 +0000 UTC`.
pub fn created_at(rfc3339: &str) -> String {
    match berth_engine::image::time::parse_rfc3339(rfc3339) {
        Some(secs) => {
            let s = berth_engine::image::time::format_rfc3339(secs, 0);
            format!("{} {} +0000 UTC", &s[..10], &s[11..19])
        }
        None => String::new(),
    }
}

/// Docker's `CreatedSince`: `3 days ago`.
pub fn created_since(rfc3339: &str) -> String {
    match berth_engine::image::time::parse_rfc3339(rfc3339) {
        Some(secs) => format!("{} ago", human_duration(now() - secs)),
        None => "N/A".into(),
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates() {
        let t = Template::parse("table {{.Repository}}\\t{{.Tag}}").unwrap();
        assert!(t.table);
        assert_eq!(
            t.render(&json!({"Repository": "a", "Tag": "b"})).unwrap(),
            "a\tb"
        );
        assert_eq!(t.header(|f| f.to_uppercase()), "REPOSITORY\tTAG");
        let j = Template::parse("{{json .}}").unwrap();
        assert_eq!(j.render(&json!({"A": 1})).unwrap(), r#"{"A":1}"#);
        assert_eq!(
            Template::parse("{{.Config.Cmd}}")
                .unwrap()
                .render(&json!({"Config": {"Cmd": ["sh", "-c"]}}))
                .unwrap(),
            "[sh -c]"
        );
        assert!(Template::parse("{{range .}}").is_err());
        assert!(Template::parse("{{.Nope}}")
            .unwrap()
            .render(&json!({}))
            .is_err());
    }

    #[test]
    fn rows_and_methods() {
        let rows = [json!({"Names": "a"}), json!({"Names": "bb"})];
        let labels = ["x", "y"];
        let call = |i: usize, m: &str, arg: &str| -> Result<String> {
            assert_eq!((m, arg), ("Label", "k"));
            Ok(labels[i].to_owned())
        };
        assert_eq!(
            render_rows(
                "{{.Names}}={{.Label \"k\"}}",
                &rows,
                str::to_uppercase,
                &call
            )
            .unwrap(),
            "a=x\nbb=y\n"
        );
        assert_eq!(
            render_rows(
                "table {{.Names}}\\t{{.Label \"k\"}}",
                &rows,
                str::to_uppercase,
                &call
            )
            .unwrap(),
            "NAMES     LABEL\na         x\nbb        y\n"
        );
        assert!(Template::parse("{{.Label \"k\"}}")
            .unwrap()
            .render(&json!({}))
            .is_err());
    }

    #[test]
    fn units_like_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(4_261_234), "4.26MB");
        assert_eq!(human_size(1_200), "1.2kB");
        assert_eq!(human_size(123), "123B");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
    }

    #[test]
    fn tables_and_globs() {
        let t = tabulate(&["A\tBB\tC".into(), "long-name\tx\ty".into()]);
        assert_eq!(t, "A           BB        C\nlong-name   x         y\n");
    }
}
