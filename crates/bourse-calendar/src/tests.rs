use bourse_core::{Session, UnixNanos};
use jiff::Timestamp;

use crate::{Calendar, CalendarConfig, CalendarError, Date, TradingDay, VirtualClock, parse_date};

const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;

/// An RFC 3339 instant with offset.
fn at(s: &str) -> UnixNanos {
    let ts: Timestamp = s.parse().unwrap();
    UnixNanos::new(u64::try_from(ts.as_nanosecond()).unwrap())
}

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

fn enabled() -> CalendarConfig {
    CalendarConfig {
        enabled: true,
        ..CalendarConfig::default()
    }
}

fn cal(cfg: &CalendarConfig) -> Calendar {
    Calendar::new(cfg, at("2026-01-01T00:00:00Z")).unwrap()
}

fn minus_1ns(t: UnixNanos) -> UnixNanos {
    UnixNanos::new(t.get() - 1)
}

/// Checks each boundary of a regular day: the session just before it and at it.
fn assert_day(c: &Calendar, day: &str, offset: &str) {
    let expected = [
        ("04:00", Session::Closed, Session::PreMarket),
        ("09:25", Session::PreMarket, Session::OpeningCall),
        ("09:30", Session::OpeningCall, Session::Continuous),
        ("15:50", Session::Continuous, Session::ClosingCall),
        ("16:00", Session::ClosingCall, Session::AfterHours),
        ("20:00", Session::AfterHours, Session::Closed),
    ];
    assert_eq!(
        c.session_at(at(&format!("{day}T00:00:00{offset}"))),
        Session::Closed
    );
    assert_eq!(
        c.session_at(at(&format!("{day}T23:59:59{offset}"))),
        Session::Closed
    );
    for (time, before, after) in expected {
        let t = at(&format!("{day}T{time}:00{offset}"));
        assert_eq!(
            c.session_at(minus_1ns(t)),
            before,
            "{day} just before {time}"
        );
        assert_eq!(c.session_at(t), after, "{day} at {time}");
        assert_eq!(
            c.next_transition(minus_1ns(t)),
            Some((t, after)),
            "{day} {time}"
        );
        assert_eq!(c.rfc3339(t), format!("{day}T{time}:00{offset}"));
    }
}

#[test]
fn sessions_on_a_winter_and_a_summer_weekday() {
    let c = cal(&enabled());
    assert_day(&c, "2026-12-07", "-05:00");
    assert_day(&c, "2026-07-07", "-04:00");
    // The same local open is a different UTC instant in each half of the year.
    assert_eq!(at("2026-12-07T09:30:00-05:00"), at("2026-12-07T14:30:00Z"));
    assert_eq!(
        c.session_at(at("2026-07-07T13:30:00Z")),
        Session::Continuous
    );
    assert_eq!(c.session_at(at("2026-12-07T13:30:00Z")), Session::PreMarket);
}

#[test]
fn a_week_of_transitions_skips_the_weekend() {
    let c = cal(&enabled());
    let mut expected = Vec::new();
    for day in 7..=11 {
        for (time, session) in [
            ("04:00", Session::PreMarket),
            ("09:25", Session::OpeningCall),
            ("09:30", Session::Continuous),
            ("15:50", Session::ClosingCall),
            ("16:00", Session::AfterHours),
            ("20:00", Session::Closed),
        ] {
            expected.push((at(&format!("2026-12-{day:02}T{time}:00-05:00")), session));
        }
    }
    expected.push((at("2026-12-14T04:00:00-05:00"), Session::PreMarket));

    let mut t = at("2026-12-07T00:00:00-05:00");
    let mut walked = Vec::new();
    while walked.len() < expected.len() {
        let (next, session) = c.next_transition(t).unwrap();
        assert!(next > t);
        walked.push((next, session));
        t = next;
    }
    assert_eq!(walked, expected);
    // Saturday and Sunday are closed all day.
    for hour in [0, 4, 10, 12, 16, 19, 23] {
        for day in ["2026-12-12", "2026-12-13"] {
            let t = at(&format!("{day}T{hour:02}:00:00-05:00"));
            assert_eq!(c.session_at(t), Session::Closed, "{day} {hour}");
            assert!(!c.is_open(t));
        }
    }
}

