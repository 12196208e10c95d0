//! accounts-admin's progress reports: a progress bar (or, without a known length, a spinner)
//! on stderr when stdout is a terminal, plain lines on stderr otherwise (a log, a pipe, CI),
//! so that what a command prints on stdout stays its result alone.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One long command's progress.
pub enum Progress {
    Bar(ProgressBar),
    /// Plain lines: one each time `every` more units are done, and one at the end.
    Lines {
        what: &'static str,
        every: u64,
        last: u64,
    },
}

impl Progress {
    /// Progress over `total` units called `what` (users, say).
    pub fn counted(total: u64, what: &'static str, every: u64) -> Progress {
        if !std::io::stdout().is_terminal() {
            return Progress::Lines {
                what,
                every: every.max(1),
                last: 0,
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(what);
        Progress::Bar(bar)
    }

    /// Progress of unknown length: a spinner with the elapsed time and `message`.
    pub fn spinner(message: String) -> Progress {
        if !std::io::stdout().is_terminal() {
            eprintln!("{message}");
            return Progress::Lines {
                what: "",
                every: u64::MAX,
                last: 0,
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress::Bar(bar)
    }

    /// `done` units are done so far.
    pub fn set(&mut self, done: u64) {
        match self {
            Progress::Bar(bar) => bar.set_position(done),
            Progress::Lines { what, every, last } => {
                if done / *every > *last / *every {
                    eprintln!("{done} {what} done");
                }
                *last = done;
            }
        }
    }

    /// Clears the bar (the command prints its summary next).
    pub fn finish(self) {
        match self {
            Progress::Bar(bar) => bar.finish_and_clear(),
            // The last count, unless its line was just printed.
            Progress::Lines { what, every, last } => {
                if !what.is_empty() && last % every != 0 {
                    eprintln!("{last} {what} done");
                }
            }
        }
    }
}
