//! Bot detection on register and login.
//!
//! Three signals, checked in this order: the hidden honeypot field was filled; the request has
//! no user agent; the user agent names a known crawler, HTTP library, scripting tool or
//! headless browser. Clients of the API that register or log in on a user's behalf should send
//! a descriptive user agent of their own (`MyApp/1.2 (+https://example.com)`), which passes.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BotSignal {
    /// The hidden form field was filled.
    Honeypot,
    MissingUserAgent,
    KnownBot(String),
}

impl BotSignal {
    /// The signal's name in event metadata: `honeypot`, `missing_user_agent`, `known_bot`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BotSignal::Honeypot => "honeypot",
            BotSignal::MissingUserAgent => "missing_user_agent",
            BotSignal::KnownBot(_) => "known_bot",
        }
    }
}

/// `user_agent` is the client's, `honeypot` the hidden field's value as sent (`None` when
/// absent).
pub fn detect(user_agent: Option<&str>, honeypot: Option<&str>) -> Option<BotSignal> {
    if honeypot.is_some_and(|value| !value.trim().is_empty()) {
        return Some(BotSignal::Honeypot);
    }
    let Some(user_agent) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return Some(BotSignal::MissingUserAgent);
    };
    known_bot(user_agent).map(BotSignal::KnownBot)
}

/// Tools that announce themselves in the user agent: (lower-case text to find, name reported).
/// Browsers never send these; scripts do unless told otherwise.
pub const SCRIPTED_CLIENTS: &[(&str, &str)] = &[
    ("curl/", "curl"),
    ("wget/", "Wget"),
    ("python-requests", "python-requests"),
    ("python-urllib", "Python-urllib"),
    ("python-httpx", "python-httpx"),
    ("aiohttp", "aiohttp"),
    ("go-http-client", "Go-http-client"),
    ("libwww-perl", "libwww-perl"),
    ("lwp::", "LWP"),
    ("www-mechanize", "WWW-Mechanize"),
    ("scrapy", "Scrapy"),
    ("apache-httpclient", "Apache-HttpClient"),
    ("java/", "Java"),
    ("node-fetch", "node-fetch"),
    ("axios/", "axios"),
    ("undici", "undici"),
    ("httpie/", "HTTPie"),
    ("guzzlehttp", "Guzzle"),
    ("powershell", "PowerShell"),
    ("headlesschrome", "HeadlessChrome"),
    ("phantomjs", "PhantomJS"),
    ("selenium", "Selenium"),
    ("puppeteer", "Puppeteer"),
    ("playwright", "Playwright"),
    ("sqlmap", "sqlmap"),
    ("nikto", "Nikto"),
    ("masscan", "masscan"),
    ("zgrab", "zgrab"),
];

/// Words in a user agent that mean an automated client.
const BOT_WORDS: &[&str] = &["crawler", "spider", "scraper", "headless"];

/// Device names that end in "bot" but are phones, not robots.
const NOT_BOTS: &[&str] = &["cubot"];

/// The name of the bot or tool a user agent belongs to, if it is one: the list above, then
/// woothee's crawler and HTTP-library classes, then any word ending in `bot` or containing
/// `crawler`, `spider`, `scraper` or `headless`.
pub fn known_bot(user_agent: &str) -> Option<String> {
    let lower = user_agent.to_ascii_lowercase();
    if let Some((_, name)) = SCRIPTED_CLIENTS
        .iter()
        .find(|(needle, _)| lower.contains(needle))
    {
        return Some((*name).to_owned());
    }
    if let Some(parsed) = woothee::parser::Parser::new().parse(user_agent) {
        if parsed.category == "crawler" {
            return Some(parsed.name.to_owned());
        }
        if parsed.name == "HTTP Library" {
            return Some(format!("HTTP library ({})", parsed.version));
        }
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| {
            (word.ends_with("bot") && !NOT_BOTS.contains(word))
                || BOT_WORDS.iter().any(|w| word.contains(w))
        })
        .map(|word| format!("bot ({word})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    fn client(ua: Option<&str>) -> Option<&str> {
        ua
    }

    #[test]
    fn honeypot_wins_and_blank_honeypot_is_ignored() {
        assert_eq!(
            detect(client(Some(CHROME)), Some("x")),
            Some(BotSignal::Honeypot)
        );
        assert_eq!(
            detect(client(None), Some(" http://spam ")),
            Some(BotSignal::Honeypot)
        );
        assert_eq!(detect(client(Some(CHROME)), Some("  ")), None);
        assert_eq!(detect(client(Some(CHROME)), None), None);
    }

    #[test]
    fn missing_or_blank_user_agent() {
        assert_eq!(
            detect(client(None), None),
            Some(BotSignal::MissingUserAgent)
        );
        assert_eq!(
            detect(client(Some("  ")), None),
            Some(BotSignal::MissingUserAgent)
        );
    }

    #[test]
    fn scripts_crawlers_and_headless_browsers_are_named() {
        let cases = [
            ("curl/8.5.0", "curl"),
            ("Wget/1.21.4", "Wget"),
            ("python-requests/2.31.0", "python-requests"),
            ("Python-urllib/3.12", "Python-urllib"),
            ("Go-http-client/2.0", "Go-http-client"),
            ("libwww-perl/6.72", "libwww-perl"),
            ("Scrapy/2.11 (+https://scrapy.org)", "Scrapy"),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
                "HeadlessChrome",
            ),
            (
                "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
                "PhantomJS",
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "Googlebot",
            ),
            (
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                "bingbot",
            ),
        ];
        for (ua, name) in cases {
            assert_eq!(
                detect(client(Some(ua)), None),
                Some(BotSignal::KnownBot(name.into())),
                "{ua}"
            );
        }
        assert_eq!(known_bot("PHP/8.2").as_deref(), Some("HTTP library (php)"));
        assert_eq!(
            known_bot("AcmeSiteChecker crawler 1.0").as_deref(),
            Some("misc crawler")
        );
        // Browser-looking agents that still call themselves bots: woothee sees Chrome.
        let disguised = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(
            known_bot(&format!("{disguised} (compatible; AcmeMonitorBot/1.0)")).as_deref(),
            Some("bot (acmemonitorbot)")
        );
        assert_eq!(
            known_bot(&format!("{disguised} SiteScraper/2")).as_deref(),
            Some("bot (sitescraper)")
        );
    }

    #[test]
    fn browsers_and_descriptive_app_agents_pass() {
        let agents = [
            CHROME,
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
            "AcmeMobile/3.4 (iOS 17; +https://acme.example)",
            "PostmanRuntime/7.36.1",
            "Mozilla/5.0 (docs example)",
        ];
        for ua in agents {
            assert_eq!(detect(client(Some(ua)), None), None, "{ua}");
        }
    }
}
