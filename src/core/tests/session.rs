//! Behaviour of the session against the simulated y-websocket server.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::{Array, Map, ReadTxn, StateVector, Text, Transact};

use crate::core::awareness::AwarenessOrigin;
use crate::core::error::SyncError;
use crate::core::session::{CloseReason, Config, Event, Output, Session, Status};
use crate::core::tests::sim::{frame, server_text, snapshot, text, type_text, Sim};

fn cfg() -> Config {
    Config::default()
}

#[test]
fn handshake_step1_first_then_synced_at_first_step2() {
    let mut sim = Sim::new(1);
    let a = sim.add_client(1, cfg());
    type_text(&sim.server.doc, 0, "from server");
    sim.connect(a);
    // The very first frame is sync step 1 with our (empty) state vector.
    assert_eq!(sim.clients[a].sent_frames[0], [0, 0, 1, 0]);
    assert!(!sim.clients[a].session.synced());
    sim.run_for(100);
    assert!(sim.clients[a].session.synced());
    assert_eq!(text(&sim.clients[a].doc), "from server");
    let ev = &sim.clients[a].events;
    assert_eq!(ev[0], Event::Status(Status::Connecting));
    assert_eq!(ev[1], Event::Status(Status::Connected));
    assert!(ev.contains(&Event::Synced(true)));
}

#[test]
fn clients_converge_on_text_map_and_array() {
    let mut sim = Sim::new(2);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.clients[b].latency = 17;
    sim.connect(a);
    sim.connect(b);
    sim.run_for(100);
    type_text(&sim.clients[a].doc, 0, "hello");
    {
        let doc = &sim.clients[b].doc;
        let m = doc.get_or_insert_map("m");
        let arr = doc.get_or_insert_array("list");
        let mut txn = doc.transact_mut();
        m.insert(&mut txn, "k", "v");
        arr.push_back(&mut txn, 1.5);
        arr.push_back(&mut txn, "two");
    }
    sim.run_for(200);
    assert_eq!(snapshot(&sim.clients[a].doc), snapshot(&sim.clients[b].doc));
    assert_eq!(snapshot(&sim.clients[a].doc), snapshot(&sim.server.doc));
    assert_eq!(text(&sim.clients[b].doc), "hello");
}

#[test]
fn acknowledgement_only_after_the_server_applied() {
    let mut sim = Sim::new(3);
    let a = sim.add_client(1, cfg());
    sim.clients[a].latency = 50;
    sim.connect(a);
    sim.run_for(500);
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    type_text(&sim.clients[a].doc, 0, "abc");
    let mark = sim.clients[a].session.ack_mark();
    sim.run_for(10);
    // In flight: not on the server yet, so not confirmed.
    assert_eq!(sim.clients[a].session.unconfirmed().0, 1);
    assert!(!sim.clients[a].session.confirmed(mark));
    assert_eq!(server_text(&sim), "");
    sim.run_for(60);
    // Applied on the server, but the answer to the probe has not come back yet.
    assert_eq!(server_text(&sim), "abc");
    assert!(!sim.clients[a].session.confirmed(mark));
    sim.run_for(100);
    assert!(sim.clients[a].session.confirmed(mark));
    assert_eq!(sim.clients[a].session.unconfirmed(), (0, 0));
    let ev = &sim.clients[a].events;
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Unsynced { count: 1, .. })));
    assert_eq!(
        ev.iter()
            .rev()
            .find(|e| matches!(e, Event::Unsynced { .. })),
        Some(&Event::Unsynced { count: 0, bytes: 0 })
    );
}

/// Sync step 1 frames (probes) a client sent.
fn probes_sent(sim: &Sim, i: usize) -> usize {
    sim.clients[i]
        .sent_frames
        .iter()
        .filter(|f| f.starts_with(&[0, 0]))
        .count()
}

#[test]
fn a_burst_of_changes_shares_probes_and_everything_is_still_acknowledged() {
    let mut sim = Sim::new(31);
    let a = sim.add_client(1, cfg());
    sim.clients[a].latency = 5;
    sim.connect(a);
    sim.run_for(200);
    // A change after a quiet spell is probed at once, in the same poll as the update.
    let before = probes_sent(&sim, a);
    type_text(&sim.clients[a].doc, 0, "a");
    sim.pump(a);
    assert_eq!(probes_sent(&sim, a), before + 1);
    sim.run_for(200);
    assert_eq!(sim.clients[a].session.unconfirmed(), (0, 0));
    // Typing: 100 changes, one every 2 ms. A probe per change would be 100 more frames for
    // the server to answer; at most one per `ack_interval_ms` (50) window goes out.
    let before = probes_sent(&sim, a);
    let mark = sim.clients[a].session.ack_mark();
    for i in 0..100 {
        type_text(&sim.clients[a].doc, i + 1, "x");
        sim.run_for(2);
    }
    let during = probes_sent(&sim, a) - before;
    assert!(
        (2..=200 / 50 + 1).contains(&during),
        "{during} probes for 100 changes"
    );
    let sent_after_last = sim.clients[a].session.unconfirmed().0;
    assert!(
        sent_after_last > 0,
        "the last changes wait for the next window"
    );
    sim.run_for(100);
    // The trailing changes got their probe when the window ended: all acknowledged.
    assert!(sim.clients[a].session.confirmed(mark));
    assert_eq!(sim.clients[a].session.unconfirmed(), (0, 0));
    assert_eq!(server_text(&sim).len(), 101);
    // Without the window, each change is probed as soon as the previous probe is answered.
    let mut sim = Sim::new(32);
    let b = sim.add_client(
        2,
        Config {
            ack_interval_ms: 0,
            ..cfg()
        },
    );
    sim.clients[b].latency = 0;
    sim.connect(b);
    sim.run_for(200);
    let before = probes_sent(&sim, b);
    for i in 0..20 {
        type_text(&sim.clients[b].doc, i, "x");
        sim.run_for(2);
    }
    assert_eq!(probes_sent(&sim, b) - before, 20);
}

