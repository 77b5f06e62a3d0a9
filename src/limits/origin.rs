//! Which web pages may use the API from a browser. A browser sends `Origin`
//! with every cross-site request and WebSocket upgrade; without this check any
//! site a visitor opens could hold a subscription, or send likes, in their
//! name (cross-site WebSocket hijacking). Requests without `Origin` come from
//! apps and tools, not from pages, and pass. CORS answers follow the same list.

use axum::http::HeaderValue;
use std::str::FromStr;

/// The configured allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedOrigins {
    /// Pages from any site (`*`).
    Any,
    /// Only pages served by this service itself (the default).
    #[default]
    SameOrigin,
    /// The service's own pages, plus these origins (`scheme://host[:port]`,
    /// lower case, without a trailing slash).
    List(Vec<String>),
}

impl FromStr for AllowedOrigins {
    type Err = String;

    /// Parses a comma-separated list: empty means same origin only, `*` any.
    fn from_str(text: &str) -> Result<Self, String> {
        let entries: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Ok(Self::SameOrigin);
        }
        if entries == ["*"] {
            return Ok(Self::Any);
        }
        let mut origins = Vec::new();
        for entry in entries {
            let origin = entry.trim_end_matches('/').to_ascii_lowercase();
            let valid = ["http://", "https://"]
                .iter()
                .filter_map(|scheme| origin.strip_prefix(scheme))
                .any(|host| !host.is_empty() && !host.contains('/'));
            if !valid {
                return Err(format!(
                    "{entry:?} is not an origin like https://conference.example (or *)"
                ));
            }
            origins.push(origin);
        }
        Ok(Self::List(origins))
    }
}

impl AllowedOrigins {
    /// True when a request with this `Origin` (and `Host`) may proceed.
    pub fn allows(&self, origin: Option<&HeaderValue>, host: Option<&HeaderValue>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.to_ascii_lowercase();
        match self {
            Self::Any => true,
            Self::SameOrigin => same_origin(&origin, host),
            Self::List(list) => same_origin(&origin, host) || list.contains(&origin),
        }
    }

    /// True when `origin` is on the list (for CORS, where the page is always
    /// another site).
    pub fn lists(&self, origin: &HeaderValue) -> bool {
        match self {
            Self::Any => true,
            Self::SameOrigin => false,
            Self::List(list) => origin
                .to_str()
                .is_ok_and(|o| list.contains(&o.to_ascii_lowercase())),
        }
    }
}

/// The page came from the host the request is addressed to.
fn same_origin(origin: &str, host: Option<&HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    fn allows(list: &str, origin: Option<&str>, host: &str) -> bool {
        let origins: AllowedOrigins = list.parse().unwrap();
        origins.allows(origin.map(value).as_ref(), Some(&value(host)))
    }

    #[test]
    fn clients_without_an_origin_pass() {
        assert!(allows("", None, "likes.example"));
    }

    #[test]
    fn the_service_own_pages_pass_and_other_sites_do_not() {
        assert!(allows("", Some("https://likes.example"), "likes.example"));
        assert!(allows("", Some("http://127.0.0.1:8080"), "127.0.0.1:8080"));
        assert!(!allows("", Some("https://evil.example"), "likes.example"));
        assert!(!allows("", Some("null"), "likes.example"));
    }

    #[test]
    fn listed_sites_pass_whatever_their_case() {
        let list = "https://Conference.example/, https://app.example:8443";
        assert!(allows(
            list,
            Some("https://conference.example"),
            "api.example"
        ));
        assert!(allows(
            list,
            Some("https://app.example:8443"),
            "api.example"
        ));
        assert!(!allows(list, Some("https://app.example"), "api.example"));
        assert!(!allows(
            list,
            Some("http://conference.example"),
            "api.example"
        ));
    }

    #[test]
    fn a_star_allows_every_site() {
        assert!(allows(
            "*",
            Some("https://anything.example"),
            "likes.example"
        ));
    }

    #[test]
    fn malformed_entries_are_refused_at_start_up() {
        for bad in [
            "conference.example",
            "https://",
            "ftp://x.example",
            "https://x.example/path",
        ] {
            assert!(bad.parse::<AllowedOrigins>().is_err(), "{bad:?} parsed");
        }
    }
}
