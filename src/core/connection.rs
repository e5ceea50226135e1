//! When to connect: the reconnect policy of a provider as a state machine with time passed in.
//!
//! Inputs are what the app and the browser say (connect, disconnect, online, offline, page
//! hidden or visible) and what became of the socket (opened, synced, closed, permission
//! denied); the outputs are commands (attempt a connection, probe the open one) and one
//! timeout. The adapter opens sockets and fetches tokens; it decides none of this.
//!
//! Rules (y-websocket's, with jitter): after a failed attempt or a close, wait
//! [`Backoff::next_delay`] and try again; the delay starts over once synced, on the `online`
//! event and when a page hidden for [`LONG_HIDDEN_MS`] becomes visible (then an open
//! connection is probed instead, since a socket can die unnoticed while hidden). No attempt
//! while offline; none ever again after permission was denied.

use std::collections::VecDeque;

use crate::core::backoff::Backoff;

/// Whether a close with `code` means the server will not have this client, so reconnecting
/// cannot help: 1008 (policy violation) and 4403 (forbidden, Hocuspocus's code), and 4401
/// (unauthorized) unless a fresh token is fetched before every attempt (`fresh_token`), which
/// may be accepted where the last was not. y-websocket retries every close; Hocuspocus's
/// provider stops on its authentication failures, as this does.
pub fn refuses(code: u16, fresh_token: bool) -> bool {
    matches!(code, 1008 | 4403) || (code == 4401 && !fresh_token)
}

/// A page hidden at least this long (ms) reconnects, or probes, when it becomes visible.
pub const LONG_HIDDEN_MS: u64 = 10_000;

/// What the adapter must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Start a connection attempt (token, then socket) now.
    Connect,
    /// Probe the open connection now (it may have died while the page was hidden).
    Probe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not connected, no attempt planned.
    Idle,
    /// The next attempt is due at this time, after this delay.
    Waiting { at: u64, delay: u64 },
    /// An attempt is under way (token or socket).
    Attempting,
    /// The socket is open.
    Up,
}

/// The reconnect policy of one provider.
#[derive(Debug)]
pub struct Connection {
    backoff: Backoff,
    wanted: bool,
    online: bool,
    denied: bool,
    state: State,
    hidden_since: Option<u64>,
    commands: VecDeque<Command>,
}

impl Connection {
    /// A policy whose delays cap at `max_backoff_ms` (jitter from `seed`); `online` is what
    /// the browser says now. Nothing happens before [`start`](Self::start).
    pub fn new(max_backoff_ms: u64, seed: u64, online: bool) -> Self {
        Connection {
            backoff: Backoff::new(100, max_backoff_ms, seed),
            wanted: false,
            online,
            denied: false,
            state: State::Idle,
            hidden_since: None,
            commands: VecDeque::new(),
        }
    }

    /// The app wants to be connected (`connect()`, or the `connect` option).
    pub fn start(&mut self) {
        self.wanted = true;
        self.attempt_now();
    }

    /// The app disconnected: no attempt until [`start`](Self::start).
    pub fn stop(&mut self) {
        self.wanted = false;
        self.state = State::Idle;
    }

    /// Whether the app wants to be connected.
    pub fn wanted(&self) -> bool {
        self.wanted
    }

    /// The browser is online (the `online` event): try at once, from the first delay.
    pub fn online(&mut self) {
        self.online = true;
        self.backoff.reset();
        self.attempt_now();
    }

    /// The browser is offline: no attempt until it is online again.
    pub fn offline(&mut self) {
        self.online = false;
        if matches!(self.state, State::Waiting { .. }) {
            self.state = State::Idle;
        }
    }

    /// The page was hidden.
    pub fn hidden(&mut self, now: u64) {
        self.hidden_since = Some(now);
    }