#[test]
fn a_lost_update_is_detected_and_sent_again() {
    let mut sim = Sim::new(4);
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(100);
    sim.server.mode.drop_updates = 1;
    type_text(&sim.clients[a].doc, 0, "lost once");
    sim.run_for(100);
    assert_eq!(server_text(&sim), "lost once");
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
}

#[test]
fn a_server_that_never_applies_gives_an_error_not_a_loop() {
    let mut sim = Sim::new(5);
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(100);
    sim.server.mode.drop_updates = usize::MAX;
    type_text(&sim.clients[a].doc, 0, "x");
    sim.run_for(2_000);
    let sent = sim.clients[a].sent_frames.len();
    assert!(sim.clients[a]
        .events
        .iter()
        .any(|e| matches!(e, Event::Error(SyncError::NotApplied(3)))));
    sim.run_for(2_000);
    // Bounded: only idle probes afterwards, no resend storm.
    assert!(sim.clients[a].sent_frames.len() <= sent + 1);
    assert_eq!(sim.clients[a].session.unconfirmed().0, 1);
}

#[test]
fn offline_edits_merge_on_reconnect_and_get_confirmed() {
    let mut sim = Sim::new(6);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.connect(a);
    sim.connect(b);
    type_text(&sim.clients[a].doc, 0, "base ");
    sim.run_for(200);
    sim.disconnect(a);
    type_text(&sim.clients[a].doc, 5, "offline-a ");
    type_text(&sim.clients[b].doc, 0, "online-b ");
    sim.run_for(200);
    assert_eq!(sim.clients[a].session.unconfirmed().0, 1);
    assert_eq!(sim.clients[a].session.status(), Status::Disconnected);
    sim.connect(a);
    sim.run_for(300);
    let ta = text(&sim.clients[a].doc);
    assert_eq!(ta, text(&sim.clients[b].doc));
    assert!(ta.contains("offline-a") && ta.contains("online-b"));
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    // Delivered once by the step 2, not sent again as an update.
    let updates = sim.clients[a]
        .sent_frames
        .iter()
        .filter(|f| f.starts_with(&[0, 2]))
        .count();
    assert_eq!(updates, 1, "only the first online edit went as an update");
}

#[test]
fn server_restart_without_state_gets_everything_back() {
    let mut sim = Sim::new(7);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.connect(a);
    sim.connect(b);
    type_text(&sim.clients[a].doc, 0, "one ");
    sim.run_for(200);
    sim.restart_server(false);
    type_text(&sim.clients[a].doc, 0, "two ");
    type_text(&sim.clients[b].doc, 0, "three ");
    sim.connect(a);
    sim.connect(b);
    sim.run_for(500);
    assert_eq!(snapshot(&sim.clients[a].doc), snapshot(&sim.clients[b].doc));
    assert_eq!(snapshot(&sim.server.doc), snapshot(&sim.clients[a].doc));
    for c in [a, b] {
        assert_eq!(sim.clients[c].session.unconfirmed().0, 0);
    }
}

