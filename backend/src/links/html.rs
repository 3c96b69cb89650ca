//! The pages a browser shows for a link: inline CSS (light and dark), every
//! name escaped.

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::{error::ApiError, storage::metadata::to_datetime};

/// Escapes text for HTML content and attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub(super) fn enc(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

pub(super) fn human_size(bytes: i64) -> String {
    let bytes = bytes.max(0) as f64;
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1000.0 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes;
    let mut unit = "";
    for u in UNITS {
        value /= 1000.0;
        unit = u;
        if value < 1000.0 {
            break;
        }
    }
    format!("{value:.1} {unit}")
}

pub(super) fn when(ms: i64) -> String {
    to_datetime(ms).format("%Y-%m-%d %H:%M UTC").to_string()
}

const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#f5f6f8;--card:#fff;--fg:#1c2230;--muted:#5f6b7a;--accent:#2458d6;--line:#e2e5ea;--bad:#c0362c}\
@media (prefers-color-scheme:dark){:root{--bg:#101318;--card:#1a1e25;--fg:#e5e8ed;--muted:#9aa4b2;--accent:#6ea2ff;--line:#2a3039;--bad:#ff7b72}}\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--fg)}\
main{max-width:760px;margin:48px auto;padding:0 16px}\
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:28px}\
h1{font-size:1.4rem;margin:0 0 6px;overflow-wrap:anywhere}\
.meta{color:var(--muted);margin:0 0 20px}\
a{color:var(--accent)}\
.btn{display:inline-block;background:var(--accent);color:#fff;text-decoration:none;border:0;border-radius:8px;padding:10px 20px;font:inherit;font-weight:600;cursor:pointer}\
.btn:hover{filter:brightness(1.08)}\
table{width:100%;border-collapse:collapse;margin:8px 0 24px}\
td{padding:9px 6px;border-top:1px solid var(--line);overflow-wrap:anywhere}\
td.size{text-align:right;color:var(--muted);white-space:nowrap;font-size:.9rem}\
input[type=password]{width:100%;font:inherit;padding:10px 12px;margin:8px 0 16px;border-radius:8px;border:1px solid var(--line);background:var(--bg);color:var(--fg)}\
.bad{color:var(--bad)}\
footer{color:var(--muted);font-size:.85rem;text-align:center;margin-top:18px}";

pub(super) fn no_referrer(headers: &mut HeaderMap) {
    // The token is in the URL: never hand it to another site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

pub(super) fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{} · drive</title><style>{STYLE}</style></head>\
         <body><main><div class=\"card\">{body}</div><footer>Shared with drive</footer></main></body></html>",
        esc(title)
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    no_referrer(headers);
    response
}

pub(super) fn password_page(token: &str, status: StatusCode, wrong: bool) -> Response {
    let error = if wrong {
        "<p class=\"bad\">Wrong password. Try again.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>This link is protected</h1><p class=\"meta\">Enter the password to see what is shared.</p>{error}\
         <form method=\"post\" action=\"/s/{}\"><label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autofocus required autocomplete=\"current-password\">\
         <button class=\"btn\" type=\"submit\">Open</button></form>",
        esc(token)
    );
    html(status, "Password required", &body)
}

/// An error as a page, for the routes a browser shows.
pub(super) fn html_error(err: ApiError) -> Response {
    if let ApiError::Internal(inner) = &err {
        tracing::error!(error = ?inner, "request failed");
    }
    let status = err.status();
    let title = match &err {
        ApiError::NotFound => "Link not found",
        ApiError::LinkExpired => "Link expired",
        ApiError::LinkRevoked => "Link revoked",
        ApiError::LinkExhausted => "Download limit reached",
        ApiError::RateLimited { .. } => "Too many attempts",
        _ => "Something went wrong",
    };
    let message = match &err {
        ApiError::NotFound => "There is nothing here: the link is wrong, or what it shared was deleted.".to_owned(),
        other => {
            let mut text = other.to_string();
            if let Some(first) = text.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            format!("{text}.")
        }
    };
    let body = format!("<h1>{}</h1><p class=\"meta\">{}</p>", esc(title), esc(&message));
    html(status, title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(5), "5 bytes");
        assert_eq!(human_size(1500), "1.5 KB");
        assert_eq!(human_size(2_500_000), "2.5 MB");
    }
}
