//! Follow-then-unfollow load for `scripts/bench-load`. oha sends one request shape (and picks
//! bodies and URLs from a file at random), so it cannot keep a follow and its unfollow in
//! order; this does, with one keep-alive HTTP/1.1 connection per follower:
//!
//! ```text
//! follow-cycle --url http://127.0.0.1:18001 --pairs pairs.txt --seconds 20 --warmup 3
//! ```
//!
//! Each line of the pairs file is `FOLLOWER_ID TARGET_ID ACCESS_TOKEN`. Every follower loops
//! `POST /api/follows/ {"following": TARGET}` (201) then `DELETE /api/follows/F-T/` (204) on its
//! own target, so pairs never contend for an edge and each request costs what one user's follow
//! costs. Requests finished during the warm-up are not counted. Prints requests per second and
//! p50/p99 for follows, unfollows and both, in the format of the other bench-load lines.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clap::Parser;

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

#[derive(Parser, Debug)]
#[command(about = "Follow-then-unfollow load against accounts-local")]
struct Args {
    /// Base URL of accounts-local (plain HTTP).
    #[arg(long)]
    url: String,
    /// File of `FOLLOWER_ID TARGET_ID ACCESS_TOKEN` lines, one connection each.
    #[arg(long)]
    pairs: std::path::PathBuf,
    /// Measured seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
}

/// One follower and its target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    follower: i64,
    target: i64,
    token: String,
}

fn parse_pairs(text: &str) -> Result<Vec<Pair>, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [follower, target, token] => Ok(Pair {
                    follower: follower
                        .parse()
                        .map_err(|_| format!("`{line}`: bad follower id"))?,
                    target: target
                        .parse()
                        .map_err(|_| format!("`{line}`: bad target id"))?,
                    token: (*token).to_owned(),
                }),
                _ => Err(format!("`{line}`: expected FOLLOWER_ID TARGET_ID TOKEN")),
            }
        })
        .collect()
}

