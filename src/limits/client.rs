//! The client's address, for per-address limits. Directly connected clients
//! are known by their socket's peer address. Behind a load balancer every
//! request comes from the balancer, so the address is read from a header it
//! sets (such as `X-Forwarded-For`), counting entries from the right: the
//! entries to the left of the trusted proxies' own were written by the client
//! and can be forged.

use axum::http::{HeaderMap, HeaderName};
use std::net::IpAddr;

/// Where the client's address comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientIpSource {
    /// A header set by a trusted proxy; `None`: the socket's peer address.
    pub header: Option<HeaderName>,
    /// Which entry of the header, counted from the right (1 = the last,
    /// appended by the nearest proxy).
    pub hop: usize,
}

impl ClientIpSource {
    /// The client's address. Falls back to the peer address when the header
    /// is absent or its entry is not an IP address (a request that did not
    /// come through the balancer, such as a probe).
    /// An IPv4 client reaching a dual-stack (`[::]`) listener, or named so
    /// by a proxy, is given as its IPv4 address, not as `::ffff:a.b.c.d`.
    pub fn client_ip(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        self.read(headers, peer).to_canonical()
    }

    fn read(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        let Some(name) = &self.header else {
            return peer;
        };
        // Entries are split from the raw bytes: a client's own garbled entry
        // on the left must not hide the ones the proxies appended.
        let entries: Vec<&[u8]> = headers
            .get_all(name)
            .iter()
            .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
            .collect();
        let from_right = self.hop.max(1);
        entries
            .len()
            .checked_sub(from_right)
            .and_then(|index| std::str::from_utf8(entries[index]).ok())
            .and_then(parse_ip)
            .unwrap_or(peer)
    }
}

/// The network one client may use any address of, for limits: an IPv4
/// address itself (also when it reached a dual-stack listener as an
/// IPv4-mapped IPv6 address), an IPv6 address's /64.
pub fn network_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// An address as proxies write it: `198.51.100.1`, `[2001:db8::1]:443`,
/// `198.51.100.1:5555`, `2001:db8::1`.
fn parse_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    entry.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PEER: &str = "10.0.0.9";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn source(hop: usize) -> ClientIpSource {
        ClientIpSource {
            header: Some(HeaderName::from_static("x-forwarded-for")),
            hop,
        }
    }

    #[test]
    fn without_a_header_the_peer_is_the_client() {
        let forged = headers(&["203.0.113.1"]);
        assert_eq!(
            ClientIpSource::default().client_ip(&forged, ip(PEER)),
            ip(PEER)
        );
    }

    #[test]
    fn the_entry_is_counted_from_the_right_so_forged_entries_are_ignored() {
        // A GKE load balancer appends "<client>, <balancer>".
        let map = headers(&["1.2.3.4, 203.0.113.1, 34.120.0.1"]);
        assert_eq!(source(2).client_ip(&map, ip(PEER)), ip("203.0.113.1"));
        assert_eq!(source(1).client_ip(&map, ip(PEER)), ip("34.120.0.1"));
    }

    #[test]
    fn repeated_headers_are_one_list() {
        let map = headers(&["1.2.3.4", "203.0.113.1, 34.120.0.1"]);
        assert_eq!(source(2).client_ip(&map, ip(PEER)), ip("203.0.113.1"));
    }

    #[test]
    fn missing_short_or_garbled_headers_fall_back_to_the_peer() {
        assert_eq!(source(1).client_ip(&HeaderMap::new(), ip(PEER)), ip(PEER));
        assert_eq!(
            source(3).client_ip(&headers(&["1.2.3.4"]), ip(PEER)),
            ip(PEER)
        );
        assert_eq!(
            source(1).client_ip(&headers(&["unknown"]), ip(PEER)),
            ip(PEER)
        );
    }

    #[test]
    fn a_forged_non_ascii_entry_does_not_hide_the_appended_ones() {
        let mut map = HeaderMap::new();
        let value = HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.1, 34.120.0.1").unwrap();
        map.append("x-forwarded-for", value);
        assert_eq!(source(2).client_ip(&map, ip(PEER)), ip("203.0.113.1"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_their_ipv4_address() {
        let mapped = ip("::ffff:127.0.0.2");
        assert_eq!(
            ClientIpSource::default().client_ip(&HeaderMap::new(), mapped),
            ip("127.0.0.2")
        );
        assert_eq!(
            source(1).client_ip(&headers(&["::ffff:203.0.113.1"]), ip(PEER)),
            ip("203.0.113.1")
        );
    }

    #[test]
    fn one_network_is_an_ipv4_address_or_an_ipv6_slash_64() {
        assert_eq!(network_of(ip("::ffff:127.0.0.2")), ip("127.0.0.2"));
        assert_ne!(
            network_of(ip("::ffff:127.0.0.2")),
            network_of(ip("::ffff:127.0.0.3"))
        );
        assert_eq!(network_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            network_of(ip("2001:db8:1:2:bbbb::9")),
            network_of(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            network_of(ip("2001:db8:1:3::1")),
            network_of(ip("2001:db8:1:2::1"))
        );
    }

    #[test]
    fn ports_and_brackets_are_stripped() {
        assert_eq!(parse_ip("198.51.100.1:5555"), Some(ip("198.51.100.1")));
        assert_eq!(parse_ip("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(parse_ip(" 2001:db8::1 "), Some(ip("2001:db8::1")));
        assert_eq!(parse_ip("nope"), None);
    }
}
