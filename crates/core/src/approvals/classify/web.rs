//! Hosts: the host of a URL (read by the `url` crate, the WHATWG parser browsers and curl-like
//! tools agree with, so `0xA9FEA9FE`, `2852039166` and octal parts are the address they are),
//! arguments that name a host without a scheme, and the `[[web]]` rules for it.

use url::Host;

use super::rules::clip;
use super::{Hit, hit};
use crate::approvals::policy::{Access, Decision, Policy};

/// What is done with a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Request {
    /// A web tool's fetch: the `[defaults] web` decision when no rule matches.
    Fetch,
    /// A GET or HEAD from a shell command: only rules about every request apply.
    Read,
    /// A request that sends or changes something, or a raw connection (`nc`, `ssh`).
    Write,
}

impl Policy {
    /// The web rule for a URL's host, the strictest that matches; for a [`Request::Fetch`] the
    /// `[defaults] web` decision when none does.
    pub(super) fn web_hit(&self, url: &str, request: Request) -> Option<Hit> {
        let Some(host) = url_host(url) else {
            return Some(hit(
                Decision::Ask,
                "web.bad-url",
                format!("cannot read the host of {}", clip(url)),
            ));
        };
        let mut best: Option<Hit> = None;
        for r in &self.web {
            if r.access == Access::Write && request != Request::Write {
                continue;
            }
            if r.patterns.matches(&host) && best.as_ref().is_none_or(|b| r.decision > b.decision) {
                best = Some(hit(r.decision, &r.id, format!("{}: {host}", r.reason)));
            }
        }
        best.or_else(|| {
            (request == Request::Fetch).then(|| {
                hit(
                    self.defaults.web,
                    format!("web.default:{host}"),
                    format!("no rule for {host}"),
                )
            })
        })
    }
}

/// The schemes whose URLs name a host the web rules judge.
const WEB_SCHEMES: &[&str] = &["http", "https", "ftp", "ftps", "ws", "wss"];

/// The host of a web URL as the policy's domain patterns are written: lower case, no trailing
/// dot, an IPv4 address in dotted decimal however it was spelt, an IPv6 one bracketed in its
/// short form (an IPv4-mapped one as the IPv4 address). `None` for another scheme or no host.
pub(super) fn url_host(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    if !WEB_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        return None;
    }
    // Every web scheme is parsed as http, so `ftps://` hosts are read like the others.
    let url = url::Url::parse(&format!("http://{rest}")).ok()?;
    let host = match url.host()? {
        Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        Host::Ipv4(v4) => v4.to_string(),
        Host::Ipv6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
    };
    (!host.is_empty()).then_some(host)
}

/// An argument written without a scheme (`example.com/x`, `user@10.0.0.1`, `[fd00::1]:80`,
/// `localhost:8080`) as a URL, when it names a host. For a downloader, whose every argument is a
/// URL, a single name (`metadata/x`) counts too.
pub(super) fn bare_url(text: &str, any_name: bool) -> Option<String> {
    if text.contains("://") || text.starts_with(['-', '.', '/', '~', '@', ':']) {
        return None;
    }
    let url = format!("http://{text}");
    let host = url_host(&url)?;
    let name_like = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let looks_like_host = host.starts_with('[')
        || (name_like && (any_name || host == "localhost" || host.contains('.')));
    looks_like_host.then_some(url)
}
