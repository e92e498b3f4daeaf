//! `did:pkh` identifiers: blockchain accounts as DIDs.
//!
//! Notify JWTs name the account a request is about as
//! `did:pkh:<namespace>:<reference>:<address>`, which is `did:pkh:` followed
//! by a CAIP-10 account id. Parsing validates each CAIP part against its
//! grammar so that account ids used as database keys have one spelling per
//! character set, and for `eip155` (Ethereum and its relatives) it also
//! insists on a decimal chain id and a `0x` + 40-hex-digit address, because
//! that is the only form wallets produce. EIP-55 checksum case is not
//! verified: it is advisory and wallets disagree about emitting it.

use std::fmt;

use crate::{Error, Result};

/// Everything before the CAIP-10 account id.
const PREFIX: &str = "did:pkh:";

/// A parsed `did:pkh`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DidPkh {
    /// CAIP-2 namespace, e.g. `eip155` or `solana`.
    pub namespace: String,
    /// CAIP-2 chain reference within the namespace, e.g. `1`.
    pub reference: String,
    /// The account address on that chain, e.g. `0xab16...`.
    pub address: String,
}

impl DidPkh {
    /// Parses and validates a `did:pkh` string.
    pub fn parse(s: &str) -> Result<Self> {
        let account = s.strip_prefix(PREFIX).ok_or(Error::DidPkhMethod)?;
        let mut parts = account.split(':');
        let (Some(namespace), Some(reference), Some(address), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::DidPkhFormat);
        };
        if !valid_namespace(namespace) {
            return Err(Error::DidPkhNamespace);
        }
        if !valid_reference(reference) {
            return Err(Error::DidPkhReference);
        }
        if !valid_address(address) {
            return Err(Error::DidPkhAddress);
        }
        if namespace == "eip155" {
            if !valid_eip155_chain_id(reference) {
                return Err(Error::DidPkhReference);
            }
            if !valid_eip155_address(address) {
                return Err(Error::DidPkhEip155Address);
            }
        }
        Ok(DidPkh {
            namespace: namespace.to_owned(),
            reference: reference.to_owned(),
            address: address.to_owned(),
        })
    }

    /// The CAIP-10 account id, i.e. this DID without `did:pkh:`.
    pub fn account_id(&self) -> String {
        format!("{}:{}:{}", self.namespace, self.reference, self.address)
    }
}

impl fmt::Display for DidPkh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}:{}:{}",
            self.namespace, self.reference, self.address
        )
    }
}

impl std::str::FromStr for DidPkh {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DidPkh::parse(s)
    }
}

/// CAIP-2 namespace: `[-a-z0-9]{3,8}`.
fn valid_namespace(s: &str) -> bool {
    (3..=8).contains(&s.len())
        && s.bytes()
            .all(|c| c == b'-' || c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// CAIP-2 reference: `[-_a-zA-Z0-9]{1,32}`.
fn valid_reference(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|c| c == b'-' || c == b'_' || c.is_ascii_alphanumeric())
}

/// CAIP-10 address: `[-.%a-zA-Z0-9]{1,128}`.
fn valid_address(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|c| c == b'-' || c == b'.' || c == b'%' || c.is_ascii_alphanumeric())
}

/// An EVM chain id: a decimal number without leading zeros.
fn valid_eip155_chain_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && !s.starts_with('0')
}

