//! The debug log: the `log` crate's records, bridged to the browser console. Off by default;
//! the `logLevel` option (or `setLogLevel`) turns it on for the whole module.
//!
//! Hand-written rather than `console_log`: that crate prefixes every line with a Rust source
//! path and CSS styling; here a line is `[ysync] <target>: <message>` on the console method
//! of its level, which is what an app developer filters on.
//!
//! Log sites write sizes, counts, codes and durations — never document contents, tokens or
//! URLs with their query (see [`redact_url`]).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Console;

impl Log for Console {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!("[ysync] {}: {}", record.target(), record.args());
        let line = wasm_bindgen::JsValue::from_str(&line);
        match record.level() {
            Level::Error => web_sys::console::error_1(&line),
            Level::Warn => web_sys::console::warn_1(&line),
            Level::Info => web_sys::console::info_1(&line),
            Level::Debug | Level::Trace => web_sys::console::debug_1(&line),
        }
    }

    fn flush(&self) {}
}

static CONSOLE: Console = Console;

/// Parses a level name: `off`, `error`, `warn`, `info`, `debug`, `trace`.
pub fn parse_level(name: &str) -> Option<LevelFilter> {
    name.parse().ok()
}

/// Sets the level of the console log (installing the bridge the first time).
pub fn set_level(level: LevelFilter) {
    // Fails only if another logger is installed (a Rust app's own): then it keeps its logger.
    let _ = log::set_logger(&CONSOLE);
    log::set_max_level(level);
}

/// `url` without user info, query or fragment: safe to log.
pub fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let host_start = url[s + 3..].find('/').map_or(url.len(), |i| s + 3 + i);
            if at < host_start {
                return format!("{}{}", &url[..s + 3], &url[at + 1..]);
            }
            url.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn urls_lose_credentials_query_and_fragment() {
        assert_eq!(redact_url("wss://h:1/r?token=s3cret"), "wss://h:1/r");
        assert_eq!(redact_url("wss://u:pw@h/r#x"), "wss://h/r");
        assert_eq!(redact_url("ws://h/a@b"), "ws://h/a@b");
        assert_eq!(parse_level("debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("loud"), None);
    }
}
