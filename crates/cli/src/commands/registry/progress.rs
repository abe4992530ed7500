//! Pull and push progress as `docker` shows it: one bar per blob on
//! stderr when it is a terminal, otherwise Docker's status lines
//! (`<id>: Pull complete`) on stdout; nothing with `-q`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use berth_engine::image::{Digest, Event, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Pull,
    Push,
}

pub enum Display {
    Quiet,
    Lines(Direction),
    Bars {
        direction: Direction,
        multi: MultiProgress,
        bars: Mutex<HashMap<Digest, ProgressBar>>,
    },
}

impl Display {
    pub fn new(direction: Direction, quiet: bool) -> Display {
        if quiet {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            Display::Bars {
                direction,
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Display::Lines(direction)
        }
    }

    /// Leaves the bars where they are.
    pub fn finish(&self) {
        if let Display::Bars { bars, .. } = self {
            for bar in bars.lock().expect("not poisoned").values() {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
        }
    }
}

/// Docker's word for an event, or `None` for byte counts.
fn status(direction: Direction, event: &Event) -> Option<String> {
    event.docker_status(match direction {
        Direction::Pull => berth_engine::image::Direction::Pull,
        Direction::Push => berth_engine::image::Direction::Push,
    })
}

impl Progress for Display {
    fn event(&self, blob: &Digest, event: Event) {
        match self {
            Display::Quiet => {}
            Display::Lines(direction) => {
                if let Some(s) = status(*direction, &event) {
                    let _ = writeln!(std::io::stdout().lock(), "{}: {s}", blob.short());
                }
            }
            Display::Bars {
                direction,
                multi,
                bars,
            } => {
                let mut bars = bars.lock().expect("not poisoned");
                let length = match &event {
                    Event::Waiting { total } | Event::Bytes { total, .. } => *total,
                    _ => 0,
                };
                let bar = bars.entry(blob.clone()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(length));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix}: {msg:<18} {wide_bar} {bytes}/{total_bytes}",
                        )
                        .expect("a valid template"),
                    );
                    bar.set_prefix(blob.short().to_owned());
                    bar
                });
                match &event {
                    Event::Waiting { total } => bar.set_length(*total),
                    Event::Bytes { done, total } => {
                        bar.set_length(*total);
                        bar.set_position(*done);
                        bar.set_message(match direction {
                            Direction::Pull => "Downloading",
                            Direction::Push => "Pushing",
                        });
                        return;
                    }
                    _ => {}
                }
                if let Some(s) = status(*direction, &event) {
                    bar.set_message(s);
                }
                let done = matches!(
                    (direction, &event),
                    (Direction::Pull, Event::Extracted)
                        | (_, Event::Pushed)
                        | (_, Event::Exists)
                        | (_, Event::Mounted { .. })
                );
                if done {
                    if let Some(len) = bar.length() {
                        bar.set_position(len);
                    }
                    bar.finish();
                }
            }
        }
    }
}