#[test]
fn is_open_means_regular_hours() {
    let c = cal(&enabled());
    let cases = [
        ("03:59", false),
        ("04:00", false),
        ("09:29", false),
        ("09:30", true),
        ("15:50", true),
        ("15:59", true),
        ("16:00", false),
        ("20:00", false),
    ];
    for (time, open) in cases {
        assert_eq!(
            c.is_open(at(&format!("2026-12-08T{time}:00-05:00"))),
            open,
            "{time}"
        );
    }
}

#[test]
fn a_holiday_is_closed_all_day() {
    let cfg = CalendarConfig {
        holidays: vec!["2026-12-25".into()],
        ..enabled()
    };
    let c = cal(&cfg);
    assert!(!c.is_trading_day(date("2026-12-25")));
    assert!(c.is_trading_day(date("2026-12-24")));
    for hour in [0, 4, 9, 10, 15, 16, 19, 23] {
        let t = at(&format!("2026-12-25T{hour:02}:30:00-05:00"));
        assert_eq!(c.session_at(t), Session::Closed, "{hour}");
    }
    let thursday_evening = at("2026-12-24T16:30:00-05:00");
    assert_eq!(
        c.next_open(thursday_evening),
        Some(at("2026-12-28T09:30:00-05:00"))
    );
    assert_eq!(
        c.next_close(thursday_evening),
        Some(at("2026-12-28T16:00:00-05:00"))
    );
    assert_eq!(
        c.next_transition(thursday_evening),
        Some((at("2026-12-24T20:00:00-05:00"), Session::Closed))
    );
    assert_eq!(
        c.next_transition(at("2026-12-24T20:00:00-05:00")),
        Some((at("2026-12-28T04:00:00-05:00"), Session::PreMarket))
    );
    // Without the holiday, Friday trades.
    let plain = cal(&enabled());
    assert_eq!(
        plain.next_open(thursday_evening),
        Some(at("2026-12-25T09:30:00-05:00"))
    );
}

#[test]
fn next_open_and_close_are_strictly_after() {
    let c = cal(&enabled());
    let open = at("2026-12-08T09:30:00-05:00");
    let close = at("2026-12-08T16:00:00-05:00");
    assert_eq!(c.next_open(minus_1ns(open)), Some(open));
    assert_eq!(c.next_open(open), Some(at("2026-12-09T09:30:00-05:00")));
    assert_eq!(c.next_close(open), Some(close));
    assert_eq!(c.next_close(close), Some(at("2026-12-09T16:00:00-05:00")));
    // Friday after the close: Monday.
    let friday = at("2026-12-11T16:00:00-05:00");
    assert_eq!(c.next_open(friday), Some(at("2026-12-14T09:30:00-05:00")));
    assert_eq!(c.next_close(friday), Some(at("2026-12-14T16:00:00-05:00")));
    // Late Sunday in UTC is still Sunday in New York.
    assert_eq!(
        c.next_open(at("2026-12-14T03:00:00Z")),
        Some(at("2026-12-14T14:30:00Z"))
    );
}

#[test]
fn dst_changes_move_the_utc_instants() {
    let c = cal(&enabled());
    // Spring forward on Sunday 2026-03-08: Friday opens at 14:30Z, Monday at 13:30Z.
    assert_eq!(
        c.next_open(at("2026-03-06T00:00:00Z")),
        Some(at("2026-03-06T14:30:00Z"))
    );
    assert_eq!(
        c.next_open(at("2026-03-06T14:30:00Z")),
        Some(at("2026-03-09T13:30:00Z"))
    );
    assert_eq!(
        c.rfc3339(at("2026-03-09T13:30:00Z")),
        "2026-03-09T09:30:00-04:00"
    );
    assert_eq!(
        c.next_transition(at("2026-03-06T20:00:00-05:00")),
        Some((at("2026-03-09T08:00:00Z"), Session::PreMarket))
    );
    // Fall back on Sunday 2026-11-01: Friday opens at 13:30Z, Monday at 14:30Z.
    assert_eq!(
        c.next_open(at("2026-10-30T00:00:00Z")),
        Some(at("2026-10-30T13:30:00Z"))
    );
    assert_eq!(
        c.next_open(at("2026-10-30T13:30:00Z")),
        Some(at("2026-11-02T14:30:00Z"))
    );
    assert_eq!(
        c.next_close(at("2026-10-30T21:00:00Z")),
        Some(at("2026-11-02T21:00:00Z"))
    );
}

