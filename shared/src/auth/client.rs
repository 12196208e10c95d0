//! What we know of the client behind a request: address, user agent, viewer location.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::secrets::sha256_hex;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// ISO 3166-1 alpha-2 from CloudFront / API Gateway viewer headers, when present.
    pub country: Option<String>,
    pub city: Option<String>,
    pub accept_language: Option<String>,
}

/// Browser, OS and device type parsed from the user agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    /// desktop, mobile, tablet, bot, other
    pub device_type: String,
}

/// What a device parser could not tell.
const OTHER: &str = "Other";

impl ClientInfo {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    /// Browser, OS and device type from the user agent (woothee's tables), `Other` and empty
    /// versions for what it does not recognise.
    pub fn device_info(&self) -> DeviceInfo {
        let ua = self.user_agent.as_deref().map(str::trim).unwrap_or("");
        let parsed = woothee::parser::Parser::new().parse(ua).unwrap_or_default();
        let known = |s: &str| -> String {
            if s.is_empty() || s == woothee::woothee::VALUE_UNKNOWN {
                String::new()
            } else {
                s.to_owned()
            }
        };
        let or_other = |s: String| if s.is_empty() { OTHER.to_owned() } else { s };
        let device_type = if !ua.is_empty() && super::bots::known_bot(ua).is_some() {
            "bot"
        } else {
            match parsed.category {
                "pc" => "desktop",
                "smartphone" if is_tablet(ua, parsed.os) => "tablet",
                "smartphone" | "mobilephone" => "mobile",
                "crawler" => "bot",
                _ => "other",
            }
        };
        DeviceInfo {
            browser: or_other(known(parsed.name)),
            browser_version: known(parsed.version),
            os: or_other(known(parsed.os)),
            os_version: known(&parsed.os_version),
            device_type: device_type.to_owned(),
        }
    }

    /// A stable hash of request traits that identify a device (not the IP): the user agent
    /// and the Accept-Language header, normalised; the first 32 hex digits of their SHA-256.
    pub fn fingerprint(&self) -> String {
        let ua = self.user_agent.as_deref().map(str::trim).unwrap_or("");
        let languages: String = self
            .accept_language
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        let mut hash = sha256_hex(&format!("ua={ua}\nlang={languages}"));
        hash.truncate(32);
        hash
    }
}

/// woothee files tablets under smartphones: iPads, Android without `Mobile`, and anything
/// that says `Tablet`.
fn is_tablet(ua: &str, os: &str) -> bool {
    os == "iPad" || (os == "Android" && !ua.contains("Mobile")) || ua.contains("Tablet")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(s: &str) -> ClientInfo {
        ClientInfo {
            user_agent: Some(s.to_owned()),
            ..ClientInfo::default()
        }
    }

    #[test]
    fn fingerprint_ignores_ip_and_formatting_but_not_the_device() {
        let a = ClientInfo {
            ip: Some([192, 0, 2, 1].into()),
            accept_language: Some("en-US,en;q=0.9".into()),
            ..ua("Mozilla/5.0 Firefox/121.0")
        };
        let b = ClientInfo {
            ip: Some([203, 0, 113, 9].into()),
            accept_language: Some("en-us, en;q=0.9".into()),
            user_agent: Some(" Mozilla/5.0 Firefox/121.0 ".into()),
            ..ClientInfo::default()
        };
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 32);
        assert!(a.fingerprint().bytes().all(|c| c.is_ascii_hexdigit()));
        let c = ClientInfo {
            accept_language: Some("de-DE".into()),
            ..a.clone()
        };
        assert_ne!(a.fingerprint(), c.fingerprint());
        let d = ClientInfo {
            user_agent: Some("Mozilla/5.0 Firefox/122.0".into()),
            ..a.clone()
        };
        assert_ne!(a.fingerprint(), d.fingerprint());
    }

    #[test]
    fn nothing_known_is_other() {
        let info = ClientInfo::default().device_info();
        assert_eq!(info.browser, "Other");
        assert_eq!(info.os, "Other");
        assert_eq!(info.browser_version, "");
        assert_eq!(info.device_type, "other");
    }
}
