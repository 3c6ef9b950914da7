//! The client behind trusted proxies. Behind a load balancer every request comes from the
//! balancer's address; the client is in `Forwarded` (RFC 7239) or `X-Forwarded-For`, which
//! anyone can also send. So those headers count only when the peer is a trusted proxy, and then
//! the client is the right-most address that is not one (each proxy appends the address it saw;
//! what a client wrote to the left of that is unverified).

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Replaces the request's peer address with its client's, when the peer is a trusted proxy.
pub fn resolve_client(trusted: &[IpNet], req: &mut Request) {
    let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0) else { return };
    if let Some(client) = client(trusted, peer.ip(), req.headers()) {
        req.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, 0)));
    }
}

/// The client address, if the peer is trusted and the headers name one.
pub fn client(trusted: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return None;
    }
    let hops = hops(headers);
    // Right to left: the first address no trusted proxy owns is the client. When every hop is
    // a trusted proxy, the left-most is as far as the chain goes.
    hops.iter().rev().find(|ip| !is_trusted(ip)).or_else(|| hops.first()).copied()
}

/// The addresses the proxies recorded, left (first) to right (last); `Forwarded` wins over
/// `X-Forwarded-For`. Unparsable entries (obfuscated names, `unknown`) are skipped.
fn hops(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for").then(|| node(v.trim().trim_matches('"')))?
                })
            })
            .collect();
    }
    values("x-forwarded-for").iter().flat_map(|v| v.split(',')).filter_map(|s| node(s.trim())).collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`,
/// `2001:db8::1`.
fn node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')?.split(']').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn only_trusted_peers_may_name_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(client(&trusted, "10.1.2.3".parse().unwrap(), &h), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(client(&trusted, "198.51.100.1".parse().unwrap(), &h), None, "an untrusted peer is the client");
        assert_eq!(client(&[], "10.1.2.3".parse().unwrap(), &h), None, "nothing is trusted by default");
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = "10.0.0.1".parse().unwrap();
        // The client wrote a made-up address; the edge proxy appended the one it saw.
        let h = headers(&[("x-forwarded-for", "198.51.100.66, 203.0.113.7, 10.0.0.9")]);
        assert_eq!(client(&trusted, peer, &h), Some("203.0.113.7".parse().unwrap()));
        let h = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.9")]);
        assert_eq!(client(&trusted, peer, &h), Some("10.0.0.5".parse().unwrap()), "all proxies: the left-most");
        let h = headers(&[("x-forwarded-for", "198.51.100.66"), ("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(client(&trusted, peer, &h), Some("203.0.113.7".parse().unwrap()), "repeated headers join");
    }

    #[test]
    fn forwarded_elements_are_read_with_ports_and_ipv6() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = "10.0.0.1".parse().unwrap();
        let h = headers(&[
            ("forwarded", r#"for=198.51.100.66;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.1"#),
            ("x-forwarded-for", "192.0.2.1"),
        ]);
        assert_eq!(client(&trusted, peer, &h), Some("2001:db8:cafe::17".parse().unwrap()));
        let h = headers(&[("forwarded", "for=unknown, for=203.0.113.9:80")]);
        assert_eq!(client(&trusted, peer, &h), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(client(&trusted, peer, &HeaderMap::new()), None, "no header: the peer is the client");
    }
}