#[test]
fn awareness_appears_renews_and_leaves() {
    let mut sim = Sim::new(8);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.connect(a);
    sim.connect(b);
    sim.run_for(100);
    sim.clients[a]
        .session
        .set_local_awareness(sim.now, Some(r#"{"user":{"name":"Åsa 🦀"}}"#));
    sim.run_for(100);
    assert_eq!(
        sim.clients[b].session.awareness().state(1).as_deref(),
        Some(r#"{"user":{"name":"Åsa 🦀"}}"#)
    );
    // Renewed every 15 s, so it survives far past the 30 s expiry.
    sim.run_for(95_000);
    assert!(sim.clients[b].session.awareness().state(1).is_some());
    // Leaving: null state.
    sim.clients[a].session.set_local_awareness(sim.now, None);
    sim.run_for(100);
    assert!(sim.clients[b].session.awareness().state(1).is_none());
    assert!(sim.clients[b].events.iter().any(|e| matches!(
        e,
        Event::Awareness { change, origin: AwarenessOrigin::Remote } if change.removed == vec![1]
    )));
}

#[test]
fn awareness_of_a_silent_peer_expires_after_30s() {
    let mut sim = Sim::new(9);
    let b = sim.add_client(2, cfg());
    sim.connect(b);
    sim.run_for(100);
    let mut upd = AwarenessUpdate {
        clients: Default::default(),
    };
    upd.clients.insert(
        yrs::ClientID::new(4242),
        AwarenessUpdateEntry {
            clock: 1,
            json: r#"{"n":1}"#.into(),
        },
    );
    let now = sim.now;
    sim.clients[b]
        .session
        .handle_frame(now, &frame(&Message::Awareness(upd)));
    sim.pump(b);
    assert!(sim.clients[b].session.awareness().state(4242).is_some());
    sim.run_for(27_000);
    assert!(sim.clients[b].session.awareness().state(4242).is_some());
    sim.run_for(6_000);
    assert!(sim.clients[b].session.awareness().state(4242).is_none());
    // With y-protocols' origin for an expiry.
    assert!(sim.clients[b].events.iter().any(|e| matches!(
        e,
        Event::Awareness { change, origin: AwarenessOrigin::Timeout } if change.removed == vec![4242]
    )));
    // b's own renewals (every 15 s) were local updates of the same state.
    assert!(sim.clients[b].events.iter().any(|e| matches!(
        e,
        Event::Awareness { change, origin: AwarenessOrigin::Local } if change.renewed == vec![2]
    )));
}

#[test]
fn remote_awareness_is_dropped_when_the_connection_closes() {
    let mut sim = Sim::new(10);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.connect(a);
    sim.connect(b);
    sim.clients[a]
        .session
        .set_local_awareness(sim.now, Some("{}"));
    sim.run_for(100);
    assert!(sim.clients[b].session.awareness().state(1).is_some());
    sim.disconnect(b);
    assert!(sim.clients[b].session.awareness().state(1).is_none());
    assert!(matches!(
        sim.clients[b].events.iter().rev().find(|e| matches!(e, Event::Awareness { .. })),
        Some(Event::Awareness { change, origin: AwarenessOrigin::Closed }) if change.removed == vec![1]
    ));
    // And the server tells the others when a connection goes away.
    sim.connect(b);
    sim.run_for(100);
    assert!(sim.clients[b].session.awareness().state(1).is_some());
    sim.disconnect(a);
    sim.run_for(100);
    assert!(sim.clients[b].session.awareness().state(1).is_none());
}

#[test]
fn many_messages_in_one_frame() {
    let doc = yrs::Doc::with_client_id(1);
    let mut s = Session::new(doc.clone(), cfg(), 0).unwrap();
    s.connected(0);
    while s.poll_output(0).is_some() {}
    let other = yrs::Doc::with_client_id(9);
    type_text(&other, 0, "packed");
    let upd = other
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let mut aw = AwarenessUpdate {
        clients: Default::default(),
    };
    aw.clients.insert(
        yrs::ClientID::new(9),
        AwarenessUpdateEntry {
            clock: 3,
            json: r#"{"a":"ü"}"#.into(),
        },
    );
    let mut f = frame(&Message::Sync(SyncMessage::SyncStep1(
        StateVector::default(),
    )));
    f.extend(frame(&Message::Sync(SyncMessage::Update(upd))));
    f.extend(frame(&Message::Awareness(aw)));
    f.extend(frame(&Message::AwarenessQuery));
    s.handle_frame(1, &f);
    assert_eq!(text(&doc), "packed");
    assert!(s.awareness().state(9).is_some());
    let outs: Vec<Output> = std::iter::from_fn(|| s.poll_output(0)).collect();
    let frames: Vec<&Vec<u8>> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Transmit(f) => Some(f),
            _ => None,
        })
        .collect();
    // Answers: step 2 to the step 1, our awareness to the query. Remote updates are not echoed.
    assert!(frames[0].starts_with(&[0, 1]));
    assert!(frames.iter().any(|f| f[0] == 1));
    assert!(!frames.iter().any(|f| f.starts_with(&[0, 2])));
}

#[test]
fn permission_denied_stops_the_session() {
    let mut sim = Sim::new(11);
    sim.server.mode.deny = Some("no access to this room".into());
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(100);
    let c = &sim.clients[a];
    assert!(c
        .events
        .contains(&Event::PermissionDenied("no access to this room".into())));
    assert!(c.session.denied());
    assert_eq!(c.session.status(), Status::Disconnected);
    assert!(
        c.conn.is_none(),
        "the session asked for the socket to close"
    );
    let mut c = sim.clients.remove(a);
    let stats = c.session.stats(100);
    assert_eq!(stats.errors["PERMISSION_DENIED"], 1);
    assert_eq!(stats.closes["permissionDenied"], 1);
    assert_eq!(stats.received.by_type["auth"].messages, 1);
}

#[test]
fn an_oversized_frame_counts_as_frame_too_large() {
    let mut cfg = cfg();
    cfg.limits.max_frame = 64;
    let mut sim = Sim::new(42);
    let a = sim.add_client(1, cfg);
    sim.connect(a);
    sim.run_for(100);
    let now = sim.now;
    sim.clients[a].session.handle_frame(
        now,
        &frame(&Message::Sync(SyncMessage::Update(vec![0; 100]))),
    );
    let s = sim.clients[a].session.stats(now);
    assert_eq!(s.errors["FRAME_TOO_LARGE"], 1);
    assert_eq!(s.closes["protocol"], 1);
}

#[test]
fn silent_server_is_probed_then_dropped() {
    let mut sim = Sim::new(12);
    sim.server.mode.mute = true;
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(9_000);
    assert!(sim.clients[a].conn.is_some());
    sim.run_for(2_000);
    assert!(sim.clients[a].conn.is_none());
    assert!(sim.clients[a]
        .events
        .iter()
        .any(|e| matches!(e, Event::Error(SyncError::Timeout(_)))));
}

#[test]
fn idle_connection_is_probed_and_kept() {
    let mut sim = Sim::new(13);
    // Without presence: its renewal every 15 s, echoed by the server, is traffic too.
    let a = sim.add_client(
        1,
        Config {
            awareness: false,
            ..cfg()
        },
    );
    sim.connect(a);
    sim.run_for(100);
    let before = sim.clients[a].sent_frames.len();
    sim.run_for(60_000);
    assert!(sim.clients[a].conn.is_some());
    let probes = sim.clients[a].sent_frames[before..]
        .iter()
        .filter(|f| f.starts_with(&[0, 0]))
        .count();
    assert!((3..=5).contains(&probes), "{probes} probes in 60 s");
}

#[test]
fn malformed_frame_leaves_doc_untouched_and_closes() {
    let doc = yrs::Doc::with_client_id(1);
    type_text(&doc, 0, "keep");
    let mut s = Session::new(doc.clone(), cfg(), 0).unwrap();
    s.connected(0);
    while s.poll_output(0).is_some() {}
    let before = snapshot(&doc);
    // A valid update followed by a truncated one, in one frame: nothing is applied.
    let other = yrs::Doc::with_client_id(9);
    type_text(&other, 0, "evil");
    let upd = other
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let mut f = frame(&Message::Sync(SyncMessage::Update(upd)));
    f.extend([0, 2, 200, 1, 1]);
    s.handle_frame(1, &f);
    assert_eq!(snapshot(&doc), before);
    let outs: Vec<Output> = std::iter::from_fn(|| s.poll_output(0)).collect();
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Error(SyncError::MalformedFrame(_))))));
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close(CloseReason::Protocol(_)))));
    // The frame that traps yrs on wasm32 (string length 0xFFFFFFFF) is stopped the same way.
    s.closed(2, None);
    s.connected(3);
    let bad = [
        0, 2, 14, 1, 1, 1, 0, 4, 1, 1, b't', 0xff, 0xff, 0xff, 0xff, 0x0f, 0,
    ];
    s.handle_frame(4, &bad);
    assert_eq!(snapshot(&doc), before);
    let outs: Vec<Output> = std::iter::from_fn(|| s.poll_output(0)).collect();
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(Event::Error(SyncError::MalformedFrame(
            crate::core::error::DecodeError::LengthOutOfBounds { .. }
        )))
    )));
    // Frames that arrive after the close (a replaced socket) are ignored.
    s.closed(5, None);
    while s.poll_output(0).is_some() {}
    s.handle_frame(6, &frame(&Message::Sync(SyncMessage::Update(vec![0, 0]))));
    assert!(std::iter::from_fn(|| s.poll_output(0)).all(|o| !matches!(o, Output::Transmit(_))));
}