/// `http://host:port[/]` → `host:port`.
fn host_port(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}`: only http:// URLs"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("`{url}`: no host"));
    }
    Ok(host.to_owned())
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    host: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn open(host: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(host)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Connection {
            host: host.to_owned(),
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends one request and reads the whole response; returns its status.
    fn send(&mut self, method: &str, path: &str, token: &str, body: &str) -> std::io::Result<u16> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\n\
             Authorization: Bearer {token}\r\nAccept: application/json\r\n",
            self.host
        );
        if !body.is_empty() {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.writer.write_all(request.as_bytes())?;
        read_response(&mut self.reader)
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads a response (status line, headers, a `Content-Length` or chunked body); the status.
fn read_response(reader: &mut impl BufRead) -> std::io::Result<u16> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(invalid("connection closed"));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("headers cut short"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().map_err(|_| invalid("bad content-length"))?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            // The chunk and its CRLF (the last, empty chunk has only the CRLF).
            std::io::copy(
                &mut reader.by_ref().take(size as u64 + 2),
                &mut std::io::sink(),
            )?;
            if size == 0 {
                break;
            }
        }
    } else {
        std::io::copy(
            &mut reader.by_ref().take(length as u64),
            &mut std::io::sink(),
        )?;
    }
    Ok(status)
}

/// Latencies and statuses of one kind of request.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
}

impl Samples {
    fn add(&mut self, latency: Duration, status: u16) {
        self.latencies.push(latency);
        *self.statuses.entry(status).or_default() += 1;
    }

    fn merge(&mut self, other: &Samples) {
        self.latencies.extend_from_slice(&other.latencies);
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
    }
}

/// The `q` quantile (0..=1) of sorted latencies, nearest rank.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn report(name: &str, connections: usize, seconds: u64, samples: &mut Samples) {
    samples.latencies.sort();
    let codes: Vec<String> = samples
        .statuses
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    println!(
        "{name:16} c={connections:<3} {seconds:>3}s  {:9.1} req/s  p50 {:8.2} ms  p99 {:8.2} ms  status {}",
        samples.latencies.len() as f64 / seconds as f64,
        quantile(&samples.latencies, 0.50).as_secs_f64() * 1000.0,
        quantile(&samples.latencies, 0.99).as_secs_f64() * 1000.0,
        codes.join(",")
    );
}

/// One follower's loop: follow, unfollow, until the deadline.
fn cycle(
    host: &str,
    pair: &Pair,
    measure_from: Instant,
    deadline: Instant,
) -> Result<(Samples, Samples), String> {
    let mut connection = Connection::open(host).map_err(|e| format!("connect {host}: {e}"))?;
    let follow_body = format!("{{\"following\": {}}}", pair.target);
    let edge = format!("/api/follows/{}-{}/", pair.follower, pair.target);
    let (mut follows, mut unfollows) = (Samples::default(), Samples::default());
    while Instant::now() < deadline {
        for (method, path, body, samples) in [
            ("POST", "/api/follows/", follow_body.as_str(), &mut follows),
            ("DELETE", edge.as_str(), "", &mut unfollows),
        ] {
            let started = Instant::now();
            let status = connection
                .send(method, path, &pair.token, body)
                .map_err(|e| format!("{method} {path}: {e}"))?;
            let done = Instant::now();
            if started >= measure_from && done <= deadline {
                samples.add(done - started, status);
            }
        }
    }
    Ok((follows, unfollows))
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("follow-cycle: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let host = host_port(&args.url)?;
    let text = std::fs::read_to_string(&args.pairs)
        .map_err(|e| format!("{}: {e}", args.pairs.display()))?;
    let pairs = parse_pairs(&text)?;
    if pairs.is_empty() {
        return Err("no pairs".into());
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let deadline = measure_from + Duration::from_secs(args.seconds);
    let results: Vec<Result<(Samples, Samples), String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = pairs
            .iter()
            .map(|pair| {
                let host = host.as_str();
                scope.spawn(move || cycle(host, pair, measure_from, deadline))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let (mut follows, mut unfollows) = (Samples::default(), Samples::default());
    for result in results {
        let (f, u) = result?;
        follows.merge(&f);
        unfollows.merge(&u);
    }
    let mut both = Samples::default();
    both.merge(&follows);
    both.merge(&unfollows);
    report("follow", pairs.len(), args.seconds, &mut follows);
    report("unfollow", pairs.len(), args.seconds, &mut unfollows);
    report("follow+unfollow", pairs.len(), args.seconds, &mut both);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_urls() {
        let pairs = parse_pairs("3 4 tok-a\n\n 5 6 tok-b \n").unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(
            pairs[1],
            Pair {
                follower: 5,
                target: 6,
                token: "tok-b".into()
            }
        );
        assert!(parse_pairs("3 4").is_err());
        assert!(parse_pairs("x 4 t").is_err());
        assert_eq!(
            host_port("http://127.0.0.1:18001").unwrap(),
            "127.0.0.1:18001"
        );
        assert_eq!(
            host_port("http://127.0.0.1:18001/").unwrap(),
            "127.0.0.1:18001"
        );
        assert!(host_port("https://example.com").is_err());
    }

    #[test]
    fn reads_responses_with_either_framing() {
        let mut plain: &[u8] =
            b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(read_response(&mut plain).unwrap(), 201);
        assert_eq!(read_response(&mut plain).unwrap(), 204);
        assert!(plain.is_empty());
        let mut chunked: &[u8] =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nrest";
        assert_eq!(read_response(&mut chunked).unwrap(), 200);
        assert_eq!(chunked, b"rest");
        let mut broken: &[u8] = b"garbage\r\n\r\n";
        assert!(read_response(&mut broken).is_err());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(quantile(&sorted, 0.5), ms(50));
        assert_eq!(quantile(&sorted, 0.99), ms(99));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
        assert_eq!(quantile(&[ms(7)], 0.99), ms(7));
    }
}