#[test]
fn times_inside_a_dst_change_resolve_compatibly() {
    // Sunday trades, and pre-market starts inside the change of each DST day.
    let spring = CalendarConfig {
        weekend: vec!["saturday".into()],
        pre_market: "02:30".into(),
        ..enabled()
    };
    let c = cal(&spring);
    // 02:30 does not exist on 2026-03-08: it resolves to 03:30 EDT (07:30Z).
    assert_eq!(c.session_at(at("2026-03-08T07:29:59Z")), Session::Closed);
    assert_eq!(c.session_at(at("2026-03-08T07:30:00Z")), Session::PreMarket);
    assert_eq!(
        c.next_transition(at("2026-03-08T05:00:00Z")),
        Some((at("2026-03-08T07:30:00Z"), Session::PreMarket))
    );
    let fall = CalendarConfig {
        weekend: vec!["saturday".into()],
        pre_market: "01:30".into(),
        ..enabled()
    };
    let c = cal(&fall);
    // 01:30 happens twice on 2026-11-01: the first one (EDT, 05:30Z) counts.
    assert_eq!(c.session_at(at("2026-11-01T05:29:59Z")), Session::Closed);
    assert_eq!(c.session_at(at("2026-11-01T05:30:00Z")), Session::PreMarket);
    assert_eq!(c.session_at(at("2026-11-01T06:30:00Z")), Session::PreMarket);
    assert_eq!(
        c.rfc3339(at("2026-11-01T05:30:00Z")),
        "2026-11-01T01:30:00-04:00"
    );
    assert_eq!(
        c.rfc3339(at("2026-11-01T06:30:00Z")),
        "2026-11-01T01:30:00-05:00"
    );
    // The open that Sunday is 09:30 EST.
    assert_eq!(
        c.next_open(at("2026-11-01T05:30:00Z")),
        Some(at("2026-11-01T14:30:00Z"))
    );
}

#[test]
fn days_lists_only_trading_days() {
    let cfg = CalendarConfig {
        holidays: vec!["2026-12-25".into()],
        ..enabled()
    };
    let c = cal(&cfg);
    let days = c.days(date("2026-12-20"), date("2026-12-31"));
    let dates: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(
        dates,
        [
            "2026-12-21",
            "2026-12-22",
            "2026-12-23",
            "2026-12-24",
            "2026-12-28",
            "2026-12-29",
            "2026-12-30",
            "2026-12-31"
        ]
    );
    assert_eq!(
        days[0],
        TradingDay {
            date: "2026-12-21".into(),
            open: "09:30".into(),
            close: "16:00".into(),
            session_open: "0400".into(),
            session_close: "2000".into(),
        }
    );
    assert_eq!(
        serde_json::to_string(&days[0]).unwrap(),
        r#"{"date":"2026-12-21","open":"09:30","close":"16:00","session_open":"0400","session_close":"2000"}"#
    );
    // Inclusive at both ends, empty when reversed or all weekend.
    assert_eq!(c.days(date("2026-12-21"), date("2026-12-21")).len(), 1);
    assert!(c.days(date("2026-12-22"), date("2026-12-21")).is_empty());
    assert!(c.days(date("2026-12-26"), date("2026-12-27")).is_empty());
    // At most 1000 days are walked.
    let long = c.days(date("2020-01-01"), date("2030-01-01"));
    assert_eq!(long.first().unwrap().date, "2020-01-01");
    let last = date(&long.last().unwrap().date);
    assert!(last < date("2022-09-27"), "{last}");
    assert!(last >= date("2022-09-20"), "{last}");
    assert!((710..=715).contains(&long.len()), "{}", long.len());
}

#[test]
fn rfc3339_keeps_fractions_only_when_present() {
    let c = cal(&enabled());
    assert_eq!(
        c.rfc3339(at("2026-12-07T14:30:00Z")),
        "2026-12-07T09:30:00-05:00"
    );
    assert_eq!(
        c.rfc3339(at("2026-12-07T14:30:00.5Z")),
        "2026-12-07T09:30:00.5-05:00"
    );
    assert_eq!(c.date_at(at("2026-12-08T03:00:00Z")), date("2026-12-07"));
}

