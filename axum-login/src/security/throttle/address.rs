//! The client address a login attempt is counted against.

use std::net::IpAddr;

/// What identifies a client for throttling: an IPv4 address, or the /64 network of an IPv6
/// address (one subscriber usually gets a whole /64, so counting single IPv6 addresses would
/// give one client 2^64 counters). An IPv4 address written as IPv6 counts as the IPv4 one.
pub(crate) fn group(address: IpAddr) -> Vec<u8> {
    match address {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets()[..8].to_vec(),
        },
    }
}

/// The client's address: the peer's, or, when the peer is one of the `trusted` proxies, the
/// address that proxy reported (RFC 7239 `Forwarded: for=`, else `X-Forwarded-For`), read from
/// the right and skipping the trusted proxies in the chain. Headers from a peer that is not a
/// trusted proxy are ignored: anyone can send them.
pub(crate) fn client(
    peer: Option<IpAddr>,
    forwarded: Option<&str>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let chain: Vec<IpAddr> = match (forwarded, forwarded_for) {
        (Some(forwarded), _) => forwarded
            .split(',')
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(value))
                        .flatten()
                })
            })
            .collect(),
        (None, Some(list)) => list.split(',').filter_map(parse_node).collect(),
        (None, None) => Vec::new(),
    };
    chain
        .into_iter()
        .rev()
        .find(|address| !trusted.contains(address))
        .or(Some(peer))
}

/// An address from a `Forwarded` node or an `X-Forwarded-For` entry: `192.0.2.1`,
/// `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(address) = text.parse() {
        return Some(address);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_bit_network() {
        assert_eq!(
            group(ip("2001:db8:1:2::1")),
            group(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(group(ip("2001:db8:1:2::1")), group(ip("2001:db8:1:3::1")));
        assert_eq!(group(ip("::ffff:192.0.2.1")), group(ip("192.0.2.1")));
        assert_ne!(group(ip("192.0.2.1")), group(ip("192.0.2.2")));
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let proxy = ip("10.0.0.1");
        let trusted = [proxy];
        // Not a trusted peer: its headers are anyone's to write.
        assert_eq!(
            client(
                Some(ip("203.0.113.9")),
                None,
                Some("198.51.100.7"),
                &trusted
            ),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client(Some(proxy), None, Some("198.51.100.7, 10.0.0.1"), &trusted),
            Some(ip("198.51.100.7"))
        );
        // A client that sends its own X-Forwarded-For: the proxy appends the real address, read
        // from the right.
        assert_eq!(
            client(Some(proxy), None, Some("1.2.3.4, 198.51.100.7"), &trusted),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client(
                Some(proxy),
                Some(r#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711""#),
                Some("1.1.1.1"),
                &trusted
            ),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(client(Some(proxy), None, None, &trusted), Some(proxy));
        assert_eq!(
            client(Some(proxy), None, Some("garbage"), &trusted),
            Some(proxy)
        );
        assert_eq!(client(None, None, Some("198.51.100.7"), &trusted), None);
    }
}
