//! The parsed Dockerfile. Arguments stay as written (quotes included)
//! where Docker substitutes variables at build time; [`super::expand`]
//! does that substitution and removes the quotes.

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dockerfile {
    /// `# escape=` (default `\`).
    pub escape: char,
    /// `# syntax=` when given: accepted and not used (berth has one
    /// frontend), reported to the user.
    pub syntax: Option<String>,
    /// Every instruction in order, `ARG`s before the first `FROM` included.
    pub instructions: Vec<Instruction>,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line of its first line.
    pub line: usize,
    /// 1-based line of its last line (continuations, heredocs).
    pub end_line: usize,
    /// The instruction as written on one line (continuations joined,
    /// heredoc bodies left out): the history's `created_by` and progress.
    pub original: String,
    pub kind: Kind,
}

/// A command: `CMD ["a", "b"]` (exec form) or `CMD a b` (shell form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

/// A heredoc: `<<EOF` ... `EOF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The word after `<<` (without quotes and `-`).
    pub name: String,
    /// The body, with its final newline; with `<<-`, leading tabs removed.
    pub content: String,
    /// False when the word was quoted (`<<"EOF"`, `<<'EOF'`): no
    /// variable substitution in the body.
    pub expand: bool,
}

/// `COPY` and `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopySpec {
    /// Source words, raw (substituted at build time). A source naming a
    /// heredoc (`<<EOF`) is in `heredocs` instead.
    pub sources: Vec<String>,
    /// Destination, raw.
    pub dest: String,
    /// `--from=STAGE|IMAGE`.
    pub from: Option<String>,
    /// `--chown=USER[:GROUP]`, raw.
    pub chown: Option<String>,
    /// `--chmod=MODE`, raw.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `COPY <<EOF /file`: files made from heredocs, named by `name`.
    pub heredocs: Vec<Heredoc>,
    /// `ADD --checksum=...` (refused for local sources, as BuildKit does).
    pub checksum: Option<String>,
    /// `ADD --keep-git-dir`.
    pub keep_git_dir: Option<String>,
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// The command. For `RUN <<EOF`, the shell form of the line, e.g.
    /// `<<EOF` or `bash <<EOF` or `python3 <<EOF`: see `heredocs`.
    pub command: Command,
    /// `--mount=...` values as written.
    pub mounts: Vec<String>,
    /// `--network=none|host|default`.
    pub network: Option<String>,
    /// `--security=insecure|sandbox`.
    pub security: Option<String>,
    /// Heredocs the command line names, in order.
    pub heredocs: Vec<Heredoc>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`.
    None,
    Check {
        /// `CMD` form: exec (`["CMD", ...]` in the image) or shell
        /// (`["CMD-SHELL", ...]`).
        command: Command,
        /// Raw durations as given (`30s`, `1m30s`).
        interval: Option<String>,
        timeout: Option<String>,
        start_period: Option<String>,
        start_interval: Option<String>,
        retries: Option<String>,
    },
}

/// What an instruction does, with its flags and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    From {
        /// Raw (may hold `$VAR` from `ARG`s before `FROM`).
        image: String,
        /// `AS name` (lower-cased, as Docker does).
        name: Option<String>,
        /// `--platform=...`, raw.
        platform: Option<String>,
    },
    Run(RunSpec),
    Copy(CopySpec),
    Add(CopySpec),
    Cmd(Command),
    Entrypoint(Command),
    /// `SHELL ["a", "b"]` (exec form only).
    Shell(Vec<String>),
    /// `ENV a=b c=d` or the old `ENV a b c`: raw keys and values.
    Env(Vec<(String, String)>),
    /// `ARG a` or `ARG a=default` (several per line allowed): raw.
    Arg(Vec<(String, Option<String>)>),
    /// Raw keys and values.
    Label(Vec<(String, String)>),
    /// Raw words (`80/tcp`, `$PORT`).
    Expose(Vec<String>),
    User(String),
    Workdir(String),
    /// JSON array or space separated, raw words.
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    /// `ONBUILD <instruction>`: the trigger as written (Docker stores the
    /// text in the image's `OnBuild` and parses it in the child build).
    Onbuild(String),
    /// `MAINTAINER name` (deprecated; sets the image's author).
    Maintainer(String),
}

impl Kind {
    /// The instruction's keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Kind::From { .. } => "FROM",
            Kind::Run(_) => "RUN",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::Cmd(_) => "CMD",
            Kind::Entrypoint(_) => "ENTRYPOINT",
            Kind::Shell(_) => "SHELL",
            Kind::Env(_) => "ENV",
            Kind::Arg(_) => "ARG",
            Kind::Label(_) => "LABEL",
            Kind::Expose(_) => "EXPOSE",
            Kind::User(_) => "USER",
            Kind::Workdir(_) => "WORKDIR",
            Kind::Volume(_) => "VOLUME",
            Kind::StopSignal(_) => "STOPSIGNAL",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::Onbuild(_) => "ONBUILD",
            Kind::Maintainer(_) => "MAINTAINER",
        }
    }
}