#[test]
fn randomized_convergence_with_reordering_and_disconnects() {
    for seed in 0..40u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut sim = Sim::new(seed);
        sim.jitter = rng.u64(0..30);
        let n = 3;
        for i in 0..n {
            let c = sim.add_client(i as u64 + 1, cfg());
            sim.clients[c].latency = rng.u64(1..40);
            sim.connect(c);
        }
        for _ in 0..60 {
            let i = rng.usize(0..n);
            match rng.u8(0..10) {
                0 => sim.disconnect(i),
                1 => {
                    if sim.clients[i].conn.is_none() {
                        sim.connect(i);
                    }
                }
                2 => sim.restart_server(rng.bool()),
                3..=5 => {
                    let doc = sim.clients[i].doc.clone();
                    let len = text(&doc).chars().count() as u32;
                    type_text(&doc, rng.u32(0..=len), &format!("{i}"));
                }
                6 => {
                    let doc = sim.clients[i].doc.clone();
                    let t = doc.get_or_insert_text("note");
                    let len = t.len(&doc.transact());
                    if len > 0 {
                        t.remove_range(&mut doc.transact_mut(), rng.u32(0..len), 1);
                    }
                }
                7 => {
                    let doc = sim.clients[i].doc.clone();
                    let m = doc.get_or_insert_map("m");
                    m.insert(
                        &mut doc.transact_mut(),
                        format!("k{}", rng.u8(0..4)),
                        i as f64,
                    );
                }
                _ => {
                    let doc = sim.clients[i].doc.clone();
                    let a = doc.get_or_insert_array("a");
                    let mut txn = doc.transact_mut();
                    let len = a.len(&txn);
                    a.insert(&mut txn, rng.u32(0..=len), seed as f64);
                }
            }
            sim.run_for(rng.u64(0..80));
        }
        for i in 0..n {
            if sim.clients[i].conn.is_none() {
                sim.connect(i);
            }
        }
        sim.run_for(3_000);
        for i in 1..n {
            assert_eq!(
                snapshot(&sim.clients[0].doc),
                snapshot(&sim.clients[i].doc),
                "seed {seed}"
            );
        }
        assert_eq!(snapshot(&sim.server.doc), snapshot(&sim.clients[0].doc));
        for i in 0..n {
            assert_eq!(
                sim.clients[i].session.unconfirmed().0,
                0,
                "seed {seed} client {i}"
            );
        }
    }
}

