//! What every command shares with the terminal: signals, log set-up, printable names.

use crate::ConnectorCli;
use crate::command::{Action, LogFormat, Parsed};

/// Completes on Ctrl-C or SIGTERM (what a container runtime sends to stop a program).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// `text` with its control characters escaped (`\u{1b}`, `\n`), for printing names that came
/// from a file or a server: a name cannot move the cursor, clear the screen or forge a line.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// Logs on standard error, filtered by `RUST_LOG`. By default writes log their audit trail as
/// JSON lines, `serve` logs at info level, and `sync` and `capabilities` only errors (their
/// progress and notices are printed).
pub(crate) fn init_logs<C: ConnectorCli>(parsed: &Parsed<C>) {
    let (default_filter, default_format) = match &parsed.action {
        Action::Write(_) => (
            format!("{}=info", connector_sdk::AUDIT_TARGET),
            LogFormat::Json,
        ),
        Action::Serve(_) => ("info".to_owned(), LogFormat::Text),
        _ => ("error".to_owned(), LogFormat::Text),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match parsed.log_format.unwrap_or(default_format) {
        LogFormat::Json => logs.json().try_init(),
        LogFormat::Text => logs.try_init(),
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_for_printing() {
        assert_eq!(super::printable("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(
            super::printable("Ada\u{1b}[2J\nuser:1 granted"),
            "Ada\\u{1b}[2J\\nuser:1 granted"
        );
        assert_eq!(super::printable("Zoë"), "Zoë");
    }
}
