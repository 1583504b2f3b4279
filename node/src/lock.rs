//! The writer's lock in etcd (SPEC §8), through etcd's v3 JSON gateway
//! (`/v3/lease/…`, `/v3/kv/…`; etcd 3.4 and later) over plain HTTP: a
//! lease, the key `<prefix>/leader` held under it, and the key
//! `<prefix>/checkpoint` holding the latest acknowledged checkpoint,
//! replaced only by a transaction that also requires the leader key to be
//! held under this writer's lease. etcd does the consensus; this module
//! only asks it.
//!
//! Every call tries the cluster's members in turn until one answers; a
//! member that cannot reach a quorum answers an error or not at all, so
//! with a majority gone every call fails and nothing is acknowledged.

use std::time::Duration;

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Value};

/// Where the lock lives: `etcd://HOST:PORT[,HOST:PORT…]/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockUrl {
    /// `http://HOST:PORT` of each member.
    pub endpoints: Vec<String>,
    /// The keys' prefix, without a trailing `/`.
    pub prefix: String,
}

impl LockUrl {
    /// Parses `etcd://HOST:PORT[,HOST:PORT…]/PREFIX`.
    pub fn parse(url: &str) -> Result<LockUrl, LockError> {
        let bad = |why: &str| LockError::Url(format!("{url}: {why}"));
        let rest = url
            .strip_prefix("etcd://")
            .ok_or_else(|| bad("not etcd://HOST:PORT[,HOST:PORT…]/PREFIX"))?;
        let (hosts, prefix) = rest.split_once('/').ok_or_else(|| bad("no /PREFIX"))?;
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return Err(bad("an empty prefix"));
        }
        let endpoints: Vec<String> = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("http://{h}"))
            .collect();
        if endpoints.is_empty() {
            return Err(bad("no member"));
        }
        Ok(LockUrl {
            endpoints,
            prefix: prefix.to_owned(),
        })
    }
}

/// Why a lock operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// The `--lock` URL.
    #[error("the lock URL {0}")]
    Url(String),
    /// No member answered (or none could reach a quorum).
    #[error("etcd is unreachable: {0}")]
    Unreachable(String),
    /// An answer that is not etcd's.
    #[error("etcd answered what it should not: {0}")]
    Protocol(String),
}

/// A client of one etcd cluster, for one lock.
#[derive(Debug, Clone)]
pub struct Etcd {
    url: LockUrl,
    agent: ureq::Agent,
    /// The member that answered last, asked first next time: a member that
    /// is down or cut off costs a timeout once, not on every call.
    first: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// This writer's hold on the lock: the lease its leader key lives under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease(pub i64);

/// What a campaign found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Campaign {
    /// This node is the writer, under this lease.
    Won(Lease),
    /// Another holds the lock: its name (the leader key's value).
    Held(String),
}

fn b64(s: &str) -> String {
    BASE64_STANDARD.encode(s.as_bytes())
}

impl Etcd {
    /// A client of the cluster at `url`, each request given `timeout`.
    pub fn new(url: LockUrl, timeout: Duration) -> Etcd {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Etcd {
            url,
            agent,
            first: Default::default(),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.url.prefix)
    }

    /// POSTs `body` to `path` on the first member that answers 200.
    fn call(&self, path: &str, body: &Value) -> Result<Value, LockError> {
        use std::sync::atomic::Ordering;
        let mut last = String::new();
        let n = self.url.endpoints.len();
        let first = self.first.load(Ordering::Relaxed);
        for (i, endpoint) in (0..n)
            .map(|k| (first + k) % n)
            .map(|i| (i, &self.url.endpoints[i]))
        {
            let bytes = serde_json::to_vec(body).expect("JSON values serialise");
            match self
                .agent
                .post(format!("{endpoint}{path}"))
                .header("content-type", "application/json")
                .send(&bytes[..])
            {
                Ok(mut r) if r.status() == 200 => {
                    let text = r
                        .body_mut()
                        .read_to_string()
                        .map_err(|e| LockError::Unreachable(e.to_string()))?;
                    // The gateway's streaming answers (keepalive) wrap the
                    // message in `result`; one message is read.
                    let first = text.lines().next().unwrap_or_default();
                    let v: Value = serde_json::from_str(first)
                        .map_err(|e| LockError::Protocol(format!("{path}: {e}")))?;
                    if let Some(error) = v.get("error") {
                        last = format!("{endpoint}: {error}");
                        continue;
                    }
                    self.first.store(i, Ordering::Relaxed);
                    return Ok(v.get("result").cloned().unwrap_or(v));
                }
                Ok(mut r) => {
                    let status = r.status();
                    let text = r.body_mut().read_to_string().unwrap_or_default();
                    last = format!("{endpoint}: HTTP {status} {text}");
                }
                Err(e) => last = format!("{endpoint}: {e}"),
            }
        }
        Err(LockError::Unreachable(last))
    }

