//! The real reconnect policy (`core::connection`) driving sessions in the simulated world:
//! backoff through a server outage, offline and online, a long-hidden page, permission denied.

use super::sim::{server_text, type_text, ServerMode, Sim};
use crate::core::connection::LONG_HIDDEN_MS;
use crate::core::session::{Config, Status};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const MAX_BACKOFF: u64 = 2_500;

#[test]
fn an_outage_is_retried_at_the_backoff_rate_and_offline_edits_arrive_after_it() {
    let mut sim = Sim::new(40);
    let a = sim.add_client(1, Config::default());
    sim.auto_connect(a, MAX_BACKOFF);
    sim.run_for(200);
    assert!(sim.clients[a].session.synced());
    assert_eq!(sim.clients[a].attempts, vec![0]);

    sim.reachable = false;
    sim.restart_server(true);
    type_text(&sim.clients[a].doc, 0, "written during the outage");
    let down = sim.now;
    sim.run_for(20_000);
    let tries: Vec<u64> = sim.clients[a].attempts[1..].to_vec();
    let mut gaps = vec![tries[0] - down];
    gaps.extend(tries.windows(2).map(|w| w[1] - w[0]));
    assert!(
        gaps.iter().all(|g| *g <= MAX_BACKOFF),
        "never longer than the cap: {gaps:?}"
    );
    assert!(gaps[0] <= 100, "the first retry comes fast: {gaps:?}");
    assert!(
        tries.len() >= 8 && tries.len() <= 60,
        "retried, but not in a loop: {} attempts in 20 s",
        tries.len()
    );
    assert_eq!(sim.clients[a].session.status(), Status::Disconnected);

    sim.reachable = true;
    let up = sim.now;
    sim.run_for(3_000);
    let back = *sim.clients[a].attempts.last().unwrap();
    assert!(
        back >= up && back - up <= MAX_BACKOFF,
        "reconnected within one delay"
    );
    assert!(sim.clients[a].session.synced());
    assert_eq!(server_text(&sim), "written during the outage");
    assert_eq!(
        sim.clients[a].session.unconfirmed().0,
        0,
        "and acknowledged"
    );
}

#[test]
fn offline_stops_attempts_and_online_reconnects_at_once() {
    let mut sim = Sim::new(41);
    let a = sim.add_client(1, Config::default());
    sim.auto_connect(a, MAX_BACKOFF);
    sim.run_for(200);
    sim.set_online(a, false);
    sim.restart_server(true);
    sim.run_for(30_000);
    assert_eq!(sim.clients[a].attempts.len(), 1, "no attempt while offline");
    sim.set_online(a, true);
    assert_eq!(sim.clients[a].attempts.last(), Some(&sim.now), "at once");
    sim.run_for(200);
    assert!(sim.clients[a].session.synced());
}

#[test]
fn a_page_visible_again_after_a_long_time_hidden_probes_its_connection() {
    let probes = |sim: &Sim| {
        sim.clients[0]
            .sent_frames
            .iter()
            .filter(|f| f.starts_with(&[0, 0]))
            .count()
    };
    let cfg = Config {
        // No idle probe during the test: only the policy's.
        idle_probe_ms: 1_000_000,
        ..Config::default()
    };
    let mut sim = Sim::new(42);
    let a = sim.add_client(1, cfg);
    sim.auto_connect(a, MAX_BACKOFF);
    sim.run_for(200);
    let before = probes(&sim);
    sim.set_hidden(a, true);
    sim.run_for(1_000);
    sim.set_hidden(a, false);
    assert_eq!(probes(&sim), before, "a short hide changes nothing");
    sim.set_hidden(a, true);
    sim.run_for(LONG_HIDDEN_MS);
    sim.set_hidden(a, false);
    assert_eq!(probes(&sim), before + 1, "one probe after a long hide");
    sim.run_for(200);
    assert_eq!(
        sim.clients[a].attempts.len(),
        1,
        "the open connection is kept"
    );
    assert!(sim.clients[a].session.synced());
}

#[test]
fn permission_denied_is_never_retried() {
    let mut sim = Sim::new(43);
    sim.server.mode = ServerMode {
        deny: Some("no".into()),
        ..ServerMode::default()
    };
    let a = sim.add_client(1, Config::default());
    sim.auto_connect(a, MAX_BACKOFF);
    sim.run_for(60_000);
    assert_eq!(sim.clients[a].attempts.len(), 1);
    assert!(sim.clients[a].session.denied());
}
