//! Feeds arbitrary UTF-8 to the frame parsers. Beyond "never panics", it
//! checks that whatever parses re-encodes to a frame that parses back to the
//! same value, and that every rejection names a known wire error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relaybox_proto::{parse_incoming, parse_response, Incoming, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    match parse_incoming(text, &limits) {
        Ok(Incoming::Request(request)) => {
            let again = parse_incoming(&request.to_json(), &limits);
            assert_eq!(again, Ok(Incoming::Request(request)));
        }
        Ok(Incoming::Response(response)) => {
            assert_eq!(parse_response(text).ok().as_ref(), Some(&response));
        }
        Err(rejected) => {
            assert!(rejected.kind().is_some(), "{rejected:?}");
            assert!(!rejected.to_json().is_empty());
        }
    }
    let _ = parse_response(text);
});
