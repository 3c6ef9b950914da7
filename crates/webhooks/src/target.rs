//! Where a webhook may be sent: http(s) to a public address only. A staff member (or a stolen
//! API key) must not make the shop call into its own network (cloud metadata, the database's
//! admin port, a sidecar): private, loopback, link-local, unique-local, shared (CGNAT),
//! documentation, multicast and unspecified ranges are refused, for literal addresses when the
//! endpoint is registered and for every resolved address before each delivery (a name that
//! later resolves inward is caught then). Tests allow them explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("not a URL: {0}")]
    Malformed(String),
    #[error("only http and https targets are accepted")]
    Scheme,
    #[error("a webhook URL carries no user name or password")]
    Credentials,
    #[error("{host} is in a {range} range, which webhooks may not reach")]
    Internal { host: String, range: &'static str },
    #[error("{0} does not resolve")]
    Unresolved(String),
}

/// The kind of internal range `ip` is in, if it is in one.
pub fn refused_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_range(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique-local")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first == 0x2001 && v6.segments()[1] == 0x0db8 {
                Some("documentation")
            } else if v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0) || first == 0x0064 {
                // NAT64 carries IPv4 addresses, internal ones included.
                Some("translated")
            } else {
                None
            }
        }
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() || o[0] >= 240 {
        Some("multicast or reserved")
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_documentation()
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
    {
        Some("documentation or benchmarking")
    } else {
        None
    }
}

/// Checks a URL as given: http(s), no credentials, and a literal address (if it is one)
/// outside the refused ranges unless `allow_internal`. Names are checked when resolved.
///
/// # Errors
/// See [`TargetError`].
pub fn check_target(raw: &str, allow_internal: bool) -> Result<url::Url, TargetError> {
    let u = url::Url::parse(raw.trim()).map_err(|e| TargetError::Malformed(e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(TargetError::Scheme);
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(TargetError::Credentials);
    }
    let ip = match u.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        }
        Some(url::Host::Domain(_)) => None,
        None => return Err(TargetError::Malformed("no host".into())),
    };
    if let Some(ip) = ip
        && let Some(range) = refused_range(ip).filter(|_| !allow_internal)
    {
        return Err(TargetError::Internal { host: u.host_str().unwrap_or_default().to_owned(), range });
    }
    Ok(u)
}

/// Resolves a checked URL's host and checks every address it names (a delivery connects to
/// these and no other: pin them in the HTTP client, so a second lookup cannot differ).
///
/// # Errors
/// `Unresolved`, or `Internal` when any address is in a refused range and not `allow_internal`.
pub async fn resolve_target(u: &url::Url, allow_internal: bool) -> Result<Vec<SocketAddr>, TargetError> {
    let host = u.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = u.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| TargetError::Unresolved(host.clone()))?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unresolved(host));
    }
    if !allow_internal && let Some(range) = addrs.iter().find_map(|a| refused_range(a.ip())) {
        return Err(TargetError::Internal { host, range });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_and_public_ones_taken() {
        for (url, range) in [
            ("http://127.0.0.1:8080/hook", "loopback"),
            ("http://localhost/hook", "loopback"),
            ("http://10.1.2.3/", "private"),
            ("http://172.16.0.1/", "private"),
            ("https://192.168.1.10/", "private"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("http://0.0.0.0/", "unspecified"),
            ("http://100.64.0.1/", "shared (carrier-grade NAT)"),
            ("http://[::1]/", "loopback"),
            ("http://[fd00::1]/", "unique-local"),
            ("http://[fe80::1]/", "link-local"),
            ("http://[::ffff:10.0.0.1]/", "private"),
            ("http://224.0.0.1/", "multicast or reserved"),
        ] {
            match check_target(url, false) {
                Err(TargetError::Internal { range: r, .. }) => assert_eq!(r, range, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
            assert!(check_target(url, true).is_ok(), "{url} allowed for tests");
        }
        for url in ["https://hooks.example.com/rouge", "http://93.184.215.14:8443/x", "https://[2606:4700::1111]/"] {
            assert!(check_target(url, false).is_ok(), "{url}");
        }
        assert_eq!(check_target("ftp://example.com/", false), Err(TargetError::Scheme));
        assert_eq!(check_target("https://user:pw@example.com/", false), Err(TargetError::Credentials));
        assert!(matches!(check_target("not a url", false), Err(TargetError::Malformed(_))));
    }

    #[tokio::test]
    async fn a_name_that_resolves_inward_is_refused_when_resolved() {
        // A name (not caught by the URL check when it is not literally `localhost`): here the
        // machine's own, which resolves to loopback.
        let u = url::Url::parse("http://localhost:9/hook").unwrap();
        assert!(matches!(resolve_target(&u, false).await, Err(TargetError::Internal { range: "loopback", .. })));
        assert!(resolve_target(&u, true).await.is_ok_and(|a| a.iter().all(|a| a.port() == 9)));
    }
}
