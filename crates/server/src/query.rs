//! URL query strings (`application/x-www-form-urlencoded`), decoded once for
//! both the WebSocket handshake (`auth`, `projectId`, `useOnCloseEvent`) and
//! the attestation routes. Invalid percent escapes stay literal and invalid
//! UTF-8 is replaced: a query never makes a request fail by itself.

/// Decoded `key=value` pairs, in order.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The first value of `key`, if present.
pub fn query_get<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_and_keeps_bad_escapes_literal() {
        assert_eq!(
            parse_query("a=1&b=%2Fx%zz&c&ua=wc-2%2Fjs&e=%E2%9C%93&f=%+1&g=%41"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "/x%zz".into()),
                ("c".into(), "".into()),
                ("ua".into(), "wc-2/js".into()),
                ("e".into(), "\u{2713}".into()),
                ("f".into(), "% 1".into()),
                ("g".into(), "A".into()),
            ]
        );
        assert_eq!(parse_query("t=%4"), vec![("t".into(), "%4".into())]);
        assert_eq!(parse_query("x=%ff"), vec![("x".into(), "\u{fffd}".into())]);
        assert_eq!(query_get(&parse_query("a=1&a=2"), "a"), Some("1"));
    }
}
