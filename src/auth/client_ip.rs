//! Which address a request came from, for the per-IP limits: the TCP peer, or behind trusted
//! proxies (`server.trusted_proxies`) the address they put in `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed; empty trusts nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.7`, `fd00::1`) and CIDR ranges (`10.0.0.0/8`); the error names
    /// the entry that is neither.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let text = entry.trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("server.trusted_proxies: `{entry}` is not an IP address or CIDR range (such as 10.0.0.0/8)")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. A header from an untrusted peer is ignored: the client wrote it.
    /// From a trusted peer, `X-Forwarded-For` (its values in order, each a comma-separated list)
    /// is read from the right, where our proxies appended, skipping trusted proxies; the first
    /// other address is the client. Everything left of it is the client's to forge. If an entry
    /// cannot be read before one is found, or none is, the peer is the answer.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; one form keeps one budget.
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for
            .iter()
            .rev()
            .flat_map(|value| value.split(',').rev());
        for hop in hops {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => continue,
                Some(ip) => return ip,
                None => return peer,
            }
        }
        peer
    }
}

/// One `X-Forwarded-For` entry; some proxies add a port (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_string()).collect();
        TrustedProxies::parse(&entries).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let proxies = proxies(&["10.0.0.1"]);
        assert_eq!(
            proxies.client_ip(ip("198.51.100.9"), &["203.0.113.5"]),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn no_trusted_proxies_ignores_the_header() {
        let proxies = TrustedProxies::default();
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &["203.0.113.5"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_peer_gives_the_right_most_address_and_ignores_forged_ones_left_of_it() {
        let proxies = proxies(&["10.0.0.1"]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &["1.1.1.1, 203.0.113.5"]),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_skipped() {
        let proxies = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        let header = ["1.1.1.1, 203.0.113.5, 192.168.1.1", "10.1.2.3"];
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &header),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn header_of_only_trusted_proxies_falls_back_to_the_peer() {
        let proxies = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &["10.0.0.2, 10.0.0.3"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn missing_header_falls_back_to_the_peer() {
        let proxies = proxies(&["10.0.0.1"]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &[]), ip("10.0.0.1"));
    }

    #[test]
    fn garbage_header_falls_back_to_the_peer() {
        let proxies = proxies(&["10.0.0.1"]);
        for header in ["unknown", "", "203.0.113.5, not-an-ip", "203.0.113.5,,"] {
            assert_eq!(
                proxies.client_ip(ip("10.0.0.1"), &[header]),
                ip("10.0.0.1"),
                "{header}"
            );
        }
    }

    #[test]
    fn garbage_left_of_the_client_address_is_never_read() {
        let proxies = proxies(&["10.0.0.1"]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &["garbage, 203.0.113.5"]),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn entries_with_ports_are_read() {
        let proxies = proxies(&["10.0.0.1"]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &["[2001:db8::7]:443"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &["203.0.113.5:5678"]),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn ipv6_proxies_and_clients_are_matched_by_prefix() {
        let proxies = proxies(&["fd00::/8"]);
        assert_eq!(
            proxies.client_ip(ip("fd12:3456::1"), &["2001:db8::7, fd00::2"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            proxies.client_ip(ip("fe80::1"), &["2001:db8::7"]),
            ip("fe80::1")
        );
    }

    #[test]
    fn cidr_membership_ends_at_the_prefix() {
        let proxies = proxies(&["172.16.0.0/12"]);
        assert_eq!(
            proxies.client_ip(ip("172.31.255.255"), &["203.0.113.5"]),
            ip("203.0.113.5")
        );
        assert_eq!(
            proxies.client_ip(ip("172.32.0.0"), &["203.0.113.5"]),
            ip("172.32.0.0")
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_addresses_count_as_ipv4() {
        let proxies = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            proxies.client_ip(ip("::ffff:10.0.0.1"), &["::ffff:203.0.113.5"]),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn bad_entry_is_refused_naming_the_setting_and_the_entry() {
        let entries = vec!["10.0.0.0/8".to_string(), "10.0.0.0/33".to_string()];
        let message = TrustedProxies::parse(&entries).err().unwrap_or_default();
        assert!(message.contains("server.trusted_proxies"), "{message}");
        assert!(message.contains("`10.0.0.0/33`"), "{message}");
    }
}
