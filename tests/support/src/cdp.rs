//! A headless Chromium driven over the Chrome DevTools Protocol (JSON over
//! a WebSocket): open a page, evaluate script in it, wait for a condition,
//! take screenshots, collect console errors, and rewrite chosen responses
//! on their way to the page (the `Fetch` domain) to show the page altered
//! data. Only what the page tests use.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use crate::Killed;

/// Rewrites a response body for the page: `(url, body) → new body`.
pub type Rewrite = Box<dyn FnMut(&str, Vec<u8>) -> Vec<u8>>;

/// A running Chromium with one page (tab) attached.
pub struct Browser {
    _process: Killed,
    profile: std::path::PathBuf,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Console errors, uncaught exceptions and failed loads seen so far.
    pub errors: Vec<String>,
    rewrite: Option<Rewrite>,
    /// Fetch.getResponseBody calls in flight: our id → the paused request.
    paused: HashMap<u64, Value>,
}

impl Drop for Browser {
    /// Kills every process of the browser's group and waits until none is
    /// left, then removes the directory Chromium made in /tmp for its
    /// singleton socket (named by the profile's `SingletonSocket` link).
    fn drop(&mut self) {
        let group = self._process.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .status();
        let _ = self._process.0.wait();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline && running_in_group(group) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(socket) = std::fs::read_link(self.profile.join("SingletonSocket")) {
            let dir = socket.parent().filter(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("org.chromium."))
            });
            if let Some(dir) = dir {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// Whether a process of group `group` is still running (Linux `/proc`; a
/// zombie no longer runs, and nobody may reap Chromium's orphans here).
fn running_in_group(group: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            return false;
        };
        let mut fields = rest.split(' ');
        let state = fields.next();
        let pgrp = fields.nth(1);
        state != Some("Z") && pgrp == Some(group.to_string().as_str())
    })
}

/// The Chromium binary: `$CHROMIUM`, else Debian's.
pub fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

impl Browser {
    /// Starts Chromium headless with its profile in `profile` (kept between
    /// launches: localStorage survives a restart) and opens a blank page.
    pub fn launch(profile: &Path) -> Browser {
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            // Its own process group, so that dropping the browser kills the
            // renderer and GPU processes too: left running, they write into
            // the profile while the test's directory is being removed, and
            // the removal stops half-way.
            .process_group(0)
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts (scripts/setup.sh installs it)");
        let stderr = child.stderr.take().expect("piped");
        let process = Killed(child);
        let mut lines = BufReader::new(stderr).lines();
        let ws = loop {
            let line = lines
                .next()
                .expect("chromium printed its DevTools address")
                .expect("chromium's stderr");
            if let Some(at) = line.find("ws://") {
                break line[at..].trim().to_owned();
            }
        };
        // Keep draining stderr so that Chromium never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        let host = ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let stream = TcpStream::connect(&host).expect("connecting to DevTools");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (socket, _) = tungstenite::client(ws.as_str(), stream).expect("DevTools handshake");
        let mut browser = Browser {
            _process: process,
            profile: profile.to_path_buf(),
            socket,
            session: String::new(),
            next_id: 0,
            errors: Vec::new(),
            rewrite: None,
            paused: HashMap::new(),
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.call(domain, json!({}));
        }
        browser
    }

    /// Sends a command (to the page once attached) and waits for its result,
    /// handling the events that arrive meanwhile.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer");
            let msg = match self.socket.read().expect("DevTools socket") {
                Message::Text(t) => serde_json::from_str::<Value>(&t).unwrap(),
                _ => continue,
            };
            if msg["id"].as_u64() == Some(id) {
                if let Some(e) = msg.get("error") {
                    panic!("{method}: {e}");
                }
                return msg["result"].clone();
            }
            self.handle(msg);
        }
    }

    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::Text(msg.to_string().into()))
            .expect("DevTools socket");
        self.next_id
    }

    /// An event, or the answer to a call made here for a paused request.
    fn handle(&mut self, msg: Value) {
        if let Some(request) = msg["id"].as_u64().and_then(|id| self.paused.remove(&id)) {
            let body = msg["result"]["body"].as_str().unwrap_or_default();
            let bytes = if msg["result"]["base64Encoded"] == true {
                BASE64_STANDARD.decode(body).unwrap()
            } else {
                body.as_bytes().to_vec()
            };
            let url = request["request"]["url"].as_str().unwrap_or_default();
            let rewrite = self.rewrite.as_mut().expect("interception is on");
            let body = rewrite(url, bytes);
            let headers: Vec<Value> = request["responseHeaders"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|h| {
                    let name = h["name"].as_str().unwrap_or("").to_ascii_lowercase();
                    name != "content-length" && name != "content-encoding"
                })
                .collect();
            self.send(
                "Fetch.fulfillRequest",
                json!({"requestId": request["requestId"], "responseCode": request["responseStatusCode"],
                       "responseHeaders": headers, "body": BASE64_STANDARD.encode(body)}),
            );
            return;
        }
        let params = &msg["params"];
        match msg["method"].as_str() {
            Some("Fetch.requestPaused") => {
                let id = self.send(
                    "Fetch.getResponseBody",
                    json!({"requestId": params["requestId"]}),
                );
                self.paused.insert(id, params.clone());
            }
            Some("Runtime.exceptionThrown") => {
                self.errors.push(params["exceptionDetails"].to_string())
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                self.errors.push(params["args"].to_string())
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => self.errors.push(
                format!("{} {}", params["entry"]["text"], params["entry"]["url"]),
            ),
            _ => {}
        }
    }

    /// Rewrites the responses whose URL matches `pattern` (a CDP URL
    /// pattern, `*` wildcards) with `rewrite` from now on.
    pub fn intercept(&mut self, pattern: &str, rewrite: Rewrite) {
        self.rewrite = Some(rewrite);
        self.call(
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": pattern, "requestStage": "Response"}]}),
        );
    }

    /// Stops rewriting responses.
    pub fn stop_intercepting(&mut self) {
        self.call("Fetch.disable", json!({}));
        self.rewrite = None;
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// The accessibility violations axe-core (vendored in
    /// `tests/support/vendor/axe-core`, WCAG 2.0/2.1 A and AA rules) finds
    /// in the page as it is now: each `"rule: selector, selector"`. The
    /// script is given through DevTools, so the page's CSP is not loosened.
    pub fn axe(&mut self) -> Vec<String> {
        const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
        if self.eval("typeof axe") != json!("object") {
            self.eval(&format!("{AXE};0"));
        }
        let found = self.eval(
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
               .then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
        );
        serde_json::from_value(found).expect("a list of strings")
    }

    /// Waits (up to 30 s) until `expression` is true in the page.
    pub fn wait_for(&mut self, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval(&format!("!!({expression})")) != json!(true) {
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {expression}; errors: {:?}",
                self.errors
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Loads `url` afresh (not as a jump within the page already open) and
    /// waits until the page says it has loaded its view.
    pub fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": "about:blank"}));
        self.wait_for("location.href === 'about:blank'");
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(&format!(
            "location.href === {:?} && document.body && document.body.dataset.loaded === 'true'",
            url
        ));
    }

    /// Goes to a view of the page already open (`#/…`) and waits for it.
    pub fn go(&mut self, hash: &str) {
        self.eval(&format!(
            "document.body.dataset.loaded = 'false'; location.hash = {hash:?}"
        ));
        self.wait_for("document.body.dataset.loaded === 'true'");
    }

    /// Sets the viewport's width and height (CSS pixels).
    pub fn viewport(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
        );
    }

    /// Saves a PNG of the whole page to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = BASE64_STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}