/// An EVM address: `0x` and 40 hex digits of either case.
fn valid_eip155_address(s: &str) -> bool {
    s.len() == 42 && s.starts_with("0x") && s.bytes().skip(2).all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETH: &str = "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B";

    #[test]
    fn parses_and_displays_eip155() {
        let s = format!("did:pkh:eip155:1:{ETH}");
        let did = DidPkh::parse(&s).unwrap();
        assert_eq!(did.namespace, "eip155");
        assert_eq!(did.reference, "1");
        assert_eq!(did.address, ETH);
        assert_eq!(did.to_string(), s);
        assert_eq!(did.account_id(), format!("eip155:1:{ETH}"));
        assert_eq!(s.parse::<DidPkh>().unwrap(), did);
    }

    #[test]
    fn parses_other_namespaces() {
        for s in [
            "did:pkh:solana:4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZ:CKg5d12Jhpej1JqtmxLJgaFqqeYjxgPqToJ4LBdvG9Ev",
            "did:pkh:bip122:000000000019d6689c085ae165831e93:128Lkh3S7CkDTBZ8W7BbpsN3YYizJMp8p6",
            "did:pkh:cosmos:cosmoshub-3:cosmos1t2uflqwqe0fsj0shcfkrvpukewcw40yjj6hdc0",
            "did:pkh:tezos:NetXdQprcVkpaWU:tz1TzrmTBSuiVHV2VfMnGRMYvTEPCP42oSM8",
            "did:pkh:abc:_-:a.b%20-c",
        ] {
            let did = DidPkh::parse(s).unwrap();
            assert_eq!(did.to_string(), s);
        }
    }

    #[test]
    fn wrong_method() {
        for s in [
            "",
            "did:web:example.com",
            "did:pkh",
            "pkh:eip155:1:0x",
            "DID:pkh:a:b:c",
        ] {
            assert_eq!(DidPkh::parse(s).unwrap_err(), Error::DidPkhMethod, "{s}");
        }
    }

    #[test]
    fn wrong_number_of_parts() {
        for s in [
            "did:pkh:",
            "did:pkh:eip155",
            "did:pkh:eip155:1",
            &format!("did:pkh:eip155:1:{ETH}:extra"),
        ] {
            assert_eq!(DidPkh::parse(s).unwrap_err(), Error::DidPkhFormat, "{s}");
        }
    }

    #[test]
    fn bad_namespace() {
        for ns in ["", "ab", "abcdefghi", "EIP155", "eip_155", "eip 55"] {
            let s = format!("did:pkh:{ns}:1:abc");
            assert_eq!(
                DidPkh::parse(&s).unwrap_err(),
                Error::DidPkhNamespace,
                "{s}"
            );
        }
    }

    #[test]
    fn bad_reference() {
        let long = "a".repeat(33);
        for r in ["", long.as_str(), "a.b", "a%20", "é"] {
            let s = format!("did:pkh:cosmos:{r}:abc");
            assert_eq!(
                DidPkh::parse(&s).unwrap_err(),
                Error::DidPkhReference,
                "{s}"
            );
        }
        for r in ["0", "01", "mainnet", "-1"] {
            let s = format!("did:pkh:eip155:{r}:{ETH}");
            assert_eq!(
                DidPkh::parse(&s).unwrap_err(),
                Error::DidPkhReference,
                "{s}"
            );
        }
    }

    #[test]
    fn bad_address() {
        let long = "a".repeat(129);
        for a in ["", long.as_str(), "a/b", "a b", "a_b", "é"] {
            let s = format!("did:pkh:cosmos:hub:{a}");
            assert_eq!(DidPkh::parse(&s).unwrap_err(), Error::DidPkhAddress, "{s}");
        }
        let max = "a".repeat(128);
        assert!(DidPkh::parse(&format!("did:pkh:cosmos:hub:{max}")).is_ok());
    }

    #[test]
    fn bad_eip155_address() {
        for a in [
            "1234",
            &ETH[2..],
            &ETH[..41],
            &format!("{ETH}0"),
            "0X5801a7D398351b8bE11C439e05C5B3259aeC9BAb",
            "0xg801a7D398351b8bE11C439e05C5B3259aeC9BAb",
        ] {
            let s = format!("did:pkh:eip155:1:{a}");
            assert_eq!(
                DidPkh::parse(&s).unwrap_err(),
                Error::DidPkhEip155Address,
                "{s}"
            );
        }
    }
}