    /// The page became visible: after a long time hidden, probe the open connection or try
    /// at once from the first delay.
    pub fn visible(&mut self, now: u64) {
        let long = self
            .hidden_since
            .take()
            .is_some_and(|t| now.saturating_sub(t) >= LONG_HIDDEN_MS);
        if !long {
            return;
        }
        if self.state == State::Up {
            self.commands.push_back(Command::Probe);
        } else {
            self.backoff.reset();
            self.attempt_now();
        }
    }

    /// The socket opened.
    pub fn opened(&mut self) {
        if self.wanted {
            self.state = State::Up;
        }
    }

    /// The adapter could not start the attempt it was told to (the browser turned out to be
    /// offline): none is under way; the `online` event tries again.
    pub fn not_attempted(&mut self) {
        if self.state == State::Attempting {
            self.state = State::Idle;
            self.online = false;
        }
    }

    /// The socket this connection shares with other documents is up again (Hocuspocus
    /// multiplexing): a planned attempt runs at once instead of after its delay, since it
    /// cannot fail for want of a server. Nothing changes when no attempt is planned.
    pub fn link_up(&mut self) {
        if matches!(self.state, State::Waiting { .. }) {
            self.backoff.reset();
            self.attempt_now();
        }
    }

    /// The first sync after connecting: the next failure starts from the first delay again.
    pub fn synced(&mut self) {
        self.backoff.reset();
    }

    /// The attempt failed or the connection closed: try again after the next delay.
    pub fn closed(&mut self, now: u64) {
        if !matches!(self.state, State::Attempting | State::Up) {
            return;
        }
        self.state = State::Idle;
        if self.wanted && !self.denied {
            let delay = self.backoff.next_delay();
            self.state = State::Waiting {
                at: now + delay,
                delay,
            };
        }
    }

