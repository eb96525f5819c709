//! Where a webhook may be sent: http(s) only, and, unless private targets are allowed, never to
//! a loopback, link-local, private, shared or unspecified address. The host is resolved and
//! every address checked, when an endpoint is registered and again at every send (a name can
//! point elsewhere by then); the send then connects to the addresses checked, nowhere else.

use reqwest::Url;
use std::net::{IpAddr, SocketAddr};

/// A URL that may be sent to, with the addresses its host resolved to.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    /// The host name and the addresses checked for it; `None` for an IP literal.
    pub pinned: Option<(String, Vec<SocketAddr>)>,
}

/// Why a URL may not be sent to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(why: impl Into<String>) -> Refused {
    Refused(why.into())
}

/// Whether `ip` lies outside the public internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Parses `url` and checks its scheme (syntax only, no lookup).
pub fn parse(url: &str) -> Result<Url, Refused> {
    let parsed = Url::parse(url).map_err(|e| refused(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refused(format!(
            "the scheme `{}` is not allowed: use http or https",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(refused("the URL has no host"));
    }
    Ok(parsed)
}

/// Checks `url` and resolves its host: refused unless every address is public, or
/// `allow_private`.
pub async fn check(url: &str, allow_private: bool) -> Result<Target, Refused> {
    let url = parse(url)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let (addrs, pinned_host) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (vec![SocketAddr::new(IpAddr::V4(ip), port)], None),
        Some(url::Host::Ipv6(ip)) => (vec![SocketAddr::new(IpAddr::V6(ip), port)], None),
        Some(url::Host::Domain(name)) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| refused(format!("the host `{name}` does not resolve: {e}")))?
                .collect();
            if addrs.is_empty() {
                return Err(refused(format!("the host `{name}` has no address")));
            }
            (addrs, Some(name.to_owned()))
        }
        None => return Err(refused("the URL has no host")),
    };
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
            return Err(refused(format!(
                "the address {} is loopback, link-local, private or unspecified",
                bad.ip()
            )));
        }
    }
    Ok(Target {
        pinned: pinned_host.map(|h| (h, addrs)),
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_recognized() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn schemes_and_private_hosts_are_refused() {
        assert!(check("ftp://example.com/x", true).await.is_err());
        assert!(check("file:///etc/passwd", true).await.is_err());
        assert!(check("http://127.0.0.1:9/hook", false).await.is_err());
        assert!(check("http://[::1]:9/hook", false).await.is_err());
        assert!(check("http://localhost:9/hook", false).await.is_err());
        assert!(check("http://127.0.0.1:9/hook", true).await.is_ok());
    }
}
