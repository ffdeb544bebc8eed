//! The client's network address, which sign-in throttling and the audit key on. Behind a
//! reverse proxy every connection comes from the proxy, so the address a trusted proxy puts in
//! `X-Forwarded-For` is taken instead; from anyone else that header is ignored (it is the
//! client's to write).
use std::net::IpAddr;

use actix_web::{web, HttpRequest};

/// `RELMAN_TRUSTED_PROXIES`: the addresses whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<IpAddr>);

impl TrustedProxies {
    /// Comma-separated addresses; `none` for none.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let list = list.trim();
        if list.eq_ignore_ascii_case("none") {
            return Ok(TrustedProxies::default());
        }
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| format!("RELMAN_TRUSTED_PROXIES: {s:?} is not an IP address"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// The client of a connection from `peer` whose request says `forwarded_for`
    /// (`X-Forwarded-For`, each proxy appending the address it was reached from): the last
    /// address that is not a trusted proxy, when `peer` is one; otherwise `peer` itself.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.0.contains(&peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for.iter().flat_map(|h| h.split(',')).rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.0.contains(&ip) {
                        break;
                    }
                }
                // Not an address: what lies before it cannot be trusted either.
                Err(_) => break,
            }
        }
        client
    }
}

/// The client's address as the throttling and the audit record it ("unknown" without one).
pub fn client_address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    match req.app_data::<web::Data<TrustedProxies>>() {
        Some(trusted) => trusted.client(peer, &forwarded).to_string(),
        None => peer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_trusted_proxys_forwarded_address_is_the_client() {
        let t = TrustedProxies::parse("127.0.0.1, ::1").unwrap();
        assert_eq!(
            t.client(ip("127.0.0.1"), &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // A client's own header comes first; the proxy appends the address it saw.
        assert_eq!(
            t.client(ip("::1"), &["198.51.100.1, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        assert_eq!(t.client(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
        assert_eq!(t.client(ip("127.0.0.1"), &["garbage"]), ip("127.0.0.1"));
    }

    #[test]
    fn anyone_elses_forwarded_address_is_ignored() {
        let t = TrustedProxies::parse("10.0.0.5").unwrap();
        assert_eq!(
            t.client(ip("203.0.113.9"), &["10.9.9.9"]),
            ip("203.0.113.9")
        );
        let none = TrustedProxies::parse("none").unwrap();
        assert_eq!(none.client(ip("127.0.0.1"), &["10.9.9.9"]), ip("127.0.0.1"));
        assert!(TrustedProxies::parse("nginx").is_err());
    }
}
