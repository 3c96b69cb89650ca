//! A hostile man in the middle: an HTTP proxy in front of a real server that
//! rewrites strings in every answer (say, a file's name into `../../x`), as a
//! buggy or malicious server would send them.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
};

use anyhow::{Context, Result};

pub struct Proxy {
    pub port: u16,
}

impl Proxy {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`), replacing each
    /// `(from, to)` in the bodies of the answers.
    pub fn start(upstream: &str, rewrites: Vec<(String, String)>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let upstream = Arc::new(upstream.trim_end_matches('/').to_owned());
        let rewrites = Arc::new(rewrites);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, rewrites) = (upstream.clone(), rewrites.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &rewrites);
                });
            }
        });
        Ok(Self { port })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve(stream: TcpStream, upstream: &str, rewrites: &[(String, String)]) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let http = reqwest::blocking::Client::builder().timeout(None).build()?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().context("a method")?.to_owned(),
            parts.next().context("a target")?.to_owned(),
        );
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse()?;
                }
                if !["host", "connection", "content-length"]
                    .iter()
                    .any(|h| name.eq_ignore_ascii_case(h))
                {
                    headers.push((name, value));
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let mut request = http.request(method.parse()?, format!("{upstream}{target}")).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send()?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = response.bytes()?.to_vec();
        let bytes = match String::from_utf8(bytes) {
            Ok(mut text) if content_type.contains("json") => {
                for (from, to) in rewrites {
                    text = text.replace(from.as_str(), to.as_str());
                }
                text.into_bytes()
            }
            Ok(text) => text.into_bytes(),
            Err(raw) => raw.into_bytes(),
        };
        let mut out = stream.try_clone()?;
        write!(
            out,
            "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            bytes.len()
        )?;
        out.write_all(&bytes)?;
        out.flush()?;
    }
}
