//! Tabs that share one connection (`session::lead`), in the simulated world: one leader
//! connects for every tab, followers go through it, and a leader that closes or crashes hands
//! over without losing or repeating a change.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use crate::core::leader::Control;
use crate::core::session::{Config, Event, Status, TabRole};
use crate::core::tests::sim::{server_text, text, type_text, Sim};
use yrs::Transact;

fn cfg() -> Config {
    Config::default()
}

/// `n` tabs of one browser with their channels open: the first leads and connects, the others
/// follow.
fn tabs(sim: &mut Sim, n: usize) -> Vec<usize> {
    let ids: Vec<usize> = (0..n)
        .map(|k| sim.add_client(100 + k as u64, cfg()))
        .collect();
    for &i in &ids {
        sim.open_bc(i);
    }
    sim.set_role(ids[0], TabRole::Leader);
    for &i in &ids[1..] {
        sim.set_role(i, TabRole::Follower);
    }
    sim.connect(ids[0]);
    sim.run_for(100);
    ids
}

#[test]
fn one_connection_carries_every_tab_and_every_tab_sees_the_same() {
    let mut sim = Sim::new(31);
    let t = tabs(&mut sim, 4);
    // A peer elsewhere, on its own connection.
    let peer = sim.add_client(900, cfg());
    sim.connect(peer);
    sim.run_for(100);
    assert_eq!(sim.server_connections(), 2, "the leader's and the peer's");
    for (k, &i) in t.iter().enumerate() {
        assert!(
            sim.clients[i].sent_frames.is_empty() || k == 0,
            "followers never transmit"
        );
        assert_eq!(sim.clients[i].session.status(), Status::Connected);
        assert!(sim.clients[i].session.synced());
        assert_eq!(sim.clients[i].session.through_tab(), k > 0);
    }
    // Every tab and the peer type at once.
    for (k, &i) in t.iter().enumerate() {
        let doc = sim.clients[i].doc.clone();
        type_text(&doc, 0, &format!("[tab{k}]"));
    }
    let doc = sim.clients[peer].doc.clone();
    type_text(&doc, 0, "[peer]");
    sim.run_for(1_000);
    let want = server_text(&sim);
    for c in t.iter().chain([&peer]) {
        assert_eq!(text(&sim.clients[*c].doc), want);
    }
    for k in 0..4 {
        assert!(want.contains(&format!("[tab{k}]")));
    }
    // Confirmed everywhere: the followers were told.
    for &i in &t {
        assert_eq!(sim.clients[i].session.unconfirmed().0, 0, "tab {i}");
    }
    assert_eq!(sim.server_connections(), 2);
    for &i in &t[1..] {
        assert!(
            sim.clients[i].sent_frames.is_empty(),
            "followers never transmit"
        );
    }
}

#[test]
fn a_followers_edit_counts_as_unacknowledged_until_the_server_holds_it() {
    let mut sim = Sim::new(32);
    let t = tabs(&mut sim, 2);
    let (leader, follower) = (t[0], t[1]);
    // The leader's link is slow: the edit takes 200 ms to reach the server.
    sim.clients[leader].latency = 200;
    let doc = sim.clients[follower].doc.clone();
    type_text(&doc, 0, "mine");
    let mark = sim.clients[follower].session.ack_mark();
    assert!(!sim.clients[follower].session.confirmed(mark));
    sim.run_for(150);
    assert_eq!(server_text(&sim), "", "not at the server yet");
    assert!(!sim.clients[follower].session.confirmed(mark));
    assert_eq!(sim.clients[follower].session.unconfirmed().0, 1);
    sim.run_for(1_000);
    assert_eq!(server_text(&sim), "mine");
    assert!(sim.clients[follower].session.confirmed(mark));
    assert!(sim.clients[follower]
        .events
        .contains(&Event::Unsynced { count: 0, bytes: 0 }));
}

#[test]
fn a_leader_that_crashes_hands_over_every_unacknowledged_change() {
    let mut sim = Sim::new(33);
    let t = tabs(&mut sim, 3);
    let (a, b, c) = (t[0], t[1], t[2]);
    type_text(&sim.clients[a].doc.clone(), 0, "before ");
    sim.run_for(500);
    assert_eq!(server_text(&sim), "before ");
    // The server stops taking updates; every tab edits; then the leader's process dies.
    sim.server.mode.drop_updates = usize::MAX;
    type_text(&sim.clients[a].doc.clone(), 7, "a");
    type_text(&sim.clients[b].doc.clone(), 0, "b");
    type_text(&sim.clients[c].doc.clone(), 0, "c");
    sim.run_for(300);
    assert_eq!(
        server_text(&sim),
        "before ",
        "none of it reached the server"
    );
    sim.crash(a);
    sim.server.mode.drop_updates = 0;
    // While nobody leads, a follower keeps editing.
    type_text(&sim.clients[c].doc.clone(), 0, "C");
    sim.run_for(100);
    // B gets the lock: it leads and connects; C hears of it.
    sim.set_role(b, TabRole::Leader);
    sim.connect(b);
    sim.run_for(2_000);
    let server = server_text(&sim);
    for part in ["before", "a", "b", "c", "C"] {
        assert!(server.contains(part), "{part:?} in {server:?}");
    }
    assert_eq!(
        server.len(),
        "before abcC".len(),
        "nothing twice: {server:?}"
    );
    for &i in &[b, c] {
        assert_eq!(text(&sim.clients[i].doc), server);
        assert_eq!(sim.clients[i].session.unconfirmed().0, 0, "tab {i}");
    }
    assert_eq!(sim.clients[c].session.status(), Status::Connected);
    assert!(sim.clients[c].session.through_tab());
    assert_eq!(sim.server_connections(), 1);
}