    /// The server denied permission: no attempt ever again.
    pub fn denied(&mut self) {
        self.denied = true;
        self.state = State::Idle;
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: u64) {
        if let State::Waiting { at, .. } = self.state {
            if now >= at {
                self.state = State::Idle;
                self.attempt_now();
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::Waiting { at, .. } => Some(at),
            _ => None,
        }
    }

    /// The next command to execute.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The delay of the planned attempt (ms), if one is planned.
    pub fn pending_delay(&self) -> Option<u64> {
        match self.state {
            State::Waiting { delay, .. } => Some(delay),
            _ => None,
        }
    }

    /// Failed attempts since the last reset of the delay.
    pub fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    fn attempt_now(&mut self) {
        let free = matches!(self.state, State::Idle | State::Waiting { .. });
        if self.wanted && self.online && !self.denied && free {
            self.state = State::Attempting;
            self.commands.push_back(Command::Connect);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Runs simulated time to `until`, failing every attempt at once; returns when each
    /// attempt started.
    fn failing_until(c: &mut Connection, mut now: u64, until: u64) -> Vec<u64> {
        let mut starts = Vec::new();
        loop {
            while let Some(cmd) = c.poll_command() {
                assert_eq!(cmd, Command::Connect);
                starts.push(now);
                c.closed(now);
            }
            match c.poll_timeout() {
                Some(at) if at <= until => {
                    now = at;
                    c.handle_timeout(now);
                }
                _ => return starts,
            }
        }
    }

    #[test]
    fn a_shared_socket_coming_up_cuts_a_planned_delay_short_and_nothing_else() {
        let mut c = Connection::new(30_000, 3, true);
        // Idle, not wanted: nothing.
        c.link_up();
        assert_eq!(c.poll_command(), None);
        c.start();
        assert_eq!(c.poll_command(), Some(Command::Connect));
        // Attempting: no second attempt.
        c.link_up();
        assert_eq!(c.poll_command(), None);
        c.closed(0);
        assert!(c.pending_delay().is_some());
        c.link_up();
        assert_eq!(c.poll_command(), Some(Command::Connect));
        assert_eq!(c.pending_delay(), None);
        // Up: nothing.
        c.opened();
        c.link_up();
        assert_eq!(c.poll_command(), None);
        // Denied: never.
        c.closed(10);
        c.denied();
        c.link_up();
        assert_eq!(c.poll_command(), None);
    }

    #[test]
    fn failed_attempts_back_off_up_to_the_cap_and_synced_resets() {
        let mut c = Connection::new(2_500, 7, true);
        c.start();
        let starts = failing_until(&mut c, 0, 60_000);
        let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        // Full jitter under ceilings of 100, 200, 400, ... capped at 2,500 ms.
        for (i, g) in gaps.iter().enumerate() {
            assert!(*g <= (100u64 << i.min(5)).min(2_500), "gap {i}: {g}");
        }
        assert!(
            starts.len() > 20,
            "kept trying: {} attempts in a minute",
            starts.len()
        );
        assert!(c.attempts() > 20);
        c.synced();
        assert_eq!(c.attempts(), 0);
    }

    #[test]
    fn nothing_while_offline_and_the_online_event_tries_at_once() {
        let mut c = Connection::new(2_500, 1, false);
        c.start();
        assert_eq!(c.poll_command(), None, "offline: no attempt");
        c.online();
        assert_eq!(c.poll_command(), Some(Command::Connect));
        c.closed(0);
        assert!(c.poll_timeout().is_some());
        c.offline();
        assert_eq!(
            c.poll_timeout(),
            None,
            "offline: the planned attempt is off"
        );
        c.handle_timeout(10_000);
        assert_eq!(c.poll_command(), None);
        c.online();
        assert_eq!(c.poll_command(), Some(Command::Connect));
    }

    #[test]
    fn a_long_hidden_page_reconnects_or_probes_when_visible() {
        let mut c = Connection::new(60_000, 3, true);
        c.start();
        assert_eq!(c.poll_command(), Some(Command::Connect));
        c.opened();
        c.hidden(1_000);
        c.visible(1_000 + LONG_HIDDEN_MS - 1);
        assert_eq!(c.poll_command(), None, "not hidden long enough");
        c.hidden(20_000);
        c.visible(20_000 + LONG_HIDDEN_MS);
        assert_eq!(c.poll_command(), Some(Command::Probe), "up: probe it");
        // Down with a long backoff pending: visible again tries at once.
        for _ in 0..10 {
            c.closed(40_000);
            c.handle_timeout(u64::MAX / 2);
            assert_eq!(c.poll_command(), Some(Command::Connect));
        }
        c.closed(40_000);
        assert!(c.pending_delay().is_some());
        c.hidden(40_000);
        c.visible(40_000 + LONG_HIDDEN_MS);
        assert_eq!(c.poll_command(), Some(Command::Connect));
        assert_eq!(c.pending_delay(), None);
    }

    #[test]
    fn close_codes_that_refuse_the_client() {
        for code in [1000, 1001, 1006, 1011, 4000, 4205, 4408] {
            assert!(!refuses(code, false), "{code} is retried");
        }
        assert!(refuses(1008, false) && refuses(1008, true));
        assert!(refuses(4403, false) && refuses(4403, true));
        assert!(refuses(4401, false), "no new token can come");
        assert!(!refuses(4401, true), "a fresh token may be accepted");
    }

    #[test]
    fn denied_and_stopped_mean_no_more_attempts() {
        let mut c = Connection::new(2_500, 5, true);
        c.start();
        assert_eq!(c.poll_command(), Some(Command::Connect));
        c.opened();
        c.denied();
        c.closed(0);
        c.online();
        c.start();
        assert_eq!((c.poll_command(), c.poll_timeout()), (None, None));

        let mut c = Connection::new(2_500, 5, true);
        c.start();
        c.poll_command();
        c.closed(0);
        c.stop();
        c.handle_timeout(u64::MAX / 2);
        assert_eq!((c.poll_command(), c.poll_timeout()), (None, None));
        // Connecting twice while an attempt is under way starts one attempt.
        c.start();
        c.start();
        assert_eq!(c.poll_command(), Some(Command::Connect));
        assert_eq!(c.poll_command(), None);
    }
}