fn error(cfg: CalendarConfig) -> CalendarError {
    Calendar::new(&cfg, at("2026-01-01T00:00:00Z")).unwrap_err()
}

#[test]
fn each_bad_key_is_named() {
    let e = error(CalendarConfig {
        time_zone: "Mars/Olympus_Mons".into(),
        ..enabled()
    });
    assert_eq!(e, CalendarError::TimeZone("Mars/Olympus_Mons".into()));
    assert_eq!(
        e.to_string(),
        "calendar.time_zone: \"Mars/Olympus_Mons\" is not a known IANA time zone"
    );

    type Setter = fn(&mut CalendarConfig, String);
    let setters: [(&str, Setter); 7] = [
        ("pre_market", |c, v| c.pre_market = v),
        ("opening_call", |c, v| c.opening_call = v),
        ("open", |c, v| c.open = v),
        ("closing_call", |c, v| c.closing_call = v),
        ("close", |c, v| c.close = v),
        ("after_hours_end", |c, v| c.after_hours_end = v),
        ("start_at", |c, v| c.start_at = v),
    ];
    for (key, set) in setters {
        for bad in [
            "9h30", "9:30", "24:00", "12:60", "", "12:3a", "+1:30", "12:300",
        ] {
            if key == "start_at" && bad.is_empty() {
                continue; // empty start_at means "none"
            }
            let mut cfg = enabled();
            set(&mut cfg, bad.into());
            let e = error(cfg);
            assert_eq!(
                e,
                CalendarError::Time {
                    key,
                    value: bad.into()
                }
            );
            assert_eq!(
                e.to_string(),
                format!("calendar.{key}: {bad:?} is not HH:MM")
            );
        }
    }

    let e = error(CalendarConfig {
        open: "09:25".into(),
        ..enabled()
    });
    assert_eq!(
        e.to_string(),
        "calendar.open (09:25) must be after calendar.opening_call (09:25)"
    );
    let e = error(CalendarConfig {
        after_hours_end: "15:00".into(),
        ..enabled()
    });
    assert!(matches!(
        e,
        CalendarError::Order {
            earlier: "close",
            later: "after_hours_end",
            ..
        }
    ));
    let e = error(CalendarConfig {
        pre_market: "10:00".into(),
        ..enabled()
    });
    assert!(matches!(
        e,
        CalendarError::Order {
            earlier: "pre_market",
            later: "opening_call",
            ..
        }
    ));

    let e = error(CalendarConfig {
        weekend: vec!["sunday".into(), "funday".into()],
        ..enabled()
    });
    assert_eq!(e, CalendarError::Weekday("funday".into()));
    assert!(e.to_string().starts_with("calendar.weekend: \"funday\""));
    let all = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "Sunday",
    ];
    let e = error(CalendarConfig {
        weekend: all.map(String::from).to_vec(),
        ..enabled()
    });
    assert_eq!(e, CalendarError::NoTradingWeekday);

    for bad in [
        "2026-13-01",
        "12/25/2026",
        "2026-02-30",
        "2026-1-05",
        "20261225",
    ] {
        let e = error(CalendarConfig {
            holidays: vec!["2026-12-25".into(), bad.into()],
            ..enabled()
        });
        assert_eq!(e, CalendarError::Holiday(bad.into()));
        assert_eq!(
            e.to_string(),
            format!("calendar.holidays: {bad:?} is not a YYYY-MM-DD date")
        );
    }

    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 100_000.5, 1e-12] {
        let e = error(CalendarConfig {
            speed: bad,
            ..enabled()
        });
        assert!(matches!(e, CalendarError::Speed(_)), "{bad}");
        assert!(e.to_string().starts_with("calendar.speed: "), "{e}");
    }
    // The bounds themselves are fine, and names take any case.
    for speed in [100_000.0, 0.001] {
        Calendar::new(&CalendarConfig { speed, ..enabled() }, UnixNanos::ZERO).unwrap();
    }
    let c = cal(&CalendarConfig {
        weekend: vec!["SATURDAY".into()],
        ..enabled()
    });
    assert!(c.is_trading_day(date("2026-12-13")));
    assert!(!c.is_trading_day(date("2026-12-12")));
}

