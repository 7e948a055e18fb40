//! The guard on requests to URLs that users and namespaces supply (Slack and webhook
//! integrations, through the API or an `Integration` resource), against server-side request
//! forgery: such a URL must not reach the cloud's metadata service, the cluster's own services or
//! anything else that is not public.
//!
//! - A URL is checked when it is configured ([`Guard::check_url`]): an http(s) URL, whose host (a
//!   literal address, or every address its name resolves to) is public.
//! - It is checked again when it is called, on the addresses actually connected to: the guarded
//!   client resolves names through [`Guard`] itself ([`reqwest::dns::Resolve`]), which drops the
//!   refused addresses, so a name whose answer changes after the check (DNS rebinding) reaches
//!   nothing; a literal address is checked before the request ([`Guard::check_literal`]).
//! - Loopback, link-local (cloud metadata included), private, shared (carrier-grade NAT),
//!   unique-local, unspecified, multicast and reserved addresses are refused, also when written as
//!   IPv4-mapped or NAT64 IPv6 addresses, unless the allow-list (`CICD_OUTBOUND_ALLOW`: CIDRs and
//!   host names, `*.` for subdomains) admits them.
//! - `CICD_OUTBOUND_HOSTS`, when set, restricts the host names such URLs may name at all (for
//!   example, Slack's only).
//!
//! URLs that the deployment's own configuration names (`SLACK_WEBHOOK_URL`, the GitHub API) are
//! trusted and are not guarded. The guarded client follows no redirect and uses no proxy.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::Url;

/// Why a URL or an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// What a non-public address is, if `ip` is one.
pub fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_link_local() {
        "link-local (where cloud metadata services answer)"
    } else if ip.is_private() {
        "private"
    } else if a == 0 {
        "unspecified"
    } else if a == 100 && (b & 0xc0) == 64 {
        "shared (carrier-grade NAT)"
    } else if ip.is_multicast() {
        "multicast"
    } else if a >= 240 {
        "reserved"
    } else {
        return None;
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return special_v4(Ipv4Addr::new(a, b, c, d));
    }
    Some(if first & 0xfe00 == 0xfc00 {
        "unique-local"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else {
        return None;
    })
}

/// A URL's host.
enum Host {
    Address(IpAddr),
    Name(String),
}

/// An entry of the allow-list: a network, or a host name (`*.example.com`: its subdomains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    Net(IpNet),
    Host(String),
}

impl FromStr for Allowed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Allowed::Net(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Allowed::Net(IpNet::from(ip)));
        }
        let name = s.strip_prefix("*.").unwrap_or(s);
        let valid = !name.is_empty()
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !valid {
            return Err(format!("{s:?} is neither a CIDR, an address nor a host name"));
        }
        Ok(Allowed::Host(s.to_ascii_lowercase()))
    }
}

/// Whether host name `host` (lower case) matches `pattern` (a name, or `*.` and a domain).
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == host,
    }
}

/// Resolves host names to addresses (the system's resolver, or one a test injects).
pub trait Lookup: Send + Sync {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;
}

/// The system's resolver.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The outbound policy: which addresses and hosts user-supplied URLs may reach.
pub struct Guard {
    allow: Vec<Allowed>,
    hosts: Vec<String>,
    lookup: Arc<dyn Lookup>,
}

impl Guard {
    /// A guard with the allow-list `allow` and, when not empty, the only host names (`hosts`,
    /// `*.` for subdomains) that URLs may name.
    pub fn new(allow: Vec<Allowed>, hosts: Vec<String>, lookup: Arc<dyn Lookup>) -> Guard {
        Guard {
            allow,
            hosts: hosts.into_iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
            lookup,
        }
    }

    fn host_listed(&self, host: &str) -> bool {
        self.allow
            .iter()
            .any(|a| matches!(a, Allowed::Host(p) if host_matches(p, host)))
    }

