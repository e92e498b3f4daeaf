//! Property tests: the parser is total (never panics, whatever arrives) and
//! ids survive a round trip in every spelling.

use proptest::prelude::*;
use relaybox_proto::*;
use serde_json::Value;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "[0-9a-fA-F]{64}".prop_map(Value::String),
        "[0-9]{1,21}n?".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("jsonrpc".to_string()),
                    Just("method".to_string()),
                    Just("params".to_string()),
                    Just("result".to_string()),
                    Just("error".to_string()),
                    Just("topic".to_string()),
                    Just("topics".to_string()),
                    Just("message".to_string()),
                    Just("ttl".to_string()),
                    ".{0,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Frames that look like real requests, with arbitrary params.
fn arb_frame() -> impl Strategy<Value = Value> {
    let methods: Vec<&'static str> = Method::ALL.iter().map(Method::as_str).collect();
    (
        prop_oneof![
            any::<u64>().prop_map(Value::from),
            "[0-9]{1,20}".prop_map(Value::String)
        ],
        prop::sample::select(methods),
        arb_json(),
    )
        .prop_map(|(id, method, params)| {
            serde_json::json!({"id": id, "jsonrpc": "2.0", "method": method, "params": params})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_incoming_never_panics_on_strings(s in ".*") {
        let _ = parse_incoming(&s, &Limits::default());
        let _ = parse_response(&s);
    }

    #[test]
    fn parse_incoming_never_panics_on_json(v in arb_json()) {
        let text = v.to_string();
        let _ = parse_incoming(&text, &Limits::default());
        let _ = parse_response(&text);
    }

    #[test]
    fn rejections_always_carry_a_known_kind(v in arb_frame()) {
        if let Err(r) = parse_incoming(&v.to_string(), &Limits::default()) {
            prop_assert!(r.kind().is_some(), "{:?}", r);
            let answer: Value = serde_json::from_str(&r.to_json()).unwrap();
            prop_assert_eq!(&answer["jsonrpc"], "2.0");
        }
    }

    /// The fuzz target's invariant: whatever parses re-encodes to a frame
    /// that parses back to the same value.
    #[test]
    fn parsed_frames_re_encode_to_themselves(v in prop_oneof![arb_frame(), arb_json()]) {
        let limits = Limits::default();
        match parse_incoming(&v.to_string(), &limits) {
            Ok(Incoming::Request(r)) => {
                let again = parse_incoming(&r.to_json(), &limits);
                prop_assert_eq!(again, Ok(Incoming::Request(r)));
            }
            Ok(Incoming::Response(r)) => {
                prop_assert_eq!(parse_response(&r.to_json()).unwrap(), r);
            }
            Err(rejected) => prop_assert!(rejected.kind().is_some()),
        }
    }

    #[test]
    fn publish_requests_round_trip(
        id in any::<u64>().prop_map(|n| n.max(1)),
        string_id in any::<bool>(),
        message in ".{0,64}",
        ttl in 10u32..=2_592_000,
        tag in any::<u32>(),
        prompt in any::<bool>(),
        attestation in proptest::option::of(".{0,16}"),
        topic in any::<[u8; 32]>(),
    ) {
        let id = if string_id { RequestId::String(id) } else { RequestId::Number(id) };
        let params = Params::Publish(PublishParams {
            topic: Topic::from_bytes(topic), message, ttl, tag, prompt, attestation,
        });
        let request = Request::new(id, params);
        let parsed = parse_incoming(&request.to_json(), &Limits::default());
        prop_assert_eq!(parsed, Ok(Incoming::Request(request)));
    }

    #[test]
    fn numeric_ids_round_trip(n in any::<u64>()) {
        let json = n.to_string();
        let id = RequestId::from_json(&json).unwrap();
        prop_assert_eq!(&id, &RequestId::Number(n));
        prop_assert_eq!(serde_json::to_string(&id).unwrap(), json);
    }

    #[test]
    fn string_ids_round_trip(n in any::<u64>(), zeros in 0usize..3, bigint in any::<bool>()) {
        let text = format!("{}{n}{}", "0".repeat(zeros), if bigint { "n" } else { "" });
        let json = format!("\"{text}\"");
        let id = RequestId::from_json(&json).unwrap();
        prop_assert_eq!(id.value(), n);
        prop_assert_eq!(serde_json::to_string(&id).unwrap(), json.clone());
        prop_assert_eq!(id.to_json(), json.clone());
        // The echo in a result frame is the same text.
        let frame = result_frame(&id, &true);
        let expected_prefix = format!("{{\"id\":{json},");
        prop_assert!(frame.starts_with(&expected_prefix));
        // And a response carrying it parses back to the same id.
        prop_assert_eq!(parse_response(&frame).unwrap().id, id);
    }
}