    /// Campaigns for the lock as `name`: a new lease of `ttl`, and the
    /// leader key created under it if no one holds it.
    pub fn campaign(&self, name: &str, ttl: Duration) -> Result<Campaign, LockError> {
        let granted = self.call("/v3/lease/grant", &json!({"TTL": ttl.as_secs().max(1)}))?;
        let lease = int(&granted["ID"]).ok_or_else(|| LockError::Protocol("no lease ID".into()))?;
        let leader = b64(&self.key("leader"));
        let txn = self.call(
            "/v3/kv/txn",
            &json!({
                "compare": [{"key": leader, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
                "success": [{"request_put": {"key": leader, "value": b64(name), "lease": lease.to_string()}}],
                "failure": [{"request_range": {"key": leader}}],
            }),
        )?;
        if txn["succeeded"] == json!(true) {
            return Ok(Campaign::Won(Lease(lease)));
        }
        let _ = self.call("/v3/lease/revoke", &json!({"ID": lease.to_string()}));
        let holder = txn["responses"][0]["response_range"]["kvs"][0]["value"]
            .as_str()
            .and_then(|v| BASE64_STANDARD.decode(v).ok())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        Ok(Campaign::Held(holder))
    }

    /// Refreshes the lease; `false` once it has lapsed (the lock is lost).
    pub fn keep_alive(&self, lease: Lease) -> Result<bool, LockError> {
        let r = self.call("/v3/lease/keepalive", &json!({"ID": lease.0.to_string()}))?;
        Ok(int(&r["TTL"]).is_some_and(|ttl| ttl > 0))
    }

    /// Gives the lock up at once (a clean stop), so a standby need not
    /// wait for the lease to lapse.
    pub fn resign(&self, lease: Lease) -> Result<(), LockError> {
        self.call("/v3/lease/revoke", &json!({"ID": lease.0.to_string()}))
            .map(|_| ())
    }

    /// Who holds the lock, if anyone: the leader key's value.
    pub fn holder(&self) -> Result<Option<String>, LockError> {
        self.get("leader")
    }

    /// The latest acknowledged checkpoint, as `<prefix>/checkpoint` holds it.
    pub fn checkpoint(&self) -> Result<Option<String>, LockError> {
        self.get("checkpoint")
    }

    fn get(&self, name: &str) -> Result<Option<String>, LockError> {
        let r = self.call("/v3/kv/range", &json!({"key": b64(&self.key(name))}))?;
        r["kvs"][0]["value"]
            .as_str()
            .map(|v| {
                BASE64_STANDARD
                    .decode(v)
                    .map_err(|_| LockError::Protocol("a value that is not base64".into()))
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            })
            .transpose()
    }

    /// Replaces `<prefix>/checkpoint` with `new` if it still holds `old`
    /// (`None`: if it does not exist) and the leader key is still held
    /// under `lease`. `false`: the condition failed, so another writer
    /// exists, or existed: the caller stops writing.
    pub fn replace_checkpoint(
        &self,
        lease: Lease,
        old: Option<&str>,
        new: &str,
    ) -> Result<bool, LockError> {
        let key = b64(&self.key("checkpoint"));
        let held = json!({"key": b64(&self.key("leader")), "target": "LEASE", "result": "EQUAL", "lease": lease.0.to_string()});
        let same = match old {
            Some(old) => {
                json!({"key": key, "target": "VALUE", "result": "EQUAL", "value": b64(old)})
            }
            None => {
                json!({"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
            }
        };
        let txn = self.call(
            "/v3/kv/txn",
            &json!({
                "compare": [held, same],
                "success": [{"request_put": {"key": key, "value": b64(new)}}],
            }),
        )?;
        Ok(txn["succeeded"] == json!(true))
    }
}

impl Etcd {
    /// [`Etcd::replace_checkpoint`] when its outcome is unknown: a request
    /// that failed (a timeout, no quorum) may still be applied once a
    /// quorum returns. Reads what the key holds now: `new`, then it was
    /// applied (`true`); `old`, then it was not and is tried again; anything
    /// else, another writer wrote (`false`).
    pub fn settle_checkpoint(
        &self,
        lease: Lease,
        old: Option<&str>,
        new: &str,
    ) -> Result<bool, LockError> {
        match self.checkpoint()?.as_deref() {
            Some(now) if now == new => Ok(true),
            now if now == old => self.replace_checkpoint(lease, old, new),
            _ => Ok(false),
        }
    }
}

/// An int64 as the gateway writes it: a JSON string (or a number).
fn int(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_urls_name_members_and_a_prefix() {
        let u = LockUrl::parse("etcd://10.0.0.1:2379,10.0.0.2:2379/aidledger/ledger-1/").unwrap();
        assert_eq!(
            u.endpoints,
            ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
        );
        assert_eq!(u.prefix, "aidledger/ledger-1");
        for bad in ["http://h:1/p", "etcd://h:1", "etcd://h:1/", "etcd:///p"] {
            assert!(LockUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