    /// Whether connecting to `ip` is allowed.
    pub fn admit(&self, ip: IpAddr) -> Result<(), Refused> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match special(ip) {
            Some(kind) if !self.allow.iter().any(|a| matches!(a, Allowed::Net(n) if n.contains(&ip))) => {
                Err(Refused(format!(
                    "{ip} is a {kind} address; only public addresses are called, unless CICD_OUTBOUND_ALLOW admits it"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The URL's host (an address, or a name in lower case), checked against
    /// `CICD_OUTBOUND_HOSTS`.
    fn host_of(&self, url: &str) -> Result<Host, Refused> {
        let parsed = Url::parse(url).map_err(|e| Refused(format!("not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Refused("only http and https URLs are called".into()));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| Refused("the URL has no host".into()))?
            .to_ascii_lowercase();
        if !self.hosts.is_empty() && !self.hosts.iter().any(|p| host_matches(p, &host)) {
            return Err(Refused(format!(
                "{host} is not among the hosts CICD_OUTBOUND_HOSTS allows ({})",
                self.hosts.join(", ")
            )));
        }
        // An IPv6 literal keeps its brackets in a URL.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        Ok(match bare.parse::<IpAddr>() {
            Ok(ip) => Host::Address(ip),
            Err(_) => Host::Name(host),
        })
    }

    /// Checks a URL as it is configured: its host, and every address its name resolves to.
    pub async fn check_url(&self, url: &str) -> Result<(), Refused> {
        let name = match self.host_of(url)? {
            Host::Address(ip) => return self.admit(ip),
            Host::Name(name) => name,
        };
        if self.host_listed(&name) {
            return Ok(());
        }
        for ip in self.addresses(&name).await? {
            self.admit(ip)
                .map_err(|Refused(why)| Refused(format!("{name} resolves to {why}")))?;
        }
        Ok(())
    }

    /// The addresses `name` resolves to: at least one.
    async fn addresses(&self, name: &str) -> Result<Vec<IpAddr>, Refused> {
        let addresses = self
            .lookup
            .lookup(name)
            .await
            .map_err(|e| Refused(format!("{name} does not resolve: {e}")))?;
        if addresses.is_empty() {
            return Err(Refused(format!("{name} resolves to no address")));
        }
        Ok(addresses)
    }

    /// Checks a URL just before it is called: the host restriction, and a literal address (a
    /// name's addresses are checked as it is resolved, see [`Guard::client`]).
    pub fn check_literal(&self, url: &str) -> Result<(), Refused> {
        match self.host_of(url)? {
            Host::Address(ip) => self.admit(ip),
            Host::Name(_) => Ok(()),
        }
    }

    /// The addresses of `name` that may be connected to; an error when none may.
    async fn resolve_admitted(&self, name: &str) -> Result<Vec<IpAddr>, Refused> {
        let name = name.to_ascii_lowercase();
        let addresses = self.addresses(&name).await?;
        if self.host_listed(&name) {
            return Ok(addresses);
        }
        let (admitted, refused): (Vec<IpAddr>, Vec<IpAddr>) =
            addresses.into_iter().partition(|ip| self.admit(*ip).is_ok());
        match (admitted.is_empty(), refused.first()) {
            (true, Some(ip)) => {
                let Refused(why) = self.admit(*ip).expect_err("refused");
                Err(Refused(format!("{name} resolves to {why}")))
            }
            _ => Ok(admitted),
        }
    }

    /// A client for guarded URLs: names resolved through this guard, no redirect followed, no
    /// proxy (a proxy would connect in the guard's stead).
    pub fn client(self: &Arc<Self>, builder: reqwest::ClientBuilder) -> reqwest::Result<reqwest::Client> {
        builder
            .dns_resolver(Arc::new(Resolver(self.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
    }
}

/// Name resolution for the guarded client.
struct Resolver(Arc<Guard>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let admitted = guard.resolve_admitted(&name).await?;
            let addrs: reqwest::dns::Addrs = Box::new(admitted.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};
    use std::sync::Mutex;

    use reqwest::dns::Resolve;

    use super::*;

    /// Answers from a table, each name's answers in turn (the last one repeats).
    #[derive(Default)]
    struct Table(Mutex<HashMap<String, VecDeque<Vec<IpAddr>>>>);

    impl Table {
        fn answer(self, name: &str, answers: &[&[&str]]) -> Self {
            self.0.lock().unwrap().insert(
                name.into(),
                answers
                    .iter()
                    .map(|a| a.iter().map(|ip| ip.parse().unwrap()).collect())
                    .collect(),
            );
            self
        }
    }

    impl Lookup for Table {
        fn lookup<'a>(
            &'a self,
            host: &'a str,
        ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>> {
            let mut table = self.0.lock().unwrap();
            let answer = table.get_mut(host).and_then(|answers| {
                if answers.len() > 1 {
                    answers.pop_front()
                } else {
                    answers.front().cloned()
                }
            });
            Box::pin(async move {
                answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
            })
        }
    }

    fn guard(allow: &[&str], table: Table) -> Arc<Guard> {
        Arc::new(Guard::new(
            allow.iter().map(|a| a.parse().unwrap()).collect(),
            Vec::new(),
            Arc::new(table),
        ))
    }

    // Addresses are only compared here: nothing is connected to.
    #[test]
    fn every_kind_of_non_public_address_is_special() {
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("fd00::1", "unique-local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("100.64.0.1", "shared"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
        ] {
            let found = special(ip.parse().unwrap());
            assert!(found.is_some_and(|k| k.starts_with(kind)), "{ip}: {found:?}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "100.128.0.1"] {
            assert_eq!(special(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn literal_addresses_are_refused_unless_allowed() {
        let g = guard(&[], Table::default());
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data/",
            "https://10.0.0.5/",
            "https://[fd12:3456::1]/",
            "http://0.0.0.0/",
            "http://[::ffff:192.168.0.1]/",
        ] {
            let why = g.check_url(url).await.unwrap_err().0;
            assert!(why.contains("only public addresses"), "{url}: {why}");
            assert!(g.check_literal(url).is_err(), "{url}");
        }
        assert!(g.check_url("https://93.184.216.34/hook").await.is_ok());
        assert!(g.check_url("ftp://93.184.216.34/").await.is_err());
        let allowed = guard(&["127.0.0.0/8", "::1"], Table::default());
        assert!(allowed.check_url("http://127.0.0.1:8080/hook").await.is_ok());
        assert!(allowed.check_url("http://[::1]:8080/hook").await.is_ok());
        assert!(allowed.check_url("http://10.0.0.1/").await.is_err());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_a_refused_address_is_refused() {
        let table = Table::default()
            .answer("hooks.example.com", &[&["93.184.216.34"]])
            .answer("internal.example.com", &[&["10.0.0.7"]])
            .answer("mixed.example.com", &[&["93.184.216.34", "127.0.0.1"]]);
        let g = guard(&[], table);
        assert!(g.check_url("https://hooks.example.com/x").await.is_ok());
        let why = g.check_url("https://internal.example.com/x").await.unwrap_err().0;
        assert!(
            why.starts_with("internal.example.com resolves to 10.0.0.7"),
            "{why}"
        );
        assert!(g.check_url("https://mixed.example.com/x").await.is_err());
        assert!(g.check_url("https://unknown.example.com/x").await.is_err());
        // An allow-listed name is not resolved to be checked.
        let g = guard(&["*.example.com"], Table::default());
        assert!(g.check_url("https://internal.example.com/x").await.is_ok());
        assert!(g.check_url("https://example.com/x").await.is_err());
    }

    #[tokio::test]
    async fn a_name_whose_answer_changes_after_the_check_reaches_nothing() {
        // Public when checked, then loopback when connected (DNS rebinding).
        let table = Table::default().answer("rebind.example.com", &[&["93.184.216.34"], &["127.0.0.1"]]);
        let g = guard(&[], table);
        assert!(g.check_url("http://rebind.example.com/hook").await.is_ok());
        let resolved = Resolver(g.clone())
            .resolve("rebind.example.com".parse().unwrap())
            .await;
        let why = resolved.err().expect("refused").to_string();
        assert!(why.contains("127.0.0.1 is a loopback address"), "{why}");
        // Of a mixed answer, only the public addresses are connected to.
        let table = Table::default().answer("mixed.example.com", &[&["10.0.0.1", "93.184.216.34"]]);
        let addrs: Vec<SocketAddr> = Resolver(guard(&[], table))
            .resolve("mixed.example.com".parse().unwrap())
            .await
            .ok()
            .unwrap()
            .collect();
        assert_eq!(addrs, ["93.184.216.34:0".parse().unwrap()]);
    }

    #[tokio::test]
    async fn the_hosts_setting_restricts_names() {
        let table = Table::default().answer("example.com", &[&["93.184.216.34"]]);
        let g = Guard::new(Vec::new(), vec!["hooks.slack.com".into()], Arc::new(table));
        let why = g.check_url("https://example.com/hook").await.unwrap_err().0;
        assert!(why.contains("CICD_OUTBOUND_HOSTS"), "{why}");
        assert!(g.check_literal("https://93.184.216.34/hook").is_err());
    }

    #[test]
    fn the_allow_list_reads_networks_addresses_and_names() {
        assert_eq!(
            "10.0.0.0/8".parse::<Allowed>(),
            Ok(Allowed::Net("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            " 127.0.0.1 ".parse::<Allowed>(),
            Ok(Allowed::Net("127.0.0.1/32".parse().unwrap()))
        );
        assert_eq!(
            "*.Corp.example".parse::<Allowed>(),
            Ok(Allowed::Host("*.corp.example".into()))
        );
        assert!("not a host!".parse::<Allowed>().is_err());
        assert!(host_matches("*.corp.example", "a.corp.example"));
        assert!(!host_matches("*.corp.example", "corp.example"));
        assert!(!host_matches("*.corp.example", "xcorp.example"));
    }
}