#[test]
fn a_change_only_a_follower_holds_reaches_a_new_leader() {
    // The follower's change never crossed the channel (it was restored from its storage):
    // it hands it to the leader, which sends it.
    let mut sim = Sim::new(34);
    let t = tabs(&mut sim, 2);
    let (leader, follower) = (t[0], t[1]);
    let other = yrs::Doc::with_client_id(555);
    type_text(&other, 0, "restored");
    let u = yrs::ReadTxn::encode_state_as_update_v1(
        &yrs::Transact::transact(&other),
        &yrs::StateVector::default(),
    );
    // Applied as a restore (not sent as a new change), then marked unconfirmed by its stored
    // acknowledgement, as after a reload.
    let doc = sim.clients[follower].doc.clone();
    doc.transact_mut_with(crate::core::origin::Origin::Restore(1).encode())
        .apply_update(yrs::updates::decoder::Decode::decode_v1(&u).unwrap())
        .unwrap();
    sim.seed(follower, &yrs::StateVector::default());
    sim.run_for(1_000);
    assert_eq!(server_text(&sim), "restored");
    assert_eq!(text(&sim.clients[leader].doc), "restored");
    assert_eq!(sim.clients[follower].session.unconfirmed().0, 0);
}

#[test]
fn presence_of_followers_reaches_the_server_and_the_servers_reaches_them() {
    let mut sim = Sim::new(35);
    let t = tabs(&mut sim, 2);
    let follower = t[1];
    let peer = sim.add_client(900, cfg());
    sim.connect(peer);
    sim.run_for(100);
    let now = sim.now;
    sim.clients[follower]
        .session
        .set_local_awareness(now, Some(r#"{"user":"follower"}"#));
    sim.clients[peer]
        .session
        .set_local_awareness(now, Some(r#"{"user":"peer"}"#));
    sim.pump(follower);
    sim.pump(peer);
    sim.run_for(500);
    assert_eq!(
        sim.clients[peer].session.awareness().state(101).as_deref(),
        Some(r#"{"user":"follower"}"#)
    );
    assert_eq!(
        sim.clients[follower]
            .session
            .awareness()
            .state(900)
            .as_deref(),
        Some(r#"{"user":"peer"}"#)
    );
}

#[test]
fn a_follower_refuses_bad_messages_from_other_tabs_and_keeps_working() {
    let mut sim = Sim::new(36);
    let t = tabs(&mut sim, 2);
    let follower = t[1];
    let now = sim.now;
    // A relayed "server" frame with an update whose string declares 0xFFFFFFFF bytes, and a
    // message that is no message.
    let bad_update = vec![1, 1, 1, 0, 4, 1, 1, b't', 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
    let frame = [vec![0, 2, bad_update.len() as u8], bad_update].concat();
    for bytes in [Control::Server(frame).encode(), vec![42, 1, 2]] {
        sim.clients[follower].session.handle_control(now, &bytes);
    }
    sim.pump(follower);
    let errors = sim.clients[follower]
        .events
        .iter()
        .filter(|e| matches!(e, Event::Error(_)))
        .count();
    assert_eq!(errors, 2);
    type_text(&sim.clients[follower].doc.clone(), 0, "still fine");
    sim.run_for(500);
    assert_eq!(server_text(&sim), "still fine");
}

#[test]
fn the_leaders_status_is_every_followers() {
    let mut sim = Sim::new(37);
    let t = tabs(&mut sim, 2);
    let (leader, follower) = (t[0], t[1]);
    sim.clients[follower].events.clear();
    sim.disconnect(leader);
    sim.run_for(10);
    assert_eq!(sim.clients[follower].session.status(), Status::Disconnected);
    assert!(!sim.clients[follower].session.synced());
    sim.connect(leader);
    sim.run_for(100);
    assert_eq!(sim.clients[follower].session.status(), Status::Connected);
    assert!(sim.clients[follower].session.synced());
    let seen: Vec<&Event> = sim.clients[follower]
        .events
        .iter()
        .filter(|e| matches!(e, Event::Status(_) | Event::Synced(_)))
        .collect();
    assert_eq!(
        seen,
        vec![
            &Event::Status(Status::Disconnected),
            &Event::Synced(false),
            &Event::Status(Status::Connecting),
            &Event::Status(Status::Connected),
            &Event::Synced(true)
        ]
    );
}

#[test]
fn a_tab_that_waits_then_leads_goes_from_connecting_to_connected() {
    // Its lock is granted after it started following: no "disconnected" in between.
    let mut sim = Sim::new(38);
    let a = sim.add_client(100, cfg());
    sim.open_bc(a);
    sim.set_role(a, TabRole::Follower);
    sim.set_role(a, TabRole::Leader);
    sim.connect(a);
    sim.run_for(50);
    let statuses: Vec<&Event> = sim.clients[a]
        .events
        .iter()
        .filter(|e| matches!(e, Event::Status(_)))
        .collect();
    assert_eq!(
        statuses,
        vec![
            &Event::Status(Status::Connecting),
            &Event::Status(Status::Connected)
        ]
    );
    // A leader that cannot connect says so when asked to report.
    sim.disconnect(a);
    sim.clients[a].session.report_status();
    sim.pump(a);
    assert_eq!(
        sim.clients[a].events.last(),
        Some(&Event::Status(Status::Disconnected))
    );
}