#[test]
fn an_empty_weekend_trades_every_day() {
    let c = cal(&CalendarConfig {
        weekend: Vec::new(),
        ..enabled()
    });
    assert_eq!(
        c.session_at(at("2026-12-13T10:00:00-05:00")),
        Session::Continuous
    );
}

#[test]
fn dates_parse_strictly() {
    assert_eq!(parse_date("2026-12-25").unwrap(), date("2026-12-25"));
    for bad in [
        "2026-12-25T00:00",
        "2026-12-32",
        "26-12-25",
        " 2026-12-25",
        "20261225",
    ] {
        assert_eq!(parse_date(bad), Err(CalendarError::Date(bad.into())));
    }
    assert_eq!(
        parse_date("x").unwrap_err().to_string(),
        "\"x\" is not a YYYY-MM-DD date"
    );
}

#[test]
fn config_deserializes_with_defaults_and_rejects_unknown_keys() {
    let cfg: CalendarConfig = toml::from_str("enabled = true\nopen = \"09:31\"").unwrap();
    assert_eq!(
        cfg,
        CalendarConfig {
            open: "09:31".into(),
            ..enabled()
        }
    );
    assert_eq!(cfg.weekend, ["saturday", "sunday"]);
    assert!((cfg.speed - 1.0).abs() < f64::EPSILON);
    assert!(toml::from_str::<CalendarConfig>("opne = \"09:31\"").is_err());
}

#[test]
fn build_skips_a_disabled_calendar() {
    let off = CalendarConfig {
        time_zone: "Nowhere".into(),
        ..CalendarConfig::default()
    };
    assert!(off.build(UnixNanos::ZERO).unwrap().is_none());
    assert!(enabled().build(UnixNanos::ZERO).unwrap().is_some());
    assert!(
        CalendarConfig {
            time_zone: "Nowhere".into(),
            ..enabled()
        }
        .build(UnixNanos::ZERO)
        .is_err()
    );
}

#[test]
fn virtual_clock_at_speed_60() {
    let real = at("2026-06-01T12:00:00Z");
    let cal_anchor = at("2026-06-02T09:00:00-04:00");
    let clock = VirtualClock::new(real, cal_anchor, 60.0).unwrap();
    assert!(!clock.is_identity());
    assert_eq!(clock.to_calendar(real), cal_anchor);
    assert_eq!(
        clock.to_calendar(UnixNanos::new(real.get() + SECOND)),
        UnixNanos::new(cal_anchor.get() + MINUTE)
    );
    assert_eq!(
        clock.to_real(UnixNanos::new(cal_anchor.get() + MINUTE)),
        UnixNanos::new(real.get() + SECOND)
    );
    // An hour of calendar time is a real minute.
    assert_eq!(
        clock.to_real(at("2026-06-02T10:00:00-04:00")),
        at("2026-06-01T12:01:00Z")
    );
    // Before the anchor too.
    assert_eq!(
        clock.to_calendar(UnixNanos::new(real.get() - SECOND)),
        UnixNanos::new(cal_anchor.get() - MINUTE)
    );
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..1000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = UnixNanos::new(real.get() - 1_000 * SECOND + (x >> 20) % (2_000 * SECOND));
        let c = clock.to_calendar(r);
        assert_eq!(clock.to_real(c), r);
        assert_eq!(
            i128::from(c.get()) - i128::from(cal_anchor.get()),
            60 * (i128::from(r.get()) - i128::from(real.get()))
        );
    }
}