#[test]
fn tabs_stay_in_sync_over_the_broadcast_channel_while_the_server_is_down() {
    let mut sim = Sim::new(20);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    type_text(&sim.clients[a].doc, 0, "before ");
    sim.open_bc(a);
    sim.open_bc(b);
    // The newcomer announced itself and got a's whole state.
    assert_eq!(text(&sim.clients[b].doc), "before ");
    type_text(&sim.clients[a].doc, 7, "offline tab edit");
    sim.run_for(10);
    assert_eq!(text(&sim.clients[b].doc), "before offline tab edit");
    sim.clients[a]
        .session
        .set_local_awareness(sim.now, Some(r#"{"tab":"a"}"#));
    sim.run_for(10);
    assert_eq!(
        sim.clients[b].session.awareness().state(1).as_deref(),
        Some(r#"{"tab":"a"}"#)
    );
    assert_eq!(sim.clients[a].session.status(), Status::Disconnected);
}

#[test]
fn storage_answering_after_the_first_sync_does_not_make_the_servers_content_ours() {
    let mut sim = Sim::new(25);
    type_text(&sim.server.doc, 0, "from the server");
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(100);
    assert_eq!(text(&sim.clients[a].doc), "from the server");
    let sent = sim.clients[a].sent_frames.len();
    // A fresh store has nothing acknowledged, and it answers after the server did.
    sim.seed(a, &StateVector::default());
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    let resent = sim.clients[a].sent_frames[sent..]
        .iter()
        .filter(|f| f.starts_with(&[0, 2]))
        .count();
    assert_eq!(resent, 0, "the server's content was sent back to it");
    // Our own changes are still tracked until the server has them.
    type_text(&sim.clients[a].doc, 0, "mine: ");
    sim.pump(a);
    assert_eq!(sim.clients[a].session.unconfirmed().0, 1);
    sim.run_for(200);
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    assert_eq!(server_text(&sim), "mine: from the server");
}

#[test]
fn presence_from_other_tabs_survives_failed_reconnects_and_a_dropped_connection() {
    let mut sim = Sim::new(22);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.connect(a);
    sim.connect(b);
    sim.open_bc(a);
    sim.open_bc(b);
    sim.run_for(100);
    sim.clients[a]
        .session
        .set_local_awareness(sim.now, Some(r#"{"tab":"a"}"#));
    sim.run_for(100);
    let a_state = |sim: &Sim| sim.clients[b].session.awareness().state(1);
    assert_eq!(a_state(&sim).as_deref(), Some(r#"{"tab":"a"}"#));
    // b's connection drops: the server's states go, but tab a is asked again at once.
    sim.restart_server(false);
    sim.run_for(10);
    assert_eq!(sim.clients[b].session.status(), Status::Disconnected);
    assert_eq!(a_state(&sim).as_deref(), Some(r#"{"tab":"a"}"#));
    // The server stays down: failed attempts leave the tabs' states alone.
    sim.clients[a]
        .session
        .set_local_awareness(sim.now, Some(r#"{"tab":"a2"}"#));
    for _ in 0..3 {
        sim.failed_attempt(b);
        sim.run_for(1_000);
    }
    assert_eq!(a_state(&sim).as_deref(), Some(r#"{"tab":"a2"}"#));
}

#[test]
fn a_connection_the_session_drops_itself_is_reported_like_a_close() {
    // Dropped for a malformed frame: synced false, disconnected, each once, and no more events
    // when the adapter confirms the socket closed.
    let mut sim = Sim::new(23);
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(100);
    assert!(sim.clients[a].session.synced());
    sim.clients[a].events.clear();
    let now = sim.now;
    sim.clients[a].session.handle_frame(now, &[0, 2, 200, 1, 1]);
    sim.pump(a);
    let ev = &sim.clients[a].events;
    assert!(matches!(ev[0], Event::Error(SyncError::MalformedFrame(_))));
    assert_eq!(
        ev.iter().filter(|e| **e == Event::Synced(false)).count(),
        1,
        "{ev:?}"
    );
    assert_eq!(
        ev.iter()
            .filter(|e| **e == Event::Status(Status::Disconnected))
            .count(),
        1,
        "{ev:?}"
    );
    assert_eq!(sim.clients[a].session.status(), Status::Disconnected);
    // A silent server: the same after the probe times out.
    let mut sim = Sim::new(24);
    sim.server.mode.mute = true;
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(11_000);
    let ev = &sim.clients[a].events;
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Error(SyncError::Timeout(_)))));
    assert_eq!(
        ev.iter()
            .filter(|e| **e == Event::Status(Status::Disconnected))
            .count(),
        1,
        "{ev:?}"
    );
}

#[test]
fn a_change_from_another_tab_reaches_the_server_but_is_not_echoed_to_the_tabs() {
    let mut sim = Sim::new(21);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.connect(a);
    sim.open_bc(a);
    sim.open_bc(b);
    sim.run_for(100);
    let a_posts = sim.clients[a].broadcast_frames.len();
    type_text(&sim.clients[b].doc, 0, "from the offline tab");
    sim.run_for(200);
    assert_eq!(text(&sim.clients[a].doc), "from the offline tab");
    assert_eq!(server_text(&sim), "from the offline tab");
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    let reposted = sim.clients[a].broadcast_frames[a_posts..]
        .iter()
        .filter(|f| f.starts_with(&[0, 2]))
        .count();
    assert_eq!(reposted, 0);
}

#[test]
fn malformed_broadcast_frame_is_reported_not_applied() {
    let doc = yrs::Doc::with_client_id(1);
    let mut s = Session::new(doc.clone(), cfg(), 0).unwrap();
    s.broadcast_opened(0);
    while s.poll_output(0).is_some() {}
    s.handle_broadcast(
        1,
        &[
            0, 2, 14, 1, 1, 1, 0, 4, 1, 1, b't', 0xff, 0xff, 0xff, 0xff, 0x0f, 0,
        ],
    );
    let outs: Vec<Output> = std::iter::from_fn(|| s.poll_output(0)).collect();
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Error(SyncError::MalformedFrame(_))))));
    assert!(!outs.iter().any(|o| matches!(o, Output::Close(_))));
    assert_eq!(text(&doc), "");
}

#[test]
fn resync_interval_probes_periodically() {
    let mut sim = Sim::new(22);
    let a = sim.add_client(
        1,
        Config {
            resync_interval_ms: 1_000,
            ..cfg()
        },
    );
    sim.connect(a);
    sim.run_for(100);
    let before = sim.clients[a].sent_frames.len();
    sim.run_for(5_000);
    let probes = sim.clients[a].sent_frames[before..]
        .iter()
        .filter(|f| f.starts_with(&[0, 0]))
        .count();
    assert!((4..=6).contains(&probes), "{probes} probes in 5 s");
}

#[test]
fn probe_now_detects_a_dead_server_quickly() {
    let mut sim = Sim::new(23);
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    sim.run_for(100);
    sim.server.mode.mute = true;
    let now = sim.now;
    sim.clients[a].session.probe_now(now);
    sim.pump(a);
    sim.run_for(10_100);
    assert!(sim.clients[a].conn.is_none());
}

#[test]
fn awareness_timeout_is_configurable() {
    let mut sim = Sim::new(24);
    let short = Config {
        awareness_timeout_ms: 2_000,
        ..cfg()
    };
    let a = sim.add_client(1, short.clone());
    let b = sim.add_client(2, short);
    sim.connect(a);
    sim.connect(b);
    sim.clients[a]
        .session
        .set_local_awareness(sim.now, Some("{}"));
    sim.run_for(10_000);
    // Renewed every second, so still there.
    assert!(sim.clients[b].session.awareness().state(1).is_some());
}

#[test]
fn after_a_reload_unconfirmed_content_is_known_before_connecting() {
    use yrs::updates::decoder::Decode;
    let mut sim = Sim::new(30);
    let a = sim.add_client(1, cfg());
    sim.connect(a);
    type_text(&sim.clients[a].doc, 0, "confirmed ");
    sim.run_for(200);
    // What the session asked to store once the server confirmed everything.
    let Some(state_vector) = sim.clients[a].persisted.last().cloned() else {
        panic!("no SaveAcknowledged output")
    };
    let acked = StateVector::decode_v1(&state_vector).unwrap();
    sim.disconnect(a);
    // "Reload": fresh sessions on the same (persisted) document, seeded from what was stored.
    let doc = sim.clients[a].doc.clone();
    let mut clean = Session::new(doc.clone(), cfg(), sim.now).unwrap();
    clean.seed_unconfirmed(sim.now, &acked);
    assert_eq!(
        clean.unconfirmed().0,
        0,
        "nothing new since the acknowledgement"
    );
    drop(clean);
    type_text(&doc, 10, "offline");
    let mut fresh = Session::new(doc.clone(), cfg(), sim.now).unwrap();
    fresh.seed_unconfirmed(sim.now, &acked);
    assert_eq!(
        fresh.unconfirmed().0,
        1,
        "the offline edit is known as unconfirmed"
    );
}

#[test]
fn seeded_changes_are_confirmed_by_the_handshake_and_stored_as_acknowledged() {
    let mut sim = Sim::new(31);
    let a = sim.add_client(1, cfg());
    type_text(&sim.clients[a].doc, 0, "from disk");
    // Never acknowledged by this server: everything local is unconfirmed.
    sim.seed(a, &StateVector::default());
    // (The edit itself was seen too, as the session existed already: two overlapping entries.)
    assert!(sim.clients[a].session.unconfirmed().0 >= 1);
    sim.connect(a);
    sim.run_for(300);
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    assert_eq!(server_text(&sim), "from disk");
    assert!(sim.clients[a].persisted.last().is_some());
    // Seeding again with nothing new: already confirmed in this session, nothing is sent.
    let sent = sim.clients[a].sent_frames.len();
    sim.seed(a, &StateVector::default());
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    assert_eq!(sim.clients[a].sent_frames.len(), sent);
    // Restored content the session never saw, seeded while connected, is sent so the server
    // can confirm it.
    let stored = {
        let other = yrs::Doc::with_client_id(9);
        type_text(&other, 0, "restored ");
        let u = other
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        u
    };
    use yrs::updates::decoder::Decode;
    sim.clients[a]
        .doc
        .transact_mut_with(crate::core::origin::Origin::Restore(1).encode())
        .apply_update(yrs::Update::decode_v1(&stored).unwrap())
        .unwrap();
    sim.seed(a, &StateVector::default());
    assert!(sim.clients[a].sent_frames[sent..]
        .iter()
        .any(|f| f.starts_with(&[0, 2])));
    sim.run_for(300);
    assert_eq!(sim.clients[a].session.unconfirmed().0, 0);
    assert!(server_text(&sim).contains("restored"));
}

#[test]
fn restored_state_is_not_a_new_local_change() {
    let doc = yrs::Doc::with_client_id(1);
    let mut s = Session::new(doc.clone(), cfg(), 0).unwrap();
    let stored = {
        let other = yrs::Doc::with_client_id(1);
        type_text(&other, 0, "from disk");
        let u = other
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        u
    };
    use yrs::updates::decoder::Decode;
    doc.transact_mut_with(crate::core::origin::Origin::Restore(7).encode())
        .apply_update(yrs::Update::decode_v1(&stored).unwrap())
        .unwrap();
    assert_eq!(s.unconfirmed().0, 0);
    // Seeding decides: never acknowledged, so unconfirmed.
    s.seed_unconfirmed(0, &StateVector::default());
    assert_eq!(s.unconfirmed().0, 1);
}

#[test]
fn stats_count_what_went_over_the_wire_lag_rtt_reconnects_and_errors() {
    let mut sim = Sim::new(41);
    let a = sim.add_client(1, cfg());
    let b = sim.add_client(2, cfg());
    sim.connect(a);
    sim.connect(b);
    sim.run_for(100);
    type_text(&sim.clients[a].doc, 0, "hello");
    type_text(&sim.clients[a].doc, 5, " world");
    sim.run_for(100);
    let now = sim.now;
    let s = sim.clients[a].session.stats(now);
    let total = |fs: &Vec<Vec<u8>>| fs.iter().map(|f| f.len() as u64).sum::<u64>();
    // Exactly what the session handed to the socket and what the socket delivered.
    assert_eq!(s.sent.frames, sim.clients[a].sent_frames.len() as u64);
    assert_eq!(s.sent.bytes, total(&sim.clients[a].sent_frames));
    assert_eq!(
        s.received.frames,
        sim.clients[a].received_frames.len() as u64
    );
    assert_eq!(s.received.bytes, total(&sim.clients[a].received_frames));
    assert_eq!(s.sent.by_type["update"].messages, 2);
    assert!(
        s.sent.by_type["syncStep1"].messages >= 2,
        "handshake + ack probe"
    );
    assert_eq!(s.updates_applied.local, 2);
    assert_eq!(s.unacknowledged.count, 0);
    assert_eq!(s.unacknowledged.oldest_age_ms, None);
    // Latency is 5 ms each way: a probe is answered 10 ms after it was sent.
    assert_eq!(s.last_probe_rtt_ms, Some(10));
    assert_eq!(s.connected_ms, 200);
    let sb = sim.clients[b].session.stats(now);
    assert!(sb.updates_applied.remote >= 2, "{:?}", sb.updates_applied);

    // Offline: the lag grows while the edit waits; time connected stops.
    sim.disconnect(a);
    type_text(&sim.clients[a].doc, 0, "> ");
    sim.run_for(300);
    let now = sim.now;
    let s = sim.clients[a].session.stats(now);
    assert_eq!(s.unacknowledged.count, 1);
    assert_eq!(s.unacknowledged.oldest_age_ms, Some(300));
    assert_eq!(s.connected_ms, 200);
    assert_eq!(s.closes["1006"], 1);

    // Reconnect: counted, and the lag goes back to none once the server confirmed.
    sim.connect(a);
    sim.run_for(100);
    let now = sim.now;
    let s = sim.clients[a].session.stats(now);
    assert_eq!((s.connects, s.reconnects), (2, 1));
    assert_eq!(s.unacknowledged.oldest_age_ms, None);

    // A malformed frame from the server: an error by code and a close for protocol.
    sim.clients[a].session.handle_frame(
        now,
        &frame(&Message::Sync(SyncMessage::Update(vec![0, 0, 9]))),
    );
    let s = sim.clients[a].session.stats(now);
    assert_eq!(s.errors["MALFORMED_FRAME"], 1);
    assert_eq!(s.closes["protocol"], 1);
    // It never reached yrs: the validator refused it, so it counts as invalid.
    assert_eq!(s.received.by_type["invalid"].messages, 1);
}

/// Updates of a map on client 9, one key per update (`k0`, `k1`, ...): each later one starts
/// past a gap for a document that lacks the earlier ones.
fn keyed_updates(n: usize) -> Vec<Vec<u8>> {
    let src = yrs::Doc::with_client_id(9);
    let m = src.get_or_insert_map("m");
    let mut out = Vec::new();
    for i in 0..n {
        let before = src.transact().state_vector();
        m.insert(&mut src.transact_mut(), format!("k{i}"), i as i64);
        out.push(src.transact().encode_state_as_update_v1(&before));
    }
    out
}

/// A connected session on a document whose one gate it shares, with its outputs drained.
fn gated_session() -> (yrs::Doc, Session, crate::core::gate::SharedGate) {
    let doc = yrs::Doc::with_client_id(1);
    let gate = crate::core::gate::SharedGate::default();
    let mut s = Session::new(doc.clone(), cfg(), 0).unwrap();
    s.share_gate(gate.clone());
    s.connected(0);
    while s.poll_output(0).is_some() {}
    (doc, s, gate)
}

/// What the app's `applyUpdate` and stored rows do: through the document's gate, in a
/// transaction of their own origin.
fn apply_as_app(doc: &yrs::Doc, gate: &crate::core::gate::SharedGate, update: &[u8]) {
    let limits = crate::core::validate::Limits::default();
    {
        let mut txn = doc.transact_mut_with("app");
        gate.borrow_mut().apply(&mut txn, update, &limits).unwrap();
    }
    gate.borrow_mut().settle(doc, &limits);
}

fn keys(doc: &yrs::Doc) -> Vec<String> {
    let m = doc.get_or_insert_map("m");
    let mut k: Vec<String> = m.keys(&doc.transact()).map(str::to_string).collect();
    k.sort();
    k
}

/// The map keys in the updates the session sent to the server.
fn keys_sent(s: &mut Session, now: u64) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(o) = s.poll_output(now) {
        if let Output::Transmit(f) = o {
            if let Ok(Message::Sync(SyncMessage::Update(u))) =
                <Message as yrs::updates::decoder::Decode>::decode_v1(&f)
            {
                let d = yrs::Doc::new();
                let upd = <yrs::Update as yrs::updates::decoder::Decode>::decode_v1(&u).unwrap();
                d.transact_mut().apply_update(upd).unwrap();
                out.extend(keys(&d));
            }
        }
    }
    out.sort();
    out
}

/// #15: with a gate of its own, a server update past a gap waited until the next server frame
/// even when the app (or storage) brought the missing blocks. One gate per document: it goes in
/// at once, and still as the server's (not sent back), while the app's block is sent.
#[test]
fn a_server_update_past_a_gap_goes_in_as_soon_as_the_app_fills_it() {
    let ups = keyed_updates(2);
    let (doc, mut s, gate) = gated_session();
    s.handle_frame(
        1,
        &frame(&Message::Sync(SyncMessage::Update(ups[1].clone()))),
    );
    assert_eq!(keys(&doc), Vec::<String>::new(), "k1 waits for k0");
    assert_eq!(gate.borrow().held().0, 1);
    apply_as_app(&doc, &gate, &ups[0]);
    assert_eq!(
        keys(&doc),
        ["k0", "k1"],
        "no further server frame was needed"
    );
    assert_eq!(gate.borrow().held(), (0, 0));
    s.handle_timeout(2);
    assert_eq!(
        keys_sent(&mut s, 2),
        ["k0"],
        "the app's change goes up, the server's does not"
    );
}

#[test]
fn an_apps_update_past_a_gap_goes_in_with_the_servers_and_is_still_sent() {
    let ups = keyed_updates(2);
    let (doc, mut s, gate) = gated_session();
    apply_as_app(&doc, &gate, &ups[1]);
    assert_eq!(keys(&doc), Vec::<String>::new());
    s.handle_frame(
        1,
        &frame(&Message::Sync(SyncMessage::Update(ups[0].clone()))),
    );
    assert_eq!(keys(&doc), ["k0", "k1"]);
    s.handle_timeout(2);
    assert_eq!(
        keys_sent(&mut s, 2),
        ["k1"],
        "released under the app's origin, so sent"
    );
}

/// Blocks past a gap from the server are held up to the cap, refused past it with a typed
/// error (the connection stays), and a new connection drops what the last one left held: its
/// sync step 2 brings everything again.
#[test]
fn held_blocks_are_capped_and_re_requested_on_reconnect() {
    let src = yrs::Doc::with_client_id(50);
    let ups: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            let m = src.get_or_insert_map("m");
            let before = src.transact().state_vector();
            m.insert(&mut src.transact_mut(), format!("k{i}"), i as i64);
            src.transact().encode_state_as_update_v1(&before)
        })
        .collect();
    let mut sim = Sim::new(60);
    let mut c = cfg();
    c.limits.max_held_blocks = 2;
    let a = sim.add_client(1, c);
    let gate = crate::core::gate::SharedGate::default();
    sim.clients[a].session.share_gate(gate.clone());
    sim.connect(a);
    sim.run_for(100);
    // k1..k5 arrive without k0: two are held, three refused.
    for u in &ups[1..] {
        let now = sim.now;
        let f = frame(&Message::Sync(SyncMessage::Update(u.clone())));
        sim.clients[a].session.handle_frame(now, &f);
        sim.pump(a);
    }
    let refused = sim.clients[a]
        .events
        .iter()
        .filter(|e| matches!(e, Event::Error(SyncError::HeldLimit { blocks: 1, .. })))
        .count();
    assert_eq!(refused, 3);
    assert_eq!(sim.clients[a].session.status(), Status::Connected);
    let m = sim.clients[a].doc.get_or_insert_map("m");
    assert_eq!(m.len(&sim.clients[a].doc.transact()), 0, "nothing fits yet");
    // The server has all of it; a new connection brings it.
    for u in &ups {
        sim.server
            .doc
            .transact_mut()
            .apply_update(yrs::Update::decode_v1(u).unwrap())
            .unwrap();
    }
    assert_eq!(gate.borrow().held().0, 2);
    sim.disconnect(a);
    sim.connect(a);
    assert_eq!(
        gate.borrow().held(),
        (0, 0),
        "dropped: the new connection sends them"
    );
    sim.run_for(200);
    assert_eq!(m.len(&sim.clients[a].doc.transact()), 6);
}

/// A server update past the document's memory budget is refused with a typed error; the
/// connection stays and the document keeps working.
#[test]
fn an_update_past_the_memory_budget_is_refused_and_the_connection_stays() {
    let mut sim = Sim::new(61);
    let a = sim.add_client(1, cfg());
    let gate = crate::core::gate::SharedGate::default();
    gate.borrow_mut().set_budget(20_000);
    sim.clients[a].session.share_gate(gate.clone());
    sim.connect(a);
    sim.run_for(100);
    let src = yrs::Doc::with_client_id(50);
    let m = src.get_or_insert_map("m");
    {
        let mut txn = src.transact_mut();
        for i in 0..100 {
            m.insert(&mut txn, format!("k{i}"), i as i64);
        }
    }
    let u = src
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let now = sim.now;
    let f = frame(&Message::Sync(SyncMessage::Update(u)));
    sim.clients[a].session.handle_frame(now, &f);
    sim.pump(a);
    assert!(sim.clients[a]
        .events
        .iter()
        .any(|e| matches!(e, Event::Error(SyncError::MemoryBudget(_)))));
    assert_eq!(sim.clients[a].session.status(), Status::Connected);
    assert_eq!(
        sim.clients[a]
            .doc
            .get_or_insert_map("m")
            .len(&sim.clients[a].doc.transact()),
        0
    );
    type_text(&sim.clients[a].doc, 0, "still works");
    sim.run_for(200);
    assert_eq!(server_text(&sim), "still works");
}
