//! Strict unpadded base64url, as JWS compact serialization requires.
//!
//! A lenient decoder would let one token be written many ways (with padding,
//! with `+`/`/`, with stray low bits in the last character). Refusing all of
//! those keeps exactly one spelling per token, and classifying the failure
//! tells client developers what their encoder got wrong.

use base64::{
    alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    DecodeError, Engine,
};

use crate::{Error, Result, Segment};

/// URL-safe alphabet, no padding on encode, padding forbidden on decode,
/// and non-zero trailing bits refused so every byte string has one encoding.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes bytes as unpadded base64url.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    ENGINE.encode(bytes)
}

/// Decodes one JWT segment, refusing anything but canonical unpadded
/// base64url and saying precisely why.
pub(crate) fn decode(text: &str, segment: Segment) -> Result<Vec<u8>> {
    // Classify by character first: the decoder would report all of these as
    // one generic "invalid byte", which is useless to a client developer.
    if text.contains('=') {
        return Err(Error::Base64Padding { segment });
    }
    if text.contains(['+', '/']) {
        return Err(Error::Base64StandardAlphabet { segment });
    }
    if !text
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(Error::Base64InvalidChar { segment });
    }
    ENGINE.decode(text).map_err(|err| match err {
        DecodeError::InvalidLastSymbol(..) => Error::Base64NonCanonical { segment },
        DecodeError::InvalidLength(_) => Error::Base64Length { segment },
        // Unreachable after the character screen, but mapped rather than
        // panicking so a future base64 release cannot turn into a crash.
        DecodeError::InvalidByte(..) | DecodeError::InvalidPadding => {
            Error::Base64InvalidChar { segment }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Segment = Segment::Payload;

    #[test]
    fn round_trips_all_lengths() {
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let text = encode(&data);
            assert!(!text.contains('='));
            assert_eq!(decode(&text, S).unwrap(), data);
        }
    }

    #[test]
    fn classifies_failures() {
        assert_eq!(
            decode("eyJ9==", S),
            Err(Error::Base64Padding { segment: S })
        );
        assert_eq!(
            decode("a+b/", S),
            Err(Error::Base64StandardAlphabet { segment: S })
        );
        assert_eq!(
            decode("ab cd", S),
            Err(Error::Base64InvalidChar { segment: S })
        );
        assert_eq!(
            decode("abc\n", S),
            Err(Error::Base64InvalidChar { segment: S })
        );
        assert_eq!(decode("abcde", S), Err(Error::Base64Length { segment: S }));
        // "QQ" is "A"; "QR" carries the same byte with a stray low bit.
        assert_eq!(decode("QQ", S).unwrap(), b"A");
        assert_eq!(
            decode("QR", S),
            Err(Error::Base64NonCanonical { segment: S })
        );
    }
}
