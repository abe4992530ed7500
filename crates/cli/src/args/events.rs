//! `events`' flags.

use clap::Args;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp (RFC 3339, unix seconds, or a duration like 10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (container, image, event, type, label, scope, ...)
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a Go template subset ({{.Action}}, {{.Actor.ID}}, {{json .}}) or "json"
    #[arg(long)]
    pub format: Option<String>,
}