#[test]
fn virtual_clock_rounding() {
    let anchor = UnixNanos::new(1_000 * SECOND);
    // 1.5: to_calendar rounds down, to_real rounds up.
    let clock = VirtualClock::new(anchor, anchor, 1.5).unwrap();
    assert_eq!(
        clock.to_calendar(UnixNanos::new(anchor.get() + 1)),
        UnixNanos::new(anchor.get() + 1)
    );
    assert_eq!(
        clock.to_real(UnixNanos::new(anchor.get() + 2)),
        UnixNanos::new(anchor.get() + 2)
    );
    assert_eq!(
        clock.to_real(UnixNanos::new(anchor.get() + 3)),
        UnixNanos::new(anchor.get() + 2)
    );
    // 0.5: several real instants share a calendar one; to_real gives the earliest.
    let slow = VirtualClock::new(anchor, anchor, 0.5).unwrap();
    for d in 0..10 {
        let c = UnixNanos::new(anchor.get() + d);
        let r = slow.to_real(c);
        assert!(slow.to_calendar(r) >= c);
        assert!(slow.to_calendar(UnixNanos::new(r.get() - 1)) < c);
    }
    // Clamped at the ends of UnixNanos.
    let fast = VirtualClock::new(
        UnixNanos::new(u64::MAX / 2),
        UnixNanos::new(u64::MAX / 2),
        100_000.0,
    )
    .unwrap();
    assert_eq!(
        fast.to_calendar(UnixNanos::new(u64::MAX)),
        UnixNanos::new(u64::MAX)
    );
    assert_eq!(fast.to_calendar(UnixNanos::ZERO), UnixNanos::ZERO);
    let id = VirtualClock::identity();
    assert!(id.is_identity());
    assert_eq!(id.to_calendar(anchor), anchor);
    assert_eq!(id.to_real(anchor), anchor);
}

fn anchored(start_at: &str, speed: f64, holidays: &[&str], now: &str) -> Calendar {
    let cfg = CalendarConfig {
        start_at: start_at.into(),
        speed,
        holidays: holidays.iter().map(|h| (*h).to_owned()).collect(),
        ..enabled()
    };
    Calendar::new(&cfg, at(now)).unwrap()
}

#[test]
fn start_at_anchors_on_the_next_trading_day() {
    // Wednesday before 09:00: today.
    let c = anchored("09:00", 60.0, &[], "2026-12-09T08:00:00-05:00");
    assert_eq!(c.clock().cal_anchor(), at("2026-12-09T09:00:00-05:00"));
    assert_eq!(c.clock().real_anchor(), at("2026-12-09T08:00:00-05:00"));
    assert_eq!(
        c.now(at("2026-12-09T08:00:00-05:00")),
        at("2026-12-09T09:00:00-05:00")
    );
    assert_eq!(
        c.now(at("2026-12-09T08:00:30-05:00")),
        at("2026-12-09T09:30:00-05:00")
    );
    assert!(c.is_open(c.now(at("2026-12-09T08:00:30-05:00"))));
    // Exactly at 09:00: still today.
    let c = anchored("09:00", 60.0, &[], "2026-12-09T09:00:00-05:00");
    assert_eq!(c.clock().cal_anchor(), at("2026-12-09T09:00:00-05:00"));
    // Wednesday after 09:00: Thursday.
    let c = anchored("09:00", 60.0, &[], "2026-12-09T10:00:00-05:00");
    assert_eq!(c.clock().cal_anchor(), at("2026-12-10T09:00:00-05:00"));
    // Saturday: Monday; with Monday a holiday: Tuesday.
    let c = anchored("09:00", 60.0, &[], "2026-12-12T08:00:00-05:00");
    assert_eq!(c.clock().cal_anchor(), at("2026-12-14T09:00:00-05:00"));
    let c = anchored("09:00", 60.0, &["2026-12-14"], "2026-12-12T08:00:00-05:00");
    assert_eq!(c.clock().cal_anchor(), at("2026-12-15T09:00:00-05:00"));
    // Friday evening, as a UTC Saturday: Monday.
    let c = anchored("03:55", 1.0, &[], "2026-12-12T02:00:00Z");
    assert_eq!(c.clock().cal_anchor(), at("2026-12-14T03:55:00-05:00"));
    // Speed 1 with start_at: the calendar jumps, then runs at real speed.
    assert!(!c.clock().is_identity());
    assert_eq!(
        c.now(at("2026-12-12T02:01:00Z")),
        at("2026-12-14T03:56:00-05:00")
    );
    // A speed without start_at runs from the present.
    let c = anchored("", 60.0, &[], "2026-12-09T10:00:00-05:00");
    assert_eq!(c.clock().cal_anchor(), at("2026-12-09T10:00:00-05:00"));
    assert_eq!(
        c.now(at("2026-12-09T10:00:01-05:00")),
        at("2026-12-09T10:01:00-05:00")
    );
    // The default is the identity.
    let c = anchored("", 1.0, &[], "2026-12-09T10:00:00-05:00");
    assert!(c.clock().is_identity());
    let t = at("2027-05-05T05:05:05.5Z");
    assert_eq!(c.now(t), t);
}

/// A small deterministic generator (no proptest needed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 16) % n
    }
}

/// `next_transition`, `next_open` and `next_close` agree with `session_at` minute by minute
/// (every configured time is a whole minute, and so is every New York offset).
/// With `regular`, the open and close instants also start continuous trading and
/// after-hours.
fn check_consistency(
    c: &Calendar,
    from: &str,
    span_days: u64,
    samples: usize,
    seed: u64,
    regular: bool,
) {
    let start = at(from);
    let mut rng = Lcg(seed);
    for _ in 0..samples {
        let t = UnixNanos::new(start.get() + rng.below(span_days * 86_400 * SECOND));
        let current = c.session_at(t);
        let (next, session) = c.next_transition(t).unwrap();
        assert!(next > t);
        assert_ne!(session, current, "at {}", c.rfc3339(t));
        assert_eq!(c.session_at(next), session);
        assert_eq!(
            c.session_at(minus_1ns(next)),
            current,
            "before {}",
            c.rfc3339(next)
        );
        let mut m = t.floor_minute().get() + MINUTE;
        while m < next.get() {
            assert_eq!(
                c.session_at(UnixNanos::new(m)),
                current,
                "{}",
                c.rfc3339(UnixNanos::new(m))
            );
            m += MINUTE;
        }
        let open = c.next_open(t).unwrap();
        let close = c.next_close(t).unwrap();
        assert!(open > t && close > t);
        assert!(c.is_trading_day(c.date_at(open)) && c.is_trading_day(c.date_at(close)));
        if regular {
            assert_eq!(c.session_at(open), Session::Continuous);
            assert_eq!(c.session_at(close), Session::AfterHours);
            // Nothing earlier qualifies: the open before it is not after t.
            assert!(c.next_open(minus_1ns(open)) == Some(open));
            let day_before = UnixNanos::new(open.get() - 86_400 * SECOND);
            assert!(c.next_open(day_before).is_some_and(|o| o <= t || o == open));
        }
    }
}

#[test]
fn randomized_consistency() {
    let cfg = CalendarConfig {
        holidays: vec!["2026-03-09".into(), "2026-11-02".into()],
        ..enabled()
    };
    let c = cal(&cfg);
    check_consistency(&c, "2026-02-25T00:00:00Z", 20, 150, 1, true);
    check_consistency(&c, "2026-10-22T00:00:00Z", 20, 150, 2, true);
    // Every day trades, with times around the small-hours DST changes: on 2026-03-08 the
    // opening call (02:30, skipped) resolves to 03:30 EDT, after the open at 03:10 EDT.
    let odd = CalendarConfig {
        weekend: Vec::new(),
        pre_market: "01:00".into(),
        opening_call: "02:30".into(),
        open: "03:10".into(),
        closing_call: "03:20".into(),
        close: "03:40".into(),
        after_hours_end: "23:59".into(),
        ..enabled()
    };
    let c = cal(&odd);
    check_consistency(&c, "2026-03-06T00:00:00Z", 4, 150, 3, false);
    check_consistency(&c, "2026-03-08T05:00:00Z", 1, 150, 5, false);
    // The skipped times land out of order; the transitions still come in time order.
    let mut t = at("2026-03-08T05:00:00Z");
    let mut walked = Vec::new();
    for _ in 0..6 {
        let (next, session) = c.next_transition(t).unwrap();
        walked.push((c.rfc3339(next), session));
        t = next;
    }
    let expected = [
        ("2026-03-08T01:00:00-05:00", Session::PreMarket),
        ("2026-03-08T03:10:00-04:00", Session::Continuous),
        ("2026-03-08T03:20:00-04:00", Session::ClosingCall),
        ("2026-03-08T03:30:00-04:00", Session::OpeningCall),
        ("2026-03-08T03:40:00-04:00", Session::AfterHours),
        ("2026-03-08T23:59:00-04:00", Session::Closed),
    ];
    assert_eq!(walked, expected.map(|(s, session)| (s.to_owned(), session)));
    check_consistency(&c, "2026-10-30T00:00:00Z", 4, 150, 4, false);
}
